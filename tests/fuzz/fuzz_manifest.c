/* Fuzz target: image references, manifests/indexes and configs from
 * untrusted registries. The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] % 3) {
	case 0: {
		char *s = berth_xstrndup(p, n);
		struct berth_ref ref;
		if (berth_ref_parse(s, &ref, NULL) == 0) {
			free(berth_ref_string(&ref));
			free(berth_ref_familiar(&ref));
			berth_ref_release(&ref);
		}
		free(s);
		break;
	}
	case 1: {
		struct berth_manifest m;
		if (berth_manifest_parse(p, n, NULL, &m, NULL) == 0) {
			const struct berth_descriptor *d;
			berth_manifest_select(&m, "linux", "amd64", NULL, &d, NULL);
			berth_manifest_release(&m);
		}
		break;
	}
	default: {
		struct berth_image_config c;
		if (berth_image_config_parse(p, n, &c, NULL) == 0)
			berth_image_config_release(&c);
	}
	}
	return 0;
}
