/* test_graph_neo4j.c - the Neo4j graph backend (common/graph_neo4j.c)
 * against the scripted Bolt peer (tests/lib/boltpeer.c).
 *
 * For each operation the peer's script says exactly what Cypher the
 * backend sends (the statement texts are written out here again, not
 * taken from the backend, so a change to one is a failing test until the
 * other agrees; tests/e2e/graph_cypher_lint.sh lints the backend's copy)
 * and with which parameters, and answers with records in the shapes Neo4j
 * 5 gives; the test then checks what the backend made of them.  Also:
 * the schema created at first connection, database selection, a FAILURE
 * in the middle of a write transaction (RESET, nothing committed, the
 * connection still usable), a connection that breaks (AX_EIO, and the
 * next call connects again), an edge to a missing item (ROLLBACK,
 * AX_ENOTFOUND naming it), the depth cap written into the walk, Lucene
 * escaping of a web-search query with the tenant term, vector candidates
 * filtered and fetched again when too few were the tenant's, and hybrid
 * search through graph.c fusing the backend's two rankings. */
#define _GNU_SOURCE /* vasprintf */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "alexus/embed.h"
#include "alexus/graph.h"
#include "alexus/mem.h"
#include "boltpeer.h"

#define TENANT "acme-1"
#define TTERM "097099109101045049"   /* "acme-1", each byte as three digits */
#define DB "alexus"
#define RW "{\"db\": \"" DB "\"}"
#define RO "{\"mode\": \"r\", \"db\": \"" DB "\"}"
#define EMB "test-emb"

/* ----------------------------------------------------------- the statements */

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
	"CYPHER 5 CALL db.awaitIndexes(300)",
};

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

static const char rels_check_sql[] =
	"CYPHER 5 UNWIND $rows AS r "
	"OPTIONAL MATCH (a:Item {tenant: $tenant, id: r.from}) "
	"OPTIONAL MATCH (b:Item {tenant: $tenant, id: r.to}) "
	"WITH r, a, b WHERE a IS NULL OR b IS NULL "
	"RETURN r.n AS n, a IS NULL AS no_from ORDER BY n LIMIT 1";

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

/* The neighbourhood's edge statement at depth 2 (items within 1 hop). */
static const char fanout_sql_d2[] =
	"CYPHER 5 MATCH (s:Item {tenant: $tenant, id: $id}) "
	"MATCH (s)-[:REL*0..1]-(n:Item) WHERE n.tenant = $tenant "
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

/* The walk: arrow is the hop's relationship, depth written in. */
static char *walk_sql(const char *arrow, int depth)
{
	return ax_xasprintf(
		"CYPHER 5 MATCH (s:Item {tenant: $tenant, id: $id}) "
		"MATCH p = ALL SHORTEST (s) ((a:Item)%s(b:Item) WHERE b.tenant = $tenant "
		"AND ($kinds IS NULL OR r.kind IN $kinds) "
		"AND ($allowed IS NULL OR elementId(a) + '>' + elementId(r) IN $allowed)){1,%d} "
		"(x:Item) WHERE x <> s "
		"WITH x, p ORDER BY [v IN nodes(p) | v.id] "
		"WITH x, collect(p)[0] AS p "
		"RETURN x.id AS id, x.type AS type, x.name AS name, length(p) AS depth, "
		"last(relationships(p)).kind AS via, [v IN nodes(p) | v.id] AS path "
		"ORDER BY depth, id LIMIT 10000", arrow, depth);
}

static const char text_sql[] =
	"CYPHER 5 UNWIND $indexes AS ix "
	"CALL db.index.fulltext.queryNodes(ix, $query, {limit: $candidates}) "
	"YIELD node, score WHERE node.tenant = $tenant "
	"RETURN ix, node.id AS id, coalesce(node.name, node.title) AS title, "
	"coalesce(node.type, node.kind, 'doc') AS type, score "
	"ORDER BY score DESC, CASE ix WHEN 'item_text' THEN 1 WHEN 'issue_text' THEN 2 ELSE 4 END, "
	"id LIMIT $k";

static const char vector_sql[] =
	"CYPHER 5 UNWIND $indexes AS ix "
	"CALL db.index.vector.queryNodes(ix, $candidates, $vector) YIELD node, score "
	"WITH ix, collect({node: node, score: score}) AS got "
	"RETURN ix, size(got) AS seen, "
	"[h IN got WHERE h.node.tenant = $tenant AND h.node.embedder = $embedder | "
	"[h.node.id, coalesce(h.node.name, h.node.title), "
	"coalesce(h.node.type, h.node.kind, 'doc'), h.score]][..$k] AS hits";

/* ----------------------------------------------------------- scripts */

struct sb {
	char *s;
	size_t len;
};

static void add(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	char *t;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&t, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	b->s = ax_xrealloc(b->s, b->len + (size_t)n + 1);
	memcpy(b->s + b->len, t, (size_t)n + 1);
	b->len += (size_t)n;
	free(t);
}

/* A string in the script's JSON notation. */
static char *js(const char *s)
{
	cJSON *j = cJSON_CreateString(s);
	char *out = cJSON_PrintUnformatted(j);

	cJSON_Delete(j);
	return out;
}

/* The client's RUN and PULL of one statement, the answer's header. */
static void run(struct sb *b, const char *stmt, const char *params, const char *extra,
		const char *fields)
{
	char *q = js(stmt);

	add(b, "C: RUN %s %s %s\nC: PULL {\"n\": 1000}\nS: SUCCESS {\"fields\": %s}\n", q, params,
	    extra, fields);
	free(q);
}

