/* The libsodium table of sodium_api.h, filled by dlopen() on first use. */
#define BERTH_SODIUM_API_IMPL 1
#include "secrets/sodium_api.h"

#include "common/dl.h"

#include <pthread.h>
#include <string.h>

BERTH_DL_TABLE(berth__sodium_api, berth__sodium, BERTH_SODIUM_FUNCTIONS, "libsodium.so.23",
	       "libsodium23")
