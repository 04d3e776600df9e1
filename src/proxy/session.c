/* A session from accept to close: choosing a server, waiting in a queue
 * when it is full (queue.c), connecting with retries (and redispatch), then
 * handing over to relay.c. The server connection slot a session holds is
 * given back in exactly one place, session_release_server().
 *
 * Threads: a session belongs to the worker that accepted it and only that
 * thread touches it, with one exception: the queues (see queue.c). */
#include "proxy/proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/atomic.h"
#include "event/sock.h"
#include "proto/proxyproto.h"
#include "proxy/pgedge.h"
#include "rules/rules.h"

static void srv_connect_cb(struct loop *l, struct io *io, uint32_t ev);
static void session_timer_cb(struct loop *l, struct timer *t);
static void try_connect(struct session *s);

void session_dst_addr(struct session *s)
{
	socklen_t dl = sizeof(s->dst_addr);

	if (!s->dst_addr.sa.sa_family)
		getsockname(s->cli.fd, &s->dst_addr.sa, &dl);
}

/* After the batch of events that closed it: the memory, and the
 * session's hold on its configuration generation. */
static void session_free(void *p)
{
	struct session *s = p;
	struct genref *g = s->gen;
	struct worker *w = s->w;

	session_pp_free(s);
	free(s->req_seen);
	free(s);
	if (g)
		genref_put(g, w);
}

/* The hash of the client's address, which only "balance source" reads. A
 * client without an IP (on a unix socket, or a PROXY header without
 * addresses) gets HAProxy 2.6.12's round robin instead: successive keys
 * (map-based: the servers in turn by weight; consistent: spread over the
 * ring). */
static uint32_t client_key(struct session *s)
{
	struct backend *be = &s->be->lb;
	uint32_t n;

	if (be->algo != LB_SOURCE)
		return 0;
	if (s->cli_addr.sa.sa_family == AF_INET || s->cli_addr.sa.sa_family == AF_INET6)
		return lb_hash_addr(&s->cli_addr.sa);
	n = __atomic_fetch_add(&be->nonip_seq, 1, __ATOMIC_RELAXED);
	return be->hash_type == HASH_CONSISTENT ? lb_hash32(n) : n;
}

/* HAProxy's cur_sess of a server (its %sc, its stats' scur): sessions
 * connecting to it or connected, not those only holding a slot. */
static void curr_sess(struct session *s, int on)
{
	if (on == !!(s->flags & SF_CURR_SESS))
		return;
	s->flags ^= SF_CURR_SESS;
	ATOMIC_ADD(&s->server->cur_sess, on ? 1 : -1);
}

/* s goes to srv (chosen by the algorithm, or given a slot from a queue):
 * HAProxy's per-server session counters. */
void session_counts_server(struct session *s, struct server *srv)
{
	s->cs = &srv->ctr[s->w->id];
	ctr_add(&s->cs->cum_sess, 1);
	ctr_add(&s->cs->lbtot, 1);
	ctr_add(&s->cb->lbtot, 1);
	counters_rate_add(s->cs, s->w->loop.now_ms);
	ATOMIC_STORE(&s->cs->last_sess, (uint64_t)time(NULL));
}

/* Takes a connection slot of srv for s. Backend lock held. */
static void claim_server(struct session *s, struct server *srv)
{
	int n = ATOMIC_ADD(&srv->cur_conns, 1);

	if (n > srv->max_conns_seen)
		srv->max_conns_seen = n;
	s->server = srv;
	s->flags |= SF_CLAIM;
}

/* The one place a session gives its server slot back; the slot goes to
 * whoever waits for it (queue.c). Backend lock held. */
void session_release_server(struct session *s, struct session ***mine)
{
	if (!(s->flags & SF_CLAIM))
		return;
	s->flags &= ~SF_CLAIM;
	ATOMIC_ADD(&s->server->cur_conns, -1);
	server_dequeue(s->w, s->be, s->server, mine);
}

