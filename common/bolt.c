/* bolt.c - the blocking Bolt client, and the protocol state both clients
 * share (see bolt.h; the libevent client is bolt_async.c).
 *
 * Written here because the distribution packages no Neo4j client for C
 * (issue 8).  Built to the Bolt documentation: the handshake (magic
 * 0x6060B017 then four 32-bit proposals, each [0, range, minor, major];
 * the server answers the agreed [0, 0, minor, major] or zero), chunked
 * framing (16-bit big-endian chunk sizes, a message ends with an empty
 * chunk; an empty chunk between messages is a keep-alive), and messages as
 * PackStream structures (common/packstream.c).
 *
 * The socket is non-blocking and every wait is a poll() against a
 * deadline, so no call blocks longer than its timeout whatever the server
 * does.  Requests are framed into one output buffer as they are queued
 * and written together at the next wait: pipelining for free.  The
 * pending queue is what makes "every request ends exactly once" hold: a
 * response pops the oldest entry, and a broken connection pops every
 * entry with AX_BOLT_BROKEN, one per call, before ax_bolt_next says
 * nothing is pending.  The protocol itself does no I/O: a response is
 * parsed from the bytes already read (parse_one) and dispatched
 * (next_resp); the blocking client reads more when one is incomplete,
 * the libevent client waits for the loop to bring more (ax_bolt_io_*).
 *
 * TLS is OpenSSL on the same non-blocking socket: SSL_read and SSL_write
 * are tried first and the socket is polled only when they want to read or
 * write, so bytes OpenSSL already decrypted are never left waiting for a
 * poll that will not fire.  Verification is OpenSSL's own (chain, then
 * SSL_set1_host or the IP address), never hand-rolled. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "alexus/bolt.h"
#include "alexus/mem.h"

#define DEF_PORT 7687
#define DEF_CONNECT_MS 5000
#define DEF_REQUEST_MS 30000
#define DEF_MAX_MESSAGE (64u << 20)
#define CHUNK_MAX 0xFFFF

struct pending {
	uint8_t tag;
	bool internal;     /* an automatic RESET: its answer is not the caller's */
};

struct ax_bolt {
	int fd;
	SSL_CTX *ssl_ctx;
	SSL *ssl;
	struct ax_bolt_opts o;   /* strings below are our copies */
	int version;
	bool utc;
	char *server;
	char *bookmark;
	struct ax_ps_buf out;    /* framed requests not yet written */
	struct ax_ps_buf msg;    /* the request being built */
	struct ax_ps_buf in;     /* bytes read, from in_off on not yet parsed */
	size_t in_off;
	struct ax_ps_buf rmsg;   /* the response being assembled from chunks */
	struct pending *q;
	size_t qlen, qcap;
	bool need_reset;         /* a FAILURE was seen: RESET before the next request */
	bool in_tx;
	ax_err broken;           /* AX_OK while the connection is sound */
	char broken_why[160];
	uint32_t wait_ms;        /* the current per-response deadline */
	char addr[300];          /* "host:port" */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void break_conn(struct ax_bolt *b, ax_err rc, const char *fmt, ...) AX_PRINTF(3, 4);

static void break_conn(struct ax_bolt *b, ax_err rc, const char *fmt, ...)
{
	va_list ap;

	if (b->broken)
		return;
	b->broken = rc;
	va_start(ap, fmt);
	vsnprintf(b->broken_why, sizeof(b->broken_why), fmt, ap);
	va_end(ap);
	if (b->ssl)
		SSL_free(b->ssl);
	b->ssl = NULL;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	ax_ps_buf_reset(&b->out);
}

/* Wait until fd is ready for events or the deadline passes: 0 ready,
 * AX_ETIMEDOUT, AX_EIO. */
static ax_err wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return AX_ETIMEDOUT;
		n = poll(&pf, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return AX_OK;
		if (n < 0 && errno != EINTR)
			return AX_EIO;
	}
}

/* After an SSL call returned k <= 0: wait for what it wants (0), or break
 * the connection (-1). */
static int ssl_wait(struct ax_bolt *b, int k, int64_t deadline, const char *what)
{
	int e = SSL_get_error(b->ssl, k);
	unsigned long code;
	ax_err rc;

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		rc = wait_fd(b->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (!rc)
			return 0;
		break_conn(b, rc, "tls %s %s", what, rc == AX_ETIMEDOUT ? "timed out" : "failed");
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		break_conn(b, AX_EIO, "connection closed by the server");
		return -1;
	}
	code = ERR_get_error();
	ERR_clear_error();
	if (e == SSL_ERROR_SYSCALL && !code)
		break_conn(b, AX_EIO, "connection closed by the server%s%s", errno ? ": " : "",
			   errno ? strerror(errno) : "");
	else
		break_conn(b, AX_EIO, "tls %s: %s", what,
			   code ? ERR_reason_error_string(code) : "failed");
	return -1;
}

static ax_err write_all(struct ax_bolt *b, const uint8_t *p, size_t n, int64_t deadline)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w;

		if (b->ssl) {
			int k = SSL_write(b->ssl, p + off, (int)(n - off > INT32_MAX ? INT32_MAX : n - off));

			if (k > 0) {
				off += (size_t)k;
				continue;
			}
			if (ssl_wait(b, k, deadline, "write"))
				return b->broken;
			continue;
		}
		w = send(b->fd, p + off, n - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ax_err rc = wait_fd(b->fd, POLLOUT, deadline);

			if (rc) {
				break_conn(b, rc, "write %s", rc == AX_ETIMEDOUT ? "timed out" : "failed");
				return rc;
			}
			continue;
		}
		break_conn(b, AX_EIO, "write: %s", strerror(errno));
		return AX_EIO;
	}
	return AX_OK;
}

