/* packstream.c - PackStream encoding and bounded decoding (see packstream.h).
 *
 * Written here because no distribution package carries a PackStream or
 * Bolt library for C (issue 8); the format is small and fully specified
 * on the Bolt documentation's PackStream page.
 *
 * Decoding runs the same walk twice.  The first pass only measures: it
 * checks every marker and length against the input and the caps, validates
 * UTF-8, and counts the values and string bytes the tree needs.  The
 * second pass fills one block of exactly that size, so a decoded message
 * is one allocation, freed with one call, and the second pass cannot fail.
 * Every value takes at least one input byte, so a collection header that
 * announces more items than bytes remain is refused before any work. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/mem.h"
#include "alexus/packstream.h"

#define DEF_DEPTH 64
#define DEF_ITEMS (1u << 20)
#define DEF_STRING (16u << 20)
#define DEF_VALUES (1u << 22)
#define DEF_TOTAL ((size_t)256 << 20)

/* ------------------------------------------------------------- buffers */

void ax_ps_buf_init(struct ax_ps_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void ax_ps_buf_release(struct ax_ps_buf *b)
{
	free(b->data);
	ax_ps_buf_init(b);
}

void ax_ps_buf_reset(struct ax_ps_buf *b)
{
	b->len = 0;
}

void ax_ps_buf_append(struct ax_ps_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap - b->len < n)
			cap *= 2;
		b->data = ax_xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void put_u8(struct ax_ps_buf *b, uint8_t v)
{
	ax_ps_buf_append(b, &v, 1);
}

static void put_be(struct ax_ps_buf *b, uint64_t v, int n)
{
	uint8_t t[8];
	int i;

	for (i = 0; i < n; i++)
		t[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	ax_ps_buf_append(b, t, (size_t)n);
}

/* ------------------------------------------------------------- encoding */

void ax_ps_put_null(struct ax_ps_buf *b)
{
	put_u8(b, 0xC0);
}

void ax_ps_put_bool(struct ax_ps_buf *b, bool v)
{
	put_u8(b, v ? 0xC3 : 0xC2);
}

void ax_ps_put_int(struct ax_ps_buf *b, int64_t v)
{
	if (v >= -16 && v <= 127) {
		put_u8(b, (uint8_t)v);
	} else if (v >= INT8_MIN && v <= INT8_MAX) {
		put_u8(b, 0xC8);
		put_be(b, (uint64_t)v, 1);
	} else if (v >= INT16_MIN && v <= INT16_MAX) {
		put_u8(b, 0xC9);
		put_be(b, (uint64_t)v, 2);
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		put_u8(b, 0xCA);
		put_be(b, (uint64_t)v, 4);
	} else {
		put_u8(b, 0xCB);
		put_be(b, (uint64_t)v, 8);
	}
}

void ax_ps_put_float(struct ax_ps_buf *b, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	put_u8(b, 0xC1);
	put_be(b, bits, 8);
}

/* A size header: tiny marker when tiny is non-zero and n < 16, else the
 * 8/16/32-bit marker m8, m8 + 1, m8 + 2. */
static void put_size(struct ax_ps_buf *b, uint8_t tiny, uint8_t m8, size_t n)
{
	if (tiny && n < 16) {
		put_u8(b, (uint8_t)(tiny | n));
	} else if (n <= 0xFF) {
		put_u8(b, m8);
		put_be(b, n, 1);
	} else if (n <= 0xFFFF) {
		put_u8(b, (uint8_t)(m8 + 1));
		put_be(b, n, 2);
	} else if (n <= 0xFFFFFFFFu) {
		put_u8(b, (uint8_t)(m8 + 2));
		put_be(b, n, 4);
	} else {
		abort(); /* PackStream cannot say it; callers bound their sizes far lower */
	}
}

void ax_ps_put_string(struct ax_ps_buf *b, const char *s, size_t len)
{
	put_size(b, 0x80, 0xD0, len);
	ax_ps_buf_append(b, s, len);
}

void ax_ps_put_cstr(struct ax_ps_buf *b, const char *s)
{
	if (!s)
		ax_ps_put_null(b);
	else
		ax_ps_put_string(b, s, strlen(s));
}

void ax_ps_put_bytes(struct ax_ps_buf *b, const void *p, size_t len)
{
	put_size(b, 0, 0xCC, len);
	ax_ps_buf_append(b, p, len);
}

void ax_ps_put_list(struct ax_ps_buf *b, uint32_t n)
{
	put_size(b, 0x90, 0xD4, n);
}

void ax_ps_put_dict(struct ax_ps_buf *b, uint32_t n)
{
	put_size(b, 0xA0, 0xD8, n);
}

void ax_ps_put_struct(struct ax_ps_buf *b, uint8_t tag, uint8_t nfields)
{
	if (nfields > 15)
		abort();
	put_u8(b, (uint8_t)(0xB0 | nfields));
	put_u8(b, tag);
}

void ax_ps_put_value(struct ax_ps_buf *b, const struct ax_ps_value *v)
{
	uint32_t i;

	switch (v->type) {
	case AX_PS_NULL:
		ax_ps_put_null(b);
		break;
	case AX_PS_BOOL:
		ax_ps_put_bool(b, v->u.b);
		break;
	case AX_PS_INT:
		ax_ps_put_int(b, v->u.i);
		break;
	case AX_PS_FLOAT:
		ax_ps_put_float(b, v->u.f);
		break;
	case AX_PS_STRING:
		ax_ps_put_string(b, v->u.s, v->len);
		break;
	case AX_PS_BYTES:
		ax_ps_put_bytes(b, v->u.bytes, v->len);
		break;
	case AX_PS_LIST:
		ax_ps_put_list(b, v->len);
		for (i = 0; i < v->len; i++)
			ax_ps_put_value(b, &v->u.items[i]);
		break;
	case AX_PS_DICT:
		ax_ps_put_dict(b, v->len);
		for (i = 0; i < 2 * v->len; i++)
			ax_ps_put_value(b, &v->u.items[i]);
		break;
	case AX_PS_STRUCT:
		ax_ps_put_struct(b, v->tag, (uint8_t)v->len);
		for (i = 0; i < v->len; i++)
			ax_ps_put_value(b, &v->u.items[i]);
		break;
	}
}

void ax_ps_put_date(struct ax_ps_buf *b, int64_t days)
{
	ax_ps_put_struct(b, AX_PS_TAG_DATE, 1);
	ax_ps_put_int(b, days);
}

void ax_ps_put_time(struct ax_ps_buf *b, int64_t nanos, int64_t tz_offset_seconds)
{
	ax_ps_put_struct(b, AX_PS_TAG_TIME, 2);
	ax_ps_put_int(b, nanos);
	ax_ps_put_int(b, tz_offset_seconds);
}

void ax_ps_put_local_time(struct ax_ps_buf *b, int64_t nanos)
{
	ax_ps_put_struct(b, AX_PS_TAG_LOCAL_TIME, 1);
	ax_ps_put_int(b, nanos);
}

void ax_ps_put_datetime(struct ax_ps_buf *b, bool utc, int64_t seconds, int64_t nanos,
			int64_t tz_offset_seconds)
{
	ax_ps_put_struct(b, utc ? AX_PS_TAG_DATETIME : AX_PS_TAG_DATETIME_LEGACY, 3);
	ax_ps_put_int(b, seconds);
	ax_ps_put_int(b, nanos);
	ax_ps_put_int(b, tz_offset_seconds);
}

void ax_ps_put_datetime_zone(struct ax_ps_buf *b, bool utc, int64_t seconds, int64_t nanos,
			     const char *zone_id)
{
	ax_ps_put_struct(b, utc ? AX_PS_TAG_DATETIME_ZONE : AX_PS_TAG_DATETIME_ZONE_LEGACY, 3);
	ax_ps_put_int(b, seconds);
	ax_ps_put_int(b, nanos);
	ax_ps_put_cstr(b, zone_id);
}

void ax_ps_put_local_datetime(struct ax_ps_buf *b, int64_t seconds, int64_t nanos)
{
	ax_ps_put_struct(b, AX_PS_TAG_LOCAL_DATETIME, 2);
	ax_ps_put_int(b, seconds);
	ax_ps_put_int(b, nanos);
}

void ax_ps_put_duration(struct ax_ps_buf *b, int64_t months, int64_t days, int64_t seconds,
			int64_t nanos)
{
	ax_ps_put_struct(b, AX_PS_TAG_DURATION, 4);
	ax_ps_put_int(b, months);
	ax_ps_put_int(b, days);
	ax_ps_put_int(b, seconds);
	ax_ps_put_int(b, nanos);
}

void ax_ps_put_point2d(struct ax_ps_buf *b, int64_t srid, double x, double y)
{
	ax_ps_put_struct(b, AX_PS_TAG_POINT2D, 3);
	ax_ps_put_int(b, srid);
	ax_ps_put_float(b, x);
	ax_ps_put_float(b, y);
}

void ax_ps_put_point3d(struct ax_ps_buf *b, int64_t srid, double x, double y, double z)
{
	ax_ps_put_struct(b, AX_PS_TAG_POINT3D, 4);
	ax_ps_put_int(b, srid);
	ax_ps_put_float(b, x);
	ax_ps_put_float(b, y);
	ax_ps_put_float(b, z);
}

/* ------------------------------------------------------------- decoding */

struct dec {
	const uint8_t *p;
	size_t len, off;
	struct ax_ps_caps caps;
	bool fill;                 /* second pass: write the tree */
	size_t nvalues;            /* values allocated so far (both passes) */
	size_t nstr;               /* string bytes, NULs included */
	struct ax_ps_value *vals;  /* second pass: the block's values */
	char *strs;                /* second pass: the block's string area */
	char *err;
	size_t errlen;
};

static ax_err derr(struct dec *d, ax_err rc, const char *what)
{
	ax_errfmt(d->err, d->errlen, "packstream: %s at byte %zu", what, d->off);
	return rc;
}

static bool need(struct dec *d, size_t n)
{
	return d->len - d->off >= n;
}

static uint64_t rd_be(struct dec *d, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = (v << 8) | d->p[d->off + (size_t)i];
	d->off += (size_t)n;
	return v;
}

/* RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint8_t lo = 0x80, hi = 0xBF;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			k = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			k = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t j = 2; j <= k; j++)
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
		i += k + 1;
	}
	return true;
}

static ax_err take_values(struct dec *d, size_t n, struct ax_ps_value **items)
{
	if (n > d->caps.max_values || d->nvalues > d->caps.max_values - n)
		return derr(d, AX_ETOOBIG, "too many values");
	if (d->fill)
		*items = d->vals + d->nvalues;
	d->nvalues += n;
	return AX_OK;
}

static ax_err walk(struct dec *d, struct ax_ps_value *v, uint32_t depth);

static ax_err take_blob(struct dec *d, struct ax_ps_value *v, enum ax_ps_type t, size_t n)
{
	if (n > d->caps.max_string)
		return derr(d, AX_ETOOBIG, t == AX_PS_STRING ? "string too long" : "bytes too long");
	if (!need(d, n))
		return derr(d, AX_EPROTO, "truncated string or bytes");
	if (!d->fill) {
		if (t == AX_PS_STRING && !utf8_valid(d->p + d->off, n))
			return derr(d, AX_EPROTO, "string is not valid UTF-8");
	} else {
		memcpy(d->strs, d->p + d->off, n);
		d->strs[n] = '\0';
		v->type = t;
		v->len = (uint32_t)n;
		if (t == AX_PS_STRING)
			v->u.s = d->strs;
		else
			v->u.bytes = (const uint8_t *)d->strs;
		d->strs += n + 1;
	}
	d->nstr += n + 1;
	d->off += n;
	return AX_OK;
}

static ax_err take_items(struct dec *d, struct ax_ps_value *v, enum ax_ps_type t, size_t n,
			 uint32_t depth)
{
	size_t nv = t == AX_PS_DICT ? 2 * n : n;
	struct ax_ps_value *items = NULL;
	size_t i;
	ax_err rc;

	if (n > d->caps.max_items)
		return derr(d, AX_ETOOBIG, "collection too long");
	if (depth >= d->caps.max_depth)
		return derr(d, AX_ETOOBIG, "nesting too deep");
	if (!need(d, nv))
		return derr(d, AX_EPROTO, "truncated collection");
	rc = take_values(d, nv, &items);
	if (rc)
		return rc;
	if (d->fill) {
		v->type = t;
		v->len = (uint32_t)n;
		v->u.items = items;
	}
	for (i = 0; i < nv; i++) {
		if (t == AX_PS_DICT && i % 2 == 0) {
			/* keys are strings: check the marker before walking */
			uint8_t m;

			if (!need(d, 1))
				return derr(d, AX_EPROTO, "truncated dictionary");
			m = d->p[d->off];
			if (!((m >= 0x80 && m <= 0x8F) || (m >= 0xD0 && m <= 0xD2)))
				return derr(d, AX_EPROTO, "dictionary key is not a string");
		}
		rc = walk(d, d->fill ? &items[i] : NULL, depth + 1);
		if (rc)
			return rc;
	}
	return AX_OK;
}

