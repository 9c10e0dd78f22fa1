/* pg.c - PostgreSQL access with tenant scoping (see pg.h).
 *
 * Design: one synchronous libpq connection per struct ax_pg, opened lazily
 * and reopened after it breaks.  Workers are sequential (one unit of work
 * at a time), so the blocking API is the simple, correct choice; nothing
 * here runs on an event loop.
 *
 * Tenant scope is a transaction property: ax_pg_begin runs BEGIN and then
 * set_config('app.tenant_id', $1, true) -- the function form of SET LOCAL,
 * which unlike SET accepts a bind parameter, so the tenant id is never
 * spliced into SQL text.  The setting dies with the transaction, so a
 * pooled or reused connection cannot leak one tenant's scope into the
 * next unit of work.
 *
 * Broken connections: after any failed call whose connection status is no
 * longer CONNECTION_OK we mark the connection broken; ax_pg_ensure (and
 * ax_pg_begin, which calls it) reconnects next time.  We never reconnect
 * inside a transaction -- its work and its tenant scope would be gone --
 * so ax_pg_exec on a broken connection just fails.
 *
 * Server NOTICEs are discarded (see discard_notice).
 *
 * Every call records the SQLSTATE of its failure ("" on success) so the
 * caller can tell a unique violation (23505) from a lost connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/pg.h"
#include "alexus/keys.h"
#include "alexus/mem.h"

/* Seconds libpq waits for a TCP connect, unless the URL says otherwise. */
#define PG_CONNECT_TIMEOUT "10"

struct ax_pg {
	char *url;
	PGconn *conn;     /* NULL until the first ax_pg_ensure */
	int broken;       /* reconnect before the next transaction */
	char sqlstate[6];
	char constraint[64]; /* of the last failure, "" when none was named */
};

struct ax_pg *ax_pg_new(const char *url)
{
	struct ax_pg *pg;

	if (url == NULL)
		return NULL;
	pg = ax_xcalloc(1, sizeof(*pg));
	pg->url = ax_xstrdup(url);
	return pg;
}

void ax_pg_free(struct ax_pg *pg)
{
	if (pg == NULL)
		return;
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	free(pg->url);
	free(pg);
}

PGconn *ax_pg_conn(struct ax_pg *pg)
{
	return pg != NULL ? pg->conn : NULL;
}

const char *ax_pg_sqlstate(const struct ax_pg *pg)
{
	return pg != NULL ? pg->sqlstate : "";
}

const char *ax_pg_constraint(const struct ax_pg *pg)
{
	return pg != NULL ? pg->constraint : "";
}

/* Copy a libpq message as one line: libpq ends messages with a newline
 * and continues some on an indented second line ("\n\tIs the server
 * running..."); callers print errbuf as a single log or error line. */
static void set_msg(char *errbuf, size_t errlen, const char *prefix, const char *msg)
{
	char *p, *q;
	int space = 0;

	if (errbuf == NULL || errlen == 0)
		return;
	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	ax_errfmt(errbuf, errlen, "%s%s", prefix, msg);
	for (p = q = errbuf; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
			space = 1;
			continue;
		}
		if (space && q != errbuf)
			*q++ = ' ';
		space = 0;
		*q++ = *p;
	}
	*q = '\0';
}

static void set_state(struct ax_pg *pg, const char *state)
{
	snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state ? state : "");
	pg->constraint[0] = '\0';
}

/* SQLSTATE and constraint name of a failed result. */
static void set_state_of(struct ax_pg *pg, const PGresult *res)
{
	const char *c = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

	set_state(pg, PQresultErrorField(res, PG_DIAG_SQLSTATE));
	snprintf(pg->constraint, sizeof(pg->constraint), "%s", c != NULL ? c : "");
}

/* libpq prints NOTICEs on stderr by default, which would break the
 * daemons' one-JSON-object-per-line logs; the library never logs. */
static void discard_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static void check_broken(struct ax_pg *pg)
{
	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK)
		pg->broken = 1;
}

ax_err ax_pg_ensure(struct ax_pg *pg, char *errbuf, size_t errlen)
{
	/* Defaults first: parameters later in the arrays (the URL, expanded
	 * from dbname) override earlier ones. */
	const char *const keys[] = { "connect_timeout", "fallback_application_name", "dbname", NULL };
	const char *vals[] = { PG_CONNECT_TIMEOUT, "alexus", NULL, NULL };

	if (pg == NULL) {
		ax_errfmt(errbuf, errlen, "postgres: no connection object");
		return AX_EINVAL;
	}
	if (pg->conn != NULL && !pg->broken && PQstatus(pg->conn) == CONNECTION_OK)
		return AX_OK;
	if (pg->conn != NULL) {
		PQfinish(pg->conn);
		pg->conn = NULL;
	}
	vals[2] = pg->url;
	pg->conn = PQconnectdbParams(keys, vals, 1);
	if (pg->conn == NULL) {
		ax_errfmt(errbuf, errlen, "postgres: cannot allocate a connection");
		set_state(pg, "08001");
		pg->broken = 1;
		return AX_EIO;
	}
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		set_msg(errbuf, errlen, "postgres: cannot connect: ", PQerrorMessage(pg->conn));
		PQfinish(pg->conn);
		pg->conn = NULL;
		set_state(pg, "08001");
		pg->broken = 1;
		return AX_EIO;
	}
	PQsetNoticeProcessor(pg->conn, discard_notice, NULL);
	pg->broken = 0;
	set_state(pg, "");
	return AX_OK;
}

