/* test_profiles.c - the declarative source profiles: the engine
 * (ingest/drivers/profile.c) and every profile in ingest/profiles/.
 *
 * Data-driven part: the directory is listed at run time, so a profile
 * added later is checked without touching this file.  For each
 * ingest/profiles/<name>.json it requires tests/fixtures/profiles/
 * <name>.json and <name>.expect.json and checks what the format's
 * "FIXTURES AND EXPECTATIONS" section lists: the firing fixture is
 * detected as <name> and claimed by no other driver (generic aside, which
 * takes anything with a name), it normalises to the expected signals
 * (every member the expect file gives, compared exactly; labels as a
 * subset), every fingerprint is 64 hex digits and distinct within the
 * payload, and a <name>.resolved.json, when present, is detected as
 * <name>, resolves, keeps the firing fingerprint and, with a
 * <name>.resolved.expect.json, normalises to what that lists.  A sender
 * with more than one kind of event adds cases: <name>.<case>.json with
 * <name>.<case>.expect.json and optionally <name>.<case>.resolved.json
 * (+ .resolved.expect.json), checked the same way, the resolved one
 * against its own case's firing fingerprint.  <name>.headers.json (an
 * object of request headers sent with every fixture, for senders detected
 * by a header) and <name>.ignore.json (required exactly when the profile
 * has an ignore rule: no signal, answered with the profile's
 * ignore_reason) complete the set, and a fixture file whose name fits
 * none of these patterns is a problem (a misspelt one would be skipped).
 * Every problem of every profile is printed before the test fails, so
 * one run lists them all.
 *
 * Engine part: small profiles compiled in memory (ingest_profile_compile,
 * not registered) exercise each COND test, "any" (nested, and in each of
 * detect, resolved and ignore), each SRC form, "events" with "#/"
 * pointers, ignore and ignore_reason, notes and the title limit,
 * severity_map precedence, times, tags (BigPanda's tag_id shape too) and
 * the fingerprint; every validation error is provoked through
 * ingest_profiles_load on a mkdtemp directory and must name the file and
 * the member path. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/signal.h"
#include "../../ingest/drivers/driver.h"
#include "../../ingest/drivers/profile.h"

#define PROFILES "ingest/profiles"
#define PFIX "tests/fixtures/profiles/"
#define WFIX "tests/fixtures/webhooks/"

/* Pieces of small test profiles: two always-usable detect conditions, a
 * minimal fields object, and the head of a profile called "bad". */
#define OK_DETECT "\"detect\":[{\"ptr\":\"/a\"},{\"ptr\":\"/b\"}]"
#define OK_FIELDS "\"fields\":{\"name\":\"/n\"}"
#define HEAD "\"name\":\"bad\",\"title\":\"t\","
/* 121 characters: one more than an ignore_reason may have */
#define R10 "0123456789"
#define R121 R10 R10 R10 R10 R10 R10 R10 R10 R10 R10 R10 R10 "!"

/* ------------------------------------------------------------ helpers */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* Parse path; NULL when it does not exist or is not JSON. */
static cJSON *load_json(const char *path)
{
	size_t len = 0;
	char *buf = slurp(path, &len);
	cJSON *j;

	if (buf == NULL)
		return NULL;
	j = ax_json_parse(buf, len, 64);
	free(buf);
	return j;
}

static int file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Request headers from a JSON object, looked up case-insensitively. */
static const char *obj_header(const struct ingest_input *in, const char *name)
{
	const cJSON *h;

	cJSON_ArrayForEach(h, (const cJSON *)in->hctx) {
		if (h->string != NULL && strcasecmp(h->string, name) == 0 && cJSON_IsString(h))
			return h->valuestring;
	}
	return NULL;
}

static struct ingest_input input(const cJSON *doc, const cJSON *headers)
{
	struct ingest_input in = { doc, NULL, NULL };

	if (headers != NULL) {
		in.header = obj_header;
		in.hctx = headers;
	}
	return in;
}

static int is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return s[64] == '\0';
}

static int json_files(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

/* The detect function every profile driver shares, learnt from a
 * throw-away compiled profile: tells profiles from built-in drivers. */
static int (*profile_detect_fn)(const struct ingest_driver *, const struct ingest_input *);

static int is_profile(const struct ingest_driver *d)
{
	return d->detect == profile_detect_fn;
}

/* ------------------------------------------------------------ setup */

static size_t nloaded;

static int setup(void **state)
{
	const struct ingest_driver *d = NULL;
	static const char probe[] =
		"{\"name\":\"probe\",\"title\":\"t\"," OK_DETECT ","
		"\"fields\":{\"name\":\"/a\"}}";
	char err[512] = "";
	ax_err rc;

	(void)state;
	if (ax_hash_init() != 0)
		return -1;
	rc = ingest_profiles_load(PROFILES, &nloaded, err, sizeof(err));
	if (rc != AX_OK) {
		fprintf(stderr, "ingest_profiles_load(%s): %s (%s)\n", PROFILES, ax_strerror(rc),
			err);
		return -1;
	}
	if (ingest_profile_compile("probe.json", probe, strlen(probe), &d, err, sizeof(err)) !=
	    AX_OK)
		return -1;
	profile_detect_fn = d->detect;
	ingest_profile_free(d);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ingest_profiles_unload();
	return 0;
}

/* ------------------------------------------------------------ every profile */

static int nproblems;

static void problem(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "profile %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	nproblems++;
}

/* Every driver but d and generic that claims doc, as "a, b" (empty if none). */
static void claimants(const struct ingest_driver *d, const struct ingest_input *in, char *out,
		      size_t len)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < ingest_driver_count(); i++) {
		const struct ingest_driver *x = ingest_driver_at(i);

		if (x == d || x == &ingest_driver_generic || !x->detect(x, in))
			continue;
		o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s", o ? ", " : "",
				      x->name);
		if (o >= len)
			break;
	}
}

/* Normalise path as detected; 0 with b filled, -1 after a problem. */
static int run_fixture(const char *name, const struct ingest_driver *d, const char *path,
		       const cJSON *headers, struct ingest_batch *b)
{
	const struct ingest_driver *used = NULL, *got;
	struct ingest_input in;
	char err[512] = "", who[512];
	cJSON *doc = load_json(path);
	ax_err rc;

	ingest_batch_init(b);
	if (doc == NULL) {
		problem(name, "%s is missing or not valid JSON", path);
		return -1;
	}
	in = input(doc, headers);
	got = ingest_driver_detect(&in);
	if (got != d)
		problem(name, "%s is detected as %s", path, got != NULL ? got->name : "nothing");
	claimants(d, &in, who, sizeof(who));
	if (who[0] != '\0')
		problem(name, "%s is also claimed by: %s", path, who);
	rc = ingest_normalize(&in, NULL, b, &used, err, sizeof(err));
	cJSON_Delete(doc);
	if (rc != AX_OK) {
		problem(name, "%s does not normalise: %s", path, err);
		return -1;
	}
	if (used != d) {
		problem(name, "%s was normalised by %s", path, used ? used->name : "nothing");
		ingest_batch_release(b);
		return -1;
	}
	return 0;
}

static void check_signal_common(const char *name, const char *path, const struct ingest_batch *b)
{
	size_t i, j;

	for (i = 0; i < b->n; i++) {
		const struct ax_signal *s = &b->sig[i];
		struct ax_signal back;
		char err[256];
		cJSON *j_;

		if (!is_hex64(s->fingerprint))
			problem(name, "%s: signal %zu: fingerprint \"%s\" is not 64 hex digits",
				path, i, s->fingerprint);
		if (s->source == NULL || strcmp(s->source, name) != 0)
			problem(name, "%s: signal %zu: source is \"%s\"", path, i,
				s->source ? s->source : "(null)");
		if (s->raw == NULL)
			problem(name, "%s: signal %zu: no raw payload", path, i);
		for (j = 0; j < i; j++) {
			if (strcmp(s->fingerprint, b->sig[j].fingerprint) == 0)
				problem(name, "%s: signals %zu and %zu share a fingerprint", path,
					j, i);
		}
		/* The consumer's gate must accept what the profile produced. */
		j_ = ax_signal_to_json(s);
		if (ax_signal_from_json(&back, j_, err, sizeof(err)) != AX_OK)
			problem(name, "%s: signal %zu is not a valid canonical signal: %s", path, i,
				err);
		ax_signal_release(&back);
		cJSON_Delete(j_);
	}
}

/* Each key of want present in got with the same string value. */
static void check_subset(const char *name, size_t i, const char *what, const cJSON *want,
			 const cJSON *got)
{
	const cJSON *w, *g;

	if (!cJSON_IsObject(want)) {
		problem(name, "expect: signals[%zu].%s must be an object", i, what);
		return;
	}
	cJSON_ArrayForEach(w, want) {
		g = cJSON_GetObjectItemCaseSensitive(got, w->string);
		if (!cJSON_IsString(w))
			problem(name, "expect: signals[%zu].%s.%s must be a string", i, what,
				w->string);
		else if (!cJSON_IsString(g))
			problem(name, "signal %zu: %s.%s is absent, want \"%s\"", i, what,
				w->string, w->valuestring);
		else if (strcmp(g->valuestring, w->valuestring) != 0)
			problem(name, "signal %zu: %s.%s is \"%s\", want \"%s\"", i, what,
				w->string, g->valuestring, w->valuestring);
	}
}