static ax_err walk(struct dec *d, struct ax_ps_value *v, uint32_t depth)
{
	uint8_t m;
	int64_t iv;

	if (!need(d, 1))
		return derr(d, AX_EPROTO, "truncated value");
	m = d->p[d->off++];

	if (m <= 0x7F || m >= 0xF0) {
		iv = (int8_t)m;
		goto integer;
	}
	switch (m >> 4) {
	case 0x8:
		return take_blob(d, v, AX_PS_STRING, m & 0x0F);
	case 0x9:
		return take_items(d, v, AX_PS_LIST, m & 0x0F, depth);
	case 0xA:
		return take_items(d, v, AX_PS_DICT, m & 0x0F, depth);
	case 0xB:
		if (!need(d, 1))
			return derr(d, AX_EPROTO, "truncated structure");
		if (d->fill)
			v->tag = d->p[d->off];
		d->off++;
		return take_items(d, v, AX_PS_STRUCT, m & 0x0F, depth);
	default:
		break;
	}
	switch (m) {
	case 0xC0:
		if (d->fill)
			v->type = AX_PS_NULL;
		return AX_OK;
	case 0xC2:
	case 0xC3:
		if (d->fill) {
			v->type = AX_PS_BOOL;
			v->u.b = m == 0xC3;
		}
		return AX_OK;
	case 0xC1:
		if (!need(d, 8))
			return derr(d, AX_EPROTO, "truncated float");
		{
			uint64_t bits = rd_be(d, 8);

			if (d->fill) {
				v->type = AX_PS_FLOAT;
				memcpy(&v->u.f, &bits, sizeof(bits));
			}
		}
		return AX_OK;
	case 0xC8:
	case 0xC9:
	case 0xCA:
	case 0xCB: {
		int n = 1 << (m - 0xC8);
		uint64_t u;

		if (!need(d, (size_t)n))
			return derr(d, AX_EPROTO, "truncated integer");
		u = rd_be(d, n);
		if (n < 8 && (u >> (8 * n - 1)) & 1)
			u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
		memcpy(&iv, &u, sizeof(iv));
		goto integer;
	}
	case 0xCC:
	case 0xCD:
	case 0xCE:
	case 0xD0:
	case 0xD1:
	case 0xD2:
	case 0xD4:
	case 0xD5:
	case 0xD6:
	case 0xD8:
	case 0xD9:
	case 0xDA: {
		int n = 1 << ((m & 0x03));
		size_t size;

		if (!need(d, (size_t)n))
			return derr(d, AX_EPROTO, "truncated size");
		size = (size_t)rd_be(d, n);
		if (m <= 0xCE)
			return take_blob(d, v, AX_PS_BYTES, size);
		if (m <= 0xD2)
			return take_blob(d, v, AX_PS_STRING, size);
		if (m <= 0xD6)
			return take_items(d, v, AX_PS_LIST, size, depth);
		return take_items(d, v, AX_PS_DICT, size, depth);
	}
	default:
		d->off--;
		return derr(d, AX_EPROTO, "unknown marker");
	}
integer:
	if (d->fill) {
		v->type = AX_PS_INT;
		v->u.i = iv;
	}
	return AX_OK;
}

