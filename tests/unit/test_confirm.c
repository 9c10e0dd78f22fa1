/* test_confirm.c - the SNS SubscriptionConfirmation visit (ingest/confirm.c).
 *
 * The URL check is what stands between a request body and an outbound
 * GET, so it is tested case by case; the visit itself goes to an
 * in-process receiver standing in for sns.<region>.amazonaws.com and must
 * arrive as the GET of the exact path and query SNS sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "alexus/httpc.h"
#include "../../ingest/confirm.h"
#include "receiver.h"

#define AWS "sns.*.amazonaws.com"

static void expect_refused(const char *url, const char *patterns, const char *why)
{
	char err[256] = "";

	if (ingest_confirm_url_ok(url, patterns, err, sizeof(err)) == 0)
		fail_msg("%s was accepted", url);
	if (strstr(err, why) == NULL)
		fail_msg("%s: \"%s\" lacks \"%s\"", url, err, why);
}

static void test_url_check(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(ingest_confirm_url_ok("https://sns.eu-west-1.amazonaws.com/?Action="
					       "ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:"
					       "123456789012:alerts&Token=2336412f37",
					       AWS, err, sizeof(err)),
			 0);
	assert_int_equal(ingest_confirm_url_ok("https://SNS.US-EAST-1.AMAZONAWS.COM/x", AWS, err,
					       sizeof(err)),
			 0);
	expect_refused("http://sns.eu-west-1.amazonaws.com/?Action=x", AWS, "https");
	expect_refused("https://sns.eu-west-1.amazonaws.com.evil.example/x", AWS,
		       "not in ALEXUS_SNS_CONFIRM_HOSTS");
	expect_refused("https://evil.example/sns.eu-west-1.amazonaws.com", AWS,
		       "not in ALEXUS_SNS_CONFIRM_HOSTS");
	expect_refused("https://user:pw@sns.eu-west-1.amazonaws.com/x", AWS, "credentials");
	expect_refused("file:///etc/passwd", AWS, "no scheme or host");
	expect_refused("ftp://sns.eu-west-1.amazonaws.com/x", AWS, "https");
	expect_refused("not a url", AWS, "URL");
	/* http only to loopback, and only when allowed by the patterns. */
	expect_refused("http://127.0.0.1:1/x", AWS, "not in ALEXUS_SNS_CONFIRM_HOSTS");
	assert_int_equal(ingest_confirm_url_ok("http://127.0.0.1:1/x", "localhost, 127.0.0.1", err,
					       sizeof(err)),
			 0);
	expect_refused("http://10.0.0.1/x", "10.0.0.1", "https");
}

static void test_visit(void **state)
{
	struct receiver *r = rcv_start(200);
	const struct rcv_request *q;
	char url[256], err[256];

	(void)state;
	assert_int_equal(ax_httpc_global_init(), 0);
	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%d/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:"
		 "eu-west-1:123456789012:alerts&Token=2336412f37",
		 rcv_port(r));
	assert_int_equal(ingest_confirm_subscription(url, "127.0.0.1", "acme", 2000, err,
						     sizeof(err)),
			 AX_OK);
	assert_int_equal(rcv_wait(r, 1, 5000), 1);
	q = rcv_get(r, 0);
	assert_string_equal(q->method, "GET");
	assert_string_equal(q->path, "/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:"
				     "eu-west-1:123456789012:alerts&Token=2336412f37");
	assert_int_equal(q->body_len, 0);
	{
		int i;

		/* The visiting thread finishes (and frees its job) on its own. */
		for (i = 0; i < 500 && ingest_confirm_running() > 0; i++)
			rcv_wait(r, 2, 10);
		assert_int_equal(ingest_confirm_running(), 0);
	}
	/* A refused URL starts nothing. */
	assert_int_equal(ingest_confirm_subscription("http://127.0.0.1:1/x", AWS, "acme", 2000,
						     err, sizeof(err)),
			 AX_EINVAL);
	rcv_stop(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_visit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
