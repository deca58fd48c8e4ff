/* Unit tests for the builder's source helpers: which files ADD unpacks
 * (content, not name: a tar header Go's archive/tar takes, plain or
 * compressed), which ADD sources are git repositories and how URL#ref:subdir
 * splits, and the masking of secret values in progress output. */
#include "build/build_int.h"
#include "fixture.h"
#include "tap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* ------------------------------------------------------------- helpers */

static void put_bytes(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	fixture_must(fd >= 0, path);
	fixture_must(write(fd, data, len) == (ssize_t)len, path);
	close(fd);
}

/* A one-file tar: a 512-byte header (ustar unless v7), then two zero blocks. */
static size_t make_tar(unsigned char *out, bool v7, bool bad_sum)
{
	memset(out, 0, 512 * 3);
	snprintf((char *)out, 100, "a.txt");
	memcpy(out + 100, "0000644", 8);
	memcpy(out + 108, "0000000", 8);
	memcpy(out + 116, "0000000", 8);
	memcpy(out + 124, "00000000000", 12);
	memcpy(out + 136, "00000000000", 12);
	out[156] = '0';
	if (!v7) {
		memcpy(out + 257, "ustar", 6);
		memcpy(out + 263, "00", 2);
	}
	memset(out + 148, ' ', 8);
	unsigned sum = 0;
	for (size_t i = 0; i < 512; i++)
		sum += out[i];
	snprintf((char *)out + 148, 8, "%06o", sum + (bad_sum ? 1 : 0));
	return 512 * 3;
}

