/* The configuration as plain data: what the parser produces and the runtime
 * is built from. Every element remembers the file and line it came from. */
#ifndef FERRY_CONFIG_MODEL_H
#define FERRY_CONFIG_MODEL_H
#include <stdint.h>
#include <stdio.h>

#include "core/addr.h"
#include "core/log.h"
#include "core/stkdata.h"
#include "config/resolvers.h"

enum lb_algo { LB_ROUNDROBIN, LB_STATIC_RR, LB_LEASTCONN, LB_FIRST, LB_SOURCE, LB_RANDOM };
enum hash_type { HASH_MAP, HASH_CONSISTENT };

/* All durations in ms; 0 means "not set" (HAProxy: no timeout). */
struct cfg_timeouts {
	int64_t connect, client, server, tunnel, client_fin, server_fin, check, queue;
	int64_t http_request;     /* stats frontend: the whole request must come within it */
};

/* One tcp-check rule (also what option pgsql-check, redis-check, ... expand to). */
enum tcr_kind { TCR_CONNECT, TCR_SEND, TCR_EXPECT, TCR_COMMENT };
enum tcr_match {
	TCRM_STRING, TCRM_RSTRING, TCRM_BINARY, TCRM_RBINARY,
	TCRM_CUSTOM,              /* a protocol's own parser, chosen by TCR_F_MYSQL_* / TCR_F_LDAP_BIND */
	TCRM_STATUS,              /* http-check: the status code is in one of http->codes */
	TCRM_RSTATUS,             /* http-check: the regex matches the status code's digits */
	TCRM_HDR,                 /* http-check: a response header (http->hname, ->hvalue) */
};

/* What HAProxy's option xxx-check rulesets do beyond plain tcp-check rules. */
#define TCR_F_PG_ERROR 0x1    /* expect: on error, info is the ErrorResponse's severity */
#define TCR_F_MYSQL_INIT 0x2  /* custom expect: a MySQL greeting (its version on success) */
#define TCR_F_MYSQL_OK 0x4    /* custom expect: the packet after the greeting (OK or ERR) */
#define TCR_F_LDAP_BIND 0x8   /* custom expect: an LDAPv3 BindResponse (resultCode 0) */
#define TCR_F_INFO_LINE 0x10  /* expect: on error, info is the reply's first line */
#define TCR_F_SMTP 0x20       /* expect: info is the reply's text, code its 3 digits */
#define TCR_F_HELLO_TIME 0x40 /* send: bytes 11-14 are the current Unix time (ssl-hello-chk) */
#define TCR_F_PROTO 0x80      /* built by an option xxx-check, not written as tcp-check rules */

/* What an http-check rule has beyond a tcp-check rule (parse_httpchk.c). */
enum httpchk_m { HM_NONE, HM_STR, HM_BEG, HM_END, HM_SUB, HM_REG }; /* hdr -m methods */
struct tcr_http {
	/* send: NULL when not written (HAProxy's defaults apply) */
	char *meth, *uri, *ver, *body;
	char **hdrs;              /* name, value, name, value, ... */
	int nhdrs;                /* pairs */
	int from_opt;             /* the request of "option httpchk", not an "http-check send" */
	/* expect status: ranges [lo, hi] */
	int (*codes)[2];
	int ncodes;
	/* expect hdr/fhdr */
	char *hname, *hvalue;
	enum httpchk_m hname_m, hvalue_m; /* hvalue_m HM_NONE: the name is enough */
	int full;                 /* fhdr: the whole value, commas included */
	struct rx *hname_re, *hvalue_re;
};

struct tcr {
	enum tcr_kind kind;
	const char *file;
	int line;
	/* connect */
	int port;                 /* 0 = the server's check port */
	struct addr_spec addr;
	int has_addr, linger;
	int dflt;                 /* "connect default": the server's check options apply
	                             (check-send-proxy, and send-proxy without a check port) */
	int send_proxy;           /* send-proxy: a PROXY header first, of the server's version */
	/* send: data; expect: the pattern (bytes for binary, source for regexes) */
	unsigned char *data;
	size_t len;
	/* expect */
	enum tcr_match match;
	int negate;
	int min_recv;             /* -1 = not set */
	const char *ok_status, *err_status, *tout_status; /* static strings */
	char *on_error, *on_success;
	unsigned flags;           /* TCR_F_* */
	char *comment;
	struct rx *re;            /* rstring/rbinary: compiled once by the parser (core/regex.h) */
	struct tcr_http *http;    /* http-check rules only */
};

