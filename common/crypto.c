/* crypto.c - per-tenant sealing of stored credentials (see crypto.h).
 *
 * Key derivation.  The tenant key is crypto_generichash (BLAKE2b-256)
 * keyed with the master key over a domain-separation label and the tenant
 * id: a PRF of the master key, so keys of different tenants are
 * independent and none reveals the master.  crypto_kdf_derive_from_key
 * would do the same BLAKE2b computation but takes a 64-bit subkey id, so
 * the tenant id would first have to be hashed down to 64 bits (one more
 * step, and a theoretical collision between two tenants); hashing the id
 * itself avoids both.  The label carries a version so a future scheme can
 * live beside this one.
 *
 * Sealing is crypto_secretbox_easy (XSalsa20-Poly1305) with a random
 * 24-byte nonce per value: random nonces of that size never repeat in
 * practice, so no counter has to be stored.  Every derived key is wiped
 * (sodium_memzero) before return.  Nothing here logs or keeps state.
 *
 * Webhook tokens carry 256 bits from randombytes_buf, so a plain SHA-256
 * of the token is a safe thing to store and to look up by: there is
 * nothing to brute-force, and no salt is needed (a salt would also make
 * the lookup by hash impossible). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/crypto.h"
#include "alexus/keys.h"
#include "alexus/mem.h"

#define KDF_LABEL "alexus/tenant-key/v1"

_Static_assert(AX_BOX_NONCE_BYTES == crypto_secretbox_NONCEBYTES, "nonce size");
_Static_assert(AX_BOX_MAC_BYTES == crypto_secretbox_MACBYTES, "mac size");
_Static_assert(AX_TENANT_KEY_BYTES == crypto_secretbox_KEYBYTES, "key size");
_Static_assert(AX_MASTER_KEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
		       AX_MASTER_KEY_BYTES <= crypto_generichash_KEYBYTES_MAX,
	       "master key size");

ax_err ax_crypto_master_parse(const char *hex, unsigned char master[AX_MASTER_KEY_BYTES],
			      char *errbuf, size_t errlen)
{
	static const unsigned char zero[AX_MASTER_KEY_BYTES];
	size_t n, binlen = 0, i;

	if (sodium_init() < 0) {
		ax_errfmt(errbuf, errlen, "libsodium cannot be initialised");
		return AX_EIO;
	}
	if (hex == NULL || hex[0] == '\0') {
		ax_errfmt(errbuf, errlen, "ALEXUS_MASTER_KEY is not set");
		return AX_EINVAL;
	}
	n = strlen(hex);
	if (n != 2 * AX_MASTER_KEY_BYTES) {
		ax_errfmt(errbuf, errlen, "ALEXUS_MASTER_KEY must be %d hex digits, not %zu "
					  "characters",
			  2 * AX_MASTER_KEY_BYTES, n);
		return AX_EINVAL;
	}
	for (i = 0; i < n; i++) {
		char c = hex[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
			ax_errfmt(errbuf, errlen, "ALEXUS_MASTER_KEY must be hex digits only");
			return AX_EINVAL;
		}
	}
	if (sodium_hex2bin(master, AX_MASTER_KEY_BYTES, hex, n, NULL, &binlen, NULL) != 0 ||
	    binlen != AX_MASTER_KEY_BYTES) {
		sodium_memzero(master, AX_MASTER_KEY_BYTES);
		ax_errfmt(errbuf, errlen, "ALEXUS_MASTER_KEY must be %d hex digits",
			  2 * AX_MASTER_KEY_BYTES);
		return AX_EINVAL;
	}
	if (sodium_memcmp(master, zero, AX_MASTER_KEY_BYTES) == 0) {
		ax_errfmt(errbuf, errlen, "ALEXUS_MASTER_KEY is all zeros");
		return AX_EINVAL;
	}
	return AX_OK;
}

ax_err ax_crypto_tenant_key(const unsigned char master[AX_MASTER_KEY_BYTES], const char *tenant,
			    unsigned char key[AX_TENANT_KEY_BYTES])
{
	crypto_generichash_state st;

	if (!ax_tenant_valid(tenant)) {
		sodium_memzero(key, AX_TENANT_KEY_BYTES);
		return AX_EINVAL;
	}
	/* The label's NUL separates it from the tenant: no (label, tenant)
	 * pair can be spelled as another. */
	crypto_generichash_init(&st, master, AX_MASTER_KEY_BYTES, AX_TENANT_KEY_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)KDF_LABEL, sizeof(KDF_LABEL));
	crypto_generichash_update(&st, (const unsigned char *)tenant, strlen(tenant));
	crypto_generichash_final(&st, key, AX_TENANT_KEY_BYTES);
	sodium_memzero(&st, sizeof(st));
	return AX_OK;
}

