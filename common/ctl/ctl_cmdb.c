/* ctl_cmdb.c - `alexusctl cmdb import`: load configuration items and
 * relations (and optionally Issues and documents) into a tenant's graph.
 *
 * Design: every FILE is parsed and checked completely before anything is
 * written, then everything goes to ax_graph_upsert as one batch, which is
 * one transaction of multi-row statements (graph_pg.c: 500 rows and one
 * round trip each, embeddings in binary; 20,000 items and relations take
 * 4 to 5 s where one statement per row took 18 to 22): a bad file imports
 * nothing.  Errors name the file and
 * the line (CSV) or the entry (JSON: items[3] 'id').  Upserts are
 * idempotent: importing the same files again changes nothing, and the
 * counts printed are the rows that actually changed.
 *
 * Formats (docs/knowledge-graph.md):
 *   JSON  {"items":[{"id","type","name","attributes"}],
 *          "relations":[{"from","kind","to"}],
 *          "issues":[{"id","kind","title","body","fix","items"}],
 *          "docs":[{"id","title","body","source"}]}   (every list optional)
 *   CSV   with a header row; the header says what the file holds:
 *          id,type,name[,attributes][,more...]  items: "attributes" is a
 *            JSON object, every other extra column a string attribute
 *            (empty cells are left out);
 *          from,kind,to                         relations.
 *         Items and relations therefore come in two files, given together
 *         (alexusctl cmdb import items.csv relations.csv).
 *
 * The CSV reader (RFC 4180: quoted fields, "" for a quote, CR LF or LF,
 * newlines inside quotes) is written here: no CSV library is among the
 * project's dependencies, and this is a few dozen lines of a fixed
 * grammar.
 *
 * Writes go through the application role inside the tenant's scope, as
 * the daemons write, so row-level security checks the tenant. */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "alexus/embed.h"
#include "alexus/graph.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/mem.h"

#define CMDB_USAGE "cmdb import FILE... --tenant NAME [--format json|csv]"
#define FILE_MAX (256L * 1024 * 1024)

/* Everything parsed, with where each entry came from for messages. */
struct import {
	struct ax_graph_item *items;
	char **item_at;
	size_t nitems, capitems;
	struct ax_graph_relation *rels;
	char **rel_at;
	size_t nrels, caprels;
	struct ax_graph_issue *issues;
	size_t nissues, capissues;
	struct ax_graph_doc *docs;
	size_t ndocs, capdocs;
	/* every string above is owned by one of these lists */
	char **owned;
	size_t nowned, capowned;
	cJSON **docs_json;
	size_t njson;
};

static char *own(struct import *im, char *s)
{
	if (im->nowned == im->capowned) {
		im->capowned = im->capowned ? im->capowned * 2 : 256;
		im->owned = ax_xrealloc(im->owned, im->capowned * sizeof(*im->owned));
	}
	im->owned[im->nowned++] = s;
	return s;
}

#define GROW(arr, n, cap)                                                         \
	do {                                                                      \
		if ((n) == (cap)) {                                               \
			(cap) = (cap) ? (cap) * 2 : 64;                           \
			(arr) = ax_xrealloc((arr), (cap) * sizeof(*(arr)));       \
		}                                                                 \
	} while (0)

static void add_item(struct import *im, const char *id, const char *type, const char *name,
		     const char *attrs, char *at)
{
	GROW(im->items, im->nitems, im->capitems);
	im->item_at = ax_xrealloc(im->item_at, im->capitems * sizeof(*im->item_at));
	im->items[im->nitems].id = id;
	im->items[im->nitems].type = type;
	im->items[im->nitems].name = name;
	im->items[im->nitems].attributes = attrs;
	im->item_at[im->nitems++] = own(im, at);
}

