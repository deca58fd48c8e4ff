#!/bin/bash
# Validation after a build, end to end: small images built by berth from the
# busybox and python test bases, each checked with `berth lint --image` for
# the finding it should fire and a near miss that must not (python3 reachable
# through the PATH and symlinks, its version, CUDA variables, apt lists, .deb
# files, pip and npm caches, the image's user); `berth image inspect --layers`
# against the blobs (compressed sizes, unpacked sizes from the tar, the
# step, the largest files); `berth lint APP` on an SDK app file and on
# berth.yaml files; and `berth run`, which prints the findings, stops an SDK
# app without python3 before starting it and starts the others.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/images.bash"
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP builds and runners need root"; exit 0; }
for t in umoci busybox jq curl python3 tar; do
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
ok "base images: busybox, and python3 from the host's Debian packages"

# build NAME LINE...: build the Dockerfile made of LINEs as NAME.
build() {
	local name=$1
	shift
	printf '%s\n' "$@" >"$TMP/$name.Dockerfile"
	"$B" build -q -f "$TMP/$name.Dockerfile" -t "$name" >/dev/null 2>"$TMP/build.err" ||
		{ echo "# build $name failed:"; diag <"$TMP/build.err"; }
}
# found IMAGE [OPTIONS]: the findings of `lint --image` as "rule@layer ...".
found() {
	local img=$1
	shift
	"$B" lint --image "$img" "$@" --format json 2>"$TMP/lint.err" >"$TMP/lint.json"
	jq -r '[.[] | "\(.rule)@\(.layer // 0)"] | join(" ")' "$TMP/lint.json"
}
# first FIELD: a field of the first finding of the last `found`.
first() { jq -r ".[0].$1" "$TMP/lint.json"; }
rc() { "$@" >/dev/null 2>&1; echo $?; }

# ------------------------------------------------------------- python3

expect_eq "the python base: python3 is on the PATH" "$(found py:1 --sdk)" ""
expect_eq "busybox as an SDK app: python-missing" "$(found bb:1 --sdk)" "image/python-missing@0"
check "  with the seed's words" grep -q 'Python binary not found' <(first message)
check "  and how to install it" grep -q 'apt-get install -y --no-install-recommends python3' <(first fix)
expect_eq "  an error: lint exits 1" "$(rc "$B" lint --image bb:1 --sdk)" 1
expect_eq "busybox as a server app: not checked" "$(found bb:1)" ""

build nolink 'FROM py:1' 'RUN rm /usr/bin/python3'
expect_eq "python3.11 without its python3 link" "$(found nolink --sdk)" "image/python-missing@0"
check "  names the python it found" grep -q 'the image has python3.11 in /usr/bin' <(first message)
expect_eq "  and the seed's symlink fix" "$(first fix)" \
	'link it onto the PATH: `RUN ln -sf /usr/bin/python3.11 /usr/bin/python3`'
build fixed 'FROM nolink' 'RUN ln -s /usr/bin/python3.11 /usr/bin/python3'
expect_eq "near miss: the fix applied" "$(found fixed --sdk)" ""

build local 'FROM py:1' \
	'RUN mkdir -p /usr/local/bin && mv /usr/bin/python3.11 /usr/local/bin/ && rm /usr/bin/python3'
expect_eq "python3.11 in /usr/local/bin only" "$(found local --sdk)" "image/python-missing@0"
check "  found there" grep -q 'python3.11 in /usr/local/bin' <(first message)
check "  and linked there" grep -q 'ln -sf /usr/local/bin/python3.11 /usr/local/bin/python3' <(first fix)
build localfixed 'FROM local' 'RUN ln -s python3.11 /usr/local/bin/python3'
expect_eq "near miss: a relative link in /usr/local/bin" "$(found localfixed --sdk)" ""

build dangling 'FROM py:1' 'RUN rm /usr/bin/python3.11'
expect_eq "python3 left pointing at nothing" "$(found dangling --sdk)" "image/python-missing@0"
check "  says where it points" grep -q "'/usr/bin/python3' is a symlink to 'python3.11', which is not in the image" <(first message)

