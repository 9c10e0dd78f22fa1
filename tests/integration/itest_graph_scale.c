/* itest_graph_scale.c - the knowledge graph at more than a handful of rows,
 * on the real test stack's Postgres (graph_pg.c, local embedder), as the
 * application role:
 *   - batched upserts: 1,234 items (three multi-row statements), relations
 *     and Issue links land exactly, a second upsert changes nothing, an id
 *     given twice in one batch keeps the later entry; a bad row in a later
 *     statement (a relation to a missing item, attributes jsonb refuses) is
 *     named exactly as a one-row upsert would name it, and nothing of the
 *     batch is written;
 *   - `alexusctl cmdb import` of a generated 1,500-row CSV pair prints the
 *     counts, and a bad relation on line 1,400 of a relations file is
 *     reported with its file and line, importing nothing;
 *   - the vector cache is one per process: a second store and four threads
 *     each with its own store search a tenant that was loaded once (one
 *     load in the counters, the same hits everywhere); a write through one
 *     store is seen by a search through the other (one incremental
 *     refresh, not a reload);
 *   - the cache's cap: with room for two tenants' indexes, a third evicts
 *     the least recently searched one, which loads again when searched;
 *     a cap smaller than one index keeps only the index just searched;
 *     ALEXUS_GRAPH_CACHE_MB sets the cap and a bad value is refused. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "alexus/embed.h"
#include "alexus/graph.h"
#include "alexus/hash.h"
#include "alexus/mem.h"
#include "harness.h"

#define NITEMS 1234
#define NTHREADS 4
#define CSV_ROWS 1500

static struct ax_embedder *emb;
static struct ax_graph *graph;

static struct ax_graph *open_store(size_t cache_bytes)
{
	struct ax_graph_config c = { NULL, h_env("ALEXUS_DATABASE_URL"), cache_bytes };
	char err[512];
	struct ax_graph *g = ax_graph_open(&c, emb, err, sizeof(err));

	if (g == NULL)
		fail_msg("open: %s", err);
	return g;
}

static long count(const char *tenant, const char *sql)
{
	PGconn *c = h_pg_app();
	long v = h_pg_long(c, tenant, sql, 0, NULL);

	PQfinish(c);
	return v;
}

/* n items "<prefix>-<i>" named "<word> unit <i>", in one upsert. */
static void put_items(struct ax_graph *g, const char *tenant, const char *prefix, const char *word,
		      int n)
{
	struct ax_graph_item *it = ax_xcalloc((size_t)n, sizeof(*it));
	struct ax_graph_batch b = { .items = it, .nitems = (size_t)n };
	struct ax_graph_counts counts;
	char err[512];
	int i;

	for (i = 0; i < n; i++) {
		it[i].id = ax_xasprintf("%s-%d", prefix, i);
		it[i].type = "service";
		it[i].name = ax_xasprintf("%s unit %d", word, i);
	}
	if (ax_graph_upsert(g, tenant, &b, &counts, err, sizeof(err)) != AX_OK)
		fail_msg("upsert: %s", err);
	assert_int_equal(counts.items, (size_t)n);
	for (i = 0; i < n; i++) {
		free((char *)it[i].id);
		free((char *)it[i].name);
	}
	free(it);
}

static void search1(struct ax_graph *g, const char *tenant, const char *query, const char *want)
{
	struct ax_graph_hits h;
	char err[512];

	assert_int_equal(ax_graph_search_hybrid(g, tenant, query, AX_GRAPH_ALL, 5, &h, err,
						sizeof(err)), AX_OK);
	assert_true(h.n > 0);
	if (want != NULL && strcmp(h.v[0].id, want) != 0)
		fail_msg("'%s' ranked '%s' first, want '%s'", query, h.v[0].id, want);
	ax_graph_hits_release(&h);
}

