/* `berth build`: a Dockerfile to an image in the store, BuildKit's way. */
#include "app/app.h"
#include "build/build.h"
#include "cli/cli.h"
#include "cli/validate_image.h"
#include "image/image.h"
#include "registry/registry.h"
#include "secrets/secrets.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: berth build [-f FILE|-] [--dockerfile-str STR] [-t NAME:TAG] [--context DIR]\n"
    "                   [--target STAGE] [--build-arg K=V]... [--no-cache|--force-env-build]\n"
    "                   [--secret id=ID,env=VAR|id=ID,src=FILE|id=ID,value=$NAME]...\n"
    "                   [--registry-auth HOST=USER:$NAME]... [--runtime NAME|PATH]\n"
    "                   [--ssh ID[=SOCKET]]... [--progress auto|plain|json] [--explain] [-q]\n"
    "\n"
    "Build an image from a Dockerfile with BuildKit's semantics: only the stages the\n"
    "target needs, RUN steps in containers, COPY from the build context (honouring\n"
    ".dockerignore) or from other stages, and a layer cache keyed like BuildKit's\n"
    "(--no-cache skips lookups but still records). The context defaults to the\n"
    "Dockerfile's directory with -f FILE, and to none otherwise. Prints the image's\n"
    "manifest digest last. --explain prints what each step's cache key is made of.\n"
    "--secret gives RUN --mount=type=secret,id=ID its value:\n"
    "from an environment variable, a file, or the secret store ($NAME, see\n"
    "berth secrets); values never enter layers, history or cache keys.\n"
    "--registry-auth gives credentials for pulling FROM images from HOST, the\n"
    "password usually a secret of the store ($NAME).\n"
    "--ssh default[=SOCKET] lets RUN --mount=type=ssh (and ADD of a git@ source)\n"
    "reach an SSH agent: SOCKET, or $SSH_AUTH_SOCK.\n"
    "--progress plain prints each step, CACHED or why it missed, and RUN output on\n"
    "stderr (auto, the default, is plain too); json prints one JSON object per\n"
    "line per event instead (see docs/build.md), secret values masked.\n";

struct secrets {
	struct berth_build_secret *v;
	size_t n;
};

static void secrets_release(struct secrets *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].id);
		berth_secret_free(s->v[i].value, s->v[i].len);
	}
	free(s->v);
}

/* --secret id=ID,env=VAR | id=ID,src=FILE | id=ID,value=$NAME */
static int add_secret(struct secrets *out, const char *spec, struct berth_err **err)
{
	_cleanup_free_ char *copy = berth_xstrdup(spec);
	const char *id = NULL, *env = NULL, *src = NULL, *value = NULL;
	char *save = NULL;
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return berth_err_set(err, BERTH_E_INVALID,
					     "--secret '%s': '%s' is not KEY=VALUE", spec, kv);
		*eq++ = '\0';
		if (!strcmp(kv, "id"))
			id = eq;
		else if (!strcmp(kv, "env"))
			env = eq;
		else if (!strcmp(kv, "src") || !strcmp(kv, "source"))
			src = eq;
		else if (!strcmp(kv, "value"))
			value = eq;
		else
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "--secret '%s': unknown key '%s' (id, env, src, value)", spec, kv);
	}
	if (!id || !*id || !!env + !!src + !!value != 1)
		return berth_err_set(err, BERTH_E_INVALID,
				     "--secret '%s': give id= and one of env=, src= or value=$NAME",
				     spec);
	char *data = NULL;
	size_t len = 0;
	if (env) {
		const char *v = getenv(env);
		if (!v)
			return berth_err_set(err, BERTH_E_NOT_FOUND,
					     "--secret id=%s: $%s is not set", id, env);
		data = berth_xstrdup(v);
		len = strlen(v);
	} else if (src) {
		struct berth_buf b;
		berth_buf_init(&b, BERTH_SECRET_VALUE_MAX);
		if (berth_fs_read_file(src, BERTH_SECRET_VALUE_MAX, &b, err) < 0) {
			berth_buf_release(&b);
			return berth_err_prefix(err, "--secret id=%s", id);
		}
		len = b.len;
		data = berth_buf_steal(&b, NULL);
		if (!data)
			data = berth_xstrdup("");
	} else {
		struct berth_secrets *store;
		if (berth_secrets_open(cli_home(), &store, err) < 0)
			return berth_err_prefix(err, "--secret id=%s", id);
		int r = berth_secrets_resolve(store, value, &data, &len, err);
		berth_secrets_close(store);
		if (r < 0)
			return berth_err_prefix(err, "--secret id=%s", id);
	}
	out->v = berth_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
	out->v[out->n++] = (struct berth_build_secret){berth_xstrdup(id), data, len};
	return 0;
}

struct agents {
	struct berth_build_ssh *v;
	size_t n;
};

static void agents_release(struct agents *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].id);
		free(a->v[i].socket);
	}
	free(a->v);
}

