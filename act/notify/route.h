/* route.h - which targets a notify action goes to.
 *
 * Targets, in this order: "webhook" when the tenant has a
 * settings.notify_webhook_url (every event, as before channels existed);
 * "channel:<uuid>" for each notification channel (proto/sql/0003) the
 * rules below pick; "ticket:<system>" for each ticket system the tickets
 * code says the event goes to (act/ticket.h).
 *
 * Channel rules, for an event on an incident of severity S and service V:
 *   1. the channel is enabled, and its kind takes the event
 *      (act_kind_wants: PagerDuty only trigger, acknowledge, resolve);
 *   2. S is at least the channel's min_severity (info < warning < high <
 *      critical); an event that carries no severity passes every filter
 *      (an approval request must reach someone);
 *   3. a channel with a service receives only that service's incidents;
 *      and when any enabled channel of kind K has service V, it replaces
 *      the tenant-wide channels (service NULL) of kind K for this incident
 *      -- whatever its own min_severity, since the service's owners chose
 *      it -- while the other kinds keep their tenant-wide channels. */
#ifndef ACT_NOTIFY_ROUTE_H
#define ACT_NOTIFY_ROUTE_H

#include <stddef.h>

#include "../act.h"
#include "../target.h"

#define ACT_TARGET_MAX 64      /* targets of one notify action */
#define ACT_TARGET_NAME 64     /* "channel:<uuid>" and the rest fit */
#define ACT_CHANNELS_MAX 256   /* channels of one tenant routing looks at */

/* One enabled channel as routing sees it. */
struct act_channel {
	char id[AX_UUID_LEN];
	char kind[16];
	char min_severity[16];
	const char *service;     /* NULL: tenant-wide */
};

/* The rules above over ch[0..n): the indexes of the channels picked, in
 * ch's order, into picked (room for n); returns how many. */
int act_route_channels(const struct act_channel *ch, int n, const char *event,
		       const char *severity, const char *service, int *picked);

/* Inside the caller's transaction scoped to ev->tenant: every target of
 * ev into out (at most max; more is logged and cut); their count, or -1
 * with errbuf on a database error. */
int act_route(struct act *a, const struct act_event *ev, char out[][ACT_TARGET_NAME], int max,
	      char *errbuf, size_t errlen);

#endif /* ACT_NOTIFY_ROUTE_H */
