/* JSON through jansson: loading with size caps and clear errors, and the
 * canonical form (sorted keys, compact) used wherever bytes are hashed. */
#ifndef BERTH_COMMON_JSON_H
#define BERTH_COMMON_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define BERTH_JSON_MAX (16u << 20) /* a JSON document read from outside */

/* Parse `len` bytes (at most BERTH_JSON_MAX). `what` names the document in
 * errors ("manifest 'sha256:..'": line 3: ..."). Returns a new reference or
 * NULL with *err set. */
json_t *berth_json_loadb(const char *data, size_t len, const char *what, struct berth_err **err);

/* Canonical bytes: keys sorted, no whitespace; appended to out. */
int berth_json_dump_canonical(const json_t *j, struct berth_buf *out);
/* Human form: two-space indent, keys in insertion order, trailing newline. */
int berth_json_dump_pretty(const json_t *j, struct berth_buf *out);

/* Typed getters on objects: NULL / def when missing or of another type. */
const char *berth_json_str(const json_t *obj, const char *key);

static inline void berth__json_decrefp(json_t **j)
{
	if (*j)
		json_decref(*j);
}
#define _cleanup_json_ __attribute__((cleanup(berth__json_decrefp)))

#endif
