/* HTTP/1 requests and responses of health checks (see httpmsg.h). The
 * request is what HAProxy 2.6.12 puts on the wire, captured from it: its
 * check builds an HTX message (header names lowercased, "Connection:
 * close" unless a Connection header was given, a Content-Length only with
 * a body or for methods other than OPTIONS, GET, HEAD and DELETE), then
 * its H1 multiplexer writes it: "close" and "keep-alive" tokens leave the
 * Connection header, and the connection mode is said once at the end of
 * the headers, only where HTTP/1.0 or 1.1 would not imply it. */
#include "health/httpmsg.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct out {
	char *p;
	size_t n, cap;
	int full;
};

static void put(struct out *o, const char *s, size_t len)
{
	if (o->full || len > o->cap - o->n) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->n, s, len);
	o->n += len;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void header(struct out *o, const char *name, const char *value, size_t vlen)
{
	for (const char *c = name; *c; c++) {
		char l = (char)tolower((unsigned char)*c);
		put(o, &l, 1);
	}
	put(o, ": ", 2);
	put(o, value, vlen);
	put(o, "\r\n", 2);
}

/* The version's HTTP/1.1-ness: the check's start line flag counts
 * "HTTP/2" too, the multiplexer's only 8-character versions. */
static int ver_11(const char *v, int check_side)
{
	size_t l = strlen(v);

	if (check_side && l == 6 && v[5] == '2')
		return 1;
	return l == 8 && (v[5] > '1' || (v[5] == '1' && v[7] >= '1'));
}

#define CONN_CLO 1
#define CONN_KAL 2
#define CONN_UPG 4

/* A Connection header's value without its close/keep-alive tokens (the
 * multiplexer says those itself); *flags learns what it held. */
static size_t clean_connection(const char *v, char *out, size_t cap, int *flags)
{
	size_t n = 0;

	while (*v) {
		const char *s = v, *e;
		size_t l;
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		for (e = s; *e && *e != ','; e++)
			;
		v = e;
		for (l = (size_t)(e - s); l && (s[l - 1] == ' ' || s[l - 1] == '\t'); l--)
			;
		if (!l)
			continue;
		if (l == 10 && !strncasecmp(s, "keep-alive", 10)) {
			*flags |= CONN_KAL;
			continue;
		}
		if (l == 5 && !strncasecmp(s, "close", 5)) {
			*flags |= CONN_CLO;
			continue;
		}
		if (l == 7 && !strncasecmp(s, "upgrade", 7))
			*flags |= CONN_UPG;
		if (n + l + 1 >= cap)
			break;
		if (n)
			out[n++] = ',';
		memcpy(out + n, s, l);
		n += l;
	}
	return n;
}

size_t httpmsg_request(const struct tcr_http *h, const char *state, char *out, size_t cap)
{
	const char *meth = h->meth ? h->meth : "OPTIONS", *uri = h->uri ? h->uri : "/";
	const char *ver = h->ver ? h->ver : "HTTP/1.0";
	size_t blen = h->body ? strlen(h->body) : 0;
	struct out o = { .p = out, .cap = cap };
	/* method names as HAProxy knows them: case matters ("get" is another one) */
	int clen = blen > 0 || (strcmp(meth, "OPTIONS") && strcmp(meth, "GET") && strcmp(meth, "HEAD") &&
				strcmp(meth, "DELETE"));
	int flags = 0, user_conn = 0;
	char tmp[512];

	puts_(&o, meth);
	put(&o, " ", 1);
	puts_(&o, uri);
	put(&o, " ", 1);
	puts_(&o, ver_11(ver, 1) ? "HTTP/1.1" : ver);
	put(&o, "\r\n", 2);
	for (int i = 0; i < h->nhdrs; i++) {
		const char *n = h->hdrs[2 * i], *v = h->hdrs[2 * i + 1];
		if (!*v)
			continue;
		if (!strcasecmp(n, "connection")) {
			size_t l = clean_connection(v, tmp, sizeof(tmp), &flags);
			user_conn = 1;
			if (l)
				header(&o, n, tmp, l);
		} else if (!strcasecmp(n, "te")) { /* only "trailers" may go to a server */
			if (strstr(v, "trailers"))
				header(&o, n, "trailers", 8);
		} else {
			header(&o, n, v, strlen(v));
		}
	}
	if (state)
		header(&o, "x-haproxy-server-state", state, strlen(state));
	if (!user_conn)
		flags |= CONN_CLO;
	if (clen) {
		int l = snprintf(tmp, sizeof(tmp), "%zu", blen);
		header(&o, "content-length", tmp, (size_t)l);
	}
	if (!(flags & CONN_UPG)) {
		int v11 = ver_11(ver, 0);
		if ((flags & CONN_CLO) && v11)
			header(&o, "connection", "close", 5);
		else if (!(flags & CONN_CLO) && !v11)
			header(&o, "connection", "keep-alive", 10);
	}
	put(&o, "\r\n", 2);
	if (blen)
		put(&o, h->body, blen);
	return o.full ? 0 : o.n;
}

