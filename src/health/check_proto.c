/* What HAProxy's option xxx-check rulesets read in a reply, beyond a
 * pattern: MySQL packets and an LDAP BindResponse, parsed field by field
 * (HAProxy's tcpcheck_mysql_expect_* and tcpcheck_ldap_expect_bindrsp), and
 * the text and code HAProxy logs from SMTP, Redis and PostgreSQL replies
 * (its "res.payload(...)" on-error and status-code expressions). */
#include "health/check.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define LDAP_NOT_V3 "Not LDAPv3 protocol"
#define LDAP_SEE_RFC "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9"

/* The text of b[0..n) from off up to a NUL, or to a CR or LF when
 * cut_crlf, into out. Returns what snprintf returns. */
static int text_at(const char *b, size_t n, size_t off, int cut_crlf, char *out, size_t olen)
{
	size_t end;

	if (off > n)
		off = n;
	for (end = off; end < n && b[end] && !(cut_crlf && (b[end] == '\r' || b[end] == '\n')); end++)
		;
	return snprintf(out, olen, "%.*s", (int)(end - off), b + off);
}

int proto_reply_info(struct check *c, const struct tcr *r, char *info, size_t ilen)
{
	const char *b = c->rbuf;
	size_t n = c->rlen, off = 4;

	if (r->flags & TCR_F_PG_ERROR) /* res.payload(6,0): the severity after 'E', length, 'S' */
		return text_at(b, n, 6, 0, info, ilen);
	if (!(r->flags & TCR_F_SMTP)) /* res.payload(0,0),cut_crlf */
		return text_at(b, n, 0, 1, info, ilen);
	/* status-code res.payload(0,3); on-error/on-success
	 * res.payload(4,0),ltrim(' '),cut_crlf */
	c->code = n >= 3 && isdigit((unsigned char)b[0]) && isdigit((unsigned char)b[1]) &&
		  isdigit((unsigned char)b[2]) ? (b[0] - '0') * 100 + (b[1] - '0') * 10 + (b[2] - '0') : 0;
	if (n < 4)
		return (info[0] = 0, 0);
	while (off < n && b[off] == ' ')
		off++;
	return text_at(b, n, off, 1, info, ilen);
}

static size_t le24(const unsigned char *p)
{
	return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16;
}

/* One MySQL packet at off: an ERR packet (0xff) fails with its error code
 * and message; anything else passes, with the greeting's server version as
 * info. A packet not all there yet waits, or is an invalid response. */
static enum check_eval mysql_packet(struct check *c, size_t off, int last_read, const char **status,
				    char *info, size_t ilen)
{
	const unsigned char *b = (const unsigned char *)c->rbuf;
	size_t n = c->rlen;

	if (n < off + 4 || n < off + 4 + le24(b + off)) {
		if (!last_read)
			return EVAL_WAIT;
		*status = "L7RSP"; /* truncated */
		return EVAL_FAIL;
	}
	if (b[off + 4] == 0xff) {
		*status = "L7STS";
		c->code = n >= off + 7 ? b[off + 5] | b[off + 6] << 8 : 0;
		text_at(c->rbuf, n, off + 7, 0, info, ilen); /* "#28000Access denied ..." as HAProxy */
		return EVAL_FAIL;
	}
	text_at(c->rbuf, n, 5, 0, info, ilen); /* "8.0.19": shown when it is the last rule */
	return EVAL_OK;
}

static uint32_t be_n(const unsigned char *p, size_t n)
{
	uint32_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

/* An LDAPv3 BindResponse for message 1: the LDAPMessage and bindResponse
 * lengths may take 1, 2 or 4 bytes (Active Directory uses 4), then
 * resultCode 0 is success; anything else is its code. */
static enum check_eval ldap_bind(struct check *c, int last_read, const char **status, char *info, size_t ilen)
{
	const unsigned char *b = (const unsigned char *)c->rbuf;
	size_t n = c->rlen, p = 1, nbytes = 0, msglen;

	if (n < 2)
		goto too_short;
	if (b[1] & 0x80) {
		nbytes = b[1] & 0x7f;
		if (nbytes != 2 && nbytes != 4)
			goto not_v3;
		if (n - 1 < 1 + nbytes)
			goto too_short;
		msglen = be_n(b + 2, nbytes);
	} else {
		msglen = b[1];
	}
	p += 1 + nbytes;
	if (n - p < msglen || n - p < 4)
		goto too_short;
	if (memcmp(b + p, "\x02\x01\x01\x61", 4)) /* messageID 1, bindResponse */
		goto not_v3;
	p += 4;
	if (p >= n)
		goto too_short;
	nbytes = b[p] & 0x80 ? b[p] & 0x7f : 0; /* the bindResponse's length, skipped */
	if (n - p < 1 + nbytes + 2 + 1)
		goto too_short;
	p += 1 + nbytes;
	if (memcmp(b + p, "\x0a\x01", 2)) /* resultCode: ENUMERATED */
		goto not_v3;
	c->code = b[p + 2];
	if (c->code) {
		*status = "L7STS";
		snprintf(info, ilen, "%s", LDAP_SEE_RFC);
		return EVAL_FAIL;
	}
	snprintf(info, ilen, "Success");
	return EVAL_OK;
not_v3:
	*status = "L7RSP";
	snprintf(info, ilen, "%s", LDAP_NOT_V3);
	return EVAL_FAIL;
too_short:
	if (!last_read)
		return EVAL_WAIT;
	*status = "L7RSP";
	return EVAL_FAIL;
}

enum check_eval proto_expect(struct check *c, const struct tcr *r, int last_read, const char **status,
			     char *info, size_t ilen)
{
	if (r->flags & TCR_F_LDAP_BIND)
		return ldap_bind(c, last_read, status, info, ilen);
	if (r->flags & TCR_F_MYSQL_OK) { /* the packet after the greeting */
		const unsigned char *b = (const unsigned char *)c->rbuf;
		return mysql_packet(c, c->rlen >= 3 ? 4 + le24(b) : 4, last_read, status, info, ilen);
	}
	return mysql_packet(c, 0, last_read, status, info, ilen);
}
