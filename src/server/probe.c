/* Readiness probes and port picking: the small network facts `berth run`
 * and the supervisor need about a runner. */
#include "server/server.h"

#include "registry/curl_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	return size * n;
}

int berth_http_probe(const char *url, const char *method, const char *header, int64_t timeout_ms,
		     long *status, struct berth_err **err)
{
	CURL *e = curl_easy_init();
	if (!e)
		return berth_err_set(err, BERTH_E_INTERNAL, "probe '%s': curl_easy_init failed",
				     url);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 5000));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	if (method && !strcmp(method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (method && strcmp(method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
	if (h)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	CURLcode rc = curl_easy_perform(e);
	int r = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	else
		r = berth_err_set(err,
				  rc == CURLE_OPERATION_TIMEDOUT ? BERTH_E_TIMEOUT : BERTH_E_SYS,
				  "probe '%s': %s", url, curl_easy_strerror(rc));
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	return r;
}

int berth_free_port(unsigned *port, struct berth_err **err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return berth_err_sys(err, errno, "pick a port: socket");
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;
		close(fd);
		return berth_err_sys(err, e, "pick a port on 127.0.0.1");
	}
	close(fd);
	*port = ntohs(sa.sin_port);
	return 0;
}
