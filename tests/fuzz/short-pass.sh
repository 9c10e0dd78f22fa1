#!/usr/bin/env bash
# tests/fuzz/short-pass.sh - the CI fuzzing pass, which tests/run counts as
# one test: `make fuzz-short` builds the harnesses into build-fuzz/
# (incremental) and runs scripts/fuzz --short: fuzz_normalize for 20 s,
# then fuzz_driver for 3 s on each of 20 sources, a window that moves
# along the source list each UTC day (FUZZ_ROTATE; see scripts/fuzz).
# About 110 s whatever the number of sources.  Exit 0 when no harness
# found anything; the findings are in .run/fuzz/crashes/.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT" || exit 1
exec make --no-print-directory -s -j2 fuzz-short
