#!/bin/bash
# The image verbs end to end against real registries on 127.0.0.1 (Debian's
# docker-registry: plain, htpasswd Basic, token auth): pull, images, image
# inspect, save/load (interop with skopeo and umoci), push, tag, rm, login,
# logout; a corrupted and a truncated blob are rejected with nothing stored;
# a pull killed half way is completed by the next one.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/registry.bash"
for t in docker-registry skopeo umoci busybox htpasswd openssl; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed (make deps)"; exit 0; }
done
TOOLS=${BERTH_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}/tests/tools
export BERTH_HOME=$TMP/home
MNT=$TMP/mnt
cleanup_mount() { mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"; }
trap 'cleanup_mount; stop_pids; _reg_cleanup' EXIT
PIDS=()
stop_pids() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }

# --- a three-layer fixture: busybox, a whiteout of bin/ls, a new file ---
mkdir -p "$TMP/rootfs"/{bin,etc,tmp,root}
cp "$(command -v busybox)" "$TMP/rootfs/bin/"
for a in sh ls cat echo true; do ln -s busybox "$TMP/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$TMP/rootfs/etc/passwd"
echo 'hello from layer 3' >"$TMP/motd"
(cd "$TMP" && umoci init --layout oci && umoci new --image oci:bb &&
	umoci insert --image oci:bb rootfs / && umoci insert --image oci:bb --whiteout /bin/ls &&
	umoci insert --image oci:bb motd /etc/motd &&
	umoci config --image oci:bb --config.cmd=/bin/sh --architecture=amd64 --os=linux &&
	umoci gc --layout oci) >/dev/null 2>&1 || { not_ok "umoci fixture"; done_testing; exit; }

