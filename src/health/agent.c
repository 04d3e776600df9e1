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
#include "core/atomic.h"
#include "event/sock.h"

#define AGENT_MAXCONN_MAX 10000000 /* as the configuration's server maxconn */

/* "N%": a weight relative to the configured one, as HAProxy's
 * server_parse_weight_change_request: at most 25600% (what a larger number
 * becomes, LONG_MAX from strtol included), at most 256. Returns NULL with *w
 * set, or HAProxy's complaint. */
static const char *parse_pct(const struct server *srv, const char *word, int *w)
{
	char *end;
	long v = strtol(word, &end, 10); /* word starts with a digit */

	if (end[0] != '%' || end[1])
		return "Trailing garbage in weight string";
	if (v < 0)
		return "Relative weight must be positive.";
	if (v > 25600)
		v = 25600;
	*w = (int)((long)srv->iweight * v / 100); /* of the configured weight, as HAProxy */
	if (*w > 256)
		*w = 256;
	if (v > 0 && !*w && srv->iweight)
		*w = 1; /* ferry: a non-zero percentage keeps the server in rotation */
	return NULL;
}

/* "maxconn:N", N already past the colon. HAProxy's complaints for what it
 * cannot read; a number beyond what the configuration accepts is refused
 * here (HAProxy stores it truncated to an int). Returns NULL with *m set. */
static const char *parse_maxconn(const char *num, int *m, char *why, size_t wlen)
{
	char *end;
	long v;

	if (!*num)
		return "Require <maxconn>.";
	errno = 0;
	v = strtol(num, &end, 10);
	if (end == num)
		return "maxconn string empty or preceded by garbage";
	if (*end)
		return "Trailing garbage in maxconn string";
	if (errno == ERANGE || v < 0 || v > AGENT_MAXCONN_MAX) {
		snprintf(why, wlen, "maxconn %s out of range (0-%d)", num, AGENT_MAXCONN_MAX);
		return why;
	}
	*m = (int)v;
	return NULL;
}

static void note(char *warn, size_t wlen, const char *kind, const char *msg)
{
	if (warn && wlen && !warn[0])
		snprintf(warn, wlen, "%s : %s", kind, msg);
}

int agent_apply(struct server *srv, const char *reply, char *warn, size_t wlen)
{
	const unsigned old_flags = srv->flags;
	const int old_weight = srv->uweight, old_maxconn = srv->maxconn;
	int weight = old_weight, maxconn = old_maxconn, res = 0;
	const char *pct = NULL, *mc = NULL, *admin = NULL;
	char buf[512], why[96], *save = NULL;

	if (warn && wlen)
		warn[0] = 0;
	snprintf(buf, sizeof(buf), "%s", reply);
	buf[strcspn(buf, "#")] = 0; /* a comment follows: "down#disk full" */
	/* Words are separated by spaces, tabs or commas. As in HAProxy, the last
	 * word of a kind wins and the admin word applies after the weight
	 * ("50% drain" drains). */
	for (char *word = strtok_r(buf, " \t,", &save); word; word = strtok_r(NULL, " \t,", &save)) {
		if (!strcasecmp(word, "up"))
			srv->flags &= ~SRV_F_AGENT_DOWN;
		else if (!strcasecmp(word, "down") || !strcasecmp(word, "fail") ||
			 !strcasecmp(word, "failed") || !strcasecmp(word, "stopped"))
			srv->flags |= SRV_F_AGENT_DOWN;
		else if (!strcasecmp(word, "maint") || !strcasecmp(word, "ready") || !strcasecmp(word, "drain"))
			admin = word;
		else if (isdigit((unsigned char)word[0]) && strchr(word, '%'))
			pct = word;
		else if (!strncasecmp(word, "maxconn:", 8))
			mc = word + 8;
		else
			note(warn, wlen, "agent reports an error", word);
	}
	if (pct) {
		const char *e = parse_pct(srv, pct, &weight);
		if (e)
			note(warn, wlen, "agent warns", e);
	}
	if (mc) {
		const char *e = parse_maxconn(mc, &maxconn, why, sizeof(why));
		if (e)
			note(warn, wlen, "agent warns", e);
	}
	if (admin && !strcasecmp(admin, "maint")) {
		srv->flags |= SRV_F_AGENT_MAINT;
	} else if (admin && !strcasecmp(admin, "drain")) {
		if (weight)
			res |= AGENT_R_DRAIN;
		weight = 0;
	} else if (admin) { /* ready */
		srv->flags &= ~SRV_F_AGENT_MAINT;
		if (!weight && !pct) {
			weight = srv->iweight;
			res |= weight ? AGENT_R_READY : 0;
		}
	}
	srv->maxconn = maxconn;
	if (weight != old_weight)
		server_set_weight(srv, weight);
	else if (old_flags != srv->flags)
		backend_update(srv->be);
	if (old_flags != srv->flags)
		res |= AGENT_R_STATE;
	if (weight != old_weight || maxconn != old_maxconn)
		res |= AGENT_R_CAPACITY;
	if (!(res & AGENT_R_CAPACITY))
		res &= ~(AGENT_R_DRAIN | AGENT_R_READY);
	return res;
}

