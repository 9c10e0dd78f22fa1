/* slack.c - the Slack channel (see slack.h).
 *
 * Design: the Block Kit message is built with cJSON from the facts of
 * message.c, cut to Slack's documented limits (a header's plain text 150
 * characters, a section's text 3,000 and a field's 2,000, ten fields, a
 * button's URL 3,000) so an oversized incident title or summary never
 * turns the whole message into an invalid_blocks refusal.  Text from the
 * incident goes into mrkdwn with &, < and > escaped, so a title can never
 * forge a link or a mention.
 *
 * The top-level "text" is the notification's fallback (what a phone shows)
 * and is always set, as Slack asks whenever blocks are sent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slack.h"
#include "webhook.h"
#include "alexus/cred.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"

#define HEADER_CHARS 150
#define SECTION_CHARS 3000
#define FIELD_CHARS 2000
#define URL_BYTES 3000
#define FALLBACK_CHARS 4000

char *act_slack_escape(const char *s)
{
	size_t n = 0, k = 0;
	const char *p;
	char *o;

	for (p = s; *p != '\0'; p++)
		n += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4 : 1;
	o = ax_xmalloc(n + 1);
	for (p = s; *p != '\0'; p++) {
		const char *rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;"
						     : *p == '>' ? "&gt;" : NULL;

		if (rep != NULL) {
			memcpy(o + k, rep, strlen(rep));
			k += strlen(rep);
		} else {
			o[k++] = *p;
		}
	}
	o[k] = '\0';
	return o;
}

static cJSON *text_obj(const char *type, const char *text)
{
	cJSON *t = cJSON_CreateObject();

	if (t == NULL)
		abort();
	cJSON_AddStringToObject(t, "type", type);
	cJSON_AddStringToObject(t, "text", text);
	return t;
}

/* A section of mrkdwn text (already escaped; cut here). */
static void add_section(cJSON *blocks, const char *text)
{
	cJSON *b = cJSON_CreateObject();
	char *cut = act_utf8_cut(text, SECTION_CHARS, SECTION_CHARS * 4);

	if (b == NULL)
		abort();
	cJSON_AddStringToObject(b, "type", "section");
	cJSON_AddItemToObject(b, "text", text_obj("mrkdwn", cut));
	cJSON_AddItemToArray(blocks, b);
	free(cut);
}

static void add_field(cJSON *fields, const char *name, const char *value)
{
	char *esc, *line, *cut;

	if (value == NULL || cJSON_GetArraySize(fields) >= 10)
		return;
	esc = act_slack_escape(value);
	line = ax_xasprintf("*%s*\n%s", name, esc);
	cut = act_utf8_cut(line, FIELD_CHARS, FIELD_CHARS * 4);
	cJSON_AddItemToArray(fields, text_obj("mrkdwn", cut));
	free(esc);
	free(line);
	free(cut);
}

static void add_button(cJSON *elements, const char *label, const char *url, const char *style)
{
	cJSON *b;

	if (url == NULL || strlen(url) > URL_BYTES)
		return;
	b = cJSON_CreateObject();
	if (b == NULL)
		abort();
	cJSON_AddStringToObject(b, "type", "button");
	cJSON_AddItemToObject(b, "text", text_obj("plain_text", label));
	cJSON_AddStringToObject(b, "url", url);
	if (style != NULL)
		cJSON_AddStringToObject(b, "style", style);
	cJSON_AddItemToArray(elements, b);
}

