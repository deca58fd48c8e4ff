/* Unit tests for registry/: WWW-Authenticate parsing, scope sets, base64,
 * credential lookup order and key normalisation over temporary HOME and
 * XDG directories, `berth login` files, local hosts, URL resolution and
 * error messages. White-box: it includes the module's internal header. */
#include "common/common.h"
#include "registry/registry.h"
#include "registry/registry_int.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>

static char tmpdir[] = "/tmp/berth-test-registry.XXXXXX";

/* ------------------------------------------------------------ challenges */

static void test_challenge_forms(void)
{
	struct berth__challenge *c = NULL;
	size_t n = 0;
	struct berth_err *err = NULL;

	/* Exactly what distribution 2.8 sends for a mount (the reference, 1.4). */
	int rc = berth__challenges_parse(
	    "Bearer realm=\"http://127.0.0.1:5003/token\",service=\"test-registry\","
	    "scope=\"repository:busybox:pull,push repository:library/other:pull\"",
	    &c, &n, &err);
	tap_is_int(rc, 0, "bearer challenge parses");
	tap_is_int(n, 1, "one challenge");
	tap_is_str(c[0].scheme, "bearer", "scheme lower-cased");
	tap_is_str(berth__challenge_param(&c[0], "realm"), "http://127.0.0.1:5003/token", "realm");
	tap_is_str(berth__challenge_param(&c[0], "service"), "test-registry", "service");
	struct berth_strv scopes = BERTH_STRV_INIT;
	berth__scopes_add(&scopes, berth__challenge_param(&c[0], "scope"));
	tap_is_int(scopes.n, 2, "two scopes in the scope list");
	tap_is_str(scopes.v[0], "repository:busybox:pull,push", "first scope");
	tap_is_str(scopes.v[1], "repository:library/other:pull", "second scope");
	berth_strv_release(&scopes);
	berth__challenges_free(c, n);

	/* Odd spacing and casing, token values, empty list elements. */
	c = NULL, n = 0;
	rc = berth__challenges_parse("  bEaReR   Realm = \"https://auth.example/token\" ,"
				     "SERVICE=registry.example ,, scope=\"repository:a:pull\"  ",
				     &c, &n, &err);
	tap_is_int(rc, 0, "odd spacing parses");
	tap_is_int(n, 1, "odd spacing: one challenge");
	tap_is_str(c[0].scheme, "bearer", "odd casing: scheme");
	tap_is_str(berth__challenge_param(&c[0], "realm"), "https://auth.example/token",
		   "odd casing: Realm");
	tap_is_str(berth__challenge_param(&c[0], "service"), "registry.example",
		   "unquoted token value");
	tap_is_str(berth__challenge_param(&c[0], "scope"), "repository:a:pull",
		   "scope after an empty element");
	berth__challenges_free(c, n);

	/* Two challenges in one header, then a third from a second header. */
	c = NULL, n = 0;
	rc = berth__challenges_parse(
	    "Basic realm=\"basic-realm\", Bearer realm=\"r2\",service=\"s\"", &c, &n, &err);
	tap_is_int(rc, 0, "two challenges parse");
	rc = berth__challenges_parse("Basic realm=\"third\"", &c, &n, &err);
	tap_is_int(n, 3, "challenges accumulate across headers");
	tap_is_str(c[0].scheme, "basic", "first is basic");
	tap_is_str(berth__challenge_param(&c[0], "realm"), "basic-realm", "basic realm");
	tap_is_str(c[1].scheme, "bearer", "second is bearer");
	tap_is_str(berth__challenge_param(&c[1], "realm"), "r2", "bearer realm");
	tap_is_str(berth__challenge_param(&c[1], "service"), "s", "bearer service");
	tap_is_str(berth__challenge_param(&c[2], "realm"), "third", "third realm");
	berth__challenges_free(c, n);

	/* Escapes in quoted strings, token68, a bare scheme. */
	c = NULL, n = 0;
	rc = berth__challenges_parse("Bearer realm=\"a\\\"b\\\\c\", Negotiate YWJj==, Basic, "
				     "Custom",
				     &c, &n, &err);
	tap_is_int(rc, 0, "escapes and token68 parse");
	tap_is_int(n, 4, "four challenges");
	tap_is_str(berth__challenge_param(&c[0], "realm"), "a\"b\\c", "quoted-pair unescaped");
	tap_is_str(c[1].scheme, "negotiate", "token68 scheme");
	tap_is_str(c[1].token68, "YWJj==", "token68 value");
	tap_is_str(c[2].scheme, "basic", "bare scheme before a comma");
	tap_ok(c[2].params.n == 0, "bare scheme has no parameters");
	tap_is_str(c[3].scheme, "custom", "bare scheme at the end");
	berth__challenges_free(c, n);

	static const char *bad[] = {
	    "Bearer realm=\"unterminated", "=\"x\"",
	    "Bearer realm=\"x\",=\"y\"",   "Bearer realm=\"x\", service=",
	    "Bearer/x realm=\"y\"",
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(bad); i++) {
		c = NULL, n = 0;
		err = NULL;
		rc = berth__challenges_parse(bad[i], &c, &n, &err);
		tap_ok(rc == -BERTH_E_INVALID && err && strstr(err->msg, "WWW-Authenticate"),
		       "malformed challenge '%s' is an error", bad[i]);
		if (err)
			tap_ok(strstr(err->msg, bad[i]) != NULL, "the error quotes the header");
		berth_err_free(err);
		berth__challenges_free(c, n);
	}
}

