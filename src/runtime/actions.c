/* The runtime API's actions on servers (see actions.h): administrative
 * state (maintenance, drain), forced health, weights, limits, addresses,
 * and the counters. The state machine follows HAProxy 2.6's
 * srv_update_status: what a change does, then the sentence that says it. */
#include "runtime/actions.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/addr.h"
#include "core/atomic.h"

/* ---- shared pieces ------------------------------------------------------------ */

static uint64_t now_of(const struct runtime *rt)
{
	return rt->ws[0].loop.now_ms;
}

static struct srv_rt *xr(struct server *s)
{
	return (struct srv_rt *)s;
}

static struct pbackend *pbe(const struct server *s)
{
	return (struct pbackend *)s->be;
}

/* The started health check of s, or NULL (none, or not started yet). */
static struct check *check_of(struct server *s)
{
	return s->check;
}

static int check_enabled(struct server *s)
{
	return xr(s)->has_check && !(s->flags & SRV_F_NOCHECK);
}

static int agent_enabled(struct server *s)
{
	return xr(s)->has_agent && !(s->flags & SRV_F_NOAGENT);
}

/* A sentence about s to its backend's log targets (at level) and to
 * stderr as a warning, as HAProxy's ha_warning + send_log. */
static void say(struct server *s, int level, const char *msg)
{
	const struct pbackend *be = pbe(s);
	const struct log_targets *logs[2] = { be->logs.own, be->logs.global };

	health_log(logs, level, 4, msg);
}

static void say_if_empty(struct server *s)
{
	const struct pbackend *be = pbe(s);
	const struct log_targets *logs[2] = { be->logs.own, be->logs.global };

	health_log_if_empty(logs, s->be);
}

/* HAProxy's srv_append_status counts after a state change: "left" and
 * the sessions still active when the server is down, "online" otherwise. */
static void counts(char *buf, size_t len, const struct server *s, int down, int requeued)
{
	int act, bck;

	backend_count_usable(s->be, &act, &bck);
	if (down)
		snprintf(buf, len, ". %d active and %d backup servers left.%s %d sessions active, "
			 "%d requeued, %d remaining in queue", act, bck, bck && !act ? " Running on backup." : "",
			 ATOMIC_LOAD(&s->cur_sess), requeued, ATOMIC_LOAD(&s->q.len));
	else
		snprintf(buf, len, ". %d active and %d backup servers online.%s %d sessions requeued, "
			 "%d total in queue", act, bck, bck && !act ? " Running on backup." : "",
			 requeued, ATOMIC_LOAD(&s->q.len));
}

static const char *kind(const struct server *s)
{
	return (s->flags & SRV_F_BACKUP) ? "Backup " : "";
}

/* What a change did to the servers' usability, told to the backend (for
 * its stats), under its lock. */
static void changed(struct runtime *rt, struct server *s)
{
	backend_update(s->be);
	backend_note_state(s->be, now_of(rt));
}

/* A server's health changed: its sessions (on-marked-down), the backup
 * servers' (on-marked-up), the queues. Returns how many queued sessions
 * moved. */
static int notify(struct runtime *rt, struct server *s, int up)
{
	return rt->cenv.on_change ? rt->cenv.on_change(s, up, rt->cenv.arg) : 0;
}

static int requeue(struct runtime *rt, struct server *s)
{
	return backend_dequeue(&rt->ws[0], pbe(s));
}

#define F_FORCED_MAINT (SRV_F_MAINT | SRV_F_FMAINT | SRV_F_AGENT_MAINT)

/* ---- maintenance and drain ------------------------------------------------------ */

