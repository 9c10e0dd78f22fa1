#!/usr/bin/env bash
# bolt_cypher_lint.sh - the Cypher linter of issue 8 (tests/js/cypher_lint.js,
# Neo4j's @neo4j-cypher/language-support, pinned) checked on itself before
# the Neo4j graph backend exists to feed it: statements in the backend's
# shape (C literals, CYPHER 5 prefix, vector and full-text index DDL,
# variable-length paths) pass, and a syntax error, an undefined variable
# and a missing prefix are each reported.
#
# Exit 77 (skipped) when node or tests/js/node_modules is missing.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
JS=$ROOT/tests/js

if ! command -v node >/dev/null 2>&1; then
	echo "skip: node not installed (scripts/setup)"
	exit 77
fi
if [ ! -d "$JS/node_modules/@neo4j-cypher/language-support" ]; then
	echo "skip: $JS/node_modules missing (scripts/setup runs npm ci there)"
	exit 77
fi

fail=0
out=$(cd "$JS" && node cypher_lint.js cypher/selftest_good.c 2>&1)
rc=$?
echo "$out"
if [ "$rc" != 0 ] || ! grep -qx 'cypher lint: 4 statements, 0 errors' <<<"$out"; then
	echo "FAIL: the good statements were not all accepted"
	fail=1
fi

out=$(cd "$JS" && node cypher_lint.js cypher/selftest_bad.cypher 2>&1)
rc=$?
echo "$out"
for want in "Invalid input 'RETURN'" 'Variable `m` not defined' 'no "CYPHER 5 " prefix' \
	'cypher lint: 3 statements, 3 errors'; do
	if ! grep -qF "$want" <<<"$out"; then
		echo "FAIL: not reported: $want"
		fail=1
	fi
done
if [ "$rc" != 1 ]; then
	echo "FAIL: bad statements did not fail the run (exit $rc)"
	fail=1
fi
exit "$fail"
