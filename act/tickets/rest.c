/* rest.c - one JSON request to a ticket system, its answer as an outcome
 * (see rest.h).
 *
 * Design: a thin layer over ax_httpc_request (libcurl: timeouts, http and
 * https only, no redirects, the answer capped at 64 KiB).  What is shared
 * between Jira and ServiceNow is the mapping of an answer to a sender
 * outcome, which both document the same way in substance: a 2xx is done;
 * 429 says to come back later (Retry-After), a 5xx or no answer at all may
 * work next time; any other status (400 a field refused, 401/403 the
 * credential, 404 the record or project) will fail again as it is, and is
 * a permanent failure whose message is the system's own error document,
 * read by the client's error_of.
 *
 * URL parts go through libcurl (curl_url for the host, curl_easy_escape
 * for path segments and query values), the same parser that sends the
 * request; base64 for Basic auth is libsodium's. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "rest.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"

char *act_rest_auth_line(const char *scheme, const char *cred, size_t len)
{
	static const char basic[] = "Authorization: Basic ", bearer[] = "Authorization: Bearer ";
	char *clean = ax_xmalloc(len + 1), *line;
	size_t i, k = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)cred[i];

		if (c >= 0x20 && c != 0x7f)
			clean[k++] = (char)c;
	}
	clean[k] = '\0';
	if (scheme != NULL && strcmp(scheme, "basic") == 0) {
		size_t b64 = sodium_base64_ENCODED_LEN(k, sodium_base64_VARIANT_ORIGINAL);

		line = ax_xmalloc(sizeof(basic) + b64);
		memcpy(line, basic, sizeof(basic) - 1);
		sodium_bin2base64(line + sizeof(basic) - 1, b64, (const unsigned char *)clean, k,
				  sodium_base64_VARIANT_ORIGINAL);
	} else {
		line = ax_xmalloc(sizeof(bearer) + k);
		memcpy(line, bearer, sizeof(bearer) - 1);
		memcpy(line + sizeof(bearer) - 1, clean, k + 1);
	}
	sodium_memzero(clean, len + 1);
	free(clean);
	return line;
}

int act_rest_host(const char *url, char *host, size_t n)
{
	CURLU *u;
	char *h = NULL;
	int rc = -1;

	if (n > 0)
		host[0] = '\0';
	if (url == NULL || (u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK && h != NULL) {
		snprintf(host, n, "%s", h);
		rc = 0;
	}
	curl_free(h);
	curl_url_cleanup(u);
	return rc;
}

char *act_rest_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, (int)strlen(s)), *r;

	if (e == NULL)
		abort();
	r = ax_xstrdup(e);
	curl_free(e);
	return r;
}

char *act_rest_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return ax_xstrdup(s);
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return ax_xstrndup(s, n);
}

void act_rest_fail(struct act_outcome *out, const char *what, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out->ok = 0;
	out->retryable = 0;
	snprintf(out->error, sizeof(out->error), "%s: %s", what, msg);
}

static int retryable_status(long st)
{
	return st == 408 || st == 429 || (st >= 500 && st <= 599);
}

int act_rest_call(const struct act_rest *r, const char *what, const char *method,
		  const char *path, const cJSON *body, cJSON **doc, struct act_outcome *out)
{
	const char *headers[4];
	struct ax_httpc_resp resp;
	char *url, *text = NULL, err[200] = "";
	size_t blen;
	cJSON *answer = NULL;
	ax_err rc;
	int nh = 0;

	if (doc != NULL)
		*doc = NULL;
	out->ok = out->retryable = 0;
	out->http_status = 0;
	out->retry_after_s = 0;
	out->error[0] = '\0';
	(void)act_rest_host(r->base_url, out->host, sizeof(out->host));
	blen = strlen(r->base_url);
	while (blen > 0 && r->base_url[blen - 1] == '/')
		blen--;
	url = ax_xasprintf("%.*s%s", (int)blen, r->base_url, path);
	headers[nh++] = "Accept: application/json";
	if (body != NULL)
		headers[nh++] = "Content-Type: application/json";
	headers[nh++] = r->auth;
	headers[nh] = NULL;
	if (body != NULL)
		text = ax_json_print(body);
	memset(&resp, 0, sizeof(resp));
	rc = ax_httpc_request(method, url, headers, text, text != NULL ? strlen(text) : 0,
			      r->timeout_ms, &resp, err, sizeof(err));
	free(url);
	free(text);
	if (rc != AX_OK) {
		out->retryable = rc != AX_EINVAL;
		snprintf(out->error, sizeof(out->error), "%s: %s", what,
			 err[0] != '\0' ? err : ax_strerror(rc));
		ax_httpc_resp_release(&resp);
		return 0;
	}
	out->http_status = resp.status;
	if (resp.body != NULL && resp.body_len > 0)
		answer = ax_json_parse(resp.body, resp.body_len, 0);
	if (resp.status >= 200 && resp.status <= 299) {
		out->ok = 1;
	} else {
		char msg[200] = "";

		out->retryable = retryable_status(resp.status);
		if (out->retryable)     /* 429, and a 503 may say it too */
			out->retry_after_s = resp.retry_after_s;
		if (answer != NULL && r->error_of != NULL)
			r->error_of(answer, msg, sizeof(msg));
		if (msg[0] != '\0')
			snprintf(out->error, sizeof(out->error), "%s: HTTP %ld: %s", what,
				 resp.status, msg);
		else
			snprintf(out->error, sizeof(out->error), "%s: HTTP %ld", what, resp.status);
	}
	ax_httpc_resp_release(&resp);
	if (doc != NULL)
		*doc = answer;
	else
		cJSON_Delete(answer);
	return out->ok;
}

void act_ticket_echo_hash(const char *system, const char *key, int resolved,
			  char out[AX_SHA256_HEX])
{
	char *s = ax_xasprintf("%s|%s|%s", system, key, resolved ? "resolved" : "open");

	ax_sha256_hex(s, strlen(s), out);
	free(s);
}
