/* test_bolt.c - the Bolt client (common/bolt.c) against the scripted peer
 * (tests/lib/boltpeer.c).  The scripts in tests/js/scripts are the ones
 * tests/e2e/bolt_peer.sh runs Neo4j's official JavaScript driver against,
 * so the peer's side of each conversation is known to be what a real
 * client accepts; the inline scripts here cover what a driver cannot be
 * made to do on purpose (late answers, oversized or broken frames).  The
 * peer checks every message the client sends; each test ends by asking it
 * whether the whole script ran. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alexus/bolt.h"
#include "alexus/mem.h"
#include "boltpeer.h"
#include "receiver.h"

#define SCRIPTS "tests/js/scripts/"

static struct boltpeer *peer;
static struct ax_bolt_opts opts;
static char err[512];

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
	err[0] = '\0';
}

static void finish(void)
{
	char why[512] = "";

	if (bp_finish(peer, 5000, why, sizeof(why)))
		fail_msg("peer: %s", why);
	peer = NULL;
}

static struct ax_bolt *connect_ok(void)
{
	struct ax_bolt *b = NULL;

	if (ax_bolt_connect(&opts, &b, err, sizeof(err)) != AX_OK)
		fail_msg("connect: %s", err);
	return b;
}

/* Records collected by a query. */
struct rows {
	int n;
	int64_t ints[16];
	char strs[16][32];
	char fields[64];
	int stop_after;
};

static int collect(const struct ax_ps_value *fields, const struct ax_ps_value *values, void *arg)
{
	struct rows *r = arg;
	uint32_t i;

	if (r->n == 0 && fields) {
		for (i = 0; i < fields->len; i++) {
			strcat(r->fields, i ? "," : "");
			strcat(r->fields, fields->u.items[i].u.s);
		}
	}
	assert_int_equal(values->type, AX_PS_LIST);
	if (values->len > 0 && values->u.items[0].type == AX_PS_INT)
		r->ints[r->n] = values->u.items[0].u.i;
	if (values->len > 1 && values->u.items[1].type == AX_PS_STRING)
		snprintf(r->strs[r->n], sizeof(r->strs[0]), "%s", values->u.items[1].u.s);
	r->n++;
	return r->stop_after && r->n >= r->stop_after;
}

static void test_stream_5_4(void **state)
{
	struct ax_ps_value *summary = NULL;
	struct rows rows = { 0 };
	struct ax_ps_buf params;
	struct ax_bolt *b;

	(void)state;
	start(SCRIPTS "stream.script", true);
	b = connect_ok();
	assert_int_equal(ax_bolt_version(b), AX_BOLT_V(5, 4));
	assert_string_equal(ax_bolt_server(b), "Neo4j/5.26.0");
	assert_true(ax_bolt_utc(b));

	ax_ps_buf_init(&params);
	ax_ps_put_dict(&params, 1);
	ax_ps_put_cstr(&params, "limit");
	ax_ps_put_int(&params, 3);
	assert_int_equal(ax_bolt_query(b, "UNWIND range(1, $limit) AS n RETURN n, 'x' + n AS s",
				       &params, NULL, 2, collect, &rows, &summary, err, sizeof(err)),
			 AX_OK);
	assert_int_equal(rows.n, 3);
	assert_string_equal(rows.fields, "n,s");
	assert_int_equal(rows.ints[0], 1);
	assert_int_equal(rows.ints[2], 3);
	assert_string_equal(rows.strs[1], "x2");
	assert_non_null(summary);
	assert_string_equal(ax_ps_dict_str(summary, "db"), "neo4j");
	assert_string_equal(ax_bolt_bookmark(b), "FB:stream-1");
	assert_int_equal(ax_bolt_pending(b), 0);
	ax_ps_free(summary);
	ax_ps_buf_release(&params);
	ax_bolt_close(b);
	finish();
}

