#!/bin/bash
# Every Dockerfile in the seed (fal's page, ../shared/seed/) parses, and
# --json shows the build-secret mounts with their env= targets. Dockerfiles
# are taken from the page's code blocks: bare blocks starting with FROM and
# Python string literals ("""...""" or "FROM ..."), with Python's escapes
# (backslash-newline, \\) applied as Python would.
. "$(dirname "$0")/lib.bash"
SEED=${BERTH_SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}/seed/use-custom-container-image.md
[ -f "$SEED" ] || { echo "1..0 # SKIP no seed page at $SEED"; exit 0; }

awk -v out="$TMP/seed" '
function flush() { if (buf != "") { n++; printf "%s", buf > (out "-" n); close(out "-" n) } buf = "" }
/^```/ { inblock = !inblock; if (!inblock) { flush(); mode = "" } else { mode = "start" } ; next }
!inblock { next }
mode == "py" { if (index($0, "\"\"\"")) { flush(); mode = "scan"; next } buf = buf $0 "\n"; next }
{
	if (index($0, "\"\"\"")) { mode = "py"; buf = ""; next }
	if (match($0, /"FROM [^"]*"/)) {
		buf = substr($0, RSTART + 1, RLENGTH - 2) "\n"; flush(); next }
	if (mode == "start" && $0 ~ /^FROM /) mode = "bare"
	else if (mode == "start" && $0 !~ /^[[:space:]]*$/) mode = "scan"
	if (mode == "bare") buf = buf $0 "\n"
}
END { flush() }' "$SEED"

# Python string semantics: a line ending in an odd number of backslashes
# continues; then \\ is one backslash.
for f in "$TMP"/seed-*; do
	awk '{
		line = pending $0; pending = ""
		m = match(line, /\\+$/); nb = m ? RLENGTH : 0
		if (nb % 2 == 1) { pending = substr(line, 1, length(line) - 1); next }
		gsub(/\\\\/, "\\", line); print line
	}' "$f" >"$f.df"
done

count=$(ls "$TMP"/seed-*.df 2>/dev/null | wc -l)
if [ "$count" -ge 12 ]; then ok "found $count Dockerfiles in the seed"; else not_ok "found $count Dockerfiles in the seed (want 12 or more)"; fi
secrets=""
for f in "$TMP"/seed-*.df; do
	first=$(grep -m1 -E '^[[:space:]]*FROM' "$f" | sed 's/^[[:space:]]*//')
	if "$BERTH" dockerfile parse -f "$f" --json >"$f.json" 2>"$TMP/err"; then
		ok "seed Dockerfile parses: $first ($(grep -c . "$f") lines)"
	else
		not_ok "seed Dockerfile parses: $first"; { cat "$f"; cat "$TMP/err"; } | diag
	fi
	grep -q 'type=secret' "$f" && secrets=$f.json
done
if [ -n "$secrets" ]; then
	got=$(jq -c '[.stages[].instructions[].mounts[]? | select(.type == "secret") | {id, env, target}]' "$secrets")
	expect_eq "the build-secrets example exposes its secrets as env" "$got" \
		'[{"id":"aws-key-id","env":"AWS_ACCESS_KEY_ID","target":null},{"id":"aws-secret-key","env":"AWS_SECRET_ACCESS_KEY","target":null},{"id":"aws-session-token","env":"AWS_SESSION_TOKEN","target":null}]'
else
	not_ok "the seed's build-secrets Dockerfile was found"
fi
done_testing
