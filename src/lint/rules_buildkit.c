/* BuildKit's build checks (frontend/dockerfile/linter/ruleset.go), with
 * BuildKit's names and conditions. The parse group needs only the AST (it
 * runs even when the file does not load as stages); the model group reads
 * the typed stages. */
#include "lint/lint_int.h"
#include "image/image.h"

#include <ctype.h>
#include <strings.h>

/* The automatic platform ARGs a FROM line may use without declaring them. */
static const char *const automatic_args[] = {
    "TARGETPLATFORM=linux/amd64", "TARGETOS=linux",   "TARGETARCH=amd64", "TARGETVARIANT=",
    "BUILDPLATFORM=linux/amd64",  "BUILDOS=linux",    "BUILDARCH=amd64",  "BUILDVARIANT=",
    "TARGETSTAGE=default",        "TARGETOSVERSION=", "BUILDOSVERSION=",
};

static bool is_upper(struct berth_sv s)
{
	for (size_t i = 0; i < s.len; i++)
		if (islower((unsigned char)s.p[i]))
			return false;
	return true;
}

static bool is_lower(struct berth_sv s)
{
	for (size_t i = 0; i < s.len; i++)
		if (isupper((unsigned char)s.p[i]))
			return false;
	return true;
}

static char *lower(const char *s)
{
	char *l = berth_xstrdup(s);
	for (char *c = l; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return l;
}

static char *upper_sv(struct berth_sv s)
{
	char *u = berth_xstrndup(s.p, s.len);
	for (char *c = u; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	return u;
}

/* --- the global ARGs, as FROM lines see them --- */

struct meta {
	struct berth_strv env;      /* declared ARGs with their default ("" if none) */
	struct berth_strv defaults; /* only those with a default value */
	struct berth_strv names;    /* every name FROM may use */
};

static void meta_release(struct meta *m)
{
	berth_strv_release(&m->env);
	berth_strv_release(&m->defaults);
	berth_strv_release(&m->names);
}

static void meta_collect(const struct berth_df_ast *ast, struct meta *m)
{
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(automatic_args); i++) {
		berth_strv_push(&m->env, automatic_args[i]);
		berth_strv_push(&m->defaults, automatic_args[i]);
		berth_strv_push_owned(
		    &m->names, berth_xstrndup(automatic_args[i], strcspn(automatic_args[i], "=")));
	}
	for (size_t i = 0; i < ast->n && strcmp(ast->nodes[i].keyword, "from"); i++) {
		const struct berth_df_node *n = &ast->nodes[i];
		if (strcmp(n->keyword, "arg"))
			continue;
		for (size_t k = 0; k < n->args.n; k++) {
			const char *w = n->args.v[k];
			const char *eq = strchr(w, '=');
			_cleanup_free_ char *name =
			    berth_xstrndup(w, eq ? (size_t)(eq - w) : strlen(w));
			_cleanup_free_ char *def = NULL;
			if (eq) {
				struct berth_shlex lx = {.escape = ast->escape,
							 .lookup = berth_shlex_env_lookup,
							 .lookup_ctx = &m->defaults};
				if (berth_shlex_word(&lx, eq + 1, &def, NULL) < 0)
					def = berth_xstrdup("");
				berth_env_set(&m->defaults, name, def);
			}
			berth_env_set(&m->env, name, def ? def : "");
			if (!berth_strv_contains(&m->names, name))
				berth_strv_push(&m->names, name);
		}
	}
}

/* The value of FROM's --platform flag as written, or NULL. */
static const char *platform_flag(const struct berth_df_node *n)
{
	for (size_t i = 0; i < n->flags.n; i++)
		if (!strncmp(n->flags.v[i], "--platform=", 11))
			return n->flags.v[i] + 11;
	return NULL;
}

static void undefined_in_from(struct berth__lint *L, const struct berth_df_node *n,
			      const char *word, const struct meta *m)
{
	_cleanup_strv_ struct berth_strv unmatched = BERTH_STRV_INIT;
	struct berth_shlex lx = {.escape = L->ast->escape,
				 .lookup = berth_shlex_env_lookup,
				 .lookup_ctx = (void *)&m->env,
				 .unmatched = &unmatched};
	_cleanup_free_ char *out = NULL;
	if (berth_shlex_word(&lx, word, &out, NULL) < 0)
		return;
	for (size_t i = 0; i < unmatched.n; i++) {
		const char *name = unmatched.v[i];
		const char *s = berth__lint_suggest(name, &m->names);
		_cleanup_free_ char *fix =
		    s ? berth_xasprintf("use $%s, or declare `ARG %s=<default>` before the first "
					"FROM",
					s, name)
		      : berth_xasprintf("declare `ARG %s=<default>` before the first FROM", name);
		berth__lint_report(L, "UndefinedArgInFrom", true, n->start_line, n->end_line, fix,
				   "FROM argument '%s' is not declared%s%s%s", name,
				   s ? " (did you mean " : "", s ? s : "", s ? "?)" : "");
	}
}

static void platform_rules(struct berth__lint *L, const struct berth_df_node *n,
			   const char *platform, const char *stage, const struct meta *m)
{
	_cleanup_strv_ struct berth_strv matched = BERTH_STRV_INIT;
	_cleanup_strv_ struct berth_strv unmatched = BERTH_STRV_INIT;
	struct berth_shlex lx = {.escape = L->ast->escape,
				 .lookup = berth_shlex_env_lookup,
				 .lookup_ctx = (void *)&m->env,
				 .matched = &matched,
				 .unmatched = &unmatched};
	_cleanup_free_ char *out = NULL;
	if (berth_shlex_word(&lx, platform, &out, NULL) < 0)
		return;
	if (matched.n == 1 && unmatched.n == 0 && !strcmp(matched.v[0], "TARGETPLATFORM") &&
	    !strcmp(out, berth_env_get(&m->env, "TARGETPLATFORM", 14)))
		berth__lint_report(L, "RedundantTargetPlatform", true, n->start_line, n->end_line,
				   "remove --platform from the FROM line: the target platform is "
				   "the default",
				   "setting platform to predefined %s in FROM is redundant as this "
				   "is the default behavior",
				   platform);
	if (matched.n || unmatched.n || !*out)
		return;
	/* A constant: fine when the stage is named after its platform. */
	size_t oslen = strcspn(out, "/");
	_cleanup_free_ char *os = berth_xstrndup(out, oslen);
	const char *a = out + oslen + (out[oslen] == '/');
	_cleanup_free_ char *arch = berth_xstrndup(a, strcspn(a, "/"));
	if (stage && ((*os && strstr(stage, os)) || (*arch && strstr(stage, arch))))
		return;
	berth__lint_report(L, "FromPlatformFlagConstDisallowed", true, n->start_line, n->end_line,
			   "drop --platform (pass the platform to the build), use "
			   "--platform=$BUILDPLATFORM, or name the stage after the platform",
			   "FROM --platform flag should not use constant value \"%s\"", out);
}

static void invalid_default(struct berth__lint *L, const struct berth_df_node *n,
			    const struct meta *m)
{
	const char *image = n->args.v[0];
	if (!strchr(image, '$'))
		return;
	struct berth_shlex lx = {.escape = L->ast->escape,
				 .lookup = berth_shlex_env_lookup,
				 .lookup_ctx = (void *)&m->defaults};
	_cleanup_free_ char *out = NULL;
	bool bad = berth_shlex_word(&lx, image, &out, NULL) < 0 || !*out;
	if (!bad) {
		struct berth_ref ref;
		bad = berth_ref_parse(out, &ref, NULL) < 0;
		if (!bad)
			berth_ref_release(&ref);
	}
	if (!bad)
		return;
	/* The first variable the image uses, for the example. */
	const char *v = strchr(image, '$') + 1;
	v += *v == '{';
	size_t vlen = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
	_cleanup_free_ char *fix = berth_xasprintf(
	    "give the ARG a default that makes a valid image name: `ARG %.*s=<default>` before "
	    "the first FROM",
	    (int)vlen, v);
	berth__lint_report(L, "InvalidDefaultArgInFrom", true, n->start_line, n->end_line, fix,
			   "default value for ARG %s results in empty or invalid base image name",
			   image);
}

/* The comment line right above `line` (no blank line between), as text
 * after '#', or false. Parser directives at the top do not count. */
static bool comment_above(const struct berth__lint *L, int line, struct berth_sv *out)
{
	struct berth_sv l;
	if (line <= 1 || !berth__lint_text_line(L, line - 1, &l))
		return false;
	size_t i = 0;
	while (i < l.len && isspace((unsigned char)l.p[i]))
		i++;
	if (i == l.len || l.p[i] != '#')
		return false;
	/* A directive block is the run of comment lines from line 1. */
	bool directive = true;
	for (int k = 1; k < line && directive; k++) {
		struct berth_sv d;
		directive = berth__lint_text_line(L, k, &d) && d.len && d.p[0] == '#' &&
			    memchr(d.p, '=', d.len);
	}
	if (directive)
		return false;
	i++;
	while (i < l.len && isspace((unsigned char)l.p[i]))
		i++;
	*out = (struct berth_sv){l.p + i, l.len - i};
	return true;
}

static void definition_description(struct berth__lint *L, const struct berth_df_node *n,
				   const char *what, const struct berth_strv *names)
{
	struct berth_sv c;
	if (names->n == 0 || !comment_above(L, n->start_line, &c))
		return;
	size_t w = 0;
	while (w < c.len && !isspace((unsigned char)c.p[w]))
		w++;
	for (size_t i = 0; i < names->n; i++)
		if (strlen(names->v[i]) == w && !strncasecmp(c.p, names->v[i], w))
			return;
	const char *example = names->n > 1 ? "<arg_key>" : names->v[0];
	_cleanup_free_ char *fix = berth_xasprintf(
	    "start the comment with `# %s `, or put an empty line between it and the %s", example,
	    what);
	berth__lint_report(L, "InvalidDefinitionDescription", true, n->start_line, n->end_line, fix,
			   "comment for %s should follow the format: `# %s <description>`", what,
			   example);
}

static bool secret_token(const char *tok, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && !strncasecmp(tok, *list, n))
			return true;
	return false;
}

