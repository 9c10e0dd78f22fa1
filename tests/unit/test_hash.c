/* test_hash.c - digests, identifiers, and the small pieces around them
 * (common/hash.c, common/err.c, common/mem.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "alexus/err.h"
#include "alexus/hash.h"
#include "alexus/mem.h"

static int setup(void **state)
{
	(void)state;
	return ax_hash_init();
}

static void test_sha256_vectors(void **state)
{
	char out[AX_SHA256_HEX];

	(void)state;
	/* FIPS 180-2 test vectors */
	ax_sha256_hex("abc", 3, out);
	assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ax_sha256_hex("", 0, out);
	assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ax_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, out);
	assert_string_equal(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void check_uuid_version(const char *u, char version)
{
	size_t i;

	assert_int_equal(strlen(u), 36);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			assert_int_equal(u[i], '-');
		} else {
			assert_true((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f'));
		}
	}
	assert_int_equal(u[14], version);
	assert_non_null(strchr("89ab", u[19])); /* RFC 4122 variant */
	assert_true(ax_uuid_valid(u));
}

static void check_uuid_shape(const char *u)
{
	check_uuid_version(u, '4');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void test_uuid(void **state)
{
	enum { N = 2000 };
	char(*u)[AX_UUID_LEN] = calloc(N, sizeof(*u));
	size_t i;

	(void)state;
	assert_non_null(u);
	for (i = 0; i < N; i++) {
		ax_uuid4(u[i]);
		check_uuid_shape(u[i]);
	}
	qsort(u, N, sizeof(*u), cmp_str);
	for (i = 1; i < N; i++)
		assert_string_not_equal(u[i - 1], u[i]);
	free(u);
}

/* Version 7: the first 48 bits are the creation time in ms, so ids made
 * in later milliseconds sort after earlier ones (as text, too), and ids of
 * the same millisecond still differ. */
static void test_uuid7(void **state)
{
	char a[AX_UUID_LEN], b[AX_UUID_LEN], same[AX_UUID_LEN], hex[13];
	struct timespec t0, pause = { 0, 3000000 };
	unsigned long long ms, now;
	int i, k = 0;
	(void)state;

	clock_gettime(CLOCK_REALTIME, &t0);
	ax_uuid7(a);
	check_uuid_version(a, '7');
	for (i = 0; i < 13; i++)
		if (a[i] != '-')
			hex[k++] = a[i];
	hex[k] = '\0';
	ms = strtoull(hex, NULL, 16);
	now = (unsigned long long)t0.tv_sec * 1000 + (unsigned long long)t0.tv_nsec / 1000000;
	assert_true(ms >= now && ms <= now + 1000);
	nanosleep(&pause, NULL);
	ax_uuid7(b);
	check_uuid_version(b, '7');
	assert_true(strcmp(a, b) < 0);
	ax_uuid7(same);
	assert_string_not_equal(b, same);
	assert_memory_equal(b, same, 8); /* same millisecond or the next: the top 32 bits agree */
}

static void test_uuid_valid(void **state)
{
	(void)state;
	assert_true(ax_uuid_valid("123e4567-e89b-42d3-a456-426614174000"));
	assert_true(ax_uuid_valid("123E4567-E89B-42D3-A456-426614174000"));
	assert_false(ax_uuid_valid(NULL));
	assert_false(ax_uuid_valid(""));
	assert_false(ax_uuid_valid("123e4567-e89b-42d3-a456-42661417400"));   /* short */
	assert_false(ax_uuid_valid("123e4567-e89b-42d3-a456-4266141740000")); /* long */
	assert_false(ax_uuid_valid("123e4567xe89b-42d3-a456-426614174000"));
	assert_false(ax_uuid_valid("123e4567-e89b-42d3-a456-42661417400g"));
}

static void test_trace(void **state)
{
	char a[AX_TRACE_LEN], b[AX_TRACE_LEN];
	size_t i;

	(void)state;
	ax_trace_new(a);
	ax_trace_new(b);
	assert_int_equal(strlen(a), 32);
	for (i = 0; i < 32; i++)
		assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
	assert_string_not_equal(a, b);
}

/* Identifiers come from a per-thread buffer of random bytes: a forked
 * child must not hand out the bytes its parent hands out next. */
static void test_uuid_after_fork(void **state)
{
	char first[AX_UUID_LEN], mine[AX_UUID_LEN], childs[AX_UUID_LEN] = "";
	int fd[2], status;
	pid_t pid;

	(void)state;
	ax_uuid4(first);  /* the buffer now holds unused bytes */
	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char u[AX_UUID_LEN];

		ax_uuid4(u);
		_exit(write(fd[1], u, sizeof(u)) == (ssize_t)sizeof(u) ? 0 : 1);
	}
	close(fd[1]);
	ax_uuid4(mine);
	assert_int_equal(read(fd[0], childs, sizeof(childs)), (ssize_t)sizeof(childs));
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	check_uuid_shape(childs);
	assert_string_not_equal(mine, childs);
	assert_string_not_equal(first, childs);
}

static void test_memeq_ct(void **state)
{
	(void)state;
	assert_int_equal(ax_memeq_ct("secret", "secret", 6), 0);
	assert_int_not_equal(ax_memeq_ct("secret", "secreT", 6), 0);
	assert_int_not_equal(ax_memeq_ct("Secret", "secret", 6), 0);
}

static void test_err_and_mem(void **state)
{
	char buf[16];
	char *s;

	(void)state;
	assert_string_equal(ax_strerror(AX_OK), "ok");
	assert_string_equal(ax_strerror(AX_EAUTH), "not authorised");
	assert_string_equal(ax_strerror((ax_err)999), "unknown error");
	assert_int_equal(ax_errfmt(buf, sizeof(buf), "x=%d", 42), -1);
	assert_string_equal(buf, "x=42");
	assert_int_equal(ax_errfmt(NULL, 0, "x"), -1);
	ax_errfmt(buf, 4, "truncated"); /* never overflows */
	assert_string_equal(buf, "tru");

	s = ax_xasprintf("%s-%d", "a", 7);
	assert_string_equal(s, "a-7");
	free(s);
	assert_null(ax_xstrdup(NULL));
	s = ax_xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors), cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_uuid_valid),     cmocka_unit_test(test_trace),
		cmocka_unit_test(test_uuid7),
		cmocka_unit_test(test_uuid_after_fork),
		cmocka_unit_test(test_memeq_ct),       cmocka_unit_test(test_err_and_mem),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
