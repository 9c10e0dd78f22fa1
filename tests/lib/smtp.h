/* smtp.h - a local SMTP receiver standing in for a mail server in tests.
 *
 * It speaks the part of SMTP a sender needs (RFC 5321): the greeting,
 * EHLO/HELO, STARTTLS (offered only after smtp_offer_starttls), AUTH
 * PLAIN and AUTH LOGIN (offered only after smtp_require_auth), MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET,
 * NOOP and QUIT, on 127.0.0.1 and a port of its own, from its own libevent
 * loop on a thread.  Every mail transaction (from MAIL FROM on) is
 * recorded with its envelope, its login and its message, and the reply
 * that ended it; a test can script failure codes for the next commands of
 * a kind, so a 4xx or 5xx at any step is one line. */
#ifndef T_SMTP_H
#define T_SMTP_H

#include <stddef.h>

#define SMTP_RCPT_MAX 16

/* One mail transaction. */
struct smtp_msg {
	char helo[128];           /* the EHLO/HELO argument of its session */
	char auth_mech[16];       /* "PLAIN", "LOGIN", or "" when it did not log in */
	char user[128], pass[128];/* what it logged in with */
	char from[256];           /* MAIL FROM's address, without the brackets */
	char rcpt[SMTP_RCPT_MAX][256]; /* RCPT TO's addresses, accepted or not */
	int nrcpt;
	int tls;                  /* the session had switched to TLS (STARTTLS) */
	char *data;               /* the message as received, dot-unstuffed, CRLFs kept,
	                           * without the final ".": NUL-terminated */
	size_t data_len;
	int final;                /* the reply that ended the transaction: 250 after the
	                           * data, or the failure code of the step that failed;
	                           * 0 while it is still going */
};

struct smtp_server;

struct smtp_server *smtp_start(void);
void smtp_stop(struct smtp_server *s);       /* NULL-safe */
int smtp_port(const struct smtp_server *s);

/* Offer AUTH PLAIN LOGIN and refuse MAIL FROM (530) until a session has
 * logged in with exactly user and pass (others get 535). */
void smtp_require_auth(struct smtp_server *s, const char *user, const char *pass);

/* Offer STARTTLS with this certificate chain and key (PEM files): the
 * session switches to TLS after the 220 and starts over.  0, or -1 when
 * OpenSSL refused the files. */
int smtp_offer_starttls(struct smtp_server *s, const char *cert_pem, const char *key_pem);
/* STARTTLS commands received, and TLS handshakes that completed. */
void smtp_tls_counts(struct smtp_server *s, int *starttls, int *handshakes);

/* Answer the next n commands of verb -- "EHLO", "AUTH", "MAIL", "RCPT",
 * "DATA" (instead of the 354) or "." (the end of the data) -- with code
 * and a short text instead of their success (queued per verb, at most 64). */
void smtp_script(struct smtp_server *s, const char *verb, int code, int n);

/* Wait until at least n transactions have ended (final != 0) or
 * timeout_ms passed; returns how many have. */
int smtp_wait(struct smtp_server *s, int n, int timeout_ms);
/* Transactions recorded so far (ended or not). */
int smtp_count(struct smtp_server *s);
/* Transaction i (0-based), valid until smtp_stop; NULL when there is none. */
const struct smtp_msg *smtp_get(struct smtp_server *s, int i);

/* The value of header name (case-insensitive) in a message's header block,
 * unfolded, copied into buf; NULL when absent. */
const char *smtp_header(const struct smtp_msg *m, const char *name, char *buf, size_t n);
/* The body: what follows the first empty line, or NULL. */
const char *smtp_body(const struct smtp_msg *m);

#endif /* T_SMTP_H */
