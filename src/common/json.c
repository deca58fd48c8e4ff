/* JSON through jansson: capped loading with errors that name the document and
 * the position, and the canonical (sorted, compact) and pretty dump forms. */
#include "common/common.h"

json_t *berth_json_loadb(const char *data, size_t len, const char *what, struct berth_err **err)
{
	if (!what)
		what = "json";
	if (len > BERTH_JSON_MAX) {
		berth_err_set(err, BERTH_E_LIMIT, "%s is larger than the limit of %u bytes", what,
			      BERTH_JSON_MAX);
		return NULL;
	}
	json_error_t je;
	json_t *j = json_loadb(data, len, 0, &je);
	if (!j) {
		if (je.line > 0)
			berth_err_set_line(err, BERTH_E_INVALID, je.line,
					   "%s: line %d column %d: %s", what, je.line, je.column,
					   je.text);
		else
			berth_err_set(err, BERTH_E_INVALID, "%s: %s", what, je.text);
	}
	return j;
}

static int json_dump_to_buf(const char *p, size_t n, void *data)
{
	return berth_buf_add(data, p, n);
}

/* Dump with jansson's flags; on failure (buffer cap) out is left as it was. */
static int json_dump(const json_t *j, size_t flags, bool newline, struct berth_buf *out)
{
	size_t start = out->len;
	bool was_full = out->full;
	if (json_dump_callback(j, json_dump_to_buf, out, flags | JSON_ENCODE_ANY) == 0 &&
	    (!newline || berth_buf_addch(out, '\n') == 0))
		return 0;
	out->len = start;
	if (out->cap)
		out->data[start] = '\0';
	out->full = was_full || out->full;
	return -1;
}

int berth_json_dump_canonical(const json_t *j, struct berth_buf *out)
{
	return json_dump(j, JSON_SORT_KEYS | JSON_COMPACT, false, out);
}

int berth_json_dump_pretty(const json_t *j, struct berth_buf *out)
{
	return json_dump(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER, true, out);
}

const char *berth_json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}
