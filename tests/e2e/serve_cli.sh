#!/bin/bash
# `berth serve` + `berth deploy` end to end on 127.0.0.1: deploy, sync and
# queued calls, scale from zero and back, max_multiplexing under parallel
# load, a runner dying mid-request retried through the queue, cancel in both
# states, the server killed with SIGKILL with requests queued, rolling
# redeploy and rollback, private apps and keys.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/images.bash"
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP runners need root"; exit 0; }
for t in umoci busybox jq curl python3; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed (make deps)"; exit 0; }
done
command -v crun >/dev/null || command -v runc >/dev/null ||
	{ echo "1..0 # SKIP no OCI runtime (crun or runc) is installed"; exit 0; }

export BERTH_HOME=$TMP/home
B=$BERTH
. "$(dirname "$0")/serve.bash"
trap serve_cleanup EXIT

make_python_image py:1 || { not_ok "python base image"; done_testing; exit; }

stop_server() {
	kill -TERM "$SRV_PID"
	wait "$SRV_PID"
	SRV_PID=
}
runners() { "$B" runners list "${1:-}" --json | jq '[.runners[] | select(.state != "TERMINATING")] | length'; }
no_runners() { test "$(runners "$@")" = 0; }
# wait_for DESC SECONDS COMMAND...: poll until the command succeeds.
wait_for() {
	local desc=$1 secs=$2 i
	shift 2
	for i in $(seq 1 $((secs * 20))); do
		"$@" >/dev/null 2>&1 && { ok "$desc"; return 0; }
		sleep 0.05
	done
	not_ok "$desc"
	return 1
}
lacks() { ! grep -q "$@"; }
post() { curl -s -o "$TMP/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$@"; }

if start_server; then ok "berth serve starts and answers /healthz"; else
	not_ok "berth serve starts"; diag <"$TMP/serve.log"; done_testing; exit; fi

A=$TMP/app
mkdir -p "$A"
cat >"$A/app.py" <<'EOF'
import os
import threading
import time

import berth
from berth.container import ContainerImage

_lock = threading.Lock()
_now = 0
_peak = 0


class Echo(berth.App):
    image = ContainerImage.from_dockerfile_str("FROM py:1\nRUN echo v1 > /version\n")
    keep_alive = 2
    request_timeout = 5
    max_concurrency = 2
    max_multiplexing = 1
    termination_grace_period_seconds = 2

    def setup(self):
        self.version = open("/version").read().strip()
        self.cancelled = set()

    @berth.endpoint("/")
    def echo(self, input: dict) -> dict:
        with open("/data/seen", "a") as f:
            f.write("%s\n" % input.get("n"))
        return {"n": input.get("n"), "version": self.version}

    @berth.endpoint("/slow")
    def slow(self, input: dict) -> dict:
        global _now, _peak
        with _lock:
            _now += 1
            _peak = max(_peak, _now)
        time.sleep(input.get("seconds", 0.5))
        with _lock:
            _now -= 1
        return {"peak": _peak}

    @berth.endpoint("/crash-once")
    def crash_once(self, input: dict) -> dict:
        marker = "/data/crashed-" + str(input.get("n"))
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        return {"survived": True}

    @berth.endpoint("/wait")
    def wait(self, input: dict) -> dict:
        rid = self.current_request.request_id if self.current_request else None
        for _ in range(200):
            if rid in self.cancelled:
                raise berth.AppException("cancelled", status_code=499)
            time.sleep(0.05)
        return {"done": True}

    @berth.endpoint("/kv")
    def kv(self, input: dict) -> dict:
        from berth.kv import KVStore
        store = KVStore("echo")
        store.set("last", input.get("v", ""))
        return {"got": store.get("last"), "missing": store.get("nope")}

    @berth.endpoint("/wait/cancel")
    def cancel(self, input: dict) -> dict:
        self.cancelled.add(self.current_request.request_id)
        return {"ok": True}
EOF

