/* The tcp-check engine: runs a backend's rules (connect, send, expect) in
 * order on the event loop. A plain "check" is the empty rule list: one
 * implicit connect. Matching follows HAProxy: "string" and "rstring" look at
 * the data up to its first NUL, "binary" at the raw bytes, "rbinary" applies
 * the regex to the data's uppercase hex; a mismatch waits for more data
 * unless min-recv is set or the peer is done. */
#include "health/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/regex.h"
#include "event/sock.h"

#define CHECK_BUFSIZE 16384 /* HAProxy's tune.bufsize: the most an expect sees */

enum eval { EVAL_OK, EVAL_FAIL, EVAL_WAIT };

static void advance(struct check *c);

static void close_conn(struct check *c, int linger)
{
	if (c->io.fd < 0)
		return;
	if (!linger)
		sock_set_reset_on_close(c->io.fd); /* no TIME_WAIT left behind, as HAProxy */
	loop_io_close(c->env->loop, &c->io);
}

static const struct tcr *rule(const struct check *c)
{
	return c->step < c->rules->n ? &c->rules->v[c->step] : NULL;
}

/* PROXY protocol v1 header describing the check's own connection, as
 * HAProxy sends with "tcp-check connect send-proxy". */
static int send_proxy_header(struct check *c)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);
	char la[64], ra[64], hdr[200];
	int n;

	if (getsockname(c->io.fd, (struct sockaddr *)&l, &ll) == -1 ||
	    getpeername(c->io.fd, (struct sockaddr *)&r, &rl) == -1)
		return -1;
	addr_ip_str((struct sockaddr *)&l, la, sizeof(la));
	addr_ip_str((struct sockaddr *)&r, ra, sizeof(ra));
	n = snprintf(hdr, sizeof(hdr), "PROXY %s %s %s %d %d\r\n",
		     l.ss_family == AF_INET6 ? "TCP6" : "TCP4", la, ra,
		     addr_port((struct sockaddr *)&l), addr_port((struct sockaddr *)&r));
	return send(c->io.fd, hdr, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n ? 0 : -1;
}

static int linger_of(const struct check *c)
{
	for (int i = c->step < c->rules->n ? c->step : c->rules->n - 1; i >= 0; i--)
		if (c->rules->v[i].kind == TCR_CONNECT)
			return c->rules->v[i].linger;
	return 0;
}

static void finish(struct check *c, int ok, const char *status, const char *info)
{
	close_conn(c, linger_of(c));
	check_done(c, ok, status, info);
}

static int64_t read_timeout(const struct check *c)
{
	int64_t left = c->inter - (int64_t)(c->env->loop->now_ms - c->started);

	if (c->to_check)
		return c->to_check;
	return left > 0 ? left : 1;
}

static void tcpcheck_io(struct loop *l, struct io *io, uint32_t ev);

static void do_connect(struct check *c, const struct tcr *r)
{
	struct sockaddr_storage ss = c->addr;
	int64_t to = c->to_check && c->to_connect && c->to_connect < c->inter ? c->to_connect : c->inter;
	int fd;

	close_conn(c, 1);
	c->rlen = 0;
	if (r && r->has_addr) {
		int port = addr_port((struct sockaddr *)&ss);
		memcpy(&ss, &r->addr.ss, sizeof(ss));
		addr_set_port((struct sockaddr *)&ss, port);
	}
	if (r && r->port)
		addr_set_port((struct sockaddr *)&ss, r->port);
	fd = sock_connect((struct sockaddr *)&ss, addr_len((struct sockaddr *)&ss));
	if (fd < 0) {
		finish(c, 0, "L4CON", strerror(-fd));
		return;
	}
	io_init(&c->io, fd, tcpcheck_io);
	c->in_connect = 1;
	loop_io_set(c->env->loop, &c->io, EPOLLOUT);
	loop_timer_arm(c->env->loop, &c->timer, c->env->loop->now_ms + (uint64_t)to);
}

static void hexify(const char *in, size_t n, char *out)
{
	static const char h[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[(unsigned char)in[i] >> 4];
		out[2 * i + 1] = h[(unsigned char)in[i] & 15];
	}
	out[2 * n] = 0;
}

