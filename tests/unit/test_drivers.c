/* test_drivers.c - the ingest source drivers (ingest/drivers/) on the
 * webhook fixtures in tests/fixtures/webhooks/.
 *
 * Expected values are read from the fixture files themselves (each
 * alert's labels, annotations, times, ids), so the tests check the
 * mapping rather than a copy of it.  What matters most downstream: one
 * signal per alert, per-alert status, and a fingerprint that is the same
 * for the firing and the resolved notification of an alert (dedup and
 * incident grouping key on it) but differs between alerts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/signal.h"
#include "../../ingest/drivers/driver.h"

#define FIX "tests/fixtures/webhooks/"

static cJSON *load(const char *name)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;
	cJSON *j;

	snprintf(path, sizeof(path), FIX "%s", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (run the tests from the repository root)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	j = ax_json_parse(buf, (size_t)n, 64);
	free(buf);
	if (j == NULL)
		fail_msg("%s is not valid JSON", path);
	return j;
}

/* Normalise a fixture; returns the driver that ran. */
static const struct ingest_driver *norm(const char *name, const char *source,
					struct ingest_batch *b, ax_err want, char *err,
					size_t errlen)
{
	const struct ingest_driver *d = NULL;
	cJSON *doc = load(name);
	ax_err rc;

	ingest_batch_init(b);
	err[0] = '\0';
	rc = ingest_normalize_doc(doc, source, b, &d, err, errlen);
	cJSON_Delete(doc);
	if (rc != want)
		fail_msg("%s: normalize returned %d (%s), want %d", name, rc, err, want);
	return d;
}

static const struct ingest_driver *detect_doc(const cJSON *doc)
{
	struct ingest_input in = { doc, NULL, NULL };

	return ingest_driver_detect(&in);
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

/* Check every signal of an Alertmanager fixture against its alert. */
static void check_am(const char *name, enum ax_status want_status, struct ingest_batch *b)
{
	cJSON *doc = load(name);
	const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(doc, "alerts"), *a;
	char err[256];
	size_t i = 0;

	assert_ptr_equal(norm(name, NULL, b, AX_OK, err, sizeof(err)), &ingest_driver_alertmanager);
	assert_int_equal(b->n, (size_t)cJSON_GetArraySize(alerts));
	cJSON_ArrayForEach(a, alerts) {
		const struct ax_signal *s = &b->sig[i++];
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(a, "labels");
		const cJSON *ann = cJSON_GetObjectItemCaseSensitive(a, "annotations");
		const char *ends = jstr(a, "endsAt");

		assert_int_equal(s->kind, AX_KIND_ALERT);
		assert_int_equal(s->status, want_status);
		assert_string_equal(s->name, jstr(labels, "alertname"));
		assert_string_equal(s->source, "alertmanager");
		/* Both fixture alerts carry severity=critical. */
		assert_string_equal(jstr(labels, "severity"), "critical");
		assert_int_equal(s->severity, AX_SEV_CRITICAL);
		assert_true(cJSON_Compare(s->labels, labels, 1));
		assert_true(cJSON_Compare(s->annotations, ann, 1));
		assert_string_equal(s->summary, jstr(ann, "summary"));
		assert_string_equal(s->description, jstr(ann, "description"));
		assert_string_equal(s->service, jstr(labels, "service"));
		assert_string_equal(s->host, jstr(labels, "instance"));
		assert_string_equal(s->namespace_, jstr(labels, "namespace"));
		assert_string_equal(s->starts_at, jstr(a, "startsAt"));
		if (strncmp(ends, "0001-01-01", 10) == 0)
			assert_null(s->ends_at);
		else
			assert_string_equal(s->ends_at, ends);
		assert_string_equal(s->source_id, jstr(a, "fingerprint"));
		assert_string_equal(s->source_url, jstr(a, "generatorURL"));
		assert_int_equal(strlen(s->fingerprint), 64);
		assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(s->raw, "alert"), a, 1));
		assert_string_equal(jstr(s->raw, "groupKey"), jstr(doc, "groupKey"));
	}
	cJSON_Delete(doc);
}

