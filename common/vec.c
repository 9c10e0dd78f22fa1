/* vec.c - in-memory cosine top-k over keyed vectors (see vec.h).
 *
 * Design: vectors live in one contiguous, 32-byte aligned block, one row
 * per entry, each row padded to a multiple of 8 floats so the scan can use
 * GCC vector extensions (8-float lanes; gcc lowers them to whatever the
 * target has: SSE2 on plain x86-64, AVX2 in the x86-64-v3 clone of scan)
 * with two independent accumulators.
 * Rows are stored unit-length, so cosine is a dot product.  The scan is
 * exact: at our sizes (1e5 x 1536) a linear pass takes tens
 * of milliseconds, which issue 4 accepts, and an approximate index (HNSW)
 * would add recall questions and much code for no gain at this scale.
 *
 * Top-k keeps a k-sized min-heap of the best rows seen; "worse" is a lower
 * score, or the same score and a larger key, which makes the result order
 * total and deterministic.
 *
 * Keys map to rows through a small open-addressing table (linear probing,
 * tombstones, SipHash via libsodium's crypto_shorthash with a per-index
 * random key so crafted ids cannot force collisions).  It is written here
 * because none of our dependencies has a hash map with deletion: glibc's
 * hsearch(3) is fixed-size and cannot delete, and cJSON/libevent/hiredis
 * offer nothing usable.  Deletion moves the last row into the hole, so rows
 * stay dense and the scan never skips. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alexus/mem.h"
#include "alexus/vec.h"

#define LANES 8
#define SLOT_EMPTY 0u
#define SLOT_TOMB 1u   /* a deleted slot: probing continues past it */
#define SLOT_BASE 2u   /* slot value = row + SLOT_BASE */

typedef float v8sf __attribute__((vector_size(LANES * sizeof(float)), may_alias));

struct ax_vec {
	size_t dim;        /* floats per vector as given */
	size_t stride;     /* floats per stored row: dim rounded up to LANES */
	size_t len;        /* rows in use */
	size_t cap;        /* rows allocated */
	float *rows;       /* cap * stride floats, 32-byte aligned */
	char **keys;       /* cap entries; keys[i] owns row i's key */
	uint32_t *slots;   /* nslots entries, see SLOT_* */
	size_t nslots;     /* power of two */
	size_t ntomb;      /* tombstones in slots */
	unsigned char hkey[crypto_shorthash_KEYBYTES];
};

static float *aligned_floats(size_t n)
{
	/* aligned_alloc wants a size that is a multiple of the alignment;
	 * n is always a multiple of LANES (32 bytes). */
	float *p = aligned_alloc(LANES * sizeof(float), (n ? n : LANES) * sizeof(float));

	if (p == NULL)
		abort();   /* OOM policy as in mem.h */
	return p;
}

struct ax_vec *ax_vec_new(size_t dim)
{
	struct ax_vec *v;

	if (dim == 0)
		return NULL;
	if (sodium_init() < 0)
		abort();
	v = ax_xcalloc(1, sizeof(*v));
	v->dim = dim;
	v->stride = (dim + LANES - 1) / LANES * LANES;
	v->nslots = 16;
	v->slots = ax_xcalloc(v->nslots, sizeof(*v->slots));
	randombytes_buf(v->hkey, sizeof(v->hkey));
	return v;
}

void ax_vec_free(struct ax_vec *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->len; i++)
		free(v->keys[i]);
	free(v->keys);
	free(v->rows);
	free(v->slots);
	free(v);
}

void ax_vec_clear(struct ax_vec *v)
{
	size_t i;

	for (i = 0; i < v->len; i++)
		free(v->keys[i]);
	v->len = 0;
	v->ntomb = 0;
	memset(v->slots, 0, v->nslots * sizeof(*v->slots));
}

size_t ax_vec_len(const struct ax_vec *v)
{
	return v->len;
}

size_t ax_vec_dim(const struct ax_vec *v)
{
	return v->dim;
}