start_registry plain || { not_ok "start a plain registry"; done_testing; exit; }
PLAIN=$REG_ADDR
skopeo copy -q --dest-tls-verify=false oci:"$TMP/oci":bb docker://$PLAIN/bb:1 >/dev/null
want=$(skopeo inspect --tls-verify=false --raw docker://$PLAIN/bb:1 | sha256sum | cut -d' ' -f1)

# --- pull ---
"$BERTH" pull $PLAIN/bb:1 >"$TMP/out" 2>"$TMP/err"; rc=$?
expect_eq "pull exits 0" "$rc" 0
expect_eq "pull prints the manifest digest" "$(tail -1 "$TMP/out")" "sha256:$want"
check "images lists it" grep -q "^$PLAIN/bb:1 " <("$BERTH" images)
"$BERTH" image inspect $PLAIN/bb:1 >"$TMP/inspect.json"
expect_eq "inspect: three layers, all unpacked" \
	"$(jq -c '[.layers[] | .unpacked]' "$TMP/inspect.json")" '[true,true,true]'
expect_eq "inspect: the config's Cmd" "$(jq -c .config.config.Cmd "$TMP/inspect.json")" '["/bin/sh"]'
L1=$BERTH_HOME/layers/$(jq -r '.layers[0].chain_id' "$TMP/inspect.json" | cut -d: -f2)
L2=$BERTH_HOME/layers/$(jq -r '.layers[1].chain_id' "$TMP/inspect.json" | cut -d: -f2)
L3=$BERTH_HOME/layers/$(jq -r '.layers[2].chain_id' "$TMP/inspect.json" | cut -d: -f2)
check "layer 1 holds busybox" cmp "$L1/bin/busybox" "$(command -v busybox)"
expect_eq "layer 2's whiteout is an overlay char device 0/0" \
	"$(stat -c '%F %t,%T' "$L2/bin/ls" 2>&1)" "character special file 0,0"
check "layer 3 holds the new file" grep -q 'hello from layer 3' "$L3/etc/motd"
"$BERTH" pull $PLAIN/bb:1 >/dev/null 2>"$TMP/err"
check "a second pull downloads nothing" bash -c "! grep -q downloading '$TMP/err'"
expect_eq "no temp files are left" "$(ls -A "$BERTH_HOME/blobs/tmp")" ""

# --- the unpacked tree equals umoci's, through overlayfs ---
"$BERTH" image save $PLAIN/bb:1 -o "$TMP/saved" 2>"$TMP/err"
check "image save writes an OCI layout skopeo reads" \
	bash -c "skopeo inspect --raw oci:'$TMP/saved' | sha256sum | grep -q '^$want '"
if umoci unpack --image "$TMP/saved:$PLAIN/bb:1" "$TMP/bundle" >/dev/null 2>&1; then
	ok "umoci unpacks what berth saved"
	mkdir -p "$MNT"
	if mount -t overlay overlay -o "lowerdir=$L3:$L2:$L1" "$MNT" 2>/dev/null; then
		tree() { (cd "$1" && find . -printf '%p %y %m %U:%G %l\n' | sort); }
		if diff <(tree "$MNT") <(tree "$TMP/bundle/rootfs") >"$TMP/diff"; then
			ok "berth's layers over overlayfs equal umoci's tree"
		else
			not_ok "berth's layers over overlayfs equal umoci's tree"; diag <"$TMP/diff"
		fi
		umount "$MNT"
	else
		skip "overlay comparison" "cannot mount overlayfs here"
	fi
else
	not_ok "umoci unpacks what berth saved"
fi

# --- save as an archive, load both forms ---
"$BERTH" image save $PLAIN/bb:1 -o "$TMP/bb.tar"
check "image save -o FILE.tar writes an oci-archive skopeo reads" \
	skopeo inspect --raw oci-archive:"$TMP/bb.tar"
check "image load DIR -t" "$BERTH" image load "$TMP/saved" -t loaded/dir:1
check "image load FILE.tar -t" "$BERTH" image load "$TMP/bb.tar" -t loaded/tar:1
check "loaded images are listed" bash -c "'$BERTH' images -q | grep -qx 'loaded/tar:1'"
"$BERTH" image load "$TMP/oci" >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "a layout naming only a tag needs -t" "$rc" 1
check "the error says to use -t" grep -q -- "-t NAME:TAG" "$TMP/err"
cp -r "$TMP/saved" "$TMP/bad"
blob=$(ls "$TMP/bad/blobs/sha256" | head -1); chmod u+w "$TMP/bad/blobs/sha256/$blob"
printf 'x' >>"$TMP/bad/blobs/sha256/$blob"
rm -rf "$BERTH_HOME.bad"; BERTH_HOME=$BERTH_HOME.bad "$BERTH" image load "$TMP/bad" -t bad:1 2>"$TMP/err"; rc=$?
expect_eq "a layout with a corrupted blob fails to load" "$rc" 1
check "the error names the digest mismatch" grep -q "digest mismatch" "$TMP/err"
check "nothing is tagged" bash -c "! BERTH_HOME='$BERTH_HOME.bad' '$BERTH' images -q | grep -q ."

# --- push, tag, rm ---
"$BERTH" push $PLAIN/bb:1 $PLAIN/copy:2 >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "push to another repository exits 0" "$rc" 0
expect_eq "skopeo sees the pushed manifest" \
	"$(skopeo inspect --tls-verify=false --raw docker://$PLAIN/copy:2 | sha256sum | cut -d' ' -f1)" "$want"
"$BERTH" push loaded/tar:1 $PLAIN/fromload:1 >/dev/null 2>&1
expect_eq "a loaded image pushes" \
	"$(skopeo inspect --tls-verify=false --raw docker://$PLAIN/fromload:1 | sha256sum | cut -d' ' -f1)" "$want"
check "tag" "$BERTH" tag $PLAIN/bb:1 mine:latest
expect_eq "the tag points at the same digest" \
	"$("$BERTH" image inspect mine | jq -r .digest)" "sha256:$want"
"$BERTH" image rm mine >/dev/null
check "rm of one name keeps shared layers" test -d "$L1"
"$BERTH" image rm $PLAIN/bb:1 loaded/dir:1 loaded/tar:1 >/dev/null
check "rm of the last names frees the layers" test ! -e "$L1"
"$BERTH" image inspect nope:1 2>"$TMP/err"; rc=$?
expect_eq "inspect of a missing image exits 1" "$rc" 1
check "and says it is not in the store" grep -q "is not in the store" "$TMP/err"

# --- errors a user makes ---
"$BERTH" pull 'Bad:Ref' 2>"$TMP/err"; rc=$?
expect_eq "a malformed reference exits 1" "$rc" 1
check "and says why" grep -q "must be lowercase" "$TMP/err"
"$BERTH" pull $PLAIN/missing:1 2>"$TMP/err"; rc=$?
expect_eq "a missing image exits 1" "$rc" 1
check "and names it" grep -q "missing" "$TMP/err"

# --- Basic auth ---
if start_registry basic; then
	BASIC=$REG_ADDR
	skopeo copy -q --dest-tls-verify=false --dest-creds "$REG_USER:$REG_PASS" \
		oci:"$TMP/oci":bb docker://$BASIC/private:1 >/dev/null
	"$BERTH" pull $BASIC/private:1 2>"$TMP/err"; rc=$?
	expect_eq "basic: pull without credentials fails" "$rc" 1
	check "basic: the error names the registry and the fix" \
		grep -q "$BASIC.*berth login $BASIC" "$TMP/err"
	"$BERTH" login $BASIC -u "$REG_USER" -p wrong 2>"$TMP/err"; rc=$?
	expect_eq "basic: login with a wrong password exits 1" "$rc" 1
	check "basic: the wrong password is named" grep -qi "$BASIC.*\(unauthorized\|password\)" "$TMP/err"
	check "basic: a failed login stores nothing" test ! -e "$BERTH_HOME/auth.json"
	echo "$REG_PASS" | "$BERTH" login $BASIC -u "$REG_USER" --password-stdin >/dev/null 2>"$TMP/err"
	expect_eq "basic: login stores credentials with mode 0600" "$(stat -c %a "$BERTH_HOME/auth.json" 2>&1)" 600
	check "basic: pull with stored credentials" "$BERTH" pull $BASIC/private:1
	check "basic: push with stored credentials" "$BERTH" push $BASIC/private:1 $BASIC/private:2
	check "logout" "$BERTH" logout $BASIC
	"$BERTH" pull $BASIC/private:2 >/dev/null 2>&1; rc=$?
	expect_eq "basic: after logout the pull fails" "$rc" 1
else
	not_ok "start a Basic-auth registry"
fi

# --- token auth ---
if start_registry token; then
	TOK=$REG_ADDR
	skopeo copy -q --dest-tls-verify=false --dest-creds "$REG_USER:$REG_PASS" \
		oci:"$TMP/oci":bb docker://$TOK/pub:1 >/dev/null
	check "token: anonymous pull through the token flow" "$BERTH" pull $TOK/pub:1
	"$BERTH" push $TOK/pub:1 $TOK/pushed:1 >/dev/null 2>"$TMP/err"; rc=$?
	expect_eq "token: anonymous push is refused" "$rc" 1
	echo "$REG_PASS" | "$BERTH" login $TOK -u "$REG_USER" --password-stdin >/dev/null 2>&1
	check "token: push after login" "$BERTH" push $TOK/pub:1 $TOK/pushed:1
	check "token: skopeo reads what berth pushed" skopeo inspect --tls-verify=false \
		--creds "$REG_USER:$REG_PASS" docker://$TOK/pushed:1
else
	not_ok "start a token-auth registry"
fi

# --- a proxy that corrupts, truncates or slows blob downloads ---
proxy() {
	local port; port=$(free_port)
	"$TOOLS/blob_proxy" --listen "$port" --upstream "$PLAIN" --mode "$1" >/dev/null 2>&1 &
	PIDS+=($!); PROXY=127.0.0.1:$port
	for _ in $(seq 50); do curl -fs "http://$PROXY/v2/" >/dev/null && return 0; sleep 0.1; done
	return 1
}
for mode in corrupt truncate; do
	proxy $mode
	export BERTH_HOME=$TMP/home-$mode
	"$BERTH" pull $PROXY/bb:1 >/dev/null 2>"$TMP/err"; rc=$?
	expect_eq "$mode: the pull fails" "$rc" 1
	check "$mode: the error says what happened" \
		grep -Eqi "digest mismatch|hashes to|truncated|partial|transfer closed|expected" "$TMP/err"
	expect_eq "$mode: no blob but the manifest is stored" \
		"$(ls "$BERTH_HOME/blobs/sha256" | wc -l)" "1" # only the manifest
	expect_eq "$mode: nothing is left in blobs/tmp" "$(ls -A "$BERTH_HOME/blobs/tmp")" ""
	expect_eq "$mode: nothing is tagged" "$("$BERTH" images -q)" ""
done

proxy slow
export BERTH_HOME=$TMP/home-killed
"$BERTH" pull $PROXY/bb:1 >/dev/null 2>&1 &
bp=$!
# Kill it once a layer is half way down (a temp blob over 100 kB).
for _ in $(seq 750); do
	[ -n "$(find "$BERTH_HOME/blobs/tmp" -type f -size +100k 2>/dev/null)" ] && break
	kill -0 $bp 2>/dev/null || break
	sleep 0.02
done
kill -0 $bp 2>/dev/null || diag <<<"the slow pull ended before it could be killed"
kill -9 $bp 2>/dev/null; wait $bp 2>/dev/null
check "killed: it left a temp blob behind" test -n "$(ls -A "$BERTH_HOME/blobs/tmp" 2>/dev/null)"
"$BERTH" pull $PLAIN/bb:1 >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "killed: the next pull completes" "$rc" 0
expect_eq "killed: the temp files are gone" "$(ls -A "$BERTH_HOME/blobs/tmp")" ""
expect_eq "killed: no half layer directory is left" \
	"$(ls "$BERTH_HOME/layers" | grep -c -- -)" "0"
done_testing
