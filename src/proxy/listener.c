/* Listening sockets: accept in batches, stop accepting at maxconn (clients
 * wait in the kernel backlog, none refused) and resume when a slot frees;
 * when the process runs out of file descriptors, pause briefly instead of
 * spinning on accept(). The rate limits (maxconnrate, maxsessrate,
 * rate-limit sessions) work the same way, as HAProxy's limit_listener: a
 * listener whose rate is reached stops accepting, the clients wait in the
 * backlog, and a timer set to when the next one may come resumes it. */
#include "proxy/proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/atomic.h"
#include "event/sock.h"

#define ACCEPT_BATCH 64
#define FD_PAUSE_MS 100

static void resume_cb(struct loop *l, struct timer *t)
{
	struct worker *w = (struct worker *)((char *)t - offsetof(struct worker, resume_timer));

	(void)l;
	w->fd_exhausted = 0;
	listeners_update(w);
}

static void rate_cb(struct loop *l, struct timer *t)
{
	struct worker *w = (struct worker *)((char *)t - offsetof(struct worker, rate_timer));

	(void)l;
	listeners_update(w);
}

void listener_worker_init(struct worker *w)
{
	timer_init(&w->resume_timer, resume_cb);
	timer_init(&w->rate_timer, rate_cb);
}

/* How many clients fe may accept now under the rate limits (UINT32_MAX:
 * no limit). At 0, *wait_ms says when the first limit reached lets one
 * more through. The counts are shared by every thread; two threads that
 * read them at once may each take the last one, as in HAProxy. */
static uint32_t rate_budget(const struct worker *w, const struct frontend *fe, uint32_t *wait_ms)
{
	const struct process *p = w->proc;
	uint64_t now = w->loop.now_ms;
	uint32_t max = UINT32_MAX;
	struct {
		const struct rate_ctr *c;
		unsigned lim;
	} lims[3] = {
		{ &p->sess_rate, __atomic_load_n(&p->sps_lim, __ATOMIC_RELAXED) },
		{ &p->conn_rate, __atomic_load_n(&p->cps_lim, __ATOMIC_RELAXED) },
		{ &fe->sess_rate, fe->sps_lim },
	};

	for (int i = 0; i < 3; i++) {
		uint32_t r;
		if (!lims[i].lim)
			continue;
		r = rate_ctr_remain(lims[i].c, now, lims[i].lim, 0);
		if (!r) {
			*wait_ms = rate_ctr_delay(lims[i].c, now, lims[i].lim, 0);
			return 0;
		}
		if (r < max)
			max = r;
	}
	return max;
}

/* A client was accepted and became a session: the rate counts. */
static void rate_count(struct worker *w, struct frontend *fe)
{
	struct process *p = w->proc;
	uint64_t now = w->loop.now_ms;

	if (p->cps_lim)
		rate_ctr_add(&p->conn_rate, now, 1);
	if (p->sps_lim)
		rate_ctr_add(&p->sess_rate, now, 1);
	if (fe->sps_lim)
		rate_ctr_add(&fe->sess_rate, now, 1);
}

/* Whether w may accept for fe now. The process and frontend counts are
 * shared by every thread: accept_cb reserves its slot in them before
 * accept() (listener_slot_reserve), so two threads never overshoot a limit. */
static int may_accept(const struct worker *w, const struct frontend *fe, uint32_t *wait_ms)
{
	return rate_budget(w, fe, wait_ms) && !w->stopping && !w->fd_exhausted && !__atomic_load_n(&fe->disabled, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&w->proc->actconn, __ATOMIC_SEQ_CST) < w->proc->maxconn &&
	       __atomic_load_n(&fe->cur_conns, __ATOMIC_SEQ_CST) < fe->maxconn;
}

/* Applies the limits to each listener; returns whether some is paused. */
static int apply_limits(struct worker *w)
{
	int paused = 0;
	uint32_t wait = 0;

	for (struct listener *li = w->listeners; li; li = li->next) {
		uint32_t lw = 0;
		int on;
		if (li->io.fd < 0 || li->paused) /* a paused one waits for "enable frontend" */
			continue;
		on = may_accept(w, li->fe, &lw);
		loop_io_set(&w->loop, &li->io, on ? EPOLLIN : 0);
		paused |= !on;
		if (lw && (!wait || lw < wait))
			wait = lw;
	}
	/* a rate limit lifts by itself: nobody frees a slot to wake us */
	if (wait)
		loop_timer_arm(&w->loop, &w->rate_timer, w->loop.now_ms + wait);
	return paused;
}