/* Read at least one more byte into b->in. */
static ax_err read_some(struct ax_bolt *b, int64_t deadline)
{
	uint8_t tmp[16384];

	for (;;) {
		ssize_t r;

		if (b->ssl) {
			int k = SSL_read(b->ssl, tmp, (int)sizeof(tmp));

			if (k <= 0) {
				if (ssl_wait(b, k, deadline, "read"))
					return b->broken;
				continue;
			}
			r = k;
		} else {
			r = recv(b->fd, tmp, sizeof(tmp), 0);
		}
		if (r > 0) {
			/* drop what was parsed, so a long stream does not grow the buffer */
			if (b->in_off) {
				memmove(b->in.data, b->in.data + b->in_off, b->in.len - b->in_off);
				b->in.len -= b->in_off;
				b->in_off = 0;
			}
			ax_ps_buf_append(&b->in, tmp, (size_t)r);
			return AX_OK;
		}
		if (r == 0) {
			break_conn(b, AX_EIO, "connection closed by the server");
			return AX_EIO;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			ax_err rc = wait_fd(b->fd, POLLIN, deadline);

			if (rc) {
				break_conn(b, rc, "%s", rc == AX_ETIMEDOUT ? "response timed out"
									    : "poll failed");
				return rc;
			}
			continue;
		}
		break_conn(b, AX_EIO, "read: %s", strerror(errno));
		return AX_EIO;
	}
}

/* Take n bytes from the input (reading as needed) into dst (or drop). */
static ax_err take(struct ax_bolt *b, size_t n, uint8_t *dst, struct ax_ps_buf *append,
		   int64_t deadline)
{
	while (b->in.len - b->in_off < n) {
		ax_err rc = read_some(b, deadline);

		if (rc)
			return rc;
	}
	if (dst)
		memcpy(dst, b->in.data + b->in_off, n);
	if (append)
		ax_ps_buf_append(append, b->in.data + b->in_off, n);
	b->in_off += n;
	return AX_OK;
}

/* One whole response message from the bytes already read, decoded: 1,
 * or 0 when it has not all arrived (nothing consumed but keep-alives), or
 * -1 when the connection broke on it.  No I/O: the blocking client reads
 * more and calls again, the libevent one (bolt_async.c) waits for more. */
static int parse_one(struct ax_bolt *b, struct ax_ps_value **out)
{
	const uint8_t *d = b->in.data;
	size_t at = b->in_off, total = 0, end = b->in.len;
	char err[200];
	ax_err rc;

	*out = NULL;
	/* keep-alives between messages */
	while (end - at >= 2 && d[at] == 0 && d[at + 1] == 0)
		at += 2;
	b->in_off = at;
	for (;;) { /* find the end of the message without taking anything */
		size_t n;

		if (end - at < 2)
			return 0;
		n = (size_t)d[at] << 8 | d[at + 1];
		at += 2;
		if (n == 0)
			break;
		total += n;
		if (total > b->o.max_message) {
			break_conn(b, AX_ETOOBIG, "response larger than %u bytes",
				   (unsigned)b->o.max_message);
			return -1;
		}
		if (end - at < n)
			return 0;
		at += n;
	}
	ax_ps_buf_reset(&b->rmsg);
	for (at = b->in_off;;) {
		size_t n = (size_t)d[at] << 8 | d[at + 1];

		at += 2;
		if (n == 0)
			break;
		ax_ps_buf_append(&b->rmsg, d + at, n);
		at += n;
	}
	b->in_off = at;
	rc = ax_ps_decode(b->rmsg.data, b->rmsg.len, &b->o.caps, out, err, sizeof(err));
	if (rc) {
		*out = NULL;
		break_conn(b, rc, "%s", err);
		return -1;
	}
	if ((*out)->type != AX_PS_STRUCT) {
		ax_ps_free(*out);
		*out = NULL;
		break_conn(b, AX_EPROTO, "response is not a message structure");
		return -1;
	}
	return 1;
}

/* One whole response message, decoded: AX_OK or the connection broke. */
static ax_err read_message(struct ax_bolt *b, struct ax_ps_value **out)
{
	int64_t deadline = now_ms() + b->wait_ms;

	for (;;) {
		int k = parse_one(b, out);

		if (k > 0)
			return AX_OK;
		if (k < 0)
			return b->broken;
		if (read_some(b, deadline))
			return b->broken;
	}
}

/* ------------------------------------------------------------ requests */

static void begin_msg(struct ax_bolt *b, uint8_t tag, uint8_t nfields)
{
	ax_ps_buf_reset(&b->msg);
	ax_ps_put_struct(&b->msg, tag, nfields);
}

static void end_msg(struct ax_bolt *b, uint8_t tag, bool internal)
{
	size_t off = 0;

	if (!b->broken) {
		while (off < b->msg.len) {
			size_t n = b->msg.len - off > CHUNK_MAX ? CHUNK_MAX : b->msg.len - off;
			uint8_t h[2] = { (uint8_t)(n >> 8), (uint8_t)n };

			ax_ps_buf_append(&b->out, h, 2);
			ax_ps_buf_append(&b->out, b->msg.data + off, n);
			off += n;
		}
		ax_ps_buf_append(&b->out, "\0\0", 2);
	}
	if (b->qlen == b->qcap) {
		b->qcap = b->qcap ? 2 * b->qcap : 8;
		b->q = ax_xrealloc(b->q, b->qcap * sizeof(*b->q));
	}
	b->q[b->qlen].tag = tag;
	b->q[b->qlen].internal = internal;
	b->qlen++;
}

/* Before a caller's request: the RESET a FAILURE calls for. */
static void before_request(struct ax_bolt *b)
{
	if (!b->need_reset)
		return;
	b->need_reset = false;
	b->in_tx = false;
	begin_msg(b, AX_BOLT_MSG_RESET, 0);
	end_msg(b, AX_BOLT_MSG_RESET, true);
}

static void put_kv_str(struct ax_ps_buf *m, const char *k, const char *v)
{
	ax_ps_put_cstr(m, k);
	ax_ps_put_cstr(m, v);
}

/* The extra dictionary of BEGIN and auto-commit RUN. */
static void put_tx_extra(struct ax_bolt *b, const struct ax_bolt_tx *tx)
{
	static const struct ax_bolt_tx none;
	const char *db;
	uint32_t n = 0;
	size_t i, nb;

	if (!tx)
		tx = &none;
	db = tx->db ? tx->db : b->o.database;
	nb = tx->bookmarks ? tx->nbookmarks : b->bookmark ? 1 : 0;
	n += db != NULL;
	n += nb > 0;
	n += tx->metadata != NULL;
	n += tx->timeout_ms > 0;
	n += tx->read;
	ax_ps_put_dict(&b->msg, n);
	if (nb) {
		ax_ps_put_cstr(&b->msg, "bookmarks");
		ax_ps_put_list(&b->msg, (uint32_t)nb);
		for (i = 0; i < nb; i++)
			ax_ps_put_cstr(&b->msg, tx->bookmarks ? tx->bookmarks[i] : b->bookmark);
	}
	if (tx->timeout_ms) {
		ax_ps_put_cstr(&b->msg, "tx_timeout");
		ax_ps_put_int(&b->msg, tx->timeout_ms);
	}
	if (tx->metadata) {
		ax_ps_put_cstr(&b->msg, "tx_metadata");
		ax_ps_buf_append(&b->msg, tx->metadata->data, tx->metadata->len);
	}
	if (tx->read)
		put_kv_str(&b->msg, "mode", "r");
	if (db)
		put_kv_str(&b->msg, "db", db);
}