struct tcr_list {
	struct tcr *v;
	int n;
};

/* option pgsql-check with ferry's words: a real login through libpq. */
enum pg_role { PG_ROLE_ANY, PG_ROLE_PRIMARY, PG_ROLE_REPLICA };

struct cfg_pgcheck {
	char *user, *password, *dbname, *sslmode;
	enum pg_role role;
	int64_t max_lag_bytes;    /* 0 = no limit in bytes */
	int64_t max_lag_ms;       /* 0 = no limit in time */
};

enum check_type {
	CHK_CONNECT,   /* plain TCP connect (the default for "check") */
	CHK_TCPCHECK,  /* tcp-check rules (option tcp-check, redis-check, ...) */
	CHK_PGSQL,     /* ferry's role-aware PostgreSQL check through libpq */
	CHK_HTTP,      /* option httpchk: the http-check rules (hrules) */
};

#define HTTPCHK_F_404 0x1      /* http-check disable-on-404 */
#define HTTPCHK_F_SENDSTATE 0x2 /* http-check send-state */
#define HTTPCHK_F_UNUSED 0x4   /* http-check rules written while the check was not httpchk */

/* Options shared by "server" and "default-server". -1 means "not set". */
struct cfg_srv_opts {
	int weight;          /* 0..256 */
	int maxconn;         /* 0 = unlimited */
	int maxqueue;        /* 0 = unlimited */
	int check;           /* health checks enabled */
	int64_t inter, fastinter, downinter;
	int rise, fall;
	int check_port;      /* 0 = the server's port */
	char *check_addr;    /* NULL = the server's address */
	int backup, disabled;
	int agent_check;     /* agent-check */
	int agent_port;
	int64_t agent_inter; /* 0 = inter */
	char *agent_send;
	int shutdown_on_down;        /* on-marked-down shutdown-sessions */
	int shutdown_backup_on_up;   /* on-marked-up shutdown-backup-sessions */
	struct addr_spec source; /* "source ADDR[:PORT]": bound before connecting */
	int has_source;
	int http_cookie;     /* "cookie X": HTTP-only, ignored with HAProxy's warning */
	int http_redir;      /* "redir PREFIX": HTTP-only, refused as HAProxy does */
	unsigned pp_opts;    /* SRV_PP_*: send-proxy, send-proxy-v2, proxy-v2-options */
	int check_send_proxy; /* check-send-proxy (no-check-send-proxy: 0) */
	int non_stick;       /* non-stick (stick: 0): never stored by stick rules */
	struct cfg_srv_dns dns; /* resolvers, resolve-*, init-addr (config/resolvers.h) */
	int observe;         /* observe layer4: traffic's connection outcomes count (passive health) */
	int error_limit;     /* error-limit: consecutive errors that trigger on-error (10) */
	int on_error;        /* on-error: SRV_ONERR_* (fail-check) */
	int64_t slowstart;   /* slowstart, ms (0: none) */
};

/* on-error: what error-limit consecutive errors seen by traffic do (HAProxy's HANA_ONERR_*). */
#define SRV_ONERR_FASTINTER 1    /* the next check comes within fastinter */
#define SRV_ONERR_FAIL_CHECK 2   /* as one failed check (and fastinter) */
#define SRV_ONERR_SUDDEN_DEATH 3 /* as fall-1 failed checks, then one: the next failure takes it down */
#define SRV_ONERR_MARK_DOWN 4    /* DOWN at once */

/* The PROXY protocol header a server gets first (HAProxy's pp_opts). V2
 * wins when both versions are set, as in HAProxy. */
#define SRV_PP_V1 0x01        /* send-proxy */
#define SRV_PP_V2 0x02        /* send-proxy-v2 */
#define SRV_PP_CRC32C 0x04    /* proxy-v2-options crc32c */
#define SRV_PP_AUTHORITY 0x08 /* proxy-v2-options authority */
#define SRV_PP_UNIQUE_ID 0x10 /* proxy-v2-options unique-id */
#define SRV_PP_SSL 0x20       /* proxy-v2-options ssl (and cert-*, ssl-cipher): an SSL TLV */

