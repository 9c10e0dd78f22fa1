/* confirm.c - visiting an SNS SubscribeURL (see confirm.h). */
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "alexus/httpc.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "confirm.h"

static int host_matches(const char *host, const char *patterns)
{
	char *list = ax_xstrdup(patterns), *save = NULL, *pat;
	int ok = 0;

	for (pat = strtok_r(list, ", ", &save); pat != NULL && !ok; pat = strtok_r(NULL, ", ", &save))
		ok = fnmatch(pat, host, FNM_CASEFOLD) == 0;
	free(list);
	return ok;
}

static int loopback(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcasecmp(host, "localhost") == 0 ||
	       strcmp(host, "::1") == 0;
}

int ingest_confirm_url_ok(const char *url, const char *patterns, char *errbuf, size_t errlen)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *scheme, *host;
	int rc = -1;

	if (u == NULL)
		return ax_errfmt(errbuf, errlen, "SubscribeURL is not a URL");
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	if (scheme == NULL || host == NULL || host[0] == '\0')
		ax_errfmt(errbuf, errlen, "SubscribeURL has no scheme or host");
	else if (evhttp_uri_get_userinfo(u) != NULL)
		ax_errfmt(errbuf, errlen, "SubscribeURL carries credentials");
	else if (strcasecmp(scheme, "https") != 0 &&
		 !(strcasecmp(scheme, "http") == 0 && loopback(host)))
		ax_errfmt(errbuf, errlen, "SubscribeURL must be https");
	else if (!host_matches(host, patterns))
		ax_errfmt(errbuf, errlen,
			  "SubscribeURL host \"%.100s\" is not in ALEXUS_SNS_CONFIRM_HOSTS", host);
	else
		rc = 0;
	evhttp_uri_free(u);
	return rc;
}

static int running;  /* visits in progress (atomic) */

int ingest_confirm_running(void)
{
	return __atomic_load_n(&running, __ATOMIC_SEQ_CST);
}

struct job {
	char *url;
	char tenant[64];
	int timeout_ms;
};

static void *visit(void *arg)
{
	struct job *j = arg;
	struct ax_httpc_resp r;
	char err[256];
	ax_err rc;

	rc = ax_httpc_request("GET", j->url, NULL, NULL, 0, j->timeout_ms, &r, err, sizeof(err));
	if (rc != AX_OK)
		ax_log(AX_LOG_WARN, NULL, j->tenant, "SNS subscription not confirmed: %s", err);
	else if (r.status < 200 || r.status > 299)
		ax_log(AX_LOG_WARN, NULL, j->tenant,
		       "SNS subscription not confirmed: SubscribeURL answered %ld", r.status);
	else
		ax_log(AX_LOG_INFO, NULL, j->tenant, "SNS subscription confirmed");
	ax_httpc_resp_release(&r);
	free(j->url);
	free(j);
	__atomic_sub_fetch(&running, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

ax_err ingest_confirm_subscription(const char *url, const char *patterns, const char *tenant,
				   int timeout_ms, char *errbuf, size_t errlen)
{
	pthread_attr_t attr;
	pthread_t t;
	struct job *j;
	int rc;

	if (ingest_confirm_url_ok(url, patterns, errbuf, errlen) != 0)
		return AX_EINVAL;
	j = ax_xcalloc(1, sizeof(*j));
	j->url = ax_xstrdup(url);
	snprintf(j->tenant, sizeof(j->tenant), "%s", tenant != NULL ? tenant : "");
	j->timeout_ms = timeout_ms;
	__atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, visit, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		__atomic_sub_fetch(&running, 1, __ATOMIC_SEQ_CST);
		free(j->url);
		free(j);
		ax_errfmt(errbuf, errlen, "cannot start the confirmation thread");
		return AX_EIO;
	}
	return AX_OK;
}
