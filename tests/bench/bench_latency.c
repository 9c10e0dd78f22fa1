/* bench_latency.c - webhook to committed incident row, end to end, at a
 * steady rate (issue 5: "under 50 ms p99 at 1,000 alerts/s"), run by
 * `scripts/bench-store latency` (make bench-latency) on a private stack.
 *
 * What it does:
 *   1. as the owner, creates a tenant, and a bench-only trigger on alerts:
 *      AFTER INSERT ... pg_notify('bench_alert', NEW.fingerprint).  A
 *      notification is delivered when its transaction commits, so its
 *      arrival is the moment the row is committed and visible;
 *      Unless BENCH_SEED is 0, the tables first get BENCH_SEED (50,000)
 *      alerts of another tenant, with their history and signals_seen rows,
 *      and an ANALYZE: the steady state of an installation that has run
 *      for a while.  On a brand-new database (BENCH_SEED=0) reason's
 *      session plans the alert_history -> alerts foreign-key check while
 *      the tables are empty, on alerts_fp, and keeps that plan until
 *      autovacuum's first ANALYZE, so every check reads all of the
 *      tenant's alerts (docs/benchmarks.md, "Data layer"): that measures
 *      the first minute of an installation, not its latency;
 *   2. starts the real alexus-ingest (ALEXUS_RATE_LIMIT=0, every other
 *      setting at its default) and ONE alexus-reason on that stack, mints
 *      a bearer JWT for the tenant (what `alexusctl token mint` does), and
 *      LISTENs on a connection of its own;
 *   3. for each rate of BENCH_RATES (1000,2000,5000 alerts/s): sends
 *      Alertmanager webhooks of one alert each, every alert with its own
 *      label set (so its own fingerprint; no dedup), 99 of 100 from 50
 *      services (they join those services' incidents) and 1 of 100 from a
 *      service never seen before (it opens an incident), on an open-loop
 *      schedule: alert i is due at start + i / rate whatever the replies
 *      do, and both latencies are measured from that due time, so a
 *      server that stalls pays for the queue it causes (no coordinated
 *      omission).  BENCH_WARMUP (5) seconds first, then BENCH_SECONDS (30)
 *      measured; then up to BENCH_DRAIN (20) seconds for stragglers;
 *   4. prints, per rate, p50/p90/p99/max of due time -> 202 (ingest has
 *      appended the signal to Redis) and due time -> notification (the
 *      alert row committed by reason), how many rows never came, and the
 *      CPU of ingest, reason and the whole machine over the measured part.
 *
 * The client is libevent's evhttp: a pool of BENCH_CONNS (64) keep-alive
 * connections, one request in flight on each (evhttp does not pipeline);
 * a request due while all are busy waits in a FIFO, its clock running.
 * A 1 ms timer (EVENT_BASE_FLAG_PRECISE_TIMER: timerfd, not epoll's
 * millisecond timeout) sends whatever is due.  The LISTEN socket is on the
 * same loop.  Notifications map back to alerts through a glibc hsearch_r
 * table keyed by fingerprint, which the bench computes with
 * ax_signal_fingerprint over the labels it sends (the alertmanager
 * driver's fingerprint: source + every label).
 *
 * Output: plain lines; PASS/FAIL is p99 at 1,000 alerts/s against 50 ms.
 * The exit status is 0 unless something failed to run or rows went
 * missing (a benchmark, not a test).
 *
 * Environment: as the stack exports (ALEXUS_REDIS_URL, ALEXUS_DATABASE_URL,
 * ALEXUS_ADMIN_DATABASE_URL, ALEXUS_JWT_SECRET, ALEXUS_INGEST_PORT),
 * ALEXUS_BIN_DIR (bin), BENCH_RATES, BENCH_WARMUP, BENCH_SECONDS,
 * BENCH_DRAIN, BENCH_CONNS, BENCH_SEED. */
#define _GNU_SOURCE /* hsearch_r */
#include <errno.h>
#include <search.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <libpq-fe.h>

#include "alexus/config.h"
#include "alexus/hash.h"
#include "alexus/jwt.h"
#include "alexus/mem.h"
#include "alexus/signal.h"

#define SERVICES 50
#define NEW_SERVICE_EVERY 100 /* 1 alert in 100 opens an incident */
#define TARGET_MS 50.0
#define TARGET_RATE 1000

