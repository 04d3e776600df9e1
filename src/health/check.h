/* Active health checks: one per server with "check", scheduled on the
 * event loop. Today a check is a TCP connect (L4). Results feed the pure
 * rise/fall machine in check_fsm.c; state changes are logged in HAProxy's
 * words and reported to the owner through on_change. */
#ifndef FERRY_HEALTH_CHECK_H
#define FERRY_HEALTH_CHECK_H
#include <stdint.h>
#include <sys/socket.h>

#include "balance/server.h"
#include "core/log.h"
#include "event/loop.h"
#include "health/check_fsm.h"

struct check_env {
	struct loop *loop;
	int spread_pct;                       /* spread-checks */
	/* Called after a server went UP or DOWN (so queues can move). */
	void (*on_change)(struct server *srv, void *arg);
	void *arg;
};

struct check {
	struct server *srv;
	const struct check_env *env;
	const struct log_targets *logs[2];    /* backend's own and global */
	struct io io;
	struct timer timer;
	struct check_fsm fsm;
	int64_t inter, fastinter, downinter;
	int64_t to_connect, to_check;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t started;                     /* monotonic ms of the running check */
	int running;
	const char *status;                   /* L4OK, L4CON, L4TOUT, ... */
	char info[128];                       /* reason, e.g. "Connection refused" */
	int duration;                         /* ms */
};

/* Sets up c for srv from its configuration; the first check runs after
 * first_delay ms. Returns 0 or -1. */
int check_start(struct check *c, struct server *srv, const struct cfg_server *cs,
		const struct cfg_proxy *be, const struct check_env *env,
		const struct log_targets *own, const struct log_targets *global,
		uint64_t first_delay);
void check_stop(struct check *c);
/* Writes HAProxy's sentence for a state change into buf. */
void check_describe_change(const struct check *c, int up, char *buf, size_t len);

#endif
