/* config.h - the one configuration table, read from ALEXUS_* variables.
 *
 * Every key has a default that works with the local stack (scripts/stack),
 * bounds, and a line in the README's table (`alexusctl config` prints the
 * table with current values).  Loading validates everything once; the
 * caller refuses to start on error. */
#ifndef AX_CONFIG_H
#define AX_CONFIG_H

#include <stddef.h>
#include "alexus/err.h"

struct ax_config {
	/* connections */
	char *redis_url;          /* ALEXUS_REDIS_URL redis://127.0.0.1:16379 */
	char *database_url;       /* ALEXUS_DATABASE_URL: the application role (RLS applies) */
	char *admin_database_url; /* ALEXUS_ADMIN_DATABASE_URL: migrations and tenant admin */
	char *migrations_dir;     /* ALEXUS_MIGRATIONS_DIR proto/sql */

	/* ingest */
	char *ingest_addr;        /* ALEXUS_INGEST_ADDR 127.0.0.1 */
	int ingest_port;          /* ALEXUS_INGEST_PORT 8080 */
	size_t max_body;          /* ALEXUS_MAX_BODY bytes, 1 MiB */
	int max_inflight;         /* ALEXUS_MAX_INFLIGHT appends in flight, 64 */
	int dedup_ttl;            /* ALEXUS_DEDUP_TTL seconds, 21600 */
	int redis_timeout_ms;     /* ALEXUS_REDIS_TIMEOUT_MS 2000 */
	int http_timeout_s;       /* ALEXUS_HTTP_TIMEOUT seconds for client reads, 30 */
	int ingest_workers;       /* ALEXUS_INGEST_WORKERS event-loop threads, 0 = one per CPU */
	char *profiles_dir;       /* ALEXUS_PROFILES_DIR declarative source profiles, ingest/profiles */
	int rate_limit;           /* ALEXUS_RATE_LIMIT signals/s per tenant, 2000 (0 = off) */
	int rate_burst;           /* ALEXUS_RATE_BURST token bucket size, 20000 */
	int signature_window_s;   /* ALEXUS_SIGNATURE_WINDOW seconds a signed timestamp may age, 300 */
	int token_cache_s;        /* ALEXUS_TOKEN_CACHE seconds ingest caches a webhook-token lookup, 30 */
	char *sns_confirm_hosts;  /* ALEXUS_SNS_CONFIRM_HOSTS fnmatch(3) patterns, comma-separated */

	/* auth */
	char *jwt_secret;         /* ALEXUS_JWT_SECRET (HS* key); required by ingest for HS* */
	char *jwt_key_file;       /* ALEXUS_JWT_KEY_FILE PEM public key (RS*) or HMAC key file */
	char *jwt_alg;            /* ALEXUS_JWT_ALG HS256: tokens must use exactly this (HS256|HS384|HS512|RS256|RS384|RS512) */
	char *master_key;         /* ALEXUS_MASTER_KEY 64 hex digits: per-tenant credential keys derive from it */
	char *master_key_id;      /* ALEXUS_MASTER_KEY_ID: key id of master_key (text, 1..2^31-1) */
	char *master_keys;        /* ALEXUS_MASTER_KEYS "id:hex,...": older keys, for opening */
	char *graph;              /* ALEXUS_GRAPH: knowledge graph backend (postgres) */
	char *embed_url;          /* ALEXUS_EMBED_URL: "" = local feature hashing */
	char *embed_model;        /* ALEXUS_EMBED_MODEL */
	char *embed_key;          /* ALEXUS_EMBED_KEY: bearer key (secret) */
	int embed_timeout_ms;     /* ALEXUS_EMBED_TIMEOUT_MS */
	char *jwt_issuer;         /* ALEXUS_JWT_ISSUER alexus ("" = not checked) */
	char *jwt_audience;       /* ALEXUS_JWT_AUDIENCE alexus ("" = not checked) */

	/* consumers (reason, act) */
	char *consumer;           /* ALEXUS_CONSUMER, default <hostname>-<pid> */
	int batch;                /* ALEXUS_BATCH entries per XREADGROUP, 0 = daemon's default */
	int reason_agents;        /* ALEXUS_REASON_AGENTS stage threads in reason, 2 */
	int run_lease_s;          /* ALEXUS_RUN_LEASE_S a claim holds a pipeline run, 120 */
	int block_ms;             /* ALEXUS_BLOCK_MS XREADGROUP BLOCK, 1000 */
	int claim_idle_ms;        /* ALEXUS_CLAIM_IDLE_MS reclaim pending older than, 30000 */
	int max_deliveries;       /* ALEXUS_MAX_DELIVERIES before alexus:dlq, 5 */
	char *health_addr;        /* ALEXUS_HEALTH_ADDR host:port of /healthz, /readyz ("" = none) */
	int health_max_age_ms;    /* ALEXUS_HEALTH_MAX_AGE_MS loop heartbeat older: not ready, 30000 */

