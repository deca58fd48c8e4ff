#!/bin/bash
# Security: build contexts and layers that try to reach the host (symlinks
# out of the context, '..', absolute links, a tar with escaping names, bind
# mounts of outside paths, a device node for the host's disk); secret values
# looked for everywhere (process arguments while a build and a runner use
# them, the state directory, logs, image blobs); what a container can see
# (berth's state, another runner's files, the server and runners over the
# shared network); private apps without a key; /files path traversal.
. "$(dirname "$0")/lib.bash"
need_root
need umoci busybox curl jq sqlite3 tar
command -v crun >/dev/null || command -v runc >/dev/null ||
	{ echo "1..0 # SKIP no OCI runtime (crun or runc) is installed"; exit 0; }
export BERTH_HOME=$TMP/home
REL_CLEANUP+=("remove_containers '$BERTH_HOME'")
make_busybox_image bb:1 || { not_ok "busybox base image"; done_testing; exit; }
MARK=hostsecret$RANDOM$RANDOM$RANDOM

# grep_home PATTERN: files of the state dir holding PATTERN, blobs read
# through zcat (layers are gzip); one path a line.
grep_home() {
	local f
	grep -rlaF "$1" "$BERTH_HOME" 2>/dev/null | grep -v '/blobs/sha256/'
	for f in "$BERTH_HOME"/blobs/sha256/*; do
		zcat -f "$f" 2>/dev/null | grep -qaF "$1" && echo "$f"
	done
}

# ------------------------------------------------- the build context
mkdir -p "$TMP/outside" "$TMP/tarsrc"
echo "$MARK" >"$TMP/outside/secret.txt"
C=$TMP/ctx
mkdir -p "$C"
echo inside >"$C/inside.txt"
ln -s "$TMP/outside/secret.txt" "$C/abs"
ln -s ../outside/secret.txt "$C/rel"
ln -s "$TMP/outside" "$C/dirlink"
ln -s / "$C/root"
# A tar whose names climb out, are absolute, or go through a link to /tmp.
# (Its own marker: the tar is part of the context, so it is in the image.)
TMARK=tarescape$RANDOM$RANDOM
(cd "$TMP/tarsrc" && echo x >f1 && echo x >f2 && echo x >f3 && ln -s /tmp lnk &&
	tar -cPf "$C/evil.tar" --transform "s,^f1,../../../../tmp/$TMARK-1," \
		--transform "s,^f2,/tmp/$TMARK-2," --transform "s,^f3,lnk/$TMARK-3," \
		lnk f1 f2 f3) || not_ok "the escaping tar"

# try NAME WHAT DOCKERFILE: build it; record how it ended.
try() {
	local name=$1 what=$2
	printf '%s\n' "$3" >"$C/Dockerfile"
	"$B" build -f "$C/Dockerfile" --context "$C" -t "esc:$name" >"$TMP/$name.out" 2>&1
	local rc=$?
	if grep -qaF "$MARK" "$TMP/$name.out"; then
		not_ok "$name: the host file's content reached the build output"
		row "$what" "1 build" "ESCAPED: the host file's content is in the output"
	elif [ "$rc" -ne 0 ]; then
		ok "$name: refused ($(grep -a 'berth:' "$TMP/$name.out" | tail -1 | cut -c1-100))"
		row "$what" "1 build" "refused: $(grep -a 'berth:' "$TMP/$name.out" | tail -1 | sed 's/.*Dockerfile:[0-9]*: //' | cut -c1-140)"
	else
		ok "$name: built, nothing from outside in its output"
		row "$what" "1 build" "built; the host file is not in the image (checked below)"
	fi
}
try dotdot "COPY ../outside/secret.txt (a path out of the context)" \
	"$(printf 'FROM bb:1\nCOPY ../outside/secret.txt /x\n')"
try links "COPY of an absolute and a relative symlink pointing out of the context" \
	"$(printf 'FROM bb:1\nCOPY abs rel /links/\nRUN cat /links/abs /links/rel || true\n')"
try dirlink "COPY dirlink/secret.txt (through a symlink to an outside directory)" \
	"$(printf 'FROM bb:1\nCOPY dirlink/secret.txt /y\n')"
try rootlink "COPY root$TMP/outside/secret.txt (through a symlink to /)" \
	"$(printf 'FROM bb:1\nCOPY root%s/outside/secret.txt /z\n' "$TMP")"
try wildcard "COPY dirlink/* and root/etc/host* with wildcards" \
	"$(printf 'FROM bb:1\nCOPY dirlink/* root/etc/host* /w/\n')"
try tar "ADD of a local tar with ../, absolute and through-a-symlink names" \
	"$(printf 'FROM bb:1\nADD evil.tar /t/\nRUN find /t | sort\n')"
try bind-dotdot "RUN --mount=type=bind,source=../outside" \
	"$(printf 'FROM bb:1\nRUN --mount=type=bind,source=../outside,target=/m cat /m/secret.txt\n')"
try bind-link "RUN --mount=type=bind,source=dirlink (a symlink out of the context)" \
	"$(printf 'FROM bb:1\nRUN --mount=type=bind,source=dirlink,target=/m cat /m/secret.txt\n')"
try context-all "COPY . / of the whole context (its outward symlinks included)" \
	"$(printf 'FROM bb:1\nCOPY . /ctx/\nRUN cat /ctx/abs /ctx/rel /ctx/dirlink/secret.txt /ctx/root%s/outside/secret.txt || true\n' "$TMP")"
esc=$(find / -xdev -name "$TMARK-*" 2>/dev/null | grep -v "^$BERTH_HOME/")
expect_eq "no file of the tar landed outside its layer" "$esc" ""
expect_eq "the host file's content is in no blob, layer or file of the state dir" "$(grep_home "$MARK")" ""
row "all of the above: the state dir (blobs through zcat, layers, database) searched for the host file's content" \
	"9 builds" "$([ -z "$(grep_home "$MARK")" ] && echo "not found" || echo "FOUND")"

# A layer holding a device node for the host's root disk.
disk=$(findmnt -no SOURCE / 2>/dev/null)
if [ -b "$disk" ]; then
	r=$(mktemp -d "$TMP/rootfs.XXXXXX")
	_busybox_rootfs "$r"
	mknod "$r/hostdisk" b $((16#$(stat -c '%t' "$disk"))) $((16#$(stat -c '%T' "$disk")))
	_load_rootfs "$r" dev:1 PATH=/bin || not_ok "an image with a device node"
	"$B" container run --rm dev:1 sh -c 'head -c 512 /hostdisk | wc -c' >"$TMP/dev.out" 2>&1
	got=$(grep -E '^ *[0-9]+$' "$TMP/dev.out" | tr -d ' ')
	if [ "${got:-0}" == 0 ]; then ok "a container cannot read the host's disk through a device node in its image"
	else not_ok "a container cannot read the host's disk through a device node in its image (read $got bytes)"; fi
	row "an image layer holding a block device node of the host's root disk ($disk), read in a container" \
		"1 run" "$( [ "${got:-0}" == 0 ] && echo "refused: $(grep -v '^ *0$' "$TMP/dev.out" | head -1 | cut -c1-100)" || echo "READ $got bytes")"
fi

# ------------------------------------------------- secrets in builds
S_STORE=storesecret$RANDOM$RANDOM$RANDOM
S_ENV=envsecret$RANDOM$RANDOM$RANDOM
printf %s "$S_STORE" | "$B" secrets set TOKEN=- >/dev/null || not_ok "berth secrets set"
S=$TMP/sctx
mkdir -p "$S"
cat >"$S/Dockerfile" <<'EOF2'
FROM bb:1
RUN --mount=type=secret,id=tok --mount=type=secret,id=tok2 \
    cat /run/secrets/tok /run/secrets/tok2 && echo && sleep 3 && \
    echo "$(cat /run/secrets/tok)" > /visible-in-layer-would-be-a-leak-but-it-is-removed && rm /visible-in-layer-would-be-a-leak-but-it-is-removed
RUN --mount=type=secret,id=tok,env=TOK sh -c 'echo "len ${#TOK}"; sleep 2'
EOF2
# shellcheck disable=SC2016 # $TOKEN is berth's to expand, from its secrets
MYTOK=$S_ENV "$B" build -f "$S/Dockerfile" --context "$S" -t sec:1 --no-cache \
	--secret id=tok,env=MYTOK --secret 'id=tok2,value=$TOKEN' >"$TMP/sbuild.out" 2>&1 &
bp=$!
hits=""
scans=0
while kill -0 "$bp" 2>/dev/null; do
	for p in /proc/[0-9]*; do
		a=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)
		case $a in *"$S_ENV"* | *"$S_STORE"*) hits="$hits ${p#/proc/}:${a:0:60}" ;; esac
	done
	scans=$((scans + 1))
	sleep 0.1
done
wait "$bp"
rc=$?
expect_eq "secret build: it builds" "$rc" 0
[ "$rc" -eq 0 ] || diag <"$TMP/sbuild.out"
expect_eq "secret build: no process's arguments held a secret ($scans scans of /proc/*/cmdline)" "$hits" ""
check "secret build: the RUN's output shows them masked" grep -q '\*\*\*\*' "$TMP/sbuild.out"
expect_eq "secret build: the build output holds neither value" \
	"$(grep -caF -e "$S_ENV" -e "$S_STORE" "$TMP/sbuild.out")" 0
