/* webhook.c - the generic webhook notification adapter (see webhook.h).
 *
 * Design: one blocking POST per attempt through ax_httpc_post (libcurl
 * with connect and total timeouts, http/https only, no redirects), called
 * from act's worker loop outside any database transaction.  Retries stay
 * inside this call so the caller records one outcome per action.  Between
 * attempts the worker sleeps in short slices and gives up as soon as a
 * stop is requested: the action is then neither delivered nor failed as
 * far as we know, and the caller leaves it to be redelivered (with the
 * same Idempotency-Key) rather than record a guess.
 *
 * Jitter comes from libsodium's randombytes (already a dependency) so
 * many workers retrying one receiver do not retry in step.  The host for
 * the audit row comes from libcurl's URL parser (curl_url), the same
 * parser that sends the request, so the two cannot disagree.
 *
 * The durable delivery (delivery.c) calls the legacy target with the
 * in-call retries only on an action's first attempt and a webhook channel
 * with one request per attempt; a stop requested between in-call retries
 * then simply ends the attempt as a retryable failure, recorded like any
 * other, so the schedule picks it up again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "webhook.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"

char *act_webhook_body(const char *event, const char *tenant, const char *action_id,
		       const char *trace, const cJSON *incident, const cJSON *payload)
{
	/* What the event adds to the incident, copied as the action has it
	 * (proto/action.schema.json); anything else in the payload is act's. */
	static const char *const details[] = { "analysis",   "approval",       "result",
					       "escalation", "regressed_from", "resolution" };
	cJSON *o = cJSON_CreateObject(), *inc;
	size_t i;
	char *s;

	if (o == NULL)
		abort();
	ax_json_add_str(o, "event", event, 1);
	ax_json_add_str(o, "tenant", tenant, 1);
	ax_json_add_str(o, "action_id", action_id, 1);
	ax_json_add_str(o, "trace", trace, 1);
	inc = incident != NULL ? cJSON_Duplicate(incident, 1) : cJSON_CreateNull();
	if (inc == NULL)
		abort();
	cJSON_AddItemToObject(o, "incident", inc);
	for (i = 0; i < sizeof(details) / sizeof(details[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, details[i]);
		cJSON *c;

		if (v == NULL || cJSON_IsNull(v))
			continue;
		if ((c = cJSON_Duplicate(v, 1)) == NULL)
			abort();
		cJSON_AddItemToObject(o, details[i], c);
	}
	s = ax_json_print(o);
	cJSON_Delete(o);
	return s;
}

char *act_header_line(char *buf, size_t n, const char *name, const char *value)
{
	size_t k;
	int w;

	if (n == 0)
		return buf;
	w = snprintf(buf, n, "%s: ", name);
	if (w < 0 || (size_t)w >= n)
		return buf;
	k = (size_t)w;
	for (; value != NULL && *value != '\0' && k + 1 < n; value++) {
		unsigned char c = (unsigned char)*value;

		if (c < 0x20 || c == 0x7f)
			continue;
		buf[k++] = (char)c;
	}
	buf[k] = '\0';
	return buf;
}

long act_backoff_ms(int base_ms, int retry, unsigned rnd)
{
	long d;
	int i;

	if (base_ms <= 0)
		return 0;
	d = base_ms > ACT_BACKOFF_CAP_MS ? ACT_BACKOFF_CAP_MS : base_ms;
	for (i = 1; i < retry && d < ACT_BACKOFF_CAP_MS; i++)
		d *= 2;
	if (d > ACT_BACKOFF_CAP_MS)
		d = ACT_BACKOFF_CAP_MS;
	return d + (long)(rnd % (unsigned)(d / 4 + 1));
}

long act_webhook_worst_ms(const struct act_webhook_opts *o)
{
	long total = (long)(o->retries + 1) * o->timeout_ms;
	int i;

	for (i = 1; i <= o->retries; i++) {
		long d = act_backoff_ms(o->backoff_ms, i, 0);
		total += d + d / 4;
	}
	return total;
}

int act_webhook_retryable(ax_err rc, long status)
{
	if (rc == AX_ETIMEDOUT || rc == AX_EIO)
		return 1;
	return rc == AX_OK && status >= 500 && status <= 599;
}

int act_url_host(const char *url, char *host, size_t n)
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

static int stopping(const struct act_webhook_opts *o)
{
	return o->stop != NULL && *o->stop;
}

