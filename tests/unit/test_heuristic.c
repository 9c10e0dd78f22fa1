/* test_heuristic.c - the heuristic investigation (reason/heuristic.c): one
 * or more cases per rule family on alerts shaped as the drivers produce
 * them, the layering of causes over symptoms, the context (deploys,
 * similar incidents, CI neighbourhood), the confidence parts, the JSON
 * shape, and a fixed subset of the labelled scenarios of
 * tests/fixtures/eval held to the targets (make eval runs them
 * all). */
#define _GNU_SOURCE /* eval.c: strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>

#include <cjson/cJSON.h>

#include "../eval/eval.c"
#include "../../reason/llm.h"
#include "../lib/receiver.h"

#define EVAL_DIR "tests/fixtures/eval"

/* A signal from a compact JSON: status firing, severity warning and source
 * alertmanager unless given; the fingerprint is computed. */
static void mk(struct ax_signal *s, const char *json)
{
	cJSON *j = cJSON_Parse(json);
	char err[256];

	if (j == NULL)
		fail_msg("bad test JSON: %s", json);
	if (!cJSON_HasObjectItem(j, "status"))
		cJSON_AddStringToObject(j, "status", "firing");
	if (!cJSON_HasObjectItem(j, "severity"))
		cJSON_AddStringToObject(j, "severity", "warning");
	if (!cJSON_HasObjectItem(j, "source"))
		cJSON_AddStringToObject(j, "source", "alertmanager");
	cJSON_AddStringToObject(j, "fingerprint", ZERO_FP);
	if (ax_signal_from_json(s, j, err, sizeof(err)) != AX_OK)
		fail_msg("signal: %s", err);
	ax_signal_fingerprint(s, NULL);
	cJSON_Delete(j);
}

#define MAXA 8

/* Investigate the alerts given as JSON strings (NULL-terminated). */
static void run(struct reason_analysis *a, const struct reason_context *ctx, ...)
{
	struct ax_signal s[MAXA];
	const char *json;
	va_list ap;
	int n = 0, i;

	va_start(ap, ctx);
	while ((json = va_arg(ap, const char *)) != NULL && n < MAXA)
		mk(&s[n++], json);
	va_end(ap);
	reason_investigate(s, n, ctx, a);
	for (i = 0; i < n; i++)
		ax_signal_release(&s[i]);
	assert_true(a->confidence >= 0.05 && a->confidence <= 0.99);
	assert_true(a->nactions >= 1);
	assert_non_null(a->summary);
	assert_non_null(a->probable_cause);
}

static const char *p0(const struct reason_analysis *a, const char *key)
{
	return ax_json_str(a->actions[0].params, key);
}

static int has_evidence(const struct reason_analysis *a, const char *needle)
{
	int i;

	for (i = 0; i < a->nevidence; i++) {
		if (strstr(a->evidence[i], needle) != NULL)
			return 1;
	}
	return 0;
}

static const char OOM[] =
	"{\"name\":\"KubernetesContainerOomKiller\",\"service\":\"kube-state-metrics\","
	"\"namespace\":\"payments\",\"summary\":\"Kubernetes container oom killer\","
	"\"description\":\"Container checkout-api in pod payments/checkout-api-7d9f8b6c5-x2k4q "
	"has been OOMKilled 3 times in the last 10 minutes.\",\"labels\":{\"job\":"
	"\"kube-state-metrics\",\"namespace\":\"payments\",\"pod\":"
	"\"checkout-api-7d9f8b6c5-x2k4q\",\"container\":\"checkout-api\",\"reason\":"
	"\"OOMKilled\"}}";

static void test_memory(void **state)
{
	struct reason_analysis a;
	(void)state;

	run(&a, NULL, OOM, NULL);
	assert_string_equal(a.category, "memory");
	assert_string_equal(a.rule, "oom_killed");
	assert_string_equal(a.actions[0].type, "increase_memory_limit");
	assert_string_equal(p0(&a, "namespace"), "payments");
	/* the ReplicaSet hash and the pod suffix are cut off */
	assert_string_equal(p0(&a, "deployment"), "checkout-api");
	assert_non_null(strcasestr(a.probable_cause, "memory limit"));
	reason_analysis_release(&a);

	/* A leak (growth, heap, GC) is mitigated by a rolling restart. */
	run(&a, NULL, "{\"name\":\"JVM heap usage high on inventory-svc\",\"severity\":\"high\","
	    "\"summary\":\"heap at 94%, GC time 38% of wall time\",\"labels\":{\"kube_deployment\":"
	    "\"inventory-svc\",\"kube_namespace\":\"inventory\"},\"source\":\"datadog\"}", NULL);
	assert_string_equal(a.rule, "memory_leak");
	assert_string_equal(a.actions[0].type, "rollout_restart");
	assert_string_equal(p0(&a, "deployment"), "inventory-svc");
	assert_string_equal(p0(&a, "namespace"), "inventory");
	reason_analysis_release(&a);

	/* Host memory: nothing to aim at, warning -> notify_only. */
	run(&a, NULL, "{\"name\":\"NodeMemoryHighUtilization\",\"summary\":\"Host is running "
	    "out of memory.\",\"host\":\"ip-10-0-5-21:9100\",\"service\":\"node-exporter\"}", NULL);
	assert_string_equal(a.category, "memory");
	assert_string_equal(a.actions[0].type, "notify_only");
	reason_analysis_release(&a);
}

