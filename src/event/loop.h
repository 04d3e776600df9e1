/* The event loop: epoll for file descriptors, a min-heap of timers, and
 * deferred frees so a callback never touches memory released earlier in the
 * same batch of events. One loop per thread; nothing here is global. */
#ifndef FERRY_EVENT_LOOP_H
#define FERRY_EVENT_LOOP_H
#include <stdint.h>
#include <sys/epoll.h>

#include "core/heap.h"

struct loop;
struct io;
struct timer;

typedef void (*io_cb)(struct loop *l, struct io *io, uint32_t events);
typedef void (*timer_cb)(struct loop *l, struct timer *t);
typedef void (*defer_cb)(void *ptr);

struct io {
	int fd;             /* -1 once closed */
	uint32_t events;    /* interest currently registered */
	int registered;
	io_cb cb;
};

struct timer {
	struct heap_node hn; /* hn.idx < 0: not armed */
	timer_cb cb;
};

struct defer_node {
	struct defer_node *next;
	defer_cb fn;
	void *ptr;
};

struct loop {
	int epfd;
	struct heap timers;
	uint64_t now_ms;      /* refreshed once per iteration */
	int stop;
	struct defer_node *deferred;
	int busy;             /* busy-polling: epoll_wait never sleeps */
};

int loop_init(struct loop *l);
void loop_free(struct loop *l);
/* Sets fd's interest to events (EPOLLIN/EPOLLOUT), adding it on first use.
 * Skips the system call when nothing changes. Returns 0 or -1 (errno). */
int loop_io_set(struct loop *l, struct io *io, uint32_t events);
/* Removes io from the loop and closes its fd. */
void loop_io_close(struct loop *l, struct io *io);
/* Removes io from the loop without closing its fd (a library owns it). */
void loop_io_forget(struct loop *l, struct io *io);
static inline void io_init(struct io *io, int fd, io_cb cb)
{
	io->fd = fd;
	io->events = 0;
	io->registered = 0;
	io->cb = cb;
}
static inline void timer_init(struct timer *t, timer_cb cb)
{
	t->hn.idx = -1;
	t->hn.key = 0;
	t->cb = cb;
}
static inline int timer_armed(const struct timer *t)
{
	return t->hn.idx >= 0;
}
/* Arms (or moves) t to fire at when_ms (monotonic). */
void loop_timer_arm(struct loop *l, struct timer *t, uint64_t when_ms);
void loop_timer_cancel(struct loop *l, struct timer *t);
/* Calls fn(ptr) after the current batch of events. node is caller-owned
 * storage (usually embedded in ptr). */
void loop_defer(struct loop *l, struct defer_node *node, defer_cb fn, void *ptr);
/* Runs one iteration: waits up to the next timer (or max_wait_ms when
 * >= 0 and sooner), dispatches events, runs timers and deferred frees. */
void loop_run_once(struct loop *l, int max_wait_ms);

#endif
