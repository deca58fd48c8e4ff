/* Safe filesystem helpers. Paths that come from images, Dockerfiles, tar
 * files or requests are resolved beneath a root directory fd so that `..` and
 * symlinks can never escape it (openat2 RESOLVE_IN_ROOT, or an equivalent
 * component walk on kernels without it). Writes that must survive a crash go
 * through berth_fs_write_atomic(). */
#ifndef BERTH_COMMON_FS_H
#define BERTH_COMMON_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/err.h"

/* Open `path` (relative or absolute; both are taken as inside the root)
 * beneath `rootfd` with open(2) `flags` and `mode`. Symlinks are followed as
 * if rootfd were "/". Returns an fd or a negative code. */
int berth_fs_open_beneath(int rootfd, const char *path, int flags, mode_t mode,
			  struct berth_err **err);

/* mkdir -p of `path` beneath rootfd (each component resolved in the root). */
int berth_fs_mkdir_beneath(int rootfd, const char *path, mode_t mode, struct berth_err **err);

/* Read a whole file (at most `max` bytes; larger is BERTH_E_LIMIT). `path`
 * "-" reads standard input. Appends to out. */
int berth_fs_read_file(const char *path, size_t max, struct berth_buf *out, struct berth_err **err);

/* Write data to dirfd/name atomically: temp file in the same directory,
 * fsync, rename, fsync of the directory. Nothing half-written is left behind
 * on failure. dirfd may be AT_FDCWD. */
int berth_fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			  struct berth_err **err);

/* The same without the fsyncs: readers see the old or the new content,
 * never a mix, but a power cut may lose the write. For state that does not
 * outlive the processes it describes (runner state). */
int berth_fs_write_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			   struct berth_err **err);

/* mkdir -p on the host (paths that berth itself chose). */
int berth_fs_mkdir_p(const char *path, mode_t mode, struct berth_err **err);

/* rm -rf of dirfd/name without following symlinks. Missing is not an error. */
int berth_fs_remove_tree(int dirfd, const char *name, struct berth_err **err);

#endif
