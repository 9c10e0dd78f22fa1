/* zabbix.c - Zabbix webhook media type (FORMATS.md section 7).
 *
 * Zabbix has no fixed body: a media type is a script that posts its named
 * parameters, so the body is a flat object of strings named by the admin.
 * This driver reads the convention FORMATS.md recommends and documents for
 * our media type (parameter = macro):
 *   event_id {EVENT.ID}  event_name {EVENT.NAME}  event_value {EVENT.VALUE}
 *   event_status {EVENT.STATUS}  event_severity {EVENT.SEVERITY}
 *   event_nseverity {EVENT.NSEVERITY}  event_date {EVENT.DATE}
 *   event_time {EVENT.TIME}  event_tags {EVENT.TAGSJSON}
 *   event_opdata {EVENT.OPDATA}  event_update_status/_action, event_ack_status
 *   event_recovery_date/_time {EVENT.RECOVERY.DATE}/{...TIME}
 *   trigger_id {TRIGGER.ID}  trigger_description {TRIGGER.DESCRIPTION}
 *   host_host {HOST.HOST}  host_name {HOST.NAME}  host_ip {HOST.IP}
 *   item_name, item_value, alert_subject, alert_message, zabbix_url
 * Any other shape needs a declarative profile (ingest/profiles/).
 *
 * Mapping.  A value that is an unresolved macro ("{EVENT.RECOVERY.DATE}",
 * sent literally by Zabbix when it has no value) counts as absent, and
 * numbers are accepted where strings are expected (Zabbix sends both).
 *   name        event_name (required)
 *   status      event_value 1 -> firing, 0 -> resolved; else event_status
 *               PROBLEM -> firing, RESOLVED | OK -> resolved
 *   severity    event_severity (Not classified, Information, Warning,
 *               Average, High, Disaster) through ax_severity_parse, else
 *               event_nseverity: 0-1 info, 2-3 warning, 4 high, 5 critical;
 *               else warning
 *   summary     alert_subject, else event_name;  description:
 *               trigger_description, else alert_message
 *   host        host_host (the technical name, unique in Zabbix), else
 *               host_name
 *   labels      event_tags: {EVENT.TAGSJSON} is a JSON array inside a
 *               string, [{"tag","value"}]; a "k:v, k2:v2" string
 *               ({EVENT.TAGS}) is read too
 *   service     labels.service | app;  namespace: labels.namespace
 *   annotations alert_message, opdata, item_name, item_value, host_name,
 *               host_ip, ack_status
 *   starts_at   event_date + event_time ("2025.06.10" "10:15:30", the
 *               server's local time with no zone: taken as UTC, so run the
 *               Zabbix server in UTC or send {EVENT.DATE} from a UTC
 *               server);  ends_at: event_recovery_date + _time
 *   source_ref  id = event_id, url = zabbix_url/tr_events.php?triggerid=
 *               <trigger_id>&eventid=<event_id> (Zabbix's event page)
 *   fingerprint source + event_id: {EVENT.ID} is the problem event, and a
 *               recovery notification carries the same one (the recovery
 *               event has its own {EVENT.RECOVERY.ID})
 *   raw         the payload
 * Testing a media type in the Zabbix UI sends the parameters' macros
 * unresolved; a payload whose event_id is a macro is a test notification.
 * Detection: event_id + event_name + trigger_id + (event_value or
 * event_status). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "zabbix"

/* "{EVENT.ID}", "{$ZABBIX.URL}": a macro Zabbix left unresolved. */
static int is_macro(const char *v)
{
	size_t n = strlen(v), i;

	if (n < 3 || v[0] != '{' || v[n - 1] != '}')
		return 0;
	for (i = 1; i < n - 1; i++) {
		char c = v[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '$' ||
		      c == '_'))
			return 0;
	}
	return 1;
}

/* obj[key] as an owned string (numbers spelled as in JSON), or NULL when
 * absent, empty or an unresolved macro. */
