/* auth.h - who sent a webhook: credentials, webhook-token lookup, and the
 * signing-secret check, for one ingest server (one event loop).
 *
 * A request names its tenant with one credential:
 *   Authorization: Bearer <JWT>           verified here, no I/O
 *   Authorization: Bearer axw_...         a webhook token,
 *   X-Alexus-Token: axw_...               looked up in Redis
 *   ?token=axw_...                        (alexus:whtoken:<sha256> -> tenant)
 * and, when the tenant has a signing secret for the request's source
 * (t:{tenant}:secrets, field = source), must carry that sender's signature
 * over the raw body (auth/signature.h).  Redis lookups run on the loop's
 * own connection (the appender's ax_rconn) and go through a small cache:
 * answers are kept ALEXUS_TOKEN_CACHE seconds, "no such token" a tenth of
 * that (at least 1 s), at most INGEST_AUTH_CACHE_MAX entries (least
 * recently used go first); ALEXUS_TOKEN_CACHE=0 turns the cache off.  So
 * a revoked token stops working within ALEXUS_TOKEN_CACHE seconds.
 *
 * Not thread-safe: one per server, used from its loop only. */
#ifndef INGEST_AUTH_H
#define INGEST_AUTH_H

#include <stddef.h>

#include "alexus/err.h"
#include "alexus/keys.h"
#include "auth/signature.h"

struct ax_config;
struct ax_rconn;
struct ingest_auth;

#define INGEST_AUTH_CACHE_MAX 4096

/* The configuration (cfg must outlive the auth): the JWT verifier
 * (ax_jwt_opts_from_config: ALEXUS_JWT_ALG and its key), the master key
 * when ALEXUS_MASTER_KEY is set (needed only to open signing secrets: a
 * request whose source has one is refused 503 without it), the cache.
 * NULL with errbuf set on a configuration error. */
struct ingest_auth *ingest_auth_new(const struct ax_config *cfg, long jwt_leeway_s, char *errbuf,
				    size_t errlen);
/* NULL-safe.  Lookups still in flight keep what they need alive until
 * their callback, which still runs (the connection fails them). */
void ingest_auth_free(struct ingest_auth *a);

enum ingest_cred_kind {
	INGEST_CRED_NONE,      /* no credential at all */
	INGEST_CRED_JWT,       /* value is a bearer JWT */
	INGEST_CRED_TOKEN,     /* value is a well-formed axw_ webhook token */
};

struct ingest_cred {
	enum ingest_cred_kind kind;
	const char *where;     /* "Authorization", "X-Alexus-Token" or "query" */
	char *value;           /* owned; release with ingest_cred_release */
};

/* Find the credential of a request from its Authorization and
 * X-Alexus-Token headers and its query string (each may be NULL).
 * Authorization counts only with the Bearer scheme (Basic and others are
 * for somebody else and ignored).  A query may only carry a webhook
 * token: a JWT in a URL would end up in proxy logs.  AX_OK with kind NONE
 * when there is nothing; AX_EAUTH with errbuf when there is something
 * wrong: two different credentials, a malformed axw_ token, a query token
 * that is not one, a repeated token parameter. */
ax_err ingest_auth_credentials(const char *authorization, const char *x_token, const char *query,
			       struct ingest_cred *c, char *errbuf, size_t errlen) AX_MUSTCHECK;
void ingest_cred_release(struct ingest_cred *c);

/* Verify a bearer JWT (ax_jwt_verify with the configured verifier); a
 * token verified before is answered from the cache until its expiry or the
 * cache TTL, whichever comes first (ALEXUS_TOKEN_CACHE=0: every time). */
ax_err ingest_auth_jwt(struct ingest_auth *a, const char *jwt, char tenant[AX_TENANT_MAX + 1],
		       char *errbuf, size_t errlen) AX_MUSTCHECK;

/* The operator API's check of a bearer JWT: verified every time (no
 * cache: API calls are rare and a role change must count at once), with
 * its role and subject. */
struct ax_jwt_claims;
ax_err ingest_auth_claims(struct ingest_auth *a, const char *jwt, struct ax_jwt_claims *c,
			  char *errbuf, size_t errlen) AX_MUSTCHECK;
/* 1 when sig signs (tenant, approval id, decision, exp) under the master
 * key (ax_link_verify); 0 otherwise, and always without a master key. */
int ingest_auth_link_ok(const struct ingest_auth *a, const char *tenant, const char *id,
			const char *decision, long long exp, const char *sig);

/* Result of an asynchronous lookup, called exactly once, never from
 * inside the call that started it: rc AX_OK with value (the tenant; or
 * the sealed secrets, NULL when the tenant has none for the source),
 * AX_EAUTH (ingest_auth_token only: no such token, or revoked; value
 * NULL), or the Redis failure (AX_EIO, AX_ETIMEDOUT, AX_EPROTO for an
 * unexpected reply).  value is valid only during the call. */
typedef void ingest_auth_fn(ax_err rc, const char *value, void *arg);

/* The tenant of a webhook token.  Returns AX_OK with tenant filled (from
 * the cache), AX_EAUTH with errbuf (unknown or revoked, cached), AX_EAGAIN
 * when a Redis lookup was started (fn will be called), AX_EIO when Redis
 * is not connected (fn is not called). */
ax_err ingest_auth_token(struct ingest_auth *a, struct ax_rconn *rc, const char *token,
			 char tenant[AX_TENANT_MAX + 1], ingest_auth_fn *fn, void *arg,
			 char *errbuf, size_t errlen) AX_MUSTCHECK;

/* The sealed signing secrets of tenant for source.  AX_OK with *sealed
 * (a new string, free(); NULL when there is none) from the cache,
 * AX_EAGAIN when a lookup was started (fn will be called), AX_EIO when
 * Redis is not connected. */
ax_err ingest_auth_secrets(struct ingest_auth *a, struct ax_rconn *rc, const char *tenant,
			   const char *source, char **sealed, ingest_auth_fn *fn,
			   void *arg) AX_MUSTCHECK;

/* Check the request's signature for source against the sealed secrets
 * (the Redis value: comma-separated base64 boxes, newest first), opened
 * with tenant's key and wiped after use.  now is time(NULL) (a parameter
 * for tests).  AX_OK, AX_EAUTH with errbuf (missing or bad signature),
 * AX_EINVAL with errbuf when the secrets cannot be opened (no or another
 * ALEXUS_MASTER_KEY, a damaged value): the server's fault, not the
 * sender's. */
ax_err ingest_auth_verify(const struct ingest_auth *a, const char *tenant, const char *source,
			  const char *sealed, const unsigned char *body, size_t len,
			  ingest_sig_header_fn *header, const void *hctx, long now, char *errbuf,
			  size_t errlen) AX_MUSTCHECK;

/* Cache entries now (tests). */
size_t ingest_auth_cache_size(const struct ingest_auth *a);

#endif /* INGEST_AUTH_H */
