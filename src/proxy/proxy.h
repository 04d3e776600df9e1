/* Live proxies: frontends with their listeners, backends with their queue,
 * sessions, and the per-thread worker that owns them. */
#ifndef FERRY_PROXY_PROXY_H
#define FERRY_PROXY_PROXY_H
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "balance/server.h"
#include "config/model.h"
#include "core/dlist.h"
#include "core/ratectr.h"
#include "core/log.h"
#include "event/loop.h"
#include "proxy/bufpool.h"
#include "proxy/pipepool.h"
#include "rules/track.h"

struct worker;
struct session;
struct px_rules;

/* A reference count on the configuration generation a frontend belongs
 * to (runtime/generation.c). Sessions and workers hold one; the last to
 * let go calls release (on its own thread), which frees the generation. */
struct genref {
	int refs;                      /* atomic */
	void (*release)(struct genref *g, struct worker *w);
};

static inline void genref_get(struct genref *g)
{
	__atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
}

static inline void genref_put(struct genref *g, struct worker *w)
{
	if (__atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) == 0)
		g->release(g, w);
}

/* The log targets one proxy writes to: its own, plus global ones with "log global". */
struct log_set {
	const struct log_targets *own;
	const struct log_targets *global;
};

struct pbackend {
	struct backend lb;             /* first: a struct backend * is a struct pbackend * */
	const struct cfg_proxy *cfg;
	const struct px_rules *rules;  /* use-server and stick rules (rules/rules.h), NULL: none */
	int retries;
	int redispatch;                /* 0 = off, else cfg redispatch_interval */
	unsigned options;
	int64_t to_connect, to_server, to_tunnel, to_server_fin, to_queue;
	int64_t wait_for_server;       /* ms; 0: no usable server closes the client at once */
	struct log_set logs;
};

struct listener {
	struct io io;
	struct frontend *fe;
	int accept_proxy;              /* bind ... accept-proxy */
	int luid;                      /* HAProxy's listener id: 1 + its position in the frontend */
	struct worker *w;
	struct listener *next;         /* all listeners of the worker */
	struct sockaddr_storage addr;
	int backlog;                   /* listen()'s, again when it resumes */
	int paused;                    /* "disable frontend": not listening (shutdown) */
	struct defer_node defer;       /* freed after the current batch of events */
};

#define FE_PAUSED 1                /* "disable frontend": new connections are refused */
#define FE_STOPPED 2               /* "shutdown frontend": its listeners are closed */

struct frontend {
	char *name;
	int uuid;                      /* HAProxy's iid: position among all proxies */
	const struct cfg_proxy *cfg;
	struct genref *gen;            /* the generation it belongs to */
	struct pbackend *be;           /* NULL: connections are closed at once */
	const struct px_rules *rules;  /* its compiled rules (rules/rules.h), NULL: none */
	struct pbackend *const *bes;   /* the generation's backends, in configuration order */
	struct backend *const *lbs;    /* the same, as the rules see them (&bes[i]->lb) */
	int nbe;
	struct stktable *const *tables; /* the generation's stick tables (rules' ctx->tables) */
	int ntables;
	int cur_conns, maxconn;        /* cur_conns: atomic (every thread) */
	int max_conns_seen;            /* smax (atomic) */
	int disabled;                  /* FE_PAUSED, FE_STOPPED or 0 (atomic) */
	unsigned sps_lim;              /* "rate-limit sessions": a second; 0 = none */
	struct rate_ctr sess_rate;     /* its sessions, for that limit (every thread) */
	const struct logfmt *lf;       /* its compiled log-format (NULL: option tcplog or none) */
	unsigned lf_uses;              /* what lf reads (LF_USE_*, rules/logformat.h) */
	unsigned log_count;            /* %lc: lines it logged with lf (atomic) */
	unsigned options;
	int64_t to_client, to_client_fin;
	struct log_set logs;
	struct counters *ctr;          /* one block per thread */
	struct counters *snap;         /* replaced by a reload: its totals carried then */
};

