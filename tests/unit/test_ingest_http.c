/* test_ingest_http.c - the ingest server (ingest/server.c, appender.c) over
 * real HTTP, in process, against a private redis-server.
 *
 * The server runs on its own event base; the test is its client on the
 * same base (libevent's evhttp client, or a raw bufferevent when the bytes
 * on the wire are the point), so each exchange runs the loop until the
 * answer arrives.  Redis is a redis-server child on a free port (the
 * tests are skipped when redis-server is not installed), killed and
 * restarted to check 503/recovery, and paused with CLIENT PAUSE to hold
 * appends in flight (timeouts, the in-flight cap, draining).
 *
 * What is checked is what a sender sees: status, headers (Retry-After,
 * Content-Type), that every refusal body is our JSON {"error","message"}
 * -- including the ones libevent produces by itself (413, 400) -- and
 * what lands on alexus:signals. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/hiredis.h>
#include <jwt.h>
#include <time.h>

#include "alexus/config.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/jwt.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/signal.h"
#include "../../ingest/metrics.h"
#include "../../ingest/server.h"

#define FIX "tests/fixtures/webhooks/"
#define SECRET "test-ingest-secret-0123456789abcdef"
#define MAX_BODY 4096
#define TIMEOUT_MS 800

/* ------------------------------------------------------------ redis */

static pid_t redis_pid = -1;
static int redis_port;
static int have_redis = 1;

static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static redisContext *redis_sync(void)
{
	struct timeval tv = { 1, 0 };

	return redisConnectWithTimeout("127.0.0.1", redis_port, tv);
}

static int redis_up(void)
{
	redisContext *c = redis_sync();
	redisReply *r;
	int ok = 0;

	if (c != NULL && c->err == 0) {
		r = redisCommand(c, "PING");
		ok = r != NULL && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
	}
	if (c != NULL)
		redisFree(c);
	return ok;
}

static void redis_start(void)
{
	char port[16];
	int i, st;

	snprintf(port, sizeof(port), "%d", redis_port);
	redis_pid = fork();
	assert_true(redis_pid >= 0);
	if (redis_pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 1);
		dup2(devnull, 2);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "no", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (redis_up())
			return;
		if (waitpid(redis_pid, &st, WNOHANG) == redis_pid) {
			redis_pid = -1;
			have_redis = 0;
			return;
		}
		usleep(10000);
	}
	fail_msg("redis-server did not come up on port %d", redis_port);
}

static void redis_stop(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
		redis_pid = -1;
	}
}

static long long redis_int(const char *fmt, ...)
{
	redisContext *c = redis_sync();
	redisReply *r;
	long long v = -1;
	va_list ap;

	assert_non_null(c);
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	if (r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	freeReplyObject(r);
	redisFree(c);
	return v;
}

static void redis_do(const char *cmd)
{
	redisContext *c = redis_sync();
	redisReply *r;

	assert_non_null(c);
	r = redisCommand(c, cmd);
	assert_non_null(r);
	if (r->type == REDIS_REPLY_ERROR)
		fail_msg("%s: %s", cmd, r->str);
	freeReplyObject(r);
	redisFree(c);
}

/* ------------------------------------------------------ the fixture */

struct fx {
	struct event_base *base;
	struct ax_config cfg;
	struct ingest_server *srv;
	int port;
	char *token;
	int drained, drained_clean;
	int rate_limit, rate_burst;   /* for the next server_up */
};

static struct fx F;

static char *mint(const char *tenant, const char *secret, long ttl)
{
	struct ax_jwt_opts o = { 0 };
	char err[128], *t;

	o.alg = "HS256";
	o.key = (const unsigned char *)secret;
	o.key_len = strlen(secret);
	o.issuer = "alexus";
	o.audience = "alexus";
	t = ax_jwt_mint(&o, tenant, ttl, err, sizeof(err));
	if (t == NULL)
		fail_msg("mint: %s", err);
	return t;
}

/* ax_jwt_mint refuses a ttl <= 0, so an expired token is made here. */
static char *mint_expired(const char *tenant)
{
	long now = (long)time(NULL);
	jwt_t *j = NULL;
	char *t;

	assert_int_equal(jwt_new(&j), 0);
	assert_int_equal(jwt_add_grant_int(j, "iat", now - 7200), 0);
	assert_int_equal(jwt_add_grant_int(j, "exp", now - 3600), 0);
	assert_int_equal(jwt_add_grant(j, "tenant_id", tenant), 0);
	assert_int_equal(jwt_add_grant(j, "iss", "alexus"), 0);
	assert_int_equal(jwt_add_grant(j, "aud", "alexus"), 0);
	assert_int_equal(jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)SECRET,
				     (int)strlen(SECRET)), 0);
	t = jwt_encode_str(j);
	jwt_free(j);
	assert_non_null(t);
	return t;
}

