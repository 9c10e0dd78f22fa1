/* test_signature.c - webhook signature checks (ingest/auth/signature.c).
 *
 * Every case replays a shared fixture byte for byte (tests/fixtures/
 * webhooks/, copied from the shared set) with the header values of
 * headers.json and its test secret, which headers.json itself names; the
 * Slack case replays the worked example of Slack's own documentation
 * (tests/fixtures/signatures/).  For each scheme: the genuine request
 * passes; one flipped body byte, a wrong secret, a missing or mangled
 * header fail; with two secrets (rotation) the request passes whichever
 * one signed it; a signed timestamp outside the window fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "alexus/json.h"
#include "../../ingest/auth/signature.h"

#define FIX "tests/fixtures/webhooks/"
#define SIGFIX "tests/fixtures/signatures/"
#define WINDOW 300

static cJSON *headers_doc;     /* headers.json */
static const char *test_secret;

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s (run from the repository root)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int setup(void **state)
{
	size_t len;
	char *text;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	text = slurp(FIX "headers.json", &len);
	headers_doc = ax_json_parse(text, len, 16);
	free(text);
	if (headers_doc == NULL)
		return -1;
	test_secret = ax_json_str(cJSON_GetObjectItem(headers_doc, "_about"), "test_secret");
	return test_secret != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	cJSON_Delete(headers_doc);
	return 0;
}

/* A request: a header object (case-insensitive lookup), with one header
 * optionally replaced or removed. */
struct hreq {
	const cJSON *headers;
	const char *override_name;  /* NULL: none */
	const char *override_value; /* NULL: the header is absent */
};

static const char *lookup(const void *ctx, const char *name)
{
	const struct hreq *r = ctx;
	const cJSON *h;

	if (r->override_name != NULL && strcasecmp(name, r->override_name) == 0)
		return r->override_value;
	cJSON_ArrayForEach(h, r->headers) {
		if (strcasecmp(h->string, name) == 0 && cJSON_IsString(h))
			return h->valuestring;
	}
	return NULL;
}

static const cJSON *fixture_headers(const char *file)
{
	const cJSON *h = cJSON_GetObjectItem(cJSON_GetObjectItem(headers_doc, file), "headers");

	if (h == NULL)
		fail_msg("headers.json has no headers for %s", file);
	return h;
}

static struct ingest_secret secret(const char *s)
{
	struct ingest_secret k = { (const unsigned char *)s, strlen(s) };

	return k;
}

/* Verify and return the error ("" on success). */
static const char *check(enum ingest_sig_scheme sch, const char *body, size_t len,
			 const struct hreq *r, const struct ingest_secret *secrets, size_t n,
			 time_t now)
{
	static char err[256];
	ax_err rc;

	err[0] = '\0';
	rc = ingest_sig_verify(sch, (const unsigned char *)body, len, lookup, r, secrets, n, now,
			       WINDOW, err, sizeof(err));
	if (rc == AX_OK)
		return "";
	assert_int_equal(rc, AX_EAUTH);
	assert_string_not_equal(err, "");
	return err;
}

/* The checks every scheme gets: genuine, flipped byte, wrong secret,
 * rotation in both orders, header missing, header mangled. */
