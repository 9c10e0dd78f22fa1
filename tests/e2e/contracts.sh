#!/usr/bin/env bash
# contracts.sh - the documents the planes write match proto/'s JSON Schemas
# (the examples, every fixture's normalized signals, and every action
# payload the integration tests left in the test database): see
# contracts.py.  Debian's python3 and python3-jsonschema (scripts/setup);
# 77 (skipped) without them.
set -uo pipefail
PY=/usr/bin/python3
if ! "$PY" -c 'import jsonschema' 2>/dev/null; then
	echo "skipped: $PY cannot import jsonschema (scripts/setup installs python3-jsonschema)"
	exit 77
fi
exec "$PY" "$(dirname "$0")/contracts.py"
