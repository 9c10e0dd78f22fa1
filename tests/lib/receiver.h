/* receiver.h - an in-process HTTP receiver that stands in for a webhook
 * endpoint (Slack, a generic webhook, an LLM API...).  It runs its own
 * libevent loop on a thread, records every request, and answers with what
 * the test scripts: a queue of replies for the first requests (a status,
 * or a full reply with body, headers and a delay), then a default. */
#ifndef T_RECEIVER_H
#define T_RECEIVER_H

#include <stddef.h>

struct rcv_request {
	char method[8];
	char path[256];
	char *headers;   /* "name: value\n" lines, names lower-cased */
	char *body;
	size_t body_len;
	int answered;    /* status we answered */
	char client_cn[128]; /* TLS mode: CN of the client certificate presented, else "" */
};

struct receiver;

struct receiver *rcv_start(int default_status);
/* The same receiver speaking HTTPS on 127.0.0.1 with the certificate and
 * key PEM files given (see rcv_certs_make).  Everything else (scripts,
 * recording) is as for rcv_start. */
struct receiver *rcv_start_tls(int default_status, const char *cert_pem_file,
			       const char *key_pem_file);
/* rcv_start_tls that also asks for a client certificate and verifies it
 * against client_ca_file; a client that presents none is still served
 * (bearer-token clients), and rcv_request.client_cn tells who presented
 * what.  A certificate that does not verify fails the handshake. */
struct receiver *rcv_start_tls_client(int default_status, const char *cert_pem_file,
				      const char *key_pem_file, const char *client_ca_file);

/* Throwaway PKI for the TLS receiver, made at test time with the openssl
 * command line in a fresh temporary directory (no key is committed): a CA,
 * a server certificate for IP 127.0.0.1 and DNS localhost signed by it, a
 * client certificate (CN alexus-test-client, O system:masters) signed by
 * it, and an unrelated second CA for "wrong CA" tests.  Certificates are
 * valid for three days from their making, so a run never outlives them.
 * Paths are absolute. */
struct rcv_certs {
	char dir[256];
	char ca[300], ca_key[300];
	char server_cert[300], server_key[300];
	char client_cert[300], client_key[300];
	char other_ca[300];
};
/* 0 on success; -1 (with a message on stderr) if openssl failed. */
int rcv_certs_make(struct rcv_certs *c);
void rcv_certs_remove(struct rcv_certs *c);   /* deletes the directory */
void rcv_stop(struct receiver *r);
int rcv_port(const struct receiver *r);
/* Answer the next n requests with status (queued after earlier scripts);
 * the body is {"ok":true} below 300, else {"ok":false}. */
void rcv_script(struct receiver *r, int status, int n);

/* A full scripted reply.  body NULL: the {"ok":...} body of rcv_script;
 * body_len 0 with a body: strlen(body).  headers: "Name: value" lines
 * separated by '\n' (NULL for none); a Content-Type among them replaces
 * the default application/json.  delay_ms > 0 holds the reply back that
 * long (the request is recorded at once), so a client's timeout can be
 * tested; a client that gave up meanwhile has closed the connection and
 * the late reply is dropped.  A test that lets a delayed reply outlive its
 * client should ignore SIGPIPE.  Replies still held at rcv_stop are sent
 * (or dropped) then.  Everything is copied. */
struct rcv_reply {
	int status;
	const char *body;
	size_t body_len;
	const char *headers;
	int delay_ms;
};

/* Queue reply for the next request (after earlier scripts, shared with
 * rcv_script's queue). */
void rcv_script_reply(struct receiver *r, const struct rcv_reply *reply);
/* Wait until at least n requests arrived or timeout_ms; returns count. */
int rcv_wait(struct receiver *r, int n, int timeout_ms);
int rcv_count(struct receiver *r);
/* Request i (0-based); valid until rcv_stop. */
const struct rcv_request *rcv_get(struct receiver *r, int i);
/* Value of header name (lower-case) in req, copied into buf; NULL if absent. */
const char *rcv_header(const struct rcv_request *req, const char *name, char *buf, size_t n);

#endif /* T_RECEIVER_H */
