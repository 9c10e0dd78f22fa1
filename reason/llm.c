/* llm.c - one structured call to an LLM provider (see llm.h).
 *
 * Design: a call is a pure function of its inputs plus one HTTP exchange
 * through common/httpc, so the state machine can run it anywhere it runs
 * a stage and decide about retries and fallback itself.  Everything the
 * answer could get wrong is classified rather than trusted: the HTTP
 * status, the provider's envelope (choices / content blocks, the stop
 * reason, usage), then the model's text as JSON, then the shape.
 *
 * The shape lives in llm.h as two X-macro lists; this file expands them
 * into the validator's tables and, at compile time, into the instructions
 * the model reads, so the two cannot drift apart.
 *
 * Keys: the only copy this file makes is the request header, wiped after
 * the exchange (curl's own copy of the header list is freed by curl).
 * Text that comes from a server (error messages) or from the model is
 * scrubbed of the key before it is kept, because proxies have been known
 * to echo credentials back in their errors.
 *
 * Retry-After: httpc hands it over as ax_httpc_resp.retry_after_s (0:
 * not given). */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "alexus/config.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"
#include "llm.h"

#define LLM_BODY_CAP (64 * 1024)   /* httpc keeps this much of an answer, see httpc.h */
#define LLM_DOC_DEPTH 32           /* envelopes are shallow; params objects a little deeper */

/* ---------------------------------------------------------------- status codes */

static const char *const status_codes[] = {
	[REASON_LLM_OK] = "ok",
	[REASON_LLM_TIMEOUT] = "timeout",
	[REASON_LLM_HTTP_429] = "http_429",
	[REASON_LLM_HTTP_5XX] = "http_5xx",
	[REASON_LLM_HTTP_4XX] = "http_4xx",
	[REASON_LLM_INVALID_JSON] = "invalid_json",
	[REASON_LLM_INVALID_SHAPE] = "invalid_shape",
	[REASON_LLM_TRUNCATED] = "truncated",
	[REASON_LLM_BUDGET_EXHAUSTED] = "budget_exhausted",
	[REASON_LLM_NOT_CONFIGURED] = "not_configured",
	[REASON_LLM_UNREACHABLE] = "unreachable",
};

const char *reason_llm_status_code(enum reason_llm_status s)
{
	if ((size_t)s >= sizeof(status_codes) / sizeof(status_codes[0]))
		return "unknown";
	return status_codes[s];
}

/* ---------------------------------------------------------------- the shape */

struct shape_field {
	const char *name;
	enum reason_shape_kind kind;
};

#define SHAPE_ENTRY(name, kind, text) { #name, kind },
static const struct shape_field analysis_fields[] = { REASON_ANALYSIS_FIELDS(SHAPE_ENTRY) };
static const struct shape_field action_fields[] = { REASON_ACTION_FIELDS(SHAPE_ENTRY) };
#undef SHAPE_ENTRY

#define SHAPE_LINE(name, kind, text) "  \"" #name "\": " text "\n"
static const char instructions[] =
	"Answer with one JSON object and nothing else: no prose before or after it, no code "
	"fence. It has exactly these members:\n" REASON_ANALYSIS_FIELDS(SHAPE_LINE)
	"Each element of \"actions\" is an object with exactly these members:\n"
	REASON_ACTION_FIELDS(SHAPE_LINE)
	"Base the answer only on the context given; when the evidence is thin, say so in "
	"probable_cause and lower confidence.";
#undef SHAPE_LINE

const char *reason_analysis_instructions(void)
{
	return instructions;
}

const struct reason_llm_shape reason_analysis_shape = {
	instructions,
	reason_analysis_validate,
};

static int check_fields(const cJSON *obj, const struct shape_field *f, size_t n,
			const char *path, cJSON *out, char *errbuf, size_t errlen);

