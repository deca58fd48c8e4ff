/* `berth serve`: open the state, resume the apps and the queue, listen, and
 * wait for SIGINT/SIGTERM; then stop taking requests, stop the runners
 * gracefully and close. */
#include "server/apps.h"
#include "server/proxy.h"
#include "server/relay.h"
#include "server/server_int.h"

#include "server/mhd_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int parse_listen(const char *listen, struct sockaddr_in *sa, struct berth_err **err)
{
	const char *colon = strrchr(listen, ':');
	char host[64];
	if (!colon || (size_t)(colon - listen) >= sizeof(host))
		return berth_err_set(err, BERTH_E_INVALID, "--listen '%s': expected HOST:PORT",
				     listen);
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	*sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return berth_err_set(err, BERTH_E_INVALID,
				     "--listen '%s': expected an IPv4 address and a port", listen);
	return 0;
}

int berth_server_run(const struct berth_server_opts *o, struct berth_err **err)
{
	struct sockaddr_in sa;
	if (parse_listen(o->listen, &sa, err) < 0)
		return -1;
	struct berth_srv srv = {
	    .home = berth_xstrdup(o->home),
	    .listen = berth_xstrdup(o->listen),
	    .berth = berth_xstrdup(o->berth),
	};
	srv.metrics = srv_metrics_new();
	berth__proxy_preload();
	struct MHD_Daemon *d = NULL;
	int r = berth_fs_mkdir_p(srv.home, 0700, err);
	if (r == 0)
		r = srv_db_open(&srv, err);
	/* Requests a killed server was running go back in the queue. */
	if (r == 0)
		r = srv_db_exec(&srv,
				"UPDATE srv_requests SET state = 'IN_QUEUE', runner = NULL "
				"WHERE state = 'IN_PROGRESS'",
				err);
	if (r == 0)
		r = srv_apps_init(&srv, err);
	if (r == 0)
		r = srv_local_token_make(&srv, err);
	int lfd = -1;
	if (r == 0 && (lfd = srv_relay_listen(&sa, err)) < 0)
		r = -1;
	if (r == 0 && !(d = berth__srv_http_start(&srv, err)))
		r = -1;
	if (r == 0) {
		struct sockaddr_in bound = sa;
		socklen_t blen = sizeof(bound);
		getsockname(lfd, (struct sockaddr *)&bound, &blen);
		unsigned port = ntohs(bound.sin_port);
		char host[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
		free(srv.listen);
		srv.listen = berth_xasprintf("%s:%u", host, port);
		srv.public_url = berth_xasprintf("http://%s", srv.listen);
		r = srv_local_token_publish(&srv, port, err);
	}
	struct srv_relay *relay = NULL;
	if (r == 0) {
		r = srv_relay_start(&srv, lfd, d, &relay, err);
		lfd = -1; /* the relay's now, even when it failed */
	}
	if (lfd >= 0)
		close(lfd);
	if (r == 0) {
		r = srv_queue_start(&srv, err);
	}
	if (r == 0) {
		fprintf(stderr, "berth: serving on %s (state in %s)\n", srv.public_url, srv.home);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		int sig = 0;
		sigwait(&set, &sig);
		fprintf(stderr, "berth: stopping (signal %d): draining requests and runners\n",
			sig);
	}
	srv.stopping = 1;
	srv_relay_stop(relay);
	if (d)
		MHD_stop_daemon(d);
	srv_local_token_withdraw(&srv);
	srv_queue_stop(&srv);
	srv_apps_shutdown(&srv);
	srv_keys_release(&srv);
	srv_db_close(&srv);
	srv_metrics_free(srv.metrics);
	free(srv.home);
	free(srv.listen);
	free(srv.public_url);
	free(srv.berth);
	return r;
}
