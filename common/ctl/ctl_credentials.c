/* ctl_credentials.c - `alexusctl credentials set|list|delete|rotate`: the
 * tenant's encrypted credentials (tenant_credentials, common/cred.h).
 *
 * Design: every command uses the owner role (ALEXUS_ADMIN_DATABASE_URL) in
 * a transaction scoped to the tenant, like `token` and `source` -- row-
 * level security is FORCEd, so the owner sees the tenant's rows only under
 * its scope.  A value is read from stdin, never from argv (argv is visible
 * to every user through /proc and ends up in shell history); on a terminal
 * echo is turned off while it is typed.  It lives in one sodium_malloc
 * buffer, wiped and freed right after sealing, and no command prints one.
 * Each change appends an audit row naming the credential and key id.
 *
 * rotate re-encrypts, per tenant and in one transaction per tenant, every
 * credential under the current key id (ALEXUS_MASTER_KEY_ID) and re-seals
 * every source signing secret (source_secrets, 0002) under the current
 * master key.  Source secrets keep their old box format, which has no key
 * id, because ingest (ingest/auth.c) opens them with ALEXUS_MASTER_KEY
 * alone: each is tried under every key of the keyring and sealed again
 * under the current one, and the tenant's Redis mirror is then rebuilt
 * with `auth sync --tenant` (ctl_auth), so ingest, restarted with the new
 * key, checks signatures again.  Until that has run, ingest under a new
 * ALEXUS_MASTER_KEY cannot open the old mirror and refuses signed
 * webhooks of that tenant: rotate right after changing the key.  Without
 * --tenant rotate walks every tenant, which needs an owner role that
 * bypasses row-level security (a superuser or BYPASSRLS), as auth sync. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl.h"
#include "alexus/cred.h"
#include "alexus/crypto.h"
#include "alexus/keys.h"
#include "alexus/mem.h"

#define SET_USAGE "credentials set --tenant NAME --name CREDENTIAL  (value on stdin)"
#define LIST_USAGE "credentials list --tenant NAME"
#define DELETE_USAGE "credentials delete --tenant NAME --name CREDENTIAL"
#define ROTATE_USAGE "credentials rotate [--tenant NAME]"
#define CRED_USAGE "credentials set|list|delete|rotate ..."

struct opts {
	const char *tenant, *name;
};

/* --tenant and --name; allowed lists the short codes a subcommand takes.
 * 0, or the exit code after printing why. */
static int parse_opts(int argc, char **argv, const char *usage, const char *allowed,
		      int need_tenant, int need_name, struct opts *o)
{
	static const struct option lo[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == '?' || strchr(allowed, opt) == NULL)
			return ctl_usage(usage, "bad option '%s'", argv[optind - 1]);
		if (opt == 't')
			o->tenant = optarg;
		else
			o->name = optarg;
	}
	if (optind != argc)
		return ctl_usage(usage, "unexpected argument '%s' (a value is read from stdin, "
			"never from the command line)", argv[optind]);
	if (need_tenant && o->tenant == NULL)
		return ctl_usage(usage, "--tenant is required");
	if (need_name && o->name == NULL)
		return ctl_usage(usage, "--name is required");
	if (o->tenant != NULL && !ax_tenant_valid(o->tenant))
		return ctl_fail("invalid tenant id '%s'", o->tenant);
	if (o->name != NULL && !ax_cred_name_valid(o->name))
		return ctl_fail("invalid credential name '%s': use 1 to %d of A-Z, a-z, 0-9, '.', "
				"'_' and '-', starting with a letter or digit", o->name,
				AX_CRED_NAME_MAX);
	return 0;
}

/* Begin a transaction scoped to tenant and check the tenant exists.  0,
 * or -1 after printing why (the transaction is then rolled back). */
static int begin_tenant(struct ax_pg *pg, const char *tenant, const char *what)
{
	const char *p[1] = { tenant };
	PGresult *res;
	char err[512];
	int found;

	if (ax_pg_begin(pg, tenant, err, sizeof(err)) != AX_OK) {
		ctl_fail("%s: %s", what, err);
		return -1;
	}
	res = ax_pg_exec(pg, err, sizeof(err), "SELECT 1 FROM tenants WHERE id = $1", 1, p);
	if (res == NULL) {
		ax_pg_rollback(pg);
		ctl_fail("%s: %s", what, err);
		return -1;
	}
	found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		ax_pg_rollback(pg);
		ctl_fail("no tenant '%s'", tenant);
		return -1;
	}
	return 0;
}

/* One audit row in the open, tenant-scoped transaction.  detail is a JSON
 * object built in SQL from $3 (never a value). */
