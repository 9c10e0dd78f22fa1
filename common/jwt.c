/* jwt.c - bearer token verification and minting over libjwt (see jwt.h).
 *
 * Verification does not trust libjwt to refuse algorithms: libjwt 1.x
 * accepts "none" when no key is given and decides the algorithm from the
 * token's own header.  So the JOSE header is decoded here first
 * (sodium_base642bin, URL-safe alphabet, no padding, as RFC 7515 requires)
 * and a token whose "alg" is not exactly the configured one -- "none",
 * another HMAC size, HS256 signed with the RSA public key as the HMAC key
 * (the classic key-confusion forgery against an RS256 verifier), RS256
 * offered to an HS256 verifier -- is refused before any signature code
 * runs.  The payload is decoded here too so a malformed body is reported
 * as such rather than as a bad signature.  Then jwt_decode checks the
 * signature with the key (libjwt's OpenSSL backend: HMAC, or
 * PEM_read_bio_PUBKEY + RSA PKCS#1 v1.5 for RS*) and jwt_get_alg is
 * checked once more.  Claims are read from our own parse of the payload:
 * the same bytes libjwt has just verified, and cJSON lets us tell a
 * missing claim from a wrongly typed one (aud may be a string or an array,
 * exp/nbf may be written as floats).
 *
 * ax_jwt_opts_from_config is the one place the configuration becomes a
 * verifier, so ingest and alexusctl cannot disagree on which key or file
 * applies.  The key file is read once, at start; a rotated file takes a
 * restart (ingest has no reload yet).  An RS* key file must be a PEM
 * public key: a private key or a certificate would make libjwt refuse
 * every token at run time, so it is refused at start instead.
 *
 * Error strings are short, constant and safe to return in an HTTP body;
 * they never echo token contents. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

#include "alexus/config.h"
#include "alexus/json.h"
#include "alexus/jwt.h"
#include "alexus/mem.h"

#define JWT_MAX_TOKEN 8192
#define JWT_MAX_KEY_FILE (64 * 1024)   /* far above a 16384-bit RSA key in PEM */
#define PEM_PUBLIC "-----BEGIN PUBLIC KEY-----"

static const char *const allowed_algs[] = { "HS256", "HS384", "HS512",
					    "RS256", "RS384", "RS512" };

/* The libjwt id of alg when it is one we accept, else JWT_ALG_INVAL. */
static jwt_alg_t accepted_alg(const char *alg)
{
	size_t i;

	if (alg == NULL)
		return JWT_ALG_INVAL;
	for (i = 0; i < sizeof(allowed_algs) / sizeof(allowed_algs[0]); i++) {
		if (strcmp(alg, allowed_algs[i]) == 0)
			return jwt_str_alg(alg);
	}
	return JWT_ALG_INVAL;
}

int ax_jwt_alg_is_hmac(const char *alg)
{
	return alg != NULL && strncmp(alg, "HS", 2) == 0 && accepted_alg(alg) != JWT_ALG_INVAL;
}

/* The whole of path (at most JWT_MAX_KEY_FILE bytes) into a new buffer. */
static ax_err read_key_file(const char *path, unsigned char **out, size_t *len, char *errbuf,
			    size_t errlen)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	size_t n;

	if (f == NULL) {
		ax_errfmt(errbuf, errlen, "ALEXUS_JWT_KEY_FILE: cannot open '%s': %s", path,
			  strerror(errno));
		return AX_EIO;
	}
	buf = ax_xmalloc(JWT_MAX_KEY_FILE + 1);
	n = fread(buf, 1, JWT_MAX_KEY_FILE + 1, f);
	if (ferror(f)) {
		ax_errfmt(errbuf, errlen, "ALEXUS_JWT_KEY_FILE: cannot read '%s': %s", path,
			  strerror(errno));
		fclose(f);
		free(buf);
		return AX_EIO;
	}
	fclose(f);
	if (n > JWT_MAX_KEY_FILE) {
		sodium_memzero(buf, JWT_MAX_KEY_FILE + 1);
		free(buf);
		ax_errfmt(errbuf, errlen, "ALEXUS_JWT_KEY_FILE: '%s' is larger than %d bytes", path,
			  JWT_MAX_KEY_FILE);
		return AX_EINVAL;
	}
	buf[n] = '\0';     /* PEM is text; libjwt gets the length anyway */
	*out = buf;
	*len = n;
	return AX_OK;
}