printf 'API_KEY=never-uploaded-value\n' >"$A/.env"
printf '.env\n' >"$A/.dockerignore"
"$B" deploy "$A/app.py::Echo" >"$TMP/deploy.out" 2>"$TMP/deploy.err"
expect_eq "deploy succeeds" "$?" 0
check "a file the .dockerignore names is not sent" sh -c "! grep -rq never-uploaded-value '$BERTH_HOME/files' '$BERTH_HOME/apps/echo/1'"
check "it prints the sync URL" grep -q "sync:  $URL/run/echo" "$TMP/deploy.out"
check "and the queue URL" grep -q "queue: $URL/queue/echo" "$TMP/deploy.out"
check "the build's output streams back" grep -q "RUN echo v1" "$TMP/deploy.err"
expect_eq "apps list shows it at revision 1" \
	"$("$B" apps list --json | jq -c '[.apps[] | [.name, .revision]]')" '[["echo",1]]'
expect_eq "no runner before the first call (scale to zero)" "$(runners echo)" 0

expect_eq "a sync call starts a runner and answers" "$(post -d '{"n": 1}' "$URL/run/echo")" 200
expect_eq "with the app's answer" "$(jq -c . "$TMP/body")" '{"n":1,"version":"v1"}'
expect_eq "one runner now" "$(runners echo)" 1
# The runner's port is on the host's loopback: only the gateway, which
# sends the runner's token, gets an answer from it.
rport=$("$B" runners list --json | jq -r '[.runners[] | select(.app == "echo")][0].port')
expect_eq "the runner's port called directly, with no token: 403" \
	"$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"n": 1}' "http://127.0.0.1:$rport/")" 403
expect_eq "  and with a made-up one: 403" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H 'x-berth-runner-token: 0123456789abcdef0123456789abcdef' \
		-X POST -d '{"n": 1}' "http://127.0.0.1:$rport/")" 403
expect_eq "  while through the gateway it answers" "$(post -d '{"n": 1}' "$URL/run/echo")" 200
expect_eq "  and a client's own token header is not passed on (still 200, the runner's is sent)" \
	"$(post -H 'x-berth-runner-token: bogus' -d '{"n": 1}' "$URL/run/echo")" 200
curl -s -D "$TMP/hdr" -o /dev/null -X POST -d '{"n": 2}' "$URL/run/echo"
check "answers carry a request id" grep -qi "^x-berth-request-id: " "$TMP/hdr"
check "an answer the app sized keeps its Content-Length (not chunked)" \
	sh -c "grep -qi '^content-length: [0-9]' '$TMP/hdr' && ! grep -qi '^transfer-encoding: chunked' '$TMP/hdr'"
wait_for "back to zero runners after keep_alive" 15 no_runners echo || "$B" runners list | diag

# The app reaches the server's KV store through the SDK.
expect_eq "an app uses the KV store" "$(post -d '{"v": "hello"}' "$URL/run/echo/kv"; jq -c . "$TMP/body")" \
	'200{"got":"hello","missing":null}'
expect_eq "and the CLI sees the value" "$("$B" kv get echo last 2>&1)" hello

# The queue.
post -d '{"n": 3}' "$URL/queue/echo/" >/dev/null
expect_eq "a queued call answers 202 with an id" "$(jq -r '.status' "$TMP/body")" IN_QUEUE
rid=$(jq -r .request_id "$TMP/body")
status_url=$(jq -r .status_url "$TMP/body")
check "and status, response and cancel URLs" jq -e '.response_url and .cancel_url' "$TMP/body"
wait_for "the queued request completes" 30 sh -c "curl -s '$status_url' | jq -e '.status == \"COMPLETED\"'"
expect_eq "its result" "$(curl -s "$URL/queue/echo/requests/$rid" | jq -c .)" '{"n":3,"version":"v1"}'
curl -s "$status_url" >"$TMP/st"
check "the status has where its time went" jq -e '.metrics | has("queued_s") and has("cold_start_s") and has("run_s")' "$TMP/st"
timeout 10 curl -sN "$status_url/stream" >"$TMP/sse"
check "the SSE status stream ends with COMPLETED" sh -c "grep '^data: ' '$TMP/sse' | tail -1 | grep -q COMPLETED"
expect_eq "an unknown request is 404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/queue/echo/requests/nope/status")" 404

