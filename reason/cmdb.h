/* cmdb.h - the CMDBAgent: what deploy and change signals, and incidents,
 * teach the knowledge graph.
 *
 * A deploy names a service, often its namespace and host, and (GitHub,
 * GitLab) the repository it came from; each becomes a configuration item
 * and the pairs become relations, so the next incident on that service
 * finds its neighbourhood.  An incident, once analysed, becomes a graph
 * Issue linked to those items, so the next similar incident finds it and
 * what fixed it.
 *
 * Item ids (the same for both calls, and what reason_retrieve looks up by
 * id or name):
 *   service     the service name as it is (the usual CMDB key)
 *   host        the host name as it is
 *   namespace   "namespace/<name>" (namespaces are often named like their
 *               main service: "monitoring" would otherwise be both)
 *   repository  the repository's full name ("acme/checkout-api")
 * each named by the plain value.  An item that already exists is never
 * rewritten (a CMDB import's name and attributes win); only the missing
 * ones are created.  Relations: service part_of namespace, service
 * runs_on host, repository deploys_to service. */
#ifndef REASON_CMDB_H
#define REASON_CMDB_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "alexus/err.h"
#include "alexus/graph.h"
#include "alexus/signal.h"

#define REASON_CMDB_NS_PREFIX "namespace/"

/* Upsert the items and relations signal s names, in one ax_graph_upsert
 * batch, for tenant.  *output (a new tree the caller deletes, set on
 * AX_OK only) says what was done:
 *   {"items":[{"id","type","name","created":bool}],
 *    "relations":[{"from","kind","to"}],
 *    "counts":{"items":N,"relations":N}}    (counts: rows actually written)
 * g NULL: AX_OK with {"skipped":"no graph"}.  A signal naming nothing
 * gives empty lists.  Errors: the graph's (AX_EINVAL, AX_EIO...). */
ax_err reason_cmdb_apply(struct ax_graph *g, const char *tenant, const struct ax_signal *s,
			 cJSON **output, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Index incident incident_id of tenant as a graph Issue (kind "incident",
 * id = the incident's UUID) so later incidents find it: title; body = the
 * analysis' summary, then "Probable cause: ...", then "Category: ..."
 * lines; fix = "<first action type>: <its reason>" ("" without actions);
 * items = the CIs the alerts' service, host and namespace name (created
 * when missing, with their relations, in the same batch).  analysis has
 * the reason_analysis_json shape and may be NULL (empty body and fix).
 * Indexing again updates the Issue.  g NULL: AX_OK, nothing done. */
ax_err reason_cmdb_index_incident(struct ax_graph *g, const char *tenant,
				  const char *incident_id, const char *title,
				  const cJSON *analysis, const struct ax_signal *alerts,
				  int nalerts, char *errbuf, size_t errlen) AX_MUSTCHECK;

#endif /* REASON_CMDB_H */
