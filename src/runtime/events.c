/* What health checks tell the runtime, carried out where it must be: the
 * checks run on worker 0, the sessions to close live on every worker. */
#include "runtime/runtime.h"

#include <stdio.h>

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

/* A server went UP or DOWN: its sessions (on-marked-down), the backup
 * servers' (on-marked-up), and the queues. Returns how many queued
 * sessions moved. */
static int on_server_change(struct server *srv, int up, void *arg)
{
	struct runtime *rt = arg;

	if (!up && (srv->opts & SRV_O_SHUT_ON_DOWN)) {
		struct close_req r = { .srv = srv, .term = "DD" };
		workers_call(&rt->ws[0], close_on_worker, &r, sizeof(r));
	}
	if (up)
		runtime_warm_arm((struct srv_rt *)srv);
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

static void grace_cb(struct loop *l, struct timer *t)
{
	struct srv_rt *x = (struct srv_rt *)((char *)t - offsetof(struct srv_rt, grace));
	struct close_req r = { .srv = &x->srv, .term = "DD", .role = 1 };

	(void)l;
	workers_call(&x->rt->ws[0], close_on_worker, &r, sizeof(r));
}

/* A server's role changed: close its sessions after role-change-grace. */
static void on_role_change(struct server *srv, void *arg)
{
	struct runtime *rt = arg;
	struct srv_rt *x = (struct srv_rt *)srv;
	int64_t grace = ((struct pbackend *)srv->be)->cfg->role_change_grace;

	loop_timer_arm(&rt->ws[0].loop, &x->grace, rt->ws[0].loop.now_ms + (uint64_t)grace);
}

/* slowstart: a warming server's weight and maxconn grow once a second; the
 * room it gains may take queued sessions (HAProxy's server_warmup). */
static void warm_cb(struct loop *l, struct timer *t)
{
	struct srv_rt *x = (struct srv_rt *)((char *)t - offsetof(struct srv_rt, warm));
	struct server *s = &x->srv;
	int more;

	backend_lock(s->be);
	more = server_warm_update(s, l->now_ms);
	backend_unlock(s->be);
	backend_dequeue(&x->rt->ws[0], (struct pbackend *)s->be);
	if (more)
		loop_timer_arm(l, t, l->now_ms + 1000);
}

void runtime_warm_arm(struct srv_rt *x)
{
	struct loop *l = &x->rt->ws[0].loop;

	if (x->srv.warm_since_ms && !timer_armed(&x->warm))
		loop_timer_arm(l, &x->warm, l->now_ms);
}

/* observe layer4: error-limit connection errors in a row on a worker; the
 * server's check (worker 0) applies on-error. The message holds the
 * session's generation, so the server outlives it. */
struct observed {
	struct genref *gen;
	struct server *srv;
	int errors;
};

static void observed_on_worker0(struct worker *w, const void *arg)
{
	const struct observed *m = arg;

	if (m->srv->check) /* no check, or stopped (reload, deleted): nothing to apply */
		check_observed(m->srv->check, m->errors, "L4 unsuccessful connection");
	genref_put(m->gen, w);
}

static void on_observed(struct worker *w, struct genref *gen, struct server *srv, int errors)
{
	struct observed m = { gen, srv, errors };

	genref_get(gen);
	/* always through worker 0's inbox, even from worker 0: the session
	 * that reported it is in the middle of its own work */
	worker_call(NULL, w->proc->workers[0], observed_on_worker0, &m, sizeof(m));
}

void runtime_server_events_init(struct srv_rt *x)
{
	timer_init(&x->grace, grace_cb);
	timer_init(&x->warm, warm_cb);
}

void runtime_events_init(struct runtime *rt)
{
	rt->cenv.loop = &rt->ws[0].loop;
	rt->cenv.on_change = on_server_change;
	rt->cenv.on_capacity = on_server_capacity;
	rt->cenv.on_role_change = on_role_change;
	rt->cenv.arg = rt;
	rt->proc.on_observed = on_observed;
}
