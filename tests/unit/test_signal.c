/* test_signal.c - the canonical signal (common/signal.c).
 *
 * The fingerprint is the dedup and incident-grouping key: it must not move
 * when a sender reorders labels or flips firing to resolved, and must move
 * when an identifying label changes.  The JSON form is the stream contract
 * between ingest and reason, so a round trip must preserve every field and
 * from_json must refuse what it cannot use, saying why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/signal.h"

static int setup(void **state)
{
	(void)state;
	return ax_hash_init();
}

static void add_label(struct ax_signal *s, const char *k, const char *v)
{
	cJSON_AddStringToObject(s->labels, k, v);
}

static void fill_sample(struct ax_signal *s)
{
	ax_signal_init(s);
	s->kind = AX_KIND_ALERT;
	s->status = AX_STATUS_FIRING;
	s->severity = AX_SEV_HIGH;
	s->name = strdup("HighErrorRate");
	s->summary = strdup("5xx above 5%");
	s->description = strdup("checkout returns \"500\"\nfor 10 minutes");
	s->service = strdup("checkout");
	s->host = strdup("node-1");
	s->namespace_ = strdup("shop");
	add_label(s, "alertname", "HighErrorRate");
	add_label(s, "service", "checkout");
	add_label(s, "severity", "page");
	cJSON_AddStringToObject(s->annotations, "runbook", "https://runbooks/x");
	s->starts_at = strdup("2026-11-23T07:26:00Z");
	s->ends_at = NULL;
	s->source = strdup("alertmanager");
	s->source_id = strdup("abc123");
	s->source_url = strdup("http://prom:9090/graph?g0.expr=x");
	s->raw = cJSON_Parse("{\"status\":\"firing\",\"labels\":{\"a\":\"b\"},\"n\":[1,2]}");
	ax_signal_fingerprint(s, NULL);
}

static void assert_str_eq_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void test_round_trip(void **state)
{
	struct ax_signal a, b;
	cJSON *j, *j2;
	char err[128] = "";
	char *text, *text2;

	(void)state;
	fill_sample(&a);
	j = ax_signal_to_json(&a);
	/* through text, as on the stream */
	text = ax_json_print(j);
	cJSON_Delete(j);
	j = ax_json_parse(text, strlen(text), 0);
	assert_non_null(j);

	assert_int_equal(ax_signal_from_json(&b, j, err, sizeof(err)), AX_OK);
	assert_int_equal(b.kind, a.kind);
	assert_int_equal(b.status, a.status);
	assert_int_equal(b.severity, a.severity);
	assert_string_equal(b.name, a.name);
	assert_string_equal(b.summary, a.summary);
	assert_string_equal(b.description, a.description);
	assert_string_equal(b.service, a.service);
	assert_string_equal(b.host, a.host);
	assert_string_equal(b.namespace_, a.namespace_);
	assert_true(cJSON_Compare(b.labels, a.labels, 1));
	assert_true(cJSON_Compare(b.annotations, a.annotations, 1));
	assert_string_equal(b.starts_at, a.starts_at);
	assert_str_eq_null(b.ends_at, NULL);
	assert_string_equal(b.source, a.source);
	assert_string_equal(b.source_id, a.source_id);
	assert_string_equal(b.source_url, a.source_url);
	assert_string_equal(b.fingerprint, a.fingerprint);
	assert_true(cJSON_Compare(b.raw, a.raw, 1));

	/* and back again: byte-identical JSON */
	j2 = ax_signal_to_json(&b);
	text2 = ax_json_print(j2);
	assert_string_equal(text, text2);

	free(text);
	free(text2);
	cJSON_Delete(j);
	cJSON_Delete(j2);
	ax_signal_release(&a);
	ax_signal_release(&b);
	ax_signal_release(&b); /* second release is harmless */
}

