/* cred.h - tenant credentials: API keys and tokens for Slack, Jira, an LLM
 * provider..., stored encrypted in tenant_credentials (proto/sql/0004).
 *
 * Values are sealed with ax_crypto_cred_seal (crypto.h: XChaCha20-Poly1305
 * under a per-tenant key of the current master key id, the row's tenant,
 * name and key id as associated data) and only ever leave this module as
 * plaintext in a buffer the caller owns and wipes.  Names are not secret:
 * ax_cred_list returns them with their key ids, never values.
 *
 * Every call runs inside the caller's open transaction, which must be
 * scoped to the tenant (ax_pg_begin(pg, tenant, ...)): the credential is
 * read or written in the same unit of work as whatever needs it, and
 * row-level security refuses any other tenant's row.  The caller commits.
 * Nothing here logs, and no error message ever contains a value. */
#ifndef AX_CRED_H
#define AX_CRED_H

#include <stddef.h>
#include "alexus/crypto.h"
#include "alexus/err.h"
#include "alexus/pg.h"

#define AX_CRED_NAME_MAX 63
#define AX_CRED_VALUE_MAX AX_BOX_MAX_PLAIN   /* bytes */

/* 1 when name is 1..63 of A-Z a-z 0-9 . _ - starting with a letter or
 * digit (the CHECK on tenant_credentials.name). */
int ax_cred_name_valid(const char *name);

/* The process's keyring from the configuration: ALEXUS_MASTER_KEY under
 * ALEXUS_MASTER_KEY_ID (default 1), plus the older keys of
 * ALEXUS_MASTER_KEYS ("id:hex,id:hex", optional).  AX_EINVAL with errbuf
 * (never a key) when any is malformed; see ax_keyring_init.  Wipe with
 * ax_keyring_wipe. */
struct ax_config;

ax_err ax_cred_keyring_config(struct ax_keyring *kr, const struct ax_config *cfg, char *errbuf,
			      size_t errlen) AX_MUSTCHECK;

/* Store value (len bytes, 1..AX_CRED_VALUE_MAX) as credential name of
 * tenant, sealed under kr's current key id; replaces an existing value
 * (updated_at moves, created_at stays).  *key_id (may be NULL) gets the
 * key id used.  AX_EINVAL for a bad name, tenant or size; AX_EIO with
 * errbuf on a database error (42501 in ax_pg_sqlstate when the
 * transaction is scoped to another tenant). */
ax_err ax_cred_put(struct ax_pg *pg, const struct ax_keyring *kr, const char *tenant,
		   const char *name, const unsigned char *value, size_t len, unsigned int *key_id,
		   char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Read credential name of tenant into buf (bufsize bytes): the value, then
 * a NUL; *len gets its length.  The caller wipes buf with sodium_memzero
 * (or ax_cred_wipe) as soon as it is done with it.  Errors, with buf
 * wiped: AX_ENOTFOUND when the tenant has no such credential (or the
 * transaction is scoped to another tenant); AX_EAUTH when the stored value
 * does not open -- sealed under a key id kr does not hold, under another
 * master, or for another row (copied, altered); AX_ETOOBIG when bufsize is
 * smaller than the value plus its NUL; AX_EIO on a database error. */
ax_err ax_cred_get(struct ax_pg *pg, const struct ax_keyring *kr, const char *tenant,
		   const char *name, unsigned char *buf, size_t bufsize, size_t *len, char *errbuf,
		   size_t errlen) AX_MUSTCHECK;

/* sodium_memzero, for callers that do not include sodium.h. */
void ax_cred_wipe(void *buf, size_t len);

/* Delete credential name of tenant (owner role: alexus_app has no DELETE).
 * AX_ENOTFOUND when there was none. */
ax_err ax_cred_delete(struct ax_pg *pg, const char *tenant, const char *name, char *errbuf,
		      size_t errlen) AX_MUSTCHECK;

/* One credential as listed: no value. */
struct ax_cred_info {
	char name[AX_CRED_NAME_MAX + 1];
	unsigned int key_id;            /* key id the value is sealed under */
	char created_at[32];            /* RFC 3339 UTC, seconds */
	char updated_at[32];            /* last time the value was set */
};

/* The tenant's credentials, by name: *out gets a new array (free()) of *n
 * entries (NULL and 0 when there are none).  AX_EIO on a database error. */
ax_err ax_cred_list(struct ax_pg *pg, const char *tenant, struct ax_cred_info **out, size_t *n,
		    char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Re-encrypt every credential of tenant under kr's current key id with a
 * fresh nonce (rows are locked FOR UPDATE first).  *rows gets how many
 * were re-encrypted and *moved how many of them had been under another
 * key id.  Stops at the first value that does not open (AX_EAUTH, or
 * AX_ENOTFOUND for a key id kr lacks) with errbuf naming the credential
 * and its key id; the caller then rolls back, so a tenant is rotated
 * whole or not at all. */
ax_err ax_cred_rotate(struct ax_pg *pg, const struct ax_keyring *kr, const char *tenant,
		      long *rows, long *moved, char *errbuf, size_t errlen) AX_MUSTCHECK;

#endif /* AX_CRED_H */
