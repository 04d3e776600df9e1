/* A session's phases between accept and the choice of a backend: the
 * PROXY header a client sends first (bind ... accept-proxy, tcp-request
 * connection expect-proxy layer4), then the inspection of the client's
 * first bytes by tcp-request content rules (tcp-request inspect-delay).
 *
 * The PROXY header is peeked (MSG_PEEK) and parsed from the start at each
 * arrival (proto/proxyproto.h), and once complete exactly its length is
 * read off the socket: bytes glued after it stay in the socket for the
 * next phase. HAProxy 2.6 fails a header split over two segments
 * ("Truncated PROXY protocol header received"); ferry waits for the rest,
 * bounded by the frontend's timeout client, as HAProxy bounds its wait for
 * the first segment. What is not a valid header closes the connection,
 * nothing sent to a server, with HAProxy's log line for it.
 *
 * Content inspection reads the client's bytes into the client-to-server
 * buffer (s->buf[0]), taken from the pool only once the first bytes are
 * there (a silent client holds none), the one relay.c flushes to the
 * server first: they
 * reach the server once, unchanged. The rules are evaluated again from the
 * first on each arrival while one answers RULE_MISS, as HAProxy's
 * tcp_inspect_request, until one decides, the buffer is full, the client
 * ends its side, or inspect-delay expires (then a final evaluation, where a
 * missing byte is a plain no match). Without inspect-delay the rules see
 * once what has arrived by then. use_backend and use-server then see the
 * same bytes, always as final (HAProxy evaluates switching rules with
 * SMP_OPT_FINAL: they never wait). */
#include "proxy/proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proto/proxyproto.h"
#include "proxy/pgedge.h"
#include "rules/logformat.h"
#include "rules/rules.h"

/* The header received, kept for the session's life: the fc_pp_* fetches
 * and send-proxy-v2's authority read it. */
struct pp_hold {
	struct pp_info info;       /* its pointers point into hdr */
	uint8_t hdr[];
};

static void handshake_cli_io(struct loop *l, struct io *io, uint32_t ev);
static void inspect_cli_io(struct loop *l, struct io *io, uint32_t ev);

/* The client is registered (edge-triggered) from the first phase on: what
 * its edges said must outlive the phase that saw them, for relay.c, which
 * reads on without a new edge once the server is connected. */
void session_note_edges(struct session *s, uint32_t ev)
{
	if (ev & EPOLLRDHUP)
		s->flags |= SF_RDHUP0; /* the client's FIN: a short read is the end */
	if (ev & EPOLLPRI)
		s->flags |= SF_URG0;
}

/* The client's events between the end of inspection and the relay's start
 * (connecting, queued): only noted. */
void session_waiting_cli_io(struct loop *l, struct io *io, uint32_t ev)
{
	(void)l;
	session_note_edges((struct session *)((char *)io - offsetof(struct session, cli)), ev);
}

/* HAProxy's conn_err_code_str sentences for a refused header. */
#define PRX_EMPTY "Connection closed while waiting for PROXY protocol header"
#define PRX_ABORT "Connection error while waiting for PROXY protocol header"
#define PRX_TIMEOUT "Timeout while waiting for PROXY protocol header"
#define PRX_TRUNCATED "Truncated PROXY protocol header received"
#define PRX_NOT_HDR "Received something which does not look like a PROXY protocol header"
#define PRX_BAD_HDR "Received an invalid PROXY protocol header"
#define PRX_BAD_PROTO "Received an unhandled protocol in the PROXY protocol header"

/* The sentence HAProxy logs for what pp_parse refused (n bytes seen).
 * HAProxy reads at most one segment: bytes that are no header and fewer
 * than a v2 header's 16 are "truncated" to it, and a v2 header longer
 * than its buffer never completes. */
static const char *refusal(const struct pp_info *pi, size_t n)
{
	const char *r = pi->reason ? pi->reason : "";

	if (!strcmp(r, "not a PROXY protocol header") || !strcmp(r, "unsupported PROXY protocol version"))
		return n < PP_V2_HDR_LEN ? PRX_TRUNCATED : PRX_NOT_HDR;
	if (!strcmp(r, "unknown protocol in PROXY v1 line"))
		return PRX_BAD_PROTO;
	if (strstr(r, "longer than 16384"))
		return PRX_TRUNCATED;
	return PRX_BAD_HDR;
}

void session_pp_free(struct session *s)
{
	free(s->pp);
	s->pp = NULL;
}

const struct pp_info *session_pp(const struct session *s)
{
	return s->pp ? &s->pp->info : NULL;
}