static void enter_maint(struct runtime *rt, struct server *s)
{
	struct check *c = check_of(s);
	char msg[600], tail[300];
	int already = (s->flags & F_FORCED_MAINT) != 0, was_up = s->up, drained;

	if (s->flags & SRV_F_FMAINT)
		return;
	backend_lock(s->be);
	drained = (s->flags & (SRV_F_FDRAIN | SRV_F_STOPPING)) != 0;
	s->flags |= SRV_F_FMAINT;
	if (!already) {
		if (c) /* its checks pause; they start again from "UP" when it leaves */
			c->fsm.health = 0;
		s->flags &= ~SRV_F_STOPPING;
		if (was_up)
			server_set_up(s, 0, now_of(rt)); /* counts the DOWN transition */
	}
	changed(rt, s);
	backend_unlock(s->be);
	if (already)
		return; /* maintenance already: nothing new to say */
	if (!was_up) {
		requeue(rt, s);
		snprintf(msg, sizeof(msg), "%sServer %s/%s was DOWN and now enters maintenance.", kind(s),
			 s->be->name, s->name);
		say(s, LOG_NOTICE, msg);
		return;
	}
	counts(tail, sizeof(tail), s, 1, notify(rt, s, 0));
	snprintf(msg, sizeof(msg), "%sServer %s/%s is going DOWN for maintenance%s.", kind(s),
		 s->be->name, s->name, tail);
	say(s, drained ? LOG_NOTICE : LOG_ALERT, msg);
	say_if_empty(s);
}

static void leave_maint(struct runtime *rt, struct server *s)
{
	struct srv_rt *x = xr(s);
	struct check *c;
	char msg[600];
	int up;

	if (!(s->flags & F_FORCED_MAINT))
		return;
	if (x->has_check && !s->check) /* disabled in the configuration: never started */
		gen_start_server_checks(rt->gen, pbe(s), x);
	c = check_of(s);
	backend_lock(s->be);
	s->flags &= ~F_FORCED_MAINT;
	if (c && check_enabled(s))
		c->fsm.health = c->fsm.rise; /* starts UP, checked soon */
	up = !(agent_enabled(s) && (s->flags & SRV_F_AGENT_DOWN)) &&
	     !(c && check_enabled(s) && !check_fsm_up(&c->fsm));
	if (up && !s->up)
		server_set_up(s, 1, now_of(rt));
	else if (up) /* "disabled" in the configuration: it warms up too (slowstart) */
		server_warm_start(s, now_of(rt));
	s->last_change_ms = now_of(rt);
	changed(rt, s);
	backend_unlock(s->be);
	snprintf(msg, sizeof(msg), "%sServer %s/%s is %s/%s (leaving forced maintenance).", kind(s),
		 s->be->name, s->name, s->up ? "UP" : "DOWN", (s->flags & SRV_F_FDRAIN) ? "DRAIN" : "READY");
	say(s, LOG_NOTICE, msg);
	if (s->up)
		notify(rt, s, 1);
}

static void enter_drain(struct runtime *rt, struct server *s)
{
	char msg[600], tail[300];
	int maint = (s->flags & F_FORCED_MAINT) != 0;

	if (s->flags & SRV_F_FDRAIN)
		return;
	backend_lock(s->be);
	s->flags |= SRV_F_FDRAIN;
	if (!maint)
		s->last_change_ms = now_of(rt);
	changed(rt, s);
	backend_unlock(s->be);
	if (maint)
		return; /* applies when it leaves maintenance */
	counts(tail, sizeof(tail), s, !s->up, requeue(rt, s));
	snprintf(msg, sizeof(msg), "%sServer %s/%s enters drain state%s.", kind(s), s->be->name,
		 s->name, tail);
	say(s, LOG_NOTICE, msg);
	say_if_empty(s);
}

static void leave_drain(struct runtime *rt, struct server *s)
{
	char msg[600];
	int maint = (s->flags & F_FORCED_MAINT) != 0;

	if (!(s->flags & SRV_F_FDRAIN))
		return;
	backend_lock(s->be);
	s->flags &= ~SRV_F_FDRAIN;
	if (!maint)
		s->last_change_ms = now_of(rt);
	changed(rt, s);
	backend_unlock(s->be);
	if (maint)
		return; /* HAProxy says nothing while it stays in maintenance */
	snprintf(msg, sizeof(msg), "%sServer %s/%s is %s (leaving forced drain).", kind(s), s->be->name,
		 s->name, s->up ? "UP" : "DOWN");
	say(s, LOG_NOTICE, msg);
	requeue(rt, s);
}

