/* The tcp-check and http-check "expect" matchers (src/health/check_tcp.c
 * eval_expect, with the protocol readers of check_proto.c and the HTTP
 * response reader of check_http.c behind it), fed what a server may answer
 * a health check. The rules are compiled once from the fixed configuration
 * below (string, rstring, binary, rbinary, negated, min-recv, on-error;
 * option redis-check, mysql-check, smtpchk, ldap-check, ssl-hello-chk;
 * option httpchk with status, rstatus, hdr, string, rstring). Input: the
 * first byte picks the backend, bit 0 of the second says whether the
 * server has closed (last read), the rest is what it sent; every expect
 * rule of the backend is evaluated on it in turn.
 *
 * eval_expect is static: check_tcp.c is compiled into this harness (the
 * library's copy is then not linked), so the engine's own code runs, not a
 * copy of it. Checks, besides no crash and no read past the bytes: the
 * result is one of OK, FAIL, WAIT; after the server closed it never waits;
 * a failure has a status and a NUL-terminated reason in its buffer; a
 * plain string or binary rule matches exactly when the bytes contain the
 * pattern (negated: when they do not). */
#include "health/check_tcp.c"

#include "fuzz.h"

static const char config[] =
	"defaults\n"
	"    timeout connect 1s\n"
	"    timeout server 1s\n"
	"\n"
	"backend tcp\n"
	"    option tcp-check\n"
	"    tcp-check comment \"greeting\"\n"
	"    tcp-check expect string +PONG\n"
	"    tcp-check expect rstring ^\\+OK\\ [a-z]+ on-error \"bad greeting\" on-success \"fine\"\n"
	"    tcp-check expect binary 0a0b0c\n"
	"    tcp-check expect rbinary ^(00|FF)+0D0A\n"
	"    tcp-check expect ! string -ERR error-status L7STS\n"
	"    tcp-check expect min-recv 4 string ab\n"
	"    tcp-check expect min-recv 8 rstring (?i)ready\n"
	"    tcp-check expect ! rbinary DEADBEEF\n"
	"backend redis\n"
	"    option redis-check\n"
	"backend mysql\n"
	"    option mysql-check user haproxy post-41\n"
	"backend mysql_old\n"
	"    option mysql-check user haproxy\n"
	"backend mysql_nouser\n"
	"    option mysql-check\n"
	"backend smtp\n"
	"    option smtpchk HELO example.org\n"
	"backend ldap\n"
	"    option ldap-check\n"
	"backend ssl\n"
	"    option ssl-hello-chk\n"
	"backend http\n"
	"    option httpchk GET /health HTTP/1.1\n"
	"    http-check disable-on-404\n"
	"    http-check expect status 200-299\n"
	"backend http_rules\n"
	"    option httpchk\n"
	"    http-check send meth GET uri /h ver HTTP/1.1 hdr Host example.org\n"
	"    http-check expect rstatus ^2[0-9]{2}$\n"
	"    http-check expect hdr name content-type value -m beg text/\n"
	"    http-check expect ! hdr name -m reg ^x-bad\n"
	"    http-check expect string ok\n"
	"    http-check expect rstring \"\\\"up\\\": *true\"\n"
	"    http-check expect ! string maintenance\n";

#define NBE 16
static struct cfg cfg;
static const struct cfg_proxy *bes[NBE];
static int nbe;
static struct server srv;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *diag = fopen("/dev/null", "w");

	(void)argc;
	(void)argv;
	cfg_init(&cfg, diag ? diag : stderr);
	cfg_parse_text(&cfg, "check_expect.cfg", config);
	if (cfg_validate(&cfg)) {
		fprintf(stderr, "check_expect: the harness's configuration has errors\n");
		abort();
	}
	for (const struct cfg_proxy *px = cfg.proxies; px && nbe < NBE; px = px->next)
		bes[nbe++] = px;
	srv.name = "s1";
	srv.up = 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct check c;
	int last_read;
	size_t n;

	if (size < 2)
		return 0;
	memset(&c, 0, sizeof(c));
	c.srv = &srv;
	c.pxcfg = bes[data[0] % nbe];
	c.type = c.pxcfg->check_type;
	c.rules = c.type == CHK_HTTP ? &c.pxcfg->hrules : &c.pxcfg->rules;
	last_read = data[1] & 1;
	n = size - 2 < CHECK_BUFSIZE ? size - 2 : CHECK_BUFSIZE;
	c.rbuf = malloc(n + 1);
	FUZZ_CHECK(c.rbuf);
	memcpy(c.rbuf, data + 2, n);
	c.rbuf[n] = 0;
	c.rlen = n;
	for (c.step = 0; c.step < c.rules->n; c.step++) {
		const struct tcr *r = &c.rules->v[c.step];
		const char *status = NULL;
		char info[CHECK_DESC_LEN];
		enum check_eval ev;

		if (r->kind != TCR_EXPECT)
			continue;
		memset(info, 'x', sizeof(info));
		ev = eval_expect(&c, r, last_read, &status, info, sizeof(info));
		FUZZ_CHECK(ev == EVAL_OK || ev == EVAL_FAIL || ev == EVAL_WAIT);
		FUZZ_CHECK(!(last_read && ev == EVAL_WAIT));
		FUZZ_CHECK(memchr(info, 0, sizeof(info)));
		if (ev == EVAL_FAIL)
			FUZZ_CHECK(status && *status);
		if (c.type != CHK_HTTP && (r->match == TCRM_STRING || r->match == TCRM_BINARY) && ev != EVAL_WAIT)
			FUZZ_CHECK((ev == EVAL_OK) == ((memmem(c.rbuf, c.rlen, r->data, r->len) != NULL) ^ r->negate));
	}
	free(c.rbuf);
	return 0;
}