static void done(struct sb *b)
{
	add(b, "S: SUCCESS {\"type\": \"r\"}\n");
}

/* Connection, authentication and the schema of the first call. */
static void prelude(struct sb *b)
{
	size_t i;

	add(b, "!: BOLT 5.4\n"
	       "C: HELLO {\"user_agent\": {\"$any\": 0}}\n"
	       "S: SUCCESS {\"server\": \"Neo4j/5.26.0\", \"connection_id\": \"bolt-1\"}\n"
	       "C: LOGON {\"scheme\": \"basic\", \"principal\": \"neo4j\", \"credentials\": \"secret\"}\n"
	       "S: SUCCESS {}\n");
	for (i = 0; i < sizeof(schema) / sizeof(schema[0]); i++) {
		run(b, schema[i], "{}", RW, "[]");
		add(b, "S: SUCCESS {}\n");
	}
}

/* Connection and authentication only (a pool's later connections). */
static void hello_only(struct sb *b)
{
	add(b, "!: BOLT 5.4\n"
	       "C: HELLO {\"user_agent\": {\"$any\": 0}}\n"
	       "S: SUCCESS {\"server\": \"Neo4j/5.26.0\", \"connection_id\": \"bolt-2\"}\n"
	       "C: LOGON {\"scheme\": \"basic\", \"principal\": \"neo4j\", "
	       "\"credentials\": \"secret\"}\n"
	       "S: SUCCESS {}\n");
}

static void ending(struct sb *b)
{
	add(b, "?C: RESET\nS: SUCCESS {}\n");
}

/* ----------------------------------------------------------- fixtures */

static struct boltpeer *peer;
static void *be;
static char err[512];

static void start(struct sb *b)
{
	struct ax_graph_config c = { 0 };
	char e[256] = "", uri[64];

	peer = bp_start(b->s, e, sizeof(e));
	if (peer == NULL)
		fail_msg("peer: %s", e);
	free(b->s);
	b->s = NULL;
	b->len = 0;
	snprintf(uri, sizeof(uri), "bolt://127.0.0.1:%d", bp_port(peer));
	c.backend = "neo4j";
	c.neo4j_uri = uri;
	c.neo4j_user = "neo4j";
	c.neo4j_password = "secret";
	c.neo4j_database = DB;
	be = ax_graph_neo4j_ops.open(&c, EMB, err, sizeof(err));
	assert_non_null(be);
	err[0] = '\0';
}

static void finish(void)
{
	char why[512] = "";

	ax_graph_neo4j_ops.close(be);
	be = NULL;
	if (bp_finish(peer, 5000, why, sizeof(why)))
		fail_msg("peer: %s", why);
	peer = NULL;
}

static float *vectors(size_t n, const float *vals)
{
	float *v = ax_xmalloc(n * AX_EMBED_DIM * sizeof(float));
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < AX_EMBED_DIM; j++)
			v[i * AX_EMBED_DIM + j] = vals[i];
	return v;
}

/* ----------------------------------------------------------- open */

static void test_open(void **state)
{
	struct ax_graph_config c = { .backend = "neo4j" };
	struct ax_embedder *emb;
	struct ax_graph *g;

	(void)state;
	unsetenv("NEO4J_URI");
	unsetenv("ALEXUS_EMBED_URL");
	emb = ax_embedder_from_env(err, sizeof(err));
	assert_non_null(emb);
	assert_null(ax_graph_open(&c, emb, err, sizeof(err)));
	assert_string_equal(err, "graph: neo4j backend needs NEO4J_URI");
	c.neo4j_uri = "http://127.0.0.1:7474";
	assert_null(ax_graph_open(&c, emb, err, sizeof(err)));
	assert_non_null(strstr(err, "NEO4J_URI 'http://127.0.0.1:7474' is not a bolt://"));
	c.backend = "mongo";
	assert_null(ax_graph_open(&c, emb, err, sizeof(err)));
	assert_non_null(strstr(err, "known: postgres, neo4j"));
	/* ALEXUS_GRAPH and NEO4J_* from the environment; nothing connects yet. */
	setenv("ALEXUS_GRAPH", "neo4j", 1);
	setenv("NEO4J_URI", "neo4j+s://graph.example:7688", 1);
	g = ax_graph_open_env(NULL, emb, err, sizeof(err));
	assert_non_null(g);
	assert_string_equal(ax_graph_backend(g), "neo4j");
	ax_graph_close(g);
	unsetenv("ALEXUS_GRAPH");
	unsetenv("NEO4J_URI");
	ax_embedder_free(emb);
}

/* ----------------------------------------------------------- upsert */

