/* The tcp-check engine: runs a backend's rules (connect, send, expect) in
 * order on the event loop, as HAProxy's tcpcheck_main does. A plain "check"
 * is the empty rule list: one implicit connect. Matching follows HAProxy:
 * "string" and "binary" search the raw bytes, "rstring" applies the regex to
 * them (NULs included), "rbinary" to their uppercase hex; a mismatch waits
 * for more data unless min-recv is set or the peer is done. Results carry
 * HAProxy's texts ("TCPCHK did not match content 'OK' at step 3",
 * "Connection refused at step 1 of tcp-check (connect port 1)"); the
 * option xxx-check rulesets (TCR_F_PROTO) have none of the generic ones,
 * only what their protocol says (check_proto.c). */
#include "health/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/regex.h"
#include "event/sock.h"
#include "proto/proxyproto.h"

#define CHECK_BUFSIZE 16384 /* HAProxy's tune.bufsize: the most an expect sees */
#define CHECK_DESC_LEN 128  /* HAProxy's HCHK_DESC_LEN: a result's info is cut to 127 bytes */

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

/* Rules written by "option xxx-check" rather than as tcp-check rules. */
static int proto_ruleset(const struct check *c)
{
	return c->rules->n && (c->rules->v[0].flags & TCR_F_PROTO);
}

/* Whether failures name the step: only for tcp-check rules of one's own,
 * not for a plain "check" or an option xxx-check (HAProxy's TCPCHK_RULES_TCP_CHK). */
static int tcp_ruleset(const struct check *c)
{
	return c->type == CHK_TCPCHECK && !proto_ruleset(c);
}

/* The comment HAProxy attaches to rule i: its own, or that of the "tcp-check
 * comment" lines before it, which carry to the next connect, or to the next
 * run of sends or of expects. */
static const char *comment_of(const struct check *c, int i)
{
	const char *carried = NULL, *mine = NULL;
	enum tcr_kind prev = TCR_COMMENT;

	for (int k = 0; k <= i && k < c->rules->n; k++) {
		const struct tcr *r = &c->rules->v[k];
		if (r->kind != prev && prev != TCR_COMMENT)
			carried = NULL;
		prev = r->kind;
		mine = r->comment ? r->comment : carried;
		if (r->kind == TCR_COMMENT)
			carried = r->comment;
		else if (r->kind == TCR_CONNECT)
			carried = NULL;
	}
	return mine;
}

/* The PROXY header of a check's connection, as HAProxy's for a connection
 * of its own: with send-proxy-v2 on the server a LOCAL header (family
 * UNSPEC, the CRC32C TLV if asked, nothing else: no stream, no unique id),
 * else a v1 line with the check connection's own source and destination. */
static int send_proxy_header(struct check *c)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);
	uint8_t hdr[PP_BUILD_MAX];
	size_t n;

	if (c->pp_opts & SRV_PP_V2) {
		struct pp_v2_args a = {
			.opts = (c->pp_opts & SRV_PP_CRC32C ? PP_O_CRC32C : 0) | (c->pp_opts & SRV_PP_SSL ? PP_O_SSL : 0),
		};
		n = pp_build_v2(hdr, sizeof(hdr), &a);
	} else {
		if (getsockname(c->io.fd, (struct sockaddr *)&l, &ll) == -1 ||
		    getpeername(c->io.fd, (struct sockaddr *)&r, &rl) == -1)
			return -1;
		n = pp_build_v1(hdr, sizeof(hdr), (struct sockaddr *)&l, (struct sockaddr *)&r);
	}
	return n && send(c->io.fd, hdr, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n ? 0 : -1;
}

/* Whether the connect now made (rule r, NULL for the implicit one) sends
 * the PROXY header: its own send-proxy, or the server's check options on a
 * default connect (the implicit one is a default one), as HAProxy's
 * tcpcheck_eval_connect. */
