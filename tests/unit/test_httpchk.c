/* option httpchk: the request bytes (each expected string is what HAProxy
 * 2.6.12 put on the wire for the same rule, captured from it), the
 * response reader against hostile input (every prefix of a response, a
 * guard page right after the data, garbage, limits), and the http-check
 * rules the parser builds (order, merging, inheritance, errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/model.h"
#include "health/httpmsg.h"

/* ---- requests ----------------------------------------------------------- */

static const char *req(const char *meth, const char *uri, const char *ver, const char *body,
		       const char *const *hdrs, int nhdrs, const char *state)
{
	static char out[4096];
	struct tcr_http h = { .meth = (char *)meth, .uri = (char *)uri, .ver = (char *)ver,
			      .body = (char *)body, .hdrs = (char **)hdrs, .nhdrs = nhdrs };
	size_t n = httpmsg_request(&h, state, out, sizeof(out) - 1);

	out[n] = 0;
	return out;
}

static void test_request_bytes_as_haproxy(void **st)
{
	static const char *const host[] = { "Host", "example.org" };
	static const char *const xy[] = { "X-Y", "z" };
	static const char *const upg[] = { "host", "h", "connection", "upgrade" };
	static const char *const ka[] = { "Connection", "keep-alive" };
	static const char *const foo[] = { "connection", "foo, close" };
	static const char *const xa[] = { "X-A", "b", "Connection", "keep-alive" };
	(void)st;
	/* option httpchk alone */
	assert_string_equal(req(NULL, NULL, NULL, NULL, NULL, 0, NULL), "OPTIONS / HTTP/1.0\r\n\r\n");
	assert_string_equal(req(NULL, "/legacy", NULL, NULL, NULL, 0, NULL), "OPTIONS /legacy HTTP/1.0\r\n\r\n");
	/* HTTP/1.1: "connection: close" last; no content-length for GET without a body */
	assert_string_equal(req("GET", "/a", "HTTP/1.1", NULL, NULL, 0, NULL),
			    "GET /a HTTP/1.1\r\nconnection: close\r\n\r\n");
	assert_string_equal(req("GET", "/primary", "HTTP/1.1", "hello", host, 1, NULL),
			    "GET /primary HTTP/1.1\r\nhost: example.org\r\ncontent-length: 5\r\n"
			    "connection: close\r\n\r\nhello");
	/* HTTP/1.0 with a body: close is implied */
	assert_string_equal(req(NULL, NULL, NULL, "hi", xy, 1, NULL),
			    "OPTIONS / HTTP/1.0\r\nx-y: z\r\ncontent-length: 2\r\n\r\nhi");
	assert_string_equal(req(NULL, NULL, "HTTP/1.1", NULL, upg, 2, NULL),
			    "OPTIONS / HTTP/1.1\r\nhost: h\r\nconnection: upgrade\r\n\r\n");
	assert_string_equal(req("HEAD", "/z", "HTTP/1.0", NULL, ka, 1, "UP; name=b/s"),
			    "HEAD /z HTTP/1.0\r\nx-haproxy-server-state: UP; name=b/s\r\n"
			    "connection: keep-alive\r\n\r\n");
	assert_string_equal(req("PUT", "/p", "HTTP/1.1", NULL, foo, 1, NULL),
			    "PUT /p HTTP/1.1\r\nconnection: foo\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
	assert_string_equal(req("POST", "/x", "HTTP/1.1", "abc", xa, 2, NULL),
			    "POST /x HTTP/1.1\r\nx-a: b\r\ncontent-length: 3\r\n\r\nabc");
	/* "get" is not GET to HAProxy; HTTP/2 is written 1.1 but not handled as 1.1 */
	assert_string_equal(req("get", "http://foo.example/p?q=1", "HTTP/2", NULL, NULL, 0, NULL),
			    "get http://foo.example/p?q=1 HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
}

static void test_request_too_big_is_refused(void **st)
{
	struct tcr_http h = { .uri = "/0123456789" };
	char out[16];
	(void)st;
	assert_int_equal(httpmsg_request(&h, NULL, out, sizeof(out)), 0);
}

/* ---- responses ---------------------------------------------------------- */

/* buf placed right before a PROT_NONE page: any read past len faults. */
static char *guarded(const char *s, size_t len, void **map, size_t *maplen)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (len + pg - 1) / pg * pg + pg;
	char *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + n - pg, pg, PROT_NONE), 0);
	memcpy(m + n - pg - len, s, len);
	*map = m;
	*maplen = n;
	return m + n - pg - len;
}

