/* graph_pg.c - the knowledge graph on PostgreSQL (ax_graph_pg_ops, see
 * graph.h; schema in proto/sql/0005_graph.sql).
 *
 * Design: one struct ax_pg (the application role) per store; every call
 * is one transaction begun with ax_pg_begin(tenant), so row-level security
 * alone decides what is visible -- no query here filters on the tenant,
 * and none could reach another tenant's rows if it tried.  Writes carry
 * the tenant as the row's tenant_id and RLS's WITH CHECK refuses any
 * other.
 *
 * Upserts only write rows whose content changed (ON CONFLICT ... WHERE
 * IS DISTINCT FROM), so re-importing the same CMDB changes nothing and
 * moves no change stamp.  They are multi-row statements with embeddings
 * in binary (see "upsert" below), so 100,000 items are a few hundred
 * statements; a float sent in binary arrives bit for bit, so an unchanged
 * vector compares equal.
 *
 * Blast radius is one recursive CTE that carries the path: an edge is
 * followed only to an item not already on the path (cycle-safe) and only
 * while depth < the cap; DISTINCT ON keeps each item's shortest (then
 * lexically first) path.  It enumerates simple paths, which is fine for
 * CMDB-shaped graphs at the depth cap of 10 but would not be for dense
 * ones; the result is capped at AX_GRAPH_NODES_MAX.
 *
 * Full text ranks at most AX_GRAPH_FTS_CANDIDATES matches per table (see
 * text_sql for why, and what it needs from the schema to use its index).
 *
 * Vector search never runs in SQL (issue 4: 2.2 s for 5,000 rows).  Each
 * tenant's vectors of a store's embedder are loaded into three in-memory
 * indexes (items, Issues, documents; common/vec.c) held once per process
 * (the cache below: shared by every store and thread, with a byte cap and
 * LRU eviction) and refreshed before every search from the change stamps
 * of 0005: one small query for the tenant's (version, deletes); if they
 * moved, only rows stamped after the version held are fetched (a full
 * reload after any delete).  Vectors are stored as bytea, 1,536
 * little-endian float32 (0012; as real[] the server sent every row through
 * array_send element by element, 5.6 s for a first load of 100,000), and
 * fetched in binary, so a row arrives as its stored bytes and decoding is
 * a copy; and one at a time (libpq single-row mode), so a first load of
 * 100,000 rows never holds the whole result in memory. */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#include <endian.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alexus/graph.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/mem.h"
#include "alexus/pg.h"
#include "alexus/vec.h"

#define WRITERS_FIRST PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
#define NKINDS 3   /* items, issues, docs: index 0, 1, 2 */
#define STR_(x) #x
#define STR(x) STR_(x)

struct pgb {
	struct ax_pg *pg;
	char *url;        /* the database: part of a cached index's identity */
	char *embedder;
};

static const struct {
	int kind;
	const char *table;
	const char *title;     /* the column shown as a hit's title */
	const char *type;      /* ... and as its type */
} kinds[NKINDS] = {
	{ AX_GRAPH_ITEM, "configuration_items", "name", "type" },
	{ AX_GRAPH_ISSUE, "graph_issues", "title", "kind" },
	{ AX_GRAPH_DOC, "knowledge_docs", "title", "'doc'" },
};

static void cache_set_limit(size_t bytes);

/* ---------------------------------------------------------------- open */

static void *pg_open(const struct ax_graph_config *c, const char *embedder, char *errbuf,
		     size_t errlen)
{
	struct pgb *b;

	if (c == NULL || c->database_url == NULL || c->database_url[0] == '\0') {
		ax_errfmt(errbuf, errlen, "graph: postgres backend needs a database URL");
		return NULL;
	}
	b = ax_xcalloc(1, sizeof(*b));
	b->pg = ax_pg_new(c->database_url);
	b->url = ax_xstrdup(c->database_url);
	b->embedder = ax_xstrdup(embedder);
	cache_set_limit(c->cache_bytes);
	return b;
}

static void pg_close(void *be)
{
	struct pgb *b = be;

	ax_pg_free(b->pg);
	free(b->url);
	free(b->embedder);
	free(b);
}

/* ---------------------------------------------------------------- upsert */

/* Upserts are multi-row INSERT statements of up to ROWS_MAX rows each
 * (one round trip and one plan per chunk rather than per row), with every
 * embedding sent in binary as the bytea it is stored as (vec_binary, the
 * format decode_vec reads): formatting 1,536 floats as text and parsing
 * them back cost more than the rest of the write.  A statement with ON CONFLICT DO
 * UPDATE may not touch a row twice, so a chunk of such a table ends before
 * an id that is already in it (a batch may name an id twice; the later
 * entry wins, as it would row by row).
 *
 * When a multi-row statement fails, which row was at fault is unknown:
 * the transaction is rolled back and the upsert run again with that
 * chunk, and the rest of its table, one row per statement, so the error
 * names the entry exactly as before ("item 'x': ...", "relation 'a'
 * depends_on 'b': no item 'b'").  Only failing upserts pay for it. */

#define ROWS_MAX 500               /* rows per statement: ~3 MiB of vectors */
#define VEC_BIN_LEN (AX_EMBED_DIM * 4)
#define BYTEAOID 17
#define RETRIES_MAX 4

enum { SEC_ITEMS, SEC_RELATIONS, SEC_ISSUES, SEC_LINKS, SEC_DOCS, NSECS };

