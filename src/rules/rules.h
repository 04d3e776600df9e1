/* Rules: HAProxy's ACLs, sample fetches, converters, pattern lists and
 * maps, and the rules built on them (tcp-request connection, use_backend,
 * use-server), evaluated over a context the session fills. Pure: no
 * sockets, no syscalls at evaluation (files are read when compiling).
 *
 * Life cycle: rules_compile() turns the rule lines the config parser kept
 * (cfg_proxy->rlines) into one immutable compiled set per configuration
 * (cfg->rules, freed by cfg_free through cfg->rules_free), with each
 * proxy's part at cfg_proxy->crules. A reload parses and compiles anew, so
 * -f files and maps are read again once per generation. Nothing in a
 * compiled set is written at evaluation: any number of threads may
 * evaluate it at once; all per-evaluation state lives on the caller's
 * stack (struct rule_ctx and what the functions below put on theirs).
 *
 * Phase 2 (content inspection) contract: every evaluation returns a
 * tri-state (enum rule_res). RULE_MISS means "a fetch needed request bytes
 * that have not arrived and may still come" (ctx->req_final == 0): wait
 * for more (up to inspect-delay) and evaluate again with the longer
 * buffer; with req_final set, a missing byte is a plain no match, never a
 * MISS. Fetches declare when they are usable (RF_USE_*): rules at accept
 * time only see RF_USE_L4 fetches; a content fetch in a tcp-request
 * connection rule gets HAProxy's "will never match" warning at compile
 * time and never matches. */
#ifndef FERRY_RULES_RULES_H
#define FERRY_RULES_RULES_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "balance/server.h"
#include "config/model.h"

/* HAProxy's three-valued ACL logic (ACL_TEST_*): AND is a & b, OR a | b. */
enum rule_res {
	RULE_FAIL = 0,  /* no match */
	RULE_MISS = 1,  /* cannot tell yet: request bytes missing, more may come */
	RULE_PASS = 3,  /* match */
};

/* When a fetch can give an answer. */
#define RF_USE_L4 0x1      /* at accept: addresses, frontend, backends' state */
#define RF_USE_CONTENT 0x2 /* needs the client's first bytes (tcp-request content) */
/* What a fetch reads, for rules_flags() (with RF_USE_CONTENT). */
#define RF_PG_PARAMS 0x4   /* the PostgreSQL StartupMessage (pg.database, ...: RULES_F_PGPARAM) */
#define RF_TLS_HELLO 0x8   /* the TLS ClientHello (req.ssl_*, req_ssl_*: RULES_F_TLSHELLO) */

/* What one evaluation sees. The session fills it on its stack; every
 * pointer must stay valid during the call. */
struct rule_ctx {
	const struct sockaddr *src;     /* the client (phase 2: the PROXY header's) */
	const struct sockaddr *dst;     /* the address it connected to; NULL: dst fetches fail */
	const char *fe_name;
	int fe_id;                      /* HAProxy's iid */
	int fe_conn;                    /* the frontend's current connections, this one included */
	struct backend *const *bes;     /* the generation's backends, in configuration order */
	int nbe;
	const uint8_t *req;             /* the request bytes peeked so far (may be NULL with len 0) */
	size_t req_len;
	int req_final;                  /* no more request bytes will come (or no waiting: phase 1) */
	/* stick counters (rules/track.h): only read when the rules have any */
	struct stktable *const *tables; /* the generation's stick tables, by compiled index */
	int ntables;
	struct track_set *trk;          /* the session's tracked counters (track-sc fills it); NULL: none */
	uint64_t now_ms;                /* the worker's loop clock (tables' rates and expiry) */
	const struct pp_info *pp;       /* the PROXY header received (accept-proxy), NULL: none */
	/* PostgreSQL frontends (option pgsql): the pg.* fetches read these */
	const struct pg_first *pg;      /* the client's first message (proto/pgwire.h) as parsed;
	                                   NULL: none read (pg.* fetches give no sample) */
	unsigned pg_flags;              /* RC_PG_* */
	struct rule_verdict *verdict;   /* NULL, or filled by rules_content when it rejects */
};

#define RC_PG_FE 0x1      /* a PostgreSQL frontend: pg.ssl_request etc. answer false, not "no sample" */
#define RC_PG_SSL 0x2     /* the client sent an SSLRequest first (pg.ssl_request): its startup
                             parameters are encrypted, pg.database etc. give no sample */
#define RC_PG_GSSENC 0x4  /* the client sent a GSSENCRequest first */
#define RC_PG_TLS 0x8     /* the client started TLS at once (direct TLS) */

/* Which rule rejected, for a readable refusal. */
struct rule_verdict {
	const char *file;         /* the rejecting rule's file and line (NULL, 0: none) */
	int line;
	int counters;             /* its condition reads stick counters: a limit was reached */
};

struct pg_first;

struct pp_info;

/* One proxy's compiled rules (opaque). NULL: the proxy has none. */
struct px_rules;
struct track_set;
struct stick_state;
struct stktable;

/* Compiles every proxy's rule lines of c (called once parsing and
 * validation succeeded, by ferry -c and before building a generation):
 * resolves backend and server names, reads -f files and maps, reports
 * each problem as "path:line: message" through cfg_error/cfg_warn (HAProxy's
 * wording where it has one). Sets c->rules/c->rules_free and each proxy's
 * crules. Returns the number of errors it reported. */