ax_err ax_ps_decode(const void *buf, size_t len, const struct ax_ps_caps *caps,
		    struct ax_ps_value **out, char *err, size_t errlen)
{
	struct dec d = { .p = buf, .len = len, .err = err, .errlen = errlen };
	struct ax_ps_value *root = NULL;
	size_t size;
	ax_err rc;

	*out = NULL;
	if (caps)
		d.caps = *caps;
	if (!d.caps.max_depth)
		d.caps.max_depth = DEF_DEPTH;
	if (!d.caps.max_items)
		d.caps.max_items = DEF_ITEMS;
	if (!d.caps.max_string)
		d.caps.max_string = DEF_STRING;
	if (!d.caps.max_values)
		d.caps.max_values = DEF_VALUES;
	if (!d.caps.max_total)
		d.caps.max_total = DEF_TOTAL;

	rc = take_values(&d, 1, &root);
	if (!rc)
		rc = walk(&d, NULL, 0);
	if (rc)
		return rc;
	if (d.off != len)
		return derr(&d, AX_EPROTO, "trailing bytes after the value");
	/* nvalues <= len + 1 and nstr <= 2 * len: no overflow for any buffer */
	size = d.nvalues * sizeof(struct ax_ps_value) + d.nstr;
	if (size > d.caps.max_total)
		return derr(&d, AX_ETOOBIG, "decoded tree too large");

