/* webhook.h - the generic webhook notification adapter.
 *
 * POSTs {"event","tenant","action_id","trace","incident":{...}} to the
 * tenant's notify_webhook_url with Content-Type: application/json,
 * Idempotency-Key: <action id>, X-Alexus-Event and X-Alexus-Trace.  2xx is
 * delivered; a 5xx, a timeout or a connection error is retried at once
 * with exponential backoff and jitter (the short in-call retries); any
 * other status ends the call.  The receiver deduplicates on
 * Idempotency-Key: a redelivered action carries the same key
 * (at-least-once towards external systems).
 *
 * Two targets use it: the legacy tenants.settings.notify_webhook_url
 * (target "webhook", with the in-call retries on the first attempt) and a
 * notification channel of kind webhook (credential = the URL, one request
 * per attempt, body from config.template when the channel has one).  What
 * the in-call retries leave failed is retried later by the durable
 * schedule (delivery.c), which also retries a 429. */
#ifndef ACT_NOTIFY_WEBHOOK_H
#define ACT_NOTIFY_WEBHOOK_H

#include <signal.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "alexus/err.h"
#include "notify.h"

#define ACT_BACKOFF_CAP_MS 60000

struct act_webhook_opts {
	int timeout_ms;                /* per attempt (ALEXUS_NOTIFY_TIMEOUT_MS) */
	int retries;                   /* extra attempts (ALEXUS_NOTIFY_RETRIES) */
	int backoff_ms;                /* first retry delay (ALEXUS_NOTIFY_BACKOFF_MS) */
	volatile sig_atomic_t *stop;   /* when it becomes nonzero, retrying stops; may be NULL */
};

enum act_delivery {
	ACT_DELIVERED,   /* a 2xx answer */
	ACT_FAILED,      /* permanent failure, or retries exhausted */
	ACT_ABANDONED,   /* stop requested between attempts: outcome unknown */
};

struct act_webhook_result {
	enum act_delivery outcome;
	long http_status;   /* status of the last answer, 0 if none came */
	int attempts;       /* requests sent */
	char error[256];    /* why the last attempt failed; "" when delivered */
	int retryable;      /* the last failure is worth a later attempt (no answer
	                     * but the URL was fine, a 429, a 5xx) */
	long retry_after_s; /* the last answer's Retry-After, 0 if none */
};

/* The request body; free() the result.  incident is copied (NULL gives
 * null), then whichever of the action payload's event details it has
 * (analysis, approval, result, escalation, regressed_from, resolution;
 * payload may be NULL). */
char *act_webhook_body(const char *event, const char *tenant, const char *action_id,
		       const char *trace, const cJSON *incident, const cJSON *payload);

/* "Name: value" into buf, dropping control characters from value so a
 * stored string can never split the header block.  Returns buf. */
char *act_header_line(char *buf, size_t n, const char *name, const char *value);

/* Delay before retry number retry (1 = the first retry): base_ms doubled
 * retry - 1 times, capped at ACT_BACKOFF_CAP_MS, plus a jitter of
 * rnd % (delay / 4 + 1) ms.  base_ms <= 0 gives 0. */
long act_backoff_ms(int base_ms, int retry, unsigned rnd);

/* The longest one delivery can take: every attempt timing out plus every
 * backoff at its largest jitter.  An entry in flight longer than
 * ALEXUS_CLAIM_IDLE_MS can be reclaimed by another consumer and delivered
 * twice, so act warns at start when this is not below that. */
long act_webhook_worst_ms(const struct act_webhook_opts *o);

/* 1 when an attempt that ended with rc (from ax_httpc_post) and status is
 * worth retrying: a timeout, a transport error, or a 5xx. */
int act_webhook_retryable(ax_err rc, long status);

/* The host part of url into host (for the audit row: never the path or
 * credentials).  0 on success, -1 if url does not parse (host = ""). */
int act_url_host(const char *url, char *host, size_t n);

/* Deliver body to url, retrying as described above. */
void act_webhook_deliver(const char *url, const char *body, const char *action_id,
			 const char *event, const char *trace, const struct act_webhook_opts *o,
			 struct act_webhook_result *r);

/* The legacy target: the body above to url with o's in-call retries,
 * read into out (an abandoned call -- a stop requested between retries --
 * is a retryable failure); *requests gets the requests made. */
void act_webhook_legacy_send(const struct act_event *ev, const char *url,
			     const struct act_webhook_opts *o, struct act_outcome *out,
			     int *requests);

/* A channel of kind webhook: one POST of the body above, or of
 * config.template rendered with JSON escaping, to the credential (the
 * URL), with the same headers. */
void act_webhook_channel_send(const struct act_send *s, struct act_outcome *out);

#endif /* ACT_NOTIFY_WEBHOOK_H */
