/* test_json.c - bounded parsing and JSON pointers (common/json.c).
 *
 * ax_json_parse is the first thing a hostile HTTP body meets: the depth
 * cap must trigger before cJSON recurses, must not be fooled by brackets
 * inside strings (or by escaped quotes), and the parser must stop at the
 * given length rather than at a NUL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alexus/json.h"

static cJSON *parse(const char *s, int depth)
{
	return ax_json_parse(s, strlen(s), depth);
}

/* "[[[...]]]" with n levels, in a malloc'd buffer. */
static char *nested(size_t n)
{
	char *b = malloc(2 * n + 1);
	size_t i;

	for (i = 0; i < n; i++) {
		b[i] = '[';
		b[2 * n - 1 - i] = ']';
	}
	b[2 * n] = '\0';
	return b;
}

static void test_depth_cap(void **state)
{
	char *b;
	cJSON *j;

	(void)state;
	b = nested(4);
	j = parse(b, 4); /* exactly the limit: accepted */
	assert_non_null(j);
	cJSON_Delete(j);
	assert_null(parse(b, 3)); /* one deeper than allowed */
	free(b);

	assert_null(parse("{\"a\":{\"b\":{\"c\":1}}}", 2));
	j = parse("{\"a\":{\"b\":{\"c\":1}}}", 3);
	assert_non_null(j);
	cJSON_Delete(j);

	/* default cap (0 = 64) */
	b = nested(64);
	j = parse(b, 0);
	assert_non_null(j);
	cJSON_Delete(j);
	free(b);
	b = nested(65);
	assert_null(parse(b, 0));
	free(b);

	/* far deeper than cJSON's own limit of 1000: refused by our scan, no
	 * deep recursion anywhere (this would also be slow if cJSON ran) */
	b = nested(200000);
	assert_null(parse(b, 0));
	free(b);

	/* deep but sequential, not nested: fine */
	j = parse("[[1],[2],[3],[[4]],[5]]", 3);
	assert_non_null(j);
	cJSON_Delete(j);
}

static size_t cjson_allocs;

static void *counting_malloc(size_t n)
{
	cjson_allocs++;
	return malloc(n);
}

/* The cap is enforced before cJSON runs: a refused document never makes
 * cJSON allocate a single node. */
static void test_depth_cap_before_cjson(void **state)
{
	cJSON_Hooks hooks = { counting_malloc, free };
	char *b = nested(65);
	cJSON *j;

	(void)state;
	cJSON_InitHooks(&hooks);
	cjson_allocs = 0;
	assert_null(parse(b, 64));
	assert_int_equal(cjson_allocs, 0);
	j = parse("[[1]]", 64); /* the counter does count real parses */
	assert_non_null(j);
	assert_true(cjson_allocs > 0);
	cJSON_Delete(j);
	cJSON_InitHooks(NULL);
	free(b);
}

static void test_brackets_in_strings(void **state)
{
	cJSON *j;

	(void)state;
	/* 100 brackets inside a string do not count as nesting */
	j = parse("{\"msg\":\"[[[[[[[[[[{{{{{{{{{{[[[[[[[[[[{{{{{{{{{{\"}", 2);
	assert_non_null(j);
	assert_string_equal(ax_json_str(j, "msg"), "[[[[[[[[[[{{{{{{{{{{[[[[[[[[[[{{{{{{{{{{");
	cJSON_Delete(j);

	/* an escaped quote does not end the string: the brackets after it are
	 * still inside the string */
	j = parse("{\"m\":\"a\\\"[[[[\"}", 1);
	assert_non_null(j);
	assert_string_equal(ax_json_str(j, "m"), "a\"[[[[");
	cJSON_Delete(j);

	/* an escaped backslash then a quote DOES end the string: the brackets
	 * after it are real nesting */
	assert_null(parse("[\"a\\\\\",[[[1]]]]", 3));
	j = parse("[\"a\\\\\",[[[1]]]]", 4);
	assert_non_null(j);
	cJSON_Delete(j);
}

static void test_length_bounded(void **state)
{
	const char buf[] = "{\"a\":1}GARBAGE";
	const char nonul[7] = { '{', '"', 'a', '"', ':', '2', '}' }; /* no NUL */
	cJSON *j;

	(void)state;
	j = ax_json_parse(buf, 7, 0); /* only "{"a":1}" */
	assert_non_null(j);
	assert_int_equal(cJSON_GetObjectItem(j, "a")->valueint, 1);
	cJSON_Delete(j);

	j = ax_json_parse(nonul, sizeof(nonul), 0);
	assert_non_null(j);
	assert_int_equal(cJSON_GetObjectItem(j, "a")->valueint, 2);
	cJSON_Delete(j);

	/* trailing garbage inside the length is an error; whitespace is not */
	assert_null(ax_json_parse(buf, sizeof(buf) - 1, 0));
	j = parse("  {\"a\":1} \n\t ", 0);
	assert_non_null(j);
	cJSON_Delete(j);

	/* truncated: cut in the middle of the document */
	assert_null(ax_json_parse(buf, 5, 0));
	assert_null(ax_json_parse(buf, 0, 0));
	assert_null(ax_json_parse(NULL, 10, 0));
}

