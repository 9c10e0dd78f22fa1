/* test_group.c - the grouping rule engine (common/group.c): parsing with
 * clear errors, keys, the defaults matching reason's historical grouping
 * key, windows and stale incidents, and the explanation written per
 * alert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "alexus/group.h"
#include "alexus/json.h"
#include "alexus/mem.h"
#include "../../reason/incident.h"

/* A fake set of open incidents: key -> (incident, idle seconds); the
 * fingerprint rule finds the incident holding fp_holder's fingerprint. */
struct fake {
	const char *keys[4];
	double idle[4];
	const char *fp;         /* fingerprint held by incident "fp" */
	double fp_idle;
};

static char inc_tag[4][8] = { "i0", "i1", "i2", "i3" };
static char fp_tag[] = "fp";

static void *lookup(void *arg, const struct ax_group_rule *r, const char *key,
		    const struct ax_group_input *in, double *idle_s)
{
	struct fake *f = arg;
	int i;

	if (ax_group_is_fingerprint(r)) {
		if (f->fp != NULL && strcmp(f->fp, in->fingerprint) == 0) {
			*idle_s = f->fp_idle;
			return fp_tag;
		}
		return NULL;
	}
	for (i = 0; i < 4; i++)
		if (f->keys[i] != NULL && strcmp(f->keys[i], key) == 0) {
			*idle_s = f->idle[i];
			return inc_tag[i];
		}
	return NULL;
}

static void parse_fails(const char *json, const char *want)
{
	struct ax_group_rules rs;
	char err[256] = "";

	assert_int_equal(ax_group_rules_parse(&rs, json, 300, err, sizeof(err)), AX_EPROTO);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, want);
	assert_int_equal(rs.n, 0);
	ax_group_rules_release(&rs);
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_fails("{", "not valid JSON");
	parse_fails("{}", "must be an array of 1 to 32 rules");
	parse_fails("[]", "must be an array of 1 to 32 rules");
	parse_fails("[1]", "grouping_rules[0]: must be an object");
	parse_fails("[{\"fields\":[\"service\"]}]", "grouping_rules[0].name: required");
	parse_fails("[{\"name\":\"opened\",\"fields\":[\"service\"]}]", "not \"opened\"");
	parse_fails("[{\"name\":\"flapping\",\"fields\":[\"service\"]}]",
		    "or \"flapping\"");
	parse_fails("[{\"name\":\"a\",\"fields\":[\"service\"]},{\"name\":\"b\",\"fields\":"
		    "[\"servce\"]}]",
		    "grouping_rules[1].fields[0]: unknown field \"servce\"");
	parse_fails("[{\"name\":\"a\",\"fields\":[]}]", "grouping_rules[0].fields: at least one");
	parse_fails("[{\"name\":\"a\",\"fields\":[\"host\",\"host\"]}]", "\"host\" given twice");
	parse_fails("[{\"name\":\"a\",\"fields\":[\"host\"]},{\"name\":\"a\",\"fields\":[\"name\"]}]",
		    "grouping_rules[1].name: \"a\" is also rule 0's name");
	parse_fails("[{\"name\":\"a\",\"fields\":[\"host\"],\"window_s\":-1}]",
		    "grouping_rules[0].window_s: a whole number");
	parse_fails("[{\"name\":\"a\",\"fields\":[\"host\"],\"window_s\":1.5}]",
		    "grouping_rules[0].window_s");
	parse_fails("[{\"name\":\"a\",\"fields\":[\"host\"],\"windw\":5}]",
		    "grouping_rules[0]: unknown key \"windw\"");
	parse_fails("[{\"name\":\"a\",\"fields\":[\"host\"],\"unless\":\"service\"}]",
		    "grouping_rules[0].unless: must be an array");
	parse_fails("[{\"name\":\"a\",\"fields\":[\"label:\"]}]", "unknown field \"label:\"");
}

static void test_parse_ok(void **state)
{
	struct ax_group_rules rs;
	char err[256], *text;
	cJSON *j;

	(void)state;
	assert_int_equal(ax_group_rules_parse(&rs, "[{\"name\":\"by-cluster\",\"fields\":"
					      "[\"label:cluster\",\"name\"],\"window_s\":0},"
					      "{\"name\":\"svc\",\"fields\":[\"service\"],"
					      "\"unless\":[\"sender_key\"]}]", 120, err,
					      sizeof(err)), AX_OK);
	assert_int_equal(rs.n, 2);
	assert_int_equal(ax_group_window(&rs, &rs.v[0]), 0);
	assert_int_equal(ax_group_window(&rs, &rs.v[1]), 120);
	j = ax_group_rules_json(&rs);
	text = ax_json_print(j);
	assert_string_equal(text, "[{\"name\":\"by-cluster\",\"fields\":[\"label:cluster\",\"name\"],"
			    "\"window_s\":0},{\"name\":\"svc\",\"fields\":[\"service\"],"
			    "\"unless\":[\"sender_key\"],\"window_s\":120}]");
	free(text);
	cJSON_Delete(j);
	ax_group_rules_release(&rs);
	/* NULL and "null" are the defaults. */
	assert_int_equal(ax_group_rules_parse(&rs, NULL, 300, err, sizeof(err)), AX_OK);
	assert_int_equal(rs.n, 5);
	assert_string_equal(rs.v[0].name, "fingerprint");
	assert_int_equal(ax_group_window(&rs, &rs.v[0]), 0);
	assert_int_equal(ax_group_window(&rs, &rs.v[1]), 300);
	ax_group_rules_release(&rs);
	assert_int_equal(ax_group_rules_parse(&rs, "null", 300, err, sizeof(err)), AX_OK);
	assert_int_equal(rs.n, 5);
	ax_group_rules_release(&rs);
}

