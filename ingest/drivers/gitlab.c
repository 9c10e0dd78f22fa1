/* gitlab.c - GitLab project webhooks, as deploy signals for correlating
 * incidents with changes (FORMATS.md section 13b).
 *
 * The event is the body's object_kind, or the X-Gitlab-Event header when
 * object_kind is absent ("Deployment Hook" = deployment, "Pipeline Hook" =
 * pipeline).  Deployment and pipeline events give one kind-deploy signal
 * each; any other event (push, merge_request, job...) gives none
 * (out->ignored), so a hook subscribed to more than deploys does not see
 * failed deliveries.
 *
 * Deploy status policy: the same as github.c (see there for why): a deploy
 * opens when it starts, closes when it succeeds, and a failed one stays
 * open at severity high.  GitLab's words:
 *   created, waiting_for_resource, preparing, pending, running,
 *   scheduled                                   firing,   info
 *   success                                     resolved, info
 *   failed                                      firing,   high
 *   manual, blocked (waiting for a human)       firing,   warning
 *   canceled, canceling                         resolved, warning
 *   skipped                                     resolved, info
 *   anything else                               firing,   warning
 *
 * Mapping:
 *   Deployment Hook (object_kind "deployment")
 *     name        "<project.path_with_namespace> deploy to <environment>"
 *     state       status
 *     summary     commit_title
 *     labels      project, project_id, deployment_id, environment,
 *                 environment_tier, sha (the full sha at the end of
 *                 commit_url; short_sha has only 8 characters), ref, state,
 *                 gitlab_event, user (username)
 *     times       status_changed_at ("2021-04-28 21:50:00 +0200"): ends_at
 *                 once the state is final, else starts_at
 *     source_ref  id = deployment_id, url = deployable_url | project.web_url
 *     fingerprint over project_id + deployment_id
 *   Pipeline Hook (object_kind "pipeline")
 *     name        "<path_with_namespace> pipeline <name | ref>"
 *     state       object_attributes.status
 *     summary     commit.title;  description: commit.message
 *     labels      project, project_id, pipeline_id, ref, sha, source,
 *                 environment (the first builds[].environment.name), state,
 *                 gitlab_event, user
 *     starts_at   created_at; ends_at: finished_at once final
 *                 ("2016-08-12 15:23:28 UTC")
 *     source_ref  id = object_attributes.id, url = object_attributes.url
 *     fingerprint over project_id + pipeline_id
 *   both: service = project.name, raw = the whole payload.  The project id,
 *   not its path, is in the fingerprint: a renamed or moved project keeps
 *   its id.
 *
 * Detection: the X-Gitlab-Event header, or object_kind (a string) with a
 * project object; no other sender uses object_kind. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "gitlab"

static const char *const ident_dep[] = { "project_id", "deployment_id", NULL };
static const char *const ident_pipe[] = { "project_id", "pipeline_id", NULL };

static int gl_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	(void)d;
	return ingest_header(in, "X-Gitlab-Event") != NULL ||
	       (ax_json_str(in->doc, "object_kind") != NULL &&
		cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(in->doc, "project")));
}

struct deploy_state {
	const char *word;
	enum ax_status status;
	enum ax_severity severity;
};

static const struct deploy_state states[] = {
	{ "created", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "waiting_for_resource", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "preparing", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "pending", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "running", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "scheduled", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "success", AX_STATUS_RESOLVED, AX_SEV_INFO },
	{ "failed", AX_STATUS_FIRING, AX_SEV_HIGH },
	{ "manual", AX_STATUS_FIRING, AX_SEV_WARNING },
	{ "blocked", AX_STATUS_FIRING, AX_SEV_WARNING },
	{ "canceled", AX_STATUS_RESOLVED, AX_SEV_WARNING },
	{ "canceling", AX_STATUS_RESOLVED, AX_SEV_WARNING },
	{ "skipped", AX_STATUS_RESOLVED, AX_SEV_INFO },
};

/* Status and severity of a deploy in state word; 1 if the state is final. */
static int deploy_state(const char *word, struct ax_signal *s)
{
	size_t i;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		if (strcmp(word, states[i].word) == 0) {
			s->status = states[i].status;
			s->severity = states[i].severity;
			return s->status == AX_STATUS_RESOLVED || s->severity == AX_SEV_HIGH;
		}
	}
	s->status = AX_STATUS_FIRING;
	s->severity = AX_SEV_WARNING;
	return 0;
}

