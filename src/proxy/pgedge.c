/* A PostgreSQL frontend's first exchange (option pgsql; see pgedge.h).
 *
 * The client's first message is read whole (at most PostgreSQL's 10,000
 * bytes, within timeout client) into the client-to-server buffer and
 * parsed (proto/pgwire.h). Then, by kind:
 *
 * - StartupMessage: the rules see it (pg.user, pg.database, ...); it goes
 *   to the chosen server unchanged, and the server's first messages are
 *   scanned for BackendKeyData, kept in the key table (pgkeys.c) for the
 *   session's life.
 * - CancelRequest: sent to the server of the session whose key it quotes;
 *   a key ferry does not know (a TLS session's, another ferry's) is sent to
 *   every server of the backend the rules choose. The client gets nothing
 *   back and is closed, as PostgreSQL does; one log line says where it went.
 * - SSLRequest: when some rule reads the TLS ClientHello (req.ssl_sni ...),
 *   ferry answers 'S' itself, waits for the ClientHello, lets the rules
 *   choose, connects, sends the server an SSLRequest of its own, requires
 *   'S', and relays the ClientHello and everything after unchanged. When
 *   no rule needs it, the SSLRequest goes to the chosen server untouched.
 * - GSSENCRequest: answered 'N' when the rules read the startup message or
 *   the ClientHello (which an encrypted GSS session would hide); otherwise
 *   passed on untouched like an SSLRequest.
 * - A TLS record first (direct TLS, PostgreSQL 17): the ClientHello is
 *   there at once, routed like the SSLRequest case, without the 'S'.
 * - Anything else: closed, nothing sent to a server (a StartupMessage of
 *   another major protocol version gets PostgreSQL's own refusal first).
 *
 * Until the server has said anything, a refusal by ferry (a reject rule,
 * no server, a full queue) is sent as an ErrorResponse the client prints. */
#include "proxy/pgedge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/tls_hello.h"
#include "proxy/proxy.h"

static void first_cli_io(struct loop *l, struct io *io, uint32_t ev);

/* A bound for waits that have no configured timeout (ms). */
#define PG_WAIT_DEFAULT 5000

void pgedge_free(struct session *s)
{
	struct pgsess *p = s->pg;

	if (!p)
		return;
	if (p->cancels)
		pgcancel_forget_owner(s->w, s);
	pgkeys_del(p->key);
	free(p->scan);
	free(p->msg);
	free(p);
	s->pg = NULL;
}

void pgedge_rule_ctx(const struct session *s, struct rule_ctx *c)
{
	const struct pgsess *p = s->pg;

	c->pg_flags = RC_PG_FE | p->rc_flags;
	c->pg = p->msg ? &p->first : NULL;
	c->verdict = (struct rule_verdict *)&p->verdict;
}

/* What the rules read that the session may meet: the frontend's, its
 * default backend's, and, when it has use_backend rules, every backend's
 * of the generation (a use_backend target may be any of them). */
static unsigned rules_need(const struct frontend *fe)
{
	unsigned f = rules_flags(fe->rules);

	if (fe->be)
		f |= rules_flags(fe->be->rules);
	if (f & RULES_F_SWITCH)
		for (int i = 0; i < fe->nbe; i++)
			f |= rules_flags(fe->bes[i]->rules);
	return f;
}

/* A byte or a message to the client (its buffer is empty at this point:
 * the client waits for an answer). Returns 0, or -1 when it did not go. */
static int answer(struct session *s, const void *p, size_t n)
{
	ssize_t w;

	do
		w = send(s->cli.fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w == -1 && errno == EINTR);
	return w == (ssize_t)n ? 0 : -1;
}

/* Drops the first n bytes of the client-to-server buffer. */
static void consume(struct session *s, size_t n)
{
	struct rbuf *b = s->buf[0];

	b->head += (uint32_t)n;
	if (b->head == b->tail)
		b->head = b->tail = 0;
}

/* Keeps a copy of the message (the buffer goes once flushed; the log and
 * the cancel path read it later) and parses the copy. */
