/* A generation: one configuration's frontends, backends, servers and
 * checks. Built beside the one serving (reload) or first at start;
 * replaced whole; freed when the last session started on it has ended
 * (its reference count: sessions, the workers whose listeners serve it,
 * and the runtime while it is the current one). */
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strutil.h"
#include "rules/logformat.h"
#include "runtime/resolvers.h"

struct pbackend *gen_find_backend(const struct generation *g, const char *name)
{
	for (int i = 0; i < g->nbe; i++)
		if (!strcmp(g->bes[i]->lb.name, name))
			return g->bes[i];
	return NULL;
}

struct frontend *gen_find_frontend(const struct generation *g, const char *name)
{
	for (int i = 0; i < g->nfe; i++)
		if (!strcmp(g->fes[i].name, name))
			return &g->fes[i];
	return NULL;
}

struct server *gen_find_server(const struct pbackend *be, const char *name)
{
	for (int i = 0; i < be->lb.nsrv; i++)
		if (!strcmp(be->lb.srv[i]->name, name))
			return be->lb.srv[i];
	return NULL;
}

static struct counters *new_counters(struct runtime *rt)
{
	struct counters *c = counters_new(rt->nw);

	if (!c)
		abort(); /* at build time: nothing sensible to go on with */
	return c;
}

struct srv_rt *gen_new_server(struct generation *g, struct pbackend *be, struct cfg_server *cs)
{
	struct srv_rt *x = xcalloc(1, sizeof(*x));
	struct server *s = &x->srv;

	x->rt = g->rt;
	x->cs = cs;
	s->name = cs->name;
	s->id = cs->id;
	s->be = &be->lb;
	memcpy(&s->addr, &cs->addr.ss, sizeof(s->addr));
	s->addrlen = cs->addr.len;
	s->port_omitted = cs->addr.port_lo == 0;
	{ /* the server's own "source", else its backend's */
		const struct addr_spec *src = cs->o.has_source ? &cs->o.source
					      : be->cfg->has_source ? &be->cfg->source : NULL;
		if (src) {
			memcpy(&s->src, &src->ss, sizeof(s->src));
			s->srclen = src->len;
		}
	}
	s->flags = (cs->o.backup ? SRV_F_BACKUP : 0) | (cs->o.disabled ? SRV_F_MAINT : 0) |
		   (cs->no_addr ? SRV_F_RMAINT : 0); /* no address yet: resolvers may give one */
	s->up = 1; /* HAProxy starts servers UP; the first failed check takes them down */
	s->iweight = s->uweight = s->eweight = cs->o.weight;
	s->lag_permille = 1000;
	s->maxconn = cs->o.maxconn;
	s->maxqueue = cs->o.maxqueue;
	s->slowstart_ms = cs->o.slowstart;
	s->observe = cs->o.observe;
	s->error_limit = cs->o.error_limit;
	s->opts = (cs->o.shutdown_on_down ? SRV_O_SHUT_ON_DOWN : 0) |
		  (cs->o.shutdown_backup_on_up ? SRV_O_SHUT_BACKUP_ON_UP : 0) |
		  (cs->o.non_stick ? SRV_O_NON_STICK : 0);
	s->pp_opts = cs->o.pp_opts;
	s->ctr = new_counters(g->rt);
	x->has_check = cs->o.check;
	x->has_agent = cs->o.agent_check;
	runtime_server_events_init(x);
	return x;
}

static struct pbackend *build_backend(struct generation *g, const struct cfg_proxy *px)
{
	struct pbackend *be = xcalloc(1, sizeof(*be));
	int i = 0;

