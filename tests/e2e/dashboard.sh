#!/usr/bin/env bash
# dashboard.sh - the dashboard end to end in headless Chromium: see
# tests/web/dashboard.js.  Needs Debian's chromium and node, and
# playwright-core in tests/web/node_modules (scripts/setup installs all
# three); 77 (skipped) without them.
set -uo pipefail
cd "$(dirname "$0")/../web" || exit 1
for need in node /usr/bin/chromium; do
	if ! command -v "$need" >/dev/null 2>&1; then
		echo "skipped: $need not found (scripts/setup installs it)"
		exit 77
	fi
done
if [ ! -d node_modules/playwright-core ]; then
	echo "skipped: tests/web/node_modules/playwright-core missing (scripts/setup runs npm ci)"
	exit 77
fi
exec node dashboard.js
