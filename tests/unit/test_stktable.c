/* Stick tables (src/rules/stktable*.c) on an injected clock: keys of each
 * type, data types and rates over time, expiry, the size limit and the
 * eviction order, nopurge, references, two threads at once, the "show
 * table" line; and the stick-table line's errors with HAProxy 2.6.12's
 * words (haproxy -c gave the same sentences). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "config/model.h"
#include "rules/stktable.h"
#include "rules/stktable_int.h"

#define T0 1000000ULL          /* the injected clock's start (ms) */

static struct stktable *table(enum stk_key_type type, unsigned len, unsigned size, uint32_t expire,
			      const char *store)
{
	struct stk_def d = { .type = type, .key_len = len, .size = size, .expire = expire };
	char buf[256], name[64], *save = NULL;
	int warn;

	snprintf(buf, sizeof(buf), "%s", store ? store : "");
	for (char *it = strtok_r(buf, " ", &save); it; it = strtok_r(NULL, " ", &save))
		assert_null(stk_def_store(&d, it, name, sizeof(name), &warn));
	return stktable_new("t", &d);
}

static struct stk_key ipkey(const char *a)
{
	struct stk_key k = { .len = 4 };
	inet_pton(AF_INET, a, k.buf);
	return k;
}

static struct stk_key strkey(const char *s)
{
	struct stk_key k = { .p = s, .len = strlen(s) };
	return k;
}

static long long get(struct stktable *t, struct stksess *ts, const char *dt, int idx, uint64_t now)
{
	long long v = -1;
	assert_int_equal(stktable_data_get(t, ts, stk_dt_index(dt), idx, now, &v), 0);
	return v;
}

/* The "show table" line of key k. */
static const char *line(struct stktable *t, struct stk_key k, uint64_t now)
{
	static char buf[512];
	struct stksess *ts = stktable_lookup(t, &k, now);

	assert_non_null(ts);
	stktable_release(t, ts);
	stktable_format(t, ts, now, buf, sizeof(buf));
	return buf;
}

static void test_keys(void **st)
{
	struct stktable *t = table(STK_KEY_IP, 0, 10, 0, "conn_cnt");
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct stk_key k;
	const char *err;
	(void)st;

	/* an address, a v4-mapped one, and text read as HAProxy's inetaddr_host */
	inet_pton(AF_INET, "10.1.2.3", &s4.sin_addr);
	assert_int_equal(stktable_key_addr(t, (struct sockaddr *)&s4, &k), 0);
	stktable_release(t, stktable_get(t, &k, T0));
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
	assert_int_equal(stktable_key_addr(t, (struct sockaddr *)&s6, &k), 0);
	assert_int_equal(t->current, 1); /* the same entry */
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	assert_int_equal(stktable_key_addr(t, (struct sockaddr *)&s6, &k), -1);
	assert_int_equal(stktable_key_text(t, "foo", "Inserting", &k, &err), 0);
	assert_null(k.p);
	assert_memory_equal(k.buf, "\0\0\0\0", 4);
	assert_int_equal(stktable_key_text(t, "10.1.2.3", "Inserting", &k, &err), 0);
	assert_string_equal(line(t, k, T0), " key=10.1.2.3 use=0 exp=0 conn_cnt=0");
	stktable_put(t);

	t = table(STK_KEY_IPV6, 0, 10, 0, NULL);
	assert_int_equal(stktable_key_text(t, "zz", "Inserting", &k, &err), -1);
	assert_string_equal(err, "Invalid key\n");
	assert_int_equal(stktable_key_text(t, "::1", "Inserting", &k, &err), 0);
	stktable_release(t, stktable_get(t, &k, T0));
	assert_string_equal(line(t, k, T0), " key=::1 use=0 exp=0");
	stktable_put(t);

	t = table(STK_KEY_INT, 0, 10, 0, NULL);
	assert_int_equal(stktable_key_text(t, "-1", "Inserting", &k, &err), -1);
	assert_int_equal(stktable_key_text(t, "4294967296", "Inserting", &k, &err), -1);
	assert_int_equal(stktable_key_text(t, "4294967295", "Inserting", &k, &err), 0);
	stktable_release(t, stktable_get(t, &k, T0));
	assert_string_equal(line(t, k, T0), " key=4294967295 use=0 exp=0");
	stktable_put(t);

	/* strings are cut to len, and looked up by their first len characters */
	t = table(STK_KEY_STR, 8, 10, 0, NULL);
	k = strkey("abcdefghijkl");
	stktable_release(t, stktable_get(t, &k, T0));
	assert_string_equal(line(t, strkey("abcdefghZZ"), T0), " key=abcdefgh use=0 exp=0");
	k = strkey("a=b c");
	stktable_release(t, stktable_get(t, &k, T0));
	assert_string_equal(line(t, k, T0), " key=a\\=b\\ c use=0 exp=0");
	stktable_put(t);

	/* binary: padded with zeros, shown in hex; not settable from text */
	t = table(STK_KEY_BIN, 4, 10, 0, NULL);
	assert_int_equal(stktable_key_text(t, "1", "Showing", &k, &err), -1);
	assert_string_equal(err, "Showing keys from tables of type other than ip, ipv6, string and integer is not supported\n");
	k = strkey("ab");
	stktable_release(t, stktable_get(t, &k, T0));
	assert_string_equal(line(t, k, T0), " key=61620000 use=0 exp=0");
	stktable_put(t);
}

