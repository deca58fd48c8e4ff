/* Fuzz target: berth.yaml through libyaml, the line table and the one
 * validator. Must never crash, leak or read out of bounds; what loads must
 * round-trip through the canonical JSON unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "app/app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *canonical(const struct berth_app_spec *s)
{
	json_t *j = berth_app_to_json(s);
	char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct berth_err *err = NULL;
	struct berth_app_spec s;
	if (berth_app_parse_yaml((const char *)data, size, "/", "fuzz", &s, &err) < 0) {
		berth_err_free(err);
		return 0;
	}
	char *first = canonical(&s);
	json_t *j = berth_app_to_json(&s);
	struct berth_app_spec back;
	if (berth_app_from_json(j, s.dir, &back, &err) < 0)
		abort(); /* to_json wrote something from_json refuses */
	char *second = canonical(&back);
	if (strcmp(first, second))
		abort(); /* the round trip changed the spec */
	free(first);
	free(second);
	json_decref(j);
	berth_app_spec_release(&back);
	berth_app_spec_release(&s);
	return 0;
}
