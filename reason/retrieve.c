/* retrieve.c - the IncidentAgent's retrieval and its prompt (see
 * retrieve.h).
 *
 * Order of work.  One tenant transaction on the application connection
 * holds every Postgres read, so they see one snapshot: the incident, its
 * alerts, the deploys, then (once the graph has answered) the texts of the
 * Issues and documents the searches found.  The graph calls (blast radius,
 * hybrid searches) go through the graph store on its own connection in
 * between; they are reads too, so holding the snapshot open for them
 * costs no lock.
 *
 * XXX(issue 8): graph.h returns an Issue's or a document's id and title,
 * not its body or fix, and finds items by id, not by name.  On the
 * postgres backend those are read here from the graph tables (same
 * database, same tenant scoping); with another backend the start items are
 * the alerts' values taken as ids, and similar incidents and documents
 * come without fix, category or snippet, until graph.h grows lookups.
 *
 * The prompt is a list of lines with a priority each; lines are dropped,
 * least important first and last line first, until the text fits the
 * budget (retrieve.h).  The text is plain: the model reads sections with
 * headings better than JSON, and the budget is counted in bytes, which a
 * caller can turn into a token estimate. */
#define _GNU_SOURCE /* vasprintf */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "retrieve.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/mem.h"

#define RT_LINE_MAX 600      /* bytes of one alert, CI or similar line of the prompt */
#define RT_QUERY_MAX 1000    /* bytes of a search query */
#define RT_STARTS_MAX 16     /* start items of the CI walk */

/* ------------------------------------------------------------ text helpers */

/* The longest prefix of s of at most max bytes that ends on a character
 * boundary (a UTF-8 continuation byte is 10xxxxxx). */
static size_t utf8_prefix(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static char *dup_prefix(const char *s, size_t max)
{
	return s != NULL ? ax_xstrndup(s, utf8_prefix(s, max)) : NULL;
}

/* The value of column c of row i, owned; NULL for SQL NULL. */
static char *col(const PGresult *res, int i, int c)
{
	return PQgetisnull(res, i, c) ? NULL : ax_xstrdup(PQgetvalue(res, i, c));
}

static int nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Append s to the JSON array of strings a unless it is empty or there. */
static void set_add(cJSON *a, const char *s)
{
	const cJSON *x;

	if (!nonempty(s))
		return;
	cJSON_ArrayForEach(x, a)
		if (strcmp(x->valuestring, s) == 0)
			return;
	cJSON_AddItemToArray(a, cJSON_CreateString(s));
}

/* A search query from free text: websearch_to_tsquery reads "-word" as NOT
 * and "or" as OR, so only word characters (and inner "-", "_", ".")
 * are kept, and a lone "or" is dropped. */
static char *search_query(const char *a, const char *b)
{
	char *raw = ax_xasprintf("%s %s", a ? a : "", b ? b : ""), *q, *w;
	size_t i, n = utf8_prefix(raw, RT_QUERY_MAX), o = 0;

	q = ax_xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)raw[i];
		int word = isalnum(ch) || ch >= 0x80 ||
			   ((ch == '-' || ch == '_' || ch == '.') && o > 0 && q[o - 1] != ' ');

		q[o++] = word ? (char)ch : ' ';
	}
	q[o] = '\0';
	free(raw);
	/* drop " or " words */
	for (w = q; (w = strstr(w, "or")) != NULL; w += 2)
		if ((w == q || w[-1] == ' ') && (w[2] == ' ' || w[2] == '\0'))
			w[0] = w[1] = ' ';
	return q;
}

/* ------------------------------------------------------------ signals */

static void copy_signal(struct ax_signal *d, const struct ax_signal *s)
{
	ax_signal_init(d);
	d->kind = s->kind;
	d->status = s->status;
	d->severity = s->severity;
	d->name = ax_xstrdup(s->name);
	d->summary = ax_xstrdup(s->summary);
	d->description = ax_xstrdup(s->description);
	d->service = ax_xstrdup(s->service);
	d->host = ax_xstrdup(s->host);
	d->namespace_ = ax_xstrdup(s->namespace_);
	if (s->labels != NULL) {
		cJSON_Delete(d->labels);
		d->labels = cJSON_Duplicate(s->labels, 1);
	}
	if (s->annotations != NULL) {
		cJSON_Delete(d->annotations);
		d->annotations = cJSON_Duplicate(s->annotations, 1);
	}
	if (d->labels == NULL || d->annotations == NULL)
		abort();   /* cJSON_Duplicate fails only without memory: OOM aborts (mem.h) */
	d->starts_at = ax_xstrdup(s->starts_at);
	d->ends_at = ax_xstrdup(s->ends_at);
	d->source = ax_xstrdup(s->source);
	d->source_id = ax_xstrdup(s->source_id);
	d->source_url = ax_xstrdup(s->source_url);
	memcpy(d->fingerprint, s->fingerprint, sizeof(d->fingerprint));
	/* raw stays NULL: nothing downstream of retrieval reads the payload */
}

