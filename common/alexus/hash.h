/* hash.h - digests and identifiers (libsodium). */
#ifndef AX_HASH_H
#define AX_HASH_H

#include <stddef.h>

#define AX_SHA256_HEX 65   /* 64 hex digits + NUL */
#define AX_UUID_LEN 37     /* 36 chars + NUL */
#define AX_TRACE_LEN 33    /* 32 hex digits + NUL */

/* Call once before any other function here (sodium_init); safe to repeat.
 * Returns -1 if libsodium cannot initialise. */
int ax_hash_init(void);

void ax_sha256_hex(const void *data, size_t len, char out[AX_SHA256_HEX]);
void ax_uuid4(char out[AX_UUID_LEN]);      /* random, RFC 4122 version 4 */
/* RFC 9562 version 7: 48 bits of Unix time in ms, then 74 random bits.
 * Ids made later sort later (to the millisecond), so the B-tree indexes
 * keyed by them (signals_seen, alerts, actions) fill at their right edge
 * and a lookup of recent ids stays in a few hot pages instead of one
 * random page of the whole index per id. */
void ax_uuid7(char out[AX_UUID_LEN]);
void ax_trace_new(char out[AX_TRACE_LEN]); /* W3C trace-id shaped */
int ax_uuid_valid(const char *s);

/* Constant-time comparison of two equal-length buffers; 0 when equal. */
int ax_memeq_ct(const void *a, const void *b, size_t n);

#endif /* AX_HASH_H */
