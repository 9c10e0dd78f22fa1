/* graph_neo4j.c - the knowledge graph on Neo4j 5 (ax_graph_neo4j_ops, see
 * graph.h), over the project's own Bolt client (bolt.h; docs/bolt.md).
 *
 * Data model (docs/knowledge-graph.md, "Neo4j backend"):
 *   (:Item  {tenant, id, type, name, attributes, embedding, embedder,
 *            tenant_term, type_text, attr_text})
 *   (:Issue {tenant, id, kind, title, body, fix, embedding, embedder, tenant_term})
 *   (:Doc   {tenant, id, title, body, source, embedding, embedder, tenant_term})
 *   (:Item)-[:REL {kind, tenant}]->(:Item)      a relation
 *   (:Issue)-[:TOUCHED {tenant}]->(:Item)       an Issue's link to an item
 * Relations are one relationship type with the kind as a property rather
 * than a type per kind: kinds are data ([a-z][a-z0-9_]*, any of them), and
 * Cypher cannot take a relationship type as a parameter, so typed
 * relationships would mean a statement text per kind (built at run time,
 * never linted) and a kinds filter spelled into the pattern.  As a
 * property, every statement is a constant the lint sees and the filter is
 * a parameter ($kinds).
 *
 * Tenant isolation: Neo4j has no row-level security, so it is this file's
 * job.  Every node carries its tenant; every MATCH and MERGE names it;
 * relationships are only ever created between two nodes matched with the
 * same tenant; walks check it on every node of a path; index queries
 * (which cannot pre-filter) are filtered on it after.  Uniqueness is the
 * composite constraint (tenant, id) per label (Community Edition has
 * composite uniqueness; NODE KEY is Enterprise only).
 *
 * Indexes, created at first connection with IF NOT EXISTS (schema
 * statements run outside any explicit transaction), then awaited online:
 *   - a vector index per label, cosine, 1536 dimensions (AX_EMBED_DIM);
 *   - a full-text index per label with the "english" analyzer (stemming
 *     and stop words, like the Postgres backend's 'english' tsvector) over
 *     the text fields and tenant_term: the tenant spelled as digits (each
 *     byte as three), one token that no analyzer splits, stems or drops,
 *     so "+tenant_term:..." is a required Lucene term and a tenant's
 *     search ranks only its own nodes.  The exact tenant is still checked
 *     on every hit.
 *
 * Writes: one explicit transaction per batch (BEGIN, UNWIND ... MERGE
 * statements of up to ROWS_MAX rows, COMMIT).  Nodes are written only
 * when their content changed (a WHERE before the SET), so counts are what
 * changed, as the Postgres backend counts.  An edge or link naming a
 * missing item is found by a check statement before the MERGE and ends
 * the transaction with ROLLBACK; a server FAILURE ends it with RESET (the
 * only message a failed transaction accepts; it rolls back), so nothing
 * is written after any error.
 *
 * Walks are variable-length (quantified) paths whose depth bound is a
 * literal (Cypher cannot take it as a parameter): the statements below
 * are written at the cap ({1,10}) and with_depth() puts the validated
 * integer in its place, so the text the lint checks is the text sent at
 * the cap.
 *
 * Connections come from a pool per server and credentials, shared by the
 * process (see "connection" below); with a neo4j:// URI the pool routes:
 * upserts go to a writer, walks and searches to a reader.  A call whose
 * connection breaks under it is run once more on another connection
 * (another member when routing), unless its COMMIT went out unanswered;
 * a second break fails it with AX_EIO.
 * Server: Neo4j 5.21 or later (the CYPHER 5 prefix every statement
 * carries, and ALL SHORTEST), Community Edition or not. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "alexus/bolt.h"
#include "alexus/graph.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/mem.h"

_Static_assert(AX_EMBED_DIM == 1536, "the vector index DDL below says 1536 dimensions");
_Static_assert(AX_GRAPH_DEPTH_MAX == 10, "the walk statements below are written at {1,10}");

#define ROWS_MAX 200          /* rows per UNWIND: ~3 MB of embeddings as PackStream floats */
#define FETCH 1000            /* records per PULL */
#define VEC_FACTOR 10         /* vector candidates fetched per hit wanted (the index cannot
			       * pre-filter on the tenant) */
#define VEC_MIN 100           /* ... at least */
#define VEC_MAX 10000         /* ... at most (see search_vector) */
#define NKINDS 3

struct nj {
	struct ax_bolt_opts opts;
	char host[256];
	char *user, *password, *database;
	char *embedder;
	struct pooled *pl;        /* the process-wide pool of this server and credentials */
	struct ax_bolt *b;        /* lent by the pool to the call in progress */
	bool lost;                /* the call's connection broke: it may be retried */
	bool uncertain;           /* ... after its COMMIT went out: it must not be */
};

static const struct {
	int kind;
	const char *vec_index;
	const char *text_index;
} kinds[NKINDS] = {
	{ AX_GRAPH_ITEM, "item_embedding", "item_text" },
	{ AX_GRAPH_ISSUE, "issue_embedding", "issue_text" },
	{ AX_GRAPH_DOC, "doc_embedding", "doc_text" },
};

/* ---------------------------------------------------------------- statements */

static const char *const schema[] = {
	"CYPHER 5 CREATE CONSTRAINT item_key IF NOT EXISTS FOR (n:Item) "
	"REQUIRE (n.tenant, n.id) IS UNIQUE",
	"CYPHER 5 CREATE CONSTRAINT issue_key IF NOT EXISTS FOR (n:Issue) "
	"REQUIRE (n.tenant, n.id) IS UNIQUE",
	"CYPHER 5 CREATE CONSTRAINT doc_key IF NOT EXISTS FOR (n:Doc) "
	"REQUIRE (n.tenant, n.id) IS UNIQUE",
	"CYPHER 5 CREATE VECTOR INDEX item_embedding IF NOT EXISTS FOR (n:Item) ON n.embedding "
	"OPTIONS {indexConfig: {`vector.dimensions`: 1536, "
	"`vector.similarity_function`: 'cosine'}}",
	"CYPHER 5 CREATE VECTOR INDEX issue_embedding IF NOT EXISTS FOR (n:Issue) ON n.embedding "
	"OPTIONS {indexConfig: {`vector.dimensions`: 1536, "
	"`vector.similarity_function`: 'cosine'}}",
	"CYPHER 5 CREATE VECTOR INDEX doc_embedding IF NOT EXISTS FOR (n:Doc) ON n.embedding "
	"OPTIONS {indexConfig: {`vector.dimensions`: 1536, "
	"`vector.similarity_function`: 'cosine'}}",
	"CYPHER 5 CREATE FULLTEXT INDEX item_text IF NOT EXISTS FOR (n:Item) "
	"ON EACH [n.tenant_term, n.name, n.type_text, n.attr_text] "
	"OPTIONS {indexConfig: {`fulltext.analyzer`: 'english'}}",
	"CYPHER 5 CREATE FULLTEXT INDEX issue_text IF NOT EXISTS FOR (n:Issue) "
	"ON EACH [n.tenant_term, n.title, n.body, n.fix] "
	"OPTIONS {indexConfig: {`fulltext.analyzer`: 'english'}}",
	"CYPHER 5 CREATE FULLTEXT INDEX doc_text IF NOT EXISTS FOR (n:Doc) "
	"ON EACH [n.tenant_term, n.title, n.body] "
	"OPTIONS {indexConfig: {`fulltext.analyzer`: 'english'}}",
	/* Indexes populate in the background; queries need them online. */
	"CYPHER 5 CALL db.awaitIndexes(300)",
};

/* Nodes: written only when something differs (coalesce: a node MERGE just
 * created has no properties yet, and a comparison with null is null). */
static const char items_sql[] =
	"CYPHER 5 UNWIND $rows AS r "
	"MERGE (n:Item {tenant: $tenant, id: r.id}) "
	"WITH n, r WHERE coalesce(NOT (n.type = r.type AND n.name = r.name "
	"AND n.attributes = r.attributes AND n.embedder = $embedder "
	"AND n.embedding = r.embedding), true) "
	"SET n.type = r.type, n.name = r.name, n.attributes = r.attributes, "
	"n.type_text = r.type_text, n.attr_text = r.attr_text, n.tenant_term = $tenant_term, "
	"n.embedding = r.embedding, n.embedder = $embedder "
	"RETURN count(n) AS changed";