static void agent_io(struct loop *l, struct io *io, uint32_t ev);

static void schedule(struct agent *a)
{
	loop_timer_arm(a->env->loop, &a->timer, a->env->loop->now_ms + (uint64_t)a->inter);
}

/* Says what a reply changed, in HAProxy's words where HAProxy says
 * something (2.6 logs nothing for a weight or maxconn change), and tells the
 * runtime: an UP/DOWN through on_change, more or less room through
 * on_capacity (queued sessions may fit now). */
static void report(struct agent *a, int res, int was_usable, const char *warn)
{
	struct server *s = a->srv;
	const struct backend *be = s->be;
	int usable = srv_usable(s), act, bck;
	char msg[700];

	if (warn[0] && strcmp(warn, a->warned)) { /* once, not at every agent-inter */
		snprintf(msg, sizeof(msg), "Agent check for server %s/%s: %s, ignored.", be->name, s->name, warn);
		health_log(a->logs, LOG_WARNING, 4, msg);
	}
	snprintf(a->warned, sizeof(a->warned), "%s", warn);
	backend_count_usable(be, &act, &bck);
	if (res & AGENT_R_DRAIN) {
		snprintf(msg, sizeof(msg), "Server %s/%s enters drain state. %d active and %d backup servers online. "
			 "0 sessions requeued, %d total in queue.", be->name, s->name, act, bck,
			 ATOMIC_LOAD(&s->q.len));
		health_log(a->logs, LOG_NOTICE, 4, msg);
		health_log_if_empty(a->logs, be);
	} else if (res & AGENT_R_READY) {
		snprintf(msg, sizeof(msg), "Server %s/%s is %s (leaving forced drain).", be->name, s->name,
			 usable ? "UP" : "DOWN");
		health_log(a->logs, LOG_NOTICE, 4, msg);
	}
	if ((res & AGENT_R_STATE) && was_usable != usable) {
		snprintf(msg, sizeof(msg), "Server %s/%s is %s, reason: agent replied \"%s\". "
			 "%d active and %d backup servers %s.", be->name, s->name, usable ? "UP" : "DOWN",
			 a->buf, act, bck, usable ? "online" : "left");
		health_log(a->logs, usable ? LOG_NOTICE : LOG_ALERT, 4, msg);
		if (!usable)
			health_log_if_empty(a->logs, be);
		if (a->env->on_change)
			a->env->on_change(s, usable, a->env->arg);
	} else if ((res & AGENT_R_CAPACITY) && a->env->on_capacity) {
		a->env->on_capacity(s, a->env->arg);
	}
}

/* The result of this round, for the stats. A reply is L7OK unless it says
 * the server is down (L7STS), as HAProxy's agent statuses. */
static void agent_record(struct agent *a, const char *status, const char *info)
{
	a->status = status;
	snprintf(a->info, sizeof(a->info), "%.*s", (int)sizeof(a->info) - 1, info);
	a->duration = (int)(a->env->loop->now_ms - a->started);
}

static void finish(struct agent *a, int got_reply)
{
	if (a->io.fd >= 0) {
		sock_set_reset_on_close(a->io.fd);
		loop_io_close(a->env->loop, &a->io);
	}
	a->running = 0;
	if (got_reply) {
		int was_usable = srv_usable(a->srv), res;
		char warn[sizeof(a->warned)];
		a->buf[a->len] = 0;
		a->buf[strcspn(a->buf, "\r\n")] = 0;
		backend_lock(a->srv->be);
		res = agent_apply(a->srv, a->buf, warn, sizeof(warn));
		/* back through its agent ("up" after "down", "ready" after
		 * "maint"): it warms up as HAProxy's srv_set_running has it */
		if ((res & AGENT_R_STATE) && !was_usable && srv_usable(a->srv))
			server_warm_start(a->srv, a->env->loop->now_ms);
		backend_note_state(a->srv->be, a->env->loop->now_ms);
		backend_unlock(a->srv->be);
		agent_record(a, (a->srv->flags & SRV_F_AGENT_DOWN) ? "L7STS" : "L7OK", a->buf);
		report(a, res, was_usable, warn);
	}
	schedule(a);
}

static void agent_timer(struct loop *l, struct timer *t)
{
	struct agent *a = (struct agent *)((char *)t - offsetof(struct agent, timer));
	int fd;

	(void)l;
	if (a->running) { /* no full reply in time: use what came, if anything */
		if (!a->len)
			agent_record(a, "L4TOUT", "");
		finish(a, a->len > 0);
		return;
	}
	if (a->srv->flags & SRV_F_NOAGENT) { /* "disable agent": until "enable agent" */
		schedule(a);
		return;
	}
	a->started = a->env->loop->now_ms;
	fd = sock_connect_from((struct sockaddr *)&a->addr, addr_len((struct sockaddr *)&a->addr),
			       a->srv->srclen ? (struct sockaddr *)&a->srv->src : NULL, a->srv->srclen);
	if (fd < 0) {
		agent_record(a, "L4CON", strerror(-fd));
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
		int err = sock_error(io->fd);
		if (err) {
			agent_record(a, "L4CON", strerror(err));
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
	a->status = "INI";
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
