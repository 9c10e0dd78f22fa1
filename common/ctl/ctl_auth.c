/* ctl_auth.c - `alexusctl token issue|revoke|list`, `alexusctl source
 * secret set|clear` and `alexusctl auth sync`: the credentials of senders
 * that cannot mint a JWT.
 *
 * Design: Postgres (webhook_tokens, source_secrets; migration 0002) is the
 * source of truth and Redis a mirror that ingest reads (proto/keys.md).
 * Every command writes Postgres through the owner role in a transaction
 * scoped to the tenant -- row-level security applies to the owner too --
 * commits, and only then mirrors into Redis.  If the mirror fails the
 * command says so and exits 1; `alexusctl auth sync` rebuilds the Redis
 * side from Postgres (also the recovery after a flushed Redis).
 *
 * The order is chosen so that no failure leaves a credential working that
 * Postgres does not know about: an issued token reaches Redis only after
 * its row is committed, and if that mirror fails the row is revoked again
 * and the token never printed.  A revoke that cannot reach Redis is the
 * one dangerous case (the token works until the mirror is fixed), so its
 * message says so loudly.
 *
 * Secrets are sealed here with the tenant's key (common/crypto.h) and
 * stored as nonce + ciphertext; Postgres and Redis only ever see sealed
 * bytes, and this tool never prints a secret.  A Redis hash value is the
 * source's sealed secrets, newest first, as comma-separated base64 boxes;
 * a source keeps several only while its secret is being rotated
 * (`set --add`).  Whole-tenant rewrites of t:{tenant}:secrets (auth sync)
 * run in MULTI/EXEC, so ingest never sees the hash half-written -- a
 * moment without it would let unsigned requests through. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <sodium.h>

#include "ctl.h"
#include "alexus/crypto.h"
#include "alexus/hash.h"
#include "alexus/keys.h"
#include "alexus/mem.h"
#include "alexus/stream.h"

#define ISSUE_USAGE "token issue --tenant NAME [--name TOKEN_NAME]"
#define REVOKE_USAGE "token revoke --tenant NAME --name TOKEN_NAME"
#define LIST_USAGE "token list --tenant NAME"
#define TOKEN_USAGE "token mint|issue|revoke|list ..."
#define SECRET_SET_USAGE \
	"source secret set --tenant NAME --source SOURCE [--secret S | <stdin] [--add]"
#define SECRET_CLEAR_USAGE "source secret clear --tenant NAME --source SOURCE"
#define SOURCE_USAGE "source secret set|clear ..."
#define SYNC_USAGE "auth sync [--tenant NAME]"
#define MAX_SECRETS 8          /* per source; ingest reads as many (auth.c) */
#define SECRET_MAX 4096        /* AX_BOX_MAX_PLAIN */

static int bad_tenant(const char *name)
{
	return ctl_fail("invalid tenant id '%s': use 1 to 63 of a-z, 0-9, '_' and '-', "
			"starting with a letter or digit", name);
}

static int name_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 63)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

/* A driver name: [a-z0-9][a-z0-9-]*, as the route's {source}. */
static int source_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 64)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-')))
			return 0;
	}
	return 1;
}

/* Options shared by the subcommands: --tenant, --name, --source, --secret,
 * --add; allowed lists the short codes a subcommand takes.  Returns 0, or
 * the exit code after printing the usage or the error. */
struct opts {
	const char *tenant, *name, *source, *secret;
	int add;
};

static int parse_opts(int argc, char **argv, const char *usage, const char *allowed,
		      int need_tenant, struct opts *o)
{
	static const struct option lo[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ "source", required_argument, NULL, 's' },
		{ "secret", required_argument, NULL, 'x' },
		{ "add", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == '?' || strchr(allowed, opt) == NULL)
			return ctl_usage(usage, "bad option '%s'", argv[optind - 1]);
		switch (opt) {
		case 't': o->tenant = optarg; break;
		case 'n': o->name = optarg; break;
		case 's': o->source = optarg; break;
		case 'x': o->secret = optarg; break;
		case 'a': o->add = 1; break;
		default: break;
		}
	}
	if (optind != argc)
		return ctl_usage(usage, "unexpected argument '%s'", argv[optind]);
	if (need_tenant && o->tenant == NULL)
		return ctl_usage(usage, "--tenant is required");
	if (o->tenant != NULL && !ax_tenant_valid(o->tenant))
		return bad_tenant(o->tenant);
	return 0;
}

