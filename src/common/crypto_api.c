/* The libcrypto table of crypto_api.h, filled by dlopen() on first use. */
#define BERTH_CRYPTO_API_IMPL 1
#include "common/crypto_api.h"

#include "common/dl.h"

#include <pthread.h>
#include <string.h>

BERTH_DL_TABLE(berth__crypto_api, berth__crypto, BERTH_CRYPTO_FUNCTIONS, "libcrypto.so.3",
	       "libssl3")
