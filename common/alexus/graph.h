/* graph.h - the knowledge graph store: configuration items, relations,
 * Issues (incidents and known errors) and knowledge documents, with blast
 * radius, full-text, vector and hybrid search.  Used by reason (retrieval
 * for the IncidentAgent, upserts by the CMDBAgent), act (blast radius of
 * an action) and alexusctl (cmdb import).
 *
 * One interface, several backends behind an ops table: "postgres" (the
 * default, graph_pg.c) and "neo4j" (graph_neo4j.c, over Bolt), chosen by
 * ALEXUS_GRAPH.  Everything a backend must do is in struct ax_graph_ops;
 * what is the same for every backend lives in graph.c: embedding texts
 * (common/embed.h) before an upsert and for a query, and hybrid search,
 * which runs the backend's full-text and vector rankings and fuses them
 * with reciprocal rank fusion.
 *
 * Every call is scoped to one tenant (a valid tenant id, keys.h) and sees
 * and changes only that tenant's graph.  A struct ax_graph is one
 * connection's worth of state: use it from one thread at a time.  The
 * Postgres backend's in-memory vector indexes are not per store but per
 * process, shared by every store and thread (see "vector cache" below). */
#ifndef AX_GRAPH_H
#define AX_GRAPH_H

#include <stddef.h>
#include "alexus/embed.h"
#include "alexus/err.h"

#define AX_GRAPH_RRF_K 60        /* reciprocal rank fusion: score = sum 1 / (K + rank) */
#define AX_GRAPH_DEPTH_MAX 10    /* blast radius depth cap */
#define AX_GRAPH_NODES_MAX 10000 /* blast radius result cap */
#define AX_GRAPH_K_MAX 1000      /* search results cap */
#define AX_GRAPH_HYBRID_DEPTH 50 /* each ranking fused by hybrid search is at least this deep */
#define AX_GRAPH_FTS_CANDIDATES 1000 /* full-text: matches ranked per kind, at most */
#define AX_GRAPH_CACHE_MB 1024   /* vector cache cap when ALEXUS_GRAPH_CACHE_MB is unset */
#define AX_GRAPH_CACHE_MB_MAX (1024 * 1024)

/* What a search looks at (a mask) and what a hit is. */
enum ax_graph_kind {
	AX_GRAPH_ITEM = 1,    /* configuration_items */
	AX_GRAPH_ISSUE = 2,   /* graph_issues: incidents and known errors */
	AX_GRAPH_DOC = 4,     /* knowledge_docs */
	AX_GRAPH_ALL = 7,
};

/* Which edges a blast radius walk follows, from the start item. */
enum ax_graph_dir {
	AX_GRAPH_OUT = 1,     /* from -> to: what the item depends on, runs on... */
	AX_GRAPH_IN = 2,      /* to -> from: what depends on the item (what breaks with it) */
	AX_GRAPH_BOTH = 3,
};

/* Inputs.  Strings are borrowed for the call only. */
struct ax_graph_item {
	const char *id;          /* 1..256 characters, no control characters */
	const char *type;        /* [a-z0-9][a-z0-9_.-]{0,62}: service, host, database... */
	const char *name;
	const char *attributes;  /* a JSON object's text, NULL = {} */
};

struct ax_graph_relation {
	const char *from;
	const char *kind;        /* [a-z][a-z0-9_]*: depends_on, runs_on, owned_by, part_of, connects_to */
	const char *to;
};

struct ax_graph_issue {
	const char *id;
	const char *kind;        /* "incident" or "known_error" */
	const char *title;
	const char *body;        /* NULL = "" */
	const char *fix;         /* NULL = "" */
	const char *const *items;/* ids of the items it touched (links are only ever added) */
	size_t nitems;
};

struct ax_graph_doc {
	const char *id;
	const char *title;
	const char *body;        /* NULL = "" */
	const char *source;      /* NULL = "" */
};