/* What the threads share: the global connection count and limit. */
struct process {
	int actconn;                   /* every thread's sessions (atomic) */
	int maxconn;
	int npipes;                    /* splice pipes in existence, pooled ones too (atomic) */
	int maxpipes;                  /* their budget: each holds two descriptors */
	unsigned cps_lim, sps_lim;     /* maxconnrate, maxsessrate (0: none) */
	struct rate_ctr conn_rate;     /* connections accepted, every thread (for cps_lim) */
	struct rate_ctr sess_rate;     /* sessions started, every thread (for sps_lim) */
	unsigned req_count;            /* %rt: sessions numbered by a log-format (atomic) */
	int nworkers;
	struct worker **workers;
	/* observe layer4: a server's traffic saw error-limit connection errors
	 * in a row (session.c); the runtime has its check apply on-error. */
	void (*on_observed)(struct worker *w, struct genref *gen, struct server *srv, int errors);
	/* Every worker's listening sockets, for a binary upgrade that passes
	 * them to the next process (runtime/upgrade.c): changed only when a
	 * listener is adopted or closed, under the lock. */
	pthread_mutex_t lsock_lock;
	int *lsock;
	int nlsock;
};

/* Copies the listening sockets' descriptors into a new array (caller frees)
 * and holds the registry's lock so none is closed meanwhile; release with
 * listeners_registry_unlock. Returns how many, or -1 (out of memory). */
int listeners_registry_lock(struct process *p, int **fds);
void listeners_registry_unlock(struct process *p);

/* A function another thread asked this worker to run (see worker.c). */
struct wmsg {
	struct wmsg *next;
	void (*fn)(struct worker *w, const void *arg);
	char arg[];
};

/* One per thread: its event loop, its own listening sockets (SO_REUSEPORT),
 * pools and sessions. A session never leaves the worker that accepted it;
 * other threads reach a worker only through its inbox. */
struct worker {
	struct loop loop;
	int id;                        /* 0: the thread that also runs checks and signals */
	struct process *proc;
	int actconn;                   /* this worker's sessions */
	struct listener *listeners;
	int listeners_paused;          /* some listener is not accepting (atomic: others read it) */
	int resume_asked;              /* another thread asked it to look again (atomic) */
	int fd_exhausted;              /* accept() hit the fd limit: wait a little */
	struct genref *gen;            /* the generation its listeners serve */
	struct timer resume_timer;
	struct timer rate_timer;       /* a rate limit paused a listener: look again then */
	int stopping;                  /* graceful stop: listeners closed */
	struct bufpool pool;
	struct pipepool pipes;
	uint64_t cum_conns;            /* its sessions since start (ctr_add: others read it) */
	struct session *sessions;      /* every live session */
	/* inbox: queued sessions given a server by another thread, and calls */
	pthread_mutex_t in_lock;
	struct session *in_head, *in_tail;
	struct wmsg *msg_head, *msg_tail;
	struct io wake;                /* eventfd: something arrived */
	struct dlist cancels;          /* CancelRequests being sent (struct pgcancel, pgcancel.c) */
	struct dlist refusals;         /* readable refusals after an SSLRequest (struct pgrefuse, pgrefuse.c) */
};

/* How a queued session left its queue (s->handoff) */
#define HANDOFF_SERVER 1          /* given a slot of s->handed */
#define HANDOFF_NOSERVER 2        /* no usable server left: to be closed */
#define HANDOFF_REASSIGN 3        /* its server went down: choose again */

/* Session states */
enum sess_state { SESS_QUEUED, SESS_CONNECTING, SESS_TURNAROUND, SESS_ESTABLISHED, SESS_CLOSED,
		  SESS_HANDSHAKE,   /* reading the PROXY header (inspect.c) */
		  SESS_INSPECT,     /* tcp-request content rules over the first bytes (inspect.c) */
		  SESS_PGFIRST,     /* reading a PostgreSQL client's first message (pgedge.c) */
		  SESS_PGSSL,       /* waiting for the server's answer to ferry's SSLRequest (pgedge.c) */
		  SESS_PGCANCEL };  /* a CancelRequest's client, until its cancels have ended (pgedge.c) */

#define SF_EOF0 0x01      /* client sent FIN (no more client→server data) */
#define SF_EOF1 0x02      /* server sent FIN */
#define SF_SHUT0 0x04     /* FIN forwarded to the server */
#define SF_SHUT1 0x08     /* FIN forwarded to the client */
#define SF_CLAIM 0x10     /* holds one of its server's connection slots */
#define SF_REDISP 0x20    /* was redispatched to another server */
#define SF_FE_COUNTED 0x40 /* counted in frontend/worker/backend totals */
#define SF_BULK0 0x80     /* client→server moves bulk data: splice it */
#define SF_BULK1 0x100    /* server→client moves bulk data: splice it */
#define SF_RDHUP0 0x200   /* epoll saw the client's FIN: a short read is the end */
#define SF_RDHUP1 0x400   /* epoll saw the server's FIN */
#define SF_URG0 0x800     /* urgent data from the client: a short read is not the end */
#define SF_URG1 0x1000    /* urgent data from the server */
#define SF_CURR_SESS 0x2000 /* counted in its server's cur_sess (connecting or connected) */
#define SF_NOLOG 0x4000   /* logged already (a refused PROXY header): no tcplog line */
#define SF_BE_COUNTED 0x8000 /* counted in its backend's cur_conns */

