/* itest_common.c - libalexus I/O modules against real servers.
 *
 * Needs a running, migrated stack: ALEXUS_REDIS_URL, ALEXUS_DATABASE_URL
 * (the application role) and ALEXUS_ADMIN_DATABASE_URL (the owner) must be
 * set, or the run fails -- nothing is skipped silently.  Every run uses its
 * own stream names and tenants (a random suffix), so runs do not interfere
 * with each other or with daemons on the same stack.
 *
 * Covered: stream round trip, autoclaim delivery counts, dead-lettering;
 * tenant scoping through ax_pg_begin under RLS; the audit hash chain and
 * tamper detection with the same check `alexusctl audit verify` runs; the
 * async Redis connection (rconn) through a private redis-server that the
 * test kills, stops and restarts; and outbound HTTP (httpc) against local
 * receivers.  The rconn tests start their own redis-server (from PATH) so
 * that killing it cannot disturb the shared stack. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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
#include <sys/types.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "alexus/hash.h"
#include "alexus/httpc.h"
#include "alexus/keys.h"
#include "alexus/pg.h"
#include "alexus/rconn.h"
#include "alexus/stream.h"
#include "../lib/receiver.h"

static const char *redis_url, *app_url, *admin_url;
static char run_id[16];          /* random per run */
static redisContext *rc_sync;    /* blocking context for the stream tests */

static const char *need_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		fprintf(stderr, "itest_common: %s is not set (run through tests/run, which "
				"starts the test stack)\n", name);
		exit(1);
	}
	return v;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Number of pending entries of group on stream (XPENDING summary). */
static long long pending_count(const char *stream, const char *group)
{
	redisReply *r = redisCommand(rc_sync, "XPENDING %s %s", stream, group);
	long long n;

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_true(r->elements >= 1);
	assert_int_equal(r->element[0]->type, REDIS_REPLY_INTEGER);
	n = r->element[0]->integer;
	freeReplyObject(r);
	return n;
}

static void stream_name(char *buf, size_t n, const char *what)
{
	snprintf(buf, n, "itest:%s:%s", run_id, what);
}

static void del_key(const char *key)
{
	redisReply *r = redisCommand(rc_sync, "DEL %s", key);

	if (r != NULL)
		freeReplyObject(r);
}

/* An entry with every field set; the strings live in the caller's
 * buffers, so nothing here is freed. */
struct test_entry {
	char tenant[32], id[AX_UUID_LEN], kind[16], trace[AX_TRACE_LEN], data[64];
	struct ax_entry e;
};

static void test_entry_init(struct test_entry *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->tenant, sizeof(t->tenant), "acme");
	ax_uuid4(t->id);
	snprintf(t->kind, sizeof(t->kind), "alert");
	ax_trace_new(t->trace);
	snprintf(t->data, sizeof(t->data), "{\"n\":1,\"s\":\"x y\"}");
	t->e.tenant = t->tenant;
	t->e.id = t->id;
	t->e.kind = t->kind;
	t->e.trace = t->trace;
	t->e.data = t->data;
}

static void assert_entry_fields(const struct ax_entry *got, const struct test_entry *want)
{
	assert_non_null(got->v);
	assert_string_equal(got->v, "1");
	assert_non_null(got->tenant);
	assert_string_equal(got->tenant, want->tenant);
	assert_non_null(got->id);
	assert_string_equal(got->id, want->id);
	assert_non_null(got->kind);
	assert_string_equal(got->kind, want->kind);
	assert_non_null(got->trace);
	assert_string_equal(got->trace, want->trace);
	assert_non_null(got->data);
	assert_string_equal(got->data, want->data);
	assert_int_equal(got->deleted, 0);
}

/* ---- streams ---------------------------------------------------------- */

static void test_stream_roundtrip(void **state)
{
	char stream[96], id[64], err[256];
	struct ax_entry out[8];
	struct test_entry t;
	redisReply *r;
	int n;

	(void)state;
	stream_name(stream, sizeof(stream), "roundtrip");
	assert_int_equal(ax_group_ensure(rc_sync, stream, "g", err, sizeof(err)), AX_OK);
	/* An existing group is fine. */
	assert_int_equal(ax_group_ensure(rc_sync, stream, "g", err, sizeof(err)), AX_OK);

	test_entry_init(&t);
	assert_int_equal(ax_stream_add(rc_sync, stream, &t.e, id, sizeof(id), err, sizeof(err)),
			 AX_OK);
	assert_non_null(strchr(id, '-'));

	memset(out, 0, sizeof(out));
	assert_int_equal(ax_group_read(rc_sync, stream, "g", "c1", 10, 100, out, 8, &n, err,
				       sizeof(err)), AX_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].stream_id, id);
	assert_entry_fields(&out[0], &t);
	assert_int_equal(out[0].deliveries, 1);
	assert_int_equal(pending_count(stream, "g"), 1);

	assert_int_equal(ax_group_ack(rc_sync, stream, "g", out[0].stream_id, err, sizeof(err)),
			 AX_OK);
	assert_int_equal(pending_count(stream, "g"), 0);
	ax_entry_release(&out[0]);
	assert_null(out[0].stream_id);

	/* Nothing new: the block expires and no entry comes back. */
	assert_int_equal(ax_group_read(rc_sync, stream, "g", "c1", 10, 50, out, 8, &n, err,
				       sizeof(err)), AX_OK);
	assert_int_equal(n, 0);

	/* A malformed entry still arrives, missing fields NULL, unknown
	 * fields ignored, so the consumer can dead-letter it. */
	r = redisCommand(rc_sync, "XADD %s * v 1 junk yes tenant t1", stream);
	assert_non_null(r);
	freeReplyObject(r);
	assert_int_equal(ax_group_read(rc_sync, stream, "g", "c1", 10, 100, out, 8, &n, err,
				       sizeof(err)), AX_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].tenant, "t1");
	assert_null(out[0].kind);
	assert_null(out[0].data);
	assert_int_equal(ax_group_ack(rc_sync, stream, "g", out[0].stream_id, err, sizeof(err)),
			 AX_OK);
	ax_entry_release(&out[0]);

	/* COUNT is capped at max: three entries, room for two. */
	for (n = 0; n < 3; n++)
		assert_int_equal(ax_stream_add(rc_sync, stream, &t.e, NULL, 0, err, sizeof(err)),
				 AX_OK);
	assert_int_equal(ax_group_read(rc_sync, stream, "g", "c1", 10, 100, out, 2, &n, err,
				       sizeof(err)), AX_OK);
	assert_int_equal(n, 2);
	ax_entry_release(&out[0]);
	ax_entry_release(&out[1]);

	/* An entry without its required fields is refused before Redis. */
	t.e.data = NULL;
	assert_int_equal(ax_stream_add(rc_sync, stream, &t.e, NULL, 0, err, sizeof(err)),
			 AX_EINVAL);

	/* A missing group is an error reply, not a broken connection. */
	assert_int_equal(ax_group_read(rc_sync, stream, "nogroup", "c1", 1, 10, out, 8, &n, err,
				       sizeof(err)), AX_EIO);
	assert_non_null(strstr(err, "NOGROUP"));
	assert_int_equal(rc_sync->err, 0);
	del_key(stream);
}