static int check_one(const cJSON *v, const struct shape_field *f, const char *path, cJSON *out,
		     char *errbuf, size_t errlen)
{
	const char *name = f->name;
	size_t len;
	int i, n;

	if (v == NULL)
		return ax_errfmt(errbuf, errlen, "%s%s: missing", path, name);
	switch (f->kind) {
	case REASON_SHAPE_STRING:
		if (!cJSON_IsString(v) || v->valuestring == NULL)
			return ax_errfmt(errbuf, errlen, "%s%s: not a string", path, name);
		len = strlen(v->valuestring);
		if (len == 0)
			return ax_errfmt(errbuf, errlen, "%s%s: empty", path, name);
		if (len > REASON_SHAPE_STR_MAX)
			return ax_errfmt(errbuf, errlen, "%s%s: longer than %d bytes", path, name,
					 REASON_SHAPE_STR_MAX);
		cJSON_AddStringToObject(out, name, v->valuestring);
		return 0;
	case REASON_SHAPE_UNIT:
		if (!cJSON_IsNumber(v))
			return ax_errfmt(errbuf, errlen, "%s%s: not a number", path, name);
		if (!isfinite(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > 1)
			return ax_errfmt(errbuf, errlen, "%s%s: %g is not in [0, 1]", path, name,
					 v->valuedouble);
		cJSON_AddNumberToObject(out, name, v->valuedouble);
		return 0;
	case REASON_SHAPE_OBJECT:
		if (!cJSON_IsObject(v))
			return ax_errfmt(errbuf, errlen, "%s%s: not an object", path, name);
		cJSON_AddItemToObject(out, name, cJSON_Duplicate(v, 1));
		return 0;
	case REASON_SHAPE_ACTIONS: {
		cJSON *arr;

		if (!cJSON_IsArray(v))
			return ax_errfmt(errbuf, errlen, "%s%s: not an array", path, name);
		n = cJSON_GetArraySize(v);
		if (n > REASON_SHAPE_ACTIONS_MAX)
			return ax_errfmt(errbuf, errlen, "%s%s: %d entries, at most %d", path, name,
					 n, REASON_SHAPE_ACTIONS_MAX);
		arr = cJSON_AddArrayToObject(out, name);
		for (i = 0; i < n; i++) {
			const cJSON *it = cJSON_GetArrayItem(v, i);
			cJSON *o;
			char sub[64];

			snprintf(sub, sizeof(sub), "%s%s[%d]", path, name, i);
			if (!cJSON_IsObject(it))
				return ax_errfmt(errbuf, errlen, "%s: not an object", sub);
			o = cJSON_CreateObject();
			cJSON_AddItemToArray(arr, o);
			snprintf(sub, sizeof(sub), "%s%s[%d].", path, name, i);
			if (check_fields(it, action_fields,
					 sizeof(action_fields) / sizeof(action_fields[0]), sub, o,
					 errbuf, errlen) != 0)
				return -1;
		}
		return 0;
	}
	}
	return ax_errfmt(errbuf, errlen, "%s%s: unknown kind", path, name);
}

static int check_fields(const cJSON *obj, const struct shape_field *f, size_t n,
			const char *path, cJSON *out, char *errbuf, size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f[i].name);

		if (check_one(v, &f[i], path, out, errbuf, errlen) != 0)
			return -1;
	}
	return 0;
}

int reason_analysis_validate(const cJSON *doc, cJSON **out, char *errbuf, size_t errlen)
{
	cJSON *copy;

	if (out != NULL)
		*out = NULL;
	if (!cJSON_IsObject(doc))
		return ax_errfmt(errbuf, errlen, "not a JSON object");
	copy = cJSON_CreateObject();
	if (copy == NULL)
		abort();   /* mem.h policy */
	if (check_fields(doc, analysis_fields, sizeof(analysis_fields) / sizeof(analysis_fields[0]),
			 "", copy, errbuf, errlen) != 0) {
		cJSON_Delete(copy);
		return -1;
	}
	if (out != NULL)
		*out = copy;
	else
		cJSON_Delete(copy);
	return 0;
}

cJSON *reason_llm_parse_answer(const char *text)
{
	const char *p, *end;

	if (text == NULL)
		return NULL;
	p = text;
	end = text + strlen(text);
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (end - p >= 3 && strncmp(p, "```", 3) == 0) {
		/* The opening fence's line, info string ("json") included. */
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			return NULL;
		p = nl + 1;
		if (end - p >= 3 && strncmp(end - 3, "```", 3) == 0)
			end -= 3;
	}
	if (end <= p)
		return NULL;
	return ax_json_parse(p, (size_t)(end - p), LLM_DOC_DEPTH);
}

/* ---------------------------------------------------------------- config */

ax_err reason_llm_provider_parse(const char *s, enum reason_llm_provider *p)
{
	if (s == NULL || p == NULL)
		return AX_EINVAL;
	if (strcmp(s, "none") == 0)
		*p = REASON_LLM_NONE;
	else if (strcmp(s, "openai") == 0)
		*p = REASON_LLM_OPENAI;
	else if (strcmp(s, "anthropic") == 0)
		*p = REASON_LLM_ANTHROPIC;
	else
		return AX_EINVAL;
	return AX_OK;
}

