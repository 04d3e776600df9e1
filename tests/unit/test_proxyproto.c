/* PROXY protocol parser and builders (src/proto/proxyproto.c): every input
 * ends against a guard page; every truncation of a valid header is "more",
 * never an error or a header; malformed ones are refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <cmocka.h>

#include "proto/proxyproto.h"
#include "guard.h"

static int parse(const void *p, size_t n, struct pp_info *pi)
{
	return pp_parse(guarded(p, n), n, pi);
}

static struct sockaddr_in v4(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static struct sockaddr_in6 v6(const char *ip, int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	inet_pton(AF_INET6, ip, &a.sin6_addr);
	return a;
}

static void assert_addr(const struct sockaddr_storage *ss, const char *ip, int port)
{
	char buf[INET6_ADDRSTRLEN];
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(a->sin_port), port);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		assert_int_equal(ss->ss_family, AF_INET6);
		inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(a->sin6_port), port);
	}
	assert_string_equal(buf, ip);
}

/* Every strict prefix of a valid header of length n is "more" (0). */
static void assert_prefixes_wait(const uint8_t *h, size_t n)
{
	struct pp_info pi;
	for (size_t i = 0; i < n; i++) {
		int rc = parse(h, i, &pi);
		if (rc != 0)
			fail_msg("prefix of %zu bytes (of %zu): %d (%s)", i, n, rc, pi.reason ? pi.reason : "");
	}
}

static void test_crc32c_vector(void **st)
{
	(void)st;
	/* RFC 3720 B.4 / the usual check value of CRC-32C */
	assert_int_equal(crc32c_update(0, (const uint8_t *)"123456789", 9), 0xE3069283u);
	uint8_t zeros[32] = { 0 };
	assert_int_equal(crc32c_update(0, zeros, 32), 0x8A9136AAu);
	/* chained calls give the same as one */
	assert_int_equal(crc32c_update(crc32c_update(0, (const uint8_t *)"1234", 4), (const uint8_t *)"56789", 5),
			 0xE3069283u);
}

static void test_v1_tcp4(void **st)
{
	const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET";
	size_t hl = strlen(h) - 3;
	struct pp_info pi;
	(void)st;
	assert_int_equal(parse(h, strlen(h), &pi), (int)hl); /* payload glued after it is not taken */
	assert_int_equal(pi.version, 1);
	assert_int_equal(pi.command, PP_CMD_PROXY);
	assert_int_equal(pi.family, PP_FAM_INET);
	assert_addr(&pi.src, "192.0.2.1", 56324);
	assert_addr(&pi.dst, "198.51.100.2", 443);
	assert_prefixes_wait((const uint8_t *)h, hl);
}

static void test_v1_tcp6_unknown(void **st)
{
	const char *h = "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n";
	const char *u = "PROXY UNKNOWN\r\n";
	const char *u2 = "PROXY UNKNOWN ffff::1 ::1 1 2\r\n";
	/* the longest possible line (the spec's worst case): 107 bytes */
	const char *longest = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	struct pp_info pi;
	(void)st;
	assert_int_equal(parse(h, strlen(h), &pi), (int)strlen(h));
	assert_int_equal(pi.family, PP_FAM_INET6);
	assert_addr(&pi.src, "2001:db8::1", 1);
	assert_addr(&pi.dst, "::1", 65535);
	assert_int_equal(parse(u, strlen(u), &pi), (int)strlen(u));
	assert_int_equal(pi.family, PP_FAM_UNSPEC);
	assert_int_equal(pi.src.ss_family, 0);
	assert_int_equal(parse(u2, strlen(u2), &pi), (int)strlen(u2));
	assert_int_equal(pi.family, PP_FAM_UNSPEC);
	assert_int_equal(strlen(longest), 107);
	assert_int_equal(parse(longest, 107, &pi), 107);
	assert_prefixes_wait((const uint8_t *)longest, 107);
}

