/* test_k8s.c - the Kubernetes adapter (act/k8s.c) against an HTTPS
 * receiver standing in for the API server.
 *
 * The PKI (CA, server certificate for 127.0.0.1, client certificate, an
 * unrelated CA) is made per run by the openssl command line
 * (rcv_certs_make); the kubeconfigs are the fixtures of tests/fixtures/k8s
 * with their placeholders filled from it.  The receiver asks for (but
 * does not require) a client certificate signed by the run's CA and
 * records the CN, so token and certificate authentication are both seen
 * from the server's side.
 *
 * What is asserted is what the API server would check: method, path and
 * query (dryRun=All, fieldManager), Accept, Content-Type per patch type,
 * Authorization, and the exact body; Status answers become the outcome's
 * error with the Status message read from the fixture; a wrong CA never
 * delivers a request; an invalid name never sends anything. */
#define _GNU_SOURCE   /* strptime */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sodium.h>

#include "receiver.h"
#include "alexus/config.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "../../act/k8s.h"

#define FIX "tests/fixtures/k8s/"

static struct rcv_certs pki;
static struct receiver *rcv;
static char server[64];
static char token[80];

/* ---- helpers ---------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return b;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *b64_of_file(const char *path)
{
	size_t n, bl;
	char *raw = slurp(path, &n), *out;

	bl = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	out = malloc(bl);
	sodium_bin2base64(out, bl, (unsigned char *)raw, n, sodium_base64_VARIANT_ORIGINAL);
	free(raw);
	return out;
}

/* s with every "@KEY@" replaced; malloc'd. */
static char *replace(const char *s, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val), n = 0;
	const char *p;
	char *out, *o;

	for (p = s; (p = strstr(p, key)) != NULL; p += kl)
		n++;
	out = malloc(strlen(s) + n * vl + 1);
	o = out;
	while ((p = strstr(s, key)) != NULL) {
		memcpy(o, s, (size_t)(p - s));
		o += p - s;
		memcpy(o, val, vl);
		o += vl;
		s = p + kl;
	}
	strcpy(o, s);
	return out;
}

/* Fill fixture name's placeholders (trusting ca) into pki.dir/name; the
 * path is written to path. */
static void fill(const char *name, const char *ca, char *path, size_t pathlen)
{
	char fix[256];
	char *t, *u, *ca64 = b64_of_file(ca), *c64 = b64_of_file(pki.client_cert),
		   *k64 = b64_of_file(pki.client_key);
	const char *keys[][2] = {
		{ "@SERVER@", server }, { "@CA_DATA@", ca64 }, { "@CA_FILE@", ca },
		{ "@TOKEN@", token }, { "@CLIENT_CERT_DATA@", c64 }, { "@CLIENT_KEY_DATA@", k64 },
	};
	size_t i;

	snprintf(fix, sizeof(fix), FIX "%s", name);
	t = slurp(fix, NULL);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		u = replace(t, keys[i][0], keys[i][1]);
		free(t);
		t = u;
	}
	for (u = t; (u = strchr(u, '@')) != NULL; u++) {   /* every placeholder known */
		size_t n = strspn(u + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");

		if (n > 0 && u[1 + n] == '@')
			fail_msg("%s: unknown placeholder %.*s", name, (int)n + 2, u);
	}
	snprintf(path, pathlen, "%s/%s", pki.dir, name);
	spit(path, t);
	free(t);
	free(ca64);
	free(c64);
	free(k64);
}

static void cfg_init(struct ax_config *c, const char *kubeconfig, const char *api, int tmo)
{
	memset(c, 0, sizeof(*c));
	c->kubeconfig = (char *)(uintptr_t)(kubeconfig != NULL ? kubeconfig : "");
	c->k8s_api = (char *)(uintptr_t)(api != NULL ? api : "");
	c->k8s_timeout_ms = tmo;
}

static struct act_k8s *open_kc(const char *fixture, const char *ca, int tmo)
{
	struct ax_config c;
	struct act_k8s *k = NULL;
	char path[512], err[256];

