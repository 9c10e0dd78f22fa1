/* test_jwt.c - bearer token verification (common/jwt.c).
 *
 * Tokens are crafted by hand here (base64url JSON + HMAC from libsodium),
 * not with libjwt, so every refusal is tested against exactly the bytes an
 * attacker would send: "none" with an empty signature, a correctly signed
 * HS512 token when HS256 is pinned, an RS256 header over an HMAC made with
 * the shared secret (key confusion), claims that are expired, early, or
 * for someone else. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept),        cmocka_unit_test(test_wrong_key_and_tamper),
		cmocka_unit_test(test_alg_none),      cmocka_unit_test(test_alg_confusion),
		cmocka_unit_test(test_time_claims),   cmocka_unit_test(test_iss_aud),
		cmocka_unit_test(test_tenant_claim),  cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_mint_claims),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
