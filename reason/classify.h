/* classify.h - the heuristic classify stage of the reasoning state machine.
 *
 * Pure functions: no I/O, no allocation except the JSON tree the caller
 * asks for.  The LLM stage (a later issue) falls back to this one. */
#ifndef REASON_CLASSIFY_H
#define REASON_CLASSIFY_H

#include <cjson/cJSON.h>
#include "alexus/signal.h"

#define REASON_MAX_CUES 8
#define REASON_WORDS_MAX 512 /* words kept per reason_words */
#define REASON_WORD_MAX 48   /* bytes per word, NUL included; longer words are cut */

/* The words of some text as the keyword matchers see them: lower case,
 * split at CamelCase and punctuation (see reason_classify).  Fields are
 * private; about 24 KiB, so allocate it rather than put it on the stack. */
struct reason_words {
	int n;
	char w[REASON_WORDS_MAX][REASON_WORD_MAX];
};

/* Append the words of s (NULL is nothing) to ws; words beyond
 * REASON_WORDS_MAX are dropped. */
void reason_words_add(struct reason_words *ws, const char *s);

/* 1 when ws holds kw.  kw is one or more lower-case words separated by
 * single spaces ("out of memory"), which must appear consecutively; a word
 * ending in '*' matches any word it prefixes ("cert*"). */
int reason_words_has(const struct reason_words *ws, const char *kw);

struct reason_class {
	const char *category;   /* static: cpu, memory, disk, ... , other */
	const char *intent;     /* static: "incident" or "noise" */
	enum ax_severity severity;
	double confidence;      /* [0, 1], two decimals */
	int score;              /* weight of the cues behind category */
	int ncues;
	const char *cues[REASON_MAX_CUES]; /* static keywords that matched */
};

/* Classify an alert from its name, summary, label values and severity.
 *
 * Text is split into lower-case words (CamelCase and letter/digit
 * boundaries inside identifiers split too: "HighCPUUsage" gives high, cpu,
 * usage; "Http5xx" gives http, 5xx; "5xx", "p99", "x509" and "k8s" stay
 * one word: a letter run shorter than three before a digit is a unit or a
 * percentile name, not a word).  Each category has a keyword list; a
 * keyword found among the name's words weighs 2, among the words of the
 * summary or of any label value 1, both 3.  The category with the highest
 * total wins; ties go to the earlier, more specific category in the table
 * (certificate, database, queue, deployment, disk, memory, cpu, network,
 * latency, errors, availability).  No keyword at all gives "other".
 *
 * confidence = 0.3 with no cue, else 0.3 + 0.15 * min(score, 4) (so 0.45
 * .. 0.9, more cues never lower it); minus 0.1 when another category
 * scored as much; plus 0.05 for critical, 0.03 for high, minus 0.1 for
 * info; clamped to [0, 1] and rounded to two decimals.
 *
 * intent is "noise" for an info alert that names no service (nothing to
 * page anyone about), else "incident".
 *
 * Any string may be NULL; labels may be NULL. */
void reason_classify(const char *name, const char *summary, const cJSON *labels,
		     const char *service, enum ax_severity sev, struct reason_class *out);

/* The classification as the classify stage's output document:
 * {"category","intent","confidence","severity","score","cues":[...]}. */
cJSON *reason_class_json(const struct reason_class *c);

#endif /* REASON_CLASSIFY_H */
