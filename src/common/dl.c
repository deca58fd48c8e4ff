/* dlopen() of a declared dependency on first use; see dl.h. */
#include "common/dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void berth_dl_load(const char *soname, const char *package, const char *const *names, void **slots,
		   size_t n)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr,
			"berth: cannot load %s (%s); install the Debian package %s "
			"(make deps)\n",
			soname, dlerror(), package);
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		slots[i] = dlsym(h, names[i]);
		if (!slots[i]) {
			fprintf(stderr, "berth: %s has no '%s'; install the Debian package %s\n",
				soname, names[i], package);
			abort();
		}
	}
	/* Never closed: the functions stay in use until exit. */
}
