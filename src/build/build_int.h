/* Internals shared by the files of build/; included by nothing outside it. */
#ifndef BERTH_BUILD_INT_H
#define BERTH_BUILD_INT_H

#include "build/build.h"
#include "dockerfile/dockerfile.h"
#include "image/image.h"

#include <sys/types.h>
#include <time.h>

/* ------------------------------------------ .dockerignore (ignore.c) */

/* The compiled patterns of a context's .dockerignore (moby's
 * patternmatcher semantics: `#` comments, blank lines skipped, patterns
 * cleaned like filepath.Clean with a leading '/' dropped, `!` exceptions,
 * `*`, `?`, `[...]`, `**` across directories, last match wins, a directory
 * that matches excludes everything below it unless an exception could
 * re-include something below). */
struct berth__ignore;

/* Read <ctx_fd>/.dockerignore (missing: an empty matcher; over 1 MiB or a
 * bad pattern: BERTH_E_INVALID naming the line). */
int berth__ignore_load(int ctx_fd, struct berth__ignore **out, struct berth_err **err);
/* Is `relpath` ("a/b/c": clean, relative, no "./") excluded? */
bool berth__ignore_match(const struct berth__ignore *ig, const char *relpath);
void berth__ignore_free(struct berth__ignore *ig);
/* An empty matcher, and one more pattern for it (.dockerignore syntax; a
 * bad one is BERTH_E_INVALID naming it): COPY --exclude builds on these. */
struct berth__ignore *berth__ignore_new(void);
int berth__ignore_add(struct berth__ignore *ig, const char *pattern, struct berth_err **err);

/* ------------------------------------------------- paths (paths.c) */

/* berth_fs_open_beneath() plus O_CLOEXEC, "" the root; an fd or -errno. */
int berth__open_in(int root_fd, const char *path, int flags);

enum berth__resolve_mode {
	/* A name no root has is kept as written (something to make); a
	 * trailing '/' after a non-directory is ignored; an empty link is
	 * its own directory. */
	BERTH__RESOLVE_MAY_MISS,
	/* As open(2): a missing name is the last root's error, "file/" is
	 * -ENOTDIR, an empty link -ENOENT. */
	BERTH__RESOLVE_MUST_EXIST,
};

/* Resolve path beneath stacked roots (the first that has a name decides),
 * following every symlink inside them, into out as a clean relative path
 * ("" the root); a symlink ig excludes is -ENOENT. 0 or -errno. */
int berth__resolve(const int *roots, size_t nroots, const char *path, enum berth__resolve_mode mode,
		   const struct berth__ignore *ig, struct berth_buf *out);

/* Append name to a clean relative path, with a '/' unless it is "". */
void berth__path_push(struct berth_buf *b, const char *name);
/* Cut b back to a length it had before. */
void berth__path_truncate(struct berth_buf *b, size_t len);
/* Drop the last name of a clean relative path ("" stays ""). */
void berth__path_pop(struct berth_buf *b);

/* Names in directory fd (fd kept open) but "." and "..", into the empty
 * names, sorted bytewise; 0 or -errno. */
int berth__list_dir(int fd, struct berth_strv *names);

/* Go's utf8.RuneError, returned 1 byte wide for an invalid sequence. */
#define BERTH__RUNE_ERROR 0xfffdu

/* Go's utf8.DecodeRune of s[0 .. len), len >= 1 (SIZE_MAX: up to a NUL);
 * the rune, its width in *width. */
uint32_t berth__utf8_decode(const unsigned char *s, size_t len, size_t *width);

/* ---------------------------------------- COPY sources (sources.c) */

struct berth__source {
	char *path;    /* clean path relative to the root; "" is the root itself */
	bool is_dir;   /* after following a symlink at the top (BuildKit follows the source path) */
	bool nofollow; /* COPY --parents: a symlink here is itself the source */
};

/* Expand COPY/ADD source patterns against a root directory (the context or
 * a stage's view). Each pattern is resolved inside the root (leading '/'
 * and ".." clamped, symlinks resolved beneath the root). Go filepath.Match
 * wildcards per component. A literal path that does not exist (or is
 * ignored) is BERTH_E_NOT_FOUND: "'x' not found in the build context"; a
 * wildcard that matches nothing selects nothing. In the order of the
 * patterns, as BuildKit copies them (a later source wins where two land on
 * the same path; one named twice is there twice), each wildcard's matches
 * in path order. `ig` may be NULL. Free with berth__sources_free(). */
int berth__sources_resolve(int root_fd, const struct berth_strv *patterns,
			   const struct berth__ignore *ig, const char *what,
			   struct berth__source **out, size_t *n, struct berth_err **err);
