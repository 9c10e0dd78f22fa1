/* metrics.c - Prometheus text exposition of ingest's counters.
 *
 * Written by hand rather than with a client library: there is no
 * Prometheus C client in the distribution, and the text format for five
 * counter families is a few printf calls.  requests_total prints only the
 * (source, code) pairs seen so far (the matrix is mostly zeros); the other
 * families print every label value, zeros included, so a dashboard sees
 * the series before the first event. */
#include <event2/buffer.h>

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
};

const char *ingest_refusal_name(enum ingest_refusal r)
{
	return (unsigned)r < INGEST_R_COUNT ? refusal_names[r] : "other";
}

static const char *source_name(int idx)
{
	const struct ingest_driver *d;

	if (idx <= 0)
		return "none";
	d = ingest_driver_at((size_t)(idx - 1));
	return d != NULL ? d->name : "none";
}

static int nsources(void)
{
	size_t n = ingest_driver_count() + 1;

	return n < INGEST_METRIC_SOURCES ? (int)n : INGEST_METRIC_SOURCES;
}

void ingest_metrics_request(struct ingest_metrics *m, int source_idx, int code)
{
	if (source_idx < 0 || source_idx >= INGEST_METRIC_SOURCES)
		source_idx = 0;
	if (code < 100 || code >= INGEST_METRIC_CODES)
		return;
	m->requests[source_idx][code]++;
}

void ingest_metrics_render(const struct ingest_metrics *m, long inflight, struct evbuffer *out)
{
	int s, c, n = nsources();

	evbuffer_add_printf(out, "# HELP alexus_ingest_requests_total HTTP requests answered, "
				 "by source driver and status code.\n"
				 "# TYPE alexus_ingest_requests_total counter\n");
	for (s = 0; s < n; s++) {
		for (c = 100; c < INGEST_METRIC_CODES; c++) {
			if (m->requests[s][c] != 0)
				evbuffer_add_printf(out,
						    "alexus_ingest_requests_total{source=\"%s\","
						    "code=\"%d\"} %llu\n",
						    source_name(s), c, m->requests[s][c]);
		}
	}
	evbuffer_add_printf(out, "# HELP alexus_ingest_signals_total Signals appended to "
				 "alexus:signals (duplicates excluded).\n"
				 "# TYPE alexus_ingest_signals_total counter\n");
	for (s = 1; s < n; s++)
		evbuffer_add_printf(out, "alexus_ingest_signals_total{source=\"%s\"} %llu\n",
				    source_name(s), m->signals[s]);
	evbuffer_add_printf(out, "# HELP alexus_ingest_dedup_hits_total Signals dropped because "
				 "their fingerprint already had that status.\n"
				 "# TYPE alexus_ingest_dedup_hits_total counter\n"
				 "alexus_ingest_dedup_hits_total %llu\n",
			    m->dedup_hits);
	evbuffer_add_printf(out, "# HELP alexus_ingest_refusals_total Requests refused, by "
				 "reason.\n"
				 "# TYPE alexus_ingest_refusals_total counter\n");
	for (c = 0; c < INGEST_R_COUNT; c++)
		evbuffer_add_printf(out, "alexus_ingest_refusals_total{reason=\"%s\"} %llu\n",
				    refusal_names[c], m->refusals[c]);
	evbuffer_add_printf(out, "# HELP alexus_ingest_inflight Stream appends waiting for "
				 "Redis (limit: ALEXUS_MAX_INFLIGHT).\n"
				 "# TYPE alexus_ingest_inflight gauge\n"
				 "alexus_ingest_inflight %ld\n",
			    inflight);
}