static const char *const expect_members[] = {
	"kind", "name", "status", "severity", "summary", "description", "service", "host",
	"namespace", "starts_at", "ends_at", "source", "fingerprint", NULL,
};

static void check_expected_signal(const char *name, size_t i, const cJSON *want,
				  const struct ax_signal *s)
{
	cJSON *got = ax_signal_to_json(s);
	const cJSON *w, *g, *ref = cJSON_GetObjectItemCaseSensitive(got, "source_ref");
	size_t k;

	cJSON_ArrayForEach(w, want) {
		const char *m = w->string;

		if (strcmp(m, "labels") == 0 || strcmp(m, "annotations") == 0) {
			check_subset(name, i, m, w, cJSON_GetObjectItemCaseSensitive(got, m));
			continue;
		}
		if (strcmp(m, "source_id") == 0 || strcmp(m, "source_url") == 0) {
			g = cJSON_GetObjectItemCaseSensitive(ref, m[7] == 'i' ? "id" : "url");
		} else {
			for (k = 0; expect_members[k] != NULL; k++) {
				if (strcmp(m, expect_members[k]) == 0)
					break;
			}
			if (expect_members[k] == NULL) {
				problem(name, "expect: signals[%zu]: unknown member \"%s\"", i, m);
				continue;
			}
			g = cJSON_GetObjectItemCaseSensitive(got, m);
		}
		if (cJSON_IsNull(w)) {
			if (!cJSON_IsNull(g))
				problem(name, "signal %zu: %s is \"%s\", want null", i, m,
					cJSON_IsString(g) ? g->valuestring : "?");
		} else if (!cJSON_IsString(w)) {
			problem(name, "expect: signals[%zu].%s must be a string or null", i, m);
		} else if (!cJSON_IsString(g)) {
			problem(name, "signal %zu: %s is absent, want \"%s\"", i, m,
				w->valuestring);
		} else if (strcmp(g->valuestring, w->valuestring) != 0) {
			problem(name, "signal %zu: %s is \"%s\", want \"%s\"", i, m, g->valuestring,
				w->valuestring);
		}
	}
	cJSON_Delete(got);
}

static void check_expect(const char *name, const cJSON *expect, const struct ingest_batch *b)
{
	const cJSON *m, *count = NULL, *sigs = NULL, *w;
	size_t i = 0;

	if (!cJSON_IsObject(expect)) {
		problem(name, "the expect file is not a JSON object");
		return;
	}
	cJSON_ArrayForEach(m, expect) {
		if (strcmp(m->string, "count") == 0)
			count = m;
		else if (strcmp(m->string, "signals") == 0)
			sigs = m;
		else
			problem(name, "expect: unknown member \"%s\"", m->string);
	}
	if (!cJSON_IsNumber(count))
		problem(name, "expect: \"count\" is required (a number)");
	else if ((double)b->n != count->valuedouble)
		problem(name, "%zu signals, want %g", b->n, count->valuedouble);
	if (sigs == NULL)
		return;
	if (!cJSON_IsArray(sigs)) {
		problem(name, "expect: \"signals\" must be an array");
		return;
	}
	cJSON_ArrayForEach(w, sigs) {
		if (i >= b->n)
			problem(name, "expect: signals[%zu] but only %zu signals", i, b->n);
		else if (!cJSON_IsObject(w))
			problem(name, "expect: signals[%zu] must be an object", i);
		else
			check_expected_signal(name, i, w, &b->sig[i]);
		i++;
	}
}

/* The words that name a fixture's role; anything else after "<name>." is
 * a case label. */
static const char *const fixture_roles[] = { "expect", "resolved", "ignore", "headers", NULL };

static int is_role(const char *w, size_t len)
{
	size_t i;

	for (i = 0; fixture_roles[i] != NULL; i++) {
		if (strlen(fixture_roles[i]) == len && strncmp(w, fixture_roles[i], len) == 0)
			return 1;
	}
	return 0;
}

/* One fixture case: <stem>.json (firing) with <stem>.expect.json, and
 * optionally <stem>.resolved.json with <stem>.resolved.expect.json; stem
 * is "<name>" or "<name>.<case>". */
static void check_case(const char *name, const struct ingest_driver *d, const cJSON *headers,
		       const char *stem)
{
	struct ingest_batch fire, res;
	char path[512], rpath[512];
	cJSON *expect;
	size_t i, j;

	snprintf(path, sizeof(path), PFIX "%s.expect.json", stem);
	expect = load_json(path);
	if (expect == NULL)
		problem(name, "%s is missing or not valid JSON", path);
	snprintf(path, sizeof(path), PFIX "%s.json", stem);
	if (run_fixture(name, d, path, headers, &fire) != 0) {
		cJSON_Delete(expect);
		return;
	}
	check_signal_common(name, path, &fire);
	for (i = 0; i < fire.n; i++) {
		if (fire.sig[i].status != AX_STATUS_FIRING)
			problem(name, "%s: signal %zu is not firing", path, i);
	}
	if (expect != NULL)
		check_expect(name, expect, &fire);
	cJSON_Delete(expect);

	snprintf(rpath, sizeof(rpath), PFIX "%s.resolved.json", stem);
	if (file_exists(rpath) && run_fixture(name, d, rpath, headers, &res) == 0) {
		check_signal_common(name, rpath, &res);
		for (i = 0; i < res.n; i++) {
			if (res.sig[i].status != AX_STATUS_RESOLVED)
				problem(name, "%s: signal %zu is not resolved", rpath, i);
			for (j = 0; j < fire.n; j++) {
				if (strcmp(res.sig[i].fingerprint, fire.sig[j].fingerprint) == 0)
					break;
			}
			if (j == fire.n)
				problem(name, "%s: signal %zu's fingerprint matches no firing "
					"signal of %s", rpath, i, path);
		}
		snprintf(path, sizeof(path), PFIX "%s.resolved.expect.json", stem);
		if (file_exists(path)) {
			expect = load_json(path);
			if (expect == NULL)
				problem(name, "%s is not valid JSON", path);
			else
				check_expect(name, expect, &res);
			cJSON_Delete(expect);
		}
		ingest_batch_release(&res);
	}
	ingest_batch_release(&fire);
}

/* The ignore fixture: required exactly when the profile has an ignore
 * rule; it must give no signal and the profile's ignore_reason. */
static void check_ignore(const char *name, const struct ingest_driver *d, const cJSON *headers)
{
	const cJSON *rule, *reason;
	const char *want = "test notification";
	struct ingest_batch res;
	char path[512];
	cJSON *prof;
	int has_fixture;

	snprintf(path, sizeof(path), PROFILES "/%s.json", name);
	prof = load_json(path);
	if (prof == NULL) {
		problem(name, "%s cannot be read back", path);
		return;
	}
	rule = cJSON_GetObjectItemCaseSensitive(prof, "ignore");
	reason = cJSON_GetObjectItemCaseSensitive(prof, "ignore_reason");
	if (cJSON_IsString(reason))
		want = reason->valuestring;
	snprintf(path, sizeof(path), PFIX "%s.ignore.json", name);
	has_fixture = file_exists(path);
	if (rule != NULL && !has_fixture)
		problem(name, "has an ignore rule but no %s", path);
	if (rule == NULL && has_fixture)
		problem(name, "has %s but no ignore rule", path);
	if (has_fixture && run_fixture(name, d, path, headers, &res) == 0) {
		if (res.n != 0 || res.ignored == NULL)
			problem(name, "%s: %zu signals, want none (ignored)", path, res.n);
		else if (strcmp(res.ignored, want) != 0)
			problem(name, "%s: ignored as \"%s\", want \"%s\"", path, res.ignored,
				want);
		ingest_batch_release(&res);
	}
	cJSON_Delete(prof);
}

static void check_profile(const char *name, struct dirent **fix, int nfix)
{
	const struct ingest_driver *d = ingest_driver_find(name);
	size_t nlen = strlen(name);
	char path[512], stem[256];
	cJSON *headers = NULL;
	int i;

	if (d == NULL || !is_profile(d)) {
		problem(name, "not registered as a profile");
		return;
	}
	snprintf(path, sizeof(path), PFIX "%s.headers.json", name);
	if (file_exists(path) && !cJSON_IsObject(headers = load_json(path)))
		problem(name, "%s is not a JSON object", path);
	check_case(name, d, headers, name);
	/* every <name>.<case>.json is a further case */
	for (i = 0; i < nfix; i++) {
		const char *f = fix[i]->d_name, *c = f + nlen + 1;
		size_t flen = strlen(f), clen;

		/* "<name>.<case>.json": at least one character of case */
		if (flen <= nlen + 1 + 5 || strncmp(f, name, nlen) != 0 || f[nlen] != '.')
			continue;
		clen = flen - nlen - 1 - 5;
		if (memchr(c, '.', clen) != NULL || is_role(c, clen))
			continue;
		if (snprintf(stem, sizeof(stem), "%s.%.*s", name, (int)clen, c) >=
		    (int)sizeof(stem))
			problem(name, "fixture %s: name too long", f);
		else
			check_case(name, d, headers, stem);
	}
	check_ignore(name, d, headers);
	cJSON_Delete(headers);
}

