/* generic.c - the generic JSON format, for senders without a driver of
 * their own (scripts, cron jobs, template-driven tools configured to emit
 * it).
 *
 * The format.  The body is one event object, {"alerts": [event, ...]} or
 * a top-level array [event, ...].  An event is an object with:
 *   name | title | alertname   required, a non-empty string (an event of
 *                              the Alertmanager shape may instead carry
 *                              labels.alertname)
 *   status       firing (default) | resolved, and the usual synonyms:
 *                triggered, alerting, problem, open, active, raised ->
 *                firing; ok, resolved, recovered, recovery, closed,
 *                cleared, normal, inactive -> resolved (case-insensitive);
 *                anything else is refused
 *   severity     critical | high | warning | info and the spellings that
 *                ax_severity_parse knows (P1, sev2, error, ...); absent or
 *                unknown = warning
 *   summary | message, description, service, host, namespace   strings
 *   labels, annotations   objects; values should be strings (numbers and
 *                booleans are stringified, structures dropped)
 *   starts_at | startsAt, ends_at | endsAt   RFC 3339 strings, kept as sent
 *   kind         alert (default) | deploy | change | ticket | check
 *   fingerprint | id   the sender's stable id for the event (string or
 *                integer); when given, fingerprint = hex SHA-256 of
 *                "generic\nid=<id>" and source_ref.id = <id>
 *   url          link back to the sender (source_ref.url)
 * Without an id the fingerprint is ax_signal_fingerprint (source
 * "generic") over the labels plus the reserved keys __name__, __service__
 * and __host__ set to name, service and host (when present): the same
 * event firing and resolving therefore dedups and groups as one, and two
 * events that differ only in name or service do not.  raw is the event.
 *
 * Detection: an object with a name/title/alertname string, or whose
 * "alerts" array starts with such an object, or an array that does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "generic"

static const char *const name_keys[] = { "name", "title", "alertname", NULL };
static const char *const summary_keys[] = { "summary", "message", NULL };
static const char *const starts_keys[] = { "starts_at", "startsAt", NULL };
static const char *const ends_keys[] = { "ends_at", "endsAt", NULL };

/* Synonyms beyond ax_status_parse's table. */
static const char *const extra_firing[] = { "raised", NULL };
static const char *const extra_resolved[] = { "cleared", "normal", "inactive", NULL };

static const char *event_name(const cJSON *ev)
{
	const char *n = ingest_first_str(ev, name_keys);

	if (n == NULL)
		n = ax_json_str(cJSON_GetObjectItemCaseSensitive(ev, "labels"), "alertname");
	return n;
}

static int has_name(const cJSON *ev)
{
	return cJSON_IsObject(ev) && event_name(ev) != NULL;
}

static int gen_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;
	const cJSON *alerts;

	(void)d;
	if (cJSON_IsArray(doc))
		return has_name(cJSON_GetArrayItem(doc, 0));
	if (!cJSON_IsObject(doc))
		return 0;
	alerts = cJSON_GetObjectItemCaseSensitive(doc, "alerts");
	if (cJSON_IsArray(alerts))
		return has_name(cJSON_GetArrayItem(alerts, 0));
	return has_name(doc);
}

static int in_list(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++) {
		if (strcasecmp(s, list[i]) == 0)
			return 1;
	}
	return 0;
}

static int parse_status(const char *s, enum ax_status *out)
{
	if (s == NULL) {
		*out = AX_STATUS_FIRING;
		return 0;
	}
	if (ax_status_parse(s, out) == 0)
		return 0;
	if (in_list(s, extra_firing)) {
		*out = AX_STATUS_FIRING;
		return 0;
	}
	if (in_list(s, extra_resolved)) {
		*out = AX_STATUS_RESOLVED;
		return 0;
	}
	return -1;
}

/* The sender's id as text: a non-empty string or an integer. */
static int event_id(const cJSON *ev, char *buf, size_t len)
{
	static const char *const keys[] = { "fingerprint", "id", NULL };
	const cJSON *v;
	size_t i;

	for (i = 0; keys[i] != NULL; i++) {
		v = cJSON_GetObjectItemCaseSensitive(ev, keys[i]);
		if (cJSON_IsString(v) && v->valuestring != NULL && v->valuestring[0] != '\0') {
			snprintf(buf, len, "%s", v->valuestring);
			return 1;
		}
		if (cJSON_IsNumber(v) && fabs(v->valuedouble) <= 9007199254740992.0 &&
		    v->valuedouble == (double)(long long)v->valuedouble) {
			snprintf(buf, len, "%lld", (long long)v->valuedouble);
			return 1;
		}
	}
	return 0;
}

static void fingerprint_by_fields(struct ax_signal *s)
{
	struct ax_signal t;

	/* A scratch signal so the digest uses the library's one format. */
	ax_signal_init(&t);
	t.source = ax_xstrdup(SOURCE);
	ingest_copy_strmap(t.labels, s->labels);
	cJSON_DeleteItemFromObjectCaseSensitive(t.labels, "__name__");
	cJSON_DeleteItemFromObjectCaseSensitive(t.labels, "__service__");
	cJSON_DeleteItemFromObjectCaseSensitive(t.labels, "__host__");
	ax_json_add_str(t.labels, "__name__", s->name, 0);
	ax_json_add_str(t.labels, "__service__", s->service, 0);
	ax_json_add_str(t.labels, "__host__", s->host, 0);
	ax_signal_fingerprint(&t, NULL);
	memcpy(s->fingerprint, t.fingerprint, sizeof(s->fingerprint));
	ax_signal_release(&t);
}

