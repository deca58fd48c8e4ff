/* Plain HTTP(S) downloads (ADD <url>), on the same libcurl as the registry
 * client: the body goes to a file and through SHA-256 as it arrives. */
#include "registry/registry_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sink {
	int fd;
	struct berth_sha256 hash;
	int64_t size;
	int err; /* errno of a failed write */
	bool over;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
	struct sink *k = ctx;
	size_t len = sz * n;
	if (k->size + (int64_t)len > BERTH_DOWNLOAD_MAX) {
		k->over = true;
		return 0;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(k->fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			k->err = errno;
			return 0;
		}
		off += (size_t)w;
	}
	berth_sha256_update(&k->hash, p, len);
	k->size += (int64_t)len;
	return len;
}

int berth_http_download(const char *url, int fd, struct berth_download *out, struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	out->mtime = -1;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return berth_err_set(err, BERTH_E_INVALID, "'%s': only http and https URLs", url);
	if (berth__reg_curl_init(err) < 0)
		return -1;
	CURL *e = curl_easy_init();
	if (!e)
		return berth_err_set(err, BERTH_E_INTERNAL, "'%s': initialise libcurl", url);
	struct sink k = {.fd = fd};
	berth_sha256_init(&k.hash);
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(e, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "berth");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &k);
	CURLcode rc = curl_easy_perform(e);
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	int r = 0;
	if (k.over)
		r = berth_err_set(err, BERTH_E_LIMIT, "'%s': larger than %lld bytes", url,
				  (long long)BERTH_DOWNLOAD_MAX);
	else if (k.err)
		r = berth_err_sys(err, k.err, "'%s': write the download", url);
	else if (rc != CURLE_OK)
		r = berth_err_set(err, BERTH_E_SYS, "'%s': %s", url,
				  *errbuf ? errbuf : curl_easy_strerror(rc));
	else if (status >= 400)
		r = berth_err_set(err, status == 404 ? BERTH_E_NOT_FOUND : BERTH_E_SYS,
				  "'%s': HTTP status %ld", url, status);
	if (r == 0) {
		curl_off_t t = -1;
		if (curl_easy_getinfo(e, CURLINFO_FILETIME_T, &t) == CURLE_OK && t >= 0)
			out->mtime = (int64_t)t;
		char *eff = NULL;
		curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff);
		const char *u = eff ? eff : url;
		const char *path = strstr(u, "://");
		path = path ? strchr(path + 3, '/') : NULL;
		if (path) {
			size_t plen = strcspn(path, "?#");
			const char *last = path + plen;
			while (last > path && last[-1] != '/')
				last--;
			if (path + plen > last)
				out->filename = berth_xstrndup(last, (size_t)(path + plen - last));
		}
		out->size = k.size;
	}
	berth_sha256_final_digest(&k.hash, out->digest);
	berth_sha256_release(&k.hash);
	curl_easy_cleanup(e);
	return r;
}

void berth_download_release(struct berth_download *d)
{
	free(d->filename);
	memset(d, 0, sizeof(*d));
}
