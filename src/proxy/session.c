/* A session from accept to close: choosing a server, waiting in the
 * backend's queue when every server is at its maxconn, connecting with
 * retries (and redispatch), then handing over to relay.c. The server
 * connection slot a session holds is released in exactly one place,
 * release_server().
 *
 * Threads: a session belongs to the worker that accepted it and only that
 * thread touches it, with one exception: the backend's queue. The queue
 * links, s->handoff and s->handed are read and written under the backend
 * lock; a thread that frees a slot may give it to a queued session of
 * another worker (backend_dequeue), which then starts it from its inbox
 * (session_handed). */
#include "proxy/proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/atomic.h"
#include "event/sock.h"

static void srv_connect_cb(struct loop *l, struct io *io, uint32_t ev);
static void session_timer_cb(struct loop *l, struct timer *t);
static void try_connect(struct session *s);

void session_dst_addr(struct session *s)
{
	socklen_t dl = sizeof(s->dst_addr);

	if (!s->dst_addr.sa.sa_family)
		getsockname(s->cli.fd, &s->dst_addr.sa, &dl);
}

static void session_free(void *p)
{
	free(p);
}

static void queue_remove(struct session *s)
{
	struct pbackend *be = s->be;

	if (s->qprev)
		s->qprev->qnext = s->qnext;
	else
		be->q_head = s->qnext;
	if (s->qnext)
		s->qnext->qprev = s->qprev;
	else
		be->q_tail = s->qprev;
	s->qprev = s->qnext = NULL;
	ATOMIC_ADD(&be->lb.nqueued, -1);
}

static void queue_append(struct session *s)
{
	struct pbackend *be = s->be;

	s->qnext = NULL;
	s->qprev = be->q_tail;
	if (be->q_tail)
		be->q_tail->qnext = s;
	else
		be->q_head = s;
	be->q_tail = s;
	s->bq_pos = ATOMIC_ADD(&be->lb.nqueued, 1) - 1;
}

/* The hash of the client's address, which only "balance source" reads. */
static uint32_t client_key(const struct session *s)
{
	return s->be->lb.algo == LB_SOURCE ? lb_hash_addr(&s->cli_addr.sa) : 0;
}

/* A connection slot of srv, taken and given back under the backend lock. */
static void srv_take(struct server *srv)
{
	int n = ATOMIC_ADD(&srv->cur_conns, 1);

	if (n > srv->max_conns_seen)
		srv->max_conns_seen = n;
	srv->cum_conns++;
}

static void srv_drop(struct server *srv)
{
	ATOMIC_ADD(&srv->cur_conns, -1);
}

/* The one place a session gives its server slot back. Called with the
 * backend lock held. */
static void release_server(struct session *s)
{
	if (!(s->flags & SF_CLAIM))
		return;
	s->flags &= ~SF_CLAIM;
	srv_drop(s->server);
}

static void claim_server(struct session *s, struct server *srv)
{
	s->server = srv;
	s->flags |= SF_CLAIM;
}

void session_close(struct session *s, const char *term)
{
	struct worker *w = s->w;
	struct pbackend *be = s->be;
	int dequeue = 0;

	if (s->state == SESS_CLOSED)
		return;
	if (term && s->term[0] == 0) {
		s->term[0] = term[0];
		s->term[1] = term[1];
	}
	if (s->state == SESS_QUEUED)
		s->tw = (int32_t)(w->loop.now_ms - s->t_phase); /* killed in the queue */
	s->state = SESS_CLOSED;
	if (s->prev)
		s->prev->next = s->next;
	else
		w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	loop_timer_cancel(&w->loop, &s->timer);
	loop_io_close(&w->loop, &s->srv);
	loop_io_close(&w->loop, &s->cli);
	for (int d = 0; d < 2; d++) {
		if (s->buf[d]) {
			bufpool_put(&w->pool, s->buf[d]);
			s->buf[d] = NULL;
		}
		if (s->pipe[d]) {
			pipepool_put(&w->pipes, s->pipe[d]);
			s->pipe[d] = NULL;
		}
	}
	session_log(s); /* logs with this session still counted, as HAProxy does */
	if (be) {
		backend_lock(&be->lb);
		if (s->qprev || be->q_head == s) {
			queue_remove(s);
		} else if (s->handoff) { /* another thread gave it a slot meanwhile */
			if (s->handoff == HANDOFF_SERVER)
				srv_drop(s->handed);
			s->handoff = 0;
			s->handed = NULL;
			worker_handoff_cancel(s);
			dequeue = 1;
		}
		if (s->flags & SF_CLAIM) {
			release_server(s);
			dequeue = 1;
		}
		dequeue = dequeue && be->q_head;
		backend_unlock(&be->lb);
	}
	if (s->flags & SF_FE_COUNTED) {
		w->actconn--;
		/* sequentially consistent: see listeners_update() */
		__atomic_add_fetch(&w->proc->actconn, -1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&s->fe->cur_conns, -1, __ATOMIC_SEQ_CST);
		if (be)
			ATOMIC_ADD(&be->lb.cur_conns, -1);
	}
	loop_defer(&w->loop, &s->defer, session_free, s);
	if (dequeue)
		backend_dequeue(w, be);
	workers_slot_freed(w);
}

