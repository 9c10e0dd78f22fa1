/* fuzz_normalize.c - libFuzzer harness for ingest's request path with
 * detection: JSON parse (depth 64), header-aware detect + normalize over
 * every registered driver (built-ins, the declarative profiles of
 * ingest/profiles, generic), then the appender's serialisation and
 * reason's reading of each signal.  The input format (header lines, then
 * the body) and the promises checked are in fuzz_body.h.
 *
 * Built by `make fuzz` into build-fuzz/fuzz/ and run by scripts/fuzz from
 * the repository root (the profiles are read from there). */
#include "fuzz_body.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[600];

	(void)argc;
	(void)argv;
	if (fuzz_setup(err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_normalize: %s\n", err);
		exit(2);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[768];

	if (fuzz_one(data, size, NULL, NULL, why, sizeof(why)) != 0) {
		fprintf(stderr, "fuzz_normalize: %s\n", why);
		abort();
	}
	return 0;
}
