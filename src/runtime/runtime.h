/* The configuration turned into live objects. The process-wide part (worker
 * threads, limits) lives as long as the process; the configuration's
 * objects (frontends, backends, servers, checks) form a generation, which a
 * reload replaces while the sessions started on the old one finish on it. */
#ifndef FERRY_RUNTIME_RUNTIME_H
#define FERRY_RUNTIME_RUNTIME_H
#include "config/model.h"
#include "health/agent.h"
#include "health/check.h"
#include "proxy/proxy.h"
#include "rules/stktable.h"

struct runtime;
struct inherited;
struct ops;
struct act_fanout;

/* What the runtime keeps per server: the server itself first (a struct
 * server * is a struct srv_rt *), its checks, and its role-change timer. */
struct srv_rt {
	struct server srv;
	struct runtime *rt;
	struct cfg_server *cs;     /* its configuration (owned when added at run time) */
	int has_check, has_agent;
	struct check check;
	struct agent agent;
	struct timer grace;        /* role-change-grace: closes its sessions when it fires */
	struct timer warm;         /* slowstart: recomputes its warm-up once a second */
	struct srv_rt *next_dead;  /* deleted at run time: freed with the generation */
	char *dns_host;            /* the name resolvers ask for it now (resolvers.c); NULL: none */
};

/* One configuration's live objects. */
struct generation {
	struct genref ref;         /* first; sessions, workers, and rt->gen each hold one */
	int id;                    /* 1 at start, then one more per reload */
	struct runtime *rt;
	struct cfg *cfg;           /* owned */
	struct frontend *fes;
	int nfe;
	struct pbackend **bes;
	struct backend **lbs;      /* &bes[i]->lb: what the rules' fetches read */
	int nbe;
	int nchecks, nagents;
	struct srv_rt *dead;       /* servers deleted at run time */
	struct stktable **tables;  /* stick tables, in declaration order (one reference each) */
	int ntables;
	struct generation *next;   /* rt->retired: replaced, waiting for its last session */
	void *dns;                 /* its run-time DNS resolution (resolvers.c); NULL: none */
};

struct runtime {
	struct cfg *cfg;           /* the current generation's (gen->cfg) */
	struct generation *gen;    /* the current generation (thread 0 only) */
	struct generation *retired;
	int next_gen_id;
	struct process proc;
	struct worker *ws;         /* nbthread workers; ws[0] also runs checks and signals */
	int nw;
	pthread_t *threads;        /* ws[1..nw-1] */
	struct check_env cenv;
	int maxconn;
	int maxpipes;
	uint64_t start_ms;         /* monotonic */
	time_t start_time;         /* realtime */
	int exiting;               /* runtime_destroy: generations are freed by it */
	const char *const *files;  /* the configuration files (-f), read again by a reload */
	int nfiles;
	int diag_mode;             /* -dD: a reload prints .diag lines too */
	struct inherited *inherited; /* -x: listening sockets of the process replaced */
	int ninherited;
	struct ops *ops;           /* the runtime API (src/ops): its sockets, sampled maxima */
	struct act_fanout *fanouts; /* actions.c: requests waiting for every worker's answer */
	struct timer table_purge;  /* tables.c: frees expired stick-table entries (worker 0) */
};

/* Threads when nbthread is not set: one per CPU the process may run on
 * (its affinity mask, so taskset is respected), at most 64, as HAProxy. */
int runtime_default_threads(void);
/* Shares fds descriptors between connections (two each) and splice pipes
 * (two each), as HAProxy: without maxconn, maxconn = 2/5 of them (with
 * maxconn/4 pipes), at least 100; maxpipes defaults to maxconn/4 and only
 * ever gets the descriptors the connections leave (it may be 0: buffers
 * only). Pure. */
void runtime_fd_budget(long fds, int cfg_maxconn, int cfg_maxpipes, int *maxconn, int *maxpipes);
/* Works out the global maxconn and maxpipes from the configuration and the
 * file descriptor limit (raising the soft limit to the hard one, or to what
 * an explicit maxconn needs, as HAProxy does). nfd_extra counts descriptors
 * needed besides connections and pipes. */
void runtime_limits(const struct cfg *c, int nfd_extra, int *maxconn, int *maxpipes);
/* Builds the workers and the first generation from cfg (which it takes
 * over), opens its listeners and starts its checks. Returns 0, or -1 with
 * err filled (the caller then calls runtime_destroy). */
int runtime_build(struct runtime *rt, struct cfg *cfg, char *err, size_t errlen);
void runtime_destroy(struct runtime *rt);

/* generation.c */
/* Builds a generation's objects from cfg (taken over, also on failure): no
 * listener, no check running yet. NULL with err filled on failure. */