void act_server_maint(struct runtime *rt, struct server *s)
{
	enter_maint(rt, s);
	leave_drain(rt, s);
}

void act_server_drain(struct runtime *rt, struct server *s)
{
	enter_drain(rt, s);
	leave_maint(rt, s);
}

void act_server_ready(struct runtime *rt, struct server *s)
{
	leave_drain(rt, s);
	leave_maint(rt, s);
}

/* ---- forced health ---------------------------------------------------------------- */

/* Up (running or stopping) or down, and the sentence HAProxy writes with
 * reason "changed from CLI". */
static void set_health(struct runtime *rt, struct server *s, int up, int stopping)
{
	char msg[600], tail[300];
	int was_stopping = (s->flags & SRV_F_STOPPING) != 0, moved;

	backend_lock(s->be);
	if (stopping)
		s->flags |= SRV_F_STOPPING;
	else
		s->flags &= ~SRV_F_STOPPING;
	if (s->up != up)
		server_set_up(s, up, now_of(rt));
	else
		s->last_change_ms = now_of(rt);
	changed(rt, s);
	backend_unlock(s->be);
	moved = up && !stopping ? notify(rt, s, 1) : !up ? notify(rt, s, 0) : requeue(rt, s);
	counts(tail, sizeof(tail), s, !up, moved);
	snprintf(msg, sizeof(msg), "%sServer %s/%s is %s, changed from CLI%s.", kind(s), s->be->name,
		 s->name, !up ? "DOWN" : stopping ? "stopping" : "UP", tail);
	say(s, !up && !was_stopping ? LOG_ALERT : LOG_NOTICE, msg);
	if (!up || stopping)
		say_if_empty(s);
}

void act_server_health(struct runtime *rt, struct server *s, enum act_health h)
{
	struct check *c = check_of(s);

	if (c)
		c->fsm.health = h == ACT_DOWN ? 0 : c->fsm.rise + c->fsm.fall - 1;
	if (s->flags & F_FORCED_MAINT)
		return;
	if (h == ACT_UP && (!s->up || (s->flags & SRV_F_STOPPING)))
		set_health(rt, s, 1, 0);
	else if (h == ACT_STOPPING && !(s->up && (s->flags & SRV_F_STOPPING)))
		set_health(rt, s, 1, 1);
	else if (h == ACT_DOWN && s->up)
		set_health(rt, s, 0, 0);
}

const char *act_server_agent(struct runtime *rt, struct server *s, int up)
{
	int before, after;
	char msg[600], tail[300];

	if (!agent_enabled(s))
		return "agent checks are not enabled on this server.\n";
	before = s->up && !(s->flags & SRV_F_AGENT_DOWN);
	backend_lock(s->be);
	if (up)
		s->flags &= ~SRV_F_AGENT_DOWN;
	else
		s->flags |= SRV_F_AGENT_DOWN;
	changed(rt, s);
	backend_unlock(s->be);
	after = s->up && !(s->flags & SRV_F_AGENT_DOWN);
	if (before == after || (s->flags & F_FORCED_MAINT))
		return NULL;
	s->last_change_ms = now_of(rt);
	counts(tail, sizeof(tail), s, !after, notify(rt, s, after));
	snprintf(msg, sizeof(msg), "%sServer %s/%s is %s, changed from CLI%s.", kind(s), s->be->name,
		 s->name, after ? "UP" : "DOWN", tail);
	say(s, after ? LOG_NOTICE : LOG_ALERT, msg);
	if (!after)
		say_if_empty(s);
	return NULL;
}

/* ---- weights and limits ------------------------------------------------------------- */

/* HAProxy's algorithms whose weights are fixed at start (its BE_LB_PROP_DYN unset). */
static int static_algo(const struct backend *be)
{
	return be->algo == LB_STATIC_RR || (be->algo == LB_SOURCE && be->hash_type == HASH_MAP);
}

