/* PostgreSQL wire protocol (src/proto/pgwire.c): every kind of first
 * message, every truncation of a valid one is "more" (never -1, never a
 * message), the length and protocol limits of ProcessStartupPacket,
 * malformed parameters; the ErrorResponse and CancelRequest bytes; the
 * server scanner fed in one piece, byte by byte and at every split. Every
 * input the parsers see ends against a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto/pgwire.h"
#include "guard.h"

static int parse(const void *p, size_t n, struct pg_first *m)
{
	return pg_first_parse(guarded(p, n), n, m);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A first message: length word, code, then body[0..blen). */
static size_t msg(uint8_t *out, uint32_t code, const void *body, size_t blen)
{
	put32(out, (uint32_t)(8 + blen));
	put32(out + 4, code);
	if (blen)
		memcpy(out + 8, body, blen);
	return 8 + blen;
}

/* Parameters as libpq (psql 15) sends them, final terminator included. */
static const char psql_params[] = "user\0alice\0database\0shop\0application_name\0psql\0"
				  "client_encoding\0UTF8\0";
#define PSQL_PARAMS_LEN sizeof(psql_params) /* the string's own NUL is the terminator */

/* Every strict prefix of a valid message of length n is "more" (0). */
static void assert_prefixes_wait(const uint8_t *h, size_t n)
{
	struct pg_first m;
	for (size_t i = 0; i < n; i++) {
		int rc = parse(h, i, &m);
		if (rc != 0)
			fail_msg("prefix of %zu bytes (of %zu): %d (%s)", i, n, rc, m.reason ? m.reason : "");
	}
}

static void assert_refused(const uint8_t *h, size_t n)
{
	struct pg_first m;
	int rc = parse(h, n, &m);
	if (rc != -1)
		fail_msg("%zu bytes: %d, expected -1", n, rc);
	assert_non_null(m.reason);
}

static void test_startup(void **st)
{
	uint8_t b[256], two[512];
	struct pg_first m;
	size_t n = msg(b, PG_PROTO(3, 0), psql_params, PSQL_PARAMS_LEN);
	(void)st;
	assert_int_equal(parse(b, n, &m), (int)n);
	assert_int_equal(m.kind, PG_FIRST_STARTUP);
	assert_int_equal(m.len, n);
	assert_int_equal(m.proto, PG_PROTO(3, 0));
	assert_int_equal(m.params_len, PSQL_PARAMS_LEN - 1);
	assert_null(m.reason);
	assert_string_equal(pg_startup_param(&m, "user"), "alice");
	assert_string_equal(pg_startup_param(&m, "database"), "shop");
	assert_string_equal(pg_startup_param(&m, "application_name"), "psql");
	assert_string_equal(pg_startup_param(&m, "client_encoding"), "UTF8");
	assert_null(pg_startup_param(&m, "options"));
	assert_null(pg_startup_param(&m, "alice")); /* a value is not a name */
	assert_null(pg_startup_param(&m, "use"));
	assert_prefixes_wait(b, n);

	/* what follows the message (the client does not wait) is not taken */
	memcpy(two, b, n);
	memcpy(two + n, b, n);
	assert_int_equal(parse(two, 2 * n, &m), (int)n);
	assert_int_equal(m.len, n);
	/* the message arriving in segments: each longer buffer of the same bytes */
	for (size_t cut = 1; cut < n; cut += 7) {
		assert_int_equal(parse(two, cut, &m), 0);
		assert_int_equal(parse(two, n, &m), (int)n);
	}
}

static void test_startup_minor_versions(void **st)
{
	uint8_t b[256];
	struct pg_first m;
	const uint32_t minors[] = { 0, 2, 9, 0xFFFF };
	(void)st;
	for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); i++) {
		size_t n = msg(b, PG_PROTO(3, minors[i]), psql_params, PSQL_PARAMS_LEN);
		assert_int_equal(parse(b, n, &m), (int)n);
		assert_int_equal(m.proto, PG_PROTO(3, minors[i])); /* as sent: the server negotiates */
		assert_prefixes_wait(b, n);
	}
}

