/* graph.c - the graph store's backend-neutral half (see graph.h).
 *
 * Design: a struct ax_graph is a backend's ops table and state plus the
 * embedder.  Everything every backend would otherwise repeat is here:
 * argument validation (so a backend sees only well-formed ids, kinds and
 * bounds, and errors name the offending entry the same way for every
 * backend), turning items, Issues and documents into texts and embedding
 * them before the backend opens its transaction (an embeddings endpoint
 * can take seconds; no lock should wait on it), embedding queries, and
 * hybrid search.
 *
 * Hybrid search is reciprocal rank fusion (Cormack, Clarke and Buettcher,
 * SIGIR 2009): each document scores sum 1 / (k + rank) over the rankings
 * it appears in, with k = 60.  RRF needs no score normalisation, which is
 * the point: ts_rank and cosine similarity live on unrelated scales.  Each
 * ranking is fetched deeper than the k asked for (AX_GRAPH_HYBRID_DEPTH)
 * so a document ranked moderately by both can overtake one ranked first by
 * only one.  A backend that can run both rankings at once (search_both:
 * Postgres ranks full text in the server while vectors are scanned here)
 * is asked for them together.
 *
 * ALEXUS_GRAPH_CACHE_MB (the cap of the Postgres backend's process-wide
 * vector cache, graph.h) is read here when a store is opened, like
 * ALEXUS_GRAPH, so every program that opens a store honours it.  The Neo4j
 * backend's settings (NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD,
 * NEO4J_DATABASE) are read the same way, with getenv and not through
 * config.c: the store is opened by library code in every daemon and by
 * alexusctl alike, and none of them should have to carry graph settings
 * through its own configuration to get the same store. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alexus/graph.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/mem.h"

struct ax_graph {
	const struct ax_graph_ops *ops;
	void *be;
	struct ax_embedder *emb;   /* borrowed */
};

static const struct ax_graph_ops *const backends[] = {
	&ax_graph_pg_ops,
	&ax_graph_neo4j_ops,
};

/* ---------------------------------------------------------------- release */

void ax_graph_nodes_release(struct ax_graph_nodes *n)
{
	size_t i, j;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++) {
		struct ax_graph_node *x = &n->v[i];

		free(x->id);
		free(x->type);
		free(x->name);
		free(x->via);
		for (j = 0; j < x->npath; j++)
			free(x->path[j]);
		free(x->path);
	}
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

static void hit_free(struct ax_graph_hit *h)
{
	free(h->id);
	free(h->title);
	free(h->type);
}

void ax_graph_hits_release(struct ax_graph_hits *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++)
		hit_free(&h->v[i]);
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

/* ---------------------------------------------------------------- open */

struct ax_graph *ax_graph_open(const struct ax_graph_config *c, struct ax_embedder *e,
			       char *errbuf, size_t errlen)
{
	const char *name = c != NULL && c->backend != NULL && c->backend[0] != '\0' ? c->backend
										 : "postgres";
	const struct ax_graph_ops *ops = NULL;
	struct ax_graph_config conf;
	struct ax_graph *g;
	size_t i;
	void *be;

	if (e == NULL) {
		ax_errfmt(errbuf, errlen, "graph: no embedder");
		return NULL;
	}
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			ops = backends[i];
	if (ops == NULL) {
		ax_errfmt(errbuf, errlen, "graph: unknown backend '%s' (known: postgres, neo4j)",
			  name);
		return NULL;
	}
	memset(&conf, 0, sizeof(conf));
	if (c != NULL)
		conf = *c;
	if (conf.cache_bytes == 0) {
		const char *mb = getenv("ALEXUS_GRAPH_CACHE_MB");
		char *end;
		long v = AX_GRAPH_CACHE_MB;

		if (mb != NULL && *mb != '\0') {
			errno = 0;
			v = strtol(mb, &end, 10);
			if (errno != 0 || *end != '\0' || v < 1 || v > AX_GRAPH_CACHE_MB_MAX) {
				ax_errfmt(errbuf, errlen, "graph: ALEXUS_GRAPH_CACHE_MB must be an "
					  "integer 1..%d (MiB), not '%s'", AX_GRAPH_CACHE_MB_MAX,
					  mb);
				return NULL;
			}
		}
		conf.cache_bytes = (size_t)v * 1024 * 1024;
	}
	if (conf.neo4j_uri == NULL)
		conf.neo4j_uri = getenv("NEO4J_URI");
	if (conf.neo4j_user == NULL)
		conf.neo4j_user = getenv("NEO4J_USER");
	if (conf.neo4j_password == NULL)
		conf.neo4j_password = getenv("NEO4J_PASSWORD");
	if (conf.neo4j_database == NULL)
		conf.neo4j_database = getenv("NEO4J_DATABASE");
	be = ops->open(&conf, ax_embedder_name(e), errbuf, errlen);
	if (be == NULL)
		return NULL;
	g = ax_xcalloc(1, sizeof(*g));
	g->ops = ops;
	g->be = be;
	g->emb = e;
	return g;
}