static void server_up(int max_inflight)
{
	char url[64], err[256];

	memset(&F.cfg, 0, sizeof(F.cfg));
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", redis_port);
	F.cfg.redis_url = strdup(url);
	F.cfg.ingest_addr = strdup("127.0.0.1");
	F.cfg.ingest_port = 0;
	F.cfg.max_body = MAX_BODY;
	F.cfg.max_inflight = max_inflight;
	F.cfg.dedup_ttl = 600;
	F.cfg.rate_limit = F.rate_limit;
	F.cfg.rate_burst = F.rate_burst > 0 ? F.rate_burst : 1;
	F.cfg.redis_timeout_ms = TIMEOUT_MS;
	F.cfg.http_timeout_s = 5;
	F.cfg.jwt_secret = strdup(SECRET);
	F.cfg.jwt_alg = strdup("HS256");
	F.cfg.jwt_issuer = strdup("alexus");
	F.cfg.jwt_audience = strdup("alexus");
	F.base = event_base_new();
	F.srv = ingest_server_new(F.base, &F.cfg, NULL, err, sizeof(err));
	if (F.srv == NULL)
		fail_msg("server: %s", err);
	F.port = ingest_server_port(F.srv);
	F.token = mint("acme", SECRET, 600);
	F.drained = 0;
}

static void server_down(void)
{
	ingest_server_free(F.srv);
	event_base_free(F.base);
	free(F.cfg.redis_url);
	free(F.cfg.ingest_addr);
	free(F.cfg.jwt_secret);
	free(F.cfg.jwt_alg);
	free(F.cfg.jwt_issuer);
	free(F.cfg.jwt_audience);
	free(F.token);
	memset(&F, 0, sizeof(F));
}

/* Run the loop until *flag is set (or 10 s pass: a hang fails the test). */
static void on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
	event_base_loopbreak(F.base);
}

static void run_until(const int *flag)
{
	struct timeval tv = { 10, 0 };
	int expired = 0;
	struct event *guard = evtimer_new(F.base, on_guard, &expired);

	evtimer_add(guard, &tv);
	while (!*flag && !expired)
		event_base_loop(F.base, EVLOOP_ONCE);
	event_free(guard);
	if (!*flag)
		fail_msg("timed out waiting for the server");
}

static void run_for_ms(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	int expired = 0;
	struct event *guard = evtimer_new(F.base, on_guard, &expired);

	evtimer_add(guard, &tv);
	while (!expired)
		event_base_loop(F.base, EVLOOP_ONCE);
	event_free(guard);
}

/* ------------------------------------------------------- the client */

struct resp {
	int done;
	int code;
	char *body;
	char retry_after[16];
	char ctype[64];
	char connection[16];
	struct evhttp_connection *evcon;
	cJSON *json;
};

static void copy_hdr(struct evkeyvalq *h, const char *name, char *dst, size_t n)
{
	const char *v = evhttp_find_header(h, name);

	snprintf(dst, n, "%s", v != NULL ? v : "");
}

static void on_resp(struct evhttp_request *req, void *arg)
{
	struct resp *r = arg;
	struct evbuffer *b;
	size_t n;

	r->done = 1;
	if (req == NULL || evhttp_request_get_response_code(req) == 0)
		return;
	r->code = evhttp_request_get_response_code(req);
	copy_hdr(evhttp_request_get_input_headers(req), "Retry-After", r->retry_after,
		 sizeof(r->retry_after));
	copy_hdr(evhttp_request_get_input_headers(req), "Content-Type", r->ctype, sizeof(r->ctype));
	copy_hdr(evhttp_request_get_input_headers(req), "Connection", r->connection,
		 sizeof(r->connection));
	b = evhttp_request_get_input_buffer(req);
	n = evbuffer_get_length(b);
	r->body = calloc(1, n + 1);
	evbuffer_remove(b, r->body, n);
	r->json = ax_json_parse(r->body, n, 64);
}

/* Start a request; headers are "Name: value" strings, NULL-terminated. */
static void req_start(struct resp *r, enum evhttp_cmd_type m, const char *path,
		      const char *const *headers, const char *body, size_t len)
{
	struct evhttp_request *req;
	struct evkeyvalq *h;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->evcon = evhttp_connection_base_new(F.base, NULL, "127.0.0.1", (ev_uint16_t)F.port);
	assert_non_null(r->evcon);
	req = evhttp_request_new(on_resp, r);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", "127.0.0.1");
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		char name[128];
		const char *colon = strchr(headers[i], ':');

		assert_non_null(colon);
		snprintf(name, sizeof(name), "%.*s", (int)(colon - headers[i]), headers[i]);
		evhttp_add_header(h, name, colon + 2);
	}
	if (body != NULL)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	assert_int_equal(evhttp_make_request(r->evcon, req, m, path), 0);
}

static void req_wait(struct resp *r)
{
	run_until(&r->done);
}

static void resp_free(struct resp *r)
{
	if (r->evcon != NULL)
		evhttp_connection_free(r->evcon);
	free(r->body);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

static int http(struct resp *r, enum evhttp_cmd_type m, const char *path,
		const char *const *headers, const char *body, size_t len)
{
	req_start(r, m, path, headers, body, len);
	req_wait(r);
	return r->code;
}

static char *read_fix(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), FIX "%s", name);
	f = fopen(path, "rb");
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

