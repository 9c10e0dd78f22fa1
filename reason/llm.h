/* llm.h - the model behind the IncidentAgent: one structured call to an
 * OpenAI-compatible chat-completions endpoint or to Anthropic's messages
 * API, over common/httpc (libcurl, a timeout, no redirects).
 *
 * A call sends a system and a user text, asks for one JSON object of a
 * given shape (the analysis shape below unless the caller brings its own),
 * and comes back with either that object, validated, or a failure with a
 * short code and a message -- plus what the call cost: tokens, money,
 * latency.  Every failure is a reason to fall back to the heuristic; the
 * state machine decides that, and it also owns retries: this module never
 * retries, never sleeps, and never logs.
 *
 * Keys are parameters (from the tenant's encrypted credentials, cred.h, or
 * ALEXUS_LLM_KEY).  A key goes into one request header and nowhere else:
 * not into a message, not into the result, not into a log line; a message
 * a server echoes back has any copy of the key replaced by "****".
 *
 * Endpoints (url is the base; trailing slashes are ignored):
 *   openai     POST {url}/chat/completions, "Authorization: Bearer KEY"
 *              ({url} default https://api.openai.com/v1).  Works with
 *              OpenAI, LiteLLM, vLLM, Ollama (http://host:11434/v1) and the
 *              llama.cpp server.  A url already ending in /chat/completions
 *              is used as it is.
 *              Azure OpenAI: when the url's path contains
 *              "/openai/deployments/" (a deployment URL such as
 *              https://R.openai.azure.com/openai/deployments/D), the request
 *              goes to {path}/chat/completions?{query} with api-version taken
 *              from the url's query, else REASON_LLM_AZURE_API_VERSION; and
 *              whenever the host ends in ".azure.com" the key travels as
 *              "api-key: KEY" instead of a bearer token.
 *   anthropic  POST {url}/v1/messages ({url} default
 *              https://api.anthropic.com; a url ending in /v1 gets only
 *              /messages), "x-api-key: KEY", "anthropic-version: 2023-06-01".
 * A key may be empty for a server that needs none (Ollama, llama.cpp, a
 * local vLLM) but not for the providers' public URLs (not_configured).
 *
 * Requests: openai {"model","messages":[{"role":"system"},{"role":"user"}],
 * "temperature":0,"max_tokens","response_format":{"type":"json_object"}};
 * anthropic {"model","max_tokens","temperature":0,"system","messages":
 * [{"role":"user"}]}.  The system text sent is the caller's, a blank line,
 * then the shape's instructions. */
#ifndef REASON_LLM_H
#define REASON_LLM_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "alexus/config.h"
#include "alexus/err.h"

struct ax_config;

#define REASON_LLM_OPENAI_URL "https://api.openai.com/v1"
#define REASON_LLM_ANTHROPIC_URL "https://api.anthropic.com"
#define REASON_LLM_OPENAI_MODEL "gpt-4o-mini"
#define REASON_LLM_ANTHROPIC_MODEL "claude-3-5-haiku-latest"
#define REASON_LLM_ANTHROPIC_VERSION "2023-06-01"
#define REASON_LLM_AZURE_API_VERSION "2024-10-21"   /* the latest GA data-plane version */
#define REASON_LLM_TIMEOUT_MS 30000
#define REASON_LLM_MAX_TOKENS 1024
#define REASON_LLM_PRICES_MAX AX_LLM_PRICES_MAX

/* ---------------------------------------------------------------- the shape */

/* The analysis shape, defined here and nowhere else: the validator and the
 * instructions given to the model are both generated from these two
 * lists.  X(name, kind, text): text is what the model reads about the
 * field.  Strings must be non-empty (at most REASON_SHAPE_STR_MAX bytes);
 * "confidence" a number in [0, 1]; "actions" an array of at most
 * REASON_SHAPE_ACTIONS_MAX objects of REASON_ACTION_FIELDS, possibly
 * empty; "params" an object.  Members outside the lists are dropped from
 * the validated copy; a missing or mistyped one fails validation.  The
 * category and action vocabularies are those of the heuristic
 * (heuristic.h); they are told to the model, not enforced here: act's
 * policy decides what an action type may do. */
enum reason_shape_kind {
	REASON_SHAPE_STRING,
	REASON_SHAPE_UNIT,      /* number in [0, 1] */
	REASON_SHAPE_OBJECT,
	REASON_SHAPE_ACTIONS,   /* array of REASON_ACTION_FIELDS objects */
};

