/* smtp.c - a local SMTP receiver for tests (see smtp.h).
 *
 * libevent does the sockets (an evconnlistener and one bufferevent per
 * session) on a loop thread of its own, as in receiver.c; a mutex and a
 * condition variable hand finished transactions to the test thread, so a
 * test waits on a condition with a deadline, never a sleep.  Lines are
 * read with EVBUFFER_EOL_CRLF_STRICT: SMTP ends lines with CRLF, and a
 * sender's bare LF then stays inside the recorded data for the test to
 * see.  AUTH payloads are base64, decoded with libsodium, which every test
 * binary links already.  STARTTLS (smtp_offer_starttls) puts an OpenSSL
 * filter bufferevent over the session's socket bufferevent after the 220,
 * as RFC 3207 has it: the session then starts over (EHLO again). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "smtp.h"

#define SMTP_MAX 256            /* transactions kept */
#define SMTP_DATA_MAX (1 << 20) /* bytes of one message kept */
#define SCRIPT_MAX 64

enum verb { V_EHLO, V_AUTH, V_MAIL, V_RCPT, V_DATA, V_DOT, V_N };
static const char *const verb_names[V_N] = { "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "." };

struct smtp_server {
	struct event_base *base;
	struct evconnlistener *lis;
	struct event *quit;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int port;
	char user[128], pass[128];
	int need_auth;
	SSL_CTX *tls;                 /* STARTTLS offered, else NULL */
	int starttls, handshakes;     /* STARTTLS commands, and TLS sessions established */
	int script[V_N][SCRIPT_MAX];
	int nscript[V_N];
	struct smtp_msg msgs[SMTP_MAX];
	int n, ended;
	struct session *sessions;     /* loop thread only */
};

enum state { S_CMD, S_DATA, S_AUTH_PLAIN, S_AUTH_USER, S_AUTH_PASS };

struct session {
	struct smtp_server *s;
	struct bufferevent *bev;
	enum state st;
	char helo[128];
	int authed;
	char mech[16], user[128], pass[128];
	int msg;                      /* transaction in progress, -1 for none */
	int tls;                      /* the session switched to TLS */
	char *data;
	size_t len, cap;
	int closing;
	struct session *next;
};

static void reply(struct session *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(struct session *x, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(x->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* A scripted failure for v, or 0. */
static int scripted(struct smtp_server *s, enum verb v)
{
	int code = 0;

	pthread_mutex_lock(&s->mu);
	if (s->nscript[v] > 0) {
		code = s->script[v][0];
		memmove(s->script[v], s->script[v] + 1, sizeof(int) * (size_t)--s->nscript[v]);
	}
	pthread_mutex_unlock(&s->mu);
	return code;
}

/* End transaction x->msg with code (under the lock: the test may read). */
static void end_msg(struct session *x, int code)
{
	struct smtp_server *s = x->s;

	if (x->msg < 0)
		return;
	pthread_mutex_lock(&s->mu);
	s->msgs[x->msg].final = code;
	s->ended++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	x->msg = -1;
}

static void fail_reply(struct session *x, int code)
{
	reply(x, "%d %s", code, code >= 500 ? "5.0.0 scripted permanent failure"
					    : "4.0.0 scripted temporary failure");
}

/* The address inside <...> after "FROM:" / "TO:". */
static void addr_of(const char *arg, char *out, size_t n)
{
	const char *a = strchr(arg, '<'), *e;

	out[0] = '\0';
	if (a == NULL)
		return;
	e = strchr(++a, '>');
	if (e == NULL)
		return;
	snprintf(out, n, "%.*s", (int)(e - a), a);
}

static void decode_b64(const char *in, char *out, size_t n, size_t *len)
{
	size_t bin = 0;

	*len = 0;
	if (sodium_base642bin((unsigned char *)out, n - 1, in, strlen(in), NULL, &bin, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		bin = 0;
	out[bin] = '\0';
	*len = bin;
}

static void check_login(struct session *x)
{
	struct smtp_server *s = x->s;

	x->authed = s->need_auth && strcmp(x->user, s->user) == 0 && strcmp(x->pass, s->pass) == 0;
	if (x->authed)
		reply(x, "235 2.7.0 Authentication successful");
	else
		reply(x, "535 5.7.8 Authentication credentials invalid");
}

/* "\0user\0pass" */
static void plain_login(struct session *x, const char *b64)
{
	char buf[512];
	size_t len, u;

	decode_b64(b64, buf, sizeof(buf), &len);
	snprintf(x->mech, sizeof(x->mech), "PLAIN");
	x->user[0] = x->pass[0] = '\0';
	if (len > 0 && buf[0] == '\0') {
		u = strlen(buf + 1);
		snprintf(x->user, sizeof(x->user), "%.127s", buf + 1);
		if (1 + u + 1 <= len)
			snprintf(x->pass, sizeof(x->pass), "%.*s", (int)(len - u - 2), buf + u + 2);
	}
	check_login(x);
}

static void data_append(struct session *x, const char *line, size_t n)
{
	if (x->len + n + 3 > SMTP_DATA_MAX)
		return;
	if (x->len + n + 3 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;

		while (cap < x->len + n + 3)
			cap *= 2;
		x->data = realloc(x->data, cap);
		x->cap = cap;
	}
	memcpy(x->data + x->len, line, n);
	x->len += n;
	memcpy(x->data + x->len, "\r\n", 2);
	x->len += 2;
	x->data[x->len] = '\0';
}

static void data_line(struct session *x, const char *line, size_t n)
{
	struct smtp_server *s = x->s;
	int code;

	if (n == 1 && line[0] == '.') {
		x->st = S_CMD;
		code = scripted(s, V_DOT);
		pthread_mutex_lock(&s->mu);
		if (x->msg >= 0) {
			s->msgs[x->msg].data = x->data != NULL ? x->data : strdup("");
			s->msgs[x->msg].data_len = x->len;
			x->data = NULL;
			x->len = x->cap = 0;
		}
		pthread_mutex_unlock(&s->mu);
		if (code != 0) {
			fail_reply(x, code);
			end_msg(x, code);
		} else {
			reply(x, "250 2.0.0 OK queued");
			end_msg(x, 250);
		}
		return;
	}
	/* Dot-unstuffing (RFC 5321 4.5.2). */
	if (n > 0 && line[0] == '.') {
		line++;
		n--;
	}
	data_append(x, line, n);
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* RFC 3207: 220, then the TLS handshake on the same connection, then a
 * fresh session (no HELO, no login, no transaction carried over). */
static void starttls(struct session *x)
{
	struct smtp_server *s = x->s;
	struct bufferevent *tls;

	pthread_mutex_lock(&s->mu);
	s->starttls++;
	pthread_mutex_unlock(&s->mu);
	if (s->tls == NULL || x->tls) {
		reply(x, "454 4.7.0 TLS not available");
		return;
	}
	reply(x, "220 2.0.0 Ready to start TLS");
	/* The 220 is in the socket bufferevent's output, ahead of anything
	 * the filter writes. */
	tls = bufferevent_openssl_filter_new(s->base, x->bev, SSL_new(s->tls),
					     BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		x->closing = 1;
		return;
	}
	x->bev = tls;
	x->tls = 1;
	x->helo[0] = '\0';
	x->authed = 0;
	end_msg(x, -1);
	bufferevent_setcb(tls, on_read, on_write, on_event, x);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
}

static void command(struct session *x, char *line)
{
	struct smtp_server *s = x->s;
	char verb[16], *arg;
	size_t k = 0;
	int code;

	while (line[k] != '\0' && line[k] != ' ' && k + 1 < sizeof(verb)) {
		verb[k] = (char)toupper((unsigned char)line[k]);
		k++;
	}
	verb[k] = '\0';
	arg = line + k;
	while (*arg == ' ')
		arg++;

	if (strcmp(verb, "EHLO") == 0 || strcmp(verb, "HELO") == 0) {
		if ((code = scripted(s, V_EHLO)) != 0) {
			fail_reply(x, code);
			return;
		}
		snprintf(x->helo, sizeof(x->helo), "%s", arg);
		if (verb[0] == 'H')
			reply(x, "250 localhost");
		else
			reply(x, "250-localhost\r\n%s%s250 8BITMIME",
			      s->tls != NULL && !x->tls ? "250-STARTTLS\r\n" : "",
			      s->need_auth ? "250-AUTH PLAIN LOGIN\r\n" : "");
	} else if (strcmp(verb, "STARTTLS") == 0) {
		starttls(x);
	} else if (strcmp(verb, "AUTH") == 0) {
		if ((code = scripted(s, V_AUTH)) != 0) {
			fail_reply(x, code);
			return;
		}
		if (!s->need_auth) {
			reply(x, "503 5.5.1 AUTH not offered");
		} else if (strncasecmp(arg, "PLAIN", 5) == 0) {
			if (arg[5] == ' ') {
				plain_login(x, arg + 6);
			} else {
				x->st = S_AUTH_PLAIN;
				reply(x, "334 ");
			}
		} else if (strncasecmp(arg, "LOGIN", 5) == 0) {
			snprintf(x->mech, sizeof(x->mech), "LOGIN");
			if (arg[5] == ' ') {
				size_t len;

				decode_b64(arg + 6, x->user, sizeof(x->user), &len);
				x->st = S_AUTH_PASS;
				reply(x, "334 UGFzc3dvcmQ6");
			} else {
				x->st = S_AUTH_USER;
				reply(x, "334 VXNlcm5hbWU6");
			}
		} else {
			reply(x, "504 5.5.4 mechanism not supported");
		}
	} else if (strcmp(verb, "MAIL") == 0) {
		struct smtp_msg *m;

		if (s->need_auth && !x->authed) {
			reply(x, "530 5.7.0 Authentication required");
			return;
		}
		pthread_mutex_lock(&s->mu);
		if (s->n >= SMTP_MAX) {
			pthread_mutex_unlock(&s->mu);
			reply(x, "452 4.3.1 test receiver full");
			return;
		}
		x->msg = s->n++;
		m = &s->msgs[x->msg];
		memset(m, 0, sizeof(*m));
		snprintf(m->helo, sizeof(m->helo), "%s", x->helo);
		if (x->authed) {
			snprintf(m->auth_mech, sizeof(m->auth_mech), "%s", x->mech);
			snprintf(m->user, sizeof(m->user), "%s", x->user);
			snprintf(m->pass, sizeof(m->pass), "%s", x->pass);
		}
		addr_of(arg, m->from, sizeof(m->from));
		m->tls = x->tls;
		pthread_mutex_unlock(&s->mu);
		if ((code = scripted(s, V_MAIL)) != 0) {
			fail_reply(x, code);
			end_msg(x, code);
			return;
		}
		reply(x, "250 2.1.0 OK");
	} else if (strcmp(verb, "RCPT") == 0) {
		if (x->msg < 0) {
			reply(x, "503 5.5.1 MAIL first");
			return;
		}
		pthread_mutex_lock(&s->mu);
		if (s->msgs[x->msg].nrcpt < SMTP_RCPT_MAX) {
			struct smtp_msg *m = &s->msgs[x->msg];

			addr_of(arg, m->rcpt[m->nrcpt], sizeof(m->rcpt[0]));
			m->nrcpt++;
		}
		pthread_mutex_unlock(&s->mu);
		if ((code = scripted(s, V_RCPT)) != 0) {
			fail_reply(x, code);
			end_msg(x, code);
			return;
		}
		reply(x, "250 2.1.5 OK");
	} else if (strcmp(verb, "DATA") == 0) {
		if (x->msg < 0) {
			reply(x, "503 5.5.1 MAIL first");
			return;
		}
		if ((code = scripted(s, V_DATA)) != 0) {
			fail_reply(x, code);
			end_msg(x, code);
			return;
		}
		x->st = S_DATA;
		x->len = 0;
		reply(x, "354 End data with <CR><LF>.<CR><LF>");
	} else if (strcmp(verb, "RSET") == 0) {
		end_msg(x, -1);
		reply(x, "250 2.0.0 OK");
	} else if (strcmp(verb, "NOOP") == 0) {
		reply(x, "250 2.0.0 OK");
	} else if (strcmp(verb, "QUIT") == 0) {
		reply(x, "221 2.0.0 Bye");
		x->closing = 1;
	} else {
		reply(x, "502 5.5.2 Command not recognized");
	}
}

static void session_free(struct session *x)
{
	struct session **pp;

	for (pp = &x->s->sessions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	/* A transaction cut off mid-way still ends, as "no answer". */
	end_msg(x, -1);
	bufferevent_free(x->bev);
	free(x->data);
	free(x);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct session *x = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line;

	while (!x->closing &&
	       (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT)) != NULL) {
		size_t len;

		switch (x->st) {
		case S_DATA:
			data_line(x, line, n);
			break;
		case S_AUTH_PLAIN:
			x->st = S_CMD;
			plain_login(x, line);
			break;
		case S_AUTH_USER:
			decode_b64(line, x->user, sizeof(x->user), &len);
			x->st = S_AUTH_PASS;
			reply(x, "334 UGFzc3dvcmQ6");
			break;
		case S_AUTH_PASS:
			decode_b64(line, x->pass, sizeof(x->pass), &len);
			x->st = S_CMD;
			check_login(x);
			break;
		default:
			command(x, line);
			break;
		}
		free(line);
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct session *x = arg;

	if (x->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_free(x);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *x = arg;

	(void)bev;
	if ((what & BEV_EVENT_CONNECTED) && x->tls) {
		pthread_mutex_lock(&x->s->mu);
		x->s->handshakes++;
		pthread_mutex_unlock(&x->s->mu);
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		session_free(arg);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct smtp_server *s = arg;
	struct session *x = calloc(1, sizeof(*x));

	(void)lis;
	(void)sa;
	(void)salen;
	x->s = s;
	x->msg = -1;
	x->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(x->bev, on_read, on_write, on_event, x);
	bufferevent_enable(x->bev, EV_READ | EV_WRITE);
	x->next = s->sessions;
	s->sessions = x;
	reply(x, "220 localhost ESMTP alexus-test");
}

static void on_quit(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_server *s = arg;

	(void)fd;
	(void)ev;
	while (s->sessions != NULL)
		session_free(s->sessions);
	event_base_loopbreak(s->base);
}

static void *run(void *arg)
{
	struct smtp_server *s = arg;

	event_base_dispatch(s->base);
	return NULL;
}

struct smtp_server *smtp_start(void)
{
	struct smtp_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in a;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (sodium_init() < 0) {
		fprintf(stderr, "smtp: libsodium failed\n");
		exit(1);
	}
	evthread_use_pthreads();
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->base = event_base_new();
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lis = evconnlistener_new_bind(s->base, on_accept, s,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
					 (struct sockaddr *)&a, sizeof(a));
	if (s->lis == NULL) {
		fprintf(stderr, "smtp: cannot bind\n");
		exit(1);
	}
	getsockname(evconnlistener_get_fd(s->lis), (struct sockaddr *)&ss, &sl);
	s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	s->quit = event_new(s->base, -1, 0, on_quit, s);
	pthread_create(&s->thread, NULL, run, s);
	return s;
}

void smtp_stop(struct smtp_server *s)
{
	int i;

	if (s == NULL)
		return;
	event_active(s->quit, 0, 1);
	pthread_join(s->thread, NULL);
	event_free(s->quit);
	evconnlistener_free(s->lis);
	event_base_free(s->base);
	for (i = 0; i < s->n; i++)
		free(s->msgs[i].data);
	SSL_CTX_free(s->tls);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

int smtp_port(const struct smtp_server *s)
{
	return s->port;
}

void smtp_require_auth(struct smtp_server *s, const char *user, const char *pass)
{
	pthread_mutex_lock(&s->mu);
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->pass, sizeof(s->pass), "%s", pass);
	s->need_auth = 1;
	pthread_mutex_unlock(&s->mu);
}

int smtp_offer_starttls(struct smtp_server *s, const char *cert_pem, const char *key_pem)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, cert_pem) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key_pem, SSL_FILETYPE_PEM) != 1) {
		SSL_CTX_free(ctx);
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	s->tls = ctx;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void smtp_tls_counts(struct smtp_server *s, int *starttls, int *handshakes)
{
	pthread_mutex_lock(&s->mu);
	*starttls = s->starttls;
	*handshakes = s->handshakes;
	pthread_mutex_unlock(&s->mu);
}

void smtp_script(struct smtp_server *s, const char *verb, int code, int n)
{
	int v;

	for (v = 0; v < V_N; v++)
		if (strcasecmp(verb, verb_names[v]) == 0)
			break;
	if (v == V_N) {
		fprintf(stderr, "smtp_script: unknown verb %s\n", verb);
		exit(1);
	}
	pthread_mutex_lock(&s->mu);
	while (n-- > 0 && s->nscript[v] < SCRIPT_MAX)
		s->script[v][s->nscript[v]++] = code;
	pthread_mutex_unlock(&s->mu);
}

int smtp_wait(struct smtp_server *s, int n, int timeout_ms)
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
	pthread_mutex_lock(&s->mu);
	while (s->ended < n) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT)
			break;
	}
	got = s->ended;
	pthread_mutex_unlock(&s->mu);
	return got;
}

int smtp_count(struct smtp_server *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

const struct smtp_msg *smtp_get(struct smtp_server *s, int i)
{
	const struct smtp_msg *m = NULL;

	pthread_mutex_lock(&s->mu);
	if (i >= 0 && i < s->n)
		m = &s->msgs[i];
	pthread_mutex_unlock(&s->mu);
	return m;
}

const char *smtp_header(const struct smtp_msg *m, const char *name, char *buf, size_t n)
{
	const char *p = m->data;
	size_t nl = strlen(name), k = 0;

	while (p != NULL && *p != '\0' && !(p[0] == '\r' && p[1] == '\n')) {
		const char *eol = strstr(p, "\r\n");

		if (eol == NULL)
			return NULL;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;

			while (*v == ' ')
				v++;
			/* The value and its folded continuation lines, unfolded. */
			for (;;) {
				for (; v < eol && k + 1 < n; v++)
					buf[k++] = *v;
				if (eol[2] != ' ' && eol[2] != '\t')
					break;
				v = eol + 2;
				eol = strstr(v, "\r\n");
				if (eol == NULL)
					break;
			}
			buf[k] = '\0';
			return buf;
		}
		p = eol + 2;
	}
	return NULL;
}

const char *smtp_body(const struct smtp_msg *m)
{
	const char *p = m->data != NULL ? strstr(m->data, "\r\n\r\n") : NULL;

	return p != NULL ? p + 4 : NULL;
}
