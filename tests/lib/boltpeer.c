/* boltpeer.c - the scripted Bolt server and the PackStream notation (see
 * boltpeer.h).
 *
 * The peer is deliberately plain: blocking sockets on one thread, one
 * connection, one script.  It speaks only what the Bolt documentation
 * describes (the 0x6060B017 handshake with four version proposals, 16-bit
 * chunk framing ended by an empty chunk, messages as PackStream
 * structures) so that the official JavaScript driver can be run against
 * the same scripts to show the peer is faithful (tests/e2e/bolt_peer.sh)
 * before the C client is tested against it (tests/unit/test_bolt.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "alexus/mem.h"
#include "boltpeer.h"

/* ------------------------------------------------------------ notation */

static const struct {
	const char *name;
	uint8_t tag;
} msgs[] = {
	{ "HELLO", 0x01 },    { "GOODBYE", 0x02 },  { "RESET", 0x0F },    { "RUN", 0x10 },
	{ "BEGIN", 0x11 },    { "COMMIT", 0x12 },   { "ROLLBACK", 0x13 }, { "DISCARD", 0x2F },
	{ "PULL", 0x3F },     { "TELEMETRY", 0x54 }, { "ROUTE", 0x66 },   { "LOGON", 0x6A },
	{ "LOGOFF", 0x6B },   { "SUCCESS", 0x70 },  { "RECORD", 0x71 },   { "IGNORED", 0x7E },
	{ "FAILURE", 0x7F },
};

int bp_msg_tag(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (strcmp(msgs[i].name, name) == 0)
			return msgs[i].tag;
	return -1;
}

const char *bp_msg_name(uint8_t tag)
{
	size_t i;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (msgs[i].tag == tag)
			return msgs[i].name;
	return NULL;
}

static int nerr(char *err, size_t errlen, const char *what, const cJSON *j)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;

	ax_errfmt(err, errlen, "notation: %s: %.120s", what, s ? s : "?");
	free(s);
	return -1;
}

static int count_arg(const cJSON *j, uint32_t *n)
{
	if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > 0xFFFFFFFFu ||
	    j->valuedouble != floor(j->valuedouble))
		return -1;
	*n = (uint32_t)j->valuedouble;
	return 0;
}