const char *act_server_weight(struct runtime *rt, struct server *s, const char *ws)
{
	char *end;
	long w;

	if (!*ws)
		return "Require <weight> or <weight%>.\n";
	w = strtol(ws, &end, 10);
	if (end == ws)
		return "Empty weight string empty or preceded by garbage";
	if (end[0] == '%' && !end[1]) {
		if (w < 0)
			return "Relative weight must be positive.\n";
		w = (w > 25600 ? 25600 : w) * s->iweight / 100; /* of the configured weight */
		if (w > 256)
			w = 256;
	} else if (w < 0 || w > 256) {
		return "Absolute weight can only be between 0 and 256 inclusive.\n";
	} else if (*end) {
		return "Trailing garbage in weight string";
	}
	if (w && w != s->iweight && static_algo(s->be))
		return "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n";
	backend_lock(s->be);
	server_set_weight(s, (int)w);
	changed(rt, s);
	backend_unlock(s->be);
	requeue(rt, s); /* a server back from weight 0 serves the queue */
	return NULL;
}

const char *act_server_maxconn(struct runtime *rt, struct server *s, const char *v)
{
	char *end;
	long m;

	if (!*v)
		return "Require <maxconn>.\n";
	errno = 0;
	m = strtol(v, &end, 10);
	if (end == v)
		return "maxconn string empty or preceded by garbage";
	if (*end)
		return "Trailing garbage in maxconn string";
	backend_lock(s->be);
	s->maxconn = (int)(m > 0x7fffffff ? 0x7fffffff : m < -0x7fffffff ? -0x7fffffff : m);
	backend_unlock(s->be);
	requeue(rt, s); /* more slots: the queue's oldest get them now */
	return NULL;
}

/* ---- addresses ----------------------------------------------------------------- */

