/* The configuration parser and validation: values, inheritance, and every
 * error message, exactly as a user sees it ("path:line: message"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/haproxy_kw.h"
#include "config/model.h"
#include "core/regex.h"

static struct cfg cfg;
static char *out;
static size_t outlen;
static FILE *diag;

/* Parses text as file "t.cfg" and validates it; returns the diagnostics. */
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

static void test_issue_example(void **st)
{
	const char *d;
	struct cfg_proxy *fe, *be;
	(void)st;
	d = parse("global\n"
		  "    maxconn 4000\n"
		  "    log stdout format raw local0\n"
		  "defaults\n"
		  "    mode tcp\n"
		  "    log global\n"
		  "    option tcplog\n"
		  "    timeout connect 5s\n"
		  "    timeout client 30m\n"
		  "    timeout server 30m\n"
		  "frontend pgsql_frontend\n"
		  "    bind 127.0.0.1:15432\n"
		  "    default_backend pgsql_backend\n"
		  "backend pgsql_backend\n"
		  "    balance roundrobin\n"
		  "    server pgsql_node1 127.0.0.1:15433 check\n"
		  "    server pgsql_node2 127.0.0.1:15434 check\n"
		  "    server pgsql_node3 127.0.0.1:15435 check\n");
	assert_string_equal(d, "");
	assert_int_equal(cfg.nerr, 0);
	assert_int_equal(cfg.g.maxconn, 4000);
	assert_int_equal(cfg.g.logs.n, 1);
	fe = cfg_find_proxy(&cfg, "pgsql_frontend", PX_CAP_FE);
	be = cfg_find_proxy(&cfg, "pgsql_backend", PX_CAP_BE);
	assert_non_null(fe);
	assert_non_null(be);
	assert_ptr_equal(fe->be, be);
	assert_true(fe->options & PXO_TCPLOG);
	assert_true(fe->log_global);
	assert_int_equal(fe->to.client, 1800000);
	assert_int_equal(be->to.connect, 5000);
	assert_int_equal(be->nservers, 3);
	assert_int_equal(be->servers->o.inter, 2000);
	assert_int_equal(be->servers->o.rise, 2);
	assert_int_equal(be->servers->o.fall, 3);
	assert_int_equal(be->servers->o.weight, 1);
	assert_int_equal(be->retries, 3);
	assert_int_equal(be->servers->next->addr.port_lo, 15434);
}

static void test_server_options_and_default_server(void **st)
{
	struct cfg_proxy *be;
	struct cfg_server *s;
	(void)st;
	assert_string_equal(parse(BASE "backend b\n"
				  " default-server inter 3s fall 5 rise 1 maxconn 10\n"
				  " server a 127.0.0.1:1 check weight 7 backup\n"
				  " server b 127.0.0.1:2 check inter 500 fastinter 100 downinter 9s port 99 addr 127.0.0.2 disabled maxqueue 4\n"), "");
	be = cfg_find_proxy(&cfg, "b", PX_CAP_BE);
	s = be->servers;
	assert_int_equal(s->o.weight, 7);
	assert_true(s->o.backup);
	assert_int_equal(s->o.inter, 3000);
	assert_int_equal(s->o.fastinter, 3000); /* defaults to inter */
	assert_int_equal(s->o.fall, 5);
	assert_int_equal(s->o.rise, 1);
	assert_int_equal(s->o.maxconn, 10);
	s = s->next;
	assert_int_equal(s->id, 2);
	assert_int_equal(s->o.inter, 500);
	assert_int_equal(s->o.fastinter, 100);
	assert_int_equal(s->o.downinter, 9000);
	assert_int_equal(s->o.check_port, 99);
	assert_true(s->has_check_addr);
	assert_true(s->o.disabled);
	assert_int_equal(s->o.maxqueue, 4);
}

static void test_defaults_inheritance(void **st)
{
	struct cfg_proxy *a, *b, *c;
	(void)st;
	assert_string_equal(parse("defaults base\n mode tcp\n timeout connect 1s\n timeout client 2s\n timeout server 3s\n balance leastconn\n retries 5\n option redispatch\n"
				  "defaults other\n timeout connect 7s\n timeout client 8s\n timeout server 9s\n balance first\n"
				  "backend a from base\n server s 127.0.0.1:1\n"
				  "backend b\n server s 127.0.0.1:1\n"
				  "listen c from base\n bind 127.0.0.1:9999\n balance source\n hash-type consistent sdbm avalanche\n no option redispatch\n server s 127.0.0.1:1\n"), "");
	a = cfg_find_proxy(&cfg, "a", PX_CAP_BE);
	b = cfg_find_proxy(&cfg, "b", PX_CAP_BE);
	c = cfg_find_proxy(&cfg, "c", PX_CAP_BE);
	assert_int_equal(a->algo, LB_LEASTCONN);
	assert_int_equal(a->retries, 5);
	assert_true(a->options & PXO_REDISPATCH);
	assert_int_equal(a->redispatch_interval, -1);
	assert_int_equal(a->to.connect, 1000);
	assert_int_equal(b->algo, LB_FIRST); /* the last defaults section */
	assert_int_equal(b->to.connect, 7000);
	assert_int_equal(b->retries, 3);
	assert_int_equal(c->algo, LB_SOURCE);
	assert_int_equal(c->hash_type, HASH_CONSISTENT);
	assert_false(c->options & PXO_REDISPATCH);
	assert_ptr_equal(c->be, c); /* a listen section is its own backend */
}

