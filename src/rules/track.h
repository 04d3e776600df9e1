/* Stick counters at work: the entries a session tracks (track-sc0..2) and
 * the stick on|match|store-request persistence of a backend, as HAProxy
 * 2.6 counts them. What a session holds is plain data here; the rules that
 * fill it are compiled with the others (rules.h) and run through
 * rules_conn_accept() (tcp-request connection), rules_stick_match() and
 * track_*() below.
 *
 * Threads: every read or write of an entry goes through stktable.h, under
 * the table's lock. A session whose proxies have no track or stick rule
 * never touches a table (track_any() is false, its stick state NULL).
 *
 * Counting, as HAProxy 2.6:
 *   - track-sc<n>: the first rule that tracks counter n wins (one already
 *     tracked is not tracked again); the entry (created if new) gets
 *     conn_cnt+1, conn_cur+1, conn_rate+1 and its expiry refreshed, and is
 *     referenced until the session ends;
 *   - a connection the rules accept becomes a session: sess_cnt+1 and
 *     sess_rate+1 on each tracked entry (track_session_new);
 *   - at the session's end (track_end, once, from session_close): conn_cur
 *     -1, bytes_in/out added, expiry refreshed, reference given back. The
 *     bytes are added at the end only (HAProxy adds them as they flow): a
 *     relay never writes to a table, at the price of bytes_*_rate seeing a
 *     long session's bytes when it closes;
 *   - a connection rejected by a later rule gives its entries back at once
 *     (conn_cur -1), without sess_* counts, as HAProxy. */
#ifndef FERRY_RULES_TRACK_H
#define FERRY_RULES_TRACK_H
#include <stddef.h>
#include <stdint.h>

#include "rules/stktable.h"

#define TRACK_SC_MAX 3             /* sc0, sc1, sc2 (HAProxy's MAX_SESS_STKCTR) */

struct track_ent {
	struct stktable *t;        /* NULL: counter not tracked */
	struct stksess *ts;        /* one reference held */
};

struct track_set {
	struct track_ent e[TRACK_SC_MAX];
};

static inline int track_any(const struct track_set *s)
{
	return s->e[0].ts || s->e[1].ts || s->e[2].ts;
}

/* The connection became a session: sess_cnt and sess_rate of each entry. */
void track_session_new(struct track_set *s, uint64_t now_ms);
/* The session ends (or its connection was rejected): bytes_in (client to
 * ferry) and bytes_out (ferry to client) added, conn_cur -1, expiry
 * refreshed, references given back; s is cleared, so a second call does
 * nothing. */
void track_end(struct track_set *s, uint64_t bytes_in, uint64_t bytes_out, uint64_t now_ms);

/* ---- stick on|match|store-request ------------------------------------------ */

#define STICK_STORE_MAX 8          /* HAProxy's s->store[] */
#define STICK_KEY_MAX 256          /* longer string/binary keys are cut here */

/* A key a store rule chose, kept until the server is connected. */
struct stick_store {
	struct stktable *t;
	size_t len;
	unsigned char key[STICK_KEY_MAX];
};

/* A session's pending stores (allocated only for a backend with store
 * rules). */
struct stick_state {
	int n;
	struct stick_store st[STICK_STORE_MAX];
};

/* The server is connected: each pending key's entry (created if new) gets
 * server_id = srv_id and server_key = srv_name, its expiry refreshed, as
 * HAProxy's process_store_rules. Then n is 0. */
void stick_store_apply(struct stick_state *st, int srv_id, const char *srv_name, uint64_t now_ms);

#endif
