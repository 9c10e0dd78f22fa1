/* embed.c - text embeddings: OpenAI-compatible endpoint or local hashing
 * (see embed.h).
 *
 * The endpoint: POST {base}/embeddings with {"model","input":[...],
 * "encoding_format":"base64"} through common/httpc (libcurl, timeouts, no
 * redirects).  We ask for base64 because httpc keeps only the first 64 KiB
 * of an answer: a 1536-float embedding is about 8 KiB in base64 but up to
 * 35 KiB as JSON numbers.  Servers that ignore encoding_format answer with
 * numbers, which we accept too; if such an answer for a batch was cut at
 * the cap, the embedder drops to one text per request for good and retries.
 *
 * The local embedder is the "hashing trick" (Weinberger et al. 2009): every
 * word and every character 3-gram of each word (with ^ and $ marking the
 * word's ends, so "db" and "adb" share little) is hashed to one of 1536
 * buckets with a sign taken from another bit of the same hash, which keeps
 * collisions unbiased; the vector is then L2-normalised.  Texts that share
 * words or word pieces ("payment" / "payments", "checkout-api") land close;
 * it knows nothing of synonyms, which is what a real model is for.  SipHash
 * (libsodium's crypto_shorthash) with a fixed, public key makes the output
 * the same on every machine, which matters because vectors are stored;
 * any change to this algorithm must change AX_EMBED_LOCAL_NAME. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "alexus/embed.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"
#include "alexus/vec.h"

#define EMBED_TIMEOUT_MS 10000
/* Texts per request: 6 base64 embeddings (~8.2 KiB each) fit the 64 KiB
 * answer cap of httpc with room to spare. */
#define EMBED_BATCH 6
#define EMBED_ANSWER_CAP (64 * 1024)   /* httpc's cap, see httpc.h */
#define WORD_WEIGHT 1.0f
#define GRAM_WEIGHT 0.5f
#define WORD_MAX 64                    /* longer words are cut for hashing */

struct ax_embedder {
	char *url;         /* {base}/embeddings; NULL for local */
	char *model;
	char *key;
	char *name;
	char *describe;
	int timeout_ms;
	int batch;         /* texts per request; drops to 1 after a cut answer */
};

/* ---------------------------------------------------------------- local */

/* Public and fixed on purpose: the output must never change. */
static const unsigned char local_key[crypto_shorthash_KEYBYTES] = "alexus-embed-v1!";

static void feature(float *out, const char *prefix, const char *s, size_t n, float w)
{
	unsigned char buf[2 + WORD_MAX + 2], h[crypto_shorthash_BYTES];
	uint64_t x = 0;
	size_t plen = strlen(prefix);
	int i;

	memcpy(buf, prefix, plen);
	memcpy(buf + plen, s, n);
	crypto_shorthash(h, buf, plen + n, local_key);
	for (i = 7; i >= 0; i--)   /* little-endian, whatever the host */
		x = (x << 8) | h[i];
	out[(x & 0xffffffffu) % AX_EMBED_DIM] += (x >> 63) ? -w : w;
}

static int word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

void ax_embed_local(const char *text, float *out)
{
	char word[WORD_MAX + 2];
	const unsigned char *p = (const unsigned char *)text;
	size_t total = 0;

	memset(out, 0, AX_EMBED_DIM * sizeof(float));
	if (text == NULL)
		return;
	while (*p != '\0' && total < AX_EMBED_TEXT_MAX) {
		size_t n = 0, i;

		while (*p != '\0' && !word_byte((unsigned char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p))) {
			p++;
			total++;
		}
		word[n++] = '^';
		while (*p != '\0' && total < AX_EMBED_TEXT_MAX) {
			unsigned char c = *p >= 'A' && *p <= 'Z' ? (unsigned char)(*p + 32) : *p;

			if (!word_byte(c))
				break;
			if (n <= WORD_MAX)
				word[n++] = (char)c;
			p++;
			total++;
		}
		if (n == 1)
			break;   /* no word: end of text */
		word[n++] = '$';
		feature(out, "w:", word + 1, n - 2, WORD_WEIGHT);
		for (i = 0; i + 3 <= n; i++)
			feature(out, "g:", word + i, 3, GRAM_WEIGHT);
	}
	ax_vec_normalize(out, AX_EMBED_DIM);
}

