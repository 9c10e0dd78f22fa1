#!/usr/bin/env bash
# graph_cypher_lint.sh - every Cypher statement the Neo4j graph backend
# (common/graph_neo4j.c) sends, linted by Neo4j's own language support
# (tests/js/cypher_lint.js over npm @neo4j-cypher/language-support, pinned),
# as issue 8 asks:
#   - the linter passes the file: every C literal starting "CYPHER " (adjacent
#     literals joined) has the "CYPHER 5 " prefix and no error;
#   - no statement escapes it: every literal of the file that reads as Cypher
#     (a MATCH, MERGE, UNWIND, CREATE, CALL or RETURN clause) starts with
#     "CYPHER 5 ", and the linter counted exactly that many statements;
#   - a negative control: the same file with one statement broken fails.
# The walks' depth bound is written at the cap ({1,10}) and replaced by the
# validated depth when sent (with_depth in the backend): the text linted is
# the text sent at the cap.
#
# Exit 77 (skipped) when node or tests/js/node_modules is missing.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
JS=$ROOT/tests/js
SRC=$ROOT/common/graph_neo4j.c

if ! command -v node >/dev/null 2>&1; then
	echo "skip: node not installed (scripts/setup)"
	exit 77
fi
if [ ! -d "$JS/node_modules/@neo4j-cypher/language-support" ]; then
	echo "skip: $JS/node_modules missing (scripts/setup runs npm ci there)"
	exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fail=0
out=$(cd "$JS" && node cypher_lint.js "$SRC" 2>&1)
rc=$?
echo "$out"
if [ "$rc" != 0 ] || ! grep -qE '^cypher lint: [0-9]+ statements, 0 errors$' <<<"$out"; then
	echo "FAIL: the backend's statements do not all lint clean"
	fail=1
fi
linted=$(sed -nE 's/^cypher lint: ([0-9]+) statements.*/\1/p' <<<"$out")

# The literals that read as Cypher, found the way cypher_lint.js finds
# literals (comments dropped, adjacent literals joined).
cypher=$(node -e '
const text = require("fs").readFileSync(process.argv[1], "utf8")
  .replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ");
const lit = /"((?:[^"\\\n]|\\.)*)"/g;
const out = []; let cur = null, end = -1, m;
while ((m = lit.exec(text)) !== null) {
  if (cur !== null && /^\s*$/.test(text.slice(end, m.index))) cur += m[1];
  else { if (cur !== null) out.push(cur); cur = m[1]; }
  end = lit.lastIndex;
}
if (cur !== null) out.push(cur);
let n = 0, bad = 0;
for (const s of out) {
  if (!/\b(MATCH|MERGE|UNWIND|CREATE|CALL|RETURN)\b/.test(s)) continue;
  n++;
  if (!s.startsWith("CYPHER 5 ")) { bad++; console.error("not prefixed: " + s.slice(0, 70)); }
}
console.log(n + " " + bad);
' "$SRC")
read -r ncypher nbad <<<"$cypher"
echo "statements in the source: $ncypher, without the CYPHER 5 prefix: $nbad"
if [ "${nbad:-1}" != 0 ] || [ "${ncypher:-0}" != "${linted:-x}" ] || [ "${ncypher:-0}" -lt 20 ]; then
	echo "FAIL: $ncypher Cypher literals in the source, $linted linted, $nbad unprefixed"
	fail=1
fi

# Negative control: one statement broken must fail the lint.
sed 's/RETURN count(n) AS changed/RETURN count(n AS changed/' "$SRC" >"$TMP/broken.c"
if cmp -s "$SRC" "$TMP/broken.c"; then
	echo "FAIL: the negative control found nothing to break"
	fail=1
fi
out=$(cd "$JS" && node cypher_lint.js "$TMP/broken.c" 2>&1)
rc=$?
if [ "$rc" = 0 ] || ! grep -q ': error: ' <<<"$out"; then
	echo "$out"
	echo "FAIL: a broken statement passed the lint"
	fail=1
fi
[ "$fail" = 0 ] && echo "ok: $linted statements of common/graph_neo4j.c lint clean"
exit "$fail"
