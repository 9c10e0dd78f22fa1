/* itest_graph_conformance.c - one conformance suite over the graph-store
 * API (common/alexus/graph.h), run against every backend: Postgres always
 * (the test stack's), Neo4j 5 when NEO4J_URI points at a server (with
 * NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE as graph.c reads them);
 * without NEO4J_URI the Neo4j half is skipped, and says so.
 *
 * Only the API is used, in-process, local embedder, so both backends are
 * held to the very same answers.  The fixture is tests/fixtures/cmdb/
 * cmdb.json, written through ax_graph_upsert into a fresh tenant per
 * backend:
 *   - the first upsert counts every item, relation, Issue, link and
 *     document; the same batch again changes nothing (counts all 0);
 *   - a batch with a new item and an edge (or an Issue link) to an item
 *     that does not exist fails AX_ENOTFOUND naming it, and writes nothing:
 *     the new item is not there afterwards;
 *   - blast radius equals a breadth-first search over the fixture's
 *     relations for every item, direction and depth 1..3, at the depth
 *     cap through the cycle, and with a kinds filter; every path is a
 *     simple walk from the start along edges of the direction asked;
 *   - the neighbourhood with a fan-out above every degree is the blast
 *     radius; with a fan-out of 1 it is a subset, with at most one node
 *     per direction at depth 1;
 *   - full-text search: the query's words (stemmed: "connections" finds
 *     "connection"), an exclusion, items only, stop words only (no hits),
 *     ranks 1..n by non-increasing score;
 *   - vector search ranks each item first for its own name, and a renamed
 *     item is found under its new name with its new title;
 *   - hybrid search reports for every hit the ranks the single searches
 *     give and the fused score 1/(60+fts_rank) + 1/(60+vec_rank), and
 *     leaves out nothing that would have scored higher;
 *   - another tenant sees nothing of it in any call, cannot link to its
 *     items, and its own item with the same id is its own. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "alexus/embed.h"
#include "alexus/graph.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/mem.h"
#include "harness.h"

#define FIX "tests/fixtures/cmdb/"

static cJSON *fixture;
static struct ax_embedder *emb;

/* One backend under test (the group state). */
struct store {
	const char *backend;
	struct ax_graph *g;
	char tenant[64];     /* the fixture's tenant */
	char other[64];      /* a second tenant */
};

/* ----------------------------------------------------------- the fixture */

static int nlist(const char *name)
{
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(fixture, name));
}

/* The fixture as one batch (strings borrowed from the parsed JSON). */
struct fbatch {
	struct ax_graph_batch b;
	struct ax_graph_item *items;
	struct ax_graph_relation *rels;
	struct ax_graph_issue *issues;
	struct ax_graph_doc *docs;
	char **attrs;
	size_t nlinks;
};

static void fixture_batch(struct fbatch *f)
{
	const cJSON *x, *l;
	size_t i = 0, j;

	memset(f, 0, sizeof(*f));
	f->items = ax_xcalloc((size_t)nlist("items"), sizeof(*f->items));
	f->attrs = ax_xcalloc((size_t)nlist("items"), sizeof(*f->attrs));
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(fixture, "items")) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(x, "attributes");

		f->attrs[i] = a ? cJSON_PrintUnformatted(a) : NULL;
		f->items[i] = (struct ax_graph_item){ ax_json_str(x, "id"), ax_json_str(x, "type"),
						      ax_json_str(x, "name"), f->attrs[i] };
		i++;
	}
	f->b.items = f->items;
	f->b.nitems = i;
	i = 0;
	f->rels = ax_xcalloc((size_t)nlist("relations"), sizeof(*f->rels));
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(fixture, "relations"))
		f->rels[i++] = (struct ax_graph_relation){ ax_json_str(x, "from"),
							   ax_json_str(x, "kind"),
							   ax_json_str(x, "to") };
	f->b.relations = f->rels;
	f->b.nrelations = i;
	i = 0;
	f->issues = ax_xcalloc((size_t)nlist("issues"), sizeof(*f->issues));
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(fixture, "issues")) {
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(x, "items");
		const char **ids = ax_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(*ids));

		j = 0;
		cJSON_ArrayForEach(l, items)
			ids[j++] = l->valuestring;
		f->nlinks += j;
		f->issues[i++] = (struct ax_graph_issue){ ax_json_str(x, "id"), ax_json_str(x, "kind"),
							  ax_json_str(x, "title"),
							  ax_json_str(x, "body"),
							  ax_json_str(x, "fix"), ids, j };
	}
	f->b.issues = f->issues;
	f->b.nissues = i;
	i = 0;
	f->docs = ax_xcalloc((size_t)nlist("docs"), sizeof(*f->docs));
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(fixture, "docs"))
		f->docs[i++] = (struct ax_graph_doc){ ax_json_str(x, "id"), ax_json_str(x, "title"),
						      ax_json_str(x, "body"),
						      ax_json_str(x, "source") };
	f->b.docs = f->docs;
	f->b.ndocs = i;
}

