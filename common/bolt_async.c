/* bolt_async.c - the non-blocking Bolt client on libevent (see bolt.h,
 * "libevent client"), for the daemons' event loops.
 *
 * One protocol state machine: the messages, the pending queue, FAILURE
 * then RESET, bookmarks and decoding are bolt.c's, driven here without a
 * socket (ax_bolt_detached and the ax_bolt_io_* calls); this file only
 * moves bytes between a bufferevent and that state, keeps a callback per
 * request in the same order as bolt.c's pending queue, and runs the
 * timers.  The blocking client is not a wrapper over this one: it does
 * TLS with OpenSSL on its own socket, and TLS over a bufferevent needs
 * libevent_openssl, which the daemons do not link (docs/bolt.md).
 *
 * Deadlines are one event timer: while the connection is being made, the
 * whole of connect + handshake + HELLO must fit in connect_timeout_ms;
 * after that, while requests are pending, each response message must
 * arrive within request_timeout_ms of the last one (or of the request,
 * when none was pending).  A late one breaks the connection, as in the
 * blocking client: nothing after it could be trusted to be in order.
 *
 * Callbacks are never called from inside an ax_bolt_async_* call, only
 * from the event loop (requests on a broken connection are answered from
 * a zero timer), so a callback may queue requests or close the
 * connection; a close inside a callback takes effect when it returns.
 *
 * Names are resolved by bufferevent_socket_connect_hostname without a DNS
 * base, that is with a blocking getaddrinfo: Neo4j is configured by
 * address or by a name the resolver answers from /etc/hosts or its cache,
 * and an evdns base per connection would be more machinery than that
 * lookup costs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "alexus/bolt.h"
#include "alexus/mem.h"

enum state { ST_CONNECT, ST_HANDSHAKE, ST_HELLO, ST_READY, ST_DEAD };

struct cb {
	ax_bolt_async_fn *fn;
	void *arg;
	bool internal;            /* HELLO / LOGON: ours */
};

struct ax_bolt_async {
	struct event_base *base;
	struct bufferevent *bev;
	struct event *timer;      /* the deadline */
	struct event *kick;       /* answers requests on a dead connection */
	struct ax_bolt *b;        /* the protocol state */
	enum state st;
	struct cb *cbs;
	size_t ncb, cap;
	ax_bolt_async_ready_fn *ready;
	void *ready_arg;
	int depth;                /* callbacks running */
	bool closing;
	ax_err dead_rc;           /* why it died (for a ready callback not yet told) */
	char dead_why[300];
};

static void process(struct ax_bolt_async *c);