static void replay(const char *file, enum ingest_sig_scheme sch, time_t now)
{
	char path[256];
	struct hreq r = { fixture_headers(file), NULL, NULL };
	struct ingest_secret right = secret(test_secret), wrong = secret("whsec_not_the_secret");
	struct ingest_secret both[2];
	const char *hname = ingest_sig_header_name(sch), *v;
	char mangled[512];
	size_t len, i;
	char *body;

	snprintf(path, sizeof(path), FIX "%s", file);
	body = slurp(path, &len);
	assert_non_null(lookup(&r, hname));

	assert_string_equal(check(sch, body, len, &r, &right, 1, now), "");
	/* One flipped byte anywhere refuses (first, middle, last). */
	if (sch != INGEST_SIG_GITLAB && sch != INGEST_SIG_HONEYCOMB) {
		size_t at[3] = { 0, len / 2, len - 1 };

		for (i = 0; i < 3; i++) {
			body[at[i]] ^= 0x01;
			assert_non_null(strstr(check(sch, body, len, &r, &right, 1, now),
					       "does not match"));
			body[at[i]] ^= 0x01;
		}
		/* A truncated or extended body too. */
		assert_string_not_equal(check(sch, body, len - 1, &r, &right, 1, now), "");
	}
	assert_non_null(strstr(check(sch, body, len, &r, &wrong, 1, now), "does not match"));
	/* Rotation: the request passes with either secret listed first. */
	both[0] = wrong;
	both[1] = right;
	assert_string_equal(check(sch, body, len, &r, both, 2, now), "");
	both[0] = right;
	both[1] = wrong;
	assert_string_equal(check(sch, body, len, &r, both, 2, now), "");

	/* No header, an empty one, a mangled one. */
	r.override_name = hname;
	r.override_value = NULL;
	assert_non_null(strstr(check(sch, body, len, &r, &right, 1, now), "missing"));
	r.override_value = "";
	assert_non_null(strstr(check(sch, body, len, &r, &right, 1, now), "missing"));
	v = lookup(&(struct hreq){ r.headers, NULL, NULL }, hname);
	snprintf(mangled, sizeof(mangled), "%s", v);
	/* The first digit of the (first) signature: the one right signed. */
	i = strchr(mangled, '=') != NULL ? (size_t)(strchr(mangled, '=') - mangled) + 1 : 0;
	mangled[i] = mangled[i] == '0' ? '1' : '0';
	r.override_value = mangled;
	assert_non_null(strstr(check(sch, body, len, &r, &right, 1, now), "does not match"));
	if (sch != INGEST_SIG_GITLAB && sch != INGEST_SIG_HONEYCOMB) {
		/* The hex cut short is malformed, not merely wrong. */
		mangled[strlen(mangled) - 1] = '\0';
		assert_non_null(strstr(check(sch, body, len, &r, &right, 1, now), "malformed"));
	}
	free(body);
}

static void test_scheme_table(void **state)
{
	(void)state;
	assert_int_equal(ingest_sig_scheme_of("pagerduty"), INGEST_SIG_PAGERDUTY);
	assert_int_equal(ingest_sig_scheme_of("github"), INGEST_SIG_GITHUB);
	assert_int_equal(ingest_sig_scheme_of("jira"), INGEST_SIG_JIRA);
	assert_int_equal(ingest_sig_scheme_of("sentry"), INGEST_SIG_SENTRY);
	assert_int_equal(ingest_sig_scheme_of("grafana"), INGEST_SIG_GRAFANA);
	assert_int_equal(ingest_sig_scheme_of("gitlab"), INGEST_SIG_GITLAB);
	assert_int_equal(ingest_sig_scheme_of("honeycomb"), INGEST_SIG_HONEYCOMB);
	assert_int_equal(ingest_sig_scheme_of("slack"), INGEST_SIG_SLACK);
	assert_int_equal(ingest_sig_scheme_of("alertmanager"), INGEST_SIG_ALEXUS);
	assert_int_equal(ingest_sig_scheme_of(NULL), INGEST_SIG_ALEXUS);
	assert_string_equal(ingest_sig_header_name(INGEST_SIG_GITHUB), "X-Hub-Signature-256");
	assert_string_equal(ingest_sig_header_name(INGEST_SIG_ALEXUS), "X-Alexus-Signature");
}

