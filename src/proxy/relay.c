/* The data path: bytes copied both ways unchanged, through pooled buffers
 * for small exchanges and splice() pipes for bulk. Direction 0 is
 * client→server, 1 is server→client. A FIN is forwarded only once
 * everything buffered for that direction is written; a reset on one side is
 * passed on as a reset to the other.
 *
 * Both sockets are registered once, edge-triggered, for input, output and
 * the peer's FIN (EPOLLRDHUP), so the interest never changes: no epoll_ctl
 * after the first. The rule that keeps edges from being lost: every exit
 * from pump() either read until the source had nothing (EAGAIN or a short
 * read), or left data pending for a destination that will signal EPOLLOUT.
 * A short read after EPOLLRDHUP is the end of the stream, which saves the
 * read() that would return 0.
 *
 * TCP urgent data: recv() stops at the urgent mark, so a short read does
 * not mean "drained" while urgent data is pending (EPOLLPRI): the source is
 * then read until EAGAIN. The urgent byte itself stays in the stream
 * (SO_OOBINLINE on both sockets) and is relayed as an ordinary byte. splice()
 * cannot read past the mark at all, so such a direction uses the buffer
 * until the urgent data is read.
 *
 * Errors are seen in every state: a reset on a side whose input has ended
 * (no longer read) still arrives as EPOLLERR/EPOLLHUP, and is passed on.
 *
 * Inactivity timeouts are checked lazily: I/O only stamps the time, and the
 * timer re-arms itself when it fires early, so no timer work per byte. */
#include "proxy/proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event/sock.h"
#include "proxy/pgedge.h"

#define EOF_F(d) ((d) ? SF_EOF1 : SF_EOF0)
#define SHUT_F(d) ((d) ? SF_SHUT1 : SF_SHUT0)
#define BULK_F(d) ((d) ? SF_BULK1 : SF_BULK0)
#define RDHUP_F(d) ((d) ? SF_RDHUP1 : SF_RDHUP0)
#define URG_F(d) ((d) ? SF_URG1 : SF_URG0)
/* what side_deadline() reads: a change may bring a *-fin timeout forward */
#define HALF_CLOSE_FLAGS (SF_EOF0 | SF_EOF1 | SF_SHUT0 | SF_SHUT1)

static struct io *src_io(struct session *s, int d)
{
	return d ? &s->srv : &s->cli;
}

static struct io *dst_io(struct session *s, int d)
{
	return d ? &s->cli : &s->srv;
}

/* n bytes read for direction d: the session's figure, and the frontend's,
 * backend's and server's counters (this thread's blocks: bin is what
 * clients sent, bout what they received). */
static inline void count_bytes(struct session *s, int d, uint64_t n)
{
	if (d && !s->bytes[1]) /* the server's first bytes: observe's success */
		session_observe(s, 1);
	s->bytes[d] += n;
	ctr_add(d ? &s->cf->bytes_out : &s->cf->bytes_in, n);
	ctr_add(d ? &s->cb->bytes_out : &s->cb->bytes_in, n);
	ctr_add(d ? &s->cs->bytes_out : &s->cs->bytes_in, n);
}

/* A side reset or failed: reset the other side too and close. side 0 is
 * the client, 1 the server. */
static void relay_abort(struct session *s, int side)
{
	struct io *other = side ? &s->cli : &s->srv;

	if (other->fd >= 0)
		sock_set_reset_on_close(other->fd);
	session_close(s, side ? "SD" : "CD");
}

/* Writes what is buffered for direction d. Returns 0, or -1 when the
 * session was closed. */
