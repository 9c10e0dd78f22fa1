/* classify.c - the heuristic classify stage (see classify.h).
 *
 * Design: keyword cues over words, not substrings.  Alert names are
 * identifiers ("KubePodCrashLooping", "NodeFilesystemAlmostOutOfSpace"),
 * so the tokenizer splits CamelCase as well as punctuation, and keywords
 * match whole words (or word prefixes where marked with '*', so "cert*"
 * covers certificate and certs).  Whole words keep "db" from matching
 * inside "feedback" and "space" from matching "namespace".
 *
 * The table is ordered from specific to general because ties go to the
 * earlier category: "DeploymentFailed" has a deployment cue and an errors
 * cue of equal weight and is a deployment problem.  Weights favour the
 * alert name (its author chose it to say what is wrong) over free text.
 * The alertname label repeats the name and is skipped so a name is not
 * counted twice.
 *
 * Everything is bounded: at most REASON_WORDS_MAX words of
 * REASON_WORD_MAX bytes per source, so a hostile summary costs linear time
 * and fixed memory.  The word list and its matcher are public because the
 * heuristic investigation (heuristic.c) matches its rules the same way. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "alexus/mem.h"

struct category {
	const char *name;
	const char *const *kw;  /* NULL-terminated; trailing '*' = prefix */
};

static const char *const kw_certificate[] = { "cert*", "tls", "ssl", "x509", "expir*", NULL };
static const char *const kw_database[] = { "database*", "db", "postgres*", "pg", "mysql*",
					   "mariadb", "mongo*", "redis", "sql", "replication",
					   "deadlock*", "query", "queries", NULL };
static const char *const kw_queue[] = { "queue*", "kafka*", "rabbitmq", "backlog*",
					"consumer*", "lag", "dlq", "sqs", "nats", NULL };
static const char *const kw_deployment[] = { "deploy*", "rollout*", "replica*", "rollback*",
					     "release*", "canary", "image", NULL };
static const char *const kw_disk[] = { "disk*", "filesystem*", "fs", "inode*", "volume*",
				       "storage", "space", "pvc", "iops", NULL };
static const char *const kw_memory[] = { "memory", "mem", "oom*", "heap", "rss", "swap*",
					 "leak*", NULL };
static const char *const kw_cpu[] = { "cpu*", "load", "throttl*", "processor*", NULL };
static const char *const kw_network[] = { "network*", "packet*", "dns", "tcp", "udp",
					  "bandwidth", "conntrack", "timeout*", "connection*",
					  "interface", NULL };
static const char *const kw_latency[] = { "latenc*", "slow*", "p99", "p95", "p90",
					  "duration", "apdex", NULL };
static const char *const kw_errors[] = { "error*", "5xx", "exception*", "fail*", "panic*",
					 NULL };
static const char *const kw_availability[] = { "down", "unavailable", "unreachable",
					       "outage", "uptime", "probe*", "health*",
					       "unhealthy", "crash*", "restart*", "absent",
					       "ready", "dead", NULL };

static const struct category categories[] = {
	{ "certificate", kw_certificate },
	{ "database", kw_database },
	{ "queue", kw_queue },
	{ "deployment", kw_deployment },
	{ "disk", kw_disk },
	{ "memory", kw_memory },
	{ "cpu", kw_cpu },
	{ "network", kw_network },
	{ "latency", kw_latency },
	{ "errors", kw_errors },
	{ "availability", kw_availability },
};

#define NCATEGORIES (sizeof(categories) / sizeof(categories[0]))

#define PHRASE_MAX 6 /* words in one reason_words_has keyword */

static void flush(struct reason_words *ws, char *cur, size_t *len)
{
	if (*len > 0 && ws->n < REASON_WORDS_MAX) {
		cur[*len] = '\0';
		memcpy(ws->w[ws->n++], cur, *len + 1);
	}
	*len = 0;
}

/* ASCII letters and digits form words; a lower-to-upper change ("highCpu")
 * or the last capital of a run before lower case ("CPUUsage") starts a new
 * word, and so does a digit after a run of three or more letters
 * ("Http5xx"); anything else separates. */
void reason_words_add(struct reason_words *ws, const char *s)
{
	char cur[REASON_WORD_MAX];
	size_t len = 0, letters = 0, i;

	if (s == NULL)
		return;
	for (i = 0; s[i] != '\0' && ws->n < REASON_WORDS_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned char prev = i > 0 ? (unsigned char)s[i - 1] : 0;
		unsigned char next = (unsigned char)s[i + 1];

		if (c >= 0x80 || !isalnum(c)) {
			flush(ws, cur, &len);
			letters = 0;
			continue;
		}
		if (len > 0 && isupper(c) &&
		    (islower(prev) ||
		     (isupper(prev) && next != 0 && next < 0x80 && islower(next)))) {
			flush(ws, cur, &len);
			letters = 0;
		}
		if (len > 0 && isdigit(c) && letters >= 3 && letters == len)
			flush(ws, cur, &len);
		letters = isalpha(c) ? letters + 1 : 0;
		if (len < REASON_WORD_MAX - 1)
			cur[len++] = (char)tolower(c);
	}
	flush(ws, cur, &len);
}

