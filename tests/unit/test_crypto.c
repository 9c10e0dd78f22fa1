/* test_crypto.c - per-tenant sealing of stored credentials (common/crypto.c).
 *
 * Round trip; a box sealed for one tenant does not open as another tenant
 * nor under another master key; any altered byte (nonce, MAC, ciphertext)
 * or a cut box is refused; two seals of the same secret differ (random
 * nonce); master keys that are not 64 hex digits are refused; the key
 * derivation is the documented one (recomputed here with libsodium), and
 * the base64 text form round-trips and refuses junk.
 *
 * Credentials (the keyed AEAD): keyrings parse ALEXUS_MASTER_KEY,
 * _KEY_ID and _KEYS the documented way and refuse malformed ones without
 * quoting a key; a sealed value opens only for its own tenant, name and
 * key id and under the master of that id (each other combination is
 * refused, AX_ENOTFOUND for an id the keyring lacks); any altered byte is
 * refused; a rotation (reseal under a new current id) keeps the value
 * readable, the old id opens while it is listed and not after; the key
 * derivation and associated data are the documented ones (opened here
 * with libsodium directly).  Webhook tokens
 * (the same file) have their documented shape, and their Redis key is the
 * one proto/keys.md names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "alexus/crypto.h"
#include "alexus/hash.h"
#include "alexus/keys.h"

#define MASTER_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define OTHER_HEX "F00102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
#define SECRET "whsec_test_secret_do_not_use"

static unsigned char master[AX_MASTER_KEY_BYTES], other[AX_MASTER_KEY_BYTES];

static int setup(void **state)
{
	char err[128];

	(void)state;
	if (ax_crypto_master_parse(MASTER_HEX, master, err, sizeof(err)) != AX_OK ||
	    ax_crypto_master_parse(OTHER_HEX, other, err, sizeof(err)) != AX_OK)
		return -1;
	return 0;
}

static int contains(const unsigned char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	for (i = 0; i + k <= n; i++) {
		if (memcmp(hay + i, needle, k) == 0)
			return 1;
	}
	return 0;
}

static void seal(const unsigned char *m, const char *tenant, const char *plain,
		 unsigned char *box, size_t *boxlen)
{
	assert_int_equal(ax_crypto_seal(m, tenant, (const unsigned char *)plain, strlen(plain), box,
					boxlen),
			 AX_OK);
	assert_int_equal(*boxlen, strlen(plain) + AX_BOX_OVERHEAD);
}

static void test_round_trip(void **state)
{
	unsigned char box[256], box2[256], plain[256];
	size_t boxlen, boxlen2, len;

	(void)state;
	seal(master, "acme", SECRET, box, &boxlen);
	assert_int_equal(ax_crypto_open(master, "acme", box, boxlen, plain, &len), AX_OK);
	assert_int_equal(len, strlen(SECRET));
	assert_string_equal((char *)plain, SECRET);
	/* The plaintext is not in the box, and a second seal differs. */
	assert_false(contains(box, boxlen, SECRET));
	seal(master, "acme", SECRET, box2, &boxlen2);
	assert_int_equal(boxlen, boxlen2);
	assert_memory_not_equal(box, box2, AX_BOX_NONCE_BYTES);
	assert_memory_not_equal(box + AX_BOX_NONCE_BYTES, box2 + AX_BOX_NONCE_BYTES,
				boxlen - AX_BOX_NONCE_BYTES);
	/* Empty and maximal plaintexts. */
	assert_int_equal(ax_crypto_seal(master, "acme", NULL, 0, box, &boxlen), AX_OK);
	assert_int_equal(boxlen, AX_BOX_OVERHEAD);
	assert_int_equal(ax_crypto_open(master, "acme", box, boxlen, plain, &len), AX_OK);
	assert_int_equal(len, 0);
	{
		unsigned char *big = malloc(AX_BOX_MAX_PLAIN + AX_BOX_OVERHEAD + 1);
		unsigned char *in = malloc(AX_BOX_MAX_PLAIN + 1);
		unsigned char *out = malloc(AX_BOX_MAX_PLAIN + 1);

		randombytes_buf(in, AX_BOX_MAX_PLAIN + 1);
		assert_int_equal(ax_crypto_seal(master, "acme", in, AX_BOX_MAX_PLAIN, big, &boxlen),
				 AX_OK);
		assert_int_equal(ax_crypto_open(master, "acme", big, boxlen, out, &len), AX_OK);
		assert_memory_equal(in, out, AX_BOX_MAX_PLAIN);
		assert_int_equal(ax_crypto_seal(master, "acme", in, AX_BOX_MAX_PLAIN + 1, big,
						&boxlen),
				 AX_EINVAL);
		free(big);
		free(in);
		free(out);
	}
}

