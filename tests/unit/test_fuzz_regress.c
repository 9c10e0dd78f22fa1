/* test_fuzz_regress.c - replays what the fuzzers found, and the fixtures,
 * through the fuzz harnesses' own body (tests/fuzz/fuzz_body.h).
 *
 * Every file in tests/fixtures/fuzz/ is an input a harness once crashed
 * on (or broke a promise of ingest_normalize with); each one runs with
 * detection, as fuzz_normalize ran it, and under every registered source
 * by name, as fuzz_driver would, and must come back clean.  Inputs are
 * bytes in the harness format (header lines, then the body), so a file
 * from .run/fuzz/crashes/ is copied here unchanged.
 *
 * The webhook and profile fixtures go through the same body, with the
 * headers their folder's headers.json lists for them written in front as
 * the harness format says: that checks the header convention reaches the
 * drivers (the header count is read back from headers.json) and that the
 * promises fuzz_one checks hold on real payloads, so a fuzz finding is a
 * driver's fault, not the harness's.
 *
 * Under build-asan/ a crash, leak or UBSan report fails the binary;
 * gcc's -fsanitize=undefined leaves out float-cast-overflow, which
 * clang's (the fuzz build) has, so some findings only reproduce in
 * build-fuzz/ (scripts/fuzz replays this folder as seeds). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../fuzz/fuzz_body.h"

#define FUZZ_FIX "tests/fixtures/fuzz"

/* The whole file, or NULL when it cannot be read. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = ax_xmalloc((size_t)n + 1);
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

/* Sorted names of the regular, non-hidden files of dir that end in
 * suffix (NULL = any); *n receives the count.  NULL when dir is absent. */
static char **list_dir(const char *dir, const char *suffix, size_t *n)
{
	struct dirent **ent;
	char **names;
	int k, i;

	*n = 0;
	k = scandir(dir, &ent, NULL, alphasort);
	if (k < 0)
		return NULL;
	names = ax_xcalloc((size_t)k + 1, sizeof(*names));
	for (i = 0; i < k; i++) {
		const char *nm = ent[i]->d_name;
		size_t l = strlen(nm), sl = suffix != NULL ? strlen(suffix) : 0;

		if (nm[0] != '.' && strncmp(nm, "README", 6) != 0 &&
		    (suffix == NULL || (l > sl && strcmp(nm + l - sl, suffix) == 0)) &&
		    ent[i]->d_type != DT_DIR)
			names[(*n)++] = ax_xstrdup(nm);
		free(ent[i]);
	}
	free(ent);
	return names;
}

static void free_list(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Run data with detection and under every registered source; print
 * what, which source and why for each broken promise and return how many
 * broke (so one run lists every failing file, not just the first). */
static int run_everywhere(const char *what, const uint8_t *data, size_t len,
			  struct fuzz_result *detected)
{
	char why[768];
	int bad = 0;
	size_t i;

	if (fuzz_one(data, len, NULL, detected, why, sizeof(why)) != 0) {
		print_error("%s (detection): %s\n", what, why);
		bad++;
	}
	for (i = 0; i < ingest_driver_count(); i++) {
		const char *src = ingest_driver_at(i)->name;
		struct fuzz_result r;

		if (fuzz_one(data, len, src, &r, why, sizeof(why)) != 0) {
			print_error("%s (source %s): %s\n", what, src, why);
			bad++;
		}
	}
	return bad;
}

static void test_regressions(void **state)
{
	size_t n, i, len;
	char **names, path[512];
	int bad = 0;

	(void)state;
	names = list_dir(FUZZ_FIX, NULL, &n);
	if (names == NULL)
		fail_msg("%s is missing (run the tests from the repository root)", FUZZ_FIX);
	for (i = 0; i < n; i++) {
		uint8_t *data;

		snprintf(path, sizeof(path), "%s/%s", FUZZ_FIX, names[i]);
		data = slurp(path, &len);
		if (data == NULL)
			fail_msg("cannot read %s", path);
		bad += run_everywhere(path, data, len, NULL);
		free(data);
	}
	print_message("%zu regression inputs x (detection + %zu sources)\n", n,
		      ingest_driver_count());
	free_list(names, n);
	if (bad > 0)
		fail_msg("%d broken promises on the inputs of %s (listed above)", bad, FUZZ_FIX);
}

/* The fixture in the harness format: its headers.json entry's headers as
 * "Name: value" lines, then its bytes.  *nhdr receives the line count. */
static uint8_t *with_headers(const char *dir, const char *name, const cJSON *hj, size_t *len,
			     int *nhdr)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(hj, name), "headers");
	const cJSON *e;
	char path[512];
	uint8_t *body, *out;
	size_t blen = 0, cap, off = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	body = slurp(path, &blen);
	if (body == NULL)
		fail_msg("cannot read %s", path);
	cap = blen + 1;
	cJSON_ArrayForEach(e, h) {
		if (cJSON_IsString(e))
			cap += strlen(e->string) + strlen(e->valuestring) + 3;
	}
	out = ax_xmalloc(cap);
	*nhdr = 0;
	cJSON_ArrayForEach(e, h) {
		if (!cJSON_IsString(e))
			continue;
		off += (size_t)snprintf((char *)out + off, cap - off, "%s: %s\n", e->string,
					e->valuestring);
		(*nhdr)++;
	}
	memcpy(out + off, body, blen);
	free(body);
	*len = off + blen;
	return out;
}

