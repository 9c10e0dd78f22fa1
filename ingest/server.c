/* server.c - the ingest HTTP edge on libevent's evhttp (see server.h).
 *
 * Request path.  evhttp reads the whole request (headers and body, both
 * capped) and calls on_request().  A webhook is checked in this order, the
 * first failure answering at once with a JSON refusal: route and source
 * (404), method (405), draining (503), credentials (401 unauthorized: a
 * bearer JWT, checked on the spot, or a webhook token -- Authorization:
 * Bearer axw_..., X-Alexus-Token or ?token= -- whose tenant is looked up
 * in Redis: 503 when Redis is down), Content-Type (415), body size (413),
 * JSON (400; 415 for a form-encoded body), driver (422), signature (401
 * bad_signature when the tenant has a signing secret for the source, now
 * known from the route or the detection; 503 when Redis cannot say or the
 * secret cannot be opened), capacity (503).  See ingest/auth.h.
 * Validation comes before capacity on purpose: a 4xx tells the sender the
 * payload is wrong whatever the state of Redis, a 503 that it may retry.
 * The two lookups are asynchronous (on the appender's connection, through
 * a small cache), so a webhook is carried between stages by a struct
 * webhook (see "webhooks" below); before each lookup the request is shed
 * with 503 if ALEXUS_MAX_INFLIGHT requests already wait for Redis.
 * Then every signal gets an id and is handed to the appender (claim_once +
 * XADD in one script); the commands are pipelined on the one connection.
 * The request is parked in a `pending` until every append has its answer,
 * then gets 202 -- or 503 if any append failed: the appends that did land
 * dedup on the retry, so retrying is always safe.
 *
 * Operator API (issue 7; docs/api.md, proto/openapi.json).  The /v1 routes
 * other than webhooks are checked here -- route (404), method (405 with
 * Allow), bearer JWT verified on every call (401), role (403) -- and then
 * handed to the API threads (api.h: Postgres blocks, the loop must not),
 * whose answer comes back to this loop (api_done).  The tenant is always
 * the token's.  GET /v1/events alone also takes the JWT as ?access_token=
 * (EventSource cannot set headers) and becomes a long-lived stream owned
 * by the worker's live feed (api_feed.c), made on its first stream; a
 * drain ends every stream and waits for them like for a pending webhook.
 *
 * Exactly one reply per request.  A pending's evhttp_request is ours until
 * we reply (libevent detaches, rather than frees, a request whose client
 * went away -- http.c evhttp_connection_incoming_fail -- and frees it when
 * we answer), so every path answers: the last append callback, the drain
 * deadline (503), or ingest_server_free() (the appender fails every
 * command, which completes every pending).  After an early answer
 * (deadline) p->req is NULL and the pending only waits for its callbacks
 * to count them, then frees itself.
 *
 * The 413 problem, and why this file defines evhttp_send_error().
 * libevent 2.1.12 enforces evhttp_set_max_body_size() itself, before any
 * callback of ours runs: a Content-Length above the cap (or chunks adding
 * up past it) makes http.c call evhttp_connection_fail_(...DATA_TOO_LONG),
 * which ends in evhttp_send_error(req, 413, NULL) -- an HTML page whose
 * headers evhttp_send_page_() resets.  There is no hook to see the request
 * earlier: server-side requests are created inside libevent, so
 * evhttp_request_set_header_cb() cannot be installed in time (libevent
 * issue #588; evhttp_set_newreqcb() that fixes it exists only from 2.2),
 * and wrapping the bufferevent in a filter (evhttp_set_bevcb) breaks
 * Connection: close replies, because evhttp frees the connection and shuts
 * the socket down as soon as the *filter* has drained, with the reply
 * still in the underlying buffer.  Raising the limit and checking in
 * on_request instead would let a client make us buffer any body size.
 * So we keep libevent's limit (memory stays bounded) and replace the page:
 * this file defines evhttp_send_error() with libevent's exact signature.
 * libevent's own calls go through the PLT of libevent-2.1.so (checked:
 * `objdump -d libevent-2.1.so.7 | grep 'evhttp_send_error@plt'`), so the
 * dynamic linker binds them to the executable's definition, and every
 * error libevent produces on its own -- 413, 400 for a malformed request,
 * 501, 417 -- goes out as our JSON with the status libevent chose and
 * Connection: close, as libevent's page would.  With
 * EVHTTP_SERVER_LINGERING_CLOSE libevent first reads and discards the rest
 * of an oversized Content-Length body, so the client is not reset while
 * still sending and actually reads the 413.  We never call
 * evhttp_send_error() ourselves: our replies use evhttp_send_reply(), which
 * keeps our headers (Retry-After, WWW-Authenticate, Allow).  Requires the
 * shared libevent (the Makefile links -levent through pkg-config); tests/
 * unit/test_ingest_http.c checks the bytes on the wire.
 *
 * Shutdown.  ingest_server_drain() closes the listener, answers new
 * webhooks on kept-alive connections with 503 + Connection: close, and
 * calls back when nothing is pending and every reply has been written out
 * (evhttp_request_set_on_complete_cb: a reply still in a bufferevent when
 * the loop stops would be lost), or when the deadline has answered what is
 * left with 503 and given those replies a moment to leave. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "alexus/config.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/jwt.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "api.h"
#include "appender.h"
#include "auth.h"
#include "confirm.h"
#include "web.h"
#include "drivers/driver.h"
#include "metrics.h"
#include "server.h"

#define JSON_MAX_DEPTH AX_JSON_PAYLOAD_DEPTH
#define FLUSH_GRACE_MS 500   /* after the drain deadline, for the last replies */
#define WEBHOOK_PREFIX "/v1/webhooks"

/* A request waiting for its append: the callback's argument. */
struct pending {
	TAILQ_ENTRY(pending) link; /* in s->pending while p->req is set */
	struct ingest_server *s;
	struct evhttp_request *req; /* NULL once answered */
	int src;                    /* metrics source index */
	char tenant[AX_TENANT_MAX + 1];
	char trace[AX_TRACE_LEN];
	size_t n;                   /* signals in the request */
	int outstanding;            /* the append has not been answered yet */
	struct timespec t0;         /* when the append was queued */
	ax_err rc;                  /* of the append */
	int limited;                /* refused by the tenant's rate limit */
	long retry_after_ms;
	size_t accepted, duplicates;
	char why[160];              /* append failure */
	char (*ids)[AX_UUID_LEN];   /* n entry ids */
	unsigned char *appended;    /* n flags */
};

TAILQ_HEAD(pending_list, pending);
struct flushing;

struct ingest_server {
	struct event_base *base;
	const struct ax_config *cfg;
	struct evhttp *http;
	struct evhttp_bound_socket *sock; /* NULL once draining */
	int port;
	struct ingest_appender *app;
	/* auth */
	struct ingest_auth *auth;         /* credentials, token lookups, signatures */
	long auth_waiting;                /* webhooks waiting for an auth lookup */
	/* end auth */
	struct ingest_metrics *metrics;   /* shared by the workers, or own_metrics */
	int own_metrics;
	struct pending_list pending;      /* requests waiting for Redis */
	long inflight_requests;           /* pending + webhooks waiting for an auth lookup */
	long inflight_appends;            /* appends waiting for Redis */
	TAILQ_HEAD(, flushing) flushing;  /* replies libevent is still writing */
	long unflushed;                   /* = length of flushing */
	int draining;
	int deadline_hit;                 /* the drain deadline fired */
	int cut_short;                    /* ... and answered some requests 503 */
	struct event *drain_ev;           /* drain deadline */
	struct event *done_ev;            /* runs done() from the loop */
	ingest_server_done_fn *done;
	void *done_arg;
	int done_called;
	struct ingest_server *next_in_thread;
	struct ingest_api *api;           /* operator API, or NULL */
	struct ingest_feed *feed;         /* live feed, made on its first stream */
};

/* The servers of this thread, to find the one a libevent-made error
 * belongs to (evhttp_send_error below gets only the request). */
static _Thread_local struct ingest_server *thread_servers;

static const char *phrase(int code)
{
	switch (code) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return code < 400 ? "OK" : code < 500 ? "Client Error" : "Server Error";
	}
}

static void check_drained(struct ingest_server *s);

/* ------------------------------------------------------------ replies */

/* A reply being written: from evhttp_send_reply() until libevent has
 * handed all of it to the kernel (the request's on_complete callback), or
 * its connection closed first (the connection's close callback: a reply
 * cut off by a dead client never completes).  Draining waits for these
 * too, or a reply issued just before exit would die in its bufferevent.
 * evhttp writes one reply at a time per connection, so the connection
 * identifies the entry. */
struct flushing {
	TAILQ_ENTRY(flushing) link;
	struct ingest_server *s;
	struct evhttp_connection *evcon;
};

static void flushing_done(struct flushing *f)
{
	struct ingest_server *s = f->s;

	TAILQ_REMOVE(&s->flushing, f, link);
	free(f);
	s->unflushed--;
	check_drained(s);
}

static void on_flushed(struct evhttp_request *req, void *arg)
{
	(void)req;
	flushing_done(arg);
}

static void on_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct ingest_server *s = arg;
	struct flushing *f, *next;

	for (f = TAILQ_FIRST(&s->flushing); f != NULL; f = next) {
		next = TAILQ_NEXT(f, link);
		if (f->evcon == evcon)
			flushing_done(f);
	}
}

