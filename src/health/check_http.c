/* option httpchk: the http-check rules run on the tcp-check engine
 * (check_tcp.c), as HAProxy runs them on its own; this file writes their
 * requests and judges the responses as HAProxy 2.6.12 does (compared
 * against it in tests/integration/test_httpchk.py): an unparsable response
 * is L7RSP with no info; a status, rstatus or hdr mismatch is L7STS with
 * the reason phrase; a body mismatch is L7RSP "HTTP content check did not
 * match"; with disable-on-404, a 404 from a running server passes
 * conditionally (L7OKC), whatever the expect rules say. */
#include "health/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/atomic.h"
#include "core/regex.h"
#include "health/httpmsg.h"

#define CHECK_BUFSIZE 16384 /* as check_tcp.c: HAProxy's tune.bufsize */

/* HAProxy's X-Haproxy-Server-State value (httpchk_build_status_header):
 * the state as the stats page words it, then address, port, name, node
 * (the host name: ferry ignores "node"), weight/usable weight of the
 * group in use, sessions and queue. */
static void state_value(const struct check *c, char *out, size_t len)
{
	const struct server *s = c->srv;
	const struct backend *be = s->be;
	const struct check_fsm *f = &c->fsm;
	const struct server *only;
	enum lb_group g = lb_group(be, &only);
	char addr[64] = "", node[256] = "";
	int top = f->rise + f->fall - 1, tot = 0, n;
	const char *st;

	if (s->up)
		st = (s->flags & SRV_F_STOPPING) ? (f->health == top ? "NOLB" : "NOLB %d/%d")
						 : (f->health == top ? "UP" : "UP %d/%d");
	else
		st = f->health ? "DOWN %d/%d" : "DOWN";
	n = snprintf(out, len, st, s->up ? f->health - f->rise + 1 : f->health, s->up ? f->fall : f->rise);
	addr_ip_str((const struct sockaddr *)&s->addr, addr, sizeof(addr));
	if (gethostname(node, sizeof(node) - 1))
		node[0] = 0;
	for (int i = 0; i < be->nsrv; i++)
		if (srv_usable(be->srv[i]) && lb_in_group(be, be->srv[i], g, only))
			tot += be->srv[i]->uweight;
	if (n >= 0 && (size_t)n < len)
		snprintf(out + n, len - (size_t)n,
			 "; address=%s; port=%d; name=%s/%s; node=%s; weight=%d/%d; scur=%d/%d; qcur=%d", addr,
			 s->port_omitted ? 0 : addr_port((const struct sockaddr *)&s->addr), be->name, s->name, node,
			 (s->flags & SRV_F_FDRAIN) ? 0 : s->uweight, tot, ATOMIC_LOAD(&s->cur_sess),
			 ATOMIC_LOAD(&be->cur_conns) - ATOMIC_LOAD(&be->q.len), ATOMIC_LOAD(&s->q.len));
}

size_t httpchk_request(struct check *c, const struct tcr *r, char *out, size_t cap)
{
	char state[600];

	c->http_head = r->http->meth && !strcmp(r->http->meth, "HEAD");
	if (c->pxcfg->httpchk & HTTPCHK_F_SENDSTATE)
		state_value(c, state, sizeof(state));
	return httpmsg_request(r->http, (c->pxcfg->httpchk & HTTPCHK_F_SENDSTATE) ? state : NULL, out, cap);
}

static int match_str(enum httpchk_m m, const struct rx *re, const char *pat, const char *s, size_t l, int icase)
{
	size_t pl = strlen(pat);
	int (*cmp)(const char *, const char *, size_t) = icase ? strncasecmp : strncmp;

	switch (m) {
	case HM_NONE:
		return 1;
	case HM_STR:
		return l == pl && !cmp(s, pat, l);
	case HM_BEG:
		return l >= pl && !cmp(s, pat, pl);
	case HM_END:
		return l >= pl && !cmp(s + l - pl, pat, pl);
	case HM_SUB:
		for (size_t i = 0; i + pl <= l; i++)
			if (!cmp(s + i, pat, pl))
				return 1;
		return 0;
	case HM_REG:
		return rx_match(re, s, l);
	}
	return 0;
}

/* expect hdr/fhdr: a header whose name matches (case aside; a regex sees
 * it lowercased, as HAProxy stores names) and, when a value pattern is
 * given, one of its comma-separated values (fhdr: the whole value). */
