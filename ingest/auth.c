/* auth.c - credentials, webhook-token lookup and signing-secret checks
 * for one ingest server (see auth.h).
 *
 * Lookups.  A webhook token is hashed (SHA-256, hex) and its tenant read
 * with GET alexus:whtoken:<hash>; a tenant's secrets for a source with
 * HGET t:{tenant}:secrets <source>.  Both run on the loop's ax_rconn, so
 * they are pipelined with the appends and bounded by the same command
 * deadline.  A lookup owns a small context; its reply callback fills the
 * cache, then hands the answer to the caller.  Nothing waits: the caller
 * parks its request and resumes it from the callback.
 *
 * The cache.  Without one every webhook would cost an extra Redis round
 * trip, and a sender with a revoked token would cost one per retry; with
 * one, revocation is delayed by its TTL.  So positive answers live
 * ALEXUS_TOKEN_CACHE seconds, negative ones (no such token, no secret for
 * the source) a tenth of that: a token just issued or a secret just set
 * takes effect quickly -- the second matters, since until then unsigned
 * requests still pass.  Entries are keyed "t:<sha256>" and
 * "s:<tenant>:<source>" (a tenant id holds no ':'), and "j:<sha256>" for verified JWTs (see ingest_auth_jwt), found through a
 * chained hash table whose bucket index is SipHash-2-4
 * (crypto_shorthash) under a random key, so request data cannot be chosen
 * to pile into one bucket; a TAILQ keeps them in least-recently-used
 * order and the table never holds more than INGEST_AUTH_CACHE_MAX (the
 * oldest goes first).  Written here rather than taken from a library: the
 * distribution has no small C cache with TTL and LRU (glib's GHashTable
 * would be a dependency for one table), and this is the whole of it.
 * Expiry uses CLOCK_MONOTONIC, so a wall-clock step changes nothing.
 *
 * Secrets.  The Redis value is "<box>,<box>..." (newest first), each box
 * base64 of nonce || secretbox, sealed with the tenant's key
 * (common/crypto.h).  They are opened only for the check, into a buffer
 * that is wiped right after; the cache holds the sealed text only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/hiredis.h>
#include <sodium.h>

#include "alexus/config.h"
#include "alexus/crypto.h"
#include "alexus/hash.h"
#include "alexus/jwt.h"
#include "alexus/keys.h"
#include "alexus/mem.h"
#include "alexus/rconn.h"
#include "auth.h"

#define NBUCKETS 1024             /* power of two */
#define MAX_SECRETS 8             /* per source, while rotating */
#define MAX_SOURCE 128            /* longest source (driver) name looked up */
#define CACHE_KEY_MAX (4 + AX_TENANT_MAX + MAX_SOURCE)
#define MAX_SEALED (MAX_SECRETS * ((AX_BOX_MAX_PLAIN + AX_BOX_OVERHEAD) * 4 / 3 + 4))

struct entry {
	TAILQ_ENTRY(entry) lru;   /* most recently used first */
	struct entry *next;       /* bucket chain */
	size_t bucket;
	char *key;
	char *value;              /* NULL: a negative answer */
	double expires;           /* monotonic seconds */
};

TAILQ_HEAD(entry_list, entry);

struct ingest_auth {
	const struct ax_config *cfg;
	struct ax_jwt_opts jwt;
	unsigned char master[AX_MASTER_KEY_BYTES];
	int have_master;
	int ttl_s, neg_ttl_s;     /* 0: no cache */
	unsigned char hkey[crypto_shorthash_KEYBYTES];
	struct entry *buckets[NBUCKETS];
	struct entry_list lru;
	size_t n;
	long outstanding;         /* lookups waiting for Redis */
	int closing;              /* ingest_auth_free ran; free at the last reply */
};

/* One lookup in flight. */
struct lookup {
	struct ingest_auth *a;
	int is_token;
	ingest_auth_fn *fn;
	void *arg;
	char key[CACHE_KEY_MAX];
};

