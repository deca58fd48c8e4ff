#!/bin/bash
# The CLI contract of `berth dockerfile parse`, `berth --help` and
# `berth version`, driven through the real binary as a user would.
. "$(dirname "$0")/lib.bash"
SHARED=${BERTH_SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
BK=$SHARED/conformance/buildkit-parser

"$BERTH" --help >"$TMP/help"; rc=$?
expect_eq "berth --help exits 0" "$rc" 0
check "berth --help lists the dockerfile command" grep -q '^  dockerfile' "$TMP/help"
"$BERTH" >/dev/null 2>&1; expect_eq "berth with no command exits 2" "$?" 2
"$BERTH" frobnicate 2>"$TMP/err"; rc=$?
expect_eq "an unknown command exits 2" "$rc" 2
check "an unknown command is named" grep -q "unknown command 'frobnicate'" "$TMP/err"
check "berth version prints a version" bash -c "'$BERTH' version | grep -qE '^berth [0-9]'"
"$BERTH" dockerfile parse --help >"$TMP/help"; rc=$?
expect_eq "dockerfile parse --help exits 0" "$rc" 0
check "dockerfile parse --help documents --json" grep -q -- '--json' "$TMP/help"

# The dump equals BuildKit's result for every positive case.
if [ -d "$BK" ]; then
	for d in "$BK"/testfiles/*/; do
		name=$(basename "$d")
		"$BERTH" dockerfile parse -f "$d/Dockerfile" >"$TMP/dump" 2>/dev/null
		if cmp -s "$TMP/dump" "$d/result"; then ok "parse -f $name equals result"; else
			not_ok "parse -f $name equals result"; diff "$TMP/dump" "$d/result" | diag; fi
	done
	for d in "$BK"/testfiles-negative/*/; do
		name=$(basename "$d")
		"$BERTH" dockerfile parse -f "$d/Dockerfile" >/dev/null 2>"$TMP/err"; rc=$?
		if [ $rc -eq 1 ] && grep -qE "^berth: .*Dockerfile:[0-9]+: " "$TMP/err"; then
			ok "negative $name exits 1 with file:line"
		else
			not_ok "negative $name exits 1 with file:line"; { echo "exit $rc"; cat "$TMP/err"; } | diag
		fi
	done
else
	skip "BuildKit parser cases through the binary" "no $BK"
fi

# Error format: berth: <file>:<line>: <message>, exit 1.
printf 'FROM busybox\nRUN <<EOF\nno end\n' >"$TMP/Dockerfile"
"$BERTH" dockerfile parse -f "$TMP/Dockerfile" 2>"$TMP/err"; rc=$?
expect_eq "a parse error exits 1" "$rc" 1
expect_eq "a parse error names file and line" "$(cat "$TMP/err")" \
	"berth: $TMP/Dockerfile:2: unterminated heredoc 'EOF'"

# Standard input and the default file name.
printf 'FROM busybox\nRUN echo hi\n' | "$BERTH" dockerfile parse -f - >"$TMP/out"
expect_eq "parse -f - reads standard input" "$(cat "$TMP/out")" $'(from "busybox")\n(run "echo hi")'
printf 'FROM scratch\n' >"$TMP/Dockerfile"
(cd "$TMP" && "$BERTH" dockerfile parse) >"$TMP/out"
expect_eq "parse reads ./Dockerfile by default" "$(cat "$TMP/out")" '(from "scratch")'
printf 'FROM a\nFROM\n' | "$BERTH" dockerfile parse -f - --json 2>"$TMP/err"
check "stdin errors are named <stdin>" grep -q '^berth: <stdin>:2: FROM requires' "$TMP/err"

"$BERTH" dockerfile parse -f "$TMP/missing" 2>"$TMP/err"; rc=$?
expect_eq "a missing file exits 1" "$rc" 1
check "a missing file is named" grep -q "$TMP/missing" "$TMP/err"
"$BERTH" dockerfile parse --bogus 2>/dev/null; expect_eq "a bad option exits 2" "$?" 2
head -c 70000 /dev/zero | tr '\0' 'a' | sed 's/^/RUN /' >"$TMP/long"
"$BERTH" dockerfile parse -f "$TMP/long" 2>"$TMP/err"; rc=$?
expect_eq "an over-long line exits 1" "$rc" 1
check "an over-long line says the limit" grep -q 'max allowed size of 65535' "$TMP/err"
printf 'FROM a\nRUN x\n' >"$TMP/bin"; printf '\x00\xff' >>"$TMP/bin"
"$BERTH" dockerfile parse -f "$TMP/bin" --json >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "binary junk is an error, not a crash" "$rc" 1

# --target prints the stages needed, in build order.
cat >"$TMP/Dockerfile" <<'DF'
FROM busybox AS base
FROM busybox AS unused
FROM base AS build
COPY --from=base / /
FROM busybox
COPY --from=build /out /app
DF
expect_eq "--target lists the needed stages" "$("$BERTH" dockerfile parse -f "$TMP/Dockerfile" --target build)" $'0 base\n2 build'
expect_eq "no --target means the last stage" \
	"$("$BERTH" dockerfile parse -f "$TMP/Dockerfile" --json | jq -c .build_order)" '[0,2,3]'
"$BERTH" dockerfile parse -f "$TMP/Dockerfile" --json --build-arg NOPE=1 >/dev/null 2>"$TMP/err"
check "an unused build-arg is reported" grep -q "build-arg 'NOPE' was not consumed" "$TMP/err"

# Warnings go to stderr and do not fail the parse.
printf 'FROM a\nRUN x \\\n\n  y\n' >"$TMP/Dockerfile"
"$BERTH" dockerfile parse -f "$TMP/Dockerfile" >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "an empty continuation line only warns" "$rc" 0
check "the warning names the line" grep -q 'Dockerfile:4: warning: empty continuation line' "$TMP/err"

# berth debug expand exposes the lexer to scripts.
expect_eq "debug expand" "$("$BERTH" debug expand -e V=/usr/local/bin 'x${V##*/}y')" "xbiny"
expect_eq "debug expand --words" "$("$BERTH" debug expand --words -e S='a  b' 'x${S}y "q r"')" $'xa\nby\nq r'
done_testing
