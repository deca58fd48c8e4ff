/* `berth files upload|list|download|rm`: a berth server's file store
 * (docs/api.md). Files are kept by content: a download is checked against
 * its digest before it is put in place. */
#include "cli/cli.h"
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The largest upload: the server's body limit. */
#define CLI_FILE_MAX BERTH_FRONT_BODY_MAX

static const char usage[] =
    "usage: berth files upload FILE [--name NAME] [--content-type TYPE] [--json]\n"
    "                          [--server URL]\n"
    "       berth files list [--json] [--server URL]\n"
    "       berth files download DIGEST/NAME|DIGEST [-o FILE|-] [--server URL]\n"
    "       berth files rm DIGEST[/NAME] [--server URL]\n"
    "\n"
    "The file store of a berth server (--server, else $BERTH_SERVER, else\n"
    "http://127.0.0.1:8686), with $BERTH_KEY as the key when the server has keys.\n"
    "\n"
    "Files are kept by content (DIGEST is sha256:<hex>): the same bytes are stored\n"
    "once, under any number of names, and served at <server>/files/DIGEST/NAME\n"
    "with immutable cache headers, to anyone who has the URL.\n"
    "\n"
    "upload prints the file's URL (--json: digest, name, size, content_type, url);\n"
    "NAME defaults to FILE's base name, TYPE to a guess from its extension. At most\n"
    "64 MiB. download writes NAME in the current directory (never over an existing\n"
    "file), or FILE, or standard output with -o -; the bytes are checked against\n"
    "the digest first. A DIGEST alone takes the first name it was uploaded under.\n"
    "rm removes the names of DIGEST (only NAME with DIGEST/NAME); the bytes go\n"
    "with the last name.\n";

struct opts {
	const char *server;
	const char *name;
	const char *type;
	const char *output;
	bool json;
};

static int parse(int argc, char **argv, struct opts *o)
{
	enum { O_SERVER = 256, O_NAME, O_TYPE, O_JSON };
	static const struct option opts[] = {
	    {"server", required_argument, NULL, O_SERVER},
	    {"name", required_argument, NULL, O_NAME},
	    {"content-type", required_argument, NULL, O_TYPE},
	    {"json", no_argument, NULL, O_JSON},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *sub = argv[0];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		case O_SERVER:
			o->server = optarg;
			break;
		case O_NAME:
		case O_TYPE:
			if (strcmp(sub, "upload") != 0)
				return cli_usage("files", "--%s is an option of upload",
						 c == O_NAME ? "name" : "content-type");
			*(c == O_NAME ? &o->name : &o->type) = optarg;
			break;
		case O_JSON:
			if (strcmp(sub, "upload") != 0 && strcmp(sub, "list") != 0)
				return cli_usage("files", "--json is an option of upload and list");
			o->json = true;
			break;
		case 'o':
			if (strcmp(sub, "download") != 0)
				return cli_usage("files", "-o is an option of download");
			o->output = optarg;
			break;
		default:
			return cli_usage("files", "%s: invalid option", sub);
		}
	}
	o->server = cli_server_url(o->server);
	return -1;
}

/* A media type from a file name's extension; the server keeps what it is
 * given, so this only needs to cover what people upload most. */
static const char *guess_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {"png", "image/png"},         {"jpg", "image/jpeg"},        {"jpeg", "image/jpeg"},
	    {"gif", "image/gif"},         {"webp", "image/webp"},       {"svg", "image/svg+xml"},
	    {"txt", "text/plain"},        {"md", "text/markdown"},      {"html", "text/html"},
	    {"css", "text/css"},          {"csv", "text/csv"},          {"js", "text/javascript"},
	    {"json", "application/json"}, {"pdf", "application/pdf"},   {"zip", "application/zip"},
	    {"gz", "application/gzip"},   {"tar", "application/x-tar"}, {"wav", "audio/wav"},
	    {"mp3", "audio/mpeg"},        {"mp4", "video/mp4"},         {"webm", "video/webm"},
	};
	const char *dot = strrchr(name, '.');
	if (dot && dot[1])
		for (size_t i = 0; i < BERTH_ARRAY_SIZE(types); i++)
			if (!strcasecmp(dot + 1, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

static void add_escaped(struct berth_buf *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p))
			berth_buf_addch(out, (char)*p);
		else
			berth_buf_addf(out, "%%%02X", *p);
}

/* "sha256:<hex>" or the hex alone, into "sha256:<hex>". */
static bool parse_digest(const char *s, size_t len, char out[BERTH_DIGEST_LEN + 1])
{
	if (len >= 7 && !strncmp(s, "sha256:", 7)) {
		s += 7;
		len -= 7;
	}
	if (len != BERTH_SHA256_HEX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!s[i] || !strchr("0123456789abcdef", s[i]))
			return false;
	snprintf(out, BERTH_DIGEST_LEN + 1, "sha256:%.*s", (int)len, s);
	return true;
}