/* Pauses or resumes each listener. A thread that frees a slot reads
 * listeners_paused after giving its slot back (workers_slot_freed); this
 * thread looks at the counts once more after saying it paused. Both are
 * sequentially consistent, so one of the two sees the other: a slot freed
 * before the flag was set is seen by the second look, one freed after it
 * brings a wake-up. */
void listeners_update(struct worker *w)
{
	int paused = apply_limits(w);

	__atomic_store_n(&w->listeners_paused, paused, __ATOMIC_SEQ_CST);
	if (paused && !apply_limits(w))
		__atomic_store_n(&w->listeners_paused, 0, __ATOMIC_SEQ_CST);
}

int listener_slot_reserve(struct worker *w, struct frontend *fe)
{
	if (w->stopping || w->fd_exhausted || !atomic_reserve(&w->proc->actconn, w->proc->maxconn))
		return 0;
	if (atomic_reserve(&fe->cur_conns, fe->maxconn))
		return 1;
	/* the frontend is full: the process slot held for a moment may have
	 * paused another thread, which listener_slot_release would wake */
	__atomic_add_fetch(&w->proc->actconn, -1, __ATOMIC_SEQ_CST);
	workers_slot_freed(w);
	return 0;
}

/* Gives back a slot reserved for a connection that did not become a
 * session: accept() found nobody (the end of every batch), or the session
 * could not be allocated. While it was held, another thread may have seen
 * the limit reached and paused its listeners; like a session that ends
 * (session_close), this wakes it. The decrements are sequentially
 * consistent for the same reason as there (see listeners_update). */
void listener_slot_release(struct worker *w, struct frontend *fe)
{
	__atomic_add_fetch(&fe->cur_conns, -1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&w->proc->actconn, -1, __ATOMIC_SEQ_CST);
	workers_slot_freed(w);
}

static void accept_cb(struct loop *l, struct io *io, uint32_t ev)
{
	struct listener *li = (struct listener *)io;
	struct worker *w = li->w;
	uint32_t wait = 0, batch = rate_budget(w, li->fe, &wait);

	(void)l;
	(void)ev;
	if (!batch) {
		listeners_update(w); /* pauses it and sets the timer */
		return;
	}
	for (uint32_t i = 0; i < ACCEPT_BATCH; i++) {
		if (i == batch) {
			listeners_update(w); /* the rate allows no more now */
			return;
		}
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int fd;

		if (!listener_slot_reserve(w, li->fe)) {
			listeners_update(w);
			return;
		}
		fd = accept4(io->fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			listener_slot_release(w, li->fe);
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				WARN("Proxy %s reached the process file descriptor or memory limit (%s): pausing accepts for %d ms",
				     li->fe->name, strerror(errno), FD_PAUSE_MS);
				w->fd_exhausted = 1;
				loop_timer_arm(&w->loop, &w->resume_timer, w->loop.now_ms + FD_PAUSE_MS);
				listeners_update(w);
				return;
			}
			continue; /* ECONNABORTED and friends concern that one client */
		}
		if (session_start(w, li, fd, (struct sockaddr *)&sa, len)) {
			close(fd); /* out of memory: this client only */
			listener_slot_release(w, li->fe);
			continue;
		}
		rate_count(w, li->fe);
	}
}

/* listen()'s backlog: the bind's, the frontend's, else its maxconn (HAProxy's). */
static int listener_backlog(const struct frontend *fe, const struct cfg_bind *b)
{
	return b->backlog ? b->backlog : fe->cfg->backlog ? fe->cfg->backlog : fe->maxconn;
}