struct cfg_server {
	struct cfg_server *next;
	char *fqdn;              /* a host name or SRV label resolved at run time with
	                            "resolvers" (NULL: none), lower case */
	int no_addr;             /* starts without an address (init-addr none, a SRV label) */
	int tmpl;                /* made by "server-template" */
	struct cfg_srv_last last; /* init-addr last (parse_resolvers.c) */
	char *name;
	const char *file;
	int line;
	int id;                  /* 1-based position in its backend */
	char *addr_text;
	struct addr_spec addr;   /* resolved at parse time */
	struct addr_spec check_addr;
	int has_check_addr;
	struct cfg_srv_opts o;   /* with defaults applied after parsing */
};

struct cfg_bind {
	struct cfg_bind *next;
	const char *file;
	int line;
	char *text;
	int naddr;
	struct addr_spec *addrs; /* one per address (each may be a port range) */
	int backlog;             /* 0 = the proxy's backlog or maxconn */
	int v4v6, v6only;
	int accept_proxy;        /* accept-proxy: a PROXY header (v1 or v2) comes first */
	int ux_mode;             /* unix socket file's permissions; -1: the umask's */
	long ux_uid, ux_gid;     /* unix socket file's owner; -1: ferry's */
};

#define PX_CAP_FE 0x1  /* accepts connections */
#define PX_CAP_BE 0x2  /* has servers */
#define PX_CAP_DEF 0x4 /* a defaults section */

#define PXO_REDISPATCH 0x01  /* retry on another server */
#define PXO_ALLBACKUPS 0x02  /* use all backups at once, not only the first */
#define PXO_TCPLOG 0x04      /* one tcplog line per connection */
#define PXO_DONTLOGNULL 0x08 /* no log line for connections without data */
#define PXO_CLITCPKA 0x10    /* SO_KEEPALIVE on the client side */
#define PXO_SRVTCPKA 0x20    /* SO_KEEPALIVE on the server side */
#define PXO_LOGHCHK 0x40     /* option log-health-checks */
#define PXO_PGSQL 0x80       /* option pgsql: the frontend speaks PostgreSQL (proxy/pgedge.h) */

/* struct cfg_net (an address block of "stats admin if { src ... }" and of
 * resolve-net) is in config/resolvers.h. */

/* One "stats admin if|unless COND" rule, with the conditions ferry reads
 * literally (ACLs are not supported yet): { src ADDR[/MASK] ... }, TRUE,
 * FALSE, LOCALHOST (127.0.0.0/8 and ::1, HAProxy's predefined ACL). */
struct cfg_stats_admin {
	int unless;                /* the rule applies when the condition is false */
	int always;                /* TRUE, or FALSE when nnets == 0 and !localhost */
	struct cfg_net *nets;      /* src blocks (LOCALHOST adds its two) */
	int nnets;
};

#define STATS_F_HIDEVER 0x1    /* stats hide-version */
#define STATS_F_LEGENDS 0x2    /* stats show-legends */
#define STATS_F_NODE 0x4       /* stats show-node */
#define STATS_F_DESC 0x8       /* stats show-desc */

/* The "stats" lines of a proxy (HAProxy's uri_auth): the statistics page
 * a "mode http" stats frontend serves. Inherited from defaults whole, and
 * replaced whole by the first "stats" line of the proxy, as HAProxy does. */
struct cfg_stats {
	const char *file;
	int line;                  /* the first "stats" line */
	char *uri;                 /* prefix; "/haproxy?stats" unless set */
	char *realm;               /* NULL: "HAProxy Statistics" */
	int64_t refresh_ms;        /* 0: no refresh */
	char **auth;               /* "user:password", as written */
	int nauth;
	struct cfg_stats_admin *admin;
	int nadmin;
	unsigned flags;            /* STATS_F_* */
	char *node, *desc;         /* show-node / show-desc values (NULL: none) */
};

/* An HTTP-only line that HAProxy 2.6 accepts in a TCP proxy and ignores
 * with a warning (config/parse_http.c): remembered with where it was written
 * so that validation warns once per proxy that has it, in HAProxy's order,
 * also for lines a defaults section passes on. */