static void handshake_fail(struct session *s, const char *msg)
{
	session_log_handshake(s, msg);
	s->flags |= SF_NOLOG;
	session_close(s, "CR");
}

/* The header is all there (len bytes): takes exactly those off the socket
 * and, for a PROXY command with IPv4/IPv6 addresses, makes them the
 * session's (LOCAL, UNSPEC, UNKNOWN and UNIX keep the connection's own). */
static int take_header(struct session *s, size_t len)
{
	struct pp_hold *h = malloc(sizeof(*h) + len);
	ssize_t n;

	if (!h)
		return -1;
	do
		n = recv(s->cli.fd, h->hdr, len, MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)len || pp_parse(h->hdr, len, &h->info) != (int)len) {
		free(h);
		return -1;
	}
	s->pp = h;
	if (h->info.src.ss_family == AF_INET || h->info.src.ss_family == AF_INET6) {
		size_t l = h->info.src.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		memset(&s->cli_addr, 0, sizeof(s->cli_addr));
		memset(&s->dst_addr, 0, sizeof(s->dst_addr));
		memcpy(&s->cli_addr, &h->info.src, l);
		memcpy(&s->dst_addr, &h->info.dst, l);
	}
	return 0;
}

/* ev: the event that woke it (a FIN with a header still incomplete is a
 * truncated one: peeking never sees the end while bytes are unread). */
static void handshake_read(struct session *s, uint32_t ev)
{
	static __thread uint8_t buf[PP_V2_MAX];
	struct pp_info pi;
	ssize_t n;
	int r;

	do
		n = recv(s->cli.fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n < 0) {
		handshake_fail(s, PRX_ABORT);
		return;
	}
	if (n == 0) {
		handshake_fail(s, s->pp_seen ? PRX_TRUNCATED : PRX_EMPTY);
		return;
	}
	memset(&pi, 0, sizeof(pi));
	r = pp_parse(buf, (size_t)n, &pi);
	if (r == 0) {
		s->pp_seen = (uint32_t)n; /* wait for the rest (a new segment wakes us) */
		if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			handshake_fail(s, PRX_TRUNCATED);
		return;
	}
	if (r < 0) {
		handshake_fail(s, refusal(&pi, (size_t)n));
		return;
	}
	if (take_header(s, (size_t)r)) {
		handshake_fail(s, PRX_ABORT);
		return;
	}
	loop_timer_cancel(&s->w->loop, &s->timer);
	session_after_handshake(s);
}

static void handshake_cli_io(struct loop *l, struct io *io, uint32_t ev)
{
	struct session *s = (struct session *)((char *)io - offsetof(struct session, cli));

	(void)l;
	session_note_edges(s, ev);
	if (s->state == SESS_HANDSHAKE)
		handshake_read(s, ev);
}

void session_handshake_start(struct session *s)
{
	s->state = SESS_HANDSHAKE;
	s->cli.cb = handshake_cli_io;
	if (loop_io_set(&s->w->loop, &s->cli, RELAY_EVENTS) == -1) {
		session_close(s, "CR");
		return;
	}
	if (s->fe->to_client)
		loop_timer_arm(&s->w->loop, &s->timer, s->w->loop.now_ms + (uint64_t)s->fe->to_client);
	/* registering reports what already arrived as the first edge */
}

void session_handshake_timeout(struct session *s)
{
	handshake_fail(s, PRX_TIMEOUT);
}

/* ---- content inspection ------------------------------------------------------ */

/* Without a buffer yet, the client's first bytes are read into a small
 * stack area and the buffer is taken only when there are some: a client
 * that connects and says nothing (or ends at once) costs its session and
 * descriptor, never 16 KiB. Returns as recv() (bytes > 0 are in a new
 * s->buf[0]), or -2 when no buffer could be had (the bytes read are lost
 * with the session). */