/* Hands queued sessions to servers that have a free slot, oldest first.
 * Sessions of this worker start at once; those of other workers get their
 * slot here and start from their worker's inbox. */
void backend_dequeue(struct worker *self, struct pbackend *be)
{
	struct session *mine = NULL, **tail = &mine;

	backend_lock(&be->lb);
	while (be->q_head) {
		struct session *s = be->q_head;
		int all_full;
		struct server *srv = lb_pick(&be->lb, client_key(s), NULL, &all_full);

		if (!srv && all_full)
			break;
		queue_remove(s);
		if (srv)
			srv_take(srv);
		s->handed = srv;
		s->handoff = srv ? HANDOFF_SERVER : HANDOFF_NOSERVER; /* none left at all */
		if (s->w == self) {
			s->inext = NULL;
			*tail = s;
			tail = &s->inext;
		} else {
			worker_handoff(s);
		}
	}
	backend_unlock(&be->lb);
	while (mine) {
		struct session *s = mine;
		mine = s->inext;
		s->inext = NULL;
		session_handed(s);
	}
}

void session_handed(struct session *s)
{
	struct pbackend *be = s->be;
	struct server *srv;
	int h;

	if (s->state != SESS_QUEUED)
		return;
	backend_lock(&be->lb);
	h = s->handoff;
	srv = s->handed;
	s->handoff = 0;
	s->handed = NULL;
	backend_unlock(&be->lb);
	if (!h)
		return;
	s->tw = (int32_t)(s->w->loop.now_ms - s->t_phase);
	if (h == HANDOFF_NOSERVER) {
		session_close(s, "SQ");
		return;
	}
	s->t_phase = s->w->loop.now_ms; /* Tc counts from here, retries included */
	claim_server(s, srv);
	try_connect(s);
}

static int queue_limit_reached(const struct pbackend *be)
{
	long limit = 0;

	for (int i = 0; i < be->lb.nsrv; i++) {
		const struct server *srv = be->lb.srv[i];
		if (!srv_usable(srv))
			continue;
		if (!srv->maxqueue)
			return 0; /* one server without maxqueue: the queue is unbounded */
		limit += srv->maxqueue;
	}
	return be->lb.nqueued >= limit;
}

/* Picks a server for s (avoiding `avoid` when possible) and connects, queues,
 * or closes the client when no server can take it. */
static void assign(struct session *s, const struct server *avoid)
{
	struct pbackend *be = s->be;
	int all_full;
	struct server *srv;

	backend_lock(&be->lb);
	if (be->q_head && !avoid) { /* others are waiting: keep the order */
		srv = NULL;
		all_full = 1;
	} else {
		srv = lb_pick(&be->lb, client_key(s), avoid, &all_full);
	}
	if (srv) {
		srv_take(srv);
		backend_unlock(&be->lb);
		if (!avoid) {
			s->tw = 0;
			s->t_phase = s->w->loop.now_ms; /* Tc counts from here, retries included */
		}
		claim_server(s, srv);
		try_connect(s);
		return;
	}
	if (!all_full || queue_limit_reached(be)) {
		backend_unlock(&be->lb);
		/* no server available: close at once; queue full: refuse */
		session_close(s, !all_full ? "SC" : "SQ");
		return;
	}
	s->state = SESS_QUEUED;
	s->t_phase = s->w->loop.now_ms;
	queue_append(s);
	backend_unlock(&be->lb);
	{
		int64_t to = be->to_queue ? be->to_queue : be->to_connect;
		if (to)
			loop_timer_arm(&s->w->loop, &s->timer, s->t_phase + (uint64_t)to);
	}
}

static void connect_failed(struct session *s, const char *term)
{
	struct pbackend *be = s->be;
	struct server *failed = s->server;
	int redisp;

	loop_io_close(&s->w->loop, &s->srv);
	loop_timer_cancel(&s->w->loop, &s->timer);
	if (s->retries >= be->retries) {
		session_close(s, term);
		return;
	}
	s->retries++;
	redisp = be->redispatch > 0 ? (s->retries % be->redispatch) == 0
		 : be->redispatch < 0 ? s->retries == be->retries + 1 + be->redispatch
		 : 0;
	backend_lock(&be->lb);
	if (redisp || !srv_usable(failed))
		release_server(s);
	backend_unlock(&be->lb);
	if (!(s->flags & SF_CLAIM)) {
		if (redisp)
			s->flags |= SF_REDISP;
		assign(s, failed);
		return;
	}
	/* HAProxy's turn-around timer: wait min(timeout connect, 1s) before
	 * trying the same server again, so a restarting server is not hammered. */
	s->state = SESS_TURNAROUND;
	{
		uint64_t wait = be->to_connect && be->to_connect < 1000 ? (uint64_t)be->to_connect : 1000;
		loop_timer_arm(&s->w->loop, &s->timer, s->w->loop.now_ms + wait);
	}
}

