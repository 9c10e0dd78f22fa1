/* test_auth.c - ingest's authentication module (ingest/auth.c) against a
 * private redis-server.
 *
 * Credentials: every place a token may travel, and every combination that
 * must be refused (two different credentials, a JWT in the URL, a
 * malformed token).  Lookups run on a real ax_rconn on an event loop, as
 * in the server: a token's tenant comes from alexus:whtoken:<sha256>, is
 * cached, unknown tokens are cached for a shorter time, the cache can be
 * off and never holds more than INGEST_AUTH_CACHE_MAX entries (least
 * recently used go), Redis down is AX_EIO, and an auth freed with a lookup
 * in flight still calls back.  Secrets: sealed with the tenant's key
 * exactly as alexusctl stores them, looked up by source, and checked
 * against the PagerDuty fixture and its headers.json signature; another
 * tenant's box or a server without the master key cannot open them.
 * Skipped when redis-server is not installed. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <sodium.h>

#include "alexus/config.h"
#include "alexus/crypto.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/jwt.h"
#include "alexus/keys.h"
#include "alexus/rconn.h"
#include "../../ingest/auth.h"

#define FIX "tests/fixtures/webhooks/"
#define MASTER "8f0e1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100"

static pid_t redis_pid = -1;
static int redis_port;
static struct event_base *base;
static struct ax_rconn *conn;

static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static redisContext *redis_sync(void)
{
	struct timeval tv = { 1, 0 };

	return redisConnectWithTimeout("127.0.0.1", redis_port, tv);
}

static void redis_cmd(const char *fmt, ...)
{
	redisContext *c = redis_sync();
	redisReply *r;
	va_list ap;

	assert_non_null(c);
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	if (r->type == REDIS_REPLY_ERROR)
		fail_msg("%s: %s", fmt, r->str);
	freeReplyObject(r);
	redisFree(c);
}

static int redis_ping(void)
{
	redisContext *c = redis_sync();
	redisReply *r = NULL;
	int ok;

	if (c == NULL || c->err) {
		if (c != NULL)
			redisFree(c);
		return 0;
	}
	r = redisCommand(c, "PING");
	ok = r != NULL && r->type == REDIS_REPLY_STATUS;
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return ok;
}

/* Run the loop until *flag (or 5 s: a hang fails the test). */
static void run_until(const int *flag)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!*flag) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 5)
			fail_msg("timed out waiting for redis");
		usleep(1000);
	}
}

static int ready_flag(void)
{
	return ax_rconn_ready(conn);
}

static int setup_group(void **state)
{
	char port[16];
	struct ax_rconn_opts o = { 0 };
	int i;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (ax_hash_init() != 0)
		return -1;
	redis_port = free_port();
	snprintf(port, sizeof(port), "%d", redis_port);
	redis_pid = fork();
	if (redis_pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 1);
		dup2(devnull, 2);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "no", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && !redis_ping(); i++) {
		if (waitpid(redis_pid, NULL, WNOHANG) == redis_pid) {
			redis_pid = -1;
			return 0;      /* no redis-server: tests skip */
		}
		usleep(10000);
	}
	base = event_base_new();
	o.host = "127.0.0.1";
	o.port = redis_port;
	o.command_timeout_ms = 2000;
	conn = ax_rconn_new(base, &o);
	for (i = 0; i < 5000 && !ready_flag(); i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	return ready_flag() ? 0 : -1;
}

static int teardown_group(void **state)
{
	(void)state;
	ax_rconn_free(conn);
	if (base != NULL)
		event_base_free(base);
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	if (redis_pid < 0)
		skip();
	redis_cmd("FLUSHALL");
	return 0;
}

/* A configuration as ax_config_load leaves it (the fields auth reads). */
static struct ax_config cfg_of(int cache_s, const char *master)
{
	struct ax_config c;

	memset(&c, 0, sizeof(c));
	c.jwt_alg = (char *)"HS256";
	c.jwt_secret = (char *)"test-auth-secret-0123456789abcdef";
	c.jwt_key_file = (char *)"";
	c.jwt_issuer = (char *)"alexus";
	c.jwt_audience = (char *)"alexus";
	c.master_key = (char *)master;
	c.token_cache_s = cache_s;
	c.signature_window_s = 300;
	return c;
}

/* ------------------------------------------------------- credentials */

