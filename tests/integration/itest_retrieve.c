/* itest_retrieve.c - the IncidentAgent's retrieval and the CMDBAgent
 * (reason/retrieve.h, reason/cmdb.h) on the real test stack's Postgres,
 * through the application role and the postgres graph backend.
 *
 *   - retrieval: tenant A has the CMDB fixture (imported by the real
 *     alexusctl), an incident with alerts, deploys of its service inside
 *     and outside the window and of another service, and its own Issue;
 *     tenant B has the same graph, a deploy of the same service and an
 *     Issue of its own.  reason_retrieve on A's incident gives exactly the
 *     deploy inside the window (with the previous version from the older
 *     row), the fixture's past incident with its fix (not the incident
 *     itself, nothing of B's), the CIs a breadth-first walk of the
 *     fixture's relations gives from the alerts' service and host, and
 *     the fixture's runbook; the root alert comes first; and the
 *     heuristic investigation of that context names the deploy
 *     (parts.deploy > 0, category deployment);
 *   - CMDB: the GitHub deployment fixture, normalised by the real
 *     alexus-ingest, creates its service and repository items and the
 *     deploys_to relation for its tenant only; applying it again creates
 *     nothing; an existing item keeps the name an import gave it;
 *   - indexing: an analysed incident indexed as an Issue is found by the
 *     retrieval of a second, similar incident, with its fix and category.
 */
#include "../../reason/heuristic.h"
#include "../../reason/retrieve.h"
#include "../../reason/cmdb.h"
#include "alexus/mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "alexus/embed.h"
#include "alexus/graph.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/pg.h"
#include "harness.h"

#define FIX "tests/fixtures/cmdb/cmdb.json"
#define GH "tests/fixtures/webhooks/github-deployment.json"
#define WINDOW_S 3600

static char tenant_a[64], tenant_b[64];
static struct ax_embedder *emb;
static struct ax_graph *graph;
static struct ax_pg *pg;
static PGconn *app;
static cJSON *fixture;

/* ----------------------------------------------------------- helpers */

static long count(const char *tenant, const char *sql, int n, const char *const *p)
{
	return h_pg_long(app, tenant, sql, n, p);
}

static void exec(const char *tenant, const char *sql, int n, const char *const *p)
{
	PQclear(h_pg_q(app, tenant, sql, n, p));
}

static void new_incident(const char *tenant, char id[AX_UUID_LEN], const char *title,
			 const char *service)
{
	const char *p[3] = { id, title, service };

	ax_uuid4(id);
	exec(tenant,
	     "INSERT INTO incidents (tenant_id, id, title, status, severity, stage, group_key,"
	     " service) VALUES (app_tenant(), $1, $2, 'open', 'critical', 'classify', $3, $3)",
	     3, p);
}

/* A signal from JSON text (the canonical form), with its fingerprint made
 * from its name and service. */
static void make_signal(struct ax_signal *s, const char *name, const char *status,
			const char *service, const char *ns, const char *host, const char *summary)
{
	char fp[AX_SHA256_HEX], err[256], *seed = ax_xasprintf("%s/%s", name, service);
	cJSON *j = cJSON_CreateObject(), *labels;

	ax_sha256_hex(seed, strlen(seed), fp);
	free(seed);
	cJSON_AddStringToObject(j, "name", name);
	cJSON_AddStringToObject(j, "status", status);
	cJSON_AddStringToObject(j, "severity", "critical");
	cJSON_AddStringToObject(j, "summary", summary);
	cJSON_AddStringToObject(j, "service", service);
	cJSON_AddStringToObject(j, "namespace", ns);
	cJSON_AddStringToObject(j, "host", host);
	labels = cJSON_AddObjectToObject(j, "labels");
	cJSON_AddStringToObject(labels, "alertname", name);
	cJSON_AddStringToObject(labels, "deployment", service);
	cJSON_AddStringToObject(labels, "namespace", ns);
	cJSON_AddStringToObject(j, "source", "alertmanager");
	cJSON_AddStringToObject(j, "fingerprint", fp);
	assert_int_equal(ax_signal_from_json(s, j, err, sizeof(err)), AX_OK);
	cJSON_Delete(j);
}

