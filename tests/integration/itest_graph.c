/* itest_graph.c - the knowledge graph on the real test stack's Postgres.
 *
 * The real alexusctl (ALEXUS_BIN_DIR) imports the fixtures of
 * tests/fixtures/cmdb/ and the graph store (common/graph.h, postgres
 * backend, local embedder) is then queried in-process through the
 * application role:
 *   - `cmdb import` of the JSON fixture prints the counts of the file,
 *     stores every item with a 1536-dimension local-hash-v1 vector, and a
 *     second import changes nothing; the CSV pair gives the very same
 *     graph; bad files (a missing name, an unterminated quote, a relation
 *     to an unknown item) fail naming the entry or line and import nothing;
 *   - blast radius equals a breadth-first search over the fixture's
 *     relations computed here, for each direction and depth, with the
 *     depth cap and a kinds filter honoured, every path a real walk from
 *     the start, and the fixture's cycle (web -> checkout -> payments ->
 *     web) walked without repeating an item;
 *   - full-text search finds the incident, runbook and item that carry the
 *     query's words, ranked 1..n by non-increasing ts_rank;
 *   - vector search ranks each item first for its own name, and picks up
 *     an item added afterwards (the in-memory index refreshes);
 *   - hybrid search reports, for every hit, the same ranks the two single
 *     searches give and the fused score 1/(60+fts_rank) + 1/(60+vec_rank);
 *   - another tenant sees nothing of this graph in any call, and an edge
 *     from it to this tenant's items is refused. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "alexus/embed.h"
#include "alexus/graph.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "harness.h"

#define FIX "tests/fixtures/cmdb/"

static char tenant_a[64];       /* the JSON import */
static struct ax_embedder *emb;
static struct ax_graph *graph;
static cJSON *fixture;

/* ----------------------------------------------------------- helpers */

static long count(const char *tenant, const char *sql)
{
	PGconn *c = h_pg_app();
	long v = h_pg_long(c, tenant, sql, 0, NULL);

	PQfinish(c);
	return v;
}

static int nlist(const char *name)
{
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(fixture, name));
}

/* ----------------------------------------------------------- fixture BFS */

struct want {
	char id[64];
	int depth;
};

/* Shortest depths from start along the fixture's relations (dir as in
 * graph.h, kind NULL = every kind), up to depth; returns the count. */
static int bfs(const char *start, int dir, int depth, const char *kind, struct want *w)
{
	const cJSON *rels = cJSON_GetObjectItemCaseSensitive(fixture, "relations"), *r;
	int n = 0, head, d;

	snprintf(w[n].id, sizeof(w[n].id), "%s", start);
	w[n++].depth = 0;
	for (d = 0; d < depth; d++) {
		int end = n;

		for (head = 0; head < end; head++) {
			if (w[head].depth != d)
				continue;
			cJSON_ArrayForEach(r, rels) {
				const char *from = ax_json_str(r, "from"), *to = ax_json_str(r, "to");
				const char *next = NULL;
				int k;

				if (kind != NULL && strcmp(ax_json_str(r, "kind"), kind) != 0)
					continue;
				if ((dir & AX_GRAPH_OUT) && strcmp(from, w[head].id) == 0)
					next = to;
				else if ((dir & AX_GRAPH_IN) && strcmp(to, w[head].id) == 0)
					next = from;
				if (next == NULL)
					continue;
				for (k = 0; k < n; k++)
					if (strcmp(w[k].id, next) == 0)
						break;
				if (k == n) {
					snprintf(w[n].id, sizeof(w[n].id), "%s", next);
					w[n++].depth = d + 1;
				}
			}
		}
	}
	return n;
}

static int edge(const char *a, const char *b, int dir)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(fixture, "relations")) {
		const char *from = ax_json_str(r, "from"), *to = ax_json_str(r, "to");

		if ((dir & AX_GRAPH_OUT) && strcmp(from, a) == 0 && strcmp(to, b) == 0)
			return 1;
		if ((dir & AX_GRAPH_IN) && strcmp(to, a) == 0 && strcmp(from, b) == 0)
			return 1;
	}
	return 0;
}

