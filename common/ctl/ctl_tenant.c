/* ctl_tenant.c - `alexusctl tenant ...` and `alexusctl token mint`.
 *
 * Design: tenants are administered through the owner role.  Row-level
 * security is FORCEd on tenants, which binds even the owner unless it is a
 * superuser, so every write runs in a transaction scoped to the tenant
 * being written (ax_pg_begin sets app.tenant_id as a bind parameter).
 * Listing every tenant is only possible for a role that bypasses RLS (a
 * superuser, as the local stack's owner is); for any other role the list
 * is necessarily empty and we say so on stderr rather than print nothing.
 *
 * tenant create also writes the tenant's tenant_settings row of column
 * defaults (thresholds, autonomy dry_run, no namespaces) in the same
 * transaction: tenant_settings is where every setting lives (0006), and a
 * tenant that has its row can be shown and changed like any other.
 * tenants.settings holds only the notify webhook URL.
 *
 * Tokens are minted locally with the configured HMAC key (the verifier
 * ingest uses, ax_jwt_opts_from_config); no database is involved, and only
 * the token is printed on stdout so that `TOKEN=$(alexusctl token mint
 * --tenant acme)` works.  With RS* the key file holds a public key, which
 * cannot sign: such tokens come from the identity provider.  The other
 * `token` subcommands (webhook tokens) are in ctl_auth.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "alexus/jwt.h"
#include "alexus/keys.h"

#define CREATE_USAGE "tenant create NAME [--name DISPLAY] [--webhook URL]"
#define SETHOOK_USAGE "tenant set-webhook NAME URL"
#define LIST_USAGE "tenant list"
#define TENANT_USAGE "tenant create|set-webhook|list ..."
#define TOKEN_USAGE "token mint --tenant NAME [--ttl SECONDS]"
#define TOKEN_TTL_DEFAULT (30L * 86400)
#define TOKEN_TTL_MAX (3650L * 86400)

static int bad_tenant(const char *name)
{
	return ctl_fail("invalid tenant id '%s': use 1 to 63 of a-z, 0-9, '_' and '-', "
			"starting with a letter or digit", name);
}

static int webhook_ok(const char *url)
{
	return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

static int tenant_create(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "webhook", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *display = NULL, *webhook = NULL, *name;
	const char *params[3];
	struct ax_pg *pg;
	PGresult *res;
	char err[512];
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'n')
			display = optarg;
		else if (opt == 'w')
			webhook = optarg;
		else
			return ctl_usage(CREATE_USAGE, "bad option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 1)
		return ctl_usage(CREATE_USAGE, "expected exactly one tenant NAME");
	name = argv[optind];
	if (!ax_tenant_valid(name))
		return bad_tenant(name);
	if (webhook != NULL && !webhook_ok(webhook))
		return ctl_fail("invalid webhook URL '%s': must start with http:// or https://",
				webhook);
	if (display == NULL || display[0] == '\0')
		display = name;

	pg = ctl_pg_open(c->cfg.admin_database_url, "admin");
	if (pg == NULL)
		return CTL_FAIL;
	if (ax_pg_begin(pg, name, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		return ctl_fail("tenant create: %s", err);
	}
	params[0] = name;
	params[1] = display;
	params[2] = webhook;    /* NULL binds SQL NULL */
	res = ax_pg_exec(pg, err, sizeof(err),
			 "INSERT INTO tenants (id, name, settings) VALUES ($1, $2,"
			 " CASE WHEN $3::text IS NULL THEN '{}'::jsonb"
			 " ELSE jsonb_build_object('notify_webhook_url', $3::text) END)",
			 3, params);
	if (res == NULL) {
		int dup = strcmp(ax_pg_sqlstate(pg), "23505") == 0;

		ax_pg_rollback(pg);
		ax_pg_free(pg);
		if (dup)
			return ctl_fail("tenant '%s' exists", name);
		return ctl_fail("tenant create: %s", err);
	}
	PQclear(res);
	res = ax_pg_exec(pg, err, sizeof(err),
			 "INSERT INTO tenant_settings (tenant_id) VALUES ($1)"
			 " ON CONFLICT (tenant_id) DO NOTHING",
			 1, params);
	if (res == NULL) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		return ctl_fail("tenant create: settings: %s", err);
	}
	PQclear(res);
	if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		return ctl_fail("tenant create: %s", err);
	}
	ax_pg_free(pg);
	printf("created tenant '%s'\n", name);
	return CTL_OK;
}

