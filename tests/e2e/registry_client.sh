#!/bin/bash
# The registry client (src/registry) against Debian's docker-registry on
# 127.0.0.1, driven through tests/tools/registry_probe: a plain registry with
# a real busybox image pushed by skopeo (manifest negotiation, verified blob
# downloads, uploads, mounts, chunked uploads, skopeo reading what we pushed),
# htpasswd Basic auth, and token auth through tests/tools/token_server.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/registry.bash"
PROBE=$BERTH_BUILD/tests/tools/registry_probe

if ! registry_prereqs; then
	skip "registry client end-to-end" "$REG_MISSING"
	done_testing
	exit
fi
if [ ! -x "$PROBE" ]; then
	skip "registry client end-to-end" "no $PROBE (make the test tools first)"
	done_testing
	exit
fi

# probe NAME ARGS...: run registry_probe, keep stdout in $TMP/out and stderr
# in $TMP/err, return its status.
probe() {
	"$PROBE" "$@" >"$TMP/out" 2>"$TMP/err"
}

# expect_fail NAME CODE TEXT ARGS...: the probe fails with that error code
# and a message containing TEXT.
expect_fail() {
	local name=$1 code=$2 text=$3
	shift 3
	if probe "$@"; then
		not_ok "$name"
		echo "succeeded unexpectedly" | diag
	elif ! grep -q "code: $code\$" "$TMP/err" || ! grep -qF -- "$text" "$TMP/err"; then
		not_ok "$name"
		{ echo "want code $code and: $text"; cat "$TMP/err"; } | diag
	else
		ok "$name"
	fi
}

# field NAME: a "name: value" line of the manifest command's output.
field() {
	sed -n "s/^$1: //p" "$TMP/out" | head -1
}

# The body the manifest command printed (after the blank line).
manifest_body() {
	sed '1,/^$/d' "$TMP/out"
}

sha() {
	echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}

access_log() {
	grep -o '"[A-Z]* /v2/[^"]*" [0-9]*' "$REG_DIR/registry.log"
}

# ---------------------------------------------------------------- fixture

# A tiny OCI image from busybox-static (the reference, 1.5) in $TMP/oci.
make_image() {
	local root=$TMP/rootfs a
	mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root}
	cp "$(command -v busybox)" "$root/bin/busybox" || return 1
	for a in $("$root/bin/busybox" --list); do
		[ "$a" == busybox ] || ln -sf busybox "$root/bin/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	local rootless=()
	[ "$(id -u)" -ne 0 ] && rootless=(--rootless)
	(cd "$TMP" && umoci init --layout oci &&
		umoci new --image oci:latest &&
		umoci insert "${rootless[@]}" --image oci:latest rootfs / &&
		umoci config --image oci:latest --config.cmd=/bin/sh \
			--config.env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			--config.workingdir=/ --architecture=amd64 --os=linux &&
		umoci gc --layout oci) >"$TMP/umoci.log" 2>&1
}

echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$TMP/policy.json"
echo '{}' >"$TMP/skopeo-auth.json"
# skopeo with an empty policy and auth file: never the user's credentials.
skopeo_() {
	local verb=$1
	shift
	skopeo --policy "$TMP/policy.json" "$verb" --authfile "$TMP/skopeo-auth.json" "$@"
}

have_image=false
if ! command -v umoci >/dev/null || ! command -v skopeo >/dev/null ||
	! command -v busybox >/dev/null || ! command -v jq >/dev/null; then
	image_missing="needs umoci, skopeo, busybox-static and jq"
elif make_image; then
	have_image=true
else
	image_missing="umoci could not build the image: $(tail -1 "$TMP/umoci.log")"
fi

# ----------------------------------------------------------- plain registry

if ! start_registry plain 2>"$TMP/start.err"; then
	not_ok "start a plain registry"
	diag <"$TMP/start.err"
	done_testing
	exit
fi
PLAIN=$REG_ADDR
PLAIN_DIR=$REG_DIR
check "ping a plain registry" "$PROBE" "$PLAIN" ping

if $have_image; then
	if skopeo_ copy --dest-tls-verify=false oci:"$TMP/oci:latest" \
		"docker://$PLAIN/busybox:latest" >"$TMP/skopeo.log" 2>&1; then
		ok "skopeo pushes the busybox image"
	else
		not_ok "skopeo pushes the busybox image"
		diag <"$TMP/skopeo.log"
		have_image=false
	fi
fi

