/* test_packstream.c - PackStream encoding and bounded decoding
 * (common/packstream.c).  The byte-for-byte agreement with the official
 * JavaScript driver is tests/e2e/bolt_packstream.sh; here: the smallest
 * marker at every size boundary, round trips, every cap, every malformed
 * input class (each truncation of a valid message included), and the
 * typed structure views. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "alexus/mem.h"
#include "alexus/packstream.h"
#include "boltpeer.h"

static struct ax_ps_buf buf;

static int setup(void **state)
{
	(void)state;
	ax_ps_buf_init(&buf);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ax_ps_buf_release(&buf);
	return 0;
}

/* Decode buf (must succeed), check it re-encodes to the same bytes. */
static struct ax_ps_value *roundtrip(void)
{
	struct ax_ps_value *v = NULL;
	struct ax_ps_buf again;
	char err[256] = "";

	if (ax_ps_decode(buf.data, buf.len, NULL, &v, err, sizeof(err)) != AX_OK)
		fail_msg("decode: %s", err);
	ax_ps_buf_init(&again);
	ax_ps_put_value(&again, v);
	assert_int_equal(again.len, buf.len);
	assert_memory_equal(again.data, buf.data, buf.len);
	ax_ps_buf_release(&again);
	return v;
}

static void check_int(int64_t v, const char *hex)
{
	struct ax_ps_value *d;
	char got[40] = "";
	size_t i;

	ax_ps_buf_reset(&buf);
	ax_ps_put_int(&buf, v);
	for (i = 0; i < buf.len; i++)
		snprintf(got + 2 * i, 3, "%02x", buf.data[i]);
	assert_string_equal(got, hex);
	d = roundtrip();
	assert_int_equal(d->type, AX_PS_INT);
	assert_true(d->u.i == v);
	ax_ps_free(d);
}

static void test_int_boundaries(void **state)
{
	(void)state;
	check_int(0, "00");
	check_int(-16, "f0");
	check_int(-17, "c8ef");
	check_int(127, "7f");
	check_int(128, "c90080");
	check_int(-128, "c880");
	check_int(-129, "c9ff7f");
	check_int(32767, "c97fff");
	check_int(32768, "ca00008000");
	check_int(-32768, "c98000");
	check_int(-32769, "caffff7fff");
	check_int(2147483647, "ca7fffffff");
	check_int(2147483648LL, "cb0000000080000000");
	check_int(-2147483648LL, "ca80000000");
	check_int(-2147483649LL, "cbffffffff7fffffff");
	check_int(INT64_MAX, "cb7fffffffffffffff");
	check_int(INT64_MIN, "cb8000000000000000");
}

