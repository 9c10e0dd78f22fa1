/* test_reason_incident.c - reason's pure pieces (reason/incident.c): the
 * grouping key, severity order, timestamp screening, and the exact JSON
 * of the notify action and the stage event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../../reason/incident.h"

static void expect_key(const char *service, const char *ns, const char *host, const char *name,
		       const char *want)
{
	char *k = reason_group_key(service, ns, host, name);

	if (want == NULL) {
		assert_null(k);
		return;
	}
	assert_non_null(k);
	assert_string_equal(k, want);
	free(k);
}

static void test_group_key(void **state)
{
	(void)state;
	expect_key("checkout-api", "payments", "10.0.12.34", "HighErrorRate", "checkout-api");
	expect_key(NULL, "payments", "web-01", "HighCPUUsage", "payments/web-01");
	expect_key("", "payments", "web-01", "HighCPUUsage", "payments/web-01");
	expect_key(NULL, NULL, "web-01", "HighCPUUsage", "web-01");
	expect_key(NULL, "payments", NULL, "HighCPUUsage", "HighCPUUsage");
	expect_key(NULL, "payments", "", "HighCPUUsage", "HighCPUUsage");
	expect_key(NULL, NULL, NULL, "HighCPUUsage", "HighCPUUsage");
	expect_key("", "", "", "", NULL);
	expect_key(NULL, NULL, NULL, NULL, NULL);
}

static void test_severity_max(void **state)
{
	(void)state;
	assert_int_equal(reason_severity_max(AX_SEV_WARNING, AX_SEV_CRITICAL), AX_SEV_CRITICAL);
	assert_int_equal(reason_severity_max(AX_SEV_CRITICAL, AX_SEV_INFO), AX_SEV_CRITICAL);
	assert_int_equal(reason_severity_max(AX_SEV_INFO, AX_SEV_HIGH), AX_SEV_HIGH);
	assert_int_equal(reason_severity_max(AX_SEV_INFO, AX_SEV_INFO), AX_SEV_INFO);
	assert_int_equal(reason_severity_max(AX_SEV_WARNING, AX_SEV_HIGH), AX_SEV_HIGH);
}

static void test_time_usable(void **state)
{
	(void)state;
	assert_true(reason_time_usable("2025-06-10T08:15:30.512Z"));
	assert_true(reason_time_usable("2025-06-10T08:15:30Z"));
	assert_true(reason_time_usable("2025-06-10T08:15:30+02:00"));
	assert_true(reason_time_usable("2025-06-10T08:15:30.123456-05:30"));
	assert_true(reason_time_usable("2025-06-10 08:15:30"));
	assert_false(reason_time_usable("0001-01-01T00:00:00Z"));  /* Alertmanager's "unset" */
	assert_false(reason_time_usable(NULL));
	assert_false(reason_time_usable(""));
	assert_false(reason_time_usable("yesterday"));
	assert_false(reason_time_usable("2025-06-10"));
	assert_false(reason_time_usable("2025-06-10T08:15:30.Z"));
	assert_false(reason_time_usable("2025-06-10T08:15:30Zjunk"));
	assert_false(reason_time_usable("2025-06-10T08:15:30+0200"));
	assert_false(reason_time_usable("2025-6-10T08:15:30Z"));
}

static void fill(struct reason_incident *inc, int resolved)
{
	memset(inc, 0, sizeof(*inc));
	snprintf(inc->id, sizeof(inc->id), "%s", "0b6f7c1e-8a51-4f7e-9a1e-5d2c3b4a6f70");
	inc->title = strdup("checkout-api 5xx ratio above 5% on 10.0.12.34:8080");
	inc->status = strdup(resolved ? "resolved" : "open");
	inc->severity = strdup("critical");
	inc->category = strdup("errors");
	inc->confidence = 0.800000011920929; /* a real column read back */
	inc->has_confidence = 1;
	inc->service = strdup("checkout-api");
	inc->alert_count = 2;
	inc->opened_at = strdup("2025-06-10T08:15:31.002Z");
	inc->resolved_at = resolved ? strdup("2025-06-10T08:45:00.500Z") : NULL;
}

static void expect_json(cJSON *j, const char *want)
{
	char *s = cJSON_PrintUnformatted(j);

	assert_string_equal(s, want);
	cJSON_free(s);
	cJSON_Delete(j);
}