/* The 40-hex commit sha that ends a commit URL, owned, or NULL. */
static char *sha_from_url(const char *url)
{
	const char *p = url != NULL ? strrchr(url, '/') : NULL;
	size_t i;

	if (p == NULL || strlen(++p) != 40)
		return NULL;
	for (i = 0; i < 40; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return NULL;
	}
	return ax_xstrdup(p);
}

static void finish(struct ax_signal *s, const cJSON *doc, const cJSON *project,
		   const char *const *ident)
{
	s->kind = AX_KIND_DEPLOY;
	s->service = ingest_dup_str(project, "name");
	s->source = ax_xstrdup(SOURCE);
	ax_signal_fingerprint(s, ident);
	s->raw = cJSON_Duplicate(doc, 1);
	if (s->raw == NULL)
		abort();
}

static ax_err gl_deployment(const cJSON *doc, const cJSON *project, const char *path,
			    const char *project_id, struct ingest_batch *out, char *errbuf,
			    size_t errlen)
{
	const char *status = ax_json_str(doc, "status"), *env, *url;
	struct ax_signal *s;
	char *id, *sha, *when;

	if (status == NULL) {
		ax_errfmt(errbuf, errlen, "deployment event has no \"status\"");
		return AX_EPROTO;
	}
	id = ingest_dup_scalar(doc, "deployment_id");
	if (id == NULL) {
		ax_errfmt(errbuf, errlen, "deployment event has no \"deployment_id\"");
		return AX_EPROTO;
	}
	env = ax_json_str(doc, "environment");

	s = ingest_batch_add(out);
	when = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(doc, "status_changed_at"));
	if (deploy_state(status, s))
		s->ends_at = when;
	else
		s->starts_at = when;
	s->name = ax_xasprintf("%s deploy to %s", path, env ? env : "(no environment)");
	s->summary = ingest_dup_str(doc, "commit_title");
	ax_json_add_str(s->labels, "project", path, 0);
	ax_json_add_str(s->labels, "project_id", project_id, 0);
	ax_json_add_str(s->labels, "deployment_id", id, 0);
	ax_json_add_str(s->labels, "environment", env, 0);
	ax_json_add_str(s->labels, "environment_tier", ax_json_str(doc, "environment_tier"), 0);
	sha = sha_from_url(ax_json_str(doc, "commit_url"));
	ax_json_add_str(s->labels, "sha", sha ? sha : ax_json_str(doc, "short_sha"), 0);
	free(sha);
	ax_json_add_str(s->labels, "ref", ax_json_str(doc, "ref"), 0);
	ax_json_add_str(s->labels, "state", status, 0);
	ax_json_add_str(s->labels, "gitlab_event", "deployment", 0);
	ax_json_add_str(s->labels, "user",
			ax_json_str(cJSON_GetObjectItemCaseSensitive(doc, "user"), "username"), 0);
	url = ax_json_str(doc, "deployable_url");
	if (url == NULL)
		url = ax_json_str(project, "web_url");
	s->source_id = id;
	s->source_url = ax_xstrdup(url);
	finish(s, doc, project, ident_dep);
	return AX_OK;
}

static const char *first_environment(const cJSON *builds)
{
	const cJSON *b;
	const char *env;

	if (!cJSON_IsArray(builds))
		return NULL;
	cJSON_ArrayForEach(b, builds) {
		env = ax_json_str(cJSON_GetObjectItemCaseSensitive(b, "environment"), "name");
		if (env != NULL)
			return env;
	}
	return NULL;
}

