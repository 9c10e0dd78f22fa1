/* handle.c - alexus:signals entries, a batch at a time (see reason.h).
 *
 * Design: the entries of one read are split by tenant, keeping stream
 * order within each tenant, and each tenant's entries are one unit of
 * work: one Postgres transaction scoped to the tenant, then the Redis side.
 * A storm of alerts therefore costs a handful of round trips per batch
 * instead of nine per alert.
 *
 * The transaction:
 *   1. looks the signal ids up in signals_seen in one statement; an id
 *      already there was committed by an earlier delivery, so that entry
 *      is a redelivery and all it is owed is the outbox: its actions still
 *      'pending' are read and appended to alexus:actions again (act is
 *      idempotent by action id).  The fresh ones are claimed with the
 *      writes of step 4;
 *   2. locks the open incidents the fresh signals can touch -- those of
 *      their group keys and those holding their fingerprints, and for
 *      flapping the resolved incident a fingerprint last resolved in
 *      within the flap window and the open incident of its group -- in id
 *      order (FOR UPDATE), then reads those incidents' alerts of the
 *      signals' fingerprints and their firing counts.  In the same round
 *      trip it reads, per root CI of the batch, the oldest open incidents
 *      with a firing alert on it (parent candidates; not locked: the
 *      child's foreign key share-locks the parent it names).  Every writer of an
 *      incident's alerts holds that incident's lock first, so what was read
 *      stays true until COMMIT, and two consumers lock in the same order;
 *   3. applies the signals in stream order to that state in memory: a
 *      firing alert joins the open incident already holding its
 *      fingerprint, else -- flapping, when it resolved within the
 *      tenant's flap_window_s -- goes back to the incident it resolved
 *      in (reopened, unless its group has another open incident: that
 *      one takes it), else the open incident of its group key, else opens
 *      one (classified at once, and the child of the oldest open incident
 *      of another group on the same machine); a resolved alert resolves
 *      its alert, and the incident when no alert of it is still firing.
 *      Each change records what to write, the stage events and the notify
 *      actions with the incident as it stands at that signal;
 *   4. writes it all in one pipeline (common/store.c).  An incident this
 *      batch opens may meet one a concurrent consumer opened for the same
 *      group (the partial unique index incidents_open_group refuses it),
 *      and a fresh signal may have been claimed by another consumer
 *      meanwhile (a reclaimed entry still in its first consumer's hands);
 *      the transaction is then redone from step 1, and joins that
 *      incident or finds the signal committed.
 * After COMMIT: XADD each action, PUBLISH each stage event (best effort:
 * a lost event is logged, never retried), XACK the tenant's entries.
 * Any failure before the XACK leaves the entries pending; a retry turns
 * them into redeliveries, which is what makes a crash between COMMIT and
 * XADD lose nothing.
 *
 * Malformed entries (envelope, JSON, signal) can never succeed and are
 * dead-lettered before the transaction.  A batch that fails is handed
 * back to the worker loop, which retries its unsettled entries one by
 * one; alone, an entry whose data Postgres refuses (SQLSTATE class 22, or
 * 23503: the tenant does not exist) is dead-lettered, anything else is
 * transient. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "reason.h"
#include "run.h"
#include "classify.h"
#include "heuristic.h"
#include "incident.h"
#include "ticket.h"
#include "alexus/failpoint.h"
#include "alexus/group.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/signal.h"
#include "alexus/store.h"
#include "alexus/worker.h"

#define OPEN_RETRIES 3
#define TS_LEN 32

/* Lists travel as one JSON array parameter (no quoting of our own) and
 * become arrays in an InitPlan, ARRAY(SELECT ...), so "= ANY" is an index
 * condition: "IN (SELECT ...)" planned as a semi-join scanned every row
 * of the tenant's signals_seen, once per batch. */
static const char Q_SEEN[] =
	"SELECT signal_id FROM signals_seen "
	"WHERE signal_id = ANY (ARRAY("
	"SELECT x::uuid FROM jsonb_array_elements_text($1::jsonb) AS x))";
static const char Q_PENDING[] =
	"SELECT signal_id, id, payload::text, trace, type FROM actions "
	"WHERE signal_id = ANY (ARRAY("
	"SELECT x::uuid FROM jsonb_array_elements_text($1::jsonb) AS x)) "
	"AND status = 'pending' ORDER BY created_at, id";
/* The tenant's grouping knobs; the column defaults when it has no row. */
static const char Q_SETTINGS[] =
	"SELECT coalesce(s.grouping_window_s, 300), s.grouping_rules::text, "
	"coalesce(s.flap_window_s, 600) "
	"FROM (SELECT 1) AS one LEFT JOIN tenant_settings s ON true";
/* Step 2's reads probe the indexes one key at a time (a LATERAL join on
 * an equality, fenced by OFFSET 0 so it is not flattened back), never
 * "column = ANY (list)" on the second column of (tenant_id, x): with
 * row-level security the planner estimates "tenant_id = app_tenant()" at
 * one row, finds nothing to gain from also matching the list in the
 * index, and filters the tenant's whole range of alerts_fp instead -- a
 * cost that grew with every alert (make bench-latency: 65 ms per batch at
 * 13,000 alerts, p99 10 s at 1,000 alerts/s).
 *
 * Q_LOCK: the open incidents of the batch's group keys and those holding
 * its fingerprints; for flapping ($3, the tenant's flap_window_s; 0: off)
 * the incident each fingerprint's alert last resolved in within the
 * window (an alert's updated_at is its last signal, so its resolving)
 * and the open incident of that incident's group key; locked in id
 * order.  Column 11: seconds since the incident last saw a signal (rule
 * windows); 12: its firing alerts; 13: its status. */
static const char Q_LOCK[] =
	"WITH flap AS (SELECT a.incident_id FROM jsonb_array_elements_text($2::jsonb) AS f(fp) "
	"CROSS JOIN LATERAL (SELECT incident_id FROM alerts WHERE fingerprint = f.fp "
	"AND status = 'resolved' AND updated_at >= now() - make_interval(secs => $3::int) "
	"ORDER BY updated_at DESC LIMIT 1) AS a WHERE $3::int > 0) "
	"SELECT id, title, severity, category, confidence, stage, group_key, service, "
	"alert_count, to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	"trace, extract(epoch FROM now() - last_signal_at), firing_count, status "
	"FROM incidents WHERE (status = 'open' OR id IN (SELECT incident_id FROM flap)) "
	"AND id = ANY (ARRAY("
	"SELECT i.id FROM jsonb_array_elements_text($1::jsonb) AS k(key) CROSS JOIN LATERAL ("
	"SELECT id FROM incidents WHERE status = 'open' AND group_key = k.key OFFSET 0) AS i "
	"UNION "
	"SELECT a.incident_id FROM jsonb_array_elements_text($2::jsonb) AS f(fp) CROSS JOIN LATERAL ("
	"SELECT incident_id FROM alerts WHERE fingerprint = f.fp OFFSET 0) AS a "
	"UNION SELECT incident_id FROM flap "
	"UNION SELECT o.id FROM flap JOIN incidents r ON r.id = flap.incident_id "
	"CROSS JOIN LATERAL (SELECT id FROM incidents WHERE status = 'open' "
	"AND group_key = r.group_key OFFSET 0) AS o)) "
	"ORDER BY id FOR UPDATE";
/* The alerts of the batch's fingerprints in the locked incidents ($1);
 * column 6: seconds since a resolved alert resolved, -1 when firing. */
static const char Q_ALERTS[] =
	"SELECT a.id, a.incident_id, a.fingerprint, a.status, a.severity, a.flap_count, "
	"CASE WHEN a.status = 'resolved' THEN extract(epoch FROM now() - a.updated_at) "
	"ELSE -1 END "
	"FROM jsonb_array_elements_text($2::jsonb) AS f(fp) CROSS JOIN LATERAL ("
	"SELECT * FROM alerts WHERE fingerprint = f.fp AND incident_id = ANY (ARRAY("
	"SELECT x::uuid FROM jsonb_array_elements_text($1::jsonb) AS x)) OFFSET 0) AS a";
/* Parent candidates: per root CI of the batch ($1, machine names; see
 * ax_group_root_ci), the oldest open incidents with a firing alert whose
 * host or node label is that machine (the partial indexes of 0013).  Four
 * per CI: the candidates of the opening alert's own group, or closed by
 * this batch, are skipped in memory. */
