/* ACL grammar and rules: the exact "path:line: message" of each error, and
 * which backend a frontend's rules choose for a given client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/model.h"
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

/* Parses, validates and compiles text as "t.cfg"; returns the diagnostics. */
static const char *parse(const char *text)
{
	done();
	diag = open_memstream(&out, &outlen);
	cfg_init(&cfg, diag);
	cfg_parse_text(&cfg, "t.cfg", text);
	cfg_validate(&cfg);
	rules_compile(&cfg);
	fflush(diag);
	return out;
}

static int teardown(void **st)
{
	(void)st;
	done();
	return 0;
}

#define BASE "defaults\n mode tcp\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n" \
	"backend b0\n server s1 127.0.0.1:9\n backend b1\n server s1 127.0.0.1:9\n server s2 127.0.0.1:10\n" \
	"backend b2\n server s1 127.0.0.1:9\nfrontend f\n bind 127.0.0.1:1\n default_backend b0\n"
/* the first line after BASE is line 16 */

static const struct { const char *cfg, *diag; } errors[] = {
	{ BASE " acl a srcc 1.2.3.4\n",
	  "t.cfg:16: error detected while parsing ACL 'a' : unknown fetch method 'srcc' (did you mean 'src'?) in ACL expression 'srcc'.\n" },
	{ BASE " use_backend b1 if nope\n",
	  "t.cfg:16: error detected while parsing switching rule : no such ACL : 'nope'.\n" },
	{ BASE " acl a src -f /nonexistent/list\n",
	  "t.cfg:16: error detected while parsing ACL 'a' : failed to open pattern file </nonexistent/list>.\n" },
	{ BASE " acl a src 1.2.3.x\n",
	  "t.cfg:16: error detected while parsing ACL 'a' : '1.2.3.x' is not a valid IPv4 or IPv6 address.\n" },
	{ BASE " acl a dst_port zz 5\n",
	  "t.cfg:16: error detected while parsing ACL 'a' : 'zz' is not a number.\n" },
	{ BASE " acl a src,foo 1.2.3.4\n",
	  "t.cfg:16: error detected while parsing ACL 'a' : unknown converter 'foo' in ACL expression 'src,foo'.\n" },
	{ BASE " acl a src,ipmask(33) 1.2.3.0\n",
	  "t.cfg:16: error detected while parsing ACL 'a' : invalid arg 1 in converter 'ipmask' : failed to parse '33' as type 'IPv4 mask' at position 1 in ACL expression 'src,ipmask(33)'.\n" },
	{ BASE " acl a fe_name -m foo x\n",
	  "t.cfg:16: error detected while parsing ACL 'a' : unknown matching method 'foo' when parsing ACL expression.\n" },
	{ BASE " acl a fe_name -m reg (\n",
	  "t.cfg:16: error detected while parsing ACL 'a' : regex '(' is invalid (error=missing closing parenthesis at offset 1).\n" },
	{ BASE " use_backend b1 if { src 1.2.3.4\n",
	  "t.cfg:16: error detected while parsing switching rule : missing closing '}' in condition.\n" },
	{ BASE " use_backend b1 when TRUE\n",
	  "t.cfg:16: unexpected keyword 'when' after switching rule, only 'if' and 'unless' are allowed.\n" },
	{ BASE " use_backend nob if TRUE\n",
	  "t.cfg:16: Proxy 'f': unable to find required use_backend: 'nob'.\n" },
	{ BASE " use_backend\n", "t.cfg:16: 'use_backend' expects a backend name.\n" },
	{ BASE " acl a nbsrv(nob) lt 1\n",
	  "t.cfg:16: unable to find backend 'nob' referenced in arg 1 of ACL keyword 'nbsrv' in proxy 'f'.\n" },
	{ BASE " acl a srv_is_up(b1/zz)\n",
	  "t.cfg:16: unable to find server 'zz' in proxy 'b1', referenced in arg 1 of ACL keyword 'srv_is_up' in proxy 'f'.\n" },
	{ BASE " acl a fc_rtt lt 10\n",
	  "t.cfg:16: error detected while parsing ACL 'a' : fetch method 'fc_rtt' is an HAProxy keyword that ferry does not support yet in ACL expression 'fc_rtt'.\n" },
	{ BASE " use_backend b1 if METH_GET\n",
	  "t.cfg:16: predefined ACL 'METH_GET' is an HAProxy keyword that ferry does not support yet\n" },
	{ BASE " tcp-request connection reject foo\n",
	  "t.cfg:16: 'tcp-request connection reject' only accepts 'if' or 'unless', in frontend 'f' (got 'foo')\n" },
	{ BASE " tcp-request connection set-mark 1\n",
	  "t.cfg:16: 'tcp-request connection set-mark' is an HAProxy keyword that ferry does not support yet\n" },
	{ BASE " tcp-request connection track-sc0 src\n",
	  "t.cfg:16: Proxy 'f': unable to find table 'f' referenced by track-sc0.\n" },
	{ BASE " tcp-request connection track-sc3 src\n",
	  "t.cfg:16: 'tcp-request connection track-sc3' : 3 track-sc number exceeding 2 (MAX_SESS_STKCTR-1) value\n" },
	{ BASE " tcp-request connection sc-inc-gpc0(4)\n",
	  "t.cfg:16: invalid stick table track ID. The max allowed ID is 2\n" },
	{ BASE " tcp-request connection reject if { src_conn_cur gt 1 }\n",
	  "t.cfg:16: unable to find table 'f' referenced in arg 1 of ACL keyword 'src_conn_cur' in proxy 'f'.\n" },
	{ BASE " tcp-request connection reject if { sc_conn_cur(0,nope) gt 1 }\n",
	  "t.cfg:16: unable to find table 'nope' referenced in arg 2 of ACL keyword 'sc_conn_cur' in proxy 'f'.\n" },
	{ BASE " tcp-request connection reject if { req.len gt 0 }\n",
	  "t.cfg:16: warning: anonymous acl will never match in 'tcp-request connection' because it uses keyword 'req.len' which is incompatible with 'frontend tcp-request connection rule'\n" },
	{ BASE " acl c req.len gt 0\n tcp-request connection reject if c\n",
	  "t.cfg:17: warning: acl 'c' will never match in 'tcp-request connection' because it only involves keywords that are incompatible with 'frontend tcp-request connection rule'\n" },
	{ BASE " use_backend %[src,map_ip(/nonexistent/m.map)]\n",
	  "t.cfg:16: failed to parse use_backend rule '%[src,map_ip(/nonexistent/m.map)]' : failed to parse sample expression <src,map_ip(/nonexistent/m.map)]> : invalid args in converter 'map_ip' : failed to open pattern file </nonexistent/m.map>..\n" },
	{ "defaults\n acl a src 1.2.3.4\n",
	  "t.cfg:2: 'acl' is not allowed in a defaults section\n"
	  "t.cfg: no frontend, backend or listen section: nothing to do\n" },
	{ BASE " use-server s1 if TRUE\n",
	  "t.cfg:16: warning: 'use-server' ignored because frontend 'f' has no backend capability.\n" },
	{ "backend b\n server s1 127.0.0.1:9\n use-server s9 if TRUE\n timeout connect 1s\n timeout server 1s\n",
	  "t.cfg:3: backend 'b' : unable to find server 's9' referenced in a 'use-server' rule.\n" },
	/* accepted */
	{ BASE " acl x src_port 1:100 lt 5 ge 6 eq 7 le 8 gt 9 :5 6:\n acl y fe_name -m beg -i foo\n"
	  " use_backend b1 if !TRUE or { src 1.1.1.1 } || FALSE x y\n use_backend b2 if ! LOCALHOST\n", "" },
};

