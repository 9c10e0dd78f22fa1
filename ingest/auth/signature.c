/* signature.c - webhook signature checks (see signature.h).
 *
 * Every HMAC scheme here is HMAC-SHA256 in lower- or upper-case hex; they
 * differ only in the header, a prefix ("sha256=", "v1=", "v0="), whether a
 * list may carry several signatures (PagerDuty, during the sender's own
 * rotation), and whether a timestamp is signed with the body (Slack,
 * Grafana's optional timestamp header) -- and then it must be within the
 * replay window, or a captured request could be replayed forever.  The
 * MAC is computed with libsodium's crypto_auth_hmacsha256 streaming API
 * over the pieces ("v0:", ts, ":", body) so the body is never copied, and
 * compared with sodium_memcmp.  The received hex is decoded first
 * (sodium_hex2bin) and the 32-byte values compared, so case does not
 * matter and no string compare with an early exit is involved.
 *
 * GitLab and Honeycomb send the shared secret itself.  Both it and each
 * candidate secret are hashed with SHA-256 and the digests compared:
 * sodium_memcmp needs equal lengths, and comparing digests keeps the
 * secret's length from leaking through timing.
 *
 * Secrets come as a list: during a rotation the tenant has the old and the
 * new one, and a request signed with either passes.  Error strings name
 * the header and the problem, never a value. */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "signature.h"

#define MAC_LEN crypto_auth_hmacsha256_BYTES
#define MAX_CANDIDATES 16      /* signatures one PagerDuty header may list */
#define MAX_TS_DIGITS 12

struct scheme_info {
	const char *name;
	const char *header;
};

static const struct scheme_info schemes[INGEST_SIG_COUNT] = {
	[INGEST_SIG_ALEXUS] = { "alexus", "X-Alexus-Signature" },
	[INGEST_SIG_PAGERDUTY] = { "pagerduty-v3", "X-PagerDuty-Signature" },
	[INGEST_SIG_GITHUB] = { "github", "X-Hub-Signature-256" },
	[INGEST_SIG_JIRA] = { "jira", "X-Hub-Signature" },
	[INGEST_SIG_SENTRY] = { "sentry", "Sentry-Hook-Signature" },
	[INGEST_SIG_GRAFANA] = { "grafana", "X-Grafana-Alerting-Signature" },
	[INGEST_SIG_GITLAB] = { "gitlab", "X-Gitlab-Token" },
	[INGEST_SIG_HONEYCOMB] = { "honeycomb", "X-Honeycomb-Webhook-Token" },
	[INGEST_SIG_SLACK] = { "slack", "X-Slack-Signature" },
};

#define GRAFANA_TS_HEADER "X-Grafana-Alerting-Timestamp"
#define SLACK_TS_HEADER "X-Slack-Request-Timestamp"

/* Source (driver) name -> scheme.  Names are the {source} of the route. */
static const struct {
	const char *source;
	enum ingest_sig_scheme scheme;
} source_table[] = {
	{ "pagerduty", INGEST_SIG_PAGERDUTY },
	{ "github", INGEST_SIG_GITHUB },
	{ "jira", INGEST_SIG_JIRA },
	{ "sentry", INGEST_SIG_SENTRY },
	{ "grafana", INGEST_SIG_GRAFANA },
	{ "gitlab", INGEST_SIG_GITLAB },
	{ "honeycomb", INGEST_SIG_HONEYCOMB },
	{ "slack", INGEST_SIG_SLACK },
};

enum ingest_sig_scheme ingest_sig_scheme_of(const char *source)
{
	size_t i;

	if (source == NULL)
		return INGEST_SIG_ALEXUS;
	for (i = 0; i < sizeof(source_table) / sizeof(source_table[0]); i++) {
		if (strcmp(source, source_table[i].source) == 0)
			return source_table[i].scheme;
	}
	return INGEST_SIG_ALEXUS;
}

const char *ingest_sig_scheme_name(enum ingest_sig_scheme s)
{
	return (unsigned)s < INGEST_SIG_COUNT ? schemes[s].name : "unknown";
}