static const char Q_PARENT[] =
	"SELECT c.ci, p.id, p.group_key, "
	"to_char(p.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
	"FROM jsonb_array_elements_text($1::jsonb) AS c(ci) CROSS JOIN LATERAL ("
	"SELECT DISTINCT i.id, i.group_key, i.opened_at FROM ("
	"SELECT incident_id FROM alerts WHERE host = c.ci AND status = 'firing' "
	"UNION ALL SELECT incident_id FROM alerts WHERE labels->>'node' = c.ci "
	"AND labels ? 'node' AND status = 'firing') AS a JOIN incidents i ON i.id = a.incident_id "
	"WHERE i.status = 'open' ORDER BY i.opened_at, i.id LIMIT 4) AS p";

/* An incident the batch touches: read in step 2 or opened in step 3. */
struct inc {
	char id[AX_UUID_LEN];
	int isnew, dirty, open;
	char *title, *group_key, *service, *trace; /* owned */
	const char *category;                      /* static, or owned in cat_owned */
	char *cat_owned;
	const char *stage;                         /* static, or stage_owned */
	char *stage_owned;
	enum ax_severity sev;
	double confidence;
	int has_confidence;
	long alert_count, firing;
	char opened_at[TS_LEN], resolved_at[TS_LEN];
	double idle_s;              /* since it last saw a signal (rule windows) */
	int touched;                /* a signal of this unit touched it */
	char *ci;                   /* opened by this unit: its opening alert's root CI */
	int ref;                    /* only named as a parent: not locked, never written */
	char parent_id[AX_UUID_LEN];        /* opened by this unit: its parent, "" none */
};

/* An alert the batch touches.  Strings of inserted alerts are borrowed
 * from the signal that created them, which outlives the batch's writes. */
struct alert {
	char id[AX_UUID_LEN];
	int isnew, dirty;
	struct inc *inc;
	char fp[AX_SHA256_HEX];
	enum ax_status status;
	enum ax_severity sev;
	const struct ax_signal *first;  /* inserted alerts: the creating signal */
	const char *summary;            /* NULL keeps the stored one */
	char ends_at[TS_LEN];           /* "" = NULL */
	const char *last_signal;
	const char *group_rule;         /* inserted alerts: the rule (u->rules or static) */
	cJSON *group_match;             /* inserted alerts: owned, the values that matched */
	long flap_count;
	double resolved_s;              /* seconds since it resolved; -1 firing */
};

/* One entry of the tenant's unit of work. */
struct item {
	const struct ax_entry *e;
	int index;                  /* in the caller's array, for done[] */
	int valid;                  /* parsed; not dead-lettered */
	int fresh;                  /* claimed now (not a redelivery) */
	struct ax_signal sig;
	char digest[AX_SHA256_HEX];
	struct timespec t0;
	const char *outcome;        /* static */
	struct inc *inc;            /* the incident it touched, if any */
	const char *category;       /* set when it opened an incident */
	double confidence;
	int nact;
	char run[AX_UUID_LEN];      /* the pipeline run it started, "" for none */
};

struct out_action {
	char id[AX_UUID_LEN];
	const struct item *it;
	char *payload;
};

/* The tenant's unit of work. */
struct unit {
	struct reason *r;
	redisContext *c;
	const char *tenant;
	struct item *items;
	int n;
	struct inc **incs;
	int ninc, capinc;
	struct alert **alerts;
	int nal, capal;
	struct out_action *acts;
	int nact, capact;
	char **events;              /* JSON texts to publish */
	int nev, capev;
	PGresult *pending;          /* redeliveries' pending actions */
	PGresult *parents;          /* Q_PARENT's candidates, or NULL */
	struct ax_store_batch *w;
	struct ax_group_rules rules;    /* the tenant's, read by load() */
	long flap_window_s;
	char *err;
	size_t errlen;
};

/* Now as RFC 3339 UTC with milliseconds, the shape the snapshot uses. */
static void now_text(char out[TS_LEN])
{
	struct timespec t;
	struct tm tm;

	size_t n;

	clock_gettime(CLOCK_REALTIME, &t);
	gmtime_r(&t.tv_sec, &tm);
	n = strftime(out, TS_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, TS_LEN - n, ".%03dZ", (int)(t.tv_nsec / 1000000));
}

static void *grow(void *p, int *cap, int need, size_t size)
{
	if (need <= *cap)
		return p;
	*cap = *cap == 0 ? 16 : *cap * 2;
	if (*cap < need)
		*cap = need;
	return ax_xrealloc(p, (size_t)*cap * size);
}

static void alert_free(struct alert *a)
{
	cJSON_Delete(a->group_match);
	free(a);
}

static void unit_reset(struct unit *u)
{
	int i;

	for (i = 0; i < u->ninc; i++) {
		struct inc *x = u->incs[i];

		free(x->title);
		free(x->group_key);
		free(x->service);
		free(x->trace);
		free(x->cat_owned);
		free(x->stage_owned);
		free(x->ci);
		free(x);
	}
	for (i = 0; i < u->nal; i++)
		alert_free(u->alerts[i]);
	for (i = 0; i < u->nact; i++)
		free(u->acts[i].payload);
	for (i = 0; i < u->nev; i++)
		free(u->events[i]);
	u->ninc = u->nal = u->nact = u->nev = 0;
	for (i = 0; i < u->n; i++) {
		u->items[i].fresh = 0;
		u->items[i].outcome = "recorded";
		u->items[i].inc = NULL;
		u->items[i].category = NULL;
		u->items[i].nact = 0;
		u->items[i].run[0] = '\0';
	}
	if (u->pending != NULL)
		PQclear(u->pending);
	u->pending = NULL;
	if (u->parents != NULL)
		PQclear(u->parents);
	u->parents = NULL;
	ax_store_batch_clear(u->w);
}

static void unit_release(struct unit *u)
{
	int i;

	unit_reset(u);
	for (i = 0; i < u->n; i++)
		ax_signal_release(&u->items[i].sig);
	free(u->incs);
	free(u->alerts);
	free(u->acts);
	free(u->events);
	ax_store_batch_free(u->w);
	ax_group_rules_release(&u->rules);
}

static char *dup_col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : ax_xstrdup(PQgetvalue(res, row, c));
}

static struct inc *inc_add(struct unit *u)
{
	struct inc *x = ax_xcalloc(1, sizeof(*x));

	u->incs = grow(u->incs, &u->capinc, u->ninc + 1, sizeof(*u->incs));
	u->incs[u->ninc++] = x;
	return x;
}

static struct alert *alert_add(struct unit *u)
{
	struct alert *a = ax_xcalloc(1, sizeof(*a));

	u->alerts = grow(u->alerts, &u->capal, u->nal + 1, sizeof(*u->alerts));
	u->alerts[u->nal++] = a;
	return a;
}

/* The alert of fingerprint fp in an open incident, preferring the most
 * recently opened incident (as a lookup by fingerprint alone would). */
static struct alert *find_alert(struct unit *u, const char *fp)
{
	struct alert *best = NULL;
	int i;

	for (i = 0; i < u->nal; i++) {
		struct alert *a = u->alerts[i];

		if (!a->inc->open || strcmp(a->fp, fp) != 0)
			continue;
		if (best == NULL || a->inc->isnew ||
		    strcmp(a->inc->opened_at, best->inc->opened_at) > 0)
			best = a;
	}
	return best;
}

static struct inc *find_open(struct unit *u, const char *group_key)
{
	int i;

	for (i = u->ninc - 1; i >= 0; i--)
		if (u->incs[i]->open && strcmp(u->incs[i]->group_key, group_key) == 0)
			return u->incs[i];
	return NULL;
}

static struct inc *find_inc(struct unit *u, const char *id)
{
	int i;

	for (i = 0; i < u->ninc; i++)
		if (strcmp(u->incs[i]->id, id) == 0)
			return u->incs[i];
	return NULL;
}

/* ---------------------------------------------------------------- step 1 */

static PGresult *q(struct unit *u, const char *sql, int n, const char *const *p)
{
	return ax_pg_exec(u->r->pg, u->err, u->errlen, sql, n, p);
}

/* A JSON array of one string per valid item, from pick(). */
static char *json_list(struct unit *u, const char *(*pick)(const struct item *))
{
	cJSON *a = cJSON_CreateArray();
	char *s;
	int i;

	if (a == NULL)
		abort();
	for (i = 0; i < u->n; i++) {
		const char *v = u->items[i].valid ? pick(&u->items[i]) : NULL;

		if (v != NULL && !cJSON_AddItemToArray(a, cJSON_CreateString(v)))
			abort();
	}
	s = ax_json_print(a);
	cJSON_Delete(a);
	return s;
}

static const char *pick_id(const struct item *it)
{
	return it->e->id;
}

static const char *pick_redelivered(const struct item *it)
{
	return it->fresh ? NULL : it->e->id;
}