static void test_am_firing(void **state)
{
	struct ingest_batch b;

	(void)state;
	check_am("alertmanager.json", AX_STATUS_FIRING, &b);
	assert_int_equal(b.n, 2);
	/* A firing alert's endsAt is Go's zero time: no end. */
	assert_null(b.sig[0].ends_at);
	assert_null(b.sig[1].ends_at);
	/* Two alerts, two identities. */
	assert_string_not_equal(b.sig[0].fingerprint, b.sig[1].fingerprint);
	ingest_batch_release(&b);
}

static void test_am_resolved_same_fingerprints(void **state)
{
	struct ingest_batch f, r;
	size_t i;

	(void)state;
	check_am("alertmanager.json", AX_STATUS_FIRING, &f);
	check_am("alertmanager.resolved.json", AX_STATUS_RESOLVED, &r);
	assert_int_equal(f.n, r.n);
	for (i = 0; i < f.n; i++) {
		assert_non_null(r.sig[i].ends_at);
		assert_string_equal(f.sig[i].fingerprint, r.sig[i].fingerprint);
		assert_string_equal(f.sig[i].source_id, r.sig[i].source_id);
	}
	ingest_batch_release(&f);
	ingest_batch_release(&r);
}

static void test_am_signal_round_trips(void **state)
{
	struct ingest_batch b;
	struct ax_signal back;
	char err[256];
	cJSON *j;

	(void)state;
	norm("alertmanager.json", "alertmanager", &b, AX_OK, err, sizeof(err));
	/* What ingest appends is what reason will accept. */
	j = ax_signal_to_json(&b.sig[0]);
	assert_int_equal(ax_signal_from_json(&back, j, err, sizeof(err)), AX_OK);
	assert_string_equal(back.fingerprint, b.sig[0].fingerprint);
	assert_string_equal(back.name, "HighErrorRate");
	ax_signal_release(&back);
	cJSON_Delete(j);
	ingest_batch_release(&b);
}

static void test_generic_single(void **state)
{
	struct ingest_batch b;
	cJSON *doc = load("generic.json");
	const struct ax_signal *s;
	char err[256];

	(void)state;
	assert_ptr_equal(norm("generic.json", NULL, &b, AX_OK, err, sizeof(err)),
			 &ingest_driver_generic);
	assert_int_equal(b.n, 1);
	s = &b.sig[0];
	assert_string_equal(s->name, jstr(doc, "title"));
	assert_string_equal(jstr(doc, "status"), "triggered");
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_string_equal(jstr(doc, "severity"), "P2");
	assert_int_equal(s->severity, AX_SEV_HIGH);
	assert_string_equal(s->summary, jstr(doc, "message"));
	assert_string_equal(s->description, jstr(doc, "description"));
	assert_string_equal(s->service, jstr(doc, "service"));
	assert_string_equal(s->host, jstr(doc, "host"));
	assert_string_equal(s->namespace_, jstr(doc, "namespace"));
	assert_string_equal(s->starts_at, jstr(doc, "starts_at"));
	assert_null(s->ends_at);
	assert_string_equal(s->source, "generic");
	assert_null(s->source_id);
	assert_string_equal(s->source_url, jstr(doc, "url"));
	assert_true(cJSON_Compare(s->labels, cJSON_GetObjectItemCaseSensitive(doc, "labels"), 1));
	assert_true(cJSON_Compare(s->annotations,
				  cJSON_GetObjectItemCaseSensitive(doc, "annotations"), 1));
	assert_true(cJSON_Compare(s->raw, doc, 1));
	cJSON_Delete(doc);
	ingest_batch_release(&b);
}

static void test_generic_resolved_same_fingerprint(void **state)
{
	struct ingest_batch f, r;
	cJSON *doc = load("generic.resolved.json");
	char err[256];

	(void)state;
	norm("generic.json", NULL, &f, AX_OK, err, sizeof(err));
	norm("generic.resolved.json", "generic", &r, AX_OK, err, sizeof(err));
	assert_int_equal(r.n, 1);
	assert_string_equal(jstr(doc, "status"), "ok");
	assert_int_equal(r.sig[0].status, AX_STATUS_RESOLVED);
	assert_string_equal(r.sig[0].ends_at, jstr(doc, "ends_at"));
	/* Summary and url differ between the two files; identity does not. */
	assert_string_not_equal(f.sig[0].summary, r.sig[0].summary);
	assert_string_equal(f.sig[0].fingerprint, r.sig[0].fingerprint);
	cJSON_Delete(doc);
	ingest_batch_release(&f);
	ingest_batch_release(&r);
}

