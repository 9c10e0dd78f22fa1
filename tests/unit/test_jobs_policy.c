/* test_jobs_policy.c - the escalation policy of act's jobs (act/escalate.c):
 * the parser accepts what migration 0017's CHECK accepts and refuses the
 * rest, the built-in default is the column default written in the
 * migration (read from proto/sql/0017_jobs.sql, run from the repo root),
 * and the step function says when each level is due. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../act/jobs.h"

#define MIGRATION "proto/sql/0017_jobs.sql"

static void test_parse_good(void **state)
{
	struct act_escalation_policy p;
	char err[256];
	static const char doc[] =
		"{\"steps\": [{\"level\": 1, \"after_s\": 0}, {\"level\": 2, \"after_s\": 1}, "
		"{\"level\": 3, \"after_s\": 1}, {\"after_s\": 60, \"level\": 4}]}";
	(void)state;

	assert_int_equal(act_escalation_policy_parse(doc, &p, err, sizeof(err)), AX_OK);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.after_s[0], 0);
	assert_int_equal(p.after_s[1], 1);
	assert_int_equal(p.after_s[2], 1);
	assert_int_equal(p.after_s[3], 60);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		NULL,
		"",
		"[]",
		"{\"steps\": []}",
		"{\"steps\": {}}",
		"{\"steps\": [{\"level\": 2, \"after_s\": 0}]}",
		"{\"steps\": [{\"level\": 1, \"after_s\": -1}]}",
		"{\"steps\": [{\"level\": 1, \"after_s\": 1.5}]}",
		"{\"steps\": [{\"level\": 1, \"after_s\": 2592001}]}",
		"{\"steps\": [{\"level\": 1, \"after_s\": 10}, {\"level\": 2, \"after_s\": 5}]}",
		"{\"steps\": [{\"level\": \"1\", \"after_s\": 0}]}",
		"{\"steps\": [{\"level\": 1}]}",
		"{\"steps\": [1, 2]}",
	};
	struct act_escalation_policy p;
	char err[256];
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (act_escalation_policy_parse(bad[i], &p, err, sizeof(err)) != AX_EINVAL)
			fail_msg("accepted policy %zu: %s", i, bad[i] ? bad[i] : "(null)");
		assert_int_equal(p.n, 0);
		assert_true(strncmp(err, "escalation policy: ", 19) == 0);
	}
}

/* The literal after "escalation_policy jsonb NOT NULL DEFAULT '" in the
 * migration, which must be the policy ACT_ESCALATION_DEFAULT is. */
static void test_default_matches_migration(void **state)
{
	static const char mark[] = "escalation_policy jsonb NOT NULL\n\tDEFAULT '";
	struct act_escalation_policy mig, def;
	char err[256], *sql, *at, *end, *lit;
	FILE *f = fopen(MIGRATION, "r");
	long n;
	int i;
	(void)state;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	sql = calloc(1, (size_t)n + 1);
	assert_non_null(sql);
	assert_int_equal(fread(sql, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	at = strstr(sql, mark);
	assert_non_null(at);
	at += strlen(mark);
	end = strchr(at, '\'');
	assert_non_null(end);
	lit = strndup(at, (size_t)(end - at));
	assert_int_equal(act_escalation_policy_parse(lit, &mig, err, sizeof(err)), AX_OK);
	assert_int_equal(act_escalation_policy_parse(ACT_ESCALATION_DEFAULT, &def, err,
						     sizeof(err)), AX_OK);
	assert_int_equal(mig.n, def.n);
	for (i = 0; i < def.n; i++)
		assert_int_equal(mig.after_s[i], def.after_s[i]);
	/* A sensible default: nobody is paged beyond the opening notification
	 * at once. */
	assert_true(def.after_s[0] > 0);
	free(lit);
	free(sql);
}

static void test_next(void **state)
{
	struct act_escalation_policy p;
	struct act_escalation_step s;
	char err[256];
	static const char doc[] =
		"{\"steps\": [{\"level\": 1, \"after_s\": 0}, {\"level\": 2, \"after_s\": 900}, "
		"{\"level\": 3, \"after_s\": 1800}]}";
	(void)state;

	assert_int_equal(act_escalation_policy_parse(doc, &p, err, sizeof(err)), AX_OK);
	/* Not escalated, just opened: level 1 is due at once, level 2 next. */
	act_escalation_next(&p, 0, 0.0, &s);
	assert_true(s.due);
	assert_int_equal(s.next, 1);
	assert_int_equal(s.after_s, 0);
	assert_int_equal(s.then_s, 900);
	/* At level 1 after 899.9 s: level 2 not yet. */
	act_escalation_next(&p, 1, 899.9, &s);
	assert_false(s.due);
	assert_int_equal(s.next, 2);
	assert_int_equal(s.after_s, 900);
	act_escalation_next(&p, 1, 900.0, &s);
	assert_true(s.due);
	/* Level 2 long overdue: only level 3 is next (one level a step). */
	act_escalation_next(&p, 2, 99999.0, &s);
	assert_true(s.due);
	assert_int_equal(s.next, 3);
	assert_int_equal(s.then_s, -1);
	/* The last level, or beyond a policy since shortened: nothing. */
	act_escalation_next(&p, 3, 99999.0, &s);
	assert_false(s.due);
	assert_int_equal(s.next, 0);
	act_escalation_next(&p, 7, 99999.0, &s);
	assert_false(s.due);
	assert_int_equal(s.next, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_default_matches_migration),
		cmocka_unit_test(test_next),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
