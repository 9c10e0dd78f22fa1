/* test_drivers_b.c - the built-in source drivers of batch B (cloudwatch,
 * azure-monitor, gcp-monitoring, sentry, kubernetes, kibana, uptime-kuma,
 * github, gitlab, jira, servicenow) on the fixtures in
 * tests/fixtures/webhooks/.
 *
 * Requests are replayed with the headers a sender would send:
 * headers.json for the shared fixtures, and the table below for the ones
 * composed for these tests.  Expected values are read from the fixture
 * files (times through an independent reader of the sender's format,
 * ids, tags, labels), so the tests check the mapping, not a copy of it.
 * What matters downstream: the right driver claims each payload and no
 * other does; one signal; the status; a fingerprint equal for the
 * notifications of one thing (firing, resolved, later states) and
 * different between things; no signal but `ignored` or `subscribe_url`
 * for pings and confirmations; a precise AX_EPROTO message otherwise. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/signal.h"
#include "../../ingest/drivers/driver.h"

#define FIX "tests/fixtures/webhooks/"
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ fixtures */

static cJSON *headers_json;  /* tests/fixtures/webhooks/headers.json */

/* Headers of the fixtures composed for these tests (headers.json covers
 * the shared ones): name/value pairs, NULL-terminated. */
static const struct {
	const char *file;
	const char *h[8];
} extra_headers[] = {
	{ "cloudwatch.subscription.json",
	  { "x-amz-sns-message-type", "SubscriptionConfirmation", "x-amz-sns-topic-arn",
	    "arn:aws:sns:eu-west-1:123456789012:cloudwatch-alarms", "Content-Type",
	    "text/plain; charset=UTF-8", NULL } },
	{ "cloudwatch.unsubscribe.json",
	  { "x-amz-sns-message-type", "UnsubscribeConfirmation", "Content-Type",
	    "text/plain; charset=UTF-8", NULL } },
	{ "cloudwatch.insufficient-data.json",
	  { "x-amz-sns-message-type", "Notification", "Content-Type", "text/plain; charset=UTF-8",
	    NULL } },
	{ "cloudwatch.metric-math.json",
	  { "x-amz-sns-message-type", "Notification", "Content-Type", "text/plain; charset=UTF-8",
	    NULL } },
	{ "cloudwatch.raw-delivery.json",
	  { "x-amz-sns-message-type", "Notification", "x-amz-sns-rawdelivery", "true", NULL } },
	{ "cloudwatch.not-alarm.json",
	  { "x-amz-sns-message-type", "Notification", "Content-Type", "text/plain; charset=UTF-8",
	    NULL } },
	{ "sentry.event-alert.json",
	  { "Sentry-Hook-Resource", "event_alert", "Sentry-Hook-Timestamp", "1749543331",
	    "Content-Type", "application/json", NULL } },
	{ "sentry.metric-alert.json",
	  { "Sentry-Hook-Resource", "metric_alert", "Sentry-Hook-Timestamp", "1749543302",
	    NULL } },
	{ "sentry.metric-alert.resolved.json",
	  { "Sentry-Hook-Resource", "metric_alert", "Sentry-Hook-Timestamp", "1749544741",
	    NULL } },
	{ "sentry.installation.json",
	  { "Sentry-Hook-Resource", "installation", "Sentry-Hook-Timestamp", "1749480000",
	    NULL } },
	{ "github.deployment-status.json",
	  { "X-GitHub-Event", "deployment_status", "X-GitHub-Delivery",
	    "9e1d2c3b-4a5f-11f0-8a7b-6c5d4e3f2a1b", "User-Agent", "GitHub-Hookshot/a1b2c3d",
	    NULL } },
	{ "github.ping.json",
	  { "X-GitHub-Event", "ping", "X-GitHub-Hook-ID", "292430182", NULL } },
	{ "gitlab.pipeline.json",
	  { "X-Gitlab-Event", "Pipeline Hook", "X-Gitlab-Token", "whsec_test_secret_do_not_use",
	    NULL } },
	{ "jira.resolved.json", { "Content-Type", "application/json; charset=UTF-8", NULL } },
};

/* The JSON in path, or NULL when it does not parse. */
static cJSON *try_load(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	cJSON *j;

	if (f == NULL)
		fail_msg("cannot open %s (run the tests from the repository root)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	j = ax_json_parse(buf, (size_t)n, 64);
	free(buf);
	return j;
}

static cJSON *load_path(const char *path)
{
	cJSON *j = try_load(path);

	if (j == NULL)
		fail_msg("%s is not valid JSON", path);
	return j;
}

static cJSON *load(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), FIX "%s", name);
	return load_path(path);
}

/* The request headers of fixture name, as a new object (maybe empty). */
static cJSON *headers_for(const char *name)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(headers_json, name), "headers");
	cJSON *o;
	size_t i, k;

	if (h != NULL) {
		o = cJSON_Duplicate(h, 1);
		assert_non_null(o);
		return o;
	}
	o = cJSON_CreateObject();
	for (i = 0; i < NELEM(extra_headers); i++) {
		if (strcmp(extra_headers[i].file, name) != 0)
			continue;
		for (k = 0; extra_headers[i].h[k] != NULL; k += 2)
			cJSON_AddStringToObject(o, extra_headers[i].h[k],
						extra_headers[i].h[k + 1]);
	}
	return o;
}

/* ingest_input.header over a JSON object of headers, case-insensitively
 * as HTTP wants. */
static const char *tbl_header(const struct ingest_input *in, const char *name)
{
	const cJSON *h;

	cJSON_ArrayForEach(h, (const cJSON *)in->hctx) {
		if (h->string != NULL && strcasecmp(h->string, name) == 0 && cJSON_IsString(h))
			return h->valuestring;
	}
	return NULL;
}

/* A request: body, headers and the input the drivers see. */
struct req {
	cJSON *doc;
	cJSON *hdr;
	struct ingest_input in;
};

static void req_set(struct req *r, cJSON *doc, cJSON *hdr)
{
	r->doc = doc;
	r->hdr = hdr != NULL ? hdr : cJSON_CreateObject();
	r->in.doc = r->doc;
	r->in.header = tbl_header;
	r->in.hctx = r->hdr;
}

static void req_open(struct req *r, const char *name)
{
	req_set(r, load(name), headers_for(name));
}

static void req_close(struct req *r)
{
	cJSON_Delete(r->doc);
	cJSON_Delete(r->hdr);
}

static void set_header(struct req *r, const char *name, const char *value)
{
	cJSON_DeleteItemFromObject(r->hdr, name);
	if (value != NULL)
		cJSON_AddStringToObject(r->hdr, name, value);
}

/* Normalise r (source NULL = detect); fails the test unless the result is
 * want.  Returns the driver that ran. */
static const struct ingest_driver *run(struct req *r, const char *source, struct ingest_batch *b,
				       ax_err want, char *err, size_t errlen)
{
	const struct ingest_driver *d = NULL;
	ax_err rc;

	ingest_batch_init(b);
	err[0] = '\0';
	rc = ingest_normalize(&r->in, source, b, &d, err, errlen);
	if (rc != want)
		fail_msg("normalize returned %d (%s), want %d", rc, err, want);
	return d;
}

/* Normalise r with source, expect AX_EPROTO and a message holding why. */
static void refuse(struct req *r, const char *source, const char *why)
{
	struct ingest_batch b;
	char err[256];

	run(r, source, &b, AX_EPROTO, err, sizeof(err));
	if (strstr(err, why) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, why);
	assert_int_equal(b.n, 0);
}

/* ------------------------------------------------------------ helpers */

static const char *jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static const char *pstr(const cJSON *doc, const char *ptr)
{
	return cJSON_GetStringValue(ax_json_ptr(doc, ptr));
}

static const char *lbl(const struct ax_signal *s, const char *k)
{
	return jstr(s->labels, k);
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (want == NULL) {
		if (got != NULL)
			fail_msg("got \"%s\", want NULL", got);
	} else {
		if (got == NULL)
			fail_msg("got NULL, want \"%s\"", want);
		assert_string_equal(got, want);
	}
}

/* A JSON scalar as the drivers spell ids: strings as they are, integers
 * bare. */
static const char *scalar(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsString(v))
		return v->valuestring;
	assert_true(cJSON_IsNumber(v));
	snprintf(buf, len, "%lld", (long long)v->valuedouble);
	return buf;
}

/* The expected RFC 3339 UTC form of a sender's time string, read here
 * independently of util.c: "Y-M-D[T ]h:m:s[.frac][Z| UTC|+hh[:]mm]". */