static void check_blast(const char *start, int dir, int depth, const char *kind)
{
	static struct want w[256];
	const char *kinds[2] = { kind, NULL };
	struct ax_graph_nodes out;
	char err[512];
	int n = bfs(start, dir, depth, kind, w), i;
	size_t j, p;

	assert_int_equal(ax_graph_blast_radius(graph, tenant_a, start, depth, dir,
					       kind ? kinds : NULL, &out, err, sizeof(err)), AX_OK);
	if (out.n != (size_t)(n - 1)) {
		for (j = 0; j < out.n; j++)
			fprintf(stderr, "got %s at %d\n", out.v[j].id, out.v[j].depth);
		fail_msg("blast radius %s dir %d depth %d: %zu nodes, want %d", start, dir, depth,
			 out.n, n - 1);
	}
	for (i = 1; i < n; i++) {
		for (j = 0; j < out.n; j++)
			if (strcmp(out.v[j].id, w[i].id) == 0)
				break;
		if (j == out.n)
			fail_msg("blast radius %s: missing %s", start, w[i].id);
		assert_int_equal(out.v[j].depth, w[i].depth);
	}
	for (j = 0; j < out.n; j++) {
		const struct ax_graph_node *x = &out.v[j];

		assert_true(x->depth >= 1 && x->depth <= depth);
		assert_int_equal(x->npath, (size_t)x->depth + 1);
		assert_string_equal(x->path[0], start);
		assert_string_equal(x->path[x->npath - 1], x->id);
		for (p = 1; p < x->npath; p++) {
			size_t q;

			assert_true(edge(x->path[p - 1], x->path[p], dir));
			for (q = 0; q < p; q++)   /* simple path: no item twice */
				assert_true(strcmp(x->path[q], x->path[p]) != 0);
		}
		if (j > 0)   /* ordered by depth, then id */
			assert_true(out.v[j - 1].depth < x->depth ||
				    (out.v[j - 1].depth == x->depth &&
				     strcmp(out.v[j - 1].id, x->id) < 0));
		assert_true(x->name[0] != '\0' && x->type[0] != '\0' && x->via[0] != '\0');
	}
	ax_graph_nodes_release(&out);
}

/* ----------------------------------------------------------- setup */

static int setup(void **state)
{
	char err[512];
	size_t len;
	char *buf;

	(void)state;
	unsetenv("ALEXUS_EMBED_URL");
	ax_hash_init();
	buf = h_read_file(FIX "cmdb.json", &len);
	fixture = ax_json_parse(buf, len, 64);
	free(buf);
	if (fixture == NULL)
		return -1;
	emb = ax_embedder_from_env(err, sizeof(err));
	graph = emb ? ax_graph_open_env(h_env("ALEXUS_DATABASE_URL"), emb, err, sizeof(err)) : NULL;
	if (graph == NULL) {
		fprintf(stderr, "graph: %s\n", err);
		return -1;
	}
	h_tenant_new("graph-a", NULL, tenant_a);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ax_graph_close(graph);
	ax_embedder_free(emb);
	cJSON_Delete(fixture);
	return 0;
}

/* ----------------------------------------------------------- import */