void ax_bolt_send_run(struct ax_bolt *b, const char *query, const struct ax_ps_buf *params,
		      const struct ax_bolt_tx *tx)
{
	before_request(b);
	begin_msg(b, AX_BOLT_MSG_RUN, 3);
	ax_ps_put_cstr(&b->msg, query);
	if (params && params->len)
		ax_ps_buf_append(&b->msg, params->data, params->len);
	else
		ax_ps_put_dict(&b->msg, 0);
	if (b->in_tx)
		ax_ps_put_dict(&b->msg, 0); /* the transaction's settings came with BEGIN */
	else
		put_tx_extra(b, tx);
	end_msg(b, AX_BOLT_MSG_RUN, false);
}

static void send_n(struct ax_bolt *b, uint8_t tag, int64_t n)
{
	before_request(b);
	begin_msg(b, tag, 1);
	ax_ps_put_dict(&b->msg, 1);
	ax_ps_put_cstr(&b->msg, "n");
	ax_ps_put_int(&b->msg, n);
	end_msg(b, tag, false);
}

void ax_bolt_send_pull(struct ax_bolt *b, int64_t n)
{
	send_n(b, AX_BOLT_MSG_PULL, n);
}

void ax_bolt_send_discard(struct ax_bolt *b, int64_t n)
{
	send_n(b, AX_BOLT_MSG_DISCARD, n);
}

void ax_bolt_send_begin(struct ax_bolt *b, const struct ax_bolt_tx *tx)
{
	before_request(b);
	begin_msg(b, AX_BOLT_MSG_BEGIN, 1);
	put_tx_extra(b, tx);
	end_msg(b, AX_BOLT_MSG_BEGIN, false);
	b->in_tx = true;
}

static void send_plain(struct ax_bolt *b, uint8_t tag)
{
	begin_msg(b, tag, 0);
	end_msg(b, tag, false);
}

void ax_bolt_send_commit(struct ax_bolt *b)
{
	before_request(b);
	send_plain(b, AX_BOLT_MSG_COMMIT);
	b->in_tx = false;
}

void ax_bolt_send_rollback(struct ax_bolt *b)
{
	before_request(b);
	send_plain(b, AX_BOLT_MSG_ROLLBACK);
	b->in_tx = false;
}

void ax_bolt_send_reset(struct ax_bolt *b)
{
	b->need_reset = false; /* this RESET is the one a FAILURE called for */
	send_plain(b, AX_BOLT_MSG_RESET);
	b->in_tx = false;
}

ax_err ax_bolt_flush(struct ax_bolt *b)
{
	ax_err rc;

	if (b->broken)
		return b->broken;
	if (!b->out.len)
		return AX_OK;
	rc = write_all(b, b->out.data, b->out.len, now_ms() + b->wait_ms);
	ax_ps_buf_reset(&b->out);
	return rc;
}

/* ----------------------------------------------------------- responses */

ax_err ax_bolt_code_err(const char *code)
{
	if (!code)
		return AX_EIO;
	if (strstr(code, ".Security."))
		return AX_EAUTH;
	if (strncmp(code, "Neo.TransientError.", 19) == 0)
		return AX_EAGAIN;
	if (strncmp(code, "Neo.ClientError.", 16) == 0)
		return AX_EINVAL;
	return AX_EIO;
}

static void pop(struct ax_bolt *b)
{
	memmove(b->q, b->q + 1, (b->qlen - 1) * sizeof(*b->q));
	b->qlen--;
}

static void set_bookmark(struct ax_bolt *b, const struct ax_ps_value *meta)
{
	const char *bm = ax_ps_dict_str(meta, "bookmark");

	if (bm && *bm) {
		free(b->bookmark);
		b->bookmark = ax_xstrdup(bm);
	}
}

void ax_bolt_resp_release(struct ax_bolt_resp *r)
{
	if (!r)
		return;
	ax_ps_free(r->msg_);
	r->msg_ = NULL;
	r->data = NULL;
}

/* The next response; block: read (and write) as needed, else AX_EAGAIN
 * when it has not arrived yet. */