static void test_stream_autoclaim(void **state)
{
	char stream[96], cursor[64], err[256], id2[64];
	struct ax_entry out[8];
	struct test_entry t;
	redisReply *r;
	int n;

	(void)state;
	stream_name(stream, sizeof(stream), "autoclaim");
	assert_int_equal(ax_group_ensure(rc_sync, stream, "g", err, sizeof(err)), AX_OK);
	test_entry_init(&t);
	assert_int_equal(ax_stream_add(rc_sync, stream, &t.e, NULL, 0, err, sizeof(err)), AX_OK);
	memset(out, 0, sizeof(out));
	assert_int_equal(ax_group_read(rc_sync, stream, "g", "crashed", 10, 100, out, 8, &n, err,
				       sizeof(err)), AX_OK);
	assert_int_equal(n, 1);
	ax_entry_release(&out[0]);      /* "crashed": never acked */

	/* Not idle long enough yet: nothing is claimed. */
	snprintf(cursor, sizeof(cursor), "0-0");
	assert_int_equal(ax_group_autoclaim(rc_sync, stream, "g", "c2", 60000, cursor, 10, out, 8,
					    &n, err, sizeof(err)), AX_OK);
	assert_int_equal(n, 0);

	sleep_ms(60);
	snprintf(cursor, sizeof(cursor), "0-0");
	assert_int_equal(ax_group_autoclaim(rc_sync, stream, "g", "c2", 30, cursor, 10, out, 8, &n,
					    err, sizeof(err)), AX_OK);
	assert_int_equal(n, 1);
	assert_entry_fields(&out[0], &t);
	assert_true(out[0].deliveries >= 2);
	assert_string_equal(cursor, "0-0");
	ax_entry_release(&out[0]);

	/* An entry deleted while pending is dropped by Redis 7's XAUTOCLAIM
	 * (reported among the deleted ids) and never handed to us. */
	assert_int_equal(ax_stream_add(rc_sync, stream, &t.e, id2, sizeof(id2), err, sizeof(err)),
			 AX_OK);
	assert_int_equal(ax_group_read(rc_sync, stream, "g", "crashed", 10, 100, out, 8, &n, err,
				       sizeof(err)), AX_OK);
	assert_int_equal(n, 1);
	ax_entry_release(&out[0]);
	r = redisCommand(rc_sync, "XDEL %s %s", stream, id2);
	assert_non_null(r);
	freeReplyObject(r);
	assert_int_equal(pending_count(stream, "g"), 2);
	sleep_ms(60);
	snprintf(cursor, sizeof(cursor), "0-0");
	assert_int_equal(ax_group_autoclaim(rc_sync, stream, "g", "c3", 30, cursor, 10, out, 8, &n,
					    err, sizeof(err)), AX_OK);
	/* The first entry (idle again) comes back, the deleted one not. */
	assert_int_equal(n, 1);
	assert_string_equal(out[0].id, t.id);
	assert_true(out[0].deliveries >= 3);
	ax_entry_release(&out[0]);
	assert_int_equal(pending_count(stream, "g"), 1);
	del_key(stream);
}

/* The alexus:dlq copy of stream/origin_id: its entry id (in id) and the
 * reason, tenant and data fields (copied into the buffers); 0 if absent.
 * Both origin fields are matched: entry ids repeat across streams. */
struct dlq_copy {
	char id[64], reason[128], tenant[64], data[128];
};

