/* A small HTTP/1.1 server for the stats frontends, on worker 0's loop:
 * - a request is its line and headers (at most HTTP_HEAD_MAX bytes: 431
 *   beyond) and a Content-Length body (at most HTTP_BODY_MAX: 413);
 *   chunked requests, a malformed line or header, anything that is not
 *   HTTP/1.0 or 1.1: 400. Each of these closes that connection only;
 * - replies always carry Content-Length; keep-alive as HTTP/1.1 says
 *   (1.0: only when asked), "Connection: close" honoured; requests sent
 *   ahead (pipelining) are answered in order;
 * - an idle connection closes after the frontend's "timeout client" (10 s
 *   unless set), a partial request after "timeout http-request" when set;
 * - at most the frontend's maxconn connections at once (100 unless set):
 *   the listener stops accepting at the limit, the kernel's backlog waits.
 * Replies are built whole in memory (sbuf) and sent without blocking.
 * The listeners follow the configuration: http_prepare opens the sockets
 * of a new one (keeping those whose address stays), http_commit switches. */
#include "ops/http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/log.h"
#include "event/sock.h"
#include "ops/ops_int.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAXCONN 100
#define OUT_HIGH 262144          /* replies waiting to be sent: read no further request */
#define SEND_CHUNK 65536

struct http_listener {
	struct io io;
	struct http_srv *h;
	struct http_listener *next;
	struct sockaddr_storage addr;
	const struct cfg_proxy *px;  /* its stats frontend in the configuration in use */
	const struct cfg_proxy *npx; /* ... in the one being prepared */
	int nconns;
	int fresh;                   /* opened by http_prepare, not serving yet */
	int keep;                    /* listed by the configuration being prepared */
	int stopped;                 /* graceful stop: accepts nothing more */
};

struct http_conn {
	struct io io;
	struct http_srv *h;
	struct http_listener *li;
	struct http_conn *prev, *next;
	struct sockaddr_storage peer;
	char in[HTTP_HEAD_MAX + HTTP_BODY_MAX];
	size_t inlen;
	struct sbuf out;
	struct timer timer;
	int eof;                     /* the client sends nothing more */
	int closing;                 /* close once out is sent */
	int waiting;                 /* an HTTP_ASYNC request runs */
	void *async;
	struct defer_node defer;
};

struct http_srv {
	struct runtime *rt;
	struct http_listener *listeners;
	struct http_conn *conns;
};

static void conn_process(struct http_conn *c);

static struct loop *loop_of(const struct http_srv *h)
{
	return &h->rt->ws[0].loop;
}

static struct http_srv *srv_of(struct runtime *rt)
{
	struct ops *o = rt->ops;

	if (!o)
		return NULL;
	if (!o->http) {
		o->http = calloc(1, sizeof(*o->http));
		if (o->http)
			o->http->rt = rt;
	}
	return o->http;
}

static int maxconn_of(const struct http_listener *li)
{
	return li->px && li->px->maxconn ? li->px->maxconn : DEFAULT_MAXCONN;
}

static void listener_arm(struct http_listener *li)
{
	int on = !li->fresh && !li->stopped && li->px && li->nconns < maxconn_of(li);

	if (li->io.fd < 0)
		return;
	loop_io_set(loop_of(li->h), &li->io, on ? EPOLLIN : 0);
}

/* ---- connections ---------------------------------------------------------------- */

static void conn_touch(struct http_conn *c)
{
	struct loop *l = loop_of(c->h);
	const struct cfg_proxy *px = c->li->px;
	int64_t t = px && px->to.client ? px->to.client : DEFAULT_TIMEOUT_MS;

	if (c->inlen && px && px->to.http_request && px->to.http_request < t)
		t = px->to.http_request; /* a request on its way */
	loop_timer_arm(l, &c->timer, l->now_ms + (uint64_t)t);
}

static void conn_free(void *p)
{
	struct http_conn *c = p;

	sbuf_free(&c->out);
	free(c);
}

