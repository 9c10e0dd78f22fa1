/* cypher/selftest_good.c - statements in the shape the Neo4j graph backend
 * will send (C literals, adjacent ones joined); tests/e2e/bolt_cypher_lint.sh
 * expects cypher_lint.js to pass them.  Not compiled. */
static const char *const stmts[] = {
	"CYPHER 5 MATCH (i:Item {tenant: $tenant, id: $id}) RETURN i",
	"CYPHER 5 CREATE VECTOR INDEX item_embedding IF NOT EXISTS FOR (i:Item) ON i.embedding "
	"OPTIONS {indexConfig: {`vector.dimensions`: 1536, `vector.similarity_function`: 'cosine'}}",
	"CYPHER 5 CREATE FULLTEXT INDEX item_text IF NOT EXISTS FOR (i:Item) ON EACH [i.name]",
	"CYPHER 5 MATCH p = (a:Item {tenant: $tenant, id: $id})-[:DEPENDS_ON*1..3]->(b:Item) "
	"WHERE b.tenant = $tenant RETURN p",
	"not a statement: ignored, it does not start with CYPHER",
};