static void test_errors(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		const char *d = parse(errors[i].cfg);
		if (strcmp(d, errors[i].diag))
			fail_msg("case %zu:\n got: %s\nwant: %s", i, d, errors[i].diag);
	}
}

/* ---- evaluation ------------------------------------------------------------ */

static struct backend bks[3] = { { .name = "b0" }, { .name = "b1" }, { .name = "b2" } };
static struct backend *const bptr[3] = { &bks[0], &bks[1], &bks[2] };

static struct sockaddr_storage sa4(const char *ip, int port)
{
	struct sockaddr_storage ss = { 0 };
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &s->sin6_addr);
	} else {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &s->sin_addr);
	}
	return ss;
}

static const struct cfg_proxy *fe(void)
{
	for (const struct cfg_proxy *px = cfg.proxies; px; px = px->next)
		if (!strcmp(px->name, "f"))
			return px;
	return NULL;
}

/* The backend index f's rules choose for src -> dst with request bytes
 * req (final), -1 for none, -2 for "need more". */
static int pick(const char *src, const char *dst, int dport, const char *req, int final)
{
	struct sockaddr_storage s = sa4(src, 40000), d = sa4(dst, dport);
	struct rule_ctx c = { .src = (struct sockaddr *)&s, .dst = (struct sockaddr *)&d,
			      .fe_name = "f", .fe_id = 4, .bes = bptr, .nbe = 3,
			      .req = (const uint8_t *)req, .req_len = req ? strlen(req) : 0,
			      .req_final = final };
	int idx = -1;
	enum rule_res r = rules_pick_backend(fe()->crules, &c, &idx);
	return r == RULE_MISS ? -2 : r == RULE_PASS ? idx : -1;
}