static int encode_special(const cJSON *o, struct ax_ps_buf *b, char *err, size_t errlen)
{
	const char *k = o->string;
	uint32_t n, i;

	if (strcmp(k, "$int") == 0) {
		char *end;
		long long v;

		if (!cJSON_IsString(o))
			return nerr(err, errlen, "$int wants a string", o);
		errno = 0;
		v = strtoll(o->valuestring, &end, 10);
		if (errno || *end || end == o->valuestring)
			return nerr(err, errlen, "bad $int", o);
		ax_ps_put_int(b, v);
	} else if (strcmp(k, "$float") == 0) {
		double v;

		if (cJSON_IsNumber(o))
			v = o->valuedouble;
		else if (cJSON_IsString(o) && strcmp(o->valuestring, "nan") == 0)
			v = NAN;
		else if (cJSON_IsString(o) && strcmp(o->valuestring, "inf") == 0)
			v = INFINITY;
		else if (cJSON_IsString(o) && strcmp(o->valuestring, "-inf") == 0)
			v = -INFINITY;
		else if (cJSON_IsString(o) && strcmp(o->valuestring, "-0") == 0)
			v = -0.0;
		else
			return nerr(err, errlen, "bad $float", o);
		ax_ps_put_float(b, v);
	} else if (strcmp(k, "$bytes") == 0 || strcmp(k, "$utf8") == 0) {
		size_t len, j;
		uint8_t *p;

		if (!cJSON_IsString(o) || strlen(o->valuestring) % 2)
			return nerr(err, errlen, "bad $bytes or $utf8", o);
		len = strlen(o->valuestring) / 2;
		p = ax_xmalloc(len + 1);
		for (j = 0; j < len; j++) {
			unsigned x;

			if (sscanf(o->valuestring + 2 * j, "%2x", &x) != 1) {
				free(p);
				return nerr(err, errlen, "bad $bytes", o);
			}
			p[j] = (uint8_t)x;
		}
		if (k[1] == 'u')
			ax_ps_put_string(b, (const char *)p, len);
		else
			ax_ps_put_bytes(b, p, len);
		free(p);
	} else if (strcmp(k, "$bytes_n") == 0) {
		uint8_t *p;

		if (count_arg(o, &n))
			return nerr(err, errlen, "bad $bytes_n", o);
		p = ax_xmalloc((size_t)n + 1);
		for (i = 0; i < n; i++)
			p[i] = (uint8_t)i;
		ax_ps_put_bytes(b, p, n);
		free(p);
	} else if (strcmp(k, "$str") == 0) {
		const cJSON *s = cJSON_GetArrayItem(o, 0);
		size_t sl;
		char *p;

		if (!cJSON_IsArray(o) || !cJSON_IsString(s) || count_arg(cJSON_GetArrayItem(o, 1), &n))
			return nerr(err, errlen, "bad $str", o);
		sl = strlen(s->valuestring);
		p = ax_xmalloc(sl * n + 1);
		for (i = 0; i < n; i++)
			memcpy(p + sl * i, s->valuestring, sl);
		ax_ps_put_string(b, p, sl * n);
		free(p);
	} else if (strcmp(k, "$list") == 0) {
		const cJSON *v = cJSON_GetArrayItem(o, 0);

		if (!cJSON_IsArray(o) || !v || count_arg(cJSON_GetArrayItem(o, 1), &n))
			return nerr(err, errlen, "bad $list", o);
		ax_ps_put_list(b, n);
		for (i = 0; i < n; i++)
			if (bp_encode_json(v, b, err, errlen))
				return -1;
	} else if (strcmp(k, "$dict_n") == 0) {
		char key[16];

		if (count_arg(o, &n))
			return nerr(err, errlen, "bad $dict_n", o);
		ax_ps_put_dict(b, n);
		for (i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "k%u", (unsigned)i);
			ax_ps_put_cstr(b, key);
			ax_ps_put_int(b, i);
		}
	} else if (strcmp(k, "$struct") == 0) {
		const cJSON *fields = cJSON_GetArrayItem(o, 1), *f;
		uint32_t tag;

		if (!cJSON_IsArray(o) || count_arg(cJSON_GetArrayItem(o, 0), &tag) || tag > 255 ||
		    !cJSON_IsArray(fields) || cJSON_GetArraySize(fields) > 15)
			return nerr(err, errlen, "bad $struct", o);
		ax_ps_put_struct(b, (uint8_t)tag, (uint8_t)cJSON_GetArraySize(fields));
		cJSON_ArrayForEach(f, fields)
			if (bp_encode_json(f, b, err, errlen))
				return -1;
	} else if (strcmp(k, "$any") == 0) {
		ax_ps_put_struct(b, BOLTPEER_ANY_TAG, 0);
	} else {
		return nerr(err, errlen, "unknown $ form", o);
	}
	return 0;
}

int bp_encode_json(const cJSON *j, struct ax_ps_buf *b, char *err, size_t errlen)
{
	const cJSON *c;

	if (cJSON_IsNull(j)) {
		ax_ps_put_null(b);
	} else if (cJSON_IsBool(j)) {
		ax_ps_put_bool(b, cJSON_IsTrue(j));
	} else if (cJSON_IsNumber(j)) {
		double v = j->valuedouble;

		if (v == floor(v) && fabs(v) <= 9007199254740992.0)
			ax_ps_put_int(b, (int64_t)v);
		else
			ax_ps_put_float(b, v);
	} else if (cJSON_IsString(j)) {
		ax_ps_put_cstr(b, j->valuestring);
	} else if (cJSON_IsArray(j)) {
		ax_ps_put_list(b, (uint32_t)cJSON_GetArraySize(j));
		cJSON_ArrayForEach(c, j)
			if (bp_encode_json(c, b, err, errlen))
				return -1;
	} else if (cJSON_IsObject(j)) {
		c = j->child;
		if (c && !c->next && c->string[0] == '$')
			return encode_special(c, b, err, errlen);
		ax_ps_put_dict(b, (uint32_t)cJSON_GetArraySize(j));
		cJSON_ArrayForEach(c, j) {
			ax_ps_put_cstr(b, c->string);
			if (bp_encode_json(c, b, err, errlen))
				return -1;
		}
	} else {
		return nerr(err, errlen, "not a value", j);
	}
	return 0;
}