static int audit(struct ax_pg *pg, const char *action, const char *subject, const char *detail,
		 char *err, size_t errlen)
{
	const char *p[3] = { action, subject, detail };
	PGresult *res;

	res = ax_pg_exec(pg, err, errlen,
			 "SELECT audit_append('alexusctl', $1, $2, $3::jsonb, NULL)", 3, p);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int keyring(struct ctl *c, struct ax_keyring *kr)
{
	char err[512];

	if (ax_cred_keyring_config(kr, &c->cfg, err, sizeof(err)) != AX_OK)
		return ctl_fail("%s (`scripts/stack env` prints the local stack's key)", err);
	return 0;
}

/* ---------------------------------------------------------------- set */

/* The value from stdin into buf (max + 1 bytes, sodium_malloc'd), one
 * trailing newline (and a CR before it) dropped.  On a terminal, one line
 * with echo off.  Returns the length -- more than max when the input was
 * too long (buf then holds only its start) -- or -1 when stdin could not
 * be read. */
static long read_value(unsigned char *buf, size_t max)
{
	struct termios saved, quiet;
	int tty = isatty(STDIN_FILENO), restore = 0;
	size_t n = 0, total = 0;

	if (tty) {
		fputs("value (not echoed), then Enter: ", stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &saved) == 0) {
			quiet = saved;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
		}
	}
	for (;;) {
		int ch = getchar();

		if (ch == EOF || (tty && ch == '\n'))
			break;
		total++;
		if (n <= max)
			buf[n++] = (unsigned char)ch;
	}
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	if (ferror(stdin))
		return -1;
	if (total > max + 1)
		return (long)total;   /* too long, whatever it ends with */
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	return (long)n;
}

static int cred_set(struct ctl *c, int argc, char **argv)
{
	char err[512], detail[64], subject[AX_CRED_NAME_MAX + 16];
	struct ax_keyring kr;
	unsigned char *value;
	unsigned int kid = 0;
	struct ax_pg *pg;
	struct opts o;
	long n;
	int rc;

	rc = parse_opts(argc, argv, SET_USAGE, "tn", 1, 1, &o);
	if (rc != 0)
		return rc;
	if (keyring(c, &kr) != 0)
		return CTL_FAIL;
	value = sodium_malloc(AX_CRED_VALUE_MAX + 2);
	if (value == NULL) {
		ax_keyring_wipe(&kr);
		return ctl_fail("cannot allocate guarded memory for the value");
	}
	n = read_value(value, AX_CRED_VALUE_MAX);
	if (n <= 0 || n > AX_CRED_VALUE_MAX || memchr(value, '\0', (size_t)n) != NULL) {
		sodium_free(value);
		ax_keyring_wipe(&kr);
		if (n < 0)
			return ctl_fail("cannot read the value from stdin");
		return ctl_fail("the value (on stdin) must be 1 to %d bytes of text",
				AX_CRED_VALUE_MAX);
	}
	pg = ctl_pg_open(c->cfg.admin_database_url, "admin");
	if (pg == NULL || begin_tenant(pg, o.tenant, "credentials set") != 0) {
		sodium_free(value);
		ax_keyring_wipe(&kr);
		ax_pg_free(pg);
		return CTL_FAIL;
	}
	rc = ax_cred_put(pg, &kr, o.tenant, o.name, value, (size_t)n, &kid, err, sizeof(err)) ==
		     AX_OK ? 0 : -1;
	sodium_free(value);   /* wipes */
	ax_keyring_wipe(&kr);
	snprintf(subject, sizeof(subject), "credential/%s", o.name);
	snprintf(detail, sizeof(detail), "{\"key_id\": %u}", kid);
	if (rc != 0 || audit(pg, "credential.set", subject, detail, err, sizeof(err)) != 0 ||
	    ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		return ctl_fail("credentials set: %s", err);
	}
	ax_pg_free(pg);
	printf("set credential '%s' of tenant '%s' (%ld bytes, key id %u)\n", o.name, o.tenant, n,
	       kid);
	return CTL_OK;
}

/* ------------------------------------------------------- list, delete */

static int cred_list(struct ctl *c, int argc, char **argv)
{
	struct ax_cred_info *v;
	struct ax_pg *pg;
	struct opts o;
	char err[512];
	size_t n, i;
	int rc;

	rc = parse_opts(argc, argv, LIST_USAGE, "t", 1, 0, &o);
	if (rc != 0)
		return rc;
	pg = ctl_pg_open(c->cfg.admin_database_url, "admin");
	if (pg == NULL || begin_tenant(pg, o.tenant, "credentials list") != 0) {
		ax_pg_free(pg);
		return CTL_FAIL;
	}
	if (ax_cred_list(pg, o.tenant, &v, &n, err, sizeof(err)) != AX_OK) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		return ctl_fail("credentials list: %s", err);
	}
	ax_pg_rollback(pg);    /* read-only */
	ax_pg_free(pg);
	printf("%-32s %6s  %-20s  %s\n", "NAME", "KEY_ID", "CREATED_AT", "UPDATED_AT");
	for (i = 0; i < n; i++)
		printf("%-32s %6u  %-20s  %s\n", v[i].name, v[i].key_id, v[i].created_at,
		       v[i].updated_at);
	free(v);
	return CTL_OK;
}

