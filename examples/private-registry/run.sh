#!/bin/bash
# examples/private-registry end to end, as README.md describes it, on
# 127.0.0.1 only and offline: a private registry (Debian's docker-registry
# with htpasswd), the team's base image pushed there, the registry's password
# and a build token in berth's secret store, then `berth serve` + `berth
# deploy` of the app (the server pulls the base with the app's credentials
# and builds with the token), a call, and checks that neither secret is
# anywhere in the state directory. Everything goes to a temporary directory,
# removed at the end (KEEP=1 keeps it); what was started is stopped by PID.
#
# Needs root (containers), docker-registry and apache2-utils (htpasswd),
# busybox-static, curl and jq: `make deps` installs them.
# Environment:
#   BERTH          the berth binary (default: build/berth of this checkout)
#   REGISTRY_PORT  the registry's port on 127.0.0.1 (default 5000, the one
#                  berth.yaml and the Dockerfile name; another port runs a
#                  copy of the app with that port written in)
#   REG_PASSWORD, API_TOKEN  the two secrets (default: random ones)
# Exits non-zero, saying what failed, if a step fails.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BERTH=${BERTH:-$ROOT/build/berth}
REGISTRY_PORT=${REGISTRY_PORT:-5000}
REG=127.0.0.1:$REGISTRY_PORT
REG_USER=demo
rand() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
REG_PASSWORD=${REG_PASSWORD:-$(rand)}
API_TOKEN=${API_TOKEN:-tok-$(rand)}
NAME=private-registry

