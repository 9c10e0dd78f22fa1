/* test_embed.c - the embedders (common/embed.c).
 *
 * Local feature hashing: the same text gives the same unit vector every
 * time (and the exact vector is pinned by a digest, so an algorithm change
 * that forgets to rename AX_EMBED_LOCAL_NAME fails here), case does not
 * matter, texts sharing words and word pieces are closer than unrelated
 * ones, and a text without words is the zero vector.
 *
 * The OpenAI-compatible client against the receiver of tests/lib: the
 * exact request (POST {base}/embeddings, headers, body), then 401, 429,
 * 500 and a 200 whose body is not an embeddings document, each mapped to
 * its error.  The answer parser on constructed documents (numbers and
 * base64, out-of-order indexes, wrong counts and dimensions), and one
 * successful exchange on the wire with a one-shot loopback responder that
 * answers a document built here. */
#define _GNU_SOURCE /* strcasestr */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "alexus/embed.h"
#include "alexus/hash.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "receiver.h"

#define D AX_EMBED_DIM
/* sha256 of the float32 bytes of ax_embed_local("Checkout API latency spike"). */
#define LOCAL_PIN "eae7a14448d039ea44284c46225583c992d423155caedc78d2a5692a0ec9ffd8"

static double cosine(const float *a, const float *b)
{
	double dot = 0, na = 0, nb = 0;
	size_t i;

	for (i = 0; i < D; i++) {
		dot += (double)a[i] * b[i];
		na += (double)a[i] * a[i];
		nb += (double)b[i] * b[i];
	}
	return na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0;
}

/* ---------------------------------------------------------------- local */

static void test_local_deterministic(void **state)
{
	static float a[D], b[D], c[D];
	char hex[AX_SHA256_HEX];
	double norm = 0;
	size_t i;
	struct ax_embedder *e = ax_embedder_new(NULL, NULL, 0);
	const char *texts[2] = { "Checkout API latency spike", "checkout api LATENCY spike!" };
	static float two[2 * D];

	(void)state;
	assert_non_null(e);
	assert_string_equal(ax_embedder_name(e), AX_EMBED_LOCAL_NAME);
	assert_int_equal(ax_embedder_remote(e), 0);
	ax_embed_local(texts[0], a);
	ax_embed_local(texts[0], b);
	assert_memory_equal(a, b, sizeof(a));
	for (i = 0; i < D; i++)
		norm += (double)a[i] * a[i];
	assert_true(fabs(norm - 1.0) < 1e-5);
	/* Case and punctuation are not features. */
	ax_embed_local(texts[1], c);
	assert_memory_equal(a, c, sizeof(a));
	/* ax_embed with the local embedder is the same function. */
	assert_int_equal(ax_embed(e, texts, 2, two, NULL, 0), AX_OK);
	assert_memory_equal(two, a, sizeof(a));
	assert_memory_equal(two + D, a, sizeof(a));
	/* Pinned: this exact vector is stored in databases under the name
	 * local-hash-v1.  If this fails, the algorithm changed: rename it. */
	ax_sha256_hex(a, sizeof(a), hex);
	assert_string_equal(hex, LOCAL_PIN);
	ax_embedder_free(e);
}

static void test_local_similarity(void **state)
{
	static float q[D], near[D], far[D], other[D];

	(void)state;
	ax_embed_local("payments database connection pool exhausted", q);
	ax_embed_local("Payment DB: connection pools exhausted again", near);
	ax_embed_local("kubernetes node disk pressure eviction", far);
	ax_embed_local("Storefront web frontend returns 404 for images", other);
	assert_true(cosine(q, near) > 0.5);
	assert_true(cosine(q, near) > cosine(q, far) + 0.3);
	assert_true(cosine(q, near) > cosine(q, other) + 0.3);
	/* Word pieces: a plural is close to its singular. */
	ax_embed_local("payments", near);
	ax_embed_local("payment", q);
	ax_embed_local("inventory", far);
	assert_true(cosine(q, near) > 0.4);
	assert_true(cosine(q, near) > cosine(q, far) + 0.3);
}

