/* The instruction layer: AST nodes to typed stages and instructions, with
 * BuildKit's validation, ARG scoping, the expansion each instruction gets,
 * and stage references resolved. The stage graph lives in stages.c. */
#include "dockerfile/dockerfile_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <strings.h>

/* What one stage has accumulated so far (inherited by stages built on it). */
struct stage_state {
	struct berth_strv env;  /* ENV, "K=V" */
	struct berth_strv args; /* ARGs in scope with a value, "K=V" */
	char *workdir;
};

struct loader {
	const struct berth_df_options *opt;
	struct berth_df_file *f;
	struct berth_strv build_args; /* --build-arg, normalised to "K=V" */
	struct berth_strv meta_env;   /* global ARGs with values + automatic ones */
	struct berth_strv declared;   /* every ARG name declared anywhere */
	struct berth_strv names;      /* stage name by index ("" when unnamed) */
	int *lines;                   /* FROM line by stage index */
	struct stage_state *states;   /* final state by stage index */
	struct stage_state st;        /* the stage being loaded */
	int cur;                      /* its index */
	int ssh_index;
	char escape;
};

static const char *const kind_names[] = {
    [BERTH_DF_ADD] = "ADD",
    [BERTH_DF_ARG] = "ARG",
    [BERTH_DF_CMD] = "CMD",
    [BERTH_DF_COPY] = "COPY",
    [BERTH_DF_ENTRYPOINT] = "ENTRYPOINT",
    [BERTH_DF_ENV] = "ENV",
    [BERTH_DF_EXPOSE] = "EXPOSE",
    [BERTH_DF_HEALTHCHECK] = "HEALTHCHECK",
    [BERTH_DF_LABEL] = "LABEL",
    [BERTH_DF_MAINTAINER] = "MAINTAINER",
    [BERTH_DF_ONBUILD] = "ONBUILD",
    [BERTH_DF_RUN] = "RUN",
    [BERTH_DF_SHELL] = "SHELL",
    [BERTH_DF_STOPSIGNAL] = "STOPSIGNAL",
    [BERTH_DF_USER] = "USER",
    [BERTH_DF_VOLUME] = "VOLUME",
    [BERTH_DF_WORKDIR] = "WORKDIR",
};

const char *berth_df_kind_name(enum berth_df_kind kind)
{
	return kind_names[kind];
}

static int kind_of(const char *keyword, enum berth_df_kind *kind)
{
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(kind_names); i++) {
		if (!strcasecmp(keyword, kind_names[i])) {
			*kind = (enum berth_df_kind)i;
			return 0;
		}
	}
	return -1;
}

/* Automatic global ARGs: the platform of this builder, for FROM lines and
 * for stages that re-declare them. */
static void add_automatic_args(struct berth_strv *env, const char *platform)
{
	const char *p = platform ? platform : "linux/amd64";
	const char *slash = strchr(p, '/');
	_cleanup_free_ char *os = berth_xstrndup(p, slash ? (size_t)(slash - p) : strlen(p));
	_cleanup_free_ char *arch = berth_xstrdup(slash ? slash + 1 : "amd64");
	char *variant = strchr(arch, '/');
	if (variant)
		*variant++ = '\0';
	static const char *const pre[] = {"TARGET", "BUILD"};
	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *plat = berth_xasprintf(
		    "%s/%s%s%s", os, arch, variant ? "/" : "", variant ? variant : "");
		_cleanup_free_ char *k1 = berth_xasprintf("%sPLATFORM", pre[i]);
		_cleanup_free_ char *k2 = berth_xasprintf("%sOS", pre[i]);
		_cleanup_free_ char *k3 = berth_xasprintf("%sARCH", pre[i]);
		_cleanup_free_ char *k4 = berth_xasprintf("%sVARIANT", pre[i]);
		berth_env_set(env, k1, plat);
		berth_env_set(env, k2, os);
		berth_env_set(env, k3, arch);
		berth_env_set(env, k4, variant ? variant : "");
	}
}

static bool is_proxy_arg(const char *name)
{
	static const char *const proxies[] = {"HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY",
					      "ALL_PROXY"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(proxies); i++)
		if (!strcasecmp(name, proxies[i]))
			return true;
	return false;
}

/* Variables for stage expansion: ENV wins over ARG of the same name. */
static const char *stage_lookup(void *ctx, const char *name, size_t len)
{
	struct loader *L = ctx;
	const char *v = berth_env_get(&L->st.env, name, len);
	return v ? v : berth_env_get(&L->st.args, name, len);
}

static int expand_in_stage(void *ctx, const char *word, char **out, struct berth_err **err)
{
	struct loader *L = ctx;
	struct berth_shlex lx = {.escape = L->escape, .lookup = stage_lookup, .lookup_ctx = L};
	return berth_shlex_word(&lx, word, out, err);
}

static int expand_words_in_stage(struct loader *L, const char *word, struct berth_strv *out,
				 struct berth_err **err)
{
	struct berth_shlex lx = {.escape = L->escape, .lookup = stage_lookup, .lookup_ctx = L};
	return berth_shlex_words(&lx, word, out, err);
}

/* A plain argument of the node: no NUL bytes allowed past the parser. */
static int node_arg(const struct berth_df_node *n, size_t i, const char **out,
		    struct berth_err **err)
{
	if (strlen(n->args.v[i]) != n->arg_lens[i])
		return berth_err_set(err, BERTH_E_INVALID, "%s: argument %zu contains a NUL byte",
				     n->keyword, i + 1);
	*out = n->args.v[i];
	return 0;
}