static void test_int_wide_markers_accepted(void **state)
{
	/* a peer may use a wider marker than needed: 1 as INT_64 */
	static const uint8_t in[] = { 0xCB, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct ax_ps_value *v;

	(void)state;
	assert_int_equal(ax_ps_decode(in, sizeof(in), NULL, &v, NULL, 0), AX_OK);
	assert_int_equal(v->u.i, 1);
	ax_ps_free(v);
}

/* The header bytes for a size n of the given kind. */
static void check_sized(int kind, uint32_t n, const uint8_t *hdr, size_t hlen)
{
	struct ax_ps_value *v;
	uint32_t i;
	char *s;

	ax_ps_buf_reset(&buf);
	switch (kind) {
	case AX_PS_STRING:
		s = ax_xmalloc(n + 1);
		memset(s, 'q', n);
		ax_ps_put_string(&buf, s, n);
		free(s);
		break;
	case AX_PS_BYTES:
		s = ax_xcalloc(1, n + 1);
		ax_ps_put_bytes(&buf, s, n);
		free(s);
		break;
	case AX_PS_LIST:
		ax_ps_put_list(&buf, n);
		for (i = 0; i < n; i++)
			ax_ps_put_int(&buf, i & 0x3F);
		break;
	case AX_PS_DICT:
		ax_ps_put_dict(&buf, n);
		for (i = 0; i < n; i++) {
			char k[16];

			snprintf(k, sizeof(k), "k%u", (unsigned)i);
			ax_ps_put_cstr(&buf, k);
			ax_ps_put_null(&buf);
		}
		break;
	}
	assert_memory_equal(buf.data, hdr, hlen);
	v = roundtrip();
	assert_int_equal(v->type, kind);
	assert_int_equal(v->len, n);
	if (kind == AX_PS_STRING) {
		assert_int_equal(v->u.s[n], '\0');
		assert_int_equal(v->u.s[n ? n - 1 : 0], n ? 'q' : '\0');
	}
	if (kind == AX_PS_DICT && n > 0) {
		char k[16];

		snprintf(k, sizeof(k), "k%u", (unsigned)(n - 1));
		assert_non_null(ax_ps_dict_get(v, k));
		assert_null(ax_ps_dict_get(v, "nope"));
	}
	ax_ps_free(v);
}

static void test_size_markers(void **state)
{
	static const struct {
		int kind;
		uint8_t tiny, m8;
	} k[] = {
		{ AX_PS_STRING, 0x80, 0xD0 },
		{ AX_PS_BYTES, 0, 0xCC },
		{ AX_PS_LIST, 0x90, 0xD4 },
		{ AX_PS_DICT, 0xA0, 0xD8 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		uint8_t h15[] = { (uint8_t)(k[i].tiny | 15) };
		uint8_t h15b[] = { k[i].m8, 15 };
		uint8_t h16[] = { k[i].m8, 16 };
		uint8_t h255[] = { k[i].m8, 255 };
		uint8_t h256[] = { (uint8_t)(k[i].m8 + 1), 1, 0 };
		uint8_t h65535[] = { (uint8_t)(k[i].m8 + 1), 0xFF, 0xFF };
		uint8_t h65536[] = { (uint8_t)(k[i].m8 + 2), 0, 1, 0, 0 };
		uint8_t h0[] = { k[i].tiny ? k[i].tiny : k[i].m8, 0 };

		check_sized(k[i].kind, 0, h0, k[i].tiny ? 1 : 2);
		if (k[i].tiny)
			check_sized(k[i].kind, 15, h15, 1);
		else
			check_sized(k[i].kind, 15, h15b, 2); /* bytes have no tiny form */
		check_sized(k[i].kind, 16, h16, 2);
		check_sized(k[i].kind, 255, h255, 2);
		check_sized(k[i].kind, 256, h256, 3);
		check_sized(k[i].kind, 65535, h65535, 3);
		check_sized(k[i].kind, 65536, h65536, 5);
	}
}

static void test_scalars_and_floats(void **state)
{
	static const uint8_t want[] = { 0xC0, 0xC3, 0xC2, 0xC1, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0 };
	struct ax_ps_value *v;
	uint8_t nan_bytes[9];

	(void)state;
	ax_ps_put_list(&buf, 6);
	ax_ps_put_null(&buf);
	ax_ps_put_bool(&buf, true);
	ax_ps_put_bool(&buf, false);
	ax_ps_put_float(&buf, 1.5);
	ax_ps_put_float(&buf, -0.0);
	ax_ps_put_float(&buf, NAN);
	assert_memory_equal(buf.data + 1, want, sizeof(want));
	v = roundtrip();
	assert_int_equal(v->u.items[0].type, AX_PS_NULL);
	assert_true(v->u.items[1].u.b);
	assert_false(v->u.items[2].u.b);
	assert_true(v->u.items[3].u.f == 1.5);
	assert_true(signbit(v->u.items[4].u.f));
	assert_true(isnan(v->u.items[5].u.f));
	assert_true(ax_ps_equal(&v->u.items[5], &v->u.items[5])); /* NaN equals itself here */
	memcpy(nan_bytes, buf.data + buf.len - 9, 9);
	assert_int_equal(nan_bytes[0], 0xC1);
	ax_ps_free(v);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *what;
		uint8_t in[8];
		size_t n;
		ax_err rc;
	} cases[] = {
		{ "empty", { 0 }, 0, AX_EPROTO },
		{ "reserved marker", { 0xE0 }, 1, AX_EPROTO },
		{ "struct8 (gone since Bolt 3)", { 0xDC, 1, 0x44, 1 }, 4, AX_EPROTO },
		{ "trailing byte", { 0x01, 0x02 }, 2, AX_EPROTO },
		{ "int16 cut", { 0xC9, 0x01 }, 2, AX_EPROTO },
		{ "float cut", { 0xC1, 0, 0, 0 }, 4, AX_EPROTO },
		{ "string longer than input", { 0x85, 'a', 'b' }, 3, AX_EPROTO },
		{ "str32 claims 4 GiB", { 0xD2, 0xFF, 0xFF, 0xFF, 0xFF, 'a' }, 6, AX_ETOOBIG },
		{ "list longer than input", { 0xD6, 0, 0, 1, 0, 1 }, 6, AX_EPROTO },
		{ "dict key not a string", { 0xA1, 0x01, 0x02 }, 3, AX_EPROTO },
		{ "invalid UTF-8", { 0x82, 0xC3, 0x28 }, 3, AX_EPROTO },
		{ "overlong UTF-8", { 0x82, 0xC0, 0xAF }, 3, AX_EPROTO },
		{ "UTF-16 surrogate in UTF-8", { 0x83, 0xED, 0xA0, 0x80 }, 4, AX_EPROTO },
		{ "struct without tag", { 0xB1 }, 1, AX_EPROTO },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ax_ps_value *v = (void *)1;
		char err[128] = "";
		ax_err rc = ax_ps_decode(cases[i].in, cases[i].n, NULL, &v, err, sizeof(err));

		if (rc != cases[i].rc)
			fail_msg("%s: got %d (%s), want %d", cases[i].what, rc, err, cases[i].rc);
		assert_null(v);
		assert_non_null(strstr(err, "packstream: "));
	}
}

/* Every strict prefix of a valid message is refused, and never read past. */
static void test_every_truncation(void **state)
{
	struct ax_ps_value *v;
	size_t n;

	(void)state;
	ax_ps_put_struct(&buf, 0x71, 1);
	ax_ps_put_list(&buf, 4);
	ax_ps_put_datetime_zone(&buf, true, 1700000000, 5, "Europe/Berlin");
	ax_ps_put_dict(&buf, 2);
	ax_ps_put_cstr(&buf, "k");
	ax_ps_put_bytes(&buf, "\x01\x02\x03", 3);
	ax_ps_put_cstr(&buf, "f");
	ax_ps_put_float(&buf, 2.5);
	ax_ps_put_int(&buf, -70000);
	ax_ps_put_cstr(&buf, "a string longer than fifteen bytes");
	for (n = 0; n < buf.len; n++) {
		/* a fresh heap copy of exactly n bytes, so ASan sees any over-read */
		uint8_t *copy = ax_xmalloc(n ? n : 1);

		memcpy(copy, buf.data, n);
		assert_int_equal(ax_ps_decode(copy, n, NULL, &v, NULL, 0), AX_EPROTO);
		free(copy);
	}
	assert_int_equal(ax_ps_decode(buf.data, buf.len, NULL, &v, NULL, 0), AX_OK);
	ax_ps_free(v);
}

static void test_caps(void **state)
{
	struct ax_ps_caps caps;
	struct ax_ps_value *v;
	char err[128];
	int i;

	(void)state;
	/* depth: 3 nested lists pass depth 3, fail depth 2 */
	ax_ps_put_list(&buf, 1);
	ax_ps_put_list(&buf, 1);
	ax_ps_put_list(&buf, 0);
	memset(&caps, 0, sizeof(caps));
	caps.max_depth = 3;
	assert_int_equal(ax_ps_decode(buf.data, buf.len, &caps, &v, err, sizeof(err)), AX_OK);
	ax_ps_free(v);
	caps.max_depth = 2;
	assert_int_equal(ax_ps_decode(buf.data, buf.len, &caps, &v, err, sizeof(err)), AX_ETOOBIG);
	assert_non_null(strstr(err, "too deep"));

	/* default depth (64) against a hostile 10,000-deep nesting */
	ax_ps_buf_reset(&buf);
	for (i = 0; i < 10000; i++)
		ax_ps_put_list(&buf, 1);
	ax_ps_put_null(&buf);
	assert_int_equal(ax_ps_decode(buf.data, buf.len, NULL, &v, err, sizeof(err)), AX_ETOOBIG);

	/* items: a 16-item list against max_items 15 */
	ax_ps_buf_reset(&buf);
	ax_ps_put_list(&buf, 16);
	for (i = 0; i < 16; i++)
		ax_ps_put_int(&buf, i);
	memset(&caps, 0, sizeof(caps));
	caps.max_items = 16;
	assert_int_equal(ax_ps_decode(buf.data, buf.len, &caps, &v, err, sizeof(err)), AX_OK);
	ax_ps_free(v);
	caps.max_items = 15;
	assert_int_equal(ax_ps_decode(buf.data, buf.len, &caps, &v, err, sizeof(err)), AX_ETOOBIG);
	assert_non_null(strstr(err, "collection too long"));

	/* values: 17 in the tree (the list and its 16 items) */
	memset(&caps, 0, sizeof(caps));
	caps.max_values = 17;
	assert_int_equal(ax_ps_decode(buf.data, buf.len, &caps, &v, err, sizeof(err)), AX_OK);
	ax_ps_free(v);
	caps.max_values = 16;
	assert_int_equal(ax_ps_decode(buf.data, buf.len, &caps, &v, err, sizeof(err)), AX_ETOOBIG);

	/* total: the tree's bytes */
	memset(&caps, 0, sizeof(caps));
	caps.max_total = 17 * sizeof(struct ax_ps_value);
	assert_int_equal(ax_ps_decode(buf.data, buf.len, &caps, &v, err, sizeof(err)), AX_OK);
	ax_ps_free(v);
	caps.max_total--;
	assert_int_equal(ax_ps_decode(buf.data, buf.len, &caps, &v, err, sizeof(err)), AX_ETOOBIG);

	/* string and bytes length */
	ax_ps_buf_reset(&buf);
	ax_ps_put_string(&buf, "0123456789abcdef", 16);
	memset(&caps, 0, sizeof(caps));
	caps.max_string = 16;
	assert_int_equal(ax_ps_decode(buf.data, buf.len, &caps, &v, err, sizeof(err)), AX_OK);
	ax_ps_free(v);
	caps.max_string = 15;
	assert_int_equal(ax_ps_decode(buf.data, buf.len, &caps, &v, err, sizeof(err)), AX_ETOOBIG);
	ax_ps_buf_reset(&buf);
	ax_ps_put_bytes(&buf, "0123456789abcdef", 16);
	assert_int_equal(ax_ps_decode(buf.data, buf.len, &caps, &v, err, sizeof(err)), AX_ETOOBIG);
}

static void test_dict_lookup(void **state)
{
	struct ax_ps_value *v;
	struct ax_ps_value *w;
	struct ax_ps_buf other;
	char txt[128];

	(void)state;
	ax_ps_put_dict(&buf, 3);
	ax_ps_put_cstr(&buf, "code");
	ax_ps_put_cstr(&buf, "first");
	ax_ps_put_cstr(&buf, "n");
	ax_ps_put_int(&buf, 5);
	ax_ps_put_cstr(&buf, "code");
	ax_ps_put_cstr(&buf, "second");
	v = roundtrip();
	assert_string_equal(ax_ps_dict_str(v, "code"), "second"); /* the last repeat wins */
	assert_null(ax_ps_dict_str(v, "n"));                      /* not a string */
	assert_int_equal(ax_ps_dict_get(v, "n")->u.i, 5);
	ax_ps_format(v, txt, sizeof(txt));
	assert_string_equal(txt, "{code: \"first\", n: 5, code: \"second\"}");

	/* equality ignores dict order, and sees repeated keys as lookups do */
	ax_ps_buf_init(&other);
	assert_int_equal(bp_encode_text("{\"n\": 5, \"code\": \"second\"}", &other, NULL, 0), 0);
	assert_int_equal(ax_ps_decode(other.data, other.len, NULL, &w, NULL, 0), AX_OK);
	assert_true(ax_ps_equal(v, v));
	assert_true(ax_ps_equal(v, w));
	assert_true(ax_ps_equal(w, v));
	ax_ps_free(v);
	ax_ps_buf_reset(&buf);
	assert_int_equal(bp_encode_text("{\"code\": \"second\", \"n\": 5}", &buf, NULL, 0), 0);
	v = roundtrip();
	assert_true(ax_ps_equal(v, w));
	ax_ps_free(v);
	ax_ps_free(w);
	ax_ps_buf_release(&other);
}

static struct ax_ps_value *decode_text(const char *notation)
{
	char err[256] = "";

	ax_ps_buf_reset(&buf);
	if (bp_encode_text(notation, &buf, err, sizeof(err)))
		fail_msg("notation: %s", err);
	return roundtrip();
}

static void test_graph_views(void **state)
{
	struct ax_ps_value *v;
	struct ax_ps_node n;
	struct ax_ps_rel r;
	struct ax_ps_path p;
	char err[128];

	(void)state;
	v = decode_text("{\"$struct\": [78, [7, [\"Item\", \"Service\"], {\"name\": \"checkout\"},"
			" \"4:abc:7\"]]}");
	assert_int_equal(ax_ps_as_node(v, &n, err, sizeof(err)), AX_OK);
	assert_int_equal(n.id, 7);
	assert_int_equal(n.labels->len, 2);
	assert_string_equal(n.labels->u.items[1].u.s, "Service");
	assert_string_equal(ax_ps_dict_str(n.props, "name"), "checkout");
	assert_string_equal(n.element_id, "4:abc:7");
	assert_int_equal(ax_ps_as_rel(v, &r, err, sizeof(err)), AX_EPROTO);
	ax_ps_free(v);

	v = decode_text("{\"$struct\": [78, [7, [\"Item\"], {}]]}"); /* 4.4 */
	assert_int_equal(ax_ps_as_node(v, &n, err, sizeof(err)), AX_OK);
	assert_null(n.element_id);
	ax_ps_free(v);

	v = decode_text("{\"$struct\": [78, [7, [1], {}]]}"); /* a label that is no string */
	assert_int_equal(ax_ps_as_node(v, &n, err, sizeof(err)), AX_EPROTO);
	assert_non_null(strstr(err, "Node"));
	ax_ps_free(v);

	v = decode_text("{\"$struct\": [82, [11, 7, 8, \"DEPENDS_ON\", {}, \"5:a:11\", \"4:a:7\","
			" \"4:a:8\"]]}");
	assert_int_equal(ax_ps_as_rel(v, &r, err, sizeof(err)), AX_OK);
	assert_int_equal(r.start, 7);
	assert_int_equal(r.end, 8);
	assert_string_equal(r.type, "DEPENDS_ON");
	assert_string_equal(r.end_element_id, "4:a:8");
	ax_ps_free(v);

	v = decode_text("{\"$struct\": [82, [11, 7, 8, \"DEPENDS_ON\", {}, \"5:a:11\"]]}");
	assert_int_equal(ax_ps_as_rel(v, &r, err, sizeof(err)), AX_EPROTO); /* 6 fields */
	ax_ps_free(v);

	v = decode_text("{\"$struct\": [80, [[{\"$struct\": [78, [1, [], {}]]}, {\"$struct\": [78,"
			" [2, [], {}]]}], [{\"$struct\": [114, [9, \"R\", {}]]}], [1, 1]]]}");
	assert_int_equal(ax_ps_as_path(v, &p, err, sizeof(err)), AX_OK);
	assert_int_equal(p.nodes->len, 2);
	assert_int_equal(p.rels->len, 1);
	ax_ps_free(v);

	/* an index past the relationships */
	v = decode_text("{\"$struct\": [80, [[{\"$struct\": [78, [1, [], {}]]}, {\"$struct\": [78,"
			" [2, [], {}]]}], [{\"$struct\": [114, [9, \"R\", {}]]}], [2, 1]]]}");
	assert_int_equal(ax_ps_as_path(v, &p, err, sizeof(err)), AX_EPROTO);
	ax_ps_free(v);
}

static void test_temporal_views(void **state)
{
	struct ax_ps_temporal t;
	struct ax_ps_value *v;
	char err[128];

	(void)state;
	ax_ps_put_list(&buf, 10);
	ax_ps_put_date(&buf, 19723);
	ax_ps_put_time(&buf, 45296000000123LL, 3600);
	ax_ps_put_local_time(&buf, 1);
	ax_ps_put_datetime(&buf, true, 1700000000, 500, 7200);
	ax_ps_put_datetime(&buf, false, 1700007200, 500, 7200);
	ax_ps_put_datetime_zone(&buf, true, 1700000000, 0, "Europe/Berlin");
	ax_ps_put_local_datetime(&buf, 1700000000, 123456789);
	ax_ps_put_duration(&buf, 14, 3, 3661, 5);
	ax_ps_put_point2d(&buf, 4326, 13.4, 52.52);
	ax_ps_put_point3d(&buf, 4979, 13.4, 52.52, 34.0);
	v = roundtrip();

	assert_int_equal(ax_ps_as_temporal(&v->u.items[0], &t, err, sizeof(err)), AX_OK);
	assert_int_equal(t.tag, 0x44);
	assert_int_equal(t.days, 19723);
	assert_int_equal(ax_ps_as_temporal(&v->u.items[1], &t, err, sizeof(err)), AX_OK);
	assert_int_equal(t.nanos, 45296000000123LL);
	assert_int_equal(t.tz_offset_seconds, 3600);
	assert_int_equal(ax_ps_as_temporal(&v->u.items[3], &t, err, sizeof(err)), AX_OK);
	assert_int_equal(t.tag, 0x49);
	assert_int_equal(t.seconds, 1700000000);
	assert_int_equal(ax_ps_as_temporal(&v->u.items[4], &t, err, sizeof(err)), AX_OK);
	assert_int_equal(t.tag, 0x46);
	assert_int_equal(t.seconds, 1700007200);
	assert_int_equal(ax_ps_as_temporal(&v->u.items[5], &t, err, sizeof(err)), AX_OK);
	assert_int_equal(t.tag, 0x69);
	assert_string_equal(t.zone_id, "Europe/Berlin");
	assert_int_equal(ax_ps_as_temporal(&v->u.items[6], &t, err, sizeof(err)), AX_OK);
	assert_int_equal(t.nanos, 123456789);
	assert_int_equal(ax_ps_as_temporal(&v->u.items[7], &t, err, sizeof(err)), AX_OK);
	assert_int_equal(t.months, 14);
	assert_int_equal(t.seconds, 3661);
	assert_int_equal(ax_ps_as_temporal(&v->u.items[8], &t, err, sizeof(err)), AX_OK);
	assert_int_equal(t.srid, 4326);
	assert_true(t.y == 52.52);
	assert_int_equal(ax_ps_as_temporal(&v->u.items[9], &t, err, sizeof(err)), AX_OK);
	assert_true(t.z == 34.0);
	ax_ps_free(v);

	/* an integer where a point wants a float, and an unknown tag */
	v = decode_text("{\"$struct\": [88, [4326, 1, 2.5]]}");
	assert_int_equal(ax_ps_as_temporal(v, &t, err, sizeof(err)), AX_EPROTO);
	ax_ps_free(v);
	v = decode_text("{\"$struct\": [65, [1]]}");
	assert_int_equal(ax_ps_as_temporal(v, &t, err, sizeof(err)), AX_EPROTO);
	ax_ps_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_int_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_int_wide_markers_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_markers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scalars_and_floats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dict_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_graph_views, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temporal_views, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
