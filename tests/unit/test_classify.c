/* test_classify.c - the heuristic classify stage (reason/classify.c) on
 * realistic alerts: names, summaries and labels as Prometheus,
 * Alertmanager, Grafana and friends send them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../../reason/classify.h"

static struct reason_class cls(const char *name, const char *summary, const char *labels_json,
			       const char *service, enum ax_severity sev)
{
	struct reason_class c;
	cJSON *labels = labels_json ? cJSON_Parse(labels_json) : NULL;

	if (labels_json)
		assert_non_null(labels);
	reason_classify(name, summary, labels, service, sev, &c);
	cJSON_Delete(labels);
	assert_true(c.confidence >= 0.0 && c.confidence <= 1.0);
	return c;
}

static int has_cue(const struct reason_class *c, const char *cue)
{
	int i;

	for (i = 0; i < c->ncues; i++) {
		if (strcmp(c->cues[i], cue) == 0)
			return 1;
	}
	return 0;
}

static void test_cpu(void **state)
{
	struct reason_class c;
	(void)state;

	c = cls("HighCPUUsage", "CPU usage on web-01 is 92%",
		"{\"alertname\":\"HighCPUUsage\",\"instance\":\"web-01:9100\","
		"\"service\":\"checkout-api\",\"severity\":\"warning\"}",
		"checkout-api", AX_SEV_WARNING);
	assert_string_equal(c.category, "cpu");
	assert_string_equal(c.intent, "incident");
	assert_true(has_cue(&c, "cpu*"));
	/* cpu in the name (2) and in the summary (1) */
	assert_int_equal(c.score, 3);
	assert_true(c.confidence > 0.7 && c.confidence < 0.8);

	c = cls("CPUThrottlingHigh", "Processes experience elevated CPU throttling", NULL, "api",
		AX_SEV_WARNING);
	assert_string_equal(c.category, "cpu");
}

static void test_disk(void **state)
{
	struct reason_class c;
	(void)state;

	c = cls("NodeFilesystemAlmostOutOfSpace",
		"Filesystem on /dev/sda1 at db-01 has only 3% available space left", NULL, NULL,
		AX_SEV_CRITICAL);
	assert_string_equal(c.category, "disk");
	assert_true(has_cue(&c, "filesystem*"));
	assert_true(has_cue(&c, "space"));

	c = cls("DiskFull", "disk /var is full", NULL, "storage-node", AX_SEV_HIGH);
	assert_string_equal(c.category, "disk");
}

static void test_errors(void **state)
{
	struct reason_class c;
	(void)state;

	/* The Alertmanager fixture: name and summary both point at errors. */
	c = cls("HighErrorRate", "checkout-api 5xx ratio above 5% on 10.0.12.34:8080",
		"{\"alertname\":\"HighErrorRate\",\"job\":\"checkout-api\",\"namespace\":"
		"\"payments\",\"service\":\"checkout-api\",\"severity\":\"critical\"}",
		"checkout-api", AX_SEV_CRITICAL);
	assert_string_equal(c.category, "errors");
	assert_true(has_cue(&c, "error*"));
	assert_true(has_cue(&c, "5xx"));
	assert_int_equal(c.score, 3);
	/* 0.3 + 0.15 * 3 + 0.05 (critical) */
	assert_true(c.confidence > 0.79 && c.confidence < 0.81);

	/* No name cue, the summary alone still says 5xx. */
	c = cls("checkout-api threshold", "Request count with response_code_class=5xx is high",
		NULL, "checkout-api", AX_SEV_HIGH);
	assert_string_equal(c.category, "errors");
}

