# The `berth serve` side of the platform's e2e scripts (serve_cli.sh,
# serve_stores.sh, serve_relay.sh), sourced after lib.bash: a free port on
# 127.0.0.1 in $PORT, $BERTH_SERVER and $URL for it, start_server (which
# waits for /healthz) and serve_cleanup for the EXIT trap (the server
# killed by its PID, the runners removed, $TMP gone).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
export BERTH_SERVER=http://127.0.0.1:$PORT
URL=$BERTH_SERVER
SRV_PID=

start_server() {
	"$BERTH" serve --listen "127.0.0.1:$PORT" >>"$TMP/serve.log" 2>&1 &
	SRV_PID=$!
	local i
	for i in $(seq 1 200); do
		curl -sf "$URL/healthz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

serve_cleanup() {
	if [ -n "$SRV_PID" ]; then kill -9 "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; fi
	"$BERTH" container ls -a -q 2>/dev/null | while read -r id; do "$BERTH" container rm -f "$id"; done
	rm -rf "$TMP"
}