	be->lb.name = px->name;
	be->lb.uuid = px->uuid;
	be->lb.cfg = px;
	be->cfg = px;
	be->rules = px->crules;
	be->retries = px->retries;
	be->redispatch = (px->options & PXO_REDISPATCH) ? px->redispatch_interval : 0;
	be->options = px->options;
	be->to_connect = px->to.connect;
	be->to_server = px->to.server;
	be->to_tunnel = px->to.tunnel;
	be->to_server_fin = px->to.server_fin;
	be->to_queue = px->to.queue;
	be->wait_for_server = px->wait_for_server;
	be->logs.own = &px->logs;
	be->logs.global = px->log_global ? &g->cfg->g.logs : NULL;
	be->lb.allbackups = (px->options & PXO_ALLBACKUPS) != 0;
	be->lb.ctr = new_counters(g->rt);
	be->lb.nsrv = px->nservers;
	be->lb.srv = xcalloc((size_t)(px->nservers ? px->nservers : 1), sizeof(*be->lb.srv));
	for (struct cfg_server *cs = px->servers; cs; cs = cs->next, i++) {
		struct srv_rt *x = gen_new_server(g, be, cs);
		be->lb.srv[i] = &x->srv;
		g->nchecks += x->has_check && !cs->o.disabled;
		g->nagents += x->has_agent && !cs->o.disabled;
	}
	backend_init(&be->lb, px->algo, px->hash_type, px->random_draws);
	return be;
}

static struct pbackend *be_of(struct generation *g, const struct cfg_proxy *px)
{
	for (int i = 0; i < g->nbe; i++)
		if (g->bes[i]->cfg == px)
			return g->bes[i];
	return NULL;
}

static void build_frontend(struct generation *g, struct frontend *fe, const struct cfg_proxy *px)
{
	fe->name = px->name;
	fe->uuid = px->uuid;
	fe->cfg = px;
	fe->gen = &g->ref;
	fe->be = px->be ? be_of(g, px->be) : NULL;
	fe->rules = px->crules;
	fe->bes = g->bes; /* rules name backends by their position among them */
	fe->lbs = g->lbs;
	fe->nbe = g->nbe;
	fe->tables = g->tables; /* rules name tables by their position; a reload's carry keeps it */
	fe->ntables = g->ntables;
	fe->maxconn = px->maxconn ? px->maxconn : g->rt->maxconn;
	fe->options = px->options;
	fe->sps_lim = px->rate_limit_sess;
	fe->lf = px->clogfmt;
	fe->lf_uses = lf_uses(fe->lf);
	fe->to_client = px->to.client;
	fe->to_client_fin = px->to.client_fin;
	fe->logs.own = &px->logs;
	fe->logs.global = px->log_global ? &g->cfg->g.logs : NULL;
	fe->ctr = new_counters(g->rt);
}

/* The last reference went: the generation is freed on worker 0, which
 * owns its checks' timers. */
