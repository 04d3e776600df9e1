/* log-format (src/rules/logformat.c) and the shared rate counter
 * (src/core/ratectr.c): pure functions, exact outputs. The formats are
 * compiled through the configuration parser, as ferry -c does. */
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
#include "core/ratectr.h"
#include "rules/logformat.h"
#include "rules/rules.h"

static struct cfg cfg;
static char *out;
static size_t outlen;
static FILE *diag;

static void done(void)
{
	if (diag) {
		cfg_free(&cfg);
		fclose(diag);
		free(out);
		diag = NULL;
	}
}

static int teardown(void **st)
{
	(void)st;
	done();
	return 0;
}

#define BASE "defaults\n mode tcp\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n" \
	"backend b\n server s1 127.0.0.1:9\nfrontend f\n bind 127.0.0.1:1\n log stdout local0\n default_backend b\n"
/* the log-format line is line 12 */

/* Compiles fmt as f's log-format; returns the diagnostics. */
static const char *compile(const char *fmt, const struct logfmt **lf)
{
	char text[2048];

	done();
	snprintf(text, sizeof(text), BASE " log-format \"%s\"\n", fmt);
	diag = open_memstream(&out, &outlen);
	cfg_init(&cfg, diag);
	cfg_parse_text(&cfg, "t.cfg", text);
	cfg_validate(&cfg);
	rules_compile(&cfg);
	fflush(diag);
	*lf = NULL;
	for (struct cfg_proxy *px = cfg.proxies; px; px = px->next)
		if (!strcmp(px->name, "f"))
			*lf = px->clogfmt;
	return out;
}

static struct sockaddr_in sin4(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static const char *render(const char *fmt)
{
	static char line[1024];
	static struct sockaddr_in ci, fi;
	const struct logfmt *lf;
	struct lf_data d = { 0 };
	struct rule_ctx c = { 0 };
	const char *e = compile(fmt, &lf);

	assert_string_equal(e, "");
	assert_non_null(lf);
	ci = sin4("10.1.2.3", 40000);
	fi = sin4("127.0.0.1", 8443);
	d.ci = (struct sockaddr *)&ci;
	d.fi = (struct sockaddr *)&fi;
	d.fe_name = "f";
	d.be_name = "b";
	d.srv_name = "s1";
	d.hostname = "a\"b]c\\";
	d.accept_date.tv_sec = 86400 * 365;
	d.accept_date.tv_nsec = 7000000;
	d.tw = 0;
	d.tc = 2;
	d.tt = 15;
	d.bytes_in = 3;
	d.bytes_out = 9;
	d.term[0] = 'C';
	d.term[1] = 'D';
	d.ac = 4; d.fc = 3; d.bc = 2; d.sc = 1; d.retries = 1; d.redisp = 1;
	d.rt = 255; d.lc = 7; d.pid = 4660;
	c.src = d.ci;
	c.dst = d.fi;
	c.fe_name = "f";
	c.req_final = 1;
	lf_render(lf, &d, &c, line, sizeof(line));
	return line;
}

static void test_tcplog_format(void **st)
{
	(void)st;
	assert_string_equal(render("%ci:%cp [%T] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"),
			    "10.1.2.3:40000 [01/Jan/1971:00:00:00 +0000] f b/s1 0/2/15 9 CD 4/3/2/1/+1 0/0");
}

static void test_flags(void **st)
{
	(void)st;
	/* quoted strings, never numbers; hex where HAProxy has it */
	assert_string_equal(render("%{+Q}ci %{+Q}cp %{+Q}b %{+Q}ID %ID %{+X}ci:%{+X}cp %{+X}rt %{+X}pid %{+X}ms %ms"),
			    "\"10.1.2.3\" 40000 \"b\" \"\" - 0A010203:9C40 00FF 1234 07 007");
	/* %o carries its flags on; a later -Q takes one off */
	assert_string_equal(render("%{+Q}o %f %{-Q}f %[src] %{+E}o %H"), "\"f\" f \"10.1.2.3\" \"a\\\"b\\]c\\\\\"");
	assert_string_equal(render("%H"), "a\"b]c\\");
	assert_string_equal(render("%Ts %U %Td %tsc %hr|%hs"), "31536000 3 13 CD-- |");
}

static void test_spaces_text_percent(void **st)
{
	(void)st;
	/* spaces merge into one, none at the start; %% is a '%' */
	assert_string_equal(render("   a    b%%c %fp  %[dst_port] %[fe_name,upper] "), "a b%c 8443 8443 F ");
	assert_string_equal(render("x%-y"), "x-y"); /* HAProxy drops a lone '%' */
}

static const struct { const char *fmt, *diag; } errors[] = {
	{ "%foo", "t.cfg:12: failed to parse log-format : no such format variable 'foo'. If you wanted to emit the '%' character verbatim, you need to use '%%'.\n" },
	{ "%Ta", "t.cfg:12: failed to parse log-format : format variable 'Ta' is reserved for HTTP mode.\n" },
	{ "%{+Q}", "t.cfg:12: failed to parse log-format : parse argument modifier without variable name near '%{+Q}'.\n" },
	{ "%{+Q", "t.cfg:12: failed to parse log-format : truncated line after '+Q'.\n" },
	{ "%[src", "t.cfg:12: failed to parse log-format : missing ']' after 'src'.\n" },
	{ "%[src x]", "t.cfg:12: failed to parse log-format : expected ']' after 'src', but found ' '.\n" },
	{ "a%", "t.cfg:12: failed to parse log-format : truncated line after '%'.\n" },
};

static void test_errors(void **st)
{
	const struct logfmt *lf;

	(void)st;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		assert_string_equal(compile(errors[i].fmt, &lf), errors[i].diag);
		assert_null(lf);
	}
	assert_int_equal(lf_uses(NULL), 0);
	compile("%fi %bp %rt %H %[src]", &lf);
	assert_int_equal(lf_uses(lf), LF_USE_FI | LF_USE_BI | LF_USE_RT | LF_USE_HOST | LF_USE_EXPR);
}

