/* The server's counters and histograms, rendered in Prometheus text format
 * 0.0.4 by GET /metrics: requests by app, kind and status, request latency
 * and cold starts by app. One mutex guards them all: an update is a few
 * additions, far cheaper than the request it counts.
 *
 * Label values come from requests (app names in paths), so the number of
 * series is capped: past the cap, new apps are counted as app="_other". */
#include "server/server_int.h"

#include <stdint.h>
#include <stdlib.h>

/* The most series of each family before new apps fold into "_other". */
#define SRV_METRICS_SERIES_MAX 2048u
/* The longest label value kept (longer ones are cut). */
#define SRV_METRICS_LABEL_MAX 128u

static const double latency_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
					 1,     2.5,  5,     10,   30,  60};
static const double cold_buckets[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};

#define N_LATENCY BERTH_ARRAY_SIZE(latency_buckets)
#define N_COLD    BERTH_ARRAY_SIZE(cold_buckets)

struct req_series {
	char *app, *kind;
	int status;
	uint64_t count;
};

struct hist {
	uint64_t *buckets; /* per bucket, not cumulative; the last is +Inf */
	uint64_t count;
	double sum;
};

struct lat_series {
	char *app, *kind;
	struct hist h;
};

struct cold_series {
	char *app;
	struct hist h;
};

struct berth_srv_metrics {
	pthread_mutex_t lock;
	struct req_series *req;
	size_t n_req, cap_req;
	struct lat_series *lat;
	size_t n_lat, cap_lat;
	struct cold_series *cold;
	size_t n_cold, cap_cold;
};

