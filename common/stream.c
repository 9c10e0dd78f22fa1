/* stream.c - stream entries and consumer-group operations (see stream.h).
 *
 * Design: a thin layer over a *blocking* hiredis context, used by the
 * reason and act workers whose unit of work is a sequence of dependent
 * steps.  Every call sends one command (or one pipelined batch) with
 * redisCommandArgv / redisAppendCommandArgv, so no value is ever
 * interpolated into a format string.  Replies are parsed defensively: any
 * shape other than the documented one is AX_EPROTO, and whatever was
 * copied so far is released, so the caller never sees half an entry.
 *
 * Entry fields are matched by name; unknown fields are ignored and absent
 * ones stay NULL, so a malformed entry still reaches the caller, who
 * dead-letters it.  Strings are copied out of the reply (the reply is
 * freed before we return).
 *
 * Timeouts: ax_redis_connect sets a socket timeout for every command.  A
 * blocking XREADGROUP legitimately waits block_ms, so ax_group_read widens
 * the socket timeout by block_ms for that one call and restores it.  After
 * an I/O error or timeout hiredis marks the context failed (c->err); every
 * later call then fails fast with AX_EIO and the caller reconnects.
 *
 * Dead-lettering copies the entry to alexus:dlq and acknowledges it in one
 * MULTI/EXEC, so a crash between the two cannot dead-letter an entry twice
 * or lose it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "alexus/stream.h"
#include "alexus/config.h"
#include "alexus/hash.h"
#include "alexus/keys.h"
#include "alexus/mem.h"
#include "alexus/signal.h"

#define HOST_MAX 256

void ax_entry_release(struct ax_entry *e)
{
	if (e == NULL)
		return;
	free(e->stream_id);
	free(e->v);
	free(e->tenant);
	free(e->id);
	free(e->kind);
	free(e->trace);
	free(e->data);
	memset(e, 0, sizeof(*e));
}

static struct timeval ms_to_tv(long long ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

redisContext *ax_redis_connect(const char *url, int timeout_ms, char *errbuf, size_t errlen)
{
	char host[HOST_MAX];
	int port = 0;
	struct timeval tv;
	redisContext *c;

	if (url == NULL || ax_redis_url_parse(url, host, sizeof(host), &port) != AX_OK) {
		ax_errfmt(errbuf, errlen, "invalid redis url '%s'", url ? url : "(null)");
		return NULL;
	}
	if (timeout_ms <= 0)
		timeout_ms = 2000;
	tv = ms_to_tv(timeout_ms);
	c = redisConnectWithTimeout(host, port, tv);
	if (c == NULL) {
		ax_errfmt(errbuf, errlen, "redis %s:%d: cannot allocate context", host, port);
		return NULL;
	}
	if (c->err) {
		ax_errfmt(errbuf, errlen, "redis %s:%d: %s", host, port, c->errstr);
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK || redisEnableKeepAlive(c) != REDIS_OK) {
		ax_errfmt(errbuf, errlen, "redis %s:%d: %s", host, port,
			  c->err ? c->errstr : "cannot set socket options");
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Map a failed context to our codes.  hiredis 0.14 reports a socket
 * timeout as REDIS_ERR_IO with errstr = strerror(EAGAIN); errno itself may
 * have been overwritten since, so the string is what we compare. */
static ax_err ctx_error(redisContext *c, const char *what, char *errbuf, size_t errlen)
{
	if (c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0) {
		ax_errfmt(errbuf, errlen, "%s: redis timed out", what);
		return AX_ETIMEDOUT;
	}
	ax_errfmt(errbuf, errlen, "%s: redis: %s", what,
		  c->err ? c->errstr : "no reply");
	return AX_EIO;
}

/* Run one command; NULL with errbuf set on a transport failure or an error
 * reply (the error reply is freed).  *rc receives the code. */
