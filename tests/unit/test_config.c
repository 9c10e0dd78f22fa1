/* test_config.c - the ALEXUS_* table (common/config.c).
 *
 * Each test starts from an environment with no ALEXUS_* variable, so the
 * defaults asserted here are the ones a fresh checkout gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alexus/config.h"
#include "alexus/json.h"
#include "alexus/log.h"

extern char **environ;

static int clean_env(void **state)
{
	char name[256];
	int again = 1;

	(void)state;
	while (again) {
		char **e;
		again = 0;
		for (e = environ; *e != NULL; e++) {
			if (strncmp(*e, "ALEXUS_", 7) == 0) {
				size_t n = strcspn(*e, "=");
				if (n >= sizeof(name))
					n = sizeof(name) - 1;
				memcpy(name, *e, n);
				name[n] = '\0';
				unsetenv(name);
				again = 1;
				break;
			}
		}
	}
	return 0;
}

static void test_defaults(void **state)
{
	struct ax_config c;
	char err[256] = "";
	char host[256], want[300];

	(void)state;
	assert_int_equal(ax_config_load(&c, err, sizeof(err)), AX_OK);
	assert_string_equal(c.redis_url, "redis://127.0.0.1:16379");
	assert_string_equal(c.database_url, "postgresql://alexus_app@127.0.0.1:15432/alexus");
	assert_string_equal(c.admin_database_url, "postgresql://alexus@127.0.0.1:15432/alexus");
	assert_string_equal(c.migrations_dir, "proto/sql");
	assert_string_equal(c.ingest_addr, "127.0.0.1");
	assert_int_equal(c.ingest_port, 8080);
	assert_int_equal(c.max_body, 1048576);
	assert_int_equal(c.max_inflight, 64);
	assert_int_equal(c.dedup_ttl, 21600);
	assert_int_equal(c.redis_timeout_ms, 2000);
	assert_int_equal(c.http_timeout_s, 30);
	assert_string_equal(c.jwt_secret, "");
	assert_string_equal(c.jwt_alg, "HS256");
	assert_string_equal(c.jwt_issuer, "alexus");
	assert_string_equal(c.jwt_audience, "alexus");
	assert_int_equal(c.batch, 0);   /* each daemon picks its own */
	assert_int_equal(c.block_ms, 1000);
	assert_int_equal(c.claim_idle_ms, 30000);
	assert_int_equal(c.max_deliveries, 5);
	assert_int_equal(c.notify_timeout_ms, 5000);
	assert_int_equal(c.notify_retries, 3);
	assert_int_equal(c.notify_backoff_ms, 200);
	assert_string_equal(c.llm_provider, "none");
	assert_string_equal(c.llm_url, "");
	assert_string_equal(c.llm_model, "");
	assert_string_equal(c.llm_key, "");
	assert_int_equal(c.llm_timeout_ms, 30000);
	assert_int_equal(c.llm_max_tokens, 1024);
	assert_int_equal(c.llm_daily_tokens, 1000000);
	assert_string_equal(c.llm_prices, "");
	assert_string_equal(c.log_level, "info");

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	snprintf(want, sizeof(want), "%s-%ld", host, (long)getpid());
	assert_string_equal(c.consumer, want);
	ax_config_release(&c);
	ax_config_release(&c); /* idempotent */
}

