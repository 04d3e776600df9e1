/* The agent-check reply (src/health/agent.c agent_apply), fed what an
 * agent may answer: the first byte is the server's configured weight
 * (0..255), the rest are replies, one a line, applied in turn to the same
 * server, each cut as the agent's reader cuts it (at most 511 bytes, up to
 * the first CR or LF). Checks, besides no crash: the weight stays within
 * 0..256 and the maxconn within 0..10000000; the result bits are the
 * AGENT_R_* ones and say exactly what changed (state flags, capacity);
 * a warning is a NUL-terminated string in its buffer; and a reply applied
 * a second time changes nothing more. */
#include <string.h>

#include "fuzz.h"
#include "health/agent.h"

#define AGENT_FLAGS (SRV_F_AGENT_DOWN | SRV_F_AGENT_MAINT)

struct state {
	unsigned flags;
	int uweight, eweight, maxconn;
};

static struct state state_of(const struct server *s)
{
	return (struct state){ s->flags & AGENT_FLAGS, s->uweight, s->eweight, s->maxconn };
}

static void apply(struct server *srv, const char *reply)
{
	char warn[160];
	struct state before = state_of(srv), after, twice;
	int res;

	memset(warn, 'x', sizeof(warn));
	res = agent_apply(srv, reply, warn, sizeof(warn));
	after = state_of(srv);
	FUZZ_CHECK(memchr(warn, 0, sizeof(warn)));
	FUZZ_CHECK((res & ~(AGENT_R_STATE | AGENT_R_CAPACITY | AGENT_R_DRAIN | AGENT_R_READY)) == 0);
	FUZZ_CHECK(!(res & AGENT_R_STATE) == (before.flags == after.flags));
	FUZZ_CHECK(!(res & AGENT_R_CAPACITY) == (before.uweight == after.uweight && before.maxconn == after.maxconn));
	FUZZ_CHECK(!(res & (AGENT_R_DRAIN | AGENT_R_READY)) || (res & AGENT_R_CAPACITY));
	FUZZ_CHECK(after.uweight >= 0 && after.uweight <= 256 && after.eweight >= 0 && after.eweight <= 256);
	FUZZ_CHECK(after.maxconn >= 0 && after.maxconn <= 10000000);
	agent_apply(srv, reply, NULL, 0); /* the same reply again: already applied */
	twice = state_of(srv);
	FUZZ_CHECK(!memcmp(&after, &twice, sizeof(after)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct backend be;
	static struct server srv;
	static struct server *tab[1];
	size_t off = 1;

	if (size < 1)
		return 0;
	memset(&be, 0, sizeof(be));
	memset(&srv, 0, sizeof(srv));
	srv.name = "s1";
	srv.id = 1;
	srv.be = &be;
	srv.up = 1;
	srv.iweight = srv.uweight = srv.eweight = data[0];
	srv.lag_permille = 1000;
	tab[0] = &srv;
	be.name = "be";
	be.srv = tab;
	be.nsrv = 1;
	backend_init(&be, LB_ROUNDROBIN, HASH_MAP, 2);
	while (off < size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl ? (size_t)(nl - data - off) : size - off;
		char line[512];
		size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
		memcpy(line, data + off, n);
		line[n] = 0;
		line[strcspn(line, "\r\n")] = 0;
		apply(&srv, line);
		off += len + 1;
	}
	backend_free_lb(&be);
	return 0;
}