struct generation *gen_build(struct runtime *rt, struct cfg *cfg, char *err, size_t errlen);
/* Starts the health and agent checks of every server of g. */
void gen_start_checks(struct generation *g);
/* Stops them (the generation is being replaced or freed). */
void gen_stop_checks(struct generation *g);
/* The same for one server: started at once (a server added, or enabled
 * after "disabled" in the configuration), or stopped (deleted). */
void gen_start_server_checks(struct generation *g, struct pbackend *be, struct srv_rt *x);
void gen_stop_server_checks(struct srv_rt *x);
/* Frees g and everything it owns; its checks must be stopped. */
void gen_free(struct generation *g);
/* Creates a server of backend be from cs (taken over), as the
 * configuration's server lines do; not yet in be's table. */
struct srv_rt *gen_new_server(struct generation *g, struct pbackend *be, struct cfg_server *cs);
struct pbackend *gen_find_backend(const struct generation *g, const char *name);
struct frontend *gen_find_frontend(const struct generation *g, const char *name);
struct server *gen_find_server(const struct pbackend *be, const char *name);

/* tables.c: the stick tables of g (gen_build makes them), found by name
 * (a proxy's name; NULL when it has no table); a reload hands on those
 * whose layout stays (their entries survive) from old to g; freeing g
 * gives its references back. start/stop: worker 0's purge of expired
 * entries of the current generation's tables. */
void gen_build_tables(struct generation *g);
struct stktable *gen_find_table(const struct generation *g, const char *name);
void gen_carry_tables(struct generation *old, struct generation *g);
void gen_free_tables(struct generation *g);
void runtime_tables_start(struct runtime *rt);
void runtime_tables_stop(struct runtime *rt);

/* state_file.c: at start, servers take the state saved in the files named
 * by server-state-file / load-server-state-from-file (after their checks
 * started: the check counter is set too). */
void state_file_apply(struct generation *g);

/* events.c: what health checks tell the runtime, carried out on every
 * worker (closing sessions, moving queues). */
void runtime_events_init(struct runtime *rt);
/* A new server's part in them (its role-change timer). */
void runtime_server_events_init(struct srv_rt *x);
/* Starts x's warm-up timer (slowstart) when it warms up and the timer is
 * not running yet; the first tick comes at once. Worker 0. */
void runtime_warm_arm(struct srv_rt *x);

/* reload.c: reads the configuration files again and, when they hold no
 * error, builds a new generation and switches to it; sessions go on
 * untouched on the old one. Runs on worker 0. Returns 0 with a summary of
 * what changed in out, or -1 with the errors (path:line: message lines)
 * in out, the old configuration still serving. why: "SIGHUP", "stats
 * socket", ... for the log. */
int runtime_reload(struct runtime *rt, const char *why, char *out, size_t outlen);
/* A replaced generation is about to be freed (its last session ended):
 * what its objects counted since the reload goes to their successors in
 * the current one (worker 0: it writes worker 0's counter blocks). */
void reload_fold_retired(struct runtime *rt, struct generation *old);

/* ops.c: the runtime API (stats sockets, src/ops). Opens the sockets of
 * the configuration's "stats socket" lines on worker 0; returns 0, or -1
 * with err filled. */
int runtime_ops_start(struct runtime *rt, char *err, size_t errlen);
/* Closes them (process exit). */
void runtime_ops_stop(struct runtime *rt);
/* ops.c: the stats sockets follow a reload as the stats frontends do:
 * prepare opens those a new configuration c adds (nothing changes on
 * failure: -1 with err); commit: c (now rt->cfg) is in use. */
int runtime_ops_prepare(struct runtime *rt, const struct cfg *c, char *err, size_t errlen);
void runtime_ops_commit(struct runtime *rt);

/* stats_fe.c: the stats frontends' HTTP listeners (src/ops/http.c), on
 * worker 0 only. start: those of rt->cfg (0, or -1 with err filled).
 * prepare: opens the sockets a new configuration c adds (nothing changes
 * on failure: -1 with err); commit: c (now rt->cfg) serves; abort: the
 * reload failed later. */
int runtime_stats_fe_start(struct runtime *rt, char *err, size_t errlen);
int runtime_stats_fe_prepare(struct runtime *rt, const struct cfg *c, char *err, size_t errlen);
void runtime_stats_fe_commit(struct runtime *rt);
void runtime_stats_fe_abort(struct runtime *rt);
void runtime_stats_fe_stop_listening(struct runtime *rt);
void runtime_stats_fe_stop(struct runtime *rt);

/* threads.c: runs ws[1..] on their own threads until runtime_stop_threads. */
int runtime_start_threads(struct runtime *rt, char *err, size_t errlen);
/* Graceful stop (SIGUSR1) on every worker: listeners close, sessions finish. */
void runtime_stop_gracefully(struct runtime *rt);
/* Stops and joins the other threads; each closes its sessions first. */
void runtime_stop_threads(struct runtime *rt);

#endif
