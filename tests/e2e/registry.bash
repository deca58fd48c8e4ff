# Registries for end-to-end tests: Debian's docker-registry on 127.0.0.1
# with a per-test config (plain, htpasswd Basic, or token auth backed by
# tests/tools/token_server), on a free port, stopped by PID on exit.
# Source after lib.bash:
#   . "$(dirname "$0")/registry.bash"
#   registry_prereqs || { skip ...; }
#   start_registry plain|basic|token   # sets REG_ADDR, REG_PID, REG_DIR
#   stop_registry "$REG_PID"
# Basic and token registries know the user $REG_USER / $REG_PASS
# (alice / s3cret); token ones also set TOKEN_ADDR, TOKEN_PID, TOKEN_LOG
# (one line per token request). Extra token_server flags: $TOKEN_FLAGS.

_reg_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BERTH_BUILD=${BERTH_BUILD:-${BUILD:-build}}
case $BERTH_BUILD in /*) ;; *) BERTH_BUILD=$_reg_root/$BERTH_BUILD ;; esac
TOKEN_SERVER=${TOKEN_SERVER:-$BERTH_BUILD/tests/tools/token_server}
REG_USER=${REG_USER:-alice}
REG_PASS=${REG_PASS:-s3cret}
_reg_pids=()
_reg_ports=()
_reg_n=0

# Stop everything this script started (by PID), then lib.bash's cleanup.
_reg_cleanup() {
	local p
	for p in "${_reg_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${_reg_pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap _reg_cleanup EXIT

# registry_prereqs: 0 when every program is there, else 1 with the reason in
# $REG_MISSING (for a skip message).
registry_prereqs() {
	local c
	for c in docker-registry htpasswd openssl; do
		if ! command -v "$c" >/dev/null 2>&1; then
			REG_MISSING="no '$c' (apt-get install docker-registry apache2-utils openssl)"
			return 1
		fi
	done
	if [ ! -x "$TOKEN_SERVER" ]; then
		REG_MISSING="no $TOKEN_SERVER (make the test tools first)"
		return 1
	fi
	return 0
}

# _port_open PORT: something accepts connections on 127.0.0.1:PORT.
_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port: print a port on 127.0.0.1 that nothing listens on. Called
# directly (not in $(...)), _pick_port also remembers it in FREE_PORT and
# never hands it out twice.
_pick_port() {
	local p i
	for i in $(seq 100); do
		p=$((20000 + RANDOM % 30000))
		[[ " ${_reg_ports[*]} " == *" $p "* ]] && continue
		if ! _port_open "$p"; then
			_reg_ports+=("$p")
			FREE_PORT=$p
			return 0
		fi
	done
	return 1
}
free_port() {
	_pick_port && echo "$FREE_PORT"
}

# _wait_listen PID PORT: until the port answers (10 s), or the process died.
_wait_listen() {
	local i
	for i in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 1
		_port_open "$2" && return 0
		sleep 0.1
	done
	return 1
}

# stop_registry PID: stop one process started here and wait for it.
stop_registry() {
	local pid=$1 p keep=()
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for p in "${_reg_pids[@]}"; do
		[ "$p" == "$pid" ] || keep+=("$p")
	done
	_reg_pids=("${keep[@]}")
}

# _start_token_server DIR: key, cert, users file and the server on a port
# it picks itself; sets TOKEN_ADDR TOKEN_PID TOKEN_LOG.
_start_token_server() {
	local dir=$1 i
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/token.key" -out "$dir/token.crt" \
		-days 30 -subj /CN=test-token-issuer >/dev/null 2>&1 || return 1
	printf '%s:%s\n' "$REG_USER" "$REG_PASS" >"$dir/users"
	TOKEN_LOG=$dir/token-requests.log
	: >"$TOKEN_LOG"
	# shellcheck disable=SC2086 # TOKEN_FLAGS is a list of words
	"$TOKEN_SERVER" --listen 127.0.0.1:0 --key "$dir/token.key" --cert "$dir/token.crt" \
		--issuer test-issuer --service test-registry --users "$dir/users" \
		--log "$TOKEN_LOG" ${TOKEN_FLAGS:-} >"$dir/token.out" 2>"$dir/token.err" &
	TOKEN_PID=$!
	_reg_pids+=("$TOKEN_PID")
	for i in $(seq 100); do
		TOKEN_ADDR=$(sed -n 's|^token_server: listening on http://\([0-9.:]*\)/token$|\1|p' \
			"$dir/token.out")
		[ -n "$TOKEN_ADDR" ] && return 0
		kill -0 "$TOKEN_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# start_registry plain|basic|token: a fresh registry; 0 or 1 (with the
# reason on stderr).
start_registry() {
	local kind=$1 dir port auth="" try
	_reg_n=$((_reg_n + 1))
	dir=$TMP/reg-$kind-$_reg_n
	mkdir -p "$dir/data"
	case $kind in
	plain) ;;
	basic)
		htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$dir/htpasswd" || return 1
		auth="auth: {htpasswd: {realm: basic-realm, path: $dir/htpasswd}}"
		;;
	token)
		if ! _start_token_server "$dir"; then
			echo "token server did not start:" >&2
			cat "$dir/token.err" >&2
			return 1
		fi
		auth="auth: {token: {realm: http://$TOKEN_ADDR/token, service: test-registry,
  issuer: test-issuer, rootcertbundle: $dir/token.crt}}"
		;;
	*)
		echo "start_registry: unknown kind '$kind'" >&2
		return 1
		;;
	esac
	for try in 1 2 3; do
		_pick_port || return 1
		port=$FREE_PORT
		cat >"$dir/config.yml" <<EOF
version: 0.1
log: {level: info, accesslog: {disabled: false}}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
  cache: {blobdescriptor: inmemory}
http:
  addr: 127.0.0.1:$port
  secret: berth-e2e-$_reg_n
  headers: {X-Content-Type-Options: [nosniff]}
health:
  storagedriver: {enabled: false}
$auth
EOF
		# REGISTRY_* variables override the config file: drop them all.
		env $(env | sed -n 's/^\(REGISTRY_[A-Za-z0-9_]*\)=.*/-u \1/p') \
			docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
		REG_PID=$!
		_reg_pids+=("$REG_PID")
		if _wait_listen "$REG_PID" "$port"; then
			REG_ADDR=127.0.0.1:$port
			REG_DIR=$dir
			return 0
		fi
		stop_registry "$REG_PID" # lost a race for the port: another one
	done
	echo "docker-registry did not start:" >&2
	tail -5 "$dir/registry.log" >&2
	return 1
}
