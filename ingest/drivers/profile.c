/* profile.c - declarative source profiles (see profile.h and the format in
 * ingest/profiles/README.md): one JSON file per long-tail sender, compiled
 * at start into a registry driver.
 *
 * Design.  A profile is parsed, validated completely and compiled once,
 * at load: every JSON pointer becomes an array of unescaped reference
 * tokens (with array indexes pre-parsed), every COND a small struct with
 * its test values, every SRC one of four shapes.  The cJSON tree of the
 * profile is then dropped; requests never re-read it, so anything a
 * request's answer points at (ignore_reason in out->ignored) is a copy
 * owned by the profile.  "notes" is validated and not kept.  All profiles
 * share prof_detect() and prof_normalize(), which find their profile
 * through driver->priv.
 *
 * Conditions.  A rule (detect, resolved, ignore) is a list that holds
 * when ALL its CONDs do; {"any": [...]} is a COND that holds when one of
 * its own does, so a rule is an AND of ORs, which every rule a profile
 * writer has needed so far fits ("resolved when the build result OR the
 * stage status is succeeded").  There is no "all" or "not": an AND inside
 * an "any" distributes into ANDed "any"s (circleci.json does this), and
 * "present": false covers the negations met.  The nesting is bounded at
 * load (PROFILE_MAX_ANY_DEPTH), so evaluation recurses boundedly.
 *
 * detect() runs for every undirected webhook against every profile in
 * registry order, so it allocates nothing: pointers are walked with
 * cJSON's own lookups (ax_json_ptr would unescape into a heap buffer on
 * each call) and numbers are spelled into a stack buffer.  normalize()
 * runs once per accepted request and may allocate freely.
 *
 * Pointer contexts.  detect and ignore judge the request as a whole, so
 * both "/x" and "#/x" address the document there.  With "events", fields,
 * labels, tags, fingerprint and resolved are evaluated once per element:
 * "/x" is relative to the element and "#/x" to the document.
 *
 * Fingerprint: ax_signal_fingerprint (source = the profile name) over a
 * label set made of the fingerprint SRC values keyed by their index
 * ("00", "01", ...; absent values are left out, so [a, absent] and
 * [absent, a] still differ).  The default is the signal's name, service
 * and host; a profile whose fingerprint values are all absent for an
 * event falls back to that default rather than folding every such event
 * into one.  Status, severity and times never enter it.
 *
 * Lifetime: loaded profiles are kept on a list (reachable, so leak
 * checkers stay quiet) and live until exit; ingest_profiles_unload frees
 * them for tests. */
#include "profile.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "alexus/signal.h"
#include "driver.h"

#define PROFILE_MAX_FILE (1u << 20) /* a profile is a page of JSON, not a data set */
#define PROFILE_MAX_NAME 64
#define PROFILE_MAX_FP 16           /* fingerprint values; keys are two digits */
#define PROFILE_MAX_ANY_DEPTH 4     /* "any" inside "any" ...: four levels are plenty */
#define PROFILE_MAX_TITLE 64        /* characters; --list-sources prints one per line */
#define PROFILE_MAX_REASON 120      /* characters of ignore_reason, answered to the sender */
#define IGNORE_REASON "test notification" /* when a profile gives no ignore_reason */
#define MEMBER_LEN 256              /* "detect[1].in[0]" and the like */
#define NUMLEN 40                   /* "%.17g" of any double, with room */

/* ------------------------------------------------------------ compiled form */

struct ptok {
	char *key; /* the reference token, unescaped (~1 -> '/', ~0 -> '~') */
	int idx;   /* its value as an RFC 6901 array index, or -1 */
};

struct pptr {
	char *text;       /* as written in the profile, for messages */
	int root;         /* "#..." : from the document even inside an event */
	size_t ntok;
	struct ptok *tok;
};

enum src_kind { SRC_NONE, SRC_PTR, SRC_CONST, SRC_TEMPLATE };

struct tpart {
	char *lit; /* literal text, or NULL for a substitution */
	size_t ptr; /* substitution: index into src.ptr */
};

struct src {
	enum src_kind kind;
	struct pptr *ptr;   /* PTR: the candidates in order; TEMPLATE: the {pointers} */
	size_t nptr;
	char *text;         /* CONST */
	struct tpart *part; /* TEMPLATE */
	size_t npart;
};

enum ctest { CT_PRESENT, CT_EQUALS, CT_IN, CT_PREFIX, CT_TYPE };
enum jtype { JT_STRING, JT_NUMBER, JT_OBJECT, JT_ARRAY, JT_BOOLEAN };

struct cond;

struct conds {
	struct cond *c;
	size_t n;
};

struct cond {
	struct conds any; /* {"any": [...]}: holds when one of these does; then no subject */
	struct pptr ptr;  /* the subject unless header is set */
	char *header;     /* the subject: a request header */
	enum ctest test;
	int want;         /* CT_PRESENT: 1 present / 0 absent; CT_TYPE: an enum jtype */
	char **val;       /* CT_EQUALS, CT_PREFIX: one; CT_IN: nval */
	size_t *vlen;
	size_t nval;
};

enum field {
	F_NAME, F_SUMMARY, F_DESCRIPTION, F_SERVICE, F_HOST, F_NAMESPACE, F_SEVERITY,
	F_SOURCE_ID, F_SOURCE_URL, F_STARTS_AT, F_ENDS_AT, NFIELD
};

static const char *const field_names[NFIELD] = {
	"name", "summary", "description", "service", "host", "namespace", "severity",
	"source_id", "source_url", "starts_at", "ends_at",
};

struct sevmap {
	char *key;
	enum ax_severity sev;
};

struct label {
	char *key;
	struct src src;
};

struct profile {
	struct ingest_driver drv; /* drv.priv points back here */
	char *name;
	char *title;
	enum ax_kind kind;
	struct conds detect, resolved, ignore;
	char *ignore_reason; /* out->ignored when ignore holds; NULL: IGNORE_REASON */
	int has_events;
	struct pptr events;
	struct src field[NFIELD];
	struct sevmap *sevmap;
	size_t nsevmap;
	enum ax_severity sev_default;
	struct label *labels;
	size_t nlabels;
	struct src tags;
	struct src *fp;
	size_t nfp;
	struct profile *next; /* on the loaded list */
};

