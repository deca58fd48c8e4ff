/* A build step's new layer: its scratch directory becomes a stored layer
 * (blob, DiffID, ChainID, unpacked directory). The directory itself is
 * moved into layers/, never unpacked again from the tar. */
#include "build/build_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

char *berth__layer_scratch(struct berth_store *s, struct berth_err **err)
{
	/* "<pid>-" names are what the store's repair removes once this
	 * process is gone. */
	for (int attempt = 0; attempt < 16; attempt++) {
		unsigned r = 0;
		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (unsigned)attempt * 2654435761u;
		char *dir = berth_xasprintf("%s/layers/%d-build-%08x", berth_store_home(s),
					    (int)getpid(), r);
		if (mkdir(dir, 0755) == 0)
			return dir;
		int e = errno;
		free(dir);
		if (e != EEXIST) {
			berth_err_sys(err, e, "make a layer directory in '%s/layers'",
				      berth_store_home(s));
			return NULL;
		}
	}
	berth_err_set(err, BERTH_E_SYS, "make a layer directory: no free name");
	return NULL;
}

/* Copy the temp blob into the store through a verifying writer. */
static int store_blob(struct berth_store *s, int fd, const char *digest, int64_t size,
		      struct berth_err **err)
{
	if (berth_blob_exists(s, digest))
		return 0;
	struct berth_blob_writer *w;
	if (berth_blob_writer_new(s, digest, size, &w, err) < 0)
		return -1;
	char buf[65536];
	for (off_t off = 0;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			berth_blob_abort(w);
			return berth_err_sys(err, errno, "read the new layer");
		}
		if (n == 0)
			break;
		if (berth_blob_write(w, buf, (size_t)n, err) < 0) {
			berth_blob_abort(w);
			return -1;
		}
		off += n;
	}
	return berth_blob_commit(w, NULL, err);
}

int berth__commit_layer(struct berth_store *s, const char *scratch, const char *parent_chain,
			int64_t source_date_epoch, struct berth__layer *out, struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	_cleanup_close_ int dfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "open the new layer '%s'", scratch);
	_cleanup_free_ char *tmp =
	    berth_xasprintf("%s/blobs/tmp/%d-layer-XXXXXX", berth_store_home(s), (int)getpid());
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "make a temporary blob '%s'", tmp);
	struct berth_diff_opts o = {.compression = BERTH_COMPRESS_GZIP,
				    .source_date_epoch = source_date_epoch};
	int r = berth_layer_create(dfd, fd, &o, out->digest, out->diff_id, &out->size, err);
	if (r == 0)
		r = store_blob(s, fd, out->digest, out->size, err);
	unlink(tmp);
	if (r < 0)
		return r;
	berth_chain_id(parent_chain, out->diff_id, out->chain);
	_cleanup_free_ char *dest = berth_store_layer_dir(s, out->chain);
	if (berth_store_layer_ready(s, out->chain))
		return berth_fs_remove_tree(AT_FDCWD, scratch, err); /* the same layer exists */
	if (rename(scratch, dest) < 0)
		return berth_err_sys(err, errno, "store the new layer as '%s'", dest);
	return 0;
}