static int matches(const struct check *c, const struct tcr *r)
{
	switch (r->match) {
	case TCRM_STRING:
		return memmem(c->rbuf, strnlen(c->rbuf, c->rlen), r->data, r->len) != NULL;
	case TCRM_BINARY:
		return memmem(c->rbuf, c->rlen, r->data, r->len) != NULL;
	case TCRM_RSTRING:
		return rx_match(r->re, c->rbuf, strnlen(c->rbuf, c->rlen)); /* stops at the first NUL */
	case TCRM_RBINARY: {
		char *hex = malloc(2 * c->rlen + 1);
		int m;
		if (!hex)
			return 0;
		hexify(c->rbuf, c->rlen, hex);
		m = rx_match(r->re, hex, 2 * c->rlen);
		free(hex);
		return m;
	}
	}
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* "FATAL: password authentication failed for user ..." from an ErrorResponse. */
static void pg_error_text(const struct check *c, char *out, size_t len)
{
	const unsigned char *b = (const unsigned char *)c->rbuf;
	const char *sev = "ERROR", *msg = "(no message)";
	size_t end = c->rlen >= 5 ? 1 + be32(b + 1) : 0;

	if (end > c->rlen)
		end = c->rlen;
	for (size_t i = 5; i < end && b[i];) {
		char type = (char)b[i++];
		const char *val = (const char *)b + i;
		size_t l = strnlen(val, end - i);
		if (type == 'S')
			sev = val;
		else if (type == 'M')
			msg = val;
		i += l + 1;
	}
	snprintf(out, len, "%s: %s", sev, msg);
}

/* "MySQL error 1045: Access denied ..." from an ERR packet. */
static void mysql_error_text(const struct check *c, char *out, size_t len)
{
	const unsigned char *b = (const unsigned char *)c->rbuf;
	size_t plen, off = 7;

	if (c->rlen < 7 || b[4] != 0xff) {
		out[0] = 0;
		return;
	}
	plen = (size_t)b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16;
	if (c->rlen > 7 && b[7] == '#')
		off += 6;
	if (4 + plen > c->rlen)
		plen = c->rlen - 4;
	snprintf(out, len, "MySQL error %u: %.*s", (unsigned)(b[5] | b[6] << 8),
		 (int)(4 + plen > off ? 4 + plen - off : 0), (const char *)b + off);
}

static int want_more_for_error(const struct check *c, const struct tcr *r, int last_read)
{
	/* an ErrorResponse is only worth reporting whole */
	return (r->flags & TCR_F_PG_ERROR) && !last_read && c->rlen >= 5 &&
	       c->rbuf[0] == 'E' && c->rlen < 1 + (size_t)be32((const unsigned char *)c->rbuf + 1) &&
	       c->rlen < CHECK_BUFSIZE;
}

static enum eval eval_expect(struct check *c, const struct tcr *r, int last_read, char *info, size_t ilen)
{
	int m;

	if (r->min_recv > 0 && c->rlen < (size_t)r->min_recv)
		goto wait_or_fail;
	m = matches(c, r);
	if (!m && !last_read && r->min_recv == -1 && c->rlen < CHECK_BUFSIZE)
		return EVAL_WAIT;
	if (m ^ r->negate)
		return EVAL_OK;
	if (want_more_for_error(c, r, last_read))
		return EVAL_WAIT;
	if ((r->flags & TCR_F_PG_ERROR) && c->rlen && c->rbuf[0] == 'E')
		pg_error_text(c, info, ilen);
	else if ((r->flags & TCR_F_MYSQL_ERROR) && c->rlen > 4 && (unsigned char)c->rbuf[4] == 0xff)
		mysql_error_text(c, info, ilen);
	else if (r->on_error)
		snprintf(info, ilen, "%s", r->on_error);
	else if (!c->rlen)
		snprintf(info, ilen, "TCPCHK got an empty response at step %d", c->step + 1);
	else
		snprintf(info, ilen, "TCPCHK %s content '%.*s' at step %d",
			 r->negate ? "matched unwanted" : "did not match",
			 r->match == TCRM_BINARY ? 0 : (int)r->len, (const char *)r->data, c->step + 1);
	return EVAL_FAIL;
wait_or_fail:
	if (!last_read)
		return EVAL_WAIT;
	snprintf(info, ilen, "%s", !c->rlen ? "TCPCHK got an empty response" : "TCPCHK got a short response");
	return EVAL_FAIL;
}

static void run_expect(struct check *c, int last_read)
{
	const struct tcr *r = rule(c);
	char info[256];

	switch (eval_expect(c, r, last_read, info, sizeof(info))) {
	case EVAL_OK:
		c->step++;
		advance(c);
		return;
	case EVAL_FAIL:
		finish(c, 0, r->err_status ? r->err_status : "L7RSP", info);
		return;
	case EVAL_WAIT:
		loop_io_set(c->env->loop, &c->io, EPOLLIN);
		return;
	}
}

static void do_send(struct check *c)
{
	const struct tcr *r = rule(c);

	c->rlen = 0; /* as HAProxy: an expect after a send sees only the new reply */
	c->rbuf[0] = 0;
	for (;;) {
		ssize_t n = send(c->io.fd, r->data, r->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == (ssize_t)r->len)
			break;
		if (n >= 0 || errno == EAGAIN) {
			/* check requests are tiny: a partial send means a broken peer */
			finish(c, 0, "L7RSP", "TCPCHK could not send its request at once");
			return;
		}
		if (errno == EINTR)
			continue;
		finish(c, 0, "L4CON", strerror(errno));
		return;
	}
	c->step++;
	advance(c);
}

/* Runs rules from c->step until one has to wait, or the list ends. */
static void advance(struct check *c)
{
	const struct tcr *r;

	while ((r = rule(c))) {
		switch (r->kind) {
		case TCR_CONNECT:
			do_connect(c, r);
			return;
		case TCR_SEND:
			if (c->io.fd < 0) {
				finish(c, 0, "L4CON", "TCPCHK send with no connection");
				return;
			}
			do_send(c);
			return;
		case TCR_EXPECT:
			c->expect_seen = 1;
			run_expect(c, 0);
			return;
		case TCR_COMMENT:
			c->step++;
			break;
		}
	}
	{
		const char *ok = "L4OK", *msg = "";
		for (int i = c->rules->n - 1; i >= 0; i--)
			if (c->rules->v[i].kind == TCR_EXPECT) {
				ok = c->rules->v[i].ok_status ? c->rules->v[i].ok_status : "L7OK";
				msg = c->rules->v[i].on_success ? c->rules->v[i].on_success : "";
				break;
			}
		finish(c, 1, c->expect_seen ? ok : "L4OK", c->expect_seen ? msg : "");
	}
}

static void read_more(struct check *c)
{
	int last = 0;

	for (;;) {
		ssize_t n = recv(c->io.fd, c->rbuf + c->rlen, CHECK_BUFSIZE - c->rlen, MSG_DONTWAIT);
		if (n > 0) {
			c->rlen += (size_t)n;
			c->rbuf[c->rlen] = 0;
			if (c->rlen >= CHECK_BUFSIZE) {
				last = 1;
				break;
			}
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			last = 1;
		if (n == -1 && errno == EINTR)
			continue;
		break;
	}
	run_expect(c, last);
}

static void tcpcheck_io(struct loop *l, struct io *io, uint32_t ev)
{
	struct check *c = (struct check *)((char *)io - offsetof(struct check, io));

	(void)l;
	(void)ev;
	if (c->in_connect) {
		int e = sock_error(io->fd);
		c->in_connect = 0;
		if (e) {
			finish(c, 0, "L4CON", strerror(e));
			return;
		}
		loop_io_set(c->env->loop, &c->io, 0);
		loop_timer_arm(c->env->loop, &c->timer, c->env->loop->now_ms + (uint64_t)read_timeout(c));
		if (c->step < c->rules->n && c->rules->v[c->step].kind == TCR_CONNECT) {
			if (c->rules->v[c->step].send_proxy && send_proxy_header(c)) {
				finish(c, 0, "L4CON", "could not send the PROXY header");
				return;
			}
			c->step++;
		} /* else it was the implicit connect */
		advance(c);
		return;
	}
	if (rule(c) && rule(c)->kind == TCR_EXPECT)
		read_more(c);
}

void tcpcheck_run(struct check *c)
{
	c->step = 0;
	c->expect_seen = 0;
	c->rlen = 0;
	if (!c->rbuf) {
		c->rbuf = malloc(CHECK_BUFSIZE + 1);
		if (!c->rbuf) {
			check_done(c, 0, "SOCKERR", "out of memory");
			return;
		}
	}
	c->rbuf[0] = 0;
	while (c->step < c->rules->n && c->rules->v[c->step].kind == TCR_COMMENT)
		c->step++;
	if (c->step < c->rules->n && c->rules->v[c->step].kind == TCR_CONNECT) {
		advance(c);
		return;
	}
	c->step = 0;
	do_connect(c, NULL); /* the implicit first connect */
}

void tcpcheck_timeout(struct check *c)
{
	const struct tcr *r = rule(c);

	if (c->in_connect) {
		c->in_connect = 0;
		finish(c, 0, "L4TOUT", "Connection timed out");
	} else if (r && r->kind == TCR_EXPECT) {
		char info[256];
		enum eval e = eval_expect(c, r, 1, info, sizeof(info));
		if (e == EVAL_OK) { /* e.g. a negated match that never came */
			c->step++;
			advance(c);
			return;
		}
		finish(c, 0, r->tout_status ? r->tout_status : "L7TOUT",
		       c->rlen ? info : "TCPCHK timeout while waiting for a response");
	} else {
		finish(c, 0, "L7TOUT", "TCPCHK timeout");
	}
}

void tcpcheck_abort(struct check *c)
{
	close_conn(c, 1);
	c->in_connect = 0;
}
