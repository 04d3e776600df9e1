#include "runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/clock.h"
#include "core/strutil.h"
#include "runtime/upgrade.h"

#define FD_RESERVE 64 /* descriptors kept for logs, checks, epoll, signals */
#define DEFAULT_MAXCONN 100 /* HAProxy's floor when the fd limit allows less */
#define MAX_DEFAULT_THREADS 64 /* HAProxy's limit without thread groups */

int runtime_default_threads(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	n = CPU_COUNT(&set);
	return n < 1 ? 1 : n > MAX_DEFAULT_THREADS ? MAX_DEFAULT_THREADS : n;
}

void runtime_fd_budget(long fds, int cfg_maxconn, int cfg_maxpipes, int *maxconn, int *maxpipes)
{
	long mc = cfg_maxconn, mp, left;

	if (!mc) {
		if (cfg_maxpipes && 2L * cfg_maxpipes < fds)
			mc = (fds - 2L * cfg_maxpipes) / 2;  /* 2 per connection */
		else
			mc = 2 * fds / 5;  /* 2 per connection + 2 per pipe, maxconn/4 pipes */
		mc = mc < DEFAULT_MAXCONN ? DEFAULT_MAXCONN : mc > 1000000 ? 1000000 : mc;
	}
	mp = cfg_maxpipes ? cfg_maxpipes : mc / 4;
	/* pipes only ever get what the connections leave: a client is never
	 * refused because splice() pipes took its descriptors */
	left = (fds - 2 * mc) / 2;
	if (mp > left)
		mp = left > 0 ? left : 0;
	*maxconn = (int)mc;
	*maxpipes = (int)mp;
}

void runtime_limits(const struct cfg *c, int nfd_extra, int *maxconn, int *maxpipes)
{
	struct rlimit rl;
	long limit;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	limit = rl.rlim_cur == RLIM_INFINITY ? 1048576 : (long)rl.rlim_cur;
	if (c->g.maxconn) {
		long pipes = c->g.maxpipes ? c->g.maxpipes : c->g.maxconn / 4;
		long need = 2L * c->g.maxconn + 2 * pipes + FD_RESERVE + nfd_extra;
		if (need > limit) {
			struct rlimit want = { (rlim_t)need, (rlim_t)need };
			if (setrlimit(RLIMIT_NOFILE, &want) == 0)
				limit = need;
			else if (2L * c->g.maxconn + FD_RESERVE + nfd_extra > limit)
				WARN("FD limit (%ld) too low for maxconn=%d; raise 'ulimit -n' to %ld or more to avoid trouble",
				     limit, c->g.maxconn, need);
		}
	}
	runtime_fd_budget(limit - FD_RESERVE - nfd_extra, c->g.maxconn, c->g.maxpipes, maxconn, maxpipes);
}

/* One listening socket of fe at ss for a worker: one received from the
 * process being replaced (-x) when it has one for that address, else a new
 * one; when the address cannot be bound again beside the inherited ones
 * (sockets without SO_REUSEPORT, as HAProxy may pass), the worker shares
 * the first inherited one. A unix socket is one file: the first worker
 * binds it, the others share it. Returns the fd or -1 with err filled. */
static int socket_for(struct runtime *rt, const struct frontend *fe, const struct cfg_bind *b,
		      const struct sockaddr_storage *ss, int *shared, char *err, size_t errlen)
{
	int fd = upgrade_take(rt->inherited, rt->ninherited, ss);

	if (fd >= 0) {
		if (*shared < 0)
			*shared = fd;
		return fd;
	}
	if (*shared >= 0 && ss->ss_family == AF_UNIX) /* one socket file: the workers share it */
		return fcntl(*shared, F_DUPFD_CLOEXEC, 0);
	fd = listener_socket(fe, b, ss, err, errlen);
	if (fd < 0 && *shared >= 0)
		fd = dup(*shared);
	else if (fd >= 0 && ss->ss_family == AF_UNIX)
		*shared = fd;
	return fd;
}

/* fd@N: the one socket the parent process opened, shared by every worker
 * (the first takes N itself, each other a dup): each thread's epoll
 * reports a new client and the first accept() takes it. N stays a
 * listener's own descriptor, so a reload reads the same socket at fd@N. */
static int open_inherited(struct runtime *rt, struct frontend *fe, const struct cfg_bind *b,
			  const struct addr_spec *a, char *err, size_t errlen)
{
	char e[256];

	if (listener_inherit(fe, b, a->fd, e, sizeof(e))) {
		snprintf(err, errlen, "%s:%d: Starting frontend %s: %s", b->file, b->line, fe->name, e);
		return -1;
	}
	for (int t = 0; t < rt->nw; t++) {
		int fd = t ? fcntl(a->fd, F_DUPFD_CLOEXEC, 0) : a->fd;
		if (fd < 0 || listener_adopt(&rt->ws[t], fe, b, fd, &a->ss)) {
			snprintf(err, errlen, "%s:%d: Starting frontend %s: %s", b->file, b->line, fe->name,
				 fd < 0 ? strerror(errno) : "out of memory");
			if (fd > 0 && t)
				close(fd);
			return -1;
		}
	}
	return 0;
}

