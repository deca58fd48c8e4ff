/* The secret store's key: $BERTH_HOME/secrets.key, 32 random bytes readable
 * by the owner only. It is created with link(2) from a fully written temp
 * file, so a reader never sees a partial key and two first opens racing each
 * other end up with the same key instead of each keeping its own. */
#include "secrets/secrets_int.h"

#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include "secrets/sodium_api.h"
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE "secrets.key"

static int sodium_status = -1;

static void sodium_once(void)
{
	sodium_status = sodium_init(); /* 0 or 1 (already done): fine */
}

int berth__secrets_sodium_init(struct berth_err **err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, sodium_once);
	if (sodium_status < 0)
		return berth_err_set(err, BERTH_E_INTERNAL, "libsodium failed to initialise");
	return 0;
}

/* Exactly `len` bytes from the start of fd; 0, or -1 with errno (0 on a
 * short file). */
static int read_exact(int fd, unsigned char *p, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

static int key_read(int fd, const char *path, unsigned char *key, struct berth_err **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return berth_err_sys(err, errno, "key file '%s'", path);
	if (!S_ISREG(st.st_mode))
		return berth_err_set(err, BERTH_E_INVALID,
				     "key file '%s' is not a regular file; put the original key "
				     "file back in its place",
				     path);
	if (st.st_mode & 077)
		return berth_err_set(err, BERTH_E_INVALID,
				     "key file '%s' is accessible by group or others (mode %04o); "
				     "make it private with: chmod 600 '%s'",
				     path, (unsigned)(st.st_mode & 07777), path);
	if (st.st_size != BERTH_SECRET_KEY_LEN)
		return berth_err_set(err, BERTH_E_INVALID,
				     "key file '%s' holds %lld bytes, not %d: it is damaged; "
				     "restore it from a backup (without it, move it away and set "
				     "every secret again)",
				     path, (long long)st.st_size, BERTH_SECRET_KEY_LEN);
	if (read_exact(fd, key, BERTH_SECRET_KEY_LEN) < 0) {
		int e = errno;
		sodium_memzero(key, BERTH_SECRET_KEY_LEN);
		if (e == 0)
			return berth_err_set(err, BERTH_E_INVALID,
					     "key file '%s' shrank while it was read", path);
		return berth_err_sys(err, e, "read key file '%s'", path);
	}
	return 0;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Make a new key file holding a new key. Returns 0 when this call made it
 * (key holds it), 1 when another process made one first (key is wiped; read
 * theirs), or a negative code. */
static int key_create(const char *home, unsigned char *key, struct berth_err **err)
{
	_cleanup_close_ int dfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "open '%s'", home);
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".%s.%d.%08x.tmp", KEY_FILE, (int)getpid(),
		 (unsigned)randombytes_random());
	_cleanup_close_ int fd =
	    openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_err_sys(err, errno, "create key file in '%s'", home);
	randombytes_buf(key, BERTH_SECRET_KEY_LEN);
	int r = 0;
	/* fchmod: the umask must not leave the owner unable to read it. */
	if (fchmod(fd, 0600) < 0 || write_all(fd, key, BERTH_SECRET_KEY_LEN) < 0 || fsync(fd) < 0)
		r = berth_err_sys(err, errno, "write key file '%s/%s'", home, tmp);
	else if (linkat(dfd, tmp, dfd, KEY_FILE, 0) < 0)
		r = errno == EEXIST
			? 1
			: berth_err_sys(err, errno, "create key file '%s/%s'", home, KEY_FILE);
	unlinkat(dfd, tmp, 0);
	if (r == 0 && fsync(dfd) < 0)
		r = berth_err_sys(err, errno, "sync '%s'", home);
	if (r != 0)
		sodium_memzero(key, BERTH_SECRET_KEY_LEN);
	return r;
}

int berth__secrets_key_load(const char *home, unsigned char *key, struct berth_err **err)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/%s", home, KEY_FILE);
	/* Missing, then made by someone else: a second look must find it (a
	 * third try covers a key removed in between). */
	for (int tries = 0; tries < 3; tries++) {
		_cleanup_close_ int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0)
			return key_read(fd, path, key, err);
		if (errno != ENOENT)
			return berth_err_sys(err, errno, "open key file '%s'", path);
		int r = key_create(home, key, err);
		if (r <= 0)
			return r;
	}
	return berth_err_set(err, BERTH_E_INTERNAL,
			     "key file '%s' keeps appearing and disappearing", path);
}