/* What pointers are evaluated against. */
struct ctx {
	const cJSON *doc;              /* the request body */
	const cJSON *ev;               /* the event element, or NULL */
	const struct ingest_input *in; /* for header subjects; may be NULL */
};

static struct profile *loaded_head;

/* ------------------------------------------------------------ release */

static void ptr_release(struct pptr *p)
{
	size_t i;

	for (i = 0; i < p->ntok; i++)
		free(p->tok[i].key);
	free(p->tok);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

static void src_release(struct src *s)
{
	size_t i;

	for (i = 0; i < s->nptr; i++)
		ptr_release(&s->ptr[i]);
	free(s->ptr);
	for (i = 0; i < s->npart; i++)
		free(s->part[i].lit);
	free(s->part);
	free(s->text);
	memset(s, 0, sizeof(*s));
}

static void conds_release(struct conds *cs)
{
	size_t i, j;

	for (i = 0; i < cs->n; i++) {
		struct cond *c = &cs->c[i];

		conds_release(&c->any);
		ptr_release(&c->ptr);
		free(c->header);
		for (j = 0; j < c->nval; j++)
			free(c->val[j]);
		free(c->val);
		free(c->vlen);
	}
	free(cs->c);
	memset(cs, 0, sizeof(*cs));
}

static void profile_free(struct profile *p)
{
	size_t i;

	if (p == NULL)
		return;
	free(p->name);
	free(p->title);
	conds_release(&p->detect);
	conds_release(&p->resolved);
	conds_release(&p->ignore);
	free(p->ignore_reason);
	ptr_release(&p->events);
	for (i = 0; i < NFIELD; i++)
		src_release(&p->field[i]);
	for (i = 0; i < p->nsevmap; i++)
		free(p->sevmap[i].key);
	free(p->sevmap);
	for (i = 0; i < p->nlabels; i++) {
		free(p->labels[i].key);
		src_release(&p->labels[i].src);
	}
	free(p->labels);
	src_release(&p->tags);
	for (i = 0; i < p->nfp; i++)
		src_release(&p->fp[i]);
	free(p->fp);
	free(p);
}

/* ------------------------------------------------------------ evaluation */

static const cJSON *ptr_get(const struct pptr *p, const struct ctx *c)
{
	const cJSON *cur = p->root || c->ev == NULL ? c->doc : c->ev;
	size_t i;

	for (i = 0; cur != NULL && i < p->ntok; i++) {
		if (cJSON_IsObject(cur))
			cur = cJSON_GetObjectItemCaseSensitive(cur, p->tok[i].key);
		else if (cJSON_IsArray(cur) && p->tok[i].idx >= 0)
			cur = cJSON_GetArrayItem(cur, p->tok[i].idx);
		else
			return NULL;
	}
	return cur;
}

/* The text of a scalar: a string as it is, a number or boolean spelled as
 * JSON spells it (into buf); NULL for null, objects and arrays.  Numbers
 * use the shortest of %.15g / %.17g that reads back exactly, as cJSON's
 * printer does, so 0.1 is "0.1" and 200 is "200". */
static const char *spell(const cJSON *v, char buf[NUMLEN])
{
	double d;

	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	if (!cJSON_IsNumber(v))
		return NULL;
	d = v->valuedouble;
	/* Integers print bare up to 2^53, where doubles stop being exact. */
	if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(long long)d) {
		snprintf(buf, NUMLEN, "%lld", (long long)d);
	} else {
		snprintf(buf, NUMLEN, "%.15g", d);
		if (strtod(buf, NULL) != d)
			snprintf(buf, NUMLEN, "%.17g", d);
	}
	return buf;
}

static int cond_holds(const struct cond *k, const struct ctx *c)
{
	const cJSON *v = NULL;
	const char *t = NULL;
	char buf[NUMLEN];
	int present;
	size_t i;

	if (k->any.n > 0) {
		/* The loader bounds the nesting (PROFILE_MAX_ANY_DEPTH), so
		 * this recursion is too. */
		for (i = 0; i < k->any.n; i++) {
			if (cond_holds(&k->any.c[i], c))
				return 1;
		}
		return 0;
	}
	if (k->header != NULL) {
		t = c->in != NULL ? ingest_header(c->in, k->header) : NULL;
		present = t != NULL;
	} else {
		v = ptr_get(&k->ptr, c);
		present = v != NULL && !cJSON_IsNull(v);
		if (present)
			t = spell(v, buf);
	}
	if (k->test == CT_PRESENT)
		return present == k->want;
	if (!present)
		return 0;
	switch (k->test) {
	case CT_TYPE:
		if (v == NULL)
			return k->want == JT_STRING; /* a header is text */
		switch ((enum jtype)k->want) {
		case JT_STRING:
			return cJSON_IsString(v);
		case JT_NUMBER:
			return cJSON_IsNumber(v);
		case JT_OBJECT:
			return cJSON_IsObject(v);
		case JT_ARRAY:
			return cJSON_IsArray(v);
		case JT_BOOLEAN:
			return cJSON_IsBool(v);
		}
		return 0;
	case CT_EQUALS:
	case CT_IN:
		if (t == NULL)
			return 0;
		for (i = 0; i < k->nval; i++) {
			if (strcasecmp(t, k->val[i]) == 0)
				return 1;
		}
		return 0;
	case CT_PREFIX:
		return t != NULL && strncasecmp(t, k->val[0], k->vlen[0]) == 0;
	case CT_PRESENT:
		break;
	}
	return 0;
}

/* All of cs hold; an empty list holds never (an absent rule is off). */
static int conds_hold(const struct conds *cs, const struct ctx *c)
{
	size_t i;

	if (cs->n == 0)
		return 0;
	for (i = 0; i < cs->n; i++) {
		if (!cond_holds(&cs->c[i], c))
			return 0;
	}
	return 1;
}

