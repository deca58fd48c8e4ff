/* The http-parser table of hp_api.h, filled by dlopen() on first use. */
#define BERTH_HP_API_IMPL 1
#include "server/hp_api.h"

#include "common/dl.h"

#include <pthread.h>
#include <string.h>

BERTH_DL_TABLE(berth__hp_api, berth__hp, BERTH_HP_FUNCTIONS, "libhttp_parser.so.2.9",
	       "libhttp-parser2.9")