/* A session's end in its backend's and server's counters: who aborted it,
 * and HAProxy's queue, connect and total times (averaged over the last
 * 1024 sessions that reached a server). */
static void count_end(struct session *s)
{
	struct counters *c[2] = { s->cb, s->cs };
	uint32_t tt = (uint32_t)(s->w->loop.now_ms - s->t_accept);

	for (int i = 0; i < 2 && c[i]; i++) {
		if (s->term[0] == 'C' || s->term[0] == 'c')
			ctr_add(&c[i]->cli_abrt, 1);
		else if ((s->term[0] == 'S' || s->term[0] == 's') && s->term[1] == 'D')
			ctr_add(&c[i]->srv_abrt, 1);
		if (s->tc < 0)
			continue;
		ctr_swrate(&c[i]->qtime_sw, &c[i]->qtime_n, &c[i]->qtime_max, (uint32_t)(s->tw > 0 ? s->tw : 0));
		ctr_swrate(&c[i]->ctime_sw, &c[i]->ctime_n, &c[i]->ctime_max, (uint32_t)s->tc);
		ctr_swrate(&c[i]->ttime_sw, &c[i]->ttime_n, &c[i]->ttime_max, tt);
	}
}

void session_close(struct session *s, const char *term)
{
	struct worker *w = s->w;
	struct pbackend *be = s->be;
	struct session *mine = NULL, **tail = &mine;
	int queued = s->state == SESS_QUEUED;

	if (s->state == SESS_CLOSED)
		return;
	if (term && s->term[0] == 0) {
		s->term[0] = term[0];
		s->term[1] = term[1];
	}
	if (queued)
		s->tw = (int32_t)(w->loop.now_ms - s->t_accept); /* killed in the queue */
	if (s->tc >= 0 && !s->bytes[1]) /* connected, the server never spoke: judged now */
		session_observe(s, !(s->term[0] == 'S' && s->term[1] == 'D'));
	s->state = SESS_CLOSED;
	if (s->prev)
		s->prev->next = s->next;
	else
		w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	loop_timer_cancel(&w->loop, &s->timer);
	session_log_prepare(s);
	if (s->pg) /* before its sockets close (may take the client's over) */
		pgedge_refuse(s, s->term);
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
	/* only its own thread queues a session (and claims a slot for it):
	 * no lock needed to know whether there is something to give back */
	if (queued || (s->flags & SF_CLAIM)) {
		struct server *offered;
		backend_lock(&be->lb);
		offered = unqueue_session(s); /* its queue positions are known now */
		if (offered)
			server_dequeue(w, be, offered, &tail);
		session_release_server(s, &tail);
		backend_unlock(&be->lb);
	}
	curr_sess(s, 0);
	if (be && (s->flags & SF_BE_COUNTED))
		ATOMIC_ADD(&be->lb.cur_conns, -1);
	if (s->cb)
		count_end(s);
	/* As HAProxy: logged once the backend and the server no longer
	 * count it (%bc, %sc), while the process and frontend still do (%ac,
	 * %fc). */
	session_log(s);
	/* after the log, which may read sc fetches, as HAProxy's */
	if (track_any(&s->trk))
		track_end(&s->trk, s->bytes[0], s->bytes[1], w->loop.now_ms);
	pgedge_free(s); /* after the log, which may read pg.* fetches; its cancel key goes */
	free(s->stk);
	s->stk = NULL;
	if (s->flags & SF_FE_COUNTED) {
		w->actconn--;
		/* sequentially consistent: see listeners_update() */
		__atomic_add_fetch(&w->proc->actconn, -1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&s->fe->cur_conns, -1, __ATOMIC_SEQ_CST);
	}
	loop_defer(&w->loop, &s->defer, session_free, s);
	sessions_run_handed(mine);
	workers_slot_freed(w);
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
	loop_timer_cancel(&s->w->loop, &s->timer);
	if (h == HANDOFF_REASSIGN) { /* its server went down: choose again */
		session_assign(s, s->server);
		return;
	}
	s->tw = (int32_t)(s->w->loop.now_ms - s->t_accept); /* as HAProxy's Tw */
	if (h == HANDOFF_NOSERVER) { /* as HAProxy: woken, no server to assign */
		session_close(s, "SC");
		return;
	}
	s->t_phase = s->w->loop.now_ms; /* Tc counts from here, retries included */
	s->server = srv;
	s->flags |= SF_CLAIM;             /* server_dequeue took the slot for it */
	session_counts_server(s, srv);
	try_connect(s);
}

