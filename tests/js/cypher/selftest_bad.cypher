// cypher/selftest_bad.cypher - statements cypher_lint.js must refuse
// (tests/e2e/bolt_cypher_lint.sh): a syntax error, an undefined variable,
// and a statement without the CYPHER 5 prefix.
CYPHER 5 MATCH (n RETURN n

CYPHER 5 MATCH (n:Item) RETURN m

MATCH (n:Item) RETURN n
