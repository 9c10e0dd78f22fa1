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
 * The loop itself is common/worker.c (ax_worker_run), shared with
 * act/main.c, which runs it around a different handler.
 *
 * Probes: with ALEXUS_HEALTH_ADDR set, common/health.c serves /healthz
 * and /readyz on a thread of its own.  /readyz follows the loop's
 * heartbeat (ax_health_beat): each entry or batch handled here beats it,
 * as does the loop itself (common/worker.c) each time a read answered; a
 * stop request turns it to 503 at once, so a draining process never
 * counts as ready. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reason.h"
#include "run.h"
#include "alexus/httpc.h"
#include "alexus/config.h"
#include "alexus/hash.h"
#include "alexus/health.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/pg.h"
#include "alexus/stream.h"
#include "alexus/worker.h"

#define STREAM AX_STREAM_SIGNALS
#define GROUP AX_GROUP_REASON

/* A settled entry means the loop reached Redis and Postgres just now. */
static ax_err handle(void *ctx, redisContext *c, const struct ax_entry *e, char *err,
		     size_t errlen)
{
	ax_err rc = reason_handle(ctx, c, e, err, errlen);

	if (rc == AX_OK)
		ax_health_beat();
	return rc;
}

static ax_err handle_batch(void *ctx, redisContext *c, const struct ax_entry *const *es, int n,
			   unsigned char *done, char *err, size_t errlen)
{
	ax_err rc = reason_handle_batch(ctx, c, es, n, done, err, errlen);

	if (rc == AX_OK)
		ax_health_beat();
	return rc;
}

int main(void)
{
	struct ax_config cfg;
	struct reason r;
	struct ax_worker_opts wo;
	struct ax_health *health = NULL;
	volatile sig_atomic_t *stop;
	char err[512];

	memset(&cfg, 0, sizeof(cfg));
	memset(&r, 0, sizeof(r));
	/* First, so a stop request during start-up is a clean exit too. */
	stop = ax_worker_stop_on_signals();
	if (ax_config_load(&cfg, err, sizeof(err)) != AX_OK) {
		fprintf(stderr, "alexus-reason: %s\n", err);
		return 2;
	}
	/* A read is one transaction per tenant: the larger the read, the
	 * fewer round trips a storm costs. */
	if (cfg.batch == 0)
		cfg.batch = 256;
	ax_log_init("reason", cfg.log_level);
	if (ax_hash_init() != 0 || ax_httpc_global_init() != 0) {
		ax_error("libsodium or libcurl failed to initialise");
		ax_config_release(&cfg);
		return 1;
	}

	if (cfg.health_addr[0] != '\0') {
		health = ax_health_start(cfg.health_addr, cfg.health_max_age_ms, stop, err,
					 sizeof(err));
		if (health == NULL) {
			ax_error("refusing to start: ALEXUS_HEALTH_ADDR: %s", err);
			ax_config_release(&cfg);
			return 1;
		}
		ax_info("probes on %s: /healthz, /readyz", cfg.health_addr);
	}

	r.cfg = &cfg;
	r.pg = ax_pg_new(cfg.database_url);
	if (cfg.reason_agents > 0) {
		r.runner = reason_runner_start(&cfg, cfg.reason_agents, stop, err, sizeof(err));
		if (r.runner == NULL) {
			ax_error("reason: the stage runner did not start: %s", err);
			ax_health_stop(health);
			ax_pg_free(r.pg);
			ax_config_release(&cfg);
			return 1;
		}
	}
	ax_info("reason starting: consumer %s, group %s on %s", cfg.consumer, GROUP, STREAM);

	memset(&wo, 0, sizeof(wo));
	wo.stream = STREAM;
	wo.group = GROUP;
	wo.cfg = &cfg;
	wo.pg = r.pg;
	wo.stop = stop;
	wo.handle = handle;
	wo.handle_batch = handle_batch;
	wo.ctx = &r;
	ax_worker_run(&wo);

	reason_runner_stop(r.runner);
	ax_health_stop(health);
	ax_info("reason stopped");
	ax_pg_free(r.pg);
	ax_config_release(&cfg);
	return 0;
}
