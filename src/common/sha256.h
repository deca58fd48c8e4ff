/* SHA-256 through OpenSSL's libcrypto (SHA-NI where the CPU has it), one-shot
 * and streaming, with "sha256:<hex>" digest helpers. */
#ifndef BERTH_COMMON_SHA256_H
#define BERTH_COMMON_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BERTH_SHA256_LEN     32
#define BERTH_SHA256_HEX_LEN 64
#define BERTH_DIGEST_LEN     (7 + BERTH_SHA256_HEX_LEN) /* "sha256:" + hex */

struct berth_sha256 {
	void *ctx; /* EVP_MD_CTX *, owned */
};

void berth_sha256_init(struct berth_sha256 *h);
void berth_sha256_update(struct berth_sha256 *h, const void *data, size_t len);
/* Finish into raw bytes; releases the context (init again to reuse). */
void berth_sha256_final(struct berth_sha256 *h, uint8_t out[BERTH_SHA256_LEN]);
/* Finish into "sha256:<64 hex>" + NUL. */
void berth_sha256_final_digest(struct berth_sha256 *h, char out[BERTH_DIGEST_LEN + 1]);
void berth_sha256_release(struct berth_sha256 *h);

void berth_sha256(const void *data, size_t len, uint8_t out[BERTH_SHA256_LEN]);
/* 64 lower-case hex chars + NUL. */
void berth_sha256_hex(const void *data, size_t len, char out[BERTH_SHA256_HEX_LEN + 1]);
/* True when s is exactly "sha256:" followed by 64 lower-case hex digits. */
bool berth_digest_valid(const char *s);

#endif