/* ---- the response --------------------------------------------------------- */

/* The line at *pos: its end (CR removed) in *lend; *pos moves past the LF.
 * Returns 0, or -1 when no LF is there yet. */
static int line_at(const char *b, size_t len, size_t *pos, size_t *lend)
{
	const char *lf = memchr(b + *pos, '\n', len - *pos);
	size_t e;

	if (!lf)
		return -1;
	e = (size_t)(lf - b);
	*lend = e > *pos && b[e - 1] == '\r' ? e - 1 : e;
	*pos = e + 1;
	return 0;
}

static int is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int status_line(const char *b, size_t e, struct httpmsg_resp *r)
{
	size_t i = 9, d = 0;

	if (e < 10 || memcmp(b, "HTTP/", 5) || !isdigit((unsigned char)b[5]) || b[6] != '.' ||
	    !isdigit((unsigned char)b[7]) || b[8] != ' ')
		return -1;
	r->status = 0;
	for (; i < e && isdigit((unsigned char)b[i]) && d < 7; i++, d++)
		r->status = r->status * 10 + (b[i] - '0');
	if (!d || (i < e && b[i] != ' '))
		return -1;
	r->reason = i < e ? b + i + 1 : b + e;
	r->reason_len = i < e ? e - i - 1 : 0;
	for (size_t k = 0; k < r->reason_len; k++)
		if (r->reason[k] == 0)
			return -1;
	return 0;
}

/* Content-Length: one number, or the same one repeated ("5, 5"). */
static int content_length(const char *v, size_t vl, struct httpmsg_resp *r, int *seen)
{
	size_t i = 0;

	while (i < vl) {
		uint64_t n = 0;
		size_t d = 0;
		while (i < vl && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i == vl)
			break;
		for (; i < vl && isdigit((unsigned char)v[i]); i++, d++) {
			if (d >= 18)
				return -1;
			n = n * 10 + (uint64_t)(v[i] - '0');
		}
		if (!d || (*seen && n != r->clen))
			return -1;
		while (i < vl && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i < vl && v[i] != ',')
			return -1;
		r->clen = n;
		*seen = 1;
	}
	return *seen ? 0 : -1;
}

static int ends_with_chunked(const char *v, size_t vl)
{
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	return vl >= 7 && !strncasecmp(v + vl - 7, "chunked", 7) &&
	       (vl == 7 || v[vl - 8] == ',' || v[vl - 8] == ' ' || v[vl - 8] == '\t');
}

enum httpmsg_ret httpmsg_parse_head(const char *b, size_t len, int head_req, struct httpmsg_resp *r)
{
	size_t pos = 0, e;
	int seen_cl = 0, te = 0, chunked = 0;

