/* retry.c - act's retry thread (see retry.h).
 *
 * Design: a plain loop on a thread, like the stream worker: each pass is
 * a chain of dependent steps (which tenants, take, attempt, record), one
 * at a time, with blocking libpq and hiredis calls on connections that
 * belong to this thread alone.  Throughput across a big backlog comes
 * from running more act replicas (SKIP LOCKED shares the rows), not from
 * parallelism inside one.
 *
 * Sleeping is in 50 ms slices so a stop is seen quickly; a pass that
 * found a full batch sleeps not at all.  Outages (Postgres or Redis gone)
 * are logged once when they start and once when they end, with a backoff
 * of up to 5 s between tries. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retry.h"
#include "delivery.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/stream.h"

#define PASS_MS 250
#define TENANTS_MAX 64

static const char Q_DUE_TENANTS[] = "SELECT t FROM tenants_with_due_deliveries($1) AS t";

struct loop {
	struct act *a;
	redisContext *redis;
	int pg_down, redis_down, refused;
	long backoff_ms;
	struct act_job *jobs;
	struct act_settle *settled;   /* parallel to jobs */
	int max;
};

static int stopping(const struct loop *l)
{
	return *l->a->stop != 0;
}

static void nap(struct loop *l, long ms)
{
	while (ms > 0 && !stopping(l)) {
		long slice = ms < 50 ? ms : 50;
		struct timespec ts = { 0, slice * 1000000L };

		nanosleep(&ts, NULL);
		ms -= slice;
	}
}

static void pg_failed(struct loop *l, const char *err)
{
	if (!l->pg_down)
		ax_warn("notify retry: postgres: %s", err);
	l->pg_down = 1;
	l->backoff_ms = l->backoff_ms == 0 ? 100 : l->backoff_ms * 2;
	if (l->backoff_ms > 5000)
		l->backoff_ms = 5000;
}

static void pg_ok(struct loop *l)
{
	if (l->pg_down)
		ax_info("notify retry: postgres is back");
	l->pg_down = 0;
	l->backoff_ms = 0;
}

/* The Redis connection for dead letters and events; NULL while down. */
static redisContext *redis(struct loop *l)
{
	char err[256];

	if (l->redis != NULL && l->redis->err) {
		redisFree(l->redis);
		l->redis = NULL;
	}
	if (l->redis == NULL) {
		l->redis = ax_redis_connect(l->a->cfg->redis_url, l->a->cfg->redis_timeout_ms, err,
					    sizeof(err));
		if (l->redis == NULL) {
			if (!l->redis_down)
				ax_warn("notify retry: redis: %s (dead letters wait)", err);
			l->redis_down = 1;
			return NULL;
		}
		if (l->redis_down)
			ax_info("notify retry: redis is back");
		l->redis_down = 0;
	}
	return l->redis;
}

/* One batch of one tenant: *full when it was a whole batch. */
static ax_err tenant_pass(struct loop *l, const char *tenant, int *full)
{
	struct act *a = l->a;
	char err[512];
	int n = 0, i, dl = 0;

	*full = 0;
	if (act_delivery_take_due(a, tenant, l->jobs, l->max, &n, err, sizeof(err)) != AX_OK) {
		pg_failed(l, err);
		return AX_EIO;
	}
	*full = n == l->max;
	for (i = 0; i < n; i++) {
		struct act_job *j = &l->jobs[i];

		if (stopping(l)) {
			act_delivery_release(a, tenant, j);
			continue;
		}
		act_delivery_attempt(a, tenant, j);
		ax_log(AX_LOG_DEBUG, j->trace, tenant, "notify action %s: %s attempt %d: %s",
		       j->action_id, j->target, j->attempts + 1,
		       j->out.ok ? "delivered" : j->out.error);
	}
	if (act_delivery_record(a, tenant, l->jobs, n, l->settled, err, sizeof(err)) != AX_OK) {
		/* Not recorded: the leases run out and these targets are
		 * attempted again (at least once). */
		ax_log(AX_LOG_WARN, NULL, tenant, "notify retry: %d attempt(s) not recorded: %s", n,
		       err);
		pg_failed(l, err);
		act_jobs_release(l->jobs, n);
		return AX_EIO;
	}
	for (i = 0; i < n; i++) {
		const struct act_job *j = &l->jobs[i];

		if (j->done && j->out.ok)
			ax_log(AX_LOG_INFO, j->trace, tenant,
			       "notify action %s: %s delivered on attempt %d (%s)", j->action_id,
			       j->target, j->attempts + 1, j->out.host);
		if (l->settled[i].settled) {
			ax_log(AX_LOG_INFO, j->trace, tenant, "notify action %s %s", j->action_id,
			       l->settled[i].status);
			act_delivery_publish(redis(l), tenant, j->action_id, &l->settled[i]);
		}
	}
	act_jobs_release(l->jobs, n);
	if (!stopping(l) && redis(l) != NULL &&
	    act_delivery_dead_letters(a, l->redis, tenant, l->max, &dl, err, sizeof(err)) != AX_OK)
		ax_log(AX_LOG_WARN, NULL, tenant, "notify retry: %s", err);
	return AX_OK;
}

