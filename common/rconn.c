/* rconn.c - one async Redis connection on a libevent base (see rconn.h).
 *
 * Design.  hiredis 0.14.1 has no async timeouts, so every command carries
 * its own libevent timer (the h2o redis client does the same).  A deadline
 * that fires drops the whole connection with redisAsyncFree(), which makes
 * hiredis call every pending reply callback at once with a NULL reply; we
 * turn those into AX_ETIMEDOUT (our drop) or AX_EIO (the server went away),
 * then arm the reconnect timer.  Connecting has its own deadline (the
 * command timeout) because a non-blocking connect(2) can hang for minutes.
 * Reconnects back off from reconnect_ms, doubling up to 2 s, and the delay
 * resets once a connection succeeds.
 *
 * Exactly once.  A command's completion runs through cmd_finish(), which
 * frees its deadline and calls the user's function; the struct itself is
 * freed only when hiredis hands it back (hiredis calls each reply callback
 * exactly once, with NULL when the context dies).  If ax_rconn_free()
 * completes commands early, it detaches them (cmd->rc = NULL) so hiredis's
 * later NULL callback only frees memory.
 *
 * Lifetimes and re-entry (STYLE.md 4.4 / rule 5).  User code runs inside
 * our reply callback, and may call ax_rconn_free() or issue commands there.
 * Two rules keep that safe:
 *  - rc is never freed while one of our frames still uses it: every entry
 *    point counts itself in rc->depth, and the last one out frees rc when
 *    ax_rconn_free() asked for it (the ENTERED/DELETED idea of hiredis's own
 *    libevent adapter);
 *  - we call redisAsyncFree() only from our own timer callbacks, from
 *    ax_rconn_free(), or -- through ax_rconn_free() -- from inside a *reply*
 *    callback.  In the last case hiredis itself defers the free until the
 *    callback returns (redisAsyncFree sets REDIS_FREEING and returns while
 *    REDIS_IN_CALLBACK is set; redisProcessCallbacks finishes the job), so
 *    the context is never freed under hiredis's feet.  We never free it from
 *    the connect or disconnect callbacks, where hiredis does NOT defer, and
 *    no user code runs in those.
 * Before we free a context ourselves we clear ac->data, so its connect and
 * disconnect callbacks, if hiredis still runs them, know it is not ours.
 *
 * The process must ignore SIGPIPE (hiredis writes to a socket whose peer
 * may have gone). */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "alexus/rconn.h"
#include "alexus/mem.h"

#define RC_DEFAULT_TIMEOUT_MS 2000
#define RC_DEFAULT_RECONNECT_MS 100
#define RC_MAX_BACKOFF_MS 2000

struct rcmd {
	struct ax_rconn *rc;      /* NULL once completed early (detached) */
	ax_rconn_reply_fn *fn;
	void *arg;
	struct event *deadline;   /* NULL once completed */
	TAILQ_ENTRY(rcmd) link;   /* in rc->pending while rc is set */
};

TAILQ_HEAD(rcmd_list, rcmd);

enum rc_state {
	RC_DOWN,          /* no context; the retry timer is armed (or closing) */
	RC_CONNECTING,    /* context exists, connect(2) in progress */
	RC_READY,         /* connected, takes commands */
	RC_DYING,         /* hiredis is tearing the context down */
};

struct ax_rconn {
	struct event_base *base;
	char *host;
	int port;
	int timeout_ms;           /* per command, and for connecting */
	int reconnect_ms;         /* first retry delay */
	int backoff_ms;           /* next retry delay */
	redisAsyncContext *ac;    /* NULL when RC_DOWN */
	enum rc_state state;
	ax_err fail_code;         /* what the dying context's commands get */
	struct rcmd_list pending; /* commands sent and not yet completed */
	struct event *retry_ev;   /* reconnect timer */
	struct event *connect_ev; /* connect deadline */
	int depth;                /* our frames on the stack that use rc */
	int closing;              /* ax_rconn_free was called */
};

static void start_connect(struct ax_rconn *rc);

