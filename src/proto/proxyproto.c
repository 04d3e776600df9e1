/* PROXY protocol v1/v2 parser and builders (see proxyproto.h). Written from
 * doc/proxy-protocol.txt, with the limits and choices of HAProxy 2.6's
 * conn_recv_proxy and make_proxy_line where the spec leaves room. */
#include "proto/proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

const uint8_t pp_v2_sig[PP_V2_SIG_LEN] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

static const char v1_sig[] = "PROXY ";

static int fail(struct pp_info *out, const char *why)
{
	out->reason = why;
	return -1;
}

/* Whether the first n bytes of buf (n < full) agree with the first bytes of
 * sig: a header that is still arriving. */
static int prefix_of(const uint8_t *buf, size_t n, const void *sig)
{
	return memcmp(buf, sig, n) == 0;
}

/* ---- version 1 ---- */

/* Parses a port: 1 to 5 digits (leading zeros allowed, as HAProxy's
 * read_uint), at most 65535. Returns it, or -1. */
static int v1_port(const char *s, size_t n)
{
	unsigned v = 0;

	if (n < 1 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v > 65535 ? -1 : (int)v;
}

/* One address of a TCP4/TCP6 line into ss (with port 0). */
static int v1_addr(const char *s, size_t n, int af, struct sockaddr_storage *ss)
{
	char tmp[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		return inet_pton(AF_INET, tmp, &in->sin_addr) == 1 ? 0 : -1;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		return inet_pton(AF_INET6, tmp, &in6->sin6_addr) == 1 ? 0 : -1;
	}
}

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* The line between "PROXY " and the CR: line[0..n). */
static int v1_line(const char *line, size_t n, struct pp_info *out)
{
	const char *f[5];
	size_t fl[5];
	int nf = 0, af, sp, dp;
	size_t i = 0;

	if (n >= 7 && !memcmp(line, "UNKNOWN", 7) && (n == 7 || line[7] == ' ')) {
		/* the spec: anything may follow UNKNOWN up to the CRLF */
		out->family = PP_FAM_UNSPEC;
		return 0;
	}
	/* exactly five fields separated by single spaces */
	while (nf < 5) {
		size_t st = i;
		while (i < n && line[i] != ' ')
			i++;
		f[nf] = line + st;
		fl[nf++] = i - st;
		if (i == n)
			break;
		i++; /* the space */
	}
	if (nf != 5 || i != n)
		return fail(out, "malformed PROXY v1 line");
	if (fl[0] == 4 && !memcmp(f[0], "TCP4", 4))
		af = AF_INET;
	else if (fl[0] == 4 && !memcmp(f[0], "TCP6", 4))
		af = AF_INET6;
	else
		return fail(out, "unknown protocol in PROXY v1 line");
	if (v1_addr(f[1], fl[1], af, &out->src) || v1_addr(f[2], fl[2], af, &out->dst))
		return fail(out, "bad address in PROXY v1 line");
	sp = v1_port(f[3], fl[3]);
	dp = v1_port(f[4], fl[4]);
	if (sp < 0 || dp < 0)
		return fail(out, "bad port in PROXY v1 line");
	set_port(&out->src, sp);
	set_port(&out->dst, dp);
	out->family = af == AF_INET ? PP_FAM_INET : PP_FAM_INET6;
	return 0;
}

static int parse_v1(const uint8_t *buf, size_t len, struct pp_info *out)
{
	size_t lim = len < PP_V1_MAX ? len : PP_V1_MAX;

	out->version = 1;
	out->command = PP_CMD_PROXY;
	out->transport = 1;
	for (size_t i = 6; i < lim; i++) {
		uint8_t c = buf[i];
		if (c == '\r') {
			if (i + 2 > PP_V1_MAX)
				return fail(out, "PROXY v1 line longer than 107 bytes");
			if (i + 1 == len)
				return 0; /* the LF is on its way */
			if (buf[i + 1] != '\n')
				return fail(out, "malformed PROXY v1 line");
			if (v1_line((const char *)buf + 6, i - 6, out))
				return -1;
			return (int)(i + 2);
		}
		/* what a v1 line may hold: letters of TCP4/TCP6/UNKNOWN, digits,
		 * hex, dots, colons, spaces */
		if (c < 0x20 || c > 0x7e)
			return fail(out, "malformed PROXY v1 line");
	}
	if (len >= PP_V1_MAX)
		return fail(out, "PROXY v1 line longer than 107 bytes");
	return 0;
}

/* ---- version 2 ---- */

static int v2_tlvs(const uint8_t *hdr, size_t total, size_t off, struct pp_info *out)
{
	out->tlvs = hdr + off;
	out->tlvs_len = total - off;
	while (off < total) {
		size_t vl;
		const uint8_t *v;
		if (total - off < 3)
			return fail(out, "truncated TLV in PROXY v2 header");
		vl = (size_t)hdr[off + 1] << 8 | hdr[off + 2];
		v = hdr + off + 3;
		if (vl > total - off - 3)
			return fail(out, "TLV longer than the PROXY v2 header");
		switch (hdr[off]) {
		case PP2_TYPE_CRC32C: {
			static const uint8_t zero[4];
			uint32_t want, got;
			if (vl != 4)
				return fail(out, "CRC32C TLV is not 4 bytes");
			want = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
			got = crc32c_update(0, hdr, (size_t)(v - hdr));
			got = crc32c_update(got, zero, 4);
			got = crc32c_update(got, v + 4, total - (size_t)(v + 4 - hdr));
			if (got != want)
				return fail(out, "CRC32C mismatch in PROXY v2 header");
			out->crc32c_checked = 1;
			break;
		}
		case PP2_TYPE_AUTHORITY:
			if (vl > PP_AUTHORITY_MAX)
				return fail(out, "AUTHORITY TLV longer than 255 bytes");
			out->authority = v;
			out->authority_len = vl;
			break;
		case PP2_TYPE_UNIQUE_ID:
			if (vl > PP_UNIQUE_ID_MAX)
				return fail(out, "UNIQUE_ID TLV longer than 128 bytes");
			out->unique_id = v;
			out->unique_id_len = vl;
			break;
		case PP2_TYPE_ALPN:
			out->alpn = v;
			out->alpn_len = vl;
			break;
		default:
			break;
		}
		off += 3 + vl;
	}
	return 0;
}

static void v2_inet(const uint8_t *a, int af, struct pp_info *out)
{
	if (af == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&out->src, *d = (struct sockaddr_in *)&out->dst;
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src, *d = (struct sockaddr_in6 *)&out->dst;
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
	}
}

static void v2_unix(const uint8_t *a, struct pp_info *out)
{
	struct sockaddr_un *s = (struct sockaddr_un *)&out->src, *d = (struct sockaddr_un *)&out->dst;

	s->sun_family = d->sun_family = AF_UNIX;
	memcpy(s->sun_path, a, sizeof(s->sun_path));
	memcpy(d->sun_path, a + 108, sizeof(d->sun_path));
}

static int parse_v2(const uint8_t *buf, size_t len, struct pp_info *out)
{
	static const size_t addr_len[4] = { 0, 12, 36, 216 };
	size_t total, alen;
	unsigned fam, tr;

	out->version = 2;
	if (len < PP_V2_HDR_LEN)
		return 0;
	if ((buf[12] >> 4) != 2)
		return fail(out, "unsupported PROXY protocol version");
	if ((buf[12] & 0xf) > 1)
		return fail(out, "unknown command in PROXY v2 header");
	total = PP_V2_HDR_LEN + ((size_t)buf[14] << 8 | buf[15]);
	if (total > PP_V2_MAX)
		return fail(out, "PROXY v2 header longer than 16384 bytes");
	out->command = (buf[12] & 0xf) ? PP_CMD_PROXY : PP_CMD_LOCAL;
	fam = buf[13] >> 4;
	tr = buf[13] & 0xf;
	if (out->command == PP_CMD_PROXY && (fam > 3 || tr > 2))
		return fail(out, "unknown address family in PROXY v2 header");
	if (len < total)
		return 0;
	if (out->command == PP_CMD_LOCAL) /* as HAProxy: the rest is skipped */
		return (int)total;
	out->family = (enum pp_fam)fam;
	out->transport = (int)tr;
	alen = addr_len[fam];
	if (total - PP_V2_HDR_LEN < alen)
		return fail(out, "PROXY v2 address block too short");
	if (fam == 1 || fam == 2)
		v2_inet(buf + PP_V2_HDR_LEN, fam == 1 ? AF_INET : AF_INET6, out);
	else if (fam == 3)
		v2_unix(buf + PP_V2_HDR_LEN, out);
	if (v2_tlvs(buf, total, PP_V2_HDR_LEN + alen, out))
		return -1;
	return (int)total;
}

int pp_parse(const uint8_t *buf, size_t len, struct pp_info *out)
{
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return 0;
	if (buf[0] == 'P') {
		if (len < 6)
			return prefix_of(buf, len, v1_sig) ? 0 : fail(out, "not a PROXY protocol header");
		if (memcmp(buf, v1_sig, 6))
			return fail(out, "not a PROXY protocol header");
		return parse_v1(buf, len, out);
	}
	if (len < PP_V2_SIG_LEN)
		return prefix_of(buf, len, pp_v2_sig) ? 0 : fail(out, "not a PROXY protocol header");
	if (memcmp(buf, pp_v2_sig, PP_V2_SIG_LEN))
		return fail(out, "not a PROXY protocol header");
	return parse_v2(buf, len, out);
}

int pp_tlv_next(const struct pp_info *pi, size_t *pos, uint8_t *type, const uint8_t **val, size_t *len)
{
	size_t p = *pos, vl;

	if (!pi->tlvs || p + 3 > pi->tlvs_len)
		return 0;
	vl = (size_t)pi->tlvs[p + 1] << 8 | pi->tlvs[p + 2];
	if (vl > pi->tlvs_len - p - 3)
		return 0;
	*type = pi->tlvs[p];
	*val = pi->tlvs + p + 3;
	*len = vl;
	*pos = p + 3 + vl;
	return 1;
}

/* ---- builders ---- */

static int is_inet(const struct sockaddr *sa)
{
	return sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6);
}

