/* test_web.c - the dashboard's files as ingest serves them (ingest/web.c):
 * byte for byte the files in ingest/web/, every file the page refers to
 * is served, nothing else is, and the page keeps to its content security
 * policy (no inline script or handler, nothing from another origin). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../ingest/web.h"
#include "alexus/mem.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s (run from the repository root)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = ax_xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("cannot read %s", path);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_same_bytes(void **state)
{
	static const char *const files[][2] = { { "/ui/", "ingest/web/index.html" },
						{ "/ui/app.js", "ingest/web/app.js" },
						{ "/ui/app.css", "ingest/web/app.css" },
						{ "/ui/favicon.svg", "ingest/web/favicon.svg" } };
	size_t i, len;
	(void)state;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const struct ingest_asset *a = ingest_web_asset(files[i][0]);
		char *want = slurp(files[i][1], &len);

		assert_non_null(a);
		assert_true(len > 100 || strstr(files[i][1], ".svg") != NULL);
		assert_true(len > 0);
		assert_int_equal((size_t)(a->end - a->data), len);
		assert_memory_equal(a->data, want, len);
		assert_non_null(a->content_type);
		free(want);
	}
	assert_null(ingest_web_asset("/ui/../README.md"));
	assert_null(ingest_web_asset("/ui/index.html.bak"));
	assert_null(ingest_web_asset("/"));
	assert_null(ingest_web_asset(""));
}

static void test_page_refs_and_csp(void **state)
{
	const struct ingest_asset *page = ingest_web_asset("/ui/");
	char *html = ax_xmalloc((size_t)(page->end - page->data) + 1), *p;
	int refs = 0;
	(void)state;

	memcpy(html, page->data, (size_t)(page->end - page->data));
	html[page->end - page->data] = '\0';
	/* Every src= / href= to a file of ours is one we serve. */
	for (p = html; (p = strstr(p, "=\"/ui/")) != NULL; p++) {
		char ref[128];
		size_t n = strcspn(p + 2, "\"");

		assert_true(n < sizeof(ref));
		memcpy(ref, p + 2, n);
		ref[n] = '\0';
		if (ingest_web_asset(ref) == NULL)
			fail_msg("index.html refers to %s, which ingest does not serve", ref);
		refs++;
	}
	assert_int_equal(refs, 3);
	/* What the CSP would block: inline script, inline handlers, other origins. */
	assert_null(strstr(html, "<script>"));
	assert_null(strstr(html, " onclick="));
	assert_null(strstr(html, " onload="));
	assert_null(strstr(html, "http://"));
	assert_null(strstr(html, "https://"));
	assert_non_null(strstr(INGEST_WEB_CSP, "script-src 'self'"));
	free(html);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_bytes),
		cmocka_unit_test(test_page_refs_and_csp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