	d.vals = ax_xcalloc(1, size);
	d.strs = (char *)(d.vals + d.nvalues);
	d.fill = true;
	d.off = 0;
	d.nvalues = 0;
	d.nstr = 0;
	rc = take_values(&d, 1, &root);
	if (!rc)
		rc = walk(&d, root, 0);
	if (rc) { /* cannot happen: the first pass checked the same input */
		free(d.vals);
		return rc;
	}
	*out = root;
	return AX_OK;
}

void ax_ps_free(struct ax_ps_value *root)
{
	free(root);
}

/* ------------------------------------------------------------- lookups */

const struct ax_ps_value *ax_ps_dict_get(const struct ax_ps_value *dict, const char *key)
{
	size_t klen;
	uint32_t i;

	if (!dict || dict->type != AX_PS_DICT || !key)
		return NULL;
	klen = strlen(key);
	/* the last of repeated keys wins, as the PackStream page says */
	for (i = dict->len; i-- > 0;) {
		const struct ax_ps_value *k = &dict->u.items[2 * i];

		if (k->type == AX_PS_STRING && k->len == klen && memcmp(k->u.s, key, klen) == 0)
			return &dict->u.items[2 * i + 1];
	}
	return NULL;
}

const char *ax_ps_dict_str(const struct ax_ps_value *dict, const char *key)
{
	const struct ax_ps_value *v = ax_ps_dict_get(dict, key);

	return v && v->type == AX_PS_STRING ? v->u.s : NULL;
}