static void expect_cred(const char *authz, const char *xtok, const char *query, ax_err want_rc,
			enum ingest_cred_kind want_kind, const char *want_where)
{
	struct ingest_cred c;
	char err[256] = "";
	ax_err rc = ingest_auth_credentials(authz, xtok, query, &c, err, sizeof(err));

	if (rc != want_rc)
		fail_msg("credentials (%s | %s | %s): rc %d, want %d (%s)", authz ? authz : "-",
			 xtok ? xtok : "-", query ? query : "-", rc, want_rc, err);
	if (rc == AX_OK) {
		assert_int_equal(c.kind, want_kind);
		if (want_where != NULL)
			assert_string_equal(c.where, want_where);
		else
			assert_null(c.value);
	} else {
		assert_string_not_equal(err, "");
		assert_int_equal(c.kind, INGEST_CRED_NONE);
		assert_null(c.value);
	}
	ingest_cred_release(&c);
}

static void test_credentials(void **state)
{
	char tok[AX_WHTOKEN_LEN + 1], other[AX_WHTOKEN_LEN + 1], b[128], q[256];
	struct ingest_cred c;
	char err[128];

	(void)state;
	ax_whtoken_new(tok);
	ax_whtoken_new(other);
	expect_cred(NULL, NULL, NULL, AX_OK, INGEST_CRED_NONE, NULL);
	expect_cred("Basic dXNlcjpwYXNz", "", "a=1", AX_OK, INGEST_CRED_NONE, NULL);
	expect_cred("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", NULL, NULL, AX_OK, INGEST_CRED_JWT,
		    "Authorization");
	snprintf(b, sizeof(b), "bearer \t%s  ", tok);
	expect_cred(b, NULL, NULL, AX_OK, INGEST_CRED_TOKEN, "Authorization");
	expect_cred(NULL, tok, NULL, AX_OK, INGEST_CRED_TOKEN, "X-Alexus-Token");
	snprintf(q, sizeof(q), "a=1&token=%s&b=2", tok);
	expect_cred(NULL, NULL, q, AX_OK, INGEST_CRED_TOKEN, "query");
	/* The same token twice is one credential. */
	snprintf(b, sizeof(b), "Bearer %s", tok);
	expect_cred(b, tok, q, AX_OK, INGEST_CRED_TOKEN, "Authorization");
	/* The value is the token, trimmed. */
	assert_int_equal(ingest_auth_credentials(b, NULL, NULL, &c, err, sizeof(err)), AX_OK);
	assert_string_equal(c.value, tok);
	ingest_cred_release(&c);

	/* Refused: two different ones, wherever they are. */
	expect_cred(b, other, NULL, AX_EAUTH, 0, NULL);
	snprintf(q, sizeof(q), "token=%s", other);
	expect_cred(b, NULL, q, AX_EAUTH, 0, NULL);
	expect_cred("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", tok, NULL, AX_EAUTH, 0, NULL);
	snprintf(q, sizeof(q), "token=%s&token=%s", tok, tok);
	expect_cred(NULL, NULL, q, AX_EAUTH, 0, NULL);
	/* A JWT where only a webhook token may be. */
	expect_cred(NULL, "eyJhbGciOiJIUzI1NiJ9.e30.x", NULL, AX_EAUTH, 0, NULL);
	expect_cred(NULL, NULL, "token=eyJhbGciOiJIUzI1NiJ9.e30.x", AX_EAUTH, 0, NULL);
	/* Malformed tokens. */
	expect_cred("Bearer axw_short", NULL, NULL, AX_EAUTH, 0, NULL);
	snprintf(b, sizeof(b), "%.46s!", tok);
	expect_cred(NULL, b, NULL, AX_EAUTH, 0, NULL);
}

/* ----------------------------------------------------------- lookups */

struct answer {
	int done;
	ax_err rc;
	char value[4096];
	int has_value;
};

static void on_answer(ax_err rc, const char *value, void *arg)
{
	struct answer *a = arg;

	a->done = 1;
	a->rc = rc;
	a->has_value = value != NULL;
	snprintf(a->value, sizeof(a->value), "%s", value != NULL ? value : "");
}

static void map_token(const char *tok, const char *tenant)
{
	char hex[AX_SHA256_HEX], key[AX_KEY_MAX];

	ax_sha256_hex(tok, strlen(tok), hex);
	assert_true(ax_key_whtoken(key, sizeof(key), hex) > 0);
	redis_cmd("SET %s %s", key, tenant);
}

