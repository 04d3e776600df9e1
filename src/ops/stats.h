/* The statistics model: HAProxy 2.6's stats fields, in its column order,
 * filled from ferry's live objects. One line describes a frontend, a
 * backend or a server; each field has a type (empty when HAProxy leaves it
 * empty for a TCP proxy), HAProxy's tags (origin, nature, scope, as "show
 * stat typed" prints them) and a value. The CSV, typed and JSON outputs of
 * the runtime API, the HTTP dashboard's JSON and the Prometheus metrics are
 * all written from these lines.
 *
 * Reading is cheap and never slows the data path: counters are per thread
 * and added up here (core/counters.h); gauges are single words read
 * atomically; the server and backend states are read without the backend
 * lock (a line may mix a state from just before and just after a change,
 * never a torn value). Call from worker 0 (the runtime API's thread): it
 * reads rt->gen and the checks, which only worker 0 changes. */
#ifndef FERRY_OPS_STATS_H
#define FERRY_OPS_STATS_H
#include <stdint.h>

#include "ops/sbuf.h"
#include "runtime/runtime.h"

/* The fields of a stats line, HAProxy 2.6.12's order ("show stat" header). */
enum stat_field {
	ST_PXNAME,  /* 0 */
	ST_SVNAME,
	ST_QCUR,
	ST_QMAX,
	ST_SCUR,
	ST_SMAX,
	ST_SLIM,
	ST_STOT,
	ST_BIN,
	ST_BOUT,
	ST_DREQ,  /* 10 */
	ST_DRESP,
	ST_EREQ,
	ST_ECON,
	ST_ERESP,
	ST_WRETR,
	ST_WREDIS,
	ST_STATUS,
	ST_WEIGHT,
	ST_ACT,
	ST_BCK,  /* 20 */
	ST_CHKFAIL,
	ST_CHKDOWN,
	ST_LASTCHG,
	ST_DOWNTIME,
	ST_QLIMIT,
	ST_PID,
	ST_IID,
	ST_SID,
	ST_THROTTLE,
	ST_LBTOT,  /* 30 */
	ST_TRACKED,
	ST_TYPE,
	ST_RATE,
	ST_RATE_LIM,
	ST_RATE_MAX,
	ST_CHECK_STATUS,
	ST_CHECK_CODE,
	ST_CHECK_DURATION,
	ST_HRSP_1XX,
	ST_HRSP_2XX,  /* 40 */
	ST_HRSP_3XX,
	ST_HRSP_4XX,
	ST_HRSP_5XX,
	ST_HRSP_OTHER,
	ST_HANAFAIL,
	ST_REQ_RATE,
	ST_REQ_RATE_MAX,
	ST_REQ_TOT,
	ST_CLI_ABRT,
	ST_SRV_ABRT,  /* 50 */
	ST_COMP_IN,
	ST_COMP_OUT,
	ST_COMP_BYP,
	ST_COMP_RSP,
	ST_LASTSESS,
	ST_LAST_CHK,
	ST_LAST_AGT,
	ST_QTIME,
	ST_CTIME,
	ST_RTIME,  /* 60 */
	ST_TTIME,
	ST_AGENT_STATUS,
	ST_AGENT_CODE,
	ST_AGENT_DURATION,
	ST_CHECK_DESC,
	ST_AGENT_DESC,
	ST_CHECK_RISE,
	ST_CHECK_FALL,
	ST_CHECK_HEALTH,
	ST_AGENT_RISE,  /* 70 */
	ST_AGENT_FALL,
	ST_AGENT_HEALTH,
	ST_ADDR,
	ST_COOKIE,
	ST_MODE,
	ST_ALGO,
	ST_CONN_RATE,
	ST_CONN_RATE_MAX,
	ST_CONN_TOT,
	ST_INTERCEPTED,  /* 80 */
	ST_DCON,
	ST_DSES,
	ST_WREW,
	ST_CONNECT,
	ST_REUSE,
	ST_CACHE_LOOKUPS,
	ST_CACHE_HITS,
	ST_SRV_ICUR,
	ST_SRC_ILIM,
	ST_QTIME_MAX,  /* 90 */
	ST_CTIME_MAX,
	ST_RTIME_MAX,
	ST_TTIME_MAX,
	ST_EINT,
	ST_IDLE_CONN_CUR,
	ST_SAFE_CONN_CUR,
	ST_USED_CONN_CUR,
	ST_NEED_CONN_EST,
	ST_UWEIGHT,
	ST_AGG_SERVER_STATUS,  /* 100 */
	ST_AGG_SERVER_CHECK_STATUS,
	ST_AGG_CHECK_STATUS,
	STAT_NSTATIC,              /* 103: the fields of HAProxy's stats core; "-" follows them in CSV */
	ST_SSL_SESS = STAT_NSTATIC,  /* the stats modules' fields (ssl, h2, h1): always 0 in ferry */
	ST_SSL_REUSED_SESS,
	ST_SSL_FAILED_HANDSHAKE,
	ST_H2_HEADERS_RCVD,
	ST_H2_DATA_RCVD,
	ST_H2_SETTINGS_RCVD,
	ST_H2_RST_STREAM_RCVD,
	ST_H2_GOAWAY_RCVD,  /* 110 */
	ST_H2_DETECTED_CONN_PROTOCOL_ERRORS,
	ST_H2_DETECTED_STRM_PROTOCOL_ERRORS,
	ST_H2_RST_STREAM_RESP,
	ST_H2_GOAWAY_RESP,
	ST_H2_OPEN_CONNECTIONS,
	ST_H2_BACKEND_OPEN_STREAMS,
	ST_H2_TOTAL_CONNECTIONS,
	ST_H2_BACKEND_TOTAL_STREAMS,
	ST_H1_OPEN_CONNECTIONS,
	ST_H1_OPEN_STREAMS,  /* 120 */
	ST_H1_TOTAL_CONNECTIONS,
	ST_H1_TOTAL_STREAMS,
	ST_H1_BYTES_IN,
	ST_H1_BYTES_OUT,
	ST_H1_SPLICED_BYTES_IN,
	ST_H1_SPLICED_BYTES_OUT,
	STAT_NFIELDS
};