/* ------------------------------------------------------ connections */

static redisContext *redis_open(struct ctl *c)
{
	char err[512];
	redisContext *r = ax_redis_connect(c->cfg.redis_url, c->cfg.redis_timeout_ms, err,
					   sizeof(err));

	if (r == NULL)
		ctl_fail("%s", err);
	return r;
}

/* One command; 0 when Redis answered without an error, else -1 with why. */
static int redis_do(redisContext *r, int argc, const char **argv, const size_t *lens, char *why,
		    size_t whylen)
{
	redisReply *rep;

	if (r->err) {
		snprintf(why, whylen, "redis: %s", r->errstr);
		return -1;
	}
	rep = redisCommandArgv(r, argc, argv, lens);
	if (rep == NULL) {
		snprintf(why, whylen, "redis: %s", r->err ? r->errstr : "no reply");
		return -1;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "redis: %s", rep->str);
		freeReplyObject(rep);
		return -1;
	}
	freeReplyObject(rep);
	return 0;
}

/* Begin a transaction scoped to tenant on the owner role and check the
 * tenant exists (visible under its own scope).  NULL after printing why. */
static struct ax_pg *pg_tenant(struct ctl *c, const char *tenant, const char *what)
{
	const char *p[1] = { tenant };
	struct ax_pg *pg = ctl_pg_open(c->cfg.admin_database_url, "admin");
	PGresult *res;
	char err[512];
	int found;

	if (pg == NULL)
		return NULL;
	if (ax_pg_begin(pg, tenant, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		ctl_fail("%s: %s", what, err);
		return NULL;
	}
	res = ax_pg_exec(pg, err, sizeof(err), "SELECT 1 FROM tenants WHERE id = $1", 1, p);
	if (res == NULL) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		ctl_fail("%s: %s", what, err);
		return NULL;
	}
	found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		ctl_fail("no tenant '%s'", tenant);
		return NULL;
	}
	return pg;
}

/* -------------------------------------------------------------- token */

static int mirror_token(redisContext *r, const char *hex, const char *tenant, int active,
			char *why, size_t whylen)
{
	char key[AX_KEY_MAX];
	const char *set[3] = { "SET", key, tenant };
	const char *del[2] = { "DEL", key };

	if (ax_key_whtoken(key, sizeof(key), hex) < 0) {
		snprintf(why, whylen, "bad token hash in the database");
		return -1;
	}
	return active ? redis_do(r, 3, set, NULL, why, whylen) : redis_do(r, 2, del, NULL, why, whylen);
}

