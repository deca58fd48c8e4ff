/* `berth base create`: base images made from the distribution on this
 * machine (debootstrap for Debian, busybox-static for busybox) and tagged in
 * the store, so `FROM debian:bookworm-slim` builds with no registry. The
 * work is base/'s; this file reads the options and prints. */
#include "base/base.h"
#include "cli/cli.h"
#include "image/image.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: berth base create debian:SUITE[-slim]|busybox [--mirror URL] [-t NAME:TAG]\n"
    "                         [--apt-root DIR] [--quiet] [--dry-run]\n"
    "\n"
    "  debian:bookworm        debootstrap --variant=minbase, Docker's minimizing\n"
    "                         config, updates applied; tagged debian:bookworm\n"
    "                         and debian:12\n"
    "  debian:bookworm-slim   the same, slimified (no docs, man pages or\n"
    "                         translations); debian:bookworm-slim, debian:12-slim\n"
    "  busybox                the host's static busybox (busybox-static) with its\n"
    "                         applets; busybox:latest and busybox:VERSION\n"
    "\n"
    "      --mirror URL       the Debian mirror (default: the one apt uses here,\n"
    "                         else " BERTH_BASE_DEFAULT_MIRROR ")\n"
    "      --apt-root DIR     read the apt sources of DIR/etc/apt instead of\n"
    "                         /etc/apt (a chroot's, another machine's)\n"
    "  -t, --tag NAME:TAG     tag the image NAME:TAG instead of the defaults\n"
    "  -q, --quiet            no debootstrap or apt output, only the steps\n"
    "      --dry-run          say what would be done, do nothing\n"
    "\n"
    "Needs root. SOURCE_DATE_EPOCH, when set, is the date every file gets (else\n"
    "the mirror's newest Release date, or the busybox binary's date). Prints the\n"
    "image's digest. See docs/base-images.md.\n";

static void human(int64_t n, char *out, size_t len)
{
	if (n >= 1000 * 1000)
		snprintf(out, len, "%.1f MB", (double)n / 1e6);
	else
		snprintf(out, len, "%.1f kB", (double)n / 1e3);
}

static void step(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "base: %s\n", line);
}

static int dry_run(const struct berth_base_spec *spec, const char *mirror, const char *apt_root,
		   const char *tag)
{
	struct berth_err *err = NULL;
	if (spec->kind == BERTH_BASE_BUSYBOX) {
		_cleanup_free_ char *bin = NULL;
		if (berth_base_find_busybox(NULL, &bin, &err) < 0)
			return cli_fail(err, NULL);
		printf("busybox: %s (static)\n", bin);
		printf("tags: %s\n", tag ? tag : "busybox:latest busybox:VERSION");
		return CLI_OK;
	}
	struct berth_apt_mirror m;
	if (berth_base_pick_mirror(mirror, apt_root, spec->suite, &m, &err) < 0)
		return cli_fail(err, NULL);
	_cleanup_free_ char *deboot = berth_base_find_debootstrap(&err);
	if (!deboot) {
		/* Still show the plan; say what is missing. */
		fprintf(stderr, "berth: %s\n", err->msg);
		berth_err_free(err);
	}
	_cleanup_strv_ struct berth_strv argv = BERTH_STRV_INIT;
	_cleanup_free_ char *cache = berth_xasprintf("%s/cache/debootstrap", cli_home());
	berth_base_debootstrap_argv(deboot ? deboot : "debootstrap", spec->suite, "DIR", m.uri,
				    cache, &argv);
	printf("mirror: %s (from %s)\n", m.uri, m.origin);
	printf("security: %s\n", m.security ? m.security : "none");
	fputs("run:", stdout);
	for (size_t i = 0; i < argv.n; i++)
		printf(" %s", argv.v[i]);
	putchar('\n');
	printf("variant: %s\n", spec->kind == BERTH_BASE_DEBIAN_SLIM ? "slim" : "full");
	if (tag)
		printf("tags: %s\n", tag);
	else
		printf("tags: debian:%s%s debian:MAJOR%s\n", spec->suite,
		       spec->kind == BERTH_BASE_DEBIAN_SLIM ? "-slim" : "",
		       spec->kind == BERTH_BASE_DEBIAN_SLIM ? "-slim" : "");
	berth_apt_mirror_release(&m);
	return deboot ? CLI_OK : CLI_FAIL;
}

