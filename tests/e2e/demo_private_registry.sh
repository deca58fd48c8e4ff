#!/bin/bash
# examples/private-registry: its run.sh end to end (a registry with htpasswd
# on 127.0.0.1, the base pushed there, the password and a build token in the
# secret store, berth serve + deploy, the call, no secret left in the clear,
# everything stopped), then the example's files with berth run against a
# registry of the test's own: a wrong password, a missing secret and
# BERTH_PULL=never fail saying why; the right ones build and serve the
# token's hash; and the leak check this example relies on finds a token that
# a Dockerfile does write into a layer. No Debian mirror, no public registry.
. "$(dirname "$0")/lib.bash"
export REG_USER=demo # the user examples/private-registry/berth.yaml names
. "$(dirname "$0")/registry.bash"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EX=$ROOT/examples/private-registry
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP runners need root"; exit 0; }
for t in docker-registry htpasswd busybox jq curl python3; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed (make deps)"; exit 0; }
done
command -v crun >/dev/null || command -v runc >/dev/null ||
	{ echo "1..0 # SKIP no OCI runtime (crun or runc) is installed"; exit 0; }

B=$BERTH
RUN_PID='' KEPT=''
cleanup() {
	[ -n "$RUN_PID" ] && kill -9 "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
	[ -n "${BERTH_HOME:-}" ] && "$B" container ls -a -q 2>/dev/null | while read -r id; do "$B" container rm -f "$id"; done
	[ -n "$KEPT" ] && rm -rf "${KEPT:?}"
	_reg_cleanup # the registries started here, then $TMP
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

# ------------------------------------------------------------ run.sh
TOKEN=tok-e2e-$RANDOM$RANDOM
RPORT=$(port)
env -u BERTH_HOME BERTH="$B" REGISTRY_PORT="$RPORT" API_TOKEN="$TOKEN" REG_PASSWORD="pw-$RANDOM" KEEP=1 \
	bash "$EX/run.sh" >"$TMP/run.out" 2>"$TMP/run.err"
RC=$?
KEPT=$(sed -n 's/^private-registry: kept \(.*\) (logs, state)$/\1/p' "$TMP/run.err")
case $KEPT in /tmp/berth-private-registry.*) ;; *) KEPT= ;; esac
expect_eq "examples/private-registry/run.sh succeeds" "$RC" 0
[ "$RC" -eq 0 ] || tail -n 30 "$TMP/run.out" "$TMP/run.err" | diag
check "  ends with ok" grep -qx "private-registry: ok" "$TMP/run.out"
check "  the registry refused an anonymous request" grep -q "GET /v2/ without credentials: 401" "$TMP/run.out"
check "  the base was pushed, then removed from the store" grep -q "removed from the store and logged out" "$TMP/run.out"
check "  the server pulled it from the registry" grep -q "FROM 127.0.0.1:$RPORT/team/busybox:1.35.0" "$KEPT/deploy.log"
check "  and the app answers the hash of the token it was built with" grep -qx "   $(sha "$TOKEN")" "$TMP/run.out"
check "  its own leak check passed" grep -q "not in any file of .*/home, the image's layers" "$TMP/run.out"
check "  the token is in none of its logs" sh -c "! grep -rqF '$TOKEN' '$KEPT'/*.log '$TMP/run.out' '$TMP/run.err'"
check "  it stopped the registry (its port is free)" sh -c "! (exec 3<>/dev/tcp/127.0.0.1/$RPORT) 2>/dev/null"
expect_eq "  and left no container" "$(BERTH_HOME=$KEPT/home "$B" container ls -a -q 2>/dev/null | wc -l)" 0
[ -n "$KEPT" ] && rm -rf "${KEPT:?}" && KEPT=

env -u BERTH_HOME BERTH="$B" REGISTRY_PORT="$RPORT" bash "$EX/run.sh" >"$TMP/run2.out" 2>&1
expect_eq "run.sh again, with random secrets and without KEEP" "$?" 0
check "  removes its temporary directory" sh -c "! grep -q 'kept /tmp' '$TMP/run2.out'"

# ------------------------------------------------ the files, step by step
export BERTH_HOME=$TMP/home
start_registry basic || { not_ok "a registry with htpasswd"; done_testing; exit; }
A=$TMP/app
cp -r "$EX" "$A"
sed -i "s/127\.0\.0\.1:5000/$REG_ADDR/g" "$A/berth.yaml" "$A/Dockerfile"
"$B" base create busybox -t "$REG_ADDR/team/busybox:1.35.0" --quiet >/dev/null 2>&1
printf %s "$REG_PASS" | "$B" login "$REG_ADDR" -u demo --password-stdin >/dev/null 2>&1
"$B" push "$REG_ADDR/team/busybox:1.35.0" >/dev/null 2>&1
expect_eq "the base is pushed to a registry of the test's own" "$?" 0
"$B" logout "$REG_ADDR" >/dev/null 2>&1
"$B" image rm "$REG_ADDR/team/busybox:1.35.0" >/dev/null 2>&1