static void test_to_json_fields(void **state)
{
	static const char *const fields[] = { "kind", "name", "status", "severity", "summary",
					      "description", "service", "host", "namespace",
					      "labels", "annotations", "starts_at", "ends_at",
					      "source", "source_ref", "fingerprint", "raw" };
	struct ax_signal s;
	cJSON *j;
	size_t i;

	(void)state;
	fill_sample(&s);
	j = ax_signal_to_json(&s);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		assert_non_null(cJSON_GetObjectItemCaseSensitive(j, fields[i]));
	assert_string_equal(ax_json_ptr(j, "/source_ref/id")->valuestring, "abc123");
	assert_string_equal(ax_json_ptr(j, "/source_ref/url")->valuestring,
			    "http://prom:9090/graph?g0.expr=x");
	assert_string_equal(ax_json_ptr(j, "/severity")->valuestring, "high");
	assert_string_equal(ax_json_ptr(j, "/status")->valuestring, "firing");
	assert_string_equal(ax_json_ptr(j, "/namespace")->valuestring, "shop");
	assert_true(cJSON_IsNull(ax_json_ptr(j, "/ends_at")));
	assert_string_equal(ax_json_ptr(j, "/raw/labels/a")->valuestring, "b");
	cJSON_Delete(j);

	/* an empty signal still emits every field (nulls), and the tree it
	 * returns is independent of the signal */
	ax_signal_release(&s);
	ax_signal_init(&s);
	j = ax_signal_to_json(&s);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		assert_non_null(cJSON_GetObjectItemCaseSensitive(j, fields[i]));
	assert_true(cJSON_IsObject(ax_json_ptr(j, "/labels")));
	assert_true(cJSON_IsNull(ax_json_ptr(j, "/source_ref/id")));
	ax_signal_release(&s);
	cJSON_Delete(j);
}

static void fp_of(const char *const *kv, size_t n, enum ax_status st,
		  const char *const *ident, char out[AX_SHA256_HEX])
{
	struct ax_signal s;
	size_t i;

	ax_signal_init(&s);
	s.source = strdup("alertmanager");
	s.status = st;
	for (i = 0; i < n; i++)
		add_label(&s, kv[2 * i], kv[2 * i + 1]);
	ax_signal_fingerprint(&s, ident);
	memcpy(out, s.fingerprint, AX_SHA256_HEX);
	ax_signal_release(&s);
}

static void test_fingerprint(void **state)
{
	static const char *const order1[] = { "alertname", "Down", "instance", "a:9100",
					      "job", "node" };
	static const char *const order2[] = { "job", "node", "alertname", "Down", "instance",
					      "a:9100" };
	static const char *const other[] = { "alertname", "Down", "instance", "b:9100", "job",
					     "node" };
	static const char *const extra[] = { "alertname", "Down", "instance", "a:9100", "job",
					     "node", "pod", "p-123" };
	static const char *const ident[] = { "alertname", "instance", "job", NULL };
	char f1[AX_SHA256_HEX], f2[AX_SHA256_HEX], f3[AX_SHA256_HEX], f4[AX_SHA256_HEX];
	char f5[AX_SHA256_HEX], want[AX_SHA256_HEX];
	static const char canon[] = "alertmanager\nalertname=Down\ninstance=a:9100\njob=node";

	(void)state;
	fp_of(order1, 3, AX_STATUS_FIRING, NULL, f1);
	fp_of(order2, 3, AX_STATUS_FIRING, NULL, f2);
	assert_string_equal(f1, f2); /* label order does not matter */
	assert_int_equal(strlen(f1), 64);

	/* the documented byte layout */
	ax_sha256_hex(canon, strlen(canon), want);
	assert_string_equal(f1, want);

	fp_of(order2, 3, AX_STATUS_RESOLVED, NULL, f3);
	assert_string_equal(f1, f3); /* firing and resolved agree */

	fp_of(other, 3, AX_STATUS_FIRING, NULL, f4);
	assert_string_not_equal(f1, f4); /* an identifying label differs */

	/* with an identifying subset, a non-identifying label is ignored ... */
	fp_of(extra, 4, AX_STATUS_FIRING, ident, f5);
	assert_string_equal(f5, f1);
	/* ... but with every label identifying it is not */
	fp_of(extra, 4, AX_STATUS_FIRING, NULL, f5);
	assert_string_not_equal(f5, f1);
	/* and an identifying label still changes it under the subset */
	fp_of(other, 3, AX_STATUS_FIRING, ident, f4);
	assert_string_not_equal(f4, f1);
}

