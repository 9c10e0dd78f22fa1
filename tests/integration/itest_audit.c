/* itest_audit.c - `alexusctl audit verify` against tampered chains.
 *
 * Rows are appended through audit_append as alexus_app, the way act
 * writes them; then the owner tampers, one kind of damage per tenant, and
 * the real alexusctl must name the first broken row and what differs:
 *   - a row's detail edited          -> that seq, "hash differs";
 *   - a middle row deleted           -> the next seq, "gap in seq" naming
 *                                       the missing seq (and its link);
 *   - a row relinked (prev_hash changed and its own hash recomputed to
 *     match, so only the link is wrong) -> that seq, "prev link differs"
 *                                       and no "hash differs";
 *   - the first row deleted          -> "the chain starts at seq 2";
 * an intact chain prints "ok, N rows checked" and exits 0, a broken one
 * exits 1; without --tenant every tenant is walked through the owner role,
 * with one line per tenant and a summary.  alexus_app is refused DELETE and
 * TRUNCATE on audit_log with SQLSTATE 42501 (its refused UPDATE is already
 * asserted in itest_common's test_audit_chain, with the chain check done
 * through ax_pg_audit_verify).
 *
 * The head (audit_heads, 0006), which the chain alone cannot replace:
 *   - every append as alexus_app moves it: its row count and last hash
 *     are the table's, read back as alexus_app;
 *   - the owner deletes the newest rows (the chain left is intact) ->
 *     "BROKEN at seq N+1: chain ends at row N but the head records M
 *     rows", N and M read from the database, and it stays broken after
 *     alexus_app appends on top of the shortened chain;
 *   - the owner replaces the newest row by a forged one that links
 *     correctly, with triggers off so the head does not move -> "the
 *     head's last hash is not the newest row's" at that seq;
 *   - a middle row deleted also carries the head's count in its line;
 *   - tenants nobody touched still verify, alone and in the walk over
 *     every tenant; alexus_app is refused INSERT, UPDATE and DELETE on
 *     audit_heads (42501). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "harness.h"

/* A fresh tenant with n audit rows appended by alexus_app. */
static void tenant_with_rows(const char *prefix, int n, char tenant[64])
{
	PGconn *app = h_pg_app();
	int i;

	h_tenant_new(prefix, NULL, tenant);
	for (i = 0; i < n; i++)
		PQclear(h_pg_q(app, tenant,
			       "SELECT audit_append('act', 'notify', 'incident/42',"
			       " '{\"attempt\": 1, \"status\": \"sent\"}'::jsonb, 'trace-audit')",
			       0, NULL));
	assert_int_equal(h_pg_long(app, tenant, "SELECT max(seq) FROM audit_log", 0, NULL), n);
	PQfinish(app);
}

/* The owner runs sql with $1 = tenant, in the tenant's scope. */
static void owner(const char *tenant, const char *sql)
{
	PGconn *c = h_pg_admin();
	const char *p[1] = { tenant };
	PGresult *r = h_pg_q(c, tenant, sql, 1, p);

	assert_true(atol(PQcmdTuples(r)) >= 1);
	PQclear(r);
	PQfinish(c);
}

/* The owner runs sql with $1 = tenant, in the tenant's scope, with
 * triggers off (session_replication_role = replica) so the audit head
 * does not see it. */
static void owner_quiet(const char *tenant, const char *sql)
{
	PGconn *c = h_pg_admin();
	const char *p[1] = { tenant };
	PGresult *r;

	PQclear(PQexec(c, "BEGIN"));
	PQclear(PQexecParams(c, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL, p, NULL,
			     NULL, 0));
	r = PQexec(c, "SET LOCAL session_replication_role = replica");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("the owner cannot turn triggers off: %s", PQerrorMessage(c));
	PQclear(r);
	r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK || atol(PQcmdTuples(r)) < 1)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	r = PQexec(c, "COMMIT");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(c);
}

