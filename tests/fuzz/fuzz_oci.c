/* Fuzz target: OCI images from outside, beyond fuzz_manifest's plain
 * parses. The first byte picks: an oci-archive (`berth image load x.tar`:
 * libarchive, index.json, every blob verified into a scratch store made
 * once), or a manifest/index served under each Content-Type a registry may
 * announce, with the platform choice of an index. Must never crash or
 * leak; whatever is stored must hash to its name; what is chosen must be a
 * well-formed descriptor. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char home[] = "/tmp/berth-fuzz-oci-XXXXXX";
static struct berth_store *store;

static void remove_home(void)
{
	berth_store_close(store);
	berth_fs_remove_tree(AT_FDCWD, home, NULL);
}

static int on_image(void *ctx, const char *ref_name, const struct berth_descriptor *m,
		    struct berth_err **err)
{
	if (!berth_digest_valid(m->digest) || m->size < 0)
		abort(); /* the index parser let a bad descriptor through */
	if (!berth_blob_exists(store, m->digest))
		abort(); /* tag_images checks this before calling */
	if (ref_name) {
		struct berth_ref r;
		if (berth_ref_parse(ref_name, &r, NULL) == 0)
			berth_ref_release(&r);
	}
	return 0;
}

static void archive(const uint8_t *p, size_t n)
{
	if (!store) {
		struct berth_err *err = NULL;
		if (!mkdtemp(home) || berth_store_open(home, &store, &err) < 0)
			abort();
		atexit(remove_home);
	}
	char *path = berth_xasprintf("%s/in.tar", home);
	struct berth_err *err = NULL;
	if (berth_fs_write_atomic(AT_FDCWD, path, p, n, 0600, &err) < 0)
		abort();
	if (berth_layout_load(store, path, on_image, NULL, &err) < 0) {
		if (!err || !err->msg)
			abort();
		berth_err_free(err);
	}
	unlink(path);
	free(path);
}

static void manifest(const uint8_t *p, size_t n, uint8_t pick)
{
	static const char *const types[] = {
	    NULL,
	    "application/json",
	    "application/vnd.oci.image.index.v1+json",
	    "application/vnd.oci.image.manifest.v1+json",
	    "application/vnd.docker.distribution.manifest.list.v2+json",
	    "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8",
	    "application/vnd.docker.distribution.manifest.v1+prettyjws",
	    "",
	};
	struct berth_manifest m;
	struct berth_err *err = NULL;
	const char *ct = types[pick % (sizeof(types) / sizeof(types[0]))];
	if (berth_manifest_parse((const char *)p, n, ct, &m, &err) < 0) {
		if (!err || !err->msg)
			abort();
		berth_err_free(err);
		return;
	}
	for (size_t i = 0; i < m.nlayers; i++)
		if (!berth_digest_valid(m.layers[i].digest) || m.layers[i].size < 0)
			abort();
	static const char *const plats[][3] = {{"linux", "amd64", NULL},
					       {"linux", "arm64", "v8"},
					       {"linux", "arm", "v7"},
					       {"windows", "amd64", NULL}};
	for (size_t k = 0; m.kind == BERTH_MANIFEST_INDEX && k < 4; k++) {
		const struct berth_descriptor *d = NULL;
		if (berth_manifest_select(&m, plats[k][0], plats[k][1], plats[k][2], &d, &err) ==
		    0) {
			if (!d || !berth_digest_valid(d->digest))
				abort();
		} else {
			berth_err_free(err);
			err = NULL;
		}
	}
	berth_manifest_release(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > (1u << 20))
		return 0;
	if (data[0] & 1)
		archive(data + 1, size - 1);
	else
		manifest(data + 2, size - 2, data[1]);
	return 0;
}
