/* metrics.h - ingest's counters and their Prometheus text exposition.
 *
 * One set per process, shared by every worker thread: counters are bumped
 * with relaxed atomic adds (a few per request, next to an HTTP parse and a
 * Redis round trip) and read the same way when /metrics renders, so any
 * worker answers with the process totals.  Every label value comes from a
 * closed set (driver names, a fixed list of status codes, the refusal
 * reasons below), so the series count is bounded whatever clients send. */
#ifndef INGEST_METRICS_H
#define INGEST_METRICS_H

#include <stddef.h>

struct evbuffer;

/* Why a request was refused: the `reason` label of
 * alexus_ingest_refusals_total.  Append only (names are exported). */
enum ingest_refusal {
	INGEST_R_UNAUTHORIZED,     /* 401 */
	INGEST_R_INVALID_JSON,     /* 400: not JSON, or nested too deeply */
	INGEST_R_BAD_REQUEST,      /* 400: malformed HTTP (from libevent) or empty body */
	INGEST_R_NOT_FOUND,        /* 404: no such path */
	INGEST_R_UNKNOWN_SOURCE,   /* 404: no driver of that name */
	INGEST_R_METHOD,           /* 405 (or 501 from libevent) */
	INGEST_R_TOO_LARGE,        /* 413 */
	INGEST_R_MEDIA_TYPE,       /* 415 */
	INGEST_R_UNPROCESSABLE,    /* 422: no driver recognised it, or one refused it */
	INGEST_R_REDIS_DOWN,       /* 503: Redis not connected */
	INGEST_R_BUSY,             /* 503: ALEXUS_MAX_INFLIGHT appends in flight */
	INGEST_R_APPEND_FAILED,    /* 503: an append failed or timed out */
	INGEST_R_SHUTTING_DOWN,    /* 503: the server is draining */
	INGEST_R_OTHER,            /* anything else libevent refused (417, ...) */
	INGEST_R_RATE_LIMITED,     /* 429: the tenant's token bucket is empty */
	INGEST_R_BAD_SIGNATURE,    /* 401: the source's signing secret is set; no or bad signature */
	INGEST_R_AUTH_UNAVAILABLE, /* 503: a signing secret cannot be opened (ALEXUS_MASTER_KEY) */
	INGEST_R_FORBIDDEN,        /* 403: authenticated, but the role does not allow it */
	INGEST_R_COUNT
};

/* Sources: index 0 is "none" (not a webhook, or refused before the source
 * was known); driver i of the registry is index i + 1. */

/* Append-latency histogram bucket bounds, seconds. */
#define INGEST_LAT_BUCKETS 12

struct ingest_metrics;

/* For the registry as it is now (profiles loaded): sources beyond it
 * count as "none".  Never NULL (aborts on OOM). */
struct ingest_metrics *ingest_metrics_new(void);
void ingest_metrics_free(struct ingest_metrics *m);

/* The label value for r ("unauthorized", "too_large", ...). */
const char *ingest_refusal_name(enum ingest_refusal r);

/* Count one answered request; any code is accepted (unlisted ones count
 * as "other"). */
void ingest_metrics_request(struct ingest_metrics *m, int source_idx, int code);
void ingest_metrics_refusal(struct ingest_metrics *m, enum ingest_refusal r);
void ingest_metrics_signals(struct ingest_metrics *m, int source_idx, size_t appended,
			    size_t duplicates);
void ingest_metrics_inflight(struct ingest_metrics *m, long delta);
void ingest_metrics_append_latency(struct ingest_metrics *m, double seconds);

/* Readers (tests). */
unsigned long long ingest_metrics_refusals(const struct ingest_metrics *m, enum ingest_refusal r);
unsigned long long ingest_metrics_requests(const struct ingest_metrics *m, int source_idx,
					   int code);
unsigned long long ingest_metrics_appended(const struct ingest_metrics *m, int source_idx);
unsigned long long ingest_metrics_dedup_hits(const struct ingest_metrics *m);
long ingest_metrics_inflight_now(const struct ingest_metrics *m);

/* Append the text exposition (format 0.0.4) to out. */
void ingest_metrics_render(const struct ingest_metrics *m, struct evbuffer *out);

#endif /* INGEST_METRICS_H */