/* Output line of tenant; fails when absent.  Points into out. */
static const char *line_of(char *out, const char *tenant)
{
	char want[96], *l, *e;

	snprintf(want, sizeof(want), "tenant %s: ", tenant);
	l = strstr(out, want);
	if (l == NULL)
		fail_msg("no line for tenant %s in:\n%s", tenant, out);
	e = strchr(l, '\n');
	if (e != NULL)
		*e = '\0';
	return l;
}

/* verify --tenant exits 1 with "BROKEN at <seq_and_what>" on the tenant's
 * line, which also holds also and does not hold absent (each may be NULL). */
static void expect_broken3(const char *tenant, const char *seq_and_what, const char *also,
			   const char *absent)
{
	char *out, want[512];
	const char *l;

	assert_int_equal(h_ctl(&out, "audit", "verify", "--tenant", tenant, NULL), 1);
	l = line_of(out, tenant);
	snprintf(want, sizeof(want), "tenant %s: BROKEN at %s", tenant, seq_and_what);
	if (strstr(l, want) == NULL)
		fail_msg("want '%s' in '%s'", want, l);
	if (also != NULL && strstr(l, also) == NULL)
		fail_msg("want '%s' in '%s'", also, l);
	if (absent != NULL && strstr(l, absent) != NULL)
		fail_msg("did not want '%s' in '%s'", absent, l);
	printf("%s\n", l);   /* for the reader of the log */
	free(out);
}

static void expect_broken(const char *tenant, const char *seq_and_what, const char *absent)
{
	expect_broken3(tenant, seq_and_what, NULL, absent);
}

static void test_verify_names_the_damage(void **state)
{
	char intact[64], edited[64], deleted[64], relinked[64], headless[64], *out, want[128];
	const char *l;

	(void)state;
	tenant_with_rows("aud-ok", 3, intact);
	tenant_with_rows("aud-edit", 5, edited);
	tenant_with_rows("aud-del", 5, deleted);
	tenant_with_rows("aud-link", 4, relinked);
	tenant_with_rows("aud-head", 3, headless);

	/* Intact: exit 0 with the count. */
	assert_int_equal(h_ctl(&out, "audit", "verify", "--tenant", edited, NULL), 0);
	snprintf(want, sizeof(want), "tenant %s: ok, 5 rows checked", edited);
	assert_string_equal(line_of(out, edited), want);
	free(out);

	owner(edited, "UPDATE audit_log SET detail = '{\"attempt\": 1, \"status\": \"failed\"}'"
		      " WHERE tenant_id = $1 AND seq = 3");
	expect_broken(edited, "seq 3: hash differs", "gap");

	owner(deleted, "DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 3");
	expect_broken3(deleted, "seq 4: gap in seq: seq 4 follows seq 2 (seq 3 missing); prev link "
				"differs: prev_hash is not the hash of seq 2",
		       "; the table holds 4 rows but the head records 5 rows (1 removed)",
		       "hash differs");

	/* Only the link: seq 2 now points at garbage, and its own hash is
	 * recomputed over that, so the row itself is consistent. */
	owner(relinked, "UPDATE audit_log SET prev_hash = sha256('forged'::bytea),"
			" hash = sha256(sha256('forged'::bytea) || audit_link_text(tenant_id, seq, at,"
			" actor, action, subject, detail, trace)) WHERE tenant_id = $1 AND seq = 2");
	expect_broken(relinked, "seq 2: prev link differs: prev_hash is not the hash of seq 1",
		      "hash differs");

	owner(headless, "DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 1");
	expect_broken(headless, "seq 2: gap in seq: the chain starts at seq 2 (seq 1 missing)",
		      NULL);

	/* Every tenant through the owner: one line each, a summary, exit 1.
	 * (Other tests' tenants are here too; ours are checked by name.) */
	assert_int_equal(h_ctl(&out, "audit", "verify", NULL), 1);
	assert_non_null(strstr(out, "broken chain(s)"));
	assert_non_null(strstr(out, "checked "));
	{
		char *copy = strdup(out);

		snprintf(want, sizeof(want), "tenant %s: ok, 3 rows checked", intact);
		assert_string_equal(line_of(copy, intact), want);
		free(copy);
		copy = strdup(out);
		l = line_of(copy, edited);
		assert_non_null(strstr(l, "BROKEN at seq 3: hash differs"));
		free(copy);
		copy = strdup(out);
		l = line_of(copy, deleted);
		assert_non_null(strstr(l, "BROKEN at seq 4: gap in seq"));
		free(copy);
		copy = strdup(out);
		l = line_of(copy, relinked);
		assert_non_null(strstr(l, "BROKEN at seq 2: prev link differs"));
		free(copy);
	}
	free(out);

	/* Usage errors. */
	assert_int_equal(h_ctl(&out, "audit", "verify", "--tenant", "Bad Tenant", NULL), 1);
	free(out);
	assert_int_equal(h_ctl(&out, "audit", "check", NULL), 2);
	free(out);
}

