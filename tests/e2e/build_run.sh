#!/bin/bash
# RUN end to end beyond build_cli.sh: heredocs as BuildKit runs them (a
# lone `<<EOF` as the shell's script, or, when the body starts with "#!",
# as a file of its own at /dev/pipes/EOF run by that interpreter; a command
# followed by heredocs gets them as here-documents, on its stdin).
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/build_base.bash"

# layer_files NAME N: the paths in the image's Nth layer (0-based), sorted.
layer_files() {
	local d
	d=$("$B" image inspect "$1" | jq -r ".layers[$2].digest" | cut -d: -f2)
	tar -tzf "$BERTH_HOME/blobs/sha256/$d" | sort | tr '\n' ' '
}

# --- heredocs ---
TAB=$'\t'
DFH="FROM bb:1
ENV WHO=env-value
RUN <<EOF
echo \"plain \$WHO \$0\" > /h1
EOF
RUN <<EOF
#!/bin/awk -f
BEGIN { print \"awk ran \" ARGV[0] > \"/h2\" }
EOF
RUN <<-SCRIPT
#!/bin/sh -e
${TAB}echo \"script \$0 \$(id -u) \$(stat -c %a \"\$0\")\" > /h3
${TAB}grep -q ' /dev/pipes .*ro' /proc/mounts && echo read-only-mount >> /h3
${TAB}SCRIPT
RUN sh <<EOF
echo \"stdin \$WHO\" > /h4
EOF
RUN sh -s <<\"EOF\" > /h5
echo 'quoted \$WHO'
EOF
RUN cat - /proc/self/fd/3 <<A 3<<B > /h6
first
A
second
B
"
build here:1 "$DFH" >/dev/null || diag <"$TMP/log"
expect_eq "RUN <<EOF: the body is the shell's script (env seen)" "$(run here:1 cat /h1)" \
	"plain env-value /bin/sh"
expect_eq "RUN <<EOF with #!: the body's own interpreter runs it (awk)" "$(run here:1 cat /h2)" \
	"awk ran awk"
expect_eq "  the script is /dev/pipes/<name>, mode 0755, mounted read-only; <<- strips tabs" \
	"$(run here:1 cat /h3)" "script /dev/pipes/SCRIPT 0 755
read-only-mount"
expect_eq "RUN sh <<EOF: the body reaches the command on its stdin" "$(run here:1 cat /h4)" \
	"stdin env-value"
expect_eq "  a quoted delimiter: the shell expands nothing" "$(run here:1 cat /h5)" 'quoted $WHO'
expect_eq "  two heredocs (stdin and fd 3), bodies in order" "$(run here:1 cat /h6)" "first
second"
expect_eq "the script's layer holds only what it wrote (no /dev/pipes)" "$(layer_files here:1 2)" "h2 "
check "history names the script as BuildKit does" \
	grep -q '"RUN /dev/pipes/EOF # buildkit"' <<<"$("$B" image inspect here:1 | jq -c '[.config.history[].created_by]')"
build here:2 "$DFH" >/dev/null
expect_eq "a rebuild is fully cached" "$(grep -c CACHED "$TMP/log")" 6
build here:3 "${DFH/awk ran/awk now}" >/dev/null
expect_eq "changing a #! script's body misses that step (and those after it) only" \
	"$(grep -c CACHED "$TMP/log")" 1
expect_eq "  and the new body runs" "$(run here:3 cat /h2)" "awk now awk"
build here:4 $'FROM bb:1\nUSER app\nRUN <<EOF\n#!/bin/sh\nid -u > /tmp/u\nEOF' >/dev/null ||
	diag <"$TMP/log"
expect_eq "a #! script runs as the USER" "$(run here:4 cat /tmp/u)" 1000
build here:5 $'FROM bb:1\nRUN <<EOF\n#!/bin/sh\nexit 7\nEOF' >/dev/null; rc=$?
check "a failing #! script fails the build" test "$rc" -ne 0
check "  with BuildKit's message and its exit code" grep -q "exit code: 7" "$TMP/log"

# --- RUN --mount=type=ssh with an ssh-agent (openssh-client) ---
if command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null && command -v ssh-keygen >/dev/null &&
	command -v ldd >/dev/null; then
	S=$TMP/ssh
	mkdir -p "$S/ctx/root/usr/bin"
	eval "$(ssh-agent -s -a "$S/agent.sock")" >/dev/null
	ON_EXIT+=("kill $SSH_AGENT_PID 2>/dev/null")
	ssh-keygen -q -t ed25519 -N '' -C berth-test-key -f "$S/key" && ssh-add -q "$S/key" 2>/dev/null
	# ssh-add and what it links, for the busybox image.
	cp "$(command -v ssh-add)" "$S/ctx/root/usr/bin/ssh-add"
	for f in $(ldd "$(command -v ssh-add)" | grep -o '/[^ ]*'); do
		mkdir -p "$S/ctx/root$(dirname "$f")" && cp -L "$f" "$S/ctx/root$f"
	done
	DFS='FROM bb:1
COPY root/ /
RUN --mount=type=ssh /usr/bin/ssh-add -l > /keys; echo "$SSH_AUTH_SOCK" > /sock
RUN --mount=type=ssh,id=work,target=/agent SSH_AUTH_SOCK=/agent /usr/bin/ssh-add -l | grep -c berth-test-key > /work-keys
'
	cbuild "$S/ctx" ssh:1 "$DFS" --ssh default --ssh "work=$S/agent.sock" >/dev/null || diag <"$TMP/log"
	check "RUN --mount=type=ssh: ssh-add -l inside sees the agent's key (--ssh default: \$SSH_AUTH_SOCK)" \
		grep -q 'ED25519.*berth-test-key\|berth-test-key.*ED25519' <<<"$(run ssh:1 cat /keys)"
	expect_eq "  SSH_AUTH_SOCK points at the default target" "$(run ssh:1 cat /sock)" /run/buildkit/ssh_agent.0
	expect_eq "  --ssh ID=SOCKET, mounted at the target given" "$(run ssh:1 cat /work-keys)" 1
	expect_eq "  the socket is in no layer" "$(layer_files ssh:1 2)" "keys sock "
	cbuild "$S/ctx" ssh:2 $'FROM bb:1\nCOPY root/ /\nRUN --mount=type=ssh /usr/bin/ssh-add -l >/dev/null 2>&1 && echo agent > /r || echo none > /r' \
		>/dev/null || diag <"$TMP/log"
	expect_eq "an ssh mount without --ssh is left out (not required)" "$(run ssh:2 cat /r)" none
	build ssh:3 $'FROM bb:1\nRUN --mount=type=ssh,required=true true' >/dev/null; rc=$?
	check "  a required one fails the build, naming it" grep -q "ssh agent 'default' is required" "$TMP/log"
	build ssh:4 $'FROM bb:1\nRUN true' --ssh "default=$S/key" >/dev/null; rc=$?
	check "--ssh with a key file instead of a socket is refused" grep -q "is not a socket" "$TMP/log"
else
	skip "RUN --mount=type=ssh" "ssh-agent, ssh-add, ssh-keygen or ldd is not installed (openssh-client)"
fi

expect_eq "nothing is left mounted under the test directory" \
	"$(grep -F " $TMP" /proc/self/mountinfo)" ""
done_testing
