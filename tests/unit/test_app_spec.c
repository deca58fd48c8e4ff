/* Unit tests for app/: berth.yaml through libyaml (core-schema scalars,
 * anchors and their limits, duplicates, one document), every key valid and
 * invalid with the line of the error, defaults, durations, unknown keys with
 * suggestions, the SDK's JSON, the canonical JSON and its round trip, and
 * berth_app_load of a directory, a file, a missing path and a Python app read
 * through a small `berth.spec` package (the SDK's side of the contract). */
#include "app/app.h"
#include "common/common.h"
#include "fixture.h"
#include "tap.h"

#include <limits.h>
#include <sys/stat.h>

static char dir[PATH_MAX]; /* realpath of fixture_dir */
static struct berth_app_spec S;
static struct berth_err *E;
static int R;

static void reset(void)
{
	berth_app_spec_release(&S);
	berth_err_free(E);
	E = NULL;
	R = 0;
}

static int yaml(const char *text)
{
	reset();
	R = berth_app_parse_yaml(text, strlen(text), dir, "test-app", &S, &E);
	return R;
}

static int from_json_text(const char *text)
{
	reset();
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j) {
		printf("Bail out! test JSON does not parse: %s: %s\n", je.text, text);
		exit(1);
	}
	R = berth_app_from_json(j, dir, &S, &E);
	json_decref(j);
	return R;
}

/* Nothing half-filled after an error. */
static bool spec_empty(const struct berth_app_spec *s)
{
	return !s->name && !s->dir && !s->dockerfile && !s->dockerfile_path && !s->image_ref &&
	       !s->context && !s->build_args.n && !s->nbuild_secrets && !s->nregistries &&
	       !s->command.n && !s->port && !s->health.path && !s->machine_type && !s->gpus &&
	       !s->secrets.n && !s->data_mounts.n && !s->env.n && !s->sdk_file && !s->sdk_class &&
	       !s->endpoints.n && !s->scaling.max_runners && !s->startup_timeout_ms;
}

static void diag_err(void)
{
	if (E) {
		printf("#   error line %d (%s)\n", E->line, berth_err_code_name(E->code));
		tap_diag("message", E->msg);
	} else {
		printf("#   no error (r %d)\n", R);
	}
}

static void ok_yaml(const char *text, const char *what)
{
	yaml(text);
	if (!tap_ok(R == 0 && !E, "%s", what))
		diag_err();
}

static void ok_json(const char *text, const char *what)
{
	from_json_text(text);
	if (!tap_ok(R == 0 && !E, "%s", what))
		diag_err();
}

/* The last call failed at `line` with a message holding `needle`, and left
 * nothing in S. */
static void check_err(int line, const char *needle, const char *what)
{
	bool ok = R < 0 && E && E->line == line && strstr(E->msg, needle) && spec_empty(&S);
	if (!tap_ok(ok, "%s", what)) {
		diag_err();
		printf("#   want line %d\n", line);
		tap_diag("want in message", needle);
		if (!spec_empty(&S))
			printf("#   the spec was left half-filled\n");
	}
}

static void err_yaml(const char *text, int line, const char *needle, const char *what)
{
	yaml(text);
	check_err(line, needle, what);
}

static void err_json(const char *text, const char *needle, const char *what)
{
	from_json_text(text);
	check_err(0, needle, what);
}

static const char *strv_at(const struct berth_strv *sv, size_t i)
{
	return i < sv->n ? sv->v[i] : NULL;
}

static char *fx(const char *rel)
{
	return berth_xasprintf("%s/%s", dir, rel);
}

/* ------------------------------------------------------------ defaults */

#define BASE "image:\n  ref: busybox\n" /* two lines: the case under test is line 3 */

static void test_defaults(void)
{
	ok_yaml(BASE, "a minimal berth.yaml loads");
	tap_is_str(S.name, "test-app", "default name: the directory's name, cleaned");
	tap_is_int(S.kind, BERTH_APP_SERVER, "a berth.yaml is a server app");
	tap_is_str(S.dir, dir, "dir is absolute");
	tap_is_str(S.image_ref, "busybox", "image.ref as written");
	tap_ok(!S.dockerfile && !S.dockerfile_path && !S.context,
	       "no dockerfile, no context for a ref");
	tap_is_int(S.command.n, 0, "no command: the image's own ENTRYPOINT/CMD");
	tap_is_int(S.port, 0, "port 0: berth picks one");
	tap_is_str(S.health.path, "/health", "health.path defaults to /health");
	tap_is_str(S.health.method, "GET", "health.method defaults to GET");
	tap_is_int(S.health.start_period_ms, 0, "health.start_period defaults to 0");
	tap_is_int(S.health.timeout_ms, 5000, "health.timeout defaults to 5s");
	tap_is_int(S.health.interval_ms, 15000, "health.interval defaults to 15s");
	tap_is_int(S.health.failure_threshold, 3, "health.failure_threshold defaults to 3");
	tap_is_str(S.machine_type, "S", "machine_type defaults to S");
	tap_is_int(S.gpus, 0, "gpus default to 0 for S");
	tap_is_int(S.scaling.min_runners, 0, "min_runners defaults to 0");
	tap_is_int(S.scaling.max_runners, 1, "max_runners defaults to 1");
	tap_is_int(S.scaling.concurrency_buffer, 0, "concurrency_buffer defaults to 0");
	tap_is_int(S.scaling.max_multiplexing, 1, "max_multiplexing defaults to 1");
	tap_is_int(S.scaling.keep_alive_ms, 60000, "keep_alive defaults to 60s");
	tap_is_int(S.scaling.scaling_delay_ms, 0, "scaling_delay defaults to 0");
	tap_is_int(S.request_timeout_ms, 0, "request_timeout: none by default");
	tap_is_int(S.startup_timeout_ms, 600000, "startup_timeout defaults to 10m");
	tap_is_int(S.termination_grace_ms, 5000, "termination_grace_period defaults to 5s");
	tap_is_int(S.secrets.n, 0, "no secrets by default");
	tap_ok(S.data_mounts.n == 1 && !strcmp(S.data_mounts.v[0], "/data"),
	       "data_mounts defaults to [/data]");
	tap_is_int(S.auth, BERTH_APP_AUTH_PRIVATE, "auth defaults to private");

	ok_yaml("image:\n  dockerfile: FROM busybox\n", "image.dockerfile text");
	tap_is_str(S.context, dir, "context defaults to the spec's directory");
	tap_is_str(S.dockerfile, "FROM busybox", "the Dockerfile text kept");

	reset();
	R = berth_app_parse_yaml(BASE, strlen(BASE), dir, "My Cool_App.v2", &S, &E);
	tap_is_str(S.name, "my-cool-app-v2", "the default name is lower-cased and cleaned");
	reset();
	R = berth_app_parse_yaml(BASE, strlen(BASE), dir, NULL, &S, &E);
	tap_ok(R == 0 && S.name && !strncmp(S.name, "berth-test-app-", 15),
	       "no name given: the last component of dir, cleaned ('%s')", S.name ? S.name : "");
	ok_yaml(BASE "scaling:\n  min_runners: 3\n", "min_runners without max_runners");
	tap_is_int(S.scaling.max_runners, 3, "max_runners defaults to min_runners when larger");
	ok_yaml(BASE "gpus: 2\n", "gpus without machine_type");
	tap_is_str(S.machine_type, "GPU", "machine_type defaults to GPU when gpus > 0");
	ok_yaml(BASE "machine_type: GPU-A100\n", "a GPU machine type");
	tap_is_int(S.gpus, 1, "GPU types default to one GPU");
	ok_yaml(BASE "machine_type: GPU\ngpus: 0\n", "GPU with gpus: 0");
	tap_is_int(S.gpus, 0, "an explicit gpus wins over the type's default");
	tap_ok(!S.memory && S.cpus == 0, "no resources: no limits");
	ok_yaml(BASE "resources:\n  memory: 4Gi\n  cpus: 1.5\n", "resources: memory and cpus");
	tap_ok(S.memory == 4ll << 30 && S.cpus == 1.5, "4Gi is 4 * 2^30 bytes, cpus 1.5");
	ok_yaml(BASE "resources:\n  memory: 536870912\n", "memory in bytes");
	tap_ok(S.memory == 512ll << 20, "... 512 MiB");
	ok_yaml(BASE "resources:\n  memory: 512m\n", "memory as docker writes it");
	tap_ok(S.memory == 512ll << 20, "... 512 MiB too");
	ok_yaml(BASE "scaling:\nrun:\nsecrets:\nrequest_timeout: ~\nauth: null\n",
		"null (empty) values mean 'not set'");
	tap_ok(S.scaling.max_runners == 1 && S.auth == BERTH_APP_AUTH_PRIVATE &&
		   S.request_timeout_ms == 0,
	       "... and the defaults apply");
}

/* ------------------------------------------------------------ every key */