/* Look a token up, running the loop when it goes to Redis. */
static ax_err lookup(struct ingest_auth *a, const char *tok, char tenant[AX_TENANT_MAX + 1],
		     int *went_to_redis)
{
	struct answer ans = { 0 };
	char err[128];
	ax_err rc = ingest_auth_token(a, conn, tok, tenant, on_answer, &ans, err, sizeof(err));

	*went_to_redis = rc == AX_EAGAIN;
	if (rc != AX_EAGAIN)
		return rc;
	assert_int_equal(ans.done, 0);  /* never called from inside */
	run_until(&ans.done);
	if (ans.rc == AX_OK) {
		assert_true(strlen(ans.value) <= AX_TENANT_MAX);
		memcpy(tenant, ans.value, strlen(ans.value) + 1);
	}
	return ans.rc;
}

static void test_token_lookup_and_cache(void **state)
{
	struct ax_config cfg = cfg_of(30, "");
	char tok[AX_WHTOKEN_LEN + 1], unknown[AX_WHTOKEN_LEN + 1], bad[AX_WHTOKEN_LEN + 1];
	char tenant[AX_TENANT_MAX + 1], err[256];
	struct ingest_auth *a = ingest_auth_new(&cfg, 30, err, sizeof(err));
	int remote;

	(void)state;
	assert_non_null(a);
	ax_whtoken_new(tok);
	ax_whtoken_new(unknown);
	ax_whtoken_new(bad);
	map_token(tok, "acme");
	map_token(bad, "Not}A:Tenant");

	assert_int_equal(lookup(a, tok, tenant, &remote), AX_OK);
	assert_true(remote);
	assert_string_equal(tenant, "acme");
	/* Cached: answered on the spot, even with the key gone. */
	redis_cmd("FLUSHALL");
	assert_int_equal(lookup(a, tok, tenant, &remote), AX_OK);
	assert_false(remote);
	assert_string_equal(tenant, "acme");

	/* Unknown: refused, and the refusal is cached too. */
	assert_int_equal(lookup(a, unknown, tenant, &remote), AX_EAUTH);
	assert_true(remote);
	assert_string_equal(tenant, "");
	assert_int_equal(lookup(a, unknown, tenant, &remote), AX_EAUTH);
	assert_false(remote);
	/* ... but for a tenth of the TTL (here 3 s), not 30. */
	assert_int_equal(ingest_auth_cache_size(a), 2);

	/* A value that is not a tenant id is a protocol error, not cached. */
	map_token(bad, "Not}A:Tenant");
	assert_int_equal(lookup(a, bad, tenant, &remote), AX_EPROTO);
	assert_int_equal(lookup(a, bad, tenant, &remote), AX_EPROTO);
	assert_true(remote);
	/* Malformed: refused without asking. */
	assert_int_equal(lookup(a, "axw_nope", tenant, &remote), AX_EAUTH);
	assert_false(remote);
	assert_int_equal(ingest_auth_cache_size(a), 2);
	ingest_auth_free(a);
}

static void test_negative_ttl_and_no_cache(void **state)
{
	struct ax_config cfg = cfg_of(10, "");
	struct ax_config off = cfg_of(0, "");
	char tok[AX_WHTOKEN_LEN + 1], tenant[AX_TENANT_MAX + 1], err[256];
	struct ingest_auth *a = ingest_auth_new(&cfg, 30, err, sizeof(err));
	struct ingest_auth *b = ingest_auth_new(&off, 30, err, sizeof(err));
	int remote;

	(void)state;
	ax_whtoken_new(tok);
	/* Not issued yet: refused, cached for 1 s (10 / 10). */
	assert_int_equal(lookup(a, tok, tenant, &remote), AX_EAUTH);
	map_token(tok, "acme");
	assert_int_equal(lookup(a, tok, tenant, &remote), AX_EAUTH);
	assert_false(remote);
	usleep(1100 * 1000);
	assert_int_equal(lookup(a, tok, tenant, &remote), AX_OK);
	assert_true(remote);
	assert_string_equal(tenant, "acme");

	/* ALEXUS_TOKEN_CACHE=0: every lookup asks Redis, nothing is kept. */
	assert_int_equal(lookup(b, tok, tenant, &remote), AX_OK);
	assert_true(remote);
	assert_int_equal(lookup(b, tok, tenant, &remote), AX_OK);
	assert_true(remote);
	assert_int_equal(ingest_auth_cache_size(b), 0);
	redis_cmd("FLUSHALL");
	assert_int_equal(lookup(b, tok, tenant, &remote), AX_EAUTH);
	ingest_auth_free(a);
	ingest_auth_free(b);
}