int bp_encode_text(const char *json, struct ax_ps_buf *b, char *err, size_t errlen)
{
	cJSON *j = cJSON_Parse(json);
	int rc;

	if (!j)
		return ax_errfmt(err, errlen, "notation: not JSON: %.80s", json);
	rc = bp_encode_json(j, b, err, errlen);
	cJSON_Delete(j);
	return rc;
}

bool bp_match(const struct ax_ps_value *want, const struct ax_ps_value *got, char *why,
	      size_t n)
{
	char a[160], g[160];
	uint32_t i;

	if (want->type == AX_PS_STRUCT && want->tag == BOLTPEER_ANY_TAG && want->len == 0)
		return true;
	if (want->type == AX_PS_DICT && got->type == AX_PS_DICT) {
		for (i = 0; i < want->len; i++) {
			const char *k = want->u.items[2 * i].u.s;
			const struct ax_ps_value *gv = ax_ps_dict_get(got, k);

			if (!gv) {
				ax_errfmt(why, n, "key \"%s\" missing", k);
				return false;
			}
			if (!bp_match(&want->u.items[2 * i + 1], gv, why, n)) {
				char inner[400];

				snprintf(inner, sizeof(inner), "%s", why ? why : "");
				ax_errfmt(why, n, "%s: %s", k, inner);
				return false;
			}
		}
		return true;
	}
	if ((want->type == AX_PS_LIST || want->type == AX_PS_STRUCT) && want->type == got->type &&
	    want->len == got->len && want->tag == got->tag) {
		for (i = 0; i < want->len; i++)
			if (!bp_match(&want->u.items[i], &got->u.items[i], why, n))
				return false;
		return true;
	}
	if (want->type != AX_PS_LIST && want->type != AX_PS_STRUCT && ax_ps_equal(want, got))
		return true;
	ax_ps_format(want, a, sizeof(a));
	ax_ps_format(got, g, sizeof(g));
	ax_errfmt(why, n, "want %s, got %s", a, g);
	return false;
}

/* ------------------------------------------------------------- scripts */

enum step_kind { ST_CLIENT, ST_SERVER, ST_NOOP, ST_RAW, ST_SLEEP, ST_CLOSE };

struct step {
	enum step_kind kind;
	bool optional;            /* ?C: */
	bool check_fields;
	uint8_t tag;
	struct ax_ps_value *want; /* ST_CLIENT with fields: the expected structure */
	struct ax_ps_buf bytes;   /* ST_SERVER: the message; ST_RAW: the bytes */
	int ms;
	int line;
};

struct boltpeer {
	int version;              /* major << 8 | minor; 0 refuses */
	struct step *steps;
	size_t nsteps;
	int lfd, fd;
	SSL_CTX *ctx;             /* TLS mode */
	SSL *ssl;
	int port;
	pthread_t thr;
	bool started;
	bool shared;              /* lfd is a dup of another peer's */
	struct turns *turns;      /* the order in which peers on one socket accept */
	int turn;
	int stop;                 /* bp_finish gave up waiting (atomic) */
	int done;                 /* set by the peer thread (atomic) */
	int ok;
	char why[512];
};

static void steps_free(struct boltpeer *p)
{
	size_t i;

	for (i = 0; i < p->nsteps; i++) {
		ax_ps_free(p->steps[i].want);
		ax_ps_buf_release(&p->steps[i].bytes);
	}
	free(p->steps);
}