static void test_local_empty(void **state)
{
	static float a[D], zero[D];

	(void)state;
	ax_embed_local("", a);
	assert_memory_equal(a, zero, sizeof(a));
	ax_embed_local(" ,.;- !? ", a);
	assert_memory_equal(a, zero, sizeof(a));
	ax_embed_local(NULL, a);
	assert_memory_equal(a, zero, sizeof(a));
}

/* ---------------------------------------------------------------- remote */

static struct ax_embedder *remote(int port, const char *key)
{
	char url[128], err[256];
	struct ax_embed_config c = { url, "test-model", key, 3000 };
	struct ax_embedder *e;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/", port);
	e = ax_embedder_new(&c, err, sizeof(err));
	assert_non_null(e);
	return e;
}

static void test_remote_request_and_errors(void **state)
{
	struct receiver *r = rcv_start(200);
	struct ax_embedder *e = remote(rcv_port(r), "sk-test-123");
	const char *texts[2] = { "alpha", "beta \"quoted\"" };
	static float out[2 * D];
	const struct rcv_request *q;
	char buf[256], err[256];

	(void)state;
	assert_string_equal(ax_embedder_name(e), "openai:test-model");
	assert_int_equal(ax_embedder_remote(e), 1);
	/* The start-up line names the host, never the key. */
	assert_non_null(strstr(ax_embedder_describe(e), "http://127.0.0.1:"));
	assert_null(strstr(ax_embedder_describe(e), "sk-test"));

	rcv_script(r, 401, 1);
	rcv_script(r, 429, 1);
	rcv_script(r, 500, 1);
	/* then the default 200 with {"ok":true}: not an embeddings answer */
	assert_int_equal(ax_embed(e, texts, 2, out, err, sizeof(err)), AX_EAUTH);
	assert_non_null(strstr(err, "401"));
	assert_int_equal(ax_embed(e, texts, 2, out, err, sizeof(err)), AX_EAGAIN);
	assert_non_null(strstr(err, "429"));
	assert_int_equal(ax_embed(e, texts, 2, out, err, sizeof(err)), AX_EIO);
	assert_non_null(strstr(err, "500"));
	assert_int_equal(ax_embed(e, texts, 2, out, err, sizeof(err)), AX_EPROTO);
	assert_null(strstr(err, "sk-test"));
	assert_int_equal(rcv_wait(r, 4, 5000), 4);

	q = rcv_get(r, 0);
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->path, "/v1/embeddings");
	assert_string_equal(rcv_header(q, "content-type", buf, sizeof(buf)), "application/json");
	assert_string_equal(rcv_header(q, "authorization", buf, sizeof(buf)), "Bearer sk-test-123");
	assert_string_equal(q->body, "{\"model\":\"test-model\",\"input\":[\"alpha\","
				     "\"beta \\\"quoted\\\"\"],\"encoding_format\":\"base64\"}");
	/* Every attempt is the same request. */
	assert_string_equal(rcv_get(r, 3)->body, q->body);
	ax_embedder_free(e);

	/* No key: no Authorization header at all. */
	e = remote(rcv_port(r), NULL);
	rcv_script(r, 401, 1);
	assert_int_equal(ax_embed(e, texts, 1, out, err, sizeof(err)), AX_EAUTH);
	assert_int_equal(rcv_wait(r, 5, 5000), 5);
	assert_null(rcv_header(rcv_get(r, 4), "authorization", buf, sizeof(buf)));
	assert_string_equal(rcv_get(r, 4)->body,
			    "{\"model\":\"test-model\",\"input\":[\"alpha\"],"
			    "\"encoding_format\":\"base64\"}");
	ax_embedder_free(e);
	rcv_stop(r);
}

/* A document of n embeddings: embedding i is the local embedding of
 * texts[i]; as base64 when b64, else as numbers; listed in reverse order
 * with explicit indexes when reversed. */