/* BuildKit's pattern: a '_'-separated part of the name is a secret word,
 * and no part is an allowed word. */
static bool looks_secret(const char *name)
{
	static const char *const deny[] = {"apikey", "auth",     "credential", "credentials",
					   "key",    "password", "pword",      "passwd",
					   "secret", "token",    NULL};
	static const char *const allow[] = {"public", "file", "version", NULL};
	bool hit = false;
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "_");
		if (secret_token(p, n, allow))
			return false;
		hit |= secret_token(p, n, deny);
		p += n + (p[n] == '_');
	}
	return hit;
}

static void secrets_in(struct berth__lint *L, const struct berth_df_node *n)
{
	bool arg = !strcmp(n->keyword, "arg");
	size_t step = arg ? 1 : 3;
	for (size_t i = 0; i < n->args.n; i += step) {
		const char *w = n->args.v[i];
		_cleanup_free_ char *key = berth_xstrndup(w, arg ? strcspn(w, "=") : strlen(w));
		if (!looks_secret(key))
			continue;
		_cleanup_free_ char *id = lower(key);
		_cleanup_free_ char *fix = berth_xasprintf(
		    "pass it as a build secret: `RUN --mount=type=secret,id=%s,env=%s ...` and "
		    "`berth build --secret id=%s,env=%s`",
		    id, key, id, key);
		berth__lint_report(
		    L, "SecretsUsedInArgOrEnv", true, n->start_line, n->end_line, fix,
		    "do not use ARG or ENV instructions for sensitive data (%s \"%s\")",
		    arg ? "ARG" : "ENV", key);
	}
}