/* "RUN "x" {} {}" -> tag and the fields encoded as one structure. */
static int parse_message(const char *s, struct step *st, char *err, size_t errlen)
{
	char name[24];
	size_t k = 0;
	const char *end;
	struct ax_ps_buf fields;
	int nf = 0, tag;

	while (*s == ' ' || *s == '\t')
		s++;
	while ((*s >= 'A' && *s <= 'Z') && k + 1 < sizeof(name))
		name[k++] = *s++;
	name[k] = '\0';
	tag = bp_msg_tag(name);
	if (tag < 0)
		return ax_errfmt(err, errlen, "line %d: unknown message '%s'", st->line, name);
	st->tag = (uint8_t)tag;
	ax_ps_buf_init(&fields);
	for (;;) {
		cJSON *j;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		j = cJSON_ParseWithOpts(s, &end, 0);
		if (!j) {
			ax_ps_buf_release(&fields);
			return ax_errfmt(err, errlen, "line %d: bad JSON near '%.40s'", st->line, s);
		}
		if (bp_encode_json(j, &fields, err, errlen)) {
			cJSON_Delete(j);
			ax_ps_buf_release(&fields);
			return -1;
		}
		cJSON_Delete(j);
		nf++;
		s = end;
	}
	st->check_fields = nf > 0;
	ax_ps_put_struct(&st->bytes, st->tag, (uint8_t)nf);
	ax_ps_buf_append(&st->bytes, fields.data, fields.len);
	ax_ps_buf_release(&fields);
	if (st->kind == ST_CLIENT && st->check_fields &&
	    ax_ps_decode(st->bytes.data, st->bytes.len, NULL, &st->want, err, errlen))
		return -1;
	return 0;
}

static int parse_script(struct boltpeer *p, const char *script, char *err, size_t errlen)
{
	char *copy = ax_xstrdup(script), *line, *save = NULL;
	int lineno = 0, rc = 0;
	bool have_version = false;

	for (line = strtok_r(copy, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
		struct step st;
		char *s = line;
		size_t l = strlen(line);

		lineno++;
		while (l && (line[l - 1] == '\r' || line[l - 1] == ' '))
			line[--l] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		memset(&st, 0, sizeof(st));
		st.line = lineno;
		ax_ps_buf_init(&st.bytes);
		if (strncmp(s, "!: BOLT ", 8) == 0) {
			int maj = 0, min = 0;

			if (sscanf(s + 8, "%d.%d", &maj, &min) < 1)
				rc = ax_errfmt(err, errlen, "line %d: bad version", lineno);
			p->version = maj << 8 | min;
			have_version = true;
			continue;
		}
		if (strncmp(s, "C: ", 3) == 0 || strncmp(s, "?C: ", 4) == 0) {
			st.kind = ST_CLIENT;
			st.optional = s[0] == '?';
			rc = parse_message(s + (st.optional ? 4 : 3), &st, err, errlen);
		} else if (strncmp(s, "S: ", 3) == 0) {
			s += 3;
			if (strncmp(s, "<NOOP>", 6) == 0) {
				st.kind = ST_NOOP;
			} else if (strncmp(s, "<CLOSE>", 7) == 0) {
				st.kind = ST_CLOSE;
			} else if (strncmp(s, "<SLEEP>", 7) == 0) {
				st.kind = ST_SLEEP;
				st.ms = atoi(s + 7);
			} else if (strncmp(s, "<RAW>", 5) == 0) {
				char hex[4096];

				st.kind = ST_RAW;
				snprintf(hex, sizeof(hex), "{\"$bytes\": \"%s\"}", s + 6);
				rc = bp_encode_text(hex, &st.bytes, err, errlen);
				if (!rc) { /* keep the raw bytes, not the Bytes value */
					struct ax_ps_value *v = NULL;

					rc = ax_ps_decode(st.bytes.data, st.bytes.len, NULL, &v, err,
							  errlen);
					if (!rc) {
						ax_ps_buf_reset(&st.bytes);
						ax_ps_buf_append(&st.bytes, v->u.bytes, v->len);
					}
					ax_ps_free(v);
				}
			} else {
				st.kind = ST_SERVER;
				rc = parse_message(s, &st, err, errlen);
			}
		} else {
			rc = ax_errfmt(err, errlen, "line %d: cannot parse '%.60s'", lineno, s);
		}
		p->steps = ax_xrealloc(p->steps, (p->nsteps + 1) * sizeof(*p->steps));
		p->steps[p->nsteps++] = st;
	}
	free(copy);
	if (!rc && !have_version)
		rc = ax_errfmt(err, errlen, "script has no '!: BOLT' line");
	return rc;
}

/* ------------------------------------------------------------- the peer */

/* Peers sharing a listening socket accept in the order they were started
 * (bp_start_also), whenever the clients connect. */
struct turns {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int next, count, refs;
};

static struct turns *turns_new(void)
{
	struct turns *t = ax_xcalloc(1, sizeof(*t));

	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->count = 1;
	t->refs = 1;
	return t;
}

static void turns_unref(struct turns *t)
{
	int left;

	pthread_mutex_lock(&t->mu);
	left = --t->refs;
	pthread_mutex_unlock(&t->mu);
	if (left)
		return;
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}

/* Wait for p's turn to accept (up to deadline, monotonic ms); 0 or -1. */
static int turns_wait(struct boltpeer *p, int64_t until);

static void turns_done(struct boltpeer *p)
{
	pthread_mutex_lock(&p->turns->mu);
	if (p->turns->next == p->turn)
		p->turns->next++;
	pthread_cond_broadcast(&p->turns->cv);
	pthread_mutex_unlock(&p->turns->mu);
}

static void fail(struct boltpeer *p, const char *fmt, ...) AX_PRINTF(2, 3);

static void fail(struct boltpeer *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->ok)
		return;
	p->ok = 0;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
}

