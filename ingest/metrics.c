/* metrics.c - Prometheus text exposition of ingest's counters.
 *
 * Written by hand rather than with a client library: there is no
 * Prometheus C client in the distribution, and the text format for a few
 * counter families and one histogram is a few printf calls.
 * requests_total and signals_total print only the series seen so far (90+
 * sources make the matrix mostly zeros); refusals print every reason,
 * zeros included, so a dashboard sees them before the first event. */
#include <stdlib.h>

#include <event2/buffer.h>

#include "alexus/mem.h"

#include "drivers/driver.h"
#include "metrics.h"

static const char *const refusal_names[INGEST_R_COUNT] = {
	[INGEST_R_UNAUTHORIZED] = "unauthorized",
	[INGEST_R_INVALID_JSON] = "invalid_json",
	[INGEST_R_BAD_REQUEST] = "bad_request",
	[INGEST_R_NOT_FOUND] = "not_found",
	[INGEST_R_UNKNOWN_SOURCE] = "unknown_source",
	[INGEST_R_METHOD] = "method_not_allowed",
	[INGEST_R_TOO_LARGE] = "too_large",
	[INGEST_R_MEDIA_TYPE] = "unsupported_media_type",
	[INGEST_R_UNPROCESSABLE] = "unprocessable",
	[INGEST_R_REDIS_DOWN] = "redis_unavailable",
	[INGEST_R_BUSY] = "busy",
	[INGEST_R_APPEND_FAILED] = "append_failed",
	[INGEST_R_SHUTTING_DOWN] = "shutting_down",
	[INGEST_R_OTHER] = "other",
	[INGEST_R_RATE_LIMITED] = "rate_limited",
	[INGEST_R_BAD_SIGNATURE] = "bad_signature",
	[INGEST_R_AUTH_UNAVAILABLE] = "auth_unavailable",
	[INGEST_R_FORBIDDEN] = "forbidden",
};

const char *ingest_refusal_name(enum ingest_refusal r)
{
	return (unsigned)r < INGEST_R_COUNT ? refusal_names[r] : "other";
}

/* The status codes counted by value; anything else is "other". */
static const int codes[] = { 200, 202, 400, 401, 403, 404, 405, 408, 413, 415, 417,
			     422, 429, 431, 500, 501, 503 };
#define NCODES ((int)(sizeof(codes) / sizeof(codes[0])) + 1)  /* + other */

static const double lat_bounds[INGEST_LAT_BUCKETS] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};

struct ingest_metrics {
	int nsrc;                          /* sources counted: registry + "none" */
	unsigned long long *requests;      /* [nsrc][NCODES] */
	unsigned long long *signals;       /* [nsrc], appended */
	unsigned long long dedup_hits;
	unsigned long long refusals[INGEST_R_COUNT];
	long inflight;
	unsigned long long lat_count[INGEST_LAT_BUCKETS + 1]; /* per bucket, last = +Inf */
	unsigned long long lat_sum_us;
};

#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define GET(p) __atomic_load_n((p), __ATOMIC_RELAXED)

struct ingest_metrics *ingest_metrics_new(void)
{
	struct ingest_metrics *m = ax_xcalloc(1, sizeof(*m));

	m->nsrc = (int)ingest_driver_count() + 1;
	m->requests = ax_xcalloc((size_t)m->nsrc * NCODES, sizeof(*m->requests));
	m->signals = ax_xcalloc((size_t)m->nsrc, sizeof(*m->signals));
	return m;
}

void ingest_metrics_free(struct ingest_metrics *m)
{
	if (m == NULL)
		return;
	free(m->requests);
	free(m->signals);
	free(m);
}

static int code_idx(int code)
{
	int i;

	for (i = 0; i < NCODES - 1; i++) {
		if (codes[i] == code)
			return i;
	}
	return NCODES - 1;
}

static int src_idx(const struct ingest_metrics *m, int idx)
{
	return idx > 0 && idx < m->nsrc ? idx : 0;
}

static const char *source_name(int idx)
{
	const struct ingest_driver *d;

	if (idx <= 0)
		return "none";
	d = ingest_driver_at((size_t)(idx - 1));
	return d != NULL ? d->name : "none";
}

void ingest_metrics_request(struct ingest_metrics *m, int source_idx, int code)
{
	ADD(&m->requests[src_idx(m, source_idx) * NCODES + code_idx(code)], 1);
}

void ingest_metrics_refusal(struct ingest_metrics *m, enum ingest_refusal r)
{
	ADD(&m->refusals[(unsigned)r < INGEST_R_COUNT ? r : INGEST_R_OTHER], 1);
}

void ingest_metrics_signals(struct ingest_metrics *m, int source_idx, size_t appended,
			    size_t duplicates)
{
	ADD(&m->signals[src_idx(m, source_idx)], appended);
	ADD(&m->dedup_hits, duplicates);
}