static const char issues_sql[] =
	"CYPHER 5 UNWIND $rows AS r "
	"MERGE (n:Issue {tenant: $tenant, id: r.id}) "
	"WITH n, r WHERE coalesce(NOT (n.kind = r.kind AND n.title = r.title "
	"AND n.body = r.body AND n.fix = r.fix AND n.embedder = $embedder "
	"AND n.embedding = r.embedding), true) "
	"SET n.kind = r.kind, n.title = r.title, n.body = r.body, n.fix = r.fix, "
	"n.tenant_term = $tenant_term, n.embedding = r.embedding, n.embedder = $embedder "
	"RETURN count(n) AS changed";

static const char docs_sql[] =
	"CYPHER 5 UNWIND $rows AS r "
	"MERGE (n:Doc {tenant: $tenant, id: r.id}) "
	"WITH n, r WHERE coalesce(NOT (n.title = r.title AND n.body = r.body "
	"AND n.source = r.source AND n.embedder = $embedder "
	"AND n.embedding = r.embedding), true) "
	"SET n.title = r.title, n.body = r.body, n.source = r.source, "
	"n.tenant_term = $tenant_term, n.embedding = r.embedding, n.embedder = $embedder "
	"RETURN count(n) AS changed";

/* The first row (r.n: its place in the batch) naming a missing item. */
static const char rels_check_sql[] =
	"CYPHER 5 UNWIND $rows AS r "
	"OPTIONAL MATCH (a:Item {tenant: $tenant, id: r.from}) "
	"OPTIONAL MATCH (b:Item {tenant: $tenant, id: r.to}) "
	"WITH r, a, b WHERE a IS NULL OR b IS NULL "
	"RETURN r.n AS n, a IS NULL AS no_from ORDER BY n LIMIT 1";

/* Rows are distinct (see dedupe), so "created" is exact. */
static const char rels_sql[] =
	"CYPHER 5 UNWIND $rows AS r "
	"MATCH (a:Item {tenant: $tenant, id: r.from}) "
	"MATCH (b:Item {tenant: $tenant, id: r.to}) "
	"MERGE (a)-[e:REL {kind: r.kind}]->(b) "
	"WITH e, e.tenant IS NULL AS created "
	"SET e.tenant = $tenant "
	"RETURN count(CASE WHEN created THEN 1 END) AS created";

static const char links_check_sql[] =
	"CYPHER 5 UNWIND $rows AS r "
	"OPTIONAL MATCH (i:Item {tenant: $tenant, id: r.item}) "
	"WITH r, i WHERE i IS NULL "
	"RETURN r.n AS n ORDER BY n LIMIT 1";

static const char links_sql[] =
	"CYPHER 5 UNWIND $rows AS r "
	"MATCH (s:Issue {tenant: $tenant, id: r.issue}) "
	"MATCH (i:Item {tenant: $tenant, id: r.item}) "
	"MERGE (s)-[t:TOUCHED]->(i) "
	"WITH t, t.tenant IS NULL AS created "
	"SET t.tenant = $tenant "
	"RETURN count(CASE WHEN created THEN 1 END) AS created";

static const char exists_sql[] =
	"CYPHER 5 MATCH (n:Item {tenant: $tenant, id: $id}) RETURN count(n) AS n";

/* Neighbourhood: the edges each item may follow, at most $fanout per
 * direction in (kind, id) order, for every item within depth - 1 hops
 * (a superset of those the walk reaches: which edges an item may follow
 * does not depend on the path to it), as "item>edge" element ids: an edge
 * one end may follow is not thereby one the other end may follow back,
 * as in the Postgres backend's walk. */
static const char fanout_sql[] =
	"CYPHER 5 MATCH (s:Item {tenant: $tenant, id: $id}) "
	"MATCH (s)-[:REL*0..9]-(n:Item) WHERE n.tenant = $tenant "
	"WITH DISTINCT n "
	"CALL { WITH n "
	"MATCH (n)-[r:REL]->(o:Item) WHERE o.tenant = $tenant "
	"AND ($kinds IS NULL OR r.kind IN $kinds) "
	"WITH r, o ORDER BY r.kind, o.id LIMIT $fanout RETURN r "
	"UNION WITH n "
	"MATCH (n)<-[r:REL]-(o:Item) WHERE o.tenant = $tenant "
	"AND ($kinds IS NULL OR r.kind IN $kinds) "
	"WITH r, o ORDER BY r.kind, o.id LIMIT $fanout RETURN r } "
	"RETURN collect(DISTINCT elementId(n) + '>' + elementId(r)) AS allowed";

/* The walks (out, in, both): every item within 1..depth hops along REL
 * edges of the kinds asked (and, for a neighbourhood, only the edges each
 * item may follow), the tenant checked on every node as the search goes;
 * each item once, at its shortest depth, ties to the lexically first of
 * its shortest paths, as the Postgres backend answers.  ALL SHORTEST is a
 * breadth-first search (Neo4j 5.21+), where a plain variable-length
 * pattern would enumerate every trail up to the cap, revisiting items
 * through other edges; shortest paths are simple by construction.  The
 * start itself is not an answer (a cycle back to it is not a hop away).
 * Three whole texts rather than a macro: the lint reads literals. */
static const char *const walk_sql[4] = {
	[AX_GRAPH_OUT] =
		"CYPHER 5 MATCH (s:Item {tenant: $tenant, id: $id}) "
		"MATCH p = ALL SHORTEST (s) ((a:Item)-[r:REL]->(b:Item) WHERE b.tenant = $tenant "
		"AND ($kinds IS NULL OR r.kind IN $kinds) "
		"AND ($allowed IS NULL OR elementId(a) + '>' + elementId(r) IN $allowed)){1,10} "
		"(x:Item) WHERE x <> s "
		"WITH x, p ORDER BY [v IN nodes(p) | v.id] "
		"WITH x, collect(p)[0] AS p "
		"RETURN x.id AS id, x.type AS type, x.name AS name, length(p) AS depth, "
		"last(relationships(p)).kind AS via, [v IN nodes(p) | v.id] AS path "
		"ORDER BY depth, id LIMIT 10000",
	[AX_GRAPH_IN] =
		"CYPHER 5 MATCH (s:Item {tenant: $tenant, id: $id}) "
		"MATCH p = ALL SHORTEST (s) ((a:Item)<-[r:REL]-(b:Item) WHERE b.tenant = $tenant "
		"AND ($kinds IS NULL OR r.kind IN $kinds) "
		"AND ($allowed IS NULL OR elementId(a) + '>' + elementId(r) IN $allowed)){1,10} "
		"(x:Item) WHERE x <> s "
		"WITH x, p ORDER BY [v IN nodes(p) | v.id] "
		"WITH x, collect(p)[0] AS p "
		"RETURN x.id AS id, x.type AS type, x.name AS name, length(p) AS depth, "
		"last(relationships(p)).kind AS via, [v IN nodes(p) | v.id] AS path "
		"ORDER BY depth, id LIMIT 10000",
	[AX_GRAPH_BOTH] =
		"CYPHER 5 MATCH (s:Item {tenant: $tenant, id: $id}) "
		"MATCH p = ALL SHORTEST (s) ((a:Item)-[r:REL]-(b:Item) WHERE b.tenant = $tenant "
		"AND ($kinds IS NULL OR r.kind IN $kinds) "
		"AND ($allowed IS NULL OR elementId(a) + '>' + elementId(r) IN $allowed)){1,10} "
		"(x:Item) WHERE x <> s "
		"WITH x, p ORDER BY [v IN nodes(p) | v.id] "
		"WITH x, collect(p)[0] AS p "
		"RETURN x.id AS id, x.type AS type, x.name AS name, length(p) AS depth, "
		"last(relationships(p)).kind AS via, [v IN nodes(p) | v.id] AS path "
		"ORDER BY depth, id LIMIT 10000",
};

/* Full text: each index in $indexes asked for at most $candidates of the
 * tenant's matches (its term is required in $query), best k overall, ties
 * by kind (item, Issue, document) then id, as Postgres orders them.
 * Title and type: Items have name and type, Issues title and kind,
 * documents title and neither. */