build opaque 'FROM localfixed' 'RUN rm -rf /usr/local/bin && mkdir /usr/local/bin'
expect_eq "a directory recreated over python3 (opaque)" "$(found opaque --sdk)" "image/python-missing@0"

build old37 'FROM bb:1' 'RUN mkdir -p /usr/bin && cp /bin/busybox /usr/bin/python3.7 && ln -s python3.7 /usr/bin/python3' \
	'ENV PATH=/usr/bin:/bin'
expect_eq "python3 is 3.7: python-old" "$(found old37 --sdk)" "image/python-old@0"
check "  names the version and the binary" grep -q 'Python 3.7 (/usr/bin/python3 -> /usr/bin/python3.7)' <(first message)
expect_eq "  a warning: lint exits 0" "$(rc "$B" lint --image old37 --sdk)" 0
expect_eq "  and 1 with --strict" "$(rc "$B" lint --image old37 --sdk --strict)" 1
build old38 'FROM bb:1' 'RUN mkdir -p /usr/bin && cp /bin/busybox /usr/bin/python3.8 && ln -s python3.8 /usr/bin/python3' \
	'ENV PATH=/usr/bin:/bin'
expect_eq "near miss: 3.8" "$(found old38 --sdk)" ""

# ------------------------------------------------------------------ CUDA

expect_eq "a GPU app on busybox: cuda-env" "$(found bb:1 --gpu)" "image/cuda-env@0"
check "  with the seed's ENV lines" grep -q 'ENV LD_LIBRARY_PATH=$CUDA_HOME/lib64:$LD_LIBRARY_PATH' <(first fix)
build cuda 'FROM bb:1' 'RUN mkdir -p /usr/local/cuda/lib64 /usr/local/cuda/bin' \
	'ENV CUDA_HOME=/usr/local/cuda' 'ENV PATH=$CUDA_HOME/bin:$PATH' \
	'ENV LD_LIBRARY_PATH=$CUDA_HOME/lib64:$LD_LIBRARY_PATH'
expect_eq "near miss: the seed's ENV lines and /usr/local/cuda" "$(found cuda --gpu)" ""
build cudanodir 'FROM bb:1' 'ENV CUDA_HOME=/usr/local/cuda' \
	'ENV LD_LIBRARY_PATH=$CUDA_HOME/lib64:$LD_LIBRARY_PATH'
expect_eq "the ENV lines without the toolkit" "$(found cudanodir --gpu)" "image/cuda-env@0"
check "  says CUDA_HOME names nothing" grep -q "CUDA_HOME is '/usr/local/cuda', which is not a directory in the image" <(first message)
build nvidia 'FROM bb:1' 'ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility'
expect_eq "near miss: NVIDIA_* set, as CUDA base images do" "$(found nvidia --gpu)" ""
expect_eq "near miss: no GPUs asked for" "$(found cudanodir)" ""

# ---------------------------------------------------------------- caches

LISTS=/var/lib/apt/lists
build apt 'FROM bb:1' \
	"RUN mkdir -p $LISTS/partial && head -c 40000 /dev/urandom >$LISTS/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages && : >$LISTS/lock"
expect_eq "apt lists left in a layer" "$(found apt)" "image/apt-lists@2"
expect_eq "  their bytes" "$(first bytes)" 40000
check "  the step that left them" grep -q '^layer 2 (`RUN mkdir -p /var/lib/apt/lists/partial' <(first message)
check "  and the fix" grep -q 'rm -rf /var/lib/apt/lists/\*' <(first fix)
check "  still in the image: no 'later step' note" bash -c "! jq -r '.[0].message' '$TMP/lint.json' | grep -q 'later step'"
expect_eq "  a warning: lint exits 0" "$(rc "$B" lint --image apt)" 0
build aptclean 'FROM bb:1' \
	"RUN mkdir -p $LISTS/partial && head -c 40000 /dev/urandom >$LISTS/Packages && : >$LISTS/lock && rm -rf $LISTS/*"