static const struct ax_ps_value *dict_getn(const struct ax_ps_value *dict, const char *key,
					   size_t klen)
{
	uint32_t i;

	for (i = dict->len; i-- > 0;) {
		const struct ax_ps_value *k = &dict->u.items[2 * i];

		if (k->len == klen && memcmp(k->u.s, key, klen) == 0)
			return &dict->u.items[2 * i + 1];
	}
	return NULL;
}

bool ax_ps_equal(const struct ax_ps_value *a, const struct ax_ps_value *b)
{
	uint32_t i;

	if (a->type != b->type || (a->type != AX_PS_DICT && a->len != b->len))
		return false;
	switch (a->type) {
	case AX_PS_NULL:
		return true;
	case AX_PS_BOOL:
		return a->u.b == b->u.b;
	case AX_PS_INT:
		return a->u.i == b->u.i;
	case AX_PS_FLOAT:
		return memcmp(&a->u.f, &b->u.f, sizeof(double)) == 0;
	case AX_PS_STRING:
	case AX_PS_BYTES:
		return a->len == 0 || memcmp(a->u.bytes, b->u.bytes, a->len) == 0;
	case AX_PS_STRUCT:
		if (a->tag != b->tag)
			return false;
		/* fall through */
	case AX_PS_LIST:
		for (i = 0; i < a->len; i++)
			if (!ax_ps_equal(&a->u.items[i], &b->u.items[i]))
				return false;
		return true;
	case AX_PS_DICT:
		/* as dictionaries: order aside, and the last of repeated keys wins */
		for (i = 0; i < a->len; i++) {
			const struct ax_ps_value *k = &a->u.items[2 * i];
			const struct ax_ps_value *bv = dict_getn(b, k->u.s, k->len);

			if (!bv || !ax_ps_equal(dict_getn(a, k->u.s, k->len), bv))
				return false;
		}
		for (i = 0; i < b->len; i++) {
			const struct ax_ps_value *k = &b->u.items[2 * i];

			if (!dict_getn(a, k->u.s, k->len))
				return false;
		}
		return true;
	}
	return false;
}