static void want_time(const char *got, const char *sender)
{
	int y, mo, d, h, mi, s, n = 0, ms = 0, k, off = 0;
	char want[48], base[32];
	const char *p;
	struct tm tm;
	time_t t;

	assert_non_null(sender);
	if (sscanf(sender, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 ||
	    n == 0)
		fail_msg("test cannot read the time \"%s\"", sender);
	p = sender + n;
	if (*p == '.') {
		for (p++, k = 0; isdigit((unsigned char)*p); p++, k++) {
			if (k < 3)
				ms = ms * 10 + (*p - '0');
		}
		for (; k < 3; k++)
			ms *= 10;
	}
	while (*p == ' ')
		p++;
	if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh = (p[1] - '0') * 10 + (p[2] - '0'), om;

		p += 3;
		if (*p == ':')
			p++;
		om = (p[0] - '0') * 10 + (p[1] - '0');
		off = sign * (oh * 3600 + om * 60);
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	t = timegm(&tm) - off;
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(want, sizeof(want), "%s.%03dZ", base, ms);
	assert_str_or_null(got, want);
}

/* The same for epoch seconds (an integer or a float). */
static void want_epoch(const char *got, double secs)
{
	long long ms = llround(secs * 1000.0);
	time_t t = (time_t)(ms / 1000);
	char want[48], base[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(want, sizeof(want), "%s.%03dZ", base, (int)(ms % 1000));
	assert_str_or_null(got, want);
}

/* Every field checked the same way for every fixture: canonical JSON
 * round trip (the consumer's gate) and raw = the payload as sent. */
static void check_common(const struct ax_signal *s, const struct ingest_driver *d,
			 const cJSON *doc)
{
	struct ax_signal r;
	char err[256];
	cJSON *j;

	assert_string_equal(s->source, d->name);
	assert_int_equal(strlen(s->fingerprint), 64);
	assert_true(cJSON_Compare(s->raw, doc, 1));
	assert_true(cJSON_IsObject(s->labels));
	j = ax_signal_to_json(s);
	assert_non_null(j);
	if (ax_signal_from_json(&r, j, err, sizeof(err)) != AX_OK)
		fail_msg("%s signal does not round-trip: %s", d->name, err);
	assert_string_equal(r.fingerprint, s->fingerprint);
	ax_signal_release(&r);
	cJSON_Delete(j);
}

/* Open fixture name, check it is detected as d (and by no other driver
 * but generic), normalise it to exactly one signal.  The caller reads
 * b->sig[0] and releases b and r. */
static const struct ax_signal *one(struct req *r, const char *name,
				   const struct ingest_driver *d, struct ingest_batch *b)
{
	char err[256];
	size_t i;

	req_open(r, name);
	if (ingest_driver_detect(&r->in) != d)
		fail_msg("%s detected as %s, want %s", name,
			 ingest_driver_detect(&r->in) ? ingest_driver_detect(&r->in)->name
						      : "nothing",
			 d->name);
	for (i = 0; i < ingest_driver_count(); i++) {
		const struct ingest_driver *o = ingest_driver_at(i);

		if (o != d && o != &ingest_driver_generic && o->detect(o, &r->in))
			fail_msg("%s is also claimed by %s", name, o->name);
	}
	assert_ptr_equal(run(r, NULL, b, AX_OK, err, sizeof(err)), d);
	assert_int_equal(b->n, 1);
	check_common(&b->sig[0], d, r->doc);
	return &b->sig[0];
}

/* Normalise a modified request that must give one signal; its fingerprint
 * into fp. */
static void one_fp(struct req *r, const char *source, char fp[AX_SHA256_HEX],
		   struct ingest_batch *b)
{
	char err[256];

	run(r, source, b, AX_OK, err, sizeof(err));
	assert_int_equal(b->n, 1);
	memcpy(fp, b->sig[0].fingerprint, AX_SHA256_HEX);
}

static void replace(cJSON *obj, const char *key, cJSON *v)
{
	assert_non_null(v);
	if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
	else
		cJSON_AddItemToObject(obj, key, v);
}

static void set_str(cJSON *obj, const char *key, const char *v)
{
	assert_non_null(obj);
	replace(obj, key, cJSON_CreateString(v));
}

static cJSON *obj_at(cJSON *doc, const char *ptr)
{
	cJSON *o = (cJSON *)ax_json_ptr(doc, ptr);

	if (o == NULL)
		fail_msg("no %s in the fixture", ptr);
	return o;
}

/* ------------------------------------------------------------ table */

/* Every signal-producing fixture: its driver, the status it must have,
 * and a group: same group = same thing = same fingerprint. */
static const struct {
	const char *file;
	const struct ingest_driver *d;
	enum ax_status status;
	int group;
} signals[] = {
	{ "aws-cloudwatch-sns.json", &ingest_driver_cloudwatch, AX_STATUS_FIRING, 1 },
	{ "aws-cloudwatch-sns.resolved.json", &ingest_driver_cloudwatch, AX_STATUS_RESOLVED, 1 },
	{ "cloudwatch.insufficient-data.json", &ingest_driver_cloudwatch, AX_STATUS_FIRING, 1 },
	{ "cloudwatch.raw-delivery.json", &ingest_driver_cloudwatch, AX_STATUS_FIRING, 1 },
	{ "cloudwatch.metric-math.json", &ingest_driver_cloudwatch, AX_STATUS_FIRING, 2 },
	{ "azure-monitor.json", &ingest_driver_azure, AX_STATUS_FIRING, 3 },
	{ "azure-monitor.resolved.json", &ingest_driver_azure, AX_STATUS_RESOLVED, 3 },
	{ "azure-monitor.log.json", &ingest_driver_azure, AX_STATUS_FIRING, 4 },
	{ "gcp-monitoring.json", &ingest_driver_gcp, AX_STATUS_FIRING, 5 },
	{ "gcp-monitoring.resolved.json", &ingest_driver_gcp, AX_STATUS_RESOLVED, 5 },
	{ "sentry-issue.json", &ingest_driver_sentry, AX_STATUS_FIRING, 6 },
	{ "sentry-issue.resolved.json", &ingest_driver_sentry, AX_STATUS_RESOLVED, 6 },
	{ "sentry.event-alert.json", &ingest_driver_sentry, AX_STATUS_FIRING, 6 },
	{ "sentry.metric-alert.json", &ingest_driver_sentry, AX_STATUS_FIRING, 7 },
	{ "sentry.metric-alert.resolved.json", &ingest_driver_sentry, AX_STATUS_RESOLVED, 7 },
	{ "sentry.legacy.json", &ingest_driver_sentry, AX_STATUS_FIRING, 8 },
	{ "k8s-event-exporter.json", &ingest_driver_kubernetes, AX_STATUS_FIRING, 9 },
	{ "kubernetes.normal.json", &ingest_driver_kubernetes, AX_STATUS_RESOLVED, 10 },
	{ "kibana.json", &ingest_driver_kibana, AX_STATUS_FIRING, 11 },
	{ "kibana.resolved.json", &ingest_driver_kibana, AX_STATUS_RESOLVED, 11 },
	{ "uptime-kuma.json", &ingest_driver_uptimekuma, AX_STATUS_FIRING, 12 },
	{ "uptime-kuma.resolved.json", &ingest_driver_uptimekuma, AX_STATUS_RESOLVED, 12 },
	{ "github-deployment.json", &ingest_driver_github, AX_STATUS_FIRING, 13 },
	{ "github.deployment-status.json", &ingest_driver_github, AX_STATUS_RESOLVED, 13 },
	{ "github-workflow-run.json", &ingest_driver_github, AX_STATUS_FIRING, 14 },
	{ "gitlab-deployment.json", &ingest_driver_gitlab, AX_STATUS_RESOLVED, 15 },
	{ "gitlab.pipeline.json", &ingest_driver_gitlab, AX_STATUS_FIRING, 16 },
	{ "jira-issue-updated.json", &ingest_driver_jira, AX_STATUS_FIRING, 17 },
	{ "jira.resolved.json", &ingest_driver_jira, AX_STATUS_RESOLVED, 17 },
	{ "servicenow-outbound.json", &ingest_driver_servicenow, AX_STATUS_FIRING, 18 },
	{ "servicenow.resolved.json", &ingest_driver_servicenow, AX_STATUS_RESOLVED, 18 },
};

/* Fixtures that are valid but carry no event. */
static const struct {
	const char *file;
	const struct ingest_driver *d;
	int subscribe;  /* 1: subscribe_url = body SubscribeURL; 0: ignored */
} silent[] = {
	{ "cloudwatch.subscription.json", &ingest_driver_cloudwatch, 1 },
	{ "cloudwatch.unsubscribe.json", &ingest_driver_cloudwatch, 0 },
	{ "gcp-monitoring.test.json", &ingest_driver_gcp, 0 },
	{ "sentry.installation.json", &ingest_driver_sentry, 0 },
	{ "uptime-kuma.test.json", &ingest_driver_uptimekuma, 0 },
	{ "github.ping.json", &ingest_driver_github, 0 },
};

/* Fixtures a driver of this batch refuses. */
static const struct {
	const char *file;
	const struct ingest_driver *d;
	const char *why;
} refused[] = {
	{ "cloudwatch.not-alarm.json", &ingest_driver_cloudwatch,
	  "has no AlarmName: not a CloudWatch alarm" },
};

static const struct ingest_driver *const batch_b[] = {
	&ingest_driver_cloudwatch, &ingest_driver_github,     &ingest_driver_gitlab,
	&ingest_driver_sentry,     &ingest_driver_azure,      &ingest_driver_gcp,
	&ingest_driver_jira,       &ingest_driver_kubernetes, &ingest_driver_uptimekuma,
	&ingest_driver_kibana,     &ingest_driver_servicenow,
};

static const struct ingest_driver *owner_of(const char *file)
{
	size_t i;

	for (i = 0; i < NELEM(signals); i++) {
		if (strcmp(signals[i].file, file) == 0)
			return signals[i].d;
	}
	for (i = 0; i < NELEM(silent); i++) {
		if (strcmp(silent[i].file, file) == 0)
			return silent[i].d;
	}
	for (i = 0; i < NELEM(refused); i++) {
		if (strcmp(refused[i].file, file) == 0)
			return refused[i].d;
	}
	return NULL;
}

static void test_registry(void **state)
{
	int gen = ingest_driver_index(&ingest_driver_generic);
	int am = ingest_driver_index(&ingest_driver_alertmanager);
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(batch_b); i++) {
		int at = ingest_driver_index(batch_b[i]);

		assert_ptr_equal(ingest_driver_find(batch_b[i]->name), batch_b[i]);
		assert_true(at >= 0 && at < gen && at < am);
		assert_non_null(batch_b[i]->title);
	}
	/* Header-detected senders go before everything body-detected. */
	assert_true(ingest_driver_index(&ingest_driver_sentry) <
		    ingest_driver_index(&ingest_driver_azure));
	assert_true(ingest_driver_index(&ingest_driver_cloudwatch) <
		    ingest_driver_index(&ingest_driver_kibana));
}

/* Each signal fixture: detected by its driver alone, one signal, status;
 * fingerprints equal within a group and different across groups. */
static void test_signal_fixtures(void **state)
{
	char fp[NELEM(signals)][AX_SHA256_HEX];
	size_t i, j;

	(void)state;
	for (i = 0; i < NELEM(signals); i++) {
		struct ingest_batch b;
		struct req r;
		const struct ax_signal *s = one(&r, signals[i].file, signals[i].d, &b);

		if (s->status != signals[i].status)
			fail_msg("%s: status %s", signals[i].file, ax_status_str(s->status));
		memcpy(fp[i], s->fingerprint, AX_SHA256_HEX);
		ingest_batch_release(&b);
		req_close(&r);
	}
	for (i = 0; i < NELEM(signals); i++) {
		for (j = i + 1; j < NELEM(signals); j++) {
			int same = strcmp(fp[i], fp[j]) == 0;

			if (same != (signals[i].group == signals[j].group))
				fail_msg("%s and %s: fingerprints %s", signals[i].file,
					 signals[j].file, same ? "equal" : "differ");
		}
	}
}

static void test_silent_fixtures(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < NELEM(silent); i++) {
		struct ingest_batch b;
		struct req r;
		char err[256];

		req_open(&r, silent[i].file);
		if (ingest_driver_detect(&r.in) != silent[i].d)
			fail_msg("%s not detected as %s", silent[i].file, silent[i].d->name);
		for (k = 0; k < ingest_driver_count(); k++) {
			const struct ingest_driver *o = ingest_driver_at(k);

			if (o != silent[i].d && o != &ingest_driver_generic && o->detect(o, &r.in))
				fail_msg("%s is also claimed by %s", silent[i].file, o->name);
		}
		assert_ptr_equal(run(&r, NULL, &b, AX_OK, err, sizeof(err)), silent[i].d);
		assert_int_equal(b.n, 0);
		if (silent[i].subscribe) {
			assert_null(b.ignored);
			assert_str_or_null(b.subscribe_url, jstr(r.doc, "SubscribeURL"));
		} else {
			assert_null(b.subscribe_url);
			assert_non_null(b.ignored);
		}
		ingest_batch_release(&b);
		req_close(&r);
	}
	for (i = 0; i < NELEM(refused); i++) {
		struct req r;

		req_open(&r, refused[i].file);
		assert_ptr_equal(ingest_driver_detect(&r.in), refused[i].d);
		refuse(&r, NULL, refused[i].why);
		req_close(&r);
	}
}

