#!/bin/bash
# A registry that misbehaves (tests/tools/blob_proxy in front of Debian's
# docker-registry on 127.0.0.1): 5xx on every blob or manifest, 5xx twice
# per blob then fine, a blob request held open without an answer, bodies
# truncated or corrupted, zeros of the right length, a manifest whose bytes
# are not the digest asked for, a registry that is not there. Each pull
# either completes with a sound store or fails saying why, with nothing
# half stored, and the next pull from a good registry completes.
. "$(dirname "$0")/lib.bash"
need docker-registry skopeo umoci busybox curl sqlite3
registry_prereqs || { echo "1..0 # SKIP $REG_MISSING"; exit 0; }
[ -x "$TOOLS/blob_proxy" ] || { echo "1..0 # SKIP no $TOOLS/blob_proxy (make the test tools)"; exit 0; }

start_registry plain || { not_ok "start a registry"; done_testing; exit; }
PLAIN=$REG_ADDR
export BERTH_HOME=$TMP/src
make_data_image data:1 8 || { not_ok "a three-layer test image"; done_testing; exit; }
"$B" push data:1 "$PLAIN/rel/data:1" >/dev/null 2>"$TMP/err" ||
	{ not_ok "push the test image"; diag <"$TMP/err"; done_testing; exit; }
DIGEST=$("$B" image inspect data:1 | jq -r .digest)
ok "a three-layer image (8 MiB) in a registry on $PLAIN"

# pull_via NAME MODE REF: a fresh home, a proxy in MODE, one pull; sets RC,
# SECS and leaves stderr in $TMP/NAME.err.
pull_via() {
	local name=$1 mode=$2 ref=$3 t0
	export BERTH_HOME=$TMP/home-$name
	start_proxy "$mode" "$PLAIN" || { not_ok "$name: proxy starts"; return 1; }
	t0=$(now_ms)
	"$B" pull "$PROXY/$ref" >/dev/null 2>"$TMP/$name.err"
	RC=$?
	SECS=$(( ($(now_ms) - t0 + 500) / 1000 ))
}

# said FILE: the end of berth's error in FILE (what went wrong, without the
# chain of contexts before it).
said() {
	grep -a 'berth:' "$1" | tail -1 | awk -F": " '{ print (NF > 2 ? $(NF - 1) ": " : "") $NF }' | cut -c1-200
}

# refused NAME MODE PATTERN WHAT: the pull fails saying PATTERN, nothing is
# stored but what was verified, and a pull from the good registry then
# completes into the same store.
refused() {
	local name=$1 mode=$2 pattern=$3 what=$4 ref=${5:-rel/data:1}
	pull_via "$name" "$mode" "$ref" || return
	expect_eq "$name: the pull fails" "$RC" 1
	if grep -Eqi "$pattern" "$TMP/$name.err"; then ok "$name: the error says what happened"
	else not_ok "$name: the error says what happened ($pattern)"; diag <"$TMP/$name.err"; fi
	expect_eq "$name: nothing is tagged" "$("$B" images -q 2>&1)" ""
	expect_eq "$name: no temp blob is left" "$(ls -A "$BERTH_HOME/blobs/tmp" 2>/dev/null)" ""
	store_sound "$name" "$BERTH_HOME"
	"$B" pull "$PLAIN/rel/data:1" >/dev/null 2>"$TMP/$name.next"
	expect_eq "$name: the next pull from a good registry completes" "$?" 0
	store_sound "$name: after it" "$BERTH_HOME"
	row "$what" "1 pull (${SECS} s)" \
		"fails in ${SECS} s: $(said "$TMP/$name.err"); nothing half stored; the next pull completes"
	stop_registry "$PROXY_PID"
}

# A blob request held open with no answer: curl's stall limit ends it and
# the retry completes. It takes a minute, so it runs alongside the rest.
export BERTH_HOME=$TMP/home-hang
start_proxy hang-once "$PLAIN" && HANG_PROXY=$PROXY HANG_PROXY_PID=$PROXY_PID
hang_t0=$(now_ms)
timeout 300 "$B" pull "$HANG_PROXY/rel/data:1" >/dev/null 2>"$TMP/hang.err" &
HANG_PID=$!

refused error error "HTTP 503|503|unavailable|try again" \
	"every blob GET answered 503"
refused error-manifest error-manifest "503|unavailable|try again" \
	"every manifest request answered 503"
refused truncate truncate "truncated|partial|transfer closed|expected|size" \
	"blob bodies cut half way (connection broken)"
refused corrupt corrupt "digest|hashes to" \
	"blob bodies with one byte flipped"
refused wrong-blob wrong-blob "digest|hashes to" \
	"blob bodies of the right length, all zeros (wrong digest)"
refused wrong-manifest-by-digest wrong-manifest "digest|hashes to|does not match" \
	"a manifest asked for by digest answered with other bytes" "rel/data@$DIGEST"

refused wrong-manifest-by-tag wrong-manifest "Docker-Content-Digest|hashes to" \
	"a manifest asked for by tag whose bytes differ from its Docker-Content-Digest"

# Two 503s per blob, then the blob: retries with backoff make it.
pull_via flaky flaky rel/data:1
expect_eq "flaky: two 503s per blob, then the pull completes" "$RC" 0
store_sound "flaky" "$BERTH_HOME"
check "flaky: the image is tagged" grep -q "rel/data:1" <("$B" images 2>&1)
row "the first two GETs of every blob answered 503" "1 pull, 5 blobs" \
	"$([ "$RC" -eq 0 ] && echo "completes in ${SECS} s through the retries; every blob sound" || echo "FAILS (exit $RC)")"
stop_registry "$PROXY_PID"

# Nobody listening.
pick_port
export BERTH_HOME=$TMP/home-down
t0=$(now_ms)
"$B" pull "127.0.0.1:$PORT/rel/data:1" >/dev/null 2>"$TMP/down.err"
rc=$?; secs=$(( ($(now_ms) - t0 + 500) / 1000 ))
expect_eq "no registry: the pull fails" "$rc" 1
check "no registry: saying it cannot connect" grep -Eqi "connect|refused" "$TMP/down.err"
row "no registry listening on the port" "1 pull" "fails in ${secs} s: $(said "$TMP/down.err")"

# The held request.
wait "$HANG_PID"
rc=$?; secs=$(( ($(now_ms) - hang_t0 + 500) / 1000 ))
export BERTH_HOME=$TMP/home-hang
expect_eq "hang-once: a blob request held open: the pull completes after a retry" "$rc" 0
[ "$rc" -eq 0 ] || diag <"$TMP/hang.err"
store_sound "hang-once" "$BERTH_HOME"
row "the first blob GET held open with no answer (a registry that hangs)" "1 pull" \
	"$([ "$rc" -eq 0 ] && echo "completes in ${secs} s: the 60 s stall limit ends the held request, the retry succeeds" || echo "FAILS after ${secs} s (exit $rc): $(said "$TMP/hang.err")")"
stop_registry "$HANG_PROXY_PID"

done_testing