static void test_bind_forms(void **st)
{
	struct cfg_bind *b;
	(void)st;
	assert_string_equal(parse(BASE "frontend f\n bind *:8080,127.0.0.1:9000-9002,[::1]:7000 backlog 100\n bind :::8081 v6only\n bind ipv6@:::8082 v4v6\n"
				  "frontend g\n bind 127.0.0.1:1\n default_backend be\nbackend be\n"), 
			    "t.cfg:6: warning: frontend 'f' has no default_backend: its connections will be closed at once\n");
	b = cfg_find_proxy(&cfg, "f", PX_CAP_FE)->binds;
	assert_int_equal(b->naddr, 3);
	assert_int_equal(b->backlog, 100);
	assert_true(b->addrs[0].wildcard);
	assert_int_equal(b->addrs[1].port_lo, 9000);
	assert_int_equal(b->addrs[1].port_hi, 9002);
	assert_int_equal(b->addrs[2].ss.ss_family, AF_INET6);
	assert_true(b->next->v6only);
	assert_true(b->next->next->v4v6);
}

static void test_balance_algorithms(void **st)
{
	(void)st;
	assert_string_equal(parse(BASE "backend b\n balance random(3)\n"), "");
	assert_int_equal(cfg_find_proxy(&cfg, "b", PX_CAP_BE)->algo, LB_RANDOM);
	assert_int_equal(cfg_find_proxy(&cfg, "b", PX_CAP_BE)->random_draws, 3);
	assert_string_equal(parse(BASE "backend b\n balance static-rr\n"), "");
	assert_int_equal(cfg_find_proxy(&cfg, "b", PX_CAP_BE)->algo, LB_STATIC_RR);
}

static void test_global_keywords(void **st)
{
	(void)st;
	assert_string_equal(parse("global\n nbthread 4\n hard-stop-after 30s\n spread-checks 5\n busy-polling\n"
				  " log 127.0.0.1:514 local0 info\n log /dev/log local1 notice err\n log stderr format short daemon\n"
				  BASE "backend b\n"), "");
	assert_int_equal(cfg.g.nbthread, 4);
	assert_int_equal(cfg.g.busy_polling, 1);
	assert_int_equal(cfg.g.hard_stop_after, 30000);
	assert_int_equal(cfg.g.spread_checks, 5);
	assert_int_equal(cfg.g.logs.n, 3);
	assert_int_equal(cfg.g.logs.v[0].kind, LOGT_UDP);
	assert_int_equal(cfg.g.logs.v[0].facility, 16);
	assert_int_equal(cfg.g.logs.v[0].max_level, 6);
	assert_int_equal(cfg.g.logs.v[0].format, LOGF_RFC3164);
	assert_int_equal(cfg.g.logs.v[1].kind, LOGT_UNIX);
	assert_int_equal(cfg.g.logs.v[1].min_level, 3);
	assert_int_equal(cfg.g.logs.v[2].format, LOGF_SHORT);
}

struct diag_case { const char *text, *diag; };

