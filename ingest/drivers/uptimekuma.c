/* uptimekuma.c - Uptime Kuma "Webhook" notification, JSON body
 * (FORMATS.md section 14a).
 *
 * Body {heartbeat, monitor, msg}.  The "Test" button sends both heartbeat
 * and monitor as null: AX_OK, no signal, out->ignored.  A notification
 * without a heartbeat (also what certificate-expiry notices look like) is
 * treated the same way, since it states no up/down.
 * Mapping:
 *   status      heartbeat.status: 0 DOWN -> firing, 1 UP -> resolved;
 *               2 PENDING (retrying, not yet down) and 3 MAINTENANCE state
 *               neither, so they are ignored; anything else is refused
 *   name        monitor.name (required)
 *   severity    none in Uptime Kuma: a monitor tag "severity" through
 *               ax_severity_parse, else warning
 *   summary     msg ("[name] [Down] reason");  description: heartbeat.msg
 *   labels      monitor_id, monitor_type, then monitor.tags[] {name, value}
 *   service     tag "service"
 *   host        monitor.hostname, else the host part of monitor.url
 *               (libcurl's URL parser)
 *   starts_at   DOWN: heartbeat.time;  UP: heartbeat.lastDownTime when
 *               present; ends_at (UP): heartbeat.time.  The times are UTC
 *               without a zone marker ("2025-06-10 08:15:30.512");
 *               ingest_time_str reads a zoneless time as UTC
 *   source_ref  id = monitor.id (url: none, the payload has no link to the
 *               Kuma instance; monitor.url is what is monitored)
 *   fingerprint over monitor_id: one monitor is one thing, up or down
 *   raw         the whole payload
 *
 * Detection: the three keys heartbeat, monitor (object or null) and msg
 * (a string) are all present. */
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "uptime-kuma"

static const char *const ident[] = { "monitor_id", NULL };

static int obj_or_null(const cJSON *v)
{
	return cJSON_IsObject(v) || cJSON_IsNull(v);
}

static int uk_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;

	(void)d;
	return obj_or_null(cJSON_GetObjectItemCaseSensitive(doc, "heartbeat")) &&
	       obj_or_null(cJSON_GetObjectItemCaseSensitive(doc, "monitor")) &&
	       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "msg"));
}

/* The host of url, owned, or NULL.  libcurl's parser rather than our own:
 * userinfo, IPv6 literals and ports are its business. */
static char *url_host(const char *url)
{
	CURLU *u;
	char *host = NULL, *ret = NULL;

	if (url == NULL || (u = curl_url()) == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		ret = ax_xstrdup(host);
	curl_free(host);
	curl_url_cleanup(u);
	return ret;
}

static ax_err uk_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc, *hb, *mon, *st, *down;
	const char *name, *sev;
	struct ax_signal *s;
	char *id, *when;
	int status;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	hb = cJSON_GetObjectItemCaseSensitive(doc, "heartbeat");
	mon = cJSON_GetObjectItemCaseSensitive(doc, "monitor");
	if (hb == NULL || cJSON_IsNull(hb)) {
		out->ignored = mon == NULL || cJSON_IsNull(mon)
				       ? "Uptime Kuma test notification"
				       : "Uptime Kuma notification without a heartbeat";
		return AX_OK;
	}
	if (!cJSON_IsObject(hb)) {
		ax_errfmt(errbuf, errlen, "\"heartbeat\" is not an object");
		return AX_EPROTO;
	}
	if (!cJSON_IsObject(mon)) {
		ax_errfmt(errbuf, errlen, "\"monitor\" is missing or not an object");
		return AX_EPROTO;
	}
	st = cJSON_GetObjectItemCaseSensitive(hb, "status");
	if (!cJSON_IsNumber(st) || st->valuedouble != (double)st->valueint || st->valueint < 0 ||
	    st->valueint > 3) {
		ax_errfmt(errbuf, errlen,
			  "heartbeat.status must be 0 (down), 1 (up), 2 (pending) or "
			  "3 (maintenance)");
		return AX_EPROTO;
	}
	status = st->valueint;
	if (status == 2 || status == 3) {
		out->ignored = status == 2 ? "Uptime Kuma PENDING heartbeat"
					   : "Uptime Kuma MAINTENANCE heartbeat";
		return AX_OK;
	}
	name = ax_json_str(mon, "name");
	if (name == NULL) {
		ax_errfmt(errbuf, errlen, "monitor.name is missing");
		return AX_EPROTO;
	}
	id = ingest_dup_scalar(mon, "id");
	if (id == NULL) {
		ax_errfmt(errbuf, errlen, "monitor.id is missing");
		return AX_EPROTO;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = status == 1 ? AX_STATUS_RESOLVED : AX_STATUS_FIRING;
	s->name = ax_xstrdup(name);
	s->summary = ingest_dup_str(doc, "msg");
	s->description = ingest_dup_str(hb, "msg");
	ax_json_add_str(s->labels, "monitor_id", id, 0);
	ax_json_add_str(s->labels, "monitor_type", ax_json_str(mon, "type"), 0);
	ingest_copy_tags(s->labels, cJSON_GetObjectItemCaseSensitive(mon, "tags"));
	sev = ax_json_str(s->labels, "severity");
	if (sev == NULL || ax_severity_parse(sev, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
	s->service = ingest_dup_str(s->labels, "service");
	s->host = ingest_dup_str(mon, "hostname");
	if (s->host == NULL)
		s->host = url_host(ax_json_str(mon, "url"));

	when = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(hb, "time"));
	if (s->status == AX_STATUS_RESOLVED) {
		s->ends_at = when;
		down = cJSON_GetObjectItemCaseSensitive(hb, "lastDownTime");
		s->starts_at = ingest_time_dup(down);
	} else {
		s->starts_at = when;
	}
	s->source = ax_xstrdup(SOURCE);
	s->source_id = id;
	ax_signal_fingerprint(s, ident);
	s->raw = cJSON_Duplicate(doc, 1);
	if (s->raw == NULL)
		abort();
	return AX_OK;
}

const struct ingest_driver ingest_driver_uptimekuma = {
	.name = SOURCE,
	.title = "Uptime Kuma",
	.detect = uk_detect,
	.normalize = uk_normalize,
};