static void test_upsert(void **state)
{
	/* "web" twice: the later entry wins; a relation twice: sent once. */
	struct ax_graph_item items[] = {
		{ "web", "service", "Old name", NULL },
		{ "db", "managed_database", "Orders DB", "{\"engine\": \"postgres\", \"size\": 3}" },
		{ "web", "service", "Storefront", "{\"team\":\"shop\"}" },
	};
	struct ax_graph_relation rels[] = {
		{ "web", "depends_on", "db" },
		{ "web", "depends_on", "db" },
	};
	const char *touched[] = { "db" };
	struct ax_graph_issue issues[] = {
		{ "inc-1", "incident", "Pool exhausted", "body", NULL, touched, 1 },
	};
	struct ax_graph_doc docs[] = { { "rb-1", "Runbook", NULL, "rb.md" } };
	struct ax_graph_batch bt = { items, 3, rels, 2, issues, 1, docs, 1 };
	struct ax_graph_counts counts = { 0 };
	float *v = vectors(5, (const float[]){ 0.125f, 0.25f, 0.375f, 0.5f, 0.75f });
	struct sb b = { 0 };

	(void)state;
	prelude(&b);
	add(&b, "C: BEGIN " RW "\nS: SUCCESS {}\n");
	run(&b, items_sql,
	    "{\"tenant\": \"" TENANT "\", \"tenant_term\": \"" TTERM "\", \"embedder\": \"" EMB "\","
	    " \"rows\": ["
	    "{\"id\": \"db\", \"type\": \"managed_database\", \"name\": \"Orders DB\","
	    " \"attributes\": \"{\\\"engine\\\":\\\"postgres\\\",\\\"size\\\":3}\","
	    " \"type_text\": \"managed database\", \"attr_text\": \"postgres\","
	    " \"embedding\": {\"$list\": [0.25, 1536]}},"
	    "{\"id\": \"web\", \"type\": \"service\", \"name\": \"Storefront\","
	    " \"attributes\": \"{\\\"team\\\":\\\"shop\\\"}\", \"type_text\": \"service\","
	    " \"attr_text\": \"shop\", \"embedding\": {\"$list\": [0.375, 1536]}}]}",
	    "{}", "[\"changed\"]");
	add(&b, "S: RECORD [2]\n");
	done(&b);
	run(&b, rels_check_sql,
	    "{\"tenant\": \"" TENANT "\", \"rows\": [{\"n\": 1, \"from\": \"web\","
	    " \"kind\": \"depends_on\", \"to\": \"db\"}]}", "{}", "[\"n\", \"no_from\"]");
	done(&b);
	run(&b, rels_sql,
	    "{\"tenant\": \"" TENANT "\", \"rows\": [{\"n\": 1, \"from\": \"web\","
	    " \"kind\": \"depends_on\", \"to\": \"db\"}]}", "{}", "[\"created\"]");
	add(&b, "S: RECORD [1]\n");
	done(&b);
	run(&b, issues_sql,
	    "{\"tenant\": \"" TENANT "\", \"tenant_term\": \"" TTERM "\", \"embedder\": \"" EMB "\","
	    " \"rows\": [{\"id\": \"inc-1\", \"kind\": \"incident\", \"title\": \"Pool exhausted\","
	    " \"body\": \"body\", \"fix\": \"\", \"embedding\": {\"$list\": [0.5, 1536]}}]}",
	    "{}", "[\"changed\"]");
	add(&b, "S: RECORD [1]\n");
	done(&b);
	run(&b, links_check_sql,
	    "{\"tenant\": \"" TENANT "\", \"rows\": [{\"n\": 0, \"issue\": \"inc-1\","
	    " \"item\": \"db\"}]}", "{}", "[\"n\"]");
	done(&b);
	run(&b, links_sql,
	    "{\"tenant\": \"" TENANT "\", \"rows\": [{\"n\": 0, \"issue\": \"inc-1\","
	    " \"item\": \"db\"}]}", "{}", "[\"created\"]");
	add(&b, "S: RECORD [1]\n");
	done(&b);
	run(&b, docs_sql,
	    "{\"tenant\": \"" TENANT "\", \"tenant_term\": \"" TTERM "\", \"embedder\": \"" EMB "\","
	    " \"rows\": [{\"id\": \"rb-1\", \"title\": \"Runbook\", \"body\": \"\","
	    " \"source\": \"rb.md\", \"embedding\": {\"$list\": [0.75, 1536]}}]}",
	    "{}", "[\"changed\"]");
	add(&b, "S: RECORD [0]\n");
	done(&b);
	add(&b, "C: COMMIT\nS: SUCCESS {\"bookmark\": \"FB:1\"}\n");
	ending(&b);
	start(&b);
	assert_int_equal(ax_graph_neo4j_ops.upsert(be, TENANT, &bt, v, &counts, err, sizeof(err)),
			 AX_OK);
	assert_int_equal(counts.items, 2);
	assert_int_equal(counts.relations, 1);
	assert_int_equal(counts.issues, 1);
	assert_int_equal(counts.links, 1);
	assert_int_equal(counts.docs, 0);   /* unchanged: the server counted 0 */
	finish();
	free(v);
}

