#include "health/agent.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "core/addr.h"
#include "event/sock.h"

int agent_apply(struct server *srv, const char *reply)
{
	unsigned before = srv->flags;
	int weight = srv->eweight, maxconn = srv->maxconn;
	char word[64];
	const char *p = reply;

	while (*p) {
		size_t n = 0;
		while (*p && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (*p == '#')
			break; /* the rest is a comment ("down#disk full") */
		while (*p && !isspace((unsigned char)*p) && *p != ',' && *p != '#' && n < sizeof(word) - 1)
			word[n++] = (char)tolower((unsigned char)*p++);
		word[n] = 0;
		if (!n)
			continue;
		if (!strcmp(word, "up")) {
			srv->flags &= ~SRV_F_AGENT_DOWN;
		} else if (!strcmp(word, "down") || !strcmp(word, "fail") || !strcmp(word, "failed") ||
			   !strcmp(word, "stopped")) {
			srv->flags |= SRV_F_AGENT_DOWN;
		} else if (!strcmp(word, "maint")) {
			srv->flags |= SRV_F_AGENT_MAINT;
		} else if (!strcmp(word, "ready")) {
			srv->flags &= ~SRV_F_AGENT_MAINT;
			if (!weight)
				weight = srv->uweight;
		} else if (!strcmp(word, "drain")) {
			weight = 0;
		} else if (word[n - 1] == '%') {
			long pct = strtol(word, NULL, 10);
			if (pct < 0)
				pct = 0;
			weight = (int)((long)srv->uweight * pct / 100);
			if (weight > 256)
				weight = 256;
			if (pct > 0 && !weight)
				weight = 1;
		} else if (!strncmp(word, "maxconn:", 8)) {
			maxconn = atoi(word + 8);
		}
	}
	srv->maxconn = maxconn < 0 ? 0 : maxconn;
	if (weight != srv->eweight)
		server_set_weight(srv, weight);
	else if (before != srv->flags)
		backend_update(srv->be);
	return (before != srv->flags ? 1 : 0) | (weight != srv->eweight || maxconn != srv->maxconn ? 2 : 0);
}

static void agent_io(struct loop *l, struct io *io, uint32_t ev);

static void schedule(struct agent *a)
{
	loop_timer_arm(a->env->loop, &a->timer, a->env->loop->now_ms + (uint64_t)a->inter);
}

static void finish(struct agent *a, int got_reply)
{
	if (a->io.fd >= 0) {
		sock_set_reset_on_close(a->io.fd);
		loop_io_close(a->env->loop, &a->io);
	}
	a->running = 0;
	if (got_reply) {
		unsigned was_usable = srv_usable(a->srv);
		char msg[700];
		a->buf[a->len] = 0;
		a->buf[strcspn(a->buf, "\r\n")] = 0;
		int changed;
		backend_lock(a->srv->be);
		changed = agent_apply(a->srv, a->buf);
		backend_unlock(a->srv->be);
		if (!changed) {
			schedule(a);
			return;
		}
		if (was_usable != (unsigned)srv_usable(a->srv)) {
			int act, bck;
			backend_count_usable(a->srv->be, &act, &bck);
			snprintf(msg, sizeof(msg), "Server %s/%s is %s, reason: agent replied \"%s\". "
				 "%d active and %d backup servers %s.", a->srv->be->name, a->srv->name,
				 srv_usable(a->srv) ? "UP" : "DOWN", a->buf, act, bck,
				 srv_usable(a->srv) ? "online" : "left");
			health_log(a->logs, srv_usable(a->srv) ? LOG_NOTICE : LOG_ALERT, 4, msg);
			if (!srv_usable(a->srv))
				health_log_if_empty(a->logs, a->srv->be);
		}
		if (a->env->on_change)
			a->env->on_change(a->srv, srv_usable(a->srv), a->env->arg);
	}
	schedule(a);
}

static void agent_timer(struct loop *l, struct timer *t)
{
	struct agent *a = (struct agent *)((char *)t - offsetof(struct agent, timer));
	int fd;

	(void)l;
	if (a->running) { /* no full reply in time: use what came, if anything */
		finish(a, a->len > 0);
		return;
	}
	fd = sock_connect((struct sockaddr *)&a->addr, addr_len((struct sockaddr *)&a->addr));
	if (fd < 0) {
		schedule(a);
		return;
	}
	a->len = 0;
	a->running = 1;
	io_init(&a->io, fd, agent_io);
	loop_io_set(a->env->loop, &a->io, EPOLLOUT);
	loop_timer_arm(a->env->loop, &a->timer, a->env->loop->now_ms + (uint64_t)a->inter);
}

static void agent_io(struct loop *l, struct io *io, uint32_t ev)
{
	struct agent *a = (struct agent *)((char *)io - offsetof(struct agent, io));

	(void)l;
	if (io->events & EPOLLOUT) {
		if (sock_error(io->fd)) {
			finish(a, 0);
			return;
		}
		if (a->send && *a->send)
			send(io->fd, a->send, strlen(a->send), MSG_NOSIGNAL | MSG_DONTWAIT);
		loop_io_set(a->env->loop, io, EPOLLIN);
		return;
	}
	(void)ev;
	for (;;) {
		ssize_t n = recv(io->fd, a->buf + a->len, sizeof(a->buf) - 1 - a->len, MSG_DONTWAIT);
		if (n > 0) {
			a->len += (size_t)n;
			if (memchr(a->buf, '\n', a->len) || a->len >= sizeof(a->buf) - 1) {
				finish(a, 1);
				return;
			}
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		finish(a, a->len > 0); /* closed: the reply is what came */
		return;
	}
}

void agent_start(struct agent *a, struct server *srv, const struct cfg_server *cs,
		 const struct check_env *env, const struct log_targets *own,
		 const struct log_targets *global, uint64_t first_delay)
{
	memset(a, 0, sizeof(*a));
	a->srv = srv;
	a->env = env;
	a->logs[0] = own;
	a->logs[1] = global;
	a->inter = cs->o.agent_inter ? cs->o.agent_inter : cs->o.inter;
	a->send = cs->o.agent_send;
	memcpy(&a->addr, &cs->addr.ss, sizeof(a->addr));
	addr_set_port((struct sockaddr *)&a->addr, cs->o.agent_port);
	io_init(&a->io, -1, agent_io);
	timer_init(&a->timer, agent_timer);
	loop_timer_arm(env->loop, &a->timer, env->loop->now_ms + first_delay);
}

void agent_stop(struct agent *a)
{
	if (a->io.fd >= 0)
		loop_io_close(a->env->loop, &a->io);
	loop_timer_cancel(a->env->loop, &a->timer);
}
