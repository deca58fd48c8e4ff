/* The libcurl table of curl_api.h, filled by dlopen() on first use. */
#define BERTH_CURL_API_IMPL 1
#include "registry/curl_api.h"

#include "common/dl.h"

#include <pthread.h>
#include <string.h>

static struct berth__curl_api api;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	static const char *const names[] = {
#define BERTH__NAME(name) #name,
	    BERTH_CURL_FUNCTIONS(BERTH__NAME)
#undef BERTH__NAME
	};
	enum { N = sizeof(names) / sizeof(names[0]) };
	_Static_assert(sizeof(api) == N * sizeof(void *), "one pointer per function");
	void *slots[N];
	berth_dl_load("libcurl.so.4", "libcurl4", names, slots, N);
	/* dlsym returns object pointers; POSIX guarantees they convert. */
	memcpy(&api, slots, sizeof(api));
}

const struct berth__curl_api *berth__curl(void)
{
	pthread_once(&once, load);
	return &api;
}