/* POST a fixture with the tenant's token (and extra headers). */
static int post_fix(struct resp *r, const char *path, const char *fixture, const char *extra)
{
	char auth[1024];
	const char *h[4] = { auth, "Content-Type: application/json", extra, NULL };
	size_t len;
	char *body = read_fix(fixture, &len);
	int code;

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", F.token);
	code = http(r, EVHTTP_REQ_POST, path, h, body, len);
	free(body);
	return code;
}

/* The body is our refusal: JSON with error (== code when given) and a
 * non-empty message. */
static void assert_refusal(const struct resp *r, int status, const char *error)
{
	const cJSON *e, *m;

	if (r->code != status)
		fail_msg("status %d, want %d; body %s", r->code, status, r->body ? r->body : "");
	assert_string_equal(r->ctype, "application/json");
	if (r->json == NULL)
		fail_msg("refusal body is not JSON: %s", r->body ? r->body : "(none)");
	e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	m = cJSON_GetObjectItemCaseSensitive(r->json, "message");
	assert_true(cJSON_IsString(e));
	assert_true(cJSON_IsString(m) && m->valuestring[0] != '\0');
	if (error != NULL)
		assert_string_equal(e->valuestring, error);
	if (status == 503)
		assert_string_equal(r->retry_after, "1");
}

static long long json_int(const cJSON *j, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);

	assert_true(cJSON_IsNumber(v));
	return (long long)v->valuedouble;
}

/* ------------------------------------------------------- raw socket */

struct raw {
	struct evbuffer *got;
	int done;
};

static void raw_read(struct bufferevent *bev, void *arg)
{
	struct raw *x = arg;

	evbuffer_add_buffer(x->got, bufferevent_get_input(bev));
}

static void raw_event(struct bufferevent *bev, short what, void *arg)
{
	struct raw *x = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		evbuffer_add_buffer(x->got, bufferevent_get_input(bev));
		x->done = 1;
	}
}

/* Send bytes as they are, read until the server closes. */
static char *raw_exchange(const char *data, size_t len)
{
	struct sockaddr_in a;
	struct bufferevent *bev = bufferevent_socket_new(F.base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct raw x = { evbuffer_new(), 0 };
	size_t n;
	char *out;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)F.port);
	bufferevent_setcb(bev, raw_read, NULL, raw_event, &x);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	assert_int_equal(bufferevent_socket_connect(bev, (struct sockaddr *)&a, sizeof(a)), 0);
	bufferevent_write(bev, data, len);
	run_until(&x.done);
	bufferevent_free(bev);
	n = evbuffer_get_length(x.got);
	out = calloc(1, n + 1);
	evbuffer_remove(x.got, out, n);
	evbuffer_free(x.got);
	return out;
}

/* The JSON body of a raw HTTP response, after the blank line. */
static cJSON *raw_body(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	assert_non_null(b);
	return ax_json_parse(b + 4, strlen(b + 4), 64);
}

/* ------------------------------------------------------------ tests */

static int setup_group(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	ax_log_init("test", "error");
	if (ax_hash_init() != 0)
		return -1;
	redis_port = free_port();
	redis_start();
	return 0;
}

static int teardown_group(void **state)
{
	(void)state;
	redis_stop();
	return 0;
}

static int ready_now(void);

static int setup(void **state)
{
	int i;

	(void)state;
	if (!have_redis)
		skip();
	if (redis_pid < 0)
		redis_start();
	redis_do("FLUSHALL");
	server_up(64);
	for (i = 0; i < 500; i++) {
		if (ready_now())
			return 0;
		run_for_ms(10);
	}
	fail_msg("the server never connected to redis");
	return -1;
}

static int teardown(void **state)
{
	(void)state;
	if (F.srv != NULL)
		server_down();
	return 0;
}