static void arm(struct ax_bolt_async *c, uint32_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

/* The request deadline, once ready: armed while anything is pending. */
static void rearm(struct ax_bolt_async *c)
{
	if (c->st != ST_READY)
		return;
	if (c->ncb > 0)
		arm(c, ax_bolt_opts_of(c->b)->request_timeout_ms);
	else
		evtimer_del(c->timer);
}

static void signal_ready(struct ax_bolt_async *c, ax_err rc, const char *why)
{
	ax_bolt_async_ready_fn *fn = c->ready;

	if (!fn)
		return;
	c->ready = NULL;
	c->depth++;
	fn(c, rc, why, c->ready_arg);
	c->depth--;
}

static void destroy(struct ax_bolt_async *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	event_free(c->timer);
	event_free(c->kick);
	ax_bolt_close(c->b);
	free(c->cbs);
	free(c);
}

/* The connection is gone (rc, why): before it was ready, the ready
 * callback hears it; every pending request ends with BROKEN, once each. */
static void die(struct ax_bolt_async *c, ax_err rc, const char *why)
{
	if (c->st == ST_DEAD)
		return;
	c->dead_rc = rc;
	snprintf(c->dead_why, sizeof(c->dead_why), "%s", why);
	ax_bolt_io_break(c->b, rc, why);
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	evtimer_del(c->timer);
	if (c->st != ST_READY)
		signal_ready(c, rc, why);
	c->st = ST_DEAD;
	process(c);
}

/* After an event callback: a close asked for inside a callback. */
static void settle(struct ax_bolt_async *c)
{
	if (c->closing && c->depth == 0) {
		c->closing = false;
		ax_bolt_async_close(c);
	}
}

static void flush(struct ax_bolt_async *c)
{
	struct ax_ps_buf *out = ax_bolt_io_out(c->b);

	if (c->bev && out->len && bufferevent_write(c->bev, out->data, out->len) != 0) {
		ax_ps_buf_reset(out);
		die(c, AX_EIO, "write failed");
		return;
	}
	ax_ps_buf_reset(out);
}

/* Responses that have arrived, to their callbacks. */
static void process(struct ax_bolt_async *c)
{
	/* a close asked for in a callback stops delivery (the close ends the
	 * rest with BROKEN); a dead connection delivers everything */
	while (c->ncb > 0 && (!c->closing || c->st == ST_DEAD)) {
		struct ax_bolt_resp r;
		struct cb cb;

		if (ax_bolt_io_next(c->b, &r) != AX_OK)
			break; /* AX_EAGAIN: not yet */
		cb = c->cbs[0];
		if (r.kind != AX_BOLT_RECORD) {
			memmove(c->cbs, c->cbs + 1, (c->ncb - 1) * sizeof(*c->cbs));
			c->ncb--;
		}
		c->depth++;
		if (cb.fn)
			cb.fn(c, &r, cb.arg);
		c->depth--;
		ax_bolt_resp_release(&r);
	}
	if (c->st != ST_DEAD)
		rearm(c);
}

static void push(struct ax_bolt_async *c, ax_bolt_async_fn *fn, void *arg, bool internal)
{
	if (c->ncb == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 8;
		c->cbs = ax_xrealloc(c->cbs, c->cap * sizeof(*c->cbs));
	}
	c->cbs[c->ncb].fn = fn;
	c->cbs[c->ncb].arg = arg;
	c->cbs[c->ncb].internal = internal;
	c->ncb++;
}

/* A caller's request was queued: write it, or answer it from the loop. */
static void sent(struct ax_bolt_async *c, ax_bolt_async_fn *fn, void *arg)
{
	static const struct timeval zero = { 0, 0 };

	push(c, fn, arg, false);
	if (c->st == ST_DEAD || ax_bolt_broken(c->b)) {
		evtimer_add(c->kick, &zero);
		return;
	}
	flush(c);
	if (c->ncb == 1)
		rearm(c);
}

/* ------------------------------------------------------------ connect */

static void hello_done(struct ax_bolt_async *c, const struct ax_bolt_resp *r, void *arg)
{
	bool logon = arg != NULL;
	char why[400];

	if (c->st != ST_HELLO)
		return; /* LOGON after a failed HELLO: already reported */
	if (r->kind == AX_BOLT_SUCCESS) {
		if (!logon)
			ax_bolt_hello_result(c->b, r->data);
		if (logon || ax_bolt_version(c->b) < AX_BOLT_V(5, 1)) {
			c->st = ST_READY;
			rearm(c);
			signal_ready(c, AX_OK, NULL);
		}
		return;
	}
	if (r->kind == AX_BOLT_FAILURE)
		snprintf(why, sizeof(why), "%s: %s", r->code, r->message);
	else
		snprintf(why, sizeof(why), "bolt: %s", r->message ? r->message : "refused");
	die(c, r->kind == AX_BOLT_FAILURE ? r->err : AX_EIO, why);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct ax_bolt_async *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->st == ST_HANDSHAKE) {
		uint8_t v[4];
		char why[300];
		ax_err rc;

		if (evbuffer_get_length(in) < 4)
			return;
		evbuffer_remove(in, v, 4);
		rc = ax_bolt_io_version(c->b, v, why, sizeof(why));
		if (rc) {
			die(c, rc, why);
			settle(c);
			return;
		}
		c->st = ST_HELLO;
		ax_bolt_send_hello(c->b);
		push(c, hello_done, NULL, true);
		if (ax_bolt_version(c->b) >= AX_BOLT_V(5, 1))
			push(c, hello_done, c, true); /* LOGON */
		flush(c);
	}
	while (c->st != ST_DEAD && evbuffer_get_length(in) > 0) {
		size_t n = evbuffer_get_contiguous_space(in);

		ax_bolt_io_in(c->b, evbuffer_pullup(in, (ev_ssize_t)n), n);
		evbuffer_drain(in, n);
	}
	if (c->st != ST_DEAD) {
		process(c);
		if (c->st != ST_DEAD && ax_bolt_broken(c->b))
			die(c, AX_EPROTO, "protocol error"); /* io_next broke it */
	}
	settle(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct ax_bolt_async *c = arg;
	char why[200];

	if (what & BEV_EVENT_CONNECTED) {
		uint8_t hs[20];
		int one = 1;

		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->st = ST_HANDSHAKE;
		ax_bolt_io_handshake(c->b, hs);
		bufferevent_write(bev, hs, sizeof(hs));
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if (c->st == ST_CONNECT) {
		int e = EVUTIL_SOCKET_ERROR();
		int gai = bufferevent_socket_get_dns_error(bev);

		snprintf(why, sizeof(why), "bolt: connect to %s: %s", ax_bolt_addr(c->b),
			 gai ? evutil_gai_strerror(gai) : evutil_socket_error_to_string(e));
	} else if (what & BEV_EVENT_EOF) {
		snprintf(why, sizeof(why), "connection closed by the server");
	} else {
		snprintf(why, sizeof(why), "connection failed: %s",
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
	die(c, AX_EIO, why);
	settle(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ax_bolt_async *c = arg;

	(void)fd;
	(void)what;
	if (c->st == ST_READY)
		die(c, AX_ETIMEDOUT, "response timed out");
	else
		die(c, AX_ETIMEDOUT, "bolt: connect, handshake and HELLO timed out");
	settle(c);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct ax_bolt_async *c = arg;

	(void)fd;
	(void)what;
	if (c->st == ST_DEAD)
		signal_ready(c, c->dead_rc, c->dead_why); /* a connect that failed at once */
	process(c);
	settle(c);
}

struct ax_bolt_async *ax_bolt_async_connect(struct event_base *base, const struct ax_bolt_opts *o,
					    ax_bolt_async_ready_fn *ready, void *arg)
{
	struct ax_bolt_async *c = ax_xcalloc(1, sizeof(*c));
	static const struct timeval zero = { 0, 0 };

	c->base = base;
	c->b = ax_bolt_detached(o);
	c->ready = ready;
	c->ready_arg = arg;
	c->timer = evtimer_new(base, on_timer, c);
	c->kick = evtimer_new(base, on_kick, c);
	if (!c->timer || !c->kick)
		abort(); /* allocation: OOM aborts (mem.h) */
	if (o->tls != AX_BOLT_TLS_OFF) {
		/* reported from the loop, like every other outcome */
		c->dead_rc = AX_EINVAL;
		snprintf(c->dead_why, sizeof(c->dead_why), "bolt: TLS is not supported by the "
			 "libevent client yet (docs/bolt.md)");
		ax_bolt_io_break(c->b, c->dead_rc, c->dead_why);
		c->st = ST_DEAD;
		evtimer_add(c->kick, &zero);
		return c;
	}
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		abort();
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	arm(c, ax_bolt_opts_of(c->b)->connect_timeout_ms);
	{
		char host[256];
		uint16_t port;

		if (ax_bolt_split_addr(ax_bolt_addr(c->b), host, sizeof(host), &port) ||
		    bufferevent_socket_connect_hostname(c->bev, NULL, AF_UNSPEC, host, port) != 0) {
			/* the event callback may not have run: report from the loop */
			if (c->st == ST_CONNECT) {
				c->dead_rc = AX_EIO;
				snprintf(c->dead_why, sizeof(c->dead_why),
					 "bolt: connect to %s: cannot resolve or connect",
					 ax_bolt_addr(c->b));
				ax_bolt_io_break(c->b, c->dead_rc, c->dead_why);
				c->st = ST_DEAD;
				bufferevent_free(c->bev);
				c->bev = NULL;
				evtimer_del(c->timer);
				evtimer_add(c->kick, &zero);
			}
		}
	}
	return c;
}

/* ------------------------------------------------------------ requests */

void ax_bolt_async_run(struct ax_bolt_async *c, const char *query, const struct ax_ps_buf *params,
		       const struct ax_bolt_tx *tx, ax_bolt_async_fn *fn, void *arg)
{
	ax_bolt_send_run(c->b, query, params, tx);
	sent(c, fn, arg);
}

void ax_bolt_async_pull(struct ax_bolt_async *c, int64_t n, ax_bolt_async_fn *fn, void *arg)
{
	ax_bolt_send_pull(c->b, n);
	sent(c, fn, arg);
}

void ax_bolt_async_discard(struct ax_bolt_async *c, int64_t n, ax_bolt_async_fn *fn, void *arg)
{
	ax_bolt_send_discard(c->b, n);
	sent(c, fn, arg);
}

void ax_bolt_async_begin(struct ax_bolt_async *c, const struct ax_bolt_tx *tx,
			 ax_bolt_async_fn *fn, void *arg)
{
	ax_bolt_send_begin(c->b, tx);
	sent(c, fn, arg);
}

void ax_bolt_async_commit(struct ax_bolt_async *c, ax_bolt_async_fn *fn, void *arg)
{
	ax_bolt_send_commit(c->b);
	sent(c, fn, arg);
}

void ax_bolt_async_rollback(struct ax_bolt_async *c, ax_bolt_async_fn *fn, void *arg)
{
	ax_bolt_send_rollback(c->b);
	sent(c, fn, arg);
}

void ax_bolt_async_reset(struct ax_bolt_async *c, ax_bolt_async_fn *fn, void *arg)
{
	ax_bolt_send_reset(c->b);
	sent(c, fn, arg);
}

struct ax_bolt *ax_bolt_async_conn(struct ax_bolt_async *c)
{
	return c->b;
}

size_t ax_bolt_async_pending(const struct ax_bolt_async *c)
{
	return c->ncb;
}

void ax_bolt_async_close(struct ax_bolt_async *c)
{
	if (!c)
		return;
	if (c->depth > 0) {
		c->closing = true;
		return;
	}
	if (c->bev && (c->st == ST_READY || c->st == ST_HELLO) && !ax_bolt_broken(c->b)) {
		/* what is queued, then GOODBYE: written now, best effort (the
		 * socket is non-blocking), as the connection is freed below */
		static const uint8_t bye[] = { 0x00, 0x02, 0xB0, AX_BOLT_MSG_GOODBYE, 0x00, 0x00 };
		struct evbuffer *out = bufferevent_get_output(c->bev);

		size_t n;
		const uint8_t *p;

		/* the bufferevent owns the start of its output buffer, so the
		 * bytes are sent here by hand */
		evbuffer_add(out, bye, sizeof(bye));
		n = evbuffer_get_length(out);
		p = evbuffer_pullup(out, (ev_ssize_t)n);
		while (n > 0) {
			ssize_t w = send(bufferevent_getfd(c->bev), p, n,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w <= 0)
				break;
			p += w;
			n -= (size_t)w;
		}
	}
	/* every request still pending ends once, with BROKEN */
	if (c->st != ST_DEAD) {
		ax_bolt_io_break(c->b, AX_EIO, "connection closed by the client");
		if (c->bev) {
			bufferevent_free(c->bev);
			c->bev = NULL;
		}
		c->st = ST_DEAD;
	}
	c->ready = NULL;
	c->closing = false;
	process(c);
	destroy(c);
}
