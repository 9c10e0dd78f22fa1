/* signal.c - the canonical signal (see signal.h).
 *
 * A signal owns its strings and cJSON trees; init/release follow the
 * git lifecycle convention and release leaves the struct zeroed, so a
 * second release is harmless.
 *
 * The fingerprint is streamed into libsodium's SHA-256 state rather than
 * built in a buffer: source, then "\nkey=value" for each identifying label
 * in byte order of the key.  Sorting a small array of cJSON pointers makes
 * the digest independent of the order in which a sender (or a driver)
 * inserted the labels, and status is never part of it, so firing and
 * resolved map to the same fingerprint.
 *
 * from_json is the consumer's gate: every canonical field is type-checked,
 * the five required ones must be present, and the first problem is named
 * in errbuf so it can go into the dead-letter reason. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "alexus/signal.h"

static const char *const kind_names[] = { "alert", "deploy", "change", "ticket", "check" };
static const char *const status_names[] = { "firing", "resolved" };
static const char *const sev_names[] = { "critical", "high", "warning", "info" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

void ax_signal_init(struct ax_signal *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = AX_KIND_ALERT;
	s->status = AX_STATUS_FIRING;
	s->severity = AX_SEV_WARNING;
	s->labels = cJSON_CreateObject();
	s->annotations = cJSON_CreateObject();
	if (s->labels == NULL || s->annotations == NULL)
		abort();
}

void ax_signal_release(struct ax_signal *s)
{
	if (s == NULL)
		return;
	free(s->name);
	free(s->summary);
	free(s->description);
	free(s->service);
	free(s->host);
	free(s->namespace_);
	free(s->starts_at);
	free(s->ends_at);
	free(s->source);
	free(s->source_id);
	free(s->source_url);
	cJSON_Delete(s->labels);
	cJSON_Delete(s->annotations);
	cJSON_Delete(s->raw);
	memset(s, 0, sizeof(*s));
}

const char *ax_kind_str(enum ax_kind k)
{
	return (unsigned)k < NELEM(kind_names) ? kind_names[k] : "alert";
}

const char *ax_status_str(enum ax_status st)
{
	return (unsigned)st < NELEM(status_names) ? status_names[st] : "firing";
}

const char *ax_severity_str(enum ax_severity sv)
{
	return (unsigned)sv < NELEM(sev_names) ? sev_names[sv] : "warning";
}

int ax_kind_parse(const char *s, enum ax_kind *out)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < NELEM(kind_names); i++) {
		if (strcasecmp(s, kind_names[i]) == 0) {
			*out = (enum ax_kind)i;
			return 0;
		}
	}
	return -1;
}

struct spelling {
	const char *word;
	int value;
};

static const struct spelling status_words[] = {
	{ "firing", AX_STATUS_FIRING },     { "alerting", AX_STATUS_FIRING },
	{ "problem", AX_STATUS_FIRING },    { "triggered", AX_STATUS_FIRING },
	{ "open", AX_STATUS_FIRING },       { "active", AX_STATUS_FIRING },
	{ "resolved", AX_STATUS_RESOLVED }, { "ok", AX_STATUS_RESOLVED },
	{ "recovered", AX_STATUS_RESOLVED }, { "recovery", AX_STATUS_RESOLVED },
	{ "closed", AX_STATUS_RESOLVED },
};

/* Spellings seen across senders: Alertmanager/Prometheus rules (critical,
 * warning, info), PagerDuty (critical, error, warning, info), Opsgenie and
 * incident tools (P1..P5, SEV1..SEV4), Zabbix (disaster, high, average,
 * warning, information, not classified), syslog (emergency, crit, err,
 * notice, debug), Datadog/New Relic (error, warn, ok, low, medium). */
static const struct spelling sev_words[] = {
	{ "critical", AX_SEV_CRITICAL },
	{ "crit", AX_SEV_CRITICAL },
	{ "fatal", AX_SEV_CRITICAL },
	{ "emergency", AX_SEV_CRITICAL },
	{ "emerg", AX_SEV_CRITICAL },
	{ "p1", AX_SEV_CRITICAL },
	{ "sev1", AX_SEV_CRITICAL },
	{ "disaster", AX_SEV_CRITICAL },
	{ "high", AX_SEV_HIGH },
	{ "error", AX_SEV_HIGH },
	{ "err", AX_SEV_HIGH },
	{ "major", AX_SEV_HIGH },
	{ "p2", AX_SEV_HIGH },
	{ "sev2", AX_SEV_HIGH },
	{ "warning", AX_SEV_WARNING },
	{ "warn", AX_SEV_WARNING },
	{ "minor", AX_SEV_WARNING },
	{ "medium", AX_SEV_WARNING },
	{ "average", AX_SEV_WARNING },
	{ "p3", AX_SEV_WARNING },
	{ "sev3", AX_SEV_WARNING },
	{ "info", AX_SEV_INFO },
	{ "informational", AX_SEV_INFO },
	{ "information", AX_SEV_INFO },
	{ "low", AX_SEV_INFO },
	{ "ok", AX_SEV_INFO },
	{ "p4", AX_SEV_INFO },
	{ "p5", AX_SEV_INFO },
	{ "sev4", AX_SEV_INFO },
	{ "debug", AX_SEV_INFO },
	{ "notice", AX_SEV_INFO },
	{ "not classified", AX_SEV_INFO },
};

