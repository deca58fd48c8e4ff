/* The libmicrohttpd table of mhd_api.h, filled by dlopen() on first use. */
#define BERTH_MHD_API_IMPL 1
#include "server/mhd_api.h"

#include "common/dl.h"

#include <pthread.h>
#include <string.h>

BERTH_DL_TABLE(berth__mhd_api, berth__mhd, BERTH_MHD_FUNCTIONS, "libmicrohttpd.so.12",
	       "libmicrohttpd12")