/* Every file in the fixture directory belongs to a profile and has a
 * name the checks read: <name>.json, <name>.<role>.json,
 * <name>.resolved.expect.json, and the same after a case label
 * (<name>.<case>[.expect|.resolved|.resolved.expect].json) whose firing
 * <name>.<case>.json exists.  A misspelt fixture would otherwise be
 * silently skipped. */
static void check_fixture_name(const char *file)
{
	char name[256], rest[256], path[600];
	const char *dot = strchr(file, '.'), *role;
	size_t n = strlen(file);
	const struct ingest_driver *d;
	char *p;

	if (dot == NULL || (size_t)(dot - file) >= sizeof(name))
		goto bad;
	snprintf(name, sizeof(name), "%.*s", (int)(dot - file), file);
	d = ingest_driver_find(name);
	if (d == NULL || !is_profile(d)) {
		problem(name, "fixture %s belongs to no profile", file);
		return;
	}
	snprintf(rest, sizeof(rest), "%.*s", (int)(n - 5 - (size_t)(dot - file)), dot);
	/* rest: "" or ".w1.w2..." without ".json" */
	if (rest[0] == '\0' || strcmp(rest, ".expect") == 0 || strcmp(rest, ".resolved") == 0 ||
	    strcmp(rest, ".ignore") == 0 || strcmp(rest, ".headers") == 0 ||
	    strcmp(rest, ".resolved.expect") == 0)
		return;
	/* a case: ".<case>" then nothing, ".expect", ".resolved" or ".resolved.expect" */
	p = strchr(rest + 1, '.');
	role = p != NULL ? p : "";
	if (is_role(rest + 1, p != NULL ? (size_t)(p - rest - 1) : strlen(rest + 1)))
		goto bad;
	if (strcmp(role, "") != 0 && strcmp(role, ".expect") != 0 &&
	    strcmp(role, ".resolved") != 0 && strcmp(role, ".resolved.expect") != 0)
		goto bad;
	if (p != NULL)
		*p = '\0';
	if (rest[1 + strspn(rest + 1, "abcdefghijklmnopqrstuvwxyz0123456789-")] != '\0')
		goto bad; /* a case is named like a profile, [a-z0-9-]+ */
	snprintf(path, sizeof(path), PFIX "%s%s.json", name, rest);
	if (!file_exists(path))
		problem(name, "fixture %s: its case has no firing fixture %s", file, path);
	return;
bad:
	problem(dot != NULL ? name : file,
		"fixture %s: not <name>[.<case>][.expect|.resolved|.resolved.expect|.ignore|"
		".headers].json with <case> [a-z0-9-]+",
		file);
}

static void test_every_profile(void **state)
{
	struct dirent **ents = NULL, **fix = NULL;
	char name[256];
	int n, nfix, i;

	(void)state;
	n = scandir(PROFILES, &ents, json_files, alphasort);
	assert_true(n >= 0);
	/* Every file became a driver, and the load saw all of them. */
	assert_int_equal((size_t)n, nloaded);
	nfix = scandir(PFIX, &fix, json_files, alphasort);
	assert_true(nfix >= 0);
	nproblems = 0;
	for (i = 0; i < n; i++) {
		size_t len = strlen(ents[i]->d_name) - 5;

		snprintf(name, sizeof(name), "%.*s", (int)len, ents[i]->d_name);
		check_profile(name, fix, nfix);
		free(ents[i]);
	}
	free(ents);
	for (i = 0; i < nfix; i++) {
		check_fixture_name(fix[i]->d_name);
		free(fix[i]);
	}
	free(fix);
	if (nproblems != 0)
		fail_msg("%d problem(s) in the profiles, listed above", nproblems);
}

/* The built-in drivers' fixtures must stay theirs: no profile detects
 * any of them.  Files that are not JSON objects or arrays (the bad-*
 * fixtures) cannot be detected by anything and are skipped. */
static void test_webhook_fixtures_not_claimed(void **state)
{
	struct dirent **ents = NULL;
	char path[512];
	int n, i, checked = 0;
	size_t k;

	(void)state;
	n = scandir(WFIX, &ents, json_files, alphasort);
	assert_true(n > 0);
	nproblems = 0;
	for (i = 0; i < n; i++) {
		cJSON *doc;

		snprintf(path, sizeof(path), WFIX "%s", ents[i]->d_name);
		doc = strcmp(ents[i]->d_name, "headers.json") == 0 ? NULL : load_json(path);
		if (doc != NULL) {
			struct ingest_input in = input(doc, NULL);

			for (k = 0; k < ingest_driver_count(); k++) {
				const struct ingest_driver *d = ingest_driver_at(k);

				if (is_profile(d) && d->detect(d, &in))
					problem(d->name, "claims the webhook fixture %s", path);
			}
			checked++;
			cJSON_Delete(doc);
		}
		free(ents[i]);
	}
	free(ents);
	assert_true(checked > 0);
	if (nproblems != 0)
		fail_msg("%d webhook fixture(s) claimed by a profile, listed above", nproblems);
}

/* ------------------------------------------------------------ engine: compile in memory */

static const struct ingest_driver *compile_ok(const char *file, const char *text)
{
	const struct ingest_driver *d = NULL;
	char err[512] = "";

	if (ingest_profile_compile(file, text, strlen(text), &d, err, sizeof(err)) != AX_OK)
		fail_msg("%s does not compile: %s", file, err);
	return d;
}

static cJSON *parse(const char *text)
{
	cJSON *j = ax_json_parse(text, strlen(text), 64);

	if (j == NULL)
		fail_msg("test JSON does not parse: %s", text);
	return j;
}

/* Does cond hold on doc (with headers, may be NULL)?  The cond is the
 * first of two detect conditions; the second always holds. */
static int cond_on(const char *cond, const char *doc, const char *headers)
{
	char prof[1024];
	const struct ingest_driver *d;
	cJSON *j = parse(doc), *h = headers ? parse(headers) : NULL;
	struct ingest_input in = input(j, h);
	int r;

	snprintf(prof, sizeof(prof),
		 "{\"name\":\"t-cond\",\"title\":\"t\",\"detect\":[%s,"
		 "{\"ptr\":\"/never-there\",\"present\":false}],\"fields\":{\"name\":\"/a\"}}",
		 cond);
	d = compile_ok("t-cond.json", prof);
	r = d->detect(d, &in);
	ingest_profile_free(d);
	cJSON_Delete(j);
	cJSON_Delete(h);
	return r;
}

static void test_cond_present(void **state)
{
	const char *doc = "{\"a\":{\"b\":[10,{\"c\":\"\"}]},\"n\":null,\"z\":0,\"f\":false}";

	(void)state;
	assert_true(cond_on("{\"ptr\":\"/a/b/1/c\"}", doc, NULL)); /* default: present */
	assert_true(cond_on("{\"ptr\":\"/a/b/1/c\",\"present\":true}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/z\",\"present\":true}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/f\",\"present\":true}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/n\",\"present\":true}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/n\",\"present\":false}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/a/b/2\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/a/b/2\",\"present\":false}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/a/b/01\"}", doc, NULL)); /* not an index */
	assert_false(cond_on("{\"ptr\":\"/a\",\"present\":false}", doc, NULL));
	assert_true(cond_on("{\"header\":\"X-Test-Event\"}", doc, "{\"x-test-event\":\"up\"}"));
	assert_false(cond_on("{\"header\":\"X-Test-Event\"}", doc, NULL));
	assert_true(cond_on("{\"header\":\"X-Test-Event\",\"present\":false}", doc, NULL));
}

static void test_cond_equals(void **state)
{
	const char *doc = "{\"s\":\"Down\",\"n\":200,\"x\":0.1,\"t\":true,\"o\":{\"s\":\"Down\"},"
			  "\"a/b\":\"slash\",\"m~n\":\"tilde\"}";

	(void)state;
	assert_true(cond_on("{\"ptr\":\"/s\",\"equals\":\"down\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/s\",\"equals\":\"DOWN\"}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/s\",\"equals\":\"Dow\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/n\",\"equals\":\"200\"}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/n\",\"equals\":\"200.0\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/x\",\"equals\":\"0.1\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/t\",\"equals\":\"true\"}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/o\",\"equals\":\"Down\"}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/missing\",\"equals\":\"\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/a~1b\",\"equals\":\"slash\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/m~0n\",\"equals\":\"tilde\"}", doc, NULL));
	assert_true(cond_on("{\"header\":\"X-Kind\",\"equals\":\"ALERT\"}", doc,
			    "{\"X-Kind\":\"alert\"}"));
}

static void test_cond_in_prefix(void **state)
{
	const char *doc = "{\"s\":\"Warning\",\"n\":3,\"u\":\"https://Status.Example.com/x\"}";

	(void)state;
	assert_true(cond_on("{\"ptr\":\"/s\",\"in\":[\"critical\",\"warning\"]}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/s\",\"in\":[\"critical\",\"warn\"]}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/n\",\"in\":[\"1\",\"3\"]}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/missing\",\"in\":[\"1\"]}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/u\",\"prefix\":\"https://status.example.com/\"}", doc,
			    NULL));
	assert_false(cond_on("{\"ptr\":\"/u\",\"prefix\":\"http://\"}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/missing\",\"prefix\":\"h\"}", doc, NULL));
	assert_true(cond_on("{\"header\":\"User-Agent\",\"prefix\":\"pingdom\"}", doc,
			    "{\"user-agent\":\"Pingdom.com_bot_version_1.4\"}"));
}