/* Copy the node's arguments from index `from` on, unexpanded. */
static int copy_args(const struct berth_df_node *n, size_t from, struct berth_strv *out,
		     struct berth_err **err)
{
	for (size_t i = from; i < n->args.n; i++) {
		const char *a = NULL;
		if (node_arg(n, i, &a, err) < 0)
			return -BERTH_E_INVALID;
		berth_strv_push(out, a);
	}
	return 0;
}

static int no_flags(const struct berth_df_node *n, const char *name, struct berth_err **err)
{
	return berth__df_parse_flags(&n->flags, NULL, 0, name, err);
}

/* Look a --from value up as a stage of this file: sets *stage to its index or
 * -1 when it is an image. Forward and self references are errors. */
static int resolve_from(struct loader *L, const char *what, const char *from, int *stage,
			struct berth_err **err)
{
	*stage = -1;
	char *end;
	long idx = strtol(from, &end, 10);
	bool numeric = *from && !*end && isdigit((unsigned char)from[0]);
	int found = -1;
	if (numeric) {
		if (idx < 0 || idx >= (long)L->names.n)
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "%s=%s: invalid stage index %ld (the file has %zu stages)", what, from,
			    idx, L->names.n);
		found = (int)idx;
	} else {
		for (size_t i = 0; i < L->names.n; i++)
			if (*L->names.v[i] && !strcasecmp(L->names.v[i], from))
				found = (int)i;
	}
	if (found < 0)
		return 0; /* an image reference */
	if (found == L->cur)
		return berth_err_set(err, BERTH_E_INVALID,
				     "%s=%s: circular dependency detected on stage '%s'", what,
				     from, *L->names.v[found] ? L->names.v[found] : from);
	if (found > L->cur)
		return berth_err_set(err, BERTH_E_INVALID,
				     "%s=%s: stage '%s' is defined later (line %d); a stage can "
				     "only use stages above it",
				     what, from, from, L->lines[found]);
	*stage = found;
	return 0;
}

/* --- one function per instruction --- */

static int do_run(struct loader *L, const struct berth_df_node *n, struct berth_df_instr *in,
		  struct berth_err **err)
{
	struct berth__df_flag fl[] = {
	    {.name = "mount", .type = BERTH__FLAG_STRINGS},
	    {.name = "network", .type = BERTH__FLAG_STRING},
	    {.name = "security", .type = BERTH__FLAG_STRING},
	};
	int r = berth__df_parse_flags(&n->flags, fl, BERTH_ARRAY_SIZE(fl), "RUN", err);
	if (r < 0)
		goto out;
	if (n->args.n == 0 && !n->json) {
		r = berth_err_set(err, BERTH_E_INVALID, "RUN requires at least one argument");
		goto out;
	}
	if ((r = copy_args(n, 0, &in->args, err)) < 0)
		goto out;
	in->json = n->json;
	if (fl[1].seen) {
		const char *v = fl[1].value;
		if (!strcmp(v, "default"))
			in->network = BERTH_DF_NET_DEFAULT;
		else if (!strcmp(v, "none"))
			in->network = BERTH_DF_NET_NONE;
		else if (!strcmp(v, "host"))
			in->network = BERTH_DF_NET_HOST;
		else {
			r = berth_err_set(
			    err, BERTH_E_INVALID,
			    "RUN --network=%s: unsupported network mode (use default, "
			    "none or host)",
			    v);
			goto out;
		}
	}
	if (fl[2].seen) {
		if (!strcmp(fl[2].value, "insecure"))
			in->insecure = true;
		else if (strcmp(fl[2].value, "sandbox")) {
			r = berth_err_set(
			    err, BERTH_E_INVALID,
			    "RUN --security=%s: unsupported security mode (use sandbox "
			    "or insecure)",
			    fl[2].value);
			goto out;
		}
	}
	in->mounts = berth_xcalloc(fl[0].values.n, sizeof(*in->mounts));
	for (size_t i = 0; i < fl[0].values.n; i++) {
		struct berth_df_mount *m = &in->mounts[i];
		r = berth__df_parse_mount(fl[0].values.v[i], expand_in_stage, L, L->st.workdir,
					  L->ssh_index, m, err);
		in->nmounts = i + 1;
		if (r < 0) {
			berth_err_prefix(err, "RUN --mount=%s", fl[0].values.v[i]);
			goto out;
		}
		if (m->type == BERTH_DF_MOUNT_SSH)
			L->ssh_index++;
		if (m->from &&
		    (r = resolve_from(L, "RUN --mount from", m->from, &m->from_stage, err)) < 0)
			goto out;
	}
	/* The ARG values a RUN sees (and its cache key): those not shadowed
	 * by ENV. */
	for (size_t i = 0; i < L->st.args.n; i++) {
		const char *eq = strchr(L->st.args.v[i], '=');
		if (!berth_env_get(&L->st.env, L->st.args.v[i], (size_t)(eq - L->st.args.v[i])))
			berth_strv_push(&in->arg_env, L->st.args.v[i]);
	}
	for (size_t i = 0; i < L->build_args.n; i++) {
		const char *a = L->build_args.v[i];
		size_t klen = strcspn(a, "=");
		_cleanup_free_ char *k = berth_xstrndup(a, klen);
		if (is_proxy_arg(k) && !berth_env_get(&L->st.args, k, klen))
			berth_strv_push(&in->proxy_env, a);
	}
	r = 0;
out:
	berth__df_flags_release(fl, BERTH_ARRAY_SIZE(fl));
	return r;
}