expect_eq "near miss: removed in the same RUN" "$(found aptclean)" ""
build aptlock 'FROM bb:1' "RUN mkdir -p $LISTS/partial && : >$LISTS/lock"
expect_eq "near miss: apt's lock and an empty partial/" "$(found aptlock)" ""
build aptlater 'FROM apt' "RUN rm -rf $LISTS/*"
expect_eq "removed by a later RUN: still in layer 2" "$(found aptlater)" "image/apt-lists@2"
check "  says the bytes stay" grep -q 'a later step removed it, but the bytes stay in this layer' <(first message)

build debs 'FROM bb:1' 'RUN mkdir -p /var/cache/apt/archives/partial && head -c 3000 /dev/urandom >/var/cache/apt/archives/curl_7.88.1_amd64.deb && : >/var/cache/apt/archives/lock'
expect_eq "downloaded .deb files" "$(found debs)" "image/apt-archives@2"
expect_eq "  only the .deb bytes" "$(first bytes)" 3000

build pip 'FROM py:1' 'RUN mkdir -p /root/.cache/pip/http/a && head -c 123456 /dev/urandom >/root/.cache/pip/http/a/blob'
expect_eq "a pip cache in /root" "$(found pip --sdk)" "image/pip-cache@2"
expect_eq "  its bytes" "$(first bytes)" 123456
check "  the fix: --no-cache-dir" grep -q 'pip install --no-cache-dir' <(first fix)
build pipuser 'FROM bb:1' \
	'RUN mkdir -p /home/app/.cache/pip /home/app/.npm/_cacache && echo x >/home/app/.cache/pip/w && echo y >/home/app/.npm/_cacache/i' \
	'USER app'
expect_eq "USER app: the caches in its home" "$(found pipuser)" "image/pip-cache@2 image/npm-cache@2"
expect_eq "  found in /home/app" "$(first path)" /home/app/.cache/pip
build pipnocache 'FROM bb:1' 'RUN mkdir -p /root/.cache /root/.npm'
expect_eq "near miss: empty cache directories" "$(found pipnocache)" ""
build npm 'FROM bb:1' 'RUN mkdir -p /root/.npm/_cacache && head -c 700 /dev/urandom >/root/.npm/_cacache/index'
expect_eq "an npm cache" "$(found npm)" "image/npm-cache@2"

"$B" lint --image apt >"$TMP/out" 2>"$TMP/err"
check "text: IMAGE: SEVERITY: RULE message (fix: ...)" \
	grep -q '^apt: warning: image/apt-lists layer 2 (`RUN .*) keeps 40.0 kB of apt package lists in /var/lib/apt/lists (1 file) (fix: ' "$TMP/out"
check "a summary with the time it took" grep -q '^berth: apt: 1 finding: 1 warning (image checked in [0-9.]* ms)$' "$TMP/err"
expect_eq "--list-checks names the seven checks" "$("$B" lint --list-checks --format json | jq -r '.[].id' | tr '\n' ' ')" \
	"image/python-missing image/python-old image/cuda-env image/apt-lists image/apt-archives image/pip-cache image/npm-cache "
documented=$(sed -n 's/^| `\(image\/[^`]*\)` |.*/\1/p' "$(dirname "$0")/../../docs/lint.md" | sort -u | tr '\n' ' ')
expect_eq "docs/lint.md documents exactly those checks" "$documented" \
	"$("$B" lint --list-checks --format json | jq -r '.[].id' | sort | tr '\n' ' ')"
expect_eq "an image not in the store: exit 1" "$(rc "$B" lint --image nosuch:1)" 1
expect_eq "--image with a Dockerfile too: usage" "$(rc "$B" lint --image apt Dockerfile)" 2

# ----------------------------------------------------- inspect --layers