static const char text_sql[] =
	"CYPHER 5 UNWIND $indexes AS ix "
	"CALL db.index.fulltext.queryNodes(ix, $query, {limit: $candidates}) "
	"YIELD node, score WHERE node.tenant = $tenant "
	"RETURN ix, node.id AS id, coalesce(node.name, node.title) AS title, "
	"coalesce(node.type, node.kind, 'doc') AS type, score "
	"ORDER BY score DESC, CASE ix WHEN 'item_text' THEN 1 WHEN 'issue_text' THEN 2 ELSE 4 END, "
	"id LIMIT $k";

/* Vectors: the index cannot pre-filter, so $candidates nearest of every
 * tenant are fetched per index, then the tenant's (and this embedder's)
 * kept; seen says how many came back, so the caller knows whether more
 * were to be had.  Score is (1 + cosine) / 2. */
static const char vector_sql[] =
	"CYPHER 5 UNWIND $indexes AS ix "
	"CALL db.index.vector.queryNodes(ix, $candidates, $vector) YIELD node, score "
	"WITH ix, collect({node: node, score: score}) AS got "
	"RETURN ix, size(got) AS seen, "
	"[h IN got WHERE h.node.tenant = $tenant AND h.node.embedder = $embedder | "
	"[h.node.id, coalesce(h.node.name, h.node.title), "
	"coalesce(h.node.type, h.node.kind, 'doc'), h.score]][..$k] AS hits";

/* ---------------------------------------------------------------- connection */

/* Connection pools (bolt.h), one per server and credentials, shared by
 * every store and thread of the process: a store is used from one thread
 * at a time (graph.h), but each agent and job has its own, and a pool per
 * store would keep a connection per store open for nothing.  A call takes
 * a connection for its duration (a writer for upserts and the schema, a
 * reader for walks and searches when the URI is neo4j://) and gives it
 * back.  The schema is created once per pool. */
struct pooled {
	char *key;
	struct ax_bolt_pool *pool;
	unsigned refs;
	int schema_done;          /* read and set atomically */
	struct pooled *next;
};

static pthread_mutex_t pools_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pooled *pools;

/* NEO4J_POOL_SIZE: connections per server (1..256, default
 * AX_BOLT_POOL_SIZE).  An environment variable rather than a graph
 * configuration field: it tunes a deployment (how many worker threads
 * share a server), not what the store is, and the first store opened
 * fixes it for the process. */
static unsigned pool_size(void)
{
	const char *v = getenv("NEO4J_POOL_SIZE");
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return AX_BOLT_POOL_SIZE;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < 1 || n > 256)
		return AX_BOLT_POOL_SIZE;
	return (unsigned)n;
}

static struct pooled *pool_ref(const char *uri, const struct ax_bolt_opts *o)
{
	struct pooled *pl;
	size_t n = strlen(uri) + 4 + (o->user ? strlen(o->user) : 0) +
		   (o->password ? strlen(o->password) : 0) +
		   (o->database ? strlen(o->database) : 0);
	char *key = ax_xmalloc(n);

	snprintf(key, n, "%s\n%s\n%s\n%s", uri, o->user ? o->user : "",
		 o->password ? o->password : "", o->database ? o->database : "");
	pthread_mutex_lock(&pools_mu);
	for (pl = pools; pl != NULL; pl = pl->next)
		if (strcmp(pl->key, key) == 0)
			break;
	if (pl == NULL) {
		pl = ax_xcalloc(1, sizeof(*pl));
		pl->key = key;
		key = NULL;
		pl->pool = ax_bolt_pool_new(o, pool_size(), 0);
		pl->next = pools;
		pools = pl;
	}
	pl->refs++;
	pthread_mutex_unlock(&pools_mu);
	free(key);
	return pl;
}

static void pool_unref(struct pooled *pl)
{
	struct pooled **pp;

	pthread_mutex_lock(&pools_mu);
	if (--pl->refs > 0) {
		pthread_mutex_unlock(&pools_mu);
		return;
	}
	for (pp = &pools; *pp != pl; pp = &(*pp)->next)
		;
	*pp = pl->next;
	pthread_mutex_unlock(&pools_mu);
	ax_bolt_pool_free(pl->pool);
	free(pl->key);
	free(pl);
}

static void *nj_open(const struct ax_graph_config *c, const char *embedder, char *errbuf,
		     size_t errlen)
{
	struct nj *nj;

	if (c == NULL || c->neo4j_uri == NULL || c->neo4j_uri[0] == '\0') {
		ax_errfmt(errbuf, errlen, "graph: neo4j backend needs NEO4J_URI");
		return NULL;
	}
	nj = ax_xcalloc(1, sizeof(*nj));
	if (ax_bolt_parse_uri(c->neo4j_uri, &nj->opts, nj->host, sizeof(nj->host)) != AX_OK) {
		ax_errfmt(errbuf, errlen, "graph: NEO4J_URI '%s' is not a bolt:// or neo4j:// URI",
			  c->neo4j_uri);
		free(nj);
		return NULL;
	}
	if (c->neo4j_user != NULL && c->neo4j_user[0] != '\0') {
		nj->user = ax_xstrdup(c->neo4j_user);
		nj->password = ax_xstrdup(c->neo4j_password ? c->neo4j_password : "");
	}
	if (c->neo4j_database != NULL && c->neo4j_database[0] != '\0')
		nj->database = ax_xstrdup(c->neo4j_database);
	nj->opts.host = nj->host;
	nj->opts.user = nj->user;
	nj->opts.password = nj->password;
	nj->opts.database = nj->database;
	nj->embedder = ax_xstrdup(embedder);
	nj->pl = pool_ref(c->neo4j_uri, &nj->opts);
	return nj;
}

/* The call's connection back to the pool (a broken one is closed there,
 * and its server dropped from the routing table). */
static void release(struct nj *nj)
{
	if (nj->b != NULL)
		ax_bolt_pool_put(nj->pl->pool, nj->b);
	nj->b = NULL;
}

static void nj_close(void *be)
{
	struct nj *nj = be;

	release(nj);
	pool_unref(nj->pl);
	free(nj->user);
	free(nj->password);
	free(nj->database);
	free(nj->embedder);
	free(nj);
}

/* A statement's outcome as the graph API reports it: the server's code
 * and message, or the broken connection (given back, so the pool drops
 * it; the call may be retried, see again()).  Everything is AX_EIO to
 * callers (graph.h: a store error). */
static ax_err failed(struct nj *nj, ax_err rc, const char *what, const char *e, char *errbuf,
		     size_t errlen)
{
	(void)rc;
	if (nj->b != NULL && ax_bolt_broken(nj->b)) {
		ax_errfmt(errbuf, errlen, "neo4j: %s: connection lost (%s)", what, e);
		release(nj);
		nj->lost = true;
	} else {
		ax_errfmt(errbuf, errlen, "neo4j: %s: %s", what, e);
	}
	return AX_EIO;
}

/* One statement (auto-commit when tx is given, else inside the open
 * transaction), records to fn. */
static ax_err run(struct nj *nj, const char *what, const char *q, const struct ax_ps_buf *params,
		  const struct ax_bolt_tx *tx, ax_bolt_record_fn *fn, void *arg, char *errbuf,
		  size_t errlen)
{
	char e[512];
	ax_err rc = ax_bolt_query(nj->b, q, params, tx, FETCH, fn, arg, NULL, e, sizeof(e));

	if (rc != AX_OK)
		return failed(nj, rc, what, e, errbuf, errlen);
	return AX_OK;
}

static ax_err take(struct nj *nj, enum ax_bolt_access mode, char *errbuf, size_t errlen)
{
	char e[512];
	ax_err rc = ax_bolt_pool_get(nj->pl->pool, mode, 0, &nj->b, e, sizeof(e));

	if (rc != AX_OK) {
		nj->b = NULL;
		ax_errfmt(errbuf, errlen, "neo4j: connecting to %s:%u: %s", nj->host,
			  nj->opts.port ? nj->opts.port : 7687, e);
		return rc == AX_EAUTH ? AX_EAUTH : AX_EIO;
	}
	return AX_OK;
}