static const char *pick_fp(const struct item *it)
{
	return it->fresh && it->sig.kind == AX_KIND_ALERT ? it->sig.fingerprint : NULL;
}

/* Which entries are fresh: a signal id already in signals_seen was
 * committed by an earlier delivery; so is the second entry of an id
 * within the batch.  The claim itself is written with the rest
 * (ax_store_signal_seen), and a concurrent claim of the same id makes
 * the write answer AX_EDUP, so the unit is redone and sees it here. */
static int claim(struct unit *u)
{
	char *ids = json_list(u, pick_id);
	const char *p[1] = { ids };
	PGresult *res = q(u, Q_SEEN, 1, p);
	int i, j, k, redeliveries = 0;

	free(ids);
	if (res == NULL)
		return -1;
	for (i = 0; i < u->n; i++) {
		struct item *it = &u->items[i];

		if (!it->valid)
			continue;
		it->fresh = 1;
		for (k = 0; k < PQntuples(res) && it->fresh; k++)
			if (strcasecmp(it->e->id, PQgetvalue(res, k, 0)) == 0)
				it->fresh = 0;
		for (j = 0; j < i && it->fresh; j++)
			if (u->items[j].valid && strcasecmp(it->e->id, u->items[j].e->id) == 0)
				it->fresh = 0;
		redeliveries += !it->fresh;
	}
	PQclear(res);
	if (redeliveries == 0)
		return 0;
	ids = json_list(u, pick_redelivered);
	p[0] = ids;
	u->pending = q(u, Q_PENDING, 1, p);
	free(ids);
	return u->pending != NULL ? 0 : -1;
}

/* ---------------------------------------------------------------- step 2 */

/* The tenant's grouping rules and flap window into u.  Rules the loader
 * refuses (the CHECK of 0010 only checks their shape) leave the tenant on
 * the defaults, with a warning naming the problem: refusing the signals
 * would stall the tenant until someone fixed a setting. */
static int load_settings(struct unit *u)
{
	PGresult *res = q(u, Q_SETTINGS, 0, NULL);
	long window;
	char perr[256];

	if (res == NULL)
		return -1;
	ax_group_rules_release(&u->rules);
	window = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	u->flap_window_s = strtol(PQgetvalue(res, 0, 2), NULL, 10);
	if (ax_group_rules_parse(&u->rules, PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1),
				 window, perr, sizeof(perr)) != AX_OK) {
		ax_log(AX_LOG_WARN, NULL, u->tenant, "tenant_settings.%s; grouping by the default "
		       "rules", perr);
		ax_group_rules_default(&u->rules, window);
	}
	PQclear(res);
	return 0;
}

static void k_add(cJSON *keys, char *k)
{
	if (k != NULL && !cJSON_AddItemToArray(keys, cJSON_CreateString(k)))
		abort();
	free(k);
}

/* Every key the rules give a fresh alert (the incidents it may
 * join or, when stale, supersede), into keys. */
static void rule_keys(const struct unit *u, const struct ax_signal *s, cJSON *keys)
{
	struct ax_group_input in;
	struct ax_group_rule name_rule;
	int i, any = 0;

	ax_group_input_of(&in, s);
	for (i = 0; i < u->rules.n; i++) {
		char *k;

		if (ax_group_is_fingerprint(&u->rules.v[i]))
			continue;
		k = ax_group_key(&u->rules.v[i], &in, NULL);
		any |= k != NULL;
		k_add(keys, k);
	}
	if (!any) {
		/* ax_group_decide's fallback: the name. */
		memset(&name_rule, 0, sizeof(name_rule));
		name_rule.name = (char *)"name";
		name_rule.fields[0].f = AX_GF_NAME;
		name_rule.nfields = 1;
		k_add(keys, ax_group_key(&name_rule, &in, NULL));
	}
}

/* Whether it will likely open an incident: its fingerprint is in no open
 * incident and none of its rule keys names one.  (An open incident that
 * a window refuses is missed: that alert then opens one without a parent
 * candidate from this batch's read.) */
static int likely_opener(struct unit *u, const struct item *it)
{
	cJSON *keys, *k;
	int i, joins = 0;

	if (find_alert(u, it->sig.fingerprint) != NULL)
		return 0;
	keys = cJSON_CreateArray();
	if (keys == NULL)
		abort();
	rule_keys(u, &it->sig, keys);
	cJSON_ArrayForEach(k, keys)
		for (i = 0; i < u->ninc && !joins; i++)
			joins = u->incs[i]->open && strcmp(u->incs[i]->group_key, k->valuestring) == 0;
	cJSON_Delete(keys);
	return !joins;
}

/* The root CI of each fresh firing alert likely to open an incident, once
 * each, into cis. */
static void root_cis(struct unit *u, cJSON *cis)
{
	int i;

	for (i = 0; i < u->n; i++) {
		const struct item *it = &u->items[i];
		struct ax_group_input in;
		const cJSON *c;
		const char *ci;
		int dup = 0;

		if (!it->valid || !it->fresh || it->sig.kind != AX_KIND_ALERT ||
		    it->sig.status != AX_STATUS_FIRING)
			continue;
		ax_group_input_of(&in, &it->sig);
		ci = ax_group_root_ci(&in, NULL);
		if (ci == NULL || !likely_opener(u, it))
			continue;
		cJSON_ArrayForEach(c, cis)
			dup |= strcmp(c->valuestring, ci) == 0;
		if (!dup && !cJSON_AddItemToArray(cis, cJSON_CreateString(ci)))
			abort();
	}
}

/* Parent candidates (Q_PARENT) for the machines of the alerts that will
 * open incidents.  Only those: in a storm on one machine every batch
 * would otherwise read all of its firing alerts (make bench-latency:
 * p99 67 ms -> 4 s at 1,000 alerts/s), and an alert that joins needs no
 * parent. */
static int load_parents(struct unit *u)
{
	cJSON *cis = cJSON_CreateArray();
	const char *pp[1];
	char *citext;

	if (cis == NULL)
		abort();
	root_cis(u, cis);
	if (cJSON_GetArraySize(cis) == 0) {
		cJSON_Delete(cis);
		return 0;
	}
	citext = ax_json_print(cis);
	cJSON_Delete(cis);
	pp[0] = citext;
	u->parents = q(u, Q_PARENT, 1, pp);
	free(citext);
	return u->parents != NULL ? 0 : -1;
}

/* Q_LOCK: the open incidents the batch can touch, locked. */
static PGresult *lock_read(struct unit *u, const char *gk, const char *fps)
{
	char flap[24];
	const char *pl[3] = { gk, fps, flap };

	snprintf(flap, sizeof(flap), "%ld", u->flap_window_s);
	return q(u, Q_LOCK, 3, pl);
}

/* Row i of a Q_LOCK-shaped result (also reason/ticket.c's Q_INCIDENT)
 * into x, locked; strings x already held (a reference) are replaced. */
static void inc_read(struct inc *x, const PGresult *res, int i)
{
	free(x->title);
	free(x->cat_owned);
	free(x->stage_owned);
	free(x->group_key);
	free(x->service);
	free(x->trace);
	x->ref = 0;
	snprintf(x->id, sizeof(x->id), "%s", PQgetvalue(res, i, 0));
	x->open = strcmp(PQgetvalue(res, i, 13), "open") == 0;
	x->title = dup_col(res, i, 1);
	if (ax_severity_parse(PQgetvalue(res, i, 2), &x->sev) != 0)
		x->sev = AX_SEV_INFO;
	x->cat_owned = dup_col(res, i, 3);
	x->category = x->cat_owned;
	x->has_confidence = !PQgetisnull(res, i, 4);
	x->confidence = x->has_confidence ? strtod(PQgetvalue(res, i, 4), NULL) : 0;
	x->stage_owned = dup_col(res, i, 5);
	x->stage = x->stage_owned;
	x->group_key = dup_col(res, i, 6);
	x->service = dup_col(res, i, 7);
	x->alert_count = strtol(PQgetvalue(res, i, 8), NULL, 10);
	snprintf(x->opened_at, sizeof(x->opened_at), "%s", PQgetvalue(res, i, 9));
	x->trace = dup_col(res, i, 10);
	x->idle_s = strtod(PQgetvalue(res, i, 11), NULL);
	x->firing = strtol(PQgetvalue(res, i, 12), NULL, 10);
}

