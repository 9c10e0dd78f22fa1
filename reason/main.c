/* main.c - alexus-reason: consumer group "reason" on alexus:signals.
 *
 * Design: one blocking worker loop per process, no event loop.  A unit of
 * work is a chain of dependent steps (read the entry, one Postgres
 * transaction, then XADD / PUBLISH / XACK), so doing one at a time is the
 * simplest correct shape; throughput comes from running more consumers in
 * the group (ALEXUS_CONSUMER names each one).
 *
 * The loop: connect (retrying with backoff, one log line per outage),
 * ensure the group, reclaim pending entries idle longer than
 * ALEXUS_CLAIM_IDLE_MS (XAUTOCLAIM: what a crashed consumer left behind)
 * before reading new ones and again every claim_idle_ms / 2, then
 * XREADGROUP with a finite BLOCK.  An entry delivered more than
 * ALEXUS_MAX_DELIVERIES times goes to alexus:dlq.
 *
 * When an entry fails for a transient reason (Postgres or Redis gone,
 * deadlock...) it is not acknowledged; the loop backs off, reconnects and
 * retries the same entry before anything else, so one consumer keeps the
 * stream's order (a firing alert is never overtaken by its own
 * resolution).  An entry that keeps failing while both servers answer is
 * dead-lettered after ALEXUS_MAX_DELIVERIES attempts, so one poison entry
 * cannot stall the consumer forever.
 *
 * SIGTERM and SIGINT only set a flag (no SA_RESTART, so sleeps end early;
 * a blocking XREADGROUP returns within ALEXUS_BLOCK_MS); the loop finishes
 * the entry in hand and exits 0.  Entries read but not started stay
 * pending and are reclaimed by the next consumer.  SIGPIPE is ignored.
 *
 * act/main.c has the same loop around a different handler.  The two
 * planes share only libalexus, and the loop logs, which the library never
 * does, so each daemon keeps its own copy. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reason.h"
#include "alexus/config.h"
#include "alexus/hash.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/pg.h"
#include "alexus/stream.h"

#define STREAM AX_STREAM_SIGNALS
#define GROUP AX_GROUP_REASON
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

struct loop {
	struct ax_config cfg;
	struct reason r;
	redisContext *redis;
	int redis_down, pg_down;  /* log once per outage */
	int backoff_n;            /* consecutive failures */
	long long next_claim;     /* monotonic ms */
	struct ax_entry *batch;
};

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Sleep ms in short slices so a stop request ends it promptly even when
 * the signal arrived just before nanosleep. */
