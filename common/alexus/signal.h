/* signal.h - the canonical signal every source is normalised to.
 *
 * proto/signal.schema.json is the contract; this is its C form.  A signal
 * owns every string and cJSON tree it points at. */
#ifndef AX_SIGNAL_H
#define AX_SIGNAL_H

#include <cjson/cJSON.h>
#include "alexus/err.h"
#include "alexus/hash.h"

enum ax_kind { AX_KIND_ALERT, AX_KIND_DEPLOY, AX_KIND_CHANGE, AX_KIND_TICKET, AX_KIND_CHECK };
enum ax_status { AX_STATUS_FIRING, AX_STATUS_RESOLVED };
enum ax_severity { AX_SEV_CRITICAL, AX_SEV_HIGH, AX_SEV_WARNING, AX_SEV_INFO };

struct ax_signal {
	enum ax_kind kind;
	enum ax_status status;
	enum ax_severity severity;
	char *name;
	char *summary;
	char *description;
	char *service;
	char *host;
	char *namespace_;          /* "namespace" in JSON */
	cJSON *labels;             /* object of strings, never NULL after init */
	cJSON *annotations;        /* object of strings, never NULL after init */
	char *starts_at;           /* RFC 3339 or NULL */
	char *ends_at;             /* RFC 3339 or NULL */
	char *source;              /* driver name, e.g. "alertmanager" */
	char *source_id;           /* source_ref.id */
	char *source_url;          /* source_ref.url */
	char fingerprint[AX_SHA256_HEX];
	cJSON *raw;                /* the sender's payload (or the alert within it) */
};

/* Zero s, then kind alert, status firing, severity warning (the value for
 * a sender that states none), empty labels and annotations. */
void ax_signal_init(struct ax_signal *s);
/* Free the contents and zero s (a second release is harmless); call
 * ax_signal_init before reusing s. */
void ax_signal_release(struct ax_signal *s);

const char *ax_kind_str(enum ax_kind k);
const char *ax_status_str(enum ax_status s);
const char *ax_severity_str(enum ax_severity s);
int ax_kind_parse(const char *s, enum ax_kind *out);       /* 0 ok, -1 unknown */
/* firing|alerting|problem|triggered|open|active, resolved|ok|recovered|
 * recovery|closed; case-insensitive. */
int ax_status_parse(const char *s, enum ax_status *out);
/* Maps the many spellings senders use, case-insensitively:
 *   critical crit fatal emergency emerg p1 sev1 disaster     -> critical
 *   high error err major p2 sev2                              -> high
 *   warning warn minor medium average p3 sev3                 -> warning
 *   info informational information low ok p4 p5 sev4 debug
 *   notice "not classified"                                   -> info */
int ax_severity_parse(const char *s, enum ax_severity *out);

/* Fingerprint = hex SHA-256 of source, then each "key=value" of the
 * identifying labels sorted by key (strcmp), newline separated:
 * "src\nk1=v1\nk2=v2".  ident_keys is a NULL-terminated list; NULL means
 * every label; keys absent from labels are skipped.  Status, severity and
 * time never enter it, so it is stable across firing and resolved and
 * independent of label insertion order. */
void ax_signal_fingerprint(struct ax_signal *s, const char *const *ident_keys);

/* JSON round trip.  to_json returns a new tree with every canonical field
 * (kind, name, status, severity, summary, description, service, host,
 * namespace, labels, annotations, starts_at, ends_at, source,
 * source_ref {id, url}, fingerprint, raw); absent strings are null.
 * from_json validates the required fields (name, status, severity, source,
 * fingerprint = 64 lower-case hex) and the type of every other field, and
 * fills s (init'ed by the call).  On AX_EPROTO errbuf names the first
 * problem and s is left init'ed and empty (releasing it is harmless). */
cJSON *ax_signal_to_json(const struct ax_signal *s);
ax_err ax_signal_from_json(struct ax_signal *s, const cJSON *j, char *errbuf, size_t errlen) AX_MUSTCHECK;

#endif /* AX_SIGNAL_H */
