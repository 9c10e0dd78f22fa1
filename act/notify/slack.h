/* slack.h - the Slack channel: an incoming webhook or chat.postMessage.
 *
 * Which one is the channel's config:
 *   - no "channel": an incoming webhook.  The credential is the webhook
 *     URL (https://hooks.slack.com/services/...); the answer is the text
 *     "ok", or a 4xx with an error text ("invalid_payload", "no_service",
 *     "channel_is_archived"...) that no retry fixes.
 *   - "channel" (an id such as C0123456789, or #name): chat.postMessage.
 *     The credential is a bot token, sent as Authorization: Bearer; the
 *     request goes to <config.api_url or https://slack.com/api>/chat.postMessage.
 *     The answer is HTTP 200 with {"ok":true,...} or {"ok":false,"error":..}:
 *     "ratelimited" (also HTTP 429 with Retry-After) and Slack's own
 *     transient errors are retried, anything else ("channel_not_found",
 *     "invalid_auth", "not_in_channel"...) is not.
 * The message is Block Kit: a header (the headline), the incident's facts
 * as section fields, the summary, and buttons linking to the incident and,
 * for an approval request, to approve and reject.  config.template, when
 * set, replaces the header, facts and summary with one mrkdwn section of
 * the rendered text (the buttons stay). */
#ifndef ACT_NOTIFY_SLACK_H
#define ACT_NOTIFY_SLACK_H

#include <cjson/cJSON.h>

#include "notify.h"

#define ACT_SLACK_API "https://slack.com/api"

/* The request body for ev (with "channel" when config has one).
 * malloc'd JSON text. */
char *act_slack_payload(const struct act_event *ev, const cJSON *config);

/* Text escaped for Slack mrkdwn (&, <, > as entities).  malloc'd. */
char *act_slack_escape(const char *s);

/* Refine out (read by act_outcome_http) from the answer body of an
 * incoming webhook / of chat.postMessage. */
void act_slack_read_webhook(struct act_outcome *out, const char *body);
void act_slack_read_api(struct act_outcome *out, const char *body);

void act_slack_send(const struct act_send *s, struct act_outcome *out);

#endif /* ACT_NOTIFY_SLACK_H */
