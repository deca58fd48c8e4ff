/* The libarchive table of archive_api.h, filled by dlopen() on first use. */
#define BERTH_ARCHIVE_API_IMPL 1
#include "image/archive_api.h"

#include "common/dl.h"

#include <pthread.h>
#include <string.h>

static struct berth__archive_api api;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	static const char *const names[] = {
#define BERTH__NAME(name) #name,
	    BERTH_ARCHIVE_FUNCTIONS(BERTH__NAME)
#undef BERTH__NAME
	};
	enum { N = sizeof(names) / sizeof(names[0]) };
	_Static_assert(sizeof(api) == N * sizeof(void *), "one pointer per function");
	void *slots[N];
	berth_dl_load("libarchive.so.13", "libarchive13", names, slots, N);
	/* dlsym returns object pointers; POSIX guarantees they convert. */
	memcpy(&api, slots, sizeof(api));
}

const struct berth__archive_api *berth__archive(void)
{
	pthread_once(&once, load);
	return &api;
}
