#!/bin/bash
# `berth build` end to end on a busybox base made by umoci: each config
# instruction's effect, RUN in a container (env, ARGs, user, workdir,
# network), layers that hold only what a step changed, multi-stage builds
# that skip unused stages, COPY from the context and from stages with
# .dockerignore, the layer cache (hits, misses, --no-cache), and errors.
. "$(dirname "$0")/lib.bash"
# For free_port and _wait_listen (its EXIT trap is replaced by ours below).
. "$(dirname "$0")/registry.bash"
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP builds need root"; exit 0; }
for t in umoci busybox jq; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed (make deps)"; exit 0; }
done
command -v crun >/dev/null || command -v runc >/dev/null ||
	{ echo "1..0 # SKIP no OCI runtime (crun or runc) is installed"; exit 0; }

export BERTH_HOME=$TMP/home
B=$BERTH
HTTPD=
cleanup() {
	[ -n "$HTTPD" ] && kill "$HTTPD" 2>/dev/null
	grep -q " $BERTH_HOME" /proc/self/mountinfo &&
		awk -v h="$BERTH_HOME" 'index($5, h) == 1 {print $5}' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m"; done
	_reg_cleanup # registries started here, then $TMP
}
trap cleanup EXIT

# --- the base: static busybox, a user, Cmd /bin/sh ---
R=$TMP/rootfs
mkdir -p "$R"/{bin,etc,tmp}
chmod 1777 "$R/tmp"
cp "$(command -v busybox)" "$R/bin/"
for a in sh echo cat ls id pwd sleep touch mkdir rm chmod stat wc env true false grep test head \
	ip sha256sum cut; do
	ln -s busybox "$R/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' >"$R/etc/group"
(cd "$TMP" && umoci init --layout oci && umoci new --image oci:bb &&
	umoci insert --image oci:bb rootfs / &&
	umoci config --image oci:bb --config.cmd=/bin/sh --config.env=PATH=/bin \
		--architecture=amd64 --os=linux && umoci gc --layout oci) >/dev/null 2>&1 ||
	{ not_ok "umoci fixture"; done_testing; exit; }
"$B" image load "$TMP/oci" -t bb:1 >/dev/null 2>"$TMP/err" ||
	{ not_ok "load the base"; diag <"$TMP/err"; done_testing; exit; }

# build NAME DOCKERFILE-TEXT [ARGS...]: build into tag NAME; stderr in $TMP/log.
build() {
	local name=$1 text=$2
	shift 2
	"$B" build --dockerfile-str "$text" -t "$name" "$@" 2>"$TMP/log"
}
cfg() { "$B" image inspect "$1" | jq -c ".config.config$2"; }
run() { "$B" container run --rm "$@" 2>&1; }
lacks() { ! grep -Eq -- "$@"; }
# layer_files NAME N: the paths in the image's Nth layer (0-based), sorted.
layer_files() {
	local d
	d=$("$B" image inspect "$1" | jq -r ".layers[$2].digest" | cut -d: -f2)
	tar -tzf "$BERTH_HOME/blobs/sha256/$d" | sort | tr '\n' ' '
}
nlayers() { "$B" image inspect "$1" | jq '.layers | length'; }

# --- 1. config instructions ---
DF1='FROM bb:1
LABEL org.example.a=1 "b c"=d
ENV A=1 B=two
ENV C="$A-$B"
EXPOSE 80 53/udp
VOLUME /data
USER app
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=2 CMD true
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/echo"]
CMD ["hi"]
'
digest=$(build cfg:1 "$DF1")
check "a config-only build succeeds and prints a digest" grep -qE '^sha256:[0-9a-f]{64}$' <<<"$digest"
expect_eq "LABEL" "$(cfg cfg:1 .Labels)" '{"b c":"d","org.example.a":"1"}'
expect_eq "ENV (pairs see the env before the line)" "$(cfg cfg:1 .Env)" \
	'["PATH=/bin","A=1","B=two","C=1-two"]'
