/* `berth deploy APP`: send an app to a berth server. The app's files (its
 * build context, and an SDK app's directory) go to the server's file store
 * first, content-addressed; then the spec and the list of files, and the
 * server builds (its output streams here), records a revision and rolls
 * it out. */
#include "app/app.h"
#include "build/build.h"
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: berth deploy APP [--app-name NAME] [--strategy rolling|recreate] [--no-cache]\n"
    "                        [--reset-scale] [--message M] [--server URL]\n"
    "\n"
    "Deploy an app (FILE.py::Class, a berth.yaml, or a directory holding one) to a\n"
    "berth server (berth serve): its files are uploaded, the server builds the image\n"
    "(the build's output shows here), makes a new revision and rolls it out:\n"
    "rolling (the default) starts the new runners before the old ones drain;\n"
    "recreate stops the old ones first. Prints the sync and queue URLs.\n"
    "--reset-scale drops scaling set by `berth apps scale`.\n";

/* The most that one deploy uploads. */
#define DEPLOY_FILES_MAX 10000

struct walk {
	const char *server;
	const char *root;                        /* directory walked */
	const char *prefix;                      /* "context" or "app" */
	const struct berth_dockerignore *ignore; /* the context's .dockerignore, or NULL */
	json_t *files;
	struct berth_err *err;
};

/* nftw has no context pointer. */
static struct walk *walking;

static bool skipped(const char *name)
{
	return !strcmp(name, ".git") || !strcmp(name, "__pycache__") || !strcmp(name, ".venv");
}

static int upload(const char *server, const char *path, const char *name, char *digest_out,
		  struct berth_err **err)
{
	struct berth_buf b;
	berth_buf_init(&b, 64u << 20);
	int r = berth_fs_read_file(path, 64u << 20, &b, err);
	if (r < 0) {
		berth_buf_release(&b);
		return r;
	}
	struct berth_sha256 h;
	berth_sha256_init(&h);
	berth_sha256_update(&h, b.data, b.len);
	char digest[BERTH_DIGEST_LEN + 1];
	berth_sha256_final_digest(&h, digest);
	_cleanup_free_ char *esc = berth_xstrdup(name);
	for (char *p = esc; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
			*p = '_';
	_cleanup_free_ char *url = berth_xasprintf("/v1/files?name=%s", esc);
	struct berth_buf out;
	berth_buf_init(&out, 1u << 20);
	long status = 0;
	r = cli_http(server, "POST", url, "application/octet-stream", b.data, b.len, &status, &out,
		     err);
	if (r == 0 && (status < 200 || status >= 300)) {
		json_t *j = json_loads(out.data, 0, NULL);
		const char *m =
		    json_string_value(json_object_get(json_object_get(j, "error"), "message"));
		r = berth_err_set(err, BERTH_E_SYS, "upload '%s': %ld %s", path, status,
				  m ? m : out.data);
		json_decref(j);
	}
	berth_buf_release(&out);
	berth_buf_release(&b);
	if (r == 0)
		memcpy(digest_out, digest, sizeof(digest));
	return r;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct walk *w = walking;
	const char *base = path + ftw->base;
	if (type == FTW_D && ftw->level > 0 && skipped(base))
		return FTW_SKIP_SUBTREE;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return FTW_CONTINUE;
	if (json_array_size(w->files) >= DEPLOY_FILES_MAX) {
		berth_err_set(&w->err, BERTH_E_LIMIT,
			      "'%s' holds over %d files: too many to deploy", w->root,
			      DEPLOY_FILES_MAX);
		return FTW_STOP;
	}
	const char *rel = path + strlen(w->root);
	while (*rel == '/')
		rel++;
	/* What the build would not see is not sent either (a .env, keys). */
	if (berth_dockerignore_match(w->ignore, rel))
		return FTW_CONTINUE;
	char digest[BERTH_DIGEST_LEN + 1];
	if (upload(w->server, path, base, digest, &w->err) < 0)
		return FTW_STOP;
	_cleanup_free_ char *dest = berth_xasprintf("%s/%s", w->prefix, rel);
	json_array_append_new(w->files, json_pack("{s:s, s:s, s:i}", "path", dest, "digest", digest,
						  "mode", (int)(st->st_mode & 0777)));
	return FTW_CONTINUE;
}

static int send_dir(const char *server, const char *root, const char *prefix, json_t *files,
		    struct berth_err **err)
{
	/* The directory's .dockerignore decides what is sent, for the build
	 * context and an SDK app's code alike. */
	struct berth_dockerignore *ig = NULL;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "open '%s'", root);
	int r = berth_dockerignore_load(fd, &ig, err);
	close(fd);
	if (r < 0)
		return berth_err_prefix(err, "%s/.dockerignore", root);
	struct walk w = {server, root, prefix, ig, files, NULL};
	walking = &w;
	r = nftw(root, visit, 32, FTW_PHYS | FTW_ACTIONRETVAL);
	walking = NULL;
	berth_dockerignore_free(ig);
	if (w.err) {
		*err = w.err;
		return -1;
	}
	if (r < 0)
		return berth_err_sys(err, errno, "read '%s'", root);
	return 0;
}

struct result {
	struct berth_buf tail; /* the output after the last newline */
	json_t *res;
};