struct berth_srv_metrics *srv_metrics_new(void)
{
	struct berth_srv_metrics *m = berth_xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

void srv_metrics_free(struct berth_srv_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_req; i++) {
		free(m->req[i].app);
		free(m->req[i].kind);
	}
	for (size_t i = 0; i < m->n_lat; i++) {
		free(m->lat[i].app);
		free(m->lat[i].kind);
		free(m->lat[i].h.buckets);
	}
	for (size_t i = 0; i < m->n_cold; i++) {
		free(m->cold[i].app);
		free(m->cold[i].h.buckets);
	}
	free(m->req);
	free(m->lat);
	free(m->cold);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static void observe(struct hist *h, const double *bounds, size_t n, double v)
{
	if (!(v >= 0)) /* NaN or negative: a clock went wrong, count it as 0 */
		v = 0;
	size_t i = 0;
	while (i < n && v > bounds[i])
		i++;
	h->buckets[i]++;
	h->count++;
	h->sum += v;
}

static const char *label_or(const char *s, const char *def)
{
	return s && *s ? s : def;
}

static bool same(const char *a, const char *b)
{
	return strncmp(a, b, SRV_METRICS_LABEL_MAX) == 0;
}

static char *label_dup(const char *s)
{
	return berth_xstrndup(s, strnlen(s, SRV_METRICS_LABEL_MAX));
}

void srv_metrics_request(struct berth_srv *srv, const char *app, const char *kind, int status,
			 double seconds)
{
	struct berth_srv_metrics *m = srv ? srv->metrics : NULL;
	if (!m)
		return;
	app = app ? app : "";
	kind = label_or(kind, "other");
	pthread_mutex_lock(&m->lock);
	struct req_series *r = NULL;
	for (size_t i = 0; i < m->n_req && !r; i++)
		if (m->req[i].status == status && same(m->req[i].app, app) &&
		    same(m->req[i].kind, kind))
			r = &m->req[i];
	if (!r && m->n_req >= SRV_METRICS_SERIES_MAX) {
		app = "_other";
		for (size_t i = 0; i < m->n_req && !r; i++)
			if (m->req[i].status == status && same(m->req[i].app, app) &&
			    same(m->req[i].kind, kind))
				r = &m->req[i];
	}
	if (!r) {
		m->req = berth_xgrow(m->req, sizeof(*m->req), m->n_req + 1, &m->cap_req);
		r = &m->req[m->n_req++];
		*r = (struct req_series){label_dup(app), label_dup(kind), status, 0};
	}
	r->count++;

	struct lat_series *l = NULL;
	for (size_t i = 0; i < m->n_lat && !l; i++)
		if (same(m->lat[i].app, app) && same(m->lat[i].kind, kind))
			l = &m->lat[i];
	if (!l && m->n_lat >= SRV_METRICS_SERIES_MAX) {
		app = "_other";
		for (size_t i = 0; i < m->n_lat && !l; i++)
			if (same(m->lat[i].app, app) && same(m->lat[i].kind, kind))
				l = &m->lat[i];
	}
	if (!l) {
		m->lat = berth_xgrow(m->lat, sizeof(*m->lat), m->n_lat + 1, &m->cap_lat);
		l = &m->lat[m->n_lat++];
		*l = (struct lat_series){label_dup(app),
					 label_dup(kind),
					 {berth_xcalloc(N_LATENCY + 1, sizeof(uint64_t)), 0, 0}};
	}
	observe(&l->h, latency_buckets, N_LATENCY, seconds);
	pthread_mutex_unlock(&m->lock);
}

void srv_metrics_cold_start(struct berth_srv *srv, const char *app, double seconds)
{
	struct berth_srv_metrics *m = srv ? srv->metrics : NULL;
	if (!m)
		return;
	app = app ? app : "";
	pthread_mutex_lock(&m->lock);
	struct cold_series *c = NULL;
	for (size_t i = 0; i < m->n_cold && !c; i++)
		if (same(m->cold[i].app, app))
			c = &m->cold[i];
	if (!c && m->n_cold >= SRV_METRICS_SERIES_MAX) {
		app = "_other";
		for (size_t i = 0; i < m->n_cold && !c; i++)
			if (same(m->cold[i].app, app))
				c = &m->cold[i];
	}
	if (!c) {
		m->cold = berth_xgrow(m->cold, sizeof(*m->cold), m->n_cold + 1, &m->cap_cold);
		c = &m->cold[m->n_cold++];
		*c = (struct cold_series){label_dup(app),
					  {berth_xcalloc(N_COLD + 1, sizeof(uint64_t)), 0, 0}};
	}
	observe(&c->h, cold_buckets, N_COLD, seconds);
	pthread_mutex_unlock(&m->lock);
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void add_label(struct berth_buf *out, const char *name, const char *v)
{
	berth_buf_addf(out, "%s=\"", name);
	for (const char *p = v; *p; p++) {
		if (*p == '\\')
			berth_buf_addstr(out, "\\\\");
		else if (*p == '"')
			berth_buf_addstr(out, "\\\"");
		else if (*p == '\n')
			berth_buf_addstr(out, "\\n");
		else
			berth_buf_addch(out, *p);
	}
	berth_buf_addch(out, '"');
}

/* A float as Prometheus reads it: shortest round-trip form. */
static void add_float(struct berth_buf *out, double v)
{
	char s[32];
	snprintf(s, sizeof(s), "%.15g", v);
	if (strtod(s, NULL) != v)
		snprintf(s, sizeof(s), "%.17g", v);
	berth_buf_addstr(out, s);
}

/* The _bucket, _sum and _count lines of one histogram series; `labels`
 * is written before "le" (e.g. `app="a",kind="sync"`). */
static void add_hist(struct berth_buf *out, const char *family, const char *labels,
		     const struct hist *h, const double *bounds, size_t n)
{
	uint64_t cum = 0;
	for (size_t i = 0; i <= n; i++) {
		cum += h->buckets[i];
		berth_buf_addf(out, "%s_bucket{%s,le=\"", family, labels);
		if (i < n)
			berth_buf_addf(out, "%g", bounds[i]);
		else
			berth_buf_addstr(out, "+Inf");
		berth_buf_addf(out, "\"} %llu\n", (unsigned long long)cum);
	}
	berth_buf_addf(out, "%s_sum{%s} ", family, labels);
	add_float(out, h->sum);
	berth_buf_addf(out, "\n%s_count{%s} %llu\n", family, labels, (unsigned long long)h->count);
}

void srv_metrics_render(struct berth_srv_metrics *m, struct berth_buf *out)
{
	_cleanup_buf_ struct berth_buf labels;
	berth_buf_init(&labels, BERTH_BUF_UNLIMITED);
	pthread_mutex_lock(&m->lock);

	berth_buf_addstr(out, "# HELP berth_requests_total Requests answered, by app, kind and "
			      "status.\n# TYPE berth_requests_total counter\n");
	for (size_t i = 0; i < m->n_req; i++) {
		const struct req_series *r = &m->req[i];
		berth_buf_reset(&labels);
		add_label(&labels, "app", r->app);
		berth_buf_addch(&labels, ',');
		add_label(&labels, "kind", r->kind);
		berth_buf_addf(&labels, ",status=\"%d\"", r->status);
		berth_buf_addf(out, "berth_requests_total{%s} %llu\n", labels.data,
			       (unsigned long long)r->count);
	}

	berth_buf_addstr(out, "# HELP berth_request_duration_seconds Time from a request's arrival "
			      "to the end of its answer.\n"
			      "# TYPE berth_request_duration_seconds histogram\n");
	for (size_t i = 0; i < m->n_lat; i++) {
		const struct lat_series *l = &m->lat[i];
		berth_buf_reset(&labels);
		add_label(&labels, "app", l->app);
		berth_buf_addch(&labels, ',');
		add_label(&labels, "kind", l->kind);
		add_hist(out, "berth_request_duration_seconds", labels.data, &l->h, latency_buckets,
			 N_LATENCY);
	}

	berth_buf_addstr(out, "# HELP berth_cold_starts_total Runners started to serve demand, "
			      "by app.\n# TYPE berth_cold_starts_total counter\n");
	for (size_t i = 0; i < m->n_cold; i++) {
		berth_buf_reset(&labels);
		add_label(&labels, "app", m->cold[i].app);
		berth_buf_addf(out, "berth_cold_starts_total{%s} %llu\n", labels.data,
			       (unsigned long long)m->cold[i].h.count);
	}

	berth_buf_addstr(out, "# HELP berth_cold_start_seconds Time from a runner's start to its "
			      "first ready health check.\n"
			      "# TYPE berth_cold_start_seconds histogram\n");
	for (size_t i = 0; i < m->n_cold; i++) {
		berth_buf_reset(&labels);
		add_label(&labels, "app", m->cold[i].app);
		add_hist(out, "berth_cold_start_seconds", labels.data, &m->cold[i].h, cold_buckets,
			 N_COLD);
	}
	pthread_mutex_unlock(&m->lock);
}