static void test_generic_batch_ids(void **state)
{
	struct ingest_batch b;
	cJSON *doc = load("generic.batch.json");
	const cJSON *first = cJSON_GetArrayItem(doc, 0);
	char err[256], want[AX_SHA256_HEX];
	const char *key = "generic\nid=backup-nightly-orders";

	(void)state;
	assert_ptr_equal(norm("generic.batch.json", NULL, &b, AX_OK, err, sizeof(err)),
			 &ingest_driver_generic);
	assert_int_equal(b.n, (size_t)cJSON_GetArraySize(doc));
	assert_int_equal(b.n, 2);
	/* An id given by the sender is the identity: sha256("generic\nid=<id>"). */
	assert_string_equal(b.sig[0].source_id, jstr(first, "id"));
	ax_sha256_hex(key, strlen(key), want);
	assert_string_equal(b.sig[0].fingerprint, want);
	/* Numeric label values become strings; numeric ids too. */
	assert_string_equal(jstr(b.sig[0].labels, "attempt"), "3");
	assert_string_equal(b.sig[1].source_id, "4711");
	assert_int_equal(b.sig[0].status, AX_STATUS_FIRING);
	assert_int_equal(b.sig[0].severity, AX_SEV_CRITICAL);
	assert_int_equal(b.sig[1].status, AX_STATUS_RESOLVED);
	assert_int_equal(b.sig[1].severity, AX_SEV_INFO);
	assert_string_equal(b.sig[1].host, "lb-1");
	cJSON_Delete(doc);
	ingest_batch_release(&b);
}

static void test_generic_fingerprint_fields(void **state)
{
	const char *a = "{\"name\":\"X\",\"service\":\"s\",\"labels\":{\"k\":\"v\"}}";
	const char *same = "{\"labels\":{\"k\":\"v\"},\"status\":\"resolved\",\"service\":\"s\","
			   "\"title\":\"ignored\",\"name\":\"X\",\"summary\":\"changed\"}";
	const char *other_svc = "{\"name\":\"X\",\"service\":\"t\",\"labels\":{\"k\":\"v\"}}";
	const char *other_name = "{\"name\":\"Y\",\"service\":\"s\",\"labels\":{\"k\":\"v\"}}";
	const char *docs[] = { a, same, other_svc, other_name };
	char fp[4][AX_SHA256_HEX], err[256];
	struct ingest_batch b;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		cJSON *d = ax_json_parse(docs[i], strlen(docs[i]), 64);

		ingest_batch_init(&b);
		assert_int_equal(ingest_normalize_doc(d, NULL, &b, NULL, err, sizeof(err)), AX_OK);
		memcpy(fp[i], b.sig[0].fingerprint, AX_SHA256_HEX);
		ingest_batch_release(&b);
		cJSON_Delete(d);
	}
	assert_string_equal(fp[0], fp[1]);
	assert_string_not_equal(fp[0], fp[2]);
	assert_string_not_equal(fp[0], fp[3]);
}