int listener_socket(const struct frontend *fe, const struct cfg_bind *b,
		    const struct sockaddr_storage *ss, char *err, size_t errlen)
{
	int v6only = b->v6only ? 1 : b->v4v6 ? 0 : SOCK_V6_DEFAULT;
	int fd;

	if (ss->ss_family == AF_UNIX) { /* no TCP options to set */
		fd = sock_listen_unix((const struct sockaddr_un *)ss, listener_backlog(fe, b), b->ux_mode,
				      b->ux_uid, b->ux_gid, NULL, NULL, err, errlen);
		return fd < 0 ? -1 : fd;
	}
	fd = sock_listen((const struct sockaddr *)ss, addr_len((const struct sockaddr *)ss),
			 listener_backlog(fe, b), v6only, err, errlen);
	if (fd < 0)
		return -1;
	/* accepted sockets inherit these: no setsockopt per connection */
	sock_set_nodelay(fd);
	sock_set_oobinline(fd);
	if (fe->options & PXO_CLITCPKA)
		sock_set_keepalive(fd);
	return fd;
}

int listener_inherit(const struct frontend *fe, const struct cfg_bind *b, int fd,
		     char *err, size_t errlen)
{
	int listening = 0, fl;
	socklen_t l = sizeof(listening);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) == -1) {
		snprintf(err, errlen, "file descriptor %d: %s", fd, strerror(errno));
		return -1;
	}
	if (!listening && listen(fd, listener_backlog(fe, b)) == -1) {
		snprintf(err, errlen, "cannot listen on file descriptor %d: %s", fd, strerror(errno));
		return -1;
	}
	/* every worker's accept() must return at once when another took the
	 * client; the parent's copy shares this flag (HAProxy sets it too) */
	fl = fcntl(fd, F_GETFL);
	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errlen, "file descriptor %d: %s", fd, strerror(errno));
		return -1;
	}
	sock_set_nodelay(fd);
	sock_set_oobinline(fd);
	if (fe->options & PXO_CLITCPKA)
		sock_set_keepalive(fd);
	return 0;
}

static void registry_add(struct process *p, int fd)
{
	int *v;

	pthread_mutex_lock(&p->lsock_lock);
	v = realloc(p->lsock, (size_t)(p->nlsock + 1) * sizeof(*v));
	if (v) {
		p->lsock = v;
		p->lsock[p->nlsock++] = fd;
	}
	pthread_mutex_unlock(&p->lsock_lock);
}

/* Closes a listener's socket, taking it out of the registry first. Out of
 * epoll explicitly: close() alone leaves the registration in place while
 * another descriptor shares the socket (a dup, or the new process's copy
 * after a binary upgrade), and epoll would go on reporting the freed
 * listener. */
static void registry_close(struct worker *w, struct listener *li)
{
	struct process *p = w->proc;
	int fd = li->io.fd;

	pthread_mutex_lock(&p->lsock_lock);
	for (int i = 0; i < p->nlsock; i++)
		if (p->lsock[i] == fd) {
			p->lsock[i] = p->lsock[--p->nlsock];
			break;
		}
	loop_io_forget(&w->loop, &li->io);
	if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(&p->lsock_lock);
}

int listeners_registry_lock(struct process *p, int **fds)
{
	pthread_mutex_lock(&p->lsock_lock);
	*fds = malloc((size_t)(p->nlsock ? p->nlsock : 1) * sizeof(int));
	if (!*fds) {
		pthread_mutex_unlock(&p->lsock_lock);
		return -1;
	}
	memcpy(*fds, p->lsock, (size_t)p->nlsock * sizeof(int));
	return p->nlsock;
}

void listeners_registry_unlock(struct process *p)
{
	pthread_mutex_unlock(&p->lsock_lock);
}

/* What a session needs of its bind line: accept-proxy, and the listener's
 * number for HAProxy's log lines (1 + the addresses of the bind lines
 * before it: ports of a range are not told apart). */
static void listener_bind_opts(struct listener *li, const struct frontend *fe, const struct cfg_bind *b)
{
	int n = 1;

	li->accept_proxy = b->accept_proxy;
	for (const struct cfg_bind *o = fe->cfg ? fe->cfg->binds : NULL; o && o != b; o = o->next)
		n += o->naddr;
	li->luid = n;
}

