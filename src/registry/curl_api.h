/* libcurl through a table loaded on first use (common/dl.h explains why).
 * Include this instead of <curl/curl.h>: each curl_* name below becomes a
 * call through the table, with the exact type curl.h declares. */
#ifndef BERTH_REGISTRY_CURL_API_H
#define BERTH_REGISTRY_CURL_API_H

/* The type-checking macros of curl.h would hide the functions' types. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#define BERTH_CURL_FUNCTIONS(X)     \
	X(curl_easy_cleanup)        \
	X(curl_easy_escape)         \
	X(curl_easy_getinfo)        \
	X(curl_easy_init)           \
	X(curl_easy_perform)        \
	X(curl_easy_reset)          \
	X(curl_easy_setopt)         \
	X(curl_easy_strerror)       \
	X(curl_free)                \
	X(curl_getdate)             \
	X(curl_global_init)         \
	X(curl_multi_add_handle)    \
	X(curl_multi_cleanup)       \
	X(curl_multi_info_read)     \
	X(curl_multi_init)          \
	X(curl_multi_perform)       \
	X(curl_multi_poll)          \
	X(curl_multi_remove_handle) \
	X(curl_multi_strerror)      \
	X(curl_slist_append)        \
	X(curl_slist_free_all)

struct berth__curl_api {
#define BERTH__SLOT(name) __typeof__(name) *name;
	BERTH_CURL_FUNCTIONS(BERTH__SLOT)
#undef BERTH__SLOT
};

/* The table, loaded on the first call (aborts if libcurl is missing). */
const struct berth__curl_api *berth__curl(void);

#ifndef BERTH_CURL_API_IMPL
/* curl.h's own call-shape macros for these two give way to the table. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_cleanup        (berth__curl()->curl_easy_cleanup)
#define curl_easy_escape         (berth__curl()->curl_easy_escape)
#define curl_easy_getinfo        (berth__curl()->curl_easy_getinfo)
#define curl_easy_init           (berth__curl()->curl_easy_init)
#define curl_easy_perform        (berth__curl()->curl_easy_perform)
#define curl_easy_reset          (berth__curl()->curl_easy_reset)
#define curl_easy_setopt         (berth__curl()->curl_easy_setopt)
#define curl_easy_strerror       (berth__curl()->curl_easy_strerror)
#define curl_free                (berth__curl()->curl_free)
#define curl_getdate             (berth__curl()->curl_getdate)
#define curl_global_init         (berth__curl()->curl_global_init)
#define curl_multi_add_handle    (berth__curl()->curl_multi_add_handle)
#define curl_multi_cleanup       (berth__curl()->curl_multi_cleanup)
#define curl_multi_info_read     (berth__curl()->curl_multi_info_read)
#define curl_multi_init          (berth__curl()->curl_multi_init)
#define curl_multi_perform       (berth__curl()->curl_multi_perform)
#define curl_multi_poll          (berth__curl()->curl_multi_poll)
#define curl_multi_remove_handle (berth__curl()->curl_multi_remove_handle)
#define curl_multi_strerror      (berth__curl()->curl_multi_strerror)
#define curl_slist_append        (berth__curl()->curl_slist_append)
#define curl_slist_free_all      (berth__curl()->curl_slist_free_all)
#endif

#endif
