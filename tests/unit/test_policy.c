/* test_policy.c - act's remediation policy (act/policy.c), rule by rule
 * and in combination, from a table.
 *
 * Each row starts from a base input that would execute (autonomous, the
 * action allowlisted, namespace open, replicas under the cap, confidence
 * above the threshold) and changes what the row names; the expected
 * verdict and rule are the first rule of policy.h that the change trips.
 * A final sweep checks the orderings the table cannot show: every refusal
 * beats every mode and an approval. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../act/policy.h"

static const char *const NS[] = { "shop", "payments" };
static const char *const AUTO[] = { "restart_pod", "rollout_restart", "cordon_node" };

static struct act_policy_in base(void)
{
	struct act_policy_in in = {
		.autonomy = "autonomous",
		.action = "rollout_restart",
		.supported = 1,
		.namespace = "shop",
		.allowed_namespaces = NS,
		.n_allowed_namespaces = 2,
		.autonomous_actions = AUTO,
		.n_autonomous_actions = 3,
		.max_autonomous_blast = ACT_BLAST_MEDIUM,
		.replicas = -1,
		.replica_cap = 10,
		.url_allowed = 0,
		.executed_last_hour = 0,
		.max_per_hour = 20,
		.confidence = 0.9,
		.execute_threshold = 0.85,
		.approval = NULL,
	};
	return in;
}

enum field {
	F_NONE,
	F_AUTONOMY,
	F_ACTION,
	F_UNSUPPORTED,
	F_NAMESPACE,
	F_NO_NAMESPACES,
	F_REPLICAS,
	F_URL_ALLOWED,
	F_EXECUTED,
	F_CONFIDENCE,
	F_APPROVAL,
	F_MAX_BLAST,
};

struct change {
	enum field f;
	const char *s;
	double d;
};

struct row {
	const char *name;
	struct change ch[3];
	enum act_verdict verdict;
	const char *rule;
	const char *why_has; /* a fragment the reason must name */
};

static void apply(struct act_policy_in *in, const struct change *c)
{
	switch (c->f) {
	case F_NONE:
		break;
	case F_AUTONOMY:
		in->autonomy = c->s;
		break;
	case F_ACTION:
		in->action = c->s;
		break;
	case F_UNSUPPORTED:
		in->supported = 0;
		break;
	case F_NAMESPACE:
		in->namespace = c->s;
		break;
	case F_NO_NAMESPACES:
		in->n_allowed_namespaces = 0;
		break;
	case F_REPLICAS:
		in->replicas = (int)c->d;
		break;
	case F_URL_ALLOWED:
		in->url_allowed = (int)c->d;
		break;
	case F_EXECUTED:
		in->executed_last_hour = (int)c->d;
		break;
	case F_CONFIDENCE:
		in->confidence = c->d;
		break;
	case F_APPROVAL:
		in->approval = c->s;
		in->approved_by = "alice@example.com";
		break;
	case F_MAX_BLAST:
		in->max_autonomous_blast = (enum act_blast)(int)c->d;
		break;
	}
}

#define C(f, s, d) { f, s, d }