expect_eq "EXPOSE" "$(cfg cfg:1 .ExposedPorts)" '{"53/udp":{},"80/tcp":{}}'
expect_eq "VOLUME" "$(cfg cfg:1 .Volumes)" '{"/data":{}}'
expect_eq "USER" "$(cfg cfg:1 .User)" '"app"'
expect_eq "STOPSIGNAL" "$(cfg cfg:1 .StopSignal)" '"SIGTERM"'
expect_eq "HEALTHCHECK" "$(cfg cfg:1 .Healthcheck)" \
	'{"Interval":5000000000,"Retries":2,"Test":["CMD-SHELL","true"]}'
expect_eq "SHELL" "$(cfg cfg:1 .Shell)" '["/bin/sh","-ec"]'
expect_eq "ENTRYPOINT and CMD" "$(cfg cfg:1 '| [.Entrypoint, .Cmd]')" '[["/bin/echo"],["hi"]]'
expect_eq "config-only steps add no layer" "$(nlayers cfg:1)" 1
expect_eq "history: one entry per instruction after the base's" \
	"$("$B" image inspect cfg:1 | jq '[.config.history[] | select(.created_by | test("umoci") | not)] | length')" 11
expect_eq "the image runs as built (entrypoint + cmd, user)" "$(run cfg:1)" hi
expect_eq "ENTRYPOINT without CMD in the stage resets the inherited Cmd" \
	"$(build ep:1 $'FROM bb:1\nENTRYPOINT ["/bin/echo","x"]' >/dev/null; cfg ep:1 .Cmd)" null

# --- 2. RUN ---
DF2='FROM bb:1
ARG V=1
ENV GREETING=hello
WORKDIR /app
RUN echo "$GREETING $V $(id -u) $(pwd) $(cat /etc/hostname)" > /app/out
RUN ["/bin/sh", "-c", "echo exec-form >> /app/out"]
USER app
RUN id -u > /tmp/uid
CMD ["cat", "/app/out"]
'
build run:1 "$DF2" >/dev/null
expect_eq "RUN sees ENV, ARG, root, WORKDIR and the sandbox hostname; exec form" \
	"$(run run:1)" "hello 1 0 /app buildkitsandbox
exec-form"
expect_eq "RUN after USER runs as that user" "$(run run:1 cat /tmp/uid)" 1000
expect_eq "WORKDIR makes a layer with the directory" "$(layer_files run:1 1)" "app/ "
expect_eq "a RUN layer holds what the step changed, not the runtime's mount points" \
	"$(layer_files run:1 2)" "app/ app/out "
check "RUN history lists the ARGs like BuildKit" \
	grep -q '"RUN |1 V=1 /bin/sh -c echo' <<<"$("$B" image inspect run:1 | jq -c .config.history)"
build net:1 $'FROM bb:1\nRUN --network=none ip -o link | wc -l > /n' >/dev/null
expect_eq "RUN --network=none has only loopback" "$(run net:1 cat /n)" 1
build fail:1 $'FROM bb:1\nRUN echo before; exit 3' >/dev/null; rc=$?
check "a failing RUN fails the build" test "$rc" -ne 0
check "  with BuildKit's message and the exit code" \
	grep -q 'did not complete successfully: exit code: 3' "$TMP/log"
check "  and its output shown" grep -q before "$TMP/log"
expect_eq "  and no tag is made" "$("$B" image inspect fail:1 >/dev/null 2>&1; echo $?)" 1

# --- 3. the cache ---
build run:2 "$DF2" >/dev/null
expect_eq "a second build is fully cached" "$(grep -c CACHED "$TMP/log")" 4
expect_eq "  and makes the same layers" "$("$B" image inspect run:2 | jq -c '[.layers[].digest]')" \
	"$("$B" image inspect run:1 | jq -c '[.layers[].digest]')"