static int token_issue(struct ctl *c, int argc, char **argv)
{
	char token[AX_WHTOKEN_LEN + 1], hex[AX_SHA256_HEX], defname[32], err[512];
	const char *params[3];
	redisContext *r;
	struct ax_pg *pg;
	PGresult *res;
	struct opts o;
	int rc;

	rc = parse_opts(argc, argv, ISSUE_USAGE, "tn", 1, &o);
	if (rc != 0)
		return rc;
	if (o.name != NULL && !name_ok(o.name))
		return ctl_fail("invalid token name '%s': use 1 to 63 of A-Z, a-z, 0-9, '.', '_' "
				"and '-', starting with a letter or digit", o.name);
	ax_whtoken_new(token);
	ax_sha256_hex(token, strlen(token), hex);
	if (o.name == NULL) {
		snprintf(defname, sizeof(defname), "token-%.8s", hex);
		o.name = defname;
	}
	/* Redis first as a check only: no point writing a token we cannot
	 * mirror.  (The mirror itself comes after the commit.) */
	r = redis_open(c);
	if (r == NULL)
		return CTL_FAIL;
	pg = pg_tenant(c, o.tenant, "token issue");
	if (pg == NULL) {
		redisFree(r);
		return CTL_FAIL;
	}
	params[0] = o.tenant;
	params[1] = o.name;
	params[2] = hex;
	res = ax_pg_exec(pg, err, sizeof(err),
			 "INSERT INTO webhook_tokens (tenant_id, name, token_sha256) VALUES ($1, $2, $3)",
			 3, params);
	if (res == NULL) {
		int dup = strcmp(ax_pg_sqlstate(pg), "23505") == 0;

		ax_pg_rollback(pg);
		ax_pg_free(pg);
		redisFree(r);
		sodium_memzero(token, sizeof(token));
		if (dup)
			return ctl_fail("tenant '%s' already has an active token named '%s' (revoke it "
					"first, or choose another --name)", o.tenant, o.name);
		return ctl_fail("token issue: %s", err);
	}
	PQclear(res);
	if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		redisFree(r);
		sodium_memzero(token, sizeof(token));
		return ctl_fail("token issue: %s", err);
	}
	if (mirror_token(r, hex, o.tenant, 1, err, sizeof(err)) != 0) {
		/* Take it back: a token nobody was shown must not stay active. */
		const char *p2[2] = { o.tenant, hex };
		char err2[512];

		sodium_memzero(token, sizeof(token));
		redisFree(r);
		if (ax_pg_begin(pg, o.tenant, err2, sizeof(err2)) == AX_OK) {
			res = ax_pg_exec(pg, err2, sizeof(err2),
					 "UPDATE webhook_tokens SET revoked_at = now()"
					 " WHERE tenant_id = $1 AND token_sha256 = $2",
					 2, p2);
			if (res != NULL) {
				PQclear(res);
				if (ax_pg_commit(pg, err2, sizeof(err2)) == AX_OK) {
					ax_pg_free(pg);
					return ctl_fail("token issue: cannot mirror into redis (%s); the "
							"token was revoked again, nothing issued", err);
				}
			}
			ax_pg_rollback(pg);
		}
		ax_pg_free(pg);
		return ctl_fail("token issue: cannot mirror into redis (%s); token '%s' is "
				"recorded but was not shown: revoke it", err, o.name);
	}
	redisFree(r);
	ax_pg_free(pg);
	printf("issued webhook token '%s' for tenant '%s'; it is shown once, store it now:\n%s\n",
	       o.name, o.tenant, token);
	sodium_memzero(token, sizeof(token));
	return CTL_OK;
}

static int token_revoke(struct ctl *c, int argc, char **argv)
{
	const char *params[2];
	char hex[AX_SHA256_HEX], err[512];
	redisContext *r;
	struct ax_pg *pg;
	PGresult *res;
	struct opts o;
	int rc;

	rc = parse_opts(argc, argv, REVOKE_USAGE, "tn", 1, &o);
	if (rc != 0)
		return rc;
	if (o.name == NULL)
		return ctl_usage(REVOKE_USAGE, "--name is required (alexusctl token list shows them)");
	pg = pg_tenant(c, o.tenant, "token revoke");
	if (pg == NULL)
		return CTL_FAIL;
	params[0] = o.tenant;
	params[1] = o.name;
	res = ax_pg_exec(pg, err, sizeof(err),
			 "UPDATE webhook_tokens SET revoked_at = now()"
			 " WHERE tenant_id = $1 AND name = $2 AND revoked_at IS NULL"
			 " RETURNING token_sha256",
			 2, params);
	if (res == NULL) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		return ctl_fail("token revoke: %s", err);
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		return ctl_fail("tenant '%s' has no active token named '%s'", o.tenant, o.name);
	}
	snprintf(hex, sizeof(hex), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		return ctl_fail("token revoke: %s", err);
	}
	ax_pg_free(pg);
	r = redis_open(c);
	if (r == NULL || mirror_token(r, hex, o.tenant, 0, err, sizeof(err)) != 0) {
		if (r != NULL)
			redisFree(r);
		return ctl_fail("token '%s' is revoked in postgres but STILL ACCEPTED by ingest: "
				"the redis mirror failed%s%s; run `alexusctl auth sync` as soon as "
				"redis is back", o.name, r != NULL ? ": " : "", r != NULL ? err : "");
	}
	redisFree(r);
	printf("revoked webhook token '%s' of tenant '%s' (ingest caches lookups for up to "
	       "ALEXUS_TOKEN_CACHE=%d s)\n", o.name, o.tenant, c->cfg.token_cache_s);
	return CTL_OK;
}

