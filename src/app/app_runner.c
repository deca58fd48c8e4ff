/* What a runner of an app is made of: the stored image's layers and config,
 * and the options the app's spec implies (command, environment, secrets,
 * mounts). `berth run` and `berth serve` start runners from these. */
#include "app/app.h"

#include "image/image.h"
#include "registry/registry.h"
#include "runtime/runtime.h"
#include "secrets/secrets.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

/* The layer dirs of a stored image, base first; false when some are not
 * unpacked yet. */
static bool layer_dirs(struct berth_store *s, const struct berth_manifest *m,
		       const struct berth_image_config *cfg, struct berth_strv *dirs)
{
	char chain[BERTH_DIGEST_LEN + 1] = "";
	bool all = true;
	for (size_t i = 0; i < m->nlayers && i < cfg->diff_ids.n; i++) {
		berth_chain_id(*chain ? chain : NULL, cfg->diff_ids.v[i], chain);
		if (!berth_store_layer_ready(s, chain))
			all = false;
		berth_strv_push_owned(dirs, berth_store_layer_dir(s, chain));
	}
	return all;
}

int berth_app_container_image(struct berth_store *s, const char *ref,
			      struct berth_container_opts *o, struct berth_err **err)
{
	struct berth_image_entry e = {0};
	struct berth_manifest m = {0};
	struct berth_image_config cfg = {0};
	int r = berth_store_lookup(s, ref, &e, err);
	if (r == 0)
		r = berth_image_load(s, e.digest, &m, &cfg, err);
	if (r == 0 && m.nlayers != cfg.diff_ids.n)
		r = berth_err_set(err, BERTH_E_INVALID,
				  "image '%s': %zu layers but %zu diff_ids in its config", ref,
				  m.nlayers, cfg.diff_ids.n);
	if (r == 0 && !layer_dirs(s, &m, &cfg, &o->lowers))
		r = berth_image_unpack(s, e.digest, NULL, NULL, err);
	if (r == 0) {
		o->image = berth_xstrdup(ref);
		o->image_digest = berth_xstrdup(e.digest);
		json_t *c = json_object_get(cfg.json, "config");
		o->image_config = json_is_object(c) ? json_incref(c) : NULL;
	}
	berth_manifest_release(&m);
	berth_image_config_release(&cfg);
	berth_image_entry_release(&e);
	return r;
}

static void add_bind(struct berth_container_opts *o, const char *src, const char *dst, bool ro)
{
	o->binds = berth_xrealloc(o->binds, (o->nbinds + 1) * sizeof(*o->binds));
	o->binds[o->nbinds++] = (struct berth_bind){berth_xstrdup(src), berth_xstrdup(dst), ro};
}

/* The image's value of an environment variable, or NULL. */
static const char *image_env(const struct berth_container_opts *o, const char *key)
{
	const json_t *env = json_object_get(o->image_config, "Env");
	size_t i, klen = strlen(key);
	const json_t *v;
	json_array_foreach(env, i, v)
	{
		const char *kv = json_string_value(v);
		if (kv && !strncmp(kv, key, klen) && kv[klen] == '=')
			return kv + klen + 1;
	}
	return NULL;
}

static int add_secrets(const struct berth_app_spec *spec, struct berth_secrets *store,
		       struct berth_container_opts *o, struct berth_err **err)
{
	for (size_t i = 0; i < spec->secrets.n; i++) {
		const char *name = spec->secrets.v[i];
		if (!store)
			return berth_err_set(
			    err, BERTH_E_NOT_FOUND,
			    "the app's secrets list '%s' but there is no secret store", name);
		char *value = NULL;
		size_t len = 0;
		if (berth_secrets_get(store, name, &value, &len, err) < 0)
			return berth_err_prefix(err, "the app's secrets list '%s'", name);
		berth_strv_pushf(&o->env, "%s=%.*s", name, (int)len, value);
		berth_strv_push(&o->redact, value);
		berth_secret_free(value, len);
	}
	return 0;
}

static void sdk_command(const struct berth_app_spec *spec, const char *sdk_dir,
			struct berth_container_opts *o)
{
	_cleanup_free_ char *dir = berth_xstrdup(spec->sdk_file);
	_cleanup_free_ char *base = berth_xstrdup(spec->sdk_file);
	add_bind(o, sdk_dir, BERTH_APP_SDK_MOUNT, true);
	add_bind(o, dirname(dir), BERTH_APP_CODE_MOUNT, true);
	/* The image's ENTRYPOINT would wrap the runner: replace it with none. */
	o->set_entrypoint = true;
	berth_strv_push(&o->cmd, "python3");
	berth_strv_push(&o->cmd, "-m");
	berth_strv_push(&o->cmd, "berth.runner");
	berth_strv_pushf(&o->cmd, BERTH_APP_CODE_MOUNT "/%s", basename(base));
	berth_strv_push(&o->cmd, spec->sdk_class);
	const char *pp = image_env(o, "PYTHONPATH");
	berth_strv_pushf(&o->env, "PYTHONPATH=" BERTH_APP_SDK_MOUNT "%s%s", pp && *pp ? ":" : "",
			 pp ? pp : "");
	berth_strv_push(&o->env, "PYTHONUNBUFFERED=1");
	berth_strv_push(&o->env, "BERTH_HOST=127.0.0.1");
}

int berth_app_runner_opts(const struct berth_app_spec *spec, const char *home, const char *sdk_dir,
			  unsigned port, struct berth_secrets *secrets,
			  struct berth_container_opts *o, struct berth_err **err)
{
	o->network = BERTH_NET_HOST;
	o->id_env = berth_xstrdup("BERTH_RUNNER_ID");
	o->gpus = spec->gpus;
	o->memory = spec->memory;
	o->cpus = spec->cpus;
	o->stop_grace = (int)((spec->termination_grace_ms + 999) / 1000);
	if (o->stop_grace < 1)
		o->stop_grace = 1;

	if (spec->kind == BERTH_APP_SDK) {
		if (!sdk_dir)
			return berth_err_set(err, BERTH_E_NOT_FOUND,
					     "app '%s' is an SDK app but berth's SDK was not found",
					     spec->name);
		sdk_command(spec, sdk_dir, o);
	} else if (spec->command.n) {
		o->set_entrypoint = true;
		berth_strv_copy(&o->cmd, &spec->command);
	}
	berth_strv_pushf(&o->env, "PORT=%u", port);
	berth_strv_pushf(&o->env, "BERTH_APP=%s", spec->name);
	for (size_t i = 0; i < spec->env.n; i++)
		berth_strv_push(&o->env, spec->env.v[i]);

	for (size_t i = 0; i < spec->data_mounts.n; i++) {
		const char *p = spec->data_mounts.v[i];
		if (!strcmp(p, "/data")) {
			o->data_volume = true;
			continue;
		}
		_cleanup_free_ char *host = berth_xasprintf("%s%s", home, p);
		if (berth_fs_mkdir_p(host, 0755, err) < 0)
			return berth_err_prefix(err, "data mount '%s'", p);
		add_bind(o, host, p, false);
	}
	return add_secrets(spec, secrets, o, err);
}