static void test_action_data(void **state)
{
	struct reason_incident inc;
	(void)state;

	fill(&inc, 0);
	expect_json(reason_action_data("7d1c4a52-3e0f-4b8e-a1d2-9c8b7a6f5e4d",
					"c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f", "incident.opened",
					&inc),
		    "{\"action_id\":\"7d1c4a52-3e0f-4b8e-a1d2-9c8b7a6f5e4d\",\"type\":\"notify\","
		    "\"channel\":\"webhook\",\"incident_id\":\"0b6f7c1e-8a51-4f7e-9a1e-5d2c3b4a6f70\","
		    "\"signal_id\":\"c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f\",\"event\":"
		    "\"incident.opened\",\"incident\":{\"id\":"
		    "\"0b6f7c1e-8a51-4f7e-9a1e-5d2c3b4a6f70\",\"title\":\"checkout-api 5xx ratio "
		    "above 5% on 10.0.12.34:8080\",\"status\":\"open\",\"severity\":\"critical\","
		    "\"category\":\"errors\",\"confidence\":0.8,\"service\":\"checkout-api\","
		    "\"alert_count\":2,\"opened_at\":\"2025-06-10T08:15:31.002Z\",\"resolved_at\":"
		    "null}}");
	reason_incident_release(&inc);

	fill(&inc, 1);
	free(inc.category);
	inc.category = NULL;
	inc.has_confidence = 0;
	free(inc.service);
	inc.service = NULL;
	expect_json(reason_incident_json(&inc),
		    "{\"id\":\"0b6f7c1e-8a51-4f7e-9a1e-5d2c3b4a6f70\",\"title\":\"checkout-api 5xx "
		    "ratio above 5% on 10.0.12.34:8080\",\"status\":\"resolved\",\"severity\":"
		    "\"critical\",\"category\":null,\"confidence\":null,\"service\":null,"
		    "\"alert_count\":2,\"opened_at\":\"2025-06-10T08:15:31.002Z\",\"resolved_at\":"
		    "\"2025-06-10T08:45:00.500Z\"}");
	reason_incident_release(&inc);
	reason_incident_release(NULL);
}

static void test_stage_event(void **state)
{
	cJSON *out = cJSON_Parse("{\"category\":\"errors\",\"confidence\":0.8}");
	(void)state;

	expect_json(reason_stage_event("acme", "0b6f7c1e-8a51-4f7e-9a1e-5d2c3b4a6f70", "classify",
				       "c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f",
				       "4bf92f3577b34da6a3ce929d0e0e4736", NULL, out),
		    "{\"type\":\"incident.stage\",\"tenant\":\"acme\",\"incident_id\":"
		    "\"0b6f7c1e-8a51-4f7e-9a1e-5d2c3b4a6f70\",\"stage\":\"classify\",\"signal_id\":"
		    "\"c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f\",\"trace\":"
		    "\"4bf92f3577b34da6a3ce929d0e0e4736\",\"output\":{\"category\":\"errors\","
		    "\"confidence\":0.8}}");
	cJSON_Delete(out);
	expect_json(reason_stage_event("acme", "0b6f7c1e-8a51-4f7e-9a1e-5d2c3b4a6f70", "opened",
				       NULL, NULL, NULL, NULL),
		    "{\"type\":\"incident.stage\",\"tenant\":\"acme\",\"incident_id\":"
		    "\"0b6f7c1e-8a51-4f7e-9a1e-5d2c3b4a6f70\",\"stage\":\"opened\",\"signal_id\":"
		    "null,\"trace\":null,\"output\":{}}");
	/* A pipeline run's transition carries its run id; a cmdb run's has no
	 * incident. */
	expect_json(reason_stage_event("acme", NULL, "incident_or_cmdb",
				       "c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f", "t1",
				       "01a2091a-8722-7c0e-8a41-0d9f3b6c1e27", NULL),
		    "{\"type\":\"incident.stage\",\"tenant\":\"acme\",\"incident_id\":null,"
		    "\"stage\":\"incident_or_cmdb\",\"signal_id\":"
		    "\"c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f\",\"trace\":\"t1\",\"run_id\":"
		    "\"01a2091a-8722-7c0e-8a41-0d9f3b6c1e27\",\"output\":{}}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_key),
		cmocka_unit_test(test_severity_max),
		cmocka_unit_test(test_time_usable),
		cmocka_unit_test(test_action_data),
		cmocka_unit_test(test_stage_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