static void test_data_and_rates(void **st)
{
	struct stktable *t = table(STK_KEY_IP, 0, 10, 0,
				   "server_id conn_cnt conn_cur conn_rate(10s) bytes_in_cnt gpc0 gpc_rate(2,1m) server_key");
	struct stk_key k = ipkey("1.2.3.4");
	struct stksess *ts = stktable_get(t, &k, T0);
	int rate = stk_dt_index("conn_rate");
	long long v;
	(void)st;

	assert_non_null(ts);
	/* not stored: the fetch does not match */
	assert_int_equal(stktable_data_get(t, ts, stk_dt_index("sess_cnt"), 0, T0, &v), -1);
	assert_int_equal(stktable_data_add(t, ts, stk_dt_index("gpc1"), 0, 1, T0), -1);
	/* conn_cur goes up and down, and stops at 0 */
	stktable_data_add(t, ts, stk_dt_index("conn_cur"), 0, 1, T0);
	stktable_data_add(t, ts, stk_dt_index("conn_cur"), 0, -1, T0);
	stktable_data_add(t, ts, stk_dt_index("conn_cur"), 0, -1, T0);
	assert_int_equal(get(t, ts, "conn_cur", 0, T0), 0);
	stktable_data_add(t, ts, stk_dt_index("bytes_in_cnt"), 0, 5000000000LL, T0);
	assert_int_equal(get(t, ts, "bytes_in_cnt", 0, T0), 5000000000LL);
	stktable_data_set(t, ts, stk_dt_index("server_id"), 0, 3, T0);
	assert_int_equal(get(t, ts, "server_id", 0, T0), 3);
	assert_int_equal(stktable_set_server_key(t, ts, "s3"), 0);

	/* 20 connections in the first second of a 10 s period: the rate is 20
	 * for the period, then fades over the next one, then is 0 */
	for (int i = 0; i < 20; i++)
		stktable_data_add(t, ts, rate, 0, 1, T0 + (uint64_t)i * 50);
	assert_int_equal(get(t, ts, "conn_rate", 0, T0 + 5000), 20);
	assert_int_equal(get(t, ts, "conn_rate", 0, T0 + 9999), 20);
	assert_int_equal(get(t, ts, "conn_rate", 0, T0 + 15000), 10);
	assert_int_equal(get(t, ts, "conn_rate", 0, T0 + 19000), 2);
	assert_int_equal(get(t, ts, "conn_rate", 0, T0 + 20001), 0);
	/* an event in the next period: the old one counts for what is left */
	stktable_data_add(t, ts, rate, 0, 1, T0 + 12000);
	assert_int_equal(get(t, ts, "conn_rate", 0, T0 + 12500), 1 + 20 * 7500 / 10000);
	/* "set table": v for a whole period */
	stktable_data_set(t, ts, rate, 0, 7, T0 + 30000);
	assert_int_equal(get(t, ts, "conn_rate", 0, T0 + 39000), 7);
	/* array elements */
	stktable_data_add(t, ts, stk_dt_index("gpc_rate"), 1, 4, T0 + 30000);
	assert_int_equal(get(t, ts, "gpc_rate", 1, T0 + 30000), 4);
	assert_int_equal(stktable_data_get(t, ts, stk_dt_index("gpc_rate"), 2, T0, &v), -1);
	stktable_release(t, ts);
	assert_string_equal(line(t, k, T0 + 30000),
			    " key=1.2.3.4 use=0 exp=0 server_id=3 gpc0=0 conn_cnt=0 conn_rate(10000)=7"
			    " conn_cur=0 bytes_in_cnt=5000000000 server_key=s3"
			    " gpc0_rate(60000)=0 gpc1_rate(60000)=4");
	stktable_put(t);
}

