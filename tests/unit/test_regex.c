/* The regex module (PCRE2, as HAProxy) and the tcp-check patterns the parser
 * compiles with it: syntax POSIX regcomp does not have. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config/model.h"
#include "core/regex.h"

static int m(const char *pattern, const char *subject)
{
	char err[200];
	struct rx *rx = rx_compile(pattern, 0, err, sizeof(err));
	int r;

	assert_non_null(rx);
	r = rx_match(rx, subject, strlen(subject));
	rx_free(rx);
	return r;
}

static void test_perl_syntax(void **st)
{
	(void)st;
	assert_true(m("^\\+OK\\s\\d+", "+OK 12\r\n"));
	assert_false(m("^\\+OK\\s\\d+", "+OK x\r\n"));
	assert_true(m("(?i)pong", "+PONG\r\n"));
	assert_false(m("pong", "+PONG\r\n"));
	assert_true(m("^a.*?b$", "axxbyyb"));
	assert_true(m("^[+]OK[[:space:]][[:digit:]]+", "+OK 7"));
	assert_true(m("\\bword\\b", "a word here"));
}

static void test_icase_flag_and_anywhere(void **st)
{
	char err[200];
	struct rx *rx = rx_compile("ready", RX_F_ICASE, err, sizeof(err));
	(void)st;
	assert_non_null(rx);
	assert_true(rx_match(rx, "server READY now", 16));
	assert_string_equal(rx_pattern(rx), "ready");
	rx_free(rx);
}

static void test_length_is_honoured(void **st)
{
	char err[200];
	struct rx *rx = rx_compile("OK$", 0, err, sizeof(err));
	(void)st;
	assert_non_null(rx);
	assert_true(rx_match(rx, "OKAY", 2));            /* only "OK" is looked at */
	assert_false(rx_match(rx, "xx\0OK", 2));
	assert_true(rx_match(rx, "xx\0OK", 5));          /* NULs are data */
	assert_false(rx_match(rx, NULL, 0));
	rx_free(rx);
}

static void test_errors_say_where(void **st)
{
	char err[200];
	(void)st;
	assert_null(rx_compile("^(OK", 0, err, sizeof(err)));
	assert_non_null(strstr(err, "missing closing parenthesis"));
	assert_non_null(strstr(err, "at offset 4"));
	assert_null(rx_compile("a{2,1}", 0, NULL, 0)); /* no room for the message: fine */
}

static void test_dup_is_independent(void **st)
{
	char err[200];
	struct rx *a = rx_compile("^\\d{3} ", 0, err, sizeof(err)), *b;
	(void)st;
	assert_non_null(a);
	b = rx_dup(a);
	rx_free(a);
	assert_non_null(b);
	assert_true(rx_match(b, "220 mx", 6));
	assert_string_equal(rx_pattern(b), "^\\d{3} ");
	rx_free(b);
}

static struct cfg cfg;
static char diag[4096];

static const char *parse(const char *text)
{
	FILE *f = fmemopen(diag, sizeof(diag), "w");
	memset(diag, 0, sizeof(diag));
	cfg_free(&cfg);
	cfg_init(&cfg, f);
	cfg_parse_text(&cfg, "t.cfg", text);
	cfg_validate(&cfg);
	fclose(f);
	return diag;
}

#define BACKEND "defaults\n mode tcp\n timeout connect 1s\n timeout server 1s\nbackend b\n server s 127.0.0.1:1 check\n option tcp-check\n"

static void test_parse_check_compiles_pcre(void **st)
{
	struct cfg_proxy *b;
	(void)st;
	/* features POSIX regcomp lacks, written without backslashes (the lexer
	 * keeps them out of this test) */
	assert_string_equal(parse(BACKEND " tcp-check expect rstring (?i)^[+]ok\n"
					  " tcp-check expect rstring a.*?b\n"
					  " tcp-check expect rbinary ^(?:2B4F4B)+\n"), "");
	b = cfg_find_proxy(&cfg, "b", PX_CAP_BE);
	assert_int_equal(b->rules.n, 3);
	assert_true(rx_match(b->rules.v[0].re, "+OK 1", 5));
	assert_true(rx_match(b->rules.v[1].re, "aXbYb", 5));
	assert_true(rx_match(b->rules.v[2].re, "2B4F4B", 6));
}

static void test_parse_check_reports_bad_patterns(void **st)
{
	(void)st;
	assert_non_null(strstr(parse(BACKEND " tcp-check expect rstring ^(OK\n"),
			       "t.cfg:8: 'tcp-check expect rstring': invalid regular expression '^(OK': "
			       "missing closing parenthesis at offset 4"));
}

/* HAProxy 2.6.12's rulesets, rule for rule: the step numbers in messages
 * count them, and every built-in pattern compiles with PCRE2. */
static void test_builtin_rulesets(void **st)
{
	static const struct { const char *opt; int n; } t[] = {
		{ "redis-check", 2 }, { "ldap-check", 3 }, { "ssl-hello-chk", 2 },
		{ "smtpchk EHLO example.org", 7 }, { "pgsql-check user u", 4 },
		{ "mysql-check", 2 }, { "mysql-check user u", 4 },
	};
	char text[300];
	(void)st;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cfg_proxy *b;
		snprintf(text, sizeof(text), "defaults\n mode tcp\n timeout connect 1s\n timeout server 1s\n"
			 "backend b\n server s 127.0.0.1:1 check\n option %s\n", t[i].opt);
		assert_string_equal(parse(text), "");
		b = cfg_find_proxy(&cfg, "b", PX_CAP_BE);
		assert_int_equal(b->rules.n, t[i].n);
		for (int k = 0; k < b->rules.n; k++) {
			assert_true(b->rules.v[k].flags & TCR_F_PROTO);
			if (b->rules.v[k].match == TCRM_RSTRING || b->rules.v[k].match == TCRM_RBINARY)
				assert_non_null(b->rules.v[k].re);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perl_syntax),
		cmocka_unit_test(test_icase_flag_and_anywhere),
		cmocka_unit_test(test_length_is_honoured),
		cmocka_unit_test(test_errors_say_where),
		cmocka_unit_test(test_dup_is_independent),
		cmocka_unit_test(test_parse_check_compiles_pcre),
		cmocka_unit_test(test_parse_check_reports_bad_patterns),
		cmocka_unit_test(test_builtin_rulesets),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	cfg_free(&cfg);
	return r;
}
