#!/bin/bash
# The gateway's relay (src/server/relay.h) end to end: a server app whose
# runner answers in every framing (tests/e2e/relay_app/up.py), called
# through `berth serve` on 127.0.0.1 with curl and raw sockets. Checks that
# each answer arrives whole and framed right, that streams pass as they
# come, that bodies go up intact, that what the relay does not take (API
# calls, chunked uploads, HTTP/1.0, oversized heads, a cold start) is
# answered by the thread-per-connection server on the same connection, and
# the failure paths: request timeout, a runner that drops the connection,
# a client that leaves mid-call, a server stopped with a call in flight.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/images.bash"
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP runners need root"; exit 0; }
for t in umoci busybox jq curl python3; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed (make deps)"; exit 0; }
done
command -v crun >/dev/null || command -v runc >/dev/null ||
	{ echo "1..0 # SKIP no OCI runtime (crun or runc) is installed"; exit 0; }

export BERTH_HOME=$TMP/home BERTH_PULL=never
B=$BERTH
. "$(dirname "$0")/serve.bash"
trap serve_cleanup EXIT

make_python_image py:1 || { not_ok "python base image"; done_testing; exit; }

lacks() { ! grep -q "$@"; }
# metric NAME: its value on /metrics.
metric() { curl -s "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# ready: the app's one runner is IDLE.
ready() { "$B" runners list t --json | jq -e '[.runners[] | select(.state == "IDLE")] | length == 1' >/dev/null; }
wait_ready() {
	local i
	for i in $(seq 1 600); do ready && return 0; sleep 0.05; done
	return 1
}

if start_server; then ok "berth serve starts"; else
	not_ok "berth serve starts"; diag <"$TMP/serve.log"; done_testing; exit; fi

A=$TMP/app
mkdir -p "$A"
cp "$(dirname "$0")/relay_app/up.py" "$A/"
cat >"$A/berth.yaml" <<'EOF'
name: t
image:
  dockerfile: |
    FROM py:1
    COPY up.py /up.py
run:
  command: exec python3 /up.py $PORT
  health:
    path: /health
scaling:
  min_runners: 1
  max_runners: 1
  max_multiplexing: 4
  keep_alive: 1h
request_timeout: 3
auth: public
termination_grace_period: 1
EOF
if "$B" deploy "$A" >"$TMP/deploy.log" 2>&1 && wait_ready; then ok "a server app deploys"; else
	not_ok "a server app deploys"; diag <"$TMP/deploy.log"; diag <"$TMP/serve.log"; done_testing; exit; fi

relayed0=$(metric berth_gateway_relayed_total)

# --- requests up, answers down
curl -s -D "$TMP/h" -o "$TMP/b" -H 'Authorization: Key nope:x' -H 'X-Mine: a b' \
	"$URL/run/t/echo/a%20b?x=1%202&y=%2F"
check "GET: 200 from the runner" grep -q '^HTTP/1.1 200' "$TMP/h"
expect_eq "GET: the path and query reach the runner as sent" "/echo/a%20b?x=1%202&y=%2F" "$(jq -r .target "$TMP/b")"
expect_eq "GET: headers pass" "a b" "$(jq -r '.headers["x-mine"]' "$TMP/b")"
expect_eq "GET: Authorization stays at the gateway" "null" "$(jq -r '.headers.authorization' "$TMP/b")"
check "GET: the runner gets its token" jq -e '.headers["x-berth-runner-token"] | length == 32' "$TMP/b"
rid=$(awk -F': ' 'tolower($1) == "x-berth-request-id" { print $2 }' "$TMP/h" | tr -d '\r')
expect_eq "GET: the request id the runner saw is the one answered" "$rid" "$(jq -r '.headers["x-berth-request-id"]' "$TMP/b")"
check "GET: the runner's own headers come back" grep -qi '^x-up: 1' "$TMP/h"
check "GET: hop-by-hop headers do not (Keep-Alive)" lacks -qi '^keep-alive:' "$TMP/h"
curl -s -o "$TMP/b" -H 'x-berth-request-id: my-id-1' "$URL/run/t/echo"
expect_eq "GET: a request id given by the caller is kept" "my-id-1" "$(jq -r '.headers["x-berth-request-id"]' "$TMP/b")"
expect_eq "GET /run/t (no path): the runner sees /" "/" "$(curl -s "$URL/run/t" | jq -r .target)"

head -c 3000000 /dev/urandom >"$TMP/up.bin"
sum=$(sha256sum <"$TMP/up.bin" | cut -d' ' -f1)
curl -s -o "$TMP/b" --data-binary @"$TMP/up.bin" "$URL/run/t/echo"
expect_eq "POST 3 MB: the body arrives whole" "$sum" "$(jq -r .body_sha256 "$TMP/b")"
curl -s -o "$TMP/b" --limit-rate 400k --data-binary @"$TMP/up.bin" "$URL/run/t/echo"
expect_eq "POST 3 MB sent slowly: whole" "$sum" "$(jq -r .body_sha256 "$TMP/b")"
curl -s -o "$TMP/b" -X POST "$URL/run/t/echo"
expect_eq "POST with no body: Content-Length 0 to the runner" "0" "$(jq -r '.headers["content-length"]' "$TMP/b")"

curl -s -D "$TMP/h" -o "$TMP/b" "$URL/run/t/chunked"
expect_eq "a chunked answer: whole" "abbccc" "$(cat "$TMP/b")"
check "a chunked answer: chunked to the client" grep -qi '^transfer-encoding: chunked' "$TMP/h"
curl -s -D "$TMP/h" -o "$TMP/b" "$URL/run/t/close"
expect_eq "an answer ended by close: whole" "close-delimited" "$(cat "$TMP/b")"
check "... re-framed in chunks, the client's connection kept" grep -qi '^transfer-encoding: chunked' "$TMP/h"
check "... and no Connection: close to the client" lacks -qi '^connection: close' "$TMP/h"
code=$(curl -s -o "$TMP/b" -w '%{http_code} %{size_download}' "$URL/run/t/204")
expect_eq "204: no body" "204 0" "$code"
expect_eq "a 100 Continue before the answer is not passed on" "200 after 100" \
	"$(curl -s -w '%{http_code} ' -o "$TMP/b" "$URL/run/t/100")$(cat "$TMP/b")"
curl -s -o "$TMP/b" --limit-rate 3M "$URL/run/t/big?n=6000000"
expect_eq "6 MB to a slow client: whole (the runner read as the client takes it)" \
	"$(python3 -c 'import hashlib,sys; b=hashlib.sha256(b"berth").hexdigest().encode()*2048; d=(b*46)[:6000000]; print(hashlib.sha256(d).hexdigest())')" \
	"$(sha256sum <"$TMP/b" | cut -d' ' -f1)"

# Streams pass as they come: the first event long before the second.
python3 - "$PORT" >"$TMP/sse" 2>&1 <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
t0 = time.monotonic()
s.sendall(b"GET /run/t/sse?gap=2 HTTP/1.1\r\nHost: x\r\n\r\n")
data, t1 = b"", None
while b"0\r\n\r\n" not in data:
    b = s.recv(65536)
    if not b:
        break
    data += b
    if t1 is None and b"event 0" in data:
        t1 = time.monotonic() - t0
print(data.split(b" ")[1].decode(), "%.2f" % (t1 or 99), b"event 1" in data)
EOF
read -r st t1 second <"$TMP/sse"
check "SSE: the first event within 1.5 s (the second comes 2 s later) [$t1 s]" \
	awk -v t="$t1" -v s="$st" -v e="$second" 'BEGIN { exit !(s == 200 && t < 1.5 && e == "True") }'

# --- connections
c1=$(curl -s "$URL/run/t/conn")
c2=$(curl -s "$URL/run/t/conn")
expect_eq "calls on two client connections reuse one runner connection" "$c1" "$c2"
# A pooled connection the runner drops as the call arrives: the call goes
# again on a new connection (nothing of an answer had come), the caller
# never sees it, and the runner is not held against.
armed=$(curl -s "$URL/run/t/arm")
code=$(curl -s -o "$TMP/b" -w '%{http_code}' "$URL/run/t/conn")
check "a reused connection dropped unanswered: the call is sent again and answered ($code)" \
	test "$code" = 200 -a -n "$armed" -a "$(cat "$TMP/b")" != "$armed"
check "... the runner is kept" ready
curl -s -v -o /dev/null "$URL/run/t/close" -o /dev/null "$URL/run/t/echo" 2>"$TMP/v"
check "keep-alive: the client's second call reuses its connection" grep -q 'Re-using existing connection' "$TMP/v"
# Pipelined: two calls and an API call in one write, answered in order.
python3 - "$PORT" >"$TMP/pipe" 2>&1 <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /run/t/conn HTTP/1.1\r\nHost: x\r\n\r\n"
          b"POST /run/t/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
          b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(data.count(b"HTTP/1.1 200"), data.find(b"body_len\": 5") > 0, data.rstrip().endswith(b'"ok"}'))
EOF
expect_eq "pipelined: three answers in order, the last from the API" "3 True True" "$(cat "$TMP/pipe")"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' -0 "$URL/run/t/echo/a%20b?x=%2F")
expect_eq "HTTP/1.0 (handed over): answered" "200" "$code"
expect_eq "... the path and query reach the runner as sent there too" "/echo/a%20b?x=%2F" "$(jq -r .target "$TMP/b")"
qid=$(curl -s -X POST "$URL/queue/t/echo/a%20b?x=%2F" | jq -r .request_id)
for i in $(seq 1 200); do
	[ "$(curl -s -o "$TMP/q" -w '%{http_code}' "$URL/queue/t/requests/$qid")" = 200 ] && break
	sleep 0.05
done
expect_eq "through the queue too" "/echo/a%20b?x=%2F" "$(jq -r .target "$TMP/q")"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/up.bin" "$URL/run/t/echo")
expect_eq "a chunked upload (handed over): answered, body whole" "200 $sum" "$code $(jq -r .body_sha256 "$TMP/b")"
# Half a head, then the client shuts its sending side: the end of the head
# never comes (peeking shows the bytes, not the end), so it must not wait.
python3 - "$PORT" >"$TMP/half" 2>&1 <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
t0 = time.monotonic()
s.sendall(b"GET /run/t/echo HTTP/1.1\r\nHost: x\r\n")
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
print("%.1f" % (time.monotonic() - t0))
EOF
check "half a head and a shutdown: answered or closed at once ($(cat "$TMP/half") s)" \
	awk -v t="$(cat "$TMP/half")" 'BEGIN { exit !(t + 0 == t && t < 2) }'
# A first line that is no call (here not even HTTP), its head unfinished:
# handed over at once, not after the head, and answered there.
python3 - "$PORT" >"$TMP/junk" 2>&1 <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
t0 = time.monotonic()
s.sendall(b"NOT HTTP AT ALL\r\nX: y\r\n")
try:
    got = s.recv(100)
except socket.timeout:
    got = b"(nothing)"
print("%.1f %s" % (time.monotonic() - t0, got.split(b"\r\n")[0].decode(errors="replace") or "closed"))
EOF
check "a line that is not HTTP: answered without waiting for the head's end ($(cat "$TMP/junk"))" \
	awk -v t="$(cut -d' ' -f1 "$TMP/junk")" 'BEGIN { exit !(t + 0 == t && t < 2) }'
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 70000 /dev/zero | tr '\0' a)" "$URL/run/t/echo")
check "a 70 KB head: refused with a 4xx ($code)" test "${code:0:1}" = 4
expect_eq "an app that is not deployed: 404 (handed over)" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/run/nope/x")"
expect_eq "PUT: 405 (handed over)" "405" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$URL/run/t/echo")"
expect_eq "a NUL in the query: 400 (handed over)" "400" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/run/t/echo?a=%00")"
relayed=$(metric berth_gateway_relayed_total)
check "the relay served the warm calls ($((relayed - relayed0)) of them)" test $((relayed - relayed0)) -ge 15
check "and handed the rest over ($(metric berth_gateway_handed_over_total))" test "$(metric berth_gateway_handed_over_total)" -ge 5

