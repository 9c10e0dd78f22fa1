/* bolt_pscheck.c - the C half of the PackStream cross-check against the
 * official Neo4j JavaScript driver (tests/e2e/bolt_packstream.sh, with
 * tests/js/packstream.js as the other half).
 *
 *   bolt_pscheck encode VECTORS.json          "name hex" lines, our encoder
 *   bolt_pscheck decode VECTORS.json HEXFILE  decode the driver's bytes
 *
 * decode checks, for every vector: the driver's bytes decode (default
 * caps) into the same tree as the vector does; re-encoding that tree gives
 * the driver's bytes back; and every structure in it with a known tag
 * passes its typed view (ax_ps_as_*), so the field shapes the driver sends
 * are the ones our views accept.  The vectors are in the notation of
 * tests/lib/boltpeer.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/mem.h"
#include "alexus/packstream.h"
#include "boltpeer.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct ax_ps_buf b;
	char chunk[65536];
	size_t n;

	if (!f) {
		perror(path);
		exit(2);
	}
	ax_ps_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ax_ps_buf_append(&b, chunk, n);
	fclose(f);
	ax_ps_buf_append(&b, "", 1);
	*len = b.len - 1;
	return (char *)b.data;
}

static cJSON *load_vectors(const char *path)
{
	size_t len;
	char *text = slurp(path, &len);
	cJSON *v = cJSON_Parse(text);

	free(text);
	if (!cJSON_IsArray(v)) {
		fprintf(stderr, "%s: not a JSON array\n", path);
		exit(2);
	}
	return v;
}

static void hex(const uint8_t *p, size_t n)
{
	static const char d[] = "0123456789abcdef";
	char *s = ax_xmalloc(2 * n + 1);
	size_t i;

	for (i = 0; i < n; i++) {
		s[2 * i] = d[p[i] >> 4];
		s[2 * i + 1] = d[p[i] & 15];
	}
	s[2 * n] = '\0';
	fputs(s, stdout);
	free(s);
}

static int unhex(const char *s, size_t n, struct ax_ps_buf *out)
{
	size_t i;

	if (n % 2)
		return -1;
	for (i = 0; i < n; i += 2) {
		unsigned x;
		char t[3] = { s[i], s[i + 1], 0 };
		char *end;

		x = (unsigned)strtoul(t, &end, 16);
		if (*end)
			return -1;
		uint8_t b = (uint8_t)x;
		ax_ps_buf_append(out, &b, 1);
	}
	return 0;
}

/* Every known structure in v passes its typed view. */
static int views_ok(const struct ax_ps_value *v, char *why, size_t n)
{
	uint32_t i, k;

	if (v->type == AX_PS_STRUCT) {
		union {
			struct ax_ps_node node;
			struct ax_ps_rel rel;
			struct ax_ps_path path;
			struct ax_ps_temporal t;
		} u;
		ax_err rc;

		switch (v->tag) {
		case AX_PS_TAG_NODE:
			rc = ax_ps_as_node(v, &u.node, why, n);
			break;
		case AX_PS_TAG_REL:
			rc = ax_ps_as_rel(v, &u.rel, why, n);
			break;
		case AX_PS_TAG_UNBOUND_REL:
			rc = ax_ps_as_unbound_rel(v, &u.rel, why, n);
			break;
		case AX_PS_TAG_PATH:
			rc = ax_ps_as_path(v, &u.path, why, n);
			break;
		default:
			rc = ax_ps_as_temporal(v, &u.t, why, n);
			break;
		}
		if (rc)
			return -1;
	}
	if (v->type == AX_PS_LIST || v->type == AX_PS_DICT || v->type == AX_PS_STRUCT) {
		k = v->type == AX_PS_DICT ? 2 * v->len : v->len;
		for (i = 0; i < k; i++)
			if (views_ok(&v->u.items[i], why, n))
				return -1;
	}
	return 0;
}

static int do_encode(const cJSON *vectors)
{
	const cJSON *vec;
	struct ax_ps_buf b;
	char err[256];

	ax_ps_buf_init(&b);
	cJSON_ArrayForEach(vec, vectors) {
		ax_ps_buf_reset(&b);
		if (bp_encode_json(cJSON_GetArrayItem(vec, 2), &b, err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", cJSON_GetArrayItem(vec, 0)->valuestring, err);
			return 1;
		}
		printf("%s ", cJSON_GetArrayItem(vec, 0)->valuestring);
		hex(b.data, b.len);
		putchar('\n');
	}
	ax_ps_buf_release(&b);
	return 0;
}

static const char *find_line(const char *text, const char *name, size_t *hexlen)
{
	size_t nl = strlen(name);
	const char *p = text;

	while (*p) {
		const char *eol = strchr(p, '\n');

		if (!eol)
			eol = p + strlen(p);
		if ((size_t)(eol - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == ' ') {
			*hexlen = (size_t)(eol - p) - nl - 1;
			return p + nl + 1;
		}
		p = *eol ? eol + 1 : eol;
	}
	return NULL;
}

static int do_decode(const cJSON *vectors, const char *hexfile)
{
	size_t len;
	char *text = slurp(hexfile, &len);
	const cJSON *vec;
	int passed = 0, failed = 0;

	cJSON_ArrayForEach(vec, vectors) {
		const char *name = cJSON_GetArrayItem(vec, 0)->valuestring;
		struct ax_ps_buf theirs, ours, again;
		struct ax_ps_value *a = NULL, *b = NULL;
		char why[512] = "";
		const char *h;
		size_t hl;

		ax_ps_buf_init(&theirs);
		ax_ps_buf_init(&ours);
		ax_ps_buf_init(&again);
		h = find_line(text, name, &hl);
		if (!h)
			snprintf(why, sizeof(why), "no bytes for it");
		else if (unhex(h, hl, &theirs))
			snprintf(why, sizeof(why), "bad hex");
		else if (ax_ps_decode(theirs.data, theirs.len, NULL, &a, why, sizeof(why)))
			;
		else if (bp_encode_json(cJSON_GetArrayItem(vec, 2), &ours, why, sizeof(why)) ||
			 ax_ps_decode(ours.data, ours.len, NULL, &b, why, sizeof(why)))
			;
		else if (!ax_ps_equal(a, b))
			snprintf(why, sizeof(why), "decoded value differs from the vector");
		else if (views_ok(a, why, sizeof(why)))
			;
		else {
			ax_ps_put_value(&again, a);
			if (again.len != theirs.len || memcmp(again.data, theirs.data, again.len))
				snprintf(why, sizeof(why), "re-encoding gives other bytes");
		}
		if (why[0]) {
			failed++;
			fprintf(stderr, "FAIL %s: %s\n", name, why);
		} else {
			passed++;
		}
		ax_ps_free(a);
		ax_ps_free(b);
		ax_ps_buf_release(&theirs);
		ax_ps_buf_release(&ours);
		ax_ps_buf_release(&again);
	}
	free(text);
	printf("c decode: %d passed, %d failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	cJSON *vectors;
	int rc;

	if (argc == 3 && strcmp(argv[1], "encode") == 0) {
		vectors = load_vectors(argv[2]);
		rc = do_encode(vectors);
	} else if (argc == 4 && strcmp(argv[1], "decode") == 0) {
		vectors = load_vectors(argv[2]);
		rc = do_decode(vectors, argv[3]);
	} else {
		fprintf(stderr, "usage: bolt_pscheck encode VECTORS.json | decode VECTORS.json HEXFILE\n");
		return 2;
	}
	cJSON_Delete(vectors);
	return rc;
}
