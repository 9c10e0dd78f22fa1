/* receiver.c - scripted HTTP receiver on its own thread (see receiver.h).
 *
 * libevent's evhttp does the HTTP; a mutex and a condition variable hand
 * requests to the test thread, so waiting for a delivery is a wait on a
 * condition with a deadline rather than a sleep.
 *
 * A delayed reply is a timer on the loop holding the evhttp request.  If
 * the client hangs up first, evhttp (2.1.12, evhttp_connection_incoming_
 * fail) detaches the unanswered request from the dead connection instead
 * of freeing it, and evhttp_send_reply on a detached request just frees
 * it: so the timer may always send.  The timers still pending at stop are
 * fired on the loop thread before it exits, since evhttp_free would free
 * the requests they hold.
 *
 * TLS mode: evhttp_set_bevcb makes every accepted connection a
 * bufferevent_openssl over one SSL_CTX (libevent 2.1.12 has no TLS in
 * evhttp itself).  Dirty shutdowns are allowed because clients that time
 * out simply close the socket.  Every method is allowed (evhttp refuses
 * PATCH by default, and the Kubernetes API is mostly PATCH).  The test
 * certificates come from the openssl command line at run time
 * (rcv_certs_make), so no key is ever committed and none expires between
 * commits. */
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
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "receiver.h"

#define RCV_MAX 256
#define RCV_SCRIPT_MAX 64

/* One queued reply: owned copies of rcv_reply's strings. */
struct script {
	int status;
	char *body;       /* NULL: the {"ok":...} body */
	size_t body_len;
	char *headers;
	int delay_ms;
};

/* A reply held back by its delay; lives on the loop thread only. */
struct pending {
	struct receiver *r;
	struct evhttp_request *req;
	struct script s;
	struct event *timer;
	struct pending *next;
};

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
	struct script script[RCV_SCRIPT_MAX];
	int nscript;
	struct pending *pending;   /* loop thread only */
	SSL_CTX *ssl;              /* TLS mode, else NULL */
	struct rcv_request reqs[RCV_MAX];
	int n;
};

static void script_release(struct script *s)
{
	free(s->body);
	free(s->headers);
	memset(s, 0, sizeof(*s));
}

/* Send s as the answer to req and release s. */
static void send_scripted(struct evhttp_request *req, struct script *s)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	const char *p = s->headers;

	while (p != NULL && *p != '\0') {
		const char *eol = strchr(p, '\n'), *colon;
		size_t n = eol != NULL ? (size_t)(eol - p) : strlen(p);
		char line[1024];

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		colon = strchr(line, ':');
		if (colon != NULL) {
			const char *v = colon + 1;

			line[colon - line] = '\0';
			while (*v == ' ')
				v++;
			evhttp_add_header(oh, line, v);
		}
		p = eol != NULL ? eol + 1 : NULL;
	}
	if (evhttp_find_header(oh, "Content-Type") == NULL)
		evhttp_add_header(oh, "Content-Type", "application/json");
	if (s->body != NULL)
		evbuffer_add(out, s->body, s->body_len);
	else
		evbuffer_add_printf(out, "{\"ok\":%s}", s->status < 300 ? "true" : "false");
	evhttp_send_reply(req, s->status, s->status < 300 ? "OK" : "Error", out);
	evbuffer_free(out);
	script_release(s);
}

static void pending_fire(struct pending *pd)
{
	struct pending **pp;

	for (pp = &pd->r->pending; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == pd) {
			*pp = pd->next;
			break;
		}
	}
	event_free(pd->timer);
	send_scripted(pd->req, &pd->s);
	free(pd);
}

static void on_delay(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	pending_fire(arg);
}

