/* bolt_pool.c - a pool of Bolt connections shared by threads, and
 * neo4j:// routing on top of it (see bolt.h, "pool").
 *
 * One mutex guards everything the pool knows (servers, idle lists,
 * connections lent out, the routing table) and one condition variable
 * (on CLOCK_MONOTONIC, so a clock step cannot stretch a deadline) wakes
 * threads waiting for a connection to come back.  Nothing slow happens
 * under the mutex: connecting, ROUTE and closing are done with it
 * released, a slot being counted in `open` while its connection is made
 * so the size cap holds meanwhile.
 *
 * Idle connections are a stack: the most recently used is handed out
 * first (the least likely to have been dropped by a server or a load
 * balancer), so the oldest sit at the bottom and age out there.
 *
 * Routing follows the drivers' documented behaviour: the table is asked
 * of the URI's server first, then of the routers the last table named, in
 * order; it is used for its ttl; a member that fails (cannot be connected
 * to, or its connection breaks) is forgotten, and a role that becomes
 * empty makes the next call refresh the table.  Refreshes are serialised
 * by a second mutex (taken before the first, never after), so a burst of
 * callers finding the table stale sends one ROUTE, not one each.  A
 * refresh uses a connection of its own, closed after: it happens once per
 * ttl (minutes), and a router need not be a member the pool serves. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alexus/bolt.h"
#include "alexus/mem.h"

struct idle {
	struct ax_bolt *b;
	int64_t since;            /* when it came back, ms (monotonic) */
};

struct server {
	char *addr;               /* "host:port" */
	struct idle *idle;        /* a stack: [nidle-1] is the most recent */
	size_t nidle, cap;
	unsigned open;            /* idle + lent out + being connected */
	struct server *next;
};

struct lent {
	struct ax_bolt *b;
	struct server *s;
	struct lent *next;
};

struct ax_bolt_pool {
	struct ax_bolt_opts o;    /* strings are our copies */
	char seed[300];           /* the URI's "host:port" */
	unsigned size;
	uint32_t idle_ms;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct server *servers;
	struct lent *lent;
	pthread_mutex_t route_mu; /* one refresh at a time; taken before mu */
	struct ax_bolt_routes rt;
	bool have_rt;
	int64_t rt_expires;
	unsigned rr[2];           /* round robin over writers, readers */
	struct ax_bolt_pool_stats st;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_opt(const char *s)
{
	return s ? ax_xstrdup(s) : NULL;
}

struct ax_bolt_pool *ax_bolt_pool_new(const struct ax_bolt_opts *o, unsigned size,
				      uint32_t idle_ms)
{
	struct ax_bolt_pool *p = ax_xcalloc(1, sizeof(*p));
	pthread_condattr_t ca;

	p->o = *o;
	p->o.host = ax_xstrdup(o->host ? o->host : "localhost");
	p->o.user = dup_opt(o->user);
	p->o.password = dup_opt(o->password);
	p->o.user_agent = dup_opt(o->user_agent);
	p->o.database = dup_opt(o->database);
	p->o.tls_ca_file = dup_opt(o->tls_ca_file);
	p->o.tls_server_name = dup_opt(o->tls_server_name);
	if (!p->o.port)
		p->o.port = 7687;
	snprintf(p->seed, sizeof(p->seed), strchr(p->o.host, ':') ? "[%s]:%u" : "%s:%u",
		 p->o.host, (unsigned)p->o.port);
	p->size = size ? size : AX_BOLT_POOL_SIZE;
	p->idle_ms = idle_ms ? idle_ms : AX_BOLT_POOL_IDLE_MS;
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->route_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	return p;
}

void ax_bolt_pool_free(struct ax_bolt_pool *p)
{
	struct server *s, *next;
	struct lent *l, *ln;
	size_t i;

	if (!p)
		return;
	for (s = p->servers; s; s = next) {
		next = s->next;
		for (i = 0; i < s->nidle; i++)
			ax_bolt_close(s->idle[i].b);
		free(s->idle);
		free(s->addr);
		free(s);
	}
	for (l = p->lent; l; l = ln) { /* a caller's bug; the connections are theirs */
		ln = l->next;
		free(l);
	}
	ax_bolt_routes_release(&p->rt);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->route_mu);
	pthread_cond_destroy(&p->cv);
	free((char *)p->o.host);
	free((char *)p->o.user);
	free((char *)p->o.password);
	free((char *)p->o.user_agent);
	free((char *)p->o.database);
	free((char *)p->o.tls_ca_file);
	free((char *)p->o.tls_server_name);
	free(p);
}

