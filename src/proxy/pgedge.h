/* PostgreSQL frontends (option pgsql): the client's first message read and
 * parsed before the rules run, cancel requests sent to the server of the
 * session they name, readable refusals, and TLS routed by its ClientHello
 * without ferry holding a key. After the first exchange the session relays
 * bytes as any other (splice and all); only the server's first messages
 * are looked at, for BackendKeyData (pgedge.c, pgkeys.c, pgcancel.c). */
#ifndef FERRY_PROXY_PGEDGE_H
#define FERRY_PROXY_PGEDGE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proto/pgwire.h"
#include "rules/rules.h"

struct session;
struct worker;
struct pgkey;

/* What a session of a PostgreSQL frontend keeps (s->pg). */
struct pgsess {
	struct pg_first first;      /* the first message, its pointers into msg */
	uint8_t *msg;               /* a copy of it (startup or cancel), NULL: none */
	unsigned rc_flags;          /* RC_PG_* for the rules */
	unsigned flags;             /* PGS_* */
	unsigned need;              /* what the rules read (RULES_F_*), once per session */
	struct pg_scan *scan;       /* looking for BackendKeyData; NULL: not (any more) */
	struct pgkey *key;          /* its entry in the key table, NULL: none */
	struct rule_verdict verdict;
	uint8_t gssenc_refused;     /* GSSENCRequests answered 'N' */
	uint8_t ssl_refused;        /* SSLRequests answered 'N' */
	uint8_t answers;            /* server bytes still to read as answers to requests passed on */
	int cancels;                /* CancelRequests sent for it and not ended yet */
};

#define PGS_REFUSABLE 0x1   /* the client awaits an answer a plain ErrorResponse may be */
#define PGS_SSL_SERVER 0x2  /* ferry answered the SSLRequest: the server gets one, must say 'S' */
#define PGS_HELLO 0x4       /* the rules wait for the TLS ClientHello */
#define PGS_ANSWER 0x8      /* the server's first byte answers an SSLRequest/GSSENCRequest */

/* After the PROXY header (if any): reads the first message. */
void pgedge_start(struct session *s);
void pgedge_timeout(struct session *s);
/* For content inspection of a PostgreSQL session: 1 when the request
 * bytes so far are final (the first message is whole: nothing more comes
 * before an answer, whatever inspect-delay says), 0 while a TLS
 * ClientHello is still incomplete. */
int pgedge_req_final(const struct session *s, const uint8_t *req, size_t len);
/* The connection to the server is made: 0 relay now, 1 an SSLRequest
 * exchange with the server comes first (the session goes on by itself),
 * -1 it failed (closed). */
int pgedge_connected(struct session *s);
void pgedge_server_timeout(struct session *s);
/* Server bytes relayed while the scanner looks for BackendKeyData. */
void pgedge_scan(struct session *s, const uint8_t *p, size_t n);
/* Before the session's sockets close: a readable refusal when due. */
void pgedge_refuse(struct session *s, const char *term);
void pgedge_free(struct session *s);
void pgedge_rule_ctx(const struct session *s, struct rule_ctx *c);

/* pgkeys.c: the process's cancel keys (every thread, every generation). */
struct pgkey_dest {
	struct sockaddr_storage addr;   /* the server the session was connected to */
	socklen_t addrlen;
	struct sockaddr_storage src;    /* its "source", if any */
	socklen_t srclen;
	char be[64], srv[64];           /* for the log */
	int64_t to_connect;             /* its backend's timeout connect */
};
/* Remembers (pid, key) → d. Returns the entry (for pgkeys_del), or NULL
 * (out of memory: that session's cancels are broadcast). */
struct pgkey *pgkeys_add(uint32_t pid, const uint8_t *key, size_t key_len, const struct pgkey_dest *d);
void pgkeys_del(struct pgkey *k);
/* 1 and *d filled when (pid, key) is known, else 0. */
int pgkeys_find(uint32_t pid, const uint8_t *key, size_t key_len, struct pgkey_dest *d);
/* How many keys are held (tests, show info). */
int pgkeys_count(void);

/* pgcancel.c: one CancelRequest sent to one server, on w's loop: connect,
 * write, wait for the server to close; timeout to_ms (0: 5 s). When it
 * ends, pgedge_cancel_done(owner) is called (owner may be NULL). Returns
 * 0, or -1 when it could not even start (then no call). */
int pgcancel_send(struct worker *w, struct session *owner, const struct sockaddr *addr, socklen_t addrlen,
		  const struct sockaddr *src, socklen_t srclen, const uint8_t *msg, size_t len,
		  int64_t to_ms);
/* owner's session is closing: its cancels go on without it. */
void pgcancel_forget_owner(struct worker *w, const struct session *owner);
/* One of the session's cancels ended (pgedge.c). */
void pgedge_cancel_done(struct session *s);
/* Frees the worker's cancels still under way (process stop). */
void pgcancel_free_all(struct worker *w);

/* pgrefuse.c: takes over client fd, which waits for the answer to its
 * SSLRequest: answers 'N', reads its startup message, sends err (an
 * ErrorResponse), closes; bounded by to_ms (at most 5 s). Returns 0 (fd
 * is taken), or -1 (nothing started, or too many under way: the caller
 * still owns fd). */
int pgrefuse_start(struct worker *w, int fd, const uint8_t *err, size_t elen, int64_t to_ms);
void pgrefuse_free_all(struct worker *w);

#endif
