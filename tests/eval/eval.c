/* eval.c - scoring the heuristic investigation against labelled scenarios
 * (see eval.h).
 *
 * A scenario's alerts are canonical signals as reason sees them, minus the
 * fingerprint (ingest computes it; here it is computed the same way over
 * every label) so the files stay readable.  Scoring is by field:
 * category and first action must equal the label; cause keywords are
 * counted as "all found" and "any found" in probable_cause, a looser
 * measure because a cause is prose; params are checked only where a
 * scenario names them, as a subset of the first action's params. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasestr; an includer must define it before its own includes */
#endif
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "../../reason/retrieve.h"
#include "../../reason/run.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/mem.h"

#define EVAL_FILE_MAX (1 << 20)

static char *read_all(const char *path, size_t *len, char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL) {
		ax_errfmt(errbuf, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = ax_xmalloc(EVAL_FILE_MAX + 1);
	*len = fread(buf, 1, EVAL_FILE_MAX + 1, f);
	fclose(f);
	if (*len > EVAL_FILE_MAX) {
		ax_errfmt(errbuf, errlen, "%s: larger than %d bytes", path, EVAL_FILE_MAX);
		free(buf);
		return NULL;
	}
	buf[*len] = '\0';
	return buf;
}

static const char ZERO_FP[] = "0000000000000000000000000000000000000000000000000000000000000000";

ax_err eval_case_load(const char *path, struct eval_case *c, char *errbuf, size_t errlen)
{
	const cJSON *alerts, *exp, *a;
	char err[256];
	size_t len;
	char *buf;
	int i;

	memset(c, 0, sizeof(*c));
	if (ax_hash_init() != 0) {
		ax_errfmt(errbuf, errlen, "libsodium init failed");
		return AX_EIO;
	}
	if ((buf = read_all(path, &len, errbuf, errlen)) == NULL)
		return AX_EIO;
	c->doc = ax_json_parse(buf, len, 0);
	free(buf);
	if (c->doc == NULL) {
		ax_errfmt(errbuf, errlen, "%s: not JSON", path);
		return AX_EPROTO;
	}
	c->name = ax_json_str(c->doc, "name");
	c->set = ax_json_str(c->doc, "set");
	if (c->set == NULL)
		c->set = "dev";
	alerts = cJSON_GetObjectItemCaseSensitive(c->doc, "alerts");
	exp = cJSON_GetObjectItemCaseSensitive(c->doc, "expected");
	if (c->name == NULL || !cJSON_IsArray(alerts) || cJSON_GetArraySize(alerts) == 0 ||
	    !cJSON_IsObject(exp)) {
		ax_errfmt(errbuf, errlen, "%s: needs name, alerts[] and expected{}", path);
		goto bad;
	}
	c->category = ax_json_str(exp, "category");
	c->first_action = ax_json_str(exp, "first_action");
	c->keywords = cJSON_GetObjectItemCaseSensitive(exp, "cause_keywords");
	c->params = cJSON_GetObjectItemCaseSensitive(exp, "first_action_params");
	if (c->category == NULL || c->first_action == NULL || !cJSON_IsArray(c->keywords) ||
	    (c->params != NULL && !cJSON_IsObject(c->params))) {
		ax_errfmt(errbuf, errlen, "%s: expected needs category, cause_keywords[], "
			  "first_action", path);
		goto bad;
	}
	if (reason_context_from_json(cJSON_GetObjectItemCaseSensitive(c->doc, "context"), &c->ctx,
				     err, sizeof(err)) != AX_OK) {
		ax_errfmt(errbuf, errlen, "%s: %s", path, err);
		goto bad;
	}
	c->alerts = ax_xcalloc((size_t)cJSON_GetArraySize(alerts), sizeof(*c->alerts));
	i = 0;
	cJSON_ArrayForEach(a, alerts) {
		cJSON *dup = cJSON_Duplicate(a, 1);
		ax_err rc;

		if (dup == NULL)
			abort();
		if (cJSON_IsObject(dup) && !cJSON_HasObjectItem(dup, "fingerprint"))
			cJSON_AddStringToObject(dup, "fingerprint", ZERO_FP);
		rc = ax_signal_from_json(&c->alerts[i], dup, err, sizeof(err));
		cJSON_Delete(dup);
		c->nalerts = i + 1;
		if (rc != AX_OK) {
			ax_errfmt(errbuf, errlen, "%s: alerts[%d]: %s", path, i, err);
			goto bad;
		}
		ax_signal_fingerprint(&c->alerts[i], NULL);
		i++;
	}
	return AX_OK;
bad:
	eval_case_release(c);
	return AX_EPROTO;
}

void eval_case_release(struct eval_case *c)
{
	int i;

	for (i = 0; i < c->nalerts; i++)
		ax_signal_release(&c->alerts[i]);
	free(c->alerts);
	reason_context_release(&c->ctx);
	cJSON_Delete(c->doc);
	memset(c, 0, sizeof(*c));
}

static const struct reason_llm_config *model;

void eval_use_model(const struct reason_llm_config *c)
{
	model = c;
}

/* The scenario as reason's retrieval would have found it: its alerts, and
 * its context's deploys, similar incidents and CIs.  Pointers borrowed
 * from c; free the three arrays only. */
static void case_retrieval(const struct eval_case *c, struct reason_retrieval *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->ctx = c->ctx;
	r->alerts = c->alerts;
	r->nalerts = c->nalerts;
	r->title = c->nalerts > 0 ? (c->alerts[0].summary != NULL ? c->alerts[0].summary :
								     c->alerts[0].name) : NULL;
	r->deploys = ax_xcalloc((size_t)c->ctx.ndeploys + 1, sizeof(*r->deploys));
	for (i = 0; i < c->ctx.ndeploys; i++) {
		const struct reason_deploy *d = &c->ctx.deploys[i];
		struct reason_retrieved_deploy *o = &r->deploys[r->ndeploys++];

		o->name = (char *)d->service;
		o->kind = (char *)"deploy";
		o->service = (char *)d->service;
		o->namespace_ = (char *)d->namespace_;
		o->version = (char *)d->version;
		o->previous_version = (char *)d->previous_version;
		o->age_s = d->age_s;
	}
	r->similar = ax_xcalloc((size_t)c->ctx.nsimilar + 1, sizeof(*r->similar));
	for (i = 0; i < c->ctx.nsimilar; i++) {
		const struct reason_similar *x = &c->ctx.similar[i];
		struct reason_retrieved_similar *o = &r->similar[r->nsimilar++];

		o->title = (char *)x->title;
		o->kind = (char *)"incident";
		o->category = (char *)x->category;
		o->fix = (char *)(x->resolution != NULL ? x->resolution : "");
		o->resolution = (char *)x->resolution;
		o->score = x->score;
	}
	r->ci = ax_xcalloc((size_t)c->ctx.nci + 1, sizeof(*r->ci));
	for (i = 0; i < c->ctx.nci; i++) {
		struct reason_retrieved_ci *o = &r->ci[r->nci++];

		o->id = o->name = o->start = (char *)c->ctx.ci[i];
		o->type = (char *)"item";
	}
}

/* A validated model answer as the struct eval_case_score reads; every
 * pointer borrowed from doc (never release it, only free nothing). */
static void answer_view(const cJSON *doc, struct reason_analysis *a)
{
	const cJSON *acts = cJSON_GetObjectItemCaseSensitive(doc, "actions"), *x;

	memset(a, 0, sizeof(*a));
	a->category = ax_json_str(doc, "category");
	a->probable_cause = (char *)ax_json_str(doc, "probable_cause");
	cJSON_ArrayForEach(x, acts)
	{
		if (a->nactions == REASON_MAX_ACTIONS)
			break;
		a->actions[a->nactions].type = ax_json_str(x, "type");
		a->actions[a->nactions].params = cJSON_GetObjectItemCaseSensitive(x, "params");
		if (a->actions[a->nactions].type != NULL)
			a->nactions++;
	}
}

/* Score the model's answer for c into o, or leave *asked 0 without a model.
 * A failure scores the heuristic's answer h. */
static void score_model(const struct eval_case *c, const struct reason_analysis *h,
			struct eval_totals *t, struct eval_outcome *o)
{
	struct reason_retrieval r;
	struct reason_llm_request q;
	struct reason_llm_result res;
	struct reason_analysis view;

	case_retrieval(c, &r);
	memset(&q, 0, sizeof(q));
	q.system = REASON_SYSTEM_PROMPT;
	q.user = reason_prompt_build(&r, REASON_PROMPT_BUDGET);
	t->model_asked++;
	if (reason_llm_call(model, &q, &res) == REASON_LLM_OK) {
		t->model_answered++;
		answer_view(res.analysis, &view);
		eval_case_score(c, &view, o);
	} else {
		snprintf(t->model_failure, sizeof(t->model_failure), "%s: %s",
			 reason_llm_status_code(res.status), res.message);
		eval_case_score(c, h, o);
	}
	reason_llm_result_release(&res);
	free((char *)q.user);
	free(r.deploys);
	free(r.similar);
	free(r.ci);
}

void eval_case_score(const struct eval_case *c, const struct reason_analysis *a,
		     struct eval_outcome *o)
{
	const cJSON *k;

	memset(o, 0, sizeof(*o));
	o->category = a->category != NULL && strcmp(a->category, c->category) == 0;
	cJSON_ArrayForEach(k, c->keywords) {
		if (!cJSON_IsString(k))
			continue;
		o->nkeywords++;
		if (a->probable_cause != NULL && strcasestr(a->probable_cause, k->valuestring))
			o->keywords++;
	}
	o->action = a->nactions > 0 && strcmp(a->actions[0].type, c->first_action) == 0;
	if (c->params != NULL) {
		o->params_checked = 1;
		o->params = o->action;
		cJSON_ArrayForEach(k, c->params) {
			const char *got = o->action ? ax_json_str(a->actions[0].params, k->string)
						    : NULL;

			if (!cJSON_IsString(k) || got == NULL || strcmp(got, k->valuestring) != 0)
				o->params = 0;
		}
	}
}

static void count_category(struct eval_totals *t, const char *cat, const struct eval_outcome *o)
{
	int i;

	for (i = 0; i < t->ncat && strcmp(t->cat_name[i], cat) != 0; i++)
		;
	if (i == t->ncat) {
		if (t->ncat == EVAL_MAX_CATEGORIES)
			return;
		snprintf(t->cat_name[t->ncat++], sizeof(t->cat_name[0]), "%s", cat);
	}
	t->cat_n[i]++;
	t->cat_ok[i] += o->category;
	t->cat_act[i] += o->action;
}

static void count_set(struct eval_totals *t, const char *set, const struct eval_outcome *o)
{
	int i;

	for (i = 0; i < t->nset && strcmp(t->set_name[i], set) != 0; i++)
		;
	if (i == t->nset) {
		if (t->nset == EVAL_MAX_SETS)
			return;
		snprintf(t->set_name[t->nset++], sizeof(t->set_name[0]), "%s", set);
	}
	t->set_n[i]++;
	t->set_cat[i] += o->category;
	t->set_act[i] += o->action;
}

static void print_miss(FILE *f, const struct eval_case *c, const struct reason_analysis *a,
		       const struct eval_outcome *o)
{
	const cJSON *k;
	int first = 1;

	fprintf(f, "  %s:", c->name);
	if (!o->category)
		fprintf(f, " category %s (want %s);", a->category, c->category);
	if (!o->action)
		fprintf(f, " action %s (want %s);", a->nactions ? a->actions[0].type : "none",
			c->first_action);
	else if (o->params_checked && !o->params) {
		char *p = cJSON_PrintUnformatted(a->actions[0].params);

		fprintf(f, " params %s;", p != NULL ? p : "?");
		cJSON_free(p);
	}
	if (o->keywords < o->nkeywords) {
		fprintf(f, " cause lacks");
		cJSON_ArrayForEach(k, c->keywords) {
			if (cJSON_IsString(k) && !(a->probable_cause &&
			    strcasestr(a->probable_cause, k->valuestring))) {
				fprintf(f, "%s\"%s\"", first ? " " : ", ", k->valuestring);
				first = 0;
			}
		}
		fprintf(f, ";");
	}
	fprintf(f, " [rule %s]\n", a->rule);
}

static int want(const char *const *only, const char *file)
{
	size_t n = strlen(file);

	if (n < 6 || strcmp(file + n - 5, ".json") != 0)
		return 0;
	if (only == NULL)
		return 1;
	for (; *only != NULL; only++) {
		if (strlen(*only) == n - 5 && strncmp(*only, file, n - 5) == 0)
			return 1;
	}
	return 0;
}

int eval_dir(const char *dir, const char *const *only, struct eval_totals *t, FILE *misses,
	     FILE *show, char *errbuf, size_t errlen)
{
	struct dirent **ents = NULL;
	int n, i, rc = 0, want_n = 0;

	memset(t, 0, sizeof(*t));
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return ax_errfmt(errbuf, errlen, "%s: %s", dir, strerror(errno));
	for (i = 0; i < n; i++) {
		struct eval_case c;
		struct reason_analysis a;
		struct eval_outcome o;
		char path[4096];

		if (rc != 0 || !want(only, ents[i]->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (eval_case_load(path, &c, errbuf, errlen) != AX_OK) {
			rc = -1;
			continue;
		}
		reason_investigate(c.alerts, c.nalerts, &c.ctx, &a);
		if (model != NULL)
			score_model(&c, &a, t, &o);
		else
			eval_case_score(&c, &a, &o);
		if (show != NULL) {
			cJSON *j = reason_analysis_json(&a);
			char *p = cJSON_Print(j);

			fprintf(show, "== %s\n%s\n", c.name, p != NULL ? p : "?");
			cJSON_free(p);
			cJSON_Delete(j);
		}
		t->n++;
		t->category += o.category;
		t->action += o.action;
		if (o.nkeywords > 0) {
			t->kw_cases++;
			t->kw_all += o.keywords == o.nkeywords;
			t->kw_any += o.keywords > 0;
		}
		t->params_n += o.params_checked;
		t->params += o.params;
		count_category(t, c.category, &o);
		count_set(t, c.set, &o);
		/* A model's misses are not the heuristic's answer: figures only. */
		if (misses != NULL && model == NULL && (!o.category || !o.action || o.keywords < o.nkeywords ||
				       (o.params_checked && !o.params)))
			print_miss(misses, &c, &a, &o);
		reason_analysis_release(&a);
		eval_case_release(&c);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (rc == 0 && only != NULL) {
		for (; only[want_n] != NULL; want_n++)
			;
		if (t->n != want_n)
			rc = ax_errfmt(errbuf, errlen, "%s: %d of the %d named scenarios found",
			               dir, t->n, want_n);
	}
	return rc;
}

static double pct(int a, int b)
{
	return b > 0 ? 100.0 * a / b : 0.0;
}

void eval_print(FILE *f, const struct eval_totals *t, int md)
{
	int i;

	if (md) {
		fprintf(f, "| field | correct | of | accuracy |\n|---|---:|---:|---:|\n");
		fprintf(f, "| category | %d | %d | %.1f %% |\n", t->category, t->n,
			pct(t->category, t->n));
		fprintf(f, "| first action | %d | %d | %.1f %% |\n", t->action, t->n,
			pct(t->action, t->n));
		fprintf(f, "| cause keywords, all found | %d | %d | %.1f %% |\n", t->kw_all,
			t->kw_cases, pct(t->kw_all, t->kw_cases));
		fprintf(f, "| cause keywords, any found | %d | %d | %.1f %% |\n", t->kw_any,
			t->kw_cases, pct(t->kw_any, t->kw_cases));
		fprintf(f, "| first action params (where labelled) | %d | %d | %.1f %% |\n\n",
			t->params, t->params_n, pct(t->params, t->params_n));
		fprintf(f, "| set | scenarios | category | first action |\n|---|---:|---:|---:|\n");
		for (i = 0; i < t->nset; i++)
			fprintf(f, "| %s | %d | %.1f %% | %.1f %% |\n", t->set_name[i], t->set_n[i],
				pct(t->set_cat[i], t->set_n[i]), pct(t->set_act[i], t->set_n[i]));
		fprintf(f, "\n| expected category | scenarios | category right | "
			   "first action right |\n|---|---:|---:|---:|\n");
		for (i = 0; i < t->ncat; i++)
			fprintf(f, "| %s | %d | %d | %d |\n", t->cat_name[i], t->cat_n[i],
				t->cat_ok[i], t->cat_act[i]);
		return;
	}
	if (t->model_asked > 0)
		fprintf(f, "  model answered    %3d/%-3d (the heuristic answered the rest%s%s)\n",
			t->model_answered, t->model_asked, t->model_failure[0] ? "; last failure " : "",
			t->model_failure);
	fprintf(f, "  category          %3d/%-3d %5.1f %%\n", t->category, t->n,
		pct(t->category, t->n));
	fprintf(f, "  first action      %3d/%-3d %5.1f %%\n", t->action, t->n,
	        pct(t->action, t->n));
	fprintf(f, "  cause keywords    all %d/%d %.1f %%, any %d/%d %.1f %%\n", t->kw_all,
		t->kw_cases, pct(t->kw_all, t->kw_cases), t->kw_any, t->kw_cases,
		pct(t->kw_any, t->kw_cases));
	fprintf(f, "  action params     %3d/%-3d %5.1f %% (scenarios that name them)\n", t->params,
		t->params_n, pct(t->params, t->params_n));
	for (i = 0; i < t->nset; i++)
		fprintf(f, "  set %-12s %3d scenarios: category %5.1f %%, first action %5.1f %%\n",
			t->set_name[i], t->set_n[i], pct(t->set_cat[i], t->set_n[i]),
			pct(t->set_act[i], t->set_n[i]));
	fprintf(f, "  per expected category (scenarios: category right, action right):\n");
	for (i = 0; i < t->ncat; i++)
		fprintf(f, "    %-13s %2d: %2d %2d\n", t->cat_name[i], t->cat_n[i], t->cat_ok[i],
			t->cat_act[i]);
}