const char *reason_llm_provider_name(enum reason_llm_provider p)
{
	switch (p) {
	case REASON_LLM_OPENAI:
		return "openai";
	case REASON_LLM_ANTHROPIC:
		return "anthropic";
	case REASON_LLM_NONE:
	default:
		return "none";
	}
}

ax_err reason_llm_prices_parse(struct reason_llm_config *c, const char *spec, char *errbuf,
			       size_t errlen)
{
	struct ax_llm_price tmp[AX_LLM_PRICES_MAX];
	char why[160] = "";
	int n;

	if (c == NULL || spec == NULL) {
		ax_errfmt(errbuf, errlen, "prices: bad arguments");
		return AX_EINVAL;
	}
	n = ax_llm_prices_parse(spec, tmp, why, sizeof(why));
	if (n < 0) {
		ax_errfmt(errbuf, errlen, "prices: %s", why);
		return AX_EINVAL;
	}
	memcpy(c->prices, tmp, sizeof(tmp[0]) * (size_t)n);
	c->nprices = n;
	return AX_OK;
}

ax_err reason_llm_config_from(struct reason_llm_config *c, const struct ax_config *cfg,
			      char *errbuf, size_t errlen)
{
	char why[160];

	memset(c, 0, sizeof(*c));
	if (reason_llm_provider_parse(cfg->llm_provider, &c->provider) != AX_OK) {
		ax_errfmt(errbuf, errlen, "ALEXUS_LLM_PROVIDER: must be none, openai or anthropic");
		return AX_EINVAL;
	}
	c->url = cfg->llm_url;
	c->model = cfg->llm_model;
	c->key = cfg->llm_key;
	c->timeout_ms = cfg->llm_timeout_ms;
	c->max_tokens = cfg->llm_max_tokens;
	c->daily_tokens = cfg->llm_daily_tokens;
	why[0] = '\0';
	if (reason_llm_prices_parse(c, cfg->llm_prices, why, sizeof(why)) != AX_OK) {
		ax_errfmt(errbuf, errlen, "ALEXUS_LLM_PRICES: %s", why);
		return AX_EINVAL;
	}
	return AX_OK;
}

static const char *cfg_url(const struct reason_llm_config *c)
{
	if (c->url != NULL && c->url[0] != '\0')
		return c->url;
	return c->provider == REASON_LLM_ANTHROPIC ? REASON_LLM_ANTHROPIC_URL
						   : REASON_LLM_OPENAI_URL;
}

static const char *cfg_model(const struct reason_llm_config *c)
{
	if (c->model != NULL && c->model[0] != '\0')
		return c->model;
	return c->provider == REASON_LLM_ANTHROPIC ? REASON_LLM_ANTHROPIC_MODEL
						   : REASON_LLM_OPENAI_MODEL;
}

/* ---------------------------------------------------------------- URLs */

/* The pieces of an http(s) URL, pointers into it. */
struct url_parts {
	const char *scheme_host;   /* "https://host:port", length sh_len */
	size_t sh_len;
	const char *host;          /* without userinfo and port */
	size_t host_len;
	const char *path;          /* without trailing slashes, may be empty */
	size_t path_len;
	const char *query;         /* after '?', up to '#'; may be empty */
	size_t query_len;
};

static int url_split(const char *url, struct url_parts *u)
{
	const char *s, *hend, *at, *p, *q;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return -1;
	s = strstr(url, "://") + 3;
	hend = s + strcspn(s, "/?#");
	if (hend == s)
		return -1;
	u->scheme_host = url;
	u->sh_len = (size_t)(hend - url);
	at = memchr(s, '@', (size_t)(hend - s));
	u->host = at != NULL ? at + 1 : s;
	u->host_len = (size_t)(hend - u->host);
	if (u->host_len > 0 && u->host[0] != '[') {
		const char *colon = memchr(u->host, ':', u->host_len);

		if (colon != NULL)
			u->host_len = (size_t)(colon - u->host);
	}
	p = hend;
	q = p + strcspn(p, "?#");
	u->path = p;
	u->path_len = (size_t)(q - p);
	while (u->path_len > 0 && u->path[u->path_len - 1] == '/')
		u->path_len--;
	if (*q == '?') {
		u->query = q + 1;
		u->query_len = strcspn(u->query, "#");
	}
	return 0;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

static int has_query_param(const char *q, size_t n, const char *name)
{
	size_t k = strlen(name);
	const char *p = q, *end;

	if (q == NULL)
		return 0;
	end = q + n;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));

		if ((size_t)(end - p) > k && strncmp(p, name, k) == 0 && p[k] == '=')
			return 1;
		p = amp != NULL ? amp + 1 : end;
	}
	return 0;
}

