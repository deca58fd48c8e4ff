/* The slim variant of a Debian base, as debuerreotype makes Docker's
 * debian:*-slim: documentation, man and info pages, lintian overrides and
 * translations are removed (keeping each package's copyright file and the
 * locale files programs read), and a dpkg config excludes the same paths from
 * every later install. Also: the reproducible date of a system made from a
 * mirror, the newest "Date:" of its Release files. */
#include "base/base_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* debuerreotype's .slimify-excludes: every file under these goes... */
static const char *const slim_excludes[] = {
    "/usr/share/doc/*",
    "/usr/share/groff/*",
    "/usr/share/info/*",
    "/usr/share/linda/*",
    "/usr/share/lintian/overrides/*",
    "/usr/share/locale/*",
    "/usr/share/man/*",
};

/* ...except these (.slimify-includes: licences, and what localepurge keeps). */
static const char *const slim_includes[] = {
    "/usr/share/doc/*/copyright",   "/usr/share/doc/kde/HTML/C/*",
    "/usr/share/gnome/help/*/C/*",  "/usr/share/locale/all_languages",
    "/usr/share/locale/currency/*", "/usr/share/locale/l10n/*",
    "/usr/share/locale/languages",  "/usr/share/locale/locale.alias",
    "/usr/share/omf/*/*-C.emf",
};

#define SLIM_MAX_DEPTH 64

static bool included(const char *path)
{
	/* dpkg's path-include matching: fnmatch without FNM_PATHNAME, so '*'
	 * also matches '/', as `find -path` does for debuerreotype. */
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(slim_includes); i++)
		if (fnmatch(slim_includes[i], path, 0) == 0)
			return true;
	return false;
}

struct slim {
	int rootfd;
	size_t files;
	int64_t bytes;
	bool removed; /* a prune pass removed something */
};

static DIR *open_sub(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d && fd >= 0)
		close(fd);
	return d;
}

/* Step 1: delete every file under `path` (the open dir d) that is neither a
 * directory, nor a symlink, nor included. */
static int drop_files(struct slim *sl, DIR *d, struct berth_buf *path, int depth,
		      struct berth_err **err)
{
	if (depth > SLIM_MAX_DEPTH)
		return berth_err_set(err, BERTH_E_LIMIT, "slimify: '%s' is nested too deep",
				     path->data);
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t keep = path->len;
		berth_buf_addf(path, "/%s", de->d_name);
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = berth_err_sys(err, errno, "slimify: stat '%s'", path->data);
		} else if (S_ISDIR(st.st_mode)) {
			DIR *sub = open_sub(dirfd(d), de->d_name);
			if (!sub)
				r = berth_err_sys(err, errno, "slimify: open '%s'", path->data);
			else {
				r = drop_files(sl, sub, path, depth + 1, err);
				closedir(sub);
			}
		} else if (!S_ISLNK(st.st_mode) && !included(path->data)) {
			if (unlinkat(dirfd(d), de->d_name, 0) < 0)
				r = berth_err_sys(err, errno, "slimify: remove '%s'", path->data);
			else {
				sl->files++;
				sl->bytes += st.st_size;
			}
		}
		path->len = keep;
		path->data[keep] = '\0';
	}
	return r;
}

/* Step 2 (repeated until it removes nothing): empty directories and
 * symlinks whose target does not exist in the new system. */
static void prune(struct slim *sl, DIR *d, struct berth_buf *path, int depth)
{
	if (depth > SLIM_MAX_DEPTH)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t keep = path->len;
		berth_buf_addf(path, "/%s", de->d_name);
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISDIR(st.st_mode)) {
				DIR *sub = open_sub(dirfd(d), de->d_name);
				if (sub) {
					prune(sl, sub, path, depth + 1);
					closedir(sub);
				}
				if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == 0)
					sl->removed = true; /* it was empty */
			} else if (S_ISLNK(st.st_mode)) {
				/* Resolved with the new system as "/": an absolute
				 * target means the image's file, not the host's. */
				int fd = berth_fs_open_beneath(sl->rootfd, path->data,
							       O_PATH | O_CLOEXEC, 0, NULL);
				if (fd >= 0)
					close(fd);
				else if (unlinkat(dirfd(d), de->d_name, 0) == 0)
					sl->removed = true;
			}
		}
		path->len = keep;
		path->data[keep] = '\0';
	}
}

static const char dpkg_cfg_head[] =
    "# This is the \"slim\" variant of the Debian base image, made by `berth base create`.\n"
    "# Many files which are normally unnecessary in containers are excluded,\n"
    "# and this configuration file keeps them that way.\n";