static void test_full_yaml(void)
{
	const char *text = "name: my-app\n"
			   "image:\n"
			   "  dockerfile_path: Dockerfile\n"
			   "  context: ctx\n"
			   "  build_args:\n"
			   "    PYTHON_VERSION: \"3.11\"\n"
			   "    DEBUG: 1\n"
			   "  secrets:\n"
			   "    hf: $HF_TOKEN\n"
			   "  registries:\n"
			   "    registry.example.com:\n"
			   "      username: bob\n"
			   "      password: $REG_PASSWORD\n"
			   "  dockerignore: ['*.md', .git]\n"
			   "run:\n"
			   "  command: [httpd, -f, -p, \"8080\"]\n"
			   "  port: 8080\n"
			   "  env:\n"
			   "    MODE: fast\n"
			   "    RATIO: 0.50\n"
			   "  health:\n"
			   "    path: /ready\n"
			   "    method: post\n"
			   "    start_period: 30s\n"
			   "    timeout: 2.5\n"
			   "    failure_threshold: 5\n"
			   "    interval: 1m\n"
			   "machine_type: [GPU-H100, GPU]\n"
			   "gpus: 2\n"
			   "scaling:\n"
			   "  min_runners: 1\n"
			   "  max_runners: 4\n"
			   "  concurrency_buffer: 2\n"
			   "  max_multiplexing: 8\n"
			   "  keep_alive: 5m\n"
			   "  scaling_delay: 500ms\n"
			   "request_timeout: 1h30m\n"
			   "startup_timeout: 20m\n"
			   "termination_grace_period: 10\n"
			   "secrets: [HF_TOKEN, API_KEY]\n"
			   "data_mounts: [/data/.cache, /data//models/]\n"
			   "auth: public\n";
	ok_yaml(text, "a berth.yaml with every key loads");
	_cleanup_free_ char *df = fx("Dockerfile"), *ctx = fx("ctx");
	tap_is_str(S.name, "my-app", "name");
	tap_is_str(S.dockerfile_path, df, "dockerfile_path resolved against dir");
	tap_is_str(S.dockerfile, "FROM busybox\nCMD [\"true\"]\n", "dockerfile_path read");
	tap_is_str(S.context, ctx, "context resolved against dir");
	tap_ok(S.build_args.n == 2 && !strcmp(S.build_args.v[0], "PYTHON_VERSION=3.11") &&
		   !strcmp(S.build_args.v[1], "DEBUG=1"),
	       "build_args in order, a plain number as its text");
	tap_ok(S.nbuild_secrets == 1 && !strcmp(S.build_secrets[0].id, "hf") &&
		   !strcmp(S.build_secrets[0].value, "$HF_TOKEN"),
	       "image.secrets: id -> value as written");
	tap_ok(S.nregistries == 1 && !strcmp(S.registries[0].host, "registry.example.com") &&
		   !strcmp(S.registries[0].username, "bob") &&
		   !strcmp(S.registries[0].password, "$REG_PASSWORD"),
	       "image.registries");
	tap_ok(S.has_dockerignore && S.dockerignore.n == 2 && !strcmp(S.dockerignore.v[0], "*.md"),
	       "image.dockerignore");
	tap_ok(S.command.n == 4 && !strcmp(S.command.v[0], "httpd") &&
		   !strcmp(S.command.v[3], "8080"),
	       "run.command: a list is argv as is");
	tap_is_int(S.port, 8080, "run.port");
	tap_is_str(strv_at(&S.env, 0), "MODE=fast", "run.env string");
	tap_is_str(strv_at(&S.env, 1), "RATIO=0.50", "run.env: a plain float as written");
	tap_is_str(S.health.path, "/ready", "health.path");
	tap_is_str(S.health.method, "POST", "health.method upper-cased");
	tap_is_int(S.health.start_period_ms, 30000, "health.start_period '30s'");
	tap_is_int(S.health.timeout_ms, 2500, "health.timeout 2.5 seconds");
	tap_is_int(S.health.failure_threshold, 5, "health.failure_threshold");
	tap_is_int(S.health.interval_ms, 60000, "health.interval '1m'");
	tap_is_str(S.machine_type, "GPU-H100", "machine_type: the first of a list");
	tap_is_int(S.gpus, 2, "gpus");
	tap_ok(S.scaling.min_runners == 1 && S.scaling.max_runners == 4 &&
		   S.scaling.concurrency_buffer == 2 && S.scaling.max_multiplexing == 8,
	       "scaling counts");
	tap_is_int(S.scaling.keep_alive_ms, 300000, "scaling.keep_alive '5m'");
	tap_is_int(S.scaling.scaling_delay_ms, 500, "scaling.scaling_delay '500ms'");
	tap_is_int(S.request_timeout_ms, 5400000, "request_timeout '1h30m'");
	tap_is_int(S.startup_timeout_ms, 1200000, "startup_timeout '20m'");
	tap_is_int(S.termination_grace_ms, 10000, "termination_grace_period 10");
	tap_ok(S.secrets.n == 2 && !strcmp(S.secrets.v[1], "API_KEY"), "secrets");
	tap_ok(S.data_mounts.n == 2 && !strcmp(S.data_mounts.v[0], "/data/.cache") &&
		   !strcmp(S.data_mounts.v[1], "/data/models"),
	       "data_mounts tidied ('//' and a trailing '/')");
	tap_is_int(S.auth, BERTH_APP_AUTH_PUBLIC, "auth public");

	ok_yaml(BASE "run:\n  command: httpd -f -p $PORT\n", "run.command as a string");
	tap_ok(S.command.n == 3 && !strcmp(S.command.v[0], "/bin/sh") &&
		   !strcmp(S.command.v[1], "-c") && !strcmp(S.command.v[2], "httpd -f -p $PORT"),
	       "a string is the shell form: /bin/sh -c STRING");
	ok_yaml(BASE "run:\n  command: [sleep, 10, 1.50]\n", "numbers in a command list");
	tap_is_str(strv_at(&S.command, 2), "1.50", "... are taken as written");
	ok_yaml(BASE "auth: shared\n", "auth shared");
	tap_is_int(S.auth, BERTH_APP_AUTH_SHARED, "auth shared is SHARED");
	ok_yaml(BASE "data_mounts: []\n", "data_mounts: [] mounts nothing");
	tap_is_int(S.data_mounts.n, 0, "... and stays empty");
	ok_yaml("image:\n  dockerfile_path: docker/Dockerfile.app\n  context: .\n",
		"dockerfile_path in a subdirectory, context '.'");
	tap_is_str(S.context, dir, "context '.' is dir itself");
	ok_yaml("image:\n  dockerfile: |\n    FROM busybox\n    RUN true\n",
		"a block scalar Dockerfile");
	tap_is_str(S.dockerfile, "FROM busybox\nRUN true\n", "... keeps its lines");
	ok_yaml(BASE "run:\n  health: {method: HEAD, timeout: 250ms, interval: 0.5}\n",
		"flow-style health");
	tap_ok(!strcmp(S.health.method, "HEAD") && S.health.timeout_ms == 250 &&
		   S.health.interval_ms == 500,
	       "... HEAD, 250ms, 0.5 s");
}

/* ------------------------------------------------------------ scalars */

static void test_scalars(void)
{
	ok_yaml("image:\n  dockerfile: FROM x\n  build_args:\n    A: 0x1F\n    B: 007\n    C: "
		"'true'\n    D: 1e3\n    E: -0\n    F: 12345678901234567890123\n",
		"plain numbers where a string is expected");
	tap_is_str(strv_at(&S.build_args, 0), "A=0x1F", "hex kept as written");
	tap_is_str(strv_at(&S.build_args, 1), "B=007", "leading zeros kept");
	tap_is_str(strv_at(&S.build_args, 2), "C=true", "a quoted 'true' is a string");
	tap_is_str(strv_at(&S.build_args, 3), "D=1e3", "a float kept as written");
	tap_is_str(strv_at(&S.build_args, 4), "E=-0", "-0 kept as written");
	tap_is_str(strv_at(&S.build_args, 5), "F=12345678901234567890123",
		   "an integer too big for 64 bits is still text");
	err_yaml(BASE "run:\n  env:\n    DEBUG: true\n", 5, "quote it",
		 "a boolean where a string is expected: quote it");
	err_yaml(BASE "run:\n  env:\n    DEBUG: False\n", 5, "got false", "False is a boolean");
	err_yaml(BASE "run:\n  env:\n    X: ~\n", 5, "run.env.X must be a string, got null",
		 "a null env value");
	err_yaml(BASE "run:\n  env:\n    X: [a]\n", 5, "run.env.X must be a string, got a list",
		 "a list as an env value");
	ok_yaml("name: \"123\"\n" BASE, "a quoted number is a string");
	tap_is_str(S.name, "123", "... name '123'");
	err_yaml("name: 123\n" BASE, 1, "name must be a string, got 123",
		 "a plain number is not a name");
	err_yaml(BASE "gpus: \"1\"\n", 3, "gpus must be an integer from 0 to 16, got '1'",
		 "a quoted number is not an integer");
	err_yaml(BASE "gpus: 1.0\n", 3, "got 1.0", "a float is not an integer");
	ok_yaml(BASE "gpus: 0o3\n", "octal 0o3");
	tap_is_int(S.gpus, 3, "0o3 is 3");
	ok_yaml(BASE "gpus: 0x4\n", "hex 0x4");
	tap_is_int(S.gpus, 4, "0x4 is 4");
	ok_yaml(BASE "gpus: +2\n", "a signed integer");
	tap_is_int(S.gpus, 2, "+2 is 2");
	ok_yaml(BASE "gpus: !!int \"5\"\n", "!!int on a quoted scalar");
	tap_is_int(S.gpus, 5, "!!int \"5\" is 5");
	ok_yaml("name: !!str 42\n" BASE, "!!str on a number");
	tap_is_str(S.name, "42", "!!str 42 is '42'");
	err_yaml(BASE "gpus: !!int abc\n", 3, "'abc' is not a valid !!int", "a bad !!int");
	err_yaml(BASE "gpus: !custom 3\n", 3, "unsupported tag '!custom'", "an unknown tag");
	err_yaml(BASE "scaling:\n  keep_alive: .inf\n", 4, "got '.inf'", ".inf is no duration");
	err_yaml(BASE "scaling:\n  keep_alive: .nan\n", 4, "got '.nan'", ".nan is no duration");
	err_yaml(BASE "auth: \"pub\\0lic\"\n", 3, "NUL character", "a NUL in a string");
	err_yaml(BASE "auth: TRUE\n", 3, "auth must be private, public or shared, got true",
		 "TRUE is a boolean");
	err_yaml(BASE "request_timeout: yes\n", 3, "got 'yes'",
		 "'yes' is a string in YAML 1.2 (no duration)");
}