/* Columns of ALERTS_SQL, in order. */
enum { A_FP, A_NAME, A_STATUS, A_SEV, A_SUMMARY, A_SERVICE, A_HOST, A_NS, A_LABELS, A_SOURCE,
       A_STARTS };

#define ALERTS_SQL                                                                         \
	"SELECT fingerprint, name, status, severity, summary, service, host, namespace,"   \
	" labels::text, source,"                                                           \
	" to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"         \
	" FROM alerts WHERE incident_id = $1 AND fingerprint <> $2"                        \
	" ORDER BY status = 'firing' DESC, updated_at DESC, id LIMIT $3"

static void signal_of_row(struct ax_signal *s, const PGresult *res, int i)
{
	const char *v;
	cJSON *labels;

	ax_signal_init(s);
	s->name = col(res, i, A_NAME);
	(void)ax_status_parse(PQgetvalue(res, i, A_STATUS), &s->status);
	(void)ax_severity_parse(PQgetvalue(res, i, A_SEV), &s->severity);
	s->summary = col(res, i, A_SUMMARY);
	s->service = col(res, i, A_SERVICE);
	s->host = col(res, i, A_HOST);
	s->namespace_ = col(res, i, A_NS);
	v = PQgetvalue(res, i, A_LABELS);
	labels = ax_json_parse(v, strlen(v), AX_JSON_ENTRY_DEPTH);
	if (cJSON_IsObject(labels)) {
		cJSON_Delete(s->labels);
		s->labels = labels;
	} else {
		cJSON_Delete(labels);
	}
	s->source = col(res, i, A_SOURCE);
	s->starts_at = col(res, i, A_STARTS);
	snprintf(s->fingerprint, sizeof(s->fingerprint), "%s", PQgetvalue(res, i, A_FP));
}

/* ------------------------------------------------------------ the reads */

struct rt_state {
	struct ax_pg *pg;
	struct ax_graph *g;
	const char *tenant;
	struct reason_retrieval *r;
	const struct ax_signal *root;
	char *service;           /* the incident row's service */
	cJSON *services;         /* ["svc", ...] of the incident and its alerts */
	cJSON *namespaces;
	cJSON *names;            /* service, host and namespace values: CI candidates */
	char *errbuf;
	size_t errlen;
};

static PGresult *q(struct rt_state *st, const char *what, const char *sql, int n,
		   const char *const *params)
{
	char e[512];
	PGresult *res = ax_pg_exec(st->pg, e, sizeof(e), sql, n, params);

	if (res == NULL)
		ax_errfmt(st->errbuf, st->errlen, "retrieve %s: %s", what, e);
	return res;
}

static ax_err read_incident(struct rt_state *st, const char *id)
{
	const char *p[1] = { id };
	PGresult *res = q(st, "incident", "SELECT title, service FROM incidents WHERE id = $1",
			  1, p);

	if (res == NULL)
		return AX_EIO;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ax_errfmt(st->errbuf, st->errlen, "retrieve: no incident %s", id),
		       AX_ENOTFOUND;
	}
	st->r->title = col(res, 0, 0);
	st->service = col(res, 0, 1);
	PQclear(res);
	return AX_OK;
}

static void note_values(struct rt_state *st, const struct ax_signal *s)
{
	set_add(st->services, s->service);
	set_add(st->namespaces, s->namespace_);
	set_add(st->names, s->service);
	set_add(st->names, s->host);
	set_add(st->names, s->namespace_);
}

static ax_err read_alerts(struct rt_state *st, const char *id)
{
	struct reason_retrieval *r = st->r;
	char lim[16];
	const char *p[3];
	PGresult *res;
	int i, n, first = st->root != NULL ? 1 : 0;

	snprintf(lim, sizeof(lim), "%d", REASON_RETRIEVE_ALERTS_MAX - first);
	p[0] = id;
	p[1] = st->root != NULL ? st->root->fingerprint : "";
	p[2] = lim;
	res = q(st, "alerts", ALERTS_SQL, 3, p);
	if (res == NULL)
		return AX_EIO;
	n = PQntuples(res);
	r->alerts = ax_xcalloc((size_t)(n + first) + 1, sizeof(*r->alerts));
	if (st->root != NULL)
		copy_signal(&r->alerts[r->nalerts++], st->root);
	for (i = 0; i < n; i++)
		signal_of_row(&r->alerts[r->nalerts++], res, i);
	PQclear(res);

	set_add(st->services, st->service);
	set_add(st->names, st->service);
	for (i = 0; i < r->nalerts; i++)
		note_values(st, &r->alerts[i]);
	return AX_OK;
}