/* ---------------------------------------------------------------- setup */

struct ax_embedder *ax_embedder_new(const struct ax_embed_config *c, char *errbuf, size_t errlen)
{
	struct ax_embedder *e;
	const char *host, *end, *at;
	size_t blen;

	if (sodium_init() < 0) {
		ax_errfmt(errbuf, errlen, "embeddings: libsodium cannot initialise");
		return NULL;
	}
	e = ax_xcalloc(1, sizeof(*e));
	if (c == NULL || c->url == NULL || c->url[0] == '\0') {
		e->name = ax_xstrdup(AX_EMBED_LOCAL_NAME);
		e->describe = ax_xstrdup("embeddings: local feature hashing (" AX_EMBED_LOCAL_NAME
					 "); set ALEXUS_EMBED_URL for a model");
		return e;
	}
	if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0) {
		ax_errfmt(errbuf, errlen, "embeddings: the URL must start with http:// or https://");
		free(e);
		return NULL;
	}
	blen = strlen(c->url);
	while (blen > 0 && c->url[blen - 1] == '/')
		blen--;
	e->url = ax_xasprintf("%.*s/embeddings", (int)blen, c->url);
	e->model = ax_xstrdup(c->model != NULL && c->model[0] != '\0' ? c->model
								   : AX_EMBED_DEFAULT_MODEL);
	e->key = c->key != NULL && c->key[0] != '\0' ? ax_xstrdup(c->key) : NULL;
	e->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : EMBED_TIMEOUT_MS;
	e->batch = EMBED_BATCH;
	e->name = ax_xasprintf("openai:%s", e->model);
	/* scheme://host[:port] only: userinfo and path may carry secrets. */
	host = strstr(c->url, "://") + 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at != NULL)
		host = at + 1;
	e->describe = ax_xasprintf("embeddings: OpenAI-compatible endpoint %.*s%.*s model %s (%s)",
				   (int)(strstr(c->url, "://") + 3 - c->url), c->url,
				   (int)(end - host), host, e->model, e->name);
	return e;
}

struct ax_embedder *ax_embedder_from_env(char *errbuf, size_t errlen)
{
	struct ax_embed_config c;
	const char *t = getenv("ALEXUS_EMBED_TIMEOUT_MS");

	memset(&c, 0, sizeof(c));
	c.url = getenv("ALEXUS_EMBED_URL");
	c.model = getenv("ALEXUS_EMBED_MODEL");
	c.key = getenv("ALEXUS_EMBED_KEY");
	if (t != NULL && *t != '\0') {
		char *end;
		long v;

		errno = 0;
		v = strtol(t, &end, 10);
		if (errno != 0 || *end != '\0' || v < 100 || v > 600000) {
			ax_errfmt(errbuf, errlen,
				  "ALEXUS_EMBED_TIMEOUT_MS: '%s' is not in [100, 600000]", t);
			return NULL;
		}
		c.timeout_ms = (int)v;
	}
	return ax_embedder_new(&c, errbuf, errlen);
}

void ax_embedder_free(struct ax_embedder *e)
{
	if (e == NULL)
		return;
	free(e->url);
	free(e->model);
	if (e->key != NULL) {
		sodium_memzero(e->key, strlen(e->key));
		free(e->key);
	}
	free(e->name);
	free(e->describe);
	free(e);
}

const char *ax_embedder_name(const struct ax_embedder *e)
{
	return e->name;
}

int ax_embedder_remote(const struct ax_embedder *e)
{
	return e->url != NULL;
}

const char *ax_embedder_describe(const struct ax_embedder *e)
{
	return e->describe;
}

/* ---------------------------------------------------------------- parsing */

