/* TLS ClientHello parser (src/proto/tls_hello.c): a real hello from
 * openssl, hand-built ones split over records, every truncation, SSLv2
 * hellos, and malformed input, all ending against a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto/tls_hello.h"
#include "guard.h"

/* openssl s_client -servername db.example.com -alpn h2,http/1.1 (OpenSSL 3), captured */
static const uint8_t real_hello[] = {
	0x16, 0x03, 0x01, 0x01, 0x4d, 0x01, 0x00, 0x01, 0x49, 0x03, 0x03, 0xeb,
	0xb0, 0x3a, 0xae, 0x3e, 0xd8, 0x0e, 0xd4, 0x1b, 0x34, 0xde, 0xf9, 0x39,
	0x21, 0xf9, 0xc8, 0xb3, 0xa6, 0x3c, 0xb1, 0x8c, 0xa7, 0x9e, 0xff, 0x74,
	0xca, 0x54, 0x6c, 0x4e, 0x6f, 0x79, 0x9c, 0x20, 0xf6, 0xd2, 0x56, 0x8a,
	0x90, 0x1f, 0xd0, 0x51, 0xd6, 0x06, 0xb3, 0x9c, 0x6e, 0x07, 0x09, 0x9f,
	0xc8, 0xd7, 0x25, 0xa3, 0xf1, 0x2c, 0x71, 0xfb, 0x7d, 0xa7, 0xde, 0x16,
	0xfc, 0x2e, 0xaf, 0x61, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01,
	0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
	0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b,
	0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
	0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d,
	0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xc2,
	0x00, 0x00, 0x00, 0x13, 0x00, 0x11, 0x00, 0x00, 0x0e, 0x64, 0x62, 0x2e,
	0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00,
	0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00,
	0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01,
	0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00,
	0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32, 0x08, 0x68,
	0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00, 0x00, 0x00,
	0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05,
	0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08,
	0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06,
	0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06,
	0x02, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02,
	0x03, 0x01, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26,
	0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0xbf, 0x90, 0xcb, 0x08, 0x37, 0x29,
	0xe6, 0x42, 0xdf, 0x9b, 0xad, 0xa0, 0x7f, 0x4b, 0x8a, 0xf3, 0x21, 0x75,
	0x37, 0x30, 0x50, 0x06, 0x82, 0x99, 0x8b, 0x8f, 0xcf, 0xbd, 0xba, 0x09,
	0xa0, 0x0a,
};

static int parse(const void *p, size_t n, struct tls_hello *h)
{
	return tls_hello_parse(guarded(p, n), n, h);
}

/* A ClientHello handshake message (header included) with the given
 * extensions block (NULL: none at all). Returns its length. */
static size_t make_hello(uint8_t *out, const uint8_t *ext, size_t elen, int with_ext)
{
	size_t n = 4;
	out[n++] = 3;
	out[n++] = 3;                  /* client_version TLS 1.2 */
	memset(out + n, 0xAB, 32);     /* random */
	n += 32;
	out[n++] = 0;                  /* no session id */
	out[n++] = 0;
	out[n++] = 4;                  /* two cipher suites */
	out[n++] = 0x13; out[n++] = 0x01; out[n++] = 0xC0; out[n++] = 0x2F;
	out[n++] = 1;                  /* one compression method: null */
	out[n++] = 0;
	if (with_ext) {
		out[n++] = (uint8_t)(elen >> 8);
		out[n++] = (uint8_t)elen;
		memcpy(out + n, ext, elen);
		n += elen;
	}
	out[0] = 1;
	out[1] = (uint8_t)((n - 4) >> 16);
	out[2] = (uint8_t)((n - 4) >> 8);
	out[3] = (uint8_t)(n - 4);
	return n;
}