static void fixture_release(struct fbatch *f)
{
	size_t i;

	for (i = 0; i < f->b.nitems; i++)
		cJSON_free(f->attrs[i]);
	for (i = 0; i < f->b.nissues; i++)
		free((void *)f->issues[i].items);
	free(f->attrs);
	free(f->items);
	free(f->rels);
	free(f->issues);
	free(f->docs);
}

/* ----------------------------------------------------------- setup */

static int setup(void **state, const char *backend)
{
	struct ax_graph_config c = { 0 };
	struct store *s = ax_xcalloc(1, sizeof(*s));
	char err[512];

	c.backend = backend;
	c.database_url = h_env("ALEXUS_DATABASE_URL");
	s->backend = backend;
	s->g = ax_graph_open(&c, emb, err, sizeof(err));
	if (s->g == NULL) {
		fprintf(stderr, "%s: %s\n", backend, err);
		free(s);
		return -1;
	}
	h_tenant_new("conf-a", NULL, s->tenant);
	h_tenant_new("conf-b", NULL, s->other);
	*state = s;
	return 0;
}

static int setup_pg(void **state)
{
	return setup(state, "postgres");
}

static int setup_neo4j(void **state)
{
	return setup(state, "neo4j");
}

static int teardown(void **state)
{
	struct store *s = *state;

	ax_graph_close(s->g);
	free(s);
	return 0;
}

/* ----------------------------------------------------------- upsert */

static void test_upsert(void **state)
{
	struct store *s = *state;
	struct ax_graph_counts n;
	struct fbatch f;
	char err[512];

	fixture_batch(&f);
	if (ax_graph_upsert(s->g, s->tenant, &f.b, &n, err, sizeof(err)) != AX_OK)
		fail_msg("%s: upsert: %s", s->backend, err);
	assert_int_equal(n.items, (size_t)nlist("items"));
	assert_int_equal(n.relations, (size_t)nlist("relations"));
	assert_int_equal(n.issues, (size_t)nlist("issues"));
	assert_int_equal(n.links, f.nlinks);
	assert_int_equal(n.docs, (size_t)nlist("docs"));
	/* The same batch again: nothing changed. */
	assert_int_equal(ax_graph_upsert(s->g, s->tenant, &f.b, &n, err, sizeof(err)), AX_OK);
	assert_int_equal(n.items + n.relations + n.issues + n.links + n.docs, 0);
	fixture_release(&f);
	assert_int_equal(ax_graph_item_exists(s->g, s->tenant, "payments-db", err, sizeof(err)),
			 AX_OK);
	assert_int_equal(ax_graph_item_exists(s->g, s->tenant, "nope", err, sizeof(err)),
			 AX_ENOTFOUND);
}

/* Nothing is written after an error. */
static void test_upsert_atomic(void **state)
{
	struct store *s = *state;
	struct ax_graph_item fresh = { "fresh-svc", "service", "Fresh Service", NULL };
	struct ax_graph_relation bad = { "fresh-svc", "depends_on", "ghost" };
	const char *ghost[] = { "checkout", "ghost" };
	struct ax_graph_issue is = { "inc-9", "incident", "Ghost outage", NULL, NULL, ghost, 2 };
	struct ax_graph_batch b1 = { &fresh, 1, &bad, 1, NULL, 0, NULL, 0 };
	struct ax_graph_batch b2 = { &fresh, 1, NULL, 0, &is, 1, NULL, 0 };
	struct ax_graph_counts n;
	char err[512];

	assert_int_equal(ax_graph_upsert(s->g, s->tenant, &b1, &n, err, sizeof(err)), AX_ENOTFOUND);
	assert_string_equal(err, "relation 'fresh-svc' depends_on 'ghost': no item 'ghost'");
	assert_int_equal(n.items, 0);
	assert_int_equal(ax_graph_item_exists(s->g, s->tenant, "fresh-svc", err, sizeof(err)),
			 AX_ENOTFOUND);
	assert_int_equal(ax_graph_upsert(s->g, s->tenant, &b2, &n, err, sizeof(err)), AX_ENOTFOUND);
	assert_string_equal(err, "issue 'inc-9': no item 'ghost'");
	assert_int_equal(ax_graph_item_exists(s->g, s->tenant, "fresh-svc", err, sizeof(err)),
			 AX_ENOTFOUND);
	/* Invalid input never reaches the store, whatever the backend. */
	fresh.type = "Not A Type";
	assert_int_equal(ax_graph_upsert_item(s->g, s->tenant, &fresh, err, sizeof(err)), AX_EINVAL);
}

