/* test_health.c - the probe listener of reason and act (common/health.c)
 * and its two ALEXUS_* keys.
 *
 * Each test starts a real listener on 127.0.0.1 (port chosen by the
 * kernel) and asks it over HTTP with libcurl, as a kubelet would: /healthz
 * is 200 whatever the loop does; /readyz is 503 with a JSON reason before
 * the first beat, 200 right after one, 503 again once the beat is older
 * than the limit, and 503 as soon as a stop is requested. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "alexus/config.h"
#include "alexus/health.h"

struct body {
	char buf[1024];
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;

	if (len > sizeof(b->buf) - 1 - b->len)
		len = sizeof(b->buf) - 1 - b->len;
	memcpy(b->buf + b->len, p, len);
	b->len += len;
	b->buf[b->len] = '\0';
	return size * n;
}

/* GET (or another method) http://127.0.0.1:port/path; status, body in b. */
static long get(int port, const char *method, const char *path, struct body *b)
{
	CURL *c = curl_easy_init();
	char url[128];
	long code = 0;

	assert_non_null(c);
	memset(b, 0, sizeof(*b));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L); /* a HEAD reply has no body to wait for */
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code;
}

/* The reply's "ready" member must be want; returns its "reason" (or ""). */
static const char *ready_is(const struct body *b, int want, char *reason, size_t len)
{
	cJSON *j = cJSON_Parse(b->buf);
	const cJSON *r, *why;

	assert_non_null(j);
	r = cJSON_GetObjectItemCaseSensitive(j, "ready");
	assert_true(cJSON_IsBool(r));
	assert_int_equal(cJSON_IsTrue(r), want);
	why = cJSON_GetObjectItemCaseSensitive(j, "reason");
	snprintf(reason, len, "%s", cJSON_IsString(why) ? why->valuestring : "");
	cJSON_Delete(j);
	return reason;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void test_ready_follows_the_beat(void **state)
{
	volatile sig_atomic_t stop = 0;
	struct ax_health *h;
	struct body b;
	char err[256] = "", why[256];
	int port;

	(void)state;
	ax_health_reset();
	h = ax_health_start("127.0.0.1:0", 300, &stop, err, sizeof(err));
	assert_non_null(h);
	port = ax_health_port(h);
	assert_true(port > 0);

	/* Liveness does not depend on the loop. */
	assert_int_equal(get(port, "GET", "/healthz", &b), 200);
	assert_string_equal(b.buf, "{\"status\":\"ok\"}\n");

	/* No beat yet: not ready, and the reply says why. */
	assert_int_equal(get(port, "GET", "/readyz", &b), 503);
	assert_non_null(strstr(ready_is(&b, 0, why, sizeof(why)), "no heartbeat yet"));

	/* A beat: ready. */
	ax_health_beat();
	assert_int_equal(get(port, "GET", "/readyz", &b), 200);
	ready_is(&b, 1, why, sizeof(why));
	assert_int_equal(get(port, "HEAD", "/readyz", &b), 200);

	/* The beat ages past 300 ms: not ready, with the age and the limit. */
	sleep_ms(450);
	assert_int_equal(get(port, "GET", "/readyz", &b), 503);
	ready_is(&b, 0, why, sizeof(why));
	assert_non_null(strstr(why, "limit 300 ms"));
	assert_non_null(strstr(why, "last reached redis and postgres"));
	assert_int_equal(get(port, "GET", "/healthz", &b), 200);

	/* Beating again recovers; a stop request wins over a fresh beat. */
	ax_health_beat();
	assert_int_equal(get(port, "GET", "/readyz", &b), 200);
	stop = 1;
	assert_int_equal(get(port, "GET", "/readyz", &b), 503);
	assert_non_null(strstr(ready_is(&b, 0, why, sizeof(why)), "stopping"));
	assert_int_equal(get(port, "GET", "/healthz", &b), 200);

	/* Nothing else is served. */
	assert_int_equal(get(port, "GET", "/metrics", &b), 404);
	assert_int_equal(get(port, "POST", "/readyz", &b), 405);
	ax_health_stop(h);
}

/* Stop right after start (before the thread may even dispatch) must not
 * hang, and the port is free again afterwards. */
static void test_start_stop(void **state)
{
	char err[256] = "", addr[64];
	struct ax_health *h, *again;
	int i, port;

	(void)state;
	for (i = 0; i < 20; i++) {
		h = ax_health_start("127.0.0.1:0", 1000, NULL, err, sizeof(err));
		assert_non_null(h);
		ax_health_stop(h);
	}
	h = ax_health_start("127.0.0.1:0", 1000, NULL, err, sizeof(err));
	assert_non_null(h);
	port = ax_health_port(h);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	/* The same port twice: the second bind fails and says where. */
	again = ax_health_start(addr, 1000, NULL, err, sizeof(err));
	assert_null(again);
	assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
	ax_health_stop(h);
	ax_health_stop(NULL);
}

static void test_addr_parse(void **state)
{
	static const struct {
		const char *in, *host;
		int port;
	} ok[] = {
		{ "0.0.0.0:9090", "0.0.0.0", 9090 },
		{ "[::]:9090", "::", 9090 },
		{ "localhost:1", "localhost", 1 },
		{ "127.0.0.1:0", "127.0.0.1", 0 },
	};
	static const char *const bad[] = { "", "9090", ":9090", "host:", "host:65536",
					   "::1:9090", "[::1]9090", "ho st:1", "host:9x" };
	char host[64];
	int port;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(ax_health_addr_parse(ok[i].in, host, sizeof(host), &port), AX_OK);
		assert_string_equal(host, ok[i].host);
		assert_int_equal(port, ok[i].port);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ax_health_addr_parse(bad[i], host, sizeof(host), &port),
				 AX_EINVAL);
}