/* Deploys (retrieve.h): service matches first, then namespace-only
 * matches; newest first within each. */
#define DEPLOYS_SQL                                                                           \
	"WITH s AS (SELECT jsonb_array_elements_text($1::jsonb) AS v),"                        \
	" n AS (SELECT jsonb_array_elements_text($2::jsonb) AS v)"                             \
	" SELECT d.name, d.kind, d.service, d.namespace, d.version, d.source,"                 \
	"  greatest(0, floor(extract(epoch FROM now() - d.at)))::bigint,"                      \
	"  (SELECT p.version FROM deploys p WHERE p.service = d.service AND p.at < d.at"       \
	"    AND p.version IS NOT NULL AND p.version IS DISTINCT FROM d.version"               \
	"    ORDER BY p.at DESC LIMIT 1)"                                                       \
	" FROM deploys d"                                                                       \
	" WHERE d.at >= now() - make_interval(secs => $3::double precision)"                   \
	"  AND (d.service IN (SELECT v FROM s) OR d.namespace IN (SELECT v FROM n))"           \
	" ORDER BY d.service IN (SELECT v FROM s) DESC, d.at DESC, d.id LIMIT $4"

static ax_err read_deploys(struct rt_state *st, long window_s)
{
	struct reason_retrieval *r = st->r;
	char *svcs = ax_json_print(st->services), *nss = ax_json_print(st->namespaces);
	char win[32], lim[16];
	const char *p[4] = { svcs, nss, win, lim };
	PGresult *res;
	int i, n;

	snprintf(win, sizeof(win), "%ld", window_s);
	snprintf(lim, sizeof(lim), "%d", REASON_RETRIEVE_DEPLOYS_MAX);
	res = q(st, "deploys", DEPLOYS_SQL, 4, p);
	free(svcs);
	free(nss);
	if (res == NULL)
		return AX_EIO;
	n = PQntuples(res);
	r->deploys = ax_xcalloc((size_t)n + 1, sizeof(*r->deploys));
	for (i = 0; i < n; i++) {
		struct reason_retrieved_deploy *d = &r->deploys[r->ndeploys++];

		d->name = col(res, i, 0);
		d->kind = col(res, i, 1);
		d->service = col(res, i, 2);
		d->namespace_ = col(res, i, 3);
		d->version = col(res, i, 4);
		d->source = col(res, i, 5);
		d->age_s = strtol(PQgetvalue(res, i, 6), NULL, 10);
		d->previous_version = col(res, i, 7);
	}
	PQclear(res);
	return AX_OK;
}

static int is_postgres(struct ax_graph *g)
{
	const char *b = ax_graph_backend(g);

	return b != NULL && strcmp(b, "postgres") == 0;
}

static int ci_index(const struct reason_retrieval *r, const char *id)
{
	int i;

	for (i = 0; i < r->nci; i++)
		if (strcmp(r->ci[i].id, id) == 0)
			return i;
	return -1;
}

static void ci_add(struct reason_retrieval *r, const char *id, const char *name, const char *type,
		   const char *relation, const char *start, int depth)
{
	struct reason_retrieved_ci *c;

	if (r->nci >= REASON_RETRIEVE_CI_MAX || ci_index(r, id) >= 0)
		return;
	c = &r->ci[r->nci++];
	c->id = ax_xstrdup(id);
	c->name = ax_xstrdup(nonempty(name) ? name : id);
	c->type = ax_xstrdup(type != NULL ? type : "");
	c->relation = ax_xstrdup(relation);
	c->start = ax_xstrdup(start);
	c->depth = depth;
}

/* The items the alerts name: by id or name on the postgres backend, by id
 * elsewhere (see the top of the file). */