static const struct section {
	const char *head;    /* INSERT ... VALUES */
	const char *row;     /* one row of VALUES; each '?' is the row's next parameter */
	const char *tail;    /* ON CONFLICT ... */
	int shared;          /* statement-wide parameters: $1 tenant, $2 embedder */
	int unique;          /* DO UPDATE: an id at most once per statement */
} sections[NSECS] = {
	[SEC_ITEMS] = {
		"INSERT INTO configuration_items AS c (tenant_id, id, type, name, attributes,"
		" embedding, embedder) VALUES ",
		"($1, ?, ?, ?, coalesce(?::jsonb, '{}'::jsonb), ?::bytea, $2)",
		" ON CONFLICT (tenant_id, id) DO UPDATE SET type = EXCLUDED.type,"
		" name = EXCLUDED.name, attributes = EXCLUDED.attributes,"
		" embedding = EXCLUDED.embedding, embedder = EXCLUDED.embedder"
		" WHERE (c.type, c.name, c.attributes, c.embedding, c.embedder) IS DISTINCT FROM"
		" (EXCLUDED.type, EXCLUDED.name, EXCLUDED.attributes, EXCLUDED.embedding,"
		" EXCLUDED.embedder)",
		2, 1,
	},
	[SEC_RELATIONS] = {
		"INSERT INTO ci_relations (tenant_id, from_id, kind, to_id) VALUES ",
		"($1, ?, ?, ?)",
		" ON CONFLICT DO NOTHING",
		1, 0,
	},
	[SEC_ISSUES] = {
		"INSERT INTO graph_issues AS g (tenant_id, id, kind, title, body, fix, embedding,"
		" embedder) VALUES ",
		"($1, ?, ?, ?, ?, ?, ?::bytea, $2)",
		" ON CONFLICT (tenant_id, id) DO UPDATE SET kind = EXCLUDED.kind,"
		" title = EXCLUDED.title, body = EXCLUDED.body, fix = EXCLUDED.fix,"
		" embedding = EXCLUDED.embedding, embedder = EXCLUDED.embedder"
		" WHERE (g.kind, g.title, g.body, g.fix, g.embedding, g.embedder) IS DISTINCT FROM"
		" (EXCLUDED.kind, EXCLUDED.title, EXCLUDED.body, EXCLUDED.fix, EXCLUDED.embedding,"
		" EXCLUDED.embedder)",
		2, 1,
	},
	[SEC_LINKS] = {
		"INSERT INTO issue_items (tenant_id, issue_id, item_id) VALUES ",
		"($1, ?, ?)",
		" ON CONFLICT DO NOTHING",
		1, 0,
	},
	[SEC_DOCS] = {
		"INSERT INTO knowledge_docs AS d (tenant_id, id, title, body, source, embedding,"
		" embedder) VALUES ",
		"($1, ?, ?, ?, ?, ?::bytea, $2)",
		" ON CONFLICT (tenant_id, id) DO UPDATE SET title = EXCLUDED.title,"
		" body = EXCLUDED.body, source = EXCLUDED.source, embedding = EXCLUDED.embedding,"
		" embedder = EXCLUDED.embedder"
		" WHERE (d.title, d.body, d.source, d.embedding, d.embedder) IS DISTINCT FROM"
		" (EXCLUDED.title, EXCLUDED.body, EXCLUDED.source, EXCLUDED.embedding,"
		" EXCLUDED.embedder)",
		2, 1,
	},
};

#define PARAMS_MAX 6   /* per row */

/* One upsert's input, seen as NSECS lists of rows. */
struct up {
	const char *tenant;
	const char *embedder;
	const struct ax_graph_batch *bt;
	const float *vectors;        /* items, then issues, then docs */
	size_t nrows[NSECS];
	size_t (*links)[2];          /* SEC_LINKS row -> (issue, item index in it) */
	size_t *prev[NSECS];         /* unique sections: the row's id earlier in the list */
	unsigned char *vecbuf;       /* ROWS_MAX binary vectors */
};

/* One multi-row statement being built. */
struct stmt {
	char *sql;
	size_t len, cap;
	int n;
	const char *vals[2 + ROWS_MAX * PARAMS_MAX];
	int lens[2 + ROWS_MAX * PARAMS_MAX];
	int fmts[2 + ROWS_MAX * PARAMS_MAX];
	Oid types[2 + ROWS_MAX * PARAMS_MAX];
};

static void sql_add(struct stmt *st, const char *s, size_t n)
{
	if (st->len + n + 1 > st->cap) {
		st->cap = (st->len + n + 1) * 2;
		st->sql = ax_xrealloc(st->sql, st->cap);
	}
	memcpy(st->sql + st->len, s, n);
	st->len += n;
	st->sql[st->len] = '\0';
}

static void param(struct stmt *st, const char *v, int len, int fmt, Oid type)
{
	st->vals[st->n] = v;
	st->lens[st->n] = len;
	st->fmts[st->n] = fmt;
	st->types[st->n++] = type;
}

/* v as the stored form of a vector (0012): AX_EMBED_DIM float32,
 * little-endian, VEC_BIN_LEN bytes. */
static void vec_binary(const float *v, unsigned char *out)
{
	size_t i;

	for (i = 0; i < AX_EMBED_DIM; i++, out += 4) {
		uint32_t u;

		memcpy(&u, &v[i], 4);
		u = htole32(u);
		memcpy(out, &u, 4);
	}
}

/* Row i of section sec into st (its VALUES text and parameters). */
static void add_row(const struct up *u, int sec, size_t i, size_t slot, struct stmt *st)
{
	const struct ax_graph_batch *bt = u->bt;
	const char *p[PARAMS_MAX] = { NULL };
	unsigned char *vb = u->vecbuf + slot * VEC_BIN_LEN;
	const float *vec = NULL;
	const char *r;
	int np = 0, vecat = -1, k = 0;
	char num[16];

	switch (sec) {
	case SEC_ITEMS: {
		const struct ax_graph_item *it = &bt->items[i];

		p[np++] = it->id, p[np++] = it->type, p[np++] = it->name;
		p[np++] = it->attributes;
		vecat = np++;
		vec = u->vectors + i * AX_EMBED_DIM;
		break;
	}
	case SEC_RELATIONS:
		p[np++] = bt->relations[i].from;
		p[np++] = bt->relations[i].kind;
		p[np++] = bt->relations[i].to;
		break;
	case SEC_ISSUES: {
		const struct ax_graph_issue *is = &bt->issues[i];

		p[np++] = is->id, p[np++] = is->kind, p[np++] = is->title;
		p[np++] = is->body ? is->body : "";
		p[np++] = is->fix ? is->fix : "";
		vecat = np++;
		vec = u->vectors + (bt->nitems + i) * AX_EMBED_DIM;
		break;
	}
	case SEC_LINKS:
		p[np++] = bt->issues[u->links[i][0]].id;
		p[np++] = bt->issues[u->links[i][0]].items[u->links[i][1]];
		break;
	default: {
		const struct ax_graph_doc *d = &bt->docs[i];

		p[np++] = d->id, p[np++] = d->title;
		p[np++] = d->body ? d->body : "";
		p[np++] = d->source ? d->source : "";
		vecat = np++;
		vec = u->vectors + (bt->nitems + bt->nissues + i) * AX_EMBED_DIM;
		break;
	}
	}
	if (vec != NULL)
		vec_binary(vec, vb);
	for (r = sections[sec].row; *r != '\0'; r++) {
		if (*r != '?') {
			sql_add(st, r, 1);
			continue;
		}
		snprintf(num, sizeof(num), "$%d", st->n + 1);
		sql_add(st, num, strlen(num));
		if (k == vecat)
			param(st, (const char *)vb, VEC_BIN_LEN, 1, BYTEAOID);
		else
			param(st, p[k], 0, 0, 0);
		k++;
	}
}

