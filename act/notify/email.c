/* email.c - the email channel (see email.h).
 *
 * Design: libcurl speaks SMTP (EHLO, STARTTLS, AUTH with whatever the
 * server offers, MAIL FROM, RCPT TO, DATA and the dot-stuffing of the
 * body), so this file only composes the message and reads the outcome.
 * It talks to libcurl directly rather than through common/httpc, which is
 * HTTP-only by design (it refuses any other scheme, so a tenant's URL can
 * never reach smtp:// through it); here the protocols are pinned the
 * other way round, to smtp and smtps.
 *
 * The message is composed in memory with CRLF line ends.  Header values
 * from the incident pass through the headline (controls already dropped)
 * and, when not ASCII, RFC 2047 encoding (base64 by libsodium, which is
 * already linked); addresses from the channel's config are checked to be
 * one address each, so nothing can add a header or a recipient.  The
 * Message-ID is derived from the action and the channel, so every attempt
 * of one notification carries the same id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "email.h"
#include "webhook.h"
#include "alexus/json.h"
#include "alexus/mem.h"

#define LINE_MAX_OCTETS 998

int act_email_addr(const char *s, char *out, size_t n)
{
	const char *a = s, *e, *at = NULL, *p;
	size_t len;

	if (s == NULL)
		return -1;
	p = strchr(s, '<');
	if (p != NULL) {
		a = p + 1;
		e = strchr(a, '>');
		if (e == NULL || e[1] != '\0')
			return -1;
		/* The display name: printable, no quotes or brackets games. */
		for (p = s; p < a - 1; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"' || *p == '>' ||
			    *p == ',')
				return -1;
	} else {
		e = s + strlen(s);
	}
	len = (size_t)(e - a);
	if (len == 0 || len >= n)
		return -1;
	for (p = a; p < e; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == '"' ||
		    c == '(' || c == ')' || c == ';' || c == '\\')
			return -1;
		if (c == '@') {
			if (at != NULL)
				return -1;
			at = p;
		}
	}
	if (at == NULL || at == a || at + 1 == e)
		return -1;
	memcpy(out, a, len);
	out[len] = '\0';
	return 0;
}

static int printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

char *act_email_subject(const char *text)
{
	/* 45 bytes of UTF-8 become 60 base64 characters: with "=?UTF-8?B?"
	 * and "?=" that is 72, under RFC 2047's 75. */
	enum { CHUNK = 45 };
	char *out = NULL, b64[sodium_base64_ENCODED_LEN(CHUNK, sodium_base64_VARIANT_ORIGINAL)];
	size_t off = 0, len = strlen(text), olen = 0;

	if (printable_ascii(text) && len <= 900)
		return ax_xstrdup(text);
	while (off < len) {
		size_t k = act_utf8_prefix(text + off, CHUNK, CHUNK);
		char *part;

		if (k == 0)
			k = 1;
		sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)text + off, k,
				  sodium_base64_VARIANT_ORIGINAL);
		part = ax_xasprintf("%s=?UTF-8?B?%s?=", off > 0 ? "\r\n " : "", b64);
		out = ax_xrealloc(out, olen + strlen(part) + 1);
		memcpy(out + olen, part, strlen(part) + 1);
		olen += strlen(part);
		free(part);
		off += k;
	}
	return out != NULL ? out : ax_xstrdup("");
}

/* A growing buffer of the message. */
struct mbuf {
	char *s;
	size_t len, cap;
};

