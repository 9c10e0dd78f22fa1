/* message.c - the event, its texts and links, templates, HTTP outcomes and
 * the sender dispatch shared by every notification channel (see notify.h).
 *
 * Design: pure functions over the action's payload (cJSON), so each
 * sender's layout is built from the same facts and pinned by unit tests.
 * The payload is what reason (and the remediation code) wrote: the
 * incident snapshot, plus "analysis" for decisions, "approval" for an
 * approval request and "result" for an executed action.  Anything may be
 * missing; a missing fact is left out of the message, never printed as
 * "(null)".
 *
 * Texts that end up in a header or a subject line (the headline) lose
 * their control characters here, once, so no sender can be made to split
 * a header block by an incident title. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"
#include "email.h"
#include "pagerduty.h"
#include "slack.h"
#include "teams.h"
#include "telegram.h"
#include "webhook.h"
#include "alexus/json.h"
#include "alexus/mem.h"
#include "alexus/template.h"

int act_event_init(struct act_event *ev, const char *tenant, const char *action_id,
		   const char *trace, const cJSON *payload, const char *public_url)
{
	const cJSON *inc;

	memset(ev, 0, sizeof(*ev));
	ev->tenant = tenant;
	ev->action_id = action_id;
	ev->trace = trace;
	ev->payload = payload;
	ev->public_url = public_url;
	ev->event = ax_json_str(payload, "event");
	inc = cJSON_GetObjectItemCaseSensitive(payload, "incident");
	ev->incident = cJSON_IsObject(inc) ? inc : NULL;
	return ev->event != NULL ? 0 : -1;
}

const char *act_incident_str(const struct act_event *ev, const char *key)
{
	return ax_json_str(ev->incident, key);
}

const cJSON *act_event_obj(const struct act_event *ev, const char *key)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(ev->payload, key);

	return cJSON_IsObject(o) ? o : NULL;
}

static const struct {
	const char *event, *label;
} labels[] = {
	{ "incident.opened", "Incident opened" },
	{ "incident.resolved", "Incident resolved" },
	{ "incident.diagnosed", "Incident diagnosed" },
	{ "incident.clarify", "Incident needs clarification" },
	{ "incident.escalated", "Incident escalated" },
	{ "incident.reopened", "Incident reopened" },
	{ "incident.acknowledged", "Incident acknowledged" },
	{ "approval.requested", "Approval requested" },
	{ "action.executed", "Action executed" },
};

const char *act_event_label(const char *event)
{
	size_t i;

	if (event == NULL)
		return "Notification";
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strcmp(labels[i].event, event) == 0)
			return labels[i].label;
	return event;
}

int act_severity_rank(const char *severity)
{
	static const char *const order[] = { "info", "warning", "high", "critical" };
	int i;

	for (i = 0; severity != NULL && i < 4; i++)
		if (strcmp(order[i], severity) == 0)
			return i;
	return -1;
}

const char *act_config_str(const cJSON *config, const char *key)
{
	return ax_json_str(config, key);
}

/* A growing string: what the builders below append to. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->s = ax_xrealloc(b->s, cap);
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_put(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

/* s without control characters (so it stays on one line). */
static void sb_put_line(struct sbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			sb_putn(b, " ", 1);
		else
			sb_putn(b, s, 1);
	}
}

static char *sb_take(struct sbuf *b)
{
	if (b->s == NULL)
		sb_putn(b, "", 0);
	return b->s;
}