static int dlq_find(const char *stream, const char *origin_id, struct dlq_copy *out)
{
	redisReply *r = redisCommand(rc_sync, "XREVRANGE %s + - COUNT 1000", AX_STREAM_DLQ);
	size_t i, j;
	int found = 0;

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	memset(out, 0, sizeof(*out));
	for (i = 0; i < r->elements && !found; i++) {
		const redisReply *e = r->element[i], *f = e->element[1];
		int oid = 0, ostream = 0;

		for (j = 0; j + 1 < f->elements; j += 2) {
			const char *k = f->element[j]->str, *v = f->element[j + 1]->str;

			if (strcmp(k, "origin_id") == 0)
				oid = strcmp(v, origin_id) == 0;
			else if (strcmp(k, "origin_stream") == 0)
				ostream = strcmp(v, stream) == 0;
		}
		if (!oid || !ostream)
			continue;
		found = 1;
		snprintf(out->id, sizeof(out->id), "%s", e->element[0]->str);
		for (j = 0; j + 1 < f->elements; j += 2) {
			const char *k = f->element[j]->str, *v = f->element[j + 1]->str;

			if (strcmp(k, "reason") == 0)
				snprintf(out->reason, sizeof(out->reason), "%s", v);
			else if (strcmp(k, "tenant") == 0)
				snprintf(out->tenant, sizeof(out->tenant), "%s", v);
			else if (strcmp(k, "data") == 0)
				snprintf(out->data, sizeof(out->data), "%s", v);
		}
	}
	freeReplyObject(r);
	return found;
}

static void test_stream_dead_letter(void **state)
{
	char stream[96], err[256];
	struct ax_entry out[8], gone;
	struct dlq_copy copy;
	struct test_entry t;
	redisReply *r;
	int n;

	(void)state;
	stream_name(stream, sizeof(stream), "dlq");
	assert_int_equal(ax_group_ensure(rc_sync, stream, "g", err, sizeof(err)), AX_OK);
	test_entry_init(&t);
	assert_int_equal(ax_stream_add(rc_sync, stream, &t.e, NULL, 0, err, sizeof(err)), AX_OK);
	memset(out, 0, sizeof(out));
	assert_int_equal(ax_group_read(rc_sync, stream, "g", "c1", 10, 100, out, 8, &n, err,
				       sizeof(err)), AX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ax_dead_letter(rc_sync, stream, "g", &out[0], "itest: too many deliveries",
					err, sizeof(err)), AX_OK);
	assert_int_equal(pending_count(stream, "g"), 0);

	assert_true(dlq_find(stream, out[0].stream_id, &copy));
	assert_string_equal(copy.reason, "itest: too many deliveries");
	assert_string_equal(copy.tenant, t.tenant);
	assert_string_equal(copy.data, t.data);
	/* Leave the shared DLQ as we found it. */
	r = redisCommand(rc_sync, "XDEL %s %s", AX_STREAM_DLQ, copy.id);
	freeReplyObject(r);
	ax_entry_release(&out[0]);

	/* A deleted entry is only acknowledged, nothing is copied. */
	assert_int_equal(ax_stream_add(rc_sync, stream, &t.e, NULL, 0, err, sizeof(err)), AX_OK);
	assert_int_equal(ax_group_read(rc_sync, stream, "g", "c1", 10, 100, out, 8, &n, err,
				       sizeof(err)), AX_OK);
	assert_int_equal(n, 1);
	memset(&gone, 0, sizeof(gone));
	gone.stream_id = out[0].stream_id;
	gone.deleted = 1;
	assert_int_equal(ax_dead_letter(rc_sync, stream, "g", &gone, "gone", err, sizeof(err)),
			 AX_OK);
	assert_false(dlq_find(stream, gone.stream_id, &copy));
	assert_int_equal(pending_count(stream, "g"), 0);
	ax_entry_release(&out[0]);

	assert_int_equal(ax_publish_event(rc_sync, "acme", "{\"e\":1}", err, sizeof(err)), AX_OK);
	assert_int_equal(ax_publish_event(rc_sync, "Bad}", "{}", err, sizeof(err)), AX_EINVAL);
	del_key(stream);
}

static void test_redis_connect_errors(void **state)
{
	char err[256];
	redisContext *c;

	(void)state;
	c = ax_redis_connect("http://127.0.0.1:1", 500, err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, "invalid redis url"));
	c = ax_redis_connect("redis://127.0.0.1:1", 500, err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, "127.0.0.1:1"));
}

/* ---- postgres: tenant scoping and the audit chain --------------------- */

static struct ax_pg *pg_admin, *pg_app;
static char tenant_a[64], tenant_b[64];

static PGresult *q(struct ax_pg *pg, const char *sql, int n, const char *const *params)
{
	char err[512];
	PGresult *res = ax_pg_exec(pg, err, sizeof(err), sql, n, params);

	if (res == NULL) {
		fprintf(stderr, "query failed: %s\n  %s\n", err, sql);
		fail();
	}
	return res;
}

static long q_long(struct ax_pg *pg, const char *sql, int n, const char *const *params)
{
	PGresult *res = q(pg, sql, n, params);
	long v = PQntuples(res) > 0 ? atol(PQgetvalue(res, 0, 0)) : -1;

	PQclear(res);
	return v;
}

static void begin(struct ax_pg *pg, const char *tenant)
{
	char err[512];

	if (ax_pg_begin(pg, tenant, err, sizeof(err)) != AX_OK) {
		fprintf(stderr, "begin(%s): %s\n", tenant ? tenant : "-", err);
		fail();
	}
}

static void commit(struct ax_pg *pg)
{
	char err[512];

	if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		fprintf(stderr, "commit: %s\n", err);
		fail();
	}
}

static void create_tenant(const char *id)
{
	const char *params[1] = { id };

	/* Scoped even for the owner: RLS is FORCEd on tenants. */
	begin(pg_admin, id);
	PQclear(q(pg_admin, "INSERT INTO tenants (id, name) VALUES ($1, $1)", 1, params));
	commit(pg_admin);
}

