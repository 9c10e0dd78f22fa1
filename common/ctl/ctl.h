/* ctl.h - internals shared by the files of alexusctl (not part of libalexus).
 *
 * Each subcommand is a function that takes its own argv (argv[0] is the
 * subcommand's name, as getopt expects) and returns the process exit code:
 * 0 success, 1 failure (one line on stderr already printed), 2 usage. */
#ifndef AX_CTL_H
#define AX_CTL_H

#include "alexus/config.h"
#include "alexus/err.h"
#include "alexus/pg.h"

#define CTL_OK 0
#define CTL_FAIL 1
#define CTL_USAGE 2

struct ctl {
	struct ax_config cfg;
};

/* "alexusctl: <message>" on stderr; returns CTL_FAIL. */
int ctl_fail(const char *fmt, ...) AX_PRINTF(1, 2);
/* "alexusctl: <message>" then "usage: alexusctl <usage>" on stderr;
 * returns CTL_USAGE. */
int ctl_usage(const char *usage, const char *fmt, ...) AX_PRINTF(2, 3);

/* `incidents ack|resolve|note ...` (ctl_incident_op.c); argv[0] is the
 * operation. */
int ctl_incident_op(struct ctl *c, int argc, char **argv);

/* A connected struct ax_pg for url, or NULL after printing why. */
struct ax_pg *ctl_pg_open(const char *url, const char *role);

/* 1 when the connected role bypasses row-level security (superuser or
 * BYPASSRLS) and so sees every tenant's rows; 0 otherwise or on error.
 * Runs in the caller's transaction, if any. */
int ctl_role_sees_all(struct ax_pg *pg);
/* Every tenant id, in order, for a command run over all tenants with the
 * owner role, which must bypass RLS (read in a transaction of its own).
 * NULL after printing "<what>: why", naming `<what> --tenant NAME` as the
 * way out when the role cannot see every tenant. */
PGresult *ctl_all_tenants(struct ax_pg *pg, const char *what);

/* Parse a whole decimal number in [min, max]; 0 ok, -1 otherwise. */
int ctl_parse_long(const char *s, long min, long max, long *out);

int ctl_migrate(struct ctl *c, int argc, char **argv);
int ctl_tenant(struct ctl *c, int argc, char **argv);
int ctl_token(struct ctl *c, int argc, char **argv);       /* ctl_auth.c */
int ctl_token_mint(struct ctl *c, int argc, char **argv);  /* ctl_tenant.c; argv[0] "mint" */
int ctl_source(struct ctl *c, int argc, char **argv);      /* ctl_auth.c */
int ctl_auth(struct ctl *c, int argc, char **argv);        /* ctl_auth.c */
int ctl_incidents(struct ctl *c, int argc, char **argv);
int ctl_audit(struct ctl *c, int argc, char **argv);
int ctl_cmdb(struct ctl *c, int argc, char **argv);          /* ctl_cmdb.c */
int ctl_credentials(struct ctl *c, int argc, char **argv);   /* ctl_credentials.c */

#endif /* AX_CTL_H */
