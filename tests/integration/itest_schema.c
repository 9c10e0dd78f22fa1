/* itest_schema.c - tenant isolation of the whole schema, and the migration
 * runner, on the real test stack.
 *
 * Nothing here names a tenant table: the tables are read from the catalog
 * (every table of schema public with a tenant_id column), so a table added
 * by a later migration is checked the moment it exists.
 *
 *   1. Catalog: every such table has row-level security enabled AND forced
 *      and a policy, every permissive policy is on tenant_id = app_tenant()
 *      for reads and writes, no view readable by alexus_app bypasses it;
 *      alexus_app is no superuser, has no BYPASSRLS, owns (or is a member
 *      of the owner of) no table, cannot CREATE in public, and holds no
 *      TRUNCATE or TRIGGER (TRUNCATE ignores row-level security).  The
 *      failure names every offending table at once.
 *   2. Rows: for each table the owner inserts a row for tenant A and one for
 *      tenant B.  Then, as alexus_app scoped to B: no row of A is visible,
 *      B sees exactly its own row, an INSERT naming A and an UPDATE moving
 *      B's row to A are refused (SQLSTATE 42501, from the policy or, where
 *      the grant is missing, from the privilege check; both counted), and
 *      UPDATE/DELETE aimed at A's rows touch nothing.  The owner then finds
 *      both rows as they were.
 *   3. The periodic jobs' tenant list: active_tenant_ids() gives
 *      alexus_app exactly the ids the owner finds not disabled (a tenant
 *      disabled leaves it, enabled comes back), one text column from a
 *      function without arguments, SECURITY DEFINER, owned by the owner
 *      role and executable by alexus_app alone; alexus_app still reads no
 *      other tenant's row of tenants, directly or joined to the list; and
 *      owned by a role subject to row-level security (tried in a
 *      rolled-back transaction) it refuses with 42501 instead of listing
 *      nothing.  The catalog test also requires every SECURITY DEFINER
 *      function to pin search_path with pg_temp last and to deny PUBLIC.
 *   4. Settings' one home: `alexusctl tenant create --webhook` leaves a
 *      tenant_settings row whose every defaulted column holds its catalog
 *      default, read as alexus_app; a second create fails without touching
 *      a changed setting; tenants.settings holds the webhook only, and the
 *      owner's attempt to add another key (or a non-string webhook) is
 *      refused by tenants_settings_notify_only (23514).
 *   5. Migrations: `alexusctl migrate` into a fresh database applies the
 *      files before 0006, then (after tenants with audit rows and a
 *      settings row of their own were added) the rest and two extra files
 *      that only work in name order: each once, in name order; 0006 gave
 *      the tenant without settings its row of defaults, left the existing
 *      row alone, recorded the chain's head equal to the table and put
 *      FORCE back on the tables it lifted it from.  A further run applies
 *      nothing and leaves schema_migrations as it was; a failing file
 *      (creates a table, then divides by zero) leaves no table and no
 *      schema_migrations row, exits non-zero and says on stderr which file
 *      failed.
 *
 * Building a valid row for a table the test has never seen.  The filler
 * gives a value to each NOT NULL column without a default (pg_attribute:
 * no default, identity or generated expression); nullable columns stay
 * NULL, defaulted ones take their default.  Values come from, in order:
 *   - foreign keys: the referenced columns of a row of the parent table of
 *     the same tenant (pg_constraint), so parents are filled first; a
 *     table whose parent has no row yet waits for a later round;
 *   - overrides[] below, for a column nothing else can guess;
 *   - the string literals of the column's own CHECK constraints (an IN
 *     list gives its allowed values);
 *   - a short list of candidates by type (pg_type.typname/typcategory),
 *     random where a unique constraint across tenants could collide.
 * When the insert fails on a CHECK or UNIQUE constraint, the columns of
 * that constraint move to their next candidate (an odometer), a bounded
 * number of times.  A table the filler cannot populate fails the test with
 * the last error: add an override then, rather than letting the table go
 * unchecked.
 *
 * The rows are removed at the end (as the owner, with triggers off, since
 * an append-only table may refuse DELETE even to its owner) so a later
 * `audit verify` over all tenants does not trip over a test row. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "alexus/hash.h"
#include "harness.h"

#define WAIT_MS 30000
#define MAXTAB 128
#define MAXCOL 64
#define MAXCAND 24
#define MAXTRY 400
#define MAXORDER (4 * MAXTAB)

/* Values the filler cannot guess: table, column, value (text input). */
static const struct {
	const char *table, *column, *value;
} overrides[] = {
	/* Either subject will do (0009); a run id needs no parent row. */
	{ "incident_events", "run_id", "0190a0c0-0000-7000-8000-000000000001" },
	{ NULL, NULL, NULL },
};

/* ------------------------------------------------------------ plumbing */

/* What one statement did. */
struct outcome {
	int ok;
	char state[6];          /* SQLSTATE on error */
	char constraint[128];   /* PG_DIAG_CONSTRAINT_NAME, if any */
	char msg[512];
	long tuples;            /* rows affected (PQcmdTuples) or returned */
	long first;             /* first column of the first row, -1 if none */
};

static void copy_field(char *dst, size_t n, const PGresult *r, int field)
{
	const char *v = PQresultErrorField(r, field);

	snprintf(dst, n, "%s", v ? v : "");
}

/* Run sql in a transaction of its own scoped to tenant (NULL: unscoped);
 * commit it if keep, else roll it back.  Never fails the test itself. */
static void run_tx(PGconn *c, const char *tenant, int keep, const char *sql, int n,
		   const char *const *p, struct outcome *o)
{
	PGresult *r;
	ExecStatusType st;

	memset(o, 0, sizeof(*o));
	o->first = -1;
	PQclear(PQexec(c, "BEGIN"));
	if (tenant != NULL)
		PQclear(PQexecParams(c, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL,
				     &tenant, NULL, NULL, 0));
	r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
	st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		o->ok = 1;
		if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
			o->first = strtol(PQgetvalue(r, 0, 0), NULL, 10);
		o->tuples = *PQcmdTuples(r) ? strtol(PQcmdTuples(r), NULL, 10) : PQntuples(r);
	} else {
		copy_field(o->state, sizeof(o->state), r, PG_DIAG_SQLSTATE);
		copy_field(o->constraint, sizeof(o->constraint), r, PG_DIAG_CONSTRAINT_NAME);
		copy_field(o->msg, sizeof(o->msg), r, PG_DIAG_MESSAGE_PRIMARY);
		if (o->msg[0] == '\0')
			snprintf(o->msg, sizeof(o->msg), "%s", PQerrorMessage(c));
	}
	PQclear(r);
	PQclear(PQexec(c, o->ok && keep ? "COMMIT" : "ROLLBACK"));
}

/* Accumulated failure text, reported in one fail_msg at the end of a test
 * so every offender is named, not just the first. */
static char report[16384];
static int nreport;

static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void complain(const char *fmt, ...)
{
	size_t len = strlen(report);
	va_list ap;

	nreport++;
	if (len + 2 >= sizeof(report))
		return;
	va_start(ap, fmt);
	vsnprintf(report + len, sizeof(report) - len - 1, fmt, ap);
	va_end(ap);
	len = strlen(report);
	report[len] = '\n';
	report[len + 1] = '\0';
}

static void report_reset(void)
{
	report[0] = '\0';
	nreport = 0;
}

/* cmocka's message buffer is short: the list goes to stderr first. */
static void report_check(const char *what)
{
	if (nreport > 0) {
		fprintf(stderr, "%s: %d problem(s):\n%s", what, nreport, report);
		fail_msg("%s: %d problem(s), listed above", what, nreport);
	}
}

/* n random lowercase hex digits (n <= 64) and a NUL into out. */
static void rand_hex(char *out, size_t n)
{
	char t[AX_TRACE_LEN], all[64];

	ax_trace_new(t);
	memcpy(all, t, 32);
	ax_trace_new(t);
	memcpy(all + 32, t, 32);
	memcpy(out, all, n < 64 ? n : 64);
	out[n < 64 ? n : 64] = '\0';
}

/* ------------------------------------------------------------ the catalog */

