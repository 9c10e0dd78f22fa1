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
 * Everything is bounded: at most WORDS_MAX words of WORD_MAX bytes per
 * source, so a hostile summary costs linear time and fixed stack. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "alexus/mem.h"

#define WORDS_MAX 256
#define WORD_MAX 48

struct words {
	int n;
	char w[WORDS_MAX][WORD_MAX];
};

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

static void flush(struct words *ws, char *cur, size_t *len)
{
	if (*len > 0 && ws->n < WORDS_MAX) {
		cur[*len] = '\0';
		memcpy(ws->w[ws->n++], cur, *len + 1);
	}
	*len = 0;
}

/* Append the words of s to ws.  ASCII letters and digits form words; a
 * lower-to-upper change ("highCpu") or the last capital of a run before
 * lower case ("CPUUsage") starts a new word; anything else separates. */
static void tokenize(const char *s, struct words *ws)
{
	char cur[WORD_MAX];
	size_t len = 0, i;

	if (s == NULL)
		return;
	for (i = 0; s[i] != '\0' && ws->n < WORDS_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned char prev = i > 0 ? (unsigned char)s[i - 1] : 0;
		unsigned char next = (unsigned char)s[i + 1];

		if (c >= 0x80 || !isalnum(c)) {
			flush(ws, cur, &len);
			continue;
		}
		if (len > 0 && isupper(c) &&
		    (islower(prev) || (isupper(prev) && next != 0 && next < 0x80 && islower(next))))
			flush(ws, cur, &len);
		if (len < WORD_MAX - 1)
			cur[len++] = (char)tolower(c);
	}
	flush(ws, cur, &len);
}

static int has_word(const struct words *ws, const char *kw)
{
	size_t n = strlen(kw);
	int prefix = n > 0 && kw[n - 1] == '*', i;

	if (prefix)
		n--;
	for (i = 0; i < ws->n; i++) {
		if (prefix ? strncmp(ws->w[i], kw, n) == 0 : strcmp(ws->w[i], kw) == 0)
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
	/* Two word lists of ~12 KiB each: static would not be reentrant,
	 * and this runs once per new incident, so the heap is fine. */
	struct words *nw = ax_xcalloc(1, sizeof(*nw)), *tw = ax_xcalloc(1, sizeof(*tw));
	const cJSON *l;
	int score[NCATEGORIES], best = -1, runner_up = 0;
	size_t c, k;
	double conf;

	memset(out, 0, sizeof(*out));
	tokenize(name, nw);
	tokenize(summary, tw);
	if (cJSON_IsObject(labels)) {
		cJSON_ArrayForEach(l, labels) {
			if (l->string != NULL && strcmp(l->string, "alertname") == 0)
				continue;
			if (cJSON_IsString(l))
				tokenize(l->valuestring, tw);
		}
	}

	for (c = 0; c < NCATEGORIES; c++) {
		score[c] = 0;
		for (k = 0; categories[c].kw[k] != NULL; k++) {
			const char *kw = categories[c].kw[k];
			score[c] += (has_word(nw, kw) ? 2 : 0) + (has_word(tw, kw) ? 1 : 0);
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
			if (has_word(nw, kw) || has_word(tw, kw))
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