/* ------------------------------------------------------ typed structures */

static ax_err shape_err(const struct ax_ps_value *v, const char *what, char *err, size_t errlen)
{
	ax_errfmt(err, errlen, "packstream: bad %s structure (tag 0x%02X, %u fields)", what,
		  v->type == AX_PS_STRUCT ? v->tag : 0, (unsigned)v->len);
	return AX_EPROTO;
}

static bool is_struct(const struct ax_ps_value *v, uint8_t tag)
{
	return v && v->type == AX_PS_STRUCT && v->tag == tag;
}

static bool field_is(const struct ax_ps_value *v, uint32_t i, enum ax_ps_type t)
{
	return v->u.items[i].type == t;
}

static bool list_of(const struct ax_ps_value *l, enum ax_ps_type t, int tag)
{
	uint32_t i;

	if (l->type != AX_PS_LIST)
		return false;
	for (i = 0; i < l->len; i++) {
		if (l->u.items[i].type != t)
			return false;
		if (tag >= 0 && l->u.items[i].tag != tag)
			return false;
	}
	return true;
}

ax_err ax_ps_as_node(const struct ax_ps_value *v, struct ax_ps_node *n, char *err, size_t errlen)
{
	if (!is_struct(v, AX_PS_TAG_NODE) || (v->len != 3 && v->len != 4) ||
	    !field_is(v, 0, AX_PS_INT) || !list_of(&v->u.items[1], AX_PS_STRING, -1) ||
	    !field_is(v, 2, AX_PS_DICT) || (v->len == 4 && !field_is(v, 3, AX_PS_STRING)))
		return shape_err(v, "Node", err, errlen);
	n->id = v->u.items[0].u.i;
	n->labels = &v->u.items[1];
	n->props = &v->u.items[2];
	n->element_id = v->len == 4 ? v->u.items[3].u.s : NULL;
	return AX_OK;
}

ax_err ax_ps_as_rel(const struct ax_ps_value *v, struct ax_ps_rel *r, char *err, size_t errlen)
{
	uint32_t i;

	if (!is_struct(v, AX_PS_TAG_REL) || (v->len != 5 && v->len != 8))
		return shape_err(v, "Relationship", err, errlen);
	for (i = 0; i < v->len; i++) {
		enum ax_ps_type t = i < 3 ? AX_PS_INT : i == 4 ? AX_PS_DICT : AX_PS_STRING;

		if (!field_is(v, i, t))
			return shape_err(v, "Relationship", err, errlen);
	}
	memset(r, 0, sizeof(*r));
	r->id = v->u.items[0].u.i;
	r->start = v->u.items[1].u.i;
	r->end = v->u.items[2].u.i;
	r->type = v->u.items[3].u.s;
	r->props = &v->u.items[4];
	if (v->len == 8) {
		r->element_id = v->u.items[5].u.s;
		r->start_element_id = v->u.items[6].u.s;
		r->end_element_id = v->u.items[7].u.s;
	}
	return AX_OK;
}

