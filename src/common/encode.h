/* Text encodings of bytes: hex and base64, and random tokens in hex or as
 * a UUID. Encoding is written here (a few lines each) rather than through
 * libcrypto because the container start path uses it and libcrypto is
 * loaded only on first use (common/dl.h); decoding base64 stays with
 * libcrypto (registry/). */
#ifndef BERTH_COMMON_ENCODE_H
#define BERTH_COMMON_ENCODE_H

#include <stddef.h>

#include "common/err.h"

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void berth_hex_encode(const void *p, size_t n, char *out);

/* Standard base64 with padding; a new string (free()). */
char *berth_base64_encode(const void *data, size_t len);

/* `bytes` random bytes (getrandom) as hex into out (2 * bytes + 1). At most
 * 64 bytes. */
int berth_random_hex(size_t bytes, char *out, struct berth_err **err);

/* A random (version 4) UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
void berth_random_uuid(char out[37]);
/* The same text of 16 bytes of the caller's (their version and variant
 * bits set in b first). */
void berth_uuid_format(unsigned char b[16], char out[37]);

#endif
