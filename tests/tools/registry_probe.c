/* A thin driver over the registry/ API for end-to-end tests:
 *   registry_probe [--user U --password P] [--insecure] [--size N]
 *                  [--mount-from REPO] HOST COMMAND ARGS...
 * Exit 0 on success; on failure exit 1 with "registry_probe: MESSAGE" and
 * "registry_probe: code: NAME" on stderr. */
#include "common/common.h"
#include "registry/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: registry_probe [options] HOST COMMAND ARGS...\n"
    "commands:\n"
    "  ping\n"
    "  manifest REPO REF                    print media-type, digest, size, a blank line, the "
    "body\n"
    "  blob REPO DIGEST OUTFILE             download and verify (--size: the expected size)\n"
    "  blob-exists REPO DIGEST              print the size\n"
    "  push-blob REPO FILE                  print 'uploaded|exists DIGEST SIZE'\n"
    "  put-manifest REPO REF FILE MEDIATYPE\n"
    "options: --user U --password P --insecure --size N --mount-from REPO\n";

struct probe {
	struct berth_registry *r;
	int64_t size;
	const char *mount_from;
};

static int fail(struct berth_err *err)
{
	fprintf(stderr, "registry_probe: %s\n", err ? err->msg : "failed");
	fprintf(stderr, "registry_probe: code: %s\n",
		err ? berth_err_code_name(err->code) : "internal");
	berth_err_free(err);
	return 1;
}

static int cmd_ping(struct probe *p, char **argv, struct berth_err **err)
{
	if (berth_registry_ping(p->r, err) < 0)
		return -1;
	puts("ok");
	return 0;
}

static int cmd_manifest(struct probe *p, char **argv, struct berth_err **err)
{
	struct berth_buf _cleanup_buf_ body;
	berth_buf_init(&body, BERTH_BUF_UNLIMITED);
	_cleanup_free_ char *mt = NULL;
	char digest[BERTH_DIGEST_LEN + 1];
	if (berth_registry_get_manifest(p->r, argv[0], argv[1], &body, &mt, digest, err) < 0)
		return -1;
	printf("media-type: %s\ndigest: %s\nsize: %zu\n\n", mt, digest, body.len);
	fwrite(body.data, 1, body.len, stdout);
	return 0;
}

struct file_sink {
	int fd;
	const char *path;
	int resets;
};

static int sink_write(void *ctx, const void *data, size_t len, struct berth_err **err)
{
	struct file_sink *s = ctx;
	const char *p = data;
	while (len) {
		ssize_t n = write(s->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_err_sys(err, errno, "write '%s'", s->path);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sink_reset(void *ctx, struct berth_err **err)
{
	struct file_sink *s = ctx;
	s->resets++;
	if (ftruncate(s->fd, 0) < 0 || lseek(s->fd, 0, SEEK_SET) < 0)
		return berth_err_sys(err, errno, "truncate '%s'", s->path);
	return 0;
}

static int cmd_blob(struct probe *p, char **argv, struct berth_err **err)
{
	struct file_sink s = {.path = argv[2]};
	s.fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s.fd < 0)
		return berth_err_sys(err, errno, "open '%s'", argv[2]);
	struct berth_blob_job job = {
	    .digest = argv[1],
	    .size = p->size,
	    .sink = sink_write,
	    .reset = sink_reset,
	    .ctx = &s,
	};
	int rc = berth_registry_fetch_blobs(p->r, argv[0], &job, 1, NULL, NULL, err);
	berth_err_free(job.err);
	close(s.fd);
	if (rc < 0)
		return rc;
	printf("received %" PRId64 " bytes, %d resets\n", job.received, s.resets);
	return 0;
}

static int cmd_blob_exists(struct probe *p, char **argv, struct berth_err **err)
{
	int64_t size = -1;
	if (berth_registry_blob_exists(p->r, argv[0], argv[1], &size, err) < 0)
		return -1;
	printf("%" PRId64 "\n", size);
	return 0;
}

static int file_digest(int fd, char digest[BERTH_DIGEST_LEN + 1], int64_t *size,
		       struct berth_err **err)
{
	struct berth_sha256 h;
	berth_sha256_init(&h);
	char buf[65536];
	*size = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			berth_sha256_release(&h);
			return berth_err_sys(err, errno, "read");
		}
		if (n == 0)
			break;
		berth_sha256_update(&h, buf, (size_t)n);
		*size += n;
	}
	berth_sha256_final_digest(&h, digest);
	return 0;
}

static int cmd_push_blob(struct probe *p, char **argv, struct berth_err **err)
{
	_cleanup_close_ int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "open '%s'", argv[1]);
	char digest[BERTH_DIGEST_LEN + 1];
	int64_t size;
	if (file_digest(fd, digest, &size, err) < 0)
		return -1;
	bool uploaded = false;
	if (berth_registry_push_blob(p->r, argv[0], digest, size, fd, p->mount_from, &uploaded,
				     err) < 0)
		return -1;
	printf("%s %s %" PRId64 "\n", uploaded ? "uploaded" : "exists", digest, size);
	return 0;
}

static int cmd_put_manifest(struct probe *p, char **argv, struct berth_err **err)
{
	struct berth_buf _cleanup_buf_ b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	if (berth_fs_read_file(argv[2], 64u << 20, &b, err) < 0)
		return -1;
	if (berth_registry_put_manifest(p->r, argv[0], argv[1], b.data, b.len, argv[3], err) < 0)
		return -1;
	char hex[BERTH_SHA256_HEX_LEN + 1];
	berth_sha256_hex(b.data, b.len, hex);
	printf("sha256:%s\n", hex);
	return 0;
}

static const struct {
	const char *name;
	int nargs;
	int (*fn)(struct probe *p, char **argv, struct berth_err **err);
} commands[] = {
    {"ping", 0, cmd_ping},           {"manifest", 2, cmd_manifest},
    {"blob", 3, cmd_blob},           {"blob-exists", 2, cmd_blob_exists},
    {"push-blob", 2, cmd_push_blob}, {"put-manifest", 4, cmd_put_manifest},
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"user", required_argument, NULL, 'u'},
	    {"password", required_argument, NULL, 'p'},
	    {"insecure", no_argument, NULL, 'k'},
	    {"size", required_argument, NULL, 's'},
	    {"mount-from", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct berth_registry_opts ro = {0};
	struct probe p = {.size = -1};
	int c;
	while ((c = getopt_long(argc, argv, "+u:p:ks:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			ro.cred.username = optarg;
			break;
		case 'p':
			ro.cred.password = optarg;
			break;
		case 'k':
			ro.insecure = true;
			break;
		case 's':
			p.size = strtoll(optarg, NULL, 10);
			break;
		case 'm':
			p.mount_from = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (argc - optind < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *host = argv[optind], *cmd = argv[optind + 1];
	char **args = argv + optind + 2;
	int nargs = argc - optind - 2;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(commands); i++) {
		if (strcmp(commands[i].name, cmd) != 0)
			continue;
		if (nargs != commands[i].nargs) {
			fprintf(stderr, "registry_probe: %s takes %d arguments\n%s", cmd,
				commands[i].nargs, usage);
			return 2;
		}
		struct berth_err *err = NULL;
		if (berth_registry_new(host, &ro, &p.r, &err) < 0)
			return fail(err);
		int rc = commands[i].fn(&p, args, &err);
		berth_registry_free(p.r);
		if (rc < 0)
			return fail(err);
		return 0;
	}
	fprintf(stderr, "registry_probe: unknown command '%s'\n%s", cmd, usage);
	return 2;
}