static void conn_close(struct http_conn *c)
{
	struct http_srv *h = c->h;

	if (c->io.fd < 0)
		return;
	if (c->waiting)
		http_stats_cancel(c, c->async);
	c->waiting = 0;
	loop_timer_cancel(loop_of(h), &c->timer);
	loop_io_close(loop_of(h), &c->io);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->li->nconns--;
	listener_arm(c->li);
	loop_defer(loop_of(h), &c->defer, conn_free, c);
}

static void conn_flush(struct http_conn *c)
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
		conn_close(c);
		return;
	}
	if (!c->out.len && (c->closing || (c->eof && !c->waiting && !c->inlen))) {
		conn_close(c);
		return;
	}
	loop_io_set(loop_of(c->h), &c->io,
		    (c->out.len ? EPOLLOUT : 0) | (c->eof || c->closing ? 0 : EPOLLIN));
}

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

void http_reply(struct http_conn *c, const struct http_req *req, int status, const char *ctype,
		const char *extra, const char *body, size_t len)
{
	sbuf_printf(&c->out, "HTTP/1.1 %d %s\r\ncontent-length: %zu\r\ncache-control: no-cache\r\n", status,
		    reason(status), len);
	if (ctype)
		sbuf_printf(&c->out, "content-type: %s\r\n", ctype);
	if (extra)
		sbuf_puts(&c->out, extra);
	if (c->closing)
		sbuf_puts(&c->out, "connection: close\r\n");
	sbuf_puts(&c->out, "\r\n");
	if (!(req && req->head) && len)
		sbuf_add(&c->out, body, len);
	if (c->out.oom)
		c->closing = 1; /* cut short: the client sees the connection end */
}

/* A request ferry refuses outright: its answer, and the end of the connection. */
static void refuse(struct http_conn *c, int status, const char *text)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "<html><body><h1>%d %s</h1>\n%s\n</body></html>\n", status,
			 reason(status), text);

	c->closing = 1;
	c->inlen = 0;
	http_reply(c, NULL, status, "text/html", NULL, body, (size_t)n);
}

void http_async_set(struct http_conn *c, void *async)
{
	c->async = async;
}

void http_async_done(struct http_conn *c)
{
	c->waiting = 0;
	c->async = NULL;
	conn_process(c);
}

/* ---- parsing ---------------------------------------------------------------------- */

static int is_tchar(int ch)
{
	return ch > 32 && ch < 127 && !strchr("\"(),/:;<=>?@[\\]{}", ch);
}

/* The end of the head (line + headers) in c->in: the offset just past the
 * empty line, 0 when it has not all come yet. */
