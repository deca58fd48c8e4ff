#!/bin/bash
# `berth run` end to end: a direct-server app (busybox httpd, no Python) and
# SDK apps on a base image with the host's python3, each built, started,
# called through the front on 127.0.0.1, and stopped with Ctrl-C (SIGINT).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/images.bash"
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP runners need root"; exit 0; }
for t in umoci busybox jq curl python3; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed (make deps)"; exit 0; }
done
command -v crun >/dev/null || command -v runc >/dev/null ||
	{ echo "1..0 # SKIP no OCI runtime (crun or runc) is installed"; exit 0; }

export BERTH_HOME=$TMP/home
B=$BERTH
RUN_PID=
cleanup() {
	[ -n "$RUN_PID" ] && kill -9 "$RUN_PID" 2>/dev/null
	"$B" container ls -a -q 2>/dev/null | while read -r id; do "$B" container rm -f "$id"; done
	rm -rf "$TMP"
}
trap cleanup EXIT

make_busybox_image bb:1 || { not_ok "busybox base image"; done_testing; exit; }
make_python_image py:1 || { not_ok "python base image"; done_testing; exit; }
ok "base images: busybox and python3 (from the host's Debian packages)"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_app APP [ARGS...]: berth run in the background, its stderr in
# $TMP/run.log; waits for the ready line (or the process to end).
start_app() {
	PORT=$(port)
	"$B" run "$@" --port "$PORT" >"$TMP/run.out" 2>"$TMP/run.log" &
	RUN_PID=$!
	local i
	# Up to 2 minutes: a sanitizer build on a loaded 2-core machine is slow.
	for i in $(seq 1 2400); do
		grep -q "is ready in" "$TMP/run.log" && return 0
		kill -0 "$RUN_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# stop_app: Ctrl-C, then the exit status in $RC.
stop_app() {
	kill -INT "$RUN_PID"
	wait "$RUN_PID"
	RC=$?
	RUN_PID=
}

# wait_exit: the run ends by itself; its status in $RC.
wait_exit() {
	local i
	for i in $(seq 1 400); do
		kill -0 "$RUN_PID" 2>/dev/null || break
		sleep 0.05
	done
	wait "$RUN_PID"
	RC=$?
	RUN_PID=
}

lacks() { ! grep -q "$@"; }
call() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
runners() { "$B" container ls -a -q | wc -l; }

# ------------------------------------------------------- direct server mode

W=$TMP/web
mkdir -p "$W"
cat >"$W/berth.yaml" <<'EOF'
name: web
image:
  dockerfile: |
    FROM bb:1
    RUN mkdir -p /www && echo hello from berth > /www/index.html
run:
  command: echo "web starting on $PORT"; exec httpd -f -v -p 127.0.0.1:$PORT -h /www
  health:
    path: /index.html
termination_grace_period: 2
EOF
if start_app "$W"; then ok "direct-server app starts and becomes ready"; else
	not_ok "direct-server app starts and becomes ready"; diag <"$TMP/run.log"; fi
expect_eq "GET through the front" "$(call "http://127.0.0.1:$PORT/index.html")$(cat "$TMP/body")" \
	"200hello from berth"
expect_eq "a missing file is the app's own 404" "$(call "http://127.0.0.1:$PORT/nope.html")" 404
check "the banner gives the URL" grep -q "serving on http://127.0.0.1:$PORT" "$TMP/run.log"
check "and a sample curl" grep -q "curl http://127.0.0.1:$PORT/" "$TMP/run.log"
check "the app's own output streams to the terminal" grep -q "web starting on [0-9]" "$TMP/run.out"
check "progress shows the build" grep -q "RUN mkdir" "$TMP/run.log"
check "each request is logged" grep -q "GET /index.html -> 200" "$TMP/run.log"
expect_eq "one runner while it runs" "$(runners)" 1
stop_app
expect_eq "Ctrl-C stops it with status 0" "$RC" 0
check "and says so" grep -q "stopped 'web'" "$TMP/run.log"
expect_eq "no runner is left" "$(runners)" 0
expect_eq "nothing listens any more" "$(call "http://127.0.0.1:$PORT/index.html")" 000

start_app "$W" || diag <"$TMP/run.log"
check "a second run uses the build cache" grep -q "CACHED" "$TMP/run.log"
check "and runs no build step" lacks "^#.*RUN mkdir.*done" "$TMP/run.log"
stop_app

# resources.memory becomes the runner's cgroup limit.
if [ -d /sys/fs/cgroup/memory ] || grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
	printf 'resources:\n  memory: 96Mi\n' >>"$W/berth.yaml"
	start_app "$W" || diag <"$TMP/run.log"
	j=$("$B" container ls --json | jq -c '.[0]')
	pid=$("$(jq -r .runtime <<<"$j")" --root "$(jq -r .runtime_root <<<"$j")" state "$(jq -r .id <<<"$j")" | jq -r .pid)
	if [ -d /sys/fs/cgroup/memory ]; then
		cg=$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")
		limit=$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes" 2>&1)
	else
		cg=$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")
		limit=$(cat "/sys/fs/cgroup$cg/memory.max" 2>&1)
	fi
	expect_eq "resources.memory: 96Mi is the runner's cgroup memory limit" "$limit" $((96 << 20))
	stop_app
	sed -i '/^resources:/,$d' "$W/berth.yaml"
else
	skip "resources.memory: the runner's cgroup" "no memory controller here"
fi

# The port is taken: a clear error before any container starts.
busy=$(port)
busybox httpd -f -p "127.0.0.1:$busy" -h "$TMP" &
NC=$!
sleep 0.2
timeout 60 "$B" run "$W" --port "$busy" >/dev/null 2>"$TMP/err"
expect_eq "a taken port fails" "$?" 1
check "and says what to do" grep -q "listen on 127.0.0.1:$busy.*--port" "$TMP/err"
kill "$NC" 2>/dev/null
expect_eq "no runner was started" "$(runners)" 0

# A crash during setup: non-zero, with the last lines of the app's log.
C=$TMP/crash
mkdir -p "$C"
cat >"$C/berth.yaml" <<'EOF'
name: crash
image:
  ref: bb:1
run:
  command: 'echo "loading the model"; echo "fatal: no weights" >&2; exit 3'
EOF
start_app "$C"
wait_exit
expect_eq "a crash in setup exits with the app's status" "$RC" 3
check "says it died during setup" grep -q "'crash' exited during setup with status 3" "$TMP/run.log"
check "with the app's last log lines" grep -q "  | fatal: no weights" "$TMP/run.log"
expect_eq "and cleans up its runner" "$(runners)" 0

# startup_timeout: an app that never answers its health check.
T=$TMP/slow
mkdir -p "$T"
cat >"$T/berth.yaml" <<'EOF'
name: slow
image:
  ref: bb:1
run:
  command: echo "still loading"; sleep 60
startup_timeout: 1
termination_grace_period: 1
EOF
start=$(date +%s)
start_app "$T"
wait_exit
expect_eq "startup_timeout stops the app" "$RC" 1
check "with a clear message" grep -q "'slow' was not ready within its startup_timeout (1 s)" "$TMP/run.log"
check "and its log" grep -q "  | still loading" "$TMP/run.log"
[ $(($(date +%s) - start)) -lt 15 ] && ok "within seconds" || not_ok "within seconds"

# Secrets: only the names the app lists are in its environment.
"$B" secrets set TOKEN=tok-s3cr3t-value OTHER=other-value >/dev/null
S=$TMP/sec
mkdir -p "$S"
cat >"$S/berth.yaml" <<'EOF'
name: sec
image:
  ref: bb:1
secrets: [TOKEN]
run:
  command: mkdir -p /tmp/www && env > /tmp/www/env.txt && echo "token is $TOKEN" && exec httpd -f -p 127.0.0.1:$PORT -h /tmp/www
  health:
    path: /env.txt
EOF
start_app "$S" || diag <"$TMP/run.log"
call "http://127.0.0.1:$PORT/env.txt" >/dev/null
check "an allowed secret is in the app's environment" grep -q "^TOKEN=tok-s3cr3t-value$" "$TMP/body"
check "one it does not list is not" lacks "OTHER" "$TMP/body"
check "PORT and BERTH_APP are set" grep -q "^BERTH_APP=sec$" "$TMP/body"
check "the runner knows its id" grep -q "^BERTH_RUNNER_ID=[0-9a-f]\{16\}$" "$TMP/body"
check "the value is masked in the app's output" grep -q "token is \*\*\*\*" "$TMP/run.out"
check "and never shown" lacks "tok-s3cr3t-value" "$TMP/run.out" "$TMP/run.log"
stop_app
"$B" secrets unset TOKEN >/dev/null
"$B" run "$S" --port "$(port)" >/dev/null 2>"$TMP/err"
expect_eq "a listed secret that is not set fails" "$?" 1
check "naming it" grep -q "TOKEN" "$TMP/err"

# Bad input.
"$B" run "$TMP/nowhere" >/dev/null 2>"$TMP/err"
expect_eq "a missing app fails" "$?" 1
"$B" run >/dev/null 2>&1
expect_eq "no app is a usage error" "$?" 2
"$B" run "$W" --port 0 >/dev/null 2>&1
expect_eq "port 0 is a usage error" "$?" 2

# ------------------------------------------------------------- SDK apps

A=$TMP/sdk
mkdir -p "$A"
cat >"$A/app.py" <<'EOF'
import os
import time

import berth
from berth.container import ContainerImage


class Greeter(berth.App):
    image = ContainerImage.from_dockerfile_str("FROM py:1\nRUN echo built > /built.txt\n")
    secrets = ["TOKEN"]
    termination_grace_period_seconds = 3

    def setup(self):
        with open("/data/setups", "a") as f:
            f.write("setup\n")
        self.greeting = "hello"

    def teardown(self):
        with open("/data/teardowns", "a") as f:
            f.write("teardown\n")

    @berth.endpoint("/")
    def greet(self, input: dict) -> dict:
        return {"greeting": self.greeting, "name": input.get("name"),
                "token": os.environ.get("TOKEN"), "other": os.environ.get("OTHER")}

    @berth.endpoint("/stream")
    def stream(self, input: dict):
        for i in range(3):
            yield {"i": i}
            time.sleep(0.2)

    @berth.endpoint("/fail")
    def fail(self, input: dict) -> dict:
        raise RuntimeError("the model fell over")
EOF
"$B" secrets set TOKEN=tok-2 >/dev/null
if start_app "$A/app.py::Greeter"; then ok "SDK app starts"; else
	not_ok "SDK app starts"; diag <"$TMP/run.log"; fi
expect_eq "POST / answers" "$(call -X POST -H 'Content-Type: application/json' -d '{"name":"ada"}' \
	"http://127.0.0.1:$PORT/")" 200
expect_eq "with the endpoint's JSON" "$(jq -c '[.greeting, .name]' "$TMP/body")" '["hello","ada"]'
expect_eq "an allowed secret is in os.environ" "$(jq -r .token "$TMP/body")" tok-2
expect_eq "another is not" "$(jq -r .other "$TMP/body")" null
expect_eq "GET /health is 200" "$(call "http://127.0.0.1:$PORT/health")" 200
expect_eq "an unknown path is 404" "$(call -X POST -d '{}' "http://127.0.0.1:$PORT/nope")" 404
expect_eq "bad JSON is 422" "$(call -X POST -H 'Content-Type: application/json' -d '{nope' \
	"http://127.0.0.1:$PORT/")" 422
expect_eq "an exception is 500" "$(call -X POST -d '{}' "http://127.0.0.1:$PORT/fail")" 500
sleep 0.2
check "with its traceback in the log" grep -q "RuntimeError: the model fell over" "$TMP/run.log"
curl -sN -X POST -d '{}' "http://127.0.0.1:$PORT/stream" >"$TMP/sse"
expect_eq "a generator streams as SSE through the front" "$(grep -c '^data: ' "$TMP/sse")" 3
expect_eq "in order" "$(grep '^data: ' "$TMP/sse" | sed 's/^data: //' | jq -c .i | tr -d '\n')" 012
for i in 1 2 3 4 5; do call -X POST -d '{}' "http://127.0.0.1:$PORT/" >/dev/null; done
expect_eq "setup ran once" "$(grep -c setup "$BERTH_HOME/data/setups")" 1
check "the banner gives a curl for each endpoint" grep -q "curl -X POST http://127.0.0.1:$PORT/stream" "$TMP/run.log"
stop_app
expect_eq "Ctrl-C stops the SDK app with 0" "$RC" 0
expect_eq "teardown ran on stop" "$(grep -c teardown "$BERTH_HOME/data/teardowns" 2>/dev/null)" 1
expect_eq "no runner is left" "$(runners)" 0

# Editing the app's code never rebuilds the image.
layers() { "$B" image inspect localhost/apps/greeter:latest | jq -c .config.rootfs.diff_ids; }
before=$(layers)
sed -i 's/self.greeting = "hello"/self.greeting = "bonjour"/' "$A/app.py"
start_app "$A/app.py::Greeter" || diag <"$TMP/run.log"
call -X POST -d '{"name":"ada"}' "http://127.0.0.1:$PORT/" >/dev/null
expect_eq "the edit is live" "$(jq -r .greeting "$TMP/body")" bonjour
expect_eq "the image's layers are the same" "$(layers)" "$before"
check "its step came from the cache" grep -q "CACHED" "$TMP/run.log"
stop_app

# A setup that fails: non-zero with the traceback.
cat >"$A/broken.py" <<'EOF'
import berth
from berth.container import ContainerImage


class Broken(berth.App):
    image = ContainerImage.from_ref("py:1")

    def setup(self):
        raise ValueError("weights not found at /data/model.bin")

    @berth.endpoint("/")
    def run(self, input: dict) -> dict:
        return {}
EOF
start_app "$A/broken.py::Broken"
wait_exit
expect_eq "a failing setup exits non-zero" "$RC" 1
check "saying it failed in setup" grep -q "'broken' exited during setup" "$TMP/run.log"
check "with the traceback's last line" grep -q "  | ValueError: weights not found" "$TMP/run.log"

# startup_timeout with a slow setup.
cat >"$A/sleepy.py" <<'EOF'
import time

import berth
from berth.container import ContainerImage


class Sleepy(berth.App):
    image = ContainerImage.from_ref("py:1")
    startup_timeout = 1
    termination_grace_period_seconds = 1

    def setup(self):
        print("warming up", flush=True)
        time.sleep(30)

    @berth.endpoint("/")
    def run(self, input: dict) -> dict:
        return {}
EOF
start_app "$A/sleepy.py::Sleepy"
wait_exit
expect_eq "a setup longer than startup_timeout fails" "$RC" 1
check "with the startup_timeout message" grep -q "'sleepy' was not ready within its startup_timeout (1 s)" "$TMP/run.log"
expect_eq "no runner is left" "$(runners)" 0

done_testing
