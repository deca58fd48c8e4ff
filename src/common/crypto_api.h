/* libcrypto through a table loaded on first use (common/dl.h explains
 * why). Include this instead of the <openssl/...> headers. */
#ifndef BERTH_COMMON_CRYPTO_API_H
#define BERTH_COMMON_CRYPTO_API_H

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define BERTH_CRYPTO_FUNCTIONS(X) \
	X(CRYPTO_memcmp)          \
	X(EVP_DecodeBlock)        \
	X(EVP_DigestFinal_ex)     \
	X(EVP_DigestInit_ex)      \
	X(EVP_DigestUpdate)       \
	X(EVP_MD_CTX_free)        \
	X(EVP_MD_CTX_new)         \
	X(EVP_sha256)             \
	X(OPENSSL_cleanse)

struct berth__crypto_api {
#define BERTH__SLOT(name) __typeof__(name) *name;
	BERTH_CRYPTO_FUNCTIONS(BERTH__SLOT)
#undef BERTH__SLOT
};

/* The table, loaded on the first call (aborts if the library is missing). */
const struct berth__crypto_api *berth__crypto(void);

#ifndef BERTH_CRYPTO_API_IMPL
#define CRYPTO_memcmp      (berth__crypto()->CRYPTO_memcmp)
#define EVP_DecodeBlock    (berth__crypto()->EVP_DecodeBlock)
#define EVP_DigestFinal_ex (berth__crypto()->EVP_DigestFinal_ex)
#define EVP_DigestInit_ex  (berth__crypto()->EVP_DigestInit_ex)
#define EVP_DigestUpdate   (berth__crypto()->EVP_DigestUpdate)
#define EVP_MD_CTX_free    (berth__crypto()->EVP_MD_CTX_free)
#define EVP_MD_CTX_new     (berth__crypto()->EVP_MD_CTX_new)
#define EVP_sha256         (berth__crypto()->EVP_sha256)
#define OPENSSL_cleanse    (berth__crypto()->OPENSSL_cleanse)
#endif

#endif
