/* telegram.h - the Telegram channel: the Bot API's sendMessage.
 *
 * POST <config.api_url or https://api.telegram.org>/bot<token>/sendMessage
 * with a JSON body {"chat_id": config.chat_id, "text": ...,
 * "link_preview_options": {"is_disabled": true}, "reply_markup":
 * {"inline_keyboard": [[Open incident], [Approve, Reject]]}}: plain text
 * (no parse_mode, so nothing in an incident title can break the markup),
 * at most 4,096 characters, and URL buttons.  The credential is the bot
 * token; it is part of the URL path, which no outcome, log line or audit
 * row ever shows.
 *
 * Answers: {"ok":true,"result":{...}} is delivered.  {"ok":false,
 * "error_code":N,"description":"..."} is not; a 429 ("Too Many Requests:
 * retry after 34", with parameters.retry_after) and a 5xx are retried,
 * after retry_after seconds when given; a 400 ("chat not found"), 401
 * (bad token) or 403 (the bot was blocked) is not. */
#ifndef ACT_NOTIFY_TELEGRAM_H
#define ACT_NOTIFY_TELEGRAM_H

#include <cjson/cJSON.h>

#include "notify.h"

#define ACT_TELEGRAM_API "https://api.telegram.org"
#define ACT_TELEGRAM_TEXT_MAX 4096

/* The request body, or NULL when config has no chat_id (a string or an
 * integer).  malloc'd JSON text. */
char *act_telegram_payload(const struct act_event *ev, const cJSON *config);

/* Refine out (read by act_outcome_http) from the answer body. */
void act_telegram_read(struct act_outcome *out, const char *body);

void act_telegram_send(const struct act_send *s, struct act_outcome *out);

#endif /* ACT_NOTIFY_TELEGRAM_H */
