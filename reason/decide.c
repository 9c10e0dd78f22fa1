/* decide.c - confidence calibration and the decision; see decide.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double round2(double x)
{
	return round(x * 100.0) / 100.0;
}

static const char *first_action(const cJSON *analysis)
{
	const cJSON *acts = cJSON_GetObjectItemCaseSensitive(analysis, "actions");

	return str(cJSON_GetArrayItem(acts, 0), "type");
}

void reason_calibrate(const cJSON *answer, const cJSON *heuristic, const cJSON *similar,
		      struct reason_calibration *out)
{
	const char *mc, *hc, *act;
	const cJSON *s;
	double c;

	memset(out, 0, sizeof(*out));
	out->heuristic = num(heuristic, "confidence");
	if (answer == NULL) {
		out->confidence = round2(fmin(fmax(out->heuristic, 0.05), 0.99));
		return;
	}
	out->from_model = 1;
	out->model = num(answer, "confidence");
	mc = str(answer, "category");
	hc = str(heuristic, "category");
	out->agreement = mc != NULL && hc != NULL && strcmp(mc, hc) == 0 ? 0.05 : -0.10;
	act = first_action(answer);
	cJSON_ArrayForEach(s, similar)
	{
		const char *fix = str(s, "fix");
		double score = num(s, "score");

		if (act == NULL || fix == NULL || strncmp(fix, act, strlen(act)) != 0)
			continue;
		if (score > 1)
			score = 1;
		if (0.1 * score > out->similar_fix)
			out->similar_fix = round2(0.1 * score);
	}
	c = 0.5 * out->model + 0.5 * out->heuristic + out->agreement + out->similar_fix;
	out->confidence = round2(fmin(fmax(c, 0.05), 0.99));
}

static void add_num(cJSON *o, const char *k, double v)
{
	if (cJSON_AddNumberToObject(o, k, v) == NULL)
		abort();
}

cJSON *reason_calibration_json(const struct reason_calibration *c)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "from", c->from_model ? "model" : "heuristic") ==
				 NULL)
		abort();
	if (c->from_model) {
		add_num(o, "model", c->model);
		add_num(o, "heuristic", c->heuristic);
		add_num(o, "agreement", c->agreement);
		add_num(o, "similar_fix", c->similar_fix);
	} else {
		add_num(o, "heuristic", c->heuristic);
	}
	add_num(o, "confidence", c->confidence);
	return o;
}

const char *reason_decide(double confidence, const char *first_action,
			  const struct reason_thresholds *t, char *whybuf, size_t whylen)
{
	if (first_action != NULL && strcmp(first_action, "escalate") == 0) {
		snprintf(whybuf, whylen, "the first proposed action is escalate");
		return "escalate";
	}
	if (confidence >= t->execute) {
		snprintf(whybuf, whylen, "confidence %.2f >= execute threshold %.2f", confidence,
			 t->execute);
		return "execute";
	}
	if (confidence >= t->clarify) {
		snprintf(whybuf, whylen, "confidence %.2f >= clarify threshold %.2f, < execute %.2f",
			 confidence, t->clarify, t->execute);
		return "clarify";
	}
	snprintf(whybuf, whylen, "confidence %.2f < clarify threshold %.2f", confidence,
		 t->clarify);
	return "escalate";
}