static void free_on_worker0(struct worker *w, const void *arg)
{
	struct generation *g = *(struct generation *const *)arg;
	struct runtime *rt = g->rt;

	(void)w;
	for (struct generation **p = &rt->retired; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	reload_fold_retired(rt, g);
	gen_free(g);
}

static void release(struct genref *ref, struct worker *w)
{
	struct generation *g = (struct generation *)ref;

	if (!g->rt->exiting) /* at exit, runtime_destroy frees every generation */
		worker_call(w, &g->rt->ws[0], free_on_worker0, &g, sizeof(g));
}

struct generation *gen_build(struct runtime *rt, struct cfg *cfg, char *err, size_t errlen)
{
	struct generation *g = xcalloc(1, sizeof(*g));
	int nfe = 0, nbe = 0, i = 0;

	(void)err;
	(void)errlen;
	g->ref.refs = 0;
	g->ref.release = release;
	g->id = ++rt->next_gen_id;
	g->rt = rt;
	g->cfg = cfg;
	for (struct cfg_proxy *px = cfg->proxies; px; px = px->next) {
		nfe += (px->cap & PX_CAP_FE) != 0;
		nbe += (px->cap & PX_CAP_BE) != 0;
	}
	g->bes = xcalloc((size_t)(nbe ? nbe : 1), sizeof(*g->bes));
	g->fes = xcalloc((size_t)(nfe ? nfe : 1), sizeof(*g->fes));
	gen_build_tables(g); /* before the frontends, which point at them */
	for (struct cfg_proxy *px = cfg->proxies; px; px = px->next)
		if (px->cap & PX_CAP_BE)
			g->bes[g->nbe++] = build_backend(g, px);
	g->lbs = xcalloc((size_t)(nbe ? nbe : 1), sizeof(*g->lbs));
	for (int b = 0; b < g->nbe; b++)
		g->lbs[b] = &g->bes[b]->lb;
	for (struct cfg_proxy *px = cfg->proxies; px; px = px->next)
		if (px->cap & PX_CAP_FE)
			build_frontend(g, &g->fes[i++], px);
	g->nfe = i;
	return g;
}

/* Starts x's health check (the first after first ms) and agent check. */
static void start_checks(struct generation *g, struct pbackend *be, struct srv_rt *x, uint64_t first)
{
	const struct log_targets *global = be->cfg->log_global ? &g->cfg->g.logs : NULL;
	struct cfg_server *cs = x->cs;

	if (x->has_check)
		check_start(&x->check, &x->srv, cs, be->cfg, &g->rt->cenv, &be->cfg->logs, global, first);
	if (x->has_agent) {
		agent_start(&x->agent, &x->srv, cs, &g->rt->cenv, &be->cfg->logs, global, 0);
		x->srv.agent = &x->agent;
	}
}

static void start_server_checks(struct generation *g, struct pbackend *be, struct srv_rt *x,
				int *n)
{
	struct cfg_server *cs = x->cs;
	uint64_t first = 0;

	if (cs->o.disabled && !(x->srv.flags & SRV_F_DYNAMIC))
		return; /* "disabled" in the configuration: no check, as HAProxy */
	/* stagger first checks across one interval, as HAProxy does */
	if (x->has_check && g->nchecks)
		first = (uint64_t)cs->o.inter * (uint64_t)(*n)++ / (uint64_t)g->nchecks;
	start_checks(g, be, x, first);
}

void gen_start_server_checks(struct generation *g, struct pbackend *be, struct srv_rt *x)
{
	start_checks(g, be, x, 0);
}

void gen_start_checks(struct generation *g)
{
	int n = 0;

	g->rt->cenv.spread_pct = g->cfg->g.spread_checks;
	for (int b = 0; b < g->nbe; b++)
		for (int i = 0; i < g->bes[b]->lb.nsrv; i++)
			start_server_checks(g, g->bes[b], (struct srv_rt *)g->bes[b]->lb.srv[i], &n);
	gen_start_resolvers(g);
}

void gen_stop_server_checks(struct srv_rt *x)
{
	if (x->srv.check)
		check_stop(&x->check);
	if (x->srv.agent)
		agent_stop(&x->agent);
	x->srv.check = NULL;
	x->srv.agent = NULL;
	loop_timer_cancel(&x->rt->ws[0].loop, &x->grace);
	loop_timer_cancel(&x->rt->ws[0].loop, &x->warm);
}

void gen_stop_checks(struct generation *g)
{
	gen_stop_resolvers(g);
	for (int b = 0; b < g->nbe; b++)
		for (int i = 0; i < g->bes[b]->lb.nsrv; i++)
			gen_stop_server_checks((struct srv_rt *)g->bes[b]->lb.srv[i]);
}

/* Frees x; its checks were stopped (gen_stop_checks, or when deleted). */
static void free_server(struct srv_rt *x)
{
	free(x->srv.ctr);
	free(x->srv.snap);
	free(x->dns_host);
	if (x->srv.flags & SRV_F_DYNAMIC) { /* its configuration is its own */
		free(x->cs->name);
		free(x->cs->addr_text);
		free(x->cs->o.check_addr);
		free(x->cs->o.agent_send);
		free(x->cs);
	}
	free(x);
}

void gen_free(struct generation *g)
{
	for (int b = 0; b < g->nbe; b++) {
		struct pbackend *be = g->bes[b];
		backend_free_lb(&be->lb);
		for (int i = 0; i < be->lb.nsrv; i++)
			free_server((struct srv_rt *)be->lb.srv[i]);
		free(be->lb.srv);
		free(be->lb.ctr);
		free(be->lb.snap);
		free(be);
	}
	while (g->dead) {
		struct srv_rt *x = g->dead;
		g->dead = x->next_dead;
		free_server(x);
	}
	for (int i = 0; i < g->nfe; i++) {
		free(g->fes[i].ctr);
		free(g->fes[i].snap);
	}
	free(g->bes);
	free(g->lbs);
	free(g->fes);
	gen_free_tables(g);
	cfg_free(g->cfg);
	free(g->cfg);
	free(g);
}
