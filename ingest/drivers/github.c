/* github.c - GitHub repository/organisation webhooks, as deploy signals for
 * correlating incidents with changes (FORMATS.md section 13a).
 *
 * The event is the X-GitHub-Event header.  deployment, deployment_status
 * and workflow_run give one kind-deploy signal each; ping gives none
 * (out->ignored), and so does any other event a hook may be subscribed to
 * (push, issues...), which carries no deploy: GitHub would otherwise show
 * failed deliveries for a valid request.
 *
 * Deploy status policy (shared with gitlab.c).  A deploy signal follows one
 * deployment (or one workflow run) through its life, and an unfinished or
 * failed deploy is the thing an incident may be caused by:
 *   created, queued, pending, requested, in_progress   firing,   info
 *   success                                            resolved, info
 *   failure, error, timed_out, startup_failure         firing,   high
 *   action_required (waiting for a human)              firing,   warning
 *   cancelled                                          resolved, warning
 *   inactive (superseded), skipped, neutral, stale     resolved, info
 *   anything else                                      firing,   warning
 * So a deploy opens when it starts, closes when it succeeds, and a failed
 * one stays open (high) until it is retried to success (a re-run of a
 * workflow keeps its run id) or closed by a human or a timeout.
 *
 * Mapping:
 *   deployment / deployment_status (the status event embeds the deployment)
 *     name        "<repository.full_name> deploy to <environment>"
 *     state       deployment_status.state; a bare deployment event is
 *                 "created"
 *     summary     deployment_status.description | deployment.description
 *     labels      repository, deployment_id, environment, sha, ref, task,
 *                 state, github_event, creator (login)
 *     starts_at   deployment.created_at; ends_at: deployment_status
 *                 .created_at once the state is final (resolved or high)
 *     source_ref  id = deployment.id; url = deployment_status.target_url |
 *                 log_url | environment_url, else deployment.url
 *     fingerprint over repository + deployment_id
 *   workflow_run
 *     name        "<repository.full_name> workflow <workflow_run.name>"
 *     state       workflow_run.conclusion once action is "completed"
 *                 (refused without one), else the action
 *     summary     display_title;  description: head_commit.message
 *     labels      repository, workflow_run_id, workflow, sha (head_sha),
 *                 ref (head_branch), event, run_attempt, state,
 *                 github_event, actor (login)
 *     starts_at   run_started_at | created_at; ends_at: updated_at when
 *                 completed
 *     source_ref  id = workflow_run.id, url = html_url
 *     fingerprint over repository + workflow_run_id
 *   both: service = repository.name (repositories are usually named after
 *   the service they ship), raw = the whole payload.
 *
 * Detection: the X-GitHub-Event header; nothing in the body is GitHub's
 * alone. */
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "github"

static const char *const ident_dep[] = { "repository", "deployment_id", NULL };
static const char *const ident_run[] = { "repository", "workflow_run_id", NULL };

static int gh_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	(void)d;
	return ingest_header(in, "X-GitHub-Event") != NULL;
}

struct deploy_state {
	const char *word;
	enum ax_status status;
	enum ax_severity severity;
};

static const struct deploy_state states[] = {
	{ "created", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "queued", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "pending", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "requested", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "waiting", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "in_progress", AX_STATUS_FIRING, AX_SEV_INFO },
	{ "success", AX_STATUS_RESOLVED, AX_SEV_INFO },
	{ "failure", AX_STATUS_FIRING, AX_SEV_HIGH },
	{ "error", AX_STATUS_FIRING, AX_SEV_HIGH },
	{ "timed_out", AX_STATUS_FIRING, AX_SEV_HIGH },
	{ "startup_failure", AX_STATUS_FIRING, AX_SEV_HIGH },
	{ "action_required", AX_STATUS_FIRING, AX_SEV_WARNING },
	{ "cancelled", AX_STATUS_RESOLVED, AX_SEV_WARNING },
	{ "inactive", AX_STATUS_RESOLVED, AX_SEV_INFO },
	{ "skipped", AX_STATUS_RESOLVED, AX_SEV_INFO },
	{ "neutral", AX_STATUS_RESOLVED, AX_SEV_INFO },
	{ "stale", AX_STATUS_RESOLVED, AX_SEV_INFO },
};