static void test_v1_bad(void **st)
{
	static const char *const bad[] = {
		"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",      /* unknown protocol */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",        /* a field missing */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",    /* one too many */
		"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",     /* two spaces */
		"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",    /* bad address */
		"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",          /* IPv6 in TCP4 */
		"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",          /* IPv4 in TCP6 */
		"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",  /* port out of range */
		"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r",      /* CR not followed by LF */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",        /* LF alone */
		"PROXY \r\n",
		"PROXY UNKNOWNX\r\n",
		"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",      /* case matters */
		"PROXX",
		"GET / HTTP/1.0\r\n",
		"\x16\x03\x01",                             /* a TLS record */
	};
	struct pp_info pi;
	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int rc = parse(bad[i], strlen(bad[i]), &pi);
		if (rc != -1)
			fail_msg("'%s': %d", bad[i], rc);
		assert_non_null(pi.reason);
	}
	/* 107 bytes and still no CRLF: refused, the 108th byte is not waited for */
	char big[200];
	memset(big, '1', sizeof(big));
	memcpy(big, "PROXY TCP4 ", 11);
	assert_int_equal(parse(big, 106, &pi), 0);
	assert_int_equal(parse(big, 107, &pi), -1);
	assert_string_equal(pi.reason, "PROXY v1 line longer than 107 bytes");
	/* a CRLF at bytes 107-108 makes a 108-byte line: too long too */
	big[106] = '\r';
	big[107] = '\n';
	assert_int_equal(parse(big, 108, &pi), -1);
	assert_int_equal(parse("", 0, &pi), 0);
}

static const uint8_t v2_hdr_v4[] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
	0x21, 0x11, 0x00, 0x0C,
	192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x01, 0xBB,
};

static void test_v2_known_bytes(void **st)
{
	struct sockaddr_in s = v4("192.0.2.1", 56324), d = v4("198.51.100.2", 443);
	struct pp_v2_args a = { .src = (struct sockaddr *)&s, .dst = (struct sockaddr *)&d };
	uint8_t out[256];
	struct pp_info pi;
	uint8_t glued[sizeof(v2_hdr_v4) + 4];
	(void)st;
	assert_int_equal(pp_build_v2(out, sizeof(out), &a), sizeof(v2_hdr_v4));
	assert_memory_equal(out, v2_hdr_v4, sizeof(v2_hdr_v4));
	memcpy(glued, v2_hdr_v4, sizeof(v2_hdr_v4));
	memcpy(glued + sizeof(v2_hdr_v4), "\x16\x03\x01\x00", 4);
	assert_int_equal(parse(glued, sizeof(glued), &pi), (int)sizeof(v2_hdr_v4));
	assert_int_equal(pi.version, 2);
	assert_int_equal(pi.command, PP_CMD_PROXY);
	assert_int_equal(pi.family, PP_FAM_INET);
	assert_int_equal(pi.transport, 1);
	assert_addr(&pi.src, "192.0.2.1", 56324);
	assert_addr(&pi.dst, "198.51.100.2", 443);
	assert_null(pi.tlvs_len ? pi.tlvs : NULL);
	assert_prefixes_wait(v2_hdr_v4, sizeof(v2_hdr_v4));
}

