# Shared helpers of the reliability scripts (tests/reliability/*.sh): the
# e2e helpers (TAP, $TMP, registries, base images) plus what faults need.
# Source it first. Each script is TAP; with $REL_ROWS set it also appends
# one line per thing tried to that file for docs/reliability.md:
#   AREA<TAB>WHAT WAS TRIED<TAB>HOW OFTEN<TAB>WHAT HAPPENED
_rel_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_rel_dir/../e2e/lib.bash"
. "$_rel_dir/../e2e/registry.bash"
. "$_rel_dir/../e2e/images.bash"
TOOLS=$BERTH_BUILD/tests/tools
B=$BERTH
REL_AREA=${REL_AREA:-$(basename "$0" .sh)}

# Cleanup: each script adds commands to REL_CLEANUP (run last first), then
# the registry helpers stop what they started and $TMP goes.
REL_CLEANUP=()
_rel_cleanup() {
	local i
	for ((i = ${#REL_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${REL_CLEANUP[$i]}" >/dev/null 2>&1
	done
	_reg_cleanup
}
trap _rel_cleanup EXIT

# row WHAT HOW_OFTEN RESULT: a line of the report table.
row() {
	[ -n "${REL_ROWS:-}" ] || return 0
	printf '%s\t%s\t%s\t%s\n' "$REL_AREA" "$1" "$2" "$3" | tr -d '\r' >>"$REL_ROWS"
}

# need CMD...: skip the whole script when a program is missing.
need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			{ echo "1..0 # SKIP $c is not installed (make deps)"; exit 0; }
	done
}
need_root() {
	[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP $REL_AREA needs root"; exit 0; }
}

# bad_blobs HOME: the blobs under HOME/blobs/sha256 whose bytes do not hash
# to their name, one a line (nothing when every blob is sound).
bad_blobs() {
	local f
	for f in "$1"/blobs/sha256/*; do
		[ -f "$f" ] || continue
		[ "$(sha256sum <"$f" | cut -d' ' -f1)" == "${f##*/}" ] || echo "${f##*/}"
	done
}
# blob_count HOME
blob_count() { find "$1/blobs/sha256" -type f 2>/dev/null | wc -l; }

# store_sound NAME HOME: TAP points for a store after a fault: every blob
# hashes to its name, no temp blob is left behind once a command ran, and
# the database passes SQLite's integrity check.
store_sound() {
	local name=$1 home=$2 bad
	bad=$(bad_blobs "$home")
	expect_eq "$name: every blob hashes to its name ($(blob_count "$home") blobs)" "$bad" ""
	if [ -f "$home/berth.db" ] && command -v sqlite3 >/dev/null; then
		expect_eq "$name: the database passes integrity_check" \
			"$(sqlite3 "$home/berth.db" 'PRAGMA integrity_check' 2>&1)" ok
	fi
}

# pick_port: a free port on 127.0.0.1 in $PORT, below the kernel's
# ephemeral range (32768 and up here): the loads these scripts make leave
# thousands of client ports in TIME_WAIT there, which a listener cannot
# always bind.
pick_port() {
	local p i
	for i in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		[[ " ${_reg_ports[*]} " == *" $p "* ]] && continue
		ss -Htan "sport = :$p" 2>/dev/null | grep -q . && continue
		_port_open "$p" && continue
		_reg_ports+=("$p")
		PORT=$p
		return 0
	done
	return 1
}

# wait_until SECONDS COMMAND...: poll every 50 ms; 0 once it succeeds.
wait_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 20; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# now_ms: milliseconds on a monotonic-enough clock (for bounds, not tests
# of speed: every bound here is generous).
now_ms() { date +%s%3N; }

# start_proxy MODE UPSTREAM: tests/tools/blob_proxy in front of a registry;
# sets PROXY (host:port) and PROXY_PID.
start_proxy() {
	local _
	for _ in 1 2 3; do
		pick_port || return 1
		"$TOOLS/blob_proxy" --listen "$PORT" --upstream "$2" --mode "$1" >/dev/null 2>&1 &
		PROXY_PID=$!
		_reg_pids+=("$PROXY_PID")
		PROXY=127.0.0.1:$PORT
		wait_until 20 curl -fs "http://$PROXY/v2/" && return 0
		stop_registry "$PROXY_PID" # lost a race for the port: another one
	done
	return 1
}

# start_serve HOME [LOG]: `berth serve` on a free port; sets SRV_PID, URL,
# SRV_PORT and exports BERTH_SERVER.
start_serve() {
	local home=$1 log=${2:-$TMP/serve.log} _ i
	for _ in 1 2 3 4 5; do
		pick_port || return 1
		SRV_PORT=$PORT
		URL=http://127.0.0.1:$SRV_PORT
		export BERTH_SERVER=$URL
		BERTH_HOME=$home "$B" serve --listen "127.0.0.1:$SRV_PORT" >>"$log" 2>&1 &
		SRV_PID=$!
		_reg_pids+=("$SRV_PID")
		for ((i = 0; i < 400; i++)); do
			curl -sf -m 2 "$URL/healthz" >/dev/null 2>&1 && return 0
			kill -0 "$SRV_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$SRV_PID" 2>/dev/null && return 1 # alive but silent: no retry
		wait "$SRV_PID" 2>/dev/null # lost a race for the port: another one
	done
	return 1
}

# remove_containers HOME: every container berth knows in HOME, removed.
remove_containers() {
	BERTH_HOME=$1 "$B" container ls -a -q 2>/dev/null | while read -r id; do
		BERTH_HOME=$1 "$B" container rm -f "$id"
	done
}

# make_data_image TAG MB: busybox plus MB MiB of random bytes in three
# layers (busybox, then two files), loaded into $BERTH_HOME.
make_data_image() {
	local tag=$1 mb=$2 r w
	r=$(mktemp -d "$TMP/rootfs.XXXXXX")
	w=$(mktemp -d "$TMP/img.XXXXXX")
	_busybox_rootfs "$r"
	mkdir -p "$w/d1" "$w/d2"
	head -c $((mb * 1024 * 1024 / 2)) /dev/urandom >"$w/d1/data1"
	head -c $((mb * 1024 * 1024 / 2)) /dev/urandom >"$w/d2/data2"
	(cd "$w" && umoci init --layout oci && umoci new --image oci:img &&
		umoci insert --image oci:img "$r" / && umoci insert --image oci:img d1 /data1 &&
		umoci insert --image oci:img d2 /data2 &&
		umoci config --image oci:img --config.cmd=/bin/sh --config.env=PATH=/bin \
			--architecture=amd64 --os=linux && umoci gc --layout oci) >"$w/log" 2>&1 ||
		{ cat "$w/log" >&2; return 1; }
	"$B" image load "$w/oci" -t "$tag" >/dev/null || return 1
	rm -rf "$w" "$r"
}

# known_issue NAME WHY: a check that fails because of a bug found and
# reported but not fixed yet (TAP TODO: not counted as a failure by TAP
# harnesses; scripts/reliability.sh lists it as a known issue).
known_issue() {
	_n=$((_n + 1))
	echo "not ok $_n - $1 # TODO $2"
}
