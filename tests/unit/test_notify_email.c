/* test_notify_email.c - the email channel (act/notify/email.c) against the
 * local SMTP receiver (tests/lib/smtp.c).
 *
 * What a mail server would get: the envelope (MAIL FROM the bare from
 * address, one RCPT TO per configured recipient), the login (AUTH with
 * config.username and the credential), and an RFC 5322 message with CRLF
 * line ends only -- Date, From, To, Subject (the headline; RFC 2047
 * encoded-words of at most 75 characters for the non-ASCII fixture,
 * decoding back to it), Message-ID <action.channel@domain>, MIME-Version,
 * Content-Type text/plain; charset=utf-8 -- and the fixture's facts in the
 * body, a line starting with "." intact after dot-stuffing.  Reply codes:
 * 250 delivered; 450 at RCPT, 452 after the data (retried); 550 at RCPT,
 * 554 after the data, 535 at AUTH (not); no server at all (retried).
 *
 * The unit-test link rule (Makefile) adds only receiver.o from tests/lib,
 * so the SMTP receiver is compiled into this test directly. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>

#include "../../act/notify/email.h"
#include "../../act/notify/notify.h"
#include "alexus/hash.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"
#include "receiver.h"
#include "smtp.c"

#define PUBLIC "https://alexus.example.com"
#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define CHANNEL "8a1f6f8e-9d0b-4c55-a1a0-0c9d1e2f3a4b"

struct fx {
	cJSON *payload;
	struct act_event ev;
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s (run from the repository root)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = ax_xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("cannot read %s", path);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void fx_load(struct fx *f, const char *name)
{
	char path[256], *text;

	snprintf(path, sizeof(path), "tests/fixtures/notify/%s.json", name);
	text = slurp(path);
	f->payload = cJSON_Parse(text);
	free(text);
	assert_non_null(f->payload);
	assert_int_equal(act_event_init(&f->ev, "acme", ax_json_str(f->payload, "action_id"),
					TRACE, f->payload, PUBLIC),
			 0);
}

static const char *fstr(const struct fx *f, const char *obj, const char *key)
{
	const cJSON *o = obj ? cJSON_GetObjectItemCaseSensitive(f->payload, obj) : f->payload;
	const char *s = ax_json_str(o, key);

	assert_non_null(s);
	return s;
}

static void test_addr(void **state)
{
	char a[64];
	(void)state;

	assert_int_equal(act_email_addr("oncall@example.com", a, sizeof(a)), 0);
	assert_string_equal(a, "oncall@example.com");
	assert_int_equal(act_email_addr("Alexus Alerts <alerts@example.com>", a, sizeof(a)), 0);
	assert_string_equal(a, "alerts@example.com");
	assert_int_equal(act_email_addr("a@b@example.com", a, sizeof(a)), -1);
	assert_int_equal(act_email_addr("no-at-sign", a, sizeof(a)), -1);
	assert_int_equal(act_email_addr("x@example.com\r\nBcc: y@example.com", a, sizeof(a)), -1);
	assert_int_equal(act_email_addr("a@example.com, b@example.com", a, sizeof(a)), -1);
	assert_int_equal(act_email_addr("Name <a@example.com> trailing", a, sizeof(a)), -1);
	assert_int_equal(act_email_addr("@example.com", a, sizeof(a)), -1);
	assert_int_equal(act_email_addr("a@", a, sizeof(a)), -1);
	assert_int_equal(act_email_addr(NULL, a, sizeof(a)), -1);
}

/* Decode a Subject value of encoded-words back to text. */
static void decode_subject(const char *v, char *out, size_t n)
{
	size_t k = 0;

	while ((v = strstr(v, "=?UTF-8?B?")) != NULL) {
		const char *e = strstr(v + 10, "?=");
		unsigned char bin[256];
		size_t blen = 0;

		assert_non_null(e);
		assert_true(e + 2 - v <= 75);
		assert_int_equal(sodium_base642bin(bin, sizeof(bin), v + 10, (size_t)(e - v - 10),
						   NULL, &blen, NULL, sodium_base64_VARIANT_ORIGINAL),
				 0);
		assert_true(k + blen < n);
		memcpy(out + k, bin, blen);
		k += blen;
		v = e + 2;
	}
	out[k] = '\0';
}

