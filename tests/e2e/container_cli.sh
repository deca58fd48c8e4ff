#!/bin/bash
# The container verbs end to end on a real OCI runtime (crun, and runc for a
# comparison) with a busybox image made by umoci: output and exit codes, env,
# users, workdir, the overlay (writes land in the runner's upper dir, layers
# untouched), pid and network namespaces, secrets that never reach the disk,
# CRI logs, ls/stop/rm, a monitor killed with -9, usage errors, limits, mounts.
. "$(dirname "$0")/lib.bash"
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP containers need root"; exit 0; }
for t in umoci busybox jq pgrep; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed (make deps)"; exit 0; }
done
command -v crun >/dev/null || command -v runc >/dev/null ||
	{ echo "1..0 # SKIP no OCI runtime (crun or runc) is installed"; exit 0; }
ldd "$(command -v busybox)" >/dev/null 2>&1 &&
	{ echo "1..0 # SKIP busybox is dynamically linked (install busybox-static)"; exit 0; }

export BERTH_HOME=$TMP/home
# Start cost: libcurl and libarchive (and the forty libraries behind them),
# libmicrohttpd, libcrypto, libsodium and libyaml are loaded on first use,
# never at exec (src/common/dl.h); a container start loads none of them.
expect_eq "berth links none of the libraries it loads on first use" \
	"$(ldd "$BERTH" | grep -cE 'libcurl|libarchive|libmicrohttpd|libcrypto|libsodium|libyaml')" 0

