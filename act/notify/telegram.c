/* telegram.c - the Telegram channel (see telegram.h).
 *
 * Design: the text is message.c's plain text (or the channel's template),
 * cut to Telegram's 4,096 characters; links become inline keyboard URL
 * buttons so the text stays readable.  The request URL carries the bot
 * token, so it is built in a buffer that is wiped after the request, and
 * the outcome's host is taken from it the usual way (host only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telegram.h"
#include "alexus/cred.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"

static cJSON *button_row(void)
{
	cJSON *r = cJSON_CreateArray();

	if (r == NULL)
		abort();
	return r;
}

static void add_button(cJSON *row, const char *text, const char *url)
{
	cJSON *b;

	if (url == NULL)
		return;
	b = cJSON_CreateObject();
	if (b == NULL)
		abort();
	cJSON_AddStringToObject(b, "text", text);
	cJSON_AddStringToObject(b, "url", url);
	cJSON_AddItemToArray(row, b);
}

char *act_telegram_payload(const struct act_event *ev, const cJSON *config)
{
	const cJSON *chat = cJSON_GetObjectItemCaseSensitive(config, "chat_id");
	const cJSON *ap = act_event_obj(ev, "approval");
	cJSON *o, *kb, *rows, *r1, *r2, *lp;
	char *text, *cut, *url, *s;

	if (!(cJSON_IsString(chat) && chat->valuestring[0] != '\0') && !cJSON_IsNumber(chat))
		return NULL;
	o = cJSON_CreateObject();
	if (o == NULL)
		abort();
	if (cJSON_IsString(chat))
		cJSON_AddStringToObject(o, "chat_id", chat->valuestring);
	else
		cJSON_AddItemToObject(o, "chat_id", cJSON_Duplicate(chat, 0));
	text = act_render(config, ev, 0);
	if (text == NULL)
		text = act_plain_text(ev);
	cut = act_utf8_cut(text, ACT_TELEGRAM_TEXT_MAX, ACT_TELEGRAM_TEXT_MAX * 4);
	cJSON_AddStringToObject(o, "text", cut);
	free(text);
	free(cut);
	if ((lp = cJSON_CreateObject()) == NULL)
		abort();
	cJSON_AddTrueToObject(lp, "is_disabled");
	cJSON_AddItemToObject(o, "link_preview_options", lp);

	url = act_incident_url(ev);
	r1 = button_row();
	r2 = button_row();
	add_button(r1, "Open incident", url);
	if (ap != NULL) {
		add_button(r2, "Approve", ax_json_str(ap, "approve_url"));
		add_button(r2, "Reject", ax_json_str(ap, "reject_url"));
	}
	if (cJSON_GetArraySize(r1) + cJSON_GetArraySize(r2) > 0) {
		if ((kb = cJSON_CreateObject()) == NULL || (rows = cJSON_CreateArray()) == NULL)
			abort();
		if (cJSON_GetArraySize(r1) > 0)
			cJSON_AddItemToArray(rows, r1);
		else
			cJSON_Delete(r1);
		if (cJSON_GetArraySize(r2) > 0)
			cJSON_AddItemToArray(rows, r2);
		else
			cJSON_Delete(r2);
		cJSON_AddItemToObject(kb, "inline_keyboard", rows);
		cJSON_AddItemToObject(o, "reply_markup", kb);
	} else {
		cJSON_Delete(r1);
		cJSON_Delete(r2);
	}
	free(url);
	s = ax_json_print(o);
	cJSON_Delete(o);
	return s;
}

void act_telegram_read(struct act_outcome *out, const char *body)
{
	cJSON *j;
	const cJSON *ok, *code, *params, *ra;
	const char *desc;
	char ex[128];

	if (out->http_status == 0)
		return;
	j = body != NULL ? ax_json_parse(body, strlen(body), 16) : NULL;
	ok = cJSON_GetObjectItemCaseSensitive(j, "ok");
	if (!cJSON_IsBool(ok)) {
		if (out->ok) {
			out->ok = 0;
			out->retryable = 1;
			snprintf(out->error, sizeof(out->error), "HTTP %ld: not a Bot API answer",
				 out->http_status);
		}
		cJSON_Delete(j);
		return;
	}
	if (cJSON_IsTrue(ok) && out->ok) {
		cJSON_Delete(j);
		return;
	}
	code = cJSON_GetObjectItemCaseSensitive(j, "error_code");
	desc = ax_json_str(j, "description");
	params = cJSON_GetObjectItemCaseSensitive(j, "parameters");
	ra = cJSON_GetObjectItemCaseSensitive(params, "retry_after");
	out->ok = 0;
	if (cJSON_IsNumber(code) && code->valuedouble >= 100 && code->valuedouble < 600 &&
	    out->http_status < 300)
		out->http_status = (long)code->valuedouble;
	if (cJSON_IsNumber(ra) && ra->valuedouble > 0)
		out->retry_after_s = ra->valuedouble > 86400 ? 86400 : (long)ra->valuedouble;
	out->retryable = out->http_status == 429 || out->http_status >= 500 ||
			 (cJSON_IsNumber(code) && (code->valueint == 429 || code->valueint >= 500));
	snprintf(out->error, sizeof(out->error), "HTTP %ld: %s", out->http_status,
		 act_body_excerpt(desc != NULL ? desc : "error", ex, sizeof(ex)));
	cJSON_Delete(j);
}

void act_telegram_send(const struct act_send *s, struct act_outcome *out)
{
	const char *base = act_config_str(s->config, "api_url");
	const char *headers[] = { "Content-Type: application/json", NULL };
	struct ax_httpc_resp resp;
	char err[200] = "", *body, *url;
	size_t n, k, i;
	ax_err rc;

	if (s->credential == NULL || s->credential[0] == '\0') {
		act_outcome_fail(out, "telegram channel has no bot token credential");
		return;
	}
	/* A token is "<digits>:<letters, digits, - and _>"; anything else
	 * would change the URL's meaning. */
	for (i = 0; s->credential[i] != '\0'; i++) {
		char c = s->credential[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == ':' || c == '-' || c == '_')) {
			act_outcome_fail(out, "telegram bot token has characters a token "
					      "cannot have");
			return;
		}
	}
	body = act_telegram_payload(s->ev, s->config);
	if (body == NULL) {
		act_outcome_fail(out, "telegram channel has no config.chat_id");
		return;
	}
	if (base == NULL)
		base = ACT_TELEGRAM_API;
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	url = ax_xasprintf("%.*s/bot%s/sendMessage", (int)n, base, s->credential);
	rc = ax_httpc_post(url, headers, body, strlen(body), s->timeout_ms, &resp, err,
			   sizeof(err));
	act_outcome_http(out, url, rc, &resp, err);
	act_telegram_read(out, resp.body);
	k = strlen(url);
	ax_cred_wipe(url, k);
	free(url);
	free(body);
	ax_httpc_resp_release(&resp);
}