int listener_adopt(struct worker *w, struct frontend *fe, const struct cfg_bind *b, int fd,
		   const struct sockaddr_storage *ss)
{
	struct listener *li = calloc(1, sizeof(*li));

	if (!li)
		return -1;
	registry_add(w->proc, fd);
	io_init(&li->io, fd, accept_cb);
	li->backlog = listener_backlog(fe, b);
	li->fe = fe;
	li->w = w;
	listener_bind_opts(li, fe, b);
	li->addr = *ss;
	li->next = w->listeners;
	w->listeners = li;
	return 0;
}

int listener_open(struct worker *w, struct frontend *fe, const struct cfg_bind *b,
		  const struct addr_spec *a, char *err, size_t errlen)
{
	for (int port = a->port_lo; port <= a->port_hi; port++) {
		struct sockaddr_storage ss = a->ss;
		int fd;
		addr_set_port((struct sockaddr *)&ss, port);
		fd = listener_socket(fe, b, &ss, err, errlen);
		if (fd < 0)
			return -1;
		if (listener_adopt(w, fe, b, fd, &ss)) {
			close(fd);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

void listener_move(struct listener *li, struct frontend *fe, const struct cfg_bind *b)
{
	li->fe = fe;
	li->backlog = listener_backlog(fe, b);
	listener_bind_opts(li, fe, b);
	/* a kept unix socket file takes the new line's mode and owner (a
	 * new HAProxy process binds it again with them) */
	if (li->addr.ss_family == AF_UNIX && ((struct sockaddr_un *)&li->addr)->sun_path[0]) {
		const char *path = ((struct sockaddr_un *)&li->addr)->sun_path;
		if ((b->ux_mode >= 0 && chmod(path, (mode_t)b->ux_mode) == -1) ||
		    ((b->ux_uid >= 0 || b->ux_gid >= 0) && chown(path, (uid_t)b->ux_uid, (gid_t)b->ux_gid) == -1))
			WARN("Proxy %s: cannot change the mode or owner of %s (%s); the old ones stay", fe->name,
			     path, strerror(errno));
	}
	/* the new configuration's frontend is enabled: one paused by
	 * "disable frontend" listens again (HAProxy's new process does) */
	if (li->paused && listen(li->io.fd, li->backlog) == 0)
		li->paused = 0;
}

void listener_close_one(struct worker *w, struct listener *li)
{
	for (struct listener **p = &w->listeners; *p; p = &(*p)->next)
		if (*p == li) {
			*p = li->next;
			break;
		}
	registry_close(w, li);
	loop_defer(&w->loop, &li->defer, free, li);
}

int listeners_pause_frontend(struct worker *w, const struct frontend *fe, int pause)
{
	int n = 0, failed = 0;

	for (struct listener *li = w->listeners; li; li = li->next) {
		if (li->fe != fe || li->io.fd < 0 || li->paused == pause)
			continue;
		if (pause) {
			/* as HAProxy on Linux: a shut down listening socket refuses
			 * new connections, and listen() makes it accept again. Out
			 * of epoll meanwhile: it would report a hangup forever. */
			int fd = li->io.fd;
			loop_io_forget(&w->loop, &li->io);
			li->io.fd = fd; /* still ours; registered again on resume */
			shutdown(fd, SHUT_RD);
		} else if (listen(li->io.fd, li->backlog) == -1) {
			failed = 1;
			continue;
		}
		li->paused = pause;
		n++;
	}
	listeners_update(w);
	return failed ? -1 : n;
}

void listeners_close_frontend(struct worker *w, const struct frontend *fe)
{
	struct listener **p = &w->listeners;

	while (*p) {
		struct listener *li = *p;
		if (li->fe != fe) {
			p = &li->next;
			continue;
		}
		*p = li->next;
		registry_close(w, li);
		loop_defer(&w->loop, &li->defer, free, li);
	}
	listeners_update(w);
}

/* Closes every listener of w. Their memory is released after the current
 * batch of events, as sessions are: the batch may still hold an event for a
 * listener closed by an earlier event (SIGUSR1 and a new client read by the
 * same epoll_wait), and the loop skips it only by reading its closed fd. */
void listeners_close(struct worker *w)
{
	while (w->listeners) {
		struct listener *li = w->listeners;
		w->listeners = li->next;
		registry_close(w, li);
		loop_defer(&w->loop, &li->defer, free, li);
	}
	ATOMIC_STORE(&w->listeners_paused, 0);
}
