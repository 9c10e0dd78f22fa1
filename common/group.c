/* group.c - the grouping rule engine (see alexus/group.h).
 *
 * Design: pure -- rules in, decision out, no I/O -- so reason (live), and
 * alexusctl (incidents why, replay) and the unit tests share one engine,
 * and a replay cannot disagree with what reason would have done.  The
 * rules are parsed once per unit of work from the tenant's JSON; a bad
 * rule set is refused whole with the path of the first problem, never
 * half-applied.  cJSON parses and prints (no JSON of our own). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/group.h"
#include "alexus/json.h"
#include "alexus/mem.h"

static const char *const field_names[] = {
	[AX_GF_FINGERPRINT] = "fingerprint",
	[AX_GF_SENDER_KEY] = "sender_key",
	[AX_GF_SERVICE] = "service",
	[AX_GF_NAMESPACE] = "namespace",
	[AX_GF_HOST] = "host",
	[AX_GF_NAME] = "name",
	[AX_GF_LABEL] = "label",
};

#define LABEL_PREFIX "label:"

static int present(const char *s)
{
	return s != NULL && s[0] != '\0';
}

const char *ax_group_sender_key(const struct ax_signal *s)
{
	const char *k = NULL;

	if (cJSON_IsObject(s->raw))
		k = ax_json_str(s->raw, "groupKey");
	if (!present(k))
		k = ax_json_str(s->annotations, "incident_key");
	if (!present(k))
		k = ax_json_str(s->labels, "group_key");
	return present(k) ? k : NULL;
}

void ax_group_input_of(struct ax_group_input *in, const struct ax_signal *s)
{
	in->fingerprint = s->fingerprint;
	in->sender_key = ax_group_sender_key(s);
	in->service = s->service;
	in->namespace_ = s->namespace_;
	in->host = s->host;
	in->name = s->name;
	in->labels = s->labels;
}

static const char *field_value(const struct ax_group_field_ref *f,
			       const struct ax_group_input *in)
{
	const char *v = NULL;

	switch (f->f) {
	case AX_GF_FINGERPRINT: v = in->fingerprint; break;
	case AX_GF_SENDER_KEY: v = in->sender_key; break;
	case AX_GF_SERVICE: v = in->service; break;
	case AX_GF_NAMESPACE: v = in->namespace_; break;
	case AX_GF_HOST: v = in->host; break;
	case AX_GF_NAME: v = in->name; break;
	case AX_GF_LABEL: v = in->labels != NULL ? ax_json_str(in->labels, f->label) : NULL; break;
	}
	return present(v) ? v : NULL;
}

/* "service", "label:cluster" */
static char *field_text(const struct ax_group_field_ref *f)
{
	if (f->f == AX_GF_LABEL)
		return ax_xasprintf(LABEL_PREFIX "%s", f->label);
	return ax_xstrdup(field_names[f->f]);
}

/* ---------------------------------------------------------------- rules */

static void rule_set(struct ax_group_rule *r, const char *name, long window_s)
{
	memset(r, 0, sizeof(*r));
	r->name = ax_xstrdup(name);
	r->window_s = window_s;
}

static void add_field(struct ax_group_field_ref *v, int *n, enum ax_group_field f)
{
	v[*n].f = f;
	v[*n].label = NULL;
	(*n)++;
}

void ax_group_rules_default(struct ax_group_rules *rs, long window_s)
{
	struct ax_group_rule *r;

	memset(rs, 0, sizeof(*rs));
	rs->window_s = window_s;
	rs->v = ax_xcalloc(5, sizeof(*rs->v));
	rs->n = 5;
	r = &rs->v[0];
	rule_set(r, "fingerprint", 0);
	add_field(r->fields, &r->nfields, AX_GF_FINGERPRINT);
	r = &rs->v[1];
	rule_set(r, "service", -1);
	add_field(r->fields, &r->nfields, AX_GF_SERVICE);
	r = &rs->v[2];
	rule_set(r, "namespace+host", -1);
	add_field(r->fields, &r->nfields, AX_GF_NAMESPACE);
	add_field(r->fields, &r->nfields, AX_GF_HOST);
	add_field(r->unless, &r->nunless, AX_GF_SERVICE);
	r = &rs->v[3];
	rule_set(r, "host", -1);
	add_field(r->fields, &r->nfields, AX_GF_HOST);
	add_field(r->unless, &r->nunless, AX_GF_SERVICE);
	add_field(r->unless, &r->nunless, AX_GF_NAMESPACE);
	r = &rs->v[4];
	rule_set(r, "name", -1);
	add_field(r->fields, &r->nfields, AX_GF_NAME);
	add_field(r->unless, &r->nunless, AX_GF_SERVICE);
	add_field(r->unless, &r->nunless, AX_GF_HOST);
}