static int token_list(struct ctl *c, int argc, char **argv)
{
	const char *params[1];
	struct ax_pg *pg;
	PGresult *res;
	struct opts o;
	char err[512];
	int rc, i;

	rc = parse_opts(argc, argv, LIST_USAGE, "t", 1, &o);
	if (rc != 0)
		return rc;
	pg = pg_tenant(c, o.tenant, "token list");
	if (pg == NULL)
		return CTL_FAIL;
	params[0] = o.tenant;
	res = ax_pg_exec(pg, err, sizeof(err),
			 "SELECT name,"
			 " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
			 " coalesce(to_char(revoked_at AT TIME ZONE 'UTC',"
			 "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'),"
			 " left(token_sha256, 12)"
			 " FROM webhook_tokens WHERE tenant_id = $1 ORDER BY created_at, name",
			 1, params);
	if (res == NULL) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		return ctl_fail("token list: %s", err);
	}
	printf("%-24s %-20s %-20s %s\n", "NAME", "CREATED_AT", "REVOKED_AT", "SHA256");
	for (i = 0; i < PQntuples(res); i++)
		printf("%-24s %-20s %-20s %s...\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		       PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	PQclear(res);
	ax_pg_rollback(pg);
	ax_pg_free(pg);
	return CTL_OK;
}