static void test_pagerduty(void **state)
{
	struct hreq r = { fixture_headers("pagerduty-v3.json"), NULL, NULL };
	struct ingest_secret old = secret("old_rotated_secret");
	char one[200];
	const char *v;
	size_t len;
	char *body;

	(void)state;
	replay("pagerduty-v3.json", INGEST_SIG_PAGERDUTY, time(NULL));
	replay("pagerduty-v3.resolved.json", INGEST_SIG_PAGERDUTY, time(NULL));

	/* The header's second v1= was made with the sender's previous
	 * secret (headers.json says so): a tenant that still holds only
	 * that one is accepted too. */
	body = slurp(FIX "pagerduty-v3.json", &len);
	assert_string_equal(check(INGEST_SIG_PAGERDUTY, body, len, &r, &old, 1, time(NULL)), "");
	/* Only the second entry, with spaces around it. */
	v = lookup(&r, "X-PagerDuty-Signature");
	snprintf(one, sizeof(one), " %s", strchr(v, ',') + 1);
	r.override_name = "X-PagerDuty-Signature";
	r.override_value = one;
	assert_string_equal(check(INGEST_SIG_PAGERDUTY, body, len, &r, &old, 1, time(NULL)), "");
	{
		struct ingest_secret cur = secret(test_secret);

		assert_non_null(strstr(check(INGEST_SIG_PAGERDUTY, body, len, &r, &cur, 1,
					     time(NULL)), "does not match"));
	}
	/* An unknown version next to a good v1 is skipped, not fatal. */
	snprintf(one, sizeof(one), "v2=abcd,%s", v);
	assert_string_equal(check(INGEST_SIG_PAGERDUTY, body, len, &r, &old, 1, time(NULL)), "");
	r.override_value = "v2=abcd";
	assert_non_null(strstr(check(INGEST_SIG_PAGERDUTY, body, len, &r, &old, 1, time(NULL)),
			       "malformed"));
	free(body);
}

static void test_github_jira_sentry(void **state)
{
	struct hreq r = { fixture_headers("github-deployment.json"), "X-Hub-Signature-256", NULL };
	struct ingest_secret k = secret(test_secret);
	size_t len;
	char *body;

	(void)state;
	replay("github-workflow-run.json", INGEST_SIG_GITHUB, time(NULL));
	replay("github-deployment.json", INGEST_SIG_GITHUB, time(NULL));
	replay("jira-issue-updated.json", INGEST_SIG_JIRA, time(NULL));
	replay("sentry-issue.json", INGEST_SIG_SENTRY, time(NULL));
	replay("sentry-issue.resolved.json", INGEST_SIG_SENTRY, time(NULL));

	/* GitHub's legacy SHA-1 header alone is not accepted. */
	body = slurp(FIX "github-deployment.json", &len);
	assert_non_null(strstr(check(INGEST_SIG_GITHUB, body, len, &r, &k, 1, time(NULL)),
			       "missing X-Hub-Signature-256"));
	/* ... nor as the Jira scheme (sha1=, not sha256=). */
	r.override_name = NULL;
	assert_non_null(strstr(check(INGEST_SIG_JIRA, body, len, &r, &k, 1, time(NULL)),
			       "malformed X-Hub-Signature"));
	/* Upper-case hex is the same signature. */
	{
		char up[128];
		const char *v = lookup(&r, "X-Hub-Signature-256");
		size_t i;

		snprintf(up, sizeof(up), "sha256=%s", v + 7);
		for (i = 7; up[i] != '\0'; i++)
			if (up[i] >= 'a' && up[i] <= 'f')
				up[i] = (char)(up[i] - 'a' + 'A');
		r.override_name = "X-Hub-Signature-256";
		r.override_value = up;
		assert_string_equal(check(INGEST_SIG_GITHUB, body, len, &r, &k, 1, time(NULL)), "");
	}
	free(body);
}