static void test_failure_then_reset(void **state)
{
	struct rows rows = { 0 };
	struct ax_bolt *b;

	(void)state;
	start(SCRIPTS "failure.script", true);
	b = connect_ok();
	assert_int_equal(ax_bolt_query(b, "RETURN 1 +", NULL, NULL, 1000, collect, &rows, NULL, err,
				       sizeof(err)),
			 AX_EINVAL);
	assert_non_null(strstr(err, "Neo.ClientError.Statement.SyntaxError: Invalid input"));
	assert_int_equal(ax_bolt_pending(b), 0);
	/* the client sends RESET by itself before the next query (the script wants it) */
	assert_int_equal(ax_bolt_query(b, "RETURN 2 AS n", NULL, NULL, 1000, collect, &rows, NULL,
				       err, sizeof(err)),
			 AX_OK);
	assert_int_equal(rows.n, 1);
	assert_int_equal(rows.ints[0], 2);
	ax_bolt_close(b);
	finish();
}

/* The same conversation at the message level: FAILURE, IGNORED, RESET. */
static void test_failure_ignored_messages(void **state)
{
	struct ax_bolt_resp r;
	struct ax_bolt *b;

	(void)state;
	start(SCRIPTS "failure.script", true);
	b = connect_ok();
	ax_bolt_send_run(b, "RETURN 1 +", NULL, NULL);
	ax_bolt_send_pull(b, 1000);
	assert_int_equal(ax_bolt_pending(b), 2);
	assert_int_equal(ax_bolt_next(b, &r), AX_OK);
	assert_int_equal(r.kind, AX_BOLT_FAILURE);
	assert_int_equal(r.request, AX_BOLT_MSG_RUN);
	assert_string_equal(r.code, "Neo.ClientError.Statement.SyntaxError");
	assert_non_null(strstr(r.message, "expected an expression"));
	assert_int_equal(r.err, AX_EINVAL);
	ax_bolt_resp_release(&r);
	assert_int_equal(ax_bolt_next(b, &r), AX_OK);
	assert_int_equal(r.kind, AX_BOLT_IGNORED);
	assert_int_equal(r.request, AX_BOLT_MSG_PULL);
	ax_bolt_resp_release(&r);
	assert_int_equal(ax_bolt_next(b, &r), AX_EINVAL); /* nothing pending */
	assert_int_equal(ax_bolt_reset(b, err, sizeof(err)), AX_OK);

	ax_bolt_send_run(b, "RETURN 2 AS n", NULL, NULL);
	ax_bolt_send_pull(b, 1000);
	assert_int_equal(ax_bolt_next(b, &r), AX_OK);
	assert_int_equal(r.kind, AX_BOLT_SUCCESS);
	assert_string_equal(ax_ps_dict_get(r.data, "fields")->u.items[0].u.s, "n");
	ax_bolt_resp_release(&r);
	assert_int_equal(ax_bolt_next(b, &r), AX_OK);
	assert_int_equal(r.kind, AX_BOLT_RECORD);
	assert_int_equal(r.data->u.items[0].u.i, 2);
	ax_bolt_resp_release(&r);
	assert_int_equal(ax_bolt_next(b, &r), AX_OK);
	assert_int_equal(r.kind, AX_BOLT_SUCCESS);
	ax_bolt_resp_release(&r);
	assert_string_equal(ax_bolt_bookmark(b), "FB:failure-2");
	ax_bolt_close(b);
	finish();
}

