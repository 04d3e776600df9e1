#include "runtime/runtime.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/strutil.h"
#include "health/agent.h"

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

/* What every worker is asked to close when a server changes state. */
struct close_req {
	const struct server *srv;
	const struct backend *be;
	char term[3];
	int role;                  /* a role change: say how many were closed */
};

static void close_on_worker(struct worker *w, const void *arg)
{
	const struct close_req *r = arg;
	int n = sessions_close_server(w, r->srv, r->be, r->term);

	if (r->role && n)
		WARN("Server %s/%s changed role: closed %d session%s so clients reconnect to the right server",
		     r->srv->be->name, r->srv->name, n, n > 1 ? "s" : "");
}

/* Health checks run on worker 0; the sessions to close live on every worker. */
static int on_server_change(struct server *srv, int up, void *arg)
{
	struct runtime *rt = arg;

	if (!up && (srv->opts & SRV_O_SHUT_ON_DOWN)) {
		struct close_req r = { .srv = srv, .term = "DD" };
		workers_call(&rt->ws[0], close_on_worker, &r, sizeof(r));
	}
	if (up && !(srv->flags & SRV_F_BACKUP) && (srv->opts & SRV_O_SHUT_BACKUP_ON_UP)) {
		struct close_req r = { .be = srv->be, .term = "UD" };
		workers_call(&rt->ws[0], close_on_worker, &r, sizeof(r));
	}
	return backend_dequeue(&rt->ws[0], (struct pbackend *)srv->be);
}

/* An agent changed a server's weight or maxconn: queued sessions may fit. */
static void on_server_capacity(struct server *srv, void *arg)
{
	struct runtime *rt = arg;

	backend_dequeue(&rt->ws[0], (struct pbackend *)srv->be);
}

struct role_grace {
	struct timer t;
	struct server *srv;
	struct runtime *rt;
};

static void grace_cb(struct loop *l, struct timer *t)
{
	struct role_grace *g = (struct role_grace *)t;
	struct close_req r = { .srv = g->srv, .term = "DD", .role = 1 };

	(void)l;
	workers_call(&g->rt->ws[0], close_on_worker, &r, sizeof(r));
}

/* A server's role changed: close its sessions after role-change-grace. */
static void on_role_change(struct server *srv, void *arg)
{
	struct runtime *rt = arg;
	struct check *c = srv->check;
	struct role_grace *g = &rt->graces[c - rt->checks];
	int64_t grace = ((struct pbackend *)srv->be)->cfg->role_change_grace;

	g->srv = srv;
	g->rt = rt;
	loop_timer_arm(&rt->ws[0].loop, &g->t, rt->ws[0].loop.now_ms + (uint64_t)grace);
}

static struct pbackend *build_backend(struct runtime *rt, const struct cfg_proxy *px)
{
	struct pbackend *be = xcalloc(1, sizeof(*be));
	int i = 0;