/* Every table of schema public with a tenant_id column. */
#define TENANT_TABLES                                                                      \
	"SELECT c.oid::text, c.relname, c.oid::regclass::text,"                             \
	" c.relrowsecurity, c.relforcerowsecurity,"                                         \
	" (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid),"                     \
	" has_table_privilege('alexus_app', c.oid, 'SELECT'),"                              \
	" has_table_privilege('alexus_app', c.oid, 'INSERT'),"                              \
	" has_table_privilege('alexus_app', c.oid, 'UPDATE'),"                              \
	" has_table_privilege('alexus_app', c.oid, 'DELETE'),"                              \
	" has_table_privilege('alexus_app', c.oid, 'TRUNCATE'),"                            \
	" has_table_privilege('alexus_app', c.oid, 'TRIGGER')"                              \
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"                    \
	" WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND EXISTS ("              \
	"  SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'" \
	"  AND a.attnum > 0 AND NOT a.attisdropped)"                                        \
	" ORDER BY c.relname"

/* A permissive policy that does not tie reads (USING) or writes (WITH
 * CHECK, which defaults to USING) to the transaction's tenant widens every
 * other policy: policies of one table are OR-ed. */
#define LOOSE_POLICIES                                                                     \
	"SELECT c.relname, p.polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"  \
	" JOIN pg_namespace n ON n.oid = c.relnamespace"                                      \
	" WHERE n.nspname = 'public' AND p.polpermissive AND ("                               \
	"  (p.polcmd <> 'a' AND coalesce(pg_get_expr(p.polqual, p.polrelid), '')"              \
	"    NOT LIKE '%tenant_id = app_tenant()%' AND c.relname <> 'tenants')"                \
	"  OR (p.polcmd IN ('*', 'a', 'w') AND coalesce(pg_get_expr(p.polwithcheck, p.polrelid),"  \
	"    pg_get_expr(p.polqual, p.polrelid), '') NOT LIKE '%tenant_id = app_tenant()%'"    \
	"    AND c.relname <> 'tenants'))"                                                     \
	" ORDER BY 1, 2"

struct col {
	char name[64];
	char type[64];          /* base type (a domain's underlying type) */
	char cat;               /* pg_type.typcategory */
	int n;                  /* candidates */
	char *cand[MAXCAND];    /* "=literal" or "@generator" */
	int pick;               /* candidate in use */
	const char *fixed;      /* from a foreign key parent; wins over cand */
	char fixbuf[256];
	char val[512];          /* the value of the current attempt */
};

struct tab {
	char oid[16], name[64], qname[200];
	int sel, ins, upd, del;         /* alexus_app's privileges */
	int ncol;
	struct col col[MAXCOL];
	int loaded;
	int has_row[2];                 /* a row for tenant A / B is in */
	char why[800];                  /* why no row could be inserted */
};

static struct tab tabs[MAXTAB];
static int ntabs;
static PGconn *adm, *app;
static char ten[2][64];                 /* tenants A and B of this run */
static int order[MAXORDER], norder;     /* tables in insertion order */

static int t_bool(const PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col)[0] == 't';
}

static int load_tables(void)
{
	PGresult *r = h_pg_q(adm, NULL, TENANT_TABLES, 0, NULL);
	int i;

	ntabs = PQntuples(r) < MAXTAB ? PQntuples(r) : MAXTAB;
	for (i = 0; i < ntabs; i++) {
		struct tab *t = &tabs[i];

		memset(t, 0, sizeof(*t));
		snprintf(t->oid, sizeof(t->oid), "%s", PQgetvalue(r, i, 0));
		snprintf(t->name, sizeof(t->name), "%s", PQgetvalue(r, i, 1));
		snprintf(t->qname, sizeof(t->qname), "%s", PQgetvalue(r, i, 2));
		t->sel = t_bool(r, i, 6);
		t->ins = t_bool(r, i, 7);
		t->upd = t_bool(r, i, 8);
		t->del = t_bool(r, i, 9);
	}
	PQclear(r);
	return ntabs;
}

static struct tab *find_tab(const char *name)
{
	int i;

	for (i = 0; i < ntabs; i++)
		if (strcmp(tabs[i].name, name) == 0)
			return &tabs[i];
	return NULL;
}

/* ------------------------------------------------------------ test 1 */

static void test_catalog_rls(void **state)
{
	PGresult *r;
	int i, n;
	(void)state;

	report_reset();
	r = h_pg_q(adm, NULL, TENANT_TABLES, 0, NULL);
	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		const char *name = PQgetvalue(r, i, 1);

		if (!t_bool(r, i, 3))
			complain("%s: row-level security is not enabled", name);
		if (!t_bool(r, i, 4))
			complain("%s: row-level security is not forced", name);
		if (strcmp(PQgetvalue(r, i, 5), "0") == 0)
			complain("%s: has no policy", name);
		if (t_bool(r, i, 10))
			complain("%s: alexus_app may TRUNCATE (ignores row-level security)", name);
		if (t_bool(r, i, 11))
			complain("%s: alexus_app may create triggers on it", name);
	}
	PQclear(r);
	/* The query must see the schema at all: these exist since 0001/0003. */
	if (n < 16)
		complain("only %d tables with tenant_id found; is the database migrated?", n);

	r = h_pg_q(adm, NULL, LOOSE_POLICIES, 0, NULL);
	for (i = 0; i < PQntuples(r); i++)
		complain("%s: permissive policy %s is not on tenant_id = app_tenant()",
			 PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);

	/* A view runs with its owner's rights unless security_invoker: a view
	 * over a tenant table readable by the app would bypass the policy. */
	r = h_pg_q(adm, NULL,
		   "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		   " WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')"
		   " AND has_table_privilege('alexus_app', c.oid, 'SELECT')"
		   " AND NOT (c.relkind = 'v' AND coalesce(array_to_string(c.reloptions, ',')"
		   "   ~ 'security_invoker=(true|on|1)', false))"
		   " AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
		   "   AND a.attname = 'tenant_id' AND NOT a.attisdropped)",
		   0, NULL);
	for (i = 0; i < PQntuples(r); i++)
		complain("%s: view readable by alexus_app without security_invoker",
			 PQgetvalue(r, i, 0));
	PQclear(r);

	r = h_pg_q(adm, NULL,
		   "SELECT rolsuper, rolbypassrls, has_schema_privilege(oid, 'public', 'CREATE')"
		   " FROM pg_roles WHERE rolname = 'alexus_app'",
		   0, NULL);
	if (PQntuples(r) != 1) {
		complain("role alexus_app does not exist");
	} else {
		if (t_bool(r, 0, 0))
			complain("alexus_app is a superuser");
		if (t_bool(r, 0, 1))
			complain("alexus_app has BYPASSRLS");
		if (t_bool(r, 0, 2))
			complain("alexus_app may CREATE in schema public");
	}
	PQclear(r);

	/* Owning a table, or being a member of its owner, lets a role turn
	 * the table's row-level security off. */
	r = h_pg_q(adm, NULL,
		   "SELECT c.oid::regclass::text, pg_get_userbyid(c.relowner) FROM pg_class c"
		   " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
		   " AND pg_has_role('alexus_app', c.relowner, 'MEMBER') ORDER BY 1",
		   0, NULL);
	for (i = 0; i < PQntuples(r); i++)
		complain("%s: owned by %s, and alexus_app is (a member of) that role",
			 PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);

	/* A SECURITY DEFINER function runs with its owner's rights: its
	 * search_path must be pinned with pg_temp last (or a caller's
	 * temporary objects shadow the ones it names), and PUBLIC must not be
	 * able to call it. */
	r = h_pg_q(adm, NULL,
		   "SELECT p.oid::regprocedure::text,"
		   " NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c"
		   "  WHERE c ~ '^search_path=.*pg_temp$'),"
		   " EXISTS (SELECT 1 FROM"
		   "  aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x"
		   "  WHERE x.grantee = 0 AND x.privilege_type = 'EXECUTE')"
		   " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
		   " WHERE n.nspname = 'public' AND p.prosecdef ORDER BY 1",
		   0, NULL);
	for (i = 0; i < PQntuples(r); i++) {
		if (t_bool(r, i, 1))
			complain("%s: SECURITY DEFINER without search_path pinned (pg_temp last)",
				 PQgetvalue(r, i, 0));
		if (t_bool(r, i, 2))
			complain("%s: SECURITY DEFINER and executable by PUBLIC",
				 PQgetvalue(r, i, 0));
	}
	PQclear(r);
	report_check("catalog");
}

/* ------------------------------------------------------------ the filler */

