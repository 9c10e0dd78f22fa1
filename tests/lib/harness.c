/* harness.c - process, HTTP, Postgres and Redis helpers for integration
 * tests (see harness.h).  Failures here end the test binary at once with
 * a message: a harness that limps on only produces confusing asserts. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <curl/curl.h>

#include "alexus/config.h"
#include "alexus/hash.h"
#include "alexus/jwt.h"
#include "harness.h"

extern char **environ;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "harness: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

const char *h_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0')
		die("%s is not set: run the integration tests through tests/run", name);
	return v;
}

int h_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		die("cannot find a free port: %s", strerror(errno));
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int spawn_seq;

void h_spawn_argv(struct h_proc *p, const char *path, const char *const *argv,
		  const char *const *extra_env)
{
	const char *base = strrchr(path, '/');
	int fd;

	memset(p, 0, sizeof(*p));
	mkdir(".run", 0755);
	mkdir(".run/test-logs", 0755);
	snprintf(p->log, sizeof(p->log), ".run/test-logs/%s-%d-%d.log", base ? base + 1 : path,
		 (int)getpid(), ++spawn_seq);
	if (access(path, X_OK) != 0)
		die("%s is not built or installed", path);
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0)
		die("fork: %s", strerror(errno));
	if (p->pid == 0) {
		for (; extra_env && *extra_env; extra_env++)
			putenv((char *)*extra_env);
		fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
			close(fd);
		}
		execv(path, (char *const *)argv);
		_exit(127);
	}
}

void h_spawn(struct h_proc *p, const char *name, const char *const *extra_env)
{
	char path[512];
	const char *argv[] = { name, NULL };

	snprintf(path, sizeof(path), "%s/%s", h_env("ALEXUS_BIN_DIR"), name);
	h_spawn_argv(p, path, argv, extra_env);
}

static int reap(struct h_proc *p, int timeout_ms)
{
	struct timespec ts = { 0, 5 * 1000000L };
	int waited = 0;

	if (p->reaped)
		return 0;
	for (;;) {
		pid_t r = waitpid(p->pid, &p->status, WNOHANG);
		if (r == p->pid) {
			p->reaped = 1;
			return 0;
		}
		if (waited >= timeout_ms)
			return -1;
		nanosleep(&ts, NULL);
		waited += 5;
	}
}

int h_stop(struct h_proc *p, int sig, int timeout_ms)
{
	if (p->pid <= 0 || p->reaped)
		return 0;
	kill(p->pid, sig);
	if (reap(p, timeout_ms) == 0)
		return 0;
	kill(p->pid, SIGKILL);
	reap(p, 5000);
	return -1;
}

int h_wait_exit(struct h_proc *p, int timeout_ms)
{
	return reap(p, timeout_ms);
}

int h_log_has_sanitizer_report(const struct h_proc *p)
{
	size_t len;
	char *s;
	int bad;

	if (access(p->log, R_OK) != 0)
		return 0;
	s = h_read_file(p->log, &len);
	bad = strstr(s, "ERROR: AddressSanitizer") != NULL ||
	      strstr(s, "ERROR: LeakSanitizer") != NULL || strstr(s, "runtime error:") != NULL;
	free(s);
	return bad;
}

void h_dump_log(const struct h_proc *p)
{
	size_t len;
	char *s;

	if (access(p->log, R_OK) != 0)
		return;
	s = h_read_file(p->log, &len);
	fprintf(stderr, "---- %s ----\n%s---- end ----\n", p->log, s);
	free(s);
}

struct sink {
	char *buf;
	size_t len;
};

static size_t on_body(char *ptr, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = size * n;

	s->buf = realloc(s->buf, s->len + add + 1);
	memcpy(s->buf + s->len, ptr, add);
	s->len += add;
	s->buf[s->len] = '\0';
	return add;
}

long h_http(const char *method, const char *url, const char *const *headers, const char *body,
	    size_t len, char **resp)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct sink s = { NULL, 0 };
	long status = 0;

	for (; headers && *headers; headers++)
		hl = curl_slist_append(hl, *headers);
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (resp)
		*resp = s.buf ? s.buf : calloc(1, 1);
	else
		free(s.buf);
	return status;
}

int h_wait_until(int (*cond)(void *), void *arg, int timeout_ms)
{
	struct timespec ts = { 0, 10 * 1000000L }, t0, t1;
	int v;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		v = cond(arg);
		if (v)
			return v;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >=
		    timeout_ms)
			return v;
		nanosleep(&ts, NULL);
	}
}

static int http_200(void *arg)
{
	return h_http("GET", arg, NULL, NULL, 0, NULL) == 200;
}

int h_wait_http_200(const char *url, int timeout_ms)
{
	return h_wait_until(http_200, (void *)url, timeout_ms);
}

static PGconn *pg_open(const char *var)
{
	PGconn *c = PQconnectdb(h_env(var));

	if (PQstatus(c) != CONNECTION_OK)
		die("%s: %s", var, PQerrorMessage(c));
	return c;
}

PGconn *h_pg_admin(void)
{
	return pg_open("ALEXUS_ADMIN_DATABASE_URL");
}

PGconn *h_pg_app(void)
{
	return pg_open("ALEXUS_DATABASE_URL");
}

static void pg_cmd(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		die("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

PGresult *h_pg_q(PGconn *c, const char *tenant, const char *sql, int n, const char *const *params)
{
	PGresult *r;

	pg_cmd(c, "BEGIN", 0, NULL);
	if (tenant)
		pg_cmd(c, "SELECT set_config('app.tenant_id', $1, true)", 1, &tenant);
	r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(c));
		PQclear(r);
		pg_cmd(c, "ROLLBACK", 0, NULL);
		exit(1);
	}
	pg_cmd(c, "COMMIT", 0, NULL);
	return r;
}

long h_pg_long(PGconn *c, const char *tenant, const char *sql, int n, const char *const *params)
{
	PGresult *r = h_pg_q(c, tenant, sql, n, params);
	long v = -1;

	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

redisContext *h_redis(void)
{
	char host[256];
	int port;
	redisContext *c;

	if (ax_redis_url_parse(h_env("ALEXUS_REDIS_URL"), host, sizeof(host), &port) != AX_OK)
		die("bad ALEXUS_REDIS_URL");
	c = redisConnect(host, port);
	if (c == NULL || c->err)
		die("redis: %s", c ? c->errstr : "no memory");
	return c;
}

long long h_redis_int(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;
	long long v;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r == NULL)
		die("redis: %s", c->errstr);
	if (r->type != REDIS_REPLY_INTEGER)
		die("redis: %s: expected an integer, got type %d (%s)", fmt, r->type,
		    r->type == REDIS_REPLY_ERROR ? r->str : "");
	v = r->integer;
	freeReplyObject(r);
	return v;
}

#define CTL_WAIT_MS 60000    /* cmdb import of a large file under ASan is slow */
#define CTL_MAXARGS 14