static void insert_alert(const char *tenant, const char *incident, const struct ax_signal *s)
{
	char id[AX_UUID_LEN];
	char *labels = ax_json_print(s->labels);
	const char *p[11] = { id, incident, s->fingerprint, s->name, ax_status_str(s->status),
			      ax_severity_str(s->severity), s->summary, s->service,
			      s->host, s->namespace_, labels };

	ax_uuid4(id);
	exec(tenant,
	     "INSERT INTO alerts (tenant_id, id, incident_id, fingerprint, name, status, severity,"
	     " summary, service, host, namespace, labels, source, last_signal)"
	     " VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb,"
	     " 'alertmanager', gen_random_uuid())",
	     11, p);
	free(labels);
}

static void insert_deploy(const char *tenant, const char *name, const char *service,
			  const char *ns, const char *version, long ago_s)
{
	char ago[32];
	const char *p[5] = { name, service, ns, version, ago };

	snprintf(ago, sizeof(ago), "%ld", ago_s);
	exec(tenant,
	     "INSERT INTO deploys (tenant_id, id, signal_id, kind, name, status, service,"
	     " namespace, version, source, at) VALUES (app_tenant(), gen_random_uuid(),"
	     " gen_random_uuid(), 'deploy', $1, 'resolved', $2, $3, $4, 'github',"
	     " now() - make_interval(secs => $5::double precision))",
	     5, p);
}

static const cJSON *fixture_entry(const char *list, const char *id)
{
	const cJSON *x;

	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(fixture, list))
		if (strcmp(ax_json_str(x, "id"), id) == 0)
			return x;
	return NULL;
}

/* Ids within depth hops of start along the fixture's relations, either
 * direction, added to ids[*n] (each once). */
static void bfs(const char *start, int depth, char ids[][64], int *n)
{
	int d, i, k;
	const cJSON *r;

	for (k = 0; k < *n; k++)
		if (strcmp(ids[k], start) == 0)
			break;
	if (k == *n)
		snprintf(ids[(*n)++], 64, "%s", start);
	{
		char frontier[64][64];
		int nf = 1, nn;

		snprintf(frontier[0], 64, "%s", start);
		for (d = 0; d < depth; d++) {
			char next[64][64];

			nn = 0;
			for (i = 0; i < nf; i++) {
				cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(fixture,
										      "relations")) {
					const char *a = ax_json_str(r, "from"), *b = ax_json_str(r, "to");
					const char *o = strcmp(a, frontier[i]) == 0 ? b :
							strcmp(b, frontier[i]) == 0 ? a : NULL;

					if (o == NULL || strcmp(o, start) == 0)
						continue;
					for (k = 0; k < *n; k++)
						if (strcmp(ids[k], o) == 0)
							break;
					if (k < *n)
						continue;
					snprintf(ids[(*n)++], 64, "%s", o);
					snprintf(next[nn++], 64, "%s", o);
				}
			}
			memcpy(frontier, next, sizeof(next));
			nf = nn;
		}
	}
}

static int has_ci(const struct reason_retrieval *r, const char *name)
{
	int i;

	for (i = 0; i < r->ctx.nci; i++)
		if (strcmp(r->ctx.ci[i], name) == 0)
			return 1;
	return 0;
}

/* The JSON array alexus-ingest --normalize prints for the GitHub fixture. */
static void github_signal(struct ax_signal *s)
{
	char cmd[1024], err[256], *buf = NULL;
	size_t len = 0, cap = 0, got;
	FILE *f;
	cJSON *arr;

	snprintf(cmd, sizeof(cmd),
		 "'%s/alexus-ingest' --normalize " GH " --source github "
		 "--header 'X-GitHub-Event: deployment'", h_env("ALEXUS_BIN_DIR"));
	f = popen(cmd, "r");
	assert_non_null(f);
	do {
		if (len + 4096 > cap)
			buf = ax_xrealloc(buf, cap += 65536);
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
	} while (got > 0);
	assert_int_equal(pclose(f), 0);
	arr = ax_json_parse(buf, len, AX_JSON_ENTRY_DEPTH);
	free(buf);
	assert_true(cJSON_IsArray(arr));
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	assert_int_equal(ax_signal_from_json(s, cJSON_GetArrayItem(arr, 0), err, sizeof(err)),
			 AX_OK);
	cJSON_Delete(arr);
}