static int keep_first(struct session *s, const uint8_t *msg, size_t len)
{
	struct pgsess *p = s->pg;

	p->msg = malloc(len);
	if (!p->msg)
		return -1;
	memcpy(p->msg, msg, len);
	return pg_first_parse(p->msg, len, &p->first) == (int)len ? 0 : -1;
}

/* ---- cancel requests ------------------------------------------------------- */

/* Whether a cancel broadcast to every backend of the frontend goes to
 * backend b: the frontend's default_backend and the backends its
 * use_backend rules name (all of the generation's when a rule names one
 * with %[...]), not the other frontends' clusters: one cancel must not
 * become a connection to every server of the configuration. */
static int frontend_target(const struct frontend *fe, const unsigned char *mark, int dynamic, int b)
{
	return dynamic || mark[b] || fe->bes[b] == fe->be;
}

/* Sends the session's CancelRequest to every server of be, or with be
 * NULL of every backend the frontend may route to, once per address.
 * Returns how many were sent. */
static int broadcast(struct session *s, const struct pbackend *be)
{
	struct pgsess *p = s->pg;
	const struct frontend *fe = s->fe;
	int nb = be ? 1 : fe->nbe, total = 0, nsent = 0, n = 0, dynamic = 0;
	struct sockaddr_storage *sent;
	socklen_t *sentlen;
	unsigned char *mark = calloc((size_t)nb + 1, 1);

	if (!mark)
		return 0;
	if (!be)
		dynamic = rules_backend_targets(fe->rules, mark, nb) < 0;
	for (int b = 0; b < nb; b++)
		if (be || frontend_target(fe, mark, dynamic, b))
			total += (be ? be : fe->bes[b])->lb.nsrv;
	sent = calloc((size_t)total + 1, sizeof(*sent));
	sentlen = calloc((size_t)total + 1, sizeof(*sentlen));
	for (int b = 0; sent && sentlen && b < nb; b++) {
		const struct pbackend *pb = be ? be : fe->bes[b];
		if (!be && !frontend_target(fe, mark, dynamic, b))
			continue;
		for (int i = 0; i < pb->lb.nsrv; i++) {
			struct server *srv = pb->lb.srv[i];
			struct sockaddr_storage ss;
			int omitted, dup = 0;
			socklen_t len = server_copy_addr(srv, &ss, &omitted);

			if (omitted) {
				session_dst_addr(s);
				addr_set_port((struct sockaddr *)&ss, addr_port(&s->dst_addr.sa));
			}
			for (int k = 0; k < nsent && !dup; k++)
				dup = sentlen[k] == len && !memcmp(&sent[k], &ss, len);
			if (dup)
				continue;
			sent[nsent] = ss;
			sentlen[nsent++] = len;
			if (!pgcancel_send(s->w, s, (struct sockaddr *)&ss, len, (struct sockaddr *)&srv->src,
					   srv->srclen, p->msg, p->first.len, pb->to_connect)) {
				n++;
				p->cancels++;
			}
		}
	}
	free(sent);
	free(sentlen);
	free(mark);
	return n;
}

/* The backend whose servers get a cancel with an unknown key: the one a
 * use_backend rule chooses for it (pg.cancel_request is true), else, when
 * the frontend routes by the TLS ClientHello (which a cancel does not
 * carry: a TLS session's cancel could belong to any of them), NULL for
 * every backend the frontend may route to, else the default backend. */
static struct pbackend *cancel_backend(struct session *s)
{
	const struct frontend *fe = s->fe;
	struct rule_ctx c;
	int idx = -1;

	session_rule_ctx(s, &c);
	c.req = s->pg->msg;
	c.req_len = s->pg->first.len;
	c.req_final = 1;
	if (rules_pick_backend(fe->rules, &c, &idx) == RULE_PASS && idx >= 0)
		return fe->bes[idx];
	if (rules_need(fe) & RULES_F_TLSHELLO)
		return NULL;
	return fe->be;
}

