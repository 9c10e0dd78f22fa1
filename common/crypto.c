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
 * Credentials (ax_crypto_cred_*) use an AEAD instead of a bare box so
 * that the row a value belongs to is authenticated along with it:
 * XChaCha20-Poly1305-IETF, whose 24-byte nonce is again safe to draw at
 * random, with (tenant, name, key id) as associated data.  Their key is
 * derived as above but under its own label and with the key id in the
 * input, so every key id -- even one that reuses a master by mistake --
 * yields its own key.  The keyring is a fixed array searched linearly: a
 * handful of keys during a rotation, never more than AX_KEYRING_MAX.
 *
 * Webhook tokens carry 256 bits from randombytes_buf, so a plain SHA-256
 * of the token is a safe thing to store and to look up by: there is
 * nothing to brute-force, and no salt is needed (a salt would also make
 * the lookup by hash impossible). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/crypto.h"
#include "alexus/keys.h"
#include "alexus/mem.h"

#define KDF_LABEL "alexus/tenant-key/v1"
#define CRED_KDF_LABEL "alexus/cred-key/v1"
#define CRED_AD_LABEL "alexus/cred/v1"

_Static_assert(AX_BOX_NONCE_BYTES == crypto_secretbox_NONCEBYTES, "nonce size");
_Static_assert(AX_BOX_MAC_BYTES == crypto_secretbox_MACBYTES, "mac size");
_Static_assert(AX_TENANT_KEY_BYTES == crypto_secretbox_KEYBYTES, "key size");
_Static_assert(AX_AEAD_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "aead nonce");
_Static_assert(AX_AEAD_MAC_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "aead tag");
_Static_assert(AX_TENANT_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "aead key");
_Static_assert(AX_MASTER_KEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
		       AX_MASTER_KEY_BYTES <= crypto_generichash_KEYBYTES_MAX,
	       "master key size");

/* Parse n characters of hex into master; what names the source in errors
 * ("ALEXUS_MASTER_KEY", "ALEXUS_MASTER_KEYS entry 2"), which never
 * quote the key itself. */
static ax_err parse_master(const char *hex, size_t n, unsigned char master[AX_MASTER_KEY_BYTES],
			   const char *what, char *errbuf, size_t errlen)
{
	static const unsigned char zero[AX_MASTER_KEY_BYTES];
	size_t binlen = 0, i;

	if (n != 2 * AX_MASTER_KEY_BYTES) {
		ax_errfmt(errbuf, errlen, "%s must be %d hex digits, not %zu characters", what,
			  2 * AX_MASTER_KEY_BYTES, n);
		return AX_EINVAL;
	}
	for (i = 0; i < n; i++) {
		char c = hex[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
			ax_errfmt(errbuf, errlen, "%s must be hex digits only", what);
			return AX_EINVAL;
		}
	}
	if (sodium_hex2bin(master, AX_MASTER_KEY_BYTES, hex, n, NULL, &binlen, NULL) != 0 ||
	    binlen != AX_MASTER_KEY_BYTES) {
		sodium_memzero(master, AX_MASTER_KEY_BYTES);
		ax_errfmt(errbuf, errlen, "%s must be %d hex digits", what,
			  2 * AX_MASTER_KEY_BYTES);
		return AX_EINVAL;
	}
	if (sodium_memcmp(master, zero, AX_MASTER_KEY_BYTES) == 0) {
		ax_errfmt(errbuf, errlen, "%s is all zeros", what);
		return AX_EINVAL;
	}
	return AX_OK;
}

