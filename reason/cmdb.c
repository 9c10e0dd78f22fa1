/* cmdb.c - the CMDBAgent (see cmdb.h).
 *
 * Both calls collect a small set of items and relations from signals,
 * ask the graph which of the items exist already, and write the rest with
 * the relations and (for an incident) the Issue in one ax_graph_upsert
 * batch, so a failure leaves nothing half written.
 *
 * Why ask first: ax_graph_upsert replaces an item's type, name and
 * attributes, and a deploy knows only a bare name; rewriting an item a
 * CMDB import described ("Checkout API", team, language) with that would
 * lose what the import said.  The probe is ax_graph_item_exists, one key
 * lookup per item (a depth-1 blast radius, as it first was, read every
 * relation of a hub item such as a host shared by many services).
 * Between the probe and the write
 * another writer may create the item; the later write wins, as any two
 * upserts would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdb.h"
#include "alexus/json.h"
#include "alexus/mem.h"

#define CM_ID_MAX 256           /* graph.h: ids are 1..256 characters */

struct cm_item {
	char *id;
	const char *type;   /* static */
	char *name;
	int created;        /* absent before this call: written by it */
};

struct cm_rel {
	const char *from;   /* borrowed from the items */
	const char *kind;   /* static */
	const char *to;
};

struct cm_set {
	struct cm_item *items;
	int nitems, capitems;
	struct cm_rel *rels;
	int nrels, caprels;
};

static void cm_set_release(struct cm_set *s)
{
	int i;

	for (i = 0; i < s->nitems; i++) {
		free(s->items[i].id);
		free(s->items[i].name);
	}
	free(s->items);
	free(s->rels);
	memset(s, 0, sizeof(*s));
}

