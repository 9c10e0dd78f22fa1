/* ctl_replay.c - `alexusctl replay --tenant T --from TS --to TS [--rules FILE]
 * [--json]`: what grouping would have made of a tenant's stored alerts.
 *
 * Design: the tenant's alert transitions in [from, to) (alert_history, in
 * the order they were written, joined to their alerts for the fields the
 * rules look at) are fed, as a stream of firing and resolved signals, to
 * the same engine reason uses (common/group.c: ax_group_decide,
 * ax_group_is_flap), with the tenant's current rules and flap window or
 * the rules of FILE (the JSON of tenant_settings.grouping_rules).  Windows
 * are measured on the stored times, not the clock.  It prints the
 * incidents the rules would make, the alerts, and the compression (firing
 * signals per incident) beside the live figures of the same range.
 *
 * Everything runs in one READ ONLY transaction of the application role
 * scoped to the tenant, rolled back at the end: a replay cannot change a
 * row, whatever FILE says.  The state starts empty at --from (an incident
 * open before it is not seen), and the sender's own group key is taken
 * from the alert's labels (group_key) only: alerts do not keep the raw
 * payload or annotations, so a sender_key rule sees fewer keys than live.
 * The lookups are linear scans: a replay is an operator's one-off over a
 * range, not a hot path. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "ctl_replay.h"
#include "alexus/group.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/mem.h"

#define RULES_FILE_MAX (1L << 20)

static const char replay_settings_sql[] =
	"SELECT coalesce(s.grouping_window_s, 300), s.grouping_rules::text, "
	"coalesce(s.flap_window_s, 600) "
	"FROM (SELECT 1) AS one LEFT JOIN tenant_settings s ON true";
/* The range, checked and normalised by Postgres (RFC 3339 or any
 * timestamptz input). */
