/* config.c - the ALEXUS_* configuration table (see config.h).
 *
 * One static table describes every key: environment name, type, where it
 * lives in struct ax_config (offsetof), default, bounds, help text, and
 * whether it is a secret.  Loading, validation and printing are loops over
 * that table, so adding a key is one line here plus the struct field, and
 * `alexusctl config` and the README table cannot drift from the code.
 *
 * Rules: an unset variable takes the default; an empty one is an empty
 * string for string keys (ALEXUS_JWT_ISSUER="" turns the issuer check off)
 * and the default for numeric keys.  Numbers are decimal, whole, and within
 * [min, max]; anything else fails the load with AX_EINVAL and an errbuf
 * that names the variable.  String keys that have a grammar (the Redis URL,
 * the JWT algorithm, the log level) are checked by a validator.  Every
 * string field is non-NULL after a successful load. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "alexus/config.h"
#include "alexus/health.h"
#include "alexus/mem.h"

enum cfg_type { CFG_STR, CFG_INT, CFG_SIZE };

struct cfg_key {
	const char *env;
	enum cfg_type type;
	size_t off;
	const char *def;      /* NULL: computed (ALEXUS_CONSUMER) */
	long long min, max;   /* numeric keys only */
	const char *help;
	int secret;
	int (*check)(const char *v, char *errbuf, size_t errlen); /* string keys */
};

static int check_redis_url(const char *v, char *errbuf, size_t errlen);
static int check_jwt_alg(const char *v, char *errbuf, size_t errlen);
static int check_log_level(const char *v, char *errbuf, size_t errlen);
static int check_nonempty(const char *v, char *errbuf, size_t errlen);
static int check_consumer(const char *v, char *errbuf, size_t errlen);
static int check_llm_provider(const char *v, char *errbuf, size_t errlen);
static int check_http_url(const char *v, char *errbuf, size_t errlen);
static int check_llm_prices(const char *v, char *errbuf, size_t errlen);
static int check_health_addr(const char *v, char *errbuf, size_t errlen);

#define F(field) offsetof(struct ax_config, field)

