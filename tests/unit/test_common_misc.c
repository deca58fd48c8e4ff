/* Unit tests for the rest of common/: SHA-256 vectors and digests, JSON
 * canonical form and load errors, process spawning with captures, the log
 * sink, capped buffers, string vectors and environments, and error chaining. */
#include "common/common.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>

static void test_sha256(void)
{
	static const struct {
		const char *in, *hex;
	} vectors[] = {
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	char hex[BERTH_SHA256_HEX_LEN + 1];
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(vectors); i++) {
		berth_sha256_hex(vectors[i].in, strlen(vectors[i].in), hex);
		tap_is_str(hex, vectors[i].hex, "sha256 of '%s'", vectors[i].in);
	}

	uint8_t raw[BERTH_SHA256_LEN];
	berth_sha256("abc", 3, raw);
	tap_ok(raw[0] == 0xba && raw[31] == 0xad, "sha256 raw bytes");

	/* Streaming in uneven pieces gives the one-shot answer. */
	const char *msg = vectors[2].in;
	struct berth_sha256 h;
	berth_sha256_init(&h);
	berth_sha256_update(&h, msg, 1);
	berth_sha256_update(&h, msg + 1, 0);
	berth_sha256_update(&h, msg + 1, 30);
	berth_sha256_update(&h, msg + 31, strlen(msg) - 31);
	char digest[BERTH_DIGEST_LEN + 1];
	berth_sha256_final_digest(&h, digest);
	tap_is_str(digest,
		   "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
		   "streaming split digest");
	tap_ok(h.ctx == NULL, "final releases the context");

	static char million[1000000];
	memset(million, 'a', sizeof(million));
	berth_sha256_init(&h);
	for (size_t off = 0; off < sizeof(million); off += 4093) {
		size_t n = sizeof(million) - off < 4093 ? sizeof(million) - off : 4093;
		berth_sha256_update(&h, million + off, n);
	}
	berth_sha256_final_digest(&h, digest);
	tap_is_str(digest,
		   "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
		   "a million 'a' in 4093-byte pieces");

	berth_sha256_init(&h);
	berth_sha256_update(&h, "x", 1);
	berth_sha256_release(&h);
	berth_sha256_release(&h);
	tap_ok(h.ctx == NULL, "release is idempotent");
}

