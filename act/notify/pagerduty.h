/* pagerduty.h - the PagerDuty channel: Events API v2.
 *
 * POST https://events.pagerduty.com/v2/enqueue (config.api_url replaces
 * the whole endpoint URL, e.g. the EU one) with Content-Type
 * application/json and the credential, the integration's routing key, in
 * the body.  One incident is one PagerDuty alert: dedup_key is the
 * incident id, so a repeated trigger joins the open alert, and the
 * acknowledge and resolve of the incident find it.
 *
 * Events:  incident.opened, incident.escalated -> trigger (with payload:
 * summary = the headline or the channel's template rendered, at most
 * 1,024 characters; source = the service,
 * else "alexus"; severity critical/error/warning/info from the incident's
 * critical/high/warning/info; timestamp = opened_at; component = service;
 * group = the tenant; class = category; custom_details; links to the
 * incident); incident.acknowledged -> acknowledge; incident.resolved ->
 * resolve (those two carry only routing_key, dedup_key and event_action,
 * as the API documents).  Other events are not sent to PagerDuty: routing
 * does not even make a target of them (act_kind_wants).
 *
 * Answers (Events API v2 overview): 202 {"status":"success",...} is
 * accepted; 400 (invalid event) is not retried; 429 and 5xx are, after
 * Retry-After when the answer has one. */
#ifndef ACT_NOTIFY_PAGERDUTY_H
#define ACT_NOTIFY_PAGERDUTY_H

#include <cjson/cJSON.h>

#include "notify.h"

#define ACT_PAGERDUTY_API "https://events.pagerduty.com/v2/enqueue"

/* "trigger", "acknowledge", "resolve" for an event PagerDuty takes, else
 * NULL. */
const char *act_pagerduty_action(const char *event);

/* critical, error, warning or info for an Alexus severity (unknown: error). */
const char *act_pagerduty_severity(const char *severity);

/* The request body (routing_key included), or NULL when ev has no
 * PagerDuty action or no incident id.  A trigger's summary is config's
 * template rendered, when it has one, else the headline.  malloc'd JSON
 * text. */
char *act_pagerduty_payload(const struct act_event *ev, const cJSON *config,
			    const char *routing_key);

/* Refine out (read by act_outcome_http) from the answer body. */
void act_pagerduty_read(struct act_outcome *out, const char *body);

void act_pagerduty_send(const struct act_send *s, struct act_outcome *out);

#endif /* ACT_NOTIFY_PAGERDUTY_H */
