/* test_notify_route.c - which channels an event goes to
 * (act_route_channels, act/notify/route.c).
 *
 * A table of channels like a tenant would configure them, and for each
 * case (event, severity, service) the exact channels picked, in order:
 * the severity threshold at every level, the per-service override of the
 * tenant-wide channels of the same kind only, a service channel never
 * seeing another service's incidents, PagerDuty taking only trigger /
 * acknowledge / resolve events, and an event without a severity passing
 * every threshold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../act/notify/notify.h"
#include "../../act/notify/route.h"

/* The tenant's channels (ids shortened to their index for reading). */
static const struct act_channel table[] = {
	/* 0 */ { "00000000-0000-4000-8000-000000000000", "slack", "warning", NULL },
	/* 1 */ { "00000000-0000-4000-8000-000000000001", "slack", "critical", NULL },
	/* 2 */ { "00000000-0000-4000-8000-000000000002", "email", "info", NULL },
	/* 3 */ { "00000000-0000-4000-8000-000000000003", "pagerduty", "high", NULL },
	/* 4 */ { "00000000-0000-4000-8000-000000000004", "slack", "critical", "payments-db" },
	/* 5 */ { "00000000-0000-4000-8000-000000000005", "pagerduty", "critical", "checkout-api" },
	/* 6 */ { "00000000-0000-4000-8000-000000000006", "teams", "high", "checkout-api" },
	/* 7 */ { "00000000-0000-4000-8000-000000000007", "telegram", "warning", NULL },
};
#define N (int)(sizeof(table) / sizeof(table[0]))

struct rcase {
	const char *event, *severity, *service;
	const char *want;       /* picked indexes, "0,2,..." */
};

static void check(const struct rcase *c)
{
	int picked[N], n, i;
	char got[64] = "";

	n = act_route_channels(table, N, c->event, c->severity, c->service, picked);
	for (i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%d", i ? "," : "",
			 picked[i]);
	if (strcmp(got, c->want) != 0)
		fail_msg("%s severity %s service %s: picked {%s}, want {%s}", c->event,
			 c->severity ? c->severity : "-", c->service ? c->service : "-", got, c->want);
}

static void test_severity_thresholds(void **state)
{
	static const struct rcase cases[] = {
		/* no service: tenant-wide channels by threshold */
		{ "incident.opened", "info", NULL, "2" },
		{ "incident.opened", "warning", NULL, "0,2,7" },
		{ "incident.opened", "high", NULL, "0,2,3,7" },
		{ "incident.opened", "critical", NULL, "0,1,2,3,7" },
		/* an unknown service is like none: no override applies */
		{ "incident.opened", "critical", "search", "0,1,2,3,7" },
		{ "incident.opened", "warning", "search", "0,2,7" },
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i]);
}

static void test_service_override(void **state)
{
	static const struct rcase cases[] = {
		/* payments-db has its own Slack channel (critical): it replaces
		 * both tenant-wide Slack channels, whatever the severity; email,
		 * PagerDuty and Telegram keep their tenant-wide channels. */
		{ "incident.opened", "critical", "payments-db", "2,3,4,7" },
		{ "incident.opened", "high", "payments-db", "2,3,7" },
		{ "incident.opened", "warning", "payments-db", "2,7" },
		/* checkout-api has its own PagerDuty (critical) and Teams (high). */
		{ "incident.opened", "critical", "checkout-api", "0,1,2,5,6,7" },
		{ "incident.opened", "high", "checkout-api", "0,2,6,7" },
		{ "incident.opened", "warning", "checkout-api", "0,2,7" },
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i]);
}

static void test_pagerduty_events_only(void **state)
{
	static const struct rcase cases[] = {
		{ "incident.resolved", "critical", NULL, "0,1,2,3,7" },
		{ "incident.escalated", "high", NULL, "0,2,3,7" },
		{ "incident.acknowledged", "high", NULL, "0,2,3,7" },
		/* PagerDuty has nothing to do with these */
		{ "incident.diagnosed", "critical", NULL, "0,1,2,7" },
		{ "incident.clarify", "high", NULL, "0,2,7" },
		{ "approval.requested", "critical", NULL, "0,1,2,7" },
		/* ...and its service channel does not override for them either */
		{ "incident.diagnosed", "critical", "checkout-api", "0,1,2,6,7" },
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i]);
}

static void test_no_severity_reaches_everyone(void **state)
{
	static const struct rcase cases[] = {
		{ "approval.requested", NULL, NULL, "0,1,2,7" },
		{ "approval.requested", "bogus", NULL, "0,1,2,7" },
		{ "incident.opened", NULL, "payments-db", "2,3,4,7" },
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i]);
}

static void test_no_channels(void **state)
{
	int picked[1];
	(void)state;

	assert_int_equal(act_route_channels(table, 0, "incident.opened", "critical", NULL, picked),
			 0);
}

static void test_severity_rank(void **state)
{
	(void)state;
	assert_int_equal(act_severity_rank("info"), 0);
	assert_int_equal(act_severity_rank("warning"), 1);
	assert_int_equal(act_severity_rank("high"), 2);
	assert_int_equal(act_severity_rank("critical"), 3);
	assert_int_equal(act_severity_rank("Critical"), -1);
	assert_int_equal(act_severity_rank(NULL), -1);
	assert_true(act_kind_wants("slack", "anything.at.all"));
	assert_false(act_kind_wants("pagerduty", "incident.clarify"));
	assert_true(act_kind_wants("pagerduty", "incident.opened"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_severity_thresholds),
		cmocka_unit_test(test_service_override),
		cmocka_unit_test(test_pagerduty_events_only),
		cmocka_unit_test(test_no_severity_reaches_everyone),
		cmocka_unit_test(test_no_channels),
		cmocka_unit_test(test_severity_rank),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
