/* test_jwt.c - bearer token verification (common/jwt.c).
 *
 * Tokens are crafted by hand here (base64url JSON + HMAC from libsodium,
 * RSA signatures from the openssl CLI), not with libjwt, so every refusal
 * is tested against exactly the bytes an attacker would send: "none" with
 * an empty signature, a correctly signed HS512 token when HS256 is pinned,
 * an RS256 header over an HMAC made with the shared secret, an HS256 token
 * whose HMAC key is the RS256 verifier's public key (the classic key
 * confusion), claims that are expired, early, or for someone else.
 *
 * RSA keys are generated at test time (`openssl genpkey`) into a mkdtemp
 * directory that is removed afterwards, so no private key is committed;
 * the RS* tests are skipped when the openssl command is missing.  The
 * verifier for them is built the way ingest builds it, by
 * ax_jwt_opts_from_config from ALEXUS_JWT_ALG + ALEXUS_JWT_KEY_FILE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include <sys/stat.h>
#include <unistd.h>

#include "alexus/config.h"
#include "alexus/json.h"
#include "alexus/jwt.h"

#define SECRET "test-secret-0123456789-abcdefghijkl"

static const struct ax_jwt_opts opts = {
	.alg = "HS256",
	.key = (const unsigned char *)SECRET,
	.key_len = sizeof(SECRET) - 1,
	.issuer = "alexus",
	.audience = "alexus",
	.leeway_s = 0,
};

static int setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static void b64url(char *out, size_t outlen, const void *in, size_t n)
{
	sodium_bin2base64(out, outlen, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload.signature; sig_bits 256/512 = HMAC-SHA-x with key, 0 =
 * empty signature. */
static char *craft(const char *header, const char *payload, int sig_bits, const char *key)
{
	char h[1024], p[2048], sig[256] = "";
	char *signing, *tok;
	size_t n;

	b64url(h, sizeof(h), header, strlen(header));
	b64url(p, sizeof(p), payload, strlen(payload));
	n = strlen(h) + strlen(p) + 2;
	signing = malloc(n);
	snprintf(signing, n, "%s.%s", h, p);
	if (sig_bits == 256) {
		unsigned char mac[crypto_auth_hmacsha256_BYTES];
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
		crypto_auth_hmacsha256_final(&st, mac);
		b64url(sig, sizeof(sig), mac, sizeof(mac));
	} else if (sig_bits == 512) {
		unsigned char mac[crypto_auth_hmacsha512_BYTES];
		crypto_auth_hmacsha512_state st;
		crypto_auth_hmacsha512_init(&st, (const unsigned char *)key, strlen(key));
		crypto_auth_hmacsha512_update(&st, (const unsigned char *)signing, strlen(signing));
		crypto_auth_hmacsha512_final(&st, mac);
		b64url(sig, sizeof(sig), mac, sizeof(mac));
	}
	n = strlen(signing) + strlen(sig) + 2;
	tok = malloc(n);
	snprintf(tok, n, "%s.%s", signing, sig);
	free(signing);
	return tok;
}

static char payload_buf[1024];

