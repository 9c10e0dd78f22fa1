/* act.h - one alexus:actions entry, end to end (handle.c), and the JSON
 * documents act records (record.c). */
#ifndef ACT_ACT_H
#define ACT_ACT_H

#include <signal.h>
#include <stddef.h>
#include <hiredis/hiredis.h>
#include <cjson/cJSON.h>

#include "alexus/config.h"
#include "alexus/crypto.h"
#include "alexus/err.h"
#include "alexus/hash.h"
#include "alexus/pg.h"
#include "alexus/stream.h"

struct act {
	const struct ax_config *cfg;
	struct ax_pg *pg;               /* application role; RLS applies */
	volatile sig_atomic_t *stop;    /* set by SIGTERM / SIGINT */
	/* Opens tenant credentials (a Slack token, a Jira key...);
	 * has_keyring = 0 when ALEXUS_MASTER_KEY is not set, and a target
	 * needing a credential then fails with that reason. */
	struct ax_keyring kr;
	int has_keyring;
};

/* Process entry e of alexus:actions (group act).
 *
 * AX_OK: the entry is settled -- the action was recorded and audited (or
 * found already finished) and the entry acknowledged, or it was
 * dead-lettered.  AX_EAGAIN: a stop was requested during the delivery's
 * retries; nothing was recorded or acknowledged (the row stays 'running'
 * and the entry pending, to be delivered again with the same
 * Idempotency-Key).  Anything else: a transient failure, nothing
 * acknowledged, errbuf says why; the caller backs off and retries. */
ax_err act_handle(struct act *a, redisContext *c, const struct ax_entry *e, char *errbuf,
		  size_t errlen) AX_MUSTCHECK;

/* Process entry e of kind remediate (act/remediate.c): the policy
 * engine decides, then the action waits for approval, runs as a dry run,
 * runs, or is refused; every decision and execution is an audit row.
 * Returns as act_handle does. */
ax_err act_remediate(struct act *a, redisContext *c, const struct ax_entry *e, char *errbuf,
		     size_t errlen) AX_MUSTCHECK;

/* Publish the tenant's pub/sub event {"type":"action.finished",
 * "tenant", "action_id", "incident_id", <what_key>: what (the notify
 * event, or the remediation), "status", "trace"}.  Best effort: a lost
 * event is logged, never retried. */
void act_publish_finished(redisContext *c, const char *tenant, const char *action_id,
			  const char *incident_id, const char *what_key, const char *what,
			  const char *status, const char *trace);

/* actions.result: {"http_status": n|null, "attempts": n, "error": s|null}
 * (http_status 0 and error NULL or "" give null). */
cJSON *act_result_json(long http_status, int attempts, const char *error);

/* The audit row's detail: {"action_id","event","status","http_status",
 * "host"} -- the receiver's host only, never its path or credentials. */
cJSON *act_audit_detail(const char *action_id, const char *event, const char *status,
			long http_status, const char *host);

#endif /* ACT_ACT_H */