void pgedge_cancel_done(struct session *s)
{
	if (s->pg && s->pg->cancels > 0 && --s->pg->cancels == 0 && s->state == SESS_PGCANCEL)
		session_close(s, "--");
}

static void cancel_request(struct session *s)
{
	struct pgsess *p = s->pg;
	const struct pg_first *m = &p->first;
	struct pgkey_dest d;
	char what[200];

	if (pgkeys_find(m->pid, m->key, m->key_len, &d)) {
		int r = pgcancel_send(s->w, s, (struct sockaddr *)&d.addr, d.addrlen, (struct sockaddr *)&d.src,
				      d.srclen, p->msg, m->len, d.to_connect);
		if (!r)
			p->cancels++;
		snprintf(what, sizeof(what), "cancel -> %s/%s by key%s", d.be, d.srv, r ? ", not sent" : "");
	} else {
		struct pbackend *be = cancel_backend(s);
		int n = broadcast(s, be);

		if (be)
			snprintf(what, sizeof(what), "cancel -> %s broadcast to %d server%s", be->lb.name, n,
				 n == 1 ? "" : "s");
		else
			snprintf(what, sizeof(what), "cancel -> every backend, broadcast to %d server%s", n,
				 n == 1 ? "" : "s");
	}
	session_log_event(s, what);
	s->flags |= SF_NOLOG;
	if (!p->cancels) {
		session_close(s, "--");
		return;
	}
	/* as PostgreSQL: the client's EOF says the cancel was processed */
	s->state = SESS_PGCANCEL;
	s->cli.cb = session_waiting_cli_io;
	loop_timer_arm(&s->w->loop, &s->timer, s->w->loop.now_ms + 10000); /* each cancel has its own, shorter */
}

/* ---- the first message ------------------------------------------------------- */

/* The rules and then the backend choice, over the bytes in buf[0]. */
static void to_rules(struct session *s)
{
	const struct frontend *fe = s->fe;
	unsigned f = s->pg->need; /* first_read's */

	if (!(f & (RULES_F_INSPECT | RULES_F_CONTENT)) && !(s->pg->flags & PGS_HELLO)) {
		const struct rbuf *b = s->buf[0];
		s->cli.cb = session_waiting_cli_io;
		session_dispatch(s, b ? (const uint8_t *)b->data + b->head : NULL, b ? b->tail - b->head : 0);
		return;
	}
	/* the ClientHello is waited for up to inspect-delay, or without one
	 * up to timeout client, until it is complete */
	session_inspect_begin(s, fe->cfg->inspect_delay ? fe->cfg->inspect_delay
			      : !((s->pg->flags & PGS_HELLO) || (s->pg->rc_flags & RC_PG_TLS)) ? 0
			      : fe->to_client ? fe->to_client : PG_WAIT_DEFAULT);
}

int pgedge_req_final(const struct session *s, const uint8_t *req, size_t len)
{
	const struct pgsess *p = s->pg;
	struct tls_hello h;

	if (!(p->flags & PGS_HELLO) && !(p->rc_flags & RC_PG_TLS))
		return 1; /* the first message is whole: nothing more comes before an answer */
	return tls_hello_parse(req, len, &h) != 0;
}

/* An SSLRequest or GSSENCRequest goes to the server untouched: its answer
 * decides whether the server's first messages can be read ('N': the
 * client goes on in the clear, its startup message follows). Returns 0,
 * or -1 when the session was closed. */
static int pass_on(struct session *s)
{
	struct pgsess *p = s->pg;

	p->flags |= PGS_REFUSABLE | PGS_ANSWER; /* libpq reads an ErrorResponse here too */
	/* a GSSENCRequest refused ('N') may be followed by an SSLRequest */
	p->answers = (p->rc_flags & RC_PG_GSSENC) ? 2 : 1;
	if (!(p->scan = malloc(sizeof(*p->scan)))) {
		session_close(s, "PR");
		return -1;
	}
	pg_scan_init(p->scan);
	return 0;
}

/* Answers 'N' to an SSLRequest or GSSENCRequest of len bytes (once per
 * kind: *count counts them) and waits for the client's next message.
 * Returns 0, or -1 when the session was closed. */
