#!/bin/bash
# `berth base create` end to end. Fast tier: busybox from the host's
# busybox-static (its applets, users, config, tags, the same digest every
# time, FROM it in a build), the plan for debian (--dry-run: the mirror from
# the host's apt sources or --mirror), usage errors and non-root.
# Slow tier (BERTH_SLOW=1; SKIP otherwise): debian:bookworm-slim and
# debian:bookworm with debootstrap from the host's Debian mirror, run, slim
# trimming checked, python3 installed by `berth build` FROM it, and the python
# template's default Dockerfile built and served.
. "$(dirname "$0")/lib.bash"
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP base create needs root"; exit 0; }
for t in jq busybox; do
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
unset SOURCE_DATE_EPOCH
run() { "$B" container run --rm "$@"; }

# ---------------------------------------------------------------- busybox

BB=$(readlink -f "$(command -v busybox)")
bbver=$(busybox --help 2>&1 | sed -n 's/^BusyBox v\([0-9.]*\).*/\1/p' | head -1)
digest=$("$B" base create busybox 2>"$TMP/err")
expect_eq "busybox: exit 0, prints the manifest digest" "$?$(grep -cE '^sha256:[0-9a-f]{64}$' <<<"$digest")" 01
check "  the steps are shown" grep -q "^base: busybox $bbver from /" "$TMP/err"
check "  with the layer's sizes" grep -qE "^base: layer [0-9.]+ [kM]B compressed, [0-9.]+ [kM]B unpacked; SOURCE_DATE_EPOCH=[0-9]+" "$TMP/err"
"$B" images >"$TMP/images"
check "tagged busybox:latest" grep -qE "^busybox:latest +${digest:0:19}" "$TMP/images"
check "and busybox:$bbver, the version busybox says it is" grep -qE "^busybox:$bbver +${digest:0:19}" "$TMP/images"
expect_eq "a container of it runs" "$(run busybox echo hello 2>&1)" hello
expect_eq "/bin/sh is busybox" "$(run busybox readlink /bin/sh)" busybox
expect_eq "a link in /bin for each applet busybox lists" \
	"$(run busybox sh -c 'ls /bin | grep -v "^busybox$" | sort')" \
	"$(busybox --list | grep -v '^busybox$' | sort)"
expect_eq "the binary is the host's busybox-static" "$(run busybox cat /bin/busybox | sha256sum)" \
	"$(sha256sum <"$BB")"
expect_eq "root in /etc/passwd and /etc/group" \
	"$(run busybox sh -c 'head -1 /etc/passwd; head -1 /etc/group')" \
	"root:x:0:0:root:/root:/bin/sh
root:x:0:"
expect_eq "users resolve: nobody is 65534" "$(run -u nobody busybox id -u)" 65534
expect_eq "/tmp is 1777, /root 700" "$(run busybox stat -c '%a' /tmp /root | tr '\n' ' ')" "1777 700 "
"$B" image inspect busybox >"$TMP/inspect"
expect_eq "config: Cmd sh and the usual PATH" "$(jq -c '.config.config' "$TMP/inspect")" \
	'{"Cmd":["sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}'
expect_eq "one layer" "$(jq '.config.rootfs.diff_ids | length' "$TMP/inspect")" 1
expect_eq "created: the binary's date (SOURCE_DATE_EPOCH)" "$(jq -r '.config.created' "$TMP/inspect")" \
	"$(date -u -d "@$(stat -c %Y "$BB")" +%Y-%m-%dT%H:%M:%SZ)"
check "history says how it was made" jq -e '.config.history[0].created_by | startswith("berth base create busybox: ")' "$TMP/inspect"
# With BERTH_PULL=never (lib.bash) nothing can come from a registry: the
# build's FROM is the image just made.
printf 'FROM busybox:%s\nRUN echo built > /built\nCMD ["cat", "/built"]\n' "$bbver" >"$TMP/Dockerfile"
"$B" build -f "$TMP/Dockerfile" -t from-bb:1 >/dev/null 2>"$TMP/err" || diag <"$TMP/err"
expect_eq "FROM busybox:$bbver builds offline" "$(run from-bb:1 2>&1)" built

# Reproducible: the same busybox gives the same image, in any state directory.
again=$("$B" base create busybox 2>/dev/null)
expect_eq "made again: the same digest" "$again" "$digest"
other=$(BERTH_HOME=$TMP/home2 "$B" base create busybox 2>/dev/null)
expect_eq "in another state directory: the same digest" "$other" "$digest"
dated=$(SOURCE_DATE_EPOCH=1700000000 "$B" base create busybox -t dated:1 2>/dev/null)
check "SOURCE_DATE_EPOCH changes the dates, so the digest" test -n "$dated" -a "$dated" != "$digest"
expect_eq "  created is SOURCE_DATE_EPOCH" "$("$B" image inspect dated:1 | jq -r .config.created)" \
	2023-11-14T22:13:20Z
