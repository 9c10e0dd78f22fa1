/* test_vec.c - the in-memory cosine index (common/vec.c).
 *
 * Vectors are constructed so the right answer is known by geometry: unit
 * axes, a vector at a known angle to a query, scaled copies (cosine ignores
 * length), exact ties (ordered by key), k larger than the index, zero and
 * NaN vectors (never stored, never matched), replace and delete (the moved
 * last row must still be found under its key), and a few thousand random
 * vectors checked against a brute-force double-precision ranking.
 *
 * Sparse rows (vectors with at most stride / 8 non-zero elements are kept
 * as their non-zero elements only): a mix of sparse and dense random
 * vectors, some replaced by vectors of the other layout and some deleted,
 * ranked as the brute force ranks them; identical vectors tie exactly
 * whatever their key; the memory estimate shrinks when most sparse rows
 * are deleted (their arena is compacted) and the survivors still answer
 * under their own keys. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alexus/vec.h"

#define DIM 13   /* not a multiple of the 8-float lanes: the padding is exercised */

static void axis(float *x, int i, float len)
{
	memset(x, 0, DIM * sizeof(float));
	x[i] = len;
}

static void test_known_topk(void **state)
{
	struct ax_vec *v = ax_vec_new(DIM);
	struct ax_vec_hit h[6];
	float x[DIM], q[DIM];
	size_t n;
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		char key[16];

		snprintf(key, sizeof(key), "e%d", i);
		axis(x, i, 1.0f + (float)i);   /* length must not matter */
		assert_int_equal(ax_vec_put(v, key, x), 1);
	}
	/* "mix": 60 degrees from axis 0 in the plane of axes 0 and 1. */
	axis(x, 0, 0.5f);
	x[1] = sqrtf(3.0f) / 2;
	assert_int_equal(ax_vec_put(v, "mix", x), 1);
	assert_int_equal(ax_vec_len(v), 6);

	axis(q, 0, 3.0f);
	n = ax_vec_topk(v, q, 3, h);
	assert_int_equal(n, 3);
	assert_string_equal(h[0].key, "e0");
	assert_true(fabsf(h[0].score - 1.0f) < 1e-6f);
	assert_string_equal(h[1].key, "mix");
	assert_true(fabsf(h[1].score - 0.5f) < 1e-6f);
	/* Then the orthogonal axes at 0, in key order. */
	assert_string_equal(h[2].key, "e1");
	assert_true(fabsf(h[2].score) < 1e-6f);

	/* The opposite direction scores -1: last, after five zeros. */
	axis(q, 4, -2.0f);
	n = ax_vec_topk(v, q, 6, h);
	assert_int_equal(n, 6);
	assert_string_equal(h[0].key, "e0");
	assert_string_equal(h[4].key, "mix");
	assert_string_equal(h[5].key, "e4");
	assert_true(fabsf(h[5].score + 1.0f) < 1e-6f);
	ax_vec_free(v);
}

static void test_ties_by_key(void **state)
{
	struct ax_vec *v = ax_vec_new(DIM);
	static const char *const keys[] = { "delta", "alpha", "charlie", "bravo" };
	struct ax_vec_hit h[4];
	float x[DIM];
	size_t i;

	(void)state;
	axis(x, 2, 1.0f);
	for (i = 0; i < 4; i++) {
		x[2] = (float)(i + 1);   /* same direction, different lengths: equal cosine */
		assert_int_equal(ax_vec_put(v, keys[i], x), 1);
	}
	assert_int_equal(ax_vec_topk(v, x, 2, h), 2);
	assert_string_equal(h[0].key, "alpha");
	assert_string_equal(h[1].key, "bravo");
	assert_int_equal(ax_vec_topk(v, x, 4, h), 4);
	assert_string_equal(h[2].key, "charlie");
	assert_string_equal(h[3].key, "delta");
	for (i = 0; i < 4; i++)
		assert_true(h[i].score == h[0].score);
	ax_vec_free(v);
}

static void test_k_larger_than_n(void **state)
{
	struct ax_vec *v = ax_vec_new(DIM);
	struct ax_vec_hit h[10];
	float x[DIM];

	(void)state;
	axis(x, 0, 1.0f);
	assert_int_equal(ax_vec_topk(v, x, 10, h), 0);   /* empty index */
	ax_vec_put(v, "a", x);
	axis(x, 1, 1.0f);
	ax_vec_put(v, "b", x);
	assert_int_equal(ax_vec_topk(v, x, 10, h), 2);
	assert_string_equal(h[0].key, "b");
	assert_string_equal(h[1].key, "a");
	assert_int_equal(ax_vec_topk(v, x, 0, h), 0);
	ax_vec_free(v);
}