/* One atomic upsert: everything in it is written, or nothing is. */
struct ax_graph_batch {
	const struct ax_graph_item *items;
	size_t nitems;
	const struct ax_graph_relation *relations;
	size_t nrelations;
	const struct ax_graph_issue *issues;
	size_t nissues;
	const struct ax_graph_doc *docs;
	size_t ndocs;
};

/* What an upsert changed: rows inserted or actually modified (a row
 * written again with the same content does not count). */
struct ax_graph_counts {
	size_t items, relations, issues, links, docs;
};

/* Outputs: owned by the caller, released with the matching function. */
struct ax_graph_node {
	char *id;
	char *type;
	char *name;
	int depth;              /* hops from the start item, >= 1 */
	char *via;              /* kind of the last edge on the path */
	char **path;            /* ids from the start item to this one, inclusive */
	size_t npath;           /* depth + 1 */
};

struct ax_graph_nodes {
	struct ax_graph_node *v;  /* by depth, then id */
	size_t n;
};

struct ax_graph_hit {
	int kind;               /* AX_GRAPH_ITEM, AX_GRAPH_ISSUE or AX_GRAPH_DOC */
	char *id;
	char *title;            /* item name, issue or document title */
	char *type;             /* item type, issue kind, or "doc" */
	int fts_rank;           /* 1-based place in the full-text ranking, 0 = absent */
	int vec_rank;           /* 1-based place in the vector ranking, 0 = absent */
	double fts_score;       /* ts_rank, when fts_rank > 0 */
	double vec_score;       /* cosine similarity, when vec_rank > 0 */
	double score;           /* what the list is ordered by: the fused RRF score
	                         * for hybrid, else the fts or vector score */
};

struct ax_graph_hits {
	struct ax_graph_hit *v;  /* best first */
	size_t n;
};

void ax_graph_nodes_release(struct ax_graph_nodes *n);   /* NULL-safe; zeroes n */
void ax_graph_hits_release(struct ax_graph_hits *h);     /* NULL-safe; zeroes h */
/* An empty answer (n == 0) holds no memory: releasing it is optional. */

/* ------------------------------------------------------------ the store */

struct ax_graph_config {
	const char *backend;       /* "postgres" or "neo4j" (NULL or "" = postgres) */
	const char *database_url;  /* postgres: the application role's URL */
	size_t cache_bytes;        /* postgres: the process-wide vector cache's cap; 0 =
	                            * ALEXUS_GRAPH_CACHE_MB (MiB, 1..AX_GRAPH_CACHE_MB_MAX),
	                            * else AX_GRAPH_CACHE_MB MiB */
	/* neo4j (graph_neo4j.c); each NULL takes the environment variable
	 * named, read by ax_graph_open: */
	const char *neo4j_uri;      /* NEO4J_URI: bolt[+s|+ssc]://host[:port], or neo4j... */
	const char *neo4j_user;     /* NEO4J_USER (unset: no authentication) */
	const char *neo4j_password; /* NEO4J_PASSWORD */
	const char *neo4j_database; /* NEO4J_DATABASE (unset: the server's default) */
};

struct ax_graph;   /* opaque */

/* Open a store on backend c->backend with embedder e (borrowed: it must
 * outlive the store).  Nothing connects yet.  Sets the process-wide vector
 * cache's cap (c->cache_bytes, resolved as described there): the last
 * store opened sets it.  NULL with errbuf set for an unknown backend, a
 * missing URL or a bad ALEXUS_GRAPH_CACHE_MB. */
struct ax_graph *ax_graph_open(const struct ax_graph_config *c, struct ax_embedder *e,
			       char *errbuf, size_t errlen);
/* The backend named by ALEXUS_GRAPH ("postgres" when unset) with
 * database_url; NULL with errbuf set for an unknown name. */
struct ax_graph *ax_graph_open_env(const char *database_url, struct ax_embedder *e,
				   char *errbuf, size_t errlen);
void ax_graph_close(struct ax_graph *g);   /* NULL-safe */
const char *ax_graph_backend(const struct ax_graph *g);