static void test_expiry(void **st)
{
	struct stktable *t = table(STK_KEY_IP, 0, 100, 30000, "gpc0");
	struct stk_key a = ipkey("1.0.0.1"), b = ipkey("1.0.0.2");
	struct stksess *ta;
	(void)st;

	stktable_release(t, stktable_get(t, &a, T0));
	stktable_release(t, stktable_get(t, &b, T0 + 10000));
	assert_string_equal(line(t, a, T0 + 1000), " key=1.0.0.1 use=0 exp=29000 gpc0=0");
	/* a touch pushes the expiry */
	ta = stktable_lookup(t, &a, T0 + 20000);
	stktable_touch(t, ta, T0 + 20000, 1);
	assert_non_null(ta = stktable_lookup(t, &a, T0 + 45000));
	stktable_release(t, ta);
	/* b expired at T0 + 40 s: a lookup no longer finds it */
	assert_null(stktable_lookup(t, &b, T0 + 40000));
	assert_int_equal(stktable_used(t, T0 + 40000), 1);
	/* an entry in use outlives its expiry, and goes at the purge after */
	ta = stktable_lookup(t, &a, T0 + 45000);
	assert_int_equal(stktable_purge(t, T0 + 60000, 100), 0);
	assert_int_equal(t->current, 1);
	stktable_release(t, ta);
	assert_int_equal(stktable_purge(t, T0 + 60000, 100), 1);
	assert_int_equal(t->current, 0);
	/* the purge is bounded */
	for (int i = 0; i < 50; i++) {
		struct stk_key k = ipkey("2.0.0.0");
		k.buf[3] = (unsigned char)i;
		stktable_release(t, stktable_get(t, &k, T0));
	}
	assert_int_equal(stktable_purge(t, T0 + 31000, 20), 20);
	assert_int_equal(t->current, 30);
	stktable_put(t);
}

static void test_size_and_eviction(void **st)
{
	struct stktable *t = table(STK_KEY_INT, 0, 3, 0, "gpc0");
	struct stk_key k[5];
	struct stksess *held;
	(void)st;

	for (int i = 0; i < 5; i++) {
		uint32_t u = (uint32_t)i;
		k[i].p = NULL;
		k[i].len = 4;
		memcpy(k[i].buf, &u, 4);
	}
	for (int i = 0; i < 3; i++)
		stktable_release(t, stktable_get(t, &k[i], T0 + (uint64_t)i));
	/* 0 was touched last: 1 is the oldest now, and goes first */
	stktable_touch(t, stktable_lookup(t, &k[0], T0 + 10), T0 + 10, 1);
	stktable_release(t, stktable_get(t, &k[3], T0 + 11));
	assert_null(stktable_lookup(t, &k[1], T0 + 12));
	assert_int_equal(t->current, 3);
	/* a referenced entry is never evicted: 2 is held, so 0 goes */
	held = stktable_lookup(t, &k[2], T0 + 12);
	stktable_release(t, stktable_get(t, &k[4], T0 + 13));
	assert_null(stktable_lookup(t, &k[0], T0 + 14));
	assert_non_null(stktable_lookup(t, &k[2], T0 + 14));
	stktable_release(t, held);
	/* and it cannot be removed while in use */
	assert_int_equal(stktable_remove(t, &k[2], T0 + 15), -1);
	stktable_release(t, held);
	assert_int_equal(stktable_remove(t, &k[2], T0 + 15), 1);
	stktable_put(t);

	/* nopurge: a full table refuses new keys */
	{
		struct stk_def d = { .type = STK_KEY_INT, .size = 2, .nopurge = 1 };
		t = stktable_new("np", &d);
		stktable_release(t, stktable_get(t, &k[0], T0));
		stktable_release(t, stktable_get(t, &k[1], T0));
		assert_null(stktable_get(t, &k[2], T0));
		assert_non_null(held = stktable_get(t, &k[1], T0)); /* an existing key still */
		stktable_release(t, held);
		stktable_put(t);
	}
	/* everything referenced: no room either */
	t = table(STK_KEY_INT, 0, 1, 0, NULL);
	held = stktable_get(t, &k[0], T0);
	assert_null(stktable_get(t, &k[1], T0));
	stktable_release(t, held);
	assert_non_null(held = stktable_get(t, &k[1], T0));
	stktable_release(t, held);
	stktable_put(t);
}

