/* The runtime API's pure parts: words of a command line, HAProxy's guesses
 * for an unknown command, the dashboard's jobs (for commands that need no
 * runtime), the CSV and typed writers, and the string buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ops/cli_int.h"
#include "ops/stats.h"

static struct cli_req *req(const char *line, int level)
{
	static struct cli_sess sess;
	struct cli_req *r = calloc(1, sizeof(*r));

	memset(&sess, 0, sizeof(sess));
	sess.level = sess.sock_level = level;
	r->sess = &sess;
	cli_req_parse(r, line, strlen(line));
	return r;
}

static void free_req(struct cli_req *r)
{
	sbuf_free(&r->out);
	free(r);
}

static void test_words(void **state)
{
	struct cli_req *r = req("  set\tserver  be/s1 state\\ x a\\\\b \\;c", CLI_LEVEL_ADMIN);

	(void)state;
	assert_string_equal(r->args[0], "set");
	assert_string_equal(r->args[1], "server");
	assert_string_equal(r->args[2], "be/s1");
	assert_string_equal(r->args[3], "state x");
	assert_string_equal(r->args[4], "a\\b");
	assert_string_equal(r->args[5], ";c");
	assert_string_equal(r->args[6], ""); /* every slot after the last word */
	assert_string_equal(r->args[CLI_MAX_ARGS], "");
	free_req(r);
}

static void test_unknown_command_guesses(void **state)
{
	struct cli_req *r = req("show stats", CLI_LEVEL_USER);

	(void)state;
	assert_int_equal(cli_req_run(r), CLI_DONE);
	assert_non_null(strstr(r->out.p, "Unknown command, but maybe one of the following ones is a better match:\n"
					 "  show stat [desc|json|no-maint|typed|up]*: report counters"));
	assert_non_null(strstr(r->out.p, "  quit                                    : disconnect\n"));
	free_req(r);
	r = req("", CLI_LEVEL_USER);
	cli_req_run(r);
	assert_memory_equal(r->out.p, "Unknown command. Please enter one of the following commands only:\n", 66);
	free_req(r);
}

static void test_levels(void **state)
{
	struct cli_req *r = req("operator", CLI_LEVEL_USER);

	(void)state;
	cli_req_run(r);
	assert_string_equal(r->out.p, "Permission denied\n");
	assert_int_equal(r->sess->level, CLI_LEVEL_USER);
	free_req(r);
	r = req("user", CLI_LEVEL_ADMIN);
	cli_req_run(r);
	assert_null(r->out.p);
	assert_int_equal(r->sess->level, CLI_LEVEL_USER);
	free_req(r);
}

static char job_out[256];
static int job_calls;

static void job_done(void *arg, const struct sbuf *out)
{
	(void)arg;
	job_calls++;
	snprintf(job_out, sizeof(job_out), "%s", out->p ? out->p : "");
}

static void test_job(void **state)
{
	(void)state;
	job_calls = 0;
	/* commands that need no runtime: the job answers at once */
	assert_null(cli_job_start(NULL, "show cli level;user;show cli level;operator", CLI_LEVEL_ADMIN,
				  job_done, NULL));
	assert_int_equal(job_calls, 1);
	assert_string_equal(job_out, "admin\nuser\nPermission denied\n");
}

static void test_csv_and_typed(void **state)
{
	struct stat_line l;
	struct sbuf o = SBUF_INIT;

	(void)state;
	memset(&l, 0, sizeof(l));
	l.obj = STAT_OBJ_SRV;
	l.v[ST_PXNAME] = (struct stat_value){ STT_STR, SO_KEY, SN_NAME, SS_SERVICE, { .str = "be" } };
	l.v[ST_SVNAME] = (struct stat_value){ STT_STR, SO_KEY, SN_NAME, SS_SERVICE, { .str = "s1" } };
	l.v[ST_LAST_CHK] = (struct stat_value){ STT_STR, SO_METRIC, SN_OUTPUT, SS_PROCESS,
						{ .str = "primary, \"a\"" } };
	l.v[ST_LASTSESS] = (struct stat_value){ STT_S32, SO_METRIC, SN_AGE, SS_PROCESS, { .s32 = -1 } };
	l.v[ST_IID] = (struct stat_value){ STT_U32, SO_KEY, SN_GAUGE, SS_SERVICE, { .u32 = 3 } };
	l.v[ST_SID] = (struct stat_value){ STT_U32, SO_KEY, SN_GAUGE, SS_SERVICE, { .u32 = 1 } };
	l.v[ST_PID] = (struct stat_value){ STT_U32, SO_KEY, SN_GAUGE, SS_PROCESS, { .u32 = 1 } };
	stat_emit_csv(&o, &l);
	/* a comma or a quote: quoted, the quote doubled (HAProxy's csv_enc) */
	assert_non_null(strstr(o.p, ",-1,\"primary, \"\"a\"\"\","));
	assert_non_null(strstr(o.p, ",-,"));
	sbuf_reset(&o);
	stat_emit_typed(&o, &l, 0);
	assert_non_null(strstr(o.p, "S.3.1.55.lastsess.1:MAP:s32:-1\n"));
	assert_non_null(strstr(o.p, "S.3.1.0.pxname.1:KNS:str:be\n"));
	sbuf_reset(&o);
	stat_csv_header(&o);
	assert_memory_equal(o.p, "# pxname,svname,qcur,", 21);
	assert_non_null(strstr(o.p, ",agg_check_status,-,ssl_sess,"));
	sbuf_free(&o);
}

static void test_sbuf(void **state)
{
	struct sbuf b = SBUF_INIT;
	char big[1000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	sbuf_printf(&b, "%s-%d", big, 42);
	assert_int_equal(b.len, 999 + 3);
	sbuf_consume(&b, 999);
	assert_string_equal(b.p, "-42");
	sbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_unknown_command_guesses),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_job),
		cmocka_unit_test(test_csv_and_typed),
		cmocka_unit_test(test_sbuf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
