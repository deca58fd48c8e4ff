/* OCI image layouts in and out of the store: `berth image save` writes
 * oci-layout, index.json and blobs/sha256/ as a directory or an oci-archive
 * tar; `berth image load` reads either, verifying every blob by its name. */
#include "image/archive_api.h"
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define OCI_LAYOUT_FILE "{\"imageLayoutVersion\":\"1.0.0\"}"

/* The blobs an image needs: manifest, config, layers. */
static int image_blobs(struct berth_store *s, const char *manifest_digest, struct berth_strv *out,
		       int64_t *manifest_size, char **media_type, struct berth_err **err)
{
	_cleanup_buf_ struct berth_buf mb;
	berth_buf_init(&mb, BERTH_MANIFEST_MAX);
	struct berth_manifest m;
	if (berth_blob_read(s, manifest_digest, BERTH_MANIFEST_MAX, &mb, err) < 0 ||
	    berth_manifest_parse(mb.data, mb.len, NULL, &m, err) < 0)
		return -BERTH_E_INVALID;
	berth_strv_push(out, manifest_digest);
	if (m.kind == BERTH_MANIFEST_IMAGE) {
		berth_strv_push(out, m.config.digest);
		for (size_t i = 0; i < m.nlayers; i++)
			berth_strv_push(out, m.layers[i].digest);
	}
	*manifest_size = (int64_t)mb.len;
	*media_type = berth_xstrdup(m.media_type);
	int r = m.kind == BERTH_MANIFEST_IMAGE
		    ? 0
		    : berth_err_set(err, BERTH_E_UNSUPPORTED, "saving an index is not supported");
	berth_manifest_release(&m);
	return r;
}

static json_t *index_json(const char *digest, int64_t size, const char *media_type,
			  const char *ref_name)
{
	json_t *desc = json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", digest,
				 "size", (json_int_t)size);
	if (ref_name)
		json_object_set_new(
		    desc, "annotations",
		    json_pack("{s:s}", "org.opencontainers.image.ref.name", ref_name));
	return json_pack("{s:i, s:s, s:[o]}", "schemaVersion", 2, "mediaType", BERTH_MT_OCI_INDEX,
			 "manifests", desc);
}

static int copy_fd(int in, int out, const char *what, struct berth_err **err)
{
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_err_sys(err, errno, "read %s", what);
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return berth_err_sys(err, errno, "write %s", what);
			off += w;
		}
	}
}

static int save_dir(struct berth_store *s, const struct berth_strv *blobs, const char *index,
		    const char *dir, struct berth_err **err)
{
	_cleanup_free_ char *bdir = berth_xasprintf("%s/blobs/sha256", dir);
	if (berth_fs_mkdir_p(bdir, 0755, err) < 0)
		return -BERTH_E_SYS;
	for (size_t i = 0; i < blobs->n; i++) {
		_cleanup_free_ char *src = berth_blob_path(s, blobs->v[i]);
		_cleanup_free_ char *dst = berth_xasprintf("%s/%s", bdir, blobs->v[i] + 7);
		if (access(dst, F_OK) == 0)
			continue; /* a layout may share blobs between images */
		if (link(src, dst) == 0)
			continue;
		_cleanup_close_ int in = berth_blob_open(s, blobs->v[i], err);
		if (in < 0)
			return in;
		_cleanup_free_ char *tmp = berth_xasprintf("%s.tmp-%d", dst, (int)getpid());
		_cleanup_close_ int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0)
			return berth_err_sys(err, errno, "create '%s'", tmp);
		if (copy_fd(in, out, blobs->v[i], err) < 0 || fsync(out) < 0 ||
		    rename(tmp, dst) < 0) {
			if (!*err)
				berth_err_sys(err, errno, "write '%s'", dst);
			unlink(tmp);
			return -BERTH_E_SYS;
		}
	}
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "open '%s'", dir);
	if (berth_fs_write_atomic(dfd, "oci-layout", OCI_LAYOUT_FILE, strlen(OCI_LAYOUT_FILE), 0644,
				  err) < 0 ||
	    berth_fs_write_atomic(dfd, "index.json", index, strlen(index), 0644, err) < 0)
		return -BERTH_E_SYS;
	return 0;
}

static int tar_add(struct archive *a, const char *name, int64_t size, int fd, const char *data,
		   struct berth_err **err)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, size < 0 ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, size < 0 ? 0755 : 0644);
	archive_entry_set_size(e, size < 0 ? 0 : size);
	int r = 0;
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		r = berth_err_set(err, BERTH_E_SYS, "write archive entry '%s': %s", name,
				  archive_error_string(a));
	} else if (data) {
		if (archive_write_data(a, data, (size_t)size) != size)
			r = berth_err_set(err, BERTH_E_SYS, "write '%s': %s", name,
					  archive_error_string(a));
	} else if (fd >= 0) {
		char buf[1 << 16];
		ssize_t n;
		while (r == 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			if (archive_write_data(a, buf, (size_t)n) != n)
				r = berth_err_set(err, BERTH_E_SYS, "write '%s': %s", name,
						  archive_error_string(a));
	}
	archive_entry_free(e);
	return r;
}