static void test_override(void **state)
{
	struct ax_config c;
	char err[256] = "";

	(void)state;
	setenv("ALEXUS_INGEST_PORT", "9090", 1);
	setenv("ALEXUS_REDIS_URL", "redis://10.0.0.1:7000", 1);
	setenv("ALEXUS_JWT_ISSUER", "", 1); /* empty string: check off */
	setenv("ALEXUS_JWT_SECRET", "s3cret", 1);
	setenv("ALEXUS_MAX_BODY", "2048", 1);
	setenv("ALEXUS_CONSUMER", "reason-test", 1);
	setenv("ALEXUS_NOTIFY_RETRIES", "0", 1);
	setenv("ALEXUS_BATCH", "", 1); /* empty number: default */
	setenv("ALEXUS_LOG_LEVEL", "DEBUG", 1);
	setenv("ALEXUS_LLM_PROVIDER", "anthropic", 1);
	setenv("ALEXUS_LLM_URL", "http://litellm.internal:4000", 1);
	setenv("ALEXUS_LLM_MODEL", "claude-sonnet-4-20250514", 1);
	setenv("ALEXUS_LLM_KEY", "sk-ant-test", 1);
	setenv("ALEXUS_LLM_TIMEOUT_MS", "15000", 1);
	setenv("ALEXUS_LLM_MAX_TOKENS", "2048", 1);
	setenv("ALEXUS_LLM_DAILY_TOKENS", "0", 1);
	setenv("ALEXUS_LLM_PRICES", "claude-sonnet-4=3/15,my-vllm=0/0", 1);
	assert_int_equal(ax_config_load(&c, err, sizeof(err)), AX_OK);
	assert_int_equal(c.ingest_port, 9090);
	assert_string_equal(c.redis_url, "redis://10.0.0.1:7000");
	assert_string_equal(c.jwt_issuer, "");
	assert_string_equal(c.jwt_audience, "alexus");
	assert_string_equal(c.jwt_secret, "s3cret");
	assert_int_equal(c.max_body, 2048);
	assert_string_equal(c.consumer, "reason-test");
	assert_int_equal(c.notify_retries, 0);
	assert_int_equal(c.batch, 0);
	assert_string_equal(c.log_level, "DEBUG");
	assert_string_equal(c.llm_provider, "anthropic");
	assert_string_equal(c.llm_url, "http://litellm.internal:4000");
	assert_string_equal(c.llm_model, "claude-sonnet-4-20250514");
	assert_string_equal(c.llm_key, "sk-ant-test");
	assert_int_equal(c.llm_timeout_ms, 15000);
	assert_int_equal(c.llm_max_tokens, 2048);
	assert_int_equal(c.llm_daily_tokens, 0);
	assert_string_equal(c.llm_prices, "claude-sonnet-4=3/15,my-vllm=0/0");
	ax_config_release(&c);
}

static void expect_bad(const char *name, const char *value, const char *fragment)
{
	struct ax_config c;
	char err[256] = "";

	clean_env(NULL);
	setenv(name, value, 1);
	assert_int_equal(ax_config_load(&c, err, sizeof(err)), AX_EINVAL);
	if (strstr(err, name) == NULL || strstr(err, fragment) == NULL)
		fail_msg("%s=%s: errbuf \"%s\" lacks \"%s\"", name, value, err, fragment);
	ax_config_release(&c); /* nothing to free, must not crash */
	unsetenv(name);
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_bad("ALEXUS_BATCH", "abc", "not a whole number");
	expect_bad("ALEXUS_BATCH", "12x", "not a whole number");
	expect_bad("ALEXUS_BATCH", " 12", "not a whole number");
	expect_bad("ALEXUS_BATCH", "1.5", "not a whole number");
	expect_bad("ALEXUS_BATCH", "2001", "out of range");
	expect_bad("ALEXUS_BATCH", "-3", "out of range");
	expect_bad("ALEXUS_INGEST_PORT", "70000", "out of range");
	expect_bad("ALEXUS_INGEST_PORT", "99999999999999999999999", "not a whole number");
	expect_bad("ALEXUS_MAX_BODY", "10", "out of range");
	expect_bad("ALEXUS_NOTIFY_RETRIES", "-1", "out of range");
	expect_bad("ALEXUS_REDIS_URL", "http://x:1", "redis://");
	expect_bad("ALEXUS_REDIS_URL", "redis://host:port", "redis://");
	expect_bad("ALEXUS_JWT_ALG", "none", "HS256");
	expect_bad("ALEXUS_JWT_ALG", "ES256", "RS256");
	expect_bad("ALEXUS_JWT_ALG", "hs256", "HS256");
	expect_bad("ALEXUS_LOG_LEVEL", "verbose", "debug");
	expect_bad("ALEXUS_DATABASE_URL", "", "empty");
	expect_bad("ALEXUS_CONSUMER", "has space", "printable");
	expect_bad("ALEXUS_LLM_PROVIDER", "gpt", "none, openai or anthropic");
	expect_bad("ALEXUS_LLM_PROVIDER", "OpenAI", "none, openai or anthropic");
	expect_bad("ALEXUS_LLM_URL", "ftp://models.internal/v1", "http://");
	expect_bad("ALEXUS_LLM_URL", "api.openai.com/v1", "http://");
	expect_bad("ALEXUS_LLM_TIMEOUT_MS", "50", "out of range");
	expect_bad("ALEXUS_LLM_MAX_TOKENS", "0", "out of range");
	expect_bad("ALEXUS_LLM_DAILY_TOKENS", "-1", "out of range");
	expect_bad("ALEXUS_LLM_DAILY_TOKENS", "1e6", "not a whole number");
	expect_bad("ALEXUS_LLM_PRICES", "gpt-4o=abc/10", "model-prefix=in/out");
	expect_bad("ALEXUS_LLM_PRICES", "gpt-4o=2.5/10,", "entry 2");
}

