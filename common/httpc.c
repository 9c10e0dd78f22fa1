/* httpc.c - outbound HTTP requests over libcurl's easy interface (see httpc.h).
 *
 * Design: one easy handle per call, used from worker loops whose unit of
 * work is one request.  Everything that could hang or surprise is pinned:
 * CURLOPT_NOSIGNAL (no SIGALRM for DNS timeouts in a threaded process), a
 * connect and a total timeout, only http and https (no file://, gopher://,
 * ... from a tenant-supplied URL), no redirects (a 3xx is just a status),
 * and the response body is capped: the first 64 KiB are kept, the rest is
 * read and dropped so the connection still completes cleanly.
 *
 * Errors: a transfer that produced a response is AX_OK whatever the status;
 * a timeout is AX_ETIMEDOUT; a URL we refuse is AX_EINVAL (retrying cannot
 * help); any other transport failure is AX_EIO.  The detail comes from
 * CURLOPT_ERRORBUFFER, falling back to curl_easy_strerror.
 *
 * TLS (ax_httpc_request_tls): the CA, client certificate and key go to
 * libcurl as files or as in-memory blobs (CURLOPT_*_BLOB, 7.71/7.77), so a
 * kubeconfig's inline certificates never touch the disk.  A given CA
 * replaces the system store (CAINFO and CAPATH cleared): trusting every
 * public CA for a cluster's API would let any public certificate for that
 * name through.  Verification is switched off only by the explicit
 * insecure_skip_verify flag, which the caller must log. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "alexus/httpc.h"
#include "alexus/mem.h"

#define HTTPC_BODY_MAX (64 * 1024)

struct sink {
	char *buf;
	size_t len;
	size_t cap;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb, take;

	take = HTTPC_BODY_MAX - s->len;
	if (take > n)
		take = n;
	if (take > 0) {
		if (s->len + take + 1 > s->cap) {
			size_t cap = s->cap ? s->cap : 1024;

			while (cap < s->len + take + 1)
				cap *= 2;
			if (cap > HTTPC_BODY_MAX + 1)
				cap = HTTPC_BODY_MAX + 1;
			s->buf = ax_xrealloc(s->buf, cap);
			s->cap = cap;
		}
		memcpy(s->buf + s->len, data, take);
		s->len += take;
		s->buf[s->len] = '\0';
	}
	/* Claim everything: returning less would abort the transfer. */
	return n;
}