/* ----------------------------------------------------------- traversal */

struct want {
	char id[64];
	int depth;
};

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

static void check_blast(struct store *s, const char *start, int dir, int depth, const char *kind)
{
	static struct want w[256];
	const char *kinds[2] = { kind, NULL };
	struct ax_graph_nodes out;
	char err[512];
	int n = bfs(start, dir, depth, kind, w), i;
	size_t j, p;

	if (ax_graph_blast_radius(s->g, s->tenant, start, depth, dir, kind ? kinds : NULL, &out,
				  err, sizeof(err)) != AX_OK)
		fail_msg("%s: blast radius %s: %s", s->backend, start, err);
	if (out.n != (size_t)(n - 1))
		fail_msg("%s: blast radius %s dir %d depth %d: %zu nodes, want %d", s->backend,
			 start, dir, depth, out.n, n - 1);
	for (i = 1; i < n; i++) {
		for (j = 0; j < out.n; j++)
			if (strcmp(out.v[j].id, w[i].id) == 0)
				break;
		if (j == out.n)
			fail_msg("%s: blast radius %s: missing %s", s->backend, start, w[i].id);
		assert_int_equal(out.v[j].depth, w[i].depth);
	}
	for (j = 0; j < out.n; j++) {
		const struct ax_graph_node *x = &out.v[j];

		assert_int_equal(x->npath, (size_t)x->depth + 1);
		assert_string_equal(x->path[0], start);
		assert_string_equal(x->path[x->npath - 1], x->id);
		for (p = 1; p < x->npath; p++) {
			size_t q;

			assert_true(edge(x->path[p - 1], x->path[p], dir));
			for (q = 0; q < p; q++)
				assert_true(strcmp(x->path[q], x->path[p]) != 0);
		}
		if (j > 0)
			assert_true(out.v[j - 1].depth < x->depth ||
				    (out.v[j - 1].depth == x->depth &&
				     strcmp(out.v[j - 1].id, x->id) < 0));
		assert_true(x->name[0] != '\0' && x->type[0] != '\0' && x->via[0] != '\0');
		if (kind != NULL)
			assert_string_equal(x->via, kind);
	}
	ax_graph_nodes_release(&out);
}

static void test_blast_radius(void **state)
{
	struct store *s = *state;
	struct ax_graph_nodes out;
	const cJSON *it;
	char err[512];
	int depth;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(fixture, "items"))
		for (depth = 1; depth <= 3; depth++) {
			check_blast(s, ax_json_str(it, "id"), AX_GRAPH_IN, depth, NULL);
			check_blast(s, ax_json_str(it, "id"), AX_GRAPH_OUT, depth, NULL);
			check_blast(s, ax_json_str(it, "id"), AX_GRAPH_BOTH, depth, NULL);
		}
	check_blast(s, "web", AX_GRAPH_OUT, AX_GRAPH_DEPTH_MAX, NULL);
	check_blast(s, "payments-db", AX_GRAPH_BOTH, AX_GRAPH_DEPTH_MAX, NULL);
	check_blast(s, "node-2", AX_GRAPH_IN, 3, "runs_on");
	check_blast(s, "checkout", AX_GRAPH_OUT, 2, "depends_on");
	assert_int_equal(ax_graph_blast_radius(s->g, s->tenant, "no-such-item", 2, AX_GRAPH_OUT,
					       NULL, &out, err, sizeof(err)), AX_ENOTFOUND);
	assert_int_equal(out.n, 0);
	assert_int_equal(ax_graph_blast_radius(s->g, s->tenant, "web", AX_GRAPH_DEPTH_MAX + 1,
					       AX_GRAPH_OUT, NULL, &out, err, sizeof(err)),
			 AX_EINVAL);
}