static void test_cond_type(void **state)
{
	const char *doc =
		"{\"s\":\"x\",\"n\":1.5,\"o\":{},\"a\":[],\"b\":false,\"z\":null,\"e\":\"\"}";

	(void)state;
	assert_true(cond_on("{\"ptr\":\"/s\",\"type\":\"string\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/e\",\"type\":\"string\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/n\",\"type\":\"number\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/o\",\"type\":\"object\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/a\",\"type\":\"array\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"/b\",\"type\":\"boolean\"}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/s\",\"type\":\"number\"}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/n\",\"type\":\"string\"}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/o\",\"type\":\"array\"}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/z\",\"type\":\"object\"}", doc, NULL));
	assert_false(cond_on("{\"ptr\":\"/missing\",\"type\":\"string\"}", doc, NULL));
	/* "" is the whole document; a top-level array is a sender's shape too */
	assert_true(cond_on("{\"ptr\":\"\",\"type\":\"object\"}", doc, NULL));
	assert_true(cond_on("{\"ptr\":\"\",\"type\":\"array\"}", "[1]", NULL));
	assert_true(cond_on("{\"header\":\"X-A\",\"type\":\"string\"}", doc, "{\"X-A\":\"1\"}"));
	assert_false(cond_on("{\"header\":\"X-A\",\"type\":\"number\"}", doc, "{\"X-A\":\"1\"}"));
}

/* {"any": [...]}: one alternative is enough; alternatives may be any
 * COND, another "any" included, down to four levels. */
static void test_cond_any(void **state)
{
	static const char either[] =
		"{\"any\":[{\"ptr\":\"/s\",\"equals\":\"down\"},"
		"{\"ptr\":\"/s\",\"equals\":\"up\"}]}";
	static const char mixed[] =
		"{\"any\":[{\"header\":\"X-Sender\",\"equals\":\"acme\"},"
		"{\"ptr\":\"/sender\",\"equals\":\"acme\"}]}";
	/* a=1, or b=2, or c a number, or no d: four levels deep */
	static const char nested[] =
		"{\"any\":[{\"ptr\":\"/a\",\"equals\":\"1\"},"
		"{\"any\":[{\"ptr\":\"/b\",\"equals\":\"2\"},"
		"{\"any\":[{\"ptr\":\"/c\",\"type\":\"number\"},"
		"{\"any\":[{\"ptr\":\"/d\",\"present\":false}]}]}]}]}";

	(void)state;
	assert_true(cond_on(either, "{\"s\":\"Down\"}", NULL));
	assert_true(cond_on(either, "{\"s\":\"UP\"}", NULL));
	assert_false(cond_on(either, "{\"s\":\"degraded\"}", NULL));
	assert_false(cond_on(either, "{}", NULL));
	/* a header or a body member */
	assert_true(cond_on(mixed, "{}", "{\"x-sender\":\"ACME\"}"));
	assert_true(cond_on(mixed, "{\"sender\":\"acme\"}", NULL));
	assert_false(cond_on(mixed, "{\"sender\":\"other\"}", "{\"X-Sender\":\"other\"}"));
	/* a single alternative is the condition itself */
	assert_true(cond_on("{\"any\":[{\"ptr\":\"/x\",\"present\":false}]}", "{}", NULL));
	assert_false(cond_on("{\"any\":[{\"ptr\":\"/x\",\"present\":false}]}", "{\"x\":1}",
			     NULL));
	/* each level decides */
	assert_true(cond_on(nested, "{\"a\":\"1\",\"d\":0}", NULL));
	assert_true(cond_on(nested, "{\"a\":\"0\",\"b\":2,\"d\":0}", NULL));
	assert_true(cond_on(nested, "{\"a\":\"0\",\"c\":5,\"d\":0}", NULL));
	assert_true(cond_on(nested, "{\"a\":\"0\"}", NULL));
	assert_false(cond_on(nested, "{\"a\":\"0\",\"b\":\"3\",\"c\":\"5\",\"d\":0}", NULL));
}

/* Normalise doc with a profile compiled from text; fails unless AX_OK. */
static void norm(const char *file, const char *text, const char *doc, struct ingest_batch *b)
{
	const struct ingest_driver *d = compile_ok(file, text);
	cJSON *j = parse(doc);
	struct ingest_input in = input(j, NULL);
	char err[512] = "";
	ax_err rc;

	ingest_batch_init(b);
	rc = d->normalize(d, &in, b, err, sizeof(err));
	ingest_profile_free(d);
	cJSON_Delete(j);
	if (rc != AX_OK)
		fail_msg("normalize: %s", err);
}

#define SRC_PROFILE(fields) \
	"{\"name\":\"t-src\",\"title\":\"t\"," OK_DETECT ",\"fields\":{" fields "}}"

static const char src_doc[] =
	"{\"str\":\"hello\",\"num\":503,\"frac\":0.25,\"neg\":-7,\"big\":1718007362144,"
	"\"t\":true,\"f\":false,\"obj\":{\"k\":\"v\"},\"arr\":[\"x\",\"y\"],\"nul\":null,"
	"\"empty\":\"\"}";

static const char *label(const struct ax_signal *s, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->labels, k);

	return cJSON_IsString(v) ? v->valuestring : "(absent)";
}

static void test_src_pointer(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;

	(void)state;
	norm("t-src.json",
	     "{\"name\":\"t-src\",\"title\":\"t\"," OK_DETECT ","
	     "\"fields\":{\"name\":\"/str\",\"summary\":\"/obj\",\"description\":\"/nul\","
	     "\"service\":\"/empty\",\"host\":\"/arr/1\",\"namespace\":\"/missing\"},"
	     "\"labels\":{\"num\":\"/num\",\"frac\":\"/frac\",\"neg\":\"/neg\",\"big\":\"/big\","
	     "\"t\":\"/t\",\"f\":\"/f\",\"arr\":\"/arr\",\"k\":\"/obj/k\"}}",
	     src_doc, &b);
	assert_int_equal(b.n, 1);
	s = &b.sig[0];
	assert_string_equal(s->name, "hello");
	assert_null(s->summary);     /* objects are absent */
	assert_null(s->description); /* null is absent */
	assert_null(s->service);     /* "" is absent */
	assert_string_equal(s->host, "y");
	assert_null(s->namespace_);
	assert_string_equal(label(s, "num"), "503");
	assert_string_equal(label(s, "frac"), "0.25");
	assert_string_equal(label(s, "neg"), "-7");
	assert_string_equal(label(s, "big"), "1718007362144");
	assert_string_equal(label(s, "t"), "true");
	assert_string_equal(label(s, "f"), "false");
	assert_string_equal(label(s, "arr"), "(absent)");
	assert_string_equal(label(s, "k"), "v");
	assert_string_equal(s->source, "t-src");
	assert_int_equal(s->kind, AX_KIND_ALERT);
	assert_int_equal(s->status, AX_STATUS_FIRING);
	assert_int_equal(s->severity, AX_SEV_WARNING); /* severity_default's default */
	ingest_batch_release(&b);
}

static void test_src_first_const_template(void **state)
{
	struct ingest_batch b;
	const struct ax_signal *s;

	(void)state;
	norm("t-src.json",
	     SRC_PROFILE("\"name\":[\"/missing\",\"/nul\",\"/empty\",\"/obj\",\"/num\",\"/str\"],"
			 "\"summary\":{\"const\":\"fixed text\"},"
			 "\"description\":{\"template\":\"{/str} got {/num} ({/missing}) {x} {}\"},"
			 "\"service\":{\"template\":\"svc-{/missing}-{/nul}\"},"
			 "\"host\":{\"template\":\"{/t}/{#/frac}\"},"
			 "\"namespace\":[\"/missing\"]"),
	     src_doc, &b);
	assert_int_equal(b.n, 1);
	s = &b.sig[0];
	assert_string_equal(s->name, "503"); /* the first present: nul, "" and {} are not */
	assert_string_equal(s->summary, "fixed text");
	/* absent substitutions render as ""; "{x}" and "{}" are literal */
	assert_string_equal(s->description, "hello got 503 () {x} {}");
	assert_null(s->service); /* every substitution absent -> absent */
	assert_string_equal(s->host, "true/0.25");
	assert_null(s->namespace_);
	ingest_batch_release(&b);
}