/* Both sockets of a session are registered once, edge-triggered, with
 * these (relay.c). EPOLLPRI tells that urgent data arrived. */
#define RELAY_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET)

struct session {
	struct io cli, srv;
	struct timer timer;
	struct defer_node defer;
	struct worker *w;
	struct genref *gen;            /* the configuration generation it started on */
	struct frontend *fe;
	struct pbackend *be;
	struct counters *cf, *cb, *cs; /* this thread's blocks of fe, be and server counters */
	struct server *server;         /* the one it connects to; when queued, the one it waits for (or NULL) */
	struct server *forced;         /* chosen by a use-server or stick rule: the first pick, instead of the algorithm */
	struct track_set trk;          /* tracked stick counters (rules/track.h), given back in session_close */
	struct stick_state *stk;       /* stick store keys waiting for a connected server; NULL: none */
	struct qnode qn;               /* in its server's or its backend's queue (backend lock) */
	struct server *handed;         /* HANDOFF_SERVER: the server it was given */
	struct session *inext;         /* in its worker's inbox */
	uint8_t handoff;               /* left the queue: HANDOFF_* (backend lock) */
	struct session *prev, *next;       /* all sessions of the worker */
	struct rbuf *buf[2];           /* [0] client→server, [1] server→client */
	struct rpipe *pipe[2];         /* the same directions when splicing */
	uint8_t state;
	uint16_t flags;
	char term[2];                  /* termination state for the log */
	int retries;                   /* connection retries done */
	int sq_pos, bq_pos;            /* HAProxy's %sq / %bq: 0, or 1 + who left that queue first */
	int32_t tw, tc;                /* queue and connect times, ms, -1 = none */
	uint64_t t_accept, t_phase;    /* monotonic ms: accept, start of phase */
	uint64_t last_act[2];          /* last I/O on [0] client side, [1] server side */
	uint64_t bytes[2];             /* [0] client→server, [1] server→client */
	struct timespec accept_date;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} cli_addr, dst_addr, bk_addr; /* with a PROXY header (PROXY command), cli/dst are the header's;
	                                 bk_addr: the server connection's own (%bi), for log-format */
	struct pp_hold *pp;            /* the PROXY header received, NULL: none (inspect.c) */
	uint8_t *req_seen;             /* the bytes its content rules decided on, kept for a
	                                  log-format reading them (%[req.ssl_sni]); NULL: none */
	uint32_t req_seen_len;
	uint32_t pp_seen;              /* bytes of an incomplete header seen so far */
	uint16_t luid;                 /* its listener's number in the frontend (HAProxy's luid) */
	struct pgsess *pg;             /* a PostgreSQL frontend's session (pgedge.h), NULL: other */
};

/* worker.c */
int worker_init(struct worker *w, struct process *proc, int id);
void worker_destroy(struct worker *w);
/* Runs fn(target, copy of arg) on target's thread: at once when target is
 * the calling thread's worker (self), else through target's inbox. */
void worker_call(struct worker *self, struct worker *target,
		 void (*fn)(struct worker *w, const void *arg), const void *arg, size_t len);
/* worker_call on every worker. */
void workers_call(struct worker *self, void (*fn)(struct worker *w, const void *arg),
		  const void *arg, size_t len);
/* Puts a queued session given a server by another thread into its worker's
 * inbox. Called with the backend lock held. */
void worker_handoff(struct session *s);
/* Takes s out of its worker's inbox if it is there (closing it). */
void worker_handoff_cancel(struct session *s);
/* A session ended: wakes the workers whose listeners wait for a free slot. */
void workers_slot_freed(struct worker *self);
/* The process's connection count, all threads together. */
static inline int proc_actconn(const struct process *p)
{
	return __atomic_load_n(&p->actconn, __ATOMIC_RELAXED);
}

