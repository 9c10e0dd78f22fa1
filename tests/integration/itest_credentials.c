/* itest_credentials.c - encrypted tenant credentials on the real test stack.
 *
 * The real alexusctl (ALEXUS_BIN_DIR) and libalexus's cred API against the
 * stack's Postgres and Redis:
 *   - `credentials set` takes the value on stdin (one trailing newline
 *     dropped), `list` shows names and key ids and never the value, and
 *     ax_cred_get through the application role returns exactly what was
 *     set; bad names, empty or oversized values and unknown tenants are
 *     refused; the application role cannot DELETE;
 *   - a stored value is bound to its row: another tenant's scope does not
 *     see it, and its ciphertext copied by the owner into another name, another
 *     tenant or relabelled with another key id does not open;
 *   - rotation with two master keys: values set under key id 1, `rotate
 *     --tenant` with ALEXUS_MASTER_KEY=<new> ALEXUS_MASTER_KEY_ID=2
 *     ALEXUS_MASTER_KEYS=1:<old> prints the counts, list shows key id 2, and
 *     cred_get opens them with key 2 alone (not with key 1 alone); the
 *     tenant's source signing secret is re-sealed under key 2 in Postgres and
 *     in the Redis mirror ingest reads; a rotate that lacks an old key fails
 *     and leaves the tenant untouched; `rotate` without --tenant brings
 *     every tenant back under key id 1;
 *   - no leak: a recognisable credential and source secret go through set,
 *     list, rotate, auth sync, audit verify, config, and a full system run
 *     (three daemons, a webhook through the pipeline); then every command's
 *     output, every daemon log, the stack's Postgres and Redis logs, every
 *     row of every table (read by the owner, each row cast to text) and
 *     every Redis value are searched for the plaintext (as text, hex and
 *     base64) and for the master keys: none may appear.  That the search
 *     reads what it should is checked too (the credential's name is found
 *     in the rows). */
#define _GNU_SOURCE   /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <sodium.h>

#include "alexus/cred.h"
#include "alexus/crypto.h"
#include "alexus/keys.h"
#include "alexus/pg.h"
#include "harness.h"
#include "system.h"

#define FIX_FIRING "tests/fixtures/webhooks/alertmanager.json"

static char k1[65], k2[65];        /* the stack's master key, and a new one */
static char env_k2[100], env_keys_k1[120], env_keys_k2[120];

/* Everything every alexusctl run printed, for the leak search. */
static char *transcript;
static size_t transcript_len;

static void transcript_add(const char *s)
{
	size_t n = strlen(s);

	transcript = realloc(transcript, transcript_len + n + 2);
	memcpy(transcript + transcript_len, s, n);
	transcript_len += n;
	transcript[transcript_len++] = '\n';
	transcript[transcript_len] = '\0';
}

/* Collect the NULL-terminated args after argv[0] = "alexusctl". */
#define COLLECT(argv, last)                                                  \
	do {                                                                 \
		va_list ap_;                                                 \
		int n_ = 0;                                                  \
		argv[n_++] = "alexusctl";                                    \
		va_start(ap_, last);                                         \
		while (n_ < 15 && (argv[n_] = va_arg(ap_, const char *)) != NULL) \
			n_++;                                                \
		va_end(ap_);                                                 \
		argv[n_] = NULL;                                             \
	} while (0)

/* Run alexusctl argv with input on stdin (NULL: nothing), extra
 * environment (NULL-terminated "NAME=value", or NULL).  Returns the exit
 * status; *out (may be NULL) gets stdout and stderr. */