static void add_cand(struct col *c, const char *kind, const char *v)
{
	char buf[600];
	int i;

	if (c->n >= MAXCAND)
		return;
	snprintf(buf, sizeof(buf), "%s%s", kind, v);
	for (i = 0; i < c->n; i++)
		if (strcmp(c->cand[i], buf) == 0)
			return;
	c->cand[c->n++] = strdup(buf);
}

/* The quoted literals of a constraint definition ('x''y' is x'y). */
static void add_check_literals(struct col *c, const char *def)
{
	const char *p = def;
	char lit[512];

	while ((p = strchr(p, '\'')) != NULL) {
		size_t n = 0;

		for (p++; *p != '\0'; p++) {
			if (*p == '\'' && p[1] == '\'')
				p++;
			else if (*p == '\'')
				break;
			if (n + 1 < sizeof(lit))
				lit[n++] = *p;
		}
		lit[n] = '\0';
		add_cand(c, "=", lit);
		if (*p == '\0')
			break;
		p++;
	}
}

static void add_type_cands(struct col *c)
{
	const char *t = c->type;

	if (strcmp(t, "uuid") == 0) {
		add_cand(c, "@", "uuid");
	} else if (strcmp(t, "bool") == 0) {
		add_cand(c, "=", "false");
		add_cand(c, "=", "true");
	} else if (strcmp(t, "json") == 0 || strcmp(t, "jsonb") == 0) {
		add_cand(c, "=", "{}");
		add_cand(c, "=", "[]");
		add_cand(c, "=", "\"a\"");
		add_cand(c, "=", "1");
	} else if (strcmp(t, "timestamptz") == 0 || strcmp(t, "timestamp") == 0 ||
		   strcmp(t, "date") == 0) {
		add_cand(c, "=", "now");
		add_cand(c, "=", "2999-01-01 00:00:00+00");
		add_cand(c, "=", "2000-01-01 00:00:00+00");
	} else if (strcmp(t, "time") == 0 || strcmp(t, "timetz") == 0) {
		add_cand(c, "=", "now");
		add_cand(c, "=", "12:00");
	} else if (strcmp(t, "interval") == 0) {
		add_cand(c, "=", "1 hour");
		add_cand(c, "=", "0");
	} else if (strcmp(t, "bytea") == 0) {
		add_cand(c, "@", "bytes1");
		add_cand(c, "@", "bytes24");
		add_cand(c, "@", "bytes32");
		add_cand(c, "@", "bytes12");
		add_cand(c, "@", "bytes16");
		add_cand(c, "@", "bytes64");
	} else if (strcmp(t, "inet") == 0 || strcmp(t, "cidr") == 0) {
		add_cand(c, "=", "127.0.0.1");
	} else if (strcmp(t, "tsvector") == 0) {
		add_cand(c, "=", "a");
	} else if (c->cat == 'N') {
		add_cand(c, "=", "1");
		add_cand(c, "=", "0");
		add_cand(c, "=", "2");
		add_cand(c, "@", "int");
	} else if (c->cat == 'A') {
		add_cand(c, "=", "{}");
		add_cand(c, "=", "{1}");
		add_cand(c, "=", "{a}");
	} else if (c->cat == 'S') {
		add_cand(c, "@", "name");
		add_cand(c, "@", "hex64");
		add_cand(c, "@", "url");
		add_cand(c, "=", "a@example.com");
	} else {
		add_cand(c, "@", "name");
		add_cand(c, "=", "1");
		add_cand(c, "=", "{}");
		add_cand(c, "=", "0");
	}
}

/* The columns of t the filler must give a value, with their candidates:
 * those NOT NULL without a default, and those overrides[] names (a
 * nullable column a table CHECK may still require, such as one of two). */
static void load_columns(struct tab *t)
{
	const char *p[2] = { t->oid, NULL }, *pc[2] = { t->oid, NULL };
	char named[1024] = "{";
	PGresult *r, *r2;
	size_t k;
	int i, j;

	if (t->loaded)
		return;
	t->loaded = 1;
	for (k = 0; k < sizeof(overrides) / sizeof(overrides[0]); k++)
		if (overrides[k].table && strcmp(overrides[k].table, t->name) == 0)
			snprintf(named + strlen(named), sizeof(named) - strlen(named), "%s%s",
				 named[1] != '\0' ? "," : "", overrides[k].column);
	snprintf(named + strlen(named), sizeof(named) - strlen(named), "}");
	pc[1] = named;
	r = h_pg_q(adm, NULL,
		   "SELECT a.attname, b.typname, b.typcategory, b.typtype, b.oid::text"
		   " FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid"
		   " JOIN pg_type b ON b.oid = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype"
		   "  ELSE ty.oid END"
		   " WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped"
		   " AND a.attname <> 'tenant_id'"
		   " AND ((a.attnotnull AND NOT a.atthasdef) OR a.attname = ANY ($2::text[]))"
		   " AND a.attidentity = '' AND a.attgenerated = '' ORDER BY a.attnum",
		   2, pc);
	for (i = 0; i < PQntuples(r) && t->ncol < MAXCOL; i++) {
		struct col *c = &t->col[t->ncol++];

		snprintf(c->name, sizeof(c->name), "%s", PQgetvalue(r, i, 0));
		snprintf(c->type, sizeof(c->type), "%s", PQgetvalue(r, i, 1));
		c->cat = PQgetvalue(r, i, 2)[0];
		for (k = 0; k < sizeof(overrides) / sizeof(overrides[0]); k++)
			if (overrides[k].table && strcmp(overrides[k].table, t->name) == 0 &&
			    strcmp(overrides[k].column, c->name) == 0)
				add_cand(c, "=", overrides[k].value);
		p[1] = c->name;
		r2 = h_pg_q(adm, NULL,
			    "SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k"
			    " JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attname = $2"
			    " WHERE k.conrelid = $1::oid AND k.contype = 'c'"
			    " AND k.conkey = ARRAY[a.attnum] ORDER BY k.conname",
			    2, p);
		for (j = 0; j < PQntuples(r2); j++)
			add_check_literals(c, PQgetvalue(r2, j, 0));
		PQclear(r2);
		if (PQgetvalue(r, i, 3)[0] == 'e') {
			const char *ep[1] = { PQgetvalue(r, i, 4) };

			r2 = h_pg_q(adm, NULL,
				    "SELECT enumlabel FROM pg_enum WHERE enumtypid = $1::oid"
				    " ORDER BY enumsortorder",
				    1, ep);
			for (j = 0; j < PQntuples(r2); j++)
				add_cand(c, "=", PQgetvalue(r2, j, 0));
			PQclear(r2);
		}
		add_type_cands(c);
	}
	PQclear(r);
}

static struct col *find_col(struct tab *t, const char *name)
{
	int i;

	for (i = 0; i < t->ncol; i++)
		if (strcmp(t->col[i].name, name) == 0)
			return &t->col[i];
	return NULL;
}

/* The value of c for one attempt: its parent's, or its candidate expanded
 * (generators give fresh random text every time). */
static void expand(struct col *c)
{
	const char *k = c->cand[c->pick];
	char hex[65], uuid[AX_UUID_LEN];
	int bytes, i;

	if (c->fixed != NULL) {
		snprintf(c->val, sizeof(c->val), "%s", c->fixed);
		return;
	}
	if (k[0] == '=') {
		snprintf(c->val, sizeof(c->val), "%s", k + 1);
	} else if (strcmp(k, "@uuid") == 0) {
		ax_uuid4(uuid);
		snprintf(c->val, sizeof(c->val), "%s", uuid);
	} else if (strcmp(k, "@name") == 0) {
		rand_hex(hex, 8);
		snprintf(c->val, sizeof(c->val), "a%s", hex);
	} else if (strcmp(k, "@hex64") == 0) {
		rand_hex(c->val, 64);
	} else if (strcmp(k, "@url") == 0) {
		rand_hex(hex, 8);
		snprintf(c->val, sizeof(c->val), "https://example.com/%s", hex);
	} else if (strcmp(k, "@int") == 0) {
		rand_hex(hex, 7);
		snprintf(c->val, sizeof(c->val), "%ld", strtol(hex, NULL, 16));
	} else if (sscanf(k, "@bytes%d", &bytes) == 1) {
		snprintf(c->val, sizeof(c->val), "\\x");
		for (i = 0; i < bytes; i += 32) {
			rand_hex(hex, 64);
			snprintf(c->val + strlen(c->val), sizeof(c->val) - strlen(c->val), "%.*s",
				 (bytes - i < 32 ? bytes - i : 32) * 2, hex);
		}
	}
}