static void test_health_metrics(void **state)
{
	struct resp r;

	(void)state;
	assert_int_equal(http(&r, EVHTTP_REQ_GET, "/healthz", NULL, NULL, 0), 200);
	assert_string_equal(r.body, "{\"status\":\"ok\"}\n");
	assert_string_equal(r.ctype, "application/json");
	resp_free(&r);
	assert_int_equal(http(&r, EVHTTP_REQ_GET, "/readyz", NULL, NULL, 0), 200);
	resp_free(&r);
	assert_int_equal(post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.json", NULL), 202);
	resp_free(&r);
	assert_int_equal(post_fix(&r, "/v1/webhooks", "alertmanager.json", NULL), 202);
	resp_free(&r);
	assert_int_equal(http(&r, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0), 200);
	assert_non_null(strstr(r.ctype, "text/plain"));
	assert_non_null(strstr(r.body, "alexus_ingest_requests_total{source=\"alertmanager\","
				       "code=\"202\"} 2\n"));
	assert_non_null(strstr(r.body, "alexus_ingest_signals_total{source=\"alertmanager\"} 2\n"));
	/* With 90+ sources only the ones seen are printed. */
	assert_null(strstr(r.body, "alexus_ingest_signals_total{source=\"generic\"}"));
	assert_non_null(strstr(r.body, "alexus_ingest_dedup_hits_total 2\n"));
	assert_non_null(strstr(r.body, "alexus_ingest_refusals_total{reason=\"too_large\"} 0\n"));
	assert_non_null(strstr(r.body, "alexus_ingest_inflight 0\n"));
	/* Both requests' appends are in the latency histogram. */
	assert_non_null(strstr(r.body, "alexus_ingest_append_seconds_bucket{le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(r.body, "alexus_ingest_append_seconds_count 2\n"));
	assert_non_null(strstr(r.body, "alexus_ingest_refusals_total{reason=\"rate_limited\"} 0\n"));
	resp_free(&r);
	assert_int_equal(http(&r, EVHTTP_REQ_POST, "/healthz", NULL, "x", 1), 405);
	assert_refusal(&r, 405, "method_not_allowed");
	resp_free(&r);
}

static void test_refusals(void **state)
{
	char auth[1024], *fixture, *deep;
	const char *ok[] = { auth, "Content-Type: application/json", NULL };
	const char *form[] = { auth, "Content-Type: application/x-www-form-urlencoded", NULL };
	const char *xml[] = { auth, "Content-Type: application/xml", NULL };
	const char *vnd[] = { auth, "Content-Type: application/vnd.alexus+json; charset=utf-8",
			      NULL };
	const char *none[] = { "Content-Type: application/json", NULL };
	const char *basic[] = { "Authorization: Basic dXNlcjpwYXNz", NULL };
	const char *bad[] = { "Authorization: Bearer not.a.token", NULL };
	char wrong_auth[1024], expired_auth[1024];
	const char *wrong[] = { wrong_auth, NULL };
	const char *expired[] = { expired_auth, NULL };
	char *tok, big[MAX_BODY + 100];
	struct resp r;
	size_t len, i;

	(void)state;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", F.token);
	tok = mint("acme", "some-other-secret-0123456789abcdef", 600);
	snprintf(wrong_auth, sizeof(wrong_auth), "Authorization: Bearer %s", tok);
	free(tok);
	tok = mint_expired("acme");
	snprintf(expired_auth, sizeof(expired_auth), "Authorization: Bearer %s", tok);
	free(tok);
	fixture = read_fix("alertmanager.json", &len);

	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", none, fixture, len);
	assert_refusal(&r, 401, "unauthorized");
	assert_non_null(strstr(r.body, "missing bearer token"));
	resp_free(&r);
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", basic, fixture, len);
	assert_refusal(&r, 401, "unauthorized");
	resp_free(&r);
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", bad, fixture, len);
	assert_refusal(&r, 401, "unauthorized");
	resp_free(&r);
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", wrong, fixture, len);
	assert_refusal(&r, 401, "unauthorized");
	resp_free(&r);
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", expired, fixture, len);
	assert_refusal(&r, 401, "unauthorized");
	assert_non_null(strstr(r.body, "expired"));
	resp_free(&r);

	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/nagios", ok, fixture, len);
	assert_refusal(&r, 404, "unknown_source");
	resp_free(&r);
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/", ok, fixture, len);
	assert_refusal(&r, 404, "unknown_source");
	resp_free(&r);
	http(&r, EVHTTP_REQ_GET, "/v2/anything", NULL, NULL, 0);
	assert_refusal(&r, 404, "not_found");
	resp_free(&r);
	http(&r, EVHTTP_REQ_GET, "/v1/webhooks/alertmanager", ok, NULL, 0);
	assert_refusal(&r, 405, "method_not_allowed");
	resp_free(&r);
	http(&r, EVHTTP_REQ_PUT, "/v1/webhooks", ok, fixture, len);
	assert_refusal(&r, 405, "method_not_allowed");
	resp_free(&r);

	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", xml, fixture, len);
	assert_refusal(&r, 415, "unsupported_media_type");
	resp_free(&r);
	/* A real form: its fields become the document, which the named
	 * driver then judges (no alerts[] here). */
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", form, "a=1&b=2", 7);
	assert_refusal(&r, 422, "unprocessable");
	resp_free(&r);
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", form, "%zz=&&=", 7);
	assert_refusal(&r, 400, "bad_request");
	resp_free(&r);
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", ok, "{\"alerts\": [", 12);
	assert_refusal(&r, 400, "invalid_json");
	resp_free(&r);
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", ok, "", 0);
	assert_refusal(&r, 400, NULL);
	resp_free(&r);
	deep = calloc(1, 200);
	for (i = 0; i < 65; i++) {
		deep[i] = '[';
		deep[65 + i] = ']';
	}
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks", ok, deep, strlen(deep));
	assert_refusal(&r, 400, "invalid_json");
	resp_free(&r);
	free(deep);

	/* Over the cap: libevent answers this one itself, with our JSON. */
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", ok, big, sizeof(big));
	assert_refusal(&r, 413, "too_large");
	assert_string_equal(r.connection, "close");
	resp_free(&r);
	/* At the cap is fine (422: valid JSON, nothing in it). */
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", ok, big, MAX_BODY - 1);
	assert_refusal(&r, 400, "invalid_json");
	resp_free(&r);
	big[MAX_BODY - 1] = '}';
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", ok, big, MAX_BODY);
	assert_refusal(&r, 422, "unprocessable");
	assert_non_null(strstr(r.body, "alerts"));
	resp_free(&r);

	http(&r, EVHTTP_REQ_POST, "/v1/webhooks", vnd, "{\"unrelated\": true}", 19);
	assert_refusal(&r, 422, "unprocessable");
	resp_free(&r);
	free(fixture);
	fixture = read_fix("bad-am-no-alertname.json", &len);
	http(&r, EVHTTP_REQ_POST, "/v1/webhooks", ok, fixture, len);
	assert_refusal(&r, 422, "unprocessable");
	assert_non_null(strstr(r.body, "alertname"));
	resp_free(&r);
	free(fixture);

	/* Nothing of the above reached the stream. */
	assert_int_equal(redis_int("XLEN %s", AX_STREAM_SIGNALS), 0);
	assert_int_equal(ingest_metrics_refusals(ingest_server_metrics(F.srv), INGEST_R_UNAUTHORIZED), 5);
	assert_int_equal(ingest_metrics_refusals(ingest_server_metrics(F.srv), INGEST_R_TOO_LARGE), 1);
}

static void test_wire_errors_are_json(void **state)
{
	char req[512 + MAX_BODY], *resp, chunk[MAX_BODY + 1];
	cJSON *j;
	int n;

	(void)state;
	/* A request line libevent cannot parse. */
	resp = raw_exchange("GARBAGE\r\n\r\n", 11);
	assert_true(strncmp(resp, "HTTP/1.1 400 ", 13) == 0);
	assert_non_null(strstr(resp, "Content-Type: application/json\r\n"));
	j = raw_body(resp);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring, "bad_request");
	cJSON_Delete(j);
	free(resp);

	/* A chunked body growing past the cap. */
	memset(chunk, 'x', sizeof(chunk));
	n = snprintf(req, sizeof(req),
		     "POST /v1/webhooks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
		     F.token, sizeof(chunk));
	memcpy(req + n, chunk, sizeof(chunk));
	memcpy(req + n + sizeof(chunk), "\r\n0\r\n\r\n", 7);
	resp = raw_exchange(req, (size_t)n + sizeof(chunk) + 7);
	assert_true(strncmp(resp, "HTTP/1.1 413 ", 13) == 0);
	j = raw_body(resp);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring, "too_large");
	cJSON_Delete(j);
	free(resp);

	/* A Content-Length over the cap from a sender that writes its whole
	 * body without waiting (no Expect): libevent reads and discards it
	 * (lingering close), then the 413 goes out and is read, not reset. */
	{
		size_t blen = 3 * MAX_BODY;
		char *big = malloc(512 + blen);

		n = snprintf(big, 512,
			     "POST /v1/webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
			     blen);
		memset(big + n, '[', blen);
		resp = raw_exchange(big, (size_t)n + blen);
		free(big);
	}
	assert_true(strncmp(resp, "HTTP/1.1 413 ", 13) == 0);
	assert_null(strstr(resp, "<HTML>"));
	j = raw_body(resp);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring, "too_large");
	cJSON_Delete(j);
	free(resp);
	assert_int_equal(redis_int("XLEN %s", AX_STREAM_SIGNALS), 0);
}

