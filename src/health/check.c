#include "health/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "core/addr.h"
#include "event/sock.h"

static void check_io_cb(struct loop *l, struct io *io, uint32_t ev);
static void check_timer_cb(struct loop *l, struct timer *t);

static int64_t jitter(const struct check *c, int64_t v)
{
	int p = c->env->spread_pct;

	if (!p || v <= 0)
		return v;
	/* spread-checks: up to ±p/2 % around the interval */
	return v + (v * (int64_t)((rand() % (2 * p + 1)) - p)) / 200;
}

static int64_t check_timeout(const struct check *c)
{
	/* Without "timeout check", inter bounds the whole check; with it the
	 * connect part is bounded by min(timeout connect, inter). */
	if (c->to_check && c->to_connect && c->to_connect < c->inter)
		return c->to_connect;
	return c->inter;
}

/* To the backend's log targets at `level`, and to stderr as HAProxy does:
 * [WARNING] for a server state change, [ALERT] for an empty backend. */
static void send_both(const struct check *c, int level, const char *msg)
{
	for (int i = 0; i < 2; i++)
		if (c->logs[i])
			log_send(c->logs[i], level, msg);
	log_proc(level <= LOG_EMERG ? 1 : 4, "%s", msg);
}

void check_describe_change(const struct check *c, int up, char *buf, size_t len)
{
	const struct backend *be = c->srv->be;
	int act, bck;

	backend_count_usable(be, &act, &bck);
	if (up)
		snprintf(buf, len,
			 "Server %s/%s is UP, reason: %s, check duration: %dms. "
			 "%d active and %d backup servers online. %d sessions requeued, %d total in queue.",
			 be->name, c->srv->name, "Layer4 check passed", c->duration, act, bck, 0,
			 be->nqueued);
	else
		snprintf(buf, len,
			 "Server %s/%s is DOWN, reason: %s, info: \"%s\", check duration: %dms. "
			 "%d active and %d backup servers left. %d sessions active, %d requeued, %d remaining in queue.",
			 be->name, c->srv->name,
			 !strcmp(c->status, "L4TOUT") ? "Layer4 timeout" : "Layer4 connection problem",
			 c->info, c->duration, act, bck, c->srv->cur_conns, 0, be->nqueued);
}

static void schedule(struct check *c)
{
	int64_t next = check_fsm_interval(&c->fsm, c->inter, c->fastinter, c->downinter);

	loop_timer_arm(c->env->loop, &c->timer, c->env->loop->now_ms + (uint64_t)jitter(c, next));
}

static void finish(struct check *c, int ok, const char *status, const char *info)
{
	enum fsm_change ch;
	char msg[512];

	if (c->running)
		loop_io_close(c->env->loop, &c->io);
	c->running = 0;
	c->status = status;
	snprintf(c->info, sizeof(c->info), "%s", info);
	c->duration = (int)(c->env->loop->now_ms - c->started);
	ch = check_fsm_result(&c->fsm, ok);
	if (ch != FSM_SAME) {
		int act, bck;
		server_set_up(c->srv, ch == FSM_WENT_UP, c->env->loop->now_ms);
		check_describe_change(c, ch == FSM_WENT_UP, msg, sizeof(msg));
		send_both(c, ch == FSM_WENT_UP ? LOG_NOTICE : LOG_ALERT, msg);
		backend_count_usable(c->srv->be, &act, &bck);
		if (!act && !bck) {
			snprintf(msg, sizeof(msg), "backend %s has no server available!", c->srv->be->name);
			send_both(c, LOG_EMERG, msg);
		}
		if (c->env->on_change)
			c->env->on_change(c->srv, c->env->arg);
	}
	schedule(c);
}

static void run(struct check *c)
{
	int fd;

	c->started = c->env->loop->now_ms;
	fd = sock_connect((struct sockaddr *)&c->addr, c->addrlen);
	if (fd < 0) {
		finish(c, 0, "L4CON", strerror(-fd));
		return;
	}
	io_init(&c->io, fd, check_io_cb);
	c->running = 1;
	if (loop_io_set(c->env->loop, &c->io, EPOLLOUT) == -1) {
		finish(c, 0, "L4CON", strerror(errno));
		return;
	}
	loop_timer_arm(c->env->loop, &c->timer, c->started + (uint64_t)check_timeout(c));
}

static void check_io_cb(struct loop *l, struct io *io, uint32_t ev)
{
	struct check *c = (struct check *)((char *)io - offsetof(struct check, io));
	int e = sock_error(io->fd);

	(void)l;
	(void)ev;
	loop_timer_cancel(c->env->loop, &c->timer);
	if (e)
		finish(c, 0, "L4CON", strerror(e));
	else
		finish(c, 1, "L4OK", "");
}

static void check_timer_cb(struct loop *l, struct timer *t)
{
	struct check *c = (struct check *)((char *)t - offsetof(struct check, timer));

	(void)l;
	if (c->running)
		finish(c, 0, "L4TOUT", "Connection timed out");
	else if (c->srv->flags & SRV_F_MAINT)
		schedule(c);
	else
		run(c);
}

int check_start(struct check *c, struct server *srv, const struct cfg_server *cs,
		const struct cfg_proxy *be, const struct check_env *env,
		const struct log_targets *own, const struct log_targets *global,
		uint64_t first_delay)
{
	memset(c, 0, sizeof(*c));
	c->srv = srv;
	c->env = env;
	c->logs[0] = own;
	c->logs[1] = global;
	c->inter = cs->o.inter;
	c->fastinter = cs->o.fastinter ? cs->o.fastinter : cs->o.inter;
	c->downinter = cs->o.downinter ? cs->o.downinter : cs->o.inter;
	c->to_connect = be->to.connect;
	c->to_check = be->to.check;
	c->status = "INI";
	io_init(&c->io, -1, check_io_cb);
	timer_init(&c->timer, check_timer_cb);
	check_fsm_init(&c->fsm, cs->o.rise, cs->o.fall);
	memcpy(&c->addr, cs->has_check_addr ? &cs->check_addr.ss : &cs->addr.ss, sizeof(c->addr));
	c->addrlen = addr_len((struct sockaddr *)&c->addr);
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
	if (c->running)
		loop_io_close(c->env->loop, &c->io);
	c->running = 0;
	loop_timer_cancel(c->env->loop, &c->timer);
}
