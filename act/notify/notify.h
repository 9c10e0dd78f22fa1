/* notify.h - what every notification sender shares: the incident event
 * read from a notify action's payload, the texts and links made from it,
 * a channel's template, the reading of an HTTP answer into an outcome,
 * and the dispatch from a channel kind to its sender.
 *
 * A sender (act/notify/<kind>.c) makes exactly one attempt at one target
 * and fills a struct act_outcome (target.h); retrying is the durable
 * schedule's business (delivery.c).  Nothing here logs, and no outcome's
 * error ever holds a credential or a URL path. */
#ifndef ACT_NOTIFY_NOTIFY_H
#define ACT_NOTIFY_NOTIFY_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "../target.h"
#include "alexus/err.h"
#include "alexus/httpc.h"

/* Fill ev from a notify action's payload.  Every pointer is borrowed
 * (from the arguments and from inside payload), so ev lives no longer
 * than they do.  0, or -1 when payload has no "event" string. */
int act_event_init(struct act_event *ev, const char *tenant, const char *action_id,
		   const char *trace, const cJSON *payload, const char *public_url);

/* A string field of the incident snapshot (NULL when absent or empty). */
const char *act_incident_str(const struct act_event *ev, const char *key);
/* The payload's "approval" / "result" / "analysis" object, or NULL. */
const cJSON *act_event_obj(const struct act_event *ev, const char *key);

/* "Incident opened", "Approval requested"...; the event name itself for
 * an event this version does not know. */
const char *act_event_label(const char *event);

/* Severity order: info 0, warning 1, high 2, critical 3; -1 for anything
 * else (NULL included). */
int act_severity_rank(const char *severity);

/* "[CRITICAL] Incident opened: <title>" (the title falls back to the
 * approval's or result's action, then to nothing); control characters
 * dropped, so it is fit for a subject line.  malloc'd. */
char *act_headline(const struct act_event *ev);

/* The incident's page, "<public_url>/v1/incidents/<id>", or NULL without
 * an incident id or a public URL.  malloc'd. */
char *act_incident_url(const struct act_event *ev);

/* The one-paragraph summary shown under the headline: the analysis's
 * summary, else the result's, else NULL.  Borrowed from the payload. */
const char *act_event_summary(const struct act_event *ev);

/* The message as plain text, one "Name: value" line per fact, then the
 * summary and the links (incident; approve and reject for an approval
 * request).  Lines end with "\n".  malloc'd. */
char *act_plain_text(const struct act_event *ev);

/* The document a channel template is rendered over:
 * {"event": name, "label": ..., "headline": ..., "tenant", "action_id",
 *  "trace", "incident": {...}, "approval": {...}, "result": {...},
 *  "analysis": {...}, "links": {"incident", "approve", "reject"}}
 * (absent parts are null).  cJSON_Delete it. */
cJSON *act_template_doc(const struct act_event *ev);

/* config.template rendered over act_template_doc(ev) (json_escape as for
 * ax_template_render), or NULL when config has no non-empty "template"
 * string.  malloc'd. */
char *act_render(const cJSON *config, const struct act_event *ev, int json_escape);

/* act_render, with every string value of the document passed through
 * escape (a malloc'ing function, e.g. act_slack_escape) first: the
 * template's own text is the tenant's markup, what the incident brings
 * into it is not. */
char *act_render_escaped(const cJSON *config, const struct act_event *ev,
			 char *(*escape)(const char *));

/* A string of config, or NULL when absent, empty or not a string. */
const char *act_config_str(const cJSON *config, const char *key);

/* The byte length of the longest prefix of s that is at most max_chars
 * UTF-8 characters and at most max_bytes bytes, never splitting a
 * character (a stray byte counts as one character). */
size_t act_utf8_prefix(const char *s, size_t max_chars, size_t max_bytes);

/* A copy of s cut by act_utf8_prefix, with "..." appended when cut (the
 * result then still fits max_chars and max_bytes).  malloc'd. */
char *act_utf8_cut(const char *s, size_t max_chars, size_t max_bytes);

/* The first line of an answer body, printable ASCII only, at most n - 1
 * bytes, into buf (for an error message: "invalid_payload"). */
char *act_body_excerpt(const char *body, char *buf, size_t n);

/* Room for "Authorization: Bearer <credential>". */
#define ACT_AUTH_HEADER_MAX (4096 + 64)

/* "Authorization: <scheme> <secret>" into buf, control characters of
 * secret dropped (a stored value can never split the header block).
 * The caller wipes buf (ax_cred_wipe) when the request is done. */
char *act_auth_header(char *buf, size_t n, const char *scheme, const char *secret);

/* The parameters of one attempt at one target. */
struct act_send {
	const struct act_event *ev;
	const cJSON *config;      /* the channel's config object; never NULL */
	const char *credential;   /* the channel's opened credential, NUL-terminated, or NULL */
	const char *channel_id;   /* the channel's uuid; "" for the legacy webhook */
	int timeout_ms;           /* per request (ALEXUS_NOTIFY_TIMEOUT_MS) */
};

/* Read one HTTP exchange into out (zeroed first): host from url; rc and
 * errbuf from ax_httpc_*; resp's status and Retry-After.  ok for a 2xx;
 * retryable for a transport failure, a timeout, a 429 or a 5xx; error
 * "HTTP <status>" or the transport's message.  Senders refine it from
 * the body afterwards. */
void act_outcome_http(struct act_outcome *out, const char *url, ax_err rc,
		      const struct ax_httpc_resp *resp, const char *errbuf);

/* A failure that no request was made for (bad configuration, missing
 * credential): not ok, not retryable, error from fmt. */
void act_outcome_fail(struct act_outcome *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One attempt at a channel of kind (slack, teams, pagerduty, email,
 * telegram, webhook).  An unknown kind is a permanent failure. */
void act_send(const char *kind, const struct act_send *s, struct act_outcome *out);

/* 1 when a channel of kind has anything to say about event (PagerDuty
 * only knows trigger, acknowledge and resolve; every other kind takes
 * every event). */
int act_kind_wants(const char *kind, const char *event);

#endif /* ACT_NOTIFY_NOTIFY_H */
