/* A test client for the gateway's robustness, on 127.0.0.1 only:
 *   http_storm send PORT FILE...          each file as one raw request
 *   http_storm mutate PORT COUNT SEED FILE...  COUNT mutated requests
 *   http_storm hold PORT N idle|partial|slowbody SECONDS
 * send and mutate write every byte, close the sending side and read the
 * answer: it must come (or the connection close) within DEADLINE_S and
 * start with an HTTP status line. One TAP line per file (send) or a summary
 * (mutate). hold opens N connections that send nothing, trickle a header or
 * trickle a body, keeps them SECONDS (or until SIGTERM) and says how many
 * the server accepted, refused and closed. With HTTP_STORM_ASCII=1, mutate
 * turns bytes over 0x7f and %8x..%fx escapes into ASCII (a way around a
 * known crash on non-UTF-8 text while it is open). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"

#define DEADLINE_S  10         /* answer or close within this */
#define REQUEST_MAX (16 << 20) /* bytes of a request file */
/* A whole request (its header block ends) is given this long to be answered
 * before the sending side is closed: libmicrohttpd drops the answer of a
 * request whose client has half-closed. */
#define ANSWER_WAIT_MS 2000

static unsigned port;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

static int dial(bool nonblock)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = DEADLINE_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

enum outcome { ANSWERED, CLOSED, NO_CONNECT, TIMED_OUT, GARBLED };

/* Send one request; *status gets the answer's status (0 when none). */
static enum outcome exchange(const char *req, size_t len, int *status)
{
	*status = 0;
	int fd = dial(false);
	if (fd < 0)
		return NO_CONNECT;
	for (size_t off = 0; off < len;) {
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* the server answered early and closed: read it */
		off += (size_t)w;
	}
	bool whole = memmem(req, len, "\r\n\r\n", 4) || memmem(req, len, "\n\n", 2);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (!whole || poll(&pfd, 1, ANSWER_WAIT_MS) <= 0)
		shutdown(fd, SHUT_WR); /* the rest will never come: say so */
	char head[16];
	size_t got = 0;
	enum outcome o = CLOSED;
	while (got < 12) { /* the status line is all we judge */
		char buf[16384];
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			o = TIMED_OUT;
			break;
		}
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r && got < sizeof(head); i++)
			head[got++] = buf[i];
	}
	close(fd);
	if (o == TIMED_OUT || got == 0)
		return o;
	if (got < 12 || memcmp(head, "HTTP/1.", 7) || head[8] != ' ' || head[9] < '1' ||
	    head[9] > '5' || head[10] < '0' || head[10] > '9' || head[11] < '0' || head[11] > '9')
		return GARBLED;
	*status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
	return ANSWERED;
}

static const char *const outcome_name[] = {"answered", "closed without an answer",
					   "could not connect", "no answer and no close",
					   "not an HTTP status line"};

static int read_request(const char *path, struct berth_buf *b)
{
	struct berth_err *err = NULL;
	berth_buf_init(b, REQUEST_MAX);
	if (berth_fs_read_file(path, REQUEST_MAX, b, &err) < 0) {
		fprintf(stderr, "http_storm: %s\n", err->msg);
		berth_err_free(err);
		return -1;
	}
	return 0;
}

static int cmd_send(int argc, char **argv)
{
	int n = 0, failed = 0;
	for (int i = 0; i < argc; i++) {
		struct berth_buf b;
		if (read_request(argv[i], &b) < 0)
			return 2;
		int status;
		enum outcome o = exchange(b.data, b.len, &status);
		bool good = o == ANSWERED || o == CLOSED;
		failed += !good;
		printf("%sok %d - %s: %s %d\n", good ? "" : "not ", ++n, argv[i], outcome_name[o],
		       status);
		berth_buf_release(&b);
	}
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}

