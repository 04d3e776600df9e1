/* Servers and backends as the balancing algorithms see them: pure data, no
 * sockets. The runtime fills these from the configuration; health checks
 * and sessions change their state through the functions below. */
#ifndef FERRY_BALANCE_SERVER_H
#define FERRY_BALANCE_SERVER_H
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "balance/queue.h"
#include "config/model.h"
#include "core/counters.h"

struct backend;

#define SRV_F_BACKUP 0x1   /* used only when no active server is usable */
#define SRV_F_MAINT 0x2    /* "disabled" in the configuration, or added at run time and
                              not enabled yet (HAProxy's CMAINT) */
#define SRV_F_AGENT_DOWN 0x4  /* the agent said down/fail/stopped */
#define SRV_F_AGENT_MAINT 0x8 /* the agent said maint */
#define SRV_F_FMAINT 0x10  /* put in maintenance at run time (HAProxy's FMAINT) */
#define SRV_F_FDRAIN 0x20  /* drained at run time: no new connection, checks go on */
#define SRV_F_STOPPING 0x40 /* health forced to "stopping": up, but no new connection */
#define SRV_F_DYNAMIC 0x80 /* added at run time ("add server"): may be deleted */
#define SRV_F_DELETED 0x100 /* deleted at run time: only its last sessions hold it */
#define SRV_F_NOCHECK 0x200 /* its health check is disabled ("disable health") */
#define SRV_F_NOAGENT 0x400 /* its agent check is disabled ("disable agent") */

#define SRV_F_RMAINT 0x10000 /* no address from DNS (HAProxy's RMAINT, runtime/resolvers.c) */

/* In maintenance, whoever put it there. */
#define SRV_F_ANY_MAINT (SRV_F_MAINT | SRV_F_FMAINT | SRV_F_AGENT_MAINT | SRV_F_RMAINT)

#define SRV_O_SHUT_ON_DOWN 0x1        /* on-marked-down shutdown-sessions */
#define SRV_O_SHUT_BACKUP_ON_UP 0x2   /* on-marked-up shutdown-backup-sessions */
#define SRV_O_NON_STICK 0x4           /* non-stick: stick rules never store it */

struct server {
	char *name;
	int id;                    /* 1-based, declaration order */
	struct backend *be;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int port_omitted;          /* no port: use the client's destination port */
	struct sockaddr_storage src; /* "source": bound before connecting (traffic and checks) */
	socklen_t srclen;          /* 0: no source, the kernel's choice */
	unsigned addr_seq;         /* odd while "set server addr" rewrites the three above */
	unsigned flags;            /* SRV_F_* */
	unsigned opts;             /* SRV_O_* */
	unsigned pp_opts;          /* SRV_PP_* (config/model.h): the PROXY header it gets first */
	int up;                    /* health: 1 = UP (running), 0 = DOWN */
	int iweight;               /* weight from the configuration (0..256): HAProxy's "initial" */
	int uweight;               /* current weight, set at run time (set weight, agent N%) */
	int eweight;               /* effective weight used by the algorithms: uweight scaled
	                              by a replica's lag (lag_permille) */
	int lag_permille;          /* 1000 = no reduction (PostgreSQL lag weighting) */
	int maxconn, maxqueue;     /* 0 = unlimited */
	/* slowstart: a server coming back UP warms up (HAProxy's STARTING):
	 * its weight for the dynamic algorithms (srv_lbw) and its maxconn
	 * (srv_maxconn) grow from little to full over slowstart_ms */
	int64_t slowstart_ms;      /* 0: none */
	uint64_t warm_since_ms;    /* when the warm-up began; 0: not warming up */
	int warm_step;             /* 1..SRV_WSCALE-1 while warming up; 0: full */
	int warm_maxconn;          /* maxconn while warming up; 0: maxconn */
	/* observe layer4: connection outcomes seen by traffic (passive health) */
	int observe;               /* 1: observed */
	int error_limit;           /* consecutive errors that call on-error */
	int consec_errors;         /* atomic: connection errors since the last success */
	uint64_t hanafail;         /* atomic: times error_limit was reached (stats hanafail) */
	int cur_conns;             /* sessions holding one of its slots (maxconn counts these) */
	int cur_sess;              /* HAProxy's cur_sess: connecting to it or connected (atomic) */
	int max_conns_seen;
	struct queue q;            /* sessions that must go to this server, waiting for a slot */
	uint64_t last_change_ms;   /* when its state last changed (up/down, maintenance, drain);
	                              0: not since the start */
	uint64_t down_trans;       /* times it went DOWN (chkdown) */
	uint64_t down_time_ms;     /* time spent DOWN before the last change (downtime) */
	int64_t rr_current;        /* smooth roundrobin state */
	int64_t srr_current;       /* static-rr state */
	void *check;               /* owned by the health layer */
	void *agent;               /* owned by the health layer */
	struct counters *ctr;      /* one block per thread */
	struct counters *snap;     /* replaced by a reload: its totals carried then */
};

/* The weight scale of the dynamic algorithms, HAProxy's BE_WEIGHT_SCALE:
 * a warming server of weight 1 still has 16 steps. */
#define SRV_WSCALE 16

/* The weight roundrobin, leastconn, random and consistent hashing use:
 * eweight x SRV_WSCALE, less while the server warms up. */
static inline int srv_lbw(const struct server *s)
{
	return s->eweight * (s->warm_step ? s->warm_step : SRV_WSCALE);
}

/* Its connection limit now (0: none): maxconn, less while warming up. */
static inline int srv_maxconn(const struct server *s)
{
	return s->warm_maxconn ? s->warm_maxconn : s->maxconn;
}

struct lb_ops;

struct backend {
	char *name;
	int uuid;
	const struct cfg_proxy *cfg;
	struct server **srv;
	int nsrv;
	enum lb_algo algo;
	enum hash_type hash_type;
	int random_draws;
	int allbackups;
	const struct lb_ops *ops;
	void *lb;                  /* algorithm state, owned by ops */
	int lc_cursor;             /* leastconn tie rotation */
	uint64_t rng;              /* random state (xorshift64*) */
	uint32_t nonip_seq;        /* source: clients without an IP (unix) taken in turn (atomic) */
	int cur_conns;             /* beconn */
	struct queue q;            /* sessions that may go to any server, waiting for a slot */
	uint64_t qseq;             /* arrivals in any queue of the backend: orders them */
	int max_conns_seen;        /* smax (atomic) */
	struct counters *ctr;      /* one block per thread */
	struct counters *snap;     /* replaced by a reload: its totals carried then */
	/* HAProxy's backend state for the stats: UP while a server can take
	 * traffic (backend_note_state keeps these) */
	int was_usable;            /* 1 once backend_note_state saw a usable server */
	uint64_t last_change_ms;   /* when it last went UP or DOWN; 0: not since the start */
	uint64_t down_trans;       /* times it lost its last server (chkdown) */
	uint64_t down_time_ms;     /* time spent DOWN before the last change (downtime) */
	/* With nbthread, every thread picks from the same backend: whoever reads
	 * or changes the servers' state, counters, the algorithm's state or the
	 * queue holds this lock. The algorithms themselves never take it. */
	pthread_mutex_t lock;
};

static inline void backend_lock(struct backend *be)
{
	pthread_mutex_lock(&be->lock);
}

static inline void backend_unlock(struct backend *be)
{
	pthread_mutex_unlock(&be->lock);
}

/* Which servers a pick may choose from right now. */
enum lb_group { LB_GROUP_NONE, LB_GROUP_ACTIVE, LB_GROUP_BACKUP };

struct lb_ops {
	/* Returns a usable server of group g (and `only` when set) other than
	 * avoid, or NULL. It has a free slot (srv_full is false), except with
	 * the hash-based algorithms, which return the client's server whatever
	 * its load, and leastconn, which may return a full server whose
	 * maxqueue has room: the caller queues on it. key is the client address
	 * hash (source). */
	struct server *(*pick)(struct backend *be, uint32_t key, const struct server *avoid,
			       enum lb_group g, const struct server *only);
	/* Called after any server's state or weight changed. */
	void (*update)(struct backend *be);
	void (*free)(struct backend *be);
};

/* Picks a server with the backend's algorithm (see lb_ops.pick: it may be
 * full, and then the caller queues on it). NULL when no server can take a
 * connection now; *all_full tells whether usable servers exist but are all
 * full (so the caller may queue in the backend's queue). */
struct server *lb_pick(struct backend *be, uint32_t key, const struct server *avoid,
		       int *all_full);
int srv_usable(const struct server *s);
/* No slot for a newcomer: at its maxconn, or others wait in its queue. */
int srv_full(const struct server *s);
/* Whether a slot of s may go to a connection of the backend's queue (s is
 * usable and in the group picks come from now), as HAProxy's px_ok. */
int srv_takes_backend_queue(const struct backend *be, const struct server *s);
/* Hash-based algorithms (source): the client decides the server, so a full
 * server is waited for, never replaced. */
int lb_is_hash(const struct backend *be);
/* The group picks come from, and for LB_GROUP_BACKUP without allbackups,
 * the single backup server to use (*only). */
enum lb_group lb_group(const struct backend *be, const struct server **only);
/* Whether s belongs to the group picks come from now. */
int lb_in_group(const struct backend *be, const struct server *s, enum lb_group g,
		const struct server *only);
/* Candidate test shared by the algorithms: in group, usable, not full,
 * not the one to avoid. */
int lb_candidate(const struct backend *be, const struct server *s, enum lb_group g,
		 const struct server *only, const struct server *avoid);

void backend_init(struct backend *be, enum lb_algo algo, enum hash_type ht, int draws);
void backend_free_lb(struct backend *be);
void backend_update(struct backend *be);
/* Sets the health of s (1 UP, 0 DOWN) at now_ms (monotonic), counting the
 * DOWN transitions and the time spent DOWN for the stats. */
void server_set_up(struct server *s, int up, uint64_t now_ms);
/* After a change of its servers' state: whether be went DOWN (no server
 * can take traffic) or back UP, for the stats (chkdown, downtime, lastchg).
 * Backend lock held. */
void backend_note_state(struct backend *be, uint64_t now_ms);
/* Copies s's address (and whether its port is the client's), whole even
 * while another thread changes it: a sequence lock, so connecting takes no
 * lock. Returns its length. */
socklen_t server_copy_addr(const struct server *s, struct sockaddr_storage *out, int *port_omitted);
/* Changes s's address ("set server addr"); one writer at a time. */
void server_set_addr(struct server *s, const struct sockaddr_storage *ss, socklen_t len, int port_omitted);
/* Sets the current weight (uweight) and the effective one from it. */
void server_set_weight(struct server *s, int weight);
/* Sets the lag reduction (1000: none) and the effective weight from it. */
void server_set_lag_permille(struct server *s, int permille);
/* slowstart (lb_warm.c). server_warm_start: s came back UP (from DOWN or
 * maintenance) at now_ms: it warms up when it has a slowstart.
 * server_warm_update: recomputes its warm-up step and maxconn at now_ms
 * as HAProxy 2.6 (whole seconds); returns 1 while it still warms up (call
 * again within a second), 0 once at full weight. Backend lock held. */
void server_warm_start(struct server *s, uint64_t now_ms);
int server_warm_update(struct server *s, uint64_t now_ms);
/* HAProxy's throttle (stats): the percentage of its weight a warming
 * server has, -1 when it does not warm up. */
int server_throttle(const struct server *s);
/* observe layer4: one connection outcome seen by traffic (ok: 1 success,
 * 0 error), from any thread. Returns the consecutive error count when it
 * just reached error_limit (the count starts again), else 0. */
int server_observe_l4(struct server *s, int ok);

/* Counts servers that can take traffic: active and backup ones. */
void backend_count_usable(const struct backend *be, int *active, int *backup);
uint32_t lb_hash_addr(const struct sockaddr *sa);
uint32_t lb_hash32(uint32_t x);

extern const struct lb_ops lb_roundrobin_ops, lb_static_rr_ops, lb_leastconn_ops,
	lb_first_ops, lb_source_ops, lb_random_ops;

#endif