/* Status and severity of a deploy in state word; 1 if the state is final
 * (the deploy is over: succeeded, failed or given up). */
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

static const char *login_of(const cJSON *obj, const char *key)
{
	return ax_json_str(cJSON_GetObjectItemCaseSensitive(obj, key), "login");
}

static void finish(struct ax_signal *s, const cJSON *doc, const cJSON *repo,
		   const char *const *ident)
{
	s->kind = AX_KIND_DEPLOY;
	s->service = ingest_dup_str(repo, "name");
	s->source = ax_xstrdup(SOURCE);
	ax_signal_fingerprint(s, ident);
	s->raw = cJSON_Duplicate(doc, 1);
	if (s->raw == NULL)
		abort();
}

static ax_err gh_deployment(const cJSON *doc, const char *event, const cJSON *repo,
			    const char *full, struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *dep = cJSON_GetObjectItemCaseSensitive(doc, "deployment");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "deployment_status");
	const char *env, *state, *url = NULL, *summary;
	struct ax_signal *s;
	char *id;
	int final;

	if (!cJSON_IsObject(dep)) {
		ax_errfmt(errbuf, errlen, "%s event has no \"deployment\" object", event);
		return AX_EPROTO;
	}
	id = ingest_dup_scalar(dep, "id");
	if (id == NULL) {
		ax_errfmt(errbuf, errlen, "deployment.id is missing");
		return AX_EPROTO;
	}
	if (strcmp(event, "deployment_status") == 0) {
		state = ax_json_str(st, "state");
		if (state == NULL) {
			free(id);
			ax_errfmt(errbuf, errlen, "deployment_status.state is missing");
			return AX_EPROTO;
		}
	} else {
		st = NULL;
		state = "created";
	}
	env = ax_json_str(st, "environment");
	if (env == NULL)
		env = ax_json_str(dep, "environment");

	s = ingest_batch_add(out);
	final = deploy_state(state, s);
	s->name = ax_xasprintf("%s deploy to %s", full, env ? env : "(no environment)");
	summary = ax_json_str(st, "description");
	if (summary == NULL)
		summary = ax_json_str(dep, "description");
	s->summary = ax_xstrdup(summary);
	ax_json_add_str(s->labels, "repository", full, 0);
	ax_json_add_str(s->labels, "deployment_id", id, 0);
	ax_json_add_str(s->labels, "environment", env, 0);
	ax_json_add_str(s->labels, "sha", ax_json_str(dep, "sha"), 0);
	ax_json_add_str(s->labels, "ref", ax_json_str(dep, "ref"), 0);
	ax_json_add_str(s->labels, "task", ax_json_str(dep, "task"), 0);
	ax_json_add_str(s->labels, "state", state, 0);
	ax_json_add_str(s->labels, "github_event", event, 0);
	ax_json_add_str(s->labels, "creator", login_of(dep, "creator"), 0);
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(dep, "created_at"));
	if (st != NULL && final)
		s->ends_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(st, "created_at"));
	if (st != NULL) {
		url = ax_json_str(st, "target_url");
		if (url == NULL)
			url = ax_json_str(st, "log_url");
		if (url == NULL)
			url = ax_json_str(st, "environment_url");
	}
	if (url == NULL)
		url = ax_json_str(dep, "url");
	s->source_id = id;
	s->source_url = ax_xstrdup(url);
	finish(s, doc, repo, ident_dep);
	return AX_OK;
}