/* Each worker's listening sockets for one address of a bind line (each
 * port of a range): its own socket per address (SO_REUSEPORT: the kernel
 * spreads new connections between the threads). */
static int open_address(struct runtime *rt, struct frontend *fe, const struct cfg_bind *b,
			const struct addr_spec *a, char *err, size_t errlen)
{
	for (int port = a->port_lo; port <= a->port_hi; port++) {
		struct sockaddr_storage ss = a->ss;
		int shared = -1;
		addr_set_port((struct sockaddr *)&ss, port);
		for (int t = 0; t < rt->nw; t++) {
			char e[256];
			int fd = socket_for(rt, fe, b, &ss, &shared, e, sizeof(e));
			if (fd < 0 || listener_adopt(&rt->ws[t], fe, b, fd, &ss)) {
				snprintf(err, errlen, "%s:%d: Starting frontend %s: %s", b->file,
					 b->line, fe->name, fd < 0 ? e : "out of memory");
				return -1;
			}
		}
		/* sockets the old process had on top of ours: ours too */
		for (int fd; (fd = upgrade_take(rt->inherited, rt->ninherited, &ss)) >= 0;)
			listener_adopt(&rt->ws[0], fe, b, fd, &ss);
	}
	return 0;
}

static void open_listeners(struct runtime *rt, struct generation *g, char *err, size_t errlen,
			   int *failed)
{
	for (int f = 0; f < g->nfe && !*failed; f++) {
		struct frontend *fe = &g->fes[f];
		for (const struct cfg_bind *b = fe->cfg->binds; b && !*failed; b = b->next)
			for (int i = 0; i < b->naddr && !*failed; i++)
				*failed = (b->addrs[i].kind == ADDR_K_FD ? open_inherited : open_address)
					(rt, fe, b, &b->addrs[i], err, errlen) != 0;
	}
	upgrade_release(rt->inherited, rt->ninherited);
	rt->inherited = NULL;
	rt->ninherited = 0;
}

int runtime_build(struct runtime *rt, struct cfg *cfg, char *err, size_t errlen)
{
	struct generation *g;
	int failed = 0;

	rt->cfg = cfg;
	rt->start_ms = clock_mono_ms();
	rt->start_time = time(NULL);
	rt->nw = cfg->g.nbthread > 0 ? cfg->g.nbthread : runtime_default_threads();
	rt->ws = xcalloc((size_t)rt->nw, sizeof(*rt->ws));
	rt->proc.maxconn = rt->maxconn;
	rt->proc.maxpipes = rt->maxpipes;
	rt->proc.cps_lim = cfg->g.maxconnrate;
	rt->proc.sps_lim = cfg->g.maxsessrate;
	rt->proc.nworkers = rt->nw;
	rt->proc.workers = xcalloc((size_t)rt->nw, sizeof(*rt->proc.workers));
	pthread_mutex_init(&rt->proc.lsock_lock, NULL);
	for (int t = 0; t < rt->nw; t++) {
		rt->proc.workers[t] = &rt->ws[t];
		if (worker_init(&rt->ws[t], &rt->proc, t)) {
			rt->nw = t + 1; /* destroy what was made */
			snprintf(err, errlen, "cannot create the event loop");
			return -1;
		}
		rt->ws[t].loop.busy = cfg->g.busy_polling;
	}
	runtime_events_init(rt);
	g = gen_build(rt, cfg, err, errlen);
	if (!g)
		return -1;
	rt->gen = g;
	genref_get(&g->ref); /* the runtime's: it is the current one */
	for (int t = 0; t < rt->nw; t++) {
		rt->ws[t].gen = &g->ref;
		genref_get(&g->ref);
	}
	open_listeners(rt, g, err, errlen, &failed);
	if (failed)
		return -1;
	gen_start_checks(g);
	state_file_apply(g);
	runtime_tables_start(rt);
	if (runtime_ops_start(rt, err, errlen) || runtime_stats_fe_start(rt, err, errlen))
		return -1;
	for (int t = 0; t < rt->nw; t++)
		listeners_update(&rt->ws[t]);
	return 0;
}

void runtime_destroy(struct runtime *rt)
{
	runtime_stats_fe_stop(rt);
	runtime_ops_stop(rt);
	runtime_tables_stop(rt);
	if (rt->gen)
		gen_stop_checks(rt->gen);
	for (struct generation *g = rt->retired; g; g = g->next)
		gen_stop_checks(g);
	rt->exiting = 1;
	for (int t = 0; t < rt->nw && rt->ws; t++)
		worker_destroy(&rt->ws[t]);
	free(rt->ws);
	free(rt->proc.workers);
	free(rt->proc.lsock);
	rt->proc.lsock = NULL;
	rt->ws = NULL;
	rt->proc.workers = NULL;
	while (rt->retired) {
		struct generation *g = rt->retired;
		rt->retired = g->next;
		gen_free(g);
	}
	if (rt->gen)
		gen_free(rt->gen);
	rt->gen = NULL;
	rt->cfg = NULL;
}