static ax_err read_start_items(struct rt_state *st)
{
	struct reason_retrieval *r = st->r;
	const cJSON *x;

	r->ci = ax_xcalloc(REASON_RETRIEVE_CI_MAX, sizeof(*r->ci));
	if (is_postgres(st->g)) {
		char *names = ax_json_print(st->names), lim[16];
		const char *p[2] = { names, lim };
		PGresult *res;
		int i;

		snprintf(lim, sizeof(lim), "%d", RT_STARTS_MAX);
		res = q(st, "items",
			"WITH c AS (SELECT jsonb_array_elements_text($1::jsonb) AS v)"
			" SELECT id, name, type FROM configuration_items"
			" WHERE id IN (SELECT v FROM c) OR name IN (SELECT v FROM c)"
			" ORDER BY id LIMIT $2",
			2, p);
		free(names);
		if (res == NULL)
			return AX_EIO;
		for (i = 0; i < PQntuples(res); i++)
			ci_add(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			       PQgetvalue(res, i, 2), NULL, PQgetvalue(res, i, 0), 0);
		PQclear(res);
		return AX_OK;
	}
	cJSON_ArrayForEach(x, st->names) {
		if (r->nci >= RT_STARTS_MAX)
			break;
		ci_add(r, x->valuestring, x->valuestring, "", NULL, x->valuestring, 0);
	}
	return AX_OK;
}

/* The neighbourhood of each start item.  A start taken as an id that is
 * not an item (another backend) is dropped. */
static ax_err walk_items(struct rt_state *st)
{
	struct reason_retrieval *r = st->r;
	int nstart = r->nci, i, kept = 0;
	size_t j;

	for (i = 0; i < nstart; i++) {
		struct ax_graph_nodes nodes;
		char e[512];
		/* Bounded fan-out: around a hub (a host every service runs
		 * on) a full walk is every service, twice, for a context that
		 * keeps REASON_RETRIEVE_CI_MAX items anyway. */
		ax_err rc = ax_graph_neighbourhood(st->g, st->tenant, r->ci[i].id,
						   REASON_RETRIEVE_CI_DEPTH, REASON_RETRIEVE_CI_MAX,
						   &nodes, e, sizeof(e));

		if (rc == AX_ENOTFOUND) {
			r->ci[i].depth = -1;   /* not an item: removed below */
			continue;
		}
		if (rc != AX_OK)
			return ax_errfmt(st->errbuf, st->errlen, "retrieve: %s", e), rc;
		for (j = 0; j < nodes.n; j++)
			ci_add(r, nodes.v[j].id, nodes.v[j].name, nodes.v[j].type, nodes.v[j].via,
			       r->ci[i].id, nodes.v[j].depth);
		ax_graph_nodes_release(&nodes);
	}
	for (i = 0; i < r->nci; i++) {
		if (r->ci[i].depth < 0) {
			struct reason_retrieved_ci *c = &r->ci[i];

			free(c->id), free(c->name), free(c->type), free(c->relation), free(c->start);
			continue;
		}
		r->ci[kept++] = r->ci[i];
	}
	r->nci = kept;
	return AX_OK;
}

/* Hybrid RRF scores are at most 2 / (K + 1) (first in both rankings):
 * scaled so that is 1, the [0, 1] the heuristic expects. */
static double unit_score(double s)
{
	s /= 2.0 / (AX_GRAPH_RRF_K + 1);
	return s > 1.0 ? 1.0 : s < 0.0 ? 0.0 : s;
}

/* "Category: x" line of an Issue body (reason_cmdb_index_incident). */
static char *category_of_body(const char *body)
{
	const char *p;

	for (p = body; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncasecmp(p, "Category:", 9) == 0) {
			p += 9;
			while (*p == ' ')
				p++;
			return nonempty(p) ? ax_xstrndup(p, strcspn(p, "\r\n")) : NULL;
		}
	}
	return NULL;
}

/* The action type a fix starts with ("rollback_deployment: ..."), NULL
 * when it does not start with one. */
static char *resolution_of(const char *fix)
{
	size_t n = 0;

	if (fix == NULL)
		return NULL;
	while (fix[n] == '_' || (fix[n] >= 'a' && fix[n] <= 'z'))
		n++;
	if (n == 0 || (fix[n] != ':' && fix[n] != '\0'))
		return NULL;
	return ax_xstrndup(fix, n);
}