int h_ctl(char **out, ...)
{
	const char *argv[CTL_MAXARGS + 2];
	char path[512];
	struct h_proc p;
	va_list ap;
	int n = 0;

	snprintf(path, sizeof(path), "%s/alexusctl", h_env("ALEXUS_BIN_DIR"));
	argv[n++] = "alexusctl";
	va_start(ap, out);
	while ((argv[n] = va_arg(ap, const char *)) != NULL)
		if (++n > CTL_MAXARGS + 1)
			die("h_ctl: more than %d arguments", CTL_MAXARGS);
	va_end(ap);
	h_spawn_argv(&p, path, argv, NULL);
	if (h_wait_exit(&p, CTL_WAIT_MS) != 0) {
		h_stop(&p, SIGKILL, 1000);
		h_dump_log(&p);
		die("alexusctl %s did not finish in %d ms", argv[1] ? argv[1] : "", CTL_WAIT_MS);
	}
	if (h_log_has_sanitizer_report(&p)) {
		h_dump_log(&p);
		die("alexusctl %s reported a sanitizer error", argv[1] ? argv[1] : "");
	}
	if (out != NULL)
		*out = h_read_file(p.log, NULL);
	unlink(p.log);
	return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : 128;
}

void h_tenant_new(const char *prefix, const char *webhook, char out[64])
{
	char uuid[AX_UUID_LEN];
	PGconn *c = h_pg_admin();
	const char *p[2];

	ax_hash_init();
	ax_uuid4(uuid);
	snprintf(out, 64, "%s-%.8s", prefix, uuid);
	p[0] = out;
	p[1] = webhook;
	PQclear(h_pg_q(c, out,
		       "INSERT INTO tenants (id, name, settings) VALUES ($1, $1, "
		       "CASE WHEN $2::text IS NULL THEN '{}'::jsonb "
		       "ELSE jsonb_build_object('notify_webhook_url', $2::text) END)",
		       2, p));
	PQfinish(c);
}

char *h_token(const char *tenant)
{
	const char *secret = h_env("ALEXUS_JWT_SECRET");
	const char *iss = getenv("ALEXUS_JWT_ISSUER"), *aud = getenv("ALEXUS_JWT_AUDIENCE");
	struct ax_jwt_opts o = {
		.alg = "HS256",
		.key = (const unsigned char *)secret,
		.key_len = strlen(secret),
		.issuer = iss ? iss : "alexus",
		.audience = aud ? aud : "alexus",
	};
	char err[128];
	char *t = ax_jwt_mint(&o, tenant, 3600, err, sizeof(err));

	if (t == NULL)
		die("mint: %s", err);
	return t;
}

char *h_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		die("cannot open '%s': %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		die("cannot read '%s'", path);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}
