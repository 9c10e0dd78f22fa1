/* template.c - "{{a.b.c}}" substitution over a cJSON document (template.h).
 *
 * Why not a library: Debian 12 packages no C mustache renderer (apt-cache
 * search mustache: libmstch-dev and libkainjow-mustache-dev are C++, the
 * rest are other languages), and the language we need is a strict subset
 * of mustache's variables: a path lookup and a copy.  The one subtle part,
 * escaping for a JSON string, is cJSON's own printer (a string item
 * printed unformatted, without its quotes), so the escaping rules are the
 * ones every other JSON this project writes follows.
 *
 * Rendering is a single left-to-right pass; a path is looked up afresh for
 * every occurrence (templates are a few hundred bytes). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/mem.h"
#include "alexus/template.h"

#define PATH_MAX_LEN 256

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = ax_xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* The item at the dot path [p, p+n) of doc, or NULL. */
static const cJSON *lookup(const cJSON *doc, const char *p, size_t n)
{
	char seg[PATH_MAX_LEN];
	const cJSON *cur = doc;
	const char *end = p + n;

	while (cur != NULL && p < end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t sl = dot != NULL ? (size_t)(dot - p) : (size_t)(end - p);
		size_t i;
		int digits = sl > 0;

		if (sl == 0 || sl >= sizeof(seg))
			return NULL;
		memcpy(seg, p, sl);
		seg[sl] = '\0';
		for (i = 0; i < sl; i++)
			if (!isdigit((unsigned char)seg[i]))
				digits = 0;
		if (cJSON_IsArray(cur)) {
			if (!digits || sl > 9)
				return NULL;
			cur = cJSON_GetArrayItem(cur, atoi(seg));
		} else if (cJSON_IsObject(cur)) {
			cur = cJSON_GetObjectItemCaseSensitive(cur, seg);
		} else {
			return NULL;
		}
		p += sl + (dot != NULL);
		if (dot != NULL && p == end)
			return NULL;   /* trailing dot */
	}
	return cur;
}

/* Append v rendered (and escaped when asked). */
static void add_value(struct sbuf *b, const cJSON *v, int json_escape)
{
	char *printed = NULL, *esc;
	const char *s;
	cJSON *tmp;

	if (v == NULL || cJSON_IsNull(v) || cJSON_IsInvalid(v))
		return;
	if (cJSON_IsString(v)) {
		s = v->valuestring != NULL ? v->valuestring : "";
	} else if (cJSON_IsBool(v)) {
		s = cJSON_IsTrue(v) ? "true" : "false";
	} else {
		printed = cJSON_PrintUnformatted(v);
		if (printed == NULL)
			abort();
		s = printed;
	}
	if (!json_escape) {
		sb_add(b, s, strlen(s));
		free(printed);
		return;
	}
	tmp = cJSON_CreateString(s);
	if (tmp == NULL)
		abort();
	esc = cJSON_PrintUnformatted(tmp);
	if (esc == NULL)
		abort();
	/* esc is "...": drop the quotes */
	sb_add(b, esc + 1, strlen(esc) - 2);
	free(esc);
	cJSON_Delete(tmp);
	free(printed);
}

char *ax_template_render(const char *tmpl, const cJSON *doc, int json_escape)
{
	struct sbuf b = { 0 };
	const char *p = tmpl, *open, *close, *ps, *pe;

	if (tmpl == NULL)
		return NULL;
	sb_add(&b, "", 0);
	while ((open = strstr(p, "{{")) != NULL) {
		close = strstr(open + 2, "}}");
		if (close == NULL)
			break;
		sb_add(&b, p, (size_t)(open - p));
		ps = open + 2;
		pe = close;
		while (ps < pe && *ps == ' ')
			ps++;
		while (pe > ps && pe[-1] == ' ')
			pe--;
		if (doc != NULL && pe > ps)
			add_value(&b, lookup(doc, ps, (size_t)(pe - ps)), json_escape);
		p = close + 2;
	}
	sb_add(&b, p, strlen(p));
	return b.p;
}
