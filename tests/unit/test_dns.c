/* DNS query builder and response parser (src/dns/dnsmsg.c) and the choice
 * of an address (src/dns/dnspick.c). Every response ends against a guard
 * page; every truncation of a valid one is refused, never read past;
 * compression loops, pointers forward, wrong ids and questions are
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dns/dnsmsg.h"
#include "dns/dnspick.h"
#include "guard.h"

static struct dns_response resp;

static enum dns_status parse(const uint8_t *b, size_t n, uint16_t id, const char *name, uint16_t t)
{
	return dns_parse_response(guarded(b, n), n, id, name, t, &resp);
}

/* A response to "_pg._tcp.db.test" SRV, id 0x1234: two SRV records with
 * compressed targets, one additional A record. */
static size_t srv_response(uint8_t *b)
{
	uint8_t q[512];
	int n = dns_build_query(q, sizeof(q), 0x1234, "_pg._tcp.db.test", DNS_T_SRV, 0);
	size_t o;
	assert_true(n > 0);
	memcpy(b, q, (size_t)n);
	b[2] = 0x81; b[3] = 0x80;              /* QR RD RA, NOERROR */
	b[7] = 2;                              /* ancount */
	b[11] = 1;                             /* arcount */
	o = (size_t)n;
	for (int i = 0; i < 2; i++) {
		static const uint8_t rr[] = { 0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60, 0, 11,
					      0, 0, 0, 100, 0x1f, 0x41 /* 8001 */ };
		memcpy(b + o, rr, sizeof(rr));
		b[o + 17] = (uint8_t)(0x41 + i);
		o += sizeof(rr);
		b[o++] = 2; b[o++] = 'p'; b[o++] = (uint8_t)('a' + i); /* "pa"/"pb" then ".db.test" */
		b[o++] = 0xc0; b[o++] = 12 + 9;    /* ptr to "db.test" inside the question */
	}
	{
		static const uint8_t ar[] = { 2, 'p', 'a', 0xc0, 21, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4,
					      127, 0, 0, 11 };
		memcpy(b + o, ar, sizeof(ar));
		o += sizeof(ar);
	}
	return o;
}

static void test_build_query(void **st)
{
	uint8_t b[512];
	int n = dns_build_query(b, sizeof(b), 0xabcd, "App.DB.test.", DNS_T_A, 4096);
	static const uint8_t want[] = { 0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1,
					3, 'A', 'p', 'p', 2, 'D', 'B', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
					0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0 };
	(void)st;
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(dns_build_query(b, sizeof(b), 1, "a..b", DNS_T_A, 0), -1);
	assert_int_equal(dns_build_query(b, sizeof(b), 1, "", DNS_T_A, 0), -1);
	assert_int_equal(dns_build_query(b, 20, 1, "abcdefghij.example", DNS_T_A, 0), -1);
	{
		char big[300];
		memset(big, 'a', 64);
		strcpy(big + 64, ".x");
		assert_int_equal(dns_build_query(b, sizeof(b), 1, big, DNS_T_A, 0), -1); /* label > 63 */
	}
}

static void test_srv_parse(void **st)
{
	uint8_t b[512];
	size_t n = srv_response(b);
	(void)st;
	assert_int_equal(parse(b, n, 0x1234, "_PG._tcp.db.test.", DNS_T_SRV), DNS_S_VALID);
	assert_int_equal(resp.nrr, 3);
	assert_int_equal(resp.rr[0].type, DNS_T_SRV);
	assert_string_equal(resp.rr[0].d.srv.target, "pa.db.test");
	assert_int_equal(resp.rr[0].d.srv.port, 8001);
	assert_int_equal(resp.rr[0].d.srv.weight, 100);
	assert_string_equal(resp.rr[1].d.srv.target, "pb.db.test");
	assert_int_equal(resp.rr[1].d.srv.port, 8002);
	assert_int_equal(resp.rr[2].type, DNS_T_A);
	assert_int_equal(resp.rr[2].section, DNS_SEC_ADDITIONAL);
	assert_string_equal(resp.rr[2].name, "pa.db.test");
	assert_int_equal(resp.rr[2].d.a4[3], 11);
}

static void test_every_truncation_refused(void **st)
{
	uint8_t b[512];
	size_t n = srv_response(b);
	(void)st;
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(parse(b, k, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_INVALID);
	}
}

static void test_wrong_id_and_question(void **st)
{
	uint8_t b[512];
	size_t n = srv_response(b);
	(void)st;
	assert_int_equal(parse(b, n, 0x1235, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_WRONG_ID);
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.tes", DNS_T_SRV), DNS_S_WRONG_ID);
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_A), DNS_S_WRONG_ID);
	b[2] &= 0x7f; /* a query, not a response */
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_INVALID);
}

static void test_rcodes_and_tc(void **st)
{
	uint8_t b[512];
	size_t n = srv_response(b);
	(void)st;
	b[3] = 0x83;
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_NX);
	b[3] = 0x85;
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_REFUSED);
	b[3] = 0x82;
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_OTHER);
	b[3] = 0x80;
	b[2] |= 0x02;
	/* as HAProxy 2.6: a truncated SRV answer is read for what it has */
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_VALID);
	assert_int_equal(resp.nrr, 3);
}

