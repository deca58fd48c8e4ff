#!/bin/bash
# berth lint end to end: every rule's cases (tests/e2e/lint_cases/<rule>/:
# fires*.Dockerfile must report the rule, clean*.Dockerfile must not, and each
# file's findings must equal <name>.expected as "LINE SEVERITY RULE" lines),
# the seed's Dockerfiles, JSON checked with jq, exit codes, the config file,
# the `# check=` directive, stdin and directories, and docs/lint.md listing
# every rule. LINT_CASES_UPDATE=1 rewrites the .expected files (review them).
. "$(dirname "$0")/lib.bash"
CASES=$(cd "$(dirname "$0")" && pwd)/lint_cases
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
command -v jq >/dev/null || { echo "1..0 # SKIP jq is not installed"; exit 0; }

# The rule a case directory is about: berth-python-missing -> berth/python-missing.
rule_of() { case $1 in berth-*) echo "berth/${1#berth-}" ;; *) echo "$1" ;; esac; }

# Findings of one file as "LINE SEVERITY RULE" lines; the JSON is checked on the way.
findings() {
	local f=$1; shift
	"$BERTH" lint --format json "$@" "$f" >"$TMP/out.json" 2>"$TMP/err"
	echo $? >"$TMP/rc"
	if ! jq -e 'type == "array" and all(.[]; (.file|type) == "string" and (.rule|type) == "string"
		and (.severity | IN("error", "warning", "info")) and (.line|type) == "number"
		and .end_line >= .line and (.message|length) > 0 and (.fix|length) > 0)' \
		"$TMP/out.json" >/dev/null; then
		echo "INVALID-JSON"
		return
	fi
	jq -r '.[] | "\(.line) \(.severity) \(.rule)"' "$TMP/out.json"
}

run_case_file() {
	local dir=$1 f=$2 name rule args exp got
	name=$(basename "$f" .Dockerfile)
	rule=$(rule_of "$(basename "$dir")")
	args=""
	[ -f "$dir/args" ] && args=$(cat "$dir/args")
	[ -f "$dir/$name.args" ] && args=$(cat "$dir/$name.args")
	# shellcheck disable=SC2086
	got=$(findings "$f" $args)
	exp="$dir/$name.expected"
	if [ -n "$LINT_CASES_UPDATE" ]; then printf '%s\n' "$got" | sed '/^$/d' >"$exp"; fi
	local label
	label="$(basename "$dir")/$name"
	if [ "$(basename "$dir")" != seed ]; then
		case $name in
		fires*) if printf '%s\n' "$got" | grep -q " $rule\$"; then ok "$label reports $rule"; else
				not_ok "$label reports $rule"; printf '%s\n' "$got" | diag; fi ;;
		clean*) if printf '%s\n' "$got" | grep -q " $rule\$"; then
				not_ok "$label does not report $rule"; printf '%s\n' "$got" | diag; else
				ok "$label does not report $rule"; fi ;;
		esac
	fi
	if [ ! -f "$exp" ]; then not_ok "$label: $exp is missing"; return; fi
	expect_eq "$label: findings" "$got" "$(cat "$exp")"
}

# --- every rule's cases, then the seed's Dockerfiles ---
for dir in "$CASES"/*/; do
	dir=${dir%/}
	for f in "$dir"/*.Dockerfile; do run_case_file "$dir" "$f"; done
done

# Every rule has a case directory with both kinds (CopyIgnoredFile needs a
# build context and a .dockerignore matcher: tests/unit/test_lint.c has it).
missing=""
for id in $("$BERTH" lint --list-rules --format json | jq -r '.[].id'); do
	[ "$id" = CopyIgnoredFile ] && continue
	d=$CASES/$(echo "$id" | sed 's|^berth/|berth-|')
	ls "$d"/fires*.Dockerfile >/dev/null 2>&1 && ls "$d"/clean*.Dockerfile >/dev/null 2>&1 ||
		missing="$missing $id"
done
expect_eq "every rule has a firing and a clean case" "$missing" ""

# docs/lint.md lists every rule (a table row: id, severity, ...) and no rule that is gone.
listed=$("$BERTH" lint --list-rules --format json | jq -r '.[].id' | sort)
documented=$(sed -n 's/^| `\([^`]*\)` | \(error\|warning\|info\).*/\1/p' "$ROOT/docs/lint.md" | sort -u)
expect_eq "docs/lint.md documents exactly the rules of --list-rules" "$documented" "$listed"