static int fixtures_in(const char *dir, size_t *total, size_t *with_hdr)
{
	char path[512], *text;
	size_t n, i, len = 0;
	char **names = list_dir(dir, ".json", &n);
	cJSON *hj = NULL;
	int bad = 0;

	if (names == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/headers.json", dir);
	text = (char *)slurp(path, &len);
	if (text != NULL) {
		hj = ax_json_parse(text, len, 64);
		free(text);
		if (hj == NULL)
			fail_msg("%s is not valid JSON", path);
	}
	for (i = 0; i < n; i++) {
		struct fuzz_result r;
		uint8_t *data;
		int nhdr;

		if (strcmp(names[i], "headers.json") == 0 ||
		    strstr(names[i], ".expect.json") != NULL)
			continue;
		data = with_headers(dir, names[i], hj, &len, &nhdr);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		bad += run_everywhere(path, data, len, &r);
		/* Every header line written in front was read back as one. */
		if (r.headers != nhdr)
			fail_msg("%s: %d header lines written, %d read", path, nhdr, r.headers);
		if (nhdr > 0)
			(*with_hdr)++;
		(*total)++;
		free(data);
	}
	cJSON_Delete(hj);
	free_list(names, n);
	return bad;
}

static void test_fixtures(void **state)
{
	size_t total = 0, with_hdr = 0;
	int bad;

	(void)state;
	bad = fixtures_in("tests/fixtures/webhooks", &total, &with_hdr);
	bad += fixtures_in("tests/fixtures/profiles", &total, &with_hdr);
	if (total == 0)
		fail_msg("no fixture in tests/fixtures/webhooks (run from the repository root)");
	print_message("%zu fixtures (%zu with headers) x (detection + %zu sources)\n", total,
		      with_hdr, ingest_driver_count());
	if (bad > 0)
		fail_msg("%d broken promises on the fixtures (listed above)", bad);
}

/* The header convention of fuzz_body.h, on inputs written here. */
static void test_header_prefix(void **state)
{
	static const char two[] = "X-GitHub-Event: deployment\r\n"
				  "x-amz-sns-message-type:  Notification\n"
				  "{\"name\": \"x\"}";
	static const char none[] = "{\"X-Not: a header\": 1}\n";
	static const char unterminated[] = "X-Only: no newline";
	static const char word[] = "true";
	struct ingest_input in = { NULL, fuzz_header, NULL };
	struct fuzz_headers h;
	size_t off;

	(void)state;
	off = fuzz_headers_split(&h, (const uint8_t *)two, strlen(two));
	in.hctx = &h;
	assert_int_equal(h.n, 2);
	assert_string_equal(two + off, "{\"name\": \"x\"}");
	assert_string_equal(fuzz_header(&in, "x-github-event"), "deployment");
	assert_string_equal(fuzz_header(&in, "X-AMZ-SNS-Message-Type"), "Notification");
	assert_null(fuzz_header(&in, "X-GitHub"));
	fuzz_headers_release(&h);

	off = fuzz_headers_split(&h, (const uint8_t *)none, strlen(none));
	assert_int_equal(h.n, 0);
	assert_int_equal(off, 0);
	fuzz_headers_release(&h);
	off = fuzz_headers_split(&h, (const uint8_t *)unterminated, strlen(unterminated));
	assert_int_equal(h.n, 0);
	assert_int_equal(off, 0);
	fuzz_headers_release(&h);
	off = fuzz_headers_split(&h, (const uint8_t *)word, strlen(word));
	assert_int_equal(h.n, 0);
	assert_int_equal(off, 0);
	fuzz_headers_release(&h);
}

static int setup(void **state)
{
	char err[600];

	(void)state;
	if (fuzz_setup(err, sizeof(err)) != 0) {
		fprintf(stderr, "test_fuzz_regress: %s\n", err);
		return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_prefix),
		cmocka_unit_test(test_regressions),
		cmocka_unit_test(test_fixtures),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
