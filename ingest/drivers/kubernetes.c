/* kubernetes.c - Kubernetes events from kubernetes-event-exporter's
 * webhook sink (resmoio/kubernetes-event-exporter; FORMATS.md section 12).
 *
 * One core/v1 Event per POST, plus the exporter's additions (clusterName;
 * involvedObject enriched with the object's labels, annotations and
 * ownerReferences).  Kubernetes has two event types and nothing finer:
 *   Warning  kind alert, status firing, severity warning: something is
 *            wrong (BackOff, FailedScheduling, Unhealthy, OOMKilling...)
 *   Normal   kind change, status resolved, severity info: something
 *            happened (Scheduled, Pulled, Started, ScalingReplicaSet,
 *            SuccessfulCreate...).  These are the cluster's change log,
 *            context for correlating incidents, not problems; as kind
 *            change they feed the change timeline and never open an
 *            incident, and "resolved" says nothing is left open.  A Normal
 *            event cannot close a Warning: they are different Event
 *            objects with different uids, so Warnings end by the reasoning
 *            plane's timeout (events are point-in-time, FORMATS.md 12).
 *   other    AX_EPROTO
 * Mapping:
 *   name        reason (required)
 *   summary     "<involvedObject.kind> <namespace>/<name>: <reason>";
 *               description: message
 *   labels      event_uid, cluster (clusterName), involved_kind,
 *               involved_name, reason, component (source.component |
 *               reportingComponent), then involvedObject.labels
 *   annotations involvedObject.annotations, plus count and last_seen
 *               (lastTimestamp): the exporter re-sends the same Event as
 *               kubelet updates it
 *   service     involvedObject label app.kubernetes.io/name | app |
 *               k8s-app, else the first ownerReferences[].name
 *   host        source.host | reportingInstance
 *   namespace   involvedObject.namespace | metadata.namespace
 *   starts_at   firstTimestamp | eventTime | metadata.creationTimestamp;
 *               ends_at: lastTimestamp | eventTime for Normal events only
 *   source_ref  id = metadata.uid
 *   fingerprint over event_uid: the Event object's uid, which stays the
 *               same while kubelet aggregates repeats into it (count++), so
 *               the re-exported updates dedup into one
 *   raw         the whole event
 *
 * Detection: involvedObject.kind + reason + metadata.uid (all strings). */
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "kubernetes"

static const char *const ident[] = { "event_uid", NULL };
static const char *const service_keys[] = { "app.kubernetes.io/name", "app", "k8s-app", NULL };

static int k8s_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(doc, "involvedObject");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");

	(void)d;
	return ax_json_str(obj, "kind") != NULL && ax_json_str(doc, "reason") != NULL &&
	       ax_json_str(meta, "uid") != NULL;
}

/* The first of keys in obj that converts to a time, as an owned string. */
static char *first_time(const cJSON *obj, const char *const *keys)
{
	char *t = NULL;
	size_t i;

	for (i = 0; t == NULL && keys[i] != NULL; i++)
		t = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(obj, keys[i]));
	return t;
}