/* Every reply goes through here: Connection: close while draining, the
 * flush accounting, the request metric. */
static void reply(struct ingest_server *s, struct evhttp_request *req, int src, int code,
		  struct evbuffer *b)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct flushing *f;

	if (s != NULL) {
		if (s->draining && evhttp_find_header(h, "Connection") == NULL)
			evhttp_add_header(h, "Connection", "close");
		/* A request whose client left (evcon NULL) is freed by
		 * evhttp_send_reply() without completing: nothing to wait for. */
		if (evcon != NULL) {
			f = ax_xcalloc(1, sizeof(*f));
			f->s = s;
			f->evcon = evcon;
			TAILQ_INSERT_TAIL(&s->flushing, f, link);
			s->unflushed++;
			evhttp_request_set_on_complete_cb(req, on_flushed, f);
			evhttp_connection_set_closecb(evcon, on_conn_closed, s);
		}
		ingest_metrics_request(s->metrics, src, code);
	}
	evhttp_send_reply(req, code, phrase(code), b);
}

static void send_body(struct ingest_server *s, struct evhttp_request *req, int src, int code,
		      const char *ctype, const char *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		abort();                /* allocation failure: see mem.h */
	evbuffer_add(b, body, len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	reply(s, req, src, code, b);
	evbuffer_free(b);
}

static void send_json(struct ingest_server *s, struct evhttp_request *req, int src, int code,
		      const cJSON *body)
{
	char *text = ax_json_print(body);
	size_t n = strlen(text);

	/* A trailing newline keeps curl output and log tails readable. */
	text = ax_xrealloc(text, n + 2);
	text[n] = '\n';
	text[n + 1] = '\0';
	send_body(s, req, src, code, "application/json", text, n + 1);
	free(text);
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "?";
	}
}

/* Answer a refusal: {"error": <code>, "message": <fmt...>}, the status,
 * the headers a client needs (Retry-After on 503), a metric and a log
 * line.  The error code is the refusal's metric name, except that every
 * 503 says "unavailable". */
static void refuse(struct ingest_server *s, struct evhttp_request *req, int src, int code,
		   enum ingest_refusal why, const char *tenant, const char *trace,
		   const char *fmt, ...) AX_PRINTF(8, 9);

static void refuse(struct ingest_server *s, struct evhttp_request *req, int src, int code,
		   enum ingest_refusal why, const char *tenant, const char *trace,
		   const char *fmt, ...)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	/* The path only: a query may carry ?token=axw_... */
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *uri = u != NULL ? evhttp_uri_get_path(u) : NULL;
	char msg[512];
	va_list ap;
	cJSON *body;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Logged first: once replied to, req may already be freed (a
	 * request whose client left is freed by evhttp_send_reply). */
	ax_log(code >= 500 ? AX_LOG_WARN : AX_LOG_INFO, trace, tenant,
	       "refused %s %.200s: %d %s: %s", method_name(evhttp_request_get_command(req)),
	       uri != NULL ? uri : "(unparsed)", code, ingest_refusal_name(why), msg);
	if (s != NULL)
		ingest_metrics_refusal(s->metrics, why);
	if (code == 503)
		evhttp_add_header(h, "Retry-After", "1");
	body = cJSON_CreateObject();
	if (body == NULL)
		abort();
	ax_json_add_str(body, "error", code == 503 ? "unavailable" : ingest_refusal_name(why), 0);
	ax_json_add_str(body, "message", msg, 0);
	send_json(s, req, src, code, body);
	cJSON_Delete(body);
}

/* ------------------------------------------------ libevent's own errors */

static struct ingest_server *server_of(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct evhttp *http = evcon != NULL ? evhttp_connection_get_server(evcon) : NULL;
	struct ingest_server *s;

	for (s = thread_servers; s != NULL; s = s->next_in_thread) {
		if (s->http == http)
			return s;
	}
	return NULL;
}

/* Replaces libevent's HTML error page with our JSON refusal; see "The 413
 * problem" at the top of this file.  Called by libevent only, for errors
 * it detects before any callback of ours (body over the cap, malformed
 * request line or headers, Expect other than 100-continue, ...). */
void evhttp_send_error(struct evhttp_request *req, int error, const char *reason)
{
	struct ingest_server *s = server_of(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	/* What evhttp_send_page_() does: a request that failed before its
	 * version was parsed is answered as HTTP/1.1, and the connection is
	 * closed after the reply (its input is in an unknown state). */
	if (!req->major || !req->minor) {
		req->major = 1;
		req->minor = 1;
	}
	evhttp_clear_headers(h);
	evhttp_add_header(h, "Connection", "close");
	switch (error) {
	case 413:
		refuse(s, req, 0, 413, INGEST_R_TOO_LARGE, NULL, NULL,
		       "request body is larger than %zu bytes (ALEXUS_MAX_BODY)",
		       s != NULL ? s->cfg->max_body : (size_t)0);
		break;
	case 400:
		refuse(s, req, 0, 400, INGEST_R_BAD_REQUEST, NULL, NULL,
		       "malformed HTTP request");
		break;
	case 501:
		refuse(s, req, 0, 501, INGEST_R_METHOD, NULL, NULL, "method not implemented");
		break;
	default:
		refuse(s, req, 0, error, INGEST_R_OTHER, NULL, NULL, "%s",
		       reason != NULL ? reason : phrase(error));
		break;
	}
}

/* ----------------------------------------------------------- pending */

static void pending_answer(struct pending *p)
{
	struct ingest_server *s = p->s;
	cJSON *body, *ids;
	char ra[24];
	size_t i;

	if (p->limited) {
		snprintf(ra, sizeof(ra), "%ld", (p->retry_after_ms + 999) / 1000);
		evhttp_add_header(evhttp_request_get_output_headers(p->req), "Retry-After", ra);
		refuse(s, p->req, p->src, 429, INGEST_R_RATE_LIMITED, p->tenant, p->trace,
		       "tenant rate limit exceeded (%d signals/s, burst %d; this request has %zu); "
		       "retry after %s s",
		       s->cfg->rate_limit, s->cfg->rate_burst, p->n, ra);
	} else if (p->rc != AX_OK) {
		refuse(s, p->req, p->src, 503, INGEST_R_APPEND_FAILED, p->tenant, p->trace,
		       "%zu signal(s) could not be appended (%s); retrying is safe", p->n,
		       p->why[0] ? p->why : "unknown error");
	} else {
		body = cJSON_CreateObject();
		if (body == NULL)
			abort();
		cJSON_AddNumberToObject(body, "accepted", (double)p->accepted);
		cJSON_AddNumberToObject(body, "duplicates", (double)p->duplicates);
		ids = cJSON_AddArrayToObject(body, "ids");
		if (ids == NULL)
			abort();
		for (i = 0; i < p->n; i++) {
			if (p->appended[i])
				cJSON_AddItemToArray(ids, cJSON_CreateString(p->ids[i]));
		}
		ax_json_add_str(body, "trace", p->trace, 0);
		send_json(s, p->req, p->src, 202, body);
		cJSON_Delete(body);
		ax_log(AX_LOG_DEBUG, p->trace, p->tenant,
		       "accepted %zu signal(s) from %s, %zu duplicate(s)", p->accepted,
		       ingest_driver_at((size_t)(p->src - 1))->name, p->duplicates);
	}
	p->req = NULL;
	TAILQ_REMOVE(&s->pending, p, link);
	s->inflight_requests--;
}

static void pending_free(struct pending *p)
{
	free(p->ids);
	free(p->appended);
	free(p);
}

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void on_append(ax_err rc, const struct ingest_batch_result *r, void *arg)
{
	struct pending *p = arg;
	struct ingest_server *s = p->s;

	p->outstanding = 0;
	s->inflight_appends--;
	ingest_metrics_inflight(s->metrics, -1);
	ingest_metrics_append_latency(s->metrics, elapsed_s(&p->t0));
	p->rc = rc;
	if (rc != AX_OK) {
		snprintf(p->why, sizeof(p->why), "%s", r->why != NULL ? r->why : ax_strerror(rc));
		ax_log(AX_LOG_WARN, p->trace, p->tenant, "append of %zu signal(s) failed: %s", p->n,
		       p->why);
	} else if (r->limited) {
		p->limited = 1;
		p->retry_after_ms = r->retry_after_ms;
	} else {
		memcpy(p->appended, r->appended, p->n);
		p->accepted = r->nappended;
		p->duplicates = r->nduplicates;
		ingest_metrics_signals(s->metrics, p->src, r->nappended, r->nduplicates);
	}
	if (p->req != NULL)
		pending_answer(p);
	pending_free(p);
	check_drained(s);
}

/* ------------------------------------------------------------ checks */

/* A form-encoded body as a JSON document.  Some senders post their JSON
 * as one form field (Papertrail and AppOptics: payload=<json>; Uptime
 * Kuma's form mode: data=<json>): that field's JSON is the document.
 * Others post plain fields (Alibaba CloudMonitor): they become an object
 * of strings, which drivers and profiles read like any JSON.  NULL when
 * the body is not a form (or holds a NUL byte). */
static cJSON *form_doc(const char *body, size_t len)
{
	static const char *const wrapped[] = { "payload", "data", "json", NULL };
	struct evkeyvalq q;
	struct evkeyval *kv;
	cJSON *doc = NULL;
	char *text;
	size_t i;

	if (memchr(body, '\0', len) != NULL)
		return NULL;
	text = ax_xmalloc(len + 1);
	memcpy(text, body, len);
	text[len] = '\0';
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(text, &q) != 0 || TAILQ_EMPTY(&q))
		goto out;
	for (i = 0; wrapped[i] != NULL && doc == NULL; i++) {
		const char *v = evhttp_find_header(&q, wrapped[i]);

		if (v != NULL)
			doc = ax_json_parse(v, strlen(v), JSON_MAX_DEPTH);
	}
	if (doc != NULL)
		goto out;
	doc = cJSON_CreateObject();
	if (doc == NULL)
		abort();
	TAILQ_FOREACH(kv, &q, next) {
		if (cJSON_GetObjectItemCaseSensitive(doc, kv->key) == NULL &&
		    cJSON_AddStringToObject(doc, kv->key, kv->value) == NULL)
			abort();
	}
out:
	evhttp_clear_headers(&q);
	free(text);
	return doc;
}

