/* packstream.h - PackStream (version 1), the value encoding of Neo4j's Bolt
 * protocol: encoding into a growable buffer and decoding into a small tree.
 *
 * Encoding is streaming: ax_ps_put_* append one value (or a collection or
 * structure header, followed by that many values) to a struct ax_ps_buf.
 * Integers always take the smallest marker that holds them, as every Neo4j
 * driver does, so equal values encode to equal bytes.
 *
 * Decoding (ax_ps_decode) reads exactly one value that must fill the whole
 * input, never reads outside it, and enforces caps on everything it reads
 * (nesting depth, collection length, string and bytes length, number of
 * values, total size of the tree), so it can be fed untrusted network
 * input.  The result is one heap block: walk it through the struct fields
 * below and release it with ax_ps_free().  Strings are copied and
 * NUL-terminated (they may still hold NUL bytes: use len); a string that
 * is not valid UTF-8 is refused.  Dictionaries keep their wire order;
 * when a key appears twice, lookups see the last (as the PackStream page
 * says).
 *
 * Structures (Node, Relationship, Date...) decode as AX_PS_STRUCT with
 * their tag byte; ax_ps_as_*() check a structure's shape (tag, field count
 * for the Bolt version, field types) and give typed views of it.  The
 * shapes are those of the Bolt "structure semantics" page: 4.4 nodes have
 * three fields and 5.x four (element_id); 5.x and patched 4.4 send zoned
 * datetimes as UTC seconds (0x49, 0x69), older 4.4 as local seconds (0x46,
 * 0x66).  PackStream's 8/16-bit structure sizes (0xDC, 0xDD) no longer
 * exist in Bolt 3+ and are refused. */
#ifndef AX_PACKSTREAM_H
#define AX_PACKSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "alexus/err.h"

enum ax_ps_type {
	AX_PS_NULL,
	AX_PS_BOOL,
	AX_PS_INT,
	AX_PS_FLOAT,
	AX_PS_STRING,
	AX_PS_BYTES,
	AX_PS_LIST,
	AX_PS_DICT,
	AX_PS_STRUCT,
};

/* Structure tag bytes (Bolt structure semantics). */
enum {
	AX_PS_TAG_NODE = 0x4E,
	AX_PS_TAG_REL = 0x52,
	AX_PS_TAG_UNBOUND_REL = 0x72,
	AX_PS_TAG_PATH = 0x50,
	AX_PS_TAG_DATE = 0x44,
	AX_PS_TAG_TIME = 0x54,
	AX_PS_TAG_LOCAL_TIME = 0x74,
	AX_PS_TAG_DATETIME = 0x49,          /* 5.x: UTC seconds, offset */
	AX_PS_TAG_DATETIME_ZONE = 0x69,     /* 5.x: UTC seconds, zone id */
	AX_PS_TAG_DATETIME_LEGACY = 0x46,   /* 4.4: local seconds, offset */
	AX_PS_TAG_DATETIME_ZONE_LEGACY = 0x66,
	AX_PS_TAG_LOCAL_DATETIME = 0x64,
	AX_PS_TAG_DURATION = 0x45,
	AX_PS_TAG_POINT2D = 0x58,
	AX_PS_TAG_POINT3D = 0x59,
};

/* One decoded value.  len: bytes of a string or bytes, items of a list,
 * entries of a dict, fields of a struct.  A dict's items hold 2 * len
 * values: key (always a string), value, key, value... */
struct ax_ps_value {
	enum ax_ps_type type;
	uint8_t tag;                    /* AX_PS_STRUCT only */
	uint32_t len;
	union {
		bool b;
		int64_t i;
		double f;
		const char *s;          /* string, NUL-terminated */
		const uint8_t *bytes;
		struct ax_ps_value *items; /* list, dict, struct */
	} u;
};

/* Decoding limits; a zero field takes the default in brackets. */
struct ax_ps_caps {
	uint32_t max_depth;     /* nesting of collections and structures [64] */
	uint32_t max_items;     /* items of one list, dict or struct [1 << 20] */
	uint32_t max_string;    /* bytes of one string or bytes value [16 MiB] */
	uint32_t max_values;    /* values in the whole tree [1 << 22] */
	size_t max_total;       /* bytes of the decoded tree [256 MiB] */
};

/* Decode the single value that fills buf[0..len).  On success *out is a
 * tree to release with ax_ps_free().  AX_ETOOBIG when a cap is exceeded,
 * AX_EPROTO when the input is malformed (truncated, unknown marker,
 * trailing bytes, non-string dict key, invalid UTF-8...); err says where. */
ax_err ax_ps_decode(const void *buf, size_t len, const struct ax_ps_caps *caps,
		    struct ax_ps_value **out, char *err, size_t errlen) AX_MUSTCHECK;
void ax_ps_free(struct ax_ps_value *root);          /* NULL-safe; roots only */

/* Lookups on a decoded tree; NULL when absent or of another type. */
const struct ax_ps_value *ax_ps_dict_get(const struct ax_ps_value *dict, const char *key);
const char *ax_ps_dict_str(const struct ax_ps_value *dict, const char *key);
/* Deep equality.  Dictionaries compare as dictionaries: order aside, the
 * last of repeated keys wins.  Floats compare by bit pattern, so NaN equals
 * the same NaN and 0.0 differs from -0.0. */
