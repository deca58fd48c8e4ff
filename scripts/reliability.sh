#!/bin/bash
# `make reliability`: run every tests/reliability/*.sh (TAP) and the fuzz
# corpora through their replay drivers, then write docs/reliability.md: one
# table row per thing tried (inputs, faults, loads), how often, and what
# happened, the known issues (TAP TODO points: bugs found and reported, not
# fixed yet), the fuzzing campaigns recorded in tests/fuzz/campaign.tsv by
# `make fuzz`, and a summary. Exits non-zero when a check failed (a known
# issue is not a failure). Environment: BUILD (default build), REL_ONLY
# (space-separated script names to run, e.g. "gateway security"), OUT (the
# document, default docs/reliability.md).
set -u
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}
OUT=${OUT:-docs/reliability.md}
LOGS=$BUILD/reliability
mkdir -p "$LOGS"
ROWS=$LOGS/rows.tsv
: >"$ROWS"
SUMMARY=$LOGS/summary.tsv
: >"$SUMMARY"
export BERTH=$PWD/$BUILD/berth BERTH_BUILD=$PWD/$BUILD REL_ROWS=$PWD/$ROWS
t_start=$(date +%s)
total_ok=0 total_fail=0 total_todo=0 total_skip=0

# tally NAME LOG SECONDS: count a TAP log into the summary.
tally() {
	local name=$1 log=$2 secs=$3 ok fail todo skip
	ok=$(grep -cE '^ok [0-9]+' "$log")
	skip=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log")
	todo=$(grep -cE '^not ok [0-9]+ .*# TODO' "$log")
	fail=$(($(grep -cE '^not ok [0-9]+' "$log") - todo))
	ok=$((ok - skip))
	if grep -qE '^1\.\.0 # SKIP' "$log"; then skip=1; fi
	printf '%s\t%d\t%d\t%d\t%d\t%d\n' "$name" "$ok" "$fail" "$todo" "$skip" "$secs" >>"$SUMMARY"
	total_ok=$((total_ok + ok)) total_fail=$((total_fail + fail))
	total_todo=$((total_todo + todo)) total_skip=$((total_skip + skip))
	printf '%-28s %4d passed, %d failed, %d known issues%s (%d s)\n' "$name" "$ok" "$fail" "$todo" \
		"$([ "$skip" -gt 0 ] && echo ", $skip skipped")" "$secs"
	[ "$fail" -gt 0 ] && grep -E -A4 '^not ok' "$log" | grep -v '# TODO' | head -20 | sed 's/^/    /'
	return 0
}

for s in tests/reliability/*.sh; do
	name=$(basename "$s" .sh)
	if [ -n "${REL_ONLY:-}" ] && [[ " $REL_ONLY " != *" $name "* ]]; then continue; fi
	t0=$(date +%s)
	REL_AREA=$name bash "$s" >"$LOGS/$name.log" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && ! grep -qE '^not ok' "$LOGS/$name.log"; then
		echo "not ok - $name exited with status $rc" >>"$LOGS/$name.log"
	fi
	tally "$name" "$LOGS/$name.log" $(($(date +%s) - t0))
done

# The fuzz corpora, through the plain replay drivers; open crashes are
# replayed one at a time and reported as known issues while they crash.
fuzz_rows=$LOGS/fuzz.tsv
: >"$fuzz_rows"
if [ -z "${REL_ONLY:-}" ] || [[ " $REL_ONLY " == *" fuzz "* ]]; then
	t0=$(date +%s)
	log=$LOGS/fuzz-replay.log
	: >"$log"
	n=0
	for r in "$BUILD"/tests/replay_fuzz_*; do
		[ -x "$r" ] || continue
		t=${r##*/replay_fuzz_}
		inputs=$(find "tests/fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
		"$r" "tests/fuzz/corpus/$t" >"$LOGS/replay-$t.log" 2>&1
		rc=$?
		n=$((n + 1))
		if [ "$rc" -eq 0 ]; then
			echo "ok $n - fuzz_$t: $inputs corpus inputs replayed" >>"$log"
			res="all replayed, no crash"
		else
			echo "not ok $n - fuzz_$t: the corpus replay failed (status $rc, see $LOGS/replay-$t.log)" >>"$log"
			res="FAILED (status $rc)"
		fi
		crashes=0
		for c in tests/fuzz/crashes/"$t"/*; do
			[ -f "$c" ] || continue
			crashes=$((crashes + 1))
			n=$((n + 1))
			if "$r" "$c" >/dev/null 2>&1; then
				echo "ok $n - fuzz_$t: open crash ${c##*/} no longer crashes (move it to the corpus)" >>"$log"
			else
				echo "not ok $n - fuzz_$t: ${c##*/} still crashes # TODO an open crash found by fuzzing" >>"$log"
			fi
		done
		printf '%s\t%s\t%s\t%s\n' "$t" "$inputs" "$crashes" "$res" >>"$fuzz_rows"
	done
	echo "1..$n" >>"$log"
	tally fuzz-replay "$log" $(($(date +%s) - t0))