/* Waits in a queue: srv's, or with srv NULL, the backend's, for up to `to`
 * ms (0: no limit). Backend lock held; released here. */
static void wait_in_queue(struct session *s, struct server *srv, int64_t to)
{
	struct pbackend *be = s->be;

	s->state = SESS_QUEUED;
	queue_session(s, srv);
	backend_unlock(&be->lb);
	if (to)
		loop_timer_arm(&s->w->loop, &s->timer, s->w->loop.now_ms + (uint64_t)to);
}

/* Picks a server for s (avoiding `avoid`, the server that just failed, when
 * another can serve) and connects, or queues, or closes the client when no
 * server can take it. As HAProxy's assign_server_and_queue: a server the
 * algorithm chose while it is full is waited for in its own queue (limited
 * by its maxqueue: "SQ" when that is full); when every server is full the
 * session waits in the backend's queue. When no server is usable at all, it
 * is closed ("SC"), or with wait-for-server waits in the backend's queue for
 * that long, for the first server to come UP. */
void session_assign(struct session *s, const struct server *avoid)
{
	struct pbackend *be = s->be;
	int all_full, waited = s->tw < 0 || s->state == SESS_QUEUED;
	int64_t to_full = be->to_queue ? be->to_queue : be->to_connect;
	const struct server *only;
	struct server *srv;

	s->server = NULL; /* as HAProxy's target: none until one is chosen */
	backend_lock(&be->lb);
	if (s->forced && !avoid) { /* use-server: that one, or its queue */
		srv = s->forced;
		all_full = 0;
	} else if (be->lb.q.len && !avoid && !lb_is_hash(&be->lb)) {
		srv = NULL; /* others wait for any server: keep their order */
		all_full = 1;
	} else {
		srv = lb_pick(&be->lb, client_key(s), avoid, &all_full);
	}
	if (srv && srv_full(srv)) {
		if (srv->maxqueue && srv->q.len >= srv->maxqueue) {
			backend_unlock(&be->lb);
			s->server = srv; /* logged as HAProxy does: "be/s1 -1/-1/0 0 SQ" */
			session_close(s, "SQ");
			return;
		}
		wait_in_queue(s, srv, to_full);
		return;
	}
	if (!srv) {
		if (be->wait_for_server && lb_group(&be->lb, &only) == LB_GROUP_NONE) {
			wait_in_queue(s, NULL, be->wait_for_server); /* for a server to come UP */
			return;
		}
		if (!all_full) { /* no server at all: close at once */
			backend_unlock(&be->lb);
			session_close(s, "SC");
			return;
		}
		wait_in_queue(s, NULL, to_full); /* all full, or others wait before it */
		return;
	}
	claim_server(s, srv);
	backend_unlock(&be->lb);
	session_counts_server(s, srv);
	if (avoid && srv != avoid)
		s->flags |= SF_REDISP;
	if (waited) { /* first choice, or out of a queue: HAProxy's Tw ends here */
		s->tw = (int32_t)(s->w->loop.now_ms - s->t_accept);
		s->t_phase = s->w->loop.now_ms; /* Tc counts from here, retries included */
	}
	try_connect(s);
}

/* observe layer4 (passive health): a connection outcome of s's server.
 * HAProxy counts a failed connect as an error and an established one as a
 * success; ferry judges an established connection a little later, at the
 * server's first byte or at the session's end, so that a server which
 * accepts and then resets (before saying anything) counts as failing
 * whether or not the reset came before the connection was seen as made. */