/* One pass over the tenants with due work; *busy when some batch was
 * full. */
static void pass(struct loop *l, int *busy)
{
	struct act *a = l->a;
	char err[512], lim[16], (*tenants)[AX_TENANT_MAX + 1];
	const char *p[1] = { lim };
	PGresult *res;
	int i, n, full;

	*busy = 0;
	if (ax_pg_ensure(a->pg, err, sizeof(err)) != AX_OK) {
		pg_failed(l, err);
		return;
	}
	snprintf(lim, sizeof(lim), "%d", TENANTS_MAX);
	res = ax_pg_exec(a->pg, err, sizeof(err), Q_DUE_TENANTS, 1, p);
	if (res == NULL) {
		if (strcmp(ax_pg_sqlstate(a->pg), "42501") == 0) {
			ax_warn("notify retry: no retries at all: %s", err);
			l->refused = 1;
			return;
		}
		pg_failed(l, err);
		return;
	}
	n = PQntuples(res);
	tenants = ax_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*tenants));
	for (i = 0; i < n; i++)
		snprintf(tenants[i], sizeof(tenants[i]), "%s", PQgetvalue(res, i, 0));
	PQclear(res);
	pg_ok(l);
	for (i = 0; i < n && !stopping(l); i++) {
		if (tenant_pass(l, tenants[i], &full) != AX_OK)
			break;
		*busy |= full;
	}
	free(tenants);
}

static void *run(void *arg)
{
	struct act_retry *r = arg;
	struct loop l;
	sigset_t set;
	int busy;

	/* SIGTERM and SIGINT belong to the main thread, whose sleeps they
	 * end; this one polls the flag. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	memset(&l, 0, sizeof(l));
	l.a = &r->a;
	l.max = r->a.cfg->notify_batch;
	l.jobs = ax_xcalloc((size_t)l.max, sizeof(*l.jobs));
	l.settled = ax_xcalloc((size_t)l.max, sizeof(*l.settled));
	while (!stopping(&l) && !l.refused) {
		pass(&l, &busy);
		if (l.backoff_ms > 0)
			nap(&l, l.backoff_ms);
		else if (!busy)
			nap(&l, PASS_MS);
	}
	free(l.jobs);
	free(l.settled);
	if (l.redis != NULL)
		redisFree(l.redis);
	return NULL;
}

int act_retry_start(struct act_retry *r, const struct act *parent)
{
	memset(r, 0, sizeof(*r));
	r->a.cfg = parent->cfg;
	r->a.stop = parent->stop;
	r->a.kr = parent->kr;
	r->a.has_keyring = parent->has_keyring;
	r->a.pg = ax_pg_new(parent->cfg->database_url);
	if (pthread_create(&r->thread, NULL, run, r) != 0) {
		ax_pg_free(r->a.pg);
		ax_keyring_wipe(&r->a.kr);
		memset(r, 0, sizeof(*r));
		return -1;
	}
	r->started = 1;
	return 0;
}

void act_retry_join(struct act_retry *r)
{
	if (!r->started)
		return;
	pthread_join(r->thread, NULL);
	ax_pg_free(r->a.pg);
	ax_keyring_wipe(&r->a.kr);
	memset(r, 0, sizeof(*r));
}