const char *ingest_sig_header_name(enum ingest_sig_scheme s)
{
	return (unsigned)s < INGEST_SIG_COUNT ? schemes[s].header : "";
}

/* Set errbuf and evaluate to AX_EAUTH (a macro so the format is checked). */
#define REFUSE(...) (ax_errfmt(errbuf, errlen, __VA_ARGS__), AX_EAUTH)

/* Decode exactly 64 hex digits at p[0..n) into mac. */
static int hex_mac(const char *p, size_t n, unsigned char mac[MAC_LEN])
{
	const char *end = NULL;
	size_t binlen = 0;

	if (n != 2 * MAC_LEN)
		return -1;
	if (sodium_hex2bin(mac, MAC_LEN, p, n, NULL, &binlen, &end) != 0 || binlen != MAC_LEN ||
	    end != p + n)
		return -1;
	return 0;
}

/* Candidate signatures parsed from a header value. */
struct cands {
	unsigned char mac[MAX_CANDIDATES][MAC_LEN];
	size_t n;
};

/* value is one "<prefix><hex>" (prefix "" for bare hex), surrounding
 * blanks allowed; the prefix is matched case-insensitively. */
static int parse_one(const char *value, const char *prefix, struct cands *c)
{
	size_t pl = strlen(prefix), n;

	while (*value == ' ' || *value == '\t')
		value++;
	if (strncasecmp(value, prefix, pl) != 0)
		return -1;
	value += pl;
	n = strlen(value);
	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
		n--;
	if (hex_mac(value, n, c->mac[0]) != 0)
		return -1;
	c->n = 1;
	return 0;
}

/* PagerDuty: "v1=<hex>,v1=<hex>"; entries of other versions are skipped
 * (a future v2 next to v1 must not break v1), at least one v1 needed. */
static int parse_pagerduty(const char *value, struct cands *c)
{
	const char *p = value, *e;
	size_t n;

	c->n = 0;
	while (*p != '\0') {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		n = (size_t)(e - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 3 && strncasecmp(p, "v1=", 3) == 0) {
			if (c->n == MAX_CANDIDATES || hex_mac(p + 3, n - 3, c->mac[c->n]) != 0)
				return -1;
			c->n++;
		}
		p = *e == ',' ? e + 1 : e;
	}
	return c->n > 0 ? 0 : -1;
}

/* A Unix timestamp in seconds: 1..MAX_TS_DIGITS digits, nothing else. */
static int parse_ts(const char *v, long long *ts)
{
	size_t i, n = strlen(v);
	long long t = 0;

	if (n == 0 || n > MAX_TS_DIGITS)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		t = t * 10 + (v[i] - '0');
	}
	*ts = t;
	return 0;
}

static int in_window(long long ts, time_t now, int window_s)
{
	long long d = (long long)now - ts;

	if (d < 0)
		d = -d;
	return window_s >= 0 && d <= (long long)window_s;
}

/* HMAC-SHA256(key, pre1 || pre2 || pre3 || body); any pre may be NULL. */
static void hmac(const struct ingest_secret *k, const char *pre1, const char *pre2,
		 const char *pre3, const unsigned char *body, size_t len, unsigned char mac[MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, k->key, k->len);
	if (pre1 != NULL)
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)pre1, strlen(pre1));
	if (pre2 != NULL)
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)pre2, strlen(pre2));
	if (pre3 != NULL)
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)pre3, strlen(pre3));
	if (len > 0)
		crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

/* Any secret's MAC over the pieces equal to any candidate. */
static int any_match(const struct ingest_secret *secrets, size_t nsecrets, const char *pre1,
		     const char *pre2, const char *pre3, const unsigned char *body, size_t len,
		     const struct cands *c)
{
	unsigned char mac[MAC_LEN];
	size_t i, j;
	int ok = 0;

	for (i = 0; i < nsecrets && !ok; i++) {
		hmac(&secrets[i], pre1, pre2, pre3, body, len, mac);
		for (j = 0; j < c->n; j++) {
			if (sodium_memcmp(mac, c->mac[j], MAC_LEN) == 0)
				ok = 1;
		}
	}
	sodium_memzero(mac, sizeof(mac));
	return ok;
}

