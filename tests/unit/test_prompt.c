/* test_prompt.c - reason_prompt_build's byte budget (reason/retrieve.h).
 *
 * A retrieval is put together from the fixtures, as reason_retrieve would
 * fill it: the alerts of the Alertmanager, Grafana and Datadog payloads
 * (normalised by the real drivers), the GitLab deployment as the deploy,
 * and the CMDB fixture's items, relations, Issues and runbook as the CIs,
 * similar incidents and knowledge.  Then, for every budget from 0 to the
 * full prompt's size:
 *   - the text is at most budget bytes and valid UTF-8;
 *   - the incident line, the root alert (its name and summary from the
 *     fixture) and the deploy are there whenever they fit, and when they
 *     alone do not fit the text is a prefix of them;
 *   - sections lose lines in the order knowledge, similar incidents,
 *     configuration items, other alerts: a section is only cut when every
 *     less important one is gone, it keeps its first lines, and a section
 *     with no line left has no heading;
 * and with a root whose summary is Cyrillic, CJK and symbols, no budget
 * cuts a character in two. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "alexus/signal.h"
#include "../../ingest/drivers/driver.h"
#include "../../reason/retrieve.h"

#define WH "tests/fixtures/webhooks/"

static cJSON *read_json(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	cJSON *j;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = ax_xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	j = ax_json_parse(buf, (size_t)n, 0);
	free(buf);
	assert_non_null(j);
	return j;
}

/* Append the signals of a webhook fixture to r->alerts. */
static void add_alerts(struct reason_retrieval *r, const char *file, const char *source)
{
	cJSON *doc = read_json(file);
	struct ingest_batch b;
	char err[256];
	size_t i;

	ingest_batch_init(&b);
	assert_int_equal(ingest_normalize_doc(doc, source, &b, NULL, err, sizeof(err)), AX_OK);
	r->alerts = ax_xrealloc(r->alerts, (r->nalerts + b.n) * sizeof(*r->alerts));
	for (i = 0; i < b.n; i++) {
		r->alerts[r->nalerts++] = b.sig[i];   /* moved: the batch forgets them */
		ax_signal_init(&b.sig[i]);
	}
	ingest_batch_release(&b);
	cJSON_Delete(doc);
}

static char *dup_str(const cJSON *o, const char *k)
{
	return ax_xstrdup(ax_json_str(o, k));
}