static void legacy_kv(struct berth__lint *L, const struct berth_df_node *n)
{
	for (size_t i = 0; i + 2 < n->args.n; i += 3) {
		if (*n->args.v[i + 2])
			continue;
		const char *name = !strcmp(n->keyword, "env") ? "ENV" : "LABEL";
		_cleanup_free_ char *kv = berth__lint_kv_text(n->args.v[i], n->args.v[i + 1]);
		_cleanup_free_ char *fix = berth_xasprintf("write `%s %s`", name, kv);
		berth__lint_report(L, "LegacyKeyValueFormat", true, n->start_line, n->end_line, fix,
				   "\"%s key=value\" should be used instead of legacy \"%s key "
				   "value\" format",
				   name, name);
		return;
	}
}

static void casing(struct berth__lint *L)
{
	const struct berth_df_ast *ast = L->ast;
	size_t lowers = 0, uppers = 0;
	for (size_t i = 0; i < ast->n; i++) {
		struct berth_sv k = berth__lint_keyword(&ast->nodes[i]);
		if (is_lower(k))
			lowers++;
		else if (is_upper(k))
			uppers++;
	}
	bool majority_lower = lowers > uppers;
	for (size_t i = 0; i < ast->n; i++) {
		const struct berth_df_node *n = &ast->nodes[i];
		struct berth_sv k = berth__lint_keyword(n);
		if (majority_lower ? is_lower(k) : is_upper(k))
			continue;
		_cleanup_free_ char *up = upper_sv(k);
		_cleanup_free_ char *want = majority_lower ? lower(up) : berth_xstrdup(up);
		_cleanup_free_ char *fix = berth_xasprintf("write `%s`", want);
		berth__lint_report(L, "ConsistentInstructionCasing", true, n->start_line,
				   n->end_line, fix,
				   "command '%.*s' should match the case of the command majority "
				   "(%s)",
				   (int)k.len, k.p, majority_lower ? "lowercase" : "uppercase");
	}
}