static int accepted(const char *src)
{
	struct sockaddr_storage s = sa4(src, 40000);
	struct rule_ctx c = { .src = (struct sockaddr *)&s, .fe_name = "f", .req_final = 1 };
	return rules_conn_accept(fe()->crules, &c, NULL);
}

/* tcp-request content rules of f over req (len bytes): 'P' accept, 'F'
 * reject, 'M' wait for more. */
static char content(const uint8_t *req, size_t len, int final)
{
	struct sockaddr_storage s = sa4("127.0.0.1", 40000);
	struct rule_ctx c = { .src = (struct sockaddr *)&s, .fe_name = "f", .bes = bptr, .nbe = 3,
			      .req = req, .req_len = len, .req_final = final };
	enum rule_res r = rules_content(fe()->crules, &c);
	return r == RULE_MISS ? 'M' : r == RULE_PASS ? 'P' : 'F';
}

/* A minimal TLS 1.2 ClientHello with server_name sni and ALPN "h2",
 * "http/1.1". Returns its length. */
static size_t hello(uint8_t *b, const char *sni)
{
	size_t sl = strlen(sni), n = 0, ext, hs;
	static const uint8_t alpn[] = { 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 2, 'h', '2',
					8, 'h', 't', 't', 'p', '/', '1', '.', '1' };

	b[n++] = 0x16; b[n++] = 3; b[n++] = 1; n += 2;       /* record header */
	b[n++] = 1; n += 3;                                 /* handshake header */
	b[n++] = 3; b[n++] = 3;                             /* client_version */
	memset(b + n, 7, 32); n += 32;                      /* random */
	b[n++] = 0;                                         /* session id */
	b[n++] = 0; b[n++] = 2; b[n++] = 0x13; b[n++] = 1;  /* one cipher */
	b[n++] = 1; b[n++] = 0;                             /* null compression */
	ext = n; n += 2;
	b[n++] = 0; b[n++] = 0;                             /* server_name */
	b[n++] = 0; b[n++] = (uint8_t)(sl + 5);
	b[n++] = 0; b[n++] = (uint8_t)(sl + 3);
	b[n++] = 0; b[n++] = 0; b[n++] = (uint8_t)sl;
	memcpy(b + n, sni, sl); n += sl;
	memcpy(b + n, alpn, sizeof(alpn)); n += sizeof(alpn);
	b[ext] = (uint8_t)((n - ext - 2) >> 8); b[ext + 1] = (uint8_t)(n - ext - 2);
	hs = n - 9;
	b[6] = (uint8_t)(hs >> 16); b[7] = (uint8_t)(hs >> 8); b[8] = (uint8_t)hs;
	b[3] = (uint8_t)((n - 5) >> 8); b[4] = (uint8_t)(n - 5);
	return n;
}