static ax_err read_similar(struct rt_state *st, const char *query, const char *self)
{
	struct reason_retrieval *r = st->r;
	struct ax_graph_hits hits;
	char e[512];
	size_t i;
	ax_err rc;
	cJSON *ids = cJSON_CreateArray();

	rc = ax_graph_search_hybrid(st->g, st->tenant, query, AX_GRAPH_ISSUE,
				    REASON_RETRIEVE_SIMILAR_MAX + 1, &hits, e, sizeof(e));
	if (rc != AX_OK) {
		cJSON_Delete(ids);
		return ax_errfmt(st->errbuf, st->errlen, "retrieve similar: %s", e), rc;
	}
	r->similar = ax_xcalloc(REASON_RETRIEVE_SIMILAR_MAX + 1, sizeof(*r->similar));
	for (i = 0; i < hits.n && r->nsimilar < REASON_RETRIEVE_SIMILAR_MAX; i++) {
		struct reason_retrieved_similar *x;

		if (strcasecmp(hits.v[i].id, self) == 0)
			continue;
		x = &r->similar[r->nsimilar++];
		x->id = ax_xstrdup(hits.v[i].id);
		x->title = ax_xstrdup(hits.v[i].title);
		x->kind = ax_xstrdup(hits.v[i].type);
		x->fix = ax_xstrdup("");
		x->score = unit_score(hits.v[i].score);
		cJSON_AddItemToArray(ids, cJSON_CreateString(x->id));
	}
	ax_graph_hits_release(&hits);

	if (r->nsimilar > 0 && is_postgres(st->g)) {
		char *js = ax_json_print(ids);
		const char *p[1] = { js };
		PGresult *res = q(st, "similar",
				  "SELECT g.id, g.body, g.fix, i.category FROM graph_issues g"
				  " LEFT JOIN incidents i ON g.kind = 'incident'"
				  "  AND i.id::text = lower(g.id)"
				  " WHERE g.id IN (SELECT jsonb_array_elements_text($1::jsonb))",
				  1, p);
		int k, j;

		free(js);
		if (res == NULL) {
			cJSON_Delete(ids);
			return AX_EIO;
		}
		for (k = 0; k < PQntuples(res); k++) {
			for (j = 0; j < r->nsimilar; j++) {
				struct reason_retrieved_similar *x = &r->similar[j];

				if (strcmp(x->id, PQgetvalue(res, k, 0)) != 0)
					continue;
				free(x->fix);
				x->fix = dup_prefix(PQgetvalue(res, k, 2), RT_LINE_MAX);
				x->resolution = resolution_of(x->fix);
				x->category = category_of_body(PQgetvalue(res, k, 1));
				if (x->category == NULL)
					x->category = col(res, k, 3);
			}
		}
		PQclear(res);
	}
	cJSON_Delete(ids);
	return AX_OK;
}

static ax_err read_docs(struct rt_state *st, const char *query)
{
	struct reason_retrieval *r = st->r;
	struct ax_graph_hits hits;
	char e[512];
	size_t i;
	int k, j;
	ax_err rc;
	cJSON *ids = cJSON_CreateArray();

	rc = ax_graph_search_hybrid(st->g, st->tenant, query, AX_GRAPH_DOC,
				    REASON_RETRIEVE_DOCS_MAX, &hits, e, sizeof(e));
	if (rc != AX_OK) {
		cJSON_Delete(ids);
		return ax_errfmt(st->errbuf, st->errlen, "retrieve docs: %s", e), rc;
	}
	r->docs = ax_xcalloc(REASON_RETRIEVE_DOCS_MAX + 1, sizeof(*r->docs));
	for (i = 0; i < hits.n && r->ndocs < REASON_RETRIEVE_DOCS_MAX; i++) {
		struct reason_retrieved_doc *d = &r->docs[r->ndocs++];

		d->id = ax_xstrdup(hits.v[i].id);
		d->title = ax_xstrdup(hits.v[i].title);
		d->snippet = ax_xstrdup("");
		d->source = ax_xstrdup("");
		d->score = unit_score(hits.v[i].score);
		cJSON_AddItemToArray(ids, cJSON_CreateString(d->id));
	}
	ax_graph_hits_release(&hits);

	if (r->ndocs > 0 && is_postgres(st->g)) {
		char *js = ax_json_print(ids), lim[16];
		const char *p[2] = { js, lim };
		PGresult *res;

		snprintf(lim, sizeof(lim), "%d", REASON_RETRIEVE_SNIPPET_MAX);
		res = q(st, "docs",
			"SELECT id, left(body, $2::int), source FROM knowledge_docs"
			" WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))",
			2, p);
		free(js);
		if (res == NULL) {
			cJSON_Delete(ids);
			return AX_EIO;
		}
		for (k = 0; k < PQntuples(res); k++) {
			for (j = 0; j < r->ndocs; j++) {
				struct reason_retrieved_doc *d = &r->docs[j];

				if (strcmp(d->id, PQgetvalue(res, k, 0)) != 0)
					continue;
				free(d->snippet);
				free(d->source);
				d->snippet = dup_prefix(PQgetvalue(res, k, 1),
							REASON_RETRIEVE_SNIPPET_MAX);
				d->source = ax_xstrdup(PQgetvalue(res, k, 2));
			}
		}
		PQclear(res);
	}
	cJSON_Delete(ids);
	return AX_OK;
}

