/* itest_alertmanager.c - a real Prometheus Alertmanager as the sender.
 *
 * Starts the distribution's prometheus-alertmanager with a webhook
 * receiver pointed at ingest (Bearer token in http_config), posts an alert
 * to its v2 API, then posts it again with endsAt in the past.  Alertmanager
 * groups, batches and sends both notifications on its own schedule; the
 * test waits for the incident to open and then to resolve, and checks the
 * tenant's webhook got both notifications. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "system.h"

#define AM_BIN "/usr/bin/prometheus-alertmanager"

static struct h_proc am;

static int teardown(void **state)
{
	h_stop(&am, SIGKILL, 5000);
	return sys_teardown(state);
}

static void write_config(const char *path, int ingest_port, const char *token)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f,
		"route:\n"
		"  receiver: alexus\n"
		"  group_by: ['alertname']\n"
		"  group_wait: 100ms\n"
		"  group_interval: 1s\n"
		"  repeat_interval: 1h\n"
		"receivers:\n"
		"  - name: alexus\n"
		"    webhook_configs:\n"
		"      - url: 'http://127.0.0.1:%d/v1/webhooks/alertmanager'\n"
		"        send_resolved: true\n"
		"        http_config:\n"
		"          authorization:\n"
		"            type: Bearer\n"
		"            credentials: '%s'\n",
		ingest_port, token);
	fclose(f);
}

static long post_alert(int am_port, const char *ends_at)
{
	char url[128], body[1024];
	const char *hdr[] = { "Content-Type: application/json", NULL };
	int n;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v2/alerts", am_port);
	n = snprintf(body, sizeof(body),
		     "[{\"labels\":{\"alertname\":\"DiskAlmostFull\",\"service\":\"billing-db\","
		     "\"instance\":\"db-1:9100\",\"severity\":\"critical\"},"
		     "\"annotations\":{\"summary\":\"Disk /var/lib/postgresql is 97%% full\"},"
		     "\"generatorURL\":\"http://prometheus.example/graph\"%s%s%s}]",
		     ends_at ? ",\"endsAt\":\"" : "", ends_at ? ends_at : "", ends_at ? "\"" : "");
	return h_http("POST", url, hdr, body, (size_t)n, NULL);
}

static void test_alertmanager_delivers_firing_and_resolved(void **state)
{
	struct sys *s;
	char dir[256], cfg[300], a_cfg[320], a_store[320], a_web[64], ready[128], now[64];
	const char *argv[] = { AM_BIN, a_cfg, a_store, a_web, "--cluster.listen-address=",
			       "--log.level=warn", NULL };
	int am_port;
	time_t t;
	(void)state;

	if (access(AM_BIN, X_OK) != 0)
		fail_msg("%s missing: scripts/setup installs prometheus-alertmanager", AM_BIN);
	s = sys_up("am", NULL);
	snprintf(dir, sizeof(dir), ".run/test-logs/alertmanager-%d", (int)getpid());
	mkdir(dir, 0755);
	snprintf(cfg, sizeof(cfg), "%s/alertmanager.yml", dir);
	write_config(cfg, s->port, s->token);
	am_port = h_free_port();
	snprintf(a_cfg, sizeof(a_cfg), "--config.file=%s", cfg);
	snprintf(a_store, sizeof(a_store), "--storage.path=%s", dir);
	snprintf(a_web, sizeof(a_web), "--web.listen-address=127.0.0.1:%d", am_port);
	h_spawn_argv(&am, AM_BIN, argv, NULL);
	snprintf(ready, sizeof(ready), "http://127.0.0.1:%d/-/ready", am_port);
	if (!h_wait_http_200(ready, WAIT_MS)) {
		h_dump_log(&am);
		fail_msg("alertmanager did not become ready");
	}

	assert_int_equal(post_alert(am_port, NULL), 200);
	sys_wait_sql(s, "SELECT count(*) FROM alerts WHERE name = 'DiskAlmostFull'"
			 " AND status = 'firing' AND source = 'alertmanager'"
			 " AND service = 'billing-db' AND severity = 'critical'", 1);
	sys_wait_sql(s, "SELECT count(*) FROM incidents WHERE status = 'open'", 1);
	assert_int_equal(rcv_wait(s->rcv, 1, WAIT_MS), 1);

	t = time(NULL) - 1;
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	assert_int_equal(post_alert(am_port, now), 200);
	sys_wait_sql(s, "SELECT count(*) FROM incidents WHERE status = 'resolved'", 1);
	assert_int_equal(rcv_wait(s->rcv, 2, WAIT_MS), 2);
	sys_wait_settled(s);
	sys_check_delivery(s, 0, "incident.opened");
	sys_check_delivery(s, 1, "incident.resolved");

	h_stop(&am, SIGTERM, 10000);
	sys_down(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_alertmanager_delivers_firing_and_resolved, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