/* The handshake message hs[0..n) in TLS records of at most frag bytes each. */
static size_t in_records(uint8_t *out, const uint8_t *hs, size_t n, size_t frag)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += frag) {
		size_t k = n - i < frag ? n - i : frag;
		out[o++] = 0x16;
		out[o++] = 3;
		out[o++] = 1;
		out[o++] = (uint8_t)(k >> 8);
		out[o++] = (uint8_t)k;
		memcpy(out + o, hs + i, k);
		o += k;
	}
	return o;
}

/* server_name "a.example", ALPN h2 + http/1.1, supported_versions GREASE,
 * TLS 1.3, TLS 1.2, and an unknown extension. */
static const uint8_t exts[] = {
	0x00, 0x00, 0x00, 0x0E, 0x00, 0x0C, 0x00, 0x00, 0x09, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	0xFF, 0x01, 0x00, 0x01, 0x00,
	0x00, 0x10, 0x00, 0x0E, 0x00, 0x0C, 0x02, 'h', '2', 0x08, 'h', 't', 't', 'p', '/', '1', '.', '1',
	0x00, 0x2B, 0x00, 0x07, 0x06, 0x7A, 0x7A, 0x03, 0x04, 0x03, 0x03,
};

static void test_real_openssl_hello(void **st)
{
	struct tls_hello h;
	(void)st;
	assert_int_equal(parse(real_hello, sizeof(real_hello), &h), 1);
	assert_int_equal(h.hello_type, 1);
	assert_int_equal(h.record_ver, 0x0301);
	assert_int_equal(h.hello_ver, 0x0303);
	assert_int_equal(h.sni_len, 14);
	assert_memory_equal(h.sni, "db.example.com", 14);
	assert_int_equal(h.alpn_len, 12);
	assert_memory_equal(h.alpn, "\x02h2\x08http/1.1", 12);
	assert_int_equal(h.supported_versions_max, 0x0304);
	assert_int_equal(h.len, sizeof(real_hello));
	for (size_t i = 0; i < sizeof(real_hello); i++)
		if (parse(real_hello, i, &h) != 0)
			fail_msg("prefix of %zu bytes", i);
}

static void test_split_records(void **st)
{
	uint8_t hs[512], rec[2048];
	size_t n = make_hello(hs, exts, sizeof(exts), 1), frags[] = { 4096, 70, 45, 7, 1 };
	struct tls_hello h;
	(void)st;
	for (size_t f = 0; f < sizeof(frags) / sizeof(*frags); f++) {
		size_t r = in_records(rec, hs, n, frags[f]);
		assert_int_equal(parse(rec, r, &h), 1);
		assert_int_equal(h.len, r);
		assert_int_equal(h.supported_versions_max, 0x0304);
		if (frags[f] >= 70) { /* the name lies within one record */
			assert_non_null(h.sni);
			assert_memory_equal(h.sni, "a.example", 9);
		}
		if (frags[f] == 1) /* cut by record boundaries: not reported */
			assert_null(h.sni);
		for (size_t i = 0; i < r; i++)
			if (parse(rec, i, &h) != 0)
				fail_msg("frag %zu: prefix of %zu bytes", frags[f], i);
		/* bytes after the hello (the next record, application data) are not its concern */
		rec[r] = 0x17;
		assert_int_equal(parse(rec, r + 1, &h), 1);
	}
}

static void test_no_extensions(void **st)
{
	uint8_t hs[256], rec[512];
	size_t n = make_hello(hs, NULL, 0, 0), r = in_records(rec, hs, n, 4096);
	struct tls_hello h;
	(void)st;
	assert_int_equal(parse(rec, r, &h), 1);
	assert_null(h.sni);
	assert_null(h.alpn);
	assert_int_equal(h.supported_versions_max, 0);
}

