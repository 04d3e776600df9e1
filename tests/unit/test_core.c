/* Core helpers: durations, sizes, integers, addresses, the timer heap,
 * suggestions, the signal handler's log lines, the intrusive list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/dlist.h"
#include "core/log.h"
#include "core/log_sigsafe.h"
#include "core/heap.h"
#include "core/strutil.h"
#include "core/units.h"

static void test_durations(void **st)
{
	int64_t ms;
	(void)st;
	assert_null(parse_duration_ms("500", &ms)); assert_int_equal(ms, 500);
	assert_null(parse_duration_ms("5s", &ms)); assert_int_equal(ms, 5000);
	assert_null(parse_duration_ms("30m", &ms)); assert_int_equal(ms, 1800000);
	assert_null(parse_duration_ms("2h", &ms)); assert_int_equal(ms, 7200000);
	assert_null(parse_duration_ms("1d", &ms)); assert_int_equal(ms, 86400000);
	assert_null(parse_duration_ms("1500us", &ms)); assert_int_equal(ms, 2);
	assert_null(parse_duration_ms("250ms", &ms)); assert_int_equal(ms, 250);
	assert_string_equal(parse_duration_ms("5x", &ms), "unknown time unit (expected us, ms, s, m, h or d)");
	assert_string_equal(parse_duration_ms("s", &ms), "expects a duration such as 500ms, 5s, 30m");
}

#define DURATION_RANGE "out of range (at most 2147483647 ms, about 24.8 days)"
#define SIZE_RANGE "out of range (at most 4294967295 bytes, just under 4g)"

/* HAProxy's limits, each unit at its last valid value and one past it
 * (value 0: out of range); a product that wraps past 2^64 is out of range,
 * not a small value. kind: 'd' a duration in ms, 's' a size in bytes. */
static const struct { char kind; const char *text; uint64_t value; } limits[] = {
	{ 'd', "2147483647", 2147483647 }, { 'd', "2147483648", 0 },
	{ 'd', "2147483647ms", 2147483647 }, { 'd', "2147483648ms", 0 },
	{ 'd', "2147483647000us", 2147483647 }, { 'd', "2147483647001us", 0 },
	{ 'd', "2147483s", 2147483000 }, { 'd', "2147484s", 0 },
	{ 'd', "35791m", 2147460000 }, { 'd', "35792m", 0 },
	{ 'd', "596h", 2145600000 }, { 'd', "597h", 0 },
	{ 'd', "24d", 2073600000 }, { 'd', "25d", 0 },
	{ 'd', "213503982335d", 0 }, { 'd', "3000000000", 0 },
	{ 'd', "99999999999999999999", 0 }, { 'd', "18446744073709551617ms", 0 },
	{ 's', "4294967295", 4294967295u }, { 's', "4294967296", 0 },
	{ 's', "4194303k", 4194303ull << 10 }, { 's', "4194304k", 0 },
	{ 's', "4095m", 4095ull << 20 }, { 's', "4096m", 0 },
	{ 's', "3g", 3ull << 30 }, { 's', "3GB", 3ull << 30 }, { 's', "4g", 0 },
	{ 's', "17179869184g", 0 }, { 's', "99999999999999999999", 0 },
	{ 's', "18446744073709551616", 0 },
};

