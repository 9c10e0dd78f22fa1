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

#define SHA1_HEX 40

/* The batch script: one request's signals in one call, after the tenant's
 * rate limit.
 *   KEYS  stream, ratekey, dedupkey_1 .. dedupkey_n
 *   ARGV  ttl, rate, burst, n, version, tenant, trace,
 *         then per signal: status, id, kind, data
 * Returns {-1, retry_after_ms} when the tenant's bucket lacks n tokens
 * (nothing written), else a table of n flags: 1 appended, 0 duplicate.
 * The bucket (a hash: tokens, ts in ms) refills at rate tokens/s up to
 * burst; a request larger than burst passes on a full bucket and leaves
 * it in debt, so an oversized batch is slowed, never starved.  TIME is
 * allowed because Redis 7 replicates a script's effects, not the script. */
const char ingest_batch_script[] =
	"local n = tonumber(ARGV[4])\n"
	"local rate = tonumber(ARGV[2])\n"
	"if rate > 0 then\n"
	"  local burst = tonumber(ARGV[3])\n"
	"  local t = redis.call('TIME')\n"
	"  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"  local b = redis.call('HMGET', KEYS[2], 'tokens', 'ts')\n"
	"  local tokens = tonumber(b[1]) or burst\n"
	"  local ts = tonumber(b[2]) or now\n"
	"  if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000) end\n"
	"  if tokens < math.min(n, burst) then\n"
	"    return {-1, math.ceil((math.min(n, burst) - tokens) * 1000 / rate)}\n"
	"  end\n"
	"  redis.call('HSET', KEYS[2], 'tokens', tostring(tokens - n), 'ts', tostring(now))\n"
	"  redis.call('PEXPIRE', KEYS[2], math.ceil(burst * 1000 / rate) + 1000)\n"
	"end\n"
	"local out = {}\n"
	"for i = 1, n do\n"
	"  local a = 7 + (i - 1) * 4\n"
	"  if redis.call('GET', KEYS[2 + i]) == ARGV[a + 1] then\n"
	"    out[i] = 0\n"
	"  else\n"
	"    redis.call('SET', KEYS[2 + i], ARGV[a + 1], 'EX', ARGV[1])\n"
	"    redis.call('XADD', KEYS[1], '*', 'v', ARGV[5], 'tenant', ARGV[6], 'id', ARGV[a + 2],\n"
	"               'kind', ARGV[a + 3], 'trace', ARGV[7], 'data', ARGV[a + 4])\n"
	"    out[i] = 1\n"
	"  end\n"
	"end\n"
	"return out\n";

struct ingest_appender {
	struct ax_rconn *rc;
	char ttl[24];             /* dedup TTL in seconds, as text */
	char rate[24], burst[24]; /* tenant token bucket, as text */
	char sha[SHA1_HEX + 1];   /* "" until SCRIPT LOAD answered */
	int loading;              /* a SCRIPT LOAD is in flight */
	int closing;
};

/* One EVALSHA for a request's signals: fixed head, then n keys, then
 * 4 arguments per signal. */
enum { H_CMD, H_SCRIPT, H_NKEYS, H_STREAM, H_RATEKEY, H_HEAD };
enum { G_TTL, G_RATE, G_BURST, G_N, G_VERSION, G_TENANT, G_TRACE, G_COUNT };

struct append_cmd {
	struct ingest_appender *a;
	ingest_batch_fn *fn;
	void *arg;
	size_t n;
	int evalsha;               /* sent as EVALSHA (a NOSCRIPT answer retries as EVAL) */
	int argc;
	char nkeys[24], nsig[24];
	char ratekey[AX_KEY_MAX];
	char tenant[AX_TENANT_MAX + 1];
	char trace[AX_TRACE_LEN];
	char *keys;                /* n dedup keys of klen bytes each */
	size_t klen;
	char (*ids)[AX_UUID_LEN];  /* n ids */
	char **data;               /* n signals as JSON text */
	const char **argv;
	size_t *len;
	unsigned char *appended;   /* n result flags */
};

static void cmd_free(struct append_cmd *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->data[i]);
	free(c->data);
	free(c->keys);
	free(c->ids);
	free(c->argv);
	free(c->len);
	free(c->appended);
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
	const char *argv[3] = { "SCRIPT", "LOAD", ingest_batch_script };
	size_t len[3] = { 6, 4, sizeof(ingest_batch_script) - 1 };

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
		c->argv[H_CMD] = "EVALSHA";
		c->argv[H_SCRIPT] = a->sha;  /* copied by hiredis when queued */
	} else {
		c->argv[H_CMD] = "EVAL";
		c->argv[H_SCRIPT] = ingest_batch_script;
	}
	c->len[H_CMD] = strlen(c->argv[H_CMD]);
	c->len[H_SCRIPT] = strlen(c->argv[H_SCRIPT]);
}

static void finish(struct append_cmd *c, ax_err rc, const char *why, long retry_after_ms)
{
	struct ingest_batch_result res = { 0 };
	size_t i;

	res.n = c->n;
	res.appended = c->appended;
	res.why = why;
	res.retry_after_ms = retry_after_ms;
	res.limited = retry_after_ms > 0;
	for (i = 0; rc == AX_OK && !res.limited && i < c->n; i++) {
		if (c->appended[i])
			res.nappended++;
		else
			res.nduplicates++;
	}
	c->fn(rc, &res, c->arg);
	cmd_free(c);
}