static int pg_setup(void **state)
{
	char err[512];

	(void)state;
	pg_admin = ax_pg_new(admin_url);
	pg_app = ax_pg_new(app_url);
	if (ax_pg_ensure(pg_admin, err, sizeof(err)) != AX_OK ||
	    ax_pg_ensure(pg_app, err, sizeof(err)) != AX_OK) {
		fprintf(stderr, "itest_common: %s\n", err);
		return -1;
	}
	snprintf(tenant_a, sizeof(tenant_a), "it-%s-a", run_id);
	snprintf(tenant_b, sizeof(tenant_b), "it-%s-b", run_id);
	create_tenant(tenant_a);
	create_tenant(tenant_b);
	return 0;
}

static int pg_teardown(void **state)
{
	(void)state;
	ax_pg_free(pg_admin);
	ax_pg_free(pg_app);
	return 0;
}

static void test_pg_scoping(void **state)
{
	const char *pa[1] = { tenant_a };
	const char *pid[1];
	char err[512], inc[AX_UUID_LEN];
	PGresult *res;

	(void)state;
	/* Tenant A writes an incident through the application role. */
	begin(pg_app, tenant_a);
	res = q(pg_app,
		"INSERT INTO incidents (tenant_id, id, title, status, severity, stage, group_key)"
		" VALUES ($1, gen_random_uuid(), 'disk full', 'open', 'high', 'classify', 'g1')"
		" RETURNING id",
		1, pa);
	assert_int_equal(PQntuples(res), 1);
	snprintf(inc, sizeof(inc), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	commit(pg_app);
	pid[0] = inc;

	begin(pg_app, tenant_a);
	assert_int_equal(q_long(pg_app, "SELECT count(*) FROM incidents WHERE id = $1", 1, pid), 1);
	ax_pg_rollback(pg_app);

	/* Tenant B can neither see nor change it. */
	begin(pg_app, tenant_b);
	assert_int_equal(q_long(pg_app, "SELECT count(*) FROM incidents WHERE id = $1", 1, pid), 0);
	res = q(pg_app, "UPDATE incidents SET title = 'pwned' WHERE id = $1", 1, pid);
	assert_string_equal(PQcmdTuples(res), "0");
	PQclear(res);
	/* Nor write rows in A's name (WITH CHECK). */
	res = ax_pg_exec(pg_app, err, sizeof(err),
			 "INSERT INTO incidents (tenant_id, id, title, status, severity, stage,"
			 " group_key) VALUES ($1, gen_random_uuid(), 'x', 'open', 'high', 's', 'g2')",
			 1, pa);
	assert_null(res);
	assert_string_equal(ax_pg_sqlstate(pg_app), "42501");
	ax_pg_rollback(pg_app);

	/* No tenant in the transaction: nothing at all is visible. */
	begin(pg_app, NULL);
	assert_int_equal(q_long(pg_app, "SELECT count(*) FROM incidents", 0, NULL), 0);
	assert_int_equal(q_long(pg_app, "SELECT count(*) FROM tenants", 0, NULL), 0);
	ax_pg_rollback(pg_app);
	/* Nor outside any transaction (the scope died with the last one). */
	assert_int_equal(q_long(pg_app, "SELECT count(*) FROM incidents", 0, NULL), 0);

	/* The title is untouched, as A sees it. */
	begin(pg_app, tenant_a);
	res = q(pg_app, "SELECT title FROM incidents WHERE id = $1", 1, pid);
	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), "disk full");
	PQclear(res);
	ax_pg_rollback(pg_app);

	/* An invalid tenant id never reaches the server. */
	assert_int_equal(ax_pg_begin(pg_app, "Bad'; --", err, sizeof(err)), AX_EINVAL);
}

static void test_pg_errors(void **state)
{
	const char *pa[1] = { tenant_a };
	char err[512];
	PGresult *res;

	(void)state;
	/* A unique violation keeps its SQLSTATE. */
	begin(pg_admin, tenant_a);
	res = ax_pg_exec(pg_admin, err, sizeof(err),
			 "INSERT INTO tenants (id, name) VALUES ($1, $1)", 1, pa);
	assert_null(res);
	assert_string_equal(ax_pg_sqlstate(pg_admin), "23505");
	/* Committing the failed transaction is an error, not a success. */
	assert_int_equal(ax_pg_commit(pg_admin, err, sizeof(err)), AX_EIO);
	assert_int_equal(PQtransactionStatus(ax_pg_conn(pg_admin)), PQTRANS_IDLE);

	/* A transaction left open is rolled back by the next begin. */
	begin(pg_app, tenant_a);
	begin(pg_app, tenant_b);
	assert_int_equal(q_long(pg_app, "SELECT count(*) FROM incidents", 0, NULL), 0);
	ax_pg_rollback(pg_app);

	/* A server-side kill of the connection is noticed and the next
	 * begin reconnects. */
	begin(pg_app, tenant_a);
	{
		char pid[24];
		const char *pp[1] = { pid };

		snprintf(pid, sizeof(pid), "%d", PQbackendPID(ax_pg_conn(pg_app)));
		begin(pg_admin, NULL);
		assert_int_equal(q_long(pg_admin, "SELECT pg_terminate_backend($1::int)::int", 1, pp),
				 1);
		commit(pg_admin);
	}
	res = ax_pg_exec(pg_app, err, sizeof(err), "SELECT 1", 0, NULL);
	assert_null(res);
	assert_true(strncmp(ax_pg_sqlstate(pg_app), "08", 2) == 0 ||
		    strcmp(ax_pg_sqlstate(pg_app), "57P01") == 0);
	ax_pg_rollback(pg_app);
	begin(pg_app, tenant_a);
	assert_int_equal(q_long(pg_app, "SELECT 1", 0, NULL), 1);
	ax_pg_rollback(pg_app);
}