static enum httpmsg_ret head(const char *s, size_t len, struct httpmsg_resp *r)
{
	void *m;
	size_t ml;
	char *b = guarded(s, len, &m, &ml);
	enum httpmsg_ret ret = httpmsg_parse_head(b, len, 0, r);

	if (ret == HMSG_DONE) { /* the body reader too, against the guard page */
		static char reason[256];
		char out[64];
		int complete;
		httpmsg_body(b, len, r, out, sizeof(out), &complete);
		memcpy(reason, r->reason, r->reason_len < sizeof(reason) ? r->reason_len : sizeof(reason));
		r->reason = reason; /* the buffer goes */
		r->nhdr = 0;
	}
	munmap(m, ml);
	return ret;
}

static void test_every_prefix_waits_then_parses(void **st)
{
	static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nX-Role: replica\r\n\r\nhello";
	struct httpmsg_resp r;
	size_t hlen = strstr(resp, "\r\n\r\n") + 4 - resp;
	(void)st;
	for (size_t i = 0; i < hlen; i++)
		assert_int_equal(head(resp, i, &r), HMSG_MORE);
	for (size_t i = hlen; i <= sizeof(resp) - 1; i++) {
		assert_int_equal(head(resp, i, &r), HMSG_DONE);
		assert_int_equal(r.status, 503);
		assert_int_equal(r.reason_len, strlen("Service Unavailable"));
		assert_memory_equal(r.reason, "Service Unavailable", r.reason_len);
		assert_int_equal(r.body, HB_CLEN);
		assert_int_equal(r.clen, 5);
	}
}

static void test_bad_heads(void **st)
{
	static const char *const bad[] = {
		"hello garbage\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "HTTP/1.1\r\n\r\n", "HTTP/x.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n", "HTTP/1.1 200 OK\r\n: empty\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "ICY 200 OK\r\n\r\n",
	};
	struct httpmsg_resp r;
	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (head(bad[i], strlen(bad[i]), &r) != HMSG_BAD)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void test_heads_haproxy_takes(void **st)
{
	struct httpmsg_resp r;
	(void)st;
	/* bare LF, no reason, a 4-digit status, a 1xx first */
	assert_int_equal(head("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 37, &r), HMSG_DONE);
	assert_int_equal(r.status, 200);
	assert_int_equal(head("HTTP/1.1 503\r\n\r\n", 16, &r), HMSG_DONE);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.reason_len, 0);
	assert_int_equal(head("HTTP/1.1 2000 Weird\r\n\r\n", 23, &r), HMSG_DONE);
	assert_int_equal(r.status, 2000);
	assert_int_equal(head("HTTP/1.1 100 Continue\r\n\r\n", 25, &r), HMSG_DONE);
	assert_int_equal(r.status, 100);
	assert_int_equal(r.body, HB_NONE);
}

static void test_header_limit(void **st)
{
	char buf[4096];
	size_t n = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\n");
	struct httpmsg_resp r;
	(void)st;
	for (int i = 0; i < HTTPMSG_MAXHDR; i++)
		n += (size_t)sprintf(buf + n, "X: y\r\n");
	assert_int_equal(head(buf, (size_t)sprintf(buf + n, "\r\n") + n, &r), HMSG_DONE);
	n += (size_t)sprintf(buf + n, "X: y\r\n\r\n");
	assert_int_equal(head(buf, n, &r), HMSG_BAD);
}

static void test_bodies(void **st)
{
	static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "5\r\nhello\r\n6;x=1\r\n world\r\n0\r\n\r\n";
	static const char close_[] = "HTTP/1.0 200 OK\r\n\r\nsome body";
	struct httpmsg_resp r;
	char out[64];
	int complete;
	long n;
	(void)st;
	assert_int_equal(httpmsg_parse_head(chunked, sizeof(chunked) - 1, 0, &r), HMSG_DONE);
	assert_int_equal(r.body, HB_CHUNKED);
	n = httpmsg_body(chunked, sizeof(chunked) - 1, &r, out, sizeof(out), &complete);
	assert_int_equal(n, 11);
	assert_memory_equal(out, "hello world", 11);
	assert_true(complete);
	/* every prefix: never more than what came, complete only at the end */
	for (size_t i = r.body_off; i < sizeof(chunked) - 1; i++) {
		n = httpmsg_body(chunked, i, &r, out, sizeof(out), &complete);
		assert_true(n >= 0 && n <= 11);
		assert_false(complete);
	}
	/* the body is cut at cap */
	n = httpmsg_body(chunked, sizeof(chunked) - 1, &r, out, 4, &complete);
	assert_int_equal(n, 4);
	assert_int_equal(httpmsg_parse_head(close_, sizeof(close_) - 1, 0, &r), HMSG_DONE);
	assert_int_equal(r.body, HB_CLOSE);
	n = httpmsg_body(close_, sizeof(close_) - 1, &r, out, sizeof(out), &complete);
	assert_int_equal(n, 9);
	assert_false(complete);
	/* a HEAD answer has no body, whatever it says */
	assert_int_equal(httpmsg_parse_head("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", 38, 1, &r), HMSG_DONE);
	assert_int_equal(r.body, HB_NONE);
	assert_int_equal(httpmsg_parse_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 51, 0, &r),
			 HMSG_DONE);
	assert_int_equal(httpmsg_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 51, &r, out,
				      sizeof(out), &complete), -1);
}