static void on_reply(ax_err rc, struct redisReply *r, void *arg)
{
	struct append_cmd *c = arg;
	struct ingest_appender *a = c->a;
	size_t i;

	if (rc != AX_OK) {
		finish(c, rc, ax_strerror(rc), 0);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		if (c->evalsha && strncmp(r->str, "NOSCRIPT", 8) == 0 && !a->closing) {
			/* The server lost its script cache: resend this one as
			 * EVAL and reload for the next ones. */
			a->sha[0] = '\0';
			set_eval(c);
			if (ax_rconn_cmdargv(a->rc, on_reply, c, c->argc, c->argv, c->len) == AX_OK) {
				load_script(a);
				return;
			}
			finish(c, AX_EIO, "redis connection lost", 0);
			return;
		}
		finish(c, AX_EPROTO, r->str, 0);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY) {
		finish(c, AX_EPROTO, "unexpected reply type from the append script", 0);
		return;
	}
	if (r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER &&
	    r->element[0]->integer == -1 && r->element[1]->type == REDIS_REPLY_INTEGER) {
		finish(c, AX_OK, "rate limited",
		       r->element[1]->integer > 0 ? (long)r->element[1]->integer : 1);
		return;
	}
	if (r->elements != c->n) {
		finish(c, AX_EPROTO, "append script answered the wrong number of results", 0);
		return;
	}
	for (i = 0; i < c->n; i++)
		c->appended[i] = r->element[i]->type == REDIS_REPLY_INTEGER &&
				 r->element[i]->integer == 1;
	finish(c, AX_OK, NULL, 0);
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
	snprintf(a->rate, sizeof(a->rate), "%d", o->rate_limit > 0 ? o->rate_limit : 0);
	snprintf(a->burst, sizeof(a->burst), "%d", o->rate_burst > 0 ? o->rate_burst : 1);
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

ax_err ingest_appender_add_batch(struct ingest_appender *a, const char *tenant,
				 const char *trace, const struct ax_signal *sigs, size_t n,
				 const char (*ids)[AX_UUID_LEN], ingest_batch_fn *fn, void *arg)
{
	struct append_cmd *c;
	size_t i, k, g;
	ax_err rc;

	if (!ingest_appender_ready(a))
		return AX_EAGAIN;
	if (fn == NULL || trace == NULL || sigs == NULL || ids == NULL || n == 0 ||
	    n > INGEST_APPEND_MAX)
		return AX_EINVAL;
	c = ax_xcalloc(1, sizeof(*c));
	c->n = n;
	/* One block for the dedup keys: a 100-alert batch would otherwise
	 * cost 100 allocations of AX_KEY_MAX. */
	c->klen = strlen("t:{}:dedup:") + strlen(tenant) + AX_SHA256_HEX;
	c->keys = ax_xcalloc(n, c->klen);
	c->ids = ax_xcalloc(n, sizeof(*c->ids));
	c->data = ax_xcalloc(n, sizeof(*c->data));
	c->appended = ax_xcalloc(n, 1);
	c->argc = (int)(H_HEAD + n + G_COUNT + 4 * n);
	c->argv = ax_xcalloc((size_t)c->argc, sizeof(*c->argv));
	c->len = ax_xcalloc((size_t)c->argc, sizeof(*c->len));
	if (ax_key(c->ratekey, sizeof(c->ratekey), tenant, "rl", NULL) < 0) {
		cmd_free(c);
		return AX_EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (ax_key(c->keys + i * c->klen, c->klen, tenant, "dedup", sigs[i].fingerprint) < 0) {
			cmd_free(c);
			return AX_EINVAL;
		}
	}
	c->a = a;
	c->fn = fn;
	c->arg = arg;
	snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
	snprintf(c->trace, sizeof(c->trace), "%s", trace);
	snprintf(c->nkeys, sizeof(c->nkeys), "%zu", n + 2);
	snprintf(c->nsig, sizeof(c->nsig), "%zu", n);

	load_script(a);
	set_eval(c);
	c->argv[H_NKEYS] = c->nkeys;
	c->argv[H_STREAM] = AX_STREAM_SIGNALS;
	c->argv[H_RATEKEY] = c->ratekey;
	k = H_HEAD;
	for (i = 0; i < n; i++)
		c->argv[k++] = c->keys + i * c->klen;
	g = k;
	c->argv[g + G_TTL] = a->ttl;
	c->argv[g + G_RATE] = a->rate;
	c->argv[g + G_BURST] = a->burst;
	c->argv[g + G_N] = c->nsig;
	c->argv[g + G_VERSION] = AX_ENTRY_VERSION;
	c->argv[g + G_TENANT] = c->tenant;
	c->argv[g + G_TRACE] = c->trace;
	k = g + G_COUNT;
	for (i = 0; i < n; i++) {
		cJSON *j = ax_signal_to_json(&sigs[i]);

		c->data[i] = ax_json_print(j);
		cJSON_Delete(j);
		memcpy(c->ids[i], ids[i], AX_UUID_LEN);
		c->ids[i][AX_UUID_LEN - 1] = '\0';
		c->argv[k++] = ax_status_str(sigs[i].status);
		c->argv[k++] = c->ids[i];
		c->argv[k++] = ax_kind_str(sigs[i].kind);
		c->argv[k++] = c->data[i];
	}
	for (k = H_NKEYS; k < (size_t)c->argc; k++)
		c->len[k] = strlen(c->argv[k]);

	rc = ax_rconn_cmdargv(a->rc, on_reply, c, c->argc, c->argv, c->len);
	if (rc != AX_OK) {
		cmd_free(c);
		return rc;
	}
	return AX_OK;
}