/* Write a batch for tenant in one transaction, embedding every item,
 * Issue and document with the store's embedder first (outside the
 * transaction).  Relations and Issue links may name items of the same
 * batch or already stored ones.  counts may be NULL.  Errors: AX_EINVAL
 * (an invalid entry, named in errbuf: "item 'x': ..."), AX_ENOTFOUND (an
 * edge or link to an item that does not exist, named), the embedder's
 * error, AX_EIO.  Nothing is written after any error. */
ax_err ax_graph_upsert(struct ax_graph *g, const char *tenant, const struct ax_graph_batch *b,
		       struct ax_graph_counts *counts, char *errbuf, size_t errlen) AX_MUSTCHECK;
/* One-element conveniences over ax_graph_upsert. */
ax_err ax_graph_upsert_item(struct ax_graph *g, const char *tenant,
			    const struct ax_graph_item *it, char *errbuf, size_t errlen) AX_MUSTCHECK;
ax_err ax_graph_upsert_relation(struct ax_graph *g, const char *tenant,
				const struct ax_graph_relation *r, char *errbuf,
				size_t errlen) AX_MUSTCHECK;
ax_err ax_graph_upsert_issue(struct ax_graph *g, const char *tenant,
			     const struct ax_graph_issue *is, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Items reachable from item within depth hops (1..AX_GRAPH_DEPTH_MAX)
 * along edges in dir, each once, at its smallest depth (ties: the
 * lexically first path), never through the same item twice, so cycles
 * end.  kinds (NULL-terminated) keeps only edges of those kinds; NULL =
 * all.  At most AX_GRAPH_NODES_MAX nodes.  AX_ENOTFOUND when the tenant
 * has no such item. */
/* AX_OK when tenant has item, AX_ENOTFOUND when not; AX_EINVAL for a bad
 * id, AX_EIO on a store error (errbuf). */
ax_err ax_graph_item_exists(struct ax_graph *g, const char *tenant, const char *item,
			    char *errbuf, size_t errlen) AX_MUSTCHECK;
ax_err ax_graph_blast_radius(struct ax_graph *g, const char *tenant, const char *item, int depth,
			     int dir, const char *const *kinds, struct ax_graph_nodes *out,
			     char *errbuf, size_t errlen) AX_MUSTCHECK;
/* The blast radius with at most fanout edges followed per item and
 * direction (in relation-kind then id order): a neighbourhood for context,
 * bounded around hub items (a host every service runs on), never for a
 * safety decision, which needs ax_graph_blast_radius's complete answer. */
ax_err ax_graph_neighbourhood(struct ax_graph *g, const char *tenant, const char *item, int depth,
			      int fanout, struct ax_graph_nodes *out, char *errbuf,
			      size_t errlen) AX_MUSTCHECK;

/* Full-text search (web-search syntax: words, "phrases", -not, or) over
 * the kinds in mask, best k (1..AX_GRAPH_K_MAX) by ts_rank.  A query with
 * no searchable word returns no hits.  Only the first
 * AX_GRAPH_FTS_CANDIDATES matches of each kind that the index yields are
 * ranked: when more rows match (a broad query, "prod"), the best k of
 * those are returned, not necessarily the best k of all the matches
 * (docs/knowledge-graph.md says why). */
ax_err ax_graph_search_text(struct ax_graph *g, const char *tenant, const char *query, int mask,
			    size_t k, struct ax_graph_hits *out, char *errbuf,
			    size_t errlen) AX_MUSTCHECK;
/* Vector search: the query embedded with the store's embedder, the best k
 * by cosine similarity among the tenant's vectors of that same embedder. */
ax_err ax_graph_search_vector(struct ax_graph *g, const char *tenant, const char *query,
			      int mask, size_t k, struct ax_graph_hits *out, char *errbuf,
			      size_t errlen) AX_MUSTCHECK;
/* Hybrid: both rankings, each max(k, AX_GRAPH_HYBRID_DEPTH) deep, fused
 * with reciprocal rank fusion: score = sum over the rankings a hit is in
 * of 1 / (AX_GRAPH_RRF_K + rank).  Best k by score; ties by the better
 * single rank, then kind, then id.  Every hit reports both ranks. */
ax_err ax_graph_search_hybrid(struct ax_graph *g, const char *tenant, const char *query, int mask,
			      size_t k, struct ax_graph_hits *out, char *errbuf,
			      size_t errlen) AX_MUSTCHECK;

/* ------------------------------------------------------------ vector cache */

/* The Postgres backend keeps each tenant's vectors (of one embedder, from
 * one database URL) in memory, once per process whatever the number of
 * stores and threads, refreshed from change stamps before every search.
 * The least recently searched tenants' indexes are dropped while the total
 * exceeds the cap, except the most recently searched one, which is kept
 * even when it alone exceeds the cap (searching it would otherwise reload
 * it every time). */
struct ax_graph_cache_stats {
	size_t indexes;                /* tenants held */
	size_t vectors;                /* vectors in them (items, Issues, documents) */
	size_t sparse;                 /* ... of which stored sparse (vec.h) */
	size_t bytes;                  /* memory the indexes hold */
	size_t limit;                  /* the cap, bytes */
	unsigned long long loads;      /* full loads: a tenant's first search, or after a delete */
	unsigned long long refreshes;  /* incremental loads of changed rows */
	unsigned long long evictions;  /* indexes dropped for the cap */
};

/* A consistent snapshot of the cache's counters.  Thread-safe. */
void ax_graph_cache_stats(struct ax_graph_cache_stats *s);
/* Drop every index (the next search of each tenant loads it again).
 * Indexes in use by a search right now are dropped when it ends. */
void ax_graph_cache_clear(void);

/* ------------------------------------------------------------ backends */

/* What a backend implements.  be is the backend's own state from open.
 * Arguments are validated by graph.c before any call (tenant id, k, depth,
 * dir, mask), and out is zeroed.  Each call is one transaction scoped to
 * tenant; nothing may be visible to or written for another tenant. */
struct ax_graph_ops {
	const char *name;
	/* c->cache_bytes is resolved (never 0) by graph.c. */
	void *(*open)(const struct ax_graph_config *c, const char *embedder, char *errbuf,
		      size_t errlen);
	void (*close)(void *be);
	/* vectors: AX_EMBED_DIM floats per item, then per Issue, then per
	 * document, in batch order, made by the embedder named at open. */
	ax_err (*upsert)(void *be, const char *tenant, const struct ax_graph_batch *b,
			 const float *vectors, struct ax_graph_counts *counts, char *errbuf,
			 size_t errlen);
	/* AX_OK: item exists; AX_ENOTFOUND: it does not. */
	ax_err (*item_exists)(void *be, const char *tenant, const char *item, char *errbuf,
			      size_t errlen);
	/* fanout > 0: at most that many edges per item and direction. */
	ax_err (*blast_radius)(void *be, const char *tenant, const char *item, int depth, int dir,
			       const char *const *kinds, int fanout, struct ax_graph_nodes *out,
			       char *errbuf, size_t errlen);
	/* Hits with fts_rank/fts_score (or vec_rank/vec_score) and score set. */
	ax_err (*search_text)(void *be, const char *tenant, const char *query, int mask, size_t k,
			      struct ax_graph_hits *out, char *errbuf, size_t errlen);
	ax_err (*search_vector)(void *be, const char *tenant, const float *q, int mask, size_t k,
				struct ax_graph_hits *out, char *errbuf, size_t errlen);
	/* Optional (NULL: graph.c calls the two above in turn): both rankings
	 * of a hybrid search, ft as search_text(query) and vh as
	 * search_vector(q) would give them, for a backend that can run them
	 * at the same time.  Both are zeroed on entry and released on error. */
	ax_err (*search_both)(void *be, const char *tenant, const char *query, const float *q,
			      int mask, size_t k, struct ax_graph_hits *ft,
			      struct ax_graph_hits *vh, char *errbuf, size_t errlen);
};

extern const struct ax_graph_ops ax_graph_pg_ops;      /* graph_pg.c */
extern const struct ax_graph_ops ax_graph_neo4j_ops;   /* graph_neo4j.c */

#endif /* AX_GRAPH_H */