/* Each error exactly as printed. */
static const struct diag_case errors[] = {
	{ BASE "backend b\n balnce roundrobin\n",
	  "t.cfg:7: unknown keyword 'balnce' in backend 'b' (did you mean 'balance'?)\n" },
	{ BASE "backend b\n frobnicate 1\n",
	  "t.cfg:7: unknown keyword 'frobnicate' in backend 'b'\n" },
	{ "global\n maxconn 10\n nbthred 2\n" BASE "backend b\n",
	  "t.cfg:3: unknown keyword 'nbthred' in section 'global' (did you mean 'nbthread'?)\n" },
	{ BASE "backend b\n mode http\n",
	  "t.cfg:7: 'mode http' in backend 'b': ferry balances TCP connections only; use 'mode tcp'\n" },
	{ BASE "frontend f\n bind :1\n http-request deny\n",
	  "t.cfg:8: warning: 'http-request' rules ignored for frontend 'f' as they require HTTP mode.\n"
	  "t.cfg:6: warning: frontend 'f' has no default_backend: its connections will be closed at once\n" },
	{ BASE "backend b\n option forwardfor\n",
	  "t.cfg:7: warning: 'option forwardfor' ignored for backend 'b' as it requires HTTP mode.\n" },
	{ BASE "backend b\n timeout http-request 5s\n", "" },
	{ BASE "backend b\n timeout http-request 5x\n",
	  "t.cfg:7: 'timeout http-request': invalid duration '5x': unknown time unit (expected us, ms, s, m, h or d)\n" },
	{ BASE "backend b\n balance uri\n",
	  "t.cfg:7: warning: Layer 7 hash not possible for backend 'b' (needs 'mode http'). Falling back to round robin.\n" },
	{ BASE "backend b\n balance rdp-cookie\n",
	  "t.cfg:7: 'balance rdp-cookie' is an HAProxy keyword that ferry does not support yet\n" },
	{ BASE "backend b\n balance leastcon\n",
	  "t.cfg:7: unknown balance algorithm 'leastcon' (did you mean 'leastconn'?)\n" },
	{ BASE "backend b\n balance random(0)\n",
	  "t.cfg:7: 'balance random(0)': expects random(N) with N from 1 to 100\n" },
	{ BASE "backend b\n tcp-request content reject\n",
	  "t.cfg:7: 'tcp-request content' in backend 'b' is an HAProxy keyword that ferry does not support yet\n" },
	{ BASE "backend b\n option tcplg\n",
	  "t.cfg:7: unknown option 'tcplg' (did you mean 'tcplog'?)\n" },
	{ BASE "backend b\n timeout conect 5s\n",
	  "t.cfg:7: unknown timeout 'conect' (did you mean 'connect'?)\n" },
	{ BASE "backend b\n timeout connect 5x\n",
	  "t.cfg:7: 'timeout connect': invalid duration '5x': unknown time unit (expected us, ms, s, m, h or d)\n" },
	{ BASE "backend b\n retries lots\n",
	  "t.cfg:7: 'retries': invalid value 'lots' (expects an integer from 0 to 100)\n" },
	{ BASE "backend b\n server s1 127.0.0.1:1 weight 300\n",
	  "t.cfg:7: 'weight': invalid value '300' (expects an integer from 0 to 256)\n" },
	{ BASE "backend b\n server s1 127.0.0.1:1 chek\n",
	  "t.cfg:7: unknown option 'chek' on server 's1' (did you mean 'check'?)\n" },
	{ BASE "backend b\n server s1 127.0.0.1:1 send-proxy-v2-ssl\n",
	  "t.cfg:7: server option 'send-proxy-v2-ssl' is an HAProxy keyword that ferry does not support yet\n" },
	{ BASE "backend b\n server s1 127.0.0.1:1\n server s1 127.0.0.1:2\n",
	  "t.cfg:8: server 's1' is already declared in backend 'b' at line 7\n" },
	{ BASE "backend b\n server s1 300.0.0.1:80\n",
	  "t.cfg:7: server 's1': could not resolve address '300.0.0.1': Name or service not known\n" },
	{ BASE "backend b\n server s1 127.0.0.1 check\n",
	  "t.cfg:7: server 's1' has no port: health checks need 'port' or a port in the address\n" },
	{ BASE "backend b\n server s1\n",
	  "t.cfg:7: 'server' expects a name and an address\n" },
	{ BASE "frontend f\n server s1 127.0.0.1:1\n bind :1\n",
	  "t.cfg:7: 'server' is not allowed in frontend 'f' (it needs a backend or listen section)\n"
	  "t.cfg:6: warning: frontend 'f' has no default_backend: its connections will be closed at once\n" },
	{ BASE "frontend f\n default_backend nope\n",
	  "t.cfg:6: frontend 'f' has no 'bind' line (declare it as a backend if it only holds servers)\n"
	  "t.cfg:7: frontend 'f': default_backend 'nope' does not exist\n" },
	{ BASE "frontend f\n bind 127.0.0.1\n",
	  "t.cfg:7: bind '127.0.0.1': missing port in '127.0.0.1'\n"
	  "t.cfg:6: warning: frontend 'f' has no default_backend: its connections will be closed at once\n" },
	{ BASE "frontend f\n bind :1 v4v6 v6only\n",
	  "t.cfg:7: bind ':1': 'v4v6' and 'v6only' exclude each other\n"
	  "t.cfg:6: warning: frontend 'f' has no default_backend: its connections will be closed at once\n" },
	{ BASE "frontend f\n bind :1 ssl crt /x.pem\n",
	  "t.cfg:7: bind option 'ssl' is not supported: ferry relays TLS untouched and terminates none\n"
	  "t.cfg:6: warning: frontend 'f' has no default_backend: its connections will be closed at once\n" },
	{ BASE "frontend f\n bind :1 backlgo 10\n",
	  "t.cfg:7: unknown bind option 'backlgo' (did you mean 'backlog'?)\n"
	  "t.cfg:6: warning: frontend 'f' has no default_backend: its connections will be closed at once\n" },
	{ BASE "backend b\nbackend b\n",
	  "t.cfg:7: backend 'b' has the same name as the backend declared at t.cfg:6\n" },
	{ BASE "frontend f from nope\n bind :1\n",
	  "t.cfg:6: defaults section 'nope' not found\n"
	  "t.cfg:6: warning: frontend 'f' has no default_backend: its connections will be closed at once\n" },
	{ "bakend b\n",
	  "t.cfg:1: unknown section or keyword 'bakend' outside any section (did you mean 'backend'?)\n"
	  "t.cfg: no frontend, backend or listen section: nothing to do\n" },
	{ BASE "backend b\n server s1 '127.0.0.1:1\n",
	  "t.cfg:7: unmatched single quote\n" },
	{ "global\n nbproc 2\n" BASE "backend b\n",
	  "t.cfg:2: nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available.\n" },
	{ "global\n log 127.0.0.1 local9\n" BASE "backend b\n",
	  "t.cfg:2: unknown log facility 'local9'\n" },
	{ "global\n log 127.0.0.1\n" BASE "backend b\n",
	  "t.cfg:2: 'log 127.0.0.1' expects a facility (e.g. local0)\n" },
	{ "global\n log ring@x local0\n" BASE "backend b\n",
	  "t.cfg:2: unsupported log target 'ring@x' (ferry logs to stdout, stderr, a UDP address or a unix socket)\n" },
	{ "global\n maxconn -5\n" BASE "backend b\n",
	  "t.cfg:2: 'maxconn': invalid value '-5' (expects an integer from 1 to 10000000)\n" },
	{ "userlist u\n user x password y\n" BASE "backend b\n",
	  "t.cfg:1: section 'userlist' is an HAProxy keyword that ferry does not support yet; its lines are skipped\n" },
	{ BASE "backend b\n tcp-check expect regex x\n",
	  "t.cfg:7: 'tcp-check expect regex' is not supported (ferry supports string, rstring, binary, rbinary)\n" },
	{ BASE "backend b\n tcp-check expect rstring ^(OK\n",
	  "t.cfg:7: 'tcp-check expect rstring': invalid regular expression '^(OK': missing closing parenthesis at offset 4\n" },
	{ BASE "backend b\n tcp-check send-binary 0g\n",
	  "t.cfg:7: 'tcp-check send-binary': '0g' is not an even number of hex digits\n" },
	{ BASE "backend b\n tcp-check send-lf x\n",
	  "t.cfg:7: 'tcp-check send-lf' needs HAProxy's log-format expressions, which ferry does not support yet\n" },
	{ BASE "backend b\n option pgsql-check role primary\n",
	  "t.cfg:7: 'option pgsql-check' with role, password, dbname, sslmode or max-lag needs 'user <name>'\n" },
	{ BASE "backend b\n option pgsql-check user x role leader\n",
	  "t.cfg:7: 'option pgsql-check role' expects primary, replica or any\n" },
	{ BASE "backend b\n option pgsql-check user x max-lag lots\n",
	  "t.cfg:7: 'option pgsql-check max-lag' expects a size (16m, at most 1024g) or a duration (10s, at most 2147483647 ms)\n" },
	{ BASE "backend b\n server s 127.0.0.1:1 agent-check\n",
	  "t.cfg:7: server 's': 'agent-check' needs 'agent-port'\n" },
	{ BASE "backend b\n server s 127.0.0.1:1 on-marked-down kill\n",
	  "t.cfg:7: 'on-marked-down' expects 'shutdown-sessions'\n" },
	{ BASE "backend b\n default_backend x\n",
	  "t.cfg:7: warning: 'default_backend' ignored because backend 'b' has no frontend capability.\n" },
	{ "defaults\n server s 127.0.0.1:1\nbackend b\n",
	  "t.cfg:2: 'server' is not allowed in a defaults section\n"
	  "t.cfg:3: warning: backend 'b' is missing 'timeout connect' or 'timeout server': connections may hang forever\n" },
};