/* SOURCE_DATE_EPOCH from the environment: -1 when unset; -2 when invalid. */
static int64_t env_epoch(void)
{
	const char *v = getenv("SOURCE_DATE_EPOCH");
	if (!v || !*v)
		return -1;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || n < 0)
		return -2;
	return (int64_t)n;
}

static int create(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"mirror", required_argument, NULL, 'm'},
	    {"apt-root", required_argument, NULL, 'a'},
	    {"tag", required_argument, NULL, 't'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *mirror = NULL, *tag = NULL, *apt_root = NULL;
	bool quiet = false, dry = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			mirror = optarg;
			break;
		case 'a':
			apt_root = optarg;
			break;
		case 't':
			tag = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'n':
			dry = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("base", "bad option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("base", optind == argc ? "name the base image to create"
							: "create one base image at a time");
	struct berth_err *err = NULL;
	struct berth_base_spec spec;
	int rc;
	if (berth_base_parse(argv[optind], &spec, &err) < 0) {
		rc = cli_usage("base", "%s", err->msg);
		berth_err_free(err);
		return rc;
	}
	if (mirror && spec.kind == BERTH_BASE_BUSYBOX) {
		berth_base_spec_release(&spec);
		return cli_usage("base", "--mirror is for debian images; busybox comes from the "
					 "host's busybox-static");
	}
	_cleanup_free_ char *canon = tag ? cli_canonical(tag) : NULL;
	int64_t epoch = env_epoch();
	if (tag && !canon) {
		rc = CLI_USAGE;
	} else if (epoch == -2) {
		fprintf(stderr,
			"berth: SOURCE_DATE_EPOCH must be a number of seconds since 1970, "
			"got '%s'\n",
			getenv("SOURCE_DATE_EPOCH"));
		rc = CLI_USAGE;
	} else if (dry) {
		rc = dry_run(&spec, mirror, apt_root, canon);
	} else {
		struct berth_store *s;
		rc = cli_open_store(&s);
		if (rc == CLI_OK) {
			struct berth_base_opts o = {.mirror = mirror,
						    .apt_root = apt_root,
						    .tag = canon,
						    .source_date_epoch = epoch,
						    .log_fd = quiet ? -1 : STDERR_FILENO,
						    .step = step};
			struct berth_base_result res;
			struct timespec t0, t1;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			if (berth_base_create(s, &spec, &o, &res, &err) < 0) {
				rc = cli_fail(err, NULL);
			} else {
				clock_gettime(CLOCK_MONOTONIC, &t1);
				char layer[32], unpacked[32];
				human(res.layer_size, layer, sizeof(layer));
				human(res.unpacked_size, unpacked, sizeof(unpacked));
				if (res.removed_summary)
					fprintf(stderr, "base: slimify removed %s\n",
						res.removed_summary);
				fprintf(stderr,
					"base: layer %s compressed, %s unpacked; "
					"SOURCE_DATE_EPOCH=%lld; %.0f s\n",
					layer, unpacked, (long long)res.epoch,
					(double)(t1.tv_sec - t0.tv_sec) +
					    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
				for (size_t i = 0; i < res.tags.n; i++)
					fprintf(stderr, "base: tagged %s\n", res.tags.v[i]);
				printf("%s\n", res.digest);
				berth_base_result_release(&res);
			}
			berth_store_close(s);
		}
	}
	berth_base_spec_release(&spec);
	return rc;
}

int cmd_base(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (!strcmp(argv[1], "create"))
		return create(argc - 1, argv + 1);
	return cli_usage("base", "unknown subcommand '%s' (create)", argv[1]);
}