static void test_detection(void **state)
{
	static const struct {
		const char *file;
		const struct ingest_driver *want;
	} cases[] = {
		{ "alertmanager.json", &ingest_driver_alertmanager },
		{ "alertmanager.resolved.json", &ingest_driver_alertmanager },
		{ "generic.json", &ingest_driver_generic },
		{ "generic.resolved.json", &ingest_driver_generic },
		{ "generic.batch.json", &ingest_driver_generic },
		{ "bad-not-object.json", NULL },
		{ "bad-missing-name.json", NULL },
		{ "bad-alerts-not-array.json", NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *doc = load(cases[i].file);

		if (detect_doc(doc) != cases[i].want)
			fail_msg("%s detected as %s", cases[i].file,
				 detect_doc(doc) ? detect_doc(doc)->name
							   : "nothing");
		cJSON_Delete(doc);
	}
	/* The Alertmanager shape without version "4" but with groupKey
	 * still goes to the specific driver, which is tried first. */
	{
		const char *t = "{\"groupKey\":\"g\",\"alerts\":[{\"labels\":{\"alertname\":\"A\"},"
				"\"status\":\"firing\"}]}";
		cJSON *d = ax_json_parse(t, strlen(t), 64);

		assert_ptr_equal(detect_doc(d), &ingest_driver_alertmanager);
		cJSON_Delete(d);
	}
	assert_ptr_equal(ingest_driver_find("alertmanager"), &ingest_driver_alertmanager);
	assert_ptr_equal(ingest_driver_find("generic"), &ingest_driver_generic);
	assert_null(ingest_driver_find("no-such-sender"));
	/* Specific before generic: generic is last, and every name is
	 * unique, non-empty and of the route's alphabet. */
	assert_ptr_equal(ingest_driver_at(ingest_driver_count() - 1), &ingest_driver_generic);
	{
		size_t k, j;

		for (k = 0; k < ingest_driver_count(); k++) {
			const struct ingest_driver *d = ingest_driver_at(k);

			assert_true(d->name[0] != '\0' &&
				    strspn(d->name, "abcdefghijklmnopqrstuvwxyz0123456789-") ==
					    strlen(d->name));
			assert_non_null(d->title);
			assert_int_equal(ingest_driver_index(d), (int)k);
			for (j = 0; j < k; j++)
				assert_string_not_equal(ingest_driver_at(j)->name, d->name);
		}
	}
}

static int never(const struct ingest_driver *d, const struct ingest_input *in)
{
	(void)d;
	(void)in;
	return 0;
}

/* A registered driver (what a profile becomes) goes after the built-ins
 * and before generic; a name can be registered once. */
static void test_register(void **state)
{
	static const struct ingest_driver extra = { "zz-extra", "Extra", never, NULL, NULL };
	static const struct ingest_driver clash = { "alertmanager", "Clash", never, NULL, NULL };
	size_t n = ingest_driver_count();

	(void)state;
	assert_int_equal(ingest_driver_register(&extra), AX_OK);
	assert_int_equal(ingest_driver_count(), n + 1);
	assert_ptr_equal(ingest_driver_at(n - 1), &extra);
	assert_ptr_equal(ingest_driver_at(n), &ingest_driver_generic);
	assert_ptr_equal(ingest_driver_find("zz-extra"), &extra);
	assert_int_equal(ingest_driver_register(&extra), AX_EDUP);
	assert_int_equal(ingest_driver_register(&clash), AX_EDUP);
	assert_int_equal(ingest_driver_count(), n + 1);
}

static void test_refusals(void **state)
{
	struct ingest_batch b;
	const struct ingest_driver *d;
	char err[256];

	(void)state;
	/* Not an object. */
	norm("bad-not-object.json", NULL, &b, AX_EPROTO, err, sizeof(err));
	assert_non_null(strstr(err, "not recognised"));
	norm("bad-not-object.json", "alertmanager", &b, AX_EPROTO, err, sizeof(err));
	assert_non_null(strstr(err, "not a JSON object"));
	norm("bad-not-object.json", "generic", &b, AX_EPROTO, err, sizeof(err));
	assert_non_null(strstr(err, "not a JSON object"));
	assert_int_equal(b.n, 0);

	/* alerts is not an array. */
	d = norm("bad-alerts-not-array.json", "alertmanager", &b, AX_EPROTO, err, sizeof(err));
	assert_ptr_equal(d, &ingest_driver_alertmanager);
	assert_non_null(strstr(err, "\"alerts\" is not an array"));
	norm("bad-alerts-not-array.json", "generic", &b, AX_EPROTO, err, sizeof(err));
	assert_non_null(strstr(err, "\"alerts\" is not an array"));

	/* Missing name. */
	norm("bad-missing-name.json", NULL, &b, AX_EPROTO, err, sizeof(err));
	assert_non_null(strstr(err, "not recognised"));
	norm("bad-missing-name.json", "generic", &b, AX_EPROTO, err, sizeof(err));
	assert_non_null(strstr(err, "no name"));
	norm("bad-am-no-alertname.json", NULL, &b, AX_EPROTO, err, sizeof(err));
	assert_non_null(strstr(err, "alerts[0] has no labels.alertname"));
	assert_int_equal(b.n, 0);

	/* A generic payload sent to the Alertmanager route. */
	norm("generic.json", "alertmanager", &b, AX_EPROTO, err, sizeof(err));
	assert_non_null(strstr(err, "no \"alerts\" array"));
	/* Unknown source name. */
	d = norm("generic.json", "nagios", &b, AX_ENOTFOUND, err, sizeof(err));
	assert_null(d);
	assert_non_null(strstr(err, "nagios"));
}

static void test_refusals_inline(void **state)
{
	static const struct {
		const char *json;
		const char *source;
		const char *why;
	} cases[] = {
		{ "{\"version\":\"4\",\"groupKey\":\"g\",\"alerts\":[]}", NULL, "empty" },
		{ "{\"version\":\"4\",\"groupKey\":\"g\",\"alerts\":[7]}", NULL, "not an object" },
		{ "{\"version\":\"4\",\"alerts\":[{\"labels\":{\"alertname\":\"A\"},"
		  "\"status\":\"pending\"}]}", NULL, "firing\" or \"resolved" },
		{ "{\"version\":\"4\",\"alerts\":[{\"labels\":[],\"status\":\"firing\"}]}", NULL,
		  "labels is missing" },
		{ "{\"name\":\"A\",\"status\":\"sideways\"}", NULL, "status" },
		{ "{\"name\":\"A\",\"kind\":\"meteor\"}", NULL, "kind" },
		{ "{\"name\":\"A\",\"labels\":\"x=y\"}", NULL, "must be objects" },
		{ "[]", "generic", "no events" },
		{ "[{\"name\":\"A\"},{\"title\":7}]", NULL, "event 1 has no name" },
		{ "42", "generic", "not a JSON object or array" },
	};
	struct ingest_batch b;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *d = ax_json_parse(cases[i].json, strlen(cases[i].json), 64);

		assert_non_null(d);
		ingest_batch_init(&b);
		err[0] = '\0';
		if (ingest_normalize_doc(d, cases[i].source, &b, NULL, err, sizeof(err)) != AX_EPROTO)
			fail_msg("case %zu (%s) was accepted", i, cases[i].json);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].why);
		assert_int_equal(b.n, 0);
		cJSON_Delete(d);
	}
}