static int cred_delete(struct ctl *c, int argc, char **argv)
{
	char err[512], subject[AX_CRED_NAME_MAX + 16];
	struct ax_pg *pg;
	struct opts o;
	int rc;

	rc = parse_opts(argc, argv, DELETE_USAGE, "tn", 1, 1, &o);
	if (rc != 0)
		return rc;
	pg = ctl_pg_open(c->cfg.admin_database_url, "admin");
	if (pg == NULL || begin_tenant(pg, o.tenant, "credentials delete") != 0) {
		ax_pg_free(pg);
		return CTL_FAIL;
	}
	snprintf(subject, sizeof(subject), "credential/%s", o.name);
	if (ax_cred_delete(pg, o.tenant, o.name, err, sizeof(err)) != AX_OK ||
	    audit(pg, "credential.delete", subject, "{}", err, sizeof(err)) != 0 ||
	    ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		return ctl_fail("credentials delete: %s", err);
	}
	ax_pg_free(pg);
	printf("deleted credential '%s' of tenant '%s'\n", o.name, o.tenant);
	return CTL_OK;
}

/* -------------------------------------------------------------- rotate */

/* Re-seal every source secret of tenant (in the open transaction) under
 * the current master key; *count gets how many.  -1 with err. */
static int reseal_source_secrets(struct ax_pg *pg, const struct ax_keyring *kr,
				 const char *tenant, long *count, char *err, size_t errlen)
{
	unsigned char box[AX_BOX_MAX_PLAIN + AX_BOX_OVERHEAD];
	unsigned char plain[AX_BOX_MAX_PLAIN + 1];
	const unsigned char *cur = ax_keyring_master(kr, kr->current);
	const char *params[4] = { tenant };
	PGresult *res;
	int i, rc = 0;

	*count = 0;
	res = ax_pg_exec(pg, err, errlen,
			 "SELECT id, source, encode(secret_nonce || secret_ciphertext, 'hex')"
			 " FROM source_secrets WHERE tenant_id = $1 ORDER BY id FOR UPDATE",
			 1, params);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res) && rc == 0; i++) {
		const char *hex = PQgetvalue(res, i, 2);
		char *nonce_hex, *ct_hex;
		size_t boxlen = 0, len = 0, k;
		int opened = 0;
		PGresult *up;

		if (sodium_hex2bin(box, sizeof(box), hex, strlen(hex), NULL, &boxlen, NULL) != 0) {
			ax_errfmt(err, errlen, "source secret %s of source '%s' is not a sealed "
				  "box", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
			rc = -1;
			break;
		}
		/* The box has no key id: try the current key first, then the
		 * older ones. */
		if (ax_crypto_open(cur, tenant, box, boxlen, plain, &len) == AX_OK)
			opened = 1;
		for (k = 0; k < kr->n && !opened; k++) {
			const unsigned char *m = kr->keys[k].key;

			opened = kr->keys[k].id != kr->current &&
				 ax_crypto_open(m, tenant, box, boxlen, plain, &len) == AX_OK;
		}
		if (!opened || ax_crypto_seal(cur, tenant, plain, len, box, &boxlen) != AX_OK) {
			sodium_memzero(plain, sizeof(plain));
			ax_errfmt(err, errlen, "source secret %s of source '%s' does not open "
				  "under any key of ALEXUS_MASTER_KEY and ALEXUS_MASTER_KEYS",
				  PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
			rc = -1;
			break;
		}
		sodium_memzero(plain, sizeof(plain));
		nonce_hex = ax_xmalloc(2 * AX_BOX_NONCE_BYTES + 3);
		ct_hex = ax_xmalloc(2 * (boxlen - AX_BOX_NONCE_BYTES) + 3);
		memcpy(nonce_hex, "\\x", 2);
		memcpy(ct_hex, "\\x", 2);
		sodium_bin2hex(nonce_hex + 2, 2 * AX_BOX_NONCE_BYTES + 1, box, AX_BOX_NONCE_BYTES);
		sodium_bin2hex(ct_hex + 2, 2 * (boxlen - AX_BOX_NONCE_BYTES) + 1,
			       box + AX_BOX_NONCE_BYTES, boxlen - AX_BOX_NONCE_BYTES);
		params[1] = PQgetvalue(res, i, 0);
		params[2] = nonce_hex;
		params[3] = ct_hex;
		up = ax_pg_exec(pg, err, errlen,
				"UPDATE source_secrets SET secret_nonce = $3::bytea,"
				" secret_ciphertext = $4::bytea"
				" WHERE tenant_id = $1 AND id = $2::bigint",
				4, params);
		free(nonce_hex);
		free(ct_hex);
		if (up == NULL) {
			rc = -1;
			break;
		}
		PQclear(up);
		(*count)++;
	}
	PQclear(res);
	return rc;
}

/* Rotate one tenant in one transaction and rebuild its Redis mirror when
 * it has source secrets.  0, or -1 after printing why. */
static int rotate_tenant(struct ctl *c, struct ax_pg *pg, const struct ax_keyring *kr,
			 const char *tenant, long *creds, long *secrets)
{
	char err[512], detail[160];
	long rows = 0, moved = 0, sealed = 0;

	if (begin_tenant(pg, tenant, "credentials rotate") != 0)
		return -1;
	if (ax_cred_rotate(pg, kr, tenant, &rows, &moved, err, sizeof(err)) != AX_OK ||
	    reseal_source_secrets(pg, kr, tenant, &sealed, err, sizeof(err)) != 0)
		goto fail;
	snprintf(detail, sizeof(detail),
		 "{\"key_id\": %u, \"credentials\": %ld, \"from_older_keys\": %ld, "
		 "\"source_secrets\": %ld}", kr->current, rows, moved, sealed);
	if ((rows > 0 || sealed > 0) &&
	    audit(pg, "credentials.rotate", "credentials", detail, err, sizeof(err)) != 0)
		goto fail;
	if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK)
		goto fail;
	printf("tenant %s: re-encrypted %ld credential(s) under key id %u (%ld from older keys), "
	       "re-sealed %ld source secret(s)\n", tenant, rows, kr->current, moved, sealed);
	fflush(stdout);
	*creds += rows;
	*secrets += sealed;
	if (sealed > 0) {
		/* ingest reads the Redis mirror; it must hold the new boxes. */
		char a0[] = "auth", a1[] = "sync", a2[] = "--tenant", *a3 = ax_xstrdup(tenant);
		char *av[] = { a0, a1, a2, a3, NULL };
		int rc = ctl_auth(c, 4, av);

		free(a3);
		if (rc != CTL_OK) {
			ctl_fail("tenant %s: the source secrets are re-sealed in postgres but the "
				 "redis mirror is stale: run `alexusctl auth sync --tenant %s`",
				 tenant, tenant);
			return -1;
		}
	}
	return 0;
fail:
	ax_pg_rollback(pg);
	ctl_fail("tenant %s: nothing rotated: %s", tenant, err);
	return -1;
}