/* The request URL for c, and whether the key goes in "api-key" (Azure). */
static char *endpoint(const struct reason_llm_config *c, int *azure_key, int *public_api)
{
	struct url_parts u;
	const char *base = cfg_url(c), *suffix;
	char *path, *url;
	int deployment;

	*azure_key = 0;
	*public_api = 0;
	if (url_split(base, &u) != 0)
		return NULL;
	*public_api = (u.host_len == 14 && strncasecmp(u.host, "api.openai.com", 14) == 0) ||
		      (u.host_len == 17 && strncasecmp(u.host, "api.anthropic.com", 17) == 0);
	if (c->provider == REASON_LLM_ANTHROPIC) {
		if (ends_with(u.path, u.path_len, "/v1/messages"))
			suffix = "";
		else if (ends_with(u.path, u.path_len, "/v1"))
			suffix = "/messages";
		else
			suffix = "/v1/messages";
		path = ax_xasprintf("%.*s%s", (int)u.path_len, u.path, suffix);
		url = ax_xasprintf("%.*s%s%s%.*s", (int)u.sh_len, u.scheme_host, path,
				   u.query_len ? "?" : "", (int)u.query_len,
				   u.query ? u.query : "");
		free(path);
		return url;
	}
	deployment = memmem(u.path, u.path_len, "/openai/deployments/", 20) != NULL;
	*azure_key = deployment || ends_with(u.host, u.host_len, ".azure.com");
	suffix = ends_with(u.path, u.path_len, "/chat/completions") ? "" : "/chat/completions";
	path = ax_xasprintf("%.*s%s", (int)u.path_len, u.path, suffix);
	if (deployment && !has_query_param(u.query, u.query_len, "api-version"))
		url = ax_xasprintf("%.*s%s?%.*s%sapi-version=%s", (int)u.sh_len, u.scheme_host,
				   path, (int)u.query_len, u.query ? u.query : "",
				   u.query_len ? "&" : "", REASON_LLM_AZURE_API_VERSION);
	else
		url = ax_xasprintf("%.*s%s%s%.*s", (int)u.sh_len, u.scheme_host, path,
				   u.query_len ? "?" : "", (int)u.query_len,
				   u.query ? u.query : "");
	free(path);
	return url;
}

const char *reason_llm_describe(const struct reason_llm_config *c, char *buf, size_t n)
{
	struct url_parts u;
	int azure = 0, pub = 0;
	char *ep;

	if (c == NULL || c->provider == REASON_LLM_NONE) {
		snprintf(buf, n, "llm: none (the heuristic investigation only)");
		return buf;
	}
	ep = endpoint(c, &azure, &pub);
	if (ep == NULL || url_split(cfg_url(c), &u) != 0) {
		snprintf(buf, n, "llm: %s with an unusable URL (calls fail as not_configured)",
			 reason_llm_provider_name(c->provider));
		free(ep);
		return buf;
	}
	free(ep);
	/* scheme://host[:port] minus any userinfo */
	snprintf(buf, n, "llm: %s%s %.*s%.*s model %s, timeout %d ms, max %d tokens, %ld "
		 "tokens per tenant per day%s", reason_llm_provider_name(c->provider),
		 c->provider == REASON_LLM_OPENAI ? (azure ? " (Azure)" : "-compatible") : "",
		 (int)(strstr(u.scheme_host, "://") + 3 - u.scheme_host), u.scheme_host,
		 (int)(u.scheme_host + u.sh_len - u.host), u.host, cfg_model(c),
		 c->timeout_ms > 0 ? c->timeout_ms : REASON_LLM_TIMEOUT_MS,
		 c->max_tokens > 0 ? c->max_tokens : REASON_LLM_MAX_TOKENS,
		 c->daily_tokens > 0 ? c->daily_tokens : 0L,
		 c->daily_tokens > 0 ? "" : " (0: no limit)");
	return buf;
}

/* ---------------------------------------------------------------- prices, budget */