/* The id row i of a unique section is keyed by. */
static const char *row_id(const struct up *u, int sec, size_t i)
{
	if (sec == SEC_ITEMS)
		return u->bt->items[i].id;
	if (sec == SEC_ISSUES)
		return u->bt->issues[i].id;
	return u->bt->docs[i].id;
}

struct keyix {
	const char *key;
	size_t i;
};

static int by_key(const void *a, const void *b)
{
	const struct keyix *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* prev[i]: the last row before i with the same id, or SIZE_MAX. */
static size_t *prev_same(const struct up *u, int sec)
{
	size_t n = u->nrows[sec], i;
	struct keyix *k = ax_xmalloc((n ? n : 1) * sizeof(*k));
	size_t *prev = ax_xmalloc((n ? n : 1) * sizeof(*prev));

	for (i = 0; i < n; i++) {
		k[i].key = row_id(u, sec, i);
		k[i].i = i;
	}
	qsort(k, n, sizeof(*k), by_key);
	for (i = 0; i < n; i++)
		prev[k[i].i] = i > 0 && strcmp(k[i - 1].key, k[i].key) == 0 ? k[i - 1].i : SIZE_MAX;
	free(k);
	return prev;
}

/* "postgres: primary (detail)", as ax_pg_exec words it. */
static void pg_errmsg(PGconn *conn, const PGresult *res, char *out, size_t outlen)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	char *nl;

	if (primary != NULL && detail != NULL)
		snprintf(out, outlen, "postgres: %s (%s)", primary, detail);
	else if (primary != NULL)
		snprintf(out, outlen, "postgres: %s", primary);
	else
		snprintf(out, outlen, "postgres: %s", PQerrorMessage(conn));
	while ((nl = strpbrk(out, "\r\n")) != NULL)
		*nl = ' ';
}

/* The error of a one-row statement, naming the row. */
static ax_err row_error(const struct up *u, int sec, size_t i, int fk, const char *pgmsg,
			char *errbuf, size_t errlen)
{
	const struct ax_graph_batch *bt = u->bt;

	switch (sec) {
	case SEC_ITEMS:
		ax_errfmt(errbuf, errlen, "item '%s': %s", bt->items[i].id, pgmsg);
		return AX_EIO;
	case SEC_RELATIONS: {
		const struct ax_graph_relation *r = &bt->relations[i];

		if (!fk)
			return ax_errfmt(errbuf, errlen, "relation '%s' %s '%s': %s", r->from,
					 r->kind, r->to, pgmsg), AX_EIO;
		ax_errfmt(errbuf, errlen, "relation '%s' %s '%s': no item '%s'", r->from, r->kind,
			  r->to, strstr(pgmsg, "from_id") != NULL ? r->from : r->to);
		return AX_ENOTFOUND;
	}
	case SEC_ISSUES:
		ax_errfmt(errbuf, errlen, "issue '%s': %s", bt->issues[i].id, pgmsg);
		return AX_EIO;
	case SEC_LINKS: {
		const struct ax_graph_issue *is = &bt->issues[u->links[i][0]];
		const char *item = is->items[u->links[i][1]];

		if (!fk)
			return ax_errfmt(errbuf, errlen, "issue '%s' link '%s': %s", is->id, item,
					 pgmsg), AX_EIO;
		ax_errfmt(errbuf, errlen, "issue '%s': no item '%s'", is->id, item);
		return AX_ENOTFOUND;
	}
	default:
		ax_errfmt(errbuf, errlen, "doc '%s': %s", bt->docs[i].id, pgmsg);
		return AX_EIO;
	}
}

/* Write section sec: rows from single_from on one per statement, the
 * others ROWS_MAX at a time.  AX_EAGAIN with *fail_at set when a
 * multi-row statement failed (the transaction is then aborted). */
static ax_err put_section(struct pgb *b, const struct up *u, int sec, size_t single_from,
			  size_t *fail_at, size_t *changed, char *errbuf, size_t errlen)
{
	const struct section *s = &sections[sec];
	size_t n = u->nrows[sec], at = 0, end;
	struct stmt *st;
	ax_err rc = AX_OK;

	if (n == 0)
		return AX_OK;
	st = ax_xcalloc(1, sizeof(*st));
	while (at < n && rc == AX_OK) {
		PGconn *conn = ax_pg_conn(b->pg);
		PGresult *res;
		char pgmsg[512];

		st->len = 0;
		st->n = 0;
		sql_add(st, s->head, strlen(s->head));
		param(st, u->tenant, 0, 0, 0);
		if (s->shared > 1)
			param(st, u->embedder, 0, 0, 0);
		for (end = at; end < n && end - at < ROWS_MAX; end++) {
			if (end > at && end >= single_from)
				break;
			if (s->unique && u->prev[sec][end] != SIZE_MAX && u->prev[sec][end] >= at)
				break;
			if (end > at)
				sql_add(st, ", ", 2);
			add_row(u, sec, end, end - at, st);
		}
		sql_add(st, s->tail, strlen(s->tail));
		res = PQexecParams(conn, st->sql, st->n, st->types, st->vals, st->lens, st->fmts,
				   0);
		if (PQresultStatus(res) == PGRES_COMMAND_OK) {
			*changed += strtoull(PQcmdTuples(res), NULL, 10);
		} else if (end - at > 1) {
			*fail_at = at;
			rc = AX_EAGAIN;
		} else {
			const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
			int fk = state != NULL && strcmp(state, "23503") == 0;

			pg_errmsg(conn, res, pgmsg, sizeof(pgmsg));
			rc = row_error(u, sec, at, fk, pgmsg, errbuf, errlen);
		}
		PQclear(res);
		at = end;
	}
	free(st->sql);
	free(st);
	return rc;
}

