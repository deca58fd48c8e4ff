/* libyaml through a table loaded on first use (common/dl.h explains why).
 * Include this instead of <yaml.h>. */
#ifndef BERTH_APP_YAML_API_H
#define BERTH_APP_YAML_API_H

#include <yaml.h>

#define BERTH_YAML_FUNCTIONS(X)   \
	X(yaml_event_delete)      \
	X(yaml_parser_delete)     \
	X(yaml_parser_initialize) \
	X(yaml_parser_parse)      \
	X(yaml_parser_set_input_string)

struct berth__yaml_api {
#define BERTH__SLOT(name) __typeof__(name) *name;
	BERTH_YAML_FUNCTIONS(BERTH__SLOT)
#undef BERTH__SLOT
};

/* The table, loaded on the first call (aborts if the library is missing). */
const struct berth__yaml_api *berth__yaml(void);

#ifndef BERTH_YAML_API_IMPL
#define yaml_event_delete            (berth__yaml()->yaml_event_delete)
#define yaml_parser_delete           (berth__yaml()->yaml_parser_delete)
#define yaml_parser_initialize       (berth__yaml()->yaml_parser_initialize)
#define yaml_parser_parse            (berth__yaml()->yaml_parser_parse)
#define yaml_parser_set_input_string (berth__yaml()->yaml_parser_set_input_string)
#endif

#endif