ax_err ax_ps_as_unbound_rel(const struct ax_ps_value *v, struct ax_ps_rel *r, char *err,
			    size_t errlen)
{
	if (!is_struct(v, AX_PS_TAG_UNBOUND_REL) || (v->len != 3 && v->len != 4) ||
	    !field_is(v, 0, AX_PS_INT) || !field_is(v, 1, AX_PS_STRING) ||
	    !field_is(v, 2, AX_PS_DICT) || (v->len == 4 && !field_is(v, 3, AX_PS_STRING)))
		return shape_err(v, "UnboundRelationship", err, errlen);
	memset(r, 0, sizeof(*r));
	r->id = v->u.items[0].u.i;
	r->type = v->u.items[1].u.s;
	r->props = &v->u.items[2];
	r->element_id = v->len == 4 ? v->u.items[3].u.s : NULL;
	return AX_OK;
}

ax_err ax_ps_as_path(const struct ax_ps_value *v, struct ax_ps_path *p, char *err, size_t errlen)
{
	const struct ax_ps_value *nodes, *rels, *idx;
	struct ax_ps_node n;
	struct ax_ps_rel r;
	uint32_t i;

	if (!is_struct(v, AX_PS_TAG_PATH) || v->len != 3)
		return shape_err(v, "Path", err, errlen);
	nodes = &v->u.items[0];
	rels = &v->u.items[1];
	idx = &v->u.items[2];
	if (!list_of(nodes, AX_PS_STRUCT, AX_PS_TAG_NODE) ||
	    !list_of(rels, AX_PS_STRUCT, AX_PS_TAG_UNBOUND_REL) || !list_of(idx, AX_PS_INT, -1) ||
	    idx->len % 2 != 0 || (nodes->len == 0 && idx->len))
		return shape_err(v, "Path", err, errlen);
	for (i = 0; i < nodes->len; i++)
		if (ax_ps_as_node(&nodes->u.items[i], &n, err, errlen))
			return AX_EPROTO;
	for (i = 0; i < rels->len; i++)
		if (ax_ps_as_unbound_rel(&rels->u.items[i], &r, err, errlen))
			return AX_EPROTO;
	/* indices alternate: relationship (1-based, negative = reversed), node (0-based) */
	for (i = 0; i < idx->len; i++) {
		int64_t x = idx->u.items[i].u.i;

		if (i % 2 == 0 ? (x == 0 || x > (int64_t)rels->len || x < -(int64_t)rels->len)
			       : (x < 0 || x >= (int64_t)nodes->len))
			return shape_err(v, "Path", err, errlen);
	}
	p->nodes = nodes;
	p->rels = rels;
	p->indices = idx;
	return AX_OK;
}

ax_err ax_ps_as_temporal(const struct ax_ps_value *v, struct ax_ps_temporal *t, char *err,
			 size_t errlen)
{
	/* field types per tag: i = Integer, s = String, f = Float */
	static const struct {
		uint8_t tag;
		const char *fields;
	} shapes[] = {
		{ AX_PS_TAG_DATE, "i" },           { AX_PS_TAG_TIME, "ii" },
		{ AX_PS_TAG_LOCAL_TIME, "i" },     { AX_PS_TAG_DATETIME, "iii" },
		{ AX_PS_TAG_DATETIME_ZONE, "iis" }, { AX_PS_TAG_DATETIME_LEGACY, "iii" },
		{ AX_PS_TAG_DATETIME_ZONE_LEGACY, "iis" }, { AX_PS_TAG_LOCAL_DATETIME, "ii" },
		{ AX_PS_TAG_DURATION, "iiii" },    { AX_PS_TAG_POINT2D, "iff" },
		{ AX_PS_TAG_POINT3D, "ifff" },
	};
	const struct ax_ps_value *f;
	size_t s;
	uint32_t i;

	if (!v || v->type != AX_PS_STRUCT)
		return shape_err(v, "temporal or spatial", err, errlen);
	for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		if (shapes[s].tag == v->tag)
			break;
	if (s == sizeof(shapes) / sizeof(shapes[0]) || v->len != strlen(shapes[s].fields))
		return shape_err(v, "temporal or spatial", err, errlen);
	for (i = 0; i < v->len; i++) {
		char c = shapes[s].fields[i];
		enum ax_ps_type want = c == 'i' ? AX_PS_INT : c == 's' ? AX_PS_STRING : AX_PS_FLOAT;

		if (!field_is(v, i, want))
			return shape_err(v, "temporal or spatial", err, errlen);
	}
	memset(t, 0, sizeof(*t));
	t->tag = v->tag;
	f = v->u.items;
	switch (v->tag) {
	case AX_PS_TAG_DATE:
		t->days = f[0].u.i;
		break;
	case AX_PS_TAG_TIME:
		t->nanos = f[0].u.i;
		t->tz_offset_seconds = f[1].u.i;
		break;
	case AX_PS_TAG_LOCAL_TIME:
		t->nanos = f[0].u.i;
		break;
	case AX_PS_TAG_DATETIME:
	case AX_PS_TAG_DATETIME_LEGACY:
		t->seconds = f[0].u.i;
		t->nanos = f[1].u.i;
		t->tz_offset_seconds = f[2].u.i;
		break;
	case AX_PS_TAG_DATETIME_ZONE:
	case AX_PS_TAG_DATETIME_ZONE_LEGACY:
		t->seconds = f[0].u.i;
		t->nanos = f[1].u.i;
		t->zone_id = f[2].u.s;
		break;
	case AX_PS_TAG_LOCAL_DATETIME:
		t->seconds = f[0].u.i;
		t->nanos = f[1].u.i;
		break;
	case AX_PS_TAG_DURATION:
		t->months = f[0].u.i;
		t->days = f[1].u.i;
		t->seconds = f[2].u.i;
		t->nanos = f[3].u.i;
		break;
	default: /* points */
		t->srid = f[0].u.i;
		t->x = f[1].u.f;
		t->y = f[2].u.f;
		if (v->len == 4)
			t->z = f[3].u.f;
		break;
	}
	return AX_OK;
}