void ax_group_rules_release(struct ax_group_rules *rs)
{
	int i, j;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++) {
		for (j = 0; j < rs->v[i].nfields; j++)
			free(rs->v[i].fields[j].label);
		for (j = 0; j < rs->v[i].nunless; j++)
			free(rs->v[i].unless[j].label);
		free(rs->v[i].name);
	}
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

static int name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > AX_GROUP_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '+' || c == '.'))
			return 0;
	}
	/* "opened" is what an alert that opened its incident records,
	 * "flapping" what one that came back to its group records. */
	return strcmp(s, "opened") != 0 && strcmp(s, AX_GROUP_RULE_FLAPPING) != 0;
}

/* One field list ("fields" or "unless") of rule i.  0 or -1 with errbuf. */
static int parse_fields(const cJSON *arr, const char *what, int i,
			struct ax_group_field_ref *out, int *n, int required, char *errbuf,
			size_t errlen)
{
	const cJSON *f;
	int j = 0, k;

	if (arr == NULL && !required)
		return 0;
	if (!cJSON_IsArray(arr))
		return ax_errfmt(errbuf, errlen, "grouping_rules[%d].%s: must be an array of field "
				 "names", i, what), -1;
	if (required && cJSON_GetArraySize(arr) == 0)
		return ax_errfmt(errbuf, errlen, "grouping_rules[%d].%s: at least one field is "
				 "required", i, what), -1;
	if (cJSON_GetArraySize(arr) > AX_GROUP_MAX_FIELDS)
		return ax_errfmt(errbuf, errlen, "grouping_rules[%d].%s: at most %d fields", i, what,
				 AX_GROUP_MAX_FIELDS), -1;
	cJSON_ArrayForEach(f, arr) {
		const char *s = cJSON_GetStringValue(f);
		int found = -1;

		if (s == NULL)
			return ax_errfmt(errbuf, errlen, "grouping_rules[%d].%s[%d]: must be a string",
					 i, what, j), -1;
		for (k = 0; k < AX_GF_LABEL; k++)
			if (strcmp(s, field_names[k]) == 0)
				found = k;
		if (found < 0 && strncmp(s, LABEL_PREFIX, strlen(LABEL_PREFIX)) == 0 &&
		    s[strlen(LABEL_PREFIX)] != '\0')
			found = AX_GF_LABEL;
		if (found < 0)
			return ax_errfmt(errbuf, errlen, "grouping_rules[%d].%s[%d]: unknown field "
					 "\"%s\" (fingerprint, sender_key, service, namespace, "
					 "host, name, label:KEY)", i, what, j, s), -1;
		for (k = 0; k < *n; k++)
			if (out[k].f == (enum ax_group_field)found &&
			    (found != AX_GF_LABEL ||
			     strcmp(out[k].label, s + strlen(LABEL_PREFIX)) == 0))
				return ax_errfmt(errbuf, errlen, "grouping_rules[%d].%s[%d]: \"%s\" "
						 "given twice", i, what, j, s), -1;
		out[*n].f = (enum ax_group_field)found;
		out[*n].label = found == AX_GF_LABEL ? ax_xstrdup(s + strlen(LABEL_PREFIX)) : NULL;
		(*n)++;
		j++;
	}
	return 0;
}