struct alert {
	double due;               /* monotonic s */
	double accepted;          /* 202 received, 0 = not (yet) */
	double committed;         /* notification received, 0 = not (yet) */
	int status;               /* HTTP status, 0 = no reply yet, -1 = failed */
	char fp[AX_SHA256_HEX];
};

struct conn {
	struct evhttp_connection *ec;
	struct bench *b;
	long alert;               /* in flight, -1 = idle */
};

struct bench {
	struct event_base *base;
	struct conn *conns;
	int nconns, port;
	char *auth;               /* "Bearer <jwt>" */
	PGconn *listen;
	/* the current rate's alerts */
	struct alert *a;
	long n, warm, next, replies, rows, unknown;
	long *fifo;               /* due, waiting for a connection */
	long fifo_head, fifo_tail;
	struct hsearch_data fps;
	int run;                  /* distinguishes each rate's label sets */
	double start, last_due, drain;
	int done;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "bench_latency: %s: %s\n", what, err);
	exit(1);
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v != NULL && *v ? strtol(v, NULL, 10) : dflt;
}

static void exec_ok(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		die(sql, PQresultErrorMessage(r));
	PQclear(r);
}

/* The labels object of alert i of run r, as JSON text: its service is one
 * of SERVICES, or a new one for every NEW_SERVICE_EVERY-th alert. */
static void labels_json(char *buf, size_t len, int run, long i)
{
	char svc[48];

	if (i % NEW_SERVICE_EVERY == NEW_SERVICE_EVERY - 1)
		snprintf(svc, sizeof(svc), "new-%d-%ld", run, i);
	else
		snprintf(svc, sizeof(svc), "svc-%02ld", i % SERVICES);
	snprintf(buf, len,
		 "{\"alertname\":\"HighErrorRate\",\"bench_id\":\"%d-%ld\",\"cluster\":\"bench-1\","
		 "\"instance\":\"10.0.%ld.%ld:8080\",\"job\":\"api\",\"namespace\":\"prod\","
		 "\"service\":\"%s\",\"severity\":\"critical\",\"team\":\"payments\"}",
		 run, i, i / 256 % 256, i % 256, svc);
}

/* ingest's fingerprint of those labels (drivers/alertmanager.c). */
static void fingerprint(const char *labels, char fp[AX_SHA256_HEX])
{
	struct ax_signal s;

	ax_signal_init(&s);
	cJSON_Delete(s.labels);
	s.labels = cJSON_Parse(labels);
	if (s.labels == NULL)
		die("labels", labels);
	s.source = ax_xstrdup("alertmanager");
	ax_signal_fingerprint(&s, NULL);
	memcpy(fp, s.fingerprint, AX_SHA256_HEX);
	ax_signal_release(&s);
}

static void send_alert(struct conn *c, long i);

static void on_reply(struct evhttp_request *req, void *arg)
{
	struct conn *c = arg;
	struct bench *b = c->b;
	struct alert *a = &b->a[c->alert];

	a->status = req != NULL ? evhttp_request_get_response_code(req) : -1;
	if (a->status == 202)
		a->accepted = now_s();
	b->replies++;
	c->alert = -1;
	if (b->fifo_head < b->fifo_tail)
		send_alert(c, b->fifo[b->fifo_head++]);
}

static void send_alert(struct conn *c, long i)
{
	struct bench *b = c->b;
	struct evhttp_request *req = evhttp_request_new(on_reply, c);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char labels[512], body[1536];
	int len;

	labels_json(labels, sizeof(labels), b->run, i);
	len = snprintf(body, sizeof(body),
		       "{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"HighErrorRate\\\"}\","
		       "\"status\":\"firing\",\"receiver\":\"alexus\",\"groupLabels\":"
		       "{\"alertname\":\"HighErrorRate\"},\"commonLabels\":{},\"commonAnnotations\":"
		       "{},\"externalURL\":\"http://alertmanager:9093\",\"truncatedAlerts\":0,"
		       "\"alerts\":[{\"status\":\"firing\",\"labels\":%s,\"annotations\":"
		       "{\"summary\":\"5xx ratio above 5%%\",\"description\":\"5xx ratio is 7.3%% "
		       "for the last 10 minutes.\"},\"startsAt\":\"2026-11-01T08:15:30.512Z\","
		       "\"endsAt\":\"0001-01-01T00:00:00Z\",\"generatorURL\":"
		       "\"http://prometheus:9090/graph\",\"fingerprint\":\"%016lx\"}]}",
		       labels, ((unsigned long)b->run << 40) | (unsigned long)i);
	evhttp_add_header(h, "Host", "127.0.0.1");
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Authorization", b->auth);
	evbuffer_add(evhttp_request_get_output_buffer(req), body, (size_t)len);
	c->alert = i;
	if (evhttp_make_request(c->ec, req, EVHTTP_REQ_POST, "/v1/webhooks/alertmanager") != 0) {
		b->a[i].status = -1;
		b->replies++;
		c->alert = -1;
	}
}