ax_err ax_jwt_opts_from_config(struct ax_jwt_opts *o, const struct ax_config *cfg, long leeway_s,
			       char *errbuf, size_t errlen)
{
	const char *secret = cfg->jwt_secret != NULL ? cfg->jwt_secret : "";
	const char *file = cfg->jwt_key_file != NULL ? cfg->jwt_key_file : "";
	unsigned char *key = NULL;
	size_t len = 0;
	ax_err rc;

	memset(o, 0, sizeof(*o));
	if (accepted_alg(cfg->jwt_alg) == JWT_ALG_INVAL) {
		ax_errfmt(errbuf, errlen, "ALEXUS_JWT_ALG: must be HS256, HS384, HS512, RS256, "
					  "RS384 or RS512");
		return AX_EINVAL;
	}
	if (ax_jwt_alg_is_hmac(cfg->jwt_alg)) {
		if (secret[0] != '\0' && file[0] != '\0') {
			ax_errfmt(errbuf, errlen, "ALEXUS_JWT_SECRET and ALEXUS_JWT_KEY_FILE are both "
						  "set: give the %s key one way only", cfg->jwt_alg);
			return AX_EINVAL;
		}
		if (secret[0] == '\0' && file[0] == '\0') {
			ax_errfmt(errbuf, errlen, "ALEXUS_JWT_SECRET (or ALEXUS_JWT_KEY_FILE) is not "
						  "set: %s needs a key", cfg->jwt_alg);
			return AX_EINVAL;
		}
		if (secret[0] != '\0') {
			len = strlen(secret);
			key = (unsigned char *)ax_xstrdup(secret);
		} else {
			rc = read_key_file(file, &key, &len, errbuf, errlen);
			if (rc != AX_OK)
				return rc;
			if (len > 0 && key[len - 1] == '\n')
				len--;
			if (len > 0 && key[len - 1] == '\r')
				len--;
			if (len == 0) {
				free(key);
				ax_errfmt(errbuf, errlen, "ALEXUS_JWT_KEY_FILE: '%s' is empty", file);
				return AX_EINVAL;
			}
		}
	} else {
		if (file[0] == '\0') {
			ax_errfmt(errbuf, errlen, "ALEXUS_JWT_KEY_FILE is not set: %s needs the PEM "
						  "public key", cfg->jwt_alg);
			return AX_EINVAL;
		}
		rc = read_key_file(file, &key, &len, errbuf, errlen);
		if (rc != AX_OK)
			return rc;
		if (strstr((const char *)key, PEM_PUBLIC) == NULL) {
			sodium_memzero(key, len);
			free(key);
			ax_errfmt(errbuf, errlen, "ALEXUS_JWT_KEY_FILE: '%s' holds no PEM public key "
						  "(\"" PEM_PUBLIC "\"; `openssl pkey -pubout` makes "
						  "one from a private key)", file);
			return AX_EINVAL;
		}
	}
	o->owned_key_ = key;
	o->owned_alg_ = ax_xstrdup(cfg->jwt_alg);
	o->owned_iss_ = ax_xstrdup(cfg->jwt_issuer != NULL ? cfg->jwt_issuer : "");
	o->owned_aud_ = ax_xstrdup(cfg->jwt_audience != NULL ? cfg->jwt_audience : "");
	o->alg = o->owned_alg_;
	o->key = key;
	o->key_len = len;
	o->issuer = o->owned_iss_;
	o->audience = o->owned_aud_;
	o->leeway_s = leeway_s;
	return AX_OK;
}

