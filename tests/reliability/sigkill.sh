#!/bin/bash
# SIGKILL at random moments: berth pull (a slowed registry), berth build (at
# random points, and right as a RUN's layer is being committed), and berth
# serve while clients write to the queue, the KV store and the file store.
# After each kill the store stays readable, every blob hashes to its name,
# the database passes its integrity check, the next command completes, and
# everything the server acknowledged before it died is still there.
. "$(dirname "$0")/lib.bash"
need_root
need docker-registry skopeo umoci busybox curl sqlite3 jq
registry_prereqs || { echo "1..0 # SKIP $REG_MISSING"; exit 0; }
command -v crun >/dev/null || command -v runc >/dev/null ||
	{ echo "1..0 # SKIP no OCI runtime (crun or runc) is installed"; exit 0; }
KILLS=${REL_KILLS:-4}
ROUNDS=${REL_ROUNDS:-2}

# sleep_ms N
sleep_ms() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }
# mounts_under DIR: how many mounts are left below DIR.
mounts_under() { awk -v d="$1/" 'index($2, d) == 1' /proc/self/mounts | wc -l; }

# --------------------------------------------------------------- pull
start_registry plain || { not_ok "start a registry"; done_testing; exit; }
PLAIN=$REG_ADDR
export BERTH_HOME=$TMP/src
make_data_image data:1 16 || { not_ok "a test image"; done_testing; exit; }
"$B" push data:1 "$PLAIN/rel/data:1" >/dev/null 2>"$TMP/err" ||
	{ not_ok "push the test image"; diag <"$TMP/err"; done_testing; exit; }
start_proxy slow "$PLAIN" || { not_ok "slow proxy"; done_testing; exit; }

export BERTH_HOME=$TMP/pull
delays=()
for i in $(seq "$KILLS"); do
	d=$((300 + RANDOM % 4000))
	delays+=("$d")
	"$B" pull "$PROXY/rel/data:1" >/dev/null 2>&1 &
	p=$!
	sleep_ms "$d"
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	"$B" images >/dev/null 2>&1 || not_ok "pull killed at ${d} ms: berth images fails"
	[ -z "$(bad_blobs "$BERTH_HOME")" ] || not_ok "pull killed at ${d} ms: a blob does not hash to its name"
done
ok "pull killed $KILLS times (at ${delays[*]} ms): the store stays readable"
store_sound "pull after $KILLS kills" "$BERTH_HOME"
"$B" pull "$PLAIN/rel/data:1" >/dev/null 2>"$TMP/pull.err"
rc=$?
expect_eq "pull: the next pull completes" "$rc" 0
expect_eq "pull: no temp blob is left" "$(ls -A "$BERTH_HOME/blobs/tmp")" ""
expect_eq "pull: no half-unpacked layer is left" "$(find "$BERTH_HOME/layers" -mindepth 1 -maxdepth 1 -name '*-*' | wc -l)" 0
store_sound "pull: after it" "$BERTH_HOME"
row "SIGKILL of berth pull (16 MiB, 3 layers, registry slowed to 200 KiB/s)" \
	"$KILLS kills at ${delays[*]} ms" \
	"store readable and every blob sound after each; the next pull completes (exit $rc), no temp blob or half layer left"

# --------------------------------------------------------------- build
export BERTH_HOME=$TMP/build
make_busybox_image bb:1 || { not_ok "busybox base image"; done_testing; exit; }
C=$TMP/ctx
mkdir -p "$C/files"
for i in $(seq 1500); do echo "file $i" >"$C/files/f$i"; done
head -c $((8 << 20)) /dev/urandom >"$C/files/big"
cat >"$C/Dockerfile" <<'EOF2'
FROM bb:1
RUN head -c 20971520 /dev/urandom > /r1 && echo COMMIT-NEXT-1
COPY files/ /files/
RUN head -c 10485760 /dev/urandom > /r2 && echo COMMIT-NEXT-2
EOF2
build() { "$B" build -f "$C/Dockerfile" --context "$C" -t out:1 "$@"; }
t0=$(now_ms)
build --no-cache >/dev/null 2>"$TMP/b0.err" || { not_ok "the test build"; diag <"$TMP/b0.err"; }
T=$(($(now_ms) - t0))
ok "a 4-step build (two 20/10 MiB RUN layers, a COPY of 1501 files) takes ${T} ms"

# after_build_kill NAME: the store is readable and sound.
after_build_kill() {
	"$B" images >/dev/null 2>"$TMP/images.err" || { not_ok "$1: berth images fails"; diag <"$TMP/images.err"; }
	local bad
	bad=$(bad_blobs "$BERTH_HOME")
	[ -z "$bad" ] || { not_ok "$1: blobs that do not hash to their name: $bad"; }
}
phases=()
for i in $(seq "$KILLS"); do
	d=$((RANDOM % T))
	build --no-cache >/dev/null 2>"$TMP/b.err" &
	p=$!
	sleep_ms "$d"
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	phases+=("$(grep -ao '^\[stage-0 [0-9]/4\]' "$TMP/b.err" | tail -1 | tr -d '[]' | sed 's/stage-0 //')@${d}ms")
	after_build_kill "build killed at ${d} ms"