/* Every entry is the stream contract: v, tenant, id, kind, trace, data. */
static void check_entries(long long want, const char *trace)
{
	redisContext *c = redis_sync();
	redisReply *r;
	size_t i, k;

	r = redisCommand(c, "XRANGE %s - +", AX_STREAM_SIGNALS);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal((long long)r->elements, want);
	for (i = 0; i < r->elements; i++) {
		redisReply *f = r->element[i]->element[1];
		struct ax_signal s;
		char err[256];
		cJSON *j;

		assert_int_equal(f->elements, 12);
		assert_string_equal(f->element[0]->str, "v");
		assert_string_equal(f->element[1]->str, "1");
		assert_string_equal(f->element[2]->str, "tenant");
		assert_string_equal(f->element[3]->str, "acme");
		assert_string_equal(f->element[4]->str, "id");
		assert_true(ax_uuid_valid(f->element[5]->str));
		assert_string_equal(f->element[6]->str, "kind");
		assert_string_equal(f->element[7]->str, "alert");
		assert_string_equal(f->element[8]->str, "trace");
		assert_int_equal(strlen(f->element[9]->str), 32);
		if (trace != NULL && i == 0)
			assert_string_equal(f->element[9]->str, trace);
		assert_string_equal(f->element[10]->str, "data");
		j = ax_json_parse(f->element[11]->str, f->element[11]->len, 64);
		assert_non_null(j);
		assert_int_equal(ax_signal_from_json(&s, j, err, sizeof(err)), AX_OK);
		k = strlen(s.fingerprint);
		assert_int_equal(k, 64);
		ax_signal_release(&s);
		cJSON_Delete(j);
	}
	freeReplyObject(r);
	redisFree(c);
}