/* The first candidate of a pointer SRC that is a non-empty scalar. */
static const cJSON *src_scalar(const struct src *s, const struct ctx *c, const char **text,
			       char buf[NUMLEN])
{
	const cJSON *v;
	const char *t;
	size_t i;

	for (i = 0; i < s->nptr; i++) {
		v = ptr_get(&s->ptr[i], c);
		t = spell(v, buf);
		if (t != NULL && t[0] != '\0') {
			*text = t;
			return v;
		}
	}
	return NULL;
}

/* The value of s as an owned string, or NULL when absent. */
static char *src_dup(const struct src *s, const struct ctx *c)
{
	char buf[NUMLEN], *out = NULL;
	const char *t = NULL;
	size_t i, len = 0;
	int any = 0;
	FILE *f;

	switch (s->kind) {
	case SRC_NONE:
		return NULL;
	case SRC_CONST:
		return ax_xstrdup(s->text);
	case SRC_PTR:
		return src_scalar(s, c, &t, buf) != NULL ? ax_xstrdup(t) : NULL;
	case SRC_TEMPLATE:
		break;
	}
	f = open_memstream(&out, &len);
	if (f == NULL)
		abort(); /* only fails on allocation */
	for (i = 0; i < s->npart; i++) {
		if (s->part[i].lit != NULL) {
			fputs(s->part[i].lit, f);
			continue;
		}
		t = spell(ptr_get(&s->ptr[s->part[i].ptr], c), buf);
		if (t != NULL && t[0] != '\0') {
			fputs(t, f);
			any = 1;
		}
	}
	if (fclose(f) != 0 || out == NULL)
		abort();
	if (!any) {
		free(out);
		return NULL;
	}
	return out;
}

/* A time SRC: JSON numbers and strings both go through the shared time
 * parser; an unreadable time is left out rather than refusing the alert. */
static char *src_time(const struct src *s, const struct ctx *c)
{
	char buf[NUMLEN], ts[INGEST_TIME_LEN], *v;
	const cJSON *node;
	const char *t;
	int rc;

	if (s->kind == SRC_PTR) {
		node = src_scalar(s, c, &t, buf);
		return node != NULL ? ingest_time_dup(node) : NULL;
	}
	v = src_dup(s, c);
	if (v == NULL)
		return NULL;
	rc = ingest_time_str(v, ts);
	free(v);
	return rc == 0 ? ax_xstrdup(ts) : NULL;
}

/* Copy a tags SRC into labels: a pointer may address any shape
 * ingest_copy_tags accepts; const and template give a "k:v,k2:v2" text. */
static void src_tags(const struct src *s, const struct ctx *c, cJSON *labels)
{
	const cJSON *v;
	cJSON *tmp;
	char *t;
	size_t i;

	if (s->kind == SRC_PTR) {
		for (i = 0; i < s->nptr; i++) {
			v = ptr_get(&s->ptr[i], c);
			if (v == NULL || cJSON_IsNull(v) ||
			    (cJSON_IsString(v) &&
			     (v->valuestring == NULL || v->valuestring[0] == '\0')))
				continue;
			ingest_copy_tags(labels, v);
			return;
		}
		return;
	}
	t = src_dup(s, c);
	if (t == NULL)
		return;
	tmp = cJSON_CreateString(t);
	free(t);
	if (tmp == NULL)
		abort();
	ingest_copy_tags(labels, tmp);
	cJSON_Delete(tmp);
}

static void fp_add(cJSON *set, size_t i, char *v)
{
	char key[24];

	if (v == NULL)
		return;
	snprintf(key, sizeof(key), "%02zu", i);
	if (cJSON_AddStringToObject(set, key, v) == NULL)
		abort();
	free(v);
}

static void fingerprint(const struct profile *p, struct ax_signal *s, const struct ctx *c)
{
	cJSON *set = cJSON_CreateObject(), *labels;
	size_t i;

	if (set == NULL)
		abort();
	for (i = 0; i < p->nfp; i++)
		fp_add(set, i, src_dup(&p->fp[i], c));
	if (cJSON_GetArraySize(set) == 0) {
		fp_add(set, 0, ax_xstrdup(s->name));
		fp_add(set, 1, ax_xstrdup(s->service));
		fp_add(set, 2, ax_xstrdup(s->host));
	}
	/* Hash the set with the library's one fingerprint format. */
	labels = s->labels;
	s->labels = set;
	ax_signal_fingerprint(s, NULL);
	s->labels = labels;
	cJSON_Delete(set);
}

static enum ax_severity severity(const struct profile *p, const char *raw)
{
	enum ax_severity sev;
	size_t i;

	if (raw == NULL)
		return p->sev_default;
	for (i = 0; i < p->nsevmap; i++) {
		if (strcasecmp(raw, p->sevmap[i].key) == 0)
			return p->sevmap[i].sev;
	}
	return ax_severity_parse(raw, &sev) == 0 ? sev : p->sev_default;
}

static ax_err prof_one(const struct profile *p, const struct ctx *c, int i,
		       struct ingest_batch *out, char *errbuf, size_t errlen)
{
	struct ax_signal *s;
	char *name, *sev;
	size_t k;

	name = src_dup(&p->field[F_NAME], c);
	if (name == NULL) {
		if (c->ev != NULL)
			ax_errfmt(errbuf, errlen,
				  "%s: event %d has no name (fields.name is absent)", p->name, i);
		else
			ax_errfmt(errbuf, errlen, "%s: payload has no name (fields.name is absent)",
				  p->name);
		return AX_EPROTO;
	}
	s = ingest_batch_add(out);
	s->kind = p->kind;
	s->status = conds_hold(&p->resolved, c) ? AX_STATUS_RESOLVED : AX_STATUS_FIRING;
	s->name = name;
	s->summary = src_dup(&p->field[F_SUMMARY], c);
	s->description = src_dup(&p->field[F_DESCRIPTION], c);
	s->service = src_dup(&p->field[F_SERVICE], c);
	s->host = src_dup(&p->field[F_HOST], c);
	s->namespace_ = src_dup(&p->field[F_NAMESPACE], c);
	sev = src_dup(&p->field[F_SEVERITY], c);
	s->severity = severity(p, sev);
	free(sev);
	s->source_id = src_dup(&p->field[F_SOURCE_ID], c);
	s->source_url = src_dup(&p->field[F_SOURCE_URL], c);
	s->starts_at = src_time(&p->field[F_STARTS_AT], c);
	s->ends_at = src_time(&p->field[F_ENDS_AT], c);
	s->source = ax_xstrdup(p->name);
	for (k = 0; k < p->nlabels; k++) {
		char *v = src_dup(&p->labels[k].src, c);

		if (v == NULL)
			continue;
		if (cJSON_AddStringToObject(s->labels, p->labels[k].key, v) == NULL)
			abort();
		free(v);
	}
	src_tags(&p->tags, c, s->labels);
	fingerprint(p, s, c);
	s->raw = cJSON_Duplicate(c->ev != NULL ? c->ev : c->doc, 1);
	if (s->raw == NULL)
		abort();
	return AX_OK;
}