static const char replay_range_sql[] =
	"SELECT to_char($1::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	"to_char($2::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	"$1::timestamptz < $2::timestamptz";
static const char replay_events_sql[] =
	"SELECT extract(epoch FROM h.at), h.to_status, a.fingerprint, a.name, a.service, "
	"a.namespace, a.host, a.labels::text, "
	"to_char(h.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	"FROM alert_history h JOIN alerts a ON a.id = h.alert_id "
	"WHERE h.at >= $1::timestamptz AND h.at < $2::timestamptz ORDER BY h.at, h.id";
enum { E_AT, E_STATUS, E_FP, E_NAME, E_SERVICE, E_NS, E_HOST, E_LABELS, E_ATTEXT };
/* Live: incidents opened, alert rows created, firing signals in range. */
static const char replay_live_sql[] =
	"SELECT (SELECT count(*) FROM incidents WHERE opened_at >= $1::timestamptz "
	"AND opened_at < $2::timestamptz), "
	"(SELECT count(*) FROM alerts WHERE created_at >= $1::timestamptz "
	"AND created_at < $2::timestamptz), "
	"(SELECT count(*) FROM alert_history WHERE to_status = 'firing' "
	"AND at >= $1::timestamptz AND at < $2::timestamptz)";

/* An incident the replay makes. */
struct rinc {
	char *key;              /* owned */
	const char *rule;       /* the rule it opened under (the rules' or static) */
	char opened_at[32];
	double last_at;         /* its last signal (rule windows) */
	int open;
	long alerts, firing, flaps;
};

/* An alert: one fingerprint in one incident, as reason keeps them. */
struct ralert {
	const char *fp;         /* borrowed from the events */
	struct rinc *inc;
	int firing;
	double resolved_at;     /* -1 while firing */
};

struct replay {
	const struct ax_group_rules *rules;
	long flap_window_s;
	struct rinc **incs;
	int ninc;
	struct ralert *alerts;
	int nal;
	double now;             /* the event being replayed */
	long signals;           /* firing signals */
};

static struct rinc *find_open(struct replay *r, const char *key)
{
	int i;

	for (i = r->ninc - 1; i >= 0; i--)
		if (r->incs[i]->open && strcmp(r->incs[i]->key, key) == 0)
			return r->incs[i];
	return NULL;
}

/* The alert of fp in an open incident (the latest), or NULL. */
static struct ralert *find_alert(struct replay *r, const char *fp)
{
	int i;

	for (i = r->nal - 1; i >= 0; i--)
		if (r->alerts[i].inc->open && strcmp(r->alerts[i].fp, fp) == 0)
			return &r->alerts[i];
	return NULL;
}

/* reason's find_flap: the alert of fp that resolved most recently, within
 * the flap window, in an incident since closed. */
static struct ralert *find_flap(struct replay *r, const char *fp)
{
	struct ralert *best = NULL;
	int i;

	for (i = 0; i < r->nal; i++) {
		struct ralert *a = &r->alerts[i];

		if (a->inc->open || a->firing || strcmp(a->fp, fp) != 0 ||
		    !ax_group_is_flap(r->flap_window_s, r->now - a->resolved_at))
			continue;
		if (best == NULL || a->resolved_at > best->resolved_at)
			best = a;
	}
	return best;
}

static void *lookup(void *arg, const struct ax_group_rule *rule, const char *key,
		    const struct ax_group_input *in, double *idle_s)
{
	struct replay *r = arg;
	struct rinc *x;

	if (ax_group_is_fingerprint(rule)) {
		struct ralert *a = find_alert(r, in->fingerprint);

		x = a != NULL ? a->inc : NULL;
	} else {
		x = find_open(r, key);
	}
	if (x != NULL)
		*idle_s = r->now - x->last_at;
	return x;
}

static void add_alert(struct replay *r, struct rinc *x, const char *fp)
{
	struct ralert *a;

	r->alerts = ax_xrealloc(r->alerts, (size_t)(r->nal + 1) * sizeof(*r->alerts));
	a = &r->alerts[r->nal++];
	a->fp = fp;
	a->inc = x;
	a->firing = 1;
	a->resolved_at = -1;
	x->alerts++;
	x->firing++;
	x->last_at = r->now;
}

static void refire(struct replay *r, struct ralert *a)
{
	if (!a->firing) {
		a->firing = 1;
		a->inc->firing++;
	}
	a->resolved_at = -1;
	a->inc->last_at = r->now;
}

static void on_firing(struct replay *r, const struct ax_group_input *in, const char *at)
{
	struct ax_group_decision d;
	struct ralert *a;
	struct rinc *x;

	r->signals++;
	ax_group_decide(r->rules, in, lookup, r, &d);
	if (d.incident != NULL && d.rule != NULL && ax_group_is_fingerprint(d.rule)) {
		a = find_alert(r, in->fingerprint);
		if (!a->firing && ax_group_is_flap(r->flap_window_s, r->now - a->resolved_at))
			a->inc->flaps++;
		refire(r, a);
		ax_group_decision_release(&d);
		return;
	}
	a = find_flap(r, in->fingerprint);
	if (a != NULL) {
		x = find_open(r, a->inc->key);
		if (x == NULL) {
			a->inc->open = 1;       /* reopened */
			a->inc->flaps++;
			refire(r, a);
		} else {
			x->flaps++;
			a->resolved_at = -1;    /* the new alert carries it */
			add_alert(r, x, in->fingerprint);
		}
		ax_group_decision_release(&d);
		return;
	}
	if (d.key == NULL) {            /* no name: reason dead-letters it */
		ax_group_decision_release(&d);
		return;
	}
	if (d.incident == NULL) {
		if (d.stale != NULL)
			((struct rinc *)d.stale)->open = 0;
		x = ax_xcalloc(1, sizeof(*x));
		x->key = ax_xstrdup(d.key);
		x->rule = d.rule != NULL ? d.rule->name : "name";
		snprintf(x->opened_at, sizeof(x->opened_at), "%s", at);
		x->open = 1;
		r->incs = ax_xrealloc(r->incs, (size_t)(r->ninc + 1) * sizeof(*r->incs));
		r->incs[r->ninc++] = x;
	} else {
		x = d.incident;
	}
	add_alert(r, x, in->fingerprint);
	ax_group_decision_release(&d);
}

static void on_resolved(struct replay *r, const char *fp)
{
	struct ralert *a = find_alert(r, fp);

	if (a == NULL)
		return;
	a->inc->last_at = r->now;
	a->resolved_at = r->now;
	if (a->firing) {
		a->firing = 0;
		a->inc->firing--;
	}
	if (a->inc->firing == 0)
		a->inc->open = 0;
}

static void replay_run(struct replay *r, const PGresult *ev)
{
	int i;

	for (i = 0; i < PQntuples(ev); i++) {
		struct ax_group_input in;
		cJSON *labels = NULL;
		const char *lt = PQgetvalue(ev, i, E_LABELS);

		memset(&in, 0, sizeof(in));
		r->now = strtod(PQgetvalue(ev, i, E_AT), NULL);
		in.fingerprint = PQgetvalue(ev, i, E_FP);
		if (strcmp(PQgetvalue(ev, i, E_STATUS), "resolved") == 0) {
			on_resolved(r, in.fingerprint);
			continue;
		}
		labels = ax_json_parse(lt, strlen(lt), 8);
		in.labels = labels;
		in.sender_key = labels != NULL ? ax_json_str(labels, "group_key") : NULL;
		in.name = PQgetvalue(ev, i, E_NAME);
		in.service = PQgetisnull(ev, i, E_SERVICE) ? NULL : PQgetvalue(ev, i, E_SERVICE);
		in.namespace_ = PQgetisnull(ev, i, E_NS) ? NULL : PQgetvalue(ev, i, E_NS);
		in.host = PQgetisnull(ev, i, E_HOST) ? NULL : PQgetvalue(ev, i, E_HOST);
		on_firing(r, &in, PQgetvalue(ev, i, E_ATTEXT));
		cJSON_Delete(labels);
	}
}

static void replay_release(struct replay *r)
{
	int i;

	for (i = 0; i < r->ninc; i++) {
		free(r->incs[i]->key);
		free(r->incs[i]);
	}
	free(r->incs);
	free(r->alerts);
}

static double ratio(long signals, long incidents)
{
	return incidents > 0 ? (double)signals / (double)incidents : 0;
}

static cJSON *figures(long incidents, long alerts, long signals)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		abort();
	cJSON_AddNumberToObject(o, "incidents", (double)incidents);
	cJSON_AddNumberToObject(o, "alerts", (double)alerts);
	cJSON_AddNumberToObject(o, "signals", (double)signals);
	cJSON_AddNumberToObject(o, "compression", ratio(signals, incidents));
	return o;
}