found=$( (grep_home "$S_ENV"; grep_home "$S_STORE") | sort -u)
expect_eq "secret build: neither value is in the state dir (blobs, layers, database, cache)" "$found" ""
row "a build with two secrets (--secret env=, value=\$TOKEN from berth secrets) printed by its RUN" \
	"1 build, $scans scans of /proc/*/cmdline" \
	"$([ -z "$hits" ] && echo "no process argument held them" || echo "IN ARGUMENTS:$hits"); output masked; state dir: $([ -z "$found" ] && echo "not found" || echo "FOUND in $found")"

# ------------------------------------------------- berth serve
start_serve "$BERTH_HOME" "$TMP/serve.log" || { not_ok "berth serve starts"; diag <"$TMP/serve.log"; done_testing; exit; }
REL_CLEANUP+=("kill -9 \$SRV_PID")
mk_app() { # NAME AUTH: a busybox app writing its port to /data
	mkdir -p "$TMP/$1"
	cat >"$TMP/$1/berth.yaml" <<EOF2
name: $1
image:
  dockerfile: |
    FROM bb:1
    RUN mkdir -p /www && echo $1 > /www/index.html
run:
  command: echo "starting with token \$TOKEN"; echo \$PORT > /data/port-$1; echo mine > /tmp/runnerfile-$1-$MARK; exec httpd -f -p 127.0.0.1:\$PORT -h /www
  health: {path: /index.html}
secrets: [TOKEN]
auth: $2
scaling: {min_runners: 0, max_runners: 1, keep_alive: 60s}
EOF2
	"$B" deploy "$TMP/$1" >/dev/null 2>"$TMP/deploy-$1.err" || { not_ok "deploy $1"; diag <"$TMP/deploy-$1.err"; }
}
mk_app priv private
mk_app pub public
expect_eq "serve: the private app answers (no key exists yet)" \
	"$(curl -s -m 60 -o /dev/null -w '%{http_code}' "$URL/run/priv/index.html")" 200