static void test_accept_and_dedup(void **state)
{
	struct resp r;
	const cJSON *ids;

	(void)state;
	assert_int_equal(post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.json",
				  "X-Trace-Id: 4BF92F3577B34DA6A3CE929D0E0E4736"), 202);
	assert_int_equal(json_int(r.json, "accepted"), 2);
	assert_int_equal(json_int(r.json, "duplicates"), 0);
	ids = cJSON_GetObjectItemCaseSensitive(r.json, "ids");
	assert_int_equal(cJSON_GetArraySize(ids), 2);
	assert_true(ax_uuid_valid(cJSON_GetArrayItem(ids, 0)->valuestring));
	assert_string_equal(cJSON_GetObjectItem(r.json, "trace")->valuestring,
			    "4bf92f3577b34da6a3ce929d0e0e4736");
	resp_free(&r);
	check_entries(2, "4bf92f3577b34da6a3ce929d0e0e4736");

	/* Firing again: both deduplicated, nothing appended. */
	assert_int_equal(post_fix(&r, "/v1/webhooks", "alertmanager.json", NULL), 202);
	assert_int_equal(json_int(r.json, "accepted"), 0);
	assert_int_equal(json_int(r.json, "duplicates"), 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "ids")), 0);
	resp_free(&r);
	assert_int_equal(redis_int("XLEN %s", AX_STREAM_SIGNALS), 2);

	/* Resolved passes, resolved twice does not, firing again passes. */
	assert_int_equal(post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.resolved.json",
				  NULL), 202);
	assert_int_equal(json_int(r.json, "accepted"), 2);
	resp_free(&r);
	assert_int_equal(post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.resolved.json",
				  NULL), 202);
	assert_int_equal(json_int(r.json, "duplicates"), 2);
	resp_free(&r);
	assert_int_equal(post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.json", NULL), 202);
	assert_int_equal(json_int(r.json, "accepted"), 2);
	resp_free(&r);
	check_entries(6, NULL);
	/* The dedup key is the tenant's, with the configured TTL. */
	assert_true(redis_int("TTL t:{acme}:dedup:%s",
			      "0ab8fe11fd03372b18ea2c38e142e1f5111098c4d27655ec6d89126f30111226") >
		    590);

	/* The generic driver, auto-detected, through the same path, with
	 * the label curl -d puts on a body it was not told the type of. */
	{
		char auth[1024];
		const char *h[] = { auth, "Content-Type: application/x-www-form-urlencoded", NULL };
		size_t len;
		char *body = read_fix("generic.batch.json", &len);

		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", F.token);
		assert_int_equal(http(&r, EVHTTP_REQ_POST, "/v1/webhooks", h, body, len), 202);
		free(body);
	}
	assert_int_equal(json_int(r.json, "accepted"), 2);
	resp_free(&r);
	assert_int_equal(redis_int("XLEN %s", AX_STREAM_SIGNALS), 8);
}

/* Form-encoded senders: JSON wrapped in one field (Papertrail's
 * payload=, Uptime Kuma's data=), or plain fields. */
static void test_form_bodies(void **state)
{
	char auth[1024];
	const char *h[] = { auth, "Content-Type: application/x-www-form-urlencoded", NULL };
	static const char wrapped[] =
		"payload=%7B%22name%22%3A%22DiskFull%22%2C%22severity%22%3A%22critical%22%2C"
		"%22host%22%3A%22db-1%22%7D";
	static const char fields[] = "name=QueueLag&severity=warning&service=billing";
	struct resp r;
	redisContext *c;
	redisReply *x;

	(void)state;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", F.token);
	assert_int_equal(http(&r, EVHTTP_REQ_POST, "/v1/webhooks/generic", h, wrapped,
			      sizeof(wrapped) - 1), 202);
	assert_int_equal(json_int(r.json, "accepted"), 1);
	resp_free(&r);
	assert_int_equal(http(&r, EVHTTP_REQ_POST, "/v1/webhooks", h, fields, sizeof(fields) - 1),
			 202);
	assert_int_equal(json_int(r.json, "accepted"), 1);
	resp_free(&r);
	/* What reached the stream is what the fields said. */
	c = redis_sync();
	x = redisCommand(c, "XRANGE %s - +", AX_STREAM_SIGNALS);
	assert_int_equal(x->type, REDIS_REPLY_ARRAY);
	assert_int_equal(x->elements, 2);
	{
		redisReply *f0 = x->element[0]->element[1], *f1 = x->element[1]->element[1];
		const char *d0 = f0->element[f0->elements - 1]->str;
		const char *d1 = f1->element[f1->elements - 1]->str;

		assert_non_null(strstr(d0, "\"name\":\"DiskFull\""));
		assert_non_null(strstr(d0, "\"severity\":\"critical\""));
		assert_non_null(strstr(d0, "\"host\":\"db-1\""));
		assert_non_null(strstr(d1, "\"name\":\"QueueLag\""));
		assert_non_null(strstr(d1, "\"service\":\"billing\""));
	}
	freeReplyObject(x);
	redisFree(c);
}

