#include "health/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/addr.h"
#include "core/atomic.h"

static void check_timer_cb(struct loop *l, struct timer *t);

const int check_hist_ms[CHECK_HIST_N] = { 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 };

const char *check_status_reason(const char *st)
{
	static const struct { const char *st, *reason; } t[] = {
		{ "INI", "Initializing" },
		{ "L4OK", "Layer4 check passed" }, { "L4TOUT", "Layer4 timeout" },
		{ "L4CON", "Layer4 connection problem" }, { "L6OK", "Layer6 check passed" },
		{ "L6TOUT", "Layer6 timeout" }, { "L6RSP", "Layer6 invalid response" },
		{ "L7OK", "Layer7 check passed" }, { "L7OKC", "Layer7 check conditionally passed" },
		{ "L7TOUT", "Layer7 timeout" }, { "L7RSP", "Layer7 invalid response" },
		{ "L7STS", "Layer7 wrong status" }, { "SOCKERR", "Socket error" },
		{ "HANA", "Health analyze" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(t[i].st, st))
			return t[i].reason;
	return "Unknown";
}

static int64_t jitter(const struct check *c, int64_t v)
{
	int p = c->env->spread_pct;

	if (!p || v <= 0)
		return v;
	/* spread-checks: up to ±p/2 % around the interval */
	return v + (v * (int64_t)((rand() % (2 * p + 1)) - p)) / 200;
}

void health_log(const struct log_targets *const logs[2], int level, int proc_level, const char *msg)
{
	for (int i = 0; i < 2; i++)
		if (logs[i])
			log_send(logs[i], level, msg);
	if (proc_level >= 0)
		log_proc(proc_level, "%s", msg);
}

void health_log_if_empty(const struct log_targets *const logs[2], const struct backend *be)
{
	char msg[300];
	int act, bck;

	/* HAProxy's proxy_type_str(): a listen section is a "proxy" */
	const char *kind = (be->cfg->cap & PX_CAP_FE) ? "proxy" : "backend";

	backend_count_usable(be, &act, &bck);
	if (act || bck)
		return;
	snprintf(msg, sizeof(msg), "%s %s has no server available!", kind, be->name);
	health_log(logs, LOG_EMERG, -1, msg);
	log_proc(1, "%s '%s' has no server available!", kind, be->name);
}

/* HAProxy's ", reason: Layer7 wrong status, code: 554, info: \"go away\"":
 * a code for the statuses that carry layer 5-7 data, and the info with
 * non-printable bytes, '<', '>' and '"' written as <XX> (chunk_asciiencode). */
static void reason_part(const struct check *c, char *buf, size_t len)
{
	int code = !strcmp(c->status, "L7OK") || !strcmp(c->status, "L7OKC") || !strcmp(c->status, "L7STS");
	size_t n = (size_t)snprintf(buf, len, ", reason: %s", check_status_reason(c->status));

	if (code && n < len)
		n += (size_t)snprintf(buf + n, len - n, ", code: %d", c->code);
	if (c->info[0] && n < len) {
		n += (size_t)snprintf(buf + n, len - n, ", info: \"");
		for (const unsigned char *p = (const unsigned char *)c->info; *p && n < len; p++) {
			if (*p < 0x20 || *p > 0x7e || *p == '<' || *p == '>' || *p == '"')
				n += (size_t)snprintf(buf + n, len - n, "<%02X>", *p);
			else
				buf[n++] = (char)*p;
		}
		if (n < len)
			n += (size_t)snprintf(buf + n, len - n, "\"");
	}
	if (n < len && c->duration >= 0) /* HANA has none (-1) */
		snprintf(buf + n, len - n, ", check duration: %dms", c->duration);
	else if (n >= len && len)
		buf[len - 1] = 0;
}

void check_describe_change(const struct check *c, int up, int requeued, char *buf, size_t len)
{
	const struct server *s = c->srv;
	const struct backend *be = s->be;
	const char *kind = (s->flags & SRV_F_BACKUP) ? "Backup " : "";
	char reason[600] = "";
	int act, bck;

	backend_count_usable(be, &act, &bck);
	/* with log-health-checks the reason was on the check's own line */
	if (!(c->pxcfg->options & PXO_LOGHCHK))
		reason_part(c, reason, sizeof(reason));
	if (up)
		snprintf(buf, len,
			 "%sServer %s/%s is UP%s. "
			 "%d active and %d backup servers online.%s %d sessions requeued, %d total in queue.",
			 kind, be->name, s->name, reason, act, bck, bck && !act ? " Running on backup." : "",
			 requeued, ATOMIC_LOAD(&s->q.len));
	else
		snprintf(buf, len,
			 "%sServer %s/%s is DOWN%s. "
			 "%d active and %d backup servers left.%s %d sessions active, %d requeued, %d remaining in queue.",
			 kind, be->name, s->name, reason, act, bck, bck && !act ? " Running on backup." : "",
			 ATOMIC_LOAD(&s->cur_sess), requeued, ATOMIC_LOAD(&s->q.len));
}

/* option log-health-checks: one line whenever the result or the counter moves. */
static void log_health(const struct check *c, int ok, int old_health)
{
	char msg[900], reason[600];
	const struct check_fsm *f = &c->fsm;
	int up = check_fsm_up(f);

	if (!(c->pxcfg->options & PXO_LOGHCHK))
		return;
	if (ok == c->last_ok && f->health == old_health)
		return;
	reason_part(c, reason, sizeof(reason));
	snprintf(msg, sizeof(msg), "Health check for server %s/%s %s%s, status: %d/%d %s.",
		 c->srv->be->name, c->srv->name,
		 !ok ? "failed" : !strcmp(c->status, "L7OKC") ? "conditionally succeeded" : "succeeded", reason,
		 up ? f->health - f->rise + 1 : f->health, up ? f->fall : f->rise,
		 up ? (c->srv->uweight ? "UP" : "DRAIN") : "DOWN");
	health_log(c->logs, LOG_NOTICE, -1, msg);
}

static void schedule(struct check *c)
{
	int64_t next = check_fsm_interval(&c->fsm, c->inter, c->fastinter, c->downinter);

	loop_timer_arm(c->env->loop, &c->timer, c->env->loop->now_ms + (uint64_t)jitter(c, next));
}

/* As HAProxy's srv_update_status: the new state, then what follows from it
 * (sessions shut down, queues moved), then the sentence that counts them. */
static void announce(struct check *c, int up)
{
	char msg[900];
	int requeued = 0, was_stopping = 0;

	backend_lock(c->srv->be);
	if (!up && c->type == CHK_HTTP) { /* HAProxy's STOPPING gives way to STOPPED */
		was_stopping = (c->srv->flags & SRV_F_STOPPING) != 0;
		c->srv->flags &= ~SRV_F_STOPPING;
	}
	server_set_up(c->srv, up, c->env->loop->now_ms);
	backend_unlock(c->srv->be);
	if (c->env->on_change)
		requeued = c->env->on_change(c->srv, up, c->env->arg);
	check_describe_change(c, up, requeued, msg, sizeof(msg));
	/* as HAProxy, no alert for a server that was already stopping */
	health_log(c->logs, up || was_stopping ? LOG_NOTICE : LOG_ALERT, 4, msg);
	if (!up)
		health_log_if_empty(c->logs, c->srv->be);
}

/* http-check disable-on-404 (HAProxy's check_notify_stopping and
 * srv_set_running): an UP server that passed conditionally (L7OKC) stops
 * taking new connections (NOLB) but keeps its sessions; a plain pass
 * brings it back. */
static void http_nolb(struct check *c, int ok, const char *status)
{
	struct server *s = c->srv;
	int cond = !strcmp(status, "L7OKC"), stopping = (s->flags & SRV_F_STOPPING) != 0;
	char msg[900], reason[600];
	int act, bck;

	if (!ok || !s->up || !check_fsm_up(&c->fsm) || cond == stopping ||
	    (s->flags & (SRV_F_MAINT | SRV_F_FMAINT)))
		return;
	backend_lock(s->be);
	if (cond)
		s->flags |= SRV_F_STOPPING;
	else
		s->flags &= ~SRV_F_STOPPING;
	s->last_change_ms = c->env->loop->now_ms;
	backend_update(s->be);
	backend_note_state(s->be, c->env->loop->now_ms);
	backend_unlock(s->be);
	if (!cond) {
		announce(c, 1);
		return;
	}
	if (c->env->on_capacity) /* its queue goes to the other servers */
		c->env->on_capacity(s, c->env->arg);
	backend_count_usable(s->be, &act, &bck);
	reason[0] = 0;
	if (!(c->pxcfg->options & PXO_LOGHCHK))
		reason_part(c, reason, sizeof(reason));
	snprintf(msg, sizeof(msg),
		 "%sServer %s/%s is stopping%s. %d active and %d backup servers online.%s 0 sessions requeued, %d total in queue.",
		 (s->flags & SRV_F_BACKUP) ? "Backup " : "", s->be->name, s->name, reason, act, bck,
		 bck && !act ? " Running on backup." : "", ATOMIC_LOAD(&s->q.len));
	health_log(c->logs, LOG_NOTICE, 4, msg);
	health_log_if_empty(c->logs, s->be);
}

static void record(struct check *c, const char *status, const char *info)
{
	c->running = 0;
	loop_timer_cancel(c->env->loop, &c->timer);
	c->status = status;
	snprintf(c->info, sizeof(c->info), "%s", info ? info : "");
	c->duration = (int)(c->env->loop->now_ms - c->started);
	{
		int b = 0;
		while (b < CHECK_HIST_N && c->duration > check_hist_ms[b])
			b++;
		c->hist[b]++;
		c->hist_sum_ms += (uint64_t)c->duration;
	}
}

void check_done(struct check *c, int ok, const char *status, const char *info)
{
	int old = c->fsm.health;
	enum fsm_change ch;

	record(c, status, info);
	if (!ok && old > 0) /* as HAProxy: the failures that took health down */
		c->failed++;
	if (ok) /* as HAProxy, a passing check clears observe's error count */
		__atomic_store_n(&c->srv->consec_errors, 0, __ATOMIC_RELAXED);
	ch = check_fsm_result(&c->fsm, ok);
	/* The server's state may disagree with the counter after "set server
	 * health" or "enable health": as HAProxy, a failure at 0 takes it
	 * down, a success reaching rise brings it up. */
	if (ch == FSM_SAME && !ok && !c->fsm.health && c->srv->up)
		ch = FSM_WENT_DOWN;
	else if (ch == FSM_SAME && ok && check_fsm_up(&c->fsm) && !c->srv->up)
		ch = FSM_WENT_UP;
	log_health(c, ok, old);
	c->last_ok = ok;
	if (ch != FSM_SAME)
		announce(c, ch == FSM_WENT_UP);
	if (c->type == CHK_HTTP)
		http_nolb(c, ok, status);
	schedule(c);
}

void check_done_role_change(struct check *c, const char *status, const char *info)
{
	int old = c->fsm.health, was_up = check_fsm_up(&c->fsm);

	record(c, status, info);
	if (old > 0)
		c->failed++;
	c->fsm.health = 0; /* no fall: it must not take new connections */
	log_health(c, 0, old);
	c->last_ok = 0;
	if (was_up)
		announce(c, 0);
	if (c->env->on_role_change)
		c->env->on_role_change(c->srv, c->env->arg);
	schedule(c);
}

void check_observed(struct check *c, int errors, const char *last)
{
	uint64_t when = c->env->loop->now_ms + (uint64_t)c->fastinter;
	int old = c->fsm.health;
	enum fsm_change ch;

	if (c->on_error != SRV_ONERR_FASTINTER) {
		/* a running check's own result comes later and replaces this one */
		c->status = "HANA";
		snprintf(c->info, sizeof(c->info), "Detected %d consecutive errors, last one was: %s", errors, last);
		c->duration = -1;
		ch = check_fsm_observed(&c->fsm, c->on_error);
		if (ch == FSM_SAME && !c->fsm.health && c->srv->up)
			ch = FSM_WENT_DOWN; /* "set server health" made them disagree, as check_done */
		if (old > 0 || c->on_error == SRV_ONERR_MARK_DOWN)
			c->failed++; /* HAProxy: when health was above 0 (mark-down sets it to rise first) */
		log_health(c, 0, old);
		c->last_ok = 0;
		if (ch == FSM_WENT_DOWN)
			announce(c, 0);
	}
	/* every mode brings the next check within fastinter */
	if (!c->running && (!timer_armed(&c->timer) || c->timer.hn.key > when))
		loop_timer_arm(c->env->loop, &c->timer, when);
}

static void run(struct check *c)
{
	c->started = c->env->loop->now_ms;
	c->running = 1;
	c->code = 0;
	if (c->type == CHK_PGSQL)
		pgcheck_run(c);
	else
		tcpcheck_run(c);
}

static void check_timer_cb(struct loop *l, struct timer *t)
{
	struct check *c = (struct check *)((char *)t - offsetof(struct check, timer));

	(void)l;
	if (c->running) {
		if (c->type == CHK_PGSQL)
			pgcheck_timeout(c);
		else
			tcpcheck_timeout(c);
	} else if (c->srv->flags & (SRV_F_MAINT | SRV_F_FMAINT | SRV_F_RMAINT | SRV_F_NOCHECK)) {
		/* in maintenance, checks pause (as HAProxy's); "disable health"
		 * stops them until "enable health" */
		schedule(c);
	} else {
		run(c);
	}
}

int check_start(struct check *c, struct server *srv, const struct cfg_server *cs,
		const struct cfg_proxy *be, const struct check_env *env,
		const struct log_targets *own, const struct log_targets *global,
		uint64_t first_delay)
{
	memset(c, 0, sizeof(*c));
	c->srv = srv;
	c->env = env;
	c->pxcfg = be;
	c->logs[0] = own;
	c->logs[1] = global;
	c->inter = cs->o.inter;
	c->fastinter = cs->o.fastinter ? cs->o.fastinter : cs->o.inter;
	c->downinter = cs->o.downinter ? cs->o.downinter : cs->o.inter;
	c->to_connect = be->to.connect;
	c->to_check = be->to.check;
	c->type = be->check_type;
	c->rules = be->check_type == CHK_HTTP ? &be->hrules : &be->rules;
	c->status = "INI";
	c->last_ok = -1; /* the first result is always news */
	io_init(&c->io, -1, NULL);
	timer_init(&c->timer, check_timer_cb);
	check_fsm_init(&c->fsm, cs->o.rise, cs->o.fall);
	memcpy(&c->addr, cs->has_check_addr ? &cs->check_addr.ss : &cs->addr.ss, sizeof(c->addr));
	c->addrlen = addr_len((struct sockaddr *)&c->addr);
	c->port = cs->o.check_port;
	c->on_error = cs->o.on_error;
	c->pp_opts = cs->o.pp_opts;
	/* As HAProxy's init_srv_check: a server's send-proxy applies to its
	 * checks too when they go to its own address and port (and it is not
	 * a dynamic server); check-send-proxy always. */
	c->send_proxy = cs->o.check_send_proxy ||
			((cs->o.pp_opts & (SRV_PP_V1 | SRV_PP_V2)) && !cs->o.check_port && !cs->has_check_addr &&
			 !(srv->flags & SRV_F_DYNAMIC));
	{
		int port = cs->o.check_port ? cs->o.check_port
			   : cs->has_check_addr && cs->check_addr.port_lo ? cs->check_addr.port_lo
			   : cs->addr.port_lo;
		addr_set_port((struct sockaddr *)&c->addr, port);
	}
	srv->check = c;
	loop_timer_arm(env->loop, &c->timer, env->loop->now_ms + first_delay);
	return 0;
}

void check_stop(struct check *c)
{
	if (c->type == CHK_PGSQL)
		pgcheck_release(c);
	else
		tcpcheck_abort(c);
	c->running = 0;
	loop_timer_cancel(c->env->loop, &c->timer);
	free(c->rbuf);
	c->rbuf = NULL;
}