static void test_other_categories(void **state)
{
	(void)state;
	assert_string_equal(cls("KubePodOOMKilled", "container was OOMKilled", NULL, "api",
				AX_SEV_HIGH).category, "memory");
	assert_string_equal(cls("HighRequestLatency", "p99 latency above 2s", NULL, "api",
				AX_SEV_WARNING).category, "latency");
	assert_string_equal(cls("InstanceDown", "target web-03 has been down for 5 minutes",
				NULL, NULL, AX_SEV_CRITICAL).category, "availability");
	assert_string_equal(cls("KubePodCrashLooping", "pod is crash looping", NULL, "api",
				AX_SEV_WARNING).category, "availability");
	assert_string_equal(cls("SSLCertificateExpiringSoon", "TLS certificate expires in 5 days",
				NULL, "edge", AX_SEV_WARNING).category, "certificate");
	assert_string_equal(cls("PostgresReplicationLagHigh", "replica is 120s behind", NULL,
				"postgres", AX_SEV_HIGH).category, "database");
	assert_string_equal(cls("KafkaConsumerLagHigh", "consumer group orders is behind", NULL,
				"orders", AX_SEV_WARNING).category, "queue");
	assert_string_equal(cls("KubeDeploymentRolloutStuck", "rollout of api is stuck", NULL,
				"api", AX_SEV_WARNING).category, "deployment");
	assert_string_equal(cls("DNSResolutionFailures", "packet loss and dns timeouts on eth0",
				NULL, NULL, AX_SEV_WARNING).category, "network");
	/* Equal weight: the more specific category wins the tie. */
	assert_string_equal(cls("DeploymentFailed", NULL, NULL, "api", AX_SEV_HIGH).category,
			    "deployment");
}

static void test_unknown_is_other(void **state)
{
	struct reason_class c;
	(void)state;

	c = cls("WeirdThingHappened", "something odd on web-02", "{\"team\":\"payments\"}",
		"billing", AX_SEV_WARNING);
	assert_string_equal(c.category, "other");
	assert_int_equal(c.ncues, 0);
	assert_int_equal(c.score, 0);
	assert_true(c.confidence > 0.29 && c.confidence < 0.31);

	c = cls(NULL, NULL, NULL, NULL, AX_SEV_WARNING);
	assert_string_equal(c.category, "other");
}

static void test_whole_words_only(void **state)
{
	(void)state;
	/* "namespace" is not "space", "feedback" is not "db", "download"
	 * is not "down". */
	assert_string_equal(cls("FeedbackNamespaceDownloadStalled", NULL, NULL, "x",
				AX_SEV_WARNING).category, "other");
}

static void test_more_cues_more_confidence(void **state)
{
	struct reason_class one, two, three;
	(void)state;

	one = cls("Saturation", "disk usage high", NULL, "db", AX_SEV_WARNING);
	two = cls("DiskUsage", "usage high", NULL, "db", AX_SEV_WARNING);
	three = cls("DiskUsage", "disk and inode usage high on volume /data", NULL, "db",
		    AX_SEV_WARNING);
	assert_string_equal(one.category, "disk");
	assert_string_equal(two.category, "disk");
	assert_string_equal(three.category, "disk");
	assert_true(one.score < two.score && two.score < three.score);
	assert_true(one.confidence < two.confidence);
	assert_true(two.confidence < three.confidence);
	/* Capped: never above 1. */
	assert_true(cls("DiskFilesystemInodeVolumeSpace", "disk filesystem inode volume space",
			NULL, "x", AX_SEV_CRITICAL).confidence <= 1.0);
}

static void test_severity_respected(void **state)
{
	struct reason_class crit, high, warn, info;
	(void)state;

	crit = cls("HighErrorRate", "5xx", NULL, "api", AX_SEV_CRITICAL);
	high = cls("HighErrorRate", "5xx", NULL, "api", AX_SEV_HIGH);
	warn = cls("HighErrorRate", "5xx", NULL, "api", AX_SEV_WARNING);
	info = cls("HighErrorRate", "5xx", NULL, "api", AX_SEV_INFO);
	assert_true(crit.confidence > high.confidence);
	assert_true(high.confidence > warn.confidence);
	assert_true(warn.confidence > info.confidence);
	assert_int_equal(crit.severity, AX_SEV_CRITICAL);
	assert_int_equal(info.severity, AX_SEV_INFO);
	assert_string_equal(info.intent, "incident");   /* it names a service */

	/* info with no service: noise */
	info = cls("Watchdog", "An alert that should always be firing", NULL, NULL, AX_SEV_INFO);
	assert_string_equal(info.intent, "noise");
	info = cls("Watchdog", NULL, NULL, "", AX_SEV_INFO);
	assert_string_equal(info.intent, "noise");
	/* not info: an incident even without a service */
	assert_string_equal(cls("Watchdog", NULL, NULL, NULL, AX_SEV_WARNING).intent, "incident");
}

