/* httpaction.h - the generic HTTP action: one request a tenant describes,
 * to a URL the tenant's allowlist admits.
 *
 * params (the remediate payload's params object):
 *   "url"      required, used as written (never templated), http(s) only
 *   "method"   GET, POST (default), PUT, PATCH or DELETE
 *   "body"     optional template (common/alexus/template.h) rendered over
 *              doc; values are JSON-escaped unless the Content-Type is set
 *              to something that is not JSON.  GET takes no body.
 *   "headers"  optional object {"Name": "value template", ...}, at most 16;
 *              values are rendered (never JSON-escaped).  Host,
 *              Content-Length, Transfer-Encoding, Connection and
 *              Idempotency-Key are ours and refused.  With a body and no
 *              Content-Type, Content-Type is application/json.
 * idempotency_key (may be NULL) is sent as Idempotency-Key.
 *
 * The allowlist (tenant_settings.http_action_allowlist) holds URL
 * prefixes.  Both the URL and each prefix are first normalised by
 * libcurl's URL parser, the one that sends the request, and the URL must
 * then start with a prefix at a boundary: "https://hooks.example.com/a"
 * admits ".../a", ".../a/b" and ".../a?x" but not ".../ab" or a host
 * "hooks.example.com.evil.net".  URLs with user info, dot segments
 * ("/../", also percent-encoded) or a backslash are refused whatever the
 * allowlist says. */
#ifndef ACT_HTTPACTION_H
#define ACT_HTTPACTION_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "alexus/err.h"
#include "target.h"

/* Run (or, with dry_run, validate and render only) the HTTP action.
 *
 * AX_EINVAL, nothing sent: params malformed (no url, unknown method, a
 * bad header, a body on GET, a URL that does not parse).  AX_EAUTH,
 * nothing sent: the URL is outside every allowlist prefix (or the
 * allowlist is empty).  In both cases out->error and summary say why.
 * Otherwise AX_OK with out filled as act_k8s_run does (ok for a 2xx;
 * retryable for 429, 5xx, a timeout or a connection failure; error "HTTP
 * n" or the transport error, never the response body, which may echo a
 * secret; host).  A dry run is AX_OK with ok = 1 and http_status 0.
 * summary (may be NULL) never holds the URL's path or query, only method
 * and host.  timeout_ms <= 0 means 5000. */
ax_err act_http_run(const cJSON *params, const cJSON *doc, const char *const *allow,
		    int n_allow, int dry_run, int timeout_ms, const char *idempotency_key,
		    struct act_outcome *out, char *summary, size_t n) AX_MUSTCHECK;

/* 1 when url would pass act_http_run's URL checks: it normalises, has
 * no user info or dot segments, and starts with one of the prefixes at a
 * boundary.  The policy engine asks this before anything runs. */
int act_http_url_allowed(const char *url, const char *const *allow, int n_allow);

#endif /* ACT_HTTPACTION_H */