/* A connection for the call (a writer, or a reader when read), with the
 * schema in place (created on a writer). */
static ax_err conn(struct nj *nj, bool read, char *errbuf, size_t errlen)
{
	struct ax_bolt_tx tx = { 0 };
	size_t i;
	ax_err rc;

	if (nj->b != NULL)
		return AX_OK;
	if (!__atomic_load_n(&nj->pl->schema_done, __ATOMIC_ACQUIRE)) {
		rc = take(nj, AX_BOLT_WRITE, errbuf, errlen);
		for (i = 0; rc == AX_OK && i < sizeof(schema) / sizeof(schema[0]); i++)
			rc = run(nj, "creating indexes", schema[i], NULL, &tx, NULL, NULL, errbuf,
				 errlen);
		if (rc != AX_OK)
			return rc;
		__atomic_store_n(&nj->pl->schema_done, 1, __ATOMIC_RELEASE);
		if (!read)
			return AX_OK;
		release(nj);
	}
	return take(nj, read ? AX_BOLT_READ : AX_BOLT_WRITE, errbuf, errlen);
}

static ax_err begin(struct nj *nj, bool read, char *errbuf, size_t errlen)
{
	struct ax_bolt_tx tx = { .read = read };
	char e[512];
	ax_err rc = conn(nj, read, errbuf, errlen);

	if (rc != AX_OK)
		return rc;
	rc = ax_bolt_begin(nj->b, &tx, e, sizeof(e));
	if (rc != AX_OK)
		return failed(nj, rc, "BEGIN", e, errbuf, errlen);
	return AX_OK;
}

/* End the open transaction: COMMIT when rc is AX_OK; otherwise ROLLBACK,
 * or RESET when the server failed a statement (a failed transaction takes
 * nothing else; RESET rolls it back); nothing when the connection broke
 * (the server rolls back what it never saw committed).  Returns rc, or
 * COMMIT's error. */
static ax_err end(struct nj *nj, ax_err rc, bool server_failed, char *errbuf, size_t errlen)
{
	char e[512];
	ax_err r;

	if (nj->b == NULL)
		return rc;
	if (rc == AX_OK) {
		r = ax_bolt_commit(nj->b, e, sizeof(e));
		if (r == AX_OK)
			return AX_OK;
		if (ax_bolt_broken(nj->b)) {
			/* COMMIT went out, its answer never came: whether the
			 * server committed is unknown, and the caller must hear
			 * that rather than "nothing was written" (and the call
			 * is not retried). */
			ax_errfmt(errbuf, errlen, "neo4j: connection lost before COMMIT was "
				  "answered, the transaction may or may not be written (%s)", e);
			release(nj);
			nj->uncertain = true;
			return AX_EIO;
		}
		return failed(nj, r, "COMMIT", e, errbuf, errlen);
	}
	if (ax_bolt_broken(nj->b)) {
		release(nj);
		nj->lost = true;
		return rc;
	}
	r = server_failed ? ax_bolt_reset(nj->b, e, sizeof(e)) : ax_bolt_rollback(nj->b, e,
										  sizeof(e));
	if (r != AX_OK && ax_bolt_broken(nj->b))
		release(nj);
	return rc;
}

/* After a call: its connection back to the pool, and whether to run it
 * once more: when its connection broke under it (a server gone, or an
 * idle connection a server or load balancer dropped), on another one
 * (with routing, another member), unless a COMMIT's fate is unknown.  A
 * failed call has released its outputs (and the caller's counts are
 * restored), so a retry starts clean. */
static bool again(struct nj *nj, ax_err rc, int *tries)
{
	bool retry = rc != AX_OK && nj->lost && !nj->uncertain && (*tries)++ == 0;

	release(nj);
	nj->lost = false;
	nj->uncertain = false;
	return retry;
}

/* ---------------------------------------------------------------- records */

static const struct ax_ps_value *col(const struct ax_ps_value *values, uint32_t i,
				     enum ax_ps_type t)
{
	if (values == NULL || values->type != AX_PS_LIST || i >= values->len)
		return NULL;
	return values->u.items[i].type == t ? &values->u.items[i] : NULL;
}

static const char *col_str(const struct ax_ps_value *values, uint32_t i)
{
	const struct ax_ps_value *v = col(values, i, AX_PS_STRING);

	return v ? v->u.s : "";
}

static double col_num(const struct ax_ps_value *values, uint32_t i)
{
	const struct ax_ps_value *v = col(values, i, AX_PS_FLOAT);

	if (v != NULL)
		return v->u.f;
	v = col(values, i, AX_PS_INT);
	return v ? (double)v->u.i : 0;
}

struct one {
	bool got;
	int64_t i[2];
	bool b;
};

/* The first record's integer columns (0 and 1; a boolean column 1 to b). */
static int one_row(const struct ax_ps_value *fields, const struct ax_ps_value *values, void *arg)
{
	struct one *o = arg;
	const struct ax_ps_value *v;

	(void)fields;
	if (o->got)
		return 1;
	o->got = true;
	if ((v = col(values, 0, AX_PS_INT)) != NULL)
		o->i[0] = v->u.i;
	if ((v = col(values, 1, AX_PS_INT)) != NULL)
		o->i[1] = v->u.i;
	if ((v = col(values, 1, AX_PS_BOOL)) != NULL)
		o->b = v->u.b;
	return 0;
}

/* ---------------------------------------------------------------- upsert */

/* The tenant as one index token: each byte as three decimal digits. */
static void tenant_term(const char *tenant, char *out, size_t n)
{
	size_t at = 0;

	for (; *tenant != '\0' && at + 4 <= n; tenant++)
		at += (size_t)snprintf(out + at, n - at, "%03u", (unsigned char)*tenant);
	out[at] = '\0';
}

/* Batch entries, each id (relation, link) at most once: the last entry of
 * a repeated id wins, as it would written one after the other. */
struct ent {
	const char *key[3];
	size_t i;
};

static int by_ent(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c, k;

	for (k = 0; k < 3; k++) {
		c = strcmp(x->key[k] ? x->key[k] : "", y->key[k] ? y->key[k] : "");
		if (c != 0)
			return c;
	}
	return x->i < y->i ? -1 : x->i > y->i;
}

static bool same_key(const struct ent *x, const struct ent *y)
{
	int k;

	for (k = 0; k < 3; k++)
		if (strcmp(x->key[k] ? x->key[k] : "", y->key[k] ? y->key[k] : "") != 0)
			return false;
	return true;
}

/* Keep the last of each key of e (n entries, in batch order), in batch
 * order.  Returns the count kept. */
static size_t dedupe(struct ent *e, size_t n)
{
	size_t i, m = 0;

	qsort(e, n, sizeof(*e), by_ent);
	for (i = 0; i < n; i++)
		if (i + 1 == n || !same_key(&e[i], &e[i + 1]))
			e[m++] = e[i];
	for (i = 0; i < m; i++)   /* back to batch order: keys no longer needed */
		e[i].key[0] = e[i].key[1] = e[i].key[2] = NULL;
	qsort(e, m, sizeof(*e), by_ent);
	return m;
}

static void put_vec(struct ax_ps_buf *p, const float *v)
{
	size_t i;

	ax_ps_put_list(p, AX_EMBED_DIM);
	for (i = 0; i < AX_EMBED_DIM; i++)
		ax_ps_put_float(p, v[i]);
}

/* "team payments region eu-west-1": an item's string attribute values
 * for the full-text index, and its attributes in one canonical form (cJSON
 * prints parsed input the same way whatever its spacing), so an unchanged
 * item compares equal. */
static void item_texts(const struct ax_graph_item *it, char **attrs, char **attr_text,
		       char **type_text)
{
	cJSON *a = NULL;
	const cJSON *x;
	char *s = ax_xstrdup(""), *t;

	if (it->attributes != NULL)
		a = ax_json_parse(it->attributes, strlen(it->attributes), 16);
	*attrs = a ? ax_json_print(a) : ax_xstrdup("{}");
	cJSON_ArrayForEach(x, a) {
		if (!cJSON_IsString(x))
			continue;
		t = ax_xasprintf("%s%s%s", s, *s ? " " : "", x->valuestring);
		free(s);
		s = t;
	}
	cJSON_Delete(a);
	*attr_text = s;
	*type_text = ax_xstrdup(it->type);
	for (t = *type_text; *t != '\0'; t++)
		if (*t == '_')
			*t = ' ';
}