/* Read exactly n bytes; 1 ok, 0 EOF before any byte, -1 error or timeout. */
static int read_full(struct boltpeer *p, void *buf, size_t n, int timeout_ms)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		ssize_t r;

		if (!(p->ssl && SSL_pending(p->ssl) > 0) && poll(&pf, 1, timeout_ms) <= 0)
			return -1;
		if (p->ssl) {
			int k = SSL_read(p->ssl, (char *)buf + got, (int)(n - got));

			if (k <= 0) {
				int e = SSL_get_error(p->ssl, k);

				ERR_clear_error();
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					continue;
				return got == 0 && (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL)
					       ? 0 : -1;
			}
			got += (size_t)k;
			continue;
		}
		r = read(p->fd, (char *)buf + got, n - got);
		if (r == 0)
			return got == 0 ? 0 : -1;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return got == 0 && errno == ECONNRESET ? 0 : -1;
		}
		got += (size_t)r;
	}
	return 1;
}

static int write_full(struct boltpeer *p, const void *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w;

		if (p->ssl) {
			int k = SSL_write(p->ssl, (const char *)buf + off, (int)(n - off));

			if (k <= 0) {
				ERR_clear_error();
				return -1;
			}
			off += (size_t)k;
			continue;
		}
		w = send(p->fd, (const char *)buf + off, n - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

static int send_message(struct boltpeer *p, const struct ax_ps_buf *m)
{
	struct ax_ps_buf out;
	size_t off = 0;
	int rc;

	ax_ps_buf_init(&out);
	while (off < m->len) {
		size_t n = m->len - off > 0xFFFF ? 0xFFFF : m->len - off;
		uint8_t h[2] = { (uint8_t)(n >> 8), (uint8_t)n };

		ax_ps_buf_append(&out, h, 2);
		ax_ps_buf_append(&out, m->data + off, n);
		off += n;
	}
	ax_ps_buf_append(&out, "\0\0", 2);
	rc = write_full(p, out.data, out.len);
	ax_ps_buf_release(&out);
	return rc;
}

/* One message, keep-alive chunks skipped: 1 with *msg, 0 on a clean EOF,
 * -1 on an error (recorded). */
static int recv_message(struct boltpeer *p, struct ax_ps_value **msg)
{
	struct ax_ps_buf m;
	char err[256];
	int rc;

	ax_ps_buf_init(&m);
	for (;;) {
		uint8_t h[2];
		size_t n;

		rc = read_full(p, h, 2, 10000);
		if (rc <= 0) {
			bool inside = m.len > 0;

			if (rc < 0 || inside)
				fail(p, "read failed or timed out inside a message");
			ax_ps_buf_release(&m);
			return inside ? -1 : rc;
		}
		n = (size_t)h[0] << 8 | h[1];
		if (n == 0) {
			if (m.len == 0)
				continue; /* NOOP */
			break;
		}
		{
			uint8_t *tmp = ax_xmalloc(n);

			rc = read_full(p, tmp, n, 10000);
			if (rc > 0)
				ax_ps_buf_append(&m, tmp, n);
			free(tmp);
		}
		if (rc <= 0) {
			fail(p, "connection ended inside a chunk");
			ax_ps_buf_release(&m);
			return -1;
		}
	}
	if (ax_ps_decode(m.data, m.len, NULL, msg, err, sizeof(err))) {
		fail(p, "undecodable message: %s", err);
		ax_ps_buf_release(&m);
		return -1;
	}
	ax_ps_buf_release(&m);
	if ((*msg)->type != AX_PS_STRUCT) {
		fail(p, "message is not a structure");
		ax_ps_free(*msg);
		return -1;
	}
	if (getenv("BOLTPEER_TRACE")) { /* what the client sent, for writing scripts */
		char txt[600];
		const char *name = bp_msg_name((*msg)->tag);

		ax_ps_format(*msg, txt, sizeof(txt));
		fprintf(stderr, "boltpeer: C: %s %s\n", name ? name : "?", txt);
	}
	return 1;
}

static bool step_matches(const struct step *st, const struct ax_ps_value *msg, char *why,
			 size_t n)
{
	if (msg->tag != st->tag) {
		const char *name = bp_msg_name(msg->tag);

		ax_errfmt(why, n, "got %s (0x%02X)", name ? name : "unknown message", msg->tag);
		return false;
	}
	if (!st->check_fields)
		return true;
	return bp_match(st->want, msg, why, n);
}

static bool offered(const uint8_t *props, int version)
{
	int i;

	for (i = 0; i < 4; i++) {
		const uint8_t *v = props + 4 * i;
		int maj = v[3], min = v[2], range = v[1];

		if (maj == (version >> 8) && (version & 0xFF) <= min &&
		    (version & 0xFF) >= min - range)
			return true;
	}
	return false;
}

static void run_script(struct boltpeer *p)
{
	uint8_t hs[20], reply[4] = { 0 };
	struct ax_ps_value *msg = NULL; /* a message read but not yet consumed */
	char why[400];
	size_t i;
	int rc;

	if (read_full(p, hs, sizeof(hs), 10000) != 1) {
		fail(p, "no handshake from the client");
		return;
	}
	if (memcmp(hs, "\x60\x60\xB0\x17", 4) != 0) {
		fail(p, "bad magic %02X%02X%02X%02X", hs[0], hs[1], hs[2], hs[3]);
		return;
	}
	if (p->version) {
		if (!offered(hs + 4, p->version)) {
			fail(p, "client did not offer Bolt %d.%d", p->version >> 8, p->version & 0xFF);
			return;
		}
		reply[2] = (uint8_t)(p->version & 0xFF);
		reply[3] = (uint8_t)(p->version >> 8);
	}
	if (write_full(p, reply, 4)) {
		fail(p, "handshake reply not sent");
		return;
	}
	if (!p->version)
		return; /* a refused client closes */

	for (i = 0; i < p->nsteps && p->ok; i++) {
		struct step *st = &p->steps[i];

		switch (st->kind) {
		case ST_CLIENT:
			if (!msg) {
				rc = recv_message(p, &msg);
				if (rc == 0)
					fail(p, "line %d: client closed, expected %s", st->line,
					     bp_msg_name(st->tag));
				if (rc <= 0)
					return;
			}
			if (step_matches(st, msg, why, sizeof(why))) {
				ax_ps_free(msg);
				msg = NULL;
				break;
			}
			if (!st->optional) {
				fail(p, "line %d: expected %s: %s", st->line, bp_msg_name(st->tag),
				     why);
				break;
			}
			while (i + 1 < p->nsteps && p->steps[i + 1].kind != ST_CLIENT)
				i++; /* skip the optional step's answers */
			break;
		case ST_SERVER:
			if (send_message(p, &st->bytes))
				fail(p, "line %d: send failed", st->line);
			break;
		case ST_RAW:
			if (write_full(p, st->bytes.data, st->bytes.len))
				fail(p, "line %d: send failed", st->line);
			break;
		case ST_NOOP:
			if (write_full(p, "\0\0", 2))
				fail(p, "line %d: send failed", st->line);
			break;
		case ST_SLEEP:
			usleep((useconds_t)st->ms * 1000);
			break;
		case ST_CLOSE:
			ax_ps_free(msg);
			return;
		}
	}
	/* the script is over: the client may say GOODBYE, then must close */
	while (p->ok) {
		if (!msg) {
			rc = recv_message(p, &msg);
			if (rc <= 0)
				break;
		}
		if (msg->tag != 0x02) {
			const char *name = bp_msg_name(msg->tag);

			fail(p, "message after the end of the script: %s", name ? name : "unknown");
		}
		ax_ps_free(msg);
		msg = NULL;
	}
	ax_ps_free(msg);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int turns_wait(struct boltpeer *p, int64_t until)
{
	int rc = 0;

	pthread_mutex_lock(&p->turns->mu);
	while (p->turns->next != p->turn && rc == 0) {
		int64_t left = until - now_ms();
		struct timespec ts;

		if (left <= 0) {
			rc = -1;
			break;
		}
		if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
			rc = -1;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L; /* look again every 100 ms */
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->turns->cv, &p->turns->mu, &ts);
	}
	pthread_mutex_unlock(&p->turns->mu);
	return rc;
}

static void *peer_main(void *arg)
{
	struct boltpeer *p = arg;
	struct pollfd pf = { .fd = p->lfd, .events = POLLIN };
	int64_t until = now_ms() + 30000;
	int n = 0;

	/* The listening socket is non-blocking: peers sharing it
	 * (bp_start_also) are all woken by one client, one accept()s it and
	 * the others go back to waiting. */
	p->fd = -1;
	if (turns_wait(p, until) == 0) {
		while (p->fd < 0 && !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
			int64_t left = until - now_ms();

			if (left <= 0) {
				n = 0;
				break;
			}
			/* in slices, so bp_finish can stop a peer on a shared socket */
			n = poll(&pf, 1, left > 100 ? 100 : (int)left);
			if (n < 0)
				break;
			if (n == 0)
				continue;
			p->fd = accept(p->lfd, NULL, NULL);
			if (p->fd < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				break;
			if (pf.revents & (POLLHUP | POLLERR | POLLNVAL))
				break;
		}
	}
	turns_done(p);
	if (p->fd < 0 && n <= 0) {
		fail(p, "no client connected");
	} else {
		if (p->fd < 0) {
			fail(p, "accept: %s", strerror(errno));
		} else {
			int one = 1;

			setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			if (p->ctx) {
				struct timeval tv = { .tv_sec = 10 }; /* bounds SSL_accept */

				setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
				p->ssl = SSL_new(p->ctx);
				SSL_set_fd(p->ssl, p->fd);
				if (SSL_accept(p->ssl) != 1) {
					fail(p, "tls handshake with the client failed");
					ERR_clear_error();
				} else {
					run_script(p);
					SSL_shutdown(p->ssl);
				}
				SSL_free(p->ssl);
				p->ssl = NULL;
			} else {
				run_script(p);
			}
			close(p->fd);
			p->fd = -1;
		}
	}
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct boltpeer *bp_start(const char *script, char *err, size_t errlen)
{
	return bp_start_tls(script, NULL, NULL, err, errlen);
}

struct boltpeer *bp_start_tls(const char *script, const char *cert_file, const char *key_file,
			      char *err, size_t errlen)
{
	struct boltpeer *p = ax_xcalloc(1, sizeof(*p));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int one = 1;

	p->ok = 1;
	p->fd = -1;
	p->lfd = -1;
	if (parse_script(p, script, err, errlen))
		goto fail;
	if (cert_file) {
		p->ctx = SSL_CTX_new(TLS_server_method());
		if (!p->ctx || SSL_CTX_use_certificate_chain_file(p->ctx, cert_file) != 1 ||
		    SSL_CTX_use_PrivateKey_file(p->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
			ax_errfmt(err, errlen, "tls: cannot load %s / %s", cert_file, key_file);
			ERR_clear_error();
			goto fail;
		}
		/* a client that closes without close_notify has still closed */
		SSL_CTX_set_options(p->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	}
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (p->lfd < 0 || setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(p->lfd, 4) ||
	    getsockname(p->lfd, (struct sockaddr *)&sa, &sl)) {
		ax_errfmt(err, errlen, "listen: %s", strerror(errno));
		goto fail;
	}
	p->port = ntohs(sa.sin_port);
	p->turns = turns_new();
	if (pthread_create(&p->thr, NULL, peer_main, p)) {
		ax_errfmt(err, errlen, "pthread_create failed");
		goto fail;
	}
	p->started = true;
	return p;
fail:
	if (p->lfd >= 0)
		close(p->lfd);
	if (p->turns)
		turns_unref(p->turns);
	SSL_CTX_free(p->ctx);
	steps_free(p);
	free(p);
	return NULL;
}

struct boltpeer *bp_start_also(const struct boltpeer *first, const char *script, char *err,
				size_t errlen)
{
	struct boltpeer *p = ax_xcalloc(1, sizeof(*p));

	p->ok = 1;
	p->fd = -1;
	p->lfd = -1;
	if (parse_script(p, script, err, errlen))
		goto fail;
	p->lfd = fcntl(first->lfd, F_DUPFD_CLOEXEC, 0);
	if (p->lfd < 0) {
		ax_errfmt(err, errlen, "dup: %s", strerror(errno));
		goto fail;
	}
	p->port = first->port;
	p->shared = true;
	p->turns = first->turns;
	pthread_mutex_lock(&p->turns->mu);
	p->turn = p->turns->count++;
	p->turns->refs++;
	pthread_mutex_unlock(&p->turns->mu);
	if (pthread_create(&p->thr, NULL, peer_main, p)) {
		ax_errfmt(err, errlen, "pthread_create failed");
		goto fail;
	}
	p->started = true;
	return p;
fail:
	if (p->lfd >= 0)
		close(p->lfd);
	if (p->turns) { /* its turn passes to the next peer */
		turns_done(p);
		turns_unref(p->turns);
	}
	steps_free(p);
	free(p);
	return NULL;
}

char *bp_read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct ax_ps_buf b;
	char chunk[4096];
	size_t n;

	if (!f) {
		ax_errfmt(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	ax_ps_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ax_ps_buf_append(&b, chunk, n);
	fclose(f);
	ax_ps_buf_append(&b, "", 1);
	return (char *)b.data;
}

struct boltpeer *bp_start_file(const char *path, char *err, size_t errlen)
{
	char *text = bp_read_file(path, err, errlen);
	struct boltpeer *p;

	if (!text)
		return NULL;
	p = bp_start(text, err, errlen);
	free(text);
	return p;
}

int bp_port(const struct boltpeer *p)
{
	return p->port;
}

int bp_finish(struct boltpeer *p, int timeout_ms, char *why, size_t n)
{
	int waited = 0, ok;

	while (!__atomic_load_n(&p->done, __ATOMIC_ACQUIRE) && waited < timeout_ms) {
		usleep(10000);
		waited += 10;
	}
	if (!__atomic_load_n(&p->done, __ATOMIC_ACQUIRE)) {
		fail(p, "the connection did not end within %d ms", timeout_ms);
		/* unblock the thread: an accept stops at the next slice, reads
		 * time out, and shutdown ends them now (the listening socket is
		 * left alone: other peers may share it) */
		__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
		if (p->fd >= 0)
			shutdown(p->fd, SHUT_RDWR);
	}
	pthread_join(p->thr, NULL);
	close(p->lfd);
	turns_unref(p->turns);
	ok = p->ok;
	if (!ok)
		ax_errfmt(why, n, "%s", p->why);
	SSL_CTX_free(p->ctx);
	steps_free(p);
	free(p);
	return ok ? 0 : -1;
}