static ax_err k8s_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			    struct ingest_batch *out, char *errbuf, size_t errlen)
{
	static const char *const start_keys[] = { "firstTimestamp", "eventTime", NULL };
	static const char *const end_keys[] = { "lastTimestamp", "eventTime", NULL };
	static const char *const created_key[] = { "creationTimestamp", NULL };
	const cJSON *doc = in->doc, *obj, *meta, *owners;
	const char *kind, *oname, *reason, *type, *uid, *ns, *comp, *host;
	struct ax_signal *s;
	char *count;
	int normal;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	obj = cJSON_GetObjectItemCaseSensitive(doc, "involvedObject");
	meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
	if (!cJSON_IsObject(obj)) {
		ax_errfmt(errbuf, errlen, "event has no \"involvedObject\" object");
		return AX_EPROTO;
	}
	kind = ax_json_str(obj, "kind");
	if (kind == NULL) {
		ax_errfmt(errbuf, errlen, "event has no involvedObject.kind");
		return AX_EPROTO;
	}
	reason = ax_json_str(doc, "reason");
	if (reason == NULL) {
		ax_errfmt(errbuf, errlen, "event has no \"reason\"");
		return AX_EPROTO;
	}
	uid = ax_json_str(meta, "uid");
	if (uid == NULL) {
		ax_errfmt(errbuf, errlen, "event has no metadata.uid");
		return AX_EPROTO;
	}
	type = ax_json_str(doc, "type");
	if (type == NULL || (strcmp(type, "Warning") != 0 && strcmp(type, "Normal") != 0)) {
		ax_errfmt(errbuf, errlen, "event \"type\" must be \"Warning\" or \"Normal\"");
		return AX_EPROTO;
	}
	normal = strcmp(type, "Normal") == 0;

	s = ingest_batch_add(out);
	s->kind = normal ? AX_KIND_CHANGE : AX_KIND_ALERT;
	s->status = normal ? AX_STATUS_RESOLVED : AX_STATUS_FIRING;
	s->severity = normal ? AX_SEV_INFO : AX_SEV_WARNING;
	s->name = ax_xstrdup(reason);
	ns = ax_json_str(obj, "namespace");
	if (ns == NULL)
		ns = ax_json_str(meta, "namespace");
	oname = ax_json_str(obj, "name");
	s->summary = ax_xasprintf("%s %s%s%s: %s", kind, ns ? ns : "", ns ? "/" : "",
				  oname ? oname : "?", reason);
	s->description = ingest_dup_str(doc, "message");

	ax_json_add_str(s->labels, "event_uid", uid, 0);
	ax_json_add_str(s->labels, "cluster", ax_json_str(doc, "clusterName"), 0);
	ax_json_add_str(s->labels, "involved_kind", kind, 0);
	ax_json_add_str(s->labels, "involved_name", oname, 0);
	ax_json_add_str(s->labels, "reason", reason, 0);
	comp = ax_json_str(cJSON_GetObjectItemCaseSensitive(doc, "source"), "component");
	if (comp == NULL)
		comp = ax_json_str(doc, "reportingComponent");
	ax_json_add_str(s->labels, "component", comp, 0);
	ingest_copy_strmap(s->labels, cJSON_GetObjectItemCaseSensitive(obj, "labels"));
	ingest_copy_strmap(s->annotations, cJSON_GetObjectItemCaseSensitive(obj, "annotations"));
	count = ingest_dup_scalar(doc, "count");
	ax_json_add_str(s->annotations, "count", count, 0);
	free(count);
	ax_json_add_str(s->annotations, "last_seen", ax_json_str(doc, "lastTimestamp"), 0);

	s->service = ax_xstrdup(ingest_first_str(cJSON_GetObjectItemCaseSensitive(obj, "labels"),
						 service_keys));
	owners = cJSON_GetObjectItemCaseSensitive(obj, "ownerReferences");
	if (s->service == NULL && cJSON_IsArray(owners))
		s->service = ingest_dup_str(cJSON_GetArrayItem(owners, 0), "name");
	host = ax_json_str(cJSON_GetObjectItemCaseSensitive(doc, "source"), "host");
	if (host == NULL)
		host = ax_json_str(doc, "reportingInstance");
	s->host = ax_xstrdup(host);
	s->namespace_ = ax_xstrdup(ns);
	s->starts_at = first_time(doc, start_keys);
	if (s->starts_at == NULL)
		s->starts_at = first_time(meta, created_key);
	if (normal)
		s->ends_at = first_time(doc, end_keys);
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(uid);
	ax_signal_fingerprint(s, ident);
	s->raw = cJSON_Duplicate(doc, 1);
	if (s->raw == NULL)
		abort();
	return AX_OK;
}

const struct ingest_driver ingest_driver_kubernetes = {
	.name = SOURCE,
	.title = "Kubernetes events (kubernetes-event-exporter)",
	.detect = k8s_detect,
	.normalize = k8s_normalize,
};