static void test_v2_tlvs_roundtrip(void **st)
{
	struct sockaddr_in6 s = v6("2001:db8::7", 40000), d = v6("2001:db8::1", 5432);
	struct pp_v2_args a = {
		.src = (struct sockaddr *)&s, .dst = (struct sockaddr *)&d,
		.opts = PP_O_CRC32C | PP_O_AUTHORITY | PP_O_UNIQUE_ID,
		.alpn = (const uint8_t *)"h2", .alpn_len = 2,
		.authority = (const uint8_t *)"db.example.com", .authority_len = 14,
		.unique_id = (const uint8_t *)"", .unique_id_len = 0,
	};
	uint8_t out[512];
	struct pp_info pi;
	size_t n, pos = 0, vl;
	uint8_t type, order[8];
	const uint8_t *v;
	int k = 0;
	(void)st;
	n = pp_build_v2(out, sizeof(out), &a);
	/* 16 + 36 addresses + crc 7 + alpn 5 + authority 17 + unique-id 3 */
	assert_int_equal(n, 16 + 36 + 7 + 5 + 17 + 3);
	assert_int_equal(out[13], 0x21);
	assert_int_equal(parse(out, n, &pi), (int)n);
	assert_int_equal(pi.family, PP_FAM_INET6);
	assert_addr(&pi.src, "2001:db8::7", 40000);
	assert_addr(&pi.dst, "2001:db8::1", 5432);
	assert_true(pi.crc32c_checked);
	assert_int_equal(pi.authority_len, 14);
	assert_memory_equal(pi.authority, "db.example.com", 14);
	assert_non_null(pi.unique_id);
	assert_int_equal(pi.unique_id_len, 0);
	assert_int_equal(pi.alpn_len, 2);
	while (pp_tlv_next(&pi, &pos, &type, &v, &vl))
		order[k++] = type;
	assert_int_equal(k, 4); /* HAProxy's order */
	assert_int_equal(order[0], PP2_TYPE_CRC32C);
	assert_int_equal(order[1], PP2_TYPE_ALPN);
	assert_int_equal(order[2], PP2_TYPE_AUTHORITY);
	assert_int_equal(order[3], PP2_TYPE_UNIQUE_ID);
	assert_prefixes_wait(out, n);
	/* any flipped byte after the signature and before the CRC breaks the CRC */
	for (size_t i = 16; i < n; i++) {
		if (i == 52 || (i >= 52 + 3 && i < 52 + 7))
			continue; /* the CRC's type (without it nothing is checked) and value */
		out[i] ^= 0x40;
		assert_int_not_equal(parse(out, n, &pi), (int)n);
		out[i] ^= 0x40;
	}
	out[60] ^= 1; /* inside the authority value: length intact, CRC wrong */
	assert_int_equal(parse(out, n, &pi), -1);
	assert_string_equal(pi.reason, "CRC32C mismatch in PROXY v2 header");
}

static void test_v2_mixed_and_local(void **st)
{
	struct sockaddr_in s = v4("192.0.2.1", 1);
	struct sockaddr_in6 d = v6("2001:db8::1", 2);
	struct pp_v2_args a = { .src = (struct sockaddr *)&s, .dst = (struct sockaddr *)&d };
	struct pp_v2_args local = { .opts = PP_O_CRC32C | PP_O_UNIQUE_ID };
	uint8_t out[256];
	char line[PP_V1_MAX + 1];
	struct pp_info pi;
	size_t n;
	(void)st;
	n = pp_build_v2(out, sizeof(out), &a);
	assert_int_equal(n, 52);
	assert_int_equal(parse(out, n, &pi), 52);
	assert_addr(&pi.src, "::ffff:192.0.2.1", 1);
	/* checks: LOCAL, UNSPEC, the CRC TLV only (no stream: no unique-id) */
	n = pp_build_v2(out, sizeof(out), &local);
	assert_int_equal(n, 16 + 7);
	assert_int_equal(out[12], 0x20);
	assert_int_equal(out[13], 0x00);
	assert_int_equal(parse(out, n, &pi), (int)n);
	assert_int_equal(pi.command, PP_CMD_LOCAL);
	assert_int_equal(pi.src.ss_family, 0);
	/* v1 of the same mix: TCP6 */
	n = pp_build_v1((uint8_t *)line, sizeof(line), (struct sockaddr *)&s, (struct sockaddr *)&d);
	line[n] = 0;
	assert_string_equal(line, "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::1 1 2\r\n");
	n = pp_build_v1((uint8_t *)line, sizeof(line), NULL, (struct sockaddr *)&d);
	line[n] = 0;
	assert_string_equal(line, "PROXY UNKNOWN\r\n");
	/* a buffer too small: 0, nothing claimed */
	assert_int_equal(pp_build_v1((uint8_t *)line, 10, (struct sockaddr *)&s, (struct sockaddr *)&s), 0);
	assert_int_equal(pp_build_v2(out, 27, &a), 0);
}