/* An edge to an item the tenant does not have: named, rolled back. */
static void test_upsert_missing_item(void **state)
{
	struct ax_graph_relation rels[] = {
		{ "web", "depends_on", "db" },
		{ "web", "runs_on", "node-9" },
	};
	struct ax_graph_batch bt = { .relations = rels, .nrelations = 2 };
	const char *touched[] = { "web", "ghost" };
	struct ax_graph_issue is = { "inc-2", "incident", "Ghost", NULL, NULL, touched, 2 };
	struct ax_graph_batch bt2 = { .issues = &is, .nissues = 1 };
	float *v = vectors(1, (const float[]){ 0.5f });
	struct ax_graph_counts counts = { 0 };
	struct sb b = { 0 };

	(void)state;
	prelude(&b);
	add(&b, "C: BEGIN " RW "\nS: SUCCESS {}\n");
	run(&b, rels_check_sql,
	    "{\"tenant\": \"" TENANT "\", \"rows\": ["
	    "{\"n\": 0, \"from\": \"web\", \"kind\": \"depends_on\", \"to\": \"db\"},"
	    "{\"n\": 1, \"from\": \"web\", \"kind\": \"runs_on\", \"to\": \"node-9\"}]}",
	    "{}", "[\"n\", \"no_from\"]");
	add(&b, "S: RECORD [1, false]\n");
	done(&b);
	add(&b, "C: ROLLBACK\nS: SUCCESS {}\n");
	/* An Issue linked to an item that does not exist. */
	add(&b, "C: BEGIN " RW "\nS: SUCCESS {}\n");
	run(&b, issues_sql, "{\"tenant\": \"" TENANT "\", \"rows\": [{\"id\": \"inc-2\"}]}", "{}",
	    "[\"changed\"]");
	add(&b, "S: RECORD [1]\n");
	done(&b);
	run(&b, links_check_sql,
	    "{\"tenant\": \"" TENANT "\", \"rows\": ["
	    "{\"n\": 0, \"issue\": \"inc-2\", \"item\": \"web\"},"
	    "{\"n\": 1, \"issue\": \"inc-2\", \"item\": \"ghost\"}]}", "{}", "[\"n\"]");
	add(&b, "S: RECORD [1]\n");
	done(&b);
	add(&b, "C: ROLLBACK\nS: SUCCESS {}\n");
	ending(&b);
	start(&b);
	assert_int_equal(ax_graph_neo4j_ops.upsert(be, TENANT, &bt, NULL, &counts, err, sizeof(err)),
			 AX_ENOTFOUND);
	assert_string_equal(err, "relation 'web' runs_on 'node-9': no item 'node-9'");
	assert_int_equal(ax_graph_neo4j_ops.upsert(be, TENANT, &bt2, v, &counts, err, sizeof(err)),
			 AX_ENOTFOUND);
	assert_string_equal(err, "issue 'inc-2': no item 'ghost'");
	finish();
	free(v);
}

/* The connection breaks after COMMIT went out: AX_EIO, saying the outcome
 * is unknown (not "nothing written"). */
static void test_commit_unanswered(void **state)
{
	struct ax_graph_relation rels[] = { { "web", "depends_on", "db" } };
	struct ax_graph_batch bt = { .relations = rels, .nrelations = 1 };
	struct ax_graph_counts counts = { 0 };
	struct sb b = { 0 };

	(void)state;
	prelude(&b);
	add(&b, "C: BEGIN " RW "\nS: SUCCESS {}\n");
	run(&b, rels_check_sql, "{\"tenant\": \"" TENANT "\"}", "{}", "[\"n\", \"no_from\"]");
	done(&b);
	run(&b, rels_sql, "{\"tenant\": \"" TENANT "\"}", "{}", "[\"created\"]");
	add(&b, "S: RECORD [1]\n");
	done(&b);
	add(&b, "C: COMMIT\nS: <CLOSE>\n");
	start(&b);
	assert_int_equal(ax_graph_neo4j_ops.upsert(be, TENANT, &bt, NULL, &counts, err, sizeof(err)),
			 AX_EIO);
	assert_non_null(strstr(err, "neo4j: connection lost before COMMIT was answered, the "
				    "transaction may or may not be written"));
	finish();
}

/* A FAILURE in the middle of the transaction: RESET (rolls it back; a
 * failed transaction takes nothing else), the error with Neo4j's code,
 * and the same connection serves the next call. */
static void test_upsert_failure_mid_tx(void **state)
{
	const char *touched[] = { "db" };
	struct ax_graph_issue issues[] = {
		{ "inc-1", "incident", "Pool exhausted", NULL, NULL, touched, 1 },
	};
	struct ax_graph_batch bt = { .issues = issues, .nissues = 1 };
	struct ax_graph_counts counts = { 0 };
	float *v = vectors(1, (const float[]){ 0.5f });
	struct sb b = { 0 };
	char *q;

	(void)state;
	prelude(&b);
	add(&b, "C: BEGIN " RW "\nS: SUCCESS {}\n");
	run(&b, issues_sql, "{\"tenant\": \"" TENANT "\"}", "{}", "[\"changed\"]");
	add(&b, "S: RECORD [1]\n");
	done(&b);
	run(&b, links_check_sql, "{\"tenant\": \"" TENANT "\"}", "{}", "[\"n\"]");
	done(&b);
	q = js(links_sql);
	add(&b, "C: RUN %s {} {}\nC: PULL {\"n\": 1000}\n", q);
	free(q);
	add(&b, "S: FAILURE {\"code\": \"Neo.TransientError.Transaction.DeadlockDetected\","
		" \"message\": \"ForsetiClient[1] can't acquire ExclusiveLock\"}\n"
		"S: IGNORED\n"
		"C: RESET\nS: SUCCESS {}\n");
	run(&b, exists_sql, "{\"tenant\": \"" TENANT "\", \"id\": \"db\"}", RO, "[\"n\"]");
	add(&b, "S: RECORD [1]\n");
	done(&b);
	ending(&b);
	start(&b);
	assert_int_equal(ax_graph_neo4j_ops.upsert(be, TENANT, &bt, v, &counts, err, sizeof(err)),
			 AX_EIO);
	assert_string_equal(err, "neo4j: links: Neo.TransientError.Transaction.DeadlockDetected: "
				 "ForsetiClient[1] can't acquire ExclusiveLock");
	assert_int_equal(ax_graph_neo4j_ops.item_exists(be, TENANT, "db", err, sizeof(err)), AX_OK);
	finish();
	free(v);
}

