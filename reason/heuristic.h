/* heuristic.h - the heuristic investigation: from an incident's alerts to a
 * category, a probable cause, proposed actions with parameters and a
 * calibrated confidence.
 *
 * It is the IncidentAgent's answer when no model is configured and its
 * fallback when the model fails (issue 5, "Providers"), so its output has
 * the shape a model's validated answer has (reason_analysis_json).  Pure:
 * no I/O; the caller gathers the context (similar incidents, CI
 * neighbourhood, recent deploys) and passes it in.
 *
 * Categories (static strings): memory, disk, cpu, network, crashloop,
 * latency, errors, certificate, deployment, database, queue, availability,
 * other.  "deployment" covers both a failing rollout and a deploy
 * regression (symptoms on a service deployed shortly before).
 *
 * Action vocabulary (DESIGN.md fixes none; act maps these to adapters, its
 * policy decides whether one runs).  params are strings except replicas:
 *   rollout_restart        {namespace, deployment}
 *   restart_pod            {namespace, pod}
 *   scale_deployment       {namespace, deployment, replicas (number)}
 *   rollback_deployment    {namespace, deployment, to_revision?}
 *   increase_memory_limit  {namespace, deployment}
 *   expand_volume          {namespace, persistentvolumeclaim} | {volume}
 *   cleanup_disk           {host, mountpoint?}
 *   renew_certificate      {namespace?, certificate?, domain?}
 *   cordon_node            {node}
 *   notify_only            {service?, team?}   nothing to run: tell owners
 *   escalate               {service?, team?}   page on-call
 * A remediation is proposed only when its target can be named from the
 * alerts (or the deploy record); otherwise the first action is escalate for
 * a critical incident and notify_only for any other. */
#ifndef REASON_HEURISTIC_H
#define REASON_HEURISTIC_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "alexus/err.h"
#include "alexus/signal.h"

#define REASON_MAX_ACTIONS 3
#define REASON_MAX_EVIDENCE 12

/* A deploy near the incident.  Strings are borrowed for the call. */
struct reason_deploy {
	const char *service;          /* the deployed workload; required */
	const char *namespace_;       /* NULL when unknown */
	const char *version;          /* NULL when unknown */
	const char *previous_version; /* the rollback target, NULL when unknown */
	long age_s;                   /* seconds from the deploy to the investigation */
};

/* A past incident the retrieval found similar. */
struct reason_similar {
	const char *title;
	const char *category;   /* NULL when unknown */
	const char *resolution; /* the action type that resolved it, NULL if none */
	double score;           /* similarity in [0, 1] */
};

/* Everything optional: NULL arrays with zero counts are an empty context. */
struct reason_context {
	const struct reason_similar *similar;
	int nsimilar;
	const char *const *ci;         /* names of the CIs around the alerts */
	int nci;
	const struct reason_deploy *deploys;
	int ndeploys;
};

struct reason_action {
	const char *type;  /* static, from the vocabulary above */
	cJSON *params;     /* object, owned */
	char *reason;      /* owned */
};

/* The parts the confidence is the sum of (then clamped to [0.05, 0.99]
 * and rounded to two decimals), recorded so a reader can see why. */
struct reason_confidence_parts {
	double base;          /* strength of the winning rule */
	double corroboration; /* +0.05 per further alert agreeing, at most +0.1 */
	double deploy;        /* a suspect deploy: up to +0.2, fresher is more */
	double similar;       /* similar incidents of this category or resolved
			       * by the first action: +0.1 * similarity, <= +0.15 */
	double ci;            /* an alert names a CI of the neighbourhood: +0.05 */
	double ambiguity;     /* -0.1 when another category scored nearly as
			       * well on the root alert, -0.05 per other
			       * category on the root's layer (two at most) */
	double severity;      /* -0.1 when every firing alert is info */
};

struct reason_analysis {
	const char *category;     /* static */
	const char *rule;         /* static id of the winning rule */
	char *summary;            /* owned */
	char *probable_cause;     /* owned */
	double confidence;
	struct reason_confidence_parts parts;
	int nactions;
	struct reason_action actions[REASON_MAX_ACTIONS];
	int nevidence;
	char *evidence[REASON_MAX_EVIDENCE]; /* owned */
};

/* Investigate the incident made of alerts[0..n).  Firing alerts are the
 * evidence (all of them when none is firing); deploy signals among them
 * are deploy suspects, change signals are ignored.  ctx may be NULL.
 * out is overwritten (no need to init); release it with
 * reason_analysis_release.  n == 0 gives category "other", notify_only.
 *
 * How it decides, in short: every alert is scored against a rule table
 * (keywords over the alert's name, summary, description, label and
 * annotation values); the rules are layered, causes (disk, memory,
 * database, network, certificate) over workload states (crash loop, CPU,
 * rollout, pod readiness, queue) over symptoms (errors, latency, target
 * down), and the incident's root is the best rule of the highest layer any
 * alert reached.  A deploy of an affected workload within the last hour
 * turns an application symptom into a deploy regression.  The actions
 * follow from the root rule and the targets found in the labels; a similar
 * past incident of the same category lifts the action that resolved it. */
void reason_investigate(const struct ax_signal *alerts, int n, const struct reason_context *ctx,
			struct reason_analysis *out);

/* Free what out owns and zero it; harmless on a zeroed struct. */
void reason_analysis_release(struct reason_analysis *a);

/* {"category","rule","summary","probable_cause","confidence",
 *  "confidence_parts":{...},"actions":[{"type","params":{},"reason"}],
 *  "evidence":[...]}; a new tree the caller deletes. */
cJSON *reason_analysis_json(const struct reason_analysis *a);

/* A context from its JSON form:
 *   {"deploys":[{"service","namespace","version","previous_version","age_s"}],
 *    "similar":[{"title","category","resolution","score"}],
 *    "ci":["name", ...]}
 * every member optional.  Strings are borrowed from j, which must outlive
 * ctx; the arrays are allocated: free them with reason_context_release.
 * AX_EPROTO with errbuf naming the first bad member (ctx left empty). */
ax_err reason_context_from_json(const cJSON *j, struct reason_context *ctx, char *errbuf,
				size_t errlen) AX_MUSTCHECK;
void reason_context_release(struct reason_context *ctx);

#endif /* REASON_HEURISTIC_H */