static void test_grafana(void **state)
{
	const cJSON *h = fixture_headers("grafana-unified.resolved.json");
	struct hreq r = { h, NULL, NULL };
	struct ingest_secret k = secret(test_secret);
	const char *tsv = ax_json_str(h, "X-Grafana-Alerting-Timestamp");
	time_t ts;
	size_t len;
	char *body;

	(void)state;
	/* Body only (no timestamp header). */
	replay("grafana-unified.json", INGEST_SIG_GRAFANA, time(NULL));
	/* ts ":" body, checked at the moment it was sent. */
	assert_non_null(tsv);
	ts = (time_t)strtoll(tsv, NULL, 10);
	replay("grafana-unified.resolved.json", INGEST_SIG_GRAFANA, ts);

	body = slurp(FIX "grafana-unified.resolved.json", &len);
	/* At the edges of the window, and just past them. */
	assert_string_equal(check(INGEST_SIG_GRAFANA, body, len, &r, &k, 1, ts + WINDOW), "");
	assert_string_equal(check(INGEST_SIG_GRAFANA, body, len, &r, &k, 1, ts - WINDOW), "");
	assert_non_null(strstr(check(INGEST_SIG_GRAFANA, body, len, &r, &k, 1, ts + WINDOW + 1),
			       "replay window"));
	assert_non_null(strstr(check(INGEST_SIG_GRAFANA, body, len, &r, &k, 1, ts - WINDOW - 1),
			       "replay window"));
	/* Today, that request is stale. */
	assert_non_null(strstr(check(INGEST_SIG_GRAFANA, body, len, &r, &k, 1, time(NULL)),
			       "replay window"));
	/* Another timestamp within the window: the signature no longer fits. */
	{
		char other[32];

		snprintf(other, sizeof(other), "%lld", (long long)ts + 1);
		r.override_name = "X-Grafana-Alerting-Timestamp";
		r.override_value = other;
		assert_non_null(strstr(check(INGEST_SIG_GRAFANA, body, len, &r, &k, 1, ts),
				       "does not match"));
		/* Without the timestamp header it is checked as body-only, and fails. */
		r.override_value = NULL;
		assert_non_null(strstr(check(INGEST_SIG_GRAFANA, body, len, &r, &k, 1, ts),
				       "does not match"));
		r.override_value = "17495449x5";
		assert_non_null(strstr(check(INGEST_SIG_GRAFANA, body, len, &r, &k, 1, ts),
				       "malformed"));
	}
	free(body);
}

static void test_plain_tokens(void **state)
{
	struct hreq r = { fixture_headers("honeycomb.json"), NULL, NULL };
	struct ingest_secret longer = secret("whsec_test_secret_do_not_use_and_more");
	size_t len;
	char *body;

	(void)state;
	replay("gitlab-deployment.json", INGEST_SIG_GITLAB, time(NULL));
	replay("honeycomb.json", INGEST_SIG_HONEYCOMB, time(NULL));
	/* A secret the header is a prefix of is not a match. */
	body = slurp(FIX "honeycomb.json", &len);
	assert_non_null(strstr(check(INGEST_SIG_HONEYCOMB, body, len, &r, &longer, 1, time(NULL)),
			       "does not match"));
	/* The token does not depend on the body. */
	{
		struct ingest_secret k = secret(test_secret);

		assert_string_equal(check(INGEST_SIG_HONEYCOMB, "x", 1, &r, &k, 1, time(NULL)), "");
	}
	free(body);
}