/* An IPv4 or IPv6 literal (no name resolution, as HAProxy's str2ip2). */
static int parse_ip(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* Gives sa the address of ip (keeping sa's port). */
static void set_ip(struct sockaddr_storage *sa, const struct sockaddr_storage *ip)
{
	int port = addr_port((struct sockaddr *)sa);

	*sa = *ip;
	addr_set_port((struct sockaddr *)sa, port);
}

static int same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	char x[64], y[64];

	addr_ip_str((const struct sockaddr *)a, x, sizeof(x));
	addr_ip_str((const struct sockaddr *)b, y, sizeof(y));
	return a->ss_family == b->ss_family && !strcmp(x, y);
}

void act_server_addr(struct runtime *rt, struct server *s, const char *addr, const char *port,
		     char *msg, size_t len)
{
	struct srv_rt *x = xr(s);
	struct sockaddr_storage cur, ip;
	int omitted, changed_ip = 0, new_port = -1;
	size_t n = 0;
	char was[64];

	(void)rt;
	msg[0] = 0;
	server_copy_addr(s, &cur, &omitted);
	if (addr) {
		addr_ip_str((struct sockaddr *)&cur, was, sizeof(was));
		if (parse_ip(addr, &ip)) {
			n += (size_t)snprintf(msg + n, len - n, "Invalid addr '%s'", addr);
			goto out;
		}
		if (same_ip(&cur, &ip)) {
			n += (size_t)snprintf(msg + n, len - n, "no need to change the addr");
		} else {
			set_ip(&cur, &ip);
			changed_ip = 1;
			n += (size_t)snprintf(msg + n, len - n, "IP changed from '%s' to '%s'", was, addr);
		}
	}
	if (port) {
		char *end;
		long p;
		int old = omitted ? 0 : addr_port((struct sockaddr *)&cur);
		if (addr)
			n += (size_t)snprintf(msg + n, len - n, ", ");
		errno = 0;
		p = strtol(port, &end, 10);
		if (errno || end == port || p < 0 || p > 65535 || *port == '+' || *port == '-') {
			/* ferry has no port offsets (HAProxy's "+N"/"-N"): refused as a number */
			n += (size_t)snprintf(msg + n, len - n, "problem converting port '%s' to an int", port);
			goto out;
		}
		if (p != old || omitted) {
			new_port = (int)p;
			n += (size_t)snprintf(msg + n, len - n, "port changed from '%s%d' to '%ld'",
					      omitted ? "+" : "", old, p);
		} else {
			n += (size_t)snprintf(msg + n, len - n, "no need to change the port");
		}
	}
out:
	if (n < len)
		snprintf(msg + n, len - n, " by 'stats socket command'\n");
	if (!changed_ip && new_port < 0)
		return;
	if (new_port >= 0)
		addr_set_port((struct sockaddr *)&cur, new_port);
	backend_lock(s->be);
	server_set_addr(s, &cur, addr_len((struct sockaddr *)&cur), new_port >= 0 ? 0 : omitted);
	backend_unlock(s->be);
	/* the checks follow the server unless they were given their own */
	if (s->check && !x->cs->has_check_addr) {
		if (changed_ip)
			set_ip(&x->check.addr, &cur);
		if (new_port >= 0 && !x->check.port)
			addr_set_port((struct sockaddr *)&x->check.addr, new_port);
		x->check.addrlen = addr_len((struct sockaddr *)&x->check.addr);
	}
	if (s->agent && changed_ip)
		set_ip(&x->agent.addr, &cur);
}

void act_server_check_port(struct runtime *rt, struct server *s, const char *port, int agent,
			   char *msg, size_t len)
{
	struct srv_rt *x = xr(s);
	char *end;
	long p;

	(void)rt;
	msg[0] = 0;
	if (agent ? !agent_enabled(s) || !s->agent : !check_enabled(s) || !s->check) {
		snprintf(msg, len, "%s checks are not enabled on this server", agent ? "agent" : "health");
		return;
	}
	p = strtol(port, &end, 10);
	if (end == port || *end) {
		snprintf(msg, len, "provided port is not an integer");
		return;
	}
	if (p < 0 || p > 65535) {
		snprintf(msg, len, "provided port is invalid");
		return;
	}
	if (agent) {
		addr_set_port((struct sockaddr *)&x->agent.addr, (int)p);
	} else {
		addr_set_port((struct sockaddr *)&x->check.addr, (int)p);
		x->check.port = (int)p;
	}
}

/* ---- checks on and off ------------------------------------------------------------ */

const char *act_server_check_enable(struct runtime *rt, struct server *s, int on)
{
	(void)rt;
	if (on && !xr(s)->has_check)
		return "Health check was not configured on this server, cannot enable.\n";
	if (on)
		s->flags &= ~SRV_F_NOCHECK;
	else
		s->flags |= SRV_F_NOCHECK; /* the server keeps its state; checks stop */
	return NULL;
}

const char *act_server_agent_enable(struct runtime *rt, struct server *s, int on)
{
	if (on && !xr(s)->has_agent)
		return "Agent was not configured on this server, cannot enable.\n";
	backend_lock(s->be);
	if (on) {
		s->flags &= ~SRV_F_NOAGENT;
	} else {
		/* as HAProxy: a disabled agent no longer keeps the server down */
		s->flags |= SRV_F_NOAGENT;
		s->flags &= ~SRV_F_AGENT_DOWN;
	}
	changed(rt, s);
	backend_unlock(s->be);
	if (!on)
		requeue(rt, s);
	return NULL;
}

/* ---- counters ------------------------------------------------------------------- */

void act_clear_counters(struct runtime *rt, int all)
{
	struct generation *g = rt->gen;

	for (int i = 0; i < g->nfe; i++) {
		counters_clear(g->fes[i].ctr, rt->nw, !all);
		ATOMIC_STORE(&g->fes[i].max_conns_seen, 0);
	}
	for (int b = 0; b < g->nbe; b++) {
		struct backend *be = &g->bes[b]->lb;
		counters_clear(be->ctr, rt->nw, !all);
		ATOMIC_STORE(&be->max_conns_seen, 0);
		ATOMIC_STORE(&be->q.max, 0);
		for (int i = 0; i < be->nsrv; i++) {
			struct server *s = be->srv[i];
			counters_clear(s->ctr, rt->nw, !all);
			ATOMIC_STORE(&s->max_conns_seen, 0);
			ATOMIC_STORE(&s->q.max, 0);
			if (all) { /* HAProxy clears the whole server counters block */
				s->down_trans = 0;
				xr(s)->check.failed = 0;
			}
		}
	}
}
