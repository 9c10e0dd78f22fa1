/* itest_auth.c - webhook authentication on the real test stack.
 *
 * The real alexus-ingest (ALEXUS_BIN_DIR) against the stack's Redis, and
 * the real alexusctl against its Postgres and Redis:
 *   - a token from `alexusctl token issue` authenticates a webhook given as
 *     Authorization: Bearer axw_..., X-Alexus-Token or ?token=; each time
 *     202 and an entry on alexus:signals carrying the token's tenant;
 *   - `token list` shows it; `token revoke` makes it 401 (at once for a
 *     token never used, after ALEXUS_TOKEN_CACHE for one that was), and
 *     unknown, malformed or conflicting tokens are 401 -- nothing refused
 *     reaches the stream;
 *   - with `source secret set`, an unsigned or wrongly signed PagerDuty or
 *     GitHub webhook is 401 bad_signature and the fixture with its
 *     headers.json signature (the shared test secret) is 202, by route and
 *     by detection; the secret is sealed in Redis, never in the clear;
 *     `source secret clear` lifts the requirement;
 *   - Redis keys lost (a flushed Redis) and `auth sync` brings both back;
 *   - an ingest configured for RS256 with a key file (a key pair made by
 *     the openssl CLI into a mkdtemp directory) accepts an RS256 JWT and
 *     refuses an HS256 one, and still takes webhook tokens. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "alexus/crypto.h"
#include "alexus/hash.h"
#include "alexus/jwt.h"
#include "alexus/keys.h"
#include "harness.h"

#define FIX "tests/fixtures/webhooks/"
#define WAIT_MS 15000

static struct h_proc ingest;
static redisContext *rc;
static char keydir[64];

static int teardown(void **state)
{
	(void)state;
	h_stop(&ingest, SIGKILL, 5000);
	memset(&ingest, 0, sizeof(ingest));
	if (rc != NULL)
		redisFree(rc);
	rc = NULL;
	if (keydir[0] != '\0') {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", keydir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", keydir);
		keydir[0] = '\0';
	}
	return 0;
}

/* ----------------------------------------------------------- helpers */

/* Start ingest with extra environment; returns its port. */
static int ingest_up(const char *const *extra)
{
	static char port_env[64];
	const char *env[12];
	char ready[128];
	int port = h_free_port(), n = 0;

	snprintf(port_env, sizeof(port_env), "ALEXUS_INGEST_PORT=%d", port);
	env[n++] = port_env;
	env[n++] = "ALEXUS_INGEST_WORKERS=2";
	for (; extra != NULL && *extra != NULL && n < 11; extra++)
		env[n++] = *extra;
	env[n] = NULL;
	h_spawn(&ingest, "alexus-ingest", env);
	snprintf(ready, sizeof(ready), "http://127.0.0.1:%d/readyz", port);
	if (!h_wait_http_200(ready, WAIT_MS)) {
		h_dump_log(&ingest);
		fail_msg("ingest did not become ready");
	}
	return port;
}

static void ingest_down(void)
{
	if (h_stop(&ingest, SIGTERM, 10000) != 0 || h_log_has_sanitizer_report(&ingest) ||
	    !WIFEXITED(ingest.status) || WEXITSTATUS(ingest.status) != 0) {
		h_dump_log(&ingest);
		fail_msg("ingest exited badly (status %d) or reported a sanitizer error",
			 ingest.status);
	}
	memset(&ingest, 0, sizeof(ingest));
}

/* `token issue`; the token is the last line of what it prints. */
static void issue(const char *tenant, const char *name, char token[AX_WHTOKEN_LEN + 1])
{
	char *out, *last;
	int st = h_ctl(&out, "token", "issue", "--tenant", tenant, "--name", name, NULL);

	if (st != 0)
		fail_msg("token issue: %s", out);
	while (strlen(out) > 0 && out[strlen(out) - 1] == '\n')
		out[strlen(out) - 1] = '\0';
	last = strrchr(out, '\n');
	last = last != NULL ? last + 1 : out;
	assert_true(ax_whtoken_valid(last));
	snprintf(token, AX_WHTOKEN_LEN + 1, "%s", last);
	free(out);
}