B=$BERTH
IMG=bb:1
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for p in "$BERTH_HOME"/runners/*/; do
		[ -d "$p" ] && "$B" container rm -f "$(basename "$p")" >/dev/null 2>&1
	done
	# Never let rm -rf walk into something berth left mounted.
	grep -q " $BERTH_HOME" /proc/self/mountinfo &&
		awk -v h="$BERTH_HOME" 'index($5, h) == 1 {print $5}' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# --- the fixture: static busybox, users and groups, Cmd /bin/sh, Env PATH ---
R=$TMP/rootfs
mkdir -p "$R"/{bin,etc,tmp,root,home/app}
cp "$(command -v busybox)" "$R/bin/"
for a in sh echo cat ls id pwd sleep touch ip hostname ps grep env true false mount wc stat \
	head rm chmod; do
	ln -s busybox "$R/bin/$a"
done
chown 1000:1000 "$R/home/app"
cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
EOF
cat >"$R/etc/group" <<'EOF'
root:x:0:
wheel:x:10:app
app:x:1000:
EOF
(cd "$TMP" && umoci init --layout oci && umoci new --image oci:bb &&
	umoci insert --image oci:bb rootfs / &&
	umoci config --image oci:bb --config.cmd=/bin/sh --config.env=PATH=/bin \
		--architecture=amd64 --os=linux &&
	umoci gc --layout oci) >/dev/null 2>&1 || { not_ok "umoci fixture"; done_testing; exit; }
"$B" image load "$TMP/oci" -t $IMG >/dev/null 2>"$TMP/err" ||
	{ not_ok "load the fixture"; diag <"$TMP/err"; done_testing; exit; }

run() { "$B" container run --rm "$@"; }
# The libraries berth itself loads on a container start (ld.so's own log,
# one file a process; the runtime's are not berth's).
mkdir -p "$TMP/ld"
LD_DEBUG=files LD_DEBUG_OUTPUT=$TMP/ld/log run $IMG true >/dev/null 2>&1
expect_eq "  (that start ran the container: exit 0)" "$?" 0
expect_eq "a container start loads none of the first-use libraries" \
	"$(grep -l "$(basename "$B")" "$TMP"/ld/log.* 2>/dev/null | xargs -r grep -hoE 'file=lib(curl|archive|microhttpd|crypto|sodium|yaml)[^ ]*' | sort -u)" ""
check "  (ld.so's log of berth's start was read)" grep -qs "file=libjansson" $(grep -l "$(basename "$B")" "$TMP"/ld/log.* 2>/dev/null) /dev/null
# json_of NAME: the container's object in `ls -a --json`.
json_of() { "$B" container ls -a --json | jq -c --arg n "$1" '.[] | select(.name == $n)'; }
# wait_running NAME: until `container ls` lists it (5 s at most).
wait_running() {
	local _
	for _ in $(seq 100); do
		"$B" container ls 2>/dev/null | grep -q " $1\$" && return 0
		sleep 0.05
	done
	return 1
}
# runtime_pid ID: the host pid of the container's process 1, from the runtime's state.
runtime_pid() {
	local j rt; j=$("$B" container inspect "$1") || return 1
	rt=$(jq -r .runtime <<<"$j")
	"$rt" --root "$(jq -r .runtime_root <<<"$j")" state "$(jq -r .id <<<"$j")" | jq -r .pid
}
# lacks PATTERN [FILE]: grep finds nothing.
lacks() { ! grep -Eq -- "$@"; }
nrunners() { ls "$BERTH_HOME/runners" 2>/dev/null | wc -l; }
mounts_under_home() { grep -F " $BERTH_HOME" /proc/self/mountinfo; }

# --- 1. output ---
expect_eq "run prints the command's output" "$(run $IMG echo hello 2>&1)" "hello"
out=$(run $IMG sh -c 'echo out; echo err >&2' 2>"$TMP/err")
expect_eq "stdout carries only stdout" "$out" "out"
expect_eq "stderr carries only stderr" "$(cat "$TMP/err")" "err"

# --- 2. exit codes ---
run $IMG sh -c 'exit 7' >/dev/null 2>&1
expect_eq "exit 7 in the container: berth exits 7" "$?" 7
run $IMG no-such-command >/dev/null 2>"$TMP/err"
expect_eq "a missing command exits 127" "$?" 127
check "the error names the missing command" grep -q no-such-command "$TMP/err"
run $IMG false >/dev/null 2>&1
expect_eq "false exits 1" "$?" 1
# Process 1 of a pid namespace ignores SIGKILL sent from inside it, so the
# signal comes from the host, to the pid the runtime reports.
"$B" container run --rm --name sig $IMG sleep 1043 >/dev/null 2>&1 &
bp=$!; PIDS+=("$bp")
if wait_running sig && cp=$(runtime_pid sig) && [ -n "$cp" ] && kill -9 "$cp"; then
	for _ in $(seq 100); do kill -0 $bp 2>/dev/null || break; sleep 0.05; done
	kill -0 $bp 2>/dev/null && kill -9 $bp # hung: fail below, do not wait forever
	wait $bp; rc=$?
	expect_eq "a container killed by SIGKILL: berth exits 137" "$rc" 137
else
	not_ok "a container killed by SIGKILL: berth exits 137"
	echo "could not find the container's pid" | diag
fi

# --- 3. environment ---
env_out=$(env -u BERTH_E2E_UNSET "$B" container run --rm -e FOO=bar -e BERTH_E2E_UNSET \
	--hostname envhost $IMG env 2>&1)
check "-e FOO=bar is set" grep -qx 'FOO=bar' <<<"$env_out"
expect_eq "-e NAME of a variable unset here is left out" \
	"$(grep -E '^(FOO|BERTH_E2E_UNSET)=' <<<"$env_out")" "FOO=bar"
check "the image's Env PATH is set" grep -qx 'PATH=/bin' <<<"$env_out"
check "HOSTNAME is the container's hostname" grep -qx 'HOSTNAME=envhost' <<<"$env_out"
hn=$(run $IMG sh -c 'echo "$HOSTNAME"; hostname' 2>&1)
check "HOSTNAME defaults to the container's hostname" test -n "$(sed -n 1p <<<"$hn")" -a \
	"$(sed -n 1p <<<"$hn")" == "$(sed -n 2p <<<"$hn")"
expect_eq "-e HOME while HOME is unset here: the user's home stays" \
	"$(env -u HOME "$B" container run --rm -e HOME $IMG sh -c 'echo $HOME' 2>&1)" "/root"
expect_eq "-e HOME takes this environment's value" \
	"$(HOME=/from/host "$B" container run --rm -e HOME $IMG sh -c 'echo $HOME' 2>&1)" "/from/host"

# --- 4. users ---
expect_eq "-u app: uid" "$(run -u app $IMG id -u 2>&1)" 1000
expect_eq "-u app: gid" "$(run -u app $IMG id -g 2>&1)" 1000
check "-u app: supplementary group 10 (wheel)" grep -qw 10 <<<"$(run -u app $IMG id -G 2>&1)"
expect_eq "-u app: HOME from /etc/passwd" "$(run -u app $IMG sh -c 'echo $HOME' 2>&1)" /home/app
expect_eq "-u 1000:10: uid and gid" "$(run -u 1000:10 $IMG sh -c 'echo $(id -u):$(id -g)' 2>&1)" 1000:10
expect_eq "-u nobody: uid and gid" "$(run -u nobody $IMG sh -c 'echo $(id -u):$(id -g)' 2>&1)" 65534:65534
run -u nosuchuser $IMG id -u >"$TMP/out" 2>"$TMP/err"; rc=$?
check "-u nosuchuser fails" test "$rc" -ne 0
check "-u nosuchuser: the error names the user" grep -q nosuchuser "$TMP/err"
expect_eq "-u nosuchuser: the command did not run" "$(cat "$TMP/out")" ""
expect_eq "the default user is root" "$(run $IMG sh -c 'echo $(id -u):$(id -g)' 2>&1)" 0:0

# --- 5. workdir ---
expect_eq "-w /work (not in the image): pwd" "$(run -w /work $IMG pwd 2>&1)" /work
expect_eq "the default workdir is /" "$(run $IMG pwd 2>&1)" /

# --- 6. writes land in the runner's upper dir; layers stay as they were ---
layers_list() {
	(cd "$BERTH_HOME/layers" && find . -printf '%p %y %m %U:%G %s %T@ %l\n' | sort &&
		find . -type f -exec sha256sum {} + | sort)
}
layers_list >"$TMP/layers.before"
check "the layer listing covers the image's files" grep -q '/bin/busybox ' "$TMP/layers.before"
w=$("$B" container run -d --name w $IMG sh -c 'echo data > /newfile; sleep 30' 2>"$TMP/err")
for _ in $(seq 100); do [ -s "$BERTH_HOME/runners/$w/upper/newfile" ] && break; sleep 0.05; done
expect_eq "a write lands in runners/<id>/upper" "$(cat "$BERTH_HOME/runners/$w/upper/newfile" 2>&1)" data
expect_eq "no layer dir holds the written file" "$(find "$BERTH_HOME/layers" -name newfile 2>&1)" ""
"$B" container stop -t 1 w >/dev/null 2>&1
expect_eq "deletes and overwrites succeed in the container" \
	"$(run $IMG sh -c 'rm /bin/ls && echo x > /etc/passwd && chmod 700 /etc && touch /bin/busybox &&
		test ! -e /bin/ls && cat /etc/passwd' 2>&1)" x
layers_list >"$TMP/layers.after"
if diff "$TMP/layers.before" "$TMP/layers.after" >"$TMP/diff"; then
	ok "the layers are unchanged: names, modes, owners, sizes, mtimes, sha256"
else
	not_ok "the layers are unchanged: names, modes, owners, sizes, mtimes, sha256"; diag <"$TMP/diff"
fi
expect_eq "a fresh container sees the image's files again" \
	"$(run $IMG sh -c 'test -e /bin/ls && head -1 /etc/passwd' 2>&1)" "root:x:0:0:root:/root:/bin/sh"

# --- 7. pid namespace ---
expect_eq "the command is pid 1" "$(run $IMG sh -c 'echo $$' 2>&1)" 1
ps_out=$(run $IMG ps 2>"$TMP/err")
expect_eq "ps shows only the container's process (header + ps)" "$(wc -l <<<"$ps_out")" 2
expect_eq "ps sees no host process: only pid 1, ps itself" \
	"$(sed 1d <<<"$ps_out" | awk '{print $1, $NF}')" "1 ps"

# --- 8. network ---
net=$(run --network none $IMG ip -o link 2>"$TMP/err")
expect_eq "--network none: one link" "$(printf '%s' "$net" | grep -c '')" 1
check "--network none: it is lo" grep -q '^1: lo:' <<<"$net"
if command -v ip >/dev/null; then
	expect_eq "host network: the host's links" "$(run $IMG ip -o link 2>"$TMP/err" | wc -l)" \
		"$(ip -o link | wc -l)"
else
	skip "host network: the host's links" "no ip command on the host"
fi

# --- 9. two containers do not share their writes ---
iso() { echo "echo $1 > /shared-name; touch /only-$1; sleep 1.5; cat /shared-name; ls /only-$2 2>/dev/null || echo no-$2"; }
ia=$("$B" container run -d --name iso-a $IMG sh -c "$(iso a b)" 2>"$TMP/err")
ib=$("$B" container run -d --name iso-b $IMG sh -c "$(iso b a)" 2>>"$TMP/err")
expect_eq "container a reads back its own file and not b's" \
	"$(timeout 20 "$B" container logs -f iso-a 2>&1 | tr '\n' ' ')" "a no-b "
expect_eq "container b reads back its own file and not a's" \
	"$(timeout 20 "$B" container logs -f iso-b 2>&1 | tr '\n' ' ')" "b no-a "
expect_eq "each upper dir holds its own copy" \
	"$(cat "$BERTH_HOME/runners/$ia/upper/shared-name" "$BERTH_HOME/runners/$ib/upper/shared-name" 2>&1 | tr '\n' ' ')" "a b "
expect_eq "a third container sees neither" \
	"$(run $IMG sh -c 'ls /shared-name /only-a /only-b 2>/dev/null; echo end' 2>&1)" end

# --- 10. crun and runc agree ---
rtcmd=(--hostname same -w /tmp "$IMG" sh -c 'id -u; pwd; echo $$; cat /etc/hostname; hostname')
if command -v crun >/dev/null && command -v runc >/dev/null; then
	c=$(run --runtime crun "${rtcmd[@]}" 2>&1)
	r=$(run --runtime runc "${rtcmd[@]}" 2>&1)
	expect_eq "crun runs it as expected" "$(tr '\n' ' ' <<<"$c")" "0 /tmp 1 same same "
	expect_eq "runc gives the same output as crun" "$r" "$c"
else
	skip "crun and runc agree" "crun or runc is not installed"
fi

# --- 11. secrets ---
tok=tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s' "$tok" >"$TMP/tok"
sec=$(run -u app --secret-file /run/secrets/token="$TMP/tok" $IMG sh -c \
	'cat /run/secrets/token; echo; stat -c "%a %u" /run/secrets/token; mount | grep " /run/secrets/token "' 2>&1)
expect_eq "secret: the content" "$(sed -n 1p <<<"$sec")" "$tok"
expect_eq "secret: mode 400, owned by the container user" "$(sed -n 2p <<<"$sec")" "400 1000"
check "secret: on a tmpfs" grep -q '^tmpfs on /run/secrets/token type tmpfs' <<<"$sec"
"$B" container run -d --name sec --secret-file /run/secrets/token="$TMP/tok" $IMG sleep 30 >/dev/null 2>&1
wait_running sec
expect_eq "secret: not on disk under BERTH_HOME while it runs" "$(grep -rl -- "$tok" "$BERTH_HOME" 2>&1)" ""
"$B" container rm -f sec >/dev/null 2>&1
expect_eq "secret: not on disk under BERTH_HOME after it exits" "$(grep -rl -- "$tok" "$BERTH_HOME" 2>&1)" ""
expect_eq "nothing is left mounted under BERTH_HOME" "$(mounts_under_home)" ""
# An environment value (an app's secrets arrive so) is in config.json: that
# lives on a tmpfs only the monitor's namespace sees, and the runtime's copy
# of it under a tmpfs runtime root, so neither is on disk.
envtok=env-$tok
"$B" container run -d --name envsec -e "TOKEN=$envtok" $IMG sleep 30 >/dev/null 2>&1
wait_running envsec
expect_eq "an env value: not on disk under BERTH_HOME while it runs" \
	"$(grep -rl -- "$envtok" "$BERTH_HOME" 2>&1)" ""
rtroot=$("$B" container inspect envsec | jq -r .runtime_root)
expect_eq "the runtime's root is on a tmpfs when the host has one" \
	"$(stat -f -c %T "$rtroot")" "$( { stat -f -c %T /run; stat -f -c %T /dev/shm; } | grep -m1 tmpfs || stat -f -c %T "$BERTH_HOME")"
"$B" container rm -f envsec >/dev/null 2>&1

# A detached monitor is `berth __monitor` with the runner on descriptor 3:
# a record that is not one is reported on 4, the way a caller reads it.
printf 'not a record' >"$TMP/rec"
"$B" __monitor 3<"$TMP/rec" 4>"$TMP/report" 5>/dev/null
expect_eq "__monitor given garbage exits 1 and reports why on its report pipe" \
	"$?:$(cat "$TMP/report")" "1:error __monitor: not a runner record"

# --- 12. logs ---
lg=$("$B" container run -d --name lg $IMG sh -c 'echo one; echo two; echo three >&2; sleep 1' 2>&1)
t0=$SECONDS
timeout 20 "$B" container logs -f lg >"$TMP/fout" 2>"$TMP/ferr"; rc=$?
expect_eq "logs -f returns 0 once the container exits" "$rc" 0
check "logs -f returned within 10 s" test $((SECONDS - t0)) -lt 10
expect_eq "logs -f returned only after the container exited" "$(json_of lg | jq -r .status)" exited
expect_eq "logs -f: stdout" "$(tr '\n' ' ' <"$TMP/fout")" "one two "
"$B" container logs lg >"$TMP/out" 2>"$TMP/err"
expect_eq "logs: the stdout lines on stdout" "$(tr '\n' ' ' <"$TMP/out")" "one two "
expect_eq "logs: the stderr line on stderr" "$(cat "$TMP/err")" "three"
log=$BERTH_HOME/runners/$lg/container.log
expect_eq "the log file has three lines" "$(wc -l <"$log" 2>&1)" 3
expect_eq "every log line is CRI" \
	"$(grep -cvE '^[0-9T:.-]+Z (stdout|stderr) [FP] ' "$log")" 0
check "the stderr line is tagged stderr" grep -qE 'Z stderr F three$' "$log"

# --- 13. ls, stop, rm ---
"$B" container run -d --name t3 $IMG sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done' >/dev/null 2>&1
wait_running t3
check "ls shows a running container by name" grep -q " t3\$" <("$B" container ls)
expect_eq "ls -a --json: running" "$(json_of t3 | jq -r .status)" running
t0=$SECONDS
"$B" container stop -t 5 t3 >/dev/null 2>"$TMP/err"
expect_eq "stop of a container that exits 3 on TERM: exit_code 3" \
	"$(json_of t3 | jq -c '[.status, .exit_code]')" '["exited",3]'
check "and it did not wait for the grace period" test $((SECONDS - t0)) -lt 4
"$B" container run -d --name ig $IMG sh -c 'trap "" TERM; sleep 100' >/dev/null 2>&1
wait_running ig
t0=$SECONDS
"$B" container stop -t 1 ig >/dev/null 2>"$TMP/err"
check "stop -t 1 of one that ignores TERM returns within 4 s" test $((SECONDS - t0)) -le 4
expect_eq "and its exit_code is 137" "$(json_of ig | jq -c '[.status, .exit_code]')" '["exited",137]'
expect_eq "ls without -a hides exited containers; ls -a shows them" \
	"$("$B" container ls | grep -c ' ig$'):$("$B" container ls -a | grep -c ' ig$')" 0:1
r1=$("$B" container run -d --name r1 $IMG sleep 100 2>&1)
wait_running r1
"$B" container rm r1 >/dev/null 2>"$TMP/err"; rc=$?
check "rm of a running container fails without -f" test "$rc" -ne 0
check "and says it is running" grep -q running "$TMP/err"
check "it still runs" grep -q " r1\$" <("$B" container ls)
check "run -d prints the id and makes runners/<id>" test -n "$r1" -a -d "$BERTH_HOME/runners/$r1"
expect_eq "inspect by a unique id prefix" "$("$B" container inspect "${r1:0:7}" | jq -r .id)" "${r1:-(no id)}"
check "rm -f by a unique id prefix" "$B" container rm -f "${r1:0:7}"
check "rm removes runners/<id>" test ! -e "$BERTH_HOME/runners/$r1"
n0=$(nrunners)
h=$(run $IMG hostname 2>&1)
check "the default hostname is a 16-hex id" grep -Eqx '[0-9a-f]{16}' <<<"$h"
check "--rm leaves no runner directory (hostname = id)" test -n "$h" -a ! -e "$BERTH_HOME/runners/$h"
expect_eq "--rm: the number of runners is unchanged" "$(nrunners)" "$n0"
"$B" container run -d --name ig $IMG true >/dev/null 2>"$TMP/err"; rc=$?
check "a duplicate --name is refused" test "$rc" -ne 0
check "and the error says the name is in use" grep -Eq "'?ig'? is (already )?(in use|used)" "$TMP/err"
expect_eq "a refused run leaves no runner" "$(nrunners)" "$n0"

# --- 14. a killed berth: the next berth cleans up ---
# crash NAME SECONDS [--rm]: run `sleep SECONDS` in the foreground (berth is
# the monitor), check what is there while it runs, then kill -9 berth.
crash() {
	"$B" container run $3 --name "$1" $IMG sleep "$2" >/dev/null 2>"$TMP/crash-$1.err" &
	bp=$!; PIDS+=("$bp")
	wait_running "$1" || return 1
	cid=$("$B" container inspect "$1" | jq -r .id)
	check "$1: while it runs, sleep $2 is a process" pgrep -fx "sleep $2"
	rtroot=$("$B" container inspect "$1" | jq -r .runtime_root)
	check "$1: while it runs, the runtime has a state dir for it" test -d "$rtroot/$cid"
	kill -9 $bp; wait $bp 2>/dev/null
	return 0
}
if crash k 1041; then
	"$B" container ls -a --json >"$TMP/out" 2>"$TMP/err"
	check "the next berth says it cleaned up" grep -q "cleaned up 1 container" "$TMP/err"
	j=$(jq -c '.[] | select(.name == "k")' "$TMP/out")
	expect_eq "killed monitor: k is exited with exit_code -1" "$(jq -c '[.status, .exit_code]' <<<"$j")" '["exited",-1]'
	check "killed monitor: the error mentions the monitor" grep -q monitor <<<"$(jq -r .error <<<"$j")"
	expect_eq "killed monitor: its process is gone" "$(pgrep -fx 'sleep 1041' 2>&1)" ""
	expect_eq "killed monitor: the runtime's state dir is gone" \
		"$(ls -d "$rtroot/$cid" 2>/dev/null)" ""
	expect_eq "killed monitor: nothing is mounted under BERTH_HOME" "$(mounts_under_home)" ""
else
	not_ok "killed monitor: k ran"
	diag <"$TMP/crash-k.err"
fi
if crash k2 1042 --rm; then
	"$B" container ls -a >/dev/null 2>&1
	check "killed monitor, --rm: the runner is removed" test ! -e "$BERTH_HOME/runners/$cid"
	check "killed monitor, --rm: ls -a does not list it" lacks ' k2$' <("$B" container ls -a)
	expect_eq "killed monitor, --rm: its process is gone" "$(pgrep -fx 'sleep 1042' 2>&1)" ""
	expect_eq "killed monitor, --rm: nothing is mounted under BERTH_HOME" "$(mounts_under_home)" ""
else
	not_ok "killed monitor, --rm: k2 ran"
	diag <"$TMP/crash-k2.err"
	"$B" container ls -a 2>&1 | diag
fi

# --- 15. errors ---
"$B" container run --rm 127.0.0.1:1/none:1 true >/dev/null 2>"$TMP/err"; rc=$?
check "an image that is neither stored nor pullable fails" test "$rc" -ne 0
check "and the error names it" grep -q '127.0.0.1:1/none:1' "$TMP/err"
usage_err() { # usage_err NAME PATTERN ARGS...
	local name=$1 pat=$2; shift 2
	"$B" container run --rm "$@" >/dev/null 2>"$TMP/err"
	# Like docker run: 125 is berth's own failure, bad options included, so
	# that it never reads as the container's exit status.
	expect_eq "$name is berth's error (exit 125)" "$?" 125
	check "$name: the message says why" grep -q -- "$pat" "$TMP/err"
}
usage_err "--network bogus" "host or none" --network bogus $IMG true
usage_err "--memory 1x" "--memory '1x'" --memory 1x $IMG true
usage_err "-v relative:path" "DST absolute" -v relative:path $IMG true
"$B" container logs nosuch >/dev/null 2>"$TMP/err"; rc=$?
check "logs nosuch fails" test "$rc" -ne 0
check "logs nosuch says there is no such container" grep -q "no container 'nosuch'" "$TMP/err"

# --- 16. resource limits ---
for lim in "--memory 64m:memory:memory.limit_in_bytes:67108864" "--pids-limit 50:pids:pids.max:50"; do
	IFS=: read -r flag ctl file want <<<"$lim"
	out=$(run $flag $IMG echo ok 2>"$TMP/err"); rc=$?
	expect_eq "$flag: the container runs" "$rc:$out" "0:ok"
	expect_eq "$flag: no warning" "$(cat "$TMP/err")" ""
	if [ -d /sys/fs/cgroup/$ctl ]; then
		id=$("$B" container run -d --name lim-$ctl $flag $IMG sleep 30 2>/dev/null)
		wait_running lim-$ctl
		cg=$(awk -F: -v c=$ctl '$2 == c {print $3}' /proc/"$(runtime_pid "$id")"/cgroup 2>/dev/null)
		expect_eq "$flag: the host's cgroup has $file = $want" \
			"$(cat "/sys/fs/cgroup/$ctl$cg/$file" 2>&1)" "$want"
		"$B" container rm -f "$id" >/dev/null 2>&1
	else
		skip "$flag: the host's cgroup" "no cgroup v1 $ctl hierarchy here"
	fi
done

out=$(BERTH_CGROUP_ROOT=$TMP/no-cgroups run --memory 64m $IMG echo ok 2>"$TMP/err")
expect_eq "a layout without the controller: the container still runs" "$out" ok
expect_eq "  after one warning line that says why" \
	"$(grep -c "warning: resource limits not applied: .* no memory controller" "$TMP/err"):$(wc -l <"$TMP/err")" "1:1"

# --- 17. tmpfs and binds ---
mkdir -p "$TMP/host"; echo from-host >"$TMP/host/f"
tm=$(run --tmpfs /scratch $IMG sh -c 'echo s > /scratch/x && cat /scratch/x && mount | grep " /scratch "' 2>&1)
expect_eq "--tmpfs /scratch is writable" "$(sed -n 1p <<<"$tm")" s
check "--tmpfs /scratch is a tmpfs" grep -q '^tmpfs on /scratch type tmpfs' <<<"$tm"
expect_eq "-v ...:ro: readable" "$(run -v "$TMP/host:/mnt/h:ro" $IMG cat /mnt/h/f 2>&1)" from-host
run -v "$TMP/host:/mnt/h:ro" $IMG sh -c 'echo no > /mnt/h/g' >/dev/null 2>&1; rc=$?
check "-v ...:ro: a write fails" test "$rc" -ne 0 -a ! -e "$TMP/host/g"
run -v "$TMP/host:/mnt/h" $IMG sh -c 'echo yes > /mnt/h/g' >/dev/null 2>&1
expect_eq "-v rw: a write appears on the host" "$(cat "$TMP/host/g" 2>&1)" yes
# --- 18. GPUs: a fake driver (device nodes with /dev/null's numbers, a
# library, an nvidia-smi script) stands in for NVIDIA's ---
G=$TMP/gpu
mkdir -p "$G/dev" "$G/lib" "$G/bin"
if mknod "$G/dev/nvidia0" c 1 3 && mknod "$G/dev/nvidiactl" c 1 3; then
	echo fake >"$G/lib/libnvidia-ml.so.535.1"
	ln -s libnvidia-ml.so.535.1 "$G/lib/libnvidia-ml.so.1"
	printf '#!/bin/sh\necho "smi sees $NVIDIA_VISIBLE_DEVICES"\n' >"$G/bin/nvidia-smi"
	chmod +x "$G/bin/nvidia-smi"
	gpu() { BERTH_GPU_DEV_DIR=$G/dev BERTH_GPU_LIB_DIRS=$G/lib BERTH_GPU_BIN_DIRS=$G/bin "$B" "$@"; }
	out=$(gpu container run --rm --gpus 1 $IMG sh -c 'nvidia-smi; ls /dev/nvidia0 /dev/nvidiactl;
		ls /usr/local/nvidia/lib64; echo "$LD_LIBRARY_PATH"' 2>&1)
	expect_eq "--gpus 1: devices, the driver's library and tool, the variables" "$out" \
		"smi sees 0
/dev/nvidia0
/dev/nvidiactl
libnvidia-ml.so.1
/usr/local/nvidia/lib64"
	gpu container run --rm --gpus 2 $IMG true >/dev/null 2>"$TMP/err"; rc=$?
	check "--gpus 2 with one GPU fails before anything runs" test "$rc" -eq 125
	check "  and says how many there are" grep -q "this host has 1 NVIDIA GPU" "$TMP/err"
else
	skip "--gpus with a fake driver" "mknod is not allowed here"
fi
# nrunners skips .trash-* directories, which come and go as --rm deletions finish.
before=$(nrunners)
BERTH_GPU_DEV_DIR=$TMP/no-gpus "$B" container run --gpus 1 $IMG true >/dev/null 2>"$TMP/err"
rc=$?
check "--gpus on a host without GPUs: exit 125" test "$rc" -eq 125
check "  with an error that says so" grep -q "no NVIDIA GPU on this host" "$TMP/err"
expect_eq "  and no runner is made (even without --rm)" "$(nrunners)" "$before"

# --- 19. many layers: 150 lowers fit one overlay mount (short links) ---
M=$TMP/many
mkdir -p "$M/blobs/sha256"
cp "$TMP/oci/blobs/sha256/"* "$M/blobs/sha256/"
cp "$TMP/oci/oci-layout" "$M/"
man=$(jq -r '.manifests[0].digest' "$TMP/oci/index.json" | cut -d: -f2)
cfg=$(jq -r '.config.digest' "$M/blobs/sha256/$man" | cut -d: -f2)
layers=$(jq -c '.layers' "$M/blobs/sha256/$man")
diffs=$(jq -c '.rootfs.diff_ids' "$M/blobs/sha256/$cfg")
for i in $(seq 1 150); do
	mkdir -p "$M/l$i/layers"
	echo "$i" >"$M/l$i/layers/f$i"
	tar -C "$M/l$i" --owner=0 --group=0 -cf "$M/l$i.tar" layers
	d=$(sha256sum "$M/l$i.tar" | cut -d' ' -f1)
	gzip -n -c "$M/l$i.tar" >"$M/l$i.tgz"
	b=$(sha256sum "$M/l$i.tgz" | cut -d' ' -f1)
	mv "$M/l$i.tgz" "$M/blobs/sha256/$b"
	printf '{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}\n' \
		"$b" "$(stat -c %s "$M/blobs/sha256/$b")" >>"$M/layers.jsonl"
	printf '"sha256:%s"\n' "$d" >>"$M/diffs.jsonl"
done
layers=$(jq -c --slurpfile n "$M/layers.jsonl" '. + $n' <<<"$layers")
diffs=$(jq -c --slurpfile n "$M/diffs.jsonl" '. + $n' <<<"$diffs")
jq -c --argjson d "$diffs" '.rootfs.diff_ids = $d' "$M/blobs/sha256/$cfg" >"$M/cfg.json"
c=$(sha256sum "$M/cfg.json" | cut -d' ' -f1); mv "$M/cfg.json" "$M/blobs/sha256/$c"
jq -c --argjson l "$layers" --arg c "sha256:$c" --argjson s "$(stat -c %s "$M/blobs/sha256/$c")" \
	'.layers = $l | .config.digest = $c | .config.size = $s' "$M/blobs/sha256/$man" >"$M/man.json"
m=$(sha256sum "$M/man.json" | cut -d' ' -f1); mv "$M/man.json" "$M/blobs/sha256/$m"
jq -c --arg m "sha256:$m" --argjson s "$(stat -c %s "$M/blobs/sha256/$m")" \
	'.manifests[0].digest = $m | .manifests[0].size = $s' "$TMP/oci/index.json" >"$M/index.json"
if "$B" image load "$M" -t many:1 >/dev/null 2>"$TMP/err"; then
	out=$(run many:1 sh -c 'ls /layers | wc -l; cat /layers/f1 /layers/f150' 2>&1)
	expect_eq "a 151-layer image runs (every layer visible)" "$out" "150
1
150"
else
	not_ok "load the 151-layer image"; diag <"$TMP/err"
fi

# --- 20. the persistent /data volume ---
run --data $IMG sh -c 'echo kept > /data/note' >/dev/null 2>&1
expect_eq "--data: what one container writes to /data" "$(cat "$BERTH_HOME/data/note" 2>&1)" kept
expect_eq "--data: the next one reads" "$(run --data $IMG cat /data/note 2>&1)" kept
check "without --data there is no /data" test "$(run $IMG sh -c 'test -e /data && echo yes || echo no' 2>&1)" = no

expect_eq "at the end nothing is mounted under BERTH_HOME" "$(mounts_under_home)" ""
done_testing