/* DIGEST or DIGEST/NAME; *name NULL when absent (free()). */
static int parse_target(const char *arg, char digest[BERTH_DIGEST_LEN + 1], char **name)
{
	const char *slash = strchr(arg, '/');
	size_t dlen = slash ? (size_t)(slash - arg) : strlen(arg);
	if (!parse_digest(arg, dlen, digest))
		return cli_usage("files", "'%.*s' is not a digest: sha256:<64 hex digits>",
				 (int)dlen, arg);
	*name = NULL;
	if (slash) {
		if (!slash[1] || strchr(slash + 1, '/'))
			return cli_usage("files", "'%s': expected DIGEST/NAME", arg);
		*name = berth_xstrdup(slash + 1);
	}
	return -1;
}

static int upload(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return cli_usage("files", "upload takes one FILE");
	const char *file = argv[optind];
	_cleanup_free_ char *copy = berth_xstrdup(file);
	const char *name = o.name ? o.name : basename(copy);
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return cli_usage("files", "'%s' cannot be a file name: give --name NAME", name);
	_cleanup_buf_ struct berth_buf data;
	berth_buf_init(&data, CLI_FILE_MAX);
	struct berth_err *err = NULL;
	if (berth_fs_read_file(file, CLI_FILE_MAX, &data, &err) < 0)
		return cli_fail(err, NULL);
	_cleanup_buf_ struct berth_buf path;
	berth_buf_init(&path, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&path, "/v1/files?name=");
	add_escaped(&path, name);
	_cleanup_json_ json_t *res = NULL;
	rc = cli_http_json(o.server, "POST", path.data, o.type ? o.type : guess_type(name),
			   data.data, data.len, &res);
	if (rc != CLI_OK)
		return rc;
	if (o.json)
		cli_print_json(res);
	else
		printf("%s\n", json_string_value(json_object_get(res, "url")));
	return CLI_OK;
}

static int list(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (optind != argc)
		return cli_usage("files", "list takes no arguments");
	_cleanup_json_ json_t *res = NULL;
	rc = cli_http_json(o.server, "GET", "/v1/files?limit=10000", NULL, NULL, 0, &res);
	if (rc != CLI_OK)
		return rc;
	json_t *files = json_object_get(res, "files");
	if (o.json) {
		cli_print_json(files ? files : json_array());
		return CLI_OK;
	}
	printf("%-71s  %10s  %-19s  %s\n", "DIGEST", "SIZE", "CREATED", "NAME");
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f)
	{
		char created[32];
		time_t t = (time_t)json_number_value(json_object_get(f, "created"));
		strftime(created, sizeof(created), "%Y-%m-%d %H:%M:%S", localtime(&t));
		printf("%-71s  %10lld  %-19s  %s\n",
		       json_string_value(json_object_get(f, "digest")),
		       (long long)json_integer_value(json_object_get(f, "size")), created,
		       json_string_value(json_object_get(f, "name")));
	}
	if (json_is_true(json_object_get(res, "truncated")))
		fprintf(stderr, "berth: only the first %zu files are shown\n",
			json_array_size(files));
	return CLI_OK;
}

/* A download going to a temp file, hashed as it comes. */
struct sink {
	int fd;
	struct berth_sha256 h;
	int error; /* errno of a failed write */
};

