/* The stage graph: which stages each stage reads from (FROM <stage>,
 * COPY --from, RUN --mount from=), the target, and the stages the target
 * needs in a build order with dependencies first. Unneeded stages are left
 * out, as BuildKit does. */
#include "dockerfile/dockerfile_int.h"

#include <stdlib.h>
#include <strings.h>

static void add_dep(struct berth_df_stage *s, int dep)
{
	if (dep < 0)
		return;
	size_t i = 0;
	while (i < s->ndeps && s->deps[i] < dep)
		i++;
	if (i < s->ndeps && s->deps[i] == dep)
		return;
	s->deps = berth_xrealloc(s->deps, (s->ndeps + 1) * sizeof(int));
	memmove(s->deps + i + 1, s->deps + i, (s->ndeps - i) * sizeof(int));
	s->deps[i] = dep;
	s->ndeps++;
}

enum { WHITE, GREY, BLACK };

/* Depth-first, dependencies before dependants. A grey node reached again
 * is a cycle. */
static int visit(struct berth_df_file *f, int i, char *color, struct berth_err **err)
{
	if (color[i] == BLACK)
		return 0;
	struct berth_df_stage *s = &f->stages[i];
	if (color[i] == GREY)
		return berth_err_set_line(err, BERTH_E_INVALID, s->line,
					  "circular dependency detected on stage: %s",
					  s->name ? s->name : "(unnamed)");
	color[i] = GREY;
	for (size_t d = 0; d < s->ndeps; d++)
		if (visit(f, s->deps[d], color, err) < 0)
			return -BERTH_E_INVALID;
	color[i] = BLACK;
	f->order[f->norder++] = i;
	return 0;
}

static int find_target(const struct berth_df_file *f, const char *target, struct berth_err **err)
{
	if (!target || !*target)
		return (int)f->n - 1;
	for (size_t i = 0; i < f->n; i++)
		if (f->stages[i].name && !strcasecmp(f->stages[i].name, target))
			return (int)i;
	struct berth_buf names;
	berth_buf_init(&names, 4096);
	for (size_t i = 0; i < f->n; i++)
		if (f->stages[i].name)
			berth_buf_addf(&names, "%s%s", names.len ? ", " : "", f->stages[i].name);
	int r = berth_err_set(err, BERTH_E_NOT_FOUND,
			      "target stage '%s' could not be found (named stages: %s)", target,
			      names.len ? names.data : "none");
	berth_buf_release(&names);
	return r;
}

int berth__df_stage_graph(struct berth_df_file *f, const char *target, struct berth_err **err)
{
	for (size_t i = 0; i < f->n; i++) {
		struct berth_df_stage *s = &f->stages[i];
		add_dep(s, s->base_stage);
		for (size_t j = 0; j < s->n; j++) {
			const struct berth_df_instr *in = &s->instrs[j];
			add_dep(s, in->from_stage);
			for (size_t m = 0; m < in->nmounts; m++)
				add_dep(s, in->mounts[m].from_stage);
		}
	}
	int t = find_target(f, target, err);
	if (t < 0)
		return t;
	f->target = t;
	f->order = berth_xcalloc(f->n, sizeof(int));
	_cleanup_free_ char *color = berth_xcalloc(f->n, 1);
	return visit(f, t, color, err);
}