/* --ssh ID[=SOCKET]: an SSH agent's socket (default $SSH_AUTH_SOCK). */
static int add_ssh(struct agents *out, const char *spec, struct berth_err **err)
{
	const char *eq = strchr(spec, '=');
	_cleanup_free_ char *id = berth_xstrndup(spec, eq ? (size_t)(eq - spec) : strlen(spec));
	const char *sock = eq ? eq + 1 : getenv("SSH_AUTH_SOCK");
	if (!*id || strchr(id, ','))
		return berth_err_set(err, BERTH_E_INVALID,
				     "--ssh '%s': give ID or ID=SOCKET (ID usually default)", spec);
	if (!sock || !*sock)
		return berth_err_set(err, BERTH_E_INVALID,
				     "--ssh %s: $SSH_AUTH_SOCK is not set; start ssh-agent or give "
				     "%s=SOCKET",
				     id, id);
	struct stat st;
	if (stat(sock, &st) < 0)
		return berth_err_sys(err, errno, "--ssh %s: '%s'", id, sock);
	if (!S_ISSOCK(st.st_mode))
		return berth_err_set(err, BERTH_E_INVALID,
				     "--ssh %s: '%s' is not a socket; give an SSH agent's socket "
				     "(key files are not supported)",
				     id, sock);
	out->v = berth_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
	out->v[out->n++] = (struct berth_build_ssh){steal_pointer(&id), berth_xstrdup(sock)};
	return 0;
}

/* What the command line asked for. */
struct build_cli {
	const char *file, *str, *tag, *context, *target, *runtime;
	struct berth_strv args;
	bool no_cache, explain, quiet, json;
	struct secrets secrets;
	struct agents ssh;
	json_t *registries; /* --registry-auth, passwords resolved */
};

/* --registry-auth HOST=USER:PASSWORD, the password usually $NAME from the
 * secret store: credentials for pulling FROM images from HOST. */
static int add_registry_auth(struct build_cli *c, const char *spec, struct berth_err **err)
{
	const char *eq = strchr(spec, '=');
	const char *colon = eq ? strchr(eq + 1, ':') : NULL;
	if (!eq || eq == spec || !colon || colon == eq + 1 || !colon[1])
		return berth_err_set(err, BERTH_E_INVALID,
				     "--registry-auth '%s': expected HOST=USER:$SECRET", spec);
	_cleanup_free_ char *host = berth_xstrndup(spec, (size_t)(eq - spec));
	_cleanup_free_ char *user = berth_xstrndup(eq + 1, (size_t)(colon - eq - 1));
	char *pw = NULL;
	size_t len = 0;
	if (colon[1] == '$') {
		struct berth_secrets *store;
		if (berth_secrets_open(cli_home(), &store, err) < 0)
			return berth_err_prefix(err, "--registry-auth %s", host);
		int r = berth_secrets_resolve(store, colon + 1, &pw, &len, err);
		berth_secrets_close(store);
		if (r < 0)
			return berth_err_prefix(err, "--registry-auth %s", host);
	} else {
		pw = berth_xstrdup(colon + 1);
		len = strlen(pw);
	}
	if (!c->registries)
		c->registries = json_object();
	json_object_set_new(c->registries, host,
			    json_pack("{s:s, s:s%}", "username", user, "password", pw, len));
	berth_secret_free(pw, len);
	return 0;
}

/* FROM images that are not in the store are pulled, as docker build does,
 * with --registry-auth credentials before the usual ones. */
static int pull(void *ctx, struct berth_store *s, const char *ref,
		char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	const struct build_cli *c = ctx;
	/* json: stderr holds events only */
	return cli_pull(s, ref, c->registries, c->quiet || c->json, digest, err);
}