static int do_cmd_like(struct loader *L, const struct berth_df_node *n, struct berth_df_instr *in,
		       struct berth_err **err)
{
	const char *name = berth_df_kind_name(in->kind);
	if (no_flags(n, name, err) < 0)
		return -BERTH_E_INVALID;
	if (in->kind == BERTH_DF_SHELL) {
		if (!n->json)
			return berth_err_set(err, BERTH_E_INVALID,
					     "SHELL requires the arguments to be in JSON form, "
					     "e.g. SHELL [\"/bin/bash\", \"-c\"]");
		if (n->args.n == 0)
			return berth_err_set(err, BERTH_E_INVALID,
					     "SHELL requires at least one argument");
	}
	if (copy_args(n, 0, &in->args, err) < 0)
		return -BERTH_E_INVALID;
	in->json = n->json;
	return 0;
}

/* ENV and LABEL: every pair sees the variables from before the instruction. */
static int do_kv(struct loader *L, const struct berth_df_node *n, struct berth_df_instr *in,
		 struct berth_err **err)
{
	const char *name = berth_df_kind_name(in->kind);
	if (no_flags(n, name, err) < 0)
		return -BERTH_E_INVALID;
	if (n->args.n == 0)
		return berth_err_set(err, BERTH_E_INVALID, "%s requires at least one argument",
				     name);
	in->kvs = berth_xcalloc(n->args.n / 3, sizeof(*in->kvs));
	for (size_t i = 0; i + 2 < n->args.n; i += 3) {
		struct berth_df_kv *kv = &in->kvs[in->nkvs++];
		if (expand_in_stage(L, n->args.v[i], &kv->key, err) < 0 ||
		    expand_in_stage(L, n->args.v[i + 1], &kv->value, err) < 0)
			return berth_err_prefix(err, "%s", name);
		if (!*kv->key)
			return berth_err_set(err, BERTH_E_INVALID, "%s names can not be blank",
					     name);
	}
	if (in->kind == BERTH_DF_ENV)
		for (size_t i = 0; i < in->nkvs; i++)
			berth_env_set(&L->st.env, in->kvs[i].key, in->kvs[i].value);
	return 0;
}

static bool valid_arg_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

/* ARG inside a stage (meta args are handled by load_meta_arg). */
static int do_arg(struct loader *L, const struct berth_df_node *n, struct berth_df_instr *in,
		  bool meta, struct berth_err **err)
{
	if (no_flags(n, "ARG", err) < 0)
		return -BERTH_E_INVALID;
	if (n->args.n == 0)
		return berth_err_set(err, BERTH_E_INVALID, "ARG requires at least one argument");
	in->kvs = berth_xcalloc(n->args.n, sizeof(*in->kvs));
	for (size_t i = 0; i < n->args.n; i++) {
		const char *word = n->args.v[i];
		const char *eq = strchr(word, '=');
		struct berth_df_kv *kv = &in->kvs[in->nkvs++];
		kv->key = berth_xstrndup(word, eq ? (size_t)(eq - word) : strlen(word));
		if (!valid_arg_name(kv->key))
			return berth_err_set(err, BERTH_E_INVALID,
					     "ARG: invalid name '%s' (use letters, digits and _)",
					     kv->key);
		if (!berth_strv_contains(&L->declared, kv->key))
			berth_strv_push(&L->declared, kv->key);
		/* The default, expanded with what is in scope now. */
		_cleanup_free_ char *def = NULL;
		if (eq) {
			if (meta) {
				struct berth_shlex lx = {.escape = L->escape,
							 .lookup = berth_shlex_env_lookup,
							 .lookup_ctx = &L->meta_env};
				if (berth_shlex_word(&lx, eq + 1, &def, err) < 0)
					return berth_err_prefix(err, "ARG %s", kv->key);
			} else if (expand_in_stage(L, eq + 1, &def, err) < 0) {
				return berth_err_prefix(err, "ARG %s", kv->key);
			}
		}
		/* Precedence: --build-arg > default > global value > unset. */
		const char *given = berth_env_get(&L->build_args, kv->key, strlen(kv->key));
		const char *global =
		    meta ? NULL : berth_env_get(&L->meta_env, kv->key, strlen(kv->key));
		const char *value = given ? given : def ? def : global;
		if (value)
			kv->value = berth_xstrdup(value);
		if (meta) {
			if (value)
				berth_env_set(&L->meta_env, kv->key, value);
		} else if (value) {
			berth_env_set(&L->st.args, kv->key, value);
		}
	}
	return 0;
}

static int do_single(struct loader *L, const struct berth_df_node *n, struct berth_df_instr *in,
		     bool expand, struct berth_err **err)
{
	const char *name = berth_df_kind_name(in->kind);
	if (no_flags(n, name, err) < 0)
		return -BERTH_E_INVALID;
	if (n->args.n != 1)
		return berth_err_set(err, BERTH_E_INVALID, "%s requires exactly one argument",
				     name);
	const char *a = NULL;
	if (node_arg(n, 0, &a, err) < 0)
		return -BERTH_E_INVALID;
	char *v = NULL;
	if (!expand)
		v = berth_xstrdup(a);
	else if (expand_in_stage(L, a, &v, err) < 0)
		return berth_err_prefix(err, "%s", name);
	berth_strv_push_owned(&in->args, v);
	return 0;
}

static bool valid_signal(const char *s)
{
	static const char *const sigs[] = {
	    "HUP",  "INT",   "QUIT", "ILL",  "TRAP", "ABRT", "IOT",  "BUS",    "FPE",
	    "KILL", "USR1",  "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD",
	    "CONT", "STOP",  "TSTP", "TTIN", "TTOU", "URG",  "XCPU", "XFSZ",   "VTALRM",
	    "PROF", "WINCH", "IO",   "POLL", "PWR",  "SYS",
	};
	char *end;
	long num = strtol(s, &end, 10);
	if (*s && !*end)
		return num > 0 && num <= 64;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	if (!strncasecmp(s, "RTMIN", 5) || !strncasecmp(s, "RTMAX", 5))
		return true;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(sigs); i++)
		if (!strcasecmp(s, sigs[i]))
			return true;
	return false;
}