/* The key the default rules open an incident under, for each shape of
 * alert reason_group_key knows: the same choice, prefixed by the rule. */
static void expect_default(const char *service, const char *ns, const char *host,
			   const char *name)
{
	struct ax_group_rules rs;
	struct ax_group_input in = { "f", NULL, service, ns, host, name, NULL };
	struct ax_group_decision d;
	struct fake f = { { NULL }, { 0 }, NULL, 0 };
	char *old = reason_group_key(service, ns, host, name), *want;
	const char *rule = service != NULL && *service ? "service" :
			   ns != NULL && *ns && host != NULL && *host ? "namespace+host" :
			   host != NULL && *host ? "host" : "name";

	ax_group_rules_default(&rs, 300);
	ax_group_decide(&rs, &in, lookup, &f, &d);
	want = ax_xasprintf("%s:%s", rule, old);
	assert_null(d.incident);
	assert_string_equal(d.key, want);
	assert_string_equal(ax_group_decision_rule(&d), "opened");
	free(want);
	free(old);
	ax_group_decision_release(&d);
	ax_group_rules_release(&rs);
}

static void test_defaults_are_the_old_key(void **state)
{
	(void)state;
	expect_default("checkout-api", "payments", "10.0.12.34", "HighErrorRate");
	expect_default(NULL, "payments", "web-01", "HighCPUUsage");
	expect_default("", "payments", "web-01", "HighCPUUsage");
	expect_default(NULL, NULL, "web-01", "HighCPUUsage");
	expect_default(NULL, "payments", NULL, "HighCPUUsage");
	expect_default(NULL, NULL, NULL, "HighCPUUsage");
}

static void test_match_and_windows(void **state)
{
	struct ax_group_rules rs;
	struct ax_group_input in = { "fp1", "{}:{alertname=\"X\"}", "pay", "prod", "h1", "X",
				     NULL };
	struct ax_group_decision d;
	struct fake f = { { "service:pay", NULL }, { 10, 0 }, NULL, 0 };
	char err[256], *text;
	cJSON *m;

	(void)state;
	ax_group_rules_default(&rs, 300);
	/* Fresh incident of the service: joins by "service". */
	ax_group_decide(&rs, &in, lookup, &f, &d);
	assert_ptr_equal(d.incident, inc_tag[0]);
	assert_string_equal(ax_group_decision_rule(&d), "service");
	m = ax_group_decision_match(&rs, &d);
	text = ax_json_print(m);
	assert_string_equal(text, "{\"key\":\"service:pay\",\"values\":{\"service\":\"pay\"},"
			    "\"idle_s\":10,\"window_s\":300}");
	free(text);
	text = ax_group_match_text(m);
	assert_string_equal(text, "service=pay");
	free(text);
	cJSON_Delete(m);
	ax_group_decision_release(&d);

	/* The open incident holding the fingerprint wins, however idle (no
	 * window on the fingerprint rule by default). */
	f.fp = "fp1";
	f.fp_idle = 86400;
	ax_group_decide(&rs, &in, lookup, &f, &d);
	assert_ptr_equal(d.incident, fp_tag);
	assert_string_equal(ax_group_decision_rule(&d), "fingerprint");
	ax_group_decision_release(&d);
	f.fp = NULL;

	/* Stale: idle 301 s > 300 s: refused, and the alert opens a new
	 * incident under the same key, superseding the stale one. */
	f.idle[0] = 301;
	ax_group_decide(&rs, &in, lookup, &f, &d);
	assert_null(d.incident);
	assert_ptr_equal(d.stale, inc_tag[0]);
	assert_string_equal(d.key, "service:pay");
	m = ax_group_decision_match(&rs, &d);
	text = ax_json_print(m);
	assert_string_equal(text, "{\"key\":\"service:pay\",\"values\":{\"service\":\"pay\"},"
			    "\"rule\":\"service\",\"refused\":[{\"rule\":\"service\","
			    "\"key\":\"service:pay\",\"idle_s\":301,\"window_s\":300}]}");
	free(text);
	cJSON_Delete(m);
	ax_group_decision_release(&d);
	ax_group_rules_release(&rs);

	/* Tenant rules: the sender's group first, then host with no window.
	 * Stale sender group refused -> the host rule attaches; its stale
	 * incident is not the one of the key it would open under. */
	assert_int_equal(ax_group_rules_parse(&rs, "[{\"name\":\"sender\",\"fields\":"
					      "[\"sender_key\"],\"window_s\":60},{\"name\":\"ci\","
					      "\"fields\":[\"namespace\",\"host\"],\"window_s\":0}]",
					      300, err, sizeof(err)), AX_OK);
	f.keys[0] = "sender:{}:{alertname=\"X\"}";
	f.idle[0] = 61;
	f.keys[1] = "ci:prod/h1";
	f.idle[1] = 5000;
	ax_group_decide(&rs, &in, lookup, &f, &d);
	assert_ptr_equal(d.incident, inc_tag[1]);
	assert_string_equal(ax_group_decision_rule(&d), "ci");
	assert_null(d.stale);
	m = ax_group_decision_match(&rs, &d);
	text = ax_group_match_text(m);
	assert_string_equal(text, "namespace=prod host=h1");
	free(text);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m, "refused")), 1);
	cJSON_Delete(m);
	ax_group_decision_release(&d);

	/* No rule applies (no sender key, no host): grouped by name. */
	in.sender_key = NULL;
	in.host = NULL;
	ax_group_decide(&rs, &in, lookup, &f, &d);
	assert_null(d.incident);
	assert_string_equal(d.key, "name:X");
	ax_group_decision_release(&d);
	/* ...and nothing at all: cannot be grouped. */
	in.name = "";
	ax_group_decide(&rs, &in, lookup, &f, &d);
	assert_null(d.key);
	ax_group_decision_release(&d);
	ax_group_rules_release(&rs);
}