static ax_err next_resp(struct ax_bolt *b, struct ax_bolt_resp *r, bool block)
{
	memset(r, 0, sizeof(*r));
	for (;;) {
		struct ax_ps_value *m = NULL;
		struct pending p;
		const struct ax_ps_value *f0;

		if (b->qlen == 0)
			return AX_EINVAL;
		p = b->q[0];
		if (b->broken) {
			pop(b);
			if (p.internal)
				continue;
			r->kind = AX_BOLT_BROKEN;
			r->request = p.tag;
			r->err = b->broken;
			snprintf(r->why_, sizeof(r->why_), "%s", b->broken_why);
			r->message = r->why_;
			return AX_OK;
		}
		if (block) {
			if (ax_bolt_flush(b) || read_message(b, &m))
				continue; /* broken now: the branch above answers */
		} else {
			int k = parse_one(b, &m);

			if (k < 0)
				continue;
			if (k == 0)
				return AX_EAGAIN;
		}
		f0 = m->len ? &m->u.items[0] : NULL;
		switch (m->tag) {
		case AX_BOLT_MSG_RECORD:
			if (p.tag != AX_BOLT_MSG_PULL || m->len != 1 || f0->type != AX_PS_LIST) {
				ax_ps_free(m);
				break_conn(b, AX_EPROTO, "unexpected RECORD");
				continue;
			}
			r->kind = AX_BOLT_RECORD;
			r->request = p.tag;
			r->data = f0;
			r->msg_ = m;
			return AX_OK;
		case AX_BOLT_MSG_SUCCESS:
		case AX_BOLT_MSG_FAILURE:
			if (m->len != 1 || f0->type != AX_PS_DICT) {
				ax_ps_free(m);
				break_conn(b, AX_EPROTO, "malformed SUCCESS or FAILURE");
				continue;
			}
			break;
		case AX_BOLT_MSG_IGNORED:
			break;
		default: {
			unsigned tag = m->tag;

			ax_ps_free(m);
			break_conn(b, AX_EPROTO, "unknown response 0x%02X", tag);
			continue;
		}
		}
		pop(b);
		if (m->tag == AX_BOLT_MSG_SUCCESS) {
			set_bookmark(b, f0);
			r->kind = AX_BOLT_SUCCESS;
		} else if (m->tag == AX_BOLT_MSG_FAILURE) {
			b->need_reset = true;
			r->kind = AX_BOLT_FAILURE;
			r->code = ax_ps_dict_str(f0, "code");
			r->message = ax_ps_dict_str(f0, "message");
			if (!r->code)
				r->code = "Neo.DatabaseError.General.UnknownError";
			if (!r->message)
				r->message = "";
			r->err = ax_bolt_code_err(r->code);
		} else {
			b->need_reset = true;
			r->kind = AX_BOLT_IGNORED;
		}
		if (p.internal) {
			if (r->kind != AX_BOLT_SUCCESS) {
				ax_ps_free(m);
				memset(r, 0, sizeof(*r));
				break_conn(b, AX_EPROTO, "RESET was not accepted");
				continue;
			}
			b->need_reset = false;
			ax_ps_free(m);
			memset(r, 0, sizeof(*r));
			continue;
		}
		if (p.tag == AX_BOLT_MSG_RESET && r->kind == AX_BOLT_SUCCESS)
			b->need_reset = false;
		r->request = p.tag;
		r->data = m->tag == AX_BOLT_MSG_IGNORED ? NULL : f0;
		r->msg_ = m;
		return AX_OK;
	}
}

ax_err ax_bolt_next(struct ax_bolt *b, struct ax_bolt_resp *r)
{
	return next_resp(b, r, true);
}

/* ------------------------------------------------------------- connect */

static ax_err tcp_connect(struct ax_bolt *b, int64_t deadline, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	char port[8];
	int gai, last = 0;
	ax_err rc = AX_EIO;

	snprintf(port, sizeof(port), "%u", (unsigned)b->o.port);
	gai = getaddrinfo(b->o.host, port, &hints, &res);
	if (gai) {
		ax_errfmt(err, errlen, "bolt: %s: %s", b->o.host, gai_strerror(gai));
		return AX_EIO;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int one = 1, soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			last = errno;
			close(fd);
			continue;
		}
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc == AX_OK && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && !soerr) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			b->fd = fd;
			break;
		}
		last = rc == AX_ETIMEDOUT ? ETIMEDOUT : soerr ? soerr : errno;
		close(fd);
		if (rc == AX_ETIMEDOUT)
			break;
		rc = AX_EIO;
	}
	freeaddrinfo(res);
	if (b->fd < 0) {
		ax_errfmt(err, errlen, "bolt: connect to %s:%s: %s", b->o.host, port,
			  strerror(last ? last : ECONNREFUSED));
		return rc == AX_ETIMEDOUT ? AX_ETIMEDOUT : AX_EIO;
	}
	return AX_OK;
}

static ax_err tls_start(struct ax_bolt *b, int64_t deadline, char *err, size_t errlen)
{
	const char *name = b->o.tls_server_name ? b->o.tls_server_name : b->o.host;
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
	int k;

	b->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!b->ssl_ctx || !SSL_CTX_set_min_proto_version(b->ssl_ctx, TLS1_2_VERSION))
		goto fail;
	if (b->o.tls == AX_BOLT_TLS_VERIFY) {
		SSL_CTX_set_verify(b->ssl_ctx, SSL_VERIFY_PEER, NULL);
		if (b->o.tls_ca_file ? !SSL_CTX_load_verify_locations(b->ssl_ctx, b->o.tls_ca_file,
								       NULL)
				     : !SSL_CTX_set_default_verify_paths(b->ssl_ctx)) {
			ax_errfmt(err, errlen, "bolt: tls: cannot load CA %s",
				  b->o.tls_ca_file ? b->o.tls_ca_file : "(system)");
			return AX_EINVAL;
		}
	} else {
		SSL_CTX_set_verify(b->ssl_ctx, SSL_VERIFY_NONE, NULL);
	}
	b->ssl = SSL_new(b->ssl_ctx);
	if (!b->ssl || !SSL_set_fd(b->ssl, b->fd))
		goto fail;
	if (!is_ip && !SSL_set_tlsext_host_name(b->ssl, name))
		goto fail;
	if (b->o.tls == AX_BOLT_TLS_VERIFY) {
		if (is_ip ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(b->ssl), name)
			  : !SSL_set1_host(b->ssl, name))
			goto fail;
	}
	while ((k = SSL_connect(b->ssl)) != 1) {
		int e = SSL_get_error(b->ssl, k);
		unsigned long code;
		long v;
		ax_err rc;

		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			rc = wait_fd(b->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
			if (!rc)
				continue;
			ax_errfmt(err, errlen, "bolt: tls handshake %s",
				  rc == AX_ETIMEDOUT ? "timed out" : "failed");
			return rc;
		}
		v = SSL_get_verify_result(b->ssl);
		code = ERR_get_error();
		ERR_clear_error();
		if (v != X509_V_OK) {
			ax_errfmt(err, errlen, "bolt: tls: server certificate refused: %s",
				  X509_verify_cert_error_string(v));
			return AX_EAUTH;
		}
		ax_errfmt(err, errlen, "bolt: tls handshake: %s",
			  code ? ERR_reason_error_string(code) : "connection closed");
		return AX_EIO;
	}
	return AX_OK;
fail: {
	unsigned long code = ERR_get_error();

	ax_errfmt(err, errlen, "bolt: tls setup failed: %s",
		  code && ERR_reason_error_string(code) ? ERR_reason_error_string(code) : "?");
	ERR_clear_error();
	return AX_EIO;
}
}

static bool offered(const uint32_t *props, int v)
{
	int i;

	for (i = 0; i < 4; i++) {
		int maj = props[i] & 0xFF, min = (props[i] >> 8) & 0xFF, range = (props[i] >> 16) & 0xFF;

		if (props[i] && (v >> 8) == maj && (v & 0xFF) <= min && (v & 0xFF) >= min - range)
			return true;
	}
	return false;
}