static void test_leniency(void **state)
{
	/* Unknown severity falls back to warning; labels keep strings,
	 * stringify scalars and drop structures; null fields are absent. */
	const char *t = "{\"name\":\"A\",\"severity\":\"apocalyptic\",\"status\":\"RESOLVED\","
			"\"labels\":{\"s\":\"x\",\"n\":1.5,\"b\":true,\"o\":{},\"z\":null},"
			"\"summary\":null,\"ends_at\":\"0001-01-01T00:00:00Z\"}";
	cJSON *d = ax_json_parse(t, strlen(t), 64);
	struct ingest_batch b;
	char err[256];

	(void)state;
	ingest_batch_init(&b);
	assert_int_equal(ingest_normalize_doc(d, NULL, &b, NULL, err, sizeof(err)), AX_OK);
	assert_int_equal(b.sig[0].severity, AX_SEV_WARNING);
	assert_int_equal(b.sig[0].status, AX_STATUS_RESOLVED);
	assert_string_equal(jstr(b.sig[0].labels, "s"), "x");
	assert_string_equal(jstr(b.sig[0].labels, "n"), "1.5");
	assert_string_equal(jstr(b.sig[0].labels, "b"), "true");
	assert_null(cJSON_GetObjectItemCaseSensitive(b.sig[0].labels, "o"));
	assert_null(cJSON_GetObjectItemCaseSensitive(b.sig[0].labels, "z"));
	assert_null(b.sig[0].summary);
	assert_null(b.sig[0].ends_at);
	assert_str_or_null(b.sig[0].service, NULL);
	ingest_batch_release(&b);
	cJSON_Delete(d);
}

static int setup(void **state)
{
	(void)state;
	return ax_hash_init();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_am_firing),
		cmocka_unit_test(test_am_resolved_same_fingerprints),
		cmocka_unit_test(test_am_signal_round_trips),
		cmocka_unit_test(test_generic_single),
		cmocka_unit_test(test_generic_resolved_same_fingerprint),
		cmocka_unit_test(test_generic_batch_ids),
		cmocka_unit_test(test_generic_fingerprint_fields),
		cmocka_unit_test(test_detection),
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refusals_inline),
		cmocka_unit_test(test_leniency),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