curl -s -m 60 -o /dev/null "$URL/run/pub/index.html"
hits=""
for p in /proc/[0-9]*; do
	a=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)
	case $a in *"$S_STORE"*) hits="$hits ${p#/proc/}:${a:0:60}" ;; esac
done
expect_eq "runner: no process's arguments hold the app's secret" "$hits" ""
found=$(grep_home "$S_STORE" | sed "s|^$BERTH_HOME/||" | tr '\n' ' ' | sed 's/ $//')
if [ -z "$found" ]; then ok "runner: the secret is nowhere in the state dir while the runner runs"
else known_issue "runner: the secret is nowhere in the state dir while the runner runs (found in $found)" \
	"the runner's OCI config.json (process.env) is written under runners/"; fi
check "runner: its log shows the secret masked" grep -rqF "starting with token ****" "$BERTH_HOME/runners"
row "an app given a secret (env var): /proc/*/cmdline and the state dir searched while its runner runs" "1 runner" \
	"arguments: $([ -z "$hits" ] && echo clean || echo "FOUND$hits"); state dir: $([ -z "$found" ] && echo clean || echo "FOUND in $found"); log masked"

# What a container sees.
port=$(cat "$BERTH_HOME/data/port-priv" 2>/dev/null)
"$B" container run --rm bb:1 sh -c "
	ls '$BERTH_HOME' >/dev/null 2>&1 && echo SEES-HOME
	find / -xdev \( -name berth.db -o -name secrets.key -o -name 'runnerfile-*' \) 2>/dev/null | sed 's/^/FOUND /'
	echo procs \$(ls /proc | grep -c '^[0-9]')
	wget -q -O - http://127.0.0.1:$SRV_PORT/v1/apps >/dev/null 2>&1 && echo ADMIN-API
	wget -q -O - http://127.0.0.1:$port/index.html 2>/dev/null | sed 's/^/RUNNER /'
