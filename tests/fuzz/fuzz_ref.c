/* Fuzz target: image references (Dockerfile FROM lines, berth.yaml, the
 * CLI, index.json annotations of an image being loaded). Must never crash;
 * what parses must be normalised for good: the canonical string and the
 * familiar short form both parse back to the same canonical string. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse `s`, which must succeed, and return its canonical string. */
static char *reparse(const char *s)
{
	struct berth_ref r;
	struct berth_err *err = NULL;
	if (berth_ref_parse(s, &r, &err) < 0)
		abort(); /* a string berth printed does not parse */
	char *out = berth_ref_string(&r);
	berth_ref_release(&r);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = berth_xstrndup((const char *)data, size);
	struct berth_ref ref;
	struct berth_err *err = NULL;
	if (berth_ref_parse(s, &ref, &err) < 0) {
		if (!err || !err->msg)
			abort(); /* a failure always says why */
		berth_err_free(err);
		free(s);
		return 0;
	}
	if (!ref.domain || !*ref.domain || !ref.path || !*ref.path)
		abort();
	if (strlen(ref.domain) + 1 + strlen(ref.path) > BERTH_REF_MAX)
		abort();
	/* The domain goes into URLs: host name, IPv6 literal and port
	 * characters only. */
	if (strspn(ref.domain,
		   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
	    strlen(ref.domain))
		abort();
	if (ref.digest && !berth_digest_valid(ref.digest))
		abort();
	if (!berth_ref_api_ref(&ref) || !berth_ref_api_host(&ref))
		abort();
	char *canon = berth_ref_string(&ref);
	char *familiar = berth_ref_familiar(&ref);
	char *again = reparse(canon);
	if (strcmp(canon, again))
		abort(); /* the canonical form is not a fixed point */
	char *from_familiar = reparse(familiar);
	if (strcmp(canon, from_familiar))
		abort(); /* the short form names another image */
	free(from_familiar);
	free(again);
	free(familiar);
	free(canon);
	berth_ref_release(&ref);
	free(s);
	return 0;
}