static int save_archive(struct berth_store *s, const struct berth_strv *blobs, const char *index,
			const char *file, struct berth_err **err)
{
	_cleanup_free_ char *tmp = berth_xasprintf("%s.tmp-%d", file, (int)getpid());
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	int r = 0;
	if (archive_write_open_filename(a, tmp) != ARCHIVE_OK)
		r = berth_err_set(err, BERTH_E_SYS, "create '%s': %s", tmp,
				  archive_error_string(a));
	if (r == 0)
		r = tar_add(a, "oci-layout", (int64_t)strlen(OCI_LAYOUT_FILE), -1, OCI_LAYOUT_FILE,
			    err);
	if (r == 0)
		r = tar_add(a, "index.json", (int64_t)strlen(index), -1, index, err);
	if (r == 0)
		r = tar_add(a, "blobs", -1, -1, NULL, err);
	if (r == 0)
		r = tar_add(a, "blobs/sha256", -1, -1, NULL, err);
	for (size_t i = 0; r == 0 && i < blobs->n; i++) {
		_cleanup_close_ int fd = berth_blob_open(s, blobs->v[i], err);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			r = fd < 0 ? fd : berth_err_sys(err, errno, "stat blob %s", blobs->v[i]);
			break;
		}
		_cleanup_free_ char *name = berth_xasprintf("blobs/sha256/%s", blobs->v[i] + 7);
		r = tar_add(a, name, st.st_size, fd, NULL, err);
	}
	if (archive_write_close(a) != ARCHIVE_OK && r == 0)
		r = berth_err_set(err, BERTH_E_SYS, "finish '%s': %s", tmp,
				  archive_error_string(a));
	archive_write_free(a);
	if (r == 0 && rename(tmp, file) < 0)
		r = berth_err_sys(err, errno, "rename '%s' to '%s'", tmp, file);
	if (r < 0)
		unlink(tmp);
	return r;
}

int berth_layout_save(struct berth_store *s, const char *manifest_digest, const char *ref_name,
		      const char *path, bool archive, struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv blobs = BERTH_STRV_INIT;
	_cleanup_free_ char *media_type = NULL;
	int64_t msize;
	if (image_blobs(s, manifest_digest, &blobs, &msize, &media_type, err) < 0)
		return berth_err_prefix(err, "save %s", manifest_digest);
	_cleanup_json_ json_t *idx = index_json(manifest_digest, msize, media_type, ref_name);
	_cleanup_free_ char *index = json_dumps(idx, JSON_COMPACT);
	int r = archive ? save_archive(s, &blobs, index, path, err)
			: save_dir(s, &blobs, index, path, err);
	if (r < 0)
		berth_err_prefix(err, "save to '%s'", path);
	return r;
}

/* --- load --- */

static bool blob_name_ok(const char *name, const char **hex)
{
	const char *p = name;
	if (!strncmp(p, "./", 2))
		p += 2;
	if (strncmp(p, "blobs/sha256/", 13))
		return false;
	_cleanup_free_ char *d = berth_xasprintf("sha256:%s", p + 13);
	*hex = p + 13;
	return berth_digest_valid(d);
}

static int tag_images(const char *index, size_t len, const char *where, berth_layout_image_fn fn,
		      void *ctx, struct berth_store *s, struct berth_err **err)
{
	struct berth_manifest idx;
	if (berth_manifest_parse(index, len, BERTH_MT_OCI_INDEX, &idx, err) < 0)
		return berth_err_prefix(err, "%s: index.json", where);
	int r = 0;
	for (size_t i = 0; r == 0 && i < idx.nmanifests; i++) {
		if (!berth_blob_exists(s, idx.manifests[i].digest))
			r = berth_err_set(err, BERTH_E_INVALID,
					  "%s: index.json names %s, which the layout lacks", where,
					  idx.manifests[i].digest);
		else
			r = fn(ctx, idx.manifests[i].ref_name, &idx.manifests[i], err);
	}
	berth_manifest_release(&idx);
	return r;
}

static int import_blob_fd(struct berth_store *s, const char *hex, int fd, struct berth_err **err)
{
	_cleanup_free_ char *digest = berth_xasprintf("sha256:%s", hex);
	if (berth_blob_exists(s, digest))
		return 0;
	struct berth_blob_writer *w;
	if (berth_blob_writer_new(s, digest, -1, &w, err) < 0)
		return -BERTH_E_SYS;
	char buf[1 << 16];
	int r = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = berth_err_sys(err, errno, "read blob %s", digest);
		if (n <= 0 || (r = berth_blob_write(w, buf, (size_t)n, err)) < 0)
			break;
	}
	if (r < 0) {
		berth_blob_abort(w);
		return r;
	}
	return berth_blob_commit(w, NULL, err);
}