static void empty_continuations(struct berth__lint *L)
{
	const struct berth_df_ast *ast = L->ast;
	for (size_t w = 0; w < ast->nwarnings; w++) {
		if (strcmp(ast->warnings[w].rule, "NoEmptyContinuation"))
			continue;
		for (size_t i = 0; i < ast->n; i++) {
			const struct berth_df_node *n = &ast->nodes[i];
			if (ast->warnings[w].line < n->start_line ||
			    ast->warnings[w].line > n->end_line)
				continue;
			int blank = 0;
			for (int l = n->start_line + 1; l <= n->end_line && !blank; l++) {
				struct berth_sv t;
				if (!berth__lint_text_line(L, l, &t))
					break;
				bool empty = true;
				for (size_t c = 0; c < t.len; c++)
					empty &= isspace((unsigned char)t.p[c]) != 0;
				if (empty)
					blank = l;
			}
			berth__lint_report(L, "NoEmptyContinuation", true, n->start_line,
					   n->end_line,
					   "delete the empty line, or end the line above without "
					   "a continuation",
					   "empty continuation line (line %d)",
					   blank ? blank : ast->warnings[w].line);
			break;
		}
	}
}

void berth__lint_buildkit_parse(struct berth__lint *L)
{
	const struct berth_df_ast *ast = L->ast;
	struct meta m = {0};
	meta_collect(ast, &m);
	_cleanup_strv_ struct berth_strv stages = BERTH_STRV_INIT;
	_cleanup_free_ int *stage_lines = berth_xcalloc(ast->n + 1, sizeof(int));

	empty_continuations(L);
	casing(L);
	for (size_t i = 0; i < ast->n; i++) {
		const struct berth_df_node *n = &ast->nodes[i];
		if (!strcmp(n->keyword, "maintainer")) {
			const char *who = n->args.n ? n->args.v[0] : "";
			_cleanup_free_ char *kv =
			    berth__lint_kv_text("org.opencontainers.image.authors", who);
			_cleanup_free_ char *fix = berth_xasprintf("write `LABEL %s`", kv);
			berth__lint_report(L, "MaintainerDeprecated", true, n->start_line,
					   n->end_line, fix,
					   "maintainer instruction is deprecated in favor of using "
					   "label");
			berth__lint_report(L, "DL4000", true, n->start_line, n->end_line, fix,
					   "MAINTAINER is deprecated");
		}
		if (!strcmp(n->keyword, "env") || !strcmp(n->keyword, "label"))
			legacy_kv(L, n);
		if (!strcmp(n->keyword, "env") || !strcmp(n->keyword, "arg"))
			secrets_in(L, n);
		if (!strcmp(n->keyword, "arg")) {
			_cleanup_strv_ struct berth_strv keys = BERTH_STRV_INIT;
			for (size_t k = 0; k < n->args.n; k++)
				berth_strv_push_owned(
				    &keys,
				    berth_xstrndup(n->args.v[k], strcspn(n->args.v[k], "=")));
			definition_description(L, n, "ARG", &keys);
		}
		if (strcmp(n->keyword, "from") || n->args.n == 0)
			continue;

		/* FROM [--platform=P] image [AS name] */
		const char *name = n->args.n == 3 ? n->args.v[2] : NULL;
		if (name) {
			struct berth_sv as = BERTH_SV(n->args.v[1]);
			struct berth_sv from = berth__lint_keyword(n);
			if ((is_lower(from) || is_upper(from)) && is_lower(from) != is_lower(as))
				berth__lint_report(
				    L, "FromAsCasing", true, n->start_line, n->end_line,
				    is_lower(from) ? "write `as` in lowercase, like `from`"
						   : "write `AS` in uppercase, like `FROM`",
				    "'%s' and '%.*s' keywords' casing do not match", n->args.v[1],
				    (int)from.len, from.p);
			_cleanup_free_ char *low = lower(name);
			if (strcmp(low, name)) {
				_cleanup_free_ char *fix = berth_xasprintf("write `AS %s`", low);
				berth__lint_report(L, "StageNameCasing", true, n->start_line,
						   n->end_line, fix,
						   "stage name '%s' should be lowercase", name);
			}
			if (!strcmp(low, "scratch") || !strcmp(low, "context")) {
				berth__lint_report(L, "ReservedStageName", true, n->start_line,
						   n->end_line,
						   "rename the stage: 'scratch' and 'context' mean "
						   "the empty image and the build context",
						   "stage name should not use the same name as "
						   "reserved stage \"%s\"",
						   low);
			}
			for (size_t s = 0; s < stages.n; s++) {
				if (strcmp(stages.v[s], low))
					continue;
				_cleanup_free_ char *fix = berth_xasprintf(
				    "rename one of the two stages (the first is at line %d)",
				    stage_lines[s]);
				berth__lint_report(
				    L, "DuplicateStageName", true, n->start_line, n->end_line, fix,
				    "duplicate stage name \"%s\", stage names should be "
				    "unique",
				    low);
				berth__lint_report(L, "DL3024", true, n->start_line, n->end_line,
						   fix, "stage name \"%s\" is used twice", low);
				break;
			}
			stage_lines[stages.n] = n->start_line;
			berth_strv_push(&stages, low);
			_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
			berth_strv_push(&names, low);
			definition_description(L, n, "FROM", &names);
		}
		undefined_in_from(L, n, n->args.v[0], &m);
		invalid_default(L, n, &m);
		const char *platform = platform_flag(n);
		if (platform) {
			undefined_in_from(L, n, platform, &m);
			platform_rules(L, n, platform, name, &m);
		}
	}
	meta_release(&m);
}