	fill(fixture, ca, path, sizeof(path));
	cfg_init(&c, path, NULL, tmo);
	err[0] = '\0';
	if (act_k8s_open(&k, &c, err, sizeof(err)) != AX_OK)
		fail_msg("open %s: %s", fixture, err);
	return k;
}

static cJSON *params(const char *json)
{
	cJSON *p = cJSON_Parse(json);

	assert_non_null(p);
	return p;
}

/* Run action; the request it made (asserting exactly one arrived). */
static const struct rcv_request *run(struct act_k8s *k, const char *action, const char *pjson,
				     int dry, struct act_outcome *out, char *sum, size_t sl)
{
	int before = rcv_count(rcv);
	cJSON *p = params(pjson);

	assert_int_equal(act_k8s_run(k, action, p, dry, "11111111-2222-4333-8444-555555555555",
				     out, sum, sl), AX_OK);
	cJSON_Delete(p);
	assert_int_equal(rcv_wait(rcv, before + 1, 3000), before + 1);
	return rcv_get(rcv, before);
}

static void hdr_eq(const struct rcv_request *q, const char *name, const char *want)
{
	char buf[512];
	const char *v = rcv_header(q, name, buf, sizeof(buf));

	if (want == NULL) {
		if (v != NULL)
			fail_msg("header %s present: %s", name, v);
		return;
	}
	if (v == NULL)
		fail_msg("header %s missing", name);
	assert_string_equal(v, want);
}

static void bearer_is(const struct rcv_request *q, const char *tok)
{
	char want[200];

	if (tok == NULL) {
		hdr_eq(q, "authorization", NULL);
		return;
	}
	snprintf(want, sizeof(want), "Bearer %s", tok);
	hdr_eq(q, "authorization", want);
}

/* The restartedAt of a rollout restart body, checked against the clock:
 * the exact body kubectl sends with that timestamp. */
static void check_restart_body(const struct rcv_request *q, time_t t0, time_t t1)
{
	cJSON *b = ax_json_parse(q->body, q->body_len, 0);
	const cJSON *a;
	struct tm tm;
	char want[256], *end;
	time_t t;

	assert_non_null(b);
	a = ax_json_ptr(b, "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt");
	assert_true(cJSON_IsString(a));
	memset(&tm, 0, sizeof(tm));
	end = strptime(a->valuestring, "%Y-%m-%dT%H:%M:%SZ", &tm);
	assert_non_null(end);
	assert_int_equal(*end, '\0');
	t = timegm(&tm);
	assert_true(t >= t0 - 1 && t <= t1 + 1);
	snprintf(want, sizeof(want), "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":"
		 "{\"kubectl.kubernetes.io/restartedAt\":\"%s\"}}}}}", a->valuestring);
	assert_string_equal(q->body, want);
	cJSON_Delete(b);
}

/* ---- setup ---------------------------------------------------------------- */

static int setup(void **state)
{
	unsigned char rnd[16];
	char hex[33];

	(void)state;
	signal(SIGPIPE, SIG_IGN);   /* a delayed reply may outlive its client */
	assert_int_equal(sodium_init() >= 0, 1);
	assert_int_equal(ax_httpc_global_init(), 0);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("ALEXUS_K8S_SA_DIR");
	if (rcv_certs_make(&pki) != 0)
		return -1;
	rcv = rcv_start_tls_client(200, pki.server_cert, pki.server_key, pki.ca);
	snprintf(server, sizeof(server), "https://127.0.0.1:%d", rcv_port(rcv));
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(token, sizeof(token), "axtest.%s", hex);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rcv_stop(rcv);
	rcv_certs_remove(&pki);
	return 0;
}

/* ---- the four actions ---------------------------------------------------- */

static void test_supports(void **state)
{
	(void)state;
	assert_true(act_k8s_supports("restart_pod"));
	assert_true(act_k8s_supports("rollout_restart"));
	assert_true(act_k8s_supports("scale_deployment"));
	assert_true(act_k8s_supports("cordon_node"));
	assert_false(act_k8s_supports("rollback_deployment"));
	assert_false(act_k8s_supports("expand_volume"));
	assert_false(act_k8s_supports(""));
	assert_false(act_k8s_supports(NULL));
}

