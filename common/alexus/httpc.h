/* httpc.h - outbound HTTP for adapters (libcurl easy interface).
 *
 * Used from worker loops where one request at a time is the unit of work;
 * every call has a connect and a total timeout and never raises signals. */
#ifndef AX_HTTPC_H
#define AX_HTTPC_H

#include <stddef.h>
#include "alexus/err.h"

struct ax_httpc_resp {
	long status;        /* HTTP status, 0 if no response */
	char *body;         /* NUL-terminated, at most 64 KiB kept; free() */
	size_t body_len;
	long retry_after_s; /* Retry-After in seconds (a date is converted), 0 if absent */
};

/* Once per process, before threads: curl_global_init.  0, or -1 on error. */
int ax_httpc_global_init(void);

/* POST body to url.  headers is a NULL-terminated list of "Name: value"
 * (may be NULL).  timeout_ms bounds connecting and the whole exchange
 * (<= 0 means 5000).  Only http:// and https:// URLs; redirects are not
 * followed (a 3xx is returned as the status); the first 64 KiB of the
 * response body are kept, the rest discarded.
 * AX_OK means a response arrived (any status); AX_ETIMEDOUT / AX_EIO mean
 * none did, with errbuf set (the message never contains the URL, which may
 * hold a secret); AX_EINVAL means the URL was refused (bad syntax or
 * scheme) and retrying cannot help.  resp is zeroed first in every case;
 * release it with ax_httpc_resp_release. */
ax_err ax_httpc_post(const char *url, const char *const *headers, const char *body,
		     size_t body_len, int timeout_ms, struct ax_httpc_resp *resp,
		     char *errbuf, size_t errlen) AX_MUSTCHECK;
/* The same for any method: "GET" sends no body (body must be NULL);
 * "PUT", "PATCH", "DELETE"... send body like POST. */
ax_err ax_httpc_request(const char *method, const char *url, const char *const *headers,
			const char *body, size_t body_len, int timeout_ms,
			struct ax_httpc_resp *resp, char *errbuf, size_t errlen) AX_MUSTCHECK;
void ax_httpc_resp_release(struct ax_httpc_resp *r);   /* NULL-safe; zeroes r */

/* TLS settings for ax_httpc_request_tls (a Kubernetes API server, a
 * receiver with a private CA or mutual TLS).  Each of the CA, the client
 * certificate and its key is a PEM file or a PEM blob in memory (a
 * kubeconfig's *-data fields, already base64-decoded); a blob wins over a
 * file.  Blobs are copied by libcurl, nothing needs to outlive the call.
 * When a CA is given it is the only one trusted (not added to the system
 * store): a cluster's API certificate must chain to the cluster CA.  All
 * zero means the system CA store and no client certificate. */
struct ax_httpc_tls {
	const char *ca_file;
	const char *ca_pem;
	size_t ca_pem_len;
	const char *cert_file;
	const char *cert_pem;
	size_t cert_pem_len;
	const char *key_file;
	const char *key_pem;
	size_t key_pem_len;
	/* Skip peer and host name verification.  Only for an explicit
	 * operator setting (kubeconfig insecure-skip-tls-verify); the library
	 * never logs, so the caller must log a warning whenever it sets this. */
	int insecure_skip_verify;
};

/* ax_httpc_request with TLS settings (tls NULL: the defaults above).  Two
 * differences: body NULL sends no body at all (a DELETE whose options are
 * in the query), and a TLS failure that retrying cannot fix (the peer's
 * certificate does not verify against the CA, a bad CA, client certificate
 * or key) is AX_EAUTH rather than AX_EIO.  Otherwise as ax_httpc_request. */
ax_err ax_httpc_request_tls(const char *method, const char *url, const char *const *headers,
			    const char *body, size_t body_len, int timeout_ms,
			    const struct ax_httpc_tls *tls, struct ax_httpc_resp *resp,
			    char *errbuf, size_t errlen) AX_MUSTCHECK;

#endif /* AX_HTTPC_H */
