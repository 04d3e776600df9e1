/* The stats sockets: unix or TCP listening sockets on worker 0's loop, and
 * their connections, read and answered as HAProxy's CLI does:
 * - a line is one or more commands separated by ';' (a backslash escapes
 *   it); each command's output is followed by an empty line, or by "\n> "
 *   in interactive mode ("prompt");
 * - without "prompt", the connection closes once the commands received so
 *   far are answered (so "echo 'show stat' | socat stdio UNIX-CONNECT:..."
 *   works); with it, it stays open until "quit", the client's close, or
 *   the idle timeout ("stats timeout", 10 s by default);
 * - a line longer than CLI_LINE_MAX is refused, with a message, and the
 *   connection goes on with the next line (HAProxy hangs or drops the
 *   connection there, depending on the length).
 * A command that needs other threads (show sess, ...) holds its
 * connection's next commands until it completes. */
#include "ops/cli_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/log.h"
#include "event/sock.h"

#define DEFAULT_TIMEOUT_MS 10000 /* HAProxy's stats timeout */
#define DEFAULT_MAXCONN 10       /* HAProxy's stats maxconn */
#define SEND_CHUNK 65536
#define OUT_HIGH (1 << 20)       /* answers waiting beyond this: read no more commands */

struct cli_listener {
	struct io io;
	struct ops *ops;
	struct cli_listener *next;
	int level;
	int expose_fd;               /* "expose-fd listeners" */
	char *path;                  /* a unix socket ferry created: removed at stop */
	dev_t dev;                   /* ... unless another process replaced it meanwhile */
	ino_t ino;
	struct sockaddr_storage addr; /* a TCP socket's address */
	socklen_t addrlen;
	/* a reload (ops_cli_prepare, then commit or abort) */
	int fresh;                   /* opened for the configuration being prepared */
	int keep;                    /* listed by the configuration being prepared */
	const struct cfg_stats_socket *nss; /* its line there */
};

struct cli_conn {
	struct io io;
	struct ops *ops;
	struct cli_conn *prev, *next;
	struct cli_sess sess;
	char in[CLI_LINE_MAX];
	size_t inlen;
	int discarding;              /* in a line too long: skipping to its end */
	struct sbuf out;             /* answers not yet sent */
	struct cli_req *req;         /* a command still running (async) */
	struct timer timer;          /* idle timeout */
	int eof;                     /* the client will send nothing more */
	int closing;                 /* close once out is sent */
	struct defer_node defer;
};

static void conn_io(struct loop *l, struct io *io, uint32_t ev);
static void conn_process(struct cli_conn *c);
static void listeners_set(struct ops *o);

/* ---- connections ------------------------------------------------------------------ */

static struct loop *loop_of(const struct ops *o)
{
	return &o->rt->ws[0].loop;
}

static void conn_touch(struct cli_conn *c)
{
	struct loop *l = loop_of(c->ops);

	loop_timer_arm(l, &c->timer, l->now_ms + (uint64_t)c->sess.timeout_ms);
}

static void conn_free(void *p)
{
	struct cli_conn *c = p;

	sbuf_free(&c->out);
	free(c);
}

static void conn_close(struct cli_conn *c)
{
	struct ops *o = c->ops;

	if (c->io.fd < 0)
		return;
	if (c->req) /* its command finishes later, alone */
		c->req->orphan = 1;
	c->req = NULL;
	loop_timer_cancel(loop_of(o), &c->timer);
	loop_io_close(loop_of(o), &c->io);
	if (c->prev)
		c->prev->next = c->next;
	else
		o->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	o->nconns--;
	loop_defer(loop_of(o), &c->defer, conn_free, c);
	listeners_set(o);
}