/* Headers of a fixture in headers.json: "Name: value" lines, malloc'd,
 * NULL-terminated, optionally only those named in keep[]. */
static char **fixture_headers(const char *file, const char *const *keep)
{
	char *text = h_read_file(FIX "headers.json", NULL);
	cJSON *doc = cJSON_Parse(text), *h;
	char **out = calloc(32, sizeof(*out));
	int n = 0;

	assert_non_null(doc);
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(cJSON_GetObjectItem(doc, file), "headers")) {
		const char *const *k;
		int want = keep == NULL;

		for (k = keep; k != NULL && *k != NULL; k++)
			want |= strcasecmp(*k, h->string) == 0;
		if (want && n < 31 && cJSON_IsString(h)) {
			out[n] = malloc(strlen(h->string) + strlen(h->valuestring) + 3);
			sprintf(out[n++], "%s: %s", h->string, h->valuestring);
		}
	}
	cJSON_Delete(doc);
	free(text);
	return out;
}

static void free_headers(char **h)
{
	int i;

	for (i = 0; h[i] != NULL; i++)
		free(h[i]);
	free(h);
}

/* POST a fixture to path on port with headers (NULL-terminated);
 * *resp (may be NULL) gets the parsed reply. */
static long post(int port, const char *path, const char *file, const char *const *headers,
		 cJSON **resp)
{
	char url[512], *body, *text = NULL;
	size_t len;
	long st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	body = h_read_file(file, &len);
	st = h_http("POST", url, headers, body, len, &text);
	free(body);
	if (resp != NULL) {
		*resp = cJSON_Parse(text);
		if (*resp == NULL)
			fail_msg("reply to %s is not JSON: %s", path, text);
	}
	free(text);
	return st;
}

static const char *json_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* A 202 reply: every id in it is an entry of alexus:signals whose tenant
 * field is tenant; returns how many ids. */
static int check_entries(const cJSON *reply, const char *tenant)
{
	const cJSON *ids = cJSON_GetObjectItem(reply, "ids"), *id;
	int n = 0;

	cJSON_ArrayForEach(id, ids) {
		redisReply *r = redisCommand(rc, "XREVRANGE %s + - COUNT 2000", AX_STREAM_SIGNALS);
		size_t i, j;
		int found = 0;

		assert_non_null(r);
		assert_int_equal(r->type, REDIS_REPLY_ARRAY);
		for (i = 0; i < r->elements && !found; i++) {
			redisReply *f = r->element[i]->element[1];
			const char *eid = NULL, *et = NULL;

			for (j = 0; j + 1 < f->elements; j += 2) {
				if (strcmp(f->element[j]->str, "id") == 0)
					eid = f->element[j + 1]->str;
				else if (strcmp(f->element[j]->str, "tenant") == 0)
					et = f->element[j + 1]->str;
			}
			if (eid != NULL && strcmp(eid, id->valuestring) == 0) {
				found = 1;
				assert_non_null(et);
				assert_string_equal(et, tenant);
			}
		}
		freeReplyObject(r);
		if (!found)
			fail_msg("signal %s is not on %s", id->valuestring, AX_STREAM_SIGNALS);
		n++;
	}
	return n;
}

static long long xlen(void)
{
	return h_redis_int(rc, "XLEN %s", AX_STREAM_SIGNALS);
}

/* A refusal: status, our JSON error code, and the stream unchanged. */
static void expect_refused(long st, cJSON *r, long want, const char *error, long long before)
{
	if (st != want)
		fail_msg("status %ld, want %ld: %s", st, want, json_str(r, "message"));
	assert_string_equal(json_str(r, "error"), error);
	assert_true(json_str(r, "message")[0] != '\0');
	cJSON_Delete(r);
	assert_int_equal(xlen(), before);
}

