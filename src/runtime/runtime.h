/* The configuration turned into live objects: backends with servers,
 * frontends with listeners, health checks; and the process limits. */
#ifndef FERRY_RUNTIME_RUNTIME_H
#define FERRY_RUNTIME_RUNTIME_H
#include "config/model.h"
#include "health/check.h"
#include "proxy/proxy.h"

struct role_grace;
struct agent;

struct runtime {
	struct cfg *cfg;
	struct process proc;
	struct worker *ws;         /* nbthread workers; ws[0] also runs checks and signals */
	int nw;
	pthread_t *threads;        /* ws[1..nw-1] */
	struct frontend *fes;
	int nfe;
	struct pbackend **bes;
	int nbe;
	struct check *checks;
	struct role_grace *graces;  /* one per check: closing sessions after a role change */
	int nchecks;
	struct agent *agents;
	int nagents;
	struct check_env cenv;
	int maxconn;
	int maxpipes;
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
/* Builds everything from rt->cfg. Returns 0, or -1 with err filled (the
 * caller then calls runtime_destroy). */
int runtime_build(struct runtime *rt, char *err, size_t errlen);
void runtime_destroy(struct runtime *rt);

/* threads.c: runs ws[1..] on their own threads until runtime_stop_threads. */
int runtime_start_threads(struct runtime *rt, char *err, size_t errlen);
/* Graceful stop (SIGUSR1) on every worker: listeners close, sessions finish. */
void runtime_stop_gracefully(struct runtime *rt);
/* Stops and joins the other threads; each closes its sessions first. */
void runtime_stop_threads(struct runtime *rt);

#endif