/* The error of a failed result into errbuf ("<prefix>primary (detail)")
 * and its SQLSTATE and constraint into pg. */
static void set_result_error(struct ax_pg *pg, const PGresult *res, const char *prefix,
			     char *errbuf, size_t errlen)
{
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

	set_state_of(pg, res);
	if (primary != NULL && detail != NULL)
		ax_errfmt(errbuf, errlen, "%s%s (%s)", prefix, primary, detail);
	else if (primary != NULL)
		ax_errfmt(errbuf, errlen, "%s%s", prefix, primary);
	else
		set_msg(errbuf, errlen, prefix, PQresultErrorMessage(res));
}

PGresult *ax_pg_exec(struct ax_pg *pg, char *errbuf, size_t errlen, const char *sql,
		     int nparams, const char *const *params)
{
	PGresult *res;
	ExecStatusType st;

	if (pg == NULL || sql == NULL) {
		ax_errfmt(errbuf, errlen, "postgres: bad arguments");
		return NULL;
	}
	if (pg->conn == NULL || pg->broken) {
		ax_errfmt(errbuf, errlen, "postgres: not connected");
		set_state(pg, "08003");
		return NULL;
	}
	res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		set_state(pg, "");
		return res;
	}
	if (res != NULL) {
		set_result_error(pg, res, "postgres: ", errbuf, errlen);
		PQclear(res);
	} else {
		set_msg(errbuf, errlen, "postgres: ", PQerrorMessage(pg->conn));
	}
	check_broken(pg);
	if (pg->broken && pg->sqlstate[0] == '\0')
		set_state(pg, "08006");
	return NULL;
}

/* Run a statement whose result we do not need. */
static ax_err run(struct ax_pg *pg, const char *sql, int n, const char *const *params,
		  char *errbuf, size_t errlen)
{
	PGresult *res = ax_pg_exec(pg, errbuf, errlen, sql, n, params);

	if (res == NULL)
		return AX_EIO;
	PQclear(res);
	return AX_OK;
}

