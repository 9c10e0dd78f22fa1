/* bolt.h - a client for Neo4j's Bolt protocol (4.4 and 5.0-5.4): blocking, pooled
 * with neo4j:// routing, and non-blocking on libevent.
 *
 * One struct ax_bolt is one TCP connection to one server, used from one
 * thread.  ax_bolt_connect() connects (with a timeout), agrees a version
 * (proposals 5.4 down to 5.0, then 4.4), and authenticates: HELLO with the
 * credentials on 4.4 and 5.0, HELLO then LOGON from 5.1 on.
 *
 * Requests and responses (the message level):
 *   ax_bolt_send_*() queue a request; nothing is written until
 *   ax_bolt_next() (or ax_bolt_flush()), so requests pipeline (RUN and
 *   PULL go out in one write, as drivers do).  ax_bolt_next() returns the
 *   next response to the oldest pending request: RECORDs (for a PULL),
 *   then its SUCCESS, FAILURE or IGNORED, which ends the request.
 *   Every request gets exactly one ending response.  When the connection
 *   breaks (a write or read fails, a response is late, the peer breaks the
 *   protocol or a cap), every request still pending, and every one queued
 *   later, ends with AX_BOLT_BROKEN, once each, in order.
 *
 * After a FAILURE the server ignores everything until RESET; the client
 * queues a RESET before the next request by itself (its answer is never
 * seen by the caller), so a FAILURE costs the caller nothing but the
 * error.  Errors are Neo4j's: code ("Neo.ClientError.Statement.
 * SyntaxError") and message, also copied into errbuf by the helpers.
 *
 * Bookmarks: the last bookmark any SUCCESS carried (COMMIT, or the end of
 * an auto-commit result) is kept and sent with the next BEGIN or
 * auto-commit RUN unless the caller gives its own.
 *
 * Deadlines: each response must start within request_timeout_ms of the
 * call that waits for it (a streamed result: each message); a late one
 * breaks the connection (AX_ETIMEDOUT), as nothing else can be trusted to
 * arrive in order after it.  Sizes: one message at most max_message
 * bytes, decoded under caps (packstream.h).
 *
 * TLS: see ax_bolt_opts.tls.  Routing: ROUTE gives a cluster's routing
 * table (ax_bolt_route); the pool below uses it (writers for writes,
 * readers for reads, refreshed after its ttl).  A non-blocking variant
 * on libevent shares this client's protocol state ("libevent client"
 * below). */
#ifndef AX_BOLT_H
#define AX_BOLT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "alexus/err.h"
#include "alexus/packstream.h"

/* Message tags. */
enum {
	AX_BOLT_MSG_HELLO = 0x01,
	AX_BOLT_MSG_GOODBYE = 0x02,
	AX_BOLT_MSG_RESET = 0x0F,
	AX_BOLT_MSG_RUN = 0x10,
	AX_BOLT_MSG_BEGIN = 0x11,
	AX_BOLT_MSG_COMMIT = 0x12,
	AX_BOLT_MSG_ROLLBACK = 0x13,
	AX_BOLT_MSG_DISCARD = 0x2F,
	AX_BOLT_MSG_PULL = 0x3F,
	AX_BOLT_MSG_ROUTE = 0x66,
	AX_BOLT_MSG_LOGON = 0x6A,
	AX_BOLT_MSG_SUCCESS = 0x70,
	AX_BOLT_MSG_RECORD = 0x71,
	AX_BOLT_MSG_IGNORED = 0x7E,
	AX_BOLT_MSG_FAILURE = 0x7F,
};

#define AX_BOLT_V(major, minor) ((major) << 8 | (minor))

