/* bench_reason.c - one alexus-reason worker, stream to committed rows
 * (scripts/bench-store reason).
 *
 * An alert storm (BENCH_STORM alerts from 50 services, as ingest would
 * append them: the canonical signal with a raw payload) is appended to
 * alexus:signals first; then one alexus-reason with the heuristic starts,
 * and the clock runs until its group has read every entry and none is
 * pending, i.e. every signal's transaction committed and its entry was
 * acknowledged.  Printed: signals/s, the storm's compression (alerts per
 * incident), and a check that every alert landed.
 *
 * Environment: as the stack exports (ALEXUS_REDIS_URL, ALEXUS_DATABASE_URL,
 * ALEXUS_ADMIN_DATABASE_URL), ALEXUS_BIN_DIR (bin), BENCH_STORM (10000). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "alexus/config.h"
#include "alexus/hash.h"
#include "alexus/keys.h"
#include "alexus/stream.h"

#define SERVICES 50
#define TARGET 5000.0

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "bench_reason: %s: %s\n", what, err);
	exit(1);
}

/* Group reason's entries-read and pending count (-1 on failure). */
static void progress(redisContext *c, long long *read, long long *pending)
{
	char err[256];

	if (ax_group_progress(c, AX_STREAM_SIGNALS, AX_GROUP_REASON, read, pending, err,
			      sizeof(err)) != AX_OK)
		die("progress", err);
}

static long pg_count(PGconn *c, const char *sql, const char *tenant)
{
	const char *p[1] = { tenant };
	PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
	long n;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("count", PQresultErrorMessage(r));
	n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

int main(void)
{
	const char *admin = getenv("ALEXUS_ADMIN_DATABASE_URL"), *rurl = getenv("ALEXUS_REDIS_URL");
	const char *bin = getenv("ALEXUS_BIN_DIR") ? getenv("ALEXUS_BIN_DIR") : "bin";
	long storm = getenv("BENCH_STORM") ? strtol(getenv("BENCH_STORM"), NULL, 10) : 10000;
	char tenant[64], suffix[AX_UUID_LEN], host[256], path[512];
	long long base, read, pend;
	double t0, t1;
	redisContext *rc;
	PGconn *pg;
	PGresult *res;
	pid_t pid;
	long i, incidents, alerts;
	int port;

	if (admin == NULL || rurl == NULL)
		die("environment", "run scripts/bench-store reason");
	if (ax_hash_init() != 0)
		return 1;
	if (ax_redis_url_parse(rurl, host, sizeof(host), &port) != AX_OK)
		die("ALEXUS_REDIS_URL", rurl);
	rc = redisConnect(host, port);
	if (rc == NULL || rc->err)
		die("redis", rc ? rc->errstr : "connect");
	pg = PQconnectdb(admin);
	if (PQstatus(pg) != CONNECTION_OK)
		die("postgres", PQerrorMessage(pg));
	ax_uuid4(suffix);
	snprintf(tenant, sizeof(tenant), "bench-r-%.8s", suffix);
	{
		const char *p[1] = { tenant };

		res = PQexecParams(pg, "INSERT INTO tenants (id, name) VALUES ($1, $1)", 1, NULL, p,
				   NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			die("tenant", PQresultErrorMessage(res));
		PQclear(res);
	}

	/* The group exists before the storm, as with a running installation,
	 * so the worker reads exactly what follows. */
	freeReplyObject(redisCommand(rc, "XGROUP CREATE %s %s $ MKSTREAM", AX_STREAM_SIGNALS,
				     AX_GROUP_REASON));
	progress(rc, &base, &pend);
	if (base < 0)
		base = 0;
	for (i = 0; i < storm; i++) {
		char id[AX_UUID_LEN], fp[AX_SHA256_HEX], seed[64], data[1600];
		int svc = (int)(i % SERVICES);

		ax_uuid7(id);
		snprintf(seed, sizeof(seed), "svc-%02d/%ld", svc, i / SERVICES % 40);
		ax_sha256_hex(seed, strlen(seed), fp);
		snprintf(data, sizeof(data),
			 "{\"name\":\"KubePodCrashLooping\",\"status\":\"firing\",\"severity\":\"high\","
			 "\"summary\":\"Pod svc-%02d-%ld is crash looping\",\"service\":\"svc-%02d\","
			 "\"namespace\":\"prod\",\"labels\":{\"alertname\":\"KubePodCrashLooping\","
			 "\"namespace\":\"prod\",\"pod\":\"svc-%02d-%ld\",\"severity\":\"high\"},"
			 "\"annotations\":{\"description\":\"Pod is restarting 3 times / 5 minutes\"},"
			 "\"source\":\"alertmanager\",\"fingerprint\":\"%s\","
			 "\"raw\":{\"status\":\"firing\",\"labels\":{\"alertname\":\"KubePodCrashLooping\"}}}",
			 svc, i / SERVICES % 40, svc, svc, i / SERVICES % 40, fp);
		redisAppendCommand(rc, "XADD %s * v 1 tenant %s id %s kind alert trace t%ld data %s",
				   AX_STREAM_SIGNALS, tenant, id, i, data);
	}
	for (i = 0; i < storm; i++) {
		redisReply *r;

		if (redisGetReply(rc, (void **)&r) != REDIS_OK || r->type == REDIS_REPLY_ERROR)
			die("XADD", r ? r->str : rc->errstr);
		freeReplyObject(r);
	}

	snprintf(path, sizeof(path), "%s/alexus-reason", bin);
	t0 = now_s();
	pid = fork();
	if (pid == 0) {
		setenv("ALEXUS_CONSUMER", "bench-reason", 1);
		setenv("ALEXUS_LOG_LEVEL", "warn", 1);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		struct timespec ts = { 0, 2000000 };

		progress(rc, &read, &pend);
		if (read >= base + storm && pend == 0)
			break;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			die("alexus-reason", "exited early");
		if (now_s() - t0 > 600)
			die("alexus-reason", "did not finish within 600 s");
		nanosleep(&ts, NULL);
	}
	t1 = now_s();
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);

	incidents = pg_count(pg, "SELECT count(*) FROM incidents WHERE tenant_id = $1", tenant);
	alerts = pg_count(pg, "SELECT count(*) FROM signals_seen WHERE tenant_id = $1 "
			      "AND incident_id IS NOT NULL", tenant);
	printf("reason: one worker, %ld alerts from %d services (1.1 KB entries), heuristic\n",
	       storm, SERVICES);
	printf("  stream to committed rows: %.2f s, %.0f signals/s (target >= %.0f: %s)\n", t1 - t0,
	       (double)storm / (t1 - t0), TARGET, (double)storm / (t1 - t0) >= TARGET ? "PASS" : "FAIL");
	printf("  signals committed with their incident: %ld of %ld\n", alerts, storm);
	printf("  incidents: %ld, compression %.0f:1 (target < 100 incidents: %s)\n", incidents,
	       incidents > 0 ? (double)storm / (double)incidents : 0.0,
	       incidents < 100 ? "PASS" : "FAIL");
	PQfinish(pg);
	redisFree(rc);
	return alerts == storm ? 0 : 1;
}
