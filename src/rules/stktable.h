/* Stick tables: entries keyed by an address, an integer or a string, each
 * holding the data types its table stores (counters, rates, a server id),
 * with HAProxy 2.6's expiry, size limit and reference counts.
 *
 * Threads: a table is shared by every worker. One mutex per table guards
 * its index, its age list and every entry's data; each call below takes it
 * for a few memory operations only (never across a system call). Lookups
 * are a hash of the key (no tree, no scan).
 *
 * Time: every call that reads or moves time takes now_ms, monotonic
 * milliseconds (the worker's loop->now_ms); nothing here reads a clock,
 * so tests run on an injected one.
 *
 * Entries and references (HAProxy's ref_cnt, "use=" in "show table"):
 * stktable_get() and stktable_lookup() return an entry with one reference
 * taken for the caller. While referenced, an entry is never removed: not
 * by expiry, not to make room, not by "clear table". The caller gives the
 * reference back with stktable_release() or stktable_touch(..., 1). An
 * entry pointer is valid only while the caller holds a reference.
 *
 * Expiry: an entry expires `expire` ms after its creation or its last
 * stktable_touch() (track-sc, stick on/match); a table without expire keeps
 * entries until room is needed. Expired entries disappear on access (a
 * lookup does not find them) and are freed by stktable_purge(), which the
 * runtime calls on worker 0's timer with a bounded batch.
 *
 * Size: when a new key arrives in a full table, the oldest unreferenced
 * entries (oldest last touch, which is HAProxy's earliest expiry) are
 * evicted, size/256 + 1 of them, looking at no more than twice that many;
 * with nopurge, or when all of those are referenced, the new key gets no
 * entry (NULL).
 *
 * Phase 2 (track-sc*, sc*_ / src_* fetches, stick on|match|store) uses:
 *   - stktable_key_*() to make a key from a connection's address or a sample;
 *   - stktable_get() (track, stick store) or stktable_lookup() (src_* fetches,
 *     stick match), then stktable_release()/stktable_touch();
 *   - stktable_data_add() for conn_cnt, conn_cur (+1 / -1), conn_rate,
 *     sess_*, bytes_*, gpc0/gpc1 (and their rates), stktable_data_set() for
 *     server_id, gpt0, "sc-set-gpt0", stktable_data_get() for fetches, by a
 *     data type index from stk_dt_index("conn_rate") (core/stkdata.h), so
 *     a session never knows a table's layout. */
#ifndef FERRY_RULES_STKTABLE_H
#define FERRY_RULES_STKTABLE_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/stkdata.h"

struct stksess;

struct stktable {
	char *name;                /* its proxy's name */
	struct stk_def def;        /* type, size, expire, stored data */
	unsigned key_size;         /* bytes of a stored key (a string's with its NUL) */
	int slot[STK_DT_N];        /* first slot of each stored data type, -1: not stored */
	int nslots;
	pthread_mutex_t lock;
	struct stksess **buckets;  /* hash index */
	unsigned nbuckets;         /* a power of two */
	struct stksess *oldest, *newest; /* every entry, by last touch */
	unsigned current;          /* entries */
	int refs;                  /* generations holding the table (atomic) */
};

/* A key, as a caller hands it over: for IP 4 bytes in network order, IPV6
 * 16, INT 4 in host order, STR the characters (len of them, no NUL
 * needed; longer ones are cut to the table's len), BIN bytes (cut or
 * padded with zeros). p NULL: the key is in buf (what the stktable_key_*
 * helpers make, so that a copy of the struct stays valid). */
struct stk_key {
	const void *p;
	size_t len;
	unsigned char buf[16];     /* storage for the stktable_key_* helpers */
};

/* ---- tables ----------------------------------------------------------------- */

/* A new empty table called name (copied) from def, with one reference
 * (stktable_put). NULL when out of memory. */
struct stktable *stktable_new(const char *name, const struct stk_def *def);
/* References held by generations: a reload hands a table on to the new
 * generation when its layout is the same (stk_def_same_layout), so its
 * entries survive; the last put frees the table and its entries. */
void stktable_hold(struct stktable *t);
void stktable_put(struct stktable *t);
/* A reload that keeps t applies the new expire and nopurge (entries keep
 * the expiry they had; their next touch uses the new delay). */
void stktable_redefine(struct stktable *t, const struct stk_def *def);

/* ---- keys ------------------------------------------------------------------- */

/* The key of an address for t: an IPv4 address in an ip table, an IPv6 one
 * in an ipv6 table (an IPv4 address becomes ::ffff:a.b.c.d, a v4-mapped
 * IPv6 address goes into an ip table as IPv4, as HAProxy's conversions).
 * Returns 0, or -1 when the address does not fit the table's type. */
