/* What a stage's base brings before its first instruction, BuildKit's way:
 * the base image's ENV, which expansion in the stage sees (`WORKDIR $APP`),
 * and ONBUILD triggers (an image's config OnBuild, or an earlier stage's own
 * ONBUILD instructions), each parsed and expanded as if written right after
 * the FROM. Both are put into the Dockerfile's text after the FROM line (the
 * ENV as one instruction the builder skips) and the text is loaded again,
 * so they get the front end's whole treatment (ARG scope, expansion, --from
 * stages, which may pull in more stages and more triggers: the loop runs
 * until no stage gains any). */
#include "build/build_int.h"
#include "dockerfile/dockerfile.h"

#include <ctype.h>
#include <stdlib.h>
#include <strings.h>

/* One insertion: n lines after line `at` (the FROM's last line) of the
 * text as it was then; the FROM starts at from_line. */
struct splice {
	int at, from_line, n;
};

struct splices {
	struct splice *v;
	size_t n;
};

/* A line of the spliced text back to the Dockerfile's: a trigger's lines
 * become its FROM's. */
static int line_back(const struct splices *sp, int line)
{
	for (size_t i = sp->n; i-- > 0;) {
		const struct splice *s = &sp->v[i];
		if (line > s->at + s->n)
			line -= s->n;
		else if (line > s->at)
			line = s->from_line;
	}
	return line;
}

static void map_lines(struct berth_df_file *f, const struct splices *sp)
{
	for (size_t i = 0; i < f->n; i++) {
		struct berth_df_stage *s = &f->stages[i];
		s->line = line_back(sp, s->line);
		for (size_t k = 0; k < s->n; k++) {
			s->instrs[k].line = line_back(sp, s->instrs[k].line);
			s->instrs[k].end_line = line_back(sp, s->instrs[k].end_line);
		}
	}
}

/* The AST node of stage idx's FROM. */
static const struct berth_df_node *from_node(const struct berth_df_file *f, size_t idx)
{
	size_t k = 0;
	for (size_t i = 0; i < f->ast.n; i++)
		if (!strcmp(f->ast.nodes[i].keyword, "from") && k++ == idx)
			return &f->ast.nodes[i];
	return NULL;
}

/* A trigger must be one instruction, and not one ONBUILD cannot hold. */
static int check_trigger(const char *t, const char *whose, struct berth_err **err)
{
	struct berth_df_ast ast;
	struct berth_err *e = NULL;
	if (berth_df_parse(t, strlen(t), &ast, &e) < 0) {
		int r = berth_err_set(err, BERTH_E_INVALID, "ONBUILD trigger '%s' of %s: %s", t,
				      whose, e ? e->msg : "cannot be parsed");
		berth_err_free(e);
		return r;
	}
	int r = 0;
	if (ast.n != 1)
		r = berth_err_set(err, BERTH_E_INVALID,
				  "ONBUILD trigger '%s' of %s should be a single instruction", t,
				  whose);
	else if (!strcmp(ast.nodes[0].keyword, "onbuild"))
		r = berth_err_set(err, BERTH_E_INVALID,
				  "ONBUILD trigger '%s' of %s: chaining ONBUILD via 'ONBUILD "
				  "ONBUILD' isn't allowed",
				  t, whose);
	else if (!strcmp(ast.nodes[0].keyword, "from") ||
		 !strcmp(ast.nodes[0].keyword, "maintainer"))
		r = berth_err_set(err, BERTH_E_INVALID,
				  "ONBUILD trigger '%s' of %s: %s isn't allowed as an ONBUILD "
				  "trigger",
				  t, whose, ast.nodes[0].keyword[0] == 'f' ? "FROM" : "MAINTAINER");
	berth_df_ast_release(&ast);
	return r;
}

/* The image's Env as one ENV instruction for the front end, each value in
 * double quotes with `"`, `$` and the escape character escaped, so that it
 * stays as it is; NULL when none can be written (a name that is not one, a
 * value with a line break: those are left out). */
static char *env_line(const struct berth_strv *env, char escape)
{
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&b, "ENV");
	size_t n = 0;
	for (size_t i = 0; i < env->n; i++) {
		const char *kv = env->v[i], *eq = strchr(kv, '=');
		if (!eq || eq == kv || strpbrk(eq + 1, "\r\n"))
			continue;
		bool name_ok = true;
		for (const char *c = kv; c < eq; c++)
			name_ok &= isalnum((unsigned char)*c) || *c == '_';
		if (!name_ok)
			continue;
		berth_buf_addf(&b, " %.*s=\"", (int)(eq - kv), kv);
		for (const char *c = eq + 1; *c; c++) {
			if (*c == '"' || *c == '$' || *c == escape)
				berth_buf_addch(&b, escape);
			berth_buf_addch(&b, *c);
		}
		berth_buf_addch(&b, '"');
		n++;
	}
	return n ? berth_buf_steal(&b, NULL) : NULL;
}

/* Insert the lines after the FROM node in text (a buffer of the whole
 * Dockerfile); the splice made is recorded. */