static struct timeval ms_tv(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

static void rc_destroy(struct ax_rconn *rc)
{
	event_free(rc->retry_ev);
	event_free(rc->connect_ev);
	free(rc->host);
	free(rc);
}

static void rc_enter(struct ax_rconn *rc)
{
	rc->depth++;
}

/* Leave one of our frames; the outermost frees rc if it is closing.
 * Returns 1 when rc is gone (the caller must not touch it). */
static int rc_leave(struct ax_rconn *rc)
{
	if (--rc->depth == 0 && rc->closing) {
		rc_destroy(rc);
		return 1;
	}
	return 0;
}

/* Complete a command: exactly once, whatever raced to get here first. */
static void cmd_finish(struct rcmd *cmd, ax_err code, redisReply *reply)
{
	if (cmd->deadline == NULL)
		return;
	event_free(cmd->deadline);
	cmd->deadline = NULL;
	cmd->fn(code, code == AX_OK ? reply : NULL, cmd->arg);
}

static void schedule_retry(struct ax_rconn *rc)
{
	struct timeval tv;

	if (rc->closing)
		return;
	tv = ms_tv(rc->backoff_ms);
	evtimer_add(rc->retry_ev, &tv);
	rc->backoff_ms *= 2;
	if (rc->backoff_ms > RC_MAX_BACKOFF_MS)
		rc->backoff_ms = RC_MAX_BACKOFF_MS;
}

/* Drop the current context now: every pending command fails with code,
 * then a reconnect is scheduled.  Called only from our own timer
 * callbacks, never from inside a hiredis callback. */
static void rc_drop(struct ax_rconn *rc, ax_err code)
{
	redisAsyncContext *ac = rc->ac;

	if (ac == NULL)
		return;
	evtimer_del(rc->connect_ev);
	rc->ac = NULL;
	rc->state = RC_DOWN;
	rc->fail_code = code;
	ac->data = NULL;
	redisAsyncFree(ac);       /* runs on_reply(NULL) for each pending command */
	schedule_retry(rc);
}

/* hiredis: a reply (or NULL when the context is going away). */
static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
	struct rcmd *cmd = priv;
	struct ax_rconn *rc = cmd->rc;

	(void)ac;
	if (rc == NULL) {             /* completed early by ax_rconn_free */
		free(cmd);
		return;
	}
	TAILQ_REMOVE(&rc->pending, cmd, link);
	cmd->rc = NULL;
	rc_enter(rc);
	if (r == NULL && rc->state == RC_READY)
		rc->state = RC_DYING; /* hiredis is failing everything */
	cmd_finish(cmd, r != NULL ? AX_OK : rc->fail_code, r);
	free(cmd);
	(void)rc_leave(rc);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct ax_rconn *rc = ac->data;

	if (rc == NULL)
		return;
	evtimer_del(rc->connect_ev);
	if (status != REDIS_OK) {
		/* hiredis frees the context after this returns and calls no
		 * disconnect callback for a connection that never came up. */
		rc->ac = NULL;
		rc->state = RC_DOWN;
		schedule_retry(rc);
		return;
	}
	rc->state = RC_READY;
	rc->backoff_ms = rc->reconnect_ms;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct ax_rconn *rc = ac->data;

	(void)status;
	if (rc == NULL)               /* a context we already let go of */
		return;
	/* The server closed or an I/O error happened; hiredis has already
	 * failed every pending command and frees the context after this. */
	rc->ac = NULL;
	rc->state = RC_DOWN;
	schedule_retry(rc);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct rcmd *cmd = arg;
	struct ax_rconn *rc = cmd->rc;

	(void)fd;
	(void)what;
	/* Detached commands have no deadline any more, so rc is set.  The
	 * drop completes cmd (and frees this very event, which libevent
	 * allows from inside its own callback). */
	rc_enter(rc);
	rc_drop(rc, AX_ETIMEDOUT);
	(void)rc_leave(rc);
}

static void on_connect_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ax_rconn *rc = arg;

	(void)fd;
	(void)what;
	rc_enter(rc);
	rc_drop(rc, AX_ETIMEDOUT);
	(void)rc_leave(rc);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct ax_rconn *rc = arg;

	(void)fd;
	(void)what;
	if (!rc->closing && rc->ac == NULL)
		start_connect(rc);
}