static int prof_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const struct profile *p = d->priv;
	struct ctx c = { in->doc, NULL, in };

	return conds_hold(&p->detect, &c);
}

static ax_err prof_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			     struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const struct profile *p = d->priv;
	struct ctx c = { in->doc, NULL, in };
	const cJSON *events, *ev;
	int i = 0, n;
	ax_err rc;

	if (conds_hold(&p->ignore, &c)) {
		/* The profile's own string: it lives as long as the driver. */
		out->ignored = p->ignore_reason != NULL ? p->ignore_reason : IGNORE_REASON;
		return AX_OK;
	}
	if (!p->has_events)
		return prof_one(p, &c, 0, out, errbuf, errlen);
	events = ptr_get(&p->events, &c);
	if (!cJSON_IsArray(events)) {
		ax_errfmt(errbuf, errlen, "%s: \"%.64s\" is %s", p->name, p->events.text,
			  events == NULL ? "absent" : "not an array");
		return AX_EPROTO;
	}
	n = cJSON_GetArraySize(events);
	if (n == 0) {
		ax_errfmt(errbuf, errlen, "%s: \"%.64s\" is empty", p->name, p->events.text);
		return AX_EPROTO;
	}
	if (n > INGEST_MAX_SIGNALS) {
		ax_errfmt(errbuf, errlen, "%s: %d events in one payload; at most %d are accepted",
			  p->name, n, INGEST_MAX_SIGNALS);
		return AX_EPROTO;
	}
	cJSON_ArrayForEach(ev, events) {
		c.ev = ev;
		rc = prof_one(p, &c, i++, out, errbuf, errlen);
		if (rc != AX_OK)
			return rc;
	}
	return AX_OK;
}

/* ------------------------------------------------------------ compilation
 *
 * Each compile step returns 0, or -1 after writing "file: member: why"
 * into the loader's errbuf.  Member paths follow the JSON: "detect[1].in",
 * "fields.severity", "labels.check_type[0]". */

struct ldr {
	const char *file;
	char *errbuf;
	size_t errlen;
};

static int bad(const struct ldr *l, const char *member, const char *fmt, ...)
	AX_PRINTF(3, 4);

static int bad(const struct ldr *l, const char *member, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ax_errfmt(l->errbuf, l->errlen, "%s: %s: %s", l->file, member, why);
}