static ax_err pg_upsert(void *be, const char *tenant, const struct ax_graph_batch *bt,
			const float *vectors, struct ax_graph_counts *counts, char *errbuf,
			size_t errlen)
{
	struct pgb *b = be;
	size_t single_from[NSECS], *changed[NSECS], nlinks = 0, i, j, fail_at = 0;
	struct up u;
	ax_err rc = AX_OK;
	int sec, failed = 0, attempt;

	memset(&u, 0, sizeof(u));
	u.tenant = tenant;
	u.embedder = b->embedder;
	u.bt = bt;
	u.vectors = vectors;
	u.nrows[SEC_ITEMS] = bt->nitems;
	u.nrows[SEC_RELATIONS] = bt->nrelations;
	u.nrows[SEC_ISSUES] = bt->nissues;
	u.nrows[SEC_DOCS] = bt->ndocs;
	for (i = 0; i < bt->nissues; i++)
		nlinks += bt->issues[i].nitems;
	u.links = ax_xmalloc((nlinks ? nlinks : 1) * sizeof(*u.links));
	for (i = 0; i < bt->nissues; i++)
		for (j = 0; j < bt->issues[i].nitems; j++) {
			u.links[u.nrows[SEC_LINKS]][0] = i;
			u.links[u.nrows[SEC_LINKS]++][1] = j;
		}
	for (sec = 0; sec < NSECS; sec++) {
		single_from[sec] = SIZE_MAX;
		if (sections[sec].unique)
			u.prev[sec] = prev_same(&u, sec);
	}
	i = bt->nitems > bt->nissues ? bt->nitems : bt->nissues;
	i = i > bt->ndocs ? i : bt->ndocs;
	if (i > 0)   /* one statement's vectors: a one-item upsert needs 12 KiB, not 6 MiB */
		u.vecbuf = ax_xmalloc((i < ROWS_MAX ? i : ROWS_MAX) * VEC_BIN_LEN);
	changed[SEC_ITEMS] = &counts->items;
	changed[SEC_RELATIONS] = &counts->relations;
	changed[SEC_ISSUES] = &counts->issues;
	changed[SEC_LINKS] = &counts->links;
	changed[SEC_DOCS] = &counts->docs;

	for (attempt = 0; attempt < RETRIES_MAX; attempt++) {
		memset(counts, 0, sizeof(*counts));
		rc = ax_pg_begin(b->pg, tenant, errbuf, errlen);
		if (rc != AX_OK)
			break;
		for (sec = 0; sec < NSECS && rc == AX_OK; sec++) {
			rc = put_section(b, &u, sec, single_from[sec], &fail_at, changed[sec],
					 errbuf, errlen);
			failed = sec;
		}
		if (rc == AX_OK) {
			rc = ax_pg_commit(b->pg, errbuf, errlen);
			break;
		}
		ax_pg_rollback(b->pg);
		if (rc != AX_EAGAIN)
			break;
		/* A multi-row statement failed: again, with that chunk and the
		 * rest of its section one row at a time. */
		single_from[failed] = fail_at;
	}
	if (rc == AX_EAGAIN) {
		ax_errfmt(errbuf, errlen, "graph: upsert failed repeatedly");
		rc = AX_EIO;
	}
	for (sec = 0; sec < NSECS; sec++)
		free(u.prev[sec]);
	free(u.links);
	free(u.vecbuf);
	return rc;
}

/* ---------------------------------------------------------------- blast radius */

/* $1 start, $2 depth cap, $3 direction mask, $4 kinds (text[] or NULL),
 * $5 fan-out: at most this many edges followed per item and direction, in
 * (kind, id) order (NULL: all; LIMIT NULL is no limit). */
static const char blast_sql[] =
	"WITH RECURSIVE walk(id, depth, path, via) AS ("
	" SELECT $1::text, 0, ARRAY[$1::text], NULL::text"
	" UNION ALL"
	" SELECT n.next, w.depth + 1, w.path || n.next, n.kind FROM walk w CROSS JOIN LATERAL ("
	"  (SELECT r.to_id AS next, r.kind FROM ci_relations r"
	"   WHERE ($3::int & 1) <> 0 AND r.from_id = w.id"
	"   AND ($4::text[] IS NULL OR r.kind = ANY($4::text[]))"
	"   ORDER BY r.kind, r.to_id LIMIT $5::int)"
	"  UNION ALL"
	"  (SELECT r.from_id, r.kind FROM ci_relations r"
	"   WHERE ($3::int & 2) <> 0 AND r.to_id = w.id"
	"   AND ($4::text[] IS NULL OR r.kind = ANY($4::text[]))"
	"   ORDER BY r.kind, r.from_id LIMIT $5::int)) n"
	" WHERE w.depth < $2::int AND NOT n.next = ANY(w.path))"
	" SELECT w.id, c.type, c.name, w.depth, w.via, array_to_json(w.path)::text FROM ("
	"  SELECT DISTINCT ON (id) id, depth, path, via FROM walk WHERE depth > 0"
	"  ORDER BY id, depth, path) w"
	" JOIN configuration_items c ON c.id = w.id"
	" ORDER BY w.depth, w.id LIMIT " STR(AX_GRAPH_NODES_MAX);

static ax_err read_nodes(PGresult *res, struct ax_graph_nodes *out, char *errbuf, size_t errlen)
{
	int i, nrows = PQntuples(res);

	out->v = ax_xcalloc((size_t)nrows + 1, sizeof(*out->v));
	for (i = 0; i < nrows; i++) {
		struct ax_graph_node *x = &out->v[i];
		const char *pj = PQgetvalue(res, i, 5);
		cJSON *path = ax_json_parse(pj, strlen(pj), 4);
		const cJSON *e;

		x->id = ax_xstrdup(PQgetvalue(res, i, 0));
		x->type = ax_xstrdup(PQgetvalue(res, i, 1));
		x->name = ax_xstrdup(PQgetvalue(res, i, 2));
		x->depth = atoi(PQgetvalue(res, i, 3));
		x->via = ax_xstrdup(PQgetvalue(res, i, 4));
		out->n++;
		if (!cJSON_IsArray(path)) {
			cJSON_Delete(path);
			ax_errfmt(errbuf, errlen, "blast radius: bad path from postgres");
			return AX_EPROTO;
		}
		x->path = ax_xcalloc((size_t)cJSON_GetArraySize(path) + 1, sizeof(*x->path));
		cJSON_ArrayForEach(e, path)
			x->path[x->npath++] = ax_xstrdup(cJSON_IsString(e) ? e->valuestring : "");
		cJSON_Delete(path);
	}
	return AX_OK;
}