static void test_v1_roundtrip(void **st)
{
	struct sockaddr_in s = v4("10.1.2.3", 65535), d = v4("127.0.0.1", 0);
	uint8_t out[PP_V1_MAX];
	struct pp_info pi;
	size_t n;
	(void)st;
	n = pp_build_v1(out, sizeof(out), (struct sockaddr *)&s, (struct sockaddr *)&d);
	assert_int_equal(parse(out, n, &pi), (int)n);
	assert_addr(&pi.src, "10.1.2.3", 65535);
	assert_addr(&pi.dst, "127.0.0.1", 0);
}

static void test_v2_bad(void **st)
{
	uint8_t h[64];
	struct pp_info pi;
	(void)st;
	memcpy(h, v2_hdr_v4, sizeof(v2_hdr_v4));
	h[12] = 0x11; /* version 1 in a v2 header */
	assert_int_equal(parse(h, sizeof(v2_hdr_v4), &pi), -1);
	assert_string_equal(pi.reason, "unsupported PROXY protocol version");
	h[12] = 0x22; /* command 2 */
	assert_int_equal(parse(h, sizeof(v2_hdr_v4), &pi), -1);
	assert_string_equal(pi.reason, "unknown command in PROXY v2 header");
	h[12] = 0x21;
	h[13] = 0x41; /* family 4 */
	assert_int_equal(parse(h, 16, &pi), -1);
	assert_string_equal(pi.reason, "unknown address family in PROXY v2 header");
	h[13] = 0x13; /* transport 3 */
	assert_int_equal(parse(h, 16, &pi), -1);
	h[13] = 0x21; /* INET6 with a 12-byte block */
	assert_int_equal(parse(h, sizeof(v2_hdr_v4), &pi), -1);
	assert_string_equal(pi.reason, "PROXY v2 address block too short");
	h[13] = 0x11;
	h[3] ^= 1; /* bad signature */
	assert_int_equal(parse(h, 4, &pi), -1);
	assert_string_equal(pi.reason, "not a PROXY protocol header");
	h[3] ^= 1;
	/* a length beyond what arrived: wait; beyond HAProxy's buffer: refuse */
	h[14] = 0x00;
	h[15] = 0x40;
	assert_int_equal(parse(h, sizeof(v2_hdr_v4), &pi), 0);
	h[14] = 0x3F;
	h[15] = 0xF1; /* 16 + 16369 = 16385 */
	assert_int_equal(parse(h, 16, &pi), -1);
	assert_string_equal(pi.reason, "PROXY v2 header longer than 16384 bytes");
	h[14] = 0x3F;
	h[15] = 0xF0; /* exactly 16384: waits */
	assert_int_equal(parse(h, 16, &pi), 0);
	/* TLVs: a truncated TLV header, a value past the end, an authority of 256 */
	memcpy(h, v2_hdr_v4, sizeof(v2_hdr_v4));
	h[15] = 12 + 2;
	h[28] = 0x04;
	h[29] = 0x00;
	assert_int_equal(parse(h, 30, &pi), -1);
	assert_string_equal(pi.reason, "truncated TLV in PROXY v2 header");
	h[15] = 12 + 3;
	h[30] = 0x01;
	assert_int_equal(parse(h, 31, &pi), -1);
	assert_string_equal(pi.reason, "TLV longer than the PROXY v2 header");
	h[28] = PP2_TYPE_CRC32C;
	h[30] = 0x00; /* a CRC of 0 bytes */
	assert_int_equal(parse(h, 31, &pi), -1);
	assert_string_equal(pi.reason, "CRC32C TLV is not 4 bytes");
	{
		uint8_t big[16 + 12 + 3 + 256];
		memcpy(big, v2_hdr_v4, 28);
		big[14] = (uint8_t)((12 + 3 + 256) >> 8);
		big[15] = (uint8_t)(12 + 3 + 256);
		big[28] = PP2_TYPE_AUTHORITY;
		big[29] = 0x01;
		big[30] = 0x00;
		memset(big + 31, 'a', 256);
		assert_int_equal(parse(big, sizeof(big), &pi), -1);
		assert_string_equal(pi.reason, "AUTHORITY TLV longer than 255 bytes");
		big[29] = 0x00;
		big[30] = 0xFF; /* 255: fine */
		big[15] -= 1;
		assert_int_equal(parse(big, sizeof(big) - 1, &pi), (int)sizeof(big) - 1);
		assert_int_equal(pi.authority_len, 255);
	}
}