static void test_pod_names(void **state)
{
	struct reason_analysis a;
	(void)state;

	/* With pod-template-hash the cut is exact, even for odd names. */
	run(&a, NULL, "{\"name\":\"OOMKilled\",\"summary\":\"container killed: out of memory\","
	    "\"namespace\":\"x\",\"labels\":{\"pod\":\"api-v2-abc-7d9f8b6c5-x2k4q\","
	    "\"pod-template-hash\":\"7d9f8b6c5\"}}", NULL);
	assert_string_equal(p0(&a, "deployment"), "api-v2-abc");
	reason_analysis_release(&a);

	/* A ReplicaSet names its Deployment the same way. */
	run(&a, NULL, "{\"name\":\"OOMKilled\",\"summary\":\"container killed: out of memory\","
	    "\"namespace\":\"x\",\"labels\":{\"replicaset\":\"checkout-api-7d9f8b6c5\"}}", NULL);
	assert_string_equal(p0(&a, "deployment"), "checkout-api");
	reason_analysis_release(&a);

	/* A StatefulSet pod is not a Deployment's: no target. */
	run(&a, NULL, "{\"name\":\"OOMKilled\",\"summary\":\"container killed: out of memory\","
	    "\"namespace\":\"db\",\"labels\":{\"pod\":\"postgres-main-0\"}}", NULL);
	assert_string_equal(a.actions[0].type, "notify_only");
	reason_analysis_release(&a);

	/* Neither is a DaemonSet's ("exporter" has no digit to be a hash). */
	run(&a, NULL, "{\"name\":\"OOMKilled\",\"summary\":\"container killed: out of memory\","
	    "\"namespace\":\"monitoring\",\"labels\":{\"pod\":\"node-exporter-7xk2p\"}}", NULL);
	assert_string_equal(a.actions[0].type, "notify_only");
	reason_analysis_release(&a);

	/* Not ready: the pod itself is the target. */
	run(&a, NULL, "{\"name\":\"KubePodNotReady\",\"summary\":\"Pod has been in a non-ready "
	    "state for more than 15 minutes.\",\"service\":\"kube-state-metrics\",\"labels\":"
	    "{\"job\":\"kube-state-metrics\",\"namespace\":\"payments\",\"pod\":"
	    "\"checkout-api-7d9f8b6c5-p9wq1\"}}", NULL);
	assert_string_equal(a.category, "availability");
	assert_string_equal(a.actions[0].type, "restart_pod");
	assert_string_equal(p0(&a, "pod"), "checkout-api-7d9f8b6c5-p9wq1");
	assert_string_equal(p0(&a, "namespace"), "payments");
	reason_analysis_release(&a);
}

static void test_disk(void **state)
{
	struct reason_analysis a;
	(void)state;

	run(&a, NULL, "{\"name\":\"NodeFilesystemSpaceFillingUp\",\"summary\":\"Filesystem is "
	    "predicted to run out of space within the next 24 hours.\",\"host\":"
	    "\"ip-10-0-7-12:9100\",\"labels\":{\"mountpoint\":\"/var/lib/docker\",\"job\":"
	    "\"node-exporter\"}}", NULL);
	assert_string_equal(a.category, "disk");
	assert_string_equal(a.actions[0].type, "cleanup_disk");
	assert_string_equal(p0(&a, "host"), "ip-10-0-7-12");   /* port cut */
	assert_string_equal(p0(&a, "mountpoint"), "/var/lib/docker");
	reason_analysis_release(&a);

	run(&a, NULL, "{\"name\":\"KubePersistentVolumeFillingUp\",\"severity\":\"critical\","
	    "\"summary\":\"PersistentVolume is filling up.\",\"labels\":{\"namespace\":\"db\","
	    "\"persistentvolumeclaim\":\"data-postgres-main-0\"}}", NULL);
	assert_string_equal(a.rule, "pvc_full");
	assert_string_equal(a.actions[0].type, "expand_volume");
	assert_string_equal(p0(&a, "persistentvolumeclaim"), "data-postgres-main-0");
	assert_string_equal(p0(&a, "namespace"), "db");
	/* critical: on-call hears about it while the expansion is reviewed */
	assert_int_equal(a.nactions, 2);
	assert_string_equal(a.actions[1].type, "escalate");
	reason_analysis_release(&a);

	/* A managed volume (RDS) has no host to clean: grow it. */
	run(&a, NULL, "{\"name\":\"prod-orders-db-FreeStorageSpace-low\",\"source\":\"cloudwatch\","
	    "\"labels\":{\"metric_namespace\":\"AWS/RDS\",\"DBInstanceIdentifier\":"
	    "\"prod-orders-db\"}}", NULL);
	assert_string_equal(a.category, "disk");
	assert_string_equal(a.actions[0].type, "expand_volume");
	assert_string_equal(p0(&a, "volume"), "prod-orders-db");
	reason_analysis_release(&a);
}

