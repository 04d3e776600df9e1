/* log-format: HAProxy 2.6's grammar (its parse_logformat_string state
 * machine, read in its source and rewritten here), the variables that mean
 * something for TCP, and its way of printing each: "-" for a missing
 * value, "" when quoted, hexadecimal with +X where HAProxy has it, spaces
 * merged into one separator. */
#include "rules/logformat.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/addr.h"
#include "rules/rules_int.h"

#define LO_Q 0x1 /* +Q: quoted */
#define LO_X 0x2 /* +X: hexadecimal */
#define LO_E 0x4 /* +E: '"', '\' and ']' escaped */
#define LO_M 0x8 /* +M: "-" for a missing value (on by default, as HAProxy's log-format) */

enum lf_var {
	V_B, V_H, V_ID, V_ST, V_T, V_Tc, V_Td, V_Tl, V_Th, V_Ts, V_Tt, V_Tu, V_Tw, V_U,
	V_ac, V_b, V_bc, V_bi, V_bp, V_bq, V_ci, V_cp, V_f, V_fc, V_fi, V_fp, V_ft, V_lc,
	V_hr, V_hrl, V_hs, V_hsl, V_ms, V_pid, V_rc, V_rt, V_s, V_sc, V_si, V_sp, V_sq,
	V_sslc, V_sslv, V_t, V_ts, V_tsc, V_o, V_HTTP
};

static const struct { const char *name; enum lf_var v; unsigned use; } vars[] = {
	{ "o", V_o, 0 }, { "B", V_B, 0 }, { "H", V_H, LF_USE_HOST }, { "ID", V_ID, 0 },
	{ "ST", V_ST, 0 }, { "T", V_T, 0 }, { "Tc", V_Tc, 0 }, { "Td", V_Td, 0 },
	{ "Tl", V_Tl, 0 }, { "Th", V_Th, 0 }, { "Ts", V_Ts, 0 }, { "Tt", V_Tt, 0 },
	{ "Tu", V_Tu, 0 }, { "Tw", V_Tw, 0 }, { "U", V_U, 0 }, { "ac", V_ac, 0 },
	{ "b", V_b, 0 }, { "bc", V_bc, 0 }, { "bi", V_bi, LF_USE_BI }, { "bp", V_bp, LF_USE_BI },
	{ "bq", V_bq, 0 }, { "ci", V_ci, 0 }, { "cp", V_cp, 0 }, { "f", V_f, 0 },
	{ "fc", V_fc, 0 }, { "fi", V_fi, LF_USE_FI }, { "fp", V_fp, LF_USE_FI }, { "ft", V_ft, 0 },
	{ "lc", V_lc, 0 }, { "hr", V_hr, 0 }, { "hrl", V_hrl, 0 }, { "hs", V_hs, 0 },
	{ "hsl", V_hsl, 0 }, { "ms", V_ms, 0 }, { "pid", V_pid, 0 }, { "rc", V_rc, 0 },
	{ "rt", V_rt, LF_USE_RT }, { "s", V_s, 0 }, { "sc", V_sc, 0 }, { "si", V_si, 0 },
	{ "sp", V_sp, 0 }, { "sq", V_sq, 0 }, { "sslc", V_sslc, 0 }, { "sslv", V_sslv, 0 },
	{ "t", V_t, 0 }, { "ts", V_ts, 0 }, { "tsc", V_tsc, 0 },
	/* HTTP mode only: HAProxy refuses them in a TCP proxy */
	{ "CC", V_HTTP, 0 }, { "CS", V_HTTP, 0 }, { "HM", V_HTTP, 0 }, { "HP", V_HTTP, 0 },
	{ "HPO", V_HTTP, 0 }, { "HQ", V_HTTP, 0 }, { "HU", V_HTTP, 0 }, { "HV", V_HTTP, 0 },
	{ "Ta", V_HTTP, 0 }, { "Ti", V_HTTP, 0 }, { "Tq", V_HTTP, 0 }, { "TR", V_HTTP, 0 },
	{ "Tr", V_HTTP, 0 }, { "r", V_HTTP, 0 }, { "tr", V_HTTP, 0 }, { "trg", V_HTTP, 0 },
	{ "trl", V_HTTP, 0 },
};

