/* crypto.h - per-tenant encryption of stored credentials (libsodium).
 *
 * One master key (ALEXUS_MASTER_KEY, 32 bytes as 64 hex digits) is the only
 * secret to keep; each tenant's key is derived from it, so a value sealed
 * for one tenant cannot be opened as another's even by code that has the
 * master key and a confused tenant id.  A sealed value ("box") is
 *   nonce (24 bytes, random) || crypto_secretbox_easy ciphertext (MAC + text)
 * and is what Postgres and Redis store; plaintext never leaves memory.
 * That box is the format of source signing secrets (source_secrets and
 * the Redis mirror ingest reads); it carries no key id, so it is always
 * sealed under the current master key (ALEXUS_MASTER_KEY) and `alexusctl
 * credentials rotate` re-seals it when that key changes.  Tenant
 * credentials use the keyed AEAD format further down. */
#ifndef AX_CRYPTO_H
#define AX_CRYPTO_H

#include <stddef.h>
#include "alexus/err.h"

#define AX_MASTER_KEY_BYTES 32
#define AX_TENANT_KEY_BYTES 32
#define AX_BOX_NONCE_BYTES 24     /* crypto_secretbox_NONCEBYTES */
#define AX_BOX_MAC_BYTES 16       /* crypto_secretbox_MACBYTES */
#define AX_BOX_OVERHEAD (AX_BOX_NONCE_BYTES + AX_BOX_MAC_BYTES)
#define AX_BOX_MAX_PLAIN 4096     /* largest credential sealed */

/* Parse 64 hex digits (either case, nothing else) into master.  AX_EINVAL
 * with errbuf saying why (empty, wrong length, not hex, all zero).
 * Calls sodium_init. */
ax_err ax_crypto_master_parse(const char *hex, unsigned char master[AX_MASTER_KEY_BYTES],
			      char *errbuf, size_t errlen) AX_MUSTCHECK;

/* The tenant's key: BLAKE2b-256 (crypto_generichash) keyed with the master
 * key over "alexus/tenant-key/v1" NUL tenant.  AX_EINVAL for an invalid
 * tenant id (key is then zeroed). */
ax_err ax_crypto_tenant_key(const unsigned char master[AX_MASTER_KEY_BYTES], const char *tenant,
			    unsigned char key[AX_TENANT_KEY_BYTES]) AX_MUSTCHECK;

/* Seal plain (len <= AX_BOX_MAX_PLAIN) for tenant with a fresh random
 * nonce into box, which must hold len + AX_BOX_OVERHEAD bytes; *boxlen
 * gets that.  AX_EINVAL for a bad tenant or size. */
ax_err ax_crypto_seal(const unsigned char master[AX_MASTER_KEY_BYTES], const char *tenant,
		      const unsigned char *plain, size_t len, unsigned char *box,
		      size_t *boxlen) AX_MUSTCHECK;

/* Open a box sealed for tenant into plain (boxlen - AX_BOX_OVERHEAD bytes,
 * plus one for a NUL written after them); *len gets the length.  AX_EAUTH
 * when the box was not sealed for this tenant with this master key or was
 * altered (plain is then zeroed), AX_EINVAL for a bad tenant or a box too
 * short or too long.  The caller wipes plain (sodium_memzero) when done. */
ax_err ax_crypto_open(const unsigned char master[AX_MASTER_KEY_BYTES], const char *tenant,
		      const unsigned char *box, size_t boxlen, unsigned char *plain,
		      size_t *len) AX_MUSTCHECK;

/* Text form of a box for places that store strings (Redis hash values):
 * standard base64 without padding.  ax_crypto_box_b64 returns a new
 * string (free()); ax_crypto_box_unb64 decodes into box (boxmax bytes) and
 * returns AX_EINVAL for anything that is not such base64 or does not fit. */
char *ax_crypto_box_b64(const unsigned char *box, size_t boxlen);
ax_err ax_crypto_box_unb64(const char *b64, size_t b64len, unsigned char *box, size_t boxmax,
			   size_t *boxlen) AX_MUSTCHECK;

/* ------------------------------------------------ key ids and AEAD
 *
 * Tenant credentials (tenant_credentials, common/cred.h) are sealed with
 * XChaCha20-Poly1305-IETF under a key derived from the master key of a
 * numbered key id, and each stored value keeps its key id, so the master
 * key can be replaced: the new one becomes current (new values are sealed
 * under it), the old ones stay listed for opening until `alexusctl
 * credentials rotate` has re-encrypted everything.
 *
 *   credential key = BLAKE2b-256 keyed with master[key_id] over
 *                    "alexus/cred-key/v1" NUL key_id(4 bytes, big-endian)
 *                    tenant
 *   associated data = "alexus/cred/v1" NUL tenant NUL name NUL
 *                     key_id(4 bytes, big-endian)
 *
 * The associated data binds a value to its row: a ciphertext copied to
 * another tenant, another name, or relabelled with another key id does not
 * open.  The label differs from the secretbox one above, so the two
 * schemes never share a key even under the same master. */
#define AX_KEYRING_MAX 16         /* master keys known at once */
#define AX_KEY_ID_MAX 2147483647  /* ids are 1..this (Postgres integer) */
#define AX_AEAD_NONCE_BYTES 24    /* crypto_aead_xchacha20poly1305_ietf_NPUBBYTES */
#define AX_AEAD_MAC_BYTES 16      /* crypto_aead_xchacha20poly1305_ietf_ABYTES */

