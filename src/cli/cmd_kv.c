/* `berth kv get|set|delete|list`: a berth server's KV store (docs/api.md),
 * the store apps reach through the SDK's KVStore. Values are bytes: get
 * writes them to standard output as they are, set takes them from the
 * command line or standard input. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The server's limits (api_kv.c): names and values. */
#define CLI_KV_NAME_MAX  256u
#define CLI_KV_VALUE_MAX (1u << 20)

static const char usage[] =
    "usage: berth kv get NAMESPACE KEY [--server URL]\n"
    "       berth kv set NAMESPACE KEY VALUE|- [--ttl SECONDS] [--server URL]\n"
    "       berth kv delete NAMESPACE KEY [--server URL]\n"
    "       berth kv list NAMESPACE [--prefix P] [--json] [--server URL]\n"
    "\n"
    "The KV store of a berth server (--server, else $BERTH_SERVER, else\n"
    "http://127.0.0.1:8686), with $BERTH_KEY as the key when the server has keys\n"
    "(an invoke key is enough).\n"
    "\n"
    "Namespaces and keys: letters, digits, '.', '_' and '-', 1 to 256 characters.\n"
    "Values: bytes, at most 1 MiB. get writes the value to standard output as\n"
    "is (exit 1 when the key is not set or expired). set VALUE - reads standard\n"
    "input; --ttl makes the key expire after SECONDS (1 to 31536000). delete is\n"
    "idempotent. list prints the keys, one a line, in order.\n";

struct opts {
	const char *server;
	const char *prefix;
	long ttl;
	bool json;
};

static int parse(int argc, char **argv, struct opts *o)
{
	enum { O_SERVER = 256, O_TTL, O_PREFIX, O_JSON };
	static const struct option opts[] = {
	    {"server", required_argument, NULL, O_SERVER},
	    {"ttl", required_argument, NULL, O_TTL},
	    {"prefix", required_argument, NULL, O_PREFIX},
	    {"json", no_argument, NULL, O_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *sub = argv[0];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		case O_SERVER:
			o->server = optarg;
			break;
		case O_TTL:
			if (strcmp(sub, "set") != 0)
				return cli_usage("kv", "--ttl is an option of set");
			errno = 0;
			o->ttl = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || o->ttl < 1 || o->ttl > 31536000)
				return cli_usage("kv", "--ttl '%s': whole seconds, 1 to 31536000",
						 optarg);
			break;
		case O_PREFIX:
		case O_JSON:
			if (strcmp(sub, "list") != 0)
				return cli_usage("kv", "--%s is an option of list",
						 c == O_PREFIX ? "prefix" : "json");
			if (c == O_PREFIX)
				o->prefix = optarg;
			else
				o->json = true;
			break;
		default:
			return cli_usage("kv", "%s: invalid option", sub);
		}
	}
	o->server = cli_server_url(o->server);
	return -1;
}

static bool name_ok(const char *what, const char *s)
{
	size_t n = strlen(s);
	if (n && n <= CLI_KV_NAME_MAX && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n)
		return true;
	cli_usage("kv",
		  "invalid %s '%s': use letters, digits, '.', '_' and '-', 1 to %u "
		  "characters",
		  what, s, CLI_KV_NAME_MAX);
	return false;
}

/* The NAMESPACE KEY arguments (and `extra` more). */
static int names(int argc, char **argv, int want, const char *sub)
{
	if (argc - optind != want)
		return cli_usage("kv", "%s takes %s", sub,
				 want == 1   ? "NAMESPACE"
				 : want == 2 ? "NAMESPACE KEY"
					     : "NAMESPACE KEY VALUE");
	if (!name_ok("namespace", argv[optind]) || (want > 1 && !name_ok("key", argv[optind + 1])))
		return CLI_USAGE;
	return -1;
}

static int request(const char *server, const char *method, const char *path, const void *body,
		   size_t len, struct berth_buf *out)
{
	long status = 0;
	struct berth_err *err = NULL;
	if (cli_http(server, method, path, body ? "application/octet-stream" : NULL, body, len,
		     &status, out, &err) < 0)
		return cli_fail(err, NULL);
	if (status < 200 || status >= 300)
		return cli_http_fail(status, out);
	return CLI_OK;
}

static int get(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc >= 0 || (rc = names(argc, argv, 2, "get")) >= 0)
		return rc;
	_cleanup_free_ char *path = berth_xasprintf("/v1/kv/%s/%s", argv[optind], argv[optind + 1]);
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, CLI_KV_VALUE_MAX + (64u << 10));
	rc = request(o.server, "GET", path, NULL, 0, &b);
	if (rc == CLI_OK && fwrite(b.data, 1, b.len, stdout) != b.len) {
		fprintf(stderr, "berth: write the value: %s\n", strerror(errno));
		return CLI_FAIL;
	}
	return rc;
}