/* No driver of this batch claims a fixture that is not its own (the other
 * senders' fixtures, replayed with their headers), and none claims its own
 * fixture without the headers when detection needs them. */
static void test_no_foreign_claims(void **state)
{
	struct dirent *e;
	DIR *dir = opendir(FIX);
	int seen = 0;
	size_t i;

	(void)state;
	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL) {
		size_t n = strlen(e->d_name);
		const struct ingest_driver *own;
		struct req r;

		if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0 ||
		    strcmp(e->d_name, "headers.json") == 0)
			continue;
		own = owner_of(e->d_name);
		{
			char path[512];
			cJSON *doc;

			snprintf(path, sizeof(path), FIX "%s", e->d_name);
			doc = try_load(path);
			if (doc == NULL)
				continue;  /* bad-truncated...: never reaches a driver */
			req_set(&r, doc, headers_for(e->d_name));
		}
		for (i = 0; i < NELEM(batch_b); i++) {
			if (batch_b[i] != own && batch_b[i]->detect(batch_b[i], &r.in))
				fail_msg("%s (%s) is claimed by %s", e->d_name,
					 own ? own->name : "another sender", batch_b[i]->name);
		}
		seen++;
		req_close(&r);
	}
	closedir(dir);
	assert_true(seen >= (int)(NELEM(signals) + NELEM(silent)));

	/* Header-only senders are not recognised from the body alone. */
	{
		static const char *const files[] = {
			"github-deployment.json", "github-workflow-run.json", "sentry-issue.json",
			"sentry.metric-alert.json",
		};

		for (i = 0; i < NELEM(files); i++) {
			struct req r;
			const struct ingest_driver *d;

			req_set(&r, load(files[i]), NULL);
			d = ingest_driver_detect(&r.in);
			if (d == &ingest_driver_github || d == &ingest_driver_sentry)
				fail_msg("%s detected as %s without its headers", files[i],
					 d->name);
			req_close(&r);
		}
	}
}

/* ------------------------------------------------------------ cloudwatch */

static cJSON *message_of(const cJSON *doc)
{
	const char *m = jstr(doc, "Message");
	cJSON *a;

	assert_non_null(m);
	a = ax_json_parse(m, strlen(m), 0);
	assert_non_null(a);
	return a;
}

static void set_message(cJSON *doc, const cJSON *alarm)
{
	char *m = ax_json_print(alarm);

	set_str(doc, "Message", m);
	free(m);
}

static void test_cloudwatch(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;
	const cJSON *dims, *dim;
	char fp[AX_SHA256_HEX], region[64];
	struct req r;
	cJSON *a;

	(void)state;
	s = one(&r, "aws-cloudwatch-sns.json", &ingest_driver_cloudwatch, &b);
	a = message_of(r.doc);
	assert_int_equal(s->kind, AX_KIND_ALERT);
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_string_equal(jstr(a, "NewStateValue"), "ALARM");
	assert_int_equal(s->severity, AX_SEV_WARNING);
	assert_string_equal(s->name, jstr(a, "AlarmName"));
	assert_string_equal(s->summary, jstr(a, "AlarmDescription"));
	assert_string_equal(s->description, jstr(a, "NewStateReason"));
	assert_string_equal(lbl(s, "alarm_arn"), jstr(a, "AlarmArn"));
	assert_string_equal(lbl(s, "alarm_name"), jstr(a, "AlarmName"));
	assert_string_equal(lbl(s, "aws_account_id"), jstr(a, "AWSAccountId"));
	/* arn:aws:cloudwatch:<region>:... */
	assert_int_equal(sscanf(jstr(a, "AlarmArn"), "arn:aws:cloudwatch:%63[^:]:", region), 1);
	assert_string_equal(lbl(s, "aws_region"), region);
	assert_string_equal(lbl(s, "metric_name"), pstr(a, "/Trigger/MetricName"));
	assert_string_equal(lbl(s, "metric_namespace"), pstr(a, "/Trigger/Namespace"));
	dims = ax_json_ptr(a, "/Trigger/Dimensions");
	assert_true(cJSON_GetArraySize(dims) > 0);
	cJSON_ArrayForEach(dim, dims)
		assert_string_equal(lbl(s, jstr(dim, "name")), jstr(dim, "value"));
	/* TargetGroup ranks before LoadBalancer for service; no host dim. */
	assert_string_equal(s->service, lbl(s, "TargetGroup"));
	assert_null(s->host);
	assert_null(s->namespace_);
	want_time(s->starts_at, jstr(a, "StateChangeTime"));
	assert_null(s->ends_at);
	assert_string_equal(s->source_id, jstr(a, "AlarmArn"));
	assert_null(s->source_url);
	memcpy(fp, s->fingerprint, sizeof(fp));
	cJSON_Delete(a);
	ingest_batch_release(&b);
	req_close(&r);

	/* OK: resolved, same alarm, the change time is the end. */
	s = one(&r, "aws-cloudwatch-sns.resolved.json", &ingest_driver_cloudwatch, &b);
	a = message_of(r.doc);
	assert_string_equal(jstr(a, "NewStateValue"), "OK");
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_string_equal(s->fingerprint, fp);
	assert_null(s->starts_at);
	want_time(s->ends_at, jstr(a, "StateChangeTime"));
	cJSON_Delete(a);
	ingest_batch_release(&b);
	req_close(&r);

	/* INSUFFICIENT_DATA: firing at info, the same alarm. */
	s = one(&r, "cloudwatch.insufficient-data.json", &ingest_driver_cloudwatch, &b);
	a = message_of(r.doc);
	assert_string_equal(jstr(a, "NewStateValue"), "INSUFFICIENT_DATA");
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_int_equal(s->severity, AX_SEV_INFO);
	assert_string_equal(lbl(s, "alarm_state"), "INSUFFICIENT_DATA");
	assert_string_equal(s->fingerprint, fp);
	cJSON_Delete(a);
	ingest_batch_release(&b);
	req_close(&r);

	/* Raw message delivery: the bare alarm, also detected without the
	 * header, same fingerprint as through the envelope. */
	s = one(&r, "cloudwatch.raw-delivery.json", &ingest_driver_cloudwatch, &b);
	assert_string_equal(s->fingerprint, fp);
	assert_string_equal(s->name, jstr(r.doc, "AlarmName"));
	assert_string_equal(s->summary, jstr(r.doc, "AlarmDescription"));
	ingest_batch_release(&b);
	set_header(&r, "x-amz-sns-message-type", NULL);
	set_header(&r, "x-amz-sns-rawdelivery", NULL);
	assert_ptr_equal(ingest_driver_detect(&r.in), &ingest_driver_cloudwatch);
	req_close(&r);

	/* Metric math: dimensions and names from Trigger.Metrics[]. */
	s = one(&r, "cloudwatch.metric-math.json", &ingest_driver_cloudwatch, &b);
	a = message_of(r.doc);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(a, "AlarmDescription")));
	assert_string_equal(s->summary, jstr(r.doc, "Subject"));
	assert_string_equal(lbl(s, "metric_name"),
			    pstr(a, "/Trigger/Metrics/1/MetricStat/Metric/MetricName"));
	assert_string_equal(lbl(s, "FunctionName"),
			    pstr(a, "/Trigger/Metrics/1/MetricStat/Metric/Dimensions/0/value"));
	assert_string_equal(s->service, lbl(s, "FunctionName"));
	assert_string_not_equal(s->fingerprint, fp);
	cJSON_Delete(a);
	ingest_batch_release(&b);
	req_close(&r);
}

static void test_cloudwatch_confirmations(void **state)
{
	struct ingest_batch b;
	struct req r;
	char err[256];

	(void)state;
	/* Detected from the body alone too (Type + TopicArn). */
	req_open(&r, "cloudwatch.subscription.json");
	set_header(&r, "x-amz-sns-message-type", NULL);
	assert_ptr_equal(ingest_driver_detect(&r.in), &ingest_driver_cloudwatch);
	run(&r, NULL, &b, AX_OK, err, sizeof(err));
	assert_int_equal(b.n, 0);
	assert_string_equal(b.subscribe_url, jstr(r.doc, "SubscribeURL"));
	ingest_batch_release(&b);
	/* Without SubscribeURL there is nothing to confirm. */
	cJSON_DeleteItemFromObject(r.doc, "SubscribeURL");
	refuse(&r, NULL, "SubscribeURL");
	req_close(&r);

	/* An UnsubscribeConfirmation has a SubscribeURL too, never visited. */
	req_open(&r, "cloudwatch.unsubscribe.json");
	assert_non_null(jstr(r.doc, "SubscribeURL"));
	run(&r, NULL, &b, AX_OK, err, sizeof(err));
	assert_null(b.subscribe_url);
	assert_non_null(strstr(b.ignored, "Unsubscribe"));
	ingest_batch_release(&b);
	req_close(&r);
}