static int load(struct unit *u)
{
	cJSON *keys = cJSON_CreateArray(), *ids;
	char *gk, *fps, *idtext;
	PGresult *res, *rr;
	int i, n;

	if (keys == NULL)
		abort();
	if (load_settings(u) != 0) {
		cJSON_Delete(keys);
		return -1;
	}
	for (i = 0; i < u->n; i++) {
		const struct item *it = &u->items[i];

		if (!it->valid || !it->fresh || it->sig.kind != AX_KIND_ALERT)
			continue;
		rule_keys(u, &it->sig, keys);
	}
	if (cJSON_GetArraySize(keys) == 0) {
		cJSON_Delete(keys);
		return 0;
	}
	gk = ax_json_print(keys);
	cJSON_Delete(keys);
	fps = json_list(u, pick_fp);
	res = lock_read(u, gk, fps);
	free(gk);
	if (res == NULL) {
		free(fps);
		return -1;
	}
	n = PQntuples(res);
	ids = cJSON_CreateArray();
	if (ids == NULL)
		abort();
	for (i = 0; i < n; i++) {
		struct inc *x = inc_add(u);

		inc_read(x, res, i);
		if (!cJSON_AddItemToArray(ids, cJSON_CreateString(x->id)))
			abort();
	}
	PQclear(res);
	if (n == 0) {
		cJSON_Delete(ids);
		free(fps);
		return load_parents(u);
	}
	idtext = ax_json_print(ids);
	cJSON_Delete(ids);
	{
		const char *pa[2] = { idtext, fps };

		rr = q(u, Q_ALERTS, 2, pa);
	}
	free(idtext);
	free(fps);
	if (rr == NULL)
		return -1;
	for (i = 0; i < PQntuples(rr); i++) {
		struct inc *x = find_inc(u, PQgetvalue(rr, i, 1));
		struct alert *a;

		if (x == NULL)
			continue;
		a = alert_add(u);
		snprintf(a->id, sizeof(a->id), "%s", PQgetvalue(rr, i, 0));
		a->inc = x;
		snprintf(a->fp, sizeof(a->fp), "%s", PQgetvalue(rr, i, 2));
		a->status = strcmp(PQgetvalue(rr, i, 3), "firing") == 0 ? AX_STATUS_FIRING :
									      AX_STATUS_RESOLVED;
		if (ax_severity_parse(PQgetvalue(rr, i, 4), &a->sev) != 0)
			a->sev = AX_SEV_INFO;
		a->flap_count = strtol(PQgetvalue(rr, i, 5), NULL, 10);
		a->resolved_s = strtod(PQgetvalue(rr, i, 6), NULL);
	}
	PQclear(rr);
	return load_parents(u);
}

/* ---------------------------------------------------------------- step 3 */

/* One incident_events row, and its pub/sub event for after COMMIT. */
static void add_stage(struct unit *u, struct item *it, const char *stage, const cJSON *output,
		      double duration_ms)
{
	const struct ax_entry *e = it->e;
	const char *incident = it->inc != NULL ? it->inc->id : NULL;
	struct ax_event_row ev = {
		.incident_id = incident, .signal_id = e->id, .stage = stage,
		.input_digest = it->digest, .output = output, .duration_ms = duration_ms,
		.provider = "heuristic", .fallback = 0, .trace = e->trace,
		.run_id = it->run[0] != '\0' ? it->run : NULL,
	};
	cJSON *pub;

	ax_store_event(u->w, &ev);
	pub = reason_stage_event(u->tenant, incident, stage, e->id, e->trace, ev.run_id, output);
	u->events = grow(u->events, &u->capev, u->nev + 1, sizeof(*u->events));
	u->events[u->nev++] = ax_json_print(pub);
	cJSON_Delete(pub);
}

/* A notify action for the incident as it stands now: an outbox row and
 * an entry to append after COMMIT. */
static void add_action(struct unit *u, struct item *it, const char *event)
{
	struct inc *x = it->inc;
	struct reason_incident snap;
	struct out_action *a;
	char sev[16], status[16];
	cJSON *data;

	u->acts = grow(u->acts, &u->capact, u->nact + 1, sizeof(*u->acts));
	a = &u->acts[u->nact++];
	ax_uuid7(a->id);
	a->it = it;
	/* The snapshot borrows the model's strings; never released. */
	memset(&snap, 0, sizeof(snap));
	snprintf(snap.id, sizeof(snap.id), "%s", x->id);
	snprintf(sev, sizeof(sev), "%s", ax_severity_str(x->sev));
	snprintf(status, sizeof(status), "%s", x->open ? "open" : "resolved");
	snap.title = x->title;
	snap.status = status;
	snap.severity = sev;
	snap.category = (char *)x->category;
	snap.confidence = x->confidence;
	snap.has_confidence = x->has_confidence;
	snap.service = x->service;
	snap.alert_count = x->alert_count;
	snap.opened_at = x->opened_at;
	snap.resolved_at = x->resolved_at[0] != '\0' ? x->resolved_at : NULL;
	data = reason_action_data(a->id, it->e->id, event, &snap);
	a->payload = ax_json_print(data);
	cJSON_Delete(data);
	{
		struct ax_action_row row = { .id = a->id, .incident_id = x->id,
					     .signal_id = it->e->id, .type = "notify",
					     .payload = a->payload, .trace = it->e->trace };

		ax_store_action(u->w, &row);
	}
	it->nact++;
}

static void history(struct unit *u, const struct item *it, const struct alert *a,
		    const char *from)
{
	struct ax_history_row h = { .alert_id = a->id, .from_status = from,
				    .to_status = ax_status_str(a->status),
				    .signal_id = it->e->id, .trace = it->e->trace };

	ax_store_history(u->w, &h);
}

/* The pipeline run that takes it from here (reason/run.c): stage
 * classify is done in this transaction, the rest after COMMIT.  The run
 * keeps the signal (without the sender's raw payload), as the entry will
 * be gone.  Leased to this process (ALEXUS_RUN_LEASE_S) when it has a runner
 * to hand it to, so another replica's sweeper leaves it alone unless
 * this process dies first. */
static void start_run(struct unit *u, struct item *it, const char *kind)
{
	cJSON *input = ax_signal_to_json(&it->sig);
	struct ax_run_row run = {
		.id = it->run, .signal_id = it->e->id,
		.incident_id = it->inc != NULL ? it->inc->id : NULL, .kind = kind,
		.stage = "classify", .input = input, .trace = it->e->trace,
		.lease_s = u->r->runner != NULL ? u->r->cfg->run_lease_s : 0,
	};

	cJSON_DeleteItemFromObjectCaseSensitive(input, "raw");
	ax_uuid7(it->run);
	ax_store_run(u->w, &run);
	cJSON_Delete(input);
}

/* The classify stage of a new incident: the heuristic investigation of
 * its first alert (reason/heuristic.c) gives the category, confidence,
 * summary, probable cause and proposed actions; the keyword classifier
 * adds whether it is worth an incident at all (intent).  The stage row
 * carries the whole analysis, and an analysis_runs row records who
 * answered and what the confidence was made of. */
static void classify(struct unit *u, struct item *it)
{
	const struct ax_signal *s = &it->sig;
	struct reason_class cl;
	struct reason_analysis an;
	struct ax_analysis_row run;
	struct timespec t;
	char run_id[AX_UUID_LEN];
	cJSON *out;
	double dur;

	start_run(u, it, "incident");
	clock_gettime(CLOCK_MONOTONIC, &t);
	reason_classify(s->name, s->summary, s->labels, s->service, s->severity, &cl);
	reason_investigate(s, 1, NULL, &an);
	dur = reason_ms_since(&t);
	out = reason_analysis_json(&an);
	if (cJSON_AddStringToObject(out, "intent", cl.intent) == NULL)
		abort();
	add_stage(u, it, "classify", out, dur);
	ax_uuid7(run_id);
	memset(&run, 0, sizeof(run));
	run.id = run_id;
	run.incident_id = it->inc->id;
	run.run_id = it->run;
	run.provider = "heuristic";
	run.confidence = an.confidence;
	run.confidence_parts = cJSON_GetObjectItemCaseSensitive(out, "confidence_parts");
	run.duration_ms = dur;
	run.trace = it->e->trace;
	ax_store_analysis(u->w, &run);
	cJSON_Delete(out);
	it->category = an.category;     /* static */
	it->confidence = an.confidence;
	it->inc->category = an.category;
	it->inc->confidence = an.confidence;
	it->inc->has_confidence = 1;
	it->inc->stage = "classified";
	reason_analysis_release(&an);
}

/* The parent of an incident about to open under key for it's alert: the
 * oldest open incident of another group with a firing alert on the same
 * machine (ax_group_root_ci: host, else node label) -- read by Q_PARENT,
 * or opened earlier in this unit, which is younger than any of those.
 * stale is closed by the opening (supersede) and so is no parent.  NULL,
 * or the parent with *why (free()) saying what they share. */