static int word_is(const char *w, const char *kw, size_t n)
{
	if (n > 0 && kw[n - 1] == '*')
		return strncmp(w, kw, n - 1) == 0;
	return strncmp(w, kw, n) == 0 && w[n] == '\0';
}

int reason_words_has(const struct reason_words *ws, const char *kw)
{
	const char *part[PHRASE_MAX];
	size_t plen[PHRASE_MAX];
	int np = 0, i, k;

	while (*kw != '\0' && np < PHRASE_MAX) {
		const char *sp = strchr(kw, ' ');
		size_t n = sp != NULL ? (size_t)(sp - kw) : strlen(kw);

		part[np] = kw;
		plen[np++] = n;
		kw += n;
		while (*kw == ' ')
			kw++;
	}
	if (np == 0)
		return 0;
	for (i = 0; i + np <= ws->n; i++) {
		for (k = 0; k < np && word_is(ws->w[i + k], part[k], plen[k]); k++)
			;
		if (k == np)
			return 1;
	}
	return 0;
}

static double round2(double x)
{
	return floor(x * 100.0 + 0.5) / 100.0;
}

void reason_classify(const char *name, const char *summary, const cJSON *labels,
		     const char *service, enum ax_severity sev, struct reason_class *out)
{
	/* Two word lists of ~24 KiB each: static would not be reentrant,
	 * and this runs once per new incident, so the heap is fine. */
	struct reason_words *nw = ax_xcalloc(1, sizeof(*nw)), *tw = ax_xcalloc(1, sizeof(*tw));
	const cJSON *l;
	int score[NCATEGORIES], best = -1, runner_up = 0;
	size_t c, k;
	double conf;

	memset(out, 0, sizeof(*out));
	reason_words_add(nw, name);
	reason_words_add(tw, summary);
	if (cJSON_IsObject(labels)) {
		cJSON_ArrayForEach(l, labels) {
			if (l->string != NULL && strcmp(l->string, "alertname") == 0)
				continue;
			if (cJSON_IsString(l))
				reason_words_add(tw, l->valuestring);
		}
	}

	for (c = 0; c < NCATEGORIES; c++) {
		score[c] = 0;
		for (k = 0; categories[c].kw[k] != NULL; k++) {
			const char *kw = categories[c].kw[k];
			score[c] +=
			    (reason_words_has(nw, kw) ? 2 : 0) + (reason_words_has(tw, kw) ? 1 : 0);
		}
		if (score[c] > 0 && (best < 0 || score[c] > score[best]))
			best = (int)c;
	}
	for (c = 0; c < NCATEGORIES; c++) {
		if ((int)c != best && score[c] > runner_up)
			runner_up = score[c];
	}

	out->severity = sev;
	if (best < 0) {
		out->category = "other";
		conf = 0.3;
	} else {
		out->category = categories[best].name;
		out->score = score[best];
		for (k = 0; categories[best].kw[k] != NULL && out->ncues < REASON_MAX_CUES; k++) {
			const char *kw = categories[best].kw[k];
			if (reason_words_has(nw, kw) || reason_words_has(tw, kw))
				out->cues[out->ncues++] = kw;
		}
		conf = 0.3 + 0.15 * (out->score < 4 ? out->score : 4);
		if (runner_up == out->score)
			conf -= 0.1;
	}
	switch (sev) {
	case AX_SEV_CRITICAL:
		conf += 0.05;
		break;
	case AX_SEV_HIGH:
		conf += 0.03;
		break;
	case AX_SEV_INFO:
		conf -= 0.1;
		break;
	default:
		break;
	}
	if (conf < 0.0)
		conf = 0.0;
	if (conf > 1.0)
		conf = 1.0;
	out->confidence = round2(conf);
	out->intent = sev == AX_SEV_INFO && (service == NULL || service[0] == '\0') ? "noise"
										     : "incident";
	free(nw);
	free(tw);
}

cJSON *reason_class_json(const struct reason_class *c)
{
	cJSON *o = cJSON_CreateObject(), *cues;
	int i;

	if (o == NULL)
		abort();
	cJSON_AddStringToObject(o, "category", c->category);
	cJSON_AddStringToObject(o, "intent", c->intent);
	cJSON_AddNumberToObject(o, "confidence", c->confidence);
	cJSON_AddStringToObject(o, "severity", ax_severity_str(c->severity));
	cJSON_AddNumberToObject(o, "score", c->score);
	cues = cJSON_AddArrayToObject(o, "cues");
	if (cues == NULL)
		abort();
	for (i = 0; i < c->ncues; i++)
		cJSON_AddItemToArray(cues, cJSON_CreateString(c->cues[i]));
	return o;
}
