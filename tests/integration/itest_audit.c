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
 * through ax_pg_audit_verify). */
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

#define WAIT_MS 15000

/* alexusctl ARGS... NULL: the exit status, and stdout+stderr in *out. */
static int ctl(char **out, ...)
{
	const char *argv[16];
	char path[512];
	struct h_proc p;
	va_list ap;
	int n = 0;

	snprintf(path, sizeof(path), "%s/alexusctl", h_env("ALEXUS_BIN_DIR"));
	argv[n++] = "alexusctl";
	va_start(ap, out);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	h_spawn_argv(&p, path, argv, NULL);
	if (h_wait_exit(&p, WAIT_MS) != 0) {
		h_stop(&p, SIGKILL, 1000);
		fail_msg("alexusctl %s did not finish", argv[1]);
	}
	*out = h_read_file(p.log, NULL);
	if (h_log_has_sanitizer_report(&p)) {
		h_dump_log(&p);
		fail_msg("alexusctl reported a sanitizer error");
	}
	unlink(p.log);
	return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : 128;
}

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

static void expect_broken(const char *tenant, const char *seq_and_what, const char *absent)
{
	char *out, want[256];
	const char *l;

	assert_int_equal(ctl(&out, "audit", "verify", "--tenant", tenant, NULL), 1);
	l = line_of(out, tenant);
	snprintf(want, sizeof(want), "tenant %s: BROKEN at %s", tenant, seq_and_what);
	if (strstr(l, want) == NULL)
		fail_msg("want '%s' in '%s'", want, l);
	if (absent != NULL && strstr(l, absent) != NULL)
		fail_msg("did not want '%s' in '%s'", absent, l);
	printf("%s\n", l);   /* for the reader of the log */
	free(out);
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
	assert_int_equal(ctl(&out, "audit", "verify", "--tenant", edited, NULL), 0);
	snprintf(want, sizeof(want), "tenant %s: ok, 5 rows checked", edited);
	assert_string_equal(line_of(out, edited), want);
	free(out);

	owner(edited, "UPDATE audit_log SET detail = '{\"attempt\": 1, \"status\": \"failed\"}'"
		      " WHERE tenant_id = $1 AND seq = 3");
	expect_broken(edited, "seq 3: hash differs", "gap");

	owner(deleted, "DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 3");
	expect_broken(deleted, "seq 4: gap in seq: seq 4 follows seq 2 (seq 3 missing); prev link "
			       "differs: prev_hash is not the hash of seq 2", "hash differs");

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
	assert_int_equal(ctl(&out, "audit", "verify", NULL), 1);
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
	assert_int_equal(ctl(&out, "audit", "verify", "--tenant", "Bad Tenant", NULL), 1);
	free(out);
	assert_int_equal(ctl(&out, "audit", "check", NULL), 2);
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
	/* Nothing changed, and the chain still verifies. */
	assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM audit_log", 0, NULL), 3);
	PQfinish(app);
	{
		char *out, want[96];

		assert_int_equal(ctl(&out, "audit", "verify", "--tenant", t, NULL), 0);
		snprintf(want, sizeof(want), "tenant %s: ok, 3 rows checked", t);
		assert_non_null(strstr(out, want));
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_names_the_damage),
		cmocka_unit_test(test_app_role_cannot_rewrite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