static void test_audit_chain(void **state)
{
	const char *pa[1] = { tenant_a };
	char err[512];
	long long rows = -1, broken = -1;
	int i;

	(void)state;
	begin(pg_app, tenant_a);
	for (i = 0; i < 4; i++)
		PQclear(q(pg_app,
			  "SELECT audit_append('itest', 'notify', 'incident/x',"
			  " '{\"attempt\": 1, \"ok\": true}'::jsonb, 'trace-1')",
			  0, NULL));
	commit(pg_app);
	/* B's chain is separate (and empty). */
	assert_int_equal(ax_pg_audit_verify(pg_app, tenant_b, &rows, &broken, err, sizeof(err)),
			 AX_OK);
	assert_int_equal(rows, 0);
	assert_int_equal(broken, 0);

	assert_int_equal(ax_pg_audit_verify(pg_app, tenant_a, &rows, &broken, err, sizeof(err)),
			 AX_OK);
	assert_int_equal(rows, 4);
	assert_int_equal(broken, 0);

	/* The application role cannot rewrite history at all. */
	begin(pg_app, tenant_a);
	assert_null(ax_pg_exec(pg_app, err, sizeof(err),
			       "UPDATE audit_log SET subject = 'x' WHERE seq = 2", 0, NULL));
	assert_string_equal(ax_pg_sqlstate(pg_app), "42501");
	ax_pg_rollback(pg_app);

	/* The owner can; the chain shows it. */
	begin(pg_admin, tenant_a);
	PQclear(q(pg_admin, "UPDATE audit_log SET subject = 'incident/y' WHERE tenant_id = $1"
			    " AND seq = 2", 1, pa));
	commit(pg_admin);
	assert_int_equal(ax_pg_audit_verify(pg_app, tenant_a, &rows, &broken, err, sizeof(err)),
			 AX_OK);
	assert_int_equal(rows, 4);
	assert_int_equal(broken, 2);

	/* Recomputing the tampered row's hash just moves the break to the
	 * next link. */
	begin(pg_admin, tenant_a);
	PQclear(q(pg_admin,
		  "UPDATE audit_log SET hash = sha256(prev_hash || audit_link_text(tenant_id, seq,"
		  " at, actor, action, subject, detail, trace)) WHERE tenant_id = $1 AND seq = 2",
		  1, pa));
	commit(pg_admin);
	assert_int_equal(ax_pg_audit_verify(pg_app, tenant_a, &rows, &broken, err, sizeof(err)),
			 AX_OK);
	assert_int_equal(broken, 3);
}

/* ---- rconn against a private redis-server ----------------------------- */

static pid_t redis_pid;
static int redis_port;

static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void private_redis_start(void)
{
	char port[16];
	long long deadline = now_ms() + 5000;

	snprintf(port, sizeof(port), "%d", redis_port);
	redis_pid = fork();
	assert_true(redis_pid >= 0);
	if (redis_pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
		_exit(127);
	}
	while (now_ms() < deadline) {
		struct timeval tv = { 0, 200000 };
		redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
		int ok = c != NULL && c->err == 0;

		if (c != NULL)
			redisFree(c);
		if (ok)
			return;
		sleep_ms(20);
	}
	fail_msg("private redis-server did not start on port %d", redis_port);
}

static void private_redis_kill(int sig)
{
	int st;

	if (redis_pid <= 0)
		return;
	kill(redis_pid, sig);
	if (sig == SIGKILL || sig == SIGTERM) {
		waitpid(redis_pid, &st, 0);
		redis_pid = 0;
	}
}

struct call {
	int calls;
	ax_err rc;
	int type;         /* reply type when rc == AX_OK */
	long long integer;
};

static void on_call(ax_err rc, struct redisReply *reply, void *arg)
{
	struct call *c = arg;

	c->calls++;
	c->rc = rc;
	if (rc == AX_OK) {
		assert_non_null(reply);
		c->type = reply->type;
		c->integer = reply->integer;
	} else {
		assert_null(reply);
	}
}

struct wait_calls {
	struct call *calls;
	int n;
};

static int all_done(void *arg)
{
	struct wait_calls *w = arg;
	int i;

	for (i = 0; i < w->n; i++)
		if (w->calls[i].calls == 0)
			return 0;
	return 1;
}

static int never(void *arg)
{
	(void)arg;
	return 0;
}

static int is_ready(void *arg)
{
	return ax_rconn_ready(arg);
}

