/* The TLS ClientHello a client sends first, read without decrypting
 * anything: what HAProxy's req.ssl_sni, req.ssl_alpn, req.ssl_ver and
 * req.ssl_hello_type fetches look at (src/payload.c). A pure function over
 * the bytes received so far: no sockets, no allocation, nothing read past
 * the length given.
 *
 * How content inspection uses it (tcp-request content, phase 2 of issue
 * 11): peek what the client sent, call tls_hello_parse, and
 *   1   the whole ClientHello is there: decide with the fields;
 *   0   a valid beginning of one: wait for more bytes (inspect-delay), then
 *       parse again from the start;
 *  -1   not a ClientHello (or not a valid one, or one larger than HAProxy
 *       can hold): the fetches do not match.
 * The peeked bytes are then relayed unchanged.
 *
 * Where ferry goes past HAProxy 2.6: HAProxy reads the hello as if the
 * first TLS record held all of it, so a hello spread over several records
 * (some clients and TLS libraries fragment a large one) gives no SNI, or
 * reads record headers as hello bytes. ferry follows the hello across the
 * records (each a handshake record of TLS 1.x); a field whose bytes are cut
 * by a record boundary is not reported (sni or alpn NULL), since the
 * pointers point into buf. Split across TCP segments, a hello simply
 * returns 0 until it is all there, as HAProxy waits. */
#ifndef FERRY_PROTO_TLS_HELLO_H
#define FERRY_PROTO_TLS_HELLO_H
#include <stddef.h>
#include <stdint.h>

/* The most bytes a hello may take, record headers included: HAProxy's
 * buffer (tune.bufsize), which it must fit in to be inspected. */
#define TLS_HELLO_MAX 16384
/* The largest record HAProxy's req.ssl_ver accepts: 2^14 + 2048 */
#define TLS_RECORD_MAX (16384 + 2048)

struct tls_hello {
	int hello_type;            /* handshake type of the first message: 1 = ClientHello.
	                              Also set when -1 is returned for a complete
	                              handshake header of another type. */
	unsigned record_ver;       /* the first record's version (0x0301...); 0x0002 for SSLv2 */
	unsigned hello_ver;        /* the ClientHello's client_version (req.ssl_ver) */
	const uint8_t *sni;        /* the first host_name of server_name, NULL when none */
	size_t sni_len;
	const uint8_t *alpn;       /* the ALPN extension's ProtocolNameList body (after its
	                              2-byte length), NULL when none */
	size_t alpn_len;
	unsigned supported_versions_max; /* the highest non-GREASE version of
	                                    supported_versions (0x0304 = TLS 1.3), 0 when none */
	int sslv2;                 /* an SSLv2-compatible hello: HAProxy's req.ssl_ver reads
	                              it, its req.ssl_hello_type does not (no match) */
	size_t len;                /* bytes of buf the hello takes, record headers included */
};

/* Parses the ClientHello at the start of buf (len bytes so far). Returns 1
 * with out filled (pointers into buf), 0 when more bytes are needed, -1
 * when it is not a valid ClientHello or exceeds TLS_HELLO_MAX. */
int tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *out);

#endif