enum media { MEDIA_JSON, MEDIA_FORM, MEDIA_OTHER };

/* application/json, any type/subtype+json, or text/plain (SNS and some
 * scripts send JSON as text/plain: FORMATS.md section 16) are JSON;
 * parameters such as charset are ignored.  application/x-www-form-urlencoded
 * is what curl -d and libcurl's CURLOPT_POSTFIELDS put on any body when the
 * caller sets no type, so a JSON body under that label is taken as JSON;
 * a body that really is a form goes through form_doc(). */
static enum media media_of(const char *ct)
{
	const char *end;
	size_t n;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	end = ct + strcspn(ct, ";");
	while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	n = (size_t)(end - ct);
	if ((n == 16 && strncasecmp(ct, "application/json", n) == 0) ||
	    (n == 10 && strncasecmp(ct, "text/plain", n) == 0))
		return MEDIA_JSON;
	if (n == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", n) == 0)
		return MEDIA_FORM;
	if (n > 5 && memchr(ct, '/', n) != NULL && strncasecmp(end - 5, "+json", 5) == 0)
		return MEDIA_JSON;
	return MEDIA_OTHER;
}

/* X-Trace-Id when it is 32 hex digits (not all zero, W3C), lower-cased. */
static int trace_from_header(const char *h, char out[AX_TRACE_LEN])
{
	int i, nonzero = 0;

	if (h == NULL || strlen(h) != AX_TRACE_LEN - 1)
		return 0;
	for (i = 0; i < AX_TRACE_LEN - 1; i++) {
		char c = h[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
		nonzero |= c != '0';
		out[i] = c;
	}
	out[AX_TRACE_LEN - 1] = '\0';
	return nonzero;
}

/* ingest_input.header over the request's evhttp headers. */
static const char *req_header(const struct ingest_input *in, const char *name)
{
	return evhttp_find_header((struct evkeyvalq *)in->hctx, name);
}

/* ------------------------------------------------------------ routes */

/* A valid request that carries no event: a test ping, or an SNS
 * subscription to confirm.  200, since nothing was queued. */
static void serve_no_signal(struct ingest_server *s, struct evhttp_request *req, int src,
			    const char *tenant, const struct ingest_batch *b)
{
	char err[256];
	cJSON *o;

	if (b->subscribe_url != NULL &&
	    ingest_confirm_subscription(b->subscribe_url, s->cfg->sns_confirm_hosts, tenant,
					s->cfg->redis_timeout_ms * 2, err, sizeof(err)) != AX_OK) {
		refuse(s, req, src, 422, INGEST_R_UNPROCESSABLE, tenant, NULL, "%s", err);
		return;
	}
	o = cJSON_CreateObject();
	if (o == NULL)
		abort();
	cJSON_AddNumberToObject(o, "accepted", 0);
	if (b->subscribe_url != NULL) {
		cJSON_AddStringToObject(o, "subscription", "confirming");
	} else {
		cJSON_AddStringToObject(o, "ignored", b->ignored);
	}
	send_json(s, req, src, 200, o);
	cJSON_Delete(o);
}

/* ------------------------------------------------------------ webhooks */

/* A webhook between its stages.  Authentication may have to wait for
 * Redis twice (the tenant of a webhook token; the tenant's signing secret
 * for the source), so the request's state lives here rather than on the
 * stack: serve_webhook -> [token lookup] -> wh_validate -> [secrets
 * lookup] -> wh_check -> wh_append.  While a lookup is out the request
 * counts in s->inflight_requests (a drain waits for it, as for a pending)
 * and in s->auth_waiting (ALEXUS_MAX_INFLIGHT counts it).  Every stage
 * ends in exactly one of: a reply, the handover to a pending, or a
 * lookup whose callback resumes it. */
struct webhook {
	struct ingest_server *s;
	struct evhttp_request *req;
	const char *source;          /* the route's {source} (in req's URI), or NULL */
	const struct ingest_driver *d; /* the route's driver, then the one that ran */
	int src;                     /* metrics source index */
	struct ingest_cred cred;
	char tenant[AX_TENANT_MAX + 1];
	struct ingest_batch batch;
};

static void wh_free(struct webhook *w)
{
	ingest_batch_release(&w->batch);
	ingest_cred_release(&w->cred);
	free(w);
}

/* ingest_sig_header_fn over the request's evhttp headers. */
static const char *wh_header(const void *ctx, const char *name)
{
	return evhttp_find_header((struct evkeyvalq *)ctx, name);
}

static void wh_unauthorized(struct webhook *w, const char *error, const char *why)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(w->req);
	char h[96];

	if (w->cred.kind == INGEST_CRED_NONE || strcmp(w->cred.where, "Authorization") == 0) {
		snprintf(h, sizeof(h), "Bearer realm=\"alexus\"%s%s%s", error ? ", error=\"" : "",
			 error ? error : "", error ? "\"" : "");
		evhttp_add_header(out, "WWW-Authenticate", h);
	}
	refuse(w->s, w->req, w->src, 401, INGEST_R_UNAUTHORIZED, NULL, NULL, "%s", why);
}

/* Answer 503 (and stop) if the server is past its drain deadline or too
 * many requests already wait for Redis; else 0.  Checked before every
 * lookup: shedding load before queueing more work on the connection. */
static int wh_shed(struct webhook *w)
{
	struct ingest_server *s = w->s;

	if (s->deadline_hit) {
		refuse(s, w->req, w->src, 503, INGEST_R_SHUTTING_DOWN, w->tenant[0] ? w->tenant : NULL,
		       NULL, "ingest is shutting down");
		return 1;
	}
	if (s->inflight_appends + s->auth_waiting >= (long)s->cfg->max_inflight) {
		refuse(s, w->req, w->src, 503, INGEST_R_BUSY, w->tenant[0] ? w->tenant : NULL, NULL,
		       "too many requests waiting for Redis (%ld, ALEXUS_MAX_INFLIGHT=%d)",
		       s->inflight_appends + s->auth_waiting, s->cfg->max_inflight);
		return 1;
	}
	return 0;
}

static void wh_lookup_started(struct ingest_server *s)
{
	s->auth_waiting++;
	s->inflight_requests++;
}

/* After a lookup's callback has moved the request on (or answered it). */
static void wh_lookup_done(struct ingest_server *s)
{
	s->auth_waiting--;
	s->inflight_requests--;
	check_drained(s);
}

/* Capacity, then the append; the request is parked in a pending until
 * Redis answers.  Takes w. */
static void wh_append(struct webhook *w)
{
	struct ingest_server *s = w->s;
	struct evhttp_request *req = w->req;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct ingest_batch *batch = &w->batch;
	const char *tenant = w->tenant;
	int src = w->src;
	struct pending *p;
	size_t i;
	ax_err rc;

	if (!ingest_appender_ready(s->app)) {
		refuse(s, req, src, 503, INGEST_R_REDIS_DOWN, tenant, NULL,
		       "redis is unavailable");
		goto out;
	}
	if (s->inflight_appends >= (long)s->cfg->max_inflight) {
		refuse(s, req, src, 503, INGEST_R_BUSY, tenant, NULL,
		       "too many appends in flight (%ld, ALEXUS_MAX_INFLIGHT=%d)",
		       s->inflight_appends, s->cfg->max_inflight);
		goto out;
	}

	p = ax_xcalloc(1, sizeof(*p));
	p->s = s;
	p->req = req;
	p->src = src;
	p->n = batch->n;
	snprintf(p->tenant, sizeof(p->tenant), "%s", tenant);
	if (!trace_from_header(evhttp_find_header(in, "X-Trace-Id"), p->trace))
		ax_trace_new(p->trace);
	p->ids = ax_xcalloc(batch->n, sizeof(*p->ids));
	p->appended = ax_xcalloc(batch->n, 1);
	for (i = 0; i < batch->n; i++)
		ax_uuid7(p->ids[i]);
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	rc = ingest_appender_add_batch(s->app, tenant, p->trace, batch->sig, batch->n,
				       (const char (*)[AX_UUID_LEN])p->ids, on_append, p);
	if (rc != AX_OK) {
		refuse(s, req, src, 503, INGEST_R_APPEND_FAILED, tenant, p->trace,
		       "signals could not be queued for Redis (%s); retrying is safe",
		       ax_strerror(rc));
		pending_free(p);
		goto out;
	}
	p->outstanding = 1;
	s->inflight_appends++;
	ingest_metrics_inflight(s->metrics, +1);
	TAILQ_INSERT_TAIL(&s->pending, p, link);
	s->inflight_requests++;
out:
	wh_free(w);
}

/* The signature, when the tenant has a secret for the source (sealed is
 * NULL when it has none), then the request's outcome.  Takes w. */
static void wh_check(struct webhook *w, const char *sealed)
{
	struct ingest_server *s = w->s;
	struct evbuffer *body = evhttp_request_get_input_buffer(w->req);
	size_t len = evbuffer_get_length(body);
	const char *name = w->d->name;
	char err[256];
	ax_err rc;

	if (sealed != NULL) {
		rc = ingest_auth_verify(s->auth, w->tenant, name, sealed, evbuffer_pullup(body, -1),
					len, wh_header, evhttp_request_get_input_headers(w->req),
					(long)time(NULL), err, sizeof(err));
		if (rc == AX_EAUTH) {
			refuse(s, w->req, w->src, 401, INGEST_R_BAD_SIGNATURE, w->tenant, NULL,
			       "%s (source \"%s\" requires a %s signature)", err, name,
			       ingest_sig_scheme_name(ingest_sig_scheme_of(name)));
			wh_free(w);
			return;
		}
		if (rc != AX_OK) {
			refuse(s, w->req, w->src, 503, INGEST_R_AUTH_UNAVAILABLE, w->tenant, NULL,
			       "%s", err);
			wh_free(w);
			return;
		}
	}
	if (w->batch.n == 0) {
		serve_no_signal(s, w->req, w->src, w->tenant, &w->batch);
		wh_free(w);
		return;
	}
	wh_append(w);
}

static void wh_on_secrets(ax_err rc, const char *value, void *arg)
{
	struct webhook *w = arg;
	struct ingest_server *s = w->s;

	if (rc != AX_OK) {
		refuse(s, w->req, w->src, 503, INGEST_R_REDIS_DOWN, w->tenant, NULL,
		       "redis is unavailable (signing secrets: %s)", ax_strerror(rc));
		wh_free(w);
	} else if (s->deadline_hit) {
		refuse(s, w->req, w->src, 503, INGEST_R_SHUTTING_DOWN, w->tenant, NULL,
		       "ingest is shutting down");
		wh_free(w);
	} else {
		wh_check(w, value);
	}
	wh_lookup_done(s);
}

/* Content-Type, size, JSON, driver; then the source is known and its
 * signing secret is looked up.  Takes w. */
static void wh_validate(struct webhook *w)
{
	struct ingest_server *s = w->s;
	struct evhttp_request *req = w->req;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	const char *tenant = w->tenant, *ct;
	char err[256], *sealed = NULL;
	enum media media;
	size_t len;
	cJSON *doc;
	ax_err rc;

	ct = evhttp_find_header(in, "Content-Type");
	media = ct != NULL ? media_of(ct) : MEDIA_JSON;
	if (media == MEDIA_OTHER) {
		refuse(s, req, w->src, 415, INGEST_R_MEDIA_TYPE, tenant, NULL,
		       "Content-Type \"%.64s\" is not JSON (application/json, */*+json or "
		       "text/plain)", ct);
		goto done;
	}
	len = evbuffer_get_length(body);
	if (len > s->cfg->max_body) {
		/* libevent refuses these first; kept in case it ever does not. */
		refuse(s, req, w->src, 413, INGEST_R_TOO_LARGE, tenant, NULL,
		       "request body is larger than %zu bytes (ALEXUS_MAX_BODY)",
		       s->cfg->max_body);
		goto done;
	}
	if (len == 0) {
		refuse(s, req, w->src, 400, INGEST_R_BAD_REQUEST, tenant, NULL, "empty body");
		goto done;
	}
	doc = ax_json_parse((const char *)evbuffer_pullup(body, -1), len, JSON_MAX_DEPTH);
	if (doc == NULL && media == MEDIA_FORM) {
		doc = form_doc((const char *)evbuffer_pullup(body, -1), len);
		if (doc == NULL) {
			refuse(s, req, w->src, 400, INGEST_R_BAD_REQUEST, tenant, NULL,
			       "body is neither JSON nor a valid form (application/"
			       "x-www-form-urlencoded)");
			goto done;
		}
	}
	if (doc == NULL) {
		refuse(s, req, w->src, 400, INGEST_R_INVALID_JSON, tenant, NULL,
		       "body is not valid JSON (or is nested deeper than %d levels)",
		       JSON_MAX_DEPTH);
		goto done;
	}
	{
		struct ingest_input input = { doc, req_header, in };

		rc = ingest_normalize(&input, w->source, &w->batch, &w->d, err, sizeof(err));
	}
	cJSON_Delete(doc);
	if (w->d != NULL)
		w->src = ingest_driver_index(w->d) + 1;
	if (rc != AX_OK || w->d == NULL) {
		refuse(s, req, w->src, 422, INGEST_R_UNPROCESSABLE, tenant, NULL, "%s",
		       rc != AX_OK ? err : "no driver took the payload");
		goto done;
	}

	if (wh_shed(w))
		goto done;
	rc = ingest_auth_secrets(s->auth, ingest_appender_conn(s->app), tenant, w->d->name, &sealed,
				 wh_on_secrets, w);
	if (rc == AX_EAGAIN) {
		wh_lookup_started(s);
		return;
	}
	if (rc != AX_OK) {
		refuse(s, req, w->src, 503, INGEST_R_REDIS_DOWN, tenant, NULL,
		       "redis is unavailable");
		goto done;
	}
	wh_check(w, sealed);
	free(sealed);
	return;
done:
	wh_free(w);
}

static void wh_on_tenant(ax_err rc, const char *value, void *arg)
{
	struct webhook *w = arg;
	struct ingest_server *s = w->s;

	if (rc == AX_EAUTH) {
		wh_unauthorized(w, "invalid_token", "unknown or revoked webhook token");
		wh_free(w);
	} else if (rc != AX_OK) {
		refuse(s, w->req, w->src, 503, INGEST_R_REDIS_DOWN, NULL, NULL,
		       "redis is unavailable (webhook token: %s)", ax_strerror(rc));
		wh_free(w);
	} else if (s->deadline_hit) {
		refuse(s, w->req, w->src, 503, INGEST_R_SHUTTING_DOWN, NULL, NULL,
		       "ingest is shutting down");
		wh_free(w);
	} else {
		snprintf(w->tenant, sizeof(w->tenant), "%s", value);
		wh_validate(w);
	}
	wh_lookup_done(s);
}

static void serve_webhook(struct ingest_server *s, struct evhttp_request *req,
			  enum evhttp_cmd_type m, const char *source)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const struct ingest_driver *d = NULL;
	struct webhook *w;
	char err[256];
	ax_err rc;
	int src = 0;

