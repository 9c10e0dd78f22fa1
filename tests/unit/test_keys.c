/* test_keys.c - the Redis key helper and tenant id grammar (common/keys.c).
 *
 * The key helper is the tenancy boundary in Redis: a tenant id that could
 * carry '}' or ':' would let one tenant name another's keys, and a silently
 * truncated key would collide.  These tests pin both refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alexus/keys.h"

static void test_tenant_valid(void **state)
{
	static const char *const good[] = { "a", "acme", "acme-prod", "a_b", "0tenant", "9",
					    "abc-123_x" };
	static const char *const bad[] = { "", "-acme", "_acme", "Acme", "ac me", "ac}me",
					   "ac:me", "acme{", "é", "acme\n", "ac.me", "ac/me" };
	char max[AX_TENANT_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(ax_tenant_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(ax_tenant_valid(bad[i]));
	assert_false(ax_tenant_valid(NULL));

	memset(max, 'a', AX_TENANT_MAX);
	max[AX_TENANT_MAX] = '\0';
	assert_true(ax_tenant_valid(max)); /* 63 characters */
	max[AX_TENANT_MAX] = 'a';
	max[AX_TENANT_MAX + 1] = '\0';
	assert_false(ax_tenant_valid(max)); /* 64 characters */
}

static void test_key_shapes(void **state)
{
	char buf[AX_KEY_MAX];
	int n;

	(void)state;
	n = ax_key(buf, sizeof(buf), "acme", "dedup", "abc123");
	assert_string_equal(buf, "t:{acme}:dedup:abc123");
	assert_int_equal(n, (int)strlen("t:{acme}:dedup:abc123"));

	n = ax_key(buf, sizeof(buf), "acme", "events", NULL);
	assert_string_equal(buf, "t:{acme}:events");
	assert_int_equal(n, 15);

	/* rest may itself contain colons: it is the tail of the key */
	n = ax_key(buf, sizeof(buf), "t-1", "rl", "a:b");
	assert_string_equal(buf, "t:{t-1}:rl:a:b");
}

static void test_key_refusals(void **state)
{
	char buf[AX_KEY_MAX];

	(void)state;
	strcpy(buf, "junk");
	assert_int_equal(ax_key(buf, sizeof(buf), "ac}me", "dedup", "x"), -1);
	assert_string_equal(buf, "");
	assert_int_equal(ax_key(buf, sizeof(buf), "", "dedup", "x"), -1);
	assert_int_equal(ax_key(buf, sizeof(buf), NULL, "dedup", "x"), -1);
	assert_int_equal(ax_key(buf, sizeof(buf), "acme", "", "x"), -1);
	assert_int_equal(ax_key(buf, sizeof(buf), "acme", NULL, "x"), -1);
	assert_int_equal(ax_key(NULL, 0, "acme", "dedup", "x"), -1);
}

static void test_key_overflow(void **state)
{
	char small[16], big[AX_KEY_MAX];
	char rest[AX_KEY_MAX + 10];

	(void)state;
	/* "t:{acme}:dedup" is 14 bytes + NUL = 15: fits in 16, one more does not */
	assert_int_equal(ax_key(small, sizeof(small), "acme", "dedup", NULL), 14);
	assert_int_equal(ax_key(small, 14, "acme", "dedup", NULL), -1);
	assert_string_equal(small, "");
	assert_int_equal(ax_key(small, 15, "acme", "dedup", NULL), 14);

	strcpy(small, "junk");
	assert_int_equal(ax_key(small, sizeof(small), "acme", "dedup", "0123456789"), -1);
	assert_string_equal(small, "");

	memset(rest, 'x', sizeof(rest) - 1);
	rest[sizeof(rest) - 1] = '\0';
	assert_int_equal(ax_key(big, sizeof(big), "acme", "dedup", rest), -1);
	assert_string_equal(big, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tenant_valid),
		cmocka_unit_test(test_key_shapes),
		cmocka_unit_test(test_key_refusals),
		cmocka_unit_test(test_key_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