static int do_list(struct loader *L, const struct berth_df_node *n, struct berth_df_instr *in,
		   struct berth_err **err)
{
	const char *name = berth_df_kind_name(in->kind);
	if (no_flags(n, name, err) < 0)
		return -BERTH_E_INVALID;
	if (n->args.n == 0)
		return berth_err_set(err, BERTH_E_INVALID, "%s requires at least one argument",
				     name);
	for (size_t i = 0; i < n->args.n; i++) {
		const char *a = NULL;
		if (node_arg(n, i, &a, err) < 0)
			return -BERTH_E_INVALID;
		if (in->kind == BERTH_DF_EXPOSE) {
			if (expand_words_in_stage(L, a, &in->args, err) < 0)
				return berth_err_prefix(err, "EXPOSE");
			continue;
		}
		char *v;
		if (expand_in_stage(L, a, &v, err) < 0)
			return berth_err_prefix(err, "VOLUME");
		if (!*v) {
			free(v);
			return berth_err_set(err, BERTH_E_INVALID,
					     "VOLUME specified can not be an empty string");
		}
		berth_strv_push_owned(&in->args, v);
	}
	return 0;
}

static int do_healthcheck(struct loader *L, const struct berth_df_node *n,
			  struct berth_df_instr *in, struct berth_err **err)
{
	struct berth__df_flag fl[] = {
	    {.name = "interval", .type = BERTH__FLAG_STRING},
	    {.name = "timeout", .type = BERTH__FLAG_STRING},
	    {.name = "start-period", .type = BERTH__FLAG_STRING},
	    {.name = "start-interval", .type = BERTH__FLAG_STRING},
	    {.name = "retries", .type = BERTH__FLAG_STRING},
	};
	int64_t *dst[] = {&in->interval, &in->timeout, &in->start_period, &in->start_interval};
	int r = berth__df_parse_flags(&n->flags, fl, BERTH_ARRAY_SIZE(fl), "HEALTHCHECK", err);
	if (r < 0)
		goto out;
	if (n->args.n == 0) {
		r = berth_err_set(err, BERTH_E_INVALID,
				  "HEALTHCHECK requires an argument: CMD <command> or NONE");
		goto out;
	}
	const char *type = n->args.v[0];
	if (!strcasecmp(type, "NONE")) {
		if (n->args.n > 1 || n->flags.n) {
			r = berth_err_set(err, BERTH_E_INVALID,
					  "HEALTHCHECK NONE takes no arguments or flags");
			goto out;
		}
		berth_strv_push(&in->args, "NONE");
		r = 0;
		goto out;
	}
	if (strcasecmp(type, "CMD")) {
		r = berth_err_set(err, BERTH_E_INVALID,
				  "unknown type '%s' in HEALTHCHECK (try CMD)", type);
		goto out;
	}
	if (n->args.n < 2) {
		r = berth_err_set(err, BERTH_E_INVALID, "missing command after HEALTHCHECK CMD");
		goto out;
	}
	berth_strv_push(&in->args, n->json ? "CMD" : "CMD-SHELL");
	if ((r = copy_args(n, 1, &in->args, err)) < 0)
		goto out;
	in->json = n->json;
	for (size_t i = 0; i < 4; i++) {
		if (!fl[i].seen)
			continue;
		if ((r = berth_df_parse_duration(fl[i].value, dst[i], err)) < 0) {
			berth_err_prefix(err, "HEALTHCHECK --%s", fl[i].name);
			goto out;
		}
		if (*dst[i] < 0) {
			r = berth_err_set(err, BERTH_E_INVALID,
					  "HEALTHCHECK --%s=%s cannot be negative", fl[i].name,
					  fl[i].value);
			goto out;
		}
		if (*dst[i] > 0 && *dst[i] < 1000000) {
			r = berth_err_set(err, BERTH_E_INVALID,
					  "HEALTHCHECK --%s=%s cannot be less than 1ms", fl[i].name,
					  fl[i].value);
			goto out;
		}
	}
	if (fl[4].seen) {
		char *end;
		long v = strtol(fl[4].value, &end, 10);
		if (!*fl[4].value || *end) {
			r = berth_err_set(err, BERTH_E_INVALID,
					  "HEALTHCHECK --retries=%s: not a number", fl[4].value);
			goto out;
		}
		if (v < 0 || v > INT32_MAX) {
			r = berth_err_set(err, BERTH_E_INVALID,
					  "HEALTHCHECK --retries cannot be negative (%ld)", v);
			goto out;
		}
		in->retries = (int)v;
	}
	r = 0;
out:
	berth__df_flags_release(fl, BERTH_ARRAY_SIZE(fl));
	return r;
}

static int do_onbuild(struct loader *L, const struct berth_df_node *n, struct berth_df_instr *in,
		      struct berth_err **err)
{
	if (no_flags(n, "ONBUILD", err) < 0)
		return -BERTH_E_INVALID;
	if (!n->sub)
		return berth_err_set(err, BERTH_E_INVALID,
				     "ONBUILD requires at least one argument");
	const char *k = n->sub->keyword;
	enum berth_df_kind kind;
	if (!strcmp(k, "onbuild"))
		return berth_err_set(err, BERTH_E_INVALID,
				     "chaining ONBUILD via 'ONBUILD ONBUILD' isn't allowed");
	if (!strcmp(k, "from") || !strcmp(k, "maintainer"))
		return berth_err_set(err, BERTH_E_INVALID, "%s isn't allowed as an ONBUILD trigger",
				     k[0] == 'f' ? "FROM" : "MAINTAINER");
	if (kind_of(k, &kind) < 0)
		return berth_err_set(err, BERTH_E_INVALID, "ONBUILD: unknown instruction: %s", k);
	/* The trigger is the text after ONBUILD, heredoc bodies included. */
	const char *o = n->original;
	while (berth__df_is_space(*o))
		o++;
	o += 7; /* "onbuild", any case */
	while (berth__df_is_space(*o))
		o++;
	struct berth_buf t;
	berth_buf_init(&t, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&t, o);
	for (size_t i = 0; i < n->nheredocs; i++)
		berth_buf_addf(&t, "\n%s%s", n->heredocs[i].content, n->heredocs[i].name);
	berth_strv_push_owned(&in->args, berth_buf_steal(&t, NULL));
	return 0;
}