static void test_restart_pod(void **state)
{
	struct act_k8s *k = open_kc("kubeconfig-token.yaml", pki.ca, 3000);
	const struct rcv_request *q;
	struct act_outcome out;
	char sum[256];
	int dry;

	(void)state;
	for (dry = 0; dry <= 1; dry++) {
		q = run(k, "restart_pod", "{\"namespace\":\"shop\",\"pod\":\"web-7c9d8f6b5-x2x9q\"}",
			dry, &out, sum, sizeof(sum));
		assert_string_equal(q->method, "DELETE");
		assert_string_equal(q->path, dry ? "/api/v1/namespaces/shop/pods/web-7c9d8f6b5-x2x9q"
					     "?dryRun=All" :
					     "/api/v1/namespaces/shop/pods/web-7c9d8f6b5-x2x9q");
		bearer_is(q, token);
		hdr_eq(q, "accept", "application/json");
		hdr_eq(q, "content-type", NULL);
		assert_int_equal(q->body_len, 0);
		assert_string_equal(q->client_cn, "");
		assert_true(out.ok);
		assert_false(out.retryable);
		assert_int_equal(out.http_status, 200);
		assert_string_equal(out.error, "");
		assert_string_equal(out.host, "127.0.0.1");
		assert_string_equal(sum, dry ? "pod shop/web-7c9d8f6b5-x2x9q: deleted (dry run)" :
				    "pod shop/web-7c9d8f6b5-x2x9q: deleted");
	}
	act_k8s_close(k);
}

static void test_rollout_restart(void **state)
{
	struct act_k8s *k = open_kc("kubeconfig-token.yaml", pki.ca, 3000);
	const struct rcv_request *q;
	struct act_outcome out;
	char sum[256];
	time_t t0, t1;
	int dry;

	(void)state;
	for (dry = 0; dry <= 1; dry++) {
		t0 = time(NULL);
		q = run(k, "rollout_restart", "{\"namespace\":\"shop\",\"deployment\":\"api\"}", dry,
			&out, sum, sizeof(sum));
		t1 = time(NULL);
		assert_string_equal(q->method, "PATCH");
		assert_string_equal(q->path, dry ? "/apis/apps/v1/namespaces/shop/deployments/api"
					     "?dryRun=All&fieldManager=alexus" :
					     "/apis/apps/v1/namespaces/shop/deployments/api"
					     "?fieldManager=alexus");
		bearer_is(q, token);
		hdr_eq(q, "accept", "application/json");
		hdr_eq(q, "content-type", "application/strategic-merge-patch+json");
		check_restart_body(q, t0, t1);
		assert_true(out.ok);
		assert_string_equal(sum, dry ? "deployment shop/api: rollout restarted (dry run)" :
				    "deployment shop/api: rollout restarted");
	}
	/* kind from reason's params picks the resource */
	t0 = time(NULL);
	q = run(k, "rollout_restart",
		"{\"namespace\":\"data\",\"deployment\":\"pg\",\"kind\":\"StatefulSet\"}", 0, &out,
		sum, sizeof(sum));
	t1 = time(NULL);
	assert_string_equal(q->path, "/apis/apps/v1/namespaces/data/statefulsets/pg"
			    "?fieldManager=alexus");
	check_restart_body(q, t0, t1);
	assert_string_equal(sum, "statefulset data/pg: rollout restarted");
	q = run(k, "rollout_restart",
		"{\"namespace\":\"kube-system\",\"deployment\":\"node-exporter\","
		"\"kind\":\"DaemonSet\"}", 1, &out, sum, sizeof(sum));
	assert_string_equal(q->path, "/apis/apps/v1/namespaces/kube-system/daemonsets/"
			    "node-exporter?dryRun=All&fieldManager=alexus");
	act_k8s_close(k);
}