void ax_jwt_opts_release(struct ax_jwt_opts *o)
{
	if (o == NULL)
		return;
	if (o->owned_key_ != NULL) {
		sodium_memzero(o->owned_key_, o->key_len);
		free(o->owned_key_);
	}
	free(o->owned_alg_);
	free(o->owned_iss_);
	free(o->owned_aud_);
	memset(o, 0, sizeof(*o));
}

static ax_err refuse(char *errbuf, size_t errlen, const char *why)
{
	ax_errfmt(errbuf, errlen, "%s", why);
	return AX_EAUTH;
}

/* Decode one base64url segment and parse it as a JSON object. */
static cJSON *segment_json(const char *seg, size_t len)
{
	unsigned char *bin;
	size_t binlen = 0;
	cJSON *j = NULL;

	if (len == 0)
		return NULL;
	bin = ax_xmalloc(len);
	if (sodium_base642bin(bin, len, seg, len, NULL, &binlen, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
	    binlen > 0) {
		j = ax_json_parse((const char *)bin, binlen, 16);
		if (j != NULL && !cJSON_IsObject(j)) {
			cJSON_Delete(j);
			j = NULL;
		}
	}
	free(bin);
	return j;
}

static int aud_matches(const cJSON *aud, const char *want)
{
	const cJSON *e;

	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, want) == 0;
	if (cJSON_IsArray(aud)) {
		cJSON_ArrayForEach(e, aud) {
			if (cJSON_IsString(e) && strcmp(e->valuestring, want) == 0)
				return 1;
		}
	}
	return 0;
}

static ax_err check_claims(const struct ax_jwt_opts *o, const cJSON *claims,
			   char tenant[AX_TENANT_MAX + 1], double *valid_until, char *errbuf,
			   size_t errlen)
{
	const cJSON *exp, *nbf, *iss, *aud, *tid;
	double now = (double)time(NULL);
	double leeway = o->leeway_s > 0 ? (double)o->leeway_s : 0.0;

	exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
	if (exp == NULL)
		return refuse(errbuf, errlen, "missing exp claim");
	if (!cJSON_IsNumber(exp))
		return refuse(errbuf, errlen, "malformed token");
	if (now >= exp->valuedouble + leeway)
		return refuse(errbuf, errlen, "token expired");
	nbf = cJSON_GetObjectItemCaseSensitive(claims, "nbf");
	if (nbf != NULL) {
		if (!cJSON_IsNumber(nbf))
			return refuse(errbuf, errlen, "malformed token");
		if (now + leeway < nbf->valuedouble)
			return refuse(errbuf, errlen, "token not yet valid");
	}
	if (o->issuer != NULL && o->issuer[0] != '\0') {
		iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
		if (!cJSON_IsString(iss) || strcmp(iss->valuestring, o->issuer) != 0)
			return refuse(errbuf, errlen, "wrong issuer");
	}
	if (o->audience != NULL && o->audience[0] != '\0') {
		aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
		if (!aud_matches(aud, o->audience))
			return refuse(errbuf, errlen, "wrong audience");
	}
	tid = cJSON_GetObjectItemCaseSensitive(claims, "tenant_id");
	if (tid == NULL || cJSON_IsNull(tid))
		return refuse(errbuf, errlen, "missing tenant_id claim");
	if (!cJSON_IsString(tid) || !ax_tenant_valid(tid->valuestring))
		return refuse(errbuf, errlen, "invalid tenant_id claim");
	memcpy(tenant, tid->valuestring, strlen(tid->valuestring) + 1);
	*valid_until = exp->valuedouble + leeway;
	return AX_OK;
}

ax_err ax_jwt_verify(const struct ax_jwt_opts *o, const char *token,
		     char tenant[AX_TENANT_MAX + 1], char *errbuf, size_t errlen)
{
	double until;

	return ax_jwt_verify_until(o, token, tenant, &until, errbuf, errlen);
}