/* ----------------------------------------------------------- setup */

static int setup(void **state)
{
	char err[512], *out;
	size_t len;
	char *buf;

	(void)state;
	unsetenv("ALEXUS_EMBED_URL");
	ax_hash_init();
	buf = h_read_file(FIX, &len);
	fixture = ax_json_parse(buf, len, 64);
	free(buf);
	emb = ax_embedder_from_env(err, sizeof(err));
	graph = emb ? ax_graph_open_env(h_env("ALEXUS_DATABASE_URL"), emb, err, sizeof(err)) : NULL;
	if (fixture == NULL || graph == NULL) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	pg = ax_pg_new(h_env("ALEXUS_DATABASE_URL"));
	app = h_pg_app();
	h_tenant_new("retr-a", NULL, tenant_a);
	h_tenant_new("retr-b", NULL, tenant_b);
	if (h_ctl(&out, "cmdb", "import", FIX, "--tenant", tenant_a, NULL) != 0 ||
	    (free(out), h_ctl(&out, "cmdb", "import", FIX, "--tenant", tenant_b, NULL)) != 0) {
		fprintf(stderr, "import: %s\n", out);
		free(out);
		return -1;
	}
	free(out);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	PQfinish(app);
	ax_pg_free(pg);
	ax_graph_close(graph);
	ax_embedder_free(emb);
	cJSON_Delete(fixture);
	return 0;
}

/* ----------------------------------------------------------- retrieval */

