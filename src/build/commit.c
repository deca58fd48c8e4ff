/* A build step's new layer: its scratch directory becomes a stored layer
 * (blob, DiffID, ChainID, unpacked directory). The directory itself is
 * moved into layers/, never unpacked again from the tar. */
#include "build/build_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		r = berth_blob_import_fd(s, fd, out->digest, out->size, err);
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