build run:3 "$DF2" --build-arg V=2 >/dev/null
expect_eq "changing an ARG misses from the first RUN after it" "$(grep -c CACHED "$TMP/log")" 1
check "  and says why" grep -q "cache miss: ARG/ENV V changed" "$TMP/log"
expect_eq "  and the new value is used" "$(run run:3 | head -1 | cut -d' ' -f2)" 2
build run:4 "$DF2" --no-cache >/dev/null
expect_eq "--no-cache runs every step" "$(grep -c CACHED "$TMP/log")" 0
build run:5 "$DF2" >/dev/null
expect_eq "  but records: the next build hits again" "$(grep -c CACHED "$TMP/log")" 4
build run:6 "$DF2" --force-env-build >/dev/null
expect_eq "--force-env-build is --no-cache" "$(grep -c CACHED "$TMP/log")" 0

# --- 4. stages ---
DF4='FROM bb:1 AS unused
RUN echo UNUSED-STAGE-RAN
FROM bb:1 AS builder
RUN echo built > /artifact
FROM bb:1
RUN echo final > /f
'
build st:1 "$DF4" >/dev/null
check "a stage the target does not need is not built" lacks UNUSED-STAGE-RAN "$TMP/log"
build st:2 "$DF4" --target builder >/dev/null
expect_eq "--target builds that stage" "$(run st:2 cat /artifact)" built
build st:3 $'FROM bb:1 AS a\nRUN echo a > /a\nFROM a\nRUN cat /a > /b' >/dev/null
# Independent stages run at once: each waits (5 s at most) in a shared cache
# mount for the other's marker, which only works if both run together.
DFP='FROM bb:1 AS a
RUN --mount=type=cache,id=meet,target=/m touch /m/a; for i in $(seq 50); do test -e /m/b && break; sleep 0.1; done; test -e /m/b && echo met > /o
FROM bb:1 AS b
RUN --mount=type=cache,id=meet,target=/m touch /m/b; for i in $(seq 50); do test -e /m/a && break; sleep 0.1; done; test -e /m/a && echo met > /o
FROM bb:1
COPY --from=a /o /oa
COPY --from=b /o /ob
'
build par:1 "$DFP" --no-cache >/dev/null
expect_eq "two independent stages run at the same time" "$(run par:1 cat /oa /ob)" "met
met"
build par:2 $'FROM bb:1 AS a\nRUN exit 4\nFROM bb:1 AS b\nRUN true\nFROM bb:1\nCOPY --from=a /bin/sh /x\nCOPY --from=b /bin/sh /y' \
	>/dev/null; rc=$?
check "a stage failing in a parallel wave fails the build" test "$rc" -ne 0
check "  with that stage's error" grep -q "exit code: 4" "$TMP/log"
expect_eq "  and no tag" "$("$B" image inspect par:2 >/dev/null 2>&1; echo $?)" 1
expect_eq "FROM an earlier stage builds on it" "$(run st:3 cat /b)" a

# --- 5. errors ---
build e:1 $'FROM nosuch-image-here:1\nRUN true' --runtime crun >/dev/null 2>&1
# (no registry is reachable here; the message must say what failed)
check "FROM a missing image fails" test -s "$TMP/log"
build e:3 $'FROM bb:1\nCOPY a /a' >/dev/null
check "COPY without a context says to give one" grep -q "give --context DIR" "$TMP/log"
"$B" build >/dev/null 2>&1; rc=$?
expect_eq "no Dockerfile is a usage error" "$rc" 2
build e:4 $'FROM bb:1\nRUN <<EOF' >/dev/null
check "a parse error names the line" grep -qE 'Dockerfile:2|line 2' "$TMP/log"

