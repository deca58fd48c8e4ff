/* image/ — images on this machine: references (Docker's normalisation), the
 * content-addressed blob store with tags in SQLite, manifests, indexes and
 * configs (OCI and Docker schema 2), and layers: applied from tar (gzip,
 * zstd, plain) into per-layer directories with whiteouts in overlayfs form,
 * and created from a directory diff. Layout: ../shared/DESIGN.md, "State
 * directory"; formats: ../shared/reference/oci-registry-runtime.md §4. */
#ifndef BERTH_IMAGE_H
#define BERTH_IMAGE_H

#include "common/common.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Named limits. */
#define BERTH_REF_MAX         255 /* host[:port]/name, as most clients */
#define BERTH_TAG_MAX         128
#define BERTH_MANIFEST_MAX    (4u << 20) /* a manifest or index */
#define BERTH_CONFIG_MAX      (8u << 20) /* an image config */
#define BERTH_LAYER_PATH_MAX  4096       /* one path inside a layer */
#define BERTH_LAYER_XATTR_MAX (64u << 10)

/* Media types. */
#define BERTH_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define BERTH_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define BERTH_MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define BERTH_MT_OCI_LAYER       "application/vnd.oci.image.layer.v1.tar"
#define BERTH_MT_OCI_LAYER_GZIP  "application/vnd.oci.image.layer.v1.tar+gzip"
#define BERTH_MT_OCI_LAYER_ZSTD  "application/vnd.oci.image.layer.v1.tar+zstd"
#define BERTH_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define BERTH_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define BERTH_MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define BERTH_MT_DOCKER_LAYER    "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define BERTH_MT_DOCKER_FOREIGN  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

/* ------------------------------------------------------------ references */

/* A parsed image reference, always normalised:
 * "python:3.11" -> domain "docker.io", path "library/python", tag "3.11". */
struct berth_ref {
	char *domain; /* "docker.io", "127.0.0.1:5000", "localhost", "ghcr.io" */
	char *path;   /* repository path, lower-case components */
	char *tag;    /* NULL when absent ("latest" is implied unless digest) */
	char *digest; /* "sha256:<hex>" or NULL */
};

/* Parse and normalise. Errors name the reference and what is wrong
 * (upper-case repository, bad tag, bad digest, too long). */
int berth_ref_parse(const char *s, struct berth_ref *out, struct berth_err **err);
void berth_ref_release(struct berth_ref *r);
/* "docker.io/library/python:3.11" (tag "latest" filled in when neither tag
 * nor digest is set). Free with free(). */
char *berth_ref_string(const struct berth_ref *r);
/* The short form users type: "python:3.11", "127.0.0.1:5000/app:v1". */
char *berth_ref_familiar(const struct berth_ref *r);
/* "repo[:tag]" the registry API wants for manifests: the digest if set,
 * else the tag, else "latest". Borrowed. */
const char *berth_ref_api_ref(const struct berth_ref *r);
/* The host to talk to: "registry-1.docker.io" for docker.io, else domain. */
const char *berth_ref_api_host(const struct berth_ref *r);

/* ------------------------------------------------------- digests, chains */

/* ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)). */
void berth_chain_id(const char *parent_chain, const char *diff_id, char out[BERTH_DIGEST_LEN + 1]);

/* -------------------------------------------------- manifests and configs */

struct berth_platform {
	char *os, *architecture, *variant;
};

struct berth_descriptor {
	char *media_type;
	char digest[BERTH_DIGEST_LEN + 1];
	int64_t size;
	struct berth_platform platform; /* only in an index */
	char *ref_name;                 /* org.opencontainers.image.ref.name annotation or NULL */
};

enum berth_manifest_kind { BERTH_MANIFEST_IMAGE, BERTH_MANIFEST_INDEX };