	if (source != NULL) {
		d = ingest_driver_find(source);
		if (d == NULL) {
			refuse(s, req, 0, 404, INGEST_R_UNKNOWN_SOURCE, NULL, NULL,
			       "no driver for source \"%.64s\" (alexus-ingest --list-sources)",
			       source);
			return;
		}
		src = ingest_driver_index(d) + 1;
	}
	if (m != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		refuse(s, req, src, 405, INGEST_R_METHOD, NULL, NULL,
		       "%s is not allowed here; use POST", method_name(m));
		return;
	}
	if (s->draining) {
		refuse(s, req, src, 503, INGEST_R_SHUTTING_DOWN, NULL, NULL,
		       "ingest is shutting down");
		return;
	}

	w = ax_xcalloc(1, sizeof(*w));
	w->s = s;
	w->req = req;
	w->source = source;
	w->d = d;
	w->src = src;
	ingest_batch_init(&w->batch);
	rc = ingest_auth_credentials(evhttp_find_header(in, "Authorization"),
				     evhttp_find_header(in, "X-Alexus-Token"),
				     uri != NULL ? evhttp_uri_get_query(uri) : NULL, &w->cred, err,
				     sizeof(err));
	if (rc != AX_OK) {
		wh_unauthorized(w, "invalid_request", err);
		goto refused;
	}
	switch (w->cred.kind) {
	case INGEST_CRED_NONE:
		wh_unauthorized(w, NULL, "missing bearer token (Authorization: Bearer <JWT or axw_ "
					 "webhook token>, X-Alexus-Token: axw_..., or ?token=axw_...)");
		goto refused;
	case INGEST_CRED_JWT:
		if (ingest_auth_jwt(s->auth, w->cred.value, w->tenant, err, sizeof(err)) != AX_OK) {
			wh_unauthorized(w, "invalid_token", err);
			goto refused;
		}
		wh_validate(w);
		return;
	case INGEST_CRED_TOKEN:
	default:
		break;
	}
	if (wh_shed(w))
		goto refused;
	rc = ingest_auth_token(s->auth, ingest_appender_conn(s->app), w->cred.value, w->tenant,
			       wh_on_tenant, w, err, sizeof(err));
	if (rc == AX_OK) {
		wh_validate(w);
	} else if (rc == AX_EAGAIN) {
		wh_lookup_started(s);
	} else if (rc == AX_EAUTH) {
		wh_unauthorized(w, "invalid_token", err);
		goto refused;
	} else {
		refuse(s, req, src, 503, INGEST_R_REDIS_DOWN, NULL, NULL,
		       "redis is unavailable (webhook token lookup)");
		goto refused;
	}
	return;
refused:
	wh_free(w);
}