static void test_database_defaults_to_user(void **st)
{
	uint8_t b[256];
	struct pg_first m;
	size_t n;
	(void)st;
	n = msg(b, PG_PROTO(3, 0), "user\0bob\0\0", 10);
	assert_int_equal(parse(b, n, &m), (int)n);
	assert_string_equal(pg_startup_param(&m, "database"), "bob");
	assert_string_equal(pg_startup_param(&m, "user"), "bob");

	/* an empty database is the user too (ProcessStartupPacket) */
	n = msg(b, PG_PROTO(3, 0), "database\0\0user\0bob\0\0", 20);
	assert_int_equal(parse(b, n, &m), (int)n);
	assert_string_equal(pg_startup_param(&m, "database"), "bob");

	/* a name sent twice: the last one counts, as in PostgreSQL */
	n = msg(b, PG_PROTO(3, 0), "user\0a\0database\0d1\0user\0b\0database\0d2\0\0", 39);
	assert_int_equal(parse(b, n, &m), (int)n);
	assert_string_equal(pg_startup_param(&m, "user"), "b");
	assert_string_equal(pg_startup_param(&m, "database"), "d2");

	/* an empty value of another parameter is a value */
	n = msg(b, PG_PROTO(3, 0), "options\0\0user\0u\0\0", 17);
	assert_int_equal(parse(b, n, &m), (int)n);
	assert_string_equal(pg_startup_param(&m, "options"), "");
}

/* StartupMessage bodies PostgreSQL refuses, and why. */
static const struct {
	const char *body;
	size_t len;
	const char *why;
} bad_params[] = {
	{ "user\0bob\0", 9, "no terminator after the last pair" },
	{ "user\0bob\0options\0", 17, "a name without a value" },
	{ "user\0bob\0options", 16, "a name without a value or a NUL" },
	{ "user\0bob", 8, "a value without its NUL" },
	{ "user\0bob\0\0x", 11, "the terminator is not the last byte" },
	{ "user\0bob\0\0\0", 11, "two terminators" },
	{ "database\0x\0\0", 12, "no user" },
	{ "user\0\0\0", 7, "an empty user" },
	{ "\0", 1, "no parameters at all" },
	{ "", 0, "8 bytes: no room for the terminator" },
};

static void test_bad_params(void **st)
{
	uint8_t b[256];
	struct pg_first m;
	(void)st;
	for (size_t i = 0; i < sizeof(bad_params) / sizeof(bad_params[0]); i++) {
		size_t n = msg(b, PG_PROTO(3, 0), bad_params[i].body, bad_params[i].len);
		if (parse(b, n, &m) != -1 || !m.reason)
			fail_msg("accepted: %s", bad_params[i].why);
		assert_prefixes_wait(b, n);
	}
	msg(b, PG_PROTO(3, 0), "database\0x\0\0", 12);
	assert_int_equal(parse(b, 20, &m), -1);
	assert_non_null(strstr(m.reason, "user"));
}

static void test_bad_versions(void **st)
{
	uint8_t b[256];
	const uint32_t codes[] = { PG_PROTO(2, 0), PG_PROTO(4, 0), PG_PROTO(1234, 5681), 0, PG_PROTO(0xFFFF, 0) };
	(void)st;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		size_t n = msg(b, codes[i], psql_params, PSQL_PARAMS_LEN);
		assert_refused(b, n);
		assert_refused(b, 8); /* known from the code word alone */
	}
}