static bool valid_chmod(const char *s)
{
	if (!*s)
		return false;
	bool octal = true;
	for (const char *p = s; *p; p++)
		octal &= *p >= '0' && *p <= '7';
	if (octal)
		return strtol(s, NULL, 8) <= 07777;
	/* Symbolic: clauses [ugoa]*[+-=][rwxXst]* separated by commas. */
	const char *p = s;
	for (;;) {
		while (strchr("ugoa", *p) && *p)
			p++;
		if (!*p || !strchr("+-=", *p))
			return false;
		while (*p && strchr("+-=", *p)) {
			p++;
			while (*p && strchr("rwxXst", *p))
				p++;
		}
		if (!*p)
			return true;
		if (*p != ',')
			return false;
		p++;
	}
}

static bool is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

static const struct berth_df_heredoc *find_heredoc(const struct berth_df_node *n, const char *word)
{
	const char *p = word;
	while (isdigit((unsigned char)*p))
		p++;
	if (strncmp(p, "<<", 2))
		return NULL;
	for (size_t i = 0; i < n->nheredocs; i++) {
		const char *q = p + 2 + (*(p + 2) == '-');
		/* The delimiter as written may carry quotes; match unquoted. */
		if (strstr(q, n->heredocs[i].name))
			return &n->heredocs[i];
	}
	return NULL;
}

static int do_copy(struct loader *L, const struct berth_df_node *n, struct berth_df_instr *in,
		   struct berth_err **err)
{
	bool add = in->kind == BERTH_DF_ADD;
	const char *name = add ? "ADD" : "COPY";
	/* Common flags first, then COPY's (from, parents) or ADD's (checksum,
	 * keep-git-dir, unpack): each instruction is offered exactly its own. */
	struct berth__df_flag sel[7] = {
	    {.name = "chown", .type = BERTH__FLAG_STRING},
	    {.name = "chmod", .type = BERTH__FLAG_STRING},
	    {.name = "link", .type = BERTH__FLAG_BOOL},
	    {.name = "exclude", .type = BERTH__FLAG_STRINGS},
	};
	size_t ns = 4;
	if (add) {
		sel[ns++] = (struct berth__df_flag){.name = "checksum", .type = BERTH__FLAG_STRING};
		sel[ns++] =
		    (struct berth__df_flag){.name = "keep-git-dir", .type = BERTH__FLAG_BOOL};
		sel[ns++] = (struct berth__df_flag){.name = "unpack", .type = BERTH__FLAG_BOOL};
	} else {
		sel[ns++] = (struct berth__df_flag){.name = "from", .type = BERTH__FLAG_STRING};
		sel[ns++] = (struct berth__df_flag){.name = "parents", .type = BERTH__FLAG_BOOL};
	}
	int r = berth__df_parse_flags(&n->flags, sel, ns, name, err);
	if (r < 0)
		goto out;

	if (n->args.n < 2) {
		r = berth_err_set(err, BERTH_E_INVALID,
				  "%s requires at least two arguments, but only %zu was provided: "
				  "the last one is the destination",
				  name, n->args.n);
		goto out;
	}
	struct berth__df_flag *f_chown = &sel[0], *f_chmod = &sel[1], *f_link = &sel[2],
			      *f_excl = &sel[3];
	if (f_chown->seen && expand_in_stage(L, f_chown->value, &in->chown, err) < 0) {
		r = berth_err_prefix(err, "%s --chown", name);
		goto out;
	}
	if (f_chmod->seen) {
		if ((r = expand_in_stage(L, f_chmod->value, &in->chmod, err)) < 0) {
			berth_err_prefix(err, "%s --chmod", name);
			goto out;
		}
		if (!valid_chmod(in->chmod)) {
			r = berth_err_set(err, BERTH_E_INVALID,
					  "%s --chmod=%s: invalid mode (use octal like 755 or "
					  "symbolic like u=rwX,go=rX)",
					  name, in->chmod);
			goto out;
		}
	}
	in->link = f_link->seen && f_link->bval;
	for (size_t i = 0; i < f_excl->values.n; i++) {
		char *v;
		if ((r = expand_in_stage(L, f_excl->values.v[i], &v, err)) < 0) {
			berth_err_prefix(err, "%s --exclude", name);
			goto out;
		}
		berth_strv_push_owned(&in->excludes, v);
	}
	if (!add) {
		if (sel[4].seen) {
			if (strchr(sel[4].value, '$')) {
				r = berth_err_set(
				    err, BERTH_E_INVALID,
				    "COPY --from=%s: '--from' doesn't support variable "
				    "expansion, define an alias stage instead "
				    "(ARG X; FROM $X AS alias; COPY --from=alias)",
				    sel[4].value);
				goto out;
			}
			if (!*sel[4].value) {
				r = berth_err_set(err, BERTH_E_INVALID,
						  "COPY --from= needs a value");
				goto out;
			}
			in->from = berth_xstrdup(sel[4].value);
			if ((r = resolve_from(L, "COPY --from", in->from, &in->from_stage, err)) <
			    0)
				goto out;
		}
		in->parents = sel[5].seen && sel[5].bval;
	} else {
		if (sel[4].seen && (r = expand_in_stage(L, sel[4].value, &in->checksum, err)) < 0) {
			berth_err_prefix(err, "ADD --checksum");
			goto out;
		}
		in->keep_git_dir = sel[5].seen && sel[5].bval;
		in->unpack = sel[6].seen ? sel[6].bval : -1;
	}