static void try_connect(struct session *s)
{
	struct server *srv = s->server;
	struct pbackend *be = s->be;
	struct sockaddr_storage ss;
	int fd;

	s->state = SESS_CONNECTING;
	memcpy(&ss, &srv->addr, srv->addrlen);
	if (srv->port_omitted) {
		session_dst_addr(s);
		addr_set_port((struct sockaddr *)&ss, addr_port(&s->dst_addr.sa));
	}
	fd = sock_connect((struct sockaddr *)&ss, srv->addrlen);
	if (fd < 0) {
		io_init(&s->srv, -1, srv_connect_cb);
		connect_failed(s, "SC");
		return;
	}
	io_init(&s->srv, fd, srv_connect_cb);
	sock_set_nodelay(fd);
	sock_set_oobinline(fd); /* urgent data is relayed inline (relay.c) */
	if (be->options & PXO_SRVTCPKA)
		sock_set_keepalive(fd);
	/* registered once for the whole session (see relay.c): the first
	 * EPOLLOUT edge says the connection is made */
	if (loop_io_set(&s->w->loop, &s->srv, RELAY_EVENTS) == -1) {
		connect_failed(s, "SC");
		return;
	}
	if (be->to_connect)
		loop_timer_arm(&s->w->loop, &s->timer, s->w->loop.now_ms + (uint64_t)be->to_connect);
	else
		loop_timer_cancel(&s->w->loop, &s->timer);
}

static void srv_connect_cb(struct loop *l, struct io *io, uint32_t ev)
{
	struct session *s = (struct session *)((char *)io - offsetof(struct session, srv));

	(void)l;
	if (s->state != SESS_CONNECTING)
		return;
	/* writable without an error or hangup flag: connected, no getsockopt needed */
	if ((ev & (EPOLLERR | EPOLLHUP)) && sock_error(io->fd)) {
		connect_failed(s, "SC");
		return;
	}
	s->tc = (int32_t)(s->w->loop.now_ms - s->t_phase);
	relay_start(s, ev);
}

static void session_timer_cb(struct loop *l, struct timer *t)
{
	struct session *s = (struct session *)((char *)t - offsetof(struct session, timer));

	(void)l;
	switch (s->state) {
	case SESS_QUEUED:
		session_close(s, "sQ");
		break;
	case SESS_CONNECTING:
		connect_failed(s, "sC");
		break;
	case SESS_TURNAROUND:
		try_connect(s);
		break;
	case SESS_ESTABLISHED:
		relay_timeout(s);
		break;
	default:
		break;
	}
}

int session_start(struct worker *w, struct frontend *fe, int fd,
		  const struct sockaddr *sa, socklen_t salen)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	s->w = w;
	s->fe = fe;
	s->be = fe->be;
	s->tw = s->tc = -1;
	s->t_accept = s->last_act[0] = s->last_act[1] = w->loop.now_ms;
	if (fe->options & PXO_TCPLOG) /* the log's accept date: only when logged */
		clock_gettime(CLOCK_REALTIME, &s->accept_date);
	memcpy(&s->cli_addr, sa, salen < sizeof(s->cli_addr) ? salen : sizeof(s->cli_addr));
	io_init(&s->cli, fd, relay_cli_io);
	io_init(&s->srv, -1, srv_connect_cb);
	timer_init(&s->timer, session_timer_cb);
	s->state = SESS_CONNECTING;
	s->next = w->sessions;
	if (w->sessions)
		w->sessions->prev = s;
	w->sessions = s;
	s->flags |= SF_FE_COUNTED; /* accept_cb reserved the process and frontend slots */
	w->actconn++;
	w->cum_conns++;
	ATOMIC_ADD(&fe->cum_conns, 1);
	/* TCP_NODELAY and SO_KEEPALIVE come from the listening socket */
	session_log_connect(s);
	if (!s->be) {
		session_close(s, "--");
		return 0;
	}
	ATOMIC_ADD(&s->be->lb.cur_conns, 1);
	ATOMIC_ADD(&s->be->lb.cum_conns, 1);
	assign(s, NULL);
	return 0;
}

void sessions_close_all(struct worker *w, const char *term)
{
	while (w->sessions)
		session_close(w->sessions, term);
}

int sessions_close_server(struct worker *w, const struct server *srv,
			  const struct backend *be, const char *term)
{
	struct session *s, *next;
	int n = 0;

	/* Closing may close others (a drained queue); an unlinked session keeps
	 * its next pointer and its memory until the batch ends (deferred free),
	 * so walking on from it is safe, and closed ones are skipped. */
	for (s = w->sessions; s; s = next) {
		next = s->next;
		if (!(s->flags & SF_CLAIM) || s->state == SESS_CLOSED)
			continue;
		if (srv ? s->server == srv
			: (s->server->be == be && (s->server->flags & SRV_F_BACKUP))) {
			session_close(s, term);
			n++;
		}
	}
	return n;
}
