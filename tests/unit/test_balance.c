/* The balancing algorithms, with exact pick counts over a server table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "balance/server.h"

#define MAXS 8

static struct backend be;
static struct server srv[MAXS];
static struct server *tab[MAXS];
static char names[MAXS][16];

static void setup_be(enum lb_algo a, int n, const int *weights)
{
	memset(&be, 0, sizeof(be));
	memset(srv, 0, sizeof(srv));
	for (int i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "s%d", i + 1);
		srv[i].name = names[i];
		srv[i].id = i + 1;
		srv[i].be = &be;
		srv[i].up = 1;
		srv[i].iweight = srv[i].uweight = srv[i].eweight = weights ? weights[i] : 1;
		srv[i].lag_permille = 1000;
		tab[i] = &srv[i];
	}
	be.name = "be";
	be.srv = tab;
	be.nsrv = n;
	be.rng = 12345;
	backend_init(&be, a, HASH_MAP, 2);
}

/* Picks n times; when hold is 0 each connection ends at once. */
static void pick_n(int n, int *counts, int hold)
{
	int full;
	for (int i = 0; i < n; i++) {
		struct server *s = lb_pick(&be, (uint32_t)i, NULL, &full);
		assert_non_null(s);
		counts[s->id - 1]++;
		if (hold)
			s->cur_conns++;
	}
}

static void test_roundrobin_equal(void **st)
{
	int c[MAXS] = { 0 };
	(void)st;
	setup_be(LB_ROUNDROBIN, 3, NULL);
	pick_n(3000, c, 0);
	assert_int_equal(c[0], 1000);
	assert_int_equal(c[1], 1000);
	assert_int_equal(c[2], 1000);
}

static void test_roundrobin_weights(void **st)
{
	int c[MAXS] = { 0 };
	static const int w[] = { 1, 2 };
	(void)st;
	setup_be(LB_ROUNDROBIN, 2, w);
	pick_n(30, c, 0);
	assert_int_equal(c[0], 10);
	assert_int_equal(c[1], 20);
}

static void test_roundrobin_smooth_order(void **st)
{
	static const int w[] = { 5, 1, 1 };
	char seq[8] = "";
	int full;
	(void)st;
	setup_be(LB_ROUNDROBIN, 3, w);
	for (int i = 0; i < 7; i++)
		seq[i] = (char)('a' + lb_pick(&be, 0, NULL, &full)->id - 1);
	assert_string_equal(seq, "aabacaa"); /* evenly spread, no burst of five */
}

static void test_roundrobin_weight_change_live(void **st)
{
	int c[MAXS] = { 0 };
	(void)st;
	setup_be(LB_ROUNDROBIN, 2, NULL);
	server_set_weight(&srv[1], 3);
	pick_n(40, c, 0);
	assert_int_equal(c[0], 10);
	assert_int_equal(c[1], 30);
	server_set_weight(&srv[1], 0); /* weight 0: no new connections */
	memset(c, 0, sizeof(c));
	pick_n(10, c, 0);
	assert_int_equal(c[0], 10);
	assert_int_equal(c[1], 0);
}

static void test_roundrobin_skips_down(void **st)
{
	int c[MAXS] = { 0 };
	(void)st;
	setup_be(LB_ROUNDROBIN, 3, NULL);
	server_set_up(&srv[1], 0, 0);
	pick_n(100, c, 0);
	assert_int_equal(c[0], 50);
	assert_int_equal(c[1], 0);
	assert_int_equal(c[2], 50);
}

static void test_static_rr_ignores_weight_change(void **st)
{
	int c[MAXS] = { 0 };
	static const int w[] = { 1, 2 };
	(void)st;
	setup_be(LB_STATIC_RR, 2, w);
	server_set_weight(&srv[0], 100);
	pick_n(30, c, 0);
	assert_int_equal(c[0], 10);
	assert_int_equal(c[1], 20);
}

static void test_leastconn_held(void **st)
{
	int c[MAXS] = { 0 };
	(void)st;
	setup_be(LB_LEASTCONN, 3, NULL);
	srv[0].cur_conns = 10; /* 10 sessions held on s1 */
	pick_n(10, c, 1);
	assert_int_equal(c[0], 0);
	assert_int_equal(c[1], 5);
	assert_int_equal(c[2], 5);
}

static void test_leastconn_idle_rotates(void **st)
{
	int c[MAXS] = { 0 };
	(void)st;
	setup_be(LB_LEASTCONN, 3, NULL);
	pick_n(300, c, 0); /* all idle: ties rotate */
	assert_int_equal(c[0], 100);
	assert_int_equal(c[1], 100);
	assert_int_equal(c[2], 100);
}