static void test_cpu_scale_needs_more_than_info(void **state)
{
	static const char THROTTLE[] =
		"{\"name\":\"CPUThrottlingHigh\",\"severity\":\"info\",\"summary\":\"Processes "
		"experience elevated CPU throttling.\",\"service\":\"kubelet\",\"labels\":{\"job\":"
		"\"kubelet\",\"namespace\":\"search\",\"pod\":\"search-api-7c9d8b6f5-b4n7m\"}}";
	struct reason_analysis a;
	(void)state;

	/* info alone: nothing runs */
	run(&a, NULL, THROTTLE, NULL);
	assert_string_equal(a.category, "cpu");
	assert_string_equal(a.actions[0].type, "notify_only");
	assert_true(a.parts.severity < 0.0);
	reason_analysis_release(&a);

	/* the same throttling behind user-facing latency: scale out */
	run(&a, NULL, THROTTLE, "{\"name\":\"HighRequestLatency\",\"summary\":\"search-api p99 "
	    "latency above 1s\",\"service\":\"search-api\",\"namespace\":\"search\"}", NULL);
	assert_string_equal(a.category, "cpu");
	assert_string_equal(a.actions[0].type, "scale_deployment");
	assert_string_equal(p0(&a, "deployment"), "search-api");
	/* one pod seen, current count unknown: a floor of 2 */
	assert_int_equal((int)cJSON_GetObjectItem(a.actions[0].params, "replicas")->valuedouble, 2);
	assert_true(has_evidence(&a, "HighRequestLatency: symptom latency"));
	reason_analysis_release(&a);

	/* a replica count in the labels is scaled by half */
	run(&a, NULL, "{\"name\":\"HighCPUUsage\",\"summary\":\"cpu 95%\",\"namespace\":\"s\","
	    "\"labels\":{\"deployment\":\"api\",\"replicas\":\"4\"}}", NULL);
	assert_int_equal((int)cJSON_GetObjectItem(a.actions[0].params, "replicas")->valuedouble, 6);
	reason_analysis_release(&a);
}

static void test_network_and_generic_rules(void **state)
{
	struct reason_analysis a;
	(void)state;

	run(&a, NULL, "{\"name\":\"CoreDNSErrorsHigh\",\"severity\":\"critical\",\"summary\":"
	    "\"CoreDNS is returning SERVFAIL for 5.21% of requests.\",\"service\":\"kube-dns\"}",
	    NULL);
	assert_string_equal(a.category, "network");
	assert_string_equal(a.rule, "dns");
	assert_string_equal(a.actions[0].type, "escalate");
	reason_analysis_release(&a);

	/* "Connection refused" to a Postgres server is the database, not the
	 * network: the generic rule yields. */
	run(&a, NULL, "{\"name\":\"OperationalError: could not connect to server: Connection "
	    "refused\",\"severity\":\"high\",\"source\":\"sentry\",\"summary\":\"Is the server "
	    "running on host pg-replica and accepting TCP/IP connections on port 5432?\","
	    "\"service\":\"reports-api\"}", NULL);
	assert_string_equal(a.category, "database");
	reason_analysis_release(&a);

	/* A Sentry issue that names nothing else is an application error. */
	run(&a, NULL, "{\"name\":\"PaymentGatewayTimeout: upstream gateway timed out after 30s\","
	    "\"severity\":\"high\",\"source\":\"sentry\",\"service\":\"checkout-api\"}", NULL);
	assert_string_equal(a.category, "errors");
	assert_string_equal(a.actions[0].type, "notify_only");
	reason_analysis_release(&a);
}

static const char CRASH[] =
	"{\"name\":\"KubePodCrashLooping\",\"summary\":\"Pod is crash looping.\",\"service\":"
	"\"kube-state-metrics\",\"namespace\":\"payments\",\"labels\":{\"job\":"
	"\"kube-state-metrics\",\"namespace\":\"payments\",\"pod\":"
	"\"checkout-api-5b8c7d9f6-m3n8v\",\"reason\":\"CrashLoopBackOff\"}}";