static int run_ctl(const char *input, const char *const *env, char **out, const char **argv)
{
	char path[512], log[256];
	int in[2], status = 0;
	long long waited = 0;
	pid_t pid;
	char *text;

	snprintf(path, sizeof(path), "%s/alexusctl", h_env("ALEXUS_BIN_DIR"));
	mkdir(".run", 0755);
	mkdir(".run/test-logs", 0755);
	snprintf(log, sizeof(log), ".run/test-logs/itest_credentials-ctl-%d.log", (int)getpid());
	assert_int_equal(pipe(in), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		for (; env != NULL && *env != NULL; env++)
			putenv((char *)*env);
		dup2(in[0], 0);
		close(in[0]);
		close(in[1]);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	if (input != NULL) {
		size_t len = strlen(input), off = 0;

		signal(SIGPIPE, SIG_IGN);
		while (off < len) {
			ssize_t w = write(in[1], input + off, len - off);

			if (w <= 0)
				break;   /* alexusctl stopped reading: it refused */
			off += (size_t)w;
		}
	}
	close(in[1]);
	for (;;) {
		struct timespec ts = { 0, 10 * 1000000L };

		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (waited >= WAIT_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("alexusctl %s did not finish", argv[1]);
		}
		nanosleep(&ts, NULL);
		waited += 10;
	}
	text = h_read_file(log, NULL);
	unlink(log);
	transcript_add(text);
	if (strstr(text, "ERROR: AddressSanitizer") != NULL ||
	    strstr(text, "ERROR: LeakSanitizer") != NULL || strstr(text, "runtime error:") != NULL)
		fail_msg("alexusctl reported a sanitizer error:\n%s", text);
	if (out != NULL)
		*out = text;
	else
		free(text);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* alexusctl ARGS... NULL; the exit status, the output into *out. */
static int ctl(const char *input, const char *const *env, char **out, ...)
{
	const char *argv[16];

	COLLECT(argv, out);
	return run_ctl(input, env, out, argv);
}

/* alexusctl ARGS... NULL, which must exit 0; returns its output (free()). */
static char *ctl_ok(const char *input, const char *const *env, ...)
{
	const char *argv[16];
	char *out;
	int st;

	COLLECT(argv, env);
	st = run_ctl(input, env, &out, argv);
	if (st != 0)
		fail_msg("alexusctl %s %s exited %d:\n%s", argv[1], argv[2] ? argv[2] : "", st,
			 out);
	return out;
}

static void random_hex(char out[65])
{
	unsigned char b[32];

	randombytes_buf(b, sizeof(b));
	sodium_bin2hex(out, 65, b, sizeof(b));
}

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(k1, sizeof(k1), "%s", h_env("ALEXUS_MASTER_KEY"));
	random_hex(k2);
	snprintf(env_k2, sizeof(env_k2), "ALEXUS_MASTER_KEY=%s", k2);
	snprintf(env_keys_k1, sizeof(env_keys_k1), "ALEXUS_MASTER_KEYS=1:%s", k1);
	snprintf(env_keys_k2, sizeof(env_keys_k2), "ALEXUS_MASTER_KEYS=2:%s", k2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(transcript);
	transcript = NULL;
	return 0;
}

/* A keyring of one key under id, or of current+older. */
static struct ax_keyring ring(const char *cur, const char *id, const char *older)
{
	struct ax_keyring kr;
	char err[256];

	if (ax_keyring_init(&kr, cur, id, older, err, sizeof(err)) != AX_OK)
		fail_msg("keyring: %s", err);
	return kr;
}

/* ax_cred_get through the application role in tenant's scope; the value
 * into out (NUL-terminated), the status returned. */
static ax_err get_as_app(const struct ax_keyring *kr, const char *scope, const char *tenant,
			 const char *name, char *out, size_t outlen)
{
	struct ax_pg *pg = ax_pg_new(h_env("ALEXUS_DATABASE_URL"));
	char err[512];
	size_t len = 0;
	ax_err rc;

	if (ax_pg_begin(pg, scope, err, sizeof(err)) != AX_OK)
		fail_msg("begin: %s", err);
	rc = ax_cred_get(pg, kr, tenant, name, (unsigned char *)out, outlen, &len, err,
			 sizeof(err));
	ax_pg_rollback(pg);
	ax_pg_free(pg);
	if (rc == AX_OK)
		assert_int_equal(len, strlen(out));
	else
		assert_string_equal(out, "");   /* wiped */
	return rc;
}

static long row_key_id(const char *tenant, const char *name)
{
	PGconn *c = h_pg_admin();
	const char *p[2] = { tenant, name };
	long v = h_pg_long(c, tenant,
			   "SELECT key_id FROM tenant_credentials"
			   " WHERE tenant_id = $1 AND name = $2", 2, p);

	PQfinish(c);
	return v;
}

/* ------------------------------------------------------- set, list, get */

static void test_set_list_get(void **state)
{
	static const char v_slack[] = "xoxb-0001-slack-first";
	static const char v_slack2[] = "xoxb-0002-slack-second";
	static const char v_jira[] = "jira-api-token-3f9a";
	struct ax_keyring kr = ring(k1, NULL, NULL);
	char ta[64], tb[64], out[256], big[AX_CRED_VALUE_MAX + 2], *o;
	PGconn *app, *adm;
	PGresult *r;
	const char *p[2];

	(void)state;
	h_tenant_new("cred", NULL, ta);
	h_tenant_new("credb", NULL, tb);

	free(ctl_ok("xoxb-0001-slack-first\n", NULL, "credentials", "set", "--tenant", ta,
		    "--name", "slack", NULL));
	o = ctl_ok(v_jira, NULL, "credentials", "set", "--tenant", ta, "--name", "jira", NULL);
	assert_non_null(strstr(o, "key id 1"));
	assert_null(strstr(o, v_jira));
	free(o);
	assert_int_equal(get_as_app(&kr, ta, ta, "slack", out, sizeof(out)), AX_OK);
	assert_string_equal(out, v_slack);
	/* Setting again replaces the value; created_at stays. */
	free(ctl_ok(v_slack2, NULL, "credentials", "set", "--tenant", ta, "--name", "slack", NULL));
	assert_int_equal(get_as_app(&kr, ta, ta, "slack", out, sizeof(out)), AX_OK);
	assert_string_equal(out, v_slack2);
	assert_int_equal(get_as_app(&kr, ta, ta, "jira", out, sizeof(out)), AX_OK);
	assert_string_equal(out, v_jira);
	assert_int_equal(get_as_app(&kr, ta, ta, "pagerduty", out, sizeof(out)), AX_ENOTFOUND);
	/* A buffer too small for the value plus its NUL. */
	assert_int_equal(get_as_app(&kr, ta, ta, "jira", out, strlen(v_jira)), AX_ETOOBIG);

	o = ctl_ok(NULL, NULL, "credentials", "list", "--tenant", ta, NULL);
	assert_non_null(strstr(o, "slack"));
	assert_non_null(strstr(o, "jira"));
	assert_non_null(strstr(o, "KEY_ID"));
	assert_null(strstr(o, v_slack2));
	assert_null(strstr(o, v_jira));
	free(o);
	o = ctl_ok(NULL, NULL, "credentials", "list", "--tenant", tb, NULL);
	assert_null(strstr(o, "slack"));
	free(o);

	/* Refusals: names, sizes, tenants, argv values. */
	assert_int_equal(ctl("x", NULL, NULL, "credentials", "set", "--tenant", ta, "--name",
			     "-bad", NULL), 1);
	assert_int_equal(ctl("", NULL, NULL, "credentials", "set", "--tenant", ta, "--name", "e",
			     NULL), 1);
	assert_int_equal(ctl("\n", NULL, NULL, "credentials", "set", "--tenant", ta, "--name", "e",
			     NULL), 1);
	memset(big, 'a', AX_CRED_VALUE_MAX + 1);
	big[AX_CRED_VALUE_MAX + 1] = '\0';
	assert_int_equal(ctl(big, NULL, NULL, "credentials", "set", "--tenant", ta, "--name", "big",
			     NULL), 1);
	big[AX_CRED_VALUE_MAX] = '\n';    /* exactly the maximum, then a newline */
	free(ctl_ok(big, NULL, "credentials", "set", "--tenant", ta, "--name", "big", NULL));
	assert_int_equal(get_as_app(&kr, ta, ta, "big", big, sizeof(big)), AX_OK);
	assert_int_equal(strlen(big), AX_CRED_VALUE_MAX);
	assert_int_equal(ctl("x", NULL, NULL, "credentials", "set", "--tenant", "no-such-tenant-x",
			     "--name", "slack", NULL), 1);
	assert_int_equal(ctl("x", NULL, NULL, "credentials", "set", "--tenant", ta, "--name",
			     "slack", "the-value", NULL), 2);
	assert_int_equal(ctl(NULL, NULL, NULL, "credentials", "delete", "--tenant", ta, "--name",
			     "nothing", NULL), 1);
	free(ctl_ok(NULL, NULL, "credentials", "delete", "--tenant", ta, "--name", "big", NULL));
	assert_int_equal(get_as_app(&kr, ta, ta, "big", out, sizeof(out)), AX_ENOTFOUND);
	/* Every change is audited, with the name and key id only. */
	p[0] = ta;
	adm = h_pg_admin();
	assert_int_equal(h_pg_long(adm, ta, "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
				   " AND action = 'credential.set' AND subject = 'credential/slack'"
				   " AND detail = '{\"key_id\": 1}'", 1, p),
			 2);
	assert_int_equal(h_pg_long(adm, ta, "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
				   " AND action = 'credential.delete'", 1, p),
			 1);

	/* Another tenant's scope sees nothing, through the cred API or SQL. */
	assert_int_equal(get_as_app(&kr, tb, ta, "slack", out, sizeof(out)), AX_ENOTFOUND);
	app = h_pg_app();
	assert_int_equal(h_pg_long(app, tb, "SELECT count(*) FROM tenant_credentials", 0, NULL), 0);
	assert_int_equal(h_pg_long(app, ta, "SELECT count(*) FROM tenant_credentials", 0, NULL), 2);
	/* The application role may not delete. */
	PQclear(PQexec(app, "BEGIN"));
	PQclear(PQexecParams(app, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL, p, NULL,
			     NULL, 0));
	r = PQexec(app, "DELETE FROM tenant_credentials");
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
	PQclear(r);
	PQclear(PQexec(app, "ROLLBACK"));
	PQfinish(app);

	/* Copied ciphertexts do not open: into another name, into another
	 * tenant, relabelled to another key id. */
	p[1] = tb;
	PQclear(h_pg_q(adm, ta,
		       "UPDATE tenant_credentials t SET nonce = s.nonce, ciphertext = s.ciphertext"
		       " FROM tenant_credentials s WHERE t.tenant_id = $1 AND t.name = 'jira'"
		       " AND s.tenant_id = $1 AND s.name = 'slack'",
		       1, p));
	assert_int_equal(get_as_app(&kr, ta, ta, "jira", out, sizeof(out)), AX_EAUTH);
	PQclear(h_pg_q(adm, NULL,
		       "INSERT INTO tenant_credentials (tenant_id, name, key_id, nonce, ciphertext)"
		       " SELECT $2, name, key_id, nonce, ciphertext FROM tenant_credentials"
		       " WHERE tenant_id = $1 AND name = 'slack'",
		       2, p));
	assert_int_equal(get_as_app(&kr, tb, tb, "slack", out, sizeof(out)), AX_EAUTH);
	PQclear(h_pg_q(adm, ta, "UPDATE tenant_credentials SET key_id = 2 WHERE tenant_id = $1"
				" AND name = 'slack'", 1, p));
	{
		/* Even with the same master under id 2 in the keyring. */
		char older[80];
		struct ax_keyring both;

		snprintf(older, sizeof(older), "2:%s", k1);
		both = ring(k2, "3", older);
		assert_int_equal(get_as_app(&both, ta, ta, "slack", out, sizeof(out)), AX_EAUTH);
		/* Without id 2, the answer is the same refusal. */
		assert_int_equal(get_as_app(&kr, ta, ta, "slack", out, sizeof(out)), AX_EAUTH);
		ax_keyring_wipe(&both);
	}
	/* Leave no rows that no key opens: `rotate` without --tenant (next
	 * test) would rightly refuse these tenants. */
	PQclear(h_pg_q(adm, NULL, "DELETE FROM tenant_credentials WHERE tenant_id IN ($1, $2)", 2,
		       p));
	PQfinish(adm);
	ax_keyring_wipe(&kr);
}

/* ------------------------------------------------------------- rotation */

/* The tenant's source secret rows, each opened with master; the count of
 * those that open to want. */
static long source_secrets_opening(const char *tenant, const char *master_hex, const char *want)
{
	unsigned char m[AX_MASTER_KEY_BYTES], box[512], plain[512];
	PGconn *c = h_pg_admin();
	const char *p[1] = { tenant };
	PGresult *r;
	char err[128];
	long ok = 0;
	int i;

	assert_int_equal(ax_crypto_master_parse(master_hex, m, err, sizeof(err)), AX_OK);
	r = h_pg_q(c, tenant,
		   "SELECT encode(secret_nonce || secret_ciphertext, 'hex') FROM source_secrets"
		   " WHERE tenant_id = $1", 1, p);
	for (i = 0; i < PQntuples(r); i++) {
		size_t boxlen, len;
		const char *hex = PQgetvalue(r, i, 0);

		assert_int_equal(sodium_hex2bin(box, sizeof(box), hex, strlen(hex), NULL, &boxlen,
						NULL), 0);
		if (ax_crypto_open(m, tenant, box, boxlen, plain, &len) == AX_OK &&
		    strcmp((char *)plain, want) == 0)
			ok++;
	}
	PQclear(r);
	PQfinish(c);
	return ok;
}

/* The Redis mirror of tenant's source's secrets opens with master. */
static int mirror_opens(const char *tenant, const char *source, const char *master_hex,
			const char *want)
{
	unsigned char m[AX_MASTER_KEY_BYTES], box[512], plain[512];
	redisContext *rc = h_redis();
	char key[AX_KEY_MAX], err[128];
	redisReply *rep;
	size_t boxlen, len;
	int ok;

	assert_int_equal(ax_crypto_master_parse(master_hex, m, err, sizeof(err)), AX_OK);
	assert_true(ax_key(key, sizeof(key), tenant, "secrets", NULL) > 0);
	rep = redisCommand(rc, "HGET %s %s", key, source);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_STRING);
	assert_null(strchr(rep->str, ','));   /* one secret */
	ok = ax_crypto_box_unb64(rep->str, rep->len, box, sizeof(box), &boxlen) == AX_OK &&
	     ax_crypto_open(m, tenant, box, boxlen, plain, &len) == AX_OK &&
	     strcmp((char *)plain, want) == 0;
	freeReplyObject(rep);
	redisFree(rc);
	return ok;
}

static void test_rotate(void **state)
{
	static const char v_llm[] = "sk-llm-rotation-value-77";
	static const char v_chat[] = "chat-token-rotation-88";
	static const char secret[] = "whsec_rotation_source_secret";
	const char *env_new[] = { env_k2, "ALEXUS_MASTER_KEY_ID=2", env_keys_k1, NULL };
	const char *env_new_only[] = { env_k2, "ALEXUS_MASTER_KEY_ID=2", NULL };
	const char *env_back[] = { env_keys_k2, NULL };     /* k1 current (id 1), k2 listed */
	struct ax_keyring only1 = ring(k1, "1", NULL), only2 = ring(k2, "2", NULL);
	char tc[64], td[64], out[256], line[256], *o, *l;
	int st;

	(void)state;
	h_tenant_new("rot", NULL, tc);
	h_tenant_new("rotd", NULL, td);
	free(ctl_ok(v_llm, NULL, "credentials", "set", "--tenant", tc, "--name", "llm", NULL));
	free(ctl_ok(v_chat, NULL, "credentials", "set", "--tenant", tc, "--name", "chat", NULL));
	free(ctl_ok(secret, NULL, "source", "secret", "set", "--tenant", tc, "--source", "github",
		    NULL));
	free(ctl_ok(v_llm, NULL, "credentials", "set", "--tenant", td, "--name", "llm", NULL));
	assert_int_equal(row_key_id(tc, "llm"), 1);
	assert_int_equal(source_secrets_opening(tc, k1, secret), 1);
	assert_true(mirror_opens(tc, "github", k1, secret));

	/* The new key is current (id 2), the old one listed. */
	o = ctl_ok(NULL, env_new, "credentials", "rotate", "--tenant", tc, NULL);
	printf("%s", o);   /* for the reader of the log */
	snprintf(line, sizeof(line), "tenant %s: re-encrypted 2 credential(s) under key id 2 (2 "
		 "from older keys), re-sealed 1 source secret(s)", tc);
	assert_non_null(strstr(o, line));
	assert_non_null(strstr(o, "rotated 1 tenant(s): 2 credential(s), 1 source secret(s) now "
			       "under key id 2"));
	free(o);
	o = ctl_ok(NULL, NULL, "credentials", "list", "--tenant", tc, NULL);
	for (l = strtok(o, "\n"); l != NULL; l = strtok(NULL, "\n"))
		if (strncmp(l, "llm ", 4) == 0 || strncmp(l, "chat ", 5) == 0)
			assert_int_equal(atoi(l + 33), 2);
	free(o);
	assert_int_equal(row_key_id(tc, "llm"), 2);
	assert_int_equal(row_key_id(tc, "chat"), 2);
	/* Readable with the new key alone; no longer with the old alone. */
	assert_int_equal(get_as_app(&only2, tc, tc, "llm", out, sizeof(out)), AX_OK);
	assert_string_equal(out, v_llm);
	assert_int_equal(get_as_app(&only2, tc, tc, "chat", out, sizeof(out)), AX_OK);
	assert_string_equal(out, v_chat);
	assert_int_equal(get_as_app(&only1, tc, tc, "llm", out, sizeof(out)), AX_EAUTH);
	/* The source secret moved to the new master, in Postgres and in the
	 * mirror ingest reads. */
	assert_int_equal(source_secrets_opening(tc, k2, secret), 1);
	assert_int_equal(source_secrets_opening(tc, k1, secret), 0);
	assert_true(mirror_opens(tc, "github", k2, secret));
	/* Tenant D was not touched. */
	assert_int_equal(row_key_id(td, "llm"), 1);

	/* Without the old key, D cannot be rotated, and stays as it was. */
	st = ctl(NULL, env_new_only, &o, "credentials", "rotate", "--tenant", td, NULL);
	assert_int_equal(st, 1);
	assert_non_null(strstr(o, "key id 1"));
	assert_non_null(strstr(o, "nothing rotated"));
	free(o);
	assert_int_equal(row_key_id(td, "llm"), 1);
	assert_int_equal(get_as_app(&only1, td, td, "llm", out, sizeof(out)), AX_OK);

	/* Every tenant back under key id 1 (the stack's key, k2 listed). Other
	 * tests' tenants are in this database too; a tenant of theirs that
	 * holds rows no key opens may fail, ours may not. */
	st = ctl(NULL, env_back, &o, "credentials", "rotate", NULL);
	snprintf(line, sizeof(line), "tenant %s: re-encrypted 2 credential(s) under key id 1 (2 "
		 "from older keys), re-sealed 1 source secret(s)", tc);
	assert_non_null(strstr(o, line));
	snprintf(line, sizeof(line), "tenant %s: re-encrypted 1 credential(s) under key id 1 (0 "
		 "from older keys), re-sealed 0 source secret(s)", td);
	assert_non_null(strstr(o, line));
	if (st != 0) {
		snprintf(line, sizeof(line), "tenant %s: nothing", tc);
		assert_null(strstr(o, line));
		snprintf(line, sizeof(line), "tenant %s: nothing", td);
		assert_null(strstr(o, line));
	}
	free(o);
	assert_int_equal(row_key_id(tc, "llm"), 1);
	assert_int_equal(get_as_app(&only1, tc, tc, "llm", out, sizeof(out)), AX_OK);
	assert_string_equal(out, v_llm);
	assert_int_equal(source_secrets_opening(tc, k1, secret), 1);
	assert_true(mirror_opens(tc, "github", k1, secret));
	ax_keyring_wipe(&only1);
	ax_keyring_wipe(&only2);
}

/* ----------------------------------------------------------------- leak */

struct needles {
	const char *what[8];
	char *text[8];
	int n;
};

static void needle_add(struct needles *nd, const char *what, const char *text)
{
	nd->what[nd->n] = what;
	nd->text[nd->n++] = strdup(text);
}

/* The plaintext as itself, as hex (bytea text) and as base64. */
static void needles_for(struct needles *nd, const char *what, const char *plain)
{
	size_t n = strlen(plain);
	char *hex = malloc(2 * n + 1), *b64;
	size_t b64n = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);

	needle_add(nd, what, plain);
	sodium_bin2hex(hex, 2 * n + 1, (const unsigned char *)plain, n);
	needle_add(nd, what, hex);
	b64 = malloc(b64n);
	sodium_bin2base64(b64, b64n, (const unsigned char *)plain, n,
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	/* Base64 of a prefix survives any alignment trouble at the end. */
	b64[b64n - 1 > 24 ? 24 : b64n - 1] = '\0';
	needle_add(nd, what, b64);
	free(hex);
	free(b64);
}

static void no_needle(const struct needles *nd, const char *where, const char *hay, size_t len)
{
	int i;

	for (i = 0; i < nd->n; i++)
		if (hay != NULL && memmem(hay, len, nd->text[i], strlen(nd->text[i])) != NULL)
			fail_msg("%s found in %s", nd->what[i], where);
}

static void grep_file(const struct needles *nd, const char *path)
{
	size_t len;
	char *s;

	if (access(path, R_OK) != 0)
		return;
	s = h_read_file(path, &len);
	no_needle(nd, path, s, len);
	free(s);
}

/* Every row of every table in public, as the owner; returns how many rows
 * mention mark (the search's own check). */
static long grep_tables(const struct needles *nd, const char *mark)
{
	PGconn *c = h_pg_admin();
	PGresult *tables, *rows;
	long marked = 0;
	int i, j;

	tables = h_pg_q(c, NULL,
			"SELECT format('SELECT t::text FROM %I.%I t', table_schema, table_name),"
			" table_name FROM information_schema.tables"
			" WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
			0, NULL);
	assert_true(PQntuples(tables) > 5);
	for (i = 0; i < PQntuples(tables); i++) {
		rows = h_pg_q(c, NULL, PQgetvalue(tables, i, 0), 0, NULL);
		for (j = 0; j < PQntuples(rows); j++) {
			const char *row = PQgetvalue(rows, j, 0);
			char where[128];

			snprintf(where, sizeof(where), "a row of table %s",
				 PQgetvalue(tables, i, 1));
			no_needle(nd, where, row, strlen(row));
			if (strstr(row, mark) != NULL)
				marked++;
		}
		PQclear(rows);
	}
	PQclear(tables);
	PQfinish(c);
	return marked;
}

static void grep_reply(const struct needles *nd, const char *key, const redisReply *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
		char where[300];

		snprintf(where, sizeof(where), "redis key %s", key);
		no_needle(nd, where, r->str, r->len);
	}
	if (r->type == REDIS_REPLY_ARRAY)
		for (i = 0; i < r->elements; i++)
			grep_reply(nd, key, r->element[i]);
}