struct ax_bolt_opts {
	const char *host;              /* name or address */
	uint16_t port;                 /* 0 = 7687 */
	const char *user;              /* NULL: auth scheme "none" */
	const char *password;
	const char *user_agent;        /* NULL = "alexus/1.0" */
	const char *database;          /* default for auto-commit RUN and BEGIN; NULL = server's */
	uint32_t connect_timeout_ms;   /* 0 = 5000: TCP connect, handshake and HELLO */
	uint32_t request_timeout_ms;   /* 0 = 30000 */
	uint32_t max_message;          /* 0 = 64 MiB */
	struct ax_ps_caps caps;        /* decoding caps for responses; zero = defaults */
	/* The four 32-bit version proposals as sent; all zero = 5.4..5.0, 4.4 */
	uint32_t proposals[4];
	/* TLS (OpenSSL, TLS 1.2 or later): AX_BOLT_TLS_OFF for bolt://,
	 * AX_BOLT_TLS_VERIFY for bolt+s:// (the certificate must chain to
	 * tls_ca_file, or to the system's CAs when that is NULL, and name
	 * tls_server_name, default host), AX_BOLT_TLS_ANY for bolt+ssc://
	 * (encrypted, any certificate: the caller should log that). */
	int tls;
	const char *tls_ca_file;
	const char *tls_server_name;
	/* neo4j:// (a cluster): HELLO carries the routing context
	 * {"address": "host:port"}, so the server answers ROUTE. */
	bool routing;
};

/* "bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://" or
 * "neo4j+ssc://" then host ("[v6]" allowed) and an optional ":port": sets
 * o->host (into hostbuf), o->port, o->tls and o->routing; other fields are
 * left alone.  AX_EINVAL on anything else. */
ax_err ax_bolt_parse_uri(const char *uri, struct ax_bolt_opts *o, char *hostbuf, size_t hostlen);

enum {
	AX_BOLT_TLS_OFF = 0,
	AX_BOLT_TLS_VERIFY = 1,
	AX_BOLT_TLS_ANY = 2,
};

/* Transaction settings for BEGIN and auto-commit RUN; every field is
 * optional (zero). */
struct ax_bolt_tx {
	const char *db;                /* NULL = opts.database */
	const char *const *bookmarks;  /* NULL = the connection's last bookmark */
	size_t nbookmarks;
	const struct ax_ps_buf *metadata; /* one encoded dictionary (tx_metadata) */
	uint32_t timeout_ms;           /* tx_timeout */
	bool read;                     /* mode "r" */
};

enum ax_bolt_kind {
	AX_BOLT_SUCCESS,
	AX_BOLT_RECORD,
	AX_BOLT_FAILURE,
	AX_BOLT_IGNORED,
	AX_BOLT_BROKEN,
};

struct ax_bolt_resp {
	enum ax_bolt_kind kind;
	uint8_t request;               /* tag of the request answered (AX_BOLT_MSG_*) */
	/* SUCCESS, FAILURE: the metadata dictionary; RECORD: the list of
	 * values; NULL otherwise.  Valid until ax_bolt_resp_release. */
	const struct ax_ps_value *data;
	const char *code;              /* FAILURE: Neo4j's code */
	const char *message;           /* FAILURE: Neo4j's message; BROKEN: why */
	ax_err err;                    /* FAILURE: mapped (see ax_bolt_code_err); BROKEN: cause */
	struct ax_ps_value *msg_;      /* private */
	char why_[160];                /* private */
};

struct ax_bolt;

ax_err ax_bolt_connect(const struct ax_bolt_opts *o, struct ax_bolt **out, char *err,
		       size_t errlen) AX_MUSTCHECK;
/* GOODBYE (when the connection is sound), close, free.  NULL-safe. */
void ax_bolt_close(struct ax_bolt *b);

int ax_bolt_version(const struct ax_bolt *b);        /* AX_BOLT_V(5, 4)... */
const char *ax_bolt_server(const struct ax_bolt *b); /* HELLO's "server", or "" */
/* Zoned datetimes in UTC form (0x49/0x69): always from 5.0, on 4.4 when the
 * server accepted the "utc" patch. */
bool ax_bolt_utc(const struct ax_bolt *b);
const char *ax_bolt_bookmark(const struct ax_bolt *b); /* last seen, or NULL */
bool ax_bolt_broken(const struct ax_bolt *b);
size_t ax_bolt_pending(const struct ax_bolt *b);

/* ---------------------------------------------------- message level */

/* params: one encoded dictionary, NULL = {}.  tx: for an auto-commit RUN
 * (outside BEGIN); inside a transaction it must be NULL. */
void ax_bolt_send_run(struct ax_bolt *b, const char *query, const struct ax_ps_buf *params,
		      const struct ax_bolt_tx *tx);