# --- output formats ---
f=$CASES/DL3008/fires.Dockerfile
out=$("$BERTH" lint "$f" 2>"$TMP/err")
expect_eq "text output: FILE:LINE: SEVERITY: RULE message (fix: ...)" \
	"$(printf '%s\n' "$out" | sed 's/ pin versions.*(fix: .*)$/ .../')" "$f:2: warning: DL3008 ..."
expect_eq "text output: a summary on stderr" "$(cat "$TMP/err")" "berth: $f: 1 finding: 1 warning"
n=$("$BERTH" lint --format json "$CASES/seed/01-text-to-image.Dockerfile" --sdk --gpu | jq length)
expect_eq "json output: one array with every finding" "$n" 8
printf 'FROM debian:bookworm-slim\nENV GREETING say "hi" \\ there\n' >"$TMP/q.Dockerfile"
if "$BERTH" lint --format json "$TMP/q.Dockerfile" |
	jq -e --arg want 'ENV GREETING="say \"hi\" \\ there"' '.[0].fix | contains($want)' >/dev/null; then
	ok "json output escapes quotes and backslashes"
else
	not_ok "json output escapes quotes and backslashes"
	"$BERTH" lint --format json "$TMP/q.Dockerfile" | diag
fi

# --- exit codes ---
rc() { "$@" >/dev/null 2>&1; echo $?; }
expect_eq "warnings only: exit 0" "$(rc "$BERTH" lint "$CASES/DL3008/fires.Dockerfile")" 0
expect_eq "an error finding: exit 1" "$(rc "$BERTH" lint "$CASES/DL3011/fires.Dockerfile")" 1
expect_eq "--strict and a warning: exit 1" "$(rc "$BERTH" lint --strict "$CASES/DL3008/fires.Dockerfile")" 1
expect_eq "--strict and an info finding: exit 1" \
	"$(rc "$BERTH" lint --strict "$CASES/DL3059/fires.Dockerfile")" 1
expect_eq "--strict and a clean file: exit 0" "$(rc "$BERTH" lint --strict "$CASES/DL3008/clean.Dockerfile")" 0
expect_eq "--format xml: exit 2" "$(rc "$BERTH" lint --format xml "$CASES/DL3008/clean.Dockerfile")" 2
expect_eq "an unknown option: exit 2" "$(rc "$BERTH" lint --bogus)" 2
expect_eq "two files: exit 2" "$(rc "$BERTH" lint "$f" "$f")" 2
expect_eq "a missing file: exit 1" "$(rc "$BERTH" lint "$TMP/nope/Dockerfile")" 1
printf 'FROM debian:bookworm-slim\nRUN cat <<EOF\nnever ends\n' >"$TMP/bad.Dockerfile"
"$BERTH" lint "$TMP/bad.Dockerfile" >"$TMP/out" 2>"$TMP/err"
expect_eq "a file that does not parse: exit 1" "$?" 1
expect_eq "... with the parse error and its line" "$(cat "$TMP/err")" \
	"berth: $TMP/bad.Dockerfile:2: unterminated heredoc 'EOF'"
"$BERTH" lint --format json "$TMP/bad.Dockerfile" >"$TMP/out" 2>/dev/null
expect_eq "... and nothing on stdout" "$(cat "$TMP/out")" ""

# --- FILE, DIR, - and the default ./Dockerfile ---
mkdir -p "$TMP/app"
cp "$CASES/DL3006/fires.Dockerfile" "$TMP/app/Dockerfile"
expect_eq "DIR lints DIR/Dockerfile" "$("$BERTH" lint "$TMP/app" 2>/dev/null | cut -d: -f1,2)" \
	"$TMP/app/Dockerfile:1"
expect_eq "no argument lints ./Dockerfile" "$(cd "$TMP/app" && "$BERTH" lint 2>/dev/null | cut -d: -f1,2)" \
	"Dockerfile:1"
expect_eq "- reads stdin" "$("$BERTH" lint - <"$TMP/app/Dockerfile" 2>/dev/null | cut -d' ' -f1,3)" \
	"<stdin>:1: DL3006"

# --- the config file and the check directive ---
mkdir -p "$TMP/cfg"
cat >"$TMP/cfg/Dockerfile" <<'EOF'
FROM debian:latest
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir torch==2.6.0
EOF
rules() { jq -r '[.[] | "\(.line) \(.severity) \(.rule)"] | join(", ")' "$@"; }
"$BERTH" lint --format json "$TMP/cfg" >"$TMP/out.json" 2>/dev/null
expect_eq "without a config" "$(rules "$TMP/out.json")" \
	"1 warning DL3007, 2 warning DL3008, 4 info DL3059"
