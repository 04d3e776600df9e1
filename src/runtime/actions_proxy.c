/* The runtime API's actions on frontends, the process's limit, the
 * servers' list (add, del), and on sessions, which live on the worker that
 * accepted them: those reach every worker through its inbox and answer on
 * worker 0 (act_fanout). */
#include "runtime/actions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/atomic.h"
#include "core/strutil.h"

/* HAProxy's proxy_cap_str: a listen section is a "proxy". */
static const char *cap_str(const struct frontend *fe)
{
	return (fe->cfg->cap & PX_CAP_BE) ? "proxy" : "frontend";
}

/* A sentence about fe to its log targets and, as a warning, to stderr. */
static void say_fe(const struct frontend *fe, const char *msg)
{
	const struct log_targets *logs[2] = { fe->logs.own, fe->logs.global };

	health_log(logs, LOG_WARNING, 4, msg);
}

/* ---- frontends ------------------------------------------------------------------ */

struct fe_req {
	const struct frontend *fe;
	int what;                  /* 1 pause, 0 resume, -1 close */
};

static void fe_on_worker(struct worker *w, const void *arg)
{
	const struct fe_req *r = arg;

	if (r->what < 0)
		listeners_close_frontend(w, r->fe);
	else if (listeners_pause_frontend(w, r->fe, r->what) < 0)
		WARN("%s %s failed to resume: %s", cap_str(r->fe), r->fe->name,
		     "a socket could not listen again (port conflict?)");
}

static void on_every_worker(struct runtime *rt, const struct frontend *fe, int what)
{
	struct fe_req r = { fe, what };

	workers_call(&rt->ws[0], fe_on_worker, &r, sizeof(r));
}

const char *act_frontend_disable(struct runtime *rt, struct frontend *fe)
{
	char msg[300];

	if (ATOMIC_LOAD(&fe->disabled) == FE_STOPPED)
		return "Frontend was previously shut down, cannot disable.\n";
	if (ATOMIC_LOAD(&fe->disabled) == FE_PAUSED)
		return "All sockets are already disabled.\n";
	ATOMIC_STORE(&fe->disabled, FE_PAUSED);
	on_every_worker(rt, fe, 1);
	snprintf(msg, sizeof(msg), "Paused %s %s.", cap_str(fe), fe->name);
	say_fe(fe, msg);
	return NULL;
}

const char *act_frontend_enable(struct runtime *rt, struct frontend *fe)
{
	char msg[300];

	if (ATOMIC_LOAD(&fe->disabled) == FE_STOPPED)
		return "Frontend was previously shut down, cannot enable.\n";
	if (ATOMIC_LOAD(&fe->disabled) != FE_PAUSED)
		return "All sockets are already enabled.\n";
	ATOMIC_STORE(&fe->disabled, 0);
	on_every_worker(rt, fe, 0);
	snprintf(msg, sizeof(msg), "Resumed %s %s.", cap_str(fe), fe->name);
	say_fe(fe, msg);
	return NULL;
}

const char *act_frontend_shutdown(struct runtime *rt, struct frontend *fe)
{
	struct counters fs, bs;
	char msg[300];

	if (ATOMIC_LOAD(&fe->disabled) == FE_STOPPED)
		return "Frontend was already shut down.\n";
	ATOMIC_STORE(&fe->disabled, FE_STOPPED);
	on_every_worker(rt, fe, -1);
	counters_sum(fe->ctr, rt->nw, rt->ws[0].loop.now_ms, &fs);
	memset(&bs, 0, sizeof(bs));
	if (fe->be && fe->be->cfg == fe->cfg) /* a listen section: its own backend */
		counters_sum(fe->be->lb.ctr, rt->nw, rt->ws[0].loop.now_ms, &bs);
	snprintf(msg, sizeof(msg), "Proxy %s stopped (cumulated conns: FE: %llu, BE: %llu).", fe->name,
		 (unsigned long long)fs.cum_sess, (unsigned long long)bs.cum_sess);
	say_fe(fe, msg);
	return NULL;
}

/* ---- connection limits -------------------------------------------------------------- */

static void limits_on_worker(struct worker *w, const void *arg)
{
	(void)arg;
	listeners_update(w);
}