/* listener.c */
void listener_worker_init(struct worker *w);
/* Opens the sockets of one bind address (each port of a range); returns 0
 * or -1 with err filled. */
int listener_open(struct worker *w, struct frontend *fe, const struct cfg_bind *b,
		  const struct addr_spec *a, char *err, size_t errlen);
/* A listening socket for fe's bind line b at ss (any thread may open it):
 * returns the fd, or -1 with err filled. */
int listener_socket(const struct frontend *fe, const struct cfg_bind *b,
		    const struct sockaddr_storage *ss, char *err, size_t errlen);
/* Readies the socket a bind's fd@N names (opened by the parent process):
 * listening (listen() when it is only bound, as HAProxy does),
 * non-blocking, with the options listener_socket sets. Returns 0 or -1
 * with err filled. Workers share it: each adopts fd or a dup of it. */
int listener_inherit(const struct frontend *fe, const struct cfg_bind *b, int fd,
		     char *err, size_t errlen);
/* Makes an open listening socket one of w's listeners, accepting for fe.
 * On w's own thread (or before the threads start). Returns 0 or -1. */
int listener_adopt(struct worker *w, struct frontend *fe, const struct cfg_bind *b, int fd,
		   const struct sockaddr_storage *ss);
/* A kept listener moved to a reloaded configuration's frontend fe (bind b);
 * one paused by "disable frontend" listens again. */
void listener_move(struct listener *li, struct frontend *fe, const struct cfg_bind *b);
/* Closes one of w's listeners (its memory goes after the event batch). */
void listener_close_one(struct worker *w, struct listener *li);
/* Reserves one connection slot of the process and of fe before accept();
 * returns 1 when both were taken, 0 when a limit is reached (or w stops). */
int listener_slot_reserve(struct worker *w, struct frontend *fe);
/* Gives back a slot reserved for a connection that did not become a
 * session, waking any thread that paused its listeners meanwhile. */
void listener_slot_release(struct worker *w, struct frontend *fe);
/* Starts or stops accepting on every listener according to the limits. */
void listeners_update(struct worker *w);
void listeners_close(struct worker *w);
/* "disable frontend" / "enable frontend" on this worker: its sockets of fe
 * stop listening (clients are refused, as HAProxy's paused listeners) or
 * listen again. Returns how many changed; -1 when one could not listen. */
int listeners_pause_frontend(struct worker *w, const struct frontend *fe, int pause);
/* "shutdown frontend": closes this worker's sockets of fe. */
void listeners_close_frontend(struct worker *w, const struct frontend *fe);

/* session.c */
/* Starts a session for an accepted client fd whose process and frontend
 * slots the caller reserved. Returns 0 (the session owns fd and the slots
 * from then on), or -1 when it could not be allocated: the caller still
 * owns both. */
int session_start(struct worker *w, struct listener *li, int fd,
		  const struct sockaddr *sa, socklen_t salen);
/* After the connection rules and the PROXY header: the backend and server
 * choice over the request bytes req[0..len) (final), then connecting
 * (session.c). */
void session_dispatch(struct session *s, const uint8_t *req, size_t len);
struct rule_ctx;
/* The rules' view of s (its addresses, frontend, PROXY header), with no
 * request bytes, final. */
void session_rule_ctx(struct session *s, struct rule_ctx *c);
/* Writes the PROXY header s's server is to get first (send-proxy,
 * send-proxy-v2) into out; returns its length, 0 when none is due or cap is
 * too small (PP_BUILD_MAX is enough). */
size_t session_proxy_header(struct session *s, uint8_t *out, size_t cap);
/* The hook the content-inspection phase calls again: chooses s's backend
 * with the frontend's use_backend rules (its default_backend when none
 * matches) and a server with that backend's use-server rules (s->forced),
 * seeing req[0..len) as the request bytes so far, final when no more will
 * be waited for. session_start calls it at accept with no bytes, final.
 * Returns RULE_PASS/RULE_FAIL (decided: s->be set, maybe NULL when there
 * is no backend at all) or RULE_MISS (a rule needs more bytes: nothing
 * changed; only when !final). */
int session_route(struct session *s, const uint8_t *req, size_t len, int final);
/* Fills s->dst_addr (the address the client connected to) on first use. */
void session_dst_addr(struct session *s);
/* Closes the session with termination state term ("--", "CD", ...). */
void session_close(struct session *s, const char *term);
/* observe layer4: one connection outcome of its server (1 success, 0 error). */
void session_observe(struct session *s, int ok);
/* Closes every session of the worker (process stop). */
void sessions_close_all(struct worker *w, const char *term);
/* Closes the sessions using srv (on-marked-down, role changes), or with
 * srv NULL, those using a backup server of be (on-marked-up). Returns how
 * many were closed. */