/* sa as 16 bytes of IPv6 (IPv4 mapped to ::ffff:a.b.c.d) and its port
 * (network order). */
static void as_v6(const struct sockaddr *sa, uint8_t a[16], uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &in->sin_addr, 4);
		*port = in->sin_port;
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(a, &in6->sin6_addr, 16);
		*port = in6->sin6_port;
	}
}

size_t pp_build_v1(uint8_t *out, size_t cap, const struct sockaddr *src, const struct sockaddr *dst)
{
	char line[PP_V1_MAX + 1], s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int n;

	if (!is_inet(src) || !is_inet(dst)) {
		n = snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
	} else if (src->sa_family == AF_INET && dst->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)src, *b = (const struct sockaddr_in *)dst;
		inet_ntop(AF_INET, &a->sin_addr, s, sizeof(s));
		inet_ntop(AF_INET, &b->sin_addr, d, sizeof(d));
		n = snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n", s, d, ntohs(a->sin_port),
			     ntohs(b->sin_port));
	} else {
		uint8_t a[16], b[16];
		uint16_t ap, bp;
		as_v6(src, a, &ap);
		as_v6(dst, b, &bp);
		inet_ntop(AF_INET6, a, s, sizeof(s));
		inet_ntop(AF_INET6, b, d, sizeof(d));
		n = snprintf(line, sizeof(line), "PROXY TCP6 %s %s %u %u\r\n", s, d, ntohs(ap), ntohs(bp));
	}
	if (n < 0 || (size_t)n > cap)
		return 0;
	memcpy(out, line, (size_t)n);
	return (size_t)n;
}