say() { printf '\n== %s\n' "$*"; }
die() {
	echo "private-registry: FAILED: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "run it as root (berth's containers need it)"
[ -x "$BERTH" ] || die "no berth binary at $BERTH (run make, or set BERTH)"
for t in docker-registry htpasswd curl jq python3 busybox; do
	command -v "$t" >/dev/null || die "'$t' is not installed (make deps)"
done

WORK=$(mktemp -d /tmp/berth-private-registry.XXXXXX)
# A state directory of its own: the secrets and images stay out of yours.
export BERTH_HOME=$WORK/home
unset BERTH_KEY
REG_PID='' SRV_PID=''
cleanup() {
	local rc=$?
	if [ -n "$SRV_PID" ]; then
		"$BERTH" apps delete "$NAME" >/dev/null 2>&1 || true
		kill -TERM "$SRV_PID" 2>/dev/null || true
		wait "$SRV_PID" 2>/dev/null || true
	fi
	if [ -n "$REG_PID" ]; then
		kill -TERM "$REG_PID" 2>/dev/null || true
		wait "$REG_PID" 2>/dev/null || true
	fi
	"$BERTH" container ls -a -q 2>/dev/null | while read -r id; do
		"$BERTH" container rm -f "$id" >/dev/null 2>&1 || true
	done
	if [ "${KEEP:-}" = 1 ] || [ $rc -ne 0 ]; then
		echo "private-registry: kept $WORK (logs, state)" >&2
	else
		rm -rf "${WORK:?}"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------ 1. registry
say "1. a private registry on $REG: Debian's docker-registry, htpasswd (Basic auth), user $REG_USER"
mkdir -p "$WORK/registry/data"
htpasswd -Bbn "$REG_USER" "$REG_PASSWORD" >"$WORK/registry/htpasswd"
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $WORK/registry/data}
http:
  addr: $REG
  secret: $(rand)
auth:
  htpasswd: {realm: private-registry-example, path: $WORK/registry/htpasswd}
EOF
(exec 3<>"/dev/tcp/127.0.0.1/$REGISTRY_PORT") 2>/dev/null &&
	die "something already listens on $REG: set REGISTRY_PORT to a free port"
# REGISTRY_* variables would override the config file: drop them.
unset_reg=()
for v in $(compgen -e | grep '^REGISTRY_' || true); do unset_reg+=(-u "$v"); done
env "${unset_reg[@]}" docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$REGISTRY_PORT") 2>/dev/null && break
	kill -0 "$REG_PID" 2>/dev/null || die "docker-registry exited: $(tail -3 "$WORK/registry.log")"
	sleep 0.1
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/")
[ "$code" = 401 ] || die "the registry answers /v2/ with $code, not 401"
echo "   pid $REG_PID; GET /v2/ without credentials: 401"

# ------------------------------------------------------------ 2. base image
say "2. the team's base image, pushed to the registry: $REG/team/busybox:1.35.0"
"$BERTH" base create busybox -t "$REG/team/busybox:1.35.0" --quiet 2>&1 | sed 's/^/   /'
printf '%s' "$REG_PASSWORD" | "$BERTH" login "$REG" -u "$REG_USER" --password-stdin | sed 's/^/   /'
"$BERTH" push "$REG/team/busybox:1.35.0" 2>&1 | sed 's/^/   /'
# Forget everything the push used: the build must pull with the app's
# credentials, from the secret store.
"$BERTH" logout "$REG" | sed 's/^/   /'
"$BERTH" image rm "$REG/team/busybox:1.35.0" >/dev/null
"$BERTH" image inspect "$REG/team/busybox:1.35.0" >/dev/null 2>&1 && die "the base is still in the store"
echo "   removed from the store and logged out: only the registry has it now"

# ------------------------------------------------------------ 3. secrets
say "3. the secrets: berth secrets set REG_PASSWORD API_TOKEN (values from standard input)"
printf '%s' "$REG_PASSWORD" | "$BERTH" secrets set REG_PASSWORD=- | sed 's/^/   /'
printf '%s' "$API_TOKEN" | "$BERTH" secrets set API_TOKEN=- | sed 's/^/   /'
"$BERTH" secrets list | sed 's/^/   /'

# ------------------------------------------------------------ 4. the app
APPDIR=$HERE
if [ "$REGISTRY_PORT" != 5000 ]; then
	# berth.yaml and the Dockerfile name 127.0.0.1:5000: a copy with this port.
	APPDIR=$WORK/app
	cp -r "$HERE" "$APPDIR"
	rm -f "$APPDIR/run.sh"
	sed -i "s/127\.0\.0\.1:5000/$REG/g" "$APPDIR/berth.yaml" "$APPDIR/Dockerfile"
fi
say "4. the app ($APPDIR)"
sed -n '/^name:/,$p' "$APPDIR/berth.yaml" | sed 's/^/   /'
grep -v '^#' "$APPDIR/Dockerfile" | sed '/^$/d; s/^/   /'
"$BERTH" lint "$APPDIR" --strict 2>&1 | sed 's/^/   /' || die "berth lint found problems"
echo "   berth lint --strict: no findings"

# ------------------------------------------------------------ 5. deploy
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BERTH_SERVER=http://127.0.0.1:$PORT
say "5. berth serve on 127.0.0.1:$PORT, berth deploy: the server pulls $REG/team/busybox:1.35.0 and builds"
# The server's builds may pull, from this registry only: the one FROM there is.
env -u BERTH_PULL "$BERTH" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 200); do
	curl -sf "$BERTH_SERVER/healthz" >/dev/null 2>&1 && break
	kill -0 "$SRV_PID" 2>/dev/null || die "berth serve exited: $(tail -3 "$WORK/serve.log")"
	sleep 0.05
done
"$BERTH" deploy "$APPDIR" 2>&1 | tee "$WORK/deploy.log" | sed 's/^/   /' ||
	die "berth deploy failed (see $WORK/deploy.log and $WORK/serve.log)"

# ------------------------------------------------------------ 6. call it
say "6. GET $BERTH_SERVER/run/$NAME/token.sha256"
got=$(curl -sf "$BERTH_SERVER/run/$NAME/token.sha256") || die "the call failed"
want=$(printf '%s' "$API_TOKEN" | sha256sum | cut -d' ' -f1)
echo "   $got"
[ "$got" = "$want" ] || die "the image was built with another token (sha256 $got, want $want)"
echo "   the SHA-256 of API_TOKEN: the build had the secret"
curl -sf "$BERTH_SERVER/run/$NAME/" | grep -q "built FROM a private registry" || die "GET / is not the page"
"$BERTH" runners list "$NAME" | sed 's/^/   /'

# ------------------------------------------------------------ 7. no leak
say "7. neither secret is in plain text anywhere in the state directory ($BERTH_HOME)"
# Layers are unpacked there, the database holds the apps and the build
# cache, the secret store only ciphertext; blobs are compressed, so the
# image's layers are also read decompressed.
grep -rlaF -e "$API_TOKEN" -e "$REG_PASSWORD" "$BERTH_HOME" >"$WORK/leaks" 2>/dev/null || true
image=$("$BERTH" apps list --json | jq -r --arg n "$NAME" '.apps[] | select(.name == $n) | .image')
"$BERTH" image save "$image" -o "$WORK/image" >/dev/null
for blob in "$WORK"/image/blobs/sha256/*; do
	zcat -f "$blob" | grep -qaF -e "$API_TOKEN" -e "$REG_PASSWORD" && echo "$blob" >>"$WORK/leaks"
done
[ -s "$WORK/leaks" ] && die "a secret is in plain text: $(cat "$WORK/leaks")"
grep -q -F -e "$API_TOKEN" "$WORK/deploy.log" "$WORK/serve.log" && die "the token is in the build's output"
echo "   not in any file of $BERTH_HOME, the image's layers or config, or the build's output"

say "8. clean up: berth apps delete $NAME, stop the server and the registry"
"$BERTH" apps delete "$NAME" | sed 's/^/   /'
kill -TERM "$SRV_PID"
wait "$SRV_PID" || die "berth serve exited with status $? on SIGTERM"
SRV_PID=
echo
echo "private-registry: ok"
