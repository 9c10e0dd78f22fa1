/* remediate.c - a remediation reason proposed (kind remediate on
 * alexus:actions): policy, approval, execution (see act.h).
 *
 * For now nothing runs: the action is marked skipped with the reason and
 * the decision audited.  The policy engine and adapters replace this. */
#include <stdio.h>
#include <string.h>

#include "act.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/worker.h"

static const char Q_SKIP[] =
	"UPDATE actions SET status = 'skipped', result = $2::jsonb, updated_at = now() "
	"WHERE id = $1 AND status = 'pending'";
static const char Q_AUDIT_SKIP[] =
	"SELECT audit_append('act', 'remediate.skipped', $1, $2::jsonb, $3)";
static const char REMEDIATE_SKIPPED[] =
	"{\"reason\":\"no remediation adapter in this version: recorded, not run\"}";

/* A remediation reason proposed.  This version has no adapters and no
 * policy engine yet (issue 6), so nothing runs: the action is marked
 * skipped, with the reason, and the decision audited -- a dry run in all
 * but name, and never a dead letter for doing what reason asked. */
ax_err act_remediate(struct act *a, redisContext *c, const struct ax_entry *e,
		     char *errbuf, size_t errlen)
{
	const char *p[2] = { e->id, REMEDIATE_SKIPPED }, *pa[3] = { e->id, REMEDIATE_SKIPPED,
								 e->trace };
	PGresult *res;
	int changed;

	if (ax_pg_begin(a->pg, e->tenant, errbuf, errlen) != AX_OK)
		return AX_EIO;
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_SKIP, 2, p);
	if (res == NULL)
		goto fail;
	changed = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	if (changed) {
		res = ax_pg_exec(a->pg, errbuf, errlen, Q_AUDIT_SKIP, 3, pa);
		if (res == NULL)
			goto fail;
		PQclear(res);
	}
	if (ax_pg_commit(a->pg, errbuf, errlen) != AX_OK)
		return AX_EIO;
	if (ax_group_ack(c, AX_STREAM_ACTIONS, AX_GROUP_ACT, e->stream_id, errbuf, errlen) !=
	    AX_OK)
		return AX_EIO;
	ax_log(AX_LOG_INFO, e->trace, e->tenant, "remediate %s: %s", e->id,
	       changed ? "skipped (no adapter yet)" : "already settled");
	return AX_OK;
fail:
	ax_pg_rollback(a->pg);
	return AX_EIO;
}