/* The fields of "show info", HAProxy 2.6.12's positions. */
enum info_field {
	INF_NAME,  /* 0 */
	INF_VERSION,
	INF_RELEASE_DATE,
	INF_NBTHREAD,
	INF_NBPROC,
	INF_PROCESS_NUM,
	INF_PID,
	INF_UPTIME,
	INF_UPTIME_SEC,
	INF_MEMMAX_MB,
	INF_POOL_ALLOC_MB,  /* 10 */
	INF_POOL_USED_MB,
	INF_POOL_FAILED,
	INF_ULIMIT_N,
	INF_MAXSOCK,
	INF_MAXCONN,
	INF_HARD_MAXCONN,
	INF_CURR_CONNS,
	INF_CUM_CONNS,
	INF_CUM_REQ,
	INF_MAX_SSL_CONNS,  /* 20 */
	INF_CURR_SSL_CONNS,
	INF_CUM_SSL_CONNS,
	INF_MAXPIPES,
	INF_PIPES_USED,
	INF_PIPES_FREE,
	INF_CONN_RATE,
	INF_CONN_RATE_LIMIT,
	INF_MAX_CONN_RATE,
	INF_SESS_RATE,
	INF_SESS_RATE_LIMIT,  /* 30 */
	INF_MAX_SESS_RATE,
	INF_SSL_RATE,
	INF_SSL_RATE_LIMIT,
	INF_MAX_SSL_RATE,
	INF_SSL_FRONTEND_KEY_RATE,
	INF_SSL_FRONTEND_MAX_KEY_RATE,
	INF_SSL_FRONTEND_SESSION_REUSE_PCT,
	INF_SSL_BACKEND_KEY_RATE,
	INF_SSL_BACKEND_MAX_KEY_RATE,
	INF_SSL_CACHE_LOOKUPS,  /* 40 */
	INF_SSL_CACHE_MISSES,
	INF_COMPRESS_BPS_IN,
	INF_COMPRESS_BPS_OUT,
	INF_COMPRESS_BPS_RATE_LIM,
	INF_ZLIB_MEM_USAGE,
	INF_MAX_ZLIB_MEM_USAGE,
	INF_TASKS,
	INF_RUN_QUEUE,
	INF_IDLE_PCT,
	INF_NODE,  /* 50 */
	INF_DESCRIPTION,
	INF_STOPPING,
	INF_JOBS,
	INF_UNSTOPPABLE_JOBS,
	INF_LISTENERS,
	INF_ACTIVE_PEERS,
	INF_CONNECTED_PEERS,
	INF_DROPPED_LOGS,
	INF_BUSY_POLLING,
	INF_FAILED_RESOLUTIONS,  /* 60 */
	INF_TOTAL_BYTES_OUT,
	INF_TOTAL_SPLICDED_BYTES_OUT,
	INF_BYTES_OUT_RATE,
	INF_DEBUG_COMMANDS_ISSUED,
	INF_CUM_RECV_LOGS,
	INF_BUILD_INFO,
	INF_MEMMAX_BYTES,
	INF_POOL_ALLOC_BYTES,
	INF_POOL_USED_BYTES,
	INF_START_TIME_SEC,  /* 70 */
	INF_TAINTED,
	INF_NFIELDS
};

enum stat_type { STT_EMPTY = 0, STT_U32, STT_S32, STT_U64, STT_STR };

/* HAProxy's field tags (its FO_*, FN_*, FS_*), letters of "show stat typed". */
enum stat_origin { SO_METRIC, SO_STATUS, SO_KEY, SO_CONFIG, SO_PRODUCT };
enum stat_nature { SN_GAUGE, SN_LIMIT, SN_MIN, SN_MAX, SN_RATE, SN_COUNTER, SN_DURATION,
		   SN_AGE, SN_TIME, SN_NAME, SN_OUTPUT, SN_AVG };
