/* Sample fetches: what a rule can look at. Layer 4 ones read the context's
 * addresses, the PROXY header received and the backends' state; content
 * ones read the request bytes peeked so far, never past req_len, and say
 * "need more" (-1) while the answer may still change (ctx->req_final
 * clear), or give a sample that may still change (2: req.len, as HAProxy's
 * SMP_F_MAY_CHANGE; a rule it does not match waits for more bytes). */
#include "rules/rules_int.h"

#include <netinet/in.h>
#include <string.h>

#include "core/atomic.h"
#include "proto/proxyproto.h"
#include "proto/tls_hello.h"

static int f_src(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return smp_from_addr(s, c->src) == 0;
}

static int f_dst(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return smp_from_addr(s, c->dst) == 0;
}

static int port_of(const struct sockaddr *sa, struct sample *s)
{
	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return 0;
	s->type = SMP_SINT;
	s->i = ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
					      : ((const struct sockaddr_in6 *)sa)->sin6_port);
	return 1;
}

static int f_src_port(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return port_of(c->src, s);
}

static int f_dst_port(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return port_of(c->dst, s);
}

/* As HAProxy's src_is_local: the address is one of this host's (loopback
 * here: ferry does not enumerate interfaces, see the README). */
static int f_src_is_local(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	static const uint8_t lo6[16] = { [15] = 1 };

	if (!f_src(a, c, s))
		return 0;
	s->i = s->type == SMP_IPV4 ? s->ip[0] == 127 : !memcmp(s->ip, lo6, 16);
	s->type = SMP_BOOL;
	return 1;
}

static int f_true(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	s->type = SMP_BOOL;
	s->i = 1;
	return 1;
}

static int f_false(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	s->type = SMP_BOOL;
	s->i = 0;
	return 1;
}

static int sint(struct sample *s, int64_t v)
{
	s->type = SMP_SINT;
	s->i = v;
	return 1;
}

static int f_fe_name(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	if (!c->fe_name)
		return 0;
	s->type = SMP_STR;
	s->p = (const uint8_t *)c->fe_name;
	s->len = strlen(c->fe_name);
	return 1;
}

static int f_fe_id(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return sint(s, c->fe_id);
}

static int f_fe_conn(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return sint(s, c->fe_conn);
}

static struct backend *be_arg(const struct rarg *a, const struct rule_ctx *c)
{
	return a->be >= 0 && a->be < c->nbe ? c->bes[a->be] : NULL;
}

static int f_be_conn(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	struct backend *be = be_arg(a, c);

	return be ? sint(s, ATOMIC_LOAD(&be->cur_conns)) : 0;
}

static int f_nbsrv(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	struct backend *be = be_arg(a, c);
	int act, bck;

	if (!be)
		return 0;
	backend_lock(be);
	backend_count_usable(be, &act, &bck);
	backend_unlock(be);
	/* as HAProxy: active servers, or the backups when no active one is up */
	return sint(s, act ? act : bck);
}

static int f_queue(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	struct backend *be = be_arg(a, c);
	int64_t n;

	if (!be)
		return 0;
	backend_lock(be);
	n = be->q.len;
	for (int i = 0; i < be->nsrv; i++)
		n += be->srv[i]->q.len;
	backend_unlock(be);
	return sint(s, n);
}

/* HAProxy's connslots: free connection and queue slots of the usable
 * servers, -1 when one of them has no maxconn or no maxqueue (unlimited). */
static int f_connslots(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	struct backend *be = be_arg(a, c);
	int64_t n = 0;

	if (!be)
		return 0;
	backend_lock(be);
	for (int i = 0; i < be->nsrv; i++) {
		const struct server *v = be->srv[i];
		if (!srv_usable(v))
			continue;
		if (!v->maxconn || !v->maxqueue) {
			n = -1;
			break;
		}
		n += v->maxconn - v->cur_conns + v->maxqueue - (int64_t)v->q.len;
	}
	backend_unlock(be);
	return sint(s, n);
}