ax_err ax_crypto_master_parse(const char *hex, unsigned char master[AX_MASTER_KEY_BYTES],
			      char *errbuf, size_t errlen)
{
	if (sodium_init() < 0) {
		ax_errfmt(errbuf, errlen, "libsodium cannot be initialised");
		return AX_EIO;
	}
	if (hex == NULL || hex[0] == '\0') {
		ax_errfmt(errbuf, errlen, "ALEXUS_MASTER_KEY is not set");
		return AX_EINVAL;
	}
	return parse_master(hex, strlen(hex), master, "ALEXUS_MASTER_KEY", errbuf, errlen);
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

/* ------------------------------------------------------------ keyring */

/* A key id: decimal digits only, 1..AX_KEY_ID_MAX. */
static int parse_key_id(const char *s, size_t n, unsigned int *id)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > AX_KEY_ID_MAX)
		return -1;
	*id = (unsigned int)v;
	return 0;
}

const unsigned char *ax_keyring_master(const struct ax_keyring *kr, unsigned int id)
{
	size_t i;

	for (i = 0; kr != NULL && i < kr->n; i++)
		if (kr->keys[i].id == id)
			return kr->keys[i].key;
	return NULL;
}

void ax_keyring_wipe(struct ax_keyring *kr)
{
	if (kr != NULL)
		sodium_memzero(kr, sizeof(*kr));
}

ax_err ax_keyring_init(struct ax_keyring *kr, const char *current_hex, const char *current_id,
		       const char *older, char *errbuf, size_t errlen)
{
	unsigned char key[AX_MASTER_KEY_BYTES];
	const char *p;
	unsigned int id;
	int entry = 0;
	ax_err rc;

	memset(kr, 0, sizeof(*kr));
	rc = ax_crypto_master_parse(current_hex, kr->keys[0].key, errbuf, errlen);
	if (rc != AX_OK)
		goto fail;
	id = 1;
	if (current_id != NULL && current_id[0] != '\0' &&
	    parse_key_id(current_id, strlen(current_id), &id) != 0) {
		ax_errfmt(errbuf, errlen, "ALEXUS_MASTER_KEY_ID must be a whole number in 1..%d",
			  AX_KEY_ID_MAX);
		rc = AX_EINVAL;
		goto fail;
	}
	kr->keys[0].id = id;
	kr->current = id;
	kr->n = 1;
	/* "id:hex,id:hex"; blanks around entries are tolerated because the
	 * list is typed by hand into deployment files. */
	for (p = older; p != NULL && *p != '\0';) {
		const char *e, *colon, *h;
		size_t len;
		const unsigned char *have;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		entry++;
		e = strchr(p, ',');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		colon = memchr(p, ':', len);
		if (colon == NULL || parse_key_id(p, (size_t)(colon - p), &id) != 0) {
			ax_errfmt(errbuf, errlen, "ALEXUS_MASTER_KEYS entry %d must be ID:HEX "
				  "with ID in 1..%d", entry, AX_KEY_ID_MAX);
			rc = AX_EINVAL;
			goto fail;
		}
		{
			char what[64];

			snprintf(what, sizeof(what), "ALEXUS_MASTER_KEYS entry %d (key id %u)",
				 entry, id);
			h = colon + 1;
			rc = parse_master(h, len - (size_t)(h - p), key, what, errbuf, errlen);
			if (rc != AX_OK)
				goto fail;
		}
		have = ax_keyring_master(kr, id);
		if (have != NULL) {
			/* The current key listed again is harmless; a second,
			 * different key under one id would make values
			 * unreadable depending on which one won. */
			if (id == kr->current && sodium_memcmp(have, key, sizeof(key)) == 0) {
				p += len;
				continue;
			}
			ax_errfmt(errbuf, errlen, "key id %u is given twice (ALEXUS_MASTER_KEYS "
				  "entry %d)", id, entry);
			rc = AX_EINVAL;
			goto fail;
		}
		if (kr->n == AX_KEYRING_MAX) {
			ax_errfmt(errbuf, errlen, "more than %d master keys", AX_KEYRING_MAX);
			rc = AX_EINVAL;
			goto fail;
		}
		kr->keys[kr->n].id = id;
		memcpy(kr->keys[kr->n].key, key, sizeof(key));
		kr->n++;
		p += len;
	}
	sodium_memzero(key, sizeof(key));
	return AX_OK;
fail:
	sodium_memzero(key, sizeof(key));
	ax_keyring_wipe(kr);
	return rc;
}