static struct inc *choose_parent(struct unit *u, const struct item *it, const char *key,
				 const struct inc *stale, char **why)
{
	struct ax_group_input in;
	const char *ci, *kind;
	struct inc *x;
	int i;

	ax_group_input_of(&in, &it->sig);
	ci = ax_group_root_ci(&in, &kind);
	if (ci == NULL)
		return NULL;
	for (i = 0; u->parents != NULL && i < PQntuples(u->parents); i++) {
		const char *id = PQgetvalue(u->parents, i, 1);

		if (strcmp(PQgetvalue(u->parents, i, 0), ci) != 0 ||
		    strcmp(PQgetvalue(u->parents, i, 2), key) == 0)
			continue;
		x = find_inc(u, id);
		if (x != NULL && !x->ref && (!x->open || x == stale))
			continue;
		if (x == NULL) {
			/* Not locked: a reference for the parent_id only. */
			x = inc_add(u);
			x->ref = 1;
			snprintf(x->id, sizeof(x->id), "%s", id);
			x->group_key = ax_xstrdup(PQgetvalue(u->parents, i, 2));
			snprintf(x->opened_at, sizeof(x->opened_at), "%s",
				 PQgetvalue(u->parents, i, 3));
		}
		*why = ax_xasprintf("shares root CI %s (the alert's %s) with the older open "
				    "incident %s of %s, opened %s", ci,
				    strcmp(kind, "host") == 0 ? "host" : "node label", x->id,
				    x->group_key, x->opened_at);
		return x;
	}
	for (i = 0; i < u->ninc; i++) {
		x = u->incs[i];
		if (!x->isnew || !x->open || x == stale || x->ci == NULL ||
		    strcmp(x->ci, ci) != 0 || strcmp(x->group_key, key) == 0)
			continue;
		*why = ax_xasprintf("shares root CI %s (the alert's %s) with the older open "
				    "incident %s of %s, opened %s", ci,
				    strcmp(kind, "host") == 0 ? "host" : "node label", x->id,
				    x->group_key, x->opened_at);
		return x;
	}
	return NULL;
}

static struct inc *open_incident(struct unit *u, struct item *it, char *group_key,
				 const struct inc *stale)
{
	const struct ax_signal *s = &it->sig;
	struct inc *x, *parent;
	struct ax_group_input in;
	const char *ci;
	char *why = NULL;
	cJSON *o;

	parent = choose_parent(u, it, group_key, stale, &why);
	x = inc_add(u);

	ax_uuid7(x->id);
	x->isnew = 1;
	x->open = 1;
	x->title = ax_xstrdup(s->summary != NULL && s->summary[0] != '\0' ? s->summary : s->name);
	x->group_key = group_key;
	x->service = s->service != NULL ? ax_xstrdup(s->service) : NULL;
	x->trace = ax_xstrdup(it->e->trace);
	x->sev = s->severity;
	x->stage = "classify";
	now_text(x->opened_at);
	ax_group_input_of(&in, s);
	ci = ax_group_root_ci(&in, NULL);
	x->ci = ci != NULL ? ax_xstrdup(ci) : NULL;
	if (parent != NULL)
		snprintf(x->parent_id, sizeof(x->parent_id), "%s", parent->id);
	it->inc = x;

	o = cJSON_CreateObject();
	if (o == NULL)
		abort();
	cJSON_AddStringToObject(o, "group_key", group_key);
	cJSON_AddStringToObject(o, "severity", ax_severity_str(s->severity));
	cJSON_AddStringToObject(o, "first_alert", s->name);
	cJSON_AddStringToObject(o, "fingerprint", s->fingerprint);
	if (parent != NULL) {
		cJSON_AddStringToObject(o, "parent_id", parent->id);
		cJSON_AddStringToObject(o, "parent_reason", why);
		free(why);
	}
	add_stage(u, it, "opened", o, reason_ms_since(&it->t0));
	cJSON_Delete(o);
	return x;
}

/* ax_group_decide's view of the unit: the open incident holding the
 * fingerprint (the fingerprint rule) or of the key, and its idleness. */
static void *lookup_open(void *arg, const struct ax_group_rule *r, const char *key,
			 const struct ax_group_input *in, double *idle_s)
{
	struct unit *u = arg;
	struct inc *x;

	if (ax_group_is_fingerprint(r)) {
		struct alert *a = find_alert(u, in->fingerprint);

		x = a != NULL ? a->inc : NULL;
	} else {
		x = find_open(u, key);
	}
	if (x != NULL)
		*idle_s = x->idle_s;
	return x;
}

static void touch(struct inc *x)
{
	x->dirty = 1;
	x->touched = 1;
	x->idle_s = 0;
}

/* Close stale, the open incident of the key an alert is about to open an
 * incident under, which its rule's window refused: one open incident per
 * key (incidents_open_group).  It is resolved like any incident (stage
 * event, notify action), the reason saying why; its alerts keep their
 * status.  it->inc is the incident being opened. */
static void supersede(struct unit *u, struct item *it, struct inc *stale,
		      const struct ax_group_decision *d)
{
	struct inc *x = it->inc;
	cJSON *out = cJSON_CreateObject();

	if (out == NULL)
		abort();
	stale->open = 0;
	stale->dirty = 1;
	stale->stage = "resolved";
	now_text(stale->resolved_at);
	cJSON_AddStringToObject(out, "reason", "superseded: no signal within window");
	cJSON_AddStringToObject(out, "rule", d->rule != NULL ? d->rule->name : "name");
	cJSON_AddStringToObject(out, "key", d->key);
	cJSON_AddNumberToObject(out, "idle_s", (double)(long)d->stale_idle_s);
	cJSON_AddNumberToObject(out, "window_s", (double)(d->rule != NULL ?
		ax_group_window(&u->rules, d->rule) : u->rules.window_s));
	cJSON_AddStringToObject(out, "superseded_by", x->id);
	it->inc = stale;
	add_stage(u, it, "resolved", out, reason_ms_since(&it->t0));
	add_action(u, it, "incident.resolved");
	it->inc = x;
	cJSON_Delete(out);
}

/* The alert fires again (or still) in its open incident. */
static void refire(struct unit *u, struct item *it, struct alert *a)
{
	const struct ax_signal *s = &it->sig;
	enum ax_status from = a->status;

	it->inc = a->inc;
	a->status = AX_STATUS_FIRING;
	a->sev = s->severity;
	if (s->summary != NULL)
		a->summary = s->summary;
	a->ends_at[0] = '\0';
	a->last_signal = it->e->id;
	a->dirty = 1;
	if (from != AX_STATUS_FIRING) {
		history(u, it, a, ax_status_str(from));
		a->inc->firing++;
	}
	a->inc->sev = reason_severity_max(a->inc->sev, s->severity);
	touch(a->inc);
	it->outcome = "updated its alert";
}

/* The alert of fingerprint fp that resolved most recently within the
 * tenant's flap window in an incident no longer open (Q_LOCK read it, or
 * this unit resolved it), or NULL.  One resolved in a still open incident
 * is found by the fingerprint rule instead. */
static struct alert *find_flap(struct unit *u, const char *fp)
{
	struct alert *best = NULL;
	int i;

	for (i = 0; i < u->nal; i++) {
		struct alert *a = u->alerts[i];

		if (a->inc->open || a->status != AX_STATUS_RESOLVED || strcmp(a->fp, fp) != 0 ||
		    !ax_group_is_flap(u->flap_window_s, a->resolved_s))
			continue;
		if (best == NULL || a->resolved_s < best->resolved_s)
			best = a;
	}
	return best;
}

/* The flapping stage event on it->inc: alert a (now firing in it->inc)
 * fired again ago seconds after resolving.  from: the incident it
 * resolved in when that is another one (it joined its group's open
 * incident), NULL when it came back to the same one. */
static void flapped(struct unit *u, struct item *it, struct alert *a, double ago,
		    const struct inc *from, int reopened)
{
	cJSON *out = cJSON_CreateObject();

	if (out == NULL)
		abort();
	a->flap_count++;
	cJSON_AddStringToObject(out, "alert", it->sig.name);
	cJSON_AddStringToObject(out, "fingerprint", a->fp);
	cJSON_AddNumberToObject(out, "flap_count", (double)a->flap_count);
	cJSON_AddNumberToObject(out, "flap_window_s", (double)u->flap_window_s);
	cJSON_AddNumberToObject(out, "resolved_s_ago", (double)(long)ago);
	if (cJSON_AddBoolToObject(out, "reopened", reopened) == NULL)
		abort();
	if (from != NULL)
		cJSON_AddStringToObject(out, "resolved_in", from->id);
	add_stage(u, it, "flapping", out, reason_ms_since(&it->t0));
	cJSON_Delete(out);
	it->outcome = reopened ? "flapping: reopened its incident" :
		      from != NULL ? "flapping: joined its group's open incident" :
		      "flapping: fired again in its incident";
}

