/* itest_store.c - the data layer's planning and retention guarantees
 * (migration 0014), against the test stack's database.
 *
 *   - every foreign-key check on a brand-new database probes the parent's
 *     key: each parent table is copied with its indexes (CREATE TABLE ...
 *     LIKE ... INCLUDING INDEXES) into a scratch schema, where it is empty
 *     and was never analyzed, as in a new installation; each check is
 *     prepared exactly as Postgres's RI triggers write it and planned
 *     generic (force_generic_plan, the plan a session keeps), and the
 *     index it uses must be the unique key of the referenced columns.  No
 *     statistics are involved, so this holds whatever ANALYZE later says.
 *     Before 0014, alert_history -> alerts used alerts_fp and every child
 *     of incidents used incidents_recent (each check read all of the
 *     tenant's rows); 0014 drops the first foreign key and the second
 *     index.  The alert_history rows have no alert without it: checked
 *     on what the other tests of the run wrote;
 *   - signals_prune(): as alexus_app, bounded, per tenant or all, only
 *     claims older than the age by both id (version 7 time) and seen_at,
 *     refusing under an hour; alexus_app still has no DELETE; and
 *     ax_store_prune_signals(), the C call of it.
 *
 * Environment: ALEXUS_ADMIN_DATABASE_URL (owner), ALEXUS_DATABASE_URL
 * (alexus_app), as tests/run sets them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include "alexus/pg.h"
#include "alexus/store.h"

/* Parents left out, and why (docs/benchmarks.md, "Data layer"): each has
 * an index starting with tenant_id that the daemons need under row-level
 * security and that wins the tie on empty tables.  pipeline_runs
 * (tenant_id, signal_id): checked once per analysis; actions (tenant_id,
 * signal_id): once per approval; the graph tables' (tenant_id, changed):
 * the graph store's, reported for a change there. */
static const char *const NOT_YET[] = {
	"pipeline_runs", "actions", "configuration_items", "graph_issues", NULL
};

static PGconn *owner, *app;

static PGconn *connect_env(const char *var)
{
	const char *url = getenv(var);
	PGconn *c;

	if (url == NULL || *url == '\0') {
		fprintf(stderr, "itest_store: %s is not set (run through tests/run)\n", var);
		return NULL;
	}
	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "itest_store: %s: %s", var, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

static PGresult *exec_ok(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fprintf(stderr, "query failed: %s  %s\n", PQresultErrorMessage(r), sql);
		PQclear(r);
		fail();
	}
	return r;
}

static void run(PGconn *c, const char *sql)
{
	PQclear(exec_ok(c, sql, 0, NULL));
}