/* ------------------------------------------------------------ cache */

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t bucket_of(const struct ingest_auth *a, const char *key)
{
	unsigned char h[crypto_shorthash_BYTES];
	size_t v = 0, i;

	crypto_shorthash(h, (const unsigned char *)key, strlen(key), a->hkey);
	for (i = 0; i < sizeof(v) && i < sizeof(h); i++)
		v = (v << 8) | h[i];
	return v & (NBUCKETS - 1);
}

static void entry_drop(struct ingest_auth *a, struct entry *e)
{
	struct entry **pp;

	for (pp = &a->buckets[e->bucket]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	TAILQ_REMOVE(&a->lru, e, lru);
	a->n--;
	free(e->key);
	free(e->value);
	free(e);
}

/* The live entry for key, or NULL (an expired one is dropped). */
static struct entry *cache_get(struct ingest_auth *a, const char *key)
{
	struct entry *e;

	if (a->ttl_s <= 0)
		return NULL;
	for (e = a->buckets[bucket_of(a, key)]; e != NULL; e = e->next) {
		if (strcmp(e->key, key) != 0)
			continue;
		if (e->expires <= now_mono()) {
			entry_drop(a, e);
			return NULL;
		}
		TAILQ_REMOVE(&a->lru, e, lru);
		TAILQ_INSERT_HEAD(&a->lru, e, lru);
		return e;
	}
	return NULL;
}

/* Keep value (NULL: a negative answer) under key for life_s seconds. */
static void cache_put_for(struct ingest_auth *a, const char *key, const char *value, double life_s)
{
	struct entry *e;
	size_t b;

	if (a->ttl_s <= 0 || life_s <= 0)
		return;
	b = bucket_of(a, key);
	for (e = a->buckets[b]; e != NULL; e = e->next) {
		if (strcmp(e->key, key) == 0) {
			entry_drop(a, e);
			break;
		}
	}
	while (a->n >= INGEST_AUTH_CACHE_MAX)
		entry_drop(a, TAILQ_LAST(&a->lru, entry_list));
	e = ax_xcalloc(1, sizeof(*e));
	e->bucket = b;
	e->key = ax_xstrdup(key);
	e->value = ax_xstrdup(value);
	e->expires = now_mono() + life_s;
	e->next = a->buckets[b];
	a->buckets[b] = e;
	TAILQ_INSERT_HEAD(&a->lru, e, lru);
	a->n++;
}

static void cache_put(struct ingest_auth *a, const char *key, const char *value)
{
	cache_put_for(a, key, value, value != NULL ? a->ttl_s : a->neg_ttl_s);
}

size_t ingest_auth_cache_size(const struct ingest_auth *a)
{
	return a->n;
}

/* --------------------------------------------------------- lifecycle */

struct ingest_auth *ingest_auth_new(const struct ax_config *cfg, long jwt_leeway_s, char *errbuf,
				    size_t errlen)
{
	struct ingest_auth *a;
	char err[256];

	if (sodium_init() < 0) {
		ax_errfmt(errbuf, errlen, "libsodium cannot be initialised");
		return NULL;
	}
	a = ax_xcalloc(1, sizeof(*a));
	a->cfg = cfg;
	TAILQ_INIT(&a->lru);
	if (ax_jwt_opts_from_config(&a->jwt, cfg, jwt_leeway_s, err, sizeof(err)) != AX_OK) {
		ax_errfmt(errbuf, errlen, "%s", err);
		free(a);
		return NULL;
	}
	if (cfg->master_key != NULL && cfg->master_key[0] != '\0') {
		if (ax_crypto_master_parse(cfg->master_key, a->master, err, sizeof(err)) != AX_OK) {
			ax_errfmt(errbuf, errlen, "%s", err);
			ax_jwt_opts_release(&a->jwt);
			free(a);
			return NULL;
		}
		a->have_master = 1;
	}
	a->ttl_s = cfg->token_cache_s > 0 ? cfg->token_cache_s : 0;
	a->neg_ttl_s = a->ttl_s / 10 > 0 ? a->ttl_s / 10 : 1;
	randombytes_buf(a->hkey, sizeof(a->hkey));
	return a;
}

static void auth_destroy(struct ingest_auth *a)
{
	while (!TAILQ_EMPTY(&a->lru))
		entry_drop(a, TAILQ_FIRST(&a->lru));
	ax_jwt_opts_release(&a->jwt);
	sodium_memzero(a->master, sizeof(a->master));
	free(a);
}

void ingest_auth_free(struct ingest_auth *a)
{
	if (a == NULL)
		return;
	if (a->outstanding > 0) {
		a->closing = 1;   /* the last reply frees it */
		return;
	}
	auth_destroy(a);
}

/* ------------------------------------------------------- credentials */

void ingest_cred_release(struct ingest_cred *c)
{
	if (c == NULL)
		return;
	if (c->value != NULL) {
		sodium_memzero(c->value, strlen(c->value));
		free(c->value);
	}
	memset(c, 0, sizeof(*c));
}

/* The token of "Bearer <token>" (scheme case-insensitive), or NULL. */
static const char *bearer(const char *h)
{
	if (h == NULL)
		return NULL;
	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return NULL;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	return *h != '\0' ? h : NULL;
}

/* Add one credential found at where; two that differ are refused. */
static ax_err cred_add(struct ingest_cred *c, const char *where, const char *v, size_t n,
		       char *errbuf, size_t errlen)
{
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (c->kind != INGEST_CRED_NONE) {
		if (strlen(c->value) != n || strncmp(c->value, v, n) != 0) {
			ax_errfmt(errbuf, errlen, "conflicting credentials in %s and %s; send one",
				  c->where, where);
			return AX_EAUTH;
		}
		return AX_OK;
	}
	c->value = ax_xstrndup(v, n);
	c->where = where;
	if (strncmp(c->value, AX_WHTOKEN_PREFIX, 4) == 0) {
		if (!ax_whtoken_valid(c->value)) {
			ax_errfmt(errbuf, errlen, "malformed webhook token in %s", where);
			return AX_EAUTH;
		}
		c->kind = INGEST_CRED_TOKEN;
	} else {
		c->kind = INGEST_CRED_JWT;
	}
	return AX_OK;
}

ax_err ingest_auth_credentials(const char *authorization, const char *x_token, const char *query,
			       struct ingest_cred *c, char *errbuf, size_t errlen)
{
	const char *tok;
	ax_err rc = AX_OK;

	memset(c, 0, sizeof(*c));
	tok = bearer(authorization);
	if (tok != NULL)
		rc = cred_add(c, "Authorization", tok, strlen(tok), errbuf, errlen);
	if (rc == AX_OK && x_token != NULL && x_token[0] != '\0') {
		rc = cred_add(c, "X-Alexus-Token", x_token, strlen(x_token), errbuf, errlen);
		if (rc == AX_OK && c->kind != INGEST_CRED_TOKEN) {
			ax_errfmt(errbuf, errlen, "X-Alexus-Token must be a webhook token (axw_...)");
			rc = AX_EAUTH;
		}
	}
	if (rc == AX_OK && query != NULL && query[0] != '\0') {
		struct evkeyvalq q;
		struct evkeyval *kv;
		int seen = 0;

		TAILQ_INIT(&q);
		/* A query libevent cannot parse carries no token we could use. */
		if (evhttp_parse_query_str(query, &q) == 0) {
			TAILQ_FOREACH(kv, &q, next) {
				if (strcmp(kv->key, "token") != 0)
					continue;
				if (seen++ > 0) {
					ax_errfmt(errbuf, errlen, "more than one token parameter");
					rc = AX_EAUTH;
					break;
				}
				if (!ax_whtoken_valid(kv->value)) {
					ax_errfmt(errbuf, errlen, "the token parameter must be a "
								  "webhook token (axw_...)");
					rc = AX_EAUTH;
					break;
				}
				rc = cred_add(c, "query", kv->value, strlen(kv->value), errbuf,
					      errlen);
				if (rc != AX_OK)
					break;
			}
		}
		evhttp_clear_headers(&q);
	}
	if (rc != AX_OK)
		ingest_cred_release(c);
	return rc;
}

ax_err ingest_auth_jwt(struct ingest_auth *a, const char *jwt, char tenant[AX_TENANT_MAX + 1],
		       char *errbuf, size_t errlen)
{
	char key[2 + AX_SHA256_HEX];
	const struct entry *e;
	double until, life;
	ax_err rc;

	/* A verified token is remembered under the SHA-256 of its exact text
	 * until the earlier of its own expiry and the cache TTL: decoding,
	 * parsing and checking the signature cost more than the rest of a
	 * small webhook, and a sender reuses one token for many.  Only
	 * verified tokens are kept, so a forged or altered one never
	 * matches; the key is hashed so the cache holds no bearer token. */
	if (a->ttl_s > 0 && jwt != NULL && jwt[0] != '\0') {
		key[0] = 'j';
		key[1] = ':';
		ax_sha256_hex(jwt, strlen(jwt), key + 2);
		e = cache_get(a, key);
		if (e != NULL && e->value != NULL) {
			memcpy(tenant, e->value, strlen(e->value) + 1);
			return AX_OK;
		}
	}
	rc = ax_jwt_verify_until(&a->jwt, jwt, tenant, &until, errbuf, errlen);
	if (rc == AX_OK && a->ttl_s > 0) {
		life = until - (double)time(NULL);
		cache_put_for(a, key, tenant, life < a->ttl_s ? life : a->ttl_s);
	}
	return rc;
}

ax_err ingest_auth_claims(struct ingest_auth *a, const char *jwt, struct ax_jwt_claims *c,
			  char *errbuf, size_t errlen)
{
	return ax_jwt_verify_claims(&a->jwt, jwt, c, errbuf, errlen);
}

int ingest_auth_link_ok(const struct ingest_auth *a, const char *tenant, const char *id,
			const char *decision, long long exp, const char *sig)
{
	return a->have_master && ax_link_verify(a->master, tenant, id, decision, exp, sig);
}

/* ----------------------------------------------------------- lookups */

static void on_reply(ax_err rc, struct redisReply *r, void *arg)
{
	struct lookup *l = arg;
	struct ingest_auth *a = l->a;
	const char *value = NULL;

	a->outstanding--;
	if (rc == AX_OK) {
		if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len <= MAX_SEALED &&
		    strlen(r->str) == r->len)
			value = r->str;
		else if (r->type != REDIS_REPLY_NIL)
			rc = AX_EPROTO;
		/* A token must map to a tenant id, nothing else. */
		if (l->is_token && value != NULL && !ax_tenant_valid(value)) {
			value = NULL;
			rc = AX_EPROTO;
		}
	}
	if (rc == AX_OK && !a->closing)
		cache_put(a, l->key, value);
	if (rc == AX_OK && l->is_token && value == NULL)
		rc = AX_EAUTH;
	l->fn(rc, value, l->arg);
	free(l);
	if (a->closing && a->outstanding == 0)
		auth_destroy(a);
}

