/* Findings as text lines and as JSON, built as data: the CLI (or a server
 * answering an API call) decides where they go. */
#include "lint/lint_int.h"

void berth_lint_format_text(const struct berth_lint_result *r, const char *file,
			    struct berth_buf *out)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct berth_lint_finding *f = &r->findings[i];
		berth_buf_addf(out, "%s:%d: %s: %s %s", file, f->line,
			       berth_lint_severity_name(f->severity), f->rule, f->message);
		if (*f->fix)
			berth_buf_addf(out, " (fix: %s)", f->fix);
		berth_buf_addch(out, '\n');
	}
}

static void count(struct berth_buf *out, size_t n, const char *one, const char *many, bool *first)
{
	if (!n)
		return;
	berth_buf_addf(out, "%s%zu %s", *first ? ": " : ", ", n, n == 1 ? one : many);
	*first = false;
}

void berth_lint_format_summary(const struct berth_lint_result *r, struct berth_buf *out)
{
	size_t total = r->n + r->dropped;
	berth_buf_addf(out, "%zu finding%s", total, total == 1 ? "" : "s");
	bool first = true;
	count(out, berth_lint_count(r, BERTH_LINT_ERROR), "error", "errors", &first);
	count(out, berth_lint_count(r, BERTH_LINT_WARNING), "warning", "warnings", &first);
	count(out, berth_lint_count(r, BERTH_LINT_INFO), "info", "info", &first);
	if (r->dropped)
		berth_buf_addf(out, " (%zu not shown: over %u)", r->dropped,
			       BERTH_LINT_MAX_FINDINGS);
}

/* A JSON string of s; bytes that are not UTF-8 (a Dockerfile may hold any)
 * become '?'. */
static json_t *text(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	_cleanup_free_ char *copy = berth_xstrdup(s);
	for (char *c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	return json_string(copy);
}

json_t *berth_lint_to_json(const struct berth_lint_result *r, const char *file)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const struct berth_lint_finding *f = &r->findings[i];
		json_t *o = json_object();
		json_object_set_new(o, "file", text(file));
		json_object_set_new(o, "rule", json_string(f->rule));
		json_object_set_new(o, "severity",
				    json_string(berth_lint_severity_name(f->severity)));
		json_object_set_new(o, "line", json_integer(f->line));
		json_object_set_new(o, "end_line", json_integer(f->end_line));
		json_object_set_new(o, "message", text(f->message));
		json_object_set_new(o, "fix", text(f->fix));
		json_array_append_new(arr, o);
	}
	return arr;
}
