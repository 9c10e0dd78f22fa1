/* json.c - small helpers over cJSON (see json.h).
 *
 * cJSON's parser is recursive and its own nesting limit (1000) is far more
 * than any sender needs and enough to use a lot of stack on a small thread,
 * so ax_json_parse first scans the bytes once, counting brackets outside
 * strings (escapes honoured), and refuses deep documents before cJSON sees
 * them.  The scan is O(n) and allocation-free.  Parsing is bounded by the
 * given length (cJSON_ParseWithLengthOpts), so the body of an HTTP request
 * can be parsed in place without a NUL terminator; trailing bytes other
 * than whitespace make the document invalid.
 *
 * ax_json_ptr is a small RFC 6901 evaluator: cJSON 1.7.15 has pointer
 * support only in the separate cJSON_Utils library, which is not installed
 * with libcjson-dev here (no header, not in pkg-config "libcjson").  A
 * dozen lines beat a new dependency. */
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"

#define AX_JSON_DEFAULT_DEPTH 64

/* 0 if the nesting never exceeds max_depth, -1 otherwise. */
static int depth_ok(const char *buf, size_t len, int max_depth)
{
	int depth = 0, in_str = 0, esc = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = buf[i];
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			break;
		case '[':
		case '{':
			if (++depth > max_depth)
				return -1;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return 0;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

cJSON *ax_json_parse(const char *buf, size_t len, int max_depth)
{
	const char *end = NULL;
	cJSON *j;
	size_t used;

	if (buf == NULL || len == 0)
		return NULL;
	if (max_depth <= 0)
		max_depth = AX_JSON_DEFAULT_DEPTH;
	if (depth_ok(buf, len, max_depth) != 0)
		return NULL;
	j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (j == NULL)
		return NULL;
	/* cJSON stops after the first value; anything but whitespace (or a
	 * NUL terminator the caller counted in len) after it is an error. */
	used = end != NULL && end >= buf ? (size_t)(end - buf) : len;
	for (; used < len; used++) {
		if (!is_ws(buf[used]) && !(buf[used] == '\0' && used == len - 1)) {
			cJSON_Delete(j);
			return NULL;
		}
	}
	return j;
}

const char *ax_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v;

	if (obj == NULL || key == NULL || !cJSON_IsObject(obj))
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0')
		return NULL;
	return v->valuestring;
}

/* Array index per RFC 6901: "0" or [1-9][0-9]*; -1 if not an index. */
static long parse_index(const char *tok)
{
	long v = 0;
	const char *p;

	if (tok[0] == '\0' || (tok[0] == '0' && tok[1] != '\0'))
		return -1;
	for (p = tok; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (0x7fffffffL - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

const cJSON *ax_json_ptr(const cJSON *doc, const char *ptr)
{
	const cJSON *cur = doc;
	const char *p;
	char *tok;
	size_t cap;

	if (doc == NULL || ptr == NULL)
		return NULL;
	if (ptr[0] == '\0')
		return doc;
	if (ptr[0] != '/')
		return NULL;
	cap = strlen(ptr) + 1;
	tok = ax_xmalloc(cap);
	p = ptr;
	while (cur != NULL && *p == '/') {
		size_t n = 0;

		p++;
		/* Unescape one reference token: ~1 is '/', ~0 is '~'. */
		while (*p != '\0' && *p != '/') {
			if (*p == '~') {
				if (p[1] == '0')
					tok[n++] = '~';
				else if (p[1] == '1')
					tok[n++] = '/';
				else
					goto fail;
				p += 2;
			} else {
				tok[n++] = *p++;
			}
		}
		tok[n] = '\0';
		if (cJSON_IsObject(cur)) {
			cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
		} else if (cJSON_IsArray(cur)) {
			long idx = parse_index(tok);
			if (idx < 0)
				goto fail;
			cur = cJSON_GetArrayItem(cur, (int)idx);
		} else {
			goto fail;
		}
	}
	free(tok);
	return cur;
fail:
	free(tok);
	return NULL;
}

char *ax_json_print(const cJSON *item)
{
	char *s;

	if (item == NULL)
		return NULL;
	s = cJSON_PrintUnformatted(item);
	if (s == NULL)
		abort(); /* cJSON fails only on allocation for a valid tree */
	return s;
}

void ax_json_add_str(cJSON *obj, const char *key, const char *value, int null_if_absent)
{
	if (obj == NULL || key == NULL)
		return;
	if (value != NULL) {
		if (cJSON_AddStringToObject(obj, key, value) == NULL)
			abort();
	} else if (null_if_absent) {
		if (cJSON_AddNullToObject(obj, key) == NULL)
			abort();
	}
}