/* Every key and value in Redis; returns the number of keys. */
static long grep_redis(const struct needles *nd)
{
	redisContext *rc = h_redis();
	char cursor[32] = "0";
	long keys = 0;

	do {
		redisReply *scan = redisCommand(rc, "SCAN %s COUNT 1000", cursor);
		size_t i;

		assert_non_null(scan);
		assert_int_equal(scan->type, REDIS_REPLY_ARRAY);
		snprintf(cursor, sizeof(cursor), "%s", scan->element[0]->str);
		for (i = 0; i < scan->element[1]->elements; i++) {
			const char *k = scan->element[1]->element[i]->str;
			redisReply *type = redisCommand(rc, "TYPE %s", k), *v = NULL;

			no_needle(nd, "a redis key name", k, strlen(k));
			if (strcmp(type->str, "string") == 0)
				v = redisCommand(rc, "GET %s", k);
			else if (strcmp(type->str, "hash") == 0)
				v = redisCommand(rc, "HGETALL %s", k);
			else if (strcmp(type->str, "list") == 0)
				v = redisCommand(rc, "LRANGE %s 0 -1", k);
			else if (strcmp(type->str, "set") == 0)
				v = redisCommand(rc, "SMEMBERS %s", k);
			else if (strcmp(type->str, "zset") == 0)
				v = redisCommand(rc, "ZRANGE %s 0 -1", k);
			else if (strcmp(type->str, "stream") == 0)
				v = redisCommand(rc, "XRANGE %s - +", k);
			grep_reply(nd, k, v);
			if (v != NULL)
				freeReplyObject(v);
			freeReplyObject(type);
			keys++;
		}
		freeReplyObject(scan);
	} while (strcmp(cursor, "0") != 0);
	redisFree(rc);
	return keys;
}

