/* jwt.h - bearer token verification and minting (libjwt).
 *
 * The algorithm is pinned by configuration: a token whose header names any
 * other algorithm, "none" included, is refused before its claims are read
 * and before any signature code runs.  HS256/384/512 use a shared HMAC
 * key; RS256/384/512 verify with an RSA public key (PEM, SubjectPublicKeyInfo
 * "-----BEGIN PUBLIC KEY-----") and mint only with the private key. */
#ifndef AX_JWT_H
#define AX_JWT_H

#include <stddef.h>
#include "alexus/err.h"
#include "alexus/keys.h"

struct ax_config;

struct ax_jwt_opts {
	const char *alg;             /* "HS256" ... "RS512": the one accepted */
	const unsigned char *key;    /* HS*: the HMAC secret; RS*: PEM (public to
	                              * verify, private to mint) */
	size_t key_len;
	const char *issuer;          /* NULL or "" = not checked */
	const char *audience;        /* NULL or "" = not checked */
	long leeway_s;               /* clock skew allowed on exp/nbf */
	/* Private: what ax_jwt_opts_from_config allocated (the key file's
	 * bytes, the strings); freed by ax_jwt_opts_release. */
	unsigned char *owned_key_;
	char *owned_alg_, *owned_iss_, *owned_aud_;
};

/* Fill o from the configuration, reading ALEXUS_JWT_KEY_FILE once:
 *  - HS*: the key is ALEXUS_JWT_SECRET, or the key file's bytes (one
 *    trailing newline -- "\n" or "\r\n" -- dropped, so `echo s > file`
 *    works); setting both is refused as ambiguous, setting neither too.
 *  - RS*: the key file must hold a PEM public key; ALEXUS_JWT_SECRET is
 *    ignored (it cannot verify an RSA signature).
 * issuer/audience come from ALEXUS_JWT_ISSUER/_AUDIENCE, leeway_s from the
 * argument.  o owns copies of everything: cfg may go away after.  AX_EINVAL
 * (or AX_EIO when the file cannot be read) with errbuf naming the
 * variable; o then holds nothing.  Release with ax_jwt_opts_release. */
ax_err ax_jwt_opts_from_config(struct ax_jwt_opts *o, const struct ax_config *cfg, long leeway_s,
			       char *errbuf, size_t errlen) AX_MUSTCHECK;
/* Free what ax_jwt_opts_from_config allocated (the key is wiped first) and
 * zero o.  Safe on a zeroed struct; NULL-safe. */
void ax_jwt_opts_release(struct ax_jwt_opts *o);

/* 1 when alg is one of HS256/384/512 (a shared secret), 0 otherwise. */
int ax_jwt_alg_is_hmac(const char *alg);

/* Verify token; on success copy the tenant_id claim into tenant (which
 * must hold AX_TENANT_MAX + 1 bytes).  Checks, in order: shape, header
 * "alg" equal to o->alg (before any signature code runs), signature, exp
 * (required), nbf (if present), iss and aud (when configured; aud may be a
 * string or an array), tenant_id (required, ax_tenant_valid).  Returns
 * AX_EAUTH with errbuf set to a short reason fit for an HTTP error body:
 * "missing token", "malformed token", "algorithm not allowed", "bad
 * signature", "missing exp claim", "token expired", "token not yet valid",
 * "wrong issuer", "wrong audience", "missing tenant_id claim", "invalid
 * tenant_id claim".  AX_EINVAL when o has no key or an unusable alg
 * (anything but HS256/384/512 and RS256/384/512). */
ax_err ax_jwt_verify(const struct ax_jwt_opts *o, const char *token,
		     char tenant[AX_TENANT_MAX + 1], char *errbuf, size_t errlen) AX_MUSTCHECK;
/* The same, and on success *valid_until gets the wall-clock second (Unix
 * time, leeway included) from which the token counts as expired, for
 * callers that cache a verified token (a token valid now stays valid until
 * then: nbf lies in the past and nothing else depends on the clock). */
ax_err ax_jwt_verify_until(const struct ax_jwt_opts *o, const char *token,
			   char tenant[AX_TENANT_MAX + 1], double *valid_until, char *errbuf,
			   size_t errlen) AX_MUSTCHECK;

/* What the operator API needs beyond the tenant: the role claim
 * ("viewer" < "operator" < "admin"; "" when absent or unknown, which
 * grants nothing) and the subject (who, for the audit log). */
struct ax_jwt_claims {
	char tenant[AX_TENANT_MAX + 1];
	char role[16];
	char sub[128];
	double valid_until;
};
/* ax_jwt_verify_until, and the role and sub claims into c. */
ax_err ax_jwt_verify_claims(const struct ax_jwt_opts *o, const char *token,
			    struct ax_jwt_claims *c, char *errbuf, size_t errlen) AX_MUSTCHECK;
/* 1 viewer, 2 operator, 3 admin, 0 anything else (NULL included). */
int ax_jwt_role_rank(const char *role);

/* Mint a token for tenant valid for ttl_s seconds: claims iat, exp,
 * tenant_id, sub "tenant:<id>", and iss/aud when configured.  For RS* the
 * key must be the PEM private key.  free() the result.  NULL on error
 * with errbuf set. */
/* The same with a role claim (NULL: none); a role that is not viewer,
 * operator or admin is refused. */
char *ax_jwt_mint_role(const struct ax_jwt_opts *o, const char *tenant, const char *role,
		       long ttl_s, char *errbuf, size_t errlen);
char *ax_jwt_mint(const struct ax_jwt_opts *o, const char *tenant, long ttl_s,
		  char *errbuf, size_t errlen);

#endif /* AX_JWT_H */