/* A valid payload with one part overridden; extra is spliced in raw. */
static const char *claims(long exp_off, const char *iss, const char *aud, const char *tenant,
			  const char *extra)
{
	long now = (long)time(NULL);
	int n = snprintf(payload_buf, sizeof(payload_buf), "{\"iat\":%ld,\"exp\":%ld", now,
			 now + exp_off);

	if (iss)
		n += snprintf(payload_buf + n, sizeof(payload_buf) - (size_t)n, ",\"iss\":%s", iss);
	if (aud)
		n += snprintf(payload_buf + n, sizeof(payload_buf) - (size_t)n, ",\"aud\":%s", aud);
	if (tenant)
		n += snprintf(payload_buf + n, sizeof(payload_buf) - (size_t)n,
			      ",\"tenant_id\":%s", tenant);
	if (extra)
		n += snprintf(payload_buf + n, sizeof(payload_buf) - (size_t)n, ",%s", extra);
	snprintf(payload_buf + n, sizeof(payload_buf) - (size_t)n, "}");
	return payload_buf;
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define GOOD claims(300, "\"alexus\"", "\"alexus\"", "\"acme\"", NULL)

/* Verify and return the error string ("" on success). */
static const char *verify_with(const struct ax_jwt_opts *o, const char *tok, char *tenant)
{
	static char err[128];
	ax_err rc;

	err[0] = '\0';
	rc = ax_jwt_verify(o, tok, tenant, err, sizeof(err));
	if (rc == AX_OK) {
		assert_string_equal(err, "");
		return "";
	}
	assert_int_equal(rc, AX_EAUTH);
	assert_string_not_equal(err, "");
	return err;
}

static const char *verify(const char *tok)
{
	char tenant[AX_TENANT_MAX + 1];

	return verify_with(&opts, tok, tenant);
}

static void expect_refused(char *tok, const char *why)
{
	char tenant[AX_TENANT_MAX + 1] = "x";

	assert_string_equal(verify_with(&opts, tok, tenant), why);
	assert_string_equal(tenant, ""); /* nothing leaks out on refusal */
	free(tok);
}

static void test_accept(void **state)
{
	char tenant[AX_TENANT_MAX + 1];
	char err[128];
	char *tok;

	(void)state;
	/* minted by our own code */
	tok = ax_jwt_mint(&opts, "acme", 60, err, sizeof(err));
	assert_non_null(tok);
	assert_string_equal(verify_with(&opts, tok, tenant), "");
	assert_string_equal(tenant, "acme");
	free(tok);

	/* crafted by hand */
	tok = craft(HS256, GOOD, 256, SECRET);
	assert_string_equal(verify_with(&opts, tok, tenant), "");
	assert_string_equal(tenant, "acme");
	free(tok);

	/* aud as an array that contains ours */
	tok = craft(HS256, claims(300, "\"alexus\"", "[\"other\",\"alexus\"]", "\"t-2_x\"", NULL),
		    256, SECRET);
	assert_string_equal(verify_with(&opts, tok, tenant), "");
	assert_string_equal(tenant, "t-2_x");
	free(tok);

	/* nbf in the past is fine */
	tok = craft(HS256, claims(300, "\"alexus\"", "\"alexus\"", "\"acme\"", "\"nbf\":1000"),
		    256, SECRET);
	assert_string_equal(verify(tok), "");
	free(tok);
}

static void test_wrong_key_and_tamper(void **state)
{
	char *tok, *dot;
	char err[128];
	struct ax_jwt_opts other = opts;

	(void)state;
	expect_refused(craft(HS256, GOOD, 256, "another-secret"), "bad signature");

	other.key = (const unsigned char *)"another-secret";
	other.key_len = strlen("another-secret");
	tok = ax_jwt_mint(&other, "acme", 60, err, sizeof(err));
	assert_non_null(tok);
	expect_refused(tok, "bad signature");

	/* swap in a payload naming another tenant, keep the old signature */
	tok = craft(HS256, GOOD, 256, SECRET);
	{
		char *evil = craft(HS256, claims(300, "\"alexus\"", "\"alexus\"", "\"victim\"", NULL),
				   0, SECRET);
		char *sig = strrchr(tok, '.');
		size_t n = strlen(evil) + strlen(sig) + 1;
		char *t2 = malloc(n);
		evil[strlen(evil) - 1] = '\0'; /* drop the trailing '.' */
		snprintf(t2, n, "%s%s", evil, sig);
		expect_refused(t2, "bad signature");
		free(evil);
	}
	/* empty signature with the pinned alg */
	dot = strrchr(tok, '.');
	dot[1] = '\0';
	expect_refused(tok, "bad signature");
}

static void test_alg_none(void **state)
{
	(void)state;
	expect_refused(craft("{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD, 0, NULL),
		       "algorithm not allowed");
	expect_refused(craft("{\"alg\":\"None\",\"typ\":\"JWT\"}", GOOD, 0, NULL),
		       "algorithm not allowed");
	expect_refused(craft("{\"alg\":\"NONE\"}", GOOD, 0, NULL), "algorithm not allowed");
	/* none, but with a signature appended anyway */
	expect_refused(craft("{\"alg\":\"none\"}", GOOD, 256, SECRET), "algorithm not allowed");
	/* lower-case spelling of the pinned alg is a different alg */
	expect_refused(craft("{\"alg\":\"hs256\"}", GOOD, 256, SECRET), "algorithm not allowed");
	/* no alg at all */
	expect_refused(craft("{\"typ\":\"JWT\"}", GOOD, 256, SECRET), "malformed token");
	expect_refused(craft("{\"alg\":256}", GOOD, 256, SECRET), "malformed token");
}

static void test_alg_confusion(void **state)
{
	(void)state;
	/* correctly signed HS512 with the right secret: still refused */
	expect_refused(craft("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", GOOD, 512, SECRET),
		       "algorithm not allowed");
	/* RS256 header, HMAC made with the shared secret */
	expect_refused(craft("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", GOOD, 256, SECRET),
		       "algorithm not allowed");
	expect_refused(craft("{\"alg\":\"ES256\"}", GOOD, 256, SECRET), "algorithm not allowed");
	/* unknown critical extension */
	expect_refused(craft("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", GOOD, 256, SECRET),
		       "malformed token");
}

static void test_time_claims(void **state)
{
	struct ax_jwt_opts lenient = opts;
	char tenant[AX_TENANT_MAX + 1];
	char *tok;

	(void)state;
	expect_refused(craft(HS256, claims(-100, "\"alexus\"", "\"alexus\"", "\"acme\"", NULL),
			     256, SECRET),
		       "token expired");
	expect_refused(craft(HS256, claims(0, "\"alexus\"", "\"alexus\"", "\"acme\"", NULL), 256,
			     SECRET),
		       "token expired");
	expect_refused(craft(HS256, "{\"iss\":\"alexus\",\"aud\":\"alexus\",\"tenant_id\":\"acme\"}",
			     256, SECRET),
		       "missing exp claim");
	expect_refused(craft(HS256, "{\"exp\":\"tomorrow\",\"iss\":\"alexus\",\"aud\":\"alexus\","
				    "\"tenant_id\":\"acme\"}",
			     256, SECRET),
		       "malformed token");
	{
		char extra[64];
		snprintf(extra, sizeof(extra), "\"nbf\":%ld", (long)time(NULL) + 1000);
		expect_refused(craft(HS256, claims(3000, "\"alexus\"", "\"alexus\"", "\"acme\"",
						   extra),
				     256, SECRET),
			       "token not yet valid");
	}

	/* leeway covers small skew in both directions */
	lenient.leeway_s = 200;
	tok = craft(HS256, claims(-100, "\"alexus\"", "\"alexus\"", "\"acme\"", NULL), 256, SECRET);
	assert_string_equal(verify_with(&lenient, tok, tenant), "");
	free(tok);
	{
		char extra[64];
		snprintf(extra, sizeof(extra), "\"nbf\":%ld", (long)time(NULL) + 100);
		tok = craft(HS256, claims(3000, "\"alexus\"", "\"alexus\"", "\"acme\"", extra), 256,
			    SECRET);
		assert_string_equal(verify_with(&lenient, tok, tenant), "");
		assert_string_equal(verify_with(&opts, tok, tenant), "token not yet valid");
		free(tok);
	}
	tok = craft(HS256, claims(-300, "\"alexus\"", "\"alexus\"", "\"acme\"", NULL), 256, SECRET);
	assert_string_equal(verify_with(&lenient, tok, tenant), "token expired");
	free(tok);
}

static void test_iss_aud(void **state)
{
	struct ax_jwt_opts open = opts;
	char tenant[AX_TENANT_MAX + 1];
	char *tok;

	(void)state;
	expect_refused(craft(HS256, claims(300, "\"evil\"", "\"alexus\"", "\"acme\"", NULL), 256,
			     SECRET),
		       "wrong issuer");
	expect_refused(craft(HS256, claims(300, NULL, "\"alexus\"", "\"acme\"", NULL), 256, SECRET),
		       "wrong issuer");
	expect_refused(craft(HS256, claims(300, "[\"alexus\"]", "\"alexus\"", "\"acme\"", NULL),
			     256, SECRET),
		       "wrong issuer");
	expect_refused(craft(HS256, claims(300, "\"alexus\"", "\"grafana\"", "\"acme\"", NULL), 256,
			     SECRET),
		       "wrong audience");
	expect_refused(craft(HS256, claims(300, "\"alexus\"", "[\"a\",\"b\"]", "\"acme\"", NULL),
			     256, SECRET),
		       "wrong audience");
	expect_refused(craft(HS256, claims(300, "\"alexus\"", NULL, "\"acme\"", NULL), 256, SECRET),
		       "wrong audience");

	/* not configured = not checked */
	open.issuer = "";
	open.audience = NULL;
	tok = craft(HS256, claims(300, "\"evil\"", "\"grafana\"", "\"acme\"", NULL), 256, SECRET);
	assert_string_equal(verify_with(&open, tok, tenant), "");
	free(tok);
}

static void test_tenant_claim(void **state)
{
	(void)state;
	expect_refused(craft(HS256, claims(300, "\"alexus\"", "\"alexus\"", NULL, NULL), 256,
			     SECRET),
		       "missing tenant_id claim");
	expect_refused(craft(HS256, claims(300, "\"alexus\"", "\"alexus\"", "\"Acme\"", NULL), 256,
			     SECRET),
		       "invalid tenant_id claim");
	expect_refused(craft(HS256, claims(300, "\"alexus\"", "\"alexus\"", "\"a}:b\"", NULL), 256,
			     SECRET),
		       "invalid tenant_id claim");
	expect_refused(craft(HS256, claims(300, "\"alexus\"", "\"alexus\"", "\"\"", NULL), 256,
			     SECRET),
		       "invalid tenant_id claim");
	expect_refused(craft(HS256, claims(300, "\"alexus\"", "\"alexus\"", "42", NULL), 256,
			     SECRET),
		       "invalid tenant_id claim");
	expect_refused(craft(HS256,
			     claims(300, "\"alexus\"", "\"alexus\"",
				    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
				    NULL),
			     256, SECRET),
		       "invalid tenant_id claim"); /* 64 characters */
}

static void test_garbage(void **state)
{
	static const char *const junk[] = {
		"abc", "a.b", "a.b.c.d", "...", "!!!.x.y", "eyJhbGciOiJIUzI1NiJ9..",
		"eyJhbGciOiJIUzI1NiJ9.eyJ.sig", "bm90IGpzb24.eyJhIjoxfQ.sig", /* "not json" */
		"eyJhbGciOiJIUzI1NiJ9=.eyJhIjoxfQ.sig",                       /* padding */
		"W10.eyJhIjoxfQ.sig",                                          /* header [] */
		"Bearer eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.sig",
	};
	char tenant[AX_TENANT_MAX + 1];
	char err[64];
	char *big;
	size_t i;

	(void)state;
	assert_string_equal(verify(""), "missing token");
	assert_string_equal(verify(NULL), "missing token");
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		assert_string_equal(verify(junk[i]), "malformed token");

	big = malloc(100000);
	memset(big, 'a', 99999);
	big[99999] = '\0';
	big[10] = '.';
	big[20] = '.';
	assert_string_equal(verify(big), "malformed token");
	free(big);

	/* a missing key is a configuration error, not a client error */
	{
		struct ax_jwt_opts nokey = opts;
		nokey.key = NULL;
		nokey.key_len = 0;
		assert_int_equal(ax_jwt_verify(&nokey, "a.b.c", tenant, err, sizeof(err)), AX_EINVAL);
		nokey = opts;
		nokey.alg = "none";
		assert_int_equal(ax_jwt_verify(&nokey, "a.b.c", tenant, err, sizeof(err)), AX_EINVAL);
	}
}

static void test_mint_claims(void **state)
{
	char err[128];
	char *tok, *d1, *d2;
	unsigned char bin[1024];
	size_t binlen;
	cJSON *c;
	long now = (long)time(NULL);
	struct ax_jwt_opts bare = opts;

	(void)state;
	tok = ax_jwt_mint(&opts, "acme", 120, err, sizeof(err));
	assert_non_null(tok);
	d1 = strchr(tok, '.');
	d2 = strchr(d1 + 1, '.');
	assert_int_equal(sodium_base642bin(bin, sizeof(bin), d1 + 1, (size_t)(d2 - d1 - 1), NULL,
					   &binlen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
			 0);
	c = ax_json_parse((const char *)bin, binlen, 0);
	assert_non_null(c);
	assert_string_equal(ax_json_str(c, "tenant_id"), "acme");
	assert_string_equal(ax_json_str(c, "sub"), "tenant:acme");
	assert_string_equal(ax_json_str(c, "iss"), "alexus");
	assert_string_equal(ax_json_str(c, "aud"), "alexus");
	assert_true(cJSON_GetObjectItem(c, "iat")->valuedouble >= (double)now - 1);
	assert_true(cJSON_GetObjectItem(c, "exp")->valuedouble >= (double)now + 119);
	assert_true(cJSON_GetObjectItem(c, "exp")->valuedouble <= (double)now + 122);
	cJSON_Delete(c);
	free(tok);

	/* issuer/audience left out when not configured */
	bare.issuer = NULL;
	bare.audience = "";
	tok = ax_jwt_mint(&bare, "acme", 120, err, sizeof(err));
	assert_non_null(tok);
	d1 = strchr(tok, '.');
	d2 = strchr(d1 + 1, '.');
	assert_int_equal(sodium_base642bin(bin, sizeof(bin), d1 + 1, (size_t)(d2 - d1 - 1), NULL,
					   &binlen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
			 0);
	c = ax_json_parse((const char *)bin, binlen, 0);
	assert_null(cJSON_GetObjectItem(c, "iss"));
	assert_null(cJSON_GetObjectItem(c, "aud"));
	cJSON_Delete(c);
	/* and such a token fails a verifier that does check them */
	assert_string_equal(verify(tok), "wrong issuer");
	free(tok);

	assert_null(ax_jwt_mint(&opts, "Bad Tenant", 60, err, sizeof(err)));
	assert_string_not_equal(err, "");
	assert_null(ax_jwt_mint(&opts, "acme", 0, err, sizeof(err)));
}

/* ------------------------------------------------------------- RS* */

static char keydir[64];          /* mkdtemp; "" when openssl is missing */
static char priv_pem[128], pub_pem[128], priv2_pem[128], pub2_pem[128];

static int run(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -1;
}

static int rs_setup(void **state)
{
	char cmd[1024];

	(void)state;
	if (setup(state) != 0)
		return -1;
	snprintf(keydir, sizeof(keydir), "/tmp/alexus-jwt-XXXXXX");
	if (mkdtemp(keydir) == NULL)
		return -1;
	snprintf(priv_pem, sizeof(priv_pem), "%s/priv.pem", keydir);
	snprintf(pub_pem, sizeof(pub_pem), "%s/pub.pem", keydir);
	snprintf(priv2_pem, sizeof(priv2_pem), "%s/priv2.pem", keydir);
	snprintf(pub2_pem, sizeof(pub2_pem), "%s/pub2.pem", keydir);
	snprintf(cmd, sizeof(cmd),
		 "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s 2>/dev/null &&"
		 " openssl pkey -in %s -pubout -out %s 2>/dev/null &&"
		 " openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s 2>/dev/null &&"
		 " openssl pkey -in %s -pubout -out %s 2>/dev/null",
		 priv_pem, priv_pem, pub_pem, priv2_pem, priv2_pem, pub2_pem);
	if (run(cmd) != 0) {
		rmdir(keydir);
		keydir[0] = '\0';  /* no openssl: the RS tests skip */
	}
	return 0;
}

static int rs_teardown(void **state)
{
	char cmd[256];

	(void)state;
	if (keydir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", keydir);
		if (run(cmd) != 0)
			return -1;
	}
	return 0;
}

static char *file_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

/* header.payload.RSASSA-PKCS1-v1_5(digest) by `openssl dgst -sign`. */
static char *craft_rsa(const char *header, const char *payload, const char *key,
		       const char *digest)
{
	char h[1024], p[2048], sig[1024], in[128], out[128], cmd[1024];
	unsigned char *raw;
	size_t rawlen, n;
	char *signing, *tok;
	FILE *f;

	b64url(h, sizeof(h), header, strlen(header));
	b64url(p, sizeof(p), payload, strlen(payload));
	n = strlen(h) + strlen(p) + 2;
	signing = malloc(n);
	snprintf(signing, n, "%s.%s", h, p);
	snprintf(in, sizeof(in), "%s/in", keydir);
	snprintf(out, sizeof(out), "%s/sig", keydir);
	f = fopen(in, "wb");
	assert_non_null(f);
	fputs(signing, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "openssl dgst -%s -sign %s -out %s %s", digest, key, out, in);
	assert_int_equal(run(cmd), 0);
	raw = (unsigned char *)file_text(out, &rawlen);
	b64url(sig, sizeof(sig), raw, rawlen);
	free(raw);
	n = strlen(signing) + strlen(sig) + 2;
	tok = malloc(n);
	snprintf(tok, n, "%s.%s", signing, sig);
	free(signing);
	return tok;
}

/* A configuration as ax_config_load would leave it. */
static struct ax_config cfg_of(const char *alg, const char *secret, const char *file)
{
	struct ax_config c;

	memset(&c, 0, sizeof(c));
	c.jwt_alg = (char *)alg;
	c.jwt_secret = (char *)secret;
	c.jwt_key_file = (char *)file;
	c.jwt_issuer = (char *)"alexus";
	c.jwt_audience = (char *)"alexus";
	return c;
}

static void rs_opts(struct ax_jwt_opts *o, const char *alg, const char *pub)
{
	struct ax_config c = cfg_of(alg, "ignored-for-rs", pub);
	char err[256];

	if (ax_jwt_opts_from_config(o, &c, 0, err, sizeof(err)) != AX_OK)
		fail_msg("opts: %s", err);
}

static void expect_rs(const struct ax_jwt_opts *o, char *tok, const char *why)
{
	char tenant[AX_TENANT_MAX + 1] = "x";

	assert_string_equal(verify_with(o, tok, tenant), why);
	if (why[0] != '\0')
		assert_string_equal(tenant, "");
	else
		assert_string_equal(tenant, "acme");
	free(tok);
}

#define RS256 "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"

static void test_rs256(void **state)
{
	struct ax_jwt_opts o, mint_o;
	char err[256];
	char *tok;

	(void)state;
	if (keydir[0] == '\0')
		skip();
	rs_opts(&o, "RS256", pub_pem);
	assert_string_equal(o.alg, "RS256");
	assert_int_equal(ax_jwt_alg_is_hmac(o.alg), 0);

	/* Signed by openssl with the right key: accepted. */
	expect_rs(&o, craft_rsa(RS256, GOOD, priv_pem, "sha256"), "");
	/* Minted by us with the private key: accepted too. */
	mint_o = o;
	mint_o.key = (const unsigned char *)file_text(priv_pem, &mint_o.key_len);
	tok = ax_jwt_mint(&mint_o, "acme", 60, err, sizeof(err));
	assert_non_null(tok);
	expect_rs(&o, tok, "");
	free((void *)mint_o.key);

	/* Another key pair's signature. */
	expect_rs(&o, craft_rsa(RS256, GOOD, priv2_pem, "sha256"), "bad signature");
	/* A payload swapped under a genuine signature. */
	{
		char *good = craft_rsa(RS256, GOOD, priv_pem, "sha256");
		char *evil = craft(RS256, claims(300, "\"alexus\"", "\"alexus\"", "\"victim\"", NULL),
				   0, NULL);
		size_t n = strlen(evil) + strlen(strrchr(good, '.')) + 1;
		char *t2 = malloc(n);

		evil[strlen(evil) - 1] = '\0';
		snprintf(t2, n, "%s%s", evil, strrchr(good, '.'));
		expect_rs(&o, t2, "bad signature");
		free(evil);
		free(good);
	}
	/* The right key with another digest: another algorithm. */
	expect_rs(&o, craft_rsa("{\"alg\":\"RS384\"}", GOOD, priv_pem, "sha384"),
		  "algorithm not allowed");
	/* RS256 in the header over a SHA-512 signature. */
	expect_rs(&o, craft_rsa(RS256, GOOD, priv_pem, "sha512"), "bad signature");

	/* Claims are checked after the RSA signature as they are for HMAC. */
	expect_rs(&o, craft_rsa(RS256, claims(-100, "\"alexus\"", "\"alexus\"", "\"acme\"", NULL),
				priv_pem, "sha256"),
		  "token expired");
	expect_rs(&o, craft_rsa(RS256, "{\"iss\":\"alexus\",\"aud\":\"alexus\",\"tenant_id\":\"acme\"}",
				priv_pem, "sha256"),
		  "missing exp claim");
	{
		char extra[64];

		snprintf(extra, sizeof(extra), "\"nbf\":%ld", (long)time(NULL) + 1000);
		expect_rs(&o, craft_rsa(RS256, claims(3000, "\"alexus\"", "\"alexus\"", "\"acme\"",
						      extra),
					priv_pem, "sha256"),
			  "token not yet valid");
	}
	expect_rs(&o, craft_rsa(RS256, claims(300, "\"evil\"", "\"alexus\"", "\"acme\"", NULL),
				priv_pem, "sha256"),
		  "wrong issuer");
	expect_rs(&o, craft_rsa(RS256, claims(300, "\"alexus\"", "\"grafana\"", "\"acme\"", NULL),
				priv_pem, "sha256"),
		  "wrong audience");
	ax_jwt_opts_release(&o);
	assert_null(o.key);

	/* RS512 pinned: RS512 passes, RS256 does not. */
	rs_opts(&o, "RS512", pub_pem);
	expect_rs(&o, craft_rsa("{\"alg\":\"RS512\"}", GOOD, priv_pem, "sha512"), "");
	expect_rs(&o, craft_rsa(RS256, GOOD, priv_pem, "sha256"), "algorithm not allowed");
	ax_jwt_opts_release(&o);
}

static void test_rs_alg_confusion(void **state)
{
	struct ax_jwt_opts o, hs;
	size_t publen;
	char *pub;

	(void)state;
	if (keydir[0] == '\0')
		skip();
	rs_opts(&o, "RS256", pub_pem);
	pub = file_text(pub_pem, &publen);
	/* HS256 whose HMAC key is the verifier's own public key: libjwt,
	 * told the alg by the token, would check exactly this HMAC. */
	{
		char *tok = craft(HS256, GOOD, 256, pub);

		expect_rs(&o, tok, "algorithm not allowed");
	}
	/* none, in any spelling, with or without a signature. */
	expect_rs(&o, craft("{\"alg\":\"none\"}", GOOD, 0, NULL), "algorithm not allowed");
	expect_rs(&o, craft("{\"alg\":\"NONE\"}", GOOD, 256, pub), "algorithm not allowed");
	/* The reverse: a genuine RS256 token offered to an HS256 verifier. */
	memset(&hs, 0, sizeof(hs));
	hs = opts;
	expect_rs(&hs, craft_rsa(RS256, GOOD, priv_pem, "sha256"), "algorithm not allowed");
	/* ... even one whose "secret" is that very public key. */
	hs.key = (const unsigned char *)pub;
	hs.key_len = publen;
	expect_rs(&hs, craft_rsa(RS256, GOOD, priv_pem, "sha256"), "algorithm not allowed");
	free(pub);
	ax_jwt_opts_release(&o);
}

static void test_opts_from_config(void **state)
{
	struct ax_jwt_opts o;
	struct ax_config c;
	char err[256], path[128], *tok;
	char tenant[AX_TENANT_MAX + 1];
	FILE *f;

	(void)state;
	/* HS256 from ALEXUS_JWT_SECRET. */
	c = cfg_of("HS256", SECRET, "");
	assert_int_equal(ax_jwt_opts_from_config(&o, &c, 30, err, sizeof(err)), AX_OK);
	assert_int_equal(o.key_len, strlen(SECRET));
	assert_memory_equal(o.key, SECRET, o.key_len);
	assert_int_equal(o.leeway_s, 30);
	assert_string_equal(o.issuer, "alexus");
	tok = craft(HS256, GOOD, 256, SECRET);
	assert_string_equal(verify_with(&o, tok, tenant), "");
	free(tok);
	ax_jwt_opts_release(&o);
	ax_jwt_opts_release(&o); /* twice is harmless */
	ax_jwt_opts_release(NULL);

	/* Nothing set, both set. */
	c = cfg_of("HS256", "", NULL);
	assert_int_equal(ax_jwt_opts_from_config(&o, &c, 0, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "ALEXUS_JWT_SECRET"));
	c = cfg_of("HS256", SECRET, "/nonexistent");
	assert_int_equal(ax_jwt_opts_from_config(&o, &c, 0, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "both"));
	c = cfg_of("none", SECRET, NULL);
	assert_int_equal(ax_jwt_opts_from_config(&o, &c, 0, err, sizeof(err)), AX_EINVAL);
	c = cfg_of("ES256", SECRET, NULL);
	assert_int_equal(ax_jwt_opts_from_config(&o, &c, 0, err, sizeof(err)), AX_EINVAL);

	if (keydir[0] == '\0')
		skip();
	/* HS512 key from a file written with a trailing newline. */
	snprintf(path, sizeof(path), "%s/hs.key", keydir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", SECRET);
	fclose(f);
	c = cfg_of("HS512", "", path);
	assert_int_equal(ax_jwt_opts_from_config(&o, &c, 0, err, sizeof(err)), AX_OK);
	assert_int_equal(o.key_len, strlen(SECRET));
	tok = craft("{\"alg\":\"HS512\"}", GOOD, 512, SECRET);
	assert_string_equal(verify_with(&o, tok, tenant), "");
	free(tok);
	ax_jwt_opts_release(&o);

	/* RS256 needs the file, and a public key in it. */
	c = cfg_of("RS256", SECRET, "");
	assert_int_equal(ax_jwt_opts_from_config(&o, &c, 0, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "ALEXUS_JWT_KEY_FILE"));
	c = cfg_of("RS256", "", priv_pem);
	assert_int_equal(ax_jwt_opts_from_config(&o, &c, 0, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "public key"));
	snprintf(path, sizeof(path), "%s/missing.pem", keydir);
	c = cfg_of("RS256", "", path);
	assert_int_equal(ax_jwt_opts_from_config(&o, &c, 0, err, sizeof(err)), AX_EIO);
	assert_null(o.key);
}

/* The operator API's roles: minted, verified, ranked; a token without a
 * role, or with one we do not know, ranks 0 and grants nothing. */
static void test_roles(void **state)
{
	struct ax_jwt_claims c;
	char err[128];
	char *tok;

	(void)state;
	tok = ax_jwt_mint_role(&opts, "acme", "operator", 120, err, sizeof(err));
	assert_non_null(tok);
	assert_int_equal(ax_jwt_verify_claims(&opts, tok, &c, err, sizeof(err)), AX_OK);
	assert_string_equal(c.tenant, "acme");
	assert_string_equal(c.role, "operator");
	assert_string_equal(c.sub, "tenant:acme");
	assert_true(ax_jwt_role_rank(c.role) > ax_jwt_role_rank("viewer"));
	assert_true(ax_jwt_role_rank(c.role) < ax_jwt_role_rank("admin"));
	free(tok);
	tok = ax_jwt_mint(&opts, "acme", 120, err, sizeof(err));
	assert_int_equal(ax_jwt_verify_claims(&opts, tok, &c, err, sizeof(err)), AX_OK);
	assert_string_equal(c.role, "");
	assert_int_equal(ax_jwt_role_rank(c.role), 0);
	free(tok);
	assert_null(ax_jwt_mint_role(&opts, "acme", "root", 120, err, sizeof(err)));
	assert_non_null(strstr(err, "role"));
	assert_int_equal(ax_jwt_role_rank(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept),        cmocka_unit_test(test_wrong_key_and_tamper),
		cmocka_unit_test(test_alg_none),      cmocka_unit_test(test_alg_confusion),
		cmocka_unit_test(test_time_claims),   cmocka_unit_test(test_iss_aud),
		cmocka_unit_test(test_tenant_claim),  cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_mint_claims),   cmocka_unit_test(test_rs256),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_rs_alg_confusion), cmocka_unit_test(test_opts_from_config),
	};

	return cmocka_run_group_tests(tests, rs_setup, rs_teardown);
}