static void test_auth_learn(void)
{
	struct berth_registry *r = NULL;
	struct berth_registry_opts o = {0};
	berth_registry_new("127.0.0.1:1", &o, &r, NULL);
	struct berth_strv h = BERTH_STRV_INIT, scopes = BERTH_STRV_INIT;
	berth_strv_push(&h, "Basic realm=\"x\"");
	berth_strv_push(&h, "Bearer realm=\"http://127.0.0.1:2/token\",service=\"svc\","
			    "scope=\"repository:a:pull repository:b:pull\"");
	tap_ok(berth__auth_learn(r, &h, &scopes), "learning a bearer challenge asks for a retry");
	tap_is_int(r->auth, BERTH__AUTH_BEARER, "bearer preferred over basic");
	tap_is_str(r->realm, "http://127.0.0.1:2/token", "realm remembered");
	tap_is_str(r->service, "svc", "service remembered");
	tap_is_int(scopes.n, 2, "challenge scopes collected");
	berth_strv_release(&h);
	berth_strv_release(&scopes);

	berth_strv_push(&h, "Basic realm=\"only\"");
	berth__auth_learn(r, &h, NULL);
	tap_is_int(r->auth, BERTH__AUTH_BASIC, "a basic-only challenge switches to basic");
	berth_strv_release(&h);
	berth_registry_free(r);

	tap_ok(berth_registry_new("bad host/x", &o, &r, NULL) == -BERTH_E_INVALID,
	       "a host with a slash is refused");
}

static void test_scopes_key(void)
{
	struct berth_strv s = BERTH_STRV_INIT;
	berth_strv_push(&s, "repository:b:pull");
	berth_strv_push(&s, "repository:a:pull,push");
	berth_strv_push(&s, "repository:b:pull");
	char *k = berth__scopes_key(&s);
	tap_is_str(k, "repository:a:pull,push repository:b:pull", "scope key sorted, deduplicated");
	free(k);
	berth_strv_release(&s);
	k = berth__scopes_key(NULL);
	tap_is_str(k, "", "no scopes: empty key");
	free(k);
}

/* ------------------------------------------------------------ base64 etc */

static void test_base64(void)
{
	char *e = berth_base64_encode("alice:s3cret", 12);
	tap_is_str(e, "YWxpY2U6czNjcmV0", "base64 of alice:s3cret (the reference, 1.3)");
	free(e);
	size_t len = 0;
	unsigned char *d = berth__base64_decode(" YWxpY2U6czNjcmV0\n", &len);
	tap_is_str((char *)d, "alice:s3cret", "decode with whitespace");
	tap_is_int(len, 12, "decoded length");
	free(d);
	d = berth__base64_decode("YWI", &len); /* "ab" without padding */
	tap_is_str((char *)d, "ab", "decode without padding");
	tap_is_int(len, 2, "unpadded length");
	free(d);
	tap_ok(berth__base64_decode("!!!!", &len) == NULL, "bad base64 refused");
	tap_ok(berth__base64_decode("YWJjZ", &len) == NULL, "impossible length refused");
}

static void test_normalize(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"https://index.docker.io/v1/", "docker.io"},
	    {"index.docker.io", "docker.io"},
	    {"registry-1.docker.io", "docker.io"},
	    {"docker.io", "docker.io"},
	    {"HTTP://Reg.Example.com:5000/some/path", "reg.example.com:5000"},
	    {"quay.io/team/app", "quay.io"},
	    {"127.0.0.1:5000", "127.0.0.1:5000"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		char *got = berth__creds_normalize(cases[i].in);
		tap_is_str(got, cases[i].want, "normalise '%s'", cases[i].in);
		free(got);
	}
}

/* ------------------------------------------------------------ credentials */

static void write_file(const char *path, const char *text)
{
	char *dir = berth_xstrdup(path);
	*strrchr(dir, '/') = '\0';
	berth_fs_mkdir_p(dir, 0700, NULL);
	free(dir);
	int r = berth_fs_write_atomic(AT_FDCWD, path, text, strlen(text), 0600, NULL);
	if (r < 0)
		BUG("cannot write '%s'", path);
}

static char *b64(const char *s)
{
	return berth_base64_encode(s, strlen(s));
}

struct lookup_case {
	const char *host, *user, *pass, *origin;
};

static void check_lookup(const struct berth_cred_source *src, const struct lookup_case *lc,
			 const char *label)
{
	struct berth_cred c = {0};
	const char *origin = NULL;
	struct berth_err *err = NULL;
	int rc = berth_creds_lookup(src, lc->host, &c, &origin, &err);
	tap_ok(rc == 0, "%s: lookup '%s' succeeds", label, lc->host);
	if (err)
		tap_diag("error", err->msg);
	tap_is_str(c.username, lc->user, "%s: '%s' username", label, lc->host);
	tap_is_str(c.password, lc->pass, "%s: '%s' password", label, lc->host);
	tap_is_str(origin, lc->origin, "%s: '%s' origin", label, lc->host);
	berth_cred_release(&c);
	berth_err_free(err);
}