/* Every 1 ms: send what is due, or end the phase once everything came back
 * (or the drain time ran out). */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	double t = now_s();
	int k = 0;

	(void)fd;
	(void)what;
	while (b->next < b->n && b->a[b->next].due <= t) {
		long i = b->next++;

		for (; k < b->nconns && b->conns[k].alert >= 0; k++)
			;
		if (k < b->nconns)
			send_alert(&b->conns[k], i);
		else
			b->fifo[b->fifo_tail++] = i;
	}
	if (b->next == b->n && ((b->replies == b->n && b->rows + b->unknown >= b->n) ||
				t > b->last_due + b->drain)) {
		b->done = 1;
		event_base_loopbreak(b->base);
	}
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	double t = now_s();
	PGnotify *n;

	(void)fd;
	(void)what;
	if (!PQconsumeInput(b->listen))
		die("LISTEN connection", PQerrorMessage(b->listen));
	while ((n = PQnotifies(b->listen)) != NULL) {
		ENTRY e = { .key = n->extra, .data = NULL }, *hit = NULL;

		if (b->a != NULL && hsearch_r(e, FIND, &hit, &b->fps) != 0 && hit != NULL) {
			struct alert *a = &b->a[(intptr_t)hit->data];

			if (a->committed == 0) {
				a->committed = t;
				b->rows++;
			}
		} else {
			b->unknown++;
		}
		PQfreemem(n);
	}
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static double pct(const double *v, long n, double p)
{
	long k = (long)(p * (double)n + 0.999999) - 1;

	if (n == 0)
		return 0;
	return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* CPU seconds (user + system) of a process, from /proc/<pid>/stat. */
static double proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
				&st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Busy CPU seconds of the whole machine (every CPU), from /proc/stat. */
static double machine_cpu(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) != 8)
		memset(v, 0, sizeof(v));
	fclose(f);
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static void print_row(const char *what, double *v, long n, long of)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("  %-22s p50 %8.2f ms  p90 %8.2f ms  p99 %8.2f ms  max %8.2f ms  (%ld of %ld)\n",
	       what, pct(v, n, 0.50), pct(v, n, 0.90), pct(v, n, 0.99), n ? v[n - 1] : 0.0, n, of);
}

/* One rate: warm-up, measured part, drain, figures.  Returns p99 of due ->
 * committed over the measured alerts (ms), and adds to *missing. */