static void test_zero_and_nan(void **state)
{
	struct ax_vec *v = ax_vec_new(DIM);
	struct ax_vec_hit h[4];
	float x[DIM], zero[DIM];

	(void)state;
	memset(zero, 0, sizeof(zero));
	assert_int_equal(ax_vec_put(v, "zero", zero), 0);
	assert_int_equal(ax_vec_len(v), 0);
	axis(x, 3, 1.0f);
	assert_int_equal(ax_vec_put(v, "x", x), 1);
	/* A zero query has no direction: no hits, not arbitrary ones. */
	assert_int_equal(ax_vec_topk(v, zero, 4, h), 0);
	/* Replacing a vector by zero or NaN removes the key. */
	x[0] = NAN;
	assert_int_equal(ax_vec_put(v, "x", x), 0);
	assert_int_equal(ax_vec_len(v), 0);
	axis(x, 3, 1.0f);
	assert_int_equal(ax_vec_put(v, "x", x), 1);
	assert_int_equal(ax_vec_put(v, "x", zero), 0);
	assert_int_equal(ax_vec_len(v), 0);
	x[5] = INFINITY;
	assert_int_equal(ax_vec_topk(v, x, 4, h), 0);
	ax_vec_free(v);
}

static void test_replace_delete(void **state)
{
	struct ax_vec *v = ax_vec_new(DIM);
	struct ax_vec_hit h[3];
	float x[DIM];
	int i;

	(void)state;
	for (i = 0; i < DIM; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%02d", i);
		axis(x, i, 1.0f);
		ax_vec_put(v, key, x);
	}
	/* Replace k03 to point along axis 7: a query on axis 7 ties k03/k07. */
	axis(x, 7, 2.0f);
	assert_int_equal(ax_vec_put(v, "k03", x), 1);
	assert_int_equal(ax_vec_len(v), DIM);
	assert_int_equal(ax_vec_topk(v, x, 2, h), 2);
	assert_string_equal(h[0].key, "k03");
	assert_string_equal(h[1].key, "k07");
	/* Delete k03: the last row (k12) moves into its place and must still
	 * answer under its own key. */
	assert_int_equal(ax_vec_del(v, "k03"), 1);
	assert_int_equal(ax_vec_del(v, "k03"), 0);
	assert_int_equal(ax_vec_len(v), DIM - 1);
	axis(x, 12, 1.0f);
	assert_int_equal(ax_vec_topk(v, x, 1, h), 1);
	assert_string_equal(h[0].key, "k12");
	assert_true(fabsf(h[0].score - 1.0f) < 1e-6f);
	axis(x, 3, 1.0f);
	assert_int_equal(ax_vec_topk(v, x, 1, h), 1);
	assert_true(fabsf(h[0].score) < 1e-6f);   /* nothing points along axis 3 now */
	ax_vec_clear(v);
	assert_int_equal(ax_vec_len(v), 0);
	ax_vec_free(v);
}

/* Random vectors against a double-precision brute force. */
static void test_random_matches_brute_force(void **state)
{
	enum { N = 3000, D = 64, K = 25 };
	struct ax_vec *v = ax_vec_new(D);
	static float data[N][D];
	static double want[N];
	struct ax_vec_hit h[K];
	float q[D];
	double qn = 0;
	unsigned seed = 12345;
	int i, j;

	(void)state;
	for (i = 0; i < N; i++) {
		char key[16];

		for (j = 0; j < D; j++)
			data[i][j] = (float)rand_r(&seed) / RAND_MAX - 0.5f;
		snprintf(key, sizeof(key), "r%05d", i);
		assert_int_equal(ax_vec_put(v, key, data[i]), 1);
	}
	/* Delete every tenth so rows move around. */
	for (i = 0; i < N; i += 10) {
		char key[16];

		snprintf(key, sizeof(key), "r%05d", i);
		assert_int_equal(ax_vec_del(v, key), 1);
	}
	for (j = 0; j < D; j++) {
		q[j] = (float)rand_r(&seed) / RAND_MAX - 0.5f;
		qn += (double)q[j] * q[j];
	}
	for (i = 0; i < N; i++) {
		double dot = 0, n = 0;

		for (j = 0; j < D; j++) {
			dot += (double)data[i][j] * q[j];
			n += (double)data[i][j] * data[i][j];
		}
		want[i] = i % 10 == 0 ? -2 : dot / sqrt(n * qn);
	}
	assert_int_equal(ax_vec_topk(v, q, K, h), K);
	for (i = 0; i < K; i++) {
		int best = -1, idx = atoi(h[i].key + 1);

		/* h[i] must be the i-th best of the brute force. */
		for (j = 0; j < N; j++)
			if (best < 0 || want[j] > want[best])
				best = j;
		assert_int_equal(idx, best);
		assert_true(fabs(h[i].score - want[best]) < 1e-5);
		want[best] = -3;
	}
	ax_vec_free(v);
}