static void test_leastconn_weights(void **st)
{
	int c[MAXS] = { 0 };
	static const int w[] = { 1, 3 };
	(void)st;
	setup_be(LB_LEASTCONN, 2, w);
	pick_n(40, c, 1); /* held: load follows weight */
	assert_int_equal(c[0], 10);
	assert_int_equal(c[1], 30);
}

static void test_first(void **st)
{
	int c[MAXS] = { 0 };
	(void)st;
	setup_be(LB_FIRST, 3, NULL);
	srv[0].maxconn = 4;
	srv[1].maxconn = 2;
	srv[2].maxconn = 10;
	pick_n(9, c, 1);
	assert_int_equal(c[0], 4);
	assert_int_equal(c[1], 2);
	assert_int_equal(c[2], 3);
}

static void test_maxconn_saturation(void **st)
{
	int full;
	(void)st;
	setup_be(LB_ROUNDROBIN, 2, NULL);
	srv[0].maxconn = srv[1].maxconn = 1;
	srv[0].cur_conns = srv[1].cur_conns = 1;
	assert_null(lb_pick(&be, 0, NULL, &full));
	assert_int_equal(full, 1); /* the caller may queue */
	server_set_up(&srv[0], 0, 0);
	server_set_up(&srv[1], 0, 0);
	assert_null(lb_pick(&be, 0, NULL, &full));
	assert_int_equal(full, 0); /* nothing usable: close the client */
}

static void test_backup(void **st)
{
	int c[MAXS] = { 0 };
	(void)st;
	setup_be(LB_ROUNDROBIN, 4, NULL);
	srv[2].flags = SRV_F_BACKUP;
	srv[3].flags = SRV_F_BACKUP;
	pick_n(10, c, 0);
	assert_int_equal(c[2] + c[3], 0);
	server_set_up(&srv[0], 0, 0);
	server_set_up(&srv[1], 0, 0);
	memset(c, 0, sizeof(c));
	pick_n(10, c, 0);
	assert_int_equal(c[2], 10); /* only the first backup */
	be.allbackups = 1;
	memset(c, 0, sizeof(c));
	pick_n(10, c, 0);
	assert_int_equal(c[2], 5);
	assert_int_equal(c[3], 5);
}

static void test_avoid_on_retry(void **st)
{
	int full;
	(void)st;
	setup_be(LB_ROUNDROBIN, 2, NULL);
	for (int i = 0; i < 10; i++)
		assert_ptr_equal(lb_pick(&be, 0, &srv[0], &full), &srv[1]);
	server_set_up(&srv[1], 0, 0);
	/* the avoided one is better than nothing */
	assert_ptr_equal(lb_pick(&be, 0, &srv[0], &full), &srv[0]);
}

static void test_source_map_stable(void **st)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int full, c[MAXS] = { 0 };
	(void)st;
	setup_be(LB_SOURCE, 3, NULL);
	for (int i = 0; i < 3000; i++) {
		a.sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)i);
		uint32_t k = lb_hash_addr((struct sockaddr *)&a);
		struct server *s1 = lb_pick(&be, k, NULL, &full);
		struct server *s2 = lb_pick(&be, k, NULL, &full);
		assert_ptr_equal(s1, s2);
		c[s1->id - 1]++;
	}
	for (int i = 0; i < 3; i++) /* a fair hash: about a third each */
		assert_in_range(c[i], 850, 1150);
}

static void test_source_consistent_minimal_disruption(void **st)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct server *before[2000];
	int full, moved = 0;
	(void)st;
	setup_be(LB_SOURCE, 4, NULL);
	be.hash_type = HASH_CONSISTENT;
	backend_update(&be);
	for (int i = 0; i < 2000; i++) {
		a.sin_addr.s_addr = htonl(0xc0a80000u + (uint32_t)i * 7);
		before[i] = lb_pick(&be, lb_hash_addr((struct sockaddr *)&a), NULL, &full);
	}
	server_set_up(&srv[3], 0, 0);
	for (int i = 0; i < 2000; i++) {
		a.sin_addr.s_addr = htonl(0xc0a80000u + (uint32_t)i * 7);
		struct server *s = lb_pick(&be, lb_hash_addr((struct sockaddr *)&a), NULL, &full);
		assert_ptr_not_equal(s, &srv[3]);
		if (before[i] != &srv[3] && s != before[i])
			moved++;
	}
	assert_int_equal(moved, 0); /* only s4's clients moved */
	backend_free_lb(&be);
}