/* --- rules on the typed stages --- */

/* Is a SHELL instruction in effect before instruction `upto` of stage s
 * (its own or one of the stages it builds on)? */
static bool shell_set(const struct berth_df_file *f, int s, size_t upto)
{
	for (; s >= 0; s = f->stages[s].base_stage, upto = (size_t)-1) {
		const struct berth_df_stage *st = &f->stages[s];
		for (size_t i = 0; i < st->n && i < upto; i++)
			if (st->instrs[i].kind == BERTH_DF_SHELL)
				return true;
	}
	return false;
}

/* A JSON exec form for a shell-form command, when it is simple words. */
static char *exec_form_fix(const char *kind, const char *cmd)
{
	if (strpbrk(cmd, "&|;<>$`(){}*?"))
		return berth_xasprintf("use the exec form, e.g. `%s [\"/app/start.sh\"]` with the "
				       "shell logic in that script (ending in `exec ...`)",
				       kind);
	_cleanup_strv_ struct berth_strv w = BERTH_STRV_INIT;
	struct berth_shlex lx = {.escape = '\\', .skip_unset = true};
	if (berth_shlex_words(&lx, cmd, &w, NULL) < 0 || w.n == 0)
		return berth_xasprintf("use the exec form: `%s [\"program\", \"arg\"]`", kind);
	_cleanup_json_ json_t *arr = json_array();
	for (size_t i = 0; i < w.n; i++)
		json_array_append_new(arr, json_string(w.v[i]));
	_cleanup_free_ char *j = json_dumps(arr, JSON_COMPACT);
	/* jansson's compact form has no spaces; Dockerfiles usually do. */
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	berth_buf_addf(&b, "use the exec form: `%s ", kind);
	bool in_str = false;
	for (const char *p = j; *p; p++) {
		berth_buf_addch(&b, *p);
		if (*p == '"' && (p == j || p[-1] != '\\'))
			in_str = !in_str;
		if (*p == ',' && !in_str)
			berth_buf_addch(&b, ' ');
	}
	berth_buf_addch(&b, '`');
	return berth_buf_steal(&b, NULL);
}

static void json_args(struct berth__lint *L, int s)
{
	const struct berth_df_stage *st = &L->file->stages[s];
	for (size_t i = 0; i < st->n; i++) {
		const struct berth_df_instr *in = &st->instrs[i];
		if ((in->kind != BERTH_DF_CMD && in->kind != BERTH_DF_ENTRYPOINT) || in->json ||
		    in->args.n == 0)
			continue;
		const char *kind = berth_df_kind_name(in->kind);
		_cleanup_free_ char *fix = exec_form_fix(kind, in->args.v[0]);
		if (!shell_set(L->file, s, i))
			berth__lint_report(
			    L, "JSONArgsRecommended", true, in->line, in->end_line, fix,
			    "JSON arguments recommended for %s to prevent unintended "
			    "behavior related to OS signals",
			    kind);
		berth__lint_report(L, "DL3025", true, in->line, in->end_line, fix,
				   "use the JSON (exec) form for %s", kind);
	}
}