static void test_retrieve(void **state)
{
	const cJSON *past = fixture_entry("issues", "inc-101"), *doc = fixture_entry("docs", "rb-db");
	const char *svc = "checkout", *host = "node-1", *ns = "shop";
	char inc[AX_UUID_LEN], other[AX_UUID_LEN], err[512], ids[64][64];
	struct ax_signal root, more[2];
	struct ax_graph_issue self = { 0 }, theirs = { 0 };
	struct reason_retrieval r;
	struct reason_analysis an;
	int nids = 0, i, j;
	char *prompt;
	cJSON *js;

	(void)state;
	assert_non_null(past);
	assert_non_null(doc);
	/* A's incident: 5xx and latency on checkout, the root and two more
	 * alerts (one resolved) in the table. */
	new_incident(tenant_a, inc, "Checkout latency and errors after a release", svc);
	make_signal(&root, "HighErrorRate", "firing", svc, ns, host,
		    "checkout 5xx ratio above 5% and latency spike");
	make_signal(&more[0], "CheckoutLatencyHigh", "firing", svc, ns, host,
		    "checkout p99 latency above 2s");
	make_signal(&more[1], "CheckoutPodRestarts", "resolved", svc, ns, host,
		    "checkout pods restarted");
	insert_alert(tenant_a, inc, &root);
	insert_alert(tenant_a, inc, &more[1]);
	insert_alert(tenant_a, inc, &more[0]);
	/* Deploys: inside the window, before it (the previous version), of
	 * another service; and B's deploy of the same service. */
	insert_deploy(tenant_a, "checkout deploy v2.4.1", svc, ns, "v2.4.1", 600);
	insert_deploy(tenant_a, "checkout deploy v2.4.0", svc, ns, "v2.4.0", 3 * 3600);
	insert_deploy(tenant_a, "inventory deploy v7", "inventory", "warehouse", "v7", 300);
	insert_deploy(tenant_b, "checkout deploy v9.9.9", svc, ns, "v9.9.9", 120);
	/* The incident's own Issue (A) and an Issue only B has, both worded
	 * like the incident. */
	self.id = inc;
	self.kind = "incident";
	self.title = "Checkout latency and errors after a release";
	self.body = "checkout 5xx ratio above 5% and latency spike";
	assert_int_equal(ax_graph_upsert_issue(graph, tenant_a, &self, err, sizeof(err)), AX_OK);
	ax_uuid4(other);
	theirs = self;
	theirs.id = other;
	theirs.fix = "rollback_deployment: B's own fix";
	assert_int_equal(ax_graph_upsert_issue(graph, tenant_b, &theirs, err, sizeof(err)), AX_OK);

	if (reason_retrieve(pg, graph, tenant_a, inc, &root, WINDOW_S, &r, err, sizeof(err)) !=
	    AX_OK)
		fail_msg("retrieve: %s", err);

	/* alerts: the root first, then the firing one, then the resolved one */
	assert_int_equal(r.nalerts, 3);
	assert_string_equal(r.alerts[0].name, root.name);
	assert_string_equal(r.alerts[1].name, more[0].name);
	assert_string_equal(r.alerts[2].name, more[1].name);
	assert_int_equal(r.alerts[2].status, AX_STATUS_RESOLVED);
	assert_string_equal(r.alerts[1].fingerprint, more[0].fingerprint);
	assert_string_equal(ax_json_str(r.alerts[1].labels, "deployment"), svc);

	/* deploys: exactly the one inside the window */
	assert_int_equal(r.ndeploys, 1);
	assert_string_equal(r.deploys[0].name, "checkout deploy v2.4.1");
	assert_string_equal(r.deploys[0].service, svc);
	assert_string_equal(r.deploys[0].version, "v2.4.1");
	assert_string_equal(r.deploys[0].previous_version, "v2.4.0");
	assert_true(r.deploys[0].age_s >= 600 && r.deploys[0].age_s < 900);
	assert_int_equal(r.ctx.ndeploys, 1);

	/* similar: the fixture's past incident with its fix; not the
	 * incident itself, nothing of B's */
	assert_true(r.nsimilar >= 1);
	for (i = 0, j = -1; i < r.nsimilar; i++) {
		assert_string_not_equal(r.similar[i].id, inc);
		assert_string_not_equal(r.similar[i].id, other);
		if (strcmp(r.similar[i].id, "inc-101") == 0)
			j = i;
	}
	assert_true(j >= 0);
	assert_string_equal(r.similar[j].title, ax_json_str(past, "title"));
	assert_string_equal(r.similar[j].fix, ax_json_str(past, "fix"));
	assert_true(r.similar[j].score > 0 && r.similar[j].score <= 1);

	/* CIs: the alerts' service and host, and what lies within two hops */
	bfs(svc, REASON_RETRIEVE_CI_DEPTH, ids, &nids);
	bfs(host, REASON_RETRIEVE_CI_DEPTH, ids, &nids);
	assert_int_equal(r.nci, nids);
	for (i = 0; i < nids; i++) {
		const char *name = ax_json_str(fixture_entry("items", ids[i]), "name");

		if (!has_ci(&r, name))
			fail_msg("CI %s (%s) missing", ids[i], name);
	}
	assert_false(has_ci(&r, ax_json_str(fixture_entry("items", "inventory"), "name")));

	/* docs: the runbook, with its body as the snippet */
	assert_int_equal(r.ndocs, 1);
	assert_string_equal(r.docs[0].title, ax_json_str(doc, "title"));
	assert_string_equal(r.docs[0].snippet, ax_json_str(doc, "body"));

	/* the heuristic names the deploy */
	reason_investigate(r.alerts, r.nalerts, &r.ctx, &an);
	assert_true(an.parts.deploy > 0);
	assert_string_equal(an.category, "deployment");
	reason_analysis_release(&an);

	/* the prompt and the JSON carry what was found */
	prompt = reason_prompt_build(&r, 8192);
	assert_non_null(strstr(prompt, "v2.4.1"));
	assert_non_null(strstr(prompt, ax_json_str(past, "fix")));
	assert_null(strstr(prompt, "v9.9.9"));
	free(prompt);
	js = reason_retrieval_json(&r);
	assert_int_equal(cJSON_GetObjectItem(js, "alerts")->valueint, 3);
	assert_string_equal(ax_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(js, "deploys"), 0),
					"version"), "v2.4.1");
	cJSON_Delete(js);
	reason_retrieval_release(&r);

	/* another tenant sees no such incident */
	assert_int_equal(reason_retrieve(pg, graph, tenant_b, inc, &root, WINDOW_S, &r, err,
					 sizeof(err)), AX_ENOTFOUND);
	reason_retrieval_release(&r);
	/* no graph: deploys still */
	assert_int_equal(reason_retrieve(pg, NULL, tenant_a, inc, NULL, WINDOW_S, &r, err,
					 sizeof(err)), AX_OK);
	assert_int_equal(r.nalerts, 3);
	assert_int_equal(r.ndeploys, 1);
	assert_int_equal(r.nci + r.nsimilar + r.ndocs, 0);
	reason_retrieval_release(&r);

	ax_signal_release(&root);
	ax_signal_release(&more[0]);
	ax_signal_release(&more[1]);
}

