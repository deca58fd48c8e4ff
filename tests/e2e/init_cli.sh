#!/bin/bash
# `berth init NAME --template T`: each template is written with its name,
# class and base filled in, passes `berth lint --strict` (no finding at all)
# with the options its app implies, and the python and server templates
# build and serve with `berth run` (on the test bases of images.bash, set
# with --base). Existing files are never overwritten; names are checked.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/images.bash"
B=$BERTH
W=$TMP/work
mkdir -p "$W"
cd "$W" || exit 1

# ------------------------------------------------ writing the templates

lint_flags() {
	case $1 in
	python) echo --sdk ;;
	pytorch | cuda) echo --sdk --gpu ;;
	server) echo ;;
	esac
}
declare -A FILES=(
	[python]=".dockerignore Dockerfile app.py"
	[pytorch]=".dockerignore Dockerfile app.py"
	[cuda]=".dockerignore Dockerfile app.py"
	[server]="Dockerfile berth.yaml index.html"
)
for t in python pytorch cuda server; do
	"$B" init "my-$t-app" --template $t >"$TMP/out" 2>"$TMP/err"
	expect_eq "$t: exit 0" "$?" 0
	expect_eq "$t: the files, printed as written" "$(cat "$TMP/out")" \
		"$(for f in ${FILES[$t]}; do echo "my-$t-app/$f"; done)"
	expect_eq "$t: nothing else in the directory" "$(ls -A "my-$t-app" | tr '\n' ' ')" "${FILES[$t]} "
	expect_eq "$t: no placeholder left" "$(grep -l '{{' "my-$t-app"/* "my-$t-app"/.[!.]* 2>/dev/null)" ""
	want="berth lint$(for f in $(lint_flags $t); do printf ' %s' $f; done) my-$t-app/Dockerfile"
	check "$t: the next steps are shown ($want)" grep -qF "$want" "$TMP/err"
	"$B" lint --strict $(lint_flags $t) "my-$t-app/Dockerfile" >"$TMP/lint" 2>"$TMP/lint-err"
	rc=$?
	expect_eq "$t: berth lint --strict $(lint_flags $t): no finding" "$rc:$(cat "$TMP/lint")" "0:"
	[ "$rc" -eq 0 ] || diag <"$TMP/lint-err"
done
check "python: the class is named from the app" grep -q "^class MyPythonApp(berth.App):" my-python-app/app.py
check "  with the app's name" grep -q '^    app_name = "my-python-app"$' my-python-app/app.py
check "  the default base: debian:bookworm-slim with apt's python3, pinned" \
	grep -q '^FROM debian:bookworm-slim$' my-python-app/Dockerfile
check "  python3 pinned to Debian 12's version" grep -q 'python3=3.11.2-1+b1' my-python-app/Dockerfile
check "pytorch: two stages" test "$(grep -c '^FROM ' my-pytorch-app/Dockerfile)" -eq 2
check "  a GPU app" grep -q '^    num_gpus = 1$' my-pytorch-app/app.py
check "cuda: on NVIDIA's CUDA runtime image" grep -q '^FROM nvidia/cuda:12.8.0-runtime-ubuntu22.04$' my-cuda-app/Dockerfile
check "  with the CUDA variables" grep -q '^    CUDA_HOME=/usr/local/cuda$' my-cuda-app/Dockerfile
check "  a GPU app" grep -q '^    machine_type = "GPU"$' my-cuda-app/app.py
check "server: a berth.yaml app with the name" grep -q '^name: my-server-app$' my-server-app/berth.yaml
check "  busybox 1.35.0, as berth base create tags it" grep -q '^FROM busybox:1.35.0$' my-server-app/Dockerfile
if command -v python3 >/dev/null; then
	for t in python pytorch cuda; do
		check "$t: app.py compiles" python3 -m py_compile "my-$t-app/app.py"
	done
fi

# What berth makes of each app (read with the host's python3 and the SDK).
spec() { "$B" debug app-spec "$1" 2>"$TMP/spec-err" | jq -c "$2"; }
if command -v python3 >/dev/null; then
	expect_eq "python: an SDK app with one endpoint, no GPU, its Dockerfile" \
		"$(spec my-python-app/app.py '[.name, .sdk.class, .sdk.endpoints, .gpus, .image.dockerfile_path]')" \
		"[\"my-python-app\",\"MyPythonApp\",[\"/\"],0,\"$W/my-python-app/Dockerfile\"]"
	for t in pytorch cuda; do
		expect_eq "$t: a GPU app (gpus 1, machine type GPU)" \
			"$(spec "my-$t-app/app.py" '[.name, .gpus, .machine_type, .sdk.endpoints]')" \
			"[\"my-$t-app\",1,\"GPU\",[\"/\"]]"
	done