static void serve_health(struct ingest_server *s, struct evhttp_request *req,
			 enum evhttp_cmd_type m, const char *path)
{
	static const char ok[] = "{\"status\":\"ok\"}\n";
	static const char ready[] = "{\"status\":\"ready\"}\n";
	char buf[128];
	int n;

	if (m != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		refuse(s, req, 0, 405, INGEST_R_METHOD, NULL, NULL,
		       "%s is not allowed here; use GET", method_name(m));
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		send_body(s, req, 0, 200, "application/json", ok, sizeof(ok) - 1);
	} else if (!s->draining && ingest_appender_ready(s->app)) {
		send_body(s, req, 0, 200, "application/json", ready, sizeof(ready) - 1);
	} else {
		n = snprintf(buf, sizeof(buf), "{\"status\":\"unavailable\",\"reason\":\"%s\"}\n",
			     s->draining ? "shutting_down" : "redis");
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
		send_body(s, req, 0, 503, "application/json", buf, (size_t)n);
	}
}

static void serve_metrics(struct ingest_server *s, struct evhttp_request *req,
			  enum evhttp_cmd_type m)
{
	struct evbuffer *b;

	if (m != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		refuse(s, req, 0, 405, INGEST_R_METHOD, NULL, NULL,
		       "%s is not allowed here; use GET", method_name(m));
		return;
	}
	b = evbuffer_new();
	if (b == NULL)
		abort();
	ingest_metrics_render(s->metrics, b);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	reply(s, req, 0, 200, b);
	evbuffer_free(b);
}

/* ---------------------------------------------------------- dashboard */

/* The dashboard's files (web.h): GET or HEAD; "/" and "/ui" send people
 * to the page. */
static void serve_web(struct ingest_server *s, struct evhttp_request *req,
		      enum evhttp_cmd_type m, const char *path)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const struct ingest_asset *a;
	struct evbuffer *b;

	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		evhttp_add_header(h, "Allow", "GET, HEAD");
		refuse(s, req, 0, 405, INGEST_R_METHOD, NULL, NULL,
		       "%s is not allowed here; use GET", method_name(m));
		return;
	}
	if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0) {
		evhttp_add_header(h, "Location", "/ui/");
		reply(s, req, 0, 302, NULL);
		return;
	}
	a = ingest_web_asset(path);
	if (a == NULL) {
		refuse(s, req, 0, 404, INGEST_R_NOT_FOUND, NULL, NULL, "no route for %.128s", path);
		return;
	}
	b = evbuffer_new();
	if (b == NULL)
		abort();
	if (m == EVHTTP_REQ_GET)
		evbuffer_add_reference(b, a->data, (size_t)(a->end - a->data), NULL, NULL);
	evhttp_add_header(h, "Content-Type", a->content_type);
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Content-Security-Policy", INGEST_WEB_CSP);
	reply(s, req, 0, 200, b);
	evbuffer_free(b);
}

/* ------------------------------------------------------- operator API */

#define APPROVALS_PREFIX "/v1/approvals/"

/* An API call in flight: counted in inflight_requests so a drain waits
 * for its answer. */
struct api_req {
	struct ingest_api_call call;
	struct ingest_server *s;
	struct evhttp_request *req;
	int html;                     /* answer a person (signed link), not a program */
};

static void api_html(struct ingest_server *s, struct evhttp_request *req, int code,
		     const char *title, const char *text, const char *form_action)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		abort();
	/* Only fixed words and our own ids/URL reach the page; the ids were
	 * checked to be UUID-shaped, the decision one of two words. */
	evbuffer_add_printf(b,
			    "<!doctype html><html><head><meta charset=\"utf-8\">"
			    "<meta name=\"robots\" content=\"noindex\"><title>Alexus: %s</title>"
			    "</head><body><h1>%s</h1><p>%s</p>",
			    title, title, text);
	if (form_action != NULL)
		evbuffer_add_printf(b,
				    "<form method=\"post\" action=\"%s\"><button type=\"submit\">"
				    "%s</button></form>",
				    form_action, title);
	evbuffer_add_printf(b, "</body></html>\n");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/html; charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	reply(s, req, 0, code, b);
	evbuffer_free(b);
}

static void api_done(struct ingest_api_call *c)
{
	struct api_req *r = (struct api_req *)c;
	struct ingest_server *s = r->s;

	if (r->html) {
		const cJSON *m;
		cJSON *j = c->body != NULL ? cJSON_Parse(c->body) : NULL;

		m = cJSON_GetObjectItemCaseSensitive(j, "message");
		api_html(s, r->req, c->status, c->status == 200 ? "Decision recorded" : "Not recorded",
			 c->status == 200 ? (strcmp(c->decision, "approved") == 0
						     ? "The action is approved and will run."
						     : "The action is rejected and will not run.")
					  : cJSON_IsString(m) ? "This link can no longer decide the "
								"approval (already decided or "
								"expired)."
							      : "Try again later.",
			 NULL);
		cJSON_Delete(j);
	} else {
		send_body(s, r->req, 0, c->status, "application/json", c->body,
			  c->body != NULL ? strlen(c->body) : 0);
	}
	free(c->body);
	free(c->comment);
	free(c->query);
	free(c->input);
	free(r);
	s->inflight_requests--;
	check_drained(s);
}

static void api_submit(struct ingest_server *s, struct api_req *r)
{
	r->s = s;
	r->call.base = s->base;
	r->call.done = api_done;
	if (s->api == NULL || ingest_api_submit(s->api, &r->call) != AX_OK) {
		refuse(s, r->req, 0, 503, INGEST_R_BUSY, r->call.tenant, r->call.trace,
		       "the operator API is %s; retry", s->api == NULL ? "not running" : "busy");
		free(r->call.comment);
		free(r->call.query);
		free(r->call.input);
		free(r);
		return;
	}
	s->inflight_requests++;
}

/* POST /v1/approvals/{id} {"decision":"approve"|"reject","comment":...}
 * with a bearer JWT of role operator or admin. */
static void serve_approval_api(struct ingest_server *s, struct evhttp_request *req,
			       enum evhttp_cmd_type m, const char *id)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *authz = evhttp_find_header(in, "Authorization");
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	struct ax_jwt_claims cl;
	struct api_req *r;
	const char *d;
	char err[256];
	cJSON *doc;
	size_t len;

	if (m != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		refuse(s, req, 0, 405, INGEST_R_METHOD, NULL, NULL,
		       "%s is not allowed here; use POST", method_name(m));
		return;
	}
	if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer realm=\"alexus\"");
		refuse(s, req, 0, 401, INGEST_R_UNAUTHORIZED, NULL, NULL,
		       "missing bearer token (Authorization: Bearer <JWT>)");
		return;
	}
	if (ingest_auth_claims(s->auth, authz + 7, &cl, err, sizeof(err)) != AX_OK) {
		refuse(s, req, 0, 401, INGEST_R_UNAUTHORIZED, NULL, NULL, "%s", err);
		return;
	}
	if (ax_jwt_role_rank(cl.role) < ax_jwt_role_rank("operator")) {
		refuse(s, req, 0, 403, INGEST_R_FORBIDDEN, cl.tenant, NULL,
		       "deciding an approval needs the operator role (the token's role: %s)",
		       cl.role[0] != '\0' ? cl.role : "none");
		return;
	}
	len = evbuffer_get_length(body);
	doc = len > 0 ? ax_json_parse((const char *)evbuffer_pullup(body, -1), len, 8) : NULL;
	d = ax_json_str(doc, "decision");
	if (doc == NULL || d == NULL || (strcmp(d, "approve") != 0 && strcmp(d, "reject") != 0)) {
		cJSON_Delete(doc);
		refuse(s, req, 0, 400, INGEST_R_INVALID_JSON, cl.tenant, NULL,
		       "the body must be JSON {\"decision\": \"approve\" | \"reject\", "
		       "\"comment\": \"...\"}");
		return;
	}
	r = ax_xcalloc(1, sizeof(*r));
	r->req = req;
	snprintf(r->call.tenant, sizeof(r->call.tenant), "%s", cl.tenant);
	snprintf(r->call.id, sizeof(r->call.id), "%s", id);
	snprintf(r->call.decision, sizeof(r->call.decision), "%s",
		 strcmp(d, "approve") == 0 ? "approved" : "rejected");
	snprintf(r->call.by, sizeof(r->call.by), "%s",
		 cl.sub[0] != '\0' ? cl.sub : "operator");
	snprintf(r->call.via, sizeof(r->call.via), "api");
	if (ax_json_str(doc, "comment") != NULL)
		r->call.comment = ax_xstrndup(ax_json_str(doc, "comment"), 2000);
	ax_trace_new(r->call.trace);
	cJSON_Delete(doc);
	api_submit(s, r);
}

