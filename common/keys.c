/* keys.c - the Redis key builder (see keys.h).
 *
 * The tenant is validated here, at the last moment before it becomes part
 * of a key, so a caller that forgot to validate cannot produce a key that
 * escapes its hash tag ("}" or ":" in a tenant id).  snprintf's return
 * value detects truncation; a truncated key is never returned. */
#include <stdio.h>
#include <string.h>

#include "alexus/keys.h"

static int tenant_char(char c, int first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return 1;
	return !first && (c == '_' || c == '-');
}

int ax_tenant_valid(const char *tenant)
{
	size_t i;

	if (tenant == NULL || tenant[0] == '\0')
		return 0;
	for (i = 0; tenant[i] != '\0'; i++) {
		if (i >= AX_TENANT_MAX || !tenant_char(tenant[i], i == 0))
			return 0;
	}
	return 1;
}

int ax_key(char *buf, size_t n, const char *tenant, const char *kind, const char *rest)
{
	int r;

	if (buf == NULL || n == 0)
		return -1;
	buf[0] = '\0';
	if (!ax_tenant_valid(tenant) || kind == NULL || kind[0] == '\0')
		return -1;
	if (rest != NULL)
		r = snprintf(buf, n, "t:{%s}:%s:%s", tenant, kind, rest);
	else
		r = snprintf(buf, n, "t:{%s}:%s", tenant, kind);
	if (r < 0 || (size_t)r >= n) {
		buf[0] = '\0';
		return -1;
	}
	return r;
}

int ax_key_whtoken(char *buf, size_t n, const char *sha256_hex)
{
	size_t i;
	int r;

	if (buf == NULL || n == 0)
		return -1;
	buf[0] = '\0';
	if (sha256_hex == NULL || strlen(sha256_hex) != 64)
		return -1;
	for (i = 0; i < 64; i++) {
		char c = sha256_hex[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
	}
	r = snprintf(buf, n, AX_KEY_WHTOKEN_PREFIX "%s", sha256_hex);
	if (r < 0 || (size_t)r >= n) {
		buf[0] = '\0';
		return -1;
	}
	return r;
}