/* Array index per RFC 6901: "0" or [1-9][0-9]*; -1 if not an index. */
static int parse_index(const char *tok)
{
	long v = 0;
	const char *p;

	if (tok[0] == '\0' || (tok[0] == '0' && tok[1] != '\0'))
		return -1;
	for (p = tok; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > (0x7fffffffL - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return (int)v;
}

/* Compile text ("", "/a/0", "#", "#/a") into p; -1 when malformed. */
static int ptr_parse(struct pptr *p, const char *text)
{
	const char *s = text, *q;
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	if (*s == '#') {
		p->root = 1;
		s++;
	}
	if (*s != '\0' && *s != '/')
		return -1;
	for (q = s; *q != '\0'; q++)
		n += *q == '/';
	p->text = ax_xstrdup(text);
	p->tok = ax_xcalloc(n ? n : 1, sizeof(*p->tok));
	while (*s == '/') {
		char *key = ax_xmalloc(strlen(s) + 1);
		size_t k = 0;

		s++;
		while (*s != '\0' && *s != '/') {
			if (*s != '~') {
				key[k++] = *s++;
			} else if (s[1] == '0' || s[1] == '1') {
				key[k++] = s[1] == '0' ? '~' : '/';
				s += 2;
			} else {
				free(key);
				return -1;
			}
		}
		key[k] = '\0';
		p->tok[p->ntok].key = key;
		p->tok[p->ntok++].idx = parse_index(key);
	}
	return 0;
}

static int ptr_compile(const struct ldr *l, const char *member, const cJSON *j,
		       struct pptr *p)
{
	if (!cJSON_IsString(j))
		return bad(l, member, "must be a JSON pointer string");
	if (ptr_parse(p, j->valuestring) != 0) {
		ptr_release(p);
		return bad(l, member,
			   "\"%.64s\" is not a JSON pointer (\"/a/b\" or \"#/a/b\"; '~' only as "
			   "~0 or ~1)",
			   j->valuestring);
	}
	return 0;
}

/* A template: literal text with {pointer} substitutions.  A '{' that is
 * not followed by '/' or '#' is literal (JSON-looking text stays as is). */
static int template_compile(const struct ldr *l, const char *member, const char *t,
			    struct src *s)
{
	const char *p = t, *open, *close;
	size_t nsub = 0, cap;

	cap = strlen(t) + 1; /* more parts than characters cannot occur */
	s->kind = SRC_TEMPLATE;
	s->part = ax_xcalloc(cap, sizeof(*s->part));
	s->ptr = ax_xcalloc(cap, sizeof(*s->ptr));
	while (*p != '\0') {
		open = p;
		while ((open = strchr(open, '{')) != NULL && open[1] != '/' && open[1] != '#')
			open++;
		if (open == NULL) {
			s->part[s->npart++].lit = ax_xstrdup(p);
			break;
		}
		if (open > p)
			s->part[s->npart++].lit = ax_xstrndup(p, (size_t)(open - p));
		close = strchr(open, '}');
		if (close == NULL)
			return bad(l, member, "unterminated \"{\" in the template");
		{
			char *text = ax_xstrndup(open + 1, (size_t)(close - open - 1));
			int rc = ptr_parse(&s->ptr[s->nptr], text);

			if (rc != 0) {
				ptr_release(&s->ptr[s->nptr]);
				bad(l, member, "\"{%.64s}\" is not a JSON pointer", text);
				free(text);
				return -1;
			}
			free(text);
		}
		s->part[s->npart].lit = NULL;
		s->part[s->npart++].ptr = s->nptr++;
		nsub++;
		p = close + 1;
	}
	if (nsub == 0)
		return bad(l, member, "the template has no {/pointer}; use {\"const\": ...}");
	return 0;
}

static int src_compile(const struct ldr *l, const char *member, const cJSON *j, struct src *s)
{
	char sub[MEMBER_LEN];
	const cJSON *e;
	size_t i = 0;

	memset(s, 0, sizeof(*s));
	if (cJSON_IsString(j)) {
		s->kind = SRC_PTR;
		s->ptr = ax_xcalloc(1, sizeof(*s->ptr));
		s->nptr = 1;
		return ptr_compile(l, member, j, &s->ptr[0]);
	}
	if (cJSON_IsArray(j)) {
		s->kind = SRC_PTR;
		if (cJSON_GetArraySize(j) == 0)
			return bad(l, member, "an array of pointers must not be empty");
		s->ptr = ax_xcalloc((size_t)cJSON_GetArraySize(j), sizeof(*s->ptr));
		cJSON_ArrayForEach(e, j) {
			snprintf(sub, sizeof(sub), "%.160s[%zu]", member, i++);
			if (ptr_compile(l, sub, e, &s->ptr[s->nptr]) != 0)
				return -1;
			s->nptr++;
		}
		return 0;
	}
	if (cJSON_IsObject(j) && cJSON_GetArraySize(j) == 1) {
		e = j->child;
		snprintf(sub, sizeof(sub), "%.160s.%s", member, e->string);
		if (strcmp(e->string, "const") == 0) {
			if (!cJSON_IsString(e))
				return bad(l, sub, "must be a string");
			s->kind = SRC_CONST;
			s->text = ax_xstrdup(e->valuestring);
			return 0;
		}
		if (strcmp(e->string, "template") == 0) {
			if (!cJSON_IsString(e))
				return bad(l, sub, "must be a string");
			return template_compile(l, sub, e->valuestring, s);
		}
		return bad(l, sub, "unknown member (a value source object is {\"const\": text} "
				   "or {\"template\": text})");
	}
	return bad(l, member,
		   "must be a pointer \"/a\", an array of pointers, {\"const\": text} or "
		   "{\"template\": text}");
}

/* 0 with *v set to the member's string, or -1 when it is not a string. */
static int str_member(const struct ldr *l, const char *member, const cJSON *j, int nonempty,
		      const char **v)
{
	if (!cJSON_IsString(j))
		return bad(l, member, "must be a string");
	if (nonempty && j->valuestring[0] == '\0')
		return bad(l, member, "must not be empty");
	*v = j->valuestring;
	return 0;
}

static const char *const test_names[] = { "present", "equals", "in", "prefix", "type" };
static const char *const type_names[] = { "string", "number", "object", "array", "boolean" };

static int cond_test(const struct ldr *l, const char *member, const cJSON *e, struct cond *c)
{
	const cJSON *x;
	const char *v = NULL;
	size_t i = 0;
	char sub[MEMBER_LEN];

	if (strcmp(e->string, "present") == 0) {
		if (!cJSON_IsBool(e))
			return bad(l, member, "must be true or false");
		c->test = CT_PRESENT;
		c->want = cJSON_IsTrue(e);
		return 0;
	}
	if (strcmp(e->string, "type") == 0) {
		if (str_member(l, member, e, 1, &v) != 0)
			return -1;
		for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
			if (strcmp(v, type_names[i]) == 0) {
				c->test = CT_TYPE;
				c->want = (int)i;
				return 0;
			}
		}
		return bad(l, member,
			   "\"%.32s\" is not string, number, object, array or boolean", v);
	}
	if (strcmp(e->string, "in") == 0) {
		if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) == 0)
			return bad(l, member, "must be a non-empty array of strings");
		c->test = CT_IN;
		c->val = ax_xcalloc((size_t)cJSON_GetArraySize(e), sizeof(*c->val));
		c->vlen = ax_xcalloc((size_t)cJSON_GetArraySize(e), sizeof(*c->vlen));
		cJSON_ArrayForEach(x, e) {
			snprintf(sub, sizeof(sub), "%.160s[%zu]", member, i++);
			if (str_member(l, sub, x, 0, &v) != 0)
				return -1;
			c->vlen[c->nval] = strlen(v);
			c->val[c->nval++] = ax_xstrdup(v);
		}
		return 0;
	}
	/* equals, prefix */
	if (!cJSON_IsString(e))
		return bad(l, member,
			   "must be a string (numbers compare in their JSON spelling: "
			   "write \"2\")");
	if (strcmp(e->string, "prefix") == 0 && e->valuestring[0] == '\0')
		return bad(l, member, "must not be empty");
	c->test = strcmp(e->string, "equals") == 0 ? CT_EQUALS : CT_PREFIX;
	c->val = ax_xcalloc(1, sizeof(*c->val));
	c->vlen = ax_xcalloc(1, sizeof(*c->vlen));
	c->val[0] = ax_xstrdup(e->valuestring);
	c->vlen[0] = strlen(e->valuestring);
	c->nval = 1;
	return 0;
}

static int conds_compile(const struct ldr *l, const char *member, const cJSON *j,
			 struct conds *cs, size_t min, int depth);

/* {"any": [COND, ...]}: the member stands alone, and depth (the number of
 * "any" this one is inside, plus one) is bounded so evaluation is. */
static int any_compile(const struct ldr *l, const char *member, const cJSON *j, int depth,
		       struct cond *c)
{
	char sub[MEMBER_LEN];

