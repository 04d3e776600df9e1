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
};

void agent_start(struct agent *a, struct server *srv, const struct cfg_server *cs,
		 const struct check_env *env, const struct log_targets *own,
		 const struct log_targets *global, uint64_t first_delay);
void agent_stop(struct agent *a);
/* Applies one agent reply to srv (pure apart from logging through the
 * caller). Returns a bit mask: 1 = availability changed, 2 = weight or
 * maxconn changed. */
int agent_apply(struct server *srv, const char *reply);

#endif
