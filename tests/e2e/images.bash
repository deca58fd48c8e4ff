# Base images for end-to-end tests, made offline from what the host has and
# loaded into $BERTH_HOME with `berth image load`. Source after lib.bash.
#
#   make_busybox_image TAG      static busybox, /bin/sh, users root and app (1000)
#   make_python_image TAG       the same plus the host's Debian python3 (its
#                               interpreter, standard library and the shared
#                               libraries they load), so SDK apps run
#
# Both need umoci and busybox-static (make deps). They return non-zero with
# the reason on stderr.

_busybox_rootfs() {
	local r=$1
	mkdir -p "$r"/{bin,etc,tmp,root,home/app}
	chmod 1777 "$r/tmp"
	cp "$(command -v busybox)" "$r/bin/"
	local a
	for a in $(busybox --list); do
		[ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\napp:x:1000:\n' >"$r/etc/group"
}

# _load_rootfs DIR TAG ENV...: pack DIR as a one-layer image and load it.
_load_rootfs() {
	local r=$1 tag=$2 work
	shift 2
	work=$(mktemp -d "$TMP/img.XXXXXX")
	local envs=() e
	for e in "$@"; do envs+=(--config.env="$e"); done
	(cd "$work" && umoci init --layout oci && umoci new --image oci:img &&
		umoci insert --image oci:img "$r" / &&
		umoci config --image oci:img --config.cmd=/bin/sh "${envs[@]}" \
			--architecture=amd64 --os=linux && umoci gc --layout oci) >"$work/log" 2>&1 ||
		{ cat "$work/log" >&2; return 1; }
	"$BERTH" image load "$work/oci" -t "$tag" >/dev/null || return 1
	rm -rf "$work"
}

make_busybox_image() {
	local r
	r=$(mktemp -d "$TMP/rootfs.XXXXXX")
	_busybox_rootfs "$r"
	_load_rootfs "$r" "$1" PATH=/bin
}

# Copy host file $1 (and the path of every symlink on the way) into root $2.
_copy_host() {
	local f=$1 r=$2
	[ -e "$f" ] || return 0
	mkdir -p "$r$(dirname "$f")"
	cp -a "$f" "$r$f"
	if [ -L "$f" ]; then
		_copy_host "$(readlink -f "$f")" "$r"
	fi
}

make_python_image() {
	local py r f
	py=$(readlink -f /usr/bin/python3) || { echo "no /usr/bin/python3 (make deps)" >&2; return 1; }
	r=$(mktemp -d "$TMP/rootfs.XXXXXX")
	_busybox_rootfs "$r"
	# Merged /usr, as in Debian 12: /lib and /lib64 are links into /usr.
	mkdir -p "$r/usr/lib" "$r/usr/lib64"
	ln -s usr/lib "$r/lib"
	ln -s usr/lib64 "$r/lib64"
	# Debian's packages of the interpreter and its standard library, whole
	# (tests of the standard library itself left out).
	dpkg -L python3-minimal python3.11-minimal libpython3.11-minimal libpython3.11-stdlib \
		2>/dev/null | grep -v '/test/' | while read -r f; do
		[ -f "$f" ] || [ -L "$f" ] && _copy_host "$f" "$r"
	done
	_copy_host /usr/bin/python3 "$r"
	# The shared libraries the interpreter and its extension modules load.
	{ ldd "$py"; find "$r"/usr/lib/python3*/lib-dynload -name '*.so' -exec ldd {} \;; } 2>/dev/null |
		awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | sort -u | while read -r f; do
		_copy_host "$f" "$r"
		_copy_host "$(readlink -f "$f")" "$r"
	done
	_load_rootfs "$r" "$1" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8
}