static size_t head_end(const struct http_conn *c)
{
	for (size_t i = 0; i + 1 < c->inlen; i++) {
		if (c->in[i] != '\n')
			continue;
		if (c->in[i + 1] == '\n')
			return i + 2;
		if (c->in[i + 1] == '\r' && i + 2 < c->inlen && c->in[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

struct head {
	int minor;                   /* HTTP/1.minor */
	int conn_close, conn_keep;   /* Connection: close / keep-alive */
	long long clen;              /* -1: none */
	int chunked, expect;
};

/* The request line: "METHOD SP URI SP HTTP/1.x". Returns 0 or -1. */
static int parse_line(const char *s, size_t len, struct http_req *req, struct head *hd)
{
	size_t i = 0, m, u0, ulen;

	while (i < len && is_tchar((unsigned char)s[i]))
		i++;
	m = i;
	if (!m || m >= sizeof(req->method) || i >= len || s[i] != ' ')
		return -1;
	memcpy(req->method, s, m);
	req->method[m] = 0;
	u0 = ++i;
	while (i < len && (unsigned char)s[i] > 32 && s[i] != 127)
		i++;
	ulen = i - u0;
	if (!ulen || ulen >= sizeof(req->uri) || i >= len || s[i] != ' ')
		return -1;
	i++;
	if (len - i != 8 || memcmp(s + i, "HTTP/1.", 7) || (s[i + 7] != '0' && s[i + 7] != '1'))
		return -1;
	hd->minor = s[i + 7] - '0';
	s += u0;
	if (ulen > 7 && (!strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8))) {
		/* absolute form: keep the path and what follows */
		const char *p = memchr(s + 8, '/', ulen - 8);
		size_t skip = p ? (size_t)(p - s) : ulen;
		s += skip;
		ulen -= skip;
		if (!ulen) {
			s = "/";
			ulen = 1;
		}
	}
	memcpy(req->uri, s, ulen);
	req->uri[ulen] = 0;
	req->head = !strcmp(req->method, "HEAD");
	return 0;
}

static int has_token(const char *v, size_t len, const char *tok)
{
	size_t tl = strlen(tok);

	for (size_t i = 0; i + tl <= len; i++)
		if (!strncasecmp(v + i, tok, tl) && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
		    (i + tl == len || v[i + tl] == ',' || v[i + tl] == ' '))
			return 1;
	return 0;
}

/* One header line. Returns 0 or -1 (malformed). */
static int parse_header(const char *s, size_t len, struct http_req *req, struct head *hd)
{
	size_t n = 0, v;

	while (n < len && is_tchar((unsigned char)s[n]))
		n++;
	if (!n || n >= len || s[n] != ':')
		return -1;
	v = n + 1;
	while (v < len && (s[v] == ' ' || s[v] == '\t'))
		v++;
	while (len > v && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	for (size_t i = v; i < len; i++)
		if ((unsigned char)s[i] < 32 && s[i] != '\t')
			return -1;
#define IS(name) (n == sizeof(name) - 1 && !strncasecmp(s, name, n))
	if (IS("content-length")) {
		long long cl = 0;
		if (v == len)
			return -1;
		for (size_t i = v; i < len; i++) {
			if (s[i] < '0' || s[i] > '9' || cl > 1000000000LL)
				return -1;
			cl = cl * 10 + (s[i] - '0');
		}
		if (hd->clen >= 0 && hd->clen != cl)
			return -1;
		hd->clen = cl;
	} else if (IS("transfer-encoding")) {
		hd->chunked = 1;
	} else if (IS("connection")) {
		hd->conn_close |= has_token(s + v, len - v, "close");
		hd->conn_keep |= has_token(s + v, len - v, "keep-alive");
	} else if (IS("authorization")) {
		req->auth = s + v;
		req->authlen = len - v;
	} else if (IS("accept")) {
		req->want_json = memmem(s + v, len - v, "application/json", 16) != NULL;
	} else if (IS("expect")) {
		hd->expect = has_token(s + v, len - v, "100-continue");
	}
#undef IS
	return 0;
}

/* Parses the head in c->in[0..end). Returns 0, or the status to refuse with. */
static int parse_head(struct http_conn *c, size_t end, struct http_req *req, struct head *hd)
{
	const char *s = c->in, *lim = c->in + end;
	int first = 1;

	memset(req, 0, sizeof(*req));
	memset(hd, 0, sizeof(*hd));
	hd->clen = -1;
	while (s < lim) {
		const char *nl = memchr(s, '\n', (size_t)(lim - s));
		size_t len = (size_t)(nl - s);
		if (len && s[len - 1] == '\r')
			len--;
		if (!len)
			break; /* the empty line */
		if (first && parse_line(s, len, req, hd))
			return 400;
		if (!first && ((s[0] == ' ' || s[0] == '\t') || parse_header(s, len, req, hd)))
			return 400; /* folded lines are obsolete (RFC 9112) */
		first = 0;
		s = nl + 1;
	}
	if (first || hd->chunked)
		return 400;
	if (hd->clen > HTTP_BODY_MAX)
		return 413;
	return 0;
}

/* ---- requests --------------------------------------------------------------------- */

/* Handles the first request in c->in when it has all come. Returns 1 when
 * one was handled (or refused), 0 when more input is needed. */
static int conn_request(struct http_conn *c)
{
	struct http_req req;
	struct head hd;
	size_t end = head_end(c), total;
	int st;

	if (!end) {
		if (c->inlen >= HTTP_HEAD_MAX) {
			refuse(c, 431, "Your browser sent a request header too large.");
			return 1;
		}
		if (c->inlen && c->eof) /* cut short */
			c->closing = 1;
		return 0;
	}
	if (end > HTTP_HEAD_MAX) {
		refuse(c, 431, "Your browser sent a request header too large.");
		return 1;
	}
	st = parse_head(c, end, &req, &hd);
	if (st) {
		refuse(c, st, st == 413 ? "The request body is too large." : "Your browser sent an invalid request.");
		return 1;
	}
	total = end + (size_t)(hd.clen > 0 ? hd.clen : 0);
	if (c->inlen < total) {
		if (hd.expect && c->inlen == end && !c->out.len)
			sbuf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
		hd.expect = 0;
		if (c->eof)
			c->closing = 1;
		return 0;
	}
	req.body = c->in + end;
	req.bodylen = total - end;
	req.peer = (const struct sockaddr *)&c->peer;
	c->closing = hd.conn_close || (hd.minor == 0 && !hd.conn_keep);
	if (!c->li->px)
		refuse(c, 503, "No server is available to handle this request.");
	else if (http_stats_handle(c->h->rt, c, c->li->px, &req) == HTTP_ASYNC)
		c->waiting = 1;
	memmove(c->in, c->in + total, c->inlen - total);
	c->inlen -= total;
	return 1;
}

static void conn_process(struct http_conn *c)
{
	while (c->io.fd >= 0 && !c->waiting && !c->closing && c->out.len < OUT_HIGH && c->inlen)
		if (!conn_request(c))
			break;
	if (c->io.fd >= 0)
		conn_flush(c);
}

static void conn_io(struct loop *l, struct io *io, uint32_t ev)
{
	struct http_conn *c = (struct http_conn *)io;

	(void)l;
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->eof && !c->closing) {
		while (c->inlen < sizeof(c->in)) {
			ssize_t n = recv(io->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
			if (n > 0) {
				c->inlen += (size_t)n;
				continue;
			}
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n == -1 && errno != ECONNRESET) {
				conn_close(c);
				return;
			}
			c->eof = 1;
			break;
		}
		conn_touch(c);
	}
	conn_process(c);
}

static void conn_timeout(struct loop *l, struct timer *t)
{
	struct http_conn *c = (struct http_conn *)((char *)t - offsetof(struct http_conn, timer));

	(void)l;
	if (c->waiting) { /* an admin action still runs: wait for it */
		conn_touch(c);
		return;
	}
	if (c->inlen && !c->out.len) { /* a request started and never finished: HAProxy's 408 */
		refuse(c, 408, "Your browser didn't send a complete request in time.");
		conn_flush(c);
		return;
	}
	conn_close(c);
}

static void accept_cb(struct loop *l, struct io *io, uint32_t ev)
{
	struct http_listener *li = (struct http_listener *)io;
	struct http_srv *h = li->h;

	(void)ev;
	while (li->nconns < maxconn_of(li)) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(io->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct http_conn *c;

		if (fd == -1)
			break;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			break;
		}
		sock_set_nodelay(fd);
		io_init(&c->io, fd, conn_io);
		timer_init(&c->timer, conn_timeout);
		c->h = h;
		c->li = li;
		c->peer = ss;
		c->next = h->conns;
		if (h->conns)
			h->conns->prev = c;
		h->conns = c;
		li->nconns++;
		conn_touch(c);
		loop_io_set(l, &c->io, EPOLLIN);
	}
	listener_arm(li);
}

/* ---- listeners and the configuration ---------------------------------------------- */

static void listener_close(struct http_srv *h, struct http_listener *li)
{
	for (struct http_conn *c = h->conns, *next; c; c = next) {
		next = c->next;
		if (c->li == li)
			conn_close(c);
	}
	loop_io_close(loop_of(h), &li->io);
	free(li);
}

/* The listener already open (or prepared) at ss, if any. */
static struct http_listener *find_listener(struct http_srv *h, const struct sockaddr_storage *ss)
{
	for (struct http_listener *li = h->listeners; li; li = li->next)
		if (addr_same_endpoint(&li->addr, ss))
			return li;
	return NULL;
}

static int open_one(struct http_srv *h, const struct cfg_proxy *px, const struct cfg_bind *b,
		    const struct sockaddr_storage *ss, char *err, size_t errlen)
{
	struct http_listener *li = find_listener(h, ss);
	char e[256];
	int fd, backlog;

	if (li) {
		li->npx = px;
		li->keep = 1;
		return 0;
	}
	backlog = b->backlog ? b->backlog : px->backlog ? px->backlog : 64;
	fd = sock_listen((const struct sockaddr *)ss, addr_len((const struct sockaddr *)ss), backlog,
			 b->v6only ? 1 : b->v4v6 ? 0 : SOCK_V6_DEFAULT, e, sizeof(e));
	if (fd < 0) {
		snprintf(err, errlen, "%s:%d: Starting frontend %s: %s", b->file, b->line, px->name, e);
		return -1;
	}
	li = calloc(1, sizeof(*li));
	if (!li) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	io_init(&li->io, fd, accept_cb);
	li->h = h;
	li->addr = *ss;
	li->npx = px;
	li->fresh = li->keep = 1;
	li->next = h->listeners;
	h->listeners = li;
	return 0;
}

int http_prepare(struct runtime *rt, const struct cfg *c, char *err, size_t errlen)
{
	struct http_srv *h = srv_of(rt);

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (struct http_listener *li = h->listeners; li; li = li->next)
		li->keep = 0;
	for (const struct cfg_proxy *px = c->stats_fes; px; px = px->next)
		for (const struct cfg_bind *b = px->binds; b; b = b->next)
			for (int i = 0; i < b->naddr; i++)
				for (int port = b->addrs[i].port_lo; port <= b->addrs[i].port_hi; port++) {
					struct sockaddr_storage ss = b->addrs[i].ss;
					addr_set_port((struct sockaddr *)&ss, port);
					if (open_one(h, px, b, &ss, err, errlen))
						return -1;
				}
	return 0;
}

/* After http_prepare: commit keeps the listeners the new configuration
 * lists and serves it from them; abort drops the ones it opened. */
static void settle(struct runtime *rt, int commit)
{
	struct http_srv *h = rt->ops ? rt->ops->http : NULL;

	for (struct http_listener **pp = h ? &h->listeners : NULL; pp && *pp;) {
		struct http_listener *li = *pp;
		if (commit ? !li->keep : li->fresh) {
			*pp = li->next;
			listener_close(h, li);
			continue;
		}
		if (commit)
			li->px = li->npx;
		li->npx = NULL;
		li->fresh = 0;
		li->keep = 1;
		listener_arm(li);
		pp = &li->next;
	}
}

void http_commit(struct runtime *rt)
{
	settle(rt, 1);
}

void http_abort(struct runtime *rt)
{
	settle(rt, 0);
}

void http_stop_listening(struct runtime *rt)
{
	struct http_srv *h = rt->ops ? rt->ops->http : NULL;

	/* closed, not paused: a socket left open would still get connections */
	for (struct http_listener *li = h ? h->listeners : NULL; li; li = li->next) {
		li->stopped = 1;
		loop_io_close(loop_of(h), &li->io);
	}
}

void http_stop(struct runtime *rt)
{
	struct http_srv *h = rt->ops ? rt->ops->http : NULL;

	if (!h)
		return;
	while (h->listeners) {
		struct http_listener *li = h->listeners;
		h->listeners = li->next;
		listener_close(h, li);
	}
	free(h);
	rt->ops->http = NULL;
}