/* POST and expect a refusal that leaves the stream as it was. */
static void post_refused(int port, const char *path, const char *file, const char *const *h,
			 long want, const char *error)
{
	long long before = xlen();
	cJSON *r;
	long st = post(port, path, file, h, &r);

	expect_refused(st, r, want, error, before);
}

/* ------------------------------------------------------------- tests */

static void test_token_in_three_places(void **state)
{
	char tenant[64], token[AX_WHTOKEN_LEN + 1], bearer[128], xtok[128], path[256], *out;
	const char *h_bearer[] = { bearer, "Content-Type: application/json", NULL };
	const char *h_x[] = { xtok, "Content-Type: application/json", NULL };
	const char *h_none[] = { "Content-Type: application/json", NULL };
	const char *env[] = { "ALEXUS_TOKEN_CACHE=30", NULL };
	cJSON *r;
	int port;
	(void)state;

	rc = h_redis();
	h_tenant_new("auth3", NULL, tenant);
	issue(tenant, "am", token);
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", token);
	snprintf(xtok, sizeof(xtok), "X-Alexus-Token: %s", token);
	port = ingest_up(env);

	/* 1: Authorization: Bearer axw_... */
	assert_int_equal(post(port, "/v1/webhooks/alertmanager", FIX "alertmanager.json", h_bearer,
			      &r), 202);
	assert_int_equal(check_entries(r, tenant), 2);
	cJSON_Delete(r);
	/* 2: X-Alexus-Token (the resolved payload, so it is not a duplicate) */
	assert_int_equal(post(port, "/v1/webhooks/alertmanager", FIX "alertmanager.resolved.json",
			      h_x, &r), 202);
	assert_int_equal(check_entries(r, tenant), 2);
	cJSON_Delete(r);
	/* 3: ?token= in the URL, source detected */
	snprintf(path, sizeof(path), "/v1/webhooks?token=%s", token);
	assert_int_equal(post(port, path, FIX "alertmanager.json", h_none, &r), 202);
	assert_int_equal(check_entries(r, tenant), 2);
	cJSON_Delete(r);

	/* Redis holds the hash, never the token. */
	{
		char hex[AX_SHA256_HEX], key[AX_KEY_MAX];
		redisReply *g;

		ax_sha256_hex(token, strlen(token), hex);
		assert_true(ax_key_whtoken(key, sizeof(key), hex) > 0);
		g = redisCommand(rc, "GET %s", key);
		assert_int_equal(g->type, REDIS_REPLY_STRING);
		assert_string_equal(g->str, tenant);
		freeReplyObject(g);
		g = redisCommand(rc, "KEYS *%s*", token + 4);
		assert_int_equal(g->elements, 0);
		freeReplyObject(g);
	}
	/* token list shows it, without the token. */
	assert_int_equal(h_ctl(&out, "token", "list", "--tenant", tenant, NULL), 0);
	assert_non_null(strstr(out, "am "));
	assert_null(strstr(out, token));
	free(out);
	/* Same name twice is refused while the first is active. */
	assert_int_equal(h_ctl(&out, "token", "issue", "--tenant", tenant, "--name", "am", NULL),
			 1);
	assert_non_null(strstr(out, "already has an active token"));
	free(out);
	/* A tenant that does not exist gets no token. */
	assert_int_equal(h_ctl(&out, "token", "issue", "--tenant", "no-such-tenant-x", NULL), 1);
	assert_non_null(strstr(out, "no tenant"));
	free(out);
	ingest_down();
	redisFree(rc);
	rc = NULL;
}