int ax_httpc_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void ax_httpc_resp_release(struct ax_httpc_resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int has_header(const char *const *headers, const char *name)
{
	size_t n = strlen(name);

	for (; headers != NULL && *headers != NULL; headers++)
		if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
			return 1;
	return 0;
}

ax_err ax_httpc_post(const char *url, const char *const *headers, const char *body,
		     size_t body_len, int timeout_ms, struct ax_httpc_resp *resp,
		     char *errbuf, size_t errlen)
{
	return ax_httpc_request("POST", url, headers, body, body_len, timeout_ms, resp, errbuf,
				errlen);
}

static void set_blob(CURL *h, CURLoption opt, const char *pem, size_t len)
{
	struct curl_blob b;

	b.data = (void *)(uintptr_t)pem;   /* copied by curl (CURL_BLOB_COPY) */
	b.len = len > 0 ? len : strlen(pem);
	b.flags = CURL_BLOB_COPY;
	curl_easy_setopt(h, opt, &b);
}

static void set_tls(CURL *h, const struct ax_httpc_tls *t)
{
	if (t->ca_pem != NULL || t->ca_file != NULL) {
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		if (t->ca_pem != NULL)
			set_blob(h, CURLOPT_CAINFO_BLOB, t->ca_pem, t->ca_pem_len);
		else
			curl_easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
	}
	if (t->cert_pem != NULL || t->cert_file != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		if (t->cert_pem != NULL)
			set_blob(h, CURLOPT_SSLCERT_BLOB, t->cert_pem, t->cert_pem_len);
		else
			curl_easy_setopt(h, CURLOPT_SSLCERT, t->cert_file);
	}
	if (t->key_pem != NULL || t->key_file != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
		if (t->key_pem != NULL)
			set_blob(h, CURLOPT_SSLKEY_BLOB, t->key_pem, t->key_pem_len);
		else
			curl_easy_setopt(h, CURLOPT_SSLKEY, t->key_file);
	}
	if (t->insecure_skip_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* tls_api: the ax_httpc_request_tls semantics (NULL body = none, TLS
 * refusals are AX_EAUTH); 0 keeps ax_httpc_request's. */
static ax_err perform(const char *method, const char *url, const char *const *headers,
		      const char *body, size_t body_len, int timeout_ms,
		      const struct ax_httpc_tls *tls, int tls_api, struct ax_httpc_resp *resp,
		      char *errbuf, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE];
	struct curl_slist *hl = NULL, *tmp;
	struct sink sink = { 0 };
	CURL *h;
	CURLcode cc;
	ax_err rc = AX_EIO;
	const char *const *p;

	if (resp != NULL)
		memset(resp, 0, sizeof(*resp));
	if (method == NULL || url == NULL || resp == NULL || (body == NULL && body_len > 0)) {
		ax_errfmt(errbuf, errlen, "HTTP request: bad arguments");
		return AX_EINVAL;
	}
	if (timeout_ms <= 0)
		timeout_ms = 5000;
	h = curl_easy_init();
	if (h == NULL) {
		ax_errfmt(errbuf, errlen, "%s: cannot create a curl handle", method);
		return AX_EIO;
	}
	for (p = headers; p != NULL && *p != NULL; p++) {
		tmp = curl_slist_append(hl, *p);
		if (tmp == NULL)
			goto oom;
		hl = tmp;
	}
	/* curl would send "Expect: 100-continue" for larger bodies and wait
	 * up to a second for an answer many receivers never give. */
	if (!has_header(headers, "Expect")) {
		tmp = curl_slist_append(hl, "Expect:");
		if (tmp == NULL)
			goto oom;
		hl = tmp;
	}
	cerr[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
#if LIBCURL_VERSION_NUM >= 0x075500   /* 7.85: the string forms */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (tls_api && body == NULL) {
		/* no body at all: no Content-Length, no Content-Type */
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else {
		/* A body (possibly empty) for every other method; CUSTOMREQUEST
		 * only renames POST, so PUT/PATCH/DELETE keep curl's body path. */
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "alexus/1");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	if (tls != NULL)
		set_tls(h, tls);

	cc = curl_easy_perform(h);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		{
			/* Seconds or an HTTP date, which curl converts; a past
			 * date or garbage gives 0 or less: "not given". */
			curl_off_t ra = 0;

			if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
				resp->retry_after_s = ra > 86400 ? 86400 : (long)ra;
		}
		if (sink.buf == NULL)
			sink.buf = ax_xstrdup("");
		resp->body = sink.buf;
		resp->body_len = sink.len;
		sink.buf = NULL;
		rc = AX_OK;
		goto out;
	}
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		rc = AX_ETIMEDOUT;
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		rc = AX_EINVAL;
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
		rc = tls_api ? AX_EAUTH : AX_EIO;
		break;
	case CURLE_OUT_OF_MEMORY:
		goto oom;
	default:
		rc = AX_EIO;
		break;
	}
	/* No URL in the message: webhook URLs often carry a secret. */
	ax_errfmt(errbuf, errlen, "%s: %s", method, cerr[0] ? cerr : curl_easy_strerror(cc));
out:
	free(sink.buf);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	return rc;
oom:
	/* mem.h policy: out of memory is not an input to handle. */
	abort();
}

ax_err ax_httpc_request(const char *method, const char *url, const char *const *headers,
			const char *body, size_t body_len, int timeout_ms,
			struct ax_httpc_resp *resp, char *errbuf, size_t errlen)
{
	return perform(method, url, headers, body, body_len, timeout_ms, NULL, 0, resp, errbuf,
		       errlen);
}

ax_err ax_httpc_request_tls(const char *method, const char *url, const char *const *headers,
			    const char *body, size_t body_len, int timeout_ms,
			    const struct ax_httpc_tls *tls, struct ax_httpc_resp *resp,
			    char *errbuf, size_t errlen)
{
	return perform(method, url, headers, body, body_len, timeout_ms, tls, 1, resp, errbuf,
		       errlen);
}