static void test_cloudwatch_refusals(void **state)
{
	struct req r;
	cJSON *a;

	(void)state;
	req_open(&r, "cloudwatch.not-alarm.json");
	refuse(&r, NULL, "not a CloudWatch alarm");
	set_str(r.doc, "Message", "plain text, not JSON");
	refuse(&r, NULL, "\"Message\" is not a JSON object");
	cJSON_DeleteItemFromObject(r.doc, "Message");
	refuse(&r, NULL, "no \"Message\"");
	set_str(r.doc, "Type", "Bogus");
	set_header(&r, "x-amz-sns-message-type", "Bogus");
	refuse(&r, NULL, "unknown SNS message Type \"Bogus\"");
	req_close(&r);

	req_open(&r, "aws-cloudwatch-sns.json");
	set_header(&r, "x-amz-sns-message-type", "SubscriptionConfirmation");
	refuse(&r, NULL, "disagrees with body Type \"Notification\"");
	set_header(&r, "x-amz-sns-message-type", "Notification");
	a = message_of(r.doc);
	cJSON_DeleteItemFromObject(a, "Trigger");
	set_message(r.doc, a);
	refuse(&r, NULL, "has no Trigger object");
	cJSON_Delete(a);
	req_close(&r);

	req_open(&r, "aws-cloudwatch-sns.json");
	a = message_of(r.doc);
	set_str(a, "NewStateValue", "PURPLE");
	set_message(r.doc, a);
	refuse(&r, NULL, "NewStateValue must be ALARM, OK or INSUFFICIENT_DATA");
	cJSON_DeleteItemFromObject(r.doc, "Type");
	refuse(&r, "cloudwatch", "SNS message has no \"Type\"");
	cJSON_Delete(a);
	req_close(&r);

	/* A different alarm ARN is a different alarm. */
	{
		struct ingest_batch b;
		char fp1[AX_SHA256_HEX], fp2[AX_SHA256_HEX];

		req_open(&r, "aws-cloudwatch-sns.json");
		one_fp(&r, NULL, fp1, &b);
		ingest_batch_release(&b);
		a = message_of(r.doc);
		set_str(a, "AlarmArn", "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:other");
		set_message(r.doc, a);
		one_fp(&r, NULL, fp2, &b);
		ingest_batch_release(&b);
		assert_string_not_equal(fp1, fp2);
		cJSON_Delete(a);
		req_close(&r);
	}
}

/* ------------------------------------------------------------ azure */

static enum ax_severity azure_sev(const char *s)
{
	static const struct {
		const char *w;
		enum ax_severity v;
	} map[] = {
		{ "Sev0", AX_SEV_CRITICAL }, { "Sev1", AX_SEV_HIGH }, { "Sev2", AX_SEV_WARNING },
		{ "Sev3", AX_SEV_INFO },     { "Sev4", AX_SEV_INFO },
	};
	size_t i;

	for (i = 0; i < NELEM(map); i++) {
		if (strcmp(map[i].w, s) == 0)
			return map[i].v;
	}
	fail_msg("fixture severity %s", s);
	return AX_SEV_WARNING;
}

static void test_azure(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;
	const cJSON *ess, *cp, *c, *crit;
	char fp[AX_SHA256_HEX];
	struct req r;

	(void)state;
	s = one(&r, "azure-monitor.json", &ingest_driver_azure, &b);
	ess = ax_json_ptr(r.doc, "/data/essentials");
	cp = ax_json_ptr(r.doc, "/data/customProperties");
	assert_int_equal(s->kind, AX_KIND_ALERT);
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_string_equal(jstr(ess, "monitorCondition"), "Fired");
	assert_int_equal(s->severity, azure_sev(jstr(ess, "severity")));
	assert_string_equal(s->name, jstr(ess, "alertRule"));
	assert_string_equal(s->summary, jstr(ess, "description"));
	crit = ax_json_ptr(r.doc, "/data/alertContext/condition/allOf/0");
	assert_non_null(strstr(s->description, jstr(crit, "metricName")));
	assert_non_null(strstr(s->description, jstr(crit, "threshold")));
	assert_non_null(strstr(s->description, jstr(crit, "operator")));
	assert_string_equal(lbl(s, "alert_id"), jstr(ess, "alertId"));
	assert_string_equal(lbl(s, "alert_rule"), jstr(ess, "alertRule"));
	assert_string_equal(lbl(s, "signal_type"), jstr(ess, "signalType"));
	cJSON_ArrayForEach(c, cp)
		assert_string_equal(lbl(s, c->string), c->valuestring);
	assert_string_equal(s->service, jstr(cp, "service"));
	assert_string_equal(s->host, pstr(ess, "/configurationItems/0"));
	assert_string_equal(s->namespace_, jstr(ess, "targetResourceGroup"));
	want_time(s->starts_at, jstr(ess, "firedDateTime"));
	assert_null(s->ends_at);
	assert_string_equal(s->source_id, jstr(ess, "alertId"));
	memcpy(fp, s->fingerprint, sizeof(fp));
	ingest_batch_release(&b);
	req_close(&r);

	s = one(&r, "azure-monitor.resolved.json", &ingest_driver_azure, &b);
	ess = ax_json_ptr(r.doc, "/data/essentials");
	assert_string_equal(jstr(ess, "monitorCondition"), "Resolved");
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_string_equal(s->fingerprint, fp);
	want_time(s->starts_at, jstr(ess, "firedDateTime"));
	want_time(s->ends_at, jstr(ess, "resolvedDateTime"));
	ingest_batch_release(&b);
	req_close(&r);

	/* A log alert: another rule, Sev1, dimensions from the criterion. */
	s = one(&r, "azure-monitor.log.json", &ingest_driver_azure, &b);
	ess = ax_json_ptr(r.doc, "/data/essentials");
	crit = ax_json_ptr(r.doc, "/data/alertContext/condition/allOf/0");
	assert_int_equal(s->severity, azure_sev(jstr(ess, "severity")));
	assert_int_equal(s->severity, AX_SEV_HIGH);
	assert_non_null(strstr(s->description, jstr(crit, "searchQuery")));
	assert_string_equal(lbl(s, pstr(crit, "/dimensions/0/name")),
			    pstr(crit, "/dimensions/0/value"));
	assert_string_not_equal(s->fingerprint, fp);
	ingest_batch_release(&b);
	req_close(&r);
}

static void test_azure_refusals(void **state)
{
	struct req r;
	cJSON *ess;

	(void)state;
	req_open(&r, "azure-monitor.json");
	ess = obj_at(r.doc, "/data/essentials");
	set_str(ess, "monitorCondition", "Maybe");
	refuse(&r, NULL, "data.essentials.monitorCondition");
	cJSON_DeleteItemFromObject(ess, "alertId");
	refuse(&r, NULL, "data.essentials.alertId");
	cJSON_DeleteItemFromObject(ess, "alertRule");
	refuse(&r, NULL, "data.essentials.alertRule");
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/data"), "essentials");
	refuse(&r, NULL, "data.essentials is missing");
	/* Another Azure schema is not ours to guess. */
	set_str(r.doc, "schemaId", "AzureMonitorMetricAlert");
	assert_ptr_not_equal(ingest_driver_detect(&r.in), &ingest_driver_azure);
	refuse(&r, "azure-monitor", "common alert schema");
	req_close(&r);
}

/* ------------------------------------------------------------ gcp */

static void test_gcp(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;
	const cJSON *inc, *c;
	char fp[AX_SHA256_HEX], fp2[AX_SHA256_HEX];
	enum ax_severity sev;
	struct req r;

	(void)state;
	s = one(&r, "gcp-monitoring.json", &ingest_driver_gcp, &b);
	inc = cJSON_GetObjectItemCaseSensitive(r.doc, "incident");
	assert_string_equal(jstr(inc, "state"), "open");
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_int_equal(ax_severity_parse(jstr(inc, "severity"), &sev), 0);
	assert_int_equal(s->severity, sev);
	assert_string_equal(s->name, jstr(inc, "policy_name"));
	assert_string_equal(s->summary, jstr(inc, "summary"));
	assert_string_equal(s->description, pstr(inc, "/documentation/content"));
	assert_string_equal(lbl(s, "incident_id"), jstr(inc, "incident_id"));
	assert_string_equal(lbl(s, "resource_type"), pstr(inc, "/resource/type"));
	cJSON_ArrayForEach(c, ax_json_ptr(inc, "/resource/labels"))
		assert_string_equal(lbl(s, c->string), c->valuestring);
	cJSON_ArrayForEach(c, ax_json_ptr(inc, "/metric/labels"))
		assert_string_equal(lbl(s, c->string), c->valuestring);
	cJSON_ArrayForEach(c, ax_json_ptr(inc, "/policy_user_labels"))
		assert_string_equal(lbl(s, c->string), c->valuestring);
	assert_string_equal(s->service, pstr(inc, "/resource/labels/service_name"));
	assert_null(s->host);
	want_epoch(s->starts_at, cJSON_GetObjectItemCaseSensitive(inc, "started_at")->valuedouble);
	assert_null(s->ends_at);
	assert_string_equal(s->source_id, jstr(inc, "incident_id"));
	assert_string_equal(s->source_url, jstr(inc, "url"));
	memcpy(fp, s->fingerprint, sizeof(fp));
	ingest_batch_release(&b);
	req_close(&r);

	s = one(&r, "gcp-monitoring.resolved.json", &ingest_driver_gcp, &b);
	inc = cJSON_GetObjectItemCaseSensitive(r.doc, "incident");
	assert_string_equal(jstr(inc, "state"), "closed");
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_string_equal(s->fingerprint, fp);
	want_epoch(s->ends_at, cJSON_GetObjectItemCaseSensitive(inc, "ended_at")->valuedouble);
	ingest_batch_release(&b);

	/* Another incident (another time series) is another thing; the state
	 * is read whatever its case. */
	set_str(obj_at(r.doc, "/incident"), "incident_id", "0.other");
	set_str(obj_at(r.doc, "/incident"), "state", "OPEN");
	one_fp(&r, NULL, fp2, &b);
	assert_int_equal(b.sig[0].status, AX_STATUS_FIRING);
	assert_string_not_equal(fp2, fp);
	ingest_batch_release(&b);

	set_str(obj_at(r.doc, "/incident"), "state", "acknowledged");
	refuse(&r, NULL, "incident.state");
	set_str(obj_at(r.doc, "/incident"), "state", "closed");
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/incident"), "policy_name");
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/incident"), "condition_name");
	refuse(&r, NULL, "neither policy_name nor condition_name");
	cJSON_DeleteItemFromObject(r.doc, "incident");
	refuse(&r, "gcp-monitoring", "no \"incident\" object");
	req_close(&r);
}