static void test_refused_tokens(void **state)
{
	char tenant[64], t1[AX_WHTOKEN_LEN + 1], t2[AX_WHTOKEN_LEN + 1], a1[128], a2[128];
	char path[256], unknown[AX_WHTOKEN_LEN + 1], au[128], *out;
	const char *h1[] = { a1, "Content-Type: application/json", NULL };
	const char *h2[] = { a2, "Content-Type: application/json", NULL };
	const char *hu[] = { au, NULL };
	const char *hboth[] = { a1, NULL, NULL };
	const char *env[] = { "ALEXUS_TOKEN_CACHE=1", NULL };
	long long before;
	cJSON *r;
	int port, i;
	long st = 0;
	(void)state;

	rc = h_redis();
	h_tenant_new("authrv", NULL, tenant);
	issue(tenant, "never-used", t1);
	issue(tenant, "used", t2);
	snprintf(a1, sizeof(a1), "Authorization: Bearer %s", t1);
	snprintf(a2, sizeof(a2), "X-Alexus-Token: %s", t2);
	port = ingest_up(env);

	/* Revoked before first use: refused at once. */
	assert_int_equal(h_ctl(&out, "token", "revoke", "--tenant", tenant, "--name", "never-used",
			       NULL), 0);
	free(out);
	post_refused(port, "/v1/webhooks/alertmanager", FIX "alertmanager.json", h1,
		     401, "unauthorized");
	/* Revoked twice: nothing active by that name. */
	assert_int_equal(h_ctl(&out, "token", "revoke", "--tenant", tenant, "--name", "never-used",
			       NULL), 1);
	free(out);

	/* Used, then revoked: refused once the cache (1 s here) lets go. */
	assert_int_equal(post(port, "/v1/webhooks/alertmanager", FIX "alertmanager.json", h2, &r),
			 202);
	assert_int_equal(check_entries(r, tenant), 2);
	cJSON_Delete(r);
	assert_int_equal(h_ctl(&out, "token", "revoke", "--tenant", tenant, "--name", "used", NULL),
			 0);
	free(out);
	/* Each worker caches the answer ALEXUS_TOKEN_CACHE (1) s from its
	 * last lookup; after that every one of them asks Redis again. */
	usleep(1500 * 1000);
	before = xlen();
	for (i = 0; i < 4; i++) {
		st = post(port, "/v1/webhooks/alertmanager",
			  i % 2 ? FIX "alertmanager.json" : FIX "alertmanager.resolved.json", h2,
			  &r);
		expect_refused(st, r, 401, "unauthorized", before);
	}
	post_refused(port, "/v1/webhooks/alertmanager", FIX "alertmanager.resolved.json", h2, 401,
		     "unauthorized");

	/* A token nobody issued, a malformed one, two different ones. */
	ax_whtoken_new(unknown);
	snprintf(au, sizeof(au), "X-Alexus-Token: %s", unknown);
	post_refused(port, "/v1/webhooks/alertmanager", FIX "alertmanager.json", hu, 401,
		     "unauthorized");
	snprintf(au, sizeof(au), "X-Alexus-Token: %.20s", unknown);
	post_refused(port, "/v1/webhooks/alertmanager", FIX "alertmanager.json", hu,
		     401, "unauthorized");
	snprintf(path, sizeof(path), "/v1/webhooks/alertmanager?token=%s", unknown);
	post_refused(port, path, FIX "alertmanager.json", hboth, 401, "unauthorized");
	/* A JWT may not travel in the URL. */
	{
		char *jwt = h_token(tenant);

		snprintf(path, sizeof(path), "/v1/webhooks/alertmanager?token=%s", jwt);
		free(jwt);
		post_refused(port, path, FIX "alertmanager.json", NULL, 401, "unauthorized");
	}
	ingest_down();
	redisFree(rc);
	rc = NULL;
}