/* The header, the facts and the summary. */
static void add_builtin(cJSON *blocks, const struct act_event *ev, const char *headline)
{
	const cJSON *ap = act_event_obj(ev, "approval"), *res = act_event_obj(ev, "result");
	const char *summary = act_event_summary(ev);
	cJSON *hdr = cJSON_CreateObject(), *sec = cJSON_CreateObject(), *fields;
	char *cut = act_utf8_cut(headline, HEADER_CHARS, HEADER_CHARS * 4);

	if (hdr == NULL || sec == NULL || (fields = cJSON_CreateArray()) == NULL)
		abort();
	cJSON_AddStringToObject(hdr, "type", "header");
	cJSON_AddItemToObject(hdr, "text", text_obj("plain_text", cut));
	cJSON_AddItemToArray(blocks, hdr);
	free(cut);

	add_field(fields, "Severity", act_incident_str(ev, "severity"));
	add_field(fields, "Service", act_incident_str(ev, "service"));
	add_field(fields, "Status", act_incident_str(ev, "status"));
	add_field(fields, "Category", act_incident_str(ev, "category"));
	if (ap != NULL) {
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(ap, "params");

		add_field(fields, "Action", ax_json_str(ap, "action"));
		if (params != NULL && !cJSON_IsNull(params)) {
			char *p = ax_json_print(params);

			add_field(fields, "Parameters", p);
			free(p);
		}
		add_field(fields, "Expires", ax_json_str(ap, "expires_at"));
	}
	if (res != NULL) {
		add_field(fields, "Action", ax_json_str(res, "action"));
		add_field(fields, "Result", ax_json_str(res, "status"));
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "dry_run")))
			add_field(fields, "Dry run", "yes");
	}
	if (cJSON_GetArraySize(fields) > 0) {
		cJSON_AddStringToObject(sec, "type", "section");
		cJSON_AddItemToObject(sec, "fields", fields);
		cJSON_AddItemToArray(blocks, sec);
	} else {
		cJSON_Delete(fields);
		cJSON_Delete(sec);
	}
	if (summary != NULL) {
		char *esc = act_slack_escape(summary);

		add_section(blocks, esc);
		free(esc);
	}
}

char *act_slack_payload(const struct act_event *ev, const cJSON *config)
{
	const cJSON *ap = act_event_obj(ev, "approval");
	const char *channel = act_config_str(config, "channel");
	cJSON *o = cJSON_CreateObject(), *blocks, *actions, *elements, *ctx, *ctxel;
	char *headline = act_headline(ev), *url = act_incident_url(ev);
	char *custom = act_render_escaped(config, ev, act_slack_escape), *fallback, *s, *note, *esc;

	if (o == NULL || (blocks = cJSON_CreateArray()) == NULL ||
	    (elements = cJSON_CreateArray()) == NULL || (ctxel = cJSON_CreateArray()) == NULL)
		abort();
	if (channel != NULL)
		cJSON_AddStringToObject(o, "channel", channel);
	/* The fallback is mrkdwn too: escaped like the rest (the template's
	 * output already is). */
	esc = custom != NULL ? ax_xstrdup(custom) : act_slack_escape(headline);
	fallback = act_utf8_cut(esc, FALLBACK_CHARS, FALLBACK_CHARS * 4);
	free(esc);
	cJSON_AddStringToObject(o, "text", fallback);
	free(fallback);

	if (custom != NULL)
		add_section(blocks, custom);
	else
		add_builtin(blocks, ev, headline);

	add_button(elements, "Open incident", url, NULL);
	if (ap != NULL) {
		add_button(elements, "Approve", ax_json_str(ap, "approve_url"), "primary");
		add_button(elements, "Reject", ax_json_str(ap, "reject_url"), "danger");
	}
	if (cJSON_GetArraySize(elements) > 0) {
		actions = cJSON_CreateObject();
		if (actions == NULL)
			abort();
		cJSON_AddStringToObject(actions, "type", "actions");
		cJSON_AddItemToObject(actions, "elements", elements);
		cJSON_AddItemToArray(blocks, actions);
	} else {
		cJSON_Delete(elements);
	}

	note = ax_xasprintf("Alexus - tenant %s - action %s", ev->tenant ? ev->tenant : "?",
			    ev->action_id ? ev->action_id : "?");
	ctx = cJSON_CreateObject();
	if (ctx == NULL)
		abort();
	cJSON_AddStringToObject(ctx, "type", "context");
	cJSON_AddItemToArray(ctxel, text_obj("mrkdwn", note));
	cJSON_AddItemToObject(ctx, "elements", ctxel);
	cJSON_AddItemToArray(blocks, ctx);
	free(note);

	cJSON_AddItemToObject(o, "blocks", blocks);
	if (channel != NULL)
		cJSON_AddFalseToObject(o, "unfurl_links");
	s = ax_json_print(o);
	cJSON_Delete(o);
	free(headline);
	free(url);
	free(custom);
	return s;
}