static void refused(PGconn *app, const char *tenant, const char *sql)
{
	const char *p[1] = { tenant };
	PGresult *r;

	PQclear(PQexec(app, "BEGIN"));
	PQclear(PQexecParams(app, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL, p, NULL,
			     NULL, 0));
	r = PQexec(app, sql);
	if (PQresultStatus(r) != PGRES_FATAL_ERROR)
		fail_msg("alexus_app was allowed: %s", sql);
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
	PQclear(r);
	PQclear(PQexec(app, "ROLLBACK"));
}

static void test_app_role_cannot_rewrite(void **state)
{
	PGconn *app = h_pg_app();
	char t[64];

	(void)state;
	tenant_with_rows("aud-app", 3, t);
	refused(app, t, "DELETE FROM audit_log WHERE seq = 2");
	refused(app, t, "DELETE FROM audit_log");
	refused(app, t, "TRUNCATE audit_log");
	/* Nor may it move the head other than by appending. */
	refused(app, t, "UPDATE audit_heads SET row_count = 1");
	refused(app, t, "DELETE FROM audit_heads");
	refused(app, t, "INSERT INTO audit_heads (tenant_id, row_count, last_hash)"
			" VALUES (app_tenant(), 1, sha256('x'::bytea))");
	refused(app, t, "TRUNCATE audit_heads");
	/* Nothing changed, and the chain still verifies. */
	assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM audit_log", 0, NULL), 3);
	assert_int_equal(h_pg_long(app, t, "SELECT row_count FROM audit_heads", 0, NULL), 3);
	PQfinish(app);
	{
		char *out, want[96];

		assert_int_equal(h_ctl(&out, "audit", "verify", "--tenant", t, NULL), 0);
		snprintf(want, sizeof(want), "tenant %s: ok, 3 rows checked", t);
		assert_non_null(strstr(out, want));
		free(out);
	}
}

/* Text of the first column of sql's first row, as alexus_app scoped to
 * tenant (malloc'd; fails when there is no row). */
static char *app_text(const char *tenant, const char *sql)
{
	PGconn *app = h_pg_app();
	PGresult *r = h_pg_q(app, tenant, sql, 0, NULL);
	char *v;

	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
		fail_msg("no value for tenant %s: %s", tenant, sql);
	v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(app);
	return v;
}

/* The head as alexus_app sees it equals the table: row count and the
 * hash of the newest row.  Returns the count. */
static long head_matches_table(const char *tenant)
{
	PGconn *app = h_pg_app();
	long rows = h_pg_long(app, tenant, "SELECT count(*) FROM audit_log", 0, NULL);
	char *head = app_text(tenant, "SELECT encode(last_hash, 'hex') FROM audit_heads");
	char *last = app_text(tenant, "SELECT encode(hash, 'hex') FROM audit_log"
				      " ORDER BY seq DESC LIMIT 1");

	assert_int_equal(h_pg_long(app, tenant, "SELECT row_count FROM audit_heads", 0, NULL),
			 rows);
	assert_string_equal(head, last);
	free(head);
	free(last);
	PQfinish(app);
	return rows;
}

static void append_as_app(const char *tenant)
{
	PGconn *app = h_pg_app();

	PQclear(h_pg_q(app, tenant,
		       "SELECT audit_append('act', 'notify', 'incident/43',"
		       " '{\"attempt\": 2}'::jsonb, 'trace-audit')",
		       0, NULL));
	PQfinish(app);
}

