/* api_feed.c - the live feed, GET /v1/events (text/event-stream).
 *
 * What a client receives.  Every incident_events row of its tenant, as
 *     id: <row id>
 *     event: incident.stage
 *     data: {"id":..,"incident_id":..,"stage":..,"provider":..,"fallback":..,...}
 * and every other event published on the tenant's channel (t:{T}:events:
 * action.finished, approval.expired...) as "event: <type>" with the
 * published JSON and no id (SSE keeps the last id for those).  A comment
 * line ": hb" every FEED_HEARTBEAT_S seconds keeps proxies from closing an
 * idle stream.  A client that reconnects with Last-Event-ID: N (what
 * EventSource sends by itself; ?last_event_id=N for curl) first gets every
 * row with id > N, then the live events; a client without one starts from
 * now.  Delivery is at least once: a client may see a row twice around a
 * reconnect, never miss one the table still holds.
 *
 * Why rows come from the table, not from the pub/sub message.  The
 * messages reason publishes carry no row id (its rows are written in
 * batches), a PUBLISH is best effort (lost while Redis restarts), and a
 * replay has to read the table anyway.  So a message whose type is
 * incident.stage is only a wake-up: the stream reads incident_events
 * after its last id, on the API threads (libpq blocks; api.h), and writes
 * what came.  Replay and live are the same code path, and a lost message
 * delays a row until the next one, it never loses it.  Wake-ups that
 * arrive while a read is in flight are folded into one more read.
 * Rows that commit out of id order.  Ids come from one sequence, so two
 * transactions (two reason replicas) can make a row with a smaller id
 * visible after a larger one was sent.  A stream therefore does not read
 * "id > last sent" but "id > floor, except the ids sent lately": floor is
 * the largest id sent at least FEED_SETTLE_MS ago (a transaction that had
 * drawn a smaller id has committed or died by then), and the ids sent
 * since are kept (at most FEED_RECENT; beyond that the oldest raise the
 * floor early).  So a late row is still sent, after the larger one: SSE
 * ids are then not increasing, and a reconnect from the late row's id
 * repeats the larger one (at least once, never lost).  A transaction that
 * takes longer than FEED_SETTLE_MS between drawing its id and committing
 * can still be missed live (not on a reconnect from before it).
 *
 * Where the subscription lives.  One async hiredis connection per worker
 * (per event base), SUBSCRIBEd to the channels of the tenants that have a
 * stream open on that worker.  On the worker's own base because the
 * streams' HTTP connections live there: a message reaches its streams
 * with no locking and no cross-thread hop, and one Redis connection
 * serves every client of the worker instead of one per client.  A tenant
 * is UNSUBSCRIBEd at the heartbeat tick after its last stream closed (not
 * at once, so a dashboard's reconnect does not churn the subscription).
 * The connection reconnects every FEED_RECONNECT_MS after a failure, then
 * re-subscribes and wakes every stream (rows written meanwhile are read
 * from the table).
 *
 * Bounded memory.  evhttp queues what we write in the connection's
 * output buffer; a client that reads slower than events arrive would grow
 * it without end.  Rows are read in pages of at most FEED_PAGE rows and
 * about FEED_PAGE_BYTES, and the next page is read only while less than
 * FEED_LOW_WATER waits in the buffer (a replay follows the client's pace);
 * a client behind which rows have waited FEED_STALL_MS, or for which a
 * write would queue more than FEED_MAX_BUFFERED, is cut off (its
 * connection freed) and reconnects with its Last-Event-ID.  So one client
 * costs at most FEED_MAX_BUFFERED plus a page.  A client that stops
 * reading altogether is also cut by the write timeout
 * (FEED_WRITE_TIMEOUT_S).  The
 * read timeout evhttp set for requests is lifted for the stream (the
 * client sends nothing once connected), and at most FEED_MAX_STREAMS
 * streams are open per worker (503 beyond). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>
#include <cjson/cJSON.h>

#include "api.h"
#include "alexus/config.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/pg.h"
#include "alexus/stream.h"

#define FEED_HEARTBEAT_S 15
#define FEED_PAGE 100                   /* rows per read, at most */
#define FEED_PAGE_BYTES (64 * 1024)     /* and about this much text */
#define FEED_MAX_BUFFERED (1024 * 1024) /* bytes queued for one client */
#define FEED_LOW_WATER (256 * 1024)     /* read more rows only below this */
#define FEED_STALL_MS 5000              /* rows waiting that long behind a full buffer */
#define FEED_RESUME_MS 100              /* look at a full buffer again after */
#define FEED_WRITE_TIMEOUT_S 30
#define FEED_RECONNECT_MS 1000
#define FEED_MAX_STREAMS 1000 /* per worker */
#define FEED_RETRY_MS 2000    /* EventSource reconnect delay we ask for */
#define FEED_SETTLE_MS 10000  /* longest id-to-commit we wait for */
#define FEED_RECENT 512       /* ids sent lately, per stream */

