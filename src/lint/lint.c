/* The lint run: parse and load the Dockerfile with the front end, merge the
 * configuration (options, `# check=`, install_last), split every RUN into
 * shell commands once, run the rule groups, then drop findings whose twin
 * rule reported the same line and sort what is left. */
#include "lint/lint_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <strings.h>

void berth_lint_result_release(struct berth_lint_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->findings[i].message);
		free(r->findings[i].fix);
	}
	free(r->findings);
	berth_strv_release(&r->notes);
	memset(r, 0, sizeof(*r));
}

size_t berth_lint_count(const struct berth_lint_result *r, enum berth_lint_severity s)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->findings[i].severity == s;
	return n;
}

bool berth_lint_failed(const struct berth_lint_result *r, bool strict)
{
	return berth_lint_count(r, BERTH_LINT_ERROR) > 0 || (strict && r->n + r->dropped > 0);
}

bool berth__lint_enabled(const struct berth__lint *L, const char *rule)
{
	const struct berth_lint_rule *r = berth_lint_rule_find(rule);
	if (!r)
		BUG("lint rule '%s' is not in the table", rule);
	if (berth_strv_contains(&L->cfg.skip, "all") || berth_strv_contains(&L->cfg.skip, rule))
		return false;
	if (r->experimental && !berth_strv_contains(&L->cfg.experimental, "all") &&
	    !berth_strv_contains(&L->cfg.experimental, rule))
		return false;
	return true;
}

void berth__lint_report(struct berth__lint *L, const char *rule, bool sure, int line, int end_line,
			const char *fix, const char *fmt, ...)
{
	const struct berth_lint_rule *r = berth_lint_rule_find(rule);
	if (!r)
		BUG("lint rule '%s' is not in the table", rule);
	if (!berth__lint_enabled(L, rule))
		return;
	enum berth_lint_severity sev = r->severity;
	if (!sure && sev == BERTH_LINT_ERROR)
		sev = BERTH_LINT_WARNING;
	if (L->cfg.error_all && sev == BERTH_LINT_WARNING)
		sev = BERTH_LINT_ERROR;
	if (berth_strv_contains(&L->cfg.info, rule))
		sev = BERTH_LINT_INFO;
	if (berth_strv_contains(&L->cfg.warning, rule))
		sev = BERTH_LINT_WARNING;
	if (berth_strv_contains(&L->cfg.error, rule))
		sev = BERTH_LINT_ERROR;
	struct berth_lint_result *o = L->out;
	if (o->n >= BERTH_LINT_MAX_FINDINGS) {
		o->dropped++;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	char *msg = berth_xvasprintf(fmt, ap);
	va_end(ap);
	o->findings = berth_xgrow(o->findings, sizeof(*o->findings), o->n + 1, &o->cap);
	o->findings[o->n++] = (struct berth_lint_finding){
	    .rule = r->id,
	    .severity = sev,
	    .line = line,
	    .end_line = end_line >= line ? end_line : line,
	    .message = msg,
	    .fix = berth_xstrdup(fix ? fix : ""),
	};
}

const struct berth_df_stage *berth__lint_target(const struct berth__lint *L)
{
	return &L->file->stages[L->file->target];
}

const struct berth__sh_script *berth__lint_script(const struct berth__lint *L, size_t stage,
						  size_t instr)
{
	if (!L->scripts || L->file->stages[stage].instrs[instr].kind != BERTH_DF_RUN)
		return NULL;
	return &L->scripts[stage][instr];
}

bool berth__lint_text_line(const struct berth__lint *L, int line, struct berth_sv *out)
{
	const char *p = L->text, *end = L->text + L->len;
	for (int i = 1; p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if (i == line) {
			size_t n = (size_t)(eol - p);
			if (n && p[n - 1] == '\r')
				n--;
			*out = (struct berth_sv){p, n};
			return true;
		}
		p = nl ? nl + 1 : end;
	}
	return false;
}

struct berth_sv berth__lint_keyword(const struct berth_df_node *node)
{
	const char *p = node->original;
	while (isspace((unsigned char)*p))
		p++;
	size_t n = 0;
	while (p[n] && !isspace((unsigned char)p[n]))
		n++;
	return (struct berth_sv){p, n};
}

/* Levenshtein distance, capped: anything over `cap` returns cap + 1. */
static size_t distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b);
	if ((la > lb ? la - lb : lb - la) > cap || la > 64 || lb > 64)
		return cap + 1;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t sub = diag + (a[i - 1] != b[j - 1]);
			size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
			row[j] = sub < best ? sub : best;
			diag = up;
		}
	}
	return row[lb];
}