enum node_kind { N_TEXT, N_SEP, N_VAR, N_EXPR };

struct lf_node {
	enum node_kind kind;
	enum lf_var var;
	unsigned opts;
	char *text;          /* N_TEXT */
	struct rexpr *e;     /* N_EXPR */
};

struct logfmt {
	struct lf_node *n;
	int nn;
	unsigned uses;
};

unsigned lf_uses(const struct logfmt *lf)
{
	return lf ? lf->uses : 0;
}

void lf_free(struct logfmt *lf)
{
	if (!lf)
		return;
	for (int i = 0; i < lf->nn; i++) {
		free(lf->n[i].text);
		if (lf->n[i].e) {
			expr_free(lf->n[i].e);
			free(lf->n[i].e);
		}
	}
	free(lf->n);
	free(lf);
}

/* ---- compiling -------------------------------------------------------------------- */

static struct lf_node *add(struct logfmt *lf, enum node_kind k)
{
	struct lf_node *v = realloc(lf->n, (size_t)(lf->nn + 1) * sizeof(*v));

	if (!v)
		abort();
	lf->n = v;
	memset(&v[lf->nn], 0, sizeof(*v));
	v[lf->nn].kind = k;
	return &v[lf->nn++];
}

static void add_text(struct logfmt *lf, const char *p, size_t len)
{
	struct lf_node *n;

	if (!len)
		return;
	n = add(lf, N_TEXT);
	n->text = strndup(p, len);
	if (!n->text)
		abort();
}

/* "+Q,-X,...": HAProxy's flags; an unknown one is ignored, as there. */
static unsigned apply_flags(unsigned opts, const char *a, size_t len)
{
	static const struct { char name; unsigned bit; } fl[] = {
		{ 'M', LO_M }, { 'Q', LO_Q }, { 'X', LO_X }, { 'E', LO_E },
	};
	size_t i = 0;

	while (i < len) {
		size_t j = i;
		while (j < len && a[j] != ',')
			j++;
		if (j - i == 2 && (a[i] == '+' || a[i] == '-'))
			for (size_t k = 0; k < sizeof(fl) / sizeof(fl[0]); k++)
				if (fl[k].name == a[i + 1])
					opts = a[i] == '+' ? opts | fl[k].bit : opts & ~fl[k].bit;
		i = j + 1;
	}
	return opts;
}

/* One "%..." at *pp (past the '%'). Returns 0 and moves *pp past it, or -1
 * with HAProxy's sentence in err. */