void ax_bolt_io_handshake(const struct ax_bolt *b, uint8_t out[20])
{
	int i, j;

	memcpy(out, "\x60\x60\xB0\x17", 4);
	for (i = 0; i < 4; i++)
		for (j = 0; j < 4; j++)
			out[4 + 4 * i + j] = (uint8_t)(b->o.proposals[i] >> (8 * (3 - j)));
}

ax_err ax_bolt_io_version(struct ax_bolt *b, const uint8_t v[4], char *err, size_t errlen)
{
	if (memcmp(v, "HTTP", 4) == 0) {
		ax_errfmt(err, errlen, "bolt: the server answered HTTP (the HTTP port, not Bolt's?)");
		return AX_EPROTO;
	}
	b->version = v[3] << 8 | v[2];
	if (b->version == 0) {
		ax_errfmt(err, errlen, "bolt: the server supports none of the offered versions");
		return AX_EPROTO;
	}
	if (v[0] || v[1] || !offered(b->o.proposals, b->version)) {
		ax_errfmt(err, errlen, "bolt: the server chose version %d.%d, which was not offered",
			  v[3], v[2]);
		return AX_EPROTO;
	}
	return AX_OK;
}

static ax_err handshake(struct ax_bolt *b, int64_t deadline, char *err, size_t errlen)
{
	uint8_t hs[20], v[4];
	ax_err rc;

	ax_bolt_io_handshake(b, hs);
	rc = write_all(b, hs, sizeof(hs), deadline);
	if (!rc)
		rc = take(b, 4, v, NULL, deadline);
	if (rc) {
		ax_errfmt(err, errlen, "bolt: handshake: %s", b->broken_why);
		return rc;
	}
	return ax_bolt_io_version(b, v, err, errlen);
}

static void put_auth(struct ax_bolt *b)
{
	if (b->o.user) {
		put_kv_str(&b->msg, "scheme", "basic");
		put_kv_str(&b->msg, "principal", b->o.user);
		put_kv_str(&b->msg, "credentials", b->o.password ? b->o.password : "");
	} else {
		put_kv_str(&b->msg, "scheme", "none");
	}
}

/* One helper's answer: AX_OK on SUCCESS (resp kept for the caller when
 * keep), the error otherwise, "code: message" in err. */
static ax_err expect_success(struct ax_bolt *b, struct ax_bolt_resp *keep, char *err,
			     size_t errlen)
{
	struct ax_bolt_resp r;
	ax_err rc;

	rc = ax_bolt_next(b, &r);
	if (rc) {
		ax_errfmt(err, errlen, "bolt: no request pending");
		return rc;
	}
	switch (r.kind) {
	case AX_BOLT_SUCCESS:
		if (keep)
			*keep = r;
		else
			ax_bolt_resp_release(&r);
		return AX_OK;
	case AX_BOLT_FAILURE:
		ax_errfmt(err, errlen, "%s: %s", r.code, r.message);
		rc = r.err;
		break;
	case AX_BOLT_IGNORED:
		ax_errfmt(err, errlen, "bolt: request ignored after an earlier failure");
		rc = AX_EIO;
		break;
	case AX_BOLT_BROKEN:
		ax_errfmt(err, errlen, "bolt: %s", r.message);
		rc = r.err;
		break;
	case AX_BOLT_RECORD:
		ax_errfmt(err, errlen, "bolt: a record where none was expected");
		rc = AX_EPROTO;
		break;
	}
	ax_bolt_resp_release(&r);
	return rc;
}

void ax_bolt_send_hello(struct ax_bolt *b)
{
	bool logon = b->version >= AX_BOLT_V(5, 1);
	bool agent = b->version >= AX_BOLT_V(5, 3);
	bool patch = b->version == AX_BOLT_V(4, 4);
	uint32_t n = 1 + (logon ? 0 : b->o.user ? 3 : 1) + agent + patch + b->o.routing;

	begin_msg(b, AX_BOLT_MSG_HELLO, 1);
	ax_ps_put_dict(&b->msg, n);
	put_kv_str(&b->msg, "user_agent", b->o.user_agent);
	if (!logon)
		put_auth(b);
	if (agent) { /* required from 5.3 */
		ax_ps_put_cstr(&b->msg, "bolt_agent");
		ax_ps_put_dict(&b->msg, 2);
		put_kv_str(&b->msg, "product", b->o.user_agent);
		put_kv_str(&b->msg, "language", "C");
	}
	if (b->o.routing) {
		ax_ps_put_cstr(&b->msg, "routing");
		ax_ps_put_dict(&b->msg, 1);
		put_kv_str(&b->msg, "address", b->addr);
	}
	if (patch) { /* ask 4.4 for UTC datetimes, as 5.x always sends */
		ax_ps_put_cstr(&b->msg, "patch_bolt");
		ax_ps_put_list(&b->msg, 1);
		ax_ps_put_cstr(&b->msg, "utc");
	}
	end_msg(b, AX_BOLT_MSG_HELLO, false);
	if (logon) {
		begin_msg(b, AX_BOLT_MSG_LOGON, 1);
		ax_ps_put_dict(&b->msg, b->o.user ? 3 : 1);
		put_auth(b);
		end_msg(b, AX_BOLT_MSG_LOGON, false);
	}
}

void ax_bolt_hello_result(struct ax_bolt *b, const struct ax_ps_value *meta)
{
	const char *server = ax_ps_dict_str(meta, "server");

	free(b->server);
	b->server = ax_xstrdup(server ? server : "");
	b->utc = b->version >= AX_BOLT_V(5, 0);
	if (b->version == AX_BOLT_V(4, 4)) {
		const struct ax_ps_value *pb = ax_ps_dict_get(meta, "patch_bolt");
		uint32_t i;

		for (i = 0; pb && pb->type == AX_PS_LIST && i < pb->len; i++)
			if (pb->u.items[i].type == AX_PS_STRING &&
			    strcmp(pb->u.items[i].u.s, "utc") == 0)
				b->utc = true;
	}
}