" >"$TMP/probe.out" 2>&1
expect_eq "container: berth's state dir is not there" "$(grep -c SEES-HOME "$TMP/probe.out")" 0
expect_eq "container: no berth.db, secrets.key or other runner's file is reachable" "$(grep FOUND "$TMP/probe.out")" ""
check "container: it sees only its own processes ($(sed -n 's/^procs //p' "$TMP/probe.out"))" \
	test "$(sed -n 's/^procs //p' "$TMP/probe.out")" -le 5
if grep -q ADMIN-API "$TMP/probe.out"; then
	known_issue "container: the server's admin API is out of reach (no key exists yet)" \
		"containers share the host's network namespace: with no key, any container administers the server"
fi
if grep -q "^RUNNER priv" "$TMP/probe.out"; then
	known_issue "container: a private app's runner is out of reach without a key" \
		"runners share the host's network namespace: a server app (run.command, here busybox httpd) that does not check the x-berth-runner-token header berth sends answers anyone on the host's loopback, containers included (SDK apps check it: 403, tests/e2e/serve_cli.sh)"
fi
row "a container looks for berth's state, another runner's files, its processes, and the network" "1 probe" \
	"state dir and other runners' files: $(grep -q 'FOUND\|SEES' "$TMP/probe.out" && echo VISIBLE || echo "not visible"); $(sed -n 's/^procs //p' "$TMP/probe.out") processes; admin API (no key yet): $(grep -q ADMIN-API "$TMP/probe.out" && echo "reachable" || echo "not reachable"); the private app's runner port: $(grep -q '^RUNNER priv' "$TMP/probe.out" && echo "reachable without a key" || echo "not reachable")"

# Private apps and keys.
ADMIN=$("$B" keys create --scope admin 2>/dev/null | grep -o '[0-9a-f]\{16\}:[0-9a-f]\{64\}')
INV=$(BERTH_KEY=$ADMIN "$B" keys create --scope invoke 2>/dev/null | grep -o '[0-9a-f]\{16\}:[0-9a-f]\{64\}')
check "keys: an admin and an invoke key" test -n "$ADMIN" -a -n "$INV"
code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
expect_eq "private: /run without a key is 401" "$(code -X POST -d '{}' "$URL/run/priv/index.html")" 401
expect_eq "private: a wrong secret is 401" "$(code -H "Authorization: Key ${INV%%:*}:$(printf '0%.0s' $(seq 64))" "$URL/run/priv/index.html")" 401
expect_eq "private: a made-up key is 401" "$(code -H "Authorization: Key nope" "$URL/run/priv/index.html")" 401
expect_eq "private: the invoke key is let through" "$(code -H "Authorization: Key $INV" "$URL/run/priv/index.html")" 200
expect_eq "private: /queue without a key is 401" "$(code -X POST -d '{}' "$URL/queue/priv/")" 401
code -H "Authorization: Key $INV" -X POST -d '{}' "$URL/queue/priv/" >/dev/null
rid=$(jq -r .request_id "$TMP/body")
keyless=""
for what in status status/stream result; do
	case $what in
	result) c=$(code -m 5 "$URL/queue/priv/requests/$rid") ;;
	*) c=$(code -m 2 "$URL/queue/priv/requests/$rid/$what") ;;
	esac
	if [ "$c" == 401 ]; then ok "private: its $what without a key is 401"
	else known_issue "private: its $what without a key is 401 (got $c)" \
		"api_queue.c status, status_stream and result skip srv_invoke_check"; keyless="$keyless $what:$c"; fi