static int refuse_request(struct session *s, uint8_t *count, size_t len)
{
	if ((*count)++ || answer(s, "N", 1)) {
		session_close(s, "CR");
		return -1;
	}
	consume(s, len);
	if (s->fe->to_client)
		loop_timer_arm(&s->w->loop, &s->timer, s->w->loop.now_ms + (uint64_t)s->fe->to_client);
	return 0;
}

/* Reads and parses what arrived, and acts once the first message is whole. */
static void first_read(struct session *s)
{
	struct pgsess *p = s->pg;
	struct rbuf *b;
	struct pg_first m;
	unsigned need;
	int r;

	if (session_read_request(s))
		return; /* closed */
again:
	b = s->buf[0];
	memset(&m, 0, sizeof(m));
	r = b ? pg_first_parse((const uint8_t *)b->data + b->head, b->tail - b->head, &m) : 0;
	if (r == 0) {
		if ((s->flags & SF_EOF0) || (b && b->tail - b->head >= RBUF_SIZE))
			session_close(s, "CR");
		return;
	}
	if (r < 0) {
		if (m.reason && !strncmp(m.reason, "unsupported frontend protocol", 29)) {
			/* PostgreSQL 18's sentence: ferry passes any 3.x on, and the
			 * newest servers speak 3.0 to 3.2 */
			char msg[120];
			uint8_t e[300];
			size_t n;
			snprintf(msg, sizeof(msg), "unsupported frontend protocol %u.%u: server supports 3.0 to 3.2",
				 m.proto >> 16, m.proto & 0xffff);
			n = pg_error_build(e, sizeof(e), "FATAL", "0A000", msg);
			(void)answer(s, e, n);
		}
		session_close(s, "CR");
		return;
	}
	need = p->need = rules_need(s->fe);
	loop_timer_cancel(&s->w->loop, &s->timer);
	switch (m.kind) {
	case PG_FIRST_GSSENC:
		if (need & (RULES_F_PGPARAM | RULES_F_TLSHELLO)) {
			/* as a server without GSSAPI: 'N', and the client goes on
			 * with an SSLRequest or its startup message */
			if (refuse_request(s, &p->gssenc_refused, m.len))
				return;
			goto again;
		}
		p->rc_flags |= RC_PG_GSSENC;
		if (pass_on(s))
			return;
		break;
	case PG_FIRST_SSL:
		if (need & RULES_F_TLSHELLO) {
			if (answer(s, "S", 1)) {
				session_close(s, "CR");
				return;
			}
			consume(s, m.len);
			p->rc_flags |= RC_PG_SSL;
			p->flags |= PGS_SSL_SERVER | PGS_HELLO;
		} else if (need & RULES_F_PGPARAM) {
			/* the rules read the startup message, which TLS would hide
			 * (a limit by pg.user must not be escaped by asking for
			 * TLS): 'N', as a server without SSL; sslmode=prefer goes
			 * on in the clear, sslmode=require stops with libpq's own
			 * "server does not support SSL" */
			if (refuse_request(s, &p->ssl_refused, m.len))
				return;
			goto again;
		} else {
			p->rc_flags |= RC_PG_SSL;
			if (pass_on(s))
				return;
		}
		break;
	case PG_FIRST_TLS:
		p->rc_flags |= RC_PG_TLS;
		break;
	case PG_FIRST_CANCEL:
		if (keep_first(s, (const uint8_t *)b->data + b->head, m.len)) {
			session_close(s, "PR");
			return;
		}
		cancel_request(s);
		return;
	case PG_FIRST_STARTUP:
		if (keep_first(s, (const uint8_t *)b->data + b->head, m.len) ||
		    !(p->scan = malloc(sizeof(*p->scan)))) {
			session_close(s, "PR");
			return;
		}
		pg_scan_init(p->scan);
		p->flags |= PGS_REFUSABLE;
		break;
	}
	to_rules(s);
}

