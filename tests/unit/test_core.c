/* Core helpers: durations, sizes, integers, addresses, the timer heap,
 * suggestions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/addr.h"
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

/* HAProxy's limits, each unit at its last valid value and one past it; a
 * product that wraps past 2^64 is out of range, not a small duration. */
static void test_duration_limits(void **st)
{
	static const struct { const char *text; int64_t ms; } ok[] = {
		{ "2147483647", 2147483647 }, { "2147483647ms", 2147483647 },
		{ "2147483647000us", 2147483647 }, { "2147483s", 2147483000 },
		{ "35791m", 2147460000 }, { "596h", 2145600000 }, { "24d", 2073600000 },
	};
	static const char *const too_large[] = {
		"2147483648", "2147483648ms", "2147483647001us", "2147484s", "35792m",
		"597h", "25d", "213503982335d", "99999999999999999999",
		"18446744073709551617ms", "3000000000",
	};
	int64_t ms;
	int accepted = 0;
	(void)st;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_null(parse_duration_ms(ok[i].text, &ms));
		assert_int_equal(ms, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(too_large) / sizeof(too_large[0]); i++)
		if (!parse_duration_ms(too_large[i], &ms)) {
			print_error("%s gave %lld ms\n", too_large[i], (long long)ms);
			accepted++;
		}
	assert_int_equal(accepted, 0);
	for (size_t i = 0; i < sizeof(too_large) / sizeof(too_large[0]); i++)
		assert_string_equal(parse_duration_ms(too_large[i], &ms), DURATION_RANGE);
}

static void test_size_limits(void **st)
{
	static const struct { const char *text; uint64_t bytes; } ok[] = {
		{ "4294967295", 4294967295u }, { "4194303k", 4194303ull << 10 },
		{ "4095m", 4095ull << 20 }, { "3g", 3ull << 30 }, { "3GB", 3ull << 30 },
	};
	static const char *const too_large[] = {
		"4294967296", "4194304k", "4096m", "4g", "17179869184g",
		"99999999999999999999", "18446744073709551616",
	};
	uint64_t b;
	int accepted = 0;
	(void)st;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_null(parse_size(ok[i].text, &b));
		assert_int_equal(b, ok[i].bytes);
	}
	for (size_t i = 0; i < sizeof(too_large) / sizeof(too_large[0]); i++)
		if (!parse_size(too_large[i], &b)) {
			print_error("%s gave %llu bytes\n", too_large[i], (unsigned long long)b);
			accepted++;
		}
	assert_int_equal(accepted, 0);
	for (size_t i = 0; i < sizeof(too_large) / sizeof(too_large[0]); i++)
		assert_string_equal(parse_size(too_large[i], &b), SIZE_RANGE);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_duration_limits),
		cmocka_unit_test(test_sizes_and_ints),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_heap_order),
		cmocka_unit_test(test_suggest),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