static void test_deploy_regression(void **state)
{
	struct reason_deploy d = {"checkout-api", "payments", "2025.06.10.1", "2025.06.09.4", 480};
	struct reason_context ctx = { .deploys = &d, .ndeploys = 1 };
	struct reason_analysis a, b;
	(void)state;

	run(&a, NULL, CRASH, NULL);
	assert_string_equal(a.category, "crashloop");
	assert_string_equal(a.actions[0].type, "notify_only");
	reason_analysis_release(&a);

	run(&a, &ctx, CRASH, NULL);
	assert_string_equal(a.category, "deployment");
	assert_string_equal(a.rule, "deploy_regression");
	assert_string_equal(a.actions[0].type, "rollback_deployment");
	assert_string_equal(p0(&a, "deployment"), "checkout-api");
	assert_string_equal(p0(&a, "namespace"), "payments");
	assert_string_equal(p0(&a, "to_revision"), "2025.06.09.4");
	assert_non_null(strstr(a.probable_cause, "2025.06.10.1"));
	assert_true(a.parts.deploy > 0.0);

	/* fresher is more confident */
	d.age_s = 3000;
	run(&b, &ctx, CRASH, NULL);
	assert_string_equal(b.category, "deployment");
	assert_true(b.parts.deploy < a.parts.deploy);
	assert_true(b.confidence < a.confidence);
	reason_analysis_release(&a);
	reason_analysis_release(&b);

	/* too old, another service, another namespace: no suspect */
	d.age_s = 259200;
	run(&a, &ctx, CRASH, NULL);
	assert_string_equal(a.category, "crashloop");
	reason_analysis_release(&a);
	d.age_s = 300;
	d.service = "search-api";
	run(&a, &ctx, CRASH, NULL);
	assert_string_equal(a.category, "crashloop");
	reason_analysis_release(&a);
	d.service = "checkout-api";
	d.namespace_ = "staging";
	run(&a, &ctx, CRASH, NULL);
	assert_string_equal(a.category, "crashloop");
	reason_analysis_release(&a);

	/* a disk cause is not explained by a deploy */
	d.namespace_ = "payments";
	run(&a, &ctx, "{\"name\":\"KubePersistentVolumeFillingUp\",\"summary\":\"PersistentVolume "
	    "is filling up.\",\"service\":\"checkout-api\",\"labels\":{\"namespace\":\"payments\","
	    "\"persistentvolumeclaim\":\"data-0\"}}", NULL);
	assert_string_equal(a.category, "disk");
	reason_analysis_release(&a);

	/* a deploy signal grouped into the incident counts too */
	run(&a, NULL,
	    "{\"kind\":\"deploy\",\"name\":\"Deploy checkout-api 2025.06.10.1\","
	    "\"severity\":\"info\",\"service\":\"checkout-api\",\"source\":\"github\"}",
	    CRASH, NULL);
	assert_string_equal(a.category, "deployment");
	assert_string_equal(a.actions[0].type, "rollback_deployment");
	reason_analysis_release(&a);
}

static void test_certificate(void **state)
{
	struct reason_analysis a;
	(void)state;

	run(&a, NULL, "{\"name\":\"CertManagerCertExpirySoon\",\"summary\":\"The cert "
	    "`checkout-tls` is 6 days from expiry\",\"service\":\"cert-manager\",\"namespace\":"
	    "\"payments\",\"labels\":{\"job\":\"cert-manager\",\"name\":\"checkout-tls\"}}", NULL);
	assert_string_equal(a.category, "certificate");
	assert_string_equal(a.actions[0].type, "renew_certificate");
	assert_string_equal(p0(&a, "certificate"), "checkout-tls");
	assert_string_equal(p0(&a, "namespace"), "payments");
	reason_analysis_release(&a);

	run(&a, NULL, "{\"name\":\"BlackboxSslCertificateWillExpireSoon\",\"summary\":\"SSL "
	    "certificate expires in less than 20 days\",\"labels\":{\"instance\":"
	    "\"https://api.example.com\"}}", NULL);
	assert_string_equal(a.actions[0].type, "renew_certificate");
	assert_string_equal(p0(&a, "domain"), "api.example.com");
	reason_analysis_release(&a);

	/* handshake errors: look, do not renew */
	run(&a, NULL, "{\"name\":\"Ingress TLS handshake errors\",\"summary\":\"TLS handshake "
	    "errors above 50/s\",\"service\":\"ingress-nginx-controller\"}", NULL);
	assert_string_equal(a.category, "certificate");
	assert_string_equal(a.actions[0].type, "notify_only");
	reason_analysis_release(&a);
}