/* An answer to qname/qtype, id 0x4242, with uncompressed records: name,
 * type, and as data an address (A, AAAA) or a name (CNAME). */
struct rec {
	const char *name;
	uint16_t type;
	const char *data;
};

static void put_name(uint8_t *b, size_t *o, const char *name)
{
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s", name);
	for (char *save = NULL, *l = strtok_r(tmp, ".", &save); l; l = strtok_r(NULL, ".", &save)) {
		b[(*o)++] = (uint8_t)strlen(l);
		memcpy(b + *o, l, strlen(l));
		*o += strlen(l);
	}
	b[(*o)++] = 0;
}

static size_t answer(uint8_t *b, const char *qname, uint16_t qtype, uint8_t flags2,
		     const struct rec *r, int nr)
{
	int n = dns_build_query(b, 512, 0x4242, qname, qtype, 0);
	size_t o = (size_t)n;
	assert_true(n > 0);
	b[2] = 0x81 | flags2; b[3] = 0x80;
	b[7] = (uint8_t)nr;
	for (int i = 0; i < nr; i++) {
		size_t len_at;
		put_name(b, &o, r[i].name);
		b[o++] = 0; b[o++] = (uint8_t)r[i].type;
		b[o++] = 0; b[o++] = 1;                        /* IN */
		b[o++] = 0; b[o++] = 0; b[o++] = 0; b[o++] = 60;
		len_at = o;
		o += 2;
		if (r[i].type == DNS_T_A) {
			assert_int_equal(inet_pton(AF_INET, r[i].data, b + o), 1);
			o += 4;
		} else if (r[i].type == DNS_T_AAAA) {
			assert_int_equal(inet_pton(AF_INET6, r[i].data, b + o), 1);
			o += 16;
		} else {
			put_name(b, &o, r[i].data);
		}
		b[len_at] = (uint8_t)((o - len_at - 2) >> 8);
		b[len_at + 1] = (uint8_t)(o - len_at - 2);
	}
	return o;
}

static void test_tc_a_answer(void **st)
{
	static const struct rec r[] = { { "app.db.test", DNS_T_A, "127.0.0.11" } };
	uint8_t b[512];
	size_t n = answer(b, "app.db.test", DNS_T_A, 0x02, r, 1);
	(void)st;
	/* HAProxy 2.6 counts it "truncated" and asks no larger size */
	assert_int_equal(parse(b, n, 0x4242, "app.db.test", DNS_T_A), DNS_S_TRUNCATED);
	b[2] &= (uint8_t)~0x02;
	assert_int_equal(parse(b, n, 0x4242, "app.db.test", DNS_T_A), DNS_S_VALID);
	assert_int_equal(resp.nrr, 1);
}

static enum dns_status chain(const struct rec *r, int nr, int *ncname)
{
	uint8_t b[512];
	size_t n = answer(b, "App.db.test", DNS_T_A, 0, r, nr);
	assert_int_equal(parse(b, n, 0x4242, "app.db.test", DNS_T_A), DNS_S_VALID);
	return dns_answer_chain(&resp, "App.db.test.", ncname);
}

static void test_cname_chain(void **st)
{
	static const struct rec ok[] = {
		{ "app.db.test", DNS_T_CNAME, "mid.db.test" },
		{ "mid.db.test", DNS_T_CNAME, "real.db.test" },
		{ "real.db.test", DNS_T_A, "127.0.0.11" },
		{ "real.db.test", DNS_T_A, "127.0.0.12" },
	};
	static const struct rec plain[] = { { "app.db.test", DNS_T_A, "127.0.0.11" } };
	static const struct rec broken[] = {     /* the A record is not the target's */
		{ "app.db.test", DNS_T_CNAME, "real.db.test" },
		{ "other.db.test", DNS_T_A, "127.0.0.66" },
	};
	static const struct rec dangling[] = {   /* ends on a CNAME */
		{ "app.db.test", DNS_T_CNAME, "mid.db.test" },
		{ "mid.db.test", DNS_T_CNAME, "real.db.test" },
	};
	static const struct rec stranger[] = {   /* the first record is another name's */
		{ "other.db.test", DNS_T_A, "127.0.0.66" },
	};
	int nc;
	(void)st;
	assert_int_equal(chain(ok, 4, &nc), DNS_S_VALID);
	assert_int_equal(nc, 2);
	assert_int_equal(chain(plain, 1, &nc), DNS_S_VALID);
	assert_int_equal(nc, 0);
	assert_int_equal(chain(broken, 2, &nc), DNS_S_CNAME_ERROR);
	assert_int_equal(chain(dangling, 2, &nc), DNS_S_CNAME_ERROR);
	assert_int_equal(chain(stranger, 1, &nc), DNS_S_INVALID);
}

