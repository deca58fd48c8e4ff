#!/bin/bash
# The slow tier (make check-slow, not make check): `make demo`'s script end to
# end in a fresh state directory, as on a new machine (debian:bookworm-slim
# made with debootstrap from the Debian mirror, examples/text-to-image built
# by the server from it with python3-pil, called sync, through the queue and
# streamed), then again in the same state directory (the base image and the
# build cache reused), then the app itself through a server on that state
# (input checks, pictures that follow the prompt and the seed), and a demo
# that must fail (an unreachable mirror). Needs root, debootstrap and the
# Debian mirror; SKIPs with the reason otherwise.
. "$(dirname "$0")/../e2e/lib.bash"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP the demo needs root"; exit 0; }
for t in curl jq python3 debootstrap; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed (make deps)"; exit 0; }
done
MIRROR=$("$BERTH" base create debian:bookworm-slim --dry-run 2>/dev/null | sed -n 's/^mirror: \([^ ]*\) .*/\1/p')
curl -sf -o /dev/null --max-time 20 "$MIRROR/dists/bookworm/InRelease" ||
	{ echo "1..0 # SKIP the Debian mirror $MIRROR is not reachable"; exit 0; }

D=$TMP/demo
SRV_PID=
cleanup() {
	[ -n "$SRV_PID" ] && kill -9 "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
	BERTH_HOME=$D/home "$BERTH" container ls -a -q 2>/dev/null |
		while read -r id; do BERTH_HOME=$D/home "$BERTH" container rm -f "$id"; done
	rm -rf "${TMP:?}"
}
trap cleanup EXIT

