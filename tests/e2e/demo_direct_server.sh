#!/bin/bash
# examples/direct-server as its README and berth.yaml say to use it: the
# base made offline by `berth base create busybox`, linted clean, served by
# `berth run` (its page, its CGI script seeing the runner's environment, a
# stop that leaves nothing), then by `berth serve` + `berth deploy` (sync and
# queued calls, runners list, delete). No Debian mirror, no registry.
. "$(dirname "$0")/lib.bash"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EX=$ROOT/examples/direct-server
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP runners need root"; exit 0; }
for t in busybox jq curl python3; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed (make deps)"; exit 0; }
done
command -v crun >/dev/null || command -v runc >/dev/null ||
	{ echo "1..0 # SKIP no OCI runtime (crun or runc) is installed"; exit 0; }

export BERTH_HOME=$TMP/home
B=$BERTH
RUN_PID='' SRV_PID=''
cleanup() {
	[ -n "$RUN_PID" ] && kill -9 "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
	[ -n "$SRV_PID" ] && kill -9 "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
	"$B" container ls -a -q 2>/dev/null | while read -r id; do "$B" container rm -f "$id"; done
	rm -rf "${TMP:?}"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
call() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
containers() { "$B" container ls -q | wc -l; }
# wait_for DESC SECONDS COMMAND...: poll until the command succeeds.
wait_for() {
	local desc=$1 secs=$2
	shift 2
	for _ in $(seq 1 $((secs * 20))); do
		"$@" >/dev/null 2>&1 && { ok "$desc"; return 0; }
		sleep 0.05
	done
	not_ok "$desc"
	return 1
}

# The base, as the example's Dockerfile comment says (tagged by the version
# its FROM pins, whatever the host's busybox-static is).
"$B" base create busybox -t busybox:1.35.0 --quiet >/dev/null 2>"$TMP/base.err"
expect_eq "berth base create busybox makes the example's base offline" "$?" 0
"$B" lint "$EX" --strict >"$TMP/lint.out" 2>&1
expect_eq "berth lint examples/direct-server --strict: clean" "$?" 0
[ -s "$TMP/lint.out" ] && grep -v "^berth: app " "$TMP/lint.out" | diag
"$B" debug app-spec "$EX" >"$TMP/spec.json" 2>"$TMP/spec.err"
check "its spec: a server app named direct-server with a Dockerfile" \
	jq -e '.name == "direct-server" and (.image.dockerfile_path | endswith("examples/direct-server/Dockerfile"))' "$TMP/spec.json"
check "  httpd on \$PORT under /bin/sh -c, health GET /" \
	jq -e '(.run.command | tostring | test("httpd -f -v -p 127.0.0.1:\\$PORT")) and .run.health.path == "/"' "$TMP/spec.json"

# ---------------------------------------------------------------- berth run
PORT=$(port)
"$B" run "$EX" --port "$PORT" >"$TMP/run.out" 2>"$TMP/run.log" &
RUN_PID=$!
wait_for "berth run examples/direct-server: ready" 60 grep -q "is ready in" "$TMP/run.log" ||
	diag <"$TMP/run.log"
expect_eq "GET / answers the page" "$(call "http://127.0.0.1:$PORT/"; grep -c 'hello from a berth direct-server app' "$TMP/body")" 2001
expect_eq "GET /cgi-bin/info runs the CGI script" "$(call "http://127.0.0.1:$PORT/cgi-bin/info")" 200
check "  which sees the app's name and runner id" \
	jq -e '.app == "direct-server" and (.runner | test("^[0-9a-f]{16}$")) and .method == "GET"' "$TMP/body"
rid=$(jq -r .runner "$TMP/body")
check "  the runner berth says it started" grep -q "runner $rid starting" "$TMP/run.log"
expect_eq "a missing page is 404" "$(call "http://127.0.0.1:$PORT/nope.html")" 404
expect_eq "one runner" "$(containers)" 1
kill -TERM "$RUN_PID"
wait "$RUN_PID"
expect_eq "berth run stops on SIGTERM with status 0" "$?" 0
RUN_PID=
expect_eq "and leaves no runner" "$(containers)" 0

# --------------------------------------------------- berth serve + deploy
PORT=$(port)
export BERTH_SERVER=http://127.0.0.1:$PORT
"$B" serve --listen "127.0.0.1:$PORT" >"$TMP/serve.log" 2>&1 &
SRV_PID=$!
wait_for "berth serve answers" 10 curl -sf "$BERTH_SERVER/healthz"
"$B" deploy "$EX" >"$TMP/deploy.out" 2>"$TMP/deploy.err"
expect_eq "berth deploy examples/direct-server" "$?" 0
check "  prints its sync URL" grep -q "sync:  $BERTH_SERVER/run/direct-server" "$TMP/deploy.out"
expect_eq "GET /run/direct-server/ answers the page" \
	"$(call "$BERTH_SERVER/run/direct-server/"; grep -c 'direct-server app' "$TMP/body")" 2001
expect_eq "GET /run/direct-server/cgi-bin/info" "$(call "$BERTH_SERVER/run/direct-server/cgi-bin/info")" 200
check "  from a runner of the server" jq -e '.app == "direct-server" and (.runner | test("^[0-9a-f]{16}$"))' "$TMP/body"
rid=$(jq -r .runner "$TMP/body")
check "berth runners list shows that runner" sh -c "'$B' runners list direct-server | grep -q '^$rid '"
call -X POST "$BERTH_SERVER/queue/direct-server/cgi-bin/info" >/dev/null
status_url=$(jq -r .status_url "$TMP/body")
wait_for "a queued call completes" 30 sh -c "curl -s '$status_url' | jq -e '.status == \"COMPLETED\" and .response_status == 200'"
expect_eq "  with the script's answer (a POST)" \
	"$(curl -s "$BERTH_SERVER/queue/direct-server/requests/$(jq -r .request_id "$TMP/body")" | jq -c '[.app, .method]')" \
	'["direct-server","POST"]'
"$B" apps delete direct-server >/dev/null
expect_eq "berth apps delete" "$?" 0
wait_for "  its runners stop" 20 sh -c "test \"\$('$B' container ls -q | wc -l)\" = 0"
kill -TERM "$SRV_PID"
wait "$SRV_PID"
expect_eq "the server stops on SIGTERM" "$?" 0
SRV_PID=

done_testing
