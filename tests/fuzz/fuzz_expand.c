/* Fuzz target: shell-word expansion in both modes and with both escape
 * characters. The first byte picks the mode; the rest is the word. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "dockerfile/dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	char *word = berth_xstrndup((const char *)data + 1, size - 1);
	struct berth_strv env = BERTH_STRV_INIT;
	berth_strv_push(&env, "PWD=/home");
	berth_strv_push(&env, "EMPTY=");
	berth_strv_push(&env, "SPACED=a  b c");
	struct berth_strv unmatched = BERTH_STRV_INIT;
	struct berth_shlex lx = {
	    .escape = (data[0] & 1) ? '`' : '\\',
	    .lookup = berth_shlex_env_lookup,
	    .lookup_ctx = &env,
	    .raw_quotes = data[0] & 2,
	    .raw_escapes = data[0] & 4,
	    .skip_unset = data[0] & 8,
	    .unmatched = (data[0] & 16) ? &unmatched : NULL,
	};
	struct berth_err *err = NULL;
	if (data[0] & 32) {
		struct berth_strv out = BERTH_STRV_INIT;
		berth_shlex_words(&lx, word, &out, &err);
		berth_strv_release(&out);
	} else {
		char *out = NULL;
		berth_shlex_word(&lx, word, &out, &err);
		free(out);
	}
	berth_err_free(err);
	berth_strv_release(&unmatched);
	berth_strv_release(&env);
	free(word);
	return 0;
}