/* Sends what it can; closes when asked to and all is sent. */
static void conn_flush(struct cli_conn *c)
{
	while (c->out.len) {
		size_t n = c->out.len < SEND_CHUNK ? c->out.len : SEND_CHUNK;
		ssize_t w = send(c->io.fd, c->out.p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			sbuf_consume(&c->out, (size_t)w);
			conn_touch(c);
			continue;
		}
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		conn_close(c); /* the client is gone */
		return;
	}
	if (!c->out.len && c->closing) {
		conn_close(c);
		return;
	}
	/* no reading while a command runs with the input full, or while the
	 * client does not read its answers */
	loop_io_set(loop_of(c->ops), &c->io, (c->out.len ? EPOLLOUT : 0) |
		    (c->eof || c->inlen == sizeof(c->in) || c->out.len > OUT_HIGH ? 0 : EPOLLIN));
}

/* After a command (or the refusal of a line): the prompt, then, without
 * interactive mode, the end of the connection once nothing is waiting. */
static void after_command(struct cli_conn *c)
{
	if (c->sess.quit) {
		c->closing = 1;
		return;
	}
	sbuf_puts(&c->out, c->sess.prompt ? "\n> " : "\n");
	if (!c->sess.prompt && !c->inlen && !c->discarding)
		c->closing = 1;
}

static void conn_resume(struct cli_req *r)
{
	struct cli_conn *c = r->owner;

	c->req = NULL;
	sbuf_add(&c->out, r->out.p, r->out.len);
	sbuf_free(&r->out);
	free(r);
	after_command(c);
	conn_process(c);
}

/* Runs the command in text[0..len). */
static void run_command(struct cli_conn *c, const char *text, size_t len)
{
	struct cli_req *r = calloc(1, sizeof(*r));

	if (!r) {
		c->closing = 1;
		return;
	}
	r->sess = &c->sess;
	r->owner = c;
	r->resume = conn_resume;
	cli_req_parse(r, text, len);
	if (cli_req_run(r) == CLI_ASYNC) {
		c->req = r;
		return;
	}
	sbuf_add(&c->out, r->out.p, r->out.len);
	sbuf_free(&r->out);
	free(r);
	after_command(c);
}

/* Runs the commands that have arrived, one at a time. */
static void conn_process(struct cli_conn *c)
{
	while (!c->req && !c->closing && c->io.fd >= 0 && c->out.len <= OUT_HIGH) {
		long end;

		if (c->discarding) {
			char *nl = memchr(c->in, '\n', c->inlen);
			size_t drop = nl ? (size_t)(nl - c->in) + 1 : c->inlen;
			memmove(c->in, c->in + drop, c->inlen - drop);
			c->inlen -= drop;
			if (!nl)
				break;
			c->discarding = 0;
			sbuf_printf(&c->out, "Line too long (at most %d bytes): ignored.\n", CLI_LINE_MAX - 1);
			after_command(c);
			continue;
		}
		end = cli_command_end(c->in, c->inlen);
		if (end < 0) {
			if (c->inlen == sizeof(c->in))
				c->discarding = 1; /* full, and no end in sight */
			else
				break;
			continue;
		}
		{
			size_t len = (size_t)end;
			char cmd[CLI_LINE_MAX];
			if (len && c->in[len - 1] == '\r' && c->in[end] == '\n')
				len--;
			memcpy(cmd, c->in, len);
			memmove(c->in, c->in + end + 1, c->inlen - (size_t)end - 1);
			c->inlen -= (size_t)end + 1;
			run_command(c, cmd, len);
		}
	}
	if (c->io.fd < 0)
		return;
	/* the client closed its side: what it sent is answered, then the end */
	if (c->eof && !c->req && c->out.len <= OUT_HIGH)
		c->closing = 1;
	conn_flush(c);
}

static void conn_io(struct loop *l, struct io *io, uint32_t ev)
{
	struct cli_conn *c = (struct cli_conn *)io;

	(void)l;
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->eof) {
		while (c->inlen < sizeof(c->in)) {
			ssize_t n = recv(io->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
			if (n > 0) {
				c->inlen += (size_t)n;
				conn_touch(c);
				continue;
			}
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n == -1 && errno != ECONNRESET) {
				conn_close(c);
				return;
			}
			c->eof = 1; /* closed or reset: answer what came if it can */
			break;
		}
	}
	if (c->io.fd < 0)
		return;
	conn_process(c);
}