int ctl_token(struct ctl *c, int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage(TOKEN_USAGE, "missing subcommand");
	if (strcmp(argv[1], "mint") == 0)
		return ctl_token_mint(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "issue") == 0)
		return token_issue(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return token_revoke(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return token_list(c, argc - 1, argv + 1);
	return ctl_usage(TOKEN_USAGE, "unknown subcommand '%s'", argv[1]);
}

/* ------------------------------------------------------------ secrets */

/* The Redis value for one source from its rows' hex(nonce || ciphertext),
 * in row order: "b64,b64".  Returns a new string. */
static char *sealed_value(char **hexes, int n)
{
	unsigned char box[AX_BOX_MAX_PLAIN + AX_BOX_OVERHEAD];
	size_t boxlen, total = 1, i;
	char **parts = ax_xcalloc((size_t)n, sizeof(*parts));
	char *out;
	int k;

	for (k = 0; k < n; k++) {
		if (sodium_hex2bin(box, sizeof(box), hexes[k], strlen(hexes[k]), NULL, &boxlen,
				   NULL) != 0)
			boxlen = 0;
		parts[k] = ax_crypto_box_b64(box, boxlen);
		total += strlen(parts[k]) + 1;
	}
	out = ax_xcalloc(1, total);
	for (k = 0, i = 0; k < n; k++) {
		if (k > 0)
			out[i++] = ',';
		memcpy(out + i, parts[k], strlen(parts[k]));
		i += strlen(parts[k]);
		free(parts[k]);
	}
	free(parts);
	return out;
}

/* Read the source's rows (in the open transaction) and write the Redis
 * field: HSET with every sealed secret, or HDEL when there is none. */
static int mirror_source(struct ax_pg *pg, redisContext *r, const char *tenant, const char *source,
			 int *count, char *why, size_t whylen)
{
	const char *params[2] = { tenant, source };
	char key[AX_KEY_MAX], **hexes;
	PGresult *res;
	int n, i, rc;

	*count = 0;
	if (ax_key(key, sizeof(key), tenant, "secrets", NULL) < 0) {
		snprintf(why, whylen, "invalid tenant");
		return -1;
	}
	res = ax_pg_exec(pg, why, whylen,
			 "SELECT encode(secret_nonce || secret_ciphertext, 'hex') FROM source_secrets"
			 " WHERE tenant_id = $1 AND source = $2 ORDER BY created_at DESC, id DESC",
			 2, params);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	*count = n;
	if (n == 0) {
		const char *argv[3] = { "HDEL", key, source };

		PQclear(res);
		return redis_do(r, 3, argv, NULL, why, whylen);
	}
	hexes = ax_xcalloc((size_t)n, sizeof(*hexes));
	for (i = 0; i < n; i++)
		hexes[i] = PQgetvalue(res, i, 0);
	{
		char *value = sealed_value(hexes, n);
		const char *argv[4] = { "HSET", key, source, value };

		rc = redis_do(r, 4, argv, NULL, why, whylen);
		free(value);
	}
	free(hexes);
	PQclear(res);
	return rc;
}

/* The secret from --secret or stdin (one trailing newline dropped). */
static char *read_secret(const char *arg, size_t *len)
{
	char *buf;
	size_t n;

	if (arg != NULL) {
		*len = strlen(arg);
		return ax_xstrdup(arg);
	}
	buf = ax_xmalloc(SECRET_MAX + 2);
	n = fread(buf, 1, SECRET_MAX + 1, stdin);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int secret_set(struct ctl *c, int argc, char **argv)
{
	unsigned char master[AX_MASTER_KEY_BYTES], box[SECRET_MAX + AX_BOX_OVERHEAD];
	char nonce_hex[2 * AX_BOX_NONCE_BYTES + 3], *ct_hex, err[512], *secret;
	const char *params[4];
	size_t len, boxlen;
	redisContext *r;
	struct ax_pg *pg;
	PGresult *res;
	struct opts o;
	int rc, count = 0;

	rc = parse_opts(argc, argv, SECRET_SET_USAGE, "tsxa", 1, &o);
	if (rc != 0)
		return rc;
	if (o.source == NULL)
		return ctl_usage(SECRET_SET_USAGE, "--source is required");
	if (!source_ok(o.source))
		return ctl_fail("invalid source '%s': a driver name (alexus-ingest --list-sources)",
				o.source);
	if (ax_crypto_master_parse(c->cfg.master_key, master, err, sizeof(err)) != AX_OK)
		return ctl_fail("%s (`scripts/stack env` prints the local stack's)", err);
	secret = read_secret(o.secret, &len);
	if (len == 0 || len > SECRET_MAX || strlen(secret) != len) {
		sodium_memzero(secret, len);
		free(secret);
		sodium_memzero(master, sizeof(master));
		return ctl_fail("the secret must be 1 to %d bytes of text", SECRET_MAX);
	}
	rc = ax_crypto_seal(master, o.tenant, (const unsigned char *)secret, len, box, &boxlen) ==
		     AX_OK ? 0 : -1;
	sodium_memzero(secret, len);
	free(secret);
	sodium_memzero(master, sizeof(master));
	if (rc != 0)
		return ctl_fail("cannot seal the secret");
	/* bytea in hex input form: \x... */
	nonce_hex[0] = '\\';
	nonce_hex[1] = 'x';
	sodium_bin2hex(nonce_hex + 2, sizeof(nonce_hex) - 2, box, AX_BOX_NONCE_BYTES);
	ct_hex = ax_xmalloc(2 * (boxlen - AX_BOX_NONCE_BYTES) + 3);
	ct_hex[0] = '\\';
	ct_hex[1] = 'x';
	sodium_bin2hex(ct_hex + 2, 2 * (boxlen - AX_BOX_NONCE_BYTES) + 1, box + AX_BOX_NONCE_BYTES,
		       boxlen - AX_BOX_NONCE_BYTES);

	r = redis_open(c);
	if (r == NULL) {
		free(ct_hex);
		return CTL_FAIL;
	}
	pg = pg_tenant(c, o.tenant, "source secret set");
	if (pg == NULL) {
		free(ct_hex);
		redisFree(r);
		return CTL_FAIL;
	}
	params[0] = o.tenant;
	params[1] = o.source;
	params[2] = ct_hex;
	params[3] = nonce_hex;
	/* Without --add the new secret replaces the source's others. */
	res = ax_pg_exec(pg, err, sizeof(err),
			 o.add ? "SELECT count(*) FROM source_secrets WHERE tenant_id = $1 AND source = $2"
			       : "DELETE FROM source_secrets WHERE tenant_id = $1 AND source = $2",
			 2, params);
	if (res != NULL && o.add && atoi(PQgetvalue(res, 0, 0)) >= MAX_SECRETS) {
		PQclear(res);
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		redisFree(r);
		free(ct_hex);
		return ctl_fail("source '%s' of tenant '%s' already has %d secrets; set one without "
				"--add to replace them", o.source, o.tenant, MAX_SECRETS);
	}
	if (res != NULL) {
		PQclear(res);
		res = ax_pg_exec(pg, err, sizeof(err),
				 "INSERT INTO source_secrets (tenant_id, source, secret_ciphertext,"
				 " secret_nonce) VALUES ($1, $2, $3::bytea, $4::bytea)",
				 4, params);
	}
	free(ct_hex);
	if (res == NULL) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		redisFree(r);
		return ctl_fail("source secret set: %s", err);
	}
	PQclear(res);
	if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		ax_pg_free(pg);
		redisFree(r);
		return ctl_fail("source secret set: %s", err);
	}
	/* Mirror what is now committed (a fresh read, not our own guess). */
	if (ax_pg_begin(pg, o.tenant, err, sizeof(err)) != AX_OK ||
	    mirror_source(pg, r, o.tenant, o.source, &count, err, sizeof(err)) != 0) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		redisFree(r);
		return ctl_fail("the secret is stored in postgres but not mirrored into redis (%s); "
				"ingest does not check it yet: run `alexusctl auth sync`", err);
	}
	ax_pg_rollback(pg);
	ax_pg_free(pg);
	redisFree(r);
	printf("set the signing secret of source '%s' for tenant '%s' (%d active); requests from "
	       "it must now be signed\n", o.source, o.tenant, count);
	return CTL_OK;
}