static void test_queue_scales_consumer_not_broker(void **state)
{
	struct reason_analysis a;
	(void)state;

	run(&a, NULL, "{\"name\":\"KafkaConsumerLagHigh\",\"summary\":\"Consumer group "
	    "orders-worker is 48210 messages behind on orders\",\"service\":\"kafka-exporter\","
	    "\"namespace\":\"orders\",\"labels\":{\"job\":\"kafka-exporter\",\"consumergroup\":"
	    "\"orders-worker\",\"topic\":\"orders\"}}", NULL);
	assert_string_equal(a.category, "queue");
	assert_string_equal(a.actions[0].type, "scale_deployment");
	assert_string_equal(p0(&a, "deployment"), "orders-worker");
	reason_analysis_release(&a);

	/* the broker's own service is not what scales */
	run(&a, NULL, "{\"name\":\"RabbitmqTooManyMessagesInQueue\",\"summary\":\"Queue is filling "
	    "up (> 1000 msgs)\",\"service\":\"rabbitmq\",\"namespace\":\"messaging\",\"labels\":"
	    "{\"job\":\"rabbitmq\",\"queue\":\"emails\"}}", NULL);
	assert_string_equal(a.category, "queue");
	assert_string_equal(a.actions[0].type, "notify_only");
	reason_analysis_release(&a);
}

static void test_availability_and_noise(void **state)
{
	struct reason_analysis a;
	(void)state;

	run(&a, NULL, "{\"name\":\"KubeNodeNotReady\",\"summary\":\"Node is not ready.\","
	    "\"service\":\"kube-state-metrics\",\"labels\":{\"job\":\"kube-state-metrics\","
	    "\"node\":\"ip-10-0-3-17.eu-west-1.compute.internal\"}}", NULL);
	assert_string_equal(a.category, "availability");
	assert_string_equal(a.actions[0].type, "cordon_node");
	assert_string_equal(p0(&a, "node"), "ip-10-0-3-17.eu-west-1.compute.internal");
	reason_analysis_release(&a);

	run(&a, NULL, "{\"name\":\"InstanceDown\",\"severity\":\"critical\",\"summary\":"
	    "\"web-03:9100 of job node has been down for more than 5 minutes.\"}", NULL);
	assert_string_equal(a.category, "availability");
	assert_string_equal(a.actions[0].type, "escalate");
	reason_analysis_release(&a);

	run(&a, NULL, "{\"name\":\"Watchdog\",\"severity\":\"info\",\"summary\":\"An alert that "
	    "should always be firing to certify that Alertmanager is working properly.\"}", NULL);
	assert_string_equal(a.category, "other");
	assert_string_equal(a.actions[0].type, "notify_only");
	reason_analysis_release(&a);

	/* Nothing matches and classify finds nothing: other. */
	run(&a, NULL, "{\"name\":\"WeirdThingHappened\",\"summary\":\"something odd\"}", NULL);
	assert_string_equal(a.category, "other");
	assert_string_equal(a.rule, "none");
	reason_analysis_release(&a);
}

/* A storm read from the labelled set: the full volume explains the rest. */
static void test_layers_storm(void **state)
{
	struct eval_case c;
	struct reason_analysis a;
	char err[256];
	(void)state;

	if (eval_case_load(EVAL_DIR "/noisy-storm-root-cause-volume-full.json", &c, err,
			   sizeof(err)) != AX_OK)
		fail_msg("%s", err);
	assert_true(c.nalerts >= 4);
	reason_investigate(c.alerts, c.nalerts, &c.ctx, &a);
	assert_string_equal(a.category, c.category);
	assert_string_equal(a.actions[0].type, c.first_action);
	assert_string_equal(p0(&a, "persistentvolumeclaim"),
			    ax_json_str(c.params, "persistentvolumeclaim"));
	assert_true(has_evidence(&a, "KubePodCrashLooping: symptom crashloop"));
	assert_true(has_evidence(&a, "HighErrorRate: symptom error_rate"));
	reason_analysis_release(&a);
	eval_case_release(&c);
}

/* Vendor metric vocabulary (rules v4): a storage latency metric is the
 * disk's (Datadog system.io.await), a broker's backlog metric is the queue's
 * (Pub/Sub oldest_unacked_message_age, named by the metric_type label that
 * weighs as the name).  Read from holdout3, frozen before its first run. */