static void test_digest_valid(void)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", true},
	    {"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", false},
	    {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", false},
	    {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555", false},
	    {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g", false},
	    {"sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false},
	    {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false},
	    {"sha256:", false},
	    {"", false},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++)
		tap_is_int(berth_digest_valid(cases[i].s), cases[i].ok, "digest_valid('%s')",
			   cases[i].s);
	tap_ok(!berth_digest_valid(NULL), "digest_valid(NULL)");
}

static void test_json(void)
{
	static const char doc[] =
	    "{\"b\": 1, \"a\": [3, {\"z\": null, \"y\": \"s\"}], \"c\": true}";
	struct berth_err *e = NULL;
	_cleanup_json_ json_t *j = berth_json_loadb(doc, strlen(doc), "config", &e);
	tap_ok(j != NULL && e == NULL, "json loads");

	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	tap_is_int(berth_json_dump_canonical(j, &b), 0, "canonical dump");
	tap_is_str(b.data, "{\"a\":[3,{\"y\":\"s\",\"z\":null}],\"b\":1,\"c\":true}",
		   "canonical: keys sorted at every level, compact");

	berth_buf_reset(&b);
	tap_is_int(berth_json_dump_pretty(j, &b), 0, "pretty dump");
	tap_is_str(b.data,
		   "{\n  \"b\": 1,\n  \"a\": [\n    3,\n    {\n      \"z\": null,\n"
		   "      \"y\": \"s\"\n    }\n  ],\n  \"c\": true\n}\n",
		   "pretty: insertion order, two spaces, trailing newline");

	_cleanup_json_ json_t *s = json_string("only");
	berth_buf_reset(&b);
	berth_json_dump_canonical(s, &b);
	tap_is_str(b.data, "\"only\"", "canonical dump of a bare string");

	struct berth_buf small;
	berth_buf_init(&small, 8);
	berth_buf_addstr(&small, "ab");
	tap_is_int(berth_json_dump_canonical(j, &small), -1, "dump over the buffer cap fails");
	tap_is_str(small.data, "ab", "the buffer is left as it was");
	tap_ok(small.full, "and marked full");
	berth_buf_release(&small);

	tap_is_str(berth_json_str(j, "missing"), NULL, "json_str: missing key");
	tap_is_str(berth_json_str(j, "b"), NULL, "json_str: not a string");
	tap_is_str(berth_json_str(json_array_get(json_object_get(j, "a"), 1), "y"), "s",
		   "json_str: a string");
	tap_is_str(berth_json_str(NULL, "y"), NULL, "json_str: NULL object");

	static const char bad[] = "{\n  \"a\": 1,\n  \"b\": ]\n}";
	json_t *nj = berth_json_loadb(bad, strlen(bad), "manifest 'x'", &e);
	tap_ok(nj == NULL, "bad json fails");
	tap_is_str(e ? e->msg : NULL, "manifest 'x': line 3 column 8: unexpected token near ']'",
		   "load error names the document, line and column");
	tap_is_int(e ? e->code : 0, BERTH_E_INVALID, "load error code");
	tap_is_int(e ? e->line : 0, 3, "load error line");
	berth_err_free(e);
	e = NULL;

	nj = berth_json_loadb("{}", (size_t)BERTH_JSON_MAX + 1, "blob 'y'", &e);
	tap_ok(nj == NULL, "json over BERTH_JSON_MAX fails");
	tap_is_str(e ? e->msg : NULL, "blob 'y' is larger than the limit of 16777216 bytes",
		   "limit error message");
	tap_is_int(e ? e->code : 0, BERTH_E_LIMIT, "limit error code");
	berth_err_free(e);
}

static int run_sh(const char *script, struct berth_buf *out, struct berth_buf *errb,
		  struct berth_err **err)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = argv;
	sp.capture_out = out;
	sp.capture_err = errb;
	int status = -1;
	int r = berth_spawn_run(&sp, &status, err);
	return r < 0 ? -1000 + r : status;
}

static void test_spawn(void)
{
	_cleanup_buf_ struct berth_buf out, errb;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	berth_buf_init(&errb, BERTH_BUF_UNLIMITED);
	struct berth_err *e = NULL;

	int st = run_sh("echo out; echo err >&2; exit 3", &out, &errb, &e);
	tap_is_int(st, 3, "exit code");
	tap_is_str(out.data, "out\n", "captured stdout");
	tap_is_str(errb.data, "err\n", "captured stderr");

	berth_buf_reset(&out);
	berth_buf_reset(&errb);
	st = run_sh("echo before; kill -TERM $$; echo after", &out, &errb, &e);
	tap_is_int(st, 128 + SIGTERM, "killed by SIGTERM is 128 + 15");
	tap_is_str(out.data, "before\n", "output before the signal");

	/* Both pipes well past their capacity: only poll gets through this. */
	berth_buf_reset(&out);
	berth_buf_reset(&errb);
	st = run_sh("i=0; while [ $i -lt 4 ]; do head -c 100000 /dev/zero >&2; "
		    "head -c 100000 /dev/zero; i=$((i+1)); done",
		    &out, &errb, &e);
	tap_is_int(st, 0, "large interleaved output exits 0");
	tap_is_int(out.len, 400000, "all of stdout collected");
	tap_is_int(errb.len, 400000, "all of stderr collected");

	struct berth_buf capped;
	berth_buf_init(&capped, 10);
	st = run_sh("head -c 300000 /dev/zero | tr '\\0' x", &capped, NULL, &e);
	tap_is_int(st, 0, "a capped capture still lets the child finish");
	tap_is_int(capped.len, 10, "capture holds its cap");
	tap_ok(capped.full, "capture is marked full");
	berth_buf_release(&capped);

	/* stdin is /dev/null by default; cwd and env are applied. */
	char *cat[] = {"cat", NULL};
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = cat;
	sp.capture_out = &out;
	berth_buf_reset(&out);
	tap_ok(berth_spawn_run(&sp, &st, &e) == 0 && st == 0 && out.len == 0,
	       "default stdin is /dev/null (PATH lookup of 'cat')");

	char *pwd[] = {"/bin/sh", "-c", "pwd; echo \"$FOO\"", NULL};
	char *env[] = {"FOO=bar baz", NULL};
	sp = (struct berth_spawn)BERTH_SPAWN_INIT;
	sp.argv = pwd;
	sp.envp = env;
	sp.cwd = "/usr";
	sp.capture_out = &out;
	berth_buf_reset(&out);
	tap_ok(berth_spawn_run(&sp, &st, &e) == 0 && st == 0, "run with cwd and env");
	tap_is_str(out.data, "/usr\nbar baz\n", "cwd and env applied");

	/* A caller's fd without close-on-exec is not inherited. */
	int leak = open("/dev/null", O_RDONLY);
	char script[128];
	snprintf(script, sizeof(script), "[ -e /proc/self/fd/%d ] && echo leaked || echo clean",
		 leak);
	berth_buf_reset(&out);
	st = run_sh(script, &out, NULL, &e);
	tap_is_str(out.data, "clean\n", "stray fds are closed in the child");
	close(leak);

	/* stdin from a given fd, stdout to a given fd. */
	int in[2], outp[2];
	if (pipe(in) < 0 || pipe(outp) < 0)
		BUG("pipe");
	if (write(in[1], "hello", 5) != 5)
		BUG("write");
	close(in[1]);
	char *tr[] = {"tr", "a-z", "A-Z", NULL};
	sp = (struct berth_spawn)BERTH_SPAWN_INIT;
	sp.argv = tr;
	sp.stdin_fd = in[0];
	sp.stdout_fd = outp[1];
	pid_t pid = berth_spawn_start(&sp, &e);
	close(in[0]);
	close(outp[1]);
	char got[16] = "";
	ssize_t n = read(outp[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	close(outp[0]);
	tap_ok(pid > 0 && berth_spawn_wait(pid, &st, &e) == 0 && st == 0,
	       "spawn_start + spawn_wait");
	tap_is_str(got, "HELLO", "given stdin and stdout fds");

	/* Errors. */
	char *nope[] = {"/nonexistent/program", NULL};
	sp = (struct berth_spawn)BERTH_SPAWN_INIT;
	sp.argv = nope;
	pid = berth_spawn_start(&sp, &e);
	tap_is_int(pid, -BERTH_E_SYS, "a missing program fails to start");
	tap_is_str(e ? e->msg : NULL, "start '/nonexistent/program': No such file or directory",
		   "missing program: message");
	berth_err_free(e);
	e = NULL;

	sp = (struct berth_spawn)BERTH_SPAWN_INIT;
	sp.argv = cat;
	sp.cwd = "/nonexistent-dir";
	pid = berth_spawn_start(&sp, &e);
	tap_is_str(e ? e->msg : NULL,
		   "start 'cat' in '/nonexistent-dir': No such file or directory",
		   "missing cwd: message");
	berth_err_free(e);
	e = NULL;

	sp = (struct berth_spawn)BERTH_SPAWN_INIT;
	sp.argv = cat;
	sp.capture_out = &out;
	pid = berth_spawn_start(&sp, &e);
	tap_is_int(e ? e->code : 0, BERTH_E_INVALID, "spawn_start refuses captures");
	berth_err_free(e);
	e = NULL;

	/* The parent ignoring SIGPIPE does not leak into the child. */
	signal(SIGPIPE, SIG_IGN);
	berth_buf_reset(&out);
	st = run_sh("exec grep SigIgn /proc/self/status", &out, NULL, &e);
	signal(SIGPIPE, SIG_DFL);
	/* glibc's own internal signals (32, 33) may show as ignored; SIGPIPE
	 * must not. */
	unsigned long long ign = strtoull(out.data + strlen("SigIgn:"), NULL, 16);
	tap_ok(st == 0 && out.len > 8 && !(ign & (1ull << (SIGPIPE - 1))),
	       "SIGPIPE is reset to default in the child");
	if (ign & (1ull << (SIGPIPE - 1)))
		tap_diag("child", out.data);
}

struct log_capture {
	int calls;
	enum berth_log_level level;
	char msg[128];
};

static void capture_sink(void *ctx, enum berth_log_level level, const char *msg)
{
	struct log_capture *c = ctx;
	c->calls++;
	c->level = level;
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

static void test_log(void)
{
	struct log_capture c = {0};
	berth_log_set_sink(capture_sink, &c, BERTH_LOG_INFO);
	berth_log_warn("layer '%s' is %d bytes", "sha256:ab", 42);
	tap_is_int(c.calls, 1, "log reaches the sink");
	tap_is_int(c.level, BERTH_LOG_WARN, "log level passed");
	tap_is_str(c.msg, "layer 'sha256:ab' is 42 bytes", "log message formatted");
	berth_log_debug("hidden");
	tap_is_int(c.calls, 1, "below the minimum level is dropped");
	berth_log_error("shown");
	tap_is_int(c.calls, 2, "above the minimum level is kept");
	berth_log_set_sink(NULL, NULL, BERTH_LOG_DEBUG);
	berth_log_error("discarded");
	tap_is_int(c.calls, 2, "a NULL sink discards");
}

static void test_buf(void)
{
	struct berth_buf b;
	berth_buf_init(&b, 8);
	tap_is_str(b.data, "", "a new buffer is an empty string");
	tap_is_int(berth_buf_addstr(&b, "hello"), 0, "append within the cap");
	tap_is_int(berth_buf_addstr(&b, "world"), -1, "append past the cap is refused");
	tap_ok(b.full, "refusal marks the buffer full");
	tap_is_str(b.data, "hello", "a refused append adds nothing");
	tap_is_int(berth_buf_addf(&b, "%d", 123), 0, "addf within the cap");
	tap_is_int(berth_buf_addch(&b, '!'), -1, "addch past the cap");
	tap_is_str(b.data, "hello123", "exactly at the cap");
	tap_is_int(berth_buf_add(&b, "a\0b", 0), 0, "empty add at the cap is fine");
	berth_buf_reset(&b);
	tap_ok(!b.full && b.len == 0 && b.data[0] == '\0', "reset clears full and content");
	berth_buf_add(&b, "a\0b", 3);
	tap_ok(b.len == 3 && memcmp(b.data, "a\0b", 4) == 0, "binary-safe and NUL-terminated");
	size_t len = 0;
	char *s = berth_buf_steal(&b, &len);
	tap_ok(len == 3 && b.len == 0 && s[0] == 'a', "steal hands out the contents");
	free(s);
	berth_buf_release(&b);

	struct berth_sv v = BERTH_SV("Content-Type");
	tap_ok(berth_sv_eq_icase(v, "content-type"), "sv_eq_icase");
	tap_ok(berth_sv_has_prefix(v, "Content-"), "sv_has_prefix");
	tap_ok(!berth_sv_eq(v, "Content"), "sv_eq on a prefix is false");
}

static void test_strv_env(void)
{
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	berth_env_set(&env, "PATH", "/bin");
	berth_env_set(&env, "HOME", "/root");
	berth_env_set(&env, "PATH", "/usr/bin:/bin");
	tap_is_int(env.n, 2, "env_set replaces in place");
	tap_is_str(env.v[0], "PATH=/usr/bin:/bin", "replaced entry keeps its position");
	tap_ok(env.v[2] == NULL, "vector stays NULL-terminated");
	tap_is_str(berth_env_get(&env, "HOME", 4), "/root", "env_get");
	tap_is_str(berth_env_get(&env, "HOMEX", 4), "/root", "env_get uses keylen");
	tap_is_str(berth_env_get(&env, "HOM", 3), NULL, "env_get needs the whole key");
	berth_strv_push(&env, "HOME=/home/x");
	tap_is_str(berth_env_get(&env, "HOME", 4), "/home/x", "env_get returns the last entry");
	berth_strv_pushf(&env, "N=%d", 7);
	tap_ok(berth_strv_contains(&env, "N=7"), "strv_pushf and contains");

	_cleanup_strv_ struct berth_strv copy = BERTH_STRV_INIT;
	berth_strv_copy(&copy, &env);
	tap_ok(copy.n == env.n && copy.v[0] != env.v[0] && strcmp(copy.v[0], env.v[0]) == 0,
	       "strv_copy is deep");
}

static void test_err(void)
{
	struct berth_err *e = NULL;
	int r = berth_err_sys(&e, ENOENT, "open '%s'", "manifest.json");
	tap_is_int(r, -BERTH_E_SYS, "err_sys returns -BERTH_E_SYS");
	r = berth_err_prefix(&e, "fetch manifest");
	r = berth_err_prefix(&e, "pull '%s'", "python:3.11");
	tap_is_int(r, -BERTH_E_SYS, "prefix returns the existing code");
	tap_is_str(e->msg,
		   "pull 'python:3.11': fetch manifest: open 'manifest.json': No such file or "
		   "directory",
		   "prefixes chain outermost first");
	tap_is_int(e->sys_errno, ENOENT, "sys_errno survives prefixing");
	r = berth_err_set(&e, BERTH_E_AUTH, "second");
	tap_is_int(e->code, BERTH_E_SYS, "the first error is kept");
	berth_err_free(e);
	e = NULL;

	tap_is_int(berth_err_prefix(&e, "nothing"), -BERTH_E_INTERNAL, "prefix without an error");
	tap_is_int(berth_err_prefix(NULL, "nothing"), -BERTH_E_INTERNAL, "prefix with NULL err");
	tap_is_int(berth_err_set(NULL, BERTH_E_LIMIT, "x"), -BERTH_E_LIMIT,
		   "set with NULL err still returns the code");
	berth_err_set_line(&e, BERTH_E_INVALID, 12, "unknown instruction '%s'", "FORM");
	tap_ok(e && e->line == 12 && e->code == BERTH_E_INVALID, "err_set_line");
	berth_err_free(e);
	tap_is_str(berth_err_code_name(BERTH_E_NOT_FOUND), "not_found", "code name");
	tap_is_str(berth_err_code_name((enum berth_err_code)99), "internal", "unknown code name");
}

static void test_encode(void)
{
	/* RFC 4648's vectors: every padding case. */
	static const char *const b64[][2] = {
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		char *e = berth_base64_encode(b64[i][0], strlen(b64[i][0]));
		tap_is_str(e, b64[i][1], "base64 of '%s'", b64[i][0]);
		free(e);
	}
	char *e = berth_base64_encode("\xff\xfe\x00", 3);
	tap_is_str(e, "//4A", "base64 of bytes over 0x7f and a NUL");
	free(e);
	char hex[9];
	berth_hex_encode("\x00\x9f\xa0\xff", 4, hex);
	tap_is_str(hex, "009fa0ff", "hex, lower case");
	char a[33], b[33];
	tap_ok(berth_random_hex(16, a, NULL) == 0 && berth_random_hex(16, b, NULL) == 0 &&
		   strlen(a) == 32 && strspn(a, "0123456789abcdef") == 32 && strcmp(a, b) != 0,
	       "random hex: 32 digits, two differ");
	char u[37];
	berth_random_uuid(u);
	tap_ok(strlen(u) == 36 && u[8] == '-' && u[13] == '-' && u[14] == '4' && u[18] == '-' &&
		   strchr("89ab", u[19]) && u[23] == '-',
	       "a version 4 UUID (%s)", u);
}

int main(void)
{
	test_sha256();
	test_digest_valid();
	test_json();
	test_spawn();
	test_log();
	test_buf();
	test_strv_env();
	test_err();
	test_encode();
	return tap_done();
}
