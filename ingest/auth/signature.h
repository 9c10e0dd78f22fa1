/* signature.h - webhook signature checks, one per sender scheme.
 *
 * Pure functions: the raw request body, a header lookup, the tenant's
 * secrets for the source (several while a secret is being rotated), the
 * current time and the replay window go in; a verdict comes out.  No I/O,
 * no globals, no logging, so the unit tests replay the shared fixtures
 * byte for byte through exactly the code ingest runs.  FORMATS.md section
 * 15 is the reference for each scheme. */
#ifndef INGEST_AUTH_SIGNATURE_H
#define INGEST_AUTH_SIGNATURE_H

#include <stddef.h>
#include <time.h>

#include "alexus/err.h"

enum ingest_sig_scheme {
	INGEST_SIG_ALEXUS,     /* X-Alexus-Signature: sha256=<hex HMAC(body)> (our own,
	                        * for any source without a vendor scheme) */
	INGEST_SIG_PAGERDUTY,  /* X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...] */
	INGEST_SIG_GITHUB,     /* X-Hub-Signature-256: sha256=<hex> */
	INGEST_SIG_JIRA,       /* X-Hub-Signature: sha256=<hex> */
	INGEST_SIG_SENTRY,     /* Sentry-Hook-Signature: <hex> */
	INGEST_SIG_GRAFANA,    /* X-Grafana-Alerting-Signature: <hex> of body, or of
	                        * ts ":" body with X-Grafana-Alerting-Timestamp */
	INGEST_SIG_GITLAB,     /* X-Gitlab-Token: the secret itself */
	INGEST_SIG_HONEYCOMB,  /* X-Honeycomb-Webhook-Token: the secret itself */
	INGEST_SIG_SLACK,      /* X-Slack-Signature: v0=<hex> of "v0:" ts ":" body,
	                        * X-Slack-Request-Timestamp within the window */
	INGEST_SIG_COUNT
};

/* One secret: bytes, not necessarily NUL-terminated. */
struct ingest_secret {
	const unsigned char *key;
	size_t len;
};

/* Looks a request header up by name, case-insensitively; NULL if absent. */
typedef const char *ingest_sig_header_fn(const void *ctx, const char *name);

/* The scheme of a source (driver) name: pagerduty, github, jira, sentry,
 * grafana, gitlab, honeycomb, slack have their vendor's; every other name
 * (NULL included) gets INGEST_SIG_ALEXUS. */
enum ingest_sig_scheme ingest_sig_scheme_of(const char *source);
/* "pagerduty-v3", "github", ... for logs and messages. */
const char *ingest_sig_scheme_name(enum ingest_sig_scheme s);
/* The header the scheme reads its signature or token from. */
const char *ingest_sig_header_name(enum ingest_sig_scheme s);

/* Check the request against every secret (rotation: any one matching is
 * enough).  body/len are the bytes as received.  now and window_s bound
 * the signed timestamp of Slack and timestamped Grafana (|now - ts| <=
 * window_s).  Every comparison is constant-time (sodium_memcmp; plain
 * tokens are compared as SHA-256 digests so their length does not leak).
 * Returns AX_OK, or AX_EAUTH with errbuf set to a short reason fit for an
 * HTTP body ("missing X-Hub-Signature-256 header", "malformed ... header",
 * "signature does not match", "timestamp outside the replay window"); it
 * never echoes the received or expected values.  AX_EINVAL for nsecrets 0
 * or a bad scheme. */
ax_err ingest_sig_verify(enum ingest_sig_scheme scheme, const unsigned char *body, size_t len,
			 ingest_sig_header_fn *header, const void *hctx,
			 const struct ingest_secret *secrets, size_t nsecrets, time_t now,
			 int window_s, char *errbuf, size_t errlen) AX_MUSTCHECK;

#endif /* INGEST_AUTH_SIGNATURE_H */