static void test_scale(void **state)
{
	struct act_k8s *k = open_kc("kubeconfig-token.yaml", pki.ca, 3000);
	const struct rcv_request *q;
	struct act_outcome out;
	char sum[256];
	int dry;

	(void)state;
	for (dry = 0; dry <= 1; dry++) {
		q = run(k, "scale_deployment",
			"{\"namespace\":\"shop\",\"deployment\":\"api\",\"replicas\":5}", dry, &out,
			sum, sizeof(sum));
		assert_string_equal(q->method, "PATCH");
		assert_string_equal(q->path, dry ? "/apis/apps/v1/namespaces/shop/deployments/api/scale"
					     "?dryRun=All&fieldManager=alexus" :
					     "/apis/apps/v1/namespaces/shop/deployments/api/scale"
					     "?fieldManager=alexus");
		bearer_is(q, token);
		hdr_eq(q, "accept", "application/json");
		hdr_eq(q, "content-type", "application/merge-patch+json");
		assert_string_equal(q->body, "{\"spec\":{\"replicas\":5}}");
		assert_true(out.ok);
		assert_string_equal(sum, dry ? "deployment shop/api: scaled to 5 replicas (dry run)" :
				    "deployment shop/api: scaled to 5 replicas");
	}
	/* replicas as digits; a StatefulSet's scale subresource */
	q = run(k, "scale_deployment",
		"{\"namespace\":\"data\",\"deployment\":\"pg\",\"kind\":\"StatefulSet\","
		"\"replicas\":\"1\"}", 0, &out, sum, sizeof(sum));
	assert_string_equal(q->path, "/apis/apps/v1/namespaces/data/statefulsets/pg/scale"
			    "?fieldManager=alexus");
	assert_string_equal(q->body, "{\"spec\":{\"replicas\":1}}");
	assert_string_equal(sum, "statefulset data/pg: scaled to 1 replica");
	act_k8s_close(k);
}

static void test_cordon(void **state)
{
	struct act_k8s *k = open_kc("kubeconfig-token.yaml", pki.ca, 3000);
	const struct rcv_request *q;
	struct act_outcome out;
	char sum[256];
	int dry;

	(void)state;
	for (dry = 0; dry <= 1; dry++) {
		q = run(k, "cordon_node", "{\"node\":\"ip-10-0-3-17.eu-west-1.compute.internal\"}",
			dry, &out, sum, sizeof(sum));
		assert_string_equal(q->method, "PATCH");
		assert_string_equal(q->path, dry ? "/api/v1/nodes/ip-10-0-3-17.eu-west-1.compute."
					     "internal?dryRun=All&fieldManager=alexus" :
					     "/api/v1/nodes/ip-10-0-3-17.eu-west-1.compute.internal"
					     "?fieldManager=alexus");
		bearer_is(q, token);
		hdr_eq(q, "accept", "application/json");
		hdr_eq(q, "content-type", "application/strategic-merge-patch+json");
		assert_string_equal(q->body, "{\"spec\":{\"unschedulable\":true}}");
		assert_true(out.ok);
		assert_string_equal(sum, dry ? "node ip-10-0-3-17.eu-west-1.compute.internal: "
				    "cordoned (dry run)" :
				    "node ip-10-0-3-17.eu-west-1.compute.internal: cordoned");
	}
	act_k8s_close(k);
}

/* ---- refusals: nothing sent ------------------------------------------------ */