static void test_unterminated(void **state)
{
	(void)state;
	assert_null(parse("{\"a\":\"never closed", 0));
	assert_null(parse("{\"a\":\"ends in escape\\", 0));
	assert_null(parse("[1,2,", 0));
	assert_null(parse("{", 0));
	assert_null(parse("\"", 0));
	assert_null(parse("not json", 0));
}

static void test_str(void **state)
{
	cJSON *j = parse("{\"s\":\"v\",\"e\":\"\",\"n\":3,\"z\":null}", 0);

	(void)state;
	assert_non_null(j);
	assert_string_equal(ax_json_str(j, "s"), "v");
	assert_null(ax_json_str(j, "e"));   /* empty */
	assert_null(ax_json_str(j, "n"));   /* not a string */
	assert_null(ax_json_str(j, "z"));
	assert_null(ax_json_str(j, "missing"));
	assert_null(ax_json_str(NULL, "s"));
	cJSON_Delete(j);
}

static void test_pointer(void **state)
{
	/* RFC 6901 section 5 example document */
	static const char doc[] = "{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"c%d\":2,"
				  "\"e^f\":3,\"g|h\":4,\"i\\\\j\":5,\"k\\\"l\":6,\" \":7,"
				  "\"m~n\":8,\"deep\":{\"x\":[{\"y\":\"z\"}]}}";
	cJSON *j = parse(doc, 0);
	const cJSON *v;

	(void)state;
	assert_non_null(j);
	assert_ptr_equal(ax_json_ptr(j, ""), j);
	v = ax_json_ptr(j, "/foo");
	assert_true(cJSON_IsArray(v));
	assert_string_equal(ax_json_ptr(j, "/foo/0")->valuestring, "bar");
	assert_string_equal(ax_json_ptr(j, "/foo/1")->valuestring, "baz");
	assert_int_equal(ax_json_ptr(j, "/")->valueint, 0);
	assert_int_equal(ax_json_ptr(j, "/a~1b")->valueint, 1);
	assert_int_equal(ax_json_ptr(j, "/c%d")->valueint, 2);
	assert_int_equal(ax_json_ptr(j, "/e^f")->valueint, 3);
	assert_int_equal(ax_json_ptr(j, "/g|h")->valueint, 4);
	assert_int_equal(ax_json_ptr(j, "/i\\j")->valueint, 5);
	assert_int_equal(ax_json_ptr(j, "/k\"l")->valueint, 6);
	assert_int_equal(ax_json_ptr(j, "/ ")->valueint, 7);
	assert_int_equal(ax_json_ptr(j, "/m~0n")->valueint, 8);
	assert_string_equal(ax_json_ptr(j, "/deep/x/0/y")->valuestring, "z");

	/* absent or invalid */
	assert_null(ax_json_ptr(j, "/foo/2"));     /* out of range */
	assert_null(ax_json_ptr(j, "/foo/01"));    /* leading zero */
	assert_null(ax_json_ptr(j, "/foo/-"));     /* past-the-end marker */
	assert_null(ax_json_ptr(j, "/foo/x"));
	assert_null(ax_json_ptr(j, "/foo/-1"));
	assert_null(ax_json_ptr(j, "/foo/99999999999999999999"));
	assert_null(ax_json_ptr(j, "/nope"));
	assert_null(ax_json_ptr(j, "/m~2n"));      /* bad escape */
	assert_null(ax_json_ptr(j, "/m~"));
	assert_null(ax_json_ptr(j, "foo"));        /* must start with / */
	assert_null(ax_json_ptr(j, "/deep/x/0/y/more")); /* through a string */
	assert_null(ax_json_ptr(j, "/a/b"));       /* "a/b" needs ~1 */
	assert_null(ax_json_ptr(NULL, "/foo"));
	cJSON_Delete(j);
}

static void test_print_and_add(void **state)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	(void)state;
	ax_json_add_str(o, "a", "x\"y", 0);
	ax_json_add_str(o, "b", NULL, 0);
	ax_json_add_str(o, "c", NULL, 1);
	s = ax_json_print(o);
	assert_string_equal(s, "{\"a\":\"x\\\"y\",\"c\":null}");
	free(s);
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_depth_cap),    cmocka_unit_test(test_depth_cap_before_cjson),
		cmocka_unit_test(test_brackets_in_strings),
		cmocka_unit_test(test_length_bounded), cmocka_unit_test(test_unterminated),
		cmocka_unit_test(test_str),          cmocka_unit_test(test_pointer),
		cmocka_unit_test(test_print_and_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
