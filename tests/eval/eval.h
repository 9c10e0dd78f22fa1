/* eval.h - the labelled evaluation of the heuristic investigation: load a
 * scenario of tests/fixtures/eval, run reason_investigate on it, compare
 * with its expected answer, and total the figures per field.
 *
 * Used by tests/bench/bench_eval.c (make eval, over every scenario) and
 * tests/unit/test_heuristic.c (a subset, so the suite covers it).  Both
 * compile eval.c into themselves (#include "../eval/eval.c"): the
 * Makefile builds each test and bench program from one source file. */
#ifndef TESTS_EVAL_H
#define TESTS_EVAL_H

#include <stdio.h>
#include <cjson/cJSON.h>

#include "alexus/err.h"
#include "alexus/signal.h"
#include "../../reason/heuristic.h"
#include "../../reason/llm.h"

/* One scenario file:
 *   {"name", "note"?, "set"?, "alerts":[canonical signals without fingerprint],
 *    "context":{see reason_context_from_json},
 *    "expected":{"category","cause_keywords":[...],"first_action",
 *                "first_action_params"?:{...}}} */
struct eval_case {
	cJSON *doc;                  /* owns every string below */
	const char *name;
	const char *set;             /* "dev" unless the file says ("holdout") */
	struct ax_signal *alerts;
	int nalerts;
	struct reason_context ctx;
	const char *category;        /* expected */
	const cJSON *keywords;       /* expected, array of strings (may be empty) */
	const char *first_action;    /* expected */
	const cJSON *params;         /* expected subset of the first action's params, or NULL */
};

/* Load path into c.  AX_EPROTO / AX_EIO with errbuf naming the problem;
 * c is then empty (releasing it is harmless). */
ax_err eval_case_load(const char *path, struct eval_case *c, char *errbuf, size_t errlen)
	AX_MUSTCHECK;
void eval_case_release(struct eval_case *c);

/* How one answer compares. */
struct eval_outcome {
	int category;      /* 1 when the category is the expected one */
	int nkeywords;     /* expected keywords */
	int keywords;      /* of them found in probable_cause (case-insensitive) */
	int action;        /* 1 when the first action's type is the expected one */
	int params_checked;/* 1 when the scenario names params for its first action */
	int params;        /* 1 when those params all match (needs action) */
};

void eval_case_score(const struct eval_case *c, const struct reason_analysis *a,
		     struct eval_outcome *o);

#define EVAL_MAX_CATEGORIES 24
#define EVAL_MAX_SETS 4

struct eval_totals {
	int n;
	int category, action;
	int kw_cases, kw_all, kw_any;  /* over scenarios with at least one keyword */
	int params_n, params;
	int ncat;                      /* per expected category: */
	char cat_name[EVAL_MAX_CATEGORIES][32];
	int cat_n[EVAL_MAX_CATEGORIES], cat_ok[EVAL_MAX_CATEGORIES], cat_act[EVAL_MAX_CATEGORIES];
	int nset;                      /* per set: */
	char set_name[EVAL_MAX_SETS][16];
	int set_n[EVAL_MAX_SETS], set_cat[EVAL_MAX_SETS], set_act[EVAL_MAX_SETS];
	int model_asked, model_answered;  /* with eval_use_model: scenarios, valid answers */
	char model_failure[400];          /* the last failure's code and message */
};

/* Ask the model c for every scenario (NULL: the heuristic only, the
 * default), with the prompt reason builds (reason_prompt_build over the
 * scenario's alerts and context).  A valid answer is scored; a failure is
 * scored as the heuristic's answer, as reason falls back, and counted.
 * c must outlive the eval_dir calls. */
void eval_use_model(const struct reason_llm_config *c);

/* Run every *.json in dir (in name order), or only the files named in only
 * (NULL-terminated, names without ".json"; NULL = all).  Each miss is a
 * line on misses when it is not NULL; every answer, as JSON, goes to show
 * when it is not NULL.  0, or -1 with errbuf when a file does not load or
 * a name in only is missing. */
int eval_dir(const char *dir, const char *const *only, struct eval_totals *t, FILE *misses,
	     FILE *show, char *errbuf, size_t errlen);

/* The figures as text (markdown when md) on f. */
void eval_print(FILE *f, const struct eval_totals *t, int md);

#endif /* TESTS_EVAL_H */
