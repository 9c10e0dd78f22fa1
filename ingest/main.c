/* main.c - alexus-ingest: the HTTP edge that turns webhooks into signals
 * on alexus:signals, plus two offline commands for operators.
 *
 * Shape (pgbouncer's main, STYLE.md section 1): parse arguments -> load
 * and validate the configuration and the source profiles (the JWT key is
 * checked by the first worker's server) -> worker threads -> one "up"
 * log line -> the main loop, which only handles signals.
 *
 * Workers.  ALEXUS_INGEST_WORKERS threads (0: one per CPU), each with its
 * own event base and its own server: listener, appender and Redis
 * connection, so a request never crosses threads and nothing but the
 * metrics (atomic counters) is shared.  The first worker binds the port;
 * the others bind the same one with SO_REUSEPORT and the kernel spreads
 * new connections across them.  A worker is started and seen listening
 * before the next, so a bind failure stops the daemon at once.
 *
 * Signals.  SIGTERM/SIGINT arrive as libevent events on the main base
 * (ordinary callbacks, no async-signal-safety rules), which activates
 * each worker's stop event (thread-safe: evthread_use_pthreads): the first
 * drains every worker (stop accepting, answer what is in flight, exit 0),
 * a second cuts the drains short (503 to whatever still waits, exit 1), as
 * does a drain deadline (the Redis command timeout plus a second: by then
 * every append has been answered or failed).  Each worker's loop ends
 * when its drain is done; the main loop ends when the last one has.
 * SIGPIPE is ignored: hiredis and evhttp write to sockets whose peer may
 * be gone.
 *
 * --normalize runs the drivers on a file and prints the canonical signals,
 * with no Redis, server or secret needed: the quickest way to see what a
 * payload becomes, and the same code path the server runs. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pthread.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <hiredis/hiredis.h>

#include "alexus/config.h"
#include "alexus/hash.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "drivers/driver.h"
#include "drivers/profile.h"
#include "metrics.h"
#include "api.h"
#include "appender.h"
#include "server.h"

/* Largest file --normalize reads (a generous multiple of ALEXUS_MAX_BODY's
 * default: the command is offline, but a file is still a bounded input). */
