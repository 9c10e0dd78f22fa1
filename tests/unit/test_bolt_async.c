/* test_bolt_async.c - the libevent Bolt client (common/bolt_async.c)
 * against the scripted peer (tests/lib/boltpeer.c), on the scripts of
 * tests/js/scripts that the official JavaScript driver is run against
 * (tests/e2e/bolt_peer.sh), plus what a driver cannot be made to do: a
 * late answer, refused authentication, a port nobody listens on.
 *
 * Every callback writes a line to a log ("PULL RECORD 1", "RUN FAILURE
 * Neo.ClientError..."), and the tests compare the whole log: each request
 * ends exactly once, in order, and nothing else is said. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/event.h>

#include "alexus/bolt.h"
#include "alexus/mem.h"
#include "boltpeer.h"

#define SCRIPTS "tests/js/scripts/"

static struct boltpeer *peer;
static struct ax_bolt_opts opts;
static struct event_base *base;
static char logbuf[4096];
static ax_err ready_rc;
static char ready_why[400];
static bool ready_seen;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	size_t l = strlen(logbuf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(logbuf + l, sizeof(logbuf) - l, fmt, ap);
	va_end(ap);
	l = strlen(logbuf);
	snprintf(logbuf + l, sizeof(logbuf) - l, "\n");
}

static void start(const char *script, bool file)
{
	char e[256] = "";

	peer = file ? bp_start_file(script, e, sizeof(e)) : bp_start(script, e, sizeof(e));
	if (!peer)
		fail_msg("peer: %s", e);
	memset(&opts, 0, sizeof(opts));
	opts.host = "127.0.0.1";
	opts.port = (uint16_t)bp_port(peer);
	opts.user = "neo4j";
	opts.password = "secret";
	opts.connect_timeout_ms = 3000;
	opts.request_timeout_ms = 3000;
	logbuf[0] = '\0';
	ready_seen = false;
	ready_rc = AX_OK;
	ready_why[0] = '\0';
	base = event_base_new();
	assert_non_null(base);
}

static void finish(void)
{
	char why[512] = "";

	event_base_free(base);
	base = NULL;
	if (peer && bp_finish(peer, 5000, why, sizeof(why)))
		fail_msg("peer: %s", why);
	peer = NULL;
}

static const char *kind(enum ax_bolt_kind k)
{
	static const char *const names[] = { "SUCCESS", "RECORD", "FAILURE", "IGNORED",
					     "BROKEN" };

	return names[k];
}

static const char *req(uint8_t tag)
{
	return bp_msg_name(tag) ? bp_msg_name(tag) : "?";
}

static void stop_loop(void)
{
	event_base_loopbreak(base);
}

/* Logs every response: "PULL RECORD 1 x1", "PULL SUCCESS has_more",
 * "RUN FAILURE code", "PULL BROKEN <errcode>". */
static void logged(struct ax_bolt_async *c, const struct ax_bolt_resp *r, void *arg)
{
	(void)c;
	(void)arg;
	if (r->kind == AX_BOLT_RECORD) {
		const struct ax_ps_value *v = &r->data->u.items[0];

		say("%s RECORD %lld", req(r->request),
		    v->type == AX_PS_INT ? (long long)v->u.i : -1LL);
	} else if (r->kind == AX_BOLT_FAILURE) {
		say("%s FAILURE %s", req(r->request), r->code);
	} else if (r->kind == AX_BOLT_BROKEN) {
		say("%s BROKEN %d", req(r->request), (int)r->err);
	} else if (r->kind == AX_BOLT_SUCCESS) {
		const struct ax_ps_value *more = ax_ps_dict_get(r->data, "has_more");
		const char *bm = ax_ps_dict_str(r->data, "bookmark");

		say("%s SUCCESS%s%s%s", req(r->request),
		    more && more->type == AX_PS_BOOL && more->u.b ? " has_more" : "",
		    bm ? " " : "", bm ? bm : "");
	} else {
		say("%s %s", req(r->request), kind(r->kind));
	}
}

/* logged, then stop the loop */
static void last(struct ax_bolt_async *c, const struct ax_bolt_resp *r, void *arg)
{
	logged(c, r, arg);
	if (r->kind != AX_BOLT_RECORD)
		stop_loop();
}

static void on_ready_stop(struct ax_bolt_async *c, ax_err rc, const char *why, void *arg)
{
	(void)c;
	(void)arg;
	ready_seen = true;
	ready_rc = rc;
	snprintf(ready_why, sizeof(ready_why), "%s", why ? why : "");
	stop_loop();
}