static void conn_timeout(struct loop *l, struct timer *t)
{
	struct cli_conn *c = (struct cli_conn *)((char *)t - offsetof(struct cli_conn, timer));

	(void)l;
	conn_close(c);
}

/* ---- listeners ------------------------------------------------------------------- */

/* Accepts while below stats maxconn (HAProxy's limit of 10 by default),
 * and stops listening at the limit; a closed connection resumes it. */
static void listeners_set(struct ops *o)
{
	for (struct cli_listener *li = o->listeners; li; li = li->next)
		loop_io_set(loop_of(o), &li->io, o->nconns < o->maxconn && !o->stopping ? EPOLLIN : 0);
}

static void accept_cb(struct loop *l, struct io *io, uint32_t ev)
{
	struct cli_listener *li = (struct cli_listener *)io;
	struct ops *o = li->ops;

	(void)ev;
	while (o->nconns < o->maxconn) {
		int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct cli_conn *c;

		if (fd == -1)
			break;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			break;
		}
		io_init(&c->io, fd, conn_io);
		timer_init(&c->timer, conn_timeout);
		c->ops = o;
		c->sess.rt = o->rt;
		c->sess.level = c->sess.sock_level = li->level;
		c->sess.timeout_ms = o->timeout_ms;
		c->sess.expose_fd = li->expose_fd;
		c->sess.fd = fd;
		c->next = o->conns;
		if (o->conns)
			o->conns->prev = c;
		o->conns = c;
		o->nconns++;
		conn_touch(c);
		loop_io_set(l, &c->io, EPOLLIN);
	}
	listeners_set(o);
}

/* A unix socket bound under a temporary name and renamed over its path,
 * as HAProxy does (sock_listen_unix). */
static int open_unix(struct cli_listener *li, const struct cfg_stats_socket *ss, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	unsigned long dev = 0, ino = 0;
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ss->path);
	fd = sock_listen_unix(&sun, 64, ss->mode, ss->uid, ss->gid, &dev, &ino, err, errlen);
	if (fd < 0)
		return -1;
	li->dev = (dev_t)dev;
	li->ino = (ino_t)ino;
	li->path = strdup(ss->path);
	return fd;
}

static int open_listener(struct ops *o, const struct cfg_stats_socket *ss, char *err, size_t errlen)
{
	struct cli_listener *li = calloc(1, sizeof(*li));
	char e[256];
	int fd;

	if (!li) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	li->ops = o;
	li->level = ss->level;
	li->expose_fd = ss->expose_fd_listeners;
	li->fresh = li->keep = 1;
	if (ss->path) {
		fd = open_unix(li, ss, e, sizeof(e));
	} else {
		fd = sock_listen((const struct sockaddr *)&ss->addr.ss, ss->addr.len, 64, SOCK_V6_DEFAULT, e,
				 sizeof(e));
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s:%d: Starting stats socket %s: %s", ss->file, ss->line, ss->text, e);
		free(li);
		return -1;
	}
	if (!ss->path) {
		memcpy(&li->addr, &ss->addr.ss, sizeof(li->addr));
		li->addrlen = ss->addr.len;
	}
	io_init(&li->io, fd, accept_cb);
	li->next = o->listeners;
	o->listeners = li;
	return 0;
}

static void close_listener(struct ops *o, struct cli_listener *li)
{
	struct stat st;

	loop_io_close(loop_of(o), &li->io);
	/* remove our socket, not one another process has put there since */
	if (li->path && stat(li->path, &st) == 0 && st.st_dev == li->dev && st.st_ino == li->ino)
		unlink(li->path);
	free(li->path);
	free(li);
}

/* The listener a reload keeps for ss: the same unix path, or the same TCP
 * address (its level, expose-fd, mode and owner follow the new line). */