static void test_noscript_fallback(void **state)
{
	struct resp r;

	(void)state;
	assert_int_equal(post_fix(&r, "/v1/webhooks", "generic.json", NULL), 202);
	resp_free(&r);
	/* The server forgets the script: EVALSHA gets NOSCRIPT, the append
	 * is resent as EVAL and still counts exactly once. */
	redis_do("SCRIPT FLUSH");
	assert_int_equal(post_fix(&r, "/v1/webhooks", "generic.resolved.json", NULL), 202);
	assert_int_equal(json_int(r.json, "accepted"), 1);
	resp_free(&r);
	assert_int_equal(post_fix(&r, "/v1/webhooks", "generic.resolved.json", NULL), 202);
	assert_int_equal(json_int(r.json, "duplicates"), 1);
	resp_free(&r);
	assert_int_equal(redis_int("XLEN %s", AX_STREAM_SIGNALS), 2);
}

static int ready_now(void)
{
	struct resp r;
	int code = http(&r, EVHTTP_REQ_GET, "/readyz", NULL, NULL, 0);

	resp_free(&r);
	return code == 200;
}

static void test_redis_down_and_back(void **state)
{
	struct resp r;
	int i;

	(void)state;
	redis_stop();
	for (i = 0; i < 200 && ready_now(); i++)
		run_for_ms(10);
	assert_int_equal(http(&r, EVHTTP_REQ_GET, "/readyz", NULL, NULL, 0), 503);
	assert_string_equal(r.body, "{\"status\":\"unavailable\",\"reason\":\"redis\"}\n");
	resp_free(&r);
	post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.json", NULL);
	assert_refusal(&r, 503, "unavailable");
	assert_non_null(strstr(r.body, "redis"));
	resp_free(&r);
	/* Validation still comes first: a bad payload is a 4xx even now. */
	post_fix(&r, "/v1/webhooks/alertmanager", "generic.json", NULL);
	assert_refusal(&r, 422, "unprocessable");
	resp_free(&r);

	redis_start();
	for (i = 0; i < 500 && !ready_now(); i++)
		run_for_ms(10);
	assert_int_equal(post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.json", NULL),
			 202);
	assert_int_equal(json_int(r.json, "accepted"), 2);
	resp_free(&r);
}

static void test_append_timeout_then_retry(void **state)
{
	struct resp r;
	int i;

	(void)state;
	/* Redis holds the appends past the command deadline: 503, and the
	 * connection is dropped and re-made. */
	redis_do("CLIENT PAUSE 2500 WRITE");
	post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.json", NULL);
	assert_refusal(&r, 503, "unavailable");
	assert_non_null(strstr(r.body, "retrying is safe"));
	resp_free(&r);
	assert_int_equal(ingest_metrics_refusals(ingest_server_metrics(F.srv), INGEST_R_APPEND_FAILED), 1);
	redis_do("CLIENT UNPAUSE");
	for (i = 0; i < 500 && !ready_now(); i++)
		run_for_ms(10);
	/* The retry lands each alert once, whatever the first try did. */
	assert_int_equal(post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.json", NULL),
			 202);
	assert_int_equal(json_int(r.json, "accepted") + json_int(r.json, "duplicates"), 2);
	resp_free(&r);
	assert_int_equal(redis_int("XLEN %s", AX_STREAM_SIGNALS), 2);
}