static redisReply *command(redisContext *c, const char *what, int argc, const char **argv,
			   const size_t *lens, ax_err *rc, char *errbuf, size_t errlen)
{
	redisReply *r;

	if (c == NULL) {
		ax_errfmt(errbuf, errlen, "%s: no redis connection", what);
		*rc = AX_EINVAL;
		return NULL;
	}
	if (c->err) {
		/* A failed blocking context never recovers; say so at once. */
		ax_errfmt(errbuf, errlen, "%s: redis connection failed earlier: %s", what, c->errstr);
		*rc = AX_EIO;
		return NULL;
	}
	r = redisCommandArgv(c, argc, argv, lens);
	if (r == NULL) {
		*rc = ctx_error(c, what, errbuf, errlen);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		ax_errfmt(errbuf, errlen, "%s: %.*s", what, (int)r->len, r->str);
		freeReplyObject(r);
		*rc = AX_EIO;
		return NULL;
	}
	*rc = AX_OK;
	return r;
}

static int is_str(const redisReply *r)
{
	return r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* Fill e from one [id, [f1, v1, ...] | nil] element.  A nil field list
 * means the entry was deleted from the stream while pending. */
static ax_err parse_entry(const redisReply *r, struct ax_entry *e)
{
	const redisReply *fields;
	size_t i;

	memset(e, 0, sizeof(*e));
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !is_str(r->element[0]))
		return AX_EPROTO;
	e->stream_id = ax_xstrndup(r->element[0]->str, r->element[0]->len);
	fields = r->element[1];
	if (fields == NULL || fields->type == REDIS_REPLY_NIL) {
		e->deleted = 1;
		return AX_OK;
	}
	if (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0)
		goto bad;
	for (i = 0; i + 1 < fields->elements; i += 2) {
		const redisReply *k = fields->element[i], *v = fields->element[i + 1];
		char **slot = NULL;

		if (!is_str(k) || !is_str(v))
			goto bad;
		if (k->len == 1 && k->str[0] == 'v')
			slot = &e->v;
		else if (k->len == 6 && memcmp(k->str, "tenant", 6) == 0)
			slot = &e->tenant;
		else if (k->len == 2 && memcmp(k->str, "id", 2) == 0)
			slot = &e->id;
		else if (k->len == 4 && memcmp(k->str, "kind", 4) == 0)
			slot = &e->kind;
		else if (k->len == 5 && memcmp(k->str, "trace", 5) == 0)
			slot = &e->trace;
		else if (k->len == 4 && memcmp(k->str, "data", 4) == 0)
			slot = &e->data;
		if (slot == NULL)
			continue;       /* unknown field: ignored */
		free(*slot);            /* a repeated field: the last one wins */
		*slot = ax_xstrndup(v->str, v->len);
	}
	return AX_OK;
bad:
	ax_entry_release(e);
	return AX_EPROTO;
}

/* Parse an array of entries into out[*n..max).  On error everything this
 * call filled is released and *n is restored. */
static ax_err parse_entries(const redisReply *arr, struct ax_entry *out, int max, int *n,
			    const char *what, char *errbuf, size_t errlen)
{
	int start = *n;
	size_t i;

	if (arr->type != REDIS_REPLY_ARRAY)
		goto bad;
	for (i = 0; i < arr->elements; i++) {
		/* Redis 6.2 reports a deleted pending entry as a bare nil;
		 * without its id there is nothing to hand back. */
		if (arr->element[i]->type == REDIS_REPLY_NIL)
			continue;
		if (*n >= max)
			break;          /* cannot happen: COUNT <= max */
		if (parse_entry(arr->element[i], &out[*n]) != AX_OK)
			goto bad;
		(*n)++;
	}
	return AX_OK;
bad:
	while (*n > start)
		ax_entry_release(&out[--(*n)]);
	ax_errfmt(errbuf, errlen, "%s: unexpected reply shape", what);
	return AX_EPROTO;
}