/* Run the loop until stopped, at most 10 s. */
static void loop(void)
{
	struct timeval tv = { 10, 0 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static struct ax_bolt_async *connect_ready(void)
{
	struct ax_bolt_async *c = ax_bolt_async_connect(base, &opts, on_ready_stop, NULL);

	loop();
	if (!ready_seen || ready_rc != AX_OK)
		fail_msg("not ready (%d): %s", (int)ready_rc, ready_why);
	return c;
}

/* stream.script: RUN and PULL 2 pipelined, has_more, PULL 2 again. */
static void more(struct ax_bolt_async *c, const struct ax_bolt_resp *r, void *arg)
{
	const struct ax_ps_value *m =
		r->kind == AX_BOLT_SUCCESS ? ax_ps_dict_get(r->data, "has_more") : NULL;

	logged(c, r, arg);
	if (m && m->type == AX_PS_BOOL && m->u.b)
		ax_bolt_async_pull(c, 2, more, arg); /* from inside a callback */
	else if (r->kind != AX_BOLT_RECORD)
		stop_loop();
}

static void test_stream(void **state)
{
	struct ax_bolt_async *c;
	struct ax_ps_buf params;

	(void)state;
	start(SCRIPTS "stream.script", true);
	c = connect_ready();
	assert_int_equal(ax_bolt_version(ax_bolt_async_conn(c)), AX_BOLT_V(5, 4));
	assert_string_equal(ax_bolt_server(ax_bolt_async_conn(c)), "Neo4j/5.26.0");
	ax_ps_buf_init(&params);
	ax_ps_put_dict(&params, 1);
	ax_ps_put_cstr(&params, "limit");
	ax_ps_put_int(&params, 3);
	ax_bolt_async_run(c, "UNWIND range(1, $limit) AS n RETURN n, 'x' + n AS s", &params, NULL,
			  logged, NULL);
	ax_bolt_async_pull(c, 2, more, NULL);
	ax_ps_buf_release(&params);
	assert_int_equal(ax_bolt_async_pending(c), 2);
	loop();
	assert_string_equal(logbuf, "RUN SUCCESS\n"
				    "PULL RECORD 1\n"
				    "PULL RECORD 2\n"
				    "PULL SUCCESS has_more\n"
				    "PULL RECORD 3\n"
				    "PULL SUCCESS FB:stream-1\n");
	assert_string_equal(ax_bolt_bookmark(ax_bolt_async_conn(c)), "FB:stream-1");
	assert_int_equal(ax_bolt_async_pending(c), 0);
	ax_bolt_async_close(c);
	finish();
}

/* failure.script: FAILURE, the PULL behind it IGNORED, RESET by itself
 * before the next request, which works. */
static void test_failure_then_reset(void **state)
{
	struct ax_bolt_async *c;

	(void)state;
	start(SCRIPTS "failure.script", true);
	c = connect_ready();
	ax_bolt_async_run(c, "RETURN 1 +", NULL, NULL, logged, NULL);
	ax_bolt_async_pull(c, 1000, last, NULL);
	loop();
	ax_bolt_async_run(c, "RETURN 2 AS n", NULL, NULL, logged, NULL);
	ax_bolt_async_pull(c, 1000, last, NULL);
	loop();
	assert_string_equal(logbuf, "RUN FAILURE Neo.ClientError.Statement.SyntaxError\n"
				    "PULL IGNORED\n"
				    "RUN SUCCESS\n"
				    "PULL RECORD 2\n"
				    "PULL SUCCESS FB:failure-2\n");
	ax_bolt_async_close(c);
	finish();
}

/* dropped.script: the connection ends mid-result: the PULL in flight and
 * the two requests queued behind it end with BROKEN once each, in order;
 * one queued after that ends the same way, from the loop. */
static void two_more(struct ax_bolt_async *c, const struct ax_bolt_resp *r, void *arg)
{
	logged(c, r, arg);
	if (r->kind == AX_BOLT_RECORD && r->data->u.items[0].u.i == 2) {
		ax_bolt_async_run(c, "RETURN 3", NULL, NULL, logged, NULL);
		ax_bolt_async_pull(c, -1, last, NULL);
	}
}

static void test_dropped(void **state)
{
	struct ax_bolt_async *c;
	char want[512];

	(void)state;
	start(SCRIPTS "dropped.script", true);
	c = connect_ready();
	ax_bolt_async_run(c, "UNWIND range(1, 1000) AS n RETURN n", NULL, NULL, logged, NULL);
	ax_bolt_async_pull(c, 1000, two_more, NULL);
	loop();
	snprintf(want, sizeof(want), "RUN SUCCESS\nPULL RECORD 1\nPULL RECORD 2\n"
		 "PULL BROKEN %d\nRUN BROKEN %d\nPULL BROKEN %d\n", AX_EIO, AX_EIO, AX_EIO);
	assert_string_equal(logbuf, want);
	assert_true(ax_bolt_broken(ax_bolt_async_conn(c)));
	assert_int_equal(ax_bolt_async_pending(c), 0);
	logbuf[0] = '\0';
	ax_bolt_async_run(c, "RETURN 4", NULL, NULL, last, NULL);
	assert_string_equal(logbuf, ""); /* not from inside the call */
	loop();
	snprintf(want, sizeof(want), "RUN BROKEN %d\n", AX_EIO);
	assert_string_equal(logbuf, want);
	ax_bolt_async_close(c);
	finish();
}

#define HELLO_5_4                                                                    \
	"!: BOLT 5.4\n"                                                              \
	"C: HELLO {\"user_agent\": {\"$any\": 0}}\n"                                 \
	"S: SUCCESS {\"server\": \"Neo4j/5.26.0\"}\n"                                \
	"C: LOGON {\"scheme\": \"basic\", \"principal\": \"neo4j\", \"credentials\": " \
	"\"secret\"}\n"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An answer later than request_timeout_ms: the event timer breaks the
 * connection; both requests end once, with AX_ETIMEDOUT. */
static void test_deadline(void **state)
{
	struct ax_bolt_async *c;
	char want[128];
	int64_t t0, took;

	(void)state;
	start(HELLO_5_4 "S: SUCCESS {}\n"
			"C: RUN \"RETURN 1\" {} {}\n"
			"C: PULL {\"n\": -1}\n"
			"S: <SLEEP> 1500\n",
	      false);
	opts.request_timeout_ms = 300;
	c = connect_ready();
	t0 = now_ms();
	ax_bolt_async_run(c, "RETURN 1", NULL, NULL, logged, NULL);
	ax_bolt_async_pull(c, -1, last, NULL);
	loop();
	took = now_ms() - t0;
	snprintf(want, sizeof(want), "RUN BROKEN %d\nPULL BROKEN %d\n", AX_ETIMEDOUT,
		 AX_ETIMEDOUT);
	assert_string_equal(logbuf, want);
	assert_true(took >= 290 && took < 1400);
	ax_bolt_async_close(c);
	finish();
}

/* Refused authentication: ready hears Neo4j's code and message. */
static void test_auth_refused(void **state)
{
	struct ax_bolt_async *c;

	(void)state;
	start(HELLO_5_4 "S: FAILURE {\"code\": \"Neo.ClientError.Security.Unauthorized\", "
			"\"message\": \"The client is unauthorized due to authentication "
			"failure.\"}\n",
	      false);
	c = ax_bolt_async_connect(base, &opts, on_ready_stop, NULL);
	loop();
	assert_true(ready_seen);
	assert_int_equal(ready_rc, AX_EAUTH);
	assert_string_equal(ready_why, "Neo.ClientError.Security.Unauthorized: The client is "
				       "unauthorized due to authentication failure.");
	ax_bolt_async_close(c);
	finish();
}

/* Nobody listens: ready hears AX_EIO, once. */
static void test_connect_refused(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct ax_bolt_async *c;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	memset(&opts, 0, sizeof(opts));
	opts.host = "127.0.0.1";
	opts.port = ntohs(sa.sin_port);
	ready_seen = false;
	base = event_base_new();
	c = ax_bolt_async_connect(base, &opts, on_ready_stop, NULL);
	loop();
	assert_true(ready_seen);
	assert_int_equal(ready_rc, AX_EIO);
	assert_non_null(strstr(ready_why, "connect to 127.0.0.1:"));
	assert_non_null(strstr(ready_why, "refused"));
	ax_bolt_async_close(c);
	event_base_free(base);
	base = NULL;
}

/* A close with requests pending ends each once, with BROKEN, before it
 * returns; TLS is refused for now. */
static void test_close_pending_and_tls(void **state)
{
	struct ax_bolt_async *c;
	char want[128];

	(void)state;
	start(HELLO_5_4 "S: SUCCESS {}\n"
			"C: RUN \"RETURN 1\" {} {}\n"
			"C: PULL {\"n\": -1}\n"
			"S: <SLEEP> 300\n",
	      false);
	c = connect_ready();
	ax_bolt_async_run(c, "RETURN 1", NULL, NULL, logged, NULL);
	ax_bolt_async_pull(c, -1, logged, NULL);
	ax_bolt_async_close(c);
	snprintf(want, sizeof(want), "RUN BROKEN %d\nPULL BROKEN %d\n", AX_EIO, AX_EIO);
	assert_string_equal(logbuf, want);
	finish();

	base = event_base_new();
	opts.tls = AX_BOLT_TLS_VERIFY;
	ready_seen = false;
	c = ax_bolt_async_connect(base, &opts, on_ready_stop, NULL);
	loop();
	assert_true(ready_seen);
	assert_int_equal(ready_rc, AX_EINVAL);
	assert_non_null(strstr(ready_why, "TLS is not supported"));
	ax_bolt_async_close(c);
	event_base_free(base);
	base = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_failure_then_reset),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_auth_refused),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_close_pending_and_tls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