/* A connection that breaks under a call: the pool discards it and the
 * call runs once more on a new connection (no schema this time: once per
 * pool), which answers.  When the retry's connection breaks too, the call
 * fails with "connection lost"; with the server gone, the next call says
 * it cannot connect. */
static void test_broken_connection(void **state)
{
	struct sb b = { 0 }, b2 = { 0 }, b3 = { 0 };
	struct boltpeer *p2, *p3;
	char want[128], why[512] = "", e[256] = "";
	int port;

	(void)state;
	prelude(&b);
	run(&b, exists_sql, "{\"tenant\": \"" TENANT "\", \"id\": \"web\"}", RO, "[\"n\"]");
	add(&b, "S: <CLOSE>\n");
	start(&b);
	port = bp_port(peer);
	hello_only(&b2);
	run(&b2, exists_sql, "{\"tenant\": \"" TENANT "\", \"id\": \"web\"}", RO, "[\"n\"]");
	add(&b2, "S: RECORD [1]\n");
	done(&b2);
	p2 = bp_start_also(peer, b2.s, e, sizeof(e));
	if (p2 == NULL)
		fail_msg("peer: %s", e);
	free(b2.s);
	assert_int_equal(ax_graph_neo4j_ops.item_exists(be, TENANT, "web", err, sizeof(err)),
			 AX_OK);
	if (bp_finish(peer, 5000, why, sizeof(why)))
		fail_msg("peer: %s", why);
	peer = p2;

	/* the pooled connection (p2's) breaks, and so does the retry's (p3's) */
	hello_only(&b3);
	run(&b3, exists_sql, "{\"tenant\": \"" TENANT "\", \"id\": \"web\"}", RO, "[\"n\"]");
	add(&b3, "S: <CLOSE>\n");
	p3 = bp_start_also(peer, b3.s, e, sizeof(e));
	if (p3 == NULL)
		fail_msg("peer: %s", e);
	free(b3.s);
	/* p2's script is over: it is stopped (its "did not end" is expected),
	 * which closes the idle connection under the pool */
	(void)bp_finish(p2, 0, why, sizeof(why));
	peer = p3;
	assert_int_equal(ax_graph_neo4j_ops.item_exists(be, TENANT, "web", err, sizeof(err)),
			 AX_EIO);
	assert_non_null(strstr(err, "neo4j: item exists: connection lost"));
	if (bp_finish(peer, 5000, why, sizeof(why)))
		fail_msg("peer: %s", why);
	peer = NULL;
	assert_int_equal(ax_graph_neo4j_ops.item_exists(be, TENANT, "web", err, sizeof(err)),
			 AX_EIO);
	snprintf(want, sizeof(want), "neo4j: connecting to 127.0.0.1:%d: ", port);
	assert_non_null(strstr(err, want));
	ax_graph_neo4j_ops.close(be);
	be = NULL;
}

/* neo4j://: the router's table names a writer and a reader; the schema
 * (a write) goes to the writer, the read to the reader. */
static void test_routing(void **state)
{
	struct ax_graph_config c = { 0 };
	struct sb w = { 0 }, r = { 0 }, rt = { 0 };
	struct boltpeer *pw, *pr, *prt;
	char e[256] = "", uri[64], why[512] = "";

	(void)state;
	prelude(&w);
	pw = bp_start(w.s, e, sizeof(e));
	assert_non_null(pw);
	hello_only(&r);
	run(&r, exists_sql, "{\"tenant\": \"" TENANT "\", \"id\": \"web\"}", RO, "[\"n\"]");
	add(&r, "S: RECORD [1]\n");
	done(&r);
	pr = bp_start(r.s, e, sizeof(e));
	assert_non_null(pr);
	add(&rt, "!: BOLT 5.4\n"
		 "C: HELLO {\"user_agent\": {\"$any\": 0}, \"routing\": {\"address\": "
		 "{\"$any\": 0}}}\n"
		 "S: SUCCESS {\"server\": \"Neo4j/5.26.0\"}\n"
		 "C: LOGON {\"scheme\": \"basic\", \"principal\": \"neo4j\", "
		 "\"credentials\": \"secret\"}\n"
		 "S: SUCCESS {}\n"
		 "C: ROUTE {\"address\": {\"$any\": 0}} [] {\"db\": \"" DB "\"}\n"
		 "S: SUCCESS {\"rt\": {\"ttl\": 300, \"db\": \"" DB "\", \"servers\": ["
		 "{\"addresses\": [\"127.0.0.1:%d\"], \"role\": \"WRITE\"}, "
		 "{\"addresses\": [\"127.0.0.1:%d\"], \"role\": \"READ\"}, "
		 "{\"addresses\": [\"127.0.0.1:1\"], \"role\": \"ROUTE\"}]}}\n",
	    bp_port(pw), bp_port(pr));
	prt = bp_start(rt.s, e, sizeof(e));
	assert_non_null(prt);
	snprintf(uri, sizeof(uri), "neo4j://127.0.0.1:%d", bp_port(prt));
	c.backend = "neo4j";
	c.neo4j_uri = uri;
	c.neo4j_user = "neo4j";
	c.neo4j_password = "secret";
	c.neo4j_database = DB;
	be = ax_graph_neo4j_ops.open(&c, EMB, err, sizeof(err));
	assert_non_null(be);
	if (ax_graph_neo4j_ops.item_exists(be, TENANT, "web", err, sizeof(err)) != AX_OK)
		fail_msg("item_exists: %s", err);
	ax_graph_neo4j_ops.close(be);
	be = NULL;
	if (bp_finish(prt, 5000, why, sizeof(why)) || bp_finish(pw, 5000, why, sizeof(why)) ||
	    bp_finish(pr, 5000, why, sizeof(why)))
		fail_msg("peer: %s", why);
	free(w.s);
	free(r.s);
	free(rt.s);
}

