/* SHA-256 through OpenSSL's EVP interface (which picks SHA-NI or the best
 * assembly for the CPU), and the "sha256:<hex>" digest form used for blobs. */
#include "common/common.h"

#include "common/crypto_api.h"

void berth_sha256_init(struct berth_sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		berth_oom();
	/* SHA-256 is always in the default provider; failing here means
	 * libcrypto itself is broken, not the input. */
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		BUG("openssl cannot initialise sha256");
	h->ctx = ctx;
}

void berth_sha256_update(struct berth_sha256 *h, const void *data, size_t len)
{
	BUG_ON(!h->ctx);
	if (len && EVP_DigestUpdate(h->ctx, data, len) != 1)
		BUG("openssl sha256 update failed");
}

void berth_sha256_final(struct berth_sha256 *h, uint8_t out[BERTH_SHA256_LEN])
{
	BUG_ON(!h->ctx);
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != BERTH_SHA256_LEN)
		BUG("openssl sha256 final failed");
	berth_sha256_release(h);
}

void berth_sha256_final_digest(struct berth_sha256 *h, char out[BERTH_DIGEST_LEN + 1])
{
	uint8_t raw[BERTH_SHA256_LEN];
	berth_sha256_final(h, raw);
	memcpy(out, "sha256:", 7);
	berth_hex_encode(raw, BERTH_SHA256_LEN, out + 7);
}

void berth_sha256_release(struct berth_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void berth_sha256(const void *data, size_t len, uint8_t out[BERTH_SHA256_LEN])
{
	struct berth_sha256 h;
	berth_sha256_init(&h);
	berth_sha256_update(&h, data, len);
	berth_sha256_final(&h, out);
}

void berth_sha256_hex(const void *data, size_t len, char out[BERTH_SHA256_HEX_LEN + 1])
{
	uint8_t raw[BERTH_SHA256_LEN];
	berth_sha256(data, len, raw);
	berth_hex_encode(raw, BERTH_SHA256_LEN, out);
}

bool berth_digest_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0)
		return false;
	s += 7;
	for (size_t i = 0; i < BERTH_SHA256_HEX_LEN; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return s[BERTH_SHA256_HEX_LEN] == '\0';
}