void act_slack_read_webhook(struct act_outcome *out, const char *body)
{
	char ex[96];

	if (out->ok || out->http_status == 0)
		return;
	/* Slack names the problem in the body: "invalid_payload", "no_service"... */
	act_body_excerpt(body, ex, sizeof(ex));
	if (ex[0] != '\0')
		snprintf(out->error, sizeof(out->error), "HTTP %ld: %s", out->http_status, ex);
}

/* Errors of the Web API that say "try again later". */
static int api_transient(const char *err)
{
	static const char *const t[] = { "ratelimited", "rate_limited", "internal_error",
					 "fatal_error", "service_unavailable", "request_timeout" };
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(err, t[i]) == 0)
			return 1;
	return 0;
}

void act_slack_read_api(struct act_outcome *out, const char *body)
{
	cJSON *j;
	const char *err;
	char ex[96];

	if (out->http_status == 0)
		return;
	j = body != NULL ? ax_json_parse(body, strlen(body), 16) : NULL;
	if (!cJSON_IsObject(j) || !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(j, "ok"))) {
		if (out->ok) {
			/* A 2xx that is not the Web API's answer: a proxy, say. */
			out->ok = 0;
			out->retryable = 1;
			snprintf(out->error, sizeof(out->error), "HTTP %ld: not a Slack API answer",
				 out->http_status);
		}
		cJSON_Delete(j);
		return;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok")) && out->ok) {
		cJSON_Delete(j);
		return;
	}
	err = ax_json_str(j, "error");
	act_body_excerpt(err != NULL ? err : "unknown error", ex, sizeof(ex));
	out->ok = 0;
	out->retryable = out->http_status == 429 || out->http_status >= 500 ||
			 (err != NULL && api_transient(err));
	snprintf(out->error, sizeof(out->error), "slack: %s", ex);
	cJSON_Delete(j);
}

void act_slack_send(const struct act_send *s, struct act_outcome *out)
{
	const char *channel = act_config_str(s->config, "channel");
	const char *base = act_config_str(s->config, "api_url");
	char auth[ACT_AUTH_HEADER_MAX] = "", err[200] = "";
	const char *h_hook[] = { "Content-Type: application/json", NULL };
	const char *h_api[] = { "Content-Type: application/json; charset=utf-8", auth, NULL };
	struct ax_httpc_resp resp;
	char *body, *url;
	ax_err rc;

	if (s->credential == NULL || s->credential[0] == '\0') {
		act_outcome_fail(out, "slack channel has no credential (%s)",
				 channel != NULL ? "bot token" : "webhook URL");
		return;
	}
	body = act_slack_payload(s->ev, s->config);
	if (channel == NULL) {
		rc = ax_httpc_post(s->credential, h_hook, body, strlen(body), s->timeout_ms, &resp,
				   err, sizeof(err));
		act_outcome_http(out, s->credential, rc, &resp, err);
		act_slack_read_webhook(out, resp.body);
	} else {
		size_t n = base != NULL ? strlen(base) : 0;

		while (n > 0 && base[n - 1] == '/')
			n--;
		url = base != NULL ? ax_xasprintf("%.*s/chat.postMessage", (int)n, base)
				   : ax_xstrdup(ACT_SLACK_API "/chat.postMessage");
		act_auth_header(auth, sizeof(auth), "Bearer", s->credential);
		rc = ax_httpc_post(url, h_api, body, strlen(body), s->timeout_ms, &resp, err,
				   sizeof(err));
		act_outcome_http(out, url, rc, &resp, err);
		act_slack_read_api(out, resp.body);
		free(url);
	}
	ax_cred_wipe(auth, sizeof(auth));
	free(body);
	ax_httpc_resp_release(&resp);
}