#define REASON_ANALYSIS_FIELDS(X)                                                          \
	X(category, REASON_SHAPE_STRING,                                                   \
	  "string, one of memory, disk, cpu, network, crashloop, latency, errors, "        \
	  "certificate, deployment, database, queue, availability, other")                 \
	X(summary, REASON_SHAPE_STRING, "string, one or two sentences: what is happening") \
	X(probable_cause, REASON_SHAPE_STRING,                                             \
	  "string, the most likely cause and the evidence for it")                         \
	X(confidence, REASON_SHAPE_UNIT,                                                   \
	  "number from 0 to 1, how sure you are of the probable cause")                    \
	X(actions, REASON_SHAPE_ACTIONS,                                                   \
	  "array of proposed actions, most useful first, empty when none is safe")

#define REASON_ACTION_FIELDS(X)                                                            \
	X(type, REASON_SHAPE_STRING,                                                       \
	  "string, one of rollout_restart {namespace, deployment}, restart_pod "           \
	  "{namespace, pod}, scale_deployment {namespace, deployment, replicas}, "         \
	  "rollback_deployment {namespace, deployment, to_revision}, "                     \
	  "increase_memory_limit {namespace, deployment}, expand_volume {namespace, "      \
	  "persistentvolumeclaim}, cleanup_disk {host, mountpoint}, renew_certificate "    \
	  "{namespace, certificate, domain}, cordon_node {node}, notify_only {service, "   \
	  "team}, escalate {service, team}")                                               \
	X(params, REASON_SHAPE_OBJECT,                                                     \
	  "object, the parameters listed with the type, those the context names")          \
	X(reason, REASON_SHAPE_STRING, "string, why this action helps")

#define REASON_SHAPE_STR_MAX 4096
#define REASON_SHAPE_ACTIONS_MAX 16

/* Check doc against the analysis shape.  0, with *out (when out is not
 * NULL) a new object holding exactly the shape's fields in the lists'
 * order (cJSON_Delete it); or -1 with errbuf naming the first problem
 * ("confidence: 1.7 is not in [0, 1]", "actions[1].params: not an
 * object").  The heuristic's output must pass this too. */
int reason_analysis_validate(const cJSON *doc, cJSON **out, char *errbuf, size_t errlen);

/* The analysis shape as instructions for the model (static text). */
const char *reason_analysis_instructions(void);

/* What a call expects back: instructions appended to the system text, and
 * the validator the parsed answer must pass. */
typedef int reason_llm_validate_fn(const cJSON *doc, cJSON **out, char *errbuf, size_t errlen);

struct reason_llm_shape {
	const char *instructions;
	reason_llm_validate_fn *validate;
};

extern const struct reason_llm_shape reason_analysis_shape;

/* ---------------------------------------------------------------- config */

enum reason_llm_provider {
	REASON_LLM_NONE = 0,
	REASON_LLM_OPENAI,      /* any OpenAI-compatible chat-completions server */
	REASON_LLM_ANTHROPIC,
};

struct reason_llm_config {
	enum reason_llm_provider provider;
	const char *url;        /* NULL or "": the provider's public API */
	const char *model;      /* NULL or "": the provider's default model */
	const char *key;        /* NULL or "": no key header */
	int timeout_ms;         /* <= 0: REASON_LLM_TIMEOUT_MS */
	int max_tokens;         /* <= 0: REASON_LLM_MAX_TOKENS */
	long daily_tokens;      /* per tenant per day; <= 0: no limit */
	/* Looked up before the built-in table (the longest matching prefix of
	 * both wins, these first on a tie). */
	struct ax_llm_price prices[REASON_LLM_PRICES_MAX]; /* alexus/config.h */
	int nprices;
};

/* "none", "openai" or "anthropic" into *p; AX_EINVAL otherwise. */
ax_err reason_llm_provider_parse(const char *s, enum reason_llm_provider *p) AX_MUSTCHECK;
const char *reason_llm_provider_name(enum reason_llm_provider p);   /* static */

/* ALEXUS_LLM_PRICES's grammar (ax_llm_prices_parse, alexus/config.h)
 * into c->prices.  AX_EINVAL with errbuf. */
ax_err reason_llm_prices_parse(struct reason_llm_config *c, const char *spec, char *errbuf,
			       size_t errlen) AX_MUSTCHECK;

/* The environment-level defaults (ALEXUS_LLM_*).  c's strings point into
 * cfg, which must outlive c.  AX_EINVAL only when the already validated
 * configuration is somehow not (errbuf says). */
