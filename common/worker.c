/* worker.c - the consumer-group worker loop shared by alexus-reason and
 * alexus-act; see alexus/worker.h.
 *
 * Daemon scaffolding: this is the one part of libalexus that logs (through
 * alexus/log.h), since the loop's outages, retries and dead letters are
 * what a daemon operator reads.  The library proper never logs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alexus/health.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/worker.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

struct loop {
	const struct ax_worker_opts *o;
	const struct ax_config *cfg;
	redisContext *redis;
	int redis_down, pg_down;  /* log once per outage */
	int backoff_n;            /* consecutive failures */
	long long next_claim;     /* monotonic ms */
	struct ax_entry *batch;
};

#define STOP(l) (*(l)->o->stop)

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Sleep ms in short slices so a stop request ends it promptly even when
 * the signal arrived just before nanosleep. */
static void sleep_ms(struct loop *l, long ms)
{
	while (ms > 0 && !STOP(l)) {
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
	sleep_ms(l, ms);
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
	l->redis = ax_redis_connect(l->cfg->redis_url, l->cfg->redis_timeout_ms, err, sizeof(err));
	if (l->redis != NULL &&
	    ax_group_ensure(l->redis, l->o->stream, l->o->group, err, sizeof(err)) != AX_OK) {
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

	if (ax_pg_ensure(l->o->pg, err, sizeof(err)) != AX_OK) {
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
	PGconn *pc = ax_pg_conn(l->o->pg);

	return l->redis != NULL && l->redis->err == 0 && pc != NULL &&
	       PQstatus(pc) == CONNECTION_OK;
}

ax_err ax_worker_dead_letter(redisContext *c, const char *stream, const char *group,
			     const struct ax_entry *e, const char *why, char *errbuf,
			     size_t errlen)
{
	ax_err rc = ax_dead_letter(c, stream, group, e, why, errbuf, errlen);

	if (rc == AX_OK)
		ax_log(AX_LOG_WARN, e->trace, e->tenant, "entry %s dead-lettered: %s", e->stream_id,
		       why);
	return rc;
}

static void give_up(struct loop *l, const struct ax_entry *e, const char *why)
{
	char err[256];

	if (ax_worker_dead_letter(l->redis, l->o->stream, l->o->group, e, why, err,
				  sizeof(err)) != AX_OK)
		ax_log(AX_LOG_ERROR, e->trace, e->tenant,
		       "entry %s not dead-lettered (%s); it stays pending: %s", e->stream_id, why,
		       err);
}

static void process_one(struct loop *l, const struct ax_entry *e)
{
	char err[512], why[700];
	int failures = 0;

	if (e->deliveries > l->cfg->max_deliveries) {
		snprintf(why, sizeof(why), "delivered %lld times (max %d)", e->deliveries,
			 l->cfg->max_deliveries);
		give_up(l, e, why);
		return;
	}
	for (;;) {
		err[0] = '\0';
		switch (l->o->handle(l->o->ctx, l->redis, e, err, sizeof(err))) {
		case AX_OK:
			l->backoff_n = 0;
			return;
		case AX_EAGAIN:
			return; /* stop requested mid-work: left pending */
		default:
			break;
		}
		ax_log(AX_LOG_WARN, e->trace, e->tenant, "entry %s not processed, will retry: %s",
		       e->stream_id, err);
		if (healthy(l) && ++failures >= l->cfg->max_deliveries) {
			snprintf(why, sizeof(why), "failed %d times: %s", failures, err);
			give_up(l, e, why);
			return;
		}
		do
			backoff(l);
		while (!STOP(l) && !connected(l));
		if (STOP(l)) {
			ax_log(AX_LOG_INFO, e->trace, e->tenant,
			       "stopping: entry %s left pending for another consumer", e->stream_id);
			return;
		}
	}
}

/* The batch handler over the entries of one read.  Returns 1 when a stop
 * was requested (everything unsettled stays pending). */
static int try_batch(struct loop *l, int n, unsigned char *done)
{
	const struct ax_entry **es = ax_xcalloc((size_t)n, sizeof(*es));
	unsigned char *sub = ax_xcalloc((size_t)n, 1);
	int *at = ax_xcalloc((size_t)n, sizeof(*at));
	char err[512] = "";
	int i, k = 0, stop = 0;
	ax_err rc;

	for (i = 0; i < n; i++) {
		if (l->batch[i].deliveries > l->cfg->max_deliveries)
			continue; /* process_one dead-letters it */
		at[k] = i;
		es[k++] = &l->batch[i];
	}
	if (k > 1) {
		rc = l->o->handle_batch(l->o->ctx, l->redis, es, k, sub, err, sizeof(err));
		for (i = 0; i < k; i++)
			done[at[i]] = sub[i];
		if (rc == AX_OK)
			l->backoff_n = 0;
		else if (rc == AX_EAGAIN)
			stop = 1;
		else {
			int left = 0;

			for (i = 0; i < k; i++)
				left += !sub[i];
			if (STOP(l))
				ax_warn("%d of a batch of %d entries not settled (%s); stopping: "
					"they stay pending for the next consumer", left, k, err);
			else
				ax_warn("%d of a batch of %d entries not settled (%s); taking them "
					"one by one", left, k, err);
		}
	}
	free(es);
	free(sub);
	free(at);
	return stop;
}

static void process_batch(struct loop *l, int n)
{
	unsigned char *done = ax_xcalloc((size_t)(n > 0 ? n : 1), 1);
	int i, stop = 0;

	if (l->o->handle_batch != NULL && n > 1 && !STOP(l))
		stop = try_batch(l, n, done);
	for (i = 0; i < n; i++) {
		if (!done[i] && !stop && !STOP(l))
			process_one(l, &l->batch[i]);
		ax_entry_release(&l->batch[i]);
	}
	free(done);
}

/* XAUTOCLAIM everything idle longer than claim_idle_ms, in id order. */
static void reclaim(struct loop *l)
{
	char cursor[64] = "0-0", err[256];
	int n, rounds = 0;

	do {
		if (ax_group_autoclaim(l->redis, l->o->stream, l->o->group, l->cfg->consumer,
				       l->cfg->claim_idle_ms, cursor, l->cfg->batch, l->batch,
				       l->cfg->batch, &n, err, sizeof(err)) != AX_OK) {
			ax_warn("reclaiming pending entries failed: %s", err);
			return;
		}
		if (n > 0)
			ax_info("reclaimed %d pending entr%s idle over %d ms", n, n == 1 ? "y" : "ies",
				l->cfg->claim_idle_ms);
		process_batch(l, n);
	} while (!STOP(l) && strcmp(cursor, "0-0") != 0 && ++rounds < 10000);
}

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

volatile sig_atomic_t *ax_worker_stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return &stop_requested;
}

void ax_worker_run(const struct ax_worker_opts *o)
{
	struct loop l;
	char err[256];
	int n;

	memset(&l, 0, sizeof(l));
	l.o = o;
	l.cfg = o->cfg;
	l.batch = ax_xcalloc((size_t)l.cfg->batch, sizeof(*l.batch));
	while (!STOP(&l)) {
		if (!connected(&l)) {
			backoff(&l);
			continue;
		}
		if (now_ms() >= l.next_claim) {
			reclaim(&l);
			l.next_claim = now_ms() +
				       (l.cfg->claim_idle_ms / 2 > 0 ? l.cfg->claim_idle_ms / 2 : 1);
			continue;
		}
		if (ax_group_read(l.redis, o->stream, o->group, l.cfg->consumer, l.cfg->batch,
				  l.cfg->block_ms, l.batch, l.cfg->batch, &n, err,
				  sizeof(err)) != AX_OK) {
			ax_warn("XREADGROUP failed: %s", err);
			backoff(&l);
			continue;
		}
		l.backoff_n = 0;
		/* Redis answered just now and Postgres was ensured before the
		 * read: the loop is alive and connected (/readyz, health.h). */
		ax_health_beat();
		process_batch(&l, n);
	}
	free(l.batch);
	if (l.redis != NULL)
		redisFree(l.redis);
}
