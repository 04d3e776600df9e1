/* CancelRequests ferry sends on a client's behalf: one small connection
 * per server, made on the worker's loop (connect, write the 16 to 268
 * bytes, close), as libpq's PQcancel does itself. PostgreSQL answers a
 * cancel with nothing and closes; a key it did not issue is ignored, which
 * is what makes sending one to every server of a backend safe.
 *
 * These connections are not sessions: they take no server slot and are
 * not logged one by one (the client's cancel line says where they went).
 * Each is bounded by the backend's timeout connect. */
#include "proxy/pgedge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event/sock.h"
#include "proxy/proxy.h"

struct pgcancel {
	struct io io;
	struct timer timer;
	struct defer_node defer;
	struct worker *w;
	struct pgcancel *prev, *next;  /* the worker's cancels under way */
	size_t len;
	uint8_t msg[12 + PG_CANCEL_KEY_MAX];
};

static void cancel_end(struct pgcancel *c)
{
	struct worker *w = c->w;

	loop_timer_cancel(&w->loop, &c->timer);
	loop_io_close(&w->loop, &c->io);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->cancels = c->next;
	if (c->next)
		c->next->prev = c->prev;
	loop_defer(&w->loop, &c->defer, free, c);
}

static void cancel_io(struct loop *l, struct io *io, uint32_t ev)
{
	struct pgcancel *c = (struct pgcancel *)((char *)io - offsetof(struct pgcancel, io));

	(void)l;
	if (io->fd < 0)
		return;
	if ((ev & (EPOLLERR | EPOLLHUP)) && sock_error(io->fd)) {
		cancel_end(c);
		return;
	}
	if (ev & EPOLLOUT) {
		/* a fresh socket's buffer takes the few bytes whole */
		(void)send(io->fd, c->msg, c->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		cancel_end(c);
	}
}

static void cancel_timeout(struct loop *l, struct timer *t)
{
	(void)l;
	cancel_end((struct pgcancel *)((char *)t - offsetof(struct pgcancel, timer)));
}

int pgcancel_send(struct worker *w, const struct sockaddr *addr, socklen_t addrlen,
		  const struct sockaddr *src, socklen_t srclen, const uint8_t *msg, size_t len,
		  int64_t to_ms)
{
	struct pgcancel *c;
	int fd;

	if (len > sizeof(c->msg) || !(c = calloc(1, sizeof(*c))))
		return -1;
	fd = sock_connect_from(addr, addrlen, srclen ? src : NULL, srclen);
	if (fd < 0) {
		free(c);
		return -1;
	}
	c->w = w;
	c->len = len;
	memcpy(c->msg, msg, len);
	io_init(&c->io, fd, cancel_io);
	timer_init(&c->timer, cancel_timeout);
	c->next = w->cancels;
	if (w->cancels)
		w->cancels->prev = c;
	w->cancels = c;
	if (loop_io_set(&w->loop, &c->io, EPOLLOUT | EPOLLET) == -1) {
		cancel_end(c);
		return -1;
	}
	loop_timer_arm(&w->loop, &c->timer, w->loop.now_ms + (uint64_t)(to_ms > 0 ? to_ms : 5000));
	return 0;
}

void pgcancel_free_all(struct worker *w)
{
	while (w->cancels) {
		struct pgcancel *c = w->cancels;
		w->cancels = c->next;
		loop_timer_cancel(&w->loop, &c->timer);
		loop_io_close(&w->loop, &c->io);
		free(c);
	}
}
