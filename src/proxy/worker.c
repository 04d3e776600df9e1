/* Workers: one per thread (nbthread), each with its own event loop,
 * listening sockets, pools and sessions. Threads meet in two places only:
 * the backends (under each backend's lock, see balance/server.h) and the
 * inboxes below, through which one thread hands a queued session a server
 * it freed, or asks another worker to run a function (close the sessions
 * of a server that went down, stop, resume accepting). */
#include "proxy/proxy.h"
#include "proxy/pgedge.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/atomic.h"

static void wake(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->wake.fd, &one, sizeof(one)) < 0) {
		/* the counter is already non-zero (EAGAIN): the worker will look */
	}
}

/* Takes the oldest entry out of the inbox: a session, else a message. */
static int inbox_pop(struct worker *w, struct session **sp, struct wmsg **mp)
{
	int got = 1;

	*sp = NULL;
	*mp = NULL;
	pthread_mutex_lock(&w->in_lock);
	if (w->in_head) {
		*sp = w->in_head;
		w->in_head = (*sp)->inext;
		if (!w->in_head)
			w->in_tail = NULL;
		(*sp)->inext = NULL;
	} else if (w->msg_head) {
		*mp = w->msg_head;
		w->msg_head = (*mp)->next;
		if (!w->msg_head)
			w->msg_tail = NULL;
	} else {
		got = 0;
	}
	pthread_mutex_unlock(&w->in_lock);
	return got;
}

static void wake_cb(struct loop *l, struct io *io, uint32_t ev)
{
	struct worker *w = (struct worker *)((char *)io - offsetof(struct worker, wake));
	struct session *s;
	struct wmsg *m;
	uint64_t n;

	(void)l;
	(void)ev;
	if (read(io->fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: a wake-up already read; the inbox says what is left */
	}
	while (inbox_pop(w, &s, &m)) {
		if (s) {
			session_handed(s);
		} else {
			m->fn(w, m->arg);
			free(m);
		}
	}
}

int worker_init(struct worker *w, struct process *proc, int id)
{
	int fd, idle_pipes;

	memset(w, 0, sizeof(*w));
	w->proc = proc;
	w->id = id;
	pthread_mutex_init(&w->in_lock, NULL);
	listener_worker_init(w);
	bufpool_init(&w->pool, 256);
	/* a thread keeps a few idle pipes, never so many that the others
	 * find the process budget spent on idle pipes */
	idle_pipes = proc->maxpipes / (4 * (proc->nworkers > 0 ? proc->nworkers : 1));
	pipepool_init(&w->pipes, idle_pipes < 64 ? idle_pipes : 64, &proc->npipes, proc->maxpipes);
	if (loop_init(&w->loop))
		return -1;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	io_init(&w->wake, fd, wake_cb);
	if (fd < 0 || loop_io_set(&w->loop, &w->wake, EPOLLIN))
		return -1;
	return 0;
}

void worker_destroy(struct worker *w)
{
	listeners_close(w);
	loop_timer_cancel(&w->loop, &w->resume_timer);
	loop_io_close(&w->loop, &w->wake);
	pgcancel_free_all(w);
	pgrefuse_free_all(w);
	loop_free(&w->loop);
	bufpool_destroy(&w->pool);
	pipepool_destroy(&w->pipes);
	while (w->msg_head) {
		struct wmsg *m = w->msg_head;
		w->msg_head = m->next;
		free(m);
	}
	pthread_mutex_destroy(&w->in_lock);
}

/* Appends a session (s) or a message (m) to w's inbox; wakes w when the
 * inbox was empty (otherwise a wake-up is already on its way). */
static void inbox_add(struct worker *w, struct session *s, struct wmsg *m)
{
	int was_empty;

	pthread_mutex_lock(&w->in_lock);
	was_empty = !w->in_head && !w->msg_head;
	if (s) {
		s->inext = NULL;
		if (w->in_tail)
			w->in_tail->inext = s;
		else
			w->in_head = s;
		w->in_tail = s;
	} else {
		m->next = NULL;
		if (w->msg_tail)
			w->msg_tail->next = m;
		else
			w->msg_head = m;
		w->msg_tail = m;
	}
	pthread_mutex_unlock(&w->in_lock);
	if (was_empty)
		wake(w);
}

void worker_call(struct worker *self, struct worker *target,
		 void (*fn)(struct worker *w, const void *arg), const void *arg, size_t len)
{
	struct wmsg *m;

	if (target == self) { /* fn only reads arg: no copy needed */
		fn(target, arg);
		return;
	}
	m = malloc(sizeof(*m) + len);
	if (!m)
		return;
	m->fn = fn;
	if (len)
		memcpy(m->arg, arg, len);
	inbox_add(target, NULL, m);
}

void workers_call(struct worker *self, void (*fn)(struct worker *w, const void *arg),
		  const void *arg, size_t len)
{
	for (int i = 0; i < self->proc->nworkers; i++)
		worker_call(self, self->proc->workers[i], fn, arg, len);
}

void worker_handoff(struct session *s)
{
	inbox_add(s->w, s, NULL);
}

void worker_handoff_cancel(struct session *s)
{
	struct worker *w = s->w;
	struct session *prev = NULL;

	pthread_mutex_lock(&w->in_lock);
	for (struct session *x = w->in_head; x; prev = x, x = x->inext) {
		if (x != s)
			continue;
		if (prev)
			prev->inext = s->inext;
		else
			w->in_head = s->inext;
		if (w->in_tail == s)
			w->in_tail = prev;
		s->inext = NULL;
		break;
	}
	pthread_mutex_unlock(&w->in_lock);
}

static void resume_listeners(struct worker *w, const void *arg)
{
	(void)arg;
	ATOMIC_STORE(&w->resume_asked, 0);
	listeners_update(w);
}

void workers_slot_freed(struct worker *self)
{
	if (self->listeners_paused)
		listeners_update(self);
	for (int i = 0; i < self->proc->nworkers; i++) {
		struct worker *w = self->proc->workers[i];
		if (w == self || !__atomic_load_n(&w->listeners_paused, __ATOMIC_SEQ_CST))
			continue;
		if (!ATOMIC_XCHG(&w->resume_asked, 1))
			worker_call(self, w, resume_listeners, NULL, 0);
	}
}