const char *berth__lint_suggest(const char *name, const struct berth_strv *names)
{
	const char *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; i < names->n; i++) {
		const char *c = names->v[i];
		if (!strcmp(c, name))
			continue;
		if (!strcasecmp(c, name))
			return c;
		/* Short names are too easy to confuse: "A" is one edit from "B". */
		size_t d = strlen(name) > 3 ? distance(name, c, 2) : 3;
		if (d < best_d) {
			best_d = d;
			best = c;
		}
	}
	return best;
}

char *berth__lint_kv_text(const char *key, const char *value)
{
	bool quote = !*value || strpbrk(value, " \t\"'\\$") != NULL;
	if (!quote)
		return berth_xasprintf("%s=%s", key, value);
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	berth_buf_addf(&b, "%s=\"", key);
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			berth_buf_addch(&b, '\\');
		berth_buf_addch(&b, *p);
	}
	berth_buf_addch(&b, '"');
	return berth_buf_steal(&b, NULL);
}

/* The line of the `# check=` directive (directives open the file). */
static int directive_line(const char *text, size_t len)
{
	int line = 1;
	for (const char *p = text, *end = text + len; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *s = p;
		while (s < eol && isspace((unsigned char)*s))
			s++;
		if (s == eol || *s != '#')
			break;
		for (s++; s < eol && isspace((unsigned char)*s);)
			s++;
		if ((size_t)(eol - s) >= 5 && !strncasecmp(s, "check", 5))
			return line;
		p = nl ? nl + 1 : end;
	}
	return 1;
}

static int rule_index(const char *id)
{
	return (int)(berth_lint_rule_find(id) - berth__lint_rule_table);
}

/* qsort has no context: findings carry their emission order in .line's
 * tie-break through this side array. */
struct sort_item {
	struct berth_lint_finding f;
	size_t seq;
};