static int lookup(const struct spelling *t, size_t n, const char *s)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcasecmp(s, t[i].word) == 0)
			return t[i].value;
	}
	return -1;
}

int ax_status_parse(const char *s, enum ax_status *out)
{
	int v = lookup(status_words, NELEM(status_words), s);

	if (v < 0)
		return -1;
	*out = (enum ax_status)v;
	return 0;
}

int ax_severity_parse(const char *s, enum ax_severity *out)
{
	int v = lookup(sev_words, NELEM(sev_words), s);

	if (v < 0)
		return -1;
	*out = (enum ax_severity)v;
	return 0;
}

static int cmp_label(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

static int wanted(const char *key, const char *const *ident_keys)
{
	size_t i;

	if (ident_keys == NULL)
		return 1;
	for (i = 0; ident_keys[i] != NULL; i++) {
		if (strcmp(key, ident_keys[i]) == 0)
			return 1;
	}
	return 0;
}

void ax_signal_fingerprint(struct ax_signal *s, const char *const *ident_keys)
{
	crypto_hash_sha256_state st;
	unsigned char d[crypto_hash_sha256_BYTES];
	const cJSON *l;
	const cJSON **v;
	size_t n = 0, i;
	const char *src = s->source != NULL ? s->source : "";

	cJSON_ArrayForEach(l, s->labels)
		n++;
	v = ax_xcalloc(n ? n : 1, sizeof(*v));
	n = 0;
	cJSON_ArrayForEach(l, s->labels) {
		if (l->string != NULL && wanted(l->string, ident_keys))
			v[n++] = l;
	}
	qsort(v, n, sizeof(*v), cmp_label);

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)src, strlen(src));
	for (i = 0; i < n; i++) {
		const char *val = cJSON_IsString(v[i]) && v[i]->valuestring ? v[i]->valuestring
									       : "";
		/* A duplicate key (possible in parsed JSON) counts once. */
		if (i > 0 && strcmp(v[i]->string, v[i - 1]->string) == 0)
			continue;
		crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
		crypto_hash_sha256_update(&st, (const unsigned char *)v[i]->string,
					  strlen(v[i]->string));
		crypto_hash_sha256_update(&st, (const unsigned char *)"=", 1);
		crypto_hash_sha256_update(&st, (const unsigned char *)val, strlen(val));
	}
	crypto_hash_sha256_final(&st, d);
	sodium_bin2hex(s->fingerprint, sizeof(s->fingerprint), d, sizeof(d));
	free(v);
}

static cJSON *dup_or_object(const cJSON *j)
{
	cJSON *c = j != NULL ? cJSON_Duplicate(j, 1) : cJSON_CreateObject();

	if (c == NULL)
		abort();
	return c;
}

cJSON *ax_signal_to_json(const struct ax_signal *s)
{
	cJSON *o = cJSON_CreateObject(), *ref;

	if (o == NULL)
		abort();
	ax_json_add_str(o, "kind", ax_kind_str(s->kind), 1);
	ax_json_add_str(o, "name", s->name, 1);
	ax_json_add_str(o, "status", ax_status_str(s->status), 1);
	ax_json_add_str(o, "severity", ax_severity_str(s->severity), 1);
	ax_json_add_str(o, "summary", s->summary, 1);
	ax_json_add_str(o, "description", s->description, 1);
	ax_json_add_str(o, "service", s->service, 1);
	ax_json_add_str(o, "host", s->host, 1);
	ax_json_add_str(o, "namespace", s->namespace_, 1);
	cJSON_AddItemToObject(o, "labels", dup_or_object(s->labels));
	cJSON_AddItemToObject(o, "annotations", dup_or_object(s->annotations));
	ax_json_add_str(o, "starts_at", s->starts_at, 1);
	ax_json_add_str(o, "ends_at", s->ends_at, 1);
	ax_json_add_str(o, "source", s->source, 1);
	ref = cJSON_AddObjectToObject(o, "source_ref");
	if (ref == NULL)
		abort();
	ax_json_add_str(ref, "id", s->source_id, 1);
	ax_json_add_str(ref, "url", s->source_url, 1);
	ax_json_add_str(o, "fingerprint", s->fingerprint[0] ? s->fingerprint : NULL, 1);
	if (s->raw != NULL)
		cJSON_AddItemToObject(o, "raw", dup_or_object(s->raw));
	else
		cJSON_AddNullToObject(o, "raw");
	return o;
}