static void start_connect(struct ax_rconn *rc)
{
	redisAsyncContext *ac;
	struct timeval tv;

	ac = redisAsyncConnect(rc->host, rc->port);
	if (ac == NULL) {
		schedule_retry(rc);
		return;
	}
	if (ac->err) {
		/* Failed synchronously (e.g. refused on loopback): nothing is
		 * attached yet, so freeing here runs no callback. */
		redisAsyncFree(ac);
		schedule_retry(rc);
		return;
	}
	ac->data = rc;
	(void)redisEnableKeepAlive(&ac->c);
	if (redisLibeventAttach(ac, rc->base) != REDIS_OK) {
		ac->data = NULL;
		redisAsyncFree(ac);
		schedule_retry(rc);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	rc->ac = ac;
	rc->state = RC_CONNECTING;
	rc->fail_code = AX_EIO;
	tv = ms_tv(rc->timeout_ms);
	evtimer_add(rc->connect_ev, &tv);
}

struct ax_rconn *ax_rconn_new(struct event_base *base, const struct ax_rconn_opts *o)
{
	struct ax_rconn *rc;

	if (base == NULL || o == NULL || o->host == NULL || o->host[0] == '\0' || o->port <= 0 ||
	    o->port > 65535 || o->command_timeout_ms < 0 || o->reconnect_ms < 0)
		return NULL;
	rc = ax_xcalloc(1, sizeof(*rc));
	rc->base = base;
	rc->host = ax_xstrdup(o->host);
	rc->port = o->port;
	rc->timeout_ms = o->command_timeout_ms ? o->command_timeout_ms : RC_DEFAULT_TIMEOUT_MS;
	rc->reconnect_ms = o->reconnect_ms ? o->reconnect_ms : RC_DEFAULT_RECONNECT_MS;
	if (rc->reconnect_ms > RC_MAX_BACKOFF_MS)
		rc->reconnect_ms = RC_MAX_BACKOFF_MS;
	rc->backoff_ms = rc->reconnect_ms;
	rc->state = RC_DOWN;
	rc->fail_code = AX_EIO;
	TAILQ_INIT(&rc->pending);
	rc->retry_ev = evtimer_new(base, on_retry, rc);
	rc->connect_ev = evtimer_new(base, on_connect_deadline, rc);
	if (rc->retry_ev == NULL || rc->connect_ev == NULL)
		abort();              /* allocation failure: see mem.h */
	start_connect(rc);
	return rc;
}

void ax_rconn_free(struct ax_rconn *rc)
{
	redisAsyncContext *ac;
	struct rcmd *cmd;

	if (rc == NULL || rc->closing)
		return;
	rc->closing = 1;
	rc_enter(rc);
	evtimer_del(rc->retry_ev);
	evtimer_del(rc->connect_ev);
	ac = rc->ac;
	rc->ac = NULL;
	rc->state = RC_DOWN;
	rc->fail_code = AX_EIO;
	if (ac != NULL) {
		ac->data = NULL;
		/* Outside hiredis this fails every pending command right here
		 * (on_reply with NULL).  Inside a reply callback hiredis defers
		 * it until that callback returns; the loop below then
		 * completes what is left. */
		redisAsyncFree(ac);
	}
	while ((cmd = TAILQ_FIRST(&rc->pending)) != NULL) {
		TAILQ_REMOVE(&rc->pending, cmd, link);
		cmd->rc = NULL;       /* hiredis's later callback only frees it */
		cmd_finish(cmd, AX_EIO, NULL);
	}
	(void)rc_leave(rc);
}

int ax_rconn_ready(const struct ax_rconn *rc)
{
	return rc != NULL && !rc->closing && rc->state == RC_READY && rc->ac != NULL;
}

ax_err ax_rconn_cmdargv(struct ax_rconn *rc, ax_rconn_reply_fn *fn, void *arg,
			int argc, const char **argv, const size_t *argvlen)
{
	struct rcmd *cmd;
	struct timeval tv;

	if (!ax_rconn_ready(rc))
		return AX_EAGAIN;
	if (fn == NULL || argc <= 0 || argv == NULL)
		return AX_EINVAL;
	cmd = ax_xcalloc(1, sizeof(*cmd));
	cmd->rc = rc;
	cmd->fn = fn;
	cmd->arg = arg;
	cmd->deadline = evtimer_new(rc->base, on_deadline, cmd);
	if (cmd->deadline == NULL)
		abort();              /* allocation failure: see mem.h */
	/* Only queues: hiredis never calls on_reply from inside this. */
	if (redisAsyncCommandArgv(rc->ac, on_reply, cmd, argc, argv, argvlen) != REDIS_OK) {
		event_free(cmd->deadline);
		free(cmd);
		return AX_EIO;
	}
	TAILQ_INSERT_TAIL(&rc->pending, cmd, link);
	tv = ms_tv(rc->timeout_ms);
	evtimer_add(cmd->deadline, &tv);
	return AX_OK;
}
