/* test_bolt_pool.c - the Bolt connection pool and neo4j:// routing
 * (common/bolt_pool.c) against scripted peers (tests/lib/boltpeer.c) on
 * loopback: a router peer answering ROUTE with a table that names writer
 * and reader peers, each checking every message its client sends.  The
 * server name a peer gives in HELLO ("W", "R1"...) is how a test knows
 * which peer a pooled connection reached.
 *
 * The scripts are inline: their messages are the ones tests/js/scripts
 * (proven with the official JavaScript driver) already use: HELLO with a
 * routing context, LOGON, ROUTE and its table, RUN and PULL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "alexus/bolt.h"
#include "alexus/mem.h"
#include "boltpeer.h"

static char err[512];

/* HELLO (any fields) and LOGON, the server calling itself name. */
static void hello(char *s, size_t n, const char *name)
{
	snprintf(s, n,
		 "!: BOLT 5.4\n"
		 "C: HELLO {\"user_agent\": {\"$any\": 0}}\n"
		 "S: SUCCESS {\"server\": \"%s\", \"connection_id\": \"bolt-1\"}\n"
		 "C: LOGON {\"scheme\": \"basic\", \"principal\": \"neo4j\", "
		 "\"credentials\": \"secret\"}\n"
		 "S: SUCCESS {}\n",
		 name);
}

/* One query "RETURN $n AS n" answered with n; mode "r" expected when read. */
static void add_query(char *s, size_t n, int v, bool read)
{
	size_t l = strlen(s);

	snprintf(s + l, n - l,
		 "C: RUN \"RETURN $n AS n\" {\"n\": %d} %s\n"
		 "C: PULL {\"n\": -1}\n"
		 "S: SUCCESS {\"fields\": [\"n\"]}\n"
		 "S: RECORD [%d]\n"
		 "S: SUCCESS {\"bookmark\": \"FB:%d\"}\n",
		 v, read ? "{\"mode\": \"r\"}" : "{}", v, v);
}

/* A router: ROUTE answered with this table. */
static void router(char *s, size_t n, int ttl, const char *writers, const char *readers,
		   const char *routers)
{
	snprintf(s, n,
		 "!: BOLT 5.4\n"
		 "C: HELLO {\"user_agent\": {\"$any\": 0}, "
		 "\"routing\": {\"address\": {\"$any\": 0}}}\n"
		 "S: SUCCESS {\"server\": \"router\"}\n"
		 "C: LOGON {\"scheme\": \"basic\", \"principal\": \"neo4j\", "
		 "\"credentials\": \"secret\"}\n"
		 "S: SUCCESS {}\n"
		 "C: ROUTE {\"address\": {\"$any\": 0}} [] {\"db\": \"graph\"}\n"
		 "S: SUCCESS {\"rt\": {\"ttl\": %d, \"db\": \"graph\", \"servers\": ["
		 "{\"addresses\": [%s], \"role\": \"WRITE\"}, "
		 "{\"addresses\": [%s], \"role\": \"READ\"}, "
		 "{\"addresses\": [%s], \"role\": \"ROUTE\"}]}}\n",
		 ttl, writers, readers, routers);
}

static struct boltpeer *peer(const char *script)
{
	char e[256] = "";
	struct boltpeer *p = bp_start(script, e, sizeof(e));

	if (!p)
		fail_msg("peer: %s", e);
	return p;
}

static struct boltpeer *peer_also(const struct boltpeer *first, const char *script)
{
	char e[256] = "";
	struct boltpeer *p = bp_start_also(first, script, e, sizeof(e));

	if (!p)
		fail_msg("peer: %s", e);
	return p;
}

static void finish_at(struct boltpeer *p, int line)
{
	char why[512] = "";

	if (bp_finish(p, 5000, why, sizeof(why)))
		fail_msg("peer finished at line %d: %s", line, why);
}
#define finish(p) finish_at(p, __LINE__)

static struct ax_bolt_opts opts_for(int port, bool routing)
{
	struct ax_bolt_opts o = { .host = "127.0.0.1", .port = (uint16_t)port, .user = "neo4j",
				  .password = "secret", .connect_timeout_ms = 3000,
				  .request_timeout_ms = 3000, .routing = routing };

