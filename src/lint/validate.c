/* Validation of a built image: what only the image can tell (python3 on its
 * PATH, its CUDA environment, the caches its layers keep), read from the
 * unpacked layers through a merged view that follows overlayfs' rules, and
 * what each layer holds, for `berth image inspect --layers`. */
#include "image/image.h"
#include "lint/lint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define OVERLAY_OPAQUE "trusted.overlay.opaque"
/* PATH when the image sets none: what the runner gives the app (runtime/spec.c). */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* The oldest Python 3 berth's SDK runs on (sdk/python/berth/__init__.py). */
#define SDK_PYTHON_MINOR 8
/* History text shown in a message, at most (characters). */
#define STEP_SHOWN_MAX 72

/* ------------------------------------------------------------ the checks */

static const struct berth_lint_image_check checks[] = {
    {"image/python-missing", BERTH_LINT_ERROR,
     "an SDK app's image has no executable python3 on its PATH (symlinks resolved inside "
     "the image)"},
    {"image/python-old", BERTH_LINT_WARNING,
     "an SDK app's python3 is older than 3.8, the oldest berth's SDK runs on"},
    {"image/cuda-env", BERTH_LINT_WARNING,
     "a GPU app's image has no NVIDIA_* variable and not both a CUDA directory (CUDA_HOME or "
     "/usr/local/cuda) and a CUDA lib dir on LD_LIBRARY_PATH; or CUDA_HOME names a directory "
     "the image lacks"},
    {"image/apt-lists", BERTH_LINT_WARNING,
     "a layer keeps apt's package lists (/var/lib/apt/lists)"},
    {"image/apt-archives", BERTH_LINT_WARNING,
     "a layer keeps downloaded .deb files (/var/cache/apt/archives)"},
    {"image/pip-cache", BERTH_LINT_WARNING,
     "a layer keeps a pip cache (~/.cache/pip of root or of the image's user, $PIP_CACHE_DIR)"},
    {"image/npm-cache", BERTH_LINT_WARNING,
     "a layer keeps an npm cache (~/.npm of root or of the image's user)"},
};

const struct berth_lint_image_check *berth_lint_image_checks(size_t *n)
{
	*n = BERTH_ARRAY_SIZE(checks);
	return checks;
}

static const struct berth_lint_image_check *check_of(const char *id)
{
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(checks); i++)
		if (!strcmp(checks[i].id, id))
			return &checks[i];
	BUG("unknown image check '%s'", id);
}

/* ------------------------------------------------------------ the result */

void berth_lint_image_result_release(struct berth_lint_image_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->findings[i].step);
		free(r->findings[i].path);
		free(r->findings[i].message);
		free(r->findings[i].fix);
	}
	free(r->findings);
	berth_strv_release(&r->notes);
	memset(r, 0, sizeof(*r));
}

bool berth_lint_image_failed(const struct berth_lint_image_result *r, bool strict)
{
	for (size_t i = 0; i < r->n; i++)
		if (strict || r->findings[i].severity == BERTH_LINT_ERROR)
			return true;
	return false;
}

/* Add a finding; takes message and fix. */
static void add(struct berth_lint_image_result *r, const char *rule, int layer, const char *step,
		const char *path, int64_t bytes, char *message, char *fix)
{
	const struct berth_lint_image_check *c = check_of(rule);
	r->findings = berth_xgrow(r->findings, sizeof(*r->findings), r->n + 1, &r->cap);
	r->findings[r->n++] = (struct berth_lint_image_finding){
	    .rule = c->id,
	    .severity = c->severity,
	    .layer = layer,
	    .step = step ? berth_xstrdup(step) : NULL,
	    .path = path ? berth_xstrdup(path) : NULL,
	    .bytes = bytes,
	    .message = message,
	    .fix = fix,
	};
}