static void first_cli_io(struct loop *l, struct io *io, uint32_t ev)
{
	struct session *s = (struct session *)((char *)io - offsetof(struct session, cli));

	(void)l;
	session_note_edges(s, ev);
	if (s->state == SESS_PGFIRST)
		first_read(s);
}

void pgedge_start(struct session *s)
{
	if (!s->pg && !(s->pg = calloc(1, sizeof(*s->pg)))) {
		session_close(s, "PR");
		return;
	}
	s->state = SESS_PGFIRST;
	s->cli.cb = first_cli_io;
	if (loop_io_set(&s->w->loop, &s->cli, RELAY_EVENTS) == -1) {
		session_close(s, "CR");
		return;
	}
	if (s->fe->to_client)
		loop_timer_arm(&s->w->loop, &s->timer, s->w->loop.now_ms + (uint64_t)s->fe->to_client);
	first_read(s); /* what arrived already (with the PROXY header, or before accept) */
}

void pgedge_timeout(struct session *s)
{
	/* the first message did not come whole (PostgreSQL: "incomplete
	 * startup packet"), or cancels outlived their own timers */
	session_close(s, s->state == SESS_PGCANCEL ? "--" : "cR");
}

/* ---- the server side ------------------------------------------------------------ */

static void ssl_srv_io(struct loop *l, struct io *io, uint32_t ev)
{
	struct session *s = (struct session *)((char *)io - offsetof(struct session, srv));
	char c;
	ssize_t n;

	(void)l;
	if (s->state != SESS_PGSSL)
		return;
	if (ev & EPOLLRDHUP)
		s->flags |= SF_RDHUP1;
	do
		n = recv(io->fd, &c, 1, MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n != 1 || c != 'S') {
		/* the client already speaks TLS: nothing readable can be said */
		s->flags |= SF_RDHUP1;
		session_close(s, "SD");
		return;
	}
	relay_start(s, 0);
}

