/* metrics.h - ingest's counters and their Prometheus text exposition.
 *
 * Plain counters owned by one server (one event loop), so no atomics; a
 * multi-worker ingest would keep one set per worker and sum them when
 * rendering.  Every label value comes from a closed set (driver names,
 * HTTP status codes, the refusal reasons below), so the series count is
 * bounded whatever clients send. */
#ifndef INGEST_METRICS_H
#define INGEST_METRICS_H

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
	INGEST_R_COUNT
};

/* Sources: index 0 is "none" (not a webhook, or refused before the source
 * was known); driver i of the registry is index i + 1. */
#define INGEST_METRIC_SOURCES 17
#define INGEST_METRIC_CODES 600

struct ingest_metrics {
	unsigned long long requests[INGEST_METRIC_SOURCES][INGEST_METRIC_CODES];
	unsigned long long signals[INGEST_METRIC_SOURCES];  /* appended, not duplicates */
	unsigned long long dedup_hits;
	unsigned long long refusals[INGEST_R_COUNT];
};

/* The label value for r ("unauthorized", "too_large", ...). */
const char *ingest_refusal_name(enum ingest_refusal r);

/* Count one answered request; code outside 100..599 is ignored. */
void ingest_metrics_request(struct ingest_metrics *m, int source_idx, int code);

/* Append the text exposition (format 0.0.4) to out.  inflight is the
 * current number of appends waiting for Redis. */
void ingest_metrics_render(const struct ingest_metrics *m, long inflight, struct evbuffer *out);

#endif /* INGEST_METRICS_H */