int rules_compile(struct cfg *c);

/* What the compiled rules of a proxy need from the session. */
#define RULES_F_DST 0x1        /* some fetch reads ctx->dst (fill it: getsockname) */
#define RULES_F_CONN 0x2       /* it has tcp-request connection rules */
#define RULES_F_SWITCH 0x4     /* it has use_backend rules */
#define RULES_F_SERVER 0x8     /* it has use-server rules (backend) */
#define RULES_F_CONTENT 0x10   /* some use_backend/use-server condition reads request bytes */
#define RULES_F_TRACK 0x20     /* some fetch or action reads or writes stick tables: fill
                                  ctx->tables, ctx->trk and ctx->now_ms */
#define RULES_F_STICK 0x40     /* stick on|match|store-request rules (backend) */
#define RULES_F_INSPECT 0x80   /* it has tcp-request content rules */
#define RULES_F_PGPARAM 0x100  /* some rule reads the PostgreSQL startup message (pg.database,
                                  pg.user, pg.application_name, pg.param, pg.protocol) */
#define RULES_F_TLSHELLO 0x200 /* some rule reads the TLS ClientHello (req.ssl_*, req_ssl_*) */
unsigned rules_flags(const struct px_rules *r);

/* What a connection rule asks of the session besides accept/reject
 * (*acts of rules_conn_accept). */
#define RULE_ACT_EXPECT_PROXY 0x1 /* expect-proxy layer4: a PROXY header comes first */

/* tcp-request connection rules of a frontend, in order: accept or reject
 * ends them (the first whose condition holds decides); track-sc<n>,
 * sc-inc-gpc0/1 and sc-set-gpt0 whose condition holds act on ctx->trk and
 * evaluation goes on (rules/track.h); expect-proxy layer4 sets
 * RULE_ACT_EXPECT_PROXY in *acts and goes on, as HAProxy. Returns 1 accept
 * (also when no rule matched), 0 reject. Content fetches never match here
 * (HAProxy's rules run before any byte is read, and before the PROXY
 * header: ctx->src is the peer's own address), so this is never RULE_MISS.
 * acts may be NULL. */
int rules_conn_accept(const struct px_rules *r, const struct rule_ctx *ctx, unsigned *acts);

/* tcp-request content rules of a frontend (HAProxy's tcp_inspect_request),
 * in order over the request bytes in ctx: RULE_PASS accept (an accept rule,
 * or no rule decided), RULE_FAIL reject, RULE_MISS a condition needs more
 * bytes (wait, then evaluate all of them again from the first: accept and
 * reject have no side effect, so re-running is HAProxy's outcome).
 *
 * Actions are dispatched in one place, content_action() in compile.c:
 * accept, reject, and track-sc0/1/2 (ctx->trk: the session's tracked
 * counters; a key that needs more bytes is a RULE_MISS). An action that
 * does not end the rules returns ACT_CONT there, as HAProxy's ACT_RET_CONT;
 * since the rules are run again from the first on each arrival of bytes
 * (HAProxy resumes at the rule that waited), such an action must be
 * idempotent: track-sc is (a counter already tracked is left as it is),
 * sc-inc-gpc0/1 and sc-set-gpt0 are not, so they stay "not supported yet"
 * in content rules. */
enum rule_res rules_content(const struct px_rules *r, const struct rule_ctx *ctx);

/* use_backend rules of a frontend, first match wins (HAProxy's
 * process_switching_rules). Returns RULE_PASS with *be_idx set to the
 * index into ctx->bes of the chosen backend; RULE_FAIL when no rule chose
 * one (use default_backend; a dynamic %[...] name that names no backend
 * also ends here, as HAProxy falls back to default_backend); RULE_MISS
 * when a rule before any match needs more request bytes. Phase 1 calls it
 * with req_final set; phase 2 calls it again after content inspection. */
enum rule_res rules_pick_backend(const struct px_rules *r, const struct rule_ctx *ctx, int *be_idx);
/* Marks in mark[0..nbe) every backend a use_backend rule of r names (a
 * frontend's possible targets besides its default_backend). Returns 0, or
 * -1 when a rule names its backend with a %[...] expression (any backend
 * may be chosen; the marks are then incomplete). */
int rules_backend_targets(const struct px_rules *r, unsigned char *mark, int nbe);

/* use-server rules of a backend (be: the live backend the rules were
 * compiled for), first match wins: as HAProxy, a rule naming a server that
 * is not running is skipped. Returns RULE_PASS with *srv set, RULE_FAIL
 * (let the algorithm choose), or RULE_MISS as above. */
enum rule_res rules_pick_server(const struct px_rules *r, const struct rule_ctx *ctx,
				struct backend *be, struct server **srv);

/* stick match / stick on rules of a backend, in order, as HAProxy's
 * process_sticking_rules: the first entry found whose server_id names a
 * running server of be (not DOWN, not in maintenance) sets *srv; every
 * matching store rule (stick on, stick store-request: the first of each
 * table) keeps its key in *st (allocated here, freed by the caller) for
 * stick_store_apply() once a server is connected. Returns RULE_PASS with
 * *srv set, RULE_FAIL (let use-server/the algorithm choose), or RULE_MISS
 * (request bytes needed). */
enum rule_res rules_stick(const struct px_rules *r, const struct rule_ctx *ctx, struct backend *be,
			  struct server **srv, struct stick_state **st);

#endif