struct order { char keys[256]; };

static void collect_key(void *arg, const struct stktable *t, const struct stksess *ts)
{
	char buf[128];
	struct order *o = arg;

	stktable_format(t, ts, T0, buf, sizeof(buf));
	strcat(o->keys, strtok(buf, " "));
	strcat(o->keys, ";");
}

static void test_walk_order_and_filters(void **st)
{
	struct stktable *t = table(STK_KEY_INT, 0, 10, 0, "gpc0");
	const char *keys[] = { "2", "256", "1" };
	struct stk_filter f = { stk_dt_index("gpc0"), STK_OP_GT, 0 };
	struct order o = { "" };
	const char *err;
	(void)st;

	for (int i = 0; i < 3; i++) {
		struct stk_key k;
		struct stksess *ts;
		stktable_key_text(t, keys[i], "Inserting", &k, &err);
		ts = stktable_get(t, &k, T0);
		stktable_data_set(t, ts, f.dt, 0, i, T0);
		stktable_release(t, ts);
	}
	/* HAProxy's order: the stored bytes (host order for integers) */
	assert_int_equal(stktable_walk(t, T0, NULL, 0, collect_key, &o), 3);
	assert_string_equal(o.keys, "key=256;key=1;key=2;");
	o.keys[0] = 0;
	stktable_walk(t, T0, &f, 1, collect_key, &o);
	assert_string_equal(o.keys, "key=256;key=1;");
	assert_int_equal(stktable_clear(t, T0, &f, 1), 2);
	assert_int_equal(t->current, 1);
	assert_int_equal(stk_op_parse("ge"), STK_OP_GE);
	assert_int_equal(stk_op_parse("xx"), -1);
	stktable_put(t);
}

/* Two threads get, count and release entries of one table at once. */
struct stress { struct stktable *t; int id; };

static void *stress_run(void *arg)
{
	struct stress *s = arg;
	int cnt = stk_dt_index("conn_cnt"), cur = stk_dt_index("conn_cur");

	for (int i = 0; i < 20000; i++) {
		struct stk_key k = ipkey("10.0.0.0");
		struct stksess *ts;
		k.buf[3] = (unsigned char)(i % 64);
		ts = stktable_get(s->t, &k, T0 + (uint64_t)i);
		if (!ts)
			continue; /* full of entries the other thread holds */
		stktable_data_add(s->t, ts, cnt, 0, 1, T0);
		stktable_data_add(s->t, ts, cur, 0, 1, T0);
		stktable_data_add(s->t, ts, cur, 0, -1, T0);
		stktable_touch(s->t, ts, T0 + (uint64_t)i, 1);
	}
	return NULL;
}

