/* test_crypto.c - per-tenant sealing of stored credentials (common/crypto.c).
 *
 * Round trip; a box sealed for one tenant does not open as another tenant
 * nor under another master key; any altered byte (nonce, MAC, ciphertext)
 * or a cut box is refused; two seals of the same secret differ (random
 * nonce); master keys that are not 64 hex digits are refused; the key
 * derivation is the documented one (recomputed here with libsodium), and
 * the base64 text form round-trips and refuses junk.  Webhook tokens
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_wrong_tenant_or_master),
		cmocka_unit_test(test_tampered),      cmocka_unit_test(test_bad_master),
		cmocka_unit_test(test_tenant_key_derivation), cmocka_unit_test(test_b64),
		cmocka_unit_test(test_whtoken),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