# --- 6. RUN --mount: secrets, caches, tmpfs ---
MARK="s3cr3t-$RANDOM$RANDOM-value"
export TOKVAR=$MARK
# The RUNs compare digests: the value itself must appear nowhere but the secret.
HASH=$(printf %s "$MARK" | sha256sum | cut -c1-64)
DF6='FROM bb:1
ARG EXPECT
RUN --mount=type=secret,id=tok test "$(sha256sum < /run/secrets/tok | cut -c1-64)" = "$EXPECT" && echo file-ok > /r1
RUN --mount=type=secret,id=tok,env=TOK test "$(printf %s "$TOK" | sha256sum | cut -c1-64)" = "$EXPECT" && echo env-ok > /r2
RUN --mount=type=secret,id=none echo optional-secret-skipped > /r3
RUN --mount=type=secret,id=tok,env=TOK echo "leaked: $TOK"
'
build sec:1 "$DF6" --build-arg EXPECT="$HASH" --secret id=tok,env=TOKVAR >/dev/null
check "a secret as a file and as an env variable" test "$(run sec:1 cat /r1 /r2 /r3)" = "file-ok
env-ok
optional-secret-skipped"
check "a secret a RUN prints is masked in the build output" grep -q "leaked: \*\*\*\*" "$TMP/log"
check "  and never shown" lacks "$MARK" "$TMP/log"
expect_eq "the secret's value is in no blob: layers (decompressed), configs, manifests" \
	"$(for f in "$BERTH_HOME"/blobs/sha256/*; do zcat -f "$f" 2>/dev/null | grep -aq -- "$MARK" &&
		echo "$f"; done)" ""
check "  nor in the state database, the cache or any other file" \
	test -z "$(grep -rl --exclude-dir=blobs -- "$MARK" "$BERTH_HOME" 2>/dev/null)"
expect_eq "  and the mount points it needed are not in the layers" \
	"$(layer_files sec:1 1)$(layer_files sec:1 2)$(layer_files sec:1 3)" "r1 r2 r3 "
"$B" secrets set BUILD_TOKEN="$MARK" >/dev/null
build sec:2 $'FROM bb:1\nARG EXPECT\nRUN --mount=type=secret,id=t,required=true test "$(sha256sum < /run/secrets/t | cut -c1-64)" = "$EXPECT" && touch /ok' \
	--build-arg EXPECT="$HASH" --secret 'id=t,value=$BUILD_TOKEN' >/dev/null
expect_eq "--secret value=\$NAME reads the secret store" "$(run sec:2 ls /ok)" /ok
build sec:3 $'FROM bb:1\nRUN --mount=type=secret,id=t,required=true true' >/dev/null; rc=$?
check "a required secret that is not given fails the build" test "$rc" -ne 0
check "  naming it" grep -q "secret 't' is required" "$TMP/log"
build sec:4 $'FROM bb:1\nRUN true' --secret 'id=t,value=$NOT_SET_HERE' >/dev/null; rc=$?
check "--secret naming a missing store secret fails" grep -q "NOT_SET_HERE" "$TMP/log"

DF7='FROM bb:1
RUN --mount=type=cache,target=/cache echo run >> /cache/log && wc -l < /cache/log > /count
RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/x && test -f /scratch/x && touch /tmpfs-ok
'
build cache:1 "$DF7" >/dev/null
build cache:2 "$DF7" --no-cache >/dev/null
expect_eq "a cache mount keeps its content across builds" "$(run cache:2 cat /count)" 2
expect_eq "  and is not in the image" "$(run cache:2 sh -c 'test -e /cache && echo yes || echo no')" no
expect_eq "a tmpfs mount works and leaves nothing" "$(layer_files cache:2 2)" "tmpfs-ok "

DF8='FROM bb:1 AS tools
RUN echo from-stage > /tool
FROM bb:1
RUN --mount=type=bind,from=tools,source=/tool,target=/mnt/tool cat /mnt/tool > /copied
'
build bind:1 "$DF8" >/dev/null
expect_eq "a bind mount from another stage" "$(run bind:1 cat /copied)" from-stage

# --- 7. heredocs ---
DFH='FROM bb:1
RUN <<EOF
echo one > /h1
echo two >> /h1
EOF
RUN cat <<A > /h2
alpha
A
'
build here:1 "$DFH" >/dev/null
expect_eq "RUN <<EOF runs the body; cmd <<A feeds it" "$(run here:1 cat /h1 /h2)" "one
two
alpha"

