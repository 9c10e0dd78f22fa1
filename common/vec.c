/* vec.c - in-memory cosine top-k over keyed vectors (see vec.h).
 *
 * Design: every vector is stored unit-length, so cosine is a dot product,
 * in one of two layouts, chosen per vector by how many of its elements
 * are not zero:
 *
 *   dense   one contiguous, 32-byte aligned block, one row per entry, each
 *           row padded to a multiple of 8 floats so the scan can use GCC
 *           vector extensions (8-float lanes; gcc lowers them to whatever
 *           the target has: SSE2 on plain x86-64, AVX2 in the x86-64-v3
 *           clone of scan) with two independent accumulators;
 *   sparse  (element index, value) pairs of the non-zero elements in one
 *           arena, for a vector with at most stride / 8 of them.  The
 *           feature-hashing embedder (embed.c, local-hash-v1) gives about
 *           150 non-zero elements of 1536 for a configuration item: 0.9
 *           KiB instead of 6 KiB, and a scan that touches 150 elements
 *           instead of 1536.  At the stride / 8 bound a sparse row is still
 *           5 times smaller than a dense one and not slower to score.
 *
 * The values are the same float32 values either way (zeros are simply not
 * stored), so the index is exact in both layouts: a score differs from the
 * dense computation only by float rounding order (about 1e-7), and equal
 * vectors always get bit-equal scores because a vector's layout depends
 * only on the vector.  Endpoint models' vectors are dense and stay dense.
 * The scan is exact: at our sizes (1e5 x 1536) a linear pass takes tens of
 * milliseconds dense and a few sparse, which issue 4 accepts, and an
 * approximate index (HNSW) would add recall questions and much code for no
 * gain at this scale.
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
 * offer nothing usable.  A slot holds a reference: the row number and
 * whether it is a dense or a sparse row.  Deletion moves the last row of
 * the same layout into the hole, so rows stay dense and the scan never
 * skips; a sparse row's pairs left behind in the arena are garbage,
 * compacted away once they are half of it. */
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
#define SLOT_BASE 2u   /* slot value = ref + SLOT_BASE, ref = row << 1 | sparse */
#define SPARSE_DIM_MAX 65536   /* element indexes are uint16_t */
#define KEY_OVERHEAD 16        /* malloc's bookkeeping per key, for ax_vec_bytes */
#define ARENA_MIN 4096         /* never compact an arena smaller than this */

typedef float v8sf __attribute__((vector_size(LANES * sizeof(float)), may_alias));