bool ax_ps_equal(const struct ax_ps_value *a, const struct ax_ps_value *b);

/* ------------------------------------------------------------- encoding */

/* A growable byte buffer; fields are read-only for callers. */
struct ax_ps_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

void ax_ps_buf_init(struct ax_ps_buf *b);
void ax_ps_buf_release(struct ax_ps_buf *b);
void ax_ps_buf_reset(struct ax_ps_buf *b);           /* len = 0, keeps memory */
void ax_ps_buf_append(struct ax_ps_buf *b, const void *p, size_t n);

void ax_ps_put_null(struct ax_ps_buf *b);
void ax_ps_put_bool(struct ax_ps_buf *b, bool v);
void ax_ps_put_int(struct ax_ps_buf *b, int64_t v);
void ax_ps_put_float(struct ax_ps_buf *b, double v);
void ax_ps_put_string(struct ax_ps_buf *b, const char *s, size_t len);
void ax_ps_put_cstr(struct ax_ps_buf *b, const char *s);   /* NULL puts null */
void ax_ps_put_bytes(struct ax_ps_buf *b, const void *p, size_t len);
/* Headers: follow with n values (a dict: n key, value pairs). */
void ax_ps_put_list(struct ax_ps_buf *b, uint32_t n);
void ax_ps_put_dict(struct ax_ps_buf *b, uint32_t n);
void ax_ps_put_struct(struct ax_ps_buf *b, uint8_t tag, uint8_t nfields); /* nfields <= 15 */
/* Re-encode a decoded (or hand-built) tree. */
void ax_ps_put_value(struct ax_ps_buf *b, const struct ax_ps_value *v);

/* Typed structures (fields as in the Bolt structure semantics). */
void ax_ps_put_date(struct ax_ps_buf *b, int64_t days);
void ax_ps_put_time(struct ax_ps_buf *b, int64_t nanos, int64_t tz_offset_seconds);
void ax_ps_put_local_time(struct ax_ps_buf *b, int64_t nanos);
/* utc: the 5.x form (0x49, seconds since the epoch in UTC); otherwise the
 * 4.4 form (0x46, local seconds = UTC seconds + offset). */
void ax_ps_put_datetime(struct ax_ps_buf *b, bool utc, int64_t seconds, int64_t nanos,
			int64_t tz_offset_seconds);
void ax_ps_put_datetime_zone(struct ax_ps_buf *b, bool utc, int64_t seconds, int64_t nanos,
			     const char *zone_id);
void ax_ps_put_local_datetime(struct ax_ps_buf *b, int64_t seconds, int64_t nanos);
void ax_ps_put_duration(struct ax_ps_buf *b, int64_t months, int64_t days, int64_t seconds,
			int64_t nanos);
void ax_ps_put_point2d(struct ax_ps_buf *b, int64_t srid, double x, double y);
void ax_ps_put_point3d(struct ax_ps_buf *b, int64_t srid, double x, double y, double z);

/* ------------------------------------------------- typed structure views */

/* element ids are NULL for 4.4 structures (they have none). */
struct ax_ps_node {
	int64_t id;
	const struct ax_ps_value *labels;       /* list of strings */
	const struct ax_ps_value *props;        /* dict */
	const char *element_id;
};

struct ax_ps_rel {
	int64_t id, start, end;                 /* start/end: 0 for unbound */
	const char *type;
	const struct ax_ps_value *props;
	const char *element_id, *start_element_id, *end_element_id;
};

struct ax_ps_path {
	const struct ax_ps_value *nodes;        /* list of Node */
	const struct ax_ps_value *rels;         /* list of UnboundRelationship */
	const struct ax_ps_value *indices;      /* list of Integer */
};

/* Every temporal and spatial structure in one view; which fields mean
 * something follows from tag. */
struct ax_ps_temporal {
	uint8_t tag;
	int64_t days, seconds, nanos, tz_offset_seconds, months, srid;
	const char *zone_id;
	double x, y, z;
};

/* AX_OK when v is that structure with a valid shape, AX_EPROTO otherwise
 * (err says why).  The views point into v's tree. */
ax_err ax_ps_as_node(const struct ax_ps_value *v, struct ax_ps_node *n, char *err, size_t errlen);
ax_err ax_ps_as_rel(const struct ax_ps_value *v, struct ax_ps_rel *r, char *err, size_t errlen);
ax_err ax_ps_as_unbound_rel(const struct ax_ps_value *v, struct ax_ps_rel *r, char *err,
			    size_t errlen);
ax_err ax_ps_as_path(const struct ax_ps_value *v, struct ax_ps_path *p, char *err, size_t errlen);
ax_err ax_ps_as_temporal(const struct ax_ps_value *v, struct ax_ps_temporal *t, char *err,
			 size_t errlen);

/* A short human rendering of v for diagnostics (JSON-like; long strings
 * and collections elided); always NUL-terminates when n > 0. */
void ax_ps_format(const struct ax_ps_value *v, char *out, size_t n);

#endif /* AX_PACKSTREAM_H */
