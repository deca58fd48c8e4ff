#!/bin/bash
# `make demo`: what berth can do today, end to end and offline. For now that
# is the Dockerfile front end: parse an example app's Dockerfile, show
# BuildKit's dump, the typed model, the stages a target needs, and a parse
# error as a user would see it. Later issues extend this to a real build and
# a running app.
set -euo pipefail
BERTH=${1:-build/berth}
DF=examples/hello/Dockerfile
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "berth version"
"$BERTH" version

say "the example Dockerfile ($DF)"
cat "$DF"

say "berth dockerfile parse -f $DF   (BuildKit's AST dump)"
"$BERTH" dockerfile parse -f "$DF"

say "the stages the final image needs, in build order"
"$BERTH" dockerfile parse -f "$DF" --json | jq -r '.build_order[] as $i | .stages[$i] | "\(.index) \(.name // "-") FROM \(.base)"'

say "the typed model with --build-arg PYTHON=3.12 --build-arg VERSION=1.0 (excerpt)"
"$BERTH" dockerfile parse -f "$DF" --json --build-arg PYTHON=3.12 --build-arg VERSION=1.0 |
	jq '{bases: [.stages[].base],
	     run_mounts: [.stages[].instructions[] | select(.instruction == "RUN") | .mounts[]],
	     label: [.stages[].instructions[] | select(.instruction == "LABEL") | .pairs[]],
	     copy_from: [.stages[].instructions[] | select(.from != null) | {from, sources, dest}],
	     healthcheck: [.stages[].instructions[] | select(.instruction == "HEALTHCHECK") | {test, interval_ns}]}'

say "a broken Dockerfile: berth names the file, the line and the problem"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'FROM busybox\nRUN --mount=type=secret,id=tok,sharing=locked cat /run/secrets/tok\n' >"$tmp/Dockerfile"
"$BERTH" dockerfile parse -f "$tmp/Dockerfile" --json 2>&1 || echo "(exit status $?)"