ax_err ax_crypto_seal(const unsigned char master[AX_MASTER_KEY_BYTES], const char *tenant,
		      const unsigned char *plain, size_t len, unsigned char *box, size_t *boxlen)
{
	unsigned char key[AX_TENANT_KEY_BYTES];

	if (len > AX_BOX_MAX_PLAIN || (plain == NULL && len > 0))
		return AX_EINVAL;
	if (ax_crypto_tenant_key(master, tenant, key) != AX_OK)
		return AX_EINVAL;
	randombytes_buf(box, AX_BOX_NONCE_BYTES);
	crypto_secretbox_easy(box + AX_BOX_NONCE_BYTES, plain, len, box, key);
	sodium_memzero(key, sizeof(key));
	*boxlen = len + AX_BOX_OVERHEAD;
	return AX_OK;
}

ax_err ax_crypto_open(const unsigned char master[AX_MASTER_KEY_BYTES], const char *tenant,
		      const unsigned char *box, size_t boxlen, unsigned char *plain, size_t *len)
{
	unsigned char key[AX_TENANT_KEY_BYTES];
	size_t n;
	int bad;

	*len = 0;
	if (box == NULL || boxlen < AX_BOX_OVERHEAD || boxlen > AX_BOX_MAX_PLAIN + AX_BOX_OVERHEAD)
		return AX_EINVAL;
	if (ax_crypto_tenant_key(master, tenant, key) != AX_OK)
		return AX_EINVAL;
	n = boxlen - AX_BOX_OVERHEAD;
	bad = crypto_secretbox_open_easy(plain, box + AX_BOX_NONCE_BYTES,
					 boxlen - AX_BOX_NONCE_BYTES, box, key) != 0;
	sodium_memzero(key, sizeof(key));
	if (bad) {
		sodium_memzero(plain, n + 1);
		return AX_EAUTH;
	}
	plain[n] = '\0';
	*len = n;
	return AX_OK;
}

char *ax_crypto_box_b64(const unsigned char *box, size_t boxlen)
{
	size_t n = sodium_base64_ENCODED_LEN(boxlen, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	char *out = ax_xmalloc(n);

	sodium_bin2base64(out, n, box, boxlen, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	return out;
}

ax_err ax_crypto_box_unb64(const char *b64, size_t b64len, unsigned char *box, size_t boxmax,
			   size_t *boxlen)
{
	const char *end = NULL;

	*boxlen = 0;
	if (b64 == NULL || b64len == 0)
		return AX_EINVAL;
	if (sodium_base642bin(box, boxmax, b64, b64len, NULL, boxlen, &end,
			      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
	    end != b64 + b64len) {
		*boxlen = 0;
		return AX_EINVAL;
	}
	return AX_OK;
}

void ax_whtoken_new(char out[AX_WHTOKEN_LEN + 1])
{
	unsigned char raw[32];

	if (sodium_init() < 0)
		abort();   /* no randomness: nothing safe to hand out */
	randombytes_buf(raw, sizeof(raw));
	memcpy(out, AX_WHTOKEN_PREFIX, 4);
	sodium_bin2base64(out + 4, AX_WHTOKEN_LEN + 1 - 4, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

int ax_whtoken_valid(const char *s)
{
	size_t i;

	if (s == NULL || strncmp(s, AX_WHTOKEN_PREFIX, 4) != 0)
		return 0;
	for (i = 4; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= AX_WHTOKEN_LEN ||
		    !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return i == AX_WHTOKEN_LEN;
}
