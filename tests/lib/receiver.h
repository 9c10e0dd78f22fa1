/* receiver.h - an in-process HTTP receiver that stands in for a webhook
 * endpoint (Slack, a generic webhook...).  It runs its own libevent loop
 * on a thread, records every request, and answers with a status the test
 * scripts: a queue of statuses for the first requests, then a default. */
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
};

struct receiver;

struct receiver *rcv_start(int default_status);
void rcv_stop(struct receiver *r);
int rcv_port(const struct receiver *r);
/* Answer the next n requests with status (queued after earlier scripts). */
void rcv_script(struct receiver *r, int status, int n);
/* Wait until at least n requests arrived or timeout_ms; returns count. */
int rcv_wait(struct receiver *r, int n, int timeout_ms);
int rcv_count(struct receiver *r);
/* Request i (0-based); valid until rcv_stop. */
const struct rcv_request *rcv_get(struct receiver *r, int i);
/* Value of header name (lower-case) in req, copied into buf; NULL if absent. */
const char *rcv_header(const struct rcv_request *req, const char *name, char *buf, size_t n);

#endif /* T_RECEIVER_H */
