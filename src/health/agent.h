/* agent-check: ferry connects to a server's agent port every agent-inter,
 * sends agent-send, and applies the words of the reply as HAProxy does:
 * up, ready, down / fail / stopped, maint, drain, N% (weight), maxconn:N.
 * An agent that cannot be reached changes nothing: reachability is the job
 * of the regular health check. */
#ifndef FERRY_HEALTH_AGENT_H
#define FERRY_HEALTH_AGENT_H
#include "health/check.h"

struct agent {
	struct server *srv;
	const struct check_env *env;
	const struct log_targets *logs[2];
	struct io io;
	struct timer timer;
	int64_t inter;
	struct sockaddr_storage addr;
	const char *send;
	char buf[512];
	size_t len;
	int running;
	char warned[160];    /* the last complaint logged, so it is said once */
	/* the last result, for the stats (agent_status, last_agt, ...) */
	const char *status;  /* "INI", "L4CON", "L4TOUT", "L7OK", "L7STS" */
	char info[128];      /* why it failed, or the agent's reply */
	int duration;        /* ms */
	uint64_t started;    /* monotonic ms of the running one */
};

void agent_start(struct agent *a, struct server *srv, const struct cfg_server *cs,
		 const struct check_env *env, const struct log_targets *own,
		 const struct log_targets *global, uint64_t first_delay);
void agent_stop(struct agent *a);
/* What agent_apply changed. */
#define AGENT_R_STATE 0x1    /* availability: up/down/maint */
#define AGENT_R_CAPACITY 0x2 /* the effective weight or maxconn */
#define AGENT_R_DRAIN 0x4    /* "drain" took the weight to 0 */
#define AGENT_R_READY 0x8    /* "ready" gave a drained server its weight back */

/* Applies one agent reply (one line, from the network: any bytes) to srv;
 * pure apart from backend_update. Words it cannot use are ignored; the
 * first complaint, in HAProxy's words ("agent warns : Trailing garbage in
 * maxconn string"), goes to warn ("" when none; warn may be NULL). Returns
 * AGENT_R_* bits. The caller holds the backend lock. */
int agent_apply(struct server *srv, const char *reply, char *warn, size_t wlen);

#endif