struct berth_manifest {
	enum berth_manifest_kind kind;
	char *media_type;                /* as served (OCI or Docker) */
	struct berth_descriptor config;  /* image */
	struct berth_descriptor *layers; /* image, base first */
	size_t nlayers;
	struct berth_descriptor *manifests; /* index */
	size_t nmanifests;
};

/* Parse a manifest or index. `content_type` (may be NULL) is the type the
 * server announced; the body's mediaType must agree with it when both are
 * given. Schema 1 and unknown types are errors that say so. */
int berth_manifest_parse(const char *data, size_t len, const char *content_type,
			 struct berth_manifest *out, struct berth_err **err);
void berth_manifest_release(struct berth_manifest *m);
/* Pick the index entry for os/arch (variant may be NULL: any). */
int berth_manifest_select(const struct berth_manifest *index, const char *os, const char *arch,
			  const char *variant, const struct berth_descriptor **out,
			  struct berth_err **err);
/* True for media types of layers berth can apply. */
bool berth_layer_media_type_ok(const char *media_type);

struct berth_image_config {
	json_t *json; /* the whole config (owned reference) */
	char *os, *architecture;
	struct berth_strv diff_ids; /* rootfs.diff_ids */
	char *created;              /* RFC 3339 or NULL */
};

int berth_image_config_parse(const char *data, size_t len, struct berth_image_config *out,
			     struct berth_err **err);
void berth_image_config_release(struct berth_image_config *c);

/* ------------------------------------------------------------- the store */

struct berth_store; /* opaque: the state directory and its database */

/* Open (creating as needed) the store under `home` ($BERTH_HOME). Repairs
 * what an interrupted command left: temp blobs are removed, half-unpacked
 * layers are discarded. */
int berth_store_open(const char *home, struct berth_store **out, struct berth_err **err);
void berth_store_close(struct berth_store *s);
const char *berth_store_home(const struct berth_store *s);

/* Blobs: blobs/sha256/<hex>, written through a temp file in blobs/tmp,
 * hashed while written, renamed into place only when the digest (and size,
 * when known) match. A blob on disk always has the digest it is named by. */
struct berth_blob_writer;

/* expected_digest may be NULL (computed); expected_size < 0 when unknown. */
int berth_blob_writer_new(struct berth_store *s, const char *expected_digest, int64_t expected_size,
			  struct berth_blob_writer **out, struct berth_err **err);
int berth_blob_write(struct berth_blob_writer *w, const void *data, size_t len,
		     struct berth_err **err);
/* Verify, fsync, rename. Frees the writer in every case. digest_out may be
 * NULL. A digest or size mismatch is BERTH_E_INVALID naming both digests. */
int berth_blob_commit(struct berth_blob_writer *w, char digest_out[BERTH_DIGEST_LEN + 1],
		      struct berth_err **err);
/* Discard: removes the temp file and frees the writer. NULL is a no-op. */
void berth_blob_abort(struct berth_blob_writer *w);
int64_t berth_blob_writer_size(const struct berth_blob_writer *w);

int berth_blob_put(struct berth_store *s, const void *data, size_t len, const char *expected,
		   char digest_out[BERTH_DIGEST_LEN + 1], struct berth_err **err);
bool berth_blob_exists(struct berth_store *s, const char *digest);
/* Open for reading (O_RDONLY|O_CLOEXEC); NOT_FOUND when missing. */
int berth_blob_open(struct berth_store *s, const char *digest, struct berth_err **err);
int berth_blob_read(struct berth_store *s, const char *digest, size_t max, struct berth_buf *out,
		    struct berth_err **err);
/* The path of a blob (for handing to other tools). Free with free(). */
char *berth_blob_path(struct berth_store *s, const char *digest);
/* Store the `size` bytes of fd (read with pread from offset 0, fd borrowed)
 * as the blob `digest`, verified; a no-op when it is already there. */
int berth_blob_import_fd(struct berth_store *s, int fd, const char *digest, int64_t size,
			 struct berth_err **err);