	snprintf(sub, sizeof(sub), "%.160s.any", member);
	if (cJSON_GetArraySize(j) != 1)
		return bad(l, member,
			   "an \"any\" condition has no other member (put the subject and test "
			   "in one of its conditions)");
	if (depth > PROFILE_MAX_ANY_DEPTH)
		return bad(l, sub, "\"any\" nested deeper than %d levels",
			   PROFILE_MAX_ANY_DEPTH);
	return conds_compile(l, sub, cJSON_GetObjectItemCaseSensitive(j, "any"), &c->any, 1,
			     depth);
}

static int cond_compile(const struct ldr *l, const char *member, const cJSON *j, int depth,
			struct cond *c)
{
	int subjects = 0, tests = 0;
	const cJSON *e;
	char sub[MEMBER_LEN];
	size_t i;

	memset(c, 0, sizeof(*c));
	c->test = CT_PRESENT;
	c->want = 1;
	if (!cJSON_IsObject(j))
		return bad(l, member, "a condition must be an object");
	if (cJSON_GetObjectItemCaseSensitive(j, "any") != NULL)
		return any_compile(l, member, j, depth + 1, c);
	cJSON_ArrayForEach(e, j) {
		int known = 0;

		snprintf(sub, sizeof(sub), "%.160s.%s", member, e->string);
		if (strcmp(e->string, "ptr") == 0 || strcmp(e->string, "header") == 0) {
			if (subjects++ > 0)
				return bad(l, sub, "a condition has exactly one subject "
						   "(\"ptr\" or \"header\")");
			if (e->string[0] == 'p') {
				if (ptr_compile(l, sub, e, &c->ptr) != 0)
					return -1;
			} else {
				const char *h = NULL;

				if (str_member(l, sub, e, 1, &h) != 0)
					return -1;
				c->header = ax_xstrdup(h);
			}
			continue;
		}
		for (i = 0; i < sizeof(test_names) / sizeof(test_names[0]); i++)
			known |= strcmp(e->string, test_names[i]) == 0;
		if (!known)
			return bad(l, sub,
				   "unknown member (a condition has \"ptr\" or \"header\" and "
				   "one of present, equals, in, prefix, type; "
				   "or is {\"any\": [...]})");
		if (tests++ > 0)
			return bad(l, sub, "a condition has at most one test");
		if (cond_test(l, sub, e, c) != 0)
			return -1;
	}
	if (subjects == 0)
		return bad(l, member, "a condition needs a subject, \"ptr\" or \"header\"");
	return 0;
}

/* A list of conditions; depth is how many "any" it is inside (0 for a
 * rule's own list). */
static int conds_compile(const struct ldr *l, const char *member, const cJSON *j,
			 struct conds *cs, size_t min, int depth)
{
	const cJSON *e;
	char sub[MEMBER_LEN];
	size_t i = 0, n;

	if (!cJSON_IsArray(j))
		return bad(l, member, "must be an array of conditions");
	n = (size_t)cJSON_GetArraySize(j);
	if (n == 0)
		return bad(l, member, "must not be empty");
	if (n < min)
		return bad(l, member,
			   "needs at least %zu conditions, at least one distinctive of the sender "
			   "(detection must be specific)",
			   min);
	cs->c = ax_xcalloc(n, sizeof(*cs->c));
	cJSON_ArrayForEach(e, j) {
		snprintf(sub, sizeof(sub), "%.160s[%zu]", member, i++);
		if (cond_compile(l, sub, e, depth, &cs->c[cs->n]) != 0) {
			cs->n++; /* released with the rest */
			return -1;
		}
		cs->n++;
	}
	return 0;
}

static int sev_compile(const struct ldr *l, const char *member, const cJSON *j,
		       enum ax_severity *sev)
{
	const char *v = NULL;

	if (str_member(l, member, j, 1, &v) != 0)
		return -1;
	if (ax_severity_parse(v, sev) != 0)
		return bad(l, member, "\"%.32s\" is not a severity (critical, high, warning, info)",
			   v);
	return 0;
}

static int fields_compile(const struct ldr *l, const cJSON *j, struct profile *p)
{
	const cJSON *e;
	char sub[MEMBER_LEN];
	size_t i;

	if (!cJSON_IsObject(j))
		return bad(l, "fields", "must be an object");
	cJSON_ArrayForEach(e, j) {
		snprintf(sub, sizeof(sub), "fields.%.160s", e->string);
		for (i = 0; i < NFIELD; i++) {
			if (strcmp(e->string, field_names[i]) == 0)
				break;
		}
		if (i == NFIELD)
			return bad(l, sub, "unknown field");
		if (p->field[i].kind != SRC_NONE)
			return bad(l, sub, "given twice");
		if (src_compile(l, sub, e, &p->field[i]) != 0)
			return -1;
	}
	if (p->field[F_NAME].kind == SRC_NONE)
		return bad(l, "fields.name", "required");
	return 0;
}

static int sevmap_compile(const struct ldr *l, const cJSON *j, struct profile *p)
{
	const cJSON *e;
	char sub[MEMBER_LEN];
	size_t i;

	if (!cJSON_IsObject(j))
		return bad(l, "severity_map", "must be an object of sender value -> severity");
	p->sevmap = ax_xcalloc((size_t)cJSON_GetArraySize(j) + 1, sizeof(*p->sevmap));
	cJSON_ArrayForEach(e, j) {
		snprintf(sub, sizeof(sub), "severity_map.%.160s", e->string);
		for (i = 0; i < p->nsevmap; i++) {
			if (strcasecmp(p->sevmap[i].key, e->string) == 0)
				return bad(l, sub, "given twice (keys compare case-insensitively)");
		}
		if (sev_compile(l, sub, e, &p->sevmap[p->nsevmap].sev) != 0)
			return -1;
		p->sevmap[p->nsevmap++].key = ax_xstrdup(e->string);
	}
	return 0;
}