static const struct cfg_key cfg_table[] = {
	{ "ALEXUS_REDIS_URL", CFG_STR, F(redis_url), "redis://127.0.0.1:16379", 0, 0,
	  "Redis server, redis://host[:port]", 0, check_redis_url },
	{ "ALEXUS_DATABASE_URL", CFG_STR, F(database_url),
	  "postgresql://alexus_app@127.0.0.1:15432/alexus", 0, 0,
	  "Postgres for the daemons (application role, RLS applies)", 0, check_nonempty },
	{ "ALEXUS_ADMIN_DATABASE_URL", CFG_STR, F(admin_database_url),
	  "postgresql://alexus@127.0.0.1:15432/alexus", 0, 0,
	  "Postgres owner role for migrations and tenant admin", 0, check_nonempty },
	{ "ALEXUS_MIGRATIONS_DIR", CFG_STR, F(migrations_dir), "proto/sql", 0, 0,
	  "directory of NNNN_*.sql migrations", 0, check_nonempty },

	{ "ALEXUS_INGEST_ADDR", CFG_STR, F(ingest_addr), "127.0.0.1", 0, 0,
	  "address ingest listens on", 0, check_nonempty },
	{ "ALEXUS_INGEST_PORT", CFG_INT, F(ingest_port), "8080", 1, 65535,
	  "port ingest listens on", 0, NULL },
	{ "ALEXUS_MAX_BODY", CFG_SIZE, F(max_body), "1048576", 1024, 64LL * 1024 * 1024,
	  "largest request body accepted, bytes", 0, NULL },
	{ "ALEXUS_MAX_INFLIGHT", CFG_INT, F(max_inflight), "64", 1, 65536,
	  "stream appends in flight before ingest answers 503", 0, NULL },
	{ "ALEXUS_DEDUP_TTL", CFG_INT, F(dedup_ttl), "21600", 1, 30 * 86400,
	  "seconds a signal id is remembered for dedup", 0, NULL },
	{ "ALEXUS_REDIS_TIMEOUT_MS", CFG_INT, F(redis_timeout_ms), "2000", 10, 600000,
	  "Redis command timeout, ms", 0, NULL },
	{ "ALEXUS_HTTP_TIMEOUT", CFG_INT, F(http_timeout_s), "30", 1, 3600,
	  "seconds a client may take to send a request", 0, NULL },
	{ "ALEXUS_INGEST_WORKERS", CFG_INT, F(ingest_workers), "0", 0, 256,
	  "ingest event-loop threads (0: one per CPU)", 0, NULL },
	{ "ALEXUS_PROFILES_DIR", CFG_STR, F(profiles_dir), "ingest/profiles", 0, 0,
	  "directory of declarative source profiles (*.json)", 0, NULL },
	{ "ALEXUS_RATE_LIMIT", CFG_INT, F(rate_limit), "2000", 0, 10000000,
	  "signals per second per tenant (token bucket; 0: no limit)", 0, NULL },
	{ "ALEXUS_RATE_BURST", CFG_INT, F(rate_burst), "20000", 1, 100000000,
	  "signals a tenant may send at once above the rate", 0, NULL },
	{ "ALEXUS_SIGNATURE_WINDOW", CFG_INT, F(signature_window_s), "300", 1, 86400,
	  "seconds a signed request's timestamp may be off (replay window)", 0, NULL },
	{ "ALEXUS_TOKEN_CACHE", CFG_INT, F(token_cache_s), "30", 0, 3600,
	  "seconds ingest caches a webhook-token lookup (0: no cache)", 0, NULL },
	{ "ALEXUS_SNS_CONFIRM_HOSTS", CFG_STR, F(sns_confirm_hosts), "sns.*.amazonaws.com", 0, 0,
	  "hosts (fnmatch patterns, comma-separated) whose SNS SubscribeURL ingest visits", 0,
	  NULL },

	{ "ALEXUS_JWT_SECRET", CFG_STR, F(jwt_secret), "", 0, 0,
	  "HMAC key for HS* bearer tokens", 1, NULL },
	{ "ALEXUS_JWT_KEY_FILE", CFG_STR, F(jwt_key_file), "", 0, 0,
	  "file with the JWT key: PEM public key for RS*, or the HMAC key for HS*", 0, NULL },
	{ "ALEXUS_JWT_ALG", CFG_STR, F(jwt_alg), "HS256", 0, 0,
	  "the one JWT algorithm accepted (HS256/384/512, RS256/384/512)", 0, check_jwt_alg },
	{ "ALEXUS_MASTER_KEY", CFG_STR, F(master_key), "", 0, 0,
	  "64 hex digits; per-tenant keys that encrypt stored credentials derive from it", 1,
	  NULL },
	{ "ALEXUS_GRAPH", CFG_STR, F(graph), "postgres", 0, 0,
	  "knowledge graph backend (postgres)", 0, check_nonempty },
	{ "ALEXUS_EMBED_URL", CFG_STR, F(embed_url), "", 0, 0,
	  "OpenAI-compatible embeddings base URL (empty: local feature hashing)", 0, NULL },
	{ "ALEXUS_EMBED_MODEL", CFG_STR, F(embed_model), "text-embedding-3-small", 0, 0,
	  "embeddings model (1536 dimensions)", 0, NULL },
	{ "ALEXUS_EMBED_KEY", CFG_STR, F(embed_key), "", 0, 0,
	  "bearer key for the embeddings endpoint", 1, NULL },
	{ "ALEXUS_EMBED_TIMEOUT_MS", CFG_INT, F(embed_timeout_ms), "10000", 100, 600000,
	  "embeddings request timeout, ms", 0, NULL },
	{ "ALEXUS_MASTER_KEY_ID", CFG_STR, F(master_key_id), "1", 0, 0,
	  "key id of ALEXUS_MASTER_KEY, stored with every credential it seals", 0, NULL },
	{ "ALEXUS_MASTER_KEYS", CFG_STR, F(master_keys), "", 0, 0,
	  "older master keys still accepted for opening, \"id:hex,id:hex\" (rotation)", 1,
	  NULL },
	{ "ALEXUS_JWT_ISSUER", CFG_STR, F(jwt_issuer), "alexus", 0, 0,
	  "required iss claim (empty: not checked)", 0, NULL },
	{ "ALEXUS_JWT_AUDIENCE", CFG_STR, F(jwt_audience), "alexus", 0, 0,
	  "required aud claim (empty: not checked)", 0, NULL },

	{ "ALEXUS_CONSUMER", CFG_STR, F(consumer), NULL, 0, 0,
	  "consumer name in the stream group (default <hostname>-<pid>)", 0, check_consumer },
	{ "ALEXUS_BATCH", CFG_INT, F(batch), "0", 0, 2000,
	  "entries per XREADGROUP (0: the daemon's default, reason 256, act 16)", 0, NULL },
	{ "ALEXUS_REASON_AGENTS", CFG_INT, F(reason_agents), "2", 0, 64,
	  "reason: threads running the stages after classify (0: none here, other "
	  "replicas' sweepers run them)", 0, NULL },
	{ "ALEXUS_RUN_LEASE_S", CFG_INT, F(run_lease_s), "120", 1, 86400,
	  "reason: seconds a worker holds a pipeline run; a crashed worker's runs are "
	  "taken over after this (keep it above ALEXUS_LLM_TIMEOUT_MS)", 0, NULL },
	{ "ALEXUS_BLOCK_MS", CFG_INT, F(block_ms), "1000", 1, 600000,
	  "XREADGROUP BLOCK, ms", 0, NULL },
	{ "ALEXUS_CLAIM_IDLE_MS", CFG_INT, F(claim_idle_ms), "30000", 1, 86400000,
	  "reclaim pending entries idle longer than this, ms", 0, NULL },
	{ "ALEXUS_MAX_DELIVERIES", CFG_INT, F(max_deliveries), "5", 1, 1000,
	  "deliveries before an entry goes to alexus:dlq", 0, NULL },
	{ "ALEXUS_HEALTH_ADDR", CFG_STR, F(health_addr), "", 0, 0,
	  "reason, act: host:port of the /healthz and /readyz listener (empty: none)", 0,
	  check_health_addr },
	{ "ALEXUS_HEALTH_MAX_AGE_MS", CFG_INT, F(health_max_age_ms), "30000", 100, 3600000,
	  "reason, act: /readyz answers 503 when the worker loop has not reached Redis and "
	  "Postgres for this long, ms", 0, NULL },

	{ "ALEXUS_NOTIFY_TIMEOUT_MS", CFG_INT, F(notify_timeout_ms), "5000", 10, 600000,
	  "webhook notification timeout per attempt, ms", 0, NULL },
	{ "ALEXUS_NOTIFY_RETRIES", CFG_INT, F(notify_retries), "3", 0, 100,
	  "extra attempts after a failed notification", 0, NULL },
	{ "ALEXUS_NOTIFY_BACKOFF_MS", CFG_INT, F(notify_backoff_ms), "200", 0, 600000,
	  "first retry delay, doubled each attempt, ms", 0, NULL },
	{ "ALEXUS_NOTIFY_MAX_ATTEMPTS", CFG_INT, F(notify_max_attempts), "12", 1, 1000,
	  "attempts per notification target, over minutes, before alexus:dlq", 0, NULL },
	{ "ALEXUS_NOTIFY_RETRY_MAX_S", CFG_INT, F(notify_retry_max_s), "300", 1, 86400,
	  "longest wait between two attempts of a notification target, s", 0, NULL },
	{ "ALEXUS_NOTIFY_BATCH", CFG_INT, F(notify_batch), "32", 1, 1000,
	  "due notification retries act takes per pass (bounds its memory)", 0, NULL },
	{ "ALEXUS_PUBLIC_URL", CFG_STR, F(public_url), "http://127.0.0.1:8080", 0, 0,
	  "base URL of ingest as people reach it, for links in notifications", 0,
	  check_http_url },
	{ "ALEXUS_APPROVAL_TTL_S", CFG_INT, F(approval_ttl_s), "3600", 1, 604800,
	  "seconds an action waits for approval; then it is expired (rejected)", 0, NULL },
	{ "ALEXUS_JOBS_INTERVAL_MS", CFG_INT, F(jobs_interval_ms), "1000", 10, 3600000,
	  "act: how often the periodic jobs look for due work, ms", 0, NULL },
	{ "ALEXUS_LEADER_TTL_MS", CFG_INT, F(leader_ttl_ms), "10000", 100, 600000,
	  "act: the jobs leader lock's lifetime; renewed at a third of it, ms", 0, NULL },
	{ "ALEXUS_QUALITY_GATE_S", CFG_INT, F(quality_gate_s), "172800", 1, 31536000,
	  "seconds after a resolve before the Resolution Quality Gate checks it (48 h)", 0,
	  NULL },
	{ "ALEXUS_K8S_API", CFG_STR, F(k8s_api), "", 0, 0,
	  "Kubernetes API base URL (empty: in-cluster, or the kubeconfig's)", 0,
	  check_http_url },
	{ "ALEXUS_KUBECONFIG", CFG_STR, F(kubeconfig), "", 0, 0,
	  "kubeconfig file for the Kubernetes adapter (empty: in-cluster paths)", 0, NULL },
	{ "ALEXUS_K8S_TIMEOUT_MS", CFG_INT, F(k8s_timeout_ms), "10000", 100, 600000,
	  "Kubernetes API request timeout, ms", 0, NULL },

	{ "ALEXUS_LLM_PROVIDER", CFG_STR, F(llm_provider), "none", 0, 0,
	  "LLM for incident analysis: none (heuristic only), openai (any OpenAI-compatible "
	  "chat-completions server) or anthropic", 0, check_llm_provider },
	{ "ALEXUS_LLM_URL", CFG_STR, F(llm_url), "", 0, 0,
	  "LLM base URL (empty: https://api.openai.com/v1 or https://api.anthropic.com)", 0,
	  check_http_url },
	{ "ALEXUS_LLM_MODEL", CFG_STR, F(llm_model), "", 0, 0,
	  "LLM model (empty: gpt-4o-mini or claude-3-5-haiku-latest)", 0, NULL },
	{ "ALEXUS_LLM_KEY", CFG_STR, F(llm_key), "", 0, 0,
	  "LLM API key when the tenant has none of its own", 1, NULL },
	{ "ALEXUS_LLM_TIMEOUT_MS", CFG_INT, F(llm_timeout_ms), "30000", 100, 600000,
	  "LLM request timeout, ms (no retry inside a request)", 0, NULL },
	{ "ALEXUS_LLM_MAX_TOKENS", CFG_INT, F(llm_max_tokens), "1024", 16, 200000,
	  "most tokens an LLM answer may use", 0, NULL },
	{ "ALEXUS_LLM_DAILY_TOKENS", CFG_INT, F(llm_daily_tokens), "1000000", 0, 2000000000,
	  "LLM tokens per tenant per UTC day (0: no limit)", 0, NULL },
	{ "ALEXUS_LLM_PRICES", CFG_STR, F(llm_prices), "", 0, 0,
	  "LLM prices, \"model-prefix=in/out,...\" in USD per million tokens, before the "
	  "built-in table", 0, check_llm_prices },

	{ "ALEXUS_LOG_LEVEL", CFG_STR, F(log_level), "info", 0, 0,
	  "debug, info, warn or error", 0, check_log_level },
};

