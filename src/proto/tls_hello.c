/* TLS ClientHello parser (see tls_hello.h). RFC 8446 section 4.1.2 and
 * RFC 5246 for the layout, RFC 6066 (server_name), RFC 7301 (ALPN), RFC
 * 5246 appendix E.2 for the SSLv2-compatible hello; the acceptance rules
 * of HAProxy 2.6's src/payload.c where they are stricter or laxer. */
#include "proto/tls_hello.h"

#include <string.h>

enum { OK = 0, MORE = 1, BAD = -1 };

/* A forward-only reader of the handshake bytes carried by consecutive
 * handshake records: it steps over record headers as it goes. */
struct cur {
	const uint8_t *buf;
	size_t len;                /* bytes received */
	size_t pos;                /* next handshake byte in buf */
	size_t rec_end;            /* end of the current record's fragment in buf */
	size_t left;               /* handshake bytes the reader may still take */
};

/* Steps into the next record when the current one is used up. */
static int next_record(struct cur *c)
{
	size_t rl;

	if (c->pos < c->rec_end)
		return OK;
	if (c->rec_end + 5 > TLS_HELLO_MAX)
		return BAD;
	if (c->len < c->rec_end + 1)
		return MORE;
	if (c->buf[c->rec_end] != 0x16)
		return BAD; /* the hello goes on in a record of another type */
	if (c->len < c->rec_end + 2)
		return MORE;
	if (c->buf[c->rec_end + 1] != 3)
		return BAD;
	if (c->len < c->rec_end + 5)
		return MORE;
	rl = (size_t)c->buf[c->rec_end + 3] << 8 | c->buf[c->rec_end + 4];
	if (rl == 0 || rl > TLS_RECORD_MAX)
		return BAD;
	c->pos = c->rec_end + 5;
	c->rec_end = c->pos + rl;
	if (c->rec_end > TLS_HELLO_MAX)
		return BAD;
	return OK;
}

/* Takes n handshake bytes. *p gets a pointer to them when they lie in one
 * fragment (NULL when a record boundary cuts them); with out, they are
 * also copied there. */
static int take(struct cur *c, size_t n, uint8_t *out, const uint8_t **p)
{
	int rc;

	if (n > c->left)
		return BAD; /* past the end of the message (or of the field) */
	c->left -= n;
	if (p)
		*p = NULL;
	if (n && (rc = next_record(c)) != OK)
		return rc;
	if (p && c->pos + n <= c->rec_end)
		*p = c->buf + c->pos;
	while (n) {
		size_t k;
		if ((rc = next_record(c)) != OK)
			return rc;
		k = c->rec_end - c->pos;
		if (k > n)
			k = n;
		if (c->pos + k > c->len) { /* not all arrived yet */
			if (c->pos + k > TLS_HELLO_MAX)
				return BAD;
			return MORE;
		}
		if (out) {
			memcpy(out, c->buf + c->pos, k);
			out += k;
		}
		c->pos += k;
		n -= k;
	}
	return OK;
}

static int u8(struct cur *c, unsigned *v)
{
	uint8_t b = 0; /* *v is 0 when the byte is not there yet */
	int rc = take(c, 1, &b, NULL);

	*v = b;
	return rc;
}

static int u16(struct cur *c, unsigned *v)
{
	uint8_t b[2] = { 0, 0 };
	int rc = take(c, 2, b, NULL);

	*v = (unsigned)b[0] << 8 | b[1];
	return rc;
}

#define TRY(x) do { int rc_ = (x); if (rc_ != OK) return rc_; } while (0)

/* server_name (RFC 6066): the first entry, when it is a host_name. */
static int ext_sni(struct cur *c, size_t elen, struct tls_hello *out)
{
	unsigned list, type, nlen;
	const uint8_t *p;
	size_t save = c->left;

	if (elen < 2)
		return BAD;
	c->left = elen;
	TRY(u16(c, &list));
	if (list + 2 != elen || list < 4) /* HAProxy: one entry of one byte at least */
		return BAD;
	TRY(u8(c, &type));
	TRY(u16(c, &nlen));
	if (nlen + 3 > list)
		return BAD;
	TRY(take(c, nlen, NULL, &p));
	if (type == 0 && !out->sni && p) {
		out->sni = p;
		out->sni_len = nlen;
	}
	TRY(take(c, c->left, NULL, NULL));
	c->left = save - elen;
	return OK;
}

static int ext_alpn(struct cur *c, size_t elen, struct tls_hello *out)
{
	unsigned list;
	const uint8_t *p;
	size_t save = c->left;

	if (elen < 2)
		return BAD;
	c->left = elen;
	TRY(u16(c, &list));
	if (list + 2 != elen)
		return BAD;
	TRY(take(c, list, NULL, &p));
	if (!out->alpn && p) {
		out->alpn = p;
		out->alpn_len = list;
	}
	c->left = save - elen;
	return OK;
}

