/* test_decide.c - confidence calibration and the confidence_check
 * decision (reason/decide.c), on analysis documents of the shape the model
 * and the heuristic produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../../reason/decide.h"

static cJSON *analysis(const char *category, double confidence, const char *first_action)
{
	char text[512];
	cJSON *j;

	snprintf(text, sizeof(text),
		 "{\"category\":\"%s\",\"confidence\":%g,\"actions\":[{\"type\":\"%s\","
		 "\"params\":{},\"reason\":\"r\"}]}",
		 category, confidence, first_action);
	j = cJSON_Parse(text);
	assert_non_null(j);
	return j;
}

static void test_heuristic_only(void **state)
{
	cJSON *h = analysis("disk", 0.734, "cleanup_disk");
	struct reason_calibration c;
	cJSON *j;

	(void)state;
	reason_calibrate(NULL, h, NULL, &c);
	assert_false(c.from_model);
	assert_true(c.confidence == 0.73);
	j = reason_calibration_json(&c);
	assert_string_equal(cJSON_GetObjectItem(j, "from")->valuestring, "heuristic");
	assert_null(cJSON_GetObjectItem(j, "agreement"));
	cJSON_Delete(j);
	cJSON_Delete(h);
}

static void test_model_agrees_and_similar_fix(void **state)
{
	cJSON *m = analysis("memory", 0.9, "increase_memory_limit");
	cJSON *h = analysis("memory", 0.6, "rollout_restart");
	cJSON *sim = cJSON_Parse("[{\"fix\":\"rollout_restart: restarted\",\"score\":0.9},"
				 "{\"fix\":\"increase_memory_limit: raised to 2Gi\",\"score\":0.4},"
				 "{\"score\":1}]");
	struct reason_calibration c;

	(void)state;
	reason_calibrate(m, h, sim, &c);
	assert_true(c.from_model);
	assert_true(c.model == 0.9 && c.heuristic == 0.6);
	assert_true(c.agreement == 0.05);
	/* Only the fix that begins with the model's first action counts. */
	assert_true(c.similar_fix == 0.04);
	/* 0.45 + 0.3 + 0.05 + 0.04 */
	assert_true(c.confidence == 0.84);
	cJSON_Delete(m);
	cJSON_Delete(h);
	cJSON_Delete(sim);
}

static void test_model_disagrees(void **state)
{
	cJSON *m = analysis("network", 0.9, "escalate");
	cJSON *h = analysis("disk", 0.5, "cleanup_disk");
	struct reason_calibration c;

	(void)state;
	reason_calibrate(m, h, NULL, &c);
	assert_true(c.agreement == -0.10);
	assert_true(c.similar_fix == 0);
	/* A confident model that the evidence does not back ends below its word. */
	assert_true(c.confidence == 0.6);   /* 0.45 + 0.25 - 0.1 */
	cJSON_Delete(m);
	cJSON_Delete(h);
}

static void test_clamped(void **state)
{
	cJSON *m = analysis("disk", 0.0, "cleanup_disk");
	cJSON *h = analysis("memory", 0.0, "cleanup_disk");
	struct reason_calibration c;

	(void)state;
	reason_calibrate(m, h, NULL, &c);
	assert_true(c.confidence == 0.05);
	cJSON_Delete(m);
	cJSON_Delete(h);
}

static void test_decide(void **state)
{
	struct reason_thresholds t = REASON_THRESHOLDS_DEFAULT;
	char why[160];

	(void)state;
	assert_string_equal(reason_decide(0.9, "cleanup_disk", &t, why, sizeof(why)), "execute");
	assert_non_null(strstr(why, "execute threshold 0.85"));
	assert_string_equal(reason_decide(0.85, "cleanup_disk", &t, why, sizeof(why)), "execute");
	assert_string_equal(reason_decide(0.84, "cleanup_disk", &t, why, sizeof(why)), "clarify");
	assert_string_equal(reason_decide(0.5, NULL, &t, why, sizeof(why)), "clarify");
	assert_string_equal(reason_decide(0.49, "cleanup_disk", &t, why, sizeof(why)), "escalate");
	assert_non_null(strstr(why, "< clarify threshold 0.50"));
	/* The analysis asking for on-call wins over any confidence. */
	assert_string_equal(reason_decide(0.99, "escalate", &t, why, sizeof(why)), "escalate");
	assert_string_equal(why, "the first proposed action is escalate");
	t.execute = 0.3;
	t.clarify = 0.2;
	assert_string_equal(reason_decide(0.31, "restart_pod", &t, why, sizeof(why)), "execute");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heuristic_only),
		cmocka_unit_test(test_model_agrees_and_similar_fix),
		cmocka_unit_test(test_model_disagrees),
		cmocka_unit_test(test_clamped),
		cmocka_unit_test(test_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