/* Parses each case's text and compares the diagnostics with its diag. */
static void expect_diags(const struct diag_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *d = parse(cases[i].text);
		if (strcmp(d, cases[i].diag))
			print_error("case %zu:\n--- expected\n%s--- got\n%s", i, cases[i].diag, d);
		assert_string_equal(d, cases[i].diag);
	}
}

static void test_error_messages(void **st)
{
	(void)st;
	expect_diags(errors, sizeof(errors) / sizeof(errors[0]));
}

/* A keyword or option whose value is missing (the line ends after it) is an
 * error on its line; "log ... len" used to read past the last word and
 * crash. */
static const struct diag_case missing_values[] = {
	{ "global\n log 127.0.0.1:514 len\n" BASE "backend b\n",
	  "t.cfg:2: 'len' expects an integer\n" },
	{ "global\n log 127.0.0.1:514 sample\n" BASE "backend b\n",
	  "t.cfg:2: 'sample' expects <ranges>:<size>\n" },
	{ "global\n log stdout format\n" BASE "backend b\n",
	  "t.cfg:2: 'format' expects raw, short, rfc3164 or rfc5424\n" },
	{ "global\n log 127.0.0.1:514 len 79 local0\n" BASE "backend b\n",
	  "t.cfg:2: 'len': invalid value '79' (expects an integer from 80 to 65535)\n" },
	{ BASE "backend b\n log 127.0.0.1:514 len\n",
	  "t.cfg:7: 'len' expects an integer\n" },
	{ BASE "backend b\n log 127.0.0.1:514 len 1024 sample\n",
	  "t.cfg:7: 'sample' expects <ranges>:<size>\n" },
	{ "global\n ulimit-n\n node\n description\n" BASE "backend b\n",
	  "t.cfg:2: 'ulimit-n' expects a value\n"
	  "t.cfg:3: 'node' expects a value\n"
	  "t.cfg:4: 'description' expects a value\n" },
	{ BASE "backend b\n id\n description\n fullconn\n",
	  "t.cfg:7: 'id' expects a value\n"
	  "t.cfg:8: 'description' expects a value\n"
	  "t.cfg:9: 'fullconn' expects a value\n" },
	{ BASE "backend b\n server s 127.0.0.1:1 id\n server t 127.0.0.1:1 init-addr\n",
	  "t.cfg:7: 'id' expects a value\n"
	  "t.cfg:8: 'init-addr' expects a value\n" },
	{ BASE "backend b\n server s 127.0.0.1:1 addr\n server t 127.0.0.1:1 agent-send\n",
	  "t.cfg:7: 'addr' expects an address\n"
	  "t.cfg:8: 'agent-send' expects a string\n" },
	{ BASE "listen l\n bind :1 name\n bind :2 nice\n server s 127.0.0.1:1\n",
	  "t.cfg:7: 'name' expects a value\n"
	  "t.cfg:8: 'nice' expects a value\n" },
	{ BASE "backend b\n tcp-check comment\n tcp-check connect comment\n"
	  " tcp-check send x comment\n tcp-check expect comment\n",
	  "t.cfg:7: 'tcp-check comment' expects a string\n"
	  "t.cfg:8: 'comment' expects a string\n"
	  "t.cfg:9: 'comment' expects a string\n"
	  "t.cfg:10: 'comment' expects a string\n" },
	{ BASE "backend b\n option pgsql-check user x max-lag \"\"\n",
	  "t.cfg:7: 'option pgsql-check max-lag' expects a size (16m, at most 1024g) or a duration (10s, at most 2147483647 ms)\n" },
};

