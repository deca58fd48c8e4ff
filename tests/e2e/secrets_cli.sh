#!/bin/bash
# `berth secrets set|list|unset` through the binary with a temporary
# BERTH_HOME: values never reach a file in plaintext nor the output, a set
# with one bad pair sets nothing, usage errors exit 2, NAME=- reads stdin.
. "$(dirname "$0")/lib.bash"
export BERTH_HOME=$TMP/home

# Random markers: any file or output holding one holds a value.
M1=v1-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
M2=v2-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
M3=v3-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

# no_marker NAME FILE...: passes when no marker is in any of the files.
no_marker() {
	local name=$1; shift
	if grep -rqaF -e "$M1" -e "$M2" -e "$M3" "$@"; then
		not_ok "$name"; grep -rlaF -e "$M1" -e "$M2" -e "$M3" "$@" | diag
	else ok "$name"; fi
}
names() { "$BERTH" secrets list | awk 'NR > 1 { print $1 }' | paste -sd, -; }

# --- set, list ---
"$BERTH" secrets set DB_PASSWORD="$M1" API_TOKEN="$M2=with=equals" >"$TMP/out" 2>"$TMP/err"
rc=$?
expect_eq "set of two pairs exits 0" "$rc" 0
expect_eq "set names what it set" "$(cat "$TMP/out")" $'set DB_PASSWORD\nset API_TOKEN'
printf '%s\nsecond line\n' "$M3" | "$BERTH" secrets set FROM_STDIN=- >/dev/null 2>"$TMP/err"
rc=$?
expect_eq "NAME=- reads standard input" "$rc" 0
"$BERTH" secrets list >"$TMP/list" 2>"$TMP/err"; rc=$?
expect_eq "list exits 0" "$rc" 0
expect_eq "list has a header" "$(head -1 "$TMP/list" | tr -s ' ')" "NAME CREATED UPDATED"
expect_eq "list shows the names, sorted" "$(names)" "API_TOKEN,DB_PASSWORD,FROM_STDIN"
check "list shows dates" grep -qE '^DB_PASSWORD +[0-9]{4}-[0-9]{2}-[0-9]{2} ' "$TMP/list"
"$BERTH" secrets list --json >"$TMP/json"; rc=$?
expect_eq "list --json exits 0" "$rc" 0
expect_eq "list --json has names and dates only" \
	"$(jq -c '[.[] | keys] | unique' "$TMP/json")" '[["created","name","updated"]]'
expect_eq "list --json names" "$(jq -r '[.[].name] | join(",")' "$TMP/json")" \
	"API_TOKEN,DB_PASSWORD,FROM_STDIN"
no_marker "list never shows a value" "$TMP/list" "$TMP/json" "$TMP/out" "$TMP/err"
no_marker "no file under BERTH_HOME holds a value" "$BERTH_HOME"
check "the names are in berth.db (control)" grep -qa DB_PASSWORD "$BERTH_HOME/berth.db"
expect_eq "secrets.key has mode 600" "$(stat -c %a "$BERTH_HOME/secrets.key")" 600
expect_eq "secrets.key holds 32 bytes" "$(stat -c %s "$BERTH_HOME/secrets.key")" 32

# Overwrite keeps the name once.
"$BERTH" secrets set DB_PASSWORD="$M3" >/dev/null; rc=$?
expect_eq "set over an existing secret exits 0" "$rc" 0
expect_eq "an overwrite keeps one entry" "$(names)" "API_TOKEN,DB_PASSWORD,FROM_STDIN"
no_marker "no file holds the new value" "$BERTH_HOME"

# --- all or nothing ---
"$BERTH" secrets set NEW_ONE=x 'bad-name=y' >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "set with an invalid name exits 2" "$rc" 2
check "the invalid name is named" grep -q "invalid secret name 'bad-name'" "$TMP/err"
"$BERTH" secrets set NEW_ONE=x NO_EQUALS >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "set with a pair lacking '=' exits 2" "$rc" 2
check "the bad pair is named" grep -q "'NO_EQUALS' is not NAME=VALUE" "$TMP/err"
"$BERTH" secrets set NEW_ONE=x NEW_ONE=y >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "set with a repeated name exits 2" "$rc" 2
head -c 70000 /dev/zero | "$BERTH" secrets set NEW_ONE=x BIG=- >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "set with a value over 64 KiB exits 1" "$rc" 1
check "the limit is named" grep -q 'limit of 65536 bytes' "$TMP/err"
"$BERTH" secrets set NEW_ONE=x ONE=- TWO=- </dev/null >/dev/null 2>&1; rc=$?
expect_eq "two NAME=- pairs are a usage error" "$rc" 2
expect_eq "a failed set sets none of its pairs" "$(names)" "API_TOKEN,DB_PASSWORD,FROM_STDIN"

# --- unset ---
"$BERTH" secrets unset API_TOKEN >"$TMP/out" 2>"$TMP/err"; rc=$?
expect_eq "unset exits 0" "$rc" 0
expect_eq "unset names what it removed" "$(cat "$TMP/out")" "unset API_TOKEN"
expect_eq "an unset secret leaves the list" "$(names)" "DB_PASSWORD,FROM_STDIN"
"$BERTH" secrets unset API_TOKEN >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "unset of a missing secret exits 1" "$rc" 1
expect_eq "the missing secret is named" "$(cat "$TMP/err")" "berth: secret 'API_TOKEN' is not set"
"$BERTH" secrets unset 'no good' >/dev/null 2>&1; rc=$?
expect_eq "unset of an invalid name exits 2" "$rc" 2

# --- usage ---
"$BERTH" secrets --help >"$TMP/help"; rc=$?
expect_eq "secrets --help exits 0" "$rc" 0
check "--help documents NAME=-" grep -q 'NAME=-' "$TMP/help"
"$BERTH" secrets >/dev/null 2>&1; expect_eq "secrets alone exits 2" "$?" 2
"$BERTH" secrets frobnicate >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "an unknown subcommand exits 2" "$rc" 2
check "the unknown subcommand is named" grep -q "unknown subcommand 'frobnicate'" "$TMP/err"
"$BERTH" secrets set >/dev/null 2>&1; expect_eq "set without pairs exits 2" "$?" 2
"$BERTH" secrets unset >/dev/null 2>&1; expect_eq "unset without names exits 2" "$?" 2
"$BERTH" secrets list extra >/dev/null 2>&1; expect_eq "list with an argument exits 2" "$?" 2
"$BERTH" secrets list --bogus >/dev/null 2>&1; expect_eq "a bad option exits 2" "$?" 2

# --- the key file is checked ---
chmod 644 "$BERTH_HOME/secrets.key"
"$BERTH" secrets list >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "a key file readable by others is refused" "$rc" 1
check "the refusal says how to fix it" grep -q 'chmod 600' "$TMP/err"
chmod 600 "$BERTH_HOME/secrets.key"
expect_eq "after chmod 600 list works again" "$(names)" "DB_PASSWORD,FROM_STDIN"
no_marker "still no value in any file" "$BERTH_HOME"
done_testing