static long replay_alert_rows(const struct replay *r)
{
	return r->nal;
}

static void print_json(const char *tenant, const char *from, const char *to,
		       const char *rules_from, const struct replay *r, const PGresult *live)
{
	cJSON *o = cJSON_CreateObject(), *rep, *arr;
	char *out;
	int i;

	if (o == NULL)
		abort();
	cJSON_AddStringToObject(o, "tenant", tenant);
	cJSON_AddStringToObject(o, "from", from);
	cJSON_AddStringToObject(o, "to", to);
	cJSON_AddStringToObject(o, "rules", rules_from);
	cJSON_AddNumberToObject(o, "flap_window_s", (double)r->flap_window_s);
	cJSON_AddItemToObject(o, "live", figures(atol(PQgetvalue(live, 0, 0)),
						 atol(PQgetvalue(live, 0, 1)),
						 atol(PQgetvalue(live, 0, 2))));
	rep = figures(r->ninc, replay_alert_rows(r), r->signals);
	cJSON_AddItemToObject(o, "replay", rep);
	arr = cJSON_AddArrayToObject(rep, "incident_list");
	for (i = 0; i < r->ninc; i++) {
		const struct rinc *x = r->incs[i];
		cJSON *e = cJSON_CreateObject();

		if (e == NULL || !cJSON_AddItemToArray(arr, e))
			abort();
		cJSON_AddStringToObject(e, "key", x->key);
		cJSON_AddStringToObject(e, "rule", x->rule);
		cJSON_AddStringToObject(e, "opened_at", x->opened_at);
		cJSON_AddNumberToObject(e, "alerts", (double)x->alerts);
		cJSON_AddNumberToObject(e, "flaps", (double)x->flaps);
	}
	out = ax_json_print(o);
	printf("%s\n", out);
	free(out);
	cJSON_Delete(o);
}

static void print_text(const char *tenant, const char *from, const char *to,
		       const char *rules_from, const struct replay *r, const PGresult *live)
{
	long li = atol(PQgetvalue(live, 0, 0)), ls = atol(PQgetvalue(live, 0, 2));
	int i;

	printf("replay of tenant %s from %s to %s, rules: %s, flap window %lds\n", tenant, from,
	       to, rules_from, r->flap_window_s);
	printf("%-24s  %-20s  %6s  %5s\n", "INCIDENT KEY", "OPENED", "ALERTS", "FLAPS");
	for (i = 0; i < r->ninc; i++)
		printf("%-24s  %-20s  %6ld  %5ld\n", r->incs[i]->key, r->incs[i]->opened_at,
		       r->incs[i]->alerts, r->incs[i]->flaps);
	printf("\n%-8s  %9s  %6s  %7s  %11s\n", "", "INCIDENTS", "ALERTS", "SIGNALS",
	       "COMPRESSION");
	printf("%-8s  %9ld  %6ld  %7ld  %11.2f\n", "live", li, atol(PQgetvalue(live, 0, 1)), ls,
	       ratio(ls, li));
	printf("%-8s  %9d  %6ld  %7ld  %11.2f\n", "replay", r->ninc, replay_alert_rows(r),
	       r->signals, ratio(r->signals, r->ninc));
}