static const struct row ROWS[] = {
	{ "base executes", { C(F_NONE, NULL, 0) }, ACT_EXECUTE, "autonomous", "allowlisted" },
	/* 1 */
	{ "autonomy off", { C(F_AUTONOMY, "off", 0) }, ACT_REFUSE, "autonomy_off", "off" },
	{ "autonomy unknown is off", { C(F_AUTONOMY, NULL, 0) }, ACT_REFUSE, "autonomy_off",
	  "off" },
	/* 2 */
	{ "no adapter", { C(F_UNSUPPORTED, NULL, 0) }, ACT_REFUSE, "no_adapter",
	  "rollout_restart" },
	/* 3 */
	{ "rejected", { C(F_APPROVAL, "rejected", 0) }, ACT_REFUSE, "rejected",
	  "alice@example.com" },
	{ "expired", { C(F_APPROVAL, "expired", 0) }, ACT_REFUSE, "approval_expired", "in time" },
	/* 4 */
	{ "namespace closed", { C(F_NAMESPACE, "kube-system", 0) }, ACT_REFUSE,
	  "namespace_not_allowed", "kube-system" },
	{ "empty allowlist opens nothing", { C(F_NO_NAMESPACES, NULL, 0) }, ACT_REFUSE,
	  "namespace_not_allowed", "shop" },
	{ "a node action has no namespace",
	  { C(F_ACTION, "cordon_node", 0), C(F_NAMESPACE, NULL, 0),
	    C(F_MAX_BLAST, NULL, ACT_BLAST_HIGH) },
	  ACT_EXECUTE, "autonomous", "high" },
	/* 5 */
	{ "replicas above cap", { C(F_ACTION, "scale_deployment", 0), C(F_REPLICAS, NULL, 11) },
	  ACT_REFUSE, "replica_cap", "cap of 10" },
	{ "replicas at cap need approval (not allowlisted)",
	  { C(F_ACTION, "scale_deployment", 0), C(F_REPLICAS, NULL, 10) }, ACT_NEEDS_APPROVAL,
	  "not_autonomous", "scale_deployment" },
	/* 6 */
	{ "http URL not allowed",
	  { C(F_ACTION, "http", 0), C(F_NAMESPACE, NULL, 0), C(F_URL_ALLOWED, NULL, 0) },
	  ACT_REFUSE, "url_not_allowed", "allowlist" },
	{ "http URL allowed but not autonomous",
	  { C(F_ACTION, "http", 0), C(F_NAMESPACE, NULL, 0), C(F_URL_ALLOWED, NULL, 1) },
	  ACT_NEEDS_APPROVAL, "not_autonomous", "http" },
	/* 7 */
	{ "hourly cap reached", { C(F_EXECUTED, NULL, 20) }, ACT_REFUSE, "hourly_cap", "20" },
	{ "one under the hourly cap", { C(F_EXECUTED, NULL, 19) }, ACT_EXECUTE, "autonomous",
	  "confidence" },
	/* 8 */
	{ "dry run", { C(F_AUTONOMY, "dry_run", 0) }, ACT_DRY_RUN, "dry_run", "dry_run" },
	{ "dry run even when approved",
	  { C(F_AUTONOMY, "dry_run", 0), C(F_APPROVAL, "approved", 0) }, ACT_DRY_RUN, "dry_run",
	  "without effect" },
	{ "dry run is not held back by the hourly cap",
	  { C(F_AUTONOMY, "dry_run", 0), C(F_EXECUTED, NULL, 19) }, ACT_DRY_RUN, "dry_run",
	  "dry_run" },
	/* 9 */
	{ "approved in approval mode",
	  { C(F_AUTONOMY, "approval", 0), C(F_APPROVAL, "approved", 0) }, ACT_EXECUTE,
	  "approved", "alice@example.com" },
	{ "approval overrides low confidence",
	  { C(F_CONFIDENCE, NULL, 0.2), C(F_APPROVAL, "approved", 0) }, ACT_EXECUTE, "approved",
	  "alice" },
	/* 10 */
	{ "not in autonomous_actions", { C(F_ACTION, "scale_deployment", 0) },
	  ACT_NEEDS_APPROVAL, "not_autonomous", "autonomous_actions" },
	{ "blast radius above limit", { C(F_ACTION, "cordon_node", 0), C(F_NAMESPACE, NULL, 0) },
	  ACT_NEEDS_APPROVAL, "blast_radius", "high" },
	{ "low blast under a low limit",
	  { C(F_ACTION, "restart_pod", 0), C(F_MAX_BLAST, NULL, ACT_BLAST_LOW) }, ACT_EXECUTE,
	  "autonomous", "low" },
	{ "medium blast over a low limit", { C(F_MAX_BLAST, NULL, ACT_BLAST_LOW) },
	  ACT_NEEDS_APPROVAL, "blast_radius", "medium" },
	{ "confidence below threshold", { C(F_CONFIDENCE, NULL, 0.84) }, ACT_NEEDS_APPROVAL,
	  "low_confidence", "0.84" },
	{ "confidence at threshold", { C(F_CONFIDENCE, NULL, 0.85) }, ACT_EXECUTE, "autonomous",
	  "0.85" },
	/* 11 */
	{ "approval mode asks", { C(F_AUTONOMY, "approval", 0) }, ACT_NEEDS_APPROVAL,
	  "approval_required", "approval" },
	{ "approval mode, waiting",
	  { C(F_AUTONOMY, "approval", 0), C(F_APPROVAL, "pending", 0) }, ACT_NEEDS_APPROVAL,
	  "awaiting_approval", "waiting" },
	{ "unknown mode asks, never executes", { C(F_AUTONOMY, "yolo", 0) }, ACT_NEEDS_APPROVAL,
	  "approval_required", "yolo" },
	/* combinations: the first rule wins */
	{ "off beats approved", { C(F_AUTONOMY, "off", 0), C(F_APPROVAL, "approved", 0) },
	  ACT_REFUSE, "autonomy_off", "off" },
	{ "closed namespace beats approved",
	  { C(F_NAMESPACE, "kube-system", 0), C(F_APPROVAL, "approved", 0) }, ACT_REFUSE,
	  "namespace_not_allowed", "kube-system" },
	{ "closed namespace beats dry run",
	  { C(F_NAMESPACE, "kube-system", 0), C(F_AUTONOMY, "dry_run", 0) }, ACT_REFUSE,
	  "namespace_not_allowed", "kube-system" },
	{ "cap beats approved",
	  { C(F_ACTION, "scale_deployment", 0), C(F_REPLICAS, NULL, 50),
	    C(F_APPROVAL, "approved", 0) },
	  ACT_REFUSE, "replica_cap", "50" },
	{ "no adapter beats rejected", { C(F_UNSUPPORTED, NULL, 0), C(F_APPROVAL, "rejected", 0) },
	  ACT_REFUSE, "no_adapter", "adapter" },
	{ "hourly cap beats approved", { C(F_EXECUTED, NULL, 25), C(F_APPROVAL, "approved", 0) },
	  ACT_REFUSE, "hourly_cap", "25" },
	{ "unknown action is high blast",
	  { C(F_ACTION, "format_disk", 0), C(F_NAMESPACE, NULL, 0) }, ACT_NEEDS_APPROVAL,
	  "not_autonomous", "format_disk" },
};