void session_observe(struct session *s, int ok)
{
	struct server *srv = s->server;
	int n;

	if (!srv || !srv->observe)
		return;
	n = server_observe_l4(srv, ok);
	if (n && s->w->proc->on_observed)
		s->w->proc->on_observed(s->w, s->gen, srv, n);
}

/* Whether the retry after a failed connect goes to another server, as
 * HAProxy's stream_choose_redispatch: with option redispatch, when the
 * server is no longer usable, or on the Nth retry ("option redispatch N",
 * by default the last), or at once when the algorithm is not hash-based
 * and more than one active server is up. ferry also redispatches without
 * the option when the server is known to be unusable (README). Backend
 * lock held. */
static int choose_redispatch(const struct session *s, const struct server *failed)
{
	const struct pbackend *be = s->be;
	int act, bck, every;

	if (!srv_usable(failed))
		return 1;
	if (!be->redispatch)
		return 0;
	every = be->redispatch > 0 ? be->redispatch : be->retries + 1 + be->redispatch;
	if (every > 0 && s->retries % every == 0)
		return 1;
	backend_count_usable(&be->lb, &act, &bck);
	return !lb_is_hash(&be->lb) && act > 1;
}

/* A connect failed: term is "SC" (refused, reset: an error the server
 * sent) or "sC" (timeout). Retries, as HAProxy's back_handle_st_cer: on
 * another server when choose_redispatch says so, else on the same one;
 * after an error (not a timeout) it first waits min(timeout connect, 1 s),
 * only when the retry stays on the same server or one active server at
 * most is up, so a restarting server is not hammered. */
static void connect_failed(struct session *s, const char *term)
{
	struct pbackend *be = s->be;
	struct server *failed = s->server;
	struct session *mine = NULL, **tail = &mine;
	int redisp, pause = term[0] == 'S', act = 0, bck;

	session_observe(s, 0); /* each failed attempt counts, as HAProxy's */
	loop_io_close(&s->w->loop, &s->srv);
	loop_timer_cancel(&s->w->loop, &s->timer);
	curr_sess(s, 0);
	if (s->retries >= be->retries) {
		ctr_add(&s->cs->failed_conns, 1); /* econ: the last attempt failed */
		ctr_add(&s->cb->failed_conns, 1);
		session_close(s, term);
		return;
	}
	s->retries++;
	backend_lock(&be->lb);
	redisp = choose_redispatch(s, failed);
	ctr_add(redisp ? &s->cs->redispatches : &s->cs->retries, 1);
	ctr_add(redisp ? &s->cb->redispatches : &s->cb->retries, 1);
	if (redisp) {
		session_release_server(s, &tail);
		backend_count_usable(&be->lb, &act, &bck);
		pause = pause && act <= 1;
	}
	backend_unlock(&be->lb);
	sessions_run_handed(mine);
	if (pause) {
		uint64_t wait = be->to_connect && be->to_connect < 1000 ? (uint64_t)be->to_connect : 1000;
		s->state = SESS_TURNAROUND;
		loop_timer_arm(&s->w->loop, &s->timer, s->w->loop.now_ms + wait);
	} else if (redisp) {
		session_assign(s, failed);
	} else {
		try_connect(s);
	}
}