static void test_events_batch(void **state)
{
	static const char prof[] =
		"{\"name\":\"t-batch\",\"title\":\"t\",\"kind\":\"check\","
		"\"detect\":[{\"ptr\":\"/account\"},{\"ptr\":\"/checks\",\"type\":\"array\"}],"
		"\"events\":\"/checks\","
		"\"fields\":{\"name\":\"/name\",\"service\":\"#/account\",\"host\":\"/account\","
		"\"source_id\":\"/id\",\"summary\":{\"template\":\"{/name} for {#/account}\"}},"
		"\"resolved\":[{\"ptr\":\"/state\",\"equals\":\"up\"}],"
		"\"labels\":{\"acct\":\"#/account\",\"rel\":\"/account\","
		"\"region\":\"#/meta/region\"},"
		"\"fingerprint\":[\"#/account\",\"/id\"]}";
	static const char doc[] =
		"{\"account\":\"acme\",\"meta\":{\"region\":\"eu\"},\"checks\":["
		"{\"id\":11,\"name\":\"api\",\"state\":\"down\"},"
		"{\"id\":12,\"name\":\"web\",\"state\":\"up\",\"account\":\"inner\"},"
		"{\"id\":13,\"name\":\"api\",\"state\":\"down\"}]}";
	struct ingest_batch b;

	(void)state;
	norm("t-batch.json", prof, doc, &b);
	assert_int_equal(b.n, 3);
	assert_string_equal(b.sig[0].name, "api");
	assert_string_equal(b.sig[1].name, "web");
	assert_int_equal(b.sig[0].kind, AX_KIND_CHECK);
	assert_int_equal(b.sig[0].status, AX_STATUS_FIRING);
	assert_int_equal(b.sig[1].status, AX_STATUS_RESOLVED);
	/* "#/" reaches the document, "/" stays in the element */
	assert_string_equal(b.sig[0].service, "acme");
	assert_null(b.sig[0].host);
	assert_string_equal(b.sig[1].host, "inner");
	assert_string_equal(b.sig[0].summary, "api for acme");
	assert_string_equal(label(&b.sig[0], "acct"), "acme");
	assert_string_equal(label(&b.sig[0], "region"), "eu");
	assert_string_equal(label(&b.sig[0], "rel"), "(absent)");
	assert_string_equal(label(&b.sig[1], "rel"), "inner");
	assert_string_equal(b.sig[2].source_id, "13");
	/* raw is the element, not the document */
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(b.sig[1].raw, "id")->valueint, 12);
	assert_null(cJSON_GetObjectItemCaseSensitive(b.sig[1].raw, "checks"));
	/* same name, different id: different alerts */
	assert_string_not_equal(b.sig[0].fingerprint, b.sig[2].fingerprint);
	assert_string_not_equal(b.sig[0].fingerprint, b.sig[1].fingerprint);
	ingest_batch_release(&b);
}

static void test_events_errors(void **state)
{
	static const char prof[] =
		"{\"name\":\"t-batch\",\"title\":\"t\"," OK_DETECT ","
		"\"events\":\"#/checks\",\"fields\":{\"name\":\"/name\"}}";
	static const char *const docs[] = {
		"{\"checks\":{}}", "{\"checks\":[]}", "{}", "{\"checks\":[{\"name\":\"a\"},{}]}",
	};
	static const char *const why[] = { "not an array", "empty", "absent", "event 1" };
	const struct ingest_driver *d = compile_ok("t-batch.json", prof);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct ingest_batch b;
		cJSON *j = parse(docs[i]);
		struct ingest_input in = input(j, NULL);
		char err[256] = "";

		ingest_batch_init(&b);
		assert_int_equal(d->normalize(d, &in, &b, err, sizeof(err)), AX_EPROTO);
		if (strstr(err, why[i]) == NULL)
			fail_msg("doc %zu: error \"%s\" does not say \"%s\"", i, err, why[i]);
		ingest_batch_release(&b);
		cJSON_Delete(j);
	}
	ingest_profile_free(d);
}

static void test_ignore(void **state)
{
	static const char prof[] =
		"{\"name\":\"t-ign\",\"title\":\"t\"," OK_DETECT ","
		"\"fields\":{\"name\":\"/name\"},"
		"\"ignore\":[{\"ptr\":\"/event\",\"equals\":\"test\"},"
		"{\"ptr\":\"/id\",\"present\":false}]}";
	struct ingest_batch b;

	(void)state;
	norm("t-ign.json", prof, "{\"event\":\"TEST\",\"name\":\"x\"}", &b);
	assert_int_equal(b.n, 0);
	assert_non_null(b.ignored);
	assert_string_equal(b.ignored, "test notification");
	ingest_batch_release(&b);
	/* ALL must hold: with an id it is a real event */
	norm("t-ign.json", prof, "{\"event\":\"test\",\"id\":1,\"name\":\"x\"}", &b);
	assert_int_equal(b.n, 1);
	assert_null(b.ignored);
	ingest_batch_release(&b);
}

/* "any" in each rule: detect (headers too), resolved per event element
 * with "#/" reaching the document, ignore on the whole request. */
static void test_any_in_rules(void **state)
{
	static const char prof[] =
		"{\"name\":\"t-any\",\"title\":\"t\","
		"\"detect\":[{\"any\":[{\"header\":\"X-Sender\",\"equals\":\"acme\"},"
		"{\"ptr\":\"/sender\",\"equals\":\"acme\"}]},"
		"{\"ptr\":\"/checks\",\"type\":\"array\"}],"
		"\"events\":\"/checks\",\"fields\":{\"name\":\"/name\"},"
		"\"resolved\":[{\"any\":[{\"ptr\":\"/state\",\"in\":[\"up\",\"ok\"]},"
		"{\"ptr\":\"#/all_clear\",\"equals\":\"true\"}]}],"
		"\"ignore\":[{\"any\":[{\"ptr\":\"/event\",\"equals\":\"ping\"},"
		"{\"header\":\"X-Test\",\"present\":true}]}],"
		"\"fingerprint\":[\"/name\"]}";
	const struct ingest_driver *d = compile_ok("t-any.json", prof);
	static const char checks[] =
		"{\"checks\":[{\"name\":\"a\",\"state\":\"down\"},"
		"{\"name\":\"b\",\"state\":\"OK\"},"
		"{\"name\":\"c\",\"state\":\"up\"}]}";
	cJSON *doc = parse(checks), *sender = parse("{\"X-Sender\":\"acme\"}"),
	      *test = parse("{\"X-Sender\":\"acme\",\"X-Test\":\"1\"}");
	struct ingest_input in = input(doc, sender);
	struct ingest_batch b;
	char err[256] = "";
	cJSON *j;

	(void)state;
	/* detect: the header alternative, the body alternative, neither */
	assert_true(d->detect(d, &in));
	in = input(doc, NULL);
	assert_false(d->detect(d, &in));
	j = parse("{\"sender\":\"acme\",\"checks\":[]}");
	in = input(j, NULL);
	assert_true(d->detect(d, &in));
	cJSON_Delete(j);

	/* resolved, per element */
	in = input(doc, sender);
	ingest_batch_init(&b);
	assert_int_equal(d->normalize(d, &in, &b, err, sizeof(err)), AX_OK);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.sig[0].status, AX_STATUS_FIRING);
	assert_int_equal(b.sig[1].status, AX_STATUS_RESOLVED);
	assert_int_equal(b.sig[2].status, AX_STATUS_RESOLVED);
	ingest_batch_release(&b);
	/* resolved, the "#/" alternative: the document clears every element */
	j = parse("{\"all_clear\":true,\"checks\":[{\"name\":\"a\",\"state\":\"down\"}]}");
	in = input(j, sender);
	ingest_batch_init(&b);
	assert_int_equal(d->normalize(d, &in, &b, err, sizeof(err)), AX_OK);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.sig[0].status, AX_STATUS_RESOLVED);
	ingest_batch_release(&b);
	cJSON_Delete(j);

	/* ignore: the header alternative, then the body alternative */
	in = input(doc, test);
	ingest_batch_init(&b);
	assert_int_equal(d->normalize(d, &in, &b, err, sizeof(err)), AX_OK);
	assert_int_equal(b.n, 0);
	assert_string_equal(b.ignored, "test notification");
	ingest_batch_release(&b);
	j = parse("{\"event\":\"ping\",\"checks\":[{\"name\":\"a\"}]}");
	in = input(j, sender);
	ingest_batch_init(&b);
	assert_int_equal(d->normalize(d, &in, &b, err, sizeof(err)), AX_OK);
	assert_int_equal(b.n, 0);
	assert_non_null(b.ignored);
	ingest_batch_release(&b);
	cJSON_Delete(j);

	cJSON_Delete(doc);
	cJSON_Delete(sender);
	cJSON_Delete(test);
	ingest_profile_free(d);
}

/* ignore_reason is what the request is answered with; it is the
 * profile's own copy, so it outlives the profile text and the request. */
