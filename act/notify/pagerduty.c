/* pagerduty.c - the PagerDuty channel (see pagerduty.h).
 *
 * Design: the body is built with cJSON in the shape of the Events API v2
 * documentation (PagerDuty/developer-docs, events-API-v2 02-Trigger-Events
 * and 01-Overview); the summary is cut to the documented 1,024 characters
 * and dedup_key is the incident id, far below the 255 allowed.  The
 * routing key travels only in the body, which is never logged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pagerduty.h"
#include "alexus/cred.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"

#define SUMMARY_CHARS 1024

const char *act_pagerduty_action(const char *event)
{
	if (event == NULL)
		return NULL;
	if (strcmp(event, "incident.opened") == 0 || strcmp(event, "incident.escalated") == 0)
		return "trigger";
	if (strcmp(event, "incident.acknowledged") == 0)
		return "acknowledge";
	if (strcmp(event, "incident.resolved") == 0)
		return "resolve";
	return NULL;
}

const char *act_pagerduty_severity(const char *severity)
{
	switch (act_severity_rank(severity)) {
	case 3: return "critical";
	case 2: return "error";
	case 1: return "warning";
	case 0: return "info";
	default: return "error";
	}
}

static void add_copy(cJSON *o, const char *key, const cJSON *v)
{
	cJSON *c;

	if (v == NULL || cJSON_IsNull(v))
		return;
	c = cJSON_Duplicate(v, 1);
	if (c == NULL)
		abort();
	cJSON_AddItemToObject(o, key, c);
}

char *act_pagerduty_payload(const struct act_event *ev, const cJSON *config,
			    const char *routing_key)
{
	const char *action = act_pagerduty_action(ev->event);
	const char *id = act_incident_str(ev, "id");
	cJSON *o, *p, *cd, *links, *l;
	char *s, *headline, *summary, *url;

	if (id == NULL)
		id = ax_json_str(ev->payload, "incident_id");
	if (action == NULL || id == NULL)
		return NULL;
	o = cJSON_CreateObject();
	if (o == NULL)
		abort();
	cJSON_AddStringToObject(o, "routing_key", routing_key != NULL ? routing_key : "");
	cJSON_AddStringToObject(o, "event_action", action);
	cJSON_AddStringToObject(o, "dedup_key", id);
	if (strcmp(action, "trigger") != 0) {
		s = ax_json_print(o);
		cJSON_Delete(o);
		return s;
	}

	headline = act_render(config, ev, 0);
	if (headline == NULL)
		headline = act_headline(ev);
	summary = act_utf8_cut(headline, SUMMARY_CHARS, SUMMARY_CHARS * 4);
	url = act_incident_url(ev);
	if ((p = cJSON_CreateObject()) == NULL || (cd = cJSON_CreateObject()) == NULL)
		abort();
	cJSON_AddStringToObject(p, "summary", summary);
	cJSON_AddStringToObject(p, "source", act_incident_str(ev, "service") != NULL ?
						     act_incident_str(ev, "service") : "alexus");
	cJSON_AddStringToObject(p, "severity",
				act_pagerduty_severity(act_incident_str(ev, "severity")));
	ax_json_add_str(p, "timestamp", act_incident_str(ev, "opened_at"), 0);
	ax_json_add_str(p, "component", act_incident_str(ev, "service"), 0);
	ax_json_add_str(p, "group", ev->tenant, 0);
	ax_json_add_str(p, "class", act_incident_str(ev, "category"), 0);
	cJSON_AddStringToObject(cd, "incident_id", id);
	ax_json_add_str(cd, "event", ev->event, 0);
	ax_json_add_str(cd, "status", act_incident_str(ev, "status"), 0);
	add_copy(cd, "alert_count", cJSON_GetObjectItemCaseSensitive(ev->incident, "alert_count"));
	add_copy(cd, "confidence", cJSON_GetObjectItemCaseSensitive(ev->incident, "confidence"));
	ax_json_add_str(cd, "summary", act_event_summary(ev), 0);
	ax_json_add_str(cd, "probable_cause",
			ax_json_str(act_event_obj(ev, "analysis"), "probable_cause"), 0);
	ax_json_add_str(cd, "action_id", ev->action_id, 0);
	cJSON_AddItemToObject(p, "custom_details", cd);
	cJSON_AddItemToObject(o, "payload", p);
	cJSON_AddStringToObject(o, "client", "Alexus");
	if (ev->public_url != NULL && ev->public_url[0] != '\0')
		cJSON_AddStringToObject(o, "client_url", ev->public_url);
	if (url != NULL) {
		if ((links = cJSON_CreateArray()) == NULL || (l = cJSON_CreateObject()) == NULL)
			abort();
		cJSON_AddStringToObject(l, "href", url);
		cJSON_AddStringToObject(l, "text", "Alexus incident");
		cJSON_AddItemToArray(links, l);
		cJSON_AddItemToObject(o, "links", links);
	}
	s = ax_json_print(o);
	cJSON_Delete(o);
	free(headline);
	free(summary);
	free(url);
	return s;
}

void act_pagerduty_read(struct act_outcome *out, const char *body)
{
	cJSON *j = body != NULL ? ax_json_parse(body, strlen(body), 16) : NULL;
	const char *status = ax_json_str(j, "status"), *msg = ax_json_str(j, "message");
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(j, "errors");
	const char *first = cJSON_IsArray(errs) && cJSON_IsString(cJSON_GetArrayItem(errs, 0)) ?
				    cJSON_GetArrayItem(errs, 0)->valuestring : NULL;
	char a[96], b[96];

	if (out->http_status == 0) {
		cJSON_Delete(j);
		return;
	}
	if (out->ok) {
		/* Accepted means {"status":"success"}; a 2xx saying otherwise is
		 * an answer we do not understand, not a delivery. */
		if (status != NULL && strcmp(status, "success") != 0) {
			out->ok = 0;
			out->retryable = 0;
			snprintf(out->error, sizeof(out->error), "HTTP %ld: pagerduty: %s",
				 out->http_status, act_body_excerpt(status, a, sizeof(a)));
		}
		cJSON_Delete(j);
		return;
	}
	if (status != NULL || msg != NULL)
		snprintf(out->error, sizeof(out->error), "HTTP %ld: %s%s%s", out->http_status,
			 act_body_excerpt(msg != NULL ? msg : status, a, sizeof(a)),
			 first != NULL ? ": " : "",
			 first != NULL ? act_body_excerpt(first, b, sizeof(b)) : "");
	cJSON_Delete(j);
}

void act_pagerduty_send(const struct act_send *s, struct act_outcome *out)
{
	const char *url = act_config_str(s->config, "api_url");
	const char *headers[] = { "Content-Type: application/json", NULL };
	struct ax_httpc_resp resp;
	char err[200] = "", *body;
	ax_err rc;

	if (url == NULL)
		url = ACT_PAGERDUTY_API;
	if (s->credential == NULL || s->credential[0] == '\0') {
		act_outcome_fail(out, "pagerduty channel has no routing key credential");
		return;
	}
	body = act_pagerduty_payload(s->ev, s->config, s->credential);
	if (body == NULL) {
		act_outcome_fail(out, "pagerduty takes no %s event", s->ev->event);
		return;
	}
	rc = ax_httpc_post(url, headers, body, strlen(body), s->timeout_ms, &resp, err,
			   sizeof(err));
	ax_cred_wipe(body, strlen(body));
	free(body);
	act_outcome_http(out, url, rc, &resp, err);
	act_pagerduty_read(out, resp.body);
	ax_httpc_resp_release(&resp);
}
