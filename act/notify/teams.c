/* teams.c - the Microsoft Teams channel (see teams.h).
 *
 * Design: the Adaptive Card is built with cJSON (schema version 1.4, what
 * Teams renders today); texts are cut well below Teams' ~28 KB message
 * limit, so one long summary cannot make the whole card a 413.  The
 * connector's "failed inside a 200" text is matched on its documented
 * wording, and only its status number is taken from it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "teams.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"

#define TEXT_CHARS 4000

static cJSON *obj(void)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		abort();
	return o;
}

static cJSON *text_block(const char *text, int big)
{
	cJSON *t = obj();
	char *cut = act_utf8_cut(text, TEXT_CHARS, TEXT_CHARS * 4);

	cJSON_AddStringToObject(t, "type", "TextBlock");
	cJSON_AddStringToObject(t, "text", cut);
	cJSON_AddTrueToObject(t, "wrap");
	if (big) {
		cJSON_AddStringToObject(t, "size", "Large");
		cJSON_AddStringToObject(t, "weight", "Bolder");
	}
	free(cut);
	return t;
}

static void add_fact(cJSON *facts, const char *title, const char *value)
{
	cJSON *f;
	char *cut;

	if (value == NULL)
		return;
	f = obj();
	cut = act_utf8_cut(value, 500, 2000);
	cJSON_AddStringToObject(f, "title", title);
	cJSON_AddStringToObject(f, "value", cut);
	cJSON_AddItemToArray(facts, f);
	free(cut);
}

static void add_open_url(cJSON *actions, const char *title, const char *url)
{
	cJSON *a;

	if (url == NULL)
		return;
	a = obj();
	cJSON_AddStringToObject(a, "type", "Action.OpenUrl");
	cJSON_AddStringToObject(a, "title", title);
	cJSON_AddStringToObject(a, "url", url);
	cJSON_AddItemToArray(actions, a);
}

static void add_builtin(cJSON *body, const struct act_event *ev)
{
	const cJSON *ap = act_event_obj(ev, "approval"), *res = act_event_obj(ev, "result");
	const char *summary = act_event_summary(ev);
	char *headline = act_headline(ev);
	cJSON *fs = obj(), *facts = cJSON_CreateArray();

	if (facts == NULL)
		abort();
	cJSON_AddItemToArray(body, text_block(headline, 1));
	free(headline);
	add_fact(facts, "Severity", act_incident_str(ev, "severity"));
	add_fact(facts, "Service", act_incident_str(ev, "service"));
	add_fact(facts, "Status", act_incident_str(ev, "status"));
	add_fact(facts, "Category", act_incident_str(ev, "category"));
	if (ap != NULL) {
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(ap, "params");

		add_fact(facts, "Action", ax_json_str(ap, "action"));
		if (params != NULL && !cJSON_IsNull(params)) {
			char *p = ax_json_print(params);

			add_fact(facts, "Parameters", p);
			free(p);
		}
		add_fact(facts, "Expires", ax_json_str(ap, "expires_at"));
	}
	if (res != NULL) {
		add_fact(facts, "Action", ax_json_str(res, "action"));
		add_fact(facts, "Result", ax_json_str(res, "status"));
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "dry_run")))
			add_fact(facts, "Dry run", "yes");
	}
	if (cJSON_GetArraySize(facts) > 0) {
		cJSON_AddStringToObject(fs, "type", "FactSet");
		cJSON_AddItemToObject(fs, "facts", facts);
		cJSON_AddItemToArray(body, fs);
	} else {
		cJSON_Delete(facts);
		cJSON_Delete(fs);
	}
	if (summary != NULL)
		cJSON_AddItemToArray(body, text_block(summary, 0));
}

char *act_teams_payload(const struct act_event *ev, const cJSON *config)
{
	const cJSON *ap = act_event_obj(ev, "approval");
	cJSON *msg = obj(), *atts = cJSON_CreateArray(), *att = obj(), *card = obj();
	cJSON *body = cJSON_CreateArray(), *actions = cJSON_CreateArray();
	char *custom = act_render(config, ev, 0), *url = act_incident_url(ev), *s;

	if (atts == NULL || body == NULL || actions == NULL)
		abort();
	if (custom != NULL)
		cJSON_AddItemToArray(body, text_block(custom, 0));
	else
		add_builtin(body, ev);
	add_open_url(actions, "Open incident", url);
	if (ap != NULL) {
		add_open_url(actions, "Approve", ax_json_str(ap, "approve_url"));
		add_open_url(actions, "Reject", ax_json_str(ap, "reject_url"));
	}

	cJSON_AddStringToObject(card, "$schema",
				"http://adaptivecards.io/schemas/adaptive-card.json");
	cJSON_AddStringToObject(card, "type", "AdaptiveCard");
	cJSON_AddStringToObject(card, "version", "1.4");
	cJSON_AddItemToObject(card, "body", body);
	if (cJSON_GetArraySize(actions) > 0)
		cJSON_AddItemToObject(card, "actions", actions);
	else
		cJSON_Delete(actions);

	cJSON_AddStringToObject(att, "contentType", "application/vnd.microsoft.card.adaptive");
	cJSON_AddNullToObject(att, "contentUrl");
	cJSON_AddItemToObject(att, "content", card);
	cJSON_AddItemToArray(atts, att);
	cJSON_AddStringToObject(msg, "type", "message");
	cJSON_AddItemToObject(msg, "attachments", atts);
	s = ax_json_print(msg);
	cJSON_Delete(msg);
	free(custom);
	free(url);
	return s;
}

/* The wording of a connector's delivery failure reported inside a 200. */
static const char CONNECTOR_FAILED[] = "Microsoft Teams endpoint returned HTTP error ";

void act_teams_read(struct act_outcome *out, const char *body)
{
	const char *p;
	char ex[96];

	if (out->http_status == 0)
		return;
	if (out->ok) {
		long st;

		p = body != NULL ? strstr(body, CONNECTOR_FAILED) : NULL;
		if (p == NULL)
			return;
		st = strtol(p + sizeof(CONNECTOR_FAILED) - 1, NULL, 10);
		out->ok = 0;
		out->retryable = st == 429 || st >= 500 || st <= 0;
		snprintf(out->error, sizeof(out->error), "HTTP %ld: Teams answered HTTP %ld",
			 out->http_status, st);
		return;
	}
	act_body_excerpt(body, ex, sizeof(ex));
	if (ex[0] != '\0')
		snprintf(out->error, sizeof(out->error), "HTTP %ld: %s", out->http_status, ex);
}

void act_teams_send(const struct act_send *s, struct act_outcome *out)
{
	const char *headers[] = { "Content-Type: application/json", NULL };
	struct ax_httpc_resp resp;
	char err[200] = "", *body;
	ax_err rc;

	if (s->credential == NULL || s->credential[0] == '\0') {
		act_outcome_fail(out, "teams channel has no webhook URL credential");
		return;
	}
	body = act_teams_payload(s->ev, s->config);
	rc = ax_httpc_post(s->credential, headers, body, strlen(body), s->timeout_ms, &resp, err,
			   sizeof(err));
	act_outcome_http(out, s->credential, rc, &resp, err);
	act_teams_read(out, resp.body);
	free(body);
	ax_httpc_resp_release(&resp);
}