static int flush(struct session *s, int d)
{
	struct rbuf *b = s->buf[d];
	/* The source has ended and its FIN is forwarded right after this data
	 * (shutdown or close in pump): MSG_MORE holds the data back for that
	 * moment, so data and FIN leave in one segment, one wake-up of the peer. */
	int more = (s->flags & EOF_F(d)) ? MSG_MORE : 0;

	while (b && b->head < b->tail) {
		ssize_t n = send(dst_io(s, d)->fd, b->data + b->head, b->tail - b->head,
				 MSG_NOSIGNAL | MSG_DONTWAIT | more);
		if (n > 0) {
			b->head += (uint32_t)n;
			s->last_act[!d] = s->w->loop.now_ms;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		relay_abort(s, !d);
		return -1;
	}
	if (b) { /* empty: back to the pool */
		bufpool_put(&s->w->pool, b);
		s->buf[d] = NULL;
	}
	return 0;
}

/* Splice path: source socket → pipe → destination socket, no copy through
 * user space. Filling and draining the pipe alternate until neither moves,
 * so the source is read while the destination is still busy (edge-triggered:
 * a stop is always on an EAGAIN or a full pipe, and a full pipe is drained
 * on the destination's next EPOLLOUT, which reads on). Returns 0, 1 when no
 * pipe could be had (use buffers), or -1 when the session closed. */
static int pump_splice(struct session *s, int d)
{
	int src = src_io(s, d)->fd, dst = dst_io(s, d)->fd;
	struct rpipe *p = s->pipe[d];

	if (!p) {
		p = s->pipe[d] = pipepool_get(&s->w->pipes);
		if (!p) {
			s->flags &= ~BULK_F(d);
			return 1;
		}
	}
	for (;;) {
		int moved = 0;
		ssize_t n;

		if (p->count) {
			n = splice(p->rfd, NULL, dst, NULL, p->count, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n > 0) {
				p->count -= (uint32_t)n;
				s->last_act[!d] = s->w->loop.now_ms;
				moved = 1;
			} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
				relay_abort(s, !d);
				return -1;
			}
		}
		/* splice() cannot pass an urgent mark: pump() reads that with recv() */
		if (!(s->flags & (EOF_F(d) | URG_F(d))) && p->count < p->size) {
			n = splice(src, NULL, p->wfd, NULL, p->size - p->count, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n > 0) {
				p->count += (uint32_t)n;
				count_bytes(s, d, (uint64_t)n);
				s->last_act[d] = s->w->loop.now_ms;
				moved = 1;
			} else if (n == 0 && sock_at_urgent_mark(src)) {
				/* not the end: splice() stops at an urgent mark
				 * even after a FIN; pump() reads on with recv() */
				s->flags |= URG_F(d);
			} else if (n == 0) {
				s->flags |= EOF_F(d);
				s->last_act[d] = s->w->loop.now_ms;
				moved = 1; /* flush what the pipe holds, then forward the FIN */
			} else if (errno != EAGAIN && errno != EINTR) {
				relay_abort(s, d);
				return -1;
			}
		}
		if (!moved)
			break;
	}
	if (!p->count) { /* empty: back to the pool */
		pipepool_put(&s->w->pipes, p);
		s->pipe[d] = NULL;
	}
	return 0;
}

/* Moves data for direction d until the source is drained, the destination
 * is full, or the source ended. Small exchanges go through a pooled buffer;
 * once a read fills the whole buffer the direction is bulk and switches to
 * splice() as soon as the buffer is drained. Returns 0, or -1 when the
 * session closed. */
static int pump(struct session *s, int d)
{
	for (;;) {
		struct rbuf *b;
		ssize_t n;
		size_t room;

		if (flush(s, d))
			return -1;
		if (s->buf[d])
			break; /* destination full */
		/* a pipe still holding data is drained even after the source ended
		 * or while urgent data waits (then only drained, and the buffer
		 * path reads on once it is empty) */
		if (s->pipe[d] || ((s->flags & BULK_F(d)) && !(s->flags & (EOF_F(d) | URG_F(d))))) {
			int rc = pump_splice(s, d);
			if (rc < 0)
				return -1;
			if (rc == 0 && (s->pipe[d] || !(s->flags & URG_F(d))))
				break;
		}
		if (s->flags & EOF_F(d))
			break; /* nothing more to read */
		b = s->buf[d] = bufpool_get(&s->w->pool);
		if (!b) {
			relay_abort(s, d);
			return -1;
		}
		room = RBUF_SIZE;
		n = recv(src_io(s, d)->fd, b->data, room, MSG_DONTWAIT);
		if (n > 0) {
			b->tail = (uint32_t)n;
			count_bytes(s, d, (uint64_t)n);
			s->last_act[d] = s->w->loop.now_ms;
			if (d && s->pg && s->pg->scan) /* a PostgreSQL server's first messages */
				pgedge_scan(s, (const uint8_t *)b->data, (size_t)n);
			/* a short read is "drained" unless it stopped at an urgent mark */
			if ((size_t)n < room && !(s->flags & URG_F(d))) {
				if (s->flags & RDHUP_F(d))
					s->flags |= EOF_F(d); /* and nothing more will come */
				if (flush(s, d))
					return -1;
				break;
			}
			if ((size_t)n < room)
				continue; /* past the mark: flushed at the top, then read on */
			if (!s->w->pipes.disabled && !(d && s->pg && s->pg->scan))
				s->flags |= BULK_F(d);
			continue;
		}
		bufpool_put(&s->w->pool, b);
		s->buf[d] = NULL;
		if (n == 0) {
			s->flags |= EOF_F(d);
			s->last_act[d] = s->w->loop.now_ms;
			break;
		}
		if (errno == EAGAIN) {
			s->flags &= ~URG_F(d); /* really drained now */
			break;
		}
		if (errno == EINTR)
			break;
		relay_abort(s, d);
		return -1;
	}
	if ((s->flags & EOF_F(d)) && !s->buf[d] && !s->pipe[d] && !(s->flags & SHUT_F(d))) {
		/* When the other direction is already done, close() follows at
		 * once and sends this FIN itself (nothing is left unread). */
		if (!(s->flags & SHUT_F(!d)))
			shutdown(dst_io(s, d)->fd, SHUT_WR);
		s->flags |= SHUT_F(d);
	}
	return 0;
}