/* Run ax_config_print with stdout captured into buf. */
static void capture_print(const struct ax_config *c, int show, char *buf, size_t n)
{
	FILE *f = tmpfile();
	int saved = dup(STDOUT_FILENO);
	size_t got;

	assert_non_null(f);
	fflush(stdout);
	dup2(fileno(f), STDOUT_FILENO);
	ax_config_print(c, show);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(f);
	got = fread(buf, 1, n - 1, f);
	buf[got] = '\0';
	fclose(f);
}

static void test_print(void **state)
{
	struct ax_config c;
	char err[256];
	static char out[16384];

	(void)state;
	setenv("ALEXUS_JWT_SECRET", "topsecret", 1);
	setenv("ALEXUS_DATABASE_URL", "postgresql://app:hunter2@db:5432/alexus", 1);
	setenv("ALEXUS_LLM_KEY", "sk-llm-very-secret", 1);
	assert_int_equal(ax_config_load(&c, err, sizeof(err)), AX_OK);

	capture_print(&c, 0, out, sizeof(out));
	assert_null(strstr(out, "sk-llm-very-secret"));
	assert_non_null(strstr(out, "ALEXUS_LLM_KEY=****  # "));
	assert_non_null(strstr(out, "ALEXUS_LLM_PROVIDER=none  # "));
	assert_non_null(strstr(out, "ALEXUS_LLM_DAILY_TOKENS=1000000  # "));
	assert_null(strstr(out, "topsecret"));
	assert_null(strstr(out, "hunter2"));
	assert_non_null(strstr(out, "ALEXUS_JWT_SECRET=****  # "));
	assert_non_null(strstr(out, "ALEXUS_DATABASE_URL=postgresql://app:****@db:5432/alexus  # "));
	assert_non_null(strstr(out, "ALEXUS_INGEST_PORT=8080  # port ingest listens on\n"));
	assert_non_null(strstr(out, "ALEXUS_MAX_BODY=1048576  # "));
	assert_non_null(strstr(out, "ALEXUS_CONSUMER="));
	assert_non_null(strstr(out, "ALEXUS_LOG_LEVEL=info  # "));

	capture_print(&c, 1, out, sizeof(out));
	assert_non_null(strstr(out, "ALEXUS_JWT_SECRET=topsecret  # "));
	assert_non_null(strstr(out, "ALEXUS_LLM_KEY=sk-llm-very-secret  # "));
	assert_non_null(strstr(out, "hunter2"));
	ax_config_release(&c);
}

