/* ctl_migrate.c - `alexusctl migrate`: apply proto/sql/NNNN_*.sql in order.
 *
 * Design: migrations are plain SQL files applied by the owner role.  A
 * session-level advisory lock serialises concurrent runs (two deploys
 * starting at once), and is taken before schema_migrations is created, so
 * even the CREATE TABLE IF NOT EXISTS cannot race.  Under the lock we
 * re-read what is recorded, then apply each missing file in name order, in
 * its own transaction together with its schema_migrations row: a file is
 * either applied and recorded, or neither.  The file is sent with PQexec,
 * the simple-query protocol, which runs a multi-statement script (bind
 * parameters would restrict it to one statement).  Files must therefore not
 * contain BEGIN/COMMIT or statements that refuse to run in a transaction.
 *
 * The directory is listed with scandir(3); names are compared with strcmp,
 * not the locale's collation, so the order is the same everywhere. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "alexus/mem.h"

#define MIGRATE_USAGE "migrate [--dir DIR]"
#define MIGRATE_LOCK "SELECT pg_advisory_lock(hashtext('alexus.migrate'))"
#define MIGRATE_UNLOCK "SELECT pg_advisory_unlock(hashtext('alexus.migrate'))"
#define MIGRATE_TABLE                                                  \
	"CREATE TABLE IF NOT EXISTS schema_migrations ("               \
	" version text PRIMARY KEY,"                                   \
	" applied_at timestamptz NOT NULL DEFAULT now())"

/* NNNN_*.sql: four digits, an underscore, something, ".sql". */
static int is_migration(const struct dirent *d)
{
	const char *n = d->d_name;
	size_t len = strlen(n);

	return len > 9 && strspn(n, "0123456789") == 4 && n[4] == '_' &&
	       strcmp(n + len - 4, ".sql") == 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static char *read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		ax_errfmt(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 16384;
			buf = ax_xrealloc(buf, cap + 1);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		ax_errfmt(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	if (strlen(buf) != len) {
		ax_errfmt(err, errlen, "'%s' contains a NUL byte", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* The line of a 1-based character position in sql (UTF-8 aware). */
static long line_of(const char *sql, long pos)
{
	long line = 1, ch = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)sql; *p != '\0'; p++) {
		if ((*p & 0xC0) == 0x80)
			continue;     /* a continuation byte is not a character */
		if (++ch >= pos)
			break;
		if (*p == '\n')
			line++;
	}
	return line;
}

/* One line describing why res failed, with the file's line if known. */
static void describe(const PGresult *res, PGconn *conn, const char *sql, char *out, size_t n)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	size_t len;

	if (msg == NULL) {
		msg = PQerrorMessage(conn);
		len = strlen(msg);
		while (len > 0 && msg[len - 1] == '\n')
			len--;
		snprintf(out, n, "%.*s", (int)len, msg);
		return;
	}
	if (pos != NULL)
		snprintf(out, n, "line %ld: %s (SQLSTATE %s)", line_of(sql, atol(pos)), msg,
			 state ? state : "?");
	else
		snprintf(out, n, "%s (SQLSTATE %s)", msg, state ? state : "?");
}

/* Run a statement with no result we need; 0 or -1 with err set. */
static int simple(struct ax_pg *pg, const char *sql, int n, const char *const *params, char *err,
		  size_t errlen)
{
	PGresult *res = ax_pg_exec(pg, err, errlen, sql, n, params);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* 1 if version is recorded, 0 if not, -1 on error. */
static int recorded(struct ax_pg *pg, const char *version, char *err, size_t errlen)
{
	const char *params[1] = { version };
	PGresult *res = ax_pg_exec(pg, err, errlen,
				   "SELECT 1 FROM schema_migrations WHERE version = $1", 1, params);
	int found;

	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	PQclear(res);
	return found;
}

/* Apply one file in its own transaction; CTL_OK or CTL_FAIL (printed). */
static int apply(struct ax_pg *pg, const char *dir, const char *name)
{
	char err[1024], path[4096];
	const char *params[1] = { name };
	PGresult *res;
	ExecStatusType st;
	char *sql;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	sql = read_file(path, err, sizeof(err));
	if (sql == NULL)
		return ctl_fail("migrate: %s", err);
	if (ax_pg_begin(pg, NULL, err, sizeof(err)) != AX_OK) {
		free(sql);
		return ctl_fail("migrate: %s: %s", name, err);
	}
	res = PQexec(ax_pg_conn(pg), sql);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
		describe(res, ax_pg_conn(pg), sql, err, sizeof(err));
		PQclear(res);
		free(sql);
		ax_pg_rollback(pg);
		return ctl_fail("migrate: %s failed, rolled back: %s", name, err);
	}
	PQclear(res);
	free(sql);
	if (simple(pg, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())", 1,
		   params, err, sizeof(err)) != 0 ||
	    ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		ax_pg_rollback(pg);
		return ctl_fail("migrate: %s failed, rolled back: %s", name, err);
	}
	printf("applied %s\n", name);
	fflush(stdout);
	return CTL_OK;
}

int ctl_migrate(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = c->cfg.migrations_dir;
	struct dirent **names = NULL;
	struct ax_pg *pg = NULL;
	char err[1024];
	int opt, n = -1, i, applied = 0, rc = CTL_FAIL;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'd')
			dir = optarg;
		else
			return ctl_usage(MIGRATE_USAGE, "bad option '%s'", argv[optind - 1]);
	}
	if (optind != argc)
		return ctl_usage(MIGRATE_USAGE, "unexpected argument '%s'", argv[optind]);

	n = scandir(dir, &names, is_migration, by_name);
	if (n < 0)
		return ctl_fail("migrate: cannot read directory '%s': %s", dir, strerror(errno));
	pg = ctl_pg_open(c->cfg.admin_database_url, "admin");
	if (pg == NULL)
		goto out;
	/* Blocks while another migrate holds it; released at disconnect
	 * too, so a crashed run cannot wedge the next one. */
	if (simple(pg, MIGRATE_LOCK, 0, NULL, err, sizeof(err)) != 0 ||
	    simple(pg, MIGRATE_TABLE, 0, NULL, err, sizeof(err)) != 0) {
		ctl_fail("migrate: %s", err);
		goto out;
	}
	for (i = 0; i < n; i++) {
		int r = recorded(pg, names[i]->d_name, err, sizeof(err));

		if (r < 0) {
			ctl_fail("migrate: %s", err);
			goto out;
		}
		if (r == 1)
			continue;
		if (apply(pg, dir, names[i]->d_name) != CTL_OK)
			goto out;
		applied++;
	}
	if (applied == 0)
		printf("up to date\n");
	(void)simple(pg, MIGRATE_UNLOCK, 0, NULL, err, sizeof(err));
	rc = CTL_OK;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	ax_pg_free(pg);
	return rc;
}
