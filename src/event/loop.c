#include "event/loop.h"

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

#include "core/clock.h"

#define MAX_EVENTS 256

int loop_init(struct loop *l)
{
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	heap_init(&l->timers);
	l->now_ms = clock_mono_ms();
	l->stop = 0;
	l->deferred = NULL;
	l->busy = 0;
	return l->epfd == -1 ? -1 : 0;
}

static void run_deferred(struct loop *l)
{
	while (l->deferred) {
		struct defer_node *d = l->deferred;
		l->deferred = d->next;
		d->fn(d->ptr);
	}
}

void loop_free(struct loop *l)
{
	run_deferred(l);
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
	heap_free(&l->timers);
}

int loop_io_set(struct loop *l, struct io *io, uint32_t events)
{
	struct epoll_event ev;

	if (io->registered && io->events == events)
		return 0;
	ev.events = events;
	ev.data.ptr = io;
	if (epoll_ctl(l->epfd, io->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, io->fd, &ev) == -1)
		return -1;
	io->registered = 1;
	io->events = events;
	return 0;
}

void loop_io_close(struct loop *l, struct io *io)
{
	(void)l;
	if (io->fd < 0)
		return;
	/* close() removes the fd from the epoll set when it was the socket's
	 * only descriptor (every connection's), so no EPOLL_CTL_DEL: one system
	 * call less per socket. Shared sockets (listeners) use loop_io_forget
	 * then close. */
	close(io->fd);
	io->fd = -1;
	io->registered = 0;
	io->events = 0;
}

void loop_io_forget(struct loop *l, struct io *io)
{
	if (io->fd >= 0 && io->registered)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->fd = -1;
	io->registered = 0;
	io->events = 0;
}

void loop_timer_arm(struct loop *l, struct timer *t, uint64_t when_ms)
{
	if (t->hn.idx >= 0) {
		if (t->hn.key != when_ms)
			heap_update(&l->timers, &t->hn, when_ms);
		return;
	}
	t->hn.key = when_ms;
	if (heap_push(&l->timers, &t->hn) == -1)
		t->hn.idx = -1; /* out of memory: the timer stays unarmed */
}

void loop_timer_cancel(struct loop *l, struct timer *t)
{
	heap_remove(&l->timers, &t->hn);
	t->hn.idx = -1;
}

void loop_defer(struct loop *l, struct defer_node *node, defer_cb fn, void *ptr)
{
	node->fn = fn;
	node->ptr = ptr;
	node->next = l->deferred;
	l->deferred = node;
}

static void run_timers(struct loop *l)
{
	struct heap_node *hn;

	while ((hn = heap_top(&l->timers)) && hn->key <= l->now_ms) {
		struct timer *t = (struct timer *)((char *)hn - offsetof(struct timer, hn));
		heap_remove(&l->timers, hn);
		t->cb(l, t);
	}
}

void loop_run_once(struct loop *l, int max_wait_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	struct heap_node *top = heap_top(&l->timers);
	int timeout = max_wait_ms, n;

	if (l->deferred || l->busy)
		timeout = 0;
	else if (top) {
		uint64_t now = clock_mono_ms();
		int64_t d = top->key > now ? (int64_t)(top->key - now) : 0;
		if (timeout < 0 || d < timeout)
			timeout = (int)(d > 1000000 ? 1000000 : d);
	}
	n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout);
	l->now_ms = clock_mono_ms();
	for (int i = 0; i < n; i++) {
		struct io *io = evs[i].data.ptr;
		if (io->fd >= 0)
			io->cb(l, io, evs[i].events);
	}
	if (n == -1 && errno != EINTR)
		l->stop = 1;
	run_timers(l);
	run_deferred(l);
}