struct ax_graph *ax_graph_open_env(const char *database_url, struct ax_embedder *e, char *errbuf,
				   size_t errlen)
{
	struct ax_graph_config c;

	memset(&c, 0, sizeof(c));
	c.backend = getenv("ALEXUS_GRAPH");
	c.database_url = database_url;
	return ax_graph_open(&c, e, errbuf, errlen);
}

void ax_graph_close(struct ax_graph *g)
{
	if (g == NULL)
		return;
	g->ops->close(g->be);
	free(g);
}

const char *ax_graph_backend(const struct ax_graph *g)
{
	return g->ops->name;
}

/* ---------------------------------------------------------------- validation */

static int id_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > 256)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* [first][rest]{0,max-1} with first and rest as sets of characters. */
static int word_ok(const char *s, const char *first, const char *rest, size_t max)
{
	size_t n;

	if (s == NULL || *s == '\0' || strchr(first, *s) == NULL)
		return 0;
	n = strlen(s);
	return n <= max && strspn(s, rest) == n;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define DIGIT "0123456789"

static int type_ok(const char *s)
{
	return word_ok(s, LOWER DIGIT, LOWER DIGIT "_.-", 63);
}

static int kind_ok(const char *s)
{
	return word_ok(s, LOWER, LOWER DIGIT "_", 63);
}

static int text_ok(const char *s)
{
	return s != NULL && *s != '\0' && strlen(s) <= 1024;
}

static ax_err check_tenant(const char *tenant, char *errbuf, size_t errlen)
{
	if (tenant == NULL || !ax_tenant_valid(tenant)) {
		ax_errfmt(errbuf, errlen, "graph: invalid tenant id");
		return AX_EINVAL;
	}
	return AX_OK;
}

static ax_err check_batch(const struct ax_graph_batch *b, char *errbuf, size_t errlen)
{
	size_t i, j;

	for (i = 0; i < b->nitems; i++) {
		const struct ax_graph_item *it = &b->items[i];

		if (!id_ok(it->id))
			return ax_errfmt(errbuf, errlen, "item #%zu: id must be 1..256 characters "
				     "without control characters", i + 1), AX_EINVAL;
		if (!type_ok(it->type))
			return ax_errfmt(errbuf, errlen, "item '%s': type '%s' must be lower case "
				     "[a-z0-9][a-z0-9_.-], at most 63", it->id,
				     it->type ? it->type : ""), AX_EINVAL;
		if (!text_ok(it->name))
			return ax_errfmt(errbuf, errlen, "item '%s': name must be 1..1024 bytes",
				     it->id), AX_EINVAL;
		if (it->attributes != NULL) {
			cJSON *a = ax_json_parse(it->attributes, strlen(it->attributes), 16);
			int obj = cJSON_IsObject(a);

			cJSON_Delete(a);
			if (!obj)
				return ax_errfmt(errbuf, errlen, "item '%s': attributes must be a "
					     "JSON object", it->id), AX_EINVAL;
		}
	}
	for (i = 0; i < b->nrelations; i++) {
		const struct ax_graph_relation *r = &b->relations[i];

		if (!id_ok(r->from) || !id_ok(r->to))
			return ax_errfmt(errbuf, errlen, "relation #%zu: from and to must be item ids",
				     i + 1), AX_EINVAL;
		if (!kind_ok(r->kind))
			return ax_errfmt(errbuf, errlen, "relation '%s' -> '%s': kind '%s' must be "
				     "lower case [a-z][a-z0-9_], at most 63", r->from, r->to,
				     r->kind ? r->kind : ""), AX_EINVAL;
		if (strcmp(r->from, r->to) == 0)
			return ax_errfmt(errbuf, errlen, "relation '%s' %s '%s': an item cannot "
				     "relate to itself", r->from, r->kind, r->to), AX_EINVAL;
	}
	for (i = 0; i < b->nissues; i++) {
		const struct ax_graph_issue *is = &b->issues[i];

		if (!id_ok(is->id))
			return ax_errfmt(errbuf, errlen, "issue #%zu: bad id", i + 1), AX_EINVAL;
		if (is->kind == NULL ||
		    (strcmp(is->kind, "incident") != 0 && strcmp(is->kind, "known_error") != 0))
			return ax_errfmt(errbuf, errlen, "issue '%s': kind must be incident or "
				     "known_error", is->id), AX_EINVAL;
		if (!text_ok(is->title))
			return ax_errfmt(errbuf, errlen, "issue '%s': title must be 1..1024 bytes",
				     is->id), AX_EINVAL;
		for (j = 0; j < is->nitems; j++)
			if (!id_ok(is->items[j]))
				return ax_errfmt(errbuf, errlen, "issue '%s': item #%zu is not an "
					     "item id", is->id, j + 1), AX_EINVAL;
	}
	for (i = 0; i < b->ndocs; i++) {
		const struct ax_graph_doc *d = &b->docs[i];

		if (!id_ok(d->id))
			return ax_errfmt(errbuf, errlen, "doc #%zu: bad id", i + 1), AX_EINVAL;
		if (!text_ok(d->title))
			return ax_errfmt(errbuf, errlen, "doc '%s': title must be 1..1024 bytes",
				     d->id), AX_EINVAL;
	}
	return AX_OK;
}

/* ---------------------------------------------------------------- upsert */

/* The text an item is embedded as: its name, its type, then its
 * attributes as "key value" pairs (strings and numbers), so that "team
 * payments" or "region eu-west-1" can match. */
static char *item_text(const struct ax_graph_item *it)
{
	char *s = ax_xasprintf("%s\n%s", it->name, it->type), *t;
	cJSON *a = it->attributes ? ax_json_parse(it->attributes, strlen(it->attributes), 16) : NULL;
	const cJSON *x;

	cJSON_ArrayForEach(x, a) {
		if (cJSON_IsString(x))
			t = ax_xasprintf("%s\n%s %s", s, x->string, x->valuestring);
		else if (cJSON_IsNumber(x))
			t = ax_xasprintf("%s\n%s %g", s, x->string, x->valuedouble);
		else
			continue;
		free(s);
		s = t;
	}
	cJSON_Delete(a);
	for (t = s; *t != '\0'; t++)
		if (*t == '_')
			*t = ' ';
	return s;
}

ax_err ax_graph_upsert(struct ax_graph *g, const char *tenant, const struct ax_graph_batch *b,
		       struct ax_graph_counts *counts, char *errbuf, size_t errlen)
{
	struct ax_graph_counts scratch;
	size_t n, i, at = 0;
	char **texts;
	float *vectors;
	ax_err rc;

	if (counts == NULL)
		counts = &scratch;
	memset(counts, 0, sizeof(*counts));
	rc = check_tenant(tenant, errbuf, errlen);
	if (rc == AX_OK)
		rc = check_batch(b, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	n = b->nitems + b->nissues + b->ndocs;
	texts = ax_xcalloc(n ? n : 1, sizeof(*texts));
	for (i = 0; i < b->nitems; i++)
		texts[at++] = item_text(&b->items[i]);
	for (i = 0; i < b->nissues; i++)
		texts[at++] = ax_xasprintf("%s\n%s\n%s", b->issues[i].title,
					   b->issues[i].body ? b->issues[i].body : "",
					   b->issues[i].fix ? b->issues[i].fix : "");
	for (i = 0; i < b->ndocs; i++)
		texts[at++] = ax_xasprintf("%s\n%s", b->docs[i].title,
					   b->docs[i].body ? b->docs[i].body : "");
	vectors = ax_xmalloc((n ? n : 1) * AX_EMBED_DIM * sizeof(float));
	rc = ax_embed(g->emb, (const char *const *)texts, n, vectors, errbuf, errlen);
	for (i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	if (rc == AX_OK)
		rc = g->ops->upsert(g->be, tenant, b, vectors, counts, errbuf, errlen);
	free(vectors);
	if (rc != AX_OK)
		memset(counts, 0, sizeof(*counts));
	return rc;
}

ax_err ax_graph_upsert_item(struct ax_graph *g, const char *tenant, const struct ax_graph_item *it,
			    char *errbuf, size_t errlen)
{
	struct ax_graph_batch b = { .items = it, .nitems = 1 };

	return ax_graph_upsert(g, tenant, &b, NULL, errbuf, errlen);
}

ax_err ax_graph_upsert_relation(struct ax_graph *g, const char *tenant,
				const struct ax_graph_relation *r, char *errbuf, size_t errlen)
{
	struct ax_graph_batch b = { .relations = r, .nrelations = 1 };

	return ax_graph_upsert(g, tenant, &b, NULL, errbuf, errlen);
}

ax_err ax_graph_upsert_issue(struct ax_graph *g, const char *tenant,
			     const struct ax_graph_issue *is, char *errbuf, size_t errlen)
{
	struct ax_graph_batch b = { .issues = is, .nissues = 1 };

	return ax_graph_upsert(g, tenant, &b, NULL, errbuf, errlen);
}

/* ---------------------------------------------------------------- queries */

ax_err ax_graph_item_exists(struct ax_graph *g, const char *tenant, const char *item,
			    char *errbuf, size_t errlen)
{
	ax_err rc = check_tenant(tenant, errbuf, errlen);

	if (rc != AX_OK)
		return rc;
	if (!id_ok(item))
		return ax_errfmt(errbuf, errlen, "item exists: bad item id"), AX_EINVAL;
	return g->ops->item_exists(g->be, tenant, item, errbuf, errlen);
}

static ax_err walk(struct ax_graph *g, const char *tenant, const char *item, int depth, int dir,
		   const char *const *kinds, int fanout, struct ax_graph_nodes *out, char *errbuf,
		   size_t errlen)
{
	const char *const *k;
	ax_err rc;

	memset(out, 0, sizeof(*out));
	rc = check_tenant(tenant, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	if (!id_ok(item))
		return ax_errfmt(errbuf, errlen, "blast radius: bad item id"), AX_EINVAL;
	if (depth < 1 || depth > AX_GRAPH_DEPTH_MAX)
		return ax_errfmt(errbuf, errlen, "blast radius: depth must be 1..%d",
				 AX_GRAPH_DEPTH_MAX), AX_EINVAL;
	if (dir < AX_GRAPH_OUT || dir > AX_GRAPH_BOTH)
		return ax_errfmt(errbuf, errlen, "blast radius: bad direction"), AX_EINVAL;
	for (k = kinds; k != NULL && *k != NULL; k++)
		if (!kind_ok(*k))
			return ax_errfmt(errbuf, errlen, "blast radius: bad relation kind"), AX_EINVAL;
	rc = g->ops->blast_radius(g->be, tenant, item, depth, dir, kinds, fanout, out, errbuf,
				  errlen);
	if (out->n == 0) {   /* nothing to release for an empty answer */
		free(out->v);
		out->v = NULL;
	}
	return rc;
}

ax_err ax_graph_blast_radius(struct ax_graph *g, const char *tenant, const char *item, int depth,
			     int dir, const char *const *kinds, struct ax_graph_nodes *out,
			     char *errbuf, size_t errlen)
{
	return walk(g, tenant, item, depth, dir, kinds, 0, out, errbuf, errlen);
}

ax_err ax_graph_neighbourhood(struct ax_graph *g, const char *tenant, const char *item, int depth,
			      int fanout, struct ax_graph_nodes *out, char *errbuf, size_t errlen)
{
	if (fanout < 1)
		return ax_errfmt(errbuf, errlen, "neighbourhood: fan-out must be >= 1"), AX_EINVAL;
	return walk(g, tenant, item, depth, AX_GRAPH_BOTH, NULL, fanout, out, errbuf, errlen);
}

/* An empty answer owns no memory, so callers need not release it. */
static void empty_hits(struct ax_graph_hits *h)
{
	if (h->n == 0) {
		free(h->v);
		h->v = NULL;
	}
}

static ax_err check_search(const char *tenant, const char *query, int mask, size_t k,
			   char *errbuf, size_t errlen)
{
	ax_err rc = check_tenant(tenant, errbuf, errlen);

	if (rc != AX_OK)
		return rc;
	if (query == NULL)
		return ax_errfmt(errbuf, errlen, "search: no query"), AX_EINVAL;
	if (mask <= 0 || (mask & ~AX_GRAPH_ALL) != 0)
		return ax_errfmt(errbuf, errlen, "search: bad kind mask"), AX_EINVAL;
	if (k < 1 || k > AX_GRAPH_K_MAX)
		return ax_errfmt(errbuf, errlen, "search: k must be 1..%d", AX_GRAPH_K_MAX),
		       AX_EINVAL;
	return AX_OK;
}

ax_err ax_graph_search_text(struct ax_graph *g, const char *tenant, const char *query, int mask,
			    size_t k, struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	ax_err rc;

	memset(out, 0, sizeof(*out));
	rc = check_search(tenant, query, mask, k, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	rc = g->ops->search_text(g->be, tenant, query, mask, k, out, errbuf, errlen);
	empty_hits(out);
	return rc;
}

ax_err ax_graph_search_vector(struct ax_graph *g, const char *tenant, const char *query, int mask,
			      size_t k, struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	float *q;
	ax_err rc;

	memset(out, 0, sizeof(*out));
	rc = check_search(tenant, query, mask, k, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	q = ax_xmalloc(AX_EMBED_DIM * sizeof(float));
	rc = ax_embed(g->emb, &query, 1, q, errbuf, errlen);
	if (rc == AX_OK)
		rc = g->ops->search_vector(g->be, tenant, q, mask, k, out, errbuf, errlen);
	free(q);
	empty_hits(out);
	return rc;
}

static int best_rank(const struct ax_graph_hit *h)
{
	if (h->fts_rank == 0)
		return h->vec_rank;
	if (h->vec_rank == 0)
		return h->fts_rank;
	return h->fts_rank < h->vec_rank ? h->fts_rank : h->vec_rank;
}

static int by_fused(const void *a, const void *b)
{
	const struct ax_graph_hit *x = a, *y = b;
	int rx = best_rank(x), ry = best_rank(y);

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (rx != ry)
		return rx < ry ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->id, y->id);
}

ax_err ax_graph_search_hybrid(struct ax_graph *g, const char *tenant, const char *query, int mask,
			      size_t k, struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	struct ax_graph_hits ft, vh;
	size_t depth = k > AX_GRAPH_HYBRID_DEPTH ? k : AX_GRAPH_HYBRID_DEPTH, i, j, n;
	struct ax_graph_hit *all;
	ax_err rc;

	memset(out, 0, sizeof(*out));
	rc = check_search(tenant, query, mask, k, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	if (g->ops->search_both != NULL) {
		float *q = ax_xmalloc(AX_EMBED_DIM * sizeof(float));

		memset(&ft, 0, sizeof(ft));
		memset(&vh, 0, sizeof(vh));
		rc = ax_embed(g->emb, &query, 1, q, errbuf, errlen);
		if (rc == AX_OK)
			rc = g->ops->search_both(g->be, tenant, query, q, mask, depth, &ft, &vh,
						 errbuf, errlen);
		free(q);
		if (rc != AX_OK)
			return rc;
	} else {
		rc = ax_graph_search_text(g, tenant, query, mask, depth, &ft, errbuf, errlen);
		if (rc != AX_OK)
			return rc;
		rc = ax_graph_search_vector(g, tenant, query, mask, depth, &vh, errbuf, errlen);
		if (rc != AX_OK) {
			ax_graph_hits_release(&ft);
			return rc;
		}
	}
	/* Take over the full-text hits, then merge the vector ones into them
	 * (at most 2 * depth entries: a quadratic merge is fine). */
	all = ax_xcalloc(ft.n + vh.n + 1, sizeof(*all));
	for (i = 0; i < ft.n; i++) {
		all[i] = ft.v[i];
		all[i].vec_rank = 0;
		all[i].vec_score = 0;
	}
	n = ft.n;
	for (i = 0; i < vh.n; i++) {
		for (j = 0; j < ft.n; j++)
			if (all[j].kind == vh.v[i].kind && strcmp(all[j].id, vh.v[i].id) == 0)
				break;
		if (j == ft.n) {
			all[n] = vh.v[i];
			all[n].fts_rank = 0;
			all[n].fts_score = 0;
			n++;
		} else {
			all[j].vec_rank = vh.v[i].vec_rank;
			all[j].vec_score = vh.v[i].vec_score;
			hit_free(&vh.v[i]);
		}
	}
	free(ft.v);
	free(vh.v);
	for (i = 0; i < n; i++) {
		all[i].score = 0;
		if (all[i].fts_rank > 0)
			all[i].score += 1.0 / (AX_GRAPH_RRF_K + all[i].fts_rank);
		if (all[i].vec_rank > 0)
			all[i].score += 1.0 / (AX_GRAPH_RRF_K + all[i].vec_rank);
	}
	qsort(all, n, sizeof(*all), by_fused);
	for (i = k; i < n; i++)
		hit_free(&all[i]);
	out->v = all;
	out->n = n < k ? n : k;
	empty_hits(out);
	return AX_OK;
}