static void sleep_ms(long ms)
{
	while (ms > 0 && !stop) {
		long slice = ms < 100 ? ms : 100;
		struct timespec ts = { slice / 1000, (slice % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		ms -= slice;
	}
}

static void backoff(struct loop *l)
{
	long ms = BACKOFF_FIRST_MS;
	int i;

	for (i = 0; i < l->backoff_n && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	l->backoff_n++;
	sleep_ms(ms);
}

static int ensure_redis(struct loop *l)
{
	char err[256] = "";

	if (l->redis != NULL && l->redis->err == 0)
		return 0;
	if (l->redis != NULL) {
		redisFree(l->redis);
		l->redis = NULL;
	}
	l->redis = ax_redis_connect(l->cfg.redis_url, l->cfg.redis_timeout_ms, err, sizeof(err));
	if (l->redis != NULL && ax_group_ensure(l->redis, STREAM, GROUP, err, sizeof(err)) != AX_OK) {
		redisFree(l->redis);
		l->redis = NULL;
	}
	if (l->redis == NULL) {
		if (!l->redis_down)
			ax_error("redis unavailable, retrying: %s", err);
		l->redis_down = 1;
		return -1;
	}
	if (l->redis_down)
		ax_info("redis available again");
	l->redis_down = 0;
	l->next_claim = 0; /* whatever was pending meanwhile: reclaim first */
	return 0;
}

static int ensure_pg(struct loop *l)
{
	char err[256] = "";

	if (ax_pg_ensure(l->r.pg, err, sizeof(err)) != AX_OK) {
		if (!l->pg_down)
			ax_error("postgres unavailable, retrying: %s", err);
		l->pg_down = 1;
		return -1;
	}
	if (l->pg_down)
		ax_info("postgres available again");
	l->pg_down = 0;
	return 0;
}

static int connected(struct loop *l)
{
	return ensure_redis(l) == 0 && ensure_pg(l) == 0;
}

static int healthy(struct loop *l)
{
	PGconn *pc = ax_pg_conn(l->r.pg);

	return l->redis != NULL && l->redis->err == 0 && pc != NULL &&
	       PQstatus(pc) == CONNECTION_OK;
}

static void give_up(struct loop *l, const struct ax_entry *e, const char *why)
{
	char err[256];

	if (ax_dead_letter(l->redis, STREAM, GROUP, e, why, err, sizeof(err)) == AX_OK)
		ax_log(AX_LOG_WARN, e->trace, e->tenant, "entry %s dead-lettered: %s",
		       e->stream_id, why);
	else
		ax_log(AX_LOG_ERROR, e->trace, e->tenant,
		       "entry %s not dead-lettered (%s); it stays pending: %s", e->stream_id, why,
		       err);
}

static void process_one(struct loop *l, const struct ax_entry *e)
{
	char err[512], why[700];
	int failures = 0;

	if (e->deliveries > l->cfg.max_deliveries) {
		snprintf(why, sizeof(why), "delivered %lld times (max %d)", e->deliveries,
			 l->cfg.max_deliveries);
		give_up(l, e, why);
		return;
	}
	for (;;) {
		err[0] = '\0';
		if (reason_handle(&l->r, l->redis, e, err, sizeof(err)) == AX_OK) {
			l->backoff_n = 0;
			return;
		}
		ax_log(AX_LOG_WARN, e->trace, e->tenant, "entry %s not processed, will retry: %s",
		       e->stream_id, err);
		if (healthy(l) && ++failures >= l->cfg.max_deliveries) {
			snprintf(why, sizeof(why), "failed %d times: %s", failures, err);
			give_up(l, e, why);
			return;
		}
		do
			backoff(l);
		while (!stop && !connected(l));
		if (stop) {
			ax_log(AX_LOG_INFO, e->trace, e->tenant,
			       "stopping: entry %s left pending for another consumer", e->stream_id);
			return;
		}
	}
}

static void process_batch(struct loop *l, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!stop)
			process_one(l, &l->batch[i]);
		ax_entry_release(&l->batch[i]);
	}
}

/* XAUTOCLAIM everything idle longer than claim_idle_ms, in id order. */
static void reclaim(struct loop *l)
{
	char cursor[64] = "0-0", err[256];
	int n, rounds = 0;

	do {
		if (ax_group_autoclaim(l->redis, STREAM, GROUP, l->cfg.consumer,
				       l->cfg.claim_idle_ms, cursor, l->cfg.batch, l->batch,
				       l->cfg.batch, &n, err, sizeof(err)) != AX_OK) {
			ax_warn("reclaiming pending entries failed: %s", err);
			return;
		}
		if (n > 0)
			ax_info("reclaimed %d pending entr%s idle over %d ms", n, n == 1 ? "y" : "ies",
				l->cfg.claim_idle_ms);
		process_batch(l, n);
	} while (!stop && strcmp(cursor, "0-0") != 0 && ++rounds < 10000);
}

static void run(struct loop *l)
{
	char err[256];
	int n;

	while (!stop) {
		if (!connected(l)) {
			backoff(l);
			continue;
		}
		if (now_ms() >= l->next_claim) {
			reclaim(l);
			l->next_claim = now_ms() + (l->cfg.claim_idle_ms / 2 > 0 ? l->cfg.claim_idle_ms / 2 : 1);
			continue;
		}
		if (ax_group_read(l->redis, STREAM, GROUP, l->cfg.consumer, l->cfg.batch,
				  l->cfg.block_ms, l->batch, l->cfg.batch, &n, err,
				  sizeof(err)) != AX_OK) {
			ax_warn("XREADGROUP failed: %s", err);
			backoff(l);
			continue;
		}
		l->backoff_n = 0;
		process_batch(l, n);
	}
}

int main(void)
{
	struct loop l;
	struct sigaction sa;
	char err[512];

	memset(&l, 0, sizeof(l));
	if (ax_config_load(&l.cfg, err, sizeof(err)) != AX_OK) {
		fprintf(stderr, "alexus-reason: %s\n", err);
		return 2;
	}
	ax_log_init("reason", l.cfg.log_level);
	if (ax_hash_init() != 0) {
		ax_error("libsodium failed to initialise");
		ax_config_release(&l.cfg);
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a sleep ends when asked to stop */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	l.r.cfg = &l.cfg;
	l.r.pg = ax_pg_new(l.cfg.database_url);
	l.batch = ax_xcalloc((size_t)l.cfg.batch, sizeof(*l.batch));
	ax_info("reason starting: consumer %s, group %s on %s", l.cfg.consumer, GROUP, STREAM);

	run(&l);

	ax_info("reason stopped");
	free(l.batch);
	if (l.redis != NULL)
		redisFree(l.redis);
	ax_pg_free(l.r.pg);
	ax_config_release(&l.cfg);
	return 0;
}