static void test_source_secret(void **state)
{
	static const char *const pd_sig[] = { "X-PagerDuty-Signature", NULL };
	static const char *const gh_sig[] = { "X-GitHub-Event", "X-Hub-Signature-256", NULL };
	static const char *const gh_event[] = { "X-GitHub-Event", NULL };
	char tenant[64], token[AX_WHTOKEN_LEN + 1], auth[128], *out, key[AX_KEY_MAX];
	char **pd = fixture_headers("pagerduty-v3.json", pd_sig);
	char **gh = fixture_headers("github-deployment.json", gh_sig);
	char **gh_unsigned = fixture_headers("github-deployment.json", gh_event);
	const char *plain[] = { auth, "Content-Type: application/json", NULL };
	const char *signed_pd[] = { auth, pd[0], NULL };
	const char *signed_gh[] = { auth, gh[0], gh[1], NULL };
	const char *unsigned_gh[] = { auth, gh_unsigned[0], NULL };
	const char *env[] = { "ALEXUS_TOKEN_CACHE=0", NULL };
	char *secret;
	cJSON *r;
	int port;
	(void)state;

	{
		char *text = h_read_file(FIX "headers.json", NULL);
		cJSON *doc = cJSON_Parse(text);

		secret = strdup(json_str(cJSON_GetObjectItem(doc, "_about"), "test_secret"));
		cJSON_Delete(doc);
		free(text);
	}
	assert_non_null(pd[0]);
	assert_non_null(gh[1]);
	rc = h_redis();
	h_tenant_new("authsig", NULL, tenant);
	issue(tenant, "pd", token);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	port = ingest_up(env);

	/* No secret yet: an unsigned PagerDuty webhook is fine. */
	assert_int_equal(post(port, "/v1/webhooks/pagerduty", FIX "pagerduty-v3.resolved.json",
			      plain, &r), 202);
	assert_int_equal(check_entries(r, tenant), 1);
	cJSON_Delete(r);

	assert_int_equal(h_ctl(&out, "source", "secret", "set", "--tenant", tenant, "--source",
			       "pagerduty", "--secret", secret, NULL), 0);
	assert_null(strstr(out, secret));
	free(out);
	/* GitHub's from stdin, as an operator would pipe it in. */
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | '%s/alexusctl' source secret set "
			 "--tenant %s --source github >/dev/null", secret, h_env("ALEXUS_BIN_DIR"),
			 tenant);
		assert_int_equal(system(cmd), 0);
	}
	/* Redis holds it sealed. */
	assert_true(ax_key(key, sizeof(key), tenant, "secrets", NULL) > 0);
	{
		redisReply *g = redisCommand(rc, "HGET %s pagerduty", key);

		assert_int_equal(g->type, REDIS_REPLY_STRING);
		assert_null(strstr(g->str, secret));
		assert_true(g->len >= 40);
		freeReplyObject(g);
	}

	/* Unsigned: refused, by route and by detection. */
	post_refused(port, "/v1/webhooks/pagerduty", FIX "pagerduty-v3.json", plain,
		     401, "bad_signature");
	post_refused(port, "/v1/webhooks", FIX "github-deployment.json", unsigned_gh,
		     401, "bad_signature");
	/* A signature of other bytes: the resolved file with the firing one's. */
	post_refused(port, "/v1/webhooks/pagerduty", FIX "pagerduty-v3.resolved.json", signed_pd,
		     401, "bad_signature");
	/* Signed, byte for byte: accepted. */
	assert_int_equal(post(port, "/v1/webhooks/pagerduty", FIX "pagerduty-v3.json", signed_pd,
			      &r), 202);
	assert_int_equal(check_entries(r, tenant), 1);
	cJSON_Delete(r);
	assert_int_equal(post(port, "/v1/webhooks", FIX "github-deployment.json", signed_gh, &r),
			 202);
	assert_int_equal(check_entries(r, tenant), 1);
	cJSON_Delete(r);

	/* Another secret for the source: the fixture's signature no longer fits;
	 * both during a rotation (--add): it does again. */
	assert_int_equal(h_ctl(&out, "source", "secret", "set", "--tenant", tenant, "--source",
			       "pagerduty", "--secret", "whsec_the_next_one", NULL), 0);
	free(out);
	post_refused(port, "/v1/webhooks/pagerduty", FIX "pagerduty-v3.json", signed_pd,
		     401, "bad_signature");
	assert_int_equal(h_ctl(&out, "source", "secret", "set", "--tenant", tenant, "--source",
			       "pagerduty", "--secret", secret, "--add", NULL), 0);
	assert_non_null(strstr(out, "2 active"));
	free(out);
	assert_int_equal(post(port, "/v1/webhooks/pagerduty", FIX "pagerduty-v3.json", signed_pd,
			      &r), 202);
	cJSON_Delete(r);

	/* A flushed Redis (the two keys gone): the token no longer works;
	 * auth sync brings token and secrets back. */
	{
		char hex[AX_SHA256_HEX], tkey[AX_KEY_MAX];

		ax_sha256_hex(token, strlen(token), hex);
		assert_true(ax_key_whtoken(tkey, sizeof(tkey), hex) > 0);
		assert_int_equal(h_redis_int(rc, "DEL %s %s", tkey, key), 2);
	}
	post_refused(port, "/v1/webhooks/pagerduty", FIX "pagerduty-v3.resolved.json", signed_pd,
		     401, "unauthorized");
	assert_int_equal(h_ctl(&out, "auth", "sync", "--tenant", tenant, NULL), 0);
	assert_non_null(strstr(out, "synced 1 active"));
	assert_non_null(strstr(out, "3 signing secret(s)"));
	free(out);
	post_refused(port, "/v1/webhooks/pagerduty", FIX "pagerduty-v3.resolved.json", plain, 401,
		     "bad_signature");
	/* The whole-stack sync works too (the stack's owner bypasses RLS). */
	assert_int_equal(h_ctl(&out, "auth", "sync", NULL), 0);
	assert_non_null(strstr(out, "synced"));
	free(out);
	post_refused(port, "/v1/webhooks", FIX "github-deployment.json", unsigned_gh, 401,
		     "bad_signature");

	/* Cleared: unsigned passes again. */
	assert_int_equal(h_ctl(&out, "source", "secret", "clear", "--tenant", tenant, "--source",
			       "pagerduty", NULL), 0);
	free(out);
	assert_int_equal(post(port, "/v1/webhooks/pagerduty", FIX "pagerduty-v3.resolved.json",
			      plain, &r), 202);
	cJSON_Delete(r);
	{
		redisReply *g = redisCommand(rc, "HEXISTS %s pagerduty", key);

		assert_int_equal(g->integer, 0);
		freeReplyObject(g);
	}
	ingest_down();
	free_headers(pd);
	free_headers(gh);
	free_headers(gh_unsigned);
	free(secret);
	redisFree(rc);
	rc = NULL;
}