	if (routing)
		o.database = "graph";
	return o;
}

/* A port nobody listens on (bound, then closed). */
static int dead_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int take_n(const struct ax_ps_value *fields, const struct ax_ps_value *values, void *arg)
{
	(void)fields;
	*(int64_t *)arg = values->u.items[0].u.i;
	return 0;
}

/* "RETURN $n AS n" with n = v: the value the peer answered, or -1. */
static int64_t query(struct ax_bolt *b, int v, bool read)
{
	struct ax_bolt_tx tx = { .read = read };
	struct ax_ps_buf params;
	int64_t got = -1;
	ax_err rc;

	ax_ps_buf_init(&params);
	ax_ps_put_dict(&params, 1);
	ax_ps_put_cstr(&params, "n");
	ax_ps_put_int(&params, v);
	rc = ax_bolt_query(b, "RETURN $n AS n", &params, &tx, 0, take_n, &got, NULL, err,
			   sizeof(err));
	ax_ps_buf_release(&params);
	return rc == AX_OK ? got : -1;
}

static struct ax_bolt *get(struct ax_bolt_pool *p, enum ax_bolt_access mode)
{
	struct ax_bolt *b = NULL;

	if (ax_bolt_pool_get(p, mode, 3000, &b, err, sizeof(err)) != AX_OK)
		fail_msg("pool get: %s", err);
	return b;
}

/* ------------------------------------------------------------------ pool */

/* A connection given back is the one handed out next; GOODBYE at free. */
static void test_reuse(void **state)
{
	char s[4096];
	struct ax_bolt_pool_stats st;
	struct ax_bolt_opts o;
	struct ax_bolt_pool *p;
	struct boltpeer *a;
	struct ax_bolt *b1, *b2;

	(void)state;
	hello(s, sizeof(s), "A");
	add_query(s, sizeof(s), 1, false);
	add_query(s, sizeof(s), 2, false);
	a = peer(s);
	o = opts_for(bp_port(a), false);
	p = ax_bolt_pool_new(&o, 2, 0);
	b1 = get(p, AX_BOLT_WRITE);
	assert_string_equal(ax_bolt_server(b1), "A");
	assert_int_equal(query(b1, 1, false), 1);
	ax_bolt_pool_put(p, b1);
	ax_bolt_pool_stats(p, &st);
	assert_int_equal(st.open, 1);
	assert_int_equal(st.idle, 1);
	b2 = get(p, AX_BOLT_READ); /* no routing: the mode does not matter */
	assert_ptr_equal(b2, b1);
	assert_int_equal(query(b2, 2, false), 2);
	ax_bolt_pool_put(p, b2);
	ax_bolt_pool_stats(p, &st);
	assert_int_equal(st.connects, 1);
	assert_int_equal(st.discarded, 0);
	ax_bolt_pool_free(p);
	finish(a);
}

struct later {
	struct ax_bolt_pool *p;
	struct ax_bolt *b;
	int ms;
};

static void *put_later(void *arg)
{
	struct later *l = arg;

	usleep((useconds_t)l->ms * 1000);
	ax_bolt_pool_put(l->p, l->b);
	return NULL;
}

/* At the size cap a checkout waits for a connection to come back, until
 * its deadline. */
static void test_cap_and_deadline(void **state)
{
	char s[4096];
	struct ax_bolt_opts o;
	struct ax_bolt_pool *p;
	struct boltpeer *a;
	struct ax_bolt *b1, *b2 = NULL;
	struct later l;
	pthread_t thr;
	int64_t t0;

	(void)state;
	hello(s, sizeof(s), "A");
	a = peer(s);
	o = opts_for(bp_port(a), false);
	p = ax_bolt_pool_new(&o, 1, 0);
	b1 = get(p, AX_BOLT_WRITE);
	t0 = now_ms();
	assert_int_equal(ax_bolt_pool_get(p, AX_BOLT_WRITE, 150, &b2, err, sizeof(err)),
			 AX_ETIMEDOUT);
	assert_true(now_ms() - t0 >= 150);
	assert_null(b2);
	assert_non_null(strstr(err, "all 1 connections to 127.0.0.1:"));
	/* another thread gives it back after 200 ms: the waiter gets it */
	l.p = p;
	l.b = b1;
	l.ms = 200;
	t0 = now_ms();
	assert_int_equal(pthread_create(&thr, NULL, put_later, &l), 0);
	assert_int_equal(ax_bolt_pool_get(p, AX_BOLT_WRITE, 3000, &b2, err, sizeof(err)), AX_OK);
	assert_true(now_ms() - t0 >= 190);
	assert_ptr_equal(b2, b1);
	pthread_join(thr, NULL);
	ax_bolt_pool_put(p, b2);
	ax_bolt_pool_free(p);
	finish(a);
}

