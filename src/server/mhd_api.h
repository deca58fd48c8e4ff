/* libmicrohttpd through a table loaded on first use (common/dl.h explains
 * why: it brings a dozen libraries, gnutls among them, that most berth
 * commands never need). Include this instead of <microhttpd.h>. */
#ifndef BERTH_SERVER_MHD_API_H
#define BERTH_SERVER_MHD_API_H

#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#define BERTH_MHD_FUNCTIONS(X)               \
	X(MHD_add_connection)                \
	X(MHD_add_response_header)           \
	X(MHD_create_response_from_buffer)   \
	X(MHD_create_response_from_callback) \
	X(MHD_destroy_response)              \
	X(MHD_get_connection_values)         \
	X(MHD_get_connection_values_n)       \
	X(MHD_get_daemon_info)               \
	X(MHD_lookup_connection_value)       \
	X(MHD_queue_response)                \
	X(MHD_start_daemon)                  \
	X(MHD_stop_daemon)

struct berth__mhd_api {
#define BERTH__SLOT(name) __typeof__(name) *name;
	BERTH_MHD_FUNCTIONS(BERTH__SLOT)
#undef BERTH__SLOT
};

/* The table, loaded on the first call (aborts if libmicrohttpd is missing). */
const struct berth__mhd_api *berth__mhd(void);

#ifndef BERTH_MHD_API_IMPL
#define MHD_add_connection                (berth__mhd()->MHD_add_connection)
#define MHD_add_response_header           (berth__mhd()->MHD_add_response_header)
#define MHD_create_response_from_buffer   (berth__mhd()->MHD_create_response_from_buffer)
#define MHD_create_response_from_callback (berth__mhd()->MHD_create_response_from_callback)
#define MHD_destroy_response              (berth__mhd()->MHD_destroy_response)
#define MHD_get_connection_values         (berth__mhd()->MHD_get_connection_values)
#define MHD_get_connection_values_n       (berth__mhd()->MHD_get_connection_values_n)
#define MHD_get_daemon_info               (berth__mhd()->MHD_get_daemon_info)
#define MHD_lookup_connection_value       (berth__mhd()->MHD_lookup_connection_value)
#define MHD_queue_response                (berth__mhd()->MHD_queue_response)
#define MHD_start_daemon                  (berth__mhd()->MHD_start_daemon)
#define MHD_stop_daemon                   (berth__mhd()->MHD_stop_daemon)
#endif

#endif