static void test_table(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++) {
		const struct row *r = &ROWS[i];
		struct act_policy_in in = base();
		struct act_policy_out out;

		for (j = 0; j < 3; j++)
			apply(&in, &r->ch[j]);
		memset(&out, 0xa5, sizeof(out));
		act_policy_decide(&in, &out);
		if (out.verdict != r->verdict || strcmp(out.rule, r->rule) != 0 ||
		    strstr(out.why, r->why_has) == NULL)
			fail_msg("row \"%s\": got %s/%s \"%s\", want %s/%s with \"%s\"", r->name,
				 act_verdict_str(out.verdict), out.rule, out.why,
				 act_verdict_str(r->verdict), r->rule, r->why_has);
	}
}

/* Every refusal, paired with every mode and approval state: still a
 * refusal.  And without a refusal, no mode but autonomous/approved
 * executes. */
static void test_sweep(void **state)
{
	static const char *const modes[] = { "off", "dry_run", "approval", "autonomous" };
	static const char *const approvals[] = { NULL, "pending", "approved" };
	size_t m, a, k;

	(void)state;
	for (m = 0; m < 4; m++)
		for (a = 0; a < 3; a++)
			for (k = 0; k < 5; k++) {
				struct act_policy_in in = base();
				struct act_policy_out out;

				in.autonomy = modes[m];
				in.approval = approvals[a];
				switch (k) {
				case 0:
					in.supported = 0;
					break;
				case 1:
					in.namespace = "default";
					break;
				case 2:
					in.replicas = 11;
					break;
				case 3:
					in.executed_last_hour = 99;
					break;
				case 4: /* no refusal */
					break;
				}
				act_policy_decide(&in, &out);
				if (k < 4 || m == 0) {
					assert_int_equal(out.verdict, ACT_REFUSE);
					continue;
				}
				if (out.verdict == ACT_EXECUTE)
					assert_true(strcmp(modes[m], "autonomous") == 0 ||
						    (approvals[a] != NULL &&
						     strcmp(approvals[a], "approved") == 0));
				if (m == 1)
					assert_int_equal(out.verdict, ACT_DRY_RUN);
			}
}

static void test_blast(void **state)
{
	enum act_blast b;

	(void)state;
	assert_int_equal(act_blast_of("restart_pod"), ACT_BLAST_LOW);
	assert_int_equal(act_blast_of("scale_deployment"), ACT_BLAST_MEDIUM);
	assert_int_equal(act_blast_of("cordon_node"), ACT_BLAST_HIGH);
	assert_int_equal(act_blast_of(NULL), ACT_BLAST_HIGH);
	assert_int_equal(act_blast_parse("medium", &b), 0);
	assert_int_equal(b, ACT_BLAST_MEDIUM);
	assert_int_equal(act_blast_parse("huge", &b), -1);
	assert_string_equal(act_blast_str(ACT_BLAST_HIGH), "high");
	assert_string_equal(act_verdict_str(ACT_NEEDS_APPROVAL), "needs_approval");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_blast),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