static int secret_clear(struct ctl *c, int argc, char **argv)
{
	const char *params[2];
	redisContext *r;
	struct ax_pg *pg;
	PGresult *res;
	struct opts o;
	char err[512];
	int rc, count;
	long n;

	rc = parse_opts(argc, argv, SECRET_CLEAR_USAGE, "ts", 1, &o);
	if (rc != 0)
		return rc;
	if (o.source == NULL)
		return ctl_usage(SECRET_CLEAR_USAGE, "--source is required");
	if (!source_ok(o.source))
		return ctl_fail("invalid source '%s'", o.source);
	r = redis_open(c);
	if (r == NULL)
		return CTL_FAIL;
	pg = pg_tenant(c, o.tenant, "source secret clear");
	if (pg == NULL) {
		redisFree(r);
		return CTL_FAIL;
	}
	params[0] = o.tenant;
	params[1] = o.source;
	res = ax_pg_exec(pg, err, sizeof(err),
			 "DELETE FROM source_secrets WHERE tenant_id = $1 AND source = $2", 2, params);
	if (res == NULL) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		redisFree(r);
		return ctl_fail("source secret clear: %s", err);
	}
	n = atol(PQcmdTuples(res));
	PQclear(res);
	if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK ||
	    ax_pg_begin(pg, o.tenant, err, sizeof(err)) != AX_OK ||
	    mirror_source(pg, r, o.tenant, o.source, &count, err, sizeof(err)) != 0) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
		redisFree(r);
		return ctl_fail("source secret clear: %s (run `alexusctl auth sync`)", err);
	}
	ax_pg_rollback(pg);
	ax_pg_free(pg);
	redisFree(r);
	printf("cleared %ld signing secret(s) of source '%s' for tenant '%s'\n", n, o.source,
	       o.tenant);
	return CTL_OK;
}

int ctl_source(struct ctl *c, int argc, char **argv)
{
	if (argc < 3)
		return ctl_usage(SOURCE_USAGE, "missing subcommand");
	if (strcmp(argv[1], "secret") != 0)
		return ctl_usage(SOURCE_USAGE, "unknown subcommand '%s'", argv[1]);
	if (strcmp(argv[2], "set") == 0)
		return secret_set(c, argc - 2, argv + 2);
	if (strcmp(argv[2], "clear") == 0)
		return secret_clear(c, argc - 2, argv + 2);
	return ctl_usage(SOURCE_USAGE, "unknown subcommand 'secret %s'", argv[2]);
}