static ax_err gen_one(const cJSON *ev, int i, struct ingest_batch *out, char *errbuf,
		      size_t errlen)
{
	const cJSON *labels, *annotations, *status_v, *kind_v;
	const char *name, *sev, *ts;
	enum ax_status st = AX_STATUS_FIRING;
	enum ax_kind kind = AX_KIND_ALERT;
	struct ax_signal *s;
	char id[256], *key;

	if (!cJSON_IsObject(ev)) {
		ax_errfmt(errbuf, errlen, "event %d is not an object", i);
		return AX_EPROTO;
	}
	name = event_name(ev);
	if (name == NULL) {
		ax_errfmt(errbuf, errlen, "event %d has no name, title or alertname", i);
		return AX_EPROTO;
	}
	status_v = cJSON_GetObjectItemCaseSensitive(ev, "status");
	if (status_v != NULL && !cJSON_IsNull(status_v) &&
	    (!cJSON_IsString(status_v) || parse_status(status_v->valuestring, &st) != 0)) {
		ax_errfmt(errbuf, errlen, "event %d: status must be firing or resolved", i);
		return AX_EPROTO;
	}
	kind_v = cJSON_GetObjectItemCaseSensitive(ev, "kind");
	if (kind_v != NULL && !cJSON_IsNull(kind_v) &&
	    (!cJSON_IsString(kind_v) || ax_kind_parse(kind_v->valuestring, &kind) != 0)) {
		ax_errfmt(errbuf, errlen,
			  "event %d: kind must be alert, deploy, change, ticket or check", i);
		return AX_EPROTO;
	}
	labels = cJSON_GetObjectItemCaseSensitive(ev, "labels");
	annotations = cJSON_GetObjectItemCaseSensitive(ev, "annotations");
	if ((labels != NULL && !cJSON_IsNull(labels) && !cJSON_IsObject(labels)) ||
	    (annotations != NULL && !cJSON_IsNull(annotations) && !cJSON_IsObject(annotations))) {
		ax_errfmt(errbuf, errlen, "event %d: labels and annotations must be objects", i);
		return AX_EPROTO;
	}

	s = ingest_batch_add(out);
	s->kind = kind;
	s->status = st;
	s->name = ax_xstrdup(name);
	ingest_copy_strmap(s->labels, labels);
	ingest_copy_strmap(s->annotations, annotations);
	sev = ax_json_str(ev, "severity");
	if (sev == NULL || ax_severity_parse(sev, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
	s->summary = ax_xstrdup(ingest_first_str(ev, summary_keys));
	s->description = ingest_dup_str(ev, "description");
	s->service = ingest_dup_str(ev, "service");
	s->host = ingest_dup_str(ev, "host");
	s->namespace_ = ingest_dup_str(ev, "namespace");
	ts = ingest_first_str(ev, starts_keys);
	if (!ingest_time_unset(ts))
		s->starts_at = ax_xstrdup(ts);
	ts = ingest_first_str(ev, ends_keys);
	if (!ingest_time_unset(ts))
		s->ends_at = ax_xstrdup(ts);
	s->source = ax_xstrdup(SOURCE);
	s->source_url = ingest_dup_str(ev, "url");
	if (event_id(ev, id, sizeof(id))) {
		s->source_id = ax_xstrdup(id);
		key = ax_xasprintf("%s\nid=%s", SOURCE, id);
		ax_sha256_hex(key, strlen(key), s->fingerprint);
		free(key);
	} else {
		fingerprint_by_fields(s);
	}
	s->raw = cJSON_Duplicate(ev, 1);
	if (s->raw == NULL)
		abort();
	return AX_OK;
}

static ax_err gen_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const cJSON *events = NULL, *ev;
	int i = 0, n;
	ax_err rc;

	(void)d;
	if (cJSON_IsArray(doc)) {
		events = doc;
	} else if (cJSON_IsObject(doc)) {
		events = cJSON_GetObjectItemCaseSensitive(doc, "alerts");
		if (events != NULL && !cJSON_IsArray(events)) {
			ax_errfmt(errbuf, errlen, "\"alerts\" is not an array");
			return AX_EPROTO;
		}
		if (events == NULL)
			return gen_one(doc, 0, out, errbuf, errlen);
	} else {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object or array");
		return AX_EPROTO;
	}
	n = cJSON_GetArraySize(events);
	if (n == 0) {
		ax_errfmt(errbuf, errlen, "no events in the payload");
		return AX_EPROTO;
	}
	if (n > INGEST_MAX_SIGNALS) {
		ax_errfmt(errbuf, errlen, "%d events in one payload; at most %d are accepted", n,
			  INGEST_MAX_SIGNALS);
		return AX_EPROTO;
	}
	cJSON_ArrayForEach(ev, events) {
		rc = gen_one(ev, i++, out, errbuf, errlen);
		if (rc != AX_OK)
			return rc;
	}
	return AX_OK;
}

const struct ingest_driver ingest_driver_generic = {
	.name = SOURCE,
	.title = "Generic JSON",
	.detect = gen_detect,
	.normalize = gen_normalize,
};