int berth__base_slimify(int rootfd, size_t *files, int64_t *bytes, struct berth_err **err)
{
	struct slim sl = {.rootfd = rootfd};
	_cleanup_buf_ struct berth_buf cfg;
	berth_buf_init(&cfg, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&cfg, dpkg_cfg_head);
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(slim_excludes); i++) {
		berth_buf_addf(&cfg, "\npath-exclude %s\n", slim_excludes[i]);
		/* The directory the pattern's '*' is in. */
		_cleanup_free_ char *dir = berth_xstrdup(slim_excludes[i]);
		*strrchr(dir, '/') = '\0';
		_cleanup_buf_ struct berth_buf path;
		berth_buf_init(&path, BERTH_BUF_UNLIMITED);
		berth_buf_addstr(&path, dir);
		int fd =
		    berth_fs_open_beneath(rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, NULL);
		if (fd < 0)
			continue; /* not in this system */
		DIR *d = fdopendir(fd);
		if (!d) {
			close(fd);
			return berth_err_sys(err, errno, "slimify: open '%s'", dir);
		}
		int r = drop_files(&sl, d, &path, 0, err);
		closedir(d);
		if (r < 0)
			return r;
		do {
			sl.removed = false;
			fd = berth_fs_open_beneath(rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
						   0, NULL);
			d = fd >= 0 ? fdopendir(fd) : NULL;
			if (!d) {
				if (fd >= 0)
					close(fd);
				break;
			}
			path.len = strlen(dir);
			path.data[path.len] = '\0';
			prune(&sl, d, &path, 0);
			closedir(d);
		} while (sl.removed);
	}
	berth_buf_addch(&cfg, '\n');
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(slim_includes); i++)
		berth_buf_addf(&cfg, "path-include %s\n", slim_includes[i]);
	if (berth_fs_mkdir_beneath(rootfd, "/etc/dpkg/dpkg.cfg.d", 0755, err) < 0 ||
	    berth__base_put(rootfd, "/etc/dpkg/dpkg.cfg.d/docker", cfg.data, 0644, err) < 0)
		return -1;
	*files = sl.files;
	*bytes = sl.bytes;
	return 0;
}

int64_t berth__base_parse_date(const char *s, size_t len)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	_cleanup_free_ char *copy = berth_xstrndup(s, len);
	char *p = copy;
	/* An optional "Sat, " in front. */
	char *comma = strchr(p, ',');
	if (comma)
		p = comma + 1;
	int day, year, hh, mm, ss, consumed = 0;
	char mon[4] = {0};
	if (sscanf(p, " %d %3s %d %d:%d:%d%n", &day, mon, &year, &hh, &mm, &ss, &consumed) != 6)
		return -1;
	const char *m = strstr(months, mon);
	if (strlen(mon) != 3 || !m || (m - months) % 3)
		return -1;
	if (day < 1 || day > 31 || year < 1970 || year > 9999 || hh > 23 || mm > 59 || ss > 60 ||
	    hh < 0 || mm < 0 || ss < 0)
		return -1;
	/* The zone: apt's Release files say "UTC" (or "+0000"). */
	const char *zone = p + consumed;
	while (*zone == ' ')
		zone++;
	long offset = 0;
	if ((*zone == '+' || *zone == '-') && strlen(zone) >= 5) {
		int hz = (zone[1] - '0') * 10 + (zone[2] - '0');
		int mz = (zone[3] - '0') * 10 + (zone[4] - '0');
		offset = (hz * 3600L + mz * 60L) * (*zone == '-' ? -1 : 1);
	}
	struct tm tm = {.tm_sec = ss,
			.tm_min = mm,
			.tm_hour = hh,
			.tm_mday = day,
			.tm_mon = (int)((m - months) / 3),
			.tm_year = year - 1900};
	time_t t = timegm(&tm);
	return t < 0 ? -1 : (int64_t)t - offset;
}

/* The "Date:" field of one Release file's header, or -1. */
static int64_t file_date(int dfd, const char *name)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *line = buf;
	/* InRelease is clear-signed: the armor header and its blank line come
	 * before the fields. */
	if (!strncmp(line, "-----BEGIN PGP SIGNED MESSAGE-----", 34)) {
		char *blank = strstr(line, "\n\n");
		line = blank ? blank + 2 : NULL;
	}
	while (line && *line) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > 5 && !strncmp(line, "Date:", 5))
			return berth__base_parse_date(line + 5, len - 5);
		if (len == 0)
			break; /* the end of the header */
		line = nl ? nl + 1 : NULL;
	}
	return -1;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

int64_t berth__base_release_epoch(int listsfd)
{
	int fd = dup(listsfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int64_t newest = -1;
	struct dirent *de;
	while ((de = readdir(d)))
		if (ends_with(de->d_name, "_InRelease") || ends_with(de->d_name, "_Release")) {
			int64_t t = file_date(dirfd(d), de->d_name);
			if (t > newest)
				newest = t;
		}
	closedir(d);
	return newest;
}