void berth__sources_free(struct berth__source *src, size_t n);

/* COPY --parents' selection, BuildKit's (an fsutil include pattern): below
 * the directory `pivot` (a clean path in the root, "" the root), each entry
 * whose path relative to the pivot matches `pattern` (.dockerignore syntax:
 * `*` within a name, `**` across directories) is selected whole: a
 * directory that matches brings everything below it and is not entered.
 * Symlinks below the pivot are not followed (the sources are `nofollow`);
 * what `ig` excludes is left out. Sorted; none is not an error. Free with
 * berth__sources_free(). */
int berth__sources_parents(int root_fd, const char *pivot, const char *pattern,
			   const struct berth__ignore *ig, const char *what,
			   struct berth__source **out, size_t *n, struct berth_err **err);

/* A checksum of the sources' content, as BuildKit keys COPY: over every
 * entry below each source (ignored ones left out), in path order: relative
 * name, type, mode, uid, gid, size, symlink target, device numbers, and the
 * SHA-256 of a file's bytes; mtime is not included. "sha256:<hex>". */
int berth__sources_checksum(int root_fd, const struct berth__source *src, size_t n,
			    const struct berth__ignore *ig, char out[BERTH_DIGEST_LEN + 1],
			    struct berth_err **err);

/* ------------------------------------------------- COPY itself (copy.c) */

struct berth__copy_opts {
	int src_root_fd;
	const struct berth__source *src;
	size_t nsrc;
	bool wildcard; /* the sources came from a wildcard (dest must then be a directory) */
	const struct berth__ignore *ig; /* NULL when copying from a stage */
	const char *dest;               /* absolute path in the image; a trailing '/' is kept */
	int view_fd;   /* read-only merged view of the image being built (dest's current state) */
	int upper_fd;  /* the new layer's directory, written into */
	long uid, gid; /* owner of what is copied and of created parents; -1: keep the source's */
	long mode;     /* --chmod for files and dirs copied, -1: keep the source's */
};

/* Docker's COPY into a new layer: a file source lands at dest (or at
 * dest/NAME when dest ends in '/' or is a directory in the view); a
 * directory source copies its contents into dest; several sources or a
 * wildcard need dest to end in '/' (else BERTH_E_INVALID with Docker's
 * message). Missing parents of dest are made in the upper (with the
 * view's metadata where they exist there, else 0755 and the owner).
 * Contents, modes, mtimes and symlinks (not followed below the top) are
 * kept; ignored entries are skipped. Writes only beneath upper_fd. */
int berth__copy(const struct berth__copy_opts *o, struct berth_err **err);

/* COPY --parents: each source (below `pivot`, a clean path in the source
 * root, "" the root) lands at dest/<its path below the pivot>; dest is a
 * directory. The directories on the way that neither the upper nor the
 * view has are made with the source directories' metadata (--chmod and
 * --chown applied), as fsutil makes them; a directory source lands as
 * itself. */
int berth__copy_parents(const struct berth__copy_opts *o, const char *pivot,
			struct berth_err **err);

/* ------------------------------------------ local archives (archive.c) */

/* Would ADD unpack the file at path (beneath root_fd, symlinks followed)?
 * BuildKit's test: a regular file whose content, decompressed when it
 * starts with gzip, bzip2, xz or zstd magic, begins with a tar header that
 * Go's archive/tar accepts. The name plays no part. */
bool berth__is_archive(int root_fd, const char *path);

/* Unpack that archive into the directory dirfd with the layer applier's
 * safety (nothing lands outside dirfd), owners and modes from the archive;
 * uid >= 0 (--chown) then owns everything it made. bzip2 and xz go through
 * an unlinked temporary file in tmpdir. */
int berth__unpack_archive(int root_fd, const char *path, int dirfd, const char *tmpdir, long uid,
			  long gid, struct berth_err **err);

/* ------------------------------------------- git sources (git.c) */

/* Is an ADD source a git repository (git@host:path, git://, ssh://, or an
 * http(s) URL whose path ends in .git, a #fragment allowed)? */
bool berth__git_source(const char *src);

struct berth__git_ref {
	char *remote; /* the URL without its fragment */
	char *ref;    /* branch, tag or commit; NULL: HEAD */
	char *subdir; /* the part of the tree to take, or NULL */
};

/* Split URL#ref:subdir. */
int berth__git_parse(const char *src, struct berth__git_ref *out, struct berth_err **err);
void berth__git_ref_release(struct berth__git_ref *g);

/* The commit the ref names (git ls-remote's first match; a full commit id
 * as it is), in *commit (free()); a ref the remote lacks is
 * BERTH_E_NOT_FOUND. ssh_sock: an agent for ssh remotes, or NULL. */
