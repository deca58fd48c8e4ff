/* Unit tests for image/: references, manifests and configs, the blob store
 * (verification, nothing half-written left), tags in SQLite, repair of what
 * dead processes left, and image removal keeping shared blobs. */
#include "image/image.h"
#include "tap.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_refs(void)
{
	static const struct {
		const char *in, *canonical, *familiar, *api_host;
	} good[] = {
	    {"python:3.11", "docker.io/library/python:3.11", "python:3.11", "registry-1.docker.io"},
	    {"python", "docker.io/library/python:latest", "python:latest", "registry-1.docker.io"},
	    {"library/python", "docker.io/library/python:latest", "python:latest", NULL},
	    {"docker.io/python", "docker.io/library/python:latest", "python:latest", NULL},
	    {"index.docker.io/library/python:3", "docker.io/library/python:3", "python:3", NULL},
	    {"myuser/image:tag", "docker.io/myuser/image:tag", "myuser/image:tag", NULL},
	    {"localhost/app", "localhost/app:latest", "localhost/app:latest", "localhost"},
	    {"localhost:5000/app:v1", "localhost:5000/app:v1", NULL, "localhost:5000"},
	    {"127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t", NULL, "127.0.0.1:5000"},
	    {"us-central1-docker.pkg.dev/p/r/img:tag", "us-central1-docker.pkg.dev/p/r/img:tag",
	     NULL, NULL},
	    {"123456789012.dkr.ecr.us-east-1.amazonaws.com/image:tag",
	     "123456789012.dkr.ecr.us-east-1.amazonaws.com/image:tag", NULL, NULL},
	    {"foo/bar:v1.0-rc_1", "docker.io/foo/bar:v1.0-rc_1", NULL, NULL},
	    {"a/b__c/d-e.f:x", "docker.io/a/b__c/d-e.f:x", NULL, NULL},
	    {"[::1]:5000/app", "[::1]:5000/app:latest", NULL, NULL},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(good); i++) {
		struct berth_ref r;
		struct berth_err *err = NULL;
		if (!tap_ok(berth_ref_parse(good[i].in, &r, &err) == 0, "ref '%s' parses",
			    good[i].in)) {
			tap_diag("error", err ? err->msg : NULL);
			berth_err_free(err);
			continue;
		}
		char *c = berth_ref_string(&r), *f = berth_ref_familiar(&r);
		tap_is_str(c, good[i].canonical, "ref '%s' canonical", good[i].in);
		if (good[i].familiar)
			tap_is_str(f, good[i].familiar, "ref '%s' familiar", good[i].in);
		if (good[i].api_host)
			tap_is_str(berth_ref_api_host(&r), good[i].api_host, "ref '%s' api host",
				   good[i].in);
		free(c);
		free(f);
		berth_ref_release(&r);
	}
	const char *dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	_cleanup_free_ char *bydigest = berth_xasprintf("ghcr.io/o/r@%s", dg);
	_cleanup_free_ char *both = berth_xasprintf("ghcr.io/o/r:v2@%s", dg);
	struct berth_ref r;
	tap_ok(berth_ref_parse(bydigest, &r, NULL) == 0 && !r.tag && !strcmp(r.digest, dg) &&
		   !strcmp(berth_ref_api_ref(&r), dg),
	       "a digest reference has no tag and asks by digest");
	berth_ref_release(&r);
	tap_ok(berth_ref_parse(both, &r, NULL) == 0 && !strcmp(r.tag, "v2") &&
		   !strcmp(berth_ref_api_ref(&r), dg),
	       "tag and digest: the digest wins");
	berth_ref_release(&r);

	static const struct {
		const char *in, *msg;
	} bad[] = {
	    {"", "empty image reference"},
	    {"Python:3", "repository name must be lowercase"},
	    {"python:", "invalid tag ''"},
	    {"python:-x", "invalid tag '-x'"},
	    {"python@sha256:abc", "invalid digest 'sha256:abc'"},
	    {"a//b", "invalid repository component"},
	    {"a/b/", "empty repository component"},
	    {"host:5000/", "missing repository name"},
	    {"a..b/c", "invalid registry host 'a..b'"},
	    {"x/a..b", "invalid repository component 'a..b'"},
	    {"exa_mple.com/x", "invalid registry host 'exa_mple.com'"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(bad); i++) {
		struct berth_err *err = NULL;
		int rc = berth_ref_parse(bad[i].in, &r, &err);
		tap_ok(rc < 0 && err && strstr(err->msg, bad[i].msg), "ref '%s' is rejected: %s",
		       bad[i].in, bad[i].msg);
		if (rc < 0 && err && !strstr(err->msg, bad[i].msg))
			tap_diag("got", err->msg);
		berth_err_free(err);
	}
	char big[300];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tap_ok(berth_ref_parse(big, &r, NULL) == -BERTH_E_LIMIT,
	       "an over-long name is a limit error");

	char chain[BERTH_DIGEST_LEN + 1];
	berth_chain_id(NULL, dg, chain);
	tap_is_str(chain, dg, "the first chain id is the diff id");
	berth_chain_id(dg, dg, chain);
	char hex[65];
	_cleanup_free_ char *joined = berth_xasprintf("%s %s", dg, dg);
	berth_sha256_hex(joined, strlen(joined), hex);
	tap_ok(!strcmp(chain + 7, hex), "chain id = sha256(parent + ' ' + diff id)");
}

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static void test_manifests(void)
{
	const char *oci = "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\","
			  "\"config\":{\"mediaType\":\"" BERTH_MT_OCI_CONFIG "\",\"digest\":\"" D1
			  "\",\"size\":10},\"layers\":[{\"mediaType\":\"" BERTH_MT_OCI_LAYER_GZIP
			  "\",\"digest\":\"" D2 "\",\"size\":20}]}";
	struct berth_manifest m;
	struct berth_err *err = NULL;
	tap_ok(berth_manifest_parse(oci, strlen(oci), BERTH_MT_OCI_MANIFEST, &m, &err) == 0,
	       "an OCI manifest parses");
	tap_ok(m.kind == BERTH_MANIFEST_IMAGE && m.nlayers == 1 && m.layers[0].size == 20 &&
		   !strcmp(m.config.digest, D1),
	       "config and layers are read");
	berth_manifest_release(&m);
	tap_ok(berth_manifest_parse(oci, strlen(oci), BERTH_MT_DOCKER_MANIFEST, &m, &err) < 0 &&
		   strstr(err->msg, "does not match the served type"),
	       "a served type that contradicts mediaType is an error");
	berth_err_free(err);
	err = NULL;
	tap_ok(berth_manifest_parse(oci, strlen(oci), "application/json; charset=utf-8", &m,
				    NULL) == 0,
	       "a generic served type is ignored");
	berth_manifest_release(&m);

	const char *docker =
	    "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_DOCKER_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"" BERTH_MT_DOCKER_CONFIG "\",\"digest\":\"" D1
	    "\",\"size\":10},\"layers\":[{\"mediaType\":\"" BERTH_MT_DOCKER_LAYER
	    "\",\"digest\":\"" D2 "\",\"size\":20},{\"mediaType\":\"" BERTH_MT_DOCKER_LAYER
	    "\",\"digest\":\"" D3 "\",\"size\":30}]}";
	tap_ok(berth_manifest_parse(docker, strlen(docker), NULL, &m, NULL) == 0 &&
		   m.nlayers == 2 && berth_layer_media_type_ok(m.layers[1].media_type),
	       "a Docker schema 2 manifest parses with the same code");
	berth_manifest_release(&m);

	const char *index =
	    "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_DOCKER_LIST "\",\"manifests\":["
	    "{\"mediaType\":\"" BERTH_MT_DOCKER_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
	    "{\"mediaType\":\"" BERTH_MT_DOCKER_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":2,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
	const struct berth_descriptor *d = NULL;
	tap_ok(berth_manifest_parse(index, strlen(index), BERTH_MT_DOCKER_LIST, &m, NULL) == 0 &&
		   m.kind == BERTH_MANIFEST_INDEX && m.nmanifests == 2,
	       "a manifest list parses");
	tap_ok(berth_manifest_select(&m, "linux", "amd64", NULL, &d, NULL) == 0 &&
		   !strcmp(d->digest, D2),
	       "linux/amd64 is selected from the list");
	tap_ok(berth_manifest_select(&m, "linux", "s390x", NULL, &d, &err) == -BERTH_E_NOT_FOUND &&
		   strstr(err->msg, "it has: linux/arm64/v8, linux/amd64"),
	       "a missing platform names what the index has");
	berth_err_free(err);
	err = NULL;
	berth_manifest_release(&m);

	const char *v1 = "{\"schemaVersion\":1,\"name\":\"x\"}";
	tap_ok(berth_manifest_parse(v1, strlen(v1), NULL, &m, &err) == -BERTH_E_UNSUPPORTED &&
		   strstr(err->msg, "schema 1"),
	       "schema 1 is refused with a reason");
	berth_err_free(err);
	err = NULL;
	const char *nosize =
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\"},\"layers\":[]}";
	tap_ok(berth_manifest_parse(nosize, strlen(nosize), NULL, &m, &err) < 0 &&
		   strstr(err->msg, "needs a digest and a size"),
	       "a descriptor without size is an error");
	berth_err_free(err);

	const char *cfg = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
			  "\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]},\"config\":{}}";
	struct berth_image_config c;
	tap_ok(berth_image_config_parse(cfg, strlen(cfg), &c, NULL) == 0 && c.diff_ids.n == 2,
	       "a config's diff_ids are read");
	berth_image_config_release(&c);
	const char *badcfg = "{\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[]}}";
	tap_ok(berth_image_config_parse(badcfg, strlen(badcfg), &c, NULL) < 0,
	       "a config without architecture is an error");
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_store(void)
{
	char tmpl[] = "/tmp/berth-store-XXXXXX";
	char *home = mkdtemp(tmpl);
	struct berth_store *s;
	struct berth_err *err = NULL;
	tap_ok(berth_store_open(home, &s, &err) == 0, "the store opens in an empty directory");
	_cleanup_free_ char *tmpdir = berth_xasprintf("%s/blobs/tmp", home);
	_cleanup_free_ char *blobdir = berth_xasprintf("%s/blobs/sha256", home);

	char digest[BERTH_DIGEST_LEN + 1], hex[65];
	berth_sha256_hex("hello", 5, hex);
	_cleanup_free_ char *want = berth_xasprintf("sha256:%s", hex);
	tap_ok(berth_blob_put(s, "hello", 5, want, digest, NULL) == 0 && !strcmp(digest, want),
	       "a blob with the right digest is stored");
	tap_ok(berth_blob_exists(s, want), "and exists");
	tap_ok(berth_blob_put(s, "hellO", 5, want, NULL, &err) == -BERTH_E_INVALID &&
		   strstr(err->msg, "digest mismatch"),
	       "a wrong digest is refused");
	berth_err_free(err);
	err = NULL;
	struct berth_blob_writer *w;
	berth_blob_writer_new(s, NULL, 10, &w, NULL);
	berth_blob_write(w, "12345", 5, NULL);
	tap_ok(berth_blob_commit(w, NULL, &err) < 0 && strstr(err->msg, "got 5 bytes, expected 10"),
	       "a truncated blob is refused");
	berth_err_free(err);
	err = NULL;
	tap_is_int(count_entries(tmpdir), 0, "nothing half-written is left in blobs/tmp");
	tap_is_int(count_entries(blobdir), 1, "only the good blob is in blobs/sha256");
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, 100);
	tap_ok(berth_blob_read(s, want, 100, &b, NULL) == 0 && !strcmp(b.data, "hello"),
	       "a blob reads back");
	tap_ok(berth_blob_open(s, D3, &err) == -BERTH_E_NOT_FOUND, "a missing blob is NOT_FOUND");
	berth_err_free(err);
	err = NULL;

	tap_ok(berth_store_tag(s, "docker.io/library/a:1", want, BERTH_MT_OCI_MANIFEST, 5, NULL) ==
		   0,
	       "tag");
	tap_ok(berth_store_tag(s, "docker.io/library/a:1", D1, BERTH_MT_OCI_MANIFEST, 7, NULL) == 0,
	       "re-tagging moves the tag");
	struct berth_image_entry e;
	tap_ok(berth_store_lookup(s, "docker.io/library/a:1", &e, NULL) == 0 &&
		   !strcmp(e.digest, D1) && e.size == 7,
	       "lookup finds the moved tag");
	berth_image_entry_release(&e);
	berth_store_tag(s, "docker.io/library/b:1", D2, BERTH_MT_OCI_MANIFEST, 1, NULL);
	struct berth_image_entry *list;
	size_t n;
	tap_ok(berth_store_list(s, &list, &n, NULL) == 0 && n == 2 &&
		   !strcmp(list[0].name, "docker.io/library/a:1"),
	       "list is sorted by name");
	for (size_t i = 0; i < n; i++)
		berth_image_entry_release(&list[i]);
	free(list);
	tap_ok(berth_store_untag(s, "docker.io/library/b:1", NULL) == 0, "untag");
	tap_ok(berth_store_lookup(s, "docker.io/library/b:1", &e, &err) == -BERTH_E_NOT_FOUND &&
		   strstr(err->msg, "is not in the store"),
	       "an untagged name is gone");
	berth_err_free(err);
	err = NULL;
	berth_store_close(s);

	/* A dead process's temp file is removed on the next open; a live
	 * process's (ours) is left alone by the others. */
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	_cleanup_free_ char *stale = berth_xasprintf("%s/%d-0-0", tmpdir, (int)child);
	close(open(stale, O_CREAT | O_WRONLY, 0600));
	_cleanup_free_ char *other = berth_xasprintf("%s/README", tmpdir);
	close(open(other, O_CREAT | O_WRONLY, 0600));
	tap_ok(berth_store_open(home, &s, NULL) == 0, "the store reopens");
	tap_ok(access(stale, F_OK) < 0, "a dead process's temp blob is removed");
	tap_ok(access(other, F_OK) == 0, "files berth did not name are left alone");
	struct berth_image_entry e2;
	tap_ok(berth_store_lookup(s, "docker.io/library/a:1", &e2, NULL) == 0,
	       "tags survive a reopen");
	berth_image_entry_release(&e2);
	berth_store_close(s);
	berth_fs_remove_tree(AT_FDCWD, home, NULL);
}

int main(void)
{
	test_refs();
	test_manifests();
	test_store();
	return tap_done();
}