#undef F

#define NKEYS (sizeof(cfg_table) / sizeof(cfg_table[0]))

static char **str_field(struct ax_config *c, const struct cfg_key *k)
{
	return (char **)(void *)((char *)c + k->off);
}

static char *const *str_field_c(const struct ax_config *c, const struct cfg_key *k)
{
	return (char *const *)(const void *)((const char *)c + k->off);
}

static int check_redis_url(const char *v, char *errbuf, size_t errlen)
{
	char host[256];
	int port;

	if (ax_redis_url_parse(v, host, sizeof(host), &port) != AX_OK)
		return ax_errfmt(errbuf, errlen, "not redis://host[:port]");
	return 0;
}

static int check_jwt_alg(const char *v, char *errbuf, size_t errlen)
{
	static const char *const ok[] = { "HS256", "HS384", "HS512", "RS256", "RS384", "RS512" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (strcmp(v, ok[i]) == 0)
			return 0;
	}
	return ax_errfmt(errbuf, errlen, "must be HS256, HS384, HS512, RS256, RS384 or RS512");
}

static int check_log_level(const char *v, char *errbuf, size_t errlen)
{
	static const char *const ok[] = { "debug", "info", "warn", "warning", "error" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (strcasecmp(v, ok[i]) == 0)
			return 0;
	}
	return ax_errfmt(errbuf, errlen, "must be debug, info, warn or error");
}

