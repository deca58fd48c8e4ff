/* Overlay mounts of layer directories: a container's writable rootfs, or a
 * read-only view of an image (the builder reads stages through these). */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* One page of mount(2) option data, less the terminating NUL. */
#define MOUNT_DATA_MAX 4095

int berth_rootfs_mount(const char *dir, const struct berth_strv *lowers, const char *upper,
		       const char *mountpoint, struct berth_err **err)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "open '%s'", dir);
	_cleanup_free_ char *target = berth_xasprintf("%s/%s", dir, mountpoint);
	if (!upper && lowers->n <= 1) {
		/* overlayfs wants two lowers when it has no upper. */
		const char *src = lowers->n ? lowers->v[0] : NULL;
		_cleanup_free_ char *empty = NULL;
		if (!src) {
			empty = berth_xasprintf("%s/empty", dir);
			if (mkdir(empty, 0755) < 0 && errno != EEXIST)
				return berth_err_sys(err, errno, "make '%s'", empty);
			src = empty;
		}
		if (mount(src, target, NULL, MS_BIND, NULL) < 0 ||
		    mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			return berth_err_sys(err, errno, "mount a read-only view on '%s'", target);
		return 0;
	}
	if (mkdirat(dfd, "l", 0700) < 0 || (upper && mkdirat(dfd, "work", 0700) < 0))
		return berth_err_sys(err, errno, "prepare an overlay in '%s'", dir);
	struct berth_buf data;
	berth_buf_init(&data, MOUNT_DATA_MAX);
	berth_buf_addstr(&data, "lowerdir=");
	if (!lowers->n) {
		if (mkdirat(dfd, "empty", 0755) < 0) {
			berth_buf_release(&data);
			return berth_err_sys(err, errno, "prepare an overlay in '%s'", dir);
		}
		berth_buf_addstr(&data, "empty");
	}
	for (size_t k = lowers->n; k-- > 0;) {
		char link[32];
		snprintf(link, sizeof(link), "l/%zu", k);
		if (symlinkat(lowers->v[k], dfd, link) < 0) {
			berth_buf_release(&data);
			return berth_err_sys(err, errno, "link layer '%s'", lowers->v[k]);
		}
		berth_buf_addf(&data, "%s%s", k + 1 == lowers->n ? "" : ":", link);
	}
	if (upper)
		berth_buf_addf(&data, ",upperdir=%s,workdir=work", upper);
	if (access("/sys/module/overlay/parameters/index", F_OK) == 0)
		berth_buf_addstr(&data, ",index=off");
	if (berth_buf_addch(&data, '\0') < 0) {
		berth_buf_release(&data);
		return berth_err_set(err, BERTH_E_LIMIT,
				     "%zu layers do not fit in one overlay mount", lowers->n);
	}
	/* mount(2) resolves the relative paths against the working directory. */
	_cleanup_close_ int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;
	if (fchdir(dfd) < 0 ||
	    mount("overlay", mountpoint, "overlay", upper ? 0 : MS_RDONLY, data.data) < 0)
		rc = berth_err_sys(err, errno, "mount the overlay on '%s'", target);
	if (cwd >= 0 && fchdir(cwd) < 0 && rc == 0)
		rc = berth_err_sys(err, errno, "return to the working directory");
	berth_buf_release(&data);
	return rc;
}