/* A retrieval from the fixtures (see the top of the file). */
static void fill(struct reason_retrieval *r)
{
	cJSON *cmdb = read_json("tests/fixtures/cmdb/cmdb.json"), *gl;
	const cJSON *x, *rel;
	struct ingest_batch b;
	char err[256];
	int n;

	memset(r, 0, sizeof(*r));
	r->incident_id = ax_xstrdup("0190a0b0-c0d0-7e0f-8a1b-2c3d4e5f6a7b");
	add_alerts(r, WH "alertmanager.json", "alertmanager");
	add_alerts(r, WH "grafana-unified.json", "grafana");
	add_alerts(r, WH "datadog.json", "datadog");
	assert_true(r->nalerts >= 4);
	r->title = ax_xasprintf("%s on %s", r->alerts[0].name, r->alerts[0].service);

	gl = read_json(WH "gitlab-deployment.json");
	ingest_batch_init(&b);
	assert_int_equal(ingest_normalize_doc(gl, "gitlab", &b, NULL, err, sizeof(err)), AX_OK);
	assert_int_equal(b.n, 1);
	r->deploys = ax_xcalloc(1, sizeof(*r->deploys));
	r->ndeploys = 1;
	r->deploys[0].name = ax_xstrdup(b.sig[0].name);
	r->deploys[0].kind = ax_xstrdup("deploy");
	r->deploys[0].service = ax_xstrdup(b.sig[0].service);
	r->deploys[0].version = ax_xstrdup(ax_json_str(b.sig[0].labels, "sha"));
	r->deploys[0].source = ax_xstrdup(b.sig[0].source);
	r->deploys[0].age_s = 600;
	ingest_batch_release(&b);
	cJSON_Delete(gl);

	/* CIs: every item, the relations' targets as neighbours of their source */
	n = cJSON_GetArraySize(cJSON_GetObjectItem(cmdb, "items"));
	r->ci = ax_xcalloc((size_t)n, sizeof(*r->ci));
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(cmdb, "items")) {
		struct reason_retrieved_ci *c = &r->ci[r->nci++];

		c->id = dup_str(x, "id");
		c->name = dup_str(x, "name");
		c->type = dup_str(x, "type");
		c->start = ax_xstrdup(c->id);
		cJSON_ArrayForEach(rel, cJSON_GetObjectItem(cmdb, "relations")) {
			if (strcmp(ax_json_str(rel, "to"), c->id) == 0) {
				free(c->start);
				c->start = dup_str(rel, "from");
				c->relation = dup_str(rel, "kind");
				c->depth = 1;
				break;
			}
		}
	}
	n = cJSON_GetArraySize(cJSON_GetObjectItem(cmdb, "issues"));
	r->similar = ax_xcalloc((size_t)n, sizeof(*r->similar));
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(cmdb, "issues")) {
		struct reason_retrieved_similar *s = &r->similar[r->nsimilar++];

		s->id = dup_str(x, "id");
		s->title = dup_str(x, "title");
		s->kind = dup_str(x, "kind");
		s->fix = dup_str(x, "fix");
		s->score = 0.5;
	}
	n = cJSON_GetArraySize(cJSON_GetObjectItem(cmdb, "docs"));
	r->docs = ax_xcalloc((size_t)n, sizeof(*r->docs));
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(cmdb, "docs")) {
		struct reason_retrieved_doc *d = &r->docs[r->ndocs++];

		d->id = dup_str(x, "id");
		d->title = dup_str(x, "title");
		d->snippet = dup_str(x, "body");
		d->source = dup_str(x, "source");
	}
	cJSON_Delete(cmdb);
}

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 :
			(*p & 0xF8) == 0xF0 ? 3 : -1;

		if (n < 0)
			return 0;
		for (p++; n > 0; n--, p++)
			if ((*p & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

/* Sections in the order they are dropped (last first) */
enum { S_ALERTS, S_CI, S_SIMILAR, S_DOCS, S_N };
static const char *const heads[S_N] = { "## Alerts", "## Configuration items",
					"## Similar past incidents", "## Knowledge" };

struct shape {
	int lines[S_N];       /* body lines ("- ..."), the root alert not counted */
	int heading[S_N];
	char *first[S_N][64]; /* the body lines, in order */
};

static void shape_of(const char *text, struct shape *sh)
{
	const char *p = text;
	int cur = -1, i;

	memset(sh, 0, sizeof(*sh));
	while (*p != '\0') {
		size_t n = strcspn(p, "\n");

		if (strncmp(p, "## ", 3) == 0) {
			cur = -1;
			for (i = 0; i < S_N; i++)
				if (strncmp(p, heads[i], strlen(heads[i])) == 0)
					cur = i, sh->heading[i] = 1;
		} else if (cur >= 0 && strncmp(p, "- ", 2) == 0 && p[n] == '\n' &&
			   strncmp(p, "- [root]", 8) != 0) {
			sh->first[cur][sh->lines[cur]++] = ax_xstrndup(p, n);
		}
		p += n + (p[n] == '\n');
	}
}

static void shape_release(struct shape *sh)
{
	int i, j;

	for (i = 0; i < S_N; i++)
		for (j = 0; j < sh->lines[i]; j++)
			free(sh->first[i][j]);
}

/* The prompt with only what is always kept: incident, root, deploys. */
static char *kept_only(struct reason_retrieval *r)
{
	struct reason_retrieval k = *r;
	char *t;

	k.nalerts = 1;
	k.nci = k.nsimilar = k.ndocs = 0;
	t = reason_prompt_build(&k, (size_t)-1);
	return t;
}

static void check_budgets(struct reason_retrieval *r)
{
	char *full = reason_prompt_build(r, (size_t)-1), *keep = kept_only(r);
	char rootline[512];
	struct shape all;
	size_t budget, flen = strlen(full), klen = strlen(keep);
	int s, t, j;

	assert_true(utf8_valid(full));
	shape_of(full, &all);
	assert_int_equal(all.lines[S_ALERTS], r->nalerts - 1);
	assert_int_equal(all.lines[S_CI], r->nci);
	assert_int_equal(all.lines[S_SIMILAR], r->nsimilar);
	assert_int_equal(all.lines[S_DOCS], r->ndocs);
	/* the root alert line: its name and summary as the driver read them */
	snprintf(rootline, sizeof(rootline), "- [root] firing %s %s ",
		 ax_severity_str(r->alerts[0].severity), r->alerts[0].name);
	assert_non_null(strstr(full, rootline));
	assert_non_null(strstr(full, r->alerts[0].summary));
	assert_non_null(strstr(full, r->deploys[0].version));
	assert_true(klen < flen);

	for (budget = 0; budget <= flen + 1; budget++) {
		char *p = reason_prompt_build(r, budget);
		struct shape sh;
		size_t n = strlen(p);

		assert_true(n <= budget);
		assert_true(utf8_valid(p));
		if (budget >= flen)
			assert_string_equal(p, full);
		if (budget < klen) {
			/* only the kept lines, cut: a prefix of them, at most 3
			 * bytes short (one character backed off) */
			assert_memory_equal(p, keep, n);
			assert_true(n + 3 >= budget);
			free(p);
			continue;
		}
		assert_non_null(strstr(p, rootline));
		assert_non_null(strstr(p, r->alerts[0].summary));
		assert_non_null(strstr(p, r->deploys[0].name));
		shape_of(p, &sh);
		for (s = 0; s < S_N; s++) {
			/* a section is cut only once every later one is gone */
			if (sh.lines[s] < all.lines[s])
				for (t = s + 1; t < S_N; t++)
					assert_int_equal(sh.lines[t], 0);
			/* it keeps its first lines */
			for (j = 0; j < sh.lines[s]; j++)
				assert_string_equal(sh.first[s][j], all.first[s][j]);
			if (s != S_ALERTS)
				assert_int_equal(sh.heading[s], sh.lines[s] > 0);
		}
		/* a budget one line short of the full text drops the last
		 * knowledge line first */
		if (budget == flen - 1)
			assert_int_equal(sh.lines[S_DOCS], all.lines[S_DOCS] - 1);
		shape_release(&sh);
		free(p);
	}
	shape_release(&all);
	free(full);
	free(keep);
}

static void prompt_budget(void **state)
{
	struct reason_retrieval r;

	(void)state;
	fill(&r);
	check_budgets(&r);
	reason_retrieval_release(&r);
	reason_retrieval_release(&r);   /* harmless twice */
	reason_retrieval_release(NULL);
}

static void prompt_multibyte(void **state)
{
	struct reason_retrieval r;
	char *keep;
	size_t budget, klen;

	(void)state;
	fill(&r);
	free(r.alerts[0].summary);
	r.alerts[0].summary = ax_xstrdup("Задержка оформления заказа выросла — 注文の遅延が増加 ✓ "
					 "Задержка оформления заказа выросла — 注文の遅延が増加 ✓ "
					 "𝄞 музыка");
	check_budgets(&r);

	/* every cut inside the multibyte summary lands on a boundary */
	keep = kept_only(&r);
	klen = strlen(keep);
	for (budget = 0; budget < klen; budget++) {
		char *p = reason_prompt_build(&r, budget);

		assert_true(strlen(p) <= budget);
		assert_true(utf8_valid(p));
		assert_memory_equal(p, keep, strlen(p));
		free(p);
	}
	free(keep);
	reason_retrieval_release(&r);
}

static void retrieval_json(void **state)
{
	struct reason_retrieval r;
	cJSON *j;
	char *txt;

	(void)state;
	fill(&r);
	j = reason_retrieval_json(&r);
	assert_int_equal(cJSON_GetObjectItem(j, "alerts")->valueint, r.nalerts);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "deploys")), 1);
	assert_string_equal(ax_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "deploys"), 0),
					"version"), r.deploys[0].version);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "similar")), r.nsimilar);
	assert_string_equal(ax_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "similar"), 0),
					"fix"), r.similar[0].fix);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "ci")), r.nci);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "docs"), 0)->valuestring,
			    r.docs[0].title);
	txt = ax_json_print(j);
	assert_true(utf8_valid(txt));
	free(txt);
	cJSON_Delete(j);
	reason_retrieval_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prompt_budget),
		cmocka_unit_test(prompt_multibyte),
		cmocka_unit_test(retrieval_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
