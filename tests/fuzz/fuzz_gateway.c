/* Fuzz target: the gateway of `berth serve` as a client sees it. The first
 * call starts a real server (berth_server_run, on a thread, with a scratch
 * $BERTH_HOME and a free port on 127.0.0.1); each input is sent as raw bytes
 * on a fresh connection and the answer's status line read (the sending side
 * is closed when the input is not a whole request, or no answer came). The relay reads the head
 * (http-parser) and serves a warm sync call itself or hands the connection to libmicrohttpd,
 * which parses the request; berth routes and handles it. The server must never crash, must answer
 * or close within FUZZ_GW_DEADLINE_S seconds, and what it answers must start with an HTTP status
 * line. Build workers are /bin/false, so a deploy never builds.
 *
 * The admin API needs the server's local token: "local:TOKEN" in an input
 * is replaced with it (corpus entries for admin routes carry
 * "Authorization: Key local:TOKEN"), so the fuzzer reaches those handlers.
 *
 * FUZZ_GATEWAY_ASCII=1 in the environment turns every byte over 0x7f, and
 * every %8x..%fx escape, into ASCII before sending: a way to keep fuzzing
 * past the known crash on non-UTF-8 text in an error message (see
 * docs/reliability.md) until it is fixed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_GW_DEADLINE_S 10         /* answer or close within this */
#define FUZZ_GW_KEEP       (64 << 10) /* bytes of an answer looked at */
/* A whole request (its header block ends) is given this long to be answered
 * before the sending side is closed: libmicrohttpd drops the answer of a
 * request whose client has half-closed. */
#define FUZZ_GW_ANSWER_MS 100

static char home[] = "/tmp/berth-fuzz-gateway-XXXXXX";
static char listen_addr[64];
static unsigned port;
static volatile int server_done;
static char token[128]; /* the server's local admin token */
#define TOKEN_MARK "local:TOKEN"

static void remove_home(void)
{
	berth_fs_remove_tree(AT_FDCWD, home, NULL);
}

static void *serve(void *arg)
{
	/* berth_server_run waits for these with sigwait(): blocked here (and
	 * in the threads it starts), never in the fuzzer's own threads. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct berth_server_opts o = {.home = home, .listen = listen_addr, .berth = "/bin/false"};
	struct berth_err *err = NULL;
	if (berth_server_run(&o, &err) < 0) {
		fprintf(stderr, "fuzz_gateway: %s\n", err ? err->msg : "the server failed");
		berth_err_free(err);
	}
	server_done = 1;
	return NULL;
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		abort();
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = FUZZ_GW_DEADLINE_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void start_server(void)
{
	if (!mkdtemp(home))
		abort();
	atexit(remove_home);
	signal(SIGPIPE, SIG_IGN);
	for (int attempt = 0; attempt < 3; attempt++) {
		struct berth_err *err = NULL;
		if (berth_free_port(&port, &err) < 0)
			abort();
		snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%u", port);
		server_done = 0;
		pthread_t t;
		if (pthread_create(&t, NULL, serve, NULL) != 0)
			abort();
		pthread_detach(t);
		char path[sizeof(home) + 64];
		snprintf(path, sizeof(path), "%s/serve.%u.token", home, port);
		for (int i = 0; i < 1000 && !server_done; i++) {
			FILE *f = fopen(path, "r");
			bool have = f && fgets(token, sizeof(token), f);
			if (f)
				fclose(f);
			if (have) {
				token[strcspn(token, "\r\n")] = '\0';
				return;
			}
			usleep(10000);
		}
	}
	fprintf(stderr, "fuzz_gateway: the server did not start\n");
	abort();
}

/* "HTTP/1.x NNN" with NNN in 100..599. */
static bool status_line_ok(const char *p, size_t n)
{
	if (n < 12 || memcmp(p, "HTTP/1.", 7) || p[8] != ' ')
		return false;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return p[9] >= '1' && p[9] <= '5';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!port)
		start_server();
	if (size > (1u << 20))
		return 0;
	static int ascii = -1;
	if (ascii < 0)
		ascii = getenv("FUZZ_GATEWAY_ASCII") && !strcmp(getenv("FUZZ_GATEWAY_ASCII"), "1");
	uint8_t *copy = NULL;
	if (ascii) {
		copy = berth_xmalloc(size ? size : 1);
		memcpy(copy, data, size);
		for (size_t i = 0; i < size; i++) {
			if (copy[i] > 0x7f)
				copy[i] = 'x';
			if (copy[i] == '%' && i + 1 < size && copy[i + 1] &&
			    strchr("89abcdefABCDEF", copy[i + 1]))
				copy[i + 1] = '7';
		}
		data = copy;
	}
	/* "local:TOKEN" becomes "local:<the token>". */
	const uint8_t *mark = memmem(data, size, TOKEN_MARK, strlen(TOKEN_MARK));
	if (mark) {
		size_t off = (size_t)(mark - data), ml = strlen(TOKEN_MARK);
		size_t tl = strlen("local:") + strlen(token);
		uint8_t *t = berth_xmalloc(size - ml + tl);
		memcpy(t, data, off);
		memcpy(t + off, "local:", 6);
		memcpy(t + off + 6, token, strlen(token));
		memcpy(t + off + tl, data + off + ml, size - off - ml);
		size = size - ml + tl;
		data = t;
		free(copy);
		copy = t;
	}
	int fd = dial();
	if (fd < 0) {
		fprintf(stderr, "fuzz_gateway: cannot connect: %s (did the server stop?)\n",
			strerror(errno));
		abort();
	}
	/* The server may answer (431, 413, 400) and close before reading it
	 * all: a failed send is no finding. */
	for (size_t off = 0; off < size;) {
		ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	bool whole = memmem(data, size, "\r\n\r\n", 4) || memmem(data, size, "\n\n", 2);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	bool half_closed = false;
	if (!whole || poll(&pfd, 1, FUZZ_GW_ANSWER_MS) <= 0) {
		shutdown(fd, SHUT_WR); /* the rest will never come: say so */
		half_closed = true;
	}
	static char answer[FUZZ_GW_KEEP];
	size_t got = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char buf[16384];
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			fprintf(stderr, "fuzz_gateway: no answer and no close in %d s\n",
				FUZZ_GW_DEADLINE_S);
			abort();
		}
		if (r <= 0)
			break; /* closed (or reset): fine */
		if (got < sizeof(answer)) {
			size_t k =
			    (size_t)r < sizeof(answer) - got ? (size_t)r : sizeof(answer) - got;
			memcpy(answer + got, buf, k);
			got += k;
		}
		if (got >= 12 && !half_closed) {
			/* Answered: let the server finish (its coverage counts for
			 * this input) and close, rather than wait for a next request. */
			shutdown(fd, SHUT_WR);
			half_closed = true;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 3 * FUZZ_GW_DEADLINE_S) {
			fprintf(stderr, "fuzz_gateway: the answer is still streaming after %d s\n",
				3 * FUZZ_GW_DEADLINE_S);
			abort();
		}
	}
	close(fd);
	free(copy);
	if (got && !status_line_ok(answer, got)) {
		fprintf(stderr,
			"fuzz_gateway: the answer does not start with a status line: %.*s\n",
			(int)(got < 80 ? got : 80), answer);
		abort();
	}
	return 0;
}