static void multiple_instructions(struct berth__lint *L, const struct berth_df_stage *st)
{
	static const struct {
		enum berth_df_kind kind;
		const char *twin;
	} once[] = {
	    {BERTH_DF_CMD, "DL4003"},
	    {BERTH_DF_ENTRYPOINT, "DL4004"},
	    {BERTH_DF_HEALTHCHECK, "DL3012"},
	};
	for (size_t k = 0; k < BERTH_ARRAY_SIZE(once); k++) {
		const struct berth_df_instr *prev = NULL;
		for (size_t i = 0; i < st->n; i++) {
			const struct berth_df_instr *in = &st->instrs[i];
			if (in->kind != once[k].kind)
				continue;
			if (prev) {
				const char *name = berth_df_kind_name(in->kind);
				_cleanup_free_ char *fix = berth_xasprintf(
				    "delete this %s: the one at line %d replaces it", name,
				    in->line);
				berth__lint_report(
				    L, "MultipleInstructionsDisallowed", true, prev->line,
				    prev->end_line, fix,
				    "multiple %s instructions should not be used in the "
				    "same stage because only the last one will be used",
				    name);
				berth__lint_report(
				    L, once[k].twin, true, prev->line, prev->end_line, fix,
				    "multiple %s instructions: only the last one (line "
				    "%d) takes effect",
				    name, in->line);
			}
			prev = in;
		}
	}
}

static void workdirs(struct berth__lint *L)
{
	const struct berth_df_file *f = L->file;
	_cleanup_free_ bool *abs_set = berth_xcalloc(f->n, sizeof(bool));
	for (size_t s = 0; s < f->n; s++) {
		const struct berth_df_stage *st = &f->stages[s];
		bool set = st->base_stage >= 0 && abs_set[st->base_stage];
		for (size_t i = 0; i < st->n; i++) {
			const struct berth_df_instr *in = &st->instrs[i];
			if (in->kind != BERTH_DF_WORKDIR)
				continue;
			const char *raw = in->node->args.n ? in->node->args.v[0] : "";
			const char *v = in->args.n ? in->args.v[0] : "";
			if (v[0] == '/') {
				set = true;
				continue;
			}
			if (!*v && strchr(raw, '$'))
				continue; /* an undefined variable: UndefinedVar says so */
			_cleanup_free_ char *fix =
			    berth_xasprintf("use an absolute path: `WORKDIR %s`",
					    in->resolved ? in->resolved : "/app");
			if (!set)
				berth__lint_report(
				    L, "WorkdirRelativePath", true, in->line, in->end_line, fix,
				    "relative workdir \"%s\" can have unexpected results "
				    "if the base image changes",
				    v);
			if (raw[0] != '$')
				berth__lint_report(L, "DL3000", true, in->line, in->end_line, fix,
						   "use absolute WORKDIR: \"%s\" is relative", v);
		}
		abs_set[s] = set;
	}
}

/* --- UndefinedVar --- */

struct var_scope {
	struct berth_strv names; /* defined so far */
};

static const char *scope_lookup(void *ctx, const char *name, size_t len)
{
	const struct berth_strv *names = ctx;
	for (size_t i = 0; i < names->n; i++)
		if (strlen(names->v[i]) == len && !memcmp(names->v[i], name, len))
			return "";
	return NULL;
}

/* Every use of $name in word has a default or alternative (${name:-x},
 * ${name+x}, ...): the writer expected it to be unset. */
static bool only_guarded(const char *word, const char *name)
{
	size_t n = strlen(name);
	bool any = false;
	for (const char *p = word; (p = strchr(p, '$')); p++) {
		bool brace = p[1] == '{';
		const char *q = p + 1 + brace;
		if (strncmp(q, name, n) || isalnum((unsigned char)q[n]) || q[n] == '_')
			continue;
		any = true;
		if (!brace)
			return false;
		const char *op = q + n;
		if (*op == ':')
			op++;
		if (*op != '-' && *op != '+' && *op != '?')
			return false;
	}
	return any;
}

/* Is `name` set by an ENV or ARG after instruction i of its stage? */
static bool defined_later(const struct berth_df_stage *st, size_t i, const char *name)
{
	for (size_t j = i + 1; j < st->n; j++) {
		const struct berth_df_instr *in = &st->instrs[j];
		if (in->kind != BERTH_DF_ENV && in->kind != BERTH_DF_ARG)
			continue;
		for (size_t k = 0; k < in->nkvs; k++)
			if (!strcmp(in->kvs[k].key, name))
				return true;
	}
	return false;
}

/* Variables a shell sets for itself: no image config sets them, and the
 * builder, which expands without a shell, never has them. */
static bool shell_only(const char *name)
{
	static const char *const names[] = {"PWD",  "OLDPWD", "RANDOM", "LINENO",  "SECONDS",
					    "PPID", "UID",    "EUID",   "BASHPID", "BASH_VERSION",
					    "IFS",  "PS1",    NULL};
	for (const char *const *p = names; *p; p++)
		if (!strcmp(name, *p))
			return true;
	return false;
}