static void test_missing_values_are_errors(void **st)
{
	(void)st;
	expect_diags(missing_values, sizeof(missing_values) / sizeof(missing_values[0]));
}

/* Values past HAProxy's limits are errors that say the limit; they used to
 * wrap (213503982335d was 34448384 ms, 17179869184g was 0: no max-lag). */
static const struct diag_case out_of_range[] = {
	{ BASE "backend b\n timeout connect 213503982335d\n",
	  "t.cfg:7: 'timeout connect': invalid duration '213503982335d': out of range (at most 2147483647 ms, about 24.8 days)\n" },
	{ BASE "backend b\n timeout connect 3000000000\n",
	  "t.cfg:7: 'timeout connect': invalid duration '3000000000': out of range (at most 2147483647 ms, about 24.8 days)\n" },
	{ BASE "backend b\n server s 127.0.0.1:1 check inter 25d\n",
	  "t.cfg:7: 'inter': invalid duration '25d': out of range (at most 2147483647 ms, about 24.8 days)\n" },
	{ "global\n hard-stop-after 99999999999999999999\n" BASE "backend b\n",
	  "t.cfg:2: 'hard-stop-after': invalid duration '99999999999999999999': out of range (at most 2147483647 ms, about 24.8 days)\n" },
	{ BASE "backend b\n option pgsql-check user x role replica max-lag 17179869184g\n",
	  "t.cfg:7: 'option pgsql-check max-lag' expects a size (16m, at most 1024g) or a duration (10s, at most 2147483647 ms)\n" },
	{ BASE "backend b\n option pgsql-check user x role replica max-lag 25d\n",
	  "t.cfg:7: 'option pgsql-check max-lag' expects a size (16m, at most 1024g) or a duration (10s, at most 2147483647 ms)\n" },
	{ BASE "backend b\n retries 99999999999999999999\n",
	  "t.cfg:7: 'retries': invalid value '99999999999999999999' (expects an integer from 0 to 100)\n" },
	{ BASE "backend b\n balance random(99999999999999999999)\n",
	  "t.cfg:7: 'balance random(99999999999999999999)': expects random(N) with N from 1 to 100\n" },
};

static void test_out_of_range_values_say_the_limit(void **st)
{
	struct cfg_proxy *b;
	(void)st;
	expect_diags(out_of_range, sizeof(out_of_range) / sizeof(out_of_range[0]));
	assert_string_equal(parse(BASE "backend b\n timeout connect 24d\n"
				  " option pgsql-check user x role replica max-lag 3g\n"), "");
	b = cfg_find_proxy(&cfg, "b", PX_CAP_BE);
	assert_int_equal(b->to.connect, 2073600000);
	assert_int_equal(b->pg.max_lag_bytes, 3ll << 30);
	/* max-lag is ferry's own word: not bound by HAProxy's 4 GiB sizes */
	assert_string_equal(parse(BASE "backend b\n option pgsql-check user x role replica max-lag 16g\n"), "");
	b = cfg_find_proxy(&cfg, "b", PX_CAP_BE);
	assert_int_equal(b->pg.max_lag_bytes, 16ll << 30);
	assert_string_equal(parse(BASE "backend b\n option pgsql-check user x role replica max-lag 1025g\n"),
			    "t.cfg:7: 'option pgsql-check max-lag' expects a size (16m, at most 1024g) or a duration (10s, at most 2147483647 ms)\n");
}