static int fill(struct tab *t, int k, int extra);

/* Fix the NOT NULL foreign-key columns of t from a parent row of tenant k;
 * 0 when done, -1 (why set) when a parent has no row for the tenant yet.
 * The n-th foreign key to the same parent takes the parent's n-th row (by
 * the first key column), adding parent rows as needed, so two references
 * to one table (a relation's from and to) get distinct rows. */
static int resolve_fks(struct tab *t, int k)
{
	const char *p[1] = { t->oid };
	PGresult *r =
	    h_pg_q(adm, NULL,
		   "SELECT k.conname, r.oid::regclass::text, la.attname, ra.attname,"
		   " EXISTS (SELECT 1 FROM pg_attribute x WHERE x.attrelid = r.oid"
		   "  AND x.attname = 'tenant_id' AND NOT x.attisdropped), r.relname,"
		   " n.nspname = 'public'"
		   " FROM pg_constraint k"
		   " CROSS JOIN LATERAL unnest(k.conkey, k.confkey) WITH ORDINALITY"
		   "  AS u(l, f, i)"
		   " JOIN pg_attribute la ON la.attrelid = k.conrelid AND la.attnum = u.l"
		   " JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = u.f"
		   " JOIN pg_class r ON r.oid = k.confrelid"
		   " JOIN pg_namespace n ON n.oid = r.relnamespace"
		   " WHERE k.conrelid = $1::oid AND k.contype = 'f' ORDER BY k.conname, u.i",
		   1, p);
	const char *seen[MAXCOL];
	int i = 0, n = PQntuples(r), rc = 0, nseen = 0;

	while (i < n && rc == 0) {
		const char *con = PQgetvalue(r, i, 0), *parent = PQgetvalue(r, i, 1);
		struct tab *pt = t_bool(r, i, 6) ? find_tab(PQgetvalue(r, i, 5)) : NULL;
		int j, end, need = 0, nth = 0;
		char sql[2048];

		for (end = i; end < n && strcmp(PQgetvalue(r, end, 0), con) == 0; end++)
			need |= find_col(t, PQgetvalue(r, end, 2)) != NULL;
		if (need) {
			PGresult *pr;
			const char *tp[2] = { ten[k], NULL };
			char off[16];
			size_t len;

			for (j = 0; j < nseen; j++)
				nth += strcmp(seen[j], parent) == 0;
			if (nseen < MAXCOL)
				seen[nseen++] = parent;
			snprintf(off, sizeof(off), "%d", nth);
			tp[1] = off;
			snprintf(sql, sizeof(sql), "SELECT ");
			for (j = i; j < end; j++) {
				char *id = PQescapeIdentifier(adm, PQgetvalue(r, j, 3),
							      strlen(PQgetvalue(r, j, 3)));
				len = strlen(sql);
				snprintf(sql + len, sizeof(sql) - len, "%s%s::text",
					 j > i ? ", " : "", id);
				PQfreemem(id);
			}
			len = strlen(sql);
			snprintf(sql + len, sizeof(sql) - len,
				 " FROM %s%s ORDER BY 1 LIMIT 1 OFFSET $2", parent,
				 t_bool(r, i, 4) ? " WHERE tenant_id = $1"
						 : " WHERE $1::text IS NOT NULL");
			pr = h_pg_q(adm, ten[k], sql, 2, tp);
			if (PQntuples(pr) == 0 && nth > 0 && pt != NULL && pt != t &&
			    fill(pt, k, 1) == 0) {
				PQclear(pr);
				pr = h_pg_q(adm, ten[k], sql, 2, tp);
			}
			if (PQntuples(pr) == 0) {
				snprintf(t->why, sizeof(t->why),
					 "waits for a row of %s (foreign key %s)", parent, con);
				rc = -1;
			} else {
				for (j = i; j < end; j++) {
					struct col *c = find_col(t, PQgetvalue(r, j, 2));

					if (c == NULL)
						continue;
					snprintf(c->fixbuf, sizeof(c->fixbuf), "%s",
						 PQgetvalue(pr, 0, j - i));
					c->fixed = c->fixbuf;
				}
			}
			PQclear(pr);
		}
		i = end;
	}
	PQclear(r);
	return rc;
}

/* The INSERT of one row of t for tenant, with the values of t's columns as
 * last expanded.  params[0] is the tenant. */
static void build_insert(struct tab *t, const char *tenant, char *sql, size_t n,
			 const char **params)
{
	int i;
	size_t len;

	params[0] = tenant;
	snprintf(sql, n, "INSERT INTO %s (tenant_id", t->qname);
	for (i = 0; i < t->ncol; i++) {
		char *id = PQescapeIdentifier(adm, t->col[i].name, strlen(t->col[i].name));

		len = strlen(sql);
		snprintf(sql + len, n - len, ", %s", id);
		PQfreemem(id);
		params[i + 1] = t->col[i].val;
	}
	len = strlen(sql);
	snprintf(sql + len, n - len, ") VALUES ($1");
	for (i = 0; i < t->ncol; i++) {
		len = strlen(sql);
		snprintf(sql + len, n - len, ", $%d", i + 2);
	}
	len = strlen(sql);
	snprintf(sql + len, n - len, ")");
}

/* Advance the odometer over the columns named in cols (NULL: all); 0 if a
 * new combination is set, -1 when every combination was tried. */
static int advance(struct tab *t, char **cols, int ncols)
{
	int i;

	for (i = t->ncol - 1; i >= 0; i--) {
		struct col *c = &t->col[i];
		int j, in = cols == NULL;

		for (j = 0; j < ncols && !in; j++)
			in = strcmp(cols[j], c->name) == 0;
		if (!in || c->fixed != NULL)
			continue;
		if (c->pick + 1 < c->n) {
			c->pick++;
			return 0;
		}
		c->pick = 0;
	}
	return -1;
}

/* The columns of constraint (or unique index) name on t, malloc'd. */
static int constraint_cols(struct tab *t, const char *name, char **out, int max)
{
	const char *p[2] = { t->oid, name };
	PGresult *r =
	    h_pg_q(adm, NULL,
		   "SELECT a.attname FROM pg_constraint k JOIN pg_attribute a"
		   " ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)"
		   " WHERE k.conrelid = $1::oid AND k.conname = $2"
		   " UNION SELECT a.attname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
		   " JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey)"
		   " WHERE x.indrelid = $1::oid AND i.relname = $2",
		   2, p);
	int i, n = 0;

	for (i = 0; i < PQntuples(r) && n < max; i++)
		out[n++] = strdup(PQgetvalue(r, i, 0));
	PQclear(r);
	return n;
}

/* Insert one row of t for tenant k (0 = A, 1 = B) as the owner; 0 on
 * success, -1 with t->why set.  A row a trigger already made (a per-tenant
 * counter kept by another table's trigger) counts, unless extra asks for
 * one more row. */
static int fill(struct tab *t, int k, int extra)
{
	const char *params[MAXCOL + 1];
	char sql[8192];
	struct outcome o;
	int i, tries;

	if (!extra) {
		const char *tp[1] = { ten[k] };

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE tenant_id = $1",
			 t->qname);
		if (h_pg_long(adm, ten[k], sql, 1, tp) > 0) {
			t->has_row[k] = 1;
			if (norder < MAXORDER)
				order[norder++] = (int)(t - tabs);
			return 0;
		}
	}
	load_columns(t);
	for (i = 0; i < t->ncol; i++)
		t->col[i].fixed = NULL;
	if (resolve_fks(t, k) != 0)
		return -1;
	for (tries = 0; tries < MAXTRY; tries++) {
		char *cols[MAXCOL];
		int nc = 0, r;

		for (i = 0; i < t->ncol; i++)
			expand(&t->col[i]);
		build_insert(t, ten[k], sql, sizeof(sql), params);
		run_tx(adm, ten[k], 1, sql, t->ncol + 1, params, &o);
		if (o.ok) {
			t->has_row[k] = 1;
			if (norder < MAXORDER)
				order[norder++] = (int)(t - tabs);
			return 0;
		}
		snprintf(t->why, sizeof(t->why), "%s (SQLSTATE %s%s%s)", o.msg, o.state,
			 o.constraint[0] ? ", constraint " : "", o.constraint);
		if ((strcmp(o.state, "23514") == 0 || strcmp(o.state, "23505") == 0) &&
		    o.constraint[0] != '\0') {
			nc = constraint_cols(t, o.constraint, cols, MAXCOL);
			r = advance(t, cols, nc);
			while (nc > 0)
				free(cols[--nc]);
		} else if (strncmp(o.state, "22", 2) == 0) {
			r = advance(t, NULL, 0);    /* bad input: some value, try others */
		} else {
			r = -1;
		}
		if (r != 0)
			return -1;
	}
	return -1;
}