/* A new empty directory under layers/, "<pid>-<what>-<random>", for a layer
 * being made (the store's repair removes such names once that pid is gone).
 * free(). */
char *berth_store_layer_scratch(struct berth_store *s, const char *what, struct berth_err **err);

/* Tags: canonical reference string -> manifest digest (what `berth images`
 * lists). Tagging an existing name moves it. */
struct berth_image_entry {
	char *name;                        /* canonical, e.g. "docker.io/library/busybox:latest" */
	char digest[BERTH_DIGEST_LEN + 1]; /* manifest digest */
	char *media_type;
	int64_t size;    /* manifest + config + compressed layers */
	int64_t created; /* unix seconds the tag was written */
};

int berth_store_tag(struct berth_store *s, const char *name, const char *digest,
		    const char *media_type, int64_t size, struct berth_err **err);
/* Look a canonical name up; NOT_FOUND when absent. */
int berth_store_lookup(struct berth_store *s, const char *name, struct berth_image_entry *out,
		       struct berth_err **err);
int berth_store_untag(struct berth_store *s, const char *name, struct berth_err **err);
/* All tags, sorted by name. Release each with berth_image_entry_release(). */
int berth_store_list(struct berth_store *s, struct berth_image_entry **out, size_t *n,
		     struct berth_err **err);
void berth_image_entry_release(struct berth_image_entry *e);

/* Remove the tag `name`; then delete the blobs and unpacked layers of its
 * image that no other tag still uses. *freed (may be NULL): bytes freed. */
int berth_store_remove_image(struct berth_store *s, const char *name, int64_t *freed,
			     struct berth_err **err);

/* Read a stored image: its manifest (must be an image, not an index) and
 * config. Release both on success. */
int berth_image_load(struct berth_store *s, const char *manifest_digest, struct berth_manifest *m,
		     struct berth_image_config *cfg, struct berth_err **err);

/* Unpacked layers: layers/<chain-hex>/ holds one layer's tree (overlay
 * lower dir). Returns a new path (free()) and whether it is complete. */
char *berth_store_layer_dir(struct berth_store *s, const char *chain_id);
bool berth_store_layer_ready(struct berth_store *s, const char *chain_id);

/* ----------------------------------------------------------- build cache */

/* What a cached build step made: one layer. */
struct berth_cache_rec {
	char chain[BERTH_DIGEST_LEN + 1];   /* its ChainID (layers/<chain-hex>) */
	char diff_id[BERTH_DIGEST_LEN + 1]; /* uncompressed tar */
	char digest[BERTH_DIGEST_LEN + 1];  /* compressed blob */
	int64_t size;                       /* of the blob */
	int64_t created;                    /* unix seconds the record was written */
};

/* The layer cached under `key` (a step's cache key). NOT_FOUND when there is
 * none, or when its layer directory or blob has gone since (the stale record
 * is dropped). */
int berth_store_cache_get(struct berth_store *s, const char *key, struct berth_cache_rec *out,
			  struct berth_err **err);
/* Record (or replace) the layer made for `key`. */
int berth_store_cache_put(struct berth_store *s, const char *key, const struct berth_cache_rec *rec,
			  struct berth_err **err);

/* What step `step` of stage `stage` of the build named `scope` (its tag, or
 * its Dockerfile) read last time: a JSON text of the builder's choosing.
 * *inputs (free()) NULL when there is no record. */
int berth_store_step_inputs_get(struct berth_store *s, const char *scope, int stage, int step,
				char **inputs, struct berth_err **err);
int berth_store_step_inputs_put(struct berth_store *s, const char *scope, int stage, int step,
				const char *inputs, struct berth_err **err);

/* ---------------------------------------------------------------- layers */

enum berth_compression { BERTH_COMPRESS_NONE, BERTH_COMPRESS_GZIP, BERTH_COMPRESS_ZSTD };

