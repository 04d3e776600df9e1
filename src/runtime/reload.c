/* Reload: the configuration read again inside the running process, as
 * SIGHUP, SIGUSR2 and the stats socket's "reload" ask. The new generation
 * is built beside the one serving; nothing changes until everything that
 * can fail has succeeded (the files parse and validate, log targets open,
 * new addresses bind). Then, in order: listening sockets whose address
 * stays are handed to the new frontends (the same socket: no client is
 * refused), new addresses are adopted, removed ones closed, every worker
 * switches (through its inbox), servers keep their runtime state by
 * backend and server name, checks restart from the carried state, and the
 * old generation lives on until its last session ends. */
#include "runtime/runtime.h"
#include "runtime/privs.h"
#include "runtime/resolvers.h"
#include "runtime/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/clock.h"
#include "core/strutil.h"
#include "event/sdnotify.h"
#include "rules/rules.h"

/* One listening address of the new configuration. */
struct bind_slot {
	struct sockaddr_storage ss;
	struct frontend *fe;
	const struct cfg_bind *b;
	int fd;                    /* fd@N: N (the parent's socket), else -1 */
	int kept;                  /* an open listener has this address */
};

/* What every worker gets to switch to the new generation. */
struct switch_plan {
	struct generation *g;
	struct bind_slot *slots;
	int nslots;
	int nw;
	int *fds;                  /* [worker * nslots + slot]: a new socket, or -1 */
	int left;                  /* workers still to switch (atomic): the last frees it */
};


/* Every address the frontends of g listen on (port ranges expanded). */
static struct bind_slot *collect_binds(struct generation *g, int *n)
{
	struct bind_slot *v = NULL;

	*n = 0;
	for (int f = 0; f < g->nfe; f++)
		for (const struct cfg_bind *b = g->fes[f].cfg->binds; b; b = b->next)
			for (int i = 0; i < b->naddr; i++)
				for (int port = b->addrs[i].port_lo; port <= b->addrs[i].port_hi; port++) {
					v = realloc(v, (size_t)(*n + 1) * sizeof(*v));
					if (!v)
						abort();
					memset(&v[*n], 0, sizeof(v[*n]));
					v[*n].ss = b->addrs[i].ss;
					addr_set_port((struct sockaddr *)&v[*n].ss, port);
					v[*n].fe = &g->fes[f];
					v[*n].b = b;
					v[*n].fd = b->addrs[i].kind == ADDR_K_FD ? b->addrs[i].fd : -1;
					(*n)++;
				}
	return v;
}

/* Reads and validates the files into a new configuration; errors go to out. */
static struct cfg *load(struct runtime *rt, char *out, size_t outlen)
{
	struct cfg *c = xcalloc(1, sizeof(*c));
	char *diag = NULL;
	size_t dlen = 0;
	FILE *m = open_memstream(&diag, &dlen);

	if (!m)
		abort();
	cfg_init(c, m);
	c->diag_mode = rt->diag_mode;
	for (int i = 0; i < rt->nfiles; i++)
		cfg_parse_path(c, rt->files[i]);
	cfg_validate(c);
	rules_compile(c); /* -f files and maps are read again: once per generation */
	fclose(m);
	snprintf(out, outlen, "%s", diag ? diag : "");
	free(diag);
	if (!c->nerr)
		return c;
	cfg_free(c);
	free(c);
	return NULL;
}

/* Worker t's socket for slot s: a new one, or for fd@N (an address a
 * reload adds, the parent's socket) N itself for the first worker and a
 * dup for the others, as at start (a unix socket too: the file is bound
 * once). Returns the fd or -1 with err filled. */