static ax_err gh_workflow_run(const cJSON *doc, const cJSON *repo, const char *full,
			      struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(doc, "workflow_run");
	const char *action = ax_json_str(doc, "action"), *wname, *state;
	struct ax_signal *s;
	char *id, *attempt;
	int completed;

	if (!cJSON_IsObject(run)) {
		ax_errfmt(errbuf, errlen, "workflow_run event has no \"workflow_run\" object");
		return AX_EPROTO;
	}
	if (action == NULL) {
		ax_errfmt(errbuf, errlen, "workflow_run event has no \"action\"");
		return AX_EPROTO;
	}
	wname = ax_json_str(run, "name");
	if (wname == NULL) {
		ax_errfmt(errbuf, errlen, "workflow_run.name is missing");
		return AX_EPROTO;
	}
	completed = strcmp(action, "completed") == 0;
	state = completed ? ax_json_str(run, "conclusion") : action;
	if (state == NULL) {
		ax_errfmt(errbuf, errlen, "completed workflow_run has no conclusion");
		return AX_EPROTO;
	}
	id = ingest_dup_scalar(run, "id");
	if (id == NULL) {
		ax_errfmt(errbuf, errlen, "workflow_run.id is missing");
		return AX_EPROTO;
	}

	s = ingest_batch_add(out);
	deploy_state(state, s);
	s->name = ax_xasprintf("%s workflow %s", full, wname);
	s->summary = ingest_dup_str(run, "display_title");
	s->description = ingest_dup_str(cJSON_GetObjectItemCaseSensitive(run, "head_commit"),
					"message");
	ax_json_add_str(s->labels, "repository", full, 0);
	ax_json_add_str(s->labels, "workflow_run_id", id, 0);
	ax_json_add_str(s->labels, "workflow", wname, 0);
	ax_json_add_str(s->labels, "sha", ax_json_str(run, "head_sha"), 0);
	ax_json_add_str(s->labels, "ref", ax_json_str(run, "head_branch"), 0);
	ax_json_add_str(s->labels, "event", ax_json_str(run, "event"), 0);
	attempt = ingest_dup_scalar(run, "run_attempt");
	ax_json_add_str(s->labels, "run_attempt", attempt, 0);
	free(attempt);
	ax_json_add_str(s->labels, "state", state, 0);
	ax_json_add_str(s->labels, "github_event", "workflow_run", 0);
	ax_json_add_str(s->labels, "actor", login_of(run, "actor"), 0);
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(run, "run_started_at"));
	if (s->starts_at == NULL)
		s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(run, "created_at"));
	if (completed)
		s->ends_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(run, "updated_at"));
	s->source_id = id;
	s->source_url = ingest_dup_str(run, "html_url");
	finish(s, doc, repo, ident_run);
	return AX_OK;
}

static ax_err gh_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc, *repo;
	const char *event, *full;

	(void)d;
	event = ingest_header(in, "X-GitHub-Event");
	if (event == NULL) {
		ax_errfmt(errbuf, errlen, "no X-GitHub-Event header: cannot tell the GitHub event");
		return AX_EPROTO;
	}
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	if (strcmp(event, "ping") == 0) {
		out->ignored = "GitHub ping";
		return AX_OK;
	}
	if (strcmp(event, "deployment") != 0 && strcmp(event, "deployment_status") != 0 &&
	    strcmp(event, "workflow_run") != 0) {
		out->ignored = "GitHub event that carries no deploy";
		return AX_OK;
	}
	repo = cJSON_GetObjectItemCaseSensitive(doc, "repository");
	full = ax_json_str(repo, "full_name");
	if (full == NULL) {
		ax_errfmt(errbuf, errlen, "%s event has no repository.full_name", event);
		return AX_EPROTO;
	}
	if (strcmp(event, "workflow_run") == 0)
		return gh_workflow_run(doc, repo, full, out, errbuf, errlen);
	return gh_deployment(doc, event, repo, full, out, errbuf, errlen);
}

const struct ingest_driver ingest_driver_github = {
	.name = SOURCE,
	.title = "GitHub (deployments, workflow runs)",
	.detect = gh_detect,
	.normalize = gh_normalize,
};
