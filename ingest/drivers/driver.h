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
	/* With no signal: why the request carries none ("test notification"),
	 * a string that outlives the batch (a constant, or a profile's
	 * ignore_reason, which lives as long as its driver); the server
	 * answers 200 with it. */
	const char *ignored;
	/* With no signal: an AWS SNS SubscriptionConfirmation's SubscribeURL
	 * (owned, freed by release), which the server visits to confirm. */
	char *subscribe_url;
};

void ingest_batch_init(struct ingest_batch *b);
/* Release every signal and the array; leaves b empty (init'ed). */
void ingest_batch_release(struct ingest_batch *b);
/* Append one ax_signal_init'ed signal and return it (valid until the
 * next add).  Aborts on OOM like the rest of the tree. */
struct ax_signal *ingest_batch_add(struct ingest_batch *b);

/* What a driver sees of one request.  doc is the parsed JSON body;
 * header() looks a request header up by name, case-insensitively, and
 * returns NULL when it is absent (always NULL under --normalize without
 * --header).  Drivers read headers only to detect a sender (X-GitHub-Event,
 * x-amz-sns-message-type...) or to learn the event type; signature checks
 * are not the drivers' business (ingest/auth). */
struct ingest_input {
	const cJSON *doc;
	const char *(*header)(const struct ingest_input *in, const char *name);
	const void *hctx;                /* for header() */
};

/* The header name of in, or NULL (also when in has no header function). */
const char *ingest_header(const struct ingest_input *in, const char *name);

struct ingest_driver {
	const char *name;   /* the {source} of the route: [a-z0-9-]+ */
	const char *title;  /* for --list-sources: "Prometheus Alertmanager" */
	/* 1 when in looks like this sender's request.  Cheap, never fails. */
	int (*detect)(const struct ingest_driver *d, const struct ingest_input *in);
	/* Append one signal per event in the request to out.  On error returns
	 * AX_EPROTO with errbuf saying what is wrong (fit for an HTTP 422
	 * body); out may then hold partial results, which the caller drops.
	 * A request that is valid but carries no event (a sender's test ping,
	 * an SNS SubscriptionConfirmation) returns AX_OK with no signal and
	 * out->ignored or out->subscribe_url set. */
	ax_err (*normalize)(const struct ingest_driver *d, const struct ingest_input *in,
			    struct ingest_batch *out, char *errbuf, size_t errlen);
	const void *priv;   /* the driver's own data (declarative profiles) */
};

/* Built-in drivers, one file each in ingest/drivers/. */
extern const struct ingest_driver ingest_driver_alertmanager;
extern const struct ingest_driver ingest_driver_generic;
/* drivers-A (declared and registered by whoever adds them) */
extern const struct ingest_driver ingest_driver_pagerduty;
extern const struct ingest_driver ingest_driver_pagerduty_events;
extern const struct ingest_driver ingest_driver_grafana;
extern const struct ingest_driver ingest_driver_grafana_legacy;
extern const struct ingest_driver ingest_driver_dynatrace;
extern const struct ingest_driver ingest_driver_honeycomb;
extern const struct ingest_driver ingest_driver_splunk;
extern const struct ingest_driver ingest_driver_opsgenie;
extern const struct ingest_driver ingest_driver_newrelic;
extern const struct ingest_driver ingest_driver_newrelic_legacy;
extern const struct ingest_driver ingest_driver_datadog;
extern const struct ingest_driver ingest_driver_zabbix;
/* end drivers-A */
/* drivers-B */
extern const struct ingest_driver ingest_driver_cloudwatch;
extern const struct ingest_driver ingest_driver_github;
extern const struct ingest_driver ingest_driver_gitlab;
extern const struct ingest_driver ingest_driver_sentry;
extern const struct ingest_driver ingest_driver_azure;
extern const struct ingest_driver ingest_driver_gcp;
extern const struct ingest_driver ingest_driver_jira;
extern const struct ingest_driver ingest_driver_kubernetes;
extern const struct ingest_driver ingest_driver_uptimekuma;
extern const struct ingest_driver ingest_driver_kibana;
extern const struct ingest_driver ingest_driver_servicenow;
/* end drivers-B */

/* The registry, in detection order: the built-in drivers (most specific
 * first), then the declarative profiles in the order they were added, then
 * generic, which accepts almost anything and so goes last. */