struct ax_vec {
	size_t dim;        /* floats per vector as given */
	size_t stride;     /* floats per dense row: dim rounded up to LANES */
	size_t sparse_max; /* most non-zero elements a sparse row may have */
	size_t len;        /* entries: nd + ns */
	/* dense rows */
	float *rows;       /* capd * stride floats, 32-byte aligned */
	char **dkeys;      /* dkeys[i] owns dense row i's key */
	size_t nd, capd;
	/* sparse rows: row i is snnz[i] pairs at arena offset soff[i] */
	uint32_t *soff, *snnz;
	char **skeys;
	size_t ns, caps;
	uint16_t *aidx;    /* arena: element index ... */
	float *aval;       /* ... and value of every pair */
	size_t alen, acap, agarbage;
	/* key -> reference */
	uint32_t *slots;   /* nslots entries, see SLOT_* */
	size_t nslots;     /* power of two */
	size_t ntomb;      /* tombstones in slots */
	size_t keybytes;   /* bytes held by keys, for ax_vec_bytes */
	float *scratch;    /* stride floats: a vector being put */
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

/* Capacity after cap: half as much again (doubling would leave up to half
 * of a 600 MiB block unused). */
static size_t grown(size_t cap)
{
	return cap < 64 ? 64 : cap + cap / 2;
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
	v->sparse_max = dim <= SPARSE_DIM_MAX ? v->stride / 8 : 0;
	v->nslots = 16;
	v->slots = ax_xcalloc(v->nslots, sizeof(*v->slots));
	v->scratch = aligned_floats(v->stride);
	randombytes_buf(v->hkey, sizeof(v->hkey));
	return v;
}

static void free_keys(struct ax_vec *v)
{
	size_t i;

	for (i = 0; i < v->nd; i++)
		free(v->dkeys[i]);
	for (i = 0; i < v->ns; i++)
		free(v->skeys[i]);
}

void ax_vec_free(struct ax_vec *v)
{
	if (v == NULL)
		return;
	free_keys(v);
	free(v->rows);
	free(v->dkeys);
	free(v->soff);
	free(v->snnz);
	free(v->skeys);
	free(v->aidx);
	free(v->aval);
	free(v->slots);
	free(v->scratch);
	free(v);
}

void ax_vec_clear(struct ax_vec *v)
{
	free_keys(v);
	v->len = v->nd = v->ns = 0;
	v->alen = v->agarbage = 0;
	v->ntomb = 0;
	v->keybytes = 0;
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

size_t ax_vec_sparse_len(const struct ax_vec *v)
{
	return v->ns;
}

size_t ax_vec_bytes(const struct ax_vec *v)
{
	return sizeof(*v) + v->stride * sizeof(float) +
	       v->capd * (v->stride * sizeof(float) + sizeof(*v->dkeys)) +
	       v->caps * (sizeof(*v->soff) + sizeof(*v->snnz) + sizeof(*v->skeys)) +
	       v->acap * (sizeof(*v->aidx) + sizeof(*v->aval)) +
	       v->nslots * sizeof(*v->slots) + v->keybytes;
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

#define REF(row, sparse) ((uint32_t)(row) << 1 | (uint32_t)(sparse))
#define REF_ROW(ref) ((size_t)((ref) >> 1))
#define REF_SPARSE(ref) ((ref) & 1u)

static const char *ref_key(const struct ax_vec *v, uint32_t ref)
{
	return REF_SPARSE(ref) ? v->skeys[REF_ROW(ref)] : v->dkeys[REF_ROW(ref)];
}

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
		} else if (strcmp(ref_key(v, s - SLOT_BASE), key) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & mask;
	}
}

static void rehash(struct ax_vec *v, size_t nslots)
{
	size_t r, i;
	int found;

	free(v->slots);
	v->nslots = nslots;
	v->ntomb = 0;
	v->slots = ax_xcalloc(nslots, sizeof(*v->slots));
	for (r = 0; r < v->nd; r++) {
		i = find_slot(v, v->dkeys[r], &found);
		v->slots[i] = REF(r, 0) + SLOT_BASE;
	}
	for (r = 0; r < v->ns; r++) {
		i = find_slot(v, v->skeys[r], &found);
		v->slots[i] = REF(r, 1) + SLOT_BASE;
	}
}

/* Point key's slot at ref (the key is in the map). */
static void repoint(struct ax_vec *v, const char *key, uint32_t ref)
{
	int found;
	size_t i = find_slot(v, key, &found);

	v->slots[i] = ref + SLOT_BASE;
}

/* ---------------------------------------------------------------- rows */

static void grow_dense(struct ax_vec *v)
{
	size_t cap = grown(v->capd);
	float *rows = aligned_floats(cap * v->stride);

	if (v->nd > 0)
		memcpy(rows, v->rows, v->nd * v->stride * sizeof(float));
	free(v->rows);
	v->rows = rows;
	v->dkeys = ax_xrealloc(v->dkeys, cap * sizeof(*v->dkeys));
	v->capd = cap;
}

static void grow_sparse(struct ax_vec *v)
{
	size_t cap = grown(v->caps);

	v->soff = ax_xrealloc(v->soff, cap * sizeof(*v->soff));
	v->snnz = ax_xrealloc(v->snnz, cap * sizeof(*v->snnz));
	v->skeys = ax_xrealloc(v->skeys, cap * sizeof(*v->skeys));
	v->caps = cap;
}

/* Rewrite the arena with only the pairs of live rows, in row order. */
static void compact(struct ax_vec *v)
{
	uint16_t *idx = ax_xmalloc((v->alen - v->agarbage + 1) * sizeof(*idx));
	float *val = ax_xmalloc((v->alen - v->agarbage + 1) * sizeof(*val));
	size_t r, at = 0;

	for (r = 0; r < v->ns; r++) {
		memcpy(idx + at, v->aidx + v->soff[r], v->snnz[r] * sizeof(*idx));
		memcpy(val + at, v->aval + v->soff[r], v->snnz[r] * sizeof(*val));
		v->soff[r] = (uint32_t)at;
		at += v->snnz[r];
	}
	free(v->aidx);
	free(v->aval);
	v->aidx = idx;
	v->aval = val;
	v->alen = at;
	v->acap = at + 1;
	v->agarbage = 0;
}

static void drop_key(struct ax_vec *v, char *key)
{
	v->keybytes -= strlen(key) + 1 + KEY_OVERHEAD;
	free(key);
}

int ax_vec_del(struct ax_vec *v, const char *key)
{
	int found;
	size_t i = find_slot(v, key, &found), row, last;
	uint32_t ref;

	if (!found)
		return 0;
	ref = v->slots[i] - SLOT_BASE;
	row = REF_ROW(ref);
	v->slots[i] = SLOT_TOMB;
	v->ntomb++;
	v->len--;
	if (!REF_SPARSE(ref)) {
		drop_key(v, v->dkeys[row]);
		last = --v->nd;
		if (row != last) {
			/* Move the last row into the hole and repoint its slot. */
			memcpy(v->rows + row * v->stride, v->rows + last * v->stride,
			       v->stride * sizeof(float));
			v->dkeys[row] = v->dkeys[last];
			repoint(v, v->dkeys[row], REF(row, 0));
		}
		return 1;
	}
	drop_key(v, v->skeys[row]);
	v->agarbage += v->snnz[row];
	last = --v->ns;
	if (row != last) {
		v->soff[row] = v->soff[last];
		v->snnz[row] = v->snnz[last];
		v->skeys[row] = v->skeys[last];
		repoint(v, v->skeys[row], REF(row, 1));
	}
	if (v->agarbage > ARENA_MIN && v->agarbage * 2 > v->alen)
		compact(v);
	return 1;
}

int ax_vec_put(struct ax_vec *v, const char *key, const float *x)
{
	float *s = v->scratch;
	size_t i, nnz = 0, row;
	uint32_t ref;
	int found;

	memcpy(s, x, v->dim * sizeof(float));
	memset(s + v->dim, 0, (v->stride - v->dim) * sizeof(float));
	if (!ax_vec_normalize(s, v->dim)) {
		ax_vec_del(v, key);
		return 0;
	}
	for (i = 0; i < v->dim; i++)
		nnz += s[i] != 0;
	i = find_slot(v, key, &found);
	if (found) {
		ref = v->slots[i] - SLOT_BASE;
		row = REF_ROW(ref);
		if (!REF_SPARSE(ref) && nnz > v->sparse_max) {   /* dense stays dense */
			memcpy(v->rows + row * v->stride, s, v->stride * sizeof(float));
			return 1;
		}
		/* Anything else: out with the old entry, in with the new. */
		ax_vec_del(v, key);
		i = find_slot(v, key, &found);
	}
	if (v->slots[i] == SLOT_TOMB)
		v->ntomb--;
	if (nnz > v->sparse_max) {
		if (v->nd == v->capd)
			grow_dense(v);
		row = v->nd++;
		memcpy(v->rows + row * v->stride, s, v->stride * sizeof(float));
		v->dkeys[row] = ax_xstrdup(key);
		ref = REF(row, 0);
	} else {
		if (v->ns == v->caps)
			grow_sparse(v);
		if (v->alen + nnz > v->acap) {
			size_t cap = grown(v->acap);

			if (cap < v->alen + nnz)
				cap = v->alen + nnz;
			v->aidx = ax_xrealloc(v->aidx, cap * sizeof(*v->aidx));
			v->aval = ax_xrealloc(v->aval, cap * sizeof(*v->aval));
			v->acap = cap;
		}
		row = v->ns++;
		v->soff[row] = (uint32_t)v->alen;
		v->snnz[row] = (uint32_t)nnz;
		for (i = 0; i < v->dim; i++)
			if (s[i] != 0) {
				v->aidx[v->alen] = (uint16_t)i;
				v->aval[v->alen++] = s[i];
			}
		v->skeys[row] = ax_xstrdup(key);
		ref = REF(row, 1);
	}
	v->keybytes += strlen(key) + 1 + KEY_OVERHEAD;
	v->len++;
	i = find_slot(v, key, &found);
	v->slots[i] = ref + SLOT_BASE;
	/* Keep the table at most half full, tombstones included. */
	if ((v->len + v->ntomb) * 2 > v->nslots)
		rehash(v, v->len * 2 > v->nslots / 2 ? v->nslots * 2 : v->nslots);
	return 1;
}

/* ---------------------------------------------------------------- top-k */

/* Score every dense row against q into scores.  Built twice on x86-64: for
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

/* The same for sparse rows: a gather from q per stored pair, with two
 * accumulators for the even and odd pairs. */
static void scan_sparse(const struct ax_vec *v, const float *q, float *scores)
{
	size_t r, j;

	for (r = 0; r < v->ns; r++) {
		const uint16_t *idx = v->aidx + v->soff[r];
		const float *val = v->aval + v->soff[r];
		size_t n = v->snnz[r];
		float a0 = 0, a1 = 0;

		for (j = 0; j + 2 <= n; j += 2) {
			a0 += val[j] * q[idx[j]];
			a1 += val[j + 1] * q[idx[j + 1]];
		}
		if (j < n)
			a0 += val[j] * q[idx[j]];
		scores[r] = a0 + a1;
	}
}

/* A candidate: its score and its place in the scores array (dense rows
 * first, then sparse ones). */
struct cand {
	float score;
	uint32_t at;
};

static const char *cand_key(const struct ax_vec *v, const struct cand *c)
{
	return c->at < v->nd ? v->dkeys[c->at] : v->skeys[c->at - v->nd];
}

/* a ranks below b: lower score, or equal score and a later key. */
static int worse(const struct ax_vec *v, const struct cand *a, const struct cand *b)
{
	if (a->score != b->score)
		return a->score < b->score;
	return strcmp(cand_key(v, a), cand_key(v, b)) > 0;
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
	scan(v->rows, qn, v->nd, v->stride, scores);
	scan_sparse(v, qn, scores + v->nd);
	for (r = 0; r < v->len; r++) {
		c.score = scores[r];
		c.at = (uint32_t)r;
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
		out[i - 1].key = cand_key(v, &c);
		out[i - 1].score = c.score;
	}
	free(scores);
	free(heap);
	free(qn);
	return n;
}