static void test_v2_local_unix_unspec(void **st)
{
	uint8_t h[16 + 216];
	struct pp_info pi;
	(void)st;
	memcpy(h, pp_v2_sig, 12);
	/* LOCAL with any family, and bytes after: skipped, as HAProxy */
	h[12] = 0x20;
	h[13] = 0x77;
	h[14] = 0;
	h[15] = 3;
	h[16] = 0xEE;
	h[17] = 0xFF;
	h[18] = 0xFF;
	assert_int_equal(parse(h, 19, &pi), 19);
	assert_int_equal(pi.command, PP_CMD_LOCAL);
	/* PROXY with UNSPEC: the connection's own addresses stay */
	h[12] = 0x21;
	h[13] = 0x00;
	h[15] = 0;
	assert_int_equal(parse(h, 16, &pi), 16);
	assert_int_equal(pi.family, PP_FAM_UNSPEC);
	assert_int_equal(pi.src.ss_family, 0);
	/* UNIX stream */
	memset(h + 16, 0, 216);
	h[13] = 0x31;
	h[14] = 0;
	h[15] = 216;
	strcpy((char *)h + 16, "/run/a.sock");
	strcpy((char *)h + 16 + 108, "/run/b.sock");
	assert_int_equal(parse(h, sizeof(h), &pi), (int)sizeof(h));
	assert_int_equal(pi.family, PP_FAM_UNIX);
	assert_int_equal(pi.src.ss_family, AF_UNIX);
	assert_string_equal(((struct sockaddr_un *)&pi.src)->sun_path, "/run/a.sock");
	assert_string_equal(((struct sockaddr_un *)&pi.dst)->sun_path, "/run/b.sock");
	assert_prefixes_wait(h, sizeof(h));
}

/* Every byte value at every position of a header: a clean decision, never
 * a header longer than the input (ASan and the guard page watch the rest). */
static void test_every_byte_everywhere(void **st)
{
	struct sockaddr_in s = v4("192.0.2.1", 1), d = v4("192.0.2.2", 2);
	struct pp_v2_args a = { .src = (struct sockaddr *)&s, .dst = (struct sockaddr *)&d, .opts = PP_O_CRC32C };
	uint8_t v2[64], v1[64];
	size_t n2 = pp_build_v2(v2, sizeof(v2), &a), n1 = pp_build_v1(v1, sizeof(v1), (struct sockaddr *)&s,
								       (struct sockaddr *)&d);
	struct pp_info pi;
	(void)st;
	for (int which = 0; which < 2; which++) {
		uint8_t *h = which ? v1 : v2;
		size_t n = which ? n1 : n2;
		for (size_t i = 0; i < n; i++) {
			uint8_t keep = h[i];
			for (int b = 0; b < 256; b++) {
				int rc;
				h[i] = (uint8_t)b;
				rc = parse(h, n, &pi);
				assert_true(rc >= -1 && rc <= (int)n);
				if (rc == -1)
					assert_non_null(pi.reason);
			}
			h[i] = keep;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vector),
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6_unknown),
		cmocka_unit_test(test_v1_bad),
		cmocka_unit_test(test_v1_roundtrip),
		cmocka_unit_test(test_v2_known_bytes),
		cmocka_unit_test(test_v2_tlvs_roundtrip),
		cmocka_unit_test(test_v2_mixed_and_local),
		cmocka_unit_test(test_v2_bad),
		cmocka_unit_test(test_v2_local_unix_unspec),
		cmocka_unit_test(test_every_byte_everywhere),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