# --- 8. COPY and ADD ---
C=$TMP/ctx
mkdir -p "$C/src/sub" "$C/logs"
echo a >"$C/src/a.txt"; echo b >"$C/src/b.txt"; echo deep >"$C/src/sub/deep.txt"
echo secret-notes >"$C/notes.md"; echo log >"$C/logs/x.log"; echo keep >"$C/logs/keep.log"
printf '# comment\n*.md\nlogs\n!logs/keep.log\n' >"$C/.dockerignore"
DFC='FROM bb:1
COPY src/a.txt /one/
COPY src /tree
COPY src/*.txt /globbed/
COPY --chown=app --chmod=640 src/b.txt /owned
COPY . /all
'
cbuild() { "$B" build --dockerfile-str "$1" --context "$C" -t "$2" "${@:3}" 2>"$TMP/log"; }
cbuild "$DFC" copy:1 >/dev/null
expect_eq "COPY a file into a directory" "$(run copy:1 cat /one/a.txt)" a
expect_eq "COPY a directory copies its contents" "$(run copy:1 sh -c 'ls /tree; cat /tree/sub/deep.txt')" "a.txt
b.txt
sub
deep"
expect_eq "COPY with a wildcard" "$(run copy:1 ls /globbed)" "a.txt
b.txt"
expect_eq "COPY --chown=NAME --chmod=640" "$(run copy:1 stat -c '%u:%g %a' /owned)" "1000:1000 640"
expect_eq ".dockerignore: *.md and logs/ out, !logs/keep.log back in" \
	"$(run copy:1 sh -c 'cd /all && ls -a | grep -v "^\.\.*$"; ls logs')" ".dockerignore
logs
src
keep.log"
cbuild "$DFC" copy:2 >/dev/null
expect_eq "a second build: every COPY cached" "$(grep -c CACHED "$TMP/log")" 5
touch "$C/src/a.txt"
cbuild "$DFC" copy:3 >/dev/null
expect_eq "touching a file keeps the cache" "$(grep -c CACHED "$TMP/log")" 5
echo changed >"$C/src/b.txt"
cbuild "$DFC" copy:4 >/dev/null
expect_eq "changing its content misses from the first COPY that reads it" \
	"$(grep -c CACHED "$TMP/log")" 1
expect_eq "  and the image has the new content" "$(run copy:4 cat /tree/b.txt)" changed
check "  the miss names the source that changed" grep -q "cache miss: file src changed" "$TMP/log"
check "  (a file a wildcard picked is named itself)" grep -q "cache miss: file src/b.txt changed" "$TMP/log"
echo more >"$C/notes.md"
cbuild "$DFC" copy:5 >/dev/null
expect_eq "changing an ignored file keeps the cache" "$(grep -c CACHED "$TMP/log")" 5
cbuild $'FROM bb:1\nCOPY src/a.txt src/b.txt /x' copy:6 >/dev/null; rc=$?
check "several sources need a directory destination (Docker's message)" \
	grep -q "must be a directory and end with a /" "$TMP/log"
cbuild $'FROM bb:1\nCOPY nothere.txt /x' copy:7 >/dev/null; rc=$?
check "a missing source fails, naming it" grep -q "nothere.txt" "$TMP/log"
cbuild $'FROM bb:1\nCOPY notes.md /x' copy:8 >/dev/null; rc=$?
check "an ignored source is not there" test "$rc" -ne 0
cbuild $'FROM bb:1 AS b\nRUN mkdir /out && echo made > /out/f && chown 1000 /out/f\nFROM bb:1\nCOPY --from=b /out/f /got' copy:9 >/dev/null
expect_eq "COPY --from a stage keeps its owner" "$(run copy:9 sh -c 'cat /got; stat -c %u /got')" "made
1000"
cbuild $'FROM bb:1\nWORKDIR /w\nCOPY src/a.txt ./\nCOPY src/b.txt rel/named\nCOPY src/sub .' rel:1 >/dev/null
expect_eq "relative destinations are under WORKDIR" "$(run rel:1 sh -c 'cd /w && ls; cat rel/named')" "a.txt
deep.txt
rel
changed"
cbuild $'FROM bb:1\nCOPY --from=copy:9 /got /from-image' copy:12 >/dev/null
expect_eq "COPY --from an image in the store, owner kept" \
	"$(run copy:12 sh -c 'cat /from-image; stat -c %u /from-image')" "made
1000"
A=$TMP/arch
mkdir -p "$A/t/sub"; echo inner >"$A/t/sub/f"; echo top >"$A/t/top"; echo plain >"$A/c.txt"
(cd "$A/t" && tar --owner=0 --group=0 -czf ../a.tar.gz . && tar --owner=0 --group=0 -cf ../b.tar top)
"$B" build --dockerfile-str $'FROM bb:1\nADD a.tar.gz /x\nADD b.tar c.txt /y/\nCOPY a.tar.gz /z/' \
	--context "$A" -t arch:1 >/dev/null 2>"$TMP/log"
expect_eq "ADD unpacks local tar archives (gzip or plain); COPY does not" \
	"$(run arch:1 sh -c 'cat /x/sub/f /x/top /y/top /y/c.txt; ls /z')" "inner
top
top
plain
a.tar.gz"
X=$TMP/excl
mkdir -p "$X/src/sub"
echo a >"$X/src/a.txt"; echo b >"$X/src/b.md"; echo c >"$X/src/sub/c.txt"; echo d >"$X/src/sub/d.md"
"$B" build --dockerfile-str $'FROM bb:1\nCOPY --exclude=*.md src /s1\nCOPY --exclude=**/*.txt src /s2' \
	--context "$X" -t excl:1 >/dev/null 2>"$TMP/log"