char *act_headline(const struct act_event *ev)
{
	const char *sev = act_incident_str(ev, "severity");
	const char *title = act_incident_str(ev, "title");
	const cJSON *ap = act_event_obj(ev, "approval"), *res = act_event_obj(ev, "result");
	struct sbuf b = { NULL, 0, 0 };

	if (act_severity_rank(sev) >= 0) {
		char tag[16];
		size_t i;

		for (i = 0; sev[i] != '\0' && i + 1 < sizeof(tag); i++)
			tag[i] = (char)(sev[i] >= 'a' && sev[i] <= 'z' ? sev[i] - 32 : sev[i]);
		tag[i] = '\0';
		sb_put(&b, "[");
		sb_put(&b, tag);
		sb_put(&b, "] ");
	}
	sb_put(&b, act_event_label(ev->event));
	if (ap != NULL && ax_json_str(ap, "action") != NULL) {
		sb_put(&b, ": ");
		sb_put_line(&b, ax_json_str(ap, "action"));
		if (title != NULL) {
			sb_put(&b, " - ");
			sb_put_line(&b, title);
		}
	} else if (res != NULL && ax_json_str(res, "action") != NULL) {
		const cJSON *dry = cJSON_GetObjectItemCaseSensitive(res, "dry_run");

		sb_put(&b, ": ");
		sb_put_line(&b, ax_json_str(res, "action"));
		if (ax_json_str(res, "status") != NULL || cJSON_IsTrue(dry)) {
			sb_put(&b, " (");
			if (ax_json_str(res, "status") != NULL)
				sb_put_line(&b, ax_json_str(res, "status"));
			if (cJSON_IsTrue(dry))
				sb_put(&b, ax_json_str(res, "status") != NULL ? ", dry run"
									     : "dry run");
			sb_put(&b, ")");
		}
		if (title != NULL) {
			sb_put(&b, " - ");
			sb_put_line(&b, title);
		}
	} else if (title != NULL) {
		sb_put(&b, ": ");
		sb_put_line(&b, title);
	}
	return sb_take(&b);
}

char *act_incident_url(const struct act_event *ev)
{
	const char *id = ax_json_str(ev->incident, "id");
	size_t n;

	if (id == NULL)
		id = ax_json_str(ev->payload, "incident_id");
	if (id == NULL || ev->public_url == NULL || ev->public_url[0] == '\0')
		return NULL;
	n = strlen(ev->public_url);
	while (n > 0 && ev->public_url[n - 1] == '/')
		n--;
	return ax_xasprintf("%.*s/v1/incidents/%s", (int)n, ev->public_url, id);
}

const char *act_event_summary(const struct act_event *ev)
{
	const char *s = ax_json_str(act_event_obj(ev, "analysis"), "summary");

	return s != NULL ? s : ax_json_str(act_event_obj(ev, "result"), "summary");
}

/* "Name: value\n" when value is there. */
static void fact(struct sbuf *b, const char *name, const char *value)
{
	if (value == NULL)
		return;
	sb_put(b, name);
	sb_put(b, ": ");
	sb_put_line(b, value);
	sb_put(b, "\n");
}

static void fact_num(struct sbuf *b, const char *name, const cJSON *v)
{
	char num[32];

	if (!cJSON_IsNumber(v))
		return;
	snprintf(num, sizeof(num), "%g", v->valuedouble);
	fact(b, name, num);
}

char *act_plain_text(const struct act_event *ev)
{
	const cJSON *ap = act_event_obj(ev, "approval"), *res = act_event_obj(ev, "result");
	const char *summary = act_event_summary(ev);
	struct sbuf b = { NULL, 0, 0 };
	char *h = act_headline(ev), *url = act_incident_url(ev);

	sb_put(&b, h);
	sb_put(&b, "\n\n");
	free(h);
	fact(&b, "Service", act_incident_str(ev, "service"));
	fact(&b, "Severity", act_incident_str(ev, "severity"));
	fact(&b, "Status", act_incident_str(ev, "status"));
	fact(&b, "Category", act_incident_str(ev, "category"));
	fact_num(&b, "Confidence", cJSON_GetObjectItemCaseSensitive(ev->incident, "confidence"));
	fact_num(&b, "Alerts", cJSON_GetObjectItemCaseSensitive(ev->incident, "alert_count"));
	fact(&b, "Opened", act_incident_str(ev, "opened_at"));
	fact(&b, "Resolved", act_incident_str(ev, "resolved_at"));
	if (ap != NULL) {
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(ap, "params");

		fact(&b, "Action", ax_json_str(ap, "action"));
		if (params != NULL && !cJSON_IsNull(params)) {
			char *p = ax_json_print(params);

			fact(&b, "Parameters", p);
			free(p);
		}
		fact(&b, "Expires", ax_json_str(ap, "expires_at"));
	}
	if (res != NULL) {
		fact(&b, "Action", ax_json_str(res, "action"));
		fact(&b, "Result", ax_json_str(res, "status"));
		if (cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(res, "dry_run")))
			fact(&b, "Dry run",
			     cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "dry_run")) ? "yes"
											 : "no");
	}
	if (summary != NULL) {
		sb_put(&b, "\n");
		sb_put(&b, summary);
		sb_put(&b, "\n");
	}
	if (url != NULL || (ap != NULL && ax_json_str(ap, "approve_url") != NULL)) {
		sb_put(&b, "\n");
		fact(&b, "Incident", url);
		if (ap != NULL) {
			fact(&b, "Approve", ax_json_str(ap, "approve_url"));
			fact(&b, "Reject", ax_json_str(ap, "reject_url"));
		}
	}
	free(url);
	return sb_take(&b);
}