static void check_word(struct berth__lint *L, size_t s, size_t i, const char *word,
		       const struct berth_strv *names, bool base_known, struct berth_strv *reported,
		       bool *skipped)
{
	if (!strchr(word, '$'))
		return;
	const struct berth_df_instr *in = &L->file->stages[s].instrs[i];
	_cleanup_strv_ struct berth_strv unmatched = BERTH_STRV_INIT;
	struct berth_shlex lx = {.escape = L->file->ast.escape,
				 .lookup = scope_lookup,
				 .lookup_ctx = (void *)names,
				 .unmatched = &unmatched};
	_cleanup_free_ char *out = NULL;
	if (berth_shlex_word(&lx, word, &out, NULL) < 0)
		return;
	for (size_t u = 0; u < unmatched.n; u++) {
		const char *v = unmatched.v[u];
		if (berth_strv_contains(reported, v) || only_guarded(word, v))
			continue;
		const char *s_name = berth__lint_suggest(v, names);
		bool later = defined_later(&L->file->stages[s], i, v);
		bool shell = shell_only(v);
		if (!base_known && !later && !s_name && !shell) {
			*skipped = true;
			continue;
		}
		berth_strv_push(reported, v);
		_cleanup_free_ char *fix =
		    shell
			? berth_xasprintf("write the value out: the builder expands $%s without a "
					  "shell, so it is empty (for the directory, use the "
					  "WORKDIR path)",
					  v)
		    : s_name ? berth_xasprintf("use $%s, or define $%s before line %d", s_name, v,
					       in->line)
		    : later  ? berth_xasprintf("move the ARG or ENV that sets %s above line %d", v,
					       in->line)
			     : berth_xasprintf("define it before line %d: `ARG %s` or `ENV %s=...`",
					       in->line, v, v);
		berth__lint_report(L, "UndefinedVar", true, in->line, in->end_line, fix,
				   "usage of undefined variable '$%s'%s%s%s", v,
				   s_name ? " (did you mean $" : "", s_name ? s_name : "",
				   s_name ? "?)" : "");
	}
}

static void undefined_vars(struct berth__lint *L)
{
	const struct berth_df_file *f = L->file;
	struct berth_strv *final_names = berth_xcalloc(f->n, sizeof(*final_names));
	bool *known = berth_xcalloc(f->n, sizeof(bool));
	_cleanup_strv_ struct berth_strv unknown_bases = BERTH_STRV_INIT;
	for (size_t s = 0; s < f->n; s++) {
		const struct berth_df_stage *st = &f->stages[s];
		_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
		bool base_known = true;
		if (st->base_stage >= 0) {
			berth_strv_copy(&names, &final_names[st->base_stage]);
			base_known = known[st->base_stage];
		} else if (!st->scratch) {
			_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
			base_known = L->opt->base_env &&
				     L->opt->base_env(L->opt->base_env_ctx, st->base, &env) == 0;
			for (size_t k = 0; k < env.n; k++)
				berth_strv_push_owned(
				    &names, berth_xstrndup(env.v[k], strcspn(env.v[k], "=")));
		}
		berth_strv_push(&names, "PATH");
		bool skipped = false;
		_cleanup_strv_ struct berth_strv reported = BERTH_STRV_INIT;
		for (size_t i = 0; i < st->n; i++) {
			const struct berth_df_instr *in = &st->instrs[i];
			const struct berth_df_node *n = in->node;
			switch (in->kind) {
			case BERTH_DF_ENV:
			case BERTH_DF_LABEL:
				for (size_t k = 0; k + 2 < n->args.n; k += 3) {
					check_word(L, s, i, n->args.v[k], &names, base_known,
						   &reported, &skipped);
					check_word(L, s, i, n->args.v[k + 1], &names, base_known,
						   &reported, &skipped);
				}
				break;
			case BERTH_DF_ARG:
				for (size_t k = 0; k < n->args.n; k++)
					if (strchr(n->args.v[k], '='))
						check_word(L, s, i, strchr(n->args.v[k], '=') + 1,
							   &names, base_known, &reported, &skipped);
				break;
			case BERTH_DF_WORKDIR:
			case BERTH_DF_USER:
			case BERTH_DF_STOPSIGNAL:
			case BERTH_DF_EXPOSE:
			case BERTH_DF_VOLUME:
			case BERTH_DF_COPY:
			case BERTH_DF_ADD:
				for (size_t k = 0; k < n->args.n; k++)
					if (strncmp(n->args.v[k], "<<", 2))
						check_word(L, s, i, n->args.v[k], &names,
							   base_known, &reported, &skipped);
				break;
			default:
				break;
			}
			if (in->kind == BERTH_DF_ENV || in->kind == BERTH_DF_ARG)
				for (size_t k = 0; k < in->nkvs; k++)
					if (!berth_strv_contains(&names, in->kvs[k].key))
						berth_strv_push(&names, in->kvs[k].key);
		}
		if (skipped && !berth_strv_contains(&unknown_bases, st->base))
			berth_strv_push(&unknown_bases, st->base);
		berth_strv_copy(&final_names[s], &names);
		known[s] = base_known;
	}
	for (size_t i = 0; i < unknown_bases.n; i++)
		berth_strv_pushf(
		    &L->out->notes,
		    "UndefinedVar: the environment of '%s' is unknown (not in the local "
		    "store), so variables it may set were not reported",
		    unknown_bases.v[i]);
	for (size_t s = 0; s < f->n; s++)
		berth_strv_release(&final_names[s]);
	free(final_names);
	free(known);
}