static void test_ignore_reason(void **state)
{
	static const char prof[] =
		"{\"name\":\"t-ign\",\"title\":\"t\"," OK_DETECT ","
		"\"fields\":{\"name\":\"/name\"},"
		"\"ignore\":[{\"ptr\":\"/event\",\"in\":[\"assigned\",\"commented\"]}],"
		"\"ignore_reason\":\"assignment or comment: not a state change\"}";
	char *text = strdup(prof), err[256] = "";
	const struct ingest_driver *d = NULL;
	struct ingest_batch b;
	struct ingest_input in;
	cJSON *j;

	(void)state;
	assert_non_null(text);
	assert_int_equal(ingest_profile_compile("t-ign.json", text, strlen(text), &d, err,
						sizeof(err)),
			 AX_OK);
	memset(text, 'x', strlen(text)); /* the profile keeps nothing of its text */
	free(text);
	j = parse("{\"event\":\"Commented\",\"name\":\"n\"}");
	in = input(j, NULL);
	ingest_batch_init(&b);
	assert_int_equal(d->normalize(d, &in, &b, err, sizeof(err)), AX_OK);
	cJSON_Delete(j); /* nor of the request */
	assert_int_equal(b.n, 0);
	assert_string_equal(b.ignored, "assignment or comment: not a state change");
	ingest_batch_release(&b);
	/* a state change is not ignored */
	j = parse("{\"event\":\"resolved\",\"name\":\"n\"}");
	in = input(j, NULL);
	ingest_batch_init(&b);
	assert_int_equal(d->normalize(d, &in, &b, err, sizeof(err)), AX_OK);
	assert_int_equal(b.n, 1);
	assert_null(b.ignored);
	ingest_batch_release(&b);
	cJSON_Delete(j);
	ingest_profile_free(d);
}

/* notes: free text of any length, kept nowhere; the title is what
 * --list-sources shows, and its limit counts characters, not bytes. */
static void test_notes_and_title(void **state)
{
	char prof[8192], notes[4096], title[256];
	const struct ingest_driver *d;
	struct ingest_batch b;
	size_t i, o = 0;

	(void)state;
	/* 150 * 23 = 3450 bytes of policy text, with escaped quotes and UTF-8 */
	for (i = 0; i < 150; i++)
		o += (size_t)snprintf(notes + o, sizeof(notes) - o,
				      "st\\u00e4te \\\"%02zu\\\" = x; ", i % 100);
	assert_int_equal(o, 3450);
	snprintf(prof, sizeof(prof),
		 "{\"name\":\"t-notes\",\"title\":\"Short title\",\"notes\":\"%s\"," OK_DETECT ","
		 "\"fields\":{\"name\":\"/n\"}}",
		 notes);
	d = compile_ok("t-notes.json", prof);
	assert_string_equal(d->title, "Short title");
	ingest_profile_free(d);
	/* empty notes are allowed too */
	norm("t-notes.json",
	     "{\"name\":\"t-notes\",\"title\":\"t\",\"notes\":\"\"," OK_DETECT ","
	     "\"fields\":{\"name\":\"/n\"}}",
	     "{\"n\":\"x\"}", &b);
	assert_int_equal(b.n, 1);
	ingest_batch_release(&b);
	/* 64 two-byte characters (128 bytes) are a valid title */
	o = 0;
	for (i = 0; i < 64; i++)
		o += (size_t)snprintf(title + o, sizeof(title) - o, "\xc3\xa9");
	snprintf(prof, sizeof(prof),
		 "{\"name\":\"t-notes\",\"title\":\"%s\"," OK_DETECT ","
		 "\"fields\":{\"name\":\"/n\"}}",
		 title);
	d = compile_ok("t-notes.json", prof);
	assert_string_equal(d->title, title);
	ingest_profile_free(d);
}

/* BigPanda's tag shape: [{"tag_id": k, "value": v}]. */
static void test_tags_tag_id(void **state)
{
	static const char prof[] =
		"{\"name\":\"t-tags\",\"title\":\"t\"," OK_DETECT ","
		"\"fields\":{\"name\":{\"const\":\"n\"}},\"tags\":\"/incident_tags\"}";
	struct ingest_batch b;

	(void)state;
	norm("t-tags.json", prof,
	     "{\"incident_tags\":[{\"tag_id\":\"priority\",\"value\":\"P1\"},"
	     "{\"tag_id\":\"business_service\",\"value\":\"Checkout\"},"
	     "{\"tag_id\":\"tier\",\"value\":2},{\"tag_id\":\"flag\"},{\"value\":\"orphan\"}]}",
	     &b);
	assert_int_equal(b.n, 1);
	assert_string_equal(label(&b.sig[0], "priority"), "P1");
	assert_string_equal(label(&b.sig[0], "business_service"), "Checkout");
	assert_string_equal(label(&b.sig[0], "tier"), "2");
	assert_string_equal(label(&b.sig[0], "flag"), "");
	/* a value without a key names no label */
	assert_int_equal(cJSON_GetArraySize(b.sig[0].labels), 4);
	ingest_batch_release(&b);
}

static enum ax_severity sev_of(const char *raw_json)
{
	static const char prof[] =
		"{\"name\":\"t-sev\",\"title\":\"t\"," OK_DETECT ","
		"\"fields\":{\"name\":{\"const\":\"n\"},\"severity\":\"/sev\"},"
		"\"severity_map\":{\"HIGH\":\"info\",\"Sev-A\":\"critical\",\"3\":\"high\"},"
		"\"severity_default\":\"info\"}";
	struct ingest_batch b;
	enum ax_severity sev;
	char doc[256];

	snprintf(doc, sizeof(doc), "{\"sev\":%s}", raw_json);
	norm("t-sev.json", prof, doc, &b);
	assert_int_equal(b.n, 1);
	sev = b.sig[0].severity;
	ingest_batch_release(&b);
	return sev;
}

static void test_severity_map(void **state)
{
	(void)state;
	assert_int_equal(sev_of("\"high\""), AX_SEV_INFO);        /* the map beats the parser */
	assert_int_equal(sev_of("\"sev-a\""), AX_SEV_CRITICAL);   /* keys case-insensitive */
	assert_int_equal(sev_of("3"), AX_SEV_HIGH);               /* numbers in JSON spelling */
	assert_int_equal(sev_of("\"error\""), AX_SEV_HIGH);       /* then ax_severity_parse */
	assert_int_equal(sev_of("\"Critical\""), AX_SEV_CRITICAL);
	assert_int_equal(sev_of("\"whatever\""), AX_SEV_INFO);    /* then severity_default */
	assert_int_equal(sev_of("null"), AX_SEV_INFO);
}

static void test_times_tags_kind(void **state)
{
	static const char prof[] =
		"{\"name\":\"t-misc\",\"title\":\"t\",\"kind\":\"deploy\","
		OK_DETECT ","
		"\"fields\":{\"name\":{\"const\":\"n\"},\"starts_at\":\"/t1\",\"ends_at\":\"/t2\","
		"\"source_url\":{\"template\":\"https://x.example/{/id}\"}},"
		"\"labels\":{\"env\":{\"const\":\"from-label\"}},\"tags\":\"/tags\"}";
	struct ingest_batch b;
	const struct ax_signal *s;

	(void)state;
	norm("t-misc.json", prof,
	     "{\"t1\":1718007362,\"t2\":\"2025-06-10T10:16:02.5+02:00\",\"id\":7,"
	     "\"tags\":[\"env:prod\",\"team:core\",\"solo\"]}",
	     &b);
	s = &b.sig[0];
	assert_int_equal(s->kind, AX_KIND_DEPLOY);
	assert_string_equal(s->starts_at, "2024-06-10T08:16:02.000Z");
	assert_string_equal(s->ends_at, "2025-06-10T08:16:02.500Z");
	assert_string_equal(s->source_url, "https://x.example/7");
	assert_string_equal(label(s, "env"), "from-label"); /* labels win over tags */
	assert_string_equal(label(s, "team"), "core");
	assert_string_equal(label(s, "solo"), "");
	ingest_batch_release(&b);

	norm("t-misc.json", prof,
	     "{\"t1\":\"1718007362144\",\"t2\":\"not a time\",\"tags\":{\"a\":\"1\",\"b\":2}}", &b);
	s = &b.sig[0];
	assert_string_equal(s->starts_at, "2024-06-10T08:16:02.144Z");
	assert_null(s->ends_at); /* unreadable times are left out */
	assert_null(s->source_url);
	assert_string_equal(label(s, "a"), "1");
	assert_string_equal(label(s, "b"), "2");
	ingest_batch_release(&b);

	norm("t-misc.json", prof, "{\"tags\":\"x:1, y=2\"}", &b);
	assert_string_equal(label(&b.sig[0], "x"), "1");
	assert_string_equal(label(&b.sig[0], "y"), "2");
	ingest_batch_release(&b);
}

static void fp_of(const char *prof, const char *doc, char out[AX_SHA256_HEX])
{
	struct ingest_batch b;

	norm("t-fp.json", prof, doc, &b);
	assert_int_equal(b.n, 1);
	assert_true(is_hex64(b.sig[0].fingerprint));
	memcpy(out, b.sig[0].fingerprint, AX_SHA256_HEX);
	ingest_batch_release(&b);
}