/* A connection that broke is closed at put, never handed out again. */
static void test_broken_discarded(void **state)
{
	char s[4096];
	struct ax_bolt_pool_stats st;
	struct ax_bolt_opts o;
	struct ax_bolt_pool *p;
	struct boltpeer *a, *b;
	struct ax_bolt *c1, *c2;

	(void)state;
	hello(s, sizeof(s), "A");
	strcat(s, "C: RUN \"RETURN $n AS n\" {\"n\": 1} {}\nC: PULL {\"n\": -1}\nS: <CLOSE>\n");
	a = peer(s);
	o = opts_for(bp_port(a), false);
	p = ax_bolt_pool_new(&o, 1, 0);
	c1 = get(p, AX_BOLT_WRITE);
	assert_string_equal(ax_bolt_server(c1), "A");
	assert_int_equal(query(c1, 1, false), -1);
	assert_true(ax_bolt_broken(c1));
	ax_bolt_pool_put(p, c1);
	ax_bolt_pool_stats(p, &st);
	assert_int_equal(st.open, 0);
	assert_int_equal(st.discarded, 1);
	hello(s, sizeof(s), "B");
	add_query(s, sizeof(s), 2, false);
	b = peer_also(a, s); /* on a's port, for the next connection */
	finish(a);
	c2 = get(p, AX_BOLT_WRITE);
	assert_string_equal(ax_bolt_server(c2), "B");
	assert_int_equal(query(c2, 2, false), 2);
	ax_bolt_pool_put(p, c2);
	ax_bolt_pool_free(p);
	finish(b);
}

/* An idle connection older than the pool's idle age is closed, not lent. */
static void test_idle_age(void **state)
{
	char s[4096];
	struct ax_bolt_pool_stats st;
	struct ax_bolt_opts o;
	struct ax_bolt_pool *p;
	struct boltpeer *a, *b;
	struct ax_bolt *c;

	(void)state;
	hello(s, sizeof(s), "A");
	a = peer(s);
	o = opts_for(bp_port(a), false);
	p = ax_bolt_pool_new(&o, 2, 100);
	c = get(p, AX_BOLT_WRITE);
	ax_bolt_pool_put(p, c);
	c = get(p, AX_BOLT_WRITE); /* young: the same one */
	assert_string_equal(ax_bolt_server(c), "A");
	ax_bolt_pool_put(p, c);
	usleep(200 * 1000);
	hello(s, sizeof(s), "B");
	b = peer_also(a, s);
	c = get(p, AX_BOLT_WRITE);
	assert_string_equal(ax_bolt_server(c), "B");
	ax_bolt_pool_stats(p, &st);
	assert_int_equal(st.connects, 2);
	assert_int_equal(st.discarded, 1);
	assert_int_equal(st.open, 1);
	finish(a); /* it saw GOODBYE and the close */
	ax_bolt_pool_put(p, c);
	ax_bolt_pool_free(p);
	finish(b);
}

struct worker {
	struct ax_bolt_pool *p;
	int base, fails;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < 5; i++) {
		struct ax_bolt *b = NULL;

		if (ax_bolt_pool_get(w->p, AX_BOLT_WRITE, 5000, &b, NULL, 0) != AX_OK) {
			w->fails++;
			continue;
		}
		if (query(b, 7, false) != 7)
			w->fails++;
		ax_bolt_pool_put(w->p, b);
	}
	return NULL;
}