cat >"$TMP/cfg/.berth-lint" <<'EOF'
# rules for this app
skip = DL3008, DL3059
error = DL3007
install_last = pydantic protobuf
EOF
"$BERTH" lint --format json "$TMP/cfg" >"$TMP/out.json" 2>/dev/null
expect_eq ".berth-lint beside the Dockerfile: skip, error and install_last" "$(rules "$TMP/out.json")" \
	"1 error DL3007, 1 warning berth/install-last, 1 warning berth/install-last"
expect_eq "... and an error finding exits 1" "$(rc "$BERTH" lint "$TMP/cfg")" 1
printf 'skip = DL3007\n' >"$TMP/other.conf"
"$BERTH" lint --format json --config "$TMP/other.conf" "$TMP/cfg" >"$TMP/out.json" 2>/dev/null
expect_eq "--config replaces .berth-lint" "$(rules "$TMP/out.json")" "2 warning DL3008, 4 info DL3059"
printf 'skip = DL3008\nerror = DL9999\n' >"$TMP/bad.conf"
"$BERTH" lint --config "$TMP/bad.conf" "$TMP/cfg" >/dev/null 2>"$TMP/err"
expect_eq "an unknown rule in the config: exit 1" "$?" 1
expect_eq "... naming the file and line" "$(cat "$TMP/err")" \
	"berth: $TMP/bad.conf:2: error: unknown rule 'DL9999' (see 'berth lint --list-rules')"
printf 'colour = red\n' >"$TMP/bad.conf"
"$BERTH" lint --config "$TMP/bad.conf" "$TMP/cfg" >/dev/null 2>"$TMP/err"
expect_eq "an unknown key in the config" "$(cat "$TMP/err")" \
	"berth: $TMP/bad.conf:1: unknown key 'colour' (use skip, error, warning, info, experimental or install_last)"
expect_eq "--config with a missing file: exit 1" "$(rc "$BERTH" lint --config "$TMP/none" "$TMP/cfg")" 1
rm "$TMP/cfg/.berth-lint"

{ echo "# check=skip=DL3008,DL3059"; cat "$TMP/cfg/Dockerfile"; } >"$TMP/skip.Dockerfile"
"$BERTH" lint --format json "$TMP/skip.Dockerfile" >"$TMP/out.json" 2>/dev/null
expect_eq "# check=skip=A,B" "$(rules "$TMP/out.json")" "2 warning DL3007"
{ echo "# check=error=true"; cat "$TMP/cfg/Dockerfile"; } >"$TMP/err.Dockerfile"
"$BERTH" lint --format json "$TMP/err.Dockerfile" >"$TMP/out.json" 2>/dev/null
expect_eq "# check=error=true: warnings become errors, info stays" "$(rules "$TMP/out.json")" \
	"2 error DL3007, 3 error DL3008, 5 info DL3059"
expect_eq "... and exit 1" "$(rc "$BERTH" lint "$TMP/err.Dockerfile")" 1
{ echo "# syntax=docker/dockerfile:1"; echo "# check=skip=NoSuchRule"; cat "$TMP/cfg/Dockerfile"; } \
	>"$TMP/dir.Dockerfile"
"$BERTH" lint "$TMP/dir.Dockerfile" >/dev/null 2>"$TMP/err"
expect_eq "an unknown rule in # check=: exit 1 with its line" "$?:$(cat "$TMP/err")" \
	"1:berth: $TMP/dir.Dockerfile:2: check directive: skip: unknown rule 'NoSuchRule' (see 'berth lint --list-rules')"

# --- the options an app gives: --sdk, --gpu, --install-last, --target ---
cat >"$TMP/stages.Dockerfile" <<'EOF'
FROM debian:bookworm-slim AS app
RUN echo app

FROM python:3.12-slim AS tools
EOF
"$BERTH" lint --format json --sdk "$TMP/stages.Dockerfile" >"$TMP/out.json" 2>/dev/null
expect_eq "--sdk: the last stage has python3" "$(rules "$TMP/out.json")" ""
"$BERTH" lint --format json --sdk --target app "$TMP/stages.Dockerfile" >"$TMP/out.json" 2>/dev/null
expect_eq "--sdk --target app: that stage has none" "$(rules "$TMP/out.json")" "1 error berth/python-missing"
expect_eq "--list-rules prints every rule" "$("$BERTH" lint --list-rules | wc -l)" \
	"$("$BERTH" lint --list-rules --format json | jq length)"

done_testing
