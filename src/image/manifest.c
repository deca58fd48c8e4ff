/* Manifests, indexes and configs, OCI and Docker schema 2 (one parser: the
 * Docker types are the OCI structures with other type strings), and the
 * platform choice in an index. */
#include "image/image.h"

#include <stdlib.h>

static bool is_index_type(const char *mt)
{
	return mt && (!strcmp(mt, BERTH_MT_OCI_INDEX) || !strcmp(mt, BERTH_MT_DOCKER_LIST));
}

static bool is_manifest_type(const char *mt)
{
	return mt && (!strcmp(mt, BERTH_MT_OCI_MANIFEST) || !strcmp(mt, BERTH_MT_DOCKER_MANIFEST));
}

bool berth_layer_media_type_ok(const char *media_type)
{
	return berth_compression_of(media_type) >= 0;
}

/* Strip parameters: "application/json; charset=utf-8" -> "application/json". */
static char *bare_type(const char *ct)
{
	size_t n = strcspn(ct, "; \t");
	return berth_xstrndup(ct, n);
}

static int parse_descriptor(const json_t *j, const char *what, struct berth_descriptor *d,
			    struct berth_err **err)
{
	const char *mt = berth_json_str(j, "mediaType");
	const char *digest = berth_json_str(j, "digest");
	const json_t *size = json_object_get(j, "size");
	if (!json_is_object(j) || !digest || !json_is_integer(size))
		return berth_err_set(err, BERTH_E_INVALID,
				     "%s: a descriptor needs a digest and a size", what);
	if (!berth_digest_valid(digest))
		return berth_err_set(err, BERTH_E_UNSUPPORTED,
				     "%s: unsupported digest '%s' (berth handles sha256)", what,
				     digest);
	if (json_integer_value(size) < 0)
		return berth_err_set(err, BERTH_E_INVALID, "%s: negative size", what);
	d->media_type = berth_xstrdup(mt ? mt : "");
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	d->size = json_integer_value(size);
	const json_t *p = json_object_get(j, "platform");
	if (json_is_object(p)) {
		const char *os = berth_json_str(p, "os");
		const char *arch = berth_json_str(p, "architecture");
		const char *variant = berth_json_str(p, "variant");
		d->platform.os = os ? berth_xstrdup(os) : NULL;
		d->platform.architecture = arch ? berth_xstrdup(arch) : NULL;
		d->platform.variant = variant ? berth_xstrdup(variant) : NULL;
	}
	const json_t *ann = json_object_get(j, "annotations");
	const char *ref =
	    json_is_object(ann) ? berth_json_str(ann, "org.opencontainers.image.ref.name") : NULL;
	d->ref_name = ref ? berth_xstrdup(ref) : NULL;
	return 0;
}

static void descriptor_release(struct berth_descriptor *d)
{
	free(d->media_type);
	free(d->platform.os);
	free(d->platform.architecture);
	free(d->platform.variant);
	free(d->ref_name);
	memset(d, 0, sizeof(*d));
}

static int parse_list(const json_t *arr, const char *what, struct berth_descriptor **out, size_t *n,
		      struct berth_err **err)
{
	if (!json_is_array(arr))
		return berth_err_set(err, BERTH_E_INVALID, "%s is missing or not a list", what);
	*n = 0;
	*out = berth_xcalloc(json_array_size(arr), sizeof(**out));
	size_t i;
	json_t *el;
	json_array_foreach(arr, i, el)
	{
		_cleanup_free_ char *w = berth_xasprintf("%s[%zu]", what, i);
		if (parse_descriptor(el, w, &(*out)[i], err) < 0)
			return -BERTH_E_INVALID;
		(*n)++;
	}
	return 0;
}

int berth_manifest_parse(const char *data, size_t len, const char *content_type,
			 struct berth_manifest *out, struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	if (len > BERTH_MANIFEST_MAX)
		return berth_err_set(err, BERTH_E_LIMIT, "manifest is larger than %u bytes",
				     BERTH_MANIFEST_MAX);
	_cleanup_json_ json_t *j = berth_json_loadb(data, len, "manifest", err);
	if (!j)
		return -BERTH_E_INVALID;
	if (!json_is_object(j))
		return berth_err_set(err, BERTH_E_INVALID, "manifest is not a JSON object");
	const json_t *sv = json_object_get(j, "schemaVersion");
	if (json_is_integer(sv) && json_integer_value(sv) == 1)
		return berth_err_set(err, BERTH_E_UNSUPPORTED,
				     "manifest is Docker schema 1, which berth does not support "
				     "(re-push the image with a current client)");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return berth_err_set(err, BERTH_E_INVALID, "manifest: schemaVersion must be 2");
	const char *mt = berth_json_str(j, "mediaType");
	_cleanup_free_ char *ct = content_type ? bare_type(content_type) : NULL;
	if (ct &&
	    (!*ct || !strcmp(ct, "application/json") || !strcmp(ct, "application/octet-stream"))) {
		free(ct);
		ct = NULL;
	}
	if (mt && ct && strcmp(mt, ct))
		return berth_err_set(err, BERTH_E_INVALID,
				     "manifest: mediaType '%s' does not match the served type '%s'",
				     mt, ct);
	const char *type = mt ? mt : ct;
	if (!type) /* OCI allows an absent mediaType: tell by the fields */
		type = json_object_get(j, "manifests") ? BERTH_MT_OCI_INDEX : BERTH_MT_OCI_MANIFEST;
	int r;
	if (is_index_type(type)) {
		out->kind = BERTH_MANIFEST_INDEX;
		r = parse_list(json_object_get(j, "manifests"), "index manifests", &out->manifests,
			       &out->nmanifests, err);
	} else if (is_manifest_type(type)) {
		out->kind = BERTH_MANIFEST_IMAGE;
		r = parse_descriptor(json_object_get(j, "config"), "manifest config", &out->config,
				     err);
		if (r == 0)
			r = parse_list(json_object_get(j, "layers"), "manifest layers",
				       &out->layers, &out->nlayers, err);
	} else {
		return berth_err_set(err, BERTH_E_UNSUPPORTED,
				     "unsupported manifest type '%s' (berth reads OCI and Docker "
				     "schema 2 images and indexes)",
				     type);
	}
	out->media_type = berth_xstrdup(type);
	if (r < 0)
		berth_manifest_release(out);
	return r;
}