static void test_alertname_label_not_double_counted(void **state)
{
	struct reason_class with, without;
	(void)state;

	with = cls("HighCPUUsage", NULL, "{\"alertname\":\"HighCPUUsage\"}", "x", AX_SEV_WARNING);
	without = cls("HighCPUUsage", NULL, NULL, "x", AX_SEV_WARNING);
	assert_int_equal(with.score, without.score);
	/* other labels do count */
	with = cls("HighCPUUsage", NULL, "{\"job\":\"cpu-exporter\"}", "x", AX_SEV_WARNING);
	assert_int_equal(with.score, without.score + 1);
}

static void test_json(void **state)
{
	struct reason_class c = cls("HighErrorRate", "5xx ratio", NULL, "api", AX_SEV_CRITICAL);
	cJSON *j = reason_class_json(&c);
	char *s = cJSON_PrintUnformatted(j);
	(void)state;

	assert_string_equal(s, "{\"category\":\"errors\",\"intent\":\"incident\",\"confidence\":"
			       "0.8,\"severity\":\"critical\",\"score\":3,\"cues\":[\"error*\","
			       "\"5xx\"]}");
	cJSON_free(s);
	cJSON_Delete(j);
}

/* The word list the heuristic investigation shares with classify. */
static void test_words(void **state)
{
	struct reason_words *ws = calloc(1, sizeof(*ws));
	(void)state;

	assert_non_null(ws);
	reason_words_add(ws, "Http5xx p99 x509 k8s eth0 NodeFilesystemSpaceFillingUp");
	reason_words_add(ws, NULL);
	reason_words_add(ws, "Memory cgroup out of memory: Killed process");
	/* a digit after three letters starts a word; shorter runs stay whole */
	assert_true(reason_words_has(ws, "http"));
	assert_true(reason_words_has(ws, "5xx"));
	assert_false(reason_words_has(ws, "http5xx"));
	assert_true(reason_words_has(ws, "p99"));
	assert_true(reason_words_has(ws, "x509"));
	assert_true(reason_words_has(ws, "k8s"));
	assert_true(reason_words_has(ws, "eth"));
	/* CamelCase, prefixes, phrases of consecutive words */
	assert_true(reason_words_has(ws, "filesystem"));
	assert_true(reason_words_has(ws, "fill*"));
	assert_true(reason_words_has(ws, "space filling"));
	assert_true(reason_words_has(ws, "out of memory"));
	assert_true(reason_words_has(ws, "out of mem*"));
	assert_false(reason_words_has(ws, "memory out"));
	assert_false(reason_words_has(ws, "out of disk"));
	assert_false(reason_words_has(ws, ""));
	assert_false(reason_words_has(ws, "kill"));
	assert_true(reason_words_has(ws, "kill*"));
	free(ws);

	/* classify sees the split too: an Azure "Http5xx" metric is errors */
	assert_string_equal(cls("checkout-webapp Http5xx", NULL, NULL, "web", AX_SEV_HIGH).category,
			    "errors");
}

static void test_hostile_input_is_bounded(void **state)
{
	static char big[200000];
	struct reason_class c;
	(void)state;

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	c = cls(big, big, NULL, NULL, AX_SEV_INFO);
	assert_string_equal(c.category, "other");
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big + 150000, "disk", 4);
	c = cls("x", big, NULL, NULL, AX_SEV_WARNING);
	assert_string_equal(c.category, "disk");
	memcpy(big, "\xc3\xa9\xff\x01", 4);
	c = cls("\xff\xfe" "Disk\x80", big, NULL, NULL, AX_SEV_WARNING);
	assert_string_equal(c.category, "disk");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu),
		cmocka_unit_test(test_disk),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_other_categories),
		cmocka_unit_test(test_unknown_is_other),
		cmocka_unit_test(test_whole_words_only),
		cmocka_unit_test(test_more_cues_more_confidence),
		cmocka_unit_test(test_severity_respected),
		cmocka_unit_test(test_alertname_label_not_double_counted),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_hostile_input_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
