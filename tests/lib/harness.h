/* harness.h - helpers for integration tests against the real servers.
 *
 * tests/run starts a Redis and a PostgreSQL server (scripts/stack up
 * --no-planes) and exports ALEXUS_* for them; the tests spawn the real
 * daemon binaries from ALEXUS_BIN_DIR (the plain or the sanitizer build),
 * talk to them over HTTP and assert on what lands in Redis and Postgres.
 * Waiting is always for a condition with a deadline, never a bare sleep. */
#ifndef T_HARNESS_H
#define T_HARNESS_H

#include <stddef.h>
#include <sys/types.h>
#include <libpq-fe.h>
#include <hiredis/hiredis.h>

/* Required environment variable; the test fails (exit 1) when unset. */
const char *h_env(const char *name);

/* A TCP port on 127.0.0.1 free right now. */
int h_free_port(void);

/* A daemon started from ALEXUS_BIN_DIR with the environment plus extra
 * "NAME=value" pairs (NULL-terminated).  stderr goes to
 * .run/test-logs/<name>-<n>.log so a failing test can show it. */
struct h_proc {
	pid_t pid;
	char log[256];
	int status;    /* wait status once reaped */
	int reaped;
};
void h_spawn(struct h_proc *p, const char *name, const char *const *extra_env);
/* The same for any program: path, its argv (NULL-terminated). */
void h_spawn_argv(struct h_proc *p, const char *path, const char *const *argv,
		  const char *const *extra_env);
/* Send sig and wait up to timeout_ms for exit; 0 if it exited. */
int h_stop(struct h_proc *p, int sig, int timeout_ms);
/* Wait up to timeout_ms for the process to exit on its own; 0 if it did. */
int h_wait_exit(struct h_proc *p, int timeout_ms);
/* 1 if the log has a sanitizer report. */
int h_log_has_sanitizer_report(const struct h_proc *p);
void h_dump_log(const struct h_proc *p);

/* HTTP through libcurl.  headers: NULL-terminated "Name: value" list.
 * Returns the status (0 on transport error); *body (may be NULL) gets a
 * malloc'd NUL-terminated response body. */
long h_http(const char *method, const char *url, const char *const *headers,
	    const char *body, size_t len, char **resp);

/* Poll cond(arg) every 10 ms until it returns nonzero or timeout_ms
 * passes; returns the last value. */
int h_wait_until(int (*cond)(void *), void *arg, int timeout_ms);
/* Poll GET url until 200 or timeout; 1 when ready. */
int h_wait_http_200(const char *url, int timeout_ms);

/* Postgres connections: the owner (admin) and the application role. */
PGconn *h_pg_admin(void);
PGconn *h_pg_app(void);
/* Run sql with text params in one transaction scoped to tenant (NULL =
 * unscoped); returns the result (caller PQclear) or fails the test. */
PGresult *h_pg_q(PGconn *c, const char *tenant, const char *sql, int n, const char *const *params);
/* First column of first row as a long (-1 if no row). */
long h_pg_long(PGconn *c, const char *tenant, const char *sql, int n, const char *const *params);

redisContext *h_redis(void);
long long h_redis_int(redisContext *c, const char *fmt, ...);

/* A fresh tenant "<prefix>-<random>" (written to out, 64 bytes) with the
 * given notify webhook URL (NULL for none), created through the admin
 * role; and a token for it (malloc'd). */
void h_tenant_new(const char *prefix, const char *webhook, char out[64]);
char *h_token(const char *tenant);

/* Run the real alexusctl from ALEXUS_BIN_DIR with the arguments given
 * (without argv[0], at most 14, then NULL) and the test's environment.
 * Returns its exit status (128 when it died of a signal); *out (out may be
 * NULL) gets what it printed, stdout and stderr interleaved, malloc'd.
 * One that runs over 60 s or reports a sanitizer error ends the test
 * binary with its output. */
int h_ctl(char **out, ...) __attribute__((sentinel));

/* Whole file into a malloc'd NUL-terminated buffer (fails the test on error). */
char *h_read_file(const char *path, size_t *len);

#endif /* T_HARNESS_H */