enum stat_scope { SS_PROCESS, SS_SERVICE, SS_SYSTEM, SS_CLUSTER };

struct stat_value {
	uint8_t type;              /* enum stat_type; STT_EMPTY: printed empty */
	uint8_t origin, nature, scope;
	union {
		uint32_t u32;
		int32_t s32;
		uint64_t u64;
		const char *str;   /* points into the line's buffer or to a constant */
	} u;
};

struct stat_name {
	const char *name;          /* CSV column, typed and JSON name */
	const char *desc;          /* "show stat desc", Prometheus help */
};

extern const struct stat_name stat_fields[STAT_NFIELDS];
extern const struct stat_name info_fields[INF_NFIELDS];

/* HAProxy's object types, the values of the "type" column. */
enum stat_obj { STAT_OBJ_FE = 0, STAT_OBJ_BE = 1, STAT_OBJ_SRV = 2 };

/* One object's line. */
struct stat_line {
	enum stat_obj obj;
	struct stat_value v[STAT_NFIELDS];
	char buf[1024];            /* the strings' storage */
	size_t used;
};

struct info_line {
	struct stat_value v[INF_NFIELDS];
	char buf[256];
	size_t used;
};

#define STAT_F_LEGENDS 0x1    /* addr, algo: on operator and admin sockets (HAProxy's STAT_SHLGNDS) */
#define STAT_F_HIDE_DOWN 0x2  /* "show stat up": skip servers down or in maintenance */
#define STAT_F_HIDE_MAINT 0x4 /* "show stat no-maint": skip servers in maintenance */

/* Fill one line from the objects of rt's current generation. flags: STAT_F_*.
 * The line owns its strings (or points to constants). */
void stat_fill_frontend(struct stat_line *l, const struct runtime *rt, const struct frontend *fe,
			unsigned flags);
void stat_fill_backend(struct stat_line *l, const struct runtime *rt, const struct pbackend *be,
		       unsigned flags);
void stat_fill_server(struct stat_line *l, const struct runtime *rt, const struct pbackend *be,
		      const struct server *s, unsigned flags);
void stat_fill_info(struct info_line *l, const struct runtime *rt);

/* Which lines stat_walk visits: HAProxy's "show stat <iid> <type> <sid>". */
struct stat_filter {
	int iid;                   /* -1: every proxy */
	int types;                 /* bits 1 << STAT_OBJ_*; -1: all */
	int sid;                   /* -1: every server */
};

#define STAT_FILTER_ALL { -1, -1, -1 }

/* Visits rt's current generation in HAProxy's order: for each proxy in
 * configuration order, its frontend line, its servers' lines, then its
 * backend line. Stops when cb returns non-zero (and returns that). */
int stat_walk(const struct runtime *rt, const struct stat_filter *f, unsigned flags,
	      int (*cb)(void *arg, const struct stat_line *l), void *arg);

/* The server's state as HAProxy's stats print it: "UP", "DOWN", "MAINT",
 * "DRAIN", "NOLB", "no check", "UP 1/3", "DOWN 1/2", "DOWN (agent)", ...
 * into buf. */
void stat_server_status(const struct server *s, char *buf, size_t len);
/* HAProxy's iid of a proxy: its position among all proxies plus one
 * (HAProxy 2.6 numbers its internal HTTP client proxy 1). */
int stat_iid(int uuid);
/* HAProxy's default fullconn of a backend: 10% of the maxconn of the
 * frontends that use it, at least 1 (slim of the backend line). */
int stat_backend_fullconn(const struct generation *g, const struct pbackend *be);

/* Writers. */
void stat_csv_header(struct sbuf *o);
void stat_emit_csv(struct sbuf *o, const struct stat_line *l);
/* "show stat typed": one "F.2.0.4.scur.1:MGP:u32:0" line per non-empty
 * field; desc adds :"description". */
void stat_emit_typed(struct sbuf *o, const struct stat_line *l, int desc);
/* "show stat json": the line as a JSON array of field objects, preceded
 * by a comma unless first. */
void stat_emit_json(struct sbuf *o, const struct stat_line *l, int first);
void info_emit_plain(struct sbuf *o, const struct info_line *l, int desc);
void info_emit_typed(struct sbuf *o, const struct info_line *l, int desc);
void info_emit_json(struct sbuf *o, const struct info_line *l);

/* The value of a numeric field as a double (0 when empty or a string), for
 * metrics and dashboards. */
double stat_value_num(const struct stat_value *v);

/* Called every second on worker 0: records the highest session rates seen
 * (HAProxy's rate_max, sps_max), sampled once a second plus at read time. */
void stat_sample_rates(const struct runtime *rt);

#endif