int stktable_key_addr(const struct stktable *t, const struct sockaddr *sa, struct stk_key *k);
/* The key written as text on the stats socket ("set table t key TEXT"):
 * HAProxy's rules (an ip key is read leniently as its inetaddr_host does:
 * "foo" is 0.0.0.0). Returns 0, or -1 with HAProxy's message in *err
 * ("Invalid key\n", or the "type other than" sentence for binary keys:
 * verb is "Showing", "Removing" or "Inserting"). */
int stktable_key_text(const struct stktable *t, const char *text, const char *verb,
		      struct stk_key *k, const char **err);

/* ---- entries ---------------------------------------------------------------- */

/* The entry of key k, created (data zeroed, expiring `expire` from now) if
 * there is none; with a reference for the caller. NULL when the table is
 * full and nothing could be evicted (or out of memory). */
struct stksess *stktable_get(struct stktable *t, const struct stk_key *k, uint64_t now_ms);
/* The entry of key k if there is one (not expired), with a reference for
 * the caller; NULL otherwise. Does not refresh its expiry. */
struct stksess *stktable_lookup(struct stktable *t, const struct stk_key *k, uint64_t now_ms);
/* Gives a reference back. */
void stktable_release(struct stktable *t, struct stksess *ts);
/* Refreshes ts's expiry (now + expire, and it becomes the newest entry);
 * with decref, also gives the caller's reference back. */
void stktable_touch(struct stktable *t, struct stksess *ts, uint64_t now_ms, int decref);
/* Removes the entry of key k unless referenced. Returns 1 removed, 0 no
 * such entry, -1 in use (HAProxy: "Entry currently in use, cannot remove"). */
int stktable_remove(struct stktable *t, const struct stk_key *k, uint64_t now_ms);
/* Frees up to max expired unreferenced entries. Returns how many. */
int stktable_purge(struct stktable *t, uint64_t now_ms, int max);
/* The entries in use right now (expired ones not counted once seen). */
unsigned stktable_used(struct stktable *t, uint64_t now_ms);

/* ---- data ------------------------------------------------------------------- */

/* Whether t stores data type dt (an stk_dt), and how many elements. */
int stktable_stores(const struct stktable *t, int dt);
/* Element idx of data type dt of ts: a counter's value, a rate over its
 * period at now_ms, server_id. Returns 0 with *v set, or -1 when t does
 * not store it (HAProxy: the fetch or ACL does not match). */
int stktable_data_get(struct stktable *t, struct stksess *ts, int dt, int idx, uint64_t now_ms,
		      long long *v);
/* Adds inc to element idx of dt (a rate counts inc events at now_ms; a
 * negative inc on a counter stops at 0, for conn_cur). 0, or -1 when not
 * stored or not a number. */
int stktable_data_add(struct stktable *t, struct stksess *ts, int dt, int idx, long long inc,
		      uint64_t now_ms);
/* Sets element idx of dt to v (a rate reads v for one period, then
 * fades, as HAProxy's "set table"). 0, or -1 when not stored. */
int stktable_data_set(struct stktable *t, struct stksess *ts, int dt, int idx, long long v,
		      uint64_t now_ms);
/* server_key: a copy of the server's name (NULL clears it). 0 or -1. */
int stktable_set_server_key(struct stktable *t, struct stksess *ts, const char *name);

/* ---- the stats socket's view (show / clear table) -------------------------------- */

enum stk_op { STK_OP_EQ, STK_OP_NE, STK_OP_LE, STK_OP_GE, STK_OP_LT, STK_OP_GT };
#define STK_FILTERS 4              /* HAProxy's STKTABLE_FILTER_LEN */

struct stk_filter {
	int dt;
	enum stk_op op;
	long long value;
};

/* "eq", "ne", ... or -1. */
int stk_op_parse(const char *s);
/* Calls fn for every live entry in HAProxy's order (its key tree's: bytes
 * of the stored key compared in order, strings as strings) whose data
 * match all nf filters, with t locked: fn must not block nor call back into
 * t. Expired unreferenced entries are freed on the way. Returns the number
 * of entries before the walk (HAProxy's "used:"). */
unsigned stktable_walk(struct stktable *t, uint64_t now_ms, const struct stk_filter *f, int nf,
		       void (*fn)(void *arg, const struct stktable *t, const struct stksess *ts),
		       void *arg);
/* The same for one key: fn is called at most once. Returns "used:". */
unsigned stktable_walk_key(struct stktable *t, const struct stk_key *k, uint64_t now_ms,
			   void (*fn)(void *arg, const struct stktable *t, const struct stksess *ts),
			   void *arg);
/* Removes every unreferenced entry matching the filters ("clear table t"
 * with data filters, or none). Returns how many. */
unsigned stktable_clear(struct stktable *t, uint64_t now_ms, const struct stk_filter *f, int nf);
/* One entry as HAProxy's "show table" line after its address:
 * " key=... use=N exp=N conn_cnt=N ..." (no newline), into buf. Call it
 * from a walk's fn (t locked). Returns the length, or the length needed. */
size_t stktable_format(const struct stktable *t, const struct stksess *ts, uint64_t now_ms,
		       char *buf, size_t len);

#endif