# png_size FILE: "WxH" when FILE is a whole PNG (signature, IHDR, IEND).
png_size() {
	python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
ok = d[:8] == b"\x89PNG\r\n\x1a\n" and d[12:16] == b"IHDR" and d[-8:-4] == b"IEND"
print("%dx%d" % struct.unpack(">II", d[16:24]) if ok else "not a PNG")
EOF
}
sha() { sha256sum "$1" | cut -c1-64; }
# png_mean FILE: the mean red, green and blue of an 8-bit RGB PNG (decoded
# here: the host has no Pillow).
png_mean() {
	python3 - "$1" <<'EOF'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
pos, idat = 8, b""
while pos < len(d):
    n, kind = struct.unpack(">I4s", d[pos:pos + 8])
    body = d[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, colour = struct.unpack(">IIBB", body[:10])
        assert (depth, colour) == (8, 2), "not 8-bit RGB"
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride, prev, sums = zlib.decompress(idat), 3 * w, bytearray(3 * w), [0, 0, 0]
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - 3] if i >= 3 else 0
        b, c = prev[i], prev[i - 3] if i >= 3 else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for i in range(stride):
        sums[i % 3] += line[i]
    prev = line
print(" ".join(str(s // (w * h)) for s in sums))
EOF
}

# leftovers: processes whose BERTH_HOME is the demo's (a server or runner left behind).
leftovers() {
	local p n=0
	for p in /proc/[0-9]*; do
		{ tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "BERTH_HOME=$D/home" && n=$((n + 1))
	done
	echo "$n"
}

# ------------------------------------------------- 1. a fresh state directory
start=$(date +%s.%N)
DEMO_DIR=$D bash "$ROOT/scripts/demo.sh" "$BERTH" >"$TMP/run1.log" 2>&1
RC=$?
t1=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
expect_eq "make demo's script succeeds from nothing (${t1} s)" "$RC" 0
[ "$RC" -eq 0 ] || tail -n 40 "$TMP/run1.log" | diag
check "it made the base image with debootstrap" grep -q "not in the store: berth base create debian:bookworm-slim" "$TMP/run1.log"
check "  tagged debian:bookworm-slim" grep -q "base: tagged docker.io/library/debian:bookworm-slim" "$TMP/run1.log"
check "berth doctor ran, without a failure" grep -qE "^berth doctor: [0-9]+ ok, [0-9]+ warnings?, 0 failures" "$TMP/run1.log"
check "the app linted clean" grep -q "^   no findings" "$TMP/run1.log"
check "the server built python3-pil into the image" grep -q "Setting up python3-pil:amd64 (9.4.0" "$D/deploy.log"
check "the deploy made revision 1" grep -q "deployed text-to-image revision 1" "$D/deploy.log"
expect_eq "the sync call's PNG is saved at 640x400" "$(png_size "$D/out.png")" 640x400
expect_eq "the queue's PNG at 512x512" "$(png_size "$D/queue.png")" 512x512
check "the sync answer's URL is the file store's, named by the PNG's digest" \
	grep -q "/files/sha256:$(sha "$D/out.png")/text-to-image-640x400-seed7.png\"" "$D/sync.json"
expect_eq "and says its size" "$(jq .image.file_size "$D/sync.json")" "$(stat -c %s "$D/out.png")"
check "the queue's URL is named by its PNG's digest" grep -q "sha256:$(sha "$D/queue.png")" "$D/queue.json"
check "two prompts, two pictures" test "$(sha "$D/out.png")" != "$(sha "$D/queue.png")"
check "the queued request went through the status states to COMPLETED" grep -q "^   status: COMPLETED" "$TMP/run1.log"
check "the stream sent one event per stage, the last with the image" \
	jq -se 'length >= 3 and .[0].stage == "background" and .[-1].stage == "caption" and (.[-1].image.url | test("/files/sha256:"))' "$D/stream.json"
check "runners list showed the app's runner" grep -qE "^[0-9a-f]{16} +text-to-image +" "$TMP/run1.log"
check "it says where the pictures are" grep -q "^   $D/out.png " "$TMP/run1.log"
expect_eq "nothing of the demo is left running" "$(leftovers)" 0
expect_eq "no container is left" "$(BERTH_HOME=$D/home "$BERTH" container ls -a -q | wc -l)" 0
cp "$D/out.png" "$TMP/out1.png"

# ------------------------------------------------- 2. again: the caches
start=$(date +%s.%N)
DEMO_DIR=$D bash "$ROOT/scripts/demo.sh" "$BERTH" >"$TMP/run2.log" 2>&1
RC=$?
t2=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
expect_eq "a second run succeeds (${t2} s)" "$RC" 0
[ "$RC" -eq 0 ] || tail -n 40 "$TMP/run2.log" | diag
check "the base image is reused" grep -q "already in the store (made by an earlier make demo)" "$TMP/run2.log"
check "  without debootstrap" sh -c "! grep -q 'base: debootstrap' '$TMP/run2.log'"
check "the image build comes from the cache" grep -q "^  CACHED" "$D/deploy.log"
check "  without apt" sh -c "! grep -q 'Setting up' '$D/deploy.log'"
check "the second run is faster than the first" awk -v a="$t2" -v b="$t1" 'BEGIN { exit !(a < b) }'
expect_eq "the same prompt and seed give the same PNG in another run and runner" "$(sha "$D/out.png")" "$(sha "$TMP/out1.png")"
expect_eq "nothing is left running" "$(leftovers)" 0

# ------------------------------------------------- 3. the app on that state
export BERTH_HOME=$D/home
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export BERTH_SERVER=http://127.0.0.1:$PORT
"$BERTH" serve --listen "127.0.0.1:$PORT" >"$TMP/serve.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 200); do curl -sf "$BERTH_SERVER/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
"$BERTH" deploy "$ROOT/examples/text-to-image/app.py::TextToImage" >/dev/null 2>"$TMP/deploy.err"
expect_eq "the example deploys again (cached)" "$?" 0
# gen BODY NAME: POST BODY to /run/text-to-image, the PNG it names to $TMP/NAME.png; prints the status.
gen() {
	local code
	code=$(curl -s -o "$TMP/$2.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-d "$1" "$BERTH_SERVER/run/text-to-image")
	[ "$code" = 200 ] && curl -sf -o "$TMP/$2.png" "$(jq -r .image.url "$TMP/$2.json")"
	echo "$code"
}
expect_eq "a prompt alone: 200 (width, height and seed have defaults)" "$(gen '{"prompt": "a green hill"}' p1)" 200
expect_eq "  a 512x512 PNG" "$(png_size "$TMP/p1.png")" 512x512
expect_eq "  seed 0" "$(jq .seed "$TMP/p1.json")" 0
gen '{"prompt": "a green hill", "seed": 0}' p1b >/dev/null
expect_eq "the same input twice: the same bytes" "$(sha "$TMP/p1b.png")" "$(sha "$TMP/p1.png")"
gen '{"prompt": "a green hill", "seed": 1}' p2 >/dev/null
check "another seed: another picture" test "$(sha "$TMP/p2.png")" != "$(sha "$TMP/p1.png")"
gen '{"prompt": "a green hilt"}' p3 >/dev/null
check "one letter of the prompt changed: another picture" test "$(sha "$TMP/p3.png")" != "$(sha "$TMP/p1.png")"
expect_eq "a prompt beyond Latin-1 draws too" "$(gen '{"prompt": "日本の富士山 and a white crane", "width": 300, "height": 200}' p4)" 200
expect_eq "  at the size asked" "$(png_size "$TMP/p4.png")" 300x200
expect_eq "an empty prompt: 422" "$(gen '{"prompt": ""}' bad1)" 422
check "  naming the field" jq -e '.detail[0].loc == ["body", "prompt"]' "$TMP/bad1.json"
expect_eq "no prompt: 422" "$(gen '{"width": 100}' bad2)" 422
expect_eq "a width past 2048: 422" "$(gen '{"prompt": "x", "width": 4096}' bad3)" 422
expect_eq "a seed that is not a number: 422" "$(gen '{"prompt": "x", "seed": "abc"}' bad4)" 422
# The colours a prompt names are in the picture: "red" and "blue" differ
# only by the colour of the gradient's top, of their shape (and maybe the
# glow), so the first is redder and the second bluer.
gen '{"prompt": "red", "width": 128, "height": 128}' red >/dev/null
gen '{"prompt": "blue", "width": 128, "height": 128}' blue >/dev/null
read -r r1 _ b1 < <(png_mean "$TMP/red.png")
read -r r2 _ b2 < <(png_mean "$TMP/blue.png")
check "a prompt naming red draws a redder picture than one naming blue ($r1 > $r2)" test "${r1:-0}" -gt "${r2:-0}"
check "  and the one naming blue a bluer one ($b2 > $b1)" test "${b2:-0}" -gt "${b1:-0}"
curl -sf "$BERTH_SERVER/run/text-to-image/openapi.json" -o "$TMP/openapi.json"
check "its OpenAPI has the input's fields" \
	jq -e '.components.schemas.Input.properties | has("prompt") and has("width") and has("height") and has("seed")' "$TMP/openapi.json"
"$BERTH" apps delete text-to-image >/dev/null
kill -TERM "$SRV_PID"
wait "$SRV_PID"
expect_eq "the server stops on SIGTERM" "$?" 0
SRV_PID=
unset BERTH_HOME BERTH_SERVER

# ------------------------------------------------- 4. a demo that must fail
DEMO_DIR=$TMP/fail DEMO_MIRROR=http://127.0.0.1:9/debian timeout 300 bash "$ROOT/scripts/demo.sh" "$BERTH" \
	>"$TMP/fail.log" 2>&1
RC=$?
expect_eq "an unreachable mirror: the demo exits 1" "$RC" 1
check "  saying what failed" grep -q "demo: FAILED: berth base create debian:bookworm-slim failed" "$TMP/fail.log"
DEMO_DIR=$TMP/fail2 bash "$ROOT/scripts/demo.sh" "$TMP/no-such-berth" >"$TMP/fail2.log" 2>&1
expect_eq "no berth binary: exit 1" "$?" 1
check "  saying so" grep -q "no berth binary at $TMP/no-such-berth" "$TMP/fail2.log"

done_testing