/* CN of the certificate the client of req presented, "" if none. */
static void client_cn(struct evhttp_request *req, char *buf, size_t n)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	struct bufferevent *bev = c != NULL ? evhttp_connection_get_bufferevent(c) : NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *x = ssl != NULL ? SSL_get1_peer_certificate(ssl) : NULL;

	buf[0] = '\0';
	if (x == NULL)
		return;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, (int)n) < 0)
		buf[0] = '\0';
	X509_free(x);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct receiver *r = arg;
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyval *kv;
	struct rcv_request *q;
	struct script s;
	size_t hlen = 1, len;
	char *p;
	int status;

	pthread_mutex_lock(&r->mu);
	if (r->nscript > 0) {
		s = r->script[0];
		memmove(r->script, r->script + 1, sizeof(r->script[0]) * (size_t)--r->nscript);
	} else {
		memset(&s, 0, sizeof(s));
		s.status = r->default_status;
	}
	status = s.status;
	if (r->n < RCV_MAX) {
		q = &r->reqs[r->n];
		switch (evhttp_request_get_command(req)) {
		case EVHTTP_REQ_POST: strcpy(q->method, "POST"); break;
		case EVHTTP_REQ_PUT: strcpy(q->method, "PUT"); break;
		case EVHTTP_REQ_GET: strcpy(q->method, "GET"); break;
		case EVHTTP_REQ_DELETE: strcpy(q->method, "DELETE"); break;
		case EVHTTP_REQ_PATCH: strcpy(q->method, "PATCH"); break;
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
		q->client_cn[0] = '\0';
		if (r->ssl != NULL)
			client_cn(req, q->client_cn, sizeof(q->client_cn));
		r->n++;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);

	if (s.delay_ms > 0) {
		struct pending *pd = calloc(1, sizeof(*pd));
		struct timeval tv = { s.delay_ms / 1000, (s.delay_ms % 1000) * 1000 };

		pd->r = r;
		pd->req = req;
		pd->s = s;
		pd->timer = evtimer_new(r->base, on_delay, pd);
		pd->next = r->pending;
		r->pending = pd;
		evtimer_add(pd->timer, &tv);
		return;
	}
	send_scripted(req, &s);
}

static void on_quit(evutil_socket_t fd, short ev, void *arg)
{
	struct receiver *r = arg;

	(void)fd;
	(void)ev;
	while (r->pending != NULL)
		pending_fire(r->pending);
	event_base_loopbreak(r->base);
}

static void *run(void *arg)
{
	struct receiver *r = arg;
	event_base_dispatch(r->base);
	return NULL;
}

/* evhttp_set_bevcb: a server-side TLS bufferevent for each connection. */
static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
	struct receiver *r = arg;
	struct bufferevent *bev;

	bev = bufferevent_openssl_socket_new(base, -1, SSL_new(r->ssl), BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static struct receiver *start(int default_status, SSL_CTX *ssl)
{
	struct receiver *r = calloc(1, sizeof(*r));
	evutil_socket_t fd;
	struct sockaddr_storage ss;
	ev_socklen_t sl = sizeof(ss);

	evthread_use_pthreads();
	r->default_status = default_status;
	r->ssl = ssl;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->base = event_base_new();
	r->http = evhttp_new(r->base);
	evhttp_set_allowed_methods(r->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				   EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	if (ssl != NULL)
		evhttp_set_bevcb(r->http, tls_bev, r);
	evhttp_set_gencb(r->http, on_request, r);
	r->sock = evhttp_bind_socket_with_handle(r->http, "127.0.0.1", 0);
	if (r->sock == NULL) {
		fprintf(stderr, "receiver: cannot bind\n");
		exit(1);
	}
	fd = evhttp_bound_socket_get_fd(r->sock);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	r->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	r->quit = event_new(r->base, -1, 0, on_quit, r);
	pthread_create(&r->thread, NULL, run, r);
	return r;
}

struct receiver *rcv_start(int default_status)
{
	return start(default_status, NULL);
}

static SSL_CTX *tls_ctx(const char *cert, const char *key, const char *client_ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr, "receiver: cannot load %s / %s\n", cert, key);
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	if (client_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
			fprintf(stderr, "receiver: cannot load %s\n", client_ca);
			exit(1);
		}
		SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(client_ca));
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
}

struct receiver *rcv_start_tls(int default_status, const char *cert_pem_file,
			       const char *key_pem_file)
{
	return start(default_status, tls_ctx(cert_pem_file, key_pem_file, NULL));
}

struct receiver *rcv_start_tls_client(int default_status, const char *cert_pem_file,
				      const char *key_pem_file, const char *client_ca_file)
{
	return start(default_status, tls_ctx(cert_pem_file, key_pem_file, client_ca_file));
}

/* Run a shell command line quietly; 0 if it exited 0. */
static int sh(const char *cmd)
{
	int st = system(cmd);

	if (st != 0)
		fprintf(stderr, "receiver: failed (%d): %s\n", st, cmd);
	return st == 0 ? 0 : -1;
}

/* Write text to dir/name. */
static int put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