static void test_creds_lookup(void)
{
	char *home = berth_xasprintf("%s/berth", tmpdir);
	char *uh = berth_xasprintf("%s/home", tmpdir);
	char *xdg = berth_xasprintf("%s/xdg", tmpdir);
	setenv("XDG_RUNTIME_DIR", xdg, 1);

	char *a_x = b64("x:1"), *a_xdg = b64("xdg:2"), *a_cfgw = b64("cfg:wrong"),
	     *a_cfg = b64("cfg:6"), *a_hub = b64("hub:pw"), *a_dock = b64("docker:3"),
	     *a_ns = b64("ns:7"), *a_both_ns = b64("both-ns:8"), *a_both = b64("both:9"),
	     *a_colon = b64("col:pa:ss");
	a_colon[strcspn(a_colon, "=")] = '\0'; /* drop the padding, as some writers do */

	char *p = berth_xasprintf("%s/containers/auth.json", xdg);
	char *t = berth_xasprintf("{\"auths\":{\"xdg.example\":{\"auth\":\"%s\"},"
				  "\"shared.example\":{\"auth\":\"%s\"}}}",
				  a_x, a_xdg);
	write_file(p, t);
	free(p), free(t);
	p = berth_xasprintf("%s/.config/containers/auth.json", uh);
	t = berth_xasprintf("{\"auths\":{\"cfg.example\":{\"auth\":\"%s\"},"
			    "\"xdg.example\":{\"auth\":\"%s\"}}}",
			    a_cfg, a_cfgw);
	write_file(p, t);
	free(p), free(t);
	p = berth_xasprintf("%s/.docker/config.json", uh);
	t = berth_xasprintf(
	    "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"%s\"},"
	    "\"shared.example\":{\"auth\":\"%s\"},"
	    "\"helper.example\":{},"
	    "\"idt.example\":{\"identitytoken\":\"abc\"},"
	    "\"ns.example/team/app\":{\"auth\":\"%s\"},"
	    "\"both.example/team\":{\"auth\":\"%s\"},"
	    "\"https://both.example\":{\"auth\":\"%s\"},"
	    "\"colon.example\":{\"auth\":\"%s\"},"
	    "\"plain.example\":{\"username\":\"pu\",\"password\":\"pp\"}},"
	    "\"credHelpers\":{\"helper.example\":\"secretservice\"},\"credsStore\":\"desktop\"}",
	    a_hub, a_dock, a_ns, a_both_ns, a_both, a_colon);
	write_file(p, t);
	free(p), free(t);
	tap_ok(berth_login_save(home, "shared.example", "login", "4", NULL) == 0,
	       "berth login saves shared.example");

	json_t *apps =
	    json_pack("{s:{s:s,s:s},s:{s:s,s:s}}", "shared.example", "username", "app", "password",
		      "5", "https://app.example/", "username", "app2", "password", "p2");
	struct berth_cred_source all = {.registries = apps, .home = home, .user_home = uh};

	static const struct lookup_case full[] = {
	    {"shared.example", "app", "5", "the app's registries"},
	    {"app.example", "app2", "p2", "the app's registries"},
	    {"xdg.example", "x", "1", "${XDG_RUNTIME_DIR}/containers/auth.json"},
	    {"cfg.example", "cfg", "6", "~/.config/containers/auth.json"},
	    {"docker.io", "hub", "pw", "~/.docker/config.json"},
	    {"index.docker.io", "hub", "pw", "~/.docker/config.json"},
	    {"registry-1.docker.io", "hub", "pw", "~/.docker/config.json"},
	    {"ns.example", "ns", "7", "~/.docker/config.json"},
	    {"both.example", "both", "9", "~/.docker/config.json"},
	    {"colon.example", "col", "pa:ss", "~/.docker/config.json"},
	    {"plain.example", "pu", "pp", "~/.docker/config.json"},
	    {"helper.example", NULL, NULL, "anonymous"},
	    {"idt.example", NULL, NULL, "anonymous"},
	    {"nowhere.example", NULL, NULL, "anonymous"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(full); i++)
		check_lookup(&all, &full[i], "all sources");

	struct berth_cred_source no_app = {.home = home, .user_home = uh};
	check_lookup(&no_app, &(struct lookup_case){"shared.example", "login", "4", "berth login"},
		     "without the app's map");
	check_lookup(
	    &no_app,
	    &(struct lookup_case){"https://shared.example/v2/", "login", "4", "berth login"},
	    "a URL-shaped host");
	struct berth_cred_source no_login = {.user_home = uh};
	check_lookup(
	    &no_login,
	    &(struct lookup_case){"shared.example", "docker", "3", "~/.docker/config.json"},
	    "without berth login");
	char *empty = berth_xasprintf("%s/empty-home", tmpdir);
	struct berth_cred_source only_xdg = {.user_home = empty};
	check_lookup(&only_xdg,
		     &(struct lookup_case){"shared.example", "xdg", "2",
					   "${XDG_RUNTIME_DIR}/containers/auth.json"},
		     "only the XDG file");

	/* Broken entries and files are errors that name them. */
	char *bad = berth_xasprintf("%s/bad-home", tmpdir);
	p = berth_xasprintf("%s/.docker/config.json", bad);
	write_file(p, "{\"auths\":{\"b.example\":{\"auth\":\"bm9jb2xvbg==\"}}}");
	struct berth_cred_source bsrc = {.user_home = bad};
	struct berth_cred c = {0};
	struct berth_err *err = NULL;
	int rc = berth_creds_lookup(&bsrc, "b.example", &c, NULL, &err);
	tap_ok(rc == -BERTH_E_INVALID, "an auth without ':' is an error");
	if (!tap_ok(err && strstr(err->msg, "'b.example'") && strstr(err->msg, p) &&
			strstr(err->msg, "log in again"),
		    "the error names the key, the file and the fix"))
		tap_diag("message", err ? err->msg : NULL);
	berth_err_free(err);
	err = NULL;
	write_file(p, "{\"auths\": [");
	rc = berth_creds_lookup(&bsrc, "b.example", &c, NULL, &err);
	tap_ok(rc == -BERTH_E_INVALID && err && strstr(err->msg, p), "invalid JSON names the file");
	berth_err_free(err);
	err = NULL;
	rc = berth_creds_lookup(&bsrc, "", &c, NULL, &err);
	tap_ok(rc == -BERTH_E_INVALID, "an empty host is an error");
	berth_err_free(err);
	free(p);

	json_decref(apps);
	free(a_x), free(a_xdg), free(a_cfgw), free(a_cfg), free(a_hub), free(a_dock), free(a_ns);
	free(a_both_ns), free(a_both), free(a_colon);
	free(home), free(uh), free(xdg), free(empty), free(bad);
	unsetenv("XDG_RUNTIME_DIR");
}

static json_t *load_json(const char *path)
{
	struct berth_buf b;
	berth_buf_init(&b, BERTH_JSON_MAX);
	json_t *j = NULL;
	if (berth_fs_read_file(path, BERTH_JSON_MAX, &b, NULL) == 0)
		j = berth_json_loadb(b.data, b.len, path, NULL);
	berth_buf_release(&b);
	return j;
}

static void test_login(void)
{
	char *home = berth_xasprintf("%s/login/deep/home", tmpdir);
	char *path = berth_xasprintf("%s/auth.json", home);
	struct berth_err *err = NULL;

	int rc = berth_login_save(home, "127.0.0.1:5001", "alice", "s3cret", &err);
	tap_is_int(rc, 0, "login save into a missing home creates it");
	struct stat st;
	tap_ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "auth.json has mode 0600");
	tap_ok(stat(home, &st) == 0 && (st.st_mode & 077) == 0, "home is private");
	json_t *j = load_json(path);
	tap_is_str(
	    berth_json_str(json_object_get(json_object_get(j, "auths"), "127.0.0.1:5001"), "auth"),
	    "YWxpY2U6czNjcmV0", "entry is base64 of user:password");
	json_decref(j);

	/* Other entries and keys survive; aliases of the host are replaced. */
	write_file(path, "{\"auths\":{\"keep.example\":{\"auth\":\"a2VlcDpr\"},"
			 "\"docker.io\":{\"auth\":\"b2xkOm8=\"},"
			 "\"team.example/ns\":{\"auth\":\"bnM6bg==\"}},"
			 "\"credHelpers\":{\"h.example\":\"pass\"}}");
	chmod(path, 0644);
	rc = berth_login_save(home, "index.docker.io", "hub", "pw", &err);
	tap_is_int(rc, 0, "save docker.io");
	rc = berth_login_save(home, "team.example", "t", "1", &err);
	rc |= berth_login_save(home, "team.example", "t", "2", &err);
	tap_is_int(rc, 0, "save the same host twice");
	tap_ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "rewritten with mode 0600");
	j = load_json(path);
	json_t *auths = json_object_get(j, "auths");
	tap_ok(json_object_get(auths, "keep.example") != NULL, "other entry kept");
	tap_ok(json_object_get(j, "credHelpers") != NULL, "other top-level keys kept");
	tap_ok(json_object_get(auths, "docker.io") == NULL, "old docker.io alias replaced");
	tap_is_str(berth_json_str(json_object_get(auths, "https://index.docker.io/v1/"), "auth"),
		   "aHViOnB3", "docker.io saved under Docker's key");
	tap_is_str(berth_json_str(json_object_get(auths, "team.example"), "auth"), "dDoy",
		   "second save replaced the first");
	tap_ok(json_object_get(auths, "team.example/ns") != NULL, "namespace entry kept");
	json_decref(j);

	struct berth_cred_source src = {.home = home, .user_home = tmpdir};
	check_lookup(&src, &(struct lookup_case){"docker.io", "hub", "pw", "berth login"},
		     "after login");

	rc = berth_login_remove(home, "docker.io", &err);
	tap_is_int(rc, 0, "logout docker.io");
	j = load_json(path);
	auths = json_object_get(j, "auths");
	tap_ok(json_object_get(auths, "https://index.docker.io/v1/") == NULL, "docker.io removed");
	tap_ok(json_object_get(auths, "keep.example") && json_object_get(auths, "team.example"),
	       "others kept after logout");
	json_decref(j);
	tap_ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "mode 0600 after logout");

	rc = berth_login_remove(home, "docker.io", &err);
	tap_ok(rc == -BERTH_E_NOT_FOUND && err && strstr(err->msg, "not logged in to 'docker.io'"),
	       "logout twice: not found");
	berth_err_free(err);
	err = NULL;
	char *other = berth_xasprintf("%s/nobody", tmpdir);
	rc = berth_login_remove(other, "x.example", &err);
	tap_ok(rc == -BERTH_E_NOT_FOUND, "logout without a file: not found");
	berth_err_free(err);
	err = NULL;

	rc = berth_login_save(home, "x.example", "a:b", "p", &err);
	tap_ok(rc == -BERTH_E_INVALID && err && strstr(err->msg, "'a:b'"),
	       "a username with ':' is refused");
	berth_err_free(err);
	err = NULL;
	rc = berth_login_save(home, "x.example", "a", "", &err);
	tap_ok(rc == -BERTH_E_INVALID, "an empty password is refused");
	berth_err_free(err);
	err = NULL;

	write_file(path, "\n");
	rc = berth_login_save(home, "x.example", "a", "b", &err);
	tap_is_int(rc, 0, "an empty auth.json reads as {}");
	berth_err_free(err);
	err = NULL;

	write_file(path, "not json");
	rc = berth_login_save(home, "x.example", "a", "b", &err);
	tap_ok(rc == -BERTH_E_INVALID, "a corrupt auth.json is not overwritten");
	berth_err_free(err);
	struct berth_buf b;
	berth_buf_init(&b, 100);
	berth_fs_read_file(path, 100, &b, NULL);
	tap_is_str(b.data, "not json", "the corrupt file is left as it was");
	berth_buf_release(&b);
	free(home), free(path), free(other);
}