int berth__git_resolve(const struct berth__git_ref *g, const char *ssh_sock, char **commit,
		       struct berth_err **err);

/* Clone the remote into dir (which must not exist), check the commit out
 * (submodules too), and drop .git unless keep_git_dir. Files are made 644
 * or 755 whatever the umask. */
int berth__git_checkout(const struct berth__git_ref *g, const char *commit, const char *dir,
			bool keep_git_dir, const char *ssh_sock, struct berth_err **err);

/* --------------------------------------------- ONBUILD (onbuild.c) */

/* The Env and OnBuild triggers of the image `ref` (a FROM reference)
 * appended to *env and *triggers; resolving it may pull it. */
typedef int (*berth__base_fn)(void *ctx, const char *ref, struct berth_strv *env,
			      struct berth_strv *triggers, struct berth_err **err);

/* berth_df_load() with what a stage's base brings, as BuildKit has it: an
 * image's ENV is seen by expansion in the stage, and ONBUILD triggers (an
 * image's, from `fn`, or an earlier stage's own ONBUILD instructions) run
 * right after its FROM, parsed and loaded as if written there (a trigger
 * that is not one instruction, or is ONBUILD, FROM or MAINTAINER, is
 * BERTH_E_INVALID). Lines in *out are the Dockerfile's; a trigger's
 * instructions carry its FROM's line, which tells them apart. (*skip)[i]
 * instructions at the start of stage i only carry the image's ENV to the
 * front end: the builder skips them (free() *skip). Release *out with
 * berth_df_file_release() whatever the result. */
int berth__df_load_onbuild(const char *dockerfile, size_t len, const struct berth_df_options *opt,
			   berth__base_fn fn, void *ctx, struct berth_df_file *out, size_t **skip,
			   struct berth_err **err);

/* ------------------------------------------- progress (report.c) */

/* Where and how the build reports: plain lines or JSON events (NULL out:
 * quiet), and the step being reported. */
struct berth__reporter {
	FILE *out;
	bool json;
	const struct berth_build_secret *secrets; /* values masked in everything reported */
	size_t nsecrets;
	bool in_step;
	char stage[64];
	int stage_index, step;
	struct timespec started; /* the step's start, CLOCK_MONOTONIC */
};

/* s[0 .. len) with each secret value (3 bytes or more) as "****". free(). */
char *berth__report_redact(const struct berth__reporter *r, const char *s, size_t len);

/* A step starts (step is 1-based, FROM the first); the events after it
 * until berth__report_done() belong to it. */
void berth__report_step(struct berth__reporter *r, const char *stage, int stage_index, int step,
			int steps, const char *text);
void berth__report_cached(struct berth__reporter *r, const char *key);
void berth__report_miss(struct berth__reporter *r, const char *key, const char *reason);
/* --explain: what the step's key is made of. */
void berth__report_explain(struct berth__reporter *r, const char *key, const char *parent,
			   const struct berth_strv *parts);
/* The step is done; layer: the digest of the layer it added, or NULL. */
void berth__report_done(struct berth__reporter *r, const char *layer);
void berth__report_info(struct berth__reporter *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void berth__report_warning(struct berth__reporter *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The image is written. */
void berth__report_build(struct berth__reporter *r, const char *digest, int64_t duration_ms);

/* Where a RUN's output goes: the stream itself (plain), or pipes to a
 * relay process that reports each line as an event (JSON). */
struct berth__relay {
	int out_fd, err_fd; /* -1: nowhere (quiet) */
	pid_t pid;
	bool owned; /* the fds and the relay are ours to close and reap */
};
int berth__report_output_start(struct berth__reporter *r, struct berth__relay *rl,
			       struct berth_err **err);
/* Close the pipes and wait for the relay to report the last lines. */
void berth__report_output_end(struct berth__relay *rl);

/* ----------------------------------------------- layers (commit.c) */

struct berth__layer {
	char chain[BERTH_DIGEST_LEN + 1];
	char diff_id[BERTH_DIGEST_LEN + 1];
	char digest[BERTH_DIGEST_LEN + 1]; /* the compressed blob */
	int64_t size;
};

/* Turn the scratch directory into a stored layer: tar+gzip blob (entries
 * sorted, whiteouts in OCI form), DiffID, ChainID on parent_chain (NULL for
 * the first layer), the directory moved to layers/<chain-hex> (dropped when
 * that layer exists already). */
int berth__commit_layer(struct berth_store *s, const char *scratch, const char *parent_chain,
			int64_t source_date_epoch, struct berth__layer *out,
			struct berth_err **err);

#endif