static void try_connect(struct session *s)
{
	struct server *srv = s->server;
	struct pbackend *be = s->be;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, port_omitted;

	s->state = SESS_CONNECTING;
	len = server_copy_addr(srv, &ss, &port_omitted); /* "set server addr" may change it */
	if (port_omitted) {
		session_dst_addr(s);
		addr_set_port((struct sockaddr *)&ss, addr_port(&s->dst_addr.sa));
	}
	curr_sess(s, 1);
	ctr_add(&s->cs->connect, 1);
	ctr_add(&s->cb->connect, 1);
	fd = sock_connect_from((struct sockaddr *)&ss, len, srv->srclen ? (struct sockaddr *)&srv->src : NULL,
			       srv->srclen);
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

/* The PROXY header for a server with send-proxy or send-proxy-v2, as
 * HAProxy's make_proxy_line for a stream: the client's address and the one
 * it connected to (those of the PROXY header received with accept-proxy,
 * when it carried addresses). Returns its length, 0 when none is due. */
size_t session_proxy_header(struct session *s, uint8_t *out, size_t cap)
{
	unsigned o = s->server->pp_opts;
	const struct pp_info *pp = session_pp(s);

	if (!(o & (SRV_PP_V1 | SRV_PP_V2)))
		return 0;
	session_dst_addr(s);
	if (o & SRV_PP_V2) {
		struct pp_v2_args a = {
			.src = &s->cli_addr.sa, .dst = &s->dst_addr.sa,
			.opts = (o & SRV_PP_CRC32C ? PP_O_CRC32C : 0) | (o & SRV_PP_SSL ? PP_O_SSL : 0) |
				(o & SRV_PP_UNIQUE_ID ? PP_O_UNIQUE_ID : 0) |
				(o & SRV_PP_AUTHORITY ? PP_O_AUTHORITY : 0),
			/* HAProxy sends the TLV of a unique id made from the
			 * frontend's unique-id-format, empty without one (ferry
			 * has none yet). */
			.unique_id = (const uint8_t *)"",
			/* HAProxy's authority: the one a received PROXY header
			 * carried (or the SNI of a TLS it terminated: none here) */
			.authority = pp ? pp->authority : NULL,
			.authority_len = pp ? pp->authority_len : 0,
		};
		return pp_build_v2(out, cap, &a);
	}
	return pp_build_v1(out, cap, &s->cli_addr.sa, &s->dst_addr.sa);
}

/* Sends the PROXY header first on a server connection that was just made
 * (each attempt is a new connection: retries and redispatches send it again,
 * once, to the server then chosen). A new socket takes it whole; whatever it
 * does not take waits in the client-to-server buffer, ahead of any client
 * byte. Returns 0, or -1 when the connection failed. */
static int send_proxy_header(struct session *s)
{
	uint8_t hdr[PP_BUILD_MAX];
	size_t n = session_proxy_header(s, hdr, sizeof(hdr));
	ssize_t w;

	if (!n)
		return 0;
	w = send(s->srv.fd, hdr, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w == -1 && errno != EAGAIN && errno != EINTR)
		return -1;
	if (w < 0)
		w = 0;
	if ((size_t)w < n) {
		struct rbuf *b = s->buf[0];
		size_t rest = n - (size_t)w;
		if (!b) {
			b = s->buf[0] = bufpool_get(&s->w->pool);
			if (!b)
				return -1;
			b->head = b->tail = 0;
		}
		/* ahead of the inspected client bytes already buffered */
		if (b->tail - b->head + rest > RBUF_SIZE)
			return -1;
		memmove(b->data + rest, b->data + b->head, b->tail - b->head);
		memcpy(b->data, hdr + w, rest);
		b->tail = (uint32_t)(b->tail - b->head + rest);
		b->head = 0;
	}
	return 0;
}

static void srv_connect_cb(struct loop *l, struct io *io, uint32_t ev)
{
	struct session *s = (struct session *)((char *)io - offsetof(struct session, srv));

	(void)l;
	if (s->state != SESS_CONNECTING)
		return;
	/* writable without an error or hangup flag: connected, no getsockopt needed */
	if (((ev & (EPOLLERR | EPOLLHUP)) && sock_error(io->fd)) || send_proxy_header(s)) {
		connect_failed(s, "SC");
		return;
	}
	s->tc = (int32_t)(s->w->loop.now_ms - s->t_phase);
	if (s->stk && !(s->server->opts & SRV_O_NON_STICK)) /* stick on / store-request: the server that took it */
		stick_store_apply(s->stk, s->server->id, s->server->name, s->w->loop.now_ms);
	if (s->pg && pgedge_connected(s))
		return; /* an SSLRequest of ferry's goes first (or it failed) */
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
	case SESS_TURNAROUND: /* the same server, or another one (released) */
		if (s->flags & SF_CLAIM)
			try_connect(s);
		else
			session_assign(s, s->server);
		break;
	case SESS_ESTABLISHED:
		relay_timeout(s);
		break;
	case SESS_HANDSHAKE:
		session_handshake_timeout(s);
		break;
	case SESS_INSPECT:
		session_inspect_timeout(s);
		break;
	case SESS_PGFIRST:
	case SESS_PGCANCEL:
		pgedge_timeout(s);
		break;
	case SESS_PGSSL:
		pgedge_server_timeout(s);
		break;
	default:
		break;
	}
}

