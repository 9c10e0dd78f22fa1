/* appender.c - claim_once + XADD in one Redis round trip (see appender.h).
 *
 * Why a script.  Dedup and append must be one atomic step: SET NX followed
 * by a separate XADD can claim a fingerprint and then lose the append (a
 * dropped connection between the two), and the retry would then be
 * swallowed as a duplicate.  The Lua script below runs both under Redis's
 * single-threaded execution, so either both happen or neither does, and a
 * sender's retry after any failure is always safe.
 *
 * What counts as a duplicate.  The dedup key holds the last status seen
 * for the fingerprint.  The same status again (a repeated firing, or a
 * repeated resolved: Alertmanager re-sends a group every group_interval)
 * is a duplicate; a different one is news and is appended, so firing ->
 * resolved -> firing again all pass.  The key expires after the dedup TTL
 * and is refreshed by every status change.
 *
 * EVALSHA with a fallback.  The script is loaded once per connection with
 * SCRIPT LOAD (its reply is the SHA1, which saves us a SHA1 implementation:
 * libsodium has none).  Until that reply arrives commands use EVAL with the
 * full text.  A NOSCRIPT error (Redis restarted or SCRIPT FLUSH) resends
 * that one command as EVAL -- which also caches the script again -- and
 * triggers a new SCRIPT LOAD for the commands after it.
 *
 * Redis Cluster note: the dedup key (hash tag {tenant}) and alexus:signals
 * live in different slots, so this script needs a single Redis (or the
 * stream sharded per tenant) before ingest can run against a cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/mem.h"
#include "alexus/rconn.h"
#include "alexus/stream.h"
#include "appender.h"

const char ingest_append_script[] =
	"local cur = redis.call('GET', KEYS[1])\n"
	"if cur == ARGV[1] then return false end\n"
	"redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
	"return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))\n";

#define SHA1_HEX 40

struct ingest_appender {
	struct ax_rconn *rc;
	char ttl[24];             /* dedup TTL in seconds, as text */
	char sha[SHA1_HEX + 1];   /* "" until SCRIPT LOAD answered */
	int loading;              /* a SCRIPT LOAD is in flight */
	int closing;
};

/* EVAL[SHA] script|sha 2 dedupkey stream status ttl
 *           v 1 tenant T id I kind K trace R data D */
enum {
	A_CMD, A_SCRIPT, A_NKEYS, A_KEY, A_STREAM, A_STATUS, A_TTL, A_FIELDS,
	A_ARGC = A_FIELDS + 12
};

struct append_cmd {
	struct ingest_appender *a;
	ingest_append_fn *fn;
	void *arg;
	int evalsha;               /* sent as EVALSHA (a NOSCRIPT answer retries as EVAL) */
	char key[AX_KEY_MAX];
	char tenant[AX_TENANT_MAX + 1];
	char id[AX_UUID_LEN];
	char trace[AX_TRACE_LEN];
	char *data;                /* the signal as JSON text */
	const char *argv[A_ARGC];
	size_t len[A_ARGC];
};

static void cmd_free(struct append_cmd *c)
{
	free(c->data);
	free(c);
}

static void on_script_loaded(ax_err rc, struct redisReply *r, void *arg)
{
	struct ingest_appender *a = arg;

	a->loading = 0;
	if (rc == AX_OK && r->type == REDIS_REPLY_STRING && r->len == SHA1_HEX)
		memcpy(a->sha, r->str, SHA1_HEX + 1);
}

static void load_script(struct ingest_appender *a)
{
	const char *argv[3] = { "SCRIPT", "LOAD", ingest_append_script };
	size_t len[3] = { 6, 4, sizeof(ingest_append_script) - 1 };

	if (a->loading || a->closing || a->sha[0] != '\0')
		return;
	if (ax_rconn_cmdargv(a->rc, on_script_loaded, a, 3, argv, len) == AX_OK)
		a->loading = 1;
}

/* Point argv[0..1] at EVALSHA sha, or at EVAL script. */
static void set_eval(struct append_cmd *c)
{
	struct ingest_appender *a = c->a;

	c->evalsha = a->sha[0] != '\0';
	if (c->evalsha) {
		c->argv[A_CMD] = "EVALSHA";
		c->argv[A_SCRIPT] = a->sha;  /* copied by hiredis when queued */
	} else {
		c->argv[A_CMD] = "EVAL";
		c->argv[A_SCRIPT] = ingest_append_script;
	}
	c->len[A_CMD] = strlen(c->argv[A_CMD]);
	c->len[A_SCRIPT] = strlen(c->argv[A_SCRIPT]);
}