/* "830 B", "50.0 kB", "1.2 MB" (decimal units, as `berth images`). */
static void human(char out[32], int64_t n)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1000 && u + 1 < BERTH_ARRAY_SIZE(units)) {
		v /= 1000;
		u++;
	}
	snprintf(out, 32, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

char *berth_lint_step_text(const char *created_by, size_t max)
{
	if (!created_by)
		return NULL;
	const char *s = created_by;
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	/* Docker's legacy form: "/bin/sh -c #(nop)  ENV A=b", "/bin/sh -c apt-get ...". */
	static const char nop[] = "/bin/sh -c #(nop) ", sh[] = "/bin/sh -c ";
	if (!strncmp(s, nop, sizeof(nop) - 1)) {
		s += sizeof(nop) - 1;
		while (*s == ' ')
			s++;
	} else if (!strncmp(s, sh, sizeof(sh) - 1)) {
		berth_buf_addstr(&b, "RUN ");
		s += sizeof(sh) - 1;
	} else if (!strncmp(s, "RUN ", 4)) {
		/* BuildKit's: "RUN |2 A=1 B=2 /bin/sh -c X # buildkit". */
		const char *c = strstr(s, sh);
		if (c) {
			berth_buf_addstr(&b, "RUN ");
			s = c + sizeof(sh) - 1;
		}
	}
	size_t len = strlen(s);
	static const char bk[] = " # buildkit";
	if (len >= sizeof(bk) - 1 && !strcmp(s + len - (sizeof(bk) - 1), bk))
		len -= sizeof(bk) - 1;
	for (size_t i = 0; i < len; i++)
		berth_buf_addch(&b, s[i] == '\n' || s[i] == '\t' ? ' ' : s[i]);
	if (max >= 4 && b.len > max) {
		b.len = max - 3;
		b.data[b.len] = '\0';
		berth_buf_addstr(&b, "...");
	}
	return berth_buf_steal(&b, NULL);
}

/* "layer 2 (`RUN pip install flask`)" or "layer 2". */
static char *layer_label(int layer, const char *step)
{
	_cleanup_free_ char *shown = berth_lint_step_text(step, STEP_SHOWN_MAX);
	if (shown && *shown)
		return berth_xasprintf("layer %d (`%s`)", layer, shown);
	return berth_xasprintf("layer %d", layer);
}

/* ------------------------------------------------------- the merged view */

/* The layers of an image seen as overlayfs shows them: for a path, the top
 * layer that has it wins; a char 0/0 device hides it (a whiteout); a
 * directory merges with the directories below it unless it is opaque, or a
 * layer in between has a file or whiteout there. Every lookup is an openat()
 * or fstatat() relative to a layer's directory with no symlink followed by
 * the kernel: symlinks are read and resolved here, inside the image, so
 * nothing can reach the host's files. */
struct view {
	int *root; /* each layer's directory, base first */
	size_t n;
};

static void view_release(struct view *v)
{
	for (size_t i = 0; i < v->n; i++)
		close(v->root[i]);
	free(v->root);
	v->root = NULL;
	v->n = 0;
}

static int view_open(const struct berth_strv *dirs, struct view *v, struct berth_err **err)
{
	v->n = 0;
	v->root = NULL;
	if (dirs->n > BERTH_LINT_IMAGE_MAX_LAYERS)
		return berth_err_set(err, BERTH_E_LIMIT,
				     "the image has %zu layers; at most %u are read", dirs->n,
				     BERTH_LINT_IMAGE_MAX_LAYERS);
	v->root = berth_xcalloc(dirs->n ? dirs->n : 1, sizeof(int));
	for (size_t i = 0; i < dirs->n; i++) {
		int fd = open(dirs->v[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			view_release(v);
			return berth_err_sys(err, e, "open layer directory '%s'", dirs->v[i]);
		}
		v->root[v->n++] = fd;
	}
	return 0;
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(int fd)
{
	char val[2];
	return fgetxattr(fd, OVERLAY_OPAQUE, val, sizeof(val)) == 1 && val[0] == 'y';
}

/* A merged directory: per layer, an fd of that layer's directory, or -1
 * where the layer does not contribute to it. */
static int *dirset_new(const struct view *v)
{
	int *d = berth_xmalloc((v->n ? v->n : 1) * sizeof(int));
	for (size_t i = 0; i < v->n; i++)
		d[i] = -1;
	return d;
}

static void dirset_close(const struct view *v, int *d)
{
	for (size_t i = 0; d && i < v->n; i++)
		if (d[i] >= 0) {
			close(d[i]);
			d[i] = -1;
		}
}

static void dirset_free(const struct view *v, int *d)
{
	dirset_close(v, d);
	free(d);
}

static void dirset_root(const struct view *v, int *d)
{
	dirset_close(v, d);
	for (size_t i = v->n; i-- > 0;) {
		d[i] = openat(v->root[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d[i] >= 0 && is_opaque(d[i]))
			break;
	}
}

/* The top layer of a merged directory, or -1. */
static int dirset_top(const struct view *v, const int *d)
{
	for (size_t i = v->n; i-- > 0;)
		if (d[i] >= 0)
			return (int)i;
	return -1;
}

/* Look `name` up in the merged directory `dir`: e_layer gets the layer
 * holding it (-1: absent or whited out), st its stat; when it is a
 * directory, `sub` gets the merged directory's fds. */
static void lookup(const struct view *v, const int *dir, const char *name, int *e_layer,
		   struct stat *st, int *sub)
{
	dirset_close(v, sub);
	*e_layer = -1;
	for (size_t i = v->n; i-- > 0;) {
		if (dir[i] < 0)
			continue;
		struct stat s;
		if (fstatat(dir[i], name, &s, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (*e_layer < 0) {
			if (is_whiteout(&s))
				return;
			*e_layer = (int)i;
			*st = s;
			if (!S_ISDIR(s.st_mode))
				return;
		} else if (!S_ISDIR(s.st_mode)) {
			return; /* a file or a whiteout hides what is below */
		}
		sub[i] = openat(dir[i], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub[i] >= 0 && is_opaque(sub[i]))
			return;
	}
}

/* Walk `path` (only directories, no symlinks: a path this file resolved)
 * from the root into *dir. */
static int walk_dirs(const struct view *v, const char *path, int **dir, int **sub)
{
	dirset_root(v, *dir);
	_cleanup_free_ char *copy = berth_xstrdup(path);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int layer;
		struct stat st;
		lookup(v, *dir, c, &layer, &st, *sub);
		if (layer < 0 || !S_ISDIR(st.st_mode))
			return -ENOENT;
		int *t = *dir;
		*dir = *sub;
		*sub = t;
	}
	return 0;
}

enum {
	R_FOLLOW = 1, /* follow a final symlink */
	R_DIRFDS = 2, /* a final directory: keep its merged fds in hit.dir */
	R_OPEN = 4,   /* a final regular file: open it (hit.fd) */
};

struct hit {
	int layer; /* the layer holding the entry */
	struct stat st;
	char *path; /* absolute, symlinks resolved */
	char *link; /* without R_FOLLOW, a final symlink's target */
	int *dir;   /* R_DIRFDS */
	int fd;     /* R_OPEN, else -1 */
};

static void hit_release(const struct view *v, struct hit *h)
{
	free(h->path);
	free(h->link);
	if (h->dir)
		dirset_free(v, h->dir);
	if (h->fd >= 0)
		close(h->fd);
	memset(h, 0, sizeof(*h));
	h->layer = -1;
	h->fd = -1;
}

/* Resolve `path` in the merged view, as the kernel would inside the
 * container: "..", absolute and relative symlinks (at most
 * BERTH_LINT_IMAGE_MAX_LINKS), never above "/". Returns 0 and fills *h
 * (release it), or -ENOENT, -ENOTDIR, -ELOOP, -ENAMETOOLONG. */
static int resolve(const struct view *v, const char *path, int flags, struct hit *h)
{
	memset(h, 0, sizeof(*h));
	h->layer = -1;
	h->fd = -1;
	int rc = 0, links = 0;
	int *dir = dirset_new(v), *sub = dirset_new(v);
	struct berth_buf cur, todo;
	berth_buf_init(&cur, BERTH_LAYER_PATH_MAX);
	berth_buf_init(&todo, BERTH_LAYER_PATH_MAX);
	if (berth_buf_addstr(&todo, path) < 0) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	dirset_root(v, dir);
	size_t pos = 0;
	for (;;) {
		while (todo.data[pos] == '/')
			pos++;
		if (!todo.data[pos]) { /* the path names the directory we are in */
			int top = dirset_top(v, dir);
			if (top < 0 || fstat(dir[top], &h->st) < 0) {
				rc = -ENOENT;
				goto out;
			}
			h->layer = top;
			h->path = berth_xstrdup(cur.len ? cur.data : "/");
			if (flags & R_DIRFDS)
				h->dir = steal_pointer(&dir);
			goto out;
		}
		const char *name0 = todo.data + pos;
		size_t nlen = strcspn(name0, "/");
		char name[NAME_MAX + 1];
		if (nlen > NAME_MAX) {
			rc = -ENAMETOOLONG;
			goto out;
		}
		memcpy(name, name0, nlen);
		name[nlen] = '\0';
		pos += nlen;
		size_t after = pos;
		while (todo.data[after] == '/')
			after++;
		bool last = !todo.data[after];
		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, "..")) {
			char *slash = strrchr(cur.data, '/');
			cur.len = slash ? (size_t)(slash - cur.data) : 0;
			cur.data[cur.len] = '\0';
			if ((rc = walk_dirs(v, cur.data, &dir, &sub)) < 0)
				goto out;
			continue;
		}
		int layer;
		struct stat st;
		lookup(v, dir, name, &layer, &st, sub);
		if (layer < 0) {
			rc = -ENOENT;
			goto out;
		}
		if (S_ISLNK(st.st_mode) && (!last || (flags & R_FOLLOW))) {
			char target[PATH_MAX];
			ssize_t tl = readlinkat(dir[layer], name, target, sizeof(target) - 1);
			if (++links > BERTH_LINT_IMAGE_MAX_LINKS) {
				rc = -ELOOP;
				goto out;
			}
			if (tl <= 0) {
				rc = -ENOENT;
				goto out;
			}
			target[tl] = '\0';
			struct berth_buf next;
			berth_buf_init(&next, BERTH_LAYER_PATH_MAX);
			berth_buf_addstr(&next, target);
			berth_buf_addch(&next, '/');
			berth_buf_addstr(&next, todo.data + pos);
			bool full = next.full;
			berth_buf_release(&todo);
			todo = next;
			pos = 0;
			if (full) {
				rc = -ENAMETOOLONG;
				goto out;
			}
			if (target[0] == '/') {
				cur.len = 0;
				cur.data[0] = '\0';
				dirset_root(v, dir);
			}
			continue;
		}
		if (last) {
			h->layer = layer;
			h->st = st;
			h->path = berth_xasprintf("%s/%s", cur.data, name);
			if (S_ISLNK(st.st_mode)) {
				char target[PATH_MAX];
				ssize_t tl =
				    readlinkat(dir[layer], name, target, sizeof(target) - 1);
				h->link = berth_xstrndup(target, tl > 0 ? (size_t)tl : 0);
			}
			if ((flags & R_DIRFDS) && S_ISDIR(st.st_mode))
				h->dir = steal_pointer(&sub);
			if ((flags & R_OPEN) && S_ISREG(st.st_mode))
				h->fd = openat(dir[layer], name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			rc = -ENOTDIR;
			goto out;
		}
		if (berth_buf_addf(&cur, "/%s", name) < 0) {
			rc = -ENAMETOOLONG;
			goto out;
		}
		int *t = dir;
		dir = sub;
		sub = t;
	}
out:
	if (dir)
		dirset_free(v, dir);
	if (sub)
		dirset_free(v, sub);
	berth_buf_release(&cur);
	berth_buf_release(&todo);
	if (rc < 0)
		hit_release(v, h);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in the merged directory `path` starting with `prefix`, sorted. */
static void list_names(const struct view *v, const char *path, const char *prefix,
		       struct berth_strv *out)
{
	struct hit h;
	if (resolve(v, path, R_FOLLOW | R_DIRFDS, &h) < 0)
		return;
	if (!h.dir) {
		hit_release(v, &h);
		return;
	}
	_cleanup_strv_ struct berth_strv gone = BERTH_STRV_INIT;
	size_t plen = strlen(prefix);
	for (size_t i = v->n; i-- > 0;) {
		if (h.dir[i] < 0)
			continue;
		int fd = openat(h.dir[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		if (!d) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		struct dirent *de;
		while ((de = readdir(d))) {
			const char *name = de->d_name;
			if (strncmp(name, prefix, plen) || berth_strv_contains(out, name) ||
			    berth_strv_contains(&gone, name))
				continue;
			struct stat st;
			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			berth_strv_push(is_whiteout(&st) ? &gone : out, name);
		}
		closedir(d);
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(char *), cmp_str);
	hit_release(v, &h);
}

/* ------------------------------------------------------ walking a layer */

struct walk {
	/* what counts */
	const char *only_suffix; /* regular files whose name ends so; NULL: all */
	const char *skip_top;    /* a name not counted right under the start ("lock") */
	size_t top_max;          /* largest files kept */
	/* what was found */
	int64_t bytes, files, whiteouts;
	size_t entries;
	bool truncated;
	struct berth_lint_layer_file *top;
	size_t ntop;
	/* inodes with more than one link already counted: open addressing */
	ino_t *inos;
	size_t ninos, capinos;
	struct berth_buf path;
};

static void walk_init(struct walk *w, const char *start, size_t top_max)
{
	memset(w, 0, sizeof(*w));
	w->top_max = top_max;
	if (top_max)
		w->top = berth_xcalloc(top_max, sizeof(*w->top));
	berth_buf_init(&w->path, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&w->path, start);
}

static void walk_release(struct walk *w)
{
	for (size_t i = 0; i < w->ntop; i++)
		free(w->top[i].path);
	free(w->top);
	free(w->inos);
	berth_buf_release(&w->path);
}

/* True when ino was counted already; records it otherwise. */
static bool ino_seen(struct walk *w, ino_t ino)
{
	if ((w->ninos + 1) * 2 > w->capinos) {
		size_t cap = w->capinos ? w->capinos * 2 : 64;
		ino_t *t = berth_xcalloc(cap, sizeof(ino_t));
		for (size_t i = 0; i < w->capinos; i++) {
			if (!w->inos[i])
				continue;
			size_t k = (size_t)(w->inos[i] * 0x9E3779B97F4A7C15ull) & (cap - 1);
			while (t[k])
				k = (k + 1) & (cap - 1);
			t[k] = w->inos[i];
		}
		free(w->inos);
		w->inos = t;
		w->capinos = cap;
	}
	/* Inode 0 is never a file's: it marks an empty slot. */
	size_t k = (size_t)(ino * 0x9E3779B97F4A7C15ull) & (w->capinos - 1);
	while (w->inos[k]) {
		if (w->inos[k] == ino)
			return true;
		k = (k + 1) & (w->capinos - 1);
	}
	w->inos[k] = ino;
	w->ninos++;
	return false;
}

/* Bigger first; equal sizes by path, so the order never depends on readdir. */
static bool before(int64_t size, const char *path, const struct berth_lint_layer_file *f)
{
	return size > f->size || (size == f->size && strcmp(path, f->path) < 0);
}

static void top_add(struct walk *w, const char *path, int64_t size)
{
	if (!w->top_max)
		return;
	if (w->ntop == w->top_max) {
		if (!before(size, path, &w->top[w->ntop - 1]))
			return;
		free(w->top[--w->ntop].path);
	}
	size_t i = w->ntop++;
	while (i > 0 && before(size, path, &w->top[i - 1])) {
		w->top[i] = w->top[i - 1];
		i--;
	}
	w->top[i] = (struct berth_lint_layer_file){berth_xstrdup(path), size};
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* Walk the directory `fd` (taken), one layer's own entries. */
static void walk_dir(struct walk *w, int fd, int depth)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (++w->entries > BERTH_LINT_IMAGE_WALK_MAX) {
			w->truncated = true;
			break;
		}
		if (depth == 0 && w->skip_top && !strcmp(name, w->skip_top))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		size_t mark = w->path.len;
		berth_buf_addf(&w->path, "/%s", name);
		if (S_ISDIR(st.st_mode)) {
			int sub =
			    openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0 && is_opaque(sub))
				w->whiteouts++;
			if (sub >= 0 && depth + 1 >= BERTH_LINT_IMAGE_WALK_DEPTH) {
				w->truncated = true;
				close(sub);
			} else if (sub >= 0) {
				walk_dir(w, sub, depth + 1);
			}
		} else if (S_ISREG(st.st_mode)) {
			if ((!w->only_suffix || ends_with(name, w->only_suffix)) &&
			    !(st.st_nlink > 1 && ino_seen(w, st.st_ino))) {
				w->files++;
				w->bytes += st.st_size;
				top_add(w, w->path.data, st.st_size);
			}
		} else if (is_whiteout(&st)) {
			w->whiteouts++;
		}
		w->path.len = mark;
		w->path.data[mark] = '\0';
		if (w->entries > BERTH_LINT_IMAGE_WALK_MAX)
			break;
	}
	closedir(d);
}

/* Open `path` in one layer's own tree: every component a real directory of
 * that layer (no symlink followed). -1 when it is not there. */
static int open_literal(int rootfd, const char *path)
{
	int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *copy = berth_xstrdup(path);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c && fd >= 0; c = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	return fd;
}

/* --------------------------------------------------------- image config */

/* The config's Env as a list. */
static void env_of(const json_t *config, struct berth_strv *env)
{
	const json_t *e = json_object_get(json_object_get(config, "config"), "Env");
	size_t i;
	const json_t *v;
	json_array_foreach(e, i, v) if (json_is_string(v))
	    berth_strv_push(env, json_string_value(v));
}

/* The created_by of the step that made each layer (steps[n], NULL where
 * unknown): history entries without empty_layer, in order; when their count
 * is not the number of layers, matched from the top down (the latest steps
 * are the likeliest to be recorded). */
static void layer_steps(const json_t *config, size_t n, char **steps)
{
	const json_t *hist = json_object_get(config, "history");
	size_t k = 0, i;
	const json_t *h;
	const json_t **made = berth_xcalloc(json_array_size(hist) + 1, sizeof(*made));
	json_array_foreach(hist, i, h)
	{
		if (!json_is_object(h) || json_is_true(json_object_get(h, "empty_layer")))
			continue;
		made[k++] = h;
	}
	for (size_t j = 0; j < n; j++)
		steps[j] = NULL;
	for (size_t j = 0; j < n && j < k; j++) {
		const json_t *e = k == n ? made[j] : made[k - 1 - j];
		size_t layer = k == n ? j : n - 1 - j;
		const char *by = json_string_value(json_object_get(e, "created_by"));
		steps[layer] = berth_xstrdup(by ? by : "");
	}
	free(made);
}

/* The home directory of the image's user (config User: "name", "uid",
 * "name:group", ...) from its /etc/passwd; NULL for root, for none, and when
 * the user is not in the file. */
static char *user_home(const struct view *v, const json_t *config)
{
	const char *user =
	    json_string_value(json_object_get(json_object_get(config, "config"), "User"));
	if (!user || !*user)
		return NULL;
	size_t ulen = strcspn(user, ":");
	if ((ulen == 4 && !strncmp(user, "root", 4)) || (ulen == 1 && user[0] == '0'))
		return NULL;
	struct hit h;
	if (resolve(v, "/etc/passwd", R_FOLLOW | R_OPEN, &h) < 0)
		return NULL;
	char *home = NULL;
	struct berth_buf b;
	berth_buf_init(&b, BERTH_LINT_IMAGE_PASSWD_MAX);
	char chunk[8192];
	ssize_t r;
	while (h.fd >= 0 && (r = read(h.fd, chunk, sizeof(chunk))) > 0)
		if (berth_buf_add(&b, chunk, (size_t)r) < 0)
			break;
	hit_release(v, &h);
	/* name:password:uid:gid:gecos:home:shell */
	for (char *line = b.data; line && *line && !home;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *f[7] = {0};
		size_t nf = 0;
		for (char *p = line; nf < 7;) {
			f[nf++] = p;
			char *c = strchr(p, ':');
			if (!c)
				break;
			*c = '\0';
			p = c + 1;
		}
		if (nf >= 6 && ((strlen(f[0]) == ulen && !strncmp(f[0], user, ulen)) ||
				(strlen(f[2]) == ulen && !strncmp(f[2], user, ulen))))
			home = *f[5] == '/' ? berth_xstrdup(f[5]) : NULL;
		line = nl ? nl + 1 : NULL;
	}
	berth_buf_release(&b);
	return home;
}

/* ------------------------------------------------------------ python3 */

/* "python3.11" (or "python3.7m") -> 11; -1 otherwise. */
static int minor_of_name(const char *name)
{
	if (strncmp(name, "python3.", 8) || name[8] < '0' || name[8] > '9')
		return -1;
	char *end;
	long m = strtol(name + 8, &end, 10);
	if ((*end && strcmp(end, "m")) || m > 99)
		return -1;
	return (int)m;
}

static const char *base_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* The Python 3 minor version of the interpreter at `real` (resolved) that
 * was found as `named`: from either name, else from PREFIX/lib/python3.N
 * with an os.py (PREFIX/bin/python3). -1 when unknown. */
static int python_minor(const struct view *v, const char *named, const char *real)
{
	int m = minor_of_name(base_of(real));
	if (m < 0)
		m = minor_of_name(base_of(named));
	if (m >= 0)
		return m;
	_cleanup_free_ char *prefix = berth_xstrdup(real);
	for (int cut = 0; cut < 2; cut++) {
		char *s = strrchr(prefix, '/');
		if (!s)
			return -1;
		*s = '\0';
	}
	_cleanup_free_ char *lib = berth_xasprintf("%s/lib", prefix);
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	list_names(v, lib, "python3.", &names);
	for (size_t i = 0; i < names.n; i++) {
		int n = minor_of_name(names.v[i]);
		_cleanup_free_ char *os = berth_xasprintf("%s/%s/os.py", lib, names.v[i]);
		struct hit h;
		if (n > m && resolve(v, os, R_FOLLOW, &h) == 0) {
			m = n;
			hit_release(v, &h);
		}
	}
	return m;
}

static bool executable(const struct stat *st)
{
	return S_ISREG(st->st_mode) && (st->st_mode & 0111);
}

/* The PATH's directories (absolute ones; others name nothing in the image). */
static void path_dirs(const char *path, struct berth_strv *out)
{
	_cleanup_free_ char *copy = berth_xstrdup(path);
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		size_t len = strlen(d);
		while (len > 1 && d[len - 1] == '/')
			d[--len] = '\0';
		if (d[0] == '/' && !berth_strv_contains(out, d))
			berth_strv_push(out, d);
	}
}

/* Why an entry named python3 on the PATH is no interpreter, or NULL. */
static char *why_not(const struct view *v, const char *file)
{
	struct hit h;
	int rc = resolve(v, file, R_FOLLOW, &h);
	char *why = NULL;
	if (rc == 0) {
		if (S_ISDIR(h.st.st_mode))
			why = berth_xasprintf("'%s' is a directory", file);
		else if (!executable(&h.st))
			why = berth_xasprintf("'%s' is not executable (mode %04o)", file,
					      (unsigned)(h.st.st_mode & 07777));
		hit_release(v, &h);
		return why;
	}
	if (resolve(v, file, 0, &h) == 0) {
		if (h.link)
			why = berth_xasprintf("'%s' is a symlink to '%s', which %s", file, h.link,
					      rc == -ELOOP ? "loops" : "is not in the image");
		hit_release(v, &h);
	}
	return why;
}

struct candidate {
	char *path; /* as found: "/usr/bin/python3.11" */
	char *dir;
	int minor;
};

static void check_python(const struct view *v, const struct berth_strv *env,
			 struct berth_lint_image_result *r)
{
	const char *pathvar = berth_env_get(env, "PATH", 4);
	if (!pathvar)
		pathvar = DEFAULT_PATH;
	_cleanup_strv_ struct berth_strv dirs = BERTH_STRV_INIT;
	path_dirs(pathvar, &dirs);
	_cleanup_free_ char *bad = NULL, *bad_file = NULL;
	for (size_t i = 0; i < dirs.n; i++) {
		_cleanup_free_ char *file = berth_xasprintf("%s/python3", dirs.v[i]);
		struct hit h;
		if (resolve(v, file, R_FOLLOW, &h) == 0 && executable(&h.st)) {
			int m = python_minor(v, file, h.path);
			if (m >= 0 && m < SDK_PYTHON_MINOR) {
				bool via = strcmp(file, h.path) != 0;
				add(r, "image/python-old", 0, NULL, file, 0,
				    berth_xasprintf(
					"python3 on the image's PATH is Python 3.%d (%s%s%s): "
					"berth's SDK needs Python 3.%d or newer",
					m, file, via ? " -> " : "", via ? h.path : "",
					SDK_PYTHON_MINOR),
				    berth_xasprintf(
					"install a newer python3 (Debian 11 has 3.9, "
					"Debian 12 has 3.11) or build FROM python:3.11-slim"));
			}
			hit_release(v, &h);
			return;
		}
		if (h.layer >= 0)
			hit_release(v, &h);
		if (!bad && (bad = why_not(v, file)))
			bad_file = steal_pointer(&file);
	}

	/* Not there: look for an interpreter the PATH misses. */
	_cleanup_strv_ struct berth_strv look = BERTH_STRV_INIT;
	berth_strv_copy(&look, &dirs);
	static const char *const extra[] = {"/usr/local/bin", "/usr/bin", "/bin", "/opt/conda/bin"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(extra); i++)
		if (!berth_strv_contains(&look, extra[i]))
			berth_strv_push(&look, extra[i]);
	struct candidate best = {NULL, NULL, -2};
	for (size_t i = 0; i < look.n; i++) {
		_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
		list_names(v, look.v[i], "python", &names);
		for (size_t k = 0; k < names.n; k++) {
			const char *n = names.v[k];
			if (strcmp(n, "python") && strcmp(n, "python3") && minor_of_name(n) < 0)
				continue;
			_cleanup_free_ char *file = berth_xasprintf("%s/%s", look.v[i], n);
			struct hit h;
			if (resolve(v, file, R_FOLLOW, &h) < 0)
				continue;
			bool ok = executable(&h.st) && strncmp(base_of(h.path), "python2", 7);
			int m = ok ? python_minor(v, file, h.path) : -2;
			hit_release(v, &h);
			if (ok && m > best.minor) {
				free(best.path);
				free(best.dir);
				best = (struct candidate){steal_pointer(&file),
							  berth_xstrdup(look.v[i]), m};
			}
		}
	}

	const char *seed = "SDK apps start with `python3 -m berth.runner`, which fails with "
			   "`python3: command not found` (the seed's \"Python binary not found\")";
	_cleanup_free_ char *extra_why = bad ? berth_xasprintf("; %s", bad) : berth_xstrdup("");
	if (best.path) {
		/* The link goes into the candidate's directory when the PATH has
		 * it, else into a usual PATH directory. */
		const char *into = NULL;
		if (berth_strv_contains(&dirs, best.dir))
			into = best.dir;
		else if (berth_strv_contains(&dirs, "/usr/local/bin"))
			into = "/usr/local/bin";
		else if (berth_strv_contains(&dirs, "/usr/bin"))
			into = "/usr/bin";
		else
			into = dirs.n ? dirs.v[0] : "/usr/local/bin";
		_cleanup_free_ char *ver = best.minor >= 0 && minor_of_name(base_of(best.path)) < 0
					       ? berth_xasprintf(" (Python 3.%d)", best.minor)
					       : berth_xstrdup("");
		add(r, "image/python-missing", 0, NULL, bad_file, 0,
		    berth_xasprintf(
			"python3 is not on the image's PATH (%s): %s; the image has %s%s "
			"in %s%s",
			pathvar, seed, base_of(best.path), ver, best.dir, extra_why),
		    berth_xasprintf("link it onto the PATH: `RUN ln -sf %s %s/python3`%s",
				    best.path, into,
				    best.minor >= 0 && best.minor < SDK_PYTHON_MINOR
					? " (and note berth's SDK needs Python 3.8 or newer)"
					: ""));
	} else {
		add(r, "image/python-missing", 0, NULL, bad_file, 0,
		    berth_xasprintf(
			"python3 is not on the image's PATH (%s) and the image has no "
			"Python 3 interpreter in it or in /usr/local/bin, /usr/bin, /bin, "
			"/opt/conda/bin: %s%s",
			pathvar, seed, extra_why),
		    berth_xstrdup(
			"install Python 3.8 or newer: `RUN apt-get update && apt-get install "
			"-y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*` "
			"(Debian, Ubuntu), `RUN apk add --no-cache python3` (Alpine), or "
			"build FROM python:3.11-slim"));
	}
	free(best.path);
	free(best.dir);
}

/* ------------------------------------------------------------------ CUDA */

static bool is_dir_in(const struct view *v, const char *path)
{
	struct hit h;
	if (resolve(v, path, R_FOLLOW, &h) < 0)
		return false;
	bool d = S_ISDIR(h.st.st_mode);
	hit_release(v, &h);
	return d;
}

/* An LD_LIBRARY_PATH entry that names CUDA's libraries. */
static bool cuda_lib_on(const char *ld, const char *cuda_dir)
{
	if (!ld)
		return false;
	_cleanup_free_ char *copy = berth_xstrdup(ld);
	char *save = NULL;
	size_t clen = cuda_dir ? strlen(cuda_dir) : 0;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
		if (strstr(d, "cuda") || strstr(d, "/usr/local/nvidia") ||
		    (clen && !strncmp(d, cuda_dir, clen) && (!d[clen] || d[clen] == '/')))
			return true;
	return false;
}

static void check_cuda(const struct view *v, const struct berth_strv *env, unsigned gpus,
		       struct berth_lint_image_result *r)
{
	static const char fix[] =
	    "set the CUDA variables (the seed's fix): `ENV CUDA_HOME=/usr/local/cuda`, "
	    "`ENV PATH=$CUDA_HOME/bin:$PATH`, `ENV "
	    "LD_LIBRARY_PATH=$CUDA_HOME/lib64:$LD_LIBRARY_PATH` "
	    "with the CUDA toolkit in /usr/local/cuda, or build FROM "
	    "nvidia/cuda:<version>-runtime-<os>";
	const char *home = berth_env_get(env, "CUDA_HOME", 9);
	if (!home || !*home)
		home = berth_env_get(env, "CUDA_PATH", 9);
	bool nvidia = berth_env_get(env, "NVIDIA_VISIBLE_DEVICES", 22) ||
		      berth_env_get(env, "NVIDIA_DRIVER_CAPABILITIES", 26);
	const char *ld = berth_env_get(env, "LD_LIBRARY_PATH", 15);
	if (home && *home && !is_dir_in(v, home)) {
		add(r, "image/cuda-env", 0, NULL, home, 0,
		    berth_xasprintf(
			"CUDA_HOME is '%s', which is not a directory in the image: CUDA "
			"programs of this GPU app will not find the toolkit",
			home),
		    berth_xasprintf(
			"install the CUDA toolkit in %s, point CUDA_HOME at where it is, "
			"or build FROM nvidia/cuda:<version>-runtime-<os>",
			home));
		return;
	}
	const char *cuda_dir = home && *home                     ? home
			       : is_dir_in(v, "/usr/local/cuda") ? "/usr/local/cuda"
								 : NULL;
	bool ld_ok = cuda_lib_on(ld, cuda_dir);
	if (nvidia || (cuda_dir && ld_ok))
		return;
	struct berth_buf why;
	berth_buf_init(&why, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&why, "no NVIDIA_VISIBLE_DEVICES or NVIDIA_DRIVER_CAPABILITIES");
	if (!cuda_dir)
		berth_buf_addstr(&why, ", no CUDA_HOME and no /usr/local/cuda in the image");
	if (!ld_ok)
		berth_buf_addf(&why, ", %s",
			       ld ? "LD_LIBRARY_PATH names no CUDA lib dir" : "no LD_LIBRARY_PATH");
	add(r, "image/cuda-env", 0, NULL, NULL, 0,
	    berth_xasprintf(
		"the app asks for %u GPU%s but the image's environment is not set up "
		"for CUDA (%s): CUDA programs then fail with `RuntimeError: No CUDA GPUs "
		"are available` (the seed's \"CUDA related issues\")",
		gpus, gpus == 1 ? "" : "s", why.data),
	    berth_xstrdup(fix));
	berth_buf_release(&why);
}

/* ---------------------------------------------------------------- caches */

struct cache {
	const char *rule;
	char *path;
	const char *what;
	const char *only_suffix, *skip_top;
};

static char *cache_fix(const struct cache *c)
{
	if (!strcmp(c->rule, "image/apt-lists"))
		return berth_xstrdup(
		    "end the RUN that runs apt-get with `&& rm -rf "
		    "/var/lib/apt/lists/*` (the seed's \"clean up package caches\"); "
		    "a later RUN cannot shrink this layer");
	if (!strcmp(c->rule, "image/apt-archives"))
		return berth_xstrdup(
		    "`apt-get clean` (or `rm -rf /var/cache/apt/archives/*.deb`) in "
		    "the RUN that installs the packages");
	if (!strcmp(c->rule, "image/pip-cache"))
		return berth_xasprintf(
		    "`pip install --no-cache-dir` (or `ENV PIP_NO_CACHE_DIR=1`), or "
		    "a cache mount: `RUN --mount=type=cache,target=%s pip install "
		    "...`",
		    c->path);
	return berth_xasprintf("`npm cache clean --force` in the same RUN, or a cache mount: `RUN "
			       "--mount=type=cache,target=%s npm ci`",
			       c->path);
}

static void add_cache(struct berth_strv *seen, struct cache *list, size_t *n, const char *rule,
		      const char *path, const char *what, const char *suffix, const char *skip)
{
	if (berth_strv_contains(seen, path))
		return;
	berth_strv_push(seen, path);
	list[(*n)++] = (struct cache){rule, berth_xstrdup(path), what, suffix, skip};
}

static void check_caches(const struct view *v, const json_t *config, const struct berth_strv *env,
			 char **steps, struct berth_lint_image_result *r)
{
	_cleanup_free_ char *home = user_home(v, config);
	_cleanup_strv_ struct berth_strv seen = BERTH_STRV_INIT;
	struct cache list[8];
	size_t n = 0;
	add_cache(&seen, list, &n, "image/apt-lists", "/var/lib/apt/lists", "apt package lists",
		  NULL, "lock");
	add_cache(&seen, list, &n, "image/apt-archives", "/var/cache/apt/archives",
		  "downloaded .deb files", ".deb", NULL);
	_cleanup_free_ char *hp = home ? berth_xasprintf("%s/.cache/pip", home) : NULL;
	_cleanup_free_ char *hn = home ? berth_xasprintf("%s/.npm", home) : NULL;
	add_cache(&seen, list, &n, "image/pip-cache", "/root/.cache/pip", "pip cache", NULL, NULL);
	if (hp)
		add_cache(&seen, list, &n, "image/pip-cache", hp, "pip cache", NULL, NULL);
	const char *pcd = berth_env_get(env, "PIP_CACHE_DIR", 13);
	if (pcd && pcd[0] == '/' && strlen(pcd) < BERTH_LAYER_PATH_MAX)
		add_cache(&seen, list, &n, "image/pip-cache", pcd, "pip cache", NULL, NULL);
	add_cache(&seen, list, &n, "image/npm-cache", "/root/.npm", "npm cache", NULL, NULL);
	if (hn)
		add_cache(&seen, list, &n, "image/npm-cache", hn, "npm cache", NULL, NULL);

	for (size_t i = 0; i < v->n; i++) {
		for (size_t k = 0; k < n; k++) {
			int fd = open_literal(v->root[i], list[k].path);
			if (fd < 0)
				continue;
			/* The largest file is kept to see whether a later step
			 * removed (or replaced) what this layer holds. */
			struct walk w;
			walk_init(&w, list[k].path, 1);
			w.only_suffix = list[k].only_suffix;
			w.skip_top = list[k].skip_top;
			walk_dir(&w, fd, 0);
			if (w.files) {
				struct hit h;
				bool still =
				    resolve(v, w.top[0].path, 0, &h) == 0 && h.layer == (int)i;
				if (h.layer >= 0)
					hit_release(v, &h);
				char size[32];
				human(size, w.bytes);
				_cleanup_free_ char *label = layer_label((int)i + 1, steps[i]);
				add(r, list[k].rule, (int)i + 1, steps[i], list[k].path, w.bytes,
				    berth_xasprintf(
					"%s keeps %s%s of %s in %s (%lld file%s)%s", label,
					w.truncated ? "at least " : "", size, list[k].what,
					list[k].path, (long long)w.files, w.files == 1 ? "" : "s",
					still ? ""
					      : "; a later step removed it, but the bytes stay in "
						"this layer"),
				    cache_fix(&list[k]));
			}
			walk_release(&w);
		}
	}
	for (size_t k = 0; k < n; k++)
		free(list[k].path);
}

/* ------------------------------------------------------------ the checks */

int berth_lint_image_layers(const struct berth_strv *dirs, const json_t *config,
			    const struct berth_lint_image_opts *o,
			    struct berth_lint_image_result *out, struct berth_err **err)
{
	static const struct berth_lint_image_opts none = {0};
	if (!o)
		o = &none;
	memset(out, 0, sizeof(*out));
	struct view v;
	int rc = view_open(dirs, &v, err);
	if (rc < 0)
		return rc;
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	env_of(config, &env);
	if (o->sdk_app)
		check_python(&v, &env, out);
	if (o->gpus)
		check_cuda(&v, &env, o->gpus, out);
	char **steps = berth_xcalloc(v.n ? v.n : 1, sizeof(char *));
	layer_steps(config, v.n, steps);
	check_caches(&v, config, &env, steps, out);
	for (size_t i = 0; i < v.n; i++)
		free(steps[i]);
	free(steps);
	view_release(&v);
	return 0;
}

/* The manifest, config and layer directories of a stored image whose
 * layers are all unpacked. */
static int stored_image(struct berth_store *s, const char *digest, struct berth_manifest *m,
			struct berth_image_config *cfg, struct berth_strv *dirs,
			struct berth_strv *chains, struct berth_err **err)
{
	int rc = berth_image_load(s, digest, m, cfg, err);
	if (rc < 0)
		return rc;
	if (m->nlayers != cfg->diff_ids.n) {
		rc = berth_err_set(err, BERTH_E_INVALID,
				   "image %s: %zu layers but %zu diff_ids in its config", digest,
				   m->nlayers, cfg->diff_ids.n);
	}
	char chain[BERTH_DIGEST_LEN + 1] = "";
	for (size_t i = 0; rc == 0 && i < m->nlayers; i++) {
		berth_chain_id(*chain ? chain : NULL, cfg->diff_ids.v[i], chain);
		if (!berth_store_layer_ready(s, chain))
			rc = berth_err_set(err, BERTH_E_NOT_FOUND,
					   "layer %zu of image %s (%s) is not unpacked; running "
					   "the image unpacks it",
					   i + 1, digest, chain);
		else
			berth_strv_push_owned(dirs, berth_store_layer_dir(s, chain));
		berth_strv_push(chains, chain);
	}
	if (rc < 0) {
		berth_manifest_release(m);
		berth_image_config_release(cfg);
	}
	return rc;
}

int berth_lint_image(struct berth_store *s, const char *manifest_digest,
		     const struct berth_lint_image_opts *o, struct berth_lint_image_result *out,
		     struct berth_err **err)
{
	struct berth_manifest m;
	struct berth_image_config cfg;
	_cleanup_strv_ struct berth_strv dirs = BERTH_STRV_INIT, chains = BERTH_STRV_INIT;
	memset(out, 0, sizeof(*out));
	int rc = stored_image(s, manifest_digest, &m, &cfg, &dirs, &chains, err);
	if (rc < 0)
		return rc;
	rc = berth_lint_image_layers(&dirs, cfg.json, o, out, err);
	berth_manifest_release(&m);
	berth_image_config_release(&cfg);
	return rc;
}

/* ---------------------------------------------------------------- output */

void berth_lint_image_format_text(const struct berth_lint_image_result *r, const char *prefix,
				  struct berth_buf *out)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct berth_lint_image_finding *f = &r->findings[i];
		berth_buf_addf(out, "%s%s%s: %s %s", prefix ? prefix : "", prefix ? " " : "",
			       berth_lint_severity_name(f->severity), f->rule, f->message);
		if (*f->fix)
			berth_buf_addf(out, " (fix: %s)", f->fix);
		berth_buf_addch(out, '\n');
	}
}

/* A JSON string; bytes that are not UTF-8 (paths in an image may hold any)
 * become '?'. */
static json_t *text(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	_cleanup_free_ char *copy = berth_xstrdup(s);
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	return json_string(copy);
}

json_t *berth_lint_image_to_json(const struct berth_lint_image_result *r, const char *image)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const struct berth_lint_image_finding *f = &r->findings[i];
		json_t *o = json_object();
		json_object_set_new(o, "image", text(image));
		json_object_set_new(o, "rule", json_string(f->rule));
		json_object_set_new(o, "severity",
				    json_string(berth_lint_severity_name(f->severity)));
		json_object_set_new(o, "layer", f->layer ? json_integer(f->layer) : json_null());
		json_object_set_new(o, "step", text(f->step));
		json_object_set_new(o, "path", text(f->path));
		json_object_set_new(o, "bytes", json_integer(f->bytes));
		json_object_set_new(o, "message", text(f->message));
		json_object_set_new(o, "fix", text(f->fix));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* ---------------------------------------------------------- layer stats */

void berth_lint_layer_stats_free(struct berth_lint_layer_stats *st, size_t n)
{
	for (size_t i = 0; st && i < n; i++) {
		free(st[i].media_type);
		free(st[i].step);
		for (size_t k = 0; k < st[i].nlargest; k++)
			free(st[i].largest[k].path);
		free(st[i].largest);
	}
	free(st);
}

int berth_lint_layer_stats(struct berth_store *s, const char *manifest_digest, size_t top,
			   struct berth_lint_layer_stats **out, size_t *n, struct berth_err **err)
{
	*out = NULL;
	*n = 0;
	if (top > BERTH_LINT_IMAGE_TOP_MAX)
		top = BERTH_LINT_IMAGE_TOP_MAX;
	struct berth_manifest m;
	struct berth_image_config cfg;
	_cleanup_strv_ struct berth_strv dirs = BERTH_STRV_INIT, chains = BERTH_STRV_INIT;
	int rc = stored_image(s, manifest_digest, &m, &cfg, &dirs, &chains, err);
	if (rc < 0)
		return rc;
	struct view v;
	if ((rc = view_open(&dirs, &v, err)) < 0) {
		berth_manifest_release(&m);
		berth_image_config_release(&cfg);
		return rc;
	}
	struct berth_lint_layer_stats *st = berth_xcalloc(v.n ? v.n : 1, sizeof(*st));
	char **steps = berth_xcalloc(v.n ? v.n : 1, sizeof(char *));
	layer_steps(cfg.json, v.n, steps);
	for (size_t i = 0; i < v.n; i++) {
		struct berth_lint_layer_stats *l = &st[i];
		snprintf(l->digest, sizeof(l->digest), "%s", m.layers[i].digest);
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", cfg.diff_ids.v[i]);
		snprintf(l->chain_id, sizeof(l->chain_id), "%s", chains.v[i]);
		l->media_type = berth_xstrdup(m.layers[i].media_type ? m.layers[i].media_type : "");
		l->compressed = m.layers[i].size;
		l->step = steps[i];
		struct walk w;
		walk_init(&w, "", top);
		int fd = openat(v.root[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			if (is_opaque(fd))
				w.whiteouts++;
			walk_dir(&w, fd, 0);
		}
		l->unpacked = w.bytes;
		l->files = w.files;
		l->whiteouts = w.whiteouts;
		l->truncated = w.truncated;
		l->largest = steal_pointer(&w.top);
		l->nlargest = w.ntop;
		w.ntop = 0;
		walk_release(&w);
	}
	free(steps);
	*n = v.n;
	*out = st;
	view_release(&v);
	berth_manifest_release(&m);
	berth_image_config_release(&cfg);
	return 0;
}