static ax_err verify(const struct ax_jwt_opts *o, const char *token,
		     char tenant[AX_TENANT_MAX + 1], double *valid_until,
		     struct ax_jwt_claims *extra, char *errbuf, size_t errlen);

ax_err ax_jwt_verify_until(const struct ax_jwt_opts *o, const char *token,
			   char tenant[AX_TENANT_MAX + 1], double *valid_until, char *errbuf,
			   size_t errlen)
{
	return verify(o, token, tenant, valid_until, NULL, errbuf, errlen);
}

ax_err ax_jwt_verify_claims(const struct ax_jwt_opts *o, const char *token,
			    struct ax_jwt_claims *c, char *errbuf, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	return verify(o, token, c->tenant, &c->valid_until, c, errbuf, errlen);
}

static ax_err verify(const struct ax_jwt_opts *o, const char *token,
		     char tenant[AX_TENANT_MAX + 1], double *valid_until,
		     struct ax_jwt_claims *extra, char *errbuf, size_t errlen)
{
	const char *d1, *d2, *p;
	cJSON *hdr = NULL, *claims = NULL;
	const cJSON *alg, *crit;
	jwt_alg_t want;
	jwt_t *jwt = NULL;
	size_t tlen;
	ax_err rc;

	if (tenant != NULL)
		tenant[0] = '\0';
	if (valid_until != NULL)
		*valid_until = 0;
	if (valid_until == NULL || o == NULL || o->alg == NULL || o->key == NULL || o->key_len == 0 ||
	    o->key_len > 0x7fffffff || tenant == NULL) {
		ax_errfmt(errbuf, errlen, "token verification not configured");
		return AX_EINVAL;
	}
	want = accepted_alg(o->alg);
	if (want == JWT_ALG_INVAL) {
		ax_errfmt(errbuf, errlen, "token verification not configured");
		return AX_EINVAL;
	}
	if (token == NULL || token[0] == '\0')
		return refuse(errbuf, errlen, "missing token");

	/* Shape: three base64url segments, two dots, nothing else. */
	tlen = strnlen(token, JWT_MAX_TOKEN + 1);
	if (tlen > JWT_MAX_TOKEN)
		return refuse(errbuf, errlen, "malformed token");
	for (p = token; *p != '\0'; p++) {
		char c = *p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return refuse(errbuf, errlen, "malformed token");
	}
	d1 = strchr(token, '.');
	d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
	if (d1 == NULL || d2 == NULL || strchr(d2 + 1, '.') != NULL)
		return refuse(errbuf, errlen, "malformed token");

	hdr = segment_json(token, (size_t)(d1 - token));
	if (hdr == NULL)
		return refuse(errbuf, errlen, "malformed token");
	alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
	if (!cJSON_IsString(alg)) {
		rc = refuse(errbuf, errlen, "malformed token");
		goto out;
	}
	if (strcmp(alg->valuestring, o->alg) != 0) {
		rc = refuse(errbuf, errlen, "algorithm not allowed");
		goto out;
	}
	/* RFC 7515 4.1.11: extensions we do not understand must be refused. */
	crit = cJSON_GetObjectItemCaseSensitive(hdr, "crit");
	if (crit != NULL) {
		rc = refuse(errbuf, errlen, "malformed token");
		goto out;
	}
	claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
	if (claims == NULL) {
		rc = refuse(errbuf, errlen, "malformed token");
		goto out;
	}
	if (d2[1] == '\0') {
		rc = refuse(errbuf, errlen, "bad signature");
		goto out;
	}

