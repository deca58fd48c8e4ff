/* A registry token server for tests (distribution's token.md, the reference
 * §1.4): GET /token?service=&scope=...[&account=] with optional Basic auth
 * answers an RS256 JWT signed with --key whose x5c carries --cert. Anonymous
 * callers get pull only; users get what --grant says (default pull,push). */
#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#define USERS_MAX (1u << 20)

static const char usage[] =
    "usage: token_server --listen 127.0.0.1:PORT --key token.key --cert token.crt\n"
    "                    --issuer ISSUER --service SERVICE --users FILE\n"
    "                    [--grant USER=REPO:ACTION,ACTION]... [--expires-in SECONDS]\n"
    "                    [--log FILE]\n"
    "FILE holds user:password lines. REPO may be '*'. A user without --grant\n"
    "gets pull,push everywhere; anonymous callers get pull only. PORT 0 picks one.\n";

static struct {
	EVP_PKEY *key;
	char *x5c; /* base64 DER of the certificate */
	const char *issuer, *service;
	struct berth_strv users;  /* "user:password" */
	struct berth_strv grants; /* "user=repo:actions" */
	long expires_in;
	FILE *log;
	pthread_mutex_t lock;
} S = {.expires_in = 300, .lock = PTHREAD_MUTEX_INITIALIZER};

static char *b64(const void *data, size_t len)
{
	char *out = berth_xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

static char *b64url(const void *data, size_t len)
{
	char *s = b64(data, len);
	size_t n = strlen(s);
	while (n && s[n - 1] == '=')
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return s;
}

static char *b64url_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	if (!s)
		berth_oom();
	char *out = b64url(s, strlen(s));
	free(s);
	return out;
}

/* Who is asking: 1 a known user (*user set), 0 anonymous, -1 bad. */
static int authenticate(struct MHD_Connection *c, char **user)
{
	*user = NULL;
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (!h)
		return 0;
	if (strncasecmp(h, "Basic ", 6) != 0)
		return -1;
	const char *t = h + 6;
	size_t n = strlen(t);
	if (!n || n % 4 || n > 4096)
		return -1;
	unsigned char raw[4096];
	int got = EVP_DecodeBlock(raw, (const unsigned char *)t, (int)n);
	if (got < 0)
		return -1;
	while (n && t[n - 1] == '=') {
		n--;
		got--;
	}
	raw[got] = '\0';
	if (strlen((char *)raw) != (size_t)got)
		return -1;
	if (!berth_strv_contains(&S.users, (char *)raw))
		return -1;
	*user = berth_xstrndup((char *)raw, strcspn((char *)raw, ":"));
	return 1;
}

static bool has_action(const char *list, const char *a)
{
	size_t n = strlen(a);
	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");
		if (l == n && strncmp(p, a, n) == 0)
			return true;
		p += l;
		if (*p == ',')
			p++;
	}
	return false;
}

/* May `user` (NULL: anonymous) do `action` on repository `name`? */
static bool allowed(const char *user, const char *name, const char *action)
{
	if (!user)
		return strcmp(action, "pull") == 0;
	size_t ul = strlen(user);
	bool any_grant = false;
	for (size_t i = 0; i < S.grants.n; i++) {
		const char *g = S.grants.v[i];
		if (strncmp(g, user, ul) != 0 || g[ul] != '=')
			continue;
		any_grant = true;
		const char *repo = g + ul + 1;
		const char *colon = strrchr(repo, ':');
		if (!colon)
			continue;
		size_t rl = (size_t)(colon - repo);
		bool match = (rl == 1 && repo[0] == '*') ||
			     (rl == strlen(name) && strncmp(repo, name, rl) == 0);
		if (match && has_action(colon + 1, action))
			return true;
	}
	if (any_grant)
		return false;
	return strcmp(action, "pull") == 0 || strcmp(action, "push") == 0;
}

struct args {
	struct berth_strv scopes;
	const char *service, *account;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct args *a = cls;
	if (!value)
		return MHD_YES;
	if (strcmp(key, "scope") == 0)
		berth_strv_push(&a->scopes, value);
	else if (strcmp(key, "service") == 0)
		a->service = value;
	else if (strcmp(key, "account") == 0)
		a->account = value;
	return MHD_YES;
}

