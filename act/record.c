/* record.c - the JSON documents act writes to actions.result and to the
 * audit log (see act.h, and notify/delivery.h for a notify action's).
 *
 * Design: pure builders over cJSON, apart from the database code, so the
 * exact shape of the recorded outcome is pinned by unit tests.  Absent
 * values are JSON null rather than missing keys, so every row has the
 * same keys and queries need no existence checks.
 *
 * A notify action fans out to several targets; its result keeps the
 * one-target keys of act_result_json at the top (a reader that knew only
 * the webhook still finds http_status, attempts and error where they
 * were) and lists every target under "targets".  The audit detail does
 * the same without the error texts: a receiver's error message is kept in
 * the result and the delivery rows, the hash-chained log keeps what
 * happened. */
#include <string.h>
#include <stdlib.h>

#include "act.h"
#include "notify/delivery.h"
#include "alexus/json.h"
#include "alexus/log.h"

static void add_status(cJSON *o, long http_status)
{
	if (http_status > 0)
		cJSON_AddNumberToObject(o, "http_status", (double)http_status);
	else
		cJSON_AddNullToObject(o, "http_status");
}

cJSON *act_result_json(long http_status, int attempts, const char *error)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		abort();
	add_status(o, http_status);
	cJSON_AddNumberToObject(o, "attempts", attempts);
	ax_json_add_str(o, "error", error != NULL && error[0] != '\0' ? error : NULL, 1);
	return o;
}

cJSON *act_audit_detail(const char *action_id, const char *event, const char *status,
			long http_status, const char *host)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		abort();
	ax_json_add_str(o, "action_id", action_id, 1);
	ax_json_add_str(o, "event", event, 1);
	ax_json_add_str(o, "status", status, 1);
	add_status(o, http_status);
	ax_json_add_str(o, "host", host != NULL && host[0] != '\0' ? host : NULL, 1);
	return o;
}

/* The target the top-level keys describe: the first dead one, else the
 * first. */
static const struct act_target_row *headline_row(const struct act_target_row *rows, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].status, "dead") == 0)
			return &rows[i];
	return n > 0 ? &rows[0] : NULL;
}

static cJSON *target_json(const struct act_target_row *r, int with_error)
{
	cJSON *t = cJSON_CreateObject();

	if (t == NULL)
		abort();
	ax_json_add_str(t, "target", r->target, 1);
	ax_json_add_str(t, "status", r->status, 1);
	cJSON_AddNumberToObject(t, "attempts", r->attempts);
	add_status(t, r->http_status);
	if (with_error)
		ax_json_add_str(t, "error", r->error[0] != '\0' ? r->error : NULL, 1);
	ax_json_add_str(t, "host", r->host[0] != '\0' ? r->host : NULL, 1);
	return t;
}

cJSON *act_notify_result(const struct act_target_row *rows, int n, const char *error)
{
	const struct act_target_row *h = headline_row(rows, n);
	cJSON *o, *arr = cJSON_CreateArray();
	int i, attempts = 0;

	if (arr == NULL)
		abort();
	for (i = 0; i < n; i++) {
		attempts += rows[i].attempts;
		cJSON_AddItemToArray(arr, target_json(&rows[i], 1));
	}
	if (error == NULL && h != NULL && strcmp(h->status, "succeeded") != 0)
		error = h->error;
	o = act_result_json(h != NULL ? h->http_status : 0, attempts, error);
	cJSON_AddItemToObject(o, "targets", arr);
	return o;
}

cJSON *act_notify_audit(const char *action_id, const char *event, const char *status,
			const struct act_target_row *rows, int n)
{
	const struct act_target_row *h = headline_row(rows, n);
	cJSON *o = act_audit_detail(action_id, event, status, h != NULL ? h->http_status : 0,
				    h != NULL ? h->host : NULL);
	cJSON *arr = cJSON_CreateArray();
	int i;

	if (arr == NULL)
		abort();
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, target_json(&rows[i], 0));
	cJSON_AddItemToObject(o, "targets", arr);
	return o;
}

void act_publish_finished(redisContext *c, const char *tenant, const char *action_id,
			  const char *incident_id, const char *what_key, const char *what,
			  const char *status, const char *trace)
{
	cJSON *ev = cJSON_CreateObject();
	char err[256], *s;

	if (ev == NULL)
		abort();
	cJSON_AddStringToObject(ev, "type", "action.finished");
	cJSON_AddStringToObject(ev, "tenant", tenant);
	cJSON_AddStringToObject(ev, "action_id", action_id);
	ax_json_add_str(ev, "incident_id", incident_id, 1);
	ax_json_add_str(ev, what_key, what, 1);
	cJSON_AddStringToObject(ev, "status", status);
	cJSON_AddStringToObject(ev, "trace", trace);
	s = ax_json_print(ev);
	cJSON_Delete(ev);
	if (ax_publish_event(c, tenant, s, err, sizeof(err)) != AX_OK)
		ax_log(AX_LOG_WARN, trace, tenant, "action event not published: %s", err);
	free(s);
}