enum ign_kind {
	IGN_COOKIE,        /* cookie NAME ... */
	IGN_MONITOR_URI,   /* monitor-uri URI */
	IGN_L7_HASH,       /* balance uri|url_param|hdr(): round robin instead */
	IGN_HTTPLOG,       /* option httplog|httpslog: option tcplog instead */
	IGN_CAPTURE,       /* capture cookie */
	IGN_HTTP_REQ,      /* http-request rules */
	IGN_HTTP_RES,      /* http-response rules */
	IGN_HTTP_AFTER,    /* http-after-response rules */
	IGN_REDIRECT,      /* redirect rules */
	IGN_OPTION,        /* option forwardfor, originalto, checkcache, ... */
	IGN_KINDS
};

struct cfg_ignored {
	enum ign_kind kind;
	int cap;                   /* PX_CAP_*: the proxies it applies to when inherited */
	int own;                   /* written in this proxy (not inherited from defaults) */
	int order;                 /* IGN_OPTION: HAProxy's order of warnings */
	const char *opt;           /* IGN_HTTPLOG, IGN_OPTION: the option's name (static) */
	const char *file;
	int line;
};

/* A line accepted only if its proxy turns out to be a stats frontend:
 * otherwise msg (today's sentence for it) is reported at validation. */
struct cfg_http_line {
	const char *file;
	int line;
	char *msg;
};

/* ---- rules (src/rules compiles them; config/parse_rules.c keeps them) ---- */

/* One rule line as written: acl, tcp-request connection, use_backend,
 * use-server. The words are kept (owned) for rules_compile(), which reads
 * files and resolves names once the whole configuration is known. */
enum cfg_rline_kind { RL_ACL, RL_TCP_CONN, RL_TCP_CONTENT, RL_USE_BACKEND, RL_USE_SERVER, RL_STICK };
struct cfg_rline {
	enum cfg_rline_kind kind;
	const char *file;
	int line;
	char **w;                  /* the whole line, keyword included */
	int n;
};

struct cfg_rlines {
	struct cfg_rline *v;
	int n;
};
/* ---- stick tables (parse_stick.c) ------------------------------------------- */

/* A proxy's "stick-table" line: the table is named after its proxy. */
struct cfg_stktable {
	const char *file;
	int line;
	struct stk_def def;        /* core/stkdata.h */
	char *srvkey;              /* "srvkey name|addr" as written (only peers use it) */
};

struct cfg;
void cfg_stktable_free(struct cfg_stktable *t);
/* The proxy whose table is called name, or NULL. */
struct cfg_proxy *cfg_find_table(const struct cfg *c, const char *name);

/* ---- proxies ------------------------------------------------------------------ */

struct cfg_proxy {
	struct cfg_proxy *next;
	char *name;
	int cap;
	const char *file;
	int line;
	int uuid;                  /* 1-based, in order of declaration */
	enum lb_algo algo;
	int random_draws;          /* random(N) */
	enum hash_type hash_type;
	int retries;
	int redispatch_interval;   /* with PXO_REDISPATCH: >0 every Nth retry, <0 Nth before last */
	unsigned options;          /* PXO_* */
	unsigned options_set;      /* which PXO_* were written in this section */
	int maxconn;               /* frontend: 0 = global maxconn */
	int backlog;
	unsigned rate_limit_sess;  /* "rate-limit sessions": new sessions a second; 0 = none */
	char *logformat;           /* "log-format" as written (NULL: none; "option tcplog" clears it) */
	const char *lf_file;       /* where it was written (maybe a defaults section) */
	int lf_line;
	void *clogfmt;             /* compiled (struct logfmt, rules/logformat.h); owned by cfg->rules */
	struct cfg_timeouts to;
	int log_global;            /* "log global" */
	struct log_targets logs;
	struct cfg_bind *binds;
	struct cfg_server *servers;
	int nservers;
	char *default_backend;
	int default_backend_line;
	struct cfg_srv_opts dflt_srv;
	struct cfg_proxy *be;      /* default_backend, resolved by validation */
	enum check_type check_type;
	struct tcr_list rules;     /* tcp-check rules (CHK_TCPCHECK) */
	struct cfg_pgcheck pg;     /* CHK_PGSQL */
	struct tcr_list hrules;    /* http-check rules (CHK_HTTP), a list of their own as in HAProxy */
	int hrules_own;            /* hrules were written here, not inherited from defaults */
	unsigned httpchk;          /* HTTPCHK_F_* */
	int64_t role_change_grace; /* ms before sessions of a server whose role changed close */
	int64_t wait_for_server;   /* ferry's "wait-for-server": ms a client that finds no usable
	                              server waits in the backend's queue; 0: closed at once */
	enum { SSF_NONE, SSF_GLOBAL, SSF_LOCAL } load_state; /* load-server-state-from-file */
	char *state_file_name;     /* server-state-file-name: NULL = the backend's name */
	struct addr_spec source;   /* "source ADDR[:PORT]" for servers without their own */
	int has_source;
	/* the stats frontend (config/parse_stats_fe.c) */
	int mode_http_line;        /* "mode http" written here (0: mode tcp) */
	int stats_own;             /* stats lines written here (not inherited) */
	struct cfg_stats *stats;   /* NULL: no "stats" line */
	int prometheus;            /* "http-request use-service prometheus-exporter if { path /metrics }" */
	struct cfg_http_line *http_lines; /* lines valid only in a stats frontend */
	int nhttp_lines;
	char other_kw[40];         /* the first keyword a stats frontend may not have */
	int other_line;
	const char *mode_http_file; /* where "mode http" was written (maybe a defaults section) */
	struct cfg_ignored *ignored; /* HTTP-only lines ignored in a TCP proxy */
	int nignored;
	struct cfg_rlines rlines;  /* rule lines, in order (parse_rules.c) */
	int64_t inspect_delay;     /* tcp-request inspect-delay, ms; 0: none (inherited from defaults) */
	void *crules;              /* compiled (struct px_rules, rules/rules.h); owned by cfg->rules */
	struct cfg_stktable *table; /* "stick-table" (never in defaults); NULL: none */
};