	be->lb.name = px->name;
	be->lb.uuid = px->uuid;
	be->lb.cfg = px;
	be->cfg = px;
	be->retries = px->retries;
	be->redispatch = (px->options & PXO_REDISPATCH) ? px->redispatch_interval : 0;
	be->options = px->options;
	be->to_connect = px->to.connect;
	be->to_server = px->to.server;
	be->to_tunnel = px->to.tunnel;
	be->to_server_fin = px->to.server_fin;
	be->to_queue = px->to.queue;
	be->logs.own = &px->logs;
	be->logs.global = px->log_global ? &rt->cfg->g.logs : NULL;
	be->lb.allbackups = (px->options & PXO_ALLBACKUPS) != 0;
	be->lb.nsrv = px->nservers;
	be->lb.srv = xcalloc((size_t)px->nservers, sizeof(*be->lb.srv));
	for (const struct cfg_server *cs = px->servers; cs; cs = cs->next, i++) {
		struct server *s = xcalloc(1, sizeof(*s));
		s->name = cs->name;
		s->id = cs->id;
		s->be = &be->lb;
		memcpy(&s->addr, &cs->addr.ss, sizeof(s->addr));
		s->addrlen = cs->addr.len;
		s->port_omitted = cs->addr.port_lo == 0;
		s->flags = (cs->o.backup ? SRV_F_BACKUP : 0) | (cs->o.disabled ? SRV_F_MAINT : 0);
		s->up = 1; /* HAProxy starts servers UP; the first failed check takes them down */
		s->uweight = s->eweight = cs->o.weight;
		s->maxconn = cs->o.maxconn;
		s->maxqueue = cs->o.maxqueue;
		s->opts = (cs->o.shutdown_on_down ? SRV_O_SHUT_ON_DOWN : 0) |
			  (cs->o.shutdown_backup_on_up ? SRV_O_SHUT_BACKUP_ON_UP : 0);
		if (cs->o.check && !cs->o.disabled)
			rt->nchecks++;
		if (cs->o.agent_check && !cs->o.disabled)
			rt->nagents++;
		be->lb.srv[i] = s;
	}
	backend_init(&be->lb, px->algo, px->hash_type, px->random_draws);
	return be;
}

static struct pbackend *find_be(struct runtime *rt, const struct cfg_proxy *px)
{
	for (int i = 0; i < rt->nbe; i++)
		if (rt->bes[i]->cfg == px)
			return rt->bes[i];
	return NULL;
}

static int build_frontend(struct runtime *rt, struct frontend *fe, const struct cfg_proxy *px,
			  char *err, size_t errlen)
{
	fe->name = px->name;
	fe->cfg = px;
	fe->be = px->be ? find_be(rt, px->be) : NULL;
	fe->maxconn = px->maxconn ? px->maxconn : rt->maxconn;
	fe->options = px->options;
	fe->to_client = px->to.client;
	fe->to_client_fin = px->to.client_fin;
	fe->logs.own = &px->logs;
	fe->logs.global = px->log_global ? &rt->cfg->g.logs : NULL;
	/* each worker has its own listening socket per address (SO_REUSEPORT):
	 * the kernel spreads new connections between the threads */
	for (int t = 0; t < rt->nw; t++)
		for (const struct cfg_bind *b = px->binds; b; b = b->next)
			for (int i = 0; i < b->naddr; i++) {
				char e[256];
				if (listener_open(&rt->ws[t], fe, b, &b->addrs[i], e, sizeof(e))) {
					snprintf(err, errlen, "%s:%d: Starting frontend %s: %s", b->file,
						 b->line, px->name, e);
					return -1;
				}
			}
	return 0;
}

static void start_checks(struct runtime *rt)
{
	int n = 0;

	rt->checks = xcalloc((size_t)(rt->nchecks ? rt->nchecks : 1), sizeof(*rt->checks));
	rt->graces = xcalloc((size_t)(rt->nchecks ? rt->nchecks : 1), sizeof(*rt->graces));
	for (int i = 0; i < rt->nchecks; i++)
		timer_init(&rt->graces[i].t, grace_cb);
	rt->cenv.loop = &rt->ws[0].loop;
	rt->cenv.spread_pct = rt->cfg->g.spread_checks;
	rt->cenv.on_change = on_server_change;
	rt->cenv.on_capacity = on_server_capacity;
	rt->cenv.on_role_change = on_role_change;
	rt->cenv.arg = rt;
	for (int b = 0; b < rt->nbe; b++) {
		struct pbackend *be = rt->bes[b];
		int i = 0;
		for (const struct cfg_server *cs = be->cfg->servers; cs; cs = cs->next, i++) {
			if (!cs->o.check || cs->o.disabled)
				continue;
			/* stagger first checks across one interval, as HAProxy does */
			uint64_t first = (uint64_t)cs->o.inter * (uint64_t)n / (uint64_t)rt->nchecks;
			check_start(&rt->checks[n++], be->lb.srv[i], cs, be->cfg, &rt->cenv,
				    &be->cfg->logs, be->cfg->log_global ? &rt->cfg->g.logs : NULL,
				    first);
		}
	}
	rt->agents = xcalloc((size_t)(rt->nagents ? rt->nagents : 1), sizeof(*rt->agents));
	n = 0;
	for (int b = 0; b < rt->nbe; b++) {
		struct pbackend *be = rt->bes[b];
		int i = 0;
		for (const struct cfg_server *cs = be->cfg->servers; cs; cs = cs->next, i++)
			if (cs->o.agent_check && !cs->o.disabled)
				agent_start(&rt->agents[n++], be->lb.srv[i], cs, &rt->cenv, &be->cfg->logs,
					    be->cfg->log_global ? &rt->cfg->g.logs : NULL, 0);
	}
}

