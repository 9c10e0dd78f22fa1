/* ctl_report.c - `alexusctl incidents list` and `alexusctl audit verify`
 * (`incidents why` is ctl_why.c).
 *
 * Design: both read through the application role (ALEXUS_DATABASE_URL) in
 * a transaction scoped to the tenant, exactly as the daemons do, so what
 * they show is what row-level security lets that tenant see -- the queries
 * carry no tenant filter of their own.  Timestamps are formatted in SQL
 * as RFC 3339 UTC so the output does not depend on the session time zone.
 *
 * audit verify recomputes every link in SQL with the same function that
 * wrote it (audit_link_text) through ax_pg_audit_verify, which the
 * integration tests also call, so the tool and the tests cannot disagree
 * about what "intact" means.  That call names the first broken seq; a
 * second query (audit_detail_sql) then says what is wrong with that row --
 * its content no longer matches its hash (edited), its prev_hash is not
 * the previous row's hash (a link rewritten), or seq jumps (rows deleted)
 * -- so the operator knows where to look.
 *
 * The chain cannot show its newest rows removed: nothing links to them.
 * So verify then compares what it walked with the tenant's head in
 * audit_heads (0006: the count of rows ever appended and the last hash,
 * kept by a trigger the application role cannot bypass), counting and
 * reading the newest row in the same statement as the head so a
 * concurrent append cannot make them disagree.  A chain that is intact but
 * shorter than its head is broken at the first row the head accounts for
 * and the table lacks ("chain ends at row N but the head records M rows");
 * on a chain already broken in the middle the same note is added to the
 * line.
 *
 * With --tenant it reads through the application role, as above; without,
 * it walks every tenant through the owner role, which must bypass
 * row-level security to list them (a superuser or BYPASSRLS, as `auth
 * sync`), and reports every broken chain, not only the first. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "ctl_why.h"
#include "alexus/json.h"
#include "alexus/keys.h"

#define INCIDENTS_USAGE "incidents list --tenant NAME [--json] [--status open|resolved] " \
	"[--limit N]\n       alexusctl " WHY_USAGE "\n       alexusctl incidents " \
	"ack|resolve|note ID --tenant NAME ..."
#define AUDIT_USAGE "audit verify [--tenant NAME]"
#define LIMIT_DEFAULT 50
#define LIMIT_MAX 10000

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

enum { C_ID, C_TITLE, C_STATUS, C_SEVERITY, C_CATEGORY, C_CONFIDENCE, C_SERVICE, C_ALERTS,
       C_OPENED, C_RESOLVED };

static const char incidents_sql[] =
	"SELECT id, title, status, severity, category, confidence, service, alert_count, "
	TS("opened_at") ", " TS("resolved_at")
	" FROM incidents WHERE ($1::text IS NULL OR status = $1)"
	" ORDER BY id DESC LIMIT $2::int";   /* ids are time-ordered (UUIDv7): the key, newest first */

static const char *col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

static void print_json(const PGresult *res)
{
	cJSON *arr = cJSON_CreateArray();
	char *out;
	int i;

	for (i = 0; i < PQntuples(res); i++) {
		cJSON *o = cJSON_CreateObject();
		const char *conf = col(res, i, C_CONFIDENCE);

		ax_json_add_str(o, "id", col(res, i, C_ID), 1);
		ax_json_add_str(o, "title", col(res, i, C_TITLE), 1);
		ax_json_add_str(o, "status", col(res, i, C_STATUS), 1);
		ax_json_add_str(o, "severity", col(res, i, C_SEVERITY), 1);
		ax_json_add_str(o, "category", col(res, i, C_CATEGORY), 1);
		if (conf != NULL)
			cJSON_AddNumberToObject(o, "confidence", strtod(conf, NULL));
		else
			cJSON_AddNullToObject(o, "confidence");
		ax_json_add_str(o, "service", col(res, i, C_SERVICE), 1);
		cJSON_AddNumberToObject(o, "alert_count", atof(col(res, i, C_ALERTS)));
		ax_json_add_str(o, "opened_at", col(res, i, C_OPENED), 1);
		ax_json_add_str(o, "resolved_at", col(res, i, C_RESOLVED), 1);
		cJSON_AddItemToArray(arr, o);
	}
	out = ax_json_print(arr);
	printf("%s\n", out);
	free(out);
	cJSON_Delete(arr);
}

