/* GET /metrics (Prometheus text format 0.0.4: metrics.c's counters and
 * histograms, then the runner and queue gauges of apps.c) and GET /healthz
 * (200 while serving, 503 once the server is stopping). Both are public:
 * they hold counts and app names, never request data. */
#include "server/server_int.h"

static void metrics(struct srv_req *rq, struct srv_resp *rs)
{
	rs->status = 200;
	berth_buf_reset(&rs->body);
	if (rq->srv->metrics)
		srv_metrics_render(rq->srv->metrics, &rs->body);
	if (rq->srv->apps)
		srv_apps_gauges(rq->srv, &rs->body);
	berth_buf_addf(
	    &rs->body,
	    "# HELP berth_gateway_relayed_total Sync calls served by the gateway's event "
	    "loop (a ready runner had a free slot).\n"
	    "# TYPE berth_gateway_relayed_total counter\n"
	    "berth_gateway_relayed_total %llu\n"
	    "# HELP berth_gateway_handed_over_total Connections the event loop handed to "
	    "the thread-per-connection server (API calls, cold starts, refusals).\n"
	    "# TYPE berth_gateway_handed_over_total counter\n"
	    "berth_gateway_handed_over_total %llu\n",
	    (unsigned long long)__atomic_load_n(&rq->srv->relayed, __ATOMIC_RELAXED),
	    (unsigned long long)__atomic_load_n(&rq->srv->handed_over, __ATOMIC_RELAXED));
	srv_header(rs, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	srv_header(rs, "Cache-Control", "no-store");
}

static void healthz(struct srv_req *rq, struct srv_resp *rs)
{
	if (rq->srv->stopping)
		srv_json(rs, 503, json_pack("{s:s}", "status", "stopping"));
	else
		srv_json(rs, 200, json_pack("{s:s}", "status", "ok"));
	srv_header(rs, "Cache-Control", "no-store");
}

const struct srv_route srv_routes_metrics[] = {
    {"GET", "/metrics", SRV_PUBLIC, metrics, NULL, NULL},
    {"GET", "/healthz", SRV_PUBLIC, healthz, NULL, NULL},
    {0},
};