/* Rows of every tenant table for both tenants, parents before children. */
static void fill_all(void)
{
	int k, i, progress;

	for (k = 0; k < 2; k++) {
		do {
			progress = 0;
			for (i = 0; i < ntabs; i++)
				if (!tabs[i].has_row[k] && fill(&tabs[i], k, 0) == 0)
					progress = 1;
		} while (progress);
	}
}

/* Remove what fill_all inserted, children first, one tenant at a time
 * (scoped, in case the owner is not a superuser and FORCE applies to it).
 * Triggers (an append-only guard) are off for the transaction when the
 * owner may turn them off; failures are only reported. */
static void unfill_all(void)
{
	const char *p[1];
	char sql[512];
	PGresult *r;
	int i, k;

	if (adm == NULL)
		return;
	for (k = 0; k < 2; k++) {
		if (ten[k][0] == '\0')
			continue;
		p[0] = ten[k];
		PQclear(PQexec(adm, "BEGIN"));
		PQclear(PQexecParams(adm, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL,
				     p, NULL, NULL, 0));
		PQclear(PQexec(adm, "SAVEPOINT s"));
		r = PQexec(adm, "SET LOCAL session_replication_role = replica");
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			PQclear(PQexec(adm, "ROLLBACK TO SAVEPOINT s"));
		PQclear(r);
		for (i = norder - 1; i >= 0; i--) {
			snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE tenant_id = $1",
				 tabs[order[i]].qname);
			r = PQexecParams(adm, sql, 1, NULL, p, NULL, NULL, 0);
			if (PQresultStatus(r) != PGRES_COMMAND_OK)
				fprintf(stderr, "cleanup: %s: %s", sql, PQerrorMessage(adm));
			PQclear(r);
		}
		r = PQexecParams(adm, "DELETE FROM tenants WHERE id = $1", 1, NULL, p, NULL, NULL,
				 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fprintf(stderr, "cleanup: tenant %s: %s", ten[k], PQerrorMessage(adm));
		PQclear(r);
		PQclear(PQexec(adm, "COMMIT"));
		ten[k][0] = '\0';
	}
	norder = 0;
}

/* ------------------------------------------------------------ test 2 */

/* A refusal is SQLSTATE 42501: "new row violates row-level security
 * policy" or "permission denied".  Tells which. */
static int refused(const struct outcome *o, int *by_policy)
{
	if (o->ok || strcmp(o->state, "42501") != 0)
		return 0;
	*by_policy = strstr(o->msg, "row-level security") != NULL;
	return 1;
}

static void test_cross_tenant(void **state)
{
	const char *a = ten[0], *b = ten[1];
	int i, tested = 0, ins_refused = 0, upd_refused = 0, upd_tested = 0;
	int by_policy_ins = 0, by_policy_upd = 0, unreadable = 0;
	struct outcome o;
	(void)state;

	report_reset();
	h_tenant_new("schema-a", NULL, ten[0]);
	h_tenant_new("schema-b", NULL, ten[1]);
	assert_true(load_tables() >= 16);
	assert_non_null(find_tab("alerts"));
	assert_non_null(find_tab("tenant_settings"));
	assert_non_null(find_tab("resolutions"));
	fill_all();
	for (i = 0; i < ntabs; i++) {
		struct tab *t = &tabs[i];

		if (!t->has_row[0] || !t->has_row[1])
			complain("%s: the filler could not insert a row for tenant %s: %s "
				 "(add an entry to overrides[])",
				 t->name, t->has_row[0] ? "B" : "A", t->why);
	}
	report_check("filling every tenant table");

	for (i = 0; i < ntabs; i++) {
		struct tab *t = &tabs[i];
		const char *pa[1] = { a }, *pab[2] = { a, b };
		const char *params[MAXCOL + 1];
		char sql[8192];
		long nrows[2];
		int j, pol = 0;

		tested++;
		/* The rows are there for the owner... */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE tenant_id = $1",
			 t->qname);
		for (j = 0; j < 2; j++) {
			run_tx(adm, ten[j], 0, sql, 1, &pab[j], &o);
			nrows[j] = o.ok ? o.first : -1;
			if (nrows[j] < 1)
				complain("%s: the owner does not see %c's rows (%s)", t->name,
					 "AB"[j], o.msg);
		}

		/* ...but alexus_app scoped to B sees none of A's... */
		run_tx(app, b, 0, sql, 1, pa, &o);
		if (o.ok && o.first != 0)
			complain("%s: alexus_app scoped to B sees %ld row(s) of A", t->name,
				 o.first);
		else if (!o.ok && !refused(&o, &pol))
			complain("%s: SELECT failed: %s (%s)", t->name, o.msg, o.state);
		else if (!o.ok)
			unreadable++;
		/* ...exactly its own, and unscoped nothing at all. */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t->qname);
		if (t->sel) {
			run_tx(app, b, 0, sql, 0, NULL, &o);
			if (!o.ok || o.first != nrows[1])
				complain(
				    "%s: alexus_app scoped to B sees %ld row(s), not its %ld (%s)",
				    t->name, o.first, nrows[1], o.msg);
			run_tx(app, NULL, 0, sql, 0, NULL, &o);
			if (!o.ok || o.first != 0)
				complain("%s: unscoped alexus_app sees %ld row(s) (%s)", t->name,
					 o.first, o.msg);
		}

		/* An INSERT naming A is refused.  Fresh values and A's parents, so
		 * without the policy it would mostly succeed rather than collide;
		 * anything but 42501 is a failure either way. */
		for (j = 0; j < t->ncol; j++)
			t->col[j].fixed = NULL;
		if (resolve_fks(t, 0) != 0)
			complain("%s: %s", t->name, t->why);
		for (j = 0; j < t->ncol; j++)
			expand(&t->col[j]);
		build_insert(t, a, sql, sizeof(sql), params);
		run_tx(app, b, 0, sql, t->ncol + 1, params, &o);
		if (refused(&o, &pol)) {
			ins_refused++;
			by_policy_ins += pol;
			if (t->ins && !pol)
				complain("%s: INSERT granted but refused for another reason: %s",
					 t->name, o.msg);
		} else {
			complain("%s: INSERT naming A as B was %s", t->name,
				 o.ok ? "accepted" : o.msg);
		}

		/* Moving B's own row to A is refused. */
		snprintf(sql, sizeof(sql), "UPDATE %s SET tenant_id = $1 WHERE tenant_id = $2",
			 t->qname);
		upd_tested++;
		run_tx(app, b, 0, sql, 2, pab, &o);
		if (refused(&o, &pol)) {
			upd_refused++;
			by_policy_upd += pol;
			if (t->upd && !pol)
				complain("%s: UPDATE granted but refused for another reason: %s",
					 t->name, o.msg);
		} else {
			complain("%s: UPDATE moving B's row to A was %s", t->name,
				 o.ok ? "accepted" : o.msg);
		}

		/* UPDATE and DELETE aimed at A's rows reach nothing. */
		snprintf(sql, sizeof(sql),
			 "UPDATE %s SET tenant_id = tenant_id WHERE tenant_id = $1", t->qname);
		run_tx(app, b, 0, sql, 1, pa, &o);
		if ((o.ok && o.tuples != 0) || (!o.ok && !refused(&o, &pol)))
			complain("%s: UPDATE of A's rows as B: %ld row(s), %s", t->name, o.tuples,
				 o.msg);
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE tenant_id = $1", t->qname);
		run_tx(app, b, 0, sql, 1, pa, &o);
		if ((o.ok && o.tuples != 0) || (!o.ok && !refused(&o, &pol)))
			complain("%s: DELETE of A's rows as B: %ld row(s), %s", t->name, o.tuples,
				 o.msg);

		/* Both rows are still where they were. */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE tenant_id = $1",
			 t->qname);
		for (j = 0; j < 2; j++) {
			run_tx(adm, ten[j], 0, sql, 1, &pab[j], &o);
			if (!o.ok || o.first != nrows[j])
				complain(
				    "%s: after the attempts the owner counts %ld row(s) of %c, "
				    "not %ld",
				    t->name, o.first, "AB"[j], nrows[j]);
		}
	}

	/* tenants itself is keyed by id, not tenant_id. */
	{
		const char *pa[1] = { a };

		run_tx(app, b, 0, "SELECT count(*) FROM tenants WHERE id = $1", 1, pa, &o);
		if (!o.ok || o.first != 0)
			complain("tenants: alexus_app scoped to B sees A (%ld, %s)", o.first,
				 o.msg);
		run_tx(app, b, 0, "SELECT count(*) FROM tenants", 0, NULL, &o);
		if (!o.ok || o.first != 1)
			complain("tenants: alexus_app scoped to B sees %ld tenants", o.first);
	}

	printf("itest_schema: %d tenant tables; INSERT naming A refused %d/%d (%d by policy, %d "
	       "by privilege); UPDATE to A refused %d/%d (%d by policy); %d not readable\n",
	       tested, ins_refused, tested, by_policy_ins, ins_refused - by_policy_ins,
	       upd_refused, upd_tested, by_policy_upd, unreadable);
	report_check("cross-tenant access");
	assert_int_equal(tested, ntabs);
	assert_int_equal(ins_refused, tested);
	assert_int_equal(upd_refused, upd_tested);
	/* The policy, not only missing grants, did refuse (tables the app may
	 * write were checked one by one above). */
	assert_true(by_policy_ins > 0);
	assert_true(by_policy_upd > 0);
}