static ax_err pg_item_exists(void *be, const char *tenant, const char *item, char *errbuf,
			     size_t errlen)
{
	struct pgb *b = be;
	const char *p[1] = { item };
	PGresult *res;
	ax_err rc;

	rc = ax_pg_begin(b->pg, tenant, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	res = ax_pg_exec(b->pg, errbuf, errlen, "SELECT 1 FROM configuration_items WHERE id = $1",
			 1, p);
	if (res == NULL) {
		ax_pg_rollback(b->pg);
		return AX_EIO;
	}
	rc = PQntuples(res) > 0 ? AX_OK : AX_ENOTFOUND;
	PQclear(res);
	ax_pg_rollback(b->pg);   /* read only */
	return rc;
}

static ax_err pg_blast_radius(void *be, const char *tenant, const char *item, int depth, int dir,
			      const char *const *kinds_in, int fanout, struct ax_graph_nodes *out,
			      char *errbuf, size_t errlen)
{
	struct pgb *b = be;
	char depth_s[16], dir_s[16], fan_s[16], *kinds_s = NULL;
	const char *p[5];
	PGresult *res;
	ax_err rc;

	snprintf(depth_s, sizeof(depth_s), "%d", depth);
	snprintf(dir_s, sizeof(dir_s), "%d", dir);
	if (kinds_in != NULL) {
		/* Kinds are [a-z0-9_] (checked by graph.c): no quoting needed. */
		size_t len = 3, at = 0, i;

		for (i = 0; kinds_in[i] != NULL; i++)
			len += strlen(kinds_in[i]) + 1;
		kinds_s = ax_xmalloc(len);
		kinds_s[at++] = '{';
		for (i = 0; kinds_in[i] != NULL; i++)
			at += (size_t)snprintf(kinds_s + at, len - at, "%s%s", i ? "," : "",
					       kinds_in[i]);
		snprintf(kinds_s + at, len - at, "}");
	}
	rc = ax_pg_begin(b->pg, tenant, errbuf, errlen);
	if (rc != AX_OK) {
		free(kinds_s);
		return rc;
	}
	p[0] = item;
	res = ax_pg_exec(b->pg, errbuf, errlen, "SELECT 1 FROM configuration_items WHERE id = $1",
			 1, p);
	if (res == NULL) {
		rc = AX_EIO;
	} else if (PQntuples(res) == 0) {
		ax_errfmt(errbuf, errlen, "blast radius: no item '%s'", item);
		rc = AX_ENOTFOUND;
	}
	PQclear(res);
	if (rc == AX_OK) {
		snprintf(fan_s, sizeof(fan_s), "%d", fanout);
		p[1] = depth_s;
		p[2] = dir_s;
		p[3] = kinds_s;
		p[4] = fanout > 0 ? fan_s : NULL;
		res = ax_pg_exec(b->pg, errbuf, errlen, blast_sql, 5, p);
		if (res == NULL) {
			rc = AX_EIO;
		} else {
			rc = read_nodes(res, out, errbuf, errlen);
			PQclear(res);
		}
	}
	ax_pg_rollback(b->pg);   /* read-only */
	free(kinds_s);
	if (rc != AX_OK)
		ax_graph_nodes_release(out);
	return rc;
}

/* ---------------------------------------------------------------- full text */

/* $1 query, $2 kind mask, $3 limit, $4 candidates per kind.  Ties are
 * broken by kind then id.
 *
 * The tsquery is written inline (not in a CTE joined to each table) so it
 * is folded to a constant and the GIN index can serve the match.  Under
 * row-level security that also needs the match operator to be LEAKPROOF
 * (ts_match_vq is not, by default, and a non-leakproof operator may not
 * run before the policy's filter, so every row of the tenant would be
 * read and tested): see docs/knowledge-graph.md.
 *
 * Each table's matches are ranked only among the first $4 the index
 * yields (LIMIT in the inner query, before ts_rank): ts_rank reads every
 * matching row's tsvector, and a broad query ("prod") matches tens of
 * thousands of items, which took 40 ms and more for one table. */
static const char text_sql[] =
	"SELECT kind, id, title, type, ts_rank(search, websearch_to_tsquery('english', $1))"
	" AS score FROM ("
	"  (SELECT 1 AS kind, c.id, c.name AS title, c.type, c.search FROM configuration_items c"
	"   WHERE ($2::int & 1) <> 0 AND c.search @@ websearch_to_tsquery('english', $1)"
	"   LIMIT $4::int)"
	"  UNION ALL"
	"  (SELECT 2, g.id, g.title, g.kind, g.search FROM graph_issues g"
	"   WHERE ($2::int & 2) <> 0 AND g.search @@ websearch_to_tsquery('english', $1)"
	"   LIMIT $4::int)"
	"  UNION ALL"
	"  (SELECT 4, d.id, d.title, 'doc', d.search FROM knowledge_docs d"
	"   WHERE ($2::int & 4) <> 0 AND d.search @@ websearch_to_tsquery('english', $1)"
	"   LIMIT $4::int)) s"
	" ORDER BY score DESC, kind, id LIMIT $3::int";

/* Send the full-text query (it runs while the caller does other work). */
static ax_err fts_send(struct pgb *b, const char *query, int mask, size_t k, char *errbuf,
		       size_t errlen)
{
	PGconn *conn = ax_pg_conn(b->pg);
	char mask_s[16], k_s[24];
	const char *p[4] = { query, mask_s, k_s, STR(AX_GRAPH_FTS_CANDIDATES) };

	snprintf(mask_s, sizeof(mask_s), "%d", mask);
	snprintf(k_s, sizeof(k_s), "%zu", k);
	if (!PQsendQueryParams(conn, text_sql, 4, NULL, p, NULL, NULL, 0)) {
		pg_errmsg(conn, NULL, errbuf, errlen);
		return AX_EIO;
	}
	return AX_OK;
}

/* Wait for fts_send's answer and read it into out. */
static ax_err fts_read(struct pgb *b, struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	PGconn *conn = ax_pg_conn(b->pg);
	PGresult *res;
	ax_err rc = AX_OK;
	int i, got = 0;

	while ((res = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			if (rc == AX_OK)
				pg_errmsg(conn, res, errbuf, errlen);
			rc = AX_EIO;
		} else if (!got++ && rc == AX_OK) {
			out->v = ax_xcalloc((size_t)PQntuples(res) + 1, sizeof(*out->v));
			for (i = 0; i < PQntuples(res); i++) {
				struct ax_graph_hit *h = &out->v[out->n++];

				h->kind = atoi(PQgetvalue(res, i, 0));
				h->id = ax_xstrdup(PQgetvalue(res, i, 1));
				h->title = ax_xstrdup(PQgetvalue(res, i, 2));
				h->type = ax_xstrdup(PQgetvalue(res, i, 3));
				h->fts_rank = i + 1;
				h->fts_score = strtod(PQgetvalue(res, i, 4), NULL);
				h->score = h->fts_score;
			}
		}
		PQclear(res);
	}
	if (rc == AX_OK && !got) {
		pg_errmsg(conn, NULL, errbuf, errlen);
		rc = AX_EIO;
	}
	return rc;
}

static ax_err pg_search_text(void *be, const char *tenant, const char *query, int mask, size_t k,
			     struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	struct pgb *b = be;
	ax_err rc = ax_pg_begin(b->pg, tenant, errbuf, errlen);

	if (rc == AX_OK)
		rc = fts_send(b, query, mask, k, errbuf, errlen);
	if (rc == AX_OK)
		rc = fts_read(b, out, errbuf, errlen);
	ax_pg_rollback(b->pg);   /* read-only */
	if (rc != AX_OK)
		ax_graph_hits_release(out);
	return rc;
}

/* ---------------------------------------------------------------- vectors */

/* Decode a stored vector (vec_binary's format: AX_EMBED_DIM little-endian
 * float32).  0 on success, -1 if it is anything else. */
static int decode_vec(const unsigned char *p, size_t len, float *out)
{
	size_t i;

	if (len != VEC_BIN_LEN)
		return -1;
	for (i = 0; i < AX_EMBED_DIM; i++, p += 4) {
		uint32_t u;

		memcpy(&u, p, 4);
		u = le32toh(u);
		memcpy(&out[i], &u, sizeof(u));
	}
	return 0;
}

/* The process-wide cache of vector indexes (graph.h, "vector cache").
 *
 * One entry per (database URL, embedder, tenant), shared by every store
 * and thread.  cache.mu guards the list, the LRU ticks, the reference
 * counts and the byte total; each entry's rwlock guards its indexes and
 * the stamps they are loaded up to: searches hold it shared while they
 * scan, a refresh holds it exclusive while it loads rows (so two threads
 * never load the same tenant twice, and nobody scans a half-loaded one).
 * Lock order: an entry's rwlock, then cache.mu; never the other way.
 * An entry is freed only with refs == 0 and under cache.mu, so nobody can
 * hold or find it then. */
struct centry {
	char *url;
	char *embedder;
	char tenant[AX_TENANT_MAX + 1];
	pthread_rwlock_t lock;
	/* under lock */
	long long version;          /* stamp loaded up to (rows <= it are in), -1 = none */
	long long deletes;
	struct ax_vec *vec[NKINDS];
	/* under cache.mu */
	size_t bytes;               /* counted in cache.bytes */
	size_t vectors, sparse;
	unsigned long long used;    /* LRU tick */
	int refs;                   /* searches using it now */
	int dropped;                /* out of the list: the last ref frees it */
	struct centry *next;
};

static struct {
	pthread_mutex_t mu;
	struct centry *head;
	size_t bytes, limit;
	unsigned long long tick;
	struct ax_graph_cache_stats st;   /* loads, refreshes, evictions */
} cache = { .mu = PTHREAD_MUTEX_INITIALIZER, .limit = (size_t)AX_GRAPH_CACHE_MB << 20 };

static void centry_free(struct centry *e)
{
	int i;

	for (i = 0; i < NKINDS; i++)
		ax_vec_free(e->vec[i]);
	pthread_rwlock_destroy(&e->lock);
	free(e->url);
	free(e->embedder);
	free(e);
}

/* Drop least recently used entries nobody uses while over the limit,
 * never keep (the one just searched; NULL: the most recently used one).
 * Under cache.mu. */
static void evict_locked(const struct centry *keep)
{
	const struct centry *x;

	if (keep == NULL)
		for (x = cache.head; x != NULL; x = x->next)
			if (keep == NULL || x->used > keep->used)
				keep = x;
	while (cache.bytes > cache.limit) {
		struct centry **pp, **lru = NULL, *e;

		for (pp = &cache.head; *pp != NULL; pp = &(*pp)->next)
			if (*pp != keep && (*pp)->refs == 0 &&
			    (lru == NULL || (*pp)->used < (*lru)->used))
				lru = pp;
		if (lru == NULL)
			return;
		e = *lru;
		*lru = e->next;
		cache.bytes -= e->bytes;
		cache.st.evictions++;
		centry_free(e);
	}
}

static void cache_set_limit(size_t bytes)
{
	pthread_mutex_lock(&cache.mu);
	cache.limit = bytes;
	evict_locked(NULL);
	pthread_mutex_unlock(&cache.mu);
}

/* The entry for (b, tenant), created empty if there is none, with a
 * reference taken.  Never NULL. */
static struct centry *cache_acquire(struct pgb *b, const char *tenant)
{
	pthread_rwlockattr_t attr;
	struct centry *e;
	int i;

	pthread_mutex_lock(&cache.mu);
	for (e = cache.head; e != NULL; e = e->next)
		if (strcmp(e->tenant, tenant) == 0 && strcmp(e->embedder, b->embedder) == 0 &&
		    strcmp(e->url, b->url) == 0)
			break;
	if (e == NULL) {
		e = ax_xcalloc(1, sizeof(*e));
		e->url = ax_xstrdup(b->url);
		e->embedder = ax_xstrdup(b->embedder);
		snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
		/* Writers first: a refresh must not wait behind a steady stream
		 * of searches (glibc's default prefers readers). */
		if (pthread_rwlockattr_init(&attr) != 0 ||
		    pthread_rwlockattr_setkind_np(&attr, WRITERS_FIRST) != 0 ||
		    pthread_rwlock_init(&e->lock, &attr) != 0)
			abort();
		pthread_rwlockattr_destroy(&attr);
		e->version = -1;
		e->deletes = -1;
		for (i = 0; i < NKINDS; i++)
			e->vec[i] = ax_vec_new(AX_EMBED_DIM);
		e->next = cache.head;
		cache.head = e;
	}
	e->refs++;
	e->used = ++cache.tick;
	pthread_mutex_unlock(&cache.mu);
	return e;
}

/* Account for e's size after a load (caller holds e's lock exclusive). */
static void cache_resized(struct centry *e, int full)
{
	size_t bytes = 0, vectors = 0, sparse = 0;
	int i;

	for (i = 0; i < NKINDS; i++) {
		bytes += ax_vec_bytes(e->vec[i]);
		vectors += ax_vec_len(e->vec[i]);
		sparse += ax_vec_sparse_len(e->vec[i]);
	}
	pthread_mutex_lock(&cache.mu);
	if (!e->dropped)
		cache.bytes = cache.bytes - e->bytes + bytes;
	e->bytes = bytes;
	e->vectors = vectors;
	e->sparse = sparse;
	if (full)
		cache.st.loads++;
	else
		cache.st.refreshes++;
	evict_locked(e);
	pthread_mutex_unlock(&cache.mu);
}

static void cache_release(struct centry *e)
{
	pthread_mutex_lock(&cache.mu);
	if (--e->refs == 0 && e->dropped)
		centry_free(e);
	else
		evict_locked(e);
	pthread_mutex_unlock(&cache.mu);
}

void ax_graph_cache_stats(struct ax_graph_cache_stats *s)
{
	const struct centry *e;

	pthread_mutex_lock(&cache.mu);
	*s = cache.st;
	s->indexes = s->vectors = s->sparse = 0;
	for (e = cache.head; e != NULL; e = e->next) {
		s->indexes++;
		s->vectors += e->vectors;
		s->sparse += e->sparse;
	}
	s->bytes = cache.bytes;
	s->limit = cache.limit;
	pthread_mutex_unlock(&cache.mu);
}

void ax_graph_cache_clear(void)
{
	struct centry *e, *next;

	pthread_mutex_lock(&cache.mu);
	for (e = cache.head; e != NULL; e = next) {
		next = e->next;
		cache.bytes -= e->bytes;
		if (e->refs > 0)
			e->dropped = 1;
		else
			centry_free(e);
	}
	cache.head = NULL;
	pthread_mutex_unlock(&cache.mu);
}

/* Apply the rows of one table stamped after since: put each vector of our
 * embedder, drop every other (no vector, or another embedder's). */
static ax_err load_rows(struct pgb *b, int ki, struct ax_vec *v, long long since, char *errbuf,
			size_t errlen)
{
	PGconn *conn = ax_pg_conn(b->pg);
	char sql[256], since_s[24];
	const char *p[2] = { since_s, b->embedder };
	float *x = ax_xmalloc(AX_EMBED_DIM * sizeof(float));
	PGresult *res;
	ax_err rc = AX_OK;

	snprintf(since_s, sizeof(since_s), "%lld", since);
	snprintf(sql, sizeof(sql),
		 "SELECT id, CASE WHEN embedder = $2 THEN embedding END FROM %s"
		 " WHERE changed > $1::bigint", kinds[ki].table);
	if (!PQsendQueryParams(conn, sql, 2, NULL, p, NULL, NULL, 1) || !PQsetSingleRowMode(conn)) {
		ax_errfmt(errbuf, errlen, "graph: loading vectors: %s", PQerrorMessage(conn));
		free(x);
		return AX_EIO;
	}
	while ((res = PQgetResult(conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE && rc == AX_OK) {
			/* Binary text is the bytes; libpq adds a NUL after every value. */
			const char *id = PQgetvalue(res, 0, 0);

			if (PQgetisnull(res, 0, 1) ||
			    decode_vec((const unsigned char *)PQgetvalue(res, 0, 1),
				       (size_t)PQgetlength(res, 0, 1), x) != 0)
				ax_vec_del(v, id);
			else if (!ax_vec_put(v, id, x))
				ax_vec_del(v, id);
		} else if (st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE && rc == AX_OK) {
			ax_errfmt(errbuf, errlen, "graph: loading vectors: %s",
				  PQresultErrorMessage(res));
			rc = AX_EIO;
		}
		PQclear(res);
	}
	free(x);
	return rc;
}

/* Bring e up to (version, deletes), read by the caller in its
 * tenant-scoped transaction; the caller holds e's lock exclusive.  Stamps
 * only grow, so an entry already at or past them (another thread loaded
 * it meanwhile, from a later snapshot) is left alone.  Rows stamped later
 * than version may be loaded too and are simply loaded again next time. */
static ax_err refresh(struct pgb *b, struct centry *e, long long version, long long deletes,
		      char *errbuf, size_t errlen)
{
	long long since = e->version;
	ax_err rc = AX_OK;
	int i, full = 0;

	if (deletes <= e->deletes && version <= e->version)
		return AX_OK;
	if (deletes > e->deletes) {
		for (i = 0; i < NKINDS; i++)
			ax_vec_clear(e->vec[i]);
		since = -1;
		full = 1;
	}
	for (i = 0; i < NKINDS && rc == AX_OK; i++)
		rc = load_rows(b, i, e->vec[i], since, errbuf, errlen);
	if (rc == AX_OK) {
		e->version = version;
		e->deletes = deletes;
	} else if (full) {
		e->version = e->deletes = -1;   /* half loaded: load in full next time */
	}
	cache_resized(e, full);
	return rc;
}

struct vcand {
	int ki;
	char *id;
	float score;
};

static int by_vscore(const void *a, const void *c)
{
	const struct vcand *x = a, *y = c;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->ki != y->ki)
		return x->ki < y->ki ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Fill titles and types of the hits of kind ki from the database; a hit
 * whose row vanished keeps its id as title. */
static ax_err titles(struct pgb *b, int ki, struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	cJSON *ids = cJSON_CreateArray();
	char sql[256], *json;
	const char *p[1];
	PGresult *res;
	size_t i;
	int r;

	for (i = 0; i < out->n; i++)
		if (out->v[i].kind == kinds[ki].kind)
			cJSON_AddItemToArray(ids, cJSON_CreateString(out->v[i].id));
	if (cJSON_GetArraySize(ids) == 0) {
		cJSON_Delete(ids);
		return AX_OK;
	}
	json = ax_json_print(ids);
	cJSON_Delete(ids);
	snprintf(sql, sizeof(sql),
		 "SELECT id, %s, %s FROM %s WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))",
		 kinds[ki].title, kinds[ki].type, kinds[ki].table);
	p[0] = json;
	res = ax_pg_exec(b->pg, errbuf, errlen, sql, 1, p);
	free(json);
	if (res == NULL)
		return AX_EIO;
	for (r = 0; r < PQntuples(res); r++)
		for (i = 0; i < out->n; i++)
			if (out->v[i].kind == kinds[ki].kind &&
			    strcmp(out->v[i].id, PQgetvalue(res, r, 0)) == 0) {
				free(out->v[i].title);
				free(out->v[i].type);
				out->v[i].title = ax_xstrdup(PQgetvalue(res, r, 1));
				out->v[i].type = ax_xstrdup(PQgetvalue(res, r, 2));
			}
	PQclear(res);
	return AX_OK;
}

/* The tenant's stamps (0, 0 when it never wrote), in the open transaction. */
static ax_err stamps(struct pgb *b, long long *version, long long *deletes, char *errbuf,
		     size_t errlen)
{
	PGresult *res = ax_pg_exec(b->pg, errbuf, errlen,
				   "SELECT version, deletes FROM graph_versions", 0, NULL);

	if (res == NULL)
		return AX_EIO;
	*version = *deletes = 0;
	if (PQntuples(res) == 1) {
		*version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		*deletes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	return AX_OK;
}

/* The tenant's cache entry (a reference held), brought up to the stamps
 * the open transaction sees. */
static ax_err vec_prepare(struct pgb *b, const char *tenant, struct centry **ep, char *errbuf,
			  size_t errlen)
{
	long long version, deletes;
	struct centry *e;
	ax_err rc = stamps(b, &version, &deletes, errbuf, errlen);

	*ep = NULL;
	if (rc != AX_OK)
		return rc;
	e = *ep = cache_acquire(b, tenant);
	pthread_rwlock_rdlock(&e->lock);
	if (version > e->version || deletes > e->deletes) {
		/* rwlocks do not upgrade: let go, load exclusively. */
		pthread_rwlock_unlock(&e->lock);
		pthread_rwlock_wrlock(&e->lock);
		rc = refresh(b, e, version, deletes, errbuf, errlen);
	}
	pthread_rwlock_unlock(&e->lock);
	return rc;
}

/* The best k of e's vectors of the kinds in mask into out, titled by id
 * (titles() fills the real ones).  Pure CPU: no database. */
static void vec_rank(struct centry *e, const float *q, int mask, size_t k,
		     struct ax_graph_hits *out)
{
	struct ax_vec_hit *hits = ax_xmalloc(k * sizeof(*hits));
	struct vcand *c = ax_xmalloc(NKINDS * k * sizeof(*c));
	size_t nc = 0, i, n;
	int ki;

	pthread_rwlock_rdlock(&e->lock);
	for (ki = 0; ki < NKINDS; ki++) {
		if ((mask & kinds[ki].kind) == 0)
			continue;
		n = ax_vec_topk(e->vec[ki], q, k, hits);
		for (i = 0; i < n; i++) {
			c[nc].ki = ki;
			c[nc].id = ax_xstrdup(hits[i].key);   /* keys live as long as the lock */
			c[nc++].score = hits[i].score;
		}
	}
	pthread_rwlock_unlock(&e->lock);
	qsort(c, nc, sizeof(*c), by_vscore);
	out->v = ax_xcalloc(nc + 1, sizeof(*out->v));
	for (i = 0; i < nc; i++) {
		if (i >= k) {
			free(c[i].id);
			continue;
		}
		out->v[i].kind = kinds[c[i].ki].kind;
		out->v[i].id = c[i].id;
		out->v[i].title = ax_xstrdup(c[i].id);
		out->v[i].type = ax_xstrdup("");
		out->v[i].vec_rank = (int)i + 1;
		out->v[i].vec_score = c[i].score;
		out->v[i].score = c[i].score;
		out->n++;
	}
	free(hits);
	free(c);
}

static ax_err pg_search_vector(void *be, const char *tenant, const float *q, int mask, size_t k,
			       struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	struct pgb *b = be;
	struct centry *e = NULL;
	ax_err rc;
	int ki;

	rc = ax_pg_begin(b->pg, tenant, errbuf, errlen);
	if (rc == AX_OK)
		rc = vec_prepare(b, tenant, &e, errbuf, errlen);
	if (rc == AX_OK) {
		vec_rank(e, q, mask, k, out);
		for (ki = 0; ki < NKINDS && rc == AX_OK; ki++)
			rc = titles(b, ki, out, errbuf, errlen);
	}
	if (e != NULL)
		cache_release(e);
	ax_pg_rollback(b->pg);   /* read-only */
	if (rc != AX_OK)
		ax_graph_hits_release(out);
	return rc;
}

/* Both rankings in one transaction, overlapped: the full-text query runs
 * in the server while this thread scans the vectors, so hybrid search
 * costs about the longer of the two rather than their sum (the machine
 * has a core for each). */
static ax_err pg_search_both(void *be, const char *tenant, const char *query, const float *q,
			     int mask, size_t k, struct ax_graph_hits *ft,
			     struct ax_graph_hits *vh, char *errbuf, size_t errlen)
{
	struct pgb *b = be;
	struct centry *e = NULL;
	ax_err rc;
	int ki;

	rc = ax_pg_begin(b->pg, tenant, errbuf, errlen);
	if (rc == AX_OK)
		rc = vec_prepare(b, tenant, &e, errbuf, errlen);
	if (rc == AX_OK)
		rc = fts_send(b, query, mask, k, errbuf, errlen);
	if (rc == AX_OK) {
		vec_rank(e, q, mask, k, vh);
		rc = fts_read(b, ft, errbuf, errlen);
	}
	for (ki = 0; ki < NKINDS && rc == AX_OK; ki++)
		rc = titles(b, ki, vh, errbuf, errlen);
	if (e != NULL)
		cache_release(e);
	ax_pg_rollback(b->pg);   /* read-only */
	if (rc != AX_OK) {
		ax_graph_hits_release(ft);
		ax_graph_hits_release(vh);
	}
	return rc;
}

const struct ax_graph_ops ax_graph_pg_ops = {
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.upsert = pg_upsert,
	.item_exists = pg_item_exists,
	.blast_radius = pg_blast_radius,
	.search_text = pg_search_text,
	.search_vector = pg_search_vector,
	.search_both = pg_search_both,
};