fi
expect_eq "server: the command in a shell, the health check on /" \
	"$(spec my-server-app '[.name, .run.command[2], .run.health.path]')" \
	'["my-server-app","exec httpd -f -v -p 127.0.0.1:$PORT -h /www","/"]'

# The lint check can fail: an unpinned package is reported.
sed 's/python3=3.11.2-1+b1/python3/' my-python-app/Dockerfile >"$TMP/Dockerfile.unpinned"
"$B" lint --strict --sdk "$TMP/Dockerfile.unpinned" >"$TMP/lint" 2>/dev/null
expect_eq "an unpinned python3 would not pass (DL3008)" "$?:$(grep -c DL3008 "$TMP/lint")" 1:1

# --dir, and a base of one's own.
"$B" init hello --template python --dir "$W/elsewhere/hello" --base py:1 >/dev/null 2>&1
expect_eq "--dir: written there" "$(ls -A "$W/elsewhere/hello" | tr '\n' ' ')" ".dockerignore Dockerfile app.py "
check "--base: FROM that image" grep -q '^FROM py:1$' "$W/elsewhere/hello/Dockerfile"
check "  python: no apt step, a check that python3 is there" grep -q '^RUN python3 --version$' "$W/elsewhere/hello/Dockerfile"
check "  and no apt-get" sh -c "! grep -q apt-get '$W/elsewhere/hello/Dockerfile'"
"$B" lint --strict --sdk "$W/elsewhere/hello/Dockerfile" >"$TMP/lint" 2>/dev/null
expect_eq "  still no finding" "$?:$(cat "$TMP/lint")" "0:"
"$B" init web --template server --base bb:1 --dir "$W/web" >/dev/null 2>&1
check "server --base" grep -q '^FROM bb:1$' "$W/web/Dockerfile"
"$B" init hello --template python --base 'Not A Ref' --dir "$W/x" >/dev/null 2>"$TMP/err"
expect_eq "a --base that is not a reference: usage error" "$?" 2
check "  nothing written" test ! -e "$W/x"

# ------------------------------------------------------- never overwrite

sum() { find "$1" -type f -exec md5sum {} + | sort; }
before=$(sum my-python-app)
"$B" init my-python-app --template python >/dev/null 2>"$TMP/err"
expect_eq "init over an existing app: exit 1" "$?" 1
check "  names the files and says why" grep -q "my-python-app/.dockerignore, my-python-app/Dockerfile, my-python-app/app.py already exist: init writes only new files" "$TMP/err"
expect_eq "  and changes nothing" "$(sum my-python-app)" "$before"
mkdir partial
echo "mine" >partial/app.py
"$B" init partial --template python >/dev/null 2>"$TMP/err"
expect_eq "one file in the way: exit 1" "$?" 1
check "  names it" grep -q "^berth: partial/app.py already exists: init writes only new files" "$TMP/err"
expect_eq "  nothing else is written (all or nothing)" "$(ls -A partial)" app.py
expect_eq "  and the file is untouched" "$(cat partial/app.py)" mine
echo "notes" >partial/NOTES
"$B" init other --template server --dir partial >/dev/null 2>&1
expect_eq "a directory with other files is fine" "$?" 0

# ------------------------------------------------------------ bad input

for bad in Hello my_app -app "with space" "" "$(printf 'a%.0s' {1..64})"; do
	"$B" init "$bad" --template python >/dev/null 2>"$TMP/err"
	expect_eq "name '${bad:0:20}': usage error" "$?" 2