int pgedge_connected(struct session *s)
{
	static const uint8_t ssl_req[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	ssize_t n;

	if (!(s->pg->flags & PGS_SSL_SERVER))
		return 0;
	do
		n = send(s->srv.fd, ssl_req, sizeof(ssl_req), MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(ssl_req)) {
		session_close(s, "SD");
		return -1;
	}
	s->state = SESS_PGSSL;
	s->srv.cb = ssl_srv_io;
	{
		int64_t to = s->be->to_server ? s->be->to_server : s->be->to_connect;
		loop_timer_arm(&s->w->loop, &s->timer, s->w->loop.now_ms + (uint64_t)(to ? to : PG_WAIT_DEFAULT));
	}
	return 1;
}

void pgedge_server_timeout(struct session *s)
{
	session_close(s, "sD");
}

/* A server that has sent this much without a key or ReadyForQuery is not
 * one ferry can read: stop looking (the direction may splice again). */
#define PG_SCAN_LIMIT (1u << 20)

void pgedge_scan(struct session *s, const uint8_t *p, size_t n)
{
	struct pgsess *pg = s->pg;
	enum pg_scan_res r;
	struct pgkey_dest d;

	while (n && (pg->flags & PGS_ANSWER)) { /* the server's answer to an SSLRequest or GSSENCRequest */
		int first = pg->answers == ((pg->rc_flags & RC_PG_GSSENC) ? 2 : 1);
		if (--pg->answers == 0)
			pg->flags &= ~PGS_ANSWER;
		if (p[0] == 'N') {
			p++;
			n--;
			continue;
		}
		if (first || p[0] == 'S' || p[0] == 'G') {
			free(pg->scan); /* encrypted from here on (or refused) */
			pg->scan = NULL;
			return;
		}
		pg->flags &= ~PGS_ANSWER; /* no SSLRequest came after the GSSENC 'N': a message */
	}
	if (!n)
		return;
	r = pg_scan_feed(pg->scan, p, n);
	if (r == PG_SCAN_MORE && s->bytes[1] < PG_SCAN_LIMIT)
		return;
	if (r == PG_SCAN_KEY) {
		memset(&d, 0, sizeof(d));
		d.addrlen = sizeof(d.addr);
		if (getpeername(s->srv.fd, (struct sockaddr *)&d.addr, &d.addrlen) == 0) {
			if (s->server->srclen) {
				memcpy(&d.src, &s->server->src, s->server->srclen);
				d.srclen = s->server->srclen;
			}
			d.to_connect = s->be->to_connect;
			snprintf(d.be, sizeof(d.be), "%s", s->be->lb.name);
			snprintf(d.srv, sizeof(d.srv), "%s", s->server->name);
			pgkeys_del(pg->key);
			pg->key = pgkeys_add(pg->scan->pid, pg->scan->key, pg->scan->key_len, &d);
		}
	}
	free(pg->scan);
	pg->scan = NULL;
}

/* ---- readable refusals ---------------------------------------------------------- */

static int no_usable_server(struct pbackend *be)
{
	const struct server *only;
	int none;

	backend_lock(&be->lb);
	none = lb_group(&be->lb, &only) == LB_GROUP_NONE;
	backend_unlock(&be->lb);
	return none;
}

void pgedge_refuse(struct session *s, const char *term)
{
	const struct pgsess *p = s->pg;
	const char *fe = s->fe->name, *be = s->be ? s->be->lb.name : "";
	const char *code = NULL;
	char msg[300];
	uint8_t e[400];
	size_t n;

	/* Never in a TLS stream: a plain ErrorResponse there is garbage to the
	 * client. PGS_REFUSABLE is set only where the client reads plain
	 * messages, and a server's 'S' or 'G' counts in bytes[1]; a TLS
	 * session (ferry's own 'S', or direct TLS) is turned away with a close,
	 * as the test that sends a ClientHello shows. */
	if (!p || !(p->flags & PGS_REFUSABLE) || (p->flags & (PGS_SSL_SERVER | PGS_HELLO)) ||
	    (p->rc_flags & RC_PG_TLS) || s->bytes[1] || s->cli.fd < 0 || !term)
		return;
	if (term[0] == 'P' && term[1] == 'R') {
		const struct rule_verdict *v = &p->verdict;
		code = v->counters ? "53300" : "08004";
		if (v->line)
			snprintf(msg, sizeof(msg), "ferry: frontend '%s' refused the connection%s (rule at %s:%d)", fe,
				 v->counters ? ": limit reached" : "", v->file ? v->file : "?", v->line);
		else
			snprintf(msg, sizeof(msg), "ferry: frontend '%s' refused the connection", fe);
	} else if (term[0] == '-' && !s->be) {
		code = "08004";
		snprintf(msg, sizeof(msg), "ferry: frontend '%s' has no backend for this connection", fe);
	} else if ((term[0] == 'S' || term[0] == 's') && (term[1] == 'Q' || term[1] == 'C') && s->be) {
		if (term[0] == 'S' && term[1] == 'Q') { /* the server's maxqueue */
			code = "53300";
			snprintf(msg, sizeof(msg), "ferry: no free connection slot in backend '%s' (queue full)", be);
		} else if ((term[1] == 'C' && !s->server) || no_usable_server(s->be)) {
			code = "57P03";
			snprintf(msg, sizeof(msg), "ferry: no server of backend '%s' is available", be);
		} else if (term[1] == 'Q') {
			code = "53300";
			snprintf(msg, sizeof(msg), "ferry: no free connection slot in backend '%s' (timeout queue)", be);
		} else {
			code = "08006";
			snprintf(msg, sizeof(msg), "ferry: could not connect to server %s/%s", be, s->server->name);
		}
	}
	if (!code)
		return;
	n = pg_error_build(e, sizeof(e), "FATAL", code, msg);
	if (!n)
		return;
	if (p->flags & PGS_ANSWER) { /* it waits for the answer to its SSLRequest */
		int fd = s->cli.fd;
		loop_io_forget(&s->w->loop, &s->cli);
		if (pgrefuse_start(s->w, fd, e, n, s->fe->to_client))
			close(fd);
		return;
	}
	(void)answer(s, e, n);
}
