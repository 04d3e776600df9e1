/* Statistics counters of a frontend, backend or server, one block per
 * thread: a thread writes only its own block (no cache line shared with
 * another thread is written per connection or per byte), and a reader adds
 * the blocks up (counters_sum). Words are written whole by their owner and
 * read with relaxed loads, so a sum is never torn, only a moment late.
 *
 * Rates are HAProxy's freq_ctr: events in the current second plus the
 * previous second's, weighted by what is left of the current one. */
#ifndef FERRY_CORE_COUNTERS_H
#define FERRY_CORE_COUNTERS_H
#include <stdint.h>

struct counters {
	uint64_t cum_sess;        /* stot: sessions (frontend, backend) or connections sent (server) */
	uint64_t bytes_in;        /* bin: client to server */
	uint64_t bytes_out;       /* bout: server to client */
	uint64_t failed_conns;    /* econ: connections to a server that failed */
	uint64_t failed_resp;     /* eresp: server-side errors once connected */
	uint64_t cli_abrt;        /* sessions the client aborted (reset, timeout) */
	uint64_t srv_abrt;        /* sessions the server aborted */
	uint64_t retries;         /* wretr */
	uint64_t redispatches;    /* wredis */
	uint64_t lbtot;           /* times the balancing algorithm chose it */
	uint64_t connect;         /* connection attempts to servers */
	uint64_t denied_conn;     /* dcon: connections refused by a tcp-request connection rule */
	uint64_t denied_req;      /* dreq: requests refused by a tcp-request content rule */
	uint64_t last_sess;       /* realtime seconds of the last session (lastsess) */
	/* HAProxy's qtime/ctime/ttime: averages over the last 1024 sessions,
	 * kept as its swrate (sum += v - sum / 1024), and their counts */
	uint64_t qtime_sw, ctime_sw, ttime_sw;
	uint64_t qtime_n, ctime_n, ttime_n;
	uint32_t qtime_max, ctime_max, ttime_max;
	uint32_t rate_sec;        /* the second rate_cur counts (monotonic seconds) */
	uint32_t rate_cur, rate_prev;
	uint32_t rate_max;        /* highest rate seen (rate_max): written by the stats
	                             sampler on worker 0, in block 0 only */
} __attribute__((aligned(64)));

/* Adds v to a counter of the calling thread's own block: a plain load and
 * store (no locked instruction), atomic only so readers see whole words. */
static inline void ctr_add(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* The same for a maximum. */
static inline void ctr_max(uint32_t *p, uint32_t v)
{
	if (v > __atomic_load_n(p, __ATOMIC_RELAXED))
		__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

#define SWRATE_N 1024

/* One sample in a sliding average (HAProxy's swrate_add over 1024). */
static inline void ctr_swrate(uint64_t *sw, uint64_t *n, uint32_t *max, uint32_t v)
{
	uint64_t s = __atomic_load_n(sw, __ATOMIC_RELAXED);

	__atomic_store_n(sw, s + v - (s + SWRATE_N - 1) / SWRATE_N, __ATOMIC_RELAXED);
	ctr_add(n, 1);
	ctr_max(max, v);
}

/* A per-thread array of nthreads blocks, zeroed; NULL when out of memory. */
struct counters *counters_new(int nthreads);
/* One event in the session rate of c at now_ms (monotonic). */
void counters_rate_add(struct counters *c, uint64_t now_ms);
/* The blocks of n threads added up into *sum (rate_cur/rate_prev hold the
 * summed rate at now_ms in rate_cur; the *_max fields the largest). */
void counters_sum(const struct counters *c, int n, uint64_t now_ms, struct counters *sum);
/* The rate of events per second at now_ms, from a summed block. */
uint32_t counters_rate(const struct counters *sum);
/* The average of one of the sliding averages over n threads' blocks (as
 * HAProxy's swrate_avg, each thread weighted by its samples up to 1024).
 * which: 0 qtime, 1 ctime, 2 ttime. */
uint32_t counters_avg(const struct counters *c, int n, int which);
/* Adds the totals of sum minus those of base (base may be NULL) to dst:
 * a reload carries an object's counters to its successor. */
void counters_fold(struct counters *dst, const struct counters *sum, const struct counters *base);
/* Zeroes the blocks (clear counters all); with keep_totals, only the
 * maxima (clear counters). */
void counters_clear(struct counters *c, int n, int keep_totals);

/* HAProxy's freq_ctr over any period (the rates of stick tables): events
 * in the current period, and in the one before, which counts for what is
 * left of the current one. Ticks are the low 32 bits of monotonic ms, as
 * HAProxy's now_ms. Not atomic: the caller serialises writers (a stick
 * table updates it under its lock). */
struct freq_ctr {
	uint32_t curr_tick;       /* start of the current period */
	uint32_t curr_ctr, prev_ctr;
};

/* Adds inc events at now_ms; returns the events of the current period. */
uint32_t freq_ctr_add(struct freq_ctr *c, uint32_t period, uint32_t inc, uint64_t now_ms);
/* The rate over the period at now_ms (HAProxy's read_freq_ctr_period, with
 * its correction for rates below one event per period). 0 when period is 0. */
uint32_t freq_ctr_read(const struct freq_ctr *c, uint32_t period, uint64_t now_ms);
/* Sets the rate to v for a whole period from now_ms, then fading (HAProxy's
 * "set table ... data.<rate> v"). */
void freq_ctr_set(struct freq_ctr *c, uint32_t v, uint64_t now_ms);

#endif
