#!/bin/bash
# The Python SDK (sdk/python/berth) with the host's python3: the JSON of
# `python3 -m berth.spec` and its errors, then the real `python3 -m
# berth.runner` on 127.0.0.1 serving the apps in tests/e2e/sdk_apps: health
# during and after setup, inputs and outputs, error statuses, SSE, OpenAPI,
# parallel requests, SIGTERM, setup failures, and File/Image uploads to a
# file store played by busybox httpd. Ordering is driven by gate files the
# test creates, never by timings. $BERTH_PYTHON picks another interpreter.
. "$(dirname "$0")/lib.bash"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
APPS=$ROOT/tests/e2e/sdk_apps
PY=${BERTH_PYTHON:-python3}
export PYTHONPATH=$ROOT/sdk/python PYTHONDONTWRITEBYTECODE=1
unset BERTH_SERVER_URL BERTH_KEY BERTH_HOST

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

for tool in jq curl "$PY"; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is not installed"
		exit 0
	fi
done

# wait_until SECONDS COMMAND...: poll the command until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1)); shift
	until "$@" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.02
	done
}

# start_runner NAME ARGS...: start `python3 -m berth.runner ARGS` on a port
# the kernel picks; sets RPID and URL. Its stderr is $TMP/NAME.log.
start_runner() {
	local name=$1; shift
	PORT=0 "$PY" -m berth.runner "$@" >"$TMP/$name.out" 2>"$TMP/$name.log" &
	RPID=$!
	PIDS+=("$RPID")
	if ! wait_until 20 grep -q 'listening on 127.0.0.1:[0-9]' "$TMP/$name.log"; then
		echo "# the runner '$name' did not start:"; diag <"$TMP/$name.log"
		URL=http://127.0.0.1:1
		return 1
	fi
	URL=http://127.0.0.1:$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\);.*/\1/p' "$TMP/$name.log" | head -1)
}

