/* httpaction.c - the generic HTTP action (see httpaction.h).
 *
 * Design: everything that decides where the request goes is checked
 * before anything is rendered or sent, and with the parser that will send
 * it: libcurl's URL API (curl_url) normalises the URL and every allowlist
 * prefix the same way (scheme case, default port, an empty path as "/"),
 * so a prefix cannot be dodged with "HTTPS://", ":443" or the like, and
 * the string that passed the check is the string handed to libcurl.  The
 * path is parsed as written (CURLU_PATH_AS_IS) to refuse dot segments:
 * curl would resolve "/hooks/../admin" to "/admin" after our check, and a
 * server may decode "%2e%2e" itself.
 *
 * The URL is never a template: a value from an incident must not be able
 * to choose the destination.  Bodies and header values are; header values
 * are checked again after rendering so an incident field cannot inject a
 * header line.  The response body is never copied into the outcome (an
 * echoing receiver could return the secret headers). */
#define _GNU_SOURCE   /* strcasestr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "httpaction.h"
#include "alexus/httpc.h"
#include "alexus/mem.h"
#include "alexus/template.h"

#define HEADERS_MAX 16

static const char *const reserved_headers[] = {
	"Host", "Content-Length", "Transfer-Encoding", "Connection", "Idempotency-Key", NULL
};

/* Normalised form of url (malloc'd), host copied into host (may be NULL).
 * NULL if libcurl cannot parse it or it is not http(s). */
static char *normalise(const char *url, char *host, size_t hostlen, int check_path)
{
	CURLU *u = curl_url();
	char *out = NULL, *scheme = NULL, *h = NULL, *path = NULL, *user = NULL, *pw = NULL;
	char *res = NULL;

	if (u == NULL)
		abort();
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_PATH_AS_IS) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		goto out;
	if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
		goto out;
	if (check_path) {
		if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER ||
		    curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) != CURLUE_NO_PASSWORD)
			goto out;
		if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
			goto out;
		if (strstr(path, "/../") != NULL || strstr(path, "/./") != NULL ||
		    strcasestr(path, "%2e") != NULL || strchr(path, '\\') != NULL ||
		    (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0) ||
		    (strlen(path) >= 2 && strcmp(path + strlen(path) - 2, "/.") == 0))
			goto out;
	}
	if (curl_url_get(u, CURLUPART_URL, &out, CURLU_NO_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	if (host != NULL)
		snprintf(host, hostlen, "%s", h);
	res = ax_xstrdup(out);
out:
	curl_free(out);
	curl_free(scheme);
	curl_free(h);
	curl_free(path);
	curl_free(user);
	curl_free(pw);
	curl_url_cleanup(u);
	return res;
}

/* 1 if the normalised url starts with one of the prefixes at a boundary. */
static int allowed(const char *url, const char *const *allow, int n_allow)
{
	int i;

	for (i = 0; allow != NULL && i < n_allow; i++) {
		char *p;
		size_t n;
		int ok;

		if (allow[i] == NULL || allow[i][0] == '\0')
			continue;
		p = normalise(allow[i], NULL, 0, 0);
		if (p == NULL)
			continue;
		n = strlen(p);
		ok = strncmp(url, p, n) == 0 &&
		     (p[n - 1] == '/' || url[n] == '\0' || url[n] == '/' || url[n] == '?' ||
		      url[n] == '#');
		free(p);
		if (ok)
			return 1;
	}
	return 0;
}

int act_http_url_allowed(const char *url, const char *const *allow, int n_allow)
{
	char *u = url != NULL ? normalise(url, NULL, 0, 1) : NULL;
	int ok = u != NULL && allowed(u, allow, n_allow);

	free(u);
	return ok;
}

/* RFC 9110 token. */
static int is_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s) != NULL))
			return 0;
	return 1;
}

static int safe_value(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return 0;
	return 1;
}

static ax_err refuse(ax_err rc, struct act_outcome *out, char *summary, size_t n,
		     const char *why)
{
	snprintf(out->error, sizeof(out->error), "%s", why);
	if (summary != NULL && n > 0)
		snprintf(summary, n, "http action refused: %s", why);
	return rc;
}