# --- failures
code=$(curl -s -o "$TMP/b" -w '%{http_code} %{size_download}' "$URL/run/t/short")
check "an answer cut short by the runner reaches the client cut short ($code)" test "${code% *}" = 200 -a "${code#* }" -lt 100
wait_ready
t0=$(date +%s%N)
code=$(curl -s -o "$TMP/b" -w '%{http_code}' "$URL/run/t/slow?s=6")
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "request_timeout (3 s): 504" "504" "$code"
check "... after about 3 s ($ms ms)" test "$ms" -ge 2900 -a "$ms" -lt 5500
check "... saying why" grep -q 'request_timeout' "$TMP/b"
wait_ready && ok "the timed-out runner is replaced by a ready one" || not_ok "a ready runner after the timeout"
code=$(curl -s -o "$TMP/b" -w '%{http_code}' "$URL/run/t/die")
expect_eq "a runner that drops the connection: 503" "503" "$code"
check "... saying the app did not answer" grep -q 'did not answer' "$TMP/b"
wait_ready && ok "and is replaced" || not_ok "a ready runner after the drop"

# A caller that leaves mid-call gives its slot back: 4 more calls that
# leave, then 4 parallel calls that must each get a slot at once.
pids=()
for i in 1 2 3 4; do curl -s -o /dev/null --max-time 0.3 "$URL/run/t/slow?s=1.5" & pids+=($!); done
wait "${pids[@]}"
pids=()
for i in 1 2 3 4; do
	curl -s -o "$TMP/p$i" -w '%{http_code}\n' --max-time 10 "$URL/run/t/slow?s=0.5" >"$TMP/c$i" &
	pids+=($!)