static void test_host_is_local(void)
{
	static const char *local[] = {"localhost", "localhost:5000", "LOCALHOST",
				      "127.0.0.1", "127.0.0.1:5000", "127.1.2.3:1",
				      "[::1]",     "[::1]:5000",     "::1"};
	static const char *remote[] = {"128.0.0.1",
				       "example.com",
				       "localhost.example.com",
				       "10.0.0.1:5000",
				       "[::2]",
				       "127.0.0.1:abc",
				       "127.0.0.1:",
				       "",
				       "localhost:123456",
				       "docker.io",
				       "[::1",
				       "127.0.0"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(local); i++)
		tap_ok(berth_registry_host_is_local(local[i]), "'%s' is local", local[i]);
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(remote); i++)
		tap_ok(!berth_registry_host_is_local(remote[i]), "'%s' is not local", remote[i]);
	tap_ok(!berth_registry_host_is_local(NULL), "NULL is not local");
}

/* ------------------------------------------------------- URLs and errors */

static void test_urls(void)
{
	static const struct {
		const char *base, *loc, *want;
	} cases[] = {
	    {"http://h:5/v2/", "http://other/x?a=1", "http://other/x?a=1"},
	    {"http://h:5/v2/", "/v2/r/blobs/uploads/u?_state=s",
	     "http://h:5/v2/r/blobs/uploads/u?_state=s"},
	    {"https://h/v2/r/blobs/d", "//cdn.example/b?sig=1", "https://cdn.example/b?sig=1"},
	    {"https://h/v2/r/blobs/d?x=1", "e", "https://h/v2/r/blobs/e"},
	    {"https://h", "e", "https://h/e"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		char *got = berth__reg_resolve_against(cases[i].base, cases[i].loc);
		tap_is_str(got, cases[i].want, "resolve '%s' against '%s'", cases[i].loc,
			   cases[i].base);
		free(got);
	}

	struct berth_registry *r = NULL;
	berth_registry_new("127.0.0.1:5001", &(struct berth_registry_opts){0}, &r, NULL);
	tap_is_str(r->origin, "http://127.0.0.1:5001", "a local host gets plain http");
	tap_ok(berth__reg_same_origin(r, "http://127.0.0.1:5001/v2/x"), "same origin");
	tap_ok(berth__reg_same_origin(r, "HTTP://127.0.0.1:5001?x"), "same origin, other case");
	tap_ok(!berth__reg_same_origin(r, "http://127.0.0.1:50011/v2/"), "longer port differs");
	tap_ok(!berth__reg_same_origin(r, "https://127.0.0.1:5001/v2/"), "scheme differs");
	tap_ok(!berth__reg_same_origin(r, "http://127.0.0.1:5001.evil/v2/"), "host suffix differs");
	berth_registry_free(r);
	berth_registry_new("ghcr.io", &(struct berth_registry_opts){0}, &r, NULL);
	tap_is_str(r->origin, "https://ghcr.io", "a remote host gets https");
	berth_registry_free(r);
	berth_registry_new("docker.io", &(struct berth_registry_opts){.insecure = false}, &r, NULL);
	tap_is_str(r->origin, "https://registry-1.docker.io", "docker.io is served by registry-1");
	berth_registry_free(r);
	berth_registry_new("reg.lan:5000", &(struct berth_registry_opts){.insecure = true}, &r,
			   NULL);
	tap_is_str(r->origin, "http://reg.lan:5000", "insecure gets plain http");
	berth_registry_free(r);

	static const char *good[] = {"busybox", "library/busybox", "a/b-c/d_e.f", "a__b", "a---b"};
	static const char *bad[] = {"",       "Busybox", "a//b", "/a", "a/", "../x",
				    "a/../b", "a?b",     "a b",  "-a", "a.", "a..b"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(good); i++)
		tap_ok(berth__reg_check_repo(good[i], NULL) == 0, "repository '%s' accepted",
		       good[i]);
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(bad); i++)
		tap_ok(berth__reg_check_repo(bad[i], NULL) < 0, "repository '%s' refused", bad[i]);

	tap_is_int(berth__reg_backoff_ms(0, NULL), BERTH__REG_BACKOFF_MS, "first backoff");
	tap_is_int(berth__reg_backoff_ms(2, NULL), 4 * BERTH__REG_BACKOFF_MS, "backoff doubles");
	tap_is_int(berth__reg_backoff_ms(0, "3"), 3000, "Retry-After seconds honoured");
	tap_is_int(berth__reg_backoff_ms(0, "99999"), BERTH__REG_RETRY_AFTER_MAX * 1000,
		   "Retry-After capped");
	tap_is_int(berth__reg_backoff_ms(0, "Wed, 21 Oct 2015 07:28:00 GMT"), BERTH__REG_BACKOFF_MS,
		   "a past Retry-After date: the plain backoff");
}