/* ------------------------------------------------------------ sentry */

static void test_sentry(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;
	const cJSON *iss, *ev, *t, *ma;
	char fp_issue[AX_SHA256_HEX], fp_metric[AX_SHA256_HEX], fp[AX_SHA256_HEX];
	char slug[128];
	struct req r;

	(void)state;
	s = one(&r, "sentry-issue.json", &ingest_driver_sentry, &b);
	iss = ax_json_ptr(r.doc, "/data/issue");
	assert_string_equal(jstr(r.doc, "action"), "created");
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_string_equal(jstr(iss, "level"), "error");
	assert_int_equal(s->severity, AX_SEV_HIGH);
	assert_string_equal(s->name, jstr(iss, "title"));
	assert_string_equal(s->summary, pstr(iss, "/metadata/value"));
	assert_string_equal(s->description, jstr(iss, "culprit"));
	assert_string_equal(lbl(s, "issue_id"), jstr(iss, "id"));
	assert_string_equal(lbl(s, "short_id"), jstr(iss, "shortId"));
	assert_string_equal(s->service, pstr(iss, "/project/slug"));
	snprintf(slug, sizeof(slug), "%s", pstr(iss, "/project/slug"));
	want_time(s->starts_at, jstr(iss, "firstSeen"));
	assert_null(s->ends_at);
	assert_string_equal(s->source_id, jstr(iss, "id"));
	assert_string_equal(s->source_url, jstr(iss, "web_url"));
	memcpy(fp_issue, s->fingerprint, sizeof(fp_issue));
	ingest_batch_release(&b);
	req_close(&r);

	/* Resolved: same issue; the hook's timestamp is when. */
	s = one(&r, "sentry-issue.resolved.json", &ingest_driver_sentry, &b);
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_string_equal(s->fingerprint, fp_issue);
	want_epoch(s->ends_at, strtod(jstr(r.hdr, "Sentry-Hook-Timestamp"), NULL));
	ingest_batch_release(&b);
	/* "assigned" on a resolved issue follows the issue's status. */
	set_str(r.doc, "action", "assigned");
	one_fp(&r, NULL, fp, &b);
	assert_int_equal(b.sig[0].status, AX_STATUS_RESOLVED);
	ingest_batch_release(&b);
	set_str(obj_at(r.doc, "/data/issue"), "status", "ignored");
	set_str(r.doc, "action", "archived");
	one_fp(&r, NULL, fp, &b);
	assert_int_equal(b.sig[0].status, AX_STATUS_FIRING);
	ingest_batch_release(&b);
	req_close(&r);

	/* The issue alert for the same issue folds into the same fingerprint;
	 * tags ([["k","v"]]) become labels. */
	s = one(&r, "sentry.event-alert.json", &ingest_driver_sentry, &b);
	ev = ax_json_ptr(r.doc, "/data/event");
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_string_equal(s->fingerprint, fp_issue);
	assert_string_equal(s->name, jstr(ev, "title"));
	assert_int_equal(s->severity, AX_SEV_HIGH);
	assert_string_equal(s->summary, pstr(ev, "/metadata/value"));
	assert_string_equal(s->description, jstr(ev, "culprit"));
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(ev, "tags"))
		assert_string_equal(lbl(s, cJSON_GetArrayItem(t, 0)->valuestring),
				    cJSON_GetArrayItem(t, 1)->valuestring);
	assert_string_equal(lbl(s, "rule"), pstr(r.doc, "/data/triggered_rule"));
	assert_string_equal(s->host, lbl(s, "server_name"));
	assert_string_equal(s->service, slug);
	want_time(s->starts_at, jstr(ev, "datetime"));
	assert_string_equal(s->source_id, jstr(ev, "issue_id"));
	assert_string_equal(s->source_url, jstr(ev, "web_url"));
	ingest_batch_release(&b);
	/* Without datetime the float epoch is used. */
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/data/event"), "datetime");
	one_fp(&r, NULL, fp, &b);
	want_epoch(b.sig[0].starts_at,
		   cJSON_GetObjectItemCaseSensitive(ax_json_ptr(r.doc, "/data/event"), "timestamp")
			   ->valuedouble);
	ingest_batch_release(&b);
	req_close(&r);

	/* Metric alerts: the incident id, critical then resolved. */
	s = one(&r, "sentry.metric-alert.json", &ingest_driver_sentry, &b);
	ma = ax_json_ptr(r.doc, "/data/metric_alert");
	assert_int_equal(s->severity, AX_SEV_CRITICAL);
	assert_string_equal(s->name, pstr(ma, "/alert_rule/name"));
	assert_string_equal(s->summary, pstr(r.doc, "/data/description_title"));
	assert_string_equal(s->description, pstr(r.doc, "/data/description_text"));
	assert_string_equal(lbl(s, "metric_alert_id"), jstr(ma, "id"));
	assert_string_equal(s->service, pstr(ma, "/projects/0"));
	want_time(s->starts_at, jstr(ma, "date_started"));
	assert_null(s->ends_at);
	assert_string_equal(s->source_url, pstr(r.doc, "/data/web_url"));
	memcpy(fp_metric, s->fingerprint, sizeof(fp_metric));
	ingest_batch_release(&b);
	set_str(r.doc, "action", "warning");
	one_fp(&r, NULL, fp, &b);
	assert_int_equal(b.sig[0].severity, AX_SEV_WARNING);
	assert_string_equal(fp, fp_metric);
	ingest_batch_release(&b);
	set_str(r.doc, "action", "exploded");
	refuse(&r, NULL, "metric_alert action");
	req_close(&r);

	s = one(&r, "sentry.metric-alert.resolved.json", &ingest_driver_sentry, &b);
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_string_equal(s->fingerprint, fp_metric);
	want_time(s->ends_at, pstr(r.doc, "/data/metric_alert/date_closed"));
	ingest_batch_release(&b);
	req_close(&r);

	/* The legacy plugin: no header; the same issue id would fold into
	 * the integration platform's fingerprint. */
	s = one(&r, "sentry.legacy.json", &ingest_driver_sentry, &b);
	ev = cJSON_GetObjectItemCaseSensitive(r.doc, "event");
	assert_int_equal(cJSON_GetArraySize(r.hdr), 0);
	assert_string_equal(s->name, jstr(ev, "title"));
	assert_int_equal(s->severity, AX_SEV_WARNING);
	assert_string_equal(s->summary, jstr(r.doc, "message"));
	assert_string_equal(s->service, jstr(r.doc, "project_slug"));
	assert_string_equal(lbl(s, "rule"), pstr(r.doc, "/triggering_rules/0"));
	assert_string_equal(lbl(s, "issue_id"), jstr(r.doc, "id"));
	assert_string_equal(s->host, lbl(s, "server_name"));
	assert_string_equal(s->source_url, jstr(r.doc, "url"));
	want_epoch(s->starts_at, cJSON_GetObjectItemCaseSensitive(ev, "timestamp")->valuedouble);
	ingest_batch_release(&b);
	{
		struct req ri;

		req_open(&ri, "sentry-issue.json");
		set_str(r.doc, "id", pstr(ri.doc, "/data/issue/id"));
		req_close(&ri);
	}
	one_fp(&r, NULL, fp, &b);
	assert_string_equal(fp, fp_issue);
	ingest_batch_release(&b);
	req_close(&r);
}

static void test_sentry_refusals(void **state)
{
	struct ingest_batch b;
	struct req r;
	char err[256];

	(void)state;
	req_open(&r, "sentry.event-alert.json");
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/data/event"), "issue_id");
	refuse(&r, NULL, "data.event has no issue_id");
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/data"), "event");
	refuse(&r, NULL, "data.event is missing");
	/* Resources without an alert are valid but silent. */
	set_header(&r, "Sentry-Hook-Resource", "comment");
	run(&r, NULL, &b, AX_OK, err, sizeof(err));
	assert_int_equal(b.n, 0);
	assert_non_null(b.ignored);
	ingest_batch_release(&b);
	/* Named route, no header, not the legacy shape. */
	set_header(&r, "Sentry-Hook-Resource", NULL);
	refuse(&r, "sentry", "no Sentry-Hook-Resource header");
	req_close(&r);

	req_open(&r, "sentry-issue.json");
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/data/issue"), "id");
	refuse(&r, NULL, "data.issue.id is missing");
	cJSON_DeleteItemFromObject(r.doc, "action");
	refuse(&r, NULL, "no \"action\"");
	req_close(&r);

	req_open(&r, "sentry.legacy.json");
	cJSON_DeleteItemFromObject(r.doc, "id");
	refuse(&r, NULL, "legacy webhook event has no issue_id");
	req_close(&r);
}

/* ------------------------------------------------------------ kubernetes */

