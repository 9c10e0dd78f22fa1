/* receiver.c - scripted HTTP receiver on its own thread (see receiver.h).
 *
 * libevent's evhttp does the HTTP; a mutex and a condition variable hand
 * requests to the test thread, so waiting for a delivery is a wait on a
 * condition with a deadline rather than a sleep. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ctype.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "receiver.h"

#define RCV_MAX 256
#define RCV_SCRIPT_MAX 64

struct receiver {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct event *quit;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int port;
	int default_status;
	int script[RCV_SCRIPT_MAX];
	int nscript;
	struct rcv_request reqs[RCV_MAX];
	int n;
};

static void on_request(struct evhttp_request *req, void *arg)
{
	struct receiver *r = arg;
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyval *kv;
	struct rcv_request *q;
	size_t hlen = 1, len;
	char *p;
	int status;

	pthread_mutex_lock(&r->mu);
	if (r->nscript > 0) {
		status = r->script[0];
		memmove(r->script, r->script + 1, sizeof(int) * (size_t)--r->nscript);
	} else {
		status = r->default_status;
	}
	if (r->n < RCV_MAX) {
		q = &r->reqs[r->n];
		switch (evhttp_request_get_command(req)) {
		case EVHTTP_REQ_POST: strcpy(q->method, "POST"); break;
		case EVHTTP_REQ_PUT: strcpy(q->method, "PUT"); break;
		case EVHTTP_REQ_GET: strcpy(q->method, "GET"); break;
		default: strcpy(q->method, "OTHER"); break;
		}
		snprintf(q->path, sizeof(q->path), "%s", evhttp_request_get_uri(req));
		TAILQ_FOREACH(kv, hdrs, next)
			hlen += strlen(kv->key) + strlen(kv->value) + 3;
		q->headers = malloc(hlen);
		p = q->headers;
		TAILQ_FOREACH(kv, hdrs, next) {
			char *k = p;
			p += sprintf(p, "%s: %s\n", kv->key, kv->value);
			for (; *k != ':'; k++)
				*k = (char)tolower((unsigned char)*k);
		}
		*p = '\0';
		len = evbuffer_get_length(in);
		q->body = malloc(len + 1);
		evbuffer_copyout(in, q->body, len);
		q->body[len] = '\0';
		q->body_len = len;
		q->answered = status;
		r->n++;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	{
		struct evbuffer *out = evbuffer_new();
		evbuffer_add_printf(out, "{\"ok\":%s}", status < 300 ? "true" : "false");
		evhttp_send_reply(req, status, status < 300 ? "OK" : "Error", out);
		evbuffer_free(out);
	}
}

static void on_quit(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	event_base_loopbreak(arg);
}

static void *run(void *arg)
{
	struct receiver *r = arg;
	event_base_dispatch(r->base);
	return NULL;
}

struct receiver *rcv_start(int default_status)
{
	struct receiver *r = calloc(1, sizeof(*r));
	evutil_socket_t fd;
	struct sockaddr_storage ss;
	ev_socklen_t sl = sizeof(ss);

	evthread_use_pthreads();
	r->default_status = default_status;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->base = event_base_new();
	r->http = evhttp_new(r->base);
	evhttp_set_gencb(r->http, on_request, r);
	r->sock = evhttp_bind_socket_with_handle(r->http, "127.0.0.1", 0);
	if (r->sock == NULL) {
		fprintf(stderr, "receiver: cannot bind\n");
		exit(1);
	}
	fd = evhttp_bound_socket_get_fd(r->sock);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	r->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	r->quit = event_new(r->base, -1, 0, on_quit, r->base);
	pthread_create(&r->thread, NULL, run, r);
	return r;
}

void rcv_stop(struct receiver *r)
{
	int i;

	if (r == NULL)
		return;
	event_active(r->quit, 0, 1);
	pthread_join(r->thread, NULL);
	event_free(r->quit);
	evhttp_free(r->http);
	event_base_free(r->base);
	for (i = 0; i < r->n; i++) {
		free(r->reqs[i].headers);
		free(r->reqs[i].body);
	}
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}

int rcv_port(const struct receiver *r)
{
	return r->port;
}

void rcv_script(struct receiver *r, int status, int n)
{
	pthread_mutex_lock(&r->mu);
	while (n-- > 0 && r->nscript < RCV_SCRIPT_MAX)
		r->script[r->nscript++] = status;
	pthread_mutex_unlock(&r->mu);
}

int rcv_wait(struct receiver *r, int n, int timeout_ms)
{
	struct timespec dl;
	int got;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->mu);
	while (r->n < n) {
		if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT)
			break;
	}
	got = r->n;
	pthread_mutex_unlock(&r->mu);
	return got;
}

int rcv_count(struct receiver *r)
{
	int n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

const struct rcv_request *rcv_get(struct receiver *r, int i)
{
	const struct rcv_request *q = NULL;

	pthread_mutex_lock(&r->mu);
	if (i >= 0 && i < r->n)
		q = &r->reqs[i];
	pthread_mutex_unlock(&r->mu);
	return q;
}

const char *rcv_header(const struct rcv_request *req, const char *name, char *buf, size_t n)
{
	size_t nl = strlen(name);
	const char *p = req->headers;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		if (strncmp(p, name, nl) == 0 && p[nl] == ':' && p[nl + 1] == ' ') {
			const char *v = p + nl + 2;
			size_t vl = (size_t)(eol - v);
			if (vl >= n)
				vl = n - 1;
			memcpy(buf, v, vl);
			buf[vl] = '\0';
			return buf;
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}