static int match_hdr(const struct tcr_http *h, const struct httpmsg_resp *resp)
{
	char name[256];

	for (int i = 0; i < resp->nhdr; i++) {
		const struct httpmsg_hdr *x = &resp->hdr[i];
		size_t nl = x->nl < sizeof(name) ? x->nl : sizeof(name) - 1, p = 0;
		for (size_t k = 0; k < nl; k++)
			name[k] = (char)((x->n[k] >= 'A' && x->n[k] <= 'Z') ? x->n[k] + 32 : x->n[k]);
		if (!match_str(h->hname_m, h->hname_re, h->hname, name, nl, 1))
			continue;
		if (h->hvalue_m == HM_NONE)
			return 1;
		while (p <= x->vl) {
			size_t s = p, e;
			if (h->full) {
				e = x->vl;
			} else {
				for (e = s; e < x->vl && x->v[e] != ','; e++)
					;
			}
			p = e + 1;
			while (s < e && (x->v[s] == ' ' || x->v[s] == '\t'))
				s++;
			while (e > s && (x->v[e - 1] == ' ' || x->v[e - 1] == '\t'))
				e--;
			if (match_str(h->hvalue_m, h->hvalue_re, h->hvalue, x->v + s, e - s, 0))
				return 1;
		}
	}
	return 0;
}

static int match_code(const struct tcr_http *h, int code)
{
	for (int i = 0; i < h->ncodes; i++)
		if (code >= h->codes[i][0] && code <= h->codes[i][1])
			return 1;
	return 0;
}

/* The body part of an expect: WAIT while it may still come. */
static enum check_eval body_match(const struct check *c, const struct tcr *r, const struct httpmsg_resp *resp,
				  int last_read, int *match, const char **desc)
{
	char *body = malloc(CHECK_BUFSIZE);
	int complete = 0;
	long n;

	if (!body)
		return EVAL_FAIL;
	n = httpmsg_body(c->rbuf, c->rlen, resp, body, CHECK_BUFSIZE, &complete);
	last_read |= complete;
	*match = 0;
	if (n <= 0) {
		free(body);
		if (n == 0 && !last_read)
			return EVAL_WAIT;
		*desc = n < 0 ? "" : "HTTP content check could not find a response body";
		return EVAL_FAIL;
	}
	if (!last_read && ((r->match == TCRM_STRING && (size_t)n < r->len) ||
			   (r->min_recv > 0 && n < r->min_recv))) {
		free(body);
		return EVAL_WAIT;
	}
	*match = r->match == TCRM_STRING ? memmem(body, (size_t)n, r->data, r->len) != NULL
					 : rx_match(r->re, body, (size_t)n);
	free(body);
	if (!*match && !last_read && r->min_recv == -1)
		return EVAL_WAIT;
	*desc = r->negate ? "HTTP check matched unwanted content" : "HTTP content check did not match";
	return EVAL_OK;
}

enum check_eval httpchk_expect(struct check *c, const struct tcr *r, const char *comment, int last_read,
			       const char **status, char *info, size_t ilen)
{
	struct httpmsg_resp *resp = malloc(sizeof(*resp));
	const char *desc = "", *dflt = "L7STS";
	char reason[256];
	enum check_eval ret = EVAL_FAIL;
	int match = 0, n;

	c->http404 = 0;
	last_read |= c->rlen >= CHECK_BUFSIZE;
	if (!resp)
		goto fail_rsp;
	switch (httpmsg_parse_head(c->rbuf, c->rlen, c->http_head, resp)) {
	case HMSG_MORE:
		if (!last_read) {
			ret = EVAL_WAIT;
			goto out;
		}
		/* fall through: the head never completed */
	case HMSG_BAD:
		goto fail_rsp;
	case HMSG_DONE:
		break;
	}
	c->code = resp->status;
	if ((c->pxcfg->httpchk & HTTPCHK_F_404) && c->srv->up && resp->status == 404) {
		c->http404 = 1; /* a stopping server: the expect rules do not apply */
		ret = EVAL_OK;
		goto out;
	}
	snprintf(reason, sizeof(reason), "%.*s", (int)resp->reason_len, resp->reason);
	switch (r->match) {
	case TCRM_STATUS:
		match = match_code(r->http, resp->status);
		desc = reason;
		break;
	case TCRM_RSTATUS: {
		char code[16];
		int l = snprintf(code, sizeof(code), "%d", resp->status);
		match = rx_match(r->re, code, (size_t)l);
		desc = reason;
		break;
	}
	case TCRM_HDR:
		match = match_hdr(r->http, resp);
		desc = reason;
		break;
	default: /* string, rstring: the body */
		dflt = "L7RSP";
		ret = body_match(c, r, resp, last_read, &match, &desc);
		if (ret == EVAL_WAIT)
			goto out;
		if (ret == EVAL_FAIL)
			match = r->negate; /* no body: a failure either way */
		break;
	}
	if (match ^ r->negate) {
		ret = EVAL_OK;
		goto out;
	}
	*status = r->err_status ? r->err_status : dflt;
	ret = EVAL_FAIL;
	goto describe;
fail_rsp:
	*status = "L7RSP";
	desc = "";
	ret = EVAL_FAIL;
describe:
	/* HAProxy's order: on-error when set, else the description; then the comment */
	n = snprintf(info, ilen, "%s", r->on_error ? r->on_error : desc);
	if (comment && n >= 0 && (size_t)n < ilen)
		snprintf(info + n, ilen - (size_t)n, " comment: %s", comment);
out:
	free(resp);
	return ret;
}