/* "repository:name:pull,push" -> {"type","name","actions":[granted]}. */
static json_t *grant(const char *user, const char *scope)
{
	const char *first = strchr(scope, ':');
	const char *last = strrchr(scope, ':');
	if (!first || first == last)
		return NULL;
	_cleanup_free_ char *type = berth_xstrndup(scope, (size_t)(first - scope));
	_cleanup_free_ char *name = berth_xstrndup(first + 1, (size_t)(last - first - 1));
	json_t *actions = json_array();
	for (const char *p = last + 1; *p;) {
		size_t l = strcspn(p, ",");
		_cleanup_free_ char *a = berth_xstrndup(p, l);
		if (*a && allowed(user, name, a))
			json_array_append_new(actions, json_string(a));
		p += l;
		if (*p == ',')
			p++;
	}
	return json_pack("{s:s,s:s,s:o}", "type", type, "name", name, "actions", actions);
}

static char *make_token(const char *user, const char *service, const struct berth_strv *scopes)
{
	time_t now = time(NULL);
	unsigned char rnd[16];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		BUG("RAND_bytes failed");
	rnd[6] = (unsigned char)((rnd[6] & 0x0f) | 0x40);
	rnd[8] = (unsigned char)((rnd[8] & 0x3f) | 0x80);
	char jti[37];
	snprintf(jti, sizeof(jti),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9], rnd[10],
		 rnd[11], rnd[12], rnd[13], rnd[14], rnd[15]);
	json_t *access = json_array();
	for (size_t i = 0; i < scopes->n; i++) {
		json_t *g = grant(user, scopes->v[i]);
		if (g)
			json_array_append_new(access, g);
	}
	json_t *header = json_pack("{s:s,s:s,s:[s]}", "typ", "JWT", "alg", "RS256", "x5c", S.x5c);
	json_t *claims =
	    json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:o}", "iss", S.issuer, "sub", user ? user : "",
		      "aud", service, "exp", (json_int_t)(now + S.expires_in), "nbf",
		      (json_int_t)(now - 10), "iat", (json_int_t)now, "jti", jti, "access", access);
	_cleanup_free_ char *h = b64url_json(header);
	_cleanup_free_ char *c = b64url_json(claims);
	json_decref(header);
	json_decref(claims);
	_cleanup_free_ char *signing = berth_xasprintf("%s.%s", h, c);

	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t siglen = 0;
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, S.key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)signing, strlen(signing)) != 1)
		BUG("cannot set up RS256 signing");
	_cleanup_free_ unsigned char *sig = berth_xmalloc(siglen);
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)signing, strlen(signing)) != 1)
		BUG("RS256 signing failed");
	EVP_MD_CTX_free(md);
	_cleanup_free_ char *s = b64url(sig, siglen);
	return berth_xasprintf("%s.%s", signing, s);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Basic realm=\"token\"");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void log_request(const struct args *a, const char *auth, unsigned status)
{
	if (!S.log)
		return;
	pthread_mutex_lock(&S.lock);
	fprintf(S.log, "GET /token account=%s auth=%s", a->account ? a->account : "-", auth);
	for (size_t i = 0; i < a->scopes.n; i++)
		fprintf(S.log, " scope=%s", a->scopes.v[i]);
	fprintf(S.log, " -> %u\n", status);
	fflush(S.log);
	pthread_mutex_unlock(&S.lock);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	if (strcmp(method, "GET") != 0 || strcmp(url, "/token") != 0)
		return reply(c, 404,
			     "{\"errors\":[{\"code\":\"NOT_FOUND\",\"message\":\"GET /token "
			     "only\"}]}");
	struct args a = {0};
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect, &a);
	_cleanup_free_ char *user = NULL;
	int who = authenticate(c, &user);
	const char *auth = who < 0 ? "bad" : who ? "basic" : "none";
	if (who < 0) {
		log_request(&a, auth, 401);
		berth_strv_release(&a.scopes);
		return reply(c, 401,
			     "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":"
			     "\"invalid username or password\"}]}");
	}
	_cleanup_free_ char *token = make_token(user, a.service ? a.service : S.service, &a.scopes);
	char issued[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(issued, sizeof(issued), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *body = json_pack("{s:s,s:s,s:I,s:s}", "token", token, "access_token", token,
				 "expires_in", (json_int_t)S.expires_in, "issued_at", issued);
	_cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	log_request(&a, auth, 200);
	berth_strv_release(&a.scopes);
	return reply(c, 200, text);
}

static int load(const char *key, const char *cert, const char *users)
{
	FILE *f = fopen(key, "r");
	if (!f || !(S.key = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
		fprintf(stderr, "token_server: cannot read the private key '%s'\n", key);
		return -1;
	}
	fclose(f);
	f = fopen(cert, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (!x) {
		fprintf(stderr, "token_server: cannot read the certificate '%s'\n", cert);
		return -1;
	}
	fclose(f);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	if (n <= 0)
		return -1;
	S.x5c = b64(der, (size_t)n);
	OPENSSL_free(der);
	X509_free(x);

	struct berth_buf b;
	berth_buf_init(&b, USERS_MAX);
	struct berth_err *err = NULL;
	if (berth_fs_read_file(users, USERS_MAX, &b, &err) < 0) {
		fprintf(stderr, "token_server: %s\n", err->msg);
		berth_err_free(err);
		return -1;
	}
	char *save = NULL;
	for (char *line = strtok_r(b.data, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save))
		if (strchr(line, ':'))
			berth_strv_push(&S.users, line);
	berth_buf_release(&b);
	return 0;
}

int main(int argc, char **argv)
{
	const char *listen = NULL, *key = NULL, *cert = NULL, *users = NULL, *logpath = NULL;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (!v) {
			fputs(usage, stderr);
			return 2;
		}
		i++;
		if (strcmp(o, "--listen") == 0)
			listen = v;
		else if (strcmp(o, "--key") == 0)
			key = v;
		else if (strcmp(o, "--cert") == 0)
			cert = v;
		else if (strcmp(o, "--issuer") == 0)
			S.issuer = v;
		else if (strcmp(o, "--service") == 0)
			S.service = v;
		else if (strcmp(o, "--users") == 0)
			users = v;
		else if (strcmp(o, "--grant") == 0 && strchr(v, '='))
			berth_strv_push(&S.grants, v);
		else if (strcmp(o, "--expires-in") == 0)
			S.expires_in = strtol(v, NULL, 10);
		else if (strcmp(o, "--log") == 0)
			logpath = v;
		else {
			fprintf(stderr, "token_server: unknown or bad option '%s'\n%s", o, usage);
			return 2;
		}
	}
	if (!listen || !key || !cert || !S.issuer || !S.service || !users) {
		fputs(usage, stderr);
		return 2;
	}
	struct sockaddr_in sin = {.sin_family = AF_INET};
	const char *colon = strrchr(listen, ':');
	_cleanup_free_ char *addr = colon ? berth_xstrndup(listen, (size_t)(colon - listen)) : NULL;
	if (!colon || inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "token_server: --listen wants IPV4:PORT, not '%s'\n", listen);
		return 2;
	}
	sin.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	if (load(key, cert, users) < 0)
		return 1;
	if (logpath && !(S.log = fopen(logpath, "a"))) {
		fprintf(stderr, "token_server: cannot open '%s': %s\n", logpath, strerror(errno));
		return 1;
	}

	/* Block the stop signals before MHD starts its thread, so that only
	 * sigwait below sees them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
						0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR,
						(struct sockaddr *)&sin, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "token_server: cannot listen on %s\n", listen);
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("token_server: listening on http://%s:%u/token\n", addr,
	       info ? info->port : ntohs(sin.sin_port));
	fflush(stdout);

	int sig;
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	EVP_PKEY_free(S.key);
	free(S.x5c);
	berth_strv_release(&S.users);
	berth_strv_release(&S.grants);
	if (S.log)
		fclose(S.log);
	return 0;
}
