/* The libarchive table of archive_api.h, filled by dlopen() on first use. */
#define BERTH_ARCHIVE_API_IMPL 1
#include "image/archive_api.h"

#include "common/dl.h"

#include <pthread.h>
#include <string.h>

BERTH_DL_TABLE(berth__archive_api, berth__archive, BERTH_ARCHIVE_FUNCTIONS, "libarchive.so.13",
	       "libarchive13")