/* Tokens the mutator splices in: what HTTP parsers trip on. */
static const char *const tokens[] = {
    "\r\n",
    "\r\n\r\n",
    "\n",
    "\r",
    "\0",
    " ",
    ":",
    "%",
    "%00",
    "%2f",
    "%2e%2e/",
    "../",
    "?",
    "&",
    "=",
    "#",
    "/",
    "*",
    "HTTP/1.1",
    "HTTP/1.0",
    "HTTP/2.0",
    "HTTP/9.9",
    "GET ",
    "POST ",
    "PUT ",
    "DELETE ",
    "HEAD ",
    "CONNECT ",
    "OPTIONS ",
    "Content-Length: ",
    "-1",
    "0",
    "4294967296",
    "18446744073709551616",
    "Transfer-Encoding: chunked\r\n",
    "ffffffff\r\n",
    "0\r\n\r\n",
    "Expect: 100-continue\r\n",
    "Host: \r\n",
    "Connection: close\r\n",
    "Authorization: Key ",
    "Authorization: Bearer ",
    "/run/a/",
    "/queue/a/requests/x/status/stream",
    "/files/sha256:",
    "/v1/kv/a/",
    "/v1/apps/a/deploy",
    "/v1/keys",
    "\xff\xfe",
    "\xc3\x28",
    "{\"spec\":{}}",
};

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void mutate(struct berth_buf *b)
{
	int rounds = 1 + (int)(next() % 8);
	for (int k = 0; k < rounds; k++) {
		size_t len = b->len, at = len ? next() % (len + 1) : 0;
		struct berth_buf out;
		berth_buf_init(&out, REQUEST_MAX);
		switch (next() % 6) {
		case 0: /* flip a byte */
			if (len) {
				b->data[next() % len] ^= (char)(1u << (next() % 8));
			}
			berth_buf_release(&out);
			continue;
		case 1: /* delete a range */
			berth_buf_add(&out, b->data, at);
			if (at < len) {
				size_t n = 1 + next() % (len - at);
				berth_buf_add(&out, b->data + at + n, len - at - n);
			}
			break;
		case 2: /* duplicate a range */
			berth_buf_add(&out, b->data, at);
			if (at < len) {
				size_t n = 1 + next() % (len - at < 512 ? len - at : 512);
				berth_buf_add(&out, b->data + at, n);
			}
			berth_buf_add(&out, b->data + at, len - at);
			break;
		case 3: { /* splice a token */
			const char *t = tokens[next() % BERTH_ARRAY_SIZE(tokens)];
			berth_buf_add(&out, b->data, at);
			berth_buf_add(&out, t, *t ? strlen(t) : 1);
			berth_buf_add(&out, b->data + at, len - at);
			break;
		}
		case 4: /* a long run of one byte */
			berth_buf_add(&out, b->data, at);
			for (size_t n = next() % 70000; n; n--)
				berth_buf_addch(&out, "a%/\r: "[next() % 6]);
			berth_buf_add(&out, b->data + at, len - at);
			break;
		default: /* cut */
			berth_buf_add(&out, b->data, at);
		}
		berth_buf_release(b);
		*b = out;
	}
}