/* ----------------------------------------------------------- CMDB */

static void test_cmdb_apply(void **state)
{
	char tenant_c[64], tenant_d[64], err[512];
	struct ax_signal s;
	const char *repo, *p[3];
	cJSON *out;

	(void)state;
	h_tenant_new("retr-c", NULL, tenant_c);
	h_tenant_new("retr-d", NULL, tenant_d);
	github_signal(&s);
	assert_int_equal(s.kind, AX_KIND_DEPLOY);
	repo = ax_json_str(s.labels, "repository");
	assert_non_null(repo);
	assert_non_null(s.service);

	if (reason_cmdb_apply(graph, tenant_c, &s, &out, err, sizeof(err)) != AX_OK)
		fail_msg("apply: %s", err);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "counts"), "items")->valueint,
			 2);
	assert_int_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(out, "counts"), "relations")->valueint, 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "items")), 2);
	cJSON_Delete(out);

	p[0] = s.service;
	p[1] = repo;
	assert_int_equal(count(tenant_c, "SELECT count(*) FROM configuration_items WHERE"
				 " id = $1 AND type = 'service' AND name = $1", 1, p), 1);
	p[0] = repo;
	assert_int_equal(count(tenant_c, "SELECT count(*) FROM configuration_items WHERE"
				 " id = $1 AND type = 'repository'", 1, p), 1);
	p[0] = repo;
	p[1] = s.service;
	assert_int_equal(count(tenant_c, "SELECT count(*) FROM ci_relations WHERE from_id = $1"
				 " AND kind = 'deploys_to' AND to_id = $2", 2, p), 1);
	/* the other tenant has none of it */
	assert_int_equal(count(tenant_d, "SELECT count(*) FROM configuration_items", 0, NULL), 0);
	assert_int_equal(count(tenant_d, "SELECT count(*) FROM ci_relations", 0, NULL), 0);

	/* again: nothing new, nothing created */
	assert_int_equal(reason_cmdb_apply(graph, tenant_c, &s, &out, err, sizeof(err)), AX_OK);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "counts"), "items")->valueint,
			 0);
	assert_int_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(out, "counts"), "relations")->valueint, 0);
	assert_true(cJSON_IsFalse(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "items"), 0), "created")));
	cJSON_Delete(out);

	/* an item an import described keeps its name: the fixture's checkout */
	free(s.service);
	s.service = ax_xstrdup("checkout");
	assert_int_equal(reason_cmdb_apply(graph, tenant_a, &s, &out, err, sizeof(err)), AX_OK);
	cJSON_Delete(out);
	p[0] = "checkout";
	p[1] = ax_json_str(fixture_entry("items", "checkout"), "name");
	assert_int_equal(count(tenant_a, "SELECT count(*) FROM configuration_items WHERE"
				 " id = $1 AND name = $2", 2, p), 1);
	p[0] = repo;
	p[1] = "checkout";
	assert_int_equal(count(tenant_a, "SELECT count(*) FROM ci_relations WHERE from_id = $1"
				 " AND kind = 'deploys_to' AND to_id = $2", 2, p), 1);

	/* no graph */
	assert_int_equal(reason_cmdb_apply(NULL, tenant_c, &s, &out, err, sizeof(err)), AX_OK);
	assert_string_equal(ax_json_str(out, "skipped"), "no graph");
	cJSON_Delete(out);
	ax_signal_release(&s);
}