layer=$("$B" image inspect dated:1 | jq -r '.layers[0].digest')
expect_eq "  no file in the layer is newer than SOURCE_DATE_EPOCH" \
	"$(python3 -c 'import sys, tarfile; print(max(m.mtime for m in tarfile.open(sys.argv[1])))' \
		"$BERTH_HOME/blobs/sha256/${layer#sha256:}")" 1700000000
"$B" images >"$TMP/images"
expect_eq "-t: only the tag asked for" "$(grep "${dated:0:19}" "$TMP/images" | awk '{print $1}')" dated:1
SOURCE_DATE_EPOCH=yesterday "$B" base create busybox >/dev/null 2>"$TMP/err"
expect_eq "a SOURCE_DATE_EPOCH that is not a number: usage error" "$?" 2
check "  that says what it must be" grep -q "SOURCE_DATE_EPOCH must be a number of seconds" "$TMP/err"

# ---------------------------------------------------------- usage, non-root

"$B" base create ubuntu:22.04 >/dev/null 2>"$TMP/err"
expect_eq "an unknown base: usage error" "$?" 2
check "  that lists what berth makes" grep -q "berth makes debian:SUITE, debian:SUITE-slim (debian:bookworm, debian:bookworm-slim) and busybox" "$TMP/err"
"$B" base create >/dev/null 2>&1
expect_eq "no name: usage error" "$?" 2
"$B" base create busybox debian:bookworm >/dev/null 2>&1
expect_eq "two names: usage error" "$?" 2
"$B" base create busybox --mirror http://deb.debian.org/debian >/dev/null 2>&1
expect_eq "--mirror with busybox: usage error" "$?" 2
"$B" base frobnicate >/dev/null 2>&1
expect_eq "an unknown subcommand: usage error" "$?" 2
if command -v setpriv >/dev/null; then
	chmod 0711 "$TMP" # nobody may reach its state directory
	mkdir -m 0777 "$TMP/nobody"
	BERTH_HOME=$TMP/nobody/home setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$B" base create busybox >/dev/null 2>"$TMP/err"
	expect_eq "not root: exit 1" "$?" 1
	check "  saying it needs root" grep -q "making 'busybox' needs root .*: run it as root" "$TMP/err"
else
	skip "not root" "setpriv is not installed"
fi

# ------------------------------------------------------ debian: the plan

src_mirror() {
	# The first deb URI of the host's apt sources for bookworm (deb822 or one-line).
	{
		cat /etc/apt/sources.list 2>/dev/null | awk '$1 == "deb" {u=$2; if (u ~ /^\[/) u=$3; print u}'
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] && awk -v RS= '/(^|\n)Types:[^\n]*deb/ && /Suites:[^\n]*bookworm( |\n|$)/ {
				if (match($0, /URIs: *[^ \n]+/)) { s=substr($0, RSTART, RLENGTH); sub(/URIs: */, "", s); print s } }' "$f"
		done
	} | grep -v -- '-security' | head -1 | sed 's:/*$::'
}
"$B" base create debian:bookworm-slim --dry-run >"$TMP/plan" 2>"$TMP/err"
RC=$?
if command -v debootstrap >/dev/null; then
	expect_eq "--dry-run: exit 0" "$RC" 0
	want=$(src_mirror)
	if [ -n "$want" ]; then
		check "the mirror is the host's apt source ($want)" grep -q "^mirror: $want (from /etc/apt/" "$TMP/plan"
	else
		check "no apt source here: the default mirror" grep -q "^mirror: http://deb.debian.org/debian (from the default)" "$TMP/plan"
	fi
	check "the debootstrap command: minbase, the cache, the suite" \
		grep -qE "^run: /[^ ]*debootstrap --variant=minbase --cache-dir=$BERTH_HOME/cache/debootstrap bookworm DIR https?://" "$TMP/plan"
	check "the slim variant and its tags" grep -q "^variant: slim" "$TMP/plan"
	check "  tags" grep -q "^tags: debian:bookworm-slim debian:MAJOR-slim" "$TMP/plan"
else
	skip "--dry-run" "debootstrap is not installed (make deps)"