static int connect_sends_proxy(const struct check *c, const struct tcr *r)
{
	return r ? r->send_proxy || (r->dflt && c->send_proxy) : c->send_proxy;
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
	char desc[CHECK_DESC_LEN];

	snprintf(desc, sizeof(desc), "%s", info);
	close_conn(c, linger_of(c));
	check_done(c, ok, status, desc);
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

/* HAProxy's "(expect string 'OK')" for the step a connection error or a
 * timeout happened at. */
static int describe_rule(const struct tcr *r, char *out, size_t len)
{
	char hex[2 * 64 + 1];

	switch (r->kind) {
	case TCR_CONNECT:
		return r->port ? snprintf(out, len, " (connect port %d)", r->port) : snprintf(out, len, " (connect)");
	case TCR_SEND:
		return snprintf(out, len, " (send)");
	case TCR_EXPECT:
		break;
	default:
		return 0;
	}
	switch (r->match) {
	case TCRM_STRING:
		return snprintf(out, len, " (expect string '%.*s')", (int)r->len, (const char *)r->data);
	case TCRM_BINARY:
		hexify((const char *)r->data, r->len < 64 ? r->len : 64, hex);
		return snprintf(out, len, " (expect binary '%s')", hex);
	case TCRM_RSTRING:
		return snprintf(out, len, " (expect regex)");
	case TCRM_RBINARY:
		return snprintf(out, len, " (expect binary regex)");
	case TCRM_CUSTOM:
		return snprintf(out, len, " (expect custom function)");
	case TCRM_STATUS:
	case TCRM_RSTATUS:
	case TCRM_HDR: /* http-check: its failures name no step */
		break;
	}
	return 0;
}

/* A failure of the connection itself (refused, timed out, reset), as
 * HAProxy's chk_report_conn_err words it: the system's text, and for
 * tcp-check rules the step ("Connection refused at step 2 of tcp-check
 * (connect port 1)"); a timeout has no system text. */
static void conn_fail(struct check *c, const char *status, int err)
{
	char info[512];
	int n = err ? snprintf(info, sizeof(info), "%s", strerror(err)) : (info[0] = 0, 0);

	if (tcp_ruleset(c)) {
		const struct tcr *r = c->implicit ? NULL : rule(c);
		const char *cm = r ? comment_of(c, c->step) : NULL;
		if (!r) {
			snprintf(info + n, sizeof(info) - (size_t)n, " at initial connection step of tcp-check");
		} else {
			n += snprintf(info + n, sizeof(info) - (size_t)n, " at step %d of tcp-check", c->step + 1);
			n += describe_rule(r, info + n, sizeof(info) - (size_t)n);
			if (cm)
				snprintf(info + n, sizeof(info) - (size_t)n, " comment: '%s'", cm);
		}
	}
	finish(c, 0, status, info);
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
	c->implicit = r == NULL;
	if (r && r->has_addr) {
		int port = addr_port((struct sockaddr *)&ss);
		memcpy(&ss, &r->addr.ss, sizeof(ss));
		addr_set_port((struct sockaddr *)&ss, port);
	}
	if (r && r->port)
		addr_set_port((struct sockaddr *)&ss, r->port);
	fd = sock_connect_from((struct sockaddr *)&ss, addr_len((struct sockaddr *)&ss),
			       c->srv->srclen ? (struct sockaddr *)&c->srv->src : NULL, c->srv->srclen);
	if (fd < 0) {
		conn_fail(c, "L4CON", -fd);
		return;
	}
	io_init(&c->io, fd, tcpcheck_io);
	c->in_connect = 1;
	loop_io_set(c->env->loop, &c->io, EPOLLOUT);
	loop_timer_arm(c->env->loop, &c->timer, c->env->loop->now_ms + (uint64_t)to);
}

static int matches(const struct check *c, const struct tcr *r)
{
	switch (r->match) {
	case TCRM_STRING:
	case TCRM_BINARY:
		return memmem(c->rbuf, c->rlen, r->data, r->len) != NULL;
	case TCRM_RSTRING:
		return rx_match(r->re, c->rbuf, c->rlen);
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
	case TCRM_CUSTOM:
	case TCRM_STATUS:
	case TCRM_RSTATUS:
	case TCRM_HDR:
		return 0;
	}
	return 0;
}

/* HAProxy's info for a failed expect: on-error, or what the protocol's
 * reply says, or (tcp-check rules only) which pattern did not match; then
 * the rule's comment. */
static void expect_fail_info(struct check *c, const struct tcr *r, int match, char *info, size_t ilen)
{
	static const char *const what[] = { [TCRM_RSTRING] = "(regex)", [TCRM_BINARY] = "(binary)",
					    [TCRM_RBINARY] = "(binary regex)", [TCRM_CUSTOM] = "(custom function)" };
	const char *cm = comment_of(c, c->step);
	int n;

	if (r->on_error)
		n = snprintf(info, ilen, "%s", r->on_error);
	else if (r->flags & (TCR_F_INFO_LINE | TCR_F_SMTP | TCR_F_PG_ERROR))
		n = proto_reply_info(c, r, info, ilen);
	else if (!tcp_ruleset(c))
		n = (info[0] = 0, 0);
	else if (r->match == TCRM_STRING)
		n = snprintf(info, ilen, "TCPCHK %s content '%.*s' at step %d",
			     match ? "matched unwanted" : "did not match", (int)r->len, (const char *)r->data,
			     c->step + 1);
	else
		n = snprintf(info, ilen, "TCPCHK %s content %s at step %d",
			     match ? "matched unwanted" : "did not match", what[r->match], c->step + 1);
	if (cm && n >= 0 && (size_t)n < ilen)
		snprintf(info + n, ilen - (size_t)n, " comment: %s", cm);
}

/* HAProxy's tcpcheck_eval_expect over what was received since the last
 * send. On EVAL_FAIL, *status, c->code and info say why; on EVAL_OK a
 * protocol's parser may leave an info for the result ("8.0.19"). */
static enum check_eval eval_expect(struct check *c, const struct tcr *r, int last_read, const char **status,
				   char *info, size_t ilen)
{
	int match;

	info[0] = 0;
	c->code = 0;
	if (c->type == CHK_HTTP)
		return httpchk_expect(c, r, comment_of(c, c->step), last_read, status, info, ilen);
	last_read |= c->rlen >= CHECK_BUFSIZE;
	if (!last_read) {
		if ((r->match == TCRM_STRING || r->match == TCRM_BINARY) && c->rlen < r->len)
			return EVAL_WAIT;
		if (r->min_recv > 0 && c->rlen < (size_t)r->min_recv)
			return EVAL_WAIT;
	}
	if (r->match == TCRM_CUSTOM && c->rlen)
		return proto_expect(c, r, last_read, status, info, ilen);
	match = matches(c, r);
	if (!match && !last_read && r->min_recv == -1)
		return EVAL_WAIT;
	if (match ^ r->negate)
		return EVAL_OK;
	*status = r->err_status ? r->err_status : "L7RSP";
	expect_fail_info(c, r, match, info, ilen);
	return EVAL_FAIL;
}

/* The last rule ran: HAProxy's result for the rule that ran last. */
static void succeed(struct check *c)
{
	const struct tcr *r = NULL;
	char info[CHECK_DESC_LEN];

	for (int i = c->rules->n - 1; i >= 0 && !r; i--)
		if (c->rules->v[i].kind != TCR_COMMENT)
			r = &c->rules->v[i];
	if (!r) { /* only the implicit connect: a plain L4 check */
		finish(c, 1, "L4OK", "");
		return;
	}
	if (r->kind == TCR_EXPECT && c->http404) { /* disable-on-404: a stopping server */
		finish(c, 1, "L7OKC", "");
		return;
	}
	if (r->kind == TCR_CONNECT) {
		finish(c, 1, "L4OK", "(tcp-check)");
		return;
	}
	if (r->kind == TCR_SEND) {
		finish(c, 1, "L7OK", "(tcp-check)");
		return;
	}
	if (r->on_success)
		snprintf(info, sizeof(info), "%s", r->on_success);
	else if (r->flags & TCR_F_SMTP)
		proto_reply_info(c, r, info, sizeof(info));
	else
		snprintf(info, sizeof(info), "%s", tcp_ruleset(c) ? "(tcp-check)" : "");
	finish(c, 1, r->ok_status ? r->ok_status : "L7OK", info);
}

static int last_rule(const struct check *c)
{
	for (int i = c->step + 1; i < c->rules->n; i++)
		if (c->rules->v[i].kind != TCR_COMMENT)
			return 0;
	return 1;
}

static void run_expect(struct check *c, int last_read)
{
	const struct tcr *r = rule(c);
	const char *status = NULL;
	char info[CHECK_DESC_LEN];

	switch (eval_expect(c, r, last_read, &status, info, sizeof(info))) {
	case EVAL_OK:
		if (info[0] && last_rule(c)) { /* a protocol's own success text */
			finish(c, 1, r->ok_status ? r->ok_status : "L7OK", info);
			return;
		}
		c->step++;
		advance(c);
		return;
	case EVAL_FAIL:
		finish(c, 0, status, info);
		return;
	case EVAL_WAIT:
		loop_io_set(c->env->loop, &c->io, EPOLLIN);
		return;
	}
}

static void do_send(struct check *c, const struct tcr *r)
{
	unsigned char tmp[256];
	const void *data = r->data;
	size_t len = r->len;
	char *req = NULL;

	c->rlen = 0; /* as HAProxy: an expect after a send sees only the new reply */
	c->rbuf[0] = 0;
	c->must_read = 1;
	if ((r->flags & TCR_F_HELLO_TIME) && r->len <= sizeof(tmp) && r->len >= 15) {
		uint32_t now = (uint32_t)time(NULL);
		memcpy(tmp, r->data, r->len);
		tmp[11] = (unsigned char)(now >> 24);
		tmp[12] = (unsigned char)(now >> 16);
		tmp[13] = (unsigned char)(now >> 8);
		tmp[14] = (unsigned char)now;
		data = tmp;
	}
	if (r->http) { /* an http-check request */
		req = malloc(CHECK_BUFSIZE);
		len = req ? httpchk_request(c, r, req, CHECK_BUFSIZE) : 0;
		if (!len) {
			char info[CHECK_DESC_LEN];
			free(req);
			snprintf(info, sizeof(info), "tcp-check send : failed to build HTTP request at step %d", c->step + 1);
			finish(c, 0, "L7RSP", info);
			return;
		}
		data = req;
	}
	for (;;) {
		ssize_t n = send(c->io.fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == (ssize_t)len)
			break;
		if (n >= 0 || errno == EAGAIN) {
			/* check requests are small: a partial send means a broken peer */
			free(req);
			finish(c, 0, "L7RSP", "TCPCHK could not send its request at once");
			return;
		}
		if (errno == EINTR)
			continue;
		free(req);
		conn_fail(c, "SOCKERR", errno);
		return;
	}
	free(req);
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
			do_send(c, r);
			return;
		case TCR_EXPECT:
			if (c->must_read) /* as HAProxy: read before the first expect after a connect or send */
				loop_io_set(c->env->loop, &c->io, EPOLLIN);
			else
				run_expect(c, 0);
			return;
		case TCR_COMMENT:
			c->step++;
			break;
		}
	}
	succeed(c);
}