/* List prices, USD per million tokens (input, output), of the providers'
 * public APIs as published in 2025.  Longest prefix wins, so gpt-4o-mini
 * is not priced as gpt-4o.  ALEXUS_LLM_PRICES overrides or extends. */
static const struct {
	const char *prefix;
	double in, out;
} builtin_prices[] = {
	{ "gpt-4o-mini", 0.15, 0.60 },
	{ "gpt-4o", 2.50, 10.00 },
	{ "gpt-4.1-nano", 0.10, 0.40 },
	{ "gpt-4.1-mini", 0.40, 1.60 },
	{ "gpt-4.1", 2.00, 8.00 },
	{ "claude-3-haiku", 0.25, 1.25 },
	{ "claude-3-5-haiku", 0.80, 4.00 },
	{ "claude-haiku-4-5", 1.00, 5.00 },
	{ "claude-3-5-sonnet", 3.00, 15.00 },
	{ "claude-3-7-sonnet", 3.00, 15.00 },
	{ "claude-sonnet-4", 3.00, 15.00 },
	{ "claude-opus-4", 15.00, 75.00 },
	{ "claude-opus-4-5", 5.00, 25.00 },
};

static int price_of(const struct reason_llm_config *c, const char *model, double *in,
		    double *out)
{
	size_t best = 0, i, k;
	int found = 0;

	for (i = 0; c != NULL && i < (size_t)c->nprices && i < REASON_LLM_PRICES_MAX; i++) {
		k = strlen(c->prices[i].prefix);
		if (k > best && strncmp(model, c->prices[i].prefix, k) == 0) {
			best = k;
			*in = c->prices[i].in_per_mtok;
			*out = c->prices[i].out_per_mtok;
			found = 1;
		}
	}
	for (i = 0; i < sizeof(builtin_prices) / sizeof(builtin_prices[0]); i++) {
		k = strlen(builtin_prices[i].prefix);
		if (k > best && strncmp(model, builtin_prices[i].prefix, k) == 0) {
			best = k;
			*in = builtin_prices[i].in;
			*out = builtin_prices[i].out;
			found = 1;
		}
	}
	return found;
}

double reason_llm_cost(const struct reason_llm_config *c, const char *model, long in_tokens,
		       long out_tokens, int *known)
{
	double pin = 0, pout = 0;
	const char *slash;
	int found;

	*known = 0;
	if (model == NULL || model[0] == '\0')
		return 0;
	found = price_of(c, model, &pin, &pout);
	/* A proxy's "provider/model" (LiteLLM: "openai/gpt-4o-mini"). */
	slash = strrchr(model, '/');
	if (!found && slash != NULL && slash[1] != '\0')
		found = price_of(c, slash + 1, &pin, &pout);
	if (!found)
		return 0;
	*known = 1;
	return ((double)in_tokens * pin + (double)out_tokens * pout) / 1e6;
}

int reason_llm_budget_allows(long daily_tokens, long used_today)
{
	return daily_tokens <= 0 || used_today < daily_tokens;
}

/* ---------------------------------------------------------------- the call */

/* Replace every copy of key in s by "****" (in place; s only shrinks or
 * keeps its length when the key has 4 bytes or more). */
static void scrub(char *s, const char *key)
{
	size_t k, rest;
	char *p;

	if (s == NULL || key == NULL || (k = strlen(key)) == 0)
		return;
	while ((p = strstr(s, key)) != NULL) {
		if (k >= 4) {
			memcpy(p, "****", 4);
			rest = strlen(p + k);
			memmove(p + 4, p + k, rest + 1);
		} else {
			memset(p, '*', k);
		}
	}
}

static void set_fail(struct reason_llm_result *r, enum reason_llm_status st, const char *key,
		     const char *fmt, ...) AX_PRINTF(4, 5);