static void test_invalid_params(void **state)
{
	static const struct {
		const char *action, *params;
	} bad[] = {
		{ "restart_pod", "{\"namespace\":\"shop\"}" },
		{ "restart_pod", "{\"pod\":\"web-1\"}" },
		{ "restart_pod", "{\"namespace\":\"shop\",\"pod\":\"../../nodes/n1\"}" },
		{ "restart_pod", "{\"namespace\":\"shop\",\"pod\":\"web-1?dryRun=\"}" },
		{ "restart_pod", "{\"namespace\":\"shop\",\"pod\":\"web%2F1\"}" },
		{ "restart_pod", "{\"namespace\":\"shop\",\"pod\":\"Web-1\"}" },
		{ "restart_pod", "{\"namespace\":\"shop\",\"pod\":\"web-1-\"}" },
		{ "restart_pod", "{\"namespace\":\"shop\",\"pod\":\"web..1\"}" },
		{ "restart_pod", "{\"namespace\":\"shop\",\"pod\":\"web 1\"}" },
		{ "restart_pod", "{\"namespace\":\"shop\",\"pod\":\"web-1\\n\"}" },
		{ "restart_pod", "{\"namespace\":\"shop\",\"pod\":7}" },
		{ "restart_pod", "{\"namespace\":\"a.b\",\"pod\":\"web-1\"}" }, /* label, no dots */
		{ "restart_pod", "{\"namespace\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				 "aaaaaaaaaa\",\"pod\":\"web-1\"}" },  /* 64 characters */
		{ "rollout_restart", "{\"namespace\":\"shop\",\"deployment\":\"\"}" },
		{ "rollout_restart", "{\"namespace\":\"shop\",\"deployment\":\"api/scale\"}" },
		{ "rollout_restart", "{\"namespace\":\"shop\",\"deployment\":\"api\",\"kind\":\"Job\"}" },
		{ "scale_deployment", "{\"namespace\":\"shop\",\"deployment\":\"api\"}" },
		{ "scale_deployment", "{\"namespace\":\"shop\",\"deployment\":\"api\",\"replicas\":-1}" },
		{ "scale_deployment", "{\"namespace\":\"shop\",\"deployment\":\"api\",\"replicas\":1.5}" },
		{ "scale_deployment", "{\"namespace\":\"shop\",\"deployment\":\"api\","
				      "\"replicas\":100001}" },
		{ "scale_deployment", "{\"namespace\":\"shop\",\"deployment\":\"api\","
				      "\"replicas\":\"3x\"}" },
		{ "scale_deployment", "{\"namespace\":\"shop\",\"deployment\":\"api\","
				      "\"replicas\":\"-3\"}" },
		{ "scale_deployment", "{\"namespace\":\"shop\",\"deployment\":\"ne\",\"replicas\":2,"
				      "\"kind\":\"DaemonSet\"}" },
		{ "cordon_node", "{}" },
		{ "cordon_node", "{\"node\":\"node_1\"}" },
		{ "rollback_deployment", "{\"namespace\":\"shop\",\"deployment\":\"api\"}" },
		{ "cordon_node", "[\"node-1\"]" },
	};
	struct act_k8s *k = open_kc("kubeconfig-token.yaml", pki.ca, 3000);
	struct act_outcome out;
	char sum[256], longname[300];
	int before = rcv_count(rcv);
	size_t i;
	cJSON *p;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = params(bad[i].params);
		if (act_k8s_run(k, bad[i].action, p, 0, NULL, &out, sum, sizeof(sum)) != AX_EINVAL)
			fail_msg("accepted %s %s", bad[i].action, bad[i].params);
		assert_false(out.ok);
		assert_true(out.error[0] != '\0');
		assert_non_null(strstr(sum, "refused"));
		cJSON_Delete(p);
	}
	/* a 254-character subdomain */
	memset(longname, 'a', 254);
	longname[254] = '\0';
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "node", longname);
	assert_int_equal(act_k8s_run(k, "cordon_node", p, 0, NULL, &out, NULL, 0), AX_EINVAL);
	cJSON_Delete(p);
	assert_int_equal(act_k8s_run(k, "cordon_node", NULL, 0, NULL, &out, NULL, 0), AX_EINVAL);
	/* nothing reached the API server */
	usleep(100 * 1000);
	assert_int_equal(rcv_count(rcv), before);
	act_k8s_close(k);
}

/* ---- answers ---------------------------------------------------------------- */