/* The rules' view of a connection (see rules/rules.h). */
static void rule_ctx_fill(struct rule_ctx *c, const struct frontend *fe, const struct sockaddr *src,
			  const struct sockaddr *dst)
{
	memset(c, 0, sizeof(*c));
	c->src = src;
	c->dst = dst && dst->sa_family ? dst : NULL;
	c->fe_name = fe->name;
	c->fe_id = fe->uuid;
	c->fe_conn = __atomic_load_n(&fe->cur_conns, __ATOMIC_RELAXED);
	c->bes = fe->lbs;
	c->nbe = fe->nbe;
	c->req_final = 1;
	c->tables = fe->tables;
	c->ntables = fe->ntables;
}

void session_rule_ctx(struct session *s, struct rule_ctx *c)
{
	rule_ctx_fill(c, s->fe, &s->cli_addr.sa, &s->dst_addr.sa);
	c->pp = session_pp(s);
	c->trk = &s->trk;
	c->now_ms = s->w->loop.now_ms;
	if (s->pg)
		pgedge_rule_ctx(s, c);
}

int session_route(struct session *s, const uint8_t *req, size_t len, int final)
{
	const struct frontend *fe = s->fe;
	struct pbackend *be = fe->be;
	struct rule_ctx c;
	int idx = -1;
	enum rule_res r;

	session_rule_ctx(s, &c);
	c.req = req;
	c.req_len = len;
	c.req_final = final;
	r = rules_pick_backend(fe->rules, &c, &idx);
	if (r == RULE_MISS)
		return r;
	if (r == RULE_PASS)
		be = fe->bes[idx];
	s->forced = NULL;
	if (be && be->rules) {
		struct server *v = NULL;
		enum rule_res rs = rules_pick_server(be->rules, &c, &be->lb, &v);
		if (rs == RULE_MISS)
			return rs;
		if (rules_flags(be->rules) & RULES_F_STICK) {
			/* as HAProxy: after use-server, which wins; store keys kept anyway */
			struct server *sv = NULL;
			if (rules_stick(be->rules, &c, &be->lb, &sv, &s->stk) == RULE_MISS)
				return RULE_MISS;
			if (!v)
				v = sv;
		}
		s->forced = v;
	}
	s->be = be;
	return RULE_PASS;
}

/* tcp-request connection rules, over the connection's own addresses (before
 * any PROXY header, as HAProxy): 1 when the client may go on, with the
 * counters they tracked in *trk (given back here when rejected); *acts gets
 * what else they asked (RULE_ACT_*). */
static int conn_accepted(struct worker *w, struct frontend *fe, int fd, const struct sockaddr *sa,
			 struct sockaddr_storage *dst, struct track_set *trk, unsigned *acts)
{
	struct rule_ctx c;
	socklen_t dl = sizeof(*dst);

