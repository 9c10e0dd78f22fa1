/* email.h - the email channel: one message over SMTP with libcurl.
 *
 * config: "smtp_url" (smtp://host[:port] -- STARTTLS when the server
 * offers it -- or smtps://host[:port], implicit TLS), "from" (an address,
 * or "Name <address>"), "to" (an address or an array of them, at most
 * 16), "username" (optional: log in with it and the credential, the SMTP
 * password), "tls" (optional: "try", the default for smtp://, upgrades
 * when offered; "required" refuses a server without STARTTLS; "none"
 * never upgrades).  A channel template renders the body.
 *
 * The message is RFC 5322 with CRLF line ends: Date, From, To, Subject
 * (RFC 2047 encoded-words when it is not ASCII), Message-ID
 * <action.channel@domain of from> -- the same on every attempt, so a
 * repeat is recognisable --, MIME-Version 1.0, Content-Type text/plain;
 * charset=utf-8, Content-Transfer-Encoding 8bit, X-Alexus-Event and
 * X-Alexus-Trace, then the body (lines over 998 octets are broken).
 * libcurl does the envelope (MAIL FROM, one RCPT TO per address, DATA) and
 * the dot-stuffing.
 *
 * Outcome: http_status holds the last SMTP reply code (250 after DATA on
 * success; 0 when none came).  A 4xx reply (greylisting, a full mailbox,
 * "try again later") is retried, a 5xx (no such user, relay denied,
 * authentication failed) is not; no answer at all is retried. */
#ifndef ACT_NOTIFY_EMAIL_H
#define ACT_NOTIFY_EMAIL_H

#include <stddef.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "notify.h"

#define ACT_EMAIL_RCPT_MAX 16

/* The bare address of "Name <addr>" or "addr" into out (n bytes): 0, or
 * -1 when it is not one plausible address (one '@', no spaces, controls,
 * '<', '>', ',' or quotes inside). */
int act_email_addr(const char *s, char *out, size_t n);

/* The Subject header's value for text: text itself when it is printable
 * ASCII, else RFC 2047 "=?UTF-8?B?...?=" encoded-words of at most 75
 * characters folded with CRLF SP.  malloc'd. */
char *act_email_subject(const char *text);

/* The whole message (headers, blank line, body) for ev sent to the
 * recipients of config, dated now.  NULL with errbuf when config lacks
 * from or to or holds an address that is not one.  malloc'd. */
char *act_email_message(const struct act_event *ev, const cJSON *config, const char *channel_id,
			time_t now, char *errbuf, size_t errlen);

void act_email_send(const struct act_send *s, struct act_outcome *out);

#endif /* ACT_NOTIFY_EMAIL_H */
