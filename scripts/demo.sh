#!/bin/bash
# `make demo`: a real app end to end on this machine, as root, with nothing
# from a container registry.
#
#  1. berth doctor: the machine has what berth needs;
#  2. the base image debian:bookworm-slim, made from the Debian mirror by
#     `berth base create` (debootstrap), once: it stays in the state
#     directory, so the next `make demo` skips this step;
#  3. berth lint of examples/text-to-image (a Python SDK app whose Dockerfile
#     installs python3 and python3-pil from Debian);
#  4. berth serve on 127.0.0.1 (a free port), berth deploy of the app (the
#     server builds the image);
#  5. a sync call (POST /run/text-to-image), a queued one (submit, poll the
#     status, get the result) and a streamed one (Server-Sent Events); each
#     PNG is downloaded from the server's file store and checked;
#  6. berth runners list; then the app is deleted and the server stopped.
#
# Usage: scripts/demo.sh [BERTH]   (make demo runs it with build/berth)
# Environment:
#   DEMO_DIR   where the PNGs, answers and logs go (default build/demo)
#   DEMO_HOME  the state directory, BERTH_HOME (default $DEMO_DIR/home); it is
#              kept between runs: the base image, the build cache and the
#              file store. `rm -rf build/demo` starts from nothing.
#   DEMO_MIRROR  a Debian mirror for the base image (default: the one apt uses)
# Exits non-zero, saying what failed, if any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BERTH=${1:-build/berth}
case $BERTH in /*) ;; *) BERTH=$ROOT/$BERTH ;; esac
DEMO_DIR=${DEMO_DIR:-build/demo}
case $DEMO_DIR in /*) ;; *) DEMO_DIR=$ROOT/$DEMO_DIR ;; esac
export BERTH_HOME=${DEMO_HOME:-$DEMO_DIR/home}
case $BERTH_HOME in /*) ;; *) BERTH_HOME=$ROOT/$BERTH_HOME ;; esac
# Never a registry: every image is made here.
export BERTH_PULL=never
unset BERTH_KEY

APP_FILE=examples/text-to-image/app.py
APP=$APP_FILE::TextToImage
NAME=text-to-image
BASE=debian:bookworm-slim

T0=$(date +%s.%N)
STEP_T=$T0
bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
step() {
	printf '\n'
	bold "== $* "
	STEP_T=$(date +%s.%N)
}
done_in() { echo "   ... done in $(since "$STEP_T") s"; }
die() {
	echo >&2
	echo "demo: FAILED: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "make demo needs root (debootstrap and containers); run it as root"
[ -x "$BERTH" ] || die "no berth binary at $BERTH (run make first)"
for t in curl jq python3 debootstrap; do
	command -v "$t" >/dev/null || die "'$t' is not installed (make deps)"
done

SRV_PID=
PORT=
cleanup() {
	local rc=$?
	if [ -n "$SRV_PID" ]; then
		if [ $rc -ne 0 ]; then
			echo "--- the last lines of the server's log ($DEMO_DIR/serve.log):" >&2
			tail -n 25 "$DEMO_DIR/serve.log" >&2 || true
		fi
		# Delete the app (its runners stop), then stop the server by its PID:
		# SIGTERM drains, SIGKILL after 30 s.
		"$BERTH" apps delete "$NAME" >/dev/null 2>&1 || true
		kill -TERM "$SRV_PID" 2>/dev/null || true
		for _ in $(seq 300); do
			kill -0 "$SRV_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SRV_PID" 2>/dev/null || true
		wait "$SRV_PID" 2>/dev/null || true
		SRV_PID=
	fi
	if [ $rc -ne 0 ]; then
		echo "demo: state kept in $BERTH_HOME; rm -rf '$DEMO_DIR' starts from nothing" >&2
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$DEMO_DIR" "$BERTH_HOME"
rm -f "${DEMO_DIR:?}"/*.png "${DEMO_DIR:?}"/*.json "${DEMO_DIR:?}"/*.log "${DEMO_DIR:?}"/stream.sse

step "berth $("$BERTH" version | head -1 | sed 's/^berth //'); state in $BERTH_HOME"
step "berth base create busybox   (from the host's busybox-static: doctor runs a trial container in it)"
if "$BERTH" image inspect busybox:latest >/dev/null 2>&1; then
	echo "   already in the store"
else
	"$BERTH" base create busybox --quiet 2>&1 | sed 's/^/   /' || die "berth base create busybox failed"
fi

step "berth doctor: does this machine have what berth needs?"
"$BERTH" doctor || die "berth doctor found a problem: fix it as it says, then make demo again"

# ---------------------------------------------------------------- base image
step "the base image $BASE"
if "$BERTH" image inspect "$BASE" >/dev/null 2>&1; then
	echo "   already in the store (made by an earlier make demo)"
else
	mirror=()
	[ -n "${DEMO_MIRROR:-}" ] && mirror=(--mirror "$DEMO_MIRROR")
	echo "   not in the store: berth base create $BASE ${mirror[*]} (debootstrap from the Debian mirror, about a minute)"
	"$BERTH" base create "$BASE" "${mirror[@]}" --quiet 2>&1 | sed 's/^/   /' ||
		die "berth base create $BASE failed (is the Debian mirror reachable? berth doctor shows which one; DEMO_MIRROR=URL picks another)"
	"$BERTH" image inspect "$BASE" >/dev/null 2>&1 || die "berth base create did not tag $BASE"
fi
"$BERTH" images
done_in

# ---------------------------------------------------------------- the app
step "the app: $APP_FILE (a Python SDK app) and its Dockerfile"
sed -n '/^class TextToImage/,$p' "$APP_FILE" | sed 's/^/   /'
echo
grep -v '^#' examples/text-to-image/Dockerfile | sed '/^$/d; s/^/   /'

step "berth lint $APP --strict"
"$BERTH" lint "$APP" --strict || die "the app's Dockerfile does not lint clean"
echo "   no findings"

# ---------------------------------------------------------------- the server
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BERTH_SERVER=http://127.0.0.1:$PORT
step "berth serve --listen 127.0.0.1:$PORT   (log: $DEMO_DIR/serve.log)"
"$BERTH" serve --listen "127.0.0.1:$PORT" >"$DEMO_DIR/serve.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 200); do
	curl -sf "$BERTH_SERVER/healthz" >/dev/null 2>&1 && break
	kill -0 "$SRV_PID" 2>/dev/null || die "berth serve exited (see $DEMO_DIR/serve.log)"
	sleep 0.05
done
curl -sf "$BERTH_SERVER/healthz" >/dev/null || die "berth serve does not answer on $BERTH_SERVER/healthz"
echo "   pid $SRV_PID, answering on $BERTH_SERVER"
# Nothing left over from an earlier run that was killed.
"$BERTH" apps delete "$NAME" >/dev/null 2>&1 || true

step "berth deploy $APP   (the server builds the image: apt-get install from the Debian mirror the first time)"
# The build's steps and berth's lines; the RUN's own output (apt) is in the log.
"$BERTH" deploy "$APP" 2>&1 | tee "$DEMO_DIR/deploy.log" | awk '
	function flush() { if (n) printf "   ... %d lines of output (%s)\n", n, file; n = 0 }
	/^(berth:|\[|image |deployed |  (sync|queue):|  CACHED)/ { flush(); print "   " $0; next }
	{ n++ }
	END { flush() }' file="$DEMO_DIR/deploy.log" ||
	die "berth deploy failed (see $DEMO_DIR/deploy.log)"
"$BERTH" apps list
done_in

# check_png FILE WIDTH HEIGHT: a PNG signature, an IHDR of that size, and
# the IEND chunk at the end.
check_png() {
	python3 - "$@" <<'EOF' || die "$1 is not the PNG it should be"
import struct, sys
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = open(path, "rb").read()
assert len(data) > 0, "empty"
assert data[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
assert data[12:16] == b"IHDR", "no IHDR chunk first"
got = struct.unpack(">II", data[16:24])
assert got == (w, h), "size %dx%d, asked for %dx%d" % (got + (w, h))
assert data[-12:-8] == b"\0\0\0\0" and data[-8:-4] == b"IEND", "truncated (no IEND at the end)"
print("   %s: a %dx%d PNG, %d bytes" % (path, w, h, len(data)))
EOF
}

# fetch_image ANSWER.json OUT.png W H: download the image an answer names
# from the file store and check it.
fetch_image() {
	local answer=$1 out=$2 url size
	url=$(jq -r '.image.url // empty' "$answer")
	size=$(jq -r '.image.file_size // empty' "$answer")
	case $url in
	"$BERTH_SERVER"/files/sha256:*) ;;
	data:*) die "the app answered a data: URL, not one of the file store (the runner did not reach the server)" ;;
	*) die "no image URL of the file store in $answer: $(head -c 300 "$answer")" ;;
	esac
	echo "   GET $url"
	curl -sf -o "$out" "$url" || die "downloading $url failed"
	[ "$(stat -c %s "$out")" = "$size" ] || die "$out has $(stat -c %s "$out") bytes, the answer said $size"
	check_png "$out" "$3" "$4"
}

# ---------------------------------------------------------------- sync
PROMPT='a red fox under a gold moon, in the snow'
step "a sync call: POST $BERTH_SERVER/run/$NAME   (the first call starts a runner: a cold start)"
body=$(jq -cn --arg p "$PROMPT" '{prompt: $p, width: 640, height: 400, seed: 7}')
echo "   $body"
code=$(curl -s -o "$DEMO_DIR/sync.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-d "$body" "$BERTH_SERVER/run/$NAME") || die "the sync call failed"
[ "$code" = 200 ] || die "the sync call answered HTTP $code: $(head -c 500 "$DEMO_DIR/sync.json")"
jq . "$DEMO_DIR/sync.json" | sed 's/^/   /'
fetch_image "$DEMO_DIR/sync.json" "$DEMO_DIR/out.png" 640 400
done_in

# ---------------------------------------------------------------- queue
QPROMPT='a blue whale and a teal lighthouse at dusk'
step "through the queue: POST $BERTH_SERVER/queue/$NAME, poll the status, GET the result"
body=$(jq -cn --arg p "$QPROMPT" '{prompt: $p, width: 512, height: 512, seed: 42}')
echo "   $body"
code=$(curl -s -o "$DEMO_DIR/submit.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-d "$body" "$BERTH_SERVER/queue/$NAME") || die "the submit failed"
[ "$code" = 202 ] || die "the submit answered HTTP $code: $(head -c 500 "$DEMO_DIR/submit.json")"
rid=$(jq -r .request_id "$DEMO_DIR/submit.json")
status_url=$(jq -r .status_url "$DEMO_DIR/submit.json")
response_url=$(jq -r .response_url "$DEMO_DIR/submit.json")
echo "   request $rid; status at $status_url"
last=
for _ in $(seq 1200); do
	curl -sf -o "$DEMO_DIR/status.json" "$status_url" || die "GET $status_url failed"
	st=$(jq -r '.status + (if .queue_position != null then " (position \(.queue_position))" else "" end)' "$DEMO_DIR/status.json")
	[ "$st" != "$last" ] && echo "   status: $st"
	last=$st
	[ "$(jq -r .status "$DEMO_DIR/status.json")" = COMPLETED ] && break
	sleep 0.1
done
[ "$(jq -r .status "$DEMO_DIR/status.json")" = COMPLETED ] || die "the queued request did not complete in 2 minutes"
jq -c '{response_status, metrics}' "$DEMO_DIR/status.json" | sed 's/^/   /'
[ "$(jq -r .response_status "$DEMO_DIR/status.json")" = 200 ] || die "the queued request ended with HTTP $(jq -r .response_status "$DEMO_DIR/status.json")"
curl -sf -o "$DEMO_DIR/queue.json" "$response_url" || die "GET $response_url failed"
jq . "$DEMO_DIR/queue.json" | sed 's/^/   /'
fetch_image "$DEMO_DIR/queue.json" "$DEMO_DIR/queue.png" 512 512
done_in

# ---------------------------------------------------------------- stream
step "a streamed call: POST $BERTH_SERVER/run/$NAME/stream   (one Server-Sent Event per stage drawn)"
curl -sfN -X POST -H 'Content-Type: application/json' \
	-d "$(jq -cn --arg p "$PROMPT" '{prompt: $p, width: 640, height: 400, seed: 7}')" \
	"$BERTH_SERVER/run/$NAME/stream" >"$DEMO_DIR/stream.sse" || die "the streamed call failed"
sed -n 's/^data: //p' "$DEMO_DIR/stream.sse" >"$DEMO_DIR/stream.json"
jq -r '"   \(.done)/\(.total) \(.stage)"' "$DEMO_DIR/stream.json"
tail -n 1 "$DEMO_DIR/stream.json" >"$DEMO_DIR/stream-last.json"
jq -e '.done == .total and .image.url' "$DEMO_DIR/stream-last.json" >/dev/null ||
	die "the stream's last event has no image: $(tail -c 300 "$DEMO_DIR/stream.sse")"
# The same prompt and seed as the sync call: the same picture, so the file
# store (content addressed) gives the same digest.
[ "$(jq -r .image.url "$DEMO_DIR/stream-last.json" | grep -o 'sha256:[0-9a-f]*')" = \
	"$(jq -r .image.url "$DEMO_DIR/sync.json" | grep -o 'sha256:[0-9a-f]*')" ] ||
	die "the streamed picture differs from the sync call's (same prompt and seed)"
echo "   the last event's image is the sync call's, byte for byte (same prompt, same seed)"
done_in

# ---------------------------------------------------------------- runners
step "berth runners list"
"$BERTH" runners list

step "clean up: berth apps delete $NAME, stop the server (pid $SRV_PID)"
"$BERTH" apps delete "$NAME"
kill -TERM "$SRV_PID"
wait "$SRV_PID" || die "berth serve exited with status $? on SIGTERM"
SRV_PID=
echo "   stopped"

echo
bold "demo: ok in $(since "$T0") s. The pictures:"
echo "   $DEMO_DIR/out.png     (sync:  \"$PROMPT\", seed 7)"
echo "   $DEMO_DIR/queue.png   (queue: \"$QPROMPT\", seed 42)"
echo "   answers and logs in $DEMO_DIR; state in $BERTH_HOME (kept: the next make demo reuses the base image and the build cache)"
