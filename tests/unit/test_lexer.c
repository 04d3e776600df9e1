/* The line splitter: words, quotes, escapes, comments, environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "config/lexer.h"
#include "core/addr.h"

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

/* Each expansion as HAProxy 2.6.12 makes it (checked with haproxy -c,
 * which names the expanded word in "unknown keyword '...'"), with
 * A=aa EMPTY= LIST="p  q r" SP="x y" and UNS unset. */
static const struct { const char *line, *words; } expansions[] = {
	{ "\"k$A\"", "kaa" },
	{ "\"k${A}z\"", "kaaz" },
	{ "\"k$A.x\"", "kaa.x" },
	{ "\"k$A-x\"", "kaa-x" },                /* no braces: '-' ends the name */
	{ "\"k${A}}\"", "kaa}" },
	{ "\"k$_A\"", "k" },
	{ "k$A", "k$A" },                         /* unquoted: kept */
	{ "'k$A'", "k$A" },
	{ "\"k\\$A\"", "k$A" },
	{ "\"k${A-d}\"", "kaa" },
	{ "\"k${EMPTY-d}z\"", "kz" },            /* the default is for unset only */
	{ "\"k${UNS-d}z\"", "kdz" },
	{ "\"k${UNS-}z\"", "kz" },
	{ "\"k${UNS-a b}z\"", "ka bz" },
	{ "\"k${UNS-${A}}z\"", "k${A}z" },       /* the default is not expanded */
	{ "\"k${UNS}z\"", "kz" },
	{ "\"k${SP}z\"", "kx yz" },
	{ "\"${LIST[*]}\"", "p|q|r" },
	{ "\"k${LIST[*]}z\"", "kp|q|rz" },
	{ "\"k$LIST[*]\"", "kp  q r[*]" },       /* [*] needs braces */
	{ "\"k${UNS[*]-d e}z\"", "kd|ez" },      /* the default is split too */
	{ "\"${SP[*]} more\"", "x|y more" },
	{ "\"k${EMPTY[*]}\"", "k" },
	{ "\"${.LINE}:${.FILE}:${.SECTION}\"", "7:f.cfg:fe" },
	{ "\"$.LINE\"", "7" },
	{ "a\"$A\"'$A'\"${A}\"", "aaa$Aaa" },
};

static void test_expansions_as_haproxy(void **st)
{
	const struct cfg_lex lx = { .file = "f.cfg", .line = 7, .section = "fe" };
	char line[256], joined[256];
	(void)st;
	setenv("A", "aa", 1);
	setenv("EMPTY", "", 1);
	setenv("LIST", "p  q r", 1);
	setenv("SP", "x y", 1);
	unsetenv("UNS");
	for (size_t i = 0; i < sizeof(expansions) / sizeof(expansions[0]); i++) {
		size_t o = 0;
		snprintf(line, sizeof(line), "%s # comment", expansions[i].line);
		if (cfg_split_lex(line, &lx, &w, err, sizeof(err)))
			print_error("case %zu: %s: %s\n", i, line, err);
		assert_true(w.n > 0);
		joined[0] = 0;
		for (int k = 0; k < w.n; k++)
			o += (size_t)snprintf(joined + o, sizeof(joined) - o, "%s%s", k ? "|" : "", w.w[k]);
		if (strcmp(joined, expansions[i].words))
			print_error("case %zu: %s\n", i, line);
		assert_string_equal(joined, expansions[i].words);
	}
}