static void add_rel(struct import *im, const char *from, const char *kind, const char *to,
		    char *at)
{
	GROW(im->rels, im->nrels, im->caprels);
	im->rel_at = ax_xrealloc(im->rel_at, im->caprels * sizeof(*im->rel_at));
	im->rels[im->nrels].from = from;
	im->rels[im->nrels].kind = kind;
	im->rels[im->nrels].to = to;
	im->rel_at[im->nrels++] = own(im, at);
}

static void import_release(struct import *im)
{
	size_t i;

	for (i = 0; i < im->nowned; i++)
		free(im->owned[i]);
	for (i = 0; i < im->njson; i++)
		cJSON_Delete(im->docs_json[i]);
	for (i = 0; i < im->nissues; i++)
		free((void *)im->issues[i].items);
	free(im->owned);
	free(im->docs_json);
	free(im->items);
	free(im->item_at);
	free(im->rels);
	free(im->rel_at);
	free(im->issues);
	free(im->docs);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf;

	if (f == NULL) {
		ctl_fail("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
		fclose(f);
		ctl_fail("%s: not a regular file of at most %ld bytes", path, FILE_MAX);
		return NULL;
	}
	buf = ax_xmalloc((size_t)st.st_size + 1);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		ctl_fail("%s: cannot read", path);
		return NULL;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

/* ---------------------------------------------------------------- JSON */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A required string member; prints the error and returns NULL if absent. */
static const char *need(const cJSON *o, const char *k, const char *file, const char *list,
			int i)
{
	const char *s = jstr(o, k);
	const char *id = jstr(o, "id");

	if (s == NULL || *s == '\0') {
		if (id != NULL && strcmp(k, "id") != 0)
			ctl_fail("%s: %s[%d] '%s': \"%s\" must be a non-empty string", file, list, i,
				 id, k);
		else
			ctl_fail("%s: %s[%d]: \"%s\" must be a non-empty string", file, list, i, k);
	}
	return s != NULL && *s != '\0' ? s : NULL;
}

static int parse_json(struct import *im, const char *file, const char *buf, size_t len)
{
	cJSON *doc = ax_json_parse(buf, len, AX_JSON_PAYLOAD_DEPTH), *x;
	const cJSON *list;
	int i;

	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return ctl_fail("%s: not a JSON object (expected {\"items\":[...],"
				"\"relations\":[...]})", file), -1;
	}
	im->docs_json = ax_xrealloc(im->docs_json, (im->njson + 1) * sizeof(*im->docs_json));
	im->docs_json[im->njson++] = doc;   /* strings below point into it */
	cJSON_ArrayForEach(x, doc) {
		if (strcmp(x->string, "items") != 0 && strcmp(x->string, "relations") != 0 &&
		    strcmp(x->string, "issues") != 0 && strcmp(x->string, "docs") != 0)
			return ctl_fail("%s: unknown member \"%s\"", file, x->string), -1;
		if (!cJSON_IsArray(x))
			return ctl_fail("%s: \"%s\" must be an array", file, x->string), -1;
	}
	i = 0;
	list = cJSON_GetObjectItemCaseSensitive(doc, "items");
	cJSON_ArrayForEach(x, list) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(x, "attributes");
		const char *id, *type, *name;
		char *attrs = NULL;

		if (!cJSON_IsObject(x))
			return ctl_fail("%s: items[%d] is not an object", file, i), -1;
		if ((id = need(x, "id", file, "items", i)) == NULL ||
		    (type = need(x, "type", file, "items", i)) == NULL ||
		    (name = need(x, "name", file, "items", i)) == NULL)
			return -1;
		if (a != NULL && !cJSON_IsNull(a)) {
			if (!cJSON_IsObject(a))
				return ctl_fail("%s: items[%d] '%s': \"attributes\" must be an "
						"object", file, i, id), -1;
			attrs = own(im, ax_json_print(a));
		}
		add_item(im, id, type, name, attrs, ax_xasprintf("%s: items[%d] '%s'", file, i, id));
		i++;
	}
	i = 0;
	list = cJSON_GetObjectItemCaseSensitive(doc, "relations");
	cJSON_ArrayForEach(x, list) {
		const char *from, *kind, *to;

		if (!cJSON_IsObject(x))
			return ctl_fail("%s: relations[%d] is not an object", file, i), -1;
		if ((from = need(x, "from", file, "relations", i)) == NULL ||
		    (kind = need(x, "kind", file, "relations", i)) == NULL ||
		    (to = need(x, "to", file, "relations", i)) == NULL)
			return -1;
		add_rel(im, from, kind, to, ax_xasprintf("%s: relations[%d]", file, i));
		i++;
	}
	i = 0;
	list = cJSON_GetObjectItemCaseSensitive(doc, "issues");
	cJSON_ArrayForEach(x, list) {
		struct ax_graph_issue is;
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(x, "items"), *e;
		const char **ids;

		memset(&is, 0, sizeof(is));
		if (!cJSON_IsObject(x))
			return ctl_fail("%s: issues[%d] is not an object", file, i), -1;
		if ((is.id = need(x, "id", file, "issues", i)) == NULL ||
		    (is.kind = need(x, "kind", file, "issues", i)) == NULL ||
		    (is.title = need(x, "title", file, "issues", i)) == NULL)
			return -1;
		is.body = jstr(x, "body");
		is.fix = jstr(x, "fix");
		if (items != NULL && !cJSON_IsArray(items))
			return ctl_fail("%s: issues[%d] '%s': \"items\" must be an array of ids",
					file, i, is.id), -1;
		ids = ax_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(*ids));
		cJSON_ArrayForEach(e, items) {
			if (!cJSON_IsString(e)) {
				free(ids);
				return ctl_fail("%s: issues[%d] '%s': \"items\" must be an array "
						"of ids", file, i, is.id), -1;
			}
			ids[is.nitems++] = e->valuestring;
		}
		is.items = ids;
		GROW(im->issues, im->nissues, im->capissues);
		im->issues[im->nissues++] = is;
		i++;
	}
	i = 0;
	list = cJSON_GetObjectItemCaseSensitive(doc, "docs");
	cJSON_ArrayForEach(x, list) {
		struct ax_graph_doc d;

		memset(&d, 0, sizeof(d));
		if (!cJSON_IsObject(x))
			return ctl_fail("%s: docs[%d] is not an object", file, i), -1;
		if ((d.id = need(x, "id", file, "docs", i)) == NULL ||
		    (d.title = need(x, "title", file, "docs", i)) == NULL)
			return -1;
		d.body = jstr(x, "body");
		d.source = jstr(x, "source");
		GROW(im->docs, im->ndocs, im->capdocs);
		im->docs[im->ndocs++] = d;
		i++;
	}
	return 0;
}