ax_err act_http_run(const cJSON *params, const cJSON *doc, const char *const *allow,
		    int n_allow, int dry_run, int timeout_ms, const char *idempotency_key,
		    struct act_outcome *out, char *summary, size_t n)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", NULL };
	const cJSON *jurl, *jmethod, *jbody, *jheaders, *h;
	const char *method = "POST", *hdrs[HEADERS_MAX + 5];
	char *url = NULL, *body = NULL, *lines[HEADERS_MAX + 3], err[256], why[256];
	int nh = 0, nlines = 0, json_body = 1, has_ct = 0, i;
	struct ax_httpc_resp resp;
	ax_err rc = AX_EINVAL;

	memset(out, 0, sizeof(*out));
	if (summary != NULL && n > 0)
		summary[0] = '\0';
	if (!cJSON_IsObject(params))
		return refuse(AX_EINVAL, out, summary, n, "params is not an object");
	jurl = cJSON_GetObjectItemCaseSensitive(params, "url");
	jmethod = cJSON_GetObjectItemCaseSensitive(params, "method");
	jbody = cJSON_GetObjectItemCaseSensitive(params, "body");
	jheaders = cJSON_GetObjectItemCaseSensitive(params, "headers");
	if (!cJSON_IsString(jurl) || jurl->valuestring[0] == '\0')
		return refuse(AX_EINVAL, out, summary, n, "params.url is missing");
	if (jmethod != NULL) {
		if (!cJSON_IsString(jmethod))
			return refuse(AX_EINVAL, out, summary, n, "params.method is not a string");
		for (i = 0; methods[i] != NULL; i++)
			if (strcmp(jmethod->valuestring, methods[i]) == 0)
				break;
		if (methods[i] == NULL)
			return refuse(AX_EINVAL, out, summary, n,
				      "params.method must be GET, POST, PUT, PATCH or DELETE");
		method = methods[i];
	}
	if (jbody != NULL && !cJSON_IsNull(jbody) && !cJSON_IsString(jbody))
		return refuse(AX_EINVAL, out, summary, n, "params.body is not a string");
	if (cJSON_IsString(jbody) && strcmp(method, "GET") == 0)
		return refuse(AX_EINVAL, out, summary, n, "a GET takes no body");
	if (jheaders != NULL && !cJSON_IsNull(jheaders) &&
	    (!cJSON_IsObject(jheaders) || cJSON_GetArraySize(jheaders) > HEADERS_MAX))
		return refuse(AX_EINVAL, out, summary, n,
			      "params.headers must be an object of at most 16 strings");
	url = normalise(jurl->valuestring, out->host, sizeof(out->host), 1);
	if (url == NULL)
		return refuse(AX_EINVAL, out, summary, n,
			      "params.url is not an http(s) URL without user info or dot segments");
	if (!allowed(url, allow, n_allow)) {
		free(url);
		return refuse(AX_EAUTH, out, summary, n,
			      "params.url is not under any prefix of the tenant's HTTP action "
			      "allowlist");
	}

	/* Headers: names checked first, values rendered then checked. */
	if (!cJSON_IsObject(jheaders))
		jheaders = NULL;
	cJSON_ArrayForEach(h, jheaders) {
		char *v;

		if (!cJSON_IsString(h) || !is_token(h->string)) {
			snprintf(why, sizeof(why), "params.headers: bad header");
			goto bad;
		}
		for (i = 0; reserved_headers[i] != NULL; i++)
			if (strcasecmp(h->string, reserved_headers[i]) == 0)
				break;
		if (reserved_headers[i] != NULL) {
			snprintf(why, sizeof(why), "params.headers: %s is set by Alexus",
				 reserved_headers[i]);
			goto bad;
		}
		v = ax_template_render(h->valuestring, doc, 0);
		if (!safe_value(v)) {
			free(v);
			snprintf(why, sizeof(why), "params.headers: the value of %s has a control "
				 "character once rendered", h->string);
			goto bad;
		}
		if (strcasecmp(h->string, "Content-Type") == 0) {
			has_ct = 1;
			json_body = strcasestr(v, "json") != NULL;
		}
		lines[nlines++] = ax_xasprintf("%s: %s", h->string, v);
		free(v);
	}
	if (cJSON_IsString(jbody)) {
		body = ax_template_render(jbody->valuestring, doc, json_body);
		if (!has_ct)
			lines[nlines++] = ax_xstrdup("Content-Type: application/json");
	}
	if (idempotency_key != NULL && idempotency_key[0] != '\0') {
		if (!safe_value(idempotency_key)) {
			snprintf(why, sizeof(why), "bad idempotency key");
			goto bad;
		}
		lines[nlines++] = ax_xasprintf("Idempotency-Key: %s", idempotency_key);
	}
	for (i = 0; i < nlines; i++)
		hdrs[nh++] = lines[i];
	hdrs[nh] = NULL;

	if (dry_run) {
		out->ok = 1;
		if (summary != NULL)
			snprintf(summary, n, "%s %s: would send %zu bytes (dry run)", method,
				 out->host, body != NULL ? strlen(body) : (size_t)0);
		rc = AX_OK;
		goto out;
	}
	if (body == NULL && strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0) {
		body = ax_xstrdup("");   /* Content-Length: 0, as receivers expect */
		if (!has_ct) {
			/* not libcurl's default form type for a body we do not have */
			lines[nlines++] = ax_xstrdup("Content-Type:");
			hdrs[nh++] = lines[nlines - 1];
			hdrs[nh] = NULL;
		}
	}
	err[0] = '\0';
	rc = ax_httpc_request_tls(method, url, hdrs, body, body != NULL ? strlen(body) : 0,
				  timeout_ms, NULL, &resp, err, sizeof(err));
	switch (rc) {
	case AX_OK:
		out->http_status = resp.status;
		out->retry_after_s = resp.retry_after_s;
		out->ok = resp.status >= 200 && resp.status < 300;
		out->retryable = resp.status == 429 || resp.status >= 500;
		if (!out->ok)
			snprintf(out->error, sizeof(out->error), "HTTP %ld", resp.status);
		ax_httpc_resp_release(&resp);
		break;
	case AX_ETIMEDOUT:
	case AX_EIO:
		out->retryable = 1;
		snprintf(out->error, sizeof(out->error), "%s", err);
		break;
	default:
		snprintf(out->error, sizeof(out->error), "%s", err);
		break;
	}
	if (summary != NULL) {
		if (out->ok)
			snprintf(summary, n, "%s %s: HTTP %ld", method, out->host, out->http_status);
		else
			snprintf(summary, n, "%s %s: failed: %s", method, out->host, out->error);
	}
	rc = AX_OK;
	goto out;
bad:
	rc = refuse(AX_EINVAL, out, summary, n, why);
out:
	for (i = 0; i < nlines; i++)
		free(lines[i]);
	free(body);
	free(url);
	return rc;
}
