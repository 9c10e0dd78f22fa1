/* bench_store.c - alerts and incident updates persisted through row-level
 * security (make bench-store; scripts/bench-store starts the stack).
 *
 * Both rows write the same alert storm for a fresh tenant, connected as
 * the application role (RLS applies, every row is checked against
 * app.tenant_id):
 *
 *   batched   common/store.c, what reason uses: per batch of BATCH alerts
 *             one transaction: reason's signals_seen lookup, then one
 *             pipeline of set-based statements (alerts, alert_history,
 *             incidents opened and updated, signals_seen, incident_events)
 *   per-alert the shape reason had before batching, as the peer: one
 *             transaction per alert, one statement per row
 *   writers   the batched row from BENCH_WRITERS processes at once (default:
 *             one per CPU), each its own connection and tenant, as reason
 *             consumers share a storm that spans tenants: the capacity of
 *             the stack rather than of one connection
 *
 * The storm: STORM_SERVICES services, each alert a new fingerprint;
 * every service's first alert opens its incident, later ones join it
 * (alert row, history row, incident update, signal row).  Figures go to
 * docs/benchmarks.md.
 *
 * Before measuring, BENCH_WARMUP alerts go to a tenant of their own,
 * unmeasured: the first writes of a brand-new database, so its line is
 * that case's figure.  Before migration 0014 a session planned its
 * foreign-key checks while the tables were empty, picked an index that
 * matched only tenant_id (alerts_fp) for alert_history -> alerts, and kept
 * that plan until autovacuum's first ANALYZE (up to a minute): every
 * check read all of the tenant's alerts, about 1,200 alerts/s instead of
 * 12,000.  Since 0014 the key is the only index of the parents that
 * starts with tenant_id, so the warm-up runs at the measured rate
 * (tests/integration/itest_store.c proves the plans).
 *
 * Environment: ALEXUS_DATABASE_URL (application role),
 * ALEXUS_ADMIN_DATABASE_URL (owner, to create the tenants),
 * BENCH_ALERTS (100000), BENCH_BATCH (256, reason's default read),
 * BENCH_PEER_ALERTS (5000), BENCH_WARMUP (100000), BENCH_WRITERS (CPUs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "alexus/hash.h"
#include "alexus/pg.h"
#include "alexus/store.h"

#define STORM_SERVICES 50
#define TARGET 20000.0

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? strtol(v, NULL, 10) : def;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, err);
	exit(1);
}

static void tenant_new(const char *admin_url, const char *id)
{
	PGconn *c = PQconnectdb(admin_url);
	const char *p[1] = { id };
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		die("admin connect", PQerrorMessage(c));
	r = PQexecParams(c, "INSERT INTO tenants (id, name) VALUES ($1, $1)", 1, NULL, p, NULL,
			 NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("create tenant", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

struct storm {
	char incident[STORM_SERVICES][AX_UUID_LEN];
	long count[STORM_SERVICES];
	int opened[STORM_SERVICES];
};

/* Alert i of the storm: its service, fingerprint, ids. */
struct alert_i {
	int svc;
	char service[32], name[32], fp[AX_SHA256_HEX], id[AX_UUID_LEN], signal[AX_UUID_LEN];
};

static void alert_i(long i, struct alert_i *a)
{
	char seed[64];

	a->svc = (int)(i % STORM_SERVICES);
	snprintf(a->service, sizeof(a->service), "svc-%02d", a->svc);
	snprintf(a->name, sizeof(a->name), "HighLatency%ld", i / STORM_SERVICES);
	snprintf(seed, sizeof(seed), "%s/%ld", a->service, i);
	ax_sha256_hex(seed, strlen(seed), a->fp);
	ax_uuid7(a->id);
	ax_uuid7(a->signal);
}

/* reason's freshness check, one per batch (reason/handle.c). */
static const char Q_SEEN[] =
	"SELECT signal_id FROM signals_seen "
	"WHERE signal_id = ANY (ARRAY("
	"SELECT x::uuid FROM jsonb_array_elements_text($1::jsonb) AS x))";