# req METHOD PATH [JSON [CURL ARGS...]]: one request to $URL; sets CODE, the
# body is in $TMP/body and the headers in $TMP/headers.
req() {
	local method=$1 path=$2 data=${3-}; shift 3 2>/dev/null || shift $#
	local args=(-s -X "$method" -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' --max-time 30)
	[ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
	CODE=$(curl "${args[@]}" "$@" "$URL$path")
}
body() { cat "$TMP/body"; }
jbody() { jq -c "$1" "$TMP/body" 2>/dev/null; }
spec() { "$PY" -m berth.spec "$@" >"$TMP/spec.json" 2>"$TMP/spec.err"; }
sj() { jq -c "$1" "$TMP/spec.json" 2>/dev/null; }
exited() { ! kill -0 "$1" 2>/dev/null; }

# --- berth.spec -------------------------------------------------------------
spec "$APPS/settings_app.py::SettingsApp"; rc=$?
expect_eq "spec: exit 0" "$rc" 0
expect_eq "spec: stdout is one JSON object" "$(jq -s -c 'length, (.[0] | type)' "$TMP/spec.json" | paste -sd' ')" '1 "object"'
check "spec: the app's top-level prints go to stderr, not into the JSON" \
	grep -q 'top-level code runs' "$TMP/spec.err"
expect_eq "spec: app_name and the name= keyword give name" "$(sj .name)" '"custom-name"'
expect_eq "spec: sdk.file is the absolute path" "$(sj .sdk.file)" "\"$APPS/settings_app.py\""
expect_eq "spec: sdk.class" "$(sj .sdk.class)" '"SettingsApp"'
expect_eq "spec: sdk.endpoints, sorted" "$(sj .sdk.endpoints)" '["/","/alive","/events"]'
expect_eq "spec: sdk.stream_endpoints (an async generator)" "$(sj .sdk.stream_endpoints)" '["/events"]'
expect_eq "spec: image.dockerfile is the text" "$(sj .image.dockerfile)" \
	'"FROM python:3.11-slim\nARG VERSION\nRUN --mount=type=secret,id=aws-key true\n"'
expect_eq "spec: image.context is absolute" "$(sj .image.context)" "\"$APPS/context\""
expect_eq "spec: image.build_args" "$(sj .image.build_args)" '{"VERSION":"1.2"}'
expect_eq "spec: image.secrets keep \$NAME verbatim" "$(sj .image.secrets)" '{"aws-key":"$AWS_KEY"}'
expect_eq "spec: image.registries keep \$NAME verbatim" "$(sj .image.registries)" \
	'{"registry.example.com":{"username":"robot","password":"$REGISTRY_TOKEN"}}'
expect_eq "spec: machine_type as a list" "$(sj .machine_type)" '["GPU-H100","GPU"]'
expect_eq "spec: num_gpus -> gpus" "$(sj .gpus)" 2
expect_eq "spec: memory and cpus -> resources" "$(sj .resources)" '{"memory":"2Gi","cpus":1.5}'
expect_eq "spec: scaling from attributes and class keywords" "$(sj '.scaling | to_entries | sort_by(.key) | from_entries')" \
	'{"concurrency_buffer":1,"keep_alive":300,"max_multiplexing":4,"max_runners":2,"min_runners":1,"scaling_delay":2.5}'
expect_eq "spec: timeouts in seconds" "$(sj '[.request_timeout, .startup_timeout, .termination_grace_period]')" '[30,900,7]'
expect_eq "spec: secrets, data_mounts, auth" "$(sj '[.secrets, .data_mounts, .auth]')" \
	'[["HF_TOKEN","OTHER"],["/data/.cache"],"public"]'
expect_eq "spec: the health_check endpoint is run.health" "$(sj .run)" \
	'{"health":{"path":"/alive","method":"GET","start_period":20,"timeout":3,"failure_threshold":2,"interval":10}}'
expect_eq "spec: no other keys" "$(sj 'keys')" \
	'["auth","data_mounts","gpus","image","machine_type","name","request_timeout","resources","run","scaling","sdk","secrets","startup_timeout","termination_grace_period"]'
check "spec: a note names the fal setting berth ignores" \
	grep -q 'SettingsApp.requirements is ignored by berth' "$TMP/spec.err"

spec "$APPS/minimal_app.py"; rc=$?
expect_eq "spec FILE.py (one class): exit 0" "$rc" 0
expect_eq "spec: a class that sets nothing gives name and sdk only" "$(sj 'keys')" '["name","sdk"]'
expect_eq "spec: the default name is the class name in kebab-case" "$(sj .name)" '"my-good-app"'
expect_eq "spec: FILE CLASS as two arguments" \
	"$("$PY" -m berth.spec "$APPS/minimal_app.py" MyGoodApp 2>/dev/null | jq -c .sdk.class)" '"MyGoodApp"'

spec "$APPS/dockerfile_app.py::FromFile"
expect_eq "spec: from_dockerfile gives dockerfile_path" "$(sj '.image | keys')" '["dockerfile_path","dockerignore"]'
expect_eq "spec: dockerfile_path is absolute" "$(sj .image.dockerfile_path)" "\"$APPS/context/Dockerfile\""
expect_eq "spec: the App's health_check tunes GET /health" "$(sj .run.health)" \
	'{"path":"/health","method":"GET","start_period":60,"timeout":5,"failure_threshold":3,"interval":15}'
spec "$APPS/dockerfile_app.py::FromRef"
expect_eq "spec: from_ref gives ref and registries" "$(sj .image)" \
	'{"ref":"registry.example.com/team/app:1.2","registries":{"registry.example.com":{"username":"robot","password":"$TOKEN"}}}'

spec "$APPS/seed_app.py"; rc=$?
expect_eq "spec: the seed's fal example (imports changed) loads" "$rc" 0
expect_eq "spec: seed app name, machine type, endpoints" "$(sj '[.name, .machine_type, .sdk.endpoints]')" \
	'["fal-model","GPU",["/"]]'
check "spec: seed app dockerfile text kept verbatim" \
	jq -e '.image.dockerfile | contains("ENV PATH=\"$PWD/.venv/bin:$PATH\"")' "$TMP/spec.json"

# spec_error NAME TARGET PATTERN: exit 2, one line on stderr matching PATTERN, no traceback.
spec_error() {
	local name=$1 target=$2 pattern=$3 rc
	spec "$target"; rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/spec.err")" -eq 1 ] && [ ! -s "$TMP/spec.json" ] &&
		grep -q "^berth.spec: error: .*$pattern" "$TMP/spec.err" && ! grep -q Traceback "$TMP/spec.err"; then
		ok "spec error: $name"
	else
		not_ok "spec error: $name"
		{ echo "exit $rc, stderr:"; cat "$TMP/spec.err"; } | diag
	fi
}
E=$APPS/errors
spec_error "a missing file" "$TMP/nope.py" "'$TMP/nope.py' not found"
spec_error "no App class" "$E/no_app.py" "defines no berth.App subclass"
spec_error "two App classes, none named" "$E/two_apps.py" "several App classes (First, Second): name one as .*::First"
spec_error "a class that is not there" "$E/two_apps.py::Third" "has no class 'Third' (App classes there: First, Second)"
spec_error "a class that is not an App" "$E/no_app.py::NotAnApp" "is not a berth.App subclass"
spec_error "an import the host lacks" "$E/missing_import.py" \
	"missing_import.py:4: the host's python3 has no module 'berth_test_module_only_in_the_image': import it inside setup()"
spec_error "import fal" "$E/fal_import.py" "import berth as fal"
spec_error "a syntax error" "$E/syntax_error.py" "syntax_error.py:4: syntax error"
spec_error "a bad attribute" "$E/bad_attribute.py" "BadAttribute.keep_alive must be a number of seconds >= 0, not 'a long time'"
spec_error "an image that is a tuple" "$E/tuple_image.py" "remove the comma"
spec_error "an unknown class keyword" "$E/unknown_setting.py" "unknown App setting 'keep_alive_seconds'"
spec_error "no endpoints" "$E/no_endpoints.py" "NoEndpoints has no endpoints"
spec "$E/two_apps.py::Second"; rc=$?
expect_eq "spec: FILE::Class picks one of two" "$rc:$(sj .name)" '0:"second"'

# The library's own checks, from Python.
pyerr() { "$PY" -c "$1" 2>&1 | tail -1; }
expect_eq "App() outside the runner raises" \
	"$(pyerr 'import berth
class A(berth.App): pass
A()')" "NotImplementedError: an App is not instantiated directly: run it with \`berth run path/to/app.py::A\`"
check "a blank Dockerfile is a ValueError that names the classmethods" \
	grep -q "ValueError: the Dockerfile is empty: make the image with ContainerImage.from_dockerfile_str" \
	<(pyerr 'from berth.container import ContainerImage; ContainerImage.from_dockerfile_str("  \n")')
check "a registry without a password is a ValueError" \
	grep -q "ValueError: registries: 'r.io': each registry needs a 'username' and a 'password'" \
	<(pyerr 'from berth.container import ContainerImage; ContainerImage.from_dockerfile_str("FROM x", registries={"r.io": {"username": "u"}})')
expect_eq "berth.container.ContainerImage is berth.ContainerImage, optimize returns its argument" \
	"$("$PY" -c 'import berth, berth.container, berth.toolkit as t; o = object(); print(berth.ContainerImage is berth.container.ContainerImage, t.optimize(o) is o)')" "True True"
expect_eq "models: errors have pydantic's shape" \
	"$("$PY" -c 'from berth.models import BaseModel, Field, ValidationError
from typing import List, Optional
class M(BaseModel):
    a: int = Field(ge=1)
    b: List[str] = []
    c: Optional[bool] = None
try: M(a=0, b=["x", 2], c="maybe")
except ValidationError as e: print([(list(x["loc"]), x["type"]) for x in e.errors()])')" \
	"[(['a'], 'greater_than_equal'), (['b', 1], 'string_type'), (['c'], 'bool_parsing')]"

# --- the runner: setup, health, endpoints ---------------------------------------
export APP_STATE=$TMP/state
mkdir -p "$APP_STATE"
SETUP_GATE=1 start_runner basic "$APPS/basic_app.py" BasicApp
wait_until 10 test -e "$APP_STATE/setup"
req GET /health
expect_eq "runner: GET /health is 503 while setup() runs" "$CODE $(body)" '503 {"state":"SETUP"}'
req POST / '{}'
expect_eq "runner: endpoints are 503 while setup() runs" "$CODE $(jbody .state)" '503 "SETUP"'
touch "$APP_STATE/setup-gate"
wait_until 20 grep -q 'ready in' "$TMP/basic.log"
req GET /health
expect_eq "runner: GET /health is 200 after setup with health() and the state" "$CODE $(body)" \
	'200 {"version":"0.1.0","state":"RUNNING"}'
expect_eq "runner: HEAD /health has the headers only" \
	"$(curl -sI --max-time 10 "$URL/health" | tr -d '\r' | grep -E '^(HTTP|Content-Length)' | paste -sd'|')" \
	'HTTP/1.1 200 OK|Content-Length: 37'

req POST / '{"a":[1,2],"b":"x"}'
expect_eq "runner: dict input, dict output" "$CODE $(body)" '200 {"echo":{"a":[1,2],"b":"x"}}'
req POST / ''
expect_eq "runner: an empty body is {}" "$CODE $(body)" '200 {"echo":{}}'
check "runner: answers are application/json" grep -qi '^content-type: application/json' "$TMP/headers"
req POST /dataclass '{"x":2,"y":"40"}'
expect_eq "runner: dataclass input (converted), dataclass output" "$CODE $(body)" '200 {"total":42,"point":{"x":2,"y":40}}'
req POST /dataclass '{"x":"abc"}'
expect_eq "runner: a bad dataclass field is 422 with its loc" "$CODE $(jbody '.detail[0] | [.loc, .type]')" \
	'422 [["body","x"],"int_parsing"]'
req POST /model '{"prompt":"fox","options":{"seed":7}}'
expect_eq "runner: berth.models input with defaults and a nested model" "$CODE $(body)" \
	'200 {"text":"FOX","steps":10,"seed":7}'
req POST /model '{"steps":0,"tags":"x"}'
expect_eq "runner: failed validation is 422 with every error's loc" "$CODE $(jbody '[.detail[] | [.loc, .type]]')" \
	'422 [[["body","prompt"],"missing"],[["body","steps"],"greater_than_equal"],[["body","tags"],"list_type"]]'
expect_eq "runner: 422 errors have loc, msg and type" "$(jbody '.detail[0] | keys')" '["loc","msg","type"]'
req POST /model '{"prompt": '
expect_eq "runner: bad JSON is 422 json_invalid" "$CODE $(jbody '.detail[0] | [.loc[0], .type, .msg]')" \
	'422 ["body","json_invalid","JSON decode error"]'
req POST /model '[1]'
expect_eq "runner: JSON that is not an object for a model is 422" "$CODE $(jbody '.detail[0].type')" '422 "model_type"'
req POST /nowhere '{}'
expect_eq "runner: an unknown path is 404" "$CODE $(body)" '404 {"detail":"Path /nowhere not found"}'
req GET /model
expect_eq "runner: GET on a POST endpoint is 405" "$CODE $(body)" '405 {"detail":"Method Not Allowed"}'
check "runner: 405 names the allowed method" grep -qi '^allow: POST' "$TMP/headers"
req DELETE /health
expect_eq "runner: DELETE /health is 405" "$CODE" 405
req POST /app-error '{}'
expect_eq "runner: AppException gives its status and detail" "$CODE $(body)" '418 {"detail":"the teapot is busy"}'
req POST /field-error '{}'
expect_eq "runner: FieldException is a 422 on its field" "$CODE $(jbody '.detail[0].loc')" '422 ["body","prompt"]'
req POST /crash '{"marker":"m42"}'
expect_eq "runner: any other exception is 500" "$CODE $(body)" '500 {"detail":"Internal Server Error"}'
check "runner: the 500's traceback is in the log" \
	grep -Pzq 'Traceback \(most recent call last\):\n(.*\n)*RuntimeError: crash-marker-m42' "$TMP/basic.log"
req POST /list '{}'
expect_eq "runner: a list result" "$(body)" '[1,"two",null]'
req POST /string '{}'
expect_eq "runner: a str result" "$(body)" '"plain"'
req POST /number
expect_eq "runner: a number result, no input parameter" "$(body)" '2.5'
req POST /nothing
expect_eq "runner: a None result" "$CODE $(body)" '200 null'
req POST /async '{}' -H 'x-berth-request-id: req-async-1'
expect_eq "runner: an async endpoint, with current_request" "$CODE $(body)" '200 {"async":true,"request_id":"req-async-1"}'
req POST /request '{}' -H 'x-berth-request-id: req-77' -H 'X-Custom: hello'
expect_eq "runner: current_request has the id, endpoint and headers" "$(body)" \
	'{"request_id":"req-77","endpoint":"/request","header":"hello"}'
check "runner: the request's log line has the method, path, status, ms and id" \
	grep -Eq '^berth.runner: POST /request 200 [0-9]+\.[0-9]ms id=req-77$' "$TMP/basic.log"
req GET /ping
expect_eq "runner: a health_check endpoint also answers GET" "$CODE $(body)" '200 {"pong":true}'

# --- SSE ---
req POST /stream '{"n":5}'
expect_eq "sse: status and content type" "$CODE $(grep -i '^content-type' "$TMP/headers" | tr -d '\r')" \
	'200 Content-Type: text/event-stream'
expect_eq "sse: one event per yield, in order" "$(sed -n 's/^data: //p' "$TMP/body" | jq -c .i | paste -sd,)" '0,1,2,3,4'
expect_eq "sse: events are 'data: <json>' separated by blank lines" "$(grep -c '^$' "$TMP/body")" 5
curl -sN -X POST --max-time 40 -d '{}' "$URL/stream-gated" >"$TMP/sse-gated" &
cpid=$!
PIDS+=("$cpid")
if wait_until 20 grep -q '"i":0' "$TMP/sse-gated"; then
	ok "sse: the first event arrives while the generator waits for the next"
	check "sse: the second event is not there before the gate opens" bash -c "! grep -q '\"i\":1' $TMP/sse-gated"
else
	not_ok "sse: the first event arrives while the generator waits for the next"
	skip "sse: the second event is not there before the gate opens" "the first did not arrive"
fi
touch "$APP_STATE/stream-gate"
wait "$cpid"
expect_eq "sse: the second event follows once the gate opens" "$(sed -n 's/^data: //p' "$TMP/sse-gated" | jq -c .i | paste -sd,)" '0,1'
curl -s0 -D "$TMP/h10" -X POST -d '{"n":2}' --max-time 10 "$URL/stream" >"$TMP/sse10"
expect_eq "sse: an HTTP/1.0 client gets the events, the end of the stream closing the connection" \
	"$(sed -n 's/^data: //p' "$TMP/sse10" | jq -c .i | paste -sd,) $(grep -ci '^connection: close' "$TMP/h10")" '0,1 1'
req POST /astream '{"n":3}'
expect_eq "sse: an async generator, with current_request" \
	"$(sed -n 's/^data: //p' "$TMP/body" | jq -c '[.i, .endpoint]' | paste -sd' ')" '[0,"/astream"] [1,"/astream"] [2,"/astream"]'
req POST /stream-fails '{}'
expect_eq "sse: an exception mid-stream ends it with an error event" \
	"$CODE $(tr '\n' '|' <"$TMP/body")" \
	'200 data: {"i":0}||event: error|data: {"detail":"Internal Server Error","status_code":500}||'
check "sse: its traceback is in the log" grep -q 'RuntimeError: stream-crash-marker' "$TMP/basic.log"
req POST /stream-app-error '{}'
expect_eq "sse: an AppException before the first event keeps its status" "$CODE $(body)" '409 {"detail":"no stream for you"}'
curl -sv -X POST -d '{"n":1}' "$URL/stream" --next -s -X POST -d '{}' "$URL/" >"$TMP/reuse" 2>"$TMP/reuse.err"
expect_eq "sse: a second request on the connection after a chunked stream" "$(tail -1 "$TMP/reuse")" '{"echo":{}}'
check "sse: ... which curl reuses (keep-alive)" grep -q 'Re-using existing connection' "$TMP/reuse.err"

# --- openapi.json ---
req GET /openapi.json
jq . "$TMP/body" >"$TMP/openapi.json" 2>/dev/null
oa() { jq -c "$1" "$TMP/openapi.json" 2>/dev/null; }
expect_eq "openapi: 200 and OpenAPI 3.0" "$CODE $(oa .openapi)" '200 "3.0.3"'
expect_eq "openapi: a POST operation per endpoint" "$(oa '[.paths | to_entries[] | select(.value.post) | .key] | length')" \
	"$(grep -c '@berth.endpoint' "$APPS/basic_app.py")"
expect_eq "openapi: the model input is a schema reference" \
	"$(oa '.paths["/model"].post.requestBody.content["application/json"].schema')" '{"$ref":"#/components/schemas/Prompt"}'
expect_eq "openapi: Field description, example and bounds" \
	"$(oa '.components.schemas.Prompt.properties | [.prompt.description, .prompt.example, .steps.minimum, .steps.maximum]')" \
	'["The prompt to generate from.","a red fox",1,50]'
expect_eq "openapi: Optional[Model] is nullable" "$(oa '.components.schemas.Prompt.properties.options | [.nullable, .allOf[0]["$ref"]]')" \
	'[true,"#/components/schemas/Options"]'
expect_eq "openapi: dataclass fields and required" "$(oa '.components.schemas.Point | [(.properties | keys), .required]')" \
	'[["x","y"],["x"]]'
expect_eq "openapi: the response schema from the return annotation" \
	"$(oa '.paths["/model"].post.responses["200"].content["application/json"].schema["$ref"]')" '"#/components/schemas/Result"'
expect_eq "openapi: 422 is described" "$(oa '.paths["/model"].post.responses["422"].content["application/json"].schema["$ref"]')" \
	'"#/components/schemas/HTTPValidationError"'
expect_eq "openapi: the health check endpoint has a GET" "$(oa '.paths["/ping"] | keys')" '["get","post"]'
expect_eq "openapi: a stream endpoint answers text/event-stream" "$(oa '.paths["/stream"].post.responses["200"].content | keys')" \
	'["text/event-stream"]'
expect_eq "openapi: the docstring is the summary" "$(oa '.paths["/model"].post.summary')" '"Generate text from a prompt."'

# --- setup once, parallel requests ---
cpids=()
for i in $(seq 1 20); do
	curl -s -X POST -d "{\"i\":$i}" --max-time 30 "$URL/" >"$TMP/many$i" &
	cpids+=($!)
done
wait "${cpids[@]}"
expect_eq "runner: 20 requests at once all answered" "$(cat "$TMP"/many* | jq -s -c '[.[].echo.i] | sort == [range(1; 21)]')" true
req POST /setup-calls
expect_eq "runner: setup() ran once across many requests" "$(body)" '{"setup_calls":1,"in_file":1}'
cpids=()
for i in 1 2 3; do
	curl -s -o "$TMP/barrier$i" -w '%{http_code}' -X POST -d '{}' --max-time 40 "$URL/barrier" >"$TMP/barrier$i.code" &
	cpids+=($!)
done
wait "${cpids[@]}"
expect_eq "runner: requests are served in parallel (3 meet at a barrier)" "$(cat "$TMP"/barrier?.code | tr -d '\n')" 200200200

# --- files without a file store ---
req POST /file '{"text":"hello"}'
expect_eq "toolkit: File without a server is a data URL" "$(jbody .url)" "\"data:text/plain;base64,$(printf hello | base64)\""
expect_eq "toolkit: File fields" "$(jbody '[.content_type, .file_name, .file_size]')" '["text/plain","hello.txt",5]'
req POST /image '{}'
expect_eq "toolkit: Image in a model is a PNG data URL with its size" "$(jbody '.image | [(.url | startswith("data:image/png;base64,iVBORw0KGgo")), .content_type, .file_size]')" \
	'[true,"image/png",67]'
check "toolkit: the log says why it is a data URL" grep -q 'BERTH_SERVER_URL is not set: files are returned as data URLs' "$TMP/basic.log"

# --- SIGTERM: requests in flight finish, teardown once, exit 0 ---
curl -s -o "$TMP/inflight" -w '%{http_code}' -X POST -d '{}' --max-time 40 "$URL/gate" >"$TMP/inflight.code" &
cpid=$!
PIDS+=("$cpid")
wait_until 20 test -e "$APP_STATE/gate-entered"
kill -TERM "$RPID"
wait_until 10 grep -q 'SIGTERM: stopping' "$TMP/basic.log"
curl -s -o /dev/null --max-time 5 "$URL/health"
expect_eq "sigterm: new connections are refused" "$?" 7
check "sigterm: the runner waits for the request in flight" kill -0 "$RPID"
expect_eq "sigterm: teardown() waits for it too" "$(cat "$APP_STATE/teardown" 2>/dev/null || echo none)" none
touch "$APP_STATE/gate"
wait "$cpid"
expect_eq "sigterm: the request in flight completes" "$(cat "$TMP/inflight.code") $(cat "$TMP/inflight")" '200 {"gated":true}'
wait "$RPID"; rc=$?
expect_eq "sigterm: the runner exits 0" "$rc" 0
expect_eq "sigterm: teardown() ran once" "$(cat "$APP_STATE/teardown" 2>/dev/null)" 1
check "sigterm: the log says it stopped" grep -q '^berth.runner: stopped$' "$TMP/basic.log"
check "the app's prints reach stdout" grep -q 'setup done' "$TMP/basic.out"

# SIGTERM while setup() runs: exit 0, no teardown.
rm -rf "$APP_STATE" && mkdir -p "$APP_STATE"
SETUP_GATE=1 start_runner early "$APPS/basic_app.py::BasicApp"
wait_until 10 test -e "$APP_STATE/setup"
kill -TERM "$RPID"
wait_until 10 exited "$RPID"
wait "$RPID"; rc=$?
expect_eq "sigterm during setup: exit 0" "$rc" 0
expect_eq "sigterm during setup: no teardown" "$(cat "$APP_STATE/teardown" 2>/dev/null || echo none)" none

# --- async setup/teardown/health, SIGINT ---
rm -rf "$APP_STATE" && mkdir -p "$APP_STATE"
start_runner async "$APPS/async_app.py::AsyncApp"
wait_until 20 grep -q 'ready in' "$TMP/async.log"
check "async: an async setup() ran" test -e "$APP_STATE/async-setup"
req GET /health
expect_eq "async: an async health(), with a module imported from the app's directory" "$(body)" \
	'{"custom":true,"greeting":"hello from a neighbour module","state":"RUNNING"}'
req POST /same-loop
expect_eq "async: endpoints run on the loop setup() ran on" "$(body)" '{"same":true}'
req POST /from-path
expect_eq "toolkit: File.from_path keeps the file's name and size" "$(jbody '[.content_type, .file_name, .file_size]')" \
	"[\"text/plain\",\"Dockerfile\",$(wc -c <"$APPS/context/Dockerfile")]"
req POST /nowhere '{"a":1}' -H 'Transfer-Encoding: chunked'
expect_eq "runner: a chunked request body is read" "$CODE" 404
curl -s -X POST -H 'Transfer-Encoding: chunked' -d '{"a":1}' "$URL/nowhere" --next -s -X POST "$URL/same-loop" >"$TMP/chunked"
expect_eq "runner: ... to its end (the next request on the connection is fine)" "$(cat "$TMP/chunked")" \
	'{"detail":"Path /nowhere not found"}{"same":true}'
kill -INT "$RPID"
wait "$RPID"; rc=$?
expect_eq "sigint: exit 0" "$rc" 0
expect_eq "sigint: an async teardown() ran once" "$(cat "$APP_STATE/async-teardown" 2>/dev/null)" x

# --- setup failures ---
start_runner fails "$APPS/setup_fails.py" SetupFails
wait_until 10 exited "$RPID"
wait "$RPID"; rc=$?
expect_eq "setup failure: the runner exits 1" "$rc" 1
check "setup failure: the traceback is in the log" \
	grep -Pzq 'setup failed:\nTraceback \(most recent call last\):\n(.*\n)*ValueError: setup-failure-marker' "$TMP/fails.log"
start_runner seed "$APPS/seed_app.py::FalModel"
wait_until 20 exited "$RPID"
wait "$RPID"; rc=$?
expect_eq "seed app: served up to setup, which fails on a host without torch: exit 1" "$rc" 1
check "seed app: the log has the ImportError of setup()" \
	grep -Pzq 'Traceback(.*\n)*  File ".*seed_app.py", line [0-9]+, in setup\n(.*\n)*ModuleNotFoundError: No module named .torch.' "$TMP/seed.log"
start_runner twoapps "$APPS/errors/two_apps.py"
wait_until 10 exited "$RPID"
wait "$RPID"; rc=$?
expect_eq "runner: an app file with two classes and none named exits 1" "$rc" 1
check "runner: ... and says what to do" grep -q 'error: .*several App classes (First, Second): name one' "$TMP/twoapps.log"

# --- files with a file store (busybox httpd playing berth's /v1/files) ---
HPORT=
if command -v busybox >/dev/null; then
	mkdir -p "$TMP/www/cgi-bin" "$TMP/store"
	cat >"$TMP/www/cgi-bin/berth" <<EOF
#!/bin/sh
# POST /v1/files?name=NAME: keep the body, answer {"digest", "url"} (500 when told to).
store=$TMP/store
printf '%s %s %s\n' "\$REQUEST_METHOD" "\$PATH_INFO" "\$QUERY_STRING" >"\$store/request"
printf '%s\n%s\n' "\$CONTENT_TYPE" "\$HTTP_AUTHORIZATION" >>"\$store/request"
head -c "\$CONTENT_LENGTH" >"\$store/body"
if [ -e "\$store/fail" ]; then
	printf 'Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nno\n'
	exit 0
fi
digest=\$(sha256sum "\$store/body" | cut -d' ' -f1)
printf 'Content-Type: application/json\r\n\r\n{"digest":"sha256:%s","url":"/files/sha256:%s/%s"}' \
	"\$digest" "\$digest" "\${QUERY_STRING#name=}"
EOF
	chmod +x "$TMP/www/cgi-bin/berth"
	marker=berth-test-$$-$RANDOM
	echo "$marker" >"$TMP/www/marker"
	# our_httpd PORT: ours answers there (not some other server on that port).
	our_httpd() { [ "$(curl -s "http://127.0.0.1:$1/marker")" = "$marker" ]; }
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		p=$((20000 + RANDOM % 40000))
		busybox httpd -f -p "127.0.0.1:$p" -h "$TMP/www" 2>/dev/null &
		hpid=$!
		PIDS+=("$hpid")
		if wait_until 3 our_httpd "$p"; then
			HPORT=$p; break
		fi
	done
fi
if [ -z "${HPORT:-}" ]; then
	for n in 1 2 3 4 5 6 7; do skip "file store check $n" "busybox httpd could not be started"; done
else
	STORE=http://127.0.0.1:$HPORT/cgi-bin/berth
	rm -rf "$APP_STATE" && mkdir -p "$APP_STATE"
	BERTH_SERVER_URL=$STORE BERTH_KEY=test-key start_runner upload "$APPS/basic_app.py" BasicApp
	wait_until 20 grep -q 'ready in' "$TMP/upload.log"
	req POST /file '{"text":"stored bytes"}'
	digest=$(printf 'stored bytes' | sha256sum | cut -d' ' -f1)
	expect_eq "upload: the File's url is the store's answer, made absolute" "$CODE $(jbody .url)" \
		"200 \"http://127.0.0.1:$HPORT/files/sha256:$digest/hello.txt\""
	expect_eq "upload: POST /v1/files?name=<file_name>" "$(head -1 "$TMP/store/request")" 'POST /v1/files name=hello.txt'
	expect_eq "upload: the Content-Type and the key" "$(sed -n '2,3p' "$TMP/store/request" | paste -sd'|')" \
		'text/plain|Key test-key'
	expect_eq "upload: the raw bytes" "$(cat "$TMP/store/body")" 'stored bytes'
	req POST /image '{}'
	expect_eq "upload: an Image goes to the store too" "$(jbody '.image.url | test("^http://127.0.0.1:[0-9]+/files/sha256:[0-9a-f]{64}/[0-9a-f]{32}\\.png$")')" true
	touch "$TMP/store/fail"
	req POST /file '{"text":"x"}'
	expect_eq "upload: a failing store gives a data URL" "$(jbody .url)" "\"data:text/plain;base64,$(printf x | base64)\""
	check "upload: the log says why" grep -q "berth.toolkit: upload of 'hello.txt' to $STORE failed (HTTP 500 Internal Server Error): returning a data URL" "$TMP/upload.log"
	kill -TERM "$RPID"; wait "$RPID"
fi
expect_eq "upload: an unreachable store gives a data URL and a log line" \
	"$(BERTH_SERVER_URL=http://127.0.0.1:1 "$PY" -c 'from berth.toolkit import File; print(File.from_bytes(b"ab", file_name="a.txt").url)' 2>"$TMP/unreachable.err")" \
	"data:text/plain;base64,$(printf ab | base64)"
check "upload: ... the line names the file and the store" grep -q "upload of 'a.txt' to http://127.0.0.1:1 failed" "$TMP/unreachable.err"

# --- real pydantic models (only where the interpreter has pydantic) ---
if ! "$PY" -c 'import pydantic' 2>/dev/null; then
	for n in 1 2 3 4 5 6; do skip "pydantic check $n" "$PY has no pydantic"; done
else
	start_runner pyd "$APPS/pydantic_app.py"
	wait_until 20 grep -q 'ready in' "$TMP/pyd.log"
	req POST / '{"prompt":"a","tags":["x","y"]}'
	expect_eq "pydantic: v2 model input" "$CODE $(jbody .text)" '200 "a/10/x,y"'
	expect_eq "pydantic: a berth Image inside a pydantic output" "$(jbody '.image | [.content_type, .file_size]')" '["image/png",67]'
	req POST / '{"steps":0}'
	expect_eq "pydantic: v2 validation errors are 422 with loc" "$CODE $(jbody '[.detail[] | .loc]')" \
		'422 [["body","prompt"],["body","steps"]]'
	req POST /v1 '{"name":"n","count":"3"}'
	expect_eq "pydantic: a v1 model input" "$CODE $(body)" '200 {"name":"n","count":3,"model":"OldInput"}'
	req POST /v1 '{"count":"x"}'
	expect_eq "pydantic: v1 validation errors are 422 with loc" "$CODE $(jbody '[.detail[] | .loc]')" \
		'422 [["body","name"],["body","count"]]'
	req GET /openapi.json
	expect_eq "pydantic: openapi has the models' schemas" "$(jbody '.components.schemas.Input.properties.prompt | [.description, .example]')" \
		'["The prompt.","a cat"]'
	kill -TERM "$RPID"; wait "$RPID"
fi

done_testing