/* The statement-wide parameters, then "rows": n rows follow. */
static void params_head(struct ax_ps_buf *p, const char *tenant, const char *tterm,
			const char *embedder, size_t nrows)
{
	ax_ps_buf_reset(p);
	ax_ps_put_dict(p, embedder ? 4 : 2);
	ax_ps_put_cstr(p, "tenant");
	ax_ps_put_cstr(p, tenant);
	if (embedder) {
		ax_ps_put_cstr(p, "tenant_term");
		ax_ps_put_cstr(p, tterm);
		ax_ps_put_cstr(p, "embedder");
		ax_ps_put_cstr(p, embedder);
	}
	ax_ps_put_cstr(p, "rows");
	ax_ps_put_list(p, (uint32_t)nrows);
}

struct up {
	struct nj *nj;
	const char *tenant;
	char tterm[3 * AX_TENANT_MAX + 1];
	const struct ax_graph_batch *bt;
	const float *vectors;
	size_t nlinks;
	struct ax_ps_buf p;
	bool server_failed;
};

enum { SEC_ITEMS, SEC_RELATIONS, SEC_ISSUES, SEC_LINKS, SEC_DOCS };

/* Row e (an entry of section sec) into u->p. */
static void put_row(struct up *u, int sec, const struct ent *e, size_t (*links)[2])
{
	const struct ax_graph_batch *bt = u->bt;
	struct ax_ps_buf *p = &u->p;

	switch (sec) {
	case SEC_ITEMS: {
		const struct ax_graph_item *it = &bt->items[e->i];
		char *attrs, *attr_text, *type_text;

		item_texts(it, &attrs, &attr_text, &type_text);
		ax_ps_put_dict(p, 7);
		ax_ps_put_cstr(p, "id");
		ax_ps_put_cstr(p, it->id);
		ax_ps_put_cstr(p, "type");
		ax_ps_put_cstr(p, it->type);
		ax_ps_put_cstr(p, "name");
		ax_ps_put_cstr(p, it->name);
		ax_ps_put_cstr(p, "attributes");
		ax_ps_put_cstr(p, attrs);
		ax_ps_put_cstr(p, "type_text");
		ax_ps_put_cstr(p, type_text);
		ax_ps_put_cstr(p, "attr_text");
		ax_ps_put_cstr(p, attr_text);
		ax_ps_put_cstr(p, "embedding");
		put_vec(p, u->vectors + e->i * AX_EMBED_DIM);
		free(attrs);
		free(attr_text);
		free(type_text);
		break;
	}
	case SEC_RELATIONS: {
		const struct ax_graph_relation *r = &bt->relations[e->i];

		ax_ps_put_dict(p, 4);
		ax_ps_put_cstr(p, "n");
		ax_ps_put_int(p, (int64_t)e->i);
		ax_ps_put_cstr(p, "from");
		ax_ps_put_cstr(p, r->from);
		ax_ps_put_cstr(p, "kind");
		ax_ps_put_cstr(p, r->kind);
		ax_ps_put_cstr(p, "to");
		ax_ps_put_cstr(p, r->to);
		break;
	}
	case SEC_ISSUES: {
		const struct ax_graph_issue *is = &bt->issues[e->i];

		ax_ps_put_dict(p, 6);
		ax_ps_put_cstr(p, "id");
		ax_ps_put_cstr(p, is->id);
		ax_ps_put_cstr(p, "kind");
		ax_ps_put_cstr(p, is->kind);
		ax_ps_put_cstr(p, "title");
		ax_ps_put_cstr(p, is->title);
		ax_ps_put_cstr(p, "body");
		ax_ps_put_cstr(p, is->body ? is->body : "");
		ax_ps_put_cstr(p, "fix");
		ax_ps_put_cstr(p, is->fix ? is->fix : "");
		ax_ps_put_cstr(p, "embedding");
		put_vec(p, u->vectors + (bt->nitems + e->i) * AX_EMBED_DIM);
		break;
	}
	case SEC_LINKS: {
		const struct ax_graph_issue *is = &bt->issues[links[e->i][0]];

		ax_ps_put_dict(p, 3);
		ax_ps_put_cstr(p, "n");
		ax_ps_put_int(p, (int64_t)e->i);
		ax_ps_put_cstr(p, "issue");
		ax_ps_put_cstr(p, is->id);
		ax_ps_put_cstr(p, "item");
		ax_ps_put_cstr(p, is->items[links[e->i][1]]);
		break;
	}
	default: {
		const struct ax_graph_doc *d = &bt->docs[e->i];

		ax_ps_put_dict(p, 5);
		ax_ps_put_cstr(p, "id");
		ax_ps_put_cstr(p, d->id);
		ax_ps_put_cstr(p, "title");
		ax_ps_put_cstr(p, d->title);
		ax_ps_put_cstr(p, "body");
		ax_ps_put_cstr(p, d->body ? d->body : "");
		ax_ps_put_cstr(p, "source");
		ax_ps_put_cstr(p, d->source ? d->source : "");
		ax_ps_put_cstr(p, "embedding");
		put_vec(p, u->vectors + (bt->nitems + bt->nissues + e->i) * AX_EMBED_DIM);
		break;
	}
	}
}

/* Write one section's rows, ROWS_MAX per statement; for relations and
 * links a check statement first (an edge to a missing item is
 * AX_ENOTFOUND, named). */
static ax_err put_section(struct up *u, int sec, const struct ent *e, size_t n,
			  size_t (*links)[2], size_t *changed, char *errbuf, size_t errlen)
{
	static const char *const what[] = { "items", "relations", "issues", "links", "docs" };
	static const char *const sql[] = { items_sql, rels_sql, issues_sql, links_sql, docs_sql };
	bool edges = sec == SEC_RELATIONS || sec == SEC_LINKS;
	size_t at, j;
	ax_err rc;

	for (at = 0; at < n; at += ROWS_MAX) {
		size_t m = n - at < ROWS_MAX ? n - at : ROWS_MAX;
		struct one o = { 0 };

		params_head(&u->p, u->tenant, u->tterm, edges ? NULL : u->nj->embedder, m);
		for (j = 0; j < m; j++)
			put_row(u, sec, &e[at + j], links);
		if (edges) {
			rc = run(u->nj, what[sec], sec == SEC_RELATIONS ? rels_check_sql :
				 links_check_sql, &u->p, NULL, one_row, &o, errbuf, errlen);
			if (rc != AX_OK) {
				u->server_failed = true;
				return rc;
			}
			if (o.got && (o.i[0] < 0 || (size_t)o.i[0] >= (sec == SEC_RELATIONS ?
					u->bt->nrelations : u->nlinks))) {
				ax_errfmt(errbuf, errlen, "neo4j: %s: the server named row %lld of "
					  "%zu", what[sec], (long long)o.i[0], n);
				return AX_EPROTO;
			}
			if (o.got && sec == SEC_RELATIONS) {
				const struct ax_graph_relation *r = &u->bt->relations[o.i[0]];

				ax_errfmt(errbuf, errlen, "relation '%s' %s '%s': no item '%s'",
					  r->from, r->kind, r->to, o.b ? r->from : r->to);
				return AX_ENOTFOUND;
			}
			if (o.got) {
				const struct ax_graph_issue *is = &u->bt->issues[links[o.i[0]][0]];

				ax_errfmt(errbuf, errlen, "issue '%s': no item '%s'", is->id,
					  is->items[links[o.i[0]][1]]);
				return AX_ENOTFOUND;
			}
			o.got = false;
		}
		o.i[0] = 0;
		rc = run(u->nj, what[sec], sql[sec], &u->p, NULL, one_row, &o, errbuf, errlen);
		if (rc != AX_OK) {
			u->server_failed = true;
			return rc;
		}
		if (o.i[0] > 0)
			*changed += (size_t)o.i[0];
	}
	return AX_OK;
}

