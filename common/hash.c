/* hash.c - digests and random identifiers over libsodium (see hash.h).
 *
 * randombytes_buf is the only source of randomness: it never fails once
 * sodium_init succeeded and is safe across threads.  Identifiers draw from
 * a per-thread buffer refilled RANDOM_BUF bytes at a time, because
 * libsodium's randombytes_buf is one getrandom(2) system call per call,
 * and ingest makes one or two identifiers per request (a syscall is the
 * expensive part of a small request on a virtual machine).  A forked child
 * starts with an empty buffer (pthread_atfork), so parent and child never
 * hand out the same bytes.  Hex encoding uses sodium_bin2hex (lower case). */
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

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

#define RANDOM_BUF 512

static __thread unsigned char rnd[RANDOM_BUF];
static __thread size_t rnd_left;
static pthread_once_t rnd_once = PTHREAD_ONCE_INIT;

static void rnd_forget(void)
{
	sodium_memzero(rnd, sizeof(rnd));
	rnd_left = 0;
}

static void rnd_register(void)
{
	pthread_atfork(NULL, NULL, rnd_forget);
}

/* 16 random bytes into b from this thread's buffer; used bytes are wiped. */
static void random16(unsigned char b[16])
{
	unsigned char *p;

	if (rnd_left < 16) {
		pthread_once(&rnd_once, rnd_register);
		randombytes_buf(rnd, sizeof(rnd));
		rnd_left = sizeof(rnd);
	}
	p = rnd + sizeof(rnd) - rnd_left;
	memcpy(b, p, 16);
	sodium_memzero(p, 16);
	rnd_left -= 16;
}

/* The 8-4-4-4-12 text form of 16 bytes. */
static void uuid_text(const unsigned char b[16], char out[AX_UUID_LEN])
{
	char hex[33];

	sodium_bin2hex(hex, sizeof(hex), b, 16);
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

void ax_uuid4(char out[AX_UUID_LEN])
{
	unsigned char b[16];

	random16(b);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10xx */
	uuid_text(b, out);
}

void ax_uuid7(char out[AX_UUID_LEN])
{
	unsigned char b[16];
	struct timespec t;
	uint64_t ms;
	int i;

	random16(b);
	clock_gettime(CLOCK_REALTIME, &t);
	ms = (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
	for (i = 0; i < 6; i++) /* 48-bit big-endian Unix time in ms */
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x70); /* version 7 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10xx */
	uuid_text(b, out);
}

void ax_trace_new(char out[AX_TRACE_LEN])
{
	unsigned char b[16];

	/* W3C forbids the all-zero trace id; 2^-128, but cheap to rule out. */
	do
		random16(b);
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