ax_err ax_stream_add(redisContext *c, const char *stream, const struct ax_entry *e,
		     char *out_id, size_t out_len, char *errbuf, size_t errlen)
{
	const char *argv[15];
	int argc = 0;
	redisReply *r;
	ax_err rc;

	if (stream == NULL || e == NULL || e->tenant == NULL || e->id == NULL || e->kind == NULL ||
	    e->data == NULL) {
		ax_errfmt(errbuf, errlen, "XADD: entry lacks tenant, id, kind or data");
		return AX_EINVAL;
	}
	argv[argc++] = "XADD";
	argv[argc++] = stream;
	argv[argc++] = "*";
	argv[argc++] = "v";
	argv[argc++] = e->v ? e->v : AX_ENTRY_VERSION;
	argv[argc++] = "tenant";
	argv[argc++] = e->tenant;
	argv[argc++] = "id";
	argv[argc++] = e->id;
	argv[argc++] = "kind";
	argv[argc++] = e->kind;
	argv[argc++] = "trace";
	argv[argc++] = e->trace ? e->trace : "";
	argv[argc++] = "data";
	argv[argc++] = e->data;
	r = command(c, "XADD", argc, argv, NULL, &rc, errbuf, errlen);
	if (r == NULL)
		return rc;
	if (!is_str(r)) {
		freeReplyObject(r);
		ax_errfmt(errbuf, errlen, "XADD: unexpected reply");
		return AX_EPROTO;
	}
	if (out_id != NULL && out_len > 0)
		snprintf(out_id, out_len, "%.*s", (int)r->len, r->str);
	freeReplyObject(r);
	return AX_OK;
}

ax_err ax_group_ensure(redisContext *c, const char *stream, const char *group,
		       char *errbuf, size_t errlen)
{
	const char *argv[] = { "XGROUP", "CREATE", stream, group, "0", "MKSTREAM" };
	redisReply *r;

	if (c == NULL || c->err) {
		ax_errfmt(errbuf, errlen, "XGROUP CREATE: no usable redis connection");
		return AX_EIO;
	}
	r = redisCommandArgv(c, 6, argv, NULL);
	if (r == NULL)
		return ctx_error(c, "XGROUP CREATE", errbuf, errlen);
	if (r->type == REDIS_REPLY_ERROR) {
		ax_err rc = AX_EIO;

		if (strncmp(r->str, "BUSYGROUP", 9) == 0)
			rc = AX_OK;     /* the group exists: fine */
		else
			ax_errfmt(errbuf, errlen, "XGROUP CREATE %s %s: %s", stream, group, r->str);
		freeReplyObject(r);
		return rc;
	}
	freeReplyObject(r);
	return AX_OK;
}

/* Temporarily change the socket timeout of a blocking context; the base
 * timeout is the one ax_redis_connect gave (hiredis keeps it in
 * c->timeout).  Returns 0 when nothing needed changing. */
static int widen_timeout(redisContext *c, long long extra_ms)
{
	long long base_ms;

	if (c->timeout == NULL || extra_ms <= 0)
		return 0;
	base_ms = (long long)c->timeout->tv_sec * 1000 + c->timeout->tv_usec / 1000;
	return redisSetTimeout(c, ms_to_tv(base_ms + extra_ms)) == REDIS_OK;
}

static void restore_timeout(redisContext *c)
{
	if (c->timeout != NULL && !c->err)
		(void)redisSetTimeout(c, *c->timeout);
}

ax_err ax_group_read(redisContext *c, const char *stream, const char *group,
		     const char *consumer, int count, int block_ms,
		     struct ax_entry *out, int max, int *n, char *errbuf, size_t errlen)
{
	char countbuf[24], blockbuf[24];
	const char *argv[11];
	int argc = 0, widened;
	redisReply *r;
	const redisReply *s;
	ax_err rc;
	int i;

	*n = 0;
	if (out == NULL || max <= 0) {
		ax_errfmt(errbuf, errlen, "XREADGROUP: no room for entries");
		return AX_EINVAL;
	}
	if (count <= 0 || count > max)
		count = max;
	snprintf(countbuf, sizeof(countbuf), "%d", count);
	argv[argc++] = "XREADGROUP";
	argv[argc++] = "GROUP";
	argv[argc++] = group;
	argv[argc++] = consumer;
	argv[argc++] = "COUNT";
	argv[argc++] = countbuf;
	if (block_ms > 0) {
		/* BLOCK 0 would mean forever: only a finite wait is sent. */
		snprintf(blockbuf, sizeof(blockbuf), "%d", block_ms);
		argv[argc++] = "BLOCK";
		argv[argc++] = blockbuf;
	}
	argv[argc++] = "STREAMS";
	argv[argc++] = stream;
	argv[argc++] = ">";