static void test_config_keys(void **state)
{
	struct ax_config c;
	char err[256] = "";

	(void)state;
	unsetenv("ALEXUS_HEALTH_ADDR");
	unsetenv("ALEXUS_HEALTH_MAX_AGE_MS");
	assert_int_equal(ax_config_load(&c, err, sizeof(err)), AX_OK);
	assert_string_equal(c.health_addr, "");          /* off by default */
	assert_int_equal(c.health_max_age_ms, 30000);
	ax_config_release(&c);

	setenv("ALEXUS_HEALTH_ADDR", "0.0.0.0:9090", 1);
	setenv("ALEXUS_HEALTH_MAX_AGE_MS", "5000", 1);
	assert_int_equal(ax_config_load(&c, err, sizeof(err)), AX_OK);
	assert_string_equal(c.health_addr, "0.0.0.0:9090");
	assert_int_equal(c.health_max_age_ms, 5000);
	ax_config_release(&c);

	/* Port 0 is for tests of the module, not a daemon's setting. */
	setenv("ALEXUS_HEALTH_ADDR", "0.0.0.0:0", 1);
	assert_int_equal(ax_config_load(&c, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "ALEXUS_HEALTH_ADDR"));
	setenv("ALEXUS_HEALTH_ADDR", "9090", 1);
	assert_int_equal(ax_config_load(&c, err, sizeof(err)), AX_EINVAL);
	setenv("ALEXUS_HEALTH_ADDR", "0.0.0.0:9090", 1);
	setenv("ALEXUS_HEALTH_MAX_AGE_MS", "50", 1);
	assert_int_equal(ax_config_load(&c, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "ALEXUS_HEALTH_MAX_AGE_MS"));
	unsetenv("ALEXUS_HEALTH_ADDR");
	unsetenv("ALEXUS_HEALTH_MAX_AGE_MS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_follows_the_beat),
		cmocka_unit_test(test_start_stop),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_config_keys),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