/* ------------------------------------------------------------ rendering */

struct fmt {
	char *out;
	size_t n, len;
};

static void fput(struct fmt *f, const char *fmt, ...) AX_PRINTF(2, 3);

static void fput(struct fmt *f, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (f->len + 1 >= f->n)
		return;
	va_start(ap, fmt);
	k = vsnprintf(f->out + f->len, f->n - f->len, fmt, ap);
	va_end(ap);
	if (k > 0)
		f->len = f->len + (size_t)k < f->n ? f->len + (size_t)k : f->n - 1;
}

static void format_value(struct fmt *f, const struct ax_ps_value *v, int depth)
{
	uint32_t i, shown;

	switch (v->type) {
	case AX_PS_NULL:
		fput(f, "null");
		return;
	case AX_PS_BOOL:
		fput(f, "%s", v->u.b ? "true" : "false");
		return;
	case AX_PS_INT:
		fput(f, "%lld", (long long)v->u.i);
		return;
	case AX_PS_FLOAT:
		fput(f, "%.17g", v->u.f);
		return;
	case AX_PS_STRING:
		if (v->len > 64)
			fput(f, "\"%.32s...\"(%u)", v->u.s, (unsigned)v->len);
		else
			fput(f, "\"%s\"", v->u.s);
		return;
	case AX_PS_BYTES:
		fput(f, "bytes(%u)", (unsigned)v->len);
		return;
	default:
		break;
	}
	if (depth > 8) {
		fput(f, "...");
		return;
	}
	shown = v->len > 8 ? 8 : v->len;
	if (v->type == AX_PS_DICT) {
		fput(f, "{");
		for (i = 0; i < shown; i++) {
			fput(f, "%s%s: ", i ? ", " : "", v->u.items[2 * i].u.s);
			format_value(f, &v->u.items[2 * i + 1], depth + 1);
		}
		fput(f, "%s}", shown < v->len ? ", ..." : "");
		return;
	}
	if (v->type == AX_PS_STRUCT)
		fput(f, "S%02X", v->tag);
	fput(f, "[");
	for (i = 0; i < shown; i++) {
		fput(f, "%s", i ? ", " : "");
		format_value(f, &v->u.items[i], depth + 1);
	}
	fput(f, "%s]", shown < v->len ? ", ..." : "");
}

void ax_ps_format(const struct ax_ps_value *v, char *out, size_t n)
{
	struct fmt f = { out, n, 0 };

	if (n == 0)
		return;
	out[0] = '\0';
	format_value(&f, v, 0);
}
