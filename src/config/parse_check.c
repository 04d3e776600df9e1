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

/* max-lag is ferry's own word, so HAProxy's 4 GiB size limit does not
 * bind it: a WAL lag of tens of gigabytes is a real setting. */
#define MAX_LAG_BYTES (1ULL << 40)

struct tcr *tcr_add(struct pctx *p, struct tcr_list *l, enum tcr_kind kind)
{
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

static struct tcr *add_rule(struct pctx *p, enum tcr_kind kind)
{
	return tcr_add(p, &p->px->rules, kind);
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

int tcr_expect_option(struct pctx *p, struct tcr *r, struct cfg_words *w, int *i)
{
	const char *k = w->w[*i];

	if (!strcmp(k, "min-recv")) {
		long v;
		if (arg_int(p, "min-recv", w->w[++*i], -1, 16384, &v))
			return -1;
		r->min_recv = (int)v;
	} else if (!strcmp(k, "ok-status") || !strcmp(k, "error-status") ||
		   !strcmp(k, "tout-status")) {
		const char *st = status_name(w->w[*i + 1]);
		if (!st) {
			perr(p, "'%s' expects a check status such as L7OK, L7RSP, L7STS, L4CON", k);
			return -1;
		}
		if (k[0] == 'o')
			r->ok_status = st;
		else if (k[0] == 'e')
			r->err_status = st;
		else
			r->tout_status = st;
		++*i;
	} else if (!strcmp(k, "on-success") || !strcmp(k, "on-error")) {
		if (!w->w[*i + 1]) {
			perr(p, "'%s' expects a message", k);
			return -1;
		}
		if (k[3] == 's')
			r->on_success = xstrdup(w->w[++*i]);
		else
			r->on_error = xstrdup(w->w[++*i]);
	} else if (!strcmp(k, "!")) {
		r->negate = 1;
	} else if (!strcmp(k, "comment")) {
		if (!w->w[*i + 1]) {
			perr(p, "'comment' expects a string");
			return -1;
		}
		free(r->comment);
		r->comment = xstrdup(w->w[++*i]);
	} else {
		return 0;
	}
	return 1;
}

static void parse_expect(struct pctx *p, struct cfg_words *w, int i)
{
	struct tcr *r = add_rule(p, TCR_EXPECT);
	const char *m;
	char e[200];
	int o = 1;

	for (; i < w->n && (o = tcr_expect_option(p, r, w, &i)) == 1; i++)
		;
	if (o < 0)
		return;
	m = w->w[i];
	if (m && m[0] == '!' && m[1]) { /* "!rstring", as HAProxy's own rulesets write it */
		r->negate = 1;
		m++;
	}
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
	for (o = 1, i += 2; i < w->n && (o = tcr_expect_option(p, r, w, &i)) == 1; i++)
		;
	if (!o)
		perr(p, "unexpected word '%s' after the pattern", w->w[i]);
}

struct tcr *tcr_parse_connect(struct pctx *p, struct cfg_words *w, struct tcr_list *l, const char *kw)
{
	struct tcr *r = tcr_add(p, l, TCR_CONNECT);
	char err[256];