static void test_index_then_find(void **state)
{
	char tenant_e[64], first[AX_UUID_LEN], second[AX_UUID_LEN], err[512], *fix;
	const char *p[2];
	struct ax_signal a1, a2;
	struct reason_retrieval r;
	struct reason_analysis an;
	cJSON *analysis;
	int i, found = -1;

	(void)state;
	h_tenant_new("retr-e", NULL, tenant_e);
	/* The first incident: analysed, then indexed. */
	new_incident(tenant_e, first, "Disk full on billing-db volume", "billing");
	make_signal(&a1, "KubePersistentVolumeFillingUp", "firing", "billing", "finance",
		    "node-7", "PersistentVolume billing-data in finance is 97% full");
	insert_alert(tenant_e, first, &a1);
	assert_int_equal(reason_retrieve(pg, graph, tenant_e, first, &a1, WINDOW_S, &r, err,
					 sizeof(err)), AX_OK);
	assert_int_equal(r.nsimilar, 0);
	reason_investigate(r.alerts, r.nalerts, &r.ctx, &an);
	analysis = reason_analysis_json(&an);
	if (reason_cmdb_index_incident(graph, tenant_e, first, r.title, analysis, r.alerts,
				       r.nalerts, err, sizeof(err)) != AX_OK)
		fail_msg("index: %s", err);
	reason_retrieval_release(&r);
	p[0] = first;
	assert_int_equal(count(tenant_e, "SELECT count(*) FROM graph_issues WHERE id = $1"
				 " AND kind = 'incident'", 1, p), 1);
	/* linked to the alert's service, host and namespace items */
	assert_int_equal(count(tenant_e, "SELECT count(*) FROM issue_items WHERE issue_id = $1",
			       1, p), 3);
	p[0] = REASON_CMDB_NS_PREFIX "finance";
	assert_int_equal(count(tenant_e, "SELECT count(*) FROM configuration_items WHERE id = $1"
				 " AND type = 'namespace' AND name = 'finance'", 1, p), 1);

	/* resolved, as a past incident is; then a second, similar one finds
	 * it, with its fix and category */
	p[0] = first;
	exec(tenant_e, "UPDATE incidents SET status = 'resolved', resolved_at = now() WHERE id = $1",
	     1, p);
	new_incident(tenant_e, second, "Disk almost full on billing-db volume", "billing");
	make_signal(&a2, "KubePersistentVolumeFillingUp", "firing", "billing", "finance",
		    "node-7", "PersistentVolume billing-data in finance is 95% full");
	insert_alert(tenant_e, second, &a2);
	assert_int_equal(reason_retrieve(pg, graph, tenant_e, second, &a2, WINDOW_S, &r, err,
					 sizeof(err)), AX_OK);
	for (i = 0; i < r.nsimilar; i++) {
		assert_string_not_equal(r.similar[i].id, second);
		if (strcmp(r.similar[i].id, first) == 0)
			found = i;
	}
	assert_true(found >= 0);
	assert_string_equal(r.similar[found].title, "Disk full on billing-db volume");
	assert_string_equal(r.similar[found].category, an.category);
	fix = ax_xasprintf("%s: %s", an.actions[0].type, an.actions[0].reason);
	assert_string_equal(r.similar[found].fix, fix);
	assert_string_equal(r.similar[found].resolution, an.actions[0].type);
	assert_string_equal(r.ctx.similar[found].resolution, an.actions[0].type);
	free(fix);
	/* and the CIs the indexing created */
	assert_true(has_ci(&r, "billing"));
	assert_true(has_ci(&r, "node-7"));
	assert_true(has_ci(&r, "finance"));
	reason_retrieval_release(&r);

	cJSON_Delete(analysis);
	reason_analysis_release(&an);
	ax_signal_release(&a1);
	ax_signal_release(&a2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retrieve),
		cmocka_unit_test(test_cmdb_apply),
		cmocka_unit_test(test_index_then_find),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