static ax_err parse_one(const cJSON *emb, float *dst, size_t i, char *errbuf, size_t errlen)
{
	const cJSON *x;
	size_t d = 0;

	if (cJSON_IsString(emb)) {
		unsigned char *raw = ax_xmalloc(AX_EMBED_DIM * 4 + 4);
		size_t got = 0;
		const char *s = emb->valuestring;

		if (sodium_base642bin(raw, AX_EMBED_DIM * 4 + 4, s, strlen(s), NULL, &got, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    got != AX_EMBED_DIM * 4) {
			free(raw);
			ax_errfmt(errbuf, errlen,
				  "embeddings: answer: data[%zu]: base64 embedding is not %d float32",
				  i, AX_EMBED_DIM);
			return AX_EPROTO;
		}
		for (d = 0; d < AX_EMBED_DIM; d++) {
			const unsigned char *b = raw + 4 * d;
			uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
				     (uint32_t)b[3] << 24;

			memcpy(&dst[d], &u, sizeof(u));
			if (!isfinite(dst[d])) {
				free(raw);
				ax_errfmt(errbuf, errlen, "embeddings: answer: data[%zu]: not finite", i);
				return AX_EPROTO;
			}
		}
		free(raw);
		return AX_OK;
	}
	if (!cJSON_IsArray(emb)) {
		ax_errfmt(errbuf, errlen, "embeddings: answer: data[%zu] has no embedding", i);
		return AX_EPROTO;
	}
	cJSON_ArrayForEach(x, emb) {
		if (d == AX_EMBED_DIM)
			break;
		if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) ||
		    fabs(x->valuedouble) > 3.4e38) {
			ax_errfmt(errbuf, errlen,
				  "embeddings: answer: data[%zu][%zu] is not a finite number", i, d);
			return AX_EPROTO;
		}
		dst[d++] = (float)x->valuedouble;
	}
	if (d != AX_EMBED_DIM || cJSON_GetArraySize(emb) != AX_EMBED_DIM) {
		ax_errfmt(errbuf, errlen,
			  "embeddings: answer: data[%zu] has %d dimensions, not %d (pick a "
			  "1536-dimension model)", i, cJSON_GetArraySize(emb), AX_EMBED_DIM);
		return AX_EPROTO;
	}
	return AX_OK;
}

ax_err ax_embed_parse(const char *body, size_t len, size_t n, float *out, char *errbuf,
		      size_t errlen)
{
	cJSON *doc = ax_json_parse(body, len, 16);
	const cJSON *data, *it;
	unsigned char *seen;
	size_t pos = 0;
	ax_err rc = AX_OK;

	if (doc == NULL) {
		ax_errfmt(errbuf, errlen, "embeddings: answer is not JSON");
		return AX_EPROTO;
	}
	data = cJSON_GetObjectItemCaseSensitive(doc, "data");
	if (!cJSON_IsArray(data) || (size_t)cJSON_GetArraySize(data) != n) {
		ax_errfmt(errbuf, errlen, "embeddings: answer: expected \"data\" with %zu entries", n);
		cJSON_Delete(doc);
		return AX_EPROTO;
	}
	seen = ax_xcalloc(n ? n : 1, 1);
	cJSON_ArrayForEach(it, data) {
		const cJSON *idx = cJSON_GetObjectItemCaseSensitive(it, "index");
		size_t at = pos;

		if (idx != NULL) {
			if (!cJSON_IsNumber(idx) || idx->valuedouble < 0 ||
			    idx->valuedouble >= (double)n || idx->valuedouble != floor(idx->valuedouble)) {
				ax_errfmt(errbuf, errlen, "embeddings: answer: data[%zu]: bad index", pos);
				rc = AX_EPROTO;
				break;
			}
			at = (size_t)idx->valuedouble;
		}
		if (seen[at]) {
			ax_errfmt(errbuf, errlen, "embeddings: answer: index %zu appears twice", at);
			rc = AX_EPROTO;
			break;
		}
		seen[at] = 1;
		rc = parse_one(cJSON_GetObjectItemCaseSensitive(it, "embedding"),
			       out + at * AX_EMBED_DIM, pos, errbuf, errlen);
		if (rc != AX_OK)
			break;
		pos++;
	}
	free(seen);
	cJSON_Delete(doc);
	return rc;
}

/* ---------------------------------------------------------------- remote */

/* A text cut to AX_EMBED_TEXT_MAX bytes without splitting a UTF-8
 * sequence (an endpoint may refuse invalid UTF-8). */