static char *answer(const char *const *texts, size_t n, int b64, int reversed)
{
	cJSON *doc = cJSON_CreateObject(), *data = cJSON_CreateArray();
	static float x[D];
	char *s;
	size_t k, i, j;

	for (k = 0; k < n; k++) {
		cJSON *it = cJSON_CreateObject();

		i = reversed ? n - 1 - k : k;
		ax_embed_local(texts[i], x);
		cJSON_AddStringToObject(it, "object", "embedding");
		cJSON_AddNumberToObject(it, "index", (double)i);
		if (b64) {
			unsigned char raw[D * 4];
			char enc[sodium_base64_ENCODED_LEN(D * 4, sodium_base64_VARIANT_ORIGINAL)];

			for (j = 0; j < D; j++) {
				uint32_t u;

				memcpy(&u, &x[j], 4);
				raw[4 * j] = (unsigned char)u;
				raw[4 * j + 1] = (unsigned char)(u >> 8);
				raw[4 * j + 2] = (unsigned char)(u >> 16);
				raw[4 * j + 3] = (unsigned char)(u >> 24);
			}
			sodium_bin2base64(enc, sizeof(enc), raw, sizeof(raw),
					  sodium_base64_VARIANT_ORIGINAL);
			cJSON_AddStringToObject(it, "embedding", enc);
		} else {
			cJSON *arr = cJSON_CreateArray();

			for (j = 0; j < D; j++)
				cJSON_AddItemToArray(arr, cJSON_CreateNumber(x[j]));
			cJSON_AddItemToObject(it, "embedding", arr);
		}
		cJSON_AddItemToArray(data, it);
	}
	cJSON_AddStringToObject(doc, "object", "list");
	cJSON_AddItemToObject(doc, "data", data);
	cJSON_AddStringToObject(doc, "model", "test-model");
	s = ax_json_print(doc);
	cJSON_Delete(doc);
	return s;
}

static void test_parse(void **state)
{
	const char *texts[3] = { "checkout", "payments database", "redis cache" };
	static float out[3 * D], want[D];
	char err[256], *doc;
	size_t i;

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	doc = answer(texts, 3, 1, 1);
	assert_int_equal(ax_embed_parse(doc, strlen(doc), 3, out, err, sizeof(err)), AX_OK);
	free(doc);
	for (i = 0; i < 3; i++) {
		ax_embed_local(texts[i], want);
		assert_memory_equal(out + i * D, want, sizeof(want));
	}
	doc = answer(texts, 2, 0, 0);
	memset(out, 0, sizeof(out));
	assert_int_equal(ax_embed_parse(doc, strlen(doc), 2, out, err, sizeof(err)), AX_OK);
	for (i = 0; i < 2; i++) {
		size_t j;

		ax_embed_local(texts[i], want);
		for (j = 0; j < D; j++)   /* numbers print with 15-17 digits: exact */
			assert_true(out[i * D + j] == want[j]);
	}
	/* Asked for 3, got 2. */
	assert_int_equal(ax_embed_parse(doc, strlen(doc), 3, out, err, sizeof(err)), AX_EPROTO);
	assert_non_null(strstr(err, "3 entries"));
	free(doc);
	/* Wrong dimension, duplicate index, not JSON, a string in the numbers. */
	{
		static const char *const bad[] = {
			"{\"data\":[{\"index\":0,\"embedding\":[0.1,0.2,0.3]}]}",
			"{\"data\":[{\"index\":0,\"embedding\":\"AAAA\"}]}",
			"{\"data\":[{\"index\":1,\"embedding\":[]}]}",
			"{\"data\":{}}",
			"{\"ok\":true}",
			"not json",
			"{\"data\":[{\"index\":0,\"embedding\":[\"x\"]}]}",
		};

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(ax_embed_parse(bad[i], strlen(bad[i]), 1, out, err,
							sizeof(err)), AX_EPROTO);
	}
	/* Both entries claiming index 0. */
	doc = answer(texts, 2, 1, 0);
	strstr(doc, "\"index\":1")[8] = '0';
	assert_int_equal(ax_embed_parse(doc, strlen(doc), 2, out, err, sizeof(err)), AX_EPROTO);
	assert_non_null(strstr(err, "twice"));
	free(doc);
}

