/* retrieve.h - the IncidentAgent's retrieval: everything known around an
 * incident, gathered once, then handed to the heuristic (as a struct
 * reason_context), to the model (as a prompt within a byte budget) and to
 * the stage row (as JSON).
 *
 * What is gathered (issue 5, "Retrieval"): the incident's alerts, the
 * deploys of its services shortly before, the configuration items the
 * alerts name and their neighbourhood in the knowledge graph, similar past
 * incidents with what fixed them, and matching knowledge documents.
 * Postgres reads (incident, alerts, deploys and, on the postgres graph
 * backend, the Issue and document texts) happen in one tenant-scoped
 * transaction; graph calls run on the graph store's own connection. */
#ifndef REASON_RETRIEVE_H
#define REASON_RETRIEVE_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "alexus/err.h"
#include "alexus/graph.h"
#include "alexus/pg.h"
#include "alexus/signal.h"
#include "heuristic.h"

#define REASON_RETRIEVE_ALERTS_MAX 50   /* alerts, the root included */
#define REASON_RETRIEVE_DEPLOYS_MAX 5
#define REASON_RETRIEVE_SIMILAR_MAX 5
#define REASON_RETRIEVE_DOCS_MAX 3
#define REASON_RETRIEVE_CI_MAX 32       /* start items and neighbours together */
#define REASON_RETRIEVE_CI_DEPTH 2      /* blast radius depth around each start item */
#define REASON_RETRIEVE_SNIPPET_MAX 400 /* bytes of a document's body kept, whole characters */

/* A row of deploys (0009).  Strings owned; NULL when the row has none. */
struct reason_retrieved_deploy {
	char *name;
	char *kind;             /* "deploy" or "change" */
	char *service;
	char *namespace_;
	char *version;
	char *previous_version; /* version of the service's deploy before this one */
	char *source;
	long age_s;             /* seconds before the retrieval, >= 0 */
};

/* A past incident or known error (a graph Issue). */
struct reason_retrieved_similar {
	char *id;
	char *title;
	char *kind;             /* "incident" or "known_error" */
	char *category;         /* from its body's "Category:" line or its incident row; NULL */
	char *fix;              /* what fixed it, "" when unknown */
	char *resolution;       /* the fix's action type ("rollback_deployment: ..."), NULL */
	double score;           /* hybrid score scaled to [0, 1]: 1 = first in both rankings */
};

/* A configuration item: one the alerts name (depth 0) or a neighbour. */
struct reason_retrieved_ci {
	char *id;
	char *name;
	char *type;
	char *relation;         /* kind of the last edge from the start item; NULL at depth 0 */
	char *start;            /* id of the item the walk started from */
	int depth;              /* 0 = named by an alert */
};

struct reason_retrieved_doc {
	char *id;
	char *title;
	char *snippet;          /* start of the body, at most REASON_RETRIEVE_SNIPPET_MAX bytes */
	char *source;
	double score;           /* as for similar */
};

/* Everything is owned by the struct and freed by reason_retrieval_release;
 * ctx's arrays point into the arrays below. */
struct reason_retrieval {
	struct reason_context ctx;   /* for reason_investigate */
	struct ax_signal *alerts;    /* firing first; the root alert first of all */
	int nalerts;
	char *incident_id;
	char *title;                 /* the incident's title */
	struct reason_retrieved_deploy *deploys;   /* newest first (see reason_retrieve) */
	int ndeploys;
	struct reason_retrieved_similar *similar;  /* best first */
	int nsimilar;
	struct reason_retrieved_ci *ci;            /* start items, then neighbours by depth */
	int nci;
	struct reason_retrieved_doc *docs;         /* best first */
	int ndocs;
	/* private: the arrays ctx points at */
	struct reason_deploy *ctx_deploys_;
	struct reason_similar *ctx_similar_;
	const char **ctx_ci_;
};

/* Gather the context of incident incident_id of tenant into out (which
 * is overwritten: no need to init; release it even after an error).
 *
 * root is the signal that opened the incident (with its description,
 * annotations and labels), copied as alerts[0]; NULL takes every alert
 * from the table.  The other alerts are the incident's rows of alerts
 * other than the root's fingerprint, firing first, newest first, up to
 * REASON_RETRIEVE_ALERTS_MAX in all.
 *
 * pg is the application connection, not inside a transaction: the reads
 * run in one transaction of tenant's, committed before the return.  g may
 * be NULL: no CIs, similar incidents or documents, deploys still.
 *
 * Deploys: rows of deploys within window_s seconds before now whose
 * service is one of the incident's (the incident's and the alerts'
 * services) or, failing that, whose namespace is one of the alerts'; the
 * service matches come first, each group newest first, at most
 * REASON_RETRIEVE_DEPLOYS_MAX.  previous_version is the version of the
 * newest earlier deploy of the same service with a different version.
 *
 * Similar: hybrid search over Issues with the incident's title and the
 * root's summary, without the incident's own Issue (the id
 * reason_cmdb_index_incident gives it), at most REASON_RETRIEVE_SIMILAR_MAX.
 * CIs: the items whose id or name is an alert's service, host or
 * namespace, and their blast radius (both directions, depth
 * REASON_RETRIEVE_CI_DEPTH), at most REASON_RETRIEVE_CI_MAX; their names
 * are ctx.ci.  Documents: hybrid search, at most REASON_RETRIEVE_DOCS_MAX.
 *
 * Errors: AX_EINVAL (bad tenant or incident id, window_s < 0),
 * AX_ENOTFOUND (no such incident for the tenant), AX_EIO and the graph's
 * errors, with errbuf set. */
ax_err reason_retrieve(struct ax_pg *pg, struct ax_graph *g, const char *tenant,
		       const char *incident_id, const struct ax_signal *root, long window_s,
		       struct reason_retrieval *out, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Free what r holds and zero it; NULL-safe, harmless twice. */
void reason_retrieval_release(struct reason_retrieval *r);

/* The user message for the model: plain text in sections (the incident
 * and its alerts, recent deploys, configuration items, similar past
 * incidents with their fixes, knowledge), at most budget bytes (its
 * strlen).  When everything does not fit, whole lines are dropped from the
 * least important section first, last line first: knowledge, then similar
 * incidents, then configuration items, then the alerts other than the
 * root (a section whose every line went loses its heading too).  The
 * incident line, the root alert and the deploys are always kept; if they
 * alone exceed the budget the text is cut at the budget.  A cut never
 * splits a UTF-8 character.  Never NULL; free() it. */
char *reason_prompt_build(const struct reason_retrieval *r, size_t budget);

/* What was retrieved, for the stage row's output (a new tree):
 * {"alerts":N,"deploys":[{"name","service","version","age_s"}],
 *  "similar":[{"id","title","category","fix","score"}],"ci":["name",...],
 *  "docs":["title",...]}. */
cJSON *reason_retrieval_json(const struct reason_retrieval *r);

#endif /* REASON_RETRIEVE_H */