static int usable(const char *v)
{
	const unsigned char *p;

	if (v == NULL || v[0] == '\0')
		return 0;
	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* The item of type for value (the id rules of cmdb.h); NULL when value
 * cannot be an item (absent, control characters, too long an id). */
static const char *cm_add_item(struct cm_set *s, const char *type, const char *value)
{
	char *id;
	int i;

	if (!usable(value))
		return NULL;
	if (strcmp(type, "namespace") == 0)
		id = ax_xasprintf("%s%s", REASON_CMDB_NS_PREFIX, value);
	else
		id = ax_xstrdup(value);
	if (strlen(id) > CM_ID_MAX || strlen(value) > 1024) {
		free(id);
		return NULL;
	}
	for (i = 0; i < s->nitems; i++) {
		if (strcmp(s->items[i].id, id) == 0) {
			free(id);
			return s->items[i].id;
		}
	}
	if (s->nitems == s->capitems) {
		s->capitems = s->capitems ? s->capitems * 2 : 8;
		s->items = ax_xrealloc(s->items, (size_t)s->capitems * sizeof(*s->items));
	}
	s->items[s->nitems].id = id;
	s->items[s->nitems].type = type;
	s->items[s->nitems].name = ax_xstrdup(value);
	s->items[s->nitems].created = 0;
	return s->items[s->nitems++].id;
}

static void cm_add_rel(struct cm_set *s, const char *from, const char *kind, const char *to)
{
	int i;

	/* An edge needs two different items (ci_relations refuses a loop). */
	if (from == NULL || to == NULL || strcmp(from, to) == 0)
		return;
	for (i = 0; i < s->nrels; i++)
		if (strcmp(s->rels[i].from, from) == 0 && strcmp(s->rels[i].kind, kind) == 0 &&
		    strcmp(s->rels[i].to, to) == 0)
			return;
	if (s->nrels == s->caprels) {
		s->caprels = s->caprels ? s->caprels * 2 : 8;
		s->rels = ax_xrealloc(s->rels, (size_t)s->caprels * sizeof(*s->rels));
	}
	s->rels[s->nrels].from = from;
	s->rels[s->nrels].kind = kind;
	s->rels[s->nrels].to = to;
	s->nrels++;
}

/* The repository a deploy came from: GitHub's "repository" label, GitLab's
 * "project" (both owner/name). */
static const char *repository_of(const struct ax_signal *s)
{
	const char *v = ax_json_str(s->labels, "repository");

	if (v == NULL && s->source != NULL && strcmp(s->source, "gitlab") == 0)
		v = ax_json_str(s->labels, "project");
	return v;
}

/* The items and relations one signal names (the repository only for a
 * deploy or change: an alert's "repository" label says nothing of what
 * was deployed). */
static void cm_collect(struct cm_set *set, const struct ax_signal *s, int with_repo)
{
	const char *svc, *ns, *host, *repo;

	svc = cm_add_item(set, "service", s->service);
	ns = cm_add_item(set, "namespace", s->namespace_);
	host = cm_add_item(set, "host", s->host);
	repo = with_repo ? cm_add_item(set, "repository", repository_of(s)) : NULL;
	cm_add_rel(set, svc, "part_of", ns);
	cm_add_rel(set, svc, "runs_on", host);
	cm_add_rel(set, repo, "deploys_to", svc);
}

/* Mark the items that do not exist yet (see the top of the file). */
static ax_err cm_probe(struct ax_graph *g, const char *tenant, struct cm_set *set, char *errbuf,
		       size_t errlen)
{
	int i;

	for (i = 0; i < set->nitems; i++) {
		ax_err rc = ax_graph_item_exists(g, tenant, set->items[i].id, errbuf, errlen);

		if (rc == AX_ENOTFOUND)
			set->items[i].created = 1;
		else if (rc != AX_OK)
			return rc;
	}
	return AX_OK;
}

/* The batch's arrays for set plus issues (may be NULL); free() the two
 * arrays after the upsert. */
static void cm_batch(const struct cm_set *set, struct ax_graph_batch *b,
		     struct ax_graph_item **items, struct ax_graph_relation **rels)
{
	int i;

	memset(b, 0, sizeof(*b));
	*items = ax_xcalloc((size_t)set->nitems + 1, sizeof(**items));
	*rels = ax_xcalloc((size_t)set->nrels + 1, sizeof(**rels));
	for (i = 0; i < set->nitems; i++) {
		struct ax_graph_item *it = &(*items)[b->nitems];

		if (!set->items[i].created)
			continue;
		it->id = set->items[i].id;
		it->type = set->items[i].type;
		it->name = set->items[i].name;
		it->attributes = "{\"source\":\"alexus-cmdb\"}";
		b->nitems++;
	}
	for (i = 0; i < set->nrels; i++) {
		(*rels)[i].from = set->rels[i].from;
		(*rels)[i].kind = set->rels[i].kind;
		(*rels)[i].to = set->rels[i].to;
	}
	b->items = *items;
	b->relations = *rels;
	b->nrelations = (size_t)set->nrels;
}

ax_err reason_cmdb_apply(struct ax_graph *g, const char *tenant, const struct ax_signal *s,
			 cJSON **output, char *errbuf, size_t errlen)
{
	struct cm_set set = { 0 };
	struct ax_graph_batch b;
	struct ax_graph_item *items = NULL;
	struct ax_graph_relation *rels = NULL;
	struct ax_graph_counts counts = { 0 };
	cJSON *out, *arr, *c;
	ax_err rc;
	int i;

	*output = NULL;
	if (g == NULL) {
		out = cJSON_CreateObject();
		cJSON_AddStringToObject(out, "skipped", "no graph");
		*output = out;
		return AX_OK;
	}
	if (s == NULL)
		return ax_errfmt(errbuf, errlen, "cmdb: no signal"), AX_EINVAL;
	cm_collect(&set, s, s->kind == AX_KIND_DEPLOY || s->kind == AX_KIND_CHANGE);
	rc = cm_probe(g, tenant, &set, errbuf, errlen);
	if (rc == AX_OK && set.nitems > 0) {
		cm_batch(&set, &b, &items, &rels);
		rc = ax_graph_upsert(g, tenant, &b, &counts, errbuf, errlen);
		free(items);
		free(rels);
	}
	if (rc != AX_OK) {
		cm_set_release(&set);
		return rc;
	}

	out = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(out, "items");
	for (i = 0; i < set.nitems; i++) {
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "id", set.items[i].id);
		cJSON_AddStringToObject(c, "type", set.items[i].type);
		cJSON_AddStringToObject(c, "name", set.items[i].name);
		cJSON_AddBoolToObject(c, "created", set.items[i].created);
		cJSON_AddItemToArray(arr, c);
	}
	arr = cJSON_AddArrayToObject(out, "relations");
	for (i = 0; i < set.nrels; i++) {
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "from", set.rels[i].from);
		cJSON_AddStringToObject(c, "kind", set.rels[i].kind);
		cJSON_AddStringToObject(c, "to", set.rels[i].to);
		cJSON_AddItemToArray(arr, c);
	}
	c = cJSON_AddObjectToObject(out, "counts");
	cJSON_AddNumberToObject(c, "items", (double)counts.items);
	cJSON_AddNumberToObject(c, "relations", (double)counts.relations);
	cm_set_release(&set);
	*output = out;
	return AX_OK;
}