/* HAProxy's arithmetic: 20 a second allowed; the previous second weighs by
 * what is left of the current one. */
static void test_freq_ctr(void **st)
{
	struct rate_ctr c = { 0 };
	uint64_t t0 = 5000;

	(void)st;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(rate_ctr_remain(&c, t0, 20, 0), 20 - i);
		rate_ctr_add(&c, t0, 1);
	}
	assert_int_equal(rate_ctr_remain(&c, t0 + 10, 20, 0), 0);
	assert_int_equal(rate_ctr_read(&c, t0 + 10), 20);
	/* one event slides out every 50 ms of the next second */
	assert_int_equal(rate_ctr_delay(&c, t0 + 10, 20, 0), 1);
	assert_int_equal(rate_ctr_delay(&c, t0 + 999, 20, 0), 1);
	assert_int_equal(rate_ctr_remain(&c, t0 + 1000, 20, 0), 0);
	assert_int_equal(rate_ctr_remain(&c, t0 + 1500, 20, 0), 10);
	assert_int_equal(rate_ctr_delay(&c, t0 + 1000, 20, 0), 1);
	assert_int_equal(rate_ctr_delay(&c, t0 + 1500, 20, 0), 0);
	/* two seconds without an event forget everything */
	assert_int_equal(rate_ctr_remain(&c, t0 + 2001, 20, 0), 20);
	rate_ctr_add(&c, t0 + 3000, 1);
	assert_int_equal(rate_ctr_read(&c, t0 + 3000), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tcplog_format, teardown),
		cmocka_unit_test_teardown(test_flags, teardown),
		cmocka_unit_test_teardown(test_spaces_text_percent, teardown),
		cmocka_unit_test_teardown(test_errors, teardown),
		cmocka_unit_test(test_freq_ctr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