static void test_check_options(void **st)
{
	struct cfg_proxy *b;
	(void)st;
	assert_string_equal(parse(BASE "backend b\n option pgsql-check user monitor\n"
				  "backend r\n option pgsql-check user monitor password 'se cret' dbname postgres sslmode prefer role replica max-lag 16MB\n"
				  " role-change-grace 5s\n"
				  "backend t\n option pgsql-check user m role primary max-lag 10s\n"), 
			    "t.cfg:12: warning: 'max-lag' only applies to replicas; with role primary it only affects servers in recovery\n");
	b = cfg_find_proxy(&cfg, "b", PX_CAP_BE);
	assert_int_equal(b->check_type, CHK_TCPCHECK);
	assert_int_equal(b->rules.n, 4); /* connect linger, send startup, expect !^E, expect auth */
	assert_int_equal(b->rules.v[1].len, 15 + 7);
	assert_memory_equal(b->rules.v[1].data, "\x00\x00\x00\x16\x00\x03\x00\x00user\x00monitor\x00\x00", 22);
	b = cfg_find_proxy(&cfg, "r", PX_CAP_BE);
	assert_int_equal(b->check_type, CHK_PGSQL);
	assert_string_equal(b->pg.password, "se cret");
	assert_int_equal(b->pg.role, PG_ROLE_REPLICA);
	assert_int_equal(b->pg.max_lag_bytes, 16 << 20);
	assert_int_equal(b->role_change_grace, 5000);
	b = cfg_find_proxy(&cfg, "t", PX_CAP_BE);
	assert_int_equal(b->pg.max_lag_ms, 10000);
	assert_int_equal(b->pg.max_lag_bytes, 0);
}

/* ferry's own wait-for-server: a duration, inherited from defaults, 0
 * turns it off. */
static void test_wait_for_server(void **st)
{
	(void)st;
	assert_string_equal(parse(BASE " wait-for-server 10s\n"
				  "backend a\n"
				  "backend b\n wait-for-server 250ms\n"
				  "backend c\n wait-for-server 0\n"), "");
	assert_int_equal(cfg_find_proxy(&cfg, "a", PX_CAP_BE)->wait_for_server, 10000);
	assert_int_equal(cfg_find_proxy(&cfg, "b", PX_CAP_BE)->wait_for_server, 250);
	assert_int_equal(cfg_find_proxy(&cfg, "c", PX_CAP_BE)->wait_for_server, 0);
	assert_string_equal(parse(BASE "backend b\n wait-for-server\n"), "t.cfg:7: 'wait-for-server' expects a duration\n");
	assert_string_equal(parse(BASE "backend b\n wait-for-server 5s 6s\n"),
			    "t.cfg:7: 'wait-for-server' expects one duration (unexpected word '6s')\n");
}

static void test_inherited_regex_rules(void **st)
{
	struct cfg_proxy *b;
	(void)st;
	assert_string_equal(parse("defaults\n mode tcp\n timeout connect 1s\n timeout server 1s\n"
				  " option tcp-check\n tcp-check expect rstring ^OK\n"
				  "backend b\n server s 127.0.0.1:1 check\n"), "");
	b = cfg_find_proxy(&cfg, "b", PX_CAP_BE);
	assert_int_equal(b->rules.n, 1);
	assert_non_null(b->rules.v[0].re); /* its own compiled copy */
	assert_true(rx_match(b->rules.v[0].re, "OK ready", 8));
	assert_false(rx_match(b->rules.v[0].re, "ERR", 3));
}

static void test_all_errors_reported(void **st)
{
	const char *d;
	int lines = 0;
	(void)st;
	d = parse(BASE "backend b\n balnce x\n retries x\n server s1\n timeout foo 1\n mode udp\n");
	for (const char *p = d; *p; p++)
		lines += *p == '\n';
	assert_int_equal(cfg.nerr, 5);
	assert_int_equal(lines, 5);
	assert_non_null(strstr(d, "t.cfg:11: unsupported mode 'udp' in backend 'b' (ferry supports 'mode tcp')"));
}

static void test_warnings_for_ignored(void **st)
{
	(void)st;
	assert_string_equal(parse("global\n daemon\n set-dumpable\n tune.bufsize 32768\n cpu-map auto:1/1-2 0-1\n"
				  BASE "backend b\n option splice-auto\n option nolinger\n"),
			    "t.cfg:2: warning: 'daemon' is ignored: ferry always runs in the foreground (use your service manager)\n"
			    "t.cfg:3: warning: 'set-dumpable' is not supported yet and is ignored\n"
			    "t.cfg:4: warning: 'tune.bufsize' is not supported yet and is ignored\n"
			    "t.cfg:5: warning: 'cpu-map' is not supported yet and is ignored\n"
			    "t.cfg:13: warning: 'option nolinger' is not supported yet and is ignored\n");
	assert_int_equal(cfg.nerr, 0);
	assert_int_equal(cfg.nwarn, 5);
}

/* Every keyword HAProxy 2.6's manual lists is "not supported yet" or taken,
 * never "unknown": each is written in the section it belongs to (with a
 * value after it, which some need) and the diagnostics are searched. */