static int cmd_mutate(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long count = atol(argv[0]);
	rng = (uint64_t)atoll(argv[1]) * 2654435761u + 1;
	int nfiles = argc - 2;
	char **files = argv + 2;
	long by[6] = {0}, classes[6] = {0};
	const char *env = getenv("HTTP_STORM_ASCII");
	bool ascii = env && !strcmp(env, "1");
	/* HTTP_STORM_KEEP_5XX=1: keep the inputs answered 5xx too. */
	const char *k5 = getenv("HTTP_STORM_KEEP_5XX");
	bool keep_5xx = k5 && !strcmp(k5, "1");
	for (long i = 0; i < count; i++) {
		struct berth_buf b;
		if (read_request(files[next() % (uint64_t)nfiles], &b) < 0)
			return 2;
		mutate(&b);
		if (ascii)
			for (size_t k = 0; k < b.len; k++) {
				if ((unsigned char)b.data[k] > 0x7f)
					b.data[k] = 'x';
				if (b.data[k] == '%' && k + 1 < b.len && b.data[k + 1] &&
				    strchr("89abcdefABCDEF", b.data[k + 1]))
					b.data[k + 1] = '7';
			}
		int status;
		enum outcome o = exchange(b.data, b.len, &status);
		by[o]++;
		if (o == ANSWERED)
			classes[status / 100]++;
		bool failed = o != ANSWERED && o != CLOSED;
		if (failed || (o == ANSWERED && status >= 500 && keep_5xx)) {
			/* Keep the input for a rerun with `send`. */
			char name[64];
			snprintf(name, sizeof(name), "http_storm-%s-%ld",
				 failed ? "failure" : "5xx", i);
			struct berth_err *err = NULL;
			berth_fs_write_atomic(AT_FDCWD, name, b.data, b.len, 0644, &err);
			berth_err_free(err);
			fprintf(stderr, "http_storm: request %ld: %s %d (kept in %s)\n", i,
				outcome_name[o], status, name);
		}
		berth_buf_release(&b);
	}
	printf("requests %ld: answered %ld (1xx %ld, 2xx %ld, 3xx %ld, 4xx %ld, 5xx %ld), "
	       "closed %ld, no connect %ld, timed out %ld, garbled %ld\n",
	       count, by[ANSWERED], classes[1], classes[2], classes[3], classes[4], classes[5],
	       by[CLOSED], by[NO_CONNECT], by[TIMED_OUT], by[GARBLED]);
	return by[NO_CONNECT] || by[TIMED_OUT] || by[GARBLED] ? 1 : 0;
}

static int cmd_hold(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int n = atoi(argv[0]);
	const char *mode = argv[1];
	int seconds = atoi(argv[2]);
	if (n <= 0 || (strcmp(mode, "idle") && strcmp(mode, "partial") && strcmp(mode, "slowbody")))
		return 2;
	int *fds = berth_xcalloc((size_t)n, sizeof(*fds));
	int opened = 0, refused = 0;
	for (int i = 0; i < n && !stop; i++) {
		fds[i] = dial(false);
		if (fds[i] < 0) {
			refused++;
			continue;
		}
		opened++;
		const char *start =
		    !strcmp(mode, "partial")    ? "GET /healthz HTTP/1.1\r\nHost: x\r\n"
		    : !strcmp(mode, "slowbody") ? "PUT /v1/kv/slow/k HTTP/1.1\r\nHost: "
						  "x\r\nContent-Length: 1000000\r\n\r\n"
						: "";
		if (*start && send(fds[i], start, strlen(start), MSG_NOSIGNAL) < 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	printf("hold: %d opened, %d refused\n", opened, refused);
	fflush(stdout);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int closed = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (stop || t.tv_sec - t0.tv_sec >= seconds)
			break;
		/* A byte every second on each connection (a header line or body
		 * byte); a connection the server closed is counted once. */
		for (int i = 0; i < n; i++) {
			if (fds[i] < 0)
				continue;
			char buf[512];
			ssize_t r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
			bool gone = r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
			if (!gone && strcmp(mode, "idle"))
				gone = send(fds[i], !strcmp(mode, "partial") ? "X" : "b", 1,
					    MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
				       errno != EAGAIN;
			if (gone || r > 0) {
				close(fds[i]);
				fds[i] = -1;
				closed++;
			}
		}
		sleep(1);
	}
	int still = 0;
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0) {
			still++;
			close(fds[i]);
		}
	printf("hold: %d opened, %d refused, %d closed or answered by the server, %d still open\n",
	       opened, refused, closed, still);
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: http_storm send|mutate|hold PORT ARGS...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	port = (unsigned)atoi(argv[2]);
	if (!strcmp(argv[1], "send"))
		return cmd_send(argc - 3, argv + 3);
	if (!strcmp(argv[1], "mutate"))
		return cmd_mutate(argc - 3, argv + 3);
	if (!strcmp(argv[1], "hold"))
		return cmd_hold(argc - 3, argv + 3);
	fprintf(stderr, "http_storm: unknown command '%s'\n", argv[1]);
	return 2;
}
