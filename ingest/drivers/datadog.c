/* datadog.c - Datadog webhook integration, default payload (FORMATS.md
 * section 4), with optional extra keys for a custom payload.
 *
 * The default payload is {body, last_updated, event_type, title, date,
 * org{id, name}, id}, every value a string.  Status and severity are not
 * fields: they are the bracket tags that open the title, "[Triggered on
 * {host:web-01}] [P2] <monitor name>".  One notification per request.
 *   name        the title after its leading transition/priority tags: the
 *               monitor's name, the same in the trigger and the recovery
 *   status      the transition tag: Recovered -> resolved; Triggered,
 *               Re-Triggered, Renotify, Warn, Re-Warn, No Data, Re-No Data
 *               -> firing (alert_transition, when a custom payload has it,
 *               wins over the title)
 *   severity    the priority tag [P1]..[P5] (or alert_priority) through
 *               ax_severity_parse; without one, by transition: Triggered,
 *               Re-Triggered, Renotify -> high (Datadog's "alert" level),
 *               Warn, Re-Warn, No Data, Re-No Data -> warning,
 *               Recovered -> info
 *   summary     title;  description: body without Datadog's %%% fences
 *   labels      the group of a multi-alert ("{host:web-01,env:prod}" after
 *               "on"), then tags (custom payload: "$TAGS", "k:v,k2:v2")
 *   host        labels.host, else hostname (custom);  service:
 *               labels.service;  namespace: labels.kube_namespace |
 *               namespace
 *   starts_at   date (epoch milliseconds as a string) when firing;
 *               ends_at: date when recovered
 *   source_ref  id = id (the event id, new on every notification), url =
 *               link (custom payload)
 *   annotations event_type, org_name
 *   fingerprint source + org_id + monitor (alert_id from a custom payload,
 *               else the monitor name) + group.  The event id changes on
 *               every notification, so it cannot be the identity; monitor
 *               and group are what Datadog itself keys an alert on, and
 *               both are in the trigger and the recovery.
 *   raw         the payload
 * Custom payload keys understood when present (names from Datadog's
 * variables): alert_transition ($ALERT_TRANSITION), alert_priority
 * ($ALERT_PRIORITY), alert_id ($ALERT_ID), hostname ($HOSTNAME), tags
 * ($TAGS), link ($LINK).
 *
 * Detection (section 0, row 22): last_updated + event_type + org.id +
 * title or body.  No test notification is documented for webhooks. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "datadog"

static int dd_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;
	const cJSON *org = cJSON_GetObjectItemCaseSensitive(doc, "org");

	(void)d;
	return cJSON_IsObject(doc) &&
	       cJSON_GetObjectItemCaseSensitive(doc, "last_updated") != NULL &&
	       ax_json_str(doc, "event_type") != NULL && cJSON_IsObject(org) &&
	       cJSON_GetObjectItemCaseSensitive(org, "id") != NULL &&
	       (ax_json_str(doc, "title") != NULL || ax_json_str(doc, "body") != NULL);
}

struct transition {
	const char *word;
	enum ax_status status;
	enum ax_severity severity;
};

/* Longest spellings first: "Re-No Data" must not match as "No Data". */
static const struct transition transitions[] = {
	{ "Re-Triggered", AX_STATUS_FIRING, AX_SEV_HIGH },
	{ "Re-No Data", AX_STATUS_FIRING, AX_SEV_WARNING },
	{ "Re-Warn", AX_STATUS_FIRING, AX_SEV_WARNING },
	{ "Triggered", AX_STATUS_FIRING, AX_SEV_HIGH },
	{ "Renotify", AX_STATUS_FIRING, AX_SEV_HIGH },
	{ "No Data", AX_STATUS_FIRING, AX_SEV_WARNING },
	{ "Warn", AX_STATUS_FIRING, AX_SEV_WARNING },
	{ "Recovered", AX_STATUS_RESOLVED, AX_SEV_INFO },
};

/* The transition that t (n bytes, a bracket tag's content) starts with,
 * followed by the end, a space (" on {group}") or nothing else. */
static const struct transition *find_transition(const char *t, size_t n)
{
	size_t i, w;

	for (i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++) {
		w = strlen(transitions[i].word);
		if (n >= w && strncasecmp(t, transitions[i].word, w) == 0 &&
		    (n == w || t[w] == ' '))
			return &transitions[i];
	}
	return NULL;
}

static int is_priority(const char *t, size_t n)
{
	return n == 2 && (t[0] == 'P' || t[0] == 'p') && t[1] >= '1' && t[1] <= '5';
}

/* What the title's leading tags say.  group is the content of "{...}"
 * after " on " in the transition tag (owned), name the rest of the title
 * (owned, never empty: the whole title when nothing follows the tags). */
struct title_parts {
	const struct transition *tr;
	char prio[3];
	char *group;
	char *name;
};