/* Run the loop until cond(arg) or timeout_ms; returns cond(arg). */
static int run_until(struct event_base *base, int (*cond)(void *), void *arg, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	while (!cond(arg) && now_ms() < deadline) {
		struct timeval tv = { 0, 5000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return cond(arg);
}

static ax_err cmd(struct ax_rconn *rc, struct call *c, const char *a0, const char *a1,
		  const char *a2)
{
	const char *argv[3] = { a0, a1, a2 };
	int argc = a2 ? 3 : a1 ? 2 : 1;

	return ax_rconn_cmdargv(rc, on_call, c, argc, argv, NULL);
}

static int rconn_setup(void **state)
{
	(void)state;
	redis_port = free_port();
	private_redis_start();
	return 0;
}

static int rconn_teardown(void **state)
{
	(void)state;
	if (redis_pid > 0) {
		kill(redis_pid, SIGCONT);
		private_redis_kill(SIGKILL);
	}
	return 0;
}

#define NCMD 64

static void test_rconn_roundtrip_and_kill(void **state)
{
	struct ax_rconn_opts o = { "127.0.0.1", 0, 1000, 50 };
	struct event_base *base = event_base_new();
	struct call calls[NCMD + 1];
	struct wait_calls w = { calls, NCMD };
	struct ax_rconn *rc;
	struct call one;
	int i;

	(void)state;
	o.port = redis_port;
	rc = ax_rconn_new(base, &o);
	assert_non_null(rc);
	assert_true(run_until(base, is_ready, rc, 3000));

	/* A pipeline of commands, each answered exactly once, in order. */
	memset(calls, 0, sizeof(calls));
	for (i = 0; i < NCMD; i++)
		assert_int_equal(cmd(rc, &calls[i], "INCR", "itest:ctr", NULL), AX_OK);
	assert_true(run_until(base, all_done, &w, 3000));
	for (i = 0; i < NCMD; i++) {
		assert_int_equal(calls[i].calls, 1);
		assert_int_equal(calls[i].rc, AX_OK);
		assert_int_equal(calls[i].type, REDIS_REPLY_INTEGER);
		assert_int_equal(calls[i].integer, i + 1);
	}
	/* An error reply is a reply. */
	memset(&one, 0, sizeof(one));
	assert_int_equal(cmd(rc, &one, "NOSUCHCOMMAND", NULL, NULL), AX_OK);
	w.calls = &one;
	w.n = 1;
	assert_true(run_until(base, all_done, &w, 3000));
	assert_int_equal(one.rc, AX_OK);
	assert_int_equal(one.type, REDIS_REPLY_ERROR);

	/* Kill the server with commands in flight: a BLPOP holds the rest
	 * behind it, so none can have been answered. */
	memset(calls, 0, sizeof(calls));
	assert_int_equal(cmd(rc, &calls[0], "BLPOP", "itest:nolist", "10"), AX_OK);
	for (i = 1; i < NCMD; i++)
		assert_int_equal(cmd(rc, &calls[i], "INCR", "itest:ctr", NULL), AX_OK);
	{
		struct event_base *b = base;
		struct timeval tv = { 0, 50000 };

		event_base_loopexit(b, &tv);
		event_base_dispatch(b);
	}
	private_redis_kill(SIGKILL);
	w.calls = calls;
	w.n = NCMD;
	assert_true(run_until(base, all_done, &w, 3000));
	for (i = 0; i < NCMD; i++) {
		assert_int_equal(calls[i].calls, 1);
		assert_int_equal(calls[i].rc, AX_EIO);
	}
	assert_false(ax_rconn_ready(rc));
	assert_int_equal(cmd(rc, &one, "PING", NULL, NULL), AX_EAGAIN);

	/* Restart it: the connection comes back by itself and works. */
	run_until(base, never, NULL, 300);      /* a few failed reconnects */
	private_redis_start();
	assert_true(run_until(base, is_ready, rc, 5000));
	memset(&one, 0, sizeof(one));
	assert_int_equal(cmd(rc, &one, "PING", NULL, NULL), AX_OK);
	w.calls = &one;
	w.n = 1;
	assert_true(run_until(base, all_done, &w, 3000));
	assert_int_equal(one.rc, AX_OK);
	assert_int_equal(one.type, REDIS_REPLY_STATUS);

	/* Freeing with commands in flight fails them all with AX_EIO. */
	memset(calls, 0, sizeof(calls));
	assert_int_equal(cmd(rc, &calls[0], "BLPOP", "itest:nolist", "10"), AX_OK);
	for (i = 1; i < 8; i++)
		assert_int_equal(cmd(rc, &calls[i], "PING", NULL, NULL), AX_OK);
	ax_rconn_free(rc);
	for (i = 0; i < 8; i++) {
		assert_int_equal(calls[i].calls, 1);
		assert_int_equal(calls[i].rc, AX_EIO);
	}
	event_base_free(base);
}

static void test_rconn_timeout(void **state)
{
	struct ax_rconn_opts o = { "127.0.0.1", 0, 300, 50 };
	struct event_base *base = event_base_new();
	struct call calls[8], one;
	struct wait_calls w = { calls, 8 };
	struct ax_rconn *rc;
	long long t0;
	int i;

	(void)state;
	o.port = redis_port;
	rc = ax_rconn_new(base, &o);
	assert_true(run_until(base, is_ready, rc, 3000));

	/* A stopped server accepts nothing: every command times out. */
	private_redis_kill(SIGSTOP);
	memset(calls, 0, sizeof(calls));
	t0 = now_ms();
	for (i = 0; i < 8; i++)
		assert_int_equal(cmd(rc, &calls[i], "PING", NULL, NULL), AX_OK);
	assert_true(run_until(base, all_done, &w, 3000));
	assert_true(now_ms() - t0 >= 250);
	for (i = 0; i < 8; i++) {
		assert_int_equal(calls[i].calls, 1);
		assert_int_equal(calls[i].rc, AX_ETIMEDOUT);
	}
	kill(redis_pid, SIGCONT);

	/* Back to normal once the server runs again (the first commands may
	 * still meet a reconnect made while it was stopped). */
	{
		long long deadline = now_ms() + 5000;
		int ok = 0;

		while (!ok && now_ms() < deadline) {
			memset(&one, 0, sizeof(one));
			if (!run_until(base, is_ready, rc, 1000))
				continue;
			if (cmd(rc, &one, "PING", NULL, NULL) != AX_OK)
				continue;
			w.calls = &one;
			w.n = 1;
			assert_true(run_until(base, all_done, &w, 3000));
			ok = one.rc == AX_OK;
		}
		assert_true(ok);
	}
	ax_rconn_free(rc);
	event_base_free(base);
}

/* Frees the connection from inside the first reply callback. */
struct free_in_cb {
	struct ax_rconn *rc;
	struct call calls[6];
};

static void on_first(ax_err rc, struct redisReply *reply, void *arg)
{
	struct free_in_cb *f = arg;

	on_call(rc, reply, &f->calls[0]);
	ax_rconn_free(f->rc);
}

static void test_rconn_free_in_callback(void **state)
{
	struct ax_rconn_opts o = { "127.0.0.1", 0, 1000, 50 };
	struct event_base *base = event_base_new();
	struct free_in_cb f;
	struct wait_calls w;
	const char *argv[1] = { "PING" };
	int i;

	(void)state;
	o.port = redis_port;
	memset(&f, 0, sizeof(f));
	f.rc = ax_rconn_new(base, &o);
	assert_true(run_until(base, is_ready, f.rc, 3000));
	assert_int_equal(ax_rconn_cmdargv(f.rc, on_first, &f, 1, argv, NULL), AX_OK);
	for (i = 1; i < 6; i++)
		assert_int_equal(cmd(f.rc, &f.calls[i], "PING", NULL, NULL), AX_OK);
	w.calls = f.calls;
	w.n = 6;
	assert_true(run_until(base, all_done, &w, 3000));
	assert_int_equal(f.calls[0].rc, AX_OK);
	for (i = 1; i < 6; i++) {
		assert_int_equal(f.calls[i].calls, 1);
		/* Either answered before the free got to it, or failed. */
		assert_true(f.calls[i].rc == AX_OK || f.calls[i].rc == AX_EIO);
	}
	/* Let hiredis finish its deferred free, then nothing more fires. */
	run_until(base, all_done, &w, 50);
	for (i = 0; i < 6; i++)
		assert_int_equal(f.calls[i].calls, 1);
	event_base_free(base);
}

/* The same from inside a callback that a deadline drop is failing: the
 * free nests inside hiredis tearing the context down. */
static void test_rconn_free_in_failing_callback(void **state)
{
	struct ax_rconn_opts o = { "127.0.0.1", 0, 200, 50 };
	struct event_base *base = event_base_new();
	struct free_in_cb f;
	struct wait_calls w;
	const char *argv[1] = { "PING" };
	int i;

	(void)state;
	o.port = redis_port;
	memset(&f, 0, sizeof(f));
	f.rc = ax_rconn_new(base, &o);
	assert_true(run_until(base, is_ready, f.rc, 3000));
	private_redis_kill(SIGSTOP);
	assert_int_equal(ax_rconn_cmdargv(f.rc, on_first, &f, 1, argv, NULL), AX_OK);
	for (i = 1; i < 6; i++)
		assert_int_equal(cmd(f.rc, &f.calls[i], "PING", NULL, NULL), AX_OK);
	w.calls = f.calls;
	w.n = 6;
	assert_true(run_until(base, all_done, &w, 3000));
	kill(redis_pid, SIGCONT);
	assert_int_equal(f.calls[0].rc, AX_ETIMEDOUT);
	for (i = 1; i < 6; i++) {
		assert_int_equal(f.calls[i].calls, 1);
		assert_true(f.calls[i].rc == AX_ETIMEDOUT || f.calls[i].rc == AX_EIO);
	}
	run_until(base, never, NULL, 100);
	for (i = 0; i < 6; i++)
		assert_int_equal(f.calls[i].calls, 1);
	event_base_free(base);
}

static void test_rconn_unreachable(void **state)
{
	struct ax_rconn_opts o = { "127.0.0.1", 0, 200, 20 };
	struct event_base *base = event_base_new();
	struct ax_rconn *rc;
	struct call one;

	(void)state;
	o.port = free_port();        /* nothing listens there */
	rc = ax_rconn_new(base, &o);
	assert_non_null(rc);
	assert_false(run_until(base, is_ready, rc, 300));
	memset(&one, 0, sizeof(one));
	assert_int_equal(cmd(rc, &one, "PING", NULL, NULL), AX_EAGAIN);
	assert_int_equal(one.calls, 0);
	ax_rconn_free(rc);
	ax_rconn_free(NULL);
	o.port = 0;
	assert_null(ax_rconn_new(base, &o));
	event_base_free(base);
}

/* ---- httpc ------------------------------------------------------------ */

/* A raw TCP server for the cases evhttp cannot play: an answer larger
 * than the cap, or no answer at all. */
struct raw_server {
	int fd;
	int port;
	int silent;         /* accept and never answer */
	size_t body_len;    /* size of the 200 body otherwise */
	pthread_t thread;
};

static void *raw_run(void *arg)
{
	struct raw_server *s = arg;
	char buf[8192];
	int c = accept(s->fd, NULL, NULL);
	size_t got = 0;

	if (c < 0)
		return NULL;
	/* Read the request head (our bodies are small and come with it). */
	while (got < sizeof(buf) - 1) {
		ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	if (s->silent) {
		sleep_ms(1500);
	} else {
		char head[128];
		char *body = malloc(s->body_len);
		size_t off = 0;

		memset(body, 'a', s->body_len);
		snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 s->body_len);
		if (write(c, head, strlen(head)) < 0)
			off = s->body_len;
		while (off < s->body_len) {
			ssize_t n = write(c, body + off, s->body_len - off);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
		free(body);
	}
	close(c);
	return NULL;
}

static void raw_start(struct raw_server *s, int silent, size_t body_len)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1;

	s->silent = silent;
	s->body_len = body_len;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->fd, 4), 0);
	getsockname(s->fd, (struct sockaddr *)&sa, &sl);
	s->port = ntohs(sa.sin_port);
	pthread_create(&s->thread, NULL, raw_run, s);
}