static void add_copy(cJSON *o, const char *key, const cJSON *v)
{
	cJSON *c = v != NULL ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();

	if (c == NULL)
		abort();
	cJSON_AddItemToObject(o, key, c);
}

cJSON *act_template_doc(const struct act_event *ev)
{
	const cJSON *ap = act_event_obj(ev, "approval");
	cJSON *d = cJSON_CreateObject(), *links;
	char *h = act_headline(ev), *url = act_incident_url(ev);

	if (d == NULL || (links = cJSON_CreateObject()) == NULL)
		abort();
	ax_json_add_str(d, "event", ev->event, 1);
	ax_json_add_str(d, "label", act_event_label(ev->event), 1);
	ax_json_add_str(d, "headline", h, 1);
	ax_json_add_str(d, "tenant", ev->tenant, 1);
	ax_json_add_str(d, "action_id", ev->action_id, 1);
	ax_json_add_str(d, "trace", ev->trace, 1);
	add_copy(d, "incident", ev->incident);
	add_copy(d, "approval", ap);
	add_copy(d, "result", act_event_obj(ev, "result"));
	add_copy(d, "analysis", act_event_obj(ev, "analysis"));
	add_copy(d, "escalation", act_event_obj(ev, "escalation"));
	add_copy(d, "resolution", act_event_obj(ev, "resolution"));
	ax_json_add_str(links, "incident", url, 1);
	ax_json_add_str(links, "approve", ax_json_str(ap, "approve_url"), 1);
	ax_json_add_str(links, "reject", ax_json_str(ap, "reject_url"), 1);
	cJSON_AddItemToObject(d, "links", links);
	free(h);
	free(url);
	return d;
}

char *act_render(const cJSON *config, const struct act_event *ev, int json_escape)
{
	const char *tmpl = act_config_str(config, "template");
	cJSON *doc;
	char *s;

	if (tmpl == NULL)
		return NULL;
	doc = act_template_doc(ev);
	s = ax_template_render(tmpl, doc, json_escape);
	cJSON_Delete(doc);
	return s;
}

static void escape_strings(cJSON *node, char *(*escape)(const char *))
{
	cJSON *c;

	if (cJSON_IsString(node) && node->valuestring != NULL) {
		char *e = escape(node->valuestring);

		/* cJSON_SetValuestring copies; it refuses only what is no string. */
		if (cJSON_SetValuestring(node, e) == NULL)
			abort();
		free(e);
		return;
	}
	cJSON_ArrayForEach(c, node)
		escape_strings(c, escape);
}

char *act_render_escaped(const cJSON *config, const struct act_event *ev,
			 char *(*escape)(const char *))
{
	const char *tmpl = act_config_str(config, "template");
	cJSON *doc;
	char *s;

	if (tmpl == NULL)
		return NULL;
	doc = act_template_doc(ev);
	escape_strings(doc, escape);
	s = ax_template_render(tmpl, doc, 0);
	cJSON_Delete(doc);
	return s;
}