static char *zdup(const cJSON *obj, const char *key)
{
	char *v = ingest_dup_scalar(obj, key);

	if (v != NULL && is_macro(v)) {
		free(v);
		v = NULL;
	}
	return v;
}

static int zb_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;
	char *id, *tid, *val, *st;
	int ok;

	(void)d;
	if (!cJSON_IsObject(doc) || ax_json_str(doc, "event_name") == NULL)
		return 0;
	id = ingest_dup_scalar(doc, "event_id");
	tid = ingest_dup_scalar(doc, "trigger_id");
	val = ingest_dup_scalar(doc, "event_value");
	st = ingest_dup_scalar(doc, "event_status");
	ok = id != NULL && tid != NULL && (val != NULL || st != NULL);
	free(id);
	free(tid);
	free(val);
	free(st);
	return ok;
}

/* date + " " + time as RFC 3339, or NULL when either is absent. */
static char *date_time(const cJSON *doc, const char *dkey, const char *tkey)
{
	char *dt = zdup(doc, dkey), *tm = zdup(doc, tkey), *both, *out = NULL;

	if (dt != NULL && tm != NULL) {
		cJSON *j;

		both = ax_xasprintf("%s %s", dt, tm);
		j = cJSON_CreateString(both);
		if (j == NULL)
			abort();
		out = ingest_time_dup(j);
		cJSON_Delete(j);
		free(both);
	}
	free(dt);
	free(tm);
	return out;
}

static void add_owned(cJSON *obj, const char *key, char *value)
{
	ax_json_add_str(obj, key, value, 0);
	free(value);
}

