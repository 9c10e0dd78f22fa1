/* crypto.h - per-tenant encryption of stored credentials (libsodium).
 *
 * One master key (ALEXUS_MASTER_KEY, 32 bytes as 64 hex digits) is the only
 * secret to keep; each tenant's key is derived from it, so a value sealed
 * for one tenant cannot be opened as another's even by code that has the
 * master key and a confused tenant id.  A sealed value ("box") is
 *   nonce (24 bytes, random) || crypto_secretbox_easy ciphertext (MAC + text)
 * and is what Postgres and Redis store; plaintext never leaves memory. */
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

#endif /* AX_CRYPTO_H */