static void test_fingerprint_source(void **state)
{
	struct ax_signal a, b;

	(void)state;
	ax_signal_init(&a);
	ax_signal_init(&b);
	a.source = strdup("alertmanager");
	b.source = strdup("grafana");
	add_label(&a, "x", "1");
	add_label(&b, "x", "1");
	ax_signal_fingerprint(&a, NULL);
	ax_signal_fingerprint(&b, NULL);
	assert_string_not_equal(a.fingerprint, b.fingerprint);
	ax_signal_release(&a);
	ax_signal_release(&b);
}

static void test_severity_table(void **state)
{
	static const struct {
		const char *word;
		enum ax_severity want;
	} t[] = {
		{ "critical", AX_SEV_CRITICAL }, { "CRIT", AX_SEV_CRITICAL },
		{ "Fatal", AX_SEV_CRITICAL },    { "emergency", AX_SEV_CRITICAL },
		{ "P1", AX_SEV_CRITICAL },       { "sev1", AX_SEV_CRITICAL },
		{ "SEV1", AX_SEV_CRITICAL },     { "Disaster", AX_SEV_CRITICAL },
		{ "high", AX_SEV_HIGH },         { "ERROR", AX_SEV_HIGH },
		{ "major", AX_SEV_HIGH },        { "p2", AX_SEV_HIGH },
		{ "Sev2", AX_SEV_HIGH },         { "warning", AX_SEV_WARNING },
		{ "WARN", AX_SEV_WARNING },      { "minor", AX_SEV_WARNING },
		{ "medium", AX_SEV_WARNING },    { "Average", AX_SEV_WARNING },
		{ "p3", AX_SEV_WARNING },        { "sev3", AX_SEV_WARNING },
		{ "info", AX_SEV_INFO },         { "Informational", AX_SEV_INFO },
		{ "low", AX_SEV_INFO },          { "OK", AX_SEV_INFO },
		{ "p4", AX_SEV_INFO },           { "P5", AX_SEV_INFO },
		{ "sev4", AX_SEV_INFO },         { "debug", AX_SEV_INFO },
		{ "notice", AX_SEV_INFO },
	};
	static const char *const unknown[] = { "", "p6", "sev5", "urgent-ish", "critical ",
					       "page" };
	enum ax_severity sv;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		sv = (enum ax_severity)99;
		assert_int_equal(ax_severity_parse(t[i].word, &sv), 0);
		assert_int_equal(sv, t[i].want);
	}
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		assert_int_equal(ax_severity_parse(unknown[i], &sv), -1);
	assert_int_equal(ax_severity_parse(NULL, &sv), -1);

	/* canonical names round trip */
	for (i = AX_SEV_CRITICAL; i <= AX_SEV_INFO; i++) {
		assert_int_equal(ax_severity_parse(ax_severity_str((enum ax_severity)i), &sv), 0);
		assert_int_equal(sv, (enum ax_severity)i);
	}
}

static void test_kind_status(void **state)
{
	enum ax_kind k;
	enum ax_status st;
	int i;

	(void)state;
	for (i = AX_KIND_ALERT; i <= AX_KIND_CHECK; i++) {
		assert_int_equal(ax_kind_parse(ax_kind_str((enum ax_kind)i), &k), 0);
		assert_int_equal(k, i);
	}
	assert_string_equal(ax_kind_str(AX_KIND_DEPLOY), "deploy");
	assert_int_equal(ax_kind_parse("metric", &k), -1);
	assert_int_equal(ax_status_parse("resolved", &st), 0);
	assert_int_equal(st, AX_STATUS_RESOLVED);
	assert_int_equal(ax_status_parse("FIRING", &st), 0);
	assert_int_equal(st, AX_STATUS_FIRING);
	assert_int_equal(ax_status_parse("maybe", &st), -1);
	assert_string_equal(ax_status_str(AX_STATUS_RESOLVED), "resolved");
}

