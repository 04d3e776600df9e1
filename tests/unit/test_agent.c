/* agent_apply: the words of an agent reply applied to a server (pure apart
 * from backend_update), with replies straight from the network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "health/agent.h"

static struct backend be;
static struct server srv;
static struct server *tab[1];

static void setup(int weight, int maxconn)
{
	memset(&be, 0, sizeof(be));
	memset(&srv, 0, sizeof(srv));
	srv.name = "s1";
	srv.id = 1;
	srv.be = &be;
	srv.up = 1;
	srv.iweight = srv.uweight = srv.eweight = weight;
	srv.lag_permille = 1000;
	srv.maxconn = maxconn;
	tab[0] = &srv;
	be.name = "be";
	be.srv = tab;
	be.nsrv = 1;
	backend_init(&be, LB_ROUNDROBIN, HASH_MAP, 2);
}

static void teardown(void)
{
	backend_free_lb(&be);
}

static char warn[160];

static int apply(const char *reply)
{
	return agent_apply(&srv, reply, warn, sizeof(warn));
}

static void test_huge_percentage_is_capped_as_haproxy(void **st)
{
	(void)st;
	setup(10, 0);
	/* HAProxy caps a percentage at 25600 and the weight at 256 */
	assert_int_equal(apply("9999999999999999999%"), AGENT_R_CAPACITY);
	assert_int_equal(srv.eweight, 256);
	assert_string_equal(warn, "");
	assert_int_equal(apply("99999999999999999999999999999999%"), 0);
	assert_int_equal(srv.eweight, 256);
	assert_int_equal(apply("50%"), AGENT_R_CAPACITY);
	assert_int_equal(srv.eweight, 5);
	teardown();
}

static void test_bad_percentages_are_ignored_with_haproxy_words(void **st)
{
	(void)st;
	setup(10, 0);
	assert_int_equal(apply("50%x"), 0);
	assert_int_equal(srv.eweight, 10);
	assert_string_equal(warn, "agent warns : Trailing garbage in weight string");
	assert_int_equal(apply("-5%"), 0); /* not a number word for HAProxy either */
	assert_string_equal(warn, "agent reports an error : -5%");
	assert_int_equal(srv.eweight, 10);
	teardown();
}

static void test_huge_maxconn_is_ignored(void **st)
{
	(void)st;
	setup(1, 7);
	assert_int_equal(apply("maxconn:99999999999999999999"), 0);
	assert_int_equal(srv.maxconn, 7);
	assert_string_equal(warn, "agent warns : maxconn 99999999999999999999 out of range (0-10000000)");
	assert_int_equal(apply("maxconn:10000001"), 0);
	assert_int_equal(apply("maxconn:-3"), 0);
	assert_string_equal(warn, "agent warns : maxconn -3 out of range (0-10000000)");
	assert_int_equal(apply("maxconn:12x"), 0);
	assert_string_equal(warn, "agent warns : Trailing garbage in maxconn string");
	assert_int_equal(apply("maxconn:"), 0);
	assert_string_equal(warn, "agent warns : Require <maxconn>.");
	assert_int_equal(srv.maxconn, 7);
	assert_int_equal(apply("maxconn:10000000"), AGENT_R_CAPACITY);
	assert_int_equal(srv.maxconn, 10000000);
	teardown();
}

static void test_maxconn_change_is_reported(void **st)
{
	(void)st;
	setup(1, 1);
	assert_int_equal(apply("maxconn:10"), AGENT_R_CAPACITY);
	assert_int_equal(srv.maxconn, 10);
	assert_int_equal(apply("maxconn:10"), 0); /* no change, nothing to say */
	assert_int_equal(apply("MAXCONN:0"), AGENT_R_CAPACITY); /* 0: no limit */
	assert_int_equal(srv.maxconn, 0);
	teardown();
}

static void test_drain_and_ready_are_reported(void **st)
{
	(void)st;
	setup(10, 0);
	assert_int_equal(apply("drain"), AGENT_R_CAPACITY | AGENT_R_DRAIN);
	assert_int_equal(srv.eweight, 0);
	assert_false(srv_usable(&srv));
	assert_int_equal(apply("drain"), 0);
	assert_int_equal(apply("ready"), AGENT_R_CAPACITY | AGENT_R_READY);
	assert_int_equal(srv.eweight, 10);
	assert_int_equal(apply("50% drain"), AGENT_R_CAPACITY | AGENT_R_DRAIN); /* the admin word applies last */
	assert_int_equal(srv.eweight, 0);
	assert_int_equal(apply("ready 30%"), AGENT_R_CAPACITY); /* a weight, not the configured one */
	assert_int_equal(srv.eweight, 3);
	teardown();
}

static void test_state_words(void **st)
{
	(void)st;
	setup(1, 0);
	assert_int_equal(apply("down#disk full"), AGENT_R_STATE);
	assert_true(srv.flags & SRV_F_AGENT_DOWN);
	assert_int_equal(apply("Up, 200%"), AGENT_R_STATE | AGENT_R_CAPACITY);
	assert_int_equal(srv.flags & SRV_F_AGENT_DOWN, 0);
	assert_int_equal(srv.eweight, 2);
	assert_int_equal(apply("maint"), AGENT_R_STATE);
	assert_int_equal(apply("ready"), AGENT_R_STATE);
	assert_int_equal(apply("bogus up"), 0);
	assert_string_equal(warn, "agent reports an error : bogus");
	teardown();
}

static void test_any_bytes(void **st)
{
	char junk[600];
	(void)st;
	setup(10, 5);
	for (int i = 0; i < (int)sizeof(junk) - 1; i++)
		junk[i] = (char)(1 + (i * 37) % 255);
	junk[sizeof(junk) - 1] = 0;
	apply(junk); /* long, odd bytes: no crash, no overflow */
	assert_true(srv.eweight >= 0 && srv.eweight <= 256);
	assert_true(srv.maxconn >= 0 && srv.maxconn <= 10000000);
	teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_percentage_is_capped_as_haproxy),
		cmocka_unit_test(test_bad_percentages_are_ignored_with_haproxy_words),
		cmocka_unit_test(test_huge_maxconn_is_ignored),
		cmocka_unit_test(test_maxconn_change_is_reported),
		cmocka_unit_test(test_drain_and_ready_are_reported),
		cmocka_unit_test(test_state_words),
		cmocka_unit_test(test_any_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