/* ----------------------------------------------------- credential AEAD */

static void be32(unsigned char out[4], unsigned int v)
{
	out[0] = (unsigned char)(v >> 24);
	out[1] = (unsigned char)(v >> 16);
	out[2] = (unsigned char)(v >> 8);
	out[3] = (unsigned char)v;
}

ax_err ax_crypto_cred_key(const unsigned char master[AX_MASTER_KEY_BYTES], unsigned int key_id,
			  const char *tenant, unsigned char key[AX_TENANT_KEY_BYTES])
{
	crypto_generichash_state st;
	unsigned char id[4];

	if (!ax_tenant_valid(tenant) || key_id < 1 || key_id > AX_KEY_ID_MAX) {
		sodium_memzero(key, AX_TENANT_KEY_BYTES);
		return AX_EINVAL;
	}
	be32(id, key_id);
	crypto_generichash_init(&st, master, AX_MASTER_KEY_BYTES, AX_TENANT_KEY_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)CRED_KDF_LABEL,
				  sizeof(CRED_KDF_LABEL));
	crypto_generichash_update(&st, id, sizeof(id));
	crypto_generichash_update(&st, (const unsigned char *)tenant, strlen(tenant));
	crypto_generichash_final(&st, key, AX_TENANT_KEY_BYTES);
	sodium_memzero(&st, sizeof(st));
	return AX_OK;
}

/* The associated data of (tenant, name, key id) into ad (a new buffer). */
static unsigned char *cred_ad(const char *tenant, const char *name, unsigned int key_id,
			      size_t *adlen)
{
	size_t t = strlen(tenant), n = strlen(name);
	unsigned char *ad = ax_xmalloc(sizeof(CRED_AD_LABEL) + t + 1 + n + 1 + 4), *p = ad;

	memcpy(p, CRED_AD_LABEL, sizeof(CRED_AD_LABEL)); /* with its NUL */
	p += sizeof(CRED_AD_LABEL);
	memcpy(p, tenant, t + 1);
	p += t + 1;
	memcpy(p, name, n + 1);
	p += n + 1;
	be32(p, key_id);
	*adlen = (size_t)(p + 4 - ad);
	return ad;
}

ax_err ax_crypto_cred_seal(const struct ax_keyring *kr, const char *tenant, const char *name,
			   const unsigned char *plain, size_t len,
			   unsigned char nonce[AX_AEAD_NONCE_BYTES], unsigned char *ct,
			   size_t *ctlen, unsigned int *key_id)
{
	unsigned char key[AX_TENANT_KEY_BYTES], *ad;
	const unsigned char *master;
	unsigned long long clen = 0;
	size_t adlen;

	*ctlen = 0;
	if (kr == NULL || name == NULL || name[0] == '\0' || len > AX_BOX_MAX_PLAIN ||
	    (plain == NULL && len > 0))
		return AX_EINVAL;
	master = ax_keyring_master(kr, kr->current);
	if (master == NULL || ax_crypto_cred_key(master, kr->current, tenant, key) != AX_OK)
		return AX_EINVAL;
	ad = cred_ad(tenant, name, kr->current, &adlen);
	randombytes_buf(nonce, AX_AEAD_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, plain, len, ad, adlen, NULL, nonce,
						   key);
	sodium_memzero(key, sizeof(key));
	free(ad);
	*ctlen = (size_t)clen;
	*key_id = kr->current;
	return AX_OK;
}

