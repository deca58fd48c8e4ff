/* Container logs in the CRI format Kubernetes uses, one record per line:
 * "<RFC 3339 UTC, ns> stdout|stderr F|P <text>". F ends a line; P is a piece
 * of a longer line (or the unterminated tail), so the output can be rebuilt
 * byte for byte and each record keeps its stream and time. */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A line longer than this is split into P records. */
#define LOG_LINE_MAX (16u * 1024)

static const char *const stream_names[] = {"stdout", "stderr"};

static void write_all_fd(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a full disk loses log lines, never the container */
		p += w;
		n -= (size_t)w;
	}
}

static void record(struct berth__log_writer *w, int stream, char tag, const char *text, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char head[80];
	size_t h = strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(head + h, sizeof(head) - h, ".%09ldZ %s %c ", ts.tv_nsec, stream_names[stream],
		 tag);
	struct berth_buf b;
	berth_buf_init(&b, LOG_LINE_MAX + sizeof(head) + 2);
	berth_buf_addstr(&b, head);
	berth_buf_add(&b, text, len);
	berth_buf_addch(&b, '\n');
	write_all_fd(w->fd, b.data, b.len);
	berth_buf_release(&b);
}

void berth__log_init(struct berth__log_writer *w, int fd)
{
	w->fd = fd;
	berth_buf_init(&w->pending[0], LOG_LINE_MAX);
	berth_buf_init(&w->pending[1], LOG_LINE_MAX);
}

void berth__log_add(struct berth__log_writer *w, int stream, const char *data, size_t len)
{
	struct berth_buf *p = &w->pending[stream];
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		size_t room = LOG_LINE_MAX - p->len;
		if (take > room) {
			/* Fill the pending piece and flush it as a partial record. */
			berth_buf_add(p, data, room);
			record(w, stream, 'P', p->data, p->len);
			berth_buf_reset(p);
			data += room;
			len -= room;
			continue;
		}
		berth_buf_add(p, data, take);
		data += take;
		len -= take;
		if (nl) {
			record(w, stream, 'F', p->data, p->len);
			berth_buf_reset(p);
			data++;
			len--;
		}
	}
}

void berth__log_finish(struct berth__log_writer *w)
{
	for (int s = 0; s < 2; s++) {
		if (w->pending[s].len)
			record(w, s, 'P', w->pending[s].data, w->pending[s].len);
		berth_buf_release(&w->pending[s]);
	}
}

/* --- reading --- */

/* One record: the text goes to its stream's fd; F adds the newline back. */
static void print_record(const char *line, size_t len, int out_fd, int err_fd)
{
	const char *sp1 = memchr(line, ' ', len);
	if (!sp1)
		return;
	const char *rest = sp1 + 1;
	size_t left = len - (size_t)(rest - line);
	int fd;
	if (left >= 9 && memcmp(rest, "stdout ", 7) == 0)
		fd = out_fd;
	else if (left >= 9 && memcmp(rest, "stderr ", 7) == 0)
		fd = err_fd;
	else
		return;
	char tag = rest[7];
	const char *text = rest + 9;
	size_t tlen = left - 9;
	write_all_fd(fd, text, tlen);
	if (tag == 'F')
		write_all_fd(fd, "\n", 1);
}

int berth_runner_logs(const char *home, const char *id, int out_fd, int err_fd, bool follow,
		      struct berth_err **err)
{
	_cleanup_free_ char *dir = berth_xasprintf("%s/runners/%s", home, id);
	_cleanup_free_ char *path = berth_xasprintf("%s/container.log", dir);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return berth_err_sys(err, errno, "logs of %s", id);
	struct berth_buf line;
	berth_buf_init(&line, LOG_LINE_MAX + 128);
	char buf[65536];
	for (;;) {
		bool running = follow && berth__runner_locked(dir);
		if (fd < 0)
			fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			berth_buf_release(&line);
			return berth_err_sys(err, errno, "logs of %s", id);
		}
		if (n == 0) {
			if (!running)
				break;
			struct timespec ts = {0, 50 * 1000 * 1000};
			nanosleep(&ts, NULL);
			continue;
		}
		for (ssize_t k = 0; k < n;) {
			const char *nl = memchr(buf + k, '\n', (size_t)(n - k));
			size_t take = nl ? (size_t)(nl - (buf + k)) : (size_t)(n - k);
			if (berth_buf_add(&line, buf + k, take) < 0)
				berth_buf_reset(&line); /* not a record of ours: skip it */
			k += (ssize_t)take;
			if (nl) {
				print_record(line.data ? line.data : "", line.len, out_fd, err_fd);
				berth_buf_reset(&line);
				k++;
			}
		}
	}
	berth_buf_release(&line);
	return 0;
}