static int load_dir(struct berth_store *s, const char *dir, berth_layout_image_fn fn, void *ctx,
		    struct berth_err **err)
{
	_cleanup_buf_ struct berth_buf index;
	berth_buf_init(&index, BERTH_MANIFEST_MAX);
	_cleanup_free_ char *ipath = berth_xasprintf("%s/index.json", dir);
	_cleanup_free_ char *lpath = berth_xasprintf("%s/oci-layout", dir);
	if (access(lpath, F_OK) < 0)
		return berth_err_set(err, BERTH_E_INVALID,
				     "'%s' is not an OCI image layout (no oci-layout file)", dir);
	if (berth_fs_read_file(ipath, BERTH_MANIFEST_MAX, &index, err) < 0)
		return -BERTH_E_INVALID;
	_cleanup_free_ char *bdir = berth_xasprintf("%s/blobs/sha256", dir);
	DIR *d = opendir(bdir);
	if (!d)
		return berth_err_sys(err, errno, "open '%s'", bdir);
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		_cleanup_free_ char *name = berth_xasprintf("blobs/sha256/%s", e->d_name);
		const char *hex;
		if (!blob_name_ok(name, &hex))
			continue; /* unknown files are ignored, as the spec says */
		_cleanup_close_ int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = berth_err_sys(err, errno, "open '%s/%s'", bdir, e->d_name);
		else
			r = import_blob_fd(s, hex, fd, err);
	}
	closedir(d);
	if (r == 0)
		r = tag_images(index.data, index.len, dir, fn, ctx, s, err);
	return r;
}

static int load_archive(struct berth_store *s, const char *file, berth_layout_image_fn fn,
			void *ctx, struct berth_err **err)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	int r = 0;
	_cleanup_buf_ struct berth_buf index;
	berth_buf_init(&index, BERTH_MANIFEST_MAX);
	bool have_layout = false, have_index = false;
	if (archive_read_open_filename(a, file, 1 << 16) != ARCHIVE_OK)
		r = berth_err_set(err, BERTH_E_INVALID, "open '%s': %s", file,
				  archive_error_string(a));
	struct archive_entry *e;
	while (r == 0) {
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = berth_err_set(err, BERTH_E_INVALID, "read '%s': %s", file,
					  archive_error_string(a));
			break;
		}
		const char *name = archive_entry_pathname(e);
		if (!name)
			name = archive_entry_pathname_utf8(e);
		if (!name) {
			r = berth_err_set(err, BERTH_E_INVALID,
					  "read '%s': an entry without a name", file);
			break;
		}
		const char *p = !strncmp(name, "./", 2) ? name + 2 : name;
		const char *hex;
		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		if (!strcmp(p, "oci-layout")) {
			have_layout = true;
		} else if (!strcmp(p, "index.json")) {
			have_index = true;
			char buf[1 << 14];
			la_ssize_t n;
			while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
				if (berth_buf_add(&index, buf, (size_t)n) < 0)
					r = berth_err_set(err, BERTH_E_LIMIT,
							  "'%s': index.json is too large", file);
			if (n < 0)
				r = berth_err_set(err, BERTH_E_INVALID, "read '%s': %s", file,
						  archive_error_string(a));
		} else if (blob_name_ok(p, &hex)) {
			_cleanup_free_ char *digest = berth_xasprintf("sha256:%s", hex);
			if (berth_blob_exists(s, digest))
				continue;
			struct berth_blob_writer *w;
			if ((r = berth_blob_writer_new(s, digest, archive_entry_size(e), &w, err)) <
			    0)
				break;
			char buf[1 << 16];
			la_ssize_t n;
			while (r == 0 && (n = archive_read_data(a, buf, sizeof(buf))) > 0)
				r = berth_blob_write(w, buf, (size_t)n, err);
			if (r == 0 && n < 0)
				r = berth_err_set(err, BERTH_E_INVALID, "read '%s': %s", file,
						  archive_error_string(a));
			if (r == 0)
				r = berth_blob_commit(w, NULL, err);
			else
				berth_blob_abort(w);
		}
	}
	archive_read_free(a);
	if (r == 0 && (!have_layout || !have_index))
		r = berth_err_set(err, BERTH_E_INVALID, "'%s' is not an oci-archive (no %s)", file,
				  have_layout ? "index.json" : "oci-layout");
	if (r == 0)
		r = tag_images(index.data, index.len, file, fn, ctx, s, err);
	return r;
}

int berth_layout_load(struct berth_store *s, const char *path, berth_layout_image_fn fn, void *ctx,
		      struct berth_err **err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return berth_err_sys(err, errno, "load '%s'", path);
	return S_ISDIR(st.st_mode) ? load_dir(s, path, fn, ctx, err)
				   : load_archive(s, path, fn, ctx, err);
}