static void test_haproxy_keywords_are_never_unknown(void **st)
{
	char text[1024];
	int n = 0;
	(void)st;
	for (const struct haproxy_kw *k = haproxy_keywords; k->name; k++) {
		const char *d;
		switch (k->kind) {
		case HKW_GLOBAL:
			snprintf(text, sizeof(text), "global\n %s 1\n" BASE "backend b\n", k->name);
			break;
		case HKW_PROXY:
			snprintf(text, sizeof(text), BASE "%s x\n bind :1\n %s 1\n", (k->caps & HKW_FE) ? "listen" : "backend",
				 k->name);
			break;
		case HKW_SERVER:
			snprintf(text, sizeof(text), BASE "backend b\n server s 127.0.0.1:1 %s 1\n", k->name);
			break;
		case HKW_BIND:
			snprintf(text, sizeof(text), BASE "listen l\n bind :1 %s 1\n", k->name);
			break;
		case HKW_SECTION:
			snprintf(text, sizeof(text), "%s x\n" BASE "backend b\n", k->name);
			break;
		default:
			continue;
		}
		d = parse(text);
		{
			/* "unknown ... 'word'" about the keyword itself (a value
			 * after it may well be unknown: "balance 1") */
			const char *last = strrchr(k->name, ' ');
			char needle[80];
			const char *u;
			snprintf(needle, sizeof(needle), "'%s'", last ? last + 1 : k->name);
			for (u = strstr(d, "unknown"); u; u = strstr(u + 1, "unknown")) {
				const char *eol = strchr(u, '\n'), *hit = strstr(u, needle);
				if (hit && (!eol || hit < eol))
					print_error("%s\n%s", text, d);
				assert_true(!hit || (eol && hit > eol));
			}
		}
		n++;
	}
	assert_true(n > 500);
	/* a sample, with the exact sentences */
	assert_string_equal(parse("global\n lua-load /x.lua\n" BASE "backend b\n"),
			    "t.cfg:2: 'lua-load' in section 'global' is an HAProxy keyword that ferry does not support yet\n");
	assert_string_equal(parse(BASE "backend b\n stick store-response src\n"),
			    "t.cfg:7: 'stick store-response' is an HAProxy keyword that ferry does not support yet\n");
	assert_string_equal(parse(BASE "backend b\n option spop-check\n"),
			    "t.cfg:7: 'option spop-check' is an HAProxy keyword that ferry does not support yet\n");
	assert_string_equal(parse(BASE "backend b\n server s 127.0.0.1:1 socks4 127.0.0.1:1080\n"),
			    "t.cfg:7: server option 'socks4' is an HAProxy keyword that ferry does not support yet\n");
	assert_string_equal(parse(BASE "listen l\n bind :1 tcp-ut 10s\n"),
			    "t.cfg:7: bind option 'tcp-ut' is an HAProxy keyword that ferry does not support yet\n");
	assert_string_equal(parse("ring r\n size 32764\n" BASE "backend b\n"),
			    "t.cfg:1: section 'ring' is an HAProxy keyword that ferry does not support yet; its lines are skipped\n");
	/* and a typo stays a typo */
	assert_string_equal(parse(BASE "backend b\n balanse roundrobin\n"),
			    "t.cfg:7: unknown keyword 'balanse' in backend 'b' (did you mean 'balance'?)\n");
	assert_string_equal(parse(BASE "backend b\n stick-tabel type ip size 1m\n"),
			    "t.cfg:7: unknown keyword 'stick-tabel' in backend 'b' (did you mean 'stick-table'?)\n");
}

/* The table knows the keywords ferry implements too (it is the manual's,
 * not ferry's), and names its version. */
static void test_haproxy_table_holds_ferrys_keywords(void **st)
{
	static const char *const ferry_only[] = { "role-change-grace", "wait-for-server", NULL };
	(void)st;
	assert_string_equal(haproxy_kw_doc_version, "2.6 (2023/03/28)");
	for (const char *const *k = (const char *const[]){ "mode", "bind", "balance", "server", "default-server",
							    "timeout client", "option tcplog", "option pgsql-check",
							    "tcp-check expect", "stats enable", NULL }; *k; k++) {
		char buf[64], *words[4] = { NULL }, *save = NULL;
		int i = 0;
		snprintf(buf, sizeof(buf), "%s", *k);
		for (char *t = strtok_r(buf, " ", &save); t && i < 3; t = strtok_r(NULL, " ", &save))
			words[i++] = t;
		assert_non_null(haproxy_kw_find(HKW_PROXY, words));
	}
	for (const char *const *k = ferry_only; *k; k++) {
		char *w[] = { (char *)*k, NULL };
		assert_null(haproxy_kw_find(HKW_PROXY, w));
	}
	{
		char *w[] = { "nbthread", NULL }, *b[] = { "v4v6", NULL }, *s[] = { "agent-check", NULL };
		assert_non_null(haproxy_kw_find(HKW_GLOBAL, w));
		assert_non_null(haproxy_kw_find(HKW_BIND, b));
		assert_non_null(haproxy_kw_find(HKW_SERVER, s));
	}
}

