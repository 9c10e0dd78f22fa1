/* embed.h - text embeddings for the knowledge graph: an OpenAI-compatible
 * embeddings endpoint when one is configured, else a deterministic local
 * feature-hashing embedder so search works out of the box.
 *
 * Every vector has AX_EMBED_DIM dimensions.  Each embedder has a name that
 * is stored next to every vector it made; vectors of different names are
 * never compared (the graph store indexes each name separately). */
#ifndef AX_EMBED_H
#define AX_EMBED_H

#include <stddef.h>
#include "alexus/err.h"

#define AX_EMBED_DIM 1536
/* The local embedder's name; the version changes whenever its output does. */
#define AX_EMBED_LOCAL_NAME "local-hash-v1"
#define AX_EMBED_DEFAULT_MODEL "text-embedding-3-small"
/* Texts longer than this are cut (at a UTF-8 boundary) before embedding. */
#define AX_EMBED_TEXT_MAX 8192

struct ax_embedder;   /* opaque */

struct ax_embed_config {
	const char *url;      /* base URL, e.g. https://api.openai.com/v1; NULL or "" = local */
	const char *model;    /* NULL or "" = AX_EMBED_DEFAULT_MODEL */
	const char *key;      /* bearer key, NULL or "" = no Authorization header */
	int timeout_ms;       /* per request; <= 0 means 10000 */
};

/* An embedder for c (NULL = local).  NULL with errbuf set when the URL is
 * not http(s).  Free with ax_embedder_free. */
struct ax_embedder *ax_embedder_new(const struct ax_embed_config *c, char *errbuf, size_t errlen);
/* The same from ALEXUS_EMBED_URL, ALEXUS_EMBED_MODEL, ALEXUS_EMBED_KEY and
 * ALEXUS_EMBED_TIMEOUT_MS (milliseconds, 100..600000). */
struct ax_embedder *ax_embedder_from_env(char *errbuf, size_t errlen);
void ax_embedder_free(struct ax_embedder *e);   /* NULL-safe */

/* "local-hash-v1", or "openai:<model>" for an endpoint: vectors from the
 * same model are comparable whichever server produced them.  Owned by e. */
const char *ax_embedder_name(const struct ax_embedder *e);
/* 1 for an HTTP endpoint, 0 for the local embedder. */
int ax_embedder_remote(const struct ax_embedder *e);
/* One line for the start-up log saying which embedder is in use (the URL's
 * scheme and host only, never a key or a path).  Owned by e. */
const char *ax_embedder_describe(const struct ax_embedder *e);

/* Embed n texts into out (n * AX_EMBED_DIM floats, text i at
 * out + i * AX_EMBED_DIM).  The local embedder never fails.  The endpoint
 * is called in batches; errors: AX_EAUTH (401/403), AX_EAGAIN (429),
 * AX_EIO (5xx or no answer), AX_ETIMEDOUT, AX_EINVAL (other 4xx),
 * AX_EPROTO (an answer that is not a valid embeddings document: wrong
 * count, wrong dimension, a non-number), each with errbuf set.  out is
 * unspecified after an error. */
ax_err ax_embed(struct ax_embedder *e, const char *const *texts, size_t n, float *out,
		char *errbuf, size_t errlen) AX_MUSTCHECK;

/* The local embedder: word tokens and character 3-grams of the lower-cased
 * text, each hashed (SipHash, fixed key) to a signed bucket of out
 * (AX_EMBED_DIM floats), then L2-normalised.  Deterministic across runs,
 * machines and processes.  Text without tokens gives the zero vector. */
void ax_embed_local(const char *text, float *out);

/* Parse an OpenAI embeddings answer holding n embeddings into out (as
 * ax_embed).  Accepts "embedding" as an array of numbers or as a base64
 * string of little-endian float32 (encoding_format=base64); entries are
 * placed by their "index" when present.  AX_EPROTO with errbuf otherwise.
 * Exposed for tests. */
ax_err ax_embed_parse(const char *body, size_t len, size_t n, float *out, char *errbuf,
		      size_t errlen) AX_MUSTCHECK;

#endif /* AX_EMBED_H */
