/* http-parser (nodejs/http-parser, Debian's libhttp-parser2.9) through a
 * table loaded on first use (common/dl.h explains why). The gateway's relay
 * (relay.c) parses request heads and the runners' answers with it. Include
 * this instead of <http_parser.h>. */
#ifndef BERTH_SERVER_HP_API_H
#define BERTH_SERVER_HP_API_H

#include <http_parser.h>

#define BERTH_HP_FUNCTIONS(X)     \
	X(http_parser_execute)    \
	X(http_parser_init)       \
	X(http_parser_pause)      \
	X(http_should_keep_alive) \
	X(http_errno_description)

struct berth__hp_api {
#define BERTH__SLOT(name) __typeof__(name) *name;
	BERTH_HP_FUNCTIONS(BERTH__SLOT)
#undef BERTH__SLOT
};

/* The table, loaded on the first call (aborts if the library is missing). */
const struct berth__hp_api *berth__hp(void);

#ifndef BERTH_HP_API_IMPL
#define http_parser_execute    (berth__hp()->http_parser_execute)
#define http_parser_init       (berth__hp()->http_parser_init)
#define http_parser_pause      (berth__hp()->http_parser_pause)
#define http_should_keep_alive (berth__hp()->http_should_keep_alive)
#define http_errno_description (berth__hp()->http_errno_description)
#endif

#endif