static ssize_t read_first(struct session *s)
{
	char first[512];
	struct rbuf *b;
	ssize_t n;

	do
		n = recv(s->cli.fd, first, sizeof(first), MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n;
	b = s->buf[0] = bufpool_get(&s->w->pool);
	if (!b)
		return -2;
	memcpy(b->data, first, (size_t)n);
	return n;
}

/* Reads what the client sent into s->buf[0], up to the buffer's size.
 * Returns 0, or -1 when the session was closed. */
int session_read_request(struct session *s)
{
	while (!(s->flags & SF_EOF0) && (!s->buf[0] || s->buf[0]->tail < RBUF_SIZE)) {
		struct rbuf *b = s->buf[0];
		ssize_t n = b ? recv(s->cli.fd, b->data + b->tail, RBUF_SIZE - b->tail, MSG_DONTWAIT)
			      : read_first(s);
		if (n > 0) {
			s->buf[0]->tail += (uint32_t)n;
			s->bytes[0] += (uint64_t)n;
			ctr_add(&s->cf->bytes_in, (uint64_t)n);
			s->last_act[0] = s->w->loop.now_ms;
			continue;
		}
		if (n == 0) {
			s->flags |= SF_EOF0;
			break;
		}
		if (n == -2) { /* out of memory */
			session_close(s, "PR");
			return -1;
		}
		if (errno == EAGAIN)
			break;
		if (errno == EINTR)
			continue;
		/* as HAProxy: the client aborted while the request was read */
		session_close(s, "CR");
		return -1;
	}
	return 0;
}

/* Runs the content rules over what arrived; expired: inspect-delay is over. */
static void inspect_eval(struct session *s, int expired)
{
	const struct frontend *fe = s->fe;
	const struct rbuf *b = s->buf[0];
	const uint8_t *req = b ? (const uint8_t *)b->data + b->head : NULL;
	size_t len = b ? b->tail - b->head : 0;
	int pf = s->pg ? pgedge_req_final(s, req, len) : -1;
	int final = expired || (pf >= 0 ? pf : !fe->cfg->inspect_delay) || (s->flags & SF_EOF0) ||
		    len >= RBUF_SIZE;
	enum rule_res r = RULE_PASS;

	if (!final && pf == 0)
		return; /* a PostgreSQL client's ClientHello is not whole yet */
	if (rules_flags(fe->rules) & RULES_F_INSPECT) {
		struct rule_ctx c;
		session_rule_ctx(s, &c);
		c.req = req;
		c.req_len = len;
		c.req_final = final;
		r = rules_content(fe->rules, &c);
	}
	if (r == RULE_MISS)
		return; /* the inspect-delay timer is armed: wait for more bytes */
	loop_timer_cancel(&s->w->loop, &s->timer);
	s->cli.cb = session_waiting_cli_io; /* relay_start sets its own */
	if ((fe->lf_uses & LF_USE_REQ) && len && (s->req_seen = malloc(len))) {
		/* HAProxy's log finds the buffer forwarded and prints "-" for
		 * %[req.ssl_sni]; a copy, only for such formats, lets it show */
		memcpy(s->req_seen, req, len);
		s->req_seen_len = (uint32_t)len;
	}
	if (r == RULE_FAIL) {
		/* as HAProxy: counted in the frontend's denied requests, logged
		 * "fe fe/<NOSRV> -1/-1/Tt 0 PR" */
		ctr_add(&s->cf->denied_req, 1);
		session_close(s, "PR");
		return;
	}
	session_dispatch(s, req, len);
}

static void inspect_cli_io(struct loop *l, struct io *io, uint32_t ev)
{
	struct session *s = (struct session *)((char *)io - offsetof(struct session, cli));

	(void)l;
	session_note_edges(s, ev);
	if (s->state != SESS_INSPECT || session_read_request(s))
		return;
	inspect_eval(s, 0);
}

void session_inspect_timeout(struct session *s)
{
	inspect_eval(s, 1);
}

void session_after_handshake(struct session *s)
{
	const struct frontend *fe = s->fe;
	unsigned f = rules_flags(fe->rules);

	if (fe->options & PXO_PGSQL) {
		pgedge_start(s);
		return;
	}
	if (!(f & (RULES_F_INSPECT | RULES_F_CONTENT)) &&
	    !(fe->be && (rules_flags(fe->be->rules) & RULES_F_CONTENT))) {
		s->cli.cb = session_waiting_cli_io; /* registered after a PROXY header */
		session_dispatch(s, NULL, 0);
		return;
	}
	session_inspect_begin(s, fe->cfg->inspect_delay);
}

void session_inspect_begin(struct session *s, int64_t delay)
{
	s->state = SESS_INSPECT;
	s->cli.cb = inspect_cli_io;
	if (loop_io_set(&s->w->loop, &s->cli, RELAY_EVENTS) == -1) {
		session_close(s, "CR");
		return;
	}
	if (delay)
		loop_timer_arm(&s->w->loop, &s->timer, s->w->loop.now_ms + (uint64_t)delay);
	/* what arrived already (with the PROXY header, or before accept) */
	if (session_read_request(s))
		return;
	inspect_eval(s, 0);
}