static void set_fail(struct reason_llm_result *r, enum reason_llm_status st, const char *key,
		     const char *fmt, ...)
{
	va_list ap;
	char *full, *p;
	int n;

	r->status = st;
	/* Scrub the whole text, then cut: cutting first could leave half a
	 * key that no longer matches. */
	va_start(ap, fmt);
	n = vasprintf(&full, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();   /* mem.h policy */
	scrub(full, key);
	for (p = full; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
	snprintf(r->message, sizeof(r->message), "%s", full);
	free(full);
}

static long token_count(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 1e12)
		return 0;
	return (long)v->valuedouble;
}

/* The request body for c and q. */
static char *request_body(const struct reason_llm_config *c, const struct reason_llm_request *q,
			  const struct reason_llm_shape *shape, int max_tokens)
{
	cJSON *req = cJSON_CreateObject(), *msgs, *m;
	char *system, *body;

	if (q->system != NULL && q->system[0] != '\0')
		system = ax_xasprintf("%s\n\n%s", q->system, shape->instructions);
	else
		system = ax_xstrdup(shape->instructions);
	cJSON_AddStringToObject(req, "model", cfg_model(c));
	if (c->provider == REASON_LLM_ANTHROPIC) {
		cJSON_AddNumberToObject(req, "max_tokens", max_tokens);
		cJSON_AddNumberToObject(req, "temperature", 0);
		cJSON_AddStringToObject(req, "system", system);
		msgs = cJSON_AddArrayToObject(req, "messages");
	} else {
		msgs = cJSON_AddArrayToObject(req, "messages");
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "system");
		cJSON_AddStringToObject(m, "content", system);
		cJSON_AddItemToArray(msgs, m);
	}
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", q->user != NULL ? q->user : "");
	cJSON_AddItemToArray(msgs, m);
	if (c->provider != REASON_LLM_ANTHROPIC) {
		cJSON_AddNumberToObject(req, "temperature", 0);
		cJSON_AddNumberToObject(req, "max_tokens", max_tokens);
		cJSON_AddItemToObject(req, "response_format", m = cJSON_CreateObject());
		cJSON_AddStringToObject(m, "type", "json_object");
	}
	body = ax_json_print(req);
	cJSON_Delete(req);
	free(system);
	return body;
}

/* A non-2xx answer: the status class and the provider's error, as
 *   OpenAI & co  {"error":{"message","type","code"}}   (Ollama: {"error":"..."})
 *   Anthropic    {"type":"error","error":{"type","message"}} */
static void http_error(struct reason_llm_result *r, const struct ax_httpc_resp *resp,
		       const char *key)
{
	enum reason_llm_status st;
	cJSON *doc = resp->body_len ? ax_json_parse(resp->body, resp->body_len, LLM_DOC_DEPTH)
				    : NULL;
	const cJSON *err = doc != NULL ? cJSON_GetObjectItemCaseSensitive(doc, "error") : NULL;
	const char *type = NULL, *msg = NULL, *code = NULL;

	if (resp->status == 429)
		st = REASON_LLM_HTTP_429;
	else if (resp->status >= 500)
		st = REASON_LLM_HTTP_5XX;
	else
		st = REASON_LLM_HTTP_4XX;
	if (cJSON_IsObject(err)) {
		type = ax_json_str(err, "type");
		msg = ax_json_str(err, "message");
		code = ax_json_str(err, "code");
	} else if (cJSON_IsString(err)) {
		msg = err->valuestring;
	}
	if (code != NULL && type != NULL && strcmp(code, type) == 0)
		code = NULL;
	if (doc == NULL && resp->body_len > 0)
		set_fail(r, st, key, "HTTP %ld (the body is not JSON)", resp->status);
	else
		set_fail(r, st, key, "HTTP %ld%s%s%s%s%s%s", resp->status, type ? " " : "",
			 type ? type : "", code ? " " : "", code ? code : "", msg ? ": " : "",
			 msg ? msg : "");
	cJSON_Delete(doc);
}

/* The model's text out of a 2xx envelope, with usage.  Returns the text
 * (owned by doc) or NULL with r failed. */