static int pick_bytes(const uint8_t *req, size_t len)
{
	struct sockaddr_storage s = sa4("127.0.0.1", 40000);
	struct rule_ctx c = { .src = (struct sockaddr *)&s, .fe_name = "f", .bes = bptr, .nbe = 3,
			      .req = req, .req_len = len, .req_final = 1 };
	int idx = -1;
	return rules_pick_backend(fe()->crules, &c, &idx) == RULE_PASS ? idx : -1;
}

static void test_content_rules(void **st)
{
	uint8_t h[512];
	size_t n = hello(h, "b.example");
	unsigned acts = 0;
	struct sockaddr_storage s2 = sa4("127.0.0.2", 1), s1 = sa4("127.0.0.1", 1);
	struct rule_ctx c = { .fe_name = "f", .req_final = 1 };

	(void)st;
	/* req.len: a sample that may still grow (HAProxy's MAY_CHANGE) */
	assert_string_equal(parse(BASE " tcp-request inspect-delay 5s\n"
				  " tcp-request content accept if { req.len ge 4 }\n"
				  " tcp-request content reject\n"), "");
	assert_int_equal(content((const uint8_t *)"ab", 2, 0), 'M');
	assert_int_equal(content((const uint8_t *)"abcd", 4, 0), 'P');
	assert_int_equal(content((const uint8_t *)"ab", 2, 1), 'F');
	/* the hello idiom: wait until the whole ClientHello is there */
	assert_string_equal(parse(BASE " tcp-request inspect-delay 5s\n"
				  " tcp-request content accept if { req.ssl_hello_type 1 }\n"
				  " tcp-request content reject if { req_ssl_ver lt 3.3 }\n"
				  " use_backend b2 if { req.ssl_alpn http/1.1 }\n"
				  " use_backend %[req.ssl_sni,map_dom(/dev/null,b1)]\n"), "");
	for (size_t k = 0; k < n; k++)
		assert_int_equal(content(h, k, 0), 'M');
	assert_int_equal(content(h, n, 0), 'P');
	assert_int_equal(content(h, n - 1, 1), 'P');    /* final: no hello, no rule matches */
	assert_int_equal(content((const uint8_t *)"GET / HTTP/1.0\r\n", 16, 0), 'P'); /* not TLS: at once */
	assert_int_equal(pick_bytes(h, n), 2);          /* the second ALPN name matches */
	assert_string_equal(parse(BASE " use_backend %[req.ssl_sni,map_dom(/dev/null,b1)]\n"), "");
	assert_int_equal(pick_bytes(h, n), 1);
	assert_int_equal(pick_bytes(h, n - 1), -1);     /* no SNI in a cut hello: the default */
	/* expect-proxy layer4 goes on to the next rules */
	assert_string_equal(parse(BASE " tcp-request connection expect-proxy layer4 if { src 127.0.0.2 }\n"
				  " tcp-request connection reject if { src 127.0.0.3 }\n"), "");
	c.src = (struct sockaddr *)&s2;
	assert_int_equal(rules_conn_accept(fe()->crules, &c, &acts), 1);
	assert_int_equal(acts, RULE_ACT_EXPECT_PROXY);
	acts = 0;
	c.src = (struct sockaddr *)&s1;
	assert_int_equal(rules_conn_accept(fe()->crules, &c, &acts), 1);
	assert_int_equal(acts, 0);
}

static void test_eval_switching(void **st)
{
	(void)st;
	assert_string_equal(parse(BASE
		" acl net src 10.0.0.0/8 192.168.1.0/24\n"
		" acl net src 2001:db8::/32\n"            /* a second line of one name: OR */
		" acl web dst_port 80 443\n"
		" use_backend b1 if net web\n"             /* AND */
		" use_backend b2 if !net web || { fe_name -i F } { src_port gt 65000 }\n"
		" use_backend b2 if { req.payload(0,3) -m bin 474554 }\n"), "");
	assert_int_equal(pick("10.1.2.3", "1.1.1.1", 80, NULL, 1), 1);
	assert_int_equal(pick("2001:db8::9", "::1", 443, NULL, 1), 1);
	assert_int_equal(pick("10.1.2.3", "1.1.1.1", 22, NULL, 1), -1);
	assert_int_equal(pick("11.1.2.3", "1.1.1.1", 80, NULL, 1), 2);   /* !net web */
	assert_int_equal(pick("11.1.2.3", "1.1.1.1", 22, NULL, 1), -1);  /* src_port 40000 */
	assert_int_equal(pick("11.1.2.3", "1.1.1.1", 22, "GET /", 1), 2); /* payload */
	assert_int_equal(pick("11.1.2.3", "1.1.1.1", 22, "GE", 0), -2);   /* need more */
	assert_int_equal(pick("11.1.2.3", "1.1.1.1", 22, "GE", 1), -1);
}

