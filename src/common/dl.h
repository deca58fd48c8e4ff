/* Libraries loaded on first use. berth links libcurl and libarchive (and
 * through them some forty more libraries) but most commands never call
 * them: `berth container run` of a stored image needs neither. Loading them
 * at exec cost about 5 ms of every start on the machines we measured, so
 * the modules that use them resolve their functions through a table filled
 * by dlopen() the first time one is called (see registry/curl_api.h and
 * image/archive_api.h). */
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

#endif