/* Four threads, one connection: the peer sees 20 whole queries one after
 * another, never two threads' messages interleaved. */
static void test_threads_share(void **state)
{
	char *s = ax_xmalloc(65536);
	struct worker w[4];
	pthread_t thr[4];
	struct ax_bolt_pool_stats st;
	struct ax_bolt_opts o;
	struct ax_bolt_pool *p;
	struct boltpeer *a;
	int i;

	(void)state;
	hello(s, 65536, "A");
	for (i = 0; i < 20; i++)
		add_query(s, 65536, 7, false);
	a = peer(s);
	free(s);
	o = opts_for(bp_port(a), false);
	p = ax_bolt_pool_new(&o, 1, 0);
	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ .p = p, .base = i };
		assert_int_equal(pthread_create(&thr[i], NULL, work, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(thr[i], NULL);
		assert_int_equal(w[i].fails, 0);
	}
	ax_bolt_pool_stats(p, &st);
	assert_int_equal(st.connects, 1);
	ax_bolt_pool_free(p);
	finish(a);
}

/* --------------------------------------------------------------- routing */

static char *addr_of(char *buf, size_t n, int port)
{
	snprintf(buf, n, "\"127.0.0.1:%d\"", port);
	return buf;
}

/* Writes to the writer, reads to the reader (serving read.script, which
 * the driver's read session is run against), the table kept for its ttl. */
static void test_route_roles(void **state)
{
	char s[4096], wa[40], ra[40];
	struct ax_bolt_routes rt;
	struct ax_bolt_pool_stats st;
	struct ax_bolt_opts o;
	struct ax_bolt_pool *p;
	struct boltpeer *r, *w, *rd;
	struct ax_bolt *cw, *cr;

	(void)state;
	hello(s, sizeof(s), "W");
	add_query(s, sizeof(s), 1, false);
	w = peer(s);
	{ /* the reader: the script the JavaScript driver's read session passes */
		char e[256] = "";

		rd = bp_start_file("tests/js/scripts/read.script", e, sizeof(e));
		if (!rd)
			fail_msg("peer: %s", e);
	}
	router(s, sizeof(s), 300, addr_of(wa, sizeof(wa), bp_port(w)),
	       addr_of(ra, sizeof(ra), bp_port(rd)), "\"127.0.0.1:1\"");
	r = peer(s);
	o = opts_for(bp_port(r), true);
	p = ax_bolt_pool_new(&o, 2, 0);
	assert_int_equal(ax_bolt_pool_routes(p, &rt), AX_ENOTFOUND);
	cw = get(p, AX_BOLT_WRITE);
	assert_string_equal(ax_bolt_server(cw), "W");
	cr = get(p, AX_BOLT_READ);
	snprintf(s, sizeof(s), "127.0.0.1:%d", bp_port(rd));
	assert_string_equal(ax_bolt_addr(cr), s);
	assert_int_equal(query(cw, 1, false), 1);
	{
		struct ax_bolt_tx tx = { .read = true };
		struct ax_ps_buf params;
		int64_t got = -1;

		ax_ps_buf_init(&params);
		ax_ps_put_dict(&params, 1);
		ax_ps_put_cstr(&params, "n");
		ax_ps_put_int(&params, 2);
		assert_int_equal(ax_bolt_query(cr, "RETURN $n AS n", &params, &tx, 1000, take_n,
					       &got, NULL, err, sizeof(err)),
				 AX_OK);
		ax_ps_buf_release(&params);
		assert_int_equal(got, 2);
		assert_string_equal(ax_bolt_bookmark(cr), "FB:read-2");
	}
	ax_bolt_pool_put(p, cw);
	ax_bolt_pool_put(p, cr);
	assert_int_equal(ax_bolt_pool_routes(p, &rt), AX_OK);
	assert_int_equal(rt.ttl, 300);
	assert_string_equal(rt.db, "graph");
	assert_int_equal(rt.nwriters, 1);
	assert_int_equal(rt.nreaders, 1);
	assert_int_equal(rt.nrouters, 1);
	assert_string_equal(rt.routers[0], "127.0.0.1:1");
	ax_bolt_routes_release(&rt);
	ax_bolt_pool_stats(p, &st);
	assert_int_equal(st.refreshes, 1); /* one ROUTE for both: the ttl holds */
	assert_int_equal(st.connects, 2);  /* the writer's and the reader's */
	finish(r);
	ax_bolt_pool_free(p);
	finish(w);
	finish(rd);
}