static int check_nonempty(const char *v, char *errbuf, size_t errlen)
{
	if (v[0] == '\0')
		return ax_errfmt(errbuf, errlen, "must not be empty");
	return 0;
}

static int check_consumer(const char *v, char *errbuf, size_t errlen)
{
	const char *p;

	if (v[0] == '\0' || strlen(v) > 200)
		return ax_errfmt(errbuf, errlen, "must be 1..200 characters");
	for (p = v; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return ax_errfmt(errbuf, errlen, "must be printable ASCII without spaces");
	}
	return 0;
}

static int check_llm_provider(const char *v, char *errbuf, size_t errlen)
{
	if (strcmp(v, "none") != 0 && strcmp(v, "openai") != 0 && strcmp(v, "anthropic") != 0)
		return ax_errfmt(errbuf, errlen, "must be none, openai or anthropic");
	return 0;
}

/* Empty, or an http(s) URL (httpc refuses every other scheme anyway). */
static int check_http_url(const char *v, char *errbuf, size_t errlen)
{
	if (v[0] != '\0' && strncasecmp(v, "http://", 7) != 0 && strncasecmp(v, "https://", 8) != 0)
		return ax_errfmt(errbuf, errlen, "must start with http:// or https://");
	return 0;
}

/* A non-negative decimal ("2.5", "10", ".5") of at most 12 characters at
 * *p into *v; advances *p. */
