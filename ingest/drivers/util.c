/* util.c - the signal batch and small helpers shared by the drivers.
 *
 * The batch doubles its array as it grows (amortised O(1) appends); each
 * element is a full ax_signal that owns its strings, so releasing the
 * batch releases everything a driver produced.  The helpers encode the
 * leniency rules every driver shares: labels are strings (numbers and
 * booleans are stringified, structures dropped), empty strings count as
 * absent, and Go's zero time means "not set". */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

void ingest_batch_init(struct ingest_batch *b)
{
	memset(b, 0, sizeof(*b));
}

void ingest_batch_release(struct ingest_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		ax_signal_release(&b->sig[i]);
	free(b->sig);
	free(b->subscribe_url);
	ingest_batch_init(b);
}

struct ax_signal *ingest_batch_add(struct ingest_batch *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 4;
		b->sig = ax_xrealloc(b->sig, b->cap * sizeof(*b->sig));
	}
	ax_signal_init(&b->sig[b->n]);
	return &b->sig[b->n++];
}

int ingest_copy_strmap(cJSON *dst, const cJSON *src)
{
	const cJSON *e;
	char num[64];
	int n = 0;

	if (!cJSON_IsObject(src))
		return 0;
	cJSON_ArrayForEach(e, src) {
		const char *v = NULL;

		if (e->string == NULL)
			continue;
		if (cJSON_IsString(e) && e->valuestring != NULL) {
			v = e->valuestring;
		} else if (cJSON_IsNumber(e)) {
			/* %.17g round-trips a double; integers print bare. */
			if (fabs(e->valuedouble) <= 9007199254740992.0 &&
		    e->valuedouble == (double)(long long)e->valuedouble)
				snprintf(num, sizeof(num), "%lld", (long long)e->valuedouble);
			else
				snprintf(num, sizeof(num), "%.17g", e->valuedouble);
			v = num;
		} else if (cJSON_IsBool(e)) {
			v = cJSON_IsTrue(e) ? "true" : "false";
		}
		if (v == NULL)
			continue;
		/* A key repeated in the sender's JSON keeps its first value,
		 * as cJSON's own lookups do. */
		if (cJSON_GetObjectItemCaseSensitive(dst, e->string) != NULL)
			continue;
		if (cJSON_AddStringToObject(dst, e->string, v) == NULL)
			abort();
		n++;
	}
	return n;
}

char *ingest_dup_str(const cJSON *obj, const char *key)
{
	return ax_xstrdup(ax_json_str(obj, key));
}

const char *ingest_first_str(const cJSON *obj, const char *const *keys)
{
	const char *v;
	size_t i;

	for (i = 0; keys[i] != NULL; i++) {
		if ((v = ax_json_str(obj, keys[i])) != NULL)
			return v;
	}
	return NULL;
}

int ingest_time_unset(const char *ts)
{
	return ts == NULL || ts[0] == '\0' || strncmp(ts, "0001-01-01T00:00:00", 19) == 0;
}

/* ------------------------------------------------------------ time
 *
 * Hand-written rather than strptime(3): strptime has no directive for a
 * fraction of any length nor for "+hh:mm" versus "+hhmm", and glibc's %z
 * behaviour differs across versions; the grammar here is small and the
 * output must be exact. */

static int fmt_utc(long long secs, int ms, char out[INGEST_TIME_LEN])
{
	struct tm tm;
	time_t t = (time_t)secs;

	out[0] = '\0';
	if (secs < 0 || secs > 253402300799LL || gmtime_r(&t, &tm) == NULL)
		return -1;  /* before 1970 or after 9999: not a sender's clock */
	snprintf(out, INGEST_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100,
		 tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100, ms % 1000);
	return 0;
}