static void test_rs256(void **state)
{
	char tenant[64], priv[128], pub[128], cmd[512], env_key[160], auth[2048], *out;
	char token[AX_WHTOKEN_LEN + 1], xtok[128];
	const char *env[] = { "ALEXUS_JWT_ALG=RS256", env_key, NULL };
	const char *hdr[] = { auth, "Content-Type: application/json", NULL };
	const char *htok[] = { xtok, NULL };
	struct ax_jwt_opts o;
	long long before;
	char err[256], *jwt;
	size_t keylen;
	cJSON *r;
	long st;
	int port;
	(void)state;

	snprintf(keydir, sizeof(keydir), "/tmp/alexus-itest-XXXXXX");
	assert_non_null(mkdtemp(keydir));
	snprintf(priv, sizeof(priv), "%s/priv.pem", keydir);
	snprintf(pub, sizeof(pub), "%s/pub.pem", keydir);
	snprintf(cmd, sizeof(cmd),
		 "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s 2>/dev/null"
		 " && openssl pkey -in %s -pubout -out %s 2>/dev/null", priv, priv, pub);
	if (system(cmd) != 0)
		skip();   /* no openssl command */
	snprintf(env_key, sizeof(env_key), "ALEXUS_JWT_KEY_FILE=%s", pub);
	rc = h_redis();
	h_tenant_new("authrs", NULL, tenant);
	port = ingest_up(env);

	/* An RS256 JWT signed with the private key. */
	memset(&o, 0, sizeof(o));
	o.alg = "RS256";
	o.key = (const unsigned char *)h_read_file(priv, &keylen);
	o.key_len = keylen;
	o.issuer = getenv("ALEXUS_JWT_ISSUER") ? getenv("ALEXUS_JWT_ISSUER") : "alexus";
	o.audience = getenv("ALEXUS_JWT_AUDIENCE") ? getenv("ALEXUS_JWT_AUDIENCE") : "alexus";
	jwt = ax_jwt_mint(&o, tenant, 600, err, sizeof(err));
	free((void *)o.key);
	if (jwt == NULL)
		fail_msg("mint: %s", err);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", jwt);
	free(jwt);
	assert_int_equal(post(port, "/v1/webhooks/alertmanager", FIX "alertmanager.json", hdr, &r),
			 202);
	assert_int_equal(check_entries(r, tenant), 2);
	cJSON_Delete(r);

	/* The stack's HS256 token, valid anywhere else: refused here. */
	jwt = h_token(tenant);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", jwt);
	free(jwt);
	before = xlen();
	st = post(port, "/v1/webhooks/alertmanager", FIX "alertmanager.resolved.json", hdr, &r);
	assert_non_null(strstr(json_str(r, "message"), "algorithm not allowed"));
	expect_refused(st, r, 401, "unauthorized", before);

	/* Webhook tokens do not depend on the JWT algorithm. */
	issue(tenant, "rs", token);
	snprintf(xtok, sizeof(xtok), "X-Alexus-Token: %s", token);
	assert_int_equal(post(port, "/v1/webhooks/alertmanager", FIX "alertmanager.resolved.json",
			      htok, &r), 202);
	assert_int_equal(check_entries(r, tenant), 2);
	cJSON_Delete(r);
	ingest_down();

	/* alexusctl cannot mint RS256 (it has only the public key). */
	setenv("ALEXUS_JWT_ALG", "RS256", 1);
	setenv("ALEXUS_JWT_KEY_FILE", pub, 1);
	assert_int_equal(h_ctl(&out, "token", "mint", "--tenant", tenant, NULL), 1);
	assert_non_null(strstr(out, "RS256"));
	free(out);
	unsetenv("ALEXUS_JWT_ALG");
	unsetenv("ALEXUS_JWT_KEY_FILE");
	/* ... and an ingest whose key file holds no public key does not start. */
	{
		const char *bad[] = { "ALEXUS_JWT_ALG=RS256", NULL, NULL };
		char env_bad[160];
		struct h_proc p;
		const char *argv[] = { "alexus-ingest", NULL };
		char path[512];

		snprintf(env_bad, sizeof(env_bad), "ALEXUS_JWT_KEY_FILE=%s", priv);
		bad[1] = env_bad;
		snprintf(path, sizeof(path), "%s/alexus-ingest", h_env("ALEXUS_BIN_DIR"));
		h_spawn_argv(&p, path, argv, bad);
		assert_int_equal(h_wait_exit(&p, WAIT_MS), 0);
		assert_true(WIFEXITED(p.status) && WEXITSTATUS(p.status) != 0);
		out = h_read_file(p.log, NULL);
		assert_non_null(strstr(out, "public key"));
		free(out);
	}
	redisFree(rc);
	rc = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_token_in_three_places, teardown),
		cmocka_unit_test_teardown(test_refused_tokens, teardown),
		cmocka_unit_test_teardown(test_source_secret, teardown),
		cmocka_unit_test_teardown(test_rs256, teardown),
	};

	ax_hash_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