/* Under mu. */
static struct server *server_for(struct ax_bolt_pool *p, const char *addr)
{
	struct server *s;

	for (s = p->servers; s; s = s->next)
		if (strcmp(s->addr, addr) == 0)
			return s;
	s = ax_xcalloc(1, sizeof(*s));
	s->addr = ax_xstrdup(addr);
	s->next = p->servers;
	p->servers = s;
	return s;
}

/* Under mu. */
static void lend(struct ax_bolt_pool *p, struct server *s, struct ax_bolt *b)
{
	struct lent *l = ax_xmalloc(sizeof(*l));

	l->b = b;
	l->s = s;
	l->next = p->lent;
	p->lent = l;
}

static ax_err connect_to(struct ax_bolt_pool *p, const char *addr, bool routing,
			 struct ax_bolt **out, char *err, size_t errlen)
{
	struct ax_bolt_opts o = p->o;
	char host[256], e[400];
	ax_err rc;

	if (ax_bolt_split_addr(addr, host, sizeof(host), &o.port)) {
		ax_errfmt(err, errlen, "bolt: bad server address '%s'", addr);
		return AX_EPROTO;
	}
	o.host = host;
	o.routing = routing;
	rc = ax_bolt_connect(&o, out, e, sizeof(e));
	if (rc)
		ax_errfmt(err, errlen, "%s: %s", addr, e);
	return rc;
}

/* A connection to addr: idle, new, or one given back before the deadline.
 * *cfail is set when connecting failed (the server's fault, not the
 * pool's). */
static ax_err get_from(struct ax_bolt_pool *p, const char *addr, int64_t deadline,
		       struct ax_bolt **out, bool *cfail, char *err, size_t errlen)
{
	struct timespec ts;
	struct server *s;
	ax_err rc;

