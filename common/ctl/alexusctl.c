/* alexusctl.c - the admin tool: entry point, dispatch and shared helpers.
 *
 * Design: alexusctl is built on libalexus alone (no daemon code).  main()
 * picks the command from argv[1] before loading the configuration, so
 * --help works with a broken environment; each command then parses its own
 * options with getopt_long and returns an exit code.  Conventions: results
 * on stdout, every error as exactly one "alexusctl: ..." line on stderr and
 * exit 1; usage errors print the usage on stderr and exit 2.
 *
 * Which role each command uses is part of its meaning: migrate and tenant
 * administration use the owner (ALEXUS_ADMIN_DATABASE_URL); incidents and
 * audit read through the application role (ALEXUS_DATABASE_URL) inside a
 * tenant-scoped transaction, so row-level security -- not a WHERE clause
 * in this tool -- decides what is visible. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_replay.h"

static const char usage_text[] =
	"usage: alexusctl <command> [options]\n"
	"\n"
	"  migrate [--dir DIR]                      apply pending NNNN_*.sql migrations\n"
	"  tenant create NAME [--name DISPLAY] [--webhook URL]\n"
	"  tenant set-webhook NAME URL              set (or with '' clear) the notify webhook\n"
	"  tenant list\n"
	"  token mint --tenant NAME [--ttl SECONDS] [--role viewer|operator|admin]\n"
	"                                         print a bearer JWT (default 30 days; a role\n"
	"                                         lets it use the operator API)\n"
	"  token issue --tenant NAME [--name NAME]  new webhook token (axw_...), shown once\n"
	"  token revoke --tenant NAME --name NAME\n"
	"  token list --tenant NAME\n"
	"  source secret set --tenant NAME --source SOURCE [--secret S | <stdin] [--add]\n"
	"                                           require SOURCE's signature (--add: rotate)\n"
	"  source secret clear --tenant NAME --source SOURCE\n"
	"  auth sync [--tenant NAME]                re-mirror tokens and secrets into redis\n"
	"  incidents list --tenant NAME [--json] [--status open|resolved] [--limit N]\n"
	"  incidents why ID --tenant NAME [--json]   per alert: the grouping rule and matched values\n"
	"  incidents ack|resolve ID --tenant NAME [--by WHO] [--comment TEXT]\n"
	"  incidents note ID --tenant NAME --text TEXT [--by WHO]\n"
	"                                           what an operator does (as the API does)\n"
	"  replay --tenant NAME --from TS --to TS [--rules FILE] [--json]\n"
	"                                           re-run grouping over stored alerts (read only)\n"
	"  audit verify [--tenant NAME]             check audit hash chains (all: owner role)\n"
	"  cmdb import FILE... --tenant NAME [--format json|csv]\n"
	"                                           load configuration items and relations\n"
	"  credentials set --tenant NAME --name N   store a credential; the value on stdin\n"
	"  credentials list --tenant NAME           names and key ids, never values\n"
	"  credentials delete --tenant NAME --name N\n"
	"  credentials rotate [--tenant NAME]       re-encrypt under ALEXUS_MASTER_KEY_ID\n"
	"  config [--show-secrets]                  print the configuration table\n"
	"\n"
	"migrate and tenant use ALEXUS_ADMIN_DATABASE_URL (the owner role); incidents,\n"
	"replay, audit and cmdb use ALEXUS_DATABASE_URL (the application role, row-level\n"
	"security applies; cmdb embeds with ALEXUS_EMBED_*, local hashing when unset);\n"
	"credentials use the admin role and the master keys; token mint uses ALEXUS_JWT_SECRET (or _KEY_FILE), _ISSUER and\n"
	"_AUDIENCE; token issue/revoke/list, source and auth use the admin role and\n"
	"ALEXUS_REDIS_URL, source secret set ALEXUS_MASTER_KEY too.  Migrations\n"
	"are read from --dir, else ALEXUS_MIGRATIONS_DIR.  `alexusctl config` lists\n"
	"every variable.\n";

int ctl_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("alexusctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_FAIL;
}

int ctl_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("alexusctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: alexusctl %s\n", usage);
	return CTL_USAGE;
}

struct ax_pg *ctl_pg_open(const char *url, const char *role)
{
	char err[512];
	struct ax_pg *pg = ax_pg_new(url);

	if (pg == NULL) {
		ctl_fail("no database URL for the %s role", role);
		return NULL;
	}
	if (ax_pg_ensure(pg, err, sizeof(err)) != AX_OK) {
		ctl_fail("%s role: %s", role, err);
		ax_pg_free(pg);
		return NULL;
	}
	return pg;
}

int ctl_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int ctl_role_sees_all(struct ax_pg *pg)
{
	PGresult *res;
	char err[256];
	int all = 0;

	res = ax_pg_exec(pg, err, sizeof(err),
			 "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
			 0, NULL);
	if (res != NULL) {
		all = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
	}
	return all;
}

PGresult *ctl_all_tenants(struct ax_pg *pg, const char *what)
{
	PGresult *res;
	char err[512];

	if (ax_pg_begin(pg, NULL, err, sizeof(err)) != AX_OK) {
		ctl_fail("%s: %s", what, err);
		return NULL;
	}
	if (!ctl_role_sees_all(pg)) {
		ax_pg_rollback(pg);
		ctl_fail("%s: the admin role is subject to row-level security and sees no tenant; "
			 "run `%s --tenant NAME` for each tenant", what, what);
		return NULL;
	}
	res = ax_pg_exec(pg, err, sizeof(err), "SELECT id FROM tenants ORDER BY id", 0, NULL);
	ax_pg_rollback(pg);
	if (res == NULL)
		ctl_fail("%s: %s", what, err);
	return res;
}

static int ctl_config(struct ctl *c, int argc, char **argv)
{
	int show = 0, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--show-secrets") == 0)
			show = 1;
		else
			return ctl_usage("config [--show-secrets]", "unexpected argument '%s'",
					 argv[i]);
	}
	ax_config_print(&c->cfg, show);
	return CTL_OK;
}

typedef int ctl_cmd_fn(struct ctl *c, int argc, char **argv);

static const struct {
	const char *name;
	ctl_cmd_fn *fn;
} commands[] = {
	{ "migrate", ctl_migrate },
	{ "tenant", ctl_tenant },
	{ "token", ctl_token },
	{ "source", ctl_source },
	{ "auth", ctl_auth },
	{ "incidents", ctl_incidents },
	{ "replay", ctl_replay },
	{ "audit", ctl_audit },
	{ "cmdb", ctl_cmdb },
	{ "credentials", ctl_credentials },
	{ "config", ctl_config },
};

int main(int argc, char **argv)
{
	struct ctl c;
	char err[512];
	size_t i;
	int rc;

	if (argc < 2) {
		fputs(usage_text, stderr);
		return CTL_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		if (strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0 &&
		    strcmp(argv[1], "help") != 0)
			fprintf(stderr, "alexusctl: unknown command '%s'\n", argv[1]);
		fputs(usage_text, stderr);
		return CTL_USAGE;
	}
	memset(&c, 0, sizeof(c));
	if (ax_config_load(&c.cfg, err, sizeof(err)) != AX_OK)
		return ctl_fail("configuration: %s", err);
	/* argv[1] becomes the command's argv[0], as getopt expects. */
	rc = commands[i].fn(&c, argc - 1, argv + 1);
	ax_config_release(&c.cfg);
	if (fflush(stdout) != 0 && rc == CTL_OK)
		rc = ctl_fail("cannot write output: %s", strerror(errno));
	return rc;
}