static ax_err upsert_once(void *be, const char *tenant, const struct ax_graph_batch *bt,
			  const float *vectors, struct ax_graph_counts *counts, char *errbuf,
			  size_t errlen)
{
	struct nj *nj = be;
	size_t nlinks = 0, i, j, n[5] = { 0 };
	size_t (*links)[2];
	struct ent *e[5];
	size_t *changed[5] = { &counts->items, &counts->relations, &counts->issues, &counts->links,
			       &counts->docs };
	struct up u;
	ax_err rc;
	int sec;

	memset(&u, 0, sizeof(u));
	u.nj = nj;
	u.tenant = tenant;
	u.bt = bt;
	u.vectors = vectors;
	tenant_term(tenant, u.tterm, sizeof(u.tterm));
	for (i = 0; i < bt->nissues; i++)
		nlinks += bt->issues[i].nitems;
	u.nlinks = nlinks;
	links = ax_xmalloc((nlinks ? nlinks : 1) * sizeof(*links));
	e[SEC_ITEMS] = ax_xcalloc(bt->nitems + 1, sizeof(struct ent));
	e[SEC_RELATIONS] = ax_xcalloc(bt->nrelations + 1, sizeof(struct ent));
	e[SEC_ISSUES] = ax_xcalloc(bt->nissues + 1, sizeof(struct ent));
	e[SEC_LINKS] = ax_xcalloc(nlinks + 1, sizeof(struct ent));
	e[SEC_DOCS] = ax_xcalloc(bt->ndocs + 1, sizeof(struct ent));
	for (i = 0; i < bt->nitems; i++)
		e[SEC_ITEMS][n[SEC_ITEMS]++] = (struct ent){ { bt->items[i].id, NULL, NULL }, i };
	for (i = 0; i < bt->nrelations; i++)
		e[SEC_RELATIONS][n[SEC_RELATIONS]++] = (struct ent){
			{ bt->relations[i].from, bt->relations[i].kind, bt->relations[i].to }, i };
	for (i = 0; i < bt->nissues; i++) {
		e[SEC_ISSUES][n[SEC_ISSUES]++] =
			(struct ent){ { bt->issues[i].id, NULL, NULL }, i };
		for (j = 0; j < bt->issues[i].nitems; j++) {
			links[n[SEC_LINKS]][0] = i;
			links[n[SEC_LINKS]][1] = j;
			e[SEC_LINKS][n[SEC_LINKS]] = (struct ent){
				{ bt->issues[i].id, bt->issues[i].items[j], NULL }, n[SEC_LINKS] };
			n[SEC_LINKS]++;
		}
	}
	for (i = 0; i < bt->ndocs; i++)
		e[SEC_DOCS][n[SEC_DOCS]++] = (struct ent){ { bt->docs[i].id, NULL, NULL }, i };
	for (sec = 0; sec < 5; sec++)
		n[sec] = dedupe(e[sec], n[sec]);

	ax_ps_buf_init(&u.p);
	rc = begin(nj, false, errbuf, errlen);
	if (rc == AX_OK) {
		for (sec = 0; sec < 5 && rc == AX_OK; sec++)
			rc = put_section(&u, sec, e[sec], n[sec], links, changed[sec], errbuf,
					 errlen);
		rc = end(nj, rc, u.server_failed, errbuf, errlen);
	}
	ax_ps_buf_release(&u.p);
	for (sec = 0; sec < 5; sec++)
		free(e[sec]);
	free(links);
	return rc;
}

/* ---------------------------------------------------------------- traversal */

static ax_err item_exists_once(void *be, const char *tenant, const char *item, char *errbuf,
			       size_t errlen)
{
	struct nj *nj = be;
	struct ax_bolt_tx tx = { .read = true };
	struct ax_ps_buf p;
	struct one o = { 0 };
	ax_err rc = conn(nj, true, errbuf, errlen);

	if (rc != AX_OK)
		return rc;
	ax_ps_buf_init(&p);
	ax_ps_put_dict(&p, 2);
	ax_ps_put_cstr(&p, "tenant");
	ax_ps_put_cstr(&p, tenant);
	ax_ps_put_cstr(&p, "id");
	ax_ps_put_cstr(&p, item);
	rc = run(nj, "item exists", exists_sql, &p, &tx, one_row, &o, errbuf, errlen);
	ax_ps_buf_release(&p);
	if (rc != AX_OK)
		return rc;
	return o.i[0] > 0 ? AX_OK : AX_ENOTFOUND;
}

/* stmt with marker (its depth bound as written, at the cap) replaced by
 * the same with depth as the upper bound: "{1,10}" -> "{1,3}", "*0..9]"
 * -> "*0..2]".  depth is the validated integer graph.c passed
 * (1..AX_GRAPH_DEPTH_MAX, minus one for the neighbourhood's edges), never
 * text from outside. */
static char *with_depth(const char *stmt, const char *marker, int depth)
{
	const char *at = strstr(stmt, marker);
	const char *sep = strpbrk(marker, ",.");
	int lo = atoi(marker + 1);

	if (at == NULL || sep == NULL || strstr(at + 1, marker) != NULL || depth < lo ||
	    depth > AX_GRAPH_DEPTH_MAX)
		abort();   /* a statement above was edited without its marker */
	if (*sep == ',')
		return ax_xasprintf("%.*s{%d,%d}%s", (int)(at - stmt), stmt, lo, depth,
				    at + strlen(marker));
	return ax_xasprintf("%.*s*%d..%d]%s", (int)(at - stmt), stmt, lo, depth,
			    at + strlen(marker));
}

static void put_kinds(struct ax_ps_buf *p, const char *const *want)
{
	size_t n = 0, i;

	ax_ps_put_cstr(p, "kinds");
	if (want == NULL) {
		ax_ps_put_null(p);
		return;
	}
	while (want[n] != NULL)
		n++;
	ax_ps_put_list(p, (uint32_t)n);
	for (i = 0; i < n; i++)
		ax_ps_put_cstr(p, want[i]);
}

/* fanout_sql's answer: the allowed "item>edge" ids, re-encoded as they came. */
static int allowed_row(const struct ax_ps_value *fields, const struct ax_ps_value *values,
		       void *arg)
{
	struct ax_ps_buf *allowed = arg;
	const struct ax_ps_value *v = col(values, 0, AX_PS_LIST);

	(void)fields;
	if (v != NULL && allowed->len == 0)
		ax_ps_put_value(allowed, v);
	return 0;
}

struct walk_out {
	struct ax_graph_nodes *out;
	size_t cap;
	bool bad;
};

static int walk_row(const struct ax_ps_value *fields, const struct ax_ps_value *values, void *arg)
{
	struct walk_out *w = arg;
	const struct ax_ps_value *path = col(values, 5, AX_PS_LIST);
	struct ax_graph_node *x;
	uint32_t i;

	(void)fields;
	if (col(values, 0, AX_PS_STRING) == NULL || col(values, 3, AX_PS_INT) == NULL ||
	    path == NULL) {
		w->bad = true;
		return 1;
	}
	if (w->out->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->out->v = ax_xrealloc(w->out->v, (w->cap + 1) * sizeof(*w->out->v));
	}
	x = &w->out->v[w->out->n++];
	memset(x, 0, sizeof(*x));
	x->id = ax_xstrdup(col_str(values, 0));
	x->type = ax_xstrdup(col_str(values, 1));
	x->name = ax_xstrdup(col_str(values, 2));
	x->depth = (int)col(values, 3, AX_PS_INT)->u.i;
	x->via = ax_xstrdup(col_str(values, 4));
	x->path = ax_xcalloc(path->len + 1, sizeof(*x->path));
	for (i = 0; i < path->len; i++)
		x->path[x->npath++] = ax_xstrdup(path->u.items[i].type == AX_PS_STRING ?
						 path->u.items[i].u.s : "");
	return 0;
}

static ax_err blast_radius_once(void *be, const char *tenant, const char *item, int depth,
				int dir, const char *const *kinds_in, int fanout,
				struct ax_graph_nodes *out, char *errbuf, size_t errlen)
{
	struct nj *nj = be;
	struct walk_out w = { out, 0, false };
	struct ax_ps_buf p, allowed;
	struct one o = { 0 };
	char *q = NULL;
	bool sfail = false;
	ax_err rc;

