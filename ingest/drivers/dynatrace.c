/* dynatrace.c - Dynatrace problem notification, "Custom integration"
 * webhook with the documented placeholder template (FORMATS.md
 * section 14d).
 *
 * The body is the admin's template; this driver reads the documented
 * example keys ({ImpactedEntities}, {PID}, {ProblemID}, {ProblemTitle},
 * {State}, {Tags}, {ProblemDetailsJSON}, "Problem URL" -- the key has a
 * space) plus ProblemSeverity, ProblemURL, ProblemDetailsText and
 * ProblemDetailsMarkdown when present.  One problem per request:
 *   name        ProblemTitle (required)
 *   status      State: OPEN -> firing; RESOLVED, CLOSED -> resolved;
 *               MERGED (reported with "notify on merges") -> resolved: the
 *               problem id ends here, its events live on in the other
 *   severity    ProblemSeverity, else ProblemDetailsJSON.severityLevel.
 *               Dynatrace sends a category, not a level; mapped by impact:
 *               AVAILABILITY -> critical, ERROR -> high, PERFORMANCE,
 *               RESOURCE_CONTENTION, CUSTOM_ALERT, MONITORING_UNAVAILABLE ->
 *               warning, INFO -> info; anything else through
 *               ax_severity_parse, else warning
 *   service     the first ImpactedEntities[] of type SERVICE or
 *               APPLICATION (its name), else ImpactedEntity when there is
 *               no entity list;  host: the first entity of type HOST
 *   labels      Tags ("k:v, k2:v2" string, or an array), then
 *               ProblemDetailsJSON.tagsOfAffectedEntities[{key, value}]
 *   namespace   labels.namespace
 *   summary     ProblemTitle;  description: ProblemDetailsText, else
 *               ProblemDetailsMarkdown
 *   annotations problem_id (ProblemID, the display number), impact
 *               (ProblemImpact), category (ProblemSeverity)
 *   starts_at   ProblemDetailsJSON.startTime (epoch ms);  ends_at:
 *               ProblemDetailsJSON.endTime when positive (-1 while open)
 *   source_ref  id = PID, else ProblemID;  url = "Problem URL" | ProblemURL
 *   fingerprint source + problem (PID: Dynatrace's unique problem id,
 *               the same while the problem is open and when it closes;
 *               ProblemID, the display number, when PID is absent)
 *   raw         the payload
 * "Send test notification" fills the template with sample values,
 * ProblemTitle "Dynatrace problem notification test run": a test
 * notification.  Detection (row 15): ProblemID or PID, State, and
 * ProblemTitle or ImpactedEntities. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "dynatrace"

static int scalar_present(const cJSON *v)
{
	return cJSON_IsNumber(v) ||
	       (cJSON_IsString(v) && v->valuestring != NULL && v->valuestring[0] != '\0');
}

static int dt_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;

	(void)d;
	return cJSON_IsObject(doc) &&
	       (scalar_present(cJSON_GetObjectItemCaseSensitive(doc, "ProblemID")) ||
		scalar_present(cJSON_GetObjectItemCaseSensitive(doc, "PID"))) &&
	       ax_json_str(doc, "State") != NULL &&
	       (ax_json_str(doc, "ProblemTitle") != NULL ||
		cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "ImpactedEntities")));
}

static const struct {
	const char *category;
	enum ax_severity severity;
} categories[] = {
	{ "AVAILABILITY", AX_SEV_CRITICAL },
	{ "ERROR", AX_SEV_HIGH },
	{ "PERFORMANCE", AX_SEV_WARNING },
	{ "RESOURCE_CONTENTION", AX_SEV_WARNING },
	{ "CUSTOM_ALERT", AX_SEV_WARNING },
	{ "MONITORING_UNAVAILABLE", AX_SEV_WARNING },
	{ "INFO", AX_SEV_INFO },
};

static enum ax_severity category_severity(const char *c)
{
	enum ax_severity sev = AX_SEV_WARNING;
	size_t i;

	if (c == NULL)
		return sev;
	for (i = 0; i < sizeof(categories) / sizeof(categories[0]); i++) {
		if (strcasecmp(c, categories[i].category) == 0)
			return categories[i].severity;
	}
	if (ax_severity_parse(c, &sev) != 0)
		sev = AX_SEV_WARNING;
	return sev;
}

/* The name of the first entity whose type is one of types. */
static const char *entity_of(const cJSON *ents, const char *const *types)
{
	const cJSON *e;
	const char *t;
	size_t i;

	cJSON_ArrayForEach(e, ents) {
		if ((t = ax_json_str(e, "type")) == NULL)
			continue;
		for (i = 0; types[i] != NULL; i++) {
			if (strcasecmp(t, types[i]) == 0)
				return ax_json_str(e, "name");
		}
	}
	return NULL;
}