#define NORMALIZE_MAX_FILE (64u << 20)

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: alexus-ingest                      run the HTTP ingest server\n"
		"       alexus-ingest --normalize FILE [--source NAME] [--header 'Name: value']...\n"
		"                                          print the canonical signals of a\n"
		"                                          payload (JSON array) and exit\n"
		"       alexus-ingest --list-sources       print every source: name and title\n"
		"       alexus-ingest --append-script      print the Lua script that rate-limits,\n"
		"                                          dedups and appends (for benchmarks)\n"
		"       alexus-ingest --help\n"
		"\n"
		"Server routes: POST /v1/webhooks/{source}, POST /v1/webhooks (source\n"
		"detected), GET /healthz, GET /readyz, GET /metrics.  Webhooks need\n"
		"Authorization: Bearer <JWT> (ALEXUS_JWT_ALG, tenant_id claim) or a webhook\n"
		"token (alexusctl token issue) as Bearer, X-Alexus-Token or ?token=.\n"
		"Configuration comes from ALEXUS_* variables (alexusctl config lists them);\n"
		"a JWT key (ALEXUS_JWT_SECRET, or ALEXUS_JWT_KEY_FILE) is required.\n"
		"\n"
		"Sources:");
	for (i = 0; i < ingest_driver_count(); i++)
		fprintf(f, " %s", ingest_driver_at(i)->name);
	fprintf(f, "\n(the generic format is described in ingest/drivers/generic.c)\n");
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 65536, n = 0, r;
	char *buf;

	if (f == NULL)
		return NULL;
	buf = ax_xmalloc(cap);
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			if (cap >= NORMALIZE_MAX_FILE) {
				fclose(f);
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			cap *= 2;
			buf = ax_xrealloc(buf, cap);
		}
	}
	if (ferror(f)) {
		fclose(f);
		free(buf);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

#define MAX_CLI_HEADERS 32

/* --header "Name: value" pairs for --normalize. */
struct cli_headers {
	const char *line[MAX_CLI_HEADERS];
	int n;
};

static const char *cli_header(const struct ingest_input *in, const char *name)
{
	const struct cli_headers *h = in->hctx;
	size_t len = strlen(name);
	int i;

	for (i = 0; i < h->n; i++) {
		const char *l = h->line[i];

		if (strncasecmp(l, name, len) == 0 && l[len] == ':') {
			l += len + 1;
			while (*l == ' ' || *l == '\t')
				l++;
			return l;
		}
	}
	return NULL;
}

/* Register the declarative profiles of ALEXUS_PROFILES_DIR.  A missing
 * directory under the default setting only means none are installed. */
static int load_profiles(const struct ax_config *cfg, int quiet)
{
	char err[512];
	size_t n = 0;
	ax_err rc = ingest_profiles_load(cfg->profiles_dir, &n, err, sizeof(err));

	if (rc == AX_ENOTFOUND && !quiet)
		ax_warn("no source profiles: %s", err);
	else if (rc != AX_OK && rc != AX_ENOTFOUND) {
		fprintf(stderr, "alexus-ingest: source profiles: %s\n", err);
		return -1;
	}
	return 0;
}

static int cmd_normalize(const char *path, const char *source, const struct cli_headers *hdrs)
{
	const struct ingest_driver *d = NULL;
	struct ingest_batch batch;
	char err[256], *buf, *out;
	cJSON *doc, *arr;
	size_t len = 0, i;
	ax_err rc;

	if (ax_hash_init() != 0) {
		fprintf(stderr, "alexus-ingest: libsodium failed to initialise\n");
		return 1;
	}
	buf = read_file(path, &len);
	if (buf == NULL) {
		fprintf(stderr, "alexus-ingest: cannot read '%s': %s\n", path, strerror(errno));
		return 1;
	}
	doc = ax_json_parse(buf, len, AX_JSON_PAYLOAD_DEPTH);
	free(buf);
	if (doc == NULL) {
		fprintf(stderr, "alexus-ingest: '%s' is not valid JSON (or nested deeper than 64)\n",
			path);
		return 1;
	}
	ingest_batch_init(&batch);
	{
		struct ingest_input in = { doc, cli_header, hdrs };

		rc = ingest_normalize(&in, source, &batch, &d, err, sizeof(err));
	}
	cJSON_Delete(doc);
	if (rc != AX_OK) {
		fprintf(stderr, "alexus-ingest: '%s'%s%s: %s\n", path, d != NULL ? " as " : "",
			d != NULL ? d->name : "", err);
		return 1;
	}
	arr = cJSON_CreateArray();
	if (arr == NULL)
		abort();
	for (i = 0; i < batch.n; i++)
		cJSON_AddItemToArray(arr, ax_signal_to_json(&batch.sig[i]));
	if (batch.n == 0)
		fprintf(stderr, "alexus-ingest: '%s' as %s: no signal (%s)\n", path, d->name,
			batch.subscribe_url != NULL ? "SNS subscription confirmation" : batch.ignored);
	out = cJSON_Print(arr);
	if (out == NULL)
		abort();
	printf("%s\n", out);
	free(out);
	cJSON_Delete(arr);
	ingest_batch_release(&batch);
	return 0;
}

/* ------------------------------------------------------------ daemon */

#define MAX_WORKERS 256

struct daemon;

/* One worker: a thread with its own event base, server (listener,
 * appender, Redis connection) and drain state.  Workers share only the
 * configuration (read-only) and the metrics (atomic counters). */
struct worker {
	struct daemon *d;
	int idx;
	pthread_t th;
	struct event_base *base;
	struct ingest_server *srv;
	struct event *stop_ev;        /* activated by the main thread */
	struct ingest_server_opts opts;
	int started, failed, clean;
	char err[512];
};

struct daemon {
	const struct ax_config *cfg;
	struct event_base *base;      /* the main thread's: signals, exits */
	struct event *exit_ev;        /* a worker's loop ended */
	struct worker *w;
	int nworkers;
	int drain_ms;
	int signals_seen;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running;                  /* workers started */
	int exited;                   /* workers whose loop ended (atomic) */
};

static void on_drained(int clean, void *arg)
{
	struct worker *w = arg;

	w->clean = clean;
	event_base_loopexit(w->base, NULL);
}

/* On the worker's thread: drain (a second activation cuts it short). */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	ingest_server_drain(w->srv, w->d->drain_ms, on_drained, w);
}

/* A worker's event base.  With the epoll changelist, event additions and
 * removals made during one loop iteration are applied together just
 * before the next epoll_wait, and an add undone in the same iteration
 * costs nothing: evhttp enables and disables a connection's read and
 * write events around every request, which would otherwise be an
 * epoll_ctl system call each.  Workers own their fds exclusively (no
 * dup()ed descriptors), the one case libevent warns the changelist
 * mishandles. */
