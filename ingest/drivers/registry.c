/* registry.c - the one table of source drivers, and normalisation by name
 * or by detection.
 *
 * Order is detection order: specific senders first, generic last, because
 * several formats look alike (FORMATS.md section 0: Alertmanager, Grafana
 * unified and forwarders all send alerts[] + groupKey).  A named source
 * skips detection: the route says who sent it and the driver alone judges
 * the payload, so its refusal reason is the useful one. */
#include <string.h>

#include "alexus/err.h"
#include "driver.h"

static const struct ingest_driver *const drivers[] = {
	&ingest_driver_alertmanager,
	&ingest_driver_generic,
};

#define NDRIVERS (sizeof(drivers) / sizeof(drivers[0]))

size_t ingest_driver_count(void)
{
	return NDRIVERS;
}

const struct ingest_driver *ingest_driver_at(size_t i)
{
	return i < NDRIVERS ? drivers[i] : NULL;
}

const struct ingest_driver *ingest_driver_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < NDRIVERS; i++) {
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	}
	return NULL;
}

int ingest_driver_index(const struct ingest_driver *d)
{
	size_t i;

	for (i = 0; i < NDRIVERS; i++) {
		if (drivers[i] == d)
			return (int)i;
	}
	return -1;
}

const struct ingest_driver *ingest_driver_detect(const cJSON *doc)
{
	size_t i;

	for (i = 0; i < NDRIVERS; i++) {
		if (drivers[i]->detect(doc))
			return drivers[i];
	}
	return NULL;
}

ax_err ingest_normalize(const cJSON *doc, const char *source, struct ingest_batch *out,
			const struct ingest_driver **used, char *errbuf, size_t errlen)
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
		d = ingest_driver_detect(doc);
		if (d == NULL) {
			ax_errfmt(errbuf, errlen,
				  "payload not recognised: not Alertmanager (alerts[] with "
				  "version \"4\" or groupKey) and no name/title field for the "
				  "generic format");
			return AX_EPROTO;
		}
	}
	if (used != NULL)
		*used = d;
	rc = d->normalize(doc, out, errbuf, errlen);
	if (rc == AX_OK && out->n == 0) {
		ax_errfmt(errbuf, errlen, "payload holds no signal");
		rc = AX_EPROTO;
	}
	if (rc != AX_OK) {
		ingest_batch_release(out);
		return AX_EPROTO;
	}
	return AX_OK;
}