static int cross_tenant_teardown(void **state)
{
	int i, j;
	(void)state;

	unfill_all();
	for (i = 0; i < ntabs; i++)
		for (j = 0; j < tabs[i].ncol; j++)
			while (tabs[i].col[j].n > 0)
				free(tabs[i].col[j].cand[--tabs[i].col[j].n]);
	ntabs = 0;
	return 0;
}

/* ------------------------------------------------------------ tests 3, 4 */

/* Comma-joined ids in id order: what active_tenant_ids() gives alexus_app
 * (unscoped, as a periodic job calls it), or what the owner, who sees
 * every tenant, finds not disabled.  malloc'd. */
static char *tenant_list(int jobs)
{
	PGresult *r = h_pg_q(jobs ? app : adm, NULL,
			     jobs ? "SELECT coalesce(string_agg(t, ',' ORDER BY t), '')"
				    " FROM active_tenant_ids() t"
				  : "SELECT coalesce(string_agg(id, ',' ORDER BY id), '')"
				    " FROM tenants WHERE disabled_at IS NULL",
			     0, NULL);
	char *v = strdup(PQgetvalue(r, 0, 0));

	PQclear(r);
	return v;
}

static int listed(const char *list, const char *tenant)
{
	char a[8192], b[80];

	snprintf(a, sizeof(a), ",%s,", list);
	snprintf(b, sizeof(b), ",%s,", tenant);
	return strstr(a, b) != NULL;
}

/* The periodic jobs' tenant list (0006): every active tenant, ids only,
 * and nothing more of tenants for alexus_app. */
static void test_jobs_tenant_list(void **state)
{
	char a[64], b[64], role[32], hex[9], sql[160], *jobs, *all;
	const char *pa[1] = { a }, *pb[1] = { b };
	struct outcome o;
	PGresult *r;
	(void)state;

	h_tenant_new("jobs-a", NULL, a);
	h_tenant_new("jobs-b", "https://jobs.example/hook", b);
	jobs = tenant_list(1);
	all = tenant_list(0);
	assert_string_equal(jobs, all);
	assert_true(listed(jobs, a) && listed(jobs, b));
	free(jobs);
	free(all);

	/* One text column from a function without arguments: there is
	 * nothing else to ask it for. */
	r = PQexec(app, "SELECT * FROM active_tenant_ids()");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQnfields(r), 1);
	assert_int_equal(PQftype(r, 0), 25);    /* TEXTOID */
	assert_true(PQntuples(r) >= 2);
	PQclear(r);
	r = h_pg_q(adm, NULL,
		   "SELECT p.prosecdef, p.pronargs = 0, p.proretset,"
		   " p.prorettype = 'text'::regtype, p.proowner = (SELECT oid FROM pg_roles"
		   "  WHERE rolname = current_user),"
		   " (SELECT string_agg(CASE WHEN x.grantee = 0 THEN 'PUBLIC'"
		   "   ELSE pg_get_userbyid(x.grantee) END, ',' ORDER BY 1)"
		   "  FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x"
		   "  WHERE x.privilege_type = 'EXECUTE' AND x.grantee <> p.proowner)"
		   " FROM pg_proc p WHERE p.oid = 'active_tenant_ids()'::regprocedure",
		   0, NULL);
	assert_int_equal(PQntuples(r), 1);
	assert_true(t_bool(r, 0, 0));   /* SECURITY DEFINER */
	assert_true(t_bool(r, 0, 1));   /* no arguments */
	assert_true(t_bool(r, 0, 2));   /* a set of... */
	assert_true(t_bool(r, 0, 3));   /* ...text */
	assert_true(t_bool(r, 0, 4));   /* owned by the owner role */
	assert_string_equal(PQgetvalue(r, 0, 5), "alexus_app");  /* and nobody else */
	PQclear(r);

	/* alexus_app still reads only its own tenant's row of tenants, and
	 * joining the list to tenants gives it no other tenant's columns. */
	run_tx(app, b, 0, "SELECT count(*) FROM tenants WHERE id = $1", 1, pa, &o);
	assert_true(o.ok && o.first == 0);
	run_tx(app, b, 0, "SELECT count(*) FROM tenants", 0, NULL, &o);
	assert_true(o.ok && o.first == 1);
	run_tx(app, NULL, 0, "SELECT count(*) FROM tenants", 0, NULL, &o);
	assert_true(o.ok && o.first == 0);
	run_tx(app, b, 0,
	       "SELECT count(*) FROM active_tenant_ids() i JOIN tenants t ON t.id = i"
	       " WHERE t.name IS NOT NULL", 0, NULL, &o);
	assert_true(o.ok && o.first == 1);
	run_tx(app, b, 0,
	       "SELECT count(*) FROM tenants WHERE id = $1 AND settings ? 'notify_webhook_url'", 1,
	       pb, &o);
	assert_true(o.ok && o.first == 1);   /* its own: yes */

	/* A disabled tenant leaves the list, and comes back when enabled. */
	run_tx(adm, a, 1, "UPDATE tenants SET disabled_at = now() WHERE id = $1", 1, pa, &o);
	assert_true(o.ok && o.tuples == 1);
	jobs = tenant_list(1);
	all = tenant_list(0);
	assert_string_equal(jobs, all);
	assert_false(listed(jobs, a));
	assert_true(listed(jobs, b));
	free(jobs);
	free(all);
	run_tx(adm, a, 1, "UPDATE tenants SET disabled_at = NULL WHERE id = $1", 1, pa, &o);
	assert_true(o.ok && o.tuples == 1);
	jobs = tenant_list(1);
	assert_true(listed(jobs, a));
	free(jobs);

	/* Owned by a role subject to row-level security it would see no
	 * tenant: it refuses rather than answer an empty list.  All in one
	 * transaction of the owner, rolled back. */
	rand_hex(hex, 8);
	snprintf(role, sizeof(role), "t_plain_%s", hex);
	PQclear(PQexec(adm, "BEGIN"));
	snprintf(sql, sizeof(sql), "CREATE ROLE %s NOLOGIN", role);
	r = PQexec(adm, sql);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	snprintf(sql, sizeof(sql), "ALTER FUNCTION active_tenant_ids() OWNER TO %s", role);
	r = PQexec(adm, sql);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQclear(PQexec(adm, "SET LOCAL ROLE alexus_app"));
	r = PQexec(adm, "SELECT * FROM active_tenant_ids()");
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
	assert_non_null(strstr(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY),
			       "subject to row-level security"));
	PQclear(r);
	PQclear(PQexec(adm, "ROLLBACK"));
	assert_int_equal(h_pg_long(adm, NULL,
				   "SELECT count(*) FROM pg_proc WHERE oid ="
				   " 'active_tenant_ids()'::regprocedure AND proowner ="
				   " (SELECT oid FROM pg_roles WHERE rolname = current_user)",
				   0, NULL),
			 1);
}

