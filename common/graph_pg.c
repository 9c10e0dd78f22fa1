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
 * moves no change stamp.  Embeddings are sent as real[] text with %.9g
 * per element, which round-trips a float exactly, so an unchanged vector
 * compares equal.
 *
 * Blast radius is one recursive CTE that carries the path: an edge is
 * followed only to an item not already on the path (cycle-safe) and only
 * while depth < the cap; DISTINCT ON keeps each item's shortest (then
 * lexically first) path.  It enumerates simple paths, which is fine for
 * CMDB-shaped graphs at the depth cap of 10 but would not be for dense
 * ones; the result is capped at AX_GRAPH_NODES_MAX.
 *
 * Vector search never runs in SQL (issue 4: 2.2 s for 5,000 rows).  Each
 * tenant's vectors of this store's embedder are loaded into three in-memory
 * indexes (items, Issues, documents; common/vec.c) and refreshed before
 * every search from the change stamps of 0005: one small query for the
 * tenant's (version, deletes); if they moved, only rows stamped after the
 * version we hold are fetched (a full reload after any delete).  Rows are
 * fetched in binary (real[] as float4 bytes, about 6 KiB a row rather than
 * 15 KiB of text to parse) and one at a time (libpq single-row mode), so
 * a first load of 100,000 rows never holds the whole result in memory.
 * libpq has no decoder for binary arrays; the format (array_send in
 * PostgreSQL's arrayfuncs.c) is small and fixed, so it is read here.  The
 * indexes of the least recently searched tenants are dropped beyond
 * cache_tenants.
 *
 * XXX(issue 4): the cache is per store, so a daemon with several worker
 * threads holds one copy per thread; a process-wide cache with a lock is
 * the next step if memory matters (100,000 vectors are 600 MiB). */
#include <arpa/inet.h>
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

#define CACHE_TENANTS 8
#define FLOAT4OID 700
#define NKINDS 3   /* items, issues, docs: index 0, 1, 2 */
#define STR_(x) #x
#define STR(x) STR_(x)

struct tcache {
	char tenant[AX_TENANT_MAX + 1];
	long long version;          /* stamp loaded up to (rows <= it are in) */
	long long deletes;
	struct ax_vec *vec[NKINDS];
	unsigned long long used;    /* LRU tick */
	struct tcache *next;
};

struct pgb {
	struct ax_pg *pg;
	char *embedder;
	int cache_max;
	struct tcache *cache;
	unsigned long long tick;
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
	b->embedder = ax_xstrdup(embedder);
	b->cache_max = c->cache_tenants > 0 ? c->cache_tenants : CACHE_TENANTS;
	return b;
}

static void tcache_free(struct tcache *t)
{
	int i;

	for (i = 0; i < NKINDS; i++)
		ax_vec_free(t->vec[i]);
	free(t);
}

static void pg_close(void *be)
{
	struct pgb *b = be;

	while (b->cache != NULL) {
		struct tcache *t = b->cache;

		b->cache = t->next;
		tcache_free(t);
	}
	ax_pg_free(b->pg);
	free(b->embedder);
	free(b);
}

/* ---------------------------------------------------------------- helpers */

/* Run a statement; 1 = rows affected was nonzero.  -1 on error. */
static int exec_count(struct pgb *b, const char *sql, int n, const char *const *p, char *errbuf,
		      size_t errlen)
{
	PGresult *res = ax_pg_exec(b->pg, errbuf, errlen, sql, n, p);
	int changed;

	if (res == NULL)
		return -1;
	changed = strcmp(PQcmdTuples(res), "0") != 0 && PQcmdTuples(res)[0] != '\0';
	PQclear(res);
	return changed;
}

/* "{f,f,...}" for real[]; %.9g round-trips every float exactly. */
static char *vec_text(const float *v)
{
	size_t cap = AX_EMBED_DIM * 18 + 3, len = 0, i;
	char *s = ax_xmalloc(cap);

	s[len++] = '{';
	for (i = 0; i < AX_EMBED_DIM; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%.9g", i ? "," : "", (double)v[i]);
	s[len++] = '}';
	s[len] = '\0';
	return s;
}

/* Put "<what>: " before the error ax_pg_exec left in errbuf. */
static void prefix_err(char *errbuf, size_t errlen, const char *what)
{
	char tmp[512];

	if (errbuf == NULL || errlen == 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s", errbuf);
	ax_errfmt(errbuf, errlen, "%s: %s", what, tmp);
}

/* ---------------------------------------------------------------- upsert */

static const char item_sql[] =
	"INSERT INTO configuration_items AS c (tenant_id, id, type, name, attributes, embedding,"
	" embedder) VALUES ($1, $2, $3, $4, coalesce($5::jsonb, '{}'::jsonb), $6::real[], $7)"
	" ON CONFLICT (tenant_id, id) DO UPDATE SET type = EXCLUDED.type, name = EXCLUDED.name,"
	" attributes = EXCLUDED.attributes, embedding = EXCLUDED.embedding,"
	" embedder = EXCLUDED.embedder"
	" WHERE (c.type, c.name, c.attributes, c.embedding, c.embedder) IS DISTINCT FROM"
	" (EXCLUDED.type, EXCLUDED.name, EXCLUDED.attributes, EXCLUDED.embedding,"
	" EXCLUDED.embedder)";

static const char relation_sql[] =
	"INSERT INTO ci_relations (tenant_id, from_id, kind, to_id) VALUES ($1, $2, $3, $4)"
	" ON CONFLICT DO NOTHING";

static const char issue_sql[] =
	"INSERT INTO graph_issues AS g (tenant_id, id, kind, title, body, fix, embedding, embedder)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7::real[], $8)"
	" ON CONFLICT (tenant_id, id) DO UPDATE SET kind = EXCLUDED.kind, title = EXCLUDED.title,"
	" body = EXCLUDED.body, fix = EXCLUDED.fix, embedding = EXCLUDED.embedding,"
	" embedder = EXCLUDED.embedder"
	" WHERE (g.kind, g.title, g.body, g.fix, g.embedding, g.embedder) IS DISTINCT FROM"
	" (EXCLUDED.kind, EXCLUDED.title, EXCLUDED.body, EXCLUDED.fix, EXCLUDED.embedding,"
	" EXCLUDED.embedder)";

static const char link_sql[] =
	"INSERT INTO issue_items (tenant_id, issue_id, item_id) VALUES ($1, $2, $3)"
	" ON CONFLICT DO NOTHING";

static const char doc_sql[] =
	"INSERT INTO knowledge_docs AS d (tenant_id, id, title, body, source, embedding, embedder)"
	" VALUES ($1, $2, $3, $4, $5, $6::real[], $7)"
	" ON CONFLICT (tenant_id, id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body,"
	" source = EXCLUDED.source, embedding = EXCLUDED.embedding, embedder = EXCLUDED.embedder"
	" WHERE (d.title, d.body, d.source, d.embedding, d.embedder) IS DISTINCT FROM"
	" (EXCLUDED.title, EXCLUDED.body, EXCLUDED.source, EXCLUDED.embedding, EXCLUDED.embedder)";

static int fk_violation(struct pgb *b)
{
	return strcmp(ax_pg_sqlstate(b->pg), "23503") == 0;
}

static ax_err upsert_rows(struct pgb *b, const char *tenant, const struct ax_graph_batch *bt,
			  const float *vectors, struct ax_graph_counts *counts, char *errbuf,
			  size_t errlen)
{
	const float *vec = vectors;
	char what[640];
	size_t i, j;
	int r;

	for (i = 0; i < bt->nitems; i++, vec += AX_EMBED_DIM) {
		const struct ax_graph_item *it = &bt->items[i];
		char *v = vec_text(vec);
		const char *p[7] = { tenant, it->id, it->type, it->name, it->attributes, v,
				     b->embedder };

		r = exec_count(b, item_sql, 7, p, errbuf, errlen);
		free(v);
		if (r < 0) {
			snprintf(what, sizeof(what), "item '%.256s'", it->id);
			prefix_err(errbuf, errlen, what);
			return AX_EIO;
		}
		counts->items += (size_t)r;
	}
	for (i = 0; i < bt->nrelations; i++) {
		const struct ax_graph_relation *rl = &bt->relations[i];
		const char *p[4] = { tenant, rl->from, rl->kind, rl->to };

		r = exec_count(b, relation_sql, 4, p, errbuf, errlen);
		if (r < 0 && fk_violation(b)) {
			int from = strstr(errbuf, "from_id") != NULL;

			ax_errfmt(errbuf, errlen, "relation '%s' %s '%s': no item '%s'", rl->from,
				  rl->kind, rl->to, from ? rl->from : rl->to);
			return AX_ENOTFOUND;
		}
		if (r < 0) {
			snprintf(what, sizeof(what), "relation '%.256s' %s '%.256s'", rl->from,
				 rl->kind, rl->to);
			prefix_err(errbuf, errlen, what);
			return AX_EIO;
		}
		counts->relations += (size_t)r;
	}
	for (i = 0; i < bt->nissues; i++, vec += AX_EMBED_DIM) {
		const struct ax_graph_issue *is = &bt->issues[i];
		char *v = vec_text(vec);
		const char *p[8] = { tenant, is->id, is->kind, is->title, is->body ? is->body : "",
				     is->fix ? is->fix : "", v, b->embedder };

		r = exec_count(b, issue_sql, 8, p, errbuf, errlen);
		free(v);
		if (r < 0) {
			snprintf(what, sizeof(what), "issue '%.256s'", is->id);
			prefix_err(errbuf, errlen, what);
			return AX_EIO;
		}
		counts->issues += (size_t)r;
		for (j = 0; j < is->nitems; j++) {
			const char *lp[3] = { tenant, is->id, is->items[j] };

			r = exec_count(b, link_sql, 3, lp, errbuf, errlen);
			if (r < 0 && fk_violation(b)) {
				ax_errfmt(errbuf, errlen, "issue '%s': no item '%s'", is->id,
					  is->items[j]);
				return AX_ENOTFOUND;
			}
			if (r < 0) {
				snprintf(what, sizeof(what), "issue '%.256s' link '%.256s'",
					 is->id, is->items[j]);
				prefix_err(errbuf, errlen, what);
				return AX_EIO;
			}
			counts->links += (size_t)r;
		}
	}
	for (i = 0; i < bt->ndocs; i++, vec += AX_EMBED_DIM) {
		const struct ax_graph_doc *d = &bt->docs[i];
		char *v = vec_text(vec);
		const char *p[7] = { tenant, d->id, d->title, d->body ? d->body : "",
				     d->source ? d->source : "", v, b->embedder };

		r = exec_count(b, doc_sql, 7, p, errbuf, errlen);
		free(v);
		if (r < 0) {
			snprintf(what, sizeof(what), "doc '%.256s'", d->id);
			prefix_err(errbuf, errlen, what);
			return AX_EIO;
		}
		counts->docs += (size_t)r;
	}
	return AX_OK;
}

static ax_err pg_upsert(void *be, const char *tenant, const struct ax_graph_batch *bt,
			const float *vectors, struct ax_graph_counts *counts, char *errbuf,
			size_t errlen)
{
	struct pgb *b = be;
	ax_err rc = ax_pg_begin(b->pg, tenant, errbuf, errlen);

	if (rc != AX_OK)
		return rc;
	rc = upsert_rows(b, tenant, bt, vectors, counts, errbuf, errlen);
	if (rc != AX_OK) {
		ax_pg_rollback(b->pg);
		return rc;
	}
	return ax_pg_commit(b->pg, errbuf, errlen);
}

/* ---------------------------------------------------------------- blast radius */

/* $1 start, $2 depth cap, $3 direction mask, $4 kinds (text[] or NULL). */
static const char blast_sql[] =
	"WITH RECURSIVE walk(id, depth, path, via) AS ("
	" SELECT $1::text, 0, ARRAY[$1::text], NULL::text"
	" UNION ALL"
	" SELECT n.next, w.depth + 1, w.path || n.next, n.kind FROM walk w CROSS JOIN LATERAL ("
	"  SELECT r.to_id AS next, r.kind FROM ci_relations r"
	"   WHERE ($3::int & 1) <> 0 AND r.from_id = w.id"
	"   AND ($4::text[] IS NULL OR r.kind = ANY($4::text[]))"
	"  UNION ALL"
	"  SELECT r.from_id, r.kind FROM ci_relations r"
	"   WHERE ($3::int & 2) <> 0 AND r.to_id = w.id"
	"   AND ($4::text[] IS NULL OR r.kind = ANY($4::text[]))) n"
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

static ax_err pg_blast_radius(void *be, const char *tenant, const char *item, int depth, int dir,
			      const char *const *kinds_in, struct ax_graph_nodes *out, char *errbuf,
			      size_t errlen)
{
	struct pgb *b = be;
	char depth_s[16], dir_s[16], *kinds_s = NULL;
	const char *p[4];
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
		p[1] = depth_s;
		p[2] = dir_s;
		p[3] = kinds_s;
		res = ax_pg_exec(b->pg, errbuf, errlen, blast_sql, 4, p);
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

/* $1 query, $2 kind mask, $3 limit.  Ties are broken by kind then id. */
static const char text_sql[] =
	"WITH q AS (SELECT websearch_to_tsquery('english', $1) AS q)"
	" SELECT kind, id, title, type, score FROM ("
	"  SELECT 1 AS kind, c.id, c.name AS title, c.type, ts_rank(c.search, q.q) AS score"
	"   FROM configuration_items c, q WHERE ($2::int & 1) <> 0 AND c.search @@ q.q"
	"  UNION ALL"
	"  SELECT 2, g.id, g.title, g.kind, ts_rank(g.search, q.q)"
	"   FROM graph_issues g, q WHERE ($2::int & 2) <> 0 AND g.search @@ q.q"
	"  UNION ALL"
	"  SELECT 4, d.id, d.title, 'doc', ts_rank(d.search, q.q)"
	"   FROM knowledge_docs d, q WHERE ($2::int & 4) <> 0 AND d.search @@ q.q) s"
	" ORDER BY score DESC, kind, id LIMIT $3::int";

static ax_err pg_search_text(void *be, const char *tenant, const char *query, int mask, size_t k,
			     struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	struct pgb *b = be;
	char mask_s[16], k_s[24];
	const char *p[3] = { query, mask_s, k_s };
	PGresult *res;
	ax_err rc;
	int i;

	snprintf(mask_s, sizeof(mask_s), "%d", mask);
	snprintf(k_s, sizeof(k_s), "%zu", k);
	rc = ax_pg_begin(b->pg, tenant, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	res = ax_pg_exec(b->pg, errbuf, errlen, text_sql, 3, p);
	if (res == NULL) {
		ax_pg_rollback(b->pg);
		return AX_EIO;
	}
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
	PQclear(res);
	ax_pg_rollback(b->pg);
	return AX_OK;
}

/* ---------------------------------------------------------------- vectors */

static uint32_t be32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* Decode a binary float4[] of AX_EMBED_DIM elements (array_send format:
 * ndim, has-null flag, element type oid, then per dimension its length
 * and lower bound, then per element a length and the big-endian float).
 * 0 on success, -1 if it is anything else. */
static int decode_vec(const unsigned char *p, size_t len, float *out)
{
	size_t i, need = 20 + (size_t)AX_EMBED_DIM * 8;

	if (len != need || be32(p) != 1 || be32(p + 8) != FLOAT4OID ||
	    be32(p + 12) != AX_EMBED_DIM)
		return -1;
	p += 20;
	for (i = 0; i < AX_EMBED_DIM; i++, p += 8) {
		uint32_t u;

		if (be32(p) != 4)
			return -1;   /* a NULL element (-1) or a bad length */
		u = be32(p + 4);
		memcpy(&out[i], &u, sizeof(u));
	}
	return 0;
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

static struct tcache *cache_get(struct pgb *b, const char *tenant)
{
	struct tcache *t, **pp, **lru = NULL;
	int n = 0, i;

	for (t = b->cache; t != NULL; t = t->next)
		if (strcmp(t->tenant, tenant) == 0)
			return t;
	/* Make room: drop the least recently used beyond the cap. */
	for (pp = &b->cache; *pp != NULL; pp = &(*pp)->next) {
		n++;
		if (lru == NULL || (*pp)->used < (*lru)->used)
			lru = pp;
	}
	if (n >= b->cache_max && lru != NULL) {
		t = *lru;
		*lru = t->next;
		tcache_free(t);
	}
	t = ax_xcalloc(1, sizeof(*t));
	snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
	t->version = -1;
	t->deletes = -1;
	for (i = 0; i < NKINDS; i++)
		t->vec[i] = ax_vec_new(AX_EMBED_DIM);
	t->next = b->cache;
	b->cache = t;
	return t;
}

/* Bring tenant's indexes up to date, inside the caller's tenant-scoped
 * transaction.  The version is read before the rows: rows stamped later
 * than it may be loaded too and are simply loaded again next time. */
static ax_err refresh(struct pgb *b, struct tcache *t, char *errbuf, size_t errlen)
{
	PGresult *res = ax_pg_exec(b->pg, errbuf, errlen,
				   "SELECT version, deletes FROM graph_versions", 0, NULL);
	long long version = 0, deletes = 0, since;
	ax_err rc = AX_OK;
	int i;

	if (res == NULL)
		return AX_EIO;
	if (PQntuples(res) == 1) {
		version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		deletes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	if (version == t->version && deletes == t->deletes)
		return AX_OK;
	since = t->version;
	if (deletes != t->deletes) {
		for (i = 0; i < NKINDS; i++)
			ax_vec_clear(t->vec[i]);
		since = -1;
	}
	for (i = 0; i < NKINDS && rc == AX_OK; i++)
		rc = load_rows(b, i, t->vec[i], since, errbuf, errlen);
	if (rc == AX_OK) {
		t->version = version;
		t->deletes = deletes;
	}
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

static ax_err pg_search_vector(void *be, const char *tenant, const float *q, int mask, size_t k,
			       struct ax_graph_hits *out, char *errbuf, size_t errlen)
{
	struct pgb *b = be;
	struct ax_vec_hit *hits = ax_xmalloc(k * sizeof(*hits));
	struct vcand *c = ax_xmalloc(NKINDS * k * sizeof(*c));
	size_t nc = 0, i, n;
	struct tcache *t;
	ax_err rc;
	int ki;

	rc = ax_pg_begin(b->pg, tenant, errbuf, errlen);
	if (rc != AX_OK)
		goto out;
	t = cache_get(b, tenant);
	t->used = ++b->tick;
	rc = refresh(b, t, errbuf, errlen);
	if (rc != AX_OK)
		goto out;
	for (ki = 0; ki < NKINDS; ki++) {
		if ((mask & kinds[ki].kind) == 0)
			continue;
		n = ax_vec_topk(t->vec[ki], q, k, hits);
		for (i = 0; i < n; i++) {
			c[nc].ki = ki;
			c[nc].id = ax_xstrdup(hits[i].key);
			c[nc++].score = hits[i].score;
		}
	}
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
	for (ki = 0; ki < NKINDS && rc == AX_OK; ki++)
		rc = titles(b, ki, out, errbuf, errlen);
out:
	ax_pg_rollback(b->pg);   /* read-only */
	free(hits);
	free(c);
	if (rc != AX_OK)
		ax_graph_hits_release(out);
	return rc;
}

const struct ax_graph_ops ax_graph_pg_ops = {
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.upsert = pg_upsert,
	.blast_radius = pg_blast_radius,
	.search_text = pg_search_text,
	.search_vector = pg_search_vector,
};
