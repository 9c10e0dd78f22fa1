#!/usr/bin/env bash
# bolt_peer.sh - the scripted Bolt peer (tests/lib/boltpeer.c, as
# bin/bolt_peer) proven faithful with Neo4j's official JavaScript driver
# (issue 8).
#
# For every script in tests/js/scripts (the same ones tests/unit/test_bolt.c
# runs the C client against): the peer serves it, the driver runs the
# matching scenario of tests/js/peer_client.js (session.run streamed in
# batches, FAILURE then RESET, explicit transactions with bookmarks, Bolt
# 4.4, a dropped connection, no common version), and both must be
# satisfied: the peer with every message the driver sent, the driver with
# every answer.  Routing: neo4j:// against a router peer whose table names
# a second peer, and one whose table names a writer and a reader (writes
# must reach the one, reads the other).  The streamed result once more over TLS (the driver
# verifying the peer's certificate).  Then a negative control: a script
# whose expectation the driver does not meet must make the peer report a
# mismatch.
#
# Exit 77 (skipped) when node or tests/js/node_modules is missing.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BIN=${ALEXUS_BIN_DIR:-$ROOT/bin}
JS=$ROOT/tests/js

if ! command -v node >/dev/null 2>&1; then
	echo "skip: node not installed (scripts/setup)"
	exit 77
fi
if [ ! -d "$JS/node_modules/neo4j-driver" ]; then
	echo "skip: $JS/node_modules missing (scripts/setup runs npm ci there)"
	exit 77
fi
if [ ! -x "$BIN/bolt_peer" ]; then
	echo "FAIL: $BIN/bolt_peer not built (make all)"
	exit 1
fi