static void status_case(struct act_k8s *k, const char *fixture, int retryable,
			const char *hdrs, long retry_after)
{
	char path[256], sum[512];
	char *body;
	cJSON *st;
	struct rcv_reply rep = { 0 };
	struct act_outcome out;

	snprintf(path, sizeof(path), FIX "%s", fixture);
	body = slurp(path, NULL);
	st = cJSON_Parse(body);
	assert_non_null(st);
	rep.status = cJSON_GetObjectItem(st, "code")->valueint;
	rep.body = body;
	rep.headers = hdrs;
	rcv_script_reply(rcv, &rep);
	run(k, "scale_deployment", "{\"namespace\":\"shop\",\"deployment\":\"api\",\"replicas\":3}",
	    0, &out, sum, sizeof(sum));
	assert_false(out.ok);
	assert_int_equal(out.http_status, rep.status);
	assert_int_equal(out.retryable, retryable);
	assert_int_equal(out.retry_after_s, retry_after);
	assert_string_equal(out.error, cJSON_GetObjectItem(st, "message")->valuestring);
	assert_non_null(strstr(sum, "deployment shop/api: not scaled to 3 replicas: "));
	cJSON_Delete(st);
	free(body);
}

static void test_status_answers(void **state)
{
	struct act_k8s *k = open_kc("kubeconfig-token.yaml", pki.ca, 3000);
	struct rcv_reply rep = { 0 };
	struct act_outcome out;

	(void)state;
	status_case(k, "status-404.json", 0, NULL, 0);
	status_case(k, "status-403.json", 0, NULL, 0);
	status_case(k, "status-409.json", 0, NULL, 0);
	status_case(k, "status-422.json", 0, NULL, 0);
	status_case(k, "status-429.json", 1, "Retry-After: 1", 1);
	status_case(k, "status-503.json", 1, NULL, 0);
	/* an answer that is not a Status (a proxy's HTML page) */
	rep.status = 502;
	rep.body = "<html>bad gateway</html>";
	rep.headers = "Content-Type: text/html";
	rcv_script_reply(rcv, &rep);
	run(k, "cordon_node", "{\"node\":\"n1\"}", 0, &out, NULL, 0);
	assert_int_equal(out.http_status, 502);
	assert_true(out.retryable);
	assert_string_equal(out.error, "HTTP 502");
	act_k8s_close(k);
}

static void test_timeout(void **state)
{
	struct act_k8s *k = open_kc("kubeconfig-token.yaml", pki.ca, 300);
	struct rcv_reply rep = { 0 };
	struct act_outcome out;

	(void)state;
	rep.status = 200;
	rep.delay_ms = 1500;
	rcv_script_reply(rcv, &rep);
	run(k, "cordon_node", "{\"node\":\"n1\"}", 0, &out, NULL, 0);
	assert_false(out.ok);
	assert_true(out.retryable);
	assert_int_equal(out.http_status, 0);
	assert_true(out.error[0] != '\0');
	act_k8s_close(k);
}

static void test_wrong_ca(void **state)
{
	struct act_k8s *k = open_kc("kubeconfig-token.yaml", pki.other_ca, 3000);
	struct act_outcome out;
	char sum[512];
	int before = rcv_count(rcv);
	cJSON *p = params("{\"node\":\"n1\"}");

	(void)state;
	assert_int_equal(act_k8s_run(k, "cordon_node", p, 0, NULL, &out, sum, sizeof(sum)), AX_OK);
	assert_false(out.ok);
	assert_false(out.retryable);
	assert_int_equal(out.http_status, 0);
	assert_true(out.error[0] != '\0');
	assert_non_null(strstr(sum, "node n1: not cordoned: "));
	usleep(100 * 1000);
	assert_int_equal(rcv_count(rcv), before);
	cJSON_Delete(p);
	act_k8s_close(k);
}

/* ---- where the cluster and credentials come from ---------------------------- */

static void test_client_cert_data(void **state)
{
	struct act_k8s *k = open_kc("kubeconfig-certdata.yaml", pki.ca, 3000);
	const struct rcv_request *q;
	struct act_outcome out;

	(void)state;
	assert_string_equal(act_k8s_server(k), server);
	q = run(k, "cordon_node", "{\"node\":\"n1\"}", 1, &out, NULL, 0);
	assert_true(out.ok);
	assert_string_equal(q->client_cn, "alexus-test-client");
	bearer_is(q, NULL);
	act_k8s_close(k);
}

/* Write text to path atomically (a new inode, as kubelet's swaps do). */
static void replace_file(const char *path, const char *text)
{
	char tmp[600];

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	spit(tmp, text);
	assert_int_equal(rename(tmp, path), 0);
}