const char *act_maxconn_frontend(struct runtime *rt, struct frontend *fe, const char *v)
{
	int n;

	if (!*v)
		return "Integer value expected.\n";
	n = atoi(v);
	if (n < 0)
		return "Value out of range.\n";
	/* as HAProxy 2.6, 0 holds every new client in the backlog */
	__atomic_store_n(&fe->maxconn, n, __ATOMIC_SEQ_CST);
	workers_call(&rt->ws[0], limits_on_worker, NULL, 0);
	return NULL;
}

const char *act_maxconn_global(struct runtime *rt, const char *v)
{
	int n;

	if (!*v)
		return "Expects an integer value.\n";
	n = atoi(v);
	if (n > rt->maxconn)
		return "Value out of range.\n";
	if (n <= 0)
		n = rt->maxconn; /* "unlimited": the most the descriptors allow */
	__atomic_store_n(&rt->proc.maxconn, n, __ATOMIC_SEQ_CST);
	workers_call(&rt->ws[0], limits_on_worker, NULL, 0);
	return NULL;
}

/* ---- adding and deleting servers ------------------------------------------------------- */

/* HAProxy's algorithms whose weights are fixed at start take no new server. */
static int static_algo(const struct backend *be)
{
	return be->algo == LB_STATIC_RR || (be->algo == LB_SOURCE && be->hash_type == HASH_MAP);
}

/* The lowest id no server of be has (HAProxy's get_next_id). */
static int free_id(const struct backend *be)
{
	for (int id = 1;; id++) {
		int used = 0;
		for (int i = 0; i < be->nsrv && !used; i++)
			used = be->srv[i]->id == id;
		if (!used)
			return id;
	}
}

static void free_cfg_server(struct cfg_server *cs)
{
	free(cs->name);
	free(cs->addr_text);
	free(cs->o.check_addr);
	free(cs->o.agent_send);
	free(cs);
}

const char *act_server_add(struct runtime *rt, struct pbackend *be, char *const *words, int n,
			   char *err, size_t errlen)
{
	struct cfg_server *cs;
	struct srv_rt *x;
	struct server *s, **grown;

	if (static_algo(&be->lb))
		return "Backend must use a dynamic load balancing to support dynamic servers.";
	cs = cfg_parse_dynamic_server(words, n, err, errlen);
	if (!cs) {
		size_t l = strlen(err);
		if (l + 1 < errlen) /* HAProxy's parser messages end their line */
			memcpy(err + l, "\n", 2);
		return err;
	}
	if (gen_find_server(be, cs->name)) {
		free_cfg_server(cs);
		return "Already exists a server with the same name in backend.\n";
	}
	grown = realloc(be->lb.srv, (size_t)(be->lb.nsrv + 1) * sizeof(*be->lb.srv));
	if (!grown) {
		free_cfg_server(cs);
		return "out of memory";
	}
	be->lb.srv = grown; /* only worker 0 resizes it; the others read it under the lock */
	cs->id = free_id(&be->lb);
	x = gen_new_server(rt->gen, be, cs);
	s = &x->srv;
	/* as HAProxy 2.6: in maintenance, down, its checks configured but
	 * disabled until "enable health" / "enable agent" */
	s->flags |= SRV_F_DYNAMIC | SRV_F_MAINT | (x->has_check ? SRV_F_NOCHECK : 0) |
		    (x->has_agent ? SRV_F_NOAGENT : 0);
	s->up = 0;
	s->last_change_ms = rt->ws[0].loop.now_ms;
	backend_lock(&be->lb);
	be->lb.srv[be->lb.nsrv++] = s;
	backend_update(&be->lb);
	backend_unlock(&be->lb);
	gen_start_server_checks(rt->gen, be, x);
	if (s->check)
		x->check.fsm.health = 0; /* down, as HAProxy's dynamic servers */
	log_proc(LOG_NOTICE, "CLI : 'server %s/%s' : New server registered.", be->lb.name, s->name);
	return NULL;
}