if $have_image; then
	skopeo_ inspect --tls-verify=false --raw "docker://$PLAIN/busybox:latest" >"$TMP/raw"
	want_digest=$(sha "$TMP/raw")
	if probe "$PLAIN" manifest busybox latest; then
		ok "manifest by tag"
		expect_eq "an OCI manifest is served to our Accept list" "$(field media-type)" \
			"application/vnd.oci.image.manifest.v1+json"
		expect_eq "manifest digest is the sha256 of the body" "$(field digest)" "$want_digest"
		manifest_body >"$TMP/manifest.json"
		check "manifest body is what skopeo reads" cmp "$TMP/manifest.json" "$TMP/raw"
	else
		not_ok "manifest by tag"
		diag <"$TMP/err"
	fi
	check "manifest by digest" "$PROBE" "$PLAIN" manifest busybox "$want_digest"
	expect_fail "an unknown tag is not found" not_found \
		"pull 'busybox:nope': manifest unknown" "$PLAIN" manifest busybox nope

	layer=$(jq -r '.layers[0].digest' "$TMP/raw")
	layer_size=$(jq -r '.layers[0].size' "$TMP/raw")
	config=$(jq -r '.config.digest' "$TMP/raw")
	if probe --size "$layer_size" "$PLAIN" blob busybox "$layer" "$TMP/layer"; then
		ok "download the layer"
		expect_eq "downloaded layer has its digest" "$(sha "$TMP/layer")" "$layer"
		expect_eq "no reset on a clean download" "$(cat "$TMP/out")" \
			"received $layer_size bytes, 0 resets"
	else
		not_ok "download the layer"
		diag <"$TMP/err"
	fi
	expect_fail "a size that disagrees fails after retries" invalid \
		"bytes the descriptor gives (gave up after" \
		--size $((layer_size - 1)) "$PLAIN" blob busybox "$layer" "$TMP/bad"
	expect_fail "a missing blob is not found" not_found "blob unknown" \
		"$PLAIN" blob busybox "sha256:$(printf '%064d' 0)" "$TMP/none"
	check "blob-exists reports the layer" "$PROBE" "$PLAIN" blob-exists busybox "$layer"
	expect_eq "blob-exists size" "$("$PROBE" "$PLAIN" blob-exists busybox "$layer")" "$layer_size"

	# Push the same image under another name by hand, then let skopeo read it.
	cp "$TMP/oci/blobs/sha256/${config#sha256:}" "$TMP/config.blob"
	if probe "$PLAIN" push-blob copy "$TMP/config.blob"; then
		expect_eq "push the config blob" "$(cut -d' ' -f1-2 "$TMP/out")" "uploaded $config"
	else
		not_ok "push the config blob"
		diag <"$TMP/err"
	fi
	check "push the layer by mounting it from busybox" \
		"$PROBE" --mount-from busybox "$PLAIN" push-blob copy "$TMP/layer"
	check "the mount was a 201 mount, no upload" \
		grep -q "POST /v2/copy/blobs/uploads/?mount=$layer&from=busybox HTTP/1.1\" 201" \
		<(access_log)
	probe "$PLAIN" push-blob copy "$TMP/config.blob"
	expect_eq "a blob the registry has is skipped" "$(cut -d' ' -f1 "$TMP/out")" exists
	check "put the manifest" "$PROBE" "$PLAIN" put-manifest copy v1 "$TMP/manifest.json" \
		application/vnd.oci.image.manifest.v1+json
	if skopeo_ inspect --tls-verify=false "docker://$PLAIN/copy:v1" >"$TMP/inspect" \
		2>"$TMP/inspect.err"; then
		ok "skopeo inspects what we pushed"
		expect_eq "skopeo sees our digest" "$(jq -r .Digest "$TMP/inspect")" "$want_digest"
		expect_eq "skopeo sees the layer" "$(jq -r '.Layers[0]' "$TMP/inspect")" "$layer"
	else
		not_ok "skopeo inspects what we pushed"
		diag <"$TMP/inspect.err"
	fi

	# An index and a Docker schema 2 manifest come back with their types.
	jq -n --arg d "$want_digest" --argjson s "$(stat -c %s "$TMP/raw")" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
		  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
		  digest: $d, size: $s, platform: {architecture: "amd64", os: "linux"}}]}' \
		>"$TMP/index.json"
	check "put an OCI index" "$PROBE" "$PLAIN" put-manifest busybox multi "$TMP/index.json" \
		application/vnd.oci.image.index.v1+json
	probe "$PLAIN" manifest busybox multi
	expect_eq "an OCI index is served as one" "$(field media-type)" \
		"application/vnd.oci.image.index.v1+json"
	if skopeo_ copy --format v2s2 --dest-tls-verify=false oci:"$TMP/oci:latest" \
		"docker://$PLAIN/busybox:v2s2" >"$TMP/skopeo.log" 2>&1; then
		probe "$PLAIN" manifest busybox v2s2
		expect_eq "a Docker schema 2 manifest is served as one" "$(field media-type)" \
			"application/vnd.docker.distribution.manifest.v2+json"
	else
		not_ok "skopeo pushes a Docker schema 2 manifest"
		diag <"$TMP/skopeo.log"
	fi
	expect_fail "a manifest under a digest it does not hash to is refused" invalid \
		"not the digest it is pushed under" \
		"$PLAIN" put-manifest copy "sha256:$(printf '%064d' 1)" "$TMP/manifest.json" \
		application/vnd.oci.image.manifest.v1+json
