/* target.h - where act sends an incident event: a notification channel
 * (Slack, Teams, PagerDuty, email, Telegram, a webhook) or a ticket system
 * (Jira, ServiceNow).
 *
 * A notify action (an entry of alexus:actions, kind notify) fans out to
 * the tenant's targets; each target is delivered, retried and recorded on
 * its own (act/notify.c), so a Slack outage delays Slack and nothing else.
 * Every sender takes the event and fills an outcome; it never logs a
 * secret, a URL path or a credential, and never retries by itself beyond
 * what its opts allow: the durable retry schedule is the caller's. */
#ifndef ACT_TARGET_H
#define ACT_TARGET_H

#include <cjson/cJSON.h>

/* One incident event, as the notify action carries it. */
struct act_event {
	const char *tenant;
	const char *action_id;  /* the notify action: the idempotency key of every target */
	const char *event;      /* incident.opened, incident.resolved, approval.requested, ... */
	const char *trace;
	const cJSON *incident;  /* the incident snapshot of the payload (may be NULL) */
	const cJSON *payload;   /* the whole action payload */
	const char *public_url; /* ALEXUS_PUBLIC_URL, for links (incident page, approvals) */
};

/* What one attempt at one target did. */
struct act_outcome {
	int ok;                 /* delivered / applied */
	int retryable;          /* a failure worth another attempt later (5xx, 429, timeout) */
	long http_status;       /* 0 when no response (or not HTTP: SMTP reply code for email) */
	long retry_after_s;     /* the receiver asked to wait this long, 0 if it did not say */
	char error[256];        /* "" when ok; never a secret, never a URL path */
	char host[256];         /* the receiver's host, for the audit row */
};

#endif /* ACT_TARGET_H */