/* ------------------------------------------------------------ durations */

static void test_durations(void)
{
	static const struct {
		const char *v;
		long long ms;
	} good[] = {
	    {"30", 30000},      {"0.25", 250},    {"\"30s\"", 30000},  {"5m", 300000},
	    {"1h30m", 5400000}, {"500ms", 500},   {"1.5h", 5400000},   {"2h45m10s", 9910000},
	    {"1e1", 10000},     {"'90s'", 90000}, {"1000000us", 1000}, {"24h", 86400000},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(good); i++) {
		_cleanup_free_ char *t = berth_xasprintf(BASE "request_timeout: %s\n", good[i].v);
		yaml(t);
		if (!tap_ok(R == 0 && S.request_timeout_ms == good[i].ms,
			    "request_timeout %s is %lld ms", good[i].v, good[i].ms)) {
			diag_err();
			printf("#   got %lld ms\n", (long long)S.request_timeout_ms);
		}
	}
	static const struct {
		const char *key, *v, *needle;
	} bad[] = {
	    {"request_timeout", "0", "request_timeout must be a duration from 1ms to 24h"},
	    {"request_timeout", "-5s", "got '-5s'"},
	    {"request_timeout", "-1", "got -1"},
	    {"request_timeout", "'30'", "got '30'"},
	    {"request_timeout", "5 m", "got '5 m'"},
	    {"request_timeout", "1d", "got '1d'"},
	    {"request_timeout", "25h", "got '25h'"},
	    {"request_timeout", "[1]", "got a list"},
	    {"request_timeout", "true", "got true"},
	    {"startup_timeout", "0", "startup_timeout must be a duration from 1s to 24h"},
	    {"startup_timeout", "500ms", "got '500ms'"},
	    {"startup_timeout", "86401", "got 86401"},
	    {"termination_grace_period", "2h", "from 0s to 1h"},
	    {"termination_grace_period", "1e400", "got '1e400'"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *t = berth_xasprintf(BASE "%s: %s\n", bad[i].key, bad[i].v);
		_cleanup_free_ char *what =
		    berth_xasprintf("%s: %s is refused", bad[i].key, bad[i].v);
		err_yaml(t, 3, bad[i].needle, what);
	}
	ok_yaml(BASE "startup_timeout: 1s\ntermination_grace_period: 0\n", "the lowest bounds");
	tap_ok(S.startup_timeout_ms == 1000 && S.termination_grace_ms == 0, "... 1s and 0");
	ok_yaml(BASE "scaling:\n  keep_alive: 0\n", "keep_alive 0 (scale down at once)");
	tap_is_int(S.scaling.keep_alive_ms, 0, "... is 0");
}

/* ------------------------------------------------------------ invalid values */

static void test_invalid(void)
{
	static const struct {
		const char *text;
		int line;
		const char *needle;
	} cases[] = {
	    /* name */
	    {"name: My_App\n" BASE, 1, "name must be 1 to 63 characters of a-z, 0-9 and '-'"},
	    {"name: -app\n" BASE, 1, "got '-app'"},
	    {"name: ''\n" BASE, 1, "got ''"},
	    {"name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n" BASE, 1,
	     "name must be"},
	    {"name: [a]\n" BASE, 1, "name must be a string, got a list"},
	    /* image */
	    {"name: x\n", 1, "image is required"},
	    {"image: busybox\n", 1, "image must be a mapping, got 'busybox'"},
	    {"image:\n  context: .\n", 1, "image needs one of image.dockerfile"},
	    {"image:\n  ref: busybox\n  dockerfile: FROM x\n", 3,
	     "got both 'dockerfile' and 'ref'"},
	    {"image:\n  dockerfile: FROM x\n  dockerfile_path: Dockerfile\n", 3,
	     "got both 'dockerfile' and 'dockerfile_path'"},
	    {"image:\n  dockerfile: \"  \\n \"\n", 2, "image.dockerfile is empty"},
	    {"image:\n  dockerfile: 12\n", 2, "image.dockerfile must be the text of a Dockerfile"},
	    {"image:\n  dockerfile_path: nope/Dockerfile\n", 2,
	     "image.dockerfile_path 'nope/Dockerfile': No such file or directory (relative "
	     "paths start at"},
	    {"image:\n  dockerfile_path: ctx\n", 2, "is not a regular file"},
	    {"image:\n  dockerfile_path: ''\n", 2, "image.dockerfile_path must be a file path"},
	    {"image:\n  dockerfile: FROM x\n  context: nope\n", 3,
	     "image.context 'nope': No such file or directory"},
	    {"image:\n  dockerfile: FROM x\n  context: Dockerfile\n", 3,
	     "image.context 'Dockerfile' is not a directory"},
	    {"image:\n  ref: 'Not A Ref'\n", 2, "image.ref:"},
	    {"image:\n  ref: busybox\n  context: .\n", 3,
	     "image.context is for builds (image.dockerfile or image.dockerfile_path); "
	     "image.ref is not built"},
	    {"image:\n  ref: busybox\n  build_args: {A: b}\n", 3, "image.build_args is for builds"},
	    {"image:\n  ref: busybox\n  secrets: {a: b}\n", 3, "image.secrets is for builds"},
	    {"image:\n  ref: busybox\n  dockerignore: [a]\n", 3,
	     "image.dockerignore is for builds"},
	    {"image:\n  dockerfile: FROM x\n  build_args: [A=1]\n", 3,
	     "image.build_args must be a mapping of argument names to values, got a list"},
	    {"image:\n  dockerfile: FROM x\n  build_args:\n    'A=B': c\n", 4,
	     "'A=B' is not a build argument name"},
	    {"image:\n  dockerfile: FROM x\n  build_args:\n    A: {b: c}\n", 4,
	     "image.build_args.A must be a string, got a mapping"},
	    {"image:\n  dockerfile: FROM x\n  secrets:\n    'bad id': $X\n", 4,
	     "'bad id' is not a secret id"},
	    {"image:\n  dockerfile: FROM x\n  secrets:\n    tok: ''\n", 4,
	     "image.secrets.tok must be a string"},
	    {"image:\n  dockerfile: FROM x\n  dockerignore: '*.md'\n", 3,
	     "image.dockerignore must be a list of .dockerignore patterns"},
	    {BASE "  registries:\n    ghcr.io:\n      username: u\n", 4,
	     "image.registries['ghcr.io'].password is required"},
	    {BASE "  registries:\n    ghcr.io: {password: p}\n", 4,
	     "image.registries['ghcr.io'].username is required"},
	    {BASE "  registries:\n    ghcr.io: token\n", 4,
	     "image.registries['ghcr.io'] must be a mapping with username and password"},
	    {BASE "  registries: [ghcr.io]\n", 3, "image.registries must be a mapping"},
	    {BASE "  registries:\n    ghcr.io:\n      user: u\n      password: p\n", 5,
	     "unknown key 'user' in image.registries['ghcr.io'] (did you mean 'username'?)"},
	    /* run */
	    {BASE "run: httpd\n", 3, "run must be a mapping, got 'httpd'"},
	    {BASE "run:\n  command: []\n", 4, "run.command is empty: leave it out"},
	    {BASE "run:\n  command: ' '\n", 4, "run.command is empty"},
	    {BASE "run:\n  command: {a: b}\n", 4, "run.command must be a list of words"},
	    {BASE "run:\n  command:\n    - httpd\n    - [x]\n", 6,
	     "run.command[1] must be a string, got a list"},
	    {BASE "run:\n  command: ['', x]\n", 4, "run.command[0] (the program) is empty"},
	    {BASE "run:\n  port: 0\n", 4, "run.port must be an integer from 1 to 65535, got 0"},
	    {BASE "run:\n  port: 65536\n", 4, "got 65536"},
	    {BASE "run:\n  port: '80'\n", 4, "got '80'"},
	    {BASE "run:\n  env: [A=1]\n", 4, "run.env must be a mapping of variable names"},
	    {BASE "run:\n  env:\n    1X: a\n", 5, "'1X' is not a variable name"},
	    {BASE "run:\n  env:\n    A-B: a\n", 5, "'A-B' is not a variable name"},
	    {BASE "run:\n  env:\n    PORT: '80'\n", 5, "'PORT' is set by berth"},
	    {BASE "run:\n  env:\n    BERTH_APP: x\n", 5, "'BERTH_APP' is set by berth"},
	    {BASE "run:\n  health:\n    path: health\n", 5,
	     "run.health.path must be a path such as '/health', got 'health'"},
	    {BASE "run:\n  health:\n    path: /a b\n", 5, "got '/a b'"},
	    {BASE "run:\n  health:\n    method: PUT\n", 5,
	     "run.health.method must be GET, HEAD or POST, got 'PUT'"},
	    {BASE "run:\n  health:\n    timeout: 0\n", 5,
	     "run.health.timeout must be a duration from 1ms to 1h"},
	    {BASE "run:\n  health:\n    interval: 10ms\n", 5,
	     "run.health.interval must be a duration from 100ms to 24h"},
	    {BASE "run:\n  health:\n    start_period: -1s\n", 5, "run.health.start_period must be"},
	    {BASE "run:\n  health:\n    failure_threshold: 0\n", 5,
	     "run.health.failure_threshold must be an integer from 1 to 100, got 0"},
	    {BASE "run:\n  health: /health\n", 4, "run.health must be a mapping"},
	    /* machine */
	    {BASE "machine_type: XXL\n", 3, "machine_type 'XXL' is not a machine type"},
	    {BASE "machine_type: gpu-h100\n", 3, "(did you mean 'GPU-H100'?)"},
	    {BASE "machine_type: []\n", 3, "machine_type is an empty list"},
	    {BASE "machine_type:\n  - GPU\n  - TPU\n", 5,
	     "machine_type[1] 'TPU' is not a machine type"},
	    {BASE "machine_type: 4\n", 3, "machine_type must be a machine type"},
	    {BASE "gpus: 17\n", 3, "gpus must be an integer from 0 to 16, got 17"},
	    {BASE "gpus: -1\n", 3, "got -1"},
	    /* scaling */
	    {BASE "scaling:\n  max_runners: 0\n", 4,
	     "scaling.max_runners must be an integer from 1 to 1000, got 0"},
	    {BASE "scaling:\n  min_runners: -1\n", 4, "scaling.min_runners must be an integer"},
	    {BASE "scaling:\n  min_runners: 3\n  max_runners: 2\n", 4,
	     "scaling.min_runners (3) must not be more than scaling.max_runners (2)"},
	    {BASE "scaling:\n  max_multiplexing: 0\n", 4, "scaling.max_multiplexing must be"},
	    {BASE "scaling:\n  concurrency_buffer: -2\n", 4, "scaling.concurrency_buffer must be"},
	    {BASE "scaling:\n  max_runners: 1001\n", 4, "got 1001"},
	    {BASE "scaling:\n  keep_alive: -1\n", 4, "scaling.keep_alive must be a duration"},
	    {BASE "scaling:\n  scaling_delay: 2h\n", 4, "scaling.scaling_delay must be"},
	    {BASE "scaling: 3\n", 3, "scaling must be a mapping, got 3"},
	    /* resources */
	    {BASE "resources:\n  memory: 4 gigs\n", 4,
	     "resources.memory must be a size from 6Mi to 1Pi"},
	    {BASE "resources:\n  memory: 1m\n", 4, "resources.memory must be a size"},
	    {BASE "resources:\n  memory: -5\n", 4, "resources.memory must be a size"},
	    {BASE "resources:\n  cpus: 0\n", 4,
	     "resources.cpus must be a number of CPUs from 0.01 to 4096"},
	    {BASE "resources:\n  cpus: two\n", 4, "resources.cpus must be a number"},
	    {BASE "resources:\n  disk: 1Gi\n", 4, "resources"},
	    {BASE "memory: 4Gi\n", 3, "resources.memory"},
	    /* secrets, data_mounts, auth */
	    {BASE "secrets: HF_TOKEN\n", 3, "secrets must be a list of secret names"},
	    {BASE "secrets: [HF-TOKEN]\n", 3, "secrets[0] must be a secret name"},
	    {BASE "secrets:\n  - A\n  - A\n", 5, "secrets lists 'A' twice"},
	    {BASE "secrets: [PORT]\n", 3, "'PORT' is set by berth"},
	    {BASE "secrets: [1]\n", 3, "secrets[0] must be a secret name, got 1"},
	    {BASE "data_mounts: /data\n", 3, "data_mounts must be a list"},
	    {BASE "data_mounts: [/datax]\n", 3, "data_mounts[0] must be /data or a path under it"},
	    {BASE "data_mounts: [/data/../etc]\n", 3, "without '.' or '..'"},
	    {BASE "data_mounts: [/data/./x]\n", 3, "without '.' or '..'"},
	    {BASE "data_mounts: [data]\n", 3, "data_mounts[0] must be an absolute path"},
	    {BASE "data_mounts: [/]\n", 3, "data_mounts[0] must be /data"},
	    {BASE "data_mounts: [/data, /data/]\n", 3, "data_mounts lists '/data' twice"},
	    {BASE "auth: Public\n", 3, "auth must be private, public or shared, got 'Public'"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *what =
		    berth_xasprintf("invalid: line %d: %s", cases[i].line, cases[i].needle);
		err_yaml(cases[i].text, cases[i].line, cases[i].needle, what);
	}
	err_yaml(BASE "scaling:\n  max_runners: 0\n", 4, "", "the brief's example message");
	tap_is_str(E ? E->msg : NULL,
		   "scaling.max_runners must be an integer from 1 to 1000, got 0",
		   "... word for word");
}

/* ------------------------------------------------------------ unknown keys */

static void test_unknown_keys(void)
{
	static const struct {
		const char *text;
		int line;
		const char *msg;
	} cases[] = {
	    {BASE "scaling:\n  keepalive: 30\n", 4,
	     "unknown key 'keepalive' in scaling (did you mean 'keep_alive'?)"},
	    {BASE "scaling:\n  Keep-Alive: 30\n", 4,
	     "unknown key 'Keep-Alive' in scaling (did you mean 'keep_alive'?)"},
	    {BASE "keep_alive: 30\n", 3,
	     "unknown key 'keep_alive' (did you mean 'scaling.keep_alive'?)"},
	    {BASE "max_concurrency: 2\n", 3,
	     "unknown key 'max_concurrency' (did you mean 'scaling.max_runners'?)"},
	    {BASE "scaling:\n  min_concurrency: 1\n", 4,
	     "unknown key 'min_concurrency' in scaling (did you mean 'min_runners'?)"},
	    {"imag:\n  ref: x\n", 1, "unknown key 'imag' (did you mean 'image'?)"},
	    {BASE "run:\n  health:\n    methd: GET\n", 5,
	     "unknown key 'methd' in run.health (did you mean 'method'?)"},
	    {BASE "run:\n  cmd: [a]\n", 4, "unknown key 'cmd' in run (did you mean 'command'?)"},
	    {BASE "env:\n  A: b\n", 3, "unknown key 'env' (did you mean 'run.env'?)"},
	    {BASE "run:\n  secrets: [A]\n", 4,
	     "unknown key 'secrets' in run (did you mean 'secrets' at the top level?)"},
	    {BASE "num_gpus: 1\n", 3, "unknown key 'num_gpus' (did you mean 'gpus'?)"},
	    {BASE "zzz: 1\n", 3, "unknown key 'zzz' (known keys: name, image, run,"},
	    {BASE "1: x\n", 3, "unknown key '1'"},
	    {"image:\n  ref: busybox\n  dockerfile_str: x\n", 3,
	     "unknown key 'dockerfile_str' in image (did you mean 'dockerfile'?)"},
	    {"sdk:\n  file: app.py\n" BASE, 1,
	     "unknown key 'sdk': a berth.yaml describes a server app; an SDK app is read from "
	     "its Python class"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		yaml(cases[i].text);
		bool ok = R < 0 && E && E->line == cases[i].line &&
			  !strncmp(E->msg, cases[i].msg, strlen(cases[i].msg)) && spec_empty(&S);
		if (!tap_ok(ok, "unknown key: %s", cases[i].msg)) {
			diag_err();
			printf("#   want line %d\n", cases[i].line);
			tap_diag("want", cases[i].msg);
		}
	}
}

/* ------------------------------------------------------------ YAML structure */

static void test_structure(void)
{
	err_yaml("name: a\n" BASE "name: b\n", 4, "duplicate key 'name' (first on line 1)",
		 "a duplicate top-level key");
	err_yaml(BASE "scaling:\n  min_runners: 1\n  max_runners: 2\n  min_runners: 1\n", 6,
		 "duplicate key 'min_runners' (first on line 4)", "a duplicate nested key");
	err_yaml(BASE "run: {env: {A: '1', A: '2'}}\n", 3, "duplicate key 'A'",
		 "a duplicate key in a flow mapping");
	err_yaml("", 1, "the document is empty", "an empty file");
	err_yaml("# just a comment\n\n", 1, "the document is empty", "comments only");
	err_yaml("---\n", 1, "the document is empty", "an empty document");
	err_yaml("- a\n- b\n", 1, "the top level must be a mapping", "a list at the top");
	err_yaml("hello\n", 1, "got a string", "a scalar at the top");
	err_yaml(BASE "---\nname: x\n", 3, "a berth.yaml holds one document", "a second document");
	err_yaml("image: [a, b\n", 2, "yaml: ", "a flow sequence left open");
	err_yaml(BASE "run:\n\tcommand: x\n", 4, "yaml: ", "a tab as indentation");
	err_yaml("image:\n  ref: busybox\n bad: 1\n", 3, "yaml: ", "a bad indentation");
	err_yaml("name: \"\xff\xfe\"\n" BASE, 1, "UTF-8", "invalid UTF-8");
	err_yaml(BASE "? [a]\n: b\n", 3, "a key must be a plain string, not a list",
		 "a list as a key");
	err_yaml(BASE "? {a: b}\n: c\n", 3, "not a mapping", "a mapping as a key");
	err_yaml("x: &k name\n*k : y\n", 2, "an alias cannot be a key", "an alias as a key");
	err_yaml(BASE "run:\n  env:\n    <<: {A: b}\n", 5, "merge keys ('<<') are not supported",
		 "a merge key");

	/* anchors and aliases */
	ok_yaml("image:\n  dockerfile: FROM x\n  build_args: &vars\n    A: '1'\n    B: 2.50\n"
		"run:\n  env: *vars\n",
		"an alias for a mapping");
	tap_ok(S.env.n == 2 && !strcmp(S.env.v[0], "A=1") && !strcmp(S.env.v[1], "B=2.50"),
	       "... the alias has the anchored values, numbers as written");
	ok_yaml("name: &n same\nimage:\n  ref: busybox\nrun:\n  env:\n    NAME: *n\n",
		"an alias for a scalar");
	tap_is_str(strv_at(&S.env, 0), "NAME=same", "... the value");
	ok_yaml("image:\n  dockerfile: FROM x\n  build_args:\n    V: &v 1.10\nrun:\n  env:\n    V: "
		"*v\n",
		"an alias for a number");
	tap_is_str(strv_at(&S.env, 0), "V=1.10", "... keeps the text as written");
	err_yaml(BASE "run:\n  env: *nope\n", 4, "alias '*nope' names no anchor",
		 "an unknown alias");
	err_yaml(BASE "run: &r\n  env: *r\n", 4, "alias '*r' names no anchor",
		 "an alias inside its own anchor");
	err_yaml("image:\n  dockerfile: FROM x\n  build_args: &a\n    A-B: x\nrun:\n  env: *a\n", 4,
		 "run.env: 'A-B' is not a variable name",
		 "an error in aliased values names the anchored line");
	ok_yaml("image:\n  dockerfile: FROM x\n  build_args:\n    A: &v one\n    B: &v two\n"
		"run:\n  env:\n    C: *v\n",
		"an anchor defined again");
	tap_is_str(strv_at(&S.env, 0), "C=two", "... the alias takes the latest");

	/* expansion limits */
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++)
		berth_buf_addf(&b,
			       "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
			       "*a%d]\n",
			       i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
			       i - 1);
	yaml(b.data);
	tap_ok(R == -BERTH_E_LIMIT && E && strstr(E->msg, "more than 20000 values") && E->line > 0,
	       "a billion laughs is refused (the limit, with a line)");
	if (E)
		tap_diag("message", E->msg);
	berth_buf_reset(&b);
	berth_buf_addstr(&b, "image:\n  ref: busybox\nrun:\n  env:\n    A: ");
	for (int i = 0; i < 40; i++)
		berth_buf_addch(&b, '[');
	for (int i = 0; i < 40; i++)
		berth_buf_addch(&b, ']');
	berth_buf_addch(&b, '\n');
	yaml(b.data);
	tap_ok(R == -BERTH_E_LIMIT && E && strstr(E->msg, "deeper than 32 levels") && E->line == 5,
	       "deep nesting is refused at its line");
	berth_buf_reset(&b);
	berth_buf_addstr(&b, "d: &d [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
			     "e: [[[[[[[[*d]]]]]]]]\n");
	yaml(b.data);
	tap_ok(R == -BERTH_E_LIMIT && E && strstr(E->msg, "deeper than 32 levels") && E->line == 2,
	       "an alias that nests too deep is refused");
	berth_buf_reset(&b);
	berth_buf_addstr(&b, BASE "run:\n  env:\n");
	for (int i = 0; b.len <= BERTH_APP_SPEC_MAX; i++)
		berth_buf_addf(&b, "    VAR_%d: value\n", i);
	yaml(b.data);
	tap_ok(R == -BERTH_E_LIMIT && E && strstr(E->msg, "larger than the limit"),
	       "a document over BERTH_APP_SPEC_MAX is refused");
	berth_buf_reset(&b);
	berth_buf_addstr(&b, BASE "run:\n  env:\n");
	for (int i = 0; i < 3000; i++)
		berth_buf_addf(&b, "    VAR_%d: %d\n", i, i);
	yaml(b.data);
	tap_ok(R == 0 && S.env.n == 3000 && !strcmp(S.env.v[2999], "VAR_2999=2999"),
	       "3000 env values load");
	berth_buf_release(&b);
}

/* ------------------------------------------------------------ SDK JSON */

static void test_sdk_json(void)
{
	_cleanup_free_ char *app = fx("app.py"), *ctx = fx("ctx"), *df = fx("Dockerfile");
	_cleanup_free_ char *text = berth_xasprintf(
	    "{\"name\": \"my-app\",\n"
	    " \"sdk\": {\"file\": \"%s\", \"class\": \"MyApp\", \"endpoints\": [\"/stream\", "
	    "\"/\"], "
	    "\"stream_endpoints\": [\"/stream\"]},\n"
	    " \"image\": {\"dockerfile\": \"FROM python:3.11-slim\", \"context\": \"%s\", "
	    "\"build_args\": {\"K\": \"V\"}, \"secrets\": {\"id\": \"$NAME\"},\n"
	    "           \"registries\": {\"host\": {\"username\": \"u\", \"password\": \"$P\"}}},\n"
	    " \"machine_type\": [\"GPU-H100\", \"GPU\"], \"gpus\": 1,\n"
	    " \"scaling\": {\"min_runners\": 0, \"max_runners\": 2, \"concurrency_buffer\": 0, "
	    "\"max_multiplexing\": 1, \"keep_alive\": 60, \"scaling_delay\": 0},\n"
	    " \"request_timeout\": 30, \"startup_timeout\": 600, \"termination_grace_period\": 5,\n"
	    " \"secrets\": [\"HF_TOKEN\"], \"data_mounts\": [\"/data\"], \"auth\": \"private\",\n"
	    " \"run\": {\"health\": {\"path\": \"/health\", \"method\": \"GET\", \"start_period\": "
	    "30, "
	    "\"timeout\": 5, \"failure_threshold\": 3, \"interval\": 15}}}",
	    app, ctx);
	ok_json(text, "the SDK's JSON loads");
	tap_is_int(S.kind, BERTH_APP_SDK, "an SDK app");
	tap_is_str(S.sdk_file, app, "sdk.file");
	tap_is_str(S.sdk_class, "MyApp", "sdk.class");
	tap_ok(S.endpoints.n == 2 && !strcmp(S.endpoints.v[0], "/") &&
		   !strcmp(S.endpoints.v[1], "/stream"),
	       "endpoints sorted");
	tap_ok(S.stream_endpoints.n == 1 && !strcmp(S.stream_endpoints.v[0], "/stream"),
	       "stream_endpoints");
	tap_is_str(S.context, ctx, "image.context");
	tap_is_str(S.machine_type, "GPU-H100", "machine_type list: the first");
	tap_is_int(S.request_timeout_ms, 30000, "request_timeout 30");
	tap_is_int(S.health.start_period_ms, 30000, "health.start_period 30");
	tap_is_int(S.command.n, 0, "an SDK app has no command");
	tap_ok(S.nregistries == 1 && !strcmp(S.registries[0].password, "$P"), "registries");

	_cleanup_free_ char *minimal = berth_xasprintf(
	    "{\"sdk\": {\"file\": \"%s\", \"class\": \"MyGoodApp\", \"endpoints\": [\"/\"]}, "
	    "\"image\": {\"dockerfile_path\": \"%s\"}}",
	    app, df);
	ok_json(minimal, "SDK JSON with only what the class sets");
	tap_is_str(S.name, "my-good-app", "the name from the class, kebab-case");
	tap_is_str(S.context, dir, "context defaults to dir");
	tap_is_int(S.stream_endpoints.n, 0, "no stream endpoints");

#define SDK_JSON(sdk, rest)                                                              \
	berth_xasprintf(                                                                 \
	    "{\"sdk\": {\"file\": \"%s\", \"class\": \"A\", \"endpoints\": [\"/\"]%s}, " \
	    "\"image\": {\"ref\": \"busybox\"}%s}",                                      \
	    app, sdk, rest)
	static const struct {
		const char *sdk, *rest, *needle;
	} bad[] = {
	    {"", ", \"scaling\": {\"max_runners\": 0}",
	     "scaling.max_runners must be an integer from 1 to 1000, got 0"},
	    {"", ", \"run\": {\"command\": [\"x\"]}", "run.command is for server apps"},
	    {"", ", \"run\": {\"port\": 80}", "run.port is for server apps"},
	    {", \"stream_endpoints\": [\"/s\"]", "", "sdk.stream_endpoints: '/s' is not in"},
	    {", \"extra\": 1", "", "unknown key 'extra' in sdk"},
	    {"", ", \"keepalive\": 5",
	     "unknown key 'keepalive' (did you mean 'scaling.keep_alive'?)"},
	    {"", ", \"request_timeout\": -1", "request_timeout must be a duration"},
	    {"", ", \"machine_type\": \"GPU-X\"", "machine_type 'GPU-X' is not a machine type"},
	    {"", ", \"auth\": \"open\"", "auth must be private, public or shared, got 'open'"},
	    {"", ", \"data_mounts\": [\"/etc\"]", "data_mounts[0] must be /data"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *t = SDK_JSON(bad[i].sdk, bad[i].rest);
		_cleanup_free_ char *what =
		    berth_xasprintf("SDK JSON: %s (no line)", bad[i].needle);
		err_json(t, bad[i].needle, what);
	}
	_cleanup_free_ char *t1 = berth_xasprintf(
	    "{\"sdk\": {\"file\": \"%s/nope.py\", \"class\": \"A\", \"endpoints\": [\"/\"]}, "
	    "\"image\": {\"ref\": \"busybox\"}}",
	    dir);
	err_json(t1, "sdk.file '", "sdk.file that does not exist");
	_cleanup_free_ char *t2 = berth_xasprintf(
	    "{\"sdk\": {\"file\": \"%s\", \"class\": \"1A\", \"endpoints\": [\"/\"]}, "
	    "\"image\": {\"ref\": \"busybox\"}}",
	    app);
	err_json(t2, "sdk.class must be a Python class name, got '1A'", "a bad class name");
	_cleanup_free_ char *t3 =
	    berth_xasprintf("{\"sdk\": {\"file\": \"%s\", \"class\": \"A\", \"endpoints\": []}, "
			    "\"image\": {\"ref\": \"busybox\"}}",
			    app);
	err_json(t3, "sdk.endpoints must list at least one path", "no endpoints");
	_cleanup_free_ char *t4 = berth_xasprintf(
	    "{\"sdk\": {\"file\": \"%s\", \"class\": \"A\", \"endpoints\": [\"x\"]}, "
	    "\"image\": {\"ref\": \"busybox\"}}",
	    app);
	err_json(t4, "sdk.endpoints[0] must be a path", "an endpoint without '/'");
	_cleanup_free_ char *t5 = berth_xasprintf(
	    "{\"sdk\": {\"file\": \"%s\", \"class\": \"A\", \"endpoints\": [\"/\", \"/\"]}, "
	    "\"image\": {\"ref\": \"busybox\"}}",
	    app);
	err_json(t5, "'/' is listed twice", "an endpoint twice");
	_cleanup_free_ char *t6 =
	    berth_xstrdup("{\"sdk\": {\"class\": \"A\"}, \"image\": {\"ref\": \"busybox\"}}");
	err_json(t6, "sdk.file is required", "sdk without file");
	_cleanup_free_ char *t7 = berth_xasprintf(
	    "{\"sdk\": {\"file\": \"%s\", \"class\": \"A\", \"endpoints\": [\"/\"]}}", app);
	err_json(t7, "image is required: give the class an image (image = ContainerImage.",
		 "an SDK app without an image: how to give the class one");
	err_json("[1, 2]", "an app spec must be a mapping", "JSON that is not an object");
	ok_json("{\"image\": {\"ref\": \"busybox\"}, \"run\": {\"env\": {\"N\": 1.5, \"M\": 7}}}",
		"JSON numbers where strings are expected");
	tap_ok(S.env.n == 2 && !strcmp(S.env.v[0], "N=1.5") && !strcmp(S.env.v[1], "M=7"),
	       "... are their shortest text");
	ok_json("{\"image\": {\"ref\": \"busybox\"}, \"scaling\": {\"keep_alive\": 0.001}}",
		"a JSON float duration");
	tap_is_int(S.scaling.keep_alive_ms, 1, "0.001 s is 1 ms");
}

/* ------------------------------------------------------------ to_json, round trip */

static bool strv_eq(const struct berth_strv *a, const struct berth_strv *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]))
			return false;
	return true;
}