void ingest_metrics_inflight(struct ingest_metrics *m, long delta)
{
	ADD(&m->inflight, delta);
}

void ingest_metrics_append_latency(struct ingest_metrics *m, double seconds)
{
	int i;

	for (i = 0; i < INGEST_LAT_BUCKETS && seconds > lat_bounds[i]; i++)
		;
	ADD(&m->lat_count[i], 1);
	ADD(&m->lat_sum_us, (unsigned long long)(seconds * 1e6));
}

unsigned long long ingest_metrics_refusals(const struct ingest_metrics *m, enum ingest_refusal r)
{
	return (unsigned)r < INGEST_R_COUNT ? GET(&m->refusals[r]) : 0;
}

unsigned long long ingest_metrics_requests(const struct ingest_metrics *m, int source_idx,
					   int code)
{
	return GET(&m->requests[src_idx(m, source_idx) * NCODES + code_idx(code)]);
}

unsigned long long ingest_metrics_appended(const struct ingest_metrics *m, int source_idx)
{
	return GET(&m->signals[src_idx(m, source_idx)]);
}

unsigned long long ingest_metrics_dedup_hits(const struct ingest_metrics *m)
{
	return GET(&m->dedup_hits);
}

long ingest_metrics_inflight_now(const struct ingest_metrics *m)
{
	return GET(&m->inflight);
}

void ingest_metrics_render(const struct ingest_metrics *m, struct evbuffer *out)
{
	unsigned long long v, cum = 0;
	int s, c;

	evbuffer_add_printf(out, "# HELP alexus_ingest_requests_total HTTP requests answered, "
				 "by source driver and status code.\n"
				 "# TYPE alexus_ingest_requests_total counter\n");
	for (s = 0; s < m->nsrc; s++) {
		for (c = 0; c < NCODES; c++) {
			v = GET(&m->requests[s * NCODES + c]);
			if (v == 0)
				continue;
			if (c < NCODES - 1)
				evbuffer_add_printf(out,
						    "alexus_ingest_requests_total{source=\"%s\","
						    "code=\"%d\"} %llu\n",
						    source_name(s), codes[c], v);
			else
				evbuffer_add_printf(out,
						    "alexus_ingest_requests_total{source=\"%s\","
						    "code=\"other\"} %llu\n",
						    source_name(s), v);
		}
	}
	evbuffer_add_printf(out, "# HELP alexus_ingest_signals_total Signals appended to "
				 "alexus:signals (duplicates excluded).\n"
				 "# TYPE alexus_ingest_signals_total counter\n");
	for (s = 1; s < m->nsrc; s++) {
		v = GET(&m->signals[s]);
		if (v != 0)
			evbuffer_add_printf(out, "alexus_ingest_signals_total{source=\"%s\"} %llu\n",
					    source_name(s), v);
	}
	evbuffer_add_printf(out, "# HELP alexus_ingest_dedup_hits_total Signals dropped because "
				 "their fingerprint already had that status.\n"
				 "# TYPE alexus_ingest_dedup_hits_total counter\n"
				 "alexus_ingest_dedup_hits_total %llu\n",
			    GET(&m->dedup_hits));
	evbuffer_add_printf(out, "# HELP alexus_ingest_refusals_total Requests refused, by "
				 "reason.\n"
				 "# TYPE alexus_ingest_refusals_total counter\n");
	for (c = 0; c < INGEST_R_COUNT; c++)
		evbuffer_add_printf(out, "alexus_ingest_refusals_total{reason=\"%s\"} %llu\n",
				    refusal_names[c], GET(&m->refusals[c]));
	evbuffer_add_printf(out, "# HELP alexus_ingest_inflight Stream appends waiting for "
				 "Redis, all workers (limit per worker: ALEXUS_MAX_INFLIGHT).\n"
				 "# TYPE alexus_ingest_inflight gauge\n"
				 "alexus_ingest_inflight %ld\n",
			    GET(&m->inflight));
	evbuffer_add_printf(out, "# HELP alexus_ingest_append_seconds Time from queueing a "
				 "request's append to Redis's answer.\n"
				 "# TYPE alexus_ingest_append_seconds histogram\n");
	for (c = 0; c <= INGEST_LAT_BUCKETS; c++) {
		cum += GET(&m->lat_count[c]);
		if (c < INGEST_LAT_BUCKETS)
			evbuffer_add_printf(out, "alexus_ingest_append_seconds_bucket{le=\"%g\"} %llu\n",
					    lat_bounds[c], cum);
		else
			evbuffer_add_printf(out,
					    "alexus_ingest_append_seconds_bucket{le=\"+Inf\"} %llu\n",
					    cum);
	}
	evbuffer_add_printf(out, "alexus_ingest_append_seconds_sum %.6f\n"
				 "alexus_ingest_append_seconds_count %llu\n",
			    (double)GET(&m->lat_sum_us) / 1e6, cum);
}
