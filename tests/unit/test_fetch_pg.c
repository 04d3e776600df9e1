/* The PostgreSQL fetches (src/rules/fetch_pg.c) through the normal paths:
 * configurations compiled as ferry -c does, then rules, log-format and
 * stick counters evaluated over first messages built by hand (struct
 * pg_first, as proto/pgwire.c leaves it); rules_flags()'s PGPARAM and
 * TLSHELLO bits; the verdict of a tcp-request content reject. */
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
#include "proto/pgwire.h"
#include "rules/logformat.h"
#include "rules/rules.h"
#include "rules/stktable.h"
#include "rules/track.h"

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
	"backend b0\n server s1 127.0.0.1:9\n backend b1\n server s1 127.0.0.1:9\n" \
	"backend b2\n server s1 127.0.0.1:9\nfrontend f\n bind 127.0.0.1:1\n default_backend b0\n"
/* the first line after BASE is line 15 */

static const struct cfg_proxy *proxy(const char *name)
{
	for (const struct cfg_proxy *px = cfg.proxies; px; px = px->next)
		if (!strcmp(px->name, name))
			return px;
	return NULL;
}

/* ---- first messages, as pg_first_parse leaves them ------------------------- */

/* A StartupMessage's parameters: "name\0value\0..." (params_len: the
 * bytes up to the last value's NUL, the list's final NUL excluded). The
 * bytes are copied to a buffer of exactly that size, so that ASan sees a
 * read past params_len. */
static struct pg_first startup_msg(uint32_t proto, const char *params, size_t len)
{
	static char *buf;
	struct pg_first m = { .kind = PG_FIRST_STARTUP, .proto = proto };

	free(buf);
	buf = malloc(len ? len : 1);
	assert_non_null(buf);
	memcpy(buf, params, len);
	m.params = buf;
	m.params_len = len;
	m.len = (uint32_t)(8 + len + 1);
	return m;
}

#define STARTUP(proto, lit) startup_msg(proto, lit, sizeof(lit) - 1)

static struct sockaddr_in cli = { .sin_family = AF_INET };
static struct backend bks[3] = { { .name = "b0" }, { .name = "b1" }, { .name = "b2" } };
static struct backend *const bptr[3] = { &bks[0], &bks[1], &bks[2] };

static struct rule_ctx ctx_of(const struct pg_first *m, unsigned flags)
{
	struct rule_ctx c = { .src = (struct sockaddr *)&cli, .dst = (struct sockaddr *)&cli, .fe_name = "f",
			      .bes = bptr, .nbe = 3, .req_final = 1, .pg = m, .pg_flags = flags };
	cli.sin_addr.s_addr = htonl(0x7f000001);
	return c;
}

/* f's log line over (m, flags); the format was compiled by parse(). */
static const char *line_of(const struct pg_first *m, unsigned flags)
{
	static char line[512];
	struct lf_data d = { 0 };
	struct rule_ctx c = ctx_of(m, flags);

	d.fe_name = "f";
	lf_render(proxy("f")->clogfmt, &d, &c, line, sizeof(line));
	return line;
}