static int tenant_set_webhook(struct ctl *c, int argc, char **argv)
{
	const char *params[2];
	struct ax_pg *pg;
	PGresult *res;
	char err[512];
	long n;

	if (argc != 3)
		return ctl_usage(SETHOOK_USAGE, "expected a tenant NAME and a URL ('' clears)");
	if (!ax_tenant_valid(argv[1]))
		return bad_tenant(argv[1]);
	if (argv[2][0] != '\0' && !webhook_ok(argv[2]))
		return ctl_fail("invalid webhook URL '%s': must start with http:// or https://",
				argv[2]);
	pg = ctl_pg_open(c->cfg.admin_database_url, "admin");
	if (pg == NULL)
		return CTL_FAIL;
	if (ax_pg_begin(pg, argv[1], err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		return ctl_fail("tenant set-webhook: %s", err);
	}
	params[0] = argv[1];
	params[1] = argv[2];
	res = ax_pg_exec(pg, err, sizeof(err),
			 "UPDATE tenants SET settings = CASE WHEN $2::text = ''"
			 " THEN settings - 'notify_webhook_url'"
			 " ELSE settings || jsonb_build_object('notify_webhook_url', $2::text) END"
			 " WHERE id = $1",
			 2, params);
	if (res == NULL) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		return ctl_fail("tenant set-webhook: %s", err);
	}
	n = atol(PQcmdTuples(res));
	PQclear(res);
	if (n == 0) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		return ctl_fail("no tenant '%s'", argv[1]);
	}
	if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		return ctl_fail("tenant set-webhook: %s", err);
	}
	ax_pg_free(pg);
	if (argv[2][0] == '\0')
		printf("cleared webhook of tenant '%s'\n", argv[1]);
	else
		printf("set webhook of tenant '%s'\n", argv[1]);
	return CTL_OK;
}

static int tenant_list(struct ctl *c, int argc, char **argv)
{
	struct ax_pg *pg;
	PGresult *res;
	char err[512];
	int i;

	(void)argv;
	if (argc != 1)
		return ctl_usage(LIST_USAGE, "unexpected argument '%s'", argv[1]);
	pg = ctl_pg_open(c->cfg.admin_database_url, "admin");
	if (pg == NULL)
		return CTL_FAIL;
	if (ax_pg_begin(pg, NULL, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		return ctl_fail("tenant list: %s", err);
	}
	if (!ctl_role_sees_all(pg))
		fprintf(stderr, "alexusctl: note: the admin role is subject to row-level "
				"security, so no tenant is visible to a list\n");
	res = ax_pg_exec(pg, err, sizeof(err),
			 "SELECT id, name, coalesce(settings->>'notify_webhook_url', ''),"
			 " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
			 " FROM tenants ORDER BY id",
			 0, NULL);
	if (res == NULL) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		return ctl_fail("tenant list: %s", err);
	}
	printf("%-24s %-24s %-20s %s\n", "TENANT", "NAME", "CREATED_AT", "WEBHOOK");
	for (i = 0; i < PQntuples(res); i++)
		printf("%-24s %-24s %-20s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		       PQgetvalue(res, i, 3), PQgetvalue(res, i, 2));
	PQclear(res);
	ax_pg_rollback(pg);
	ax_pg_free(pg);
	return CTL_OK;
}

int ctl_tenant(struct ctl *c, int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage(TENANT_USAGE, "missing subcommand");
	if (strcmp(argv[1], "create") == 0)
		return tenant_create(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "set-webhook") == 0)
		return tenant_set_webhook(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return tenant_list(c, argc - 1, argv + 1);
	return ctl_usage(TENANT_USAGE, "unknown subcommand '%s'", argv[1]);
}

int ctl_token_mint(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "ttl", required_argument, NULL, 'l' },
		{ "role", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tenant = NULL, *role = NULL;
	long ttl = TOKEN_TTL_DEFAULT;
	struct ax_jwt_opts o;
	char err[512];
	char *tok;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 't') {
			tenant = optarg;
		} else if (opt == 'r') {
			if (ax_jwt_role_rank(optarg) == 0)
				return ctl_usage(TOKEN_USAGE,
						 "--role must be viewer, operator or admin");
			role = optarg;
		} else if (opt == 'l') {
			if (ctl_parse_long(optarg, 1, TOKEN_TTL_MAX, &ttl) != 0)
				return ctl_usage(TOKEN_USAGE, "--ttl must be 1..%ld seconds",
						 TOKEN_TTL_MAX);
		} else {
			return ctl_usage(TOKEN_USAGE, "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return ctl_usage(TOKEN_USAGE, "unexpected argument '%s'", argv[optind]);
	if (tenant == NULL)
		return ctl_usage(TOKEN_USAGE, "--tenant is required");
	if (!ax_tenant_valid(tenant))
		return bad_tenant(tenant);
	if (!ax_jwt_alg_is_hmac(c->cfg.jwt_alg))
		return ctl_fail("ALEXUS_JWT_ALG is %s: tokens are signed by the identity provider's "
				"private key, not minted here", c->cfg.jwt_alg);
	if (ax_jwt_opts_from_config(&o, &c->cfg, 0, err, sizeof(err)) != AX_OK)
		return ctl_fail("%s (`scripts/stack env` prints the local stack's)", err);
	tok = ax_jwt_mint_role(&o, tenant, role, ttl, err, sizeof(err));
	ax_jwt_opts_release(&o);
	if (tok == NULL)
		return ctl_fail("token mint: %s", err);
	printf("%s\n", tok);
	free(tok);
	return CTL_OK;
}