static void test_files_and_token_file(void **state)
{
	struct act_k8s *k;
	const struct rcv_request *q;
	struct act_outcome out;
	char tokpath[512], tok2[100], tok3[100];

	(void)state;
	snprintf(tokpath, sizeof(tokpath), "%s/token", pki.dir);
	snprintf(tok2, sizeof(tok2), "%s-rotated", token);
	snprintf(tok3, sizeof(tok3), "%s-rewritten-in-place", token);
	replace_file(tokpath, token);
	k = open_kc("kubeconfig-files.yaml", pki.ca, 3000);
	q = run(k, "cordon_node", "{\"node\":\"n1\"}", 1, &out, NULL, 0);
	assert_true(out.ok);
	assert_string_equal(q->client_cn, "alexus-test-client");
	bearer_is(q, token);
	/* rotated by a rename: the next request carries the new token */
	replace_file(tokpath, tok2);
	q = run(k, "cordon_node", "{\"node\":\"n1\"}", 1, &out, NULL, 0);
	bearer_is(q, tok2);
	/* rewritten in place (same inode, other size) */
	spit(tokpath, tok3);
	q = run(k, "cordon_node", "{\"node\":\"n1\"}", 1, &out, NULL, 0);
	bearer_is(q, tok3);
	/* the token file gone: no request, a retryable failure */
	assert_int_equal(unlink(tokpath), 0);
	{
		cJSON *p = params("{\"node\":\"n1\"}");
		int before = rcv_count(rcv);

		assert_int_equal(act_k8s_run(k, "cordon_node", p, 1, NULL, &out, NULL, 0), AX_OK);
		assert_false(out.ok);
		assert_true(out.retryable);
		assert_int_equal(rcv_count(rcv), before);
		cJSON_Delete(p);
	}
	act_k8s_close(k);
}

static void test_insecure(void **state)
{
	struct act_k8s *k = open_kc("kubeconfig-insecure.yaml", pki.ca, 3000);
	const struct rcv_request *q;
	struct act_outcome out;

	(void)state;
	q = run(k, "cordon_node", "{\"node\":\"n1\"}", 1, &out, NULL, 0);
	assert_true(out.ok);
	bearer_is(q, token);
	act_k8s_close(k);
}

static void test_kubeconfig_refused(void **state)
{
	struct ax_config c;
	struct act_k8s *k = NULL;
	char path[512], err[256];

	(void)state;
	fill("kubeconfig-exec.yaml", pki.ca, path, sizeof(path));
	cfg_init(&c, path, NULL, 3000);
	assert_int_equal(act_k8s_open(&k, &c, err, sizeof(err)), AX_EINVAL);
	assert_null(k);
	assert_non_null(strstr(err, "exec"));
	/* not YAML at all */
	snprintf(path, sizeof(path), "%s/garbage.yaml", pki.dir);
	spit(path, "clusters: [unclosed\n");
	cfg_init(&c, path, NULL, 3000);
	assert_int_equal(act_k8s_open(&k, &c, err, sizeof(err)), AX_EINVAL);
	/* a current-context that is not there */
	spit(path, "current-context: nope\ncontexts: []\n");
	assert_int_equal(act_k8s_open(&k, &c, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "nope"));
	/* a client certificate without its key */
	spit(path, "current-context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
	     "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
	     "users: [{name: u, user: {client-certificate: client.crt}}]\n");
	assert_int_equal(act_k8s_open(&k, &c, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "without its key"));
	/* an API server that is not http(s) */
	cfg_init(&c, NULL, "ftp://127.0.0.1/", 3000);
	assert_int_equal(act_k8s_open(&k, &c, err, sizeof(err)), AX_EINVAL);
	assert_null(k);
	/* configured but missing */
	snprintf(path, sizeof(path), "%s/no-such-kubeconfig", pki.dir);
	cfg_init(&c, path, NULL, 3000);
	assert_int_equal(act_k8s_open(&k, &c, err, sizeof(err)), AX_EIO);
	assert_null(k);
}