static void test_random_bytes_never_crash(void **st)
{
	unsigned seed = 12345;
	char buf[512];
	struct httpmsg_resp r;
	(void)st;
	for (int k = 0; k < 20000; k++) {
		size_t n = (size_t)(rand_r(&seed) % (int)sizeof(buf));
		size_t pre = k % 2 ? 0 : (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\n");
		for (size_t i = pre; i < n; i++) {
			static const char alpha[] = "HTTP/1.0 200:\r\n\t ,;0123456789abcdefchunkedContent-Length";
			buf[i] = alpha[rand_r(&seed) % (int)(sizeof(alpha) - 1)];
		}
		head(buf, n > pre ? n : pre, &r);
	}
}

/* ---- the rules the parser builds ------------------------------------------ */

static struct cfg cfg;
static char *out;
static size_t outlen;
static FILE *diag;

static const char *parse(const char *text)
{
	if (diag) {
		cfg_free(&cfg);
		fclose(diag);
		free(out);
	}
	diag = open_memstream(&out, &outlen);
	cfg_init(&cfg, diag);
	cfg_parse_text(&cfg, "t.cfg", text);
	cfg_validate(&cfg);
	fflush(diag);
	return out;
}

static int teardown(void **st)
{
	(void)st;
	if (diag) {
		cfg_free(&cfg);
		fclose(diag);
		free(out);
		diag = NULL;
	}
	return 0;
}

#define BASE "defaults\n mode tcp\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n"

/* The rules of backend b as "C S E ..." (connect, send, expect, comment). */
static const char *shape(void)
{
	static char s[64];
	const struct cfg_proxy *b = cfg_find_proxy(&cfg, "b", PX_CAP_BE);
	int n = 0;

	assert_non_null(b);
	for (int i = 0; i < b->hrules.n && n < 60; i++)
		s[n++] = "CSE#"[b->hrules.v[i].kind];
	s[n] = 0;
	return s;
}

static const struct tcr_http *rule_http(int i)
{
	return cfg_find_proxy(&cfg, "b", PX_CAP_BE)->hrules.v[i].http;
}

static void test_rules_built(void **st)
{
	(void)st;
	assert_string_equal(parse(BASE "backend b\n option httpchk\n"), "");
	assert_int_equal(cfg_find_proxy(&cfg, "b", PX_CAP_BE)->check_type, CHK_HTTP);
	assert_string_equal(shape(), "SE"); /* the implicit expect 200-399 */
	assert_int_equal(rule_http(1)->codes[0][0], 200);
	assert_int_equal(rule_http(1)->codes[0][1], 399);
	/* the implicit send merges with the first explicit one, either order */
	assert_string_equal(parse(BASE "backend b\n option httpchk GET /primary\n http-check send hdr Host x\n"
				       " http-check expect status 200\n"), "");
	assert_string_equal(shape(), "SE");
	assert_string_equal(rule_http(0)->meth, "GET");
	assert_string_equal(rule_http(0)->uri, "/primary");
	assert_int_equal(rule_http(0)->nhdrs, 1);
	assert_string_equal(parse(BASE "backend b\n http-check send hdr Host x ver HTTP/1.1\n option httpchk GET /y\n"), "");
	assert_string_equal(shape(), "SE");
	assert_string_equal(rule_http(0)->uri, "/y");
	assert_string_equal(rule_http(0)->ver, "HTTP/1.1");
	assert_int_equal(rule_http(0)->nhdrs, 1); /* kept: the option has none */
	/* the implicit send goes after the first connect */
	assert_string_equal(parse(BASE "backend b\n option httpchk GET /a\n http-check connect port 8008\n"), "");
	assert_string_equal(shape(), "CSE");
	assert_string_equal(rule_http(1)->uri, "/a");
	assert_string_equal(parse(BASE "backend b\n option httpchk\n http-check connect\n http-check send uri /x\n"
				       " http-check expect status 200\n http-check connect port 1\n http-check send\n"
				       " http-check expect status 200\n"), "");
	assert_string_equal(shape(), "CSECSE");
	/* comments stay in place */
	assert_string_equal(parse(BASE "backend b\n option httpchk\n http-check comment c1\n"
				       " http-check expect status 200\n"), "");
	assert_string_equal(shape(), "S#E");
}

static void test_inheritance(void **st)
{
	(void)st;
	/* inherited whole when the backend says nothing */
	assert_string_equal(parse(BASE " option httpchk GET /p\n http-check expect status 200\nbackend b\n"), "");
	assert_string_equal(shape(), "SE");
	assert_string_equal(rule_http(0)->uri, "/p");
	/* a backend's own line replaces them, as in HAProxy: no request left */
	assert_string_equal(parse(BASE " option httpchk GET /p\nbackend b\n http-check expect status 200\n"),
			    "t.cfg:7: warning: backend 'b': its http-check rules send no request (they replace those of "
			    "the defaults section, 'option httpchk' included): the checks will time out; add 'option "
			    "httpchk' or 'http-check send' here\n");
	assert_string_equal(shape(), "E");
	assert_string_equal(parse(BASE " option httpchk GET /p\n http-check expect status 201\nbackend b\n option httpchk\n"), "");
	assert_string_equal(shape(), "SE");
	assert_null(rule_http(0)->uri);
	assert_int_equal(rule_http(1)->codes[0][0], 200);
}

struct diag_case { const char *text, *diag; };

static const struct diag_case diags[] = {
	{ BASE "backend b\n option httpchk\n http-check expect status 200\n http-check send uri /x\n",
	  "t.cfg:9: 'http-check send': unable to add http-check send rule at step 2 (missing connect rule)\n" },
	{ BASE "backend b\n option httpchk\n http-check connect\n http-check connect\n",
	  "t.cfg:9: 'http-check connect': unable to add http-check connect rule at step 2 (missing expect rule)\n" },
	{ BASE "backend b\n option httpchk\n http-check connect\n http-check expect status 200\n",
	  "t.cfg:9: 'http-check expect': unable to add http-check expect rule at step 2 (missing send rule)\n" },
	{ BASE "backend b\n option httpchk\n http-check send\n http-check expect status 200\n http-check connect port 1\n",
	  "t.cfg:10: 'http-check connect': first step MUST also be a 'connect', optionally preceded by a 'set-var', an "
	  "'unset-var' or a 'comment', when there is a 'connect' step in the tcp-check ruleset\n" },
	{ BASE "backend b\n http-check expect status 200\n",
	  "t.cfg:6: warning: backend 'b' uses http-check rules without 'option httpchk', so the rules are ignored.\n" },
	{ BASE "backend b\n option tcp-check\n http-check disable-on-404\n",
	  "t.cfg:6: warning: 'disable-on-404' will be ignored for backend 'b' (requires 'option httpchk').\n" },
	{ BASE "backend b\n option httpchk\n http-check expect status 2xx\n",
	  "t.cfg:8: 'http-check expect': invalid character 'x' in the list of status codes\n" },
	{ BASE "backend b\n option httpchk\n http-check expect status 300-200\n",
	  "t.cfg:8: 'http-check expect': invalid range of status codes '300-200'\n" },
	{ BASE "backend b\n option httpchk\n http-check expect binary 00\n",
	  "t.cfg:8: 'http-check expect': only supports min-recv, [!]string, [!]rstring, [!]string-lf, [!]status, "
	  "[!]rstatus, [!]hdr, [!]fhdr or comment but got 'binary' as argument\n" },
	{ BASE "backend b\n option httpchk\n http-check expect rstatus (\n",
	  NULL /* a regex error: checked for its start only */ },
	{ BASE "backend b\n option httpchk\n http-check send hdr Host a hdr host b\n",
	  "t.cfg:8: 'http-check send': 'host' header already defined (previous value is 'a')\n" },
	{ BASE "backend b\n option httpchk\n http-check send meth\n",
	  "t.cfg:8: 'http-check send': 'meth' expects a string as argument\n" },
	{ BASE "backend b\n option httpchk\n http-check send hdr X-A %[src]\n",
	  "t.cfg:8: 'http-check send': '%[src]' is an HAProxy log-format string, which ferry does not support yet\n" },
	{ BASE "backend b\n option httpchk\n http-check set-var(check.x) int(1)\n",
	  "t.cfg:8: 'http-check set-var(check.x)' needs HAProxy's variables and sample expressions, which ferry does not support yet\n" },
	{ BASE "backend b\n option httpchk\n http-check connect ssl\n",
	  "t.cfg:8: 'http-check connect ssl' is an HAProxy option that ferry does not support yet\n" },
	{ BASE "backend b\n option httpchk a b c d\n",
	  "t.cfg:7: 'option httpchk' cannot handle unexpected argument 'd'\n" },
	{ BASE "backend b\n option httpchk HEAD / HTTP/1.1\\r\\nHost:\\ www\n",
	  "t.cfg:7: warning: 'option httpchk' : hiding headers or body at the end of the version string is "
	  "deprecated. Please, consider to use 'http-check send' directive instead.\n" },
	{ BASE "backend b\n option httpchk\n http-check disable-on-404 now\n",
	  "t.cfg:8: 'http-check disable-on-404' cannot handle unexpected argument 'now'\n" },
	{ BASE "backend b\n option httpchk\n http-check expect hdr value x\n",
	  "t.cfg:8: 'http-check expect': 'hdr' expects at the name keyword as first argument followed by a pattern\n" },
	{ BASE "backend b\n option httpchk\n http-check expect hdr name -m foo x\n",
	  "t.cfg:8: 'http-check expect hdr': '-m' only supports 'str', 'beg', 'end', 'sub' or 'reg' (got 'foo')\n" },
};

static void test_diagnostics(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof(diags) / sizeof(diags[0]); i++) {
		const char *d = parse(diags[i].text);
		if (!diags[i].diag)
			assert_non_null(strstr(d, "'http-check expect rstatus': invalid regular expression '('"));
		else if (strcmp(d, diags[i].diag))
			fail_msg("case %zu:\n%s\nexpected:\n%s\ngot:\n%s", i, diags[i].text, diags[i].diag, d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_bytes_as_haproxy),
		cmocka_unit_test(test_request_too_big_is_refused),
		cmocka_unit_test(test_every_prefix_waits_then_parses),
		cmocka_unit_test(test_bad_heads),
		cmocka_unit_test(test_heads_haproxy_takes),
		cmocka_unit_test(test_header_limit),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_random_bytes_never_crash),
		cmocka_unit_test_teardown(test_rules_built, teardown),
		cmocka_unit_test_teardown(test_inheritance, teardown),
		cmocka_unit_test_teardown(test_diagnostics, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