	ax_ps_buf_init(&p);
	ax_ps_buf_init(&allowed);
	rc = begin(nj, true, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	ax_ps_put_dict(&p, 2);
	ax_ps_put_cstr(&p, "tenant");
	ax_ps_put_cstr(&p, tenant);
	ax_ps_put_cstr(&p, "id");
	ax_ps_put_cstr(&p, item);
	rc = run(nj, "blast radius", exists_sql, &p, NULL, one_row, &o, errbuf, errlen);
	sfail = rc != AX_OK;
	if (rc == AX_OK && o.i[0] == 0) {
		ax_errfmt(errbuf, errlen, "blast radius: no item '%s'", item);
		rc = AX_ENOTFOUND;
	}
	if (rc == AX_OK && fanout > 0) {
		q = with_depth(fanout_sql, "*0..9]", depth - 1);
		ax_ps_buf_reset(&p);
		ax_ps_put_dict(&p, 4);
		ax_ps_put_cstr(&p, "tenant");
		ax_ps_put_cstr(&p, tenant);
		ax_ps_put_cstr(&p, "id");
		ax_ps_put_cstr(&p, item);
		put_kinds(&p, kinds_in);
		ax_ps_put_cstr(&p, "fanout");
		ax_ps_put_int(&p, fanout);
		rc = run(nj, "neighbourhood", q, &p, NULL, allowed_row, &allowed, errbuf, errlen);
		sfail = rc != AX_OK;
		free(q);
		if (rc == AX_OK && allowed.len == 0)
			ax_ps_put_list(&allowed, 0);
	}
	if (rc == AX_OK) {
		q = with_depth(walk_sql[dir], "{1,10}", depth);
		ax_ps_buf_reset(&p);
		ax_ps_put_dict(&p, 4);
		ax_ps_put_cstr(&p, "tenant");
		ax_ps_put_cstr(&p, tenant);
		ax_ps_put_cstr(&p, "id");
		ax_ps_put_cstr(&p, item);
		put_kinds(&p, kinds_in);
		ax_ps_put_cstr(&p, "allowed");
		if (fanout > 0)
			ax_ps_buf_append(&p, allowed.data, allowed.len);
		else
			ax_ps_put_null(&p);
		rc = run(nj, "blast radius", q, &p, NULL, walk_row, &w, errbuf, errlen);
		sfail = rc != AX_OK;
		free(q);
		if (rc == AX_OK && w.bad) {
			ax_errfmt(errbuf, errlen, "neo4j: blast radius: a record of another shape");
			rc = AX_EPROTO;
		}
	}
	/* Read-only: COMMIT when it went well (nothing to write), else end it. */
	rc = end(nj, rc, sfail, errbuf, errlen);
	ax_ps_buf_release(&p);
	ax_ps_buf_release(&allowed);
	if (rc != AX_OK)
		ax_graph_nodes_release(out);
	return rc;
}

/* ---------------------------------------------------------------- search */

/* Lucene's query syntax characters (classic QueryParser), escaped with a
 * backslash in a term; within a phrase only '"' and '\' are special. */
static void lucene_term(char **s, const char *t, size_t n, bool phrase)
{
	static const char special[] = "\\+-!():^[]\"{}~*?|&/";
	size_t i, at = strlen(*s);
	char *out = ax_xrealloc(*s, at + 2 * n + 3);

	if (phrase)
		out[at++] = '"';
	for (i = 0; i < n; i++) {
		char c = t[i];

		if (c >= 'A' && c <= 'Z')   /* AND, OR, NOT are operators; the analyzer
					     * lower-cases anyway */
			c = (char)(c - 'A' + 'a');
		if (phrase ? (c == '"' || c == '\\') : strchr(special, c) != NULL)
			out[at++] = '\\';
		out[at++] = c;
	}
	if (phrase)
		out[at++] = '"';
	out[at] = '\0';
	*s = out;
}

/* The web-search syntax of graph.h (words all required, "a phrase",
 * -excluded, "or" between alternatives) as a Lucene query with the
 * tenant's term required: +tenant_term:T +((+a +b -c) (+d)).  NULL when
 * nothing positive is searched for (no hits, as Postgres answers for a
 * query of stop words; a query of exclusions only is not supported). */
static char *lucene_query(const char *tterm, const char *q)
{
	char *groups = ax_xstrdup(""), *cur = ax_xstrdup(""), *t;
	bool cur_pos = false, any = false;
	int ngroups = 0;

	for (;;) {
		bool neg = false, phrase = false;
		const char *w;
		size_t n;

		while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
			q++;
		if (*q == '-' && q[1] != '\0' && q[1] != ' ') {
			neg = true;
			q++;
		}
		if (*q == '"') {
			phrase = true;
			w = ++q;
			while (*q != '\0' && *q != '"')
				q++;
			n = (size_t)(q - w);
			if (*q == '"')
				q++;
		} else {
			w = q;
			while (*q != '\0' && *q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' &&
			       *q != '"')
				q++;
			n = (size_t)(q - w);
		}
		if (n == 0 && *q == '\0')
			break;
		if (n == 0)
			continue;
		if (!phrase && !neg && n == 2 && strncasecmp(w, "or", 2) == 0) {
			if (cur_pos) {
				t = ax_xasprintf("%s%s(%s)", groups, *groups ? " " : "", cur);
				free(groups);
				groups = t;
				ngroups++;
			}
			cur[0] = '\0';
			cur_pos = false;
			continue;
		}
		t = ax_xasprintf("%s%s%c", cur, *cur ? " " : "", neg ? '-' : '+');
		free(cur);
		cur = t;
		lucene_term(&cur, w, n, phrase);
		cur_pos |= !neg;
	}
	if (cur_pos) {
		t = ax_xasprintf("%s%s(%s)", groups, *groups ? " " : "", cur);
		free(groups);
		groups = t;
		ngroups++;
	}
	any = ngroups > 0;
	t = any ? ax_xasprintf("+tenant_term:%s +(%s)", tterm, groups) : NULL;
	free(groups);
	free(cur);
	return t;
}

static void put_indexes(struct ax_ps_buf *p, int mask, bool vec)
{
	int i, n = 0;

	for (i = 0; i < NKINDS; i++)
		n += (mask & kinds[i].kind) != 0;
	ax_ps_put_cstr(p, "indexes");
	ax_ps_put_list(p, (uint32_t)n);
	for (i = 0; i < NKINDS; i++)
		if (mask & kinds[i].kind)
			ax_ps_put_cstr(p, vec ? kinds[i].vec_index : kinds[i].text_index);
}

static int index_kind(const char *ix)
{
	int i;

	for (i = 0; i < NKINDS; i++)
		if (strcmp(ix, kinds[i].vec_index) == 0 || strcmp(ix, kinds[i].text_index) == 0)
			return kinds[i].kind;
	return 0;
}

struct hits_out {
	struct ax_graph_hits *out;
	size_t cap;
	bool bad;
};

static struct ax_graph_hit *hit_add(struct hits_out *h)
{
	struct ax_graph_hit *x;