/* A service-account directory laid out as kubelet projects it: token and
 * ca.crt are symlinks through ..data, which is swapped on rotation. */
static void sa_generation(const char *sa, int gen, const char *tok)
{
	char d[600], f[700], link[600], tmp[600], ca[700];
	char *cab;

	snprintf(d, sizeof(d), "%s/..gen%d", sa, gen);
	assert_int_equal(mkdir(d, 0700), 0);
	snprintf(f, sizeof(f), "%s/token", d);
	spit(f, tok);
	snprintf(ca, sizeof(ca), "%s/ca.crt", d);
	cab = slurp(pki.ca, NULL);
	spit(ca, cab);
	free(cab);
	snprintf(link, sizeof(link), "%s/..data", sa);
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", sa);
	snprintf(d, sizeof(d), "..gen%d", gen);
	assert_int_equal(symlink(d, tmp), 0);
	assert_int_equal(rename(tmp, link), 0);
}

static void test_in_cluster(void **state)
{
	struct ax_config c;
	struct act_k8s *k = NULL;
	const struct rcv_request *q;
	struct act_outcome out;
	char sa[512], p[600], err[256], port[16], tok2[100];

	(void)state;
	snprintf(sa, sizeof(sa), "%s/serviceaccount", pki.dir);
	assert_int_equal(mkdir(sa, 0700), 0);
	setenv("ALEXUS_K8S_SA_DIR", sa, 1);
	cfg_init(&c, NULL, NULL, 3000);

	/* no cluster at all */
	assert_int_equal(act_k8s_open(&k, &c, err, sizeof(err)), AX_ENOTFOUND);
	assert_null(k);
	/* in a cluster, but no token mounted */
	snprintf(port, sizeof(port), "%d", rcv_port(rcv));
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	assert_int_equal(act_k8s_open(&k, &c, err, sizeof(err)), AX_ENOTFOUND);

	sa_generation(sa, 1, token);
	snprintf(p, sizeof(p), "%s/token", sa);
	assert_int_equal(symlink("..data/token", p), 0);
	snprintf(p, sizeof(p), "%s/ca.crt", sa);
	assert_int_equal(symlink("..data/ca.crt", p), 0);
	if (act_k8s_open(&k, &c, err, sizeof(err)) != AX_OK)
		fail_msg("in-cluster open: %s", err);
	assert_string_equal(act_k8s_server(k), server);
	q = run(k, "restart_pod", "{\"namespace\":\"shop\",\"pod\":\"web-1\"}", 1, &out, NULL, 0);
	assert_true(out.ok);
	bearer_is(q, token);
	assert_string_equal(q->client_cn, "");
	/* kubelet rotates the projected token */
	snprintf(tok2, sizeof(tok2), "%s-gen2", token);
	sa_generation(sa, 2, tok2);
	q = run(k, "restart_pod", "{\"namespace\":\"shop\",\"pod\":\"web-1\"}", 1, &out, NULL, 0);
	bearer_is(q, tok2);
	act_k8s_close(k);

	/* ALEXUS_K8S_API wins over the service address; same credentials */
	setenv("KUBERNETES_SERVICE_PORT", "1", 1);
	cfg_init(&c, NULL, server, 3000);
	assert_int_equal(act_k8s_open(&k, &c, err, sizeof(err)), AX_OK);
	q = run(k, "cordon_node", "{\"node\":\"n2\"}", 0, &out, NULL, 0);
	assert_true(out.ok);
	bearer_is(q, tok2);
	act_k8s_close(k);

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("ALEXUS_K8S_SA_DIR");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_supports),
		cmocka_unit_test(test_restart_pod),
		cmocka_unit_test(test_rollout_restart),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_cordon),
		cmocka_unit_test(test_invalid_params),
		cmocka_unit_test(test_status_answers),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_wrong_ca),
		cmocka_unit_test(test_client_cert_data),
		cmocka_unit_test(test_files_and_token_file),
		cmocka_unit_test(test_insecure),
		cmocka_unit_test(test_kubeconfig_refused),
		cmocka_unit_test(test_in_cluster),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