/* Levels of the runtime API (stats socket), as HAProxy's ACCESS_LVL_*. */
#define CLI_LEVEL_USER 1      /* reads only */
#define CLI_LEVEL_OPER 2      /* also clear counters, show sess, show errors */
#define CLI_LEVEL_ADMIN 3     /* everything */

/* "stats socket ADDR [options]" in global: one listening socket of the
 * runtime API. ADDR is a unix socket path (/path or unix@path) or a TCP
 * address (ipv4@, ipv6@, host:port). */
struct cfg_stats_socket {
	struct cfg_stats_socket *next;
	const char *file;
	int line;
	char *text;                /* ADDR as written */
	char *path;                /* unix socket; NULL for TCP */
	struct addr_spec addr;     /* TCP */
	int mode;                  /* permissions of the unix socket; -1: umask's */
	long uid, gid;             /* owner of the unix socket; -1: ferry's */
	int level;                 /* CLI_LEVEL_*, operator unless set (as HAProxy) */
	int expose_fd_listeners;   /* "expose-fd listeners": may hand listening sockets over */
};

struct cfg_global {
	int maxconn;               /* 0 = derived from the fd limit */
	int maxpipes;              /* splice pipes; 0 = maxconn/4 (as HAProxy) */
	unsigned maxconnrate;      /* connections accepted a second, whole process; 0 = none */
	unsigned maxsessrate;      /* sessions a second, whole process; 0 = none */
	int nbthread;              /* 0 = one per CPU the process may run on */
	int64_t hard_stop_after;   /* 0 = none */
	int spread_checks;         /* percent, 0..50 */
	int busy_polling;          /* never sleep in epoll_wait (HAProxy's busy-polling) */
	int quiet;
	int zero_warning;          /* a warning is an error (HAProxy's zero-warning) */
	char *pidfile;
	char *state_file;          /* server-state-file */
	char *state_base;          /* server-state-base */
	struct log_targets logs;
	struct cfg_stats_socket *stats_sockets; /* in order of declaration */
	int64_t stats_timeout;     /* idle timeout of a runtime API connection; 0 = 10s */
	int stats_maxconn;         /* runtime API connections at once; 0 = 10 */
	/* unix-bind: a prefix to the path of every unix bind line read after it
	 * (not the stats socket's), and their default mode and owner */
	char *ux_prefix;
	int ux_mode;               /* -1: the umask's */
	long ux_uid, ux_gid;       /* -1: ferry's */
	/* least privilege (parse_global_privs.c, runtime/privs.c) */
	char *chroot;              /* NULL: none */
	long uid, gid;             /* user/uid, group/gid: -1 when not set */
	long user_gid;             /* the user's primary group (passwd); -1: unknown */
	int run_as_root;           /* insecure-run-as-root: may stay root without 'user' */
	int insecure_setuid;       /* insecure-setuid-wanted: no PR_SET_NO_NEW_PRIVS */
	int insecure_fork;         /* insecure-fork-wanted: no RLIMIT_NPROC 0 */
	int no_seccomp;            /* no-seccomp: no system-call filter (runtime/seccomp.c) */
	unsigned keep_caps;        /* setcap: CFG_CAP_* kept after the drop */
};