static int compile_var(struct rcomp *rc, struct logfmt *lf, const char *fmt, const char **pp,
		       unsigned *dflt, char *err, size_t errlen)
{
	const char *p = *pp, *arg = NULL;
	size_t arglen = 0;

	if (*p == '%') {
		add_text(lf, "%", 1);
		*pp = p + 1;
		return 0;
	}
	if (!*p) {
		snprintf(err, errlen, "truncated line after '%%'");
		return -1;
	}
	if (isdigit((unsigned char)*p) || *p == ' ' || *p == '\t') {
		snprintf(err, errlen,
			 "unexpected variable name near '%c' at position %d line : '%s'. Maybe you want to write a single '%%', use the syntax '%%%%'",
			 *p, (int)(p - fmt), fmt);
		return -1;
	}
	if (*p == '{') {
		const char *end = strchr(p + 1, '}');
		if (!end) {
			snprintf(err, errlen, "truncated line after '%s'", p + 1);
			return -1;
		}
		arg = p + 1;
		arglen = (size_t)(end - arg);
		p = end + 1;
		if (*p != '[' && !isalnum((unsigned char)*p)) {
			snprintf(err, errlen, "parse argument modifier without variable name near '%%{%.*s}'",
				 (int)arglen, arg);
			return -1;
		}
	} else if (*p != '[' && !isalpha((unsigned char)*p)) {
		*pp = p; /* HAProxy drops a lone '%' before any other character */
		return 0;
	}
	if (*p == '[') {
		const char *q = p + 1;
		int depth = 0;
		struct lf_node *n;
		char e2[900];
		while (*q && (depth || (*q != ']' && *q != ' '))) {
			depth += *q == '(' ? 1 : *q == ')' ? -1 : 0;
			q++;
		}
		if (*q != ']') {
			if (*q)
				snprintf(err, errlen, "expected ']' after '%.*s', but found '%c'", (int)(q - p - 1), p + 1, *q);
			else
				snprintf(err, errlen, "missing ']' after '%s'", p + 1);
			return -1;
		}
		n = add(lf, N_EXPR);
		n->opts = arg ? apply_flags(*dflt, arg, arglen) : *dflt;
		n->e = calloc(1, sizeof(*n->e));
		if (!n->e)
			abort();
		rc->raw_err = 0;
		if (expr_parse(rc, p + 1, (size_t)(q - p - 1), n->e, e2, sizeof(e2))) {
			/* HAProxy shows the rest of the string from there */
			snprintf(err, errlen, "failed to parse sample expression <%s> : %s", p + 1, e2);
			return -1;
		}
		lf->uses |= LF_USE_EXPR;
		if (n->e->f && (n->e->f->use & RF_USE_CONTENT))
			lf->uses |= LF_USE_REQ;
		*pp = q + 1;
		return 0;
	}
	{
		const char *v = p;
		size_t vl;
		while (isalnum((unsigned char)*p))
			p++;
		vl = (size_t)(p - v);
		for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
			if (strlen(vars[i].name) != vl || strncmp(vars[i].name, v, vl))
				continue;
			if (vars[i].v == V_HTTP) {
				snprintf(err, errlen, "format variable '%s' is reserved for HTTP mode", vars[i].name);
				return -1;
			}
			if (vars[i].v == V_o) { /* its flags go to every later variable */
				*dflt = arg ? apply_flags(*dflt, arg, arglen) : *dflt;
			} else {
				struct lf_node *n = add(lf, N_VAR);
				n->var = vars[i].v;
				n->opts = arg ? apply_flags(*dflt, arg, arglen) : *dflt;
				lf->uses |= vars[i].use;
			}
			*pp = p;
			return 0;
		}
		snprintf(err, errlen,
			 "no such format variable '%.*s'. If you wanted to emit the '%%' character verbatim, you need to use '%%%%'",
			 (int)vl, v);
		return -1;
	}
}

struct logfmt *lf_compile(struct rcomp *rc, const char *fmt)
{
	struct logfmt *lf = calloc(1, sizeof(*lf));
	unsigned dflt = LO_M;
	const char *p = fmt;
	char err[1200];

	if (!lf)
		abort();
	while (*p) {
		if (*p == ' ') {
			while (*p == ' ')
				p++;
			add(lf, N_SEP);
		} else if (*p == '%') {
			p++;
			if (compile_var(rc, lf, fmt, &p, &dflt, err, sizeof(err))) {
				cfg_error(rc->c, rc->file, rc->line, "failed to parse log-format : %s.", err);
				lf_free(lf);
				return NULL;
			}
		} else {
			size_t l = strcspn(p, " %");
			add_text(lf, p, l);
			p += l;
		}
	}
	return lf;
}

/* ---- rendering -------------------------------------------------------------------- */

struct out {
	char *p;
	size_t len, cap; /* cap: bytes usable, the NUL excluded */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (n > o->cap - o->len)
		n = o->cap - o->len;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void putc_(struct out *o, char c)
{
	put(o, &c, 1);
}

static void putf(struct out *o, const char *fmt, unsigned long long v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), fmt, v);

	put(o, b, (size_t)n);
}

static void put_int(struct out *o, long long v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%lld", v);

	put(o, b, (size_t)n);
}

