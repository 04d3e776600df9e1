/* DNS query builder and response parser (see dnsmsg.h). The parser reads
 * bytes from the network: each step checks what is left before reading,
 * compression pointers must go strictly backwards (so they cannot loop),
 * and names stop at 255 bytes on the wire, as RFC 1035 says. */
#include "dns/dnsmsg.h"

#include <string.h>

#define HDR_LEN 12
#define F_QR 0x8000     /* a response */
#define F_TC 0x0200     /* truncated */
#define F_RD 0x0100     /* recursion desired */
#define CLASS_IN 1

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int dns_name_norm(const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in);

	if (n && in[n - 1] == '.')
		n--;
	if (n + 1 > outlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] - 'A' + 'a') : in[i];
	out[n] = 0;
	return 0;
}

int dns_build_query(uint8_t *buf, size_t len, uint16_t id, const char *name, uint16_t qtype,
		    uint16_t payload)
{
	size_t nlen = strlen(name), off = HDR_LEN, wire = 1;
	const char *p = name, *end;
	int opt = payload > 512;

	if (nlen && name[nlen - 1] == '.')
		nlen--;
	end = name + nlen;
	if (!nlen || len < HDR_LEN + nlen + 2 + 4 + (opt ? 11 : 0))
		return -1;
	memset(buf, 0, HDR_LEN);
	wr16(buf, id);
	wr16(buf + 2, F_RD);
	wr16(buf + 4, 1);
	wr16(buf + 10, opt ? 1 : 0);
	while (p < end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t l = dot ? (size_t)(dot - p) : (size_t)(end - p);
		if (l == 0 || l > 63)
			return -1;
		wire += l + 1;
		if (wire > 255)
			return -1;
		buf[off++] = (uint8_t)l;
		memcpy(buf + off, p, l);
		off += l;
		p += l + (dot ? 1 : 0);
		if (dot && p == end)
			return -1; /* "a..": an empty last label */
	}
	buf[off++] = 0;
	wr16(buf + off, qtype);
	wr16(buf + off + 2, CLASS_IN);
	off += 4;
	if (opt) { /* root name, OPT, payload as class, ttl 0, no data */
		buf[off] = 0;
		wr16(buf + off + 1, DNS_T_OPT);
		wr16(buf + off + 3, payload);
		memset(buf + off + 5, 0, 6);
		off += 11;
	}
	return (int)off;
}

/* Reads the name at *off into out (DNS_NAME_LEN bytes, lower case, labels
 * joined by dots; the root is ""), and moves *off past it (past its first
 * pointer when compressed). Returns 0, or -1 when it is not a name we can
 * use: out of bounds, a pointer that does not go back, a label with a dot
 * or a byte that is not printable, over 255 bytes. */
static int read_name(const uint8_t *b, size_t len, size_t *off, char *out)
{
	/* cppcheck-suppress duplicateAssignExpression ; both start at the name */
	size_t pos = *off, lowest = *off, o = 0, wire = 1;
	int jumped = 0;

	for (;;) {
		uint8_t l;
		if (pos >= len)
			return -1;
		l = b[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t ptr;
			if (pos + 1 >= len)
				return -1;
			ptr = (size_t)(l & 0x3f) << 8 | b[pos + 1];
			/* strictly before every byte of the name read so far:
			 * each jump goes lower, so there are at most len of them */
			if (ptr < HDR_LEN || ptr >= lowest)
				return -1;
			if (!jumped)
				*off = pos + 2;
			jumped = 1;
			lowest = pos = ptr;
			continue;
		}
		if (l & 0xc0)
			return -1; /* 01 and 10: extended label types, unused */
		if (l == 0) {
			if (!jumped)
				*off = pos + 1;
			out[o] = 0;
			return 0;
		}
		wire += (size_t)l + 1;
		if (wire > 255 || pos + 1 + l > len)
			return -1;
		if (o)
			out[o++] = '.';
		for (size_t i = 0; i < l; i++) {
			uint8_t c = b[pos + 1 + i];
			if (c <= 0x20 || c >= 0x7f || c == '.')
				return -1;
			out[o++] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
		}
		pos += 1 + (size_t)l;
	}
}

/* Reads one resource record at *off (moved past it). Keeps it in out when
 * it is of a type we use and of the section kept; returns 1 when kept, 0
 * when skipped, -1 when malformed. */