static void test_fingerprint(void **state)
{
	static const char explicit_fp[] =
		"{\"name\":\"t-fp\",\"title\":\"t\"," OK_DETECT ","
		"\"fields\":{\"name\":\"/name\",\"severity\":\"/st\"},"
		"\"resolved\":[{\"ptr\":\"/st\",\"equals\":\"ok\"}],"
		"\"fingerprint\":[\"/x\",\"/y\"]}";
	static const char default_fp[] =
		"{\"name\":\"t-fp\",\"title\":\"t\"," OK_DETECT ","
		"\"fields\":{\"name\":\"/name\",\"service\":\"/svc\",\"host\":\"/host\"}}";
	char a[AX_SHA256_HEX], b[AX_SHA256_HEX], c[AX_SHA256_HEX];
	struct ax_signal t;

	(void)state;
	/* stable across status and the fields not listed */
	fp_of(explicit_fp, "{\"name\":\"n1\",\"st\":\"critical\",\"x\":\"1\",\"y\":\"2\"}", a);
	fp_of(explicit_fp, "{\"name\":\"n2\",\"st\":\"ok\",\"x\":1,\"y\":\"2\"}", b);
	assert_string_equal(a, b);
	fp_of(explicit_fp, "{\"name\":\"n1\",\"x\":\"1\",\"y\":\"3\"}", c);
	assert_string_not_equal(a, c);
	/* keyed by index: [a, absent] is not [absent, a] */
	fp_of(explicit_fp, "{\"name\":\"n\",\"x\":\"v\"}", a);
	fp_of(explicit_fp, "{\"name\":\"n\",\"y\":\"v\"}", b);
	assert_string_not_equal(a, b);
	/* the documented digest: ax_signal_fingerprint over {"00": x, "01": y} */
	fp_of(explicit_fp, "{\"name\":\"n\",\"x\":\"1\",\"y\":\"2\"}", a);
	ax_signal_init(&t);
	t.source = strdup("t-fp");
	cJSON_AddStringToObject(t.labels, "00", "1");
	cJSON_AddStringToObject(t.labels, "01", "2");
	ax_signal_fingerprint(&t, NULL);
	assert_string_equal(a, t.fingerprint);
	ax_signal_release(&t);
	/* all fingerprint values absent: falls back to name, service, host */
	fp_of(explicit_fp, "{\"name\":\"n\"}", a);
	fp_of(default_fp, "{\"name\":\"n\"}", b);
	assert_string_equal(a, b);
	/* the default: name, service and host */
	fp_of(default_fp, "{\"name\":\"n\",\"svc\":\"s\",\"host\":\"h\"}", a);
	fp_of(default_fp, "{\"name\":\"n\",\"svc\":\"s\",\"host\":\"h2\"}", b);
	fp_of(default_fp, "{\"name\":\"n\",\"svc\":\"s\",\"host\":\"h\",\"other\":1}", c);
	assert_string_not_equal(a, b);
	assert_string_equal(a, c);
}

static void test_name_required(void **state)
{
	static const char prof[] = SRC_PROFILE("\"name\":\"/name\"");
	const struct ingest_driver *d = compile_ok("t-src.json", prof);
	cJSON *j = parse("{\"title\":\"no name here\"}");
	struct ingest_input in = input(j, NULL);
	struct ingest_batch b;
	char err[256] = "";

	(void)state;
	ingest_batch_init(&b);
	assert_int_equal(d->normalize(d, &in, &b, err, sizeof(err)), AX_EPROTO);
	assert_non_null(strstr(err, "fields.name"));
	ingest_batch_release(&b);
	cJSON_Delete(j);
	ingest_profile_free(d);
}

/* ------------------------------------------------------------ validation errors */

/* Write text as file into a fresh directory and load it: must fail with
 * AX_EINVAL and an error naming the file, the member and the reason. */
static void load_bad(const char *file, const char *text, const char *member, const char *why)
{
	char dir[] = "/tmp/alexus-profiles-XXXXXX", path[512], err[512] = "", want[256];
	size_t n = 123;
	FILE *f;
	ax_err rc;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	rc = ingest_profiles_load(dir, &n, err, sizeof(err));
	unlink(path);
	rmdir(dir);
	if (rc != AX_EINVAL)
		fail_msg("%s: load returned %d (%s), want AX_EINVAL", file, rc, err);
	assert_int_equal(n, 0);
	snprintf(want, sizeof(want), "%s: %s", file, member);
	if (strncmp(err, want, strlen(want)) != 0 || strstr(err, why) == NULL)
		fail_msg("%s: error \"%s\" does not start \"%s\" and say \"%s\"", file, err, want,
			 why);
	/* nothing was registered */
	assert_null(ingest_driver_find("bad"));
}


static void test_validation_errors(void **state)
{
	static const struct {
		const char *file, *text, *member, *why;
	} cases[] = {
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"colour\":1}", "colour",
		  "unknown member" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"title\":\"again\"}", "title",
		  "given twice" },
		{ "bad.json", "{\"title\":\"t\"," OK_DETECT "," OK_FIELDS "}", "name", "required" },
		{ "bad.json",
		  "{\"name\":\"bad\"," OK_DETECT "," OK_FIELDS "}", "title", "required" },
		{ "bad.json", "{" HEAD OK_FIELDS "}", "detect", "required" },
		{ "bad.json", "{" HEAD OK_DETECT "}", "fields", "required" },
		{ "bad.json", "{" HEAD OK_DETECT ",\"fields\":{\"summary\":\"/s\"}}", "fields.name",
		  "required" },
		{ "bad.json", "{" HEAD OK_DETECT ",\"fields\":{\"name\":\"/n\",\"colour\":\"/c\"}}",
		  "fields.colour", "unknown field" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[]," OK_FIELDS "}", "detect", "must not be empty" },
		{ "bad.json", "{" HEAD "\"detect\":[{\"ptr\":\"/a\"}]," OK_FIELDS "}", "detect",
		  "at least 2" },
		{ "bad.json", "{" HEAD "\"detect\":{\"ptr\":\"/a\"}," OK_FIELDS "}", "detect",
		  "array of conditions" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a\"},{\"ptr\":\"a\"}]," OK_FIELDS "}",
		  "detect[1].ptr", "not a JSON pointer" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a~2\"},"
		  "{\"ptr\":\"/a\"}]," OK_FIELDS "}",
		  "detect[0].ptr", "not a JSON pointer" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a\",\"header\":\"X\"},"
		  "{\"ptr\":\"/a\"}]," OK_FIELDS "}",
		  "detect[0].header", "one subject" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"equals\":\"x\"},"
		  "{\"ptr\":\"/a\"}]," OK_FIELDS "}",
		  "detect[0]", "needs a subject" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a\",\"equals\":\"x\",\"prefix\":\"y\"},"
		  "{\"ptr\":\"/a\"}]," OK_FIELDS "}",
		  "detect[0].prefix", "at most one test" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a\",\"matches\":\"x\"},"
		  "{\"ptr\":\"/a\"}]," OK_FIELDS "}",
		  "detect[0].matches", "unknown member" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a\",\"type\":\"integer\"},{\"ptr\":\"/a\"}],"
		  OK_FIELDS "}",
		  "detect[0].type", "not string, number" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a\",\"equals\":2},"
		  "{\"ptr\":\"/a\"}]," OK_FIELDS "}",
		  "detect[0].equals", "must be a string" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a\",\"in\":[]},"
		  "{\"ptr\":\"/a\"}]," OK_FIELDS "}",
		  "detect[0].in", "non-empty array" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a\",\"in\":[\"x\",3]},"
		  "{\"ptr\":\"/a\"}]," OK_FIELDS "}",
		  "detect[0].in[1]", "must be a string" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a\",\"present\":\"yes\"},{\"ptr\":\"/a\"}],"
		  OK_FIELDS "}",
		  "detect[0].present", "true or false" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"kind\":\"incident\"}", "kind",
		  "not alert, deploy" },
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS ",\"severity_map\":{\"down\":\"catastrophic\"}}",
		  "severity_map.down", "not a severity" },
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS
		  ",\"severity_map\":{\"down\":\"critical\",\"DOWN\":\"high\"}}",
		  "severity_map.DOWN", "given twice" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"severity_default\":\"loud\"}",
		  "severity_default", "not a severity" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"events\":\"alerts\"}", "events",
		  "not a JSON pointer" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"resolved\":[]}", "resolved",
		  "must not be empty" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"ignore\":[{\"ptr\":\"x\"}]}",
		  "ignore[0].ptr", "not a JSON pointer" },
		{ "bad.json", "{" HEAD OK_DETECT ",\"fields\":{\"name\":42}}", "fields.name",
		  "must be a pointer" },
		{ "bad.json", "{" HEAD OK_DETECT ",\"fields\":{\"name\":[]}}", "fields.name",
		  "must not be empty" },
		{ "bad.json", "{" HEAD OK_DETECT ",\"fields\":{\"name\":[\"/a\",\"b\"]}}",
		  "fields.name[1]", "not a JSON pointer" },
		{ "bad.json", "{" HEAD OK_DETECT ",\"fields\":{\"name\":{\"value\":\"x\"}}}",
		  "fields.name.value", "unknown member" },
		{ "bad.json", "{" HEAD OK_DETECT ",\"fields\":{\"name\":{\"const\":1}}}",
		  "fields.name.const", "must be a string" },
		{ "bad.json", "{" HEAD OK_DETECT ",\"fields\":{\"name\":{\"template\":\"plain\"}}}",
		  "fields.name.template", "no {/pointer}" },
		{ "bad.json", "{" HEAD OK_DETECT ",\"fields\":{\"name\":{\"template\":\"{/a\"}}}",
		  "fields.name.template", "unterminated" },
		{ "bad.json",
		  "{" HEAD OK_DETECT ",\"fields\":{\"name\":{\"template\":\"{/a~x}\"}}}",
		  "fields.name.template", "not a JSON pointer" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"labels\":{\"k\":7}}", "labels.k",
		  "must be a pointer" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"labels\":[]}", "labels",
		  "must be an object" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"tags\":true}", "tags",
		  "must be a pointer" },
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS ",\"fingerprint\":[]}", "fingerprint",
		  "non-empty array" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"fingerprint\":[\"/a\",\"b\"]}",
		  "fingerprint[1]", "not a JSON pointer" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"docs\":5}", "docs",
		  "must be a string" },
		{ "bad.json",
		  "{\"name\":\"other\",\"title\":\"t\"," OK_DETECT "," OK_FIELDS "}", "name",
		  "must equal the file name" },
		{ "Bad.json",
		  "{\"name\":\"Bad\",\"title\":\"t\"," OK_DETECT "," OK_FIELDS "}", "name",
		  "[a-z0-9-]+" },
		{ "bad.json", "{" HEAD "\"title\":\"\"," OK_DETECT "," OK_FIELDS "}", "title",
		  "given twice" },
		{ "bad.json",
		  "{\"name\":\"bad\",\"title\":\"\"," OK_DETECT "," OK_FIELDS "}", "title",
		  "must not be empty" },
		/* "any" */
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS
		  ",\"resolved\":[{\"any\":[{\"ptr\":\"/a\"},{\"ptr\":\"b\"}]}]}",
		  "resolved[0].any[1].ptr", "not a JSON pointer" },
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS ",\"resolved\":[{\"ptr\":\"/s\"},"
		  "{\"any\":[{\"ptr\":\"/a\"},{\"any\":[{\"ptr\":\"/b\",\"equals\":1}]}]}]}",
		  "resolved[1].any[1].any[0].equals", "must be a string" },
		{ "bad.json", "{" HEAD "\"detect\":[{\"any\":[]},{\"ptr\":\"/a\"}]," OK_FIELDS "}",
		  "detect[0].any", "must not be empty" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a\"},{\"any\":{\"ptr\":\"/a\"}}],"
		  OK_FIELDS "}",
		  "detect[1].any", "array of conditions" },
		{ "bad.json",
		  "{" HEAD "\"detect\":[{\"ptr\":\"/a\"},{\"any\":[\"/a\"]}]," OK_FIELDS "}",
		  "detect[1].any[0]", "must be an object" },
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS
		  ",\"ignore\":[{\"any\":[{\"ptr\":\"/a\"}],\"ptr\":\"/b\"}]}",
		  "ignore[0]", "no other member" },
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS
		  ",\"ignore\":[{\"any\":[{\"ptr\":\"/a\",\"any\":[{\"ptr\":\"/b\"}]}]}]}",
		  "ignore[0].any[0]", "no other member" },
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS ",\"resolved\":[{\"any\":[{\"any\":[{\"any\":["
		  "{\"any\":[{\"any\":[{\"ptr\":\"/a\"}]}]}]}]}]}]}",
		  "resolved[0].any[0].any[0].any[0].any[0].any", "nested deeper than 4" },
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS ",\"resolved\":[{\"ptr\":\"/a\",\"all\":[]}]}",
		  "resolved[0].all", "or is {\"any\": [...]}" },
		/* notes, title, ignore_reason */
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"notes\":[\"a\",\"b\"]}", "notes",
		  "must be a string" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"notes\":\"a\",\"notes\":\"b\"}",
		  "notes", "given twice" },
		{ "bad.json",
		  "{\"name\":\"bad\",\"title\":\"Acme uptime checks, status policy: "
		  "down = critical, degraded = high\"," OK_DETECT "," OK_FIELDS "}",
		  "title", "67 characters, at most 64" },
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS ",\"ignore\":[{\"ptr\":\"/t\"}],"
		  "\"ignore_reason\":\"\"}",
		  "ignore_reason", "must not be empty" },
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS ",\"ignore\":[{\"ptr\":\"/t\"}],"
		  "\"ignore_reason\":true}",
		  "ignore_reason", "must be a string" },
		{ "bad.json", "{" HEAD OK_DETECT "," OK_FIELDS ",\"ignore_reason\":\"ping\"}",
		  "ignore_reason", "without \"ignore\"" },
		{ "bad.json",
		  "{" HEAD OK_DETECT "," OK_FIELDS ",\"ignore\":[{\"ptr\":\"/t\"}],"
		  "\"ignore_reason\":\"" R121 "\"}",
		  "ignore_reason", "121 characters, at most 120" },
		/* names the registry already holds */
		{ "alertmanager.json",
		  "{\"name\":\"alertmanager\",\"title\":\"t\"," OK_DETECT "," OK_FIELDS "}", "name",
		  "a built-in driver" },
		{ "generic.json",
		  "{\"name\":\"generic\",\"title\":\"t\"," OK_DETECT "," OK_FIELDS "}",
		  "name", "a built-in driver" },
		{ "statuscake.json",
		  "{\"name\":\"statuscake\",\"title\":\"t\"," OK_DETECT "," OK_FIELDS "}", "name",
		  "a profile loaded before" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		load_bad(cases[i].file, cases[i].text, cases[i].member, cases[i].why);
}