/* The batched row: n alerts in batches. */
static double run_batched(const char *url, const char *tenant, long n, long batch)
{
	struct ax_pg *pg = ax_pg_new(url);
	struct ax_store_batch *b = ax_store_batch_new();
	struct storm st;
	char err[512];
	double t0;
	long i = 0;

	memset(&st, 0, sizeof(st));
	t0 = now_s();
	while (i < n) {
		long end = i + batch < n ? i + batch : n;
		size_t cap = (size_t)(end - i) * 40 + 16, len = 0;
		char *ids = malloc(cap);
		int touched[STORM_SERVICES] = { 0 }, s;

		if (ids == NULL)
			die("malloc", "out of memory");
		if (ax_pg_begin(pg, tenant, err, sizeof(err)) != AX_OK)
			die("begin", err);
		ids[len++] = '[';
		for (; i < end; i++) {
			struct alert_i a;
			struct ax_alert_row ar;
			struct ax_history_row h;

			alert_i(i, &a);
			len += (size_t)snprintf(ids + len, cap - len, "%s\"%s\"", len > 1 ? "," : "",
						a.signal);
			if (!st.opened[a.svc] && st.incident[a.svc][0] == '\0') {
				struct ax_event_row ev = { .stage = "opened", .signal_id = a.signal,
							   .provider = "heuristic" };

				ax_uuid4(st.incident[a.svc]);
				ev.incident_id = st.incident[a.svc];
				ax_store_event(b, &ev);
			}
			memset(&ar, 0, sizeof(ar));
			ar.id = a.id;
			ar.incident_id = st.incident[a.svc];
			ar.fingerprint = a.fp;
			ar.name = a.name;
			ar.status = "firing";
			ar.severity = "warning";
			ar.summary = "p99 latency above 500 ms";
			ar.service = a.service;
			ar.namespace_ = "prod";
			ar.source = "alertmanager";
			ar.last_signal = a.signal;
			ax_store_alert_insert(b, &ar);
			h = (struct ax_history_row){ .alert_id = a.id, .to_status = "firing",
						     .signal_id = a.signal };
			ax_store_history(b, &h);
			ax_store_signal_seen(b, a.signal, st.incident[a.svc]);
			st.count[a.svc]++;
			touched[a.svc] = 1;
		}
		ids[len++] = ']';
		ids[len] = '\0';
		for (s = 0; s < STORM_SERVICES; s++) {
			struct ax_incident_row r = {
				.id = st.incident[s], .title = "latency storm", .status = "open",
				.severity = "warning", .stage = "classified", .group_key = NULL,
				.alert_count = st.count[s],
			};
			char gk[32];

			if (!touched[s])
				continue;
			snprintf(gk, sizeof(gk), "svc-%02d", s);
			r.group_key = gk;
			r.service = gk;
			if (!st.opened[s]) {
				ax_store_incident_insert(b, &r);
				st.opened[s] = 1;
			} else {
				ax_store_incident_update(b, &r);
			}
		}
		{
			const char *p[1] = { ids };
			PGresult *res = ax_pg_exec(pg, err, sizeof(err), Q_SEEN, 1, p);

			if (res == NULL)
				die("seen", err);
			if (PQntuples(res) != 0)
				die("seen", "signals already claimed");
			PQclear(res);
		}
		free(ids);
		if (ax_store_write(pg, tenant, b, err, sizeof(err)) != AX_OK)
			die("write", err);
		if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK)
			die("commit", err);
		ax_store_batch_clear(b);
	}
	t0 = now_s() - t0;
	ax_store_batch_free(b);
	ax_pg_free(pg);
	return t0;
}

