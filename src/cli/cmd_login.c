/* `berth login HOST -u USER (-p PASS | --password-stdin)` checks the
 * credentials against the registry, then keeps them in $BERTH_HOME/auth.json
 * (mode 0600); `berth logout HOST` forgets them. */
#include "cli/cli.h"
#include "registry/registry.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: berth login HOST -u USER (-p PASSWORD | --password-stdin) "
    "[--insecure-registry HOST]\n"
    "       berth logout HOST\n"
    "\n"
    "HOST as in image references: docker.io, ghcr.io, 127.0.0.1:5000, ...\n";

int cmd_login(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"username", required_argument, NULL, 'u'},
	    {"password", required_argument, NULL, 'p'},
	    {"password-stdin", no_argument, NULL, 's'},
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *user = NULL;
	_cleanup_free_ char *pass = NULL;
	bool from_stdin = false;
	_cleanup_strv_ struct berth_strv insecure = BERTH_STRV_INIT;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "u:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			user = optarg;
			break;
		case 'p':
			free(pass);
			pass = berth_xstrdup(optarg);
			break;
		case 's':
			from_stdin = true;
			break;
		case 'i':
			berth_strv_push(&insecure, optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("login", "invalid option");
		}
	}
	if (optind + 1 != argc || !user || (!!pass == from_stdin))
		return cli_usage("login", "login takes HOST, -u USER and one of -p PASSWORD or "
					  "--password-stdin");
	struct berth_err *err = NULL;
	if (from_stdin) {
		struct berth_buf b;
		berth_buf_init(&b, 1 << 16);
		if (berth_fs_read_file("-", 1 << 16, &b, &err) < 0)
			return cli_fail(err, NULL);
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
			b.data[--b.len] = '\0';
		pass = berth_buf_steal(&b, NULL);
	}
	const char *host = argv[optind];
	cli_insecure_registries(&insecure);
	struct berth_registry_opts ro = {
	    .insecure = berth_strv_contains(&insecure, host),
	    .cred = {.username = (char *)user, .password = pass},
	};
	const char *api = !strcmp(host, "docker.io") || !strcmp(host, "index.docker.io")
			      ? "registry-1.docker.io"
			      : host;
	struct berth_registry *reg;
	int r = berth_registry_new(api, &ro, &reg, &err);
	if (r == 0) {
		r = berth_registry_ping(reg, &err);
		berth_registry_free(reg);
	}
	if (r == 0)
		r = berth_login_save(cli_home(), host, user, pass, &err);
	if (r < 0)
		return cli_fail(err, NULL);
	printf("login succeeded for %s\n", host);
	return CLI_OK;
}

int cmd_logout(int argc, char **argv)
{
	if (argc != 2 || !strcmp(argv[1], "--help")) {
		fputs(usage, argc == 2 ? stdout : stderr);
		return argc == 2 ? CLI_OK : CLI_USAGE;
	}
	struct berth_err *err = NULL;
	if (berth_login_remove(cli_home(), argv[1], &err) < 0)
		return cli_fail(err, NULL);
	printf("removed the credentials for %s\n", argv[1]);
	return CLI_OK;
}
