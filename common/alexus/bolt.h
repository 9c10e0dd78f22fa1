/* bolt.h - a blocking client for Neo4j's Bolt protocol (4.4 and 5.0-5.4).
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
 * table (ax_bolt_route); choosing a writer or reader from it, refreshing
 * it and a pool are the caller's for now.  Not implemented yet
 * (docs/bolt.md): a libevent non-blocking variant, a pool. */
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

#endif /* AX_BOLT_H */
