/* PostgreSQL wire protocol, the parts a balancer meets at the edge of a
 * connection (protocol 3.0 and 3.2, PostgreSQL's
 * src/backend/tcop/backend_startup.c and the "Message Formats" chapter):
 *
 * - the client's first message: StartupMessage, SSLRequest, GSSENCRequest,
 *   CancelRequest, or the first TLS record of a direct-TLS client
 *   (PostgreSQL 17's sslnegotiation=direct);
 * - the server's first messages, scanned for BackendKeyData (the key a
 *   later CancelRequest must quote) until ReadyForQuery or an error;
 * - the messages ferry writes itself: ErrorResponse (a readable refusal)
 *   and CancelRequest.
 *
 * Pure: no sockets, no allocation. Every parser treats its input as
 * hostile: it reads nothing past the length it is given, and a length
 * field is checked before it is used. */
#ifndef FERRY_PROTO_PGWIRE_H
#define FERRY_PROTO_PGWIRE_H
#include <stddef.h>
#include <stdint.h>

#define PG_STARTUP_MAX 10000       /* PostgreSQL's MAX_STARTUP_PACKET_LENGTH */
#define PG_CANCEL_KEY_MAX 256      /* protocol 3.2: a secret key of up to 256 bytes */
#define PG_CODE_CANCEL 80877102u   /* 1234.5678 */
#define PG_CODE_SSL 80877103u      /* 1234.5679 */
#define PG_CODE_GSSENC 80877104u   /* 1234.5680 */
#define PG_PROTO(maj, min) (((uint32_t)(maj) << 16) | (uint32_t)(min))

enum pg_first_kind {
	PG_FIRST_STARTUP = 1, /* StartupMessage, protocol 3.x */
	PG_FIRST_SSL,         /* SSLRequest (exactly 8 bytes) */
	PG_FIRST_GSSENC,      /* GSSENCRequest (exactly 8 bytes) */
	PG_FIRST_CANCEL,      /* CancelRequest: 4-byte key (3.0) or up to 256 bytes (3.2) */
	PG_FIRST_TLS,         /* a TLS handshake record (0x16 0x03 ...): direct TLS; len is 0,
	                         the bytes are the ClientHello for the TLS parser */
};

/* A parsed first message. Pointers point into the caller's buffer. */
struct pg_first {
	enum pg_first_kind kind;
	uint32_t len;              /* the message's whole length, length word included */
	uint32_t proto;            /* STARTUP: the version asked for, PG_PROTO(3, minor); also set for an unsupported major */
	const char *params;        /* STARTUP: name\0value\0 pairs ... (the final \0 excluded) */
	size_t params_len;
	uint32_t pid;              /* CANCEL: the backend's process id */
	const uint8_t *key;        /* CANCEL: the secret key */
	size_t key_len;            /* 4 (protocol 3.0) up to PG_CANCEL_KEY_MAX */
	const char *reason;        /* when refused (-1): why, for the log */
};

/* Parses the first message of a client from the n bytes received so far.
 * Returns its length (> 0) once it is complete (for PG_FIRST_TLS: 1, with
 * m->len 0: the bytes are not taken off), 0 when more bytes are needed
 * (fewer than 8, or fewer than the length word says), -1 when it is not a
 * message PostgreSQL would accept (m->reason says why): a length under 8
 * or over PG_STARTUP_MAX, a protocol major version other than 3, an
 * SSLRequest or GSSENCRequest whose length is not 8, a CancelRequest
 * whose key is shorter than 4 or longer than PG_CANCEL_KEY_MAX bytes, a
 * startup message whose parameters are not NUL-terminated pairs ending in
 * an empty name, or has no "user". */
int pg_first_parse(const uint8_t *buf, size_t n, struct pg_first *m);

/* The value of startup parameter name (NUL-terminated, in the caller's
 * buffer), or NULL when the client did not send it. "database" defaults
 * to "user" as PostgreSQL does. */
const char *pg_startup_param(const struct pg_first *m, const char *name);

/* Writes an ErrorResponse (severity S and V fields, SQLSTATE C, message M)
 * into out. Returns the bytes written, or 0 when cap is too small (the
 * message is cut to fit first: at most 200 bytes of msg are used). */
size_t pg_error_build(uint8_t *out, size_t cap, const char *severity, const char *sqlstate,
		      const char *msg);

/* Writes a CancelRequest for (pid, key) into out. Returns the bytes
 * written (12 + key_len), or 0 when cap is too small or key_len is not
 * 4..PG_CANCEL_KEY_MAX. */
size_t pg_cancel_build(uint8_t *out, size_t cap, uint32_t pid, const uint8_t *key, size_t key_len);

/* Server-to-client scanner: fed the server's bytes in order, in pieces of
 * any size, it follows message boundaries (type byte, 4-byte length) and
 * keeps BackendKeyData's contents. It stops at ReadyForQuery, at an
 * ErrorResponse, after BackendKeyData, or at anything that is not a valid
 * message (a length under 4, or a BackendKeyData key outside 4..256). */
enum pg_scan_res {
	PG_SCAN_MORE = 0, /* feed it more */
	PG_SCAN_KEY,      /* BackendKeyData seen: pid, key, key_len are set; done */
	PG_SCAN_DONE,     /* no key will come (ReadyForQuery or ErrorResponse first, or garbage) */
};

struct pg_scan {
	uint8_t hdr[5];            /* the current message's header so far */
	uint8_t nhdr;
	uint8_t type;
	uint32_t left;             /* body bytes of the current message still to pass */
	uint32_t body_len;
	uint32_t got;              /* BackendKeyData body bytes kept */
	uint8_t body[4 + PG_CANCEL_KEY_MAX];
	int done;                  /* 0 while scanning, else the pg_scan_res it ended with */
	uint32_t pid;
	uint8_t key[PG_CANCEL_KEY_MAX];
	size_t key_len;
};

void pg_scan_init(struct pg_scan *sc);
/* Feeds n bytes. Returns PG_SCAN_MORE, or once finished the same final
 * result at every later call (bytes after the end are not looked at). */
enum pg_scan_res pg_scan_feed(struct pg_scan *sc, const uint8_t *p, size_t n);

#endif
