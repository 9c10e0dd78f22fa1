/* decide.h - confidence calibration and the confidence_check decision.
 *
 * Pure: the state machine's stages (run.c) call these with what they
 * gathered, and tests/unit/test_decide.c pins them down.
 *
 * Calibration.  A model's own confidence is not trusted as given: models
 * state 0.9 for a guess.  The heuristic investigation runs on the same
 * context whatever answered (it costs microseconds), and the calibrated
 * confidence is
 *   model answered:  0.5 * model + 0.5 * heuristic + agreement + similar_fix
 *   heuristic only:  heuristic (its own parts already weigh the rule's
 *                    strength, corroborating alerts, deploys, similar
 *                    incidents and the CI neighbourhood)
 * where agreement is +0.05 when both name the same category and -0.10
 * when they differ, and similar_fix is +0.1 x the similarity of the best
 * past incident whose recorded fix begins with the proposed first action
 * (so "this was fixed this way before" counts once, at most +0.1).
 * Clamped to [0.05, 0.99] and rounded to two decimals; every part is
 * recorded.
 *
 * Decision, against the tenant's thresholds (tenant_settings):
 *   first action "escalate"                  -> escalate (the analysis
 *                                               itself asks for on-call)
 *   confidence >= execute_threshold          -> execute
 *   confidence >= clarify_threshold          -> clarify
 *   otherwise                                -> escalate */
#ifndef REASON_DECIDE_H
#define REASON_DECIDE_H

#include <cjson/cJSON.h>

struct reason_thresholds {
	double execute;   /* tenant_settings.execute_threshold, 0.85 by default */
	double clarify;   /* tenant_settings.clarify_threshold, 0.5 by default */
};

#define REASON_THRESHOLDS_DEFAULT { 0.85, 0.5 }

struct reason_calibration {
	int from_model;
	double model;        /* the model's stated confidence (from_model only) */
	double heuristic;    /* the heuristic's confidence on the same context */
	double agreement;    /* from_model only */
	double similar_fix;  /* from_model only */
	double confidence;   /* the result */
};

/* answer and heuristic are analysis documents (reason_analysis_json
 * shape: category, confidence, actions[0].type); answer is the model's,
 * or NULL when the heuristic answered.  similar is the retrieval's
 * "similar" array ([{"fix","score"},...]) or NULL. */
void reason_calibrate(const cJSON *answer, const cJSON *heuristic, const cJSON *similar,
		      struct reason_calibration *out);

/* {"from":"model"|"heuristic","model","heuristic","agreement",
 *  "similar_fix","confidence"} (model-only parts omitted for the
 * heuristic); a new tree. */
cJSON *reason_calibration_json(const struct reason_calibration *c);

/* "execute", "clarify" or "escalate" (static); *why (static or into
 * whybuf) says which rule decided.  first_action may be NULL. */
const char *reason_decide(double confidence, const char *first_action,
			  const struct reason_thresholds *t, char *whybuf, size_t whylen);

#endif /* REASON_DECIDE_H */
