/* Health check keywords of backends: "tcp-check" rules and the "option
 * xxx-check" shorthands, which expand into tcp-check rules exactly as
 * HAProxy's do (see HAPROXY-SEMANTICS.md); and ferry's role-aware form of
 * "option pgsql-check". */
#include "config/parse_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/regex.h"
#include "core/strutil.h"
#include "core/units.h"

static struct tcr *add_rule(struct pctx *p, enum tcr_kind kind)
{
	struct tcr_list *l = &p->px->rules;
	struct tcr *r;

	l->v = realloc(l->v, (size_t)(l->n + 1) * sizeof(*l->v));
	if (!l->v)
		abort();
	r = &l->v[l->n++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->file = p->file;
	r->line = p->line;
	r->min_recv = -1;
	return r;
}

static void set_data(struct tcr *r, const void *d, size_t len)
{
	r->data = malloc(len + 1);
	if (!r->data)
		abort();
	memcpy(r->data, d, len);
	r->data[len] = 0;
	r->len = len;
}

/* Decodes hex text into bytes. Returns 0 or -1. */
static int hex_decode(const char *hex, unsigned char **out, size_t *len)
{
	size_t n = strlen(hex);
	unsigned char *b;

	if (n % 2)
		return -1;
	b = malloc(n / 2 + 1);
	if (!b)
		abort();
	for (size_t i = 0; i < n; i += 2) {
		char tmp[3] = { hex[i], hex[i + 1], 0 };
		if (!isxdigit((unsigned char)hex[i]) || !isxdigit((unsigned char)hex[i + 1])) {
			free(b);
			return -1;
		}
		b[i / 2] = (unsigned char)strtol(tmp, NULL, 16);
	}
	b[n / 2] = 0;
	*out = b;
	*len = n / 2;
	return 0;
}

static const char *status_name(const char *s)
{
	static const char *const names[] = { "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT",
					     "L6RSP", "L7OK", "L7OKC", "L7TOUT", "L7RSP",
					     "L7STS", "SOCKERR", NULL };
	for (int i = 0; names[i]; i++)
		if (s && !strcmp(s, names[i]))
			return names[i];
	return NULL;
}

/* Compiles an rstring/rbinary rule's pattern once, for every check that
 * runs it (PCRE2, as HAProxy). Returns 0, or -1 with err filled. */
static int compile_re(struct tcr *r, char *err, size_t errlen)
{
	if (r->re || (r->match != TCRM_RSTRING && r->match != TCRM_RBINARY))
		return 0;
	r->re = rx_compile((const char *)r->data, 0, err, errlen);
	return r->re ? 0 : -1;
}

static void parse_expect(struct pctx *p, struct cfg_words *w, int i)
{
	struct tcr *r = add_rule(p, TCR_EXPECT);
	const char *m;
	char e[200];

	for (; i < w->n; i++) {
		const char *k = w->w[i];
		if (!strcmp(k, "min-recv")) {
			long v;
			if (arg_int(p, "min-recv", w->w[++i], -1, 16384, &v))
				return;
			r->min_recv = (int)v;
		} else if (!strcmp(k, "ok-status") || !strcmp(k, "error-status") ||
			   !strcmp(k, "tout-status")) {
			const char *st = status_name(w->w[i + 1]);
			if (!st) {
				perr(p, "'%s' expects a check status such as L7OK, L7RSP, L7STS, L4CON", k);
				return;
			}
			if (k[0] == 'o')
				r->ok_status = st;
			else if (k[0] == 'e')
				r->err_status = st;
			else
				r->tout_status = st;
			i++;
		} else if (!strcmp(k, "on-success") || !strcmp(k, "on-error")) {
			if (!w->w[i + 1]) {
				perr(p, "'%s' expects a message", k);
				return;
			}
			if (k[3] == 's')
				r->on_success = xstrdup(w->w[++i]);
			else
				r->on_error = xstrdup(w->w[++i]);
		} else if (!strcmp(k, "!")) {
			r->negate = 1;
		} else if (!strcmp(k, "comment")) {
			if (w->w[i + 1])
				r->comment = xstrdup(w->w[++i]);
		} else {
			break;
		}
	}
	m = w->w[i];
	if (!m || !w->w[i + 1]) {
		perr(p, "'tcp-check expect' expects a match (string, rstring, binary, rbinary) and a pattern");
		return;
	}
	if (!strcmp(m, "string"))
		r->match = TCRM_STRING;
	else if (!strcmp(m, "rstring"))
		r->match = TCRM_RSTRING;
	else if (!strcmp(m, "binary"))
		r->match = TCRM_BINARY;
	else if (!strcmp(m, "rbinary"))
		r->match = TCRM_RBINARY;
	else {
		perr(p, "'tcp-check expect %s' is not supported (ferry supports string, rstring, binary, rbinary)", m);
		return;
	}
	if (r->match == TCRM_BINARY) {
		if (hex_decode(w->w[i + 1], &r->data, &r->len)) {
			perr(p, "'tcp-check expect binary': '%s' is not an even number of hex digits", w->w[i + 1]);
			return;
		}
	} else {
		set_data(r, w->w[i + 1], strlen(w->w[i + 1]));
	}
	if (compile_re(r, e, sizeof(e))) {
		perr(p, "'tcp-check expect %s': invalid regular expression '%s': %s", m, w->w[i + 1], e);
		return;
	}
	if (w->w[i + 2])
		perr(p, "unexpected word '%s' after the pattern", w->w[i + 2]);
}

static void parse_connect(struct pctx *p, struct cfg_words *w)
{
	struct tcr *r = add_rule(p, TCR_CONNECT);
	char err[256];

	for (int i = 2; i < w->n; i++) {
		const char *k = w->w[i];
		if (!strcmp(k, "default")) {
			/* the server's check address and port: the default */
		} else if (!strcmp(k, "port")) {
			long v;
			if (arg_int(p, "port", w->w[++i], 1, 65535, &v))
				return;
			r->port = (int)v;
		} else if (!strcmp(k, "addr")) {
			if (!w->w[++i] || addr_parse(w->w[i], ADDR_F_PORT_OPTIONAL | ADDR_F_RESOLVE,
						     &r->addr, err, sizeof(err))) {
				perr(p, "'tcp-check connect addr': %s", w->w[i] ? err : "expects an address");
				return;
			}
			r->has_addr = 1;
		} else if (!strcmp(k, "linger")) {
			r->linger = 1;
		} else if (!strcmp(k, "comment")) {
			if (w->w[i + 1])
				r->comment = xstrdup(w->w[++i]);
		} else if (!strcmp(k, "send-proxy")) {
			r->send_proxy = 1;
		} else if (!strcmp(k, "via-socks4") || !strcmp(k, "ssl") ||
			   !strcmp(k, "sni") || !strcmp(k, "alpn") || !strcmp(k, "proto")) {
			perr(p, "'tcp-check connect %s' is an HAProxy option that ferry does not support yet", k);
			return;
		} else {
			perr(p, "unknown 'tcp-check connect' option '%s'", k);
			return;
		}
	}
}

void kw_tcp_check(struct pctx *p, struct cfg_words *w)
{
	const char *a = w->w[1];
	unsigned char *bin;
	size_t len;

	if (!a) {
		perr(p, "'tcp-check' expects connect, send, send-binary, expect or comment");
		return;
	}
	if (!strcmp(a, "connect")) {
		parse_connect(p, w);
	} else if (!strcmp(a, "send") || !strcmp(a, "send-binary")) {
		struct tcr *r;
		if (!w->w[2]) {
			perr(p, "'tcp-check %s' expects data", a);
			return;
		}
		if (a[4] == '-') {
			if (hex_decode(w->w[2], &bin, &len)) {
				perr(p, "'tcp-check send-binary': '%s' is not an even number of hex digits", w->w[2]);
				return;
			}
			r = add_rule(p, TCR_SEND);
			r->data = bin;
			r->len = len;
		} else {
			r = add_rule(p, TCR_SEND);
			set_data(r, w->w[2], strlen(w->w[2]));
		}
		if (w->w[3] && !strcmp(w->w[3], "comment") && w->w[4])
			r->comment = xstrdup(w->w[4]);
	} else if (!strcmp(a, "expect")) {
		parse_expect(p, w, 2);
	} else if (!strcmp(a, "comment")) {
		struct tcr *r = add_rule(p, TCR_COMMENT);
		r->comment = xstrdup(w->w[2] ? w->w[2] : "");
	} else if (!strcmp(a, "send-lf") || !strcmp(a, "send-binary-lf") || !strcmp(a, "set-var") ||
		   !strcmp(a, "set-var-fmt") || !strcmp(a, "unset-var")) {
		perr(p, "'tcp-check %s' needs HAProxy's log-format expressions, which ferry does not support yet", a);
	} else {
		perr(p, "unknown tcp-check rule '%s' (expected connect, send, send-binary, expect or comment)", a);
	}
}

/* ---- option xxx-check: expansions into rules --------------------------- */

static void reset_rules(struct pctx *p, enum check_type t)
{
	tcr_list_free(&p->px->rules);
	pgcheck_free(&p->px->pg);
	p->px->check_type = t;
}

static struct tcr *expect(struct pctx *p, enum tcr_match m, const char *pat, int min_recv,
			  const char *err_status)
{
	struct tcr *r = add_rule(p, TCR_EXPECT);

	r->match = m;
	if (m == TCRM_BINARY) {
		if (hex_decode(pat, &r->data, &r->len))
			abort(); /* built-in patterns are valid */
	} else {
		set_data(r, pat, strlen(pat));
	}
	r->min_recv = min_recv;
	r->err_status = err_status;
	if (compile_re(r, NULL, 0))
		abort(); /* built-in patterns are valid */
	return r;
}

static void send_bytes(struct pctx *p, const void *d, size_t len)
{
	set_data(add_rule(p, TCR_SEND), d, len);
}

static void connect_linger(struct pctx *p)
{
	add_rule(p, TCR_CONNECT)->linger = 1;
}

/* HAProxy's pgsql-check: a v3 StartupMessage for the user; an ErrorResponse
 * is DOWN (with its message), any AuthenticationRequest is UP. */
static void pgsql_haproxy(struct pctx *p, const char *user)
{
	unsigned char msg[600];
	size_t ul = strlen(user), n = 15 + ul;
	struct tcr *r;

	if (ul > 500) {
		perr(p, "'option pgsql-check': user name too long");
		return;
	}
	msg[0] = (unsigned char)(n >> 24);
	msg[1] = (unsigned char)(n >> 16);
	msg[2] = (unsigned char)(n >> 8);
	msg[3] = (unsigned char)n;
	memcpy(msg + 4, "\x00\x03\x00\x00user\x00", 9);
	memcpy(msg + 13, user, ul + 1);
	msg[14 + ul] = 0;
	connect_linger(p);
	send_bytes(p, msg, n);
	r = expect(p, TCRM_RSTRING, "^E", 5, "L7RSP");
	r->negate = 1;
	r->flags |= TCR_F_PG_ERROR;
	r = expect(p, TCRM_RBINARY, "^52000000[A-Z0-9]{2}000000(00|02|03|04|05|06|07|09|0A)", 9, "L7STS");
	r->on_success = xstrdup("PostgreSQL server is ok");
	r->on_error = xstrdup("PostgreSQL unknown error");
}

static void opt_pgsql_check(struct pctx *p, struct cfg_words *w)
{
	struct cfg_pgcheck pg = { 0 };
	int extended = 0;

	for (int i = 2; i < w->n; i++) {
		const char *k = w->w[i], *v = w->w[i + 1];
		char **slot = !strcmp(k, "user") ? &pg.user : !strcmp(k, "password") ? &pg.password
			      : !strcmp(k, "dbname") ? &pg.dbname : !strcmp(k, "sslmode") ? &pg.sslmode : NULL;
		if (!v) {
			perr(p, "'option pgsql-check %s' expects a value", k);
			goto bad;
		}
		i++;
		if (slot) {
			free(*slot);
			*slot = xstrdup(v);
			extended |= slot != &pg.user;
		} else if (!strcmp(k, "role")) {
			extended = 1;
			if (!strcmp(v, "primary")) pg.role = PG_ROLE_PRIMARY;
			else if (!strcmp(v, "replica")) pg.role = PG_ROLE_REPLICA;
			else if (!strcmp(v, "any")) pg.role = PG_ROLE_ANY;
			else {
				perr(p, "'option pgsql-check role' expects primary, replica or any");
				goto bad;
			}
		} else if (!strcmp(k, "max-lag")) {
			uint64_t bytes;
			int64_t ms;
			extended = 1;
			/* A duration when it ends in s, ms, us, h or d (10s, 500ms);
			 * otherwise a size of WAL (16m, 16MB, 1g: "m" is megabytes). */
			if (strchr("shd", v[strlen(v) - 1]) && !parse_duration_ms(v, &ms))
				pg.max_lag_ms = ms;
			else if (!parse_size(v, &bytes))
				pg.max_lag_bytes = (int64_t)bytes;
			else {
				perr(p, "'option pgsql-check max-lag' expects a size (16m) or a duration (10s)");
				goto bad;
			}
		} else {
			perr(p, "unknown word '%s' in 'option pgsql-check' (expected user, password, dbname, sslmode, role, max-lag)", k);
			goto bad;
		}
	}
	if (!extended) {
		reset_rules(p, CHK_TCPCHECK);
		pgsql_haproxy(p, pg.user ? pg.user : "");
		if (!pg.user)
			pwarn(p, "'option pgsql-check' without 'user': the startup message names an empty user");
		pgcheck_free(&pg);
		return;
	}
	if (!pg.user) {
		perr(p, "'option pgsql-check' with %s needs 'user <name>'", "role, password, dbname, sslmode or max-lag");
		goto bad;
	}
	if (pg.role != PG_ROLE_REPLICA && (pg.max_lag_bytes || pg.max_lag_ms))
		pwarn(p, "'max-lag' only applies to replicas; with role %s it only affects servers in recovery",
		      pg.role == PG_ROLE_PRIMARY ? "primary" : "any");
	reset_rules(p, CHK_PGSQL);
	p->px->pg = pg;
	return;
bad:
	pgcheck_free(&pg);
}

static void opt_redis_check(struct pctx *p)
{
	reset_rules(p, CHK_TCPCHECK);
	connect_linger(p);
	send_bytes(p, "PING\r\n", 6);
	expect(p, TCRM_STRING, "+PONG", -1, "L7STS")->on_success = xstrdup("Redis server is ok");
}

static void opt_mysql_check(struct pctx *p, struct cfg_words *w)
{
	const char *user = NULL;
	struct tcr *r;

	for (int i = 2; i < w->n; i++) {
		if (!strcmp(w->w[i], "user") && w->w[i + 1])
			user = w->w[++i];
		else if (strcmp(w->w[i], "post-41") && strcmp(w->w[i], "pre-41")) {
			perr(p, "unknown word '%s' in 'option mysql-check' (expected user <name> [post-41])", w->w[i]);
			return;
		}
	}
	reset_rules(p, CHK_TCPCHECK);
	connect_linger(p);
	/* the server greeting: packet sequence 0, protocol version 10 */
	r = expect(p, TCRM_RBINARY, "^[0-9A-F]{6}000A", 5, "L7RSP");
	r->flags |= TCR_F_MYSQL_ERROR;
	r->on_error = xstrdup("MySQL unexpected greeting");
	if (!user) {
		r->on_success = xstrdup("MySQL server is ok");
		return;
	}
	{
		/* a 4.1+ login request, sequence 1: capabilities LONG_PASSWORD |
		 * PROTOCOL_41 | SECURE_CONNECTION, max packet, utf8, 23 zero bytes,
		 * the user, an empty auth response */
		unsigned char pkt[600];
		size_t ul = strlen(user), n = 4 + 4 + 1 + 23 + ul + 1 + 1;
		if (ul > 500) {
			perr(p, "'option mysql-check': user name too long");
			return;
		}
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = (unsigned char)n;
		pkt[1] = (unsigned char)(n >> 8);
		pkt[2] = (unsigned char)(n >> 16);
		pkt[3] = 1;
		memcpy(pkt + 4, "\x01\x82\x00\x00\x00\x00\x00\x01\x21", 9);
		memcpy(pkt + 4 + 9 + 23, user, ul + 1);
		send_bytes(p, pkt, n + 4);
	}
	r = expect(p, TCRM_RBINARY, "^[0-9A-F]{6}0200", 5, "L7STS");
	r->flags |= TCR_F_MYSQL_ERROR;
	r->on_success = xstrdup("MySQL server is ok");
}

static void opt_ssl_hello(struct pctx *p)
{
	/* A TLS ClientHello (record 1.0, hello 1.2) offering common suites and
	 * no extensions: a TLS server answers with a handshake (0x16) or an
	 * alert (0x15) record. Layer 6, as in HAProxy. */
	static const unsigned char suites[] = { 0xc0, 0x2f, 0xc0, 0x2b, 0xc0, 0x30, 0xc0, 0x2c,
						0x00, 0x9e, 0x00, 0x9c, 0x00, 0x9d, 0x00, 0x2f,
						0x00, 0x35, 0x00, 0x0a, 0x00, 0xff };
	unsigned char m[128];
	size_t body = 2 + 32 + 1 + 2 + sizeof(suites) + 2, n = 0;
	struct tcr *r;

	m[n++] = 0x16; m[n++] = 0x03; m[n++] = 0x01;
	m[n++] = (unsigned char)((body + 4) >> 8); m[n++] = (unsigned char)(body + 4);
	m[n++] = 0x01; m[n++] = 0; m[n++] = (unsigned char)(body >> 8); m[n++] = (unsigned char)body;
	m[n++] = 0x03; m[n++] = 0x03;
	for (int i = 0; i < 32; i++)
		m[n++] = (unsigned char)(i * 7 + 1); /* client random: need not be secret */
	m[n++] = 0;                                  /* no session id */
	m[n++] = 0; m[n++] = sizeof(suites);
	memcpy(m + n, suites, sizeof(suites));
	n += sizeof(suites);
	m[n++] = 1; m[n++] = 0;                      /* null compression */
	reset_rules(p, CHK_TCPCHECK);
	connect_linger(p);
	send_bytes(p, m, n);
	r = expect(p, TCRM_RBINARY, "^1[56]", 5, "L6RSP");
	r->ok_status = "L6OK";
	r->tout_status = "L6TOUT";
}

static void opt_smtpchk(struct pctx *p, struct cfg_words *w)
{
	char hello[300];
	const char *verb = w->w[2] && (!strcmp(w->w[2], "EHLO") || !strcmp(w->w[2], "HELO")) ? w->w[2] : "HELO";
	const char *domain = w->w[2] && w->w[3] ? w->w[3] : "localhost";

	reset_rules(p, CHK_TCPCHECK);
	connect_linger(p);
	expect(p, TCRM_RSTRING, "^[0-9]{3}[ \r-]", 4, "L7RSP");
	expect(p, TCRM_RSTRING, "^2[0-9]{2}[ \r-]", -1, "L7STS");
	snprintf(hello, sizeof(hello), "%s %s\r\n", verb, domain);
	send_bytes(p, hello, strlen(hello));
	expect(p, TCRM_RSTRING, "^[0-9]{3}[ \r-]", 4, "L7RSP");
	expect(p, TCRM_RSTRING, "^2[0-9]{2}[- \r]", -1, "L7STS")->on_success = xstrdup("SMTP server is ok");
	send_bytes(p, "QUIT\r\n", 6);
}

static void opt_ldap_check(struct pctx *p)
{
	static const unsigned char bind_req[] = { 0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02,
						  0x01, 0x03, 0x04, 0x00, 0x80, 0x00 };
	reset_rules(p, CHK_TCPCHECK);
	connect_linger(p);
	send_bytes(p, bind_req, sizeof(bind_req));
	/* an LDAPv3 BindResponse for message 1 with resultCode 0 (success) */
	expect(p, TCRM_RBINARY, "^30[0-9A-F]{2}02010161[0-9A-F]{2}0A0100", 10, "L7STS")->on_success =
		xstrdup("Success");
}

/* Returns 1 when w->w[1] was a check option it handled. */
int parse_check_option(struct pctx *p, struct cfg_words *w)
{
	const char *o = w->w[1];

	if (!strcmp(o, "tcp-check")) {
		p->px->check_type = CHK_TCPCHECK;
		pgcheck_free(&p->px->pg);
	} else if (!strcmp(o, "pgsql-check")) {
		opt_pgsql_check(p, w);
	} else if (!strcmp(o, "redis-check")) {
		opt_redis_check(p);
	} else if (!strcmp(o, "mysql-check")) {
		opt_mysql_check(p, w);
	} else if (!strcmp(o, "ssl-hello-chk")) {
		opt_ssl_hello(p);
	} else if (!strcmp(o, "smtpchk")) {
		opt_smtpchk(p, w);
	} else if (!strcmp(o, "ldap-check")) {
		opt_ldap_check(p);
	} else {
		return 0;
	}
	return 1;
}

void kw_role_change_grace(struct pctx *p, struct cfg_words *w)
{
	arg_duration(p, "role-change-grace", w->w[1], &p->px->role_change_grace);
}
