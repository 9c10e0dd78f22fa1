/* teams.h - the Microsoft Teams channel: an incoming webhook (a Teams
 * connector or a Workflows webhook; the credential is its URL) posted an
 * Adaptive Card, wrapped as Teams documents it for incoming webhooks:
 *
 *   {"type":"message","attachments":[{"contentType":
 *     "application/vnd.microsoft.card.adaptive","contentUrl":null,
 *     "content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json",
 *                "type":"AdaptiveCard","version":"1.4","body":[...],"actions":[...]}}]}
 *
 * The card: the headline (TextBlock, large, bold, wrapping), the facts
 * (FactSet), the summary, and Action.OpenUrl buttons to the incident and,
 * for an approval request, to approve and reject.  config.template, when
 * set, replaces the headline, facts and summary with one TextBlock of the
 * rendered text.
 *
 * Answers: a 2xx is delivered (a connector answers 200 "1", a Workflows
 * webhook 202) -- except that an Office 365 connector reports the failure
 * of its own delivery to Teams inside a 200, as the text "Webhook message
 * delivery failed with error: Microsoft Teams endpoint returned HTTP error
 * 429 with ContextId ..."; that status is read from the text and treated
 * as if it had been the answer's.  A 429 or a 5xx is retried, any other
 * 4xx (400 bad card, 404/410 a removed webhook, 413 too large) is not. */
#ifndef ACT_NOTIFY_TEAMS_H
#define ACT_NOTIFY_TEAMS_H

#include <cjson/cJSON.h>

#include "notify.h"

/* The request body for ev.  malloc'd JSON text. */
char *act_teams_payload(const struct act_event *ev, const cJSON *config);

/* Refine out (read by act_outcome_http) from the answer body. */
void act_teams_read(struct act_outcome *out, const char *body);

void act_teams_send(const struct act_send *s, struct act_outcome *out);

#endif /* ACT_NOTIFY_TEAMS_H */
