/* The build: walk the stages the target needs, run each instruction with
 * BuildKit's semantics, reuse cached layers, and write the image. Steps that
 * change the filesystem (RUN, COPY, ADD, WORKDIR) make layers and are keyed
 * like BuildKit keys them (key.c); the others change the config. */
#include "build/build_int.h"
#include "dockerfile/dockerfile.h"
#include "registry/registry.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One layer of the image being built. */
struct layer {
	char chain[BERTH_DIGEST_LEN + 1];
	char diff_id[BERTH_DIGEST_LEN + 1];
	char digest[BERTH_DIGEST_LEN + 1];
	int64_t size;
	char *media_type;
};

/* A stage as far as it has been built. */
struct state {
	struct layer *layers;
	size_t n, cap;
	json_t *cfg;                    /* the whole image config */
	char key[BERTH_DIGEST_LEN + 1]; /* cache key of this state */
	bool cmd_set;                   /* CMD given in this stage */
	const char *name;               /* for progress lines */
};

struct builder {
	struct berth_store *s;
	const struct berth_build_opts *o;
	struct berth_df_file df;
	struct state *st; /* per stage, by index */
	int ctx_fd;
	struct berth__ignore *ig;
	char *work; /* this build's scratch directory (views) */
	int nviews;
	char *scope;             /* names this build's step records: its tag or Dockerfile */
	int stage_idx, step_idx; /* the step being run */
	char *inputs;            /* the current step's inputs, recorded once it succeeds */
	int64_t sde;             /* SOURCE_DATE_EPOCH, or -1 */
	struct berth__reporter rep;
	size_t *skip; /* per stage: leading instructions that only carry the base's ENV */
};

/* ------------------------------------------------------------- state */

static void state_release(struct state *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->layers[i].media_type);
	free(st->layers);
	json_decref(st->cfg);
	memset(st, 0, sizeof(*st));
}

static void state_push(struct state *st, const struct layer *l)
{
	st->layers = berth_xgrow(st->layers, sizeof(*st->layers), st->n + 1, &st->cap);
	st->layers[st->n] = *l;
	st->layers[st->n].media_type = berth_xstrdup(l->media_type);
	st->n++;
}

static void state_copy(struct state *dst, const struct state *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++)
		state_push(dst, &src->layers[i]);
	dst->cfg = json_deep_copy(src->cfg);
	memcpy(dst->key, src->key, sizeof(dst->key));
}

/* parent[key], made an empty object (or array) when it is not one. */
static json_t *json_member(json_t *parent, const char *key, bool array)
{
	json_t *v = json_object_get(parent, key);
	if (array ? !json_is_array(v) : !json_is_object(v)) {
		v = array ? json_array() : json_object();
		json_object_set_new(parent, key, v);
	}
	return v;
}

static json_t *config_of(struct state *st)
{
	return json_member(st->cfg, "config", false);
}

/* The instruction's one argument (USER, STOPSIGNAL, ...), or "". */
static const char *first_arg(const struct berth_df_instr *in)
{
	return in->args.n ? in->args.v[0] : "";
}

static const char *config_str(struct state *st, const char *key)
{
	return json_string_value(json_object_get(config_of(st), key));
}

static void lowers_of(const struct builder *b, const struct state *st, struct berth_strv *out)
{
	for (size_t i = 0; i < st->n; i++)
		berth_strv_push_owned(out, berth_store_layer_dir(b->s, st->layers[i].chain));
}

static void history_add(struct builder *b, struct state *st, const char *created_by, bool empty)
{
	json_t *h = json_member(st->cfg, "history", true);
	char when[32];
	time_t t = b->sde >= 0 ? (time_t)b->sde : time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *e = json_pack("{s:s, s:s, s:s}", "created", when, "created_by", created_by,
			      "comment", "buildkit.dockerfile.v0");
	if (empty)
		json_object_set_new(e, "empty_layer", json_true());
	json_array_append_new(h, e);
}

/* The env list (config Env) as a strv. */
static void env_of(struct state *st, struct berth_strv *out)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(config_of(st), "Env"), i, v)
	    berth_strv_push(out, json_string_value(v));
}

static void env_set(struct state *st, const char *k, const char *v)
{
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	env_of(st, &env);
	berth_env_set(&env, k, v);
	json_t *a = json_array();
	for (size_t i = 0; i < env.n; i++)
		json_array_append_new(a, json_string(env.v[i]));
	json_object_set_new(config_of(st), "Env", a);
}

static json_t *strv_json(const struct berth_strv *v)
{
	json_t *a = json_array();
	for (size_t i = 0; i < v->n; i++)
		json_array_append_new(a, json_string(v->v[i]));
	return a;
}

/* -------------------------------------------------------------- keys */

/* key = sha256(parent key, then each part followed by a NUL). */
static void key_of(const char *parent, const struct berth_strv *parts,
		   char out[BERTH_DIGEST_LEN + 1])
{
	struct berth_sha256 h;
	berth_sha256_init(&h);
	berth_sha256_update(&h, parent, strlen(parent) + 1);
	for (size_t i = 0; i < parts->n; i++)
		berth_sha256_update(&h, parts->v[i], strlen(parts->v[i]) + 1);
	berth_sha256_final_digest(&h, out);
	berth_sha256_release(&h);
}

/* ------------------------------------------------------------- views */

/* A read-only view of a state's filesystem, mounted under the build's
 * scratch directory (in this process's private mount namespace). Returns
 * an fd of its root. */
static int view_open(struct builder *b, const struct state *st, struct berth_err **err)
{
	_cleanup_free_ char *dir = berth_xasprintf("%s/v%d", b->work, b->nviews++);
	if (mkdir(dir, 0700) < 0)
		return berth_err_sys(err, errno, "make '%s'", dir);
	_cleanup_free_ char *mnt = berth_xasprintf("%s/root", dir);
	if (mkdir(mnt, 0755) < 0)
		return berth_err_sys(err, errno, "make '%s'", mnt);
	_cleanup_strv_ struct berth_strv lowers = BERTH_STRV_INIT;
	lowers_of(b, st, &lowers);
	if (berth_rootfs_mount(dir, &lowers, NULL, "root", err) < 0)
		return -1;
	int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "open '%s'", mnt);
	return fd;
}