/* ---------------------------------------------------------------- CSV */

struct csv {
	const char *p, *end;
	long line;      /* line of the next character */
};

/* One record into fields (malloc'd strings, *n of them); *line gets the
 * line the record starts on.  1 = a record, 0 = end of input, -1 = error
 * (an unterminated quote or a stray quote), printed. */
static int csv_record(struct csv *c, const char *file, char ***fields, size_t *n, long *line)
{
	size_t cap = 0;
	char *f = NULL;
	size_t flen = 0, fcap = 0;
	int quoted = 0, any = 0;

	*fields = NULL;
	*n = 0;
	*line = c->line;
	if (c->p >= c->end)
		return 0;
	for (;;) {
		int endfield = 0, endrec = 0;
		char ch;

		if (c->p >= c->end) {
			if (quoted) {
				ctl_fail("%s:%ld: unterminated quoted field", file, *line);
				goto bad;
			}
			endfield = endrec = 1;
		} else {
			ch = *c->p++;
			if (quoted) {
				if (ch == '"' && c->p < c->end && *c->p == '"') {
					c->p++;
				} else if (ch == '"') {
					quoted = 0;
					if (c->p < c->end && *c->p != ',' && *c->p != '\n' &&
					    *c->p != '\r') {
						ctl_fail("%s:%ld: text after a closing quote", file,
							 c->line);
						goto bad;
					}
					continue;
				} else if (ch == '\n') {
					c->line++;
				}
				if (ch != '"' || quoted) {
					if (flen + 2 > fcap) {
						fcap = fcap ? fcap * 2 : 64;
						f = ax_xrealloc(f, fcap);
					}
					f[flen++] = ch;
				}
				continue;
			}
			if (ch == '"' && flen == 0 && !any) {
				quoted = 1;
				any = 1;
				continue;
			}
			if (ch == '"') {
				ctl_fail("%s:%ld: a quote inside an unquoted field", file, c->line);
				goto bad;
			}
			if (ch == ',') {
				endfield = 1;
			} else if (ch == '\r' && c->p < c->end && *c->p == '\n') {
				continue;
			} else if (ch == '\n') {
				c->line++;
				endfield = endrec = 1;
			} else {
				if (flen + 2 > fcap) {
					fcap = fcap ? fcap * 2 : 64;
					f = ax_xrealloc(f, fcap);
				}
				f[flen++] = ch;
				any = 1;
				continue;
			}
		}
		if (endfield) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 8;
				*fields = ax_xrealloc(*fields, cap * sizeof(**fields));
			}
			(*fields)[(*n)++] = f != NULL ? (f[flen] = '\0', f) : ax_xstrdup("");
			f = NULL;
			flen = fcap = 0;
			any = 0;
		}
		if (endrec)
			return 1;
	}
