#!/bin/bash
# Data-driven Dockerfile cases (tests/conformance/cases/<name>/): each has a
# Dockerfile, optional `args` (extra options for `berth dockerfile parse`)
# and `expect`: lines of jq boolean expressions over the --json model, or
# `error: TEXT` (the command must exit 1 printing TEXT) or
# `dump: TEXT` (a line of the plain dump). Each line is one test point.
. "$(dirname "$0")/lib.bash"
command -v jq >/dev/null || { echo "1..0 # SKIP jq is not installed (make deps)"; exit 0; }
CASES=$(dirname "$0")/../conformance/cases

for dir in "$CASES"/*/; do
	name=$(basename "$dir")
	args=()
	[ -f "$dir/args" ] && read -r -a args <"$dir/args"
	"$BERTH" dockerfile parse -f "$dir/Dockerfile" --json "${args[@]}" >"$TMP/json" 2>"$TMP/err"
	rc=$?
	"$BERTH" dockerfile parse -f "$dir/Dockerfile" >"$TMP/dump" 2>/dev/null
	while IFS= read -r line || [ -n "$line" ]; do
		[ -z "$line" ] || [ "${line:0:1}" == "#" ] && continue
		case $line in
		error:*)
			want=${line#error: }
			if [ $rc -eq 1 ] && grep -qF -- "$want" "$TMP/err"; then ok "$name: $line"; else
				not_ok "$name: $line"; { echo "exit $rc"; cat "$TMP/err"; } | diag; fi ;;
		dump:*)
			want=${line#dump: }
			if grep -qxF -- "$want" "$TMP/dump"; then ok "$name: $line"; else
				not_ok "$name: $line"; diag <"$TMP/dump"; fi ;;
		*)
			if [ $rc -eq 0 ] && [ "$(jq -e "$line" "$TMP/json" 2>&1)" == "true" ]; then
				ok "$name: $line"
			else
				not_ok "$name: $line"; { echo "exit $rc"; cat "$TMP/err"; } | diag
			fi ;;
		esac
	done <"$dir/expect"
done
done_testing