	widened = c != NULL && !c->err && block_ms > 0 ? widen_timeout(c, block_ms) : 0;
	r = command(c, "XREADGROUP", argc, argv, NULL, &rc, errbuf, errlen);
	if (widened)
		restore_timeout(c);
	if (r == NULL)
		return rc;
	if (r->type == REDIS_REPLY_NIL) {       /* BLOCK expired, nothing new */
		freeReplyObject(r);
		return AX_OK;
	}
	/* [[stream, [[id, fields], ...]]] */
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2) {
		freeReplyObject(r);
		ax_errfmt(errbuf, errlen, "XREADGROUP: unexpected reply shape");
		return AX_EPROTO;
	}
	s = r->element[0]->element[1];
	rc = parse_entries(s, out, max, n, "XREADGROUP", errbuf, errlen);
	freeReplyObject(r);
	/* A fresh read (">") is by definition the first delivery. */
	for (i = 0; i < *n; i++)
		out[i].deliveries = 1;
	return rc;
}

/* One pipelined XPENDING stream group id id 1 per claimed entry gives its
 * delivery count (XAUTOCLAIM itself does not report it).  A missing PEL
 * entry (acked meanwhile) leaves deliveries at 0. */
static ax_err fill_deliveries(redisContext *c, const char *stream, const char *group,
			      struct ax_entry *e, int n, char *errbuf, size_t errlen)
{
	int i, sent = 0;
	ax_err rc = AX_OK;

	for (i = 0; i < n; i++) {
		const char *argv[] = { "XPENDING", stream, group, e[i].stream_id, e[i].stream_id, "1" };

		if (redisAppendCommandArgv(c, 6, argv, NULL) != REDIS_OK)
			return ctx_error(c, "XPENDING", errbuf, errlen);
		sent++;
	}
	for (i = 0; i < sent; i++) {
		redisReply *r = NULL;
		const redisReply *p;

		if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL)
			return ctx_error(c, "XPENDING", errbuf, errlen);
		/* [[id, consumer, idle-ms, deliveries]] */
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
		    r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 4 &&
		    r->element[0]->element[3]->type == REDIS_REPLY_INTEGER) {
			p = r->element[0];
			e[i].deliveries = p->element[3]->integer;
		} else if (r->type == REDIS_REPLY_ERROR && rc == AX_OK) {
			ax_errfmt(errbuf, errlen, "XPENDING: %s", r->str);
			rc = AX_EIO;
		}
		freeReplyObject(r);
	}
	return rc;
}

ax_err ax_group_autoclaim(redisContext *c, const char *stream, const char *group,
			  const char *consumer, int min_idle_ms, char cursor[64], int count,
			  struct ax_entry *out, int max, int *n, char *errbuf, size_t errlen)
{
	char idlebuf[24], countbuf[24];
	const char *argv[8];
	redisReply *r;
	ax_err rc;
	int i;

	*n = 0;
	if (out == NULL || max <= 0 || cursor == NULL) {
		ax_errfmt(errbuf, errlen, "XAUTOCLAIM: no room for entries");
		return AX_EINVAL;
	}
	if (cursor[0] == '\0')
		snprintf(cursor, 64, "0-0");
	if (count <= 0 || count > max)
		count = max;
	snprintf(idlebuf, sizeof(idlebuf), "%d", min_idle_ms < 0 ? 0 : min_idle_ms);
	snprintf(countbuf, sizeof(countbuf), "%d", count);
	argv[0] = "XAUTOCLAIM";
	argv[1] = stream;
	argv[2] = group;
	argv[3] = consumer;
	argv[4] = idlebuf;
	argv[5] = cursor;
	argv[6] = "COUNT";
	argv[7] = countbuf;
	r = command(c, "XAUTOCLAIM", 8, argv, NULL, &rc, errbuf, errlen);
	if (r == NULL)
		return rc;
	/* Redis 7: [next-cursor, [[id, fields], ...], [deleted-id, ...]];
	 * 6.2 has no third element.  Deleted ids were already removed from
	 * the pending list by Redis, so nothing is owed for them. */
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !is_str(r->element[0]) ||
	    r->element[0]->len >= 64) {
		freeReplyObject(r);
		ax_errfmt(errbuf, errlen, "XAUTOCLAIM: unexpected reply shape");
		return AX_EPROTO;
	}
	rc = parse_entries(r->element[1], out, max, n, "XAUTOCLAIM", errbuf, errlen);
	if (rc == AX_OK)
		snprintf(cursor, 64, "%.*s", (int)r->element[0]->len, r->element[0]->str);
	freeReplyObject(r);
	if (rc != AX_OK || *n == 0)
		return rc;
	rc = fill_deliveries(c, stream, group, out, *n, errbuf, errlen);
	if (rc != AX_OK) {
		for (i = 0; i < *n; i++)
			ax_entry_release(&out[i]);
		*n = 0;
	}
	return rc;
}