static void on_chunk(void *ctx, const char *p, size_t n)
{
	struct sink *s = ctx;
	berth_sha256_update(&s->h, p, n);
	while (n && !s->error) {
		ssize_t w = write(s->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			s->error = errno;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* The body (an error answer) from the temp file, for cli_http_fail. */
static void read_back(int fd, struct berth_buf *out)
{
	char chunk[4096];
	ssize_t n;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 &&
	       berth_buf_add(out, chunk, (size_t)n) == 0)
		;
}

static int copy_to_stdout(int fd)
{
	char chunk[64 * 1024];
	ssize_t n;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (fwrite(chunk, 1, (size_t)n, stdout) != (size_t)n)
			return -1;
	return n < 0 || fflush(stdout) != 0 ? -1 : 0;
}

static int download(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return cli_usage("files", "download takes DIGEST/NAME or DIGEST");
	char digest[BERTH_DIGEST_LEN + 1];
	_cleanup_free_ char *name = NULL;
	if ((rc = parse_target(argv[optind], digest, &name)) >= 0)
		return rc;
	if (!name) { /* the first name the digest was uploaded under */
		_cleanup_free_ char *path = berth_xasprintf("/v1/files?digest=%s&limit=1", digest);
		_cleanup_json_ json_t *res = NULL;
		if ((rc = cli_http_json(o.server, "GET", path, NULL, NULL, 0, &res)) != CLI_OK)
			return rc;
		const char *n = json_string_value(
		    json_object_get(json_array_get(json_object_get(res, "files"), 0), "name"));
		if (!n) {
			fprintf(stderr, "berth: no file with digest %s\n", digest);
			return CLI_FAIL;
		}
		name = berth_xstrdup(n);
	}
	bool to_stdout = o.output && !strcmp(o.output, "-");
	const char *dest = o.output ? o.output : name;
	if (!o.output && access(dest, F_OK) == 0) {
		fprintf(stderr, "berth: '%s' exists: give -o FILE (or -o - for standard output)\n",
			dest);
		return CLI_FAIL;
	}
	/* Into a temp file next to the destination (in $TMPDIR for standard
	 * output, unlinked at once), put in place once the digest matches. */
	_cleanup_free_ char *dcopy = berth_xstrdup(dest);
	const char *tmpdir = getenv("TMPDIR");
	_cleanup_free_ char *tmp =
	    to_stdout ? berth_xasprintf("%s/berth-download-XXXXXX", tmpdir ? tmpdir : "/tmp")
		      : berth_xasprintf("%s/.berth-download-XXXXXX", dirname(dcopy));
	struct sink s = {.fd = mkostemp(tmp, O_CLOEXEC)};
	if (s.fd < 0) {
		fprintf(stderr, "berth: create a file in '%s': %s\n", dirname(tmp),
			strerror(errno));
		return CLI_FAIL;
	}
	if (to_stdout)
		unlink(tmp);
	berth_sha256_init(&s.h);
	_cleanup_buf_ struct berth_buf path;
	berth_buf_init(&path, BERTH_BUF_UNLIMITED);
	berth_buf_addf(&path, "/files/%s/", digest);
	add_escaped(&path, name);
	long status = 0;
	struct berth_err *err = NULL;
	int r =
	    cli_http_stream(o.server, "GET", path.data, NULL, NULL, 0, &status, on_chunk, &s, &err);
	char got[BERTH_DIGEST_LEN + 1];
	berth_sha256_final_digest(&s.h, got);
	rc = CLI_FAIL;
	if (r < 0) {
		cli_fail(err, NULL);
	} else if (status != 200) {
		_cleanup_buf_ struct berth_buf body;
		berth_buf_init(&body, 64u << 10);
		read_back(s.fd, &body);
		cli_http_fail(status, &body);
	} else if (s.error) {
		fprintf(stderr, "berth: write '%s': %s\n", to_stdout ? "standard output" : tmp,
			strerror(s.error));
	} else if (strcmp(got, digest) != 0) {
		fprintf(stderr, "berth: the download's digest is %s, not %s: nothing was written\n",
			got, digest);
	} else if (to_stdout) {
		if (copy_to_stdout(s.fd) < 0)
			fprintf(stderr, "berth: write standard output: %s\n", strerror(errno));
		else
			rc = CLI_OK;
	} else if (fsync(s.fd) < 0 || fchmod(s.fd, 0644) < 0 || rename(tmp, dest) < 0) {
		fprintf(stderr, "berth: write '%s': %s\n", dest, strerror(errno));
	} else {
		fprintf(stderr, "berth: wrote '%s' (%s)\n", dest, digest);
		rc = CLI_OK;
	}
	if (rc != CLI_OK && !to_stdout)
		unlink(tmp);
	close(s.fd);
	return rc;
}

static int rm(int argc, char **argv)
{
	struct opts o = {0};
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return cli_usage("files", "rm takes DIGEST or DIGEST/NAME");
	char digest[BERTH_DIGEST_LEN + 1];
	_cleanup_free_ char *name = NULL;
	if ((rc = parse_target(argv[optind], digest, &name)) >= 0)
		return rc;
	_cleanup_buf_ struct berth_buf path;
	berth_buf_init(&path, BERTH_BUF_UNLIMITED);
	berth_buf_addf(&path, "/v1/files/%s", digest);
	if (name) {
		berth_buf_addstr(&path, "?name=");
		add_escaped(&path, name);
	}
	_cleanup_json_ json_t *res = NULL;
	if ((rc = cli_http_json(o.server, "DELETE", path.data, NULL, NULL, 0, &res)) != CLI_OK)
		return rc;
	json_int_t n = json_integer_value(json_object_get(res, "removed"));
	printf("removed %lld name%s of %s%s\n", (long long)n, n == 1 ? "" : "s", digest,
	       json_is_true(json_object_get(res, "blob_removed")) ? " (and its bytes)" : "");
	return CLI_OK;
}

int cmd_files(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "upload"))
		return upload(argc - 1, argv + 1);
	if (!strcmp(sub, "list") || !strcmp(sub, "ls"))
		return list(argc - 1, argv + 1);
	if (!strcmp(sub, "download"))
		return download(argc - 1, argv + 1);
	if (!strcmp(sub, "rm"))
		return rm(argc - 1, argv + 1);
	return cli_usage("files", "unknown subcommand '%s'", sub);
}
