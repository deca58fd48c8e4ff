/* base/: base images made from the distribution on this machine, with no
 * registry: Debian with debootstrap (as Docker's official images are made by
 * debuerreotype, slim variant included) and busybox from Debian's
 * busybox-static. The root filesystem is packed as one layer by image/ and
 * tagged in the store, so `FROM debian:bookworm-slim` builds offline.
 * What each step does and why: docs/base-images.md. */
#ifndef BERTH_BASE_H
#define BERTH_BASE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"

struct berth_store;

/* Named limits. */
#define BERTH_BASE_SOURCES_MAX (1u << 20) /* one apt sources file read */
#define BERTH_BASE_SUITE_MAX   32         /* "bookworm" */
#define BERTH_BASE_LOG_LINES   12         /* lines of a failed tool's log kept in an error */

/* The default Debian mirror, when neither --mirror nor the host's apt
 * sources name one. */
#define BERTH_BASE_DEFAULT_MIRROR   "http://deb.debian.org/debian"
#define BERTH_BASE_DEFAULT_SECURITY "http://deb.debian.org/debian-security"

enum berth_base_kind {
	BERTH_BASE_DEBIAN,      /* debian:SUITE: minbase + Docker's minimizing config */
	BERTH_BASE_DEBIAN_SLIM, /* debian:SUITE-slim: the same, slimified */
	BERTH_BASE_BUSYBOX,     /* busybox: the static binary, its applets, passwd/group */
};

/* What to make, from the name typed: "debian:bookworm", "debian:bookworm-slim",
 * "busybox" (or "busybox:latest"). */
struct berth_base_spec {
	enum berth_base_kind kind;
	char *suite; /* "bookworm"; NULL for busybox */
	char *name;  /* the name as berth shows it: "debian:bookworm-slim" */
};

/* Parse a base name. Errors say which names exist. Release with
 * berth_base_spec_release(). */
int berth_base_parse(const char *name, struct berth_base_spec *out, struct berth_err **err);
void berth_base_spec_release(struct berth_base_spec *s);

/* The Debian mirror apt uses on a machine, read from root/etc/apt/sources.list
 * and root/etc/apt/sources.list.d/ (one-line *.list and deb822 *.sources
 * files, in apt's order: sources.list first, then the directory sorted).
 * `uri` is the first enabled "deb" entry of `suite` (or of `suite`-updates),
 * `security` the first of `suite`-security (NULL when none). Strings owned;
 * berth_apt_mirror_release(). */
struct berth_apt_mirror {
	char *uri;      /* "http://deb.debian.org/debian" (no trailing slash) */
	char *security; /* "http://deb.debian.org/debian-security" or NULL */
	char *origin;   /* the file it came from, or "the default" / "--mirror" */
};

/* root "" or NULL means "/". 0 with out->uri NULL when no file names the
 * suite; an unreadable file is an error that names it. */
int berth_base_host_mirror(const char *root, const char *suite, struct berth_apt_mirror *out,
			   struct berth_err **err);
/* The mirror a create would use: `explicit` (--mirror; security from it when it
 * is deb.debian.org, else none), else the one the apt sources under `apt_root`
 * name (NULL: the host's), else the default. */
int berth_base_pick_mirror(const char *explicit, const char *apt_root, const char *suite,
			   struct berth_apt_mirror *out, struct berth_err **err);
void berth_apt_mirror_release(struct berth_apt_mirror *m);

/* Where busybox comes from: `path` (NULL: /bin/busybox, then
 * /usr/bin/busybox). It must be a statically linked ELF file: a dynamic one
 * would need the host's libraries in the image. NOT_FOUND or UNSUPPORTED
 * with what to install. *out (free()) is the path found. */
int berth_base_find_busybox(const char *path, char **out, struct berth_err **err);

/* The debootstrap program in PATH, /usr/sbin or /sbin; NULL with an error that
 * says to install it. free(). */
char *berth_base_find_debootstrap(struct berth_err **err);

struct berth_base_opts {
	const char *mirror;   /* --mirror, or NULL (see berth_base_pick_mirror) */
	const char *apt_root; /* whose apt sources name the mirror; NULL: "/" */
	const char *tag;      /* canonical name to tag, or NULL: the defaults (below) */
	const char *busybox;  /* the busybox binary, or NULL */
	/* Clamp every mtime in the layer (and the config's dates) to this;
	 * < 0: the newest Release date of the suite's apt lists (debian), the
	 * busybox binary's mtime (busybox). */
	int64_t source_date_epoch;
	/* Where debootstrap's and apt's output goes; -1: nowhere (the last lines
	 * of debootstrap's log are in the error when it fails). Borrowed. */
	int log_fd;
	/* Called with a one-line description at the start of each step (may be
	 * NULL). Library code never prints; the CLI shows these. */
	void (*step)(void *ctx, const char *line);
	void *step_ctx;
};

struct berth_base_result {
	char digest[BERTH_DIGEST_LEN + 1];  /* manifest */
	char diff_id[BERTH_DIGEST_LEN + 1]; /* the one layer, uncompressed */
	int64_t layer_size;                 /* the compressed layer blob */
	int64_t unpacked_size;              /* bytes of the files in the layer */
	int64_t epoch;                      /* the SOURCE_DATE_EPOCH used */
	struct berth_strv tags;             /* canonical names it was tagged as */
	char *mirror;                       /* debian: the mirror used; else NULL */
	char *removed_summary;              /* slim: "N files, M bytes" removed; else NULL */
};
void berth_base_result_release(struct berth_base_result *r);

/* Make the base image and tag it. Default tags: debian:SUITE[-slim] and
 * debian:MAJOR[-slim] (from /etc/debian_version), busybox:latest and
 * busybox:VERSION (from the binary's banner); opts->tag replaces them.
 *
 * Needs root (debootstrap makes device nodes and chroots; every file must be
 * owned by root in the image): UNSUPPORTED otherwise. The root filesystem is
 * made in $BERTH_HOME/layers/<pid>-base-XXXXXX (so a killed create leaves
 * nothing the store's repair does not remove) and becomes the layer's
 * unpacked directory. For debian the calling process enters a private mount
 * namespace, which it keeps, so that whatever debootstrap mounts vanishes
 * with it; it must be single-threaded. */
int berth_base_create(struct berth_store *s, const struct berth_base_spec *spec,
		      const struct berth_base_opts *opts, struct berth_base_result *out,
		      struct berth_err **err);

/* The debootstrap command a create would run (for --dry-run and messages):
 * argv in `out`, with DIR standing for the target. */
void berth_base_debootstrap_argv(const char *debootstrap, const char *suite, const char *dir,
				 const char *mirror, const char *cache_dir, struct berth_strv *out);

#endif