/* ----------------------------------------------------------- traversal */

static void test_blast_radius(void **state)
{
	const char *kinds[] = { "depends_on", "runs_on", NULL };
	struct ax_graph_nodes out = { 0 };
	char *walk = walk_sql("<-[r:REL]-", 3);
	struct sb b = { 0 };

	(void)state;
	prelude(&b);
	add(&b, "C: BEGIN " RO "\nS: SUCCESS {}\n");
	run(&b, exists_sql, "{\"tenant\": \"" TENANT "\", \"id\": \"db\"}", "{}", "[\"n\"]");
	add(&b, "S: RECORD [1]\n");
	done(&b);
	run(&b, walk, "{\"tenant\": \"" TENANT "\", \"id\": \"db\","
	    " \"kinds\": [\"depends_on\", \"runs_on\"], \"allowed\": null}", "{}",
	    "[\"id\", \"type\", \"name\", \"depth\", \"via\", \"path\"]");
	add(&b, "S: RECORD [\"api\", \"service\", \"Orders API\", 1, \"depends_on\", [\"db\", \"api\"]]\n"
		"S: RECORD [\"web\", \"service\", \"Storefront\", 2, \"depends_on\","
		" [\"db\", \"api\", \"web\"]]\n");
	done(&b);
	add(&b, "C: COMMIT\nS: SUCCESS {}\n");
	/* The second call: an item the tenant does not have. */
	add(&b, "C: BEGIN " RO "\nS: SUCCESS {}\n");
	run(&b, exists_sql, "{\"tenant\": \"" TENANT "\", \"id\": \"nope\"}", "{}", "[\"n\"]");
	add(&b, "S: RECORD [0]\n");
	done(&b);
	add(&b, "C: ROLLBACK\nS: SUCCESS {}\n");
	ending(&b);
	start(&b);
	assert_int_equal(ax_graph_neo4j_ops.blast_radius(be, TENANT, "db", 3, AX_GRAPH_IN, kinds, 0,
							 &out, err, sizeof(err)), AX_OK);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.v[0].id, "api");
	assert_string_equal(out.v[0].type, "service");
	assert_string_equal(out.v[0].name, "Orders API");
	assert_int_equal(out.v[0].depth, 1);
	assert_string_equal(out.v[0].via, "depends_on");
	assert_int_equal(out.v[0].npath, 2);
	assert_string_equal(out.v[1].id, "web");
	assert_int_equal(out.v[1].depth, 2);
	assert_int_equal(out.v[1].npath, 3);
	assert_string_equal(out.v[1].path[0], "db");
	assert_string_equal(out.v[1].path[1], "api");
	assert_string_equal(out.v[1].path[2], "web");
	ax_graph_nodes_release(&out);
	assert_int_equal(ax_graph_neo4j_ops.blast_radius(be, TENANT, "nope", 3, AX_GRAPH_IN, NULL,
							 0, &out, err, sizeof(err)), AX_ENOTFOUND);
	assert_string_equal(err, "blast radius: no item 'nope'");
	assert_int_equal(out.n, 0);
	finish();
	free(walk);
}

/* The neighbourhood: the edges each item may follow first, then the walk
 * (both directions, depth 2) over those edges only. */
static void test_neighbourhood(void **state)
{
	struct ax_graph_nodes out = { 0 };
	char *walk = walk_sql("-[r:REL]-", 2);
	struct sb b = { 0 };

	(void)state;
	prelude(&b);
	add(&b, "C: BEGIN " RO "\nS: SUCCESS {}\n");
	run(&b, exists_sql, "{\"tenant\": \"" TENANT "\", \"id\": \"node-1\"}", "{}", "[\"n\"]");
	add(&b, "S: RECORD [1]\n");
	done(&b);
	run(&b, fanout_sql_d2, "{\"tenant\": \"" TENANT "\", \"id\": \"node-1\", \"kinds\": null,"
	    " \"fanout\": 2}", "{}", "[\"allowed\"]");
	add(&b, "S: RECORD [[\"4:a:1>5:a:1\", \"4:a:2>5:a:7\"]]\n");
	done(&b);
	run(&b, walk, "{\"tenant\": \"" TENANT "\", \"id\": \"node-1\", \"kinds\": null,"
	    " \"allowed\": [\"4:a:1>5:a:1\", \"4:a:2>5:a:7\"]}", "{}",
	    "[\"id\", \"type\", \"name\", \"depth\", \"via\", \"path\"]");
	add(&b, "S: RECORD [\"api\", \"service\", \"Orders API\", 1, \"runs_on\","
		" [\"node-1\", \"api\"]]\n");
	done(&b);
	add(&b, "C: COMMIT\nS: SUCCESS {}\n");
	ending(&b);
	start(&b);
	assert_int_equal(ax_graph_neo4j_ops.blast_radius(be, TENANT, "node-1", 2, AX_GRAPH_BOTH,
							 NULL, 2, &out, err, sizeof(err)), AX_OK);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.v[0].via, "runs_on");
	ax_graph_nodes_release(&out);
	finish();
	free(walk);
}

