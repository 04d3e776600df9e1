/* A readable refusal for a PostgreSQL client that is still waiting for the
 * answer to its SSLRequest (or GSSENCRequest) when ferry turns it away.
 *
 * libpq (14 and later) no longer prints an ErrorResponse received in answer
 * to an SSLRequest ("server sent an error response during SSL exchange"):
 * the server is not authenticated yet. So ferry answers 'N' as a server
 * without SSL would, reads the startup message that follows, and sends the
 * ErrorResponse in answer to that: psql then prints ferry's sentence. A
 * client with sslmode=require stops at the 'N' with libpq's own "server
 * does not support SSL, but SSL was required".
 *
 * The session is closed and logged as usual; this object takes over the
 * client's socket for that last exchange, bounded in time (the
 * frontend's timeout client, at most 5 s), in bytes (one first message
 * of at most 10,000 bytes, one more SSLRequest answered) and in number
 * (REFUSE_MAX per worker; beyond, the client is closed without a word). */
#include "proxy/pgedge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/dlist.h"
#include "proxy/proxy.h"

#define REFUSE_WAIT_MAX 5000 /* ms */
#define REFUSE_MAX 64         /* per worker at once: beyond, a silent close (an abusive client
                                 provokes refusals: they must not hold fds without bound) */

struct pgrefuse {
	struct io io;
	struct timer timer;
	struct defer_node defer;
	struct worker *w;
	struct dlist_link link;        /* in the worker's refusals under way */
	int answered;                  /* SSL/GSSENC requests answered 'N' */
	size_t got, elen;
	uint8_t buf[PG_STARTUP_MAX];
	uint8_t err[400];
};

static void refuse_end(struct pgrefuse *r)
{
	struct worker *w = r->w;

	loop_timer_cancel(&w->loop, &r->timer);
	loop_io_close(&w->loop, &r->io);
	dlist_remove(&w->refusals, &r->link);
	loop_defer(&w->loop, &r->defer, free, r);
}

static int put(struct pgrefuse *r, const void *p, size_t n)
{
	ssize_t w;

	do
		w = send(r->io.fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w == -1 && errno == EINTR);
	return w == (ssize_t)n ? 0 : -1;
}

static void refuse_io(struct loop *l, struct io *io, uint32_t ev)
{
	struct pgrefuse *r = (struct pgrefuse *)((char *)io - offsetof(struct pgrefuse, io));

	(void)l;
	(void)ev;
	for (;;) {
		struct pg_first m;
		ssize_t n = recv(io->fd, r->buf + r->got, sizeof(r->buf) - r->got, MSG_DONTWAIT);
		int k;

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		r->got += (size_t)n;
		memset(&m, 0, sizeof(m));
		k = pg_first_parse(r->buf, r->got, &m);
		if (k == 0 && r->got < sizeof(r->buf))
			continue;
		if (k > 0 && (m.kind == PG_FIRST_SSL || m.kind == PG_FIRST_GSSENC) && r->answered < 2) {
			r->answered++;
			memmove(r->buf, r->buf + k, r->got - (size_t)k);
			r->got -= (size_t)k;
			if (put(r, "N", 1))
				break;
			continue;
		}
		if (k > 0 && m.kind == PG_FIRST_STARTUP)
			(void)put(r, r->err, r->elen);
		break;
	}
	refuse_end(r);
}

static void refuse_timeout(struct loop *l, struct timer *t)
{
	(void)l;
	refuse_end((struct pgrefuse *)((char *)t - offsetof(struct pgrefuse, timer)));
}

int pgrefuse_start(struct worker *w, int fd, const uint8_t *err, size_t elen, int64_t to_ms)
{
	struct pgrefuse *r;

	if (elen > sizeof(r->err) || w->refusals.n >= REFUSE_MAX || !(r = calloc(1, sizeof(*r))))
		return -1;
	r->w = w;
	r->answered = 1;
	r->elen = elen;
	memcpy(r->err, err, elen);
	io_init(&r->io, fd, refuse_io);
	timer_init(&r->timer, refuse_timeout);
	dlist_push(&w->refusals, &r->link);
	if (put(r, "N", 1) || loop_io_set(&w->loop, &r->io, EPOLLIN | EPOLLRDHUP | EPOLLET) == -1) {
		refuse_end(r);
		return 0; /* the fd is ours either way */
	}
	loop_timer_arm(&w->loop, &r->timer,
		       w->loop.now_ms + (uint64_t)(to_ms > 0 && to_ms < REFUSE_WAIT_MAX ? to_ms : REFUSE_WAIT_MAX));
	return 0;
}

void pgrefuse_free_all(struct worker *w)
{
	while (w->refusals.first) {
		struct pgrefuse *r = dlist_entry(w->refusals.first, struct pgrefuse, link);
		dlist_remove(&w->refusals, &r->link);
		loop_timer_cancel(&w->loop, &r->timer);
		loop_io_close(&w->loop, &r->io);
		free(r);
	}
}