static void test_compression_loops(void **st)
{
	uint8_t b[512];
	size_t n = srv_response(b), first = 12 + 18 + 4; /* the first answer's owner pointer */
	(void)st;
	/* a pointer to itself */
	b[first] = 0xc0; b[first + 1] = (uint8_t)first;
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_INVALID);
	/* a pointer forward */
	b[first + 1] = (uint8_t)(first + 2);
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_INVALID);
	/* into the header */
	b[first + 1] = 4;
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_INVALID);
	/* two pointers to each other: the second must go lower than the first */
	{
		uint8_t m[64] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0,
				  0xc0, 14, 0xc0, 12 };
		assert_int_equal(parse(m, 16, 0x1234, "x", DNS_T_A), DNS_S_INVALID);
	}
	/* extended label types */
	srv_response(b);
	b[12] = 0x41;
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_INVALID);
}

static void test_bad_rdata(void **st)
{
	uint8_t b[512];
	size_t n = srv_response(b);
	(void)st;
	b[n - 5] = 5; /* the A record's rdlength: 5, past the end */
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_INVALID);
	b[n - 5] = 3; /* 3: not an IPv4 address */
	assert_int_equal(parse(b, n - 1, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_INVALID);
	n = srv_response(b);
	b[12 + 18 + 4 + 11] = 9; /* SRV rdlength shorter than its target */
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_INVALID);
	n = srv_response(b);
	b[5] = 2; /* two questions */
	assert_int_equal(parse(b, n, 0x1234, "_pg._tcp.db.test", DNS_T_SRV), DNS_S_INVALID);
}

static void test_name_too_long(void **st)
{
	/* 5 labels of 63 bytes: 320 bytes on the wire, over 255 */
	uint8_t b[600] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0 };
	size_t o = 12;
	(void)st;
	for (int i = 0; i < 5; i++) {
		b[o++] = 63;
		memset(b + o, 'a', 63);
		o += 63;
	}
	b[o++] = 0;
	b[o++] = 0; b[o++] = 1; b[o++] = 0; b[o++] = 1;
	assert_int_equal(parse(b, o, 0x1234, "a", DNS_T_A), DNS_S_INVALID);
}

static void test_many_records_bounded(void **st)
{
	/* 200 A records: DNS_MAX_RR kept, the others counted */
	static uint8_t b[4096];
	int n = dns_build_query(b, sizeof(b), 7, "m.test", DNS_T_A, 0);
	size_t o = (size_t)n;
	(void)st;
	b[2] = 0x81; b[3] = 0x80; b[6] = 0; b[7] = 200;
	for (int i = 0; i < 200; i++) {
		static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 10, 0, 0, 0 };
		memcpy(b + o, rr, sizeof(rr));
		b[o + 15] = (uint8_t)i;
		o += sizeof(rr);
	}
	assert_int_equal(parse(b, o, 7, "m.test", DNS_T_A), DNS_S_VALID);
	assert_int_equal(resp.nrr, DNS_MAX_RR);
	assert_int_equal(resp.ndropped, 200 - DNS_MAX_RR);
}

static struct dns_ip ip4(const char *s)
{
	struct dns_ip ip = { .family = AF_INET };
	inet_pton(AF_INET, s, ip.a);
	return ip;
}

static void test_pick(void **st)
{
	struct dns_ip c[3] = { ip4("10.0.0.1"), ip4("10.0.0.2"), ip4("192.168.0.3") };
	struct dns_ip taken[1] = { ip4("10.0.0.1") }, cur = ip4("10.0.0.2");
	struct cfg_net net;
	(void)st;
	assert_int_equal(dns_pick_ip(c, 3, NULL, AF_INET, NULL, 0, NULL, 0, 0), 0);
	assert_int_equal(dns_pick_ip(c, 3, &cur, AF_INET, NULL, 0, NULL, 0, 0), 1);   /* keeps its own */
	assert_int_equal(dns_pick_ip(c, 3, NULL, AF_INET, NULL, 0, taken, 1, 0), 1);  /* not a taken one */
	assert_int_equal(dns_pick_ip(c, 3, NULL, AF_INET, NULL, 0, taken, 1, 1), 0);  /* allow-dup-ip */
	assert_int_equal(cfg_net_parse("192.168.0.0/16", &net), 0);
	assert_int_equal(dns_pick_ip(c, 3, NULL, AF_INET, &net, 1, NULL, 0, 0), 2);   /* resolve-net */
	assert_int_equal(dns_pick_ip(c, 1, NULL, AF_INET6, NULL, 0, NULL, 0, 0), 0);  /* other family */
	assert_int_equal(dns_pick_ip(c, 1, NULL, AF_INET, NULL, 0, taken, 1, 0), -1); /* none left */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_query),
		cmocka_unit_test(test_srv_parse),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_wrong_id_and_question),
		cmocka_unit_test(test_rcodes_and_tc),
		cmocka_unit_test(test_tc_a_answer),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_compression_loops),
		cmocka_unit_test(test_bad_rdata),
		cmocka_unit_test(test_name_too_long),
		cmocka_unit_test(test_many_records_bounded),
		cmocka_unit_test(test_pick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
