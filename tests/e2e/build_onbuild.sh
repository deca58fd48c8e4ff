#!/bin/bash
# ONBUILD end to end: a base built by berth records triggers (and does not
# run them); a child built FROM it runs them first, as if written after its
# FROM (COPY from the child's context, RUN, an ARG a --build-arg sets, a
# COPY --from a stage of the child's Dockerfile), and does not pass them on;
# a stage's own ONBUILD runs in a stage built FROM it; triggers are cached
# like any step; bad triggers (ONBUILD ONBUILD, FROM) and failing ones are
# errors that name the FROM line.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/build_base.bash"

DFB='FROM bb:1
WORKDIR /app
ONBUILD COPY . /app/src/
ONBUILD RUN echo "trigger ran: $(ls /app/src | tr "\n" " ")" > /app/trig
ONBUILD ARG FLAVOUR=plain
ONBUILD RUN echo "$FLAVOUR" > /app/flavour
CMD ["cat", "/app/trig"]
'
build base:1 "$DFB" >/dev/null || diag <"$TMP/log"
expect_eq "the base records its triggers in the config" "$(cfg base:1 .OnBuild)" \
	'["COPY . /app/src/","RUN echo \"trigger ran: $(ls /app/src | tr \"\\n\" \" \")\" > /app/trig","ARG FLAVOUR=plain","RUN echo \"$FLAVOUR\" > /app/flavour"]'
expect_eq "  and does not run them itself" "$(run base:1 ls /app)" ""

C=$TMP/ctx
mkdir -p "$C"
echo one >"$C/a.txt"
echo two >"$C/b.txt"
DFC='# a comment line, so the FROM is line 2
FROM base:1
RUN cat /app/trig /app/flavour > /app/seen
'
cbuild "$C" child:1 "$DFC" >/dev/null || diag <"$TMP/log"
expect_eq "a child runs the triggers first: COPY from its context, RUN, ARG" \
	"$(run child:1 cat /app/seen)" "trigger ran: a.txt b.txt 
plain"
check "  the progress marks them ONBUILD" grep -q '^\[stage-0 2/6\] ONBUILD COPY . /app/src/$' "$TMP/log"
expect_eq "  they add their layers and history entries" \
	"$("$B" image inspect child:1 | jq '[.config.history[] | select(.created_by | test("buildkit"))] | length')" 4
expect_eq "  the child does not pass the triggers on" "$(cfg child:1 .OnBuild)" null
expect_eq "  the rest of the config is inherited" "$(cfg child:1 .Cmd)" '["cat","/app/trig"]'
cbuild "$C" child:2 "$DFC" --build-arg FLAVOUR=spicy >/dev/null || diag <"$TMP/log"
expect_eq "a trigger's ARG takes --build-arg" "$(run child:2 cat /app/flavour)" spicy
cbuild "$C" child:3 "$DFC" --build-arg FLAVOUR=spicy >/dev/null
expect_eq "a rebuild is fully cached (triggers included)" "$(grep -c CACHED "$TMP/log")" 4
echo three >"$C/c.txt"
cbuild "$C" child:4 "$DFC" --build-arg FLAVOUR=spicy >/dev/null
expect_eq "a new context file misses from the COPY trigger on" "$(grep -c CACHED "$TMP/log")" 0
check "  naming the reason" grep -q "cache miss: file . changed" "$TMP/log"
cbuild "$C" grand:1 $'FROM child:1\nRUN ls /app/src | wc -l > /n' >/dev/null || diag <"$TMP/log"
expect_eq "a grandchild runs nothing of the base's" "$(run grand:1 cat /n)" 2
check "  (no ONBUILD step)" lacks ONBUILD "$TMP/log"

build stage:1 $'FROM bb:1 AS b\nONBUILD RUN echo from-stage-trigger > /st\nFROM b\nRUN cat /st > /seen' \
	>/dev/null || diag <"$TMP/log"
expect_eq "a stage's own ONBUILD runs in a stage built FROM it" "$(run stage:1 cat /seen)" \
	from-stage-trigger
build stage:2 $'FROM bb:1 AS b\nONBUILD RUN echo x > /st\nFROM b\nFROM b AS c' --target b >/dev/null
expect_eq "  but not in that stage itself" "$(run stage:2 sh -c 'test -e /st && echo yes || echo no')" no

build base:2 $'FROM bb:1\nONBUILD COPY --from=assets /asset /asset' >/dev/null || diag <"$TMP/log"
build fromstage:1 $'FROM bb:1 AS assets\nRUN echo asset-made > /asset\nFROM base:2' >/dev/null ||
	diag <"$TMP/log"
expect_eq "a trigger's COPY --from names a stage of the child's Dockerfile (built for it)" \
	"$(run fromstage:1 cat /asset)" asset-made