int sessions_close_server(struct worker *w, const struct server *srv,
			  const struct backend *be, const char *term);
/* The server connection is given up (closed or retried elsewhere): the
 * slot goes to whoever waits for it. Backend lock held. */
void session_release_server(struct session *s, struct session ***mine);
/* s goes to srv: its per-server counters (session.c). */
void session_counts_server(struct session *s, struct server *srv);
/* Connects s to a server it was given (queue.c), or assigns it again. */
void session_connect_assigned(struct session *s);
void session_assign(struct session *s, const struct server *avoid);

/* queue.c: waiting for a server's connection slot, as HAProxy's queues. */
/* Puts s in srv's queue (srv: the algorithm chose it and it is full) or,
 * with srv NULL, in the backend's (every server was full). Backend lock held. */
void queue_session(struct session *s, struct server *srv);
/* Takes s out of its queue when it leaves without a slot (timeout, client
 * gone), and out of its worker's inbox when a slot was on its way. Returns
 * the server whose slot it was given, to offer again, or NULL. Backend
 * lock held. */
struct server *unqueue_session(struct session *s);
/* Gives srv's free slots to the oldest sessions of its queue and of the
 * backend's. Sessions of self are added to *mine (run them with
 * sessions_run_handed once the lock is released); others go to their
 * worker's inbox. Returns how many got a slot. Backend lock held. */
int server_dequeue(struct worker *self, struct pbackend *be, struct server *srv,
		   struct session ***mine);
void sessions_run_handed(struct session *mine);
/* After a change of servers' state, weight or maxconn: gives free slots to
 * waiting sessions, sends the sessions waiting for a server that is gone
 * elsewhere (option redispatch, or maintenance, as HAProxy), and closes
 * those of the backend's queue when no server is left at all. Returns how
 * many sessions left a queue. */
int backend_dequeue(struct worker *self, struct pbackend *be);
/* Runs a session that left its queue (its worker's inbox, or *mine). */
void session_handed(struct session *s);

/* inspect.c: the PROXY header (accept-proxy, expect-proxy) and content
 * inspection (tcp-request content, inspect-delay). */
struct pp_info;
void session_handshake_start(struct session *s);
void session_handshake_timeout(struct session *s);
/* The header is read (or none was expected): content inspection when the
 * frontend's rules read request bytes, else session_dispatch at once. */
void session_after_handshake(struct session *s);
void session_inspect_timeout(struct session *s);
/* Content inspection of what buf[0] holds and what follows, for up to
 * delay ms (0: the rules see once what is there). */
void session_inspect_begin(struct session *s, int64_t delay);
/* Reads what the client sent into buf[0], up to its size: 0, or -1 when
 * the session was closed. */
int session_read_request(struct session *s);
/* Notes what a client event said (its FIN, urgent data) for later phases. */
void session_note_edges(struct session *s, uint32_t ev);
/* The client's callback between the rules and the relay: notes edges only. */
void session_waiting_cli_io(struct loop *l, struct io *io, uint32_t ev);
const struct pp_info *session_pp(const struct session *s);
void session_pp_free(struct session *s);

/* relay.c */
/* The server connection is up: relay. srv_events: the event that said so. */
void relay_start(struct session *s, uint32_t srv_events);
void relay_cli_io(struct loop *l, struct io *io, uint32_t ev);
/* Recomputes the inactivity deadline; closes the session when it passed. */
void relay_timeout(struct session *s);

/* tcplog.c */
void session_log(const struct session *s);
/* Before s's sockets close: keeps what its log-format will print and can
 * only be read from them (%fi/%fp, %bi/%bp). */
void session_log_prepare(struct session *s);
void session_log_connect(struct session *s);
void log_set_send(const struct log_set *ls, int level, const char *line);
/* HAProxy's line for a connection that never became a stream (a refused
 * PROXY header): "ip:port [date] fe/luid: msg". */
void session_log_handshake(const struct session *s, const char *msg);
/* A line for what a connection did instead of being a stream (a
 * PostgreSQL cancel): "ip:port [date] fe msg". */
void session_log_event(const struct session *s, const char *msg);

#endif