	/* Sources and destination, expanded; heredoc sources stay as written. */
	for (size_t i = 0; i < n->args.n; i++) {
		const char *a = NULL;
		if ((r = node_arg(n, i, &a, err)) < 0)
			goto out;
		bool last = i + 1 == n->args.n;
		const struct berth_df_heredoc *h = n->json ? NULL : find_heredoc(n, a);
		if (h && last) {
			r = berth_err_set(err, BERTH_E_INVALID,
					  "%s: a heredoc can not be the destination", name);
			goto out;
		}
		char *v;
		if (h) {
			v = berth_xstrdup(a);
		} else if ((r = expand_in_stage(L, a, &v, err)) < 0) {
			berth_err_prefix(err, "%s", name);
			goto out;
		}
		if (last)
			in->resolved = v;
		else
			berth_strv_push_owned(&in->args, v);
	}
	if (in->checksum) {
		if (in->args.n != 1 || !is_url(in->args.v[0])) {
			r = berth_err_set(err, BERTH_E_INVALID,
					  "ADD --checksum needs exactly one http(s) URL source");
			goto out;
		}
		if (strncmp(in->checksum, "sha256:", 7) && strncmp(in->checksum, "sha384:", 7) &&
		    strncmp(in->checksum, "sha512:", 7)) {
			r = berth_err_set(
			    err, BERTH_E_INVALID,
			    "ADD --checksum=%s: expected sha256:<hex> (or sha384/sha512)",
			    in->checksum);
			goto out;
		}
	}
	r = 0;
out:
	berth__df_flags_release(sel, ns);
	return r;
}

static int do_workdir(struct loader *L, const struct berth_df_node *n, struct berth_df_instr *in,
		      struct berth_err **err)
{
	if (do_single(L, n, in, true, err) < 0)
		return -BERTH_E_INVALID;
	const char *p = in->args.v[0];
	char *wd = p[0] == '/' ? berth_xstrdup(p) : berth__df_path_join(L->st.workdir, p);
	free(L->st.workdir);
	L->st.workdir = wd;
	in->resolved = berth_xstrdup(wd);
	return 0;
}

static int dispatch(struct loader *L, const struct berth_df_node *n, struct berth_df_instr *in,
		    struct berth_err **err)
{
	switch (in->kind) {
	case BERTH_DF_RUN:
		return do_run(L, n, in, err);
	case BERTH_DF_CMD:
	case BERTH_DF_ENTRYPOINT:
	case BERTH_DF_SHELL:
		return do_cmd_like(L, n, in, err);
	case BERTH_DF_ENV:
	case BERTH_DF_LABEL:
		return do_kv(L, n, in, err);
	case BERTH_DF_ARG:
		return do_arg(L, n, in, false, err);
	case BERTH_DF_USER:
		return do_single(L, n, in, true, err);
	case BERTH_DF_MAINTAINER:
		return do_single(L, n, in, false, err);
	case BERTH_DF_STOPSIGNAL:
		if (do_single(L, n, in, true, err) < 0)
			return -BERTH_E_INVALID;
		if (!valid_signal(in->args.v[0]))
			return berth_err_set(err, BERTH_E_INVALID,
					     "STOPSIGNAL: invalid signal '%s' (use a name like "
					     "SIGTERM or a number)",
					     in->args.v[0]);
		return 0;
	case BERTH_DF_WORKDIR:
		return do_workdir(L, n, in, err);
	case BERTH_DF_EXPOSE:
	case BERTH_DF_VOLUME:
		return do_list(L, n, in, err);
	case BERTH_DF_HEALTHCHECK:
		return do_healthcheck(L, n, in, err);
	case BERTH_DF_ONBUILD:
		return do_onbuild(L, n, in, err);
	case BERTH_DF_ADD:
	case BERTH_DF_COPY:
		return do_copy(L, n, in, err);
	}
	BUG("unhandled instruction kind %d", in->kind);
}

/* --- stages --- */

static void state_copy(struct stage_state *dst, const struct stage_state *src)
{
	berth_strv_copy(&dst->env, &src->env);
	berth_strv_copy(&dst->args, &src->args);
	dst->workdir = src->workdir ? berth_xstrdup(src->workdir) : NULL;
}

static void state_release(struct stage_state *s)
{
	berth_strv_release(&s->env);
	berth_strv_release(&s->args);
	free(s->workdir);
	s->workdir = NULL;
}

