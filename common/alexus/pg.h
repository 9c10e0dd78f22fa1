/* pg.h - PostgreSQL access with tenant scoping.
 *
 * Each unit of work is a transaction that first runs
 * set_config('app.tenant_id', $tenant, true) -- SET LOCAL -- so row-level
 * security sees only that tenant.  The application role has no BYPASSRLS;
 * forgetting ax_pg_begin simply returns no rows. */
#ifndef AX_PG_H
#define AX_PG_H

#include <stddef.h>
#include <libpq-fe.h>
#include "alexus/err.h"

struct ax_pg;   /* opaque: a connection that reconnects on demand */

/* A libpq URL or conninfo string; nothing connects until ax_pg_ensure.
 * NULL only when url is NULL. */
struct ax_pg *ax_pg_new(const char *url);
void ax_pg_free(struct ax_pg *pg);             /* NULL-safe */

/* Connect if not connected (or after a failure).  AX_EIO with errbuf.
 * connect_timeout defaults to 10 s unless the URL sets one. */
ax_err ax_pg_ensure(struct ax_pg *pg, char *errbuf, size_t errlen) AX_MUSTCHECK;
/* The live connection (NULL before the first ax_pg_ensure), for callers
 * that need libpq directly, e.g. PQexec of a multi-statement script. */
PGconn *ax_pg_conn(struct ax_pg *pg);

/* ax_pg_ensure; BEGIN; SELECT set_config('app.tenant_id', $1, true) with
 * the tenant as a bind parameter.  tenant NULL begins an unscoped
 * transaction (admin tools only).  AX_EINVAL if tenant is not a valid id.
 * A transaction still open from earlier is rolled back first. */
ax_err ax_pg_begin(struct ax_pg *pg, const char *tenant, char *errbuf, size_t errlen) AX_MUSTCHECK;
/* COMMIT.  A transaction that had failed is rolled back and reported as
 * AX_EIO (SQLSTATE 25P02), never as a successful commit. */
ax_err ax_pg_commit(struct ax_pg *pg, char *errbuf, size_t errlen) AX_MUSTCHECK;
void ax_pg_rollback(struct ax_pg *pg);         /* best effort, never fails */

/* PQexecParams with text parameters.  Returns the result when its status
 * is COMMAND_OK or TUPLES_OK, else NULL with errbuf set (and the connection
 * marked for reconnect if it broke).  PQclear the result. */
PGresult *ax_pg_exec(struct ax_pg *pg, char *errbuf, size_t errlen, const char *sql,
		     int nparams, const char *const *params);

/* One statement of a pipeline: text parameters, as for ax_pg_exec. */
struct ax_pg_stmt {
	const char *sql;
	int nparams;
	const char *const *params;
};

/* Send n statements in pipeline mode and read their results: one round
 * trip instead of n.  Meant for the writes of a unit of work inside a
 * transaction (ax_pg_begin first).  Every statement must succeed: the
 * first failure sets errbuf (naming the statement's index) and the
 * SQLSTATE, the server skips the rest, and the transaction is left failed
 * for the caller to roll back.  When res is not NULL, res[i] receives
 * statement i's result on success (PQclear each); on failure every res[i]
 * is NULL. */
ax_err ax_pg_pipeline(struct ax_pg *pg, const struct ax_pg_stmt *stmts, int n, PGresult **res,
		      char *errbuf, size_t errlen) AX_MUSTCHECK;

/* SQLSTATE of the last failed call ("" after a success).  Connection
 * failures report class 08 (08001 cannot connect, 08003 not connected,
 * 08006 lost). */
const char *ax_pg_sqlstate(const struct ax_pg *pg);
/* The constraint the last failure named (a unique or foreign key
 * violation...), "" when it named none. */
const char *ax_pg_constraint(const struct ax_pg *pg);

/* The audit-chain check, $1 = tenant: one row (rows, first_broken_seq),
 * the second NULL when every link holds.  A row is broken when its hash is
 * not sha256(prev_hash || audit_link_text(...)), its prev_hash is not the
 * previous row's hash (zeros for the first), or seq is not contiguous from
 * 1.  Deleting the newest rows is not detectable from the chain alone;
 * `alexusctl audit verify` also compares it with audit_heads (0006). */
#define AX_AUDIT_VERIFY_SQL                                                        \
	"WITH chain AS ("                                                          \
	" SELECT seq, prev_hash, hash,"                                            \
	"  sha256(prev_hash || audit_link_text(tenant_id, seq, at, actor, action," \
	"         subject, detail, trace)) AS recomputed,"                         \
	"  coalesce(lag(hash) OVER w, decode(repeat('00', 32), 'hex')) AS expected_prev," \
	"  row_number() OVER w AS n"                                               \
	" FROM audit_log WHERE tenant_id = $1 WINDOW w AS (ORDER BY seq))"         \
	" SELECT count(*), min(seq) FILTER (WHERE hash <> recomputed"              \
	"  OR prev_hash <> expected_prev OR seq <> n) FROM chain"

/* Run AX_AUDIT_VERIFY_SQL for tenant in its own tenant-scoped, read-only
 * transaction (so RLS applies; use the application role).  *rows gets the
 * row count and *first_broken the first broken seq, 0 when intact. */
ax_err ax_pg_audit_verify(struct ax_pg *pg, const char *tenant, long long *rows,
			  long long *first_broken, char *errbuf, size_t errlen) AX_MUSTCHECK;

#endif /* AX_PG_H */
