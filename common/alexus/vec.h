/* vec.h - an in-memory cosine-similarity index: keyed float vectors and
 * exact top-k by brute-force scan.
 *
 * Why in C and not in SQL: issue 4 measured cosine over 1536-dimension
 * real[] at about 2.2 s for 5,000 rows in plain SQL, and about 19 ms for
 * 100,000 vectors scanned in memory.  The graph store (graph_pg.c) keeps one
 * index per tenant and embedder and refreshes it when rows change.
 *
 * Scores are cosine similarities in [-1, 1].  Vectors are normalised when
 * stored, so a query costs one dot product per stored vector.  A vector
 * with few non-zero elements (the local embedder's) is stored as its
 * non-zero elements only, which is smaller and faster to score and changes
 * nothing but float rounding order (see vec.c).  A zero or non-finite
 * vector has no direction: it is never stored, and a zero query returns no
 * hits.
 *
 * Threads: ax_vec_topk, ax_vec_len, ax_vec_bytes and the other const calls
 * may run concurrently with each other; a call that changes the index
 * needs it alone (the graph store holds a read-write lock per index). */
#ifndef AX_VEC_H
#define AX_VEC_H

#include <stddef.h>

struct ax_vec;   /* opaque */

struct ax_vec_hit {
	const char *key;   /* the index's copy: valid until the index next changes */
	float score;       /* cosine similarity to the query */
};

/* A new empty index of dim-dimensional vectors (dim >= 1).  Aborts on OOM. */
struct ax_vec *ax_vec_new(size_t dim);
void ax_vec_free(struct ax_vec *v);   /* NULL-safe */

/* Insert key with vector x (dim floats, copied and L2-normalised), or
 * replace the vector of an existing key.  Returns 1 when stored, 0 when x
 * is zero or has a NaN/infinite element: then nothing is stored and an
 * existing entry for key is removed. */
int ax_vec_put(struct ax_vec *v, const char *key, const float *x);
/* Remove key; 1 if it was there, 0 if not. */
int ax_vec_del(struct ax_vec *v, const char *key);
/* Remove everything (keeps the allocation). */
void ax_vec_clear(struct ax_vec *v);

size_t ax_vec_len(const struct ax_vec *v);
size_t ax_vec_dim(const struct ax_vec *v);
/* How many of the ax_vec_len vectors are stored sparse. */
size_t ax_vec_sparse_len(const struct ax_vec *v);
/* Memory the index holds, in bytes: its arrays at their capacity plus its
 * keys (with an allowance for malloc's bookkeeping).  An estimate to
 * within a few percent, for cache limits. */
size_t ax_vec_bytes(const struct ax_vec *v);

/* The min(k, len) stored vectors most similar to q (dim floats, need not
 * be normalised), best first; equal scores are ordered by key (strcmp
 * ascending) so results are deterministic.  out holds at least k hits.
 * Returns the number written: 0 when k is 0, the index is empty, or q is
 * zero or not finite. */
size_t ax_vec_topk(const struct ax_vec *v, const float *q, size_t k, struct ax_vec_hit *out);

/* L2-normalise x in place; returns 0 (x untouched) when x is zero or not
 * finite, else 1.  Shared with the embedders. */
int ax_vec_normalize(float *x, size_t dim);

#endif /* AX_VEC_H */