static int f_srv_is_up(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	struct backend *be = be_arg(a, c);
	const struct server *v;

	if (!be || a->srv < 0 || a->srv >= be->nsrv)
		return 0;
	v = be->srv[a->srv];
	s->type = SMP_BOOL;
	s->i = ATOMIC_LOAD(&v->up) && !(ATOMIC_LOAD(&v->flags) & SRV_F_ANY_MAINT);
	return 1;
}

/* ---- content ------------------------------------------------------------- */

/* As HAProxy's req.len: the length so far, which may still grow (a rule
 * matching it decides at once, one not matching waits). */
static int f_req_len(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	sint(s, (int64_t)c->req_len);
	return c->req_final ? 1 : 2;
}

/* The bytes [off, off+len) of the request (len 0: up to the end). */
static int bytes_at(const struct rule_ctx *c, size_t off, size_t len, struct sample *s)
{
	if (off > c->req_len || (len && c->req_len - off < len))
		return c->req_final ? 0 : -1;
	if (!len && !c->req_final)
		return -1; /* "the rest" is not known yet */
	s->type = SMP_BIN;
	s->p = c->req + off;
	s->len = len ? len : c->req_len - off;
	return 1;
}

static int f_payload(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return bytes_at(c, (size_t)a[0].i, (size_t)a[1].i, s);
}

/* req.payload_lv(off1,len[,off2]): a big-endian length of len bytes at off1,
 * then that many bytes at off2 (default: right after the length field);
 * off2 may be negative, relative to the end of the length field as HAProxy. */
static int f_payload_lv(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	size_t off1 = (size_t)a[0].i, ln = (size_t)a[1].i, vlen = 0;
	int64_t off2;

	if (off1 > c->req_len || c->req_len - off1 < ln)
		return c->req_final ? 0 : -1;
	for (size_t i = 0; i < ln; i++)
		vlen = vlen << 8 | c->req[off1 + i];
	off2 = (int64_t)(off1 + ln);
	if (a[2].s) /* given: relative to the buffer start, negative: to off1+len */
		off2 = a[2].i < 0 ? (int64_t)(off1 + ln) + a[2].i : a[2].i;
	if (off2 < 0 || vlen > (1u << 24))
		return 0;
	if (vlen == 0) {
		s->type = SMP_BIN;
		s->p = c->req;
		s->len = 0;
		return 1;
	}
	return bytes_at(c, (size_t)off2, vlen, s);
}

/* req.proto_http: the bytes start like an HTTP/1 request line
 * ("METHOD SP URI SP HTTP/x.y CRLF"). Needs the whole line. */
static int f_proto_http(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	const uint8_t *p = c->req, *end = c->req + c->req_len;
	size_t i = 0;
	int sp = 0;

	s->type = SMP_BOOL;
	s->i = 0;
	while (p + i < end && p[i] != '\n') {
		uint8_t ch = p[i];
		if (ch == ' ') {
			if (i == 0 || p[i - 1] == ' ')
				return 1;
			sp++;
		} else if (ch < 0x20 && ch != '\r') {
			return 1;
		} else if (sp == 0 && !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '-' || ch == '_')) {
			return 1; /* not a method token */
		}
		i++;
		if (i > 8192)
			return 1;
	}
	if (p + i >= end)
		return c->req_final ? 1 : -1; /* no end of line yet */
	{
		size_t e = i && p[i - 1] == '\r' ? i - 1 : i, v = e >= 8 ? e - 8 : 0;
		s->i = sp == 2 && e >= 8 && !memcmp(p + v, "HTTP/", 5) && p[v + 5] >= '0' &&
		       p[v + 5] <= '9' && p[v + 6] == '.' && p[v + 7] >= '0' && p[v + 7] <= '9';
	}
	return 1;
}

/* ---- the TLS ClientHello (proto/tls_hello.h) ----------------------------- */

/* The hello parsed from the request so far: 1 complete, 0 not one (or not
 * valid), -1 more bytes may make it one. */
