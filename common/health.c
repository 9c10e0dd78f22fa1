/* health.c - the probe listener of alexus-reason and alexus-act; see
 * alexus/health.h.
 *
 * Design: a thread that runs its own event_base with one evhttp on it, so
 * the blocking worker loop (common/worker.c) never has to serve a socket,
 * and a probe is answered even while the loop waits on a server.  The only
 * state the two share is one atomic timestamp (the last beat, monotonic
 * ms); readiness is computed from it on every request, never cached.
 * libevent is made thread-aware (evthread_use_pthreads) before the base
 * exists so that ax_health_stop can end the loop from the caller's
 * thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "alexus/health.h"
#include "alexus/mem.h"

struct ax_health {
	pthread_t th;
	struct event_base *base;
	struct evhttp *http;
	struct event *stop_ev;         /* activated by ax_health_stop */
	int port;                      /* bound port */
	int max_age_ms;                /* a beat older than this: not ready */
	volatile sig_atomic_t *stop;   /* set: not ready (draining); may be NULL */
};

/* Monotonic ms of the last beat; 0 = none since start (or reset). */
static long long last_beat;

static long long mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	/* +1 so that a beat at the clock's very origin is still not "none" */
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000 + 1;
}

void ax_health_beat(void)
{
	__atomic_store_n(&last_beat, mono_ms(), __ATOMIC_RELAXED);
}

void ax_health_reset(void)
{
	__atomic_store_n(&last_beat, 0, __ATOMIC_RELAXED);
}

/* Not evutil_parse_sockaddr_port: it takes numeric addresses only, and a
 * name (localhost, a pod's hostname) is fine here -- evhttp resolves it
 * when it binds. */
ax_err ax_health_addr_parse(const char *addr, char *host, size_t hostlen, int *port)
{
	const char *colon, *h, *he, *p;
	long n = 0;
	size_t hl;

	if (addr == NULL || host == NULL || hostlen == 0 || port == NULL)
		return AX_EINVAL;
	colon = strrchr(addr, ':');
	if (colon == NULL || colon[1] == '\0')
		return AX_EINVAL;
	h = addr;
	he = colon;
	if (*h == '[') {
		if (he - h < 3 || he[-1] != ']')
			return AX_EINVAL;
		h++;
		he--;
	} else if (memchr(h, ':', (size_t)(he - h)) != NULL) {
		return AX_EINVAL; /* a bare IPv6 literal: ambiguous, want [..]:port */
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl >= hostlen)
		return AX_EINVAL;
	for (p = h; p < he; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_' || c == ':'))
			return AX_EINVAL;
	}
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return AX_EINVAL;
		n = n * 10 + (*p - '0');
		if (n > 65535)
			return AX_EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)n;
	return AX_OK;
}

static void reply(struct evhttp_request *req, int code, const char *reason, const char *json)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		abort(); /* out of memory, as ax_xmalloc would */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evbuffer_add(b, json, strlen(json));
	evbuffer_add(b, "\n", 1);
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static void serve_ready(struct ax_health *h, struct evhttp_request *req)
{
	long long beat = __atomic_load_n(&last_beat, __ATOMIC_RELAXED);
	long long age = mono_ms() - beat;
	char body[256];

	if (h->stop != NULL && *h->stop) {
		reply(req, 503, "Service Unavailable",
		      "{\"ready\":false,\"reason\":\"stopping: finishing the entries in hand\"}");
		return;
	}
	if (beat == 0) {
		reply(req, 503, "Service Unavailable",
		      "{\"ready\":false,\"reason\":\"no heartbeat yet: the worker loop has not "
		      "reached redis and postgres\"}");
		return;
	}
	if (age > h->max_age_ms) {
		snprintf(body, sizeof(body),
			 "{\"ready\":false,\"reason\":\"the worker loop last reached redis and "
			 "postgres %lld ms ago (limit %d ms)\",\"beat_age_ms\":%lld}",
			 age, h->max_age_ms, age);
		reply(req, 503, "Service Unavailable", body);
		return;
	}
	snprintf(body, sizeof(body), "{\"ready\":true,\"beat_age_ms\":%lld}", age);
	reply(req, 200, "OK", body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct ax_health *h = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (path == NULL)
		path = "";
	if (strcmp(path, "/healthz") != 0 && strcmp(path, "/readyz") != 0) {
		reply(req, 404, "Not Found", "{\"error\":\"not_found\"}");
		return;
	}
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply(req, 405, "Method Not Allowed", "{\"error\":\"method_not_allowed\"}");
		return;
	}
	if (strcmp(path, "/healthz") == 0)
		reply(req, 200, "OK", "{\"status\":\"ok\"}");
	else
		serve_ready(h, req);
}

/* Runs on the health thread: an event activated before dispatch starts
 * still runs once it does, where a bare loopbreak would be forgotten. */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct ax_health *h = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(h->base);
}

static void *run(void *arg)
{
	struct ax_health *h = arg;

	event_base_dispatch(h->base);
	return NULL;
}

static void destroy(struct ax_health *h)
{
	if (h->stop_ev != NULL)
		event_free(h->stop_ev);
	if (h->http != NULL)
		evhttp_free(h->http);
	if (h->base != NULL)
		event_base_free(h->base);
	free(h);
}

struct ax_health *ax_health_start(const char *addr, int max_age_ms,
				  volatile sig_atomic_t *stop, char *errbuf, size_t errlen)
{
	struct ax_health *h;
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256];
	int port;

	if (ax_health_addr_parse(addr, host, sizeof(host), &port) != AX_OK) {
		ax_errfmt(errbuf, errlen, "'%.80s' is not host:port", addr != NULL ? addr : "");
		return NULL;
	}
	if (max_age_ms <= 0) {
		ax_errfmt(errbuf, errlen, "max age %d ms must be positive", max_age_ms);
		return NULL;
	}
	/* Idempotent; must precede the base so ax_health_stop's
	 * event_active can cross threads. */
	if (evthread_use_pthreads() != 0) {
		ax_errfmt(errbuf, errlen, "evthread_use_pthreads failed");
		return NULL;
	}
	h = ax_xcalloc(1, sizeof(*h));
	h->max_age_ms = max_age_ms;
	h->stop = stop;
	h->base = event_base_new();
	h->http = h->base != NULL ? evhttp_new(h->base) : NULL;
	h->stop_ev = h->base != NULL ? event_new(h->base, -1, 0, on_stop, h) : NULL;
	if (h->http == NULL || h->stop_ev == NULL) {
		ax_errfmt(errbuf, errlen, "cannot create the event base");
		destroy(h);
		return NULL;
	}
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
					    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_max_body_size(h->http, 1024);
	evhttp_set_max_headers_size(h->http, 16384);
	evhttp_set_timeout(h->http, 10);
	evhttp_set_gencb(h->http, on_request, h);
	bs = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
	if (bs == NULL) {
		ax_errfmt(errbuf, errlen, "cannot listen on %s:%d", host, port);
		destroy(h);
		return NULL;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			h->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (pthread_create(&h->th, NULL, run, h) != 0) {
		ax_errfmt(errbuf, errlen, "cannot start the health thread");
		destroy(h);
		return NULL;
	}
	return h;
}

int ax_health_port(const struct ax_health *h)
{
	return h != NULL ? h->port : 0;
}

void ax_health_stop(struct ax_health *h)
{
	if (h == NULL)
		return;
	event_active(h->stop_ev, EV_READ, 0);
	pthread_join(h->th, NULL);
	destroy(h);
}
