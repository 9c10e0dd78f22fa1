/* route.c - which targets a notify action goes to (see route.h).
 *
 * Design: the rules are a pure function over the tenant's enabled
 * channels (act_route_channels), so every combination is a unit test; the
 * database part only reads the rows, in the claim transaction, so the set
 * of targets is decided once, together with the rows that make it
 * durable.  A tenant's channel list is small (configured by hand); it is
 * still read with a LIMIT, like every list a daemon holds in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "notify.h"
#include "../ticket.h"
#include "alexus/log.h"
#include "alexus/mem.h"

static const char Q_WEBHOOK_URL[] =
	"SELECT settings->>'notify_webhook_url' FROM tenants WHERE id = $1";
static const char Q_CHANNELS[] =
	"SELECT id, kind, min_severity, service FROM notification_channels WHERE enabled "
	"ORDER BY kind, name LIMIT 256";

int act_route_channels(const struct act_channel *ch, int n, const char *event,
		       const char *severity, const char *service, int *picked)
{
	int sev = act_severity_rank(severity), i, j, k = 0;

	for (i = 0; i < n; i++) {
		const struct act_channel *c = &ch[i];
		int overridden = 0;

		if (!act_kind_wants(c->kind, event))
			continue;
		if (c->service != NULL) {
			/* A service's own channel: that service's incidents only. */
			if (service == NULL || strcmp(c->service, service) != 0)
				continue;
		} else if (service != NULL) {
			/* Tenant-wide: unless the service has a channel of this kind. */
			for (j = 0; j < n && !overridden; j++)
				overridden = ch[j].service != NULL &&
					     strcmp(ch[j].service, service) == 0 &&
					     strcmp(ch[j].kind, c->kind) == 0 &&
					     act_kind_wants(ch[j].kind, event);
			if (overridden)
				continue;
		}
		if (sev >= 0 && sev < act_severity_rank(c->min_severity))
			continue;
		picked[k++] = i;
	}
	return k;
}

/* Append name to out unless full (then say so once). */
static void add(char out[][ACT_TARGET_NAME], int max, int *k, const char *prefix,
		const char *name, const struct act_event *ev, int *warned)
{
	if (*k >= max) {
		if (!*warned)
			ax_log(AX_LOG_WARN, ev->trace, ev->tenant,
			       "action %s: more than %d notification targets; the rest are "
			       "left out", ev->action_id, max);
		*warned = 1;
		return;
	}
	snprintf(out[*k], ACT_TARGET_NAME, "%s%s", prefix, name);
	(*k)++;
}

int act_route(struct act *a, const struct act_event *ev, char out[][ACT_TARGET_NAME], int max,
	      char *errbuf, size_t errlen)
{
	const char *pt[1] = { ev->tenant };
	struct act_channel *ch = NULL;
	char tickets[8][16];
	int *picked = NULL, n, i, k = 0, warned = 0, nt;
	PGresult *res;

	res = ax_pg_exec(a->pg, errbuf, errlen, Q_WEBHOOK_URL, 1, pt);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && PQgetvalue(res, 0, 0)[0] != '\0')
		add(out, max, &k, "", "webhook", ev, &warned);
	PQclear(res);

	res = ax_pg_exec(a->pg, errbuf, errlen, Q_CHANNELS, 0, NULL);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	if (n > 0) {
		ch = ax_xcalloc((size_t)n, sizeof(*ch));
		picked = ax_xcalloc((size_t)n, sizeof(*picked));
	}
	for (i = 0; i < n; i++) {
		snprintf(ch[i].id, sizeof(ch[i].id), "%s", PQgetvalue(res, i, 0));
		snprintf(ch[i].kind, sizeof(ch[i].kind), "%s", PQgetvalue(res, i, 1));
		snprintf(ch[i].min_severity, sizeof(ch[i].min_severity), "%s",
			 PQgetvalue(res, i, 2));
		/* Borrowed from res, which lives until the end. */
		ch[i].service = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3);
	}
	n = act_route_channels(ch, n, ev->event, act_incident_str(ev, "severity"),
			       act_incident_str(ev, "service"), picked);
	for (i = 0; i < n; i++)
		add(out, max, &k, "channel:", ch[picked[i]].id, ev, &warned);
	free(ch);
	free(picked);
	PQclear(res);

	nt = act_ticket_targets(a, ev, tickets, 8, errbuf, errlen);
	if (nt < 0)
		return -1;
	for (i = 0; i < nt; i++) {
		tickets[i][sizeof(tickets[i]) - 1] = '\0';
		add(out, max, &k, "ticket:", tickets[i], ev, &warned);
	}
	return k;
}