else
	skip "the busybox image through the client" "$image_missing"
fi

# Above BERTH_REGISTRY_MONOLITHIC_MAX (64 MiB) the upload goes in chunks.
head -c $((64 * 1024 * 1024 + 4099)) /dev/urandom >"$TMP/big"
big=$(sha "$TMP/big")
if probe "$PLAIN" push-blob big "$TMP/big"; then
	ok "a 64 MiB+ blob is pushed"
	check "it went in PATCH chunks" grep -q '"PATCH /v2/big/blobs/uploads/' <(access_log)
	if probe "$PLAIN" blob big "$big" "$TMP/big.out"; then
		check "it comes back intact" cmp "$TMP/big" "$TMP/big.out"
	else
		not_ok "the big blob downloads"
		diag <"$TMP/err"
	fi
else
	not_ok "a 64 MiB+ blob is pushed"
	diag <"$TMP/err"
fi
rm -f "$TMP/big" "$TMP/big.out"

# A small blob and manifest for the auth registries.
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' \
	>"$TMP/small-config"
small=$(sha "$TMP/small-config")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}' \
	"$small" "$(stat -c %s "$TMP/small-config")" >"$TMP/small-manifest"

# A mount from a repository that lacks the blob opens a session (202): the
# upload goes into that session, with no second POST.
REG_DIR=$PLAIN_DIR
if probe --mount-from nothing-here "$PLAIN" push-blob mounted "$TMP/small-config"; then
	expect_eq "a refused mount falls back to an upload" "$(cut -d' ' -f1 "$TMP/out")" uploaded
	check "the mount answered 202" grep -q \
		"POST /v2/mounted/blobs/uploads/?mount=$small&from=nothing-here HTTP/1.1\" 202" \
		<(access_log)
	expect_eq "and no second session was opened" \
		"$(access_log | grep -c 'POST /v2/mounted/blobs/uploads/')" 1
else
	not_ok "a refused mount falls back to an upload"
	diag <"$TMP/err"
fi

# -------------------------------------------------------- htpasswd (Basic)

if start_registry basic 2>"$TMP/start.err"; then
	B=$REG_ADDR
	expect_fail "basic: anonymous ping needs a login" auth \
		"registry '$B': authentication required (log in with 'berth login $B')" \
		"$B" ping
	check "basic: the right password" "$PROBE" --user "$REG_USER" --password "$REG_PASS" "$B" ping
	expect_fail "basic: a wrong password names the registry and the fix" auth \
		"registry '$B': the password for '$REG_USER' was refused (log in with 'berth login $B' or check the password)" \
		--user "$REG_USER" --password wrong "$B" ping
	expect_fail "basic: anonymous pull says what to do" auth \
		"registry '$B': pull 'small:v1': unauthorized: authentication required (log in with 'berth login $B')" \
		"$B" manifest small v1
	expect_fail "basic: a wrong password on push" auth \
		"(log in with 'berth login $B' or check the password)" \
		--user "$REG_USER" --password wrong "$B" push-blob small "$TMP/small-config"
	check "basic: push a blob" "$PROBE" --user "$REG_USER" --password "$REG_PASS" \
		"$B" push-blob small "$TMP/small-config"
	check "basic: put a manifest" "$PROBE" --user "$REG_USER" --password "$REG_PASS" \
		"$B" put-manifest small v1 "$TMP/small-manifest" application/vnd.oci.image.manifest.v1+json
	if probe --user "$REG_USER" --password "$REG_PASS" "$B" manifest small v1; then
		manifest_body >"$TMP/got"
		check "basic: the manifest comes back" cmp "$TMP/got" "$TMP/small-manifest"
	else
		not_ok "basic: the manifest comes back"
		diag <"$TMP/err"
	fi
	check "basic: download the blob with the credentials" "$PROBE" --user "$REG_USER" \
		--password "$REG_PASS" "$B" blob small "$small" "$TMP/got"
	check "basic: the blob is intact" cmp "$TMP/got" "$TMP/small-config"
	check "basic: skopeo reads it with the same credentials" skopeo_ inspect \
		--tls-verify=false --creds "$REG_USER:$REG_PASS" "docker://$B/small:v1"
	stop_registry "$REG_PID"
