/* main.c - alexus-act: consumer group "act" on alexus:actions.
 *
 * Design: one blocking worker loop per process, no event loop.  A unit of
 * work is a chain of dependent steps (read the entry, claim the action in
 * Postgres, deliver, record and audit in Postgres, XACK), so doing one at
 * a time is the simplest correct shape; throughput comes from running
 * more consumers in the group (ALEXUS_CONSUMER names each one).
 *
 * The loop: connect (retrying with backoff, one log line per outage),
 * ensure the group, reclaim pending entries idle longer than
 * ALEXUS_CLAIM_IDLE_MS (XAUTOCLAIM: what a crashed consumer left behind)
 * before reading new ones and again every claim_idle_ms / 2, then
 * XREADGROUP with a finite BLOCK.  An entry delivered more than
 * ALEXUS_MAX_DELIVERIES times goes to alexus:dlq.
 *
 * When an entry fails for a transient reason (Postgres or Redis gone) it
 * is not acknowledged; the loop backs off, reconnects and retries the same
 * entry before anything else (act_handle remembers a delivery whose
 * recording failed, so the retry does not notify twice).  An entry that
 * keeps failing while both servers answer is dead-lettered after
 * ALEXUS_MAX_DELIVERIES attempts.
 *
 * SIGTERM and SIGINT only set a flag (no SA_RESTART, so sleeps end early;
 * a blocking XREADGROUP returns within ALEXUS_BLOCK_MS); the loop finishes
 * the entry in hand and exits 0 -- except that a delivery waiting to
 * retry gives up at once and leaves its action to be redelivered, so a
 * stop never waits out a long retry schedule.  SIGPIPE is ignored.
 *
 * The loop itself is common/worker.c (ax_worker_run), shared with
 * reason/main.c, which runs it around a different handler.
 *
 * Beside the loop, threads with connections of their own, started before
 * it and joined after it returns (they watch the same stop flag): the
 * notification retry thread (notify/retry.c), which owns every attempt of
 * a notification target after the first, and the periodic jobs.
 *
 * Probes: with ALEXUS_HEALTH_ADDR set, common/health.c serves /healthz
 * and /readyz on a thread of its own.  /readyz follows the loop's
 * heartbeat (ax_health_beat): each entry handled here beats it, as does
 * the loop itself (common/worker.c) each time a read answered; a stop
 * request turns it to 503 at once, so a draining process never counts as
 * ready. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "jobs.h"
#include "notify/retry.h"
#include "notify/webhook.h"
#include "alexus/config.h"
#include "alexus/cred.h"
#include "alexus/hash.h"
#include "alexus/health.h"
#include "alexus/httpc.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/pg.h"
#include "alexus/stream.h"
#include "alexus/worker.h"

#define STREAM AX_STREAM_ACTIONS
#define GROUP AX_GROUP_ACT

/* A settled entry means the loop reached Redis and Postgres just now. */
static ax_err handle(void *ctx, redisContext *c, const struct ax_entry *e, char *err,
		     size_t errlen)
{
	ax_err rc = act_handle(ctx, c, e, err, errlen);

	if (rc == AX_OK)
		ax_health_beat();
	return rc;
}

int main(void)
{
	struct ax_config cfg;
	struct act r;
	struct ax_worker_opts wo;
	struct act_retry retry;
	struct act_jobs *jobs;
	struct ax_health *health = NULL;
	volatile sig_atomic_t *stop;
	char err[512];

	memset(&cfg, 0, sizeof(cfg));
	memset(&r, 0, sizeof(r));
	/* First, so a stop request during start-up is a clean exit too. */
	stop = ax_worker_stop_on_signals();
	if (ax_config_load(&cfg, err, sizeof(err)) != AX_OK) {
		fprintf(stderr, "alexus-act: %s\n", err);
		return 2;
	}
	/* act works one action at a time; a large read would only age in
	 * the pending list. */
	if (cfg.batch == 0)
		cfg.batch = 16;
	ax_log_init("act", cfg.log_level);
	if (ax_hash_init() != 0) {
		ax_error("libsodium failed to initialise");
		ax_config_release(&cfg);
		return 1;
	}


	if (ax_httpc_global_init() != 0) {
		ax_error("libcurl failed to initialise");
		ax_config_release(&cfg);
		return 1;
	}

	r.cfg = &cfg;
	r.stop = stop;
	r.pg = ax_pg_new(cfg.database_url);
	if (cfg.master_key[0] != '\0') {
		if (ax_cred_keyring_config(&r.kr, &cfg, err, sizeof(err)) != AX_OK) {
			ax_error("%s", err);
			ax_pg_free(r.pg);
			ax_config_release(&cfg);
			return 2;
		}
		r.has_keyring = 1;
	}
	ax_info("act starting: consumer %s, group %s on %s", cfg.consumer, GROUP, STREAM);
	{
		struct act_webhook_opts o = { cfg.notify_timeout_ms, cfg.notify_retries,
					      cfg.notify_backoff_ms, NULL };
		long worst = act_webhook_worst_ms(&o);

		if (worst >= cfg.claim_idle_ms)
			ax_warn("a delivery may take up to %ld ms, not less than ALEXUS_CLAIM_IDLE_MS "
				"(%d): another consumer may reclaim and deliver it again meanwhile",
				worst, cfg.claim_idle_ms);
	}

	if (cfg.health_addr[0] != '\0') {
		health = ax_health_start(cfg.health_addr, cfg.health_max_age_ms, stop, err,
					 sizeof(err));
		if (health == NULL) {
			ax_error("refusing to start: ALEXUS_HEALTH_ADDR: %s", err);
			ax_pg_free(r.pg);
			ax_keyring_wipe(&r.kr);
			ax_config_release(&cfg);
			return 1;
		}
		ax_info("probes on %s: /healthz, /readyz", cfg.health_addr);
	}

	if (act_retry_start(&retry, &r) != 0) {
		ax_error("cannot start the notification retry thread");
		ax_health_stop(health);
		ax_pg_free(r.pg);
		ax_keyring_wipe(&r.kr);
		ax_config_release(&cfg);
		return 1;
	}

	memset(&wo, 0, sizeof(wo));
	wo.stream = STREAM;
	wo.group = GROUP;
	wo.cfg = &cfg;
	wo.pg = r.pg;
	wo.stop = stop;
	wo.handle = handle;
	wo.ctx = &r;
	jobs = act_jobs_start(&cfg, stop);
	ax_worker_run(&wo);
	act_jobs_stop(jobs);
	/* The loop returns only once *stop is set, which ends the thread too. */
	act_retry_join(&retry);
	ax_health_stop(health);

	ax_info("act stopped");
	ax_pg_free(r.pg);
	ax_keyring_wipe(&r.kr);
	ax_config_release(&cfg);
	return 0;
}