fi
elapsed=$(($(date +%s) - t_start))

# ------------------------------------------------------------ the document
md_escape() { sed 's/|/\\|/g'; }
{
	cat <<'EOF2'
# Reliability

What berth was put through to show that it does not lose work, does not leak
secrets and does not fall over on bad input: the fuzz targets of every parser of
untrusted input, faults injected into real runs (a misbehaving registry, a full
disk, SIGKILL at random moments, runners that die), loads on the gateway, and
attempts to escape or read what a caller should not. Each row is a check that
ran in the last `make reliability`; "known issue" marks a bug that was found,
reported with its evidence, and is not fixed yet (its check is a TAP `TODO`, so
it shows here without failing the run).

This file is written by `make reliability` (`scripts/reliability.sh`: every
`tests/reliability/*.sh`, each a TAP script, and the fuzz corpora through their
replay drivers); the fuzzing campaigns come from `make fuzz` (recorded in
`tests/fuzz/campaign.tsv`). Do not edit it by hand.

EOF2
	echo "Last run: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), on $(uname -sr), $(nproc) cores; ${elapsed} s."
	echo
	echo "**$total_ok passed, $total_fail failed, $total_todo known issues, $total_skip skipped.**"
	echo
	echo "| script | passed | failed | known issues | skipped | seconds |"
	echo "|---|---:|---:|---:|---:|---:|"
	while IFS=$'\t' read -r name ok fail todo skip secs; do
		echo "| \`$name\` | $ok | $fail | $todo | $skip | $secs |"
	done <"$SUMMARY"
	echo
	echo "## What was tried"
	echo
	echo "| area | what was tried | how often | what happened |"
	echo "|---|---|---|---|"
	while IFS=$'\t' read -r area what often result; do
		printf '| %s | %s | %s | %s |\n' "$area" "$(md_escape <<<"$what")" "$(md_escape <<<"$often")" \
			"$(md_escape <<<"$result")"
	done <"$ROWS"
	echo
	echo "## Known issues"
	echo
	echo "Checks that fail today because of a bug found here and reported; each names where it lives."
	echo
	for log in "$LOGS"/*.log; do
		grep -E '^not ok [0-9]+ .*# TODO' "$log" | sed -E "s/^not ok [0-9]+ - (.*) # TODO (.*)$/- \`$(basename "$log" .log)\`: \1 — \2/"
	done | sort -u | md_escape >"$LOGS/todo.md"
	if [ -s "$LOGS/todo.md" ]; then cat "$LOGS/todo.md"; else echo "None."; fi
	echo
	if [ "$total_fail" -gt 0 ]; then
		echo "## Failures"
		echo
		for log in "$LOGS"/*.log; do
			grep -E '^not ok [0-9]+' "$log" | grep -v '# TODO' | sed "s/^/- \`$(basename "$log" .log)\`: /"
		done | md_escape
		echo
	fi
	echo "## Fuzzing"
	echo
	echo "Every parser of untrusted input has a libFuzzer target in \`tests/fuzz/\` with a"
	echo "committed corpus that \`make check\` (and this run) replays with the plain build."
	echo "Open crashes wait in \`tests/fuzz/crashes/<target>/\` until fixed, then join the corpus"
	echo "as regression cases. \`make fuzz [T=name] FUZZ_SECONDS=N [FUZZ_MERGE=1]\` runs the"
	echo "targets with clang, ASan and UBSan."
	echo
	echo "| target | what it reads | corpus inputs | open crashes | replay | last campaign (date, seconds, executions, new inputs, result) |"
	echo "|---|---|---:|---:|---|---|"
	while IFS=$'\t' read -r t inputs crashes res; do
		what=$(sed -n '1,4p' "tests/fuzz/fuzz_$t.c" | tr '\n' ' ' | sed -E 's|^/\* Fuzz target: ||; s|\*/.*||; s|\. .*|.|; s| +\* +| |g' | cut -c1-160)
		camp=$(awk -F'\t' -v t="$t" '$1 == t { printf "%s, %s s, %s, %s, %s", $2, $3, $4, $5, $6 }' tests/fuzz/campaign.tsv 2>/dev/null)
		echo "| \`fuzz_$t\` | $(md_escape <<<"$what") | $inputs | $crashes | $res | ${camp:-not recorded} |"
	done <"$fuzz_rows"
} >"$OUT"
echo
echo "reliability: $total_ok passed, $total_fail failed, $total_todo known issues, $total_skip skipped in ${elapsed} s; wrote $OUT"
[ "$total_fail" -eq 0 ]