/* Pipelined lookups of distinct unknown tokens fill the cache. */
static void fill(struct ingest_auth *a, int n)
{
	struct answer *ans = calloc((size_t)n, sizeof(*ans));
	char tok[AX_WHTOKEN_LEN + 1], tenant[AX_TENANT_MAX + 1], err[64];
	int i;

	for (i = 0; i < n; i++) {
		ax_whtoken_new(tok);
		assert_int_equal(ingest_auth_token(a, conn, tok, tenant, on_answer, &ans[i], err,
						   sizeof(err)),
				 AX_EAGAIN);
	}
	run_until(&ans[n - 1].done);
	for (i = 0; i < n; i++)
		assert_int_equal(ans[i].rc, AX_EAUTH);
	free(ans);
}

static void test_cache_is_bounded(void **state)
{
	struct ax_config cfg = cfg_of(30, "");
	char old[AX_WHTOKEN_LEN + 1], hot[AX_WHTOKEN_LEN + 1], tenant[AX_TENANT_MAX + 1];
	char err[256];
	struct ingest_auth *a = ingest_auth_new(&cfg, 30, err, sizeof(err));
	int remote;

	(void)state;
	ax_whtoken_new(old);
	ax_whtoken_new(hot);
	map_token(old, "acme");
	map_token(hot, "globex");
	assert_int_equal(lookup(a, old, tenant, &remote), AX_OK);
	assert_int_equal(lookup(a, hot, tenant, &remote), AX_OK);
	fill(a, INGEST_AUTH_CACHE_MAX / 2);
	/* Used again: now the most recent. */
	assert_int_equal(lookup(a, hot, tenant, &remote), AX_OK);
	assert_false(remote);
	fill(a, INGEST_AUTH_CACHE_MAX / 2 + 10);
	assert_int_equal(ingest_auth_cache_size(a), INGEST_AUTH_CACHE_MAX);
	/* The least recently used went; the one used in between stayed. */
	assert_int_equal(lookup(a, hot, tenant, &remote), AX_OK);
	assert_false(remote);
	assert_string_equal(tenant, "globex");
	assert_int_equal(lookup(a, old, tenant, &remote), AX_OK);
	assert_true(remote);
	ingest_auth_free(a);
}

static void test_redis_down_and_free_in_flight(void **state)
{
	struct ax_config cfg = cfg_of(30, "");
	struct ax_rconn_opts o = { 0 };
	struct ax_rconn *dead;
	char tok[AX_WHTOKEN_LEN + 1], tenant[AX_TENANT_MAX + 1], err[256];
	struct ingest_auth *a = ingest_auth_new(&cfg, 30, err, sizeof(err));
	struct answer ans = { 0 };
	char *sealed = (char *)"x";

	(void)state;
	ax_whtoken_new(tok);
	/* A connection to a port nobody listens on: not ready, AX_EIO, and
	 * the callback is not called. */
	o.host = "127.0.0.1";
	o.port = free_port();
	dead = ax_rconn_new(base, &o);
	assert_int_equal(ingest_auth_token(a, dead, tok, tenant, on_answer, &ans, err, sizeof(err)),
			 AX_EIO);
	assert_int_equal(ingest_auth_secrets(a, dead, "acme", "github", &sealed, on_answer, &ans),
			 AX_EIO);
	assert_null(sealed);
	assert_int_equal(ans.done, 0);
	ax_rconn_free(dead);

	/* Freed with a lookup out: the callback still comes, once. */
	assert_int_equal(ingest_auth_token(a, conn, tok, tenant, on_answer, &ans, err, sizeof(err)),
			 AX_EAGAIN);
	ingest_auth_free(a);
	run_until(&ans.done);
	assert_int_equal(ans.rc, AX_EAUTH);
}

/* ----------------------------------------------------------- secrets */

struct hdrs {
	const cJSON *h;
};