/* ctx's arrays, pointing into r's. */
static void build_context(struct reason_retrieval *r)
{
	int i;

	r->ctx_deploys_ = ax_xcalloc((size_t)r->ndeploys + 1, sizeof(*r->ctx_deploys_));
	for (i = 0; i < r->ndeploys; i++) {
		struct reason_deploy *d = &r->ctx_deploys_[r->ctx.ndeploys];

		if (r->deploys[i].service == NULL)
			continue;   /* the heuristic needs a service */
		d->service = r->deploys[i].service;
		d->namespace_ = r->deploys[i].namespace_;
		d->version = r->deploys[i].version;
		d->previous_version = r->deploys[i].previous_version;
		d->age_s = r->deploys[i].age_s;
		r->ctx.ndeploys++;
	}
	r->ctx_similar_ = ax_xcalloc((size_t)r->nsimilar + 1, sizeof(*r->ctx_similar_));
	for (i = 0; i < r->nsimilar; i++) {
		r->ctx_similar_[i].title = r->similar[i].title;
		r->ctx_similar_[i].category = r->similar[i].category;
		r->ctx_similar_[i].resolution = r->similar[i].resolution;
		r->ctx_similar_[i].score = r->similar[i].score;
	}
	r->ctx_ci_ = ax_xcalloc((size_t)r->nci + 1, sizeof(*r->ctx_ci_));
	for (i = 0; i < r->nci; i++)
		r->ctx_ci_[i] = r->ci[i].name;
	r->ctx.deploys = r->ctx_deploys_;
	r->ctx.similar = r->ctx_similar_;
	r->ctx.nsimilar = r->nsimilar;
	r->ctx.ci = r->ctx_ci_;
	r->ctx.nci = r->nci;
}

ax_err reason_retrieve(struct ax_pg *pg, struct ax_graph *g, const char *tenant,
		       const char *incident_id, const struct ax_signal *root, long window_s,
		       struct reason_retrieval *out, char *errbuf, size_t errlen)
{
	struct rt_state st;
	char *query = NULL;
	ax_err rc;

	memset(out, 0, sizeof(*out));
	if (pg == NULL || incident_id == NULL || !ax_uuid_valid(incident_id) || window_s < 0)
		return ax_errfmt(errbuf, errlen, "retrieve: bad incident id or window"),
		       AX_EINVAL;
	memset(&st, 0, sizeof(st));
	st.pg = pg;
	st.g = g;
	st.tenant = tenant;
	st.r = out;
	st.root = root;
	st.errbuf = errbuf;
	st.errlen = errlen;
	st.services = cJSON_CreateArray();
	st.namespaces = cJSON_CreateArray();
	st.names = cJSON_CreateArray();
	out->incident_id = ax_xstrdup(incident_id);

	rc = ax_pg_begin(pg, tenant, errbuf, errlen);
	if (rc != AX_OK)
		goto out;
	rc = read_incident(&st, incident_id);
	if (rc == AX_OK)
		rc = read_alerts(&st, incident_id);
	if (rc == AX_OK)
		rc = read_deploys(&st, window_s);
	if (rc == AX_OK && g != NULL) {
		query = search_query(out->title, root != NULL ? root->summary : NULL);
		rc = read_start_items(&st);
		if (rc == AX_OK)
			rc = walk_items(&st);
		if (rc == AX_OK)
			rc = read_similar(&st, query, incident_id);
		if (rc == AX_OK)
			rc = read_docs(&st, query);
	}
	if (rc == AX_OK)
		rc = ax_pg_commit(pg, errbuf, errlen);
	else
		ax_pg_rollback(pg);
	if (rc == AX_OK)
		build_context(out);
out:
	free(query);
	free(st.service);
	cJSON_Delete(st.services);
	cJSON_Delete(st.namespaces);
	cJSON_Delete(st.names);
	return rc;
}

void reason_retrieval_release(struct reason_retrieval *r)
{
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nalerts; i++)
		ax_signal_release(&r->alerts[i]);
	free(r->alerts);
	free(r->incident_id);
	free(r->title);
	for (i = 0; i < r->ndeploys; i++) {
		struct reason_retrieved_deploy *d = &r->deploys[i];

		free(d->name), free(d->kind), free(d->service), free(d->namespace_);
		free(d->version), free(d->previous_version), free(d->source);
	}
	free(r->deploys);
	for (i = 0; i < r->nsimilar; i++) {
		struct reason_retrieved_similar *x = &r->similar[i];

		free(x->id), free(x->title), free(x->kind), free(x->category), free(x->fix);
		free(x->resolution);
	}
	free(r->similar);
	for (i = 0; i < r->nci; i++) {
		struct reason_retrieved_ci *c = &r->ci[i];

		free(c->id), free(c->name), free(c->type), free(c->relation), free(c->start);
	}
	free(r->ci);
	for (i = 0; i < r->ndocs; i++) {
		struct reason_retrieved_doc *d = &r->docs[i];

		free(d->id), free(d->title), free(d->snippet), free(d->source);
	}
	free(r->docs);
	free(r->ctx_deploys_);
	free(r->ctx_similar_);
	free(r->ctx_ci_);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ the prompt */