/* GET  /v1/approvals/{id}/{approve|reject}?tenant=&exp=&sig=  a page with
 *      one button (mail scanners and chat previews fetch links: a GET
 *      must never decide);
 * POST the same URL: decides, if the signature and expiry hold. */
static void serve_approval_link(struct ingest_server *s, struct evhttp_request *req,
				enum evhttp_cmd_type m, const char *id, const char *decision)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u != NULL ? evhttp_uri_get_query(u) : NULL;
	const char *tenant, *exps, *sig;
	struct evkeyvalq kv;
	struct api_req *r;
	long long exp;
	char *end, action[512];

	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, POST");
		refuse(s, req, 0, 405, INGEST_R_METHOD, NULL, NULL,
		       "%s is not allowed here; use GET or POST", method_name(m));
		return;
	}
	TAILQ_INIT(&kv);
	if (q == NULL || evhttp_parse_query_str(q, &kv) != 0) {
		evhttp_clear_headers(&kv);
		refuse(s, req, 0, 401, INGEST_R_UNAUTHORIZED, NULL, NULL,
		       "this link is not signed (tenant, exp and sig are required)");
		return;
	}
	tenant = evhttp_find_header(&kv, "tenant");
	exps = evhttp_find_header(&kv, "exp");
	sig = evhttp_find_header(&kv, "sig");
	exp = exps != NULL ? strtoll(exps, &end, 10) : 0;
	if (tenant == NULL || !ax_tenant_valid(tenant) || exps == NULL || *end != '\0' ||
	    !ingest_auth_link_ok(s->auth, tenant, id, decision, exp, sig)) {
		evhttp_clear_headers(&kv);
		refuse(s, req, 0, 401, INGEST_R_UNAUTHORIZED, NULL, NULL,
		       "the link's signature does not match");
		return;
	}
	if ((long long)time(NULL) > exp) {
		evhttp_clear_headers(&kv);
		api_html(s, req, 410, "Link expired", "This approval link has expired.", NULL);
		return;
	}
	if (m == EVHTTP_REQ_GET) {
		snprintf(action, sizeof(action), "%s%s/%s?tenant=%s&amp;exp=%lld&amp;sig=%s",
			 APPROVALS_PREFIX, id, decision, tenant, exp, sig);
		api_html(s, req, 200, strcmp(decision, "approve") == 0 ? "Approve" : "Reject",
			 strcmp(decision, "approve") == 0 ? "Approve this remediation? It will run "
							    "once you confirm."
							  : "Reject this remediation? It will not "
							    "run.",
			 action);
		evhttp_clear_headers(&kv);
		return;
	}
	r = ax_xcalloc(1, sizeof(*r));
	r->req = req;
	r->html = 1;
	snprintf(r->call.tenant, sizeof(r->call.tenant), "%s", tenant);
	snprintf(r->call.id, sizeof(r->call.id), "%s", id);
	snprintf(r->call.decision, sizeof(r->call.decision), "%s",
		 strcmp(decision, "approve") == 0 ? "approved" : "rejected");
	snprintf(r->call.by, sizeof(r->call.by), "signed link");
	snprintf(r->call.via, sizeof(r->call.via), "link");
	ax_trace_new(r->call.trace);
	evhttp_clear_headers(&kv);
	api_submit(s, r);
}

static void serve_approvals(struct ingest_server *s, struct evhttp_request *req,
			    enum evhttp_cmd_type m, const char *rest)
{
	const char *slash = strchr(rest, '/');
	size_t idlen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	char id[AX_UUID_LEN];

	if (idlen == AX_UUID_LEN - 1) {
		memcpy(id, rest, idlen);
		id[idlen] = '\0';
	}
	if (idlen != AX_UUID_LEN - 1 || !ax_uuid_valid(id)) {
		refuse(s, req, 0, 404, INGEST_R_NOT_FOUND, NULL, NULL, "no approval %.64s", rest);
		return;
	}
	if (slash == NULL)
		serve_approval_api(s, req, m, id);
	else if (strcmp(slash + 1, "approve") == 0 || strcmp(slash + 1, "reject") == 0)
		serve_approval_link(s, req, m, id, slash + 1);
	else
		refuse(s, req, 0, 404, INGEST_R_NOT_FOUND, NULL, NULL, "no route for %.128s",
		       rest);
}

/* ------------------------------------------------- operator API: reads */

#define INCIDENTS_PREFIX "/v1/incidents/"

static int api_body(struct ingest_server *s, struct evhttp_request *req, struct api_req *r);

static int method_is(struct ingest_server *s, struct evhttp_request *req, enum evhttp_cmd_type m,
		     enum evhttp_cmd_type want)
{
	if (m == want)
		return 1;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", method_name(want));
	refuse(s, req, 0, 405, INGEST_R_METHOD, NULL, NULL, "%s is not allowed here; use %s",
	       method_name(m), method_name(want));
	return 0;
}

/* The bearer JWT of an API request (Authorization, or query_token when the
 * route accepts one), verified, with at least role need.  0 with *cl
 * filled; else the request was answered 401 or 403. */
static int api_auth(struct ingest_server *s, struct evhttp_request *req, const char *need,
		    const char *what, const char *query_token, struct ax_jwt_claims *cl)
{
	const char *authz = evhttp_find_header(evhttp_request_get_input_headers(req),
					       "Authorization");
	const char *jwt = NULL;
	char err[256];

	if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0)
		jwt = authz + 7;
	else if (authz == NULL)
		jwt = query_token;
	if (jwt == NULL || jwt[0] == '\0') {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer realm=\"alexus\"");
		refuse(s, req, 0, 401, INGEST_R_UNAUTHORIZED, NULL, NULL,
		       "missing bearer token (Authorization: Bearer <JWT>)");
		return -1;
	}
	if (ingest_auth_claims(s->auth, jwt, cl, err, sizeof(err)) != AX_OK) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer realm=\"alexus\", error=\"invalid_token\"");
		refuse(s, req, 0, 401, INGEST_R_UNAUTHORIZED, NULL, NULL, "%s", err);
		return -1;
	}
	if (ax_jwt_role_rank(cl->role) < ax_jwt_role_rank(need)) {
		refuse(s, req, 0, 403, INGEST_R_FORBIDDEN, cl->tenant, NULL,
		       "%s needs the %s role (the token's role: %s)", what, need,
		       cl->role[0] != '\0' ? cl->role : "none");
		return -1;
	}
	return 0;
}

/* A new API call for req on behalf of cl. */
static struct api_req *api_call(struct evhttp_request *req, enum ingest_api_kind kind,
				const struct ax_jwt_claims *cl)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u != NULL ? evhttp_uri_get_query(u) : NULL;
	struct api_req *r = ax_xcalloc(1, sizeof(*r));

	r->req = req;
	r->call.kind = kind;
	snprintf(r->call.tenant, sizeof(r->call.tenant), "%s", cl->tenant);
	snprintf(r->call.by, sizeof(r->call.by), "%s", cl->sub[0] != '\0' ? cl->sub : cl->role);
	snprintf(r->call.via, sizeof(r->call.via), "api");
	if (q != NULL)
		r->call.query = ax_xstrdup(q);
	ax_trace_new(r->call.trace);
	return r;
}

/* GET /v1/incidents?status=&severity=&service=&since=&until=&cursor=&limit= */
static void serve_incident_list(struct ingest_server *s, struct evhttp_request *req,
				enum evhttp_cmd_type m)
{
	struct ax_jwt_claims cl;

	if (!method_is(s, req, m, EVHTTP_REQ_GET) ||
	    api_auth(s, req, "viewer", "reading incidents", NULL, &cl) != 0)
		return;
	api_submit(s, api_call(req, INGEST_API_INCIDENTS, &cl));
}

/* GET  /v1/incidents/{id}
 * POST /v1/incidents/{id}/ack | /resolve | /notes */
static void serve_incident(struct ingest_server *s, struct evhttp_request *req,
			   enum evhttp_cmd_type m, const char *rest)
{
	const char *slash = strchr(rest, '/');
	size_t idlen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	const char *op = slash != NULL ? slash + 1 : NULL;
	struct ax_jwt_claims cl;
	struct api_req *r;
	char id[AX_UUID_LEN];

	if (idlen == AX_UUID_LEN - 1) {
		memcpy(id, rest, idlen);
		id[idlen] = '\0';
	}
	if (idlen != AX_UUID_LEN - 1 || !ax_uuid_valid(id) ||
	    (op != NULL && strcmp(op, "ack") != 0 && strcmp(op, "resolve") != 0 &&
	     strcmp(op, "notes") != 0)) {
		refuse(s, req, 0, 404, INGEST_R_NOT_FOUND, NULL, NULL, "no route for %.128s",
		       rest);
		return;
	}
	if (op == NULL) {
		if (!method_is(s, req, m, EVHTTP_REQ_GET) ||
		    api_auth(s, req, "viewer", "reading incidents", NULL, &cl) != 0)
			return;
		r = api_call(req, INGEST_API_INCIDENT, &cl);
		snprintf(r->call.id, sizeof(r->call.id), "%s", id);
		api_submit(s, r);
		return;
	}
	if (!method_is(s, req, m, EVHTTP_REQ_POST) ||
	    api_auth(s, req, "operator",
		     strcmp(op, "ack") == 0       ? "acknowledging an incident"
		     : strcmp(op, "resolve") == 0 ? "resolving an incident"
						  : "adding a note",
		     NULL, &cl) != 0)
		return;
	r = api_call(req, INGEST_API_INCIDENT_OP, &cl);
	snprintf(r->call.id, sizeof(r->call.id), "%s", id);
	snprintf(r->call.op, sizeof(r->call.op), "%s", op);
	if (api_body(s, req, r) != 0)
		return;
	api_submit(s, r);
}

