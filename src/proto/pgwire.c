/* PostgreSQL wire protocol at the edge of a connection (see pgwire.h).
 * Written from the "Message Formats" chapter of the protocol docs and the
 * checks of ProcessStartupPacket in PostgreSQL's
 * src/backend/tcop/backend_startup.c: the same length bounds, the same
 * parameter layout rule (the terminator is the last byte), the same "no
 * user" refusal, and the same "database defaults to user". */
#include "proto/pgwire.h"

#include <string.h>

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static int refuse(struct pg_first *m, const char *why)
{
	m->reason = why;
	return -1;
}

/* Whether a length word whose first k bytes (k < 4) are buf[0..k) can still
 * come out between 8 and PG_STARTUP_MAX. */
static int length_prefix_ok(const uint8_t *buf, size_t k)
{
	uint32_t lo = 0;

	if (k == 0)
		return 1;
	for (size_t i = 0; i < k; i++)
		lo = lo << 8 | buf[i];
	lo <<= 8 * (4 - k);          /* the smallest length these bytes can start */
	return lo <= PG_STARTUP_MAX; /* the largest one is always >= 8 when k < 4 */
}

/* Checks the name\0value\0 ... \0 body of a StartupMessage (p[0..n), the
 * bytes after the version word) the way ProcessStartupPacket does: pairs
 * until an empty name, and that empty name must be the message's last
 * byte. Sets m->params/params_len. */
static int startup_params(const uint8_t *p, size_t n, struct pg_first *m)
{
	size_t off = 0;

	for (;;) {
		const uint8_t *z;
		size_t vo;

		if (off >= n)
			return refuse(m, "startup parameters without a terminator");
		if (p[off] == 0) {
			if (off != n - 1)
				return refuse(m, "startup packet: terminator is not the last byte");
			break;
		}
		z = memchr(p + off, 0, n - off);
		if (!z)
			return refuse(m, "startup parameter name not NUL-terminated");
		vo = (size_t)(z - p) + 1;
		if (vo >= n)
			return refuse(m, "startup parameter without a value");
		z = memchr(p + vo, 0, n - vo);
		if (!z)
			return refuse(m, "startup parameter value not NUL-terminated");
		off = (size_t)(z - p) + 1;
	}
	m->params = (const char *)p;
	m->params_len = n - 1;
	{
		const char *user = pg_startup_param(m, "user");
		if (!user || !*user)
			return refuse(m, "no PostgreSQL user name in startup packet");
	}
	return 1;
}

int pg_first_parse(const uint8_t *buf, size_t n, struct pg_first *m)
{
	uint32_t len, code;

	memset(m, 0, sizeof(*m));
	if (n >= 1 && buf[0] == 0x16) {
		/* a TLS record; as a length word it would be far over the limit */
		if (n < 2)
			return 0;
		if (buf[1] != 0x03)
			return refuse(m, "invalid length of startup packet");
		m->kind = PG_FIRST_TLS;
		return 1;
	}
	if (n < 4)
		return length_prefix_ok(buf, n) ? 0 : refuse(m, "invalid length of startup packet");
	len = be32(buf);
	/* PostgreSQL bounds the length without its own 4 bytes (up to 10004
	 * in all); pgwire.h bounds the whole message: 4 bytes stricter */
	if (len < 8 || len > PG_STARTUP_MAX)
		return refuse(m, "invalid length of startup packet");
	if (n < 8)
		return 0;
	code = be32(buf + 4);
	m->len = len;
	switch (code) {
	case PG_CODE_SSL:
	case PG_CODE_GSSENC:
		/* stricter than PostgreSQL, which reads and ignores extra bytes:
		 * libpq sends exactly 8 */
		if (len != 8)
			return refuse(m, code == PG_CODE_SSL ? "SSLRequest length is not 8"
							     : "GSSENCRequest length is not 8");
		m->kind = code == PG_CODE_SSL ? PG_FIRST_SSL : PG_FIRST_GSSENC;
		return 8;
	case PG_CODE_CANCEL:
		if (len < 12 + 4 || len > 12 + PG_CANCEL_KEY_MAX)
			return refuse(m, "invalid length of cancel request");
		if (n < len)
			return 0;
		m->kind = PG_FIRST_CANCEL;
		m->pid = be32(buf + 8);
		m->key = buf + 12;
		m->key_len = len - 12;
		return (int)len;
	default:
		if (code >> 16 != 3) {
			m->proto = code; /* for the refusal's sentence */
			return refuse(m, "unsupported frontend protocol");
		}
		if (n < len)
			return 0;
		m->kind = PG_FIRST_STARTUP;
		m->proto = code;
		if (startup_params(buf + 8, len - 8, m) < 0)
			return -1;
		return (int)len;
	}
}

/* The value of the last pair named name (PostgreSQL keeps the last one),
 * or NULL. */
static const char *find_param(const struct pg_first *m, const char *name)
{
	const char *p = m->params, *end, *found = NULL;

	if (!p)
		return NULL;
	end = p + m->params_len;
	while (p < end) {
		const char *nz = memchr(p, 0, (size_t)(end - p));
		const char *v, *vz;

		if (!nz || nz + 1 >= end)
			break;
		v = nz + 1;
		vz = memchr(v, 0, (size_t)(end - v));
		if (!vz)
			break;
		if (strcmp(p, name) == 0)
			found = v;
		p = vz + 1;
	}
	return found;
}