/* ----------------------------------------------------------- search */

static void test_search_text(void **state)
{
	struct ax_graph_hits h = { 0 };
	char *lq = js("+tenant_term:" TTERM " +((+payments +\"connection pool\" -database)"
		      " (+redis\\* +a\\:b +\\(x\\)))");
	struct sb b = { 0 };
	char params[512];

	(void)state;
	prelude(&b);
	snprintf(params, sizeof(params),
		 "{\"indexes\": [\"item_text\", \"doc_text\"], \"query\": %s, \"candidates\": 1000,"
		 " \"tenant\": \"" TENANT "\", \"k\": 5}", lq);
	run(&b, text_sql, params, RO, "[\"ix\", \"id\", \"title\", \"type\", \"score\"]");
	add(&b, "S: RECORD [\"doc_text\", \"rb-db\", \"Runbook: connection pool\", \"doc\", 2.5]\n"
		"S: RECORD [\"item_text\", \"payments\", \"Payments Service\", \"service\", 1.25]\n");
	done(&b);
	/* An excluded phrase, Lucene's operators as words, an unterminated
	 * phrase; Issues only. */
	free(lq);
	lq = js("+tenant_term:" TTERM " +((-\"old host\" +new\\-host +\\|\\| +x\\&\\&y\\!"
		" +\"unterminated\"))");
	snprintf(params, sizeof(params), "{\"indexes\": [\"issue_text\"], \"query\": %s}", lq);
	run(&b, text_sql, params, RO, "[\"ix\", \"id\", \"title\", \"type\", \"score\"]");
	done(&b);
	ending(&b);
	start(&b);
	assert_int_equal(ax_graph_neo4j_ops.search_text(be, TENANT, "Payments \"connection pool\""
							" -database OR Redis* a:b (x)",
							AX_GRAPH_ITEM | AX_GRAPH_DOC, 5, &h, err,
							sizeof(err)), AX_OK);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.v[0].kind, AX_GRAPH_DOC);
	assert_string_equal(h.v[0].id, "rb-db");
	assert_string_equal(h.v[0].type, "doc");
	assert_int_equal(h.v[0].fts_rank, 1);
	assert_true(h.v[0].fts_score == 2.5 && h.v[0].score == 2.5);
	assert_int_equal(h.v[1].kind, AX_GRAPH_ITEM);
	assert_string_equal(h.v[1].title, "Payments Service");
	assert_int_equal(h.v[1].fts_rank, 2);
	assert_int_equal(h.v[1].vec_rank, 0);
	ax_graph_hits_release(&h);
	assert_int_equal(ax_graph_neo4j_ops.search_text(be, TENANT, "-\"old host\" NEW-host || "
							"x&&y! \"unterminated", AX_GRAPH_ISSUE,
							5, &h, err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
	/* Nothing positive to search for: no hits, nothing sent. */
	assert_int_equal(ax_graph_neo4j_ops.search_text(be, TENANT, " or -x ", AX_GRAPH_ALL, 5, &h,
							err, sizeof(err)), AX_OK);
	assert_int_equal(h.n, 0);
	finish();
	free(lq);
}

static void test_search_vector(void **state)
{
	struct ax_graph_hits h = { 0 };
	float *q = vectors(1, (const float[]){ 0.5f });
	struct sb b = { 0 };

	(void)state;
	prelude(&b);
	/* k 2: 100 candidates; the Item index gave 100 (so more exist) but
	 * two of this tenant: enough. */
	run(&b, vector_sql, "{\"indexes\": [\"item_embedding\", \"issue_embedding\","
	    " \"doc_embedding\"], \"candidates\": 100, \"vector\": {\"$list\": [0.5, 1536]},"
	    " \"tenant\": \"" TENANT "\", \"embedder\": \"" EMB "\", \"k\": 2}", RO,
	    "[\"ix\", \"seen\", \"hits\"]");
	add(&b, "S: RECORD [\"item_embedding\", 100, [[\"api\", \"Orders API\", \"service\", 0.875],"
		" [\"db\", \"Orders DB\", \"database\", 0.75]]]\n"
		"S: RECORD [\"doc_embedding\", 3, [[\"rb-1\", \"Runbook\", \"doc\", 0.9375]]]\n");
	done(&b);
	/* k 3, Issues only: one of 100 was the tenant's, so again with 400. */
	run(&b, vector_sql, "{\"indexes\": [\"issue_embedding\"], \"candidates\": 100,"
	    " \"k\": 3}", RO, "[\"ix\", \"seen\", \"hits\"]");
	add(&b, "S: RECORD [\"issue_embedding\", 100, [[\"inc-1\", \"Pool\", \"incident\", 0.625]]]\n");
	done(&b);
	run(&b, vector_sql, "{\"indexes\": [\"issue_embedding\"], \"candidates\": 400,"
	    " \"k\": 3}", RO, "[\"ix\", \"seen\", \"hits\"]");
	add(&b, "S: RECORD [\"issue_embedding\", 230, [[\"inc-1\", \"Pool\", \"incident\", 0.625],"
		" [\"ke-2\", \"Known\", \"known_error\", 0.5625]]]\n");
	done(&b);
	ending(&b);
	start(&b);
	assert_int_equal(ax_graph_neo4j_ops.search_vector(be, TENANT, q, AX_GRAPH_ALL, 2, &h, err,
							  sizeof(err)), AX_OK);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.v[0].id, "rb-1");         /* (1 + cos) / 2 = 0.9375: cos 0.875 */
	assert_int_equal(h.v[0].kind, AX_GRAPH_DOC);
	assert_true(h.v[0].vec_score == 0.875 && h.v[0].score == 0.875);
	assert_int_equal(h.v[0].vec_rank, 1);
	assert_string_equal(h.v[1].id, "api");
	assert_true(h.v[1].vec_score == 0.75);
	assert_int_equal(h.v[1].vec_rank, 2);
	assert_int_equal(h.v[1].fts_rank, 0);
	ax_graph_hits_release(&h);
	assert_int_equal(ax_graph_neo4j_ops.search_vector(be, TENANT, q, AX_GRAPH_ISSUE, 3, &h, err,
							  sizeof(err)), AX_OK);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.v[1].id, "ke-2");
	assert_string_equal(h.v[1].type, "known_error");
	assert_true(h.v[1].vec_score == 0.125);
	ax_graph_hits_release(&h);
	finish();
	free(q);
}

