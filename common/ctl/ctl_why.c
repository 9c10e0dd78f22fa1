/* ctl_why.c - `alexusctl incidents why ID`: why each alert is in the
 * incident.
 *
 * Design: reason records, on every alert row it inserts, the grouping rule
 * that attached it ("opened" for the alert that opened the incident) and
 * the values that matched (alerts.group_rule / group_match, 0010, written
 * from common/group.c's decision).  This command only reads them back,
 * with the incident's own grouping events (opened, superseded, flapping),
 * so what it shows is what was decided at the time, not a recomputation
 * under today's rules.  Like `incidents list` it reads through the
 * application role in a transaction scoped to the tenant, and formats
 * timestamps in SQL as RFC 3339 UTC. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl_why.h"
#include "alexus/group.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/mem.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char why_incident_sql[] =
	"SELECT id, status, group_key, " TS("opened_at") ", " TS("resolved_at") ", parent_id, "
	"alert_count FROM incidents WHERE id = $1::uuid";
enum { I_ID, I_STATUS, I_KEY, I_OPENED, I_RESOLVED, I_PARENT, I_ALERTS };

static const char why_alerts_sql[] =
	"SELECT name, fingerprint, group_rule, group_match::text, " TS("created_at") ", "
	"flap_count, status FROM alerts a WHERE incident_id = $1::uuid "
	/* Alerts of one transaction share created_at: their first history
	 * row (written in stream order) orders them as they arrived. */
	"ORDER BY created_at, (SELECT min(h.id) FROM alert_history h "
	"WHERE h.alert_id = a.id), id";
enum { A_NAME, A_FP, A_RULE, A_MATCH, A_AT, A_FLAPS, A_STATUS };

/* The incident's grouping decisions: how it was opened (and its parent),
 * how it was closed when superseded, its flapping alerts. */
static const char why_events_sql[] =
	"SELECT stage, output::text, " TS("created_at") " FROM incident_events "
	"WHERE incident_id = $1::uuid AND (stage IN ('opened', 'flapping', 'reopened') OR "
	"(stage = 'resolved' AND output ? 'superseded_by')) ORDER BY id";
enum { E_STAGE, E_OUTPUT, E_AT };

static const char *col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

static cJSON *parse_col(const PGresult *res, int row, int c)
{
	const char *v = col(res, row, c);
	cJSON *j = v != NULL ? cJSON_Parse(v) : NULL;

	return j != NULL ? j : cJSON_CreateNull();
}

static void print_json(const PGresult *inc, const PGresult *al, const PGresult *ev)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	char *out;
	int i;

	if (o == NULL)
		abort();
	ax_json_add_str(o, "id", col(inc, 0, I_ID), 1);
	ax_json_add_str(o, "status", col(inc, 0, I_STATUS), 1);
	ax_json_add_str(o, "group_key", col(inc, 0, I_KEY), 1);
	ax_json_add_str(o, "opened_at", col(inc, 0, I_OPENED), 1);
	ax_json_add_str(o, "resolved_at", col(inc, 0, I_RESOLVED), 1);
	ax_json_add_str(o, "parent_id", col(inc, 0, I_PARENT), 1);
	arr = cJSON_AddArrayToObject(o, "alerts");
	for (i = 0; i < PQntuples(al); i++) {
		cJSON *a = cJSON_CreateObject();

		if (a == NULL || !cJSON_AddItemToArray(arr, a))
			abort();
		ax_json_add_str(a, "name", col(al, i, A_NAME), 1);
		ax_json_add_str(a, "fingerprint", col(al, i, A_FP), 1);
		ax_json_add_str(a, "rule", col(al, i, A_RULE), 1);
		cJSON_AddItemToObject(a, "match", parse_col(al, i, A_MATCH));
		cJSON_AddNumberToObject(a, "flap_count", atof(col(al, i, A_FLAPS)));
		ax_json_add_str(a, "status", col(al, i, A_STATUS), 1);
		ax_json_add_str(a, "at", col(al, i, A_AT), 1);
	}
	arr = cJSON_AddArrayToObject(o, "events");
	for (i = 0; i < PQntuples(ev); i++) {
		cJSON *e = cJSON_CreateObject();

		if (e == NULL || !cJSON_AddItemToArray(arr, e))
			abort();
		ax_json_add_str(e, "stage", col(ev, i, E_STAGE), 1);
		cJSON_AddItemToObject(e, "output", parse_col(ev, i, E_OUTPUT));
		ax_json_add_str(e, "at", col(ev, i, E_AT), 1);
	}
	out = ax_json_print(o);
	printf("%s\n", out);
	free(out);
	cJSON_Delete(o);
}

