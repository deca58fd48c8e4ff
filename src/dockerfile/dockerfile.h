/* dockerfile/ — the Dockerfile front end, pure and without I/O:
 *   1. parser:       bytes -> AST of instruction nodes (BuildKit's parser layer)
 *   2. dump:         AST -> BuildKit's s-expression test format
 *   3. shell lexer:  variable expansion and word splitting (BuildKit's shell/)
 *   4. instructions: AST -> typed stages and instructions, with validated
 *                    flags, RUN mounts, ARG scoping and the stage graph
 * Semantics follow ../shared/reference/dockerfile-semantics.md. */
#ifndef BERTH_DOCKERFILE_H
#define BERTH_DOCKERFILE_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Named limits. */
#define BERTH_DF_MAX_LINE      65535       /* one physical line, as BuildKit */
#define BERTH_DF_MAX_SIZE      (64u << 20) /* a whole Dockerfile */
#define BERTH_DF_MAX_EXPANSION (1u << 20)  /* the result of expanding one word */
#define BERTH_DF_MAX_NESTING   64          /* nested ${...} in one word */

/* ---------------------------------------------------------------- parser */

struct berth_df_heredoc {
	char *name;    /* delimiter with quotes removed */
	char *content; /* the body, each line ending in "\n"; tabs kept */
	bool expand;   /* false when any part of the delimiter was quoted */
	bool chomp;    /* `<<-`: strip leading tabs when the body is used */
	int fd;        /* `3<<EOF` -> 3; 0 when no digits were given */
};

struct berth_df_node {
	char *keyword;           /* lower-cased instruction keyword ("run") */
	char *original;          /* the instruction as written, continuation joined */
	int start_line;          /* 1-based, first physical line */
	int end_line;            /* last physical line, heredoc bodies included */
	struct berth_strv flags; /* leading "--x=y" words, quotes removed */
	/* Arguments split as the instruction wants (see the reference, 2.5).
	 * ENV/LABEL: triples key, value, separator ("=" or "" for legacy).
	 * arg_lens[i] is the byte length of args.v[i]: only a JSON-form string
	 * with an escaped U+0000 makes it differ from strlen (the instruction
	 * layer rejects such arguments; the dump prints them). */
	struct berth_strv args;
	size_t *arg_lens;
	bool json;                 /* exec (JSON array) form */
	struct berth_df_node *sub; /* ONBUILD: the triggered instruction */
	struct berth_df_heredoc *heredocs;
	size_t nheredocs;
	struct berth_strv comments; /* comment lines directly above, '#' removed */
};

struct berth_df_warning {
	int line;
	char *rule; /* lint rule name, e.g. "NoEmptyContinuation" */
	char *msg;
};

struct berth_df_ast {
	struct berth_df_node *nodes;
	size_t n;
	size_t cap;
	int start_line, end_line; /* span of the instructions */
	char escape;              /* '\\' or '`' */
	char *syntax;             /* `# syntax=` value or NULL */
	char *check;              /* `# check=` value or NULL */
	struct berth_df_warning *warnings;
	size_t nwarnings;
};

/* Parse a Dockerfile. `data` need not be NUL-terminated. On success fills
 * *ast (release with berth_df_ast_release()) and returns 0. On failure returns
 * a negative code; (*err)->line names the offending line when known.
 * Errors: empty file, over-long line, bad directive, unterminated heredoc,
 * nested JSON, ENV/LABEL syntax. */
int berth_df_parse(const char *data, size_t len, struct berth_df_ast *ast, struct berth_err **err);
void berth_df_ast_release(struct berth_df_ast *ast);
void berth_df_node_release(struct berth_df_node *node);

/* Append BuildKit's dump of the AST (one "(keyword ...)" line per node,
 * lines joined by "\n", no trailing newline) to out. */
void berth_df_dump(const struct berth_df_ast *ast, struct berth_buf *out);
/* Dump one node (no newline). */
void berth_df_dump_node(const struct berth_df_node *node, struct berth_buf *out);
/* Append s as a Go strconv.Quote string. */
void berth_df_go_quote(struct berth_buf *out, const char *s, size_t len);