fi
"$B" base create debian:bookworm --mirror http://mirror.example/debian/ --dry-run >"$TMP/plan" 2>/dev/null
check "--mirror is used as given (trailing / dropped)" grep -q "^mirror: http://mirror.example/debian (from --mirror)" "$TMP/plan"
check "  a mirror other than deb.debian.org has no security source" grep -q "^security: none" "$TMP/plan"
check "  the full variant" grep -q "^variant: full" "$TMP/plan"
"$B" base create debian:bookworm --mirror http://deb.debian.org/debian --dry-run >"$TMP/plan" 2>/dev/null
check "deb.debian.org: its security mirror too" grep -q "^security: http://deb.debian.org/debian-security" "$TMP/plan"
# The apt sources reader, on sources files of our own (--apt-root DIR reads
# DIR/etc/apt instead of /etc/apt).
plan() { "$B" base create debian:bookworm --apt-root "$1" --dry-run 2>/dev/null | sed -n "s/^$2: //p"; }
R=$TMP/apt1
mkdir -p "${R:?}/etc/apt"
cat >"${R:?}/etc/apt/sources.list" <<'EOF'
# a comment, then a source package line and a disabled one
deb-src http://src.example/debian bookworm main
# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://one.example/debian/ bookworm main contrib
deb http://sec.example/debian-security bookworm-security main
EOF
expect_eq "one-line format: options skipped, trailing / dropped" "$(plan "$R" mirror)" \
	"http://one.example/debian (from $R/etc/apt/sources.list)"
expect_eq "  the security entry" "$(plan "$R" security)" http://sec.example/debian-security
R=$TMP/apt2
mkdir -p "${R:?}/etc/apt/sources.list.d"
cat >"${R:?}/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://off.example/debian
Suites: bookworm
Components: main
Enabled: no

# a comment between stanzas
Types: deb-src deb
URIs: http://two.example/debian
 http://three.example/debian
Suites: trixie
 bookworm bookworm-updates
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBFake
 -----END PGP PUBLIC KEY BLOCK-----

Types: deb
URIs: http://sec2.example/debian-security
Suites: bookworm-security
Components: main
EOF
echo 'deb http://later.example/debian bookworm main' >"${R:?}/etc/apt/sources.list.d/zz.list"
expect_eq "deb822: a disabled stanza skipped, folded fields read, files in apt's order" \
	"$(plan "$R" mirror)" "http://two.example/debian (from $R/etc/apt/sources.list.d/debian.sources)"
expect_eq "  the security stanza" "$(plan "$R" security)" http://sec2.example/debian-security
echo 'deb http://first.example/debian bookworm main' >"${R:?}/etc/apt/sources.list"
expect_eq "sources.list comes before sources.list.d" "$(plan "$R" mirror)" \
	"http://first.example/debian (from $R/etc/apt/sources.list)"
R=$TMP/apt3
mkdir -p "${R:?}/etc/apt"
echo 'deb http://upd.example/debian bookworm-updates main' >"${R:?}/etc/apt/sources.list"
expect_eq "only SUITE-updates: its mirror" "$(plan "$R" mirror)" \
	"http://upd.example/debian (from $R/etc/apt/sources.list)"
echo 'deb http://t.example/debian trixie main' >"${R:?}/etc/apt/sources.list"
expect_eq "another suite only: the default mirror" "$(plan "$R" mirror)" \
	"http://deb.debian.org/debian (from the default)"
expect_eq "  and its security mirror" "$(plan "$R" security)" http://deb.debian.org/debian-security
expect_eq "no apt sources at all: the default" "$(plan "$TMP/nothing" mirror)" \
	"http://deb.debian.org/debian (from the default)"
"$B" base create debian:bookworm --mirror ftp.debian.org/debian --dry-run >/dev/null 2>"$TMP/err"
expect_eq "a mirror that is not a URL: exit 1" "$?" 1
check "  says what to give" grep -q "give an http://, https:// or file: URL" "$TMP/err"

# ------------------------------------------------- debian (slow tier)

if [ "${BERTH_SLOW:-}" != 1 ]; then
	skip "debian:bookworm-slim and debian:bookworm with debootstrap" "slow tier: set BERTH_SLOW=1"
	done_testing
	exit
fi
if ! command -v debootstrap >/dev/null; then
	skip "debian base images" "debootstrap is not installed (make deps)"
	done_testing
	exit
fi
MIRROR=$(sed -n 's/^mirror: \([^ ]*\) .*/\1/p' <("$B" base create debian:bookworm-slim --dry-run 2>/dev/null))
if ! curl -sf -o /dev/null --max-time 20 "$MIRROR/dists/bookworm/InRelease"; then
	skip "debian base images" "the mirror $MIRROR is not reachable"
	done_testing
	exit
fi