static void test_status_errors(void)
{
	struct berth_registry *r = NULL;
	struct berth_registry_opts o = {.cred = {.username = "alice", .password = "wrong"}};
	berth_registry_new("127.0.0.1:5001", &o, &r, NULL);
	r->auth = BERTH__AUTH_BASIC;
	struct berth__req q;
	berth__req_init(&q, "pull 'busybox'", "GET", berth_xstrdup("http://127.0.0.1:5001/v2/"));
	q.status = 401;
	berth_buf_addstr(&q.body, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":"
				  "\"authentication required\",\"detail\":null}]}");
	struct berth_err *err = NULL;
	int rc = berth__reg_status_error(r, &q, &err);
	tap_is_int(rc, -BERTH_E_AUTH, "401 is an auth error");
	tap_is_str(err ? err->msg : NULL,
		   "registry '127.0.0.1:5001': pull 'busybox': unauthorized: authentication "
		   "required (log in with 'berth login 127.0.0.1:5001' or check the password)",
		   "401 message names the registry and the fix");
	berth_err_free(err);
	err = NULL;

	q.status = 404;
	berth_buf_reset(&q.body);
	berth_buf_addstr(&q.body,
			 "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest "
			 "unknown\",\"detail\":{\"Tag\":\"nope\"}},{\"code\":\"NAME_UNKNOWN\","
			 "\"message\":\"repository name not known to registry\"}]}");
	rc = berth__reg_status_error(r, &q, &err);
	tap_is_int(rc, -BERTH_E_NOT_FOUND, "404 is not found");
	tap_is_str(err ? err->msg : NULL,
		   "registry '127.0.0.1:5001': pull 'busybox': manifest unknown; name unknown: "
		   "repository name not known to registry",
		   "every error of the body, code words once");
	berth_err_free(err);
	err = NULL;

	q.status = 502;
	berth_buf_reset(&q.body);
	berth_buf_addstr(&q.body, "<html>bad gateway</html>");
	rc = berth__reg_status_error(r, &q, &err);
	tap_is_int(rc, -BERTH_E_SYS, "502 is a system error");
	tap_ok(err && strstr(err->msg, "HTTP 502 bad gateway") && strstr(err->msg, "try again"),
	       "a body that is not JSON: the status and a hint");
	berth_err_free(err);
	berth__req_release(&q);
	berth_registry_free(r);
}

/* ------------------------------------------------ a scripted HTTP server */

/* What the fake servers saw of one request. */
struct fake_req {
	char method[16];
	char path[2048];
	char auth[512]; /* Authorization, or "" */
	char content_range[64];
	int64_t body_len;
};

struct fake;
/* Build the whole answer (status line, headers, body) into resp. */
typedef void (*fake_fn)(struct fake *f, const struct fake_req *q, struct berth_buf *resp);

/* A one-connection-at-a-time HTTP/1.1 server on 127.0.0.1 (Connection:
 * close), so the tests can answer anything a registry or a storage host
 * might: redirects, corrupt bytes, 503s, lost chunks. */
struct fake {
	int lfd, port;
	pthread_t thread;
	atomic_bool stop;
	fake_fn fn;
	struct fake *peer; /* the other server, for cross-host redirects */
	pthread_mutex_t lock;
	struct berth_strv log; /* "METHOD PATH auth=...": what was asked */
	int state;             /* for the handlers */
	int count;
};

