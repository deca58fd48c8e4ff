/* The app's image: built from its Dockerfile with the builder, or a
 * pre-built reference found in the store (pulled when missing), with the
 * app's registry credentials and build secrets resolved against the secret
 * store just for the time it takes. */
#include "app/app.h"

#include "build/build.h"
#include "image/image.h"
#include "secrets/secrets.h"

#include <string.h>

/* "$NAME" (or plain text) to a value: the store resolves it. */
static int resolve(const struct berth_app_image_opts *o, const char *what, const char *ref,
		   char **out, size_t *len, struct berth_err **err)
{
	if (ref[0] == '$' && !o->secrets)
		return berth_err_set(err, BERTH_E_NOT_FOUND, "%s: '%s' needs the secret store",
				     what, ref);
	if (!o->secrets) {
		*out = berth_xstrdup(ref);
		*len = strlen(ref);
		return 0;
	}
	if (berth_secrets_resolve(o->secrets, ref, out, len, err) < 0)
		return berth_err_prefix(err, "%s", what);
	return 0;
}

/* The registries as the pull callback wants them, passwords resolved. */
static int registries_json(const struct berth_app_spec *spec, const struct berth_app_image_opts *o,
			   json_t **out, struct berth_err **err)
{
	*out = NULL;
	if (!spec->nregistries)
		return 0;
	json_t *j = json_object();
	for (size_t i = 0; i < spec->nregistries; i++) {
		const struct berth_app_registry *g = &spec->registries[i];
		_cleanup_free_ char *what =
		    berth_xasprintf("image.registries.%s.password", g->host);
		char *pw = NULL;
		size_t len = 0;
		if (resolve(o, what, g->password, &pw, &len, err) < 0) {
			json_decref(j);
			return -1;
		}
		json_object_set_new(
		    j, g->host,
		    json_pack("{s:s, s:s%}", "username", g->username, "password", pw, len));
		berth_secret_free(pw, len);
	}
	*out = j;
	return 0;
}

struct pull_ctx {
	const struct berth_app_image_opts *o;
	const json_t *registries;
};

/* The builder's pull callback, with the app's registries added. */
static int pull_for_build(void *ctx, struct berth_store *s, const char *ref,
			  char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	const struct pull_ctx *p = ctx;
	return p->o->pull(p->o->pull_ctx, s, ref, p->registries, digest, err);
}

static void build_secrets_release(struct berth_build_secret *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		berth_secret_free(v[i].value, v[i].len);
	}
	free(v);
}

static int build(struct berth_store *s, const struct berth_app_spec *spec,
		 const struct berth_app_image_opts *o, const json_t *registries, const char *tag,
		 char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	struct berth_build_secret *sec = berth_xcalloc(spec->nbuild_secrets + 1, sizeof(*sec));
	size_t nsec = 0;
	int r = 0;
	for (size_t i = 0; i < spec->nbuild_secrets && r == 0; i++) {
		const struct berth_app_build_secret *b = &spec->build_secrets[i];
		_cleanup_free_ char *what = berth_xasprintf("image.secrets.%s", b->id);
		r = resolve(o, what, b->value, &sec[nsec].value, &sec[nsec].len, err);
		if (r == 0)
			sec[nsec++].id = berth_xstrdup(b->id);
	}
	if (r < 0) {
		build_secrets_release(sec, nsec);
		return r;
	}
	struct pull_ctx pc = {o, registries};
	struct berth_build_opts bo = {
	    .dockerfile = spec->dockerfile,
	    .dockerfile_len = strlen(spec->dockerfile),
	    .dockerfile_name = spec->dockerfile_path ? spec->dockerfile_path : "image.dockerfile",
	    .context = spec->context,
	    .build_args = &spec->build_args,
	    .tag = tag,
	    .no_cache = o->no_cache,
	    .runtime = o->runtime,
	    .secrets = sec,
	    .nsecrets = nsec,
	    .progress = o->progress,
	    .pull = o->pull ? pull_for_build : NULL,
	    .pull_ctx = &pc,
	};
	r = berth_build(s, &bo, digest, err);
	build_secrets_release(sec, nsec);
	return r;
}

static int find_or_pull(struct berth_store *s, const char *refstr,
			const struct berth_app_image_opts *o, const json_t *registries,
			char **name_out, char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	struct berth_ref ref;
	if (berth_ref_parse(refstr, &ref, err) < 0)
		return berth_err_prefix(err, "image.ref");
	_cleanup_free_ char *name = berth_ref_string(&ref);
	berth_ref_release(&ref);
	struct berth_image_entry e = {0};
	int r = berth_store_lookup(s, name, &e, err);
	if (r == 0) {
		memcpy(digest, e.digest, BERTH_DIGEST_LEN + 1);
		berth_image_entry_release(&e);
	} else if (r == -BERTH_E_NOT_FOUND && o->pull) {
		berth_err_free(*err);
		*err = NULL;
		r = o->pull(o->pull_ctx, s, refstr, registries, digest, err);
	} else if (r == -BERTH_E_NOT_FOUND) {
		berth_err_prefix(err, "image '%s' is not in the store and pulling is off", refstr);
	}
	if (r == 0)
		*name_out = steal_pointer(&name);
	return r;
}

/* Tag the image just built with its digest too, and name that tag. */
static int pin(struct berth_store *s, const char *app, const char *tag,
	       const char digest[BERTH_DIGEST_LEN + 1], char **ref_out, struct berth_err **err)
{
	struct berth_image_entry e = {0};
	if (berth_store_lookup(s, tag, &e, err) < 0)
		return -1;
	_cleanup_free_ char *name =
	    berth_xasprintf("localhost/apps/%s:sha256-%s", app, digest + strlen("sha256:"));
	int r = berth_store_tag(s, name, digest, e.media_type, e.size, err);
	berth_image_entry_release(&e);
	if (r == 0)
		*ref_out = steal_pointer(&name);
	return r;
}

int berth_app_image(struct berth_store *s, const struct berth_app_spec *spec,
		    const struct berth_app_image_opts *o, char **ref_out,
		    char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	*ref_out = NULL;
	json_t *registries = NULL;
	if (registries_json(spec, o, &registries, err) < 0)
		return -1;
	int r;
	if (spec->image_ref) {
		r = find_or_pull(s, spec->image_ref, o, registries, ref_out, digest, err);
	} else {
		_cleanup_free_ char *tag = berth_xasprintf("localhost/apps/%s:latest", spec->name);
		r = build(s, spec, o, registries, tag, digest, err);
		if (r == 0 && o->pin)
			r = pin(s, spec->name, tag, digest, ref_out, err);
		else if (r == 0)
			*ref_out = steal_pointer(&tag);
		else
			berth_err_prefix(err, "build the image of app '%s'", spec->name);
	}
	/* The passwords in it are secret: wipe before freeing. */
	const char *host;
	json_t *v;
	json_object_foreach(registries, host, v)
	{
		json_t *pw = json_object_get(v, "password");
		if (json_is_string(pw))
			explicit_bzero((char *)json_string_value(pw), json_string_length(pw));
	}
	json_decref(registries);
	return r;
}
