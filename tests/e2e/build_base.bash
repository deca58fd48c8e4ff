# Shared set-up for the builder's end-to-end suites (tests/e2e/build_*.sh):
# skips when a build cannot run here, makes the busybox base image `bb:1`
# with umoci (static busybox, users root and app, Cmd /bin/sh, PATH=/bin),
# and defines the helpers below. Source it after lib.bash.
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP builds need root"; exit 0; }
for t in umoci busybox jq; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t is not installed (make deps)"; exit 0; }
done
command -v crun >/dev/null || command -v runc >/dev/null ||
	{ echo "1..0 # SKIP no OCI runtime (crun or runc) is installed"; exit 0; }

export BERTH_HOME=$TMP/home
B=$BERTH
# Commands run by the EXIT trap before $TMP goes (suites append to it).
ON_EXIT=()
_build_cleanup() {
	local c
	for c in "${ON_EXIT[@]}"; do eval "$c"; done
	grep -q " $TMP" /proc/self/mountinfo &&
		awk -v h="$TMP" 'index($5, h) == 1 {print $5}' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$TMP"
}
trap _build_cleanup EXIT

# make_base DIR: the busybox root filesystem, as an OCI layout in DIR/oci:bb.
make_base() {
	local d=$1 R=$1/rootfs a
	mkdir -p "$R"/{bin,etc,tmp}
	chmod 1777 "$R/tmp"
	cp "$(command -v busybox)" "$R/bin/"
	for a in sh echo cat ls id pwd sleep touch mkdir rm chmod chown stat wc env true false \
		grep test head find sort ln cp mv sha256sum cut tr seq readlink basename awk; do
		ln -s busybox "$R/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' >"$R/etc/passwd"
	printf 'root:x:0:\napp:x:1000:\n' >"$R/etc/group"
	(cd "$d" && umoci init --layout oci && umoci new --image oci:bb &&
		umoci insert --image oci:bb rootfs / &&
		umoci config --image oci:bb --config.cmd=/bin/sh --config.env=PATH=/bin \
			--architecture=amd64 --os=linux && umoci gc --layout oci) >/dev/null 2>&1
}
make_base "$TMP" || { not_ok "umoci fixture"; done_testing; exit; }
"$B" image load "$TMP/oci" -t bb:1 >/dev/null 2>"$TMP/err" ||
	{ not_ok "load the base"; diag <"$TMP/err"; done_testing; exit; }

# build NAME DOCKERFILE-TEXT [ARGS...]: build into tag NAME; stderr in $TMP/log.
build() {
	local name=$1 text=$2
	shift 2
	"$B" build --dockerfile-str "$text" -t "$name" "$@" 2>"$TMP/log"
}
# cbuild CONTEXT NAME DOCKERFILE-TEXT [ARGS...]: the same with a context.
cbuild() {
	local ctx=$1 name=$2 text=$3
	shift 3
	"$B" build --dockerfile-str "$text" --context "$ctx" -t "$name" "$@" 2>"$TMP/log"
}
cfg() { "$B" image inspect "$1" | jq -c ".config.config$2"; }
run() { "$B" container run --rm "$@" 2>&1; }
lacks() { ! grep -Eq -- "$@"; }
# failed NAME: the build of NAME failed (non-zero) and made no tag.
untagged() { ! "$B" image inspect "$1" >/dev/null 2>&1; }