static void test_import_json(void **state)
{
	char want[256], *out;

	(void)state;
	assert_int_equal(h_ctl(&out, "cmdb", "import", FIX "cmdb.json", "--tenant", tenant_a, NULL),
			 0);
	snprintf(want, sizeof(want), "%d items (%d changed), %d relations (%d new), %d issues",
		 nlist("items"), nlist("items"), nlist("relations"), nlist("relations"),
		 nlist("issues"));
	if (strstr(out, want) == NULL)
		fail_msg("import said: %s (want '%s')", out, want);
	assert_non_null(strstr(out, AX_EMBED_LOCAL_NAME));
	free(out);
	assert_int_equal(count(tenant_a, "SELECT count(*) FROM configuration_items"),
			 nlist("items"));
	assert_int_equal(count(tenant_a, "SELECT count(*) FROM ci_relations"), nlist("relations"));
	assert_int_equal(count(tenant_a, "SELECT count(*) FROM graph_issues"), nlist("issues"));
	assert_int_equal(count(tenant_a, "SELECT count(*) FROM knowledge_docs"), nlist("docs"));
	assert_int_equal(count(tenant_a, "SELECT count(*) FROM configuration_items WHERE "
				 "embedder = 'local-hash-v1' AND octet_length(embedding) = 6144"),
			 nlist("items"));
	/* Idempotent: the same file again changes no row. */
	assert_int_equal(h_ctl(&out, "cmdb", "import", FIX "cmdb.json", "--tenant", tenant_a, NULL),
			 0);
	snprintf(want, sizeof(want), "%d items (0 changed), %d relations (0 new)",
		 nlist("items"), nlist("relations"));
	if (strstr(out, want) == NULL)
		fail_msg("second import said: %s", out);
	free(out);
}

static void test_import_csv_same_graph(void **state)
{
	static const char *const sql[] = {
		"SELECT string_agg(id || '|' || type || '|' || name || '|' || attributes::text, "
		"E'\\n' ORDER BY id) FROM configuration_items",
		"SELECT string_agg(from_id || ' ' || kind || ' ' || to_id, E'\\n' "
		"ORDER BY from_id, kind, to_id) FROM ci_relations",
	};
	char tenant_c[64], *out;
	PGconn *c = h_pg_app();
	size_t i;

	(void)state;
	h_tenant_new("graph-c", NULL, tenant_c);
	assert_int_equal(h_ctl(&out, "cmdb", "import", FIX "items.csv", FIX "relations.csv",
			       "--tenant", tenant_c, NULL), 0);
	free(out);
	for (i = 0; i < 2; i++) {
		PGresult *a = h_pg_q(c, tenant_a, sql[i], 0, NULL);
		PGresult *b = h_pg_q(c, tenant_c, sql[i], 0, NULL);

		assert_false(PQgetisnull(a, 0, 0));
		assert_string_equal(PQgetvalue(a, 0, 0), PQgetvalue(b, 0, 0));
		PQclear(a);
		PQclear(b);
	}
	PQfinish(c);
}

static void test_import_bad(void **state)
{
	char tenant_d[64], *out;

	(void)state;
	h_tenant_new("graph-d", NULL, tenant_d);
	assert_int_equal(h_ctl(&out, "cmdb", "import", FIX "bad.json", "--tenant", tenant_d, NULL),
			 1);
	assert_non_null(strstr(out, "items[2] 'payments'"));
	assert_non_null(strstr(out, "\"name\""));
	free(out);
	assert_int_equal(h_ctl(&out, "cmdb", "import", FIX "items-bad.csv", "--tenant", tenant_d,
			       NULL), 1);
	assert_non_null(strstr(out, "items-bad.csv:3: unterminated quoted field"));
	free(out);
	/* Valid items, then a relation to an item that exists nowhere: the
	 * database refuses it, and the items of the same run are gone too. */
	assert_int_equal(h_ctl(&out, "cmdb", "import", FIX "items.csv", FIX "relations-bad.csv",
			       "--tenant", tenant_d, NULL), 1);
	assert_non_null(strstr(out, "relations-bad.csv:4: relation 'checkout' depends_on "
				    "'billing': no item 'billing'; nothing imported"));
	free(out);
	assert_int_equal(count(tenant_d, "SELECT count(*) FROM configuration_items"), 0);
	assert_int_equal(count(tenant_d, "SELECT count(*) FROM ci_relations"), 0);
	/* Usage errors exit 2. */
	assert_int_equal(h_ctl(&out, "cmdb", "import", FIX "cmdb.json", NULL), 2);
	free(out);
}

/* ----------------------------------------------------------- traversal */