else
	not_ok "start a basic-auth registry"
	diag <"$TMP/start.err"
fi

# ------------------------------------------------------------ token auth

if start_registry token 2>"$TMP/start.err"; then
	T=$REG_ADDR
	check "token: anonymous ping" "$PROBE" "$T" ping
	check "token: ping with the right password" \
		"$PROBE" --user "$REG_USER" --password "$REG_PASS" "$T" ping
	check "token: the password was checked at the token server" \
		grep -q "^GET /token account=$REG_USER auth=basic -> 200\$" "$TOKEN_LOG"
	expect_fail "token: a wrong password names the registry and the fix" auth \
		"token server 'http://$TOKEN_ADDR/token' refused the credentials of '$REG_USER'" \
		--user "$REG_USER" --password wrong "$T" ping
	check "token: ... and says to log in again" grep -qF "berth login $T" "$TMP/err"
	expect_fail "token: anonymous push is refused with the fix" auth \
		"unauthorized: authentication required (log in with 'berth login $T')" \
		"$T" push-blob small "$TMP/small-config"
	check "token: push a blob" "$PROBE" --user "$REG_USER" --password "$REG_PASS" \
		"$T" push-blob small "$TMP/small-config"
	check "token: one pull,push token for the upload" grep -q \
		"account=$REG_USER auth=basic scope=repository:small:pull,push -> 200" "$TOKEN_LOG"
	check "token: put a manifest" "$PROBE" --user "$REG_USER" --password "$REG_PASS" \
		"$T" put-manifest small v1 "$TMP/small-manifest" application/vnd.oci.image.manifest.v1+json
	if probe "$T" manifest small v1; then
		ok "token: anonymous pull of the manifest"
		manifest_body >"$TMP/got"
		check "token: the manifest comes back" cmp "$TMP/got" "$TMP/small-manifest"
	else
		not_ok "token: anonymous pull of the manifest"
		diag <"$TMP/err"
	fi
	check "token: anonymous pull asked for pull only, without credentials" grep -q \
		"account=- auth=none scope=repository:small:pull -> 200" "$TOKEN_LOG"
	check "token: anonymous blob download" "$PROBE" "$T" blob small "$small" "$TMP/got"
	check "token: mount from another repository" "$PROBE" --user "$REG_USER" \
		--password "$REG_PASS" --mount-from small "$T" push-blob other "$TMP/small-config"
	check "token: the mount asked for both scopes in one token" grep -q \
		"scope=repository:other:pull,push scope=repository:small:pull -> 200" "$TOKEN_LOG"
	check "token: the registry mounted it" grep -q \
		"POST /v2/other/blobs/uploads/?mount=$small&from=small HTTP/1.1\" 201" <(access_log)
	stop_registry "$REG_PID"
	stop_registry "$TOKEN_PID"
else
	not_ok "start a token-auth registry"
	diag <"$TMP/start.err"
fi

# A user the token server grants pull only: the 401 says it is about access.
if TOKEN_FLAGS="--grant $REG_USER=small:pull" start_registry token 2>"$TMP/start.err"; then
	expect_fail "token: a push the token does not grant says so" auth \
		"the token server accepted '$REG_USER' but did not grant this access" \
		--user "$REG_USER" --password "$REG_PASS" "$REG_ADDR" push-blob small "$TMP/small-config"
	stop_registry "$REG_PID"
	stop_registry "$TOKEN_PID"
else
	not_ok "start a token-auth registry with a pull-only grant"
	diag <"$TMP/start.err"
fi

# Nothing listening: a transport error that names the registry.
port=$(free_port)
expect_fail "a registry that is not there" system \
	"registry '127.0.0.1:$port': check /v2/" "127.0.0.1:$port" ping
grep -qF "is the registry running" "$TMP/err" && ok "... with a hint" ||
	{ not_ok "... with a hint"; diag <"$TMP/err"; }

done_testing
