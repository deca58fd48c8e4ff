/* The build's progress, as the caller asked for it: plain lines (each step,
 * CACHED or why it missed, RUN output as it comes) or one JSON object per
 * line per event (docs/build.md lists them). Every string leaves with the
 * build secrets' values masked. Written to the caller's stream, each JSON
 * event in one write(2), so that stages built by child processes at once
 * never interleave inside a line. */
#include "build/build_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPORT_LINE_MAX (64u << 10) /* a RUN output line longer than this is cut in pieces */

/* Secrets shorter than this are not masked (the runtime's rule). */
#define REPORT_REDACT_MIN 3

char *berth__report_redact(const struct berth__reporter *r, const char *s, size_t len)
{
	struct berth_buf out;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < len;) {
		size_t hit = 0;
		for (size_t k = 0; k < r->nsecrets && !hit; k++) {
			const struct berth_build_secret *sec = &r->secrets[k];
			if (sec->len >= REPORT_REDACT_MIN && sec->len <= len - i &&
			    memcmp(s + i, sec->value, sec->len) == 0)
				hit = sec->len;
		}
		if (hit) {
			berth_buf_addstr(&out, "****");
			i += hit;
		} else {
			berth_buf_addch(&out, s[i++]);
		}
	}
	char *res = berth_buf_steal(&out, NULL);
	return res ? res : berth_xstrdup("");
}

static int64_t ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* One line to the stream in one write. */
static void put_line(const struct berth__reporter *r, const char *s, size_t len)
{
	fflush(r->out);
	int fd = fileno(r->out);
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* progress is best effort: a closed stream stops nothing */
		s += n;
		len -= (size_t)n;
	}
}

/* A JSON event: {"type": TYPE, the step's place when in one, ...extra}. */
static void put_event(const struct berth__reporter *r, const char *type, json_t *extra)
{
	json_t *e = json_pack("{s:s}", "type", type);
	if (r->in_step) {
		json_object_set_new(e, "stage", json_string(r->stage));
		json_object_set_new(e, "stage_index", json_integer(r->stage_index));
		json_object_set_new(e, "step", json_integer(r->step));
	}
	json_object_update(e, extra);
	json_decref(extra);
	char *text = json_dumps(e, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(e);
	if (!text)
		return;
	size_t len = strlen(text);
	text = berth_xrealloc(text, len + 2);
	text[len] = '\n';
	put_line(r, text, len + 1);
	free(text);
}

/* A string field, masked. */
static json_t *jstr(const struct berth__reporter *r, const char *s)
{
	_cleanup_free_ char *m = berth__report_redact(r, s, strlen(s));
	return json_stringn(m, strlen(m));
}

/* A plain line, masked, ending in a newline. */
static void put_plain(const struct berth__reporter *r, const char *line)
{
	_cleanup_free_ char *m = berth__report_redact(r, line, strlen(line));
	_cleanup_free_ char *nl = berth_xasprintf("%s\n", m);
	put_line(r, nl, strlen(nl));
}

void berth__report_step(struct berth__reporter *r, const char *stage, int stage_index, int step,
			int steps, const char *text)
{
	r->in_step = true;
	snprintf(r->stage, sizeof(r->stage), "%s", stage);
	r->stage_index = stage_index;
	r->step = step;
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	if (!r->out)
		return;
	if (r->json) {
		put_event(r, "step",
			  json_pack("{s:i, s:o}", "steps", steps, "text", jstr(r, text)));
		return;
	}
	_cleanup_free_ char *line = berth_xasprintf("[%s %d/%d] %s", stage, step, steps, text);
	put_plain(r, line);
}

void berth__report_cached(struct berth__reporter *r, const char *key)
{
	if (!r->out)
		return;
	if (r->json)
		put_event(r, "cached", json_pack("{s:s}", "key", key));
	else
		put_plain(r, "  CACHED");
}

void berth__report_miss(struct berth__reporter *r, const char *key, const char *reason)
{
	if (!r->out)
		return;
	if (r->json) {
		put_event(r, "miss",
			  json_pack("{s:s, s:o}", "key", key, "reason", jstr(r, reason)));
		return;
	}
	_cleanup_free_ char *line = berth_xasprintf("  cache miss: %s", reason);
	put_plain(r, line);
}

void berth__report_explain(struct berth__reporter *r, const char *key, const char *parent,
			   const struct berth_strv *parts)
{
	if (!r->out)
		return;
	if (r->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < parts->n; i++)
			json_array_append_new(a, jstr(r, parts->v[i]));
		put_event(r, "key",
			  json_pack("{s:s, s:s, s:o}", "key", key, "parent", parent, "inputs", a));
		return;
	}
	_cleanup_free_ char *head = berth_xasprintf("  key %.19s from: parent %.19s", key, parent);
	put_plain(r, head);
	for (size_t i = 0; i < parts->n; i++) {
		_cleanup_free_ char *line = berth_xasprintf("    %s", parts->v[i]);
		put_plain(r, line);
	}
}

