/* util.c - the signal batch and small helpers shared by the drivers.
 *
 * The batch doubles its array as it grows (amortised O(1) appends); each
 * element is a full ax_signal that owns its strings, so releasing the
 * batch releases everything a driver produced.  The helpers encode the
 * leniency rules every driver shares: labels are strings (numbers and
 * booleans are stringified, structures dropped), empty strings count as
 * absent, and Go's zero time means "not set". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
			if (e->valuedouble == (double)(long long)e->valuedouble)
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