static char *clip(const char *s)
{
	size_t n = strlen(s);

	if (n <= AX_EMBED_TEXT_MAX)
		return ax_xstrdup(s);
	n = AX_EMBED_TEXT_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return ax_xstrndup(s, n);
}

static ax_err status_error(const struct ax_httpc_resp *r, char *errbuf, size_t errlen)
{
	const char *msg = NULL;
	cJSON *doc = r->body != NULL ? ax_json_parse(r->body, r->body_len, 8) : NULL;
	ax_err rc;

	if (doc != NULL) {
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");

		msg = cJSON_IsObject(err) ? ax_json_str(err, "message") : ax_json_str(doc, "error");
	}
	if (r->status == 401 || r->status == 403)
		rc = AX_EAUTH;
	else if (r->status == 429)
		rc = AX_EAGAIN;
	else if (r->status >= 500)
		rc = AX_EIO;
	else if (r->status >= 400)
		rc = AX_EINVAL;
	else
		rc = AX_EPROTO;
	ax_errfmt(errbuf, errlen, "embeddings: HTTP %ld%s%.200s", r->status, msg ? ": " : "",
		  msg ? msg : "");
	cJSON_Delete(doc);
	return rc;
}

static ax_err embed_batch(struct ax_embedder *e, const char *const *texts, size_t n, float *out,
			  int *cut, char *errbuf, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *input = cJSON_CreateArray();
	struct ax_httpc_resp resp;
	char *body, *auth = NULL;
	const char *headers[4];
	size_t i, h = 0;
	ax_err rc;

	*cut = 0;
	cJSON_AddStringToObject(req, "model", e->model);
	for (i = 0; i < n; i++) {
		char *t = clip(texts[i] != NULL ? texts[i] : "");

		cJSON_AddItemToArray(input, cJSON_CreateString(t));
		free(t);
	}
	cJSON_AddItemToObject(req, "input", input);
	cJSON_AddStringToObject(req, "encoding_format", "base64");
	body = ax_json_print(req);
	cJSON_Delete(req);
	headers[h++] = "Content-Type: application/json";
	headers[h++] = "Accept: application/json";
	if (e->key != NULL) {
		auth = ax_xasprintf("Authorization: Bearer %s", e->key);
		headers[h++] = auth;
	}
	headers[h] = NULL;
	rc = ax_httpc_post(e->url, headers, body, strlen(body), e->timeout_ms, &resp, errbuf,
			   errlen);
	free(body);
	if (auth != NULL) {
		sodium_memzero(auth, strlen(auth));
		free(auth);
	}
	if (rc != AX_OK) {
		ax_httpc_resp_release(&resp);
		return rc;
	}
	if (resp.status < 200 || resp.status > 299) {
		rc = status_error(&resp, errbuf, errlen);
	} else if (resp.body_len >= EMBED_ANSWER_CAP) {
		*cut = 1;
		ax_errfmt(errbuf, errlen, "embeddings: answer larger than %d bytes", EMBED_ANSWER_CAP);
		rc = AX_EPROTO;
	} else {
		rc = ax_embed_parse(resp.body != NULL ? resp.body : "", resp.body_len, n, out,
				    errbuf, errlen);
	}
	ax_httpc_resp_release(&resp);
	return rc;
}

ax_err ax_embed(struct ax_embedder *e, const char *const *texts, size_t n, float *out,
		char *errbuf, size_t errlen)
{
	size_t i = 0;

	if (e->url == NULL) {
		for (i = 0; i < n; i++)
			ax_embed_local(texts[i], out + i * AX_EMBED_DIM);
		return AX_OK;
	}
	while (i < n) {
		size_t m = n - i < (size_t)e->batch ? n - i : (size_t)e->batch;
		int cut;
		ax_err rc = embed_batch(e, texts + i, m, out + i * AX_EMBED_DIM, &cut, errbuf,
					errlen);

		if (rc != AX_OK && cut && m > 1) {
			e->batch = 1;   /* the server ignores base64: one per request */
			continue;
		}
		if (rc != AX_OK)
			return rc;
		i += m;
	}
	return AX_OK;
}