static int parse_rule(const cJSON *o, int i, struct ax_group_rules *rs, char *errbuf,
		      size_t errlen)
{
	struct ax_group_rule *r = &rs->v[i];
	const cJSON *name, *w, *k;
	int j;

	if (!cJSON_IsObject(o))
		return ax_errfmt(errbuf, errlen, "grouping_rules[%d]: must be an object", i), -1;
	cJSON_ArrayForEach(k, o) {
		if (strcmp(k->string, "name") != 0 && strcmp(k->string, "fields") != 0 &&
		    strcmp(k->string, "unless") != 0 && strcmp(k->string, "window_s") != 0)
			return ax_errfmt(errbuf, errlen, "grouping_rules[%d]: unknown key \"%s\" "
					 "(name, fields, unless, window_s)", i, k->string), -1;
	}
	name = cJSON_GetObjectItemCaseSensitive(o, "name");
	if (!cJSON_IsString(name) || !name_ok(name->valuestring))
		return ax_errfmt(errbuf, errlen, "grouping_rules[%d].name: required, 1-%d of "
				 "A-Z a-z 0-9 _ - + . (and not \"opened\" or \"flapping\")", i,
				 AX_GROUP_NAME_MAX), -1;
	for (j = 0; j < i; j++)
		if (strcmp(rs->v[j].name, name->valuestring) == 0)
			return ax_errfmt(errbuf, errlen, "grouping_rules[%d].name: \"%s\" is also "
					 "rule %d's name", i, name->valuestring, j), -1;
	r->name = ax_xstrdup(name->valuestring);
	r->window_s = -1;
	rs->n = i + 1;          /* r is released with the rest from here on */
	if (parse_fields(cJSON_GetObjectItemCaseSensitive(o, "fields"), "fields", i, r->fields,
			 &r->nfields, 1, errbuf, errlen) != 0 ||
	    parse_fields(cJSON_GetObjectItemCaseSensitive(o, "unless"), "unless", i, r->unless,
			 &r->nunless, 0, errbuf, errlen) != 0)
		return -1;
	w = cJSON_GetObjectItemCaseSensitive(o, "window_s");
	if (w != NULL) {
		if (!cJSON_IsNumber(w) || w->valuedouble != (double)(long)w->valuedouble ||
		    w->valuedouble < 0 || w->valuedouble > (double)AX_GROUP_WINDOW_MAX)
			return ax_errfmt(errbuf, errlen, "grouping_rules[%d].window_s: a whole "
					 "number of seconds, 0 (no window) to %ld", i,
					 AX_GROUP_WINDOW_MAX), -1;
		r->window_s = (long)w->valuedouble;
	}
	return 0;
}

ax_err ax_group_rules_parse(struct ax_group_rules *rs, const char *json, long window_s,
			    char *errbuf, size_t errlen)
{
	cJSON *doc, *o;
	int i = 0;

	if (json == NULL || json[0] == '\0' || strcmp(json, "null") == 0) {
		ax_group_rules_default(rs, window_s);
		return AX_OK;
	}
	memset(rs, 0, sizeof(*rs));
	rs->window_s = window_s;
	doc = ax_json_parse(json, strlen(json), 8);
	if (doc == NULL) {
		ax_errfmt(errbuf, errlen, "grouping_rules: not valid JSON");
		return AX_EPROTO;
	}
	if (!cJSON_IsArray(doc) || cJSON_GetArraySize(doc) == 0 ||
	    cJSON_GetArraySize(doc) > AX_GROUP_MAX_RULES) {
		ax_errfmt(errbuf, errlen, "grouping_rules: must be an array of 1 to %d rules "
			  "(null for the defaults)", AX_GROUP_MAX_RULES);
		cJSON_Delete(doc);
		return AX_EPROTO;
	}
	rs->v = ax_xcalloc((size_t)cJSON_GetArraySize(doc), sizeof(*rs->v));
	cJSON_ArrayForEach(o, doc) {
		if (parse_rule(o, i, rs, errbuf, errlen) != 0) {
			cJSON_Delete(doc);
			ax_group_rules_release(rs);
			rs->window_s = window_s;
			return AX_EPROTO;
		}
		i++;
	}
	cJSON_Delete(doc);
	return AX_OK;
}

long ax_group_window(const struct ax_group_rules *rs, const struct ax_group_rule *r)
{
	return r->window_s < 0 ? rs->window_s : r->window_s;
}

