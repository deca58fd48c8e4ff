#!/bin/bash
# `berth build --progress`: plain lines (the default, and auto when stderr is
# not a terminal) and JSON events, one object per line: step (index, text),
# cached (key), miss (key, reason), output (the RUN's lines, with the step
# and the stream), done (duration, layer digest), build (image digest),
# error; secret values masked in all of them.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/build_base.bash"

DF='FROM bb:1
ARG V=1
RUN echo "out $V"; echo "err $V" >&2
COPY --from=bb:1 /etc/passwd /p
CMD ["true"]
'
build pl:1 "$DF" --progress plain >"$TMP/out" || diag <"$TMP/log"
cp "$TMP/log" "$TMP/plain1"
check "plain: each step as [stage n/N] text" grep -qx '\[stage-0 3/5\] RUN echo "out $V"; echo "err $V" >&2' "$TMP/plain1"
check "  why a step missed" grep -qx '  cache miss: not built before' "$TMP/plain1"
check "  the RUN's output as it comes" grep -qx 'err 1' "$TMP/plain1"
build pl:2 "$DF" --progress plain >/dev/null
expect_eq "  CACHED for each hit" "$(grep -cx '  CACHED' "$TMP/log")" 2
build pl:3 "$DF" --progress auto >/dev/null
expect_eq "auto is plain when stderr is not a terminal" "$(cat "$TMP/log")" "$(build pl:4 "$DF" >/dev/null; cat "$TMP/log")"

build pl:j1 "$DF" --progress json --build-arg V=2 >"$TMP/digest" || diag <"$TMP/log"
cp "$TMP/log" "$TMP/j1"
check "json: every line of stderr is one JSON object" jq -es 'all(type == "object")' "$TMP/j1"
expect_eq "  a step event per step, with its index, count and text" \
	"$(jq -c 'select(.type == "step") | [.stage, .step, .steps, .text]' "$TMP/j1" | tr '\n' ' ')" \
	'["stage-0",1,5,"FROM bb:1"] ["stage-0",2,5,"ARG V=1"] ["stage-0",3,5,"RUN echo \"out $V\"; echo \"err $V\" >&2"] ["stage-0",4,5,"COPY --from=bb:1 /etc/passwd /p"] ["stage-0",5,5,"CMD [\"true\"]"] '
expect_eq "  a miss event with the key and the reason" \
	"$(jq -c 'select(.type == "miss") | [.step, (.key | test("^sha256:[0-9a-f]{64}$")), .reason]' "$TMP/j1" | tr '\n' ' ')" \
	'[3,true,"ARG/ENV V changed"] [4,true,"an earlier step changed"] '
expect_eq "  the RUN's lines as output events of its step, by stream" \
	"$(jq -c 'select(.type == "output") | [.step, .stream, .line]' "$TMP/j1" | sort | tr '\n' ' ')" \
	'[3,"stderr","err 2"] [3,"stdout","out 2"] '
expect_eq "  a done event per step: duration, and the layer it added (the image's)" \
	"$(jq -c 'select(.type == "done") | select(.layer) | .layer' "$TMP/j1" | tr '\n' ' ')" \
	"$("$B" image inspect pl:j1 | jq -c '.layers[1:][] | .digest' | tr '\n' ' ')"
check "  durations are numbers" jq -es '[.[] | select(.type == "done") | .duration_ms | numbers] | length == 5' "$TMP/j1"
expect_eq "  a build event with the image digest (also printed on stdout)" \
	"$(jq -r 'select(.type == "build") | .image' "$TMP/j1")" "$(cat "$TMP/digest")"
build pl:j2 "$DF" --progress json --build-arg V=2 >/dev/null
expect_eq "  a rebuild: cached events with the same keys the misses had" \
	"$(jq -r 'select(.type == "cached") | .key' "$TMP/log" | tr '\n' ' ')" \
	"$(jq -r 'select(.type == "miss") | .key' "$TMP/j1" | tr '\n' ' ')"
check "  and no output event" test -z "$(jq -c 'select(.type == "output")' "$TMP/log")"
build pl:j3 "$DF" --progress json --explain >/dev/null
check "--explain in json: a key event listing the inputs" \
	jq -es 'any(.[]; .type == "key" and (.inputs | index("env=V=1")))' "$TMP/log"

# Secrets: masked in the output, and in any text the builder reports.
MARK="s3cr3t-$RANDOM$RANDOM"
export TOK=$MARK
DFS="FROM bb:1
RUN --mount=type=secret,id=t,env=T echo \"value: \$T\"
RUN echo 'literal $MARK in the Dockerfile' > /dev/null
"
build sec:1 "$DFS" --progress json --secret id=t,env=TOK >/dev/null || diag <"$TMP/log"
expect_eq "json: a secret a RUN prints is masked" \
	"$(jq -r 'select(.type == "output") | .line' "$TMP/log")" "value: ****"
check "  a step text holding the value is masked too" \
	jq -es "any(.[]; .type == \"step\" and .text == \"RUN echo 'literal **** in the Dockerfile' > /dev/null\")" "$TMP/log"
check "  the value appears nowhere" lacks "$MARK" "$TMP/log"
build sec:2 "$DFS" --progress plain --no-cache --secret id=t,env=TOK >/dev/null
check "plain: masked as well" lacks "$MARK" "$TMP/log"

build bad:1 $'FROM bb:1\nRUN exit 4' --progress json >/dev/null; rc=$?
check "a failed build: non-zero" test "$rc" -ne 0
expect_eq "  its error as the last event, with the line" \
	"$(tail -n1 "$TMP/log" | jq -c '[.type, .line, (.message | test("exit code: 4"))]')" '["error",2,true]'
check "  stderr still all JSON" jq -es 'all(type == "object")' "$TMP/log"
build q:1 "$DF" --progress json -q >/dev/null
expect_eq "-q prints nothing, whatever --progress says" "$(cat "$TMP/log")" ""
"$B" build --dockerfile-str "$DF" --progress fancy >/dev/null 2>&1; rc=$?
expect_eq "an unknown --progress is a usage error" "$rc" 2

DFP='FROM bb:1 AS a
RUN for i in $(seq 20); do echo "a line $i"; done
FROM bb:1 AS b
RUN for i in $(seq 20); do echo "b line $i"; done
FROM bb:1
COPY --from=a /bin/sh /a
COPY --from=b /bin/sh /b
'
build par:1 "$DFP" --progress json --no-cache >/dev/null || diag <"$TMP/log"
check "stages built at once never break a JSON line" jq -es 'all(type == "object")' "$TMP/log"
expect_eq "  and each output event names its stage" \
	"$(jq -r 'select(.type == "output") | "\(.stage) \(.line)"' "$TMP/log" | grep -c '^\(a a\|b b\) line')" 40

expect_eq "nothing is left mounted under the test directory" \
	"$(grep -F " $TMP" /proc/self/mountinfo)" ""
done_testing