done
wait "${pids[@]}"
expect_eq "slots come back when callers leave: 4 parallel calls answered" "200 200 200 200" "$(cat "$TMP"/c? | xargs)"
# (A call the thread-per-connection server answered gives its slot back
# just after its last byte: a moment to see it.)
for i in $(seq 1 40); do
	"$B" runners list t --json >"$TMP/runners"
	[ "$(jq '[.runners[].inflight] | add' "$TMP/runners")" = 0 ] && break
	sleep 0.05
done
expect_eq "no slot held after" "$(jq '[.runners[].inflight] | add' "$TMP/runners")" "0"
jq -e '[.runners[].inflight] | add == 0' "$TMP/runners" >/dev/null || jq -c '.runners[]' "$TMP/runners" | diag

# Stopping the server lets a call in flight finish.
curl -s -o "$TMP/b" -w '%{http_code}' --max-time 10 "$URL/run/t/slow?s=1" >"$TMP/last" &
cpid=$!
sleep 0.4
kill -TERM "$SRV_PID"
wait "$cpid"
expect_eq "SIGTERM with a call in flight: the call is answered" "200" "$(cat "$TMP/last")"
wait "$SRV_PID"
expect_eq "and the server exits 0" "0" "$?"
SRV_PID=
check "nothing listens on the port any more" python3 -c "
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $PORT))
s.listen()"

# Out of descriptors (a server limited to 64): connections past what it can
# take wait in the backlog, the server neither spins nor dies, and answers
# again once they go.
(
	ulimit -n 64
	exec "$B" serve --listen "127.0.0.1:$PORT" --home "$TMP/home2" >"$TMP/serve2.log" 2>&1
) &
SRV_PID=$!
for i in $(seq 1 100); do curl -sf "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
python3 - "$PORT" >"$TMP/emfile" 2>&1 <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(120)]
time.sleep(0.5)
answered = 0
for s in socks[:10]:
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answered += s.recv(100).startswith(b"HTTP/1.1 200")
for s in socks:
    s.close()
print(answered)
EOF
expect_eq "120 connections to a server with 64 descriptors: the first ones answered" "$(cat "$TMP/emfile")" "10"
check "... it paused accepting rather than spin" grep -q 'pausing new connections' "$TMP/serve2.log"
check "... and answers once they are gone" curl -sf --max-time 5 "$URL/healthz"
kill -TERM "$SRV_PID"
wait "$SRV_PID"
expect_eq "... and stops cleanly" "$?" "0"
SRV_PID=

done_testing