TMP=$(mktemp -d)
PEER="" WRITER="" READER=""
cleanup() {
	if [ -n "$PEER" ]; then kill "$PEER" 2>/dev/null; wait "$PEER" 2>/dev/null; fi
	if [ -n "$WRITER" ]; then kill "$WRITER" 2>/dev/null; wait "$WRITER" 2>/dev/null; fi
	if [ -n "$READER" ]; then kill "$READER" 2>/dev/null; wait "$READER" 2>/dev/null; fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# run_case SCRIPT SCENARIO [PEER OPTIONS...] -> sets PEER_RC and JS_RC
run_case() {
	local script=$1 scenario=$2 port="" i
	shift 2
	: >"$TMP/port"
	"$BIN/bolt_peer" "$@" "$script" 15000 >"$TMP/port" 2>"$TMP/peer.log" &
	PEER=$!
	for i in $(seq 100); do
		port=$(head -n1 "$TMP/port")
		[ -n "$port" ] && break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		echo "  peer did not start: $(cat "$TMP/peer.log")"
		PEER_RC=2 JS_RC=2
		return
	fi
	timeout 30 node "$JS/peer_client.js" "$scenario" "$port" >"$TMP/js.log" 2>&1
	JS_RC=$?
	wait "$PEER"
	PEER_RC=$?
	PEER=""
}

passed=0 failed=0
for script in "$JS"/scripts/*.script; do
	name=$(basename "$script" .script)
	run_case "$script" "$name"
	if [ "$PEER_RC" = 0 ] && [ "$JS_RC" = 0 ]; then
		passed=$((passed + 1))
		echo "ok   $name: $(tail -n1 "$TMP/js.log")"
	else
		failed=$((failed + 1))
		echo "FAIL $name (peer $PEER_RC, driver $JS_RC)"
		sed 's/^/  peer: /' "$TMP/peer.log"
		sed 's/^/  js: /' "$TMP/js.log"
	fi
done

# Routing (neo4j://): a router peer hands out a table naming a second
# peer, which serves the streamed result.
"$BIN/bolt_peer" "$JS/scripts/stream.script" 15000 >"$TMP/writer.port" 2>"$TMP/writer.log" &
WRITER=$!
for i in $(seq 100); do
	[ -s "$TMP/writer.port" ] && break
	sleep 0.05
done
sed "s/@WRITER@/127.0.0.1:$(head -n1 "$TMP/writer.port")/g" "$JS/scripts/route.router" \
	>"$TMP/route.script"
run_case "$TMP/route.script" route
wait "$WRITER"
WRITER_RC=$?
WRITER=""
if [ "$PEER_RC" = 0 ] && [ "$JS_RC" = 0 ] && [ "$WRITER_RC" = 0 ]; then
	passed=$((passed + 1))
	echo "ok   route: $(tail -n1 "$TMP/js.log")"
else
	failed=$((failed + 1))
	echo "FAIL route (router $PEER_RC, writer $WRITER_RC, driver $JS_RC)"
	sed 's/^/  router: /' "$TMP/peer.log"
	sed 's/^/  writer: /' "$TMP/writer.log"
	sed 's/^/  js: /' "$TMP/js.log"
fi

# Routing with a writer and a reader: the table names two peers; the
# driver's write session must reach the writer (stream.script), its read
# session the reader (read.script).
start_side() { # SCRIPT PORTFILE LOGFILE -> pid in SIDE
	"$BIN/bolt_peer" "$1" 15000 >"$2" 2>"$3" &
	SIDE=$!
	for i in $(seq 100); do
		[ -s "$2" ] && break
		sleep 0.05
	done
}
start_side "$JS/scripts/stream.script" "$TMP/writer.port" "$TMP/writer.log"
WRITER=$SIDE
start_side "$JS/scripts/read.script" "$TMP/reader.port" "$TMP/reader.log"
READER=$SIDE
sed -e "s/@WRITER@/127.0.0.1:$(head -n1 "$TMP/writer.port")/g" \
	-e "s/@READER@/127.0.0.1:$(head -n1 "$TMP/reader.port")/g" \
	"$JS/scripts/route_rw.router" >"$TMP/route_rw.script"
run_case "$TMP/route_rw.script" route_rw
wait "$WRITER"
WRITER_RC=$?
WRITER=""
wait "$READER"
READER_RC=$?
READER=""
if [ "$PEER_RC" = 0 ] && [ "$JS_RC" = 0 ] && [ "$WRITER_RC" = 0 ] && [ "$READER_RC" = 0 ]; then
	passed=$((passed + 1))
	echo "ok   route_rw: $(tail -n1 "$TMP/js.log")"
else
	failed=$((failed + 1))
	echo "FAIL route_rw (router $PEER_RC, writer $WRITER_RC, reader $READER_RC, driver $JS_RC)"
	sed 's/^/  router: /' "$TMP/peer.log"
	sed 's/^/  writer: /' "$TMP/writer.log"
	sed 's/^/  reader: /' "$TMP/reader.log"
	sed 's/^/  js: /' "$TMP/js.log"
fi

# TLS: the streamed result again, over TLS, the driver verifying the
# peer's certificate (made here, for 127.0.0.1, valid one day).
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
	-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >"$TMP/openssl.log" 2>&1; then
	BOLT_TLS_CA=$TMP/cert.pem run_case "$JS/scripts/stream.script" stream \
		--tls "$TMP/cert.pem" "$TMP/key.pem"
	if [ "$PEER_RC" = 0 ] && [ "$JS_RC" = 0 ]; then
		passed=$((passed + 1))
		echo "ok   stream over TLS: $(tail -n1 "$TMP/js.log")"
	else
		failed=$((failed + 1))
		echo "FAIL stream over TLS (peer $PEER_RC, driver $JS_RC)"
		sed 's/^/  peer: /' "$TMP/peer.log"
		sed 's/^/  js: /' "$TMP/js.log"
	fi
else
	failed=$((failed + 1))
	echo "FAIL could not make a certificate: $(cat "$TMP/openssl.log")"
fi

# Negative control: the driver sends limit 3, this script wants 4.
sed 's/{"limit": 3}/{"limit": 4}/' "$JS/scripts/stream.script" >"$TMP/wrong.script"
run_case "$TMP/wrong.script" stream
if [ "$PEER_RC" = 1 ] && grep -q 'MISMATCH.*expected RUN: limit: want 4, got 3' "$TMP/peer.log"; then
	passed=$((passed + 1))
	echo "ok   negative control: $(grep -o 'MISMATCH.*' "$TMP/peer.log" | cut -c1-100)"
else
	failed=$((failed + 1))
	echo "FAIL negative control: peer exit $PEER_RC"
	cat "$TMP/peer.log"
fi

echo "bolt_peer: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
