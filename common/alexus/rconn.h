/* rconn.h - one async Redis connection bound to a libevent base.
 *
 * Owns a hiredis async context, reconnects with backoff after any failure,
 * and enforces a per-command deadline (hiredis 0.14 has none): a command
 * that outlives it drops the connection, which fails every command in
 * flight with AX_ETIMEDOUT.  Not thread-safe: use it only from the thread
 * that runs its event_base. */
#ifndef AX_RCONN_H
#define AX_RCONN_H

#include <stddef.h>
#include "alexus/err.h"

struct event_base;
struct redisReply;
struct ax_rconn;

struct ax_rconn_opts {
	const char *host;
	int port;
	int command_timeout_ms;  /* deadline per command; 0 = 2000 */
	int reconnect_ms;        /* first reconnect delay, doubles to 2 s; 0 = 100 */
};

/* Called exactly once per command.  reply is NULL when rc != AX_OK, is
 * a Redis error reply possibly (check type), and is valid only until the
 * callback returns. */
typedef void ax_rconn_reply_fn(ax_err rc, struct redisReply *reply, void *arg);

/* Starts connecting at once; never fails except on bad options (NULL).
 * Reconnects by itself after any failure; the process must ignore
 * SIGPIPE. */
struct ax_rconn *ax_rconn_new(struct event_base *base, const struct ax_rconn_opts *o);
/* Fails every pending command with AX_EIO, then frees.  NULL-safe.  May be
 * called from inside a reply callback (rc is released once that callback
 * returns; make no further calls on it). */
void ax_rconn_free(struct ax_rconn *rc);

/* 1 when connected and able to take commands. */
int ax_rconn_ready(const struct ax_rconn *rc);

/* Queue a command; AX_EAGAIN when not connected, AX_EINVAL for bad
 * arguments, AX_EIO if hiredis refused it -- on any non-AX_OK return fn is
 * NOT called.  On AX_OK fn is called exactly once, never from inside this
 * call: AX_OK with the reply, AX_ETIMEDOUT when this or an earlier command
 * outlived command_timeout_ms (the connection was dropped), AX_EIO when the
 * connection failed or ax_rconn_free ran.  argvlen may be NULL (strlen).
 * Commands may be issued from inside a reply callback. */
ax_err ax_rconn_cmdargv(struct ax_rconn *rc, ax_rconn_reply_fn *fn, void *arg,
			int argc, const char **argv, const size_t *argvlen) AX_MUSTCHECK;

#endif /* AX_RCONN_H */
