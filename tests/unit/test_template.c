/* test_template.c - "{{a.b.c}}" rendering (common/template.c).
 *
 * The renderer builds request bodies for notifications and the generic
 * HTTP action, so the cases that matter are the ones that would break a
 * receiver: a value with quotes or newlines inside a JSON template (must
 * stay valid JSON), a missing path (empty, never "null"), and a template
 * that merely looks like one (copied as written). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alexus/template.h"

static const char DOC[] =
	"{\"incident\":{\"id\":\"inc-42\",\"title\":\"API \\\"shop\\\" down\\nline 2\","
	"\"severity\":\"critical\",\"count\":3,\"score\":0.5,\"open\":true,\"closed\":false,"
	"\"owner\":null,\"labels\":{\"ns\":\"shop\"},\"alerts\":[{\"name\":\"a0\"},"
	"{\"name\":\"a1\"}],\"tags\":[\"x\",\"y\"]},\"tab\":\"a\\tb\\\\c\","
	"\"a.b\":\"dotted\"}";

static cJSON *doc(void)
{
	cJSON *d = cJSON_Parse(DOC);

	assert_non_null(d);
	return d;
}

static void check(const cJSON *d, const char *tmpl, int esc, const char *want)
{
	char *got = ax_template_render(tmpl, d, esc);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_values(void **state)
{
	cJSON *d = doc();

	(void)state;
	check(d, "id={{incident.id}}", 0, "id=inc-42");
	check(d, "{{ incident.severity }}!", 0, "critical!");
	check(d, "{{incident.count}}/{{incident.score}}", 0, "3/0.5");
	check(d, "{{incident.open}},{{incident.closed}}", 0, "true,false");
	check(d, "[{{incident.owner}}]", 0, "[]");
	check(d, "{{incident.labels}}", 0, "{\"ns\":\"shop\"}");
	check(d, "{{incident.tags}}", 0, "[\"x\",\"y\"]");
	check(d, "{{incident.alerts.1.name}}", 0, "a1");
	check(d, "{{incident.alerts.0.name}}-{{incident.alerts.0.name}}", 0, "a0-a0");
	cJSON_Delete(d);
}

static void test_missing(void **state)
{
	cJSON *d = doc();

	(void)state;
	check(d, "<{{incident.nope}}>", 0, "<>");
	check(d, "<{{nope.deeper.still}}>", 0, "<>");
	check(d, "<{{incident.alerts.9.name}}>", 0, "<>");
	check(d, "<{{incident.alerts.x}}>", 0, "<>");      /* key on an array */
	check(d, "<{{incident.id.more}}>", 0, "<>");       /* through a string */
	check(d, "<{{incident.}}>", 0, "<>");              /* trailing dot */
	check(d, "<{{.incident}}>", 0, "<>");
	check(d, "<{{}}>", 0, "<>");
	check(d, "<{{a.b}}>", 0, "<>");                    /* dots always split */
	check(NULL, "x{{incident.id}}y", 0, "xy");
	cJSON_Delete(d);
}

static void test_literal(void **state)
{
	cJSON *d = doc();

	(void)state;
	check(d, "", 0, "");
	check(d, "no braces at all", 0, "no braces at all");
	check(d, "open {{incident.id but never closed", 0, "open {{incident.id but never closed");
	check(d, "single {braces} {incident.id}", 0, "single {braces} {incident.id}");
	check(d, "{{incident.id}} then {{ unterminated", 0, "inc-42 then {{ unterminated");
	assert_null(ax_template_render(NULL, d, 0));
	cJSON_Delete(d);
}

static void test_json_escape(void **state)
{
	cJSON *d = doc(), *out;
	const char *tmpl = "{\"text\":\"{{incident.title}}\",\"t\":\"{{tab}}\",\"n\":{{incident.count}}}";
	char *got;

	(void)state;
	/* unescaped, the quote and newline pass through as they are */
	check(d, "{{incident.title}}", 0, "API \"shop\" down\nline 2");
	check(d, "{{incident.title}}", 1, "API \\\"shop\\\" down\\nline 2");
	check(d, "{{tab}}", 1, "a\\tb\\\\c");
	/* the template's own quotes are never escaped */
	got = ax_template_render(tmpl, d, 1);
	assert_non_null(got);
	out = cJSON_Parse(got);
	assert_non_null(out);
	assert_string_equal(cJSON_GetObjectItem(out, "text")->valuestring,
			    cJSON_GetObjectItem(cJSON_GetObjectItem(d, "incident"), "title")->valuestring);
	assert_string_equal(cJSON_GetObjectItem(out, "t")->valuestring, "a\tb\\c");
	assert_int_equal(cJSON_GetObjectItem(out, "n")->valueint, 3);
	cJSON_Delete(out);
	free(got);
	/* an object value becomes a JSON string of its JSON */
	check(d, "{{incident.labels}}", 1, "{\\\"ns\\\":\\\"shop\\\"}");
	cJSON_Delete(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_literal),
		cmocka_unit_test(test_json_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