static void test_kubernetes(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;
	const cJSON *obj, *c;
	char fp[AX_SHA256_HEX], fp2[AX_SHA256_HEX], num[32];
	struct req r;

	(void)state;
	s = one(&r, "k8s-event-exporter.json", &ingest_driver_kubernetes, &b);
	obj = cJSON_GetObjectItemCaseSensitive(r.doc, "involvedObject");
	assert_string_equal(jstr(r.doc, "type"), "Warning");
	assert_int_equal(s->kind, AX_KIND_ALERT);
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_int_equal(s->severity, AX_SEV_WARNING);
	assert_string_equal(s->name, jstr(r.doc, "reason"));
	assert_string_equal(s->description, jstr(r.doc, "message"));
	assert_non_null(strstr(s->summary, jstr(obj, "name")));
	assert_string_equal(lbl(s, "event_uid"), pstr(r.doc, "/metadata/uid"));
	assert_string_equal(lbl(s, "cluster"), jstr(r.doc, "clusterName"));
	assert_string_equal(lbl(s, "involved_kind"), jstr(obj, "kind"));
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(obj, "labels"))
		assert_string_equal(lbl(s, c->string), c->valuestring);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(obj, "annotations"))
		assert_string_equal(jstr(s->annotations, c->string), c->valuestring);
	snprintf(num, sizeof(num), "%d",
		 cJSON_GetObjectItemCaseSensitive(r.doc, "count")->valueint);
	assert_string_equal(jstr(s->annotations, "count"), num);
	assert_string_equal(jstr(s->annotations, "last_seen"), jstr(r.doc, "lastTimestamp"));
	assert_string_equal(s->service, pstr(obj, "/labels/app.kubernetes.io~1name"));
	assert_string_equal(s->host, pstr(r.doc, "/source/host"));
	assert_string_equal(s->namespace_, jstr(obj, "namespace"));
	want_time(s->starts_at, jstr(r.doc, "firstTimestamp"));
	assert_null(s->ends_at);
	assert_string_equal(s->source_id, pstr(r.doc, "/metadata/uid"));
	memcpy(fp, s->fingerprint, sizeof(fp));
	ingest_batch_release(&b);

	/* The exporter re-sends the updated Event: same uid, same thing. */
	replace(r.doc, "count", cJSON_CreateNumber(15));
	set_str(r.doc, "lastTimestamp", "2025-06-10T08:20:31Z");
	one_fp(&r, NULL, fp2, &b);
	assert_string_equal(fp2, fp);
	assert_string_equal(jstr(b.sig[0].annotations, "count"), "15");
	ingest_batch_release(&b);
	set_str(r.doc, "type", "Error");
	refuse(&r, NULL, "\"type\" must be \"Warning\" or \"Normal\"");
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/metadata"), "uid");
	refuse(&r, "kubernetes", "metadata.uid");
	req_close(&r);

	/* Normal: a change that happened, nothing left open. */
	s = one(&r, "kubernetes.normal.json", &ingest_driver_kubernetes, &b);
	assert_string_equal(jstr(r.doc, "type"), "Normal");
	assert_int_equal(s->kind, AX_KIND_CHANGE);
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_int_equal(s->severity, AX_SEV_INFO);
	want_time(s->starts_at, jstr(r.doc, "firstTimestamp"));
	want_time(s->ends_at, jstr(r.doc, "lastTimestamp"));
	assert_null(s->host);  /* no source.host, empty reportingInstance */
	assert_string_equal(s->service,
			    pstr(r.doc, "/involvedObject/labels/app.kubernetes.io~1name"));
	assert_string_not_equal(s->fingerprint, fp);
	ingest_batch_release(&b);
	req_close(&r);
}

/* ------------------------------------------------------------ kibana */

static void test_kibana(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;
	char fp[AX_SHA256_HEX], fp2[AX_SHA256_HEX], tags[256], *tok, *save;
	struct req r;

	(void)state;
	s = one(&r, "kibana.json", &ingest_driver_kibana, &b);
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_int_equal(s->severity, AX_SEV_WARNING);  /* no severity tag */
	assert_string_equal(s->name, jstr(r.doc, "rule_name"));
	assert_string_equal(s->summary, pstr(r.doc, "/context/title"));
	assert_string_equal(s->description, pstr(r.doc, "/context/message"));
	assert_string_equal(lbl(s, "rule_id"), jstr(r.doc, "rule_id"));
	assert_string_equal(lbl(s, "alert_id"), jstr(r.doc, "alert_id"));
	assert_string_equal(lbl(s, "action_group"), jstr(r.doc, "alert_action_group"));
	snprintf(tags, sizeof(tags), "%s", jstr(r.doc, "rule_tags"));
	for (tok = strtok_r(tags, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		assert_string_equal(lbl(s, tok), "");
	assert_null(s->service);
	assert_null(s->host);
	want_time(s->starts_at, jstr(r.doc, "date"));
	assert_null(s->ends_at);
	assert_string_equal(s->source_id, jstr(r.doc, "alert_uuid"));
	assert_string_equal(s->source_url, jstr(r.doc, "rule_url"));
	memcpy(fp, s->fingerprint, sizeof(fp));
	ingest_batch_release(&b);

	/* Severity and service from tags. */
	set_str(r.doc, "rule_tags", "payments,severity:critical,service:checkout-api");
	one_fp(&r, NULL, fp2, &b);
	assert_int_equal(b.sig[0].severity, AX_SEV_CRITICAL);
	assert_string_equal(b.sig[0].service, "checkout-api");
	assert_string_equal(fp2, fp);  /* tags do not identify the alert */
	ingest_batch_release(&b);
	set_str(r.doc, "rule_tags", "payments,P2");
	one_fp(&r, NULL, fp2, &b);
	assert_int_equal(b.sig[0].severity, AX_SEV_HIGH);
	ingest_batch_release(&b);
	/* Another group of the rule is another alert. */
	set_str(r.doc, "alert_id", "orders-api");
	one_fp(&r, NULL, fp2, &b);
	assert_string_not_equal(fp2, fp);
	ingest_batch_release(&b);
	cJSON_DeleteItemFromObject(r.doc, "alert_action_group");
	refuse(&r, "kibana", "alert_action_group");
	req_close(&r);

	s = one(&r, "kibana.resolved.json", &ingest_driver_kibana, &b);
	assert_string_equal(jstr(r.doc, "alert_action_group"), "recovered");
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_string_equal(s->fingerprint, fp);
	assert_null(s->starts_at);
	want_time(s->ends_at, jstr(r.doc, "date"));
	ingest_batch_release(&b);

	/* The nested rendering of the same variables is the same alert. */
	{
		cJSON *n = cJSON_CreateObject(), *rule = cJSON_AddObjectToObject(n, "rule"),
		      *al = cJSON_AddObjectToObject(n, "alert");
		struct req rn;

		cJSON_AddStringToObject(rule, "id", jstr(r.doc, "rule_id"));
		cJSON_AddStringToObject(rule, "name", jstr(r.doc, "rule_name"));
		cJSON_AddStringToObject(al, "id", jstr(r.doc, "alert_id"));
		cJSON_AddStringToObject(al, "actionGroup", "recovered");
		cJSON_AddStringToObject(n, "date", jstr(r.doc, "date"));
		req_set(&rn, n, NULL);
		assert_ptr_equal(ingest_driver_detect(&rn.in), &ingest_driver_kibana);
		one_fp(&rn, NULL, fp2, &b);
		assert_string_equal(fp2, fp);
		assert_int_equal(b.sig[0].status, AX_STATUS_RESOLVED);
		ingest_batch_release(&b);
		req_close(&rn);
	}
	req_close(&r);
}

/* ------------------------------------------------------------ uptime kuma */

static void test_uptimekuma(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;
	const cJSON *mon, *hb, *t;
	char fp[AX_SHA256_HEX], fp2[AX_SHA256_HEX], host[128], num[32];
	struct req r;

	(void)state;
	s = one(&r, "uptime-kuma.json", &ingest_driver_uptimekuma, &b);
	mon = cJSON_GetObjectItemCaseSensitive(r.doc, "monitor");
	hb = cJSON_GetObjectItemCaseSensitive(r.doc, "heartbeat");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(hb, "status")->valueint, 0);
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_int_equal(s->severity, AX_SEV_WARNING);
	assert_string_equal(s->name, jstr(mon, "name"));
	assert_string_equal(s->summary, jstr(r.doc, "msg"));
	assert_string_equal(s->description, jstr(hb, "msg"));
	assert_string_equal(lbl(s, "monitor_id"),
			    scalar(cJSON_GetObjectItemCaseSensitive(mon, "id"), num, sizeof(num)));
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(mon, "tags"))
		assert_string_equal(lbl(s, jstr(t, "name")), jstr(t, "value"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(mon, "hostname")));
	assert_int_equal(sscanf(jstr(mon, "url"), "%*[a-z]://%127[^/:]", host), 1);
	assert_string_equal(s->host, host);
	want_time(s->starts_at, jstr(hb, "time"));  /* zoneless = UTC */
	assert_null(s->ends_at);
	assert_string_equal(s->source_id, num);
	memcpy(fp, s->fingerprint, sizeof(fp));
	ingest_batch_release(&b);

	/* PENDING and MAINTENANCE state neither; unknown states are refused. */
	replace(obj_at(r.doc, "/heartbeat"), "status", cJSON_CreateNumber(2));
	{
		char err[256];

		run(&r, NULL, &b, AX_OK, err, sizeof(err));
		assert_int_equal(b.n, 0);
		assert_non_null(strstr(b.ignored, "PENDING"));
		ingest_batch_release(&b);
	}
	replace(obj_at(r.doc, "/heartbeat"), "status", cJSON_CreateNumber(7));
	refuse(&r, NULL, "heartbeat.status");
	replace(obj_at(r.doc, "/heartbeat"), "status", cJSON_CreateNumber(0));
	replace(obj_at(r.doc, "/monitor"), "id", cJSON_CreateNumber(8));
	one_fp(&r, NULL, fp2, &b);
	assert_string_not_equal(fp2, fp);
	ingest_batch_release(&b);
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/monitor"), "name");
	refuse(&r, NULL, "monitor.name is missing");
	replace(r.doc, "monitor", cJSON_CreateNull());
	refuse(&r, NULL, "\"monitor\" is missing or not an object");
	req_close(&r);

	s = one(&r, "uptime-kuma.resolved.json", &ingest_driver_uptimekuma, &b);
	hb = cJSON_GetObjectItemCaseSensitive(r.doc, "heartbeat");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(hb, "status")->valueint, 1);
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_string_equal(s->fingerprint, fp);
	want_time(s->ends_at, jstr(hb, "time"));
	want_time(s->starts_at, jstr(hb, "lastDownTime"));
	ingest_batch_release(&b);
	req_close(&r);
}

/* ------------------------------------------------------------ github */