static int cred_rotate(struct ctl *c, int argc, char **argv)
{
	long creds = 0, secrets = 0, ok = 0, failed = 0;
	PGresult *tenants = NULL;
	struct ax_keyring kr;
	struct ax_pg *pg;
	struct opts o;
	int rc, i, n;

	rc = parse_opts(argc, argv, ROTATE_USAGE, "t", 0, 0, &o);
	if (rc != 0)
		return rc;
	if (keyring(c, &kr) != 0)
		return CTL_FAIL;
	pg = ctl_pg_open(c->cfg.admin_database_url, "admin");
	if (pg == NULL) {
		ax_keyring_wipe(&kr);
		return CTL_FAIL;
	}
	if (o.tenant == NULL) {
		tenants = ctl_all_tenants(pg, "credentials rotate");
		if (tenants == NULL) {
			ax_keyring_wipe(&kr);
			ax_pg_free(pg);
			return CTL_FAIL;
		}
	}
	n = tenants != NULL ? PQntuples(tenants) : 1;
	for (i = 0; i < n; i++) {
		const char *t = tenants != NULL ? PQgetvalue(tenants, i, 0) : o.tenant;

		if (rotate_tenant(c, pg, &kr, t, &creds, &secrets) == 0)
			ok++;
		else
			failed++;
	}
	PQclear(tenants);
	printf("rotated %ld tenant(s): %ld credential(s), %ld source secret(s) now under key id "
	       "%u\n", ok, creds, secrets, kr.current);
	ax_keyring_wipe(&kr);
	ax_pg_free(pg);
	if (failed > 0)
		return ctl_fail("%ld tenant(s) not rotated (see above); they still open with their "
				"old keys: keep those in ALEXUS_MASTER_KEYS", failed);
	return CTL_OK;
}

int ctl_credentials(struct ctl *c, int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage(CRED_USAGE, "missing subcommand");
	if (strcmp(argv[1], "set") == 0)
		return cred_set(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return cred_list(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "delete") == 0)
		return cred_delete(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "rotate") == 0)
		return cred_rotate(c, argc - 1, argv + 1);
	return ctl_usage(CRED_USAGE, "unknown subcommand '%s'", argv[1]);
}
