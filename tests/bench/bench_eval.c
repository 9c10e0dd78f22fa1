/* bench_eval.c - the heuristic investigation over the labelled scenarios
 * (make eval; scripts/eval runs it over tests/fixtures/eval).
 *
 *   bench_eval [--min-category F] [--min-action F] [--markdown] [--quiet]
 *              [--show] DIR
 *
 * Prints the accuracy per field (category, cause keywords all/any found,
 * first action, and params where a scenario names them), per scenario set
 * and per expected category, and every miss (--show: every answer as JSON
 * too).  Exit 0, or 1 when a threshold (a fraction, 0.85 = 85 %) is not
 * met, 2 on a usage or fixture error.
 *
 * With --model, the model the environment configures (ALEXUS_LLM_PROVIDER,
 * _URL, _MODEL, _KEY, _TIMEOUT_MS, as reason reads them) answers each
 * scenario from the prompt reason would send; a failed call is scored as
 * the heuristic's answer (reason's fallback) and counted.  Without it, the
 * heuristic alone: the answer every incident can count on. */
#define _GNU_SOURCE /* eval.c: strcasestr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../eval/eval.c"
#include "alexus/config.h"
#include "alexus/httpc.h"

static void usage(void)
{
	fprintf(stderr, "usage: bench_eval [--min-category F] [--min-action F] [--markdown] "
			"[--quiet] [--show] [--model] DIR\n");
	exit(2);
}

static double fraction(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || v < 0.0 || v > 1.0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	struct eval_totals t;
	double min_cat = 0.0, min_act = 0.0, cat, act;
	const char *dir = NULL;
	int md = 0, quiet = 0, show = 0, use_model = 0, i, rc = 0;
	struct ax_config cfg;
	struct reason_llm_config llm;
	char err[512], desc[256];

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--min-category") == 0 && i + 1 < argc)
			min_cat = fraction(argv[++i]);
		else if (strcmp(argv[i], "--min-action") == 0 && i + 1 < argc)
			min_act = fraction(argv[++i]);
		else if (strcmp(argv[i], "--markdown") == 0)
			md = 1;
		else if (strcmp(argv[i], "--quiet") == 0)
			quiet = 1;
		else if (strcmp(argv[i], "--show") == 0)
			show = 1;
		else if (strcmp(argv[i], "--model") == 0)
			use_model = 1;
		else if (argv[i][0] == '-' || dir != NULL)
			usage();
		else
			dir = argv[i];
	}
	if (dir == NULL)
		usage();
	memset(&cfg, 0, sizeof(cfg));
	if (use_model) {
		if (ax_httpc_global_init() != 0 || ax_config_load(&cfg, err, sizeof(err)) != AX_OK ||
		    reason_llm_config_from(&llm, &cfg, err, sizeof(err)) != AX_OK) {
			fprintf(stderr, "bench_eval: %s\n", err);
			return 2;
		}
		if (llm.provider == REASON_LLM_NONE) {
			fprintf(stderr, "bench_eval: --model, but ALEXUS_LLM_PROVIDER is none\n");
			return 2;
		}
		eval_use_model(&llm);
		if (!md)
			printf("eval: model %s, the heuristic where it fails, over %s\n",
			       reason_llm_describe(&llm, desc, sizeof(desc)), dir);
	} else if (!md) {
		printf("eval: heuristic investigation over %s\n%s", dir, quiet ? "" : "misses:\n");
	}
	if (eval_dir(dir, NULL, &t, quiet || md ? NULL : stdout, show ? stdout : NULL, err,
		     sizeof(err)) != 0) {
		fprintf(stderr, "bench_eval: %s\n", err);
		return 2;
	}
	if (t.n == 0) {
		fprintf(stderr, "bench_eval: no scenario in %s\n", dir);
		return 2;
	}
	if (!md)
		printf("%d scenarios\n", t.n);
	eval_print(stdout, &t, md);
	cat = (double)t.category / t.n;
	act = (double)t.action / t.n;
	if (cat + 1e-9 < min_cat) {
		fprintf(stderr, "bench_eval: category accuracy %.3f below %.3f\n", cat, min_cat);
		rc = 1;
	}
	if (act + 1e-9 < min_act) {
		fprintf(stderr, "bench_eval: first-action accuracy %.3f below %.3f\n", act,
		        min_act);
		rc = 1;
	}
	ax_config_release(&cfg);
	return rc;
}
