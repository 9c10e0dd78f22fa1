/* driver.h - source drivers: recognise a sender's payload and normalise it
 * into canonical signals (common/alexus/signal.h).
 *
 * A driver is a row in one table (registry.c): a name (the {source} of
 * POST /v1/webhooks/{source}), detect() and normalize().  Drivers are pure
 * functions of a parsed JSON document: no I/O, no globals, no logging, so
 * the daemon, `alexus-ingest --normalize` and the unit tests run exactly
 * the same code.  Adding a source = one new file in ingest/drivers/ and one
 * row in the table (more specific drivers before generic). */
#ifndef INGEST_DRIVER_H
#define INGEST_DRIVER_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "alexus/err.h"
#include "alexus/signal.h"

/* Most signals one payload may yield.  The body cap (ALEXUS_MAX_BODY)
 * already bounds it; this keeps one request's Redis work bounded too. */
#define INGEST_MAX_SIGNALS 10000

/* A growable array of signals owned by the batch. */
struct ingest_batch {
	struct ax_signal *sig;  /* sig[0..n) are initialised */
	size_t n;
	size_t cap;
};

void ingest_batch_init(struct ingest_batch *b);
/* Release every signal and the array; leaves b empty (init'ed). */
void ingest_batch_release(struct ingest_batch *b);
/* Append one ax_signal_init'ed signal and return it (valid until the
 * next add).  Aborts on OOM like the rest of the tree. */
struct ax_signal *ingest_batch_add(struct ingest_batch *b);

struct ingest_driver {
	const char *name;
	/* 1 when doc looks like this sender's payload.  Cheap, never fails. */
	int (*detect)(const cJSON *doc);
	/* Append one signal per event in doc to out.  On error returns
	 * AX_EPROTO with errbuf saying what is wrong (fit for an HTTP 422
	 * body); out may then hold partial results, which the caller drops. */
	ax_err (*normalize)(const cJSON *doc, struct ingest_batch *out, char *errbuf,
			    size_t errlen);
};

extern const struct ingest_driver ingest_driver_alertmanager;
extern const struct ingest_driver ingest_driver_generic;

/* The registry, in detection order. */
size_t ingest_driver_count(void);
const struct ingest_driver *ingest_driver_at(size_t i);      /* NULL past the end */
const struct ingest_driver *ingest_driver_find(const char *name); /* NULL if unknown */
/* Index of d in the table, or -1. */
int ingest_driver_index(const struct ingest_driver *d);
/* The first driver whose detect() accepts doc, or NULL. */
const struct ingest_driver *ingest_driver_detect(const cJSON *doc);

/* Normalise doc with the driver called source, or the detected one when
 * source is NULL.  On success out holds at least one signal.  *used (may
 * be NULL) receives the driver that ran, or NULL if none did.
 *  - AX_ENOTFOUND: no driver is called source;
 *  - AX_EPROTO:    nothing recognised doc, or the driver refused it;
 * errbuf says why in both cases and out is left empty. */
ax_err ingest_normalize(const cJSON *doc, const char *source, struct ingest_batch *out,
			const struct ingest_driver **used, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Helpers shared by the drivers (util.c). */

/* Copy src's members into the object dst as strings: strings as they are,
 * numbers and booleans in their JSON spelling; null, objects and arrays
 * are skipped (canonical labels are an object of strings).  src may be
 * NULL or not an object (nothing is copied).  Returns the number copied. */
int ingest_copy_strmap(cJSON *dst, const cJSON *src);

/* strdup of obj[key] when it is a non-empty string, else NULL. */
char *ingest_dup_str(const cJSON *obj, const char *key);

/* The first of keys (NULL-terminated) whose value in obj is a non-empty
 * string, or NULL.  Not copied. */
const char *ingest_first_str(const cJSON *obj, const char *const *keys);

/* 1 when ts is absent or the Go zero time ("0001-01-01T00:00:00Z", any
 * fraction or offset) that Alertmanager and Grafana send for "not set". */
int ingest_time_unset(const char *ts);

#endif /* INGEST_DRIVER_H */