static void fake_log(struct fake *f, const struct fake_req *q)
{
	pthread_mutex_lock(&f->lock);
	berth_strv_pushf(&f->log, "%s %s auth=%s%s%s", q->method, q->path, q->auth,
			 q->content_range[0] ? " range=" : "", q->content_range);
	pthread_mutex_unlock(&f->lock);
}

static bool fake_logged(struct fake *f, const char *needle)
{
	pthread_mutex_lock(&f->lock);
	bool found = false;
	for (size_t i = 0; i < f->log.n && !found; i++)
		found = strstr(f->log.v[i], needle) != NULL;
	pthread_mutex_unlock(&f->lock);
	return found;
}

static int fake_count(struct fake *f, const char *needle)
{
	pthread_mutex_lock(&f->lock);
	int n = 0;
	for (size_t i = 0; i < f->log.n; i++)
		n += strstr(f->log.v[i], needle) != NULL;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void fake_reply(struct berth_buf *resp, int status, const char *headers, const void *body,
		       size_t len)
{
	berth_buf_addf(resp, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
		       status, len, headers ? headers : "");
	berth_buf_add(resp, body, len);
}

static void header_value(const char *head, const char *name, char *out, size_t size)
{
	out[0] = '\0';
	size_t n = strlen(name);
	for (const char *p = head; (p = strchr(p, '\n'));) {
		p++;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			size_t l = strcspn(v, "\r\n");
			if (l >= size)
				l = size - 1;
			memcpy(out, v, l);
			out[l] = '\0';
			return;
		}
	}
}