static bool str_eq(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

/* Field by field: the struct, not its JSON. */
static bool spec_eq(const struct berth_app_spec *a, const struct berth_app_spec *b)
{
	bool ok =
	    str_eq(a->name, b->name) && a->kind == b->kind && str_eq(a->dir, b->dir) &&
	    str_eq(a->dockerfile, b->dockerfile) &&
	    str_eq(a->dockerfile_path, b->dockerfile_path) && str_eq(a->image_ref, b->image_ref) &&
	    str_eq(a->context, b->context) && strv_eq(&a->build_args, &b->build_args) &&
	    a->nbuild_secrets == b->nbuild_secrets && a->nregistries == b->nregistries &&
	    strv_eq(&a->dockerignore, &b->dockerignore) &&
	    a->has_dockerignore == b->has_dockerignore && strv_eq(&a->command, &b->command) &&
	    a->port == b->port && str_eq(a->health.path, b->health.path) &&
	    str_eq(a->health.method, b->health.method) &&
	    a->health.start_period_ms == b->health.start_period_ms &&
	    a->health.timeout_ms == b->health.timeout_ms &&
	    a->health.interval_ms == b->health.interval_ms &&
	    a->health.failure_threshold == b->health.failure_threshold &&
	    str_eq(a->machine_type, b->machine_type) && a->gpus == b->gpus &&
	    !memcmp(&a->scaling, &b->scaling, sizeof(a->scaling)) &&
	    a->request_timeout_ms == b->request_timeout_ms &&
	    a->startup_timeout_ms == b->startup_timeout_ms &&
	    a->termination_grace_ms == b->termination_grace_ms &&
	    strv_eq(&a->secrets, &b->secrets) && strv_eq(&a->data_mounts, &b->data_mounts) &&
	    a->auth == b->auth && strv_eq(&a->env, &b->env) && str_eq(a->sdk_file, b->sdk_file) &&
	    str_eq(a->sdk_class, b->sdk_class) && strv_eq(&a->endpoints, &b->endpoints) &&
	    strv_eq(&a->stream_endpoints, &b->stream_endpoints);
	for (size_t i = 0; ok && i < a->nbuild_secrets; i++)
		ok = !strcmp(a->build_secrets[i].id, b->build_secrets[i].id) &&
		     !strcmp(a->build_secrets[i].value, b->build_secrets[i].value);
	for (size_t i = 0; ok && i < a->nregistries; i++)
		ok = !strcmp(a->registries[i].host, b->registries[i].host) &&
		     !strcmp(a->registries[i].username, b->registries[i].username) &&
		     !strcmp(a->registries[i].password, b->registries[i].password);
	return ok;
}

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
}