const char *pg_startup_param(const struct pg_first *m, const char *name)
{
	const char *v = find_param(m, name);

	/* ProcessStartupPacket: "The database defaults to the user name."
	 * (missing or empty) */
	if (strcmp(name, "database") == 0 && (!v || !*v))
		return find_param(m, "user");
	return v;
}

/* The length of msg cut to at most max bytes, backing off to the start of
 * a UTF-8 sequence the cut would split. */
static size_t cut_utf8(const char *msg, size_t max)
{
	size_t n = strnlen(msg, max + 1);

	if (n <= max)
		return n;
	n = max;
	/* msg[n] is the first byte left out: while it continues a sequence,
	 * the sequence started inside what is kept; drop its head too (at most
	 * 3 bytes back: a UTF-8 sequence is at most 4 bytes) */
	for (size_t back = 0; back < 3 && n > 0 && ((uint8_t)msg[n] & 0xC0) == 0x80; back++)
		n--;
	if (((uint8_t)msg[n] & 0xC0) == 0x80)
		return max; /* not UTF-8 after all: cut at max */
	return n;
}

size_t pg_error_build(uint8_t *out, size_t cap, const char *severity, const char *sqlstate,
		      const char *msg)
{
	size_t sl = strlen(severity), cl = strlen(sqlstate), ml = cut_utf8(msg, 200);
	size_t total = 1 + 4 + 2 * (1 + sl + 1) + (1 + cl + 1) + (1 + ml + 1) + 1;
	uint8_t *p = out;

	if (total > cap)
		return 0;
	*p++ = 'E';
	p = put32(p, (uint32_t)(total - 1));
	*p++ = 'S';
	memcpy(p, severity, sl + 1);
	p += sl + 1;
	*p++ = 'V'; /* the non-localized severity, as PostgreSQL >= 9.6 sends */
	memcpy(p, severity, sl + 1);
	p += sl + 1;
	*p++ = 'C';
	memcpy(p, sqlstate, cl + 1);
	p += cl + 1;
	*p++ = 'M';
	memcpy(p, msg, ml);
	p += ml;
	*p++ = 0;
	*p++ = 0;
	return (size_t)(p - out);
}

size_t pg_cancel_build(uint8_t *out, size_t cap, uint32_t pid, const uint8_t *key, size_t key_len)
{
	size_t total = 12 + key_len;
	uint8_t *p = out;

	if (key_len < 4 || key_len > PG_CANCEL_KEY_MAX || total > cap)
		return 0;
	p = put32(p, (uint32_t)total);
	p = put32(p, PG_CODE_CANCEL);
	p = put32(p, pid);
	memcpy(p, key, key_len);
	return total;
}

void pg_scan_init(struct pg_scan *sc)
{
	memset(sc, 0, sizeof(*sc));
}

static enum pg_scan_res scan_end(struct pg_scan *sc, enum pg_scan_res r)
{
	sc->done = (int)r;
	return r;
}

/* A message header is complete in sc->hdr: starts its body, or ends the
 * scan. */
static enum pg_scan_res scan_header(struct pg_scan *sc)
{
	uint32_t len = be32(sc->hdr + 1);

	sc->type = sc->hdr[0];
	if (len < 4)
		return scan_end(sc, PG_SCAN_DONE);
	if (sc->type == 'Z' || sc->type == 'E')
		return scan_end(sc, PG_SCAN_DONE); /* ready or refused, and no key came first */
	sc->body_len = len - 4;
	sc->left = sc->body_len;
	sc->got = 0;
	if (sc->type == 'K' && (sc->body_len < 4 + 4 || sc->body_len > 4 + PG_CANCEL_KEY_MAX))
		return scan_end(sc, PG_SCAN_DONE);
	return PG_SCAN_MORE;
}

enum pg_scan_res pg_scan_feed(struct pg_scan *sc, const uint8_t *p, size_t n)
{
	while (!sc->done && n > 0) {
		size_t k;

		if (sc->nhdr < sizeof(sc->hdr)) {
			k = sizeof(sc->hdr) - sc->nhdr;
			if (k > n)
				k = n;
			memcpy(sc->hdr + sc->nhdr, p, k);
			sc->nhdr = (uint8_t)(sc->nhdr + k);
			p += k;
			n -= k;
			if (sc->nhdr < sizeof(sc->hdr) || scan_header(sc) != PG_SCAN_MORE)
				continue;
		}
		k = sc->left < n ? sc->left : n;
		if (sc->type == 'K') {
			memcpy(sc->body + sc->got, p, k);
			sc->got += (uint32_t)k;
		}
		sc->left -= (uint32_t)k;
		p += k;
		n -= k;
		if (sc->left > 0)
			continue;
		if (sc->type == 'K') {
			sc->pid = be32(sc->body);
			sc->key_len = sc->body_len - 4;
			memcpy(sc->key, sc->body + 4, sc->key_len);
			return scan_end(sc, PG_SCAN_KEY);
		}
		sc->nhdr = 0; /* the next message */
	}
	return (enum pg_scan_res)sc->done;
}