static int new_socket(struct switch_plan *p, int s, int t, char *err, size_t errlen)
{
	const struct bind_slot *sl = &p->slots[s];
	int fd;

	if (sl->fd < 0 && t && sl->ss.ss_family == AF_UNIX) { /* one file: worker 0's socket, shared */
		fd = fcntl(p->fds[s], F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			snprintf(err, errlen, "%s", strerror(errno));
		return fd;
	}
	if (sl->fd < 0)
		return listener_socket(sl->fe, sl->b, &sl->ss, err, errlen);
	if (!t && listener_inherit(sl->fe, sl->b, sl->fd, err, errlen))
		return -1;
	fd = t ? fcntl(sl->fd, F_DUPFD_CLOEXEC, 0) : sl->fd;
	if (fd < 0)
		snprintf(err, errlen, "file descriptor %d: %s", sl->fd, strerror(errno));
	return fd;
}

/* Opens a socket per worker for every address no listener has yet, before
 * anything is switched: a failure leaves the old configuration untouched. */
static int open_new_sockets(struct runtime *rt, struct switch_plan *p, char *out, size_t outlen)
{
	for (int s = 0; s < p->nslots; s++) {
		for (struct listener *li = rt->ws[0].listeners; li; li = li->next)
			if (addr_same_endpoint(&li->addr, &p->slots[s].ss))
				p->slots[s].kept = 1;
		for (int t = 0; t < p->nw && !p->slots[s].kept; t++) {
			char e[256];
			int fd = new_socket(p, s, t, e, sizeof(e)), en = errno;
			if (fd < 0) {
				snprintf(out, outlen, "%s:%d: Starting frontend %s: %s%s\n", p->slots[s].b->file,
					 p->slots[s].b->line, p->slots[s].fe->name, e,
					 privs_bind_hint(&p->slots[s].ss, en));
				return -1;
			}
			p->fds[t * p->nslots + s] = fd;
		}
	}
	return 0;
}

/* Closes the sockets no worker took, but never an fd@N itself: a reload
 * that failed leaves the parent's socket where it was. */
static void plan_free(struct switch_plan *p)
{
	for (int i = 0; i < p->nw * p->nslots; i++)
		if (p->fds[i] >= 0 && p->fds[i] != p->slots[i % p->nslots].fd)
			close(p->fds[i]);
	free(p->fds);
	free(p->slots);
	free(p);
}

/* On each worker's own thread: its listeners to the new frontends (or
 * closed), its new sockets adopted, its hold moved to the new generation. */
static void switch_worker(struct worker *w, const void *arg)
{
	struct switch_plan *p = *(struct switch_plan *const *)arg;
	struct genref *old = w->gen;
	struct listener *li, *next;

	for (li = w->listeners; li; li = next) {
		struct bind_slot *to = NULL;
		next = li->next;
		for (int s = 0; s < p->nslots && !to; s++)
			if (addr_same_endpoint(&li->addr, &p->slots[s].ss))
				to = &p->slots[s];
		if (to)
			listener_move(li, to->fe, to->b);
		else
			listener_close_one(w, li);
	}
	for (int s = 0; s < p->nslots; s++) {
		int *fd = &p->fds[w->id * p->nslots + s];
		if (*fd >= 0 && !listener_adopt(w, p->slots[s].fe, p->slots[s].b, *fd, &p->slots[s].ss))
			*fd = -1; /* the listener owns it now */
	}
	genref_get(&p->g->ref);
	w->gen = &p->g->ref;
	listeners_update(w);
	if (__atomic_sub_fetch(&p->left, 1, __ATOMIC_ACQ_REL) == 0)
		plan_free(p);
	genref_put(old, w);
}

/* The runtime state of a server carried to its successor: what health
 * checks found, what was set at run time (maintenance, drain, weight,
 * address, maxconn), what PostgreSQL said of its role, and its counters. */
static void carry_server(struct srv_rt *from, struct srv_rt *to)
{
	struct server *a = &from->srv, *b = &to->srv;
	const unsigned keep = SRV_F_FMAINT | SRV_F_FDRAIN | SRV_F_STOPPING | SRV_F_NOCHECK |
			      SRV_F_NOAGENT | SRV_F_AGENT_DOWN | SRV_F_AGENT_MAINT;
	struct counters sum;

	b->up = a->up;
	b->last_change_ms = a->last_change_ms;
	b->flags |= a->flags & keep;
	if (a->uweight != a->iweight)
		b->uweight = a->uweight;
	b->lag_permille = a->lag_permille;
	b->eweight = (int)(((long)b->uweight * b->lag_permille + 500) / 1000);
	if (!b->eweight && b->uweight && b->lag_permille)
		b->eweight = 1;
	if (a->maxconn != from->cs->o.maxconn)
		b->maxconn = a->maxconn;
	if (a->warm_since_ms && b->slowstart_ms) { /* a warm-up goes on */
		b->warm_since_ms = a->warm_since_ms;
		runtime_warm_arm(to);
	}
	if (memcmp(&a->addr, &from->cs->addr.ss, sizeof(a->addr))) { /* set at run time */
		b->addr = a->addr;
		b->addrlen = a->addrlen;
		b->port_omitted = a->port_omitted;
	}
	/* the same name asked of the same resolvers: in maintenance for want
	 * of an address only if it was (resolvers_carry carries the rest) */
	if (from->cs->fqdn && to->cs->fqdn && to->cs->o.dns.resolvers[0] &&
	    !strcmp(from->cs->fqdn, to->cs->fqdn) && !strcmp(from->cs->o.dns.resolvers, to->cs->o.dns.resolvers))
		b->flags = (b->flags & ~SRV_F_RMAINT) | (a->flags & SRV_F_RMAINT);
	counters_sum(a->ctr, from->rt->nw, 0, &sum);
	counters_fold(&b->ctr[0], &sum, NULL);
	a->snap = malloc(sizeof(*a->snap));
	if (a->snap)
		*a->snap = sum;
}

/* After the new checks started: each takes over its predecessor's counter
 * (a server DOWN before the reload stays DOWN until it rises) and status. */
static void carry_check(struct srv_rt *from, struct srv_rt *to)
{
	struct check *o = &from->check, *c = &to->check;
	int top = c->fsm.rise + c->fsm.fall - 1;

	if (!from->srv.check || !to->srv.check)
		return;
	c->fsm.health = o->fsm.health > top ? top : o->fsm.health;
	if (!from->srv.up && c->fsm.health >= c->fsm.rise)
		c->fsm.health = c->fsm.rise - 1;
	if (from->srv.up && c->fsm.health < c->fsm.rise)
		c->fsm.health = c->fsm.rise;
	c->status = o->status;
	c->code = o->code;
	c->duration = o->duration;
	c->last_ok = o->last_ok;
	snprintf(c->info, sizeof(c->info), "%s", o->info);
	pgcheck_inherit(c, o);
}

static void snap_fold(struct counters *ctr, int nw, struct counters **snap, struct counters *to)
{
	struct counters sum;

	counters_sum(ctr, nw, 0, &sum);
	counters_fold(to, &sum, NULL);
	*snap = malloc(sizeof(**snap));
	if (*snap)
		**snap = sum;
}

/* Carries state from old to g by name, and writes what changed to out. */
static void carry(struct generation *old, struct generation *g, char *out, size_t outlen)
{
	size_t n = strlen(out);
#define SAY(...) do { if (n < outlen) n += (size_t)snprintf(out + n, outlen - n, __VA_ARGS__); } while (0)
	for (int i = 0; i < g->nfe; i++) {
		struct frontend *o = gen_find_frontend(old, g->fes[i].name);
		if (!o)
			SAY("frontend %s added\n", g->fes[i].name);
		else
			snap_fold(o->ctr, old->rt->nw, &o->snap, &g->fes[i].ctr[0]);
	}
	for (int i = 0; i < old->nfe; i++)
		if (!gen_find_frontend(g, old->fes[i].name))
			SAY("frontend %s removed\n", old->fes[i].name);
	for (int i = 0; i < g->nbe; i++) {
		struct pbackend *nb = g->bes[i], *ob = gen_find_backend(old, nb->lb.name);
		if (!ob) {
			SAY("backend %s added\n", nb->lb.name);
			continue;
		}
		snap_fold(ob->lb.ctr, old->rt->nw, &ob->lb.snap, &nb->lb.ctr[0]);
		for (int k = 0; k < nb->lb.nsrv; k++) {
			struct srv_rt *ns = (struct srv_rt *)nb->lb.srv[k];
			struct srv_rt *os = (struct srv_rt *)gen_find_server(ob, ns->srv.name);
			if (!os) {
				SAY("server %s/%s added\n", nb->lb.name, ns->srv.name);
				continue;
			}
			carry_server(os, ns);
			if (strcmp(os->cs->addr_text, ns->cs->addr_text) || os->cs->o.weight != ns->cs->o.weight ||
			    os->cs->o.maxconn != ns->cs->o.maxconn || os->cs->o.backup != ns->cs->o.backup ||
			    os->cs->o.check != ns->cs->o.check || os->cs->o.disabled != ns->cs->o.disabled)
				SAY("server %s/%s changed\n", nb->lb.name, ns->srv.name);
		}
		for (int k = 0; k < ob->lb.nsrv; k++)
			if (!gen_find_server(nb, ob->lb.srv[k]->name))
				SAY("server %s/%s removed\n", ob->lb.name, ob->lb.srv[k]->name);
		backend_update(&nb->lb);
	}
	for (int i = 0; i < old->nbe; i++)
		if (!gen_find_backend(g, old->bes[i]->lb.name))
			SAY("backend %s removed\n", old->bes[i]->lb.name);
#undef SAY
}

static void fold_one(struct counters *ctr, int nw, struct counters *snap, struct counters *to)
{
	struct counters sum;

	counters_sum(ctr, nw, 0, &sum);
	counters_fold(to, &sum, snap);
}

void reload_fold_retired(struct runtime *rt, struct generation *old)
{
	struct generation *g = rt->gen;

	for (int i = 0; i < old->nfe; i++) {
		struct frontend *o = &old->fes[i], *to = gen_find_frontend(g, o->name);
		if (o->snap && to)
			fold_one(o->ctr, rt->nw, o->snap, &to->ctr[0]);
	}
	for (int i = 0; i < old->nbe; i++) {
		struct pbackend *ob = old->bes[i], *nb = gen_find_backend(g, ob->lb.name);
		if (ob->lb.snap && nb)
			fold_one(ob->lb.ctr, rt->nw, ob->lb.snap, &nb->lb.ctr[0]);
		for (int k = 0; k < ob->lb.nsrv; k++) {
			struct server *os = ob->lb.srv[k], *ns = nb ? gen_find_server(nb, os->name) : NULL;
			if (os->snap && ns)
				fold_one(os->ctr, rt->nw, os->snap, &ns->ctr[0]);
		}
	}
}

static void carry_checks(struct generation *old, struct generation *g)
{
	for (int i = 0; i < g->nbe; i++) {
		struct pbackend *nb = g->bes[i], *ob = gen_find_backend(old, nb->lb.name);
		for (int k = 0; ob && k < nb->lb.nsrv; k++) {
			struct server *os = gen_find_server(ob, nb->lb.srv[k]->name);
			if (os)
				carry_check((struct srv_rt *)os, (struct srv_rt *)nb->lb.srv[k]);
		}
	}
}

static int open_logs(struct runtime *rt, struct cfg *c, char *out, size_t outlen)
{
	char err[256];

	if (privs_chroot())
		privs_take_logs(c, rt->cfg);
	if (log_targets_open(&c->g.logs, err, sizeof(err)))
		goto fail;
	for (struct cfg_proxy *px = c->proxies; px; px = px->next)
		if (log_targets_open(&px->logs, err, sizeof(err)))
			goto fail;
	return 0;
fail:
	snprintf(out, outlen, "%s\n", err);
	return -1;
}

/* The stats frontends' and the stats sockets' new listeners: both or
 * neither. A failure is one line of the reload's answer. */
static int prepare_admin(struct runtime *rt, const struct cfg *c, char *out, size_t outlen)
{
	size_t n;

	if (!runtime_stats_fe_prepare(rt, c, out, outlen)) {
		if (!runtime_ops_prepare(rt, c, out, outlen))
			return 0;
		runtime_stats_fe_abort(rt);
	}
	n = strlen(out);
	if (n + 1 < outlen)
		memcpy(out + n, "\n", 2);
	return -1;
}

int runtime_reload(struct runtime *rt, const char *why, char *out, size_t outlen)
{
	struct generation *old = rt->gen, *g;
	struct switch_plan *p;
	struct cfg *c;
	char err[256];
	size_t n;

	out[0] = 0;
	sd_notify_reloading();
	c = load(rt, out, outlen);
	if (!c && privs_chroot()) {
		n = strlen(out);
		snprintf(out + n, outlen - n, "(ferry runs in chroot %s: a reload reads the files at their paths inside it)\n",
			 privs_chroot());
	}
	if (!c || open_logs(rt, c, out + strlen(out), outlen - strlen(out))) {
		if (c) {
			cfg_free(c);
			free(c);
		}
		WARN("Reload (%s) refused, the configuration in use goes on:\n%s", why, out);
		sd_notify_ready("Serving (the last reload was refused)");
		return -1;
	}
	if (c->g.nbthread && c->g.nbthread != rt->nw) {
		n = strlen(out);
		snprintf(out + n, outlen - n, "warning: 'nbthread %d' needs a restart; %d thread%s go on\n",
			 c->g.nbthread, rt->nw, rt->nw > 1 ? "s" : "");
	}
	if (c->g.no_seccomp && sandbox_active()) {
		n = strlen(out);
		snprintf(out + n, outlen - n, "warning: 'no-seccomp' needs a restart; the system-call filter stays "
			 "(a process cannot remove its own)\n");
	} else if (!c->g.no_seccomp && sandbox_off_by_config()) {
		n = strlen(out);
		snprintf(out + n, outlen - n, "warning: the system-call filter is installed at start only; "
			 "without 'no-seccomp' it takes effect at the next restart or binary upgrade\n");
	}
	g = gen_build(rt, c, err, sizeof(err));
	p = xcalloc(1, sizeof(*p));
	p->g = g;
	p->nw = rt->nw;
	p->slots = collect_binds(g, &p->nslots);
	p->fds = xcalloc((size_t)(p->nslots ? p->nw * p->nslots : 1), sizeof(int));
	for (int i = 0; i < p->nw * p->nslots; i++)
		p->fds[i] = -1;
	n = strlen(out); /* warnings of the new configuration, if any */
	if (open_new_sockets(rt, p, out + n, outlen - n) ||
	    prepare_admin(rt, c, out + n, outlen - n)) {
		plan_free(p);
		gen_free(g);
		WARN("Reload (%s) refused, the configuration in use goes on:\n%s", why, out);
		sd_notify_ready("Serving (the last reload was refused)");
		return -1;
	}
	/* nothing can fail from here on */
	n = strlen(out);
	snprintf(out + n, outlen - n, "Reloaded (%s): generation %d replaces %d.\n", why, g->id, old->id);
	carry(old, g, out, outlen);
	gen_carry_tables(old, g);
	gen_start_checks(g);
	resolvers_carry(old, g); /* before the old resolvers stop */
	carry_checks(old, g); /* from the old checks, before they stop and free their state */
	gen_stop_checks(old);
	rt->gen = g;
	rt->cfg = c;
	sandbox_set_logs(&c->g.logs); /* the old targets close with the old generation, later */
	/* the new rate limits apply from now on (HAProxy's new process reads them) */
	__atomic_store_n(&rt->proc.cps_lim, c->g.maxconnrate, __ATOMIC_RELAXED);
	__atomic_store_n(&rt->proc.sps_lim, c->g.maxsessrate, __ATOMIC_RELAXED);
	runtime_stats_fe_commit(rt); /* before the old configuration may go */
	runtime_ops_commit(rt);
	genref_get(&g->ref);
	old->next = rt->retired;
	rt->retired = old;
	p->left = rt->nw;
	for (int t = 0; t < rt->nw; t++)
		worker_call(&rt->ws[0], &rt->ws[t], switch_worker, &p, sizeof(p));
	NOTICE("%s", out);
	genref_put(&old->ref, &rt->ws[0]);
	snprintf(err, sizeof(err), "Serving (generation %d)", g->id);
	sd_notify_ready(err);
	return 0;
}
