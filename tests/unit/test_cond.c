/* Conditions and conditional blocks (config/cond.c). The expected answers
 * and sentences are HAProxy 2.6.12's (haproxy -cc, haproxy -c); the
 * integration test test_config_lang.py asks the installed haproxy again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/cond.h"

static char err[4096];

struct cond_case {
	const char *text;
	int want;                 /* 1, 0, or -1 (error) */
	const char *err;          /* the sentence for -1 */
	int pos;                  /* its position */
};

static void run_cases(const struct cond_case *c, size_t n)
{
	setenv("DEFD", "x", 1);
	setenv("EMPTYV", "", 1);
	unsetenv("NOPE");
	for (size_t i = 0; i < n; i++) {
		int pos = -1, r = cond_eval(c[i].text, err, sizeof(err), &pos);
		if (r != c[i].want)
			print_error("case %zu [%s]: got %d (%s)\n", i, c[i].text, r, r < 0 ? err : "");
		assert_int_equal(r, c[i].want);
		if (r < 0) {
			assert_string_equal(err, c[i].err);
			if (pos != c[i].pos)
				print_error("case %zu [%s]: position %d\n", i, c[i].text, pos);
			assert_int_equal(pos, c[i].pos);
		}
	}
}

static void test_values(void **st)
{
	static const struct cond_case c[] = {
		{ "", 0, NULL, 0 },
		{ "0", 0, NULL, 0 }, { "1", 1, NULL, 0 }, { "2", 1, NULL, 0 }, { "-1", 1, NULL, 0 },
		{ "0x10", 1, NULL, 0 }, { "00", 0, NULL, 0 }, { "  1  ", 1, NULL, 0 },
		{ "! 0", 1, NULL, 0 }, { "!!1", 1, NULL, 0 }, { "!(0)", 1, NULL, 0 },
		{ "1 && 0", 0, NULL, 0 }, { "1 || 0", 1, NULL, 0 },
		{ "0 || 1 && 0", 0, NULL, 0 },     /* && binds tighter */
		{ "(1)", 1, NULL, 0 }, { "(0 || 1) && 1", 1, NULL, 0 }, { "((((1))))", 1, NULL, 0 },
		{ "! ( 1 || 0 ) && 1", 0, NULL, 0 },
		{ "0 && streq(a)", -1, "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate 'streq' used in conditional expression", 13 },
	};
	(void)st;
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

static void test_predicates(void **st)
{
	static const struct cond_case c[] = {
		{ "defined(DEFD)", 1, NULL, 0 }, { "defined(EMPTYV)", 1, NULL, 0 },
		{ "defined(NOPE)", 0, NULL, 0 }, { "!defined(NOPE)", 1, NULL, 0 },
		{ "defined()", 0, NULL, 0 }, { "defined", 0, NULL, 0 },
		{ "feature(LINUX_SPLICE)", 1, NULL, 0 }, { "feature(THREAD)", 1, NULL, 0 },
		{ "feature(SPLICE)", 0, NULL, 0 },   /* a part of a name is not a name */
		{ "feature(OPENSSL)", 0, NULL, 0 }, { "feature(NOPE)", 0, NULL, 0 },
		{ "streq(a,a)", 1, NULL, 0 }, { "streq(a,b)", 0, NULL, 0 }, { "strneq(a,b)", 1, NULL, 0 },
		{ "streq( a , a )", 1, NULL, 0 }, { "streq('a b','a b')", 1, NULL, 0 },
		{ "streq(\"a,b\",\"a,b\")", 1, NULL, 0 }, { "streq(\\'x\\',\\'x\\')", 1, NULL, 0 },
		{ "ssllib_name_startswith(OpenSSL)", 0, NULL, 0 },
		/* the whole expression is read before it is evaluated */
		{ "1 || foo", -1, "unparsable conditional expression 'foo'", 6 },
		{ "!defined(NOPE) && !defined(NOPE2) || 0", 1, NULL, 0 },
	};
	(void)st;
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

/* Against HAProxy 2.6.12 (COND_HAPROXY_VERSION), with split_version()'s
 * reading: missing parts are 0, dev < rc/pre < release, text that is not a
 * version compares "older" (version_atleast true, version_before false). */
static void test_versions(void **st)
{
	static const struct cond_case c[] = {
		{ "version_atleast(2.6)", 1, NULL, 0 }, { "version_atleast(2.6.12)", 1, NULL, 0 },
		{ "version_atleast(2.6.13)", 0, NULL, 0 }, { "version_before(2.7)", 1, NULL, 0 },
		{ "version_before(2.6.12)", 0, NULL, 0 }, { "version_atleast(2.6-dev1)", 1, NULL, 0 },
		{ "version_atleast(2.6.12-dev1)", 1, NULL, 0 }, { "version_atleast(2.6.12-1)", 0, NULL, 0 },
		{ "version_atleast(2.6.12.0)", 1, NULL, 0 }, { "version_atleast(2.6.12.0.1)", 1, NULL, 0 },
		{ "version_atleast(2.6-rc1-5)", 1, NULL, 0 }, { "version_atleast(3.0)", 0, NULL, 0 },
		{ "version_before(3.2-dev1)", 1, NULL, 0 }, { "version_atleast(1.8.30)", 1, NULL, 0 },
		{ "version_atleast(abc)", 1, NULL, 0 }, { "version_atleast()", 1, NULL, 0 },
		{ "version_before(abc)", 0, NULL, 0 },
	};
	(void)st;
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

static void test_errors(void **st)
{
	static const struct cond_case c[] = {
		{ "1abc", -1, "unexpected character 'a' at the end of conditional expression '1abc'", 2 },
		{ "abc", -1, "unparsable conditional expression 'abc'", 1 },
		{ "true", -1, "unparsable conditional expression 'true'", 1 },
		{ "!", -1, "unparsable conditional expression '!'", 1 },
		{ "streq(a)", -1, "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate 'streq' used in conditional expression", 8 },
		{ "streq", -1, "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate 'streq' used in conditional expression", 6 },
		{ "streq(a,b,c)", -1, "expected ')' before ',c)' in argument 1 of predicate 'streq' used in conditional expression", 10 },
		{ "defined(DEFD,x)", -1, "expected ')' before ',x)' in argument 1 of predicate 'defined' used in conditional expression", 13 },
		{ "defined(", -1, "expected ')' in argument 1 of predicate 'defined' used in conditional expression", 9 },
		{ "defined(A\\", -1, "failed to parse '\\' after 'A' as type 'string' at position 1 in argument 0 of predicate 'defined' used in conditional expression", 10 },
		{ "(1", -1, "expected ')' after conditional expression '(1'", 1 },
		{ "1)", -1, "unexpected character ')' at the end of conditional expression '1)'", 2 },
		{ "()", -1, "unparsable conditional expression ')'", 2 },
		{ "foo(1)", -1, "unparsable conditional expression 'foo(1)'", 1 },
		{ "1 &&", -1, "unparsable conditional expression '&&'", 3 },
		{ "1 ||", -1, "unparsable conditional expression '1 ||'", 3 },
		{ "&& 1", -1, "unparsable conditional expression '&& 1'", 1 },
		{ "1 & 1", -1, "unexpected character '&' at the end of conditional expression '1 & 1'", 3 },
		{ "defined (DEFD)", -1, "unexpected character '(' at the end of conditional expression 'defined (DEFD)'", 9 },
		{ "1 # c", -1, "unexpected character '#' at the end of conditional expression '1 # c'", 3 },
		{ "  ", -1, "unparsable conditional sub-expression '  '", 1 },
		{ "openssl_version_atleast(1.1.1)", -1, "predicate 'openssl_version_atleast' needs an SSL library, which ferry does not use", 0 },
	};
	(void)st;
	run_cases(c, sizeof(c) / sizeof(c[0]));
}

/* A bounded recursion: HAProxy's 1024 levels, never a stack overflow. */
static void test_deep_nesting(void **st)
{
	char text[8192];
	int pos;
	(void)st;
	memset(text, '(', 4000);
	text[4000] = '1';
	memset(text + 4001, ')', 4000);
	text[8001] = 0;
	assert_int_equal(cond_eval(text, err, sizeof(err), &pos), -1);
	assert_non_null(strstr(err, "unparsable conditional"));
}

/* ---- blocks ----------------------------------------------------------------- */

/* Feeds lines (words separated by single spaces, no quoting) through one
 * block state; returns the kept lines joined by '|' and the errors in
 * errs ("N:sentence;"). */
static void run_blocks(const char *const *lines, char *kept, char *errs)
{
	struct cond_blocks b = { 0 };
	char copy[256], *w[64];

	kept[0] = errs[0] = 0;
	for (int ln = 0; lines[ln]; ln++) {
		const char *msg;
		int n = 0;
		snprintf(copy, sizeof(copy), "%s", lines[ln]);
		for (char *t = strtok(copy, " "); t; t = strtok(NULL, " "))
			w[n++] = t;
		switch (cond_line(&b, n, w, &msg, err, sizeof(err))) {
		case COND_LINE:
			strcat(kept, w[0]);
			strcat(kept, "|");
			break;
		case COND_ERROR:
			sprintf(errs + strlen(errs), "%d:%s;", ln + 1, err);
			break;
		case COND_ALERT:
			sprintf(errs + strlen(errs), "%d:alert %s;", ln + 1, msg);
			break;
		case COND_NOTICE:
		case COND_WARNING:
		case COND_DIAG:
			strcat(kept, "msg:");
			strcat(kept, msg);
			strcat(kept, "|");
			break;
		case COND_SKIP:
			break;
		}
	}
	if (cond_end(&b, err, sizeof(err)))
		sprintf(errs + strlen(errs), "end:%s;", err);
}

static void test_blocks(void **st)
{
	static const struct { const char *lines[16]; const char *kept, *errs; } c[] = {
		{ { "a", ".if 1", "b", ".else", "c", ".endif", "d" }, "a|b|d|", "" },
		{ { ".if 0", "b", ".elif 0", "c", ".elif 1", "d", ".elif 1", "e", ".else", "f", ".endif" }, "d|", "" },
		{ { ".if 0", "b", ".else", "c", ".endif" }, "c|", "" },
		/* nested: an inner block of a masked one is never evaluated */
		{ { ".if 0", ".if bogus(", "x", ".else", "y", ".endif", ".else", "z", ".endif" }, "z|", "" },
		{ { ".if 1", ".if 0", "x", ".elif 1", "y", ".endif", "w", ".endif" }, "y|w|", "" },
		/* a taken branch masks the .elif after it, unevaluated */
		{ { ".if 1", "a", ".elif bogus(", "b", ".endif" }, "a|", "" },
		/* masked lines may hold anything starting with a dot */
		{ { ".if 0", ".alert x", ".bogus", ".endif" }, "", "" },
		{ { ".notice hi", ".warning w", ".diag d", ".alert no" }, "msg:hi|msg:w|msg:d|", "4:alert no;" },
		{ { ".notice two words" }, "", "1:Unexpected argument 'words' for '.notice'. Use quotes if the message should contain spaces.;" },
		{ { ".endif" }, "", "1:lone '.endif' with no matching '.if'.;" },
		{ { ".else" }, "", "1:lone '.else' with no matching '.if'.;" },
		{ { ".elif 1" }, "", "1:lone '.elif' with no matching '.if'.;" },
		{ { ".if 1" }, "", "end:non-terminated '.if' block.;" },
		{ { ".if 1", ".else", ".else", ".endif" }, "", "3:'.else' after '.else' is not permitted.;" },
		{ { ".if 0", ".else", ".elif 1", "x", ".endif" }, "", "3:'.elif' after '.else' is not permitted.;" },
		{ { ".if 0", ".else x", "y", ".endif" }, "y|", "2:Unexpected argument 'x' for '.else'.;" },
		{ { ".if 1", ".endif x", "y" }, "y|", "2:Unexpected argument 'x' for '.endif'.;" },
		/* a condition in error masks its whole block, branches too */
		{ { ".if 1 &&", "a", ".else", "b", ".endif", "c" }, "c|",
		  "1:unparsable conditional expression '&&' in '.if' at position 3;" },
		{ { ".if 0", ".elif bogus(", "a", ".else", "b", ".endif" }, "",
		  "2:unparsable conditional expression 'bogus(' in '.elif' at position 1;" },
		{ { ".bogus" }, "", "1:unknown directive '.bogus'.;" },
	};
	char kept[512], errs[1024];
	(void)st;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		run_blocks(c[i].lines, kept, errs);
		if (strcmp(kept, c[i].kept) || strcmp(errs, c[i].errs))
			print_error("case %zu: kept [%s] errors [%s]\n", i, kept, errs);
		assert_string_equal(kept, c[i].kept);
		assert_string_equal(errs, c[i].errs);
	}
}

/* HAProxy refuses the 100th nested level; what it holds is masked and the
 * blocks close again in order. */
static void test_nesting_limit(void **st)
{
	const char *lines[256];
	char kept[512], errs[1024];
	int n = 0;
	(void)st;
	for (int i = 0; i < 101; i++)
		lines[n++] = ".if 1";
	lines[n++] = "inner";
	for (int i = 0; i < 101; i++)
		lines[n++] = ".endif";
	lines[n++] = "after";
	lines[n] = NULL;
	run_blocks(lines, kept, errs);
	assert_string_equal(kept, "after|");
	assert_string_equal(errs, "100:too many nested '.if', max is 100.;");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_predicates),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_nesting_limit),
	};
	return cmocka_run_group_tests_name("cond", tests, NULL, NULL);
}