static void parse_title(const char *title, struct title_parts *tp)
{
	const char *p = title, *end, *g, *ge;

	memset(tp, 0, sizeof(*tp));
	while (*p == '[') {
		const struct transition *tr;
		size_t n;

		end = strchr(p, ']');
		if (end == NULL)
			break;
		n = (size_t)(end - p - 1);
		if (tp->tr == NULL && (tr = find_transition(p + 1, n)) != NULL) {
			tp->tr = tr;
			g = memchr(p + 1, '{', n);
			ge = g != NULL ? memchr(g, '}', (size_t)(end - g)) : NULL;
			if (ge != NULL && ge > g + 1)
				tp->group = ax_xstrndup(g + 1, (size_t)(ge - g - 1));
		} else if (tp->prio[0] == '\0' && is_priority(p + 1, n)) {
			tp->prio[0] = 'P';
			tp->prio[1] = p[2];
		} else {
			break;  /* a tag of the monitor's own name, e.g. "[prod]" */
		}
		p = end + 1;
		while (*p == ' ')
			p++;
	}
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	tp->name = end > p ? ax_xstrndup(p, (size_t)(end - p)) : ax_xstrdup(title);
}

/* body without the "%%%\n ... \n%%%" markers Datadog wraps Markdown in. */
static char *strip_fences(const char *body)
{
	size_t n;

	if (body == NULL)
		return NULL;
	n = strlen(body);
	if (n >= 8 && strncmp(body, "%%%\n", 4) == 0 && strcmp(body + n - 4, "\n%%%") == 0)
		return ax_xstrndup(body + 4, n - 8);
	return ax_xstrdup(body);
}

static ax_err dd_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	static const char *const ns_keys[] = { "kube_namespace", "namespace", NULL };
	const cJSON *doc = in->doc;
	const cJSON *org, *v, *tags;
	const struct transition *tr;
	struct title_parts tp;
	const char *title, *ctr, *cprio, *host;
	struct ax_signal *s;
	char *org_id, *monitor, *when;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "title");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "\"title\" is missing or not a string");
		return AX_EPROTO;
	}
	title = v->valuestring;
	org = cJSON_GetObjectItemCaseSensitive(doc, "org");
	if (org != NULL && !cJSON_IsNull(org) && !cJSON_IsObject(org)) {
		ax_errfmt(errbuf, errlen, "\"org\" is not an object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "body");
	if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsString(v)) {
		ax_errfmt(errbuf, errlen, "\"body\" is not a string");
		return AX_EPROTO;
	}
	tags = cJSON_GetObjectItemCaseSensitive(doc, "tags");
	if (tags != NULL && !cJSON_IsNull(tags) && !cJSON_IsString(tags) && !cJSON_IsArray(tags)) {
		ax_errfmt(errbuf, errlen, "\"tags\" is neither a string nor an array");
		return AX_EPROTO;
	}
	parse_title(title, &tp);
	tr = tp.tr;
	ctr = ax_json_str(doc, "alert_transition");
	if (ctr != NULL && (tr = find_transition(ctr, strlen(ctr))) == NULL) {
		ax_errfmt(errbuf, errlen,
			  "\"alert_transition\" \"%.32s\" is not a known transition", ctr);
		goto fail;
	}
	if (tr == NULL) {
		ax_errfmt(errbuf, errlen,
			  "cannot tell the monitor's state: \"title\" opens with no [Triggered], "
			  "[Recovered], [Warn] or [No Data] tag and there is no "
			  "\"alert_transition\"");
		goto fail;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = tr->status;
	s->severity = tr->severity;
	cprio = ax_json_str(doc, "alert_priority");
	if (cprio == NULL && tp.prio[0] != '\0')
		cprio = tp.prio;
	if (cprio != NULL)
		(void)ax_severity_parse(cprio, &s->severity);
	s->name = tp.name;
	tp.name = NULL;
	s->summary = ax_xstrdup(title);
	s->description = strip_fences(ax_json_str(doc, "body"));
	if (tp.group != NULL) {
		cJSON *g = cJSON_CreateString(tp.group);

		if (g == NULL)
			abort();
		ingest_copy_tags(s->labels, g);
		cJSON_Delete(g);
	}
	ingest_copy_tags(s->labels, tags);
	host = ax_json_str(s->labels, "host");
	if (host == NULL)
		host = ax_json_str(doc, "hostname");
	s->host = ax_xstrdup(host);
	s->service = ingest_dup_str(s->labels, "service");
	s->namespace_ = ax_xstrdup(ingest_first_str(s->labels, ns_keys));
	when = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(doc, "date"));
	if (when == NULL)
		when = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(doc, "last_updated"));
	if (s->status == AX_STATUS_RESOLVED)
		s->ends_at = when;
	else
		s->starts_at = when;
	ax_json_add_str(s->annotations, "event_type", ax_json_str(doc, "event_type"), 0);
	ax_json_add_str(s->annotations, "org_name", ax_json_str(org, "name"), 0);
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ingest_dup_scalar(doc, "id");
	s->source_url = ingest_dup_str(doc, "link");
	org_id = ingest_dup_scalar(org, "id");
	monitor = ingest_dup_scalar(doc, "alert_id");
	{
		const char *kv[] = { "group", tp.group, "monitor", monitor ? monitor : s->name,
				     "org_id", org_id, NULL };

		ingest_fingerprint_kv(s, kv);
	}
	free(org_id);
	free(monitor);
	free(tp.group);
	s->raw = ingest_dup_json(doc);
	return AX_OK;
fail:
	free(tp.group);
	free(tp.name);
	return AX_EPROTO;
}

const struct ingest_driver ingest_driver_datadog = {
	.name = SOURCE,
	.title = "Datadog webhook",
	.detect = dd_detect,
	.normalize = dd_normalize,
};
