/* group.h - explainable grouping: which open incident an alert joins, by
 * which rule, on which values.
 *
 * A tenant's rules are an ordered list (tenant_settings.grouping_rules,
 * 0010; NULL means the defaults below).  Each rule is a name, the fields
 * that must be present and equal, optionally fields that must be absent
 * ("unless"), and a window: an open incident takes an alert by that rule
 * only if it saw a signal within window_s seconds.  JSON form:
 *
 *   [{"name": "service", "fields": ["service"], "window_s": 300},
 *    {"name": "host", "fields": ["host"], "unless": ["service"]}, ...]
 *
 * Fields: fingerprint, sender_key (the sender's own group: Alertmanager's
 * and Grafana's groupKey, PagerDuty's incident_key), service, namespace,
 * host, name, label:KEY.  window_s: 0 = no window; absent = the tenant's
 * grouping_window_s.
 *
 * The decision (ax_group_decide) is pure: the caller supplies a lookup of
 * "the open incident of this key" (or, for a rule of the fingerprint
 * alone, "the open incident holding this fingerprint") and how long ago it
 * saw a signal.  The rules are tried in order; the first one whose fields
 * the alert has and whose incident is fresh attaches the alert.  When none
 * does, the alert opens an incident under the key of the first rule that
 * applies to it (other than the fingerprint rule); an open incident of
 * that key which a window refused is "stale" and must be closed first
 * (one open incident per key: incidents_open_group).  When no rule
 * applies at all the alert is grouped by its name (rule "name").
 *
 * The defaults are the grouping reason always did: fingerprint (no
 * window), then exactly one of service; namespace+host; host; name (the
 * "unless" lists make them exclusive), with the tenant's window.
 *
 * Keys are "<rule name>:<values joined by '/'>", e.g. "service:pay".
 *
 * Two decisions sit beside the rules, also pure so replay and the tests
 * share them with reason: flapping (an alert that fires again within the
 * tenant's flap_window_s of resolving goes back to the incident it
 * resolved in, rule "flapping") and the root CI an incident shares with
 * an older open one (its parent, incidents.parent_id). */
#ifndef AX_GROUP_H
#define AX_GROUP_H

#include <cjson/cJSON.h>
#include "alexus/err.h"
#include "alexus/signal.h"

#define AX_GROUP_MAX_RULES 32
#define AX_GROUP_MAX_FIELDS 8
#define AX_GROUP_NAME_MAX 64
#define AX_GROUP_WINDOW_MAX 604800L     /* a week, as grouping_window_s */

enum ax_group_field {
	AX_GF_FINGERPRINT,
	AX_GF_SENDER_KEY,
	AX_GF_SERVICE,
	AX_GF_NAMESPACE,
	AX_GF_HOST,
	AX_GF_NAME,
	AX_GF_LABEL,
};

struct ax_group_field_ref {
	enum ax_group_field f;
	char *label;                    /* AX_GF_LABEL: the label's key (owned) */
};

struct ax_group_rule {
	char *name;                     /* owned */
	struct ax_group_field_ref fields[AX_GROUP_MAX_FIELDS];
	int nfields;
	struct ax_group_field_ref unless[AX_GROUP_MAX_FIELDS];
	int nunless;
	long window_s;                  /* -1: the tenant's window; 0: none */
};

struct ax_group_rules {
	struct ax_group_rule *v;
	int n;
	long window_s;                  /* the tenant's grouping_window_s */
};

/* What the rules look at in an alert; strings borrowed. */
struct ax_group_input {
	const char *fingerprint;
	const char *sender_key;
	const char *service;
	const char *namespace_;
	const char *host;
	const char *name;
	const cJSON *labels;
};

/* The sender's own group of s, or NULL: raw.groupKey (Alertmanager,
 * Grafana), else annotations.incident_key (PagerDuty), else the label
 * group_key. */