void ax_bolt_send_pull(struct ax_bolt *b, int64_t n);    /* -1 = all */
void ax_bolt_send_discard(struct ax_bolt *b, int64_t n); /* -1 = all */
void ax_bolt_send_begin(struct ax_bolt *b, const struct ax_bolt_tx *tx);
void ax_bolt_send_commit(struct ax_bolt *b);
void ax_bolt_send_rollback(struct ax_bolt *b);
void ax_bolt_send_reset(struct ax_bolt *b);
/* Write everything queued; AX_OK or the error that broke the connection. */
ax_err ax_bolt_flush(struct ax_bolt *b);
/* The next response (see above).  AX_OK with *r filled, to release with
 * ax_bolt_resp_release; AX_EINVAL when no request is pending. */
ax_err ax_bolt_next(struct ax_bolt *b, struct ax_bolt_resp *r);
void ax_bolt_resp_release(struct ax_bolt_resp *r);

/* Neo4j error code -> ax_err: Security -> AX_EAUTH, TransientError ->
 * AX_EAGAIN, ClientError -> AX_EINVAL, anything else -> AX_EIO. */
ax_err ax_bolt_code_err(const char *code);

/* ROUTE (Bolt 4.4 and 5.x): the routing table of db (NULL = the default
 * database) as the server sees it.  Addresses are "host:port". */
struct ax_bolt_routes {
	int64_t ttl;                   /* seconds the table may be used */
	char *db;
	char **writers, **readers, **routers;
	size_t nwriters, nreaders, nrouters;
};

void ax_bolt_send_route(struct ax_bolt *b, const char *db);
ax_err ax_bolt_route(struct ax_bolt *b, const char *db, struct ax_bolt_routes *rt, char *err,
		     size_t errlen) AX_MUSTCHECK;
void ax_bolt_routes_release(struct ax_bolt_routes *rt);

/* ------------------------------------------------------------ helpers */

/* The helpers send one request (or a RUN and its PULLs) and wait for its
 * answers, so they refuse (AX_EINVAL) while other requests are pending. */

/* Called for each record: fields is the list of column names, values the
 * list of values; non-zero stops (the rest is discarded). */
typedef int ax_bolt_record_fn(const struct ax_ps_value *fields, const struct ax_ps_value *values,
			      void *arg);

/* RUN, then PULL fetch records at a time (<= 0: all at once) while the
 * server says has_more.  summary (optional) gets the final SUCCESS
 * metadata (release with ax_ps_free).  Errors: Neo4j's, "code: message"
 * in err; AX_EIO etc. when the connection broke. */
ax_err ax_bolt_query(struct ax_bolt *b, const char *query, const struct ax_ps_buf *params,
		     const struct ax_bolt_tx *tx, int64_t fetch, ax_bolt_record_fn *fn, void *arg,
		     struct ax_ps_value **summary, char *err, size_t errlen) AX_MUSTCHECK;
ax_err ax_bolt_begin(struct ax_bolt *b, const struct ax_bolt_tx *tx, char *err,
		     size_t errlen) AX_MUSTCHECK;
ax_err ax_bolt_commit(struct ax_bolt *b, char *err, size_t errlen) AX_MUSTCHECK;
ax_err ax_bolt_rollback(struct ax_bolt *b, char *err, size_t errlen) AX_MUSTCHECK;
ax_err ax_bolt_reset(struct ax_bolt *b, char *err, size_t errlen) AX_MUSTCHECK;

/* ------------------------------------------------ without a socket */

/* The protocol without the I/O, for the libevent client (bolt_async.c),
 * so both clients share one state machine: framing, the pending queue,
 * FAILURE then RESET, bookmarks, decoding under the caps.
 * ax_bolt_detached() makes a struct ax_bolt with no socket (o's defaults
 * applied); the caller writes ax_bolt_io_handshake()'s 20 bytes, gives
 * the 4 answered to ax_bolt_io_version(), then queues requests with
 * ax_bolt_send_*() (ax_bolt_send_hello() first: HELLO, and LOGON from
 * 5.1; ax_bolt_hello_result() with HELLO's SUCCESS metadata), writes
 * what ax_bolt_io_out() holds (and resets it), feeds bytes read to
 * ax_bolt_io_in(), and takes responses from ax_bolt_io_next(), which is
 * ax_bolt_next() that answers AX_EAGAIN instead of reading.
 * ax_bolt_io_break() says the connection is gone: every pending request
 * then ends with AX_BOLT_BROKEN, once each.  Never call the blocking
 * functions (ax_bolt_next, the helpers) on a detached connection. */