/* Through graph.c (ALEXUS_GRAPH=neo4j, NEO4J_* from the environment, the
 * local embedder): hybrid search asks the backend for both rankings, 50
 * deep, and fuses them. */
static void test_hybrid_through_graph(void **state)
{
	struct ax_embedder *emb;
	struct ax_graph *g;
	struct ax_graph_hits h = { 0 };
	struct sb b = { 0 };
	char uri[64], e[256] = "";
	char *lq = js("+tenant_term:" TTERM " +((+orders +db))");
	char params[512];

	(void)state;
	prelude(&b);
	snprintf(params, sizeof(params),
		 "{\"indexes\": [\"item_text\", \"issue_text\", \"doc_text\"], \"query\": %s,"
		 " \"k\": 50}", lq);
	run(&b, text_sql, params, RO, "[\"ix\", \"id\", \"title\", \"type\", \"score\"]");
	add(&b, "S: RECORD [\"item_text\", \"db\", \"Orders DB\", \"database\", 3.5]\n"
		"S: RECORD [\"item_text\", \"api\", \"Orders API\", \"service\", 1.5]\n");
	done(&b);
	run(&b, vector_sql, "{\"candidates\": 500, \"vector\": {\"$any\": 0},"
	    " \"embedder\": \"local-hash-v1\", \"k\": 50}", RO, "[\"ix\", \"seen\", \"hits\"]");
	add(&b, "S: RECORD [\"item_embedding\", 12, [[\"api\", \"Orders API\", \"service\", 0.9],"
		" [\"db\", \"Orders DB\", \"database\", 0.8], [\"web\", \"Web\", \"service\", 0.7]]]\n");
	done(&b);
	ending(&b);
	peer = bp_start(b.s, e, sizeof(e));
	free(b.s);
	assert_non_null(peer);
	snprintf(uri, sizeof(uri), "bolt://127.0.0.1:%d", bp_port(peer));
	setenv("ALEXUS_GRAPH", "neo4j", 1);
	setenv("NEO4J_URI", uri, 1);
	setenv("NEO4J_USER", "neo4j", 1);
	setenv("NEO4J_PASSWORD", "secret", 1);
	setenv("NEO4J_DATABASE", DB, 1);
	unsetenv("ALEXUS_EMBED_URL");
	emb = ax_embedder_from_env(err, sizeof(err));
	g = ax_graph_open_env(NULL, emb, err, sizeof(err));
	assert_non_null(g);
	if (ax_graph_search_hybrid(g, TENANT, "orders db", AX_GRAPH_ALL, 2, &h, err, sizeof(err)))
		fail_msg("hybrid: %s", err);
	assert_int_equal(h.n, 2);
	/* db: fts 1, vec 2; api: fts 2, vec 1 -> equal fused scores; ties by
	 * best single rank (both 1), then kind, then id: api first. */
	assert_string_equal(h.v[0].id, "api");
	assert_int_equal(h.v[0].fts_rank, 2);
	assert_int_equal(h.v[0].vec_rank, 1);
	assert_string_equal(h.v[1].id, "db");
	assert_true(h.v[0].score == 1.0 / 62 + 1.0 / 61);
	assert_true(h.v[1].vec_score > 0.6 - 1e-12 && h.v[1].vec_score < 0.6 + 1e-12);
	ax_graph_hits_release(&h);
	ax_graph_close(g);
	ax_embedder_free(emb);
	{
		char why[512] = "";

		if (bp_finish(peer, 5000, why, sizeof(why)))
			fail_msg("peer: %s", why);
		peer = NULL;
	}
	unsetenv("ALEXUS_GRAPH");
	unsetenv("NEO4J_URI");
	unsetenv("NEO4J_USER");
	unsetenv("NEO4J_PASSWORD");
	unsetenv("NEO4J_DATABASE");
	free(lq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_upsert),
		cmocka_unit_test(test_upsert_missing_item),
		cmocka_unit_test(test_upsert_failure_mid_tx),
		cmocka_unit_test(test_commit_unanswered),
		cmocka_unit_test(test_broken_connection),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_blast_radius),
		cmocka_unit_test(test_neighbourhood),
		cmocka_unit_test(test_search_text),
		cmocka_unit_test(test_search_vector),
		cmocka_unit_test(test_hybrid_through_graph),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
