/* ctl_report.c - `alexusctl incidents list` and `alexusctl audit verify`.
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
 * about what "intact" means. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "alexus/json.h"
#include "alexus/keys.h"

#define INCIDENTS_USAGE "incidents list --tenant NAME [--json] [--status open|resolved] [--limit N]"
#define AUDIT_USAGE "audit verify --tenant NAME"
#define LIMIT_DEFAULT 50
#define LIMIT_MAX 10000

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

enum { C_ID, C_TITLE, C_STATUS, C_SEVERITY, C_CATEGORY, C_CONFIDENCE, C_SERVICE, C_ALERTS,
       C_OPENED, C_RESOLVED };

static const char incidents_sql[] =
	"SELECT id, title, status, severity, category, confidence, service, alert_count, "
	TS("opened_at") ", " TS("resolved_at")
	" FROM incidents WHERE ($1::text IS NULL OR status = $1)"
	" ORDER BY opened_at DESC, id LIMIT $2::int";

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

int ctl_audit(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tenant = NULL;
	long long rows, broken;
	struct ax_pg *pg;
	char err[512];
	int opt;

	if (argc < 2)
		return ctl_usage(AUDIT_USAGE, "missing subcommand");
	if (strcmp(argv[1], "verify") != 0)
		return ctl_usage(AUDIT_USAGE, "unknown subcommand '%s'", argv[1]);
	argc--;
	argv++;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 't')
			tenant = optarg;
		else
			return ctl_usage(AUDIT_USAGE, "bad option '%s'", argv[optind - 1]);
	}
	if (optind != argc)
		return ctl_usage(AUDIT_USAGE, "unexpected argument '%s'", argv[optind]);
	if (tenant == NULL)
		return ctl_usage(AUDIT_USAGE, "--tenant is required");
	if (!ax_tenant_valid(tenant))
		return ctl_fail("invalid tenant id '%s'", tenant);

	pg = ctl_pg_open(c->cfg.database_url, "application");
	if (pg == NULL)
		return CTL_FAIL;
	if (ax_pg_audit_verify(pg, tenant, &rows, &broken, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		return ctl_fail("audit verify: %s", err);
	}
	ax_pg_free(pg);
	if (broken != 0) {
		printf("broken at seq %lld (%lld rows)\n", broken, rows);
		return CTL_FAIL;
	}
	printf("ok %lld rows\n", rows);
	return CTL_OK;
}
