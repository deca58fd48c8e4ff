/* Idle keep-alive connections from the relay to the runners, kept a few
 * seconds for the next call to the same runner (a runner whose server
 * closes after each answer, busybox httpd, never leaves one). An idle
 * connection is watched: the runner closing it, or sending anything
 * unasked, drops it. */
#include "server/relay_int.h"

#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Out of the pool; freed once the events at hand are handled (one may
 * still point to it: its fd -1 says it is gone). */
static void unlink_idle(struct srv_relay *r, struct relay_idle *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		r->idle = x->next;
	if (x->next)
		x->next->prev = x->prev;
	r->nidle--;
	x->fd = -1;
	x->next = r->dead_idle;
	r->dead_idle = x;
}

void relay_pool_free_dead(struct srv_relay *r)
{
	while (r->dead_idle) {
		struct relay_idle *x = r->dead_idle;
		r->dead_idle = x->next;
		free(x);
	}
}

int relay_pool_take(struct srv_relay *r, unsigned port, const char *runner)
{
	for (struct relay_idle *x = r->idle; x; x = x->next)
		if (x->port == port && !strcmp(x->runner, runner)) {
			int fd = x->fd;
			unlink_idle(r, x);
			return fd; /* still watched: the caller re-tags it */
		}
	return -1;
}

void relay_pool_put(struct srv_relay *r, int fd, unsigned port, const char *runner)
{
	unsigned same = 0;
	for (struct relay_idle *x = r->idle; x; x = x->next)
		same += x->port == port && !strcmp(x->runner, runner);
	if (same >= RELAY_POOL_MAX || r->draining) {
		relay_watch(r, EPOLL_CTL_DEL, fd, 0, NULL); /* see relay_close */
		close(fd);
		return;
	}
	struct relay_idle *x = berth_xcalloc(1, sizeof(*x));
	x->tag.kind = RELAY_IDLE;
	x->tag.idle = x;
	x->fd = fd;
	x->port = port;
	snprintf(x->runner, sizeof(x->runner), "%s", runner);
	x->since = srv_mono();
	/* Newest first: the next call takes the one most likely still open. */
	x->next = r->idle;
	if (r->idle)
		r->idle->prev = x;
	r->idle = x;
	r->nidle++;
	relay_watch(r, EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLRDHUP, &x->tag);
}

void relay_pool_drop(struct srv_relay *r, struct relay_idle *x)
{
	relay_watch(r, EPOLL_CTL_DEL, x->fd, 0, NULL); /* see relay_close */
	close(x->fd);
	unlink_idle(r, x);
}

void relay_pool_expire(struct srv_relay *r, double now)
{
	for (struct relay_idle *x = r->idle, *next; x; x = next) {
		next = x->next;
		if (now < 0 || x->since + RELAY_IDLE_S <= now)
			relay_pool_drop(r, x);
	}
}