/* A reader that cannot be reached is dropped and the next one used; when
 * the last reader's connection breaks, the next read refreshes the table
 * (the router asked again, on a second connection). */
static void test_route_failover(void **state)
{
	char s[4096], wa[40], ra[80], r2a[40], dead[40];
	struct ax_bolt_routes rt;
	struct ax_bolt_pool_stats st;
	struct ax_bolt_opts o;
	struct ax_bolt_pool *p;
	struct boltpeer *r, *r2, *rd, *rd2;
	struct ax_bolt *c;

	(void)state;
	snprintf(wa, sizeof(wa), "\"127.0.0.1:2\""); /* never used: reads only */
	hello(s, sizeof(s), "R1");
	strcat(s, "C: RUN \"RETURN $n AS n\" {\"n\": 3} {\"mode\": \"r\"}\nC: PULL {\"n\": -1}\n"
		  "S: <CLOSE>\n");
	rd = peer(s);
	hello(s, sizeof(s), "R2");
	add_query(s, sizeof(s), 4, true);
	rd2 = peer(s);
	addr_of(dead, sizeof(dead), dead_port());
	snprintf(ra, sizeof(ra), "%s, \"127.0.0.1:%d\"", dead, bp_port(rd));
	router(s, sizeof(s), 300, wa, ra, "\"127.0.0.1:1\"");
	r = peer(s);
	o = opts_for(bp_port(r), true);
	p = ax_bolt_pool_new(&o, 2, 0);
	c = get(p, AX_BOLT_READ);
	assert_string_equal(ax_bolt_server(c), "R1"); /* after the dead one */
	assert_int_equal(ax_bolt_pool_routes(p, &rt), AX_OK);
	assert_int_equal(rt.nreaders, 1);
	snprintf(s, sizeof(s), "127.0.0.1:%d", bp_port(rd));
	assert_string_equal(rt.readers[0], s);
	ax_bolt_routes_release(&rt);

	/* the router's next connection gets a table naming R2 */
	router(s, sizeof(s), 300, wa, addr_of(r2a, sizeof(r2a), bp_port(rd2)), "\"127.0.0.1:1\"");
	r2 = peer_also(r, s);
	finish(r);
	/* R1 breaks mid-query: dropped, so no reader is left */
	assert_int_equal(query(c, 3, true), -1);
	ax_bolt_pool_put(p, c);
	assert_int_equal(ax_bolt_pool_routes(p, &rt), AX_OK);
	assert_int_equal(rt.nreaders, 0);
	assert_int_equal(rt.nwriters, 1);
	ax_bolt_routes_release(&rt);
	finish(rd);
	c = get(p, AX_BOLT_READ);
	assert_string_equal(ax_bolt_server(c), "R2");
	assert_int_equal(query(c, 4, true), 4);
	ax_bolt_pool_put(p, c);
	ax_bolt_pool_stats(p, &st);
	assert_int_equal(st.refreshes, 2);
	assert_int_equal(st.discarded, 1);
	finish(r2);
	ax_bolt_pool_free(p);
	finish(rd2);
}

/* After the ttl the table is asked for again: the URI's server first,
 * then the routers the table named, in order (a dead one, then R2). */