static void print_text(const PGresult *res)
{
	int i;

	printf("%-36s  %-8s  %-8s  %6s  %-20s  %s\n", "ID", "STATUS", "SEVERITY", "ALERTS",
	       "OPENED_AT", "TITLE");
	for (i = 0; i < PQntuples(res); i++)
		printf("%-36s  %-8s  %-8s  %6s  %-20s  %s\n", PQgetvalue(res, i, C_ID),
		       PQgetvalue(res, i, C_STATUS), PQgetvalue(res, i, C_SEVERITY),
		       PQgetvalue(res, i, C_ALERTS), PQgetvalue(res, i, C_OPENED),
		       PQgetvalue(res, i, C_TITLE));
}

int ctl_incidents(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "status", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tenant = NULL, *status = NULL;
	const char *params[2];
	char limit_s[24], err[512];
	long limit = LIMIT_DEFAULT;
	int opt, json = 0;
	struct ax_pg *pg;
	PGresult *res;

	if (argc < 2)
		return ctl_usage(INCIDENTS_USAGE, "missing subcommand");
	if (strcmp(argv[1], "why") == 0)
		return ctl_incidents_why(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "ack") == 0 || strcmp(argv[1], "resolve") == 0 ||
	    strcmp(argv[1], "note") == 0)
		return ctl_incident_op(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") != 0)
		return ctl_usage(INCIDENTS_USAGE, "unknown subcommand '%s'", argv[1]);
	argc--;
	argv++;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			tenant = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 's':
			if (strcmp(optarg, "open") != 0 && strcmp(optarg, "resolved") != 0)
				return ctl_usage(INCIDENTS_USAGE, "--status must be open or resolved");
			status = optarg;
			break;
		case 'l':
			if (ctl_parse_long(optarg, 1, LIMIT_MAX, &limit) != 0)
				return ctl_usage(INCIDENTS_USAGE, "--limit must be 1..%d", LIMIT_MAX);
			break;
		default:
			return ctl_usage(INCIDENTS_USAGE, "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return ctl_usage(INCIDENTS_USAGE, "unexpected argument '%s'", argv[optind]);
	if (tenant == NULL)
		return ctl_usage(INCIDENTS_USAGE, "--tenant is required");
	if (!ax_tenant_valid(tenant))
		return ctl_fail("invalid tenant id '%s'", tenant);

	pg = ctl_pg_open(c->cfg.database_url, "application");
	if (pg == NULL)
		return CTL_FAIL;
	if (ax_pg_begin(pg, tenant, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		return ctl_fail("incidents list: %s", err);
	}
	snprintf(limit_s, sizeof(limit_s), "%ld", limit);
	params[0] = status;
	params[1] = limit_s;
	res = ax_pg_exec(pg, err, sizeof(err), incidents_sql, 2, params);
	if (res == NULL) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		return ctl_fail("incidents list: %s", err);
	}
	if (json)
		print_json(res);
	else
		print_text(res);
	PQclear(res);
	ax_pg_rollback(pg);     /* read-only */
	ax_pg_free(pg);
	return CTL_OK;
}

/* For row $2 of tenant $1: the previous row's seq (0 for none), whether
 * the row's hash matches its content and whether its prev_hash is the
 * previous row's hash (zeros for the first) -- the three checks of
 * AX_AUDIT_VERIFY_SQL, taken apart. */
static const char audit_detail_sql[] =
	"WITH chain AS ("
	" SELECT seq, prev_hash, hash,"
	"  sha256(prev_hash || audit_link_text(tenant_id, seq, at, actor, action, subject,"
	"         detail, trace)) AS recomputed,"
	"  lag(hash) OVER w AS prev_row_hash, lag(seq) OVER w AS prev_seq"
	" FROM audit_log WHERE tenant_id = $1 WINDOW w AS (ORDER BY seq))"
	" SELECT coalesce(prev_seq, 0), hash = recomputed,"
	"  prev_hash = coalesce(prev_row_hash, decode(repeat('00', 32), 'hex'))"
	" FROM chain WHERE seq = $2::bigint";

/* What differs at seq of tenant, into out.  -1 with err on a database
 * error. */
static int audit_what(struct ax_pg *pg, const char *tenant, long long seq, char *out,
		      size_t outlen, char *err, size_t errlen)
{
	char seq_s[24];
	const char *params[2] = { tenant, seq_s };
	long long prev;
	PGresult *res;
	size_t n = 0;
	int hash_ok, link_ok;

	snprintf(seq_s, sizeof(seq_s), "%lld", seq);
	if (ax_pg_begin(pg, tenant, err, errlen) != AX_OK)
		return -1;
	res = ax_pg_exec(pg, err, errlen, audit_detail_sql, 2, params);
	ax_pg_rollback(pg);    /* read-only */
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		snprintf(out, outlen, "the row changed while it was checked; run verify again");
		return 0;
	}
	prev = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	hash_ok = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	link_ok = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	PQclear(res);
	out[0] = '\0';
	if (seq != prev + 1) {
		if (prev == 0 && seq == 2)
			n += (size_t)snprintf(out + n, outlen - n, "gap in seq: the chain starts "
					      "at seq 2 (seq 1 missing)");
		else if (prev == 0)
			n += (size_t)snprintf(out + n, outlen - n, "gap in seq: the chain starts "
					      "at seq %lld (seq 1..%lld missing)", seq, seq - 1);
		else if (seq == prev + 2)
			n += (size_t)snprintf(out + n, outlen - n, "gap in seq: seq %lld follows "
					      "seq %lld (seq %lld missing)", seq, prev, prev + 1);
		else
			n += (size_t)snprintf(out + n, outlen - n, "gap in seq: seq %lld follows "
					      "seq %lld (seq %lld..%lld missing)", seq, prev,
					      prev + 1, seq - 1);
	}
	if (!hash_ok && n < outlen)
		n += (size_t)snprintf(out + n, outlen - n, "%shash differs: the row's content does "
				      "not match its stored hash (row altered)", n > 0 ? "; " : "");
	if (!link_ok && n < outlen) {
		if (prev == 0)
			n += (size_t)snprintf(out + n, outlen - n, "%sprev link differs: the "
					      "first row's prev_hash is not zeros",
					      n > 0 ? "; " : "");
		else
			n += (size_t)snprintf(out + n, outlen - n, "%sprev link differs: "
					      "prev_hash is not the hash of seq %lld",
					      n > 0 ? "; " : "", prev);
	}
	if (n == 0)
		snprintf(out, outlen, "differs from the recomputed chain");
	return 0;
}