build fail:1 $'FROM bb:1\nONBUILD RUN exit 5' >/dev/null
build fail:2 $'ARG X=1\n\nFROM fail:1\nRUN true' >/dev/null; rc=$?
check "a failing trigger fails the build" test "$rc" -ne 0
check "  naming the child's FROM line and the exit code" grep -q 'Dockerfile:3:.*exit code: 5' "$TMP/log"
cbuild "$C" lines:1 $'FROM base:1\nRUN true\nRUN exit 3' >/dev/null
check "an error after the triggers names its own line" grep -q 'Dockerfile:3:.*exit code: 3' "$TMP/log"

# A base image's ENV is what expansion in the child sees (BuildKit's stage
# env starts from the image's), triggers included.
DFE='FROM bb:1
ENV APP=/srv/app WEIRD="a \"b\" $c \\d `e`"
ONBUILD COPY . $APP/src/
'
build envbase:1 "$DFE" >/dev/null || diag <"$TMP/log"
cbuild "$C" envchild:1 $'FROM envbase:1\nWORKDIR $APP/w\nLABEL weird=$WEIRD path=$PATH' >/dev/null ||
	diag <"$TMP/log"
expect_eq "the base image's ENV expands in the child: WORKDIR \$APP/w" "$(cfg envchild:1 .WorkingDir)" '"/srv/app/w"'
expect_eq "  and in a trigger: COPY . \$APP/src/" "$(run envchild:1 ls /srv/app/src)" "a.txt
b.txt
c.txt"
expect_eq "  values arrive as they are (quotes, \$, backslash, backquote); PATH is the image's" \
	"$("$B" image inspect envchild:1 | jq -c '.config.config.Labels | [.weird, .path]')" \
	"$("$B" image inspect envbase:1 | jq -c '.config.config.Env | [(.[2] | ltrimstr("WEIRD=")), (.[0] | ltrimstr("PATH="))]')"
expect_eq "  the image's ENV adds no step and no history entry of the child's" \
	"$(grep -c '^\[stage-0' "$TMP/log"):$(( $("$B" image inspect envchild:1 | jq '.config.history | length') - $("$B" image inspect envbase:1 | jq '.config.history | length') ))" "4:3"

# Triggers BuildKit refuses, in a config made by hand from base:1's.
# with_onbuild NAME JSON: base:1 with OnBuild JSON, loaded as NAME.
with_onbuild() {
	local d=$TMP/lay-$1 m c cd md
	rm -rf "$d"
	"$B" image save base:1 -o "$d" >/dev/null || return 1
	m=$(jq -r '.manifests[0].digest' "$d/index.json" | cut -d: -f2)
	c=$(jq -r '.config.digest' "$d/blobs/sha256/$m" | cut -d: -f2)
	jq -c --argjson t "$2" '.config.OnBuild = $t' "$d/blobs/sha256/$c" >"$d/cfg"
	cd=$(sha256sum <"$d/cfg" | cut -c1-64)
	mv "$d/cfg" "$d/blobs/sha256/$cd"
	jq -c --arg dg "sha256:$cd" --argjson sz "$(stat -c %s "$d/blobs/sha256/$cd")" \
		'.config.digest = $dg | .config.size = $sz' "$d/blobs/sha256/$m" >"$d/man"
	md=$(sha256sum <"$d/man" | cut -c1-64)
	mv "$d/man" "$d/blobs/sha256/$md"
	jq -c --arg dg "sha256:$md" --argjson sz "$(stat -c %s "$d/blobs/sha256/$md")" \
		'.manifests[0].digest = $dg | .manifests[0].size = $sz' "$d/index.json" >"$d/idx"
	mv "$d/idx" "$d/index.json"
	"$B" image load "$d" -t "$1" >/dev/null
}
with_onbuild nested:1 '["ONBUILD RUN true"]' || not_ok "make an image with a nested trigger"
build bad:1 $'FROM nested:1\nRUN true' >/dev/null; rc=$?
check "an ONBUILD ONBUILD trigger is an error" test "$rc" -ne 0
check "  saying chaining isn't allowed, at the FROM line" \
	grep -q "Dockerfile:1:.*chaining ONBUILD via 'ONBUILD ONBUILD' isn't allowed" "$TMP/log"
with_onbuild fromtrig:1 '["FROM bb:1"]' || not_ok "make an image with a FROM trigger"
build bad:2 $'FROM fromtrig:1' >/dev/null; rc=$?
check "a FROM trigger is an error" grep -q "FROM isn't allowed as an ONBUILD trigger" "$TMP/log"
with_onbuild multi:1 '["RUN true\nRUN false"]' || not_ok "make an image with a two-line trigger"
build bad:3 $'FROM multi:1' >/dev/null; rc=$?
check "a trigger of two instructions is an error" grep -q "should be a single instruction" "$TMP/log"
expect_eq "  and none of them made an image" \
	"$(untagged bad:1 && untagged bad:2 && untagged bad:3 && echo none)" none

expect_eq "nothing is left mounted under the test directory" \
	"$(grep -F " $TMP" /proc/self/mountinfo)" ""
done_testing