static int labels_compile(const struct ldr *l, const cJSON *j, struct profile *p)
{
	const cJSON *e;
	char sub[MEMBER_LEN];
	size_t i;

	if (!cJSON_IsObject(j))
		return bad(l, "labels", "must be an object of label -> value source");
	p->labels = ax_xcalloc((size_t)cJSON_GetArraySize(j) + 1, sizeof(*p->labels));
	cJSON_ArrayForEach(e, j) {
		snprintf(sub, sizeof(sub), "labels.%.160s", e->string);
		if (e->string[0] == '\0')
			return bad(l, "labels", "a label name must not be empty");
		for (i = 0; i < p->nlabels; i++) {
			if (strcmp(p->labels[i].key, e->string) == 0)
				return bad(l, sub, "given twice");
		}
		p->labels[p->nlabels].key = ax_xstrdup(e->string);
		if (src_compile(l, sub, e, &p->labels[p->nlabels++].src) != 0)
			return -1;
	}
	return 0;
}

static int fp_compile(const struct ldr *l, const cJSON *j, struct profile *p)
{
	const cJSON *e;
	char sub[MEMBER_LEN];
	size_t n;

	if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) == 0)
		return bad(l, "fingerprint", "must be a non-empty array of value sources");
	n = (size_t)cJSON_GetArraySize(j);
	if (n > PROFILE_MAX_FP)
		return bad(l, "fingerprint", "at most %d values", PROFILE_MAX_FP);
	p->fp = ax_xcalloc(n, sizeof(*p->fp));
	cJSON_ArrayForEach(e, j) {
		snprintf(sub, sizeof(sub), "fingerprint[%zu]", p->nfp);
		if (src_compile(l, sub, e, &p->fp[p->nfp++]) != 0)
			return -1;
	}
	return 0;
}

static int name_compile(const struct ldr *l, const cJSON *j, const char *stem,
			struct profile *p)
{
	const struct ingest_driver *other;
	const char *v = NULL, *c;

	if (str_member(l, "name", j, 1, &v) != 0)
		return -1;
	for (c = v; *c != '\0'; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
			return bad(l, "name", "\"%.64s\" must match [a-z0-9-]+", v);
	}
	if (c - v > PROFILE_MAX_NAME)
		return bad(l, "name", "longer than %d characters", PROFILE_MAX_NAME);
	if (strcmp(v, stem) != 0)
		return bad(l, "name", "\"%.64s\" must equal the file name (\"%.64s\")", v, stem);
	other = ingest_driver_find(v);
	if (other != NULL)
		return bad(l, "name", "\"%s\" is already a source (%s)", v,
			   other->detect == prof_detect ? "a profile loaded before"
							: "a built-in driver");
	p->name = ax_xstrdup(v);
	return 0;
}

/* The top-level members, in the order the format lists them. */
enum member {
	M_NAME, M_TITLE, M_NOTES, M_DOCS, M_KIND, M_DETECT, M_EVENTS, M_FIELDS, M_SEVMAP,
	M_SEVDEF, M_RESOLVED, M_IGNORE, M_IGNORE_REASON, M_LABELS, M_TAGS, M_FINGERPRINT,
	NMEMBER
};

static const char *const member_names[NMEMBER] = {
	"name", "title", "notes", "docs", "kind", "detect", "events", "fields", "severity_map",
	"severity_default", "resolved", "ignore", "ignore_reason", "labels", "tags",
	"fingerprint",
};

/* Characters (UTF-8 code points) in s: limits are about what a reader
 * sees, not bytes. */
static size_t text_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static int member_compile(const struct ldr *l, enum member m, const cJSON *e, const char *stem,
			  struct profile *p)
{
	const char *v = NULL;

	switch (m) {
	case M_NAME:
		return name_compile(l, e, stem, p);
	case M_TITLE:
		if (str_member(l, "title", e, 1, &v) != 0)
			return -1;
		if (text_len(v) > PROFILE_MAX_TITLE)
			return bad(l, "title",
				   "%zu characters, at most %d (keep it short: status policy and "
				   "mapping choices go in \"notes\")",
				   text_len(v), PROFILE_MAX_TITLE);
		p->title = ax_xstrdup(v);
		return 0;
	case M_NOTES:
		/* Free text for profile readers; validated, never kept. */
		return str_member(l, "notes", e, 0, &v);
	case M_DOCS:
		return str_member(l, "docs", e, 0, &v);
	case M_KIND:
		if (str_member(l, "kind", e, 1, &v) != 0)
			return -1;
		if (strcmp(v, "alert") && strcmp(v, "deploy") && strcmp(v, "change") &&
		    strcmp(v, "ticket") && strcmp(v, "check"))
			return bad(l, "kind",
				   "\"%.32s\" is not alert, deploy, change, ticket or check", v);
		return ax_kind_parse(v, &p->kind) == 0 ? 0 : bad(l, "kind", "unknown");
	case M_DETECT:
		return conds_compile(l, "detect", e, &p->detect, 2, 0);
	case M_EVENTS:
		p->has_events = 1;
		return ptr_compile(l, "events", e, &p->events);
	case M_FIELDS:
		return fields_compile(l, e, p);
	case M_SEVMAP:
		return sevmap_compile(l, e, p);
	case M_SEVDEF:
		return sev_compile(l, "severity_default", e, &p->sev_default);
	case M_RESOLVED:
		return conds_compile(l, "resolved", e, &p->resolved, 1, 0);
	case M_IGNORE:
		return conds_compile(l, "ignore", e, &p->ignore, 1, 0);
	case M_IGNORE_REASON:
		/* Compiled after M_IGNORE (enum order), so p->ignore is known. */
		if (str_member(l, "ignore_reason", e, 1, &v) != 0)
			return -1;
		if (p->ignore.n == 0)
			return bad(l, "ignore_reason", "given without \"ignore\"");
		if (text_len(v) > PROFILE_MAX_REASON)
			return bad(l, "ignore_reason", "%zu characters, at most %d", text_len(v),
				   PROFILE_MAX_REASON);
		p->ignore_reason = ax_xstrdup(v);
		return 0;
	case M_LABELS:
		return labels_compile(l, e, p);
	case M_TAGS:
		return src_compile(l, "tags", e, &p->tags);
	case M_FINGERPRINT:
		return fp_compile(l, e, p);
	case NMEMBER:
		break;
	}
	return bad(l, "?", "internal error");
}