static void test_random_power_of_two(void **st)
{
	int c[MAXS] = { 0 };
	(void)st;
	setup_be(LB_RANDOM, 3, NULL);
	srv[0].cur_conns = 1000; /* heavily loaded: two draws nearly never pick it */
	pick_n(300, c, 0);
	assert_true(c[0] < 60);
	assert_true(c[1] > 80 && c[2] > 80);
	setup_be(LB_RANDOM, 3, NULL);
	memset(c, 0, sizeof(c));
	pick_n(3000, c, 1); /* held connections: power of two keeps them level */
	for (int i = 0; i < 3; i++)
		assert_in_range(c[i], 900, 1100);
}

/* As HAProxy: source hashing returns the client's server even when it is
 * full (the caller queues on it), map-based and consistent alike; a full
 * server is no candidate for the other algorithms, and a queue on a server
 * makes it full for newcomers. */
static void test_source_returns_the_full_server(void **st)
{
	int full;
	(void)st;
	for (int ht = HASH_MAP; ht <= HASH_CONSISTENT; ht++) {
		struct server *s;
		setup_be(LB_SOURCE, 2, NULL);
		be.hash_type = (enum hash_type)ht;
		backend_update(&be);
		s = lb_pick(&be, 777, NULL, &full);
		s->maxconn = 1;
		s->cur_conns = 1;
		assert_true(srv_full(s));
		assert_ptr_equal(lb_pick(&be, 777, NULL, &full), s);
		/* on a retry that avoids it, the other one */
		assert_ptr_not_equal(lb_pick(&be, 777, s, &full), s);
		backend_free_lb(&be);
	}
	setup_be(LB_ROUNDROBIN, 2, NULL);
	srv[0].maxconn = 5;
	srv[0].q.len = 1; /* someone waits for it: newcomers too */
	assert_true(srv_full(&srv[0]));
	for (int i = 0; i < 4; i++)
		assert_ptr_equal(lb_pick(&be, 0, NULL, &full), &srv[1]);
}

/* leastconn with maxqueue: a full server stays a candidate while its
 * connections and queue stay below maxconn + maxqueue. */
static void test_leastconn_maxqueue(void **st)
{
	int full;
	(void)st;
	setup_be(LB_LEASTCONN, 2, NULL);
	srv[0].maxconn = srv[1].maxconn = 1;
	srv[0].cur_conns = srv[1].cur_conns = 1;
	assert_null(lb_pick(&be, 0, NULL, &full)); /* no maxqueue: both full */
	assert_int_equal(full, 1);
	srv[0].maxqueue = srv[1].maxqueue = 1;
	assert_non_null(lb_pick(&be, 0, NULL, &full));
	srv[0].q.len = 1;
	assert_ptr_equal(lb_pick(&be, 0, NULL, &full), &srv[1]);
	srv[1].q.len = 1;
	assert_null(lb_pick(&be, 0, NULL, &full));
}

/* HAProxy's queue positions (%sq, %bq): 1 + those that left with a slot
 * while it waited; the sequence orders a server's and a backend's queues. */
static void test_queue_positions(void **st)
{
	struct queue q = { 0 }, q2 = { 0 };
	struct qnode a, b, c, d;
	(void)st;
	queue_push(&q, &a, 1);
	queue_push(&q, &b, 2);
	queue_push(&q2, &d, 3);
	assert_int_equal(q.len, 2);
	assert_ptr_equal(queue_older(q.head, q2.head), &a);
	assert_int_equal(queue_remove(&a, 1), 1);      /* first served */
	queue_push(&q, &c, 4);
	assert_ptr_equal(queue_older(q.head, q2.head), &b);
	assert_int_equal(queue_remove(&b, 1), 2);      /* a went first */
	assert_int_equal(queue_remove(&c, 0), 2);      /* b went first; c gave up */
	assert_int_equal(queue_remove(&c, 0), 0);      /* not queued any more */
	assert_int_equal(q.len, 0);
	assert_null(q.head);
	assert_null(q.tail);
	assert_int_equal(queue_remove(&d, 1), 1);
}

/* slowstart 10s, as HAProxy 2.6: step (16 x elapsed + 10) / 10 in whole
 * seconds, maxconn x (100 x elapsed / 10) %, full after 10 s; roundrobin
 * gives the warming server step / (16 + step) of the picks; static-rr and
 * map-based hashing ignore the weight part. */
