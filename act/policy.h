/* policy.h - the one function that decides what act may do with a
 * proposed remediation.
 *
 * Pure: no I/O, no clock.  The caller gathers the inputs (the tenant's
 * settings, the action, the approval row, how many actions ran in the last
 * hour) inside the transaction that claims the action, asks once, and
 * writes the verdict, its rule and its reason to the audit log.  Keeping it
 * pure is what lets tests/unit/test_policy.c walk every rule and their
 * combinations from a table.
 *
 * The rules, first match wins:
 *   1. autonomy 'off'                                    refuse
 *   2. no adapter for the action                         refuse
 *   3. a human rejected it, or its approval expired      refuse
 *   4. the namespace is not in allowed_namespaces        refuse
 *      (actions on a namespace; an empty list allows none)
 *   5. replicas above replica_cap (scale)                refuse
 *   6. a generic HTTP action's URL not on the allowlist  refuse
 *   7. the tenant's hourly cap of executions reached     refuse
 *   8. autonomy 'dry_run'                                dry run
 *   9. a human approved it                               execute
 *  10. autonomy 'autonomous', the action allowlisted in
 *      autonomous_actions, its blast radius at most
 *      autonomous_max_blast and the confidence at least
 *      the execute threshold                             execute
 *  11. anything else                                     needs approval
 * Refusals come first so that no mode, not even a dry run or an approval,
 * touches a namespace the tenant did not open or scales past the cap.  The
 * hourly cap stops a loop of alerts from restarting something forever; it
 * counts real executions only, so it does not hold back dry runs. */
#ifndef ACT_POLICY_H
#define ACT_POLICY_H

#include <stddef.h>

enum act_verdict {
	ACT_REFUSE,
	ACT_DRY_RUN,
	ACT_NEEDS_APPROVAL,
	ACT_EXECUTE,
};

/* How much can go wrong if the action misfires: one pod, one workload,
 * a node and all it runs. */
enum act_blast {
	ACT_BLAST_LOW,
	ACT_BLAST_MEDIUM,
	ACT_BLAST_HIGH,
};

struct act_policy_in {
	const char *autonomy;           /* off | dry_run | approval | autonomous */
	const char *action;             /* reason's vocabulary, or "http" */
	int supported;                  /* an adapter can run it */
	const char *namespace;          /* NULL: the action has none (a node, a URL) */
	const char *const *allowed_namespaces;
	size_t n_allowed_namespaces;
	const char *const *autonomous_actions;
	size_t n_autonomous_actions;
	enum act_blast max_autonomous_blast;
	int replicas;                   /* < 0: not a scale */
	int replica_cap;
	int url_allowed;                /* http only: the URL matched the allowlist */
	int executed_last_hour;         /* real executions of the tenant */
	int max_per_hour;               /* 0: no cap */
	double confidence;
	double execute_threshold;
	const char *approval;           /* NULL (none asked) | pending | approved | rejected | expired */
	const char *approved_by;        /* who, when approved or rejected */
};

struct act_policy_out {
	enum act_verdict verdict;
	const char *rule;     /* short stable name, e.g. "namespace_not_allowed" */
	char why[256];        /* one sentence for people */
};

/* The blast radius class of an action ("restart_pod" -> low, ...);
 * unknown actions are high. */
enum act_blast act_blast_of(const char *action);
const char *act_blast_str(enum act_blast b);
/* "low" | "medium" | "high" -> 0, or -1. */
int act_blast_parse(const char *s, enum act_blast *out);
const char *act_verdict_str(enum act_verdict v);  /* refuse | dry_run | needs_approval | execute */

void act_policy_decide(const struct act_policy_in *in, struct act_policy_out *out);

#endif /* ACT_POLICY_H */