static double run_rate(struct bench *b, long rate, long warmup, long seconds, pid_t ingest,
		       pid_t reason, long *missing)
{
	double *acc, *com, c0[3] = { 0 }, c1[3] = { 0 }, t0 = 0, t1 = 0, p99;
	struct event *tick;
	struct timeval ms1 = { 0, 1000 };
	long i, na = 0, nc = 0, bad = 0, late = 0, m;

	b->run++;
	b->warm = rate * warmup;
	b->n = b->warm + rate * seconds;
	b->a = ax_xcalloc((size_t)b->n, sizeof(*b->a));
	b->fifo = ax_xcalloc((size_t)b->n, sizeof(*b->fifo));
	b->fifo_head = b->fifo_tail = b->next = b->replies = b->rows = b->unknown = 0;
	b->done = 0;
	memset(&b->fps, 0, sizeof(b->fps));
	if (hcreate_r((size_t)b->n * 2, &b->fps) == 0)
		die("hcreate_r", strerror(errno));
	for (i = 0; i < b->n; i++) {
		char labels[512];
		ENTRY e, *ret;

		labels_json(labels, sizeof(labels), b->run, i);
		fingerprint(labels, b->a[i].fp);
		e.key = b->a[i].fp;
		e.data = (void *)(intptr_t)i;
		if (hsearch_r(e, ENTER, &ret, &b->fps) == 0)
			die("hsearch_r", strerror(errno));
	}
	b->start = now_s() + 0.05;
	for (i = 0; i < b->n; i++)
		b->a[i].due = b->start + (double)i / (double)rate;
	b->last_due = b->a[b->n - 1].due;

	tick = event_new(b->base, -1, EV_PERSIST, on_tick, b);
	event_add(tick, &ms1);
	/* The measured part's CPU figures: sampled at the first measured due
	 * time and the last, from the tick loop's view of the clock. */
	while (!b->done) {
		double t;

		event_base_loop(b->base, EVLOOP_ONCE);
		t = now_s();
		if (t0 == 0 && t >= b->a[b->warm].due) {
			t0 = t;
			c0[0] = proc_cpu(ingest);
			c0[1] = proc_cpu(reason);
			c0[2] = machine_cpu();
		}
		if (t1 == 0 && t >= b->last_due) {
			t1 = t;
			c1[0] = proc_cpu(ingest);
			c1[1] = proc_cpu(reason);
			c1[2] = machine_cpu();
		}
	}
	event_free(tick);

	m = b->n - b->warm;
	acc = ax_xcalloc((size_t)m, sizeof(*acc));
	com = ax_xcalloc((size_t)m, sizeof(*com));
	for (i = b->warm; i < b->n; i++) {
		struct alert *a = &b->a[i];

		if (a->status != 202)
			bad++;
		if (a->accepted > 0)
			acc[na++] = (a->accepted - a->due) * 1e3;
		if (a->committed > 0)
			com[nc++] = (a->committed - a->due) * 1e3;
		if (a->committed > 0 && (a->committed - a->due) * 1e3 > TARGET_MS)
			late++;
	}
	printf("rate %ld alerts/s: %ld s warm-up, %ld s measured (%ld alerts), 1 alert per "
	       "webhook, open loop\n", rate, warmup, seconds, m);
	print_row("due -> 202 (Redis):", acc, na, m);
	print_row("due -> row committed:", com, nc, m);
	p99 = pct(com, nc, 0.99);
	printf("  rows missing: %ld   non-202: %ld   over %.0f ms: %ld   unknown notifications: "
	       "%ld\n", m - nc, bad, TARGET_MS, late, b->unknown);
	if (t1 > t0)
		printf("  CPU over the measured part (100 = one core): ingest %.0f  reason %.0f  "
		       "machine %.0f of %ld\n", (c1[0] - c0[0]) / (t1 - t0) * 100,
		       (c1[1] - c0[1]) / (t1 - t0) * 100, (c1[2] - c0[2]) / (t1 - t0) * 100,
		       sysconf(_SC_NPROCESSORS_ONLN) * 100);
	fflush(stdout);
	*missing += m - nc;
	hdestroy_r(&b->fps);
	free(acc);
	free(com);
	free(b->fifo);
	free(b->a);
	b->a = NULL;
	b->fifo = NULL;
	return p99;
}

/* BENCH_SEED alerts of tenant "bench-seed" over 50 incidents, with their
 * history and signals_seen rows, then ANALYZE of what reason writes. */
static void seed(PGconn *pg, long n)
{
	char num[32];
	const char *p[1] = { num };
	static const char *const analyze[] = {
		"ANALYZE incidents", "ANALYZE alerts", "ANALYZE alert_history",
		"ANALYZE signals_seen", "ANALYZE incident_events", "ANALYZE actions",
	};
	size_t i;

	snprintf(num, sizeof(num), "%ld", n);
	if (n > 0) {
		exec_ok(pg, "INSERT INTO tenants (id, name) VALUES ('bench-seed', 'bench-seed') "
			    "ON CONFLICT DO NOTHING", 0, NULL);
		exec_ok(pg, "INSERT INTO incidents (tenant_id, id, title, status, severity, stage, "
			    "group_key, service, alert_count) SELECT 'bench-seed', "
			    "('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'seed', "
			    "'open', 'high', 'opened', 'seed-' || g, 'seed-' || g, $1::int / 50 "
			    "FROM generate_series(1, 50) g", 1, p);
		exec_ok(pg, "INSERT INTO alerts (tenant_id, id, incident_id, fingerprint, name, "
			    "status, severity, service, source, last_signal) SELECT 'bench-seed', "
			    "gen_random_uuid(), ('00000000-0000-4000-8000-' || "
			    "lpad((g % 50 + 1)::text, 12, '0'))::uuid, md5(g::text) || md5(g::text), "
			    "'Seed', 'firing', 'high', 'seed-' || (g % 50 + 1), 'alertmanager', "
			    "gen_random_uuid() FROM generate_series(1, $1::int) g", 1, p);
		exec_ok(pg, "INSERT INTO alert_history (tenant_id, alert_id, to_status, signal_id) "
			    "SELECT tenant_id, id, 'firing', last_signal FROM alerts "
			    "WHERE tenant_id = 'bench-seed'", 0, NULL);
		exec_ok(pg, "INSERT INTO signals_seen (tenant_id, signal_id, incident_id) "
			    "SELECT tenant_id, last_signal, incident_id FROM alerts "
			    "WHERE tenant_id = 'bench-seed'", 0, NULL);
	}
	for (i = 0; i < sizeof(analyze) / sizeof(analyze[0]); i++)
		exec_ok(pg, analyze[i], 0, NULL);
}

