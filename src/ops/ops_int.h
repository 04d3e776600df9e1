/* Inside the ops layer: the state of the runtime API, one per process (on
 * worker 0, reached from rt->ops). */
#ifndef FERRY_OPS_OPS_INT_H
#define FERRY_OPS_OPS_INT_H
#include <stdint.h>

#include "event/loop.h"
#include "runtime/runtime.h"

struct cli_listener;
struct cli_conn;
struct http_srv;

struct ops {
	struct runtime *rt;
	struct cli_listener *listeners;   /* cli.c: one per "stats socket" */
	struct cli_conn *conns;           /* cli.c: open connections */
	int nconns;
	int maxconn;                      /* stats maxconn */
	int64_t timeout_ms;               /* stats timeout */
	int stopping;                     /* ops_stop ran: nothing new starts */
	struct http_srv *http;            /* http.c: the stats frontends' listeners and connections */
	struct timer sample_timer;        /* stats.c: once a second */
	/* process-wide values sampled every second (stats.c) */
	uint32_t max_conn_rate;           /* MaxConnRate */
	uint32_t max_sess_rate;           /* MaxSessRate */
	uint64_t bytes_out_last;          /* TotalBytesOut at the last sample */
	uint64_t bytes_out_rate;          /* BytesOutRate */
	uint64_t cpu_last_us, wall_last_ms;
	int idle_pct;                     /* Idle_pct */
};

/* stats.c: starts and stops the one-second sampler. */
void stats_sampler_start(struct ops *o);
void stats_sampler_stop(struct ops *o);

#endif