/* analysis.actions[0] as "type: reason" (or just the type), "" without. */
static char *fix_of(const cJSON *analysis)
{
	const cJSON *acts = cJSON_GetObjectItemCaseSensitive(analysis, "actions");
	const cJSON *first = cJSON_IsArray(acts) ? cJSON_GetArrayItem(acts, 0) : NULL;
	const char *type = ax_json_str(first, "type"), *why = ax_json_str(first, "reason");

	if (type == NULL)
		return ax_xstrdup("");
	return why != NULL ? ax_xasprintf("%s: %s", type, why) : ax_xstrdup(type);
}

/* summary, "Probable cause: ...", "Category: ..." lines, those present;
 * reason_retrieve reads the category back from the last one. */
static char *body_of(const cJSON *analysis)
{
	const char *summary = ax_json_str(analysis, "summary");
	const char *cause = ax_json_str(analysis, "probable_cause");
	const char *cat = ax_json_str(analysis, "category");

	return ax_xasprintf("%s%s%s%s%s%s%s", summary ? summary : "", summary ? "\n" : "",
			    cause ? "Probable cause: " : "", cause ? cause : "", cause ? "\n" : "",
			    cat ? "Category: " : "", cat ? cat : "");
}

ax_err reason_cmdb_index_incident(struct ax_graph *g, const char *tenant,
				  const char *incident_id, const char *title,
				  const cJSON *analysis, const struct ax_signal *alerts,
				  int nalerts, char *errbuf, size_t errlen)
{
	struct cm_set set = { 0 };
	struct ax_graph_batch b;
	struct ax_graph_item *items = NULL;
	struct ax_graph_relation *rels = NULL;
	struct ax_graph_issue is;
	const char **links;
	char *body, *fix;
	ax_err rc;
	int i;

	if (g == NULL)
		return AX_OK;
	if (incident_id == NULL || title == NULL || title[0] == '\0')
		return ax_errfmt(errbuf, errlen, "cmdb: incident id and title are required"),
		       AX_EINVAL;
	for (i = 0; i < nalerts; i++)
		cm_collect(&set, &alerts[i], 0);
	rc = cm_probe(g, tenant, &set, errbuf, errlen);
	if (rc != AX_OK) {
		cm_set_release(&set);
		return rc;
	}

	body = body_of(analysis);
	fix = fix_of(analysis);
	links = ax_xcalloc((size_t)set.nitems + 1, sizeof(*links));
	for (i = 0; i < set.nitems; i++)
		links[i] = set.items[i].id;

	cm_batch(&set, &b, &items, &rels);
	memset(&is, 0, sizeof(is));
	is.id = incident_id;
	is.kind = "incident";
	is.title = title;
	is.body = body;
	is.fix = fix;
	is.items = links;
	is.nitems = (size_t)set.nitems;
	b.issues = &is;
	b.nissues = 1;
	rc = ax_graph_upsert(g, tenant, &b, NULL, errbuf, errlen);

	free(items);
	free(rels);
	free(links);
	free(body);
	free(fix);
	cm_set_release(&set);
	return rc;
}