struct ax_bolt *ax_bolt_detached(const struct ax_bolt_opts *o);
void ax_bolt_io_handshake(const struct ax_bolt *b, uint8_t out[20]);
ax_err ax_bolt_io_version(struct ax_bolt *b, const uint8_t in[4], char *err, size_t errlen);
void ax_bolt_send_hello(struct ax_bolt *b);
void ax_bolt_hello_result(struct ax_bolt *b, const struct ax_ps_value *meta);
struct ax_ps_buf *ax_bolt_io_out(struct ax_bolt *b);
void ax_bolt_io_in(struct ax_bolt *b, const void *p, size_t n);
ax_err ax_bolt_io_next(struct ax_bolt *b, struct ax_bolt_resp *r);
void ax_bolt_io_break(struct ax_bolt *b, ax_err rc, const char *why);
/* The options in force (defaults applied). */
const struct ax_bolt_opts *ax_bolt_opts_of(const struct ax_bolt *b);

/* "host:port" ("[v6]:port") of the server b is connected to, the form
 * routing tables use. */
const char *ax_bolt_addr(const struct ax_bolt *b);
/* Split such an address: host into hostbuf; AX_EINVAL when malformed. */
ax_err ax_bolt_split_addr(const char *addr, char *hostbuf, size_t hostlen, uint16_t *port);

/* ---------------------------------------------------- libevent client */

/* The non-blocking client (common/bolt_async.c) on a libevent
 * event_base, for the daemons: the same protocol state as the blocking
 * client (the "without a socket" calls above), driven by the loop.
 * ax_bolt_async_connect() starts connecting at once; ready is called
 * once from the loop, with AX_OK when HELLO (and LOGON) succeeded, or the
 * error (the connection is then dead: close it).  Requests may be queued
 * from ready on; each gets its callback called from the loop for its
 * RECORDs (a PULL) then exactly once for its ending (SUCCESS, FAILURE,
 * IGNORED or BROKEN).  Deadlines are event timers: connect_timeout_ms for
 * connect + handshake + HELLO, request_timeout_ms for each response
 * message while requests are pending (a late one breaks the connection).
 * A broken connection, or ax_bolt_async_close(), ends every pending
 * request with BROKEN, once each, in order; requests queued on a dead
 * connection end the same way, from the loop.  Callbacks may queue
 * requests and close the connection (the close takes effect when the
 * callback returns).  No TLS yet (docs/bolt.md): ready says AX_EINVAL. */
struct event_base;
struct ax_bolt_async;

typedef void ax_bolt_async_ready_fn(struct ax_bolt_async *c, ax_err rc, const char *why,
				    void *arg);
/* r and its data are valid during the call only. */
typedef void ax_bolt_async_fn(struct ax_bolt_async *c, const struct ax_bolt_resp *r, void *arg);

struct ax_bolt_async *ax_bolt_async_connect(struct event_base *base, const struct ax_bolt_opts *o,
					    ax_bolt_async_ready_fn *ready, void *arg);
void ax_bolt_async_run(struct ax_bolt_async *c, const char *query, const struct ax_ps_buf *params,
		       const struct ax_bolt_tx *tx, ax_bolt_async_fn *fn, void *arg);
void ax_bolt_async_pull(struct ax_bolt_async *c, int64_t n, ax_bolt_async_fn *fn, void *arg);
void ax_bolt_async_discard(struct ax_bolt_async *c, int64_t n, ax_bolt_async_fn *fn, void *arg);
void ax_bolt_async_begin(struct ax_bolt_async *c, const struct ax_bolt_tx *tx,
			 ax_bolt_async_fn *fn, void *arg);