/* A firing alert the signal of it creates in incident x. */
static struct alert *new_alert(struct unit *u, struct item *it, struct inc *x)
{
	const struct ax_signal *s = &it->sig;
	struct alert *a = alert_add(u);

	ax_uuid7(a->id);
	a->isnew = 1;
	a->inc = x;
	snprintf(a->fp, sizeof(a->fp), "%s", s->fingerprint);
	a->status = AX_STATUS_FIRING;
	a->sev = s->severity;
	a->first = s;
	a->summary = s->summary;
	a->last_signal = it->e->id;
	a->resolved_s = -1;
	return a;
}

/* Alert f fired again soon after resolving in an incident since closed:
 * not a new incident.  When f's group has another open incident (opened
 * meanwhile) the alert joins that one -- one open incident per key,
 * incidents_open_group -- under rule "flapping"; else f's incident is
 * reopened (status open, resolved_at NULL, stage "reopened") and f fires
 * in it again.  Either way the flapping event counts it.  No notify
 * action: a flapping alert would page at every flap. */
static void flap_back(struct unit *u, struct item *it, struct alert *f)
{
	const struct ax_signal *s = &it->sig;
	struct inc *x = find_open(u, f->inc->group_key), *from = f->inc;
	double ago = f->resolved_s;
	struct alert *a;
	cJSON *values;

	if (x == NULL) {
		x = from;
		x->open = 1;
		x->resolved_at[0] = '\0';
		x->stage = "reopened";
		refire(u, it, f);
		flapped(u, it, f, ago, NULL, 1);
		return;
	}
	it->inc = x;
	a = new_alert(u, it, x);
	a->flap_count = f->flap_count;
	a->group_rule = AX_GROUP_RULE_FLAPPING;
	a->group_match = cJSON_CreateObject();
	values = cJSON_CreateObject();
	if (a->group_match == NULL || values == NULL)
		abort();
	cJSON_AddStringToObject(a->group_match, "key", x->group_key);
	cJSON_AddStringToObject(values, "fingerprint", s->fingerprint);
	cJSON_AddItemToObject(a->group_match, "values", values);
	cJSON_AddStringToObject(a->group_match, "resolved_in", from->id);
	cJSON_AddNumberToObject(a->group_match, "resolved_s_ago", (double)(long)ago);
	cJSON_AddNumberToObject(a->group_match, "flap_window_s", (double)u->flap_window_s);
	history(u, it, a, NULL);
	x->alert_count++;
	x->firing++;
	x->sev = reason_severity_max(x->sev, s->severity);
	touch(x);
	flapped(u, it, a, ago, from, 0);
	/* The old row is not flapping any more: the new one carries it. */
	f->resolved_s = -1;
}

/* 0, or -1 when the signal cannot be grouped (it->outcome says why).
 * The tenant's rules (common/group.c) decide: the first rule whose
 * incident is fresh attaches the alert, else it opens an incident under
 * the first rule that applies; the alert row records the rule and the
 * values that matched (incidents why). */
static int on_firing(struct unit *u, struct item *it)
{
	const struct ax_signal *s = &it->sig;
	struct ax_group_input in;
	struct ax_group_decision d;
	struct alert *a;
	struct inc *x;
	int created = 0;

	ax_group_input_of(&in, s);
	ax_group_decide(&u->rules, &in, lookup_open, u, &d);
	if (d.incident != NULL && d.rule != NULL && ax_group_is_fingerprint(d.rule)) {
		a = find_alert(u, s->fingerprint);
		if (a->status == AX_STATUS_RESOLVED &&
		    ax_group_is_flap(u->flap_window_s, a->resolved_s)) {
			double ago = a->resolved_s;

			refire(u, it, a);
			flapped(u, it, a, ago, NULL, 0);
		} else {
			refire(u, it, a);
		}
		ax_group_decision_release(&d);
		return 0;
	}
	a = find_flap(u, s->fingerprint);
	if (a != NULL) {
		ax_group_decision_release(&d);
		flap_back(u, it, a);
		return 0;
	}
	if (d.key == NULL) {
		ax_group_decision_release(&d);
		it->outcome = "signal has no service, host or name to group by";
		return -1;
	}
	if (d.incident == NULL) {
		x = open_incident(u, it, ax_xstrdup(d.key), d.stale);
		created = 1;
		if (d.stale != NULL)
			supersede(u, it, d.stale, &d);
	} else {
		x = d.incident;
		it->inc = x;
	}
	a = new_alert(u, it, x);
	a->group_rule = ax_group_decision_rule(&d);     /* u->rules' or static */
	a->group_match = ax_group_decision_match(&u->rules, &d);
	if (d.stale != NULL)
		cJSON_AddStringToObject(a->group_match, "superseded", ((struct inc *)d.stale)->id);
	ax_group_decision_release(&d);
	history(u, it, a, NULL);
	x->alert_count++;
	x->firing++;
	x->sev = reason_severity_max(x->sev, s->severity);
	touch(x);
	if (created) {
		classify(u, it);
		add_action(u, it, "incident.opened");
		it->outcome = "opened the incident";
	} else {
		it->outcome = "joined the open incident";
	}
	return 0;
}

static void on_resolved(struct unit *u, struct item *it)
{
	const struct ax_signal *s = &it->sig;
	struct alert *a = find_alert(u, s->fingerprint);
	struct inc *x;
	cJSON *out;

	if (a == NULL) {
		it->outcome = "matched no open alert";
		return;
	}
	x = it->inc = a->inc;
	if (reason_time_usable(s->ends_at))
		snprintf(a->ends_at, sizeof(a->ends_at), "%s", s->ends_at);
	else
		now_text(a->ends_at);
	a->last_signal = it->e->id;
	a->dirty = 1;
	a->resolved_s = 0;
	touch(x);
	if (a->status == AX_STATUS_FIRING) {
		a->status = AX_STATUS_RESOLVED;
		history(u, it, a, "firing");
		x->firing--;
	}
	if (x->firing > 0) {
		it->outcome = "resolved its alert, others still firing";
		return;
	}
	x->open = 0;
	x->stage = "resolved";
	now_text(x->resolved_at);
	out = cJSON_CreateObject();
	if (out == NULL)
		abort();
	cJSON_AddStringToObject(out, "reason", "all alerts resolved");
	cJSON_AddStringToObject(out, "last_alert", s->name);
	add_stage(u, it, "resolved", out, reason_ms_since(&it->t0));
	cJSON_Delete(out);
	add_action(u, it, "incident.resolved");
	it->outcome = "resolved the incident";
}

/* The version a deploy names, from the labels senders use for it. */
static const char *deploy_version(const struct ax_signal *s)
{
	static const char *const keys[] = { "version", "image_tag", "revision", "sha", "commit" };
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->labels, keys[i]);

		if (cJSON_IsString(v) && v->valuestring[0] != '\0')
			return v->valuestring;
	}
	return NULL;
}

/* A deploy or change signal: a deploys row now, in this transaction, so
 * an alert behind it in the stream already sees it as a suspect; and a
 * cmdb run, whose CMDBAgent stage updates the graph after COMMIT. */
static void on_change(struct unit *u, struct item *it)
{
	const struct ax_signal *s = &it->sig;
	char id[AX_UUID_LEN];
	cJSON *ref = NULL, *out;
	struct ax_deploy_row d = {
		.id = id, .signal_id = it->e->id,
		.kind = s->kind == AX_KIND_DEPLOY ? "deploy" : "change", .name = s->name,
		.status = ax_status_str(s->status), .service = s->service,
		.namespace_ = s->namespace_, .host = s->host, .version = deploy_version(s),
		.labels = s->labels, .source = s->source,
		.at = reason_time_usable(s->starts_at) ? s->starts_at : NULL,
	};

	if (s->source_id != NULL || s->source_url != NULL) {
		ref = cJSON_CreateObject();
		if (ref == NULL)
			abort();
		if (s->source_id != NULL)
			cJSON_AddStringToObject(ref, "id", s->source_id);
		if (s->source_url != NULL)
			cJSON_AddStringToObject(ref, "url", s->source_url);
		d.source_ref = ref;
	}
	ax_uuid7(id);
	ax_store_deploy(u->w, &d);
	cJSON_Delete(ref);
	start_run(u, it, "cmdb");
	out = cJSON_CreateObject();
	if (out == NULL)
		abort();
	cJSON_AddStringToObject(out, "intent", d.kind);
	cJSON_AddStringToObject(out, "deploy_id", id);
	cJSON_AddStringToObject(out, "service", s->service);
	cJSON_AddStringToObject(out, "version", d.version);
	add_stage(u, it, "classify", out, reason_ms_since(&it->t0));
	cJSON_Delete(out);
	it->outcome = s->kind == AX_KIND_DEPLOY ? "recorded the deploy" : "recorded the change";
}