static void test_lengths(void **st)
{
	static uint8_t b[PG_STARTUP_MAX + 16], body[PG_STARTUP_MAX];
	struct pg_first m;
	size_t n;
	(void)st;
	/* exactly PG_STARTUP_MAX bytes: accepted */
	memcpy(body, "user\0u\0options\0", 15);
	memset(body + 15, 'x', PG_STARTUP_MAX - 8 - 15 - 2);
	body[PG_STARTUP_MAX - 8 - 2] = 0;
	body[PG_STARTUP_MAX - 8 - 1] = 0;
	n = msg(b, PG_PROTO(3, 0), body, PG_STARTUP_MAX - 8);
	assert_int_equal(n, PG_STARTUP_MAX);
	/* the guard page is one page: check the end of the message against it */
	assert_int_equal(pg_first_parse(b, n, &m), PG_STARTUP_MAX);
	assert_int_equal(strlen(pg_startup_param(&m, "options")), PG_STARTUP_MAX - 8 - 15 - 2);
	for (size_t i = 0; i < n; i += 97)
		assert_int_equal(pg_first_parse(b, i, &m), 0);
	assert_int_equal(pg_first_parse(b, n - 1, &m), 0);

	/* one more byte: refused as soon as the length word says so */
	put32(b, PG_STARTUP_MAX + 1);
	assert_refused(b, 4);
	assert_refused(b, 4096);
	assert_int_equal(parse(b, 3, &m), 0); /* 00 00 27 could still be 0x2710 */

	/* the first bytes alone already rule a length out */
	assert_refused((const uint8_t *)"\x01", 1);
	assert_refused((const uint8_t *)"\x00\x01", 2);
	assert_refused((const uint8_t *)"\x00\x00\x28", 3);
	assert_refused((const uint8_t *)"\xff\xff\xff\xff", 4);
	assert_int_equal(parse("\x00", 1, &m), 0);
	assert_int_equal(parse("\x00\x00", 2, &m), 0);
	assert_int_equal(parse("", 0, &m), 0);
	/* under 8 */
	for (uint32_t l = 0; l < 8; l++) {
		put32(b, l);
		put32(b + 4, PG_PROTO(3, 0));
		assert_refused(b, 4);
		assert_refused(b, 8);
	}
}

static void test_ssl_gssenc(void **st)
{
	uint8_t b[64];
	struct pg_first m;
	size_t n;
	(void)st;
	n = msg(b, PG_CODE_SSL, NULL, 0);
	assert_int_equal(parse(b, n, &m), 8);
	assert_int_equal(m.kind, PG_FIRST_SSL);
	assert_int_equal(m.len, 8);
	assert_prefixes_wait(b, n);
	/* the client's next bytes do not belong to it */
	memcpy(b + 8, "\x16\x03\x01", 3);
	assert_int_equal(parse(b, 11, &m), 8);

	n = msg(b, PG_CODE_GSSENC, NULL, 0);
	assert_int_equal(parse(b, n, &m), 8);
	assert_int_equal(m.kind, PG_FIRST_GSSENC);
	assert_prefixes_wait(b, n);

	/* any other length is refused, and known from the first 8 bytes */
	n = msg(b, PG_CODE_SSL, "\0\0\0\0", 4);
	assert_refused(b, n);
	assert_refused(b, 8);
	n = msg(b, PG_CODE_GSSENC, "\0\0\0\0", 4);
	assert_refused(b, 8);
}

static void test_cancel(void **st)
{
	uint8_t b[512], key[PG_CANCEL_KEY_MAX + 1];
	struct pg_first m;
	const size_t good[] = { 4, 32, PG_CANCEL_KEY_MAX };
	(void)st;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		size_t kl = good[i];
		size_t n = pg_cancel_build(b, sizeof(b), 0x01020304u, key, kl);
		assert_int_equal(n, 12 + kl);
		assert_int_equal(parse(b, n, &m), (int)n);
		assert_int_equal(m.kind, PG_FIRST_CANCEL);
		assert_int_equal(m.len, n);
		assert_int_equal(m.pid, 0x01020304u);
		assert_int_equal(m.key_len, kl);
		assert_memory_equal(m.key, key, kl);
		assert_prefixes_wait(b, n);
	}
	/* protocol 3.0's fixed layout, byte for byte */
	assert_int_equal(pg_cancel_build(b, sizeof(b), 4242, (const uint8_t *)"\xde\xad\xbe\xef", 4), 16);
	assert_memory_equal(b, "\x00\x00\x00\x10\x04\xd2\x16\x2e\x00\x00\x10\x92\xde\xad\xbe\xef", 16);

	/* keys of 257, 3 and 0 bytes: refused, from the first 8 bytes on */
	{
		const size_t bad[] = { PG_CANCEL_KEY_MAX + 1, 3, 0 };
		for (size_t i = 0; i < 3; i++) {
			size_t n = 8 + 4 + bad[i];
			put32(b, (uint32_t)n);
			put32(b + 4, PG_CODE_CANCEL);
			put32(b + 8, 1);
			memcpy(b + 12, key, bad[i]);
			assert_refused(b, n);
			assert_refused(b, 8);
		}
	}
	/* the builder refuses them too, and a buffer too small */
	assert_int_equal(pg_cancel_build(b, sizeof(b), 1, key, PG_CANCEL_KEY_MAX + 1), 0);
	assert_int_equal(pg_cancel_build(b, sizeof(b), 1, key, 3), 0);
	assert_int_equal(pg_cancel_build(b, 15, 1, key, 4), 0);
	assert_int_equal(pg_cancel_build(b, 16, 1, key, 4), 16);
}