static void test_labels_and_sender_key(void **state)
{
	struct ax_group_rules rs;
	struct ax_signal s;
	struct ax_group_input in;
	char err[256], *k;
	cJSON *values;
	char *text;

	(void)state;
	ax_signal_init(&s);
	s.name = strdup("KubePodCrashLooping");
	s.raw = cJSON_Parse("{\"groupKey\":\"{}:{namespace=\\\"shop\\\"}\"}");
	cJSON_AddStringToObject(s.labels, "cluster", "eu-1");
	ax_group_input_of(&in, &s);
	assert_string_equal(in.sender_key, "{}:{namespace=\"shop\"}");
	assert_int_equal(ax_group_rules_parse(&rs, "[{\"name\":\"c\",\"fields\":[\"label:cluster\","
					      "\"sender_key\"]},{\"name\":\"n\",\"fields\":"
					      "[\"name\"],\"unless\":[\"label:cluster\"]}]", 300,
					      err, sizeof(err)), AX_OK);
	k = ax_group_key(&rs.v[0], &in, &values);
	assert_string_equal(k, "c:eu-1/{}:{namespace=\"shop\"}");
	text = ax_json_print(values);
	assert_string_equal(text, "{\"label:cluster\":\"eu-1\",\"sender_key\":"
			    "\"{}:{namespace=\\\"shop\\\"}\"}");
	free(text);
	free(k);
	cJSON_Delete(values);
	/* "unless" a label: the rule does not apply. */
	assert_null(ax_group_key(&rs.v[1], &in, NULL));
	ax_group_rules_release(&rs);
	/* PagerDuty's incident_key when there is no groupKey. */
	cJSON_Delete(s.raw);
	s.raw = NULL;
	cJSON_AddStringToObject(s.annotations, "incident_key", "pd-42");
	assert_string_equal(ax_group_sender_key(&s), "pd-42");
	ax_signal_release(&s);
}

/* Flapping is "resolved at most flap_window_s ago"; 0 turns it off.  The
 * root CI is the host, else the Kubernetes node label, never the
 * namespace. */
static void test_flap_and_root_ci(void **state)
{
	struct ax_group_input in;
	cJSON *labels = cJSON_Parse("{\"node\":\"worker-3\",\"alertname\":\"X\"}");
	const char *kind = NULL;

	(void)state;
	assert_true(ax_group_is_flap(600, 0));
	assert_true(ax_group_is_flap(600, 599.5));
	assert_true(ax_group_is_flap(600, 600));
	assert_false(ax_group_is_flap(600, 600.5));
	assert_false(ax_group_is_flap(600, -1));        /* never resolved */
	assert_false(ax_group_is_flap(0, 0));           /* off */

	memset(&in, 0, sizeof(in));
	in.namespace_ = "prod";
	assert_null(ax_group_root_ci(&in, &kind));
	in.labels = labels;
	assert_string_equal(ax_group_root_ci(&in, &kind), "worker-3");
	assert_string_equal(kind, "node");
	in.host = "";
	assert_string_equal(ax_group_root_ci(&in, &kind), "worker-3");
	in.host = "db-1";
	assert_string_equal(ax_group_root_ci(&in, &kind), "db-1");
	assert_string_equal(kind, "host");
	assert_string_equal(ax_group_root_ci(&in, NULL), "db-1");
	cJSON_Delete(labels);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_defaults_are_the_old_key),
		cmocka_unit_test(test_match_and_windows),
		cmocka_unit_test(test_labels_and_sender_key),
		cmocka_unit_test(test_flap_and_root_ci),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