static ax_err dt_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	static const char *const svc_types[] = { "SERVICE", "APPLICATION", NULL };
	static const char *const host_types[] = { "HOST", NULL };
	static const char *const url_keys[] = { "Problem URL", "ProblemURL", NULL };
	static const char *const desc_keys[] = { "ProblemDetailsText", "ProblemDetailsMarkdown",
						 NULL };
	const cJSON *doc = in->doc;
	const cJSON *v, *ents, *details, *tags, *end;
	const char *state, *title, *cat;
	enum ax_status st;
	struct ax_signal *s;
	char *pid;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "State");
	if (!cJSON_IsString(v) || v->valuestring == NULL) {
		ax_errfmt(errbuf, errlen, "\"State\" is missing or not a string");
		return AX_EPROTO;
	}
	state = v->valuestring;
	v = cJSON_GetObjectItemCaseSensitive(doc, "ProblemTitle");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "\"ProblemTitle\" is missing or not a string");
		return AX_EPROTO;
	}
	title = v->valuestring;
	if (strcmp(title, "Dynatrace problem notification test run") == 0) {
		out->ignored = "test notification";
		return AX_OK;
	}
	if (!scalar_present(cJSON_GetObjectItemCaseSensitive(doc, "PID")) &&
	    !scalar_present(cJSON_GetObjectItemCaseSensitive(doc, "ProblemID"))) {
		ax_errfmt(errbuf, errlen, "payload has neither \"PID\" nor \"ProblemID\"");
		return AX_EPROTO;
	}
	if (strcasecmp(state, "OPEN") == 0) {
		st = AX_STATUS_FIRING;
	} else if (strcasecmp(state, "RESOLVED") == 0 || strcasecmp(state, "CLOSED") == 0 ||
		   strcasecmp(state, "MERGED") == 0) {
		st = AX_STATUS_RESOLVED;
	} else {
		ax_errfmt(errbuf, errlen,
			  "\"State\" \"%.32s\" is not one of OPEN, RESOLVED, CLOSED, MERGED",
			  state);
		return AX_EPROTO;
	}
	ents = cJSON_GetObjectItemCaseSensitive(doc, "ImpactedEntities");
	if (ents != NULL && !cJSON_IsNull(ents) && !cJSON_IsArray(ents)) {
		ax_errfmt(errbuf, errlen, "\"ImpactedEntities\" is not an array");
		return AX_EPROTO;
	}
	details = cJSON_GetObjectItemCaseSensitive(doc, "ProblemDetailsJSON");
	if (details != NULL && !cJSON_IsNull(details) && !cJSON_IsObject(details)) {
		ax_errfmt(errbuf, errlen, "\"ProblemDetailsJSON\" is not an object");
		return AX_EPROTO;
	}
	tags = cJSON_GetObjectItemCaseSensitive(doc, "Tags");
	if (tags != NULL && !cJSON_IsNull(tags) && !cJSON_IsString(tags) && !cJSON_IsArray(tags)) {
		ax_errfmt(errbuf, errlen, "\"Tags\" is neither a string nor an array");
		return AX_EPROTO;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = st;
	s->name = ax_xstrdup(title);
	s->summary = ax_xstrdup(title);
	s->description = ax_xstrdup(ingest_first_str(doc, desc_keys));
	cat = ax_json_str(doc, "ProblemSeverity");
	if (cat == NULL)
		cat = ax_json_str(details, "severityLevel");
	s->severity = category_severity(cat);
	s->service = ax_xstrdup(entity_of(ents, svc_types));
	if (s->service == NULL && !cJSON_IsArray(ents))
		s->service = ingest_dup_str(doc, "ImpactedEntity");
	s->host = ax_xstrdup(entity_of(ents, host_types));
	ingest_copy_tags(s->labels, tags);
	ingest_copy_tags(s->labels, cJSON_GetObjectItemCaseSensitive(details,
								     "tagsOfAffectedEntities"));
	s->namespace_ = ingest_dup_str(s->labels, "namespace");
	{
		char *pnum = ingest_dup_scalar(doc, "ProblemID");

		ax_json_add_str(s->annotations, "problem_id", pnum, 0);
		free(pnum);
	}
	ax_json_add_str(s->annotations, "impact", ax_json_str(doc, "ProblemImpact"), 0);
	ax_json_add_str(s->annotations, "category", cat, 0);
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(details, "startTime"));
	end = cJSON_GetObjectItemCaseSensitive(details, "endTime");
	if (cJSON_IsNumber(end) && end->valuedouble > 0)
		s->ends_at = ingest_time_dup(end);
	s->source = ax_xstrdup(SOURCE);
	pid = ingest_dup_scalar(doc, "PID");
	if (pid == NULL)
		pid = ingest_dup_scalar(doc, "ProblemID");
	s->source_id = pid;
	s->source_url = ax_xstrdup(ingest_first_str(doc, url_keys));
	{
		const char *kv[] = { "problem", pid, NULL };

		ingest_fingerprint_kv(s, kv);
	}
	s->raw = ingest_dup_json(doc);
	return AX_OK;
}

const struct ingest_driver ingest_driver_dynatrace = {
	.name = SOURCE,
	.title = "Dynatrace problem notification",
	.detect = dt_detect,
	.normalize = dt_normalize,
};