/* Settings have one home (0006): `tenant create` writes the tenant's
 * tenant_settings row of column defaults; tenants.settings takes the
 * notify webhook and nothing else. */
static void test_settings_home(void **state)
{
	char name[64], hex[9], cond[4096], sql[4400], *out;
	const char *p[1] = { name };
	struct outcome o;
	PGresult *r;
	(void)state;

	rand_hex(hex, 8);
	snprintf(name, sizeof(name), "settings-%s", hex);
	assert_int_equal(h_ctl(&out, "tenant", "create", name, "--webhook",
			       "https://notify.example/hook", NULL), 0);
	free(out);

	/* Every defaulted column of the row, read as alexus_app, is its
	 * default (from the catalog; updated_at's now() aside). */
	r = h_pg_q(adm, NULL,
		   "SELECT string_agg(format('%I IS NOT DISTINCT FROM (%s)', a.attname,"
		   " pg_get_expr(d.adbin, d.adrelid)), ' AND ' ORDER BY a.attnum), count(*)"
		   " FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid"
		   " AND d.adnum = a.attnum WHERE a.attrelid = 'tenant_settings'::regclass"
		   " AND NOT a.attisdropped AND pg_get_expr(d.adbin, d.adrelid) !~ 'now\\(\\)'",
		   0, NULL);
	assert_true(atol(PQgetvalue(r, 0, 1)) >= 7);
	snprintf(cond, sizeof(cond), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tenant_settings WHERE %s", cond);
	assert_int_equal(h_pg_long(app, name, "SELECT count(*) FROM tenant_settings", 0, NULL), 1);
	assert_int_equal(h_pg_long(app, name, sql, 0, NULL), 1);
	r = h_pg_q(app, name,
		   "SELECT settings->>'notify_webhook_url', settings - 'notify_webhook_url' = '{}'"
		   " FROM tenants", 0, NULL);
	assert_int_equal(PQntuples(r), 1);
	assert_string_equal(PQgetvalue(r, 0, 0), "https://notify.example/hook");
	assert_true(t_bool(r, 0, 1));
	PQclear(r);

	/* Creating it again fails and leaves the settings as they were set. */
	run_tx(app, name, 1,
	       "UPDATE tenant_settings SET autonomy = 'approval' WHERE tenant_id = $1", 1, p, &o);
	assert_true(o.ok && o.tuples == 1);
	assert_int_equal(h_ctl(&out, "tenant", "create", name, NULL), 1);
	assert_non_null(strstr(out, "exists"));
	free(out);
	assert_int_equal(h_pg_long(app, name, "SELECT count(*) FROM tenant_settings"
				   " WHERE autonomy = 'approval'", 0, NULL),
			 1);

	/* No second home: another key, or a webhook that is not a string,
	 * is refused in tenants.settings even to the owner. */
	run_tx(adm, name, 0, "UPDATE tenants SET settings = settings ||"
	       " '{\"execute_threshold\": 0.9}' WHERE id = $1", 1, p, &o);
	assert_false(o.ok);
	assert_string_equal(o.state, "23514");
	assert_string_equal(o.constraint, "tenants_settings_notify_only");
	run_tx(adm, name, 0, "UPDATE tenants SET settings = '{\"notify_webhook_url\": 1}'"
	       " WHERE id = $1", 1, p, &o);
	assert_false(o.ok);
	assert_string_equal(o.state, "23514");
	/* The webhook itself is still set and cleared through alexusctl. */
	assert_int_equal(h_ctl(&out, "tenant", "set-webhook", name, "", NULL), 0);
	free(out);
	assert_int_equal(h_pg_long(app, name, "SELECT count(*) FROM tenants WHERE settings = '{}'",
				   0, NULL),
			 1);
	assert_int_equal(h_ctl(&out, "tenant", "set-webhook", name, "https://notify.example/2",
			       NULL), 0);
	free(out);
}

/* ------------------------------------------------------------ test 5 */

static char mig_db[64], mig_dir[64], mig_url[512];

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0)
		fail_msg("cannot write %s: %s", path, strerror(errno));
}

static int is_migration(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return len > 9 && strspn(d->d_name, "0123456789") == 4 && d->d_name[4] == '_' &&
	       strcmp(d->d_name + len - 4, ".sql") == 0;
}

/* `alexusctl migrate --dir mig_dir` on the fresh database: exit status,
 * *out what it printed on stdout, *err on stderr (both malloc'd). */
static int migrate(char **out, char **err)
{
	static char env[600];
	const char *envs[] = { env, NULL };
	char ctl[512], errpath[600];
	const char *argv[] = {
	    "sh", "-c", "exec \"$0\" migrate --dir \"$1\" 2>\"$2\"", ctl, mig_dir, errpath, NULL};
	struct h_proc p;

	snprintf(ctl, sizeof(ctl), "%s/alexusctl", h_env("ALEXUS_BIN_DIR"));
	snprintf(errpath, sizeof(errpath), "%s.stderr", mig_dir);
	snprintf(env, sizeof(env), "ALEXUS_ADMIN_DATABASE_URL=%s", mig_url);
	h_spawn_argv(&p, "/bin/sh", argv, envs);
	if (h_wait_exit(&p, WAIT_MS) != 0) {
		h_stop(&p, SIGKILL, 1000);
		fail_msg("alexusctl migrate did not finish");
	}
	*out = h_read_file(p.log, NULL);
	*err = h_read_file(errpath, NULL);
	unlink(p.log);
	unlink(errpath);
	if (strstr(*err, "ERROR: AddressSanitizer") || strstr(*err, "ERROR: LeakSanitizer") ||
	    strstr(*err, "runtime error:"))
		fail_msg("alexusctl migrate reported a sanitizer error:\n%s", *err);
	return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : 128;
}

/* schema_migrations of the fresh database, one "version applied_at" per
 * line in applied_at order (malloc'd). */
static char *recorded(PGconn *c)
{
	PGresult *r = h_pg_q(c, NULL,
			     "SELECT coalesce(string_agg(version || ' ' || applied_at::text, E'\\n'"
			     " ORDER BY applied_at, version), '') FROM schema_migrations",
			     0, NULL);
	char *s = strdup(PQgetvalue(r, 0, 0));

	PQclear(r);
	return s;
}

/* The first migration with backfills; the first run stops before it. */
#define BACKFILL_FROM "0006"

/* proto/sql/name into mig_dir, and its "applied" line onto expect. */
static void copy_migration(const char *name, char *expect, size_t n)
{
	char src[512];
	size_t len;
	char *text;

	snprintf(src, sizeof(src), "proto/sql/%s", name);
	text = h_read_file(src, &len);
	write_file(mig_dir, name, text, len);
	free(text);
	snprintf(expect + strlen(expect), n - strlen(expect), "applied %s\n", name);
}

/* Data of the schema before BACKFILL_FROM, as a live database would have
 * it: mig-old with a notify webhook and three audit rows but no settings
 * row; mig-set with a settings row of its own and no audit rows. */
static void seed_old_schema(PGconn *db)
{
	PQclear(h_pg_q(db, "mig-old",
		       "INSERT INTO tenants (id, name, settings) VALUES ('mig-old', 'Old',"
		       " '{\"notify_webhook_url\": \"https://old.example/hook\"}')",
		       0, NULL));
	PQclear(h_pg_q(db, "mig-old",
		       "SELECT audit_append('act', 'notify', 'incident/' || i, '{}'::jsonb, NULL)"
		       " FROM generate_series(1, 3) AS i",
		       0, NULL));
	PQclear(h_pg_q(db, "mig-set", "INSERT INTO tenants (id, name) VALUES ('mig-set', 'Set')",
		       0, NULL));
	PQclear(h_pg_q(db, "mig-set",
		       "INSERT INTO tenant_settings (tenant_id, autonomy)"
		       " VALUES ('mig-set', 'approval')",
		       0, NULL));
}

/* After the second run: every tenant has its settings row (an existing
 * one untouched), every chain its head equal to the table, and the tables
 * whose FORCE the backfill lifted have it back. */