/* GET /v1/approvals?status=pending|decided|expired|all&limit= */
static void serve_approval_list(struct ingest_server *s, struct evhttp_request *req,
				enum evhttp_cmd_type m)
{
	struct ax_jwt_claims cl;

	if (!method_is(s, req, m, EVHTTP_REQ_GET) ||
	    api_auth(s, req, "viewer", "reading approvals", NULL, &cl) != 0)
		return;
	api_submit(s, api_call(req, INGEST_API_APPROVALS, &cl));
}

static void on_feed_idle(void *arg)
{
	check_drained(arg);
}

/* GET /v1/events: the live feed (api_feed.c).  EventSource cannot set
 * headers, so this route alone also takes the JWT as ?access_token=
 * (refuse() logs the path only, never the query). */
static void serve_events(struct ingest_server *s, struct evhttp_request *req,
			 enum evhttp_cmd_type m)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u != NULL ? evhttp_uri_get_query(u) : NULL;
	const char *lei = evhttp_find_header(evhttp_request_get_input_headers(req),
					     "Last-Event-ID");
	struct ax_jwt_claims cl;
	struct evkeyvalq kv;
	long long last = -1;
	char *end;

	TAILQ_INIT(&kv);
	if (!method_is(s, req, m, EVHTTP_REQ_GET))
		return;
	if (q != NULL && evhttp_parse_query_str(q, &kv) != 0) {
		evhttp_clear_headers(&kv);
		refuse(s, req, 0, 400, INGEST_R_BAD_REQUEST, NULL, NULL,
		       "the query string is malformed");
		return;
	}
	if (api_auth(s, req, "viewer", "the live feed", evhttp_find_header(&kv, "access_token"),
		     &cl) != 0)
		goto out;
	if (lei == NULL || lei[0] == '\0')
		lei = evhttp_find_header(&kv, "last_event_id");
	if (lei != NULL && lei[0] != '\0') {
		last = strtoll(lei, &end, 10);
		if (*end != '\0' || last < 0) {
			refuse(s, req, 0, 400, INGEST_R_BAD_REQUEST, cl.tenant, NULL,
			       "Last-Event-ID must be an event id this feed sent");
			goto out;
		}
	}
	if (s->draining) {
		refuse(s, req, 0, 503, INGEST_R_SHUTTING_DOWN, cl.tenant, NULL,
		       "ingest is shutting down; reconnect");
		goto out;
	}
	if (s->api == NULL) {
		refuse(s, req, 0, 503, INGEST_R_BUSY, cl.tenant, NULL,
		       "the operator API is not running");
		goto out;
	}
	if (s->feed == NULL)
		s->feed = ingest_feed_new(s->base, s->cfg, s->api, on_feed_idle, s);
	if (s->feed == NULL || ingest_feed_open(s->feed, req, cl.tenant, last) != 0) {
		refuse(s, req, 0, 503, INGEST_R_BUSY, cl.tenant, NULL,
		       "too many live feed clients on this worker; retry");
		goto out;
	}
	ingest_metrics_request(s->metrics, 0, 200);
out:
	evhttp_clear_headers(&kv);
}

/* ------------------------------------------------ operator API: admin */

/* The request body, NUL-terminated, into r (JSON text has no NUL: one
 * inside is refused 400).  0 when copied. */
static int api_body(struct ingest_server *s, struct evhttp_request *req, struct api_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);

	r->call.input = ax_xmalloc(len + 1);
	if (len > 0)
		memcpy(r->call.input, evbuffer_pullup(in, -1), len);
	r->call.input[len] = '\0';
	if (strlen(r->call.input) == len)
		return 0;
	refuse(s, req, 0, 400, INGEST_R_INVALID_JSON, r->call.tenant, NULL,
	       "the body is not JSON text");
	free(r->call.input);
	free(r->call.query);
	free(r);
	return -1;
}

static void not_allowed(struct ingest_server *s, struct evhttp_request *req,
			enum evhttp_cmd_type m, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	refuse(s, req, 0, 405, INGEST_R_METHOD, NULL, NULL, "%s is not allowed here; use %s",
	       method_name(m), allow);
}

/* GET | PUT /v1/settings */
static void serve_settings(struct ingest_server *s, struct evhttp_request *req,
			   enum evhttp_cmd_type m)
{
	struct ax_jwt_claims cl;
	struct api_req *r;

	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_PUT) {
		not_allowed(s, req, m, "GET, PUT");
		return;
	}
	if (api_auth(s, req, "admin", "tenant settings", NULL, &cl) != 0)
		return;
	r = api_call(req, m == EVHTTP_REQ_GET ? INGEST_API_SETTINGS_GET : INGEST_API_SETTINGS_PUT,
		     &cl);
	if (m == EVHTTP_REQ_PUT && api_body(s, req, r) != 0)
		return;
	api_submit(s, r);
}

/* GET | POST /v1/channels, DELETE /v1/channels/{id} */
static void serve_channels(struct ingest_server *s, struct evhttp_request *req,
			   enum evhttp_cmd_type m, const char *id)
{
	struct ax_jwt_claims cl;
	struct api_req *r;

	if (id == NULL && m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST) {
		not_allowed(s, req, m, "GET, POST");
		return;
	}
	if (id != NULL && (strlen(id) != AX_UUID_LEN - 1 || !ax_uuid_valid(id))) {
		refuse(s, req, 0, 404, INGEST_R_NOT_FOUND, NULL, NULL, "no channel %.64s", id);
		return;
	}
	if (id != NULL && m != EVHTTP_REQ_DELETE) {
		not_allowed(s, req, m, "DELETE");
		return;
	}
	if (api_auth(s, req, "admin", "notification channels", NULL, &cl) != 0)
		return;
	r = api_call(req, id != NULL ? INGEST_API_CHANNEL_DELETE
			  : m == EVHTTP_REQ_GET ? INGEST_API_CHANNELS : INGEST_API_CHANNEL_CREATE,
		     &cl);
	if (id != NULL)
		snprintf(r->call.id, sizeof(r->call.id), "%s", id);
	if (m == EVHTTP_REQ_POST && api_body(s, req, r) != 0)
		return;
	api_submit(s, r);
}

/* GET /v1/credentials, PUT /v1/credentials/{name} {"value": "..."} */
static void serve_credentials(struct ingest_server *s, struct evhttp_request *req,
			      enum evhttp_cmd_type m, const char *name)
{
	struct ax_jwt_claims cl;
	struct api_req *r;

	if (name == NULL ? m != EVHTTP_REQ_GET : m != EVHTTP_REQ_PUT) {
		not_allowed(s, req, m, name == NULL ? "GET" : "PUT");
		return;
	}
	if (name != NULL && strlen(name) >= sizeof(r->call.name)) {
		refuse(s, req, 0, 400, INGEST_R_BAD_REQUEST, NULL, NULL,
		       "a credential name has at most 63 characters");
		return;
	}
	if (api_auth(s, req, "admin", "credentials", NULL, &cl) != 0)
		return;
	r = api_call(req, name != NULL ? INGEST_API_CREDENTIAL_PUT : INGEST_API_CREDENTIALS, &cl);
	if (name != NULL) {
		snprintf(r->call.name, sizeof(r->call.name), "%s", name);
		if (api_body(s, req, r) != 0)
			return;
	}
	api_submit(s, r);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct ingest_server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (path == NULL || path[0] == '\0')
		path = "/";
	if (strcmp(path, WEBHOOK_PREFIX) == 0)
		serve_webhook(s, req, m, NULL);
	else if (strncmp(path, WEBHOOK_PREFIX "/", sizeof(WEBHOOK_PREFIX)) == 0)
		serve_webhook(s, req, m, path + sizeof(WEBHOOK_PREFIX));
	else if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0)
		serve_health(s, req, m, path);
	else if (strcmp(path, "/metrics") == 0)
		serve_metrics(s, req, m);
	else if (strcmp(path, "/v1/approvals") == 0)
		serve_approval_list(s, req, m);
	else if (strncmp(path, APPROVALS_PREFIX, sizeof(APPROVALS_PREFIX) - 1) == 0)
		serve_approvals(s, req, m, path + sizeof(APPROVALS_PREFIX) - 1);
	else if (strcmp(path, "/v1/incidents") == 0)
		serve_incident_list(s, req, m);
	else if (strncmp(path, INCIDENTS_PREFIX, sizeof(INCIDENTS_PREFIX) - 1) == 0)
		serve_incident(s, req, m, path + sizeof(INCIDENTS_PREFIX) - 1);
	else if (strcmp(path, "/v1/events") == 0)
		serve_events(s, req, m);
	else if (strcmp(path, "/v1/settings") == 0)
		serve_settings(s, req, m);
	else if (strcmp(path, "/v1/channels") == 0)
		serve_channels(s, req, m, NULL);
	else if (strncmp(path, "/v1/channels/", 13) == 0)
		serve_channels(s, req, m, path + 13);
	else if (strcmp(path, "/v1/credentials") == 0)
		serve_credentials(s, req, m, NULL);
	else if (strncmp(path, "/v1/credentials/", 16) == 0)
		serve_credentials(s, req, m, path + 16);
	else if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0 ||
		 strncmp(path, "/ui/", 4) == 0)
		serve_web(s, req, m, path);
	else
		refuse(s, req, 0, 404, INGEST_R_NOT_FOUND, NULL, NULL, "no route for %.128s", path);
}