size_t act_utf8_prefix(const char *s, size_t max_chars, size_t max_bytes)
{
	size_t i = 0, chars = 0;

	while (s[i] != '\0' && chars < max_chars) {
		unsigned char c = (unsigned char)s[i];
		size_t k = 1;

		if (c >= 0xc0 && c < 0xe0)
			k = 2;
		else if (c >= 0xe0 && c < 0xf0)
			k = 3;
		else if (c >= 0xf0 && c < 0xf8)
			k = 4;
		/* A truncated or malformed sequence counts byte by byte. */
		for (size_t j = 1; j < k; j++)
			if (((unsigned char)s[i + j] & 0xc0) != 0x80) {
				k = 1;
				break;
			}
		if (i + k > max_bytes)
			break;
		i += k;
		chars++;
	}
	return i;
}

char *act_utf8_cut(const char *s, size_t max_chars, size_t max_bytes)
{
	size_t n = act_utf8_prefix(s, max_chars, max_bytes);

	if (s[n] == '\0')
		return ax_xstrdup(s);
	if (max_chars < 4 || max_bytes < 4)
		return ax_xstrndup(s, n);
	n = act_utf8_prefix(s, max_chars - 3, max_bytes - 3);
	return ax_xasprintf("%.*s...", (int)n, s);
}

char *act_body_excerpt(const char *body, char *buf, size_t n)
{
	size_t k = 0;

	if (n == 0)
		return buf;
	for (; body != NULL && *body != '\0' && *body != '\n' && k + 1 < n; body++) {
		unsigned char c = (unsigned char)*body;

		if (c >= 0x20 && c < 0x7f)
			buf[k++] = (char)c;
	}
	while (k > 0 && buf[k - 1] == ' ')
		k--;
	buf[k] = '\0';
	return buf;
}

char *act_auth_header(char *buf, size_t n, const char *scheme, const char *secret)
{
	size_t k;
	int w;

	if (n == 0)
		return buf;
	w = snprintf(buf, n, "Authorization: %s ", scheme);
	if (w < 0 || (size_t)w >= n)
		return buf;
	k = (size_t)w;
	for (; secret != NULL && *secret != '\0' && k + 1 < n; secret++) {
		unsigned char c = (unsigned char)*secret;

		if (c > 0x20 && c != 0x7f)
			buf[k++] = (char)c;
	}
	buf[k] = '\0';
	return buf;
}

void act_outcome_http(struct act_outcome *out, const char *url, ax_err rc,
		      const struct ax_httpc_resp *resp, const char *errbuf)
{
	memset(out, 0, sizeof(*out));
	(void)act_url_host(url, out->host, sizeof(out->host));
	if (rc != AX_OK) {
		/* No answer: the network, a timeout, or a URL refused. */
		out->retryable = rc != AX_EINVAL;
		snprintf(out->error, sizeof(out->error), "%s",
			 errbuf != NULL && errbuf[0] != '\0' ? errbuf : ax_strerror(rc));
		return;
	}
	out->http_status = resp->status;
	out->retry_after_s = resp->retry_after_s;
	if (resp->status >= 200 && resp->status <= 299) {
		out->ok = 1;
		return;
	}
	out->retryable = resp->status == 429 || (resp->status >= 500 && resp->status <= 599);
	snprintf(out->error, sizeof(out->error), "HTTP %ld", resp->status);
}

void act_outcome_fail(struct act_outcome *out, const char *fmt, ...)
{
	va_list ap;

	memset(out, 0, sizeof(*out));
	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
}

void act_send(const char *kind, const struct act_send *s, struct act_outcome *out)
{
	if (strcmp(kind, "slack") == 0)
		act_slack_send(s, out);
	else if (strcmp(kind, "teams") == 0)
		act_teams_send(s, out);
	else if (strcmp(kind, "pagerduty") == 0)
		act_pagerduty_send(s, out);
	else if (strcmp(kind, "email") == 0)
		act_email_send(s, out);
	else if (strcmp(kind, "telegram") == 0)
		act_telegram_send(s, out);
	else if (strcmp(kind, "webhook") == 0)
		act_webhook_channel_send(s, out);
	else
		act_outcome_fail(out, "unknown channel kind '%s'", kind);
}

int act_kind_wants(const char *kind, const char *event)
{
	if (strcmp(kind, "pagerduty") == 0)
		return act_pagerduty_action(event) != NULL;
	return 1;
}