static void test_values(void **st)
{
	struct pg_first m;
	const unsigned FE = RC_PG_FE;

	(void)st;
	assert_string_equal(parse(BASE " log stdout local0\n log-format \"%[pg.user] %[pg.database] "
				  "%[pg.application_name] %[pg.param(client_encoding)] %[pg.protocol] "
				  "%[pg.ssl_request] %[pg.cancel_request] %[pg.param(user)]\"\n"), "");
	m = STARTUP(PG_PROTO(3, 0), "user\0alice\0database\0sales\0application_name\0psql\0"
				    "client_encoding\0UTF8\0");
	assert_string_equal(line_of(&m, FE), "alice sales psql UTF8 3.0 0 0 alice");
	/* database defaults to user, absent or empty; the rest absent */
	m = STARTUP(PG_PROTO(3, 2), "user\0bob\0");
	assert_string_equal(line_of(&m, FE), "bob bob - - 3.2 0 0 bob");
	m = STARTUP(PG_PROTO(3, 2), "database\0\0user\0bob\0");
	assert_string_equal(line_of(&m, FE), "bob bob - - 3.2 0 0 bob");
	/* not a PostgreSQL frontend: the booleans give no sample, the
	 * parameters are still read from a message someone parsed */
	assert_string_equal(line_of(&m, 0), "bob bob - - 3.2 - - bob");
	/* nothing read */
	assert_string_equal(line_of(NULL, FE), "- - - - - 0 0 -");
	assert_string_equal(line_of(NULL, 0), "- - - - - - - -");
	/* SSLRequest first: the parameters come encrypted */
	{
		struct pg_first ssl = { .kind = PG_FIRST_SSL, .len = 8 };
		assert_string_equal(line_of(&ssl, FE | RC_PG_SSL), "- - - - - 1 0 -");
		assert_string_equal(line_of(&ssl, RC_PG_SSL), "- - - - - - - -");
	}
	/* CancelRequest */
	{
		static const uint8_t key[4] = { 1, 2, 3, 4 };
		struct pg_first cancel = { .kind = PG_FIRST_CANCEL, .len = 16, .pid = 42, .key = key, .key_len = 4 };
		assert_string_equal(line_of(&cancel, FE), "- - - - - 0 1 -");
	}
	/* a list cut inside a pair: nothing past params_len is read (ASan) */
	m = STARTUP(PG_PROTO(3, 0), "user\0alice\0database\0sal");
	assert_string_equal(line_of(&m, FE), "alice alice - - 3.0 0 0 alice");
	m = STARTUP(PG_PROTO(3, 0), "user\0ali");
	assert_string_equal(line_of(&m, FE), "- - - - 3.0 0 0 -");
	m = STARTUP(PG_PROTO(3, 0), "user");
	assert_string_equal(line_of(&m, FE), "- - - - 3.0 0 0 -");
	/* an empty name ends the list */
	m = STARTUP(PG_PROTO(3, 0), "user\0alice\0\0database\0x\0");
	assert_string_equal(line_of(&m, FE), "alice alice - - 3.0 0 0 alice");
}

/* The backend f's use_backend rules choose: its index, -1 default. */
static int pick(const struct pg_first *m, unsigned flags)
{
	struct rule_ctx c = ctx_of(m, flags);
	int idx = -1;
	enum rule_res r = rules_pick_backend(proxy("f")->crules, &c, &idx);

	assert_true(r != RULE_MISS); /* never "need more" */
	return r == RULE_PASS ? idx : -1;
}

static void test_match(void **st)
{
	struct pg_first m;
	struct pg_first ssl = { .kind = PG_FIRST_SSL, .len = 8 };

	(void)st;
	/* default match methods: string for the parameters, boolean for the
	 * two flags (no pattern: true matches) */
	assert_string_equal(parse(BASE " use_backend b2 if { pg.ssl_request }\n"
				  " use_backend b2 if { pg.cancel_request }\n"
				  " use_backend b1 if { pg.user alice } { pg.protocol 3.2 }\n"
				  " use_backend b2 if { pg.param(options) -m sub search_path }\n"
				  " use_backend %[pg.database]\n"), "");
	m = STARTUP(PG_PROTO(3, 2), "user\0alice\0");
	assert_int_equal(pick(&m, RC_PG_FE), 1);
	m = STARTUP(PG_PROTO(3, 0), "user\0alice\0");
	assert_int_equal(pick(&m, RC_PG_FE), -1);          /* %[pg.database]: "alice", no backend */
	m = STARTUP(PG_PROTO(3, 0), "user\0alicia\0database\0b2\0");
	assert_int_equal(pick(&m, RC_PG_FE), 2);           /* the dynamic name */
	m = STARTUP(PG_PROTO(3, 2), "user\0ALICE\0database\0b0\0");
	assert_int_equal(pick(&m, RC_PG_FE), 0);           /* case matters without -i */
	m = STARTUP(PG_PROTO(3, 0), "user\0x\0options\0-c search_path=a\0");
	assert_int_equal(pick(&m, RC_PG_FE), 2);
	assert_int_equal(pick(&ssl, RC_PG_FE | RC_PG_SSL), 2);
	assert_int_equal(pick(&ssl, RC_PG_FE), -1);
	assert_int_equal(pick(NULL, 0), -1);
	{
		static const uint8_t key[4] = { 1, 2, 3, 4 };
		struct pg_first cancel = { .kind = PG_FIRST_CANCEL, .len = 16, .key = key, .key_len = 4 };
		assert_int_equal(pick(&cancel, RC_PG_FE), 2);
		assert_int_equal(pick(&cancel, 0), -1);    /* not a PostgreSQL frontend */
	}
	/* outside a PostgreSQL frontend pg.ssl_request is not "false": it has
	 * no value at all */
	assert_string_equal(parse(BASE " use_backend b1 if { pg.ssl_request -m found }\n"
				  " use_backend b2 if { pg.cancel_request -m found }\n"), "");
	assert_int_equal(pick(NULL, RC_PG_FE), 1);
	assert_int_equal(pick(NULL, 0), -1);
	assert_string_equal(parse(BASE " use_backend b2 if { pg.cancel_request -m found }\n"), "");
	assert_int_equal(pick(NULL, RC_PG_FE), 2);
	assert_int_equal(pick(NULL, 0), -1);
}