static const char *envelope(const struct reason_llm_config *c, struct reason_llm_result *r,
			    const cJSON *doc, int max_tokens, const char *key)
{
	const char *model = ax_json_str(doc, "model"), *stop, *text = NULL;
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(doc, "usage");

	if (model != NULL)
		snprintf(r->model, sizeof(r->model), "%s", model);
	if (cJSON_IsObject(usage)) {
		if (c->provider == REASON_LLM_ANTHROPIC) {
			/* Cache reads and writes are input too (none unless asked for). */
			r->input_tokens = token_count(usage, "input_tokens") +
					  token_count(usage, "cache_creation_input_tokens") +
					  token_count(usage, "cache_read_input_tokens");
			r->output_tokens = token_count(usage, "output_tokens");
		} else {
			r->input_tokens = token_count(usage, "prompt_tokens");
			r->output_tokens = token_count(usage, "completion_tokens");
		}
	}
	r->cost_usd = reason_llm_cost(c, r->model, r->input_tokens, r->output_tokens,
				      &r->cost_known);

	if (c->provider == REASON_LLM_ANTHROPIC) {
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(doc, "content"), *b;

		cJSON_ArrayForEach(b, content) {
			const char *t = ax_json_str(b, "type");
			const cJSON *tx = cJSON_GetObjectItemCaseSensitive(b, "text");

			if (t != NULL && strcmp(t, "text") == 0 && cJSON_IsString(tx)) {
				text = tx->valuestring;
				break;
			}
		}
		stop = ax_json_str(doc, "stop_reason");
		if (text != NULL)
			r->answer = ax_xstrdup(text);
		if (stop != NULL && strcmp(stop, "max_tokens") == 0) {
			set_fail(r, REASON_LLM_TRUNCATED, key,
				 "stop_reason max_tokens: the answer was cut at %d tokens",
				 max_tokens);
			return NULL;
		}
		if (stop != NULL && strcmp(stop, "refusal") == 0) {
			set_fail(r, REASON_LLM_INVALID_SHAPE, key,
				 "stop_reason refusal: no answer");
			return NULL;
		}
		if (text == NULL) {
			set_fail(r, REASON_LLM_INVALID_SHAPE, key,
				 "no text block in content (stop_reason %s)", stop ? stop : "none");
			return NULL;
		}
	} else {
		const cJSON *choices = cJSON_GetObjectItemCaseSensitive(doc, "choices");
		const cJSON *ch = cJSON_GetArrayItem(choices, 0);
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ch, "message");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
		const char *refusal = ax_json_str(msg, "refusal");

		if (!cJSON_IsArray(choices) || !cJSON_IsObject(ch)) {
			/* Some proxies wrap an upstream error in a 200. */
			const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
			const char *em = cJSON_IsObject(err) ? ax_json_str(err, "message")
				       : cJSON_IsString(err) ? err->valuestring : NULL;

			set_fail(r, REASON_LLM_INVALID_SHAPE, key, "no choices in the answer%s%s",
				 em ? "; error: " : "", em ? em : "");
			return NULL;
		}
		stop = ax_json_str(ch, "finish_reason");
		if (cJSON_IsString(content))
			text = content->valuestring;
		if (text != NULL)
			r->answer = ax_xstrdup(text);
		if (stop != NULL && strcmp(stop, "length") == 0) {
			set_fail(r, REASON_LLM_TRUNCATED, key,
				 "finish_reason length: the answer was cut at %d tokens",
				 max_tokens);
			return NULL;
		}
		if (refusal != NULL || (stop != NULL && strcmp(stop, "content_filter") == 0)) {
			set_fail(r, REASON_LLM_INVALID_SHAPE, key, "refused (%s)%s%s",
				 stop ? stop : "refusal", refusal ? ": " : "",
				 refusal ? refusal : "");
			return NULL;
		}
		if (text == NULL) {
			set_fail(r, REASON_LLM_INVALID_SHAPE, key,
				 "choices[0].message.content is not a string (finish_reason %s)",
				 stop ? stop : "none");
			return NULL;
		}
	}
	return text;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

enum reason_llm_status reason_llm_call(const struct reason_llm_config *c,
				       const struct reason_llm_request *q,
				       struct reason_llm_result *out)
{
	const struct reason_llm_shape *shape;
	const char *key, *headers[6], *text;
	struct ax_httpc_resp resp;
	struct timespec t0;
	char *url, *body, *keyhdr = NULL, why[256], herr[256];
	int azure = 0, pub = 0, max_tokens, timeout_ms;
	size_t h = 0;
	cJSON *doc, *ans;
	ax_err rc;

	memset(out, 0, sizeof(*out));
	out->provider = reason_llm_provider_name(c != NULL ? c->provider : REASON_LLM_NONE);
	if (c == NULL || c->provider == REASON_LLM_NONE) {
		set_fail(out, REASON_LLM_NOT_CONFIGURED, NULL, "no LLM provider configured");
		return out->status;
	}
	key = c->key != NULL && c->key[0] != '\0' ? c->key : NULL;
	snprintf(out->model, sizeof(out->model), "%s", cfg_model(c));
	if (q == NULL) {
		set_fail(out, REASON_LLM_NOT_CONFIGURED, key, "no request");
		return out->status;
	}
	shape = q->shape != NULL ? q->shape : &reason_analysis_shape;
	max_tokens = c->max_tokens > 0 ? c->max_tokens : REASON_LLM_MAX_TOKENS;
	timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : REASON_LLM_TIMEOUT_MS;