const char *act_server_del(struct runtime *rt, struct pbackend *be, struct server *s)
{
	struct srv_rt *x = (struct srv_rt *)s;
	int i;

	backend_lock(&be->lb);
	if (!(s->flags & SRV_F_ANY_MAINT)) {
		backend_unlock(&be->lb);
		return "Only servers in maintenance mode can be deleted.";
	}
	if (ATOMIC_LOAD(&s->cur_sess) || ATOMIC_LOAD(&s->cur_conns) || ATOMIC_LOAD(&s->q.len)) {
		backend_unlock(&be->lb);
		return "Server still has connections attached to it, cannot remove it.";
	}
	for (i = 0; i < be->lb.nsrv && be->lb.srv[i] != s; i++)
		;
	memmove(&be->lb.srv[i], &be->lb.srv[i + 1], (size_t)(be->lb.nsrv - i - 1) * sizeof(*be->lb.srv));
	be->lb.nsrv--;
	s->flags |= SRV_F_DELETED;
	backend_update(&be->lb);
	backend_unlock(&be->lb);
	gen_stop_server_checks(x);
	/* closed sessions may still point to it: freed with the generation */
	x->next_dead = rt->gen->dead;
	rt->gen->dead = x;
	log_proc(LOG_NOTICE, "Server deleted.");
	return NULL;
}

/* ---- asking every worker ---------------------------------------------------------------- */

struct act_fanout {
	struct runtime *rt;
	struct act_fanout *next;   /* rt->fanouts */
	act_worker_fn fn;
	int pending, total;
	char **texts;              /* one per worker */
	void (*done)(void *arg, int total, char *const *texts, int n);
	void *arg;
	char req[];
};

struct fan_msg {
	struct act_fanout *f;
	int idx;
};

struct fan_reply {
	struct act_fanout *f;
	int idx, count;
	char *text;
};

static void fan_free(struct act_fanout *f)
{
	for (int i = 0; i < f->rt->nw; i++)
		free(f->texts[i]);
	free(f->texts);
	free(f);
}

/* On worker 0: one worker's answer; the last one completes the request. */
static void fan_reply(struct worker *w, const void *arg)
{
	const struct fan_reply *r = arg;
	struct act_fanout *f = r->f;

	(void)w;
	f->total += r->count;
	f->texts[r->idx] = r->text;
	if (--f->pending)
		return;
	for (struct act_fanout **p = &f->rt->fanouts; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
	f->done(f->arg, f->total, f->texts, f->rt->nw);
	fan_free(f);
}

/* On each worker: its part, sent back to worker 0. */
static void fan_run(struct worker *w, const void *arg)
{
	const struct fan_msg *m = arg;
	struct fan_reply r = { m->f, m->idx, 0, NULL };

	r.count = m->f->fn(w, m->f->req, &r.text);
	worker_call(w, w->proc->workers[0], fan_reply, &r, sizeof(r));
}

void act_fanout(struct runtime *rt, act_worker_fn fn, const void *req, size_t reqlen,
		void (*done)(void *arg, int total, char *const *texts, int n), void *arg)
{
	struct act_fanout *f = calloc(1, sizeof(*f) + reqlen);

	if (!f || !(f->texts = calloc((size_t)rt->nw, sizeof(*f->texts)))) {
		free(f);
		done(arg, 0, NULL, 0);
		return;
	}
	f->rt = rt;
	f->fn = fn;
	f->pending = rt->nw;
	f->done = done;
	f->arg = arg;
	memcpy(f->req, req, reqlen);
	f->next = rt->fanouts;
	rt->fanouts = f;
	/* worker 0 (this thread) first: it answers at once, so with several
	 * workers the request is still pending when the loop goes on */
	for (int i = 0; i < rt->nw; i++) {
		struct fan_msg m = { f, i };
		worker_call(&rt->ws[0], &rt->ws[i], fan_run, &m, sizeof(m));
	}
}

void act_fanout_abandon(struct runtime *rt)
{
	while (rt->fanouts) {
		struct act_fanout *f = rt->fanouts;
		rt->fanouts = f->next;
		fan_free(f);
	}
}

/* HAProxy's termination state of a killed stream: K, then where it was. */
static const char *killed_term(const struct session *s)
{
	switch (s->state) {
	case SESS_QUEUED: return "KQ";
	case SESS_ESTABLISHED: return "KD";
	default: return "KC";
	}
}

int act_kill_sessions(struct worker *w, const void *req, char **text)
{
	const struct act_kill *k = req;
	struct session *s, *next;
	int n = 0;

	(void)text;
	if (k->srv)
		return sessions_close_server(w, k->srv, NULL, "KD");
	/* the id is only compared, never followed: it may be anything */
	for (s = w->sessions; s; s = next) {
		next = s->next;
		if ((uintptr_t)s == k->id && s->state != SESS_CLOSED) {
			session_close(s, killed_term(s));
			n++;
		}
	}
	return n;
}