static void test_vendor_metric_words(void **state)
{
	static const struct {
		const char *file, *rule;
	} cases[] = {
		{ EVAL_DIR "/holdout3-dd-disk-await.json", "disk_io" },
		{ EVAL_DIR "/holdout3-gcp-pubsub-oldest.json", "queue_lag" },
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct eval_case c;
		struct reason_analysis a;
		char err[256];

		if (eval_case_load(cases[i].file, &c, err, sizeof(err)) != AX_OK)
			fail_msg("%s", err);
		reason_investigate(c.alerts, c.nalerts, &c.ctx, &a);
		assert_string_equal(a.category, c.category);
		assert_string_equal(a.rule, cases[i].rule);
		assert_string_equal(a.actions[0].type, c.first_action);
		reason_analysis_release(&a);
		eval_case_release(&c);
	}
}

static void test_similar_incidents(void **state)
{
	static const char DD[] =
	    "{\"name\":\"Pods in CrashLoopBackOff for ledger-worker\",\"severity\":\"critical\","
	    "\"source\":\"datadog\",\"labels\":{\"kube_deployment\":\"ledger-worker\","
	    "\"kube_namespace\":\"finance\"}}";
	struct reason_similar sim = { "ledger-worker crash looping after broker failover",
				      "crashloop", "rollout_restart", 0.86 };
	struct reason_context ctx = { .similar = &sim, .nsimilar = 1 };
	struct reason_analysis a, base;
	(void)state;

	run(&base, NULL, DD, NULL);
	assert_string_equal(base.actions[0].type, "escalate");

	run(&a, &ctx, DD, NULL);
	assert_string_equal(a.category, "crashloop");
	assert_string_equal(a.actions[0].type, "rollout_restart");
	assert_string_equal(p0(&a, "deployment"), "ledger-worker");
	assert_non_null(strstr(a.actions[0].reason, "similar incident"));
	assert_true(a.parts.similar > 0.08 && a.parts.similar < 0.09);
	assert_true(a.confidence > base.confidence);
	reason_analysis_release(&a);

	/* another category: evidence only, nothing lifted */
	sim.category = "latency";
	run(&a, &ctx, DD, NULL);
	assert_string_equal(a.actions[0].type, "escalate");
	assert_true(a.parts.similar == 0.0);
	assert_true(has_evidence(&a, "was latency"));
	reason_analysis_release(&a);

	/* too dissimilar: ignored */
	sim.category = "crashloop";
	sim.score = 0.4;
	run(&a, &ctx, DD, NULL);
	assert_string_equal(a.actions[0].type, "escalate");
	assert_int_equal(a.nevidence, base.nevidence);
	reason_analysis_release(&a);
	reason_analysis_release(&base);
}

static void test_ci_neighbourhood(void **state)
{
	const char *ci[] = { "redis-cache", "pg-main" };
	struct reason_context ctx = { .ci = ci, .nci = 2 };
	struct reason_analysis a;
	(void)state;

	run(&a, &ctx, "{\"name\":\"OperationalError: FATAL: sorry, too many clients already\","
	    "\"severity\":\"high\",\"source\":\"sentry\",\"summary\":\"connection to server at "
	    "\\\"pg-main\\\" (10.0.20.5), port 5432 failed\",\"service\":\"orders-api\"}", NULL);
	assert_string_equal(a.category, "database");
	assert_true(a.parts.ci > 0.0);
	/* the database the application names is what the cause is about */
	assert_non_null(strstr(a.probable_cause, "Database pg-main"));
	reason_analysis_release(&a);
}

static void test_confidence_and_json(void **state)
{
	struct reason_analysis a;
	cJSON *j, *parts, *acts, *ac;
	double sum;
	(void)state;

	run(&a, NULL, OOM, CRASH, NULL);
	sum = a.parts.base + a.parts.corroboration + a.parts.deploy + a.parts.similar +
	      a.parts.ci + a.parts.ambiguity + a.parts.severity;
	assert_true(a.confidence > sum - 0.006 && a.confidence < sum + 0.006);

	j = reason_analysis_json(&a);
	assert_string_equal(ax_json_str(j, "category"), a.category);
	assert_string_equal(ax_json_str(j, "summary"), a.summary);
	assert_string_equal(ax_json_str(j, "probable_cause"), a.probable_cause);
	assert_true(cJSON_GetObjectItem(j, "confidence")->valuedouble == a.confidence);
	parts = cJSON_GetObjectItem(j, "confidence_parts");
	assert_true(cJSON_IsObject(parts));
	assert_true(cJSON_GetObjectItem(parts, "base")->valuedouble == a.parts.base);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(parts, "ambiguity")));
	acts = cJSON_GetObjectItem(j, "actions");
	assert_int_equal(cJSON_GetArraySize(acts), a.nactions);
	ac = cJSON_GetArrayItem(acts, 0);
	assert_string_equal(ax_json_str(ac, "type"), a.actions[0].type);
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(ac, "params")));
	assert_non_null(ax_json_str(ac, "reason"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "evidence")), a.nevidence);
	cJSON_Delete(j);
	reason_analysis_release(&a);
	reason_analysis_release(&a);    /* harmless twice */
}