/* --------------------------------------------------------------- sync */

struct sync_counts {
	long active, revoked, secrets, tenants, stale;
};

/* Rewrite t:{tenant}:secrets from the rows (tenant, source, hex) at
 * [from, to) of res, in one MULTI/EXEC. */
static int sync_tenant_secrets(redisContext *r, const char *tenant, PGresult *res, int from, int to,
			       char *why, size_t whylen)
{
	char key[AX_KEY_MAX];
	const char **argv;
	char **vals, **hexes;
	int argc = 0, nv = 0, i, j, rc;
	const char *multi[1] = { "MULTI" }, *exec[1] = { "EXEC" }, *discard[1] = { "DISCARD" };
	const char *del[2] = { "DEL", key };

	if (ax_key(key, sizeof(key), tenant, "secrets", NULL) < 0) {
		snprintf(why, whylen, "invalid tenant '%s' in the database", tenant);
		return -1;
	}
	argv = ax_xcalloc((size_t)(2 + 2 * (to - from)), sizeof(*argv));
	vals = ax_xcalloc((size_t)(to - from) + 1, sizeof(*vals));
	hexes = ax_xcalloc((size_t)(to - from) + 1, sizeof(*hexes));
	argv[argc++] = "HSET";
	argv[argc++] = key;
	for (i = from; i < to; i = j) {
		int n = 0;

		for (j = i; j < to && strcmp(PQgetvalue(res, j, 1), PQgetvalue(res, i, 1)) == 0; j++)
			hexes[n++] = PQgetvalue(res, j, 2);
		vals[nv] = sealed_value(hexes, n);
		argv[argc++] = PQgetvalue(res, i, 1);
		argv[argc++] = vals[nv++];
	}
	rc = redis_do(r, 1, multi, NULL, why, whylen);
	if (rc == 0)
		rc = redis_do(r, 2, del, NULL, why, whylen);
	if (rc == 0 && argc > 2)
		rc = redis_do(r, argc, argv, NULL, why, whylen);
	if (rc == 0)
		rc = redis_do(r, 1, exec, NULL, why, whylen);
	else if (!r->err) {
		char ignored[64];

		(void)redis_do(r, 1, discard, NULL, ignored, sizeof(ignored));
	}
	for (i = 0; i < nv; i++)
		free(vals[i]);
	free(vals);
	free(hexes);
	free(argv);
	return rc;
}

/* Full sync only: drop alexus:whtoken:* keys no active row accounts for
 * (rows deleted by hand, or a revoke whose mirror failed). */