static int price_num(const char **p, double *v)
{
	const char *s = *p;
	char buf[16];
	int digits = 0;

	while (*s >= '0' && *s <= '9') {
		s++;
		digits++;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits++;
		}
	}
	if (digits == 0 || s - *p > 12)
		return -1;
	memcpy(buf, *p, (size_t)(s - *p));
	buf[s - *p] = '\0';
	*v = strtod(buf, NULL);
	*p = s;
	return 0;
}

static int prefix_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
}

int ax_llm_prices_parse(const char *spec, struct ax_llm_price out[AX_LLM_PRICES_MAX],
			char *errbuf, size_t errlen)
{
	const char *p = spec;
	int n = 0;

	while (*p != '\0') {
		const char *start = p;
		struct ax_llm_price e;

		if (n == AX_LLM_PRICES_MAX) {
			ax_errfmt(errbuf, errlen, "more than %d entries", AX_LLM_PRICES_MAX);
			return -1;
		}
		while (prefix_char(*p))
			p++;
		if (p == start || p - start >= (long)sizeof(e.prefix) || *p != '=')
			goto bad;
		memcpy(e.prefix, start, (size_t)(p - start));
		e.prefix[p - start] = '\0';
		p++;
		if (price_num(&p, &e.in_per_mtok) != 0 || *p != '/')
			goto bad;
		p++;
		if (price_num(&p, &e.out_per_mtok) != 0)
			goto bad;
		if (out != NULL)
			out[n] = e;
		n++;
		if (*p == ',' && p[1] != '\0')
			p++;
		else if (*p != '\0')
			goto bad;
	}
	return n;
bad:
	ax_errfmt(errbuf, errlen, "entry %d: want model-prefix=in/out (USD per million tokens)",
		  n + 1);
	return -1;
}

static int check_llm_prices(const char *v, char *errbuf, size_t errlen)
{
	return ax_llm_prices_parse(v, NULL, errbuf, errlen) < 0 ? -1 : 0;
}

/* Empty (no listener), or host:port with a port the daemon can bind. */
static int check_health_addr(const char *v, char *errbuf, size_t errlen)
{
	char host[256];
	int port;

	if (v[0] == '\0')
		return 0;
	if (ax_health_addr_parse(v, host, sizeof(host), &port) != AX_OK || port < 1)
		return ax_errfmt(errbuf, errlen, "not host:port (e.g. 0.0.0.0:9090, [::]:9090)");
	return 0;
}

static char *default_consumer(void)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "alexus");
	host[sizeof(host) - 1] = '\0';
	return ax_xasprintf("%s-%ld", host, (long)getpid());
}