/* Priorities: lower is kept longer.  P_KEEP lines are never dropped. */
enum { P_KEEP, P_ALERTS, P_CI, P_SIMILAR, P_DOCS };

struct pline {
	char *text;        /* without the newline */
	int prio;
	int heading;       /* the section's heading: goes with its last line */
	int kept;
};

struct plines {
	struct pline *v;
	int n, cap;
};

static void padd(struct plines *p, int prio, int heading, char *text)
{
	char *c;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		p->v = ax_xrealloc(p->v, (size_t)p->cap * sizeof(*p->v));
	}
	/* one line each: a newline inside a field would break the layout */
	for (c = text; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	p->v[p->n].text = text;
	p->v[p->n].prio = prio;
	p->v[p->n].heading = heading;
	p->v[p->n].kept = 1;
	p->n++;
}

/* A line from a format, cut to RT_LINE_MAX bytes on a character boundary. */
static char *line(const char *fmt, ...) AX_PRINTF(1, 2);
static char *line(const char *fmt, ...)
{
	va_list ap;
	char *s;
	size_t n;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();   /* vasprintf fails only without memory: OOM aborts (mem.h) */
	va_end(ap);
	n = utf8_prefix(s, RT_LINE_MAX);
	s[n] = '\0';
	return s;
}

static const char *or_dash(const char *s)
{
	return nonempty(s) ? s : "-";
}

static char *alert_line(const struct ax_signal *s, const char *tag)
{
	return line("%s %s %s %s service=%s host=%s namespace=%s: %s", tag,
		    ax_status_str(s->status), ax_severity_str(s->severity), or_dash(s->name),
		    or_dash(s->service), or_dash(s->host), or_dash(s->namespace_),
		    or_dash(s->summary));
}

/* "k=v, k=v" of a JSON object of strings, NULL when empty. */
static char *pairs(const cJSON *o)
{
	const cJSON *x;
	char *acc = NULL, *next;

	cJSON_ArrayForEach(x, o) {
		if (!cJSON_IsString(x))
			continue;
		next = ax_xasprintf("%s%s%s=%s", acc ? acc : "", acc ? ", " : "", x->string,
				    x->valuestring);
		free(acc);
		acc = next;
		if (strlen(acc) > RT_LINE_MAX)
			break;
	}
	return acc;
}

static void prompt_lines(const struct reason_retrieval *r, struct plines *p)
{
	char *kv;
	int i;

	padd(p, P_KEEP, 0, line("Incident: %s (%s)", or_dash(r->title), or_dash(r->incident_id)));
	/* no counts in the headings: what is shown depends on the budget */
	padd(p, P_KEEP, 0, line("## Alerts (the first one opened the incident)"));
	if (r->nalerts > 0) {
		const struct ax_signal *root = &r->alerts[0];

		padd(p, P_KEEP, 0, alert_line(root, "- [root]"));
		if (nonempty(root->description))
			padd(p, P_KEEP, 0, line("  description: %s", root->description));
		if ((kv = pairs(root->annotations)) != NULL) {
			padd(p, P_KEEP, 0, line("  annotations: %s", kv));
			free(kv);
		}
		if ((kv = pairs(root->labels)) != NULL) {
			padd(p, P_KEEP, 0, line("  labels: %s", kv));
			free(kv);
		}
	}
	for (i = 1; i < r->nalerts; i++)
		padd(p, P_ALERTS, 0, alert_line(&r->alerts[i], "-"));

	padd(p, P_KEEP, 0, line("## Recent deploys and changes"));
	for (i = 0; i < r->ndeploys; i++) {
		const struct reason_retrieved_deploy *d = &r->deploys[i];

		padd(p, P_KEEP, 0,
		     line("- %s: %s of service %s namespace %s, version %s (previous %s), %ld min "
			  "ago", or_dash(d->name), or_dash(d->kind), or_dash(d->service),
			  or_dash(d->namespace_), or_dash(d->version), or_dash(d->previous_version),
			  d->age_s / 60));
	}

	if (r->nci > 0) {
		padd(p, P_CI, 1, line("## Configuration items around the alerts"));
		for (i = 0; i < r->nci; i++) {
			const struct reason_retrieved_ci *c = &r->ci[i];

			if (c->depth == 0)
				padd(p, P_CI, 0, line("- %s (%s, id %s): named by the alerts",
						      c->name, or_dash(c->type), c->id));
			else
				padd(p, P_CI, 0, line("- %s (%s, id %s): %d hop%s from %s, via %s",
						      c->name, or_dash(c->type), c->id, c->depth,
						      c->depth > 1 ? "s" : "", or_dash(c->start),
						      or_dash(c->relation)));
		}
	}
	if (r->nsimilar > 0) {
		padd(p, P_SIMILAR, 1, line("## Similar past incidents"));
		for (i = 0; i < r->nsimilar; i++) {
			const struct reason_retrieved_similar *x = &r->similar[i];

			padd(p, P_SIMILAR, 0, line("- %s [%s, category %s, similarity %.2f] fix: %s",
						   or_dash(x->title), or_dash(x->kind),
						   or_dash(x->category), x->score, or_dash(x->fix)));
		}
	}
	if (r->ndocs > 0) {
		padd(p, P_DOCS, 1, line("## Knowledge"));
		for (i = 0; i < r->ndocs; i++)
			padd(p, P_DOCS, 0, line("- %s: %s", or_dash(r->docs[i].title),
						or_dash(r->docs[i].snippet)));
	}
}