expect_eq "COPY --exclude: patterns under the source, ** across directories" \
	"$(run excl:1 sh -c 'cd /s1 && ls; ls sub; echo --; cd /s2 && ls; ls sub')" "a.txt
sub
c.txt
d.md
--
b.md
sub
d.md"
P=$TMP/par
mkdir -p "$P/x/a/b" "$P/y"
echo 1 >"$P/x/a/b/f.txt"; echo 2 >"$P/y/g.txt"; echo 3 >"$P/x/a/h.txt"
"$B" build --dockerfile-str $'FROM bb:1\nCOPY --parents x/a/b/f.txt y/*.txt /p1/\nCOPY --parents ./x/./a/h.txt /p2/' \
	--context "$P" -t parents:1 >/dev/null 2>"$TMP/log"
expect_eq "COPY --parents keeps the sources' directories; /./ marks where they start" \
	"$(run parents:1 sh -c 'cd /p1 && find . -type f | sort; cd /p2 && find . -type f')" "./x/a/b/f.txt
./y/g.txt
./a/h.txt"
build ex:1 $'FROM bb:1\nARG V=1\nRUN echo $V' --explain >/dev/null
check "--explain prints what a step's key is made of" grep -q "^    env=V=1$" "$TMP/log"
cbuild $'FROM bb:1\nADD src/a.txt /added' copy:10 >/dev/null
expect_eq "ADD of a local file" "$(run copy:10 cat /added)" a

# --- 9. ADD <url> from busybox httpd on 127.0.0.1 ---
W=$TMP/www
mkdir -p "$W"
echo "served over http" >"$W/file.txt"
_pick_port
port=$FREE_PORT
busybox httpd -f -p "127.0.0.1:$port" -h "$W" &
HTTPD=$!
_wait_listen "$HTTPD" "$port" || not_ok "busybox httpd on 127.0.0.1:$port"
U=http://127.0.0.1:$port
sum=sha256:$(sha256sum "$W/file.txt" | cut -d' ' -f1)
DFU="FROM bb:1
ADD $U/file.txt /dl/
ADD --checksum=$sum $U/file.txt /pinned
ADD --chmod=644 $U/file.txt /named.txt
"
build url:1 "$DFU" >/dev/null
expect_eq "ADD <url> into a directory takes the URL's file name; mode 0600" \
	"$(run url:1 sh -c 'cat /dl/file.txt; stat -c %a /dl/file.txt /pinned /named.txt')" \
	"served over http