start=$(date +%s)
slim=$("$B" base create debian:bookworm-slim 2>"$TMP/slim.log")
RC=$?
slim_s=$(($(date +%s) - start))
expect_eq "debian:bookworm-slim: exit 0" "$RC" 0
[ "$RC" -eq 0 ] || diag < <(tail -20 "$TMP/slim.log")
grep '^base: ' "$TMP/slim.log" | diag
echo "# debian:bookworm-slim made in $slim_s s"
"$B" images >"$TMP/images"
check "tagged debian:bookworm-slim" grep -qE "^debian:bookworm-slim +${slim:0:19}" "$TMP/images"
check "and debian:12-slim" grep -qE "^debian:12-slim +${slim:0:19}" "$TMP/images"
check "Debian 12 inside" grep -qE '^12\.[0-9]+$' <(run debian:bookworm-slim cat /etc/debian_version)
expect_eq "Cmd bash" "$("$B" image inspect debian:bookworm-slim | jq -c .config.config.Cmd)" '["bash"]'
expect_eq "apt lists and caches are empty" "$(run debian:bookworm-slim ls -A /var/lib/apt/lists /var/cache/apt | grep -v ':$' | grep -c .)" 0
expect_eq "slim: no documentation but copyright files" \
	"$(run debian:bookworm-slim sh -c 'find /usr/share/doc -type f ! -name copyright | wc -l')" 0
check "  the copyright files stay" test "$(run debian:bookworm-slim sh -c 'ls /usr/share/doc/*/copyright | wc -l')" -gt 50
expect_eq "  no man pages" "$(run debian:bookworm-slim sh -c 'find /usr/share/man -type f | wc -l')" 0
check "  and dpkg keeps it that way" grep -q "^path-exclude /usr/share/doc/\*$" <(run debian:bookworm-slim cat /etc/dpkg/dpkg.cfg.d/docker)
check "Docker's minimizing config: no services start" grep -q "exit 101" <(run debian:bookworm-slim cat /usr/sbin/policy-rc.d)
check "  apt cleans after each install" test -n "$(run debian:bookworm-slim cat /etc/apt/apt.conf.d/docker-clean)"
check "apt sources: deb822, the mirror" grep -q "^URIs: $MIRROR$" <(run debian:bookworm-slim cat /etc/apt/sources.list.d/debian.sources)
expect_eq "no host details: hostname file, machine-id" \
	"$(run debian:bookworm-slim sh -c 'test -e /etc/machine-id && echo machine-id; ls -A /debootstrap 2>/dev/null')" ""
slim_layer=$("$B" image inspect debian:bookworm-slim | jq '.layers[0].size')
# Reproducible: the same mirror state gives the same image (every date is the
# newest Release date; a mirror that publishes in between changes it).
again=$("$B" base create -q debian:bookworm-slim -t debian:again 2>/dev/null)
expect_eq "made again from the same mirror: the same digest" "$again" "$slim"
echo "# debian:bookworm-slim: layer $slim_layer bytes compressed"

# python3 installs in a build FROM it (the mirror is reached by the build's RUN).
cat >"$TMP/Dockerfile.py" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3=3.11.2-1+b1 \
    && rm -rf /var/lib/apt/lists/*
CMD ["python3", "-c", "import sys; print('python', sys.version.split()[0])"]
EOF
"$B" build -f "$TMP/Dockerfile.py" -t deb-py:1 >/dev/null 2>"$TMP/err" || diag < <(tail -20 "$TMP/err")
expect_eq "python3 installs in a berth build FROM debian:bookworm-slim" "$(run deb-py:1 2>&1)" "python 3.11.2"

# The python template's default Dockerfile (FROM debian:bookworm-slim, apt's
# python3) builds and serves.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
(cd "$TMP" && "$B" init greeter --template python >/dev/null 2>&1)
P=$(port)
"$B" run "$TMP/greeter/app.py::Greeter" --port "$P" >"$TMP/run.out" 2>"$TMP/run.log" &
RUN_PID=$!
for i in $(seq 1 1200); do
	grep -q "is ready in" "$TMP/run.log" && break
	kill -0 "$RUN_PID" 2>/dev/null || break
	sleep 0.1
done
got=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"name": "debian"}' "http://127.0.0.1:$P/")
expect_eq "the python template's default image serves" "$got" '{"greeting":"hello, debian"}'
[ "$got" == '{"greeting":"hello, debian"}' ] || diag < <(tail -20 "$TMP/run.log")
kill -INT "$RUN_PID"
wait "$RUN_PID"
RUN_PID=

start=$(date +%s)
full=$("$B" base create debian:bookworm 2>"$TMP/full.log")
RC=$?
full_s=$(($(date +%s) - start))
expect_eq "debian:bookworm: exit 0" "$RC" 0
grep '^base: ' "$TMP/full.log" | diag
echo "# debian:bookworm made in $full_s s (debootstrap's package cache reused)"
check "tagged debian:bookworm" grep -qE "^debian:bookworm +${full:0:19}" <("$B" images)
check "the full variant keeps the documentation" test "$(run debian:bookworm sh -c 'find /usr/share/doc -type f ! -name copyright | wc -l')" -gt 100
full_layer=$("$B" image inspect debian:bookworm | jq '.layers[0].size')
echo "# debian:bookworm: layer $full_layer bytes compressed"
check "and is larger than the slim one" test "$full_layer" -gt "$slim_layer"

done_testing