/* Drop the last kept body line of the least important section that has
 * one (and the heading with the section's last line); 0 when only
 * P_KEEP lines are left. */
static size_t drop_one(struct plines *p)
{
	int prio, i, j, left;
	size_t freed;

	for (prio = P_DOCS; prio > P_KEEP; prio--) {
		for (i = p->n - 1; i >= 0; i--) {
			if (p->v[i].prio != prio || !p->v[i].kept || p->v[i].heading)
				continue;
			freed = strlen(p->v[i].text) + 1;
			p->v[i].kept = 0;
			for (j = 0, left = 0; j < p->n; j++)
				left += p->v[j].prio == prio && p->v[j].kept && !p->v[j].heading;
			if (left == 0)
				for (j = 0; j < p->n; j++)
					if (p->v[j].prio == prio && p->v[j].heading && p->v[j].kept) {
						p->v[j].kept = 0;
						freed += strlen(p->v[j].text) + 1;
					}
			return freed;
		}
	}
	return 0;
}

char *reason_prompt_build(const struct reason_retrieval *r, size_t budget)
{
	struct plines p = { 0 };
	size_t total = 0, freed, o = 0, n;
	char *out;
	int i;

	prompt_lines(r, &p);
	for (i = 0; i < p.n; i++)
		total += strlen(p.v[i].text) + 1;
	while (total > budget && (freed = drop_one(&p)) > 0)
		total -= freed;

	out = ax_xmalloc(total + 1);
	for (i = 0; i < p.n; i++) {
		if (p.v[i].kept) {
			n = strlen(p.v[i].text);
			memcpy(out + o, p.v[i].text, n);
			o += n;
			out[o++] = '\n';
		}
		free(p.v[i].text);
	}
	out[o] = '\0';
	free(p.v);
	out[utf8_prefix(out, budget)] = '\0';   /* the kept lines alone may exceed it */
	return out;
}

/* ------------------------------------------------------------ JSON */

cJSON *reason_retrieval_json(const struct reason_retrieval *r)
{
	cJSON *o = cJSON_CreateObject(), *a, *x;
	int i;

	cJSON_AddNumberToObject(o, "alerts", r->nalerts);
	a = cJSON_AddArrayToObject(o, "deploys");
	for (i = 0; i < r->ndeploys; i++) {
		x = cJSON_CreateObject();
		ax_json_add_str(x, "name", r->deploys[i].name, 1);
		ax_json_add_str(x, "service", r->deploys[i].service, 1);
		ax_json_add_str(x, "version", r->deploys[i].version, 1);
		cJSON_AddNumberToObject(x, "age_s", (double)r->deploys[i].age_s);
		cJSON_AddItemToArray(a, x);
	}
	a = cJSON_AddArrayToObject(o, "similar");
	for (i = 0; i < r->nsimilar; i++) {
		x = cJSON_CreateObject();
		ax_json_add_str(x, "id", r->similar[i].id, 1);
		ax_json_add_str(x, "title", r->similar[i].title, 1);
		ax_json_add_str(x, "category", r->similar[i].category, 1);
		ax_json_add_str(x, "fix", r->similar[i].fix, 1);
		cJSON_AddNumberToObject(x, "score", r->similar[i].score);
		cJSON_AddItemToArray(a, x);
	}
	a = cJSON_AddArrayToObject(o, "ci");
	for (i = 0; i < r->nci; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(r->ci[i].name));
	a = cJSON_AddArrayToObject(o, "docs");
	for (i = 0; i < r->ndocs; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(r->docs[i].title));
	return o;
}