static ax_err hello(struct ax_bolt *b, char *err, size_t errlen)
{
	bool logon = b->version >= AX_BOLT_V(5, 1);
	struct ax_bolt_resp r;
	ax_err rc;

	ax_bolt_send_hello(b);
	rc = expect_success(b, &r, err, errlen);
	if (rc) {
		if (logon) { /* LOGON's answer (IGNORED or BROKEN) */
			struct ax_bolt_resp r2;

			if (ax_bolt_next(b, &r2) == AX_OK)
				ax_bolt_resp_release(&r2);
		}
		return rc;
	}
	ax_bolt_hello_result(b, r.data);
	ax_bolt_resp_release(&r);
	if (logon)
		return expect_success(b, NULL, err, errlen);
	return AX_OK;
}

static char *dup_opt(const char *s)
{
	return s ? ax_xstrdup(s) : NULL;
}

struct ax_bolt *ax_bolt_detached(const struct ax_bolt_opts *o)
{
	struct ax_bolt *b = ax_xcalloc(1, sizeof(*b));

	b->fd = -1;
	b->o = *o;
	b->o.host = ax_xstrdup(o->host);
	b->o.user = dup_opt(o->user);
	b->o.password = dup_opt(o->password);
	b->o.user_agent = ax_xstrdup(o->user_agent ? o->user_agent : "alexus/1.0");
	b->o.database = dup_opt(o->database);
	b->o.tls_ca_file = dup_opt(o->tls_ca_file);
	b->o.tls_server_name = dup_opt(o->tls_server_name);
	if (!b->o.port)
		b->o.port = DEF_PORT;
	if (!b->o.connect_timeout_ms)
		b->o.connect_timeout_ms = DEF_CONNECT_MS;
	if (!b->o.request_timeout_ms)
		b->o.request_timeout_ms = DEF_REQUEST_MS;
	if (!b->o.max_message)
		b->o.max_message = DEF_MAX_MESSAGE;
	if (!b->o.proposals[0] && !b->o.proposals[1] && !b->o.proposals[2] && !b->o.proposals[3]) {
		b->o.proposals[0] = 0x00040405; /* 5.4 and the four below: 5.4..5.0 */
		b->o.proposals[1] = 0x00000404; /* 4.4 */
	}
	ax_ps_buf_init(&b->out);
	ax_ps_buf_init(&b->msg);
	ax_ps_buf_init(&b->in);
	ax_ps_buf_init(&b->rmsg);
	snprintf(b->addr, sizeof(b->addr), strchr(b->o.host, ':') ? "[%s]:%u" : "%s:%u",
		 b->o.host, (unsigned)b->o.port);
	return b;
}

ax_err ax_bolt_connect(const struct ax_bolt_opts *o, struct ax_bolt **out, char *err,
		       size_t errlen)
{
	struct ax_bolt *b;
	int64_t deadline;
	ax_err rc;

	*out = NULL;
	if (!o || !o->host) {
		ax_errfmt(err, errlen, "bolt: no host");
		return AX_EINVAL;
	}
	b = ax_bolt_detached(o);

	deadline = now_ms() + b->o.connect_timeout_ms;
	b->wait_ms = b->o.connect_timeout_ms;
	rc = tcp_connect(b, deadline, err, errlen);
	if (!rc && b->o.tls)
		rc = tls_start(b, deadline, err, errlen);
	if (!rc)
		rc = handshake(b, deadline, err, errlen);
	if (!rc)
		rc = hello(b, err, errlen);
	if (rc) {
		b->broken = b->broken ? b->broken : rc; /* no GOODBYE on the way out */
		ax_bolt_close(b);
		return rc;
	}
	b->wait_ms = b->o.request_timeout_ms;
	*out = b;
	return AX_OK;
}

void ax_bolt_close(struct ax_bolt *b)
{
	if (!b)
		return;
	if (!b->broken && b->fd >= 0) {
		/* GOODBYE: no answer; best effort, bounded by a short deadline */
		begin_msg(b, AX_BOLT_MSG_GOODBYE, 0);
		end_msg(b, AX_BOLT_MSG_GOODBYE, true);
		b->wait_ms = 1000;
		(void)ax_bolt_flush(b);
	}
	if (b->ssl) {
		/* close_notify, best effort (the socket is non-blocking); nothing
		 * left in this thread's OpenSSL error queue for the next user */
		if (SSL_is_init_finished(b->ssl))
			SSL_shutdown(b->ssl);
		SSL_free(b->ssl);
		ERR_clear_error();
	}
	SSL_CTX_free(b->ssl_ctx);
	if (b->fd >= 0)
		close(b->fd);
	ax_ps_buf_release(&b->out);
	ax_ps_buf_release(&b->msg);
	ax_ps_buf_release(&b->in);
	ax_ps_buf_release(&b->rmsg);
	free(b->q);
	free(b->server);
	free(b->bookmark);
	free((char *)b->o.host);
	free((char *)b->o.user);
	free((char *)b->o.password);
	free((char *)b->o.user_agent);
	free((char *)b->o.database);
	free((char *)b->o.tls_ca_file);
	free((char *)b->o.tls_server_name);
	free(b);
}

int ax_bolt_version(const struct ax_bolt *b)
{
	return b->version;
}

const char *ax_bolt_server(const struct ax_bolt *b)
{
	return b->server ? b->server : "";
}

bool ax_bolt_utc(const struct ax_bolt *b)
{
	return b->utc;
}

const char *ax_bolt_bookmark(const struct ax_bolt *b)
{
	return b->bookmark;
}

bool ax_bolt_broken(const struct ax_bolt *b)
{
	return b->broken != AX_OK;
}

const char *ax_bolt_addr(const struct ax_bolt *b)
{
	return b->addr;
}

ax_err ax_bolt_split_addr(const char *addr, char *hostbuf, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = addr;
	size_t hl;
	char *end;
	unsigned long v;

	if (!addr)
		return AX_EINVAL;
	colon = strrchr(addr, ':');
	if (!colon || colon == addr)
		return AX_EINVAL;
	if (*h == '[') { /* [v6]:port */
		if (colon[-1] != ']')
			return AX_EINVAL;
		h++;
		hl = (size_t)(colon - 1 - h);
	} else {
		hl = (size_t)(colon - h);
		if (memchr(h, ':', hl))
			return AX_EINVAL; /* a bare v6 address is ambiguous */
	}
	if (hl == 0 || hl >= hostlen)
		return AX_EINVAL;
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || v == 0 || v > 65535 || colon[1] == '+' ||
	    colon[1] == '-' || colon[1] == ' ')
		return AX_EINVAL;
	memcpy(hostbuf, h, hl);
	hostbuf[hl] = '\0';
	*port = (uint16_t)v;
	return AX_OK;
}