/* S (just loaded) -> JSON -> spec again: equal, and the JSON is stable. */
static void round_trip(const char *what)
{
	json_t *j = berth_app_to_json(&S);
	struct berth_app_spec back;
	struct berth_err *e = NULL;
	int r = berth_app_from_json(j, S.dir, &back, &e);
	bool ok = r == 0 && spec_eq(&S, &back);
	_cleanup_free_ char *d1 = dump(j);
	json_t *j2 = r == 0 ? berth_app_to_json(&back) : NULL;
	_cleanup_free_ char *d2 = j2 ? dump(j2) : NULL;
	if (!tap_ok(ok && d2 && !strcmp(d1, d2), "round trip: %s", what)) {
		tap_diag("error", e ? e->msg : NULL);
		tap_diag("json", d1);
		tap_diag("again", d2);
	}
	berth_err_free(e);
	if (r == 0)
		berth_app_spec_release(&back);
	json_decref(j);
	json_decref(j2);
}

static void test_to_json(void)
{
	ok_yaml(BASE, "minimal spec for to_json");
	json_t *j = berth_app_to_json(&S);
	json_t *sc = json_object_get(j, "scaling"), *run = json_object_get(j, "run");
	tap_ok(json_is_integer(json_object_get(sc, "keep_alive")) &&
		   json_integer_value(json_object_get(sc, "keep_alive")) == 60,
	       "durations as whole seconds: keep_alive 60");
	tap_ok(json_is_null(json_object_get(j, "request_timeout")), "request_timeout none: null");
	tap_ok(json_is_null(json_object_get(run, "command")), "no command: null");
	tap_ok(json_is_null(json_object_get(run, "port")), "berth picks the port: null");
	tap_ok(!json_object_get(j, "sdk"), "no sdk key for a server app");
	tap_is_str(json_string_value(json_object_get(json_object_get(j, "image"), "ref")),
		   "busybox", "image.ref");
	tap_ok(!json_object_get(json_object_get(j, "image"), "context"),
	       "no context for a ref image");
	tap_is_str(json_string_value(json_object_get(j, "auth")), "private", "auth");
	tap_is_int(json_integer_value(json_object_get(j, "gpus")), 0, "gpus");
	tap_is_str(json_string_value(json_object_get(j, "machine_type")), "S", "machine_type");
	tap_is_int(json_array_size(json_object_get(j, "data_mounts")), 1, "data_mounts");
	tap_is_int(json_integer_value(
		       json_object_get(json_object_get(run, "health"), "failure_threshold")),
		   3, "health.failure_threshold");
	json_decref(j);
	round_trip("minimal");

	ok_yaml(BASE "scaling:\n  keep_alive: 1.5\nrun:\n  health:\n    timeout: 250ms\n",
		"fractional durations");
	j = berth_app_to_json(&S);
	tap_ok(json_is_real(json_object_get(json_object_get(j, "scaling"), "keep_alive")) &&
		   json_real_value(json_object_get(json_object_get(j, "scaling"), "keep_alive")) ==
		       1.5,
	       "keep_alive 1.5 as a number of seconds");
	json_decref(j);
	round_trip("fractional durations");

	const char *full =
	    "name: my-app\nimage:\n  dockerfile_path: Dockerfile\n  context: ctx\n"
	    "  build_args: {A: '1', B: two}\n  secrets: {s1: $X, s2: text}\n"
	    "  registries: {r1.io: {username: u, password: $P}, r2.io: {username: v, "
	    "password: w}}\n  dockerignore: []\n"
	    "run:\n  command: exec httpd -f -p $PORT\n  port: 9000\n  env: {Z: '1', A: '2'}\n"
	    "  health: {path: /ok, method: HEAD, start_period: 1m, timeout: 1, interval: 2, "
	    "failure_threshold: 9}\n"
	    "machine_type: GPU-B200\ngpus: 8\nscaling: {min_runners: 2, max_runners: 5, "
	    "concurrency_buffer: 1, max_multiplexing: 4, keep_alive: 1h, scaling_delay: 3}\n"
	    "request_timeout: 0.5\nstartup_timeout: 2h\ntermination_grace_period: 30s\n"
	    "secrets: [B, A]\ndata_mounts: [/data/x, /data]\nauth: shared\n";
	ok_yaml(full, "every key for the round trip");
	round_trip("every key");
	tap_ok(S.has_dockerignore && S.dockerignore.n == 0, "dockerignore: [] is kept as given");

	ok_yaml(BASE "run:\n  command: [a, b]\n", "exec-form command");
	round_trip("exec-form command");
	ok_yaml("image:\n  dockerfile: \"FROM x\\n\"\n", "dockerfile text");
	round_trip("dockerfile text");

	_cleanup_free_ char *app = fx("app.py");
	_cleanup_free_ char *sdk = berth_xasprintf(
	    "{\"sdk\": {\"file\": \"%s\", \"class\": \"A\", \"endpoints\": [\"/b\", \"/a\"], "
	    "\"stream_endpoints\": [\"/b\"]}, \"image\": {\"ref\": \"busybox\", \"registries\": "
	    "{\"h\": {\"username\": \"u\", \"password\": \"p\"}}}, \"run\": {\"env\": {\"X\": "
	    "\"1\"}}}",
	    app);
	ok_json(sdk, "an SDK spec for the round trip");
	round_trip("SDK app");
	j = berth_app_to_json(&S);
	json_t *sj = json_object_get(j, "sdk");
	tap_ok(sj && json_array_size(json_object_get(sj, "endpoints")) == 2 &&
		   !json_object_get(json_object_get(j, "run"), "command"),
	       "an SDK app's JSON: sdk, no run.command");
	json_decref(j);
}

