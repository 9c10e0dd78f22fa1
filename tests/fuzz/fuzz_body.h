/* fuzz_body.h - the one body shared by the libFuzzer harnesses
 * (tests/fuzz/fuzz_normalize.c, tests/fuzz/fuzz_driver.c) and their
 * regression test (tests/unit/test_fuzz_regress.c): bytes in, the request
 * path of ingest run on them, every promise of that path checked,
 * everything released.  One implementation, so a crash input saved under
 * tests/fixtures/fuzz/ replays exactly what the fuzzer ran.
 *
 * Input format.  An input is zero or more header lines, then the body:
 *
 *     X-GitHub-Event: deployment\n
 *     x-amz-sns-message-type: Notification\r\n
 *     {"the": "JSON body"}
 *
 * A header line is an RFC 9110 token, ':', any bytes but '\n', then '\n'
 * (a '\r' before it and blanks after ':' are dropped, as libevent does).
 * The first line that is not of that shape starts the body, so a plain
 * JSON file is an input with no header: no JSON text starts with a token
 * followed by ':'.  At most FUZZ_MAX_HEADERS lines are headers; the rest
 * is body.  This lets the fuzzer reach the drivers that detect a sender by
 * a header (SNS, GitHub, GitLab, Sentry, PagerDuty...) without a second
 * input channel, and a seed is a fixture with its headers.json entry
 * written in front (scripts/fuzz).
 *
 * What one run does, in the server's order (ingest/server.c): parse the
 * body with ax_json_parse at AX_JSON_PAYLOAD_DEPTH, ingest_normalize with
 * the headers (source NULL: detection, or one named source), free the
 * document, then serialise each signal as the appender does and read it
 * back as reason does (AX_JSON_ENTRY_DEPTH, ax_signal_from_json).  A
 * broken promise is reported as text (why) instead of an abort here, so
 * the unit test can name the file and the source; the harnesses abort.
 * The promises, from driver.h and signal.h:
 *  - ingest_normalize returns AX_OK or AX_EPROTO (a known source);
 *  - on AX_EPROTO errbuf says why and the batch is empty;
 *  - on AX_OK the driver that ran is known (the named one, if named), and
 *    the batch holds 1..INGEST_MAX_SIGNALS signals, or none and says why;
 *  - no signal points into the parsed document (ASan sees a use after
 *    free otherwise) and each one's source is the driver's name;
 *  - what ingest appends, reason accepts: the JSON round trip succeeds.
 * Leaks are LeakSanitizer's business (libFuzzer and build-asan/ both run
 * it).
 *
 * Functions are static: the header is included once per binary, and the
 * libFuzzer entry points are declared here for -Wmissing-prototypes. */
#ifndef ALEXUS_FUZZ_BODY_H
#define ALEXUS_FUZZ_BODY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/err.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/mem.h"
#include "alexus/signal.h"
#include "../../ingest/drivers/driver.h"
#include "../../ingest/drivers/profile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The body depth the server parses at, and the one consumers read a
 * stream entry at (common/alexus/json.h). */
#define FUZZ_BODY_DEPTH AX_JSON_PAYLOAD_DEPTH
#define FUZZ_ENTRY_DEPTH AX_JSON_ENTRY_DEPTH
#define FUZZ_MAX_HEADERS 16

/* The header lines of one input; name[i] and value[i] point into buf, a
 * NUL-separated copy of the header section (owned). */
struct fuzz_headers {
	char *buf;
	const char *name[FUZZ_MAX_HEADERS];
	const char *value[FUZZ_MAX_HEADERS];
	int n;
};

/* What one run produced, for the regression test's messages. */
struct fuzz_result {
	ax_err rc;
	const struct ingest_driver *used;   /* NULL when none ran */
	size_t nsig;
	int headers;                        /* header lines found */
	int parsed;                         /* the body was JSON */
};

static int fuzz_is_tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Split the header lines off the front of data into h (init'ed by the
 * call; fuzz_headers_release frees it).  Returns the offset of the body. */
static size_t fuzz_headers_split(struct fuzz_headers *h, const uint8_t *data, size_t size)
{
	size_t off = 0, end[FUZZ_MAX_HEADERS], colon[FUZZ_MAX_HEADERS];
	int i;

	memset(h, 0, sizeof(*h));
	while (h->n < FUZZ_MAX_HEADERS) {
		size_t p = off;

		while (p < size && fuzz_is_tchar(data[p]))
			p++;
		if (p == off || p >= size || data[p] != ':')
			break;
		colon[h->n] = p;
		while (p < size && data[p] != '\n')
			p++;
		if (p >= size)
			break;     /* no newline: the rest is body */
		end[h->n++] = p;
		off = p + 1;
	}
	if (h->n == 0)
		return 0;
	/* One copy of the section, '\0' at each ':' and each line end. */
	h->buf = ax_xmalloc(off + 1);
	memcpy(h->buf, data, off);
	h->buf[off] = '\0';
	for (i = 0; i < h->n; i++) {
		size_t vs = colon[i] + 1, ve = end[i];

		h->buf[colon[i]] = '\0';
		if (ve > vs && h->buf[ve - 1] == '\r')
			ve--;
		h->buf[ve] = '\0';
		while (vs < ve && (h->buf[vs] == ' ' || h->buf[vs] == '\t'))
			vs++;
		h->name[i] = h->buf + (i == 0 ? 0 : end[i - 1] + 1);
		h->value[i] = h->buf + vs;
	}
	return off;
}

static void fuzz_headers_release(struct fuzz_headers *h)
{
	free(h->buf);
	memset(h, 0, sizeof(*h));
}