/* For tenant $1, in one snapshot: the rows in audit_log, the head's row
 * count (NULL without a head) and whether the head's last hash is the
 * newest row's (true when there is neither). */
static const char audit_head_sql[] =
	"SELECT (SELECT count(*) FROM audit_log WHERE tenant_id = $1), h.row_count,"
	" h.last_hash IS NOT DISTINCT FROM (SELECT hash FROM audit_log WHERE tenant_id = $1"
	"  ORDER BY seq DESC LIMIT 1)"
	" FROM (SELECT 1) AS one LEFT JOIN audit_heads h ON h.tenant_id = $1";

/* Compare tenant's chain with its head.  0 when they agree; 1 when not,
 * with what differs in out and *seq the first row the head accounts for
 * that the chain does not hold as recorded; -1 with err on a database
 * error.  intact: the walk found every link sound, so the chain is seq
 * 1..N and its end is row N; otherwise only the counts are compared. */
static int audit_head(struct ax_pg *pg, const char *tenant, int intact, char *out,
		      size_t outlen, long long *seq, char *err, size_t errlen)
{
	const char *params[1] = { tenant };
	long long n, m;
	PGresult *res;
	int hash_ok, no_head;
	char ends[64];

	if (ax_pg_begin(pg, tenant, err, errlen) != AX_OK)
		return -1;
	res = ax_pg_exec(pg, err, errlen, audit_head_sql, 1, params);
	ax_pg_rollback(pg);    /* read-only */
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQnfields(res) != 3) {
		PQclear(res);
		snprintf(err, errlen, "audit head: unexpected result");
		return -1;
	}
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	no_head = PQgetisnull(res, 0, 1);
	m = no_head ? 0 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	hash_ok = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	PQclear(res);
	if (n == m && hash_ok)
		return 0;
	snprintf(ends, sizeof(ends), intact ? "chain ends at row %lld" : "the table holds %lld rows",
		 n);
	if (n == m) {
		/* Same count, another last row: the newest rows were replaced. */
		*seq = n;
		snprintf(out, outlen, "%s as the head records, but the head's last hash is not "
			 "the newest row's (newest rows replaced)", ends);
	} else if (no_head) {
		*seq = 1;
		snprintf(out, outlen, "%s but the head records 0 rows (no head row: removed)",
			 ends);
	} else if (m > n) {
		*seq = n + 1;
		snprintf(out, outlen, "%s but the head records %lld rows (%lld removed)", ends,
			 m, m - n);
	} else {
		*seq = m + 1;
		snprintf(out, outlen, "%s but the head records %lld rows (%lld added without "
			 "the head)", ends, m, n - m);
	}
	return 1;
}