/* ----------------------------------------------------------- shell lexer */

/* Looks a variable up; returns a borrowed value or NULL when unset. */
typedef const char *(*berth_df_lookup_fn)(void *ctx, const char *name, size_t len);

struct berth_shlex {
	char escape;               /* '\\' or '`' */
	berth_df_lookup_fn lookup; /* NULL: every variable is unset */
	void *lookup_ctx;
	bool raw_quotes;      /* keep quote characters in the output */
	bool raw_escapes;     /* keep escape characters in the output */
	bool skip_unset;      /* leave $unset / ${unset} as written */
	bool skip_processing; /* copy input verbatim (no expansion at all) */
	bool skip_quotes;     /* quotes are plain text; $ and escapes still
			       * processed (BuildKit SkipProcessQuotes, for
			       * COPY/ADD heredoc bodies) */
	/* When non-NULL, names of variables referenced but unset are appended
	 * (once each), for the UndefinedVar lint rule. */
	struct berth_strv *unmatched;
	/* When non-NULL, names of all referenced variables are appended (once). */
	struct berth_strv *matched;
};

/* Expand one word (BuildKit ProcessWord): quotes removed, escapes processed,
 * variables substituted, no splitting. *out is heap-allocated (free()).
 * Errors name the problem ("missing ':' in substitution", "unexpected end of
 * statement", "${v:?msg}" -> "v: msg"). */
int berth_shlex_word(const struct berth_shlex *lx, const char *word, char **out,
		     struct berth_err **err);

/* Expand and split into words on unquoted whitespace (BuildKit ProcessWords);
 * empty words are dropped. Words are appended to *out. */
int berth_shlex_words(const struct berth_shlex *lx, const char *word, struct berth_strv *out,
		      struct berth_err **err);

/* Lookup over a KEY=VALUE list (last entry wins); ctx is a struct berth_strv *. */
const char *berth_shlex_env_lookup(void *ctx, const char *name, size_t len);

/* ---------------------------------------------------------- instructions */

enum berth_df_kind {
	BERTH_DF_ADD,
	BERTH_DF_ARG,
	BERTH_DF_CMD,
	BERTH_DF_COPY,
	BERTH_DF_ENTRYPOINT,
	BERTH_DF_ENV,
	BERTH_DF_EXPOSE,
	BERTH_DF_HEALTHCHECK,
	BERTH_DF_LABEL,
	BERTH_DF_MAINTAINER,
	BERTH_DF_ONBUILD,
	BERTH_DF_RUN,
	BERTH_DF_SHELL,
	BERTH_DF_STOPSIGNAL,
	BERTH_DF_USER,
	BERTH_DF_VOLUME,
	BERTH_DF_WORKDIR,
};

/* Upper-case keyword of a kind ("RUN"). */
const char *berth_df_kind_name(enum berth_df_kind kind);

struct berth_df_kv {
	char *key;
	char *value; /* NULL: ARG declared without a default */
};

enum berth_df_mount_type {
	BERTH_DF_MOUNT_BIND,
	BERTH_DF_MOUNT_CACHE,
	BERTH_DF_MOUNT_TMPFS,
	BERTH_DF_MOUNT_SECRET,
	BERTH_DF_MOUNT_SSH,
};
enum berth_df_sharing {
	BERTH_DF_SHARING_SHARED,
	BERTH_DF_SHARING_PRIVATE,
	BERTH_DF_SHARING_LOCKED
};

/* A RUN --mount, with BuildKit's defaults applied. */
struct berth_df_mount {
	enum berth_df_mount_type type;
	char *target;   /* absolute (joined to WORKDIR); NULL for an env-only secret */
	char *source;   /* bind/cache: path inside `from` (or the context) */
	char *from;     /* stage name, index or image; NULL: the build context */
	int from_stage; /* index of the stage `from` names, or -1 */
	char *id;       /* cache, secret, ssh */
	char *env;      /* secret exposed as this environment variable */
	bool readonly;
	bool required;
	enum berth_df_sharing sharing;
	long mode;     /* -1: not applicable */
	long uid, gid; /* -1: not applicable */
	int64_t size;  /* tmpfs bytes, 0 = unlimited */
};