static void test_route_ttl_and_routers(void **state)
{
	char s[4096], wa[40], rts[120], dead[40];
	struct ax_bolt_routes rt;
	struct ax_bolt_pool_stats st;
	struct ax_bolt_opts o;
	struct ax_bolt_pool *p;
	struct boltpeer *seed, *r2, *w;
	struct ax_bolt *c, *c2;

	(void)state;
	hello(s, sizeof(s), "W");
	add_query(s, sizeof(s), 5, false);
	add_query(s, sizeof(s), 6, false);
	w = peer(s);
	addr_of(wa, sizeof(wa), bp_port(w));
	/* R2: a second router, its table good for 300 s */
	router(s, sizeof(s), 300, wa, "", "\"127.0.0.1:1\"");
	r2 = peer(s);
	addr_of(dead, sizeof(dead), dead_port());
	snprintf(rts, sizeof(rts), "%s, \"127.0.0.1:%d\"", dead, bp_port(r2));
	router(s, sizeof(s), 0, wa, "", rts); /* ttl 0: stale at once */
	seed = peer(s);
	o = opts_for(bp_port(seed), true);
	p = ax_bolt_pool_new(&o, 2, 0);
	c = get(p, AX_BOLT_WRITE);
	assert_string_equal(ax_bolt_server(c), "W");
	assert_int_equal(query(c, 5, false), 5);
	ax_bolt_pool_put(p, c);
	finish(seed); /* the URI's server is gone now */
	c2 = get(p, AX_BOLT_WRITE);
	assert_ptr_equal(c2, c); /* same writer, its idle connection */
	assert_int_equal(query(c2, 6, false), 6);
	ax_bolt_pool_put(p, c2);
	assert_int_equal(ax_bolt_pool_routes(p, &rt), AX_OK);
	assert_int_equal(rt.ttl, 300); /* R2's table */
	assert_int_equal(rt.nreaders, 0);
	ax_bolt_routes_release(&rt);
	ax_bolt_pool_stats(p, &st);
	assert_int_equal(st.refreshes, 2);
	/* no reader in the table, even after a refresh: an error, not a hang */
	c = NULL;
	assert_int_equal(ax_bolt_pool_get(p, AX_BOLT_READ, 1000, &c, err, sizeof(err)), AX_EIO);
	assert_null(c);
	/* (the table is refreshed first: its one router is not there) */
	assert_non_null(strstr(err, "no routing table"));
	finish(r2);
	ax_bolt_pool_free(p);
	finish(w);
}

/* No router answers: the error says so. */
static void test_route_no_router(void **state)
{
	struct ax_bolt_opts o = opts_for(dead_port(), true);
	struct ax_bolt_pool *p = ax_bolt_pool_new(&o, 1, 0);
	struct ax_bolt *c = NULL;

	(void)state;
	assert_int_equal(ax_bolt_pool_get(p, AX_BOLT_WRITE, 1000, &c, err, sizeof(err)), AX_EIO);
	assert_null(c);
	assert_non_null(strstr(err, "no routing table"));
	ax_bolt_pool_free(p);
}

static void test_split_addr(void **state)
{
	char h[64];
	uint16_t port = 0;

	(void)state;
	assert_int_equal(ax_bolt_split_addr("db1.example:7688", h, sizeof(h), &port), AX_OK);
	assert_string_equal(h, "db1.example");
	assert_int_equal(port, 7688);
	assert_int_equal(ax_bolt_split_addr("[::1]:7687", h, sizeof(h), &port), AX_OK);
	assert_string_equal(h, "::1");
	assert_int_equal(port, 7687);
	assert_int_equal(ax_bolt_split_addr("::1:7687", h, sizeof(h), &port), AX_EINVAL);
	assert_int_equal(ax_bolt_split_addr("db1", h, sizeof(h), &port), AX_EINVAL);
	assert_int_equal(ax_bolt_split_addr("db1:0", h, sizeof(h), &port), AX_EINVAL);
	assert_int_equal(ax_bolt_split_addr("db1:65536", h, sizeof(h), &port), AX_EINVAL);
	assert_int_equal(ax_bolt_split_addr("db1:-1", h, sizeof(h), &port), AX_EINVAL);
	assert_int_equal(ax_bolt_split_addr(":7687", h, sizeof(h), &port), AX_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_cap_and_deadline),
		cmocka_unit_test(test_broken_discarded),
		cmocka_unit_test(test_idle_age),
		cmocka_unit_test(test_threads_share),
		cmocka_unit_test(test_route_roles),
		cmocka_unit_test(test_route_failover),
		cmocka_unit_test(test_route_ttl_and_routers),
		cmocka_unit_test(test_route_no_router),
		cmocka_unit_test(test_split_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