static const char *json_header(const void *ctx, const char *name)
{
	const struct hdrs *x = ctx;
	const cJSON *e;

	cJSON_ArrayForEach(e, x->h) {
		if (strcasecmp(e->string, name) == 0)
			return e->valuestring;
	}
	return NULL;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
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

/* A sealed box as alexusctl stores it (base64 text). */
static char *seal(const char *tenant, const char *secret)
{
	unsigned char m[AX_MASTER_KEY_BYTES], box[512];
	size_t boxlen;
	char err[128];

	assert_int_equal(ax_crypto_master_parse(MASTER, m, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_crypto_seal(m, tenant, (const unsigned char *)secret, strlen(secret),
					box, &boxlen),
			 AX_OK);
	return ax_crypto_box_b64(box, boxlen);
}

static ax_err secrets_of(struct ingest_auth *a, const char *tenant, const char *source,
			 char **sealed, int *remote)
{
	struct answer ans = { 0 };
	ax_err rc = ingest_auth_secrets(a, conn, tenant, source, sealed, on_answer, &ans);

	*remote = rc == AX_EAGAIN;
	if (rc != AX_EAGAIN)
		return rc;
	run_until(&ans.done);
	*sealed = ans.has_value ? strdup(ans.value) : NULL;
	return ans.rc;
}

static void test_secrets(void **state)
{
	struct ax_config cfg = cfg_of(30, MASTER), nomaster = cfg_of(30, "");
	char err[256], *text, *body, *good, *wrongsecret, *other_tenant, *sealed, two[2048];
	struct ingest_auth *a = ingest_auth_new(&cfg, 30, err, sizeof(err));
	struct ingest_auth *b = ingest_auth_new(&nomaster, 30, err, sizeof(err));
	cJSON *doc;
	struct hdrs h;
	size_t len, blen;
	const char *secret;
	int remote;

	(void)state;
	assert_non_null(a);
	text = slurp(FIX "headers.json", &len);
	doc = ax_json_parse(text, len, 16);
	free(text);
	secret = ax_json_str(cJSON_GetObjectItem(doc, "_about"), "test_secret");
	h.h = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "pagerduty-v3.json"), "headers");
	body = slurp(FIX "pagerduty-v3.json", &blen);
	good = seal("acme", secret);
	wrongsecret = seal("acme", "whsec_another_one");
	other_tenant = seal("globex", secret);

	/* None set: NULL, cached. */
	assert_int_equal(secrets_of(a, "acme", "pagerduty", &sealed, &remote), AX_OK);
	assert_true(remote);
	assert_null(sealed);
	assert_int_equal(secrets_of(a, "acme", "pagerduty", &sealed, &remote), AX_OK);
	assert_false(remote);
	assert_null(sealed);

	redis_cmd("HSET t:{acme}:secrets pagerduty %s", good);
	assert_int_equal(secrets_of(a, "acme", "sentry", &sealed, &remote), AX_OK);
	assert_null(sealed);
	assert_int_equal(secrets_of(b, "acme", "pagerduty", &sealed, &remote), AX_OK);
	assert_true(remote);
	assert_string_equal(sealed, good);
	assert_null(strstr(sealed, secret));

	/* The fixture, byte for byte, with its signature. */
	assert_int_equal(ingest_auth_verify(a, "acme", "pagerduty", sealed,
					    (const unsigned char *)body, blen, json_header, &h,
					    (long)time(NULL), err, sizeof(err)),
			 AX_OK);
	body[10] ^= 1;
	assert_int_equal(ingest_auth_verify(a, "acme", "pagerduty", sealed,
					    (const unsigned char *)body, blen, json_header, &h,
					    (long)time(NULL), err, sizeof(err)),
			 AX_EAUTH);
	assert_non_null(strstr(err, "X-PagerDuty-Signature"));
	body[10] ^= 1;
	/* Rotation: the right secret second in the list. */
	snprintf(two, sizeof(two), "%s,%s", wrongsecret, good);
	assert_int_equal(ingest_auth_verify(a, "acme", "pagerduty", two,
					    (const unsigned char *)body, blen, json_header, &h,
					    (long)time(NULL), err, sizeof(err)),
			 AX_OK);
	assert_int_equal(ingest_auth_verify(a, "acme", "pagerduty", wrongsecret,
					    (const unsigned char *)body, blen, json_header, &h,
					    (long)time(NULL), err, sizeof(err)),
			 AX_EAUTH);
	/* Sealed for another tenant, damaged, or no master key: the
	 * server's problem (503), not a bad signature. */
	assert_int_equal(ingest_auth_verify(a, "acme", "pagerduty", other_tenant,
					    (const unsigned char *)body, blen, json_header, &h,
					    (long)time(NULL), err, sizeof(err)),
			 AX_EINVAL);
	assert_int_equal(ingest_auth_verify(a, "acme", "pagerduty", "!!!",
					    (const unsigned char *)body, blen, json_header, &h,
					    (long)time(NULL), err, sizeof(err)),
			 AX_EINVAL);
	assert_int_equal(ingest_auth_verify(b, "acme", "pagerduty", sealed,
					    (const unsigned char *)body, blen, json_header, &h,
					    (long)time(NULL), err, sizeof(err)),
			 AX_EINVAL);
	assert_non_null(strstr(err, "ALEXUS_MASTER_KEY"));

	free(sealed);
	free(good);
	free(wrongsecret);
	free(other_tenant);
	free(body);
	cJSON_Delete(doc);
	ingest_auth_free(a);
	ingest_auth_free(b);
}

