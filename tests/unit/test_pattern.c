/* Pattern sets (each match method, -i, files, IP prefixes, maps), the
 * lookup cost of large lists, and the content fetches over byte buffers
 * placed against a guard page so any over-read crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "rules/rules_int.h"

static struct sample str(const char *t)
{
	struct sample s = { .type = SMP_STR, .p = (const uint8_t *)t, .len = strlen(t) };
	return s;
}

static struct sample ip(const char *t)
{
	struct sample s = { 0 };
	if (inet_pton(AF_INET, t, s.ip) == 1)
		s.type = SMP_IPV4;
	else
		assert_int_equal(inet_pton(AF_INET6, t, s.ip), 1), s.type = SMP_IPV6;
	return s;
}

static struct sample num(int64_t v)
{
	struct sample s = { .type = SMP_SINT, .i = v };
	return s;
}

static void add(struct pat_set *ps, const char *t, const char *op)
{
	char err[256];
	assert_int_equal(pat_add(ps, t, op, NULL, err, sizeof(err)), 0);
}

static int m(const struct pat_set *ps, struct sample s)
{
	uint32_t idx;
	return pat_match(ps, &s, &idx, NULL) ? (int)idx : -1;
}

static void test_str_methods(void **st)
{
	struct pat_set ps;
	(void)st;
	pat_init(&ps, PM_STR, 0);
	add(&ps, "alpha", NULL);
	add(&ps, "Beta", NULL);
	assert_int_equal(m(&ps, str("alpha")), 0);
	assert_int_equal(m(&ps, str("beta")), -1);
	assert_int_equal(m(&ps, str("alph")), -1);
	pat_free(&ps);

	pat_init(&ps, PM_STR, 1); /* -i */
	add(&ps, "Beta", NULL);
	assert_int_equal(m(&ps, str("bEtA")), 0);
	pat_free(&ps);

	pat_init(&ps, PM_BEG, 0);
	add(&ps, "/api", NULL);
	add(&ps, "/a", NULL);
	assert_int_equal(m(&ps, str("/api/v1")), 0); /* the first in file order */
	assert_int_equal(m(&ps, str("/ab")), 1);
	assert_int_equal(m(&ps, str("/")), -1);
	pat_free(&ps);

	pat_init(&ps, PM_END, 0);
	add(&ps, ".com", NULL);
	assert_int_equal(m(&ps, str("example.com")), 0);
	assert_int_equal(m(&ps, str("example.co")), -1);
	pat_free(&ps);

	pat_init(&ps, PM_SUB, 1);
	add(&ps, "XYZ", NULL);
	assert_int_equal(m(&ps, str("abxyzcd")), 0);
	assert_int_equal(m(&ps, str("abxy")), -1);
	pat_free(&ps);

	pat_init(&ps, PM_REG, 0);
	add(&ps, "^a[0-9]+$", NULL);
	assert_int_equal(m(&ps, str("a123")), 0);
	assert_int_equal(m(&ps, str("a12b")), -1);
	pat_free(&ps);

	pat_init(&ps, PM_LEN, 0);
	add(&ps, "3", "gt");
	assert_int_equal(m(&ps, str("abcd")), 0);
	assert_int_equal(m(&ps, str("abc")), -1);
	pat_free(&ps);
}

static void test_dom(void **st)
{
	struct pat_set ps;
	(void)st;
	pat_init(&ps, PM_DOM, 1);
	add(&ps, "example.com", NULL);
	add(&ps, "api", NULL);
	assert_int_equal(m(&ps, str("example.com")), 0);
	assert_int_equal(m(&ps, str("www.Example.com")), 0);
	assert_int_equal(m(&ps, str("example.com.evil.net")), 0); /* HAProxy: any dotted part */
	assert_int_equal(m(&ps, str("notexample.com")), -1);
	assert_int_equal(m(&ps, str("x.api.y")), 1);
	assert_int_equal(m(&ps, str("apis.y")), -1);
	pat_free(&ps);
}