static const struct { const char *cfg, *diag; } errors[] = {
	{ BASE " acl a pg.param -m found\n",
	  "t.cfg:15: error detected while parsing ACL 'a' : fetch method 'pg.param' : missing arguments (got 0/1) in ACL expression 'pg.param'.\n" },
	{ BASE " use_backend b1 if { pg.param() -m found }\n",
	  "t.cfg:15: error detected while parsing switching rule : error detected while parsing ACL : fetch method 'pg.param' : missing arguments (got 0/1) in ACL expression 'pg.param()'.\n" },
	{ BASE " acl a pg.param(a,b) x\n",
	  "t.cfg:15: error detected while parsing ACL 'a' : fetch method 'pg.param' : end of arguments expected in ACL expression 'pg.param(a,b)'.\n" },
	{ BASE " acl a pg.usr alice\n",
	  "t.cfg:15: error detected while parsing ACL 'a' : unknown fetch method 'pg.usr' (did you mean 'pg.user'?) in ACL expression 'pg.usr'.\n" },
	{ BASE " acl a pg.databse sales\n",
	  "t.cfg:15: error detected while parsing ACL 'a' : unknown fetch method 'pg.databse' (did you mean 'pg.database'?) in ACL expression 'pg.databse'.\n" },
	{ BASE " acl a pg.foo x\n",
	  "t.cfg:15: error detected while parsing ACL 'a' : unknown fetch method 'pg.foo' in ACL expression 'pg.foo'.\n" },
	{ BASE " tcp-request connection reject if { pg.user alice }\n",
	  "t.cfg:15: warning: anonymous acl will never match in 'tcp-request connection' because it uses keyword 'pg.user' which is incompatible with 'frontend tcp-request connection rule'\n" },
	{ BASE " acl s pg.ssl_request\n tcp-request connection reject if s\n",
	  "t.cfg:16: warning: acl 's' will never match in 'tcp-request connection' because it only involves keywords that are incompatible with 'frontend tcp-request connection rule'\n" },
	{ BASE " log stdout local0\n log-format \"%[pg.param]\"\n",
	  "t.cfg:16: failed to parse log-format : failed to parse sample expression <pg.param]> : fetch method 'pg.param' : missing arguments (got 0/1).\n" },
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

/* At accept nothing has been read: pg.* never match in tcp-request
 * connection rules, even when the session fills ctx->pg early. */
static void test_conn_rules_never_match(void **st)
{
	struct pg_first m = STARTUP(PG_PROTO(3, 0), "user\0alice\0");
	struct rule_ctx c;

	(void)st;
	parse(BASE " tcp-request connection reject if { pg.user alice }\n"
	      " tcp-request connection reject if { pg.ssl_request }\n");
	c = ctx_of(&m, RC_PG_FE | RC_PG_SSL);
	assert_int_equal(rules_conn_accept(proxy("f")->crules, &c, NULL), 1);
	/* the same conditions do match in content rules */
	parse(BASE " tcp-request content reject if { pg.ssl_request }\n");
	assert_int_equal(rules_content(proxy("f")->crules, &c), RULE_FAIL);
}

static unsigned flags_of(const char *name)
{
	return rules_flags(proxy(name)->crules) & (RULES_F_PGPARAM | RULES_F_TLSHELLO);
}

#define PG RULES_F_PGPARAM
#define TLS RULES_F_TLSHELLO

static void test_flags(void **st)
{
	static const struct { const char *rules; unsigned f; } cases[] = {
		{ " tcp-request content reject if { pg.user alice }\n", PG },
		{ " tcp-request content reject if { pg.ssl_request } || { pg.cancel_request }\n", 0 },
		{ " tcp-request content accept if { req.ssl_sni a.example }\n", TLS },
		{ " tcp-request content accept if { req_ssl_ver 3.3 }\n", TLS },
		{ " tcp-request content accept if { req.ssl_hello_type 1 } { pg.protocol 3.2 }\n", PG | TLS },
		{ " acl db pg.database sales\n acl sni req.ssl_sni x\n use_backend b1 if db\n", PG },
		{ " acl db pg.database sales\n acl sni req.ssl_sni x\n use_backend b1 if sni\n", TLS },
		{ " use_backend %[pg.param(options),lower]\n", PG },
		{ " use_backend be_%[req.ssl_alpn]\n", TLS },
		{ " use_backend b1 if { req.len gt 0 } { src 127.0.0.1 }\n", 0 },
		{ " tcp-request inspect-delay 1s\n", 0 },
		/* connection rules never see them (a warning says so) */
		{ " tcp-request connection reject if { pg.user alice }\n", 0 },
	};
	char text[2048];

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), BASE "%s", cases[i].rules);
		parse(text);
		if (flags_of("f") != cases[i].f)
			fail_msg("case %zu: flags %#x, want %#x", i, flags_of("f"), cases[i].f);
	}
	/* a track key, a stick key, a use-server condition */
	parse(BASE " tcp-request content track-sc0 pg.user table users\n"
	      "backend users\n stick-table type string len 32 size 10\n");
	assert_int_equal(flags_of("f"), PG);
	parse(BASE "backend st\n stick-table type string len 32 size 10\n server s1 127.0.0.1:9\n"
	      " stick on pg.application_name\n");
	assert_int_equal(flags_of("st"), PG);
	parse(BASE "backend st\n stick-table type string len 32 size 10\n server s1 127.0.0.1:9\n"
	      " stick match req.ssl_sni\n");
	assert_int_equal(flags_of("st"), TLS);
	parse(BASE "backend us\n server s1 127.0.0.1:9\n use-server s1 if { pg.param(x) y }\n");
	assert_int_equal(flags_of("us"), PG);
	parse(BASE "backend us\n server s1 127.0.0.1:9\n use-server s1 if { req.ssl_sni y }\n");
	assert_int_equal(flags_of("us"), TLS);
}