	if (!(rules_flags(fe->rules) & RULES_F_CONN))
		return 1;
	if (getsockname(fd, (struct sockaddr *)dst, &dl) == -1)
		dst->ss_family = 0;
	rule_ctx_fill(&c, fe, sa, (struct sockaddr *)dst);
	c.trk = trk;
	c.now_ms = w->loop.now_ms;
	if (rules_conn_accept(fe->rules, &c, acts))
		return 1;
	if (track_any(trk))
		track_end(trk, 0, 0, w->loop.now_ms);
	/* as HAProxy: closed before it is a session, not logged, counted in dcon */
	ctr_add(&fe->ctr[w->id].denied_conn, 1);
	return 0;
}

int session_start(struct worker *w, struct listener *li, int fd,
		  const struct sockaddr *sa, socklen_t salen)
{
	struct frontend *fe = li->fe;
	struct sockaddr_storage dst = { 0 };
	unsigned acts = li->accept_proxy ? RULE_ACT_EXPECT_PROXY : 0;
	struct track_set trk = { 0 };
	struct session *s;

	if (!conn_accepted(w, fe, fd, sa, &dst, &trk, &acts)) {
		close(fd);
		listener_slot_release(w, fe);
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		track_end(&trk, 0, 0, w->loop.now_ms);
		return -1;
	}
	s->trk = trk;
	if (track_any(&trk)) /* HAProxy's session_count_new */
		track_session_new(&s->trk, w->loop.now_ms);
	if (dst.ss_family)
		memcpy(&s->dst_addr, &dst, sizeof(s->dst_addr) < sizeof(dst) ? sizeof(s->dst_addr) : sizeof(dst));
	s->w = w;
	s->gen = fe->gen;
	if (s->gen)
		genref_get(s->gen);
	s->fe = fe;
	s->be = NULL; /* none until the backend is chosen (session_dispatch) */
	s->luid = (uint16_t)li->luid;
	s->cf = &fe->ctr[w->id];
	s->tw = s->tc = -1;
	s->t_accept = s->last_act[0] = s->last_act[1] = w->loop.now_ms;
	if ((fe->options & (PXO_TCPLOG | PXO_PGSQL)) || fe->lf || (acts & RULE_ACT_EXPECT_PROXY)) /* the log's accept date: only when logged */
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
	ctr_add(&w->cum_conns, 1);
	ctr_add(&s->cf->cum_sess, 1);
	counters_rate_add(s->cf, w->loop.now_ms);
	{
		int n = __atomic_load_n(&fe->cur_conns, __ATOMIC_RELAXED);
		if (n > __atomic_load_n(&fe->max_conns_seen, __ATOMIC_RELAXED))
			__atomic_store_n(&fe->max_conns_seen, n, __ATOMIC_RELAXED); /* smax: a moment's race is harmless */
	}
	/* TCP_NODELAY and SO_KEEPALIVE come from the listening socket */
	if (acts & RULE_ACT_EXPECT_PROXY)
		session_handshake_start(s);
	else
		session_after_handshake(s);
	return 0;
}

void session_dispatch(struct session *s, const uint8_t *req, size_t len)
{
	struct frontend *fe = s->fe;
	struct worker *w = s->w;

	if (rules_flags(fe->rules) & RULES_F_DST)
		session_dst_addr(s);
	/* the request bytes inspected so far, if any, as final: HAProxy's
	 * switching rules never wait */
	s->be = fe->be;
	if (rules_flags(fe->rules) & RULES_F_SWITCH || (fe->be && fe->be->rules))
		session_route(s, req, len, 1);
	session_log_connect(s);
	if (!s->be) {
		session_close(s, "--");
		return;
	}
	s->cb = &s->be->lb.ctr[w->id];
	ctr_add(&s->cb->cum_sess, 1);
	counters_rate_add(s->cb, w->loop.now_ms);
	ATOMIC_STORE(&s->cb->last_sess, (uint64_t)time(NULL));
	{
		int n = ATOMIC_ADD(&s->be->lb.cur_conns, 1);
		if (n > ATOMIC_LOAD(&s->be->lb.max_conns_seen))
			ATOMIC_STORE(&s->be->lb.max_conns_seen, n);
	}
	s->flags |= SF_BE_COUNTED;
	session_assign(s, NULL);
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