/* HTTP-only lines HAProxy ignores in a TCP proxy: its warnings, once per
 * proxy that has them (defaults lines for each proxy that inherits them,
 * frontend settings only for frontends), in its order, on the line that
 * wrote them; silent ones stay silent; "option tcplog" and a TCP algorithm
 * written later cancel httplog and the L7 hash. */
static void test_http_leftovers(void **st)
{
	(void)st;
	assert_string_equal(parse("global\n log stdout local0\n"
				  "defaults\n mode tcp\n log global\n option httplog\n option forwardfor\n"
				  " option http-server-close\n timeout http-request 5s\n errorfile 503 /dev/null\n"
				  " timeout connect 1s\n timeout client 1s\n timeout server 1s\n"
				  "frontend f\n bind :1\n default_backend b\n capture cookie c len 9\n"
				  "backend b\n balance uri\n server s 127.0.0.1:1 cookie a\n"
				  "listen l\n bind :2\n option tcplog\n balance url_param u\n balance leastconn\n"
				  " server s 127.0.0.1:1\n"),
			    "t.cfg:6: warning: 'option httplog' not usable with frontend 'f' (needs 'mode http'). Falling back to 'option tcplog'.\n"
			    "t.cfg:17: warning: 'capture' statement ignored for frontend 'f' as it requires HTTP mode.\n"
			    "t.cfg:7: warning: 'option forwardfor' ignored for frontend 'f' as it requires HTTP mode.\n"
			    "t.cfg:19: warning: Layer 7 hash not possible for backend 'b' (needs 'mode http'). Falling back to round robin.\n"
			    "t.cfg:7: warning: 'option forwardfor' ignored for backend 'b' as it requires HTTP mode.\n"
			    "t.cfg:20: warning: backend 'b' : ignoring cookie for server 's' as HTTP mode is disabled.\n"
			    "t.cfg:7: warning: 'option forwardfor' ignored for proxy 'l' as it requires HTTP mode.\n");
	assert_int_equal(cfg.nerr, 0);
	/* httplog falls back to tcplog; the L7 hash to roundrobin */
	assert_true(cfg_find_proxy(&cfg, "f", PX_CAP_FE)->options & PXO_TCPLOG);
	assert_int_equal(cfg_find_proxy(&cfg, "b", PX_CAP_BE)->algo, LB_ROUNDROBIN);
	assert_int_equal(cfg_find_proxy(&cfg, "l", PX_CAP_BE)->algo, LB_LEASTCONN);
	/* mode http in defaults: proxies that say mode tcp are TCP proxies */
	assert_string_equal(parse("defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n"
				  "listen l\n mode tcp\n bind :1\n server s 127.0.0.1:1\n"), "");
	assert_string_equal(parse("defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n"
				  "backend b\n server s 127.0.0.1:1\n"),
			    "t.cfg:2: 'mode http' in backend 'b': ferry balances TCP connections only; use 'mode tcp'\n");
	/* what HAProxy refuses about them, ferry refuses */
	assert_string_equal(parse(BASE "backend b\n option httplog nope\n"),
			    "t.cfg:7: keyword 'httplog' only supports option 'clf'.\n");
	assert_string_equal(parse(BASE "backend b\n option http-server-close now\n"),
			    "t.cfg:7: 'option http-server-close' cannot handle unexpected argument 'now'.\n");
	assert_string_equal(parse(BASE "backend b\n errorfile 999 /dev/null\n"),
			    "t.cfg:7: errorfile : status code '999' not handled.\n");
	assert_string_equal(parse(BASE "frontend f\n bind :1\n redirect elsewhere\n"),
			    "t.cfg:8: error detected in frontend 'f' while parsing redirect rule : expects 'code', 'prefix', "
			    "'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' (was 'elsewhere').\n"
			    "t.cfg:6: warning: frontend 'f' has no default_backend: its connections will be closed at once\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_issue_example, teardown),
		cmocka_unit_test_teardown(test_haproxy_keywords_are_never_unknown, teardown),
		cmocka_unit_test_teardown(test_haproxy_table_holds_ferrys_keywords, teardown),
		cmocka_unit_test_teardown(test_http_leftovers, teardown),
		cmocka_unit_test_teardown(test_server_options_and_default_server, teardown),
		cmocka_unit_test_teardown(test_defaults_inheritance, teardown),
		cmocka_unit_test_teardown(test_bind_forms, teardown),
		cmocka_unit_test_teardown(test_balance_algorithms, teardown),
		cmocka_unit_test_teardown(test_global_keywords, teardown),
		cmocka_unit_test_teardown(test_error_messages, teardown),
		cmocka_unit_test_teardown(test_missing_values_are_errors, teardown),
		cmocka_unit_test_teardown(test_out_of_range_values_say_the_limit, teardown),
		cmocka_unit_test_teardown(test_all_errors_reported, teardown),
		cmocka_unit_test_teardown(test_check_options, teardown),
		cmocka_unit_test_teardown(test_wait_for_server, teardown),
		cmocka_unit_test_teardown(test_inherited_regex_rules, teardown),
		cmocka_unit_test_teardown(test_warnings_for_ignored, teardown),
	};
	return cmocka_run_group_tests_name("parser", tests, NULL, NULL);
}