/* struct ingest_input's header(): the first line named name, any case. */
static const char *fuzz_header(const struct ingest_input *in, const char *name)
{
	const struct fuzz_headers *h = in->hctx;
	int i;

	for (i = 0; i < h->n; i++) {
		if (strcasecmp(h->name[i], name) == 0)
			return h->value[i];
	}
	return NULL;
}

/* Once per process: libsodium, then the declarative profiles of
 * ALEXUS_PROFILES_DIR (default ingest/profiles, relative to the working
 * directory, as the daemon and `alexus-ingest --list-sources` read it).
 * A missing directory means no profile; a bad one is an error. */
static int fuzz_setup(char *errbuf, size_t errlen)
{
	const char *dir = getenv("ALEXUS_PROFILES_DIR");
	char err[512];
	size_t n = 0;
	ax_err rc;

	if (dir == NULL || dir[0] == '\0')
		dir = "ingest/profiles";
	if (ax_hash_init() != 0)
		return ax_errfmt(errbuf, errlen, "libsodium failed to initialise");
	err[0] = '\0';
	rc = ingest_profiles_load(dir, &n, err, sizeof(err));
	if (rc != AX_OK && rc != AX_ENOTFOUND)
		return ax_errfmt(errbuf, errlen, "profiles in '%s': %s", dir, err);
	return 0;
}

/* Check what reason would make of signal s, as the appender writes it. */
static int fuzz_check_signal(const struct ax_signal *s, const struct ingest_driver *d,
			     size_t i, char *why, size_t whylen)
{
	struct ax_signal back;
	char err[256], *text;
	cJSON *j;
	ax_err rc;

	if (s->source == NULL || strcmp(s->source, d->name) != 0)
		return ax_errfmt(why, whylen, "signal %zu of %s has source \"%s\"", i, d->name,
				 s->source != NULL ? s->source : "(null)");
	j = ax_signal_to_json(s);
	text = ax_json_print(j);
	cJSON_Delete(j);
	j = ax_json_parse(text, strlen(text), FUZZ_ENTRY_DEPTH);
	free(text);
	if (j == NULL)
		return ax_errfmt(why, whylen,
				 "signal %zu of %s: reason cannot parse its stream entry "
				 "(nested deeper than ax_json_parse allows?)", i, d->name);
	err[0] = '\0';
	rc = ax_signal_from_json(&back, j, err, sizeof(err));
	cJSON_Delete(j);
	ax_signal_release(&back);
	if (rc != AX_OK)
		return ax_errfmt(why, whylen, "signal %zu of %s: reason refuses it: %s", i,
				 d->name, err);
	return 0;
}

/* Run one input through the request path; source NULL = detection, else
 * a registered source's name.  0 when every promise held, else -1 with
 * why saying which broke.  res (may be NULL) receives what happened. */
static int fuzz_one(const uint8_t *data, size_t size, const char *source,
		    struct fuzz_result *res, char *why, size_t whylen)
{
	const struct ingest_driver *d = NULL;
	struct fuzz_headers h;
	struct fuzz_result r;
	struct ingest_batch b;
	char err[512];
	size_t off, i;
	cJSON *doc;
	int bad = 0;

	memset(&r, 0, sizeof(r));
	r.rc = AX_EPROTO;
	off = fuzz_headers_split(&h, data, size);
	r.headers = h.n;
	/* Parsed in place from the caller's bytes: libFuzzer's buffer is
	 * exactly size long, so ASan sees any read past the body. */
	doc = ax_json_parse((const char *)data + off, size - off, FUZZ_BODY_DEPTH);
	if (doc == NULL)
		goto out;   /* the server answers 400; nothing else runs */
	r.parsed = 1;
	ingest_batch_init(&b);
	err[0] = '\0';
	{
		struct ingest_input in = { doc, fuzz_header, &h };

		r.rc = ingest_normalize(&in, source, &b, &d, err, sizeof(err));
	}
	/* The server frees the document before it touches the batch. */
	cJSON_Delete(doc);
	r.used = d;
	r.nsig = b.n;
	if (r.rc != AX_OK && r.rc != AX_EPROTO) {
		bad = ax_errfmt(why, whylen, "ingest_normalize returned %d (%s): %s", r.rc,
				ax_strerror(r.rc), err);
	} else if (r.rc != AX_OK) {
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
			bad = ax_errfmt(why, whylen, "refused%s%s without a reason",
					d != NULL ? " by " : "", d != NULL ? d->name : "");
		else if (b.n != 0 || b.ignored != NULL || b.subscribe_url != NULL)
			bad = ax_errfmt(why, whylen,
					"refused by %s (%s) but the batch is not empty",
					d != NULL ? d->name : "detection", err);
	} else if (d == NULL) {
		bad = ax_errfmt(why, whylen, "accepted but no driver is named as the one that ran");
	} else if (source != NULL && strcmp(d->name, source) != 0) {
		bad = ax_errfmt(why, whylen, "asked for %s but %s ran", source, d->name);
	} else if (b.n == 0 && b.ignored == NULL && b.subscribe_url == NULL) {
		bad = ax_errfmt(why, whylen, "%s accepted it with no signal and no reason",
				d->name);
	} else if (b.n > INGEST_MAX_SIGNALS) {
		bad = ax_errfmt(why, whylen, "%s returned %zu signals (cap %d)", d->name, b.n,
				INGEST_MAX_SIGNALS);
	} else {
		for (i = 0; i < b.n && bad == 0; i++)
			bad = fuzz_check_signal(&b.sig[i], d, i, why, whylen);
	}
	ingest_batch_release(&b);
out:
	fuzz_headers_release(&h);
	if (res != NULL)
		*res = r;
	return bad;
}

#endif /* ALEXUS_FUZZ_BODY_H */
