/* stream.h - the stream entry format and the consumer-group operations.
 *
 * An entry has the fields v (format version "1"), tenant, id (UUID), kind,
 * trace and data (a JSON document of the kind); proto/streams.md is the
 * contract.  The consumer helpers here use a blocking hiredis context and
 * are meant for the reason and act workers, whose unit of work is a
 * sequence of dependent steps; ingest uses the async rconn instead. */
#ifndef AX_STREAM_H
#define AX_STREAM_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include "alexus/err.h"

#define AX_ENTRY_VERSION "1"

struct ax_entry {
	char *stream_id;   /* Redis entry id "ms-seq" */
	char *v;
	char *tenant;
	char *id;
	char *kind;
	char *trace;
	char *data;        /* JSON text */
	long long deliveries; /* times delivered: 1 for a fresh ax_group_read, the
	                       * XPENDING count after ax_group_autoclaim (0 if the
	                       * entry left the pending list meanwhile) */
	int deleted;       /* the entry was deleted from the stream while pending:
	                    * only stream_id is set; ax_dead_letter just acks it */
};

/* Free every string of e and zero it (safe on a zeroed entry; NULL-safe). */
void ax_entry_release(struct ax_entry *e);

/* What is wrong with e's envelope (v, tenant, id, kind, trace, data), or
 * NULL when it is whole.  kind NULL accepts any signal kind (ax_kind_parse);
 * otherwise the entry's kind must be exactly that.  The answer is static
 * text, fit for a dead letter's reason. */
const char *ax_entry_problem(const struct ax_entry *e, const char *kind);

/* Connect with a connect/command timeout in ms (<= 0 means 2000); NULL with
 * errbuf set.  TCP keepalive is on.  After any call below returns AX_EIO or
 * AX_ETIMEDOUT for a transport failure (c->err is then set) the context is
 * dead: redisFree it and connect again; later calls fail fast with AX_EIO.
 * An error *reply* (c->err still 0) leaves the context usable. */
redisContext *ax_redis_connect(const char *url, int timeout_ms, char *errbuf, size_t errlen);

/* XADD stream * v 1 tenant .. id .. kind .. trace .. data ..; the new
 * entry id is copied to out_id (may be NULL).  tenant, id, kind and data
 * are required (AX_EINVAL); v defaults to "1", trace to "". */
ax_err ax_stream_add(redisContext *c, const char *stream, const struct ax_entry *e,
		     char *out_id, size_t out_len, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* One action of the outbox onto alexus:actions: an entry of kind kind
 * (notify, remediate) for action id of tenant, data its payload.  Every
 * writer of actions (reason's stages, act's own notifications, ingest's
 * approval decisions) appends through this, after the COMMIT that wrote
 * the row; act is idempotent by action id, so appending again is safe. */
ax_err ax_action_append(redisContext *c, const char *tenant, const char *id, const char *kind,
			const char *trace, const char *data, char *errbuf,
			size_t errlen) AX_MUSTCHECK;

/* XGROUP CREATE stream group 0 MKSTREAM; an existing group is fine. */
ax_err ax_group_ensure(redisContext *c, const char *stream, const char *group,
		       char *errbuf, size_t errlen) AX_MUSTCHECK;

/* XREADGROUP GROUP group consumer COUNT count BLOCK block_ms STREAMS stream >
 * Fills up to max entries into out; *n receives how many (0 when the
 * block expired).  COUNT is capped at max (count <= 0 means max); block_ms
 * <= 0 sends no BLOCK (never "BLOCK 0", which would wait forever).  The
 * socket timeout is widened by block_ms for this call.  Entries with
 * missing fields are still returned (fields NULL) so the caller can
 * dead-letter them; unknown fields are ignored.  The caller releases each
 * returned entry with ax_entry_release.  On error *n is 0. */
ax_err ax_group_read(redisContext *c, const char *stream, const char *group,
		     const char *consumer, int count, int block_ms,
		     struct ax_entry *out, int max, int *n, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* XAUTOCLAIM stream group consumer min_idle_ms start COUNT count, then
 * XPENDING for the delivery counts of what was claimed.  *cursor is
 * "0-0" (or "") for the first call and is updated; done when it returns
 * "0-0".  Entries deleted from the stream while pending are dropped from
 * the pending list by Redis 7 and not returned; a Redis that reports them
 * as [id, nil] yields an entry with deleted = 1.  Release as above. */
ax_err ax_group_autoclaim(redisContext *c, const char *stream, const char *group,
			  const char *consumer, int min_idle_ms, char cursor[64], int count,
			  struct ax_entry *out, int max, int *n, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* XACK stream group stream_id (acking an unknown id is not an error). */
ax_err ax_group_ack(redisContext *c, const char *stream, const char *group,
		    const char *stream_id, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* How far group has got on stream: *read = the group's entries-read
 * (entries ever delivered to it, Redis 7) or -1 when Redis does not say,
 * *pending = entries delivered and not yet acknowledged. */
ax_err ax_group_progress(redisContext *c, const char *stream, const char *group,
			 long long *read, long long *pending, char *errbuf,
			 size_t errlen) AX_MUSTCHECK;

/* Copy e to alexus:dlq, then XACK it on stream, atomically (MULTI/EXEC).
 * The DLQ entry has e's non-NULL fields (v tenant id kind trace data) plus
 * reason, origin_stream, origin_id (e->stream_id), origin_group and
 * deliveries.  An entry with deleted set is only acknowledged. */
ax_err ax_dead_letter(redisContext *c, const char *stream, const char *group,
		      const struct ax_entry *e, const char *reason, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* PUBLISH t:{tenant}:events json; failures are reported, never fatal.
 * AX_EINVAL for an invalid tenant. */
ax_err ax_publish_event(redisContext *c, const char *tenant, const char *json,
			char *errbuf, size_t errlen) AX_MUSTCHECK;

#endif /* AX_STREAM_H */
