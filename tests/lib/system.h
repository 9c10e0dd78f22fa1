/* system.h - one running Alexus for an integration test: the three real
 * daemons, a receiver standing in for the tenant's webhook endpoint, a
 * fresh tenant with a token, and connections to assert with.  Functions
 * here fail the current cmocka test on any surprise. */
#ifndef T_SYSTEM_H
#define T_SYSTEM_H

#include <cjson/cJSON.h>
#include "harness.h"
#include "receiver.h"

#define WAIT_MS 15000

/* One running system: three daemons, a receiver, a tenant and its token. */
struct sys {
	int up;                 /* between sys_up and sys_down */
	struct h_proc ingest, reason, act;
	struct receiver *rcv;
	int port;
	char url[128];
	char tenant[64];
	char *token;
	char auth[1024];
	PGconn *app;
	redisContext *redis;
};

/* Start everything; reason_failpoints (NULL for none) goes to reason's
 * ALEXUS_FAILPOINTS. */
struct sys *sys_up(const char *prefix, const char *reason_failpoints);
/* SIGTERM every daemon; fails unless each exits 0 without a sanitizer report. */
void sys_down(struct sys *s);
/* cmocka teardown: after a failed test, kill whatever sys_up started. */
int sys_teardown(void **state);
void sys_start_reason(struct h_proc *p, const char *failpoints);
/* How later sys_start_reason calls start reason: n_agents stage threads
 * (0, the default, leaves pipeline runs waiting) and up to 7 more
 * "NAME=value" settings (copied pointers: keep them alive). */
void sys_reason_env(int n_agents, const char *const *extra);
void sys_start_act(struct h_proc *p);

/* POST to ingest with the tenant's token; *out gets the parsed JSON reply. */
long sys_post(struct sys *s, const char *path, const char *body, size_t len, cJSON **out);
long sys_post_file(struct sys *s, const char *path, const char *file, cJSON **out);
int sys_json_int(const cJSON *o, const char *k);

/* sql through the application role, scoped to the test tenant. */
long sys_q(struct sys *s, const char *sql);
long long sys_pending(struct sys *s, const char *stream, const char *group);
void sys_wait_tenant_sql(struct sys *s, const char *tenant, const char *sql, long want);
void sys_wait_sql(struct sys *s, const char *sql, long want);
/* Wait until both groups acknowledged everything and no action is outstanding. */
void sys_wait_settled(struct sys *s);
int sys_audit_chain_ok(struct sys *s);
/* Delivery i carries event and matches a succeeded action and an incident. */
void sys_check_delivery(struct sys *s, int i, const char *event);

/* Notifications (issue 6).  Stop act (it must exit cleanly) and start it
 * again with sys_start_act's settings plus up to 11 more "NAME=value"
 * (later ones win). */
void sys_restart_act(struct sys *s, const char *const *extra);
/* A notification channel of the test tenant, inserted through the
 * application role: kind, name, min_severity, service (NULL:
 * tenant-wide), config (JSON object text), enabled; when cred_name is not
 * NULL the credential cred_name = cred_value is stored with ax_cred_put
 * under the stack's ALEXUS_MASTER_KEY.  id (37 bytes) gets its id. */
void sys_channel(struct sys *s, const char *kind, const char *name, const char *min_severity,
		 const char *service, const char *config, int enabled, const char *cred_name,
		 const char *cred_value, char *id);
/* Set (or with NULL clear) the test tenant's notify_webhook_url. */
void sys_set_webhook(struct sys *s, const char *url);
/* VmRSS of process pid in kB, from /proc/<pid>/status; -1 if unreadable. */
long sys_rss_kb(int pid);
/* Entries of alexus:dlq whose tenant is the test tenant's and whose kind
 * is kind (NULL: any); when out is not NULL, *out gets the last one's
 * fields as a JSON object (cJSON_Delete it). */
long sys_dlq_count(struct sys *s, const char *kind, cJSON **out);

#endif /* T_SYSTEM_H */