int ingest_time_epoch(double v, char out[INGEST_TIME_LEN])
{
	double ms;

	out[0] = '\0';
	if (!isfinite(v) || v <= 0)
		return -1;
	/* Work in whole milliseconds.  Dividing down to seconds first and
	 * taking the fraction of a double near 1.7e9 loses the last
	 * millisecond (1749543331102 ms came out as ".101"); an integral
	 * count of ms is exact in a double up to 2^53.  The small nudge
	 * absorbs representation error in fractional seconds (x.512 stored
	 * as x.51199999) without moving an exact value. */
	if (v < 1e11)
		ms = floor(v * 1e3 + 1e-3);
	else if (v < 1e14)
		ms = floor(v);
	else if (v < 1e17)
		ms = floor(v / 1e3);
	else
		ms = floor(v / 1e6);
	if (ms / 1e3 > 253402300799.0)
		return -1;  /* after 9999 (fmt_utc's bound), and beyond long long */
	return fmt_utc((long long)(ms / 1e3), (int)fmod(ms, 1e3), out);
}

/* n digits at *p into *v; advances *p.  0 ok, -1 if fewer digits. */
static int digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

static int all_digits(const char *s, int allow_dot)
{
	int seen = 0, dots = 0;

	for (; *s != '\0'; s++) {
		if (isdigit((unsigned char)*s))
			seen = 1;
		else if (*s == '.' && allow_dot && dots++ == 0)
			continue;
		else
			return 0;
	}
	return seen;
}

int ingest_time_str(const char *s, char out[INGEST_TIME_LEN])
{
	int y, mo, d, h, mi, sec = 0, ms = 0, off = 0, oh, om, sign;
	const char *p = s;
	struct tm tm;
	char sep;

	out[0] = '\0';
	if (s == NULL || ingest_time_unset(s))
		return -1;
	while (*p == ' ')
		p++;
	if (all_digits(p, 1))
		return ingest_time_epoch(strtod(p, NULL), out);
	if (digits(&p, 4, &y) != 0 || (*p != '-' && *p != '.' && *p != '/'))
		return -1;
	sep = *p++;
	if (digits(&p, 2, &mo) != 0 || *p++ != sep || digits(&p, 2, &d) != 0)
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (digits(&p, 2, &h) != 0 || *p++ != ':' || digits(&p, 2, &mi) != 0)
		return -1;
	if (*p == ':') {
		p++;
		if (digits(&p, 2, &sec) != 0)
			return -1;
	}
	if (*p == '.' || *p == ',') {
		int scale = 100;

		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++, scale /= 10)
			ms += (*p - '0') * scale;  /* digits past the third add 0 */
	}
	while (*p == ' ')
		p++;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (strcmp(p, "UTC") == 0 || strcmp(p, "GMT") == 0) {
		p += 3;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) != 0)
			return -1;
		if (*p == ':')
			p++;
		if (digits(&p, 2, &om) != 0 || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return fmt_utc((long long)timegm(&tm) - off, ms, out);
}

char *ingest_time_dup(const cJSON *v)
{
	char buf[INGEST_TIME_LEN];
	int rc = -1;

	if (cJSON_IsString(v) && v->valuestring != NULL)
		rc = ingest_time_str(v->valuestring, buf);
	else if (cJSON_IsNumber(v))
		rc = ingest_time_epoch(v->valuedouble, buf);
	return rc == 0 ? ax_xstrdup(buf) : NULL;
}

/* ------------------------------------------------------------ tags */

static int add_label(cJSON *dst, const char *k, size_t klen, const char *v, size_t vlen)
{
	char key[256];

	while (klen > 0 && isspace((unsigned char)*k))
		k++, klen--;
	while (klen > 0 && isspace((unsigned char)k[klen - 1]))
		klen--;
	while (vlen > 0 && isspace((unsigned char)*v))
		v++, vlen--;
	while (vlen > 0 && isspace((unsigned char)v[vlen - 1]))
		vlen--;
	if (klen == 0 || klen >= sizeof(key))
		return 0;
	memcpy(key, k, klen);
	key[klen] = '\0';
	if (cJSON_GetObjectItemCaseSensitive(dst, key) != NULL)
		return 0;
	{
		char *val = ax_xmalloc(vlen + 1);
		cJSON *item;

		memcpy(val, v, vlen);
		val[vlen] = '\0';
		item = cJSON_CreateString(val);
		free(val);
		if (item == NULL)
			abort();
		cJSON_AddItemToObject(dst, key, item);
	}
	return 1;
}