size_t ingest_driver_count(void);
const struct ingest_driver *ingest_driver_at(size_t i);      /* NULL past the end */
const struct ingest_driver *ingest_driver_find(const char *name); /* NULL if unknown */
/* Index of d in the registry, or -1.  Stable once profiles are loaded. */
int ingest_driver_index(const struct ingest_driver *d);
/* The first driver whose detect() accepts in, or NULL. */
const struct ingest_driver *ingest_driver_detect(const struct ingest_input *in);
/* Add a driver after the built-ins and the profiles added before it (and
 * before generic).  d must outlive every use of the registry.  AX_EDUP
 * when a driver already has d's name.  Not thread-safe: register at start,
 * before any worker thread runs. */
ax_err ingest_driver_register(const struct ingest_driver *d);

/* Normalise in with the driver called source, or the detected one when
 * source is NULL.  On success out holds at least one signal, or none and
 * out->ignored / out->subscribe_url set.  *used (may be NULL) receives the
 * driver that ran, or NULL if none did.
 *  - AX_ENOTFOUND: no driver is called source;
 *  - AX_EPROTO:    nothing recognised in, or the driver refused it;
 * errbuf says why in both cases and out is left empty. */
ax_err ingest_normalize(const struct ingest_input *in, const char *source,
			struct ingest_batch *out, const struct ingest_driver **used, char *errbuf,
			size_t errlen) AX_MUSTCHECK;

/* The same for a bare document without headers (tests, fuzzing). */
ax_err ingest_normalize_doc(const cJSON *doc, const char *source, struct ingest_batch *out,
			    const struct ingest_driver **used, char *errbuf,
			    size_t errlen) AX_MUSTCHECK;

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

/* Time conversion for senders that do not speak RFC 3339 (FORMATS.md
 * section 16.4).  Each writes a UTC RFC 3339 timestamp with millisecond
 * precision ("2025-06-10T08:16:02.144Z") into out and returns 0, or
 * returns -1 and leaves out empty when the input is not understood.
 * INGEST_TIME_LEN is enough for any of them. */
#define INGEST_TIME_LEN 32
/* Seconds, milliseconds or nanoseconds since the epoch, told apart by
 * magnitude (< 1e11: s, < 1e14: ms, < 1e17: us, else ns). */
int ingest_time_epoch(double v, char out[INGEST_TIME_LEN]);
/* A string in any of: RFC 3339 / ISO 8601 with "Z", "+hh:mm", "+hhmm" or
 * " UTC" / " +0200" (GitLab), any fraction length; "YYYY-MM-DD HH:MM:SS"
 * and "YYYY.MM.DD HH:MM:SS" with no zone (taken as UTC); epoch s/ms/ns as a
 * string of digits (with optional fraction).  The zero time, "", and
 * placeholders such as "{DATE}" give -1. */
int ingest_time_str(const char *s, char out[INGEST_TIME_LEN]);
/* ingest_time_str or ingest_time_epoch on a JSON string or number;
 * returns a new owned string (ax_xstrdup) or NULL. */
char *ingest_time_dup(const cJSON *v);

/* Copy the members of a tag list into dst as labels, for the shapes
 * senders use: an object of strings; an array of "k:v" / "k=v" / "k"
 * strings; an array of {key|name|tag|tag_id|k: value|v}; an array of [k, v]
 * pairs; a
 * single "k:v,k2:v2" string.  A bare "k" becomes k="".  Returns the number
 * copied; never overwrites a label already in dst. */
int ingest_copy_tags(cJSON *dst, const cJSON *tags);

/* cJSON_Duplicate (deep) that aborts on OOM. */
cJSON *ingest_dup_json(const cJSON *v);

/* s->fingerprint over s->source and the key/value pairs of kv
 * ("k1", v1, "k2", v2, ..., NULL; a NULL value is skipped), in the format
 * of ax_signal_fingerprint: for drivers whose identity is a sender's id
 * rather than the signal's labels.  s->source must be set. */
void ingest_fingerprint_kv(struct ax_signal *s, const char *const *kv);

/* obj[key] as a string, with numbers spelled as in JSON (Datadog and
 * Zabbix send numbers as strings and vice versa): owned, or NULL when
 * absent, empty or a structure. */
char *ingest_dup_scalar(const cJSON *obj, const char *key);
/* The value at JSON pointer ptr (RFC 6901, e.g. "/incident/policy_name")
 * as an owned string like ingest_dup_scalar, or NULL. */
char *ingest_dup_ptr(const cJSON *doc, const char *ptr);

#endif /* INGEST_DRIVER_H */
