/* libsodium through a table loaded on first use (common/dl.h explains
 * why). Include this instead of <sodium.h>. */
#ifndef BERTH_SECRETS_SODIUM_API_H
#define BERTH_SECRETS_SODIUM_API_H

#include <sodium.h>

#define BERTH_SODIUM_FUNCTIONS(X)     \
	X(crypto_secretbox_easy)      \
	X(crypto_secretbox_open_easy) \
	X(randombytes_buf)            \
	X(randombytes_random)         \
	X(sodium_free)                \
	X(sodium_init)                \
	X(sodium_malloc)              \
	X(sodium_memzero)             \
	X(sodium_mprotect_readonly)

struct berth__sodium_api {
#define BERTH__SLOT(name) __typeof__(name) *name;
	BERTH_SODIUM_FUNCTIONS(BERTH__SLOT)
#undef BERTH__SLOT
};

/* The table, loaded on the first call (aborts if the library is missing). */
const struct berth__sodium_api *berth__sodium(void);

#ifndef BERTH_SODIUM_API_IMPL
#define crypto_secretbox_easy      (berth__sodium()->crypto_secretbox_easy)
#define crypto_secretbox_open_easy (berth__sodium()->crypto_secretbox_open_easy)
#define randombytes_buf            (berth__sodium()->randombytes_buf)
#define randombytes_random         (berth__sodium()->randombytes_random)
#define sodium_free                (berth__sodium()->sodium_free)
#define sodium_init                (berth__sodium()->sodium_init)
#define sodium_malloc              (berth__sodium()->sodium_malloc)
#define sodium_memzero             (berth__sodium()->sodium_memzero)
#define sodium_mprotect_readonly   (berth__sodium()->sodium_mprotect_readonly)
#endif

#endif