# max_multiplexing 1 and max_runners 2 hold under 6 parallel calls.
pids=()
for i in 1 2 3 4 5 6; do
	curl -s -X POST -d '{"seconds": 0.4}' "$URL/run/echo/slow" >"$TMP/par.$i" &
	pids+=($!)
done
wait "${pids[@]}"
expect_eq "each runner had one request at a time" \
	"$(cat "$TMP"/par.* | jq -s 'map(.peak) | max')" 1
check "and there were never more than 2 runners" test "$(runners echo)" -le 2

# A runner that dies mid-request: the queue retries on a new one.
post -d '{"n": 7}' "$URL/queue/echo/crash-once" >/dev/null
rid=$(jq -r .request_id "$TMP/body")
wait_for "a request whose runner died completes on retry" 60 \
	sh -c "curl -s '$URL/queue/echo/requests/$rid/status' | jq -e '.status == \"COMPLETED\" and .response_status == 200'"
expect_eq "with the retry's answer" "$(curl -s "$URL/queue/echo/requests/$rid" | jq -c .)" '{"survived":true}'

# Cancel: a running request (the app's /cancel endpoint), then a queued one.
"$B" apps scale echo --max-runners 1 >/dev/null
post -d '{}' "$URL/queue/echo/wait" >/dev/null
running=$(jq -r .request_id "$TMP/body")
wait_for "the long request is running" 30 \
	sh -c "curl -s '$URL/queue/echo/requests/$running/status' | jq -e '.status == \"IN_PROGRESS\"'"
post -d '{"n": 8}' "$URL/queue/echo/" >/dev/null
queued=$(jq -r .request_id "$TMP/body")
expect_eq "the next one waits in the queue" \
	"$(curl -s "$URL/queue/echo/requests/$queued/status" | jq -r .status)" IN_QUEUE
check "with its position" sh -c "curl -s '$URL/queue/echo/requests/$queued/status' | jq -e '.queue_position == 0'"
expect_eq "cancel a queued request" \
	"$(curl -s -X PUT "$URL/queue/echo/requests/$queued/cancel" | jq -r .status)" CANCELLED
expect_eq "it is completed as cancelled" \
	"$(curl -s "$URL/queue/echo/requests/$queued/status" | jq -c '[.status, .cancelled]')" '["COMPLETED",true]'
expect_eq "cancel a running request" \
	"$(curl -s -X PUT "$URL/queue/echo/requests/$running/cancel" | jq -r .status)" CANCELLATION_REQUESTED
wait_for "the app ends it with 499" 15 \
	sh -c "curl -s '$URL/queue/echo/requests/$running/status' | jq -e '.response_status == 499'"
# Priority: a low-priority request waits behind a normal one sent after it.
post -d '{"seconds": 1.5}' "$URL/queue/echo/slow" >/dev/null
blocker=$(jq -r .request_id "$TMP/body")
wait_for "a blocker runs" 30 \
	sh -c "curl -s '$URL/queue/echo/requests/$blocker/status' | jq -e '.status == \"IN_PROGRESS\"'"
post -H 'X-Berth-Queue-Priority: low' -d '{"n": "low"}' "$URL/queue/echo/" >/dev/null
low=$(jq -r .request_id "$TMP/body")
post -d '{"n": "normal"}' "$URL/queue/echo/" >/dev/null
normal=$(jq -r .request_id "$TMP/body")
expect_eq "the low-priority request is behind the normal one" \
	"$(curl -s "$URL/queue/echo/requests/$low/status" | jq .queue_position)" 1
wait_for "both complete" 30 \
	sh -c "curl -s '$URL/queue/echo/requests/$low/status' | jq -e '.status == \"COMPLETED\"'"
expect_eq "the normal one finished first" \
	"$(sqlite3 "$BERTH_HOME/berth.db" "SELECT (SELECT finished FROM srv_requests WHERE id = '$normal') < (SELECT finished FROM srv_requests WHERE id = '$low')")" 1
"$B" apps scale echo --max-runners 2 >/dev/null