static void test_direct_tls(void **st)
{
	/* the start of openssl's ClientHello record */
	const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x01, 0x4d, 0x01, 0x00, 0x01, 0x49, 0x03, 0x03 };
	struct pg_first m;
	(void)st;
	assert_int_equal(parse(hello, 1, &m), 0);
	for (size_t n = 2; n <= sizeof(hello); n++) {
		assert_int_equal(parse(hello, n, &m), 1);
		assert_int_equal(m.kind, PG_FIRST_TLS);
		assert_int_equal(m.len, 0);
	}
	/* 0x16 then anything but 3 is neither TLS nor a valid length */
	assert_refused((const uint8_t *)"\x16\x01", 2);
	assert_refused((const uint8_t *)"\x16\x00\x00\x08", 4);
}

/* A small deterministic generator (xorshift32), for the garbage tests. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void check_any(const uint8_t *b, size_t n)
{
	struct pg_first m;
	int rc = parse(b, n, &m);
	if (rc == -1) {
		assert_non_null(m.reason);
		return;
	}
	assert_true(rc >= 0 && (size_t)rc <= n);
	if (rc > 0 && m.kind != PG_FIRST_TLS) {
		assert_int_equal(m.len, rc);
		if (m.kind == PG_FIRST_STARTUP)
			assert_non_null(pg_startup_param(&m, "user"));
	}
}

static void test_garbage(void **st)
{
	uint8_t b[600], v[256];
	uint32_t s = 0x9e3779b9u;
	size_t vn;
	(void)st;
	assert_refused((const uint8_t *)"GET / HTTP/1.1\r\n", 16);
	assert_refused((const uint8_t *)"G", 1);
	assert_refused((const uint8_t *)"SSH-2.0-OpenSSH_9.2\r\n", 21);
	/* random bytes: -1, 0 or a consistent message; never a read past n */
	for (int i = 0; i < 20000; i++) {
		size_t n = rnd(&s) % sizeof(b);
		for (size_t j = 0; j < n; j++)
			b[j] = (uint8_t)rnd(&s);
		if (i & 1) { /* a plausible head so that the body gets parsed */
			if (n < 8)
				continue;
			put32(b, (uint32_t)(8 + rnd(&s) % (n - 7)));
			put32(b + 4, (i & 2) ? PG_PROTO(3, 0) : PG_CODE_CANCEL);
		}
		check_any(b, n);
	}
	/* every byte of a valid message changed, every NUL of it moved */
	vn = msg(v, PG_PROTO(3, 2), psql_params, PSQL_PARAMS_LEN);
	for (size_t j = 0; j < vn; j++) {
		const uint8_t vals[] = { 0x00, 0x01, 0x7f, 0x80, 0xff, 'a' };
		for (size_t k = 0; k < sizeof(vals); k++) {
			memcpy(b, v, vn);
			b[j] = vals[k];
			check_any(b, vn);
		}
	}
}

/* ---- ErrorResponse ---- */