/* The peer: one transaction per alert, a statement per row. */
static double run_per_alert(const char *url, const char *tenant, long n)
{
	struct ax_pg *pg = ax_pg_new(url);
	struct storm st;
	char err[512], count[24];
	double t0;
	long i;

	memset(&st, 0, sizeof(st));
	t0 = now_s();
	for (i = 0; i < n; i++) {
		struct alert_i a;
		PGresult *r;

		alert_i(i, &a);
		if (ax_pg_begin(pg, tenant, err, sizeof(err)) != AX_OK)
			die("begin", err);
		{
			const char *p[2] = { tenant, a.signal };

			r = ax_pg_exec(pg, err, sizeof(err),
				       "INSERT INTO signals_seen (tenant_id, signal_id) VALUES ($1, $2)",
				       2, p);
			if (r == NULL)
				die("claim", err);
			PQclear(r);
		}
		if (!st.opened[a.svc]) {
			const char *p[3] = { tenant, st.incident[a.svc], a.service };

			ax_uuid4(st.incident[a.svc]);
			r = ax_pg_exec(pg, err, sizeof(err),
				       "INSERT INTO incidents (tenant_id, id, title, status, severity, "
				       "stage, group_key, service) VALUES ($1, $2, 'latency storm', "
				       "'open', 'warning', 'classified', $3, $3)", 3, p);
			if (r == NULL)
				die("open", err);
			PQclear(r);
			st.opened[a.svc] = 1;
		}
		{
			const char *p[7] = { tenant, a.id, st.incident[a.svc], a.fp, a.name, a.service,
					     a.signal };

			r = ax_pg_exec(pg, err, sizeof(err),
				       "INSERT INTO alerts (tenant_id, id, incident_id, fingerprint, "
				       "name, status, severity, summary, service, namespace, source, "
				       "last_signal) VALUES ($1, $2, $3, $4, $5, 'firing', 'warning', "
				       "'p99 latency above 500 ms', $6, 'prod', 'alertmanager', $7)",
				       7, p);
			if (r == NULL)
				die("alert", err);
			PQclear(r);
		}
		{
			const char *p[3] = { tenant, a.id, a.signal };

			r = ax_pg_exec(pg, err, sizeof(err),
				       "INSERT INTO alert_history (tenant_id, alert_id, to_status, "
				       "signal_id) VALUES ($1, $2, 'firing', $3)", 3, p);
			if (r == NULL)
				die("history", err);
			PQclear(r);
		}
		st.count[a.svc]++;
		snprintf(count, sizeof(count), "%ld", st.count[a.svc]);
		{
			const char *p[2] = { st.incident[a.svc], count };

			r = ax_pg_exec(pg, err, sizeof(err),
				       "UPDATE incidents SET alert_count = $2, updated_at = now() "
				       "WHERE id = $1", 2, p);
			if (r == NULL)
				die("bump", err);
			PQclear(r);
		}
		{
			const char *p[2] = { a.signal, st.incident[a.svc] };

			r = ax_pg_exec(pg, err, sizeof(err),
				       "UPDATE signals_seen SET incident_id = $2 WHERE signal_id = $1",
				       2, p);
			if (r == NULL)
				die("link", err);
			PQclear(r);
		}
		if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK)
			die("commit", err);
	}
	t0 = now_s() - t0;
	ax_pg_free(pg);
	return t0;
}

/* n alerts split over w processes, each with its own tenant and
 * connection; the wall time of the whole. */