int ax_group_is_fingerprint(const struct ax_group_rule *r)
{
	return r->nfields == 1 && r->fields[0].f == AX_GF_FINGERPRINT;
}

static cJSON *fields_json(const struct ax_group_field_ref *v, int n)
{
	cJSON *a = cJSON_CreateArray();
	int i;

	if (a == NULL)
		abort();
	for (i = 0; i < n; i++) {
		char *t = field_text(&v[i]);

		if (!cJSON_AddItemToArray(a, cJSON_CreateString(t)))
			abort();
		free(t);
	}
	return a;
}

cJSON *ax_group_rules_json(const struct ax_group_rules *rs)
{
	cJSON *a = cJSON_CreateArray();
	int i;

	if (a == NULL)
		abort();
	for (i = 0; i < rs->n; i++) {
		const struct ax_group_rule *r = &rs->v[i];
		cJSON *o = cJSON_CreateObject();

		if (o == NULL || !cJSON_AddItemToArray(a, o))
			abort();
		cJSON_AddStringToObject(o, "name", r->name);
		cJSON_AddItemToObject(o, "fields", fields_json(r->fields, r->nfields));
		if (r->nunless > 0)
			cJSON_AddItemToObject(o, "unless", fields_json(r->unless, r->nunless));
		cJSON_AddNumberToObject(o, "window_s", (double)ax_group_window(rs, r));
	}
	return a;
}

/* ---------------------------------------------------------------- keys */

char *ax_group_key(const struct ax_group_rule *r, const struct ax_group_input *in,
		   cJSON **values)
{
	size_t len = strlen(r->name) + 2;
	char *key;
	int i;

	if (values != NULL)
		*values = NULL;
	if (r->nfields == 0)
		return NULL;
	for (i = 0; i < r->nunless; i++)
		if (field_value(&r->unless[i], in) != NULL)
			return NULL;
	for (i = 0; i < r->nfields; i++) {
		const char *v = field_value(&r->fields[i], in);

		if (v == NULL)
			return NULL;
		len += strlen(v) + 1;
	}
	key = ax_xmalloc(len);
	snprintf(key, len, "%s:", r->name);
	for (i = 0; i < r->nfields; i++) {
		if (i > 0)
			strcat(key, "/");
		strcat(key, field_value(&r->fields[i], in));
	}
	if (values != NULL) {
		*values = cJSON_CreateObject();
		if (*values == NULL)
			abort();
		for (i = 0; i < r->nfields; i++) {
			char *t = field_text(&r->fields[i]);

			if (cJSON_AddStringToObject(*values, t, field_value(&r->fields[i], in)) == NULL)
				abort();
			free(t);
		}
	}
	return key;
}

/* ---------------------------------------------------------------- flapping, root CI */

int ax_group_is_flap(long flap_window_s, double resolved_s)
{
	return flap_window_s > 0 && resolved_s >= 0 && resolved_s <= (double)flap_window_s;
}

const char *ax_group_root_ci(const struct ax_group_input *in, const char **kind)
{
	const char *v = in->host, *k = "host";

	if (!present(v)) {
		v = in->labels != NULL ? ax_json_str(in->labels, "node") : NULL;
		k = "node";
	}
	if (!present(v))
		return NULL;
	if (kind != NULL)
		*kind = k;
	return v;
}

/* ---------------------------------------------------------------- decide */

/* When no rule applies: the alert's name, the one field every signal has. */
static const struct ax_group_field_ref name_field = { AX_GF_NAME, NULL };

static void refused(cJSON *arr, const struct ax_group_rule *r, const char *key, double idle,
		    long window)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddItemToArray(arr, o))
		abort();
	cJSON_AddStringToObject(o, "rule", r->name);
	cJSON_AddStringToObject(o, "key", key);
	cJSON_AddNumberToObject(o, "idle_s", (double)(long)idle);
	cJSON_AddNumberToObject(o, "window_s", (double)window);
}