/* ferry -cc reads '#' as an ordinary character, as haproxy -cc does. */
static void test_no_comment(void **st)
{
	const struct cfg_lex lx = { .no_comment = 1 };
	(void)st;
	assert_int_equal(cfg_split_lex("1 # c", &lx, &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.w[1], "#");
}

/* ${NAME[*]} may make more words than a line holds. */
static void test_expansion_too_many_words(void **st)
{
	char v[200] = "";
	(void)st;
	for (int i = 0; i < CFG_MAX_WORDS; i++)
		strcat(v, "w ");
	setenv("MANY", v, 1);
	assert_int_equal(cfg_split("x \"${MANY[*]}\"", &w, err, sizeof(err)), -1);
	assert_string_equal(err, "too many words on this line (max 64)");
}

/* Addresses expand $NAME and ${NAME} without quotes, as HAProxy 2.6.12's
 * str2sa_range (env_expand): checked by binding with it (with P=18001,
 * P2=8003, UNS unset, haproxy binds 127.0.0.1:18001 and :18003). */
static void test_address_expansion(void **st)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "127.0.0.1:$P", "127.0.0.1:18001" },
		{ "127.0.0.1:1${P2}", "127.0.0.1:18003" },
		{ "${P}x", "18001x" },
		{ "$P.x", "18001.x" },
		{ "$UNS", "" },
		{ "a$", "a" },                          /* a '$' without a name goes */
		{ "a${}b", "ab" },
		{ "${P:80", "18001:80" },               /* no closing brace: as $P */
		{ "fd@$FD", "fd@7" },
		{ "no variable", "no variable" },
	};
	static const char *const refused[] = { "127.0.0.1:${P-18099}", "${LIST[*]}" };
	char out[64];
	struct addr_spec a;
	(void)st;
	setenv("P", "18001", 1);
	setenv("P2", "8003", 1);
	setenv("FD", "7", 1);
	unsetenv("UNS");
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(addr_env_expand(ok[i].in, out, sizeof(out), err, sizeof(err)), 0);
		assert_string_equal(out, ok[i].out);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(addr_env_expand(refused[i], out, sizeof(out), err, sizeof(err)), -1);
		assert_non_null(strstr(err, "outside double quotes an address expands only $NAME and ${NAME}"));
	}
	assert_int_equal(addr_parse("127.0.0.1:$P", 0, &a, err, sizeof(err)), 0);
	assert_int_equal(a.port_lo, 18001);
	assert_int_equal(a.kind, ADDR_K_IP);
	assert_int_equal(addr_parse("$UNS", 0, &a, err, sizeof(err)), -1);
	assert_string_equal(err, "'$UNS' resolves to an empty address (environment variable missing?)");
}

/* fd@N is read from the socket itself (getsockname), on bind lines only. */
static void test_fd_addresses(void **st)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(sin);
	struct addr_spec a;
	char text[128];
	int fd = socket(AF_INET, SOCK_STREAM, 0), udp = socket(AF_INET, SOCK_DGRAM, 0);
	(void)st;
	assert_true(fd >= 0 && udp >= 0);
	snprintf(text, sizeof(text), "fd@%d", fd);
	assert_int_equal(addr_parse(text, ADDR_F_FD, &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is not bound to an address and port"));
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &l), 0);
	assert_int_equal(addr_parse(text, ADDR_F_FD | ADDR_F_RANGE, &a, err, sizeof(err)), 0);
	assert_int_equal(a.kind, ADDR_K_FD);
	assert_int_equal(a.fd, fd);
	assert_int_equal(a.port_lo, ntohs(sin.sin_port));
	assert_int_equal(a.port_hi, a.port_lo);
	assert_int_equal(addr_port((struct sockaddr *)&a.ss), a.port_lo);
	assert_int_equal(addr_parse(text, 0, &a, err, sizeof(err)), -1);
	snprintf(text, sizeof(text), "a file descriptor is not acceptable here in 'fd@%d'", fd);
	assert_string_equal(err, text);
	snprintf(text, sizeof(text), "fd@%d", udp);
	assert_int_equal(addr_parse(text, ADDR_F_FD, &a, err, sizeof(err)), -1);
	snprintf(text, sizeof(text), "socket on file descriptor '%d' is of the wrong type.", udp);
	assert_string_equal(err, text);
	assert_int_equal(addr_parse("fd@-1", ADDR_F_FD, &a, err, sizeof(err)), -1);
	assert_string_equal(err, "file descriptor '-1' is not a valid integer in 'fd@-1'");
	close(fd);
	close(udp);
}

struct split_error { const char *line, *err; };

/* Splits each line and checks that it fails with exactly that message. */
static void expect_split_errors(const struct split_error *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (cfg_split(cases[i].line, &w, err, sizeof(err)) != -1)
			print_error("case %zu was accepted: %s\n", i, cases[i].line);
		assert_string_equal(err, cases[i].err);
	}
}