	if (jwt_decode(&jwt, token, o->key, (int)o->key_len) != 0 || jwt == NULL) {
		rc = refuse(errbuf, errlen, "bad signature");
		goto out;
	}
	if (jwt_get_alg(jwt) != want) {
		rc = refuse(errbuf, errlen, "algorithm not allowed");
		goto out;
	}
	rc = check_claims(o, claims, tenant, valid_until, errbuf, errlen);
	if (rc == AX_OK && extra != NULL) {
		/* role and sub are informational here: an unknown or absent
		 * role is "" and grants nothing (ax_jwt_role_at_least). */
		const char *role = ax_json_str(claims, "role"), *sub = ax_json_str(claims, "sub");

		if (role != NULL && ax_jwt_role_rank(role) > 0)
			snprintf(extra->role, sizeof(extra->role), "%s", role);
		if (sub != NULL)
			snprintf(extra->sub, sizeof(extra->sub), "%s", sub);
	}
out:
	if (jwt != NULL)
		jwt_free(jwt);
	cJSON_Delete(hdr);
	cJSON_Delete(claims);
	return rc;
}

int ax_jwt_role_rank(const char *role)
{
	static const char *const ranks[] = { "viewer", "operator", "admin" };
	int i;

	for (i = 0; role != NULL && i < 3; i++)
		if (strcmp(role, ranks[i]) == 0)
			return i + 1;
	return 0;
}

char *ax_jwt_mint(const struct ax_jwt_opts *o, const char *tenant, long ttl_s, char *errbuf,
		  size_t errlen)
{
	return ax_jwt_mint_role(o, tenant, NULL, ttl_s, errbuf, errlen);
}

char *ax_jwt_mint_role(const struct ax_jwt_opts *o, const char *tenant, const char *role,
		       long ttl_s, char *errbuf, size_t errlen)
{
	jwt_t *jwt = NULL;
	jwt_alg_t alg;
	char sub[AX_TENANT_MAX + 8];
	char *tok;
	long now = (long)time(NULL);

	if (o == NULL || o->alg == NULL || o->key == NULL || o->key_len == 0 ||
	    o->key_len > 0x7fffffff) {
		ax_errfmt(errbuf, errlen, "token signing not configured");
		return NULL;
	}
	alg = accepted_alg(o->alg);
	if (alg == JWT_ALG_INVAL) {
		ax_errfmt(errbuf, errlen, "algorithm not allowed");
		return NULL;
	}
	if (!ax_tenant_valid(tenant)) {
		ax_errfmt(errbuf, errlen, "invalid tenant id");
		return NULL;
	}
	if (ttl_s <= 0) {
		ax_errfmt(errbuf, errlen, "ttl must be positive");
		return NULL;
	}
	if (role != NULL && ax_jwt_role_rank(role) == 0) {
		ax_errfmt(errbuf, errlen, "role must be viewer, operator or admin");
		return NULL;
	}
	snprintf(sub, sizeof(sub), "tenant:%s", tenant);
	if (jwt_new(&jwt) != 0)
		goto fail;
	if (jwt_add_grant_int(jwt, "iat", now) != 0 ||
	    jwt_add_grant_int(jwt, "exp", now + ttl_s) != 0 ||
	    jwt_add_grant(jwt, "tenant_id", tenant) != 0 || jwt_add_grant(jwt, "sub", sub) != 0)
		goto fail;
	if (role != NULL && jwt_add_grant(jwt, "role", role) != 0)
		goto fail;
	if (o->issuer != NULL && o->issuer[0] != '\0' && jwt_add_grant(jwt, "iss", o->issuer) != 0)
		goto fail;
	if (o->audience != NULL && o->audience[0] != '\0' &&
	    jwt_add_grant(jwt, "aud", o->audience) != 0)
		goto fail;
	if (jwt_set_alg(jwt, alg, o->key, (int)o->key_len) != 0)
		goto fail;
	tok = jwt_encode_str(jwt);
	if (tok == NULL)
		goto fail;
	jwt_free(jwt);
	return tok; /* libjwt 1.10 returns malloc'd memory: free() it */
fail:
	ax_errfmt(errbuf, errlen, "cannot mint token: %s", strerror(errno ? errno : EINVAL));
	if (jwt != NULL)
		jwt_free(jwt);
	return NULL;
}