static void test_edges(void **state)
{
	struct reason_analysis a;
	struct ax_signal many[70];
	static char big[20000];
	int i;
	(void)state;

	reason_investigate(NULL, 0, NULL, &a);
	assert_string_equal(a.category, "other");
	assert_string_equal(a.actions[0].type, "notify_only");
	reason_analysis_release(&a);

	/* resolved alerts are history while something still fires */
	run(&a, NULL, "{\"name\":\"HighCPUUsage\",\"status\":\"resolved\",\"summary\":\"cpu\"}",
	    "{\"name\":\"KubePersistentVolumeFillingUp\",\"summary\":\"PersistentVolume is "
	    "filling up.\"}", NULL);
	assert_string_equal(a.category, "disk");
	reason_analysis_release(&a);

	/* only a deploy: nothing wrong yet */
	run(&a, NULL, "{\"kind\":\"deploy\",\"name\":\"Deploy x 1.2\",\"severity\":\"info\","
	    "\"source\":\"github\"}", NULL);
	assert_string_equal(a.category, "other");
	reason_analysis_release(&a);

	/* more alerts than read, with huge hostile text: bounded */
	memset(big, 'A', sizeof(big) - 1);
	memcpy(big + 10000, " disk full ", 11);
	for (i = 0; i < 70; i++) {
		ax_signal_init(&many[i]);
		many[i].name = ax_xstrdup(big);
		many[i].summary = ax_xstrdup(big);
	}
	reason_investigate(many, 70, NULL, &a);
	assert_non_null(a.category);
	assert_true(a.nactions >= 1);
	reason_analysis_release(&a);
	for (i = 0; i < 70; i++)
		ax_signal_release(&many[i]);
}

static void test_context_json(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"deploys\":{}}",
		"{\"deploys\":[{\"version\":\"1\",\"age_s\":1}]}",
		"{\"deploys\":[{\"service\":\"a\",\"age_s\":-1}]}",
		"{\"similar\":[{\"title\":\"t\",\"score\":1.5}]}",
		"{\"ci\":[\"a\",7]}",
	};
	struct reason_context ctx;
	char err[128];
	cJSON *j;
	size_t i;
	(void)state;

	j = cJSON_Parse(
	    "{\"deploys\":[{\"service\":\"a\",\"namespace\":\"n\",\"version\":\"2\","
	    "\"previous_version\":\"1\",\"age_s\":60}],\"similar\":[{\"title\":\"t\","
	    "\"category\":\"errors\",\"resolution\":\"rollout_restart\",\"score\":0.7}],"
	    "\"ci\":[\"pg-main\"]}");
	assert_int_equal(reason_context_from_json(j, &ctx, err, sizeof(err)), AX_OK);
	assert_int_equal(ctx.ndeploys, 1);
	assert_string_equal(ctx.deploys[0].previous_version, "1");
	assert_int_equal(ctx.deploys[0].age_s, 60);
	assert_int_equal(ctx.nsimilar, 1);
	assert_string_equal(ctx.similar[0].resolution, "rollout_restart");
	assert_int_equal(ctx.nci, 1);
	assert_string_equal(ctx.ci[0], "pg-main");
	reason_context_release(&ctx);
	cJSON_Delete(j);

	assert_int_equal(reason_context_from_json(NULL, &ctx, err, sizeof(err)), AX_OK);
	assert_int_equal(ctx.ndeploys + ctx.nsimilar + ctx.nci, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = cJSON_Parse(bad[i]);
		assert_non_null(j);
		err[0] = '\0';
		assert_int_equal(reason_context_from_json(j, &ctx, err, sizeof(err)), AX_EPROTO);
		assert_true(err[0] != '\0');
		assert_null(ctx.deploys);
		assert_null(ctx.similar);
		cJSON_Delete(j);
	}
}

/* A fixed subset of the labelled set, one or two per category, chosen
 * before the rules were written; make eval runs every scenario. */