int rcv_certs_make(struct rcv_certs *c)
{
	/* P-256 keys: generated in milliseconds, unlike RSA. */
	static const char newkey[] =
		"-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
	const char *tmp = getenv("TMPDIR");
	char cmd[2048];
	const char *d;

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s/alexus-pki.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(c->dir) == NULL) {
		perror("receiver: mkdtemp");
		return -1;
	}
	d = c->dir;
	snprintf(c->ca, sizeof(c->ca), "%s/ca.crt", d);
	snprintf(c->ca_key, sizeof(c->ca_key), "%s/ca.key", d);
	snprintf(c->server_cert, sizeof(c->server_cert), "%s/server.crt", d);
	snprintf(c->server_key, sizeof(c->server_key), "%s/server.key", d);
	snprintf(c->client_cert, sizeof(c->client_cert), "%s/client.crt", d);
	snprintf(c->client_key, sizeof(c->client_key), "%s/client.key", d);
	snprintf(c->other_ca, sizeof(c->other_ca), "%s/other-ca.crt", d);
	if (put(d, "server.ext", "basicConstraints=CA:FALSE\n"
		"keyUsage=critical,digitalSignature\n"
		"extendedKeyUsage=serverAuth\n"
		"subjectAltName=IP:127.0.0.1,DNS:localhost\n") != 0 ||
	    put(d, "client.ext", "basicConstraints=CA:FALSE\n"
		"keyUsage=critical,digitalSignature\n"
		"extendedKeyUsage=clientAuth\n") != 0)
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && exec >openssl.log 2>&1 && "
		 "openssl req -x509 %s -keyout ca.key -out ca.crt -days 3 -subj /CN=alexus-test-ca "
		 "-addext basicConstraints=critical,CA:TRUE "
		 "-addext keyUsage=critical,keyCertSign,cRLSign && "
		 "openssl req -x509 %s -keyout other-ca.key -out other-ca.crt -days 3 "
		 "-subj /CN=alexus-other-ca -addext basicConstraints=critical,CA:TRUE "
		 "-addext keyUsage=critical,keyCertSign,cRLSign && "
		 "openssl req %s -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
		 "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 2 "
		 "-days 3 -extfile server.ext -out server.crt && "
		 "openssl req %s -keyout client.key -out client.csr "
		 "-subj '/O=system:masters/CN=alexus-test-client' && "
		 "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 3 "
		 "-days 3 -extfile client.ext -out client.crt",
		 d, newkey, newkey, newkey, newkey);
	if (sh(cmd) != 0) {
		char log[512];

		snprintf(log, sizeof(log), "cat '%s/openssl.log' >&2", d);
		if (system(log) != 0)
			fprintf(stderr, "receiver: no openssl log\n");
		return -1;
	}
	return 0;
}

void rcv_certs_remove(struct rcv_certs *c)
{
	char cmd[512];

	if (c->dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	if (sh(cmd) != 0)
		fprintf(stderr, "receiver: cannot remove %s\n", c->dir);
	c->dir[0] = '\0';
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
	SSL_CTX_free(r->ssl);
	for (i = 0; i < r->n; i++) {
		free(r->reqs[i].headers);
		free(r->reqs[i].body);
	}
	for (i = 0; i < r->nscript; i++)
		script_release(&r->script[i]);
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
	while (n-- > 0 && r->nscript < RCV_SCRIPT_MAX) {
		memset(&r->script[r->nscript], 0, sizeof(r->script[0]));
		r->script[r->nscript++].status = status;
	}
	pthread_mutex_unlock(&r->mu);
}

void rcv_script_reply(struct receiver *r, const struct rcv_reply *reply)
{
	struct script s;

	memset(&s, 0, sizeof(s));
	s.status = reply->status;
	if (reply->body != NULL) {
		s.body_len = reply->body_len > 0 ? reply->body_len : strlen(reply->body);
		s.body = malloc(s.body_len + 1);
		memcpy(s.body, reply->body, s.body_len);
		s.body[s.body_len] = '\0';
	}
	if (reply->headers != NULL)
		s.headers = strdup(reply->headers);
	s.delay_ms = reply->delay_ms;
	pthread_mutex_lock(&r->mu);
	if (r->nscript < RCV_SCRIPT_MAX) {
		r->script[r->nscript++] = s;
		s.body = NULL;
		s.headers = NULL;
	}
	pthread_mutex_unlock(&r->mu);
	script_release(&s);
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