/* n random non-zero elements at random places (n >= d: all of them). */
static void random_vec(float *x, int d, int n, unsigned *seed)
{
	int i;

	memset(x, 0, (size_t)d * sizeof(float));
	if (n >= d) {
		for (i = 0; i < d; i++)
			x[i] = (float)rand_r(seed) / RAND_MAX - 0.5f;
		return;
	}
	for (i = 0; i < n; i++) {
		int at = rand_r(seed) % d;

		x[at] = (float)rand_r(seed) / RAND_MAX + 0.01f;   /* never 0 */
		if (rand_r(seed) & 1)
			x[at] = -x[at];
	}
}

static int nonzero(const float *x, int d)
{
	int i, n = 0;

	for (i = 0; i < d; i++)
		n += x[i] != 0;
	return n;
}

static void test_sparse_and_dense(void **state)
{
	/* D = 64: rows of at most 64 / 8 = 8 non-zero elements are sparse. */
	enum { N = 2000, D = 64, K = 30, SPARSE_MAX = 8 };
	struct ax_vec *v = ax_vec_new(D);
	static float data[N][D];
	static double want[N];
	struct ax_vec_hit h[K];
	float q[D];
	double qn = 0;
	unsigned seed = 777;
	size_t nsparse = 0;
	int i, j;

	(void)state;
	for (i = 0; i < N; i++) {
		char key[16];

		/* Two in three sparse (1..12 non-zero: some just over the bound). */
		random_vec(data[i], D, i % 3 ? 1 + rand_r(&seed) % 12 : D, &seed);
		snprintf(key, sizeof(key), "r%05d", i);
		assert_int_equal(ax_vec_put(v, key, data[i]), 1);
	}
	/* Every fifth replaced by a vector of the other layout. */
	for (i = 0; i < N; i += 5) {
		char key[16];

		random_vec(data[i], D, nonzero(data[i], D) <= SPARSE_MAX ? D : 3, &seed);
		snprintf(key, sizeof(key), "r%05d", i);
		assert_int_equal(ax_vec_put(v, key, data[i]), 1);
	}
	/* Every seventh deleted. */
	for (i = 0; i < N; i += 7) {
		char key[16];

		snprintf(key, sizeof(key), "r%05d", i);
		assert_int_equal(ax_vec_del(v, key), 1);
	}
	for (i = 0; i < N; i++)
		if (i % 7 != 0 && nonzero(data[i], D) <= SPARSE_MAX)
			nsparse++;
	assert_int_equal(ax_vec_len(v), N - (N + 6) / 7);
	assert_int_equal(ax_vec_sparse_len(v), nsparse);
	assert_true(nsparse > N / 3 && nsparse < ax_vec_len(v));

	/* A dense query and a sparse one, each against the brute force. */
	for (j = 0; j < 2; j++) {
		int r, t;

		random_vec(q, D, j == 0 ? D : 6, &seed);
		qn = 0;
		for (t = 0; t < D; t++)
			qn += (double)q[t] * q[t];
		for (i = 0; i < N; i++) {
			double dot = 0, n = 0;

			for (t = 0; t < D; t++) {
				dot += (double)data[i][t] * q[t];
				n += (double)data[i][t] * data[i][t];
			}
			want[i] = i % 7 == 0 ? -2 : dot / sqrt(n * qn);
		}
		assert_int_equal(ax_vec_topk(v, q, K, h), K);
		for (r = 0; r < K; r++) {
			int best = -1;

			for (i = 0; i < N; i++)
				if (best < 0 || want[i] > want[best])
					best = i;
			/* Exact up to float rounding: the score, and the key unless
			 * the next one is within rounding (sparse queries tie). */
			assert_true(fabs(h[r].score - want[best]) < 1e-5);
			if (atoi(h[r].key + 1) != best)
				assert_true(fabs(want[atoi(h[r].key + 1)] - want[best]) < 1e-5);
			want[atoi(h[r].key + 1)] = -3;
		}
	}
	ax_vec_free(v);
}