static pid_t spawn(const char *bin, const char *name, const char *const *env)
{
	char path[512];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", bin, name);
	pid = fork();
	if (pid < 0)
		die("fork", strerror(errno));
	if (pid == 0) {
		for (; *env != NULL; env += 2)
			setenv(env[0], env[1], 1);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Wait until something accepts on 127.0.0.1:port. */
static void wait_port(int port, pid_t pid)
{
	double t0 = now_s();

	for (;;) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
		struct timespec ts = { 0, 20000000 };

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			die("alexus-ingest", "exited at start");
		if (now_s() - t0 > 20)
			die("alexus-ingest", "not listening after 20 s");
		nanosleep(&ts, NULL);
	}
}

int main(void)
{
	const char *admin = getenv("ALEXUS_ADMIN_DATABASE_URL");
	const char *bin = getenv("ALEXUS_BIN_DIR") ? getenv("ALEXUS_BIN_DIR") : "bin";
	const char *rates = getenv("BENCH_RATES") ? getenv("BENCH_RATES") : "1000,2000,5000";
	long warmup = env_long("BENCH_WARMUP", 5), seconds = env_long("BENCH_SECONDS", 30);
	long missing = 0, nseed = env_long("BENCH_SEED", 50000);
	struct event_config *ecfg;
	struct ax_config cfg;
	struct ax_jwt_opts jo;
	struct bench b;
	struct event *nev;
	char tenant[64], suffix[AX_UUID_LEN], err[512], *jwt, *tok;
	char *list;
	double p99_target = -1;
	long missing_target = 0;
	pid_t ingest, reason;
	PGconn *pg;
	int i;

	memset(&b, 0, sizeof(b));
	b.nconns = (int)env_long("BENCH_CONNS", 64);
	b.drain = (double)env_long("BENCH_DRAIN", 20);
	if (admin == NULL || getenv("ALEXUS_REDIS_URL") == NULL)
		die("environment", "run scripts/bench-store latency");
	if (b.nconns < 1 || warmup < 0 || seconds < 1)
		die("environment", "BENCH_CONNS >= 1, BENCH_WARMUP >= 0, BENCH_SECONDS >= 1");
	if (ax_hash_init() != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	memset(&cfg, 0, sizeof(cfg));
	if (ax_config_load(&cfg, err, sizeof(err)) != AX_OK)
		die("configuration", err);
	b.port = cfg.ingest_port;

	pg = PQconnectdb(admin);
	if (PQstatus(pg) != CONNECTION_OK)
		die("postgres", PQerrorMessage(pg));
	ax_uuid4(suffix);
	snprintf(tenant, sizeof(tenant), "bench-l-%.8s", suffix);
	{
		const char *p[1] = { tenant };

		exec_ok(pg, "INSERT INTO tenants (id, name) VALUES ($1, $1)", 1, p);
	}
	if (nseed > 0)
		seed(pg, nseed);
	exec_ok(pg, "CREATE OR REPLACE FUNCTION bench_alert_notify() RETURNS trigger "
		    "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('bench_alert', NEW.fingerprint); "
		    "RETURN NULL; END $$", 0, NULL);
	exec_ok(pg, "DROP TRIGGER IF EXISTS bench_alert_notify ON alerts", 0, NULL);
	exec_ok(pg, "CREATE TRIGGER bench_alert_notify AFTER INSERT ON alerts FOR EACH ROW "
		    "EXECUTE FUNCTION bench_alert_notify()", 0, NULL);

	if (ax_jwt_opts_from_config(&jo, &cfg, 0, err, sizeof(err)) != AX_OK)
		die("jwt", err);
	jwt = ax_jwt_mint(&jo, tenant, 7200, err, sizeof(err));
	if (jwt == NULL)
		die("jwt mint", err);
	b.auth = ax_xmalloc(strlen(jwt) + 8);
	sprintf(b.auth, "Bearer %s", jwt);
	free(jwt);
	ax_jwt_opts_release(&jo);

	{
		const char *env_i[] = { "ALEXUS_RATE_LIMIT", "0", "ALEXUS_LOG_LEVEL", "warn", NULL };
		const char *env_r[] = { "ALEXUS_CONSUMER", "bench-latency", "ALEXUS_LOG_LEVEL",
					"warn", NULL };

		ingest = spawn(bin, "alexus-ingest", env_i);
		reason = spawn(bin, "alexus-reason", env_r);
	}
	wait_port(b.port, ingest);

	ecfg = event_config_new();
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	b.base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	if (b.base == NULL)
		die("libevent", "event_base_new");
	b.conns = ax_xcalloc((size_t)b.nconns, sizeof(*b.conns));
	for (i = 0; i < b.nconns; i++) {
		b.conns[i].ec = evhttp_connection_base_new(b.base, NULL, "127.0.0.1",
							   (unsigned short)b.port);
		if (b.conns[i].ec == NULL)
			die("evhttp", "connection");
		evhttp_connection_set_timeout(b.conns[i].ec, 30);
		b.conns[i].b = &b;
		b.conns[i].alert = -1;
	}
	b.listen = PQconnectdb(admin);
	if (PQstatus(b.listen) != CONNECTION_OK)
		die("postgres (LISTEN)", PQerrorMessage(b.listen));
	exec_ok(b.listen, "LISTEN bench_alert", 0, NULL);
	if (PQsetnonblocking(b.listen, 1) != 0)
		die("postgres (LISTEN)", "PQsetnonblocking");
	nev = event_new(b.base, PQsocket(b.listen), EV_READ | EV_PERSIST, on_notify, &b);
	event_add(nev, NULL);

	printf("latency: webhook (1 alert, Alertmanager v4, JWT) -> alexus-ingest -> alexus:signals "
	       "-> one alexus-reason (heuristic) -> alert row committed (LISTEN/NOTIFY)\n");
	printf("  %d services, 1 alert in %d from a new service (opens an incident); %d client "
	       "connections (evhttp); tenant %s\n", SERVICES, NEW_SERVICE_EVERY, b.nconns, tenant);
	printf("  tables seeded with %ld alerts of another tenant, then ANALYZE%s\n", nseed,
	       nseed > 0 ? "" : " (none: a brand-new database)");
	fflush(stdout);
	list = ax_xstrdup(rates);
	for (tok = strtok(list, ","); tok != NULL; tok = strtok(NULL, ",")) {
		long rate = strtol(tok, NULL, 10);
		double p99;

		if (rate < 1)
			die("BENCH_RATES", rates);
		if (waitpid(ingest, NULL, WNOHANG) == ingest || waitpid(reason, NULL, WNOHANG) == reason)
			die("daemons", "alexus-ingest or alexus-reason exited");
		p99 = run_rate(&b, rate, warmup, seconds, ingest, reason, &missing);
		if (rate == TARGET_RATE) {
			p99_target = p99;
			missing_target = (long)missing;
		}
	}
	free(list);
	if (p99_target >= 0)
		printf("verdict: p99 webhook -> row at %d alerts/s %.2f ms (target < %.0f ms): %s\n",
		       TARGET_RATE, p99_target, TARGET_MS,
		       p99_target < TARGET_MS && missing_target == 0 ? "PASS" : "FAIL");

	kill(ingest, SIGTERM);
	kill(reason, SIGTERM);
	waitpid(ingest, NULL, 0);
	waitpid(reason, NULL, 0);
	event_free(nev);
	for (i = 0; i < b.nconns; i++)
		evhttp_connection_free(b.conns[i].ec);
	free(b.conns);
	event_base_free(b.base);
	exec_ok(pg, "DROP TRIGGER IF EXISTS bench_alert_notify ON alerts", 0, NULL);
	PQfinish(b.listen);
	PQfinish(pg);
	free(b.auth);
	ax_config_release(&cfg);
	return missing == 0 ? 0 : 1;
}