static void fake_serve(struct fake *f, int fd)
{
	char head[16384];
	size_t got = 0;
	char *end = NULL;
	while (!end && got < sizeof(head) - 1) {
		ssize_t n = read(fd, head + got, sizeof(head) - 1 - got);
		if (n <= 0)
			return;
		got += (size_t)n;
		head[got] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	if (!end)
		return;
	struct fake_req q = {0};
	if (sscanf(head, "%15s %2047s", q.method, q.path) != 2)
		return;
	header_value(head, "Authorization", q.auth, sizeof(q.auth));
	header_value(head, "Content-Range", q.content_range, sizeof(q.content_range));
	char cl[32];
	header_value(head, "Content-Length", cl, sizeof(cl));
	q.body_len = cl[0] ? strtoll(cl, NULL, 10) : 0;
	/* Drain the body: what was already read, then the rest. */
	int64_t left = q.body_len - (int64_t)(got - (size_t)(end + 4 - head));
	char buf[65536];
	while (left > 0) {
		ssize_t n = read(fd, buf, left < (int64_t)sizeof(buf) ? (size_t)left : sizeof(buf));
		if (n <= 0)
			return;
		left -= n;
	}
	fake_log(f, &q);
	struct berth_buf resp;
	berth_buf_init(&resp, BERTH_BUF_UNLIMITED);
	f->fn(f, &q, &resp);
	for (size_t off = 0; off < resp.len;) {
		ssize_t n = write(fd, resp.data + off, resp.len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	berth_buf_release(&resp);
}

static void *fake_thread(void *arg)
{
	struct fake *f = arg;
	while (!atomic_load(&f->stop)) {
		struct pollfd p = {.fd = f->lfd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		fake_serve(f, fd);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

static void fake_start(struct fake *f, fake_fn fn)
{
	*f = (struct fake){.fn = fn, .lock = PTHREAD_MUTEX_INITIALIZER};
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(f->lfd, 16) < 0 || getsockname(f->lfd, (struct sockaddr *)&a, &len) < 0)
		BUG("fake server: %s", strerror(errno));
	f->port = ntohs(a.sin_port);
	pthread_create(&f->thread, NULL, fake_thread, f);
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	berth_strv_release(&f->log);
}

static const char blob_data[] = "the blob's bytes, exactly these";
static char blob_digest[BERTH_DIGEST_LEN + 1];

/* The registry: Bearer auth with tokens "tok1", "tok2"...; blobs redirect
 * to the storage peer. state 1: the first token is refused once. */
static void registry_fn(struct fake *f, const struct fake_req *q, struct berth_buf *resp)
{
	char hdr[512];
	if (strncmp(q->path, "/token", 6) == 0) {
		f->count++;
		char body[128];
		snprintf(body, sizeof(body), "{\"token\":\"tok%d\",\"expires_in\":10}", f->count);
		fake_reply(resp, 200, "Content-Type: application/json\r\n", body, strlen(body));
		return;
	}
	bool token_ok = strncmp(q->auth, "Bearer tok", 10) == 0 &&
			!(f->state == 1 && strcmp(q->auth, "Bearer tok1") == 0);
	if (!token_ok) {
		snprintf(hdr, sizeof(hdr),
			 "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:%d/token\","
			 "service=\"fake\"%s\r\n",
			 f->port,
			 strcmp(q->path, "/v2/") == 0 ? "" : ",scope=\"repository:r:pull\"");
		static const char e[] = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":"
					"\"authentication required\"}]}";
		fake_reply(resp, 401, hdr, e, strlen(e));
		return;
	}
	if (strstr(q->path, "/blobs/sha256:0000")) {
		static const char e[] = "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":"
					"\"blob unknown to registry\"}]}";
		fake_reply(resp, 404, NULL, e, strlen(e));
		return;
	}
	if (strncmp(q->path, "/v2/r/blobs/", 12) == 0) {
		snprintf(hdr, sizeof(hdr), "Location: http://127.0.0.1:%d/storage/b?sig=1\r\n",
			 f->peer->port);
		fake_reply(resp, 307, hdr, "", 0);
		return;
	}
	if (strncmp(q->path, "/v2/r/manifests/", 16) == 0) {
		static const char m[] = "{\"schemaVersion\":2}";
		fake_reply(resp, 200,
			   "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n", m,
			   strlen(m));
		return;
	}
	fake_reply(resp, 200, NULL, "{}", 2);
}

/* Storage: state 0 serves the blob; state 1 corrupts the first answer;
 * state 2 answers 503 with Retry-After: 0 first. */
static void storage_fn(struct fake *f, const struct fake_req *q, struct berth_buf *resp)
{
	f->count++;
	if (f->state == 1 && f->count == 1) {
		char bad[sizeof(blob_data)];
		memcpy(bad, blob_data, sizeof(bad));
		bad[3] ^= 1;
		fake_reply(resp, 200, NULL, bad, sizeof(blob_data) - 1);
		return;
	}
	if (f->state == 2 && f->count == 1) {
		fake_reply(resp, 503, "Retry-After: 0\r\n", "busy", 4);
		return;
	}
	fake_reply(resp, 200, NULL, blob_data, sizeof(blob_data) - 1);
}

struct mem_sink {
	struct berth_buf b;
	int resets;
};

static int mem_write(void *ctx, const void *data, size_t len, struct berth_err **err)
{
	struct mem_sink *s = ctx;
	berth_buf_add(&s->b, data, len);
	return 0;
}

static int mem_reset(void *ctx, struct berth_err **err)
{
	struct mem_sink *s = ctx;
	berth_buf_reset(&s->b);
	s->resets++;
	return 0;
}

static void fetch_once(struct fake *reg, const char *label, int resets)
{
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", reg->port);
	struct berth_registry *r = NULL;
	struct berth_registry_opts o = {.cred = {.username = "u", .password = "p"}};
	berth_registry_new(host, &o, &r, NULL);
	struct mem_sink s = {.resets = 0};
	berth_buf_init(&s.b, 1 << 20);
	struct berth_blob_job job = {.digest = blob_digest,
				     .size = (int64_t)sizeof(blob_data) - 1,
				     .sink = mem_write,
				     .reset = mem_reset,
				     .ctx = &s};
	struct berth_err *err = NULL;
	int rc = berth_registry_fetch_blobs(r, "r", &job, 1, NULL, NULL, &err);
	tap_is_int(rc, 0, "%s: the download succeeds", label);
	if (err)
		tap_diag("error", err->msg);
	tap_is_str(s.b.data, blob_data, "%s: the sink holds exactly the blob", label);
	tap_is_int(s.resets, resets, "%s: resets", label);
	berth_err_free(err);
	berth_err_free(job.err);
	berth_buf_release(&s.b);
	berth_registry_free(r);
}

static void test_fetch_redirect(void)
{
	berth_sha256_hex(blob_data, sizeof(blob_data) - 1, blob_digest + 7);
	memcpy(blob_digest, "sha256:", 7);
	struct fake reg, store;
	fake_start(&reg, registry_fn);
	fake_start(&store, storage_fn);
	reg.peer = &store;

	fetch_once(&reg, "redirect to storage", 0);
	tap_ok(fake_logged(&reg, "GET /token?service=fake&scope=repository%3Ar%3Apull&account=u "
				 "auth=Basic dTpw"),
	       "token asked for the pull scope with Basic credentials");
	char want[256];
	snprintf(want, sizeof(want), "GET /v2/r/blobs/%s auth=Bearer tok1", blob_digest);
	tap_ok(fake_logged(&reg, want), "the registry got the bearer token");
	tap_ok(fake_logged(&store, "GET /storage/b?sig=1 auth="), "storage got the request");
	tap_ok(!fake_logged(&store, "auth=B"), "storage never saw an Authorization header");

	store.state = 1, store.count = 0;
	fetch_once(&reg, "corrupt first answer", 1);
	tap_is_int(store.count, 2, "corrupt: fetched twice");
	store.state = 2, store.count = 0;
	fetch_once(&reg, "503 first", 1);
	tap_is_int(store.count, 2, "503: fetched twice");

	/* A token refused once is renewed (tok1 refused, tok2 accepted). */
	reg.state = 1, reg.count = 0, store.state = 0;
	fetch_once(&reg, "renewed token", 0);
	tap_is_int(reg.count, 2, "renew: two token requests");
	snprintf(want, sizeof(want), "GET /v2/r/blobs/%s auth=Bearer tok2", blob_digest);
	tap_ok(fake_logged(&reg, want), "renew: the second token was used");

	/* More jobs than parallel slots, one of them missing. */
	{
		char host[64];
		snprintf(host, sizeof(host), "127.0.0.1:%d", reg.port);
		struct berth_registry *r = NULL;
		berth_registry_new(host, &(struct berth_registry_opts){0}, &r, NULL);
		enum { NJOBS = 3 * BERTH_REGISTRY_PARALLEL + 1 };
		struct mem_sink sinks[NJOBS];
		struct berth_blob_job jobs[NJOBS];
		char zero[BERTH_DIGEST_LEN + 1];
		snprintf(zero, sizeof(zero), "sha256:%064d", 0);
		for (int i = 0; i < NJOBS; i++) {
			sinks[i] = (struct mem_sink){.resets = 0};
			berth_buf_init(&sinks[i].b, 1 << 20);
			jobs[i] = (struct berth_blob_job){.digest = i == 5 ? zero : blob_digest,
							  .size = -1,
							  .sink = mem_write,
							  .reset = mem_reset,
							  .ctx = &sinks[i]};
		}
		struct berth_err *err = NULL;
		int rc = berth_registry_fetch_blobs(r, "r", jobs, NJOBS, NULL, NULL, &err);
		tap_is_int(rc, -BERTH_E_NOT_FOUND,
			   "many jobs: the missing one's error is returned");
		tap_ok(err && strstr(err->msg, "blob unknown to registry") &&
			   strstr(err->msg, zero),
		       "many jobs: the error names the blob");
		int good = 0;
		for (int i = 0; i < NJOBS; i++) {
			good += jobs[i].result == 0 && strcmp(sinks[i].b.data, blob_data) == 0 &&
				jobs[i].received == (int64_t)sizeof(blob_data) - 1;
			berth_err_free(jobs[i].err);
			berth_buf_release(&sinks[i].b);
		}
		tap_is_int(good, NJOBS - 1, "many jobs: all the others arrived intact");
		tap_ok(jobs[5].result == -BERTH_E_NOT_FOUND,
		       "many jobs: the missing one failed alone");
		berth_err_free(err);
		berth_registry_free(r);
	}

	/* expires_in 10 is clamped to 60: the second manifest reuses tok1. */
	reg.state = 0, reg.count = 0;
	pthread_mutex_lock(&reg.lock);
	berth_strv_release(&reg.log);
	pthread_mutex_unlock(&reg.lock);
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", reg.port);
	struct berth_registry *r = NULL;
	berth_registry_new(host, &(struct berth_registry_opts){0}, &r, NULL);
	for (int i = 0; i < 2; i++) {
		struct berth_buf b;
		berth_buf_init(&b, 1 << 20);
		char *mt = NULL;
		char d[BERTH_DIGEST_LEN + 1];
		struct berth_err *err = NULL;
		int rc = berth_registry_get_manifest(r, "r", "latest", &b, &mt, d, &err);
		tap_is_int(rc, 0, "manifest %d through the token flow", i + 1);
		tap_is_str(mt, "application/vnd.oci.image.manifest.v1+json", "manifest %d type",
			   i + 1);
		berth_err_free(err);
		free(mt);
		berth_buf_release(&b);
	}
	tap_is_int(reg.count, 1, "one anonymous token for both (lifetime clamped to 60 s)");
	tap_ok(fake_logged(&reg, "GET /token?service=fake&scope=repository%3Ar%3Apull auth="),
	       "anonymous token request has no account");
	tap_ok(!fake_logged(&reg, "auth=Basic"), "... and no Authorization");
	berth_registry_free(r);
	fake_stop(&reg);
	fake_stop(&store);
}

/* Uploads: POST -> relative Location with a query; PATCH 2 is "lost" (500,
 * distribution's answer to an out-of-order chunk) once; the client asks the
 * session for its Range and resumes. */
static void upload_fn(struct fake *f, const struct fake_req *q, struct berth_buf *resp)
{
	char hdr[256];
	if (strcmp(q->method, "HEAD") == 0) {
		fake_reply(resp, 404, NULL, "", 0);
	} else if (strcmp(q->method, "POST") == 0) {
		fake_reply(resp, 202, "Location: /v2/big/blobs/uploads/u1?_state=s0\r\n", "", 0);
	} else if (strcmp(q->method, "PATCH") == 0) {
		long long a = 0, b = 0;
		sscanf(q->content_range, "%lld-%lld", &a, &b);
		if (a > 0 && f->state == 0) {
			f->state = 1; /* lose this one */
			fake_reply(resp, 500, NULL, "", 0);
			return;
		}
		f->count = (int)(b / BERTH_REGISTRY_CHUNK);
		snprintf(hdr, sizeof(hdr),
			 "Location: http://127.0.0.1:%d/v2/big/blobs/uploads/u1?_state=s%lld\r\n"
			 "Range: 0-%lld\r\n",
			 f->port, b + 1, b);
		fake_reply(resp, 202, hdr, "", 0);
	} else if (strcmp(q->method, "GET") == 0) {
		snprintf(hdr, sizeof(hdr), "Range: 0-%lld\r\n",
			 (long long)BERTH_REGISTRY_CHUNK - 1);
		fake_reply(resp, 204, hdr, "", 0);
	} else if (strcmp(q->method, "PUT") == 0) {
		fake_reply(resp, 201, NULL, "", 0);
	} else {
		fake_reply(resp, 405, NULL, "", 0);
	}
}

static void test_chunked_resync(void)
{
	struct fake up;
	fake_start(&up, upload_fn);
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", up.port);
	char *path = berth_xasprintf("%s/big", tmpdir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int64_t size = (int64_t)BERTH_REGISTRY_MONOLITHIC_MAX + 1000;
	if (fd < 0 || ftruncate(fd, size) < 0)
		BUG("cannot make '%s'", path);
	/* Zeros: digest computed the same way the client never does. */
	static char zeros[1 << 16];
	struct berth_sha256 h;
	berth_sha256_init(&h);
	for (int64_t left = size; left > 0; left -= (int64_t)sizeof(zeros))
		berth_sha256_update(&h, zeros,
				    left < (int64_t)sizeof(zeros) ? (size_t)left : sizeof(zeros));
	char digest[BERTH_DIGEST_LEN + 1];
	berth_sha256_final_digest(&h, digest);

	struct berth_registry *r = NULL;
	berth_registry_new(host, &(struct berth_registry_opts){0}, &r, NULL);
	bool uploaded = false;
	struct berth_err *err = NULL;
	int rc = berth_registry_push_blob(r, "big", digest, size, fd, NULL, &uploaded, &err);
	tap_is_int(rc, 0, "chunked upload with a lost chunk succeeds");
	if (err)
		tap_diag("error", err->msg);
	tap_ok(uploaded, "it was uploaded");
	char want[128];
	snprintf(want, sizeof(want), "PATCH /v2/big/blobs/uploads/u1?_state=s0 auth= range=0-%u",
		 BERTH_REGISTRY_CHUNK - 1);
	tap_ok(fake_logged(&up, want), "first PATCH at the relative Location, query kept");
	snprintf(want, sizeof(want), "range=%u-%u", BERTH_REGISTRY_CHUNK,
		 2 * BERTH_REGISTRY_CHUNK - 1);
	tap_is_int(fake_count(&up, want), 2, "the lost chunk was sent again");
	snprintf(want, sizeof(want), "GET /v2/big/blobs/uploads/u1?_state=s%u",
		 BERTH_REGISTRY_CHUNK);
	tap_ok(fake_logged(&up, want), "the session's Range was asked after the loss");
	snprintf(want, sizeof(want), "PUT /v2/big/blobs/uploads/u1?_state=s%lld&digest=%s",
		 (long long)size, digest);
	tap_ok(fake_logged(&up, want), "closing PUT carries the digest after the query");
	tap_is_int(fake_count(&up, "POST "), 1, "one session");
	berth_err_free(err);
	berth_registry_free(r);
	close(fd);
	unlink(path);
	free(path);
	fake_stop(&up);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_challenge_forms();
	test_auth_learn();
	test_scopes_key();
	test_base64();
	test_normalize();
	test_creds_lookup();
	test_login();
	test_host_is_local();
	test_urls();
	test_status_errors();
	test_fetch_redirect();
	test_chunked_resync();
	berth_fs_remove_tree(AT_FDCWD, tmpdir, NULL);
	return tap_done();
}