/* "service=pay (idle 3s of 300s)" or "service=pay" for one alert. */
static char *match_line(const char *rule, const cJSON *m)
{
	const cJSON *idle = cJSON_GetObjectItemCaseSensitive(m, "idle_s");
	const cJSON *win = cJSON_GetObjectItemCaseSensitive(m, "window_s");
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(m, "rule");
	const cJSON *refused = cJSON_GetObjectItemCaseSensitive(m, "refused");
	const cJSON *sup = cJSON_GetObjectItemCaseSensitive(m, "superseded");
	char *values = ax_group_match_text(m), *line, *more;

	if (rule != NULL && strcmp(rule, "opened") == 0 && cJSON_IsString(by))
		line = ax_xasprintf("%s (opened under rule %s)", values, by->valuestring);
	else if (cJSON_IsNumber(idle) && cJSON_IsNumber(win) && win->valuedouble > 0)
		line = ax_xasprintf("%s (idle %.0fs, window %.0fs)", values, idle->valuedouble,
				    win->valuedouble);
	else
		line = ax_xstrdup(values);
	free(values);
	if (cJSON_IsArray(refused) && cJSON_GetArraySize(refused) > 0) {
		const cJSON *r = cJSON_GetArrayItem(refused, 0);

		more = ax_xasprintf("%s; refused %s by %s: idle %.0fs > window %.0fs", line,
				    ax_json_str(r, "key"), ax_json_str(r, "rule"),
				    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "idle_s")),
				    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r,
											  "window_s")));
		free(line);
		line = more;
	}
	if (cJSON_IsString(sup)) {
		more = ax_xasprintf("%s; superseded %s", line, sup->valuestring);
		free(line);
		line = more;
	}
	return line;
}

static void print_text(const PGresult *inc, const PGresult *al, const PGresult *ev)
{
	int i;

	printf("incident %s (%s), key %s, opened %s%s%s\n", col(inc, 0, I_ID),
	       col(inc, 0, I_STATUS), col(inc, 0, I_KEY), col(inc, 0, I_OPENED),
	       col(inc, 0, I_RESOLVED) != NULL ? ", resolved " : "",
	       col(inc, 0, I_RESOLVED) != NULL ? col(inc, 0, I_RESOLVED) : "");
	if (col(inc, 0, I_PARENT) != NULL)
		printf("parent %s\n", col(inc, 0, I_PARENT));
	for (i = 0; i < PQntuples(ev); i++) {
		cJSON *out = parse_col(ev, i, E_OUTPUT);
		const char *stage = col(ev, i, E_STAGE), *why = ax_json_str(out, "reason");
		const char *pwhy = ax_json_str(out, "parent_reason");

		if (strcmp(stage, "resolved") == 0)
			printf("%s  closed: %s (superseded by %s)\n", col(ev, i, E_AT),
			       why != NULL ? why : "superseded", ax_json_str(out, "superseded_by"));
		else if (strcmp(stage, "opened") == 0 && pwhy != NULL)
			printf("%s  opened, child of %s: %s\n", col(ev, i, E_AT),
			       ax_json_str(out, "parent_id"), pwhy);
		else if (strcmp(stage, "flapping") == 0)
			printf("%s  flapping: %s fired again %.0fs after resolving (flap %.0f)\n",
			       col(ev, i, E_AT), ax_json_str(out, "alert"),
			       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(out,
										    "resolved_s_ago")),
			       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(out,
										    "flap_count")));
		cJSON_Delete(out);
	}
	printf("%-24s  %-12s  %-16s  %-20s  %s\n", "ALERT", "FINGERPRINT", "RULE", "WHEN",
	       "MATCHED");
	for (i = 0; i < PQntuples(al); i++) {
		cJSON *m = parse_col(al, i, A_MATCH);
		const char *rule = col(al, i, A_RULE);
		char *line = match_line(rule, m);

		printf("%-24s  %-12.12s  %-16s  %-20s  %s\n", col(al, i, A_NAME), col(al, i, A_FP),
		       rule != NULL ? rule : "-", col(al, i, A_AT), line);
		free(line);
		cJSON_Delete(m);
	}
}

int ctl_incidents_why(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tenant = NULL, *id;
	PGresult *inc = NULL, *al = NULL, *ev = NULL;
	char err[512];
	int opt, json = 0, rc = CTL_OK;
	struct ax_pg *pg;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			tenant = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return ctl_usage(WHY_USAGE, "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return ctl_usage(WHY_USAGE, optind == argc ? "missing incident ID" :
				 "unexpected argument '%s'", argv[argc - 1]);
	id = argv[optind];
	if (tenant == NULL)
		return ctl_usage(WHY_USAGE, "--tenant is required");
	if (!ax_tenant_valid(tenant))
		return ctl_fail("invalid tenant id '%s'", tenant);
	if (!ax_uuid_valid(id))
		return ctl_fail("incidents why: '%s' is not an incident id (a UUID)", id);

	pg = ctl_pg_open(c->cfg.database_url, "application");
	if (pg == NULL)
		return CTL_FAIL;
	if (ax_pg_begin(pg, tenant, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		return ctl_fail("incidents why: %s", err);
	}
	{
		const char *p[1] = { id };

		inc = ax_pg_exec(pg, err, sizeof(err), why_incident_sql, 1, p);
		if (inc != NULL && PQntuples(inc) == 1)
			al = ax_pg_exec(pg, err, sizeof(err), why_alerts_sql, 1, p);
		if (al != NULL)
			ev = ax_pg_exec(pg, err, sizeof(err), why_events_sql, 1, p);
	}
	if (inc != NULL && PQntuples(inc) == 0)
		rc = ctl_fail("incidents why: no incident %s in tenant %s", id, tenant);
	else if (ev == NULL)
		rc = ctl_fail("incidents why: %s", err);
	else if (json)
		print_json(inc, al, ev);
	else
		print_text(inc, al, ev);
	PQclear(inc);
	PQclear(al);
	PQclear(ev);
	ax_pg_rollback(pg);     /* read-only */
	ax_pg_free(pg);
	return rc;
}