static struct cli_listener *find_listener(struct ops *o, const struct cfg_stats_socket *ss)
{
	for (struct cli_listener *li = o->listeners; li; li = li->next) {
		if (li->fresh)
			continue;
		if (ss->path ? li->path && !strcmp(li->path, ss->path)
			     : !li->path && li->addrlen == ss->addr.len && !memcmp(&li->addr, &ss->addr.ss, li->addrlen))
			return li;
	}
	return NULL;
}

int ops_cli_prepare(struct runtime *rt, const struct cfg *c, char *err, size_t errlen)
{
	struct ops *o = rt->ops;

	for (struct cli_listener *li = o->listeners; li; li = li->next)
		li->keep = 0;
	for (const struct cfg_stats_socket *ss = c->g.stats_sockets; ss; ss = ss->next) {
		struct cli_listener *li = find_listener(o, ss);
		if (!li && open_listener(o, ss, err, errlen))
			return -1;
		li = li ? li : o->listeners; /* open_listener puts it first */
		li->keep = 1;
		li->nss = ss;
	}
	return 0;
}

/* A kept unix socket takes the new line's mode and owner; failing that
 * (a user that does not exist any more...) it keeps the old ones, said in
 * the log. */
static void apply_owner(const struct cli_listener *li, const struct cfg_stats_socket *ss)
{
	if (!li->path)
		return;
	if ((ss->mode >= 0 && chmod(li->path, (mode_t)ss->mode) == -1) ||
	    ((ss->uid >= 0 || ss->gid >= 0) && chown(li->path, (uid_t)ss->uid, (gid_t)ss->gid) == -1))
		WARN("stats socket %s: cannot change its ownership or mode (%s); the old ones stay", li->path,
		     strerror(errno));
}

static void settle(struct ops *o, int commit)
{
	for (struct cli_listener **pp = &o->listeners; *pp;) {
		struct cli_listener *li = *pp;
		if (commit ? !li->keep : li->fresh) {
			*pp = li->next;
			close_listener(o, li);
			continue;
		}
		if (commit && li->nss) {
			if (!li->fresh)
				apply_owner(li, li->nss);
			li->level = li->nss->level; /* for the connections accepted from now on */
			li->expose_fd = li->nss->expose_fd_listeners;
		}
		li->nss = NULL;
		li->fresh = 0;
		li->keep = 1;
		pp = &li->next;
	}
}

void ops_cli_commit(struct runtime *rt, const struct cfg *c)
{
	struct ops *o = rt->ops;

	settle(o, 1);
	o->timeout_ms = c->g.stats_timeout ? c->g.stats_timeout : DEFAULT_TIMEOUT_MS;
	o->maxconn = c->g.stats_maxconn ? c->g.stats_maxconn : DEFAULT_MAXCONN;
	listeners_set(o);
}

void ops_cli_abort(struct runtime *rt)
{
	settle(rt->ops, 0);
}

int ops_start(struct runtime *rt, char *err, size_t errlen)
{
	struct ops *o = calloc(1, sizeof(*o));

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o->rt = rt;
	timer_init(&o->sample_timer, NULL); /* ops_stop cancels it even if start fails */
	rt->ops = o;
	if (ops_cli_prepare(rt, rt->cfg, err, errlen))
		return -1; /* ops_stop closes what was opened */
	ops_cli_commit(rt, rt->cfg);
	stats_sampler_start(o);
	return 0;
}

void ops_stop(struct runtime *rt)
{
	struct ops *o = rt->ops;

	if (!o)
		return;
	o->stopping = 1;
	stats_sampler_stop(o);
	while (o->conns) {
		struct cli_conn *c = o->conns;
		struct cli_req *r = c->req;
		c->req = NULL; /* freed here, not left as an orphan */
		conn_close(c);
		if (r) { /* its other threads have stopped: no reply will come */
			sbuf_free(&r->out);
			free(r);
		}
	}
	while (o->listeners) {
		struct cli_listener *li = o->listeners;
		o->listeners = li->next;
		close_listener(o, li);
	}
	free(o);
	rt->ops = NULL;
}