/* ------------------------------------------------------------ names */

static void test_clean_names(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"MyGoodApp", "my-good-app"},
	    {"HTTPServer", "http-server"},
	    {"my_app", "my-app"},
	    {"  --Hello  World--  ", "hello-world"},
	    {"__", "app"},
	    {"", "app"},
	    {"caf\xc3\xa9", "caf"},
	    {"v2App", "v2-app"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		reset();
		R = berth_app_parse_yaml(BASE, strlen(BASE), dir, cases[i].in, &S, &E);
		tap_is_str(S.name, cases[i].out, "default name from '%s'", cases[i].in);
	}
	char long_name[200];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	reset();
	R = berth_app_parse_yaml(BASE, strlen(BASE), dir, long_name, &S, &E);
	tap_ok(R == 0 && strlen(S.name) == 63, "a long default name is cut to 63 characters");
}

/* ------------------------------------------------------------ load */

static const char *fake_spec_py =
    "import json, os, sys\n"
    "path, _, cls = sys.argv[1].partition('::')\n"
    "cls = cls or 'Only'\n"
    "if cls == 'Crash':\n"
    "    print('Traceback (most recent call last):', file=sys.stderr)\n"
    "    print('ValueError: the app is broken', file=sys.stderr)\n"
    "    sys.exit(1)\n"
    "if cls == 'UserError':\n"
    "    print('berth.spec: error: UserError has no endpoints', file=sys.stderr)\n"
    "    sys.exit(2)\n"
    "if cls == 'Garbage':\n"
    "    print('not json')\n"
    "    sys.exit(0)\n"
    "print('berth.spec: note: a note', file=sys.stderr)\n"
    "spec = {'sdk': {'file': path, 'class': cls, 'endpoints': ['/', '/stream'],\n"
    "                'stream_endpoints': ['/stream']},\n"
    "        'image': {'dockerfile': 'FROM python:3.11-slim',\n"
    "                  'build_args': {'PP': os.environ['PYTHONPATH'].split(':')[0],\n"
    "                                 'NOPYC': os.environ.get('PYTHONDONTWRITEBYTECODE', '')}},\n"
    "        'machine_type': ['GPU-H100', 'GPU'], 'scaling': {'keep_alive': 300}}\n"
    "if cls == 'BadScaling':\n"
    "    spec['scaling']['max_runners'] = 0\n"
    "print(json.dumps(spec))\n";