static void test_sparse_ties_exact(void **state)
{
	enum { D = 1536 };
	struct ax_vec *v = ax_vec_new(D);
	static float x[D], y[D];
	struct ax_vec_hit h[3];

	(void)state;
	x[3] = 0.25f, x[700] = -1.5f, x[1535] = 2.0f;   /* sparse */
	memcpy(y, x, sizeof(x));
	y[3] = 8.0f;
	assert_int_equal(ax_vec_put(v, "b-copy", x), 1);
	assert_int_equal(ax_vec_put(v, "a-copy", x), 1);
	assert_int_equal(ax_vec_put(v, "other", y), 1);
	assert_int_equal(ax_vec_sparse_len(v), 3);
	assert_int_equal(ax_vec_topk(v, x, 3, h), 3);
	assert_string_equal(h[0].key, "a-copy");
	assert_string_equal(h[1].key, "b-copy");
	assert_true(h[0].score == h[1].score);   /* bit-equal, so ordered by key */
	assert_true(fabsf(h[0].score - 1.0f) < 1e-6f);
	assert_string_equal(h[2].key, "other");
	ax_vec_free(v);
}

/* The sparse vector number i of test_sparse_compaction (3 or fewer
 * non-zero elements of 256). */
static void compaction_vec(int i, float *x)
{
	memset(x, 0, 256 * sizeof(float));
	x[i % 256] = 1.0f;
	x[(i / 256 + i + 1) % 256] = 0.5f;
	x[(i * 7 + 3) % 256] += 0.25f;
}

static void test_sparse_compaction(void **state)
{
	enum { N = 6000, D = 256 };
	struct ax_vec *v = ax_vec_new(D);
	struct ax_vec_hit h[1];
	size_t full, after;
	float x[D];
	int i;

	(void)state;
	for (i = 0; i < N; i++) {
		char key[16];

		compaction_vec(i, x);
		snprintf(key, sizeof(key), "s%d", i);
		assert_int_equal(ax_vec_put(v, key, x), 1);
	}
	assert_int_equal(ax_vec_sparse_len(v), N);
	full = ax_vec_bytes(v);
	/* A sparse row here is about 3 pairs; a dense one would be 1 KiB. */
	assert_true(full < (size_t)N * 200);
	for (i = 0; i < N; i++)
		if (i % 10 != 0) {
			char key[16];

			snprintf(key, sizeof(key), "s%d", i);
			assert_int_equal(ax_vec_del(v, key), 1);
		}
	after = ax_vec_bytes(v);
	assert_int_equal(ax_vec_len(v), N / 10);
	assert_true(after < full);
	/* Survivors answer under their own keys. */
	for (i = 0; i < N; i += 10) {
		char key[16];

		float y[D];
		int j;

		compaction_vec(i, x);
		snprintf(key, sizeof(key), "s%d", i);
		assert_int_equal(ax_vec_topk(v, x, 1, h), 1);
		assert_true(fabsf(h[0].score - 1.0f) < 1e-6f);
		/* Its own key, or a survivor that is the very same vector. */
		compaction_vec(atoi(h[0].key + 1), y);
		for (j = 0; j < D; j++)
			assert_true(x[j] == y[j]);
		assert_int_equal(atoi(h[0].key + 1) % 10, 0);
	}
	ax_vec_clear(v);
	assert_int_equal(ax_vec_len(v), 0);
	assert_int_equal(ax_vec_sparse_len(v), 0);
	ax_vec_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_topk),
		cmocka_unit_test(test_ties_by_key),
		cmocka_unit_test(test_k_larger_than_n),
		cmocka_unit_test(test_zero_and_nan),
		cmocka_unit_test(test_replace_delete),
		cmocka_unit_test(test_random_matches_brute_force),
		cmocka_unit_test(test_sparse_and_dense),
		cmocka_unit_test(test_sparse_ties_exact),
		cmocka_unit_test(test_sparse_compaction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