void berth_manifest_release(struct berth_manifest *m)
{
	descriptor_release(&m->config);
	for (size_t i = 0; i < m->nlayers; i++)
		descriptor_release(&m->layers[i]);
	free(m->layers);
	for (size_t i = 0; i < m->nmanifests; i++)
		descriptor_release(&m->manifests[i]);
	free(m->manifests);
	free(m->media_type);
	memset(m, 0, sizeof(*m));
}

int berth_manifest_select(const struct berth_manifest *index, const char *os, const char *arch,
			  const char *variant, const struct berth_descriptor **out,
			  struct berth_err **err)
{
	for (size_t i = 0; i < index->nmanifests; i++) {
		const struct berth_descriptor *d = &index->manifests[i];
		const struct berth_platform *p = &d->platform;
		if (!p->os || !p->architecture || strcmp(p->os, os) ||
		    strcmp(p->architecture, arch))
			continue;
		if (variant && p->variant && strcmp(variant, p->variant))
			continue;
		if (!is_manifest_type(d->media_type) && *d->media_type)
			continue;
		*out = d;
		return 0;
	}
	struct berth_buf have;
	berth_buf_init(&have, 4096);
	for (size_t i = 0; i < index->nmanifests; i++) {
		const struct berth_platform *p = &index->manifests[i].platform;
		berth_buf_addf(&have, "%s%s/%s%s%s", have.len ? ", " : "", p->os ? p->os : "?",
			       p->architecture ? p->architecture : "?", p->variant ? "/" : "",
			       p->variant ? p->variant : "");
	}
	int r = berth_err_set(
	    err, BERTH_E_NOT_FOUND, "no image for platform %s/%s%s%s in the index (it has: %s)", os,
	    arch, variant ? "/" : "", variant ? variant : "", have.len ? have.data : "nothing");
	berth_buf_release(&have);
	return r;
}

int berth_image_config_parse(const char *data, size_t len, struct berth_image_config *out,
			     struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	if (len > BERTH_CONFIG_MAX)
		return berth_err_set(err, BERTH_E_LIMIT, "image config is larger than %u bytes",
				     BERTH_CONFIG_MAX);
	json_t *j = berth_json_loadb(data, len, "image config", err);
	if (!j)
		return -BERTH_E_INVALID;
	out->json = j;
	const char *os = berth_json_str(j, "os");
	const char *arch = berth_json_str(j, "architecture");
	const json_t *rootfs = json_object_get(j, "rootfs");
	const json_t *ids = json_is_object(rootfs) ? json_object_get(rootfs, "diff_ids") : NULL;
	if (!json_is_object(j) || !os || !arch || !json_is_array(ids)) {
		berth_image_config_release(out);
		return berth_err_set(err, BERTH_E_INVALID,
				     "image config needs os, architecture and rootfs.diff_ids");
	}
	out->os = berth_xstrdup(os);
	out->architecture = berth_xstrdup(arch);
	const char *created = berth_json_str(j, "created");
	out->created = created ? berth_xstrdup(created) : NULL;
	size_t i;
	json_t *el;
	json_array_foreach(ids, i, el)
	{
		if (!json_is_string(el) || !berth_digest_valid(json_string_value(el))) {
			berth_image_config_release(out);
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "image config: rootfs.diff_ids[%zu] is not a sha256 digest", i);
		}
		berth_strv_push(&out->diff_ids, json_string_value(el));
	}
	return 0;
}

void berth_image_config_release(struct berth_image_config *c)
{
	if (c->json)
		json_decref(c->json);
	free(c->os);
	free(c->architecture);
	free(c->created);
	berth_strv_release(&c->diff_ids);
	memset(c, 0, sizeof(*c));
}