static ax_err start(struct ingest_auth *a, struct ax_rconn *rc, int is_token, const char *key,
		    int argc, const char **argv, ingest_auth_fn *fn, void *arg)
{
	struct lookup *l;
	ax_err r;

	if (rc == NULL || !ax_rconn_ready(rc))
		return AX_EIO;
	l = ax_xcalloc(1, sizeof(*l));
	l->a = a;
	l->is_token = is_token;
	l->fn = fn;
	l->arg = arg;
	snprintf(l->key, sizeof(l->key), "%s", key);
	r = ax_rconn_cmdargv(rc, on_reply, l, argc, argv, NULL);
	if (r != AX_OK) {
		free(l);
		return AX_EIO;
	}
	a->outstanding++;
	return AX_EAGAIN;
}

ax_err ingest_auth_token(struct ingest_auth *a, struct ax_rconn *rc, const char *token,
			 char tenant[AX_TENANT_MAX + 1], ingest_auth_fn *fn, void *arg,
			 char *errbuf, size_t errlen)
{
	char hex[AX_SHA256_HEX], ckey[2 + AX_SHA256_HEX], rkey[AX_KEY_MAX];
	const char *argv[2];
	struct entry *e;

	tenant[0] = '\0';
	if (!ax_whtoken_valid(token)) {
		ax_errfmt(errbuf, errlen, "malformed webhook token");
		return AX_EAUTH;
	}
	ax_sha256_hex(token, strlen(token), hex);
	snprintf(ckey, sizeof(ckey), "t:%s", hex);
	e = cache_get(a, ckey);
	if (e != NULL) {
		if (e->value == NULL) {
			ax_errfmt(errbuf, errlen, "unknown or revoked webhook token");
			return AX_EAUTH;
		}
		snprintf(tenant, AX_TENANT_MAX + 1, "%s", e->value);
		return AX_OK;
	}
	if (ax_key_whtoken(rkey, sizeof(rkey), hex) < 0) {
		ax_errfmt(errbuf, errlen, "malformed webhook token");
		return AX_EAUTH;
	}
	argv[0] = "GET";
	argv[1] = rkey;
	return start(a, rc, 1, ckey, 2, argv, fn, arg);
}