static int read_rr(const uint8_t *b, size_t len, size_t *off, int section, struct dns_rr *out)
{
	size_t rd, rdlen;
	uint16_t type, cls;

	if (read_name(b, len, off, out->name))
		return -1;
	if (len - *off < 10)
		return -1;
	type = rd16(b + *off);
	cls = rd16(b + *off + 2);
	out->ttl = rd32(b + *off + 4);
	rdlen = rd16(b + *off + 8);
	rd = *off + 10;
	if (len - rd < rdlen)
		return -1;
	*off = rd + rdlen;
	if (section == 2 || (cls != CLASS_IN && type != DNS_T_OPT))
		return 0;
	out->type = type;
	out->section = (uint8_t)section;
	switch (type) {
	case DNS_T_A:
		if (rdlen != 4)
			return -1;
		memcpy(out->d.a4, b + rd, 4);
		return 1;
	case DNS_T_AAAA:
		if (rdlen != 16)
			return -1;
		memcpy(out->d.a6, b + rd, 16);
		return 1;
	case DNS_T_SRV: {
		size_t t = rd + 6;
		if (rdlen < 7)
			return -1;
		out->d.srv.prio = rd16(b + rd);
		out->d.srv.weight = rd16(b + rd + 2);
		out->d.srv.port = rd16(b + rd + 4);
		/* the target ends where the record does */
		if (read_name(b, rd + rdlen, &t, out->d.srv.target) || t != rd + rdlen)
			return -1;
		return 1;
	}
	case DNS_T_CNAME: {
		size_t t = rd;
		if (read_name(b, rd + rdlen, &t, out->d.cname) || t != rd + rdlen)
			return -1;
		return 1;
	}
	default:
		return 0;
	}
}

enum dns_status dns_parse_response(const uint8_t *buf, size_t len, uint16_t id, const char *name,
				   uint16_t qtype, struct dns_response *out)
{
	char want[DNS_NAME_LEN], qname[DNS_NAME_LEN];
	size_t off = HDR_LEN;
	unsigned flags, counts[4];
	struct dns_rr tmp;

	if (len < HDR_LEN)
		return DNS_S_INVALID;
	if (rd16(buf) != id)
		return DNS_S_WRONG_ID;
	flags = rd16(buf + 2);
	for (int i = 0; i < 4; i++)
		counts[i] = rd16(buf + 4 + 2 * i);
	if (!(flags & F_QR) || (flags & 0x7800) || counts[0] != 1)
		return DNS_S_INVALID; /* not a response to a standard query of one question */
	if (read_name(buf, len, &off, qname) || len - off < 4)
		return DNS_S_INVALID;
	if (dns_name_norm(name, want, sizeof(want)) || strcmp(want, qname) ||
	    rd16(buf + off) != qtype || rd16(buf + off + 2) != CLASS_IN)
		return DNS_S_WRONG_ID; /* an answer to another question */
	off += 4;
	/* as HAProxy 2.6: a truncated SRV answer is read for the records it
	 * has; a truncated A/AAAA one is an error (it asks no larger size) */
	if ((flags & F_TC) && qtype != DNS_T_SRV)
		return DNS_S_TRUNCATED;
	switch (flags & 0xf) {
	case 0: break;
	case 3: return DNS_S_NX;
	case 5: return DNS_S_REFUSED;
	default: return DNS_S_OTHER;
	}
	out->id = id;
	out->rcode = 0;
	out->nrr = 0;
	out->ndropped = 0;
	for (int s = 1; s <= 3; s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			struct dns_rr *rr = out->nrr < DNS_MAX_RR ? &out->rr[out->nrr] : &tmp;
			int r = read_rr(buf, len, &off, s, rr);
			if (r < 0)
				return DNS_S_INVALID;
			if (r && rr->type != DNS_T_OPT) {
				if (rr == &tmp)
					out->ndropped++;
				else
					out->nrr++;
			}
		}
	}
	return DNS_S_VALID;
}

enum dns_status dns_answer_chain(const struct dns_response *r, const char *name, int *ncname)
{
	char want[DNS_NAME_LEN];
	const char *cur = want;
	int first = 1, last_cname = 0;

	*ncname = 0;
	if (dns_name_norm(name, want, sizeof(want)))
		return DNS_S_INVALID;
	for (int i = 0; i < r->nrr; i++) {
		const struct dns_rr *rr = &r->rr[i];
		if (rr->section != DNS_SEC_ANSWER)
			continue;
		if (strcmp(rr->name, cur))
			return first ? DNS_S_INVALID : DNS_S_CNAME_ERROR;
		first = 0;
		last_cname = rr->type == DNS_T_CNAME;
		if (last_cname) {
			cur = rr->d.cname;
			(*ncname)++;
		}
	}
	return last_cname ? DNS_S_CNAME_ERROR : DNS_S_VALID;
}