static void test_github(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;
	const cJSON *dep, *st, *run_o;
	char fp_dep[AX_SHA256_HEX], fp_run[AX_SHA256_HEX], fp[AX_SHA256_HEX], num[32];
	struct req r;

	(void)state;
	s = one(&r, "github-deployment.json", &ingest_driver_github, &b);
	dep = cJSON_GetObjectItemCaseSensitive(r.doc, "deployment");
	assert_int_equal(s->kind, AX_KIND_DEPLOY);
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_int_equal(s->severity, AX_SEV_INFO);
	assert_non_null(strstr(s->name, pstr(r.doc, "/repository/full_name")));
	assert_non_null(strstr(s->name, jstr(dep, "environment")));
	assert_string_equal(s->summary, jstr(dep, "description"));
	assert_string_equal(lbl(s, "deployment_id"),
			    scalar(cJSON_GetObjectItemCaseSensitive(dep, "id"), num, sizeof(num)));
	assert_string_equal(lbl(s, "repository"), pstr(r.doc, "/repository/full_name"));
	assert_string_equal(lbl(s, "sha"), jstr(dep, "sha"));
	assert_string_equal(lbl(s, "environment"), jstr(dep, "environment"));
	assert_string_equal(lbl(s, "state"), "created");
	assert_string_equal(s->service, pstr(r.doc, "/repository/name"));
	want_time(s->starts_at, jstr(dep, "created_at"));
	assert_null(s->ends_at);
	assert_string_equal(s->source_id, num);
	assert_string_equal(s->source_url, jstr(dep, "url"));
	memcpy(fp_dep, s->fingerprint, sizeof(fp_dep));
	ingest_batch_release(&b);
	req_close(&r);

	/* Its status: success resolves the same deployment. */
	s = one(&r, "github.deployment-status.json", &ingest_driver_github, &b);
	st = cJSON_GetObjectItemCaseSensitive(r.doc, "deployment_status");
	assert_string_equal(jstr(st, "state"), "success");
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_int_equal(s->severity, AX_SEV_INFO);
	assert_string_equal(s->fingerprint, fp_dep);
	assert_string_equal(s->summary, jstr(st, "description"));
	want_time(s->starts_at, pstr(r.doc, "/deployment/created_at"));
	want_time(s->ends_at, jstr(st, "created_at"));
	assert_string_equal(s->source_url, jstr(st, "target_url"));
	ingest_batch_release(&b);
	set_str(obj_at(r.doc, "/deployment_status"), "state", "failure");
	one_fp(&r, NULL, fp, &b);
	assert_int_equal(b.sig[0].status, AX_STATUS_FIRING);
	assert_int_equal(b.sig[0].severity, AX_SEV_HIGH);
	assert_string_equal(fp, fp_dep);
	assert_non_null(b.sig[0].ends_at);
	ingest_batch_release(&b);
	set_str(obj_at(r.doc, "/deployment_status"), "state", "in_progress");
	one_fp(&r, NULL, fp, &b);
	assert_int_equal(b.sig[0].status, AX_STATUS_FIRING);
	assert_int_equal(b.sig[0].severity, AX_SEV_INFO);
	assert_null(b.sig[0].ends_at);
	ingest_batch_release(&b);
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/deployment_status"), "state");
	refuse(&r, NULL, "deployment_status.state is missing");
	cJSON_DeleteItemFromObject(r.doc, "deployment");
	refuse(&r, NULL, "deployment_status event has no \"deployment\" object");
	req_close(&r);

	/* A failed workflow run: open, high. */
	s = one(&r, "github-workflow-run.json", &ingest_driver_github, &b);
	run_o = cJSON_GetObjectItemCaseSensitive(r.doc, "workflow_run");
	assert_string_equal(jstr(run_o, "conclusion"), "failure");
	assert_int_equal(s->kind, AX_KIND_DEPLOY);
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_int_equal(s->severity, AX_SEV_HIGH);
	assert_non_null(strstr(s->name, jstr(run_o, "name")));
	assert_string_equal(s->summary, jstr(run_o, "display_title"));
	assert_string_equal(s->description, pstr(run_o, "/head_commit/message"));
	assert_string_equal(lbl(s, "workflow_run_id"),
			    scalar(cJSON_GetObjectItemCaseSensitive(run_o, "id"), num,
				   sizeof(num)));
	assert_string_equal(lbl(s, "sha"), jstr(run_o, "head_sha"));
	assert_string_equal(lbl(s, "ref"), jstr(run_o, "head_branch"));
	assert_string_equal(lbl(s, "state"), "failure");
	want_time(s->starts_at, jstr(run_o, "run_started_at"));
	want_time(s->ends_at, jstr(run_o, "updated_at"));
	assert_string_equal(s->source_url, jstr(run_o, "html_url"));
	memcpy(fp_run, s->fingerprint, sizeof(fp_run));
	ingest_batch_release(&b);
	/* A successful re-run of the same run resolves it. */
	set_str(obj_at(r.doc, "/workflow_run"), "conclusion", "success");
	replace(obj_at(r.doc, "/workflow_run"), "run_attempt", cJSON_CreateNumber(2));
	one_fp(&r, NULL, fp, &b);
	assert_int_equal(b.sig[0].status, AX_STATUS_RESOLVED);
	assert_string_equal(fp, fp_run);
	ingest_batch_release(&b);
	set_str(r.doc, "action", "in_progress");
	replace(obj_at(r.doc, "/workflow_run"), "conclusion", cJSON_CreateNull());
	one_fp(&r, NULL, fp, &b);
	assert_int_equal(b.sig[0].status, AX_STATUS_FIRING);
	assert_int_equal(b.sig[0].severity, AX_SEV_INFO);
	assert_null(b.sig[0].ends_at);
	ingest_batch_release(&b);
	set_str(r.doc, "action", "completed");
	refuse(&r, NULL, "completed workflow_run has no conclusion");
	cJSON_DeleteItemFromObject(r.doc, "repository");
	refuse(&r, NULL, "no repository.full_name");
	/* Events without a deploy are valid and silent. */
	set_header(&r, "X-GitHub-Event", "push");
	{
		char err[256];

		run(&r, NULL, &b, AX_OK, err, sizeof(err));
		assert_int_equal(b.n, 0);
		assert_non_null(b.ignored);
		ingest_batch_release(&b);
	}
	set_header(&r, "X-GitHub-Event", NULL);
	refuse(&r, "github", "no X-GitHub-Event header");
	req_close(&r);
}

/* ------------------------------------------------------------ gitlab */

static void test_gitlab(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;
	const cJSON *oa;
	char fp_dep[AX_SHA256_HEX], fp[AX_SHA256_HEX], num[32];
	const char *cu;
	struct req r;

	(void)state;
	s = one(&r, "gitlab-deployment.json", &ingest_driver_gitlab, &b);
	assert_string_equal(jstr(r.doc, "status"), "success");
	assert_int_equal(s->kind, AX_KIND_DEPLOY);
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_int_equal(s->severity, AX_SEV_INFO);
	assert_non_null(strstr(s->name, pstr(r.doc, "/project/path_with_namespace")));
	assert_non_null(strstr(s->name, jstr(r.doc, "environment")));
	assert_string_equal(s->summary, jstr(r.doc, "commit_title"));
	assert_string_equal(lbl(s, "deployment_id"),
			    scalar(cJSON_GetObjectItemCaseSensitive(r.doc, "deployment_id"), num,
				   sizeof(num)));
	assert_string_equal(lbl(s, "environment"), jstr(r.doc, "environment"));
	cu = jstr(r.doc, "commit_url");
	assert_string_equal(lbl(s, "sha"), strrchr(cu, '/') + 1);
	assert_int_equal(strncmp(lbl(s, "sha"), jstr(r.doc, "short_sha"), 8), 0);
	assert_string_equal(s->service, pstr(r.doc, "/project/name"));
	assert_null(s->starts_at);
	want_time(s->ends_at, jstr(r.doc, "status_changed_at"));  /* "+0200" */
	assert_string_equal(s->source_url, jstr(r.doc, "deployable_url"));
	memcpy(fp_dep, s->fingerprint, sizeof(fp_dep));
	ingest_batch_release(&b);
	/* Running: the same deployment, open; failed: open, high. */
	set_str(r.doc, "status", "running");
	one_fp(&r, NULL, fp, &b);
	assert_int_equal(b.sig[0].status, AX_STATUS_FIRING);
	assert_int_equal(b.sig[0].severity, AX_SEV_INFO);
	want_time(b.sig[0].starts_at, jstr(r.doc, "status_changed_at"));
	assert_string_equal(fp, fp_dep);
	ingest_batch_release(&b);
	set_str(r.doc, "status", "failed");
	one_fp(&r, NULL, fp, &b);
	assert_int_equal(b.sig[0].severity, AX_SEV_HIGH);
	assert_int_equal(b.sig[0].status, AX_STATUS_FIRING);
	ingest_batch_release(&b);
	/* Detected from the body alone too. */
	set_header(&r, "X-Gitlab-Event", NULL);
	assert_ptr_equal(ingest_driver_detect(&r.in), &ingest_driver_gitlab);
	cJSON_DeleteItemFromObject(r.doc, "deployment_id");
	refuse(&r, NULL, "no \"deployment_id\"");
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/project"), "id");
	refuse(&r, NULL, "no project.id");
	set_str(r.doc, "object_kind", "push");
	{
		char err[256];

		run(&r, NULL, &b, AX_OK, err, sizeof(err));
		assert_int_equal(b.n, 0);
		assert_non_null(b.ignored);
		ingest_batch_release(&b);
	}
	req_close(&r);

	s = one(&r, "gitlab.pipeline.json", &ingest_driver_gitlab, &b);
	oa = cJSON_GetObjectItemCaseSensitive(r.doc, "object_attributes");
	assert_string_equal(jstr(oa, "status"), "failed");
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_int_equal(s->severity, AX_SEV_HIGH);
	assert_string_equal(lbl(s, "pipeline_id"),
			    scalar(cJSON_GetObjectItemCaseSensitive(oa, "id"), num, sizeof(num)));
	assert_string_equal(lbl(s, "sha"), jstr(oa, "sha"));
	assert_string_equal(lbl(s, "ref"), jstr(oa, "ref"));
	assert_string_equal(lbl(s, "environment"), pstr(r.doc, "/builds/0/environment/name"));
	assert_string_equal(s->summary, pstr(r.doc, "/commit/title"));
	want_time(s->starts_at, jstr(oa, "created_at"));  /* "... UTC" */
	want_time(s->ends_at, jstr(oa, "finished_at"));
	assert_string_equal(s->source_url, jstr(oa, "url"));
	assert_string_not_equal(s->fingerprint, fp_dep);
	ingest_batch_release(&b);
	/* The object_kind wins; without it the header says which hook. */
	cJSON_DeleteItemFromObject(r.doc, "object_kind");
	one_fp(&r, NULL, fp, &b);
	assert_string_equal(lbl(&b.sig[0], "gitlab_event"), "pipeline");
	ingest_batch_release(&b);
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/object_attributes"), "status");
	refuse(&r, NULL, "object_attributes.status is missing");
	set_header(&r, "X-Gitlab-Event", NULL);
	refuse(&r, "gitlab", "no \"object_kind\" and no X-Gitlab-Event header");
	req_close(&r);
}