static bool valid_stage_name(const char *s)
{
	if (!islower((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    !strchr("-_.", *s))
			return false;
	return true;
}

/* The `AS name` of a FROM node, lower-cased, or "" when there is none. */
static int from_name(const struct berth_df_node *n, char **name, struct berth_err **err)
{
	if (n->args.n != 1 && n->args.n != 3)
		return berth_err_set_line(err, BERTH_E_INVALID, n->start_line,
					  "FROM requires either one or three arguments "
					  "(FROM image [AS name])");
	if (n->args.n == 1) {
		*name = berth_xstrdup("");
		return 0;
	}
	if (strcasecmp(n->args.v[1], "as"))
		return berth_err_set_line(err, BERTH_E_INVALID, n->start_line,
					  "FROM: expected 'AS' before the stage name, got '%s'",
					  n->args.v[1]);
	*name = berth_xstrdup(n->args.v[2]);
	for (char *c = *name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (!valid_stage_name(*name))
		return berth_err_set_line(err, BERTH_E_INVALID, n->start_line,
					  "invalid name for build stage: '%s', name can't start "
					  "with a number or contain symbols",
					  n->args.v[2]);
	return 0;
}

static int begin_stage(struct loader *L, const struct berth_df_node *n, struct berth_err **err)
{
	struct berth_df_file *f = L->f;
	struct berth_df_stage *s = &f->stages[f->n];
	memset(s, 0, sizeof(*s));
	s->index = (int)f->n;
	s->line = n->start_line;
	s->base_stage = -1;
	f->n++;
	L->cur = s->index;
	if (*L->names.v[s->index])
		s->name = berth_xstrdup(L->names.v[s->index]);

	struct berth__df_flag fl[] = {{.name = "platform", .type = BERTH__FLAG_STRING}};
	int r = berth__df_parse_flags(&n->flags, fl, 1, "FROM", err);
	struct berth_shlex lx = {
	    .escape = L->escape, .lookup = berth_shlex_env_lookup, .lookup_ctx = &L->meta_env};
	if (r == 0 && fl[0].seen && (r = berth_shlex_word(&lx, fl[0].value, &s->platform, err)) < 0)
		berth_err_prefix(err, "FROM --platform");
	berth__df_flags_release(fl, 1);
	if (r < 0)
		return r;
	/* The image is expanded with the global ARGs only. */
	if ((r = berth_shlex_word(&lx, n->args.v[0], &s->base, err)) < 0)
		return berth_err_prefix(err, "FROM");
	if (!*s->base)
		return berth_err_set(err, BERTH_E_INVALID,
				     "base name (%s) should not be blank: set the ARG it uses "
				     "with --build-arg or a default",
				     n->args.v[0]);
	s->scratch = !strcmp(s->base, "scratch");
	for (int i = 0; i < s->index; i++)
		if (*L->names.v[i] && !strcasecmp(L->names.v[i], s->base))
			s->base_stage = i;

	state_release(&L->st);
	if (s->base_stage >= 0) {
		state_copy(&L->st, &L->states[s->base_stage]);
	} else {
		L->st.workdir = berth_xstrdup("/");
		berth_strv_push(
		    &L->st.env,
		    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	}
	return 0;
}

static void end_stage(struct loader *L)
{
	if (L->f->n == 0)
		return;
	struct berth_df_stage *s = &L->f->stages[L->cur];
	state_copy(&L->states[L->cur], &L->st);
	berth_strv_copy(&s->env, &L->st.env);
	s->workdir = berth_xstrdup(L->st.workdir ? L->st.workdir : "/");
}

/* First pass: stage names and lines, so --from can tell stages from images
 * and report forward references. */
static int collect_stages(struct loader *L, struct berth_err **err)
{
	const struct berth_df_ast *ast = &L->f->ast;
	size_t count = 0;
	for (size_t i = 0; i < ast->n; i++)
		count += !strcmp(ast->nodes[i].keyword, "from");
	L->lines = berth_xcalloc(count, sizeof(int));
	L->states = berth_xcalloc(count, sizeof(*L->states));
	L->f->stages = berth_xcalloc(count, sizeof(*L->f->stages));
	for (size_t i = 0; i < ast->n; i++) {
		const struct berth_df_node *n = &ast->nodes[i];
		if (strcmp(n->keyword, "from"))
			continue;
		char *name = NULL;
		if (from_name(n, &name, err) < 0) {
			free(name);
			return -BERTH_E_INVALID;
		}
		if (*name && berth_strv_contains(&L->names, name)) {
			int first = 0;
			for (size_t j = 0; j < L->names.n; j++)
				if (!strcmp(L->names.v[j], name))
					first = L->lines[j];
			berth_err_set_line(err, BERTH_E_INVALID, n->start_line,
					   "duplicate stage name '%s' (first defined at line %d)",
					   name, first);
			free(name);
			return -BERTH_E_INVALID;
		}
		L->lines[L->names.n] = n->start_line;
		berth_strv_push_owned(&L->names, name);
	}
	return 0;
}

static void warn(struct loader *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(struct loader *L, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = berth_xvasprintf(fmt, ap);
	va_end(ap);
	berth_strv_pushf(&L->f->warnings, "line %d: %s", line, msg);
}

static int unknown_instruction(const struct berth_df_node *n, struct berth_err **err)
{
	_cleanup_free_ char *k = berth_xstrdup(n->keyword);
	for (char *c = k; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	return berth_err_set_line(err, BERTH_E_INVALID, n->start_line, "unknown instruction: %s",
				  k);
}

static int load_nodes(struct loader *L, struct berth_err **err)
{
	struct berth_df_file *f = L->f;
	const struct berth_df_ast *ast = &f->ast;
	for (size_t i = 0; i < ast->n; i++) {
		const struct berth_df_node *n = &ast->nodes[i];
		if (!strcmp(n->keyword, "from")) {
			end_stage(L);
			int r = begin_stage(L, n, err);
			if (r < 0) {
				if (err && *err && !(*err)->line)
					(*err)->line = n->start_line;
				return r;
			}
			continue;
		}
		enum berth_df_kind kind;
		if (kind_of(n->keyword, &kind) < 0)
			return unknown_instruction(n, err);
		struct berth_df_instr tmp = {.kind = kind,
					     .line = n->start_line,
					     .end_line = n->end_line,
					     .node = n,
					     .from_stage = -1,
					     .unpack = -1};
		struct berth_df_instr *in = &tmp;
		bool meta = f->n == 0;
		if (meta && kind != BERTH_DF_ARG)
			return berth_err_set_line(
			    err, BERTH_E_INVALID, n->start_line,
			    "%s before the first FROM: only ARG may come before "
			    "FROM (no build stage in current context)",
			    berth_df_kind_name(kind));
		if (!meta) {
			struct berth_df_stage *s = &f->stages[L->cur];
			s->instrs = berth_xrealloc(s->instrs, (s->n + 1) * sizeof(*s->instrs));
			in = &s->instrs[s->n++];
			*in = tmp;
		}
		int r = meta ? do_arg(L, n, in, true, err) : dispatch(L, n, in, err);
		if (meta) {
			for (size_t k = 0; k < in->nkvs; k++) {
				f->meta_args = berth_xrealloc(
				    f->meta_args, (f->nmeta + 1) * sizeof(*f->meta_args));
				f->meta_args[f->nmeta++] = in->kvs[k];
			}
			free(in->kvs);
			in->kvs = NULL;
			in->nkvs = 0;
		}
		if (r < 0) {
			if (err && *err && !(*err)->line)
				(*err)->line = n->start_line;
			return r;
		}
	}
	end_stage(L);
	if (f->n == 0)
		return berth_err_set_line(
		    err, BERTH_E_INVALID, ast->end_line,
		    "no FROM instruction: a Dockerfile needs at least one stage");
	return 0;
}

static void normalise_build_args(struct loader *L)
{
	if (!L->opt->build_args)
		return;
	for (size_t i = 0; i < L->opt->build_args->n; i++) {
		const char *a = L->opt->build_args->v[i];
		const char *eq = strchr(a, '=');
		if (eq) {
			_cleanup_free_ char *k = berth_xstrndup(a, (size_t)(eq - a));
			berth_env_set(&L->build_args, k, eq + 1);
		} else if (getenv(a)) {
			berth_env_set(&L->build_args, a, getenv(a));
		}
	}
}

int berth_df_load(const char *data, size_t len, const struct berth_df_options *opt,
		  struct berth_df_file *out, struct berth_err **err)
{
	static const struct berth_df_options defaults = {0};
	memset(out, 0, sizeof(*out));
	out->target = -1;
	int r = berth_df_parse(data, len, &out->ast, err);
	if (r < 0)
		return r;
	struct loader L = {.opt = opt ? opt : &defaults, .f = out, .escape = out->ast.escape};
	normalise_build_args(&L);
	add_automatic_args(&L.meta_env, L.opt->platform);
	for (size_t i = 0; i < out->ast.nwarnings; i++)
		berth_strv_pushf(&out->warnings, "line %d: %s", out->ast.warnings[i].line,
				 out->ast.warnings[i].msg);

	if ((r = collect_stages(&L, err)) < 0 || (r = load_nodes(&L, err)) < 0 ||
	    (r = berth__df_stage_graph(out, L.opt->target, err)) < 0)
		goto done;

	for (size_t i = 0; i < L.build_args.n; i++) {
		const char *a = L.build_args.v[i];
		size_t klen = strcspn(a, "=");
		_cleanup_free_ char *k = berth_xstrndup(a, klen);
		if (!berth_strv_contains(&L.declared, k) && !is_proxy_arg(k) &&
		    strncmp(k, "BUILDKIT_", 9) && strcmp(k, "SOURCE_DATE_EPOCH"))
			berth_strv_push(&out->unused_build_args, k);
	}
	for (size_t i = 0; i < out->n; i++)
		if (out->stages[i].name && (!strcmp(out->stages[i].name, "scratch") ||
					    !strcmp(out->stages[i].name, "context")))
			warn(&L, out->stages[i].line,
			     "'%s' is a reserved stage name (ReservedStageName)",
			     out->stages[i].name);
done:
	state_release(&L.st);
	for (size_t i = 0; i < L.names.n; i++)
		state_release(&L.states[i]);
	free(L.states);
	free(L.lines);
	berth_strv_release(&L.names);
	berth_strv_release(&L.build_args);
	berth_strv_release(&L.meta_env);
	berth_strv_release(&L.declared);
	if (r < 0)
		berth_df_file_release(out);
	return r;
}

static void instr_release(struct berth_df_instr *in)
{
	berth_strv_release(&in->args);
	for (size_t i = 0; i < in->nkvs; i++) {
		free(in->kvs[i].key);
		free(in->kvs[i].value);
	}
	free(in->kvs);
	free(in->resolved);
	for (size_t i = 0; i < in->nmounts; i++)
		berth__df_mount_release(&in->mounts[i]);
	free(in->mounts);
	berth_strv_release(&in->arg_env);
	berth_strv_release(&in->proxy_env);
	free(in->from);
	free(in->chown);
	free(in->chmod);
	free(in->checksum);
	berth_strv_release(&in->excludes);
}

void berth_df_file_release(struct berth_df_file *f)
{
	for (size_t i = 0; i < f->n; i++) {
		struct berth_df_stage *s = &f->stages[i];
		for (size_t j = 0; j < s->n; j++)
			instr_release(&s->instrs[j]);
		free(s->instrs);
		free(s->name);
		free(s->base);
		free(s->platform);
		free(s->deps);
		berth_strv_release(&s->env);
		free(s->workdir);
	}
	free(f->stages);
	for (size_t i = 0; i < f->nmeta; i++) {
		free(f->meta_args[i].key);
		free(f->meta_args[i].value);
	}
	free(f->meta_args);
	free(f->order);
	berth_strv_release(&f->unused_build_args);
	berth_strv_release(&f->warnings);
	berth_df_ast_release(&f->ast);
	memset(f, 0, sizeof(*f));
	f->target = -1;
}