/* Appends a TLV at out[*n]; returns 0, or -1 when it does not fit. */
static int put_tlv(uint8_t *out, size_t cap, size_t *n, uint8_t type, const uint8_t *v, size_t vl)
{
	if (vl > 0xffff || cap - *n < 3 + vl)
		return -1;
	out[*n] = type;
	out[*n + 1] = (uint8_t)(vl >> 8);
	out[*n + 2] = (uint8_t)vl;
	if (vl)
		memcpy(out + *n + 3, v, vl);
	*n += 3 + vl;
	return 0;
}

size_t pp_build_v2(uint8_t *out, size_t cap, const struct pp_v2_args *a)
{
	static const uint8_t zero[4];
	size_t n = PP_V2_HDR_LEN, crc_at = 0;

	if (cap < PP_V2_HDR_LEN)
		return 0;
	memcpy(out, pp_v2_sig, PP_V2_SIG_LEN);
	if (!is_inet(a->src) || !is_inet(a->dst)) {
		out[12] = 0x20;            /* v2, LOCAL */
		out[13] = 0x00;            /* UNSPEC, UNSPEC */
	} else if (a->src->sa_family == AF_INET && a->dst->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)a->src;
		const struct sockaddr_in *d = (const struct sockaddr_in *)a->dst;
		if (cap < n + 12)
			return 0;
		out[12] = 0x21;            /* v2, PROXY */
		out[13] = 0x11;            /* INET, STREAM */
		memcpy(out + 16, &s->sin_addr, 4);
		memcpy(out + 20, &d->sin_addr, 4);
		memcpy(out + 24, &s->sin_port, 2);
		memcpy(out + 26, &d->sin_port, 2);
		n += 12;
	} else {
		uint16_t sp, dp;
		if (cap < n + 36)
			return 0;
		out[12] = 0x21;
		out[13] = 0x21;            /* INET6, STREAM */
		as_v6(a->src, out + 16, &sp);
		as_v6(a->dst, out + 32, &dp);
		memcpy(out + 48, &sp, 2);
		memcpy(out + 50, &dp, 2);
		n += 36;
	}
	if (a->opts & PP_O_CRC32C) {
		crc_at = n + 3;
		if (put_tlv(out, cap, &n, PP2_TYPE_CRC32C, zero, 4))
			return 0;
	}
	if (a->alpn && put_tlv(out, cap, &n, PP2_TYPE_ALPN, a->alpn, a->alpn_len))
		return 0;
	if ((a->opts & PP_O_AUTHORITY) && a->authority &&
	    put_tlv(out, cap, &n, PP2_TYPE_AUTHORITY, a->authority, a->authority_len))
		return 0;
	if ((a->opts & PP_O_UNIQUE_ID) && a->unique_id &&
	    put_tlv(out, cap, &n, PP2_TYPE_UNIQUE_ID, a->unique_id, a->unique_id_len))
		return 0;
	if (a->opts & PP_O_SSL) {
		static const uint8_t not_tls[5]; /* client flags 0, verify 0 */
		if (put_tlv(out, cap, &n, PP2_TYPE_SSL, not_tls, sizeof(not_tls)))
			return 0;
	}
	if (n - PP_V2_HDR_LEN > 0xffff)
		return 0;
	out[14] = (uint8_t)((n - PP_V2_HDR_LEN) >> 8);
	out[15] = (uint8_t)(n - PP_V2_HDR_LEN);
	if (crc_at) {
		uint32_t c = crc32c_update(0, out, n);
		out[crc_at] = (uint8_t)(c >> 24);
		out[crc_at + 1] = (uint8_t)(c >> 16);
		out[crc_at + 2] = (uint8_t)(c >> 8);
		out[crc_at + 3] = (uint8_t)c;
	}
	return n;
}