ax_err ax_pg_begin(struct ax_pg *pg, const char *tenant, char *errbuf, size_t errlen)
{
	ax_err rc;

	if (tenant != NULL && !ax_tenant_valid(tenant)) {
		ax_errfmt(errbuf, errlen, "postgres: invalid tenant id");
		return AX_EINVAL;
	}
	rc = ax_pg_ensure(pg, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	/* A transaction an earlier unit of work left open (or failed in) is
	 * abandoned work: roll it back rather than commit it under a new
	 * tenant's scope. */
	if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		ax_pg_rollback(pg);
	if (pg->broken) {
		rc = ax_pg_ensure(pg, errbuf, errlen);
		if (rc != AX_OK)
			return rc;
	}
	rc = run(pg, "BEGIN", 0, NULL, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	if (tenant != NULL) {
		const char *params[1] = { tenant };

		rc = run(pg, "SELECT set_config('app.tenant_id', $1, true)", 1, params,
			 errbuf, errlen);
		if (rc != AX_OK) {
			ax_pg_rollback(pg);
			return rc;
		}
	}
	return AX_OK;
}

ax_err ax_pg_commit(struct ax_pg *pg, char *errbuf, size_t errlen)
{
	PGresult *res;
	int rolled_back;

	if (pg == NULL || pg->conn == NULL || pg->broken) {
		ax_errfmt(errbuf, errlen, "postgres: commit: not connected");
		if (pg != NULL)
			set_state(pg, "08003");
		return AX_EIO;
	}
	if (PQtransactionStatus(pg->conn) == PQTRANS_INERROR) {
		/* COMMIT would "succeed" with a ROLLBACK tag; say what it is. */
		ax_pg_rollback(pg);
		ax_errfmt(errbuf, errlen, "postgres: commit: the transaction had failed; rolled back");
		set_state(pg, "25P02");
		return AX_EIO;
	}
	res = ax_pg_exec(pg, errbuf, errlen, "COMMIT", 0, NULL);
	if (res == NULL)
		return AX_EIO;
	rolled_back = strcmp(PQcmdStatus(res), "ROLLBACK") == 0;
	PQclear(res);
	if (rolled_back) {
		ax_errfmt(errbuf, errlen, "postgres: commit: the transaction was rolled back");
		set_state(pg, "25P02");
		return AX_EIO;
	}
	return AX_OK;
}

void ax_pg_rollback(struct ax_pg *pg)
{
	PGresult *res;

	if (pg == NULL || pg->conn == NULL || pg->broken)
		return;
	if (PQtransactionStatus(pg->conn) == PQTRANS_IDLE)
		return;
	res = PQexec(pg->conn, "ROLLBACK");
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		check_broken(pg);
	if (res != NULL)
		PQclear(res);
	/* A connection stuck in a transaction is no use to anyone. */
	if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		pg->broken = 1;
}

ax_err ax_pg_pipeline(struct ax_pg *pg, const struct ax_pg_stmt *stmts, int n, PGresult **res,
		      char *errbuf, size_t errlen)
{
	int i, sent = 0, k = 0, failed = -1, synced = 0, nulls = 0;

	if (res != NULL)
		for (i = 0; i < n; i++)
			res[i] = NULL;
	if (pg == NULL || pg->conn == NULL || pg->broken) {
		ax_errfmt(errbuf, errlen, "postgres: not connected");
		if (pg != NULL)
			set_state(pg, "08003");
		return AX_EIO;
	}
	if (PQenterPipelineMode(pg->conn) != 1) {
		set_msg(errbuf, errlen, "postgres: pipeline: ", PQerrorMessage(pg->conn));
		set_state(pg, "08006");
		check_broken(pg);
		return AX_EIO;
	}
	for (i = 0; i < n; i++, sent++)
		if (!PQsendQueryParams(pg->conn, stmts[i].sql, stmts[i].nparams, NULL,
				       stmts[i].params, NULL, NULL, 0))
			break;
	if (sent < n || !PQpipelineSync(pg->conn)) {
		/* Nothing sensible can follow a failed send: the protocol
		 * state is unknown, so the connection is given up. */
		set_msg(errbuf, errlen, "postgres: pipeline: ", PQerrorMessage(pg->conn));
		set_state(pg, "08006");
		pg->broken = 1;
		return AX_EIO;
	}
	/* Each statement yields its result then NULL; the sync point ends
	 * the pipeline.  After an error the server skips the rest, which
	 * come back as PGRES_PIPELINE_ABORTED. */
	while (!synced) {
		PGresult *r = PQgetResult(pg->conn);
		ExecStatusType st;

		if (r == NULL) {
			k++;
			if (++nulls > n + 1 || PQstatus(pg->conn) != CONNECTION_OK)
				break;
			continue;
		}
		st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			synced = 1;
		} else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			if (res != NULL && k < n && res[k] == NULL) {
				res[k] = r;
				continue;
			}
		} else if (failed < 0 && st != PGRES_PIPELINE_ABORTED) {
			char where[40];

			failed = k;
			snprintf(where, sizeof(where), "postgres: statement %d: ", k);
			set_result_error(pg, r, where, errbuf, errlen);
		}
		PQclear(r);
	}
	if (!synced || PQexitPipelineMode(pg->conn) != 1) {
		if (failed < 0) {
			set_msg(errbuf, errlen, "postgres: pipeline: ", PQerrorMessage(pg->conn));
			set_state(pg, "08006");
		}
		pg->broken = 1;
		failed = failed < 0 ? 0 : failed;
	}
	if (failed >= 0) {
		check_broken(pg);
		if (res != NULL)
			for (i = 0; i < n; i++) {
				if (res[i] != NULL)
					PQclear(res[i]);
				res[i] = NULL;
			}
		return AX_EIO;
	}
	set_state(pg, "");
	return AX_OK;
}

ax_err ax_pg_audit_verify(struct ax_pg *pg, const char *tenant, long long *rows,
			  long long *first_broken, char *errbuf, size_t errlen)
{
	const char *params[1] = { tenant };
	PGresult *res;
	ax_err rc;

	*rows = 0;
	*first_broken = 0;
	if (tenant == NULL) {
		ax_errfmt(errbuf, errlen, "audit verify: no tenant");
		return AX_EINVAL;
	}
	rc = ax_pg_begin(pg, tenant, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	res = ax_pg_exec(pg, errbuf, errlen, AX_AUDIT_VERIFY_SQL, 1, params);
	if (res == NULL) {
		ax_pg_rollback(pg);
		return AX_EIO;
	}
	if (PQntuples(res) != 1 || PQnfields(res) != 2) {
		PQclear(res);
		ax_pg_rollback(pg);
		ax_errfmt(errbuf, errlen, "audit verify: unexpected result");
		return AX_EPROTO;
	}
	*rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (!PQgetisnull(res, 0, 1))
		*first_broken = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	/* Read-only: nothing to keep, and a rollback cannot fail the check. */
	ax_pg_rollback(pg);
	return AX_OK;
}