	memset(r, 0, sizeof(*r));
	if (line_at(b, len, &pos, &e))
		return len >= 5 && memcmp(b, "HTTP/", 5) ? HMSG_BAD : HMSG_MORE;
	if (status_line(b, e, r))
		return HMSG_BAD;
	for (;;) {
		size_t start = pos, colon, vs, ve;
		if (line_at(b, len, &pos, &e))
			return HMSG_MORE;
		if (e == start)
			break;
		if (b[start] == ' ' || b[start] == '\t' || r->nhdr == HTTPMSG_MAXHDR)
			return HMSG_BAD; /* folded lines are not taken; too many headers */
		for (colon = start; colon < e && is_tchar((unsigned char)b[colon]); colon++)
			;
		if (colon == start || colon == e || b[colon] != ':')
			return HMSG_BAD;
		for (vs = colon + 1; vs < e && (b[vs] == ' ' || b[vs] == '\t'); vs++)
			;
		for (ve = e; ve > vs && (b[ve - 1] == ' ' || b[ve - 1] == '\t'); ve--)
			;
		for (size_t k = vs; k < ve; k++)
			if (b[k] == 0 || b[k] == '\r')
				return HMSG_BAD;
		r->hdr[r->nhdr] = (struct httpmsg_hdr){ b + start, b + vs, colon - start, ve - vs };
		r->nhdr++;
		if (colon - start == 14 && !strncasecmp(b + start, "content-length", 14)) {
			if (content_length(b + vs, ve - vs, r, &seen_cl))
				return HMSG_BAD;
		} else if (colon - start == 17 && !strncasecmp(b + start, "transfer-encoding", 17)) {
			te = 1;
			chunked = ends_with_chunked(b + vs, ve - vs);
		}
	}
	r->body_off = pos;
	if (head_req || r->status < 200 || r->status == 204 || r->status == 304)
		r->body = HB_NONE;
	else if (te)
		r->body = chunked ? HB_CHUNKED : HB_CLOSE;
	else
		r->body = seen_cl ? HB_CLEN : HB_CLOSE;
	return HMSG_DONE;
}

static void copy_out(char *out, size_t cap, size_t *n, const char *s, size_t l)
{
	if (l > cap - *n)
		l = cap - *n;
	memcpy(out + *n, s, l);
	*n += l;
}

/* A chunked body from b[pos..len): what is there of it, decoded. */
static long chunked_body(const char *b, size_t len, size_t pos, char *out, size_t cap, int *complete)
{
	size_t n = 0, e;

	for (;;) {
		size_t start = pos, i;
		uint64_t sz = 0;
		if (line_at(b, len, &pos, &e))
			return (long)n; /* size line not all there */
		for (i = start; i < e && isxdigit((unsigned char)b[i]); i++) {
			if (i - start >= 15)
				return -1;
			sz = sz * 16 + (uint64_t)(isdigit((unsigned char)b[i]) ? b[i] - '0' : (tolower((unsigned char)b[i]) - 'a' + 10));
		}
		if (i == start || (i < e && b[i] != ';' && b[i] != ' ' && b[i] != '\t'))
			return -1;
		if (!sz) { /* trailers, then an empty line */
			for (;;) {
				size_t ts = pos;
				if (line_at(b, len, &pos, &e))
					return (long)n;
				if (e == ts) {
					*complete = 1;
					return (long)n;
				}
			}
		}
		if (len - pos < sz) {
			copy_out(out, cap, &n, b + pos, len - pos);
			return (long)n;
		}
		copy_out(out, cap, &n, b + pos, (size_t)sz);
		pos += (size_t)sz;
		if (len - pos < 1 || (b[pos] == '\r' && len - pos < 2))
			return (long)n;
		if (b[pos] == '\r')
			pos++;
		if (b[pos] != '\n')
			return -1;
		pos++;
	}
}

long httpmsg_body(const char *b, size_t len, const struct httpmsg_resp *r, char *out, size_t cap, int *complete)
{
	size_t avail = len > r->body_off ? len - r->body_off : 0, n = 0;

	*complete = 0;
	switch (r->body) {
	case HB_NONE:
		*complete = 1;
		return 0;
	case HB_CLEN:
		if (avail >= r->clen) {
			avail = (size_t)r->clen;
			*complete = 1;
		}
		copy_out(out, cap, &n, b + r->body_off, avail);
		return (long)n;
	case HB_CLOSE:
		copy_out(out, cap, &n, b + r->body_off, avail);
		return (long)n;
	case HB_CHUNKED:
		return chunked_body(b, len, r->body_off, out, cap, complete);
	}
	return -1;
}