static void test_int(void **st)
{
	struct pat_set ps;
	char err[256];
	(void)st;
	pat_init(&ps, PM_INT, 0);
	add(&ps, "10:20", NULL);
	add(&ps, "5", "lt");
	add(&ps, "100", "ge");
	add(&ps, ":0", NULL);
	assert_int_equal(m(&ps, num(15)), 0);
	assert_int_equal(m(&ps, num(4)), 1);
	assert_int_equal(m(&ps, num(5)), -1);
	assert_int_equal(m(&ps, num(100)), 2);
	assert_int_equal(m(&ps, num(-7)), 1);
	assert_int_equal(pat_add(&ps, "abc", NULL, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "'abc' is not a number.");
	pat_free(&ps);
	pat_init(&ps, PM_INT, 0);
	ps.dotted_ver = 1;
	add(&ps, "3.1", "ge");
	assert_int_equal(m(&ps, num(0x0301)), 0);
	assert_int_equal(m(&ps, num(0x0300)), -1);
	pat_free(&ps);
}

static void test_ip_overlap(void **st)
{
	struct pat_set ps;
	char err[256];
	(void)st;
	pat_init(&ps, PM_IP, 0);
	add(&ps, "10.0.0.0/8", NULL);
	add(&ps, "10.1.0.0/16", NULL);
	add(&ps, "10.1.2.3", NULL);
	add(&ps, "2001:db8::/32", NULL);
	add(&ps, "2001:db8:1::/48", NULL);
	add(&ps, "192.168.0.0/255.255.0.0", NULL);
	assert_int_equal(m(&ps, ip("10.9.9.9")), 0);
	assert_int_equal(m(&ps, ip("10.1.9.9")), 1);  /* longest prefix wins */
	assert_int_equal(m(&ps, ip("10.1.2.3")), 2);
	assert_int_equal(m(&ps, ip("11.0.0.1")), -1);
	assert_int_equal(m(&ps, ip("2001:db8:1::5")), 4);
	assert_int_equal(m(&ps, ip("2001:db8:2::5")), 3);
	assert_int_equal(m(&ps, ip("2001:db9::1")), -1);
	assert_int_equal(m(&ps, ip("::ffff:10.1.2.3")), 2); /* v4-mapped looks among v4 */
	assert_int_equal(m(&ps, ip("192.168.44.1")), 5);
	assert_int_equal(pat_add(&ps, "1.2.3.x", NULL, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "'1.2.3.x' is not a valid IPv4 or IPv6 address.");
	assert_int_equal(pat_add(&ps, "1.2.3.0/255.0.255.0", NULL, NULL, err, sizeof(err)), -1);
	pat_free(&ps);

	pat_init(&ps, PM_IP, 0); /* an IPv4 client among IPv6 networks */
	add(&ps, "::ffff:127.0.0.0/104", NULL);
	assert_int_equal(m(&ps, ip("127.0.0.2")), 0);
	pat_free(&ps);
}

static char *write_tmp(const char *text)
{
	static char path[64];
	int fd;
	strcpy(path, "/tmp/ferry-pat-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_files(void **st)
{
	struct pat_set ps;
	char err[512], *p;
	(void)st;
	p = write_tmp("# comment\n\n  127.0.0.2\n\t10.0.0.0/8\r\n #not a comment: a bad address\n");
	pat_init(&ps, PM_IP, 0);
	assert_int_equal(pat_load_file(&ps, p, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":5: '#not a comment: a bad address' is not a valid IPv4 or IPv6 address."));
	pat_free(&ps);
	unlink(p);

	p = write_tmp("# hosts\nWWW.Example.com\n\nAPI.example.com  \n");
	pat_init(&ps, PM_STR, 1);
	assert_int_equal(pat_load_file(&ps, p, 0, err, sizeof(err)), 0);
	assert_int_equal(ps.npat, 2);
	assert_int_equal(m(&ps, str("www.example.com")), 0);
	assert_int_equal(m(&ps, str("api.example.com")), -1); /* trailing blanks belong to the pattern */
	assert_int_equal(m(&ps, str("api.example.com  ")), 1);
	pat_free(&ps);
	unlink(p);

	pat_init(&ps, PM_STR, 0);
	assert_int_equal(pat_load_file(&ps, "/nonexistent/x", 0, err, sizeof(err)), -1);
	assert_string_equal(err, "failed to open pattern file </nonexistent/x>.");
	pat_free(&ps);
}

static void test_map_dom(void **st)
{
	struct pat_set ps;
	char err[512], *p;
	uint32_t idx;
	struct sample s;
	(void)st;
	p = write_tmp("# sni -> backend\nexample.com   be_web  \napi.example.com\tbe_api\n#x y\n  other.org be_other\n");
	pat_init(&ps, PM_DOM, 0);
	assert_int_equal(pat_load_file(&ps, p, 1, err, sizeof(err)), 0);
	assert_int_equal(ps.npat, 3);
	s = str("api.example.com");
	assert_true(pat_match(&ps, &s, &idx, NULL));
	assert_string_equal(ps.vals[idx], "be_web"); /* the first of the file that matches */
	s = str("www.other.org");
	assert_true(pat_match(&ps, &s, &idx, NULL));
	assert_string_equal(ps.vals[idx], "be_other");
	s = str("other.org.uk");
	assert_true(pat_match(&ps, &s, &idx, NULL));
	s = str("nother.org");
	assert_false(pat_match(&ps, &s, &idx, NULL));
	pat_free(&ps);
	unlink(p);
}

/* Probes for a lookup in a list of n networks: the same for 10 and 100,000. */
static unsigned ip_probes(int n)
{
	struct pat_set ps;
	char t[32];
	unsigned total = 0;
	uint32_t idx;
	pat_init(&ps, PM_IP, 0);
	for (int i = 0; i < n; i++) {
		snprintf(t, sizeof(t), "%d.%d.%d.0/24", 10 + (i >> 16), (i >> 8) & 255, i & 255);
		add(&ps, t, NULL);
	}
	add(&ps, "172.16.0.0/12", NULL);
	for (int i = 0; i < 100; i++) {
		struct sample s;
		char a[32];
		snprintf(a, sizeof(a), "%d.%d.%d.7", 10 + (i % 2), i, i * 3 % 256);
		s = ip(a);
		pat_match(&ps, &s, &idx, &total);
	}
	pat_free(&ps);
	return total;
}

static void test_ip_scale(void **st)
{
	unsigned small, big;
	(void)st;
	small = ip_probes(10);
	big = ip_probes(100000);
	/* two prefix lengths: at most a few probes per lookup either way */
	assert_true(small <= 100 * 6);
	assert_true(big <= 100 * 6);
}

static unsigned dom_probes(int n)
{
	struct pat_set ps;
	char t[64];
	unsigned total = 0;
	uint32_t idx;
	pat_init(&ps, PM_DOM, 0);
	for (int i = 0; i < n; i++) {
		snprintf(t, sizeof(t), "host%d.example.com", i);
		add(&ps, t, NULL);
	}
	for (int i = 0; i < 100; i++) {
		struct sample s;
		snprintf(t, sizeof(t), "www.host%d.example.com", i * 7);
		s = str(t);
		pat_match(&ps, &s, &idx, &total);
	}
	pat_free(&ps);
	return total;
}

static void test_dom_scale(void **st)
{
	unsigned small, big;
	(void)st;
	small = dom_probes(10);
	big = dom_probes(10000);
	/* 4 labels: 10 candidate parts per name, a few probes each */
	assert_true(small <= 100 * 30);
	assert_true(big <= 100 * 30);
}

static void test_casts(void **st)
{
	struct sample s = num(42);
	(void)st;
	assert_int_equal(smp_cast(&s, SMP_STR), 0);
	assert_int_equal(s.len, 2);
	assert_memory_equal(s.p, "42", 2);
	s = str("10.1.2.3");
	assert_int_equal(smp_cast(&s, SMP_IPV4), 0);
	assert_int_equal(s.ip[3], 3);
	assert_int_equal(smp_cast(&s, SMP_IPV6), 0);
	assert_int_equal(s.ip[10], 0xff);
	assert_int_equal(smp_cast(&s, SMP_IPV4), 0);
	assert_int_equal(smp_cast(&s, SMP_STR), 0);
	assert_int_equal(s.len, 8);
	s = str("x");
	assert_int_equal(smp_cast(&s, SMP_SINT), -1);
	s = ip("2001:db8::1");
	assert_int_equal(smp_cast(&s, SMP_IPV4), -1);
}

/* ---- content fetches against a guard page ---------------------------------- */

static uint8_t *page;
static long pagesz;

/* Puts data at the very end of a readable page followed by an unreadable one. */
static const uint8_t *guarded(const void *data, size_t len)
{
	if (!page) {
		pagesz = sysconf(_SC_PAGESIZE);
		page = mmap(NULL, (size_t)pagesz * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(page != MAP_FAILED);
		assert_int_equal(mprotect(page + pagesz, (size_t)pagesz, PROT_NONE), 0);
	}
	memcpy(page + pagesz - len, data, len);
	return page + pagesz - len;
}

static int fetch(const char *name, const struct rarg *a, const void *data, size_t len, int final,
		 struct sample *s)
{
	const struct fetch_def *f = fetch_find(name, strlen(name));
	struct rule_ctx c = { 0 };
	assert_non_null(f);
	c.req = guarded(data, len);
	c.req_len = len;
	c.req_final = final;
	return f->fn(a, &c, s);
}

static void test_payload(void **st)
{
	struct rarg a[3] = { { .i = 1 }, { .i = 2 }, { 0 } };
	struct sample s;
	(void)st;
	assert_int_equal(fetch("req.payload", a, "\x16\x03\x01", 3, 0, &s), 1);
	assert_memory_equal(s.p, "\x03\x01", 2);
	assert_int_equal(fetch("req.payload", a, "\x16\x03", 2, 0, &s), -1); /* more may come */
	assert_int_equal(fetch("req.payload", a, "\x16\x03", 2, 1, &s), 0);  /* it will not */
	a[0].i = 0;
	a[1].i = 0; /* length 0: the rest, only once it is final */
	assert_int_equal(fetch("req.payload", a, "abc", 3, 0, &s), -1);
	assert_int_equal(fetch("req.payload", a, "abc", 3, 1, &s), 1);
	assert_int_equal(s.len, 3);

	/* payload_lv(0,1): a one-byte length then that many bytes */
	a[0].i = 0;
	a[1].i = 1;
	assert_int_equal(fetch("req.payload_lv", a, "\x03xyz", 4, 0, &s), 1);
	assert_memory_equal(s.p, "xyz", 3);
	assert_int_equal(fetch("req.payload_lv", a, "\x05xyz", 4, 0, &s), -1);
	assert_int_equal(fetch("req.payload_lv", a, "\x05xyz", 4, 1, &s), 0);
	assert_int_equal(fetch("req.payload_lv", a, "", 0, 0, &s), -1);
	/* an oversized length field: no match, never a read past the buffer */
	a[1].i = 4;
	assert_int_equal(fetch("req.payload_lv", a, "\xff\xff\xff\xff", 4, 1, &s), 0);
}

static void test_req_len_proto_http(void **st)
{
	struct sample s;
	(void)st;
	/* not final: a sample that may still change (HAProxy's SMP_F_MAY_CHANGE) */
	assert_int_equal(fetch("req.len", NULL, "abc", 3, 0, &s), 2);
	assert_int_equal(s.i, 3);
	assert_int_equal(fetch("req.len", NULL, "abc", 3, 1, &s), 1);
	assert_int_equal(s.i, 3);
	assert_int_equal(fetch("req.proto_http", NULL, "GET / HTTP/1.1\r\n", 16, 0, &s), 1);
	assert_int_equal(s.i, 1);
	assert_int_equal(fetch("req.proto_http", NULL, "GET / HTTP/1.1", 14, 0, &s), -1);
	assert_int_equal(fetch("req.proto_http", NULL, "GET / HTTP/1.1", 14, 1, &s), 1);
	assert_int_equal(s.i, 0);
	assert_int_equal(fetch("req.proto_http", NULL, "\x16\x03\x01\x02\x00", 5, 0, &s), 1);
	assert_int_equal(s.i, 0);
	assert_int_equal(fetch("req.proto_http", NULL, "SSH-2.0-OpenSSH\r\n", 17, 0, &s), 1);
	assert_int_equal(s.i, 0);
	assert_int_equal(fetch("req.proto_http", NULL, "", 0, 1, &s), 1);
	assert_int_equal(s.i, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str_methods),
		cmocka_unit_test(test_dom),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_ip_overlap),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_map_dom),
		cmocka_unit_test(test_ip_scale),
		cmocka_unit_test(test_dom_scale),
		cmocka_unit_test(test_casts),
		cmocka_unit_test(test_payload),
		cmocka_unit_test(test_req_len_proto_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
