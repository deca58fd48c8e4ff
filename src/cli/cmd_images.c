/* `berth images`: the stored images, one line each. */
#include "cli/cli.h"
#include "image/image.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void human_size(int64_t n, char *out, size_t len)
{
	const char *units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1000 && u + 1 < BERTH_ARRAY_SIZE(units)) {
		v /= 1000;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

int cmd_images(int argc, char **argv)
{
	bool quiet = argc == 2 && !strcmp(argv[1], "-q");
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		puts("usage: berth images [-q]\n\nList stored images: name, manifest digest, "
		     "size, created (-q: names only).");
		return CLI_OK;
	}
	if (argc > 1 && !quiet)
		return cli_usage("images", "unexpected argument '%s'", argv[1]);
	struct berth_store *s;
	if (cli_open_store(&s) != CLI_OK)
		return CLI_FAIL;
	struct berth_image_entry *list;
	size_t n;
	struct berth_err *err = NULL;
	int r = berth_store_list(s, &list, &n, &err);
	berth_store_close(s);
	if (r < 0)
		return cli_fail(err, NULL);
	if (!quiet)
		printf("%-50s %-19s %10s  %s\n", "NAME", "DIGEST", "SIZE", "CREATED");
	for (size_t i = 0; i < n; i++) {
		struct berth_ref ref;
		char *name = NULL;
		if (berth_ref_parse(list[i].name, &ref, NULL) == 0) {
			name = berth_ref_familiar(&ref);
			berth_ref_release(&ref);
		}
		if (quiet) {
			printf("%s\n", name ? name : list[i].name);
		} else {
			char size[32], created[32];
			human_size(list[i].size, size, sizeof(size));
			time_t t = (time_t)list[i].created;
			strftime(created, sizeof(created), "%Y-%m-%d %H:%M:%S", localtime(&t));
			printf("%-50s %.19s %10s  %s\n", name ? name : list[i].name, list[i].digest,
			       size, created);
		}
		free(name);
		berth_image_entry_release(&list[i]);
	}
	free(list);
	return CLI_OK;
}