ax_err ingest_auth_secrets(struct ingest_auth *a, struct ax_rconn *rc, const char *tenant,
			   const char *source, char **sealed, ingest_auth_fn *fn, void *arg)
{
	char ckey[CACHE_KEY_MAX], rkey[AX_KEY_MAX];
	const char *argv[3];
	struct entry *e;

	*sealed = NULL;
	if (source == NULL || source[0] == '\0' || strlen(source) > MAX_SOURCE ||
	    ax_key(rkey, sizeof(rkey), tenant, "secrets", NULL) < 0)
		return AX_EINVAL;
	snprintf(ckey, sizeof(ckey), "s:%s:%s", tenant, source);
	e = cache_get(a, ckey);
	if (e != NULL) {
		*sealed = ax_xstrdup(e->value);
		return AX_OK;
	}
	argv[0] = "HGET";
	argv[1] = rkey;
	argv[2] = source;
	return start(a, rc, 0, ckey, 3, argv, fn, arg);
}

/* ------------------------------------------------------------ verify */

ax_err ingest_auth_verify(const struct ingest_auth *a, const char *tenant, const char *source,
			  const char *sealed, const unsigned char *body, size_t len,
			  ingest_sig_header_fn *header, const void *hctx, long now, char *errbuf,
			  size_t errlen)
{
	struct ingest_secret secrets[MAX_SECRETS];
	unsigned char *plain, box[AX_BOX_MAX_PLAIN + AX_BOX_OVERHEAD];
	size_t n = 0, used = 0, boxlen, plen;
	const char *p = sealed, *e;
	ax_err rc = AX_OK;

	if (!a->have_master) {
		ax_errfmt(errbuf, errlen, "a signing secret is set for source \"%s\" but "
					  "ALEXUS_MASTER_KEY is not, so it cannot be checked", source);
		return AX_EINVAL;
	}
	/* One buffer holds every opened secret, each NUL-terminated. */
	plain = ax_xmalloc(MAX_SECRETS * (AX_BOX_MAX_PLAIN + 1));
	while (rc == AX_OK && p != NULL && *p != '\0') {
		e = strchr(p, ',');
		if (n == MAX_SECRETS ||
		    ax_crypto_box_unb64(p, e != NULL ? (size_t)(e - p) : strlen(p), box, sizeof(box),
					&boxlen) != AX_OK ||
		    ax_crypto_open(a->master, tenant, box, boxlen, plain + used, &plen) != AX_OK) {
			ax_errfmt(errbuf, errlen, "the signing secret of source \"%s\" cannot be "
						  "opened (another ALEXUS_MASTER_KEY, or a damaged "
						  "value: run alexusctl auth sync)", source);
			rc = AX_EINVAL;
			break;
		}
		secrets[n].key = plain + used;
		secrets[n].len = plen;
		n++;
		used += plen + 1;
		p = e != NULL ? e + 1 : NULL;
	}
	if (rc == AX_OK && n == 0) {
		ax_errfmt(errbuf, errlen, "the signing secret of source \"%s\" is empty", source);
		rc = AX_EINVAL;
	}
	if (rc == AX_OK)
		rc = ingest_sig_verify(ingest_sig_scheme_of(source), body, len, header, hctx,
				       secrets, n, (time_t)now, a->cfg->signature_window_s, errbuf,
				       errlen);
	sodium_memzero(box, sizeof(box));
	sodium_memzero(plain, used);
	free(plain);
	return rc;
}