	/* act */
	int notify_timeout_ms;    /* ALEXUS_NOTIFY_TIMEOUT_MS per attempt, 5000 */
	int notify_retries;       /* ALEXUS_NOTIFY_RETRIES extra attempts, 3 */
	int notify_backoff_ms;    /* ALEXUS_NOTIFY_BACKOFF_MS first retry delay, 200 */
	int notify_max_attempts;  /* ALEXUS_NOTIFY_MAX_ATTEMPTS durable attempts per target, 12 */
	int notify_retry_max_s;   /* ALEXUS_NOTIFY_RETRY_MAX_S longest wait between them, 300 */
	int notify_batch;         /* ALEXUS_NOTIFY_BATCH due deliveries taken per pass, 32 */
	char *public_url;         /* ALEXUS_PUBLIC_URL base of links in notifications */
	int approval_ttl_s;       /* ALEXUS_APPROVAL_TTL_S an approval waits, 3600 */
	int jobs_interval_ms;     /* ALEXUS_JOBS_INTERVAL_MS periodic jobs tick, 1000 */
	int leader_ttl_ms;        /* ALEXUS_LEADER_TTL_MS the jobs leader lock, 10000 */
	int quality_gate_s;       /* ALEXUS_QUALITY_GATE_S after a resolve, 172800 */
	char *k8s_api;            /* ALEXUS_K8S_API "" = in-cluster (KUBERNETES_SERVICE_HOST) */
	char *kubeconfig;         /* ALEXUS_KUBECONFIG "" = none (in-cluster paths) */
	int k8s_timeout_ms;       /* ALEXUS_K8S_TIMEOUT_MS per request, 10000 */

	/* reason: the LLM provider (reason/llm.h); a tenant's own settings
	 * and encrypted key, when it has them, take precedence */
	char *llm_provider;       /* ALEXUS_LLM_PROVIDER none | openai | anthropic, none */
	char *llm_url;            /* ALEXUS_LLM_URL base URL, "" = the provider's public API */
	char *llm_model;          /* ALEXUS_LLM_MODEL, "" = the provider's default model */
	char *llm_key;            /* ALEXUS_LLM_KEY (secret) */
	int llm_timeout_ms;       /* ALEXUS_LLM_TIMEOUT_MS per request, 30000 */
	int llm_max_tokens;       /* ALEXUS_LLM_MAX_TOKENS answer cap, 1024 */
	int llm_daily_tokens;     /* ALEXUS_LLM_DAILY_TOKENS per tenant and UTC day, 1000000 */
	char *llm_prices;         /* ALEXUS_LLM_PRICES "prefix=in/out,...", "" = built-in */

	char *log_level;          /* ALEXUS_LOG_LEVEL info */
};

/* One entry of ALEXUS_LLM_PRICES: USD per million tokens for the models
 * whose name starts with prefix. */
#define AX_LLM_PRICES_MAX 16
struct ax_llm_price {
	char prefix[64];
	double in_per_mtok;
	double out_per_mtok;
};

/* "prefix=in/out[,prefix=in/out...]" (at most AX_LLM_PRICES_MAX entries,
 * prefixes of 1..63 of A-Z a-z 0-9 . _ : / -; "" is no entry) into out
 * (NULL: only check).  The number of entries, or -1 with errbuf. */
int ax_llm_prices_parse(const char *spec, struct ax_llm_price out[AX_LLM_PRICES_MAX],
			char *errbuf, size_t errlen);

/* Fill c from defaults and the environment.  Every string field is
 * non-NULL afterwards (jwt_secret is "" when unset).  An unset variable
 * takes its default; an empty numeric one too.  On AX_EINVAL errbuf names
 * the variable and why ("ALEXUS_BATCH: 0 is out of range [1, 1000]") and
 * c holds nothing to release.  Release with ax_config_release. */
ax_err ax_config_load(struct ax_config *c, char *errbuf, size_t errlen) AX_MUSTCHECK;
void ax_config_release(struct ax_config *c);

/* Print "NAME=value  # meaning" for every key on stdout.  Unless
 * show_secrets, secrets print as "****" and URL passwords are masked. */
void ax_config_print(const struct ax_config *c, int show_secrets);

/* Split redis://host[:port][/db] (host a name, IPv4 or [IPv6]; port
 * defaults to 6379) into host (caller buffer) and port.  AX_EINVAL for any
 * other shape, userinfo included, or a host that does not fit. */
ax_err ax_redis_url_parse(const char *url, char *host, size_t hostlen, int *port) AX_MUSTCHECK;

#endif /* AX_CONFIG_H */