	url = endpoint(c, &azure, &pub);
	if (url == NULL) {
		set_fail(out, REASON_LLM_NOT_CONFIGURED, key,
			 "the LLM URL must be an http:// or https:// URL with a host");
		return out->status;
	}
	if (key == NULL && pub) {
		free(url);
		set_fail(out, REASON_LLM_NOT_CONFIGURED, NULL, "no API key for %s's public API",
			 out->provider);
		return out->status;
	}
	if (!reason_llm_budget_allows(c->daily_tokens, q->used_today)) {
		free(url);
		set_fail(out, REASON_LLM_BUDGET_EXHAUSTED, key,
			 "daily budget exhausted: %ld of %ld tokens used today", q->used_today,
			 c->daily_tokens);
		return out->status;
	}

	body = request_body(c, q, shape, max_tokens);
	headers[h++] = "Content-Type: application/json";
	headers[h++] = "Accept: application/json";
	if (c->provider == REASON_LLM_ANTHROPIC) {
		headers[h++] = "anthropic-version: " REASON_LLM_ANTHROPIC_VERSION;
		if (key != NULL)
			keyhdr = ax_xasprintf("x-api-key: %s", key);
	} else if (key != NULL) {
		keyhdr = azure ? ax_xasprintf("api-key: %s", key)
			       : ax_xasprintf("Authorization: Bearer %s", key);
	}
	if (keyhdr != NULL)
		headers[h++] = keyhdr;
	headers[h] = NULL;

	herr[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = ax_httpc_post(url, headers, body, strlen(body), timeout_ms, &resp, herr,
			   sizeof(herr));
	out->latency_ms = ms_since(&t0);
	if (keyhdr != NULL) {
		sodium_memzero(keyhdr, strlen(keyhdr));
		free(keyhdr);
	}
	free(body);
	free(url);

	switch (rc) {
	case AX_OK:
		break;
	case AX_ETIMEDOUT:
		set_fail(out, REASON_LLM_TIMEOUT, key, "no answer within %d ms (%s)", timeout_ms,
			 herr);
		return out->status;
	case AX_EINVAL:
		set_fail(out, REASON_LLM_NOT_CONFIGURED, key, "the LLM URL was refused (%s)", herr);
		return out->status;
	default:
		set_fail(out, REASON_LLM_UNREACHABLE, key, "no answer (%s)", herr);
		return out->status;
	}
	out->http_status = resp.status;
	out->retry_after_s = resp.retry_after_s;
	if (resp.status < 200 || resp.status > 299) {
		http_error(out, &resp, key);
		ax_httpc_resp_release(&resp);
		return out->status;
	}

	doc = ax_json_parse(resp.body, resp.body_len, LLM_DOC_DEPTH);
	if (doc == NULL) {
		if (resp.body_len >= LLM_BODY_CAP)
			set_fail(out, REASON_LLM_TRUNCATED, key,
				 "the answer body was cut at %d KiB", LLM_BODY_CAP / 1024);
		else
			set_fail(out, REASON_LLM_INVALID_JSON, key,
				 "the answer body (%zu bytes) is not JSON", resp.body_len);
		ax_httpc_resp_release(&resp);
		return out->status;
	}
	ax_httpc_resp_release(&resp);

	text = envelope(c, out, doc, max_tokens, key);
	scrub(out->answer, key);
	if (text == NULL) {
		cJSON_Delete(doc);
		return out->status;
	}
	ans = reason_llm_parse_answer(text);
	cJSON_Delete(doc);
	if (ans == NULL) {
		set_fail(out, REASON_LLM_INVALID_JSON, key, "the model's answer is not JSON");
		return out->status;
	}
	why[0] = '\0';
	if (shape->validate(ans, &out->analysis, why, sizeof(why)) != 0) {
		cJSON_Delete(ans);
		set_fail(out, REASON_LLM_INVALID_SHAPE, key,
			 "the answer does not fit the shape: %s", why);
		return out->status;
	}
	cJSON_Delete(ans);
	out->status = REASON_LLM_OK;
	return out->status;
}

void reason_llm_result_release(struct reason_llm_result *r)
{
	if (r == NULL)
		return;
	cJSON_Delete(r->analysis);
	free(r->answer);
	memset(r, 0, sizeof(*r));
}