/* A context over m whose stick counters go to the table of backend
 * "users", made as a generation makes it (its only table: index 0). */
static struct rule_ctx table_ctx(const struct pg_first *m, struct stktable **t, struct track_set *trk)
{
	struct rule_ctx c = ctx_of(m, RC_PG_FE);

	*t = stktable_new("users", &proxy("users")->table->def);
	assert_non_null(*t);
	c.tables = t;
	c.ntables = 1;
	c.trk = trk;
	c.now_ms = 1000;
	return c;
}

static void test_verdict(void **st)
{
	struct pg_first m = STARTUP(PG_PROTO(3, 0), "user\0alice\0");
	struct rule_verdict v = { NULL, 0, 0 };
	struct stktable *t;
	struct track_set trk = { 0 };
	struct rule_ctx c;

	(void)st;
	assert_string_equal(parse(BASE " tcp-request inspect-delay 1s\n"
				  " tcp-request content accept if { pg.user bob }\n"
				  " tcp-request content reject if { pg.user alice }\n"
				  " tcp-request content track-sc1 pg.user table users\n"
				  " tcp-request content reject if { sc1_conn_cur gt 1 } || { pg.user carol }\n"
				  " tcp-request content reject if { pg.user dave }\n"
				  "backend users\n stick-table type string len 32 size 10 store conn_cur\n"), "");
	c = table_ctx(&m, &t, &trk);
	/* no verdict asked: nothing written anywhere */
	assert_int_equal(rules_content(proxy("f")->crules, &c), RULE_FAIL);
	c.verdict = &v;
	assert_int_equal(rules_content(proxy("f")->crules, &c), RULE_FAIL);
	assert_string_equal(v.file, "t.cfg");
	assert_int_equal(v.line, 17);
	assert_int_equal(v.counters, 0);
	/* accepted: left as it is */
	v.file = NULL;
	v.line = -5;
	m = STARTUP(PG_PROTO(3, 0), "user\0bob\0");
	assert_int_equal(rules_content(proxy("f")->crules, &c), RULE_PASS);
	assert_null(v.file);
	assert_int_equal(v.line, -5);
	/* its condition reads a stick counter (whichever part matched) */
	m = STARTUP(PG_PROTO(3, 0), "user\0carol\0");
	assert_int_equal(rules_content(proxy("f")->crules, &c), RULE_FAIL);
	assert_string_equal(v.file, "t.cfg");
	assert_int_equal(v.line, 19);
	assert_int_equal(v.counters, 1);
	track_end(&trk, 0, 0, c.now_ms);
	m = STARTUP(PG_PROTO(3, 0), "user\0dave\0");
	assert_int_equal(rules_content(proxy("f")->crules, &c), RULE_FAIL);
	assert_int_equal(v.line, 20);
	assert_int_equal(v.counters, 0);
	track_end(&trk, 0, 0, c.now_ms);
	/* the limit itself: a second session of "erin" while one is tracked */
	{
		struct track_set first = { 0 };
		m = STARTUP(PG_PROTO(3, 0), "user\0erin\0");
		c.trk = &first;
		assert_int_equal(rules_content(proxy("f")->crules, &c), RULE_PASS);
		c.trk = &trk;
		assert_int_equal(rules_content(proxy("f")->crules, &c), RULE_FAIL);
		assert_int_equal(v.line, 19);
		assert_int_equal(v.counters, 1);
		track_end(&trk, 0, 0, c.now_ms);
		track_end(&first, 0, 0, c.now_ms);
	}
	stktable_put(t);
}