600
600
644"
build url:2 "$DFU" >/dev/null
expect_eq "a rebuild: the unpinned ADD downloads then hits, the pinned one hits without downloading" \
	"$(grep -c CACHED "$TMP/log"):$(grep -c downloading "$TMP/log")" "3:2"
echo "changed upstream" >"$W/file.txt"
build url:3 "$DFU" >/dev/null; rc=$?
check "content changed upstream: --checksum fails the build" grep -q "checksum mismatch" "$TMP/log"
build url:4 "FROM bb:1
ADD $U/file.txt /dl/" >/dev/null
expect_eq "  and an unpinned ADD takes the new content" "$(run url:4 cat /dl/file.txt)" "changed upstream"
build url:5 "FROM bb:1
ADD $U/missing.txt /x" >/dev/null; rc=$?
check "a missing URL fails with its status" grep -q "HTTP status 404" "$TMP/log"
kill "$HTTPD"; wait "$HTTPD" 2>/dev/null

# --- 10. a build killed in the middle of a RUN ---
"$B" build --dockerfile-str $'FROM bb:1\nRUN sleep 1047' -t killed:1 >/dev/null 2>&1 &
BPID=$!
for _ in $(seq 100); do
	[ -n "$(ls "$BERTH_HOME/runners" 2>/dev/null)" ] && pgrep -fx "sleep 1047" >/dev/null && break
	sleep 0.1
done
kill -9 "$BPID"; wait "$BPID" 2>/dev/null
build after:1 $'FROM bb:1\nRUN true' >/dev/null
check "the next build cleans up the killed build's container" \
	grep -q "cleaned up 1 container" "$TMP/log"
expect_eq "  its process is gone" "$(pgrep -fxc "sleep 1047")" 0
expect_eq "  and so are its scratch layer and views" \
	"$(ls "$BERTH_HOME/layers" | grep -c -- "^$BPID-")" 0

# --- 11. FROM a private registry, credentials from the secret store ---
if command -v docker-registry >/dev/null && command -v htpasswd >/dev/null; then
	start_registry basic
	"$B" login "$REG_ADDR" -u "$REG_USER" -p "$REG_PASS" >/dev/null 2>&1
	"$B" tag bb:1 "$REG_ADDR/team/base:1" >/dev/null
	"$B" push "$REG_ADDR/team/base:1" >/dev/null 2>&1
	"$B" logout "$REG_ADDR" >/dev/null 2>&1
	"$B" image rm "$REG_ADDR/team/base:1" >/dev/null 2>&1
	"$B" secrets set REGPASS="$REG_PASS" BADPASS=not-it >/dev/null
	BERTH_PULL= build priv:1 "FROM $REG_ADDR/team/base:1
RUN echo private > /p" --registry-auth "$REG_ADDR=$REG_USER:\$REGPASS" >/dev/null
	expect_eq "FROM a Basic-auth registry with --registry-auth HOST=USER:\$SECRET" \
		"$(run priv:1 cat /p)" private
	"$B" image rm "$REG_ADDR/team/base:1" >/dev/null 2>&1
	BERTH_PULL= build priv:2 "FROM $REG_ADDR/team/base:1" \
		--registry-auth "$REG_ADDR=$REG_USER:\$BADPASS" >/dev/null; rc=$?
	check "  a wrong password fails the build" test "$rc" -ne 0
	check "  saying the registry refused it" grep -qiE "unauthorized|401|credentials" "$TMP/log"
	check "  without showing the password" lacks "not-it" "$TMP/log"
	build priv:3 "FROM bb:1" --registry-auth "$REG_ADDR=$REG_USER:\$NOT_A_SECRET" >/dev/null
	check "--registry-auth naming a missing secret fails, naming it" grep -q NOT_A_SECRET "$TMP/log"
else
	skip "FROM a private registry" "docker-registry or htpasswd is not installed"
fi

expect_eq "nothing is left mounted under BERTH_HOME" \
	"$(grep -F " $BERTH_HOME" /proc/self/mountinfo)" ""
done_testing