static void test_wrong_tenant_or_master(void **state)
{
	unsigned char box[256], plain[256];
	size_t boxlen, len = 99;

	(void)state;
	seal(master, "acme", SECRET, box, &boxlen);
	memset(plain, 'x', sizeof(plain));
	assert_int_equal(ax_crypto_open(master, "acme2", box, boxlen, plain, &len), AX_EAUTH);
	assert_int_equal(len, 0);
	assert_int_equal(plain[0], 0); /* wiped */
	assert_int_equal(ax_crypto_open(master, "acm", box, boxlen, plain, &len), AX_EAUTH);
	assert_int_equal(ax_crypto_open(other, "acme", box, boxlen, plain, &len), AX_EAUTH);
	/* Not a tenant id at all. */
	assert_int_equal(ax_crypto_open(master, "Acme", box, boxlen, plain, &len), AX_EINVAL);
	assert_int_equal(ax_crypto_seal(master, "a}b", (const unsigned char *)"x", 1, box, &boxlen),
			 AX_EINVAL);
}

static void test_tampered(void **state)
{
	unsigned char box[256], plain[256];
	size_t boxlen, len, i;

	(void)state;
	seal(master, "acme", SECRET, box, &boxlen);
	/* Every single bit of the box matters: nonce, MAC and ciphertext. */
	for (i = 0; i < boxlen * 8; i++) {
		box[i / 8] ^= (unsigned char)(1u << (i % 8));
		assert_int_equal(ax_crypto_open(master, "acme", box, boxlen, plain, &len), AX_EAUTH);
		box[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	assert_int_equal(ax_crypto_open(master, "acme", box, boxlen - 1, plain, &len), AX_EAUTH);
	assert_int_equal(ax_crypto_open(master, "acme", box, AX_BOX_OVERHEAD - 1, plain, &len),
			 AX_EINVAL);
	assert_int_equal(ax_crypto_open(master, "acme", box, boxlen, plain, &len), AX_OK);
}

static void test_bad_master(void **state)
{
	static const char *const bad[] = {
		"",
		"0001",
		MASTER_HEX "00",                                                     /* 66 */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",   /* 63 */
		"g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",  /* not hex */
		" 00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",  /* blank */
		"00:102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"0000000000000000000000000000000000000000000000000000000000000000",  /* zeros */
	};
	unsigned char m[AX_MASTER_KEY_BYTES];
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(ax_crypto_master_parse(bad[i], m, err, sizeof(err)), AX_EINVAL);
		assert_non_null(strstr(err, "ALEXUS_MASTER_KEY"));
	}
	assert_int_equal(ax_crypto_master_parse(NULL, m, err, sizeof(err)), AX_EINVAL);
	/* Case does not matter. */
	assert_int_equal(ax_crypto_master_parse(OTHER_HEX, m, err, sizeof(err)), AX_OK);
	assert_memory_equal(m, other, sizeof(m));
	assert_int_equal(m[0], 0xf0);
	assert_int_equal(m[31], 0x1f);
}

/* The derivation documented in crypto.h, recomputed independently. */
static void test_tenant_key_derivation(void **state)
{
	static const char label[] = "alexus/tenant-key/v1";
	unsigned char want[AX_TENANT_KEY_BYTES], got[AX_TENANT_KEY_BYTES];
	unsigned char other_tenant[AX_TENANT_KEY_BYTES], msg[128];
	size_t n;

	(void)state;
	memcpy(msg, label, sizeof(label)); /* with its NUL */
	memcpy(msg + sizeof(label), "acme", 4);
	n = sizeof(label) + 4;
	crypto_generichash(want, sizeof(want), msg, n, master, sizeof(master));
	assert_int_equal(ax_crypto_tenant_key(master, "acme", got), AX_OK);
	assert_memory_equal(got, want, sizeof(got));
	assert_int_equal(ax_crypto_tenant_key(master, "acme1", other_tenant), AX_OK);
	assert_memory_not_equal(got, other_tenant, sizeof(got));
	assert_int_equal(ax_crypto_tenant_key(other, "acme", other_tenant), AX_OK);
	assert_memory_not_equal(got, other_tenant, sizeof(got));
	assert_int_equal(ax_crypto_tenant_key(master, "", got), AX_EINVAL);
}

static void test_b64(void **state)
{
	unsigned char box[256], back[256], plain[64];
	size_t boxlen, backlen, len;
	char *text;

	(void)state;
	seal(master, "acme", SECRET, box, &boxlen);
	text = ax_crypto_box_b64(box, boxlen);
	assert_null(strchr(text, '='));
	assert_null(strchr(text, ','));
	assert_int_equal(ax_crypto_box_unb64(text, strlen(text), back, sizeof(back), &backlen),
			 AX_OK);
	assert_int_equal(backlen, boxlen);
	assert_memory_equal(back, box, boxlen);
	assert_int_equal(ax_crypto_open(master, "acme", back, backlen, plain, &len), AX_OK);
	assert_string_equal((char *)plain, SECRET);
	/* Too small a buffer, junk, trailing garbage. */
	assert_int_equal(ax_crypto_box_unb64(text, strlen(text), back, boxlen - 1, &backlen),
			 AX_EINVAL);
	assert_int_equal(ax_crypto_box_unb64("!!!!", 4, back, sizeof(back), &backlen), AX_EINVAL);
	text[strlen(text) - 1] = ',';
	assert_int_equal(ax_crypto_box_unb64(text, strlen(text), back, sizeof(back), &backlen),
			 AX_EINVAL);
	assert_int_equal(ax_crypto_box_unb64("", 0, back, sizeof(back), &backlen), AX_EINVAL);
	free(text);
}

/* Webhook tokens: shape, randomness, the hash that is stored, the key. */
static void test_whtoken(void **state)
{
	char a[AX_WHTOKEN_LEN + 1], b[AX_WHTOKEN_LEN + 1], hex[AX_SHA256_HEX];
	char key[AX_KEY_MAX], bad[AX_WHTOKEN_LEN + 2];
	unsigned char raw[64];
	size_t rawlen;

	(void)state;
	ax_whtoken_new(a);
	ax_whtoken_new(b);
	assert_int_equal(strlen(a), AX_WHTOKEN_LEN);
	assert_memory_equal(a, "axw_", 4);
	assert_true(ax_whtoken_valid(a));
	assert_string_not_equal(a, b);
	/* 43 base64url characters are 32 bytes. */
	assert_int_equal(sodium_base642bin(raw, sizeof(raw), a + 4, 43, NULL, &rawlen, NULL,
					   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
			 0);
	assert_int_equal(rawlen, 32);

	snprintf(bad, sizeof(bad), "%s", a);
	bad[10] = '+';                          /* not base64url */
	assert_false(ax_whtoken_valid(bad));
	snprintf(bad, sizeof(bad), "%sA", a);   /* one too many */
	assert_false(ax_whtoken_valid(bad));
	assert_false(ax_whtoken_valid(a + 1));
	assert_false(ax_whtoken_valid("axw_"));
	assert_false(ax_whtoken_valid(NULL));
	bad[0] = 'A';
	bad[AX_WHTOKEN_LEN] = '\0';
	assert_false(ax_whtoken_valid(bad));    /* prefix is case-sensitive */

	/* The stored hash (FIPS 180-2 test vector) and its key. */
	ax_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(ax_key_whtoken(key, sizeof(key), hex), 15 + 64);
	assert_string_equal(key, "alexus:whtoken:"
				 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex[0] = 'B';
	assert_int_equal(ax_key_whtoken(key, sizeof(key), hex), -1);
	assert_string_equal(key, "");
	assert_int_equal(ax_key_whtoken(key, sizeof(key), "abc"), -1);
	assert_int_equal(ax_key_whtoken(key, 20, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), -1);
}

/* ------------------------------------------------------- credentials */

#define CRED "xoxb-slack-bot-token-1234"

static struct ax_keyring ring(const char *cur, const char *id, const char *older)
{
	struct ax_keyring kr;
	char err[256];

	if (ax_keyring_init(&kr, cur, id, older, err, sizeof(err)) != AX_OK)
		fail_msg("keyring: %s", err);
	return kr;
}

static void cred_seal(const struct ax_keyring *kr, const char *tenant, const char *name,
		      unsigned char nonce[AX_AEAD_NONCE_BYTES], unsigned char *ct, size_t *ctlen,
		      unsigned int *kid)
{
	assert_int_equal(ax_crypto_cred_seal(kr, tenant, name, (const unsigned char *)CRED,
					     strlen(CRED), nonce, ct, ctlen, kid),
			 AX_OK);
	assert_int_equal(*ctlen, strlen(CRED) + AX_AEAD_MAC_BYTES);
	assert_int_equal(*kid, kr->current);
	assert_false(contains(ct, *ctlen, CRED));
}

static ax_err cred_open(const struct ax_keyring *kr, unsigned int kid, const char *tenant,
			const char *name, const unsigned char *nonce, const unsigned char *ct,
			size_t ctlen, char *out)
{
	size_t len = 99;
	ax_err rc = ax_crypto_cred_open(kr, kid, tenant, name, nonce, ct, ctlen,
					(unsigned char *)out, &len);

	if (rc == AX_OK)
		assert_int_equal(len, strlen(out));
	else
		assert_int_equal(len, 0);
	return rc;
}

static void test_keyring(void **state)
{
	static const char *const bad_older[] = {
		"1" MASTER_HEX,                      /* no colon */
		"0:" MASTER_HEX,                     /* id 0 */
		"2147483648:" MASTER_HEX,            /* id too big */
		"x:" MASTER_HEX,
		"2:" MASTER_HEX "00",                /* 66 digits */
		"2:" MASTER_HEX ",2:" OTHER_HEX,     /* id twice */
		"1:" OTHER_HEX,                      /* current id, another key */
		"2:0000000000000000000000000000000000000000000000000000000000000000",
	};
	struct ax_keyring kr;
	char err[256], many[16 * 80 + 1];
	size_t i;

	(void)state;
	/* Default id 1, no older keys. */
	kr = ring(MASTER_HEX, NULL, NULL);
	assert_int_equal(kr.current, 1);
	assert_int_equal(kr.n, 1);
	assert_memory_equal(ax_keyring_master(&kr, 1), master, AX_MASTER_KEY_BYTES);
	assert_null(ax_keyring_master(&kr, 2));
	kr = ring(MASTER_HEX, "", "");
	assert_int_equal(kr.current, 1);
	assert_int_equal(kr.n, 1);
	/* A current id and a list, blanks tolerated; the current key listed
	 * again (same key) is not a second entry. */
	kr = ring(OTHER_HEX, "7", " 3:" MASTER_HEX " , 7:" OTHER_HEX ",");
	assert_int_equal(kr.current, 7);
	assert_int_equal(kr.n, 2);
	assert_memory_equal(ax_keyring_master(&kr, 7), other, AX_MASTER_KEY_BYTES);
	assert_memory_equal(ax_keyring_master(&kr, 3), master, AX_MASTER_KEY_BYTES);
	ax_keyring_wipe(&kr);
	assert_int_equal(kr.n, 0);
	assert_null(ax_keyring_master(&kr, 7));
	ax_keyring_wipe(NULL);

	for (i = 0; i < sizeof(bad_older) / sizeof(bad_older[0]); i++) {
		err[0] = '\0';
		assert_int_equal(ax_keyring_init(&kr, MASTER_HEX, "1", bad_older[i], err,
						 sizeof(err)),
				 AX_EINVAL);
		assert_true(strlen(err) > 0);
		/* Errors name the entry, never the key. */
		assert_null(strstr(err, "0102030405"));
		assert_int_equal(kr.n, 0);
	}
	assert_int_equal(ax_keyring_init(&kr, MASTER_HEX, "0", NULL, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "ALEXUS_MASTER_KEY_ID"));
	assert_int_equal(ax_keyring_init(&kr, MASTER_HEX, "1x", NULL, err, sizeof(err)),
			 AX_EINVAL);
	assert_int_equal(ax_keyring_init(&kr, "", "1", NULL, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "ALEXUS_MASTER_KEY"));
	/* At most AX_KEYRING_MAX keys: the current one and 15 older fit. */
	many[0] = '\0';
	for (i = 2; i <= AX_KEYRING_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%zu:%02zx%s,", i, i,
			 MASTER_HEX + 2);
	kr = ring(MASTER_HEX, "1", many);
	assert_int_equal(kr.n, AX_KEYRING_MAX);
	assert_int_equal(ax_keyring_master(&kr, 16)[0], 0x10);
	snprintf(many + strlen(many), sizeof(many) - strlen(many), "17:%s", OTHER_HEX);
	assert_int_equal(ax_keyring_init(&kr, MASTER_HEX, "1", many, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "more than"));
}

static void test_cred_bound_to_row(void **state)
{
	unsigned char nonce[AX_AEAD_NONCE_BYTES], ct[256], ct2[256], n2[AX_AEAD_NONCE_BYTES];
	struct ax_keyring k1 = ring(MASTER_HEX, "1", NULL);
	/* The same master under id 2, and another master under id 1. */
	struct ax_keyring same2 = ring(MASTER_HEX, "2", NULL);
	struct ax_keyring other1 = ring(OTHER_HEX, "1", NULL);
	char out[256];
	size_t ctlen, ctlen2, i;
	unsigned int kid;

	(void)state;
	cred_seal(&k1, "acme", "slack", nonce, ct, &ctlen, &kid);
	assert_int_equal(kid, 1);
	assert_int_equal(cred_open(&k1, 1, "acme", "slack", nonce, ct, ctlen, out), AX_OK);
	assert_string_equal(out, CRED);
	/* A second seal differs (random nonce). */
	cred_seal(&k1, "acme", "slack", n2, ct2, &ctlen2, &kid);
	assert_memory_not_equal(nonce, n2, sizeof(nonce));
	assert_memory_not_equal(ct, ct2, ctlen);

	/* Another tenant, another name, another key id, another master. */
	assert_int_equal(cred_open(&k1, 1, "acme2", "slack", nonce, ct, ctlen, out), AX_EAUTH);
	assert_string_equal(out, "");
	assert_int_equal(cred_open(&k1, 1, "acme", "jira", nonce, ct, ctlen, out), AX_EAUTH);
	assert_int_equal(cred_open(&k1, 1, "acme", "Slack", nonce, ct, ctlen, out), AX_EAUTH);
	assert_int_equal(cred_open(&same2, 2, "acme", "slack", nonce, ct, ctlen, out), AX_EAUTH);
	assert_int_equal(cred_open(&other1, 1, "acme", "slack", nonce, ct, ctlen, out), AX_EAUTH);
	/* An id the keyring does not hold is its own answer. */
	assert_int_equal(cred_open(&k1, 2, "acme", "slack", nonce, ct, ctlen, out), AX_ENOTFOUND);
	/* Swapping two rows' nonces is tampering too. */
	assert_int_equal(cred_open(&k1, 1, "acme", "slack", n2, ct, ctlen, out), AX_EAUTH);

	/* Every altered byte, and every cut, is refused. */
	for (i = 0; i < ctlen; i++) {
		ct[i] ^= 0x01;
		assert_int_equal(cred_open(&k1, 1, "acme", "slack", nonce, ct, ctlen, out),
				 AX_EAUTH);
		ct[i] ^= 0x01;
	}
	for (i = 0; i < sizeof(nonce); i++) {
		nonce[i] ^= 0x80;
		assert_int_equal(cred_open(&k1, 1, "acme", "slack", nonce, ct, ctlen, out),
				 AX_EAUTH);
		nonce[i] ^= 0x80;
	}
	assert_int_equal(cred_open(&k1, 1, "acme", "slack", nonce, ct, ctlen - 1, out), AX_EAUTH);
	assert_int_equal(cred_open(&k1, 1, "acme", "slack", nonce, ct, AX_AEAD_MAC_BYTES - 1, out),
			 AX_EINVAL);
	assert_int_equal(cred_open(&k1, 1, "acme", "slack", nonce, ct, ctlen, out), AX_OK);

	/* Bad arguments. */
	assert_int_equal(ax_crypto_cred_seal(&k1, "Bad Tenant", "slack", (const unsigned char *)"x",
					     1, nonce, ct, &ctlen, &kid),
			 AX_EINVAL);
	assert_int_equal(ax_crypto_cred_seal(&k1, "acme", "", (const unsigned char *)"x", 1, nonce,
					     ct, &ctlen, &kid),
			 AX_EINVAL);
	ax_keyring_wipe(&k1);
	assert_int_equal(ax_crypto_cred_seal(&k1, "acme", "slack", (const unsigned char *)"x", 1,
					     nonce, ct, &ctlen, &kid),
			 AX_EINVAL);
}

static void test_cred_rotation(void **state)
{
	unsigned char nonce[AX_AEAD_NONCE_BYTES], ct[256], n2[AX_AEAD_NONCE_BYTES], ct2[256];
	struct ax_keyring before = ring(MASTER_HEX, NULL, NULL);
	/* The operator's rotation: a new current key, the old one listed. */
	struct ax_keyring during = ring(OTHER_HEX, "2", "1:" MASTER_HEX);
	struct ax_keyring after = ring(OTHER_HEX, "2", NULL);
	char out[256];
	size_t ctlen, ctlen2;
	unsigned int kid;

	(void)state;
	cred_seal(&before, "acme", "llm", nonce, ct, &ctlen, &kid);
	assert_int_equal(kid, 1);
	/* While id 1 is listed, old values open... */
	assert_int_equal(cred_open(&during, 1, "acme", "llm", nonce, ct, ctlen, out), AX_OK);
	assert_string_equal(out, CRED);
	/* ...and what rotate does, reseal under the current id, keeps the
	 * value, now under id 2. */
	assert_int_equal(ax_crypto_cred_seal(&during, "acme", "llm", (unsigned char *)out,
					     strlen(out), n2, ct2, &ctlen2, &kid),
			 AX_OK);
	assert_int_equal(kid, 2);
	assert_int_equal(cred_open(&after, 2, "acme", "llm", n2, ct2, ctlen2, out), AX_OK);
	assert_string_equal(out, CRED);
	assert_int_equal(cred_open(&during, 2, "acme", "llm", n2, ct2, ctlen2, out), AX_OK);
	/* Once id 1 is dropped, a value left behind no longer opens, and the
	 * key holder before the rotation cannot read the new one. */
	assert_int_equal(cred_open(&after, 1, "acme", "llm", nonce, ct, ctlen, out), AX_ENOTFOUND);
	assert_int_equal(cred_open(&before, 2, "acme", "llm", n2, ct2, ctlen2, out), AX_ENOTFOUND);
	/* Relabelling the new row as id 1 does not open it either. */
	assert_int_equal(cred_open(&during, 1, "acme", "llm", n2, ct2, ctlen2, out), AX_EAUTH);
}

/* The derivation and associated data documented in crypto.h, recomputed
 * with libsodium alone. */
static void test_cred_format(void **state)
{
	static const char klabel[] = "alexus/cred-key/v1", alabel[] = "alexus/cred/v1";
	unsigned char nonce[AX_AEAD_NONCE_BYTES], ct[256], key[32], got[32], msg[128], ad[128];
	unsigned char plain[256];
	struct ax_keyring kr = ring(MASTER_HEX, "258", NULL);   /* 0x00000102 */
	unsigned long long plen;
	size_t ctlen, n, adlen;
	unsigned int kid;

	(void)state;
	memcpy(msg, klabel, sizeof(klabel));
	n = sizeof(klabel);
	msg[n++] = 0;
	msg[n++] = 0;
	msg[n++] = 1;
	msg[n++] = 2;
	memcpy(msg + n, "acme", 4);
	n += 4;
	crypto_generichash(key, sizeof(key), msg, n, master, sizeof(master));
	assert_int_equal(ax_crypto_cred_key(master, 258, "acme", got), AX_OK);
	assert_memory_equal(got, key, sizeof(key));
	/* Not the secretbox key, and not another id's. */
	assert_int_equal(ax_crypto_tenant_key(master, "acme", got), AX_OK);
	assert_memory_not_equal(got, key, sizeof(key));
	assert_int_equal(ax_crypto_cred_key(master, 259, "acme", got), AX_OK);
	assert_memory_not_equal(got, key, sizeof(key));
	assert_int_equal(ax_crypto_cred_key(master, 0, "acme", got), AX_EINVAL);

	memcpy(ad, alabel, sizeof(alabel));
	adlen = sizeof(alabel);
	memcpy(ad + adlen, "acme\0jira\0\0\0\x01\x02", 14);
	adlen += 14;
	cred_seal(&kr, "acme", "jira", nonce, ct, &ctlen, &kid);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, ct, ctlen,
								    ad, adlen, nonce, key),
			 0);
	assert_int_equal(plen, strlen(CRED));
	assert_memory_equal(plain, CRED, plen);
}

/* Approval links: a signature holds for exactly the tenant, approval,
 * decision and expiry it was made for, under that master key. */
static void test_link(void **state)
{
	unsigned char m1[AX_MASTER_KEY_BYTES], m2[AX_MASTER_KEY_BYTES];
	const char *id = "0190aaaa-0000-7000-8000-000000000001";
	char sig[AX_LINK_SIG_LEN + 1], sig2[AX_LINK_SIG_LEN + 1];

	(void)state;
	memset(m1, 0x11, sizeof(m1));
	memset(m2, 0x22, sizeof(m2));
	assert_int_equal(ax_link_sign(m1, "acme", id, "approve", 1900000000LL, sig), AX_OK);
	assert_int_equal(strlen(sig), AX_LINK_SIG_LEN);
	assert_true(ax_link_verify(m1, "acme", id, "approve", 1900000000LL, sig));
	assert_false(ax_link_verify(m1, "acme", id, "reject", 1900000000LL, sig));
	assert_false(ax_link_verify(m1, "acme", id, "approve", 1900000001LL, sig));
	assert_false(ax_link_verify(m1, "other", id, "approve", 1900000000LL, sig));
	assert_false(ax_link_verify(m1, "acme", "0190aaaa-0000-7000-8000-000000000002", "approve",
				    1900000000LL, sig));
	assert_false(ax_link_verify(m2, "acme", id, "approve", 1900000000LL, sig));
	assert_false(ax_link_verify(m1, "acme", id, "approve", 1900000000LL, "abc"));
	assert_false(ax_link_verify(m1, "acme", id, "approve", 1900000000LL, NULL));
	assert_int_equal(ax_link_sign(m1, "acme", id, "reject", 1900000000LL, sig2), AX_OK);
	assert_string_not_equal(sig, sig2);
	assert_int_equal(ax_link_sign(m1, "bad tenant!", id, "approve", 1, sig2), AX_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_wrong_tenant_or_master),
		cmocka_unit_test(test_tampered),      cmocka_unit_test(test_bad_master),
		cmocka_unit_test(test_tenant_key_derivation), cmocka_unit_test(test_b64),
		cmocka_unit_test(test_whtoken),       cmocka_unit_test(test_keyring),
		cmocka_unit_test(test_cred_bound_to_row), cmocka_unit_test(test_cred_rotation),
		cmocka_unit_test(test_cred_format),    cmocka_unit_test(test_link),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
