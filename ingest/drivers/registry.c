/* registry.c - the table of source drivers, and normalisation by name or
 * by detection.
 *
 * Order is detection order: specific senders first, generic last, because
 * several formats look alike (FORMATS.md section 0: Alertmanager, Grafana
 * unified and forwarders all send alerts[] + groupKey).  Built-in drivers
 * come first, then the declarative profiles (ingest/profiles/) in the
 * order they were registered, then generic.  A named source skips
 * detection: the route says who sent it and the driver alone judges the
 * payload, so its refusal reason is the useful one. */
#include <stdlib.h>
#include <string.h>

#include "alexus/err.h"
#include "alexus/mem.h"
#include "driver.h"

/* Detection order among the built-ins.  Header-detected senders first
 * (SNS, GitHub, GitLab, Sentry, PagerDuty), then body shapes from the
 * most to the least specific. */
static const struct ingest_driver *const builtin[] = {
	/* drivers-B: header-detected */
	&ingest_driver_cloudwatch,       /* header or SNS Type + TopicArn */
	&ingest_driver_github,           /* X-GitHub-Event */
	&ingest_driver_gitlab,           /* header or object_kind + project */
	&ingest_driver_sentry,           /* header or the legacy plugin body */
	/* end drivers-B: header-detected */
	/* drivers-A */
	&ingest_driver_pagerduty,        /* header or event.event_type */
	&ingest_driver_pagerduty_events,
	&ingest_driver_grafana,          /* before alertmanager: same shape */
	&ingest_driver_grafana_legacy,
	&ingest_driver_dynatrace,
	&ingest_driver_honeycomb,        /* header or result_groups_triggered */
	&ingest_driver_splunk,
	&ingest_driver_opsgenie,
	&ingest_driver_newrelic,
	&ingest_driver_newrelic_legacy,
	&ingest_driver_datadog,
	&ingest_driver_zabbix,
	/* end drivers-A */
	/* drivers-B: body-detected */
	&ingest_driver_azure,            /* schemaId */
	&ingest_driver_gcp,              /* incident.incident_id + version */
	&ingest_driver_jira,             /* webhookEvent + timestamp */
	&ingest_driver_kubernetes,       /* involvedObject + reason + uid */
	&ingest_driver_uptimekuma,       /* heartbeat + monitor + msg */
	&ingest_driver_kibana,           /* rule id/name + action group */
	&ingest_driver_servicenow,       /* sys_id + number: least specific */
	/* end drivers-B: body-detected */
	&ingest_driver_alertmanager,
};

#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

/* The registry proper: builtin[], then registered drivers, then generic.
 * Built lazily from builtin[] on first use. */
static const struct ingest_driver **table;
static size_t ntable, captable;

static void table_init(void)
{
	size_t i;

	if (table != NULL)
		return;
	captable = NBUILTIN + 1 + 32;
	table = ax_xcalloc(captable, sizeof(*table));
	for (i = 0; i < NBUILTIN; i++)
		table[i] = builtin[i];
	table[NBUILTIN] = &ingest_driver_generic;
	ntable = NBUILTIN + 1;
}

ax_err ingest_driver_register(const struct ingest_driver *d)
{
	table_init();
	if (ingest_driver_find(d->name) != NULL)
		return AX_EDUP;
	if (ntable == captable) {
		captable *= 2;
		table = ax_xrealloc(table, captable * sizeof(*table));
	}
	/* generic stays last */
	table[ntable - 1] = d;
	table[ntable++] = &ingest_driver_generic;
	return AX_OK;
}

size_t ingest_driver_count(void)
{
	table_init();
	return ntable;
}

const struct ingest_driver *ingest_driver_at(size_t i)
{
	table_init();
	return i < ntable ? table[i] : NULL;
}

const struct ingest_driver *ingest_driver_find(const char *name)
{
	size_t i;

	table_init();
	if (name == NULL)
		return NULL;
	for (i = 0; i < ntable; i++) {
		if (strcmp(table[i]->name, name) == 0)
			return table[i];
	}
	return NULL;
}

int ingest_driver_index(const struct ingest_driver *d)
{
	size_t i;

	table_init();
	for (i = 0; i < ntable; i++) {
		if (table[i] == d)
			return (int)i;
	}
	return -1;
}

const struct ingest_driver *ingest_driver_detect(const struct ingest_input *in)
{
	size_t i;

	table_init();
	for (i = 0; i < ntable; i++) {
		if (table[i]->detect(table[i], in))
			return table[i];
	}
	return NULL;
}

const char *ingest_header(const struct ingest_input *in, const char *name)
{
	return in->header != NULL ? in->header(in, name) : NULL;
}

ax_err ingest_normalize(const struct ingest_input *in, const char *source,
			struct ingest_batch *out, const struct ingest_driver **used, char *errbuf,
			size_t errlen)
{
	const struct ingest_driver *d;
	ax_err rc;

	if (used != NULL)
		*used = NULL;
	if (source != NULL) {
		d = ingest_driver_find(source);
		if (d == NULL) {
			ax_errfmt(errbuf, errlen, "no driver for source \"%.64s\"", source);
			return AX_ENOTFOUND;
		}
	} else {
		d = ingest_driver_detect(in);
		if (d == NULL) {
			ax_errfmt(errbuf, errlen,
				  "payload not recognised as any known source and not the "
				  "generic format (no name/title field); name the source in "
				  "the path: POST /v1/webhooks/{source}");
			return AX_EPROTO;
		}
	}
	if (used != NULL)
		*used = d;
	rc = d->normalize(d, in, out, errbuf, errlen);
	if (rc == AX_OK && out->n == 0 && out->ignored == NULL && out->subscribe_url == NULL) {
		ax_errfmt(errbuf, errlen, "payload holds no signal");
		rc = AX_EPROTO;
	}
	if (rc == AX_OK && out->n > INGEST_MAX_SIGNALS) {
		ax_errfmt(errbuf, errlen, "%zu signals in one payload; at most %d are accepted",
			  out->n, INGEST_MAX_SIGNALS);
		rc = AX_EPROTO;
	}
	if (rc != AX_OK) {
		ingest_batch_release(out);
		return AX_EPROTO;
	}
	return AX_OK;
}

ax_err ingest_normalize_doc(const cJSON *doc, const char *source, struct ingest_batch *out,
			    const struct ingest_driver **used, char *errbuf, size_t errlen)
{
	struct ingest_input in = { doc, NULL, NULL };

	return ingest_normalize(&in, source, out, used, errbuf, errlen);
}