ax_err ax_group_ack(redisContext *c, const char *stream, const char *group,
		    const char *stream_id, char *errbuf, size_t errlen)
{
	const char *argv[] = { "XACK", stream, group, stream_id };
	redisReply *r;
	ax_err rc;

	if (stream_id == NULL) {
		ax_errfmt(errbuf, errlen, "XACK: no entry id");
		return AX_EINVAL;
	}
	r = command(c, "XACK", 4, argv, NULL, &rc, errbuf, errlen);
	if (r == NULL)
		return rc;
	freeReplyObject(r);
	return AX_OK;
}

const char *ax_entry_problem(const struct ax_entry *e, const char *kind)
{
	enum ax_kind k;

	if (e->v == NULL || strcmp(e->v, AX_ENTRY_VERSION) != 0)
		return "unsupported or missing format version (v)";
	if (e->tenant == NULL || !ax_tenant_valid(e->tenant))
		return "missing or invalid tenant";
	if (e->id == NULL || !ax_uuid_valid(e->id))
		return "missing id or not a UUID";
	if (kind == NULL && (e->kind == NULL || ax_kind_parse(e->kind, &k) != 0))
		return "missing or unknown kind";
	if (kind != NULL && (e->kind == NULL || strcmp(e->kind, kind) != 0))
		return "missing or unsupported kind";
	if (e->trace == NULL || e->trace[0] == '\0')
		return "missing trace";
	if (e->data == NULL)
		return "missing data";
	return NULL;
}

ax_err ax_group_progress(redisContext *c, const char *stream, const char *group,
			 long long *read, long long *pending, char *errbuf, size_t errlen)
{
	const char *info[] = { "XINFO", "GROUPS", stream };
	const char *xp[] = { "XPENDING", stream, group };
	redisReply *r;
	ax_err rc;
	size_t i, k;

	*read = -1;
	*pending = -1;
	r = command(c, "XINFO GROUPS", 3, info, NULL, &rc, errbuf, errlen);
	if (r == NULL)
		return rc;
	/* One map (a flat name/value array) per group. */
	for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *g = r->element[i];
		int ours = 0;

		for (k = 0; g->type == REDIS_REPLY_ARRAY && k + 1 < g->elements; k += 2) {
			const redisReply *name = g->element[k], *val = g->element[k + 1];

			if (name->type != REDIS_REPLY_STRING)
				continue;
			if (strcmp(name->str, "name") == 0)
				ours = val->type == REDIS_REPLY_STRING && strcmp(val->str, group) == 0;
			else if (ours && strcmp(name->str, "entries-read") == 0 &&
				 val->type == REDIS_REPLY_INTEGER)
				*read = val->integer;
		}
	}
	freeReplyObject(r);
	r = command(c, "XPENDING", 3, xp, NULL, &rc, errbuf, errlen);
	if (r == NULL)
		return rc;
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER)
		*pending = r->element[0]->integer;
	freeReplyObject(r);
	if (*pending < 0) {
		ax_errfmt(errbuf, errlen, "XPENDING %s %s: unexpected reply", stream, group);
		return AX_EPROTO;
	}
	return AX_OK;
}