done
expect_eq "private: its cancel without a key is 401" "$(code -X PUT "$URL/queue/priv/requests/$rid/cancel")" 401
expect_eq "private: the admin API with the invoke key is 403" "$(code -H "Authorization: Key $INV" "$URL/v1/apps")" 403
expect_eq "public: anyone may call the public app" "$(code "$URL/run/pub/index.html")" 200
BERTH_KEY=$ADMIN "$B" keys revoke "${INV%%:*}" >/dev/null 2>&1
expect_eq "private: a revoked key is 401 at once" "$(code -H "Authorization: Key $INV" "$URL/run/priv/index.html")" 401
row "calls to a private app and its queued request without a key, with a wrong, a made-up and a revoked key" "11 calls" \
	"$([ -z "$keyless" ] && echo "401 each" || echo "401 for calls, queueing and cancel; WITHOUT A KEY the request's$keyless"); the invoke key passes; an invoke key on the admin API is 403"

# /files path traversal.
printf 'hello' >"$TMP/hello"
D=sha256:$(sha256sum "$TMP/hello" | cut -d' ' -f1)
expect_eq "files: an upload with the admin key" "$(code -H "Authorization: Key $ADMIN" --data-binary @"$TMP/hello" "$URL/v1/files?name=a.txt")" 201
expect_eq "files: it downloads" "$(code "$URL/files/$D/a.txt")" 200
touch "$TMP/before"
trav=0 n=0
for path in "$D/..%2f..%2fberth.db" "$D/../../berth.db" "..%2f..%2fberth.db/x" "sha256:..%2f..%2f..%2fetc%2fpasswd/x" \
	"$D/%2e%2e" "$D/a.txt%00.png" "${D#sha256:}/..%2Fsecrets.key" "$D/..%5c..%5cberth.db" "%2e%2e/%2e%2e/berth.db" \
	"$D/a.txt/../../../berth.db"; do
	n=$((n + 1))
	c=$(curl -s --path-as-is -o "$TMP/t.body" -w '%{http_code}' "$URL/files/$path")
	if [ "$c" == 200 ] && ! grep -q '^hello$' "$TMP/t.body"; then
		not_ok "files: GET /files/$path must not serve another file (got $c)"; trav=$((trav + 1))
	fi
	grep -qa "SQLite format\|root:x:0" "$TMP/t.body" && { not_ok "files: GET /files/$path served a host file"; trav=$((trav + 1)); }
done
expect_eq "files: $n traversal paths on GET /files serve nothing but the file itself" "$trav" 0
bad=0
for name in "../../evil-$MARK" "..%2f..%2fevil-$MARK" "%2fetc%2fevil-$MARK" "." ".." "a%2fb"; do
	c=$(code -H "Authorization: Key $ADMIN" --data-binary @"$TMP/hello" "$URL/v1/files?name=$name")
	[ "$c" == 400 ] || { bad=$((bad + 1)); diag <<<"POST ?name=$name -> $c"; }
done
expect_eq "files: 6 uploads named with '..' or '/' or '.' are refused with 400" "$bad" 0
c=$(code -H "Authorization: Key $ADMIN" --data-binary @"$TMP/hello" "$URL/v1/files?name=evil-$MARK.sh%00.png")
nul="$c $(jq -r .name "$TMP/body" 2>/dev/null)"
if [ "$c" == 400 ]; then ok "files: a name with %00 is refused with 400"
else known_issue "files: a name with %00 is refused with 400 (got $nul)" \
	"the query value is read as a C string: 'x.sh%00.png' is stored as 'x.sh' (server/http.c srv_query)"; fi
expect_eq "files: nothing named evil-* was written anywhere" \
	"$(find "$BERTH_HOME" /tmp "$TMP" -newer "$TMP/before" -name "evil-$MARK*" 2>/dev/null)" ""
row "GET /files with $n traversal paths (.., %2f, %5c, %00, %2e%2e) and 7 uploads named with .., /, %00" \
	"$((n + 7)) requests" "no other file served; names with .. or / 400; 'x.sh%00.png' answered $nul (truncated at the NUL); nothing written outside files/"

kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null
done_testing