static void raw_stop(struct raw_server *s)
{
	pthread_join(s->thread, NULL);
	close(s->fd);
}

static void test_httpc(void **state)
{
	const char *headers[] = { "Content-Type: application/json", "Idempotency-Key: k-1", NULL };
	struct receiver *rv = rcv_start(200);
	struct ax_httpc_resp resp;
	const struct rcv_request *req;
	struct raw_server raw;
	char url[128], err[256], hv[64];
	long long t0;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", rcv_port(rv));
	assert_int_equal(ax_httpc_post(url, headers, "{\"a\":1}", 7, 2000, &resp, err,
				       sizeof(err)), AX_OK);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "{\"ok\":true}");
	ax_httpc_resp_release(&resp);
	assert_int_equal(rcv_wait(rv, 1, 2000), 1);
	req = rcv_get(rv, 0);
	assert_string_equal(req->method, "POST");
	assert_string_equal(req->path, "/hook");
	assert_string_equal(req->body, "{\"a\":1}");
	assert_non_null(rcv_header(req, "idempotency-key", hv, sizeof(hv)));
	assert_string_equal(hv, "k-1");
	assert_non_null(rcv_header(req, "content-type", hv, sizeof(hv)));
	assert_string_equal(hv, "application/json");

	/* Any status is a response; a redirect is not followed. */
	rcv_script(rv, 503, 1);
	rcv_script(rv, 302, 1);
	assert_int_equal(ax_httpc_post(url, NULL, "x", 1, 2000, &resp, err, sizeof(err)), AX_OK);
	assert_int_equal(resp.status, 503);
	ax_httpc_resp_release(&resp);
	assert_int_equal(ax_httpc_post(url, NULL, NULL, 0, 2000, &resp, err, sizeof(err)), AX_OK);
	assert_int_equal(resp.status, 302);
	ax_httpc_resp_release(&resp);
	assert_int_equal(rcv_count(rv), 3);
	rcv_stop(rv);

	/* Nothing listening. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", free_port());
	assert_int_equal(ax_httpc_post(url, NULL, "x", 1, 2000, &resp, err, sizeof(err)), AX_EIO);
	assert_int_equal(resp.status, 0);
	assert_null(resp.body);

	/* Only http and https. */
	assert_int_equal(ax_httpc_post("file:///etc/passwd", NULL, "x", 1, 2000, &resp, err,
				       sizeof(err)), AX_EINVAL);
	assert_int_equal(ax_httpc_post("gopher://127.0.0.1/", NULL, "x", 1, 2000, &resp, err,
				       sizeof(err)), AX_EINVAL);

	/* A receiver that never answers: the total timeout holds. */
	raw_start(&raw, 1, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", raw.port);
	t0 = now_ms();
	assert_int_equal(ax_httpc_post(url, NULL, "x", 1, 300, &resp, err, sizeof(err)),
			 AX_ETIMEDOUT);
	assert_true(now_ms() - t0 < 1200);
	raw_stop(&raw);

	/* A huge answer: 64 KiB kept, the rest read and dropped. */
	raw_start(&raw, 0, 200 * 1024);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", raw.port);
	assert_int_equal(ax_httpc_post(url, NULL, "x", 1, 3000, &resp, err, sizeof(err)), AX_OK);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body_len, 64 * 1024);
	assert_int_equal(strlen(resp.body), 64 * 1024);
	ax_httpc_resp_release(&resp);
	raw_stop(&raw);
}