static long q_long(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = exec_ok(c, sql, n, params);
	long v;

	assert_int_equal(PQntuples(r), 1);
	v = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static int not_yet(const char *parent)
{
	int i;

	for (i = 0; NOT_YET[i] != NULL; i++)
		if (strcmp(NOT_YET[i], parent) == 0)
			return 1;
	return 0;
}

/* Each foreign key of the public schema: its name, the parent's name, the
 * RI trigger's check query against the scratch copy of the parent, its
 * parameter types and count, and the referenced columns as a name array. */
static const char Q_FKS[] =
	"SELECT c.conname, p.relname, "
	"format('SELECT 1 FROM ONLY itest_fk.%I x WHERE %s FOR KEY SHARE OF x', p.relname, "
	"  string_agg(format('%I OPERATOR(pg_catalog.=) $%s', a.attname, k.n), ' AND ' ORDER BY k.n)), "
	"string_agg(format_type(a.atttypid, a.atttypmod), ',' ORDER BY k.n), count(*), "
	"array_agg(a.attname::text ORDER BY k.n)::text "
	"FROM pg_constraint c JOIN pg_class p ON p.oid = c.confrelid "
	"JOIN pg_namespace ns ON ns.oid = c.connamespace AND ns.nspname = 'public' "
	"CROSS JOIN LATERAL unnest(c.confkey) WITH ORDINALITY AS k(att, n) "
	"JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.att "
	"WHERE c.contype = 'f' GROUP BY c.conname, p.relname ORDER BY c.conname";

/* Is the scratch index $1 a unique, non-partial index on exactly the
 * columns $2? */
static const char Q_IS_KEY[] =
	"SELECT count(*) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
	"JOIN pg_namespace ns ON ns.oid = ic.relnamespace AND ns.nspname = 'itest_fk' "
	"WHERE ic.relname = $1 AND i.indisunique AND i.indpred IS NULL "
	"AND i.indnkeyatts = cardinality($2::text[]) "
	"AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a "
	"     WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])) "
	"  = (SELECT array_agg(x ORDER BY x) FROM unnest($2::text[]) AS x)";

static void test_fk_checks_probe_the_key(void **state)
{
	PGresult *fks, *r;
	char sql[2048], *used;
	int i, j, n, checked = 0, wrong = 0;

	(void)state;
	run(owner, "BEGIN");
	run(owner, "CREATE SCHEMA itest_fk");
	run(owner, "SET LOCAL plan_cache_mode = force_generic_plan");
	fks = exec_ok(owner, Q_FKS, 0, NULL);
	assert_true(PQntuples(fks) > 20);
	for (i = 0; i < PQntuples(fks); i++) {
		const char *name = PQgetvalue(fks, i, 0), *parent = PQgetvalue(fks, i, 1);
		const char *params[2];

		if (q_long(owner, "SELECT (to_regclass('itest_fk.' || quote_ident($1)) IS NULL)::int",
			   1, &parent)) {
			snprintf(sql, sizeof(sql), "CREATE TABLE itest_fk.\"%s\" "
				 "(LIKE public.\"%s\" INCLUDING INDEXES)", parent, parent);
			run(owner, sql);
		}
		snprintf(sql, sizeof(sql), "PREPARE fkq(%s) AS %s", PQgetvalue(fks, i, 3),
			 PQgetvalue(fks, i, 2));
		run(owner, sql);
		n = atoi(PQgetvalue(fks, i, 4));
		strcpy(sql, "EXPLAIN EXECUTE fkq(");
		for (j = 0; j < n; j++)
			strcat(sql, j > 0 ? ", NULL" : "NULL");
		strcat(sql, ")");
		r = exec_ok(owner, sql, 0, NULL);
		used = NULL;
		for (j = 0; j < PQntuples(r) && used == NULL; j++) {
			char *u = strstr(PQgetvalue(r, j, 0), " using ");

			if (u != NULL)
				used = strdup(u + 7);
		}
		PQclear(r);
		run(owner, "DEALLOCATE fkq");
		if (used != NULL)
			used[strcspn(used, " ")] = '\0';
		params[0] = used != NULL ? used : "";
		params[1] = PQgetvalue(fks, i, 5);
		if (!not_yet(parent)) {
			checked++;
			if (q_long(owner, Q_IS_KEY, 2, params) != 1) {
				fprintf(stderr, "%s: the check of %s %s uses %s, not its key\n",
					name, parent, params[1], used != NULL ? used : "no index");
				wrong++;
			}
		}
		free(used);
	}
	PQclear(fks);
	run(owner, "ROLLBACK");
	fprintf(stderr, "itest_store: %d foreign-key checks planned on empty tables\n", checked);
	assert_true(checked >= 30);
	assert_int_equal(wrong, 0);
}

/* Without the foreign key, reason is what keeps every history row's
 * alert: none may be missing in what the tests before this one wrote
 * through the real daemons (tests/run runs itest_store after them). */
static void test_history_has_its_alerts(void **state)
{
	long rows, orphans;

	(void)state;
	rows = q_long(owner, "SELECT count(*) FROM alert_history", 0, NULL);
	orphans = q_long(owner, "SELECT count(*) FROM alert_history h WHERE NOT EXISTS "
			 "(SELECT 1 FROM alerts a WHERE a.tenant_id = h.tenant_id "
			 "AND a.id = h.alert_id)", 0, NULL);
	fprintf(stderr, "itest_store: %ld alert_history rows, %ld without their alert\n",
		rows, orphans);
	assert_int_equal(orphans, 0);
}

/* The smallest version 7 UUID of the millisecond `ago` before now, plus n. */
static const char V7_AGO[] =
	"(lpad(to_hex((extract(epoch FROM now() - $2::interval) * 1000)::bigint), 12, '0') "
	"|| lpad(to_hex(g), 20, '0'))::uuid";

static void claims(const char *tenant, const char *id_age, const char *seen_age, int count)
{
	char sql[1024], cnt[16];
	const char *params[4] = { tenant, id_age, seen_age, cnt };

	snprintf(cnt, sizeof(cnt), "%d", count);
	snprintf(sql, sizeof(sql), "INSERT INTO signals_seen (tenant_id, signal_id, seen_at) "
		 "SELECT $1, %s, now() - $3::interval FROM generate_series(1, $4::int) AS g", V7_AGO);
	PQclear(exec_ok(owner, sql, 4, params));
}

static long prune(const char *tenant, const char *age, const char *max)
{
	const char *params[3] = { tenant, age, max };

	return q_long(app, "SELECT signals_prune($1, $2::interval, $3::int)", 3, params);
}

static long left(const char *tenant)
{
	return q_long(owner, "SELECT count(*) FROM signals_seen WHERE tenant_id = $1", 1, &tenant);
}

static void test_signals_prune(void **state)
{
	char ta[64], tb[64];
	const char *params[2] = { ta, tb };
	long old_all;
	PGresult *r;

	(void)state;
	snprintf(ta, sizeof(ta), "it-prune-%ld-a", (long)getpid());
	snprintf(tb, sizeof(tb), "it-prune-%ld-b", (long)getpid());
	PQclear(exec_ok(owner, "INSERT INTO tenants (id, name) VALUES ($1, $1), ($2, $2)",
			2, params));
	claims(ta, "3 days", "3 days", 10);   /* old */
	claims(ta, "0", "0", 5);              /* young */
	claims(ta, "3 days", "0", 2);         /* an old-looking id seen just now: kept */
	claims(tb, "2 days", "2 days", 4);
	claims(tb, "0", "0", 3);

	/* Bounded, one tenant only, then the rest of it. */
	assert_int_equal(prune(ta, "1 day", "4"), 4);
	assert_int_equal(left(ta), 13);
	assert_int_equal(left(tb), 7);
	assert_int_equal(prune(ta, "1 day", "100"), 6);
	assert_int_equal(prune(ta, "1 day", "100"), 0);
	assert_int_equal(left(ta), 7);
	/* The age is the caller's: tb's two-day-old claims survive "3 days". */
	assert_int_equal(prune(tb, "3 days", "100"), 0);
	/* Every tenant: whatever is older than a day anywhere (tb's four). */
	old_all = q_long(owner, "SELECT count(*) FROM signals_seen "
			 "WHERE seen_at < now() - interval '1 day'", 0, NULL);
	assert_true(old_all >= 4);
	assert_int_equal(prune(NULL, "1 day", "1000000"), old_all);
	assert_int_equal(left(tb), 3);
	assert_int_equal(left(ta), 7);

	/* Refused: under an hour, or no bound. */
	r = PQexecParams(app, "SELECT signals_prune(NULL, '10 minutes', 10)", 0, NULL, NULL,
			 NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "22023");
	PQclear(r);
	r = PQexecParams(app, "SELECT signals_prune(NULL, '1 day', 0)", 0, NULL, NULL, NULL,
			 NULL, 0);
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "22023");
	PQclear(r);
	/* The application role still cannot delete a claim itself. */
	r = PQexecParams(app, "DELETE FROM signals_seen", 0, NULL, NULL, NULL, NULL, 0);
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
	PQclear(r);
	/* EXECUTE for alexus_app only, not PUBLIC. */
	assert_int_equal(q_long(owner, "SELECT count(*) FROM pg_proc p, aclexplode(p.proacl) x "
				"WHERE p.proname = 'signals_prune' AND x.grantee = 0", 0, NULL), 0);
	assert_int_equal(q_long(owner, "SELECT has_function_privilege('alexus_app', "
				"'signals_prune(text, interval, integer)', 'EXECUTE')::int", 0, NULL), 1);
	assert_int_equal(q_long(owner, "SELECT (p.prosecdef AND p.proconfig @> "
				"ARRAY['search_path=pg_catalog, public, pg_temp'])::int "
				"FROM pg_proc p WHERE p.proname = 'signals_prune'", 0, NULL), 1);
}