static void test_inflight_cap(void **state)
{
	struct resp a, b, c;

	(void)state;
	server_down();
	server_up(2);
	while (!ready_now())
		run_for_ms(10);
	redis_do("CLIENT PAUSE 300 WRITE");
	/* The cap counts appends (one per request, whatever its size): with
	 * 2, a's append and c's fill it and b is refused. */
	{
		char auth[1024];
		const char *h[] = { auth, NULL };
		size_t len;
		char *body = read_fix("alertmanager.json", &len);
		int i;

		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", F.token);
		req_start(&a, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", h, body, len);
		/* Until a's two appends are waiting in Redis. */
		for (i = 0; i < 100; i++) {
			struct resp m;
			int found;

			http(&m, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0);
			found = strstr(m.body, "alexus_ingest_inflight 1\n") != NULL;
			resp_free(&m);
			if (found)
				break;
		}
		free(body);
		body = read_fix("generic.json", &len);
		req_start(&c, EVHTTP_REQ_POST, "/v1/webhooks/generic", h, body, len);
		for (i = 0; i < 100; i++) {
			struct resp m;
			int found;

			http(&m, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0);
			found = strstr(m.body, "alexus_ingest_inflight 2\n") != NULL;
			resp_free(&m);
			if (found)
				break;
		}
		free(body);
	}
	post_fix(&b, "/v1/webhooks", "generic.json", NULL);
	assert_refusal(&b, 503, "unavailable");
	assert_non_null(strstr(b.body, "ALEXUS_MAX_INFLIGHT"));
	resp_free(&b);
	req_wait(&a);
	assert_int_equal(a.code, 202);
	resp_free(&a);
	req_wait(&c);
	assert_int_equal(c.code, 202);
	resp_free(&c);
	assert_int_equal(ingest_metrics_refusals(ingest_server_metrics(F.srv), INGEST_R_BUSY), 1);
}

/* The tenant's token bucket: burst 3, 1 signal/s.  A request takes as
 * many tokens as it has signals, all or none. */
static void test_rate_limit(void **state)
{
	struct resp r;
	long long before;
	char *other;

	(void)state;
	server_down();
	F.rate_limit = 1;
	F.rate_burst = 3;
	server_up(64);
	while (!ready_now())
		run_for_ms(10);
	assert_int_equal(post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.json", NULL), 202);
	assert_int_equal(json_int(r.json, "accepted"), 2);
	resp_free(&r);
	before = redis_int("XLEN %s", AX_STREAM_SIGNALS);
	/* 2 more signals, 1 token left: refused whole, nothing appended. */
	assert_int_equal(post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.resolved.json",
				  NULL), 429);
	assert_refusal(&r, 429, "rate_limited");
	assert_true(atoi(r.retry_after) >= 1);
	assert_non_null(strstr(cJSON_GetObjectItem(r.json, "message")->valuestring, "rate limit"));
	resp_free(&r);
	assert_int_equal(redis_int("XLEN %s", AX_STREAM_SIGNALS), before);
	assert_int_equal(ingest_metrics_refusals(ingest_server_metrics(F.srv),
						 INGEST_R_RATE_LIMITED), 1);
	/* Another tenant has its own bucket. */
	other = mint("globex", SECRET, 600);
	{
		char auth[1024];
		const char *h[] = { auth, NULL };
		size_t len;
		char *body = read_fix("alertmanager.resolved.json", &len);

		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", other);
		assert_int_equal(http(&r, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", h, body,
				      len), 202);
		free(body);
	}
	resp_free(&r);
	free(other);
	/* The bucket refills with time: move its last refill 10 s back (no
	 * sleeping) and the request passes. */
	redis_do("HSET t:{acme}:rl ts 1");
	assert_int_equal(post_fix(&r, "/v1/webhooks/alertmanager", "alertmanager.resolved.json",
				  NULL), 202);
	assert_int_equal(json_int(r.json, "accepted"), 2);
	resp_free(&r);
	F.rate_limit = 0;
}

static void on_drained(int clean, void *arg)
{
	(void)arg;
	F.drained = 1;
	F.drained_clean = clean;
}

static void test_drain_answers_in_flight(void **state)
{
	struct resp a, b;
	char auth[1024];
	const char *h[] = { auth, NULL };
	size_t len;
	char *body = read_fix("alertmanager.json", &len);

	(void)state;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", F.token);
	redis_do("CLIENT PAUSE 250 WRITE");
	req_start(&a, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", h, body, len);
	run_for_ms(50);
	ingest_server_drain(F.srv, 5000, on_drained, NULL);
	/* New connections are no longer accepted. */
	req_start(&b, EVHTTP_REQ_GET, "/healthz", NULL, NULL, 0);
	req_wait(&b);
	assert_int_equal(b.code, 0);
	resp_free(&b);
	/* The request in flight is answered when Redis answers ... */
	req_wait(&a);
	assert_int_equal(a.code, 202);
	assert_int_equal(json_int(a.json, "accepted"), 2);
	assert_string_equal(a.connection, "close");
	resp_free(&a);
	/* ... and only then is the drain done, cleanly. */
	run_until(&F.drained);
	assert_int_equal(F.drained_clean, 1);
	assert_int_equal(redis_int("XLEN %s", AX_STREAM_SIGNALS), 2);
	free(body);
}

static void test_drain_deadline(void **state)
{
	struct resp a;
	char auth[1024];
	const char *h[] = { auth, NULL };
	size_t len;
	char *body = read_fix("alertmanager.json", &len);

	(void)state;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", F.token);
	redis_do("CLIENT PAUSE 3000 WRITE");
	req_start(&a, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager", h, body, len);
	run_for_ms(50);
	/* A deadline shorter than the Redis timeout cuts the request short. */
	ingest_server_drain(F.srv, 100, on_drained, NULL);
	req_wait(&a);
	assert_refusal(&a, 503, "unavailable");
	assert_non_null(strstr(a.body, "shutting down"));
	resp_free(&a);
	run_until(&F.drained);
	assert_int_equal(F.drained_clean, 0);
	redis_do("CLIENT UNPAUSE");
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_health_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wire_errors_are_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_and_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_form_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_noscript_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_down_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_timeout_then_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inflight_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_answers_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_deadline, setup, teardown),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