/* Optional string field: absent or null leaves *dst NULL. */
static int opt_str(const cJSON *j, const char *key, char **dst, char *errbuf, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return ax_errfmt(errbuf, errlen, "field \"%s\" must be a string", key);
	*dst = ax_xstrdup(v->valuestring);
	return 0;
}

static int req_str(const cJSON *j, const char *key, const char **dst, char *errbuf,
		   size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (v == NULL || cJSON_IsNull(v))
		return ax_errfmt(errbuf, errlen, "missing required field \"%s\"", key);
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0')
		return ax_errfmt(errbuf, errlen, "field \"%s\" must be a non-empty string", key);
	*dst = v->valuestring;
	return 0;
}

/* labels / annotations: absent or null = empty, else an object of strings. */
static int str_map(const cJSON *j, const char *key, cJSON **dst, char *errbuf, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key), *e;

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsObject(v))
		return ax_errfmt(errbuf, errlen, "field \"%s\" must be an object", key);
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e))
			return ax_errfmt(errbuf, errlen, "field \"%s.%s\" must be a string", key,
					 e->string ? e->string : "");
	}
	cJSON_Delete(*dst);
	*dst = dup_or_object(v);
	return 0;
}

static int is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return s[64] == '\0';
}

static int fill(struct ax_signal *s, const cJSON *j, char *errbuf, size_t errlen)
{
	const char *name, *status, *sev, *source, *fp, *kind;
	const cJSON *v, *ref;

	if (!cJSON_IsObject(j))
		return ax_errfmt(errbuf, errlen, "signal must be a JSON object");
	if (req_str(j, "name", &name, errbuf, errlen) || req_str(j, "status", &status, errbuf, errlen) ||
	    req_str(j, "severity", &sev, errbuf, errlen) ||
	    req_str(j, "source", &source, errbuf, errlen) ||
	    req_str(j, "fingerprint", &fp, errbuf, errlen))
		return -1;
	if (ax_status_parse(status, &s->status) != 0)
		return ax_errfmt(errbuf, errlen, "unknown status \"%.32s\"", status);
	if (ax_severity_parse(sev, &s->severity) != 0)
		return ax_errfmt(errbuf, errlen, "unknown severity \"%.32s\"", sev);
	if (!is_hex64(fp))
		return ax_errfmt(errbuf, errlen, "fingerprint must be 64 lower-case hex digits");
	memcpy(s->fingerprint, fp, AX_SHA256_HEX);
	v = cJSON_GetObjectItemCaseSensitive(j, "kind");
	if (v != NULL && !cJSON_IsNull(v)) {
		kind = cJSON_IsString(v) ? v->valuestring : NULL;
		if (kind == NULL || ax_kind_parse(kind, &s->kind) != 0)
			return ax_errfmt(errbuf, errlen, "unknown kind");
	}
	s->name = ax_xstrdup(name);
	s->source = ax_xstrdup(source);
	if (opt_str(j, "summary", &s->summary, errbuf, errlen) ||
	    opt_str(j, "description", &s->description, errbuf, errlen) ||
	    opt_str(j, "service", &s->service, errbuf, errlen) ||
	    opt_str(j, "host", &s->host, errbuf, errlen) ||
	    opt_str(j, "namespace", &s->namespace_, errbuf, errlen) ||
	    opt_str(j, "starts_at", &s->starts_at, errbuf, errlen) ||
	    opt_str(j, "ends_at", &s->ends_at, errbuf, errlen) ||
	    str_map(j, "labels", &s->labels, errbuf, errlen) ||
	    str_map(j, "annotations", &s->annotations, errbuf, errlen))
		return -1;
	ref = cJSON_GetObjectItemCaseSensitive(j, "source_ref");
	if (ref != NULL && !cJSON_IsNull(ref)) {
		if (!cJSON_IsObject(ref))
			return ax_errfmt(errbuf, errlen, "field \"source_ref\" must be an object");
		if (opt_str(ref, "id", &s->source_id, errbuf, errlen) ||
		    opt_str(ref, "url", &s->source_url, errbuf, errlen))
			return -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "raw");
	if (v != NULL && !cJSON_IsNull(v)) {
		s->raw = cJSON_Duplicate(v, 1);
		if (s->raw == NULL)
			abort();
	}
	return 0;
}

ax_err ax_signal_from_json(struct ax_signal *s, const cJSON *j, char *errbuf, size_t errlen)
{
	ax_signal_init(s);
	if (fill(s, j, errbuf, errlen) != 0) {
		ax_signal_release(s);
		ax_signal_init(s);
		return AX_EPROTO;
	}
	return AX_OK;
}