static void test_subject(void **state)
{
	struct fx f;
	char *h, *s, back[512];
	(void)state;

	s = act_email_subject("[CRITICAL] Incident opened: plain ascii");
	assert_string_equal(s, "[CRITICAL] Incident opened: plain ascii");
	free(s);
	fx_load(&f, "incident.diagnosed");
	h = act_headline(&f.ev);
	s = act_email_subject(h);
	assert_non_null(strstr(s, "=?UTF-8?B?"));
	assert_non_null(strstr(s, "\r\n "));              /* folded: more than one word */
	decode_subject(s, back, sizeof(back));
	assert_string_equal(back, h);                      /* no character split in two */
	free(s);
	free(h);
	cJSON_Delete(f.payload);
}

static void test_message(void **state)
{
	struct fx f;
	cJSON *cfg = cJSON_Parse("{\"from\":\"Alexus <alerts@example.com>\",\"to\":"
				 "[\"oncall@example.com\",\"Team SRE <sre@example.com>\"]}");
	char err[128], *m, want[256];
	const char *p;
	(void)state;

	fx_load(&f, "incident.opened");
	m = act_email_message(&f.ev, cfg, CHANNEL, 1795425102, err, sizeof(err));
	assert_non_null(m);
	/* CRLF only */
	for (p = m; *p != '\0'; p++)
		if (*p == '\n')
			assert_true(p > m && p[-1] == '\r');
	assert_non_null(strstr(m, "Date: Mon, 23 Nov 2026 09:11:42 +0000\r\n"));
	assert_true(strncmp(m, "Date: ", 6) == 0);
	assert_non_null(strstr(m, "\r\nFrom: Alexus <alerts@example.com>\r\n"));
	assert_non_null(strstr(m, "\r\nTo: oncall@example.com,\r\n Team SRE <sre@example.com>\r\n"));
	snprintf(want, sizeof(want), "\r\nMessage-ID: <%s.%s@example.com>\r\n",
		 fstr(&f, NULL, "action_id"), CHANNEL);
	assert_non_null(strstr(m, want));
	assert_non_null(strstr(m, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(strstr(m, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
	assert_non_null(strstr(m, "\r\nX-Alexus-Event: incident.opened\r\n"));
	free(m);

	cJSON_Delete(cfg);
	cfg = cJSON_Parse("{\"from\":\"alerts@example.com\"}");
	assert_null(act_email_message(&f.ev, cfg, CHANNEL, 0, err, sizeof(err)));
	assert_string_equal(err, "email channel has no config.to");
	cJSON_Delete(cfg);
	cfg = cJSON_Parse("{\"from\":\"alerts@example.com\",\"to\":\"a@example.com\\r\\nBcc: x@y.z\"}");
	assert_null(act_email_message(&f.ev, cfg, CHANNEL, 0, err, sizeof(err)));
	assert_string_equal(err, "email config.to[0] is not one address");
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static cJSON *config(struct smtp_server *srv, const char *extra)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "{\"smtp_url\":\"smtp://127.0.0.1:%d\",\"from\":\"Alexus <alerts@example.com>\","
		 "\"to\":[\"oncall@example.com\",\"sre@example.com\"]%s}",
		 smtp_port(srv), extra != NULL ? extra : "");
	return cJSON_Parse(text);
}

static void send_mail(const struct fx *f, const cJSON *cfg, const char *cred, struct act_outcome *out)
{
	struct act_send s;

	memset(&s, 0, sizeof(s));
	s.ev = &f->ev;
	s.config = cfg;
	s.credential = cred;
	s.channel_id = CHANNEL;
	s.timeout_ms = 5000;
	act_email_send(&s, out);
}

static void test_send_delivered(void **state)
{
	struct smtp_server *srv = smtp_start();
	struct act_outcome out;
	struct fx f;
	cJSON *cfg = config(srv, NULL);
	const struct smtp_msg *m;
	char h[512], back[512], *headline;
	const char *body;
	(void)state;

	fx_load(&f, "incident.diagnosed");
	send_mail(&f, cfg, NULL, &out);
	assert_true(out.ok);
	assert_int_equal(out.http_status, 250);
	assert_string_equal(out.host, "127.0.0.1");
	assert_int_equal(smtp_wait(srv, 1, 5000), 1);
	m = smtp_get(srv, 0);
	assert_int_equal(m->final, 250);
	assert_string_equal(m->from, "alerts@example.com");
	assert_int_equal(m->nrcpt, 2);
	assert_string_equal(m->rcpt[0], "oncall@example.com");
	assert_string_equal(m->rcpt[1], "sre@example.com");
	assert_string_equal(m->auth_mech, "");
	assert_non_null(smtp_header(m, "subject", h, sizeof(h)));
	headline = act_headline(&f.ev);
	decode_subject(h, back, sizeof(back));
	assert_string_equal(back, headline);
	free(headline);
	assert_non_null(smtp_header(m, "content-type", h, sizeof(h)));
	assert_string_equal(h, "text/plain; charset=utf-8");
	assert_non_null(smtp_header(m, "mime-version", h, sizeof(h)));
	assert_string_equal(h, "1.0");
	assert_non_null(smtp_header(m, "message-id", h, sizeof(h)));
	assert_non_null(strstr(h, fstr(&f, NULL, "action_id")));
	assert_non_null(smtp_header(m, "date", h, sizeof(h)));
	body = smtp_body(m);
	assert_non_null(body);
	/* the summary's second line starts with a dot: unstuffed intact */
	assert_non_null(strstr(body, "\r\n.Rolling back the deploy is the usual fix.\r\n"));
	assert_non_null(strstr(body, fstr(&f, "incident", "title")));
	assert_null(strstr(m->data, "\n\n"));            /* no bare LF anywhere */
	smtp_stop(srv);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static void test_send_auth(void **state)
{
	struct smtp_server *srv = smtp_start();
	struct act_outcome out;
	struct fx f;
	cJSON *cfg = config(srv, ",\"username\":\"alexus\",\"tls\":\"try\"");
	const struct smtp_msg *m;
	(void)state;

	smtp_require_auth(srv, "alexus", "c0rrect horse");
	fx_load(&f, "incident.opened");
	send_mail(&f, cfg, "c0rrect horse", &out);
	assert_true(out.ok);
	assert_int_equal(smtp_wait(srv, 1, 5000), 1);
	m = smtp_get(srv, 0);
	assert_true(strcmp(m->auth_mech, "PLAIN") == 0 || strcmp(m->auth_mech, "LOGIN") == 0);
	assert_string_equal(m->user, "alexus");
	assert_string_equal(m->pass, "c0rrect horse");

	send_mail(&f, cfg, "wrong", &out);
	assert_false(out.ok);
	assert_false(out.retryable);
	assert_int_equal(out.http_status, 535);
	assert_null(strstr(out.error, "wrong"));
	assert_int_equal(smtp_count(srv), 1);       /* never reached MAIL FROM */

	/* a username without a password credential: nothing sent */
	send_mail(&f, cfg, NULL, &out);
	assert_false(out.ok);
	assert_false(out.retryable);
	assert_int_equal(out.http_status, 0);
	smtp_stop(srv);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static void test_send_reply_codes(void **state)
{
	static const struct {
		const char *verb;
		int code, retryable;
	} cases[] = {
		{ "RCPT", 450, 1 },       /* greylisted */
		{ "RCPT", 550, 0 },       /* no such user */
		{ "MAIL", 451, 1 },
		{ "MAIL", 553, 0 },
		{ ".", 452, 1 },          /* insufficient storage */
		{ ".", 554, 0 },          /* rejected as spam */
		{ "DATA", 554, 0 },
	};
	struct smtp_server *srv = smtp_start();
	struct act_outcome out;
	struct fx f;
	cJSON *cfg = config(srv, NULL);
	size_t i;
	(void)state;

	fx_load(&f, "incident.opened");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		smtp_script(srv, cases[i].verb, cases[i].code, 1);
		send_mail(&f, cfg, NULL, &out);
		if (out.ok || out.http_status != cases[i].code || out.retryable != cases[i].retryable)
			fail_msg("%s %d: ok %d status %ld retryable %d (%s)", cases[i].verb,
				 cases[i].code, out.ok, out.http_status, out.retryable, out.error);
		assert_int_equal(smtp_wait(srv, (int)i + 1, 5000), (int)i + 1);
		assert_int_equal(smtp_get(srv, (int)i)->final, cases[i].code);
	}
	/* and then it goes through */
	send_mail(&f, cfg, NULL, &out);
	assert_true(out.ok);
	smtp_stop(srv);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static void test_send_no_server(void **state)
{
	struct smtp_server *srv = smtp_start();
	struct act_outcome out;
	struct fx f;
	cJSON *cfg = config(srv, NULL), *bad;
	(void)state;

	smtp_stop(srv);                /* the port is closed now */
	fx_load(&f, "incident.opened");
	send_mail(&f, cfg, NULL, &out);
	assert_false(out.ok);
	assert_true(out.retryable);
	assert_int_equal(out.http_status, 0);
	assert_true(out.error[0] != '\0');

	bad = cJSON_Parse("{\"smtp_url\":\"http://127.0.0.1:1\",\"from\":\"a@example.com\","
			  "\"to\":\"b@example.com\"}");
	send_mail(&f, bad, NULL, &out);
	assert_false(out.retryable);
	assert_string_equal(out.error, "email config.smtp_url must be smtp:// or smtps://");
	cJSON_Delete(bad);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

struct body {
	const char *p;
	size_t left;
};

static size_t body_read(char *buf, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t k = size * n < b->left ? size * n : b->left;

	memcpy(buf, b->p, k);
	b->p += k;
	b->left -= k;
	return k;
}

/* config.tls.  "required" never sends a message in clear: a server that
 * offers no STARTTLS gets no transaction, and one whose certificate is
 * not trusted gets the STARTTLS and a failed handshake, still no
 * transaction.  "try" sends in clear to a server without STARTTLS (and
 * does not fall back to clear text when the handshake fails); "none"
 * never asks for TLS, even where it is offered. */
static void test_send_tls(void **state)
{
	struct smtp_server *plain = smtp_start(), *tls = smtp_start();
	struct rcv_certs certs;
	struct act_outcome out;
	struct fx f;
	int st, hs;
	cJSON *cfg;
	(void)state;

	assert_int_equal(rcv_certs_make(&certs), 0);
	assert_int_equal(smtp_offer_starttls(tls, certs.server_cert, certs.server_key), 0);
	fx_load(&f, "incident.opened");

	cfg = config(plain, ",\"tls\":\"required\"");
	send_mail(&f, cfg, NULL, &out);
	cJSON_Delete(cfg);
	assert_false(out.ok);
	assert_true(out.error[0] != '\0');
	assert_int_equal(smtp_count(plain), 0);

	cfg = config(tls, ",\"tls\":\"required\"");
	send_mail(&f, cfg, NULL, &out);
	cJSON_Delete(cfg);
	assert_false(out.ok);
	assert_int_equal(smtp_count(tls), 0);
	smtp_tls_counts(tls, &st, &hs);
	assert_int_equal(st, 1);
	assert_int_equal(hs, 0);

	cfg = config(tls, ",\"tls\":\"try\"");
	send_mail(&f, cfg, NULL, &out);
	cJSON_Delete(cfg);
	assert_false(out.ok);
	assert_int_equal(smtp_count(tls), 0);
	smtp_tls_counts(tls, &st, &hs);
	assert_int_equal(st, 2);

	cfg = config(plain, ",\"tls\":\"try\"");
	send_mail(&f, cfg, NULL, &out);
	cJSON_Delete(cfg);
	assert_true(out.ok);
	assert_int_equal(smtp_wait(plain, 1, 5000), 1);
	assert_int_equal(smtp_get(plain, 0)->tls, 0);
	assert_int_equal(smtp_get(plain, 0)->final, 250);

	cfg = config(tls, ",\"tls\":\"none\"");
	send_mail(&f, cfg, NULL, &out);
	cJSON_Delete(cfg);
	assert_true(out.ok);
	assert_int_equal(smtp_wait(tls, 1, 5000), 1);
	assert_int_equal(smtp_get(tls, 0)->tls, 0);
	smtp_tls_counts(tls, &st, &hs);
	assert_int_equal(st, 2);          /* not asked this time */

	/* The receiver's TLS itself works: libcurl trusting the test CA
	 * gets through STARTTLS, and the transaction is recorded as TLS. */
	{
		static const char msg[] = "Subject: t\r\n\r\nover TLS\r\n";
		struct body up = { msg, sizeof(msg) - 1 };
		struct curl_slist *rcpt = curl_slist_append(NULL, "<b@example.com>");
		CURL *h = curl_easy_init();
		char url[64];

		snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", smtp_port(tls));
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
		curl_easy_setopt(h, CURLOPT_CAINFO, certs.ca);
		curl_easy_setopt(h, CURLOPT_MAIL_FROM, "<a@example.com>");
		curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, body_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &up);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
		assert_int_equal(curl_easy_perform(h), CURLE_OK);
		curl_easy_cleanup(h);
		curl_slist_free_all(rcpt);
		assert_int_equal(smtp_wait(tls, 2, 5000), 2);
		assert_int_equal(smtp_get(tls, 1)->tls, 1);
		assert_non_null(strstr(smtp_get(tls, 1)->data, "over TLS"));
		smtp_tls_counts(tls, &st, &hs);
		assert_int_equal(st, 3);
		assert_int_equal(hs, 1);
	}

	smtp_stop(plain);
	smtp_stop(tls);
	rcv_certs_remove(&certs);
	cJSON_Delete(f.payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_send_delivered),
		cmocka_unit_test(test_send_auth),
		cmocka_unit_test(test_send_reply_codes),
		cmocka_unit_test(test_send_no_server),
		cmocka_unit_test(test_send_tls),
	};

	signal(SIGPIPE, SIG_IGN);
	if (ax_hash_init() != 0 || ax_httpc_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