static void check_backfills(PGconn *db)
{
	PGresult *r;

	assert_int_equal(h_pg_long(db, NULL, "SELECT count(*) FROM tenant_settings WHERE"
				   " tenant_id = 'mig-old' AND autonomy = 'dry_run'", 0, NULL),
			 1);
	assert_int_equal(h_pg_long(db, NULL, "SELECT count(*) FROM tenant_settings WHERE"
				   " tenant_id = 'mig-set' AND autonomy = 'approval'", 0, NULL),
			 1);
	assert_int_equal(h_pg_long(db, NULL, "SELECT count(*) FROM tenant_settings", 0, NULL), 2);
	assert_int_equal(h_pg_long(db, NULL, "SELECT row_count FROM audit_heads WHERE"
				   " tenant_id = 'mig-old'", 0, NULL),
			 h_pg_long(db, NULL, "SELECT count(*) FROM audit_log WHERE"
				   " tenant_id = 'mig-old'", 0, NULL));
	assert_int_equal(h_pg_long(db, NULL, "SELECT count(*) FROM audit_heads h JOIN audit_log l"
				   " ON l.tenant_id = h.tenant_id AND l.hash = h.last_hash"
				   " WHERE h.tenant_id = 'mig-old' AND l.seq = 3", 0, NULL),
			 1);
	assert_int_equal(h_pg_long(db, NULL, "SELECT count(*) FROM audit_heads WHERE"
				   " tenant_id = 'mig-set'", 0, NULL),
			 0);
	assert_int_equal(h_pg_long(db, NULL, "SELECT count(*) FROM pg_class WHERE relname IN"
				   " ('tenants', 'tenant_settings', 'audit_log', 'audit_heads')"
				   " AND relrowsecurity AND relforcerowsecurity", 0, NULL),
			 4);
	r = h_pg_q(db, NULL, "SELECT string_agg(t, ',' ORDER BY t) FROM active_tenant_ids() t",
		   0, NULL);
	assert_string_equal(PQgetvalue(r, 0, 0), "mig-old,mig-set");
	PQclear(r);
}

static void test_migrations(void **state)
{
	static const char first[] = "CREATE TABLE mig_order (a integer);\n";
	static const char second[] = "ALTER TABLE mig_order ADD COLUMN b integer;\n";
	static const char broken[] = "CREATE TABLE broken_marker (id integer);\n"
				     "INSERT INTO broken_marker VALUES (1);\n"
				     "SELECT 1 / 0;\n";
	struct dirent **names = NULL;
	char *out, *err, *before, *after, *lines, *p, hex[9], expect[8192] = "";
	char expect1[4096] = "", expect2[4096] = "";
	const char *admin = h_env("ALEXUS_ADMIN_DATABASE_URL"), *slash, *q;
	PGconn *db;
	PGresult *r;
	int n, i, napplied = 0;
	(void)state;

	/* A fresh database next to the stack's, same server and owner. */
	rand_hex(hex, 8);
	snprintf(mig_db, sizeof(mig_db), "alexus_mig_%s", hex);
	slash = strstr(admin, "://");
	slash = strchr(slash ? slash + 3 : admin, '/');
	assert_non_null(slash);
	q = strchr(slash, '?');
	snprintf(mig_url, sizeof(mig_url), "%.*s/%s%s", (int)(slash - admin), admin, mig_db,
		 q ? q : "");
	{
		char sql[128];

		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", mig_db);
		r = PQexec(adm, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fail_msg("%s: %s", sql, PQerrorMessage(adm));
		PQclear(r);
	}

	/* proto/sql copied in two steps (below), then two files of our own. */
	snprintf(mig_dir, sizeof(mig_dir), "/tmp/alexus-mig-XXXXXX");
	if (mkdtemp(mig_dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	n = scandir("proto/sql", &names, is_migration, alphasort);
	assert_true(n >= 6);

	/* First run: the files before 0006, whose backfills need data of the
	 * older schema to be seen working. */
	for (i = 0; i < n && strcmp(names[i]->d_name, BACKFILL_FROM) < 0; i++)
		copy_migration(names[i]->d_name, expect1, sizeof(expect1));
	assert_int_equal(migrate(&out, &err), 0);
	assert_string_equal(out, expect1);
	assert_string_equal(err, "");
	free(out);
	free(err);
	db = PQconnectdb(mig_url);
	assert_int_equal(PQstatus(db), CONNECTION_OK);
	seed_old_schema(db);

	/* Second run: the rest, plus two files that work only in name order;
	 * the later one is written first so directory order is not name
	 * order. */
	write_file(mig_dir, "9001_order_second.sql", second, sizeof(second) - 1);
	for (; i < n; i++)
		copy_migration(names[i]->d_name, expect2, sizeof(expect2));
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	write_file(mig_dir, "9000_order_first.sql", first, sizeof(first) - 1);
	snprintf(expect2 + strlen(expect2), sizeof(expect2) - strlen(expect2),
		 "applied 9000_order_first.sql\napplied 9001_order_second.sql\n");
	assert_int_equal(migrate(&out, &err), 0);
	assert_string_equal(out, expect2);
	assert_string_equal(err, "");
	free(out);
	free(err);
	check_backfills(db);
	snprintf(expect, sizeof(expect), "%s%s", expect1, expect2);

	before = recorded(db);
	for (lines = before, p = expect; (p = strstr(p, "applied ")) != NULL; p += 8) {
		size_t len = strcspn(p + 8, "\n");

		/* recorded in the same order, each with a later applied_at */
		assert_int_equal(strncmp(lines, p + 8, len), 0);
		assert_true(lines[len] == ' ');
		lines = strchr(lines, '\n') ? strchr(lines, '\n') + 1 : lines + strlen(lines);
		napplied++;
	}
	assert_int_equal(napplied, n + 2);
	assert_int_equal(h_pg_long(db, NULL, "SELECT count(*) FROM schema_migrations", 0, NULL),
			 napplied);
	assert_int_equal(h_pg_long(db, NULL,
				   "SELECT count(DISTINCT applied_at) FROM schema_migrations", 0,
				   NULL),
			 napplied);
	assert_int_equal(h_pg_long(db, NULL,
				   "SELECT count(*) FROM information_schema.columns WHERE"
				   " table_name = 'mig_order' AND column_name IN ('a', 'b')",
				   0, NULL),
			 2);

	/* A third run: nothing to do, nothing recorded. */
	assert_int_equal(migrate(&out, &err), 0);
	assert_string_equal(out, "up to date\n");
	assert_string_equal(err, "");
	free(out);
	free(err);
	after = recorded(db);
	assert_string_equal(after, before);
	free(after);

	/* A failing file: non-zero, named on stderr, and no trace of it. */
	write_file(mig_dir, "9999_broken.sql", broken, sizeof(broken) - 1);
	assert_int_not_equal(migrate(&out, &err), 0);
	if (strstr(err, "9999_broken.sql") == NULL || strstr(err, "division by zero") == NULL)
		fail_msg("stderr does not name the file and the error: '%s'", err);
	assert_null(strstr(out, "applied"));
	free(out);
	free(err);
	assert_int_equal(h_pg_long(db, NULL, "SELECT count(*) FROM pg_class WHERE relname ="
				   " 'broken_marker'", 0, NULL),
			 0);
	assert_int_equal(h_pg_long(db, NULL, "SELECT count(*) FROM schema_migrations WHERE"
				   " version = '9999_broken.sql'", 0, NULL),
			 0);
	after = recorded(db);
	assert_string_equal(after, before);
	free(after);
	free(before);
	PQfinish(db);
}

static int migrations_teardown(void **state)
{
	char sql[128], path[512];
	struct dirent **names = NULL;
	int n, i;
	(void)state;

	if (mig_db[0] != '\0') {
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", mig_db);
		PQclear(PQexec(adm, sql));
		mig_db[0] = '\0';
	}
	if (mig_dir[0] != '\0') {
		n = scandir(mig_dir, &names, NULL, alphasort);
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%s", mig_dir, names[i]->d_name);
			if (names[i]->d_name[0] != '.')
				unlink(path);
			free(names[i]);
		}
		free(names);
		rmdir(mig_dir);
		mig_dir[0] = '\0';
	}
	return 0;
}

/* ------------------------------------------------------------ main */

static int group_setup(void **state)
{
	(void)state;
	if (ax_hash_init() != 0)
		return -1;
	adm = h_pg_admin();
	app = h_pg_app();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	PQfinish(app);
	PQfinish(adm);
	adm = app = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog_rls),
		cmocka_unit_test_teardown(test_cross_tenant, cross_tenant_teardown),
		cmocka_unit_test(test_jobs_tenant_list),
		cmocka_unit_test(test_settings_home),
		cmocka_unit_test_teardown(test_migrations, migrations_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