/* The shared secret sent as it is: compare SHA-256 digests. */
static int token_match(const struct ingest_secret *secrets, size_t nsecrets, const char *value)
{
	unsigned char got[crypto_hash_sha256_BYTES], want[crypto_hash_sha256_BYTES];
	size_t i;
	int ok = 0;

	crypto_hash_sha256(got, (const unsigned char *)value, strlen(value));
	for (i = 0; i < nsecrets; i++) {
		crypto_hash_sha256(want, secrets[i].key, secrets[i].len);
		if (sodium_memcmp(got, want, sizeof(got)) == 0)
			ok = 1;
	}
	sodium_memzero(want, sizeof(want));
	return ok;
}

ax_err ingest_sig_verify(enum ingest_sig_scheme scheme, const unsigned char *body, size_t len,
			 ingest_sig_header_fn *header, const void *hctx,
			 const struct ingest_secret *secrets, size_t nsecrets, time_t now,
			 int window_s, char *errbuf, size_t errlen)
{
	const char *hname, *v, *tsv = NULL, *prefix = "";
	struct cands c;
	long long ts = 0;
	int ok;

	if ((unsigned)scheme >= INGEST_SIG_COUNT || secrets == NULL || nsecrets == 0 ||
	    header == NULL || (body == NULL && len > 0)) {
		ax_errfmt(errbuf, errlen, "signature check not configured");
		return AX_EINVAL;
	}
	hname = schemes[scheme].header;
	v = header(hctx, hname);
	if (v == NULL || v[0] == '\0')
		return REFUSE("missing %s header", hname);

	switch (scheme) {
	case INGEST_SIG_GITLAB:
	case INGEST_SIG_HONEYCOMB:
		if (!token_match(secrets, nsecrets, v))
			return REFUSE("%s does not match", hname);
		return AX_OK;
	case INGEST_SIG_PAGERDUTY:
		if (parse_pagerduty(v, &c) != 0)
			return REFUSE("malformed %s header", hname);
		break;
	case INGEST_SIG_SLACK:
		tsv = header(hctx, SLACK_TS_HEADER);
		if (tsv == NULL || tsv[0] == '\0')
			return REFUSE("missing %s header", SLACK_TS_HEADER);
		prefix = "v0=";
		break;
	case INGEST_SIG_GRAFANA:
		/* Only when the contact point names a timestamp header does
		 * Grafana sign one; without it the body alone is signed. */
		tsv = header(hctx, GRAFANA_TS_HEADER);
		if (tsv != NULL && tsv[0] == '\0')
			tsv = NULL;
		break;
	case INGEST_SIG_ALEXUS:
	case INGEST_SIG_GITHUB:
	case INGEST_SIG_JIRA:
		prefix = "sha256=";
		break;
	case INGEST_SIG_SENTRY:
	default:
		break;
	}
	if (scheme != INGEST_SIG_PAGERDUTY && parse_one(v, prefix, &c) != 0)
		return REFUSE("malformed %s header", hname);
	if (tsv != NULL) {
		const char *tsh = scheme == INGEST_SIG_SLACK ? SLACK_TS_HEADER : GRAFANA_TS_HEADER;

		if (parse_ts(tsv, &ts) != 0)
			return REFUSE("malformed %s header", tsh);
		if (!in_window(ts, now, window_s))
			return REFUSE("%s is outside the replay window (ALEXUS_SIGNATURE_WINDOW)",
				      tsh);
	}
	if (scheme == INGEST_SIG_SLACK)
		ok = any_match(secrets, nsecrets, "v0:", tsv, ":", body, len, &c);
	else if (tsv != NULL)
		ok = any_match(secrets, nsecrets, tsv, ":", NULL, body, len, &c);
	else
		ok = any_match(secrets, nsecrets, NULL, NULL, NULL, body, len, &c);
	if (!ok)
		return REFUSE("%s does not match", hname);
	return AX_OK;
}