static void test_blast_radius(void **state)
{
	const cJSON *it;
	struct ax_graph_nodes out;
	char err[512];
	int depth;

	(void)state;
	/* Every item, every direction, depth 1..4 against the BFS. */
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(fixture, "items"))
		for (depth = 1; depth <= 4; depth++) {
			check_blast(ax_json_str(it, "id"), AX_GRAPH_IN, depth, NULL);
			check_blast(ax_json_str(it, "id"), AX_GRAPH_OUT, depth, NULL);
			check_blast(ax_json_str(it, "id"), AX_GRAPH_BOTH, depth, NULL);
		}
	/* The cycle at the maximum depth: terminates, each item once. */
	check_blast("web", AX_GRAPH_OUT, AX_GRAPH_DEPTH_MAX, NULL);
	check_blast("payments-db", AX_GRAPH_BOTH, AX_GRAPH_DEPTH_MAX, NULL);
	/* Only runs_on edges: what runs on node-2. */
	check_blast("node-2", AX_GRAPH_IN, 3, "runs_on");
	check_blast("checkout", AX_GRAPH_OUT, 2, "depends_on");
	/* Bounds and unknown items. */
	assert_int_equal(ax_graph_blast_radius(graph, tenant_a, "web", AX_GRAPH_DEPTH_MAX + 1,
					       AX_GRAPH_OUT, NULL, &out, err, sizeof(err)),
			 AX_EINVAL);
	assert_int_equal(ax_graph_blast_radius(graph, tenant_a, "web", 0, AX_GRAPH_OUT, NULL, &out,
					       err, sizeof(err)), AX_EINVAL);
	assert_int_equal(ax_graph_blast_radius(graph, tenant_a, "no-such-item", 2, AX_GRAPH_OUT,
					       NULL, &out, err, sizeof(err)), AX_ENOTFOUND);
	assert_int_equal(out.n, 0);
}

/* A neighbourhood: the blast radius with a fan-out cap.  Uncapped in
 * effect (a cap above every degree) it is the blast radius; capped at one
 * edge per item and direction, every node is one the blast radius has,
 * each node is reached through at most one edge per direction of its
 * parent, and a hub with more edges yields fewer nodes. */
static void test_neighbourhood(void **state)
{
	const cJSON *it;
	struct ax_graph_nodes all, nb;
	char err[512];
	size_t i, j, most = 0;
	int capped = 0;

	(void)state;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(fixture, "items")) {
		const char *id = ax_json_str(it, "id");

		assert_int_equal(ax_graph_blast_radius(graph, tenant_a, id, 2, AX_GRAPH_BOTH, NULL,
						       &all, err, sizeof(err)), AX_OK);
		assert_int_equal(ax_graph_neighbourhood(graph, tenant_a, id, 2, 1000, &nb, err,
							sizeof(err)), AX_OK);
		assert_int_equal(nb.n, all.n);
		for (i = 0; i < nb.n; i++)
			assert_string_equal(nb.v[i].id, all.v[i].id);
		ax_graph_nodes_release(&nb);
		assert_int_equal(ax_graph_neighbourhood(graph, tenant_a, id, 2, 1, &nb, err,
							sizeof(err)), AX_OK);
		assert_true(nb.n <= all.n);
		for (i = 0; i < nb.n; i++) {
			int found = 0;

			for (j = 0; j < all.n && !found; j++)
				found = strcmp(nb.v[i].id, all.v[j].id) == 0;
			assert_true(found);
			assert_true(nb.v[i].depth == 1 || nb.v[i].depth == 2);
		}
		/* At depth 1: one edge out and one in, at most. */
		for (i = 0, j = 0; i < nb.n; i++)
			j += nb.v[i].depth == 1;
		assert_true(j <= 2);
		capped += nb.n < all.n;
		if (all.n > most)
			most = all.n;
		ax_graph_nodes_release(&nb);
		ax_graph_nodes_release(&all);
	}
	assert_true(most > 2);
	assert_true(capped > 0);
	assert_int_equal(ax_graph_neighbourhood(graph, tenant_a, "web", 2, 0, &nb, err, sizeof(err)),
			 AX_EINVAL);
}

/* ----------------------------------------------------------- search */