static int setup(void **state)
{
	char err[512];

	(void)state;
	unsetenv("ALEXUS_EMBED_URL");
	unsetenv("ALEXUS_GRAPH_CACHE_MB");
	ax_hash_init();
	emb = ax_embedder_from_env(err, sizeof(err));
	graph = emb ? ax_graph_open_env(h_env("ALEXUS_DATABASE_URL"), emb, err, sizeof(err)) : NULL;
	if (graph == NULL) {
		fprintf(stderr, "graph: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ax_graph_close(graph);
	ax_embedder_free(emb);
	ax_graph_cache_clear();
	return 0;
}

/* ----------------------------------------------------------- batched upserts */

static void test_batched_upsert(void **state)
{
	struct ax_graph_item *it = ax_xcalloc(NITEMS + 1, sizeof(*it));
	struct ax_graph_relation *rl = ax_xcalloc(NITEMS, sizeof(*rl));
	const char *links[3];
	struct ax_graph_issue is = { "inc-1", "incident", "Checkout latency", "slow", "restart",
				     links, 3 };
	struct ax_graph_batch b = { it, NITEMS, rl, NITEMS - 1, &is, 1, NULL, 0 };
	struct ax_graph_counts counts;
	char tenant[64], err[512], sql[256];
	int i;

	(void)state;
	h_tenant_new("scale-up", NULL, tenant);
	for (i = 0; i < NITEMS; i++) {
		it[i].id = ax_xasprintf("svc-%04d", i);
		it[i].type = i % 2 ? "service" : "host";
		it[i].name = ax_xasprintf("Service number %d", i);
		it[i].attributes = ax_xasprintf("{\"rank\":%d,\"team\":\"t%d\"}", i, i % 7);
		if (i > 0) {
			rl[i - 1].from = it[i].id;
			rl[i - 1].kind = "depends_on";
			rl[i - 1].to = it[i / 2].id;
		}
	}
	links[0] = it[0].id;
	links[1] = it[600].id;
	links[2] = it[NITEMS - 1].id;
	assert_int_equal(ax_graph_upsert(graph, tenant, &b, &counts, err, sizeof(err)), AX_OK);
	assert_int_equal(counts.items, NITEMS);
	assert_int_equal(counts.relations, NITEMS - 1);
	assert_int_equal(counts.issues, 1);
	assert_int_equal(counts.links, 3);
	assert_int_equal(count(tenant, "SELECT count(*) FROM configuration_items"), NITEMS);
	assert_int_equal(count(tenant, "SELECT count(*) FROM ci_relations"), NITEMS - 1);
	assert_int_equal(count(tenant, "SELECT count(*) FROM issue_items"), 3);
	/* Every row as given: attributes, and vectors sent in binary. */
	assert_int_equal(count(tenant, "SELECT count(*) FROM configuration_items WHERE "
				 "name = 'Service number ' || (attributes->>'rank') AND "
				 "id = 'svc-' || lpad(attributes->>'rank', 4, '0') AND "
				 "embedder = 'local-hash-v1' AND "
				 "octet_length(embedding) = 6144"),
			 NITEMS);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM ci_relations WHERE "
		 "substr(from_id, 5)::int / 2 = substr(to_id, 5)::int");
	assert_int_equal(count(tenant, sql), NITEMS - 1);
	/* The same batch again changes nothing. */
	assert_int_equal(ax_graph_upsert(graph, tenant, &b, &counts, err, sizeof(err)), AX_OK);
	assert_int_equal(counts.items + counts.relations + counts.issues + counts.links, 0);

	/* An id twice in one batch (and in what would be one statement): the
	 * later entry wins, as row by row. */
	free((char *)it[1200].name);
	it[1200].name = ax_xstrdup("Renamed twice, first");
	it[NITEMS].id = it[1200].id;
	it[NITEMS].type = "service";
	it[NITEMS].name = "Renamed twice, last";
	b.nitems = NITEMS + 1;
	assert_int_equal(ax_graph_upsert(graph, tenant, &b, &counts, err, sizeof(err)), AX_OK);
	assert_int_equal(counts.items, 2);   /* the row was written twice */
	assert_int_equal(count(tenant, "SELECT count(*) FROM configuration_items WHERE "
				 "id = 'svc-1200' AND name = 'Renamed twice, last' AND "
				 "attributes = '{}'"), 1);
	b.nitems = NITEMS;

	/* A relation to a missing item in the third statement: named, and
	 * nothing of the batch is written. */
	{
		char other[64];

		h_tenant_new("scale-bad", NULL, other);
		rl[1100].to = "no-such-item";
		assert_int_equal(ax_graph_upsert(graph, other, &b, &counts, err, sizeof(err)),
				 AX_ENOTFOUND);
		snprintf(sql, sizeof(sql), "relation '%s' depends_on 'no-such-item': no item "
			 "'no-such-item'", rl[1100].from);
		assert_string_equal(err, sql);
		assert_int_equal(counts.items, 0);
		assert_int_equal(count(other, "SELECT count(*) FROM configuration_items"), 0);
		rl[1100].to = it[1101 / 2].id;
		/* An item jsonb refuses (cJSON takes \u0000, Postgres does not),
		 * in the second statement of items. */
		free((char *)it[777].attributes);
		it[777].attributes = ax_xstrdup("{\"note\":\"nul \\u0000 here\"}");
		assert_int_equal(ax_graph_upsert(graph, other, &b, &counts, err, sizeof(err)),
				 AX_EIO);
		if (strncmp(err, "item 'svc-0777': postgres: ", 27) != 0)
			fail_msg("error: %s", err);
		assert_int_equal(count(other, "SELECT count(*) FROM configuration_items"), 0);
		assert_int_equal(count(other, "SELECT count(*) FROM ci_relations"), 0);
	}
	for (i = 0; i < NITEMS; i++) {
		free((char *)it[i].id);
		free((char *)it[i].name);
		free((char *)it[i].attributes);
	}
	free(it);
	free(rl);
}

/* ----------------------------------------------------------- cmdb import */

static void test_import_csv_batched(void **state)
{
	char tenant[64], items[] = "/tmp/alexus-scale-items-XXXXXX.csv";
	char rels[] = "/tmp/alexus-scale-rels-XXXXXX.csv", want[256], *out;
	FILE *fi, *fr;
	int i, fdi, fdr;

	(void)state;
	h_tenant_new("scale-csv", NULL, tenant);
	fdi = mkstemps(items, 4);
	fdr = mkstemps(rels, 4);
	assert_true(fdi >= 0 && fdr >= 0);
	fi = fdopen(fdi, "w");
	fr = fdopen(fdr, "w");
	fprintf(fi, "id,type,name,team,description\n");
	fprintf(fr, "from,kind,to\n");
	for (i = 0; i < CSV_ROWS; i++) {
		fprintf(fi, "ci-%d,service,\"Service %d, \"\"quoted\"\"\",team-%d,\"line one\nline "
			"two\"\n", i, i, i % 9);
		if (i > 0)   /* line i + 1 of the relations file */
			fprintf(fr, "ci-%d,depends_on,ci-%d\n", i, i - 1);
	}
	fclose(fi);
	fclose(fr);
	assert_int_equal(h_ctl(&out, "cmdb", "import", items, rels, "--tenant", tenant, NULL), 0);
	snprintf(want, sizeof(want), "%d items (%d changed), %d relations (%d new)", CSV_ROWS,
		 CSV_ROWS, CSV_ROWS - 1, CSV_ROWS - 1);
	if (strstr(out, want) == NULL)
		fail_msg("import said: %s (want '%s')", out, want);
	free(out);
	assert_int_equal(count(tenant, "SELECT count(*) FROM configuration_items WHERE "
				 "attributes->>'description' = E'line one\\nline two'"), CSV_ROWS);
	assert_int_equal(count(tenant, "SELECT count(*) FROM ci_relations"), CSV_ROWS - 1);

	/* A relation to an unknown item on line 1,400: file and line named,
	 * nothing imported (a fresh tenant). */
	h_tenant_new("scale-csv-bad", NULL, tenant);
	fr = fopen(rels, "w");
	assert_non_null(fr);
	fprintf(fr, "from,kind,to\n");
	for (i = 1; i < CSV_ROWS; i++)
		fprintf(fr, "ci-%d,depends_on,%s\n", i, i == 1399 ? "ci-missing" : "ci-0");
	fclose(fr);
	assert_int_equal(h_ctl(&out, "cmdb", "import", items, rels, "--tenant", tenant, NULL), 1);
	snprintf(want, sizeof(want), "%s:1400: relation 'ci-1399' depends_on 'ci-missing': no "
		 "item 'ci-missing'; nothing imported", rels);
	if (strstr(out, want) == NULL)
		fail_msg("import said: %s (want '%s')", out, want);
	free(out);
	assert_int_equal(count(tenant, "SELECT count(*) FROM configuration_items"), 0);
	unlink(items);
	unlink(rels);
}

/* ----------------------------------------------------------- the shared cache */

struct worker {
	const char *tenant;
	char first[8][64];   /* the best hit of each query */
	int failed;
	char err[512];
};

static const char *const thread_queries[8] = {
	"alpha unit 3", "alpha unit 77", "alpha unit 150", "unit 9",
	"alpha", "alpha unit 42", "alpha unit 199", "unit 120",
};

static void *search_thread(void *arg)
{
	struct worker *w = arg;
	struct ax_graph *g;
	struct ax_graph_config c = { NULL, getenv("ALEXUS_DATABASE_URL"), 0 };
	int i, round;

	g = ax_graph_open(&c, emb, w->err, sizeof(w->err));
	if (g == NULL) {
		w->failed = 1;
		return NULL;
	}
	for (round = 0; round < 3; round++)
		for (i = 0; i < 8; i++) {
			struct ax_graph_hits h;

			if (ax_graph_search_hybrid(g, w->tenant, thread_queries[i], AX_GRAPH_ALL, 3,
						   &h, w->err, sizeof(w->err)) != AX_OK ||
			    h.n == 0) {
				w->failed = 1;
				break;
			}
			snprintf(w->first[i], sizeof(w->first[i]), "%s", h.v[0].id);
			ax_graph_hits_release(&h);
		}
	ax_graph_close(g);
	return NULL;
}

static void test_cache_shared(void **state)
{
	struct ax_graph_cache_stats s0, s;
	struct ax_graph *other;
	pthread_t th[NTHREADS];
	static struct worker w[NTHREADS];
	struct ax_graph_item extra = { "extra", "service", "Zebra Ledger Thing", NULL };
	char tenant[64], err[512];
	int i, j;

	(void)state;
	h_tenant_new("scale-share", NULL, tenant);
	put_items(graph, tenant, "a", "alpha", 200);
	ax_graph_cache_clear();
	ax_graph_cache_stats(&s0);
	assert_int_equal(s0.indexes, 0);

	/* First search through one store: one load of 200 vectors. */
	search1(graph, tenant, "alpha unit 17", "a-17");
	ax_graph_cache_stats(&s);
	assert_int_equal(s.loads - s0.loads, 1);
	assert_int_equal(s.indexes, 1);
	assert_int_equal(s.vectors, 200);
	assert_int_equal(s.sparse, 200);   /* local-hash-v1 vectors are sparse */
	assert_true(s.bytes > 0 && s.bytes < 200 * 2048);

	/* Another store in the same process: no second load. */
	other = open_store(0);
	search1(other, tenant, "alpha unit 18", "a-18");
	ax_graph_cache_stats(&s);
	assert_int_equal(s.loads - s0.loads, 1);
	assert_int_equal(s.refreshes - s0.refreshes, 0);

	/* A write through it is seen through the first: one refresh. */
	assert_int_equal(ax_graph_upsert_item(other, tenant, &extra, err, sizeof(err)), AX_OK);
	search1(graph, tenant, "zebra ledger", "extra");
	ax_graph_cache_stats(&s);
	assert_int_equal(s.loads - s0.loads, 1);
	assert_int_equal(s.refreshes - s0.refreshes, 1);
	assert_int_equal(s.vectors, 201);
	ax_graph_close(other);

	/* Threads, each with its own store, from a cold cache: one load in
	 * all, and every thread gets the same answers. */
	ax_graph_cache_clear();
	ax_graph_cache_stats(&s0);
	for (i = 0; i < NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].tenant = tenant;
		assert_int_equal(pthread_create(&th[i], NULL, search_thread, &w[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NTHREADS; i++) {
		if (w[i].failed)
			fail_msg("thread %d: %s", i, w[i].err);
		for (j = 0; j < 8; j++)
			assert_string_equal(w[i].first[j], w[0].first[j]);
	}
	assert_string_equal(w[0].first[0], "a-3");
	assert_string_equal(w[0].first[1], "a-77");
	ax_graph_cache_stats(&s);
	assert_int_equal(s.loads - s0.loads, 1);
	assert_int_equal(s.indexes, 1);
	assert_int_equal(s.vectors, 201);
}

/* ----------------------------------------------------------- the cap */

static void test_cache_eviction(void **state)
{
	struct ax_graph_cache_stats s0, s;
	struct ax_graph *capped, *tiny;
	char ta[64], tb[64], tc[64], err[512];
	size_t one;

	(void)state;
	h_tenant_new("scale-ev-a", NULL, ta);
	h_tenant_new("scale-ev-b", NULL, tb);
	h_tenant_new("scale-ev-c", NULL, tc);
	put_items(graph, ta, "a", "apple", 300);
	put_items(graph, tb, "b", "banana", 300);
	put_items(graph, tc, "c", "cherry", 300);

	/* The size of one tenant's index, measured. */
	ax_graph_cache_clear();
	search1(graph, ta, "apple unit 5", "a-5");
	ax_graph_cache_stats(&s);
	one = s.bytes;
	assert_true(one > 0);

	/* Room for two and a half: the third tenant evicts the least
	 * recently searched (a), which loads again when searched. */
	ax_graph_cache_clear();
	capped = open_store(one * 5 / 2);
	ax_graph_cache_stats(&s0);
	assert_int_equal(s0.limit, one * 5 / 2);
	search1(capped, ta, "apple unit 5", "a-5");
	search1(capped, tb, "banana unit 6", "b-6");
	ax_graph_cache_stats(&s);
	assert_int_equal(s.evictions - s0.evictions, 0);
	assert_int_equal(s.indexes, 2);
	search1(capped, tc, "cherry unit 7", "c-7");
	ax_graph_cache_stats(&s);
	assert_int_equal(s.evictions - s0.evictions, 1);
	assert_int_equal(s.indexes, 2);
	assert_true(s.bytes <= s.limit);
	search1(capped, tb, "banana unit 8", "b-8");   /* still there: no load */
	ax_graph_cache_stats(&s);
	assert_int_equal(s.loads - s0.loads, 3);
	search1(capped, ta, "apple unit 9", "a-9");    /* evicted: loads again, c goes */
	ax_graph_cache_stats(&s);
	assert_int_equal(s.loads - s0.loads, 4);
	assert_int_equal(s.evictions - s0.evictions, 2);
	search1(capped, tb, "banana unit 10", "b-10");
	ax_graph_cache_stats(&s);
	assert_int_equal(s.loads - s0.loads, 4);

	/* A cap below one index: only the index just searched stays. */
	tiny = open_store(1);
	ax_graph_cache_stats(&s);
	assert_int_equal(s.indexes, 1);   /* opening evicted all but the latest */
	search1(tiny, tc, "cherry unit 11", "c-11");
	ax_graph_cache_stats(&s);
	assert_int_equal(s.indexes, 1);
	assert_true(s.bytes > s.limit);
	ax_graph_close(tiny);
	ax_graph_close(capped);

	/* The knob. */
	setenv("ALEXUS_GRAPH_CACHE_MB", "3", 1);
	capped = open_store(0);
	ax_graph_cache_stats(&s);
	assert_int_equal(s.limit, (size_t)3 << 20);
	ax_graph_close(capped);
	setenv("ALEXUS_GRAPH_CACHE_MB", "0", 1);
	{
		struct ax_graph_config c = { NULL, h_env("ALEXUS_DATABASE_URL"), 0 };

		assert_null(ax_graph_open(&c, emb, err, sizeof(err)));
		assert_non_null(strstr(err, "ALEXUS_GRAPH_CACHE_MB must be an integer 1..1048576"));
	}
	unsetenv("ALEXUS_GRAPH_CACHE_MB");
	capped = open_store(0);
	ax_graph_cache_stats(&s);
	assert_int_equal(s.limit, (size_t)AX_GRAPH_CACHE_MB << 20);
	ax_graph_close(capped);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batched_upsert),
		cmocka_unit_test(test_import_csv_batched),
		cmocka_unit_test(test_cache_shared),
		cmocka_unit_test(test_cache_eviction),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