static void test_eval_subset(void **state)
{
	static const char *const subset[] = {
		"memory-container-oomkiller",
		"disk-pvc-filling-up",
		"cpu-datadog-k8s-deployment",
		"network-coredns-servfail",
		"crashloop-kube-pod-crashlooping",
		"latency-high-request-latency",
		"errors-alertmanager-high-error-rate",
		"cert-manager-expiry-soon",
		"deploy-rollout-stuck",
		"db-postgres-too-many-connections",
		"queue-kafka-consumer-lag",
		"avail-pod-not-ready",
		"noisy-storm-root-cause-volume-full",
		"errors-newrelic-after-deploy",
		NULL,
	};
	struct eval_totals t;
	char err[512];
	(void)state;

	if (eval_dir(EVAL_DIR, subset, &t, stderr, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(t.n, 14);
	assert_true(t.category >= 0.85 * t.n);
	assert_true(t.action >= 0.70 * t.n);
	assert_true(t.kw_any >= 0.70 * t.kw_cases);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* make eval --model: each scenario's prompt goes to the model, whose
 * valid answer is scored (openai_ok says memory / rollback_deployment
 * whatever it is asked); a failing model scores the heuristic, as reason
 * falls back. */
static void test_eval_with_a_model(void **state)
{
	static const char *const two[] = { "holdout-jvm-memory-filling-up",
					   "disk-azure-monitor-disk", NULL };
	struct receiver *r = rcv_start(500);
	struct reason_llm_config c;
	struct eval_totals t, h;
	struct rcv_reply ok = { .status = 200 };
	char url[128], err[512], *body;
	cJSON *req;
	(void)state;

	body = slurp("tests/fixtures/llm/openai_ok.json");
	ok.body = body;
	rcv_script_reply(r, &ok);
	rcv_script_reply(r, &ok);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/", rcv_port(r));
	memset(&c, 0, sizeof(c));
	c.provider = REASON_LLM_OPENAI;
	c.url = url;
	c.key = "sk-eval";
	c.model = "gpt-4o-mini";
	c.timeout_ms = 5000;
	eval_use_model(&c);
	if (eval_dir(EVAL_DIR, two, &t, NULL, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(t.model_asked, 2);
	assert_int_equal(t.model_answered, 2);
	assert_int_equal(t.category, 1);        /* the memory scenario only */
	assert_int_equal(t.action, 0);          /* neither expects a rollback */
	/* The prompt reason builds, with the scenario's alert in it (files
	 * run in name order: the JVM one second). */
	req = cJSON_Parse(rcv_get(r, 1)->body);
	assert_non_null(req);
	assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(
				       cJSON_GetObjectItem(req, "messages"), 1), "content")->valuestring,
			       "JvmMemory"));
	cJSON_Delete(req);

	/* Now every call fails (500): the heuristic's figures, each counted. */
	if (eval_dir(EVAL_DIR, two, &t, NULL, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	eval_use_model(NULL);
	if (eval_dir(EVAL_DIR, two, &h, NULL, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(t.model_asked, 2);
	assert_int_equal(t.model_answered, 0);
	assert_non_null(strstr(t.model_failure, "http_5xx"));
	assert_int_equal(t.category, h.category);
	assert_int_equal(t.action, h.action);
	assert_int_equal(h.model_asked, 0);
	rcv_stop(r);
	free(body);
}

/* Every scenario's answer passes the shape a model's answer must pass
 * (reason/llm.h): the heuristic is the fallback of every model failure,
 * so the state machine must be able to treat both alike. */
static void test_answers_pass_the_model_shape(void **state)
{
	DIR *d = opendir(EVAL_DIR);
	struct dirent *de;
	int checked = 0;
	(void)state;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[512], err[512];
		struct eval_case c;
		struct reason_analysis a;
		cJSON *doc, *valid = NULL;
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", EVAL_DIR, de->d_name);
		if (eval_case_load(path, &c, err, sizeof(err)) != AX_OK)
			fail_msg("%s", err);
		reason_investigate(c.alerts, c.nalerts, &c.ctx, &a);
		doc = reason_analysis_json(&a);
		if (reason_analysis_validate(doc, &valid, err, sizeof(err)) != 0)
			fail_msg("%s: heuristic answer fails the model shape: %s", c.name, err);
		cJSON_Delete(valid);
		cJSON_Delete(doc);
		reason_analysis_release(&a);
		eval_case_release(&c);
		checked++;
	}
	closedir(d);
	assert_true(checked >= 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_pod_names),
		cmocka_unit_test(test_disk),
		cmocka_unit_test(test_cpu_scale_needs_more_than_info),
		cmocka_unit_test(test_network_and_generic_rules),
		cmocka_unit_test(test_deploy_regression),
		cmocka_unit_test(test_certificate),
		cmocka_unit_test(test_queue_scales_consumer_not_broker),
		cmocka_unit_test(test_availability_and_noise),
		cmocka_unit_test(test_layers_storm),
		cmocka_unit_test(test_similar_incidents),
		cmocka_unit_test(test_ci_neighbourhood),
		cmocka_unit_test(test_confidence_and_json),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_context_json),
		cmocka_unit_test(test_vendor_metric_words),
		cmocka_unit_test(test_eval_with_a_model),
		cmocka_unit_test(test_eval_subset),
		cmocka_unit_test(test_answers_pass_the_model_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