static int find(const struct ax_graph_hits *h, int kind, const char *id)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->v[i].kind == kind && strcmp(h->v[i].id, id) == 0)
			return (int)i;
	return -1;
}

static void test_fts(void **state)
{
	struct ax_graph_hits h;
	char err[512];
	size_t i;

	(void)state;
	assert_int_equal(ax_graph_search_text(graph, tenant_a, "connection pool", AX_GRAPH_ALL, 10,
					      &h, err, sizeof(err)), AX_OK);
	/* The incident and the runbook both say "connection pool"; the
	 * incident has it in its title (weight A). */
	assert_true(h.n >= 2);
	assert_int_equal(h.v[0].kind, AX_GRAPH_ISSUE);
	assert_string_equal(h.v[0].id, "inc-101");
	assert_string_equal(h.v[0].type, "incident");
	assert_true(find(&h, AX_GRAPH_DOC, "rb-db") > 0);
	for (i = 0; i < h.n; i++) {
		assert_int_equal(h.v[i].fts_rank, (int)i + 1);
		assert_int_equal(h.v[i].vec_rank, 0);
		assert_true(h.v[i].fts_score > 0);
		if (i > 0)
			assert_true(h.v[i - 1].fts_score >= h.v[i].fts_score);
	}
	ax_graph_hits_release(&h);
	/* Items only: "redis" names the cache item. */
	assert_int_equal(ax_graph_search_text(graph, tenant_a, "redis", AX_GRAPH_ITEM, 10, &h, err,
					      sizeof(err)), AX_OK);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.v[0].id, "redis-cache");
	assert_string_equal(h.v[0].title, "Session Redis Cache");
	ax_graph_hits_release(&h);
	/* Web-search syntax: a phrase and an exclusion. */
	assert_int_equal(ax_graph_search_text(graph, tenant_a, "payments -database", AX_GRAPH_ITEM,
					      10, &h, err, sizeof(err)), AX_OK);
	assert_true(find(&h, AX_GRAPH_ITEM, "payments") >= 0);
	assert_int_equal(find(&h, AX_GRAPH_ITEM, "payments-db"), -1);
	ax_graph_hits_release(&h);
	/* Nothing searchable: no hits, not an error. */
	assert_int_equal(ax_graph_search_text(graph, tenant_a, "the of and", AX_GRAPH_ALL, 10, &h,
					      err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
}

static void test_vector(void **state)
{
	const cJSON *it;
	struct ax_graph_hits h;
	struct ax_graph_item extra = { "billing", "service", "Billing Ledger Service",
				       "{\"team\":\"finance\"}" };
	char err[512];
	size_t i;

	(void)state;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(fixture, "items")) {
		assert_int_equal(ax_graph_search_vector(graph, tenant_a, ax_json_str(it, "name"),
							AX_GRAPH_ITEM, 3, &h, err, sizeof(err)),
				 AX_OK);
		assert_int_equal(h.n, 3);
		if (strcmp(h.v[0].id, ax_json_str(it, "id")) != 0)
			fail_msg("vector search for '%s' ranked '%s' first",
				 ax_json_str(it, "name"), h.v[0].id);
		assert_string_equal(h.v[0].title, ax_json_str(it, "name"));
		for (i = 0; i < h.n; i++) {
			assert_int_equal(h.v[i].vec_rank, (int)i + 1);
			assert_int_equal(h.v[i].fts_rank, 0);
			assert_true(h.v[i].vec_score <= 1.0 + 1e-6);
			if (i > 0)
				assert_true(h.v[i - 1].vec_score >= h.v[i].vec_score);
		}
		ax_graph_hits_release(&h);
	}
	/* Issues by meaning-ish: words of the known error's body. */
	assert_int_equal(ax_graph_search_vector(graph, tenant_a, "users logged out when redis evicts "
						"sessions", AX_GRAPH_ISSUE, 2, &h, err,
						sizeof(err)), AX_OK);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.v[0].id, "ke-7");
	assert_string_equal(h.v[0].type, "known_error");
	ax_graph_hits_release(&h);
	/* A new item is found at once: the index refreshes from the stamps. */
	assert_int_equal(ax_graph_upsert_item(graph, tenant_a, &extra, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_graph_search_vector(graph, tenant_a, "billing ledger", AX_GRAPH_ITEM, 1,
						&h, err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.v[0].id, "billing");
	ax_graph_hits_release(&h);
	/* ... and a rename from another process (alexusctl) too. */
	{
		char *out;

		assert_int_equal(h_ctl(&out, "cmdb", "import", FIX "rename.json", "--tenant",
				     tenant_a, NULL), 0);
		free(out);
	}
	assert_int_equal(ax_graph_search_vector(graph, tenant_a, "Ledger of Accounts Receivable",
						AX_GRAPH_ITEM, 1, &h, err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.v[0].id, "billing");
	assert_string_equal(h.v[0].title, "Ledger of Accounts Receivable");
	ax_graph_hits_release(&h);
}

static void test_hybrid(void **state)
{
	static const char *const queries[] = {
		"payments connection pool",
		"redis session cache eviction",
		"kubernetes node",
	};
	struct ax_graph_hits hy, ft, vh;
	char err[512];
	size_t q, i;

	(void)state;
	for (q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
		assert_int_equal(ax_graph_search_hybrid(graph, tenant_a, queries[q], AX_GRAPH_ALL, 8,
							&hy, err, sizeof(err)), AX_OK);
		assert_int_equal(ax_graph_search_text(graph, tenant_a, queries[q], AX_GRAPH_ALL,
						      AX_GRAPH_HYBRID_DEPTH, &ft, err, sizeof(err)),
				 AX_OK);
		assert_int_equal(ax_graph_search_vector(graph, tenant_a, queries[q], AX_GRAPH_ALL,
							AX_GRAPH_HYBRID_DEPTH, &vh, err,
							sizeof(err)), AX_OK);
		assert_true(hy.n > 0 && hy.n <= 8);
		for (i = 0; i < hy.n; i++) {
			const struct ax_graph_hit *x = &hy.v[i];
			int f = find(&ft, x->kind, x->id), v = find(&vh, x->kind, x->id);
			double want = 0;

			assert_int_equal(x->fts_rank, f + 1);   /* 0 when absent */
			assert_int_equal(x->vec_rank, v + 1);
			assert_true(x->fts_rank > 0 || x->vec_rank > 0);
			if (f >= 0) {
				want += 1.0 / (AX_GRAPH_RRF_K + f + 1);
				assert_true(fabs(x->fts_score - ft.v[f].fts_score) < 1e-9);
			}
			if (v >= 0) {
				want += 1.0 / (AX_GRAPH_RRF_K + v + 1);
				assert_true(fabs(x->vec_score - vh.v[v].vec_score) < 1e-9);
			}
			assert_true(fabs(x->score - want) < 1e-12);
			if (i > 0)
				assert_true(hy.v[i - 1].score >= x->score);
		}
		/* Nothing with a better fused score was left out. */
		for (i = 0; i < ft.n; i++) {
			int v = find(&vh, ft.v[i].kind, ft.v[i].id);
			double s = 1.0 / (AX_GRAPH_RRF_K + i + 1) +
				   (v >= 0 ? 1.0 / (AX_GRAPH_RRF_K + v + 1) : 0);

			if (find(&hy, ft.v[i].kind, ft.v[i].id) < 0)
				assert_true(s <= hy.v[hy.n - 1].score + 1e-12);
		}
		ax_graph_hits_release(&hy);
		ax_graph_hits_release(&ft);
		ax_graph_hits_release(&vh);
	}
	/* The first query: the incident is in both rankings and wins. */
	assert_int_equal(ax_graph_search_hybrid(graph, tenant_a, queries[0], AX_GRAPH_ALL, 3, &hy,
						err, sizeof(err)), AX_OK);
	assert_string_equal(hy.v[0].id, "inc-101");
	assert_true(hy.v[0].fts_rank > 0 && hy.v[0].vec_rank > 0);
	ax_graph_hits_release(&hy);
}

/* ----------------------------------------------------------- isolation */

static void test_tenant_isolation(void **state)
{
	struct ax_graph_relation cross = { "mine", "depends_on", "payments-db" };
	struct ax_graph_item mine = { "mine", "service", "Payments Service copy", NULL };
	struct ax_graph_item same = { "payments-db", "database", "Tenant B Ledger Store", NULL };
	struct ax_graph_nodes nodes;
	struct ax_graph_hits h;
	char tenant_b[64], err[512];

	(void)state;
	h_tenant_new("graph-b", NULL, tenant_b);
	/* A has the item; for B it does not exist. */
	assert_int_equal(ax_graph_item_exists(graph, tenant_a, "payments-db", err, sizeof(err)),
			 AX_OK);
	assert_int_equal(ax_graph_item_exists(graph, tenant_b, "payments-db", err, sizeof(err)),
			 AX_ENOTFOUND);
	assert_int_equal(ax_graph_item_exists(graph, tenant_b, "", err, sizeof(err)), AX_EINVAL);
	assert_int_equal(ax_graph_blast_radius(graph, tenant_b, "payments-db", 3, AX_GRAPH_BOTH,
					       NULL, &nodes, err, sizeof(err)), AX_ENOTFOUND);
	assert_int_equal(ax_graph_search_text(graph, tenant_b, "payments", AX_GRAPH_ALL, 10, &h, err,
					      sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
	assert_int_equal(ax_graph_search_vector(graph, tenant_b, "Payments Service", AX_GRAPH_ALL,
						10, &h, err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
	assert_int_equal(ax_graph_search_hybrid(graph, tenant_b, "payments connection pool",
						AX_GRAPH_ALL, 10, &h, err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
	/* B's item, and an edge from it to A's item id: refused, B has none. */
	assert_int_equal(ax_graph_upsert_item(graph, tenant_b, &mine, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_graph_upsert_relation(graph, tenant_b, &cross, err, sizeof(err)),
			 AX_ENOTFOUND);
	assert_non_null(strstr(err, "no item 'payments-db'"));
	/* The same id in B is B's own row; A's is untouched. */
	assert_int_equal(ax_graph_upsert_item(graph, tenant_b, &same, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_graph_upsert_relation(graph, tenant_b, &cross, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_graph_blast_radius(graph, tenant_b, "payments-db", 3, AX_GRAPH_BOTH,
					       NULL, &nodes, err, sizeof(err)), AX_OK);
	assert_int_equal(nodes.n, 1);
	assert_string_equal(nodes.v[0].id, "mine");
	ax_graph_nodes_release(&nodes);
	assert_int_equal(ax_graph_search_vector(graph, tenant_b, "Payments Service", AX_GRAPH_ALL,
						10, &h, err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 2);   /* B's two items, nothing of A's */
	assert_true(find(&h, AX_GRAPH_ITEM, "mine") >= 0);
	assert_string_equal(h.v[find(&h, AX_GRAPH_ITEM, "payments-db")].title,
			    "Tenant B Ledger Store");
	ax_graph_hits_release(&h);
	/* A still sees its own payments-db and its own graph. */
	assert_int_equal(ax_graph_search_text(graph, tenant_a, "tenant ledger", AX_GRAPH_ALL, 10, &h,
					      err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
	check_blast("payments-db", AX_GRAPH_BOTH, 3, NULL);
	/* Invalid tenant ids never reach the database. */
	assert_int_equal(ax_graph_search_text(graph, "Bad Tenant", "x", AX_GRAPH_ALL, 10, &h, err,
					      sizeof(err)), AX_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_import_json),
		cmocka_unit_test(test_import_csv_same_graph),
		cmocka_unit_test(test_import_bad),
		cmocka_unit_test(test_blast_radius),
		cmocka_unit_test(test_neighbourhood),
		cmocka_unit_test(test_fts),
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_hybrid),
		cmocka_unit_test(test_tenant_isolation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