/* ---------------------------------------------------------- lifecycle */

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct ingest_server *s = arg;

	(void)fd;
	(void)what;
	if (s->done_called)
		return;
	s->done_called = 1;
	event_del(s->drain_ev);
	if (s->done != NULL)
		s->done(!s->cut_short, s->done_arg);
}

/* When draining and nothing is pending, run done() from the loop (never
 * from inside a caller's stack: it may free the server). */
static void check_drained(struct ingest_server *s)
{
	if (s->draining && s->inflight_requests == 0 && s->unflushed == 0 &&
	    ingest_feed_busy(s->feed) == 0 && !s->done_called)
		event_active(s->done_ev, 0, 0);
}

/* Answer every pending request 503 now; their appends still complete
 * (and free them) later. */
static void cut_short(struct ingest_server *s)
{
	struct pending *p;

	while ((p = TAILQ_FIRST(&s->pending)) != NULL) {
		s->cut_short = 1;
		refuse(s, p->req, p->src, 503, INGEST_R_SHUTTING_DOWN, p->tenant, p->trace,
		       "ingest is shutting down before Redis confirmed the %zu signal(s); "
		       "retrying is safe", p->n);
		p->req = NULL;
		TAILQ_REMOVE(&s->pending, p, link);
		s->inflight_requests--;
	}
}

/* First expiry: answer what still waits for Redis (503) and give those
 * replies FLUSH_GRACE_MS to leave.  Second: stop waiting (a reply whose
 * connection died mid-write never completes). */
static void on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ingest_server *s = arg;
	struct timeval tv = { 0, FLUSH_GRACE_MS * 1000 };

	(void)fd;
	(void)what;
	if (!s->deadline_hit) {
		s->deadline_hit = 1;
		if (s->inflight_requests > 0)
			ax_warn("drain deadline reached with %ld request(s) waiting for redis",
				s->inflight_requests);
		cut_short(s);
		event_add(s->drain_ev, &tv);
		check_drained(s);
		return;
	}
	if (!s->done_called)
		event_active(s->done_ev, 0, 0);
}

void ingest_server_drain(struct ingest_server *s, int deadline_ms, ingest_server_done_fn *done,
			 void *arg)
{
	struct timeval tv;

	if (s->draining) {
		cut_short(s);
		check_drained(s);
		return;
	}
	s->draining = 1;
	s->done = done;
	s->done_arg = arg;
	ingest_feed_close_all(s->feed);   /* EventSource clients reconnect elsewhere */
	if (s->sock != NULL) {
		evhttp_del_accept_socket(s->http, s->sock);
		s->sock = NULL;
	}
	tv.tv_sec = deadline_ms / 1000;
	tv.tv_usec = (deadline_ms % 1000) * 1000;
	event_add(s->drain_ev, &tv);
	check_drained(s);
}

static int bound_port(struct evhttp_bound_socket *sock)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(sock);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

/* Listen on addr:port, with SO_REUSEPORT when asked (several workers
 * each bind the same port and the kernel spreads connections). */
static struct evhttp_bound_socket *listen_on(struct ingest_server *s, const char *addr, int port,
					     int reuseport)
{
	struct sockaddr_storage ss;
	struct evconnlistener *l;
	char spec[300];
	int len = (int)sizeof(ss);
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;

	if (!reuseport)
		return evhttp_bind_socket_with_handle(s->http, addr, (ev_uint16_t)port);
	snprintf(spec, sizeof(spec), strchr(addr, ':') != NULL ? "[%s]:%d" : "%s:%d", addr, port);
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &len) != 0) {
		errno = EINVAL;
		return NULL;
	}
	flags |= LEV_OPT_REUSEABLE_PORT;
	l = evconnlistener_new_bind(s->base, NULL, NULL, flags, 128, (struct sockaddr *)&ss, len);
	if (l == NULL)
		return NULL;
	return evhttp_bind_listener(s->http, l);
}

struct ingest_server *ingest_server_new(struct event_base *base, const struct ax_config *cfg,
					const struct ingest_server_opts *opts, char *errbuf,
					size_t errlen)
{
	struct ingest_appender_opts ao = { 0 };
	struct ingest_server *s;
	char host[256];
	int port;

	if (ax_redis_url_parse(cfg->redis_url, host, sizeof(host), &port) != AX_OK) {
		ax_errfmt(errbuf, errlen, "ALEXUS_REDIS_URL \"%s\" is not redis://host:port",
			  cfg->redis_url);
		return NULL;
	}
	s = ax_xcalloc(1, sizeof(*s));
	s->base = base;
	s->cfg = cfg;
	TAILQ_INIT(&s->pending);
	TAILQ_INIT(&s->flushing);
	s->auth = ingest_auth_new(cfg, INGEST_JWT_LEEWAY_S, errbuf, errlen);   /* auth */
	if (s->auth == NULL) {
		free(s);
		return NULL;
	}

	ao.host = host;
	ao.port = port;
	ao.timeout_ms = cfg->redis_timeout_ms;
	ao.dedup_ttl_s = cfg->dedup_ttl;
	ao.rate_limit = cfg->rate_limit;
	ao.rate_burst = cfg->rate_burst;
	s->app = ingest_appender_new(base, &ao);
	s->api = opts != NULL ? opts->api : NULL;
	if (opts != NULL && opts->metrics != NULL) {
		s->metrics = opts->metrics;
	} else {
		s->metrics = ingest_metrics_new();
		s->own_metrics = 1;
	}
	s->http = evhttp_new(base);
	s->drain_ev = evtimer_new(base, on_drain_deadline, s);
	s->done_ev = event_new(base, -1, 0, on_done, s);
	if (s->app == NULL || s->http == NULL || s->drain_ev == NULL || s->done_ev == NULL) {
		ax_errfmt(errbuf, errlen, "cannot set up the server (redis options or memory)");
		goto fail;
	}
	evhttp_set_max_body_size(s->http, (ev_ssize_t)cfg->max_body);
	evhttp_set_max_headers_size(s->http, INGEST_MAX_HEADERS);
	evhttp_set_timeout(s->http, cfg->http_timeout_s);
	evhttp_set_flags(s->http, EVHTTP_SERVER_LINGERING_CLOSE);
	/* Every method reaches on_request, which answers 405 in JSON. */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(s->http, on_request, s);
	s->sock = listen_on(s, cfg->ingest_addr,
			    opts != NULL && opts->port > 0 ? opts->port : cfg->ingest_port,
			    opts != NULL && opts->reuseport);
	if (s->sock == NULL) {
		ax_errfmt(errbuf, errlen, "cannot listen on %s:%d: %s", cfg->ingest_addr,
			  cfg->ingest_port, strerror(errno));
		goto fail;
	}
	s->port = bound_port(s->sock);
	s->next_in_thread = thread_servers;
	thread_servers = s;
	return s;
fail:
	ingest_appender_free(s->app);
	ingest_auth_free(s->auth);     /* after the appender: its lookups are done */
	if (s->own_metrics)
		ingest_metrics_free(s->metrics);
	if (s->http != NULL)
		evhttp_free(s->http);
	if (s->drain_ev != NULL)
		event_free(s->drain_ev);
	if (s->done_ev != NULL)
		event_free(s->done_ev);
	free(s);
	return NULL;
}

int ingest_server_port(const struct ingest_server *s)
{
	return s->port;
}

const struct ingest_metrics *ingest_server_metrics(const struct ingest_server *s)
{
	return s->metrics;
}

void ingest_server_free(struct ingest_server *s)
{
	struct ingest_server **pp;
	struct flushing *f;

	if (s == NULL)
		return;
	/* Fails every append still in flight: each pending gets its last
	 * callback, answers 503 if nobody did yet, and frees itself. */
	ingest_appender_free(s->app);
	s->app = NULL;
	cut_short(s);              /* nothing should be left; be sure */
	ingest_feed_free(s->feed); /* before evhttp_free: it ends its replies */
	s->feed = NULL;
	for (pp = &thread_servers; *pp != NULL; pp = &(*pp)->next_in_thread) {
		if (*pp == s) {
			*pp = s->next_in_thread;
			break;
		}
	}
	evhttp_free(s->http);      /* closes connections: on_conn_closed */
	while ((f = TAILQ_FIRST(&s->flushing)) != NULL) {
		TAILQ_REMOVE(&s->flushing, f, link);
		free(f);
	}
	event_free(s->drain_ev);
	event_free(s->done_ev);
	if (s->own_metrics)
		ingest_metrics_free(s->metrics);
	ingest_auth_free(s->auth);     /* after the appender: its lookups are done */
	free(s);
}