enum berth_df_network { BERTH_DF_NET_DEFAULT, BERTH_DF_NET_NONE, BERTH_DF_NET_HOST };

#define BERTH_DF_NO_VALUE (-1)

struct berth_df_instr {
	enum berth_df_kind kind;
	int line, end_line;
	const struct berth_df_node *node; /* borrowed from the AST */
	/* Expanded where BuildKit expands:
	 *  RUN/CMD/ENTRYPOINT/SHELL: the command (one string in shell form);
	 *  EXPOSE ports; VOLUME paths; USER, WORKDIR, STOPSIGNAL, MAINTAINER:
	 *  one value; HEALTHCHECK: the test (["CMD", ...], ["CMD-SHELL", s],
	 *  ["NONE"]); ONBUILD: the trigger text; COPY/ADD: the sources. */
	struct berth_strv args;
	bool json;               /* exec form */
	struct berth_df_kv *kvs; /* ENV, LABEL and ARG pairs */
	size_t nkvs;
	char *resolved; /* WORKDIR: absolute path; COPY/ADD: dest */
	/* RUN */
	struct berth_df_mount *mounts;
	size_t nmounts;
	enum berth_df_network network;
	bool insecure;             /* --security=insecure */
	struct berth_strv arg_env; /* in-scope ARGs with values, "K=V" */
	/* Undeclared proxy --build-args (HTTP_PROXY, ...): in the RUN's
	 * environment, never in history or cache keys. */
	struct berth_strv proxy_env;
	/* COPY / ADD */
	char *from;     /* --from as written (never expanded) */
	int from_stage; /* stage index --from names, or -1 */
	char *chown, *chmod, *checksum;
	bool link, parents, keep_git_dir;
	int unpack; /* ADD --unpack: -1 unset, 0, 1 */
	struct berth_strv excludes;
	/* HEALTHCHECK, in nanoseconds (0 = default) */
	int64_t interval, timeout, start_period, start_interval;
	int retries;
};

struct berth_df_stage {
	int index;
	char *name;     /* lower-cased `AS` name, or NULL */
	char *base;     /* the FROM reference, expanded with the global ARGs */
	int base_stage; /* index of the stage it builds on, or -1 */
	bool scratch;
	char *platform; /* expanded --platform, or NULL */
	int line;
	struct berth_df_instr *instrs;
	size_t n;
	int *deps; /* stage indices this stage reads from, sorted, unique */
	size_t ndeps;
	struct berth_strv env; /* ENV at the end of the stage (inherited included) */
	char *workdir;         /* WORKDIR at the end of the stage */
};

struct berth_df_file {
	struct berth_df_ast ast;       /* owned */
	struct berth_df_kv *meta_args; /* ARGs before the first FROM, values resolved */
	size_t nmeta;
	struct berth_df_stage *stages;
	size_t n;
	int target; /* index of the target stage */
	int *order; /* stages the target needs, dependencies first */
	size_t norder;
	struct berth_strv unused_build_args;
	struct berth_strv warnings; /* "line N: message" lines for lint and users */
};

struct berth_df_options {
	const struct berth_strv *build_args; /* "K=V" (or "K" = take from environ) */
	const char *target;                  /* stage name or index; NULL: last stage */
	const char *platform;                /* NULL: linux/amd64 */
};

/* Parse and load a Dockerfile into typed stages. Takes ownership of nothing;
 * fills *out (release with berth_df_file_release()). Errors carry the line. */
int berth_df_load(const char *data, size_t len, const struct berth_df_options *opt,
		  struct berth_df_file *out, struct berth_err **err);
void berth_df_file_release(struct berth_df_file *f);

/* The typed model as JSON (a new reference). */
json_t *berth_df_file_to_json(const struct berth_df_file *f);

/* Parse a Go duration ("1m30s", "500ms"); errors for bad syntax. */
int berth_df_parse_duration(const char *s, int64_t *ns, struct berth_err **err);

#endif