static struct profile *compile(const struct ldr *l, const char *text, size_t len)
{
	const cJSON *seen[NMEMBER] = { NULL };
	struct profile *p = NULL;
	char *stem;
	const cJSON *e;
	cJSON *doc;
	size_t i, flen = strlen(l->file);
	int rc = 0;

	if (flen < 6 || strcmp(l->file + flen - 5, ".json") != 0) {
		ax_errfmt(l->errbuf, l->errlen, "%s: a profile file is called <name>.json",
			  l->file);
		return NULL;
	}
	doc = ax_json_parse(text, len, 32);
	if (doc == NULL) {
		ax_errfmt(l->errbuf, l->errlen, "%s: not valid JSON (or nested deeper than 32)",
			  l->file);
		return NULL;
	}
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(l->errbuf, l->errlen, "%s: a profile is a JSON object", l->file);
		cJSON_Delete(doc);
		return NULL;
	}
	stem = ax_xstrndup(l->file, flen - 5);
	cJSON_ArrayForEach(e, doc) {
		for (i = 0; i < NMEMBER; i++) {
			if (strcmp(e->string, member_names[i]) == 0)
				break;
		}
		if (i == NMEMBER) {
			bad(l, e->string, "unknown member");
			goto fail;
		}
		if (seen[i] != NULL) {
			bad(l, e->string, "given twice");
			goto fail;
		}
		seen[i] = e;
	}
	if (seen[M_NAME] == NULL || seen[M_TITLE] == NULL || seen[M_DETECT] == NULL ||
	    seen[M_FIELDS] == NULL) {
		bad(l, seen[M_NAME] == NULL	? "name"
		       : seen[M_TITLE] == NULL	? "title"
		       : seen[M_DETECT] == NULL ? "detect"
						: "fields",
		    "required");
		goto fail;
	}
	p = ax_xcalloc(1, sizeof(*p));
	p->kind = AX_KIND_ALERT;
	p->sev_default = AX_SEV_WARNING;
	for (i = 0; i < NMEMBER && rc == 0; i++) {
		if (seen[i] != NULL)
			rc = member_compile(l, (enum member)i, seen[i], stem, p);
	}
	cJSON_Delete(doc);
	free(stem);
	if (rc != 0) {
		profile_free(p);
		return NULL;
	}
	p->drv.name = p->name;
	p->drv.title = p->title;
	p->drv.detect = prof_detect;
	p->drv.normalize = prof_normalize;
	p->drv.priv = p;
	return p;
fail:
	cJSON_Delete(doc);
	free(stem);
	return NULL;
}

ax_err ingest_profile_compile(const char *file, const char *text, size_t len,
			      const struct ingest_driver **out, char *errbuf, size_t errlen)
{
	struct ldr l = { file, errbuf, errlen };
	struct profile *p = compile(&l, text, len);

	*out = p != NULL ? &p->drv : NULL;
	return p != NULL ? AX_OK : AX_EINVAL;
}

void ingest_profile_free(const struct ingest_driver *d)
{
	if (d != NULL)
		profile_free((struct profile *)d->priv);
}

/* ------------------------------------------------------------ loading */

static int json_file(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

/* Read path whole; NULL with errbuf set on failure. */
static char *slurp(const char *path, const char *file, size_t *len, char *errbuf,
		   size_t errlen)
{
	struct stat st;
	char *buf;
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		ax_errfmt(errbuf, errlen, "%s: cannot open: %s", file, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > PROFILE_MAX_FILE) {
		ax_errfmt(errbuf, errlen, "%s: not a regular file of at most %u bytes", file,
			  PROFILE_MAX_FILE);
		fclose(f);
		return NULL;
	}
	buf = ax_xmalloc((size_t)st.st_size + 1);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f) || *len != (size_t)st.st_size) {
		ax_errfmt(errbuf, errlen, "%s: read error", file);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

ax_err ingest_profiles_load(const char *dir, size_t *loaded, char *errbuf, size_t errlen)
{
	struct profile *head = NULL, **tail = &head, *p, *q;
	struct dirent **ents = NULL;
	ax_err rc = AX_OK;
	size_t count = 0;
	int n, i;

	if (loaded != NULL)
		*loaded = 0;
	n = scandir(dir, &ents, json_file, alphasort);
	if (n < 0) {
		int e = errno;

		ax_errfmt(errbuf, errlen, "profile directory \"%s\": %s", dir, strerror(e));
		return e == ENOENT || e == ENOTDIR ? AX_ENOTFOUND : AX_EIO;
	}
	for (i = 0; i < n && rc == AX_OK; i++) {
		struct ldr l = { ents[i]->d_name, errbuf, errlen };
		char *path = ax_xasprintf("%s/%s", dir, ents[i]->d_name);
		size_t len = 0;
		char *text = slurp(path, ents[i]->d_name, &len, errbuf, errlen);

		free(path);
		if (text == NULL) {
			rc = AX_EIO;
			break;
		}
		p = compile(&l, text, len);
		free(text);
		if (p == NULL) {
			rc = AX_EINVAL;
			break;
		}
		for (q = head; q != NULL; q = q->next) {
			if (strcmp(q->name, p->name) == 0)
				break;
		}
		if (q != NULL) {
			bad(&l, "name", "\"%s\" is used by two profiles", p->name);
			profile_free(p);
			rc = AX_EINVAL;
			break;
		}
		*tail = p;
		tail = &p->next;
		count++;
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (rc != AX_OK) {
		while ((p = head) != NULL) {
			head = p->next;
			profile_free(p);
		}
		return rc;
	}
	/* Every name was checked against the registry; nothing below fails. */
	for (p = head; p != NULL; p = p->next) {
		if (ingest_driver_register(&p->drv) != AX_OK)
			abort();
	}
	if (head != NULL) {
		*tail = loaded_head;
		loaded_head = head;
	}
	if (loaded != NULL)
		*loaded = count;
	return AX_OK;
}

void ingest_profiles_unload(void)
{
	struct profile *p;

	while ((p = loaded_head) != NULL) {
		loaded_head = p->next;
		profile_free(p);
	}
}