static int cmp_findings(const void *a, const void *b)
{
	const struct sort_item *x = a, *y = b;
	if (x->f.line != y->f.line)
		return x->f.line < y->f.line ? -1 : 1;
	int rx = rule_index(x->f.rule), ry = rule_index(y->f.rule);
	if (rx != ry)
		return rx < ry ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Keep one finding per problem: a rule whose twin reported the same line
 * gives way to it. Then sort by line. */
static void settle(struct berth_lint_result *o)
{
	size_t n = 0;
	bool *shadowed = berth_xcalloc(o->n ? o->n : 1, sizeof(bool));
	for (size_t i = 0; i < o->n; i++) {
		const struct berth_lint_finding *f = &o->findings[i];
		const struct berth_lint_rule *r = berth_lint_rule_find(f->rule);
		for (size_t j = 0; r->twin && j < o->n && !shadowed[i]; j++)
			shadowed[i] =
			    o->findings[j].line == f->line && !strcmp(o->findings[j].rule, r->twin);
	}
	for (size_t i = 0; i < o->n; i++)
		if (shadowed[i]) {
			free(o->findings[i].message);
			free(o->findings[i].fix);
		}
	struct sort_item *items = berth_xcalloc(o->n ? o->n : 1, sizeof(*items));
	for (size_t i = 0; i < o->n; i++)
		if (!shadowed[i]) {
			items[n].f = o->findings[i];
			items[n].seq = i;
			n++;
		}
	qsort(items, n, sizeof(*items), cmp_findings);
	for (size_t i = 0; i < n; i++)
		o->findings[i] = items[i].f;
	o->n = n;
	free(items);
	free(shadowed);
}

static void prepare_model(struct berth__lint *L)
{
	const struct berth_df_file *f = L->file;
	L->in_final = berth_xcalloc(f->n, sizeof(*L->in_final));
	for (int s = f->target; s >= 0; s = f->stages[s].base_stage)
		L->in_final[s] = true;
	L->scripts = berth_xcalloc(f->n, sizeof(*L->scripts));
	for (size_t s = 0; s < f->n; s++) {
		const struct berth_df_stage *st = &f->stages[s];
		L->scripts[s] = berth_xcalloc(st->n ? st->n : 1, sizeof(**L->scripts));
		for (size_t i = 0; i < st->n; i++)
			berth__sh_script_of_run(&st->instrs[i], &L->scripts[s][i]);
	}
}

static void release_model(struct berth__lint *L)
{
	if (L->scripts)
		for (size_t s = 0; s < L->file->n; s++) {
			for (size_t i = 0; i < L->file->stages[s].n; i++)
				berth__sh_script_release(&L->scripts[s][i]);
			free(L->scripts[s]);
		}
	free(L->scripts);
	free(L->in_final);
	L->scripts = NULL;
	L->in_final = NULL;
}

static void copy_config(struct berth_lint_config *dst, const struct berth_lint_config *src)
{
	berth_strv_copy(&dst->skip, &src->skip);
	berth_strv_copy(&dst->error, &src->error);
	berth_strv_copy(&dst->warning, &src->warning);
	berth_strv_copy(&dst->info, &src->info);
	berth_strv_copy(&dst->experimental, &src->experimental);
	berth_strv_copy(&dst->install_last, &src->install_last);
	dst->error_all = src->error_all;
}

int berth_lint_dockerfile(const char *text, size_t len, const struct berth_lint_opts *opts,
			  struct berth_lint_result *out, struct berth_err **err)
{
	static const struct berth_lint_opts defaults = {0};
	const struct berth_lint_opts *o = opts ? opts : &defaults;
	memset(out, 0, sizeof(*out));

	struct berth_df_ast ast;
	int r = berth_df_parse(text, len, &ast, err);
	if (r < 0)
		return r;
	struct berth__lint L = {.opt = o, .text = text, .len = len, .ast = &ast, .out = out};
	berth_lint_config_init(&L.cfg);
	if (o->config)
		copy_config(&L.cfg, o->config);
	if (ast.check && (r = berth_lint_check_directive(ast.check, &L.cfg, err)) < 0) {
		if (err && *err)
			(*err)->line = directive_line(text, len);
		goto out;
	}
	for (size_t i = 0; o->install_last && i < o->install_last->n; i++)
		if (!berth_strv_contains(&L.cfg.install_last, o->install_last->v[i]))
			berth_strv_push(&L.cfg.install_last, o->install_last->v[i]);

	berth__lint_buildkit_parse(&L);

	struct berth_df_options dopt = {.build_args = o->build_args, .target = o->target};
	struct berth_df_file file;
	struct berth_err *lerr = NULL;
	if (berth_df_load(text, len, &dopt, &file, &lerr) == 0) {
		L.file = &file;
		prepare_model(&L);
		berth__lint_buildkit_model(&L);
		berth__lint_instructions(&L);
		berth__lint_packages(&L);
		berth__lint_berth(&L);
		release_model(&L);
		berth_df_file_release(&file);
	} else {
		int line = lerr->line > 0 ? lerr->line : ast.start_line;
		bool explained = false;
		for (size_t i = 0; i < out->n; i++)
			explained |= out->findings[i].line == line &&
				     out->findings[i].severity == BERTH_LINT_ERROR;
		if (!explained)
			berth__lint_report(&L, "berth/invalid", true, line, line,
					   "fix the instruction; 'berth dockerfile parse --json' "
					   "reports the same error",
					   "%s", lerr->msg);
		berth_strv_pushf(&out->notes,
				 "rules that need the typed stages did not run: line %d: %s", line,
				 lerr->msg);
		berth_err_free(lerr);
	}
	settle(out);
	r = 0;
out:
	berth_lint_config_release(&L.cfg);
	berth_df_ast_release(&ast);
	if (r < 0)
		berth_lint_result_release(out);
	return r;
}