static void test_load(void)
{
	struct berth_app_spec s;
	struct berth_err *e = NULL;
	_cleanup_free_ char *proj = fx("my_proj"), *empty = fx("empty"), *sdk = fx("fake-sdk");
	_cleanup_free_ char *yml = fx("my_proj/berth.yaml");

	int r = berth_app_load(proj, NULL, &s, &e);
	tap_ok(r == 0 && !strcmp(s.name, "my-proj") && s.port == 8080,
	       "load a directory: DIR/berth.yaml, named after the directory");
	if (r == 0)
		berth_app_spec_release(&s);
	else
		tap_diag("error", e ? e->msg : NULL);
	berth_err_free(e), e = NULL;

	r = berth_app_load(yml, NULL, &s, &e);
	tap_ok(r == 0 && !strcmp(s.name, "my-proj") && !strcmp(s.dir, proj), "load a berth.yaml");
	if (r == 0)
		berth_app_spec_release(&s);
	berth_err_free(e), e = NULL;

	r = berth_app_load(empty, NULL, &s, &e);
	tap_ok(r == -BERTH_E_NOT_FOUND && e && strstr(e->msg, "no berth.yaml in '") &&
		   strstr(e->msg, "create one"),
	       "a directory without berth.yaml says what to create");
	berth_err_free(e), e = NULL;

	_cleanup_free_ char *missing = fx("nope");
	r = berth_app_load(missing, NULL, &s, &e);
	tap_ok(r == -BERTH_E_NOT_FOUND && e && strstr(e->msg, "does not exist"), "a missing path");
	berth_err_free(e), e = NULL;

	_cleanup_free_ char *bad = fx("bad.yaml");
	fixture_put_file(bad, "image:\n  ref: busybox\nscaling:\n  max_runners: 0\n");
	r = berth_app_load(bad, NULL, &s, &e);
	_cleanup_free_ char *want = berth_xasprintf(
	    "%s:4: scaling.max_runners must be an integer from 1 to 1000, got 0", bad);
	tap_ok(r == -BERTH_E_INVALID && e && e->line == 4 && !strcmp(e->msg, want) &&
		   spec_empty(&s),
	       "a bad berth.yaml: the message names the file and line");
	if (e && strcmp(e->msg, want))
		tap_diag("got", e->msg);
	berth_err_free(e), e = NULL;

	r = berth_app_load_yaml(bad, &s, &e);
	tap_ok(r < 0 && e && e->line == 4 && !strncmp(e->msg, "scaling.", 8),
	       "berth_app_load_yaml leaves the file name to the caller");
	berth_err_free(e), e = NULL;

	r = berth_app_load("", NULL, &s, &e);
	tap_ok(r == -BERTH_E_INVALID && e && strstr(e->msg, "no app given"), "an empty APP");
	berth_err_free(e), e = NULL;

	/* Python apps through the fake SDK package. */
	_cleanup_free_ char *app = fx("app.py"), *arg = berth_xasprintf("%s::MyApp", app);
	r = berth_app_load(arg, sdk, &s, &e);
	bool ok = r == 0 && s.kind == BERTH_APP_SDK && !strcmp(s.sdk_class, "MyApp") &&
		  !strcmp(s.sdk_file, app) && s.endpoints.n == 2 && s.stream_endpoints.n == 1 &&
		  !strcmp(s.machine_type, "GPU-H100") && s.gpus == 1 &&
		  s.scaling.keep_alive_ms == 300000 && !strcmp(s.name, "my-app") &&
		  !strcmp(s.dir, dir);
	if (!tap_ok(ok, "FILE.py::Class through python3 -m berth.spec"))
		tap_diag("error", e ? e->msg : NULL);
	if (r == 0) {
		_cleanup_free_ char *pp = berth_xasprintf("PP=%s", sdk);
		tap_is_str(strv_at(&s.build_args, 0), pp,
			   "the SDK directory is first on PYTHONPATH");
		tap_is_str(strv_at(&s.build_args, 1), "NOPYC=1", "python writes no .pyc files");
		berth_app_spec_release(&s);
	}
	berth_err_free(e), e = NULL;

	r = berth_app_load(app, sdk, &s, &e);
	tap_ok(r == 0 && !strcmp(s.sdk_class, "Only"), "FILE.py alone: the SDK picks the class");
	if (r == 0)
		berth_app_spec_release(&s);
	berth_err_free(e), e = NULL;

	_cleanup_free_ char *crash = berth_xasprintf("%s::Crash", app);
	r = berth_app_load(crash, sdk, &s, &e);
	tap_ok(r < 0 && e && strstr(e->msg, "exited with status 1") &&
		   strstr(e->msg, "ValueError: the app is broken") && spec_empty(&s),
	       "a crash: the error holds python's last lines");
	if (e)
		tap_diag("message", e->msg);
	berth_err_free(e), e = NULL;

	_cleanup_free_ char *uerr = berth_xasprintf("%s::UserError", app);
	r = berth_app_load(uerr, sdk, &s, &e);
	_cleanup_free_ char *uwant = berth_xasprintf("%s: UserError has no endpoints", uerr);
	tap_ok(r < 0 && e && !strcmp(e->msg, uwant), "the SDK's one-line error as is");
	if (e && strcmp(e->msg, uwant))
		tap_diag("got", e->msg);
	berth_err_free(e), e = NULL;

	_cleanup_free_ char *garbage = berth_xasprintf("%s::Garbage", app);
	r = berth_app_load(garbage, sdk, &s, &e);
	tap_ok(r < 0 && e && strstr(e->msg, "the output of python3 -m berth.spec"),
	       "output that is not JSON");
	berth_err_free(e), e = NULL;

	_cleanup_free_ char *bs = berth_xasprintf("%s::BadScaling", app);
	r = berth_app_load(bs, sdk, &s, &e);
	_cleanup_free_ char *bswant =
	    berth_xasprintf("%s: scaling.max_runners must be an integer from 1 to 1000, got 0", bs);
	tap_ok(r < 0 && e && e->line == 0 && !strcmp(e->msg, bswant),
	       "a bad setting from the SDK: the key path, no line");
	if (e && strcmp(e->msg, bswant))
		tap_diag("got", e->msg);
	berth_err_free(e), e = NULL;

	_cleanup_free_ char *nopy = fx("nope.py");
	r = berth_app_load(nopy, sdk, &s, &e);
	tap_ok(r == -BERTH_E_NOT_FOUND && e && strstr(e->msg, "does not exist"),
	       "a missing .py file");
	berth_err_free(e), e = NULL;

	_cleanup_free_ char *noclass = berth_xasprintf("%s::", app);
	r = berth_app_load(noclass, sdk, &s, &e);
	tap_ok(r == -BERTH_E_INVALID && e && strstr(e->msg, "names no class"), "FILE.py:: ");
	berth_err_free(e), e = NULL;

	r = berth_app_load(arg, empty, &s, &e);
	tap_ok(r < 0 && e && strstr(e->msg, "No module named") &&
		   strstr(e->msg, "set BERTH_SDK_DIR"),
	       "no SDK at sdk_dir: python's error and a hint");
	berth_err_free(e), e = NULL;

	const char *path = getenv("PATH");
	_cleanup_free_ char *saved = path ? berth_xstrdup(path) : NULL;
	_cleanup_free_ char *nobin = fx("bin-empty");
	setenv("PATH", nobin, 1);
	r = berth_app_load(arg, sdk, &s, &e);
	if (saved)
		setenv("PATH", saved, 1);
	tap_ok(r == -BERTH_E_NOT_FOUND && e &&
		   !strcmp(e->msg,
			   "python3 not found: SDK apps need the host's python3 to read the "
			   "class (apt-get install python3)"),
	       "no python3: what to install");
	if (e)
		tap_diag("message", e->msg);
	berth_err_free(e), e = NULL;

	/* Where the SDK is. */
	setenv("BERTH_SDK_DIR", sdk, 1);
	char *found = berth_app_sdk_dir(&e);
	tap_is_str(found, sdk, "BERTH_SDK_DIR is used");
	free(found);
	berth_err_free(e), e = NULL;
	setenv("BERTH_SDK_DIR", empty, 1);
	found = berth_app_sdk_dir(&e);
	tap_ok(!found && e && e->code == BERTH_E_NOT_FOUND && strstr(e->msg, "BERTH_SDK_DIR '"),
	       "BERTH_SDK_DIR without a berth package is an error");
	free(found);
	berth_err_free(e), e = NULL;
	unsetenv("BERTH_SDK_DIR");
	/* The places berth looks next to its binary (build/berth, build/san/berth,
	 * <prefix>/bin/berth), here next to this test binary. */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	static const char *const rel[] = {"/../sdk/python", "/../../sdk/python",
					  "/../share/berth/sdk/python"};
	_cleanup_free_ char *tree = NULL;
	for (size_t i = 0; !tree && i < BERTH_ARRAY_SIZE(rel); i++) {
		_cleanup_free_ char *pkg = berth_xasprintf("%s%s/berth", exe, rel[i]);
		struct stat st;
		if (stat(pkg, &st) == 0 && S_ISDIR(st.st_mode)) {
			pkg[strlen(pkg) - strlen("/berth")] = '\0';
			tree = realpath(pkg, NULL);
		}
	}
	found = berth_app_sdk_dir(&e);
	if (tree)
		tap_is_str(found, tree, "the build tree's sdk/python is found");
	else
		tap_ok(!found && e && strstr(e->msg, "the python SDK was not found"),
		       "no SDK in the tree: a clear error");
	free(found);
	berth_err_free(e), e = NULL;
}

