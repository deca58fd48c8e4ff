#!/bin/bash
# `berth doctor` on this machine: every check's line, the exit status (1 only
# when a line fails), JSON output, and broken set-ups that must fail with the
# fix: an unknown BERTH_RUNTIME, a read-only or uncreatable state directory,
# a bad seccomp profile, no SDK, a broken config.json; warnings that must not
# fail: no GPU, no server, no busybox image to try a container with. Logins
# are listed by name and their passwords never shown.
. "$(dirname "$0")/lib.bash"
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP doctor's container and overlay checks need root"; exit 0; }
command -v jq >/dev/null || { echo "1..0 # SKIP jq is not installed (make deps)"; exit 0; }
command -v crun >/dev/null || command -v runc >/dev/null ||
	{ echo "1..0 # SKIP no OCI runtime (crun or runc) is installed"; exit 0; }

export BERTH_HOME=$TMP/home
export HOME=$TMP/user # no logins but the ones this test writes
mkdir -p "$HOME"
B=$BERTH
SERVE_PID=
cleanup() {
	[ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# No server unless a test starts one.
export BERTH_SERVER=http://127.0.0.1:$(port)

# doctor [ENV=V...]: run it; stdout in $TMP/out, stderr in $TMP/err, status in $RC.
doctor() {
	env "$@" "$B" doctor >"$TMP/out" 2>"$TMP/err"
	RC=$?
}
line() { grep -E "^$1 +$2 " "$TMP/out"; }
has() { line "$@" >/dev/null; }

# --------------------------------------------------- this machine, fresh state

doctor
for c in user runtime state disk database overlay cgroups gpu registries python3 debootstrap \
	busybox seccomp sdk server container; do
	check "a '$c' line" grep -qE "^(ok|warn|fail) +$c " "$TMP/out"
done
nfail=$(grep -c '^fail ' "$TMP/out")
expect_eq "exit status 1 exactly when a line fails ($nfail failing)" "$RC" \
	"$([ "$nfail" -gt 0 ] && echo 1 || echo 0)"
expect_eq "nothing fails on this machine" "$(grep '^fail ' "$TMP/out")" ""
check "the summary counts the lines" grep -qE "^berth doctor: [0-9]+ ok, [0-9]+ warnings?, 0 failures$" "$TMP/err"
expect_eq "the summary's numbers add up to the lines" \
	"$(sed -E 's/^berth doctor: ([0-9]+) ok, ([0-9]+) warnings?, ([0-9]+) failures?$/\1+\2+\3/' "$TMP/err" | bc)" \
	"$(wc -l <"$TMP/out")"
check "root" has ok user
for rt in crun runc; do
	if command -v $rt >/dev/null; then
		check "$rt: found, with its version" grep -qE "^ok +runtime +$rt at $(command -v $rt): $rt version [0-9]" "$TMP/out"
	fi
done
check "the runtime containers use" grep -qE "^ok +runtime +containers run on /" "$TMP/out"
check "the state directory was created" grep -q "^ok    state       $BERTH_HOME was created and is writable" "$TMP/out"
check "free space" grep -qE "^(ok|warn) +disk +[0-9.]+ GiB free in $BERTH_HOME" "$TMP/out"
check "berth.db opens and WAL works" grep -q "berth.db opens (0 image tags), WAL works" "$TMP/out"
expect_eq "the WAL and overlay tests leave nothing behind" "$(find "$BERTH_HOME" -name '*doctor*' | wc -l)" 0
check "overlayfs: a test mount with a whiteout" grep -qE "^ok +overlay +overlayfs mounts, reads, whiteouts and writes work in $BERTH_HOME" "$TMP/out"
check "cgroups: the layout and the limits" grep -qE "^(ok|warn) +cgroups +(unified|hybrid|legacy)" "$TMP/out"
if [ -e /dev/nvidiactl ]; then
	check "a GPU host: ok gpu" has ok gpu
else
	check "no GPU here: a warning with what to install" grep -qE "^warn +gpu +no NVIDIA GPU .*\(fix: GPU apps need the NVIDIA driver" "$TMP/out"
fi
check "no server: a warning, not a failure" grep -q "^warn  server      no berth server answers at $BERTH_SERVER (fix: start one with \`berth serve\`" "$TMP/out"
check "no busybox image yet: the container check says how to get one" grep -qE "^warn +container +(crun|runc) not tried: no busybox image in the store to run \(fix: berth base create busybox\)" "$TMP/out"
check "the SDK directory" grep -qE "^ok +sdk +the python SDK is in /.*/sdk/python$" "$TMP/out"
if command -v debootstrap >/dev/null; then
	check "debootstrap, and the mirror base images come from" grep -qE "^ok +debootstrap +debootstrap [0-9].*; base images from https?://" "$TMP/out"
fi
if [ -f /usr/share/containers/seccomp.json ]; then
	check "the seccomp profile" grep -qE "^ok +seccomp +/usr/share/containers/seccomp.json: [0-9]+ syscall rules" "$TMP/out"
fi
check "python3 for SDK apps" grep -qE "^ok +python3 +/.*python3 is python 3\.[0-9]+" "$TMP/out"

# ------------------------------------------- a container on each runtime

"$B" base create busybox >/dev/null 2>"$TMP/base-err" || diag <"$TMP/base-err"
doctor
for rt in crun runc; do
	command -v $rt >/dev/null || continue
	check "$rt runs a trivial container" grep -qE "^ok +container +$rt ran \`true\` in busybox:latest in [0-9]+ ms" "$TMP/out"
done
expect_eq "the trial containers are removed" "$("$B" container ls -a -q | wc -l)" 0
expect_eq "still exit 0" "$RC" 0

# ------------------------------------------------------------------ JSON

"$B" doctor --format json >"$TMP/json" 2>/dev/null
check "--format json is one array" jq -e 'type == "array" and length > 10' "$TMP/json"
check "each item has check, status, message" \
	jq -e 'all(.[]; (.check|type) == "string" and (.status|IN("ok","warn","fail")) and (.message|type) == "string")' "$TMP/json"
check "warnings carry their fix" jq -e 'all(.[] | select(.status == "warn"); (.fix|type) == "string")' "$TMP/json"
check "ok lines have no fix" jq -e 'all(.[] | select(.status == "ok"); has("fix") | not)' "$TMP/json"
expect_eq "the same lines as the text" "$(jq -r '.[] | "\(.status) \(.check)"' "$TMP/json" | tr -s ' ')" \
	"$(awk '{print $1, $2}' "$TMP/out")"
"$B" doctor --format yaml >/dev/null 2>&1
expect_eq "--format yaml is a usage error" "$?" 2
"$B" doctor extra >/dev/null 2>&1
expect_eq "an argument is a usage error" "$?" 2

# ------------------------------------------------------------ broken cases

doctor BERTH_RUNTIME=nonexistent
expect_eq "BERTH_RUNTIME=nonexistent: exit 1" "$RC" 1
check "  a failing runtime line with the fix" grep -qE "^fail +runtime +runtime 'nonexistent'.*\(fix: unset BERTH_RUNTIME, or set it to crun, runc or a runtime's path\)" "$TMP/out"
check "  the summary counts it" grep -qE ", 1 failure$" "$TMP/err"

mkdir -p "$TMP/ro"
if unshare -m true 2>/dev/null; then
	unshare -m sh -c "mount -t tmpfs -o ro none '$TMP/ro' && BERTH_HOME='$TMP/ro' '$B' doctor" \
		>"$TMP/out" 2>"$TMP/err"
	RC=$?
	expect_eq "BERTH_HOME on a read-only filesystem: exit 1" "$RC" 1
	check "  the state line says so, with the fix" grep -qE "^fail +state +the state directory $TMP/ro is not writable: Read-only file system \(fix: remount it read-write, or set BERTH_HOME to a writable directory\)" "$TMP/out"
	check "  no container is tried without a store" grep -qE "^warn +container +(crun|runc) not tried: the image store cannot be opened" "$TMP/out"
	unshare -m sh -c "mount -t tmpfs -o ro none '$TMP/ro' && BERTH_HOME='$TMP/ro/home' '$B' doctor" \
		>"$TMP/out" 2>"$TMP/err"
	RC=$?
	expect_eq "a state directory that cannot be created: exit 1" "$RC" 1
	check "  says why, with the fix" grep -qE "^fail +state +cannot create the state directory $TMP/ro/home: .*Read-only file system \(fix: set BERTH_HOME to a writable directory" "$TMP/out"
else
	skip "BERTH_HOME on a read-only filesystem" "unshare -m is not allowed here"
	skip "a state directory that cannot be created" "unshare -m is not allowed here"
fi

doctor BERTH_SECCOMP_PROFILE="$TMP/nope.json"
expect_eq "a missing seccomp profile named by BERTH_SECCOMP_PROFILE: exit 1" "$RC" 1
check "  with the fix" grep -qE "^fail +seccomp +seccomp profile '$TMP/nope.json'.*\(fix: fix the profile, or unset BERTH_SECCOMP_PROFILE" "$TMP/out"
doctor BERTH_SECCOMP_PROFILE=unconfined
check "BERTH_SECCOMP_PROFILE=unconfined is a warning" grep -qE "^warn +seccomp +BERTH_SECCOMP_PROFILE=unconfined" "$TMP/out"
expect_eq "  not a failure" "$RC" 0

doctor BERTH_SDK_DIR="$TMP/no-sdk"
expect_eq "no SDK: exit 1" "$RC" 1
check "  with the fix" grep -qE "^fail +sdk +BERTH_SDK_DIR '$TMP/no-sdk' holds no 'berth' package.*\(fix: set BERTH_SDK_DIR" "$TMP/out"

mkdir -p "$TMP/no-cgroups"
doctor BERTH_CGROUP_ROOT="$TMP/no-cgroups"
check "no cgroups: a warning that limits cannot apply" grep -qE "^warn +cgroups +no cgroups at $TMP/no-cgroups: --memory, --cpus and --pids-limit cannot apply \(fix: mount cgroup2" "$TMP/out"

# ----------------------------------------------------------------- GPUs

G=$TMP/gpu
mkdir -p "$G/dev" "$G/lib" "$G/bin"
if mknod "$G/dev/nvidia0" c 1 3 && mknod "$G/dev/nvidia1" c 1 3 && mknod "$G/dev/nvidiactl" c 1 3; then
	echo fake >"$G/lib/libnvidia-ml.so.535.1"
	ln -s libnvidia-ml.so.535.1 "$G/lib/libnvidia-ml.so.1"
	printf '#!/bin/sh\necho "Fake GPU 80GB"\necho "Fake GPU 80GB"\n' >"$G/bin/nvidia-smi"
	chmod +x "$G/bin/nvidia-smi"
	doctor BERTH_GPU_DEV_DIR="$G/dev" BERTH_GPU_LIB_DIRS="$G/lib" BERTH_GPU_BIN_DIRS="$G/bin"
	check "a (fake) driver with two GPUs: ok, counted and named by nvidia-smi" \
		grep -qE "^ok +gpu +2 NVIDIA GPUs \(Fake GPU 80GB, \.\.\.\); 1 driver libraries, 1 tools" "$TMP/out"
else
	skip "GPUs with a fake driver" "mknod is not allowed here"
fi
mkdir -p "$TMP/no-gpus"
doctor BERTH_GPU_DEV_DIR="$TMP/no-gpus"
check "no GPU: a warning" grep -qE "^warn +gpu +no NVIDIA GPU on this host \(no $TMP/no-gpus/nvidiactl or $TMP/no-gpus/nvidia0\) \(fix:" "$TMP/out"
expect_eq "  that does not fail doctor" "$RC" 0

# ------------------------------------------------------ registries, logins

echo '{"insecure_registries": ["registry.lan:5000", "10.1.2.3:5000"]}' >"$BERTH_HOME/config.json"
printf '{"auths": {"ghcr.io": {"auth": "%s"}}}' "$(printf 'me:berth-login-s3cr3t' | base64 -w0)" \
	>"$BERTH_HOME/auth.json"
mkdir -p "$HOME/.docker"
printf '{"auths": {"https://index.docker.io/v1/": {"auth": "%s"}}}' \
	"$(printf 'me:docker-s3cr3t' | base64 -w0)" >"$HOME/.docker/config.json"
doctor
check "insecure registries and logins, by name" grep -qF "ok    registries  insecure (plain HTTP): registry.lan:5000, 10.1.2.3:5000; logins: ghcr.io (berth login), https://index.docker.io/v1/ (~/.docker/config.json)" "$TMP/out"
check "no password is shown" sh -c "! grep -qE 's3cr3t|$(printf 'me:berth-login-s3cr3t' | base64 -w0)' '$TMP/out' '$TMP/err'"
echo '{"insecure_registries": "registry.lan:5000"}' >"$BERTH_HOME/config.json"
doctor
expect_eq "insecure_registries that is not a list: exit 1" "$RC" 1
check "  says so, with the fix" grep -qE "^fail +registries +insecure_registries in $BERTH_HOME/config.json is not a list \(fix: make it a list" "$TMP/out"
echo '{"insecure_registries": [' >"$BERTH_HOME/config.json"
doctor
expect_eq "a config.json that does not parse: exit 1" "$RC" 1
check "  names the file, with the fix" grep -qE "^fail +registries +.*$BERTH_HOME/config.json.*\(fix: correct or remove $BERTH_HOME/config.json\)" "$TMP/out"
rm "$BERTH_HOME/config.json" "$BERTH_HOME/auth.json"

# ---------------------------------------------------------------- server

P=$(port)
"$B" serve --listen "127.0.0.1:$P" >"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
for i in $(seq 1 100); do
	curl -sf "http://127.0.0.1:$P/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
doctor BERTH_SERVER="http://127.0.0.1:$P"
check "a running berth serve: ok" grep -q "^ok    server      a berth server answers at http://127.0.0.1:$P$" "$TMP/out"
kill "$SERVE_PID" && wait "$SERVE_PID" 2>/dev/null
SERVE_PID=

done_testing
