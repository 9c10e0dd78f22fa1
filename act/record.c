/* record.c - the JSON documents act writes to actions.result and to the
 * audit log (see act.h).
 *
 * Design: pure builders over cJSON, apart from the database code, so the
 * exact shape of the recorded outcome is pinned by unit tests.  Absent
 * values are JSON null rather than missing keys, so every row has the
 * same keys and queries need no existence checks. */
#include <stdlib.h>

#include "act.h"
#include "alexus/json.h"

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