static void test_tx_bookmarks(void **state)
{
	struct rows rows = { 0 };
	struct ax_ps_buf params;
	struct ax_bolt *b;

	(void)state;
	start(SCRIPTS "tx_bookmarks.script", true);
	opts.database = "graph";
	b = connect_ok();
	assert_null(ax_bolt_bookmark(b));
	assert_int_equal(ax_bolt_begin(b, NULL, err, sizeof(err)), AX_OK);
	ax_ps_buf_init(&params);
	ax_ps_put_dict(&params, 1);
	ax_ps_put_cstr(&params, "id");
	ax_ps_put_cstr(&params, "svc-1");
	assert_int_equal(ax_bolt_query(b, "CREATE (:Item {id: $id})", &params, NULL, 1000, NULL, NULL,
				       NULL, err, sizeof(err)),
			 AX_OK);
	assert_int_equal(ax_bolt_commit(b, err, sizeof(err)), AX_OK);
	assert_string_equal(ax_bolt_bookmark(b), "FB:tx-1");
	/* the script checks that this BEGIN carries ["FB:tx-1"] */
	assert_int_equal(ax_bolt_begin(b, NULL, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_bolt_query(b, "MATCH (i:Item) RETURN count(i) AS c", NULL, NULL, 1000,
				       collect, &rows, NULL, err, sizeof(err)),
			 AX_OK);
	assert_int_equal(rows.ints[0], 1);
	assert_int_equal(ax_bolt_rollback(b, err, sizeof(err)), AX_OK);
	ax_ps_buf_release(&params);
	ax_bolt_close(b);
	finish();
}

static int first_value(const struct ax_ps_value *fields, const struct ax_ps_value *values,
		       void *arg)
{
	struct ax_ps_temporal *t = arg;
	char e[128];

	(void)fields;
	assert_int_equal(ax_ps_as_temporal(&values->u.items[0], t, e, sizeof(e)), AX_OK);
	return 0;
}

static void test_bolt_4_4(void **state)
{
	struct ax_ps_temporal t = { 0 };
	struct ax_bolt *b;

	(void)state;
	start(SCRIPTS "v44.script", true);
	b = connect_ok();
	assert_int_equal(ax_bolt_version(b), AX_BOLT_V(4, 4));
	assert_string_equal(ax_bolt_server(b), "Neo4j/4.4.30");
	assert_true(ax_bolt_utc(b)); /* the server agreed the "utc" patch */
	assert_int_equal(ax_bolt_query(b, "RETURN datetime('2023-11-14T22:13:20Z') AS t", NULL, NULL,
				       1000, first_value, &t, NULL, err, sizeof(err)),
			 AX_OK);
	assert_int_equal(t.tag, AX_PS_TAG_DATETIME);
	assert_int_equal(t.seconds, 1700000000);
	ax_bolt_close(b);
	finish();
}

static void test_no_common_version(void **state)
{
	struct ax_bolt *b = (void *)1;

	(void)state;
	start(SCRIPTS "noversion.script", true);
	assert_int_equal(ax_bolt_connect(&opts, &b, err, sizeof(err)), AX_EPROTO);
	assert_null(b);
	assert_non_null(strstr(err, "none of the offered versions"));
	finish();
}

/* Broken mid-stream: the PULL in flight and every request queued after it
 * end with BROKEN, once each. */
static void test_dropped_mid_stream(void **state)
{
	struct ax_bolt_resp r;
	struct ax_bolt *b;
	int records = 0, broken = 0;

	(void)state;
	start(SCRIPTS "dropped.script", true);
	b = connect_ok();
	ax_bolt_send_run(b, "UNWIND range(1, 1000) AS n RETURN n", NULL, NULL);
	ax_bolt_send_pull(b, 1000);
	assert_int_equal(ax_bolt_next(b, &r), AX_OK);
	assert_int_equal(r.kind, AX_BOLT_SUCCESS);
	ax_bolt_resp_release(&r);
	while (ax_bolt_next(b, &r) == AX_OK) {
		if (r.kind == AX_BOLT_RECORD) {
			records++;
			if (records == 2) { /* two more requests behind the dying one */
				ax_bolt_send_run(b, "RETURN 3", NULL, NULL);
				ax_bolt_send_pull(b, -1);
			}
		} else {
			assert_int_equal(r.kind, AX_BOLT_BROKEN);
			assert_int_equal(r.request,
					 broken == 1 ? AX_BOLT_MSG_RUN : AX_BOLT_MSG_PULL);
			/* closed, or reset when the requests behind it hit the closed socket */
			assert_int_equal(r.err, AX_EIO);
			assert_true(strstr(r.message, "closed") || strstr(r.message, "reset") ||
				    strstr(r.message, "pipe"));
			broken++;
		}
		ax_bolt_resp_release(&r);
	}
	assert_int_equal(records, 2);
	assert_int_equal(broken, 3);
	assert_true(ax_bolt_broken(b));
	assert_int_equal(ax_bolt_pending(b), 0);
	/* a request on a broken connection still ends exactly once */
	assert_int_equal(ax_bolt_query(b, "RETURN 4", NULL, NULL, 0, NULL, NULL, NULL, err,
				       sizeof(err)),
			 AX_EIO);
	assert_int_equal(ax_bolt_pending(b), 0);
	ax_bolt_close(b);
	finish();
}

#define HELLO_5_4                                                                  \
	"!: BOLT 5.4\n"                                                            \
	"C: HELLO {\"user_agent\": \"alexus-test\", \"bolt_agent\": {\"product\": " \
	"\"alexus-test\", \"language\": \"C\"}}\n"                                 \
	"S: SUCCESS {\"server\": \"Neo4j/5.26.0\"}\n"                              \
	"C: LOGON {\"scheme\": \"basic\", \"principal\": \"neo4j\", \"credentials\": \"secret\"}\n"

static void test_auth_refused(void **state)
{
	struct ax_bolt *b = NULL;

	(void)state;
	start(HELLO_5_4 "S: FAILURE {\"code\": \"Neo.ClientError.Security.Unauthorized\", "
			"\"message\": \"The client is unauthorized due to authentication failure.\"}\n",
	      false);
	opts.user_agent = "alexus-test";
	assert_int_equal(ax_bolt_connect(&opts, &b, err, sizeof(err)), AX_EAUTH);
	assert_null(b);
	assert_string_equal(err, "Neo.ClientError.Security.Unauthorized: The client is "
				 "unauthorized due to authentication failure.");
	finish();
}

/* Bolt 5.0: credentials in HELLO, no LOGON, no bolt_agent. */
static void test_bolt_5_0_and_no_auth(void **state)
{
	struct ax_bolt *b;

	(void)state;
	start("!: BOLT 5.0\n"
	      "C: HELLO {\"user_agent\": \"alexus/1.0\", \"scheme\": \"none\"}\n"
	      "S: SUCCESS {\"server\": \"Neo4j/5.0.0\"}\n"
	      "C: RESET\n"
	      "S: SUCCESS {}\n"
	      "C: GOODBYE\n",
	      false);
	opts.user = NULL;
	opts.password = NULL;
	b = connect_ok();
	assert_int_equal(ax_bolt_version(b), AX_BOLT_V(5, 0));
	assert_int_equal(ax_bolt_reset(b, err, sizeof(err)), AX_OK);
	ax_bolt_close(b);
	finish();
}

static void test_late_answer_times_out(void **state)
{
	struct ax_bolt *b;

	(void)state;
	start(HELLO_5_4 "S: SUCCESS {}\n"
			"C: RUN \"RETURN 1\" {} {}\n"
			"C: PULL {\"n\": -1}\n"
			"S: <SLEEP> 1500\n",
	      false);
	opts.user_agent = "alexus-test";
	opts.request_timeout_ms = 300;
	b = connect_ok();
	assert_int_equal(ax_bolt_query(b, "RETURN 1", NULL, NULL, 0, NULL, NULL, NULL, err,
				       sizeof(err)),
			 AX_ETIMEDOUT);
	assert_non_null(strstr(err, "timed out"));
	assert_true(ax_bolt_broken(b));
	assert_int_equal(ax_bolt_pending(b), 0);
	ax_bolt_close(b);
	finish();
}

static void test_message_cap(void **state)
{
	char script[4096];
	struct ax_bolt *b;

	(void)state;
	snprintf(script, sizeof(script),
		 HELLO_5_4 "S: SUCCESS {}\n"
			   "C: RUN \"RETURN big\" {} {}\n"
			   "C: PULL {\"n\": -1}\n"
			   "S: SUCCESS {\"fields\": [\"big\"]}\n"
			   "S: RECORD [{\"$str\": [\"x\", 100000]}]\n");
	start(script, false);
	opts.user_agent = "alexus-test";
	opts.max_message = 65536;
	b = connect_ok();
	assert_int_equal(ax_bolt_query(b, "RETURN big", NULL, NULL, 0, NULL, NULL, NULL, err,
				       sizeof(err)),
			 AX_ETOOBIG);
	assert_non_null(strstr(err, "larger than 65536"));
	ax_bolt_close(b);
	finish();
}

static void test_malformed_response(void **state)
{
	struct ax_bolt *b;

	(void)state;
	/* a one-byte message holding a reserved marker; then a keep-alive */
	start(HELLO_5_4 "S: SUCCESS {}\n"
			"C: RUN \"RETURN 1\" {} {}\n"
			"C: PULL {\"n\": -1}\n"
			"S: <NOOP>\n"
			"S: <RAW> 0001e00000\n",
	      false);
	opts.user_agent = "alexus-test";
	b = connect_ok();
	assert_int_equal(ax_bolt_query(b, "RETURN 1", NULL, NULL, 0, NULL, NULL, NULL, err,
				       sizeof(err)),
			 AX_EPROTO);
	assert_non_null(strstr(err, "unknown marker"));
	ax_bolt_close(b);
	finish();
}

/* A callback that stops early: the rest is DISCARDed, not pulled. */
static void test_stop_discards(void **state)
{
	struct rows rows = { .stop_after = 1 };
	struct ax_bolt *b;

	(void)state;
	start(HELLO_5_4 "S: SUCCESS {}\n"
			"C: RUN \"UNWIND range(1, 5) AS n RETURN n\" {} {\"tx_timeout\": 2000, "
			"\"mode\": \"r\", \"db\": \"graph\", \"bookmarks\": [\"FB:a\", \"FB:b\"]}\n"
			"C: PULL {\"n\": 2}\n"
			"S: SUCCESS {\"fields\": [\"n\"]}\n"
			"S: RECORD [1]\n"
			"S: RECORD [2]\n"
			"S: SUCCESS {\"has_more\": true}\n"
			"C: DISCARD {\"n\": -1}\n"
			"S: SUCCESS {\"bookmark\": \"FB:c\"}\n"
			"C: GOODBYE\n",
	      false);
	opts.user_agent = "alexus-test";
	b = connect_ok();
	{
		static const char *const bms[] = { "FB:a", "FB:b" };
		struct ax_bolt_tx tx = { .db = "graph", .bookmarks = bms, .nbookmarks = 2,
					 .timeout_ms = 2000, .read = true };

		assert_int_equal(ax_bolt_query(b, "UNWIND range(1, 5) AS n RETURN n", NULL, &tx, 2,
					       collect, &rows, NULL, err, sizeof(err)),
				 AX_OK);
	}
	assert_int_equal(rows.n, 1); /* the second record came, but the callback had stopped */
	assert_string_equal(ax_bolt_bookmark(b), "FB:c");
	ax_bolt_close(b);
	finish();
}

static void test_connect_refused(void **state)
{
	struct ax_bolt *b = (void *)1;
	char why[256];
	int port;

	(void)state;
	/* a peer that stopped listening: its port is closed */
	start("!: BOLT 5.4\n", false);
	port = bp_port(peer);
	(void)bp_finish(peer, 10, why, sizeof(why)); /* "no client connected", as meant */
	peer = NULL;
	opts.port = (uint16_t)port;
	assert_int_equal(ax_bolt_connect(&opts, &b, err, sizeof(err)), AX_EIO);
	assert_null(b);
	assert_non_null(strstr(err, "connect to 127.0.0.1"));
}

/* neo4j://: routing context in HELLO, then ROUTE and its table. */
static void test_route(void **state)
{
	struct ax_bolt_routes rt;
	char e[256] = "", *text, *script, *at;
	struct ax_bolt *b;
	size_t n;

	(void)state;
	text = bp_read_file(SCRIPTS "route.router", e, sizeof(e));
	assert_non_null(text);
	/* @WRITER@ -> a made-up address: the table is only read here */
	script = ax_xmalloc(strlen(text) * 2 + 1);
	script[0] = '\0';
	for (at = text; (n = strcspn(at, "@")) < strlen(at); at += n + 8) {
		assert_memory_equal(at + n, "@WRITER@", 8);
		strncat(script, at, n);
		strcat(script, "127.0.0.1:7701");
	}
	strcat(script, at);
	free(text);
	start(script, false);
	free(script);
	opts.routing = true;
	b = connect_ok();
	assert_int_equal(ax_bolt_route(b, NULL, &rt, err, sizeof(err)), AX_OK);
	assert_int_equal(rt.ttl, 300);
	assert_string_equal(rt.db, "neo4j");
	assert_int_equal(rt.nwriters, 1);
	assert_int_equal(rt.nreaders, 1);
	assert_int_equal(rt.nrouters, 1);
	assert_string_equal(rt.writers[0], "127.0.0.1:7701");
	ax_bolt_routes_release(&rt);
	ax_bolt_close(b);
	finish();
}

static void test_parse_uri(void **state)
{
	static const struct {
		const char *uri;
		ax_err rc;
		const char *host;
		unsigned port;
		int tls;
		bool routing;
	} cases[] = {
		{ "bolt://localhost", AX_OK, "localhost", 7687, AX_BOLT_TLS_OFF, false },
		{ "bolt+s://db.example:7000", AX_OK, "db.example", 7000, AX_BOLT_TLS_VERIFY, false },
		{ "bolt+ssc://10.1.2.3:7687/", AX_OK, "10.1.2.3", 7687, AX_BOLT_TLS_ANY, false },
		{ "neo4j://graph", AX_OK, "graph", 7687, AX_BOLT_TLS_OFF, true },
		{ "neo4j+s://x.databases.neo4j.io", AX_OK, "x.databases.neo4j.io", 7687,
		  AX_BOLT_TLS_VERIFY, true },
		{ "neo4j+ssc://[::1]:7688", AX_OK, "::1", 7688, AX_BOLT_TLS_ANY, true },
		{ "http://localhost:7474", AX_EINVAL, NULL, 0, 0, false },
		{ "bolt://", AX_EINVAL, NULL, 0, 0, false },
		{ "bolt://host:0", AX_EINVAL, NULL, 0, 0, false },
		{ "bolt://host:65536", AX_EINVAL, NULL, 0, 0, false },
		{ "bolt://host:", AX_EINVAL, NULL, 0, 0, false },
		{ "bolt://host:76x", AX_EINVAL, NULL, 0, 0, false },
		{ "neo4j://host/db?policy=x", AX_EINVAL, NULL, 0, 0, false },
		{ "bolt://[::1", AX_EINVAL, NULL, 0, 0, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ax_bolt_opts o = { 0 };
		char host[64];

		if (ax_bolt_parse_uri(cases[i].uri, &o, host, sizeof(host)) != cases[i].rc)
			fail_msg("%s: wrong result", cases[i].uri);
		if (cases[i].rc)
			continue;
		assert_string_equal(o.host, cases[i].host);
		assert_int_equal(o.port, cases[i].port);
		assert_int_equal(o.tls, cases[i].tls);
		assert_int_equal(o.routing, cases[i].routing);
	}
}

/* ---------------------------------------------------------------- TLS */

static struct rcv_certs certs;

static int certs_setup(void **state)
{
	(void)state;
	return rcv_certs_make(&certs);
}

static int certs_teardown(void **state)
{
	(void)state;
	rcv_certs_remove(&certs);
	return 0;
}

static void start_tls(const char *script_file)
{
	char e[256] = "";
	char *text = bp_read_file(script_file, e, sizeof(e));

	assert_non_null(text);
	peer = bp_start_tls(text, certs.server_cert, certs.server_key, e, sizeof(e));
	free(text);
	if (!peer)
		fail_msg("peer: %s", e);
	memset(&opts, 0, sizeof(opts));
	opts.host = "127.0.0.1";
	opts.port = (uint16_t)bp_port(peer);
	opts.user = "neo4j";
	opts.password = "secret";
	opts.connect_timeout_ms = 3000;
	opts.request_timeout_ms = 3000;
}

/* bolt+s: the chain to our CA and the address in the certificate. */
static void test_tls_verified(void **state)
{
	struct rows rows = { 0 };
	struct ax_ps_buf params;
	struct ax_bolt *b;

	(void)state;
	start_tls(SCRIPTS "stream.script");
	opts.tls = AX_BOLT_TLS_VERIFY;
	opts.tls_ca_file = certs.ca;
	b = connect_ok();
	ax_ps_buf_init(&params);
	assert_int_equal(bp_encode_text("{\"limit\": 3}", &params, NULL, 0), 0);
	assert_int_equal(ax_bolt_query(b, "UNWIND range(1, $limit) AS n RETURN n, 'x' + n AS s",
				       &params, NULL, 2, collect, &rows, NULL, err, sizeof(err)),
			 AX_OK);
	assert_int_equal(rows.n, 3);
	assert_string_equal(rows.strs[2], "x3");
	ax_ps_buf_release(&params);
	ax_bolt_close(b);
	finish();
}

/* The certificate names localhost as well: verified under that name. */
static void test_tls_server_name(void **state)
{
	struct ax_bolt *b;

	(void)state;
	start_tls(SCRIPTS "v44.script");
	opts.tls = AX_BOLT_TLS_VERIFY;
	opts.tls_ca_file = certs.ca;
	opts.tls_server_name = "localhost";
	b = connect_ok();
	assert_int_equal(ax_bolt_version(b), AX_BOLT_V(4, 4));
	assert_int_equal(ax_bolt_query(b, "RETURN datetime('2023-11-14T22:13:20Z') AS t", NULL, NULL,
				       1000, NULL, NULL, NULL, err, sizeof(err)),
			 AX_OK);
	ax_bolt_close(b);
	finish();
}

static void refused(const char *ca, const char *name, const char *why_part)
{
	struct ax_bolt *b = (void *)1;
	char why[256] = "";

	start_tls(SCRIPTS "stream.script");
	opts.tls = AX_BOLT_TLS_VERIFY;
	opts.tls_ca_file = ca;
	opts.tls_server_name = name;
	assert_int_equal(ax_bolt_connect(&opts, &b, err, sizeof(err)), AX_EAUTH);
	assert_null(b);
	assert_non_null(strstr(err, "server certificate refused"));
	assert_non_null(strstr(err, why_part));
	/* the peer saw the handshake fail: that is its expected report here */
	assert_int_equal(bp_finish(peer, 5000, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "tls"));
	peer = NULL;
}

static void test_tls_refused(void **state)
{
	(void)state;
	refused(certs.other_ca, NULL, "local issuer");         /* another CA */
	refused(certs.ca, "neo4j.example", "mismatch");       /* another name */
}

/* bolt+ssc: encrypted, certificate not checked. */
static void test_tls_any_certificate(void **state)
{
	struct ax_bolt *b;

	(void)state;
	start_tls(SCRIPTS "v44.script");
	opts.tls = AX_BOLT_TLS_ANY;
	b = connect_ok();
	assert_int_equal(ax_bolt_query(b, "RETURN datetime('2023-11-14T22:13:20Z') AS t", NULL, NULL,
				       1000, NULL, NULL, NULL, err, sizeof(err)),
			 AX_OK);
	ax_bolt_close(b);
	finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_5_4),
		cmocka_unit_test(test_failure_then_reset),
		cmocka_unit_test(test_failure_ignored_messages),
		cmocka_unit_test(test_tx_bookmarks),
		cmocka_unit_test(test_bolt_4_4),
		cmocka_unit_test(test_no_common_version),
		cmocka_unit_test(test_dropped_mid_stream),
		cmocka_unit_test(test_auth_refused),
		cmocka_unit_test(test_bolt_5_0_and_no_auth),
		cmocka_unit_test(test_late_answer_times_out),
		cmocka_unit_test(test_message_cap),
		cmocka_unit_test(test_malformed_response),
		cmocka_unit_test(test_stop_discards),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_parse_uri),
	};
	const struct CMUnitTest tls[] = {
		cmocka_unit_test(test_tls_verified),
		cmocka_unit_test(test_tls_server_name),
		cmocka_unit_test(test_tls_refused),
		cmocka_unit_test(test_tls_any_certificate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL) |
	       cmocka_run_group_tests_name("tls", tls, certs_setup, certs_teardown);
}
