/* Active health checks: one per server with "check", scheduled on the event
 * loop. The kind of check (a TCP connect, tcp-check rules, PostgreSQL
 * through libpq) runs in its own file and reports one result through
 * check_done(); this file turns results into state changes with the pure
 * rise/fall machine (check_fsm.c) and logs them in HAProxy's words. */
#ifndef FERRY_HEALTH_CHECK_H
#define FERRY_HEALTH_CHECK_H
#include <stdint.h>
#include <sys/socket.h>

#include "balance/server.h"
#include "config/model.h"
#include "core/log.h"
#include "event/loop.h"
#include "health/check_fsm.h"

struct check;
struct pgstate;

/* Upper bounds (ms) of the buckets of the check duration histogram. */
#define CHECK_HIST_N 12
extern const int check_hist_ms[CHECK_HIST_N];

struct check_env {
	struct loop *loop;
	int spread_pct;                       /* spread-checks */
	/* Called after a server went UP (up = 1) or DOWN (up = 0). Returns
	 * how many queued sessions that moved (given a slot of srv, or sent
	 * elsewhere), for HAProxy's "N sessions requeued". */
	int (*on_change)(struct server *srv, int up, void *arg);
	/* Called after a server's weight or maxconn changed without an UP or
	 * DOWN (agent-check): queued sessions may fit now. May be NULL. */
	void (*on_capacity)(struct server *srv, void *arg);
	/* Called when a server's role changed (PostgreSQL checks): its sessions
	 * are to be closed after the backend's role-change-grace. */
	void (*on_role_change)(struct server *srv, void *arg);
	void *arg;
};

struct check {
	struct server *srv;
	const struct check_env *env;
	const struct cfg_proxy *pxcfg;        /* the backend's configuration */
	const struct log_targets *logs[2];    /* the backend's own and global */
	struct io io;
	struct timer timer;
	struct check_fsm fsm;
	int64_t inter, fastinter, downinter;
	int64_t to_connect, to_check;
	struct sockaddr_storage addr;         /* check address and port */
	socklen_t addrlen;
	uint64_t started;                     /* monotonic ms of the running check */
	int running;
	/* tcp-check engine */
	enum check_type type;
	const struct tcr_list *rules;
	int step;                             /* index of the running rule */
	int implicit;                         /* connecting without a connect rule */
	int in_connect;
	int must_read;                        /* an expect waits for a read first */
	char *rbuf;                           /* received data, NUL-terminated */
	size_t rlen;
	/* http-check (check_http.c) */
	int http_head;                        /* the last request was HEAD: no body comes back */
	int http404;                          /* the last expect saw a 404 under disable-on-404 */
	/* PostgreSQL (pgcheck.c) */
	struct pgstate *pg;
	/* last result */
	const char *status;                   /* L4OK, L4CON, L7RSP, ... */
	int code;                             /* logged with L7OK/L7OKC/L7STS: SMTP reply, MySQL error, ... */
	char info[256];                       /* readable reason */
	int duration;                         /* ms */
	int last_ok;
	uint64_t failed;                      /* failed checks that took health down (chkfail) */
	int port;                             /* its own port ("port", "set server check-port"), 0: the server's */
	int on_error;                         /* SRV_ONERR_*: what observe's error-limit does */
	int send_proxy;                       /* the default connect sends a PROXY header (check-send-proxy) */
	unsigned pp_opts;                     /* the server's SRV_PP_*: which version, CRC32C */
	uint64_t hist[CHECK_HIST_N + 1];      /* checks per duration bucket (the last: longer) */
	uint64_t hist_sum_ms;                 /* their total duration */
};

/* Sets up c for srv; the first check runs after first_delay ms. */
int check_start(struct check *c, struct server *srv, const struct cfg_server *cs,
		const struct cfg_proxy *be, const struct check_env *env,
		const struct log_targets *own, const struct log_targets *global,
		uint64_t first_delay);