void berth__report_done(struct berth__reporter *r, const char *layer)
{
	if (r->out && r->json)
		put_event(r, "done",
			  json_pack("{s:I, s:o}", "duration_ms", (json_int_t)ms_since(&r->started),
				    "layer", layer ? json_string(layer) : json_null()));
	r->in_step = false;
}

void berth__report_info(struct berth__reporter *r, const char *fmt, ...)
{
	if (!r->out)
		return;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *text = berth_xvasprintf(fmt, ap);
	va_end(ap);
	if (r->json) {
		put_event(r, "info", json_pack("{s:o}", "text", jstr(r, text)));
		return;
	}
	_cleanup_free_ char *line = berth_xasprintf("  %s", text);
	put_plain(r, line);
}

void berth__report_warning(struct berth__reporter *r, const char *fmt, ...)
{
	if (!r->out)
		return;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *text = berth_xvasprintf(fmt, ap);
	va_end(ap);
	if (r->json) {
		put_event(r, "warning", json_pack("{s:o}", "text", jstr(r, text)));
		return;
	}
	_cleanup_free_ char *line = berth_xasprintf("warning: %s", text);
	put_plain(r, line);
}

void berth__report_build(struct berth__reporter *r, const char *digest, int64_t duration_ms)
{
	r->in_step = false;
	if (r->out && r->json)
		put_event(r, "build",
			  json_pack("{s:s, s:I}", "image", digest, "duration_ms",
				    (json_int_t)duration_ms));
}

/* ------------------------------------------------------------ RUN output */

/* The relay: a child process that reads the RUN's stdout and stderr from
 * pipes and reports each line as an "output" event. (The builder's own
 * process cannot run a thread: the runner needs it single-threaded.) */
static void relay_line(struct berth__reporter *r, const char *stream, const char *s, size_t len)
{
	_cleanup_free_ char *m = berth__report_redact(r, s, len);
	put_event(r, "output", json_pack("{s:s, s:s}", "stream", stream, "line", m));
}

static void relay_main(struct berth__reporter *r, int out_fd, int err_fd)
{
	struct pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
	static const char *const names[2] = {"stdout", "stderr"};
	struct berth_buf line[2];
	berth_buf_init(&line[0], BERTH_BUF_UNLIMITED);
	berth_buf_init(&line[1], BERTH_BUF_UNLIMITED);
	char buf[8192];
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int s = 0; s < 2; s++) {
			if (p[s].fd < 0 || !(p[s].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(p[s].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(p[s].fd);
				p[s].fd = -1;
				continue;
			}
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == '\n' || line[s].len >= REPORT_LINE_MAX) {
					relay_line(r, names[s], line[s].data ? line[s].data : "",
						   line[s].len);
					berth_buf_reset(&line[s]);
					if (buf[i] == '\n')
						continue;
				}
				berth_buf_addch(&line[s], buf[i]);
			}
		}
	}
	for (int s = 0; s < 2; s++)
		if (line[s].len)
			relay_line(r, names[s], line[s].data, line[s].len);
	_exit(0);
}

int berth__report_output_start(struct berth__reporter *r, struct berth__relay *rl,
			       struct berth_err **err)
{
	*rl = (struct berth__relay){.out_fd = -1, .err_fd = -1, .pid = -1};
	if (!r->out)
		return 0;
	if (!r->json) {
		rl->out_fd = rl->err_fd = fileno(r->out);
		fflush(r->out);
		return 0;
	}
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) < 0)
		return berth_err_sys(err, errno, "progress: pipe");
	if (pipe2(pe, O_CLOEXEC) < 0) {
		int e = errno;
		close(po[0]);
		close(po[1]);
		return berth_err_sys(err, e, "progress: pipe");
	}
	fflush(r->out);
	pid_t pid = fork();
	if (pid == 0) {
		close(po[1]);
		close(pe[1]);
		signal(SIGINT, SIG_IGN); /* the build's stop reaches the container first */
		relay_main(r, po[0], pe[0]);
	}
	close(po[0]);
	close(pe[0]);
	if (pid < 0) {
		int e = errno;
		close(po[1]);
		close(pe[1]);
		return berth_err_sys(err, e, "progress: fork");
	}
	*rl = (struct berth__relay){.out_fd = po[1], .err_fd = pe[1], .pid = pid, .owned = true};
	return 0;
}

void berth__report_output_end(struct berth__relay *rl)
{
	if (!rl->owned)
		return;
	close(rl->out_fd);
	close(rl->err_fd);
	while (waitpid(rl->pid, NULL, 0) < 0 && errno == EINTR)
		;
	*rl = (struct berth__relay){.out_fd = -1, .err_fd = -1, .pid = -1};
}