static double run_writers(const char *url, const char *admin, const char *suffix, int w, long n,
			  long batch)
{
	char tenant[64];
	pid_t pid[64];
	double t0;
	int i, status, failed = 0;

	for (i = 0; i < w; i++) {
		snprintf(tenant, sizeof(tenant), "bench-%d-%.8s", i, suffix);
		tenant_new(admin, tenant);
	}
	t0 = now_s();
	for (i = 0; i < w; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			die("fork", "failed");
		if (pid[i] == 0) {
			snprintf(tenant, sizeof(tenant), "bench-%d-%.8s", i, suffix);
			run_batched(url, tenant, n / w, batch);
			_exit(0);
		}
	}
	for (i = 0; i < w; i++)
		if (waitpid(pid[i], &status, 0) != pid[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	t0 = now_s() - t0;
	if (failed)
		die("writers", "a writer failed");
	return t0;
}

/* Rows the application role sees for tenant, as a check that the run
 * wrote what it claims. */
static long count_rows(const char *url, const char *tenant, const char *sql)
{
	struct ax_pg *pg = ax_pg_new(url);
	char err[512];
	PGresult *r;
	long n;

	if (ax_pg_begin(pg, tenant, err, sizeof(err)) != AX_OK)
		die("begin", err);
	r = ax_pg_exec(pg, err, sizeof(err), sql, 0, NULL);
	if (r == NULL)
		die("count", err);
	n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	ax_pg_rollback(pg);
	ax_pg_free(pg);
	return n;
}

int main(void)
{
	const char *url = getenv("ALEXUS_DATABASE_URL");
	const char *admin = getenv("ALEXUS_ADMIN_DATABASE_URL");
	long n = env_long("BENCH_ALERTS", 100000), batch = env_long("BENCH_BATCH", 256);
	long peer_n = env_long("BENCH_PEER_ALERTS", 5000), warmup = env_long("BENCH_WARMUP", 100000);
	char t_batched[64], t_peer[64], t_warm[64], suffix[AX_UUID_LEN];
	double tb, tp, tw, rate_b, rate_p, rate_w;
	long writers = env_long("BENCH_WRITERS", sysconf(_SC_NPROCESSORS_ONLN));
	struct rusage ru;
	long rows;

	if (url == NULL || admin == NULL) {
		fprintf(stderr, "bench_store: ALEXUS_DATABASE_URL and ALEXUS_ADMIN_DATABASE_URL "
				"must be set (run scripts/bench-store)\n");
		return 2;
	}
	if (ax_hash_init() != 0)
		return 1;
	ax_uuid4(suffix);
	snprintf(t_batched, sizeof(t_batched), "bench-b-%.8s", suffix);
	snprintf(t_peer, sizeof(t_peer), "bench-p-%.8s", suffix);
	snprintf(t_warm, sizeof(t_warm), "bench-w-%.8s", suffix);
	tenant_new(admin, t_batched);
	tenant_new(admin, t_peer);
	tenant_new(admin, t_warm);
	if (warmup > 0) {
		double twarm = run_batched(url, t_warm, warmup, batch);

		printf("warm-up: %ld alerts for another tenant, %.0f alerts/s (not counted)\n",
		       warmup, (double)warmup / twarm);
	}

	printf("store: %ld alerts over %d services, as the application role (RLS)\n", n,
	       STORM_SERVICES);
	tb = run_batched(url, t_batched, n, batch);
	rows = count_rows(url, t_batched, "SELECT count(*) FROM alerts");
	if (rows != n)
		die("check", "batched run: alert rows do not match");
	tp = run_per_alert(url, t_peer, peer_n);
	if (count_rows(url, t_peer, "SELECT count(*) FROM alerts") != peer_n)
		die("check", "per-alert run: alert rows do not match");
	if (writers < 1 || writers > 64)
		writers = 1;
	tw = run_writers(url, admin, suffix, (int)writers, n, batch);
	rate_b = (double)n / tb;
	rate_p = (double)peer_n / tp;
	rate_w = (double)(n / writers * writers) / tw;
	printf("  %-34s %9s %10s %12s\n", "", "alerts", "seconds", "alerts/s");
	printf("  %-34s %9ld %10.2f %12.0f\n", "batched (common/store.c)", n, tb, rate_b);
	printf("  %-34s %9ld %10.2f %12.0f\n", "per-alert transactions (peer)", peer_n, tp, rate_p);
	{
		char label[64];

		snprintf(label, sizeof(label), "batched, %ld writers, own tenants", writers);
		printf("  %-34s %9ld %10.2f %12.0f\n", label, n / writers * writers, tw, rate_w);
	}
	printf("  batch size %ld; batched / per-alert = %.1fx\n", batch, rate_b / rate_p);
	printf("  rows per alert: alert, alert_history, signals_seen, incident update\n");
	getrusage(RUSAGE_SELF, &ru);
	printf("  bench process peak RSS %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
	printf("  target >= %.0f alerts/s: one connection %s, the stack (%ld writers) %s\n", TARGET,
	       rate_b >= TARGET ? "PASS" : "FAIL", writers, rate_w >= TARGET ? "PASS" : "FAIL");
	return 0;
}