void ax_group_decide(const struct ax_group_rules *rs, const struct ax_group_input *in,
		     ax_group_lookup_fn *lookup, void *arg, struct ax_group_decision *d)
{
	struct ax_group_rule fallback;
	const struct ax_group_rule *first = NULL;
	char *first_key = NULL;
	cJSON *first_values = NULL;
	int i;

	memset(d, 0, sizeof(*d));
	d->refused = cJSON_CreateArray();
	if (d->refused == NULL)
		abort();
	memset(&fallback, 0, sizeof(fallback));
	fallback.name = (char *)"name";
	fallback.fields[0] = name_field;
	fallback.nfields = 1;
	fallback.window_s = -1;
	for (i = 0; i <= rs->n; i++) {
		const struct ax_group_rule *r = i < rs->n ? &rs->v[i] : &fallback;
		cJSON *values;
		char *key;
		double idle = 0;
		long window;
		void *inc;

		if (i == rs->n && first != NULL)
			break;          /* the fallback only when nothing applied */
		key = ax_group_key(r, in, &values);
		if (key == NULL)
			continue;
		inc = lookup(arg, r, key, in, &idle);
		window = ax_group_window(rs, r);
		if (inc != NULL && (window == 0 || idle <= (double)window)) {
			d->rule = r == &fallback ? NULL : r;
			d->incident = inc;
			d->key = key;
			d->values = values;
			d->idle_s = idle;
			d->stale = NULL;        /* nothing is opened: nothing to close */
			d->stale_idle_s = 0;
			free(first_key);
			cJSON_Delete(first_values);
			return;
		}
		if (inc != NULL)
			refused(d->refused, r, key, idle, window);
		if (first == NULL && !ax_group_is_fingerprint(r)) {
			first = r;
			first_key = key;
			first_values = values;
			if (inc != NULL) {
				d->stale = inc;
				d->stale_idle_s = idle;
			}
			continue;
		}
		free(key);
		cJSON_Delete(values);
	}
	d->rule = first == &fallback ? NULL : first;
	d->key = first_key;
	d->values = first_values;
}

void ax_group_decision_release(struct ax_group_decision *d)
{
	free(d->key);
	cJSON_Delete(d->values);
	cJSON_Delete(d->refused);
	memset(d, 0, sizeof(*d));
}

const char *ax_group_decision_rule(const struct ax_group_decision *d)
{
	if (d->incident == NULL)
		return "opened";
	return d->rule != NULL ? d->rule->name : "name";
}

cJSON *ax_group_decision_match(const struct ax_group_rules *rs,
			       const struct ax_group_decision *d)
{
	cJSON *o = cJSON_CreateObject(), *v;

	if (o == NULL)
		abort();
	ax_json_add_str(o, "key", d->key, 1);
	v = d->values != NULL ? cJSON_Duplicate(d->values, 1) : cJSON_CreateObject();
	if (v == NULL || !cJSON_AddItemToObject(o, "values", v))
		abort();
	if (d->incident == NULL) {
		cJSON_AddStringToObject(o, "rule", d->rule != NULL ? d->rule->name : "name");
	} else {
		cJSON_AddNumberToObject(o, "idle_s", (double)(long)d->idle_s);
		cJSON_AddNumberToObject(o, "window_s",
					d->rule != NULL ? (double)ax_group_window(rs, d->rule) :
							  (double)rs->window_s);
	}
	if (cJSON_GetArraySize(d->refused) > 0) {
		v = cJSON_Duplicate(d->refused, 1);
		if (v == NULL || !cJSON_AddItemToObject(o, "refused", v))
			abort();
	}
	return o;
}

char *ax_group_match_text(const cJSON *match)
{
	const cJSON *values = cJSON_GetObjectItemCaseSensitive(match, "values"), *v;
	size_t len = 1, n = 0;
	char *out;

	if (values == NULL)
		values = match;
	cJSON_ArrayForEach(v, values)
		if (cJSON_IsString(v))
			len += strlen(v->string) + strlen(v->valuestring) + 2;
	out = ax_xmalloc(len);
	out[0] = '\0';
	cJSON_ArrayForEach(v, values) {
		if (!cJSON_IsString(v))
			continue;
		n += (size_t)snprintf(out + n, len - n, "%s%s=%s", n > 0 ? " " : "", v->string,
				      v->valuestring);
	}
	return out;
}