static ax_err gl_pipeline(const cJSON *doc, const cJSON *project, const char *path,
			  const char *project_id, struct ingest_batch *out, char *errbuf,
			  size_t errlen)
{
	const cJSON *oa = cJSON_GetObjectItemCaseSensitive(doc, "object_attributes");
	const cJSON *commit = cJSON_GetObjectItemCaseSensitive(doc, "commit");
	const char *status, *what;
	struct ax_signal *s;
	char *id;
	int final;

	if (!cJSON_IsObject(oa)) {
		ax_errfmt(errbuf, errlen, "pipeline event has no \"object_attributes\" object");
		return AX_EPROTO;
	}
	status = ax_json_str(oa, "status");
	if (status == NULL) {
		ax_errfmt(errbuf, errlen, "object_attributes.status is missing");
		return AX_EPROTO;
	}
	id = ingest_dup_scalar(oa, "id");
	if (id == NULL) {
		ax_errfmt(errbuf, errlen, "object_attributes.id is missing");
		return AX_EPROTO;
	}
	what = ax_json_str(oa, "name");
	if (what == NULL)
		what = ax_json_str(oa, "ref");

	s = ingest_batch_add(out);
	final = deploy_state(status, s);
	s->name = ax_xasprintf("%s pipeline %s", path, what ? what : id);
	s->summary = ingest_dup_str(commit, "title");
	s->description = ingest_dup_str(commit, "message");
	ax_json_add_str(s->labels, "project", path, 0);
	ax_json_add_str(s->labels, "project_id", project_id, 0);
	ax_json_add_str(s->labels, "pipeline_id", id, 0);
	ax_json_add_str(s->labels, "ref", ax_json_str(oa, "ref"), 0);
	ax_json_add_str(s->labels, "sha", ax_json_str(oa, "sha"), 0);
	ax_json_add_str(s->labels, "source", ax_json_str(oa, "source"), 0);
	ax_json_add_str(s->labels, "environment",
			first_environment(cJSON_GetObjectItemCaseSensitive(doc, "builds")), 0);
	ax_json_add_str(s->labels, "state", status, 0);
	ax_json_add_str(s->labels, "gitlab_event", "pipeline", 0);
	ax_json_add_str(s->labels, "user",
			ax_json_str(cJSON_GetObjectItemCaseSensitive(doc, "user"), "username"), 0);
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(oa, "created_at"));
	if (final)
		s->ends_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(oa, "finished_at"));
	s->source_id = id;
	s->source_url = ingest_dup_str(oa, "url");
	finish(s, doc, project, ident_pipe);
	return AX_OK;
}

static ax_err gl_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc, *project;
	const char *kind, *hdr, *path;
	char *project_id;
	ax_err rc;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	kind = ax_json_str(doc, "object_kind");
	hdr = ingest_header(in, "X-Gitlab-Event");
	if (kind == NULL && hdr != NULL) {
		if (strcmp(hdr, "Deployment Hook") == 0)
			kind = "deployment";
		else if (strcmp(hdr, "Pipeline Hook") == 0)
			kind = "pipeline";
		else
			kind = hdr;
	}
	if (kind == NULL) {
		ax_errfmt(errbuf, errlen,
			  "payload has no \"object_kind\" and no X-Gitlab-Event header");
		return AX_EPROTO;
	}
	if (strcmp(kind, "deployment") != 0 && strcmp(kind, "pipeline") != 0) {
		out->ignored = "GitLab event that carries no deploy";
		return AX_OK;
	}
	project = cJSON_GetObjectItemCaseSensitive(doc, "project");
	path = ax_json_str(project, "path_with_namespace");
	if (path == NULL) {
		ax_errfmt(errbuf, errlen, "%s event has no project.path_with_namespace", kind);
		return AX_EPROTO;
	}
	project_id = ingest_dup_scalar(project, "id");
	if (project_id == NULL) {
		ax_errfmt(errbuf, errlen, "%s event has no project.id", kind);
		return AX_EPROTO;
	}
	if (strcmp(kind, "deployment") == 0)
		rc = gl_deployment(doc, project, path, project_id, out, errbuf, errlen);
	else
		rc = gl_pipeline(doc, project, path, project_id, out, errbuf, errlen);
	free(project_id);
	return rc;
}

const struct ingest_driver ingest_driver_gitlab = {
	.name = SOURCE,
	.title = "GitLab (deployments, pipelines)",
	.detect = gl_detect,
	.normalize = gl_normalize,
};
