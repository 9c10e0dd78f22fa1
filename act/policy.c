/* policy.c - the remediation policy (see policy.h for the rules). */
#include <stdio.h>
#include <string.h>

#include "policy.h"

static const struct {
	const char *action;
	enum act_blast blast;
} BLAST[] = {
	{ "restart_pod", ACT_BLAST_LOW },
	{ "rollout_restart", ACT_BLAST_MEDIUM },
	{ "scale_deployment", ACT_BLAST_MEDIUM },
	{ "rollback_deployment", ACT_BLAST_MEDIUM },
	{ "increase_memory_limit", ACT_BLAST_MEDIUM },
	{ "expand_volume", ACT_BLAST_MEDIUM },
	{ "renew_certificate", ACT_BLAST_MEDIUM },
	{ "http", ACT_BLAST_MEDIUM },
	{ "cleanup_disk", ACT_BLAST_HIGH },
	{ "cordon_node", ACT_BLAST_HIGH },
};

enum act_blast act_blast_of(const char *action)
{
	size_t i;

	for (i = 0; action != NULL && i < sizeof(BLAST) / sizeof(BLAST[0]); i++)
		if (strcmp(BLAST[i].action, action) == 0)
			return BLAST[i].blast;
	return ACT_BLAST_HIGH;
}

static const char *const BLAST_NAMES[] = { "low", "medium", "high" };

const char *act_blast_str(enum act_blast b)
{
	return (unsigned)b < 3 ? BLAST_NAMES[b] : "high";
}

int act_blast_parse(const char *s, enum act_blast *out)
{
	int i;

	for (i = 0; s != NULL && i < 3; i++)
		if (strcmp(s, BLAST_NAMES[i]) == 0) {
			*out = (enum act_blast)i;
			return 0;
		}
	return -1;
}

const char *act_verdict_str(enum act_verdict v)
{
	switch (v) {
	case ACT_REFUSE:
		return "refuse";
	case ACT_DRY_RUN:
		return "dry_run";
	case ACT_NEEDS_APPROVAL:
		return "needs_approval";
	case ACT_EXECUTE:
		return "execute";
	}
	return "refuse";
}

static int listed(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (list[i] != NULL && strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

static int is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

#define SAY(v, r, ...)                                                  \
	do {                                                            \
		out->verdict = (v);                                     \
		out->rule = (r);                                        \
		snprintf(out->why, sizeof(out->why), __VA_ARGS__);      \
		return;                                                 \
	} while (0)

void act_policy_decide(const struct act_policy_in *in, struct act_policy_out *out)
{
	const char *action = in->action != NULL ? in->action : "?";
	enum act_blast blast = act_blast_of(in->action);

	/* An unknown mode is treated as the safest one that still acts on
	 * nothing: a settings row the CHECK would refuse never widens. */
	if (in->autonomy == NULL || is(in->autonomy, "off"))
		SAY(ACT_REFUSE, "autonomy_off", "autonomy is off for this tenant: nothing runs");
	if (!in->supported)
		SAY(ACT_REFUSE, "no_adapter", "no adapter can run %s", action);
	if (is(in->approval, "rejected"))
		SAY(ACT_REFUSE, "rejected", "%s was rejected by %s", action,
		    in->approved_by != NULL ? in->approved_by : "a human");
	if (is(in->approval, "expired"))
		SAY(ACT_REFUSE, "approval_expired", "nobody approved %s in time", action);
	if (in->namespace != NULL &&
	    !listed(in->namespace, in->allowed_namespaces, in->n_allowed_namespaces))
		SAY(ACT_REFUSE, "namespace_not_allowed",
		    "namespace %s is not in the tenant's allowed_namespaces", in->namespace);
	if (in->replicas >= 0 && in->replicas > in->replica_cap)
		SAY(ACT_REFUSE, "replica_cap", "%d replicas is above the tenant's cap of %d",
		    in->replicas, in->replica_cap);
	if (is(in->action, "http") && !in->url_allowed)
		SAY(ACT_REFUSE, "url_not_allowed",
		    "the URL is not on the tenant's http_action_allowlist");
	if (in->max_per_hour > 0 && in->executed_last_hour >= in->max_per_hour)
		SAY(ACT_REFUSE, "hourly_cap",
		    "%d actions already ran in the last hour (max_actions_per_hour %d)",
		    in->executed_last_hour, in->max_per_hour);
	if (is(in->autonomy, "dry_run"))
		SAY(ACT_DRY_RUN, "dry_run", "autonomy is dry_run: %s is tried without effect",
		    action);
	if (is(in->approval, "approved"))
		SAY(ACT_EXECUTE, "approved", "approved by %s",
		    in->approved_by != NULL ? in->approved_by : "a human");
	if (is(in->autonomy, "autonomous")) {
		if (!listed(in->action, in->autonomous_actions, in->n_autonomous_actions))
			SAY(ACT_NEEDS_APPROVAL, "not_autonomous",
			    "%s is not in the tenant's autonomous_actions", action);
		if (blast > in->max_autonomous_blast)
			SAY(ACT_NEEDS_APPROVAL, "blast_radius",
			    "%s has a %s blast radius, above the autonomous limit (%s)", action,
			    act_blast_str(blast), act_blast_str(in->max_autonomous_blast));
		if (in->confidence < in->execute_threshold)
			SAY(ACT_NEEDS_APPROVAL, "low_confidence",
			    "confidence %.2f is below the execute threshold %.2f", in->confidence,
			    in->execute_threshold);
		SAY(ACT_EXECUTE, "autonomous",
		    "%s is allowlisted, %s blast radius, confidence %.2f", action,
		    act_blast_str(blast), in->confidence);
	}
	if (is(in->approval, "pending"))
		SAY(ACT_NEEDS_APPROVAL, "awaiting_approval", "waiting for a human to approve %s",
		    action);
	SAY(ACT_NEEDS_APPROVAL, "approval_required", "autonomy is %s: a human approves %s first",
	    in->autonomy, action);
}
