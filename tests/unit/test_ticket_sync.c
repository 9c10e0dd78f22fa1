/* test_ticket_sync.c - the contract between the two halves of the ticket
 * sync, and reason's decision table.
 *
 * 1. Loop prevention works only if act (act/tickets/rest.c, writing
 *    tickets.last_echo_hash before a change) and reason (reason/ticket.c,
 *    hashing an incoming webhook's state) compute the same hash: both are
 *    held to each other and to SHA-256 values worked out independently.
 * 2. reason_ticket_decide, case by case: unknown tickets change nothing,
 *    our echo is a stage event only, a human's close resolves an open
 *    incident, a reopen reopens a resolved one unless its group has
 *    another open incident, and a webhook that reports no change of the
 *    ticket's state (a comment, an assignee...) does nothing -- in
 *    particular it never reopens a resolved incident whose ticket is
 *    still open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include "../../act/tickets/rest.h"
#include "../../reason/ticket.h"
#include "alexus/json.h"

static void test_echo_hash_contract(void **state)
{
	static const struct {
		const char *system, *key;
		int resolved;
		const char *sha256;     /* of "system|key|state", from another tool */
	} cases[] = {
		{ "jira", "OPS-1502", 1,
		  "5c4e09e130b9fcb2216a66d9262178ad9bc22c6b357295e952619805b7e9d233" },
		{ "servicenow", "INC0010234", 0,
		  "59a0028a89990f6bd11729fde594312ac54811c3bf490a174181ac910f5a662c" },
	};
	char a[AX_SHA256_HEX], r[AX_SHA256_HEX];
	size_t i;

	(void)state;
	assert_int_equal(ax_hash_init(), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		act_ticket_echo_hash(cases[i].system, cases[i].key, cases[i].resolved, a);
		reason_ticket_echo_hash(cases[i].system, cases[i].key, cases[i].resolved, r);
		assert_string_equal(a, cases[i].sha256);
		assert_string_equal(r, cases[i].sha256);
	}
	/* The state is part of it: open and resolved never collide. */
	act_ticket_echo_hash("jira", "OPS-1502", 0, a);
	reason_ticket_echo_hash("jira", "OPS-1502", 1, r);
	assert_string_not_equal(a, r);
}

/* A looked-up ticket; inc is any non-NULL result (the decision only asks
 * whether the incident was found). */
static struct reason_ticket known(PGresult *inc, int resolved, int was_resolved, int echo)
{
	struct reason_ticket t;

	memset(&t, 0, sizeof(t));
	t.inc = inc;
	t.system = "jira";
	t.key = "OPS-1502";
	t.status = resolved ? "Done" : "In Progress";
	t.resolved = resolved;
	t.was_resolved = was_resolved;
	t.echo = echo;
	snprintf(t.by, sizeof(t.by), "Dana Oncall");
	return t;
}

static void decide(const struct reason_ticket *t, int open, int other,
		   enum reason_ticket_verdict want, const char *want_stage)
{
	const char *stage;
	cJSON *out;

	assert_int_equal(reason_ticket_decide(t, open, other, &stage, &out), want);
	if (want_stage == NULL) {
		assert_null(stage);
		assert_null(out);
		return;
	}
	assert_non_null(stage);
	assert_string_equal(stage, want_stage);
	assert_non_null(out);
	assert_string_equal(ax_json_str(out, "system"), t->system);
	assert_string_equal(ax_json_str(out, "ticket"), t->key);
	assert_string_equal(ax_json_str(out, "ticket_status"), t->status);
	assert_string_equal(ax_json_str(out, "ticket_state"), t->resolved ? "resolved" : "open");
	assert_string_equal(ax_json_str(out, "by"), t->by);
	assert_non_null(ax_json_str(out, "reason"));
	cJSON_Delete(out);
}

static void test_decide(void **state)
{
	PGresult *inc = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	struct reason_ticket t;

	(void)state;
	assert_non_null(inc);
	/* Unknown: no row and no incident of its correlation. */
	t = known(NULL, 1, -1, 0);
	decide(&t, 1, 0, REASON_TICKET_UNKNOWN, NULL);

	/* Our own change echoed back, whatever the incident's state. */
	t = known(inc, 1, 0, 1);
	decide(&t, 1, 0, REASON_TICKET_ECHO, "ticket_echo_ignored");
	decide(&t, 0, 0, REASON_TICKET_ECHO, "ticket_echo_ignored");

	/* A human closed the ticket of an open incident. */
	t = known(inc, 1, 0, 0);
	decide(&t, 1, 0, REASON_TICKET_RESOLVE, "resolved");
	/* ... of an incident already resolved: nothing to follow. */
	decide(&t, 0, 0, REASON_TICKET_SAME, NULL);

	/* A human reopened the ticket of a resolved incident. */
	t = known(inc, 0, 1, 0);
	decide(&t, 0, 0, REASON_TICKET_REOPEN, "reopened");
	decide(&t, 0, 1, REASON_TICKET_NOTE, "ticket");     /* its group moved on */
	decide(&t, 1, 0, REASON_TICKET_SAME, NULL);         /* incident already open */

	/* No change of the ticket's state: a comment on an open ticket of a
	 * resolved incident reopens nothing; a resolved ticket updated while
	 * its incident reopened resolves nothing. */
	t = known(inc, 0, 0, 0);
	decide(&t, 0, 0, REASON_TICKET_SAME, NULL);
	t = known(inc, 1, 1, 0);
	decide(&t, 1, 0, REASON_TICKET_SAME, NULL);

	/* No row yet (found by its correlation id): against the incident. */
	t = known(inc, 1, -1, 0);
	decide(&t, 1, 0, REASON_TICKET_RESOLVE, "resolved");
	t = known(inc, 0, -1, 0);
	decide(&t, 1, 0, REASON_TICKET_SAME, NULL);
	decide(&t, 0, 0, REASON_TICKET_REOPEN, "reopened");
	PQclear(inc);
}

static void test_outcomes(void **state)
{
	(void)state;
	assert_string_equal(reason_ticket_outcome(REASON_TICKET_ECHO), "ticket echo ignored");
	assert_string_equal(reason_ticket_outcome(REASON_TICKET_RESOLVE),
			    "ticket closed: resolved the incident");
	assert_string_equal(reason_ticket_outcome(REASON_TICKET_UNKNOWN),
			    "unknown ticket: nothing changed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_hash_contract),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_outcomes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