/* HAProxy's lf_text_len: quoted, escaped, or "-" when missing. */
static void put_text(struct out *o, const char *s, size_t n, unsigned opts)
{
	if (opts & LO_Q)
		putc_(o, '"');
	if (s && n) {
		for (size_t i = 0; i < n; i++) {
			if ((opts & LO_E) && (s[i] == '"' || s[i] == '\\' || s[i] == ']'))
				putc_(o, '\\');
			putc_(o, s[i]);
		}
	} else if ((opts & (LO_Q | LO_M)) == LO_M) {
		putc_(o, '-');
	}
	if (opts & LO_Q)
		putc_(o, '"');
}

static void put_str(struct out *o, const char *s, unsigned opts)
{
	put_text(o, s, s ? strlen(s) : 0, opts);
}

static void put_ip(struct out *o, const struct sockaddr *sa, unsigned opts)
{
	char b[64];

	if (sa && sa->sa_family == AF_UNIX && !(opts & LO_X)) {
		put_str(o, "unix", opts); /* HAProxy's addr_to_str() */
		return;
	}
	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
		put_text(o, NULL, 0, opts);
		return;
	}
	if (opts & LO_X) {
		const uint8_t *a = sa->sa_family == AF_INET
					   ? (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr
					   : ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		for (int i = 0; i < (sa->sa_family == AF_INET ? 4 : 16); i++)
			putf(o, "%02llX", a[i]);
		return;
	}
	addr_ip_str(sa, b, sizeof(b));
	put_str(o, b, opts);
}

/* A unix socket's "port" is unix_port: HAProxy prints the listener's id
 * for the client side (%cp, %fp) and 0 for the server side. */
static void put_port(struct out *o, const struct sockaddr *sa, unsigned opts, int unix_port)
{
	int port;

	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6 && sa->sa_family != AF_UNIX)) {
		put_text(o, NULL, 0, opts);
		return;
	}
	port = sa->sa_family == AF_UNIX ? unix_port : addr_port(sa);
	if (opts & LO_X)
		putf(o, "%04llX", (unsigned)port);
	else
		put_int(o, port);
}