	*cfail = false;
	pthread_mutex_lock(&p->mu);
	s = server_for(p, addr);
	for (;;) {
		if (s->nidle && now_ms() - s->idle[0].since >= (int64_t)p->idle_ms) {
			struct ax_bolt *old = s->idle[0].b;

			/* the oldest has aged out: close it (unlocked) and look again */
			memmove(s->idle, s->idle + 1, (s->nidle - 1) * sizeof(*s->idle));
			s->nidle--;
			s->open--;
			p->st.discarded++;
			pthread_mutex_unlock(&p->mu);
			ax_bolt_close(old);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (s->nidle) {
			*out = s->idle[--s->nidle].b;
			lend(p, s, *out);
			pthread_mutex_unlock(&p->mu);
			return AX_OK;
		}
		if (s->open < p->size) {
			s->open++;
			p->st.connects++;
			pthread_mutex_unlock(&p->mu);
			rc = connect_to(p, addr, p->o.routing, out, err, errlen);
			pthread_mutex_lock(&p->mu);
			if (rc) {
				s->open--;
				pthread_cond_broadcast(&p->cv);
				*cfail = true;
			} else {
				lend(p, s, *out);
			}
			pthread_mutex_unlock(&p->mu);
			return rc;
		}
		if (now_ms() >= deadline) {
			pthread_mutex_unlock(&p->mu);
			ax_errfmt(err, errlen, "bolt: all %u connections to %s in use", p->size,
				  addr);
			return AX_ETIMEDOUT;
		}
		ts.tv_sec = deadline / 1000;
		ts.tv_nsec = (long)(deadline % 1000) * 1000000;
		rc = (ax_err)pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		(void)rc; /* ETIMEDOUT or a wake-up: the loop looks again either way */
	}
}

/* Under mu: forget addr in every role (it failed). */
static void forget(struct ax_bolt_pool *p, const char *addr)
{
	char **lists[3] = { p->rt.writers, p->rt.readers, p->rt.routers };
	size_t *ns[3] = { &p->rt.nwriters, &p->rt.nreaders, &p->rt.nrouters };
	size_t i, j;

	if (!p->have_rt)
		return;
	for (i = 0; i < 2; i++) { /* routers stay: they are tried in order anyway */
		for (j = 0; j < *ns[i];) {
			if (strcmp(lists[i][j], addr) == 0) {
				free(lists[i][j]);
				memmove(lists[i] + j, lists[i] + j + 1,
					(*ns[i] - j - 1) * sizeof(char *));
				(*ns[i])--;
			} else {
				j++;
			}
		}
	}
}

static char **copy_list(char *const *l, size_t n)
{
	char **c = ax_xcalloc(n ? n : 1, sizeof(*c));
	size_t i;

	for (i = 0; i < n; i++)
		c[i] = ax_xstrdup(l[i]);
	return c;
}

static void free_list(char **l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

/* Fetch a new routing table unless one fresh enough for mode arrived
 * while this thread waited for route_mu. */
static ax_err refresh(struct ax_bolt_pool *p, enum ax_bolt_access mode, char *err, size_t errlen)
{
	struct ax_bolt_routes rt;
	char **routers, e[400] = "no router answered";
	size_t nrouters, i;
	ax_err rc = AX_EIO;
	bool fresh;

	pthread_mutex_lock(&p->route_mu);
	pthread_mutex_lock(&p->mu);
	fresh = p->have_rt && now_ms() < p->rt_expires &&
		(mode == AX_BOLT_WRITE ? p->rt.nwriters : p->rt.nreaders) > 0;
	/* the URI's server first, then the table's routers in order */
	nrouters = 1 + (p->have_rt ? p->rt.nrouters : 0);
	routers = ax_xcalloc(nrouters, sizeof(*routers));
	routers[0] = ax_xstrdup(p->seed);
	for (i = 1; i < nrouters; i++)
		routers[i] = ax_xstrdup(p->rt.routers[i - 1]);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; !fresh && i < nrouters; i++) {
		struct ax_bolt *b = NULL;

		if (i > 0 && strcmp(routers[i], p->seed) == 0)
			continue; /* tried first */
		rc = connect_to(p, routers[i], true, &b, e, sizeof(e));
		if (!rc) {
			char re[300];

			rc = ax_bolt_route(b, p->o.database, &rt, re, sizeof(re));
			if (rc)
				snprintf(e, sizeof(e), "%s: %s", routers[i], re);
			ax_bolt_close(b);
		}
		if (rc)
			continue;
		pthread_mutex_lock(&p->mu);
		ax_bolt_routes_release(&p->rt);
		p->rt = rt;
		p->have_rt = true;
		p->rt_expires = now_ms() + (rt.ttl > 0 ? rt.ttl * 1000 : 0);
		p->st.refreshes++;
		pthread_mutex_unlock(&p->mu);
		break;
	}
	free_list(routers, nrouters);
	pthread_mutex_unlock(&p->route_mu);
	if (fresh)
		return AX_OK;
	if (rc)
		ax_errfmt(err, errlen, "bolt: no routing table (%s)", e);
	return rc;
}

ax_err ax_bolt_pool_get(struct ax_bolt_pool *p, enum ax_bolt_access mode, uint32_t wait_ms,
			struct ax_bolt **out, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + (wait_ms ? wait_ms : AX_BOLT_POOL_WAIT_MS);
	bool refreshed = false, cfail;
	ax_err rc;

	*out = NULL;
	if (!p->o.routing)
		return get_from(p, p->seed, deadline, out, &cfail, err, errlen);
	for (;;) {
		char addr[300] = "";
		char **list;
		size_t n;

		pthread_mutex_lock(&p->mu);
		list = mode == AX_BOLT_WRITE ? p->rt.writers : p->rt.readers;
		n = mode == AX_BOLT_WRITE ? p->rt.nwriters : p->rt.nreaders;
		if (p->have_rt && n > 0 && (refreshed || now_ms() < p->rt_expires))
			snprintf(addr, sizeof(addr), "%s", list[p->rr[mode]++ % n]);
		pthread_mutex_unlock(&p->mu);
		if (!addr[0]) {
			if (refreshed) {
				ax_errfmt(err, errlen, "bolt: the routing table names no %s",
					  mode == AX_BOLT_WRITE ? "writer" : "reader");
				return AX_EIO;
			}
			rc = refresh(p, mode, err, errlen);
			if (rc)
				return rc;
			refreshed = true;
			continue;
		}
		rc = get_from(p, addr, deadline, out, &cfail, err, errlen);
		if (rc == AX_OK || !cfail || rc == AX_EAUTH)
			return rc;
		/* that member is gone: forget it and try another (each pass
		 * forgets one, so this ends) */
		pthread_mutex_lock(&p->mu);
		forget(p, addr);
		pthread_mutex_unlock(&p->mu);
	}
}

void ax_bolt_pool_put(struct ax_bolt_pool *p, struct ax_bolt *b)
{
	struct lent **lp, *l = NULL;
	struct server *s;
	bool bad;

	if (!b)
		return;
	pthread_mutex_lock(&p->mu);
	for (lp = &p->lent; *lp; lp = &(*lp)->next) {
		if ((*lp)->b == b) {
			l = *lp;
			*lp = l->next;
			break;
		}
	}
	if (!l) { /* not ours: close it rather than pool a stranger */
		pthread_mutex_unlock(&p->mu);
		ax_bolt_close(b);
		return;
	}
	s = l->s;
	free(l);
	bad = ax_bolt_broken(b) || ax_bolt_pending(b) > 0;
	if (bad) {
		s->open--;
		p->st.discarded++;
		if (ax_bolt_broken(b))
			forget(p, s->addr);
	} else {
		if (s->nidle == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 4;
			s->idle = ax_xrealloc(s->idle, s->cap * sizeof(*s->idle));
		}
		s->idle[s->nidle].b = b;
		s->idle[s->nidle].since = now_ms();
		s->nidle++;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (bad)
		ax_bolt_close(b);
}

void ax_bolt_pool_stats(struct ax_bolt_pool *p, struct ax_bolt_pool_stats *st)
{
	struct server *s;

	pthread_mutex_lock(&p->mu);
	*st = p->st;
	st->open = st->idle = 0;
	for (s = p->servers; s; s = s->next) {
		st->open += s->open;
		st->idle += (unsigned)s->nidle;
	}
	pthread_mutex_unlock(&p->mu);
}

ax_err ax_bolt_pool_routes(struct ax_bolt_pool *p, struct ax_bolt_routes *rt)
{
	memset(rt, 0, sizeof(*rt));
	pthread_mutex_lock(&p->mu);
	if (!p->have_rt) {
		pthread_mutex_unlock(&p->mu);
		return AX_ENOTFOUND;
	}
	rt->ttl = p->rt.ttl;
	rt->db = ax_xstrdup(p->rt.db ? p->rt.db : "");
	rt->writers = copy_list(p->rt.writers, p->rt.nwriters);
	rt->readers = copy_list(p->rt.readers, p->rt.nreaders);
	rt->routers = copy_list(p->rt.routers, p->rt.nrouters);
	rt->nwriters = p->rt.nwriters;
	rt->nreaders = p->rt.nreaders;
	rt->nrouters = p->rt.nrouters;
	pthread_mutex_unlock(&p->mu);
	return AX_OK;
}