/* A ticket signal: a human closed or reopened the incident's ticket in
 * Jira or ServiceNow, or our own change came back (reason/ticket.c
 * decides).  The incident is resolved or reopened as an alert would have
 * done it: a stage event, and for a resolve the notify action.  Like the
 * flapping reopen, a reopen notifies nobody.  -1 on a database error. */
static int on_ticket(struct unit *u, struct item *it)
{
	enum reason_ticket_verdict v;
	struct reason_ticket t;
	const char *stage;
	struct inc *x, *y;
	cJSON *out;
	int other;

	if (reason_ticket_lookup(u->r->pg, &it->sig, &t, u->err, u->errlen) != 0) {
		reason_ticket_release(&t);
		return -1;
	}
	x = NULL;
	if (t.inc != NULL) {
		/* The unit's copy when it has one (an alert of the batch
		 * touched it), else the row the lookup locked. */
		x = find_inc(u, t.incident_id);
		if (x == NULL)
			x = inc_add(u);
		if (x->id[0] == '\0' || x->ref)
			inc_read(x, t.inc, 0);
		it->inc = x;
	}
	y = x != NULL ? find_open(u, x->group_key) : NULL;
	other = y != NULL && y != x;
	if (x != NULL && !other && t.other_open[0] != '\0') {
		y = find_inc(u, t.other_open);
		other = y == NULL || y->open || y->ref;
	}
	v = reason_ticket_decide(&t, x != NULL && x->open, other, &stage, &out);
	if (reason_ticket_record(u->r->pg, &t, u->err, u->errlen) != 0) {
		cJSON_Delete(out);
		reason_ticket_release(&t);
		return -1;
	}
	if (v == REASON_TICKET_RESOLVE) {
		x->open = 0;
		x->dirty = 1;
		x->stage = "resolved";
		now_text(x->resolved_at);
	} else if (v == REASON_TICKET_REOPEN) {
		x->open = 1;
		x->resolved_at[0] = '\0';
		x->stage = "reopened";
		touch(x);
	}
	if (stage != NULL)
		add_stage(u, it, stage, out, reason_ms_since(&it->t0));
	if (v == REASON_TICKET_RESOLVE)
		add_action(u, it, "incident.resolved");
	it->outcome = reason_ticket_outcome(v);
	cJSON_Delete(out);
	reason_ticket_release(&t);
	return 0;
}

/* ---------------------------------------------------------------- step 4 */

static void queue_writes(struct unit *u)
{
	int i;

	for (i = 0; i < u->ninc; i++) {
		const struct inc *x = u->incs[i];
		struct ax_incident_row r = {
			.id = x->id, .title = x->title, .status = x->open ? "open" : "resolved",
			.severity = ax_severity_str(x->sev), .category = x->category,
			.confidence = x->confidence, .has_confidence = x->has_confidence,
			.stage = x->stage, .group_key = x->group_key, .service = x->service,
			.alert_count = x->alert_count, .firing_count = x->firing,
			.opened_at = x->opened_at,
			.resolved_at = x->resolved_at[0] != '\0' ? x->resolved_at : NULL,
			.trace = x->trace, .touched = x->touched,
			.parent_id = x->parent_id[0] != '\0' ? x->parent_id : NULL,
		};

		if (x->isnew)
			ax_store_incident_insert(u->w, &r);
		else if (x->dirty)
			ax_store_incident_update(u->w, &r);
	}
	for (i = 0; i < u->nal; i++) {
		const struct alert *a = u->alerts[i];
		const struct ax_signal *s = a->first;
		struct ax_alert_row r = {
			.id = a->id, .incident_id = a->inc->id, .fingerprint = a->fp,
			.status = ax_status_str(a->status), .severity = ax_severity_str(a->sev),
			.summary = a->summary, .ends_at = a->ends_at[0] != '\0' ? a->ends_at : NULL,
			.last_signal = a->last_signal, .flap_count = a->flap_count,
			.group_rule = a->group_rule, .group_match = a->group_match,
		};

		if (a->isnew) {
			r.name = s->name;
			r.service = s->service;
			r.host = s->host;
			r.namespace_ = s->namespace_;
			r.labels = s->labels;
			r.source = s->source;
			r.starts_at = reason_time_usable(s->starts_at) ? s->starts_at : NULL;
			ax_store_alert_insert(u->w, &r);
		} else if (a->dirty) {
			ax_store_alert_update(u->w, &r);
		}
	}
	for (i = 0; i < u->n; i++) {
		const struct item *it = &u->items[i];

		if (it->valid && it->fresh)
			ax_store_signal_seen(u->w, it->e->id, it->inc != NULL ? it->inc->id : NULL);
	}
}

/* ---------------------------------------------------------------- Redis */

/* XACK every settled entry of the unit in one command. */
static ax_err ack_all(struct unit *u, unsigned char *done)
{
	const char **argv = ax_xcalloc((size_t)u->n + 3, sizeof(*argv));
	redisReply *rep;
	int i, argc = 0;
	ax_err rc = AX_OK;

	argv[argc++] = "XACK";
	argv[argc++] = AX_STREAM_SIGNALS;
	argv[argc++] = AX_GROUP_REASON;
	for (i = 0; i < u->n; i++)
		if (u->items[i].valid)
			argv[argc++] = u->items[i].e->stream_id;
	if (argc > 3) {
		rep = redisCommandArgv(u->c, argc, argv, NULL);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			ax_errfmt(u->err, u->errlen, "XACK: %s",
				  rep != NULL ? rep->str : u->c->errstr);
			rc = AX_EIO;
		}
		if (rep != NULL)
			freeReplyObject(rep);
	}
	free(argv);
	if (rc == AX_OK)
		for (i = 0; i < u->n; i++)
			if (u->items[i].valid)
				done[u->items[i].index] = 1;
	return rc;
}

static void log_item(const struct unit *u, const struct item *it)
{
	const struct ax_entry *e = it->e;
	const struct ax_signal *s = &it->sig;

	if (!it->fresh)
		ax_log(AX_LOG_INFO, e->trace, u->tenant,
		       "signal %s was already committed (redelivery of %s)", e->id, e->stream_id);
	else if (it->category != NULL)
		ax_log(AX_LOG_INFO, e->trace, u->tenant,
		       "%s %s %s: %s (incident %s, category %s, confidence %.2f), %d action(s)",
		       ax_kind_str(s->kind), s->name, ax_status_str(s->status), it->outcome,
		       it->inc->id, it->category, it->confidence, it->nact);
	else if (it->inc != NULL)
		ax_log(AX_LOG_INFO, e->trace, u->tenant, "%s %s %s: %s (incident %s), %d action(s)",
		       ax_kind_str(s->kind), s->name, ax_status_str(s->status), it->outcome,
		       it->inc->id, it->nact);
	else
		ax_log(AX_LOG_INFO, e->trace, u->tenant, "%s %s %s: %s", ax_kind_str(s->kind),
		       s->name, ax_status_str(s->status), it->outcome);
}

/* After COMMIT: outbox (redeliveries' pending actions first, in the order
 * they were made), events, acknowledgement. */
static ax_err after_commit(struct unit *u, unsigned char *done)
{
	char perr[256];
	ax_err rc;
	int i;

	ax_failpoint("reason.after_commit");
	for (i = 0; u->pending != NULL && i < PQntuples(u->pending); i++) {
		const char *trace = PQgetisnull(u->pending, i, 3) ? "-" :
								     PQgetvalue(u->pending, i, 3);

		rc = ax_action_append(u->c, u->tenant, PQgetvalue(u->pending, i, 1),
					  PQgetvalue(u->pending, i, 4), trace,
					  PQgetvalue(u->pending, i, 2), u->err, u->errlen);
		if (rc != AX_OK)
			return rc;
	}
	for (i = 0; i < u->nact; i++) {
		rc = ax_action_append(u->c, u->tenant, u->acts[i].id, "notify",
					  u->acts[i].it->e->trace, u->acts[i].payload, u->err,
					  u->errlen);
		if (rc != AX_OK)
			return rc;
	}
	ax_failpoint("reason.after_append");
	for (i = 0; i < u->nev; i++)
		if (ax_publish_event(u->c, u->tenant, u->events[i], perr, sizeof(perr)) != AX_OK)
			ax_log(AX_LOG_WARN, NULL, u->tenant, "stage event not published: %s", perr);
	rc = ack_all(u, done);
	if (rc != AX_OK)
		return rc;
	for (i = 0; i < u->n; i++) {
		if (!u->items[i].valid)
			continue;
		log_item(u, &u->items[i]);
		if (u->items[i].run[0] != '\0' && u->r->runner != NULL)
			reason_runner_offer(u->r->runner, u->tenant, u->items[i].run);
	}
	return AX_OK;
}