static void test_slack(void **state)
{
	size_t len, blen;
	char *text = slurp(SIGFIX "slack-example.json", &len);
	cJSON *doc = ax_json_parse(text, len, 8);
	char *body = slurp(SIGFIX "slack-example.body", &blen);
	const cJSON *h = cJSON_GetObjectItem(doc, "headers");
	struct ingest_secret k = secret(ax_json_str(doc, "secret"));
	struct ingest_secret wrong = secret("8f742231b10e8888abcd99yyyzzz85a6");
	struct ingest_secret both[2] = { wrong, k };
	struct hreq r = { h, NULL, NULL };
	time_t ts = (time_t)strtoll(ax_json_str(h, "X-Slack-Request-Timestamp"), NULL, 10);

	(void)state;
	free(text);
	assert_string_equal(check(INGEST_SIG_SLACK, body, blen, &r, &k, 1, ts), "");
	assert_string_equal(check(INGEST_SIG_SLACK, body, blen, &r, both, 2, ts + 10), "");
	assert_non_null(strstr(check(INGEST_SIG_SLACK, body, blen, &r, &wrong, 1, ts),
			       "does not match"));
	body[5] ^= 0x20;
	assert_non_null(strstr(check(INGEST_SIG_SLACK, body, blen, &r, &k, 1, ts),
			       "does not match"));
	body[5] ^= 0x20;
	/* Stale (the example is from 2018) and future timestamps. */
	assert_non_null(strstr(check(INGEST_SIG_SLACK, body, blen, &r, &k, 1, time(NULL)),
			       "replay window"));
	assert_non_null(strstr(check(INGEST_SIG_SLACK, body, blen, &r, &k, 1, ts - WINDOW - 1),
			       "replay window"));
	/* The timestamp is signed: a fresh one does not fit the old signature. */
	{
		char now[32];

		snprintf(now, sizeof(now), "%lld", (long long)ts + 1);
		r.override_name = "X-Slack-Request-Timestamp";
		r.override_value = now;
		assert_non_null(strstr(check(INGEST_SIG_SLACK, body, blen, &r, &k, 1, ts),
				       "does not match"));
		r.override_value = NULL;
		assert_non_null(strstr(check(INGEST_SIG_SLACK, body, blen, &r, &k, 1, ts),
				       "missing X-Slack-Request-Timestamp"));
	}
	/* A v1= (unknown version) is malformed. */
	{
		char v1[128];

		snprintf(v1, sizeof(v1), "v1=%s", ax_json_str(h, "X-Slack-Signature") + 3);
		r.override_name = "X-Slack-Signature";
		r.override_value = v1;
		assert_non_null(strstr(check(INGEST_SIG_SLACK, body, blen, &r, &k, 1, ts),
				       "malformed"));
	}
	free(body);
	cJSON_Delete(doc);
}

/* Our own scheme for sources without a vendor one: signed here with
 * libsodium, checked by the same code path. */
static void test_alexus_scheme(void **state)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char hex[2 * sizeof(mac) + 1], hdr[100];
	cJSON *h = cJSON_CreateObject();
	struct ingest_secret k = secret(test_secret);
	struct hreq r = { h, NULL, NULL };
	size_t len;
	char *body = slurp(FIX "generic.json", &len);

	(void)state;
	/* The streaming API: crypto_auth_hmacsha256() takes a 32-byte key. */
	{
		crypto_auth_hmacsha256_state st;

		crypto_auth_hmacsha256_init(&st, k.key, k.len);
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
		crypto_auth_hmacsha256_final(&st, mac);
	}
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	snprintf(hdr, sizeof(hdr), "sha256=%s", hex);
	cJSON_AddStringToObject(h, "X-Alexus-Signature", hdr);
	assert_string_equal(check(INGEST_SIG_ALEXUS, body, len, &r, &k, 1, time(NULL)), "");
	body[len - 1] ^= 1;
	assert_non_null(strstr(check(INGEST_SIG_ALEXUS, body, len, &r, &k, 1, time(NULL)),
			       "does not match"));
	free(body);
	cJSON_Delete(h);
}

static void test_bad_arguments(void **state)
{
	struct hreq r = { fixture_headers("sentry-issue.json"), NULL, NULL };
	struct ingest_secret k = secret(test_secret);
	char err[64];

	(void)state;
	assert_int_equal(ingest_sig_verify(INGEST_SIG_SENTRY, (const unsigned char *)"x", 1, lookup,
					   &r, &k, 0, time(NULL), WINDOW, err, sizeof(err)),
			 AX_EINVAL);
	assert_int_equal(ingest_sig_verify(INGEST_SIG_COUNT, (const unsigned char *)"x", 1, lookup,
					   &r, &k, 1, time(NULL), WINDOW, err, sizeof(err)),
			 AX_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scheme_table),   cmocka_unit_test(test_pagerduty),
		cmocka_unit_test(test_github_jira_sentry), cmocka_unit_test(test_grafana),
		cmocka_unit_test(test_plain_tokens),   cmocka_unit_test(test_slack),
		cmocka_unit_test(test_alexus_scheme),  cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