static int set(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc >= 0 || (rc = names(argc, argv, 3, "set")) >= 0)
		return rc;
	const char *ns = argv[optind], *key = argv[optind + 1], *value = argv[optind + 2];
	_cleanup_buf_ struct berth_buf in;
	berth_buf_init(&in, CLI_KV_VALUE_MAX);
	if (!strcmp(value, "-")) {
		struct berth_err *err = NULL;
		if (berth_fs_read_file("-", CLI_KV_VALUE_MAX, &in, &err) < 0)
			return cli_fail(err, NULL);
	} else {
		if (strlen(value) > CLI_KV_VALUE_MAX)
			return cli_usage("kv", "the value is over %u bytes", CLI_KV_VALUE_MAX);
		berth_buf_addstr(&in, value);
	}
	_cleanup_free_ char *path = o.ttl ? berth_xasprintf("/v1/kv/%s/%s?ttl=%ld", ns, key, o.ttl)
					  : berth_xasprintf("/v1/kv/%s/%s", ns, key);
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, 1u << 20);
	rc = request(o.server, "PUT", path, in.data, in.len, &b);
	if (rc == CLI_OK)
		printf("set %s %s (%zu bytes%s)\n", ns, key, in.len, o.ttl ? ", expires" : "");
	return rc;
}

static int delete_key(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc >= 0 || (rc = names(argc, argv, 2, "delete")) >= 0)
		return rc;
	const char *ns = argv[optind], *key = argv[optind + 1];
	_cleanup_free_ char *path = berth_xasprintf("/v1/kv/%s/%s", ns, key);
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, 1u << 20);
	rc = request(o.server, "DELETE", path, NULL, 0, &b);
	if (rc != CLI_OK)
		return rc;
	_cleanup_json_ json_t *res = json_loadb(b.data, b.len, 0, NULL);
	if (json_is_true(json_object_get(res, "deleted")))
		printf("deleted %s %s\n", ns, key);
	else
		printf("%s %s was not set\n", ns, key);
	return CLI_OK;
}

static int list(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc >= 0 || (rc = names(argc, argv, 1, "list")) >= 0)
		return rc;
	if (o.prefix && !name_ok("prefix", o.prefix))
		return CLI_USAGE;
	const char *ns = argv[optind];
	_cleanup_json_ json_t *all = json_array();
	_cleanup_free_ char *after = NULL;
	for (;;) { /* page by page: the server answers at most 1000 keys a call */
		_cleanup_free_ char *path = berth_xasprintf(
		    "/v1/kv/%s?limit=1000%s%s%s%s", ns, o.prefix ? "&prefix=" : "",
		    o.prefix ? o.prefix : "", after ? "&after=" : "", after ? after : "");
		_cleanup_buf_ struct berth_buf b;
		berth_buf_init(&b, 16u << 20);
		rc = request(o.server, "GET", path, NULL, 0, &b);
		if (rc != CLI_OK)
			return rc;
		_cleanup_json_ json_t *res = json_loadb(b.data, b.len, 0, NULL);
		json_t *keys = json_object_get(res, "keys");
		if (!json_is_array(keys)) {
			fprintf(stderr, "berth: the server's answer has no keys\n");
			return CLI_FAIL;
		}
		json_array_extend(all, keys);
		const char *next = json_string_value(json_object_get(res, "next"));
		if (!next)
			break;
		free(after);
		after = berth_xstrdup(next);
	}
	if (o.json) {
		_cleanup_buf_ struct berth_buf out;
		berth_buf_init(&out, BERTH_BUF_UNLIMITED);
		berth_json_dump_pretty(all, &out);
		fwrite(out.data, 1, out.len, stdout);
		return CLI_OK;
	}
	size_t i;
	json_t *k;
	json_array_foreach(all, i, k) printf("%s\n", json_string_value(k));
	return CLI_OK;
}

int cmd_kv(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "get"))
		return get(argc - 1, argv + 1);
	if (!strcmp(sub, "set"))
		return set(argc - 1, argv + 1);
	if (!strcmp(sub, "delete") || !strcmp(sub, "rm"))
		return delete_key(argc - 1, argv + 1);
	if (!strcmp(sub, "list") || !strcmp(sub, "ls"))
		return list(argc - 1, argv + 1);
	return cli_usage("kv", "unknown subcommand '%s'", sub);
}
