#!/bin/bash
# `make demo`: what berth can do today, end to end and offline: read an
# example app's Dockerfile (BuildKit's dump, the typed model, the stages a
# target needs, a parse error), then build a small site from a busybox base
# made here, run it as a container serving HTTP on 127.0.0.1, call it, and
# rebuild from the cache. State goes to a temporary BERTH_HOME, removed at
# the end. Later issues replace the site with a Python app on the platform.
set -euo pipefail
BERTH=${1:-build/berth}
DF=examples/hello/Dockerfile
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "berth version"
"$BERTH" version

say "the example Dockerfile ($DF)"
cat "$DF"

say "berth dockerfile parse -f $DF   (BuildKit's AST dump)"
"$BERTH" dockerfile parse -f "$DF"

say "the stages the final image needs, in build order"
"$BERTH" dockerfile parse -f "$DF" --json | jq -r '.build_order[] as $i | .stages[$i] | "\(.index) \(.name // "-") FROM \(.base)"'

say "the typed model with --build-arg PYTHON=3.12 --build-arg VERSION=1.0 (excerpt)"
"$BERTH" dockerfile parse -f "$DF" --json --build-arg PYTHON=3.12 --build-arg VERSION=1.0 |
	jq '{bases: [.stages[].base],
	     run_mounts: [.stages[].instructions[] | select(.instruction == "RUN") | .mounts[]],
	     label: [.stages[].instructions[] | select(.instruction == "LABEL") | .pairs[]],
	     copy_from: [.stages[].instructions[] | select(.from != null) | {from, sources, dest}],
	     healthcheck: [.stages[].instructions[] | select(.instruction == "HEALTHCHECK") | {test, interval_ns}]}'

say "a broken Dockerfile: berth names the file, the line and the problem"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'FROM busybox\nRUN --mount=type=secret,id=tok,sharing=locked cat /run/secrets/tok\n' >"$tmp/Dockerfile"
"$BERTH" dockerfile parse -f "$tmp/Dockerfile" --json 2>&1 || echo "(exit status $?)"

# --- a real build and a running container (root: containers need it) ---
if [ "$(id -u)" != 0 ]; then
	say "building and running an app needs root; run 'make demo' as root for that part"
	exit 0
fi
export BERTH_HOME=$tmp/home BERTH_PULL=never
cid=""
trap '[ -n "$cid" ] && "$BERTH" container rm -f "$cid" >/dev/null 2>&1; rm -rf "$tmp"' EXIT

say "a base image from Debian's busybox-static, made with umoci and loaded into berth"
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc"
cp "$(command -v busybox)" "$tmp/rootfs/bin/"
for a in sh httpd ls wc echo cat wget; do ln -s busybox "$tmp/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$tmp/rootfs/etc/passwd"
(cd "$tmp" && umoci init --layout oci && umoci new --image oci:bb &&
	umoci insert --image oci:bb rootfs / &&
	umoci config --image oci:bb --config.cmd=/bin/sh --config.env=PATH=/bin \
		--architecture=amd64 --os=linux) >/dev/null
"$BERTH" image load "$tmp/oci" -t demo/busybox:1

say "berth build -f examples/static-site/Dockerfile -t demo/site:1"
cat examples/static-site/Dockerfile
"$BERTH" build -f examples/static-site/Dockerfile -t demo/site:1

port=$((20000 + RANDOM % 20000))
say "berth container run -d -e PORT=$port demo/site:1   (httpd on 127.0.0.1:$port)"
cid=$("$BERTH" container run -d --name demo-site -e PORT=$port demo/site:1)
"$BERTH" container ls
for _ in $(seq 50); do
	"$BERTH" container run --rm demo/busybox:1 wget -q -O /dev/null "http://127.0.0.1:$port/" \
		2>/dev/null && break
	sleep 0.1
done
say "GET http://127.0.0.1:$port/ and /build.txt (from another container, on the host network)"
"$BERTH" container run --rm demo/busybox:1 wget -q -O - "http://127.0.0.1:$port/"
"$BERTH" container run --rm demo/busybox:1 wget -q -O - "http://127.0.0.1:$port/build.txt"

say "berth container stop demo-site; its logs"
"$BERTH" container stop -t 2 demo-site >/dev/null
"$BERTH" container logs demo-site || true
"$BERTH" container rm demo-site >/dev/null
cid=""

say "the same build again: every step from the cache"
"$BERTH" build -f examples/static-site/Dockerfile -t demo/site:2