ax_err ax_crypto_cred_open(const struct ax_keyring *kr, unsigned int key_id, const char *tenant,
			   const char *name, const unsigned char nonce[AX_AEAD_NONCE_BYTES],
			   const unsigned char *ct, size_t ctlen, unsigned char *plain,
			   size_t *len)
{
	unsigned char key[AX_TENANT_KEY_BYTES], *ad;
	const unsigned char *master;
	unsigned long long plen = 0;
	size_t adlen;
	int bad;

	*len = 0;
	if (kr == NULL || name == NULL || name[0] == '\0' || nonce == NULL || ct == NULL ||
	    ctlen < AX_AEAD_MAC_BYTES || ctlen > AX_BOX_MAX_PLAIN + AX_AEAD_MAC_BYTES)
		return AX_EINVAL;
	master = ax_keyring_master(kr, key_id);
	if (master == NULL)
		return AX_ENOTFOUND;
	if (ax_crypto_cred_key(master, key_id, tenant, key) != AX_OK)
		return AX_EINVAL;
	ad = cred_ad(tenant, name, key_id, &adlen);
	bad = crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, ct, ctlen, ad, adlen,
							 nonce, key) != 0;
	sodium_memzero(key, sizeof(key));
	free(ad);
	if (bad) {
		sodium_memzero(plain, ctlen - AX_AEAD_MAC_BYTES + 1);
		return AX_EAUTH;
	}
	plain[plen] = '\0';
	*len = (size_t)plen;
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

/* ------------------------------------------------------------ approval links */

static const char LINK_LABEL[] = "alexus/approval-link/v1";

static ax_err link_mac(const unsigned char master[AX_MASTER_KEY_BYTES], const char *tenant,
		       const char *approval_id, const char *decision, long long exp,
		       unsigned char mac[crypto_auth_BYTES])
{
	unsigned char key[crypto_auth_KEYBYTES];
	crypto_generichash_state st;
	crypto_auth_hmacsha512256_state as;
	char exps[24];

	if (!ax_tenant_valid(tenant) || approval_id == NULL || decision == NULL)
		return AX_EINVAL;
	crypto_generichash_init(&st, master, AX_MASTER_KEY_BYTES, sizeof(key));
	crypto_generichash_update(&st, (const unsigned char *)LINK_LABEL, sizeof(LINK_LABEL));
	crypto_generichash_update(&st, (const unsigned char *)tenant, strlen(tenant));
	crypto_generichash_final(&st, key, sizeof(key));
	snprintf(exps, sizeof(exps), "%lld", exp);
	crypto_auth_hmacsha512256_init(&as, key, sizeof(key));
	crypto_auth_hmacsha512256_update(&as, (const unsigned char *)approval_id,
					 strlen(approval_id) + 1);
	crypto_auth_hmacsha512256_update(&as, (const unsigned char *)decision, strlen(decision) + 1);
	crypto_auth_hmacsha512256_update(&as, (const unsigned char *)exps, strlen(exps));
	crypto_auth_hmacsha512256_final(&as, mac);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(&as, sizeof(as));
	return AX_OK;
}

ax_err ax_link_sign(const unsigned char master[AX_MASTER_KEY_BYTES], const char *tenant,
		    const char *approval_id, const char *decision, long long exp,
		    char sig[AX_LINK_SIG_LEN + 1])
{
	unsigned char mac[crypto_auth_BYTES];

	sig[0] = '\0';
	if (link_mac(master, tenant, approval_id, decision, exp, mac) != AX_OK)
		return AX_EINVAL;
	sodium_bin2hex(sig, AX_LINK_SIG_LEN + 1, mac, sizeof(mac));
	return AX_OK;
}

int ax_link_verify(const unsigned char master[AX_MASTER_KEY_BYTES], const char *tenant,
		   const char *approval_id, const char *decision, long long exp, const char *sig)
{
	unsigned char mac[crypto_auth_BYTES], got[crypto_auth_BYTES];
	size_t n = 0;

	if (sig == NULL || strlen(sig) != AX_LINK_SIG_LEN ||
	    sodium_hex2bin(got, sizeof(got), sig, AX_LINK_SIG_LEN, NULL, &n, NULL) != 0 ||
	    n != sizeof(got))
		return 0;
	if (link_mac(master, tenant, approval_id, decision, exp, mac) != AX_OK)
		return 0;
	return sodium_memcmp(mac, got, sizeof(mac)) == 0;
}