size_t ax_bolt_pending(const struct ax_bolt *b)
{
	size_t i, n = 0;

	for (i = 0; i < b->qlen; i++)
		n += !b->q[i].internal;
	return n;
}

/* -------------------------------------------------- without a socket */

struct ax_ps_buf *ax_bolt_io_out(struct ax_bolt *b)
{
	return &b->out;
}

void ax_bolt_io_in(struct ax_bolt *b, const void *p, size_t n)
{
	if (b->in_off) { /* drop what was parsed */
		memmove(b->in.data, b->in.data + b->in_off, b->in.len - b->in_off);
		b->in.len -= b->in_off;
		b->in_off = 0;
	}
	ax_ps_buf_append(&b->in, p, n);
}

ax_err ax_bolt_io_next(struct ax_bolt *b, struct ax_bolt_resp *r)
{
	return next_resp(b, r, false);
}

void ax_bolt_io_break(struct ax_bolt *b, ax_err rc, const char *why)
{
	break_conn(b, rc, "%s", why);
}

const struct ax_bolt_opts *ax_bolt_opts_of(const struct ax_bolt *b)
{
	return &b->o;
}

/* ------------------------------------------------------------- helpers */

/* Read and drop answers until only `keep` caller requests are pending. */
static void drain(struct ax_bolt *b, size_t keep)
{
	struct ax_bolt_resp r;

	while (ax_bolt_pending(b) > keep && ax_bolt_next(b, &r) == AX_OK)
		ax_bolt_resp_release(&r);
}

static struct ax_ps_value *copy_value(const struct ax_ps_value *v)
{
	struct ax_ps_buf tmp;
	struct ax_ps_value *c = NULL;

	ax_ps_buf_init(&tmp);
	ax_ps_put_value(&tmp, v);
	if (ax_ps_decode(tmp.data, tmp.len, NULL, &c, NULL, 0))
		c = NULL; /* cannot happen: we encoded it */
	ax_ps_buf_release(&tmp);
	return c;
}

ax_err ax_bolt_query(struct ax_bolt *b, const char *query, const struct ax_ps_buf *params,
		     const struct ax_bolt_tx *tx, int64_t fetch, ax_bolt_record_fn *fn, void *arg,
		     struct ax_ps_value **summary, char *err, size_t errlen)
{
	size_t base = ax_bolt_pending(b);
	struct ax_bolt_resp run, r;
	const struct ax_ps_value *fields;
	bool stop = false;
	ax_err rc;

	if (summary)
		*summary = NULL;
	if (base) {
		ax_errfmt(err, errlen, "bolt: %zu requests still pending", base);
		return AX_EINVAL;
	}
	if (fetch <= 0)
		fetch = -1;
	ax_bolt_send_run(b, query, params, tx);
	ax_bolt_send_pull(b, fetch);
	rc = expect_success(b, &run, err, errlen);
	if (rc) {
		drain(b, base);
		return rc;
	}
	fields = ax_ps_dict_get(run.data, "fields");
	for (;;) {
		rc = ax_bolt_next(b, &r);
		if (rc)
			break;
		if (r.kind == AX_BOLT_RECORD) {
			if (!stop && fn && fn(fields, r.data, arg))
				stop = true;
			ax_bolt_resp_release(&r);
			continue;
		}
		if (r.kind == AX_BOLT_SUCCESS) {
			const struct ax_ps_value *more = ax_ps_dict_get(r.data, "has_more");

			if (more && more->type == AX_PS_BOOL && more->u.b) {
				ax_bolt_resp_release(&r);
				if (stop)
					ax_bolt_send_discard(b, -1);
				else
					ax_bolt_send_pull(b, fetch);
				continue;
			}
			if (summary)
				*summary = copy_value(r.data);
			ax_bolt_resp_release(&r);
			break;
		}
		/* FAILURE, IGNORED or BROKEN ends the result */
		if (r.kind == AX_BOLT_FAILURE) {
			ax_errfmt(err, errlen, "%s: %s", r.code, r.message);
			rc = r.err;
		} else if (r.kind == AX_BOLT_BROKEN) {
			ax_errfmt(err, errlen, "bolt: %s", r.message);
			rc = r.err;
		} else {
			ax_errfmt(err, errlen, "bolt: request ignored after an earlier failure");
			rc = AX_EIO;
		}
		ax_bolt_resp_release(&r);
		break;
	}
	ax_bolt_resp_release(&run);
	drain(b, base);
	return rc;
}

/* The helpers wait for their own answer: they need nothing else pending. */
static int idle_check(struct ax_bolt *b, char *err, size_t errlen)
{
	size_t n = ax_bolt_pending(b);

	if (!n)
		return 0;
	return ax_errfmt(err, errlen, "bolt: %zu requests still pending", n);
}

ax_err ax_bolt_begin(struct ax_bolt *b, const struct ax_bolt_tx *tx, char *err, size_t errlen)
{
	if (idle_check(b, err, errlen))
		return AX_EINVAL;
	ax_bolt_send_begin(b, tx);
	return expect_success(b, NULL, err, errlen);
}

ax_err ax_bolt_commit(struct ax_bolt *b, char *err, size_t errlen)
{
	if (idle_check(b, err, errlen))
		return AX_EINVAL;
	ax_bolt_send_commit(b);
	return expect_success(b, NULL, err, errlen);
}

ax_err ax_bolt_rollback(struct ax_bolt *b, char *err, size_t errlen)
{
	if (idle_check(b, err, errlen))
		return AX_EINVAL;
	ax_bolt_send_rollback(b);
	return expect_success(b, NULL, err, errlen);
}

ax_err ax_bolt_reset(struct ax_bolt *b, char *err, size_t errlen)
{
	if (idle_check(b, err, errlen))
		return AX_EINVAL;
	ax_bolt_send_reset(b);
	return expect_success(b, NULL, err, errlen);
}

/* ------------------------------------------------------------- routing */