/* "k:v" or "k=v" (first separator wins) or a bare "k". */
static int add_pair_str(cJSON *dst, const char *t, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (t[i] == ':' || t[i] == '=')
			return add_label(dst, t, i, t + i + 1, len - i - 1);
	}
	return add_label(dst, t, len, "", 0);
}

static char *scalar_str(const cJSON *v)
{
	char num[64];

	if (cJSON_IsString(v) && v->valuestring != NULL && v->valuestring[0] != '\0')
		return ax_xstrdup(v->valuestring);
	if (cJSON_IsNumber(v)) {
		if (fabs(v->valuedouble) <= 9007199254740992.0 &&
		    v->valuedouble == (double)(long long)v->valuedouble)
			snprintf(num, sizeof(num), "%lld", (long long)v->valuedouble);
		else
			snprintf(num, sizeof(num), "%.17g", v->valuedouble);
		return ax_xstrdup(num);
	}
	if (cJSON_IsBool(v))
		return ax_xstrdup(cJSON_IsTrue(v) ? "true" : "false");
	return NULL;
}

int ingest_copy_tags(cJSON *dst, const cJSON *tags)
{
	/* "tag_id" is BigPanda's ({"tag_id": k, "value": v} in incident_tags). */
	static const char *const kkeys[] = { "key", "name", "tag", "tag_id", "k", NULL };
	static const char *const vkeys[] = { "value", "v", NULL };
	const cJSON *e;
	int n = 0;

	if (cJSON_IsObject(tags))
		return ingest_copy_strmap(dst, tags);
	if (cJSON_IsString(tags) && tags->valuestring != NULL) {
		const char *t = tags->valuestring;

		while (*t != '\0') {
			size_t len = strcspn(t, ",");

			n += add_pair_str(dst, t, len);
			t += len;
			if (*t == ',')
				t++;
		}
		return n;
	}
	if (!cJSON_IsArray(tags))
		return 0;
	cJSON_ArrayForEach(e, tags) {
		if (cJSON_IsString(e) && e->valuestring != NULL) {
			n += add_pair_str(dst, e->valuestring, strlen(e->valuestring));
		} else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2) {
			char *k = scalar_str(cJSON_GetArrayItem(e, 0));
			char *v = scalar_str(cJSON_GetArrayItem(e, 1));

			if (k != NULL)
				n += add_label(dst, k, strlen(k), v ? v : "", v ? strlen(v) : 0);
			free(k);
			free(v);
		} else if (cJSON_IsObject(e)) {
			const char *k = ingest_first_str(e, kkeys);
			char *v = NULL;
			size_t i;

			for (i = 0; v == NULL && vkeys[i] != NULL; i++)
				v = scalar_str(cJSON_GetObjectItemCaseSensitive(e, vkeys[i]));
			if (k != NULL)
				n += add_label(dst, k, strlen(k), v ? v : "", v ? strlen(v) : 0);
			free(v);
		}
	}
	return n;
}

char *ingest_dup_scalar(const cJSON *obj, const char *key)
{
	return cJSON_IsObject(obj) ? scalar_str(cJSON_GetObjectItemCaseSensitive(obj, key)) : NULL;
}

char *ingest_dup_ptr(const cJSON *doc, const char *ptr)
{
	return scalar_str(ax_json_ptr(doc, ptr));
}

cJSON *ingest_dup_json(const cJSON *v)
{
	cJSON *c = cJSON_Duplicate(v, 1);

	if (c == NULL)
		abort();
	return c;
}

void ingest_fingerprint_kv(struct ax_signal *s, const char *const *kv)
{
	struct ax_signal t;
	size_t i;

	ax_signal_init(&t);
	t.source = ax_xstrdup(s->source);
	for (i = 0; kv[i] != NULL; i += 2)
		ax_json_add_str(t.labels, kv[i], kv[i + 1], 0);
	ax_signal_fingerprint(&t, NULL);
	memcpy(s->fingerprint, t.fingerprint, sizeof(s->fingerprint));
	ax_signal_release(&t);
}
