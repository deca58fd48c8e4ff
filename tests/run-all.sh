#!/bin/bash
# Runs every test tier and ends with one line "N passed, N failed[, N skipped]".
# Each suite is a TAP stream; its log goes to $BUILD/test-logs/<suite>.log.
# Environment: BUILD (default build), SAN_BUILD (sanitizer build dir, optional),
# BERTH_SHARED (default ../shared, BuildKit's conformance data).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SAN_BUILD=${SAN_BUILD:-}
export BERTH_SHARED=${BERTH_SHARED:-$(cd .. && pwd)/shared}
LOGS=$BUILD/test-logs
mkdir -p "$LOGS"
passed=0 failed=0 skipped=0

# run_tap NAME COMMAND...: run one TAP producer and count its results.
run_tap() {
	local name=$1; shift
	local log=$LOGS/${name//\//_}.log
	"$@" >"$log" 2>&1
	local rc=$?
	local ok nok skip
	ok=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
	skip=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log" | tr -d ' ')
	nok=$(grep -cE '^not ok [0-9]+' "$log" | tr -d ' ')
	ok=$((ok - skip))
	if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then
		nok=1 # crashed or failed outside a test point
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	passed=$((passed + ok)); failed=$((failed + nok)); skipped=$((skipped + skip))
	printf '%-40s %4d passed, %d failed%s\n' "$name" "$ok" "$nok" \
		"$([ "$skip" -gt 0 ] && echo ", $skip skipped")"
	if [ "$nok" -gt 0 ]; then
		grep -E -A6 '^not ok' "$log" | head -40 | sed 's/^/    /'
	fi
}

# run_build DIR LABEL: the C suites of one build (plain or sanitized).
run_build() {
	local b=$1 label=$2
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] && run_tap "$label/unit/$(basename "$t")" "$t"
	done
	if [ -d "$BERTH_SHARED/conformance" ]; then
		run_tap "$label/conformance/buildkit-parser" "$b/tests/run-conformance" buildkit-parser "$BERTH_SHARED/conformance"
		run_tap "$label/conformance/shell-lex" "$b/tests/run-conformance" shell-lex "$BERTH_SHARED/conformance"
	else
		echo "$label/conformance: SKIP: no $BERTH_SHARED/conformance (BuildKit's data)"
		skipped=$((skipped + 1))
	fi
	for r in "$b"/tests/replay_fuzz_*; do
		[ -x "$r" ] || continue
		local target=${r##*/replay_fuzz_}
		local extra=()
		# BuildKit's parser inputs are read in place, never copied.
		[ "$target" == parse ] && [ -d "$BERTH_SHARED/conformance" ] &&
			extra=("$BERTH_SHARED"/conformance/buildkit-parser/*/*/Dockerfile)
		run_tap "$label/fuzz-replay/$target" "$r" tests/fuzz/corpus/"$target" "${extra[@]}"
	done
}

run_build "$BUILD" plain
[ -n "$SAN_BUILD" ] && run_build "$SAN_BUILD" asan+ubsan

for s in tests/e2e/*.sh; do
	BERTH="$PWD/$BUILD/berth" run_tap "e2e/$(basename "$s" .sh)" bash "$s"
done
# The CLI scripts again through the sanitized binary: error paths leak-checked.
if [ -n "$SAN_BUILD" ]; then
	for s in tests/e2e/cli_dockerfile.sh tests/e2e/dockerfile_cases.sh tests/e2e/image_cli.sh \
		tests/e2e/container_cli.sh tests/e2e/secrets_cli.sh tests/e2e/build_cli.sh \
		tests/e2e/build_add.sh tests/e2e/build_run.sh tests/e2e/build_onbuild.sh \
		tests/e2e/build_copy.sh tests/e2e/build_progress.sh tests/e2e/lint_cli.sh \
		tests/e2e/validate_cli.sh tests/e2e/run_cli.sh tests/e2e/serve_stores.sh \
		tests/e2e/serve_cli.sh tests/e2e/serve_relay.sh tests/e2e/doctor_cli.sh tests/e2e/init_cli.sh \
		tests/e2e/base_cli.sh; do
		BERTH="$PWD/$SAN_BUILD/berth" run_tap "asan+ubsan/e2e/$(basename "$s" .sh)" bash "$s"
	done
fi

echo
echo "$passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
[ "$failed" -eq 0 ]