/* The master keys this process knows: the current one (new values are
 * sealed under it) and older ones that still open values.  Plain memory,
 * wiped by ax_keyring_wipe; copy it only by value. */
struct ax_keyring {
	unsigned int current;     /* key id of new seals */
	size_t n;                 /* entries used in keys[] */
	struct {
		unsigned int id;
		unsigned char key[AX_MASTER_KEY_BYTES];
	} keys[AX_KEYRING_MAX];
};

/* Build a keyring: current_hex (64 hex digits, ALEXUS_MASTER_KEY) under
 * id current_id (decimal, NULL or "" for 1), plus older, NULL or ""
 * or "id:hex[,id:hex...]" (ALEXUS_MASTER_KEYS).  An older entry with the
 * current id is accepted only if it is the same key.  AX_EINVAL with
 * errbuf naming the bad part (never a key) for anything else: bad hex, id
 * out of 1..AX_KEY_ID_MAX, an id listed twice, more than AX_KEYRING_MAX
 * keys.  kr is wiped on failure.  Calls sodium_init. */
ax_err ax_keyring_init(struct ax_keyring *kr, const char *current_hex, const char *current_id,
		       const char *older, char *errbuf, size_t errlen) AX_MUSTCHECK;
/* The master key of id, or NULL when the keyring does not hold it. */
const unsigned char *ax_keyring_master(const struct ax_keyring *kr, unsigned int id);
/* Wipe every key (sodium_memzero); NULL-safe. */
void ax_keyring_wipe(struct ax_keyring *kr);

/* The credential key of (master, key_id, tenant) as documented above.
 * AX_EINVAL for an invalid tenant or key id (key is then zeroed). */
ax_err ax_crypto_cred_key(const unsigned char master[AX_MASTER_KEY_BYTES], unsigned int key_id,
			  const char *tenant, unsigned char key[AX_TENANT_KEY_BYTES]) AX_MUSTCHECK;

/* Seal plain (len <= AX_BOX_MAX_PLAIN) as credential name of tenant under
 * kr's current key: a fresh random nonce into nonce, ciphertext and tag
 * (len + AX_AEAD_MAC_BYTES) into ct, its length into *ctlen and the key
 * id used into *key_id.  AX_EINVAL for a bad tenant, an empty name, a
 * size over the limit or a keyring without its current key. */
ax_err ax_crypto_cred_seal(const struct ax_keyring *kr, const char *tenant, const char *name,
			   const unsigned char *plain, size_t len,
			   unsigned char nonce[AX_AEAD_NONCE_BYTES], unsigned char *ct,
			   size_t *ctlen, unsigned int *key_id) AX_MUSTCHECK;

/* Open what ax_crypto_cred_seal made for (tenant, name) under key_id into
 * plain (ctlen - AX_AEAD_MAC_BYTES bytes plus a NUL written after them);
 * *len gets the length.  AX_ENOTFOUND when kr does not hold key_id,
 * AX_EAUTH when the value does not open -- altered, or sealed for another
 * tenant, name, key id or master (plain is then zeroed) -- and AX_EINVAL
 * for bad arguments or a ciphertext too short or too long.  The caller
 * wipes plain (sodium_memzero) when done. */
ax_err ax_crypto_cred_open(const struct ax_keyring *kr, unsigned int key_id, const char *tenant,
			   const char *name, const unsigned char nonce[AX_AEAD_NONCE_BYTES],
			   const unsigned char *ct, size_t ctlen, unsigned char *plain,
			   size_t *len) AX_MUSTCHECK;

/* Webhook tokens: "axw_" + 43 base64url characters (32 random bytes).
 * Only the SHA-256 of the whole text is ever stored (Postgres
 * webhook_tokens.token_sha256, Redis alexus:whtoken:<sha256>). */
#define AX_WHTOKEN_PREFIX "axw_"
#define AX_WHTOKEN_LEN 47         /* 4 + 43 */

/* A fresh token into out (AX_WHTOKEN_LEN + 1 bytes), from randombytes_buf. */
void ax_whtoken_new(char out[AX_WHTOKEN_LEN + 1]);
/* 1 when s has exactly the token shape. */
int ax_whtoken_valid(const char *s);
/* (The stored hash is ax_sha256_hex of the token text, alexus/hash.h.) */

/* Signed approval links (the approve / reject links in a notification).
 * sig = hex HMAC-SHA-512-256 (crypto_auth) over "approval-id NUL decision
 * NUL expiry" under a per-tenant key derived from the master key for this
 * purpose only (BLAKE2b keyed with the master over
 * "alexus/approval-link/v1" NUL tenant): a link signs one decision on one
 * approval of one tenant until exp (Unix seconds), nothing else.  The
 * current master key signs; a rotation invalidates links in flight, which
 * then expire like any unanswered approval. */
#define AX_LINK_SIG_LEN 64
ax_err ax_link_sign(const unsigned char master[AX_MASTER_KEY_BYTES], const char *tenant,
		    const char *approval_id, const char *decision, long long exp,
		    char sig[AX_LINK_SIG_LEN + 1]) AX_MUSTCHECK;
/* 1 when sig is the signature of (tenant, approval_id, decision, exp);
 * compared in constant time.  Does not look at the clock. */
int ax_link_verify(const unsigned char master[AX_MASTER_KEY_BYTES], const char *tenant,
		   const char *approval_id, const char *decision, long long exp, const char *sig);

#endif /* AX_CRYPTO_H */