ax_err reason_llm_config_from(struct reason_llm_config *c, const struct ax_config *cfg,
			      char *errbuf, size_t errlen) AX_MUSTCHECK;

/* One line for the start-up log: provider, the URL's scheme and host (no
 * path, query or userinfo, which may hold secrets), model, timeout and
 * budget; never the key.  Written into buf. */
const char *reason_llm_describe(const struct reason_llm_config *c, char *buf, size_t n);

/* USD for the tokens, from the price of the longest prefix of model in c's
 * table then the built-in one (list prices of the providers' public APIs
 * as published in 2025: gpt-4o, gpt-4o-mini, gpt-4.1*, claude-3*,
 * claude-*-4*).  *known is 0, and the cost 0, for a model in neither --
 * an Azure deployment name, a local model -- since a guess would be
 * worse than saying "unknown".  c may be NULL. */
double reason_llm_cost(const struct reason_llm_config *c, const char *model, long in_tokens,
		       long out_tokens, int *known);

/* The per-tenant daily budget: 1 when a call may go ahead, that is when
 * there is no limit (daily_tokens <= 0) or used_today < daily_tokens.  A
 * call can overshoot by at most its own tokens (prompt + max_tokens), as
 * its size is only known afterwards. */
int reason_llm_budget_allows(long daily_tokens, long used_today);

/* ---------------------------------------------------------------- a call */

enum reason_llm_status {
	REASON_LLM_OK = 0,
	REASON_LLM_TIMEOUT,           /* no answer within timeout_ms */
	REASON_LLM_HTTP_429,          /* rate limited; retry_after_s may say when */
	REASON_LLM_HTTP_5XX,          /* server error, 529 overloaded included */
	REASON_LLM_HTTP_4XX,          /* refused: 401 key, 400 request, 404 model... (and 3xx) */
	REASON_LLM_INVALID_JSON,      /* the body or the model's text is not JSON */
	REASON_LLM_INVALID_SHAPE,     /* JSON, but not the provider's or the expected shape */
	REASON_LLM_TRUNCATED,         /* finish_reason length / stop_reason max_tokens */
	REASON_LLM_BUDGET_EXHAUSTED,  /* no request made */
	REASON_LLM_NOT_CONFIGURED,    /* no provider, no key for a public API, bad URL */
	REASON_LLM_UNREACHABLE,       /* connection refused, DNS, TLS: no HTTP answer */
	/* Append only: the codes are stored with every analysis. */
};

/* "ok", "timeout", "http_429", "http_5xx", "http_4xx", "invalid_json",
 * "invalid_shape", "truncated", "budget_exhausted", "not_configured",
 * "unreachable". */
const char *reason_llm_status_code(enum reason_llm_status s);

struct reason_llm_request {
	const char *system;                  /* may be NULL */
	const char *user;                    /* the incident's context */
	long used_today;                     /* tokens the tenant used today */
	const struct reason_llm_shape *shape; /* NULL: reason_analysis_shape */
};

struct reason_llm_result {
	enum reason_llm_status status;       /* REASON_LLM_OK or why not */
	char message[320];                   /* detail for a failure ("" when ok) */
	const char *provider;                /* static: "openai", "anthropic", "none" */
	char model[128];                     /* the model that answered, else the one asked */
	long input_tokens;                   /* as the provider reported; 0 when it did not */
	long output_tokens;
	double cost_usd;                     /* reason_llm_cost; 0 when unknown */
	int cost_known;
	long latency_ms;                     /* the HTTP exchange; 0 without one */
	long http_status;                    /* 0 without an answer */
	long retry_after_s;                  /* Retry-After of a 429/5xx, 0 when absent */
	cJSON *analysis;                     /* REASON_LLM_OK: the validated answer */
	char *answer;                        /* the model's text when one came (may be cut) */
};

/* Make the call c describes for q.  Fills out (zeroed first) and returns
 * out->status.  Tokens, cost and latency are filled whenever the provider
 * reported them, failures included (a truncated answer was still paid
 * for).  Never retries.  Release out with reason_llm_result_release. */
enum reason_llm_status reason_llm_call(const struct reason_llm_config *c,
				       const struct reason_llm_request *q,
				       struct reason_llm_result *out) AX_MUSTCHECK;

void reason_llm_result_release(struct reason_llm_result *r);   /* NULL-safe */

/* The model's text as a JSON document: surrounding white space and one
 * ``` or ```json fence around the whole text are removed first.  NULL when
 * what is left does not parse.  Exposed for tests. */
cJSON *reason_llm_parse_answer(const char *text);

#endif /* REASON_LLM_H */
