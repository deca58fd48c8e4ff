/* A root filesystem becomes a one-layer image in the store: the directory is
 * packed by image/'s layer writer (sorted, numeric owners, mtimes clamped to
 * SOURCE_DATE_EPOCH, so the same tree gives the same digest), the directory
 * itself becomes the layer's unpacked copy (never unpacked again), and the
 * config and manifest are written and tagged. */
#include "base/base_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Pack `img->rootfs` into a gzip layer blob; fills the digests and size. */
static int pack(struct berth_store *s, const struct berth__base_image *img,
		struct berth_base_result *out, struct berth_err **err)
{
	_cleanup_close_ int dfd = open(img->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "open the new system '%s'", img->rootfs);
	out->unpacked_size = berth__base_tree_size(dfd);
	_cleanup_free_ char *tmp =
	    berth_xasprintf("%s/blobs/tmp/%d-base-XXXXXX", berth_store_home(s), (int)getpid());
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "make a temporary blob '%s'", tmp);
	char digest[BERTH_DIGEST_LEN + 1];
	struct berth_diff_opts o = {.compression = BERTH_COMPRESS_GZIP,
				    .source_date_epoch = img->epoch};
	int r = berth_layer_create(dfd, fd, &o, digest, out->diff_id, &out->layer_size, err);
	if (r == 0)
		r = berth_blob_import_fd(s, fd, digest, out->layer_size, err);
	unlink(tmp);
	if (r < 0)
		return berth_err_prefix(err, "pack the new system as a layer");
	/* The manifest digest comes later; keep the layer's in its slot. */
	memcpy(out->digest, digest, sizeof(digest));
	return 0;
}

int berth__base_commit(struct berth_store *s, const struct berth__base_image *img,
		       struct berth_base_result *out, struct berth_err **err)
{
	const char *arch = berth__base_arch();
	if (!arch)
		return berth_err_set(err, BERTH_E_UNSUPPORTED,
				     "this machine's architecture has no OCI name berth knows");
	if (pack(s, img, out, err) < 0)
		return -1;
	char layer_digest[BERTH_DIGEST_LEN + 1];
	memcpy(layer_digest, out->digest, sizeof(layer_digest));
	out->epoch = img->epoch;

	/* One layer: its ChainID is its DiffID. */
	char chain[BERTH_DIGEST_LEN + 1];
	berth_chain_id(NULL, out->diff_id, chain);
	_cleanup_free_ char *dest = berth_store_layer_dir(s, chain);
	if (berth_store_layer_ready(s, chain)) {
		if (berth_fs_remove_tree(AT_FDCWD, img->rootfs, err) < 0)
			return -1; /* the same layer is there already */
	} else if (rename(img->rootfs, dest) < 0) {
		return berth_err_sys(err, errno, "store the new layer as '%s'", dest);
	}

	char when[32];
	rfc3339(img->epoch, when);
	_cleanup_json_ json_t *cfg = json_pack(
	    "{s:s, s:s, s:s, s:O, s:{s:s, s:[s]}, s:[{s:s, s:s}]}", "architecture", arch, "os",
	    "linux", "created", when, "config", img->config, "rootfs", "type", "layers", "diff_ids",
	    out->diff_id, "history", "created", when, "created_by", img->created_by);
	if (!cfg)
		return berth_err_set(err, BERTH_E_INTERNAL, "make the image config");
	_cleanup_buf_ struct berth_buf cb, mb;
	berth_buf_init(&cb, BERTH_CONFIG_MAX);
	berth_buf_init(&mb, BERTH_MANIFEST_MAX);
	char cdigest[BERTH_DIGEST_LEN + 1];
	if (berth_json_dump_canonical(cfg, &cb) < 0)
		return berth_err_set(err, BERTH_E_LIMIT, "the image config is too large");
	if (berth_blob_put(s, cb.data, cb.len, NULL, cdigest, err) < 0)
		return -1;
	_cleanup_json_ json_t *man = json_pack(
	    "{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2, "mediaType",
	    BERTH_MT_OCI_MANIFEST, "config", "mediaType", BERTH_MT_OCI_CONFIG, "digest", cdigest,
	    "size", (json_int_t)cb.len, "layers", "mediaType", BERTH_MT_OCI_LAYER_GZIP, "digest",
	    layer_digest, "size", (json_int_t)out->layer_size);
	if (!man)
		return berth_err_set(err, BERTH_E_INTERNAL, "make the image manifest");
	if (berth_json_dump_canonical(man, &mb) < 0)
		return berth_err_set(err, BERTH_E_LIMIT, "the manifest is too large");
	if (berth_blob_put(s, mb.data, mb.len, NULL, out->digest, err) < 0)
		return -1;
	int64_t total = (int64_t)(cb.len + mb.len) + out->layer_size;
	for (size_t i = 0; i < img->tags->n; i++) {
		if (berth_store_tag(s, img->tags->v[i], out->digest, BERTH_MT_OCI_MANIFEST, total,
				    err) < 0)
			return berth_err_prefix(err, "tag '%s'", img->tags->v[i]);
		berth_strv_push(&out->tags, img->tags->v[i]);
	}
	return 0;
}