bad:
	free(f);
	while (*n > 0)
		free((*fields)[--*n]);
	free(*fields);
	*fields = NULL;
	return -1;
}

static void free_fields(char **f, size_t n)
{
	while (n > 0)
		free(f[--n]);
	free(f);
}

static int col(char **hdr, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(hdr[i], name) == 0)
			return (int)i;
	return -1;
}

static int parse_csv(struct import *im, const char *file, const char *buf, size_t len)
{
	struct csv c = { buf, buf + len, 1 };
	char **hdr, **f;
	size_t nh, nf, i;
	long line;
	int r, ci, ct, cn, ca, cf, ck, cto, rc = 0;

	/* A UTF-8 byte order mark from spreadsheet exports. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;
	r = csv_record(&c, file, &hdr, &nh, &line);
	if (r <= 0)
		return r == 0 ? (ctl_fail("%s: empty CSV file", file), -1) : -1;
	for (i = 0; i < nh; i++) {
		char *h = hdr[i];
		size_t a = strspn(h, " \t"), b = strlen(h);

		while (b > a && (h[b - 1] == ' ' || h[b - 1] == '\t'))
			b--;
		memmove(h, h + a, b - a);
		h[b - a] = '\0';
	}
	ci = col(hdr, nh, "id");
	ct = col(hdr, nh, "type");
	cn = col(hdr, nh, "name");
	ca = col(hdr, nh, "attributes");
	cf = col(hdr, nh, "from");
	ck = col(hdr, nh, "kind");
	cto = col(hdr, nh, "to");
	if (!(ci >= 0 && ct >= 0 && cn >= 0) && !(cf >= 0 && ck >= 0 && cto >= 0)) {
		free_fields(hdr, nh);
		return ctl_fail("%s:1: the header must name id,type,name (items) or from,kind,to "
				"(relations)", file), -1;
	}
	while ((r = csv_record(&c, file, &f, &nf, &line)) == 1) {
		if (nf == 1 && f[0][0] == '\0') {   /* blank line */
			free_fields(f, nf);
			continue;
		}
		if (nf != nh) {
			free_fields(f, nf);
			rc = ctl_fail("%s:%ld: %zu fields, the header has %zu", file, line, nf, nh);
			break;
		}
		if (ci >= 0 && ct >= 0 && cn >= 0) {
			cJSON *attrs = cJSON_CreateObject();
			char *as;

			if (ca >= 0 && f[ca][0] != '\0') {
				cJSON_Delete(attrs);
				attrs = ax_json_parse(f[ca], strlen(f[ca]), AX_JSON_PAYLOAD_DEPTH);
				if (!cJSON_IsObject(attrs)) {
					cJSON_Delete(attrs);
					free_fields(f, nf);
					rc = ctl_fail("%s:%ld: attributes must be a JSON object", file,
						      line);
					break;
				}
			}
			for (i = 0; i < nh; i++)
				if ((int)i != ci && (int)i != ct && (int)i != cn && (int)i != ca &&
				    f[i][0] != '\0' && hdr[i][0] != '\0') {
					cJSON_DeleteItemFromObjectCaseSensitive(attrs, hdr[i]);
					cJSON_AddStringToObject(attrs, hdr[i], f[i]);
				}
			as = ax_json_print(attrs);
			cJSON_Delete(attrs);
			if (f[ci][0] == '\0' || f[ct][0] == '\0' || f[cn][0] == '\0') {
				free(as);
				free_fields(f, nf);
				rc = ctl_fail("%s:%ld: id, type and name must not be empty", file, line);
				break;
			}
			add_item(im, own(im, ax_xstrdup(f[ci])), own(im, ax_xstrdup(f[ct])),
				 own(im, ax_xstrdup(f[cn])), own(im, as),
				 ax_xasprintf("%s:%ld", file, line));
		} else {
			if (f[cf][0] == '\0' || f[ck][0] == '\0' || f[cto][0] == '\0') {
				free_fields(f, nf);
				rc = ctl_fail("%s:%ld: from, kind and to must not be empty", file, line);
				break;
			}
			add_rel(im, own(im, ax_xstrdup(f[cf])), own(im, ax_xstrdup(f[ck])),
				own(im, ax_xstrdup(f[cto])), ax_xasprintf("%s:%ld", file, line));
		}
		free_fields(f, nf);
	}
	free_fields(hdr, nh);
	return rc != 0 || r < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- import */

