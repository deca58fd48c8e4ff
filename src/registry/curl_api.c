/* The libcurl table of curl_api.h, filled by dlopen() on first use. */
#define BERTH_CURL_API_IMPL 1
#include "registry/curl_api.h"

#include "common/dl.h"

#include <pthread.h>
#include <string.h>

BERTH_DL_TABLE(berth__curl_api, berth__curl, BERTH_CURL_FUNCTIONS, "libcurl.so.4", "libcurl4")