static void splice_in(struct berth_buf *text, const struct berth_df_node *from,
		      const struct berth_strv *triggers, struct splices *sp)
{
	/* The byte after the FROM's last line. */
	size_t off = 0;
	for (int line = 1; line <= from->end_line && off < text->len; line++) {
		const char *nl = memchr(text->data + off, '\n', text->len - off);
		off = nl ? (size_t)(nl - text->data) + 1 : text->len;
	}
	_cleanup_buf_ struct berth_buf ins;
	berth_buf_init(&ins, BERTH_BUF_UNLIMITED);
	if (off == text->len && text->len && text->data[text->len - 1] != '\n')
		berth_buf_addch(&ins, '\n');
	int n = 0;
	for (size_t i = 0; i < triggers->n; i++) {
		berth_buf_addf(&ins, "%s\n", triggers->v[i]);
		for (const char *p = triggers->v[i]; *p; p++)
			n += *p == '\n';
		n++;
	}
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	berth_buf_add(&out, text->data, off);
	berth_buf_add(&out, ins.data, ins.len);
	berth_buf_add(&out, text->data + off, text->len - off);
	berth_buf_reset(text);
	berth_buf_add(text, out.data, out.len);
	sp->v = berth_xrealloc(sp->v, (sp->n + 1) * sizeof(*sp->v));
	sp->v[sp->n++] = (struct splice){from->end_line, from->start_line, n};
}

int berth__df_load_onbuild(const char *dockerfile, size_t len, const struct berth_df_options *opt,
			   berth__base_fn fn, void *ctx, struct berth_df_file *out, size_t **skip,
			   struct berth_err **err)
{
	_cleanup_buf_ struct berth_buf text;
	berth_buf_init(&text, BERTH_BUF_UNLIMITED);
	berth_buf_add(&text, dockerfile, len);
	struct splices sp = {0};
	_cleanup_free_ bool *seen = NULL;
	*skip = NULL;
	int r = berth_df_load(text.data, text.len, opt, out, err);
	/* Warnings name lines: the Dockerfile's own, from the first load. */
	struct berth_strv warnings = BERTH_STRV_INIT;
	if (r == 0) {
		seen = berth_xcalloc(out->n + 1, sizeof(*seen));
		*skip = berth_xcalloc(out->n + 1, sizeof(**skip));
		berth_strv_copy(&warnings, &out->warnings);
	}
	for (bool again = r == 0; again;) {
		again = false;
		for (size_t k = 0; k < out->norder && !again; k++) {
			int idx = out->order[k];
			const struct berth_df_stage *sg = &out->stages[idx];
			if (seen[idx] || sg->scratch)
				continue;
			seen[idx] = true;
			_cleanup_strv_ struct berth_strv trig = BERTH_STRV_INIT,
							 env = BERTH_STRV_INIT,
							 lines = BERTH_STRV_INIT;
			_cleanup_free_ char *whose = NULL;
			if (sg->base_stage >= 0) {
				/* The stage's ENV reaches this one through the
				 * front end already. */
				const struct berth_df_stage *base = &out->stages[sg->base_stage];
				for (size_t i = 0; i < base->n; i++)
					if (base->instrs[i].kind == BERTH_DF_ONBUILD &&
					    base->instrs[i].args.n)
						berth_strv_push(&trig, base->instrs[i].args.v[0]);
				whose = base->name ? berth_xasprintf("stage '%s'", base->name)
						   : berth_xasprintf("stage %d", sg->base_stage);
			} else {
				whose = berth_xasprintf("image '%s'", sg->base);
				if ((r = fn(ctx, sg->base, &env, &trig, err)) < 0) {
					berth_err_prefix(err, "FROM '%s'", sg->base);
					if (err && *err && !(*err)->line)
						(*err)->line = line_back(&sp, sg->line);
					break;
				}
			}
			for (size_t i = 0; r == 0 && i < trig.n; i++)
				r = check_trigger(trig.v[i], whose, err);
			if (r < 0) {
				if (err && *err)
					(*err)->line = line_back(&sp, sg->line);
				break;
			}
			char *e = env_line(&env, out->ast.escape);
			if (e)
				berth_strv_push_owned(&lines, e);
			for (size_t i = 0; i < trig.n; i++)
				berth_strv_push(&lines, trig.v[i]);
			if (!lines.n)
				continue;
			const struct berth_df_node *from = from_node(out, (size_t)idx);
			if (!from) {
				r = berth_err_set(err, BERTH_E_INTERNAL, "stage %d has no FROM",
						  idx);
				break;
			}
			int from_line = sg->line;
			splice_in(&text, from, &lines, &sp);
			(*skip)[idx] = e ? 1 : 0;
			berth_df_file_release(out);
			if ((r = berth_df_load(text.data, text.len, opt, out, err)) < 0) {
				berth_err_prefix(err, "%s of %s",
						 e && !trig.n ? "the ENV" : "ONBUILD triggers",
						 whose);
				if (err && *err)
					(*err)->line =
					    line_back(&sp, (*err)->line ? (*err)->line : from_line);
				break;
			}
			again = true;
		}
		if (r < 0)
			break;
	}
	if (r == 0) {
		map_lines(out, &sp);
		berth_strv_release(&out->warnings);
		out->warnings = warnings;
	} else {
		berth_strv_release(&warnings);
		free(*skip);
		*skip = NULL;
	}
	free(sp.v);
	return r;
}