static int by_id(const void *a, const void *b, void *arg)
{
	const struct ax_graph_item *items = arg;

	return strcmp(items[*(const size_t *)a].id, items[*(const size_t *)b].id);
}

/* Refuse an id twice among the items: which one was meant is a guess. */
static int check_dups(const struct import *im)
{
	size_t *ix = ax_xmalloc((im->nitems + 1) * sizeof(*ix)), i;
	int rc = 0;

	for (i = 0; i < im->nitems; i++)
		ix[i] = i;
	qsort_r(ix, im->nitems, sizeof(*ix), by_id, im->items);
	for (i = 1; i < im->nitems; i++)
		if (strcmp(im->items[ix[i]].id, im->items[ix[i - 1]].id) == 0) {
			size_t a = ix[i - 1] < ix[i] ? ix[i - 1] : ix[i];
			size_t b = ix[i - 1] < ix[i] ? ix[i] : ix[i - 1];

			rc = ctl_fail("%s: item id '%s' again (first at %s)", im->item_at[b],
				      im->items[b].id, im->item_at[a]);
			break;
		}
	free(ix);
	return rc;
}

/* Where the entry an upsert error names came from, or NULL. */
static const char *origin(const struct import *im, const char *err)
{
	char want[1024];
	size_t i;

	for (i = 0; i < im->nitems; i++) {
		snprintf(want, sizeof(want), "item '%s'", im->items[i].id);
		if (strncmp(err, want, strlen(want)) == 0)
			return im->item_at[i];
	}
	for (i = 0; i < im->nrels; i++) {
		snprintf(want, sizeof(want), "relation '%s' %s '%s'", im->rels[i].from,
			 im->rels[i].kind, im->rels[i].to);
		if (strncmp(err, want, strlen(want)) == 0)
			return im->rel_at[i];
	}
	return NULL;
}