static void test_error_build(void **st)
{
	uint8_t b[512];
	static const uint8_t want[] = "E\x00\x00\x00\x39"
				      "SFATAL\0VFATAL\0C28000\0Mno route to a server for user\0\0";
	char long_msg[400];
	(void)st;
	assert_int_equal(pg_error_build(b, sizeof(b), "FATAL", "28000", "no route to a server for user"),
			 sizeof(want) - 1);
	assert_memory_equal(b, want, sizeof(want) - 1);
	/* too small by one: nothing */
	assert_int_equal(pg_error_build(b, sizeof(want) - 2, "FATAL", "28000", "no route to a server for user"), 0);
	assert_int_equal(pg_error_build(b, sizeof(want) - 1, "FATAL", "28000", "no route to a server for user"),
			 sizeof(want) - 1);

	/* at most 200 bytes of the message */
	memset(long_msg, 'a', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = 0;
	assert_int_equal(pg_error_build(b, sizeof(b), "FATAL", "08006", long_msg), 1 + 4 + 7 + 7 + 7 + 202 + 1);
	assert_int_equal(strlen((const char *)b + 1 + 4 + 7 + 7 + 7 + 1), 200);
	/* never in the middle of a UTF-8 sequence: 199 ASCII then "é" (2 bytes) */
	memset(long_msg, 'a', 199);
	strcpy(long_msg + 199, "\xc3\xa9zzz");
	assert_int_equal(pg_error_build(b, sizeof(b), "FATAL", "08006", long_msg), 1 + 4 + 7 + 7 + 7 + 201 + 1);
	assert_int_equal(strlen((const char *)b + 26 + 1), 199);
	/* 198 ASCII then a 4-byte sequence across 200: cut before it */
	memset(long_msg, 'a', 198);
	strcpy(long_msg + 198, "\xf0\x9f\x90\x98zz");
	pg_error_build(b, sizeof(b), "FATAL", "08006", long_msg);
	assert_int_equal(strlen((const char *)b + 27), 198);
	/* a sequence that ends exactly at 200 is kept whole */
	memset(long_msg, 'a', 198);
	strcpy(long_msg + 198, "\xc3\xa9zz");
	pg_error_build(b, sizeof(b), "FATAL", "08006", long_msg);
	assert_int_equal(strlen((const char *)b + 27), 200);
	/* the length word is the whole message minus the type byte */
	assert_int_equal((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4],
			 27 + 200 + 1 + 1 - 1);
}

/* ---- server scanner ---- */

/* Appends a server message of type t with body[0..n). */
static size_t smsg(uint8_t *out, char t, const void *body, size_t n)
{
	out[0] = (uint8_t)t;
	put32(out + 1, (uint32_t)(4 + n));
	if (n)
		memcpy(out + 5, body, n);
	return 5 + n;
}

static size_t key_msg(uint8_t *out, uint32_t pid, const uint8_t *key, size_t kl)
{
	uint8_t body[4 + 300];
	put32(body, pid);
	memcpy(body + 4, key, kl);
	return smsg(out, 'K', body, 4 + kl);
}

/* What PostgreSQL sends after a trust login: AuthenticationOk, several
 * ParameterStatus, BackendKeyData, ReadyForQuery. Returns the length;
 * *key_end is where BackendKeyData ends. */
static size_t server_hello(uint8_t *out, const uint8_t *key, size_t kl, size_t *key_end)
{
	static const char *params[][2] = {
		{ "in_hot_standby", "off" }, { "integer_datetimes", "on" }, { "TimeZone", "Etc/UTC" },
		{ "IntervalStyle", "postgres" }, { "is_superuser", "off" }, { "application_name", "psql" },
		{ "default_transaction_read_only", "off" }, { "scram_iterations", "4096" },
		{ "DateStyle", "ISO, MDY" }, { "standard_conforming_strings", "on" },
		{ "session_authorization", "alice" }, { "client_encoding", "UTF8" },
		{ "server_version", "16.4" }, { "server_encoding", "UTF8" },
	};
	size_t n = smsg(out, 'R', "\0\0\0\0", 4);
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		char body[128];
		size_t a = strlen(params[i][0]) + 1, b = strlen(params[i][1]) + 1;
		memcpy(body, params[i][0], a);
		memcpy(body + a, params[i][1], b);
		n += smsg(out + n, 'S', body, a + b);
	}
	n += key_msg(out + n, 31337, key, kl);
	*key_end = n;
	n += smsg(out + n, 'Z', "I", 1);
	return n;
}