static int build(struct build_cli *c)
{
	_cleanup_buf_ struct berth_buf df;
	berth_buf_init(&df, 16u << 20);
	struct berth_err *err = NULL;
	if (c->file && berth_fs_read_file(c->file, 16u << 20, &df, &err) < 0)
		return cli_fail(err, NULL);
	if (c->str)
		berth_buf_addstr(&df, c->str);
	_cleanup_free_ char *dir = NULL;
	const char *context = c->context;
	if (!context && c->file && strcmp(c->file, "-") != 0) {
		_cleanup_free_ char *copy = berth_xstrdup(c->file);
		dir = berth_xstrdup(dirname(copy));
		context = dir;
	}
	_cleanup_free_ char *name = c->tag ? cli_canonical(c->tag) : NULL;
	if (c->tag && !name)
		return CLI_USAGE;
	/* A build killed mid-RUN leaves a runner like a killed `container run`. */
	cli_recover_runners();
	struct berth_store *s;
	if (cli_open_store(&s) != CLI_OK)
		return CLI_FAIL;
	struct berth_build_opts o = {
	    .dockerfile = df.data ? df.data : "",
	    .dockerfile_len = df.len,
	    .dockerfile_name = c->file ? c->file : "Dockerfile",
	    .context = context,
	    .target = c->target,
	    .build_args = &c->args,
	    .tag = name,
	    .no_cache = c->no_cache,
	    .explain = c->explain,
	    .runtime = c->runtime,
	    .secrets = c->secrets.v,
	    .nsecrets = c->secrets.n,
	    .ssh = c->ssh.v,
	    .nssh = c->ssh.n,
	    .progress = c->quiet ? NULL : stderr,
	    .progress_json = c->json,
	    .pull = cli_pull_allowed() ? pull : NULL,
	    .pull_ctx = c,
	};
	char digest[BERTH_DIGEST_LEN + 1];
	int r = berth_build(s, &o, digest, &err);
	berth_store_close(s);
	if (r < 0 && c->json && !c->quiet) {
		/* The error as one more event, so stderr stays all JSON. */
		_cleanup_json_ json_t *e = json_pack("{s:s, s:s}", "type", "error", "message",
						     err && err->msg ? err->msg : "build failed");
		if (err && err->line > 0)
			json_object_set_new(e, "line", json_integer(err->line));
		char *text = json_dumps(e, JSON_COMPACT);
		fprintf(stderr, "%s\n", text ? text : "{\"type\":\"error\"}");
		free(text);
		berth_err_free(err);
		return CLI_FAIL;
	}
	if (r < 0)
		return cli_fail(err, err && err->line > 0 ? o.dockerfile_name : NULL);
	/* The image checks that apply to any image (caches left in layers);
	 * `berth lint --image NAME --sdk|--gpu` adds an app's. */
	if (name && !c->quiet && !c->json) {
		struct berth_app_spec plain = {.kind = BERTH_APP_SERVER};
		cli_validate_app_image(&plain, name);
	}
	printf("%s\n", digest);
	return CLI_OK;
}

int cmd_build(int argc, char **argv)
{
	enum {
		O_STR = 256,
		O_CTX,
		O_TARGET,
		O_ARG,
		O_NOCACHE,
		O_RUNTIME,
		O_SECRET,
		O_EXPLAIN,
		O_REGAUTH,
		O_PROGRESS,
		O_SSH,
	};
	static const struct option opts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"dockerfile-str", required_argument, NULL, O_STR},
	    {"tag", required_argument, NULL, 't'},
	    {"context", required_argument, NULL, O_CTX},
	    {"target", required_argument, NULL, O_TARGET},
	    {"build-arg", required_argument, NULL, O_ARG},
	    {"no-cache", no_argument, NULL, O_NOCACHE},
	    {"force-env-build", no_argument, NULL, O_NOCACHE},
	    {"runtime", required_argument, NULL, O_RUNTIME},
	    {"secret", required_argument, NULL, O_SECRET},
	    {"registry-auth", required_argument, NULL, O_REGAUTH},
	    {"explain", no_argument, NULL, O_EXPLAIN},
	    {"progress", required_argument, NULL, O_PROGRESS},
	    {"ssh", required_argument, NULL, O_SSH},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct build_cli c = {0};
	struct berth_err *err = NULL;
	int opt, rc = CLI_USAGE;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:t:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			c.file = optarg;
			break;
		case O_STR:
			c.str = optarg;
			break;
		case 't':
			c.tag = optarg;
			break;
		case O_CTX:
			c.context = optarg;
			break;
		case O_TARGET:
			c.target = optarg;
			break;
		case O_ARG:
			berth_strv_push(&c.args, optarg);
			break;
		case O_NOCACHE:
			c.no_cache = true;
			break;
		case O_RUNTIME:
			c.runtime = optarg;
			break;
		case 'q':
			c.quiet = true;
			break;
		case O_EXPLAIN:
			c.explain = true;
			break;
		case O_PROGRESS:
			/* auto would redraw on a terminal; berth prints plain lines
			 * there too. */
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "plain") != 0 &&
			    strcmp(optarg, "auto") != 0) {
				cli_usage("build", "--progress '%s': give auto, plain or json",
					  optarg);
				goto out;
			}
			c.json = !strcmp(optarg, "json");
			break;
		case O_SECRET:
			if (add_secret(&c.secrets, optarg, &err) < 0) {
				rc = cli_fail(err, NULL);
				goto out;
			}
			break;
		case O_SSH:
			if (add_ssh(&c.ssh, optarg, &err) < 0) {
				rc = cli_fail(err, NULL);
				goto out;
			}
			break;
		case O_REGAUTH:
			if (add_registry_auth(&c, optarg, &err) < 0) {
				rc = cli_fail(err, NULL);
				goto out;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			rc = CLI_OK;
			goto out;
		default:
			cli_usage("build", "invalid option");
			goto out;
		}
	}
	if (optind != argc)
		cli_usage("build", "unexpected argument '%s' (the context is --context DIR)",
			  argv[optind]);
	else if (!!c.file + !!c.str != 1)
		cli_usage("build", "give the Dockerfile with -f FILE (or -f - for standard input) "
				   "or --dockerfile-str STR");
	else
		rc = build(&c);
out:
	secrets_release(&c.secrets);
	agents_release(&c.ssh);
	berth_strv_release(&c.args);
	json_decref(c.registries);
	return rc;
}