static int is_json(const char *file, const char *format, const char *buf)
{
	size_t n = strlen(file);

	if (format != NULL)
		return strcmp(format, "json") == 0;
	if (n > 5 && strcmp(file + n - 5, ".json") == 0)
		return 1;
	if (n > 4 && strcmp(file + n - 4, ".csv") == 0)
		return 0;
	buf += strspn(buf, " \t\r\n");
	return *buf == '{';
}

static int cmdb_import(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tenant = NULL, *format = NULL, *at;
	struct ax_embedder *emb = NULL;
	struct ax_graph *g = NULL;
	struct ax_graph_counts counts;
	struct ax_graph_batch b;
	struct import im;
	char err[1024];
	int opt, i, rc = CTL_FAIL;
	ax_err e;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			tenant = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "csv") != 0)
				return ctl_usage(CMDB_USAGE, "--format must be json or csv");
			format = optarg;
			break;
		default:
			return ctl_usage(CMDB_USAGE, "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind == argc)
		return ctl_usage(CMDB_USAGE, "no FILE to import");
	if (tenant == NULL)
		return ctl_usage(CMDB_USAGE, "--tenant is required");
	if (!ax_tenant_valid(tenant))
		return ctl_fail("invalid tenant id '%s'", tenant);

	memset(&im, 0, sizeof(im));
	for (i = optind; i < argc; i++) {
		size_t len;
		char *buf = read_all(argv[i], &len);
		int r;

		if (buf == NULL)
			goto out;
		if (is_json(argv[i], format, buf))
			r = parse_json(&im, argv[i], buf, len);
		else
			r = parse_csv(&im, argv[i], buf, len);
		free(buf);
		if (r != 0)
			goto out;
	}
	if (check_dups(&im) != 0)
		goto out;

	if (ax_httpc_global_init() != 0) {
		ctl_fail("cannot initialise libcurl");
		goto out;
	}
	{
		struct ax_embed_config ec = { c->cfg.embed_url, c->cfg.embed_model, c->cfg.embed_key,
					      c->cfg.embed_timeout_ms };
		struct ax_graph_config gc = { c->cfg.graph, c->cfg.database_url, 0 };

		emb = ax_embedder_new(&ec, err, sizeof(err));
		if (emb == NULL) {
			ctl_fail("%s", err);
			goto out;
		}
		g = ax_graph_open(&gc, emb, err, sizeof(err));
	}
	if (g == NULL) {
		ctl_fail("%s", err);
		goto out;
	}
	memset(&b, 0, sizeof(b));
	b.items = im.items;
	b.nitems = im.nitems;
	b.relations = im.rels;
	b.nrelations = im.nrels;
	b.issues = im.issues;
	b.nissues = im.nissues;
	b.docs = im.docs;
	b.ndocs = im.ndocs;
	e = ax_graph_upsert(g, tenant, &b, &counts, err, sizeof(err));
	if (e != AX_OK) {
		at = origin(&im, err);
		if (at != NULL)
			ctl_fail("%s: %s; nothing imported", at, err);
		else
			ctl_fail("%s; nothing imported", err);
		goto out;
	}
	printf("%s\n", ax_embedder_describe(emb));
	printf("imported into tenant %s (%s): %zu items (%zu changed), %zu relations (%zu new), "
	       "%zu issues (%zu changed, %zu new links), %zu docs (%zu changed)\n",
	       tenant, ax_graph_backend(g), im.nitems, counts.items, im.nrels, counts.relations,
	       im.nissues, counts.issues, counts.links, im.ndocs, counts.docs);
	rc = CTL_OK;
out:
	ax_graph_close(g);
	ax_embedder_free(emb);
	import_release(&im);
	return rc;
}

int ctl_cmdb(struct ctl *c, int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage(CMDB_USAGE, "missing subcommand");
	if (strcmp(argv[1], "import") != 0)
		return ctl_usage(CMDB_USAGE, "unknown subcommand '%s'", argv[1]);
	return cmdb_import(c, argc - 1, argv + 1);
}