static void expose_rules(struct berth__lint *L, const struct berth_df_instr *in)
{
	for (size_t i = 0; i < in->args.n; i++) {
		const char *p = in->args.v[i];
		if (strchr(p, ':')) {
			const char *port = strrchr(p, ':') + 1;
			_cleanup_free_ char *fix = berth_xasprintf(
			    "write `EXPOSE %s`; publishing to the host is not the image's job",
			    port);
			berth__lint_report(L, "ExposeInvalidFormat", true, in->line, in->end_line,
					   fix,
					   "EXPOSE instruction should not define an IP address or "
					   "host-port mapping, found '%s'",
					   p);
		}
		const char *slash = strchr(p, '/');
		if (slash && !is_lower(BERTH_SV(slash + 1))) {
			_cleanup_free_ char *low = lower(p);
			_cleanup_free_ char *fix = berth_xasprintf("write `EXPOSE %s`", low);
			berth__lint_report(L, "ExposeProtoCasing", true, in->line, in->end_line,
					   fix,
					   "defined protocol '%s' in EXPOSE instruction should be "
					   "lowercase",
					   p);
		}
	}
}

/* Clean a context path as BuildKit does before matching .dockerignore. */
static char *clean_source(const char *src)
{
	_cleanup_strv_ struct berth_strv parts = BERTH_STRV_INIT;
	_cleanup_free_ char *copy = berth_xstrdup(src);
	for (char *save = NULL, *t = strtok_r(copy, "/", &save); t;
	     t = strtok_r(NULL, "/", &save)) {
		if (!strcmp(t, "."))
			continue;
		if (!strcmp(t, "..")) {
			if (parts.n) {
				free(parts.v[--parts.n]);
				parts.v[parts.n] = NULL;
			}
			continue;
		}
		berth_strv_push(&parts, t);
	}
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < parts.n; i++)
		berth_buf_addf(&b, "%s%s", i ? "/" : "", parts.v[i]);
	if (b.len == 0)
		berth_buf_addch(&b, '.');
	return berth_buf_steal(&b, NULL);
}

static void copy_ignored(struct berth__lint *L, const struct berth_df_instr *in)
{
	if (!L->opt->ignored || in->from)
		return;
	for (size_t i = 0; i < in->args.n; i++) {
		const char *src = in->args.v[i];
		if (!strncmp(src, "<<", 2) || strstr(src, "://") || !strncmp(src, "git@", 4))
			continue;
		_cleanup_free_ char *p = clean_source(src);
		if (!L->opt->ignored(L->opt->ignored_ctx, p))
			continue;
		const char *cmd = in->kind == BERTH_DF_ADD ? "Add" : "Copy";
		_cleanup_free_ char *fix = berth_xasprintf(
		    "remove '%s' from .dockerignore (or add `!%s`), or stop copying it", p, p);
		berth__lint_report(L, "CopyIgnoredFile", true, in->line, in->end_line, fix,
				   "attempting to %s file \"%s\" that is excluded by .dockerignore",
				   cmd, p);
	}
}

void berth__lint_buildkit_model(struct berth__lint *L)
{
	const struct berth_df_file *f = L->file;
	for (size_t s = 0; s < f->n; s++) {
		const struct berth_df_stage *st = &f->stages[s];
		json_args(L, (int)s);
		multiple_instructions(L, st);
		for (size_t i = 0; i < st->n; i++) {
			const struct berth_df_instr *in = &st->instrs[i];
			if (in->kind == BERTH_DF_EXPOSE)
				expose_rules(L, in);
			if (in->kind == BERTH_DF_COPY || in->kind == BERTH_DF_ADD)
				copy_ignored(L, in);
		}
	}
	workdirs(L);
	undefined_vars(L);
}
