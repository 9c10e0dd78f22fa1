/* incident.c - grouping key, severity order and reason's JSON documents
 * (see incident.h).
 *
 * Design: everything reason writes to the outbox or publishes is built
 * here from plain values, so the exact shape of the contract (proto's
 * action entry, the stage event) lives in one file with unit tests, and
 * the database code only fills a struct.  cJSON builds the documents
 * (escaping is its job, never ours). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "incident.h"
#include "alexus/json.h"
#include "alexus/mem.h"

void reason_incident_release(struct reason_incident *inc)
{
	if (inc == NULL)
		return;
	free(inc->title);
	free(inc->status);
	free(inc->severity);
	free(inc->category);
	free(inc->service);
	free(inc->opened_at);
	free(inc->resolved_at);
	memset(inc, 0, sizeof(*inc));
}

static int present(const char *s)
{
	return s != NULL && s[0] != '\0';
}

char *reason_group_key(const char *service, const char *ns, const char *host, const char *name)
{
	if (present(service))
		return ax_xstrdup(service);
	if (present(ns) && present(host))
		return ax_xasprintf("%s/%s", ns, host);
	if (present(host))
		return ax_xstrdup(host);
	if (present(name))
		return ax_xstrdup(name);
	return NULL;
}

enum ax_severity reason_severity_max(enum ax_severity a, enum ax_severity b)
{
	/* The enum runs from most (critical = 0) to least severe. */
	return a < b ? a : b;
}

static int digits(const char *s, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

int reason_time_usable(const char *s)
{
	const char *p;

	if (s == NULL || strlen(s) < 19)
		return 0;
	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
	    !digits(s + 17, 2))
		return 0;
	if (strncmp(s, "0001-01-01", 10) == 0)
		return 0;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	if (*p == '+' || *p == '-')
		return digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) && p[6] == '\0';
	return *p == '\0';
}

cJSON *reason_incident_json(const struct reason_incident *inc)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		abort();
	cJSON_AddStringToObject(o, "id", inc->id);
	ax_json_add_str(o, "title", inc->title, 1);
	ax_json_add_str(o, "status", inc->status, 1);
	ax_json_add_str(o, "severity", inc->severity, 1);
	ax_json_add_str(o, "category", inc->category, 1);
	if (inc->has_confidence)
		cJSON_AddNumberToObject(o, "confidence",
					floor(inc->confidence * 100.0 + 0.5) / 100.0);
	else
		cJSON_AddNullToObject(o, "confidence");
	ax_json_add_str(o, "service", inc->service, 1);
	cJSON_AddNumberToObject(o, "alert_count", (double)inc->alert_count);
	ax_json_add_str(o, "opened_at", inc->opened_at, 1);
	ax_json_add_str(o, "resolved_at", inc->resolved_at, 1);
	return o;
}

cJSON *reason_action_data(const char *action_id, const char *signal_id, const char *event,
			  const struct reason_incident *inc)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		abort();
	cJSON_AddStringToObject(o, "action_id", action_id);
	cJSON_AddStringToObject(o, "type", "notify");
	cJSON_AddStringToObject(o, "channel", "webhook");
	cJSON_AddStringToObject(o, "incident_id", inc->id);
	ax_json_add_str(o, "signal_id", signal_id, 1);
	cJSON_AddStringToObject(o, "event", event);
	cJSON_AddItemToObject(o, "incident", reason_incident_json(inc));
	return o;
}

cJSON *reason_stage_event(const char *tenant, const char *incident_id, const char *stage,
			  const char *signal_id, const char *trace, const char *run_id,
			  const cJSON *output)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *out;

	if (o == NULL)
		abort();
	cJSON_AddStringToObject(o, "type", "incident.stage");
	ax_json_add_str(o, "tenant", tenant, 1);
	ax_json_add_str(o, "incident_id", incident_id, 1);
	cJSON_AddStringToObject(o, "stage", stage);
	ax_json_add_str(o, "signal_id", signal_id, 1);
	ax_json_add_str(o, "trace", trace, 1);
	ax_json_add_str(o, "run_id", run_id, 0);
	out = output != NULL ? cJSON_Duplicate(output, 1) : cJSON_CreateObject();
	if (out == NULL)
		abort();
	cJSON_AddItemToObject(o, "output", out);
	return o;
}

double reason_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1000.0 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}
