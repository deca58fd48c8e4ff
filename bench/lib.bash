# What the bench/* scripts share. Source it from the repository root after
# setting BENCH (the script's name, for messages):
#
#   die MSG...                 the message on stderr, prefixed, and exit 1
#   bench_berth                BERTH: the absolute path of $BUILD/berth, or die
#   bench_stats DEC [DIV]      numbers on stdin (one a line) -> "median min max",
#                              each divided by DIV (default 1), DEC decimals;
#                              "n/a n/a n/a" when there are none
#   bench_oci_layout DIR ROOT  DIR/oci: a one-layer OCI layout of the tree ROOT,
#                              tagged bb (cmd /bin/sh, PATH=/bin, amd64)
#   bench_unmount_under DIR    unmount everything mounted beneath DIR, deepest first
#   bench_settle HOME          wait until berth's background deletion of --rm
#                              runners in HOME is over (at most 2 s)
#   bench_md                   stdin appended to $BENCH_MD, the markdown section
#                              bench/report collects (dropped when unset)
#   bench_md_cmds CMD...       a "Commands" block for bench_md, one command a line
#   bench_summary CELL...      one row of the report's summary table (measurement,
#                              berth, peer, berth / peer, target, verdict),
#                              appended to $BENCH_SUMMARY (dropped when unset)
#
# Times come from bash's $EPOCHREALTIME: no process is started to read a clock.

die() {
	echo "bench/${BENCH:-?}: $*" >&2
	exit 1
}

bench_berth() {
	BERTH=${BUILD:-build}/berth
	[[ $BERTH == /* ]] || BERTH=$PWD/$BERTH
	[ -x "$BERTH" ] || die "'$BERTH' is missing; run 'make'"
}

bench_stats() {
	local dec=$1 div=${2:-1}
	grep -E '^-?[0-9.]+$' | sort -g | awk -v d="$div" -v p="$dec" '
		{ v[NR] = $1 / d }
		END {
			if (NR == 0) { print "n/a n/a n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			f = "%." p "f"
			printf f " " f " " f "\n", m, v[1], v[NR]
		}'
}

bench_oci_layout() {
	local dir=$1 root=$2
	(cd "$dir" && umoci init --layout oci && umoci new --image oci:bb &&
		umoci insert --image oci:bb "$root" / &&
		umoci config --image oci:bb --config.cmd=/bin/sh --config.env=PATH=/bin \
			--architecture=amd64 --os=linux && umoci gc --layout oci) >"$dir/umoci.log" 2>&1 ||
		{ cat "$dir/umoci.log" >&2; die "umoci could not make the busybox image"; }
}

bench_unmount_under() {
	awk -v t="$1/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	return 0
}

bench_settle() {
	local n=0
	while compgen -G "$1/runners/.trash-*" >/dev/null && ((n++ < 400)); do
		sleep 0.005
	done
}

bench_md() {
	if [ -n "${BENCH_MD:-}" ]; then cat >>"$BENCH_MD"; else cat >/dev/null; fi
}

bench_md_cmds() {
	echo
	echo "Commands timed:"
	echo
	echo '```'
	printf '%s\n' "$@"
	echo '```'
}

bench_summary() {
	[ -n "${BENCH_SUMMARY:-}" ] || return 0
	local row="|" c
	for c in "$@"; do row+=" $c |"; done
	echo "$row" >>"$BENCH_SUMMARY"
}
