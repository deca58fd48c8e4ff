/* The libmicrohttpd table of mhd_api.h, filled by dlopen() on first use. */
#define BERTH_MHD_API_IMPL 1
#include "server/mhd_api.h"

#include "common/dl.h"

#include <pthread.h>
#include <string.h>

static struct berth__mhd_api api;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	static const char *const names[] = {
#define BERTH__NAME(name) #name,
	    BERTH_MHD_FUNCTIONS(BERTH__NAME)
#undef BERTH__NAME
	};
	enum { N = sizeof(names) / sizeof(names[0]) };
	_Static_assert(sizeof(api) == N * sizeof(void *), "one pointer per function");
	void *slots[N];
	berth_dl_load("libmicrohttpd.so.12", "libmicrohttpd12", names, slots, N);
	memcpy(&api, slots, sizeof(api));
}

const struct berth__mhd_api *berth__mhd(void)
{
	pthread_once(&once, load);
	return &api;
}
