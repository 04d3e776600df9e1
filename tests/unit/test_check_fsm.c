/* HAProxy's rise/fall counter, without a network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/model.h"
#include "health/check_fsm.h"

static void test_starts_up_first_failure_down(void **st)
{
	struct check_fsm f;
	(void)st;
	check_fsm_init(&f, 2, 3);
	assert_true(check_fsm_up(&f));
	assert_int_equal(check_fsm_result(&f, 0), FSM_WENT_DOWN);
	assert_int_equal(f.health, 0);
}

static void test_fall_after_fully_up(void **st)
{
	struct check_fsm f;
	(void)st;
	check_fsm_init(&f, 2, 3);
	assert_int_equal(check_fsm_result(&f, 1), FSM_SAME); /* jumps to the top */
	assert_int_equal(f.health, 4);
	assert_int_equal(check_fsm_result(&f, 0), FSM_SAME);
	assert_int_equal(check_fsm_result(&f, 0), FSM_SAME);
	assert_int_equal(check_fsm_result(&f, 1), FSM_SAME); /* a success resets to the top */
	assert_int_equal(f.health, 4);
	assert_int_equal(check_fsm_result(&f, 0), FSM_SAME);
	assert_int_equal(check_fsm_result(&f, 0), FSM_SAME);
	assert_int_equal(check_fsm_result(&f, 0), FSM_WENT_DOWN); /* fall = 3 in a row */
	assert_false(check_fsm_up(&f));
}

static void test_rise(void **st)
{
	struct check_fsm f;
	(void)st;
	check_fsm_init(&f, 3, 2);
	check_fsm_result(&f, 0);
	assert_false(check_fsm_up(&f));
	assert_int_equal(check_fsm_result(&f, 1), FSM_SAME);
	assert_int_equal(check_fsm_result(&f, 1), FSM_SAME);
	assert_int_equal(check_fsm_result(&f, 0), FSM_SAME); /* a failure mid-rise starts over */
	assert_int_equal(f.health, 0);
	assert_int_equal(check_fsm_result(&f, 1), FSM_SAME);
	assert_int_equal(check_fsm_result(&f, 1), FSM_SAME);
	assert_int_equal(check_fsm_result(&f, 1), FSM_WENT_UP); /* rise = 3 in a row */
	assert_int_equal(f.health, 4);
	assert_int_equal(check_fsm_result(&f, 1), FSM_SAME);
}

static void test_intervals(void **st)
{
	struct check_fsm f;
	(void)st;
	check_fsm_init(&f, 2, 3);
	assert_int_equal(check_fsm_interval(&f, 2000, 500, 9000), 500); /* not yet checked */
	check_fsm_result(&f, 1);
	assert_int_equal(check_fsm_interval(&f, 2000, 500, 9000), 2000); /* fully up */
	check_fsm_result(&f, 0);
	assert_int_equal(check_fsm_interval(&f, 2000, 500, 9000), 500); /* going down */
	check_fsm_result(&f, 0);
	check_fsm_result(&f, 0);
	assert_int_equal(check_fsm_interval(&f, 2000, 500, 9000), 9000); /* fully down */
	check_fsm_result(&f, 1);
	assert_int_equal(check_fsm_interval(&f, 2000, 500, 9000), 500); /* coming back */
}

static void test_rise_fall_one(void **st)
{
	struct check_fsm f;
	(void)st;
	check_fsm_init(&f, 1, 1);
	assert_int_equal(check_fsm_result(&f, 0), FSM_WENT_DOWN);
	assert_int_equal(check_fsm_result(&f, 1), FSM_WENT_UP);
	assert_int_equal(check_fsm_result(&f, 0), FSM_WENT_DOWN);
}

/* observe's on-error, as HAProxy 2.6 (seen with haproxy 2.6.12, rise 2
 * fall 3): fail-check takes fall observations, sudden-death two, mark-down
 * one, fastinter none. */
static int observations_to_down(int mode)
{
	struct check_fsm f;
	check_fsm_init(&f, 2, 3);
	check_fsm_result(&f, 1); /* fully up: h = 4 */
	for (int n = 1; n <= 10; n++)
		if (check_fsm_observed(&f, mode) == FSM_WENT_DOWN)
			return n;
	return 0;
}

static void test_observed_modes(void **st)
{
	struct check_fsm f;
	(void)st;
	assert_int_equal(observations_to_down(SRV_ONERR_FAIL_CHECK), 3);
	assert_int_equal(observations_to_down(SRV_ONERR_SUDDEN_DEATH), 2);
	assert_int_equal(observations_to_down(SRV_ONERR_MARK_DOWN), 1);
	assert_int_equal(observations_to_down(SRV_ONERR_FASTINTER), 0);
	/* sudden-death leaves it one failure from DOWN: "1/3 UP" */
	check_fsm_init(&f, 2, 3);
	check_fsm_result(&f, 1);
	assert_int_equal(check_fsm_observed(&f, SRV_ONERR_SUDDEN_DEATH), FSM_SAME);
	assert_int_equal(f.health, 2);
	assert_int_equal(check_fsm_result(&f, 0), FSM_WENT_DOWN);
	/* mark-down on a server already DOWN keeps it there */
	assert_int_equal(check_fsm_observed(&f, SRV_ONERR_MARK_DOWN), FSM_SAME);
	assert_int_equal(f.health, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_up_first_failure_down),
		cmocka_unit_test(test_fall_after_fully_up),
		cmocka_unit_test(test_rise),
		cmocka_unit_test(test_intervals),
		cmocka_unit_test(test_rise_fall_one),
		cmocka_unit_test(test_observed_modes),
	};
	return cmocka_run_group_tests_name("check_fsm", tests, NULL, NULL);
}
