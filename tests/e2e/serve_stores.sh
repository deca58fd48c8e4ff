#!/bin/bash
# `berth serve`'s stores end to end on 127.0.0.1: the file store (upload,
# immutable downloads, 304, dedup, traversal and bad digests refused, 413),
# the KV store (set, get, delete, list, TTL expiry lazily and by the sweep,
# limits), API keys (the first key, admin and invoke scopes, 401 and 403,
# revoke, restart) and GET /metrics (the text format parsed, a counter
# going up); then the CLI verbs files, kv and keys against the server and
# with no server to reach. No runner is started: no root needed.
. "$(dirname "$0")/lib.bash"
for t in curl jq python3 sha256sum sqlite3; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed"; exit 0; }
done

export BERTH_HOME=$TMP/home
mkdir -p "$BERTH_HOME"
unset BERTH_KEY
B=$BERTH
. "$(dirname "$0")/serve.bash"
trap serve_cleanup EXIT

stop_server() {
	kill -TERM "$SRV_PID"
	wait "$SRV_PID"
	srv_rc=$?
	SRV_PID=
}

# req METHOD PATH [CURL ARGS...]: the status in $code, the body in
# $TMP/body, the headers in $TMP/hdr.
req() {
	local m=$1 p=$2
	shift 2
	rm -f "$TMP/body" "$TMP/hdr"
	: >"$TMP/body"
	code=$(curl -s --path-as-is -X "$m" -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' "$@" "$URL$p")
}
# admin METHOD PATH [CURL ARGS...]: req with the server's local admin token,
# as the berth CLI on this host sends it.
admin() { req "$@" -H "Authorization: Key local:$(cat "$BERTH_HOME/serve.$PORT.token")"; }
body() { cat "$TMP/body"; }
header() { grep -i "^$1:" "$TMP/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
errcode() { jq -r '.error.code' "$TMP/body" 2>/dev/null; }
# expect_code NAME WANT: checks $code, shows the body when it differs.
expect_code() {
	if [ "$code" == "$2" ]; then ok "$1"; else
		not_ok "$1"; { echo "got $code, want $2"; head -c 600 "$TMP/body"; echo; } | diag; fi
}
sha() { sha256sum "$1" | cut -c1-64; }
blobs() { find "$BERTH_HOME/files/sha256" -type f 2>/dev/null | wc -l | tr -d ' '; }

if start_server; then ok "berth serve starts and answers /healthz"; else
	not_ok "berth serve starts"; diag <"$TMP/serve.log"; done_testing; exit; fi

# ------------------------------------------------------------- health, metrics
req GET /healthz
expect_code "GET /healthz is 200" 200
expect_eq "/healthz says ok" "$(jq -c . "$TMP/body")" '{"status":"ok"}'

# ------------------------------------------------------------------ files
printf 'hello, berth\n' >"$TMP/hello.txt"
H=$(sha "$TMP/hello.txt")
req POST "/v1/files?name=hello.txt" -H 'Content-Type: text/plain; charset=utf-8' \
	--data-binary @"$TMP/hello.txt"
expect_code "an upload is 201" 201
expect_eq "the digest is the bytes' sha256" "$(jq -r .digest "$TMP/body")" "sha256:$H"
expect_eq "the answer names, sizes and types the file" \
	"$(jq -r '[.name, .size, .content_type] | join(",")' "$TMP/body")" \
	"hello.txt,13,text/plain; charset=utf-8"
expect_eq "the url is on the server" "$(jq -r .url "$TMP/body")" "$URL/files/sha256:$H/hello.txt"
expect_eq "the blob is stored under files/sha256/<hex>" \
	"$(cmp -s "$BERTH_HOME/files/sha256/$H" "$TMP/hello.txt" && echo same)" same

req GET "/files/sha256:$H/hello.txt"
expect_code "a download is 200" 200
check "a download holds the bytes" cmp "$TMP/body" "$TMP/hello.txt"
expect_eq "Content-Type is the uploaded one" "$(header Content-Type)" "text/plain; charset=utf-8"
expect_eq "Cache-Control is immutable" "$(header Cache-Control)" \
	"public, max-age=31536000, immutable"
expect_eq "ETag is the digest" "$(header ETag)" "\"sha256:$H\""
req GET "/files/sha256:$H/hello.txt" -H "If-None-Match: \"sha256:$H\""
expect_code "If-None-Match with the ETag is 304" 304
expect_eq "a 304 has no body" "$(stat -c %s "$TMP/body")" 0
expect_eq "a 304 keeps the cache headers" "$(header ETag) $(header Cache-Control)" \
	"\"sha256:$H\" public, max-age=31536000, immutable"
req GET "/files/sha256:$H/hello.txt" -H "If-None-Match: \"x\", W/\"sha256:$H\""
expect_code "a weak ETag in a list matches too" 304
req GET "/files/sha256:$H/hello.txt" -H 'If-None-Match: "sha256:0000"'
expect_code "another ETag gets the file" 200
# HEAD over HTTP/1.0 (the server closes the connection): all it sends.
python3 - "$PORT" "/files/sha256:$H/hello.txt" >"$TMP/head" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"HEAD %s HTTP/1.0\r\n\r\n" % sys.argv[2].encode())
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, rest = data.partition(b"\r\n\r\n")
length = [l.split(b":")[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
print(head.split(b" ")[1].decode(), length[0].decode() if length else "-", len(rest))
EOF
expect_eq "HEAD answers the headers, no body" "$(cat "$TMP/head")" "200 13 0"

# The same bytes again: one blob, two names.
req POST "/v1/files?name=copy.txt" -H 'Content-Type: text/plain' --data-binary @"$TMP/hello.txt"
expect_code "the same bytes under another name are 201" 201
req POST "/v1/files?name=copy.txt" -H 'Content-Type: text/plain' --data-binary @"$TMP/hello.txt"
expect_code "the same bytes and name again are 200" 200
expect_eq "the same bytes are stored once" "$(blobs)" 1
admin GET "/v1/files"
expect_eq "the list has both names" "$(jq -r '[.files[].name] | sort | join(",")' "$TMP/body")" \
	"copy.txt,hello.txt"
admin GET "/v1/files?digest=sha256:$H"
expect_eq "the list filters by digest" "$(jq '.files | length' "$TMP/body")" 2
req GET "/files/sha256:$H/other.txt"
expect_code "a name the digest was not uploaded under is 404" 404

# A blob damaged on disk (same size) is rewritten by the next upload.
printf 'HELLO, BERTH\n' >"$BERTH_HOME/files/sha256/$H"
req POST "/v1/files?name=hello.txt" -H 'Content-Type: text/plain' --data-binary @"$TMP/hello.txt"
check "a damaged blob is rewritten by an upload of its bytes" \
	cmp "$BERTH_HOME/files/sha256/$H" "$TMP/hello.txt"

# Refused: traversal, bad digests, bad names.
req GET "/files/sha256:$H/.."
expect_code "GET /files/D/.. is refused (400)" 400
req GET "/files/sha256:$H/%2e%2e"
expect_code "GET /files/D/%2e%2e is refused (400)" 400
req GET "/files/sha256:$H/%2e%2e%2f%2e%2e%2fberth.db"
expect_code "an encoded ../../berth.db is not found (404)" 404
req GET "/files/../berth.db"
expect_code "GET /files/../berth.db is refused" 400
req GET "/files/%2e%2e/berth.db"
expect_code "GET /files/%2e%2e/berth.db is refused" 400
req GET "/files/sha256:${H:0:63}/hello.txt"
expect_code "a digest of 63 hex digits is 400" 400
req GET "/files/sha256:${H:0:63}g/hello.txt"
expect_code "a digest with a non-hex digit is 400" 400
req GET "/files/md5:$H/hello.txt"
expect_code "another algorithm is 400" 400
expect_eq "a bad digest says so" "$(errcode)" invalid
for n in '..' '../evil' 'a%2Fb' '.' '%00x'; do
	req POST "/v1/files?name=$n" --data-binary x
	expect_code "upload named '$n' is 400" 400
done
req POST "/v1/files" --data-binary x
expect_code "an upload without a name is 400" 400
check "nothing was written outside files/" test ! -e "$BERTH_HOME/evil" -a ! -e "$TMP/evil"
req POST "/v1/files?name=x.bin&digest=sha256:$H" --data-binary 'not hello'
expect_eq "an upload whose ?digest= differs is 400 digest_mismatch" "$code $(errcode)" \
	"400 digest_mismatch"

# Size: over the server's body limit (64 MiB) is 413; 5 MiB streams back.
head -c $((64 * 1024 * 1024 + 1)) /dev/zero >"$TMP/big"
req POST "/v1/files?name=big" --data-binary @"$TMP/big"
expect_code "an upload over 64 MiB is 413" 413
expect_eq "a refused upload stores nothing" "$(blobs)" 1
rm -f "$TMP/big"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$TMP/five"
req POST "/v1/files?name=five.bin" --data-binary @"$TMP/five"
expect_code "a 5 MiB upload is 201" 201
req GET "/files/sha256:$(sha "$TMP/five")/five.bin"
check "a 5 MiB download (streamed) holds the bytes" cmp "$TMP/body" "$TMP/five"
expect_eq "the type sent is kept (curl's default here)" "$(header Content-Type)" \
	"application/x-www-form-urlencoded"

req POST "/v1/files?name=empty" --data-binary ''
expect_eq "an empty file is a file" "$code $(jq -r .digest "$TMP/body")" \
	"201 sha256:$(sha /dev/null)"
req GET "/files/sha256:$(sha /dev/null)/empty"
expect_eq "and downloads empty" "$code $(stat -c %s "$TMP/body")" "200 0"
admin DELETE "/v1/files/sha256:$(sha /dev/null)"

# Remove: one name, then the rest and the blob.
admin DELETE "/v1/files/sha256:$H?name=copy.txt"
expect_eq "rm of one name removes one row, keeps the blob" \
	"$code $(jq -c '[.removed, .blob_removed]' "$TMP/body") $(test -f "$BERTH_HOME/files/sha256/$H" && echo kept)" \
	"200 [1,false] kept"
admin DELETE "/v1/files/sha256:$H"
expect_eq "rm of the digest removes the last row and the blob" \
	"$code $(jq -c '[.removed, .blob_removed]' "$TMP/body") $(test -e "$BERTH_HOME/files/sha256/$H" || echo gone)" \
	"200 [1,true] gone"
req GET "/files/sha256:$H/hello.txt"
expect_code "a removed file is 404" 404
admin DELETE "/v1/files/sha256:$H"
expect_code "rm of a digest with no file is 404" 404
admin DELETE "/v1/files/nothex"
expect_code "rm of a bad digest is 400" 400

# ------------------------------------------------------------------ KV
printf 'a\0b\nc' >"$TMP/value"
req PUT /v1/kv/app-1/greeting --data-binary @"$TMP/value"
expect_eq "PUT sets a key" "$code $(jq -c '[.size, .expires]' "$TMP/body")" "200 [5,null]"
req GET /v1/kv/app-1/greeting
expect_code "GET of a key is 200" 200
check "GET gives the bytes back (NUL included)" cmp "$TMP/body" "$TMP/value"
req PUT /v1/kv/app-1/greeting --data-binary 'second'
req GET /v1/kv/app-1/greeting
expect_eq "PUT over a key replaces it" "$(body)" second
req PUT /v1/kv/app-1/empty --data-binary ''
req GET /v1/kv/app-1/empty
expect_eq "an empty value is a value" "$code $(stat -c %s "$TMP/body")" "200 0"
curl -s -X DELETE "$URL/v1/kv/app-1/empty" >/dev/null
req GET /v1/kv/app-1/missing
expect_eq "GET of a missing key is 404" "$code $(errcode)" "404 not_found"
req GET /v1/kv/other-ns/greeting
expect_code "namespaces are separate" 404
for k in b.key a_key c-key; do curl -s -X PUT --data-binary v "$URL/v1/kv/app-1/$k" >/dev/null; done
req GET /v1/kv/app-1
expect_eq "GET /v1/kv/NS lists the keys in order" "$(jq -r '.keys | join(",")' "$TMP/body")" \
	"a_key,b.key,c-key,greeting"
req GET "/v1/kv/app-1?limit=2"
expect_eq "a page of 2 says where to go on" "$(jq -c '[.keys, .next]' "$TMP/body")" \
	'[["a_key","b.key"],"b.key"]'
req GET "/v1/kv/app-1?limit=2&after=b.key"
expect_eq "the next page ends the list" "$(jq -c '[.keys, .next]' "$TMP/body")" \
	'[["c-key","greeting"],null]'
req GET "/v1/kv/app-1?prefix=b"
expect_eq "a prefix filters the list" "$(jq -r '.keys | join(",")' "$TMP/body")" "b.key"
req DELETE /v1/kv/app-1/c-key
expect_eq "DELETE removes a key" "$code $(jq .deleted "$TMP/body")" "200 true"
req DELETE /v1/kv/app-1/c-key
expect_eq "DELETE again is fine, and says so" "$code $(jq .deleted "$TMP/body")" "200 false"
req GET /v1/kv/app-1/c-key
expect_code "a deleted key is 404" 404

# TTL: gone after it, and deleted from the table when read.
req PUT "/v1/kv/app-1/short?ttl=1" --data-binary soon
expect_eq "PUT with ?ttl= says when it expires" "$code $(jq '.expires > now' "$TMP/body")" "200 true"
req GET /v1/kv/app-1/short
expect_eq "a key is there before its ttl" "$code $(body)" "200 soon"
check "GET says when the key expires" test -n "$(header X-Berth-Expires)"
curl -s -X PUT --data-binary later "$URL/v1/kv/app-1/swept?ttl=1" >/dev/null
sleep 2.1
req GET "/v1/kv/app-1"
expect_eq "expired keys are not listed" "$(jq -r '.keys | join(",")' "$TMP/body")" \
	"a_key,b.key,greeting"
req GET /v1/kv/app-1/short
expect_eq "a key past its ttl is 404 (it expired)" "$code $(jq -r .error.message "$TMP/body" | grep -c expired)" "404 1"
expect_eq "an expired key is deleted when read" \
	"$(sqlite3 "$BERTH_HOME/berth.db" "SELECT count(*) FROM srv_kv WHERE key = 'short'")" 0
expect_eq "an expired key not read is still in the table" \
	"$(sqlite3 "$BERTH_HOME/berth.db" "SELECT count(*) FROM srv_kv WHERE key = 'swept'")" 1

# Limits.
K256=$(printf 'k%.0s' $(seq 1 256))
req PUT "/v1/kv/app-1/$K256" --data-binary v
expect_code "a key of 256 characters is fine" 200
req PUT "/v1/kv/app-1/${K256}k" --data-binary v
expect_code "a key of 257 characters is 400" 400
for bad in 'a%20b' '%2e%2e' 'caf%C3%A9' 'a:b'; do
	req PUT "/v1/kv/app-1/$bad" --data-binary v
	expect_code "key '$bad' is 400" 400
done
req PUT "/v1/kv/app-1/a%2Fb" --data-binary v
expect_code "key 'a%2Fb' is not a route (404)" 404
req PUT "/v1/kv/bad%21ns/k" --data-binary v
expect_code "a bad namespace is 400" 400
head -c $((1024 * 1024)) /dev/urandom >"$TMP/mib"
req PUT /v1/kv/app-1/mib --data-binary @"$TMP/mib"
expect_code "a value of 1 MiB is fine" 200
req GET /v1/kv/app-1/mib
check "a value of 1 MiB comes back whole" cmp "$TMP/body" "$TMP/mib"
printf x >>"$TMP/mib"
req PUT /v1/kv/app-1/mib2 --data-binary @"$TMP/mib"
expect_eq "a value over 1 MiB is 413" "$code $(errcode)" "413 limit"
for t in 0 -1 abc 31536001 1.5; do
	req PUT "/v1/kv/app-1/t?ttl=$t" --data-binary v
	expect_code "ttl=$t is 400" 400
done

# The sweep: a restarted server deletes expired keys nobody reads.
stop_server
start_server || { not_ok "the server restarts"; done_testing; exit; }
req GET /v1/kv/app-1/greeting
expect_eq "KV values survive a restart" "$code $(body)" "200 second"
expect_eq "the sweep deleted the expired key nobody read" \
	"$(sqlite3 "$BERTH_HOME/berth.db" "SELECT count(*) FROM srv_kv WHERE key = 'swept'")" 0

# ------------------------------------------------------------------ keys
check "the local admin token is in the state dir, mode 600" \
	test "$(stat -c %a "$BERTH_HOME/serve.$PORT.token")" = 600
req GET /v1/keys
expect_eq "with no key yet, the admin API without the local token is 401" "$code $(errcode)" "401 auth"
check "  and the answer says where the token is" grep -q 'serve.<port>.token' "$TMP/body"
req GET /v1/keys -H "Authorization: Key local:$(printf '0%.0s' $(seq 1 64))"
expect_code "a wrong local token is 401" 401
admin GET /v1/keys
expect_eq "with the local token it answers" "$code $(jq -c .keys "$TMP/body")" "200 []"
admin POST /v1/keys -d '{"scope": "invoke"}'
expect_eq "the first key cannot be an invoke key (409)" "$code $(errcode)" "409 exists"
admin POST /v1/keys -d '{"scope": "root"}'
expect_code "an unknown scope is 400" 400
"$B" keys create --description "ops key" >"$TMP/admin.key" 2>"$TMP/err"
rc=$?
expect_eq "berth keys create exits 0" "$rc" 0
ADMIN=$(cat "$TMP/admin.key")
ADMIN_ID=${ADMIN%%:*}
check "the key is ID:SECRET (16 and 64 hex digits)" grep -qE '^[0-9a-f]{16}:[0-9a-f]{64}$' "$TMP/admin.key"
check "create says the key is shown once" grep -q "only time the key is shown" "$TMP/err"
SECRET=${ADMIN#*:}
check "the secret is in no file of the server" sh -c "! grep -rqaF '$SECRET' '$BERTH_HOME'"
expect_eq "the table holds the secret's sha256" \
	"$(sqlite3 "$BERTH_HOME/berth.db" "SELECT hash FROM srv_keys WHERE id = '$ADMIN_ID'")" \
	"$(printf %s "$SECRET" | sha256sum | cut -c1-64)"

req GET /v1/keys
expect_eq "once a key exists, the admin API without one is 401" "$code $(errcode)" "401 auth"
req GET /v1/files
expect_code "the file list without a key is 401" 401
req GET /v1/kv/app-1/greeting
expect_code "KV without a key is 401" 401
req POST "/v1/files?name=n.txt" --data-binary x
expect_code "an upload without a key is 401" 401
req GET /v1/keys -H "Authorization: Key ${ADMIN_ID}:$(printf '0%.0s' $(seq 1 64))"
expect_code "a wrong secret is 401" 401
req GET /v1/keys -H "Authorization: Key $ADMIN"
expect_eq "the admin key opens the admin API" "$code $(jq -r '.keys[0].description' "$TMP/body")" \
	"200 ops key"
expect_eq "the list holds no secret" "$(jq -c '.keys[0] | keys' "$TMP/body")" \
	'["created","description","id","revoked","scope"]'
req GET /v1/keys -H "Authorization: Bearer $ADMIN"
expect_code "Bearer works as Key does" 200
req GET /healthz
expect_code "/healthz stays public" 200

export BERTH_KEY=$ADMIN
INVOKE=$("$B" keys create --scope invoke --description app 2>/dev/null)
check "berth keys create --scope invoke makes a key" test -n "$INVOKE"
req GET /v1/keys -H "Authorization: Key $INVOKE"
expect_eq "an invoke key on the admin API is 403" "$code $(errcode)" "403 auth"
req GET /v1/files -H "Authorization: Key $INVOKE"
expect_code "an invoke key cannot list files (403)" 403
req PUT /v1/kv/app-1/from-app -H "Authorization: Key $INVOKE" --data-binary v
expect_code "an invoke key may use KV" 200
req POST "/v1/files?name=app.txt" -H "Authorization: Key $INVOKE" --data-binary 'from app'
expect_code "an invoke key may upload" 201
req GET "$(jq -r .url "$TMP/body" | sed "s|^$URL||")"
expect_eq "files download without a key" "$code $(body)" "200 from app"
# The SDK's File.from_bytes, as an app in a runner calls it: $BERTH_SERVER_URL
# and its invoke key in $BERTH_KEY.
SDK=$(cd "$(dirname "$0")/../../sdk/python" && pwd)
BERTH_SERVER_URL=$URL BERTH_KEY=$INVOKE PYTHONPATH=$SDK python3 -c '
from berth.toolkit import File
f = File.from_bytes(b"made by an app\n", file_name="result.txt")
print(f.url, f.content_type, f.file_size)' >"$TMP/sdk.out" 2>"$TMP/sdk.err"
read -r sdk_url sdk_type sdk_size <"$TMP/sdk.out"
expect_eq "the SDK's File.from_bytes uploads to the store" \
	"${sdk_url%%/sha256:*} $sdk_type $sdk_size" "$URL/files text/plain 15"
expect_eq "and its url serves the bytes" "$(curl -s "$sdk_url")" "made by an app"
env -u BERTH_KEY BERTH_SERVER_URL=$URL PYTHONPATH=$SDK python3 -c '
from berth.toolkit import File
print(File.from_bytes(b"x", file_name="r.txt").url[:5])' >"$TMP/sdk.out" 2>"$TMP/sdk.err"
expect_eq "without a key the SDK falls back to a data URL" "$(cat "$TMP/sdk.out")" "data:"
check "and says the upload got 401" grep -q "HTTP 401" "$TMP/sdk.err"
"$B" keys list >"$TMP/list" 2>&1
expect_eq "berth keys list shows both keys" \
	"$(awk 'NR > 1 { print $2 }' "$TMP/list" | sort | paste -sd, -)" "admin,invoke"
check "berth keys list shows no secret" sh -c "! grep -qF '$SECRET' '$TMP/list'"
"$B" keys revoke "$ADMIN_ID" >/dev/null 2>"$TMP/err"
rc=$?
expect_eq "the last admin key cannot go while an invoke key remains" "$rc" 1
check "and says what to do" grep -q "revoke them first" "$TMP/err"
"$B" keys revoke "${INVOKE%%:*}" >"$TMP/out" 2>&1
expect_eq "berth keys revoke revokes" "$? $(cat "$TMP/out")" "0 revoked ${INVOKE%%:*}"
req PUT /v1/kv/app-1/from-app -H "Authorization: Key $INVOKE" --data-binary v
expect_code "a revoked key is 401" 401
"$B" keys revoke 0123456789abcdef >/dev/null 2>"$TMP/err"
expect_eq "revoking an unknown id fails" "$? $(grep -c 'no active key' "$TMP/err")" "1 1"
"$B" keys list --all --json >"$TMP/all.json"
expect_eq "list --all shows the revoked key with a date" \
	"$(jq -r --arg id "${INVOKE%%:*}" '.[] | select(.id == $id) | .revoked | type' "$TMP/all.json")" number

stop_server
start_server || { not_ok "the server restarts"; done_testing; exit; }
req GET /v1/keys
expect_code "keys survive a restart: still 401 without one" 401
req GET /v1/keys -H "Authorization: Key $ADMIN"
expect_code "and the admin key still works" 200
unset BERTH_KEY
"$B" kv get app-1 greeting >/dev/null 2>"$TMP/err"
expect_eq "the CLI on this host without \$BERTH_KEY works (the local token)" "$?" 0
BERTH_HOME=$TMP/elsewhere "$B" kv get app-1 greeting >/dev/null 2>"$TMP/err"
expect_eq "the CLI with another state dir and no \$BERTH_KEY fails" "$?" 1
check "and says to set \$BERTH_KEY" grep -q 'set \$BERTH_KEY' "$TMP/err"

# ------------------------------------------------------------------ metrics
count() { # the value of berth_requests_total{app="",kind="kv",status="200"}
	curl -s "$URL/metrics" | awk '$1 == "berth_requests_total{app=\"\",kind=\"kv\",status=\"200\"}" { print $2 }'
}
export BERTH_KEY=$ADMIN
before=$(count)
"$B" kv get app-1 greeting >/dev/null
"$B" kv get app-1 greeting >/dev/null
expect_eq "berth_requests_total counts KV requests" "$(count)" "$((${before:-0} + 2))"
req GET /metrics
expect_eq "/metrics is text format 0.0.4" "$code $(header Content-Type)" \
	"200 text/plain; version=0.0.4; charset=utf-8"
for f in berth_requests_total:counter berth_request_duration_seconds:histogram \
	berth_cold_starts_total:counter berth_cold_start_seconds:histogram \
	berth_runners:gauge berth_queue_depth:gauge; do
	check "/metrics has # TYPE ${f%%:*} ${f#*:}" grep -qx "# TYPE ${f%%:*} ${f#*:}" "$TMP/body"
done
# The exposition format, checked line by line (names, labels, values; the
# buckets of each histogram cumulative, +Inf equal to _count).
cat >"$TMP/parse.py" <<'EOF'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r'^(%s)(\{(?:%s(?:,%s)*)?\})? ([-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|Inf|NaN))$' % (name, label, label))
types, buckets, counts, errors = {}, {}, {}, []
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip('\n')
    if line.startswith('# TYPE '):
        _, _, fam, typ = line.split(' ')
        types[fam] = typ
        continue
    if line.startswith('# HELP ') or not line:
        continue
    m = sample.match(line)
    if not m:
        errors.append('line %d: %r' % (n, line)); continue
    metric, labels, value = m.group(1), m.group(2) or '', float(m.group(3))
    fam = re.sub(r'_(bucket|sum|count)$', '', metric)
    if fam not in types and metric not in types:
        errors.append('line %d: %s has no # TYPE' % (n, metric))
    if metric.endswith('_bucket'):
        key = (fam, re.sub(r',?le="[^"]*"', '', labels))
        prev = buckets.get(key, -1)
        if value < prev: errors.append('line %d: buckets go down' % n)
        buckets[key] = value
    elif metric.endswith('_count') and types.get(fam) == 'histogram':
        counts[(fam, labels)] = value
for key, last in buckets.items():
    if counts.get(key) != last: errors.append('%s: +Inf %s != _count %s' % (key, last, counts.get(key)))
print('\n'.join(errors) if errors else 'ok')
EOF
expect_eq "/metrics parses as Prometheus text" "$(python3 "$TMP/parse.py" "$TMP/body")" ok
check "the latency histogram has a series for kv" \
	grep -q '^berth_request_duration_seconds_bucket{app="",kind="kv",le="+Inf"} ' "$TMP/body"

# ------------------------------------------------------------------ the CLI
mkdir -p "$TMP/dl"
printf 'cli bytes\n' >"$TMP/cli.txt"
C=$(sha "$TMP/cli.txt")
"$B" files upload "$TMP/cli.txt" >"$TMP/out" 2>"$TMP/err"
expect_eq "berth files upload prints the url" "$? $(cat "$TMP/out")" "0 $URL/files/sha256:$C/cli.txt"
"$B" files upload "$TMP/cli.txt" --name other.dat --json >"$TMP/out"
expect_eq "upload --name --json" "$(jq -r '[.name, .content_type] | join(",")' "$TMP/out")" \
	"other.dat,application/octet-stream"
expect_eq "upload guesses the type from the name" \
	"$(curl -s -o /dev/null -w '%{content_type}' "$URL/files/sha256:$C/cli.txt")" "text/plain"
"$B" files list >"$TMP/out"
check "berth files list shows the names" grep -qE "^sha256:$C +10 .* cli.txt$" "$TMP/out"
(cd "$TMP/dl" && "$B" files download "sha256:$C/cli.txt" 2>"$TMP/err")
check "berth files download DIGEST/NAME writes NAME" cmp "$TMP/dl/cli.txt" "$TMP/cli.txt"
(cd "$TMP/dl" && "$B" files download "sha256:$C/cli.txt" 2>"$TMP/err")
expect_eq "download never writes over a file" "$? $(grep -c exists "$TMP/err")" "1 1"
expect_eq "download -o - writes standard output" "$("$B" files download "$C" -o -)" "cli bytes"
"$B" files download "sha256:$C" -o "$TMP/dl/by-digest" 2>/dev/null
check "download DIGEST takes a name it has" cmp "$TMP/dl/by-digest" "$TMP/cli.txt"
printf 'CLI BYTES\n' >"$BERTH_HOME/files/sha256/$C" # damaged on the server
"$B" files download "sha256:$C/cli.txt" -o "$TMP/dl/bad" 2>"$TMP/err"
expect_eq "a download that does not match its digest fails" "$? $(grep -c 'digest is' "$TMP/err")" "1 1"
check "and writes nothing" test ! -e "$TMP/dl/bad"
check "and leaves no temp file" test -z "$(ls -A "$TMP/dl" | grep berth-download)"
"$B" files rm "sha256:$C" >"$TMP/out"
expect_eq "berth files rm removes every name" "$? $(cat "$TMP/out")" \
	"0 removed 2 names of sha256:$C (and its bytes)"
"$B" files download "sha256:$C/cli.txt" -o "$TMP/dl/gone" 2>"$TMP/err"
expect_eq "download of a removed file fails with the server's message" \
	"$? $(grep -c "no file 'cli.txt'" "$TMP/err")" "1 1"
"$B" files download "not-a-digest" 2>/dev/null
expect_eq "a bad digest is a usage error" "$?" 2

"$B" kv set cli-ns k1 'v 1' >/dev/null
expect_eq "berth kv set, then get" "$("$B" kv get cli-ns k1)" "v 1"
printf 'from\nstdin' | "$B" kv set cli-ns k2 - >/dev/null
expect_eq "berth kv set NS KEY - reads standard input" "$("$B" kv get cli-ns k2)" "$(printf 'from\nstdin')"
"$B" kv set cli-ns k3 x --ttl 60 >/dev/null
expect_eq "berth kv list" "$("$B" kv list cli-ns | paste -sd, -)" "k1,k2,k3"
expect_eq "berth kv delete" "$("$B" kv delete cli-ns k1)" "deleted cli-ns k1"
"$B" kv get cli-ns k1 >/dev/null 2>"$TMP/err"
expect_eq "berth kv get of a missing key exits 1" "$? $(grep -c "no key 'k1'" "$TMP/err")" "1 1"
"$B" kv set 'bad/ns' k v 2>/dev/null
expect_eq "berth kv with a bad name exits 2" "$?" 2
"$B" kv set cli-ns k v --ttl 0 2>/dev/null
expect_eq "berth kv set --ttl 0 exits 2" "$?" 2

# With no server to reach.
DEAD=http://127.0.0.1:$(free_port)
for v in "files list" "kv get a b" "keys list"; do
	# shellcheck disable=SC2086
	"$B" $v --server "$DEAD" >/dev/null 2>"$TMP/err"
	expect_eq "berth $v with no server exits 1" "$?" 1
	check "berth $v says the server cannot be reached" \
		grep -q "cannot reach the berth server at $DEAD (is \`berth serve\` running?" "$TMP/err"
done
BERTH_SERVER=$DEAD "$B" kv get a b >/dev/null 2>"$TMP/err"
check "\$BERTH_SERVER names the server" grep -q "at $DEAD " "$TMP/err"

# The last admin key goes: the local token alone opens the admin API.
"$B" keys revoke "$ADMIN_ID" >/dev/null
unset BERTH_KEY
req GET /v1/keys
expect_code "with the last key revoked the admin API still needs the local token" 401
admin GET /v1/keys
expect_code "  which opens it" 200

stop_server
if [ "$srv_rc" -eq 0 ] && ! grep -qi 'sanitizer\|BUG' "$TMP/serve.log"; then
	ok "the server stops cleanly on SIGTERM"
else
	not_ok "the server stops cleanly on SIGTERM (exit $srv_rc)"; tail -40 "$TMP/serve.log" | diag
fi
check "and takes its local token file away" test ! -e "$BERTH_HOME/serve.$PORT.token"
done_testing