done
ok "build killed $KILLS times at random (step@delay: ${phases[*]}): the store stays readable"
# Right after the RUN's process ended: its layer is being committed.
commit_kills=()
for d in 0 30 100 250 600; do
	build --no-cache --progress plain >/dev/null 2>"$TMP/c.err" &
	p=$!
	for _ in $(seq 3000); do
		grep -aq COMMIT-NEXT-1 "$TMP/c.err" && break
		kill -0 "$p" 2>/dev/null || break
		sleep 0.01
	done
	sleep_ms "$d"
	step=$(grep -ao '^\[stage-0 [0-9]/4\]' "$TMP/c.err" | tail -1 | tr -d '[]' | sed 's/stage-0 //')
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	commit_kills+=("+${d}ms:step${step}")
	after_build_kill "build killed ${d} ms into the commit of a 20 MiB layer"
done
ok "build killed 5 times as a RUN layer commits (${commit_kills[*]}): the store stays readable"
store_sound "build after $((KILLS + 5)) kills" "$BERTH_HOME"
build >/dev/null 2>"$TMP/b1.err"
rc=$?
expect_eq "build: the next build completes" "$rc" 0
[ "$rc" -eq 0 ] || diag <"$TMP/b1.err"
"$B" container run --rm out:1 sh -c 'test -s /r1 && test -s /r2 && test -f /files/f1500' >/dev/null 2>&1
expect_eq "build: and its image has every layer" "$?" 0
expect_eq "build: no container is left" "$("$B" container ls -a -q | wc -l)" 0
expect_eq "build: nothing is left mounted under the state dir" "$(mounts_under "$BERTH_HOME")" 0
expect_eq "build: no temp blob is left" "$(ls -A "$BERTH_HOME/blobs/tmp")" ""
store_sound "build: after it" "$BERTH_HOME"
left=$(find "$BERTH_HOME/runners" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
expect_eq "build: no runner directory is left" "$left" 0
row "SIGKILL of berth build (4 steps, ${T} ms) at random moments" "$KILLS kills (step@delay: ${phases[*]})" \
	"store readable, blobs sound after each; the next build completes (exit $rc); no container, mount or temp blob left"
row "SIGKILL of berth build just after a RUN's process ended (its 20 MiB layer committing)" \
	"5 kills (${commit_kills[*]})" \
	"store readable, blobs sound after each; the next build completes and the image has every layer"

# --------------------------------------------------------------- serve
export BERTH_HOME=$TMP/serve
make_busybox_image bb:1 || { not_ok "busybox base image"; done_testing; exit; }
A=$TMP/app
mkdir -p "$A"
cat >"$A/berth.yaml" <<'EOF2'
name: web
image:
  dockerfile: |
    FROM bb:1
    RUN mkdir -p /www && echo ok > /www/index.html
run:
  command: exec httpd -f -p 127.0.0.1:$PORT -h /www
  health:
    path: /index.html
scaling: {min_runners: 0, max_runners: 2, keep_alive: 30s}
EOF2
REL_CLEANUP+=("remove_containers '$BERTH_HOME'")
REL_CLEANUP+=("kill -9 \$SRV_PID")
start_serve "$BERTH_HOME" "$TMP/serve.log" || { not_ok "berth serve starts"; diag <"$TMP/serve.log"; done_testing; exit; }
"$B" deploy "$A" >/dev/null 2>"$TMP/deploy.err" || { not_ok "deploy"; diag <"$TMP/deploy.err"; done_testing; exit; }
ok "berth serve with an app deployed"

# client N ROUND: queue calls, KV writes and file uploads, recording what
# the server acknowledged, until the server is gone.
client() {
	local n=$1 round=$2 i code id
	for i in $(seq 200); do
		code=$(curl -s -m 5 -o "$TMP/q.$round.$n" -w '%{http_code}' -X POST -d "{\"n\":$i}" "$URL/queue/web/")
		[ "$code" == 000 ] && break
		if [ "$code" == 202 ]; then
			id=$(sed -n 's/.*"request_id": *"\([^"]*\)".*/\1/p' "$TMP/q.$round.$n")
			[ -n "$id" ] && echo "$id" >>"$TMP/acked-q.$round"
		fi
		code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X PUT --data-binary "v-$round-$n-$i" "$URL/v1/kv/rel/k-$round-$n-$i")
		[ "$code" == 200 ] && echo "k-$round-$n-$i v-$round-$n-$i" >>"$TMP/acked-kv.$round"
		head -c 4096 /dev/urandom >"$TMP/f.$round.$n"
		code=$(curl -s -m 5 -o "$TMP/fr.$round.$n" -w '%{http_code}' --data-binary @"$TMP/f.$round.$n" "$URL/v1/files?name=f-$n-$i")
		[ "$code" == 201 ] || [ "$code" == 200 ] &&
			echo "$(sed -n 's/.*"digest": *"\([^"]*\)".*/\1/p' "$TMP/fr.$round.$n") f-$n-$i" >>"$TMP/acked-f.$round"
	done
}
lost_total=0 acked_total=0 restarts=()
for round in $(seq "$ROUNDS"); do
	: >"$TMP/acked-q.$round"; : >"$TMP/acked-kv.$round"; : >"$TMP/acked-f.$round"
	cpids=()
	for n in 1 2 3 4 5 6; do client "$n" "$round" & cpids+=($!); done
	sleep_ms $((1000 + RANDOM % 2000))
	old_port=$SRV_PORT
	kill -9 "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null
	wait "${cpids[@]}"
	# Nothing of the dead server may still accept connections on its port.
	code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$old_port/healthz")
	if [ "$code" == 000 ] && ! ss -ltn 2>/dev/null | grep -q "127.0.0.1:$old_port "; then
		ok "round $round: the dead server's port refuses connections"
	else
		known_issue "round $round: the dead server's port refuses connections" \
			"its runner monitors inherited the listening socket (runtime/runner.c fork without closing fds): connections hang"
		ss -ltnp 2>/dev/null | grep "127.0.0.1:$old_port " | diag
	fi
	t0=$(now_ms)
	if ! start_serve "$BERTH_HOME" "$TMP/serve.log"; then
		wait_until 70 curl -sf "$URL/healthz" ||
			{ not_ok "round $round: the server restarts"; diag <"$TMP/serve.log"; break; }
	fi
	restart_ms=$(($(now_ms) - t0))
	restarts+=("${restart_ms}")
	if [ "$restart_ms" -le 10000 ]; then
		ok "round $round: the server restarts and answers in ${restart_ms} ms"
	else
		known_issue "round $round: the server restarts and answers within 10 s (took ${restart_ms} ms)" \
			"srv_apps_init waits 30 s for a runner lock another runner's monitor inherited (runtime/runner.c fork)"
	fi
	lost_q=0 lost_kv=0 lost_f=0
	while read -r id; do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/queue/web/requests/$id/status")" == 200 ] || lost_q=$((lost_q + 1))
	done <"$TMP/acked-q.$round"
	while read -r k v; do
		[ "$(curl -s "$URL/v1/kv/rel/$k")" == "$v" ] || lost_kv=$((lost_kv + 1))
	done <"$TMP/acked-kv.$round"
	while read -r d name; do
		[ "$(curl -s "$URL/files/$d/$name" | sha256sum | cut -d' ' -f1)" == "${d#sha256:}" ] || lost_f=$((lost_f + 1))
	done <"$TMP/acked-f.$round"
	nq=$(wc -l <"$TMP/acked-q.$round"); nkv=$(wc -l <"$TMP/acked-kv.$round"); nf=$(wc -l <"$TMP/acked-f.$round")
	expect_eq "round $round: all $nq acknowledged queue requests survive the kill" "$lost_q" 0
	expect_eq "round $round: all $nkv acknowledged KV writes read back" "$lost_kv" 0
	expect_eq "round $round: all $nf acknowledged uploads download with their digest" "$lost_f" 0
	expect_eq "round $round: the database passes integrity_check" \
		"$(sqlite3 "$BERTH_HOME/berth.db" 'PRAGMA integrity_check' 2>&1)" ok
	acked_total=$((acked_total + nq + nkv + nf))
	lost_total=$((lost_total + lost_q + lost_kv + lost_f))
done
bad=""
for f in "$BERTH_HOME"/files/sha256/*; do
	[ -f "$f" ] && [ "$(sha256sum <"$f" | cut -d' ' -f1)" != "${f##*/}" ] && bad="$bad ${f##*/}"
done
expect_eq "serve: every stored file hashes to its name" "$bad" ""
if wait_until 120 sh -c "sqlite3 '$BERTH_HOME/berth.db' \"SELECT count(*) FROM srv_requests WHERE state != 'COMPLETED'\" | grep -qx 0"; then
	ok "serve: every queued request completes after the restarts"; done_ok=yes
else
	not_ok "serve: every queued request completes after the restarts"; done_ok=no
	sqlite3 "$BERTH_HOME/berth.db" "SELECT state, count(*) FROM srv_requests GROUP BY state" | diag
fi
store_sound "serve" "$BERTH_HOME"
row "SIGKILL of berth serve while 6 clients queue calls, write KV keys and upload files" "$ROUNDS kills" \
	"$lost_total of $acked_total acknowledged writes lost; database intact; queued requests all completed after restart: $done_ok; restarts took ${restarts[*]} ms (the old port kept listening: runner monitors hold its socket)"

done_testing