	for (int i = 2; i < w->n; i++) {
		const char *k = w->w[i];
		if (!strcmp(k, "default")) {
			/* the server's check address, port and options */
			r->dflt = 1;
		} else if (!strcmp(k, "port")) {
			long v;
			if (arg_int(p, "port", w->w[++i], 1, 65535, &v))
				return NULL;
			r->port = (int)v;
		} else if (!strcmp(k, "addr")) {
			if (!w->w[++i] || addr_parse(w->w[i], ADDR_F_PORT_OPTIONAL | ADDR_F_RESOLVE,
						     &r->addr, err, sizeof(err))) {
				perr(p, "'%s connect addr': %s", kw, w->w[i] ? err : "expects an address");
				return NULL;
			}
			r->has_addr = 1;
		} else if (!strcmp(k, "linger")) {
			r->linger = 1;
		} else if (!strcmp(k, "comment")) {
			if (!w->w[i + 1]) {
				perr(p, "'comment' expects a string");
				return NULL;
			}
			r->comment = xstrdup(w->w[++i]);
		} else if (!strcmp(k, "send-proxy")) {
			r->send_proxy = 1;
		} else if (!strcmp(k, "via-socks4") || !strcmp(k, "ssl") ||
			   !strcmp(k, "sni") || !strcmp(k, "alpn") || !strcmp(k, "proto")) {
			perr(p, "'%s connect %s' is an HAProxy option that ferry does not support yet", kw, k);
			return NULL;
		} else {
			perr(p, "unknown '%s connect' option '%s'", kw, k);
			return NULL;
		}
	}
	return r;
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
		tcr_parse_connect(p, w, &p->px->rules, "tcp-check");
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
		if (w->w[3] && !strcmp(w->w[3], "comment") && !w->w[4])
			perr(p, "'comment' expects a string");
		if (w->w[3] && !strcmp(w->w[3], "comment") && w->w[4])
			r->comment = xstrdup(w->w[4]);
	} else if (!strcmp(a, "expect")) {
		parse_expect(p, w, 2);
	} else if (!strcmp(a, "comment")) {
		struct tcr *r;
		if (!w->w[2]) {
			perr(p, "'tcp-check comment' expects a string");
			return;
		}
		r = add_rule(p, TCR_COMMENT);
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

/* The rules below make HAProxy 2.6's option xxx-check rulesets, rule for
 * rule (the step numbers in messages count them), so each is marked as
 * built by an option (TCR_F_PROTO): such rules have no generic texts. */
static struct tcr *proto_rule(struct pctx *p, enum tcr_kind kind)
{
	struct tcr *r = add_rule(p, kind);

	r->flags |= TCR_F_PROTO;
	return r;
}

static struct tcr *expect(struct pctx *p, enum tcr_match m, const char *pat, int min_recv,
			  const char *err_status)
{
	struct tcr *r = proto_rule(p, TCR_EXPECT);

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

/* An expect rule checked by a protocol's own parser (check_proto.c). */
static struct tcr *expect_custom(struct pctx *p, unsigned flag)
{
	struct tcr *r = proto_rule(p, TCR_EXPECT);

	r->match = TCRM_CUSTOM;
	r->flags |= flag;
	return r;
}

static struct tcr *send_bytes(struct pctx *p, const void *d, size_t len)
{
	struct tcr *r = proto_rule(p, TCR_SEND);

	set_data(r, d, len);
	return r;
}

/* "connect default linger": closed with a FIN. Rulesets without a connect
 * rule get the implicit one, closed with a reset, as in HAProxy. */
static void connect_linger(struct pctx *p)
{
	struct tcr *r = proto_rule(p, TCR_CONNECT);

	r->linger = 1;
	r->dflt = 1;
}

/* HAProxy's pgsql-check: a v3 StartupMessage for the user; an ErrorResponse
 * is DOWN (with its severity, "FATAL"), any AuthenticationRequest is UP. */
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
			if (*v && strchr("shd", v[strlen(v) - 1]) && !parse_duration_ms(v, &ms))
				pg.max_lag_ms = ms;
			else if (!parse_size_upto(v, MAX_LAG_BYTES, &bytes))
				pg.max_lag_bytes = (int64_t)bytes;
			else {
				perr(p, "'option pgsql-check max-lag' expects a size (16m, at most 1024g) or a duration (10s, at most %d ms)",
				     DURATION_MAX_MS);
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

/* HAProxy's redis-check: PING as a RESP array, "+PONG\r\n" expected; an
 * error reply is logged as the server wrote it. */
static void opt_redis_check(struct pctx *p)
{
	struct tcr *r;

	reset_rules(p, CHK_TCPCHECK);
	send_bytes(p, "*1\r\n$4\r\nPING\r\n", 14);
	r = expect(p, TCRM_STRING, "+PONG\r\n", -1, "L7STS");
	r->flags |= TCR_F_INFO_LINE;
	r->on_success = xstrdup("Redis server is ok");
}

/* HAProxy's mysql-check: without a user, the greeting is enough. With one,
 * a login (4.1+ unless pre-41) and a COM_QUIT are sent at once, so the
 * server ends the session cleanly instead of logging "Aborted connection";
 * the answer after the greeting must be an OK packet. */
static void opt_mysql_check(struct pctx *p, struct cfg_words *w)
{
	const char *user = NULL;
	int pre41 = 0;

	for (int i = 2; i < w->n; i++) {
		if (!strcmp(w->w[i], "user") && w->w[i + 1])
			user = w->w[++i];
		else if (!strcmp(w->w[i], "pre-41"))
			pre41 = 1;
		else if (strcmp(w->w[i], "post-41")) {
			perr(p, "unknown word '%s' in 'option mysql-check' (expected user <name> [post-41|pre-41])", w->w[i]);
			return;
		}
	}
	if (user && strlen(user) > 500) {
		perr(p, "'option mysql-check': user name too long");
		return;
	}
	reset_rules(p, CHK_TCPCHECK);
	connect_linger(p);
	if (user) {
		unsigned char pkt[600];
		size_t ul = strlen(user), n = 0, len = pre41 ? ul + 7 : ul + 34;
		pkt[n++] = (unsigned char)len;
		pkt[n++] = (unsigned char)(len >> 8);
		pkt[n++] = (unsigned char)(len >> 16);
		pkt[n++] = 1; /* sequence */
		if (pre41) {
			memcpy(pkt + n, "\x00\x80" "\x00\x00\x01", 5); /* capabilities, max packet */
			n += 5;
		} else {
			/* capabilities PROTOCOL_41 | SECURE_CONNECTION, max packet,
			 * utf8, 23 zero bytes */
			memcpy(pkt + n, "\x00\x82\x00\x00" "\x00\x80\x00\x01" "\x21", 9);
			memset(pkt + n + 9, 0, 23);
			n += 32;
		}
		memcpy(pkt + n, user, ul + 1);
		n += ul + 1;
		pkt[n++] = 0;                                    /* no auth response */
		memcpy(pkt + n, "\x01\x00\x00" "\x00" "\x01", 5); /* COM_QUIT */
		n += 5;
		send_bytes(p, pkt, n);
	}
	expect_custom(p, TCR_F_MYSQL_INIT);
	if (user)
		expect_custom(p, TCR_F_MYSQL_OK);
}

/* HAProxy's ssl-hello-chk: its SSLv3 ClientHello (39 common suites, the
 * current time, "HAPROXYSSLCHK\nHAPROXYSSLCHK\n" as random); a handshake
 * (0x16) or alert (0x15) record is Layer 6 OK. */
static void opt_ssl_hello(struct pctx *p)
{
	unsigned char m[128];
	size_t n = 0;
	struct tcr *r;

	memcpy(m, "\x16\x03\x00\x00\x79" "\x01\x00\x00\x75" "\x03\x00", 11);
	n = 11 + 4;                                  /* the time goes at 11 */
	memcpy(m + n, "HAPROXYSSLCHK\nHAPROXYSSLCHK\n", 28);
	n += 28;
	m[n++] = 0;                                  /* no session id */
	m[n++] = 0x00; m[n++] = 0x4e;                /* 39 suites: 0x01-0x1B, 0x2F-0x3A */
	for (int suite = 0x01; suite <= 0x3a; suite = suite == 0x1b ? 0x2f : suite + 1) {
		m[n++] = 0;
		m[n++] = (unsigned char)suite;
	}
	m[n++] = 1; m[n++] = 0;                      /* null compression */
	reset_rules(p, CHK_TCPCHECK);
	memset(m + 11, 0, 4);
	send_bytes(p, m, n)->flags |= TCR_F_HELLO_TIME;
	r = expect(p, TCRM_RBINARY, "^1[56]", 5, "L6RSP");
	r->ok_status = "L6OK";
	r->tout_status = "L6TOUT";
}

/* HAProxy's smtpchk as Debian's 2.6.12 has it (with the QUIT of 2.7, issue
 * 1812): the banner, HELO or EHLO, its (multi-line) 2xx reply, then QUIT
 * and a 2xx, so the server sees a clean end. Replies are logged with their
 * code and text. */
static void opt_smtpchk(struct pctx *p, struct cfg_words *w)
{
	char hello[300];

	if (w->w[2] && w->w[3] && (!strcmp(w->w[2], "EHLO") || !strcmp(w->w[2], "HELO")))
		snprintf(hello, sizeof(hello), "%s %s\r\n", w->w[2], w->w[3]);
	else
		snprintf(hello, sizeof(hello), "HELO localhost\r\n");
	reset_rules(p, CHK_TCPCHECK);
	connect_linger(p);
	expect(p, TCRM_RSTRING, "^[0-9]{3}[ \r]", 4, "L7RSP")->flags |= TCR_F_INFO_LINE;
	expect(p, TCRM_RSTRING, "^2[0-9]{2}[ \r]", 4, "L7STS")->flags |= TCR_F_SMTP;
	send_bytes(p, hello, strlen(hello));
	expect(p, TCRM_RSTRING, "^(2[0-9]{2}-[^\r]*\r\n)*2[0-9]{2}[ \r]", -1, "L7STS")->flags |= TCR_F_SMTP;
	send_bytes(p, "QUIT\r\n", 6);
	expect(p, TCRM_RSTRING, "^2[0-9]{2}[- \r]", 4, "L7STS")->flags |= TCR_F_SMTP;
}

/* HAProxy's ldap-check: an anonymous LDAPv3 bind; the BindResponse is read
 * field by field (lengths of 1, 2 or 4 bytes, as Active Directory sends). */
static void opt_ldap_check(struct pctx *p)
{
	static const unsigned char bind_req[] = { 0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02,
						  0x01, 0x03, 0x04, 0x00, 0x80, 0x00 };
	reset_rules(p, CHK_TCPCHECK);
	send_bytes(p, bind_req, sizeof(bind_req));
	expect(p, TCRM_RBINARY, "^30", 14, NULL)->on_error = xstrdup("Not LDAPv3 protocol");
	expect_custom(p, TCR_F_LDAP_BIND);
}

/* Returns 1 when w->w[1] was a check option it handled. */
int parse_check_option(struct pctx *p, struct cfg_words *w)
{
	const char *o = w->w[1];

	p->px->httpchk &= ~HTTPCHK_F_UNUSED; /* as HAProxy: any check option clears it */
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
	} else if (!strcmp(o, "httpchk")) {
		opt_httpchk(p, w);
	} else {
		return 0;
	}
	return 1;
}

void kw_role_change_grace(struct pctx *p, struct cfg_words *w)
{
	arg_duration(p, "role-change-grace", w->w[1], &p->px->role_change_grace);
}