# Kill the server with 1000 requests queued; after a restart every one
# completes, exactly once.
: >"$BERTH_HOME/data/seen"
"$B" apps scale echo --max-runners 1 --min-runners 0 >/dev/null
pids=()
for i in $(seq 1000 1999); do
	curl -s -o /dev/null -X POST -d "{\"n\": $i}" "$URL/queue/echo/" &
	pids+=($!)
	[ $((i % 50)) -eq 49 ] && { wait "${pids[@]}"; pids=(); }
done
kill -9 "$SRV_PID"
wait "$SRV_PID" 2>/dev/null
SRV_PID=
start_server || diag <"$TMP/serve.log"
ok "the server restarts after SIGKILL"
"$B" apps scale echo --max-runners 2 >/dev/null
wait_for "all 1000 queued requests complete after the restart" 240 \
	sh -c "sqlite3 '$BERTH_HOME/berth.db' \"SELECT count(*) FROM srv_requests WHERE path = '/' AND state != 'COMPLETED'\" | grep -qx 0"
expect_eq "each has a 200 result" \
	"$(sqlite3 "$BERTH_HOME/berth.db" "SELECT count(*) FROM srv_requests WHERE status = 200 AND CAST(json_extract(CAST(result AS TEXT), '\$.n') AS INTEGER) BETWEEN 1000 AND 1999")" 1000
expect_eq "and the app saw every one of them" "$(sort -u "$BERTH_HOME/data/seen" | grep -c '^1[0-9][0-9][0-9]$')" 1000

# A rolling redeploy, then a rollback.
sed -i 's/echo v1/echo v2/' "$A/app.py"
"$B" deploy "$A/app.py::Echo" --message "v2" >"$TMP/deploy.out" 2>"$TMP/deploy.err"
expect_eq "a redeploy makes revision 2" "$("$B" apps list --json | jq '.apps[0].revision')" 2
expect_eq "calls reach the new revision" "$(post -d '{"n": 9}' "$URL/run/echo"; jq -r .version "$TMP/body")" 200v2
"$B" apps rollback echo >/dev/null
expect_eq "rollback goes back to revision 1" "$("$B" apps list --json | jq '.apps[0].revision')" 1
wait_for "and calls reach it" 30 sh -c "curl -s -X POST -d '{}' '$URL/run/echo' | jq -e '.version == \"v1\"'"

# Metrics.
curl -s "$URL/metrics" >"$TMP/metrics"
check "metrics count requests by app" grep -q '^berth_requests_total{.*app="echo"' "$TMP/metrics"
check "and runners by state" grep -q '^berth_runners{app="echo",state=' "$TMP/metrics"
check "and cold starts" grep -q '^berth_cold_starts_total{app="echo"}' "$TMP/metrics"

# request_timeout: 504, and the runner is recycled.
expect_eq "a call past request_timeout is 504" \
	"$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST -d '{"seconds": 8}' "$URL/run/echo/slow")" 504
check "saying why" grep -q "request_timeout" "$TMP/body"

# A webhook: the result is POSTed to a URL (a CGI script of busybox httpd).
H=$TMP/hook
mkdir -p "$H/cgi-bin"
printf '#!/bin/sh\nhead -c "$CONTENT_LENGTH" >"%s/hook.json"\nprintf "Content-Type: text/plain\\r\\n\\r\\nok\\n"\n' "$TMP" >"$H/cgi-bin/hook"
chmod +x "$H/cgi-bin/hook"
HPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
busybox httpd -f -p "127.0.0.1:$HPORT" -h "$H" &
HOOK_PID=$!
post -d '{"n": 42}' "$URL/queue/echo/?webhook=http://127.0.0.1:$HPORT/cgi-bin/hook" >/dev/null
hook_rid=$(jq -r .request_id "$TMP/body")
wait_for "a webhook arrives" 30 test -s "$TMP/hook.json"
expect_eq "with the request id, status and payload" \
	"$(jq -c --arg id "$hook_rid" '[.request_id == $id, .status, .payload.n]' "$TMP/hook.json")" '[true,"OK",42]'
kill "$HOOK_PID"