/* Build output to stderr as it comes; the result line kept. */
static void on_chunk(void *ctx, const char *p, size_t n)
{
	struct result *r = ctx;
	static const char tag[] = "berth-deploy-result ";
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n') {
			berth_buf_addch(&r->tail, p[i]);
			continue;
		}
		if (!strncmp(r->tail.data, tag, sizeof(tag) - 1)) {
			json_decref(r->res);
			r->res = json_loads(r->tail.data + sizeof(tag) - 1, 0, NULL);
		} else if (r->tail.len) {
			fprintf(stderr, "%s\n", r->tail.data);
		}
		berth_buf_reset(&r->tail);
	}
}

static int deploy(const char *server, const char *arg, const char *name, const char *strategy,
		  bool no_cache, bool reset_scale, const char *message)
{
	struct berth_err *err = NULL;
	struct berth_app_spec spec = {0};
	_cleanup_free_ char *path = NULL;
	if (berth_app_load(arg, NULL, &spec, &err) < 0)
		return cli_fail(err, NULL);
	json_t *j = berth_app_to_json(&spec);
	json_t *files = json_array();
	json_t *image = json_object_get(j, "image");
	int rc = CLI_FAIL;
	fprintf(stderr, "berth: deploying '%s' to %s\n", name ? name : spec.name, server);
	if (!spec.image_ref && spec.context) {
		if (send_dir(server, spec.context, "context", files, &err) < 0)
			goto fail;
		json_object_set_new(image, "context", json_string("context"));
	}
	if (spec.dockerfile_path) {
		json_object_del(image, "dockerfile_path");
		json_object_set_new(image, "dockerfile", json_string(spec.dockerfile));
	}
	if (spec.kind == BERTH_APP_SDK) {
		_cleanup_free_ char *dir = berth_xstrdup(spec.sdk_file);
		_cleanup_free_ char *base = berth_xstrdup(spec.sdk_file);
		if (send_dir(server, dirname(dir), "app", files, &err) < 0)
			goto fail;
		_cleanup_free_ char *file = berth_xasprintf("app/%s", basename(base));
		json_object_set_new(json_object_get(j, "sdk"), "file", json_string(file));
	}
	fprintf(stderr, "berth: sent %zu files\n", json_array_size(files));
	json_t *body = json_pack("{s:O, s:O, s:s, s:b, s:b}", "spec", j, "files", files, "strategy",
				 strategy, "no_cache", no_cache, "reset_scale", reset_scale);
	if (message)
		json_object_set_new(body, "message", json_string(message));
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	path = berth_xasprintf("/v1/apps/%s/deploy", name ? name : spec.name);
	struct result res = {.res = NULL};
	berth_buf_init(&res.tail, 1u << 20);
	long status = 0;
	int r = cli_http_stream(server, "POST", path, "application/json", text, strlen(text),
				&status, on_chunk, &res, &err);
	free(text);
	if (r == 0 && res.tail.len)
		on_chunk(&res, "\n", 1);
	if (r < 0) {
		cli_fail(err, NULL);
	} else if (status != 200) {
		rc = cli_http_fail(status, &res.tail);
	} else if (!json_is_true(json_object_get(res.res, "ok"))) {
		const char *e = json_string_value(json_object_get(res.res, "error"));
		fprintf(stderr, "berth: deploy failed: %s\n",
			e ? e : "the server ended the deploy without a result");
	} else {
		printf("deployed %s revision %lld\n  sync:  %s\n  queue: %s\n",
		       json_string_value(json_object_get(res.res, "app")),
		       (long long)json_integer_value(json_object_get(res.res, "revision")),
		       json_string_value(json_object_get(res.res, "sync_url")),
		       json_string_value(json_object_get(res.res, "queue_url")));
		rc = CLI_OK;
	}
	json_decref(res.res);
	berth_buf_release(&res.tail);
	json_decref(j);
	json_decref(files);
	berth_app_spec_release(&spec);
	return rc;
fail:
	json_decref(j);
	json_decref(files);
	berth_app_spec_release(&spec);
	return cli_fail(err, NULL);
}

int cmd_deploy(int argc, char **argv)
{
	enum { O_NO_CACHE = 256, O_RESET, O_STRATEGY, O_NAME, O_SERVER, O_MESSAGE };
	static const struct option opts[] = {
	    {"app-name", required_argument, NULL, O_NAME},
	    {"strategy", required_argument, NULL, O_STRATEGY},
	    {"no-cache", no_argument, NULL, O_NO_CACHE},
	    {"force-env-build", no_argument, NULL, O_NO_CACHE},
	    {"reset-scale", no_argument, NULL, O_RESET},
	    {"message", required_argument, NULL, O_MESSAGE},
	    {"server", required_argument, NULL, O_SERVER},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *name = NULL, *strategy = "rolling", *server = NULL, *message = NULL;
	bool no_cache = false, reset = false;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_NAME:
			name = optarg;
			break;
		case O_STRATEGY:
			if (strcmp(optarg, "rolling") && strcmp(optarg, "recreate"))
				return cli_usage("deploy", "--strategy '%s': rolling or recreate",
						 optarg);
			strategy = optarg;
			break;
		case O_NO_CACHE:
			no_cache = true;
			break;
		case O_RESET:
			reset = true;
			break;
		case O_MESSAGE:
			message = optarg;
			break;
		case O_SERVER:
			server = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("deploy", "invalid option");
		}
	}
	if (optind != argc - 1)
		return cli_usage("deploy", "deploy takes one app (FILE.py::Class, berth.yaml or a "
					   "directory)");
	return deploy(cli_server_url(server), argv[optind], name, strategy, no_cache, reset,
		      message);
}
