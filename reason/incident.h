/* incident.h - small pieces of reason's incident handling: the grouping
 * key, severity ordering, and the JSON documents reason writes (the
 * incident snapshot, the notify action's data, the stage event).  No I/O,
 * so tests/unit can pin them down exactly. */
#ifndef REASON_INCIDENT_H
#define REASON_INCIDENT_H

#include <cjson/cJSON.h>
#include "alexus/hash.h"
#include "alexus/signal.h"

/* An incident row as the action payload shows it.  Strings are owned
 * (reason_incident_release frees them). */
struct reason_incident {
	char id[AX_UUID_LEN];
	char *title;
	char *status;       /* open | resolved */
	char *severity;
	char *category;     /* NULL until classified */
	double confidence;
	int has_confidence;
	char *service;      /* NULL when the alerts name none */
	long alert_count;
	char *opened_at;    /* RFC 3339, UTC */
	char *resolved_at;  /* NULL while open */
};

void reason_incident_release(struct reason_incident *inc);

/* The key alerts are grouped into one open incident by: the service,
 * else namespace + "/" + host, else the host, else the alert name (empty
 * strings count as absent).  NULL only when every input is absent.
 * free() the result. */
char *reason_group_key(const char *service, const char *ns, const char *host, const char *name);

/* The more severe of a and b (critical > high > warning > info). */
enum ax_severity reason_severity_max(enum ax_severity a, enum ax_severity b);

/* 1 when s looks like an RFC 3339 timestamp Postgres will accept
 * ("YYYY-MM-DDTHH:MM:SS" then optional fraction and zone), and is not the
 * zero time ("0001-01-01...") some senders use for "unset". */
int reason_time_usable(const char *s);

/* {"id","title","status","severity","category","confidence","service",
 *  "alert_count","opened_at","resolved_at"}; absent values are null. */
cJSON *reason_incident_json(const struct reason_incident *inc);

/* The notify action's data (the actions.payload column and the data of
 * its alexus:actions entry):
 * {"action_id","type":"notify","channel":"webhook","incident_id",
 *  "signal_id","event","incident":{...reason_incident_json}}. */
cJSON *reason_action_data(const char *action_id, const char *signal_id, const char *event,
			  const struct reason_incident *inc);

/* The pub/sub event of one stage transition:
 * {"type":"incident.stage","tenant","incident_id","stage","signal_id",
 *  "trace","run_id","output":{...}}; run_id is left out when NULL (a
 * transition of no pipeline run); output is copied (may be NULL). */
cJSON *reason_stage_event(const char *tenant, const char *incident_id, const char *stage,
			  const char *signal_id, const char *trace, const char *run_id,
			  const cJSON *output);

/* Milliseconds of CLOCK_MONOTONIC since t0 (how long a stage took). */
struct timespec;
double reason_ms_since(const struct timespec *t0);

#endif /* REASON_INCIDENT_H */