static int hello(const struct rule_ctx *c, struct tls_hello *h)
{
	int r = tls_hello_parse(c->req, c->req_len, h);

	if (r == 0)
		return c->req_final ? 0 : -1;
	return r == 1;
}

/* req.ssl_hello_type: the handshake type of the first message once it is
 * all there (1: ClientHello), as HAProxy; an SSLv2 hello has none. */
static int f_ssl_hello_type(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	struct tls_hello h = { 0 };
	int r = tls_hello_parse(c->req, c->req_len, &h);

	if (r == 0)
		return c->req_final ? 0 : -1;
	if (h.sslv2 || (r < 0 && !h.hello_type))
		return 0;
	return sint(s, h.hello_type);
}

/* req.ssl_ver: the ClientHello's version (0x0303 for TLS 1.2 and 1.3, whose
 * real version is in supported_versions), SSLv2 hellos included. */
static int f_ssl_ver(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	struct tls_hello h;
	int r = hello(c, &h);

	return r == 1 ? sint(s, h.hello_ver) : r;
}

static int f_ssl_sni(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	struct tls_hello h;
	int r = hello(c, &h);

	if (r != 1 || !h.sni)
		return r < 0 ? r : 0;
	s->type = SMP_STR;
	s->p = h.sni;
	s->len = h.sni_len;
	return 1;
}

/* req.ssl_alpn: each protocol name the client offers, in its order (an ACL
 * matches when one of them does; a sample expression sees the first), as
 * HAProxy's multi-valued fetch. s->idx says which one. */
static int f_ssl_alpn(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	struct tls_hello h;
	int r = hello(c, &h), k = 0;
	size_t pos = 0;

	if (r != 1 || !h.alpn)
		return r < 0 ? r : 0;
	while (pos < h.alpn_len) {
		size_t l = h.alpn[pos];
		if (l == 0 || l > h.alpn_len - pos - 1)
			return 0;
		if (k++ == s->idx) {
			s->type = SMP_STR;
			s->p = h.alpn + pos + 1;
			s->len = l;
			s->not_last = pos + 1 + l < h.alpn_len;
			return 1;
		}
		pos += 1 + l;
	}
	return 0;
}

/* ---- the PROXY header received (accept-proxy, expect-proxy) --------------- */

static int f_fc_rcvd_proxy(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	s->type = SMP_BOOL;
	s->i = c->pp != NULL;
	return 1;
}

static int pp_str(const uint8_t *p, size_t len, struct sample *s)
{
	if (!p)
		return 0;
	s->type = SMP_STR;
	s->p = p;
	s->len = len;
	return 1;
}

static int f_fc_pp_authority(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return c->pp ? pp_str(c->pp->authority, c->pp->authority_len, s) : 0;
}

static int f_fc_pp_unique_id(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	return c->pp ? pp_str(c->pp->unique_id, c->pp->unique_id_len, s) : 0;
}

/* fc_pp_tlv(<type>): the value of the first TLV of that type (0..255), as
 * HAProxy 2.9 (2.6 has no such fetch). */
static int f_fc_pp_tlv(const struct rarg *a, const struct rule_ctx *c, struct sample *s)
{
	size_t pos = 0, len;
	const uint8_t *val;
	uint8_t type;

	if (!c->pp)
		return 0;
	while (pp_tlv_next(c->pp, &pos, &type, &val, &len))
		if (type == a[0].i) {
			s->type = SMP_BIN;
			s->p = val;
			s->len = len;
			return 1;
		}
	return 0;
}

#define L4 RF_USE_L4
#define CT RF_USE_CONTENT
#define TH (RF_USE_CONTENT | RF_TLS_HELLO)