static void assert_key(const struct pg_scan *sc, uint32_t pid, const uint8_t *key, size_t kl)
{
	assert_int_equal(sc->pid, pid);
	assert_int_equal(sc->key_len, kl);
	assert_memory_equal(sc->key, key, kl);
}

/* Feeds s[0..n) in pieces of `piece` bytes (each against the guard page);
 * the result must be MORE until `end` bytes are in, then want. */
static void feed_pieces(const uint8_t *s, size_t n, size_t piece, size_t end, enum pg_scan_res want,
			struct pg_scan *sc)
{
	pg_scan_init(sc);
	for (size_t i = 0; i < n; i += piece) {
		size_t k = n - i < piece ? n - i : piece;
		enum pg_scan_res r = pg_scan_feed(sc, guarded(s + i, k), k);
		if (i + k < end && r != PG_SCAN_MORE)
			fail_msg("piece %zu at %zu (end %zu): %d", piece, i, end, r);
		if (i + k >= end && r != want)
			fail_msg("piece %zu at %zu (end %zu): %d, expected %d", piece, i, end, r, want);
	}
}

static void test_scan_server_hello(void **st)
{
	static uint8_t s[8192];
	uint8_t key4[4] = { 0x12, 0x34, 0x56, 0x78 }, key[PG_CANCEL_KEY_MAX];
	struct pg_scan sc;
	size_t n, key_end;
	(void)st;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0xA5 ^ i);

	n = server_hello(s, key4, 4, &key_end);
	/* in one piece: the key; later feeds say the same */
	pg_scan_init(&sc);
	assert_int_equal(pg_scan_feed(&sc, guarded(s, n), n), PG_SCAN_KEY);
	assert_key(&sc, 31337, key4, 4);
	assert_int_equal(pg_scan_feed(&sc, (const uint8_t *)"Zxxxx", 5), PG_SCAN_KEY);
	assert_int_equal(pg_scan_feed(&sc, NULL, 0), PG_SCAN_KEY);
	assert_key(&sc, 31337, key4, 4);
	/* byte by byte, and in pieces of every size up to 64 */
	for (size_t piece = 1; piece <= 64; piece++) {
		feed_pieces(s, n, piece, key_end, PG_SCAN_KEY, &sc);
		assert_key(&sc, 31337, key4, 4);
	}
	/* split in two at every offset */
	for (size_t cut = 0; cut <= n; cut++) {
		enum pg_scan_res r;
		pg_scan_init(&sc);
		r = pg_scan_feed(&sc, guarded(s, cut), cut);
		assert_int_equal(r, cut >= key_end ? PG_SCAN_KEY : PG_SCAN_MORE);
		r = pg_scan_feed(&sc, guarded(s + cut, n - cut), n - cut);
		assert_int_equal(r, PG_SCAN_KEY);
		assert_key(&sc, 31337, key4, 4);
	}

	/* protocol 3.2: a NegotiateProtocolVersion first, keys of 32 and 256 bytes */
	{
		const size_t kls[] = { 32, PG_CANCEL_KEY_MAX };
		for (size_t i = 0; i < 2; i++) {
			size_t v = smsg(s, 'v', "\x00\x03\x00\x02\x00\x00\x00\x00", 8);
			size_t m = v + server_hello(s + v, key, kls[i], &key_end);
			for (size_t piece = 1; piece <= 300; piece += (piece < 8 ? 1 : 37)) {
				feed_pieces(s, m, piece, v + key_end, PG_SCAN_KEY, &sc);
				assert_key(&sc, 31337, key, kls[i]);
			}
		}
	}
}