"$B" image inspect --layers --format json aptlater >"$TMP/layers.json"
expect_eq "inspect --layers: one entry per layer" "$(jq '.layers | length' "$TMP/layers.json")" \
	"$("$B" image inspect aptlater | jq '.layers | length')"
sizes_ok=yes
while read -r d c u; do
	f=$BERTH_HOME/blobs/sha256/${d#sha256:}
	[ "$(stat -c %s "$f")" = "$c" ] || { sizes_ok="compressed $d: $(stat -c %s "$f") != $c"; break; }
	t=$(tar -tvzf "$f" 2>/dev/null | awk '$1 ~ /^-/ {s += $3} END {print s + 0}')
	[ "$t" = "$u" ] || { sizes_ok="unpacked $d: tar says $t, inspect $u"; break; }
done < <(jq -r '.layers[] | "\(.digest) \(.compressed_size) \(.unpacked_size)"' "$TMP/layers.json")
expect_eq "compressed sizes are the blobs', unpacked the tar's regular files" "$sizes_ok" yes
expect_eq "layer 2's step, as recorded" "$(jq -r '.layers[1].created_by' "$TMP/layers.json")" \
	"RUN /bin/sh -c mkdir -p $LISTS/partial && head -c 40000 /dev/urandom >$LISTS/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages && : >$LISTS/lock # buildkit"
expect_eq "  and as written" "$(jq -r '.layers[2].step' "$TMP/layers.json")" "RUN rm -rf $LISTS/*"
expect_eq "layer 2's largest file" "$(jq -r '.layers[1].largest[0] | "\(.path) \(.size)"' "$TMP/layers.json")" \
	"$LISTS/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages 40000"
expect_eq "layer 3 deletes what it removed (the list, lock, partial/)" \
	"$(jq -r '.layers[2].whiteouts' "$TMP/layers.json")" 3
"$B" image inspect --layers --format json py:1 >"$TMP/py.json"
expect_eq "five largest files of the python base" "$(jq '.layers[0].largest | length' "$TMP/py.json")" 5
expect_eq "  biggest first" "$(jq '[.layers[0].largest[].size] | . == (sort | reverse)' "$TMP/py.json")" true
expect_eq "  the interpreter among them, at its size" \
	"$(jq -r '.layers[0].largest[] | select(.path == "/usr/bin/python3.11") | .size' "$TMP/py.json")" \
	"$(stat -L -c %s /usr/bin/python3)"
"$B" image inspect --layers aptlater >"$TMP/table"
check "the table's header" grep -q '^LAYER COMPRESSED   UNPACKED   FILES  STEP$' "$TMP/table"
check "  layer 2 with its step" grep -q '^2 .*  RUN mkdir -p /var/lib/apt/lists/partial' "$TMP/table"
check "  its largest file under it" grep -q "^ *40.0 kB  $LISTS/deb.debian.org" "$TMP/table"
check "  a deleting layer says so" grep -q '^3 .*RUN rm -rf /var/lib/apt/lists/\* (deletes 3 paths)$' "$TMP/table"
check "  and a total" grep -q '^TOTAL .* 3 layers of aptlater$' "$TMP/table"
# Layers not unpacked (removed here) are unpacked again first.
chain=$(jq -r '.layers[1].chain_id' "$TMP/layers.json")
rm -rf "$BERTH_HOME/layers/${chain#sha256:}"
"$B" image inspect --layers --format json aptlater >"$TMP/again.json" 2>"$TMP/err"
expect_eq "a layer that was not unpacked is unpacked first" \
	"$(jq -c '[.layers[].unpacked_size]' "$TMP/again.json")" "$(jq -c '[.layers[].unpacked_size]' "$TMP/layers.json")"
expect_eq "--format without --layers: usage" "$(rc "$B" image inspect --format json apt)" 2
expect_eq "--format yaml: usage" "$(rc "$B" image inspect --layers --format yaml apt)" 2
expect_eq "plain inspect still prints the config" "$("$B" image inspect apt | jq -r .config.os)" linux

# ------------------------------------------------------- berth lint APP

A=$TMP/apps
mkdir -p "$A"
cat >"$A/app.py" <<'EOF'
import berth
from berth.container import ContainerImage


class OnDebian(berth.App):
    image = ContainerImage.from_dockerfile_str("FROM debian:bookworm-slim\nRUN echo hi\n")

    @berth.endpoint("/")
    def run(self, input: dict) -> dict:
        return {}


class OnPython(berth.App):
    image = ContainerImage.from_dockerfile_str("FROM python:3.11-slim\nRUN echo hi\n")

    @berth.endpoint("/")
    def run(self, input: dict) -> dict:
        return {}


class Stored(berth.App):
    image = ContainerImage.from_ref("nolink")

    @berth.endpoint("/")
    def run(self, input: dict) -> dict:
        return {}


class StoredFixed(berth.App):
    image = ContainerImage.from_ref("fixed")

    @berth.endpoint("/")
    def run(self, input: dict) -> dict:
        return {}


class NotStored(berth.App):
    image = ContainerImage.from_ref("elsewhere:1")

    @berth.endpoint("/")
    def run(self, input: dict) -> dict:
        return {}
EOF
"$B" lint "$A/app.py::OnDebian" >"$TMP/out" 2>"$TMP/err"
expect_eq "lint APP: an SDK app on debian fails (exit 1)" "$?" 1
check "  berth/python-missing, from the spec's SDK kind" \
	grep -q "^$A/app.py::OnDebian (image.dockerfile):1: error: berth/python-missing" "$TMP/out"
check "  and says what the spec made of the app" grep -q "app '[a-z-]*': an SDK app; its Dockerfile is linted as with --sdk$" "$TMP/err"
"$B" lint "$A/app.py::OnPython" >"$TMP/out" 2>"$TMP/err"
expect_eq "near miss: FROM python:3.11-slim passes" "$?" 0
check "  without berth/python-missing" bash -c "! grep -q python-missing '$TMP/out'"
"$B" lint "$A/app.py::Stored" --format json >"$TMP/out.json" 2>"$TMP/err"
expect_eq "an SDK app on a stored image.ref: the image is validated" \
	"$(jq -r '[.[] | .rule] | join(" ")' "$TMP/out.json")" "image/python-missing"
expect_eq "  with the symlink fix" "$(jq -r '.[0].fix' "$TMP/out.json")" \
	'link it onto the PATH: `RUN ln -sf /usr/bin/python3.11 /usr/bin/python3`'
expect_eq "near miss: the fixed image" "$(rc "$B" lint "$A/app.py::StoredFixed")" 0
"$B" lint "$A/app.py::NotStored" >"$TMP/out" 2>"$TMP/err"
expect_eq "an image.ref not in the store: exit 0" "$?" 0
check "  with a note that it was not checked" grep -q "image 'elsewhere:1' is not in the store, so it was not checked" "$TMP/err"

Y=$A/gpu
mkdir -p "$Y"
cat >"$Y/berth.yaml" <<'EOF'
name: gpu
image:
  dockerfile: |
    FROM bb:1
    RUN echo hi
run:
  command: exec httpd -f -p $PORT
gpus: 1
EOF
"$B" lint "$Y" >"$TMP/out" 2>"$TMP/err"
check "lint DIR with a berth.yaml asking for GPUs: berth/cuda-env" \
	grep -q "^$Y/berth.yaml (image.dockerfile):1: warning: berth/cuda-env" "$TMP/out"
check "  a server app linted as with --gpu" grep -q "app 'gpu': a server app asking for 1 GPU; its Dockerfile is linted as with --gpu" "$TMP/err"
sed -i '/^gpus:/d' "$Y/berth.yaml"
"$B" lint "$Y/berth.yaml" >"$TMP/out" 2>&1
check "near miss: the same berth.yaml without gpus" bash -c "! grep -q cuda-env '$TMP/out'"
printf 'FROM bb:1\nRUN echo  hi\nCMD httpd -f\n' >"$Y/app.Dockerfile"
cat >"$Y/berth.yaml" <<'EOF'
name: gpu
image:
  dockerfile_path: app.Dockerfile
EOF
"$B" lint "$Y/berth.yaml" >"$TMP/out" 2>&1
check "image.dockerfile_path: findings name that file and its line" \
	grep -q "^$Y/app.Dockerfile:3: warning: JSONArgsRecommended" "$TMP/out"
mkdir -p "$A/plain"
printf 'FROM bb:1\nCMD httpd -f\n' >"$A/plain/Dockerfile"
"$B" lint "$A/plain" >"$TMP/out" 2>&1
check "a directory without berth.yaml is still its Dockerfile" grep -q "^$A/plain/Dockerfile:2: warning: JSONArgsRecommended" "$TMP/out"

# ------------------------------------------------------------ berth run

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
runners() { "$B" container ls -a -q | wc -l; }

cat >"$A/run.py" <<'EOF'
import berth
from berth.container import ContainerImage


class NoPython(berth.App):
    image = ContainerImage.from_dockerfile_str("FROM bb:1\nRUN echo built\n")

    @berth.endpoint("/")
    def run(self, input: dict) -> dict:
        return {}


class Cached(berth.App):
    image = ContainerImage.from_dockerfile_str(
        "FROM py:1\nRUN mkdir -p /root/.cache/pip && head -c 5000 /dev/urandom >/root/.cache/pip/x\n")

    @berth.endpoint("/")
    def run(self, input: dict) -> dict:
        return {"ok": True}
EOF
timeout 120 "$B" run "$A/run.py::NoPython" --port "$(port)" >"$TMP/run.out" 2>"$TMP/run.log"
expect_eq "berth run: an SDK app without python3 stops (exit 1)" "$?" 1
check "  printing the error" grep -q '^berth: error: image/python-missing python3 is not on the image' "$TMP/run.log"
check "  with the fix" grep -q '(fix: install Python 3.8 or newer' "$TMP/run.log"
check "  and why it stops" grep -q "not starting the app, which would fail" "$TMP/run.log"
check "  before any runner starts" bash -c "! grep -q 'runner .* starting' '$TMP/run.log'"
expect_eq "  no runner is left" "$(runners)" 0

PORT=$(port)
"$B" run "$A/run.py::Cached" --port "$PORT" >"$TMP/run.out" 2>"$TMP/run.log" &
RUN_PID=$!
for i in $(seq 1 600); do
	grep -q "is ready in" "$TMP/run.log" && break
	kill -0 "$RUN_PID" 2>/dev/null || break
	sleep 0.05
done
check "berth run: a warning does not stop the app" grep -q "is ready in" "$TMP/run.log"
check "  the warning is printed" grep -q '^berth: warning: image/pip-cache layer 2 (`RUN mkdir -p /root/.cache/pip' "$TMP/run.log"
expect_eq "  and the app answers" \
	"$(curl -s -X POST -H 'Content-Type: application/json' -d '{}' "http://127.0.0.1:$PORT/" | jq -c .)" '{"ok":true}'
ms=$(sed -n 's/^berth: image checked in \([0-9.]*\) ms.*/\1/p' "$TMP/run.log")
echo "# berth run: the image check took ${ms:-?} ms (python test image, $(jq '.layers | length' <("$B" image inspect localhost/apps/cached:latest)) layers)"
kill -INT "$RUN_PID"
wait "$RUN_PID"
expect_eq "  Ctrl-C stops it with 0" "$?" 0
RUN_PID=

# How long a check of the python test image takes, for the report (not a test).
t0=$(date +%s%N)
for i in 1 2 3 4 5 6 7 8 9 10; do "$B" lint --image py:1 --sdk >/dev/null 2>"$TMP/err"; done
t1=$(date +%s%N)
echo "# lint --image py:1 --sdk: $(sed -n 's/.*(image checked in \(.*\))$/\1/p' "$TMP/err") inside, $(((t1 - t0) / 10000000)) ms per process"

done_testing