# Keys: once one exists, the admin API and private apps need one.
KEY=$("$B" keys create --scope admin 2>/dev/null | grep -o '[0-9a-f]\{16\}:[0-9a-f]\{64\}')
check "an admin key is created" test -n "$KEY"
expect_eq "a private app refuses a call without a key" "$(post -d '{}' "$URL/run/echo")" 401
expect_eq "and takes one with a key" "$(post -H "Authorization: Key $KEY" -d '{}' "$URL/run/echo")" 200
expect_eq "the queue refuses too" "$(post -d '{}' "$URL/queue/echo/")" 401
expect_eq "a queued request's status needs a key too" \
	"$(curl -s -o /dev/null -w '%{http_code}' "$URL/queue/echo/requests/$hook_rid/status")" 401
expect_eq "and its result" \
	"$(curl -s -o /dev/null -w '%{http_code}' "$URL/queue/echo/requests/$hook_rid")" 401
expect_eq "and its status stream" \
	"$(curl -s -o /dev/null -w '%{http_code}' "$URL/queue/echo/requests/$hook_rid/status/stream")" 401
expect_eq "with a key the result is there" \
	"$(curl -s -H "Authorization: Key $KEY" "$URL/queue/echo/requests/$hook_rid" | jq .n)" 42
"$B" apps list >/dev/null 2>&1
expect_eq "the admin CLI on this host works without BERTH_KEY (the server's local token)" "$?" 0
BERTH_HOME=$TMP/elsewhere "$B" apps list >/dev/null 2>&1
expect_eq "the admin CLI with another state dir (no token) needs the key" "$?" 1
export BERTH_KEY=$KEY
"$B" apps list >/dev/null 2>&1
expect_eq "and works with BERTH_KEY" "$?" 0

# A deploy whose build fails changes nothing.
mkdir -p "$TMP/broken"
printf 'name: broken\nimage:\n  dockerfile: |\n    FROM py:1\n    RUN echo "no such thing" >&2; exit 3\n' >"$TMP/broken/berth.yaml"
"$B" deploy "$TMP/broken" >/dev/null 2>"$TMP/err"
expect_eq "a deploy whose build fails exits 1" "$?" 1
check "showing the build's error" grep -q "no such thing" "$TMP/err"
check "and saying the deploy failed" grep -q "deploy failed" "$TMP/err"
expect_eq "no app was made" "$("$B" apps list --json | jq '[.apps[] | select(.name == "broken")] | length')" 0
check "and no files were left" test ! -e "$BERTH_HOME/apps/broken/1"

# A deploy of an SDK app whose image has no python3 is refused before rollout.
mkdir -p "$TMP/nopy"
printf 'import berth\nfrom berth.container import ContainerImage\n\n\nclass NoPy(berth.App):\n    image = ContainerImage.from_dockerfile_str("FROM py:1\\nRUN rm /usr/bin/python3*\\n")\n\n    @berth.endpoint("/")\n    def run(self, input: dict) -> dict:\n        return {}\n' >"$TMP/nopy/app.py"
"$B" deploy "$TMP/nopy/app.py::NoPy" >/dev/null 2>"$TMP/err"
expect_eq "an SDK app without python3 is not deployed" "$?" 1
check "with the seed's message and fix" grep -qi "python binary not found" "$TMP/err"

# Errors.
expect_eq "an app that is not deployed is 404" "$(post -d '{}' "$URL/run/nope")" 404
"$B" deploy "$TMP/missing.py::X" >/dev/null 2>"$TMP/err"
expect_eq "deploying a missing app fails" "$?" 1
BERTH_SERVER=http://127.0.0.1:1 "$B" apps list >/dev/null 2>"$TMP/err"
expect_eq "a server that is down is an error" "$?" 1
check "that says so" grep -q "cannot reach the berth server" "$TMP/err"

"$B" apps delete echo >/dev/null
expect_eq "delete removes the app" "$("$B" apps list --json | jq '.apps | length')" 0
expect_eq "and its images' names" "$("$B" images | grep -c 'localhost/apps/echo')" 0
wait_for "and its runners" 20 no_runners
stop_server
expect_eq "SIGTERM stops the server" "$?" 0
expect_eq "and no container is left" "$("$B" container ls -q | wc -l)" 0

done_testing