static void test_load_whole_file_errors(void **state)
{
	char dir[] = "/tmp/alexus-profiles-XXXXXX", p1[512], p2[512], p3[512], err[512] = "";
	size_t n = 9;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* a README and a dot-file are not profiles; the good file sorts first,
	 * the bad one fails the whole load and nothing is registered */
	snprintf(p1, sizeof(p1), "%s/README.md", dir);
	snprintf(p2, sizeof(p2), "%s/a-good.json", dir);
	snprintf(p3, sizeof(p3), "%s/b-broken.json", dir);
	f = fopen(p1, "w");
	fputs("# not a profile\n", f);
	fclose(f);
	f = fopen(p2, "w");
	fputs("{\"name\":\"a-good\",\"title\":\"t\"," OK_DETECT "," OK_FIELDS "}", f);
	fclose(f);
	f = fopen(p3, "w");
	fputs("{\"name\": \"b-broken\",", f);
	fclose(f);
	assert_int_equal(ingest_profiles_load(dir, &n, err, sizeof(err)), AX_EINVAL);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "b-broken.json: not valid JSON"));
	assert_null(ingest_driver_find("a-good"));
	unlink(p3);
	f = fopen(p3, "w");
	fputs("[1, 2]", f);
	fclose(f);
	assert_int_equal(ingest_profiles_load(dir, &n, err, sizeof(err)), AX_EINVAL);
	assert_non_null(strstr(err, "b-broken.json: a profile is a JSON object"));
	unlink(p1);
	unlink(p2);
	unlink(p3);
	/* an empty directory loads nothing, successfully */
	assert_int_equal(ingest_profiles_load(dir, &n, err, sizeof(err)), AX_OK);
	assert_int_equal(n, 0);
	rmdir(dir);
	/* a missing directory is AX_ENOTFOUND and named */
	assert_int_equal(ingest_profiles_load("/nonexistent/alexus-profiles", &n, err,
					      sizeof(err)),
			 AX_ENOTFOUND);
	assert_non_null(strstr(err, "/nonexistent/alexus-profiles"));
}

/* The registry sees the profiles: after the built-ins, before generic. */
static void test_registry_order(void **state)
{
	size_t i, first = 0, last = 0, n = ingest_driver_count();

	(void)state;
	assert_true(nloaded > 0);
	assert_ptr_equal(ingest_driver_at(n - 1), &ingest_driver_generic);
	for (i = 0; i < n; i++) {
		if (is_profile(ingest_driver_at(i))) {
			if (first == 0)
				first = i;
			last = i;
		}
	}
	assert_true(first > 0); /* at least one built-in first */
	assert_int_equal(last - first + 1, nloaded);
	/* file-name order */
	for (i = first + 1; i <= last; i++)
		assert_true(strcmp(ingest_driver_at(i - 1)->name, ingest_driver_at(i)->name) < 0);
	assert_non_null(ingest_driver_find("statuscake"));
	assert_string_equal(ingest_driver_find("statuscake")->title,
			    "StatusCake uptime monitoring");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_profile),
		cmocka_unit_test(test_webhook_fixtures_not_claimed),
		cmocka_unit_test(test_registry_order),
		cmocka_unit_test(test_cond_present),
		cmocka_unit_test(test_cond_equals),
		cmocka_unit_test(test_cond_in_prefix),
		cmocka_unit_test(test_cond_type),
		cmocka_unit_test(test_cond_any),
		cmocka_unit_test(test_src_pointer),
		cmocka_unit_test(test_src_first_const_template),
		cmocka_unit_test(test_events_batch),
		cmocka_unit_test(test_events_errors),
		cmocka_unit_test(test_ignore),
		cmocka_unit_test(test_any_in_rules),
		cmocka_unit_test(test_ignore_reason),
		cmocka_unit_test(test_notes_and_title),
		cmocka_unit_test(test_tags_tag_id),
		cmocka_unit_test(test_severity_map),
		cmocka_unit_test(test_times_tags_kind),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_name_required),
		cmocka_unit_test(test_validation_errors),
		cmocka_unit_test(test_load_whole_file_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