static void test_bad(void **st)
{
	uint8_t hs[512], rec[1024];
	size_t n, r;
	struct tls_hello h;
	(void)st;
	assert_int_equal(parse("GET / HTTP/1.1\r\n", 16, &h), -1);
	assert_int_equal(parse("PROXY TCP4", 10, &h), -1);
	assert_int_equal(parse("\x17\x03\x03\x00\x10", 5, &h), -1); /* application data */
	assert_int_equal(parse("\x16\x02", 2, &h), -1);                /* record version 2.x */
	assert_int_equal(parse("\x16\x03\x01\x00\x00", 5, &h), -1);    /* empty record */
	assert_int_equal(parse("\x16\x03\x01\x48\x01", 5, &h), -1);    /* record > 2^14+2048 */
	assert_int_equal(parse("\x16\x03", 2, &h), 0);
	/* a ServerHello: not a ClientHello, its type still told */
	assert_int_equal(parse("\x16\x03\x03\x00\x30\x02\x00\x00\x2c", 9, &h), -1);
	assert_int_equal(h.hello_type, 2);
	/* a hello larger than HAProxy's buffer */
	assert_int_equal(parse("\x16\x03\x01\x40\x00\x01\x00\x40\x00", 9, &h), -1);
	/* the second record of a split hello is not a handshake record */
	n = make_hello(hs, exts, sizeof(exts), 1);
	r = in_records(rec, hs, n, 40);
	rec[45] = 0x17;
	assert_int_equal(parse(rec, r, &h), -1);
	/* an extension longer than the list; a server_name list shorter than its name */
	n = make_hello(hs, exts, sizeof(exts), 1);
	hs[n - sizeof(exts) + 3] = 0x40;
	r = in_records(rec, hs, n, 4096);
	assert_int_equal(parse(rec, r, &h), -1);
	n = make_hello(hs, exts, sizeof(exts), 1);
	hs[n - sizeof(exts) + 8] = 0x20; /* name length 32 in a list of 12 */
	r = in_records(rec, hs, n, 4096);
	assert_int_equal(parse(rec, r, &h), -1);
	/* session id of 33 */
	n = make_hello(hs, exts, sizeof(exts), 1);
	hs[4 + 2 + 32] = 33;
	r = in_records(rec, hs, n, 4096);
	assert_int_equal(parse(rec, r, &h), -1);
	/* every byte value at every position: a clean decision */
	n = make_hello(hs, exts, sizeof(exts), 1);
	r = in_records(rec, hs, n, 50);
	for (size_t i = 0; i < r; i++) {
		uint8_t keep = rec[i];
		for (int b = 0; b < 256; b++) {
			int rc;
			rec[i] = (uint8_t)b;
			rc = parse(rec, r, &h);
			assert_true(rc >= -1 && rc <= 1);
			if (rc == 1) {
				assert_true(h.len <= r);
				assert_true(!h.sni || (h.sni >= guard_base && h.sni + h.sni_len <= guard_base + guard_page));
			}
		}
		rec[i] = keep;
	}
}

/* An SSLv2-compatible ClientHello (RFC 5246 E.2), as old clients sent it. */
static void test_sslv2(void **st)
{
	uint8_t m[64];
	size_t n = 0, body;
	struct tls_hello h;
	(void)st;
	m[n++] = 0x80;
	m[n++] = 0;                    /* length, below */
	m[n++] = 0x01;                 /* CLIENT-HELLO */
	m[n++] = 3; m[n++] = 1;        /* version TLS 1.0 */
	m[n++] = 0; m[n++] = 6;        /* cipher specs: 2 x 3 bytes */
	m[n++] = 0; m[n++] = 0;        /* session id */
	m[n++] = 0; m[n++] = 16;       /* challenge */
	memset(m + n, 0x01, 6);
	n += 6;
	memset(m + n, 0x5A, 16);
	n += 16;
	body = n - 2;
	m[1] = (uint8_t)body;
	assert_int_equal(parse(m, n, &h), 1);
	assert_true(h.sslv2);
	assert_int_equal(h.hello_ver, 0x0301);
	assert_int_equal(h.record_ver, 0x0002);
	assert_int_equal(h.len, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(parse(m, i, &h), 0);
	m[10] = 15; /* challenge shorter than 16 */
	assert_int_equal(parse(m, n, &h), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_openssl_hello),
		cmocka_unit_test(test_split_records),
		cmocka_unit_test(test_no_extensions),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_sslv2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