/* FILE's text (NUL-terminated; free()), or NULL after printing why. */
static char *read_rules(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf;
	size_t n;

	if (f == NULL) {
		ctl_fail("replay: %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || st.st_size > RULES_FILE_MAX) {
		fclose(f);
		ctl_fail("replay: %s: not a rules file of at most %ld bytes", path, RULES_FILE_MAX);
		return NULL;
	}
	buf = ax_xmalloc((size_t)st.st_size + 1);
	n = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* The statements of the replay, in the READ ONLY transaction. */
static int replay_in(struct ax_pg *pg, const char *tenant, const char *from_arg,
		     const char *to_arg, const char *rules_text, const char *rules_path,
		     int json)
{
	const char *range[2] = { from_arg, to_arg };
	PGresult *set = NULL, *rg = NULL, *ev = NULL, *live = NULL, *ro;
	struct ax_group_rules rules;
	struct replay r;
	char err[512], perr[256], from[32], to[32];
	const char *rules_from;
	int rc = CTL_FAIL;

	memset(&rules, 0, sizeof(rules));
	memset(&r, 0, sizeof(r));
	ro = ax_pg_exec(pg, err, sizeof(err), "SET TRANSACTION READ ONLY", 0, NULL);
	if (ro == NULL)
		return ctl_fail("replay: %s", err);
	PQclear(ro);
	rg = ax_pg_exec(pg, err, sizeof(err), replay_range_sql, 2, range);
	if (rg == NULL) {
		ctl_fail("replay: --from/--to: %s", err);
		goto out;
	}
	if (strcmp(PQgetvalue(rg, 0, 2), "t") != 0) {
		ctl_fail("replay: --from must be before --to");
		goto out;
	}
	snprintf(from, sizeof(from), "%s", PQgetvalue(rg, 0, 0));
	snprintf(to, sizeof(to), "%s", PQgetvalue(rg, 0, 1));
	set = ax_pg_exec(pg, err, sizeof(err), replay_settings_sql, 0, NULL);
	if (set == NULL) {
		ctl_fail("replay: %s", err);
		goto out;
	}
	r.flap_window_s = atol(PQgetvalue(set, 0, 2));
	if (rules_text == NULL) {
		rules_text = PQgetisnull(set, 0, 1) ? NULL : PQgetvalue(set, 0, 1);
		rules_from = rules_text != NULL ? "the tenant's" : "the defaults";
	} else {
		rules_from = rules_path;
	}
	if (ax_group_rules_parse(&rules, rules_text, atol(PQgetvalue(set, 0, 0)), perr,
				 sizeof(perr)) != AX_OK) {
		ctl_fail("replay: %s: %s", rules_from, perr);
		goto out;
	}
	r.rules = &rules;
	ev = ax_pg_exec(pg, err, sizeof(err), replay_events_sql, 2, range);
	live = ev != NULL ? ax_pg_exec(pg, err, sizeof(err), replay_live_sql, 2, range) : NULL;
	if (live == NULL) {
		ctl_fail("replay: %s", err);
		goto out;
	}
	replay_run(&r, ev);
	if (json)
		print_json(tenant, from, to, rules_from, &r, live);
	else
		print_text(tenant, from, to, rules_from, &r, live);
	rc = CTL_OK;
out:
	PQclear(rg);
	PQclear(set);
	PQclear(ev);
	PQclear(live);
	replay_release(&r);
	ax_group_rules_release(&rules);
	return rc;
}

int ctl_replay(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'T' },
		{ "rules", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tenant = NULL, *from = NULL, *to = NULL, *rules_path = NULL;
	char err[512], *rules_text = NULL;
	int opt, json = 0, rc;
	struct ax_pg *pg;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't': tenant = optarg; break;
		case 'f': from = optarg; break;
		case 'T': to = optarg; break;
		case 'r': rules_path = optarg; break;
		case 'j': json = 1; break;
		default:
			return ctl_usage(REPLAY_USAGE, "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return ctl_usage(REPLAY_USAGE, "unexpected argument '%s'", argv[optind]);
	if (tenant == NULL || from == NULL || to == NULL)
		return ctl_usage(REPLAY_USAGE, "--tenant, --from and --to are required");
	if (!ax_tenant_valid(tenant))
		return ctl_fail("invalid tenant id '%s'", tenant);
	if (rules_path != NULL) {
		rules_text = read_rules(rules_path);
		if (rules_text == NULL)
			return CTL_FAIL;
	}
	pg = ctl_pg_open(c->cfg.database_url, "application");
	if (pg == NULL) {
		free(rules_text);
		return CTL_FAIL;
	}
	if (ax_pg_begin(pg, tenant, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		free(rules_text);
		return ctl_fail("replay: %s", err);
	}
	rc = replay_in(pg, tenant, from, to, rules_text, rules_path, json);
	ax_pg_rollback(pg);     /* read-only: nothing to keep */
	ax_pg_free(pg);
	free(rules_text);
	return rc;
}
