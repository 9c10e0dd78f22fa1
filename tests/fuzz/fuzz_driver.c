/* fuzz_driver.c - libFuzzer harness for one source driver, named by the
 * environment variable ALEXUS_FUZZ_SOURCE (a name `alexus-ingest
 * --list-sources` prints): the same body as fuzz_normalize.c (fuzz_body.h)
 * with detection skipped, as for POST /v1/webhooks/{source}, so the named
 * driver alone judges every input, including those another driver would
 * have claimed first.
 *
 * One binary for every driver: scripts/fuzz runs it once per registered
 * source with a corpus of its own, so a driver added to the registry or a
 * profile added to ingest/profiles is fuzzed without an edit here. */
#include "fuzz_body.h"

static const char *source;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[600];
	size_t i;

	(void)argc;
	(void)argv;
	if (fuzz_setup(err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_driver: %s\n", err);
		exit(2);
	}
	source = getenv("ALEXUS_FUZZ_SOURCE");
	if (source == NULL || ingest_driver_find(source) == NULL) {
		fprintf(stderr, "fuzz_driver: ALEXUS_FUZZ_SOURCE %s%s%s; set it to one of:",
			source == NULL ? "is not set" : "names no registered source (\"",
			source == NULL ? "" : source, source == NULL ? "" : "\")");
		for (i = 0; i < ingest_driver_count(); i++)
			fprintf(stderr, " %s", ingest_driver_at(i)->name);
		fprintf(stderr, "\n");
		exit(2);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[768];

	if (fuzz_one(data, size, source, NULL, why, sizeof(why)) != 0) {
		fprintf(stderr, "fuzz_driver(%s): %s\n", source, why);
		abort();
	}
	return 0;
}