static int sync_stale_keys(redisContext *r, PGresult *tokens, long *stale, char *why,
			   size_t whylen)
{
	char cursor[32] = "0";
	size_t plen = strlen(AX_KEY_WHTOKEN_PREFIX);

	do {
		redisReply *rep = redisCommand(r, "SCAN %s MATCH %s* COUNT 500", cursor,
					       AX_KEY_WHTOKEN_PREFIX);
		size_t i;

		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
			snprintf(why, whylen, "redis: SCAN: %s", r->err ? r->errstr : "bad reply");
			if (rep != NULL)
				freeReplyObject(rep);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		for (i = 0; i < rep->element[1]->elements; i++) {
			const char *k = rep->element[1]->element[i]->str;
			int j, keep = 0;

			for (j = 0; j < PQntuples(tokens) && !keep; j++)
				keep = strcmp(PQgetvalue(tokens, j, 2), "f") == 0 &&
				       strlen(k) > plen && strcmp(k + plen, PQgetvalue(tokens, j, 1)) == 0;
			if (!keep) {
				const char *argv[2] = { "DEL", k };

				if (redis_do(r, 2, argv, NULL, why, whylen) != 0) {
					freeReplyObject(rep);
					return -1;
				}
				(*stale)++;
			}
		}
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

int ctl_auth(struct ctl *c, int argc, char **argv)
{
	const char *tenant = NULL, *params[1];
	struct sync_counts n = { 0, 0, 0, 0, 0 };
	PGresult *tokens = NULL, *secrets = NULL, *tenants = NULL;
	redisContext *r = NULL;
	struct ax_pg *pg = NULL;
	char err[512] = "";
	int i, j, rc = CTL_FAIL;
	struct opts o;

	if (argc < 2)
		return ctl_usage(SYNC_USAGE, "missing subcommand");
	if (strcmp(argv[1], "sync") != 0)
		return ctl_usage(SYNC_USAGE, "unknown subcommand '%s'", argv[1]);
	i = parse_opts(argc - 1, argv + 1, SYNC_USAGE, "t", 0, &o);
	if (i != 0)
		return i;
	tenant = o.tenant;
	r = redis_open(c);
	if (r == NULL)
		return CTL_FAIL;
	pg = tenant != NULL ? pg_tenant(c, tenant, "auth sync")
			    : ctl_pg_open(c->cfg.admin_database_url, "admin");
	if (pg == NULL)
		goto out;
	if (tenant == NULL) {
		if (ax_pg_begin(pg, NULL, err, sizeof(err)) != AX_OK)
			goto fail;
		if (!ctl_role_sees_all(pg)) {
			rc = ctl_fail("auth sync: the admin role is subject to row-level security and "
				      "sees no tenant; run `auth sync --tenant NAME` for each tenant");
			goto out;
		}
	}
	params[0] = tenant;
	tenants = ax_pg_exec(pg, err, sizeof(err),
			     "SELECT id FROM tenants WHERE $1::text IS NULL OR id = $1 ORDER BY id", 1,
			     params);
	if (tenants == NULL)
		goto fail;
	tokens = ax_pg_exec(pg, err, sizeof(err),
			    "SELECT tenant_id, token_sha256, revoked_at IS NOT NULL FROM webhook_tokens"
			    " WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY tenant_id, created_at",
			    1, params);
	if (tokens == NULL)
		goto fail;
	secrets = ax_pg_exec(pg, err, sizeof(err),
			     "SELECT tenant_id, source, encode(secret_nonce || secret_ciphertext, 'hex')"
			     " FROM source_secrets WHERE $1::text IS NULL OR tenant_id = $1"
			     " ORDER BY tenant_id, source, created_at DESC, id DESC",
			     1, params);
	if (secrets == NULL)
		goto fail;
	ax_pg_rollback(pg);

	for (i = 0; i < PQntuples(tokens); i++) {
		int active = strcmp(PQgetvalue(tokens, i, 2), "f") == 0;

		if (mirror_token(r, PQgetvalue(tokens, i, 1), PQgetvalue(tokens, i, 0), active, err,
				 sizeof(err)) != 0)
			goto fail;
		if (active)
			n.active++;
		else
			n.revoked++;
	}
	/* Every tenant's hash is rewritten, so one that lost its last secret
	 * in Postgres loses it in Redis too. */
	for (i = 0, j = 0; i < PQntuples(tenants); i++) {
		const char *t = PQgetvalue(tenants, i, 0);
		int from;

		while (j < PQntuples(secrets) && strcmp(PQgetvalue(secrets, j, 0), t) < 0)
			j++;
		from = j;
		while (j < PQntuples(secrets) && strcmp(PQgetvalue(secrets, j, 0), t) == 0)
			j++;
		if (sync_tenant_secrets(r, t, secrets, from, j, err, sizeof(err)) != 0)
			goto fail;
		n.secrets += j - from;
		n.tenants++;
	}
	if (tenant == NULL && sync_stale_keys(r, tokens, &n.stale, err, sizeof(err)) != 0)
		goto fail;
	printf("synced %ld active and %ld revoked webhook token(s), %ld signing secret(s) of %ld "
	       "tenant(s)", n.active, n.revoked, n.secrets, n.tenants);
	if (tenant == NULL)
		printf("; removed %ld stale token key(s)", n.stale);
	printf("\n");
	rc = CTL_OK;
	goto out;
fail:
	rc = ctl_fail("auth sync: %s", err);
out:
	PQclear(tokens);
	PQclear(secrets);
	PQclear(tenants);
	if (pg != NULL) {
		ax_pg_rollback(pg);
		ax_pg_free(pg);
	}
	if (r != NULL)
		redisFree(r);
	return rc;
}
