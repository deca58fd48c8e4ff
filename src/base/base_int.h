/* base/ internals, shared by the module's own files only. */
#ifndef BERTH_BASE_INT_H
#define BERTH_BASE_INT_H

#include "base/base.h"
#include "image/image.h"

#include <stdarg.h>
#include <sys/types.h>

/* PATH inside the images made here (Docker's official images set the same). */
#define BERTH__BASE_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Tell the caller a step starts (opts->step), printf-style. */
void berth__base_step(const struct berth_base_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write `text` to `path` beneath rootfd (created or truncated, `mode`). */
int berth__base_put(int rootfd, const char *path, const char *text, mode_t mode,
		    struct berth_err **err);
/* Remove `path` beneath rootfd: a file, or a whole tree when it is a
 * directory. Missing is not an error. */
int berth__base_remove(int rootfd, const char *path, struct berth_err **err);
/* Remove everything inside the directory `path` beneath rootfd, keeping the
 * directory. Missing is not an error. */
int berth__base_empty_dir(int rootfd, const char *path, struct berth_err **err);

/* Bytes of the regular files under dir (symlinks and directories count 0;
 * each hardlinked file once). */
int64_t berth__base_tree_size(int dirfd);

/* The OCI architecture of this machine ("amd64", "arm64", ...), or NULL. */
const char *berth__base_arch(void);

/* What to pack: the root filesystem in `rootfs` (a scratch dir; on success it
 * is the layer's directory in the store, or removed when the store already
 * has that layer) and the image config's parts. */
struct berth__base_image {
	const char *rootfs;
	int64_t epoch;
	json_t *config;         /* the config's "config" object (Env, Cmd); borrowed */
	const char *created_by; /* the history entry */
	const struct berth_strv *tags;
};

/* Pack, store, write config and manifest, tag. Fills out's digest, diff_id,
 * layer_size, unpacked_size, epoch and tags. */
int berth__base_commit(struct berth_store *s, const struct berth__base_image *img,
		       struct berth_base_result *out, struct berth_err **err);

int berth__base_debian(struct berth_store *s, const struct berth_base_spec *spec,
		       const struct berth_base_opts *o, struct berth_base_result *out,
		       struct berth_err **err);
int berth__base_busybox(struct berth_store *s, const struct berth_base_spec *spec,
			const struct berth_base_opts *o, struct berth_base_result *out,
			struct berth_err **err);

/* slim.c: Docker's slim variant (debuerreotype-slimify): remove the files
 * under the excluded directories except the included ones, then the empty
 * directories and dangling symlinks this leaves, and write the dpkg config
 * that keeps later installs slim. *files and *bytes count what went. */
int berth__base_slimify(int rootfd, size_t *files, int64_t *bytes, struct berth_err **err);

/* The newest "Date:" of the Release/InRelease files in the apt lists
 * directory `dirfd`; -1 when none has one. Exported for the slim/fixup code
 * and its tests. */
int64_t berth__base_release_epoch(int listsfd);
/* Parse an RFC 2822 date as apt writes it ("Sat, 10 May 2025 08:12:43 UTC");
 * -1 when it does not parse. Month and day names in English, whatever the
 * locale. */
int64_t berth__base_parse_date(const char *s, size_t len);

#endif