/* ------------------------------------------------ the reads (API thread) */

static const char Q_MAX[] = "SELECT coalesce(max(id), 0) FROM incident_events";
static const char Q_AFTER[] =
    "SELECT id, json_build_object('id', id, 'incident_id', incident_id, 'stage', stage, "
    "'provider', provider, 'fallback', fallback, 'duration_ms', duration_ms, "
    "'output', output, 'signal_id', signal_id, 'run_id', run_id, 'trace', trace, "
    "'created_at', created_at)::text FROM incident_events "
    "WHERE id > $1 AND id <> ALL ($3::bigint[]) ORDER BY id LIMIT $2";

/* c->after < 0: the newest row id into c->after, no body.  Else the rows
 * after c->after but not in c->skip (at most c->limit) as SSE text in
 * c->body, their ids in c->got, c->limit how many came. */
void ingest_api_feed(struct ax_pg *pg, struct ingest_api_call *c)
{
	char err[512], after[32], lim[16];
	const char *p[3] = {after, lim, c->skip != NULL ? c->skip : "{}"};
	struct evbuffer *b, *ids;
	PGresult *res;
	int i, n;

	if (ingest_api_begin(pg, c) != 0)
		return;
	snprintf(after, sizeof(after), "%lld", c->after);
	snprintf(lim, sizeof(lim), "%d", c->limit > 0 ? c->limit : FEED_PAGE);
	res = c->after < 0 ? ax_pg_exec(pg, err, sizeof(err), Q_MAX, 0, NULL)
	                   : ax_pg_exec(pg, err, sizeof(err), Q_AFTER, 3, p);
	if (res == NULL) {
		ingest_api_unavailable(pg, c, err);
		return;
	}
	ax_pg_rollback(pg);
	free(c->body);
	c->body = NULL;
	free(c->got);
	c->got = NULL;
	c->status = 200;
	if (c->after < 0) {
		c->after = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		c->limit = 0;
		PQclear(res);
		return;
	}
	b = evbuffer_new();
	ids = evbuffer_new();
	if (b == NULL || ids == NULL)
		abort();
	n = PQntuples(res);
	c->more = n >= (c->limit > 0 ? c->limit : FEED_PAGE);
	for (i = 0; i < n; i++) {
		/* Postgres' JSON text has no raw newline: one data line. */
		evbuffer_add_printf(b, "id: %s\nevent: incident.stage\ndata: %s\n\n",
		                    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		evbuffer_add_printf(ids, "%s%s", i > 0 ? "," : "", PQgetvalue(res, i, 0));
		if (evbuffer_get_length(b) >= FEED_PAGE_BYTES && i + 1 < n) {
			c->more = 1;
			n = i + 1;
		}
	}
	c->limit = n;
	if (n > 0) {
		size_t len = evbuffer_get_length(b);

		c->body = ax_xmalloc(len + 1);
		evbuffer_remove(b, c->body, len);
		c->body[len] = '\0';
		len = evbuffer_get_length(ids);
		c->got = ax_xmalloc(len + 1);
		evbuffer_remove(ids, c->got, len);
		c->got[len] = '\0';
	}
	evbuffer_free(b);
	evbuffer_free(ids);
	PQclear(res);
}

/* ------------------------------------------------ the streams (event loop) */

struct feed_stream;

/* The tenants with streams on this worker, and their channel. */
struct feed_tenant {
	LIST_ENTRY(feed_tenant) link;
	LIST_HEAD(, feed_stream) streams;
	int nstreams;
	int subscribed; /* SUBSCRIBE sent on the live connection */
	char tenant[AX_TENANT_MAX + 1];
	char channel[AX_KEY_MAX];
};

struct feed_stream {
	struct ingest_api_call call;  /* first: api_done casts back */
	LIST_ENTRY(feed_stream) link; /* in its tenant's list while open */
	struct ingest_feed *f;
	struct feed_tenant *t;      /* NULL once closed */
	struct evhttp_request *req; /* NULL once closed */
	struct evhttp_connection *evcon;
	long long last;                   /* the floor: each row <= it was sent or never comes;
	                                   * -1: not known yet */
	long long rid[FEED_RECENT];       /* ids sent lately, in sending order, */
	struct timespec rat[FEED_RECENT]; /* and when */
	int rn;
	int reading;             /* a read is on the API threads */
	int again;               /* rows may wait: read (once more) */
	struct event *resume;    /* look at a full buffer again */
	struct timespec stalled; /* since when rows wait behind a full buffer */
};

/* A stream's reply after evhttp_send_reply_end(), until libevent has
 * written its last chunk (the request's on_complete) or the connection
 * closed first: a drain waits for these, or the last chunk would die in
 * the buffer when the server frees its connections. */
struct feed_end {
	LIST_ENTRY(feed_end) link;
	struct ingest_feed *f; /* NULL once the feed is freed */
	struct evhttp_connection *evcon;
};

struct ingest_feed {
	struct event_base *base;
	const struct ax_config *cfg;
	struct ingest_api *api;
	char host[256];
	int port;
	redisAsyncContext *ac; /* NULL while disconnected */
	int connected;
	int freeing;
	struct event *tick; /* heartbeat, unsubscribe, reconnect */
	struct event *reconnect;
	LIST_HEAD(, feed_tenant) tenants;
	int nstreams;
	int busy;                   /* reads in flight (streams still allocated) */
	LIST_HEAD(, feed_end) ends; /* ended replies not yet written out */
	ingest_feed_idle_fn *idle;
	void *idle_arg;
	unsigned long cut_off; /* streams cut for a full buffer (tests, logs) */
};

static void stream_read(struct feed_stream *st);
static void feed_connect(struct ingest_feed *f);
static int feed_write(struct feed_stream *st, struct evbuffer *b);

static struct feed_tenant *tenant_find(struct ingest_feed *f, const char *channel)
{
	struct feed_tenant *t;

	LIST_FOREACH(t, &f->tenants, link)
	if (strcmp(t->channel, channel) == 0)
		return t;
	return NULL;
}

static void subscribe(struct ingest_feed *f, struct feed_tenant *t);

/* SUBSCRIBE/UNSUBSCRIBE replies and messages, for every channel; privdata
 * is the feed, which outlives the connection, so nothing is freed under a
 * message still on its way. */
static void on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct ingest_feed *f = privdata;
	redisReply *r = reply;
	struct feed_tenant *t;
	struct feed_stream *st, *sn;
	const char *type;
	cJSON *doc;
	char *text, evname[64];

	(void)ac;
	if (f->freeing || r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
		return;
	t = tenant_find(f, r->element[1]->str);
	if (strcmp(r->element[0]->str, "unsubscribe") == 0) {
		/* A stream came back between our UNSUBSCRIBE and its reply:
		 * hiredis just dropped the channel's callback, subscribe again. */
		if (t != NULL && t->nstreams > 0) {
			t->subscribed = 0;
			subscribe(f, t);
		}
		return;
	}
	if (strcmp(r->element[0]->str, "message") != 0 || t == NULL ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	doc = ax_json_parse(r->element[2]->str, r->element[2]->len, 16);
	type = ax_json_str(doc, "type");
	if (type == NULL || strcmp(type, "incident.stage") == 0) {
		for (st = LIST_FIRST(&t->streams); st != NULL; st = sn) {
			sn = LIST_NEXT(st, link); /* a stalled client is cut off */
			stream_read(st);
		}
		cJSON_Delete(doc);
		return;
	}
	/* Not a row: forwarded as published, one data line. */
	snprintf(evname, sizeof(evname), "%s", type);
	for (text = evname; *text != '\0'; text++) /* one SSE field: no newline */
		if (!isalnum((unsigned char)*text) && *text != '.' && *text != '_' && *text != '-')
			*text = '_';
	text = ax_json_print(doc);
	cJSON_Delete(doc);
	for (st = LIST_FIRST(&t->streams); st != NULL; st = sn) {
		struct evbuffer *b = evbuffer_new();

		sn = LIST_NEXT(st, link); /* a write may cut st off */
		if (b == NULL)
			abort();
		evbuffer_add_printf(b, "event: %s\ndata: %s\n\n", evname, text);
		feed_write(st, b);
		evbuffer_free(b);
	}
	free(text);
}

static void subscribe(struct ingest_feed *f, struct feed_tenant *t)
{
	const char *argv[2] = {"SUBSCRIBE", t->channel};

	if (f->ac == NULL || !f->connected || t->subscribed)
		return;
	if (redisAsyncCommandArgv(f->ac, on_message, f, 2, argv, NULL) == REDIS_OK)
		t->subscribed = 1;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct ingest_feed *f = ac->data;
	struct feed_tenant *t;
	struct feed_stream *st, *sn;

	if (status != REDIS_OK) {
		/* hiredis frees ac after this callback */
		ax_log(AX_LOG_WARN, NULL, NULL, "live feed: redis: %s", ac->errstr);
		f->ac = NULL;
		f->connected = 0;
		if (!f->freeing)
			event_add(f->reconnect, &(struct timeval){0, FEED_RECONNECT_MS * 1000});
		return;
	}
	f->connected = 1;
	LIST_FOREACH(t, &f->tenants, link)
	{
		t->subscribed = 0;
		subscribe(f, t);
		/* Rows written while we were not subscribed. */
		for (st = LIST_FIRST(&t->streams); st != NULL; st = sn) {
			sn = LIST_NEXT(st, link);
			stream_read(st);
		}
	}
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct ingest_feed *f = ac->data;
	struct feed_tenant *t;

	(void)status;
	f->ac = NULL;
	f->connected = 0;
	LIST_FOREACH(t, &f->tenants, link)
	t->subscribed = 0;
	if (!f->freeing) {
		ax_log(AX_LOG_WARN, NULL, NULL, "live feed: redis connection lost; reconnecting");
		event_add(f->reconnect, &(struct timeval){0, FEED_RECONNECT_MS * 1000});
	}
}

static void feed_connect(struct ingest_feed *f)
{
	redisAsyncContext *ac;

	if (f->ac != NULL || f->freeing)
		return;
	ac = redisAsyncConnect(f->host, f->port);
	if (ac == NULL || ac->err) {
		ax_log(AX_LOG_WARN, NULL, NULL, "live feed: redis: %s",
		       ac != NULL ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		event_add(f->reconnect, &(struct timeval){0, FEED_RECONNECT_MS * 1000});
		return;
	}
	ac->data = f;
	if (redisLibeventAttach(ac, f->base) != REDIS_OK) {
		redisAsyncFree(ac);
		event_add(f->reconnect, &(struct timeval){0, FEED_RECONNECT_MS * 1000});
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	f->ac = ac;
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	feed_connect(arg);
}

/* Free st once it is closed and no read of it is in flight. */
static void stream_release(struct feed_stream *st)
{
	struct ingest_feed *f = st->f;

	if (st->t != NULL || st->reading)
		return;
	event_free(st->resume);
	free(st->call.body);
	free(st->call.skip);
	free(st->call.got);
	free(st);
	if (ingest_feed_busy(f) == 0 && f->idle != NULL)
		f->idle(f->idle_arg);
}

static void on_stream_closed(struct evhttp_connection *evcon, void *arg);

static void end_done(struct feed_end *e)
{
	struct ingest_feed *f = e->f;

	if (e->evcon != NULL)
		evhttp_connection_set_closecb(e->evcon, NULL, NULL);
	if (f != NULL) {
		LIST_REMOVE(e, link);
		if (ingest_feed_busy(f) == 0 && f->idle != NULL)
			f->idle(f->idle_arg);
	}
	free(e);
}

static void on_end_written(struct evhttp_request *req, void *arg)
{
	(void)req;
	end_done(arg);
}

static void on_end_closed(struct evhttp_connection *evcon, void *arg)
{
	struct feed_end *e = arg;

	(void)evcon;
	e->evcon = NULL;
	end_done(e);
}

/* Detach st from its tenant and its request.  end: finish the reply
 * (last chunk, the request freed by libevent once written); else the
 * connection is dropped at once (cut off) or is already gone. */
static void stream_close(struct feed_stream *st, int how)
{
	struct ingest_feed *f = st->f;
	struct evhttp_request *req = st->req;
	struct evhttp_connection *evcon = st->evcon;

	if (st->t == NULL)
		return;
	LIST_REMOVE(st, link);
	st->t->nstreams--;
	st->t = NULL;
	st->req = NULL;
	f->nstreams--;
	event_del(st->resume);
	if (evcon != NULL)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	if (how == 0 && req != NULL && evcon != NULL) {
		struct feed_end *e = ax_xcalloc(1, sizeof(*e));

		e->f = f;
		e->evcon = evcon;
		LIST_INSERT_HEAD(&f->ends, e, link);
		evhttp_request_set_on_complete_cb(req, on_end_written, e);
		evhttp_connection_set_closecb(evcon, on_end_closed, e);
		evhttp_send_reply_end(req);
	} else if (how == 0 && req != NULL) {
		evhttp_send_reply_end(req); /* the connection is gone: frees req */
	} else if (how == 1 && evcon != NULL)
		evhttp_connection_free(evcon); /* frees req with it */
	stream_release(st);
}

/* The client went away (EOF, reset, write timeout): libevent detached the
 * request from the dying connection and leaves it to us. */
static void on_stream_closed(struct evhttp_connection *evcon, void *arg)
{
	struct feed_stream *st = arg;

	(void)evcon;
	st->evcon = NULL;
	stream_close(st, 0);
}

/* Queue b for st's client, or cut the client off when what is already
 * queued is above the bound.  0 when written. */
static int feed_write(struct feed_stream *st, struct evbuffer *b)
{
	struct bufferevent *bev;

	if (st->t == NULL || st->req == NULL || st->evcon == NULL)
		return -1;
	bev = evhttp_connection_get_bufferevent(st->evcon);
	if (bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) + evbuffer_get_length(b) >
	        FEED_MAX_BUFFERED) {
		st->f->cut_off++;
		ax_log(AX_LOG_INFO, NULL, st->call.tenant,
		       "live feed: client too slow (over %d bytes queued); cut off at event %lld",
		       FEED_MAX_BUFFERED, st->last);
		stream_close(st, 1);
		return -1;
	}
	evhttp_send_reply_chunk(st->req, b);
	return 0;
}

static void free_page(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Drop the ids sent longer than FEED_SETTLE_MS ago (or the oldest, to make
 * room for need more), raising the floor to them. */
static void settle(struct feed_stream *st, int need)
{
	int k = 0;

	while (k < st->rn &&
	       (ms_since(&st->rat[k]) > FEED_SETTLE_MS || st->rn - k + need > FEED_RECENT)) {
		if (st->rid[k] > st->last)
			st->last = st->rid[k];
		k++;
	}
	if (k > 0) {
		memmove(st->rid, st->rid + k, (size_t)(st->rn - k) * sizeof(st->rid[0]));
		memmove(st->rat, st->rat + k, (size_t)(st->rn - k) * sizeof(st->rat[0]));
		st->rn -= k;
	}
}

/* The ids of a page just sent ("1,2,3"). */
static void remember(struct feed_stream *st, const char *got)
{
	struct timespec now;
	char *end;

	clock_gettime(CLOCK_MONOTONIC, &now);
	while (got != NULL && *got != '\0') {
		long long id = strtoll(got, &end, 10);

		if (end == got)
			break;
		settle(st, 1);
		st->rid[st->rn] = id;
		st->rat[st->rn++] = now;
		got = *end == ',' ? end + 1 : end;
	}
}

/* "{ids sent lately above the floor}" for the next read. */
static char *skip_list(struct feed_stream *st)
{
	struct evbuffer *b = evbuffer_new();
	char *out;
	size_t len;
	int i, n = 0;

	if (b == NULL)
		abort();
	settle(st, 0);
	evbuffer_add(b, "{", 1);
	for (i = 0; i < st->rn; i++)
		if (st->rid[i] > st->last)
			evbuffer_add_printf(b, "%s%lld", n++ > 0 ? "," : "", st->rid[i]);
	evbuffer_add(b, "}", 2); /* with the NUL */
	len = evbuffer_get_length(b);
	out = ax_xmalloc(len);
	evbuffer_remove(b, out, len);
	evbuffer_free(b);
	return out;
}

static void on_read(struct ingest_api_call *c)
{
	struct feed_stream *st = (struct feed_stream *)c;
	struct ingest_feed *f = st->f;
	int full = 0;

	/* st->reading stays set while writing: a cut-off must not free st. */
	if (st->t != NULL && c->status == 200) {
		if (st->last < 0) {
			st->last = c->after;
		} else if (c->body != NULL) {
			struct evbuffer *b = evbuffer_new();

			if (b == NULL)
				abort();
			/* The page moves into the connection's buffer uncopied;
			 * the buffer frees it once written (or dropped). */
			if (evbuffer_add_reference(b, c->body, strlen(c->body), free_page, NULL) !=
			    0)
				abort();
			c->body = NULL;
			if (feed_write(st, b) == 0)
				remember(st, c->got);
			evbuffer_free(b);
			full = c->more;
		}
	}
	free(c->body);
	c->body = NULL;
	st->reading = 0;
	f->busy--;
	if (st->t == NULL) {
		stream_release(st);
		return;
	}
	/* A failed read (Postgres down, the API queue full): the heartbeat
	 * tick retries, not a tight loop.  A full page: more rows wait. */
	if (c->status != 200) {
		st->again = 1;
		return;
	}
	if (full || st->again) {
		st->again = 0;
		stream_read(st);
	}
}

static size_t buffered(const struct feed_stream *st)
{
	struct bufferevent *bev =
	    st->evcon != NULL ? evhttp_connection_get_bufferevent(st->evcon) : NULL;

	return bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct feed_stream *st = arg;

	(void)fd;
	(void)what;
	if (st->again)
		stream_read(st);
}

/* Read the rows after st->last (or, when not known yet, where "now" is),
 * once the client has taken most of what it was sent. */
static void stream_read(struct feed_stream *st)
{
	struct ingest_feed *f = st->f;
	struct timeval tv = {0, FEED_RESUME_MS * 1000};

	if (st->t == NULL)
		return;
	if (st->reading) {
		st->again = 1;
		return;
	}
	if (st->last >= 0 && buffered(st) >= FEED_LOW_WATER) {
		st->again = 1;
		if (st->stalled.tv_sec == 0) {
			clock_gettime(CLOCK_MONOTONIC, &st->stalled);
		} else if (ms_since(&st->stalled) > FEED_STALL_MS) {
			f->cut_off++;
			ax_log(AX_LOG_INFO, NULL, st->call.tenant,
			       "live feed: client too slow (%zu bytes unread for %d ms); cut off "
			       "at event %lld",
			       buffered(st), FEED_STALL_MS, st->last);
			stream_close(st, 1);
			return;
		}
		if (!event_pending(st->resume, EV_TIMEOUT, NULL))
			event_add(st->resume, &tv);
		return;
	}
	st->stalled.tv_sec = 0;
	st->call.kind = INGEST_API_FEED;
	free(st->call.skip);
	st->call.skip = st->last >= 0 ? skip_list(st) : NULL;
	st->call.after = st->last;
	st->call.limit = FEED_PAGE;
	st->call.status = 0;
	st->call.base = f->base;
	st->call.done = on_read;
	ax_trace_new(st->call.trace);
	if (ingest_api_submit(f->api, &st->call) != AX_OK) {
		st->again = 1; /* busy: the heartbeat tick retries */
		return;
	}
	st->reading = 1;
	st->again = 0;
	f->busy++;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	static const char hb[] = ": hb\n\n";
	struct ingest_feed *f = arg;
	struct feed_tenant *t, *tn;
	struct feed_stream *st, *sn;

	(void)fd;
	(void)what;
	for (t = LIST_FIRST(&f->tenants); t != NULL; t = tn) {
		tn = LIST_NEXT(t, link);
		if (t->nstreams == 0) {
			const char *argv[2] = {"UNSUBSCRIBE", t->channel};

			if (f->ac != NULL && f->connected && t->subscribed &&
			    redisAsyncCommandArgv(f->ac, NULL, NULL, 2, argv, NULL) != REDIS_OK)
				ax_log(AX_LOG_WARN, NULL, t->tenant,
				       "live feed: UNSUBSCRIBE failed");
			LIST_REMOVE(t, link);
			free(t);
			continue;
		}
		for (st = LIST_FIRST(&t->streams); st != NULL; st = sn) {
			struct evbuffer *b = evbuffer_new();

			sn = LIST_NEXT(st, link);
			if (b == NULL)
				abort();
			evbuffer_add(b, hb, sizeof(hb) - 1);
			if (feed_write(st, b) == 0 && st->again && !st->reading)
				stream_read(st); /* a read the API queue refused */
			evbuffer_free(b);
		}
	}
}

struct ingest_feed *ingest_feed_new(struct event_base *base, const struct ax_config *cfg,
                                    struct ingest_api *api, ingest_feed_idle_fn *idle, void *arg)
{
	struct ingest_feed *f = ax_xcalloc(1, sizeof(*f));
	struct timeval tv = {FEED_HEARTBEAT_S, 0};

	f->base = base;
	f->cfg = cfg;
	f->api = api;
	f->idle = idle;
	f->idle_arg = arg;
	LIST_INIT(&f->tenants);
	LIST_INIT(&f->ends);
	if (ax_redis_url_parse(cfg->redis_url, f->host, sizeof(f->host), &f->port) != AX_OK) {
		free(f);
		return NULL;
	}
	f->tick = event_new(base, -1, EV_PERSIST, on_tick, f);
	f->reconnect = evtimer_new(base, on_reconnect, f);
	if (f->tick == NULL || f->reconnect == NULL)
		abort();
	event_add(f->tick, &tv);
	feed_connect(f);
	return f;
}

int ingest_feed_open(struct ingest_feed *f, struct evhttp_request *req, const char *tenant,
                     long long last)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	struct timeval wtv = {FEED_WRITE_TIMEOUT_S, 0};
	struct feed_tenant *t;
	struct feed_stream *st;
	char channel[AX_KEY_MAX];
	struct evbuffer *b;

	if (f->nstreams >= FEED_MAX_STREAMS || evcon == NULL || bev == NULL)
		return -1;
	if (ax_key(channel, sizeof(channel), tenant, "events", NULL) < 0)
		return -1;
	t = tenant_find(f, channel);
	if (t == NULL) {
		t = ax_xcalloc(1, sizeof(*t));
		snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
		snprintf(t->channel, sizeof(t->channel), "%s", channel);
		LIST_INIT(&t->streams);
		LIST_INSERT_HEAD(&f->tenants, t, link);
	}
	subscribe(f, t);
	st = ax_xcalloc(1, sizeof(*st));
	st->f = f;
	st->t = t;
	st->req = req;
	st->evcon = evcon;
	st->last = last;
	st->resume = evtimer_new(f->base, on_resume, st);
	if (st->resume == NULL)
		abort();
	snprintf(st->call.tenant, sizeof(st->call.tenant), "%s", tenant);
	LIST_INSERT_HEAD(&t->streams, st, link);
	t->nstreams++;
	f->nstreams++;

	evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Accel-Buffering", "no"); /* nginx: do not buffer */
	evhttp_send_reply_start(req, 200, "OK");
	/* The stream is quiet on the client's side: no read timeout; a client
	 * that stops reading is cut by the write timeout. */
	bufferevent_set_timeouts(bev, NULL, &wtv);
	evhttp_connection_set_closecb(evcon, on_stream_closed, st);
	b = evbuffer_new();
	if (b == NULL)
		abort();
	evbuffer_add_printf(b, "retry: %d\n: alexus live feed for %s\n\n", FEED_RETRY_MS, tenant);
	(void)feed_write(st, b);
	evbuffer_free(b);
	stream_read(st);
	return 0;
}

void ingest_feed_close_all(struct ingest_feed *f)
{
	struct feed_tenant *t;
	struct feed_stream *st;

	if (f == NULL)
		return;
	LIST_FOREACH(t, &f->tenants, link)
	while ((st = LIST_FIRST(&t->streams)) != NULL)
		stream_close(st, 0);
}

int ingest_feed_busy(const struct ingest_feed *f)
{
	const struct feed_end *e;
	int n = 0;

	if (f == NULL)
		return 0;
	LIST_FOREACH(e, &f->ends, link)
	n++;
	return f->busy + f->nstreams + n;
}

unsigned long ingest_feed_cut_off(const struct ingest_feed *f)
{
	return f != NULL ? f->cut_off : 0;
}

void ingest_feed_free(struct ingest_feed *f)
{
	struct feed_tenant *t;
	struct feed_end *e;

	if (f == NULL)
		return;
	ingest_feed_close_all(f);
	f->freeing = 1;
	if (f->ac != NULL)
		redisAsyncFree(f->ac); /* runs on_disconnect: freeing, no reconnect */
	f->ac = NULL;
	while ((t = LIST_FIRST(&f->tenants)) != NULL) {
		LIST_REMOVE(t, link);
		free(t);
	}
	while ((e = LIST_FIRST(&f->ends)) != NULL) {
		LIST_REMOVE(e, link);
		e->f = NULL; /* freed by its connection's close callback */
	}
	event_free(f->tick);
	event_free(f->reconnect);
	/* Reads still in flight keep their streams; the server waits for
	 * them (ingest_feed_busy) before it frees the feed. */
	free(f);
}