static void mb_putn(struct mbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->s = ax_xrealloc(b->s, cap);
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void mb_put(struct mbuf *b, const char *s)
{
	mb_putn(b, s, strlen(s));
}

static void header(struct mbuf *b, const char *name, const char *value)
{
	mb_put(b, name);
	mb_put(b, ": ");
	mb_put(b, value);
	mb_put(b, "\r\n");
}

/* The body, LF or CRLF line ends into CRLF, lines over 998 octets broken
 * (at a character boundary). */
static void body_lines(struct mbuf *b, const char *text)
{
	while (*text != '\0') {
		size_t n = strcspn(text, "\r\n");
		const char *line = text;

		while (n > LINE_MAX_OCTETS) {
			size_t k = act_utf8_prefix(line, LINE_MAX_OCTETS, LINE_MAX_OCTETS);

			mb_putn(b, line, k);
			mb_put(b, "\r\n");
			line += k;
			n -= k;
		}
		mb_putn(b, line, n);
		mb_put(b, "\r\n");
		text = line + n;
		if (*text == '\r')
			text++;
		if (*text == '\n')
			text++;
	}
}

/* The recipients of config (one string or an array of strings), each
 * checked; their count, or -1 with errbuf. */
static int recipients(const cJSON *config, const char *list[ACT_EMAIL_RCPT_MAX],
		      char *errbuf, size_t errlen)
{
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(config, "to"), *it;
	char addr[320];
	int n = 0;

	if (cJSON_IsString(to)) {
		list[n++] = to->valuestring;
	} else if (cJSON_IsArray(to)) {
		cJSON_ArrayForEach(it, to) {
			if (!cJSON_IsString(it) || n == ACT_EMAIL_RCPT_MAX)
				return ax_errfmt(errbuf, errlen,
						 "email config.to: at most %d address strings",
						 ACT_EMAIL_RCPT_MAX);
			list[n++] = it->valuestring;
		}
	}
	if (n == 0)
		return ax_errfmt(errbuf, errlen, "email channel has no config.to");
	for (int i = 0; i < n; i++)
		if (act_email_addr(list[i], addr, sizeof(addr)) != 0 || !printable_ascii(list[i]))
			return ax_errfmt(errbuf, errlen, "email config.to[%d] is not one address",
					 i);
	return n;
}

char *act_email_message(const struct act_event *ev, const cJSON *config, const char *channel_id,
			time_t now, char *errbuf, size_t errlen)
{
	const char *from = act_config_str(config, "from"), *list[ACT_EMAIL_RCPT_MAX];
	char addr[320], date[64], *subject, *h, *text, *mid;
	const char *domain;
	struct mbuf b = { NULL, 0, 0 };
	struct tm tm;
	int n, i;

	if (from == NULL || act_email_addr(from, addr, sizeof(addr)) != 0 ||
	    !printable_ascii(from)) {
		ax_errfmt(errbuf, errlen, "email config.from is missing or not one address");
		return NULL;
	}
	n = recipients(config, list, errbuf, errlen);
	if (n < 0)
		return NULL;
	gmtime_r(&now, &tm);
	/* RFC 5322 date-time; the daemon runs in the C locale, so the day and
	 * month names are the English ones the grammar asks for. */
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	domain = strchr(addr, '@') + 1;
	mid = ax_xasprintf("<%s.%s@%s>", ev->action_id ? ev->action_id : "x",
			   channel_id != NULL && channel_id[0] != '\0' ? channel_id : "webhook",
			   domain);

	header(&b, "Date", date);
	header(&b, "From", from);
	mb_put(&b, "To: ");
	for (i = 0; i < n; i++) {
		mb_put(&b, i > 0 ? ",\r\n " : "");
		mb_put(&b, list[i]);
	}
	mb_put(&b, "\r\n");
	h = act_headline(ev);
	subject = act_email_subject(h);
	header(&b, "Subject", subject);
	free(h);
	free(subject);
	header(&b, "Message-ID", mid);
	free(mid);
	header(&b, "MIME-Version", "1.0");
	header(&b, "Content-Type", "text/plain; charset=utf-8");
	header(&b, "Content-Transfer-Encoding", "8bit");
	if (ev->event != NULL && printable_ascii(ev->event))
		header(&b, "X-Alexus-Event", ev->event);
	if (ev->trace != NULL && ev->trace[0] != '\0' && printable_ascii(ev->trace))
		header(&b, "X-Alexus-Trace", ev->trace);
	mb_put(&b, "\r\n");
	text = act_render(config, ev, 0);
	if (text == NULL)
		text = act_plain_text(ev);
	body_lines(&b, text);
	free(text);
	return b.s;
}

/* libcurl's upload source: the message, read once. */
struct upload {
	const char *data;
	size_t len, off;
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nitems, left = u->len - u->off;

	if (n > left)
		n = left;
	memcpy(buf, u->data + u->off, n);
	u->off += n;
	return n;
}

static size_t on_discard(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data;
	(void)arg;
	return size * nmemb;
}

void act_email_send(const struct act_send *s, struct act_outcome *out)
{
	const char *url = act_config_str(s->config, "smtp_url");
	const char *user = act_config_str(s->config, "username");
	const char *tls = act_config_str(s->config, "tls"), *list[ACT_EMAIL_RCPT_MAX];
	char from[320], addr[320], err[CURL_ERROR_SIZE] = "", msgerr[200];
	struct curl_slist *rcpt = NULL;
	struct upload up;
	long code = 0, timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : 5000;
	CURL *h;
	CURLcode rc;
	int n, i;
	char *msg;

	memset(out, 0, sizeof(*out));
	if (url == NULL ||
	    (strncasecmp(url, "smtp://", 7) != 0 && strncasecmp(url, "smtps://", 8) != 0)) {
		act_outcome_fail(out, "email config.smtp_url must be smtp:// or smtps://");
		return;
	}
	if (tls != NULL && strcmp(tls, "try") != 0 && strcmp(tls, "required") != 0 &&
	    strcmp(tls, "none") != 0) {
		act_outcome_fail(out, "email config.tls must be try, required or none");
		return;
	}
	if (user != NULL && (s->credential == NULL || s->credential[0] == '\0')) {
		act_outcome_fail(out, "email config.username is set but the channel has no "
				      "password credential");
		return;
	}
	msg = act_email_message(s->ev, s->config, s->channel_id, time(NULL), msgerr,
				sizeof(msgerr));
	if (msg == NULL) {
		act_outcome_fail(out, "%s", msgerr);
		return;
	}
	(void)act_email_addr(act_config_str(s->config, "from"), from, sizeof(from));
	n = recipients(s->config, list, msgerr, sizeof(msgerr));
	for (i = 0; i < n; i++) {
		struct curl_slist *t;

		(void)act_email_addr(list[i], addr, sizeof(addr));
		t = curl_slist_append(rcpt, addr);
		if (t == NULL)
			abort();
		rcpt = t;
	}
	(void)act_url_host(url, out->host, sizeof(out->host));

	h = curl_easy_init();
	if (h == NULL)
		abort();
	up.data = msg;
	up.len = strlen(msg);
	up.off = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_discard);
	if (strncasecmp(url, "smtp://", 7) == 0) {
		long use_ssl = CURLUSESSL_TRY;

		if (tls != NULL && strcmp(tls, "required") == 0)
			use_ssl = CURLUSESSL_ALL;
		else if (tls != NULL && strcmp(tls, "none") == 0)
			use_ssl = CURLUSESSL_NONE;
		curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl);
	}
	if (user != NULL) {
		curl_easy_setopt(h, CURLOPT_USERNAME, user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, s->credential);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
	free(msg);

	out->http_status = code;
	if (rc == CURLE_OK && code >= 200 && code < 400) {
		out->ok = 1;
		return;
	}
	if (code >= 400 && code < 500)
		out->retryable = 1;
	else if (code >= 500)
		out->retryable = 0;
	else
		/* No reply code: the network, a timeout, TLS -- worth another try,
		 * unless libcurl refused what it was given. */
		out->retryable = rc != CURLE_UNSUPPORTED_PROTOCOL && rc != CURLE_URL_MALFORMAT &&
				 rc != CURLE_LOGIN_DENIED;
	if (code > 0)
		snprintf(out->error, sizeof(out->error), "SMTP %ld: %.200s", code,
			 err[0] != '\0' ? err : curl_easy_strerror(rc));
	else
		snprintf(out->error, sizeof(out->error), "%.200s",
			 err[0] != '\0' ? err : curl_easy_strerror(rc));
}