/* From a layer media type; -1 when it is not a layer type. */
int berth_compression_of(const char *media_type);

/* Reads a layer blob: decompression (zlib, zstd) with the compressed and
 * uncompressed SHA-256 computed on the way. Callers read plain tar bytes. */
struct berth_layer_reader;

/* fd is borrowed. compression may be -1: detect from the magic bytes. */
int berth_layer_reader_new(int fd, int compression, struct berth_layer_reader **out,
			   struct berth_err **err);
/* Returns bytes read, 0 at end, negative on error. */
ssize_t berth_layer_reader_read(struct berth_layer_reader *r, void *buf, size_t len,
				struct berth_err **err);
/* After the end: digest of the bytes read from fd, and the DiffID. */
void berth_layer_reader_digests(struct berth_layer_reader *r, char digest[BERTH_DIGEST_LEN + 1],
				char diff_id[BERTH_DIGEST_LEN + 1]);
void berth_layer_reader_free(struct berth_layer_reader *r);

struct berth_apply_opts {
	bool keep_owners;       /* chown to the tar's uid/gid (true as root) */
	bool overlay_whiteouts; /* .wh. -> char 0/0, .wh..wh..opq -> trusted.overlay.opaque */
};

/* Apply one layer (a tar stream from `r`) into the empty directory dirfd.
 * Every path is resolved beneath dirfd: absolute names and "./" are
 * normalised; an entry whose path climbs out with ".." and a hardlink to
 * outside are refused with BERTH_E_INVALID naming the entry; symlinks in a
 * path are followed as if dirfd were "/", so a symlink-then-write stays
 * inside. Modes, owners, mtimes, xattrs, devices, FIFOs and hardlinks are
 * kept. A tar whose end stops right after the last file's data (no padding,
 * no end blocks, as umoci 0.4 writes) is accepted. The whole stream is
 * consumed, so the reader's digests cover it. */
int berth_layer_apply(struct berth_layer_reader *r, int dirfd, const struct berth_apply_opts *opts,
		      struct berth_err **err);

struct berth_diff_opts {
	enum berth_compression compression;
	int64_t source_date_epoch; /* >= 0: clamp mtimes to it */
};

/* Make a layer blob from an overlay upper directory: entries sorted by
 * path, char 0/0 -> ".wh.NAME", trusted.overlay.opaque -> ".wh..wh..opq".
 * Writes the compressed tar to out_fd; reports its digest, size and the
 * DiffID. */
int berth_layer_create(int upper_dirfd, int out_fd, const struct berth_diff_opts *opts,
		       char digest[BERTH_DIGEST_LEN + 1], char diff_id[BERTH_DIGEST_LEN + 1],
		       int64_t *size, struct berth_err **err);

/* ---------------------------------------------------- OCI image layouts */

/* Write the image `manifest_digest` (its manifest, config and layer blobs)
 * as an OCI image layout in `path`: a directory (created; blobs hard-linked
 * from the store when possible, else copied), or, when `archive` is true, an
 * oci-archive tar file written atomically. `ref_name` (may be NULL) becomes
 * the org.opencontainers.image.ref.name annotation. */
int berth_layout_save(struct berth_store *s, const char *manifest_digest, const char *ref_name,
		      const char *path, bool archive, struct berth_err **err);

/* Called for each image a layout names: ref_name from index.json (or NULL),
 * the manifest descriptor. Return negative to stop. */
typedef int (*berth_layout_image_fn)(void *ctx, const char *ref_name,
				     const struct berth_descriptor *manifest,
				     struct berth_err **err);

/* Import an OCI layout directory or oci-archive tar: every blob is verified
 * against its name while copied into the store (a mismatch fails the load
 * and nothing is tagged), then `fn` is called for each index.json entry. */
int berth_layout_load(struct berth_store *s, const char *path, berth_layout_image_fn fn, void *ctx,
		      struct berth_err **err);

#endif
