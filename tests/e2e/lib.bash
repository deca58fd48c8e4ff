# Shared helpers for the end-to-end scripts: TAP output and a temporary
# directory removed on exit. Source it; $BERTH is the binary under test.
BERTH=${BERTH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/berth}
TMP=$(mktemp -d /tmp/berth-e2e.XXXXXX)
# Tests never reach a public registry: an image missing from the store is an
# error, not a pull from Docker Hub.
export BERTH_PULL=never
trap 'rm -rf "$TMP"' EXIT
_n=0 _failed=0

ok() { _n=$((_n + 1)); echo "ok $_n - $*"; }
not_ok() { _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $*"; }
skip() { _n=$((_n + 1)); echo "ok $_n - $1 # SKIP $2"; }
diag() { sed 's/^/#   /'; }

# check NAME COMMAND...: passes when the command succeeds.
check() {
	local name=$1; shift
	if "$@" >"$TMP/.check-out" 2>"$TMP/.check-err"; then ok "$name"; else
		not_ok "$name"; diag <"$TMP/.check-err"; fi
}

# expect_eq NAME GOT WANT
expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else
		not_ok "$1"; printf 'got:  %s\nwant: %s\n' "$2" "$3" | diag; fi
}

done_testing() { echo "1..$_n"; [ "$_failed" -eq 0 ]; }