static void test_duration_and_size_limits(void **st)
{
	int wrong = 0;
	(void)st;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		int64_t ms = 0;
		uint64_t v = 0;
		const char *want = limits[i].value ? NULL : limits[i].kind == 'd' ? DURATION_RANGE : SIZE_RANGE;
		const char *e = limits[i].kind == 'd' ? parse_duration_ms(limits[i].text, &ms)
						      : parse_size(limits[i].text, &v);
		if (limits[i].kind == 'd')
			v = (uint64_t)ms;
		if (e ? !want || strcmp(e, want) : want || v != limits[i].value) {
			print_error("%s: %s (value %llu)\n", limits[i].text, e ? e : "accepted",
				    (unsigned long long)v);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

static void test_sizes_and_ints(void **st)
{
	uint64_t b;
	long v;
	(void)st;
	assert_null(parse_size("16k", &b)); assert_int_equal(b, 16384);
	assert_null(parse_size("64M", &b)); assert_int_equal(b, 64u << 20);
	assert_null(parse_size("1g", &b)); assert_int_equal(b, 1u << 30);
	assert_null(parse_size("100", &b)); assert_int_equal(b, 100);
	assert_non_null(parse_size("12q", &b));
	assert_null(parse_int("42", 0, 100, &v)); assert_int_equal(v, 42);
	assert_string_equal(parse_int("101", 0, 100, &v), "value out of range");
	assert_string_equal(parse_int("4x", 0, 100, &v), "expects an integer");
}

static void test_addresses(void **st)
{
	struct addr_spec a;
	char err[256], buf[128];
	(void)st;
	assert_int_equal(addr_parse("127.0.0.1:5432", 0, &a, err, sizeof(err)), 0);
	addr_str((struct sockaddr *)&a.ss, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:5432");
	assert_int_equal(addr_parse("*:80", 0, &a, err, sizeof(err)), 0);
	assert_true(a.wildcard);
	assert_int_equal(a.ss.ss_family, AF_INET);
	assert_int_equal(addr_parse(":::8080", 0, &a, err, sizeof(err)), 0);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	assert_true(a.wildcard);
	assert_int_equal(addr_parse("[::1]:443", 0, &a, err, sizeof(err)), 0);
	addr_str((struct sockaddr *)&a.ss, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:443");
	assert_int_equal(addr_parse("::1:443", 0, &a, err, sizeof(err)), 0);
	assert_int_equal(a.port_lo, 443);
	assert_int_equal(addr_parse("127.0.0.1:8000-8010", ADDR_F_RANGE, &a, err, sizeof(err)), 0);
	assert_int_equal(a.port_lo, 8000);
	assert_int_equal(a.port_hi, 8010);
	assert_int_equal(addr_parse("127.0.0.1:8000-8010", 0, &a, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid port '8000-8010'");
	assert_int_equal(addr_parse("127.0.0.1", 0, &a, err, sizeof(err)), -1);
	assert_string_equal(err, "missing port in '127.0.0.1'");
	assert_int_equal(addr_parse("127.0.0.1", ADDR_F_PORT_OPTIONAL, &a, err, sizeof(err)), 0);
	assert_int_equal(a.port_lo, 0);
	assert_int_equal(addr_parse("10.0.0.300:80", 0, &a, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid address '10.0.0.300'");
	assert_int_equal(addr_parse("localhost:80", ADDR_F_RESOLVE, &a, err, sizeof(err)), 0);
	assert_int_equal(addr_parse("unix@/tmp/x", 0, &a, err, sizeof(err)), -1);
	assert_int_equal(addr_parse("127.0.0.1:70000", 0, &a, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid port '70000'");
}

static void test_heap_order(void **st)
{
	struct heap h;
	struct heap_node n[100];
	uint64_t last = 0;
	(void)st;
	heap_init(&h);
	srand(7);
	for (int i = 0; i < 100; i++) {
		n[i].key = (uint64_t)(rand() % 1000);
		n[i].idx = -1;
		assert_int_equal(heap_push(&h, &n[i]), 0);
	}
	/* remove a few from the middle, move some others */
	for (int i = 0; i < 100; i += 7)
		heap_remove(&h, &n[i]);
	for (int i = 3; i < 100; i += 11)
		if (n[i].idx >= 0)
			heap_update(&h, &n[i], (uint64_t)(rand() % 1000));
	int count = 0;
	while (heap_top(&h)) {
		struct heap_node *t = heap_top(&h);
		assert_true(t->key >= last);
		last = t->key;
		heap_remove(&h, t);
		assert_int_equal(t->idx, -1);
		count++;
	}
	assert_int_equal(count, 100 - 15);
	heap_free(&h);
}

static void test_suggest(void **st)
{
	static const char *const c[] = { "balance", "bind", "backlog", "server", NULL };
	(void)st;
	assert_string_equal(str_suggest("balnce", c), "balance");
	assert_string_equal(str_suggest("sever", c), "server");
	assert_null(str_suggest("frobnicate", c));
	assert_int_equal(str_distance("kitten", "sitting"), 3);
}

/* The handler's own date formatting against strftime, over leap days,
 * century years, the epoch, before it and far after. */
static void test_sigsafe_time(void **st)
{
	static const long long fixed[] = { 0, -1, 59, 86399, 86400, 951782400 /* 2000-02-29 */,
					   951868799, 4107542400LL /* 2100-02-28 */, 4107628800LL,
					   1796169600 /* 2026-12-02 */, -2208988800LL /* 1900 */,
					   253402300799LL /* 9999-12-31 23:59:59 */ };
	(void)st;
	for (int i = 0; i < 4000; i++) {
		/* the fixed ones, then every ~9.1 days from 1930 to 2180 */
		long long t = i < (int)(sizeof(fixed) / sizeof(fixed[0])) ? fixed[i] : -1262304000LL + i * 789012LL;
		time_t tt = (time_t)t;
		struct tm tm;
		char want[64], got[32];
		gmtime_r(&tt, &tm);
		for (int iso = 0; iso < 2; iso++) {
			strftime(want, sizeof(want), iso ? "%Y-%m-%dT%H:%M:%SZ" : "%b %e %H:%M:%S", &tm);
			*log_sigsafe_time(got, got + sizeof(got), t, iso) = 0;
			assert_string_equal(got, want);
		}
	}
}

/* The offset table of a zone with summer time (central Europe, POSIX
 * rules: no tzdata needed) against localtime_r, every 50 minutes over the
 * next 400 days, which hold both changes of a year; and the offset right
 * before and after each change the table found. */
static void test_sigsafe_zone_changes(void **st)
{
	struct log_sigsafe s;
	time_t now = time(NULL);
	(void)st;
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	assert_int_equal(log_sigsafe_fill(&s, NULL), 0);
	assert_true(s.nzone >= 3); /* now, and at least two changes */
	for (long long t = now; t < now + 400LL * 86400; t += 3000) {
		time_t tt = (time_t)t;
		struct tm tm;
		localtime_r(&tt, &tm);
		assert_int_equal(log_sigsafe_gmtoff(&s, t), tm.tm_gmtoff);
	}
	for (int i = 1; i < s.nzone; i++) {
		assert_int_not_equal(log_sigsafe_gmtoff(&s, s.zone[i].from - 1), log_sigsafe_gmtoff(&s, s.zone[i].from));
		assert_true(s.zone[i].gmtoff == 3600 || s.zone[i].gmtoff == 7200);
	}
	unsetenv("TZ");
	tzset();
}

/* A line from log_sigsafe_send and the same from log_send, in each
 * format, to one UDP socket: the same bytes (taken within one second;
 * rfc3164 in a zone 5h30 east of UTC, so the offset is applied). */
static void test_sigsafe_send_matches_log_send(void **st)
{
	static const enum log_format fmts[] = { LOGF_RAW, LOGF_SHORT, LOGF_RFC3164, LOGF_RFC5424 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int rx = socket(AF_INET, SOCK_DGRAM, 0);
	(void)st;
	setenv("TZ", "IST-5:30", 1); /* POSIX form: no tzdata needed */
	tzset();
	assert_int_equal(bind(rx, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(rx, (struct sockaddr *)&a, &al), 0);
	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
		struct log_target t = { .kind = LOGT_UDP, .format = fmts[f], .facility = 16,
					.max_level = 7, .min_level = 0, .fd = -1 };
		struct log_targets ts = { &t, 1 };
		struct log_sigsafe s;
		char err[128], one[600], two[600];
		ssize_t n1, n2;
		int tries = 0;

		memcpy(&t.addr, &a, sizeof(a));
		t.addrlen = sizeof(a);
		assert_int_equal(log_targets_open(&ts, err, sizeof(err)), 0);
		log_sigsafe_fill(&s, &ts);
		do { /* again when a second ended between the two */
			time_t t0 = time(NULL);
			log_sigsafe_send(&s, 1, "seccomp: system call personality (135) not allowed");
			log_send(&ts, 1, "seccomp: system call personality (135) not allowed");
			n1 = recv(rx, one, sizeof(one) - 1, 0);
			n2 = recv(rx, two, sizeof(two) - 1, 0);
			assert_true(n1 > 0 && n2 > 0);
			one[n1] = two[n2] = 0;
			if (time(NULL) == t0)
				break;
		} while (++tries < 5);
		assert_string_equal(one, two);
		if (fmts[f] != LOGF_RAW) /* local0 (16) * 8 + alert (1) */
			assert_memory_equal(one, "<129>", 5);
		log_targets_close(&ts);
	}
	close(rx);
	unsetenv("TZ");
	tzset();
}

struct item {
	int v;
	struct dlist_link ln;
};

/* The values of l from first to last, as digits ("" when empty), after
 * checking each link's prev against the walk. */
static void dlist_values(const struct dlist *l, char *out)
{
	const struct dlist_link *prev = NULL;
	int n = 0;

	for (const struct dlist_link *e = l->first; e; prev = e, e = e->next, n++) {
		assert_ptr_equal(e->prev, prev);
		*out++ = (char)('0' + dlist_entry(e, struct item, ln)->v);
	}
	*out = 0;
	assert_int_equal(n, l->n);
}

/* Push to the head; remove the head, a middle one, the last, the only one. */
static void test_dlist(void **st)
{
	struct item it[5];
	struct dlist l = { 0 };
	char s[8];
	(void)st;
	dlist_values(&l, s);
	assert_string_equal(s, "");
	for (int i = 0; i < 5; i++) {
		it[i].v = i;
		dlist_push(&l, &it[i].ln);
	}
	dlist_values(&l, s);
	assert_string_equal(s, "43210");
	dlist_remove(&l, &it[4].ln); /* the head */
	dlist_remove(&l, &it[2].ln); /* a middle one */
	dlist_remove(&l, &it[0].ln); /* the last */
	dlist_values(&l, s);
	assert_string_equal(s, "31");
	assert_null(it[2].ln.prev);
	assert_null(it[2].ln.next);
	dlist_remove(&l, &it[3].ln);
	dlist_remove(&l, &it[1].ln); /* the only one */
	dlist_values(&l, s);
	assert_string_equal(s, "");
	assert_null(l.first);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes_and_ints),
		cmocka_unit_test(test_duration_and_size_limits),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_heap_order),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_sigsafe_time),
		cmocka_unit_test(test_sigsafe_zone_changes),
		cmocka_unit_test(test_sigsafe_send_matches_log_send),
		cmocka_unit_test(test_dlist),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