static void test_head_sees_truncation(void **state)
{
	char cut[64], forged[64], keep[64], want[256], *out, *copy;
	PGconn *app;
	long n, m;

	(void)state;
	tenant_with_rows("aud-cut", 5, cut);
	tenant_with_rows("aud-forge", 3, forged);
	tenant_with_rows("aud-keep", 4, keep);
	assert_int_equal(head_matches_table(cut), 5);
	assert_int_equal(head_matches_table(forged), 3);
	assert_int_equal(head_matches_table(keep), 4);

	/* The newest two rows removed: what is left is a perfect chain. */
	owner(cut, "DELETE FROM audit_log WHERE tenant_id = $1 AND seq > 3");
	app = h_pg_app();
	n = h_pg_long(app, cut, "SELECT count(*) FROM audit_log", 0, NULL);
	m = h_pg_long(app, cut, "SELECT row_count FROM audit_heads", 0, NULL);
	PQfinish(app);
	assert_int_equal(n, 3);
	assert_int_equal(m, 5);    /* the head did not move */
	snprintf(want, sizeof(want), "tenant %s: BROKEN at seq %ld: chain ends at row %ld but the "
		 "head records %ld rows (%ld removed) (%ld rows)", cut, n + 1, n, m, m - n, n);
	assert_int_equal(h_ctl(&out, "audit", "verify", "--tenant", cut, NULL), 1);
	assert_string_equal(line_of(out, cut), want);
	free(out);

	/* Appending on top of the shortened chain does not hide it: the chain
	 * is intact again, one row longer, and the head two rows further. */
	append_as_app(cut);
	snprintf(want, sizeof(want), "tenant %s: BROKEN at seq %ld: chain ends at row %ld but the "
		 "head records %ld rows (%ld removed) (%ld rows)", cut, n + 2, n + 1, m + 1, m - n,
		 n + 1);
	assert_int_equal(h_ctl(&out, "audit", "verify", "--tenant", cut, NULL), 1);
	assert_string_equal(line_of(out, cut), want);
	free(out);

	/* The newest row replaced by one that links correctly, behind the
	 * trigger's back: same count, another last hash. */
	owner_quiet(forged, "DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 3");
	owner_quiet(forged,
		    "INSERT INTO audit_log (tenant_id, seq, at, actor, action, subject, detail,"
		    " trace, prev_hash, hash) SELECT tenant_id, 3, at, actor, 'forged', subject,"
		    " detail, trace, hash, sha256(hash || audit_link_text(tenant_id, 3, at, actor,"
		    " 'forged', subject, detail, trace))"
		    " FROM audit_log WHERE tenant_id = $1 AND seq = 2");
	snprintf(want, sizeof(want), "tenant %s: BROKEN at seq 3: chain ends at row 3 as the head "
		 "records, but the head's last hash is not the newest row's (newest rows replaced) "
		 "(3 rows)", forged);
	assert_int_equal(h_ctl(&out, "audit", "verify", "--tenant", forged, NULL), 1);
	assert_string_equal(line_of(out, forged), want);
	free(out);

	/* Untouched: alone, and in the walk over every tenant. */
	assert_int_equal(head_matches_table(keep), 4);
	assert_int_equal(h_ctl(&out, "audit", "verify", "--tenant", keep, NULL), 0);
	snprintf(want, sizeof(want), "tenant %s: ok, 4 rows checked", keep);
	assert_string_equal(line_of(out, keep), want);
	free(out);
	assert_int_equal(h_ctl(&out, "audit", "verify", NULL), 1);
	copy = strdup(out);
	assert_string_equal(line_of(copy, keep), want);
	free(copy);
	copy = strdup(out);
	assert_non_null(strstr(line_of(copy, cut), "chain ends at row 4 but the head records 6"));
	free(copy);
	copy = strdup(out);
	assert_non_null(strstr(line_of(copy, forged), "newest rows replaced"));
	free(copy);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_names_the_damage),
		cmocka_unit_test(test_app_role_cannot_rewrite),
		cmocka_unit_test(test_head_sees_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