ax_err ax_dead_letter(redisContext *c, const char *stream, const char *group,
		      const struct ax_entry *e, const char *reason, char *errbuf, size_t errlen)
{
	const char *argv[32];
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	const char *ack[] = { "XACK", stream, group, e ? e->stream_id : NULL };
	char deliv[24];
	int argc = 0, i, nreplies;
	ax_err rc = AX_OK;

	if (e == NULL || e->stream_id == NULL) {
		ax_errfmt(errbuf, errlen, "dead-letter: no entry id");
		return AX_EINVAL;
	}
	/* Deleted while pending: there is nothing to copy, only to ack. */
	if (e->deleted)
		return ax_group_ack(c, stream, group, e->stream_id, errbuf, errlen);
	if (c == NULL || c->err) {
		ax_errfmt(errbuf, errlen, "dead-letter: no usable redis connection");
		return AX_EIO;
	}

	argv[argc++] = "XADD";
	argv[argc++] = AX_STREAM_DLQ;
	argv[argc++] = "*";
#define ADD_FIELD(name, val)                    \
	do {                                    \
		if ((val) != NULL) {            \
			argv[argc++] = (name);  \
			argv[argc++] = (val);   \
		}                               \
	} while (0)
	ADD_FIELD("v", e->v);
	ADD_FIELD("tenant", e->tenant);
	ADD_FIELD("id", e->id);
	ADD_FIELD("kind", e->kind);
	ADD_FIELD("trace", e->trace);
	ADD_FIELD("data", e->data);
	ADD_FIELD("reason", reason ? reason : "unspecified");
	ADD_FIELD("origin_stream", stream);
	ADD_FIELD("origin_id", e->stream_id);
	ADD_FIELD("origin_group", group);
	snprintf(deliv, sizeof(deliv), "%lld", e->deliveries);
	ADD_FIELD("deliveries", deliv);
#undef ADD_FIELD

	/* MULTI / XADD / XACK / EXEC pipelined: both happen or neither. */
	if (redisAppendCommandArgv(c, 1, multi, NULL) != REDIS_OK ||
	    redisAppendCommandArgv(c, argc, argv, NULL) != REDIS_OK ||
	    redisAppendCommandArgv(c, 4, ack, NULL) != REDIS_OK ||
	    redisAppendCommandArgv(c, 1, exec, NULL) != REDIS_OK)
		return ctx_error(c, "dead-letter", errbuf, errlen);
	nreplies = 4;
	for (i = 0; i < nreplies; i++) {
		redisReply *r = NULL;

		if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL)
			return ctx_error(c, "dead-letter", errbuf, errlen);
		if (rc == AX_OK) {
			if (r->type == REDIS_REPLY_ERROR) {
				ax_errfmt(errbuf, errlen, "dead-letter: %s", r->str);
				rc = AX_EIO;
			} else if (i == 3) {
				/* EXEC: [xadd-id, ack-count]; a nested error
				 * means one of the two failed at run time. */
				size_t k;

				if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
					ax_errfmt(errbuf, errlen, "dead-letter: transaction aborted");
					rc = AX_EIO;
				}
				for (k = 0; rc == AX_OK && k < r->elements; k++) {
					if (r->element[k]->type == REDIS_REPLY_ERROR) {
						ax_errfmt(errbuf, errlen, "dead-letter: %s",
							  r->element[k]->str);
						rc = AX_EIO;
					}
				}
			}
		}
		freeReplyObject(r);
	}
	return rc;
}

ax_err ax_publish_event(redisContext *c, const char *tenant, const char *json,
			char *errbuf, size_t errlen)
{
	char key[AX_KEY_MAX];
	const char *argv[3];
	redisReply *r;
	ax_err rc;

	if (json == NULL || ax_key(key, sizeof(key), tenant, "events", NULL) < 0) {
		ax_errfmt(errbuf, errlen, "PUBLISH: invalid tenant or empty event");
		return AX_EINVAL;
	}
	argv[0] = "PUBLISH";
	argv[1] = key;
	argv[2] = json;
	r = command(c, "PUBLISH", 3, argv, NULL, &rc, errbuf, errlen);
	if (r == NULL)
		return rc;
	freeReplyObject(r);
	return AX_OK;
}

ax_err ax_action_append(redisContext *c, const char *tenant, const char *id, const char *kind,
			const char *trace, const char *data, char *errbuf, size_t errlen)
{
	struct ax_entry e;

	memset(&e, 0, sizeof(e));
	e.v = (char *)AX_ENTRY_VERSION;
	e.tenant = (char *)tenant;
	e.id = (char *)id;
	e.kind = (char *)kind;
	e.trace = (char *)trace;
	e.data = (char *)data;
	return ax_stream_add(c, AX_STREAM_ACTIONS, &e, NULL, 0, errbuf, errlen);
}
