/* A replay driver for the libFuzzer targets, so `make check` runs every
 * committed corpus file through them with plain gcc (and the sanitizers in
 * the sanitizer build). Usage: replay_fuzz_X DIR|FILE...; TAP output. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n;

static void run_file(const char *path)
{
	struct berth_buf b;
	struct berth_err *err = NULL;
	berth_buf_init(&b, 16u << 20);
	if (berth_fs_read_file(path, 16u << 20, &b, &err) < 0) {
		printf("not ok %d - %s: %s\n", ++n, path, err->msg);
		berth_err_free(err);
		return;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)b.data, b.len);
	printf("ok %d - %s\n", ++n, path);
	fflush(stdout);
	berth_buf_release(&b);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			struct dirent **ents;
			int k = scandir(argv[i], &ents, NULL, by_name);
			for (int j = 0; j < k; j++) {
				if (ents[j]->d_name[0] != '.') {
					char *p =
					    berth_xasprintf("%s/%s", argv[i], ents[j]->d_name);
					run_file(p);
					free(p);
				}
				free(ents[j]);
			}
			free(ents);
		} else {
			run_file(argv[i]);
		}
	}
	printf("1..%d\n", n);
	return 0;
}