static void after_io(struct session *s)
{
	if ((s->flags & (SF_SHUT0 | SF_SHUT1)) == (SF_SHUT0 | SF_SHUT1))
		session_close(s, "--");
}

static int pending(const struct session *s, int d)
{
	const struct rbuf *b = s->buf[d];

	return (b && b->head < b->tail) || (s->pipe[d] && s->pipe[d]->count);
}

/* Reading from a side feeds direction `side`; writing to it drains
 * direction `!side`. Errors and hangups show up in the read. */
static void relay_event(struct session *s, int side, uint32_t ev)
{
	uint16_t half = s->flags & HALF_CLOSE_FLAGS;

	if (s->state != SESS_ESTABLISHED)
		return;
	if (ev & EPOLLRDHUP)
		s->flags |= RDHUP_F(side);
	if (ev & EPOLLPRI)
		s->flags |= URG_F(side);
	/* A side whose input has ended is no longer read, so its reset is not
	 * seen by a recv(): look at the error the event reports. */
	if ((ev & (EPOLLERR | EPOLLHUP)) && (s->flags & EOF_F(side)) && sock_error(src_io(s, side)->fd)) {
		relay_abort(s, side);
		return;
	}
	/* writable: only worth a call when something waits for this side */
	if ((ev & EPOLLOUT) && pending(s, !side) && pump(s, !side))
		return;
	if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLERR | EPOLLHUP)) && pump(s, side))
		return;
	/* A half-close may bring client-fin/server-fin into force: a deadline
	 * that moved earlier must re-arm the timer now, not when it fires.
	 * Nothing else moves a deadline earlier (activity only pushes it
	 * later, which the timer finds out when it fires). */
	if (half != (s->flags & HALF_CLOSE_FLAGS)) {
		relay_timeout(s);
		if (s->state != SESS_ESTABLISHED)
			return;
	}
	after_io(s);
}

void relay_cli_io(struct loop *l, struct io *io, uint32_t ev)
{
	(void)l;
	relay_event((struct session *)((char *)io - offsetof(struct session, cli)), 0, ev);
}

static void relay_srv_io(struct loop *l, struct io *io, uint32_t ev)
{
	(void)l;
	relay_event((struct session *)((char *)io - offsetof(struct session, srv)), 1, ev);
}

static uint64_t side_deadline(const struct session *s, int side)
{
	const struct pbackend *be = s->be;
	int half = side ? (s->flags & (SF_EOF1 | SF_SHUT0)) != 0
			: (s->flags & (SF_EOF0 | SF_SHUT1)) != 0;
	int64_t to = side ? (be->to_tunnel ? be->to_tunnel : be->to_server)
			  : (be->to_tunnel ? be->to_tunnel : s->fe->to_client);
	int64_t fin = side ? be->to_server_fin : s->fe->to_client_fin;

	if (half && fin)
		to = fin;
	return to ? s->last_act[side] + (uint64_t)to : UINT64_MAX;
}

void relay_timeout(struct session *s)
{
	uint64_t dc = side_deadline(s, 0), ds = side_deadline(s, 1);
	uint64_t now = s->w->loop.now_ms;

	if (dc <= now || ds <= now) {
		session_close(s, dc <= ds ? "cD" : "sD");
		return;
	}
	if (dc < UINT64_MAX || ds < UINT64_MAX)
		loop_timer_arm(&s->w->loop, &s->timer, dc < ds ? dc : ds);
}

void relay_start(struct session *s, uint32_t srv_events)
{
	/* registered already (PROXY header, content inspection): its edges
	 * while connecting were not acted on, and what it sent so far waits in
	 * buf[0] (counted for the frontend then, for the backend and server now) */
	int early = s->cli.registered;

	if (s->bytes[0]) {
		ctr_add(&s->cb->bytes_in, s->bytes[0]);
		ctr_add(&s->cs->bytes_in, s->bytes[0]);
	}
	s->state = SESS_ESTABLISHED;
	s->srv.cb = relay_srv_io;
	s->cli.cb = relay_cli_io;
	s->last_act[0] = s->last_act[1] = s->w->loop.now_ms;
	loop_timer_cancel(&s->w->loop, &s->timer);
	relay_timeout(s);
	/* Adding the client reports data it already sent as a first edge. The
	 * server's edge came with the connect event: act on it now. */
	if (loop_io_set(&s->w->loop, &s->cli, RELAY_EVENTS) == -1) {
		session_close(s, "CD");
		return;
	}
	if (early) {
		relay_event(s, 0, EPOLLIN);
		if (s->state != SESS_ESTABLISHED)
			return;
	}
	if (srv_events & (EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLERR | EPOLLHUP))
		relay_event(s, 1, srv_events & ~EPOLLOUT);
}