const char *ax_group_sender_key(const struct ax_signal *s);
/* in from s (borrowing s's strings). */
void ax_group_input_of(struct ax_group_input *in, const struct ax_signal *s);

/* The default rules with the tenant's window. */
void ax_group_rules_default(struct ax_group_rules *rs, long window_s);
/* Rules from JSON text; NULL or "" or "null": the defaults.  AX_EPROTO with
 * errbuf naming the first problem ("grouping_rules[2].fields[0]: unknown
 * field \"servce\""); rs is then empty. */
ax_err ax_group_rules_parse(struct ax_group_rules *rs, const char *json, long window_s,
			    char *errbuf, size_t errlen) AX_MUSTCHECK;
void ax_group_rules_release(struct ax_group_rules *rs);
/* The rules as JSON (the effective window of each spelled out). */
cJSON *ax_group_rules_json(const struct ax_group_rules *rs);

/* The effective window of r in seconds (0: none). */
long ax_group_window(const struct ax_group_rules *rs, const struct ax_group_rule *r);
/* 1 when r's only field is the fingerprint. */
int ax_group_is_fingerprint(const struct ax_group_rule *r);
/* r's key for in, or NULL when r does not apply (a field absent or an
 * "unless" field present).  *values (when values is not NULL) gets an
 * object {"field": "value"} of what the key is made of.  free() the key. */
char *ax_group_key(const struct ax_group_rule *r, const struct ax_group_input *in,
		   cJSON **values);

/* The open incident rule r would attach to for key (for the fingerprint
 * rule: the one holding in->fingerprint), or NULL; *idle_s gets the
 * seconds since that incident last saw a signal. */
typedef void *ax_group_lookup_fn(void *arg, const struct ax_group_rule *r, const char *key,
				 const struct ax_group_input *in, double *idle_s);

struct ax_group_decision {
	const struct ax_group_rule *rule;   /* the rule that attached, or that it opens under */
	void *incident;         /* attached to; NULL: open an incident under key */
	char *key;              /* owned; NULL: no rule applies (cannot be grouped) */
	cJSON *values;          /* owned: what key is made of */
	double idle_s;          /* of the incident attached to */
	void *stale;            /* open incident of key refused by its window */
	double stale_idle_s;
	cJSON *refused;         /* owned array of {"rule","key","idle_s","window_s"} */
};

void ax_group_decide(const struct ax_group_rules *rs, const struct ax_group_input *in,
		     ax_group_lookup_fn *lookup, void *arg, struct ax_group_decision *d);
void ax_group_decision_release(struct ax_group_decision *d);
/* alerts.group_rule of an alert that joined its group's open incident
 * because it was flapping (a reserved rule name, like "opened"). */
#define AX_GROUP_RULE_FLAPPING "flapping"

/* 1 when an alert that resolved resolved_s seconds ago and now fires again
 * is flapping under the tenant's flap_window_s (0: never; resolved_s < 0:
 * not resolved). */
int ax_group_is_flap(long flap_window_s, double resolved_s);

/* The root CI of an alert: the machine it runs on -- its host, else its
 * Kubernetes "node" label -- or NULL.  *kind (when kind is not NULL) gets
 * "host" or "node".  Not its namespace: a namespace holds many unrelated
 * services, and would make every incident of "prod" a child of the
 * oldest. */
const char *ax_group_root_ci(const struct ax_group_input *in, const char **kind);

/* alerts.group_rule: the attaching rule's name, or "opened". */
const char *ax_group_decision_rule(const struct ax_group_decision *d);
/* alerts.group_match: {"key","values":{...}} plus "rule" (opened: the
 * rule it opened under), "idle_s"/"window_s" (attached), "refused" (when
 * a window refused an incident).  New object. */
cJSON *ax_group_decision_match(const struct ax_group_rules *rs,
			       const struct ax_group_decision *d);
/* "service=pay namespace=prod" from a group_match (or values) object;
 * free() it. */
char *ax_group_match_text(const cJSON *match);

#endif /* AX_GROUP_H */
