/* `berth keys create|list|revoke`: a berth server's API keys, over its
 * admin API (docs/api.md). The key is printed once, by create. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: berth keys create [--scope admin|invoke] [--description TEXT] [--json]\n"
    "                         [--server URL]\n"
    "       berth keys list [--all] [--json] [--server URL]\n"
    "       berth keys revoke ID [--server URL]\n"
    "\n"
    "API keys of a berth server (--server, else $BERTH_SERVER, else\n"
    "http://127.0.0.1:8686); the CLI sends $BERTH_KEY as its key.\n"
    "\n"
    "A server without keys is open. Once one exists, the admin API needs an admin\n"
    "key and private apps an invoke or admin key. The first key must be an admin\n"
    "key (the default scope); keep it: `export BERTH_KEY=<key>`.\n"
    "\n"
    "create prints the key, ID:SECRET, on standard output. It is shown only\n"
    "this once: the server keeps a hash of the secret. list shows ids, scopes,\n"
    "dates and descriptions, never a secret (--all: revoked keys too). revoke\n"
    "ends a key at once; the last admin key can go only when no invoke key is\n"
    "left, and then the server is open again.\n";

struct opts {
	const char *server;
	const char *scope;
	const char *description;
	bool json, all;
};

static int parse(int argc, char **argv, struct opts *o)
{
	enum { O_SERVER = 256, O_SCOPE, O_DESC, O_JSON, O_ALL };
	static const struct option opts[] = {
	    {"server", required_argument, NULL, O_SERVER},
	    {"scope", required_argument, NULL, O_SCOPE},
	    {"description", required_argument, NULL, O_DESC},
	    {"json", no_argument, NULL, O_JSON},
	    {"all", no_argument, NULL, O_ALL},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *sub = argv[0];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		case O_SERVER:
			o->server = optarg;
			break;
		case O_SCOPE:
			if (strcmp(sub, "create") != 0)
				return cli_usage("keys", "--scope is an option of create");
			if (strcmp(optarg, "admin") != 0 && strcmp(optarg, "invoke") != 0)
				return cli_usage("keys", "--scope '%s': admin or invoke", optarg);
			o->scope = optarg;
			break;
		case O_DESC:
			if (strcmp(sub, "create") != 0)
				return cli_usage("keys", "--description is an option of create");
			o->description = optarg;
			break;
		case O_JSON:
			if (!strcmp(sub, "revoke"))
				return cli_usage("keys", "revoke has no --json");
			o->json = true;
			break;
		case O_ALL:
			if (strcmp(sub, "list") != 0)
				return cli_usage("keys", "--all is an option of list");
			o->all = true;
			break;
		default:
			return cli_usage("keys", "%s: invalid option", sub);
		}
	}
	o->server = cli_server_url(o->server);
	return -1;
}

/* One call with a JSON body (or none); prints the server's error. */
static int call(const char *server, const char *method, const char *path, json_t *body,
		json_t **out)
{
	_cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	return cli_http_json(server, method, path, text ? "application/json" : NULL, text,
			     text ? strlen(text) : 0, out);
}

static void format_time(double t, char *out, size_t n)
{
	time_t s = (time_t)t;
	strftime(out, n, "%Y-%m-%d %H:%M:%S", localtime(&s));
}

static int create(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (optind != argc)
		return cli_usage("keys", "create takes no arguments");
	_cleanup_json_ json_t *body = json_pack("{s:s}", "scope", o.scope ? o.scope : "admin");
	if (o.description) {
		json_t *d = json_string(o.description);
		if (!d)
			return cli_usage("keys", "--description must be UTF-8 text");
		json_object_set_new(body, "description", d);
	}
	_cleanup_json_ json_t *res = NULL;
	rc = call(o.server, "POST", "/v1/keys", body, &res);
	if (rc != CLI_OK)
		return rc;
	const char *key = json_string_value(json_object_get(res, "key"));
	if (!key) {
		fprintf(stderr, "berth: the server's answer has no key\n");
		return CLI_FAIL;
	}
	if (o.json) {
		cli_print_json(res);
	} else {
		printf("%s\n", key);
		fprintf(stderr,
			"berth: created %s key %s: this is the only time the key is shown; "
			"use it with export BERTH_KEY=<key>\n",
			json_string_value(json_object_get(res, "scope")),
			json_string_value(json_object_get(res, "id")));
	}
	return CLI_OK;
}

static int list(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (optind != argc)
		return cli_usage("keys", "list takes no arguments");
	_cleanup_json_ json_t *res = NULL;
	rc = call(o.server, "GET", o.all ? "/v1/keys?all=1" : "/v1/keys", NULL, &res);
	if (rc != CLI_OK)
		return rc;
	json_t *keys = json_object_get(res, "keys");
	if (o.json) {
		cli_print_json(keys ? keys : json_array());
		return CLI_OK;
	}
	printf("%-16s  %-6s  %-19s  %s\n", "ID", "SCOPE", "CREATED",
	       o.all ? "REVOKED              DESCRIPTION" : "DESCRIPTION");
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k)
	{
		char created[32], revoked[32] = "-";
		format_time(json_number_value(json_object_get(k, "created")), created,
			    sizeof(created));
		json_t *rv = json_object_get(k, "revoked");
		if (json_is_number(rv))
			format_time(json_number_value(rv), revoked, sizeof(revoked));
		const char *desc = json_string_value(json_object_get(k, "description"));
		if (o.all)
			printf("%-16s  %-6s  %-19s  %-19s  %s\n",
			       json_string_value(json_object_get(k, "id")),
			       json_string_value(json_object_get(k, "scope")), created, revoked,
			       desc ? desc : "");
		else
			printf("%-16s  %-6s  %-19s  %s\n",
			       json_string_value(json_object_get(k, "id")),
			       json_string_value(json_object_get(k, "scope")), created,
			       desc ? desc : "");
	}
	return CLI_OK;
}

static int revoke_key(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return cli_usage("keys", "revoke takes one key ID");
	const char *id = argv[optind];
	/* Ids are hex; a key given whole ("ID:SECRET") names its id. */
	_cleanup_free_ char *bare = berth_xstrndup(id, strcspn(id, ":"));
	if (!*bare || strspn(bare, "0123456789abcdef") != strlen(bare))
		return cli_usage("keys", "'%s' is not a key id (berth keys list shows them)", bare);
	_cleanup_free_ char *path = berth_xasprintf("/v1/keys/%s", bare);
	_cleanup_json_ json_t *res = NULL;
	rc = call(o.server, "DELETE", path, NULL, &res);
	if (rc == CLI_OK)
		printf("revoked %s\n", bare);
	return rc;
}

int cmd_keys(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "create"))
		return create(argc - 1, argv + 1);
	if (!strcmp(sub, "list"))
		return list(argc - 1, argv + 1);
	if (!strcmp(sub, "revoke"))
		return revoke_key(argc - 1, argv + 1);
	return cli_usage("keys", "unknown subcommand '%s'", sub);
}