/* ---------------------------------------------------------------- a unit */

/* Postgres refused the data itself: retrying cannot help. */
static int refused_data(const char *sqlstate)
{
	return strncmp(sqlstate, "22", 2) == 0 || strcmp(sqlstate, "23503") == 0;
}

/* The transaction of steps 1-4.  AX_EDUP: redo it. */
static ax_err transact(struct unit *u, unsigned char *done)
{
	ax_err rc;
	int i;

	unit_reset(u);
	rc = ax_pg_begin(u->r->pg, u->tenant, u->err, u->errlen);
	if (rc != AX_OK)
		return rc;
	if (claim(u) != 0 || load(u) != 0)
		goto failed;
	for (i = 0; i < u->n; i++) {
		struct item *it = &u->items[i];

		if (!it->valid || !it->fresh)
			continue;
		if (it->sig.kind == AX_KIND_DEPLOY || it->sig.kind == AX_KIND_CHANGE) {
			on_change(u, it);
			continue;
		}
		if (it->sig.kind == AX_KIND_TICKET) {
			if (on_ticket(u, it) != 0)
				goto failed;
			continue;
		}
		if (it->sig.kind != AX_KIND_ALERT)
			continue;
		if (it->sig.status == AX_STATUS_RESOLVED) {
			on_resolved(u, it);
			continue;
		}
		if (on_firing(u, it) == 0)
			continue;
		/* It can never be grouped: alone, dead-letter it; in a batch,
		 * fail the batch so the loop takes its entries one by one. */
		ax_pg_rollback(u->r->pg);
		if (u->n > 1) {
			ax_errfmt(u->err, u->errlen, "entry %s: %s", it->e->stream_id, it->outcome);
			return AX_EPROTO;
		}
		rc = ax_worker_dead_letter(u->c, AX_STREAM_SIGNALS, AX_GROUP_REASON, it->e,
					   it->outcome, u->err, u->errlen);
		if (rc == AX_OK)
			done[it->index] = 1;
		return rc;
	}
	queue_writes(u);
	rc = ax_store_write(u->r->pg, u->tenant, u->w, u->err, u->errlen);
	if (rc == AX_EDUP) {
		ax_pg_rollback(u->r->pg);
		return rc;
	}
	if (rc != AX_OK)
		goto failed;
	rc = ax_pg_commit(u->r->pg, u->err, u->errlen);
	if (rc != AX_OK)
		return rc;
	return after_commit(u, done);

failed:
	{
		char state[8];

		snprintf(state, sizeof(state), "%s", ax_pg_sqlstate(u->r->pg));
		ax_pg_rollback(u->r->pg);
		if (u->n == 1 && refused_data(state)) {
			char reason[700];

			snprintf(reason, sizeof(reason), "postgres refused the signal (%s): %s", state,
				 u->err);
			rc = ax_worker_dead_letter(u->c, AX_STREAM_SIGNALS, AX_GROUP_REASON,
						   u->items[0].e, reason, u->err, u->errlen);
			if (rc == AX_OK)
				done[u->items[0].index] = 1;
			return rc;
		}
		return AX_EIO;
	}
}

/* Parse entry e into it; dead-letter it when it can never succeed.
 * AX_OK with it->valid 0 means it was settled that way. */
static ax_err prepare(redisContext *c, struct item *it, unsigned char *done, char *err,
		      size_t errlen)
{
	const struct ax_entry *e = it->e;
	const char *why;
	char msg[512], reason[600];
	cJSON *data;
	ax_err rc;

	clock_gettime(CLOCK_MONOTONIC, &it->t0);
	why = ax_entry_problem(e, NULL);
	if (why == NULL) {
		data = ax_json_parse(e->data, strlen(e->data), AX_JSON_ENTRY_DEPTH);
		if (data == NULL) {
			why = "data is not valid JSON";
		} else {
			rc = ax_signal_from_json(&it->sig, data, msg, sizeof(msg));
			cJSON_Delete(data);
			if (rc != AX_OK) {
				snprintf(reason, sizeof(reason), "invalid signal: %s", msg);
				why = reason;
			}
		}
	}
	if (why != NULL) {
		rc = ax_worker_dead_letter(c, AX_STREAM_SIGNALS, AX_GROUP_REASON, e, why, err,
					   errlen);
		if (rc == AX_OK)
			done[it->index] = 1;
		return rc;
	}
	ax_sha256_hex(e->data, strlen(e->data), it->digest);
	/* The entry's kind routes it; the data's kind is informational. */
	(void)ax_kind_parse(e->kind, &it->sig.kind);
	it->valid = 1;
	return AX_OK;
}

/* The entries of es[] of tenant (indexes in order), as one unit. */
static ax_err run_unit(struct reason *r, redisContext *c, const struct ax_entry *const *es,
		       const int *idx, int n, unsigned char *done, char *err, size_t errlen)
{
	struct unit u;
	ax_err rc = AX_OK;
	int i, valid = 0, attempt;

	memset(&u, 0, sizeof(u));
	u.r = r;
	u.c = c;
	u.tenant = es[idx[0]]->tenant;
	u.items = ax_xcalloc((size_t)n, sizeof(*u.items));
	u.n = n;
	u.w = ax_store_batch_new();
	u.err = err;
	u.errlen = errlen;
	for (i = 0; i < n && rc == AX_OK; i++) {
		u.items[i].e = es[idx[i]];
		u.items[i].index = idx[i];
		rc = prepare(c, &u.items[i], done, err, errlen);
		valid += u.items[i].valid;
	}
	if (rc == AX_OK && valid > 0) {
		for (attempt = 0; attempt < OPEN_RETRIES; attempt++) {
			rc = transact(&u, done);
			if (rc != AX_EDUP)
				break;
			ax_log(AX_LOG_DEBUG, NULL, u.tenant,
			       "an incident this batch opened was opened concurrently; redoing");
		}
		if (rc == AX_EDUP) {
			ax_errfmt(err, errlen, "incidents kept being opened concurrently");
			rc = AX_EIO;
		}
	}
	unit_release(&u);
	free(u.items);
	return rc;
}

ax_err reason_handle_batch(struct reason *r, redisContext *c, const struct ax_entry *const *es,
			   int n, unsigned char *done, char *errbuf, size_t errlen)
{
	int *idx = ax_xcalloc((size_t)n, sizeof(*idx));
	unsigned char *taken = ax_xcalloc((size_t)n, 1);
	char unit_err[512];
	ax_err rc = AX_OK;
	int i, j, k;

	ax_failpoint("reason.after_read");
	for (i = 0; i < n; i++) {
		done[i] = 0;
		if (es[i]->deleted) {
			rc = ax_group_ack(c, AX_STREAM_SIGNALS, AX_GROUP_REASON, es[i]->stream_id,
					  errbuf, errlen);
			if (rc != AX_OK)
				goto out;
			done[i] = taken[i] = 1;
		}
	}
	/* One unit per tenant, in order of first appearance; entries without
	 * a usable tenant are each a unit of their own (prepare dead-letters
	 * them). */
	for (i = 0; i < n; i++) {
		if (taken[i])
			continue;
		k = 0;
		for (j = i; j < n; j++) {
			if (taken[j])
				continue;
			if (j == i || (es[i]->tenant != NULL && es[j]->tenant != NULL &&
				       ax_tenant_valid(es[i]->tenant) &&
				       strcmp(es[i]->tenant, es[j]->tenant) == 0)) {
				idx[k++] = j;
				taken[j] = 1;
			}
		}
		/* A unit that fails leaves its entries to the caller; the
		 * other tenants' units still run. */
		if (run_unit(r, c, es, idx, k, done, unit_err, sizeof(unit_err)) != AX_OK &&
		    rc == AX_OK) {
			rc = AX_EIO;
			snprintf(errbuf, errlen, "%s", unit_err);
		}
	}
out:
	free(idx);
	free(taken);
	return rc;
}

ax_err reason_handle(struct reason *r, redisContext *c, const struct ax_entry *e,
		     char *errbuf, size_t errlen)
{
	const struct ax_entry *es[1] = { e };
	unsigned char done[1];

	return reason_handle_batch(r, c, es, 1, done, errbuf, errlen);
}