int ax_vec_normalize(float *x, size_t dim)
{
	double ss = 0;
	float inv;
	size_t i;

	for (i = 0; i < dim; i++) {
		if (!isfinite(x[i]))
			return 0;
		ss += (double)x[i] * x[i];
	}
	if (!(ss > 0) || !isfinite(ss))
		return 0;
	inv = (float)(1.0 / sqrt(ss));
	for (i = 0; i < dim; i++)
		x[i] *= inv;
	return 1;
}

/* ---------------------------------------------------------------- key map */

static size_t hash_key(const struct ax_vec *v, const char *key)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t x;

	crypto_shorthash(h, (const unsigned char *)key, strlen(key), v->hkey);
	memcpy(&x, h, sizeof(x));
	return (size_t)x;
}

/* The slot holding key, or the slot where it would be inserted (the first
 * tombstone on its probe path, else the empty slot that ended it). */
static size_t find_slot(const struct ax_vec *v, const char *key, int *found)
{
	size_t mask = v->nslots - 1, i = hash_key(v, key) & mask, tomb = SIZE_MAX;

	for (;;) {
		uint32_t s = v->slots[i];

		if (s == SLOT_EMPTY) {
			*found = 0;
			return tomb != SIZE_MAX ? tomb : i;
		}
		if (s == SLOT_TOMB) {
			if (tomb == SIZE_MAX)
				tomb = i;
		} else if (strcmp(v->keys[s - SLOT_BASE], key) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & mask;
	}
}

static void rehash(struct ax_vec *v, size_t nslots)
{
	size_t r;

	free(v->slots);
	v->nslots = nslots;
	v->ntomb = 0;
	v->slots = ax_xcalloc(nslots, sizeof(*v->slots));
	for (r = 0; r < v->len; r++) {
		int found;
		size_t i = find_slot(v, v->keys[r], &found);

		v->slots[i] = (uint32_t)(r + SLOT_BASE);
	}
}

static void grow_rows(struct ax_vec *v)
{
	size_t cap = v->cap ? v->cap * 2 : 64;
	float *rows = aligned_floats(cap * v->stride);

	if (v->len > 0)
		memcpy(rows, v->rows, v->len * v->stride * sizeof(float));
	free(v->rows);
	v->rows = rows;
	v->keys = ax_xrealloc(v->keys, cap * sizeof(*v->keys));
	v->cap = cap;
}

int ax_vec_del(struct ax_vec *v, const char *key)
{
	int found;
	size_t i = find_slot(v, key, &found), row, last;

	if (!found)
		return 0;
	row = v->slots[i] - SLOT_BASE;
	v->slots[i] = SLOT_TOMB;
	v->ntomb++;
	free(v->keys[row]);
	last = v->len - 1;
	if (row != last) {
		/* Move the last row into the hole and repoint its slot. */
		size_t j = find_slot(v, v->keys[last], &found);

		memcpy(v->rows + row * v->stride, v->rows + last * v->stride,
		       v->stride * sizeof(float));
		v->keys[row] = v->keys[last];
		v->slots[j] = (uint32_t)(row + SLOT_BASE);
	}
	v->len--;
	return 1;
}

int ax_vec_put(struct ax_vec *v, const char *key, const float *x)
{
	float *dst;
	size_t i, row;
	int found;

	/* Validate into the scratch row past the end before touching state. */
	if (v->len == v->cap)
		grow_rows(v);
	dst = v->rows + v->len * v->stride;
	memcpy(dst, x, v->dim * sizeof(float));
	memset(dst + v->dim, 0, (v->stride - v->dim) * sizeof(float));
	if (!ax_vec_normalize(dst, v->dim)) {
		ax_vec_del(v, key);
		return 0;
	}
	i = find_slot(v, key, &found);
	if (found) {
		row = v->slots[i] - SLOT_BASE;
		memcpy(v->rows + row * v->stride, dst, v->stride * sizeof(float));
		return 1;
	}
	if (v->slots[i] == SLOT_TOMB)
		v->ntomb--;
	row = v->len++;
	v->keys[row] = ax_xstrdup(key);
	v->slots[i] = (uint32_t)(row + SLOT_BASE);
	/* Keep the table at most half full, tombstones included. */
	if ((v->len + v->ntomb) * 2 > v->nslots)
		rehash(v, v->len * 2 > v->nslots / 2 ? v->nslots * 2 : v->nslots);
	return 1;
}

/* ---------------------------------------------------------------- top-k */

/* Score every row against q into scores.  Built twice on x86-64: for
 * x86-64-v3 (AVX2, FMA) and the baseline; the dynamic loader picks one
 * (GCC target_clones, an ifunc).  The AVX2 build is about three times
 * faster (100k x 1536: 20 ms against 60 ms on the project's machines):
 * the scan is compute-bound with SSE2's 4-float lanes. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
static void scan(const float *rows, const float *q, size_t n, size_t stride, float *scores)
{
	size_t r, i;

	for (r = 0; r < n; r++) {
		const float *a = rows + r * stride;
		v8sf acc0 = { 0 }, acc1 = { 0 };

		for (i = 0; i + 2 * LANES <= stride; i += 2 * LANES) {
			acc0 += *(const v8sf *)(a + i) * *(const v8sf *)(q + i);
			acc1 += *(const v8sf *)(a + i + LANES) * *(const v8sf *)(q + i + LANES);
		}
		if (i < stride)
			acc0 += *(const v8sf *)(a + i) * *(const v8sf *)(q + i);
		acc0 += acc1;
		scores[r] = ((acc0[0] + acc0[1]) + (acc0[2] + acc0[3])) +
			    ((acc0[4] + acc0[5]) + (acc0[6] + acc0[7]));
	}
}

struct cand {
	float score;
	uint32_t row;
};

/* a ranks below b: lower score, or equal score and a later key. */
static int worse(const struct ax_vec *v, const struct cand *a, const struct cand *b)
{
	if (a->score != b->score)
		return a->score < b->score;
	return strcmp(v->keys[a->row], v->keys[b->row]) > 0;
}

static void sift_down(const struct ax_vec *v, struct cand *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct cand t;

		if (l < n && worse(v, &h[l], &h[m]))
			m = l;
		if (r < n && worse(v, &h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void sift_up(const struct ax_vec *v, struct cand *h, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		struct cand t;

		if (!worse(v, &h[i], &h[p]))
			return;
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

size_t ax_vec_topk(const struct ax_vec *v, const float *q, size_t k, struct ax_vec_hit *out)
{
	struct cand *heap, c;
	float *qn, *scores;
	size_t r, n = 0, i;

	if (k == 0 || v->len == 0)
		return 0;
	if (k > v->len)
		k = v->len;
	qn = aligned_floats(v->stride);
	memcpy(qn, q, v->dim * sizeof(float));
	memset(qn + v->dim, 0, (v->stride - v->dim) * sizeof(float));
	if (!ax_vec_normalize(qn, v->dim)) {
		free(qn);
		return 0;
	}
	heap = ax_xmalloc(k * sizeof(*heap));
	scores = ax_xmalloc(v->len * sizeof(*scores));
	scan(v->rows, qn, v->len, v->stride, scores);
	for (r = 0; r < v->len; r++) {
		c.score = scores[r];
		c.row = (uint32_t)r;
		if (n < k) {
			heap[n] = c;
			sift_up(v, heap, n++);
		} else if (worse(v, &heap[0], &c)) {
			heap[0] = c;
			sift_down(v, heap, n, 0);
		}
	}
	/* Pop the worst repeatedly into the tail: best ends up first. */
	for (i = n; i > 0; i--) {
		c = heap[0];
		heap[0] = heap[i - 1];
		sift_down(v, heap, i - 1, 0);
		out[i - 1].key = v->keys[c.row];
		out[i - 1].score = c.score;
	}
	free(scores);
	free(heap);
	free(qn);
	return n;
}