void check_stop(struct check *c);
/* Reports the result of the running check (any kind). info may be "". */
void check_done(struct check *c, int ok, const char *status, const char *info);
/* Like check_done, but a role change skips rise/fall: the server goes DOWN
 * at once and its sessions are handed to env->on_role_change. */
void check_done_role_change(struct check *c, const char *status, const char *info);
/* observe layer4: the server's traffic saw `errors` connection errors in
 * a row, the last of kind `last`: applies on-error as HAProxy (status
 * HANA, "Detected N consecutive errors, last one was: ..."), and brings
 * the next check forward to fastinter. Worker 0. */
void check_observed(struct check *c, int errors, const char *last);
/* A server state message to a backend's log targets (own, global; either
 * may be NULL) at `level`, and to stderr at proc_level (-1: not there). */
void health_log(const struct log_targets *const logs[2], int level, int proc_level, const char *msg);
/* After a server went DOWN: HAProxy's alert when the backend has none left. */
void health_log_if_empty(const struct log_targets *const logs[2], const struct backend *be);
/* HAProxy's sentence for a status ("Layer4 connection problem", ...). */
const char *check_status_reason(const char *status);
/* Writes HAProxy's sentence for a state change into buf. */
void check_describe_change(const struct check *c, int up, int requeued, char *buf, size_t len);

/* check_tcp.c: TCP connect and tcp-check rules. */
enum check_eval { EVAL_OK, EVAL_FAIL, EVAL_WAIT };
void tcpcheck_run(struct check *c);
void tcpcheck_timeout(struct check *c);
void tcpcheck_abort(struct check *c);

/* check_proto.c: what the option xxx-check rulesets read in replies.
 * proto_expect runs a TCRM_CUSTOM expect over c->rbuf: on EVAL_FAIL it sets
 * *status, c->code and info; on EVAL_OK info may hold the result's text
 * ("8.0.19", "Success"). proto_reply_info writes the reply text HAProxy
 * logs for TCR_F_INFO_LINE, TCR_F_SMTP (and sets c->code) or
 * TCR_F_PG_ERROR; returns snprintf's count. */
enum check_eval proto_expect(struct check *c, const struct tcr *r, int last_read, const char **status,
			     char *info, size_t ilen);
int proto_reply_info(struct check *c, const struct tcr *r, char *info, size_t ilen);

/* check_http.c: option httpchk. httpchk_request writes send rule r's
 * request into out (returns its length, 0 when it does not fit);
 * httpchk_expect judges the response in c->rbuf for expect rule r (whose
 * comment, carried from "http-check comment" lines, is given), setting
 * c->code, and on EVAL_FAIL *status and info, as check_proto.c's. */
size_t httpchk_request(struct check *c, const struct tcr *r, char *out, size_t cap);
enum check_eval httpchk_expect(struct check *c, const struct tcr *r, const char *comment, int last_read,
			       const char **status, char *info, size_t ilen);

/* pgcheck.c: role-aware PostgreSQL check through libpq. */
void pgcheck_run(struct check *c);
void pgcheck_timeout(struct check *c);
void pgcheck_release(struct check *c);
/* A reload: c takes over what old (the same server's check in the
 * generation being replaced) knew of the server's role, so a role change
 * across the reload is still seen as one. */
void pgcheck_inherit(struct check *c, const struct check *old);
/* What the last PostgreSQL role check of a server learned ("show pg"). */
struct pg_info {
	int answered;              /* the last check got an answer (else the rest is stale or 0) */
	int in_recovery;           /* 1: a replica, 0: a primary */
	int timeline;              /* primaries only (0 for replicas) */
	long long lag_bytes;       /* WAL received but not replayed (replicas) */
	double lag_seconds;        /* since the last replayed transaction, 0 when caught up */
	char sysid[32];            /* system identifier */
};
/* Fills *out from c; returns 0, or -1 when c is not a role-aware
 * PostgreSQL check or has not connected yet. */
int pgcheck_info(const struct check *c, struct pg_info *out);

#endif