static void test_eval_unless_and_conn(void **st)
{
	(void)st;
	assert_string_equal(parse(BASE
		" tcp-request connection accept if { src 127.0.0.3 }\n"
		" tcp-request connection reject if { src 127.0.0.0/24 }\n"
		" use_backend b1 unless LOCALHOST\n"
		" use_backend b2 if TRUE\n"), "");
	assert_int_equal(accepted("127.0.0.3"), 1);   /* first match wins */
	assert_int_equal(accepted("127.0.0.2"), 0);
	assert_int_equal(accepted("127.0.1.2"), 1);
	assert_int_equal(accepted("10.0.0.1"), 1);
	assert_int_equal(pick("10.0.0.1", "1.1.1.1", 1, NULL, 1), 1);
	assert_int_equal(pick("127.0.0.1", "1.1.1.1", 1, NULL, 1), 2);
	assert_int_equal(pick("::1", "::1", 1, NULL, 1), 2);
}

static char *tmpfile_with(const char *text)
{
	static char path[64];
	int fd;
	strcpy(path, "/tmp/ferry-acl-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_eval_dynamic(void **st)
{
	char conf[2048], map[64], list[64];
	(void)st;
	strcpy(map, tmpfile_with("10.0.0.0/8 b1\n10.2.0.0/16 b2\n192.168.0.0/16 nosuch\n"));
	strcpy(list, tmpfile_with("# blocked\n127.0.0.2\n\n127.0.0.64/26\n"));
	snprintf(conf, sizeof(conf), BASE
		 " tcp-request connection reject if { src -f %s }\n"
		 " use_backend %%[src,map_ip(%s)]\n"
		 " use_backend b%%[fe_id] if { fe_name -m sub -i F }\n", list, map);
	assert_string_equal(parse(conf), "");
	assert_int_equal(accepted("127.0.0.2"), 0);
	assert_int_equal(accepted("127.0.0.70"), 0);
	assert_int_equal(accepted("127.0.0.1"), 1);
	assert_int_equal(pick("10.1.1.1", "1.1.1.1", 1, NULL, 1), 1);
	assert_int_equal(pick("10.2.1.1", "1.1.1.1", 1, NULL, 1), 2);     /* longest prefix */
	assert_int_equal(pick("192.168.1.1", "1.1.1.1", 1, NULL, 1), -1); /* no such backend: default */
	/* no map entry: the rule has no name, ends the rules (HAProxy) */
	assert_int_equal(pick("172.16.0.1", "1.1.1.1", 1, NULL, 1), -1);
	unlink(map);
	unlink(list);
}

static void test_eval_converters(void **st)
{
	char conf[2048], map[64];
	(void)st;
	strcpy(map, tmpfile_with("example.com b1\nother.org b2\n"));
	snprintf(conf, sizeof(conf), BASE
		 " use_backend b1 if { src,ipmask(16) 10.20.0.0 }\n"
		 " use_backend b2 if { fe_name,upper F }\n"
		 " use_backend %%[fe_name,lower,map_dom(%s,b0)]\n", map);
	assert_string_equal(parse(conf), "");
	assert_int_equal(pick("10.20.30.40", "1.1.1.1", 1, NULL, 1), 1);
	assert_int_equal(pick("10.21.30.40", "1.1.1.1", 1, NULL, 1), 2);
	unlink(map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_errors, teardown),
		cmocka_unit_test_teardown(test_eval_switching, teardown),
		cmocka_unit_test_teardown(test_eval_unless_and_conn, teardown),
		cmocka_unit_test_teardown(test_eval_dynamic, teardown),
		cmocka_unit_test_teardown(test_eval_converters, teardown),
		cmocka_unit_test_teardown(test_content_rules, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
