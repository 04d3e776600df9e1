/* Linked into a unit test (scripts/fuzz-seed.sh), this writes every input
 * the test gives a fuzzed parser to $FUZZ_SEED_DIR/<harness>/, in that
 * harness's input format, then calls the parser: the unit tests' vectors
 * become the corpora's seeds. Each wrapper is reached through the linker's
 * --wrap=<function>, so the test itself is unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/lexer.h"
#include "config/model.h"
#include "dns/dnsmsg.h"
#include "health/agent.h"
#include "ops/cli_int.h"
#include "proto/pgwire.h"
#include "proto/proxyproto.h"
#include "proto/tls_hello.h"

static unsigned seq;

/* Writes head[0..hn) then p[0..n) as one new seed of harness. */
static void save(const char *harness, const void *head, size_t hn, const void *p, size_t n)
{
	const char *base = getenv("FUZZ_SEED_DIR");
	char path[512];
	FILE *f;

	if (!base)
		return;
	snprintf(path, sizeof(path), "%s/%s", base, harness);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%d-%u", base, harness, (int)getpid(), seq++);
	if (!(f = fopen(path, "w")))
		return;
	if (hn)
		fwrite(head, 1, hn, f);
	if (n)
		fwrite(p, 1, n, f);
	fclose(f);
}

#define WRAP(ret, fn, params) ret __real_##fn params; ret __wrap_##fn params

WRAP(int, pp_parse, (const uint8_t *buf, size_t len, struct pp_info *out))
{
	save("proxyproto", NULL, 0, buf, len);
	return __real_pp_parse(buf, len, out);
}

WRAP(int, tls_hello_parse, (const uint8_t *buf, size_t len, struct tls_hello *out))
{
	save("tls_hello", NULL, 0, buf, len);
	return __real_tls_hello_parse(buf, len, out);
}

WRAP(int, pg_first_parse, (const uint8_t *buf, size_t n, struct pg_first *m))
{
	save("pg_first", NULL, 0, buf, n);
	return __real_pg_first_parse(buf, n, m);
}

/* The scanner's bytes, gathered from pg_scan_init to the next one: one
 * seed per stream (a leading 0: how the harness cuts it). */
static uint8_t scan_buf[1 << 16];
static size_t scan_len;
static int scan_open;

static void scan_flush(void)
{
	if (scan_open)
		save("pg_scan", "", 1, scan_buf, scan_len);
	scan_open = 0;
	scan_len = 0;
}

WRAP(void, pg_scan_init, (struct pg_scan *sc))
{
	scan_flush();
	scan_open = 1;
	__real_pg_scan_init(sc);
}

WRAP(enum pg_scan_res, pg_scan_feed, (struct pg_scan *sc, const uint8_t *p, size_t n))
{
	if (n <= sizeof(scan_buf) - scan_len) {
		memcpy(scan_buf + scan_len, p, n);
		scan_len += n;
	}
	return __real_pg_scan_feed(sc, p, n);
}

__attribute__((destructor)) static void scan_end(void)
{
	scan_flush();
}

WRAP(enum dns_status, dns_parse_response,
     (const uint8_t *buf, size_t len, uint16_t id, const char *name, uint16_t qtype, struct dns_response *out))
{
	uint8_t head[1 + DNS_NAME_LEN + 1];
	size_t nl = strnlen(name, DNS_NAME_LEN);

	head[0] = (uint8_t)((qtype == DNS_T_AAAA ? 1 : qtype == DNS_T_SRV ? 2 : 0) |
			    (len >= 2 && (buf[0] << 8 | buf[1]) != id ? 0x80 : 0));
	memcpy(head + 1, name, nl);
	head[1 + nl] = 0;
	save("dns", head, nl + 2, buf, len);
	return __real_dns_parse_response(buf, len, id, name, qtype, out);
}

WRAP(int, agent_apply, (struct server *srv, const char *reply, char *warn, size_t wlen))
{
	uint8_t w = (uint8_t)(srv->iweight > 255 ? 255 : srv->iweight);

	save("agent", &w, 1, reply, strlen(reply));
	return __real_agent_apply(srv, reply, warn, wlen);
}

WRAP(void, cli_req_parse, (struct cli_req *r, const char *text, size_t len))
{
	uint8_t lv = (uint8_t)(r->sess && r->sess->level > 0 ? r->sess->level - 1 : 2);

	save("cli", &lv, 1, text, len);
	__real_cli_req_parse(r, text, len);
}

WRAP(int, cfg_parse_text, (struct cfg *c, const char *name, const char *text))
{
	save("config", NULL, 0, text, strlen(text));
	return __real_cfg_parse_text(c, name, text);
}

WRAP(int, cfg_split, (const char *line, struct cfg_words *out, char *err, size_t errlen))
{
	save("config", NULL, 0, line, strlen(line));
	return __real_cfg_split(line, out, err, errlen);
}