static void setup(void)
{
	fixture_init("app");
	fixture_must(realpath(fixture_dir, dir) != NULL, "realpath");
	fixture_put_file(fixture_path("Dockerfile"), "FROM busybox\nCMD [\"true\"]\n");
	fixture_put_dir(fixture_path("ctx"));
	fixture_put_dir(fixture_path("docker"));
	fixture_put_file(fixture_path("docker/Dockerfile.app"), "FROM busybox\n");
	fixture_put_file(fixture_path("app.py"), "# an app\n");
	fixture_put_dir(fixture_path("my_proj"));
	fixture_put_file(fixture_path("my_proj/berth.yaml"),
			 "image:\n  dockerfile: FROM busybox\nrun:\n  command: httpd -f -p $PORT\n"
			 "  port: 8080\n");
	fixture_put_dir(fixture_path("empty"));
	fixture_put_dir(fixture_path("bin-empty"));
	fixture_put_dir(fixture_path("fake-sdk"));
	fixture_put_dir(fixture_path("fake-sdk/berth"));
	fixture_put_file(fixture_path("fake-sdk/berth/__init__.py"), "");
	fixture_put_file(fixture_path("fake-sdk/berth/spec.py"), fake_spec_py);
}

int main(void)
{
	setup();
	test_defaults();
	test_full_yaml();
	test_scalars();
	test_durations();
	test_invalid();
	test_unknown_keys();
	test_structure();
	test_sdk_json();
	test_to_json();
	test_clean_names();
	test_load();
	reset();
	struct berth_err *e = NULL;
	if (fixture_cleanup(&e) < 0) {
		printf("# cleanup: %s\n", e->msg);
		berth_err_free(e);
	}
	return tap_done();
}
