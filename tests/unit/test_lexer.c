/* The line splitter: words, quotes, escapes, comments, environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/lexer.h"

static struct cfg_words w;
static char err[256];

static void test_plain_words(void **st)
{
	(void)st;
	assert_int_equal(cfg_split("  server  s1\t127.0.0.1:80 check  ", &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 4);
	assert_string_equal(w.w[0], "server");
	assert_string_equal(w.w[2], "127.0.0.1:80");
	assert_string_equal(w.w[3], "check");
	assert_null(w.w[4]);
}

static void test_comments(void **st)
{
	(void)st;
	assert_int_equal(cfg_split("bind :80 # a comment", &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 2);
	assert_int_equal(cfg_split("   # only a comment", &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(cfg_split("a\\#b '#c' \"#d\"", &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.w[0], "a#b");
	assert_string_equal(w.w[1], "#c");
	assert_string_equal(w.w[2], "#d");
}

static void test_quotes_and_escapes(void **st)
{
	(void)st;
	assert_int_equal(cfg_split("x 'a b' \"c d\" e\\ f \"\" '\\n' \"\\x41\"", &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 7);
	assert_string_equal(w.w[1], "a b");
	assert_string_equal(w.w[2], "c d");
	assert_string_equal(w.w[3], "e f");
	assert_string_equal(w.w[4], "");
	assert_string_equal(w.w[5], "\\n"); /* single quotes keep backslashes */
	assert_string_equal(w.w[6], "A");
}

static void test_environment(void **st)
{
	(void)st;
	setenv("FERRY_TEST_PORT", "5432", 1);
	assert_int_equal(cfg_split("bind \"127.0.0.1:${FERRY_TEST_PORT}\" '${FERRY_TEST_PORT}'", &w, err, sizeof(err)), 0);
	assert_string_equal(w.w[1], "127.0.0.1:5432");
	assert_string_equal(w.w[2], "${FERRY_TEST_PORT}");
	assert_int_equal(cfg_split("x \"${FERRY_UNSET_VAR_X}\"", &w, err, sizeof(err)), 0);
	assert_string_equal(w.w[1], "");
}

static void test_errors(void **st)
{
	(void)st;
	assert_int_equal(cfg_split("bind '127.0.0.1:80", &w, err, sizeof(err)), -1);
	assert_string_equal(err, "unmatched single quote");
	assert_int_equal(cfg_split("bind \"x", &w, err, sizeof(err)), -1);
	assert_string_equal(err, "unmatched double quote");
	assert_int_equal(cfg_split("x \"${ABC\"", &w, err, sizeof(err)), -1);
	assert_string_equal(err, "missing '}' after '${' in environment variable");
}

static void test_too_many_words(void **st)
{
	char line[1024] = "";
	(void)st;
	for (int i = 0; i < CFG_MAX_WORDS + 1; i++)
		strcat(line, "w ");
	assert_int_equal(cfg_split(line, &w, err, sizeof(err)), -1);
	assert_string_equal(err, "too many words on this line (max 64)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_words),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_quotes_and_escapes),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_many_words),
	};
	return cmocka_run_group_tests_name("lexer", tests, NULL, NULL);
}
