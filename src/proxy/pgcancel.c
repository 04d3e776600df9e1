/* CancelRequests ferry sends on a client's behalf: one small connection
 * per server, made on the worker's loop (connect, write the 16 to 268
 * bytes, wait for the server to close), as libpq's PQcancel does itself.
 * PostgreSQL answers a cancel with nothing and closes once it has
 * processed it; a key it did not issue is ignored, which is what makes
 * sending one to every server of a backend safe. The client's session
 * (the owner) waits until all of its cancels have ended, so that its EOF
 * means "processed" as it does from PostgreSQL itself.
 *
 * These connections are not sessions: they take no server slot and are
 * not logged one by one (the client's cancel line says where they went).
 * Each is bounded by the backend's timeout connect (5 s without one), and
 * a worker has at most PGCANCEL_MAX of them at once: beyond, a cancel is
 * dropped (the client's log line says so). */
#include "proxy/pgedge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/dlist.h"
#include "event/sock.h"
#include "proxy/proxy.h"

#define PGCANCEL_MAX 1024 /* per worker */

struct pgcancel {
	struct io io;
	struct timer timer;
	struct defer_node defer;
	struct worker *w;
	struct session *owner;         /* the client's session waiting for it; NULL: gone */
	int sent;
	struct dlist_link link;        /* in the worker's cancels under way */
	size_t len;
	uint8_t msg[12 + PG_CANCEL_KEY_MAX];
};

static void cancel_end(struct pgcancel *c)
{
	struct worker *w = c->w;
	struct session *o = c->owner;

	loop_timer_cancel(&w->loop, &c->timer);
	loop_io_close(&w->loop, &c->io);
	dlist_remove(&w->cancels, &c->link);
	loop_defer(&w->loop, &c->defer, free, c);
	if (o)
		pgedge_cancel_done(o);
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
	if (!c->sent && (ev & EPOLLOUT)) {
		/* a fresh socket's buffer takes the few bytes whole */
		ssize_t n;
		do
			n = send(io->fd, c->msg, c->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n == -1 && errno == EINTR);
		if (n != (ssize_t)c->len) {
			cancel_end(c);
			return;
		}
		c->sent = 1;
	}
	if (c->sent && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		char b[64];
		ssize_t n;
		/* the server closes once it has processed the cancel */
		while ((n = recv(io->fd, b, sizeof(b), MSG_DONTWAIT)) > 0 || (n == -1 && errno == EINTR))
			;
		if (n == 0 || errno != EAGAIN)
			cancel_end(c);
	}
}

static void cancel_timeout(struct loop *l, struct timer *t)
{
	(void)l;
	cancel_end((struct pgcancel *)((char *)t - offsetof(struct pgcancel, timer)));
}

int pgcancel_send(struct worker *w, struct session *owner, const struct sockaddr *addr, socklen_t addrlen,
		  const struct sockaddr *src, socklen_t srclen, const uint8_t *msg, size_t len,
		  int64_t to_ms)
{
	struct pgcancel *c;
	int fd;

	if (len > sizeof(c->msg) || w->cancels.n >= PGCANCEL_MAX || !(c = calloc(1, sizeof(*c))))
		return -1;
	fd = sock_connect_from(addr, addrlen, srclen ? src : NULL, srclen);
	if (fd < 0) {
		free(c);
		return -1;
	}
	c->w = w;
	c->owner = owner;
	c->len = len;
	memcpy(c->msg, msg, len);
	io_init(&c->io, fd, cancel_io);
	timer_init(&c->timer, cancel_timeout);
	dlist_push(&w->cancels, &c->link);
	if (loop_io_set(&w->loop, &c->io, EPOLLOUT | EPOLLIN | EPOLLRDHUP | EPOLLET) == -1) {
		c->owner = NULL;
		cancel_end(c);
		return -1;
	}
	loop_timer_arm(&w->loop, &c->timer, w->loop.now_ms + (uint64_t)(to_ms > 0 ? to_ms : 5000));
	return 0;
}

void pgcancel_forget_owner(struct worker *w, const struct session *owner)
{
	for (struct dlist_link *k = w->cancels.first; k; k = k->next) {
		struct pgcancel *c = dlist_entry(k, struct pgcancel, link);
		if (c->owner == owner)
			c->owner = NULL;
	}
}

void pgcancel_free_all(struct worker *w)
{
	while (w->cancels.first) {
		struct pgcancel *c = dlist_entry(w->cancels.first, struct pgcancel, link);
		dlist_remove(&w->cancels, &c->link);
		loop_timer_cancel(&w->loop, &c->timer);
		loop_io_close(&w->loop, &c->io);
		free(c);
	}
}
