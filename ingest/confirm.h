/* confirm.h - answering an AWS SNS SubscriptionConfirmation.
 *
 * SNS confirms an HTTP(S) subscription only when the endpoint GETs the
 * SubscribeURL it sent.  The URL comes from an unauthenticated-looking
 * body (the tenant's token or JWT did authenticate the request), so it is
 * checked before ingest fetches anything: https only (http only to a
 * loopback host, for tests), and a host matching ALEXUS_SNS_CONFIRM_HOSTS
 * (default sns.*.amazonaws.com).  The GET runs on a detached thread so
 * the event loop never waits on AWS; the outcome is logged. */
#ifndef INGEST_CONFIRM_H
#define INGEST_CONFIRM_H

#include <stddef.h>
#include "alexus/err.h"

/* 0 when url may be visited under the comma-separated fnmatch patterns,
 * else -1 with errbuf saying why. */
int ingest_confirm_url_ok(const char *url, const char *patterns, char *errbuf, size_t errlen);

/* Check url, then GET it in the background.  AX_EINVAL (errbuf set) when
 * the URL is refused; AX_OK when the GET was started. */
ax_err ingest_confirm_subscription(const char *url, const char *patterns, const char *tenant,
				   int timeout_ms, char *errbuf, size_t errlen);

/* Visits still in progress (for a clean exit, and tests). */
int ingest_confirm_running(void);

#endif /* INGEST_CONFIRM_H */