#define CFG_CAP_NET_BIND_SERVICE 0x1u /* setcap cap_net_bind_service */

struct cfg {
	struct cfg_global g;
	struct cfg_resolvers *resolvers; /* "resolvers" sections, in order */
	struct cfg_proxy *proxies;  /* frontends, backends, listens, in order */
	struct cfg_proxy *defaults; /* all defaults sections, newest first */
	struct cfg_proxy *stats_fes; /* "mode http" stats frontends, taken out of proxies by validation */
	int nerr, nwarn;
	FILE *diag;                 /* where errors and warnings go */
	int diag_mode;              /* -dD: .diag lines are printed */
	void *rules;                /* the compiled rules of every proxy (rules_compile) */
	void (*rules_free)(void *rules);
	char **files;               /* file names (owned), for file pointers */
	int nfiles;
};

void cfg_init(struct cfg *c, FILE *diag);
void tcr_list_free(struct tcr_list *l);
/* Deep copy (defaults inheritance). */
void tcr_list_copy(struct tcr_list *dst, const struct tcr_list *src);
void pgcheck_free(struct cfg_pgcheck *pg);
/* parse_httpchk.c: an http-check rule's own data, and the checks of a
 * backend's http-check rules once its section is read (implicit rules,
 * HAProxy's warnings). */
void tcr_http_free(struct tcr_http *h);
struct tcr_http *tcr_http_dup(const struct tcr_http *h);
struct cfg;
void httpchk_validate(struct cfg *c, struct cfg_proxy *px);
void pgcheck_copy(struct cfg_pgcheck *dst, const struct cfg_pgcheck *src);
void cfg_free(struct cfg *c);
struct cfg_proxy *cfg_find_proxy(const struct cfg *c, const char *name, int cap);
void cfg_error(struct cfg *c, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void cfg_warn(struct cfg *c, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Reads one file, or every *.cfg in a directory in name order. Returns 0 when
 * the file could be read (errors inside are counted in c->nerr). */
int cfg_parse_path(struct cfg *c, const char *path);
/* Parses configuration text as if read from a file called name. */
int cfg_parse_text(struct cfg *c, const char *name, const char *text);
/* Checks references and fills defaults once all files are read. Returns
 * the number of errors so far (c->nerr). */
int cfg_validate(struct cfg *c);
const char *lb_algo_name(enum lb_algo a);
/* "add server" at run time: words are NAME ADDR [options...] (n of them),
 * parsed as a server line with HAProxy 2.6's rules for dynamic servers (the
 * built-in defaults, not default-server; no-check, no-agent-check and
 * init-addr refused). Returns the server (the caller owns it and its name,
 * addr_text, check_addr and agent_send), or NULL with the first error in
 * err. */
struct cfg_server *cfg_parse_dynamic_server(char *const *words, int n, char *err, size_t errlen);

/* parse_stats_fe.c */
struct cfg_stats *cfg_stats_copy(const struct cfg_stats *st);
void cfg_stats_free(struct cfg_stats *st);
/* Whether "stats admin" lets a client at sa act (HAProxy: the first rule
 * whose condition holds grants it; no rule, no admin). */
int cfg_stats_admin_allows(const struct cfg_stats *st, const struct sockaddr *sa);
/* The realm the page asks credentials for, and the page's URI prefix. */
const char *cfg_stats_realm(const struct cfg_stats *st);
const char *cfg_stats_uri(const struct cfg_stats *st);
/* Takes the valid stats frontends out of c->proxies into c->stats_fes,
 * reports what is wrong with the others (cfg_validate calls it). */
int cfg_validate_stats(struct cfg *c);

/* parse_http.c: HAProxy 2.6's warnings for the HTTP-only lines of a TCP
 * proxy (and the errors for those it refuses), in HAProxy's order. */
void cfg_warn_http_leftovers(struct cfg *c, struct cfg_proxy *px);
/* HAProxy's name for a proxy in its messages: frontend, backend, or proxy
 * for a listen section. */
const char *cfg_proxy_type(const struct cfg_proxy *px);

#endif