static ax_err from_text(const char *text, char *err, size_t n)
{
	struct ax_signal s;
	cJSON *j = cJSON_Parse(text);
	ax_err rc;

	assert_non_null(j);
	err[0] = '\0';
	rc = ax_signal_from_json(&s, j, err, n);
	ax_signal_release(&s); /* harmless on failure too */
	cJSON_Delete(j);
	return rc;
}

#define FP "\"fingerprint\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""

static void test_from_json_refusals(void **state)
{
	char err[128];

	(void)state;
	assert_int_equal(from_text("{\"name\":\"n\",\"status\":\"firing\",\"severity\":\"high\","
				   "\"source\":\"s\"," FP "}", err, sizeof(err)),
			 AX_OK);

	assert_int_equal(from_text("{\"status\":\"firing\",\"severity\":\"high\","
				   "\"source\":\"s\"," FP "}", err, sizeof(err)),
			 AX_EPROTO);
	assert_non_null(strstr(err, "\"name\""));

	assert_int_equal(from_text("{\"name\":\"n\",\"severity\":\"high\","
				   "\"source\":\"s\"," FP "}", err, sizeof(err)),
			 AX_EPROTO);
	assert_non_null(strstr(err, "\"status\""));

	assert_int_equal(from_text("{\"name\":\"n\",\"status\":\"firing\",\"severity\":\"high\","
				   "\"source\":\"s\"}", err, sizeof(err)),
			 AX_EPROTO);
	assert_non_null(strstr(err, "\"fingerprint\""));

	assert_int_equal(from_text("{\"name\":\"n\",\"status\":\"firing\",\"severity\":\"high\","
				   "\"source\":\"s\",\"fingerprint\":\"abc\"}", err, sizeof(err)),
			 AX_EPROTO);
	assert_non_null(strstr(err, "fingerprint"));

	assert_int_equal(from_text("{\"name\":\"n\",\"status\":\"firing\",\"severity\":\"bogus\","
				   "\"source\":\"s\"," FP "}", err, sizeof(err)),
			 AX_EPROTO);
	assert_non_null(strstr(err, "severity"));

	assert_int_equal(from_text("{\"name\":\"n\",\"status\":\"firing\",\"severity\":\"high\","
				   "\"source\":\"s\",\"labels\":{\"a\":1}," FP "}", err, sizeof(err)),
			 AX_EPROTO);
	assert_non_null(strstr(err, "labels.a"));

	assert_int_equal(from_text("{\"name\":\"n\",\"status\":\"firing\",\"severity\":\"high\","
				   "\"source\":\"s\",\"host\":7," FP "}", err, sizeof(err)),
			 AX_EPROTO);
	assert_non_null(strstr(err, "\"host\""));

	assert_int_equal(from_text("{\"name\":\"n\",\"status\":\"firing\",\"severity\":\"high\","
				   "\"source\":\"s\",\"source_ref\":\"x\"," FP "}", err, sizeof(err)),
			 AX_EPROTO);
	assert_non_null(strstr(err, "source_ref"));

	assert_int_equal(from_text("[1,2]", err, sizeof(err)), AX_EPROTO);
	assert_non_null(strstr(err, "object"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),        cmocka_unit_test(test_to_json_fields),
		cmocka_unit_test(test_fingerprint),       cmocka_unit_test(test_fingerprint_source),
		cmocka_unit_test(test_severity_table),    cmocka_unit_test(test_kind_status),
		cmocka_unit_test(test_from_json_refusals),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
