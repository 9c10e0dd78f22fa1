/* main.c - alexus-ingest: the HTTP edge that turns webhooks into signals
 * on alexus:signals, plus two offline commands for operators.
 *
 * Shape (pgbouncer's main, STYLE.md section 1): parse arguments -> load
 * and validate the configuration (refuse to start without
 * ALEXUS_JWT_SECRET) -> event base -> signals -> server -> one "up" log
 * line -> loop.  SIGTERM/SIGINT arrive as libevent events (the handlers
 * are ordinary callbacks, no async-signal-safety rules): the first drains
 * (stop accepting, answer what is in flight, exit 0), a second cuts the
 * drain short (503 to whatever still waits, exit 1), as does the drain
 * deadline (the Redis command timeout plus a second: by then every append
 * has been answered or failed).  SIGPIPE is ignored: hiredis and evhttp
 * write to sockets whose peer may be gone.
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

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "alexus/config.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "drivers/driver.h"
#include "drivers/profile.h"
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
		"       alexus-ingest --help\n"
		"\n"
		"Server routes: POST /v1/webhooks/{source}, POST /v1/webhooks (source\n"
		"detected), GET /healthz, GET /readyz, GET /metrics.  Webhooks need\n"
		"Authorization: Bearer <JWT> (HS256, tenant_id claim; alexusctl token mint).\n"
		"Configuration comes from ALEXUS_* variables (alexusctl config lists them);\n"
		"ALEXUS_JWT_SECRET is required.\n"
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
	doc = ax_json_parse(buf, len, 64);
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

struct daemon {
	struct event_base *base;
	struct ingest_server *srv;
	int drain_ms;
	int signals_seen;
	int exit_code;
};

static void on_drained(int clean, void *arg)
{
	struct daemon *d = arg;

	if (!clean)
		d->exit_code = 1;
	ax_info("drained%s; exiting", clean ? "" : " (requests cut short)");
	event_base_loopexit(d->base, NULL);
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
	ingest_server_drain(d->srv, d->drain_ms, on_drained, d);
}

static int run_server(void)
{
	struct ax_config cfg;
	struct daemon d = { 0 };
	struct event *ev_term = NULL, *ev_int = NULL;
	char err[512];

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
	if (cfg.jwt_secret == NULL || cfg.jwt_secret[0] == '\0') {
		ax_error("refusing to start: ALEXUS_JWT_SECRET is not set (every webhook needs a "
			 "bearer token signed with it; `scripts/stack env` prints the local one)");
		ax_config_release(&cfg);
		return 1;
	}
	if (ax_hash_init() != 0) {
		ax_error("refusing to start: libsodium failed to initialise");
		ax_config_release(&cfg);
		return 1;
	}
	d.base = event_base_new();
	if (d.base == NULL) {
		ax_error("refusing to start: cannot create the event base");
		ax_config_release(&cfg);
		return 1;
	}
	d.drain_ms = cfg.redis_timeout_ms + 1000;
	d.srv = ingest_server_new(d.base, &cfg, err, sizeof(err));
	if (d.srv == NULL) {
		ax_error("refusing to start: %s", err);
		d.exit_code = 1;
		goto out;
	}
	ev_term = evsignal_new(d.base, SIGTERM, on_signal, &d);
	ev_int = evsignal_new(d.base, SIGINT, on_signal, &d);
	if (ev_term == NULL || ev_int == NULL || evsignal_add(ev_term, NULL) != 0 ||
	    evsignal_add(ev_int, NULL) != 0) {
		ax_error("refusing to start: cannot install signal handlers");
		d.exit_code = 1;
		goto out;
	}
	ax_info("ingest up on %s:%d (redis %s, max body %zu, max inflight %d, dedup ttl %ds; "
		"libevent %s, hiredis %d.%d.%d)",
		cfg.ingest_addr, ingest_server_port(d.srv), cfg.redis_url, cfg.max_body,
		cfg.max_inflight, cfg.dedup_ttl, event_get_version(), HIREDIS_MAJOR,
		HIREDIS_MINOR, HIREDIS_PATCH);
	if (event_base_dispatch(d.base) < 0) {
		ax_error("event loop failed");
		d.exit_code = 1;
	}
out:
	ingest_server_free(d.srv);
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	event_base_free(d.base);
	ax_config_release(&cfg);
	return d.exit_code;
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
