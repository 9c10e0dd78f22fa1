#!/usr/bin/env bash
# bolt_packstream.sh - PackStream checked both ways against the official
# Neo4j JavaScript driver (issue 8).
#
# The same vectors (tests/js/packstream_vectors.json: every type, every
# integer width boundary, string/bytes/list/dict sizes 15/16, 255/256,
# 65535/65536, and the Bolt 4.4 and 5.x structures) are encoded by the
# driver's Packer (tests/js/packstream.js) and by common/packstream.c
# (bin/bolt_pscheck); the bytes must be identical, the C decoder must read
# the driver's bytes back into the vector, and the driver's Unpacker must
# read ours back into its own types (Node, DateTime, Point...).
#
# Exit 77 (skipped) when node or tests/js/node_modules is missing
# (scripts/setup installs them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BIN=${ALEXUS_BIN_DIR:-$ROOT/bin}
JS=$ROOT/tests/js
VEC=$JS/packstream_vectors.json

if ! command -v node >/dev/null 2>&1; then
	echo "skip: node not installed (scripts/setup)"
	exit 77
fi
if [ ! -d "$JS/node_modules/neo4j-driver" ]; then
	echo "skip: $JS/node_modules missing (scripts/setup runs npm ci there)"
	exit 77
fi
if [ ! -x "$BIN/bolt_pscheck" ]; then
	echo "FAIL: $BIN/bolt_pscheck not built (make all)"
	exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

node "$JS/packstream.js" encode "$VEC" >"$TMP/js.hex"
"$BIN/bolt_pscheck" encode "$VEC" >"$TMP/c.hex"
n=$(wc -l <"$TMP/js.hex")
echo "vectors: $n"

fail=0
if ! cmp -s "$TMP/js.hex" "$TMP/c.hex"; then
	echo "FAIL: encodings differ for:"
	join <(sort "$TMP/js.hex") <(sort "$TMP/c.hex") -a1 -a2 -e MISSING -o 0,1.2,2.2 |
		awk '$2 != $3 { print "  " $1 ": js " substr($2, 1, 60) " c " substr($3, 1, 60) }'
	fail=1
else
	echo "encode: identical bytes from the driver and from C"
fi
"$BIN/bolt_pscheck" decode "$VEC" "$TMP/js.hex" || fail=1
node "$JS/packstream.js" decode "$VEC" "$TMP/c.hex" || fail=1
exit "$fail"