/* Does `path` (absolute) exist in the view? Symlinks not followed at the end. */
static bool view_has(int view_fd, const char *path)
{
	struct stat st;
	return fstatat(view_fd, path[0] == '/' ? path + 1 : path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* ------------------------------------------------------------ layers */

/* Remember this step's inputs as b->inputs and say how they differ from the
 * last build's (NULL: no record, or the same). The reason is for people:
 * "ARG/ENV VERSION changed", "file requirements.txt changed". */
static char *step_reason(struct builder *b, const char *parent, const struct berth_strv *parts)
{
	_cleanup_json_ json_t *now =
	    json_pack("{s:s, s:o}", "parent", parent, "parts", strv_json(parts));
	free(b->inputs);
	b->inputs = json_dumps(now, JSON_COMPACT);
	_cleanup_free_ char *old_text = NULL;
	if (!b->scope ||
	    berth_store_step_inputs_get(b->s, b->scope, b->stage_idx, b->step_idx, &old_text,
					NULL) < 0 ||
	    !old_text)
		return NULL;
	_cleanup_json_ json_t *old = json_loads(old_text, 0, NULL);
	json_t *old_parts = json_object_get(old, "parts");
	for (size_t i = 0; i < parts->n; i++) {
		const char *p = parts->v[i];
		bool found = false;
		size_t k;
		json_t *v;
		json_array_foreach(old_parts, k, v) found |= !strcmp(json_string_value(v) ?: "", p);
		if (found)
			continue;
		const char *eq;
		if (!strncmp(p, "env=", 4) && (eq = strchr(p + 4, '=')))
			return berth_xasprintf("ARG/ENV %.*s changed", (int)(eq - p - 4), p + 4);
		if (!strncmp(p, "sum:", 4) && (eq = strrchr(p, '=')))
			return berth_xasprintf("file %.*s changed", (int)(eq - p - 4), p + 4);
		if (!strncmp(p, "content=", 8))
			return berth_xstrdup("the downloaded file changed");
		if (!strncmp(p, "commit=", 7))
			return berth_xasprintf("the git ref is now commit %.12s", p + 7);
		if (!strncmp(p, "digest=", 7))
			return berth_xstrdup("base image updated");
		if (!strncmp(p, "mount=", 6))
			return berth_xstrdup("a --mount or its source changed");
		return berth_xstrdup("the instruction changed");
	}
	if (json_array_size(old_parts) != parts->n)
		return berth_xstrdup("the instruction changed");
	const char *op = json_string_value(json_object_get(old, "parent"));
	if (op && strcmp(op, parent) != 0)
		return berth_xstrdup("an earlier step changed");
	return NULL;
}

static void record_inputs(struct builder *b)
{
	if (b->scope && b->inputs)
		berth_store_step_inputs_put(b->s, b->scope, b->stage_idx, b->step_idx, b->inputs,
					    NULL);
}

/* A layer the build made (or found cached) goes on top of the state. */
static void push_layer(struct state *st, const struct berth_cache_rec *rec)
{
	struct layer l = {.size = rec->size, .media_type = (char *)BERTH_MT_OCI_LAYER_GZIP};
	memcpy(l.chain, rec->chain, sizeof(l.chain));
	memcpy(l.diff_id, rec->diff_id, sizeof(l.diff_id));
	memcpy(l.digest, rec->digest, sizeof(l.digest));
	state_push(st, &l);
}

static int add_cached_or_commit(struct builder *b, struct state *st, const char *key,
				const char *scratch, struct berth_err **err)
{
	struct berth__layer nl;
	const char *parent = st->n ? st->layers[st->n - 1].chain : NULL;
	if (berth__commit_layer(b->s, scratch, parent, b->sde, &nl, err) < 0)
		return -1;
	struct berth_cache_rec rec = {0};
	memcpy(rec.chain, nl.chain, sizeof(rec.chain));
	memcpy(rec.diff_id, nl.diff_id, sizeof(rec.diff_id));
	memcpy(rec.digest, nl.digest, sizeof(rec.digest));
	rec.size = nl.size;
	if (berth_store_cache_put(b->s, key, &rec, err) < 0)
		return -1;
	record_inputs(b);
	push_layer(st, &rec);
	return 0;
}

/* A cache hit: the step's layer, as it was made before. A miss says why. */
static bool cache_hit(struct builder *b, struct state *st, const char *key,
		      const struct berth_strv *parts)
{
	_cleanup_free_ char *why = step_reason(b, st->key, parts);
	if (b->o->explain)
		berth__report_explain(&b->rep, key, st->key, parts);
	struct berth_cache_rec rec;
	char chain[BERTH_DIGEST_LEN + 1] = "";
	bool found = !b->o->no_cache && berth_store_cache_get(b->s, key, &rec, NULL) == 0;
	if (found)
		berth_chain_id(st->n ? st->layers[st->n - 1].chain : NULL, rec.diff_id, chain);
	if (!found || strcmp(chain, rec.chain) != 0) {
		berth__report_miss(&b->rep, key,
				   b->o->no_cache ? "--no-cache"
				   : why          ? why
				   : found        ? "the cached layer was made on another parent"
						  : "not built before");
		return false;
	}
	record_inputs(b);
	push_layer(st, &rec);
	berth__report_cached(&b->rep, key);
	return true;
}

static void diff_ids_update(struct state *st)
{
	json_t *ids = json_array();
	for (size_t i = 0; i < st->n; i++)
		json_array_append_new(ids, json_string(st->layers[i].diff_id));
	json_object_set_new(st->cfg, "rootfs",
			    json_pack("{s:s, s:o}", "type", "layers", "diff_ids", ids));
}

/* -------------------------------------------------------------- FROM */

/* The manifest digest a FROM reference names: the store's, else pulled. */
static int resolve_image(struct builder *b, const char *refstr, char digest[BERTH_DIGEST_LEN + 1],
			 struct berth_err **err)
{
	struct berth_ref ref;
	if (berth_ref_parse(refstr, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *name = berth_ref_string(&ref);
	berth_ref_release(&ref);
	struct berth_image_entry e = {0};
	if (berth_store_lookup(b->s, name, &e, NULL) == 0) {
		memcpy(digest, e.digest, BERTH_DIGEST_LEN + 1);
		berth_image_entry_release(&e);
		return 0;
	}
	if (b->o->pull)
		return b->o->pull(b->o->pull_ctx, b->s, refstr, digest, err);
	return berth_err_set(err, BERTH_E_NOT_FOUND, "not in the store; pull it first");
}

/* The base fn of berth__df_load_onbuild: the image's config Env and
 * OnBuild. */
static int image_base(void *ctx, const char *refstr, struct berth_strv *env, struct berth_strv *out,
		      struct berth_err **err)
{
	struct builder *b = ctx;
	char digest[BERTH_DIGEST_LEN + 1];
	struct berth_manifest m;
	struct berth_image_config cfg;
	if (resolve_image(b, refstr, digest, err) < 0 ||
	    berth_image_load(b->s, digest, &m, &cfg, err) < 0)
		return -1;
	size_t i;
	json_t *t;
	json_t *c = json_object_get(cfg.json, "config");
	json_array_foreach(json_object_get(c, "OnBuild"), i, t)
	{
		if (json_is_string(t))
			berth_strv_push(out, json_string_value(t));
	}
	json_array_foreach(json_object_get(c, "Env"), i, t)
	{
		if (json_is_string(t))
			berth_strv_push(env, json_string_value(t));
	}
	berth_manifest_release(&m);
	berth_image_config_release(&cfg);
	return 0;
}

static int from_image(struct builder *b, struct state *st, const char *refstr, bool record,
		      struct berth_err **err)
{
	char digest[BERTH_DIGEST_LEN + 1] = "";
	if (resolve_image(b, refstr, digest, err) < 0)
		return berth_err_prefix(err, "FROM '%s'", refstr);
	int r;
	struct berth_manifest m;
	struct berth_image_config cfg;
	if (berth_image_load(b->s, digest, &m, &cfg, err) < 0)
		return berth_err_prefix(err, "FROM '%s'", refstr);
	r = 0;
	if (m.nlayers != cfg.diff_ids.n)
		r = berth_err_set(err, BERTH_E_INVALID, "FROM '%s': %zu layers but %zu diff_ids",
				  refstr, m.nlayers, cfg.diff_ids.n);
	if (r == 0 && berth_image_unpack(b->s, digest, NULL, NULL, err) < 0)
		r = berth_err_prefix(err, "FROM '%s'", refstr);
	char chain[BERTH_DIGEST_LEN + 1] = "";
	for (size_t i = 0; r == 0 && i < m.nlayers; i++) {
		berth_chain_id(*chain ? chain : NULL, cfg.diff_ids.v[i], chain);
		struct layer l = {.size = m.layers[i].size, .media_type = m.layers[i].media_type};
		memcpy(l.chain, chain, sizeof(l.chain));
		snprintf(l.diff_id, sizeof(l.diff_id), "%s", cfg.diff_ids.v[i]);
		memcpy(l.digest, m.layers[i].digest, sizeof(l.digest));
		state_push(st, &l);
	}
	if (r == 0) {
		st->cfg = json_deep_copy(cfg.json);
		_cleanup_strv_ struct berth_strv parts = BERTH_STRV_INIT;
		berth_strv_push(&parts, "FROM");
		key_of(digest, &parts, st->key);
		berth_strv_pushf(&parts, "digest=%s", digest);
		if (record) {
			_cleanup_free_ char *why = step_reason(b, "", &parts);
			if (why)
				berth__report_info(&b->rep, "%s", why);
			record_inputs(b);
		}
	}
	berth_manifest_release(&m);
	berth_image_config_release(&cfg);
	return r;
}

static int do_from(struct builder *b, size_t idx, struct berth_err **err)
{
	const struct berth_df_stage *sg = &b->df.stages[idx];
	struct state *st = &b->st[idx];
	if (sg->base_stage >= 0) {
		state_copy(st, &b->st[sg->base_stage]);
	} else if (sg->scratch) {
		st->cfg = json_pack("{s:s, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "architecture",
				    "amd64", "os", "linux", "config", "rootfs", "type", "layers",
				    "diff_ids", "history");
		_cleanup_strv_ struct berth_strv parts = BERTH_STRV_INIT;
		berth_strv_push(&parts, "FROM scratch");
		key_of("", &parts, st->key);
	} else if (from_image(b, st, sg->base, true, err) < 0) {
		return -1;
	}
	/* The base's triggers run in this stage (berth__df_load_onbuild put
	 * them first); the image does not pass them on. */
	json_object_del(config_of(st), "OnBuild");
	st->name = sg->name;
	return 0;
}

/* ------------------------------------------------ config instructions */

/* Shell form under the stage's SHELL (default /bin/sh -c). */
static void shell_wrap(struct state *st, const struct berth_df_instr *in, struct berth_strv *out)
{
	if (in->json) {
		for (size_t i = 0; i < in->args.n; i++)
			berth_strv_push(out, in->args.v[i]);
		return;
	}
	json_t *shell = json_object_get(config_of(st), "Shell");
	if (json_array_size(shell)) {
		size_t i;
		json_t *v;
		json_array_foreach(shell, i, v) berth_strv_push(out, json_string_value(v));
	} else {
		berth_strv_push(out, "/bin/sh");
		berth_strv_push(out, "-c");
	}
	berth_strv_push(out, first_arg(in));
}

static void set_object_keys(struct state *st, const char *field, const struct berth_strv *keys)
{
	json_t *o = json_member(config_of(st), field, false);
	for (size_t i = 0; i < keys->n; i++)
		json_object_set_new(o, keys->v[i], json_object());
}

static int config_instr(struct builder *b, struct state *st, const struct berth_df_instr *in,
			struct berth_err **err)
{
	json_t *c = config_of(st);
	_cleanup_strv_ struct berth_strv v = BERTH_STRV_INIT;
	switch (in->kind) {
	case BERTH_DF_ENV:
		for (size_t i = 0; i < in->nkvs; i++)
			env_set(st, in->kvs[i].key, in->kvs[i].value ? in->kvs[i].value : "");
		break;
	case BERTH_DF_LABEL: {
		json_t *l = json_member(c, "Labels", false);
		for (size_t i = 0; i < in->nkvs; i++)
			json_object_set_new(l, in->kvs[i].key,
					    json_string(in->kvs[i].value ? in->kvs[i].value : ""));
		break;
	}
	case BERTH_DF_USER:
		json_object_set_new(c, "User", json_string(first_arg(in)));
		break;
	case BERTH_DF_EXPOSE:
		for (size_t i = 0; i < in->args.n; i++) {
			const char *p = in->args.v[i];
			if (strchr(p, '/'))
				berth_strv_push(&v, p);
			else
				berth_strv_pushf(&v, "%s/tcp", p);
		}
		set_object_keys(st, "ExposedPorts", &v);
		break;
	case BERTH_DF_VOLUME:
		for (size_t i = 0; i < in->args.n; i++)
			if (!*in->args.v[i])
				return berth_err_set_line(err, BERTH_E_INVALID, in->line,
							  "VOLUME: a path must not be empty");
		set_object_keys(st, "Volumes", &in->args);
		break;
	case BERTH_DF_CMD:
		shell_wrap(st, in, &v);
		json_object_set_new(c, "Cmd", strv_json(&v));
		st->cmd_set = true;
		break;
	case BERTH_DF_ENTRYPOINT:
		shell_wrap(st, in, &v);
		json_object_set_new(c, "Entrypoint", strv_json(&v));
		if (!st->cmd_set)
			json_object_set_new(c, "Cmd", json_null());
		break;
	case BERTH_DF_SHELL:
		json_object_set_new(c, "Shell", strv_json(&in->args));
		break;
	case BERTH_DF_STOPSIGNAL:
		json_object_set_new(c, "StopSignal", json_string(first_arg(in)));
		break;
	case BERTH_DF_HEALTHCHECK: {
		json_t *h = json_pack("{s:o}", "Test", strv_json(&in->args));
		if (in->interval)
			json_object_set_new(h, "Interval", json_integer(in->interval));
		if (in->timeout)
			json_object_set_new(h, "Timeout", json_integer(in->timeout));
		if (in->start_period)
			json_object_set_new(h, "StartPeriod", json_integer(in->start_period));
		if (in->start_interval)
			json_object_set_new(h, "StartInterval", json_integer(in->start_interval));
		if (in->retries)
			json_object_set_new(h, "Retries", json_integer(in->retries));
		json_object_set_new(c, "Healthcheck", h);
		break;
	}
	case BERTH_DF_ONBUILD: {
		json_array_append_new(json_member(c, "OnBuild", true), json_string(first_arg(in)));
		break;
	}
	case BERTH_DF_MAINTAINER:
		json_object_set_new(st->cfg, "author", json_string(first_arg(in)));
		break;
	case BERTH_DF_ARG:
		return 0; /* not in the config; values reach RUN through arg_env */
	default:
		return berth_err_set_line(err, BERTH_E_INTERNAL, in->line,
					  "not a config instruction");
	}
	history_add(b, st, in->node && in->node->original ? in->node->original : "", true);
	return 0;
}

/* --------------------------------------------------------------- RUN */

/* The mount points the runtime makes in the rootfs; removed from the layer
 * when the image did not have them (BuildKit does the same). Parents last. */
static const char *const runtime_mountpoints[] = {
    "proc", "sys", "dev", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc", NULL,
};

/* The mount points a RUN may leave in its layer, children before parents:
 * each --mount target and its parents, then the standard ones. */
static void mountpoint_paths(const struct berth_df_instr *in, struct berth_strv *out)
{
	for (size_t i = 0; i < in->nmounts; i++) {
		const char *t = in->mounts[i].target;
		if (!t)
			continue;
		_cleanup_free_ char *p = berth_xstrdup(t[0] == '/' ? t + 1 : t);
		for (;;) {
			if (*p && !berth_strv_contains(out, p))
				berth_strv_push(out, p);
			char *slash = strrchr(p, '/');
			if (!slash)
				break;
			*slash = '\0';
		}
	}
	for (size_t i = 0; runtime_mountpoints[i]; i++)
		if (!berth_strv_contains(out, runtime_mountpoints[i]))
			berth_strv_push(out, runtime_mountpoints[i]);
}

static void prune_mountpoints(const char *scratch, const struct berth_strv *paths, const bool *had)
{
	_cleanup_close_ int fd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; fd >= 0 && i < paths->n; i++) {
		struct stat st;
		if (fstatat(fd, paths->v[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* A directory the image had is in the upper only because a mount
		 * point was made inside it: once empty, it can go too. */
		if (had[i] && !S_ISDIR(st.st_mode))
			continue;
		if (S_ISDIR(st.st_mode))
			unlinkat(fd, paths->v[i], AT_REMOVEDIR); /* only when empty */
		else if (S_ISREG(st.st_mode) && st.st_size == 0)
			unlinkat(fd, paths->v[i], 0);
	}
}

/* The root a bind or cache mount's `from` reads: a stage's view, or the
 * context. Returns an fd (owned by the caller) or -1 with err set. */
static int mount_root(struct builder *b, const struct berth_df_mount *m, struct berth_err **err)
{
	if (m->from_stage >= 0)
		return view_open(b, &b->st[m->from_stage], err);
	if (m->from)
		return berth_err_set(err, BERTH_E_UNSUPPORTED,
				     "from=%s: mounting an image is not supported by this berth "
				     "yet; use FROM %s AS name, then from=name",
				     m->from, m->from);
	if (b->ctx_fd < 0)
		return berth_err_set(err, BERTH_E_INVALID,
				     "a bind mount from the context needs one; give --context DIR");
	int fd = dup(b->ctx_fd);
	return fd < 0 ? berth_err_sys(err, errno, "dup") : fd;
}

/* A bind mount's source keys the step by its content, like COPY. */
static int mount_checksum(struct builder *b, const struct berth_df_mount *m,
			  char out[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	_cleanup_close_ int root = mount_root(b, m, err);
	if (root < 0)
		return -1;
	_cleanup_strv_ struct berth_strv pat = BERTH_STRV_INIT;
	berth_strv_push(&pat, m->source && *m->source ? m->source : "/");
	struct berth__source *src = NULL;
	size_t n = 0;
	const struct berth__ignore *ig = m->from_stage < 0 ? b->ig : NULL;
	int r = berth__sources_resolve(root, &pat, ig, "the mount's source", &src, &n, err);
	if (r == 0)
		r = berth__sources_checksum(root, src, n, ig, out, err);
	berth__sources_free(src, n);
	return r;
}

static const struct berth_build_secret *find_secret(const struct builder *b, const char *id)
{
	for (size_t i = 0; id && i < b->o->nsecrets; i++)
		if (strcmp(b->o->secrets[i].id, id) == 0)
			return &b->o->secrets[i];
	return NULL;
}

static const struct berth_build_ssh *find_ssh(const struct builder *b, const char *id)
{
	for (size_t i = 0; id && i < b->o->nssh; i++)
		if (strcmp(b->o->ssh[i].id, id) == 0)
			return &b->o->ssh[i];
	return NULL;
}

/* RUN --mount: secrets (files on the runtime's tmpfs, or env), caches
 * (persistent directories under $BERTH_HOME/cache/mounts), tmpfs, and
 * bind mounts of the context or a stage. */
static int add_mounts(struct builder *b, const struct berth_df_instr *in,
		      struct berth_container_opts *co, struct berth_err **err)
{
	for (size_t i = 0; i < in->nmounts; i++) {
		const struct berth_df_mount *m = &in->mounts[i];
		switch (m->type) {
		case BERTH_DF_MOUNT_SECRET: {
			const struct berth_build_secret *sec = find_secret(b, m->id);
			if (!sec) {
				if (m->required)
					return berth_err_set(err, BERTH_E_NOT_FOUND,
							     "secret '%s' is required; give it "
							     "with --secret id=%s,...",
							     m->id ? m->id : "",
							     m->id ? m->id : "");
				break;
			}
			berth_strv_push_owned(&co->redact, berth_xstrndup(sec->value, sec->len));
			if (m->env) {
				_cleanup_free_ char *v = berth_xstrndup(sec->value, sec->len);
				berth_env_set(&co->env, m->env, v);
			}
			if (m->target) {
				co->secrets = berth_xrealloc(co->secrets, (co->nsecrets + 1) *
									      sizeof(*co->secrets));
				struct berth_secret_file *f = &co->secrets[co->nsecrets++];
				f->dest = berth_xstrdup(m->target);
				f->data = berth_xmalloc(sec->len ? sec->len : 1);
				memcpy(f->data, sec->value, sec->len);
				f->len = sec->len;
			}
			break;
		}
		case BERTH_DF_MOUNT_CACHE: {
			/* One directory per id, kept across builds, never in a layer. */
			char hex[BERTH_SHA256_HEX_LEN + 1];
			const char *id = m->id ? m->id : m->target;
			berth_sha256_hex(id, strlen(id), hex);
			_cleanup_free_ char *dir =
			    berth_xasprintf("%s/cache/mounts/%.32s", berth_store_home(b->s), hex);
			if (berth_fs_mkdir_p(dir, 0755, err) < 0)
				return -1;
			if (m->uid >= 0 &&
			    chown(dir, (uid_t)m->uid, (gid_t)(m->gid >= 0 ? m->gid : 0)) < 0)
				return berth_err_sys(err, errno, "cache mount '%s'", dir);
			co->binds =
			    berth_xrealloc(co->binds, (co->nbinds + 1) * sizeof(*co->binds));
			co->binds[co->nbinds++] = (struct berth_bind){
			    steal_pointer(&dir), berth_xstrdup(m->target), false};
			break;
		}
		case BERTH_DF_MOUNT_TMPFS:
			if (m->size > 0)
				berth_strv_pushf(&co->tmpfs, "%s:size=%lld", m->target,
						 (long long)m->size);
			else
				berth_strv_push(&co->tmpfs, m->target);
			break;
		case BERTH_DF_MOUNT_BIND: {
			_cleanup_close_ int root = mount_root(b, m, err);
			if (root < 0)
				return -1;
			const char *src = m->source && *m->source ? m->source : "/";
			_cleanup_close_ int fd = berth_fs_open_beneath(root, src, O_PATH, 0, err);
			if (fd < 0)
				return berth_err_prefix(err, "bind mount source '%s'", src);
			co->binds =
			    berth_xrealloc(co->binds, (co->nbinds + 1) * sizeof(*co->binds));
			/* /proc/self/fd would name this process's fd, gone by the time
			 * the runtime mounts: resolve it to a path now. */
			char link[64], path[4096];
			snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
			ssize_t n = readlink(link, path, sizeof(path) - 1);
			if (n < 0)
				return berth_err_sys(err, errno, "bind mount source '%s'", src);
			path[n] = '\0';
			/* A read-write bind's writes are thrown away: BuildKit mounts
			 * a copy; berth mounts read-only (a write fails instead). */
			co->binds[co->nbinds++] = (struct berth_bind){
			    berth_xstrdup(path), berth_xstrdup(m->target), true};
			break;
		}
		case BERTH_DF_MOUNT_SSH: {
			/* The agent's socket itself, bound read-only (connect
			 * needs no write access to a socket); it keeps the
			 * agent's owner and mode. */
			const struct berth_build_ssh *a = find_ssh(b, m->id);
			if (!a) {
				if (m->required)
					return berth_err_set(err, BERTH_E_NOT_FOUND,
							     "ssh agent '%s' is required; give it "
							     "with --ssh %s[=SOCKET]",
							     m->id, m->id);
				break;
			}
			co->binds =
			    berth_xrealloc(co->binds, (co->nbinds + 1) * sizeof(*co->binds));
			co->binds[co->nbinds++] = (struct berth_bind){
			    berth_xstrdup(a->socket), berth_xstrdup(m->target), true};
			/* BuildKit points SSH_AUTH_SOCK at the first one. */
			if (!berth_env_get(&co->env, "SSH_AUTH_SOCK", 13))
				berth_env_set(&co->env, "SSH_AUTH_SOCK", m->target);
			break;
		}
		}
	}
	return 0;
}

/* Where a RUN's `#!` heredoc is mounted, as in BuildKit. */
#define RUN_SCRIPT_DIR "/dev/pipes"

/* A `RUN <<EOF` whose body starts with "#!": BuildKit writes the body to
 * a 0755 file mounted read-only at /dev/pipes/<name> and runs that file,
 * so the kernel starts the body's own interpreter. */
struct run_script {
	char *name; /* the heredoc's name, the file's */
	char *body; /* tabs stripped for `<<-` */
};

static void run_script_release(struct run_script *sc)
{
	free(sc->name);
	free(sc->body);
}

/* The script as a 0755 file in a directory of the build's own, bound
 * read-only at /dev/pipes: on the runtime's /dev tmpfs, never in a layer. */
static int script_mount(struct builder *b, const struct run_script *sc,
			struct berth_container_opts *co, struct berth_err **err)
{
	_cleanup_free_ char *dir = berth_xasprintf("%s/pipes%d", b->work, b->nviews++);
	if (mkdir(dir, 0755) < 0)
		return berth_err_sys(err, errno, "make '%s'", dir);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd =
	    dfd < 0
		? -1
		: openat(dfd, sc->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755);
	if (fd < 0)
		return berth_err_sys(err, errno, "write the script '%s'", sc->name);
	size_t len = strlen(sc->body);
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, sc->body + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return berth_err_sys(err, errno, "write the script '%s'", sc->name);
		off += (size_t)w;
	}
	if (fchmod(fd, 0755) < 0)
		return berth_err_sys(err, errno, "write the script '%s'", sc->name);
	co->binds = berth_xrealloc(co->binds, (co->nbinds + 1) * sizeof(*co->binds));
	co->binds[co->nbinds++] =
	    (struct berth_bind){steal_pointer(&dir), berth_xstrdup(RUN_SCRIPT_DIR), true};
	return 0;
}

/* Run the step's container over the state's layers; its upper directory
 * becomes the new layer. */
/* "; the disk holding ... is full" when the filesystem of dir (a RUN's
 * upper) has under a MiB or no inode left, else "": a RUN that fills the
 * disk mostly fails with its own write error and exit code 1. */
static const char *disk_full_note(const char *dir, char *buf, size_t len)
{
	struct statvfs fs;
	if (statvfs(dir, &fs) < 0)
		return "";
	unsigned long long avail = (unsigned long long)fs.f_bavail * fs.f_frsize;
	if (avail >= (1ull << 20) && (fs.f_files == 0 || fs.f_favail > 0))
		return "";
	snprintf(buf, len,
		 "; the disk is full (%llu KiB%s free where the state directory is): free "
		 "space and build again",
		 avail >> 10, fs.f_files && !fs.f_favail ? ", no inode" : "");
	return buf;
}

static int run_container(struct builder *b, struct state *st, const struct berth_df_instr *in,
			 const struct berth_strv *args, struct berth_strv *env,
			 const struct run_script *sc, const char *key, struct berth_err **err)
{
	const char *cwd = config_str(st, "WorkingDir");
	const char *user = config_str(st, "User");
	bool none = in->network == BERTH_DF_NET_NONE;
	int rc = 0;
	_cleanup_free_ char *scratch = berth_store_layer_scratch(b->s, "build", err);
	if (!scratch)
		return -1;
	_cleanup_strv_ struct berth_strv mountpoints = BERTH_STRV_INIT;
	mountpoint_paths(in, &mountpoints);
	_cleanup_free_ bool *had = berth_xcalloc(mountpoints.n + 1, sizeof(*had));
	_cleanup_close_ int view = view_open(b, st, err);
	if (view < 0) {
		berth_fs_remove_tree(AT_FDCWD, scratch, NULL);
		return -1;
	}
	for (size_t i = 0; i < mountpoints.n; i++)
		had[i] = view_has(view, mountpoints.v[i]);

	for (size_t i = 0; i < in->proxy_env.n; i++)
		berth_strv_push(env, in->proxy_env.v[i]); /* never in the key */
	struct berth_container_opts co = {0};
	lowers_of(b, st, &co.lowers);
	co.set_entrypoint = true;
	berth_strv_copy(&co.entrypoint, args);
	berth_strv_copy(&co.env, env);
	co.cwd = berth_xstrdup(cwd && *cwd ? cwd : "/");
	co.user = berth_xstrdup(user ? user : "");
	co.hostname = berth_xstrdup("buildkitsandbox");
	co.network = none ? BERTH_NET_NONE : BERTH_NET_HOST;
	co.upper_dir = berth_xstrdup(scratch);
	co.rm = true;
	co.runtime = b->o->runtime ? berth_xstrdup(b->o->runtime) : NULL;
	co.image = berth_xstrdup("(build)");
	if (add_mounts(b, in, &co, err) < 0) {
		berth_container_opts_release(&co);
		berth_fs_remove_tree(AT_FDCWD, scratch, NULL);
		return berth_err_prefix(err, "line %d: RUN --mount", in->line);
	}
	if (sc && script_mount(b, sc, &co, err) < 0) {
		berth_container_opts_release(&co);
		berth_fs_remove_tree(AT_FDCWD, scratch, NULL);
		return berth_err_prefix(err, "line %d: RUN <<%s", in->line, sc->name);
	}
	struct berth_runner *r = NULL;
	int code = 0;
	struct berth__relay relay;
	if (berth__report_output_start(&b->rep, &relay, err) < 0) {
		berth_container_opts_release(&co);
		berth_fs_remove_tree(AT_FDCWD, scratch, NULL);
		return -1;
	}
	struct berth_runner_io io = {relay.out_fd, relay.err_fd};
	int ran = berth_runner_create(berth_store_home(b->s), &co, &r, err);
	if (ran == 0)
		ran = berth_runner_run(r, &io, &code, err);
	berth__report_output_end(&relay);
	if (ran < 0) {
		rc = berth_err_prefix(err, "line %d: RUN", in->line);
	} else if (code != 0) {
		char full[160];
		rc = berth_err_set_line(err, BERTH_E_INVALID, in->line,
					"RUN: process \"%s\" did not complete successfully: exit "
					"code: %d%s",
					first_arg(in), code,
					disk_full_note(scratch, full, sizeof(full)));
	}
	berth_runner_free(r);
	berth_container_opts_release(&co);
	if (rc == 0) {
		prune_mountpoints(scratch, &mountpoints, had);
		rc = add_cached_or_commit(b, st, key, scratch, err);
	}
	if (rc < 0)
		berth_fs_remove_tree(AT_FDCWD, scratch, NULL);
	return rc;
}

/* The body of a heredoc as it is used: `<<-` strips leading tabs. */
static char *heredoc_body(const struct berth_df_heredoc *h)
{
	struct berth_buf out;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	for (const char *p = h->content; *p;) {
		if (h->chomp)
			while (*p == '\t')
				p++;
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		berth_buf_add(&out, p, len);
		p += len;
	}
	char *s = berth_buf_steal(&out, NULL);
	return s ? s : berth_xstrdup("");
}

/* RUN with heredocs, BuildKit's way: a command that is only `<<EOF` runs
 * the body as the shell's script, or, when it starts with "#!", as a file
 * of its own (*sc filled, *out untouched); otherwise the bodies follow the
 * command line and the shell reads them as here-documents. */
static int heredoc_command(const struct berth_df_instr *in, struct berth_buf *out,
			   struct run_script *sc, struct berth_err **err)
{
	const struct berth_df_node *n = in->node;
	const char *cmd = first_arg(in);
	while (*cmd == ' ' || *cmd == '\t')
		cmd++;
	bool only_marker =
	    n->nheredocs == 1 && strncmp(cmd, "<<", 2) == 0 && !strpbrk(cmd + 2, " \t|;&><");
	if (only_marker) {
		const struct berth_df_heredoc *h = &n->heredocs[0];
		_cleanup_free_ char *body = heredoc_body(h);
		if (strncmp(h->content, "#!", 2) == 0) {
			if (!*h->name || strchr(h->name, '/') || !strcmp(h->name, ".") ||
			    !strcmp(h->name, ".."))
				return berth_err_set_line(err, BERTH_E_INVALID, in->line,
							  "RUN <<%s: a script's heredoc needs a "
							  "name that can be a file name",
							  h->name);
			sc->name = berth_xstrdup(h->name);
			sc->body = steal_pointer(&body);
			return 0;
		}
		berth_buf_addstr(out, body);
		return 0;
	}
	berth_buf_addstr(out, cmd);
	for (size_t i = 0; i < n->nheredocs; i++)
		berth_buf_addf(out, "\n%s%s", n->heredocs[i].content, n->heredocs[i].name);
	berth_buf_addch(out, '\n');
	return 0;
}

static int do_run(struct builder *b, struct state *st, const struct berth_df_instr *in,
		  struct berth_err **err)
{
	if (in->insecure)
		return berth_err_set_line(err, BERTH_E_UNSUPPORTED, in->line,
					  "RUN --security=insecure is not allowed");
	_cleanup_strv_ struct berth_strv args = BERTH_STRV_INIT, env = BERTH_STRV_INIT,
					 parts = BERTH_STRV_INIT;
	shell_wrap(st, in, &args);
	_cleanup_(run_script_release) struct run_script sc = {0};
	if (!in->json && in->node && in->node->nheredocs) {
		_cleanup_buf_ struct berth_buf cmd;
		berth_buf_init(&cmd, 4u << 20);
		if (heredoc_command(in, &cmd, &sc, err) < 0)
			return -1;
		if (sc.name) {
			berth_strv_release(&args);
			berth_strv_pushf(&args, "%s/%s", RUN_SCRIPT_DIR, sc.name);
		} else {
			free(args.v[args.n - 1]);
			args.v[args.n - 1] = berth_buf_steal(&cmd, NULL);
			if (!args.v[args.n - 1])
				args.v[args.n - 1] = berth_xstrdup("");
		}
	}
	env_of(st, &env);
	/* In-scope ARGs reach the process unless ENV set the same name. */
	for (size_t i = 0; i < in->arg_env.n; i++) {
		const char *kv = in->arg_env.v[i], *eq = strchr(kv, '=');
		if (eq && !berth_env_get(&env, kv, (size_t)(eq - kv)))
			berth_strv_push(&env, kv);
	}
	const char *cwd = config_str(st, "WorkingDir");
	const char *user = config_str(st, "User");
	bool none = in->network == BERTH_DF_NET_NONE;
	berth_strv_push(&parts, "RUN");
	for (size_t i = 0; i < args.n; i++)
		berth_strv_pushf(&parts, "arg=%s", args.v[i]);
	for (size_t i = 0; i < env.n; i++)
		berth_strv_pushf(&parts, "env=%s", env.v[i]);
	berth_strv_pushf(&parts, "cwd=%s", cwd && *cwd ? cwd : "/");
	berth_strv_pushf(&parts, "user=%s", user ? user : "");
	berth_strv_pushf(&parts, "network=%s", none ? "none" : "host");
	/* Mounts count by what they are, never by a secret's value or a cache's
	 * contents; bind sources count by content (their checksum). */
	for (size_t i = 0; i < in->nmounts; i++) {
		const struct berth_df_mount *m = &in->mounts[i];
		char sum[BERTH_DIGEST_LEN + 1] = "";
		if (m->type == BERTH_DF_MOUNT_BIND && mount_checksum(b, m, sum, err) < 0)
			return berth_err_prefix(err, "line %d: RUN --mount", in->line);
		berth_strv_pushf(&parts, "mount=%d|%s|%s|%s|%s|%d|%d|%ld|%ld|%ld|%s", (int)m->type,
				 m->target ? m->target : "", m->id ? m->id : "",
				 m->env ? m->env : "", m->from ? m->from : "", m->readonly,
				 m->required, m->mode, m->uid, m->gid, sum);
	}
	if (sc.name) {
		/* The script file is an input like a bind mount's source. */
		char hex[BERTH_SHA256_HEX_LEN + 1];
		berth_sha256_hex(sc.body, strlen(sc.body), hex);
		berth_strv_pushf(&parts, "script=%s|sha256:%s", sc.name, hex);
	}
	char key[BERTH_DIGEST_LEN + 1];
	key_of(st->key, &parts, key);

	struct berth_buf hist;
	berth_buf_init(&hist, 1u << 20);
	berth_buf_addstr(&hist, "RUN ");
	if (in->arg_env.n) {
		berth_buf_addf(&hist, "|%zu ", in->arg_env.n);
		for (size_t i = 0; i < in->arg_env.n; i++)
			berth_buf_addf(&hist, "%s ", in->arg_env.v[i]);
	}
	for (size_t i = 0; i < args.n; i++)
		berth_buf_addf(&hist, "%s%s", i ? " " : "", args.v[i]);
	berth_buf_addstr(&hist, " # buildkit");

	int rc = 0;
	if (!cache_hit(b, st, key, &parts))
		rc = run_container(b, st, in, &args, &env, sc.name ? &sc : NULL, key, err);
	if (rc == 0) {
		memcpy(st->key, key, sizeof(st->key));
		history_add(b, st, hist.data, false);
	}
	berth_buf_release(&hist);
	return rc;
}

/* ------------------------------------------------- COPY, ADD, WORKDIR */

static bool is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 ||
	       berth__git_source(s);
}

static bool has_wildcard(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* --chown USER[:GROUP], names looked up in the destination image. */
static int chown_ids(int view_fd, const char *spec, long *uid, long *gid, struct berth_err **err)
{
	*uid = *gid = 0;
	if (!spec || !*spec)
		return 0;
	struct berth_user u;
	if (berth_user_resolve(view_fd, spec, &u, err) < 0)
		return berth_err_prefix(err, "--chown");
	*uid = u.uid;
	*gid = u.gid;
	/* A bare numeric user means that group too. */
	if (!strchr(spec, ':') && spec[strspn(spec, "0123456789")] == '\0')
		*gid = u.uid;
	berth_user_release(&u);
	return 0;
}

/* COPY/ADD's destination as an absolute path: relative ones are under the
 * stage's WORKDIR ("." and "./" mean the directory itself); a trailing '/'
 * is kept, it decides "into" versus "as". free(). */
static char *dest_path(struct state *st, const struct berth_df_instr *in)
{
	const char *d = in->resolved ? in->resolved : "";
	if (d[0] == '/')
		return berth_xstrdup(d);
	const char *wd = config_str(st, "WorkingDir");
	if (!wd || !*wd)
		wd = "/";
	while (d[0] == '.' && d[1] == '/')
		d += 2;
	bool slash = wd[strlen(wd) - 1] == '/';
	if (!*d || !strcmp(d, "."))
		return berth_xasprintf("%s%s", wd, slash ? "" : "/");
	return berth_xasprintf("%s%s%s", wd, slash ? "" : "/", d);
}

/* Where a COPY or ADD writes: a scratch layer, the view of the image under
 * it, and the owner and mode that --chown and --chmod ask for. */
struct copy_target {
	char *scratch;
	int view, upper;
	long uid, gid, mode;
};

static void copy_target_close(struct copy_target *t, bool failed)
{
	if (failed && t->scratch)
		berth_fs_remove_tree(AT_FDCWD, t->scratch, NULL);
	if (t->view >= 0)
		close(t->view);
	if (t->upper >= 0)
		close(t->upper);
	free(t->scratch);
}

static int copy_target_open(struct builder *b, struct state *st, const struct berth_df_instr *in,
			    long default_mode, struct copy_target *t, struct berth_err **err)
{
	const char *kind = berth_df_kind_name(in->kind);
	*t = (struct copy_target){.view = -1, .upper = -1, .mode = default_mode};
	t->scratch = berth_store_layer_scratch(b->s, "build", err);
	if (!t->scratch || (t->view = view_open(b, st, err)) < 0)
		return -1;
	t->upper = open(t->scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->upper < 0)
		return berth_err_sys(err, errno, "open '%s'", t->scratch);
	if (chown_ids(t->view, in->chown, &t->uid, &t->gid, err) < 0)
		return berth_err_prefix(err, "line %d: %s", in->line, kind);
	char *end = NULL;
	if (in->chmod &&
	    ((t->mode = strtol(in->chmod, &end, 8)), *end || t->mode < 0 || t->mode > 07777))
		return berth_err_set_line(err, BERTH_E_INVALID, in->line,
					  "--chmod=%s: give octal permissions like 755", in->chmod);
	return 0;
}

/* ADD <url>...: downloaded into a file (0600 unless --chmod) named by the
 * URL's last path segment when dest is a directory. Keyed by --checksum
 * when given (a hit downloads nothing), else by the content's digest. */
static int do_add_url(struct builder *b, struct state *st, const struct berth_df_instr *in,
		      struct berth_err **err)
{
	if (in->checksum && (in->args.n != 1 || strncmp(in->checksum, "sha256:", 7) != 0 ||
			     !berth_digest_valid(in->checksum)))
		return berth_err_set_line(err, BERTH_E_INVALID, in->line,
					  "ADD --checksum=%s: give sha256:<64 hex digits>, for one "
					  "URL",
					  in->checksum);
	_cleanup_strv_ struct berth_strv parts = BERTH_STRV_INIT;
	berth_strv_push(&parts, "ADD-URL");
	for (size_t i = 0; i < in->args.n; i++)
		berth_strv_pushf(&parts, "src=%s", in->args.v[i]);
	_cleanup_free_ char *dest_abs = dest_path(st, in);
	berth_strv_pushf(&parts, "dest=%s", dest_abs);
	berth_strv_pushf(&parts, "chown=%s", in->chown ? in->chown : "");
	berth_strv_pushf(&parts, "chmod=%s", in->chmod ? in->chmod : "");
	char key[BERTH_DIGEST_LEN + 1];
	_cleanup_free_ char *h = berth_xasprintf(
	    "%s # buildkit", in->node && in->node->original ? in->node->original : "ADD");
	if (in->checksum) {
		berth_strv_pushf(&parts, "sum=%s", in->checksum);
		key_of(st->key, &parts, key);
		if (cache_hit(b, st, key, &parts)) {
			memcpy(st->key, key, sizeof(st->key));
			history_add(b, st, h, false);
			return 0;
		}
	}
	/* Download every URL into dl/<n>/<name>. */
	_cleanup_free_ char *dl = berth_xasprintf("%s/dl%d", b->work, b->nviews++);
	if (mkdir(dl, 0700) < 0)
		return berth_err_sys(err, errno, "make '%s'", dl);
	struct berth__source *src = berth_xcalloc(in->args.n, sizeof(*src));
	size_t nsrc = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < in->args.n; i++) {
		const char *url = in->args.v[i];
		berth__report_info(&b->rep, "downloading %s", url);
		_cleanup_free_ char *tmp = berth_xasprintf("%s/.part", dl);
		_cleanup_close_ int fd =
		    open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		struct berth_download d;
		if (fd < 0) {
			rc = berth_err_sys(err, errno, "make '%s'", tmp);
			break;
		}
		if (berth_http_download(url, fd, &d, err) < 0) {
			rc = berth_err_prefix(err, "line %d: ADD", in->line);
			break;
		}
		if (in->checksum && strcmp(in->checksum, d.digest) != 0)
			rc = berth_err_set_line(err, BERTH_E_INVALID, in->line,
						"ADD %s: checksum mismatch: expected %s, got %s",
						url, in->checksum, d.digest);
		const char *dest = dest_abs;
		size_t dlen = strlen(dest);
		bool to_dir = (dlen && dest[dlen - 1] == '/') || in->args.n > 1;
		if (rc == 0 && to_dir && (!d.filename || !*d.filename))
			rc = berth_err_set_line(
			    err, BERTH_E_INVALID, in->line,
			    "ADD %s: the URL has no file name to use in %s; name "
			    "the destination file",
			    url, dest);
		/* Without a directory destination the name does not matter. */
		const char *name = to_dir ? d.filename : "file";
		_cleanup_free_ char *sub = berth_xasprintf("%s/%zu", dl, i);
		_cleanup_free_ char *final = berth_xasprintf("%s/%s", sub, name);
		if (rc == 0 && (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")))
			rc = berth_err_set_line(err, BERTH_E_INVALID, in->line,
						"ADD %s: bad file name '%s'", url, name);
		if (rc == 0 && (mkdir(sub, 0700) < 0 || rename(tmp, final) < 0))
			rc = berth_err_sys(err, errno, "place the download '%s'", final);
		if (rc == 0 && d.mtime >= 0) {
			struct timespec ts[2] = {{d.mtime, 0}, {d.mtime, 0}};
			utimensat(AT_FDCWD, final, ts, 0);
		}
		if (rc == 0) {
			src[nsrc].path = berth_xasprintf("%zu/%s", i, name);
			src[nsrc++].is_dir = false;
			berth_strv_pushf(&parts, "content=%s", d.digest);
		}
		berth_download_release(&d);
	}
	if (rc == 0 && !in->checksum) {
		key_of(st->key, &parts, key);
		if (cache_hit(b, st, key, &parts))
			goto done;
	}
	if (rc == 0) {
		struct copy_target t;
		_cleanup_close_ int root = open(dl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = copy_target_open(b, st, in, 0600, &t, err);
		if (rc == 0 && root < 0)
			rc = berth_err_sys(err, errno, "open '%s'", dl);
		if (rc == 0) {
			struct berth__copy_opts co = {
			    .src_root_fd = root,
			    .src = src,
			    .nsrc = nsrc,
			    .wildcard = in->args.n > 1,
			    .dest = dest_abs,
			    .view_fd = t.view,
			    .upper_fd = t.upper,
			    .uid = t.uid,
			    .gid = t.gid,
			    .mode = t.mode,
			};
			if ((rc = berth__copy(&co, err)) < 0)
				berth_err_prefix(err, "line %d: ADD", in->line);
		}
		if (rc == 0)
			rc = add_cached_or_commit(b, st, key, t.scratch, err);
		copy_target_close(&t, rc < 0);
	}
done:
	berth__sources_free(src, nsrc);
	berth_fs_remove_tree(AT_FDCWD, dl, NULL);
	if (rc == 0) {
		memcpy(st->key, key, sizeof(st->key));
		history_add(b, st, h, false);
	}
	return rc;
}

/* ADD URL#ref:subdir of a git repository: keyed by the commit the ref names
 * now (resolved every build, like BuildKit; a commit id as the ref pins
 * it), the checkout (without .git unless --keep-git-dir) copied into
 * dest as a directory's contents, owned by root unless --chown. */
static int do_add_git(struct builder *b, struct state *st, const struct berth_df_instr *in,
		      struct berth_err **err)
{
	struct berth__git_ref g;
	if (berth__git_parse(in->args.v[0], &g, err) < 0)
		return berth_err_prefix(err, "line %d: ADD", in->line);
	const struct berth_build_ssh *agent = find_ssh(b, "default");
	const char *sock = agent ? agent->socket : NULL;
	_cleanup_free_ char *commit = NULL;
	_cleanup_free_ char *dest_abs = dest_path(st, in);
	/* (The front end takes only sha256/384/512 digests for --checksum,
	 * so BuildKit's commit-id --checksum for git cannot reach here.) */
	int rc = 0;
	if (in->checksum)
		rc = berth_err_set_line(err, BERTH_E_INVALID, in->line,
					"ADD --checksum is for http(s) URLs; pin a git source with "
					"a commit id as its ref (URL#<commit>)");
	if (rc == 0 && (rc = berth__git_resolve(&g, sock, &commit, err)) < 0)
		berth_err_prefix(err, "line %d: ADD", in->line);
	_cleanup_strv_ struct berth_strv parts = BERTH_STRV_INIT;
	char key[BERTH_DIGEST_LEN + 1] = "";
	if (rc == 0) {
		berth__report_info(&b->rep, "git %s#%s is %s", g.remote, g.ref ? g.ref : "HEAD",
				   commit);
		berth_strv_push(&parts, "ADD-GIT");
		berth_strv_pushf(&parts, "src=%s", in->args.v[0]);
		berth_strv_pushf(&parts, "commit=%s", commit);
		berth_strv_pushf(&parts, "keep-git-dir=%d", in->keep_git_dir);
		berth_strv_pushf(&parts, "dest=%s", dest_abs);
		berth_strv_pushf(&parts, "chown=%s", in->chown ? in->chown : "");
		berth_strv_pushf(&parts, "chmod=%s", in->chmod ? in->chmod : "");
		key_of(st->key, &parts, key);
	}
	if (rc == 0 && !cache_hit(b, st, key, &parts)) {
		_cleanup_free_ char *dir = berth_xasprintf("%s/git%d", b->work, b->nviews++);
		struct berth__source *src = NULL;
		size_t nsrc = 0;
		_cleanup_close_ int root = -1;
		rc = berth__git_checkout(&g, commit, dir, in->keep_git_dir, sock, err);
		if (rc == 0 && (root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			rc = berth_err_sys(err, errno, "open '%s'", dir);
		if (rc == 0) {
			_cleanup_strv_ struct berth_strv pat = BERTH_STRV_INIT;
			berth_strv_push(&pat, g.subdir ? g.subdir : "/");
			_cleanup_free_ char *what = berth_xasprintf("git '%s'", g.remote);
			rc = berth__sources_resolve(root, &pat, NULL, what, &src, &nsrc, err);
		}
		struct copy_target t = {.view = -1, .upper = -1};
		if (rc == 0)
			rc = copy_target_open(b, st, in, -1, &t, err);
		if (rc == 0) {
			struct berth__copy_opts co = {
			    .src_root_fd = root,
			    .src = src,
			    .nsrc = nsrc,
			    .dest = dest_abs,
			    .view_fd = t.view,
			    .upper_fd = t.upper,
			    .uid = t.uid,
			    .gid = t.gid,
			    .mode = t.mode,
			};
			rc = berth__copy(&co, err);
		}
		if (rc == 0)
			rc = add_cached_or_commit(b, st, key, t.scratch, err);
		else
			berth_err_prefix(err, "line %d: ADD", in->line);
		copy_target_close(&t, rc < 0);
		berth__sources_free(src, nsrc);
		berth_fs_remove_tree(AT_FDCWD, dir, NULL);
	}
	berth__git_ref_release(&g);
	if (rc == 0) {
		memcpy(st->key, key, sizeof(st->key));
		_cleanup_free_ char *h = berth_xasprintf(
		    "%s # buildkit", in->node && in->node->original ? in->node->original : "ADD");
		history_add(b, st, h, false);
	}
	return rc;
}

/* ADD's unpacking of a local archive into the directory base->dest: the
 * directory is made as COPY makes one (the image's metadata where it has
 * it), found through the image's symlinks, then filled. */
static int unpack_into(struct builder *b, const struct berth__copy_opts *base, const char *path,
		       long uid, long gid, struct berth_err **err)
{
	size_t dl = strlen(base->dest);
	_cleanup_free_ char *dir =
	    berth_xasprintf("%s%s", base->dest, dl && base->dest[dl - 1] == '/' ? "" : "/");
	struct berth__copy_opts mk = *base;
	mk.src = NULL;
	mk.nsrc = 0;
	mk.wildcard = false;
	mk.dest = dir;
	if (berth__copy(&mk, err) < 0)
		return -1;
	_cleanup_buf_ struct berth_buf rel;
	berth_buf_init(&rel, BERTH_BUF_UNLIMITED);
	int layers[2] = {base->upper_fd, base->view_fd};
	int r = berth__resolve(layers, 2, dir, BERTH__RESOLVE_MAY_MISS, NULL, &rel);
	_cleanup_close_ int dfd =
	    r < 0 ? r : berth__open_in(base->upper_fd, rel.data, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return berth_err_sys(err, -dfd, "open '%s'", dir);
	return berth__unpack_archive(base->src_root_fd, path, dfd, b->work, uid, gid, err);
}

/* ADD's sources in the order written, as BuildKit takes them (a later one
 * wins where two land on the same path): runs of plain ones copied, each
 * archive unpacked into dest. --chown owns what an archive holds; without
 * it the archive's owners stay. */
static int copy_with_archives(struct builder *b, const struct berth_df_instr *in,
			      const struct berth__copy_opts *all, const bool *is_arch, long uid,
			      long gid, struct berth_err **err)
{
	size_t dl = strlen(all->dest);
	if (all->nsrc > 1 && (!dl || all->dest[dl - 1] != '/'))
		return berth_err_set(err, BERTH_E_INVALID,
				     "When using COPY with more than one source file, the "
				     "destination must be a directory and end with a /");
	for (size_t i = 0; i < all->nsrc;) {
		if (is_arch[i]) {
			if (unpack_into(b, all, all->src[i].path, in->chown ? uid : -1, gid, err) <
			    0)
				return -1;
			i++;
			continue;
		}
		size_t j = i;
		while (j < all->nsrc && !is_arch[j])
			j++;
		struct berth__copy_opts run = *all;
		run.src = &all->src[i];
		run.nsrc = j - i;
		if (berth__copy(&run, err) < 0)
			return -1;
		i = j;
	}
	return 0;
}

/* COPY --parents, BuildKit's way: each source pattern splits at its first
 * "/./" into a pivot (the part before, wildcards allowed; the root without
 * one) and an include pattern below it (.dockerignore syntax, so `**`
 * crosses directories); what it selects keeps its path below the pivot. */
struct parents_group {
	char *pivot;
	struct berth__ignore *ig; /* .dockerignore, and --exclude below the pivot */
	struct berth__source *src;
	size_t n;
};

static void parents_free(struct parents_group *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(g[i].pivot);
		berth__ignore_free(g[i].ig);
		berth__sources_free(g[i].src, g[i].n);
	}
	free(g);
}

static int parents_select(struct builder *b, const struct berth_df_instr *in, int root_fd,
			  bool from_ctx, const char *what, struct parents_group **out, size_t *nout,
			  struct berth_err **err)
{
	for (size_t k = 0; k < in->args.n; k++) {
		const char *pat = in->args.v[k];
		const char *cut = strstr(pat, "/./");
		_cleanup_free_ char *pivot_pat =
		    cut ? berth_xstrndup(pat, (size_t)(cut - pat)) : NULL;
		const char *include = cut ? cut + 3 : pat;
		struct berth__source *pivots = NULL;
		size_t npivots = 0;
		if (pivot_pat && *pivot_pat) {
			_cleanup_strv_ struct berth_strv one = BERTH_STRV_INIT;
			berth_strv_push(&one, pivot_pat);
			if (berth__sources_resolve(root_fd, &one, from_ctx ? b->ig : NULL, what,
						   &pivots, &npivots, err) < 0)
				return -1;
		} else {
			pivots = berth_xcalloc(1, sizeof(*pivots));
			pivots[0] =
			    (struct berth__source){.path = berth_xstrdup(""), .is_dir = true};
			npivots = 1;
		}
		int r = 0;
		size_t found = 0;
		for (size_t i = 0; r == 0 && i < npivots; i++) {
			if (!pivots[i].is_dir)
				continue;
			struct parents_group g = {.pivot = berth_xstrdup(pivots[i].path)};
			if (from_ctx)
				r = berth__ignore_load(b->ctx_fd, &g.ig, err);
			else
				g.ig = berth__ignore_new();
			for (size_t e = 0; r == 0 && e < in->excludes.n; e++) {
				_cleanup_free_ char *x =
				    *g.pivot ? berth_xasprintf("%s/%s", g.pivot, in->excludes.v[e])
					     : berth_xstrdup(in->excludes.v[e]);
				r = berth__ignore_add(g.ig, x, err);
			}
			if (r == 0)
				r = berth__sources_parents(root_fd, g.pivot, include, g.ig, what,
							   &g.src, &g.n, err);
			found += g.n;
			*out = berth_xrealloc(*out, (*nout + 1) * sizeof(**out));
			(*out)[(*nout)++] = g;
		}
		berth__sources_free(pivots, npivots);
		if (r < 0)
			return r;
		/* A literal path that selects nothing is missing, as without
		 * --parents (a wildcard may select nothing). */
		if (!found && !has_wildcard(pat))
			return berth_err_set(err, BERTH_E_NOT_FOUND, "'%s' not found in %s", pat,
					     what);
	}
	return 0;
}

static int do_copy(struct builder *b, struct state *st, const struct berth_df_instr *in,
		   struct berth_err **err)
{
	const char *kind = berth_df_kind_name(in->kind);
	if (in->parents && in->kind == BERTH_DF_ADD)
		return berth_err_set_line(err, BERTH_E_INVALID, in->line,
					  "--parents is a COPY flag, not an ADD one");
	size_t urls = 0;
	for (size_t i = 0; i < in->args.n; i++)
		urls += is_url(in->args.v[i]);
	size_t gits = 0;
	for (size_t i = 0; i < in->args.n; i++)
		gits += berth__git_source(in->args.v[i]);
	if (gits && in->kind == BERTH_DF_ADD && in->args.n == 1)
		return do_add_git(b, st, in, err);
	if (gits && in->kind == BERTH_DF_ADD)
		return berth_err_set_line(err, BERTH_E_UNSUPPORTED, in->line,
					  "ADD: a git repository must be the only source; give "
					  "it an ADD of its own");
	if (urls && in->kind == BERTH_DF_ADD && urls == in->args.n)
		return do_add_url(b, st, in, err);
	if (urls)
		return berth_err_set_line(
		    err, BERTH_E_UNSUPPORTED, in->line,
		    "%s: URLs mixed with local sources (or git sources) are not "
		    "supported by this berth yet",
		    kind);
	if (in->checksum)
		return berth_err_set_line(err, BERTH_E_INVALID, in->line,
					  "--checksum is only for ADD of an http(s) URL");
	int root_fd = -1;
	_cleanup_close_ int from_view = -1;
	const struct berth__ignore *ig = NULL;
	_cleanup_free_ char *what = NULL;
	if (in->from_stage >= 0) {
		from_view = view_open(b, &b->st[in->from_stage], err);
		if (from_view < 0)
			return -1;
		root_fd = from_view;
		const char *n = b->df.stages[in->from_stage].name;
		what = n ? berth_xasprintf("stage '%s'", n)
			 : berth_xasprintf("stage %d", in->from_stage);
	} else if (in->from) {
		/* --from=IMAGE: a read-only view of that image. */
		struct state img = {0};
		if (from_image(b, &img, in->from, false, err) == 0)
			from_view = view_open(b, &img, err);
		state_release(&img);
		if (from_view < 0)
			return berth_err_prefix(err, "line %d: %s --from=%s", in->line, kind,
						in->from);
		root_fd = from_view;
		what = berth_xasprintf("image '%s'", in->from);
	} else {
		if (b->ctx_fd < 0)
			return berth_err_set_line(err, BERTH_E_INVALID, in->line,
						  "%s needs a build context; give --context DIR",
						  kind);
		root_fd = b->ctx_fd;
		ig = b->ig;
		what = berth_xstrdup("the build context");
	}
	struct berth__source *src = NULL;
	size_t nsrc = 0;
	struct parents_group *groups = NULL;
	size_t ngroups = 0;
	if (in->parents ? parents_select(b, in, root_fd, ig != NULL, what, &groups, &ngroups, err)
			: berth__sources_resolve(root_fd, &in->args, ig, what, &src, &nsrc, err)) {
		parents_free(groups, ngroups);
		return berth_err_prefix(err, "line %d: %s", in->line, kind);
	}
	int rc = 0;
	/* --exclude: the context's .dockerignore plus each pattern, matched
	 * under every source's directory (a file source: its own directory).
	 * (--parents matches them under each pivot, in parents_select.) */
	struct berth__ignore *ex = NULL;
	if (in->excludes.n && !in->parents) {
		if (ig && berth__ignore_load(b->ctx_fd, &ex, err) < 0)
			rc = -1;
		if (!ig)
			ex = berth__ignore_new();
		for (size_t i = 0; rc == 0 && i < nsrc; i++) {
			_cleanup_free_ char *base = berth_xstrdup(src[i].path);
			if (!src[i].is_dir) {
				char *slash = strrchr(base, '/');
				if (slash)
					*slash = '\0';
				else
					*base = '\0';
			}
			for (size_t k = 0; rc == 0 && k < in->excludes.n; k++) {
				_cleanup_free_ char *pat =
				    *base ? berth_xasprintf("%s/%s", base, in->excludes.v[k])
					  : berth_xstrdup(in->excludes.v[k]);
				if (berth__ignore_add(ex, pat, err) < 0)
					rc = berth_err_prefix(err, "line %d: %s --exclude",
							      in->line, kind);
			}
		}
		/* Sources that an exclude names themselves are dropped. */
		size_t kept = 0;
		for (size_t i = 0; rc == 0 && i < nsrc; i++) {
			if (berth__ignore_match(ex, src[i].path)) {
				free(src[i].path);
				continue;
			}
			src[kept++] = src[i];
		}
		if (rc == 0)
			nsrc = kept;
		ig = ex;
	}
	/* ADD unpacks local tar archives (plain, gzip, bzip2, xz or zstd, told
	 * by their content) into dest unless --unpack=false; the other sources
	 * are copied. */
	_cleanup_free_ bool *is_arch = berth_xcalloc(nsrc + 1, sizeof(*is_arch));
	size_t narch = 0;
	for (size_t i = 0; i < nsrc; i++) {
		is_arch[i] = in->kind == BERTH_DF_ADD && in->unpack != 0 && !src[i].is_dir &&
			     berth__is_archive(root_fd, src[i].path);
		narch += is_arch[i];
	}
	/* One checksum per source, so a miss can name the file that changed. */
	_cleanup_strv_ struct berth_strv sums = BERTH_STRV_INIT;
	for (size_t i = 0; rc == 0 && i < nsrc; i++) {
		char sum[BERTH_DIGEST_LEN + 1] = "";
		if (berth__sources_checksum(root_fd, &src[i], 1, ig, sum, err) < 0)
			rc = berth_err_prefix(err, "line %d: %s", in->line, kind);
		else
			berth_strv_pushf(&sums, "sum:%s=%s", *src[i].path ? src[i].path : ".", sum);
	}
	for (size_t g = 0; rc == 0 && g < ngroups; g++)
		for (size_t i = 0; rc == 0 && i < groups[g].n; i++) {
			char sum[BERTH_DIGEST_LEN + 1] = "";
			const struct berth__source *one = &groups[g].src[i];
			if (berth__sources_checksum(root_fd, one, 1, groups[g].ig, sum, err) < 0)
				rc = berth_err_prefix(err, "line %d: %s", in->line, kind);
			else
				berth_strv_pushf(&sums, "sum:%s=%s", one->path, sum);
		}
	_cleanup_strv_ struct berth_strv parts = BERTH_STRV_INIT;
	berth_strv_push(&parts, kind);
	berth_strv_pushf(&parts, "from=%s", in->from ? in->from : "");
	for (size_t i = 0; i < in->args.n; i++)
		berth_strv_pushf(&parts, "src=%s", in->args.v[i]);
	for (size_t i = 0; i < in->excludes.n; i++)
		berth_strv_pushf(&parts, "exclude=%s", in->excludes.v[i]);
	_cleanup_free_ char *dest_abs = dest_path(st, in);
	berth_strv_pushf(&parts, "dest=%s", dest_abs);
	berth_strv_pushf(&parts, "chown=%s", in->chown ? in->chown : "");
	berth_strv_pushf(&parts, "chmod=%s", in->chmod ? in->chmod : "");
	if (in->unpack >= 0)
		berth_strv_pushf(&parts, "unpack=%d", in->unpack);
	for (size_t i = 0; i < sums.n; i++)
		berth_strv_push(&parts, sums.v[i]);
	char key[BERTH_DIGEST_LEN + 1];
	key_of(st->key, &parts, key);
	bool wildcard = false;
	for (size_t i = 0; i < in->args.n; i++)
		wildcard |= has_wildcard(in->args.v[i]);

	if (rc == 0 && !cache_hit(b, st, key, &parts)) {
		struct copy_target t;
		rc = copy_target_open(b, st, in, -1, &t, err);
		if (rc == 0) {
			if ((in->from_stage >= 0 || in->from) && !in->chown)
				t.uid = t.gid = -1; /* from a stage or image, owners are kept */
			struct berth__copy_opts co = {
			    .src_root_fd = root_fd,
			    .src = src,
			    .nsrc = nsrc,
			    .wildcard = wildcard,
			    .ig = ig,
			    .dest = dest_abs,
			    .view_fd = t.view,
			    .upper_fd = t.upper,
			    .uid = t.uid,
			    .gid = t.gid,
			    .mode = t.mode,
			};
			if (in->parents) {
				/* No group at all still makes dest. */
				for (size_t g = 0; rc == 0 && g < (ngroups ? ngroups : 1); g++) {
					co.src = ngroups ? groups[g].src : NULL;
					co.nsrc = ngroups ? groups[g].n : 0;
					co.ig = ngroups ? groups[g].ig : ig;
					rc = berth__copy_parents(
					    &co, ngroups ? groups[g].pivot : "", err);
				}
			} else if (!narch) {
				rc = berth__copy(&co, err);
			} else {
				rc = copy_with_archives(b, in, &co, is_arch, t.uid, t.gid, err);
			}
			if (rc < 0)
				berth_err_prefix(err, "line %d: %s", in->line, kind);
		}
		if (rc == 0)
			rc = add_cached_or_commit(b, st, key, t.scratch, err);
		copy_target_close(&t, rc < 0);
	}
	berth__sources_free(src, nsrc);
	parents_free(groups, ngroups);
	berth__ignore_free(ex);
	if (rc == 0) {
		memcpy(st->key, key, sizeof(st->key));
		_cleanup_free_ char *h = berth_xasprintf(
		    "%s # buildkit", in->node && in->node->original ? in->node->original : kind);
		history_add(b, st, h, false);
	}
	return rc;
}

static int do_workdir(struct builder *b, struct state *st, const struct berth_df_instr *in,
		      struct berth_err **err)
{
	const char *dir = in->resolved ? in->resolved : "/";
	json_object_set_new(config_of(st), "WorkingDir", json_string(dir));
	_cleanup_free_ char *h = berth_xasprintf("WORKDIR %s", dir);
	if (strcmp(dir, "/") == 0) {
		history_add(b, st, h, true);
		return 0;
	}
	_cleanup_close_ int view = view_open(b, st, err);
	if (view < 0)
		return -1;
	if (view_has(view, dir)) {
		history_add(b, st, h, true);
		return 0;
	}
	/* BuildKit makes it (and its missing parents) as the USER, 0755. */
	const char *user = config_str(st, "User");
	long uid = 0, gid = 0;
	if (user && *user && chown_ids(view, user, &uid, &gid, err) < 0)
		return berth_err_prefix(err, "line %d: WORKDIR %s: USER %s", in->line, dir, user);
	_cleanup_strv_ struct berth_strv parts = BERTH_STRV_INIT;
	berth_strv_pushf(&parts, "WORKDIR %s", dir);
	if (user && *user)
		berth_strv_pushf(&parts, "user=%ld:%ld", uid, gid);
	char key[BERTH_DIGEST_LEN + 1];
	key_of(st->key, &parts, key);
	int rc = 0;
	if (!cache_hit(b, st, key, &parts)) {
		_cleanup_free_ char *scratch = berth_store_layer_scratch(b->s, "build", err);
		_cleanup_close_ int upper =
		    scratch ? open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		_cleanup_free_ char *slashed = berth_xasprintf("%s/", dir);
		/* Made as COPY makes a destination: the parents the image has
		 * keep their metadata. */
		struct berth__copy_opts co = {.src_root_fd = view,
					      .dest = slashed,
					      .view_fd = view,
					      .upper_fd = upper,
					      .uid = uid,
					      .gid = gid,
					      .mode = -1};
		if (upper < 0)
			rc = scratch ? berth_err_sys(err, errno, "open '%s'", scratch) : -1;
		else if (berth__copy(&co, err) < 0)
			rc = berth_err_prefix(err, "line %d: WORKDIR", in->line);
		if (rc == 0)
			rc = add_cached_or_commit(b, st, key, scratch, err);
		if (rc < 0 && scratch)
			berth_fs_remove_tree(AT_FDCWD, scratch, NULL);
	}
	if (rc == 0) {
		memcpy(st->key, key, sizeof(st->key));
		history_add(b, st, h, false);
	}
	return rc;
}

/* ------------------------------------------------------------ output */

static const char *oci_layer_type(const char *mt)
{
	/* Docker's gzip layer is the same bytes under OCI's name. */
	if (!mt || strcmp(mt, BERTH_MT_DOCKER_LAYER) == 0)
		return BERTH_MT_OCI_LAYER_GZIP;
	return mt;
}

static int write_image(struct builder *b, struct state *st, char digest_out[BERTH_DIGEST_LEN + 1],
		       struct berth_err **err)
{
	diff_ids_update(st);
	char when[32];
	time_t t = b->sde >= 0 ? (time_t)b->sde : time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(st->cfg, "created", json_string(when));
	if (!json_object_get(st->cfg, "architecture"))
		json_object_set_new(st->cfg, "architecture", json_string("amd64"));
	if (!json_object_get(st->cfg, "os"))
		json_object_set_new(st->cfg, "os", json_string("linux"));

	_cleanup_buf_ struct berth_buf cb, mb;
	berth_buf_init(&cb, BERTH_CONFIG_MAX);
	berth_buf_init(&mb, BERTH_MANIFEST_MAX);
	char cdigest[BERTH_DIGEST_LEN + 1];
	if (berth_json_dump_canonical(st->cfg, &cb) < 0)
		return berth_err_set(err, BERTH_E_LIMIT, "the image config is too large");
	if (berth_blob_put(b->s, cb.data, cb.len, NULL, cdigest, err) < 0)
		return -1;
	json_t *layers = json_array();
	int64_t total = (int64_t)cb.len;
	for (size_t i = 0; i < st->n; i++) {
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
							oci_layer_type(st->layers[i].media_type),
							"digest", st->layers[i].digest, "size",
							(json_int_t)st->layers[i].size));
		total += st->layers[i].size;
	}
	_cleanup_json_ json_t *man =
	    json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
		      BERTH_MT_OCI_MANIFEST, "config", "mediaType", BERTH_MT_OCI_CONFIG, "digest",
		      cdigest, "size", (json_int_t)cb.len, "layers", layers);
	if (berth_json_dump_canonical(man, &mb) < 0)
		return berth_err_set(err, BERTH_E_LIMIT, "the manifest is too large");
	if (berth_blob_put(b->s, mb.data, mb.len, NULL, digest_out, err) < 0)
		return -1;
	total += (int64_t)mb.len;
	if (b->o->tag &&
	    berth_store_tag(b->s, b->o->tag, digest_out, BERTH_MT_OCI_MANIFEST, total, err) < 0)
		return berth_err_prefix(err, "tag '%s'", b->o->tag);
	return 0;
}

/* ------------------------------------------------------------- build */

static int instr(struct builder *b, struct state *st, const struct berth_df_instr *in,
		 struct berth_err **err)
{
	switch (in->kind) {
	case BERTH_DF_RUN:
		return do_run(b, st, in, err);
	case BERTH_DF_COPY:
	case BERTH_DF_ADD:
		return do_copy(b, st, in, err);
	case BERTH_DF_WORKDIR:
		return do_workdir(b, st, in, err);
	default:
		return config_instr(b, st, in, err);
	}
}

static int build_stage(struct builder *b, int idx, struct berth_err **err)
{
	const struct berth_df_stage *sg = &b->df.stages[idx];
	char label[64];
	snprintf(label, sizeof(label), "%s", sg->name ? sg->name : "");
	if (!*label)
		snprintf(label, sizeof(label), "stage-%d", idx);
	/* The first `skip` instructions only told the front end the base
	 * image's ENV: the config has it already. */
	size_t skip = b->skip ? b->skip[idx] : 0;
	int total = (int)(sg->n - skip) + 1;
	_cleanup_free_ char *from = berth_xasprintf("FROM %s", sg->scratch ? "scratch"
							       : sg->base  ? sg->base
									   : "");
	berth__report_step(&b->rep, label, idx, 1, total, from);
	b->stage_idx = idx;
	b->step_idx = 0;
	if (do_from(b, (size_t)idx, err) < 0)
		return berth_err_prefix(err, "%s:%d", b->o->dockerfile_name, sg->line);
	berth__report_done(&b->rep, NULL);
	for (size_t i = skip; i < sg->n; i++) {
		const struct berth_df_instr *in = &sg->instrs[i];
		struct state *st = &b->st[idx];
		/* A trigger of the base carries the FROM's line. */
		_cleanup_free_ char *text =
		    berth_xasprintf("%s%s", in->line == sg->line ? "ONBUILD " : "",
				    in->node && in->node->original ? in->node->original
								   : berth_df_kind_name(in->kind));
		berth__report_step(&b->rep, label, idx, (int)(i - skip) + 2, total, text);
		b->step_idx = (int)i + 1;
		size_t before = st->n;
		if (instr(b, st, in, err) < 0)
			return -1;
		berth__report_done(&b->rep, st->n > before ? st->layers[st->n - 1].digest : NULL);
	}
	return 0;
}

static void unmount_views(struct builder *b);

/* --- independent stages in parallel: one child process per stage --- */

static char *state_file(const struct builder *b, int idx)
{
	return berth_xasprintf("%s/stage-%d.json", b->work, idx);
}

static int state_save(const struct builder *b, int idx, struct berth_err **err)
{
	const struct state *st = &b->st[idx];
	json_t *layers = json_array();
	for (size_t i = 0; i < st->n; i++)
		json_array_append_new(
		    layers,
		    json_pack("{s:s, s:s, s:s, s:I, s:s}", "chain", st->layers[i].chain, "diff_id",
			      st->layers[i].diff_id, "digest", st->layers[i].digest, "size",
			      (json_int_t)st->layers[i].size, "media_type",
			      st->layers[i].media_type ? st->layers[i].media_type
						       : BERTH_MT_OCI_LAYER_GZIP));
	_cleanup_json_ json_t *j = json_pack("{s:o, s:O, s:s, s:b}", "layers", layers, "config",
					     st->cfg, "key", st->key, "cmd_set", st->cmd_set);
	_cleanup_free_ char *path = state_file(b, idx);
	if (!j || json_dump_file(j, path, JSON_COMPACT) < 0)
		return berth_err_set(err, BERTH_E_SYS, "save the state of stage %d", idx);
	return 0;
}

static int state_load(struct builder *b, int idx, struct berth_err **err)
{
	_cleanup_free_ char *path = state_file(b, idx);
	json_error_t je;
	_cleanup_json_ json_t *j = json_load_file(path, 0, &je);
	if (!j)
		return berth_err_set(err, BERTH_E_SYS, "stage %d: its state is missing", idx);
	struct state *st = &b->st[idx];
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(j, "layers"), i, l)
	{
		struct layer x = {.size = json_integer_value(json_object_get(l, "size")),
				  .media_type =
				      (char *)json_string_value(json_object_get(l, "media_type"))};
		snprintf(x.chain, sizeof(x.chain), "%s",
			 json_string_value(json_object_get(l, "chain")));
		snprintf(x.diff_id, sizeof(x.diff_id), "%s",
			 json_string_value(json_object_get(l, "diff_id")));
		snprintf(x.digest, sizeof(x.digest), "%s",
			 json_string_value(json_object_get(l, "digest")));
		state_push(st, &x);
	}
	st->cfg = json_incref(json_object_get(j, "config"));
	snprintf(st->key, sizeof(st->key), "%s", json_string_value(json_object_get(j, "key")));
	st->cmd_set = json_is_true(json_object_get(j, "cmd_set"));
	st->name = b->df.stages[idx].name;
	return 0;
}

/* In a child: its own store connection (SQLite handles do not cross a
 * fork), build the stage, hand its state back through a file. */
static void stage_child(struct builder *b, int idx, int errfd)
{
	struct berth_err *e = NULL;
	struct berth_store *s;
	/* Views of its own, in a directory of its own (the mount namespace is
	 * the parent's: they are unmounted before the child goes). */
	char *parent_work = b->work;
	b->work = berth_xasprintf("%s/c%d", parent_work, idx);
	b->nviews = 0;
	int rc = mkdir(b->work, 0700) < 0 ? berth_err_sys(&e, errno, "make '%s'", b->work) : 0;
	if (rc == 0)
		rc = berth_store_open(berth_store_home(b->s), &s, &e);
	if (rc == 0) {
		b->s = s; /* the parent's connection is never touched here */
		rc = build_stage(b, idx, &e);
		berth_store_close(s);
	}
	unmount_views(b);
	b->work = parent_work;
	if (rc == 0)
		rc = state_save(b, idx, &e);
	if (rc < 0 && e) {
		ssize_t w = write(errfd, e->msg, strlen(e->msg));
		(void)w;
	}
	_exit(rc < 0 ? 1 : 0);
}

static bool deps_done(const struct builder *b, int idx, const bool *done)
{
	const struct berth_df_stage *sg = &b->df.stages[idx];
	if (sg->base_stage >= 0 && !done[sg->base_stage])
		return false;
	for (size_t i = 0; i < sg->ndeps; i++)
		if (!done[sg->deps[i]])
			return false;
	return true;
}

/* The stages the target needs, in waves: every stage whose dependencies are
 * built runs at once (in child processes when there are several). */
static int build_stages(struct builder *b, struct berth_err **err)
{
	_cleanup_free_ bool *done = berth_xcalloc(b->df.n + 1, sizeof(*done));
	_cleanup_free_ int *wave = berth_xcalloc(b->df.norder + 1, sizeof(*wave));
	_cleanup_free_ pid_t *pids = berth_xcalloc(b->df.norder + 1, sizeof(*pids));
	_cleanup_free_ int *errfds = berth_xcalloc(b->df.norder + 1, sizeof(*errfds));
	for (size_t left = b->df.norder; left;) {
		size_t n = 0;
		for (size_t k = 0; k < b->df.norder; k++) {
			int idx = b->df.order[k];
			if (!done[idx] && deps_done(b, idx, done))
				wave[n++] = idx;
		}
		if (!n)
			return berth_err_set(err, BERTH_E_INTERNAL, "stages: no stage is ready");
		if (n == 1) {
			if (build_stage(b, wave[0], err) < 0)
				return -1;
			done[wave[0]] = true;
			left--;
			continue;
		}
		if (b->o->progress)
			fflush(b->o->progress);
		for (size_t w = 0; w < n; w++) {
			int p[2];
			if (pipe2(p, O_CLOEXEC) < 0)
				return berth_err_sys(err, errno, "stages: pipe");
			pids[w] = fork();
			if (pids[w] == 0) {
				close(p[0]);
				stage_child(b, wave[w], p[1]);
			}
			close(p[1]);
			errfds[w] = p[0];
			if (pids[w] < 0) {
				close(p[0]);
				return berth_err_sys(err, errno, "stages: fork");
			}
		}
		int rc = 0;
		for (size_t w = 0; w < n; w++) {
			char msg[4096];
			ssize_t m = read(errfds[w], msg, sizeof(msg) - 1);
			msg[m > 0 ? m : 0] = '\0';
			close(errfds[w]);
			int status = 0;
			while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
				;
			if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
				rc = berth_err_set(err, BERTH_E_INVALID, "%s",
						   *msg ? msg : "a stage's build process died");
			else if (rc == 0 && (rc = state_load(b, wave[w], err)) == 0)
				done[wave[w]] = true;
		}
		if (rc < 0)
			return rc;
		left -= n;
	}
	return 0;
}

/* The builder reads stages through read-only overlay mounts: they live in
 * a mount namespace of its own and vanish with it. */
static int private_mounts(struct berth_err **err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return berth_err_sys(err, errno,
				     "enter a private mount namespace (builds need root)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return berth_err_sys(err, errno, "make the mount namespace private");
	return 0;
}

static void unmount_views(struct builder *b)
{
	for (int i = 0; i < b->nviews; i++) {
		_cleanup_free_ char *m = berth_xasprintf("%s/v%d/root", b->work, i);
		umount2(m, MNT_DETACH);
	}
	berth_fs_remove_tree(AT_FDCWD, b->work, NULL);
}

int berth_build(struct berth_store *s, const struct berth_build_opts *o,
		char digest_out[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	struct builder b = {.s = s, .o = o, .ctx_fd = -1, .sde = -1};
	b.rep = (struct berth__reporter){.out = o->progress,
					 .json = o->progress_json,
					 .secrets = o->secrets,
					 .nsecrets = o->nsecrets};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	if (sde && *sde) {
		char *end;
		long long v = strtoll(sde, &end, 10);
		if (*end || v < 0)
			return berth_err_set(err, BERTH_E_INVALID,
					     "SOURCE_DATE_EPOCH='%s': give seconds since 1970",
					     sde);
		b.sde = v;
	}
	struct berth_df_options dopt = {.build_args = o->build_args, .target = o->target};
	if (berth__df_load_onbuild(o->dockerfile, o->dockerfile_len, &dopt, image_base, &b, &b.df,
				   &b.skip, err) < 0) {
		berth_df_file_release(&b.df);
		/* With a line, the caller names the file already. */
		return err && *err && (*err)->line
			   ? -1
			   : berth_err_prefix(err, "%s", o->dockerfile_name);
	}
	for (size_t i = 0; i < b.df.warnings.n; i++)
		berth__report_warning(&b.rep, "%s", b.df.warnings.v[i]);
	if (b.df.unused_build_args.n) {
		_cleanup_buf_ struct berth_buf names;
		berth_buf_init(&names, BERTH_BUF_UNLIMITED);
		for (size_t i = 0; i < b.df.unused_build_args.n; i++)
			berth_buf_addf(&names, " %s", b.df.unused_build_args.v[i]);
		berth__report_warning(&b.rep, "build args not used by any stage:%s", names.data);
	}
	int rc = -1;
	if (o->context) {
		b.ctx_fd = open(o->context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (b.ctx_fd < 0) {
			berth_err_sys(err, errno, "build context '%s'", o->context);
			goto out;
		}
		if (berth__ignore_load(b.ctx_fd, &b.ig, err) < 0) {
			berth_err_prefix(err, "build context '%s'", o->context);
			goto out;
		}
	}
	if (private_mounts(err) < 0)
		goto out;
	/* "<pid>-" names are removed by the store if this process dies. */
	b.work = berth_xasprintf("%s/layers/%d-work-XXXXXX", berth_store_home(s), (int)getpid());
	if (!mkdtemp(b.work)) {
		berth_err_sys(err, errno, "make '%s'", b.work);
		free(b.work);
		b.work = NULL;
		goto out;
	}
	b.st = berth_xcalloc(b.df.n, sizeof(*b.st));
	/* Step records (for "cache miss: why") follow the image's repository,
	 * so app:2 is compared with app:1; untagged builds, the Dockerfile. */
	if (o->tag) {
		const char *colon = strrchr(o->tag, ':');
		const char *slash = strrchr(o->tag, '/');
		size_t len =
		    colon && (!slash || colon > slash) ? (size_t)(colon - o->tag) : strlen(o->tag);
		b.scope = berth_xasprintf("repo:%.*s", (int)len, o->tag);
	} else {
		b.scope =
		    berth_xasprintf("file:%s@%s", o->dockerfile_name ? o->dockerfile_name : "-",
				    o->context ? o->context : "");
	}
	if (build_stages(&b, err) == 0)
		rc = write_image(&b, &b.st[b.df.target], digest_out, err);
	if (rc == 0) {
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		berth__report_build(&b.rep, digest_out,
				    (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 +
					(t1.tv_nsec - t0.tv_nsec) / 1000000);
	}
out:
	if (b.work) {
		unmount_views(&b);
		free(b.work);
	}
	for (size_t i = 0; b.st && i < b.df.n; i++)
		state_release(&b.st[i]);
	free(b.st);
	free(b.scope);
	free(b.inputs);
	free(b.skip);
	if (b.ctx_fd >= 0)
		close(b.ctx_fd);
	berth__ignore_free(b.ig);
	berth_df_file_release(&b.df);
	return rc;
}