int runtime_build(struct runtime *rt, char *err, size_t errlen)
{
	struct cfg *c = rt->cfg;
	int nfe = 0, nbe = 0, i;

	for (struct cfg_proxy *px = c->proxies; px; px = px->next) {
		nfe += (px->cap & PX_CAP_FE) != 0;
		nbe += (px->cap & PX_CAP_BE) != 0;
	}
	rt->nw = c->g.nbthread > 0 ? c->g.nbthread : runtime_default_threads();
	rt->ws = xcalloc((size_t)rt->nw, sizeof(*rt->ws));
	rt->proc.maxconn = rt->maxconn;
	rt->proc.maxpipes = rt->maxpipes;
	rt->proc.nworkers = rt->nw;
	rt->proc.workers = xcalloc((size_t)rt->nw, sizeof(*rt->proc.workers));
	for (int t = 0; t < rt->nw; t++) {
		rt->proc.workers[t] = &rt->ws[t];
		if (worker_init(&rt->ws[t], &rt->proc, t)) {
			rt->nw = t + 1; /* destroy what was made */
			snprintf(err, errlen, "cannot create the event loop");
			return -1;
		}
		rt->ws[t].loop.busy = c->g.busy_polling;
	}
	rt->bes = xcalloc((size_t)(nbe ? nbe : 1), sizeof(*rt->bes));
	rt->fes = xcalloc((size_t)(nfe ? nfe : 1), sizeof(*rt->fes));
	for (struct cfg_proxy *px = c->proxies; px; px = px->next)
		if (px->cap & PX_CAP_BE)
			rt->bes[rt->nbe++] = build_backend(rt, px);
	i = 0;
	for (struct cfg_proxy *px = c->proxies; px; px = px->next)
		if (px->cap & PX_CAP_FE) {
			rt->nfe++;
			if (build_frontend(rt, &rt->fes[i++], px, err, errlen))
				return -1;
		}
	start_checks(rt);
	for (int t = 0; t < rt->nw; t++)
		listeners_update(&rt->ws[t]);
	return 0;
}

void runtime_destroy(struct runtime *rt)
{
	for (int i = 0; i < rt->nchecks && rt->checks; i++) {
		if (rt->checks[i].srv)
			check_stop(&rt->checks[i]);
		if (rt->graces)
			loop_timer_cancel(&rt->ws[0].loop, &rt->graces[i].t);
	}
	free(rt->checks);
	free(rt->graces);
	for (int i = 0; i < rt->nagents && rt->agents; i++)
		agent_stop(&rt->agents[i]);
	free(rt->agents);
	for (int t = 0; t < rt->nw && rt->ws; t++)
		worker_destroy(&rt->ws[t]);
	free(rt->ws);
	free(rt->proc.workers);
	rt->ws = NULL;
	rt->proc.workers = NULL;
	for (int b = 0; b < rt->nbe; b++) {
		struct pbackend *be = rt->bes[b];
		backend_free_lb(&be->lb);
		for (int i = 0; i < be->lb.nsrv; i++)
			free(be->lb.srv[i]);
		free(be->lb.srv);
		free(be);
	}
	free(rt->bes);
	free(rt->fes);
	rt->bes = NULL;
	rt->fes = NULL;
}
