/* keys.h - the one place Redis key names are built.
 *
 * Every tenant-owned key is t:{<tenant>}:<kind>[:<rest>]; the braces are a
 * Redis Cluster hash tag so one tenant's keys share a slot.  Nothing else in
 * the tree formats a key by hand (proto/keys.md lists every kind). */
#ifndef AX_KEYS_H
#define AX_KEYS_H

#include <stddef.h>

#define AX_STREAM_SIGNALS "alexus:signals"
#define AX_STREAM_ACTIONS "alexus:actions"
#define AX_STREAM_DLQ "alexus:dlq"
#define AX_GROUP_REASON "reason"
#define AX_GROUP_ACT "act"

#define AX_KEY_WHTOKEN_PREFIX "alexus:whtoken:"
/* act's periodic jobs: the one global lock their leader holds (act/jobs.c). */
#define AX_KEY_JOBS_LEADER "alexus:jobs:leader"

#define AX_TENANT_MAX 63    /* longest tenant id */
#define AX_KEY_MAX 512      /* longest key the helper builds */

/* A tenant id is 1..63 of [a-z0-9_-], starting with a letter or digit. */
int ax_tenant_valid(const char *tenant);

/* Write "t:{tenant}:kind" (rest NULL) or "t:{tenant}:kind:rest" into buf.
 * Returns the length, or -1 if the tenant is invalid, kind is empty or the
 * key does not fit in n bytes (buf is then ""). */
int ax_key(char *buf, size_t n, const char *tenant, const char *kind, const char *rest);

/* Write "alexus:whtoken:<sha256>" into buf: the global key whose value is
 * the tenant a webhook token belongs to (proto/keys.md).  Global, not
 * t:{...}, because the tenant is what the lookup is for.  sha256 must be
 * 64 lower-case hex digits.  Returns the length, or -1 (buf "") when it is
 * not or the key does not fit. */
int ax_key_whtoken(char *buf, size_t n, const char *sha256_hex);

#endif /* AX_KEYS_H */