static void test_redis_url(void **state)
{
	static const struct {
		const char *url;
		const char *host;
		int port;
	} good[] = {
		{ "redis://127.0.0.1:16379", "127.0.0.1", 16379 },
		{ "redis://localhost", "localhost", 6379 },
		{ "redis://redis.internal:7000/0", "redis.internal", 7000 },
		{ "redis://cache-1/3", "cache-1", 6379 },
		{ "redis://[::1]:6380", "::1", 6380 },
		{ "REDIS://h:1", "h", 1 },
	};
	static const char *const bad[] = {
		"", "redis://", "redis://:6379", "http://h:1", "redis:/h", "redis://h:",
		"redis://h:0", "redis://h:65536", "redis://h:12ab", "redis://h:1 ",
		"redis://us:pw@h:1", "redis://h/x", "redis://[::1", "redis://h;rm -rf",
		"rediss://h:1",
	};
	char host[64];
	int port;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		port = -1;
		assert_int_equal(ax_redis_url_parse(good[i].url, host, sizeof(host), &port), AX_OK);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ax_redis_url_parse(bad[i], host, sizeof(host), &port) != AX_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* host does not fit the caller's buffer */
	assert_int_equal(ax_redis_url_parse("redis://averyveryverylonghostname:1", host, 8, &port),
			 AX_EINVAL);
	assert_int_equal(ax_redis_url_parse(NULL, host, sizeof(host), &port), AX_EINVAL);
}

/* Run one log call with stderr captured into buf. */
static void capture_log(enum ax_log_level lvl, const char *trace, const char *tenant,
			const char *msg, char *buf, size_t n)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t got;

	assert_non_null(f);
	dup2(fileno(f), STDERR_FILENO);
	ax_log(lvl, trace, tenant, "%s", msg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	got = fread(buf, 1, n - 1, f);
	buf[got] = '\0';
	fclose(f);
}

/* ALEXUS_LOG_LEVEL feeds ax_log_init: the level filter and the line shape. */
static void test_log_lines(void **state)
{
	char out[2048];
	cJSON *j;
	const char *ts;

	(void)state;
	ax_log_init("ingest", "warn");
	capture_log(AX_LOG_INFO, NULL, NULL, "dropped", out, sizeof(out));
	assert_string_equal(out, ""); /* below the level */

	capture_log(AX_LOG_ERROR, "4bf92f3577b34da6a3ce929d0e0e4736", "acme",
		    "quote \" newline \n tab \t ctl \x01 end", out, sizeof(out));
	/* exactly one line, newline-terminated */
	assert_true(strlen(out) > 0);
	assert_int_equal(out[strlen(out) - 1], '\n');
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	j = ax_json_parse(out, strlen(out), 0);
	assert_non_null(j);
	assert_string_equal(ax_json_str(j, "level"), "error");
	assert_string_equal(ax_json_str(j, "svc"), "ingest");
	assert_string_equal(ax_json_str(j, "msg"), "quote \" newline \n tab \t ctl \x01 end");
	assert_string_equal(ax_json_str(j, "trace"), "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(ax_json_str(j, "tenant"), "acme");
	ts = ax_json_str(j, "ts");
	assert_non_null(ts);
	/* 2026-11-23T07:26:00.123Z */
	assert_int_equal(strlen(ts), 24);
	assert_int_equal(ts[4], '-');
	assert_int_equal(ts[10], 'T');
	assert_int_equal(ts[19], '.');
	assert_int_equal(ts[23], 'Z');
	cJSON_Delete(j);

	/* trace and tenant left out when NULL */
	capture_log(AX_LOG_WARN, NULL, NULL, "w", out, sizeof(out));
	j = ax_json_parse(out, strlen(out), 0);
	assert_non_null(j);
	assert_string_equal(ax_json_str(j, "level"), "warn");
	assert_null(cJSON_GetObjectItem(j, "trace"));
	assert_null(cJSON_GetObjectItem(j, "tenant"));
	cJSON_Delete(j);

	ax_log_init("ingest", "nonsense"); /* unknown means info */
	assert_int_equal(ax_log_min, AX_LOG_INFO);
	ax_log_init("ingest", "DEBUG");
	assert_int_equal(ax_log_min, AX_LOG_DEBUG);
	ax_log_init("ingest", "info");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, clean_env),
		cmocka_unit_test_setup(test_override, clean_env),
		cmocka_unit_test_setup(test_bad_values, clean_env),
		cmocka_unit_test_setup(test_print, clean_env),
		cmocka_unit_test_setup(test_redis_url, clean_env),
		cmocka_unit_test(test_log_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