static const struct fetch_def fetches[] = {
	{ "always_false", "", SMP_BOOL, L4, PM_BOOL, f_false },
	{ "always_true", "", SMP_BOOL, L4, PM_BOOL, f_true },
	{ "be_conn", "B", SMP_SINT, L4, PM_INT, f_be_conn },
	{ "connslots", "B", SMP_SINT, L4, PM_INT, f_connslots },
	{ "dst", "", SMP_IPV4, L4, PM_IP, f_dst },
	{ "dst_port", "", SMP_SINT, L4, PM_INT, f_dst_port },
	{ "fc_pp_authority", "", SMP_STR, L4, PM_STR, f_fc_pp_authority },
	{ "fc_pp_tlv", "I", SMP_BIN, L4, PM_BIN, f_fc_pp_tlv },
	{ "fc_pp_unique_id", "", SMP_STR, L4, PM_STR, f_fc_pp_unique_id },
	{ "fc_rcvd_proxy", "", SMP_BOOL, L4, PM_BOOL, f_fc_rcvd_proxy },
	{ "fe_conn", "", SMP_SINT, L4, PM_INT, f_fe_conn },
	{ "fe_id", "", SMP_SINT, L4, PM_INT, f_fe_id },
	{ "fe_name", "", SMP_STR, L4, PM_STR, f_fe_name },
	{ "nbsrv", "B", SMP_SINT, L4, PM_INT, f_nbsrv },
	{ "queue", "B", SMP_SINT, L4, PM_INT, f_queue },
	{ "req.len", "", SMP_SINT, CT, PM_INT, f_req_len },
	{ "req.payload", "II", SMP_BIN, CT, PM_BIN, f_payload },
	{ "req.payload_lv", "IIi", SMP_BIN, CT, PM_BIN, f_payload_lv },
	{ "req.proto_http", "", SMP_BOOL, CT, PM_BOOL, f_proto_http },
	{ "req.ssl_alpn", "", SMP_STR, TH, PM_STR, f_ssl_alpn },
	{ "req.ssl_hello_type", "", SMP_SINT, TH, PM_INT, f_ssl_hello_type },
	{ "req.ssl_sni", "", SMP_STR, TH, PM_STR, f_ssl_sni },
	{ "req.ssl_ver", "", SMP_SINT, TH, PM_INT, f_ssl_ver },
	{ "req_len", "", SMP_SINT, CT, PM_INT, f_req_len },
	{ "req_proto_http", "", SMP_BOOL, CT, PM_BOOL, f_proto_http },
	{ "req_ssl_hello_type", "", SMP_SINT, TH, PM_INT, f_ssl_hello_type },
	{ "req_ssl_sni", "", SMP_STR, TH, PM_STR, f_ssl_sni },
	{ "req_ssl_ver", "", SMP_SINT, TH, PM_INT, f_ssl_ver },
	{ "src", "", SMP_IPV4, L4, PM_IP, f_src },
	{ "src_is_local", "", SMP_BOOL, L4, PM_BOOL, f_src_is_local },
	{ "src_port", "", SMP_SINT, L4, PM_INT, f_src_port },
	{ "srv_is_up", "S", SMP_BOOL, L4, PM_BOOL, f_srv_is_up },
	{ NULL, NULL, 0, 0, 0, NULL }
};

const char *const fetch_names[] = {
	"always_false", "always_true", "be_conn", "connslots", "dst", "dst_port",
	"fc_pp_authority", "fc_pp_tlv", "fc_pp_unique_id", "fc_rcvd_proxy", "fe_conn",
	"fe_id", "fe_name", "nbsrv", "queue", "req.len", "req.payload", "req.payload_lv",
	"req.proto_http", "req.ssl_alpn", "req.ssl_hello_type", "req.ssl_sni", "req.ssl_ver",
	"req_len", "req_proto_http", "req_ssl_hello_type", "req_ssl_sni", "req_ssl_ver",
	"src", "src_is_local", "src_port", "srv_is_up",
	/* fetch_pg.c */
	"pg.application_name", "pg.cancel_request", "pg.database", "pg.param", "pg.protocol",
	"pg.ssl_request", "pg.user", NULL
};

const struct fetch_def *fetch_find(const char *name, size_t len)
{
	const struct fetch_def *f;

	for (f = fetches; f->name; f++)
		if (strlen(f->name) == len && !memcmp(f->name, name, len))
			return f;
	f = fetch_sc_find(name, len);
	return f ? f : fetch_pg_find(name, len);
}