static void test_two_threads(void **st)
{
	struct stktable *t = table(STK_KEY_IP, 0, 64, 0, "conn_cnt conn_cur");
	struct stress a = { t, 0 }, b = { t, 1 };
	pthread_t ta, tb;
	long long total = 0;
	(void)st;

	pthread_create(&ta, NULL, stress_run, &a);
	pthread_create(&tb, NULL, stress_run, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	/* 64 keys fit: nothing was evicted, and no count was lost */
	assert_int_equal(t->current, 64);
	for (int i = 0; i < 64; i++) {
		struct stk_key k = ipkey("10.0.0.0");
		struct stksess *ts;
		k.buf[3] = (unsigned char)i;
		ts = stktable_lookup(t, &k, T0);
		assert_non_null(ts);
		total += get(t, ts, "conn_cnt", 0, T0);
		assert_int_equal(ts->ref, 1); /* ours only: every reference was given back */
		assert_int_equal(get(t, ts, "conn_cur", 0, T0), 0);
		stktable_release(t, ts);
	}
	assert_int_equal(total, 40000);
	stktable_put(t);
}

/* ---- the stick-table line ------------------------------------------------------ */

static char *out;
static size_t outlen;

static const char *parse(const char *text, struct cfg *c)
{
	FILE *diag;

	free(out);
	diag = open_memstream(&out, &outlen);
	cfg_init(c, diag);
	cfg_parse_text(c, "t.cfg", text);
	cfg_validate(c);
	fclose(diag);
	return out;
}

#define BASE "defaults\n mode tcp\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n"

static void test_config(void **st)
{
	static const struct { const char *line, *msg; } bad[] = {
		{ "stick-table type ip size 10 store conn_rate", "t.cfg:7: stick-table: missing argument to store option 'conn_rate'.\n" },
		{ "stick-table type ip size 10 store gpc0(3)", "t.cfg:7: stick-table: unexpected argument to store option 'gpc0'.\n" },
		{ "stick-table type ip size 10 store gpc(101)", "t.cfg:7: stick-table: array size is out of allowed range (1-100) for store option 'gpc'.\n" },
		{ "stick-table type ip size 10 store gpc(2),gpc0", "t.cfg:7: stick-table: simultaneous usage of 'gpc' and 'gpc[0/1]' in a same table is not permitted as 'gpc' overrides 'gpc[0/1]'.\n" },
		{ "stick-table type ip size 10 store foo", "t.cfg:7: stick-table: unknown store option 'foo'.\n" },
		{ "stick-table type ip size 10 store conn_rate(10x)", "t.cfg:7: stick-table: error when processing store option 'conn_rate'.\n" },
		{ "stick-table type ip size 10 store conn_rate(10s", "t.cfg:7: stick-table: missing closing parenthesis after store option 'conn_rate'.\n" },
		{ "stick-table type ip size 10x", "t.cfg:7: stick-table: unexpected character 'x' in argument of 'size'.\n" },
		{ "stick-table type ip size", "t.cfg:7: stick-table: missing argument after 'size'.\n" },
		{ "stick-table type ip", "t.cfg:7: stick-table: missing size.\n" },
		{ "stick-table size 10", "t.cfg:7: stick-table: missing type.\n" },
		{ "stick-table type string len 0 size 10", "t.cfg:7: stick-table: unknown type '0'.\n" },
		{ "stick-table type ip len 4 size 10", "t.cfg:7: stick-table: unknown argument 'len'.\n" },
		{ "stick-table type ip size 10 expire 10x", "t.cfg:7: stick-table: unexpected character 'x' in argument of 'expire'.\n" },
		{ "stick-table type ip size 10 expire 30d", "t.cfg:7: stick-table: timer overflow in argument <30d> to <expire>, maximum value is 2147483647 ms (~24.8 days).\n" },
		{ "stick-table type ip size 10 srvkey foo", "t.cfg:7: stick-table : unknown server key type 'foo'.\n" },
		{ "stick-table type ip size 10 peers p", "t.cfg:7: stick-table: 'peers p': replicating a table between processes is not supported yet\n" },
	};
	struct cfg c;
	char text[1024];
	(void)st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), BASE "backend be\n %s\n server s 127.0.0.1:1\n", bad[i].line);
		assert_string_equal(parse(text, &c), bad[i].msg);
		cfg_free(&c);
	}
	/* a good one, a table-only backend, a warning, and the name conflicts */
	parse(BASE "backend be\n stick-table type string len 8 size 1k expire 30s nopurge store gpc0,gpc0 store conn_rate(10s)\n"
	      "backend only\n stick-table type ipv6 size 10\n", &c);
	assert_string_equal(out, "t.cfg:7: warning: stick-table: store option 'gpc0' already enabled, ignored.\n");
	{
		struct cfg_proxy *px = cfg_find_table(&c, "be");
		assert_non_null(px);
		assert_int_equal(px->table->def.size, 1024);
		assert_int_equal(px->table->def.key_len, 8);
		assert_int_equal(px->table->def.expire, 30000);
		assert_int_equal(px->table->def.period[STK_DT_CONN_RATE], 10000);
		assert_int_equal(px->table->def.nopurge, 1);
		assert_non_null(cfg_find_table(&c, "only"));
	}
	cfg_free(&c);
	parse(BASE " stick-table type ip size 10\nfrontend x\n bind 127.0.0.1:1\n stick-table type ip size 10\n default_backend x\n"
	      "backend x\n stick-table type ip size 10\n server s 127.0.0.1:1\n", &c);
	assert_string_equal(out, "t.cfg:6: 'stick-table' is not supported in 'defaults' section.\n"
				 "t.cfg:12: stick-table name 'x' conflicts with table declared in frontend 'x' at t.cfg:9.\n");
	cfg_free(&c);
}

static int teardown(void **st)
{
	(void)st;
	free(out);
	out = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_data_and_rates),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_size_and_eviction),
		cmocka_unit_test(test_walk_order_and_filters),
		cmocka_unit_test(test_two_threads),
		cmocka_unit_test_teardown(test_config, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