static void nap(long ms, const struct act_webhook_opts *o)
{
	while (ms > 0 && !stopping(o)) {
		long slice = ms < 100 ? ms : 100;
		struct timespec ts = { slice / 1000, (slice % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		ms -= slice;
	}
}

void act_webhook_deliver(const char *url, const char *body, const char *action_id,
			 const char *event, const char *trace, const struct act_webhook_opts *o,
			 struct act_webhook_result *r)
{
	char h_key[128], h_event[128], h_trace[160];
	const char *headers[] = { "Content-Type: application/json",
				  act_header_line(h_key, sizeof(h_key), "Idempotency-Key", action_id),
				  act_header_line(h_event, sizeof(h_event), "X-Alexus-Event", event),
				  act_header_line(h_trace, sizeof(h_trace), "X-Alexus-Trace", trace),
				  NULL };
	size_t len = strlen(body);
	int attempt;

	memset(r, 0, sizeof(*r));
	for (attempt = 1;; attempt++) {
		struct ax_httpc_resp resp;
		char err[200] = "";
		ax_err rc;

		memset(&resp, 0, sizeof(resp));
		r->attempts = attempt;
		rc = ax_httpc_post(url, headers, body, len, o->timeout_ms, &resp, err, sizeof(err));
		if (rc == AX_OK) {
			r->http_status = resp.status;
			r->retry_after_s = resp.retry_after_s;
			ax_httpc_resp_release(&resp);
			if (r->http_status >= 200 && r->http_status <= 299) {
				r->outcome = ACT_DELIVERED;
				r->error[0] = '\0';
				return;
			}
			snprintf(r->error, sizeof(r->error), "HTTP %ld", r->http_status);
		} else {
			r->http_status = 0;
			r->retry_after_s = 0;
			snprintf(r->error, sizeof(r->error), "%s", err[0] ? err : ax_strerror(rc));
		}
		r->retryable = act_webhook_retryable(rc, r->http_status) || r->http_status == 429;
		if (!act_webhook_retryable(rc, r->http_status) || attempt > o->retries) {
			r->outcome = ACT_FAILED;
			return;
		}
		nap(act_backoff_ms(o->backoff_ms, attempt, randombytes_random()), o);
		if (stopping(o)) {
			r->outcome = ACT_ABANDONED;
			return;
		}
	}
}

void act_webhook_legacy_send(const struct act_event *ev, const char *url,
			     const struct act_webhook_opts *o, struct act_outcome *out,
			     int *requests)
{
	struct act_webhook_result r;
	char *body = act_webhook_body(ev->event, ev->tenant, ev->action_id, ev->trace,
				      ev->incident, ev->payload);

	memset(out, 0, sizeof(*out));
	(void)act_url_host(url, out->host, sizeof(out->host));
	act_webhook_deliver(url, body, ev->action_id, ev->event, ev->trace, o, &r);
	free(body);
	*requests = r.attempts;
	out->http_status = r.http_status;
	out->retry_after_s = r.retry_after_s;
	if (r.outcome == ACT_DELIVERED) {
		out->ok = 1;
		return;
	}
	out->retryable = r.outcome == ACT_ABANDONED || r.retryable;
	snprintf(out->error, sizeof(out->error), "%s", r.error);
}

void act_webhook_channel_send(const struct act_send *s, struct act_outcome *out)
{
	const struct act_event *ev = s->ev;
	char h_key[128], h_event[128], h_trace[160], err[200] = "";
	const char *headers[] = {
		"Content-Type: application/json",
		act_header_line(h_key, sizeof(h_key), "Idempotency-Key", ev->action_id),
		act_header_line(h_event, sizeof(h_event), "X-Alexus-Event", ev->event),
		act_header_line(h_trace, sizeof(h_trace), "X-Alexus-Trace", ev->trace),
		NULL
	};
	struct ax_httpc_resp resp;
	char *body;
	ax_err rc;

	if (s->credential == NULL || s->credential[0] == '\0') {
		act_outcome_fail(out, "webhook channel has no URL credential");
		return;
	}
	body = act_render(s->config, ev, 1);
	if (body == NULL)
		body = act_webhook_body(ev->event, ev->tenant, ev->action_id, ev->trace,
					ev->incident, ev->payload);
	rc = ax_httpc_post(s->credential, headers, body, strlen(body), s->timeout_ms, &resp, err,
			   sizeof(err));
	free(body);
	act_outcome_http(out, s->credential, rc, &resp, err);
	ax_httpc_resp_release(&resp);
}