/* Verify one tenant's chain and print one line about it.  0 intact, 1
 * broken, -1 error (printed); *rows gets the rows checked. */
static int audit_one(struct ax_pg *pg, const char *tenant, long long *rows)
{
	char err[512], what[512], head[256];
	long long broken, head_seq = 0;
	int off;

	if (ax_pg_audit_verify(pg, tenant, rows, &broken, err, sizeof(err)) != AX_OK) {
		ctl_fail("audit verify: tenant %s: %s", tenant, err);
		return -1;
	}
	off = audit_head(pg, tenant, broken == 0, head, sizeof(head), &head_seq, err,
			 sizeof(err));
	if (off < 0) {
		ctl_fail("audit verify: tenant %s: %s", tenant, err);
		return -1;
	}
	if (broken == 0 && !off) {
		printf("tenant %s: ok, %lld rows checked\n", tenant, *rows);
		return 0;
	}
	if (broken == 0) {
		printf("tenant %s: BROKEN at seq %lld: %s (%lld rows)\n", tenant, head_seq, head,
		       *rows);
		return 1;
	}
	if (audit_what(pg, tenant, broken, what, sizeof(what), err, sizeof(err)) != 0) {
		ctl_fail("audit verify: tenant %s: broken at seq %lld, and then: %s", tenant,
			 broken, err);
		return -1;
	}
	printf("tenant %s: BROKEN at seq %lld: %s%s%s (%lld rows)\n", tenant, broken, what,
	       off ? "; " : "", off ? head : "", *rows);
	return 1;
}

int ctl_audit(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	long long rows, total = 0;
	long broken = 0, errors = 0;
	const char *tenant = NULL;
	PGresult *tenants;
	struct ax_pg *pg;
	int opt, i, rc;

	if (argc < 2)
		return ctl_usage(AUDIT_USAGE, "missing subcommand");
	if (strcmp(argv[1], "verify") != 0)
		return ctl_usage(AUDIT_USAGE, "unknown subcommand '%s'", argv[1]);
	argc--;
	argv++;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 't')
			tenant = optarg;
		else
			return ctl_usage(AUDIT_USAGE, "bad option '%s'", argv[optind - 1]);
	}
	if (optind != argc)
		return ctl_usage(AUDIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (tenant != NULL && !ax_tenant_valid(tenant))
		return ctl_fail("invalid tenant id '%s'", tenant);

	if (tenant != NULL) {
		pg = ctl_pg_open(c->cfg.database_url, "application");
		if (pg == NULL)
			return CTL_FAIL;
		rc = audit_one(pg, tenant, &rows);
		ax_pg_free(pg);
		return rc == 0 ? CTL_OK : CTL_FAIL;
	}
	pg = ctl_pg_open(c->cfg.admin_database_url, "admin");
	if (pg == NULL)
		return CTL_FAIL;
	tenants = ctl_all_tenants(pg, "audit verify");
	if (tenants == NULL) {
		ax_pg_free(pg);
		return CTL_FAIL;
	}
	for (i = 0; i < PQntuples(tenants); i++) {
		rows = 0;
		rc = audit_one(pg, PQgetvalue(tenants, i, 0), &rows);
		total += rows;
		if (rc > 0)
			broken++;
		else if (rc < 0)
			errors++;
	}
	printf("checked %d tenant(s), %lld rows: %ld broken chain(s)%s\n", PQntuples(tenants),
	       total, broken, errors > 0 ? ", some tenants not checked (errors above)" : "");
	PQclear(tenants);
	ax_pg_free(pg);
	return broken == 0 && errors == 0 ? CTL_OK : CTL_FAIL;
}