/* ---- main -------------------------------------------------------------- */

static int stream_setup(void **state)
{
	char err[256];

	(void)state;
	rc_sync = ax_redis_connect(redis_url, 2000, err, sizeof(err));
	if (rc_sync == NULL) {
		fprintf(stderr, "itest_common: %s\n", err);
		return -1;
	}
	return 0;
}

static int stream_teardown(void **state)
{
	(void)state;
	if (rc_sync != NULL)
		redisFree(rc_sync);
	return 0;
}

int main(void)
{
	const struct CMUnitTest stream_tests[] = {
		cmocka_unit_test(test_stream_roundtrip),
		cmocka_unit_test(test_stream_autoclaim),
		cmocka_unit_test(test_stream_dead_letter),
		cmocka_unit_test(test_redis_connect_errors),
	};
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test(test_pg_scoping),
		cmocka_unit_test(test_pg_errors),
		cmocka_unit_test(test_audit_chain),
	};
	const struct CMUnitTest rconn_tests[] = {
		cmocka_unit_test(test_rconn_roundtrip_and_kill),
		cmocka_unit_test(test_rconn_timeout),
		cmocka_unit_test(test_rconn_free_in_callback),
		cmocka_unit_test(test_rconn_free_in_failing_callback),
		cmocka_unit_test(test_rconn_unreachable),
	};
	const struct CMUnitTest http_tests[] = {
		cmocka_unit_test(test_httpc),
	};
	char trace[AX_TRACE_LEN];
	int failed = 0;

	redis_url = need_env("ALEXUS_REDIS_URL");
	app_url = need_env("ALEXUS_DATABASE_URL");
	admin_url = need_env("ALEXUS_ADMIN_DATABASE_URL");
	/* hiredis and libcurl write to sockets whose peer may be gone. */
	signal(SIGPIPE, SIG_IGN);
	if (ax_hash_init() != 0 || ax_httpc_global_init() != 0) {
		fprintf(stderr, "itest_common: library init failed\n");
		return 1;
	}
	ax_trace_new(trace);
	snprintf(run_id, sizeof(run_id), "%.8s", trace);

	failed += cmocka_run_group_tests_name("streams", stream_tests, stream_setup,
					      stream_teardown);
	failed += cmocka_run_group_tests_name("postgres", pg_tests, pg_setup, pg_teardown);
	failed += cmocka_run_group_tests_name("rconn", rconn_tests, rconn_setup, rconn_teardown);
	failed += cmocka_run_group_tests_name("httpc", http_tests, NULL, NULL);
	return failed != 0;
}