/* One-shot loopback responder: reads one request, answers 200 with body. */
struct oneshot {
	int fd, port;
	const char *body;
	pthread_t thread;
};

static void *oneshot_run(void *arg)
{
	struct oneshot *o = arg;
	static char req[65536];
	size_t len = 0;
	int c = accept(o->fd, NULL, NULL);
	char hdr[128];

	if (c < 0)
		return NULL;
	for (;;) {
		ssize_t k = read(c, req + len, sizeof(req) - 1 - len);
		const char *end;

		if (k <= 0)
			break;
		len += (size_t)k;
		req[len] = '\0';
		end = strstr(req, "\r\n\r\n");
		if (end != NULL) {
			const char *cl = strcasestr(req, "Content-Length: ");
			size_t want = cl ? strtoul(cl + 16, NULL, 10) : 0;

			if (len >= (size_t)(end + 4 - req) + want)
				break;
		}
	}
	snprintf(hdr, sizeof(hdr),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n", strlen(o->body));
	if (write(c, hdr, strlen(hdr)) < 0 || write(c, o->body, strlen(o->body)) < 0)
		perror("oneshot write");
	close(c);
	return NULL;
}

static void test_remote_success(void **state)
{
	const char *texts[2] = { "payments database", "checkout api" };
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	static float out[2 * D], want[D];
	struct ax_embedder *e;
	struct oneshot o;
	char err[256];
	size_t i;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	o.fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(o.fd >= 0);
	assert_int_equal(bind(o.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(o.fd, 4), 0);
	assert_int_equal(getsockname(o.fd, (struct sockaddr *)&a, &al), 0);
	o.port = ntohs(a.sin_port);
	o.body = answer(texts, 2, 1, 1);
	assert_int_equal(pthread_create(&o.thread, NULL, oneshot_run, &o), 0);
	e = remote(o.port, "k");
	assert_int_equal(ax_embed(e, texts, 2, out, err, sizeof(err)), AX_OK);
	pthread_join(o.thread, NULL);
	for (i = 0; i < 2; i++) {
		ax_embed_local(texts[i], want);
		assert_memory_equal(out + i * D, want, sizeof(want));
	}
	ax_embedder_free(e);
	free((void *)o.body);
	close(o.fd);
}

static void test_config(void **state)
{
	struct ax_embed_config c = { "ftp://example.com", NULL, NULL, 0 };
	char err[256];
	struct ax_embedder *e;

	(void)state;
	assert_null(ax_embedder_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "http"));
	c.url = "https://user:secret@api.example.com/v1?x=1";
	e = ax_embedder_new(&c, err, sizeof(err));
	assert_non_null(e);
	assert_string_equal(ax_embedder_name(e), "openai:" AX_EMBED_DEFAULT_MODEL);
	assert_null(strstr(ax_embedder_describe(e), "secret"));
	assert_non_null(strstr(ax_embedder_describe(e), "https://api.example.com "));
	ax_embedder_free(e);
	setenv("ALEXUS_EMBED_TIMEOUT_MS", "5", 1);
	assert_null(ax_embedder_from_env(err, sizeof(err)));
	assert_non_null(strstr(err, "ALEXUS_EMBED_TIMEOUT_MS"));
	unsetenv("ALEXUS_EMBED_TIMEOUT_MS");
	unsetenv("ALEXUS_EMBED_URL");
	e = ax_embedder_from_env(err, sizeof(err));
	assert_non_null(e);
	assert_string_equal(ax_embedder_name(e), AX_EMBED_LOCAL_NAME);
	ax_embedder_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_deterministic),
		cmocka_unit_test(test_local_similarity),
		cmocka_unit_test(test_local_empty),
		cmocka_unit_test(test_remote_request_and_errors),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_remote_success),
		cmocka_unit_test(test_config),
	};

	if (ax_hash_init() != 0 || ax_httpc_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
