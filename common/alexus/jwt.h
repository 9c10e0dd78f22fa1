/* jwt.h - bearer token verification and minting (libjwt).
 *
 * The algorithm is pinned by configuration: a token whose header names any
 * other algorithm, "none" included, is refused before its claims are read. */
#ifndef AX_JWT_H
#define AX_JWT_H

#include <stddef.h>
#include "alexus/err.h"
#include "alexus/keys.h"

struct ax_jwt_opts {
	const char *alg;             /* "HS256" */
	const unsigned char *key;    /* HMAC secret */
	size_t key_len;
	const char *issuer;          /* NULL or "" = not checked */
	const char *audience;        /* NULL or "" = not checked */
	long leeway_s;               /* clock skew allowed on exp/nbf */
};

/* Verify token; on success copy the tenant_id claim into tenant (which
 * must hold AX_TENANT_MAX + 1 bytes).  Checks, in order: shape, header
 * "alg" equal to o->alg (before any signature code runs), signature, exp
 * (required), nbf (if present), iss and aud (when configured; aud may be a
 * string or an array), tenant_id (required, ax_tenant_valid).  Returns
 * AX_EAUTH with errbuf set to a short reason fit for an HTTP error body:
 * "missing token", "malformed token", "algorithm not allowed", "bad
 * signature", "missing exp claim", "token expired", "token not yet valid",
 * "wrong issuer", "wrong audience", "missing tenant_id claim", "invalid
 * tenant_id claim".  AX_EINVAL when o has no key or an unusable alg. */
ax_err ax_jwt_verify(const struct ax_jwt_opts *o, const char *token,
		     char tenant[AX_TENANT_MAX + 1], char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Mint a token for tenant valid for ttl_s seconds: claims iat, exp,
 * tenant_id, sub "tenant:<id>", and iss/aud when configured.  free() the
 * result.  NULL on error with errbuf set. */
char *ax_jwt_mint(const struct ax_jwt_opts *o, const char *tenant, long ttl_s,
		  char *errbuf, size_t errlen);

#endif /* AX_JWT_H */