static int ext_versions(struct cur *c, size_t elen, struct tls_hello *out)
{
	unsigned list, v;
	size_t save = c->left;

	if (elen < 1)
		return BAD;
	c->left = elen;
	TRY(u8(c, &list));
	if (list + 1 != elen || list % 2)
		return BAD;
	for (unsigned i = 0; i < list; i += 2) {
		TRY(u16(c, &v));
		if ((v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff))
			continue; /* GREASE (RFC 8701) */
		if (v > out->supported_versions_max)
			out->supported_versions_max = v;
	}
	c->left = save - elen;
	return OK;
}

/* The ClientHello body after the handshake header: c->left is its length. */
static int hello_body(struct cur *c, struct tls_hello *out)
{
	unsigned v, n;

	TRY(u16(c, &v));
	out->hello_ver = v;
	if ((v >> 8) != 3)
		return BAD; /* SSLv3 or TLS in a TLS record */
	TRY(take(c, 32, NULL, NULL));                   /* random */
	TRY(u8(c, &n));
	if (n > 32)
		return BAD;
	TRY(take(c, n, NULL, NULL));                    /* session id */
	TRY(u16(c, &n));
	if (n < 2 || n % 2)
		return BAD;
	TRY(take(c, n, NULL, NULL));                    /* cipher suites */
	TRY(u8(c, &n));
	if (n < 1)
		return BAD;
	TRY(take(c, n, NULL, NULL));                    /* compression methods */
	if (c->left == 0)
		return OK;                              /* no extensions (TLS 1.0 allows it) */
	TRY(u16(c, &n));
	if (n > c->left)
		return BAD;
	{
		size_t trailing = c->left - n;          /* HAProxy tolerates bytes after the list */
		c->left = n;
		while (c->left) {
			unsigned type, elen;
			TRY(u16(c, &type));
			TRY(u16(c, &elen));
			if (elen > c->left)
				return BAD;
			if (type == 0)
				TRY(ext_sni(c, elen, out));
			else if (type == 16)
				TRY(ext_alpn(c, elen, out));
			else if (type == 43)
				TRY(ext_versions(c, elen, out));
			else
				TRY(take(c, elen, NULL, NULL));
		}
		c->left = trailing;
	}
	return take(c, c->left, NULL, NULL);
}

/* An SSLv2-compatible ClientHello, checked as HAProxy's req.ssl_ver does. */
static int sslv2_hello(const uint8_t *buf, size_t len, struct tls_hello *out)
{
	size_t hl, rlen, plen, ci, si, ch, need;

	if (buf[0] & 0x80) {
		if (len < 3)
			return 0;
		rlen = ((size_t)(buf[0] & 0x7f) << 8) | buf[1];
		plen = 0;
		hl = 2;
	} else {
		if (len < 4)
			return 0;
		rlen = ((size_t)(buf[0] & 0x3f) << 8) | buf[1];
		plen = buf[2];
		hl = 3;
	}
	if (buf[hl] != 0x01)
		return -1;
	if (len < hl + 9)
		return 0;
	ci = (size_t)buf[hl + 3] << 8 | buf[hl + 4];
	si = (size_t)buf[hl + 5] << 8 | buf[hl + 6];
	ch = (size_t)buf[hl + 7] << 8 | buf[hl + 8];
	if (ci % 3 || (si && si != 16) || ch < 16 || ch > 32 || rlen != 9 + ci + si + ch)
		return -1;
	need = hl + 9 + ci + si + ch + plen;
	if (len < need)
		return 0;
	out->hello_type = 1;
	out->sslv2 = 1;
	out->record_ver = 0x0002;
	out->hello_ver = (unsigned)buf[hl + 1] << 8 | buf[hl + 2];
	out->len = need;
	return 1;
}

int tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *out)
{
	struct cur c = { .buf = buf, .len = len };
	uint8_t hh[4];
	size_t hs_len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return 0;
	if (buf[0] != 0x16)
		return (buf[0] >= 0x14 && buf[0] <= 0x17) || buf[0] == 0xff ? -1 : sslv2_hello(buf, len, out);
	if (len >= 2 && buf[1] != 3)
		return -1;
	if (len < 5)
		return 0;
	out->record_ver = (unsigned)buf[1] << 8 | buf[2];
	c.left = 4;
	rc = take(&c, 4, hh, NULL);
	if (rc != OK)
		return rc == MORE ? 0 : -1;
	out->hello_type = hh[0];
	if (hh[0] != 1)
		return -1;
	hs_len = (size_t)hh[1] << 16 | (size_t)hh[2] << 8 | hh[3];
	if (hs_len + 4 + 5 > TLS_HELLO_MAX)
		return -1;
	c.left = hs_len;
	rc = hello_body(&c, out);
	if (rc != OK) {
		struct tls_hello keep = { .hello_type = out->hello_type };
		if (rc == MORE) {
			*out = keep;
			return 0;
		}
		*out = keep;
		return -1;
	}
	out->len = c.pos;
	return 1;
}
