/* HAProxy's log-format strings ("Custom log format", configuration.txt
 * 8.2.4 in 2.6): compiled once per configuration with the rules (the
 * %[expr] sample expressions are the rules' own), rendered per session
 * from plain values the session fills. Pure: no sockets, no clock. */
#ifndef FERRY_RULES_LOGFORMAT_H
#define FERRY_RULES_LOGFORMAT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "rules/rules.h"

struct logfmt; /* opaque, immutable once compiled */

/* What a compiled format reads, so the session fetches only that. */
#define LF_USE_FI 0x1     /* %fi %fp: the address the client connected to */
#define LF_USE_BI 0x2     /* %bi %bp: the server connection's own address */
#define LF_USE_RT 0x4     /* %rt: a process-wide session number */
#define LF_USE_HOST 0x8   /* %H */
#define LF_USE_EXPR 0x10  /* %[...]: a rule context */
#define LF_USE_REQ 0x20   /* a %[...] reads the request bytes (req.ssl_sni...): the
                             session keeps what its content rules inspected */
unsigned lf_uses(const struct logfmt *lf); /* 0 for NULL */

/* The values of one session. Addresses and names may be NULL (printed as
 * HAProxy prints a missing one: "-", or "" when quoted). */
struct lf_data {
	const struct sockaddr *ci, *fi, *bi, *si;
	const char *fe_name, *be_name, *srv_name, *hostname;
	struct timespec accept_date;
	int32_t tw, tc, tt;        /* ms; -1: that step did not happen */
	uint64_t bytes_in, bytes_out; /* %U client to server, %B server to client */
	char term[2];              /* termination state, 0 = '-' */
	int ac, fc, bc, sc, sq, bq, retries, redisp;
	unsigned rt, lc;
	int pid;
	int luid;                  /* the listener's id: %cp/%fp of a unix client, as HAProxy */
};

/* Compiles fmt for the proxy rc is compiling (rules_compile calls it for
 * each frontend's log-format, setting cfg_proxy->clogfmt): errors through
 * cfg_error at rc's file:line with HAProxy's words. NULL after an error. */
struct rcomp;
struct logfmt *lf_compile(struct rcomp *rc, const char *fmt);
void lf_free(struct logfmt *lf);

/* Writes the line for d into out (cap bytes, NUL-terminated, cut at cap-1
 * as HAProxy cuts at its line length); ctx serves %[expr] (may be NULL
 * when lf_uses() has no LF_USE_EXPR). Returns its length. */
size_t lf_render(const struct logfmt *lf, const struct lf_data *d, const struct rule_ctx *ctx,
		 char *out, size_t cap);

#endif