static void on_reply(ax_err rc, struct redisReply *r, void *arg)
{
	struct append_cmd *c = arg;
	struct ingest_appender *a = c->a;

	if (rc != AX_OK) {
		c->fn(rc, INGEST_APPENDED, ax_strerror(rc), c->arg);
		cmd_free(c);
		return;
	}
	switch (r->type) {
	case REDIS_REPLY_NIL:
		c->fn(AX_OK, INGEST_DUPLICATE, NULL, c->arg);
		break;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		c->fn(AX_OK, INGEST_APPENDED, NULL, c->arg);
		break;
	case REDIS_REPLY_ERROR:
		if (c->evalsha && strncmp(r->str, "NOSCRIPT", 8) == 0 && !a->closing) {
			/* The server lost its script cache: resend this one as
			 * EVAL and reload for the next ones. */
			a->sha[0] = '\0';
			set_eval(c);
			if (ax_rconn_cmdargv(a->rc, on_reply, c, A_ARGC, c->argv, c->len) == AX_OK) {
				load_script(a);
				return;
			}
			c->fn(AX_EIO, INGEST_APPENDED, "redis connection lost", c->arg);
			break;
		}
		c->fn(AX_EPROTO, INGEST_APPENDED, r->str, c->arg);
		break;
	default:
		c->fn(AX_EPROTO, INGEST_APPENDED, "unexpected reply type from the append script",
		      c->arg);
		break;
	}
	cmd_free(c);
}

struct ingest_appender *ingest_appender_new(struct event_base *base,
					    const struct ingest_appender_opts *o)
{
	struct ax_rconn_opts ro = { 0 };
	struct ingest_appender *a;

	if (o == NULL || o->dedup_ttl_s <= 0)
		return NULL;
	ro.host = o->host;
	ro.port = o->port;
	ro.command_timeout_ms = o->timeout_ms;
	a = ax_xcalloc(1, sizeof(*a));
	a->rc = ax_rconn_new(base, &ro);
	if (a->rc == NULL) {
		free(a);
		return NULL;
	}
	snprintf(a->ttl, sizeof(a->ttl), "%d", o->dedup_ttl_s);
	return a;
}

void ingest_appender_free(struct ingest_appender *a)
{
	if (a == NULL)
		return;
	a->closing = 1;
	ax_rconn_free(a->rc);   /* runs every pending callback (AX_EIO) now */
	free(a);
}

struct ax_rconn *ingest_appender_conn(struct ingest_appender *a)
{
	return a->rc;
}

int ingest_appender_ready(const struct ingest_appender *a)
{
	return a != NULL && !a->closing && ax_rconn_ready(a->rc);
}

ax_err ingest_appender_add(struct ingest_appender *a, const char *tenant, const char *id,
			   const char *trace, const struct ax_signal *s, ingest_append_fn *fn,
			   void *arg)
{
	struct append_cmd *c;
	cJSON *j;
	ax_err rc;
	int i;

	if (!ingest_appender_ready(a))
		return AX_EAGAIN;
	if (fn == NULL || id == NULL || trace == NULL || s == NULL)
		return AX_EINVAL;
	c = ax_xcalloc(1, sizeof(*c));
	if (ax_key(c->key, sizeof(c->key), tenant, "dedup", s->fingerprint) < 0) {
		free(c);
		return AX_EINVAL;
	}
	c->a = a;
	c->fn = fn;
	c->arg = arg;
	snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->trace, sizeof(c->trace), "%s", trace);
	j = ax_signal_to_json(s);
	c->data = ax_json_print(j);
	cJSON_Delete(j);

	load_script(a);
	set_eval(c);
	c->argv[A_NKEYS] = "2";
	c->argv[A_KEY] = c->key;
	c->argv[A_STREAM] = AX_STREAM_SIGNALS;
	c->argv[A_STATUS] = ax_status_str(s->status);
	c->argv[A_TTL] = a->ttl;
	c->argv[A_FIELDS + 0] = "v";
	c->argv[A_FIELDS + 1] = AX_ENTRY_VERSION;
	c->argv[A_FIELDS + 2] = "tenant";
	c->argv[A_FIELDS + 3] = c->tenant;
	c->argv[A_FIELDS + 4] = "id";
	c->argv[A_FIELDS + 5] = c->id;
	c->argv[A_FIELDS + 6] = "kind";
	c->argv[A_FIELDS + 7] = ax_kind_str(s->kind);
	c->argv[A_FIELDS + 8] = "trace";
	c->argv[A_FIELDS + 9] = c->trace;
	c->argv[A_FIELDS + 10] = "data";
	c->argv[A_FIELDS + 11] = c->data;
	for (i = A_NKEYS; i < A_ARGC; i++)
		c->len[i] = strlen(c->argv[i]);

	rc = ax_rconn_cmdargv(a->rc, on_reply, c, A_ARGC, c->argv, c->len);
	if (rc != AX_OK) {
		cmd_free(c);
		return rc;
	}
	return AX_OK;
}