static ax_err zb_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	static const char *const service_keys[] = { "service", "app", NULL };
	const cJSON *doc = in->doc;
	const cJSON *v, *tags;
	char *id = NULL, *name = NULL, *value = NULL, *status = NULL, *sev = NULL, *nsev = NULL;
	char *url = NULL, *tid = NULL;
	enum ax_status st;
	struct ax_signal *s;
	ax_err rc = AX_EPROTO;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "event_id");
	if (!cJSON_IsString(v) && !cJSON_IsNumber(v)) {
		ax_errfmt(errbuf, errlen, "\"event_id\" is missing or not a string");
		return AX_EPROTO;
	}
	if (cJSON_IsString(v) && v->valuestring != NULL && is_macro(v->valuestring)) {
		out->ignored = "test notification";
		return AX_OK;
	}
	id = zdup(doc, "event_id");
	if (id == NULL) {
		ax_errfmt(errbuf, errlen, "\"event_id\" is empty");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "event_name");
	name = zdup(doc, "event_name");
	if (!cJSON_IsString(v) || name == NULL) {
		ax_errfmt(errbuf, errlen, "\"event_name\" is missing or not a string");
		goto out;
	}
	tags = cJSON_GetObjectItemCaseSensitive(doc, "event_tags");
	if (tags != NULL && !cJSON_IsNull(tags) && !cJSON_IsString(tags) && !cJSON_IsArray(tags)) {
		ax_errfmt(errbuf, errlen, "\"event_tags\" is neither a string nor an array");
		goto out;
	}
	value = zdup(doc, "event_value");
	status = zdup(doc, "event_status");
	if (value != NULL && strcmp(value, "1") == 0) {
		st = AX_STATUS_FIRING;
	} else if (value != NULL && strcmp(value, "0") == 0) {
		st = AX_STATUS_RESOLVED;
	} else if (value == NULL && status != NULL && strcasecmp(status, "PROBLEM") == 0) {
		st = AX_STATUS_FIRING;
	} else if (value == NULL && status != NULL &&
		   (strcasecmp(status, "RESOLVED") == 0 || strcasecmp(status, "OK") == 0)) {
		st = AX_STATUS_RESOLVED;
	} else {
		ax_errfmt(errbuf, errlen,
			  "cannot tell problem from recovery: \"event_value\" must be 1 or 0, or "
			  "\"event_status\" PROBLEM or RESOLVED");
		goto out;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = st;
	s->name = name;
	name = NULL;
	sev = zdup(doc, "event_severity");
	nsev = zdup(doc, "event_nseverity");
	if (sev == NULL || ax_severity_parse(sev, &s->severity) != 0) {
		if (nsev != NULL && nsev[1] == '\0' && nsev[0] >= '0' && nsev[0] <= '5') {
			static const enum ax_severity bylevel[] = {
				AX_SEV_INFO, AX_SEV_INFO, AX_SEV_WARNING,
				AX_SEV_WARNING, AX_SEV_HIGH, AX_SEV_CRITICAL,
			};

			s->severity = bylevel[nsev[0] - '0'];
		} else {
			s->severity = AX_SEV_WARNING;
		}
	}
	s->summary = zdup(doc, "alert_subject");
	if (s->summary == NULL)
		s->summary = ax_xstrdup(s->name);
	s->description = zdup(doc, "trigger_description");
	if (s->description == NULL)
		s->description = zdup(doc, "alert_message");
	s->host = zdup(doc, "host_host");
	if (s->host == NULL)
		s->host = zdup(doc, "host_name");
	if (cJSON_IsString(tags) && tags->valuestring != NULL && !is_macro(tags->valuestring)) {
		/* {EVENT.TAGSJSON}: JSON inside the string; else {EVENT.TAGS}. */
		cJSON *parsed = ax_json_parse(tags->valuestring, strlen(tags->valuestring), 8);

		if (cJSON_IsArray(parsed) || cJSON_IsObject(parsed))
			ingest_copy_tags(s->labels, parsed);
		else
			ingest_copy_tags(s->labels, tags);
		cJSON_Delete(parsed);
	} else if (cJSON_IsArray(tags)) {
		ingest_copy_tags(s->labels, tags);
	}
	s->service = ax_xstrdup(ingest_first_str(s->labels, service_keys));
	s->namespace_ = ingest_dup_str(s->labels, "namespace");
	add_owned(s->annotations, "alert_message", zdup(doc, "alert_message"));
	add_owned(s->annotations, "opdata", zdup(doc, "event_opdata"));
	add_owned(s->annotations, "item_name", zdup(doc, "item_name"));
	add_owned(s->annotations, "item_value", zdup(doc, "item_value"));
	add_owned(s->annotations, "host_name", zdup(doc, "host_name"));
	add_owned(s->annotations, "host_ip", zdup(doc, "host_ip"));
	add_owned(s->annotations, "ack_status", zdup(doc, "event_ack_status"));
	s->starts_at = date_time(doc, "event_date", "event_time");
	if (st == AX_STATUS_RESOLVED)
		s->ends_at = date_time(doc, "event_recovery_date", "event_recovery_time");
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(id);
	url = zdup(doc, "zabbix_url");
	tid = zdup(doc, "trigger_id");
	if (url != NULL && tid != NULL) {
		size_t n = strlen(url);

		while (n > 0 && url[n - 1] == '/')
			n--;
		s->source_url = ax_xasprintf("%.*s/tr_events.php?triggerid=%s&eventid=%s", (int)n,
					     url, tid, id);
	}
	{
		const char *kv[] = { "event_id", id, NULL };

		ingest_fingerprint_kv(s, kv);
	}
	s->raw = ingest_dup_json(doc);
	rc = AX_OK;
out:
	free(id);
	free(name);
	free(value);
	free(status);
	free(sev);
	free(nsev);
	free(url);
	free(tid);
	return rc;
}

const struct ingest_driver ingest_driver_zabbix = {
	.name = SOURCE,
	.title = "Zabbix webhook media type",
	.detect = zb_detect,
	.normalize = zb_normalize,
};