/* ------------------------------------------------------------ jira */

static void test_jira(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;
	const cJSON *iss, *f, *it, *l;
	char fp[AX_SHA256_HEX], fp2[AX_SHA256_HEX], site[256], url[300];
	const char *self, *from = NULL, *to = NULL;
	struct req r;

	(void)state;
	s = one(&r, "jira-issue-updated.json", &ingest_driver_jira, &b);
	iss = cJSON_GetObjectItemCaseSensitive(r.doc, "issue");
	f = cJSON_GetObjectItemCaseSensitive(iss, "fields");
	assert_int_equal(s->kind, AX_KIND_TICKET);
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_string_equal(pstr(f, "/priority/name"), "Highest");
	assert_int_equal(s->severity, AX_SEV_CRITICAL);
	assert_string_equal(s->name, jstr(iss, "key"));
	assert_string_equal(s->summary, jstr(f, "summary"));
	assert_string_equal(s->description, jstr(f, "description"));
	assert_string_equal(lbl(s, "ticket_key"), jstr(iss, "key"));
	assert_string_equal(lbl(s, "ticket_id"), jstr(iss, "id"));
	self = jstr(iss, "self");
	snprintf(site, sizeof(site), "%.*s", (int)(strstr(self, "/rest/") - self), self);
	assert_string_equal(lbl(s, "jira_site"), site);
	assert_string_equal(lbl(s, "ticket_status"), pstr(f, "/status/name"));
	cJSON_ArrayForEach(it, ax_json_ptr(r.doc, "/changelog/items")) {
		if (strcmp(jstr(it, "field"), "status") == 0) {
			from = jstr(it, "fromString");
			to = jstr(it, "toString");
		}
	}
	assert_string_equal(lbl(s, "status_from"), from);
	assert_string_equal(lbl(s, "status_to"), to);
	/* Our correlation id sits in a custom field in this site. */
	assert_string_equal(lbl(s, "customfield_10071"), jstr(f, "customfield_10071"));
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(f, "labels"))
		assert_non_null(lbl(s, l->valuestring));
	assert_null(lbl(s, "correlation_id"));
	want_time(s->starts_at, jstr(f, "created"));
	assert_null(s->ends_at);
	assert_string_equal(s->source_id, jstr(iss, "id"));
	snprintf(url, sizeof(url), "%s/browse/%s", site, jstr(iss, "key"));
	assert_string_equal(s->source_url, url);
	memcpy(fp, s->fingerprint, sizeof(fp));
	ingest_batch_release(&b);

	/* The sync's own label convention: alexus:<id>. */
	cJSON_AddItemToArray(obj_at(r.doc, "/issue/fields/labels"),
			     cJSON_CreateString("alexus:7f3c9e21"));
	one_fp(&r, NULL, fp2, &b);
	assert_string_equal(lbl(&b.sig[0], "correlation_id"), "7f3c9e21");
	assert_string_equal(fp2, fp);
	ingest_batch_release(&b);
	/* Deleting the issue closes the ticket. */
	set_str(r.doc, "webhookEvent", "jira:issue_deleted");
	one_fp(&r, NULL, fp2, &b);
	assert_int_equal(b.sig[0].status, AX_STATUS_RESOLVED);
	want_epoch(b.sig[0].ends_at,
		   cJSON_GetObjectItemCaseSensitive(r.doc, "timestamp")->valuedouble / 1000.0);
	ingest_batch_release(&b);
	cJSON_DeleteItemFromObject(obj_at(r.doc, "/issue"), "key");
	refuse(&r, NULL, "issue.key is missing");
	cJSON_DeleteItemFromObject(r.doc, "issue");
	{
		char err[256];

		run(&r, NULL, &b, AX_OK, err, sizeof(err));
		assert_int_equal(b.n, 0);
		assert_non_null(b.ignored);
		ingest_batch_release(&b);
	}
	req_close(&r);

	s = one(&r, "jira.resolved.json", &ingest_driver_jira, &b);
	f = ax_json_ptr(r.doc, "/issue/fields");
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_string_equal(s->fingerprint, fp);
	assert_string_equal(lbl(s, "status_to"), pstr(f, "/status/name"));
	assert_string_equal(lbl(s, "status_category"), "done");
	want_time(s->ends_at, jstr(f, "resolutiondate"));
	ingest_batch_release(&b);
	/* statusCategory done is enough without a resolution. */
	replace(obj_at(r.doc, "/issue/fields"), "resolution", cJSON_CreateNull());
	one_fp(&r, NULL, fp2, &b);
	assert_int_equal(b.sig[0].status, AX_STATUS_RESOLVED);
	ingest_batch_release(&b);
	req_close(&r);
}

/* ------------------------------------------------------------ servicenow */

static void test_servicenow(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;
	char fp[AX_SHA256_HEX], fp2[AX_SHA256_HEX], inst[256], url[400];
	const char *link;
	struct req r;

	(void)state;
	s = one(&r, "servicenow-outbound.json", &ingest_driver_servicenow, &b);
	assert_int_equal(s->kind, AX_KIND_TICKET);
	assert_string_equal(jstr(r.doc, "state"), "2");
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_string_equal(jstr(r.doc, "priority"), "1");
	assert_int_equal(s->severity, AX_SEV_CRITICAL);
	assert_string_equal(s->name, jstr(r.doc, "number"));
	assert_string_equal(s->summary, jstr(r.doc, "short_description"));
	assert_string_equal(s->description, jstr(r.doc, "description"));
	assert_string_equal(lbl(s, "ticket_key"), jstr(r.doc, "number"));
	assert_string_equal(lbl(s, "sys_id"), jstr(r.doc, "sys_id"));
	assert_string_equal(lbl(s, "correlation_id"), jstr(r.doc, "correlation_id"));
	assert_string_equal(lbl(s, "ticket_status"), jstr(r.doc, "state"));
	assert_string_equal(lbl(s, "table"), jstr(r.doc, "sys_class_name"));
	link = pstr(r.doc, "/caller_id/link");
	snprintf(inst, sizeof(inst), "%.*s", (int)(strstr(link, "/api/now/") - link), link);
	assert_string_equal(lbl(s, "instance"), inst);
	assert_null(s->service);  /* cmdb_ci is a bare reference */
	want_time(s->starts_at, jstr(r.doc, "opened_at"));
	assert_null(s->ends_at);
	assert_string_equal(s->source_id, jstr(r.doc, "sys_id"));
	snprintf(url, sizeof(url), "%s/%s.do?sys_id=%s", inst, jstr(r.doc, "sys_class_name"),
		 jstr(r.doc, "sys_id"));
	assert_string_equal(s->source_url, url);
	memcpy(fp, s->fingerprint, sizeof(fp));
	ingest_batch_release(&b);

	/* The transition when the Business Rule sends previous.state. */
	set_str(r.doc, "previous_state", "1");
	one_fp(&r, NULL, fp2, &b);
	assert_string_equal(lbl(&b.sig[0], "state_from"), "1");
	assert_string_equal(lbl(&b.sig[0], "state_to"), jstr(r.doc, "state"));
	assert_string_equal(fp2, fp);
	ingest_batch_release(&b);
	/* Display-value objects: Closed is final. */
	{
		cJSON *st = cJSON_CreateObject();

		cJSON_AddStringToObject(st, "value", "7");
		cJSON_AddStringToObject(st, "display_value", "Closed");
		replace(r.doc, "state", st);
	}
	one_fp(&r, NULL, fp2, &b);
	assert_int_equal(b.sig[0].status, AX_STATUS_RESOLVED);
	assert_string_equal(lbl(&b.sig[0], "ticket_status"), "7");
	ingest_batch_release(&b);
	/* Wrapped as {"incident": {...}}: the same record. */
	{
		struct req rw;
		cJSON *w = cJSON_CreateObject();

		cJSON_AddItemToObject(w, "incident", load("servicenow-outbound.json"));
		req_set(&rw, w, NULL);
		assert_ptr_equal(ingest_driver_detect(&rw.in), &ingest_driver_servicenow);
		one_fp(&rw, NULL, fp2, &b);
		assert_string_equal(fp2, fp);
		ingest_batch_release(&b);
		req_close(&rw);
	}
	set_str(r.doc, "sys_id", "not-a-sys-id");
	assert_ptr_not_equal(ingest_driver_detect(&r.in), &ingest_driver_servicenow);
	refuse(&r, "servicenow", "\"sys_id\" of 32 hex digits");
	set_str(r.doc, "sys_id", "9d385017c611228701d22104cc95c371");
	cJSON_DeleteItemFromObject(r.doc, "number");
	refuse(&r, "servicenow", "no \"number\"");
	req_close(&r);

	s = one(&r, "servicenow.resolved.json", &ingest_driver_servicenow, &b);
	assert_string_equal(jstr(r.doc, "state"), "6");
	assert_int_equal(s->status, AX_STATUS_RESOLVED);
	assert_string_equal(s->fingerprint, fp);
	want_time(s->ends_at, jstr(r.doc, "resolved_at"));
	ingest_batch_release(&b);
	req_close(&r);
}

/* ------------------------------------------------------------ main */

static int setup(void **state)
{
	(void)state;
	headers_json = load("headers.json");
	return ax_hash_init();
}

static int teardown(void **state)
{
	(void)state;
	cJSON_Delete(headers_json);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_signal_fixtures),
		cmocka_unit_test(test_silent_fixtures),
		cmocka_unit_test(test_no_foreign_claims),
		cmocka_unit_test(test_cloudwatch),
		cmocka_unit_test(test_cloudwatch_confirmations),
		cmocka_unit_test(test_cloudwatch_refusals),
		cmocka_unit_test(test_azure),
		cmocka_unit_test(test_azure_refusals),
		cmocka_unit_test(test_gcp),
		cmocka_unit_test(test_sentry),
		cmocka_unit_test(test_sentry_refusals),
		cmocka_unit_test(test_kubernetes),
		cmocka_unit_test(test_kibana),
		cmocka_unit_test(test_uptimekuma),
		cmocka_unit_test(test_github),
		cmocka_unit_test(test_gitlab),
		cmocka_unit_test(test_jira),
		cmocka_unit_test(test_servicenow),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
