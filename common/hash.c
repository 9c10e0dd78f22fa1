/* hash.c - digests and random identifiers over libsodium (see hash.h).
 *
 * randombytes_buf is the only source of randomness: it never fails once
 * sodium_init succeeded and is safe across threads and after fork.  Hex
 * encoding uses sodium_bin2hex (lower case). */
#include <sodium.h>
#include <string.h>

#include "alexus/hash.h"

int ax_hash_init(void)
{
	/* 0 = initialised now, 1 = already initialised, -1 = failure */
	return sodium_init() < 0 ? -1 : 0;
}

void ax_sha256_hex(const void *data, size_t len, char out[AX_SHA256_HEX])
{
	unsigned char d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(d, data, len);
	sodium_bin2hex(out, AX_SHA256_HEX, d, sizeof(d));
}

void ax_uuid4(char out[AX_UUID_LEN])
{
	unsigned char b[16];
	char hex[33];

	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10xx */
	sodium_bin2hex(hex, sizeof(hex), b, sizeof(b));
	memcpy(out, hex, 8);
	out[8] = '-';
	memcpy(out + 9, hex + 8, 4);
	out[13] = '-';
	memcpy(out + 14, hex + 12, 4);
	out[18] = '-';
	memcpy(out + 19, hex + 16, 4);
	out[23] = '-';
	memcpy(out + 24, hex + 20, 12);
	out[36] = '\0';
}

void ax_trace_new(char out[AX_TRACE_LEN])
{
	unsigned char b[16];

	/* W3C forbids the all-zero trace id; 2^-128, but cheap to rule out. */
	do
		randombytes_buf(b, sizeof(b));
	while (sodium_is_zero(b, sizeof(b)));
	sodium_bin2hex(out, AX_TRACE_LEN, b, sizeof(b));
}

int ax_uuid_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < 36; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F'))) {
			return 0;
		}
	}
	return s[36] == '\0';
}

int ax_memeq_ct(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0 ? 0 : -1;
}
