/* test_openapi.c - proto/openapi.json on its own (no server; the live walk
 * is tests/integration/itest_openapi.c), and the API's RFC 3339 check.
 *
 *   document   OpenAPI 3.1, every $ref resolves, every operation has an
 *              operationId (unique) and documents its refusals: 401 when
 *              it needs a credential, 403 when it names a role
 *              (x-alexus-role), 405; every 4xx/5xx JSON body is the Error
 *              schema, whose required properties are error and message.
 *   rfc3339    what GET /v1/incidents takes for since/until. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../../ingest/api.h"

static cJSON *load(void)
{
	FILE *f = fopen("proto/openapi.json", "rb");
	char *buf;
	long n;
	cJSON *doc;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	doc = cJSON_Parse(buf);
	free(buf);
	assert_non_null(doc);
	return doc;
}

/* Every "$ref" under node names a schema of doc. */
static int refs_resolve(const cJSON *doc, const cJSON *node)
{
	const cJSON *schemas =
	    cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "components"), "schemas");
	const cJSON *c;
	int n = 0;

	if (cJSON_IsString(node) && node->string != NULL && strcmp(node->string, "$ref") == 0) {
		const char *pfx = "#/components/schemas/";

		assert_memory_equal(node->valuestring, pfx, strlen(pfx));
		if (cJSON_GetObjectItem(schemas, node->valuestring + strlen(pfx)) == NULL)
			fail_msg("dangling $ref %s", node->valuestring);
		return 1;
	}
	cJSON_ArrayForEach(c, node) n += refs_resolve(doc, c);
	return n;
}

static void test_document(void **state)
{
	cJSON *doc = load();
	const cJSON *path, *op, *code, *err, *ids;
	cJSON *seen = cJSON_CreateObject();
	int ops = 0;

	(void)state;
	assert_string_equal(cJSON_GetObjectItem(doc, "openapi")->valuestring, "3.1.0");
	assert_true(refs_resolve(doc, doc) > 20);
	err = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "components"), "schemas"), "Error");
	ids = cJSON_GetObjectItem(err, "required");
	assert_int_equal(cJSON_GetArraySize(ids), 2);
	assert_string_equal(cJSON_GetArrayItem(ids, 0)->valuestring, "error");
	assert_string_equal(cJSON_GetArrayItem(ids, 1)->valuestring, "message");
	cJSON_ArrayForEach(path, cJSON_GetObjectItem(doc, "paths"))
	{
		cJSON_ArrayForEach(op, path)
		{
			const cJSON *resp = cJSON_GetObjectItem(op, "responses");
			const cJSON *sec = cJSON_GetObjectItem(op, "security");
			const char *id = cJSON_GetObjectItem(op, "operationId")->valuestring;

			ops++;
			assert_null(cJSON_GetObjectItem(seen, id));
			cJSON_AddTrueToObject(seen, id);
			if (cJSON_GetArraySize(sec) > 0 && cJSON_GetObjectItem(resp, "401") == NULL)
				fail_msg("%s %s: secured but no 401", op->string, path->string);
			if (cJSON_GetObjectItem(op, "x-alexus-role") != NULL &&
			    cJSON_GetObjectItem(resp, "403") == NULL)
				fail_msg("%s %s: a role but no 403", op->string, path->string);
			/* the signed link answers a person (HTML): no 405 page */
			if (strstr(path->string, "{decision}") == NULL &&
			    cJSON_GetObjectItem(resp, "405") == NULL)
				fail_msg("%s %s: no 405", op->string, path->string);
			cJSON_ArrayForEach(code, resp)
			{
				const cJSON *j = cJSON_GetObjectItem(
				    cJSON_GetObjectItem(code, "content"), "application/json");
				const cJSON *ref;

				/* /readyz's 503 is its Health body */
				if (atoi(code->string) < 400 || j == NULL ||
				    strcmp(path->string, "/readyz") == 0)
					continue;
				ref = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "schema"), "$ref");
				if (!cJSON_IsString(ref) ||
				    strcmp(ref->valuestring, "#/components/schemas/Error") != 0)
					fail_msg("%s %s %s: the error body is not Error",
					         op->string, path->string, code->string);
			}
		}
	}
	assert_true(ops >= 20);
	cJSON_Delete(seen);
	cJSON_Delete(doc);
}

static void test_rfc3339(void **state)
{
	static const char *const good[] = {
	    "2026-01-02T03:04:05Z", "2026-01-02t03:04:05z", "2026-01-02T03:04:05.123456Z",
	    "2026-01-02T03:04:05+02:00", "2026-01-02T03:04:05.5-07:30"};
	static const char *const bad[] = {"",
	                                  "2026-01-02",
	                                  "2026-01-02 03:04:05Z",
	                                  "2026-01-02T03:04:05",
	                                  "2026-01-02T03:04:05.Z",
	                                  "2026-01-02T03:04:05+0200",
	                                  "2026-1-02T03:04:05Z",
	                                  "2026-01-02T03:04:05Zjunk",
	                                  "yesterday"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!ingest_api_rfc3339(good[i]))
			fail_msg("refused %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ingest_api_rfc3339(bad[i]))
			fail_msg("took %s", bad[i]);
	assert_false(ingest_api_rfc3339(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_document),
	    cmocka_unit_test(test_rfc3339),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