static void test_slowstart_ramp(void **st)
{
	int counts[2] = { 0, 0 };
	(void)st;
	setup_be(LB_ROUNDROBIN, 2, NULL);
	srv[1].slowstart_ms = 10000;
	srv[1].maxconn = 100;
	server_set_up(&srv[1], 0, 1000);
	assert_int_equal(srv[1].warm_step, 0);
	server_set_up(&srv[1], 1, 5000);
	assert_int_equal(srv[1].warm_step, 1);
	assert_int_equal(srv[1].warm_maxconn, 1);
	assert_int_equal(server_throttle(&srv[1]), 7); /* HAProxy: ceil(100 / 16) */
	pick_n(1700, counts, 0);
	assert_int_equal(counts[1], 100); /* 1 of 17 */
	assert_int_equal(server_warm_update(&srv[1], 10999), 1); /* 5.999 s: 5 whole seconds */
	assert_int_equal(srv[1].warm_step, 9);
	assert_int_equal(srv[1].warm_maxconn, 50);
	assert_int_equal(server_throttle(&srv[1]), 57);
	assert_int_equal(server_warm_update(&srv[1], 14000), 1);
	assert_int_equal(srv[1].warm_step, 15);
	assert_int_equal(server_warm_update(&srv[1], 15000), 0); /* full */
	assert_int_equal(srv[1].warm_step, 0);
	assert_int_equal(srv[1].warm_maxconn, 0);
	assert_int_equal(server_throttle(&srv[1]), -1);
	assert_int_equal(srv_lbw(&srv[1]), SRV_WSCALE);
	/* a server without slowstart is at full weight at once */
	server_set_up(&srv[0], 0, 16000);
	server_set_up(&srv[0], 1, 17000);
	assert_int_equal(srv[0].warm_since_ms, 0);
	assert_int_equal(srv_lbw(&srv[0]), SRV_WSCALE);
	/* static-rr: no weight ramp, but maxconn still ramps (HAProxy's
	 * srv_dynamic_maxconn ignores the algorithm), throttle 100 */
	setup_be(LB_STATIC_RR, 2, NULL);
	srv[1].slowstart_ms = 10000;
	srv[1].maxconn = 10;
	server_set_up(&srv[1], 0, 1000);
	server_set_up(&srv[1], 1, 2000);
	assert_int_equal(srv_lbw(&srv[1]), SRV_WSCALE);
	assert_int_equal(srv[1].warm_maxconn, 1);
	assert_int_equal(server_throttle(&srv[1]), 100);
	backend_free_lb(&be);
}

/* observe layer4: error_limit errors in a row report once, a success in
 * between starts the count again. */
static void test_observe_count(void **st)
{
	struct server s;
	(void)st;
	memset(&s, 0, sizeof(s));
	s.observe = 1;
	s.error_limit = 3;
	assert_int_equal(server_observe_l4(&s, 0), 0);
	assert_int_equal(server_observe_l4(&s, 0), 0);
	assert_int_equal(server_observe_l4(&s, 1), 0);
	assert_int_equal(server_observe_l4(&s, 0), 0);
	assert_int_equal(server_observe_l4(&s, 0), 0);
	assert_int_equal(server_observe_l4(&s, 0), 3);
	assert_int_equal(s.consec_errors, 0);
	assert_int_equal(s.hanafail, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundrobin_equal),
		cmocka_unit_test(test_roundrobin_weights),
		cmocka_unit_test(test_roundrobin_smooth_order),
		cmocka_unit_test(test_roundrobin_weight_change_live),
		cmocka_unit_test(test_roundrobin_skips_down),
		cmocka_unit_test(test_static_rr_ignores_weight_change),
		cmocka_unit_test(test_leastconn_held),
		cmocka_unit_test(test_leastconn_idle_rotates),
		cmocka_unit_test(test_leastconn_weights),
		cmocka_unit_test(test_first),
		cmocka_unit_test(test_maxconn_saturation),
		cmocka_unit_test(test_backup),
		cmocka_unit_test(test_avoid_on_retry),
		cmocka_unit_test(test_source_map_stable),
		cmocka_unit_test(test_source_consistent_minimal_disruption),
		cmocka_unit_test(test_random_power_of_two),
		cmocka_unit_test(test_source_returns_the_full_server),
		cmocka_unit_test(test_leastconn_maxqueue),
		cmocka_unit_test(test_queue_positions),
		cmocka_unit_test(test_slowstart_ramp),
		cmocka_unit_test(test_observe_count),
	};
	return cmocka_run_group_tests_name("balance", tests, NULL, NULL);
}