static int parse_num(const char *v, long long *out)
{
	char *end;
	long long n;

	if (!((v[0] >= '0' && v[0] <= '9') || (v[0] == '-' && v[1] >= '0' && v[1] <= '9')))
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

ax_err ax_config_load(struct ax_config *c, char *errbuf, size_t errlen)
{
	char why[160];
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NKEYS; i++) {
		const struct cfg_key *k = &cfg_table[i];
		const char *v = getenv(k->env);

		if (k->type == CFG_STR) {
			char **f = str_field(c, k);

			if (v != NULL)
				*f = ax_xstrdup(v);
			else if (k->def != NULL)
				*f = ax_xstrdup(k->def);
			else
				*f = default_consumer();
			why[0] = '\0';
			if (k->check != NULL && k->check(*f, why, sizeof(why)) != 0) {
				ax_errfmt(errbuf, errlen, "%s: %s", k->env, why);
				goto fail;
			}
		} else {
			long long n;

			if (v == NULL || v[0] == '\0')
				v = k->def;
			if (parse_num(v, &n) != 0) {
				ax_errfmt(errbuf, errlen, "%s: '%.40s' is not a whole number", k->env,
					  v);
				goto fail;
			}
			if (n < k->min || n > k->max) {
				ax_errfmt(errbuf, errlen, "%s: %lld is out of range [%lld, %lld]",
					  k->env, n, k->min, k->max);
				goto fail;
			}
			if (k->type == CFG_INT)
				*(int *)(void *)((char *)c + k->off) = (int)n;
			else
				*(size_t *)(void *)((char *)c + k->off) = (size_t)n;
		}
	}
	return AX_OK;
fail:
	ax_config_release(c);
	return AX_EINVAL;
}

void ax_config_release(struct ax_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++) {
		if (cfg_table[i].type == CFG_STR) {
			char **f = str_field(c, &cfg_table[i]);
			free(*f);
			*f = NULL;
		}
	}
	memset(c, 0, sizeof(*c));
}

/* Print a URL with the password of its userinfo (scheme://user:pw@host)
 * replaced by "****". */
static void print_masked_url(const char *v)
{
	const char *s = strstr(v, "://"), *end, *at = NULL, *colon, *p;

	if (s != NULL) {
		s += 3;
		end = s + strcspn(s, "/?#");
		for (p = s; p < end; p++) {
			if (*p == '@')
				at = p; /* the last '@' ends the userinfo */
		}
		colon = at != NULL ? memchr(s, ':', (size_t)(at - s)) : NULL;
		if (colon != NULL) {
			printf("%.*s****%s", (int)(colon + 1 - v), v, at);
			return;
		}
	}
	fputs(v, stdout);
}

void ax_config_print(const struct ax_config *c, int show_secrets)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		const struct cfg_key *k = &cfg_table[i];

		printf("%s=", k->env);
		if (k->type == CFG_STR) {
			const char *v = *str_field_c(c, k);

			if (v == NULL)
				v = "";
			if (k->secret && !show_secrets && v[0] != '\0')
				fputs("****", stdout);
			else if (!show_secrets)
				print_masked_url(v);
			else
				fputs(v, stdout);
		} else if (k->type == CFG_INT) {
			printf("%d", *(const int *)(const void *)((const char *)c + k->off));
		} else {
			printf("%zu", *(const size_t *)(const void *)((const char *)c + k->off));
		}
		printf("  # %s\n", k->help);
	}
}

/* Host name characters: a DNS name or an IPv4 literal. */
static int host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == '_';
}

ax_err ax_redis_url_parse(const char *url, char *host, size_t hostlen, int *port)
{
	static const char scheme[] = "redis://";
	const char *h, *he, *p;
	size_t hl;
	long pn = 6379;

	if (url == NULL || host == NULL || hostlen == 0 || port == NULL)
		return AX_EINVAL;
	host[0] = '\0';
	if (strncasecmp(url, scheme, sizeof(scheme) - 1) != 0)
		return AX_EINVAL;
	h = url + sizeof(scheme) - 1;
	if (*h == '[') {
		/* IPv6 literal: redis://[::1]:6379 */
		he = strchr(h, ']');
		if (he == NULL)
			return AX_EINVAL;
		for (p = h + 1; p < he; p++) {
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
			      (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
				return AX_EINVAL;
		}
		h++;
		p = he + 1;
	} else {
		for (he = h; host_char(*he); he++)
			;
		p = he;
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl >= hostlen)
		return AX_EINVAL;
	if (*p == ':') {
		p++;
		if (*p < '0' || *p > '9')
			return AX_EINVAL;
		pn = 0;
		while (*p >= '0' && *p <= '9') {
			pn = pn * 10 + (*p - '0');
			if (pn > 65535)
				return AX_EINVAL;
			p++;
		}
		if (pn < 1)
			return AX_EINVAL;
	}
	if (*p == '/') {
		/* optional database number; hiredis selects it separately */
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p != '\0')
		return AX_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)pn;
	return AX_OK;
}