static void test_neighbourhood(void **state)
{
	struct store *s = *state;
	struct ax_graph_nodes all, nb;
	const cJSON *it;
	char err[512];
	size_t i, j;
	int capped = 0;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(fixture, "items")) {
		const char *id = ax_json_str(it, "id");

		assert_int_equal(ax_graph_blast_radius(s->g, s->tenant, id, 2, AX_GRAPH_BOTH, NULL,
						       &all, err, sizeof(err)), AX_OK);
		if (ax_graph_neighbourhood(s->g, s->tenant, id, 2, 1000, &nb, err, sizeof(err)))
			fail_msg("%s: neighbourhood %s: %s", s->backend, id, err);
		assert_int_equal(nb.n, all.n);
		for (i = 0; i < nb.n; i++)
			assert_string_equal(nb.v[i].id, all.v[i].id);
		ax_graph_nodes_release(&nb);
		assert_int_equal(ax_graph_neighbourhood(s->g, s->tenant, id, 2, 1, &nb, err,
							sizeof(err)), AX_OK);
		assert_true(nb.n <= all.n);
		for (i = 0; i < nb.n; i++) {
			int found = 0;

			for (j = 0; j < all.n && !found; j++)
				found = strcmp(nb.v[i].id, all.v[j].id) == 0;
			assert_true(found);
		}
		for (i = 0, j = 0; i < nb.n; i++)
			j += nb.v[i].depth == 1;
		assert_true(j <= 2);
		capped += nb.n < all.n;
		ax_graph_nodes_release(&nb);
		ax_graph_nodes_release(&all);
	}
	assert_true(capped > 0);
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
	struct store *s = *state;
	struct ax_graph_hits h;
	char err[512];
	size_t i;

	if (ax_graph_search_text(s->g, s->tenant, "connections pool", AX_GRAPH_ALL, 10, &h, err,
				 sizeof(err)))
		fail_msg("%s: search: %s", s->backend, err);
	assert_true(find(&h, AX_GRAPH_ISSUE, "inc-101") >= 0);
	assert_true(find(&h, AX_GRAPH_DOC, "rb-db") >= 0);
	assert_string_equal(h.v[find(&h, AX_GRAPH_ISSUE, "inc-101")].type, "incident");
	assert_string_equal(h.v[find(&h, AX_GRAPH_DOC, "rb-db")].type, "doc");
	for (i = 0; i < h.n; i++) {
		assert_int_equal(h.v[i].fts_rank, (int)i + 1);
		assert_int_equal(h.v[i].vec_rank, 0);
		assert_true(h.v[i].fts_score > 0);
		if (i > 0)
			assert_true(h.v[i - 1].fts_score >= h.v[i].fts_score);
	}
	ax_graph_hits_release(&h);
	assert_int_equal(ax_graph_search_text(s->g, s->tenant, "redis", AX_GRAPH_ITEM, 10, &h, err,
					      sizeof(err)), AX_OK);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.v[0].id, "redis-cache");
	assert_string_equal(h.v[0].title, "Session Redis Cache");
	assert_string_equal(h.v[0].type, "cache");
	ax_graph_hits_release(&h);
	assert_int_equal(ax_graph_search_text(s->g, s->tenant, "payments -database", AX_GRAPH_ITEM,
					      10, &h, err, sizeof(err)), AX_OK);
	assert_true(find(&h, AX_GRAPH_ITEM, "payments") >= 0);
	assert_int_equal(find(&h, AX_GRAPH_ITEM, "payments-db"), -1);
	ax_graph_hits_release(&h);
	assert_int_equal(ax_graph_search_text(s->g, s->tenant, "the of and", AX_GRAPH_ALL, 10, &h,
					      err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
}

static void test_vector(void **state)
{
	struct store *s = *state;
	struct ax_graph_item extra = { "billing", "service", "Billing Ledger Service", NULL };
	struct ax_graph_hits h;
	const cJSON *it;
	char err[512];
	size_t i;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(fixture, "items")) {
		if (ax_graph_search_vector(s->g, s->tenant, ax_json_str(it, "name"), AX_GRAPH_ITEM, 3,
					   &h, err, sizeof(err)))
			fail_msg("%s: vector: %s", s->backend, err);
		assert_int_equal(h.n, 3);
		if (strcmp(h.v[0].id, ax_json_str(it, "id")) != 0)
			fail_msg("%s: vector search for '%s' ranked '%s' first", s->backend,
				 ax_json_str(it, "name"), h.v[0].id);
		assert_string_equal(h.v[0].title, ax_json_str(it, "name"));
		for (i = 0; i < h.n; i++) {
			assert_int_equal(h.v[i].vec_rank, (int)i + 1);
			assert_int_equal(h.v[i].fts_rank, 0);
			assert_true(h.v[i].vec_score <= 1.0 + 1e-6 && h.v[i].vec_score >= -1.0 - 1e-6);
			if (i > 0)
				assert_true(h.v[i - 1].vec_score >= h.v[i].vec_score);
		}
		ax_graph_hits_release(&h);
	}
	assert_int_equal(ax_graph_search_vector(s->g, s->tenant, "users logged out when redis "
						"evicts sessions", AX_GRAPH_ISSUE, 2, &h, err,
						sizeof(err)), AX_OK);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.v[0].id, "ke-7");
	assert_string_equal(h.v[0].type, "known_error");
	ax_graph_hits_release(&h);
	/* A new item, then renamed: found under each name at once. */
	assert_int_equal(ax_graph_upsert_item(s->g, s->tenant, &extra, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_graph_search_vector(s->g, s->tenant, "billing ledger", AX_GRAPH_ITEM, 1,
						&h, err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.v[0].id, "billing");
	ax_graph_hits_release(&h);
	extra.name = "Ledger of Accounts Receivable";
	assert_int_equal(ax_graph_upsert_item(s->g, s->tenant, &extra, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_graph_search_vector(s->g, s->tenant, "Ledger of Accounts Receivable",
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
	struct store *s = *state;
	struct ax_graph_hits hy, ft, vh;
	char err[512];
	size_t q, i;

	for (q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
		if (ax_graph_search_hybrid(s->g, s->tenant, queries[q], AX_GRAPH_ALL, 8, &hy, err,
					   sizeof(err)))
			fail_msg("%s: hybrid: %s", s->backend, err);
		assert_int_equal(ax_graph_search_text(s->g, s->tenant, queries[q], AX_GRAPH_ALL,
						      AX_GRAPH_HYBRID_DEPTH, &ft, err, sizeof(err)),
				 AX_OK);
		assert_int_equal(ax_graph_search_vector(s->g, s->tenant, queries[q], AX_GRAPH_ALL,
							AX_GRAPH_HYBRID_DEPTH, &vh, err,
							sizeof(err)), AX_OK);
		assert_true(hy.n > 0 && hy.n <= 8);
		for (i = 0; i < hy.n; i++) {
			const struct ax_graph_hit *x = &hy.v[i];
			int f = find(&ft, x->kind, x->id), v = find(&vh, x->kind, x->id);
			double want = 0;

			assert_int_equal(x->fts_rank, f + 1);
			assert_int_equal(x->vec_rank, v + 1);
			if (f >= 0)
				want += 1.0 / (AX_GRAPH_RRF_K + f + 1);
			if (v >= 0)
				want += 1.0 / (AX_GRAPH_RRF_K + v + 1);
			assert_true(fabs(x->score - want) < 1e-12);
			if (i > 0)
				assert_true(hy.v[i - 1].score >= x->score);
		}
		for (i = 0; i < ft.n; i++) {
			int v = find(&vh, ft.v[i].kind, ft.v[i].id);
			double sc = 1.0 / (AX_GRAPH_RRF_K + i + 1) +
				    (v >= 0 ? 1.0 / (AX_GRAPH_RRF_K + v + 1) : 0);

			if (find(&hy, ft.v[i].kind, ft.v[i].id) < 0)
				assert_true(sc <= hy.v[hy.n - 1].score + 1e-12);
		}
		ax_graph_hits_release(&hy);
		ax_graph_hits_release(&ft);
		ax_graph_hits_release(&vh);
	}
	assert_int_equal(ax_graph_search_hybrid(s->g, s->tenant, queries[0], AX_GRAPH_ALL, 3, &hy,
						err, sizeof(err)), AX_OK);
	assert_string_equal(hy.v[0].id, "inc-101");
	assert_true(hy.v[0].fts_rank > 0 && hy.v[0].vec_rank > 0);
	ax_graph_hits_release(&hy);
}

/* ----------------------------------------------------------- isolation */

static void test_tenant_isolation(void **state)
{
	struct store *s = *state;
	struct ax_graph_relation cross = { "mine", "depends_on", "payments-db" };
	struct ax_graph_item mine = { "mine", "service", "Payments Service copy", NULL };
	struct ax_graph_item same = { "payments-db", "database", "Tenant B Ledger Store", NULL };
	struct ax_graph_nodes nodes;
	struct ax_graph_hits h;
	char err[512];

	assert_int_equal(ax_graph_item_exists(s->g, s->other, "payments-db", err, sizeof(err)),
			 AX_ENOTFOUND);
	assert_int_equal(ax_graph_blast_radius(s->g, s->other, "payments-db", 3, AX_GRAPH_BOTH,
					       NULL, &nodes, err, sizeof(err)), AX_ENOTFOUND);
	assert_int_equal(ax_graph_search_text(s->g, s->other, "payments", AX_GRAPH_ALL, 10, &h, err,
					      sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
	assert_int_equal(ax_graph_search_vector(s->g, s->other, "Payments Service", AX_GRAPH_ALL, 10,
						&h, err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
	assert_int_equal(ax_graph_search_hybrid(s->g, s->other, "payments connection pool",
						AX_GRAPH_ALL, 10, &h, err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
	assert_int_equal(ax_graph_upsert_item(s->g, s->other, &mine, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_graph_upsert_relation(s->g, s->other, &cross, err, sizeof(err)),
			 AX_ENOTFOUND);
	assert_string_equal(err, "relation 'mine' depends_on 'payments-db': no item 'payments-db'");
	assert_int_equal(ax_graph_upsert_item(s->g, s->other, &same, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_graph_upsert_relation(s->g, s->other, &cross, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_graph_blast_radius(s->g, s->other, "payments-db", 3, AX_GRAPH_BOTH, NULL,
					       &nodes, err, sizeof(err)), AX_OK);
	assert_int_equal(nodes.n, 1);
	assert_string_equal(nodes.v[0].id, "mine");
	ax_graph_nodes_release(&nodes);
	assert_int_equal(ax_graph_search_vector(s->g, s->other, "Payments Service", AX_GRAPH_ALL, 10,
						&h, err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.v[find(&h, AX_GRAPH_ITEM, "payments-db")].title,
			    "Tenant B Ledger Store");
	ax_graph_hits_release(&h);
	assert_int_equal(ax_graph_search_text(s->g, s->other, "ledger", AX_GRAPH_ALL, 10, &h, err,
					      sizeof(err)), AX_OK);
	assert_int_equal(h.n, 1);
	ax_graph_hits_release(&h);
	/* The first tenant: untouched. */
	assert_int_equal(ax_graph_search_text(s->g, s->tenant, "tenant ledger store", AX_GRAPH_ALL,
					      10, &h, err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
	check_blast(s, "payments-db", AX_GRAPH_BOTH, 3, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upsert),
		cmocka_unit_test(test_upsert_atomic),
		cmocka_unit_test(test_blast_radius),
		cmocka_unit_test(test_neighbourhood),
		cmocka_unit_test(test_fts),
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_hybrid),
		cmocka_unit_test(test_tenant_isolation),
	};
	const char *uri = getenv("NEO4J_URI");
	char err[512];
	size_t len;
	char *buf;
	int failed = 0;

	unsetenv("ALEXUS_EMBED_URL");
	ax_hash_init();
	buf = h_read_file(FIX "cmdb.json", &len);
	fixture = ax_json_parse(buf, len, 64);
	free(buf);
	emb = ax_embedder_from_env(err, sizeof(err));
	if (fixture == NULL || emb == NULL) {
		fprintf(stderr, "setup: %s\n", fixture ? err : "bad fixture");
		return 1;
	}
	failed += cmocka_run_group_tests_name("postgres", tests, setup_pg, teardown);
	if (uri != NULL && uri[0] != '\0')
		failed += cmocka_run_group_tests_name("neo4j", tests, setup_neo4j, teardown);
	else
		printf("SKIP neo4j: NEO4J_URI is not set; the same suite runs against a Neo4j 5 "
		       "server with NEO4J_URI (and NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE)\n");
	ax_embedder_free(emb);
	cJSON_Delete(fixture);
	return failed != 0;
}