static void test_scan_stops(void **st)
{
	static uint8_t s[4096];
	uint8_t key[PG_CANCEL_KEY_MAX + 1] = { 0 };
	struct pg_scan sc;
	size_t n;
	(void)st;
	/* ReadyForQuery before any key (a server that sends none) */
	n = smsg(s, 'R', "\0\0\0\0", 4);
	n += smsg(s + n, 'Z', "I", 1);
	feed_pieces(s, n, 1, 14, PG_SCAN_DONE, &sc);
	assert_int_equal(pg_scan_feed(&sc, s, n), PG_SCAN_DONE);
	/* an ErrorResponse (password refused) */
	n = smsg(s, 'R', "\0\0\0\x03", 4);
	n += smsg(s + n, 'E', "SFATAL\0\0", 8);
	feed_pieces(s, n, 1, 14, PG_SCAN_DONE, &sc);
	/* a length under 4 */
	n = smsg(s, 'S', "a\0b\0", 4);
	s[n++] = 'S';
	put32(s + n, 3);
	n += 4;
	feed_pieces(s, n, 1, n, PG_SCAN_DONE, &sc);
	/* BackendKeyData with a key of 3, 0 or 257 bytes */
	{
		const size_t bad[] = { 3, 0, PG_CANCEL_KEY_MAX + 1 };
		for (size_t i = 0; i < 3; i++) {
			n = smsg(s, 'R', "\0\0\0\0", 4);
			n += key_msg(s + n, 1, key, bad[i]);
			feed_pieces(s, n, 1, 9 + 5, PG_SCAN_DONE, &sc);
			assert_int_equal(sc.key_len, 0);
		}
	}
	/* a message with an empty body is stepped over */
	n = smsg(s, 'R', "\0\0\0\0", 4);
	n += smsg(s + n, 'X', NULL, 0);
	n += key_msg(s + n, 7, (const uint8_t *)"abcd", 4);
	feed_pieces(s, n, 1, n, PG_SCAN_KEY, &sc);
	assert_key(&sc, 7, (const uint8_t *)"abcd", 4);
}

/* Large messages before the key (a long SASL exchange, a notice) pass
 * without being kept: the scanner's size does not depend on them. */
static void test_scan_large_skipped(void **st)
{
	static uint8_t big[200000];
	uint8_t tail[64];
	struct pg_scan sc;
	size_t n, t;
	(void)st;
	big[0] = 'N';
	put32(big + 1, sizeof(big) - 1);
	memset(big + 5, 'n', sizeof(big) - 5);
	t = key_msg(tail, 99, (const uint8_t *)"wxyz", 4);
	pg_scan_init(&sc);
	for (n = 0; n < sizeof(big); n += 3000) {
		size_t k = sizeof(big) - n < 3000 ? sizeof(big) - n : 3000;
		assert_int_equal(pg_scan_feed(&sc, guarded(big + n, k), k), PG_SCAN_MORE);
	}
	assert_int_equal(pg_scan_feed(&sc, tail, t), PG_SCAN_KEY);
	assert_key(&sc, 99, (const uint8_t *)"wxyz", 4);
}

/* The key seen by the scanner goes into a CancelRequest that the first
 * message parser reads back. */
static void test_cancel_round_trip(void **st)
{
	uint8_t s[512], req[512], key[32];
	struct pg_scan sc;
	struct pg_first m;
	size_t n, r;
	(void)st;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(255 - i);
	n = key_msg(s, 0x7fff0001u, key, sizeof(key));
	pg_scan_init(&sc);
	assert_int_equal(pg_scan_feed(&sc, s, n), PG_SCAN_KEY);
	r = pg_cancel_build(req, sizeof(req), sc.pid, sc.key, sc.key_len);
	assert_int_equal(r, 12 + sizeof(key));
	assert_int_equal(parse(req, r, &m), (int)r);
	assert_int_equal(m.kind, PG_FIRST_CANCEL);
	assert_int_equal(m.pid, 0x7fff0001u);
	assert_int_equal(m.key_len, sizeof(key));
	assert_memory_equal(m.key, key, sizeof(key));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_startup),
		cmocka_unit_test(test_startup_minor_versions),
		cmocka_unit_test(test_database_defaults_to_user),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_bad_versions),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_ssl_gssenc),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_direct_tls),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_error_build),
		cmocka_unit_test(test_scan_server_hello),
		cmocka_unit_test(test_scan_stops),
		cmocka_unit_test(test_scan_large_skipped),
		cmocka_unit_test(test_cancel_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