static size_t gzip_of(const void *in, size_t len, unsigned char *out, size_t cap)
{
	z_stream z = {0};
	fixture_must(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK,
		     "deflateInit2");
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	fixture_must(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
	size_t n = cap - z.avail_out;
	deflateEnd(&z);
	return n;
}

/* ------------------------------------------------------------ archives */

static void test_archives(void)
{
	char *dir = fixture_path("ctx");
	fixture_put_dir(dir);
	int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fixture_must(root >= 0, dir);
	unsigned char tar[512 * 3], buf[8192];
	size_t n = make_tar(tar, false, false);
	put_bytes(fixture_path("ctx/ustar.bin"), tar, n);
	tap_ok(berth__is_archive(root, "ustar.bin"),
	       "a ustar file is an archive, whatever its name");
	n = make_tar(tar, true, false);
	put_bytes(fixture_path("ctx/v7"), tar, n);
	tap_ok(berth__is_archive(root, "v7"),
	       "a v7 header with a good checksum is one too (Go takes it)");
	n = make_tar(tar, false, true);
	put_bytes(fixture_path("ctx/badsum.tar"), tar, n);
	tap_ok(!berth__is_archive(root, "badsum.tar"), "a bad header checksum is not an archive");
	memset(tar, 0, sizeof(tar));
	put_bytes(fixture_path("ctx/empty.tar"), tar, 1024);
	tap_ok(!berth__is_archive(root, "empty.tar"), "an empty tar (zero blocks only) is not one");
	put_bytes(fixture_path("ctx/short.tar"), tar, 100);
	tap_ok(!berth__is_archive(root, "short.tar"), "a file shorter than a block is not one");
	fixture_put_file(fixture_path("ctx/text.tar.gz"),
			 "just some text, named like an archive\n");
	tap_ok(!berth__is_archive(root, "text.tar.gz"), "a text file named .tar.gz is not one");

	n = make_tar(tar, false, false);
	size_t gz = gzip_of(tar, n, buf, sizeof(buf));
	put_bytes(fixture_path("ctx/tar.gz.data"), buf, gz);
	tap_ok(berth__is_archive(root, "tar.gz.data"), "gzip of a tar is an archive");
	put_bytes(fixture_path("ctx/cut.tar.gz"), buf, gz - 8);
	tap_ok(berth__is_archive(root, "cut.tar.gz"),
	       "  even cut short: the header is what counts (unpacking it fails later)");
	static const char text[] = "hello, not a tar at all\n";
	gz = gzip_of(text, sizeof(text) - 1, buf, sizeof(buf));
	put_bytes(fixture_path("ctx/text.gz"), buf, gz);
	tap_ok(!berth__is_archive(root, "text.gz"), "gzip of a text file is not");
	size_t zs = ZSTD_compress(buf, sizeof(buf), tar, n, 3);
	fixture_must(!ZSTD_isError(zs), "ZSTD_compress");
	put_bytes(fixture_path("ctx/tar.zst"), buf, zs);
	tap_ok(berth__is_archive(root, "tar.zst"), "zstd of a tar is an archive");

	fixture_put_dir(fixture_path("ctx/adir"));
	tap_ok(!berth__is_archive(root, "adir"), "a directory is not");
	fixture_put_link("ustar.bin", fixture_path("ctx/link"));
	tap_ok(berth__is_archive(root, "link"), "a symlink to an archive is followed");
	fixture_put_link("/etc/passwd", fixture_path("ctx/escape"));
	tap_ok(!berth__is_archive(root, "escape"),
	       "an absolute link is read inside the root (no /etc/passwd there)");
	tap_ok(!berth__is_archive(root, "missing"), "a missing file is not");
	close(root);
}

/* ---------------------------------------------------------- git sources */

static const char *parsed(const char *src)
{
	static char out[512];
	struct berth__git_ref g;
	struct berth_err *err = NULL;
	if (berth__git_parse(src, &g, &err) < 0) {
		snprintf(out, sizeof(out), "<%s>", err->msg);
		berth_err_free(err);
		return out;
	}
	snprintf(out, sizeof(out), "%s|%s|%s", g.remote, g.ref ? g.ref : "(null)",
		 g.subdir ? g.subdir : "(null)");
	berth__git_ref_release(&g);
	return out;
}

static void test_git(void)
{
	tap_ok(berth__git_source("https://example.com/r.git"), "https .git URL is git");
	tap_ok(berth__git_source("http://127.0.0.1:8/r.git#main:sub"), "  with a fragment");
	tap_ok(berth__git_source("git@github.com:o/r.git"), "git@host:path is git");
	tap_ok(berth__git_source("git://h/r") && berth__git_source("ssh://git@h/r"),
	       "git:// and ssh:// are git");
	tap_ok(!berth__git_source("https://h/file.tar.gz"), "an http file is not");
	tap_ok(!berth__git_source("https://h/r.gitx"), "  nor a name that only starts with .git");
	tap_ok(!berth__git_source("local.git"), "  nor a local path");
	tap_is_str(parsed("https://h/r.git"), "https://h/r.git|(null)|(null)", "no fragment: HEAD");
	tap_is_str(parsed("https://h/r.git#v1"), "https://h/r.git|v1|(null)", "#ref");
	tap_is_str(parsed("https://h/r.git#main:docs/x"), "https://h/r.git|main|docs/x",
		   "#ref:subdir");
	tap_is_str(parsed("git@h:o/r.git#:sub"), "git@h:o/r.git||sub", "#:subdir keeps HEAD");
	tap_is_str(parsed("-u#x"), "<git source '-u#x': give URL[#REF[:SUBDIR]]>",
		   "a remote that git would read as an option is refused");
	tap_is_str(parsed("https://h/r.git#--upload-pack=x"),
		   "<git source 'https://h/r.git#--upload-pack=x': give URL[#REF[:SUBDIR]]>",
		   "  and so is such a ref");
}

/* -------------------------------------------------------------- masking */

static void test_redact(void)
{
	struct berth_build_secret sec[] = {
	    {(char *)"tok", (char *)"hunter2", 7},
	    {(char *)"short", (char *)"ab", 2},
	    {(char *)"bin", (char *)"x\0y", 3},
	};
	struct berth__reporter r = {.secrets = sec, .nsecrets = 3};
	char *m = berth__report_redact(&r, "pw=hunter2, twice hunter2hunter2", 32);
	tap_is_str(m, "pw=****, twice ********", "each occurrence of a value is masked");
	free(m);
	m = berth__report_redact(&r, "ab stays ab", 11);
	tap_is_str(m, "ab stays ab", "values under 3 bytes are not masked (as the runtime)");
	free(m);
	m = berth__report_redact(&r, "a x\0y b", 7);
	tap_is_str(m, "a **** b", "a value with a NUL byte is matched by its length");
	free(m);
}

int main(void)
{
	fixture_init("build-sources");
	test_archives();
	test_git();
	test_redact();
	struct berth_err *err = NULL;
	if (fixture_cleanup(&err) < 0)
		printf("# cleanup: %s\n", err->msg);
	berth_err_free(err);
	return tap_done();
}