static struct event_base *worker_base(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *b;

	if (ec == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	b = event_base_new_with_config(ec);
	event_config_free(ec);
	return b;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct daemon *d = w->d;

	w->base = worker_base();
	if (w->base != NULL) {
		w->stop_ev = event_new(w->base, -1, 0, on_stop, w);
		w->srv = ingest_server_new(w->base, d->cfg, &w->opts, w->err, sizeof(w->err));
	} else {
		snprintf(w->err, sizeof(w->err), "cannot create an event base");
	}
	pthread_mutex_lock(&d->mu);
	w->failed = w->srv == NULL || w->stop_ev == NULL;
	w->started = 1;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	if (!w->failed) {
		w->clean = 1;
		if (event_base_dispatch(w->base) < 0) {
			ax_error("worker %d: event loop failed", w->idx);
			w->clean = 0;
		}
	}
	ingest_server_free(w->srv);
	w->srv = NULL;
	if (w->stop_ev != NULL)
		event_free(w->stop_ev);
	if (w->base != NULL)
		event_base_free(w->base);
	if (!w->failed) {
		__atomic_add_fetch(&d->exited, 1, __ATOMIC_SEQ_CST);
		event_active(d->exit_ev, EV_READ, 0);
	}
	return NULL;
}

/* Start worker i and wait until its server is listening (or failed). */
static int start_worker(struct daemon *d, int i)
{
	struct worker *w = &d->w[i];
	int rc;

	w->d = d;
	w->idx = i;
	rc = pthread_create(&w->th, NULL, worker_main, w);
	if (rc != 0) {
		snprintf(w->err, sizeof(w->err), "cannot start a thread: %s", strerror(rc));
		return -1;
	}
	pthread_mutex_lock(&d->mu);
	while (!w->started)
		pthread_cond_wait(&d->cv, &d->mu);
	pthread_mutex_unlock(&d->mu);
	if (w->failed) {
		pthread_join(w->th, NULL);
		w->th = 0;
		return -1;
	}
	d->running++;
	return 0;
}

static void stop_workers(struct daemon *d)
{
	int i;

	for (i = 0; i < d->nworkers; i++) {
		if (d->w[i].th != 0 && d->w[i].stop_ev != NULL)
			event_active(d->w[i].stop_ev, EV_READ, 0);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (d->signals_seen++ == 0) {
		ax_info("got %s: draining (no new connections, answering requests in flight)",
			sig == SIGTERM ? "SIGTERM" : "SIGINT");
	} else {
		ax_warn("got %s again: answering what is left with 503 and exiting",
			sig == SIGTERM ? "SIGTERM" : "SIGINT");
	}
	stop_workers(d);
}

static void on_worker_exit(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	/* Activations from several workers may coalesce into one call:
	 * count the loops that really ended. */
	if (__atomic_load_n(&d->exited, __ATOMIC_SEQ_CST) >= d->running)
		event_base_loopexit(d->base, NULL);
}

static int worker_count(const struct ax_config *cfg)
{
	long n = cfg->ingest_workers;

	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

static int run_server(void)
{
	struct ax_config cfg;
	struct daemon d;
	struct ingest_metrics *metrics = NULL;
	struct ingest_api *api = NULL;
	struct event *ev_term = NULL, *ev_int = NULL;
	char err[512];
	int i, port, exit_code = 0;

	memset(&d, 0, sizeof(d));
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		fprintf(stderr, "alexus-ingest: cannot ignore SIGPIPE\n");
		return 1;
	}
	if (ax_config_load(&cfg, err, sizeof(err)) != AX_OK) {
		ax_log_init("ingest", NULL);
		ax_error("refusing to start: configuration: %s", err);
		return 1;
	}
	ax_log_init("ingest", cfg.log_level);
	if (load_profiles(&cfg, 0) != 0) {
		ax_config_release(&cfg);
		return 1;
	}
	if (ax_hash_init() != 0 || ax_httpc_global_init() != 0) {
		ax_error("refusing to start: libsodium or libcurl failed to initialise");
		ax_config_release(&cfg);
		return 1;
	}
	/* Workers' bases take event_active() from the main thread. */
	if (evthread_use_pthreads() != 0) {
		ax_error("refusing to start: libevent has no pthreads support");
		ax_config_release(&cfg);
		return 1;
	}
	d.cfg = &cfg;
	d.drain_ms = cfg.redis_timeout_ms + 1000;
	d.nworkers = worker_count(&cfg);
	d.w = ax_xcalloc((size_t)d.nworkers, sizeof(*d.w));
	pthread_mutex_init(&d.mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	d.base = event_base_new();
	if (d.base == NULL) {
		ax_error("refusing to start: cannot create the event base");
		exit_code = 1;
		goto out;
	}
	d.exit_ev = event_new(d.base, -1, 0, on_worker_exit, &d);
	ev_term = evsignal_new(d.base, SIGTERM, on_signal, &d);
	ev_int = evsignal_new(d.base, SIGINT, on_signal, &d);
	if (d.exit_ev == NULL || ev_term == NULL || ev_int == NULL ||
	    evsignal_add(ev_term, NULL) != 0 || evsignal_add(ev_int, NULL) != 0) {
		ax_error("refusing to start: cannot install signal handlers");
		exit_code = 1;
		goto out;
	}
	metrics = ingest_metrics_new();
	/* Threads for the operator API's database work (api.h): the live
	 * feed's reads share them with the API calls. */
	api = ingest_api_new(&cfg, 4);
	/* The first worker binds the configured port (0: any free one); the
	 * others bind the port it got, with SO_REUSEPORT. */
	port = cfg.ingest_port;
	for (i = 0; i < d.nworkers; i++) {
		d.w[i].opts.metrics = metrics;
		d.w[i].opts.port = port;
		d.w[i].opts.reuseport = d.nworkers > 1;
		d.w[i].opts.api = api;
		if (start_worker(&d, i) != 0) {
			ax_error("refusing to start: worker %d: %s", i, d.w[i].err);
			exit_code = 1;
			stop_workers(&d);
			break;
		}
		if (i == 0)
			port = ingest_server_port(d.w[0].srv);
	}
	if (exit_code == 0)
		ax_info("ingest up on %s:%d with %d worker(s) (redis %s, max body %zu, max "
			"inflight %d per worker, dedup ttl %ds, rate %d/s burst %d per tenant, %zu "
			"sources; libevent %s, hiredis %d.%d.%d)",
			cfg.ingest_addr, port, d.nworkers, cfg.redis_url, cfg.max_body,
			cfg.max_inflight, cfg.dedup_ttl, cfg.rate_limit, cfg.rate_burst,
			ingest_driver_count(), event_get_version(), HIREDIS_MAJOR, HIREDIS_MINOR,
			HIREDIS_PATCH);
	if (d.running > 0 && event_base_dispatch(d.base) < 0) {
		ax_error("event loop failed");
		exit_code = 1;
	}
	for (i = 0; i < d.nworkers; i++) {
		if (d.w[i].th == 0)
			continue;
		pthread_join(d.w[i].th, NULL);
		if (!d.w[i].clean)
			exit_code = 1;
	}
	if (exit_code == 0 || d.signals_seen > 0)
		ax_info("drained%s; exiting", exit_code == 0 ? "" : " (requests cut short)");
out:
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	if (d.exit_ev != NULL)
		event_free(d.exit_ev);
	if (d.base != NULL)
		event_base_free(d.base);
	/* After the workers: a drain waited for every API answer. */
	ingest_api_free(api);
	ingest_metrics_free(metrics);
	pthread_cond_destroy(&d.cv);
	pthread_mutex_destroy(&d.mu);
	free(d.w);
	ax_config_release(&cfg);
	return exit_code;
}

int main(int argc, char **argv)
{
	const char *normalize = NULL, *source = NULL;
	struct cli_headers hdrs = { { NULL }, 0 };
	struct ax_config cfg;
	char err[512];
	int i, list = 0, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--list-sources") == 0) {
			list = 1;
		} else if (strcmp(argv[i], "--append-script") == 0) {
			fputs(ingest_batch_script, stdout);
			return ferror(stdout) || fflush(stdout) != 0 ? 1 : 0;
		} else if (strcmp(argv[i], "--normalize") == 0 && i + 1 < argc) {
			normalize = argv[++i];
		} else if (strcmp(argv[i], "--source") == 0 && i + 1 < argc) {
			source = argv[++i];
		} else if (strcmp(argv[i], "--header") == 0 && i + 1 < argc &&
			   strchr(argv[i + 1], ':') != NULL && hdrs.n < MAX_CLI_HEADERS) {
			hdrs.line[hdrs.n++] = argv[++i];
		} else {
			fprintf(stderr, "alexus-ingest: unknown or incomplete argument '%s'\n\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if ((source != NULL || hdrs.n > 0) && normalize == NULL) {
		fprintf(stderr, "alexus-ingest: --source and --header go with --normalize FILE\n");
		return 2;
	}
	if (!list && normalize == NULL)
		return run_server();
	if (ax_config_load(&cfg, err, sizeof(err)) != AX_OK) {
		fprintf(stderr, "alexus-ingest: configuration: %s\n", err);
		return 2;
	}
	ax_log_init("ingest", cfg.log_level);
	rc = load_profiles(&cfg, 1) == 0 ? 0 : 1;
	if (rc == 0 && list) {
		size_t k;

		for (k = 0; k < ingest_driver_count(); k++)
			printf("%-24s %s\n", ingest_driver_at(k)->name, ingest_driver_at(k)->title);
	} else if (rc == 0) {
		rc = cmd_normalize(normalize, source, &hdrs);
	}
	ax_config_release(&cfg);
	return rc;
}