void ax_bolt_send_route(struct ax_bolt *b, const char *db)
{
	char addr[300];
	size_t i, nb = b->bookmark ? 1 : 0;

	before_request(b);
	snprintf(addr, sizeof(addr), strchr(b->o.host, ':') ? "[%s]:%u" : "%s:%u", b->o.host,
		 (unsigned)b->o.port);
	begin_msg(b, AX_BOLT_MSG_ROUTE, 3);
	ax_ps_put_dict(&b->msg, 1);
	put_kv_str(&b->msg, "address", addr);
	ax_ps_put_list(&b->msg, (uint32_t)nb);
	for (i = 0; i < nb; i++)
		ax_ps_put_cstr(&b->msg, b->bookmark);
	ax_ps_put_dict(&b->msg, db ? 1 : 0);
	if (db)
		put_kv_str(&b->msg, "db", db);
	end_msg(b, AX_BOLT_MSG_ROUTE, false);
}

void ax_bolt_routes_release(struct ax_bolt_routes *rt)
{
	size_t i;

	if (!rt)
		return;
	for (i = 0; i < rt->nwriters; i++)
		free(rt->writers[i]);
	for (i = 0; i < rt->nreaders; i++)
		free(rt->readers[i]);
	for (i = 0; i < rt->nrouters; i++)
		free(rt->routers[i]);
	free(rt->writers);
	free(rt->readers);
	free(rt->routers);
	free(rt->db);
	memset(rt, 0, sizeof(*rt));
}

static int add_addresses(char ***list, size_t *n, const struct ax_ps_value *addrs)
{
	uint32_t i;

	if (!addrs || addrs->type != AX_PS_LIST)
		return -1;
	for (i = 0; i < addrs->len; i++) {
		if (addrs->u.items[i].type != AX_PS_STRING)
			return -1;
		*list = ax_xrealloc(*list, (*n + 1) * sizeof(**list));
		(*list)[(*n)++] = ax_xstrdup(addrs->u.items[i].u.s);
	}
	return 0;
}

ax_err ax_bolt_route(struct ax_bolt *b, const char *db, struct ax_bolt_routes *rt, char *err,
		     size_t errlen)
{
	const struct ax_ps_value *table, *ttl, *servers;
	struct ax_bolt_resp r;
	uint32_t i;
	ax_err rc;

	memset(rt, 0, sizeof(*rt));
	if (idle_check(b, err, errlen))
		return AX_EINVAL;
	ax_bolt_send_route(b, db);
	rc = expect_success(b, &r, err, errlen);
	if (rc)
		return rc;
	table = ax_ps_dict_get(r.data, "rt");
	ttl = ax_ps_dict_get(table, "ttl");
	servers = ax_ps_dict_get(table, "servers");
	if (!ttl || ttl->type != AX_PS_INT || !servers || servers->type != AX_PS_LIST)
		goto bad;
	rt->ttl = ttl->u.i;
	rt->db = ax_xstrdup(ax_ps_dict_str(table, "db") ? ax_ps_dict_str(table, "db")
						       : db ? db : "");
	for (i = 0; i < servers->len; i++) {
		const struct ax_ps_value *s = &servers->u.items[i];
		const char *role = ax_ps_dict_str(s, "role");
		const struct ax_ps_value *addrs = ax_ps_dict_get(s, "addresses");
		int bad;

		if (!role)
			goto bad;
		if (strcmp(role, "WRITE") == 0)
			bad = add_addresses(&rt->writers, &rt->nwriters, addrs);
		else if (strcmp(role, "READ") == 0)
			bad = add_addresses(&rt->readers, &rt->nreaders, addrs);
		else if (strcmp(role, "ROUTE") == 0)
			bad = add_addresses(&rt->routers, &rt->nrouters, addrs);
		else
			bad = 0; /* a role from a later version: not ours to use */
		if (bad)
			goto bad;
	}
	ax_bolt_resp_release(&r);
	return AX_OK;
bad:
	ax_bolt_resp_release(&r);
	ax_bolt_routes_release(rt);
	ax_errfmt(err, errlen, "bolt: malformed routing table");
	return AX_EPROTO;
}

ax_err ax_bolt_parse_uri(const char *uri, struct ax_bolt_opts *o, char *hostbuf, size_t hostlen)
{
	static const struct {
		const char *scheme;
		int tls;
		bool routing;
	} schemes[] = {
		{ "bolt://", AX_BOLT_TLS_OFF, false },    { "bolt+s://", AX_BOLT_TLS_VERIFY, false },
		{ "bolt+ssc://", AX_BOLT_TLS_ANY, false }, { "neo4j://", AX_BOLT_TLS_OFF, true },
		{ "neo4j+s://", AX_BOLT_TLS_VERIFY, true }, { "neo4j+ssc://", AX_BOLT_TLS_ANY, true },
	};
	const char *h, *end, *port = NULL;
	size_t i, hl;

	if (!uri)
		return AX_EINVAL;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(uri, schemes[i].scheme, strlen(schemes[i].scheme)) == 0)
			break;
	if (i == sizeof(schemes) / sizeof(schemes[0]))
		return AX_EINVAL;
	h = uri + strlen(schemes[i].scheme);
	end = h + strcspn(h, "/?#");
	if (*end && strcmp(end, "/") != 0)
		return AX_EINVAL; /* no paths or routing parameters */
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));

		if (!close)
			return AX_EINVAL;
		hl = (size_t)(close - h - 1);
		h++;
		if (close + 1 < end) {
			if (close[1] != ':')
				return AX_EINVAL;
			port = close + 2;
		}
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));

		hl = (size_t)((colon ? colon : end) - h);
		if (colon)
			port = colon + 1;
	}
	if (hl == 0 || hl >= hostlen)
		return AX_EINVAL;
	memcpy(hostbuf, h, hl);
	hostbuf[hl] = '\0';
	o->port = DEF_PORT;
	if (port) {
		unsigned long v = 0;
		const char *q;

		if (port == end)
			return AX_EINVAL;
		for (q = port; q < end; q++) {
			if (*q < '0' || *q > '9')
				return AX_EINVAL;
			v = v * 10 + (unsigned long)(*q - '0');
			if (v > 65535)
				return AX_EINVAL;
		}
		if (v == 0)
			return AX_EINVAL;
		o->port = (uint16_t)v;
	}
	o->host = hostbuf;
	o->tls = schemes[i].tls;
	o->routing = schemes[i].routing;
	return AX_OK;
}