void ax_bolt_async_commit(struct ax_bolt_async *c, ax_bolt_async_fn *fn, void *arg);
void ax_bolt_async_rollback(struct ax_bolt_async *c, ax_bolt_async_fn *fn, void *arg);
void ax_bolt_async_reset(struct ax_bolt_async *c, ax_bolt_async_fn *fn, void *arg);
/* The protocol state: version, server, bookmark (read only). */
struct ax_bolt *ax_bolt_async_conn(struct ax_bolt_async *c);
size_t ax_bolt_async_pending(const struct ax_bolt_async *c);
/* Pending requests end with BROKEN (their callbacks run now), then the
 * connection is closed and freed.  NULL-safe. */
void ax_bolt_async_close(struct ax_bolt_async *c);

/* --------------------------------------------------------------- pool */

/* A pool of connections shared by threads (common/bolt_pool.c): up to
 * size connections per server address, each used by one thread between
 * ax_bolt_pool_get() and ax_bolt_pool_put().  A connection that broke is
 * closed at put, never handed out again; an idle one older than idle_ms
 * is closed instead of being handed out (servers and load balancers
 * drop idle connections, and a dead one would cost a caller a failed
 * request).  get() waits up to wait_ms for a connection to come back
 * when a server's size are all in use (AX_ETIMEDOUT after that).
 *
 * Routing (o->routing, a neo4j:// URI): the pool asks the routers for
 * the routing table of o->database with ROUTE (the URI's server first,
 * then the table's routers, in order) and keeps it for its ttl.
 * get(AX_BOLT_WRITE) hands out a connection to a writer, get(AX_BOLT_READ)
 * to a reader, round robin.  A member that cannot be connected to, or
 * whose connection comes back broken, is dropped from the table (the
 * next get goes to another; an empty role refreshes the table first).
 * Without routing every get is to the one server of the URI. */
#define AX_BOLT_POOL_SIZE 8          /* default connections per server */
#define AX_BOLT_POOL_IDLE_MS 300000  /* default idle age before a connection is closed */
#define AX_BOLT_POOL_WAIT_MS 10000   /* default wait for a free connection */

enum ax_bolt_access {
	AX_BOLT_WRITE = 0,
	AX_BOLT_READ = 1,
};

struct ax_bolt_pool;

/* size 0 = AX_BOLT_POOL_SIZE, idle_ms 0 = AX_BOLT_POOL_IDLE_MS; o is copied. */
struct ax_bolt_pool *ax_bolt_pool_new(const struct ax_bolt_opts *o, unsigned size,
				      uint32_t idle_ms);
/* Close every idle connection and free the pool; every connection must
 * have been put back.  NULL-safe. */
void ax_bolt_pool_free(struct ax_bolt_pool *p);
/* A connection for mode (ignored without routing): idle or new.
 * wait_ms 0 = AX_BOLT_POOL_WAIT_MS.  Errors: AX_ETIMEDOUT (none free in
 * time), the connect's error (AX_EAUTH, AX_EIO...), AX_EIO when the
 * routing table has no member for mode; why in err. */
ax_err ax_bolt_pool_get(struct ax_bolt_pool *p, enum ax_bolt_access mode, uint32_t wait_ms,
			struct ax_bolt **out, char *err, size_t errlen) AX_MUSTCHECK;
/* Give b back (NULL-safe).  Broken, or with requests still pending: it is
 * closed and, when routing, its server dropped from the table. */
void ax_bolt_pool_put(struct ax_bolt_pool *p, struct ax_bolt *b);

struct ax_bolt_pool_stats {
	unsigned open;       /* connections open, idle or in use */
	unsigned idle;
	unsigned connects;   /* connections made so far */
	unsigned discarded;  /* closed because broken or too old */
	unsigned refreshes;  /* routing tables fetched */
};
void ax_bolt_pool_stats(struct ax_bolt_pool *p, struct ax_bolt_pool_stats *st);
/* The routing table in use, copied (release with ax_bolt_routes_release);
 * AX_ENOTFOUND when there is none (no routing, or not fetched yet). */
ax_err ax_bolt_pool_routes(struct ax_bolt_pool *p, struct ax_bolt_routes *rt);

#endif /* AX_BOLT_H */