static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* %t (ms, local), %T (GMT, "+0000") and %Tl (local, its offset). */
static void put_date(struct out *o, const struct timespec *ts, enum lf_var v)
{
	struct tm tm;
	char b[64];
	int n;

	if (v == V_T)
		gmtime_r(&ts->tv_sec, &tm);
	else
		localtime_r(&ts->tv_sec, &tm);
	n = snprintf(b, sizeof(b), "%02d/%s/%04d:%02d:%02d:%02d", tm.tm_mday, mon[tm.tm_mon],
		     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (v == V_t) {
		n += snprintf(b + n, sizeof(b) - (size_t)n, ".%03ld", ts->tv_nsec / 1000000);
	} else if (v == V_T) {
		n += snprintf(b + n, sizeof(b) - (size_t)n, " +0000");
	} else {
		long off = tm.tm_gmtoff, a = off < 0 ? -off : off;
		n += snprintf(b + n, sizeof(b) - (size_t)n, " %c%02ld%02ld", off < 0 ? '-' : '+', a / 3600,
			      (a % 3600) / 60);
	}
	put(o, b, (size_t)n);
}

static void put_term(struct out *o, const char term[2], int cookie)
{
	putc_(o, term[0] ? term[0] : '-');
	putc_(o, term[1] ? term[1] : '-');
	if (cookie)
		put(o, "--", 2); /* no cookie in TCP */
}

static void render_var(struct out *o, const struct lf_node *n, const struct lf_data *d)
{
	unsigned x = n->opts & LO_X;

	switch (n->var) {
	case V_B: put_int(o, (long long)d->bytes_out); break;
	case V_U: put_int(o, (long long)d->bytes_in); break;
	case V_H: put_str(o, d->hostname, n->opts); break;
	case V_ID: /* no unique-id-format in ferry: empty, as HAProxy without one */
	case V_sslc: case V_sslv: /* no TLS termination */
		put_text(o, NULL, 0, n->opts);
		break;
	case V_ST: put_int(o, 0); break;
	case V_T: case V_Tl: case V_t: put_date(o, &d->accept_date, n->var); break;
	case V_Ts:
		if (x)
			putf(o, "%04llX", (unsigned long long)d->accept_date.tv_sec);
		else
			put_int(o, (long long)d->accept_date.tv_sec);
		break;
	case V_ms:
		if (x)
			putf(o, "%02llX", (unsigned long long)(d->accept_date.tv_nsec / 1000000));
		else
			putf(o, "%03llu", (unsigned long long)(d->accept_date.tv_nsec / 1000000));
		break;
	case V_Th: put_int(o, 0); break; /* no handshake is timed */
	case V_Tw: put_int(o, d->tw); break;
	case V_Tc: put_int(o, d->tc); break;
	case V_Td: put_int(o, d->tc < 0 ? -1 : d->tt - (d->tw > 0 ? d->tw : 0) - d->tc); break;
	case V_Tt: case V_Tu: put_int(o, d->tt); break;
	case V_ac: put_int(o, d->ac); break;
	case V_fc: put_int(o, d->fc); break;
	case V_bc: put_int(o, d->bc); break;
	case V_sc: put_int(o, d->sc); break;
	case V_sq: put_int(o, d->sq); break;
	case V_bq: put_int(o, d->bq); break;
	case V_rc:
		if (d->redisp)
			putc_(o, '+');
		put_int(o, d->retries);
		break;
	case V_b: put_str(o, d->be_name, n->opts); break;
	case V_f: put_str(o, d->fe_name, n->opts); break;
	case V_ft: /* HAProxy quotes it itself, and never escapes it */
		if (n->opts & LO_Q)
			putc_(o, '"');
		if (d->fe_name)
			put(o, d->fe_name, strlen(d->fe_name));
		if (n->opts & LO_Q)
			putc_(o, '"');
		break;
	case V_s: put_str(o, d->srv_name ? d->srv_name : "<NOSRV>", n->opts); break;
	case V_ci: put_ip(o, d->ci, n->opts); break;
	case V_cp: put_port(o, d->ci, n->opts, d->luid); break;
	case V_fi: put_ip(o, d->fi, n->opts); break;
	case V_fp: put_port(o, d->fi, n->opts, d->luid); break;
	case V_bi: put_ip(o, d->bi, n->opts); break;
	case V_bp: put_port(o, d->bi, n->opts, 0); break;
	case V_si: put_ip(o, d->si, n->opts); break;
	case V_sp: put_port(o, d->si, n->opts, 0); break;
	case V_hr: case V_hrl: case V_hs: case V_hsl: break; /* no captures in TCP: nothing at all */
	case V_pid:
		if (x)
			putf(o, "%04llX", (unsigned long long)d->pid);
		else
			put_int(o, d->pid);
		break;
	case V_rt: case V_lc: {
		unsigned v = n->var == V_rt ? d->rt : d->lc;
		if (x)
			putf(o, "%04llX", v);
		else
			put_int(o, v);
		break;
	}
	case V_ts: case V_tsc: put_term(o, d->term, n->var == V_tsc); break;
	case V_o: case V_HTTP: break;
	}
}

size_t lf_render(const struct logfmt *lf, const struct lf_data *d, const struct rule_ctx *ctx,
		 char *out, size_t cap)
{
	struct out o = { out, 0, cap ? cap - 1 : 0 };
	int last_space = 1; /* as HAProxy: no separator at the start, one between words */

	if (!cap)
		return 0;
	for (int i = 0; lf && i < lf->nn; i++) {
		const struct lf_node *n = &lf->n[i];
		switch (n->kind) {
		case N_SEP:
			if (!last_space)
				putc_(&o, ' ');
			last_space = 1;
			continue;
		case N_TEXT:
			put(&o, n->text, strlen(n->text));
			break;
		case N_VAR:
			render_var(&o, n, d);
			break;
		case N_EXPR: {
			struct sample s;
			if (ctx && expr_eval(n->e, ctx, &s) == 1 && !smp_cast(&s, SMP_STR))
				put_text(&o, (const char *)s.p, s.len, n->opts);
			else
				put_text(&o, NULL, 0, n->opts);
			break;
		}
		}
		last_space = 0;
	}
	out[o.len] = 0;
	return o.len;
}