# start_app: berth run of the app in $A in the background (pulls allowed:
# the base is in the test's registry); 0 once ready, 1 when it ended (its
# stderr in $TMP/run.log).
start_app() {
	PORT=$(port)
	env BERTH_PULL= "$B" run "$A" --port "$PORT" >"$TMP/app.out" 2>"$TMP/run.log" &
	RUN_PID=$!
	for _ in $(seq 1 400); do
		grep -q "is ready in" "$TMP/run.log" && return 0
		kill -0 "$RUN_PID" 2>/dev/null || { wait "$RUN_PID"; RUN_PID=; return 1; }
		sleep 0.05
	done
	return 1
}
stop_app() {
	kill -TERM "$RUN_PID"
	wait "$RUN_PID"
	RUN_PID=
}

printf %s "$TOKEN" | "$B" secrets set API_TOKEN=- >/dev/null
start_app
expect_eq "without the secret REG_PASSWORD, berth run fails" "$?" 1
check "  naming it, with the fix" grep -q "password: secret 'REG_PASSWORD' is not set; set it with: berth secrets set REG_PASSWORD=" "$TMP/run.log"
printf %s "not-the-password" | "$B" secrets set REG_PASSWORD=- >/dev/null
start_app
expect_eq "with a wrong password, it fails" "$?" 1
check "  saying the registry refused the credentials" grep -qiE "unauthorized|401|credentials" "$TMP/run.log"
grep -iE "unauthorized|401|credentials" "$TMP/run.log" | head -2 | diag
check "  and never showing the password" sh -c "! grep -q not-the-password '$TMP/run.log'"

printf %s "$REG_PASS" | "$B" secrets set REG_PASSWORD=- >/dev/null
"$B" secrets unset API_TOKEN >/dev/null
start_app
expect_eq "with the password but without the secret API_TOKEN, it fails" "$?" 1
check "  naming it, with the fix" grep -q "image.secrets.token: secret 'API_TOKEN' is not set; set it with: berth secrets set API_TOKEN=" "$TMP/run.log"

printf %s "$TOKEN" | "$B" secrets set API_TOKEN=- >/dev/null
env BERTH_PULL=never "$B" run "$A" --port "$(port)" >/dev/null 2>"$TMP/never.log"
expect_eq "with BERTH_PULL=never the base cannot be pulled" "$?" 1
check "  and berth says it is not in the store" grep -q "FROM '$REG_ADDR/team/busybox:1.35.0': not in the store" "$TMP/never.log"

if start_app; then ok "with both secrets, berth run builds and serves it"; else
	not_ok "with both secrets, berth run builds and serves it"; diag <"$TMP/run.log"; fi
expect_eq "  GET /token.sha256: the token's SHA-256" \
	"$(curl -s "http://127.0.0.1:$PORT/token.sha256")" "$(sha "$TOKEN")"
check "  GET / is the page" sh -c "curl -s 'http://127.0.0.1:$PORT/' | grep -q 'built FROM a private registry'"
check "  the build's output masks nothing it did not need to: no token" sh -c "! grep -qF '$TOKEN' '$TMP/run.log'"
stop_app
expect_eq "the token is in no file of the state directory" "$(grep -rlaF "$TOKEN" "$BERTH_HOME" | wc -l)" 0
expect_eq "nor the registry's password" "$(grep -rlaF "$REG_PASS" "$BERTH_HOME" | wc -l)" 0

# The same check on a Dockerfile that does leak the token into a layer: the
# check finds it (so it can fail).
L=$TMP/leaky
cp -r "$A" "$L"
sed -i 's/^name: private-registry$/name: leaky/' "$L/berth.yaml"
printf 'RUN --mount=type=secret,id=token cp /run/secrets/token /www/oops\n' >>"$L/Dockerfile"
A=$L
if start_app; then ok "a Dockerfile that copies the token into a layer builds"; else
	not_ok "a Dockerfile that copies the token into a layer builds"; diag <"$TMP/run.log"; fi
stop_app
check "  and the same grep finds the token in the state directory" \
	test "$(grep -rlaF "$TOKEN" "$BERTH_HOME" | wc -l)" -gt 0

done_testing