static void test_store_prune_signals(void **state)
{
	struct ax_pg *pg = ax_pg_new(getenv("ALEXUS_DATABASE_URL"));
	char t[64], err[256];
	const char *tp = t;
	long n = -1;

	(void)state;
	snprintf(t, sizeof(t), "it-prune-%ld-c", (long)getpid());
	PQclear(exec_ok(owner, "INSERT INTO tenants (id, name) VALUES ($1, $1)", 1, &tp));
	claims(t, "30 hours", "30 hours", 5);
	claims(t, "0", "0", 2);
	assert_int_equal(ax_store_prune_signals(pg, t, 86400, 3, &n, err, sizeof(err)), AX_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ax_store_prune_signals(pg, t, 86400, 3, &n, err, sizeof(err)), AX_OK);
	assert_int_equal(n, 2);
	assert_int_equal(left(t), 2);
	assert_int_equal(ax_store_prune_signals(pg, t, 600, 3, &n, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "3600"));
	ax_pg_free(pg);
}

static int group_setup(void **state)
{
	(void)state;
	owner = connect_env("ALEXUS_ADMIN_DATABASE_URL");
	app = connect_env("ALEXUS_DATABASE_URL");
	return owner != NULL && app != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	PQfinish(owner);
	PQfinish(app);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fk_checks_probe_the_key),
		cmocka_unit_test(test_history_has_its_alerts),
		cmocka_unit_test(test_signals_prune),
		cmocka_unit_test(test_store_prune_signals),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