	if (h->out->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 32;
		h->out->v = ax_xrealloc(h->out->v, (h->cap + 1) * sizeof(*h->out->v));
	}
	x = &h->out->v[h->out->n++];
	memset(x, 0, sizeof(*x));
	return x;
}

static int text_row(const struct ax_ps_value *fields, const struct ax_ps_value *values, void *arg)
{
	struct hits_out *h = arg;
	struct ax_graph_hit *x;
	int kind = index_kind(col_str(values, 0));

	(void)fields;
	if (kind == 0 || col(values, 1, AX_PS_STRING) == NULL) {
		h->bad = true;
		return 1;
	}
	x = hit_add(h);
	x->kind = kind;
	x->id = ax_xstrdup(col_str(values, 1));
	x->title = ax_xstrdup(col_str(values, 2));
	x->type = ax_xstrdup(col_str(values, 3));
	x->fts_score = col_num(values, 4);
	x->score = x->fts_score;
	x->fts_rank = (int)h->out->n;
	return 0;
}

static ax_err search_text_once(void *be, const char *tenant, const char *query, int mask,
			       size_t k, struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	struct nj *nj = be;
	struct ax_bolt_tx tx = { .read = true };
	struct hits_out h = { out, 0, false };
	char tterm[3 * AX_TENANT_MAX + 1], *lq;
	struct ax_ps_buf p;
	ax_err rc;

	tenant_term(tenant, tterm, sizeof(tterm));
	lq = lucene_query(tterm, query);
	if (lq == NULL)
		return AX_OK;
	rc = conn(nj, true, errbuf, errlen);
	if (rc != AX_OK) {
		free(lq);
		return rc;
	}
	ax_ps_buf_init(&p);
	ax_ps_put_dict(&p, 5);
	put_indexes(&p, mask, false);
	ax_ps_put_cstr(&p, "query");
	ax_ps_put_cstr(&p, lq);
	ax_ps_put_cstr(&p, "candidates");
	ax_ps_put_int(&p, AX_GRAPH_FTS_CANDIDATES);
	ax_ps_put_cstr(&p, "tenant");
	ax_ps_put_cstr(&p, tenant);
	ax_ps_put_cstr(&p, "k");
	ax_ps_put_int(&p, (int64_t)k);
	rc = run(nj, "full-text search", text_sql, &p, &tx, text_row, &h, errbuf, errlen);
	if (rc == AX_OK && h.bad) {
		ax_errfmt(errbuf, errlen, "neo4j: full-text search: a record of another shape");
		rc = AX_EPROTO;
	}
	ax_ps_buf_release(&p);
	free(lq);
	if (rc != AX_OK)
		ax_graph_hits_release(out);
	return rc;
}

struct vec_out {
	struct hits_out h;
	int64_t candidates;
	size_t k;
	bool short_;          /* an index had more to give than the tenant's hits it gave */
};

static int vec_row(const struct ax_ps_value *fields, const struct ax_ps_value *values, void *arg)
{
	struct vec_out *v = arg;
	const struct ax_ps_value *seen = col(values, 1, AX_PS_INT);
	const struct ax_ps_value *hits = col(values, 2, AX_PS_LIST);
	int kind = index_kind(col_str(values, 0));
	uint32_t i;

	(void)fields;
	if (kind == 0 || seen == NULL || hits == NULL) {
		v->h.bad = true;
		return 1;
	}
	if (hits->len < v->k && seen->u.i >= v->candidates)
		v->short_ = true;
	for (i = 0; i < hits->len; i++) {
		const struct ax_ps_value *r = &hits->u.items[i];
		struct ax_graph_hit *x;

		if (r->type != AX_PS_LIST || col(r, 0, AX_PS_STRING) == NULL) {
			v->h.bad = true;
			return 1;
		}
		x = hit_add(&v->h);
		x->kind = kind;
		x->id = ax_xstrdup(col_str(r, 0));
		x->title = ax_xstrdup(col_str(r, 1));
		x->type = ax_xstrdup(col_str(r, 2));
		x->vec_score = 2 * col_num(r, 3) - 1;   /* Neo4j's (1 + cos) / 2 -> cos */
		x->score = x->vec_score;
	}
	return 0;
}

static int by_vec(const void *a, const void *b)
{
	const struct ax_graph_hit *x = a, *y = b;

	if (x->vec_score != y->vec_score)
		return x->vec_score > y->vec_score ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The best k of the tenant's vectors.  The index ranks every tenant's
 * nodes together and cannot pre-filter, so candidates (k * VEC_FACTOR,
 * at least VEC_MIN) are fetched per index and the tenant's kept; when an
 * index gave fewer than k of the tenant's while it had more to give, the
 * search runs again with four times the candidates, up to VEC_MAX.  Past
 * that a tenant whose vectors are a small minority of a crowded index can
 * get fewer than k hits (docs/knowledge-graph.md). */
static ax_err search_vector_once(void *be, const char *tenant, const float *q, int mask,
				 size_t k, struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	struct nj *nj = be;
	struct ax_bolt_tx tx = { .read = true };
	struct vec_out v;
	struct ax_ps_buf p;
	int64_t cand = (int64_t)k * VEC_FACTOR;
	size_t i;
	ax_err rc = conn(nj, true, errbuf, errlen);

	if (rc != AX_OK)
		return rc;
	if (cand < VEC_MIN)
		cand = VEC_MIN;
	if (cand > VEC_MAX)
		cand = VEC_MAX;
	ax_ps_buf_init(&p);
	for (;;) {
		memset(&v, 0, sizeof(v));
		v.h.out = out;
		v.candidates = cand;
		v.k = k;
		ax_ps_buf_reset(&p);
		ax_ps_put_dict(&p, 6);
		put_indexes(&p, mask, true);
		ax_ps_put_cstr(&p, "candidates");
		ax_ps_put_int(&p, cand);
		ax_ps_put_cstr(&p, "vector");
		put_vec(&p, q);
		ax_ps_put_cstr(&p, "tenant");
		ax_ps_put_cstr(&p, tenant);
		ax_ps_put_cstr(&p, "embedder");
		ax_ps_put_cstr(&p, nj->embedder);
		ax_ps_put_cstr(&p, "k");
		ax_ps_put_int(&p, (int64_t)k);
		rc = run(nj, "vector search", vector_sql, &p, &tx, vec_row, &v, errbuf, errlen);
		if (rc == AX_OK && v.h.bad) {
			ax_errfmt(errbuf, errlen, "neo4j: vector search: a record of another "
				  "shape");
			rc = AX_EPROTO;
		}
		if (rc != AX_OK || !v.short_ || cand >= VEC_MAX)
			break;
		ax_graph_hits_release(out);
		cand = cand * 4 > VEC_MAX ? VEC_MAX : cand * 4;
	}
	ax_ps_buf_release(&p);
	if (rc != AX_OK) {
		ax_graph_hits_release(out);
		return rc;
	}
	qsort(out->v, out->n, sizeof(*out->v), by_vec);
	for (i = k; i < out->n; i++) {
		free(out->v[i].id);
		free(out->v[i].title);
		free(out->v[i].type);
	}
	if (out->n > k)
		out->n = k;
	for (i = 0; i < out->n; i++)
		out->v[i].vec_rank = (int)i + 1;
	return AX_OK;
}

/* ---------------------------------------------------------------- calls */

/* Each call: once, and once more when again() says so. */
static ax_err nj_upsert(void *be, const char *tenant, const struct ax_graph_batch *bt,
			const float *vectors, struct ax_graph_counts *counts, char *errbuf,
			size_t errlen)
{
	struct ax_graph_counts saved = *counts;
	int tries = 0;
	ax_err rc;

	do {
		*counts = saved;
		rc = upsert_once(be, tenant, bt, vectors, counts, errbuf, errlen);
	} while (again(be, rc, &tries));
	return rc;
}

static ax_err nj_item_exists(void *be, const char *tenant, const char *item, char *errbuf,
			     size_t errlen)
{
	int tries = 0;
	ax_err rc;

	do
		rc = item_exists_once(be, tenant, item, errbuf, errlen);
	while (again(be, rc, &tries));
	return rc;
}

static ax_err nj_blast_radius(void *be, const char *tenant, const char *item, int depth, int dir,
			      const char *const *kinds_in, int fanout, struct ax_graph_nodes *out,
			      char *errbuf, size_t errlen)
{
	int tries = 0;
	ax_err rc;

	do
		rc = blast_radius_once(be, tenant, item, depth, dir, kinds_in, fanout, out, errbuf,
				       errlen);
	while (again(be, rc, &tries));
	return rc;
}

static ax_err nj_search_text(void *be, const char *tenant, const char *query, int mask, size_t k,
			     struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	int tries = 0;
	ax_err rc;

	do
		rc = search_text_once(be, tenant, query, mask, k, out, errbuf, errlen);
	while (again(be, rc, &tries));
	return rc;
}

static ax_err nj_search_vector(void *be, const char *tenant, const float *q, int mask, size_t k,
			       struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	int tries = 0;
	ax_err rc;

	do
		rc = search_vector_once(be, tenant, q, mask, k, out, errbuf, errlen);
	while (again(be, rc, &tries));
	return rc;
}

const struct ax_graph_ops ax_graph_neo4j_ops = {
	.name = "neo4j",
	.open = nj_open,
	.close = nj_close,
	.upsert = nj_upsert,
	.item_exists = nj_item_exists,
	.blast_radius = nj_blast_radius,
	.search_text = nj_search_text,
	.search_vector = nj_search_vector,
	.search_both = NULL,
};