/* pg.user as a stick table key (type string), and as a log-format field. */
static void test_track_key(void **st)
{
	struct pg_first m = STARTUP(PG_PROTO(3, 0), "user\0alice\0database\0sales\0");
	struct stktable *t;
	struct track_set trk = { 0 };
	struct rule_ctx c;
	struct stk_key k = { .p = "alice", .len = 5 };
	struct stksess *ts;
	long long v = -1;

	(void)st;
	assert_string_equal(parse(BASE " tcp-request content track-sc0 pg.user table users\n"
				  "backend users\n stick-table type string len 32 size 10 store conn_cnt\n"), "");
	c = table_ctx(&m, &t, &trk);
	assert_int_equal(rules_content(proxy("f")->crules, &c), RULE_PASS);
	assert_non_null(trk.e[0].ts);
	track_end(&trk, 0, 0, c.now_ms);
	ts = stktable_lookup(t, &k, c.now_ms);
	assert_non_null(ts);
	assert_int_equal(stktable_data_get(t, ts, stk_dt_index("conn_cnt"), 0, c.now_ms, &v), 0);
	assert_int_equal(v, 1);
	stktable_release(t, ts);
	/* no sample (an SSLRequest): nothing tracked */
	{
		struct pg_first ssl = { .kind = PG_FIRST_SSL, .len = 8 };
		c.pg = &ssl;
		assert_int_equal(rules_content(proxy("f")->crules, &c), RULE_PASS);
		assert_null(trk.e[0].ts);
	}
	stktable_put(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_values, teardown),
		cmocka_unit_test_teardown(test_match, teardown),
		cmocka_unit_test_teardown(test_errors, teardown),
		cmocka_unit_test_teardown(test_conn_rules_never_match, teardown),
		cmocka_unit_test_teardown(test_flags, teardown),
		cmocka_unit_test_teardown(test_verdict, teardown),
		cmocka_unit_test_teardown(test_track_key, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
