/* Libraries loaded on first use. berth links libcurl and libarchive (and
 * through them some forty more libraries) but most commands never call
 * them: `berth container run` of a stored image needs neither. Loading them
 * at exec cost about 5 ms of every start on the machines we measured, so
 * the modules that use them resolve their functions through a table filled
 * by dlopen() the first time one is called (see registry/curl_api.h and
 * image/archive_api.h). The same for libmicrohttpd (the servers), libcrypto
 * (SHA-256, base64), libsodium (the secret store) and libyaml (berth.yaml):
 * together 1.4 ms of every exec here, and a container start needs none. */
#ifndef BERTH_COMMON_DL_H
#define BERTH_COMMON_DL_H

#include <stddef.h>

/* Open `soname` and resolve names[0..n) into slots[0..n). A declared
 * dependency that cannot be loaded is an installation fault, like the
 * dynamic loader refusing to start a binary: print what is missing and
 * which Debian package provides it, then abort. Thread-safe when called
 * through pthread_once, as the tables do. */
void berth_dl_load(const char *soname, const char *package, const char *const *names, void **slots,
		   size_t n);

/* Define a library's table in its *_api.c: the table (struct T, one
 * pointer per function of the X-macro list FUNCS, declared in the *_api.h),
 * its loader, and `const struct T *ACCESSOR(void)`, which loads it once
 * (pthread_once) and returns it. The .c includes <pthread.h> and
 * <string.h>. */
#define BERTH__DL_NAME(name) #name,
#define BERTH_DL_TABLE(T, ACCESSOR, FUNCS, SONAME, PACKAGE)                         \
	static struct T berth__dl_api;                                              \
	static pthread_once_t berth__dl_once = PTHREAD_ONCE_INIT;                   \
	static void berth__dl_fill(void)                                            \
	{                                                                           \
		static const char *const names[] = {FUNCS(BERTH__DL_NAME)};         \
		enum { N = sizeof(names) / sizeof(names[0]) };                      \
		_Static_assert(sizeof(berth__dl_api) == N * sizeof(void *),         \
			       "one pointer per function");                         \
		void *slots[N];                                                     \
		berth_dl_load(SONAME, PACKAGE, names, slots, N);                    \
		/* dlsym returns object pointers; POSIX guarantees they convert. */ \
		memcpy(&berth__dl_api, slots, sizeof(berth__dl_api));               \
	}                                                                           \
	const struct T *ACCESSOR(void)                                              \
	{                                                                           \
		pthread_once(&berth__dl_once, berth__dl_fill);                      \
		return &berth__dl_api;                                              \
	}

#endif