static char *mint(const struct ax_config *c, const char *tenant)
{
	struct ax_jwt_opts o;
	char err[256];
	char *tok;

	assert_int_equal(ax_jwt_opts_from_config(&o, c, 0, err, sizeof(err)), AX_OK);
	tok = ax_jwt_mint(&o, tenant, 600, err, sizeof(err));
	assert_non_null(tok);
	ax_jwt_opts_release(&o);
	return tok;
}

/* A verified JWT is remembered by its exact text: the second check is
 * answered from the cache with the same tenant, an altered copy of a
 * cached token is still verified (and refused), two tenants' tokens never
 * answer for each other, and with the cache off nothing is kept. */
static void test_jwt_cache(void **state)
{
	struct ax_config c = cfg_of(30, NULL), off = cfg_of(0, NULL);
	struct ingest_auth *a, *b;
	char tenant[AX_TENANT_MAX + 1], err[256];
	char *acme, *beta;
	size_t n;

	(void)state;
	a = ingest_auth_new(&c, 0, err, sizeof(err));
	assert_non_null(a);
	acme = mint(&c, "acme");
	beta = mint(&c, "beta");
	assert_int_equal(ingest_auth_jwt(a, acme, tenant, err, sizeof(err)), AX_OK);
	assert_string_equal(tenant, "acme");
	assert_int_equal(ingest_auth_cache_size(a), 1);
	assert_int_equal(ingest_auth_jwt(a, acme, tenant, err, sizeof(err)), AX_OK);
	assert_string_equal(tenant, "acme");
	assert_int_equal(ingest_auth_cache_size(a), 1);

	n = strlen(acme);
	acme[n - 1] = acme[n - 1] == 'A' ? 'B' : 'A';
	assert_int_equal(ingest_auth_jwt(a, acme, tenant, err, sizeof(err)), AX_EAUTH);
	assert_string_equal(err, "bad signature");
	assert_string_equal(tenant, "");
	assert_int_equal(ingest_auth_cache_size(a), 1);

	assert_int_equal(ingest_auth_jwt(a, beta, tenant, err, sizeof(err)), AX_OK);
	assert_string_equal(tenant, "beta");
	assert_int_equal(ingest_auth_cache_size(a), 2);
	ingest_auth_free(a);

	b = ingest_auth_new(&off, 0, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(ingest_auth_jwt(b, beta, tenant, err, sizeof(err)), AX_OK);
	assert_string_equal(tenant, "beta");
	assert_int_equal(ingest_auth_cache_size(b), 0);
	ingest_auth_free(b);
	free(acme);
	free(beta);
}

static void test_bad_config(void **state)
{
	struct ax_config c = cfg_of(30, "abcd");
	char err[256];

	(void)state;
	assert_null(ingest_auth_new(&c, 30, err, sizeof(err)));
	assert_non_null(strstr(err, "ALEXUS_MASTER_KEY"));
	c = cfg_of(30, "");
	c.jwt_secret = (char *)"";
	assert_null(ingest_auth_new(&c, 30, err, sizeof(err)));
	assert_non_null(strstr(err, "ALEXUS_JWT_SECRET"));
	/* NULL strings (a hand-made config) are unset, not a crash. */
	c = cfg_of(30, NULL);
	c.jwt_key_file = NULL;
	c.jwt_issuer = NULL;
	{
		struct ingest_auth *a = ingest_auth_new(&c, 30, err, sizeof(err));

		assert_non_null(a);
		ingest_auth_free(a);
	}
	ingest_auth_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_jwt_cache),
		cmocka_unit_test_setup(test_token_lookup_and_cache, setup),
		cmocka_unit_test_setup(test_negative_ttl_and_no_cache, setup),
		cmocka_unit_test_setup(test_cache_is_bounded, setup),
		cmocka_unit_test_setup(test_redis_down_and_free_in_flight, setup),
		cmocka_unit_test_setup(test_secrets, setup),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
