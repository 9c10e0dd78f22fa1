/* splunk.c - Splunk's built-in webhook alert action (FORMATS.md
 * section 14c).
 *
 * The body is fixed: {result, sid, results_link, search_name, owner, app},
 * where result is the first result row only, an object of strings with
 * whatever fields the search returned.  One signal per request:
 *   name        search_name (the saved search); an ad-hoc search sends
 *               null, and its only name is then its sid
 *   status      firing.  Saved-search alerts are stateless; a search that
 *               wants to report recovery returns a field alert_status
 *               (e.g. `| eval alert_status=if(count>50,"firing","resolved")`
 *               with the alert set to trigger always), read through
 *               ax_status_parse
 *   severity    result.severity | priority | urgency through
 *               ax_severity_parse, else warning
 *   host        result.host;  service: result.service
 *   labels      the result's fields, except Splunk's internal ones (names
 *               starting with "_")
 *   namespace   result.namespace
 *   summary     search_name;  annotations: app, owner
 *   starts_at   result._time (epoch seconds as a string) when firing;
 *               ends_at: the same when resolved
 *   source_ref  id = sid (one search run), url = results_link
 *   fingerprint source + search + alert_key when the search returns such a
 *               field (its own identity for a row), else source + search +
 *               host + service: the row's identity as far as Splunk's
 *               conventions name it.  Not the sid, which is new on every
 *               run, nor counts or times, which change between runs.
 *   raw         the payload
 * Splunk sends no test notification.  Detection (row 17): sid +
 * results_link strings + result (object or null) + search_name (string or
 * null). */
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "splunk"

static int sp_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(doc, "result");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(doc, "search_name");

	(void)d;
	return cJSON_IsObject(doc) && ax_json_str(doc, "sid") != NULL &&
	       ax_json_str(doc, "results_link") != NULL && (cJSON_IsObject(r) || cJSON_IsNull(r)) &&
	       (cJSON_IsString(n) || cJSON_IsNull(n));
}

static ax_err sp_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	static const char *const sev_keys[] = { "severity", "priority", "urgency", NULL };
	const cJSON *doc = in->doc;
	const cJSON *v, *result, *row, *e;
	const char *sid, *name, *sev, *astatus;
	enum ax_status st = AX_STATUS_FIRING;
	struct ax_signal *s;
	char *when;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "sid");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "\"sid\" is missing or not a string");
		return AX_EPROTO;
	}
	sid = v->valuestring;
	result = cJSON_GetObjectItemCaseSensitive(doc, "result");
	if (result != NULL && !cJSON_IsNull(result) && !cJSON_IsObject(result)) {
		ax_errfmt(errbuf, errlen, "\"result\" is not an object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "search_name");
	if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsString(v)) {
		ax_errfmt(errbuf, errlen, "\"search_name\" is not a string");
		return AX_EPROTO;
	}
	name = ax_json_str(doc, "search_name");
	astatus = ax_json_str(result, "alert_status");
	if (astatus != NULL && ax_status_parse(astatus, &st) != 0) {
		ax_errfmt(errbuf, errlen,
			  "result.alert_status \"%.32s\" is neither firing nor resolved", astatus);
		return AX_EPROTO;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = st;
	s->name = ax_xstrdup(name != NULL ? name : sid);
	s->summary = ax_xstrdup(name);
	sev = ingest_first_str(result, sev_keys);
	if (sev == NULL || ax_severity_parse(sev, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
	s->host = ingest_dup_str(result, "host");
	s->service = ingest_dup_str(result, "service");
	s->namespace_ = ingest_dup_str(result, "namespace");
	row = cJSON_IsObject(result) ? result : NULL;
	cJSON_ArrayForEach(e, row) {
		char *val;

		if (e->string == NULL || e->string[0] == '_')
			continue;
		val = ingest_dup_scalar(result, e->string);
		if (val != NULL && cJSON_GetObjectItemCaseSensitive(s->labels, e->string) == NULL)
			ax_json_add_str(s->labels, e->string, val, 0);
		free(val);
	}
	ax_json_add_str(s->annotations, "app", ax_json_str(doc, "app"), 0);
	ax_json_add_str(s->annotations, "owner", ax_json_str(doc, "owner"), 0);
	when = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(result, "_time"));
	if (st == AX_STATUS_RESOLVED)
		s->ends_at = when;
	else
		s->starts_at = when;
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(sid);
	s->source_url = ingest_dup_str(doc, "results_link");
	if (ax_json_str(result, "alert_key") != NULL) {
		const char *kv[] = { "alert_key", ax_json_str(result, "alert_key"), "search",
				     s->name, NULL };

		ingest_fingerprint_kv(s, kv);
	} else {
		const char *kv[] = { "host", s->host, "search", s->name, "service", s->service,
				     NULL };

		ingest_fingerprint_kv(s, kv);
	}
	s->raw = ingest_dup_json(doc);
	return AX_OK;
}

const struct ingest_driver ingest_driver_splunk = {
	.name = SOURCE,
	.title = "Splunk webhook alert action",
	.detect = sp_detect,
	.normalize = sp_normalize,
};