static void test_no_leak(void **state)
{
	const char *env_new[] = { env_k2, "ALEXUS_MASTER_KEY_ID=2", env_keys_k1, NULL };
	const char *env_back[] = { env_keys_k2, NULL };
	char canary[80], src_canary[80], hex[65], logs[3][256], out[128];
	struct needles nd = { { 0 }, { 0 }, 0 };
	struct ax_keyring kr = ring(k1, NULL, NULL);
	struct sys *s;
	glob_t g;
	cJSON *r;
	size_t i;
	int k;

	(void)state;
	random_hex(hex);   /* 64 bits of it are recognisable enough */
	snprintf(canary, sizeof(canary), "CANARY-cred-%.16s-DO-NOT-LEAK", hex);
	snprintf(src_canary, sizeof(src_canary), "CANARY-src-%.16s-DO-NOT-LEAK", hex);

	/* A full system: three daemons and a webhook through the pipeline. */
	s = sys_up("leak", NULL);
	free(ctl_ok(canary, NULL, "credentials", "set", "--tenant", s->tenant, "--name",
		    "canary-cred", NULL));
	free(ctl_ok(src_canary, NULL, "source", "secret", "set", "--tenant", s->tenant,
		    "--source", "github", NULL));
	free(ctl_ok(NULL, NULL, "credentials", "list", "--tenant", s->tenant, NULL));
	free(ctl_ok(NULL, env_new, "credentials", "rotate", "--tenant", s->tenant, NULL));
	free(ctl_ok(NULL, env_back, "credentials", "rotate", "--tenant", s->tenant, NULL));
	free(ctl_ok(NULL, NULL, "auth", "sync", "--tenant", s->tenant, NULL));
	free(ctl_ok(NULL, NULL, "audit", "verify", "--tenant", s->tenant, NULL));
	free(ctl_ok(NULL, env_new, "config", NULL));
	free(ctl_ok(NULL, NULL, "token", "list", "--tenant", s->tenant, NULL));
	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_FIRING, &r), 202);
	cJSON_Delete(r);
	assert_int_equal(rcv_wait(s->rcv, 1, WAIT_MS), 1);
	sys_wait_settled(s);
	/* The credential is still there and readable after all that. */
	assert_int_equal(get_as_app(&kr, s->tenant, s->tenant, "canary-cred", out, sizeof(out)),
			 AX_OK);
	assert_string_equal(out, canary);
	sodium_memzero(out, sizeof(out));
	ax_keyring_wipe(&kr);

	needles_for(&nd, "the credential's plaintext", canary);
	needles_for(&nd, "the source secret's plaintext", src_canary);
	needle_add(&nd, "the master key (id 1)", k1);
	needle_add(&nd, "the master key (id 2)", k2);
	for (k = 0; k < rcv_count(s->rcv); k++) {
		const struct rcv_request *q = rcv_get(s->rcv, k);

		no_needle(&nd, "a notification the receiver got", q->body, q->body_len);
		no_needle(&nd, "a notification's headers", q->headers, strlen(q->headers));
	}
	snprintf(logs[0], sizeof(logs[0]), "%s", s->ingest.log);
	snprintf(logs[1], sizeof(logs[1]), "%s", s->reason.log);
	snprintf(logs[2], sizeof(logs[2]), "%s", s->act.log);
	sys_down(s);

	no_needle(&nd, "alexusctl output", transcript, transcript_len);
	/* The transcript is what the commands said (the search's own check). */
	assert_non_null(strstr(transcript, "set credential 'canary-cred'"));
	assert_non_null(strstr(transcript, "re-encrypted 1 credential(s) under key id 2"));
	for (k = 0; k < 3; k++) {
		struct stat st;

		assert_int_equal(stat(logs[k], &st), 0);
		grep_file(&nd, logs[k]);
	}
	/* The stack's own server logs. */
	{
		char pat[512];

		snprintf(pat, sizeof(pat), "%s/*.log", h_env("ALEXUS_STACK_DIR"));
		if (glob(pat, 0, NULL, &g) == 0) {
			for (i = 0; i < g.gl_pathc; i++)
				grep_file(&nd, g.gl_pathv[i]);
			globfree(&g);
		}
		snprintf(pat, sizeof(pat), "%s/pg/log/*", h_env("ALEXUS_STACK_DIR"));
		if (glob(pat, 0, NULL, &g) == 0) {
			for (i = 0; i < g.gl_pathc; i++)
				grep_file(&nd, g.gl_pathv[i]);
			globfree(&g);
		}
	}
	/* Every row of every table; the credential's name (not secret) must
	 * be found, or the search is not reading what it should. */
	assert_true(grep_tables(&nd, "canary-cred") >= 2);   /* the row and its audit rows */
	assert_true(grep_redis(&nd) > 0);
	for (k = 0; k < nd.n; k++)
		free(nd.text[k]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_list_get),
		cmocka_unit_test(test_rotate),
		cmocka_unit_test_teardown(test_no_leak, sys_teardown),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