done
check "  the error says what a name is" grep -q "use lower-case letters, digits and '-'" "$TMP/err"
"$B" init "$(printf 'a%.0s' {1..63})" --template server >/dev/null 2>&1
expect_eq "a 63-character name is fine" "$?" 0
"$B" init 9lives --template python --dir "$W/9lives" >/dev/null 2>&1
check "a name starting with a digit gives a valid class" grep -q "^class App9lives(berth.App):" "$W/9lives/app.py"
"$B" init nope --template rust >/dev/null 2>"$TMP/err"
expect_eq "an unknown template: usage error" "$?" 2
check "  lists the templates" grep -q "python, pytorch, cuda, server" "$TMP/err"
"$B" init nope >/dev/null 2>&1
expect_eq "no template: usage error" "$?" 2
"$B" init --template python >/dev/null 2>&1
expect_eq "no name: usage error" "$?" 2
"$B" init a b --template python >/dev/null 2>&1
expect_eq "two names: usage error" "$?" 2
BERTH_TEMPLATES_DIR=$TMP/none "$B" init nope --template python >/dev/null 2>"$TMP/err"
expect_eq "BERTH_TEMPLATES_DIR without templates: exit 1" "$?" 1
check "  says where to point it" grep -q "BERTH_TEMPLATES_DIR '$TMP/none' holds no templates" "$TMP/err"
check "  nothing written" test ! -e nope
mkdir -p "$TMP/tpl/python"
printf 'FROM {{base}}\n# {{nope}}\n' >"$TMP/tpl/python/Dockerfile"
BERTH_TEMPLATES_DIR=$TMP/tpl "$B" init nope --template python >/dev/null 2>"$TMP/err"
expect_eq "a template with an unknown placeholder: exit 1" "$?" 1
check "  names it" grep -q "unknown placeholder '{{nope}}'" "$TMP/err"

# ------------------------------------------------ built and served

RUN_PID=
cleanup() {
	[ -n "$RUN_PID" ] && kill -9 "$RUN_PID" 2>/dev/null
	"$B" container ls -a -q 2>/dev/null | while read -r id; do "$B" container rm -f "$id"; done
	rm -rf "$TMP"
}
trap cleanup EXIT
serve_tests() {
	[ "$(id -u)" -eq 0 ] || { echo "runners need root"; return 1; }
	local t
	for t in umoci busybox jq curl python3; do
		command -v $t >/dev/null || { echo "$t is not installed (make deps)"; return 1; }
	done
	command -v crun >/dev/null || command -v runc >/dev/null ||
		{ echo "no OCI runtime (crun or runc) is installed"; return 1; }
}
if ! why=$(serve_tests); then
	skip "the python and server templates build and serve" "$why"
	done_testing
	exit
fi
export BERTH_HOME=$TMP/home
make_busybox_image bb:1 || not_ok "busybox base image"
make_python_image py:1 || not_ok "python base image"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_app() {
	PORT=$(port)
	"$B" run "$@" --port "$PORT" >"$TMP/run.out" 2>"$TMP/run.log" &
	RUN_PID=$!
	local i
	for i in $(seq 1 600); do
		grep -q "is ready in" "$TMP/run.log" && return 0
		kill -0 "$RUN_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
stop_app() {
	kill -INT "$RUN_PID"
	wait "$RUN_PID"
	RC=$?
	RUN_PID=
}

if start_app "$W/elsewhere/hello/app.py::Hello"; then ok "python template (--base py:1): berth run starts it"; else
	not_ok "python template (--base py:1): berth run starts it"; diag <"$TMP/run.log"; fi
expect_eq "  POST / greets" "$(curl -s -X POST -H 'Content-Type: application/json' -d '{"name": "berth"}' \
	"http://127.0.0.1:$PORT/")" '{"greeting":"hello, berth"}'
expect_eq "  the default input" "$(curl -s -X POST "http://127.0.0.1:$PORT/")" '{"greeting":"hello, world"}'
expect_eq "  a wrong type is 422" "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
	-H 'Content-Type: application/json' -d '{"name": 5}' "http://127.0.0.1:$PORT/")" 422
check "  the build ran the python3 check" grep -q "RUN python3 --version" "$TMP/run.log"
stop_app
expect_eq "  Ctrl-C stops it with 0" "$RC" 0

# The server template: index.html through busybox httpd.
if start_app "$W/web"; then ok "server template (--base bb:1): berth run starts it"; else
	not_ok "server template (--base bb:1): berth run starts it"; diag <"$TMP/run.log"; fi
expect_eq "  GET / is the page" "$(curl -s "http://127.0.0.1:$PORT/" | grep -o '<h1>.*</h1>')" "<h1>web</h1>"
expect_eq "  a missing page is 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope.html")" 404
stop_app
expect_eq "  Ctrl-C stops it with 0" "$RC" 0
expect_eq "no runner is left" "$("$B" container ls -a -q | wc -l)" 0

done_testing