static void test_errors(void **st)
{
	static const struct split_error cases[] = {
		{ "bind '127.0.0.1:80", "unmatched single quote" },
		{ "bind \"x", "unmatched double quote" },
		{ "x \"${ABC\"", "unmatched brace in environment variable name at position 5" },
		{ "x \"${ABC-def\"", "unmatched brace in environment variable name at position 5" },
		{ "x \"${ABC:-x}\"", "unmatched brace in environment variable name at position 5" },
		{ "x \"k$\"", "forbidden first char in environment variable name at position 6" },
		{ "x \"k$ y\"", "forbidden first char in environment variable name at position 6" },
		{ "x \"$1a\"", "forbidden first char in environment variable name at position 5" },
		{ "x \"${}\"", "forbidden first char in environment variable name at position 6" },
		{ "x \"${.NOPE}\"", "forbidden first char in environment variable name at position 6" },
		{ "x \"$.A\"", "forbidden first char in environment variable name at position 5" },
		{ "x \"${A[x]}\"", "truncated or invalid word expansion sequence at position 7" },
		{ "x \"${A[*\"", "truncated or invalid word expansion sequence at position 7" },
	};
	(void)st;
	expect_split_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Each backslash sequence as HAProxy 2.6 reads it (checked with haproxy -c,
 * which names the unescaped word in "unknown keyword '...'"). */
static const struct { const char *line, *word; } backslashes[] = {
	{ "^\\+OK\\s\\d+", "^\\+OK\\s\\d+" },   /* not an escape: kept */
	{ "\"^\\+OK\\s\\d+\"", "^\\+OK\\s\\d+" },
	{ "'^\\+OK\\s\\d+'", "^\\+OK\\s\\d+" },
	{ "a\\q", "a\\q" },
	{ "a\\\\x", "a\\x" },                  /* \\ */
	{ "a\\\\\\\\", "a\\\\" },
	{ "a\\ x", "a x" },                    /* \<space> */
	{ "\"a \\ x\"", "a  x" },
	{ "a\\#x", "a#x" },
	{ "\"a\\#\"", "a#" },
	{ "a\\'x", "a'x" },
	{ "\"a\\'x\"", "a'x" },
	{ "a\\\"x", "a\"x" },
	{ "a\"\\\"\"", "a\"" },
	{ "\"a\\\\\\\"x\"", "a\\\"x" },
	{ "a\\$x", "a\\$x" },                  /* \$ only inside double quotes */
	{ "\"a\\$x\"", "a$x" },
	{ "a\\tX", "a\tX" },
	{ "a\\nX", "a\nX" },
	{ "a\\rX", "a\rX" },
	{ "\"a\\r\"", "a\r" },
	{ "a\\x41", "aA" },
	{ "\"a\\x4a\"", "aJ" },
	{ "'a\\x41'", "a\\x41" },              /* nothing is an escape in single quotes */
};

static void test_backslashes_as_haproxy(void **st)
{
	char line[128];
	(void)st;
	for (size_t i = 0; i < sizeof(backslashes) / sizeof(backslashes[0]); i++) {
		snprintf(line, sizeof(line), "%s y", backslashes[i].line);
		if (cfg_split(line, &w, err, sizeof(err)) || w.n != 2 ||
		    strcmp(w.w[0], backslashes[i].word))
			print_error("case %zu: %s\n", i, line);
		assert_int_equal(w.n, 2);
		assert_string_equal(w.w[0], backslashes[i].word);
		assert_string_equal(w.w[1], "y");
	}
	/* at the end of the line a backslash stays */
	assert_int_equal(cfg_split("y a\\", &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.w[1], "a\\");
	/* a backslash before a tab keeps itself; the tab still separates */
	assert_int_equal(cfg_split("a\\\tX", &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.w[0], "a\\");
	assert_string_equal(w.w[1], "X");
	/* the regular expression of issue 8, as tcp-check reads it */
	assert_int_equal(cfg_split("tcp-check expect rstring ^\\+OK\\s\\d+", &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 4);
	assert_string_equal(w.w[3], "^\\+OK\\s\\d+");
}

/* \x needs two hex digits, as in HAProxy */
static void test_bad_hex_escape(void **st)
{
	static const struct split_error cases[] = {
		{ "a\\x4 y", "truncated or invalid hexadecimal sequence '\\x4 ' (expected \\xHH)" },
		{ "a\\xZZ", "truncated or invalid hexadecimal sequence '\\xZZ' (expected \\xHH)" },
		{ "\"a\\x4g\"", "truncated or invalid hexadecimal sequence '\\x4g' (expected \\xHH)" },
		{ "a\\x", "truncated or invalid hexadecimal sequence '\\x' (expected \\xHH)" },
	};
	(void)st;
	expect_split_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

/* A parser may look past the last word: it must read NULL there, never a
 * word of the previous, longer line. */
static void test_slots_after_last_word_are_null(void **st)
{
	(void)st;
	assert_int_equal(cfg_split("log 127.0.0.1:514 len 1024 format raw local0 info", &w, err, sizeof(err)), 0);
	assert_int_equal(cfg_split("log 127.0.0.1:514 len", &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 3);
	for (int i = w.n; i <= CFG_MAX_WORDS; i++)
		assert_null(w.w[i]);
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
		cmocka_unit_test(test_expansions_as_haproxy),
		cmocka_unit_test(test_no_comment),
		cmocka_unit_test(test_expansion_too_many_words),
		cmocka_unit_test(test_address_expansion),
		cmocka_unit_test(test_fd_addresses),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_many_words),
		cmocka_unit_test(test_backslashes_as_haproxy),
		cmocka_unit_test(test_bad_hex_escape),
		cmocka_unit_test(test_slots_after_last_word_are_null),
	};
	return cmocka_run_group_tests_name("lexer", tests, NULL, NULL);
}