static void read_more(struct check *c)
{
	int last = 0, err = 0;
	size_t before = c->rlen;

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
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN) {
			last = 1;
			err = n == 0 ? 0 : errno;
		}
		break;
	}
	if (c->must_read && c->rlen == before && !last)
		return; /* woken for nothing */
	c->must_read = 0;
	if (!c->rlen && err) { /* reset with nothing to show: the connection failed */
		conn_fail(c, "SOCKERR", err);
		return;
	}
	if (!c->rlen && last && c->type == CHK_HTTP) { /* as HAProxy's H1 layer: no response */
		finish(c, 0, "L7RSP", "");
		return;
	}
	if (!c->rlen && last) {
		const struct tcr *r = rule(c);
		const char *cm = comment_of(c, c->step);
		char info[CHECK_DESC_LEN];
		int n = snprintf(info, sizeof(info), "TCPCHK got an empty response at step %d", c->step + 1);
		if (cm)
			snprintf(info + n, sizeof(info) - (size_t)n, " comment: '%s'", cm);
		finish(c, 0, r->err_status ? r->err_status : "L7RSP", info);
		return;
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
			/* a reset once connected is no Layer4 failure to HAProxy: a socket error */
			conn_fail(c, e == ECONNRESET ? "SOCKERR" : "L4CON", e);
			return;
		}
		c->must_read = 1;
		loop_io_set(c->env->loop, &c->io, 0);
		loop_timer_arm(c->env->loop, &c->timer, c->env->loop->now_ms + (uint64_t)read_timeout(c));
		if (connect_sends_proxy(c, c->implicit ? NULL : rule(c)) && send_proxy_header(c)) {
			finish(c, 0, "L4CON", "could not send the PROXY header");
			return;
		}
		if (c->implicit)
			c->implicit = 0;
		else
			c->step++;
		advance(c);
		return;
	}
	if (rule(c) && rule(c)->kind == TCR_EXPECT)
		read_more(c);
}

void tcpcheck_run(struct check *c)
{
	c->step = 0;
	c->rlen = 0;
	c->code = 0;
	c->must_read = 0;
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
		conn_fail(c, "L4TOUT", 0);
	} else {
		/* as HAProxy, no last look at what came: the check ran out of time */
		conn_fail(c, r && r->kind == TCR_EXPECT && r->tout_status ? r->tout_status : "L7TOUT", 0);
	}
}

void tcpcheck_abort(struct check *c)
{
	close_conn(c, 1);
	c->in_connect = 0;
}
