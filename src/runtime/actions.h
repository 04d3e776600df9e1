/* What the runtime API's commands change, one function per action (the
 * socket commands and the HTTP dashboard's buttons both end here). Each
 * runs on worker 0, takes the backend lock where the workers read what it
 * changes, logs in HAProxy 2.6's words where HAProxy logs (to the
 * backend's log targets and to stderr), and gives queued clients the room
 * a change makes. Functions that can be refused return HAProxy's sentence
 * (a constant) or NULL when done. */
#ifndef FERRY_RUNTIME_ACTIONS_H
#define FERRY_RUNTIME_ACTIONS_H
#include "runtime/runtime.h"

/* "clear counters": the maxima (smax, qmax, rate_max, the time maxima);
 * with all, every counter as well (HAProxy's "clear counters all"). */
void act_clear_counters(struct runtime *rt, int all);

/* ---- servers ---- */

/* "set server <b>/<s> state maint|drain|ready" (and "disable server",
 * "enable server"), as HAProxy's srv_adm_set_maint/drain/ready: forced
 * maintenance takes the server down (its check pauses), drain keeps it up
 * without new clients, ready ends both. A server disabled in the
 * configuration or added at run time is enabled by ready. */
void act_server_maint(struct runtime *rt, struct server *s);
void act_server_drain(struct runtime *rt, struct server *s);
void act_server_ready(struct runtime *rt, struct server *s);

enum act_health { ACT_DOWN, ACT_STOPPING, ACT_UP };
/* "set server <b>/<s> health up|stopping|down": the health check's verdict
 * forced (the next checks go on from it). Nothing while in maintenance. */
void act_server_health(struct runtime *rt, struct server *s, enum act_health h);
/* "set server <b>/<s> agent up|down". */
const char *act_server_agent(struct runtime *rt, struct server *s, int up);
/* "set server <b>/<s> weight <w>[%]" and "set weight": HAProxy's parsing
 * and sentences; a static algorithm accepts only 0% and 100%. */
const char *act_server_weight(struct runtime *rt, struct server *s, const char *w);
/* "set maxconn server": a larger limit serves queued clients at once. */
const char *act_server_maxconn(struct runtime *rt, struct server *s, const char *v);
/* "set server <b>/<s> addr <ip> [port <p>]": writes HAProxy's report
 * ("IP changed from ... by 'stats socket command'\n") into msg. The health
 * and agent checks follow unless they have their own address or port. */
void act_server_addr(struct runtime *rt, struct server *s, const char *addr, const char *port,
		     char *msg, size_t len);
/* "set server <b>/<s> check-port <p>" / "agent-port <p>": writes HAProxy's
 * report into msg (empty when done). */
void act_server_check_port(struct runtime *rt, struct server *s, const char *port, int agent,
			   char *msg, size_t len);
/* "enable|disable health" and "enable|disable agent". */
const char *act_server_check_enable(struct runtime *rt, struct server *s, int on);
const char *act_server_agent_enable(struct runtime *rt, struct server *s, int on);
/* "add server <b>/<s> <addr> [options]": words are NAME ADDR [options]
 * (the configuration's server options, HAProxy's dynamic-server subset).
 * The server starts in maintenance, its checks configured but disabled
 * until "enable health" / "enable agent", as HAProxy 2.6. Returns NULL, or
 * the refusal as HAProxy prints it (in err, or a constant). */
const char *act_server_add(struct runtime *rt, struct pbackend *be, char *const *words, int n,
			   char *err, size_t errlen);
/* "del server <b>/<s>": only in maintenance and without connections or
 * queue; the server leaves the backend and is freed with its generation
 * (closed sessions may still point to it). */
const char *act_server_del(struct runtime *rt, struct pbackend *be, struct server *s);

/* ---- frontends and the process ---- */

/* "disable frontend" (new clients refused, as HAProxy's paused listeners),
 * "enable frontend", "shutdown frontend" (its listeners closed for good). */
const char *act_frontend_disable(struct runtime *rt, struct frontend *fe);
const char *act_frontend_enable(struct runtime *rt, struct frontend *fe);
const char *act_frontend_shutdown(struct runtime *rt, struct frontend *fe);
/* "set maxconn frontend <fe> <n>" / "set maxconn global <n>": every
 * worker applies the new limit at once (paused listeners resume). */
const char *act_maxconn_frontend(struct runtime *rt, struct frontend *fe, const char *v);
const char *act_maxconn_global(struct runtime *rt, const char *v);

/* ---- sessions: they live on the worker that accepted them ---- */

/* Runs fn on every worker's thread (each may return a count and a text,
 * malloc'd or NULL), then done on worker 0 with the counts added up and
 * the texts in worker order (freed after done returns). */
typedef int (*act_worker_fn)(struct worker *w, const void *req, char **text);
void act_fanout(struct runtime *rt, act_worker_fn fn, const void *req, size_t reqlen,
		void (*done)(void *arg, int total, char *const *texts, int n), void *arg);
/* At exit, when the workers have stopped: frees the fan-outs still waiting
 * (their done is never called). */
void act_fanout_abandon(struct runtime *rt);

/* The request of "shutdown sessions server" / "shutdown session": closes,
 * on each worker, the sessions using srv, or the one whose id is id. */
struct act_kill {
	const struct server *srv;
	uintptr_t id;
};
int act_kill_sessions(struct worker *w, const void *req, char **text);

#endif
