/* The PROXY protocol (HAProxy's doc/proxy-protocol.txt), versions 1 and 2:
 * a parser for the header a client (a load balancer in front of ferry)
 * sends first, and builders for the header ferry sends first to a server
 * ("send-proxy", "send-proxy-v2"). Pure functions over byte buffers: no
 * sockets, no allocation, nothing read past the length given.
 *
 * How the receiving side uses the parser (accept-proxy, expect-proxy:
 * phase 2 of issue 11). The session peeks (recv MSG_PEEK) what arrived and
 * calls pp_parse on it:
 *   > 0  the header is complete and that many bytes long: read exactly that
 *        many bytes off the socket (never more: the client's payload may be
 *        glued after the header and belongs to the server), then use info;
 *    0   what arrived is a valid beginning of a header: wait for more bytes
 *        (up to the inspection timeout), then parse again from the start;
 *   -1   not a valid header (info->reason says why, for the log): close the
 *        connection, send nothing to any server.
 * A header is never guessed: bytes that cannot begin either signature are
 * -1 as soon as one byte disagrees.
 *
 * Limits, as HAProxy 2.6's conn_recv_proxy reads them: a v1 line is at most
 * PP_V1_MAX bytes with its CRLF (the spec's 107); a v2 header is 16 bytes
 * plus the length its header announces, and HAProxy peeks it into one
 * buffer of tune.bufsize (16384 bytes), so a longer one (PP_V2_MAX) can
 * never complete: -1 at once. An AUTHORITY TLV longer than 255 bytes or a
 * UNIQUE_ID TLV longer than 128 is invalid, as in HAProxy; a CRC32C TLV
 * must be 4 bytes and match. */
#ifndef FERRY_PROTO_PROXYPROTO_H
#define FERRY_PROTO_PROXYPROTO_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PP_V1_MAX 107          /* "PROXY TCP6 <39> <39> 65535 65535\r\n" */
#define PP_V2_SIG_LEN 12
#define PP_V2_HDR_LEN 16       /* signature, version/command, family, length */
#define PP_V2_MAX 16384        /* HAProxy's tune.bufsize: the most it can peek */
#define PP_AUTHORITY_MAX 255   /* HAProxy's PP2_AUTHORITY_MAX */
#define PP_UNIQUE_ID_MAX 128   /* HAProxy's UNIQUEID_LEN */

extern const uint8_t pp_v2_sig[PP_V2_SIG_LEN];

/* TLV types of version 2 */
#define PP2_TYPE_ALPN 0x01
#define PP2_TYPE_AUTHORITY 0x02
#define PP2_TYPE_CRC32C 0x03
#define PP2_TYPE_NOOP 0x04
#define PP2_TYPE_UNIQUE_ID 0x05
#define PP2_TYPE_SSL 0x20
#define PP2_TYPE_NETNS 0x30

enum pp_cmd { PP_CMD_LOCAL, PP_CMD_PROXY };
enum pp_fam { PP_FAM_UNSPEC, PP_FAM_INET, PP_FAM_INET6, PP_FAM_UNIX };

/* What a header says. Pointers point into the parsed buffer: they live as
 * long as it does. */
struct pp_info {
	int version;               /* 1 or 2 */
	enum pp_cmd command;       /* v1: always PROXY ("UNKNOWN" is PROXY + UNSPEC) */
	enum pp_fam family;
	int transport;             /* v2's low nibble: 0 unspec, 1 stream, 2 datagram (v1: 1) */
	/* The original client (src) and the address it connected to (dst):
	 * AF_INET, AF_INET6 or AF_UNIX when the command is PROXY and the
	 * family one of those; ss_family 0 otherwise (LOCAL, UNSPEC,
	 * "UNKNOWN"), when the connection's own addresses stay in force. */
	struct sockaddr_storage src, dst;
	/* v2: every TLV after the addresses, as sent (walk with pp_tlv_next). */
	const uint8_t *tlvs;
	size_t tlvs_len;
	/* The TLVs ferry reads itself; NULL when absent. */
	const uint8_t *authority;  /* PP2_TYPE_AUTHORITY (the client's SNI upstream) */
	size_t authority_len;
	const uint8_t *unique_id;  /* PP2_TYPE_UNIQUE_ID */
	size_t unique_id_len;
	const uint8_t *alpn;       /* PP2_TYPE_ALPN */
	size_t alpn_len;
	int crc32c_checked;        /* a CRC32C TLV was present and matched */
	const char *reason;        /* -1: why the header is refused (static text) */
};

/* Parses the PROXY header at the start of buf (len bytes arrived so far),
 * v1 or v2 by its signature. Returns the header's length when it is
 * complete (out filled), 0 when the bytes so far are a valid beginning of
 * one, or -1 with out->reason set. Never reads past buf + len. */
int pp_parse(const uint8_t *buf, size_t len, struct pp_info *out);

/* One TLV of a parsed v2 header. Start with *pos = 0; returns 1 with the
 * TLV's type and value (pointing into the header) and *pos moved past it,
 * or 0 when there are no more. pp_parse checked the lengths. */
int pp_tlv_next(const struct pp_info *pi, size_t *pos, uint8_t *type, const uint8_t **val,
		size_t *len);

/* Writes a v1 line for a connection from src to dst (the client's address
 * and the one it connected to) into out: "PROXY TCP4|TCP6 ...\r\n", or
 * "PROXY UNKNOWN\r\n" when either is NULL or not IPv4/IPv6. A mix of IPv4
 * and IPv6 is written as TCP6 with the IPv4 one as ::ffff:a.b.c.d, as
 * HAProxy's make_proxy_line_v1. Returns the length, or 0 when cap is too
 * small. No NUL is written. */
size_t pp_build_v1(uint8_t *out, size_t cap, const struct sockaddr *src, const struct sockaddr *dst);

#define PP_O_CRC32C 0x1        /* proxy-v2-options crc32c */
#define PP_O_AUTHORITY 0x2     /* proxy-v2-options authority */
#define PP_O_UNIQUE_ID 0x4     /* proxy-v2-options unique-id */
#define PP_O_SSL 0x8           /* proxy-v2-options ssl: an SSL TLV, here always the one of a
                                  connection that is not TLS (client 0, verify 0) */

/* The most a header ferry builds may take: the address block of IPv6, the
 * CRC, an ALPN list and an authority, a unique id, the SSL TLV. */
#define PP_BUILD_MAX (PP_V2_HDR_LEN + 36 + 7 + (3 + 255) + (3 + PP_AUTHORITY_MAX) + \
		      (3 + PP_UNIQUE_ID_MAX) + 8)

/* What a v2 header carries. */
struct pp_v2_args {
	/* NULL (or not IPv4/IPv6): a LOCAL header with family UNSPEC, as
	 * HAProxy sends on its own connections (health checks) */
	const struct sockaddr *src, *dst;
	unsigned opts;             /* PP_O_* */
	/* TLVs, in HAProxy's order after CRC32C: ALPN when alpn is not NULL,
	 * AUTHORITY when PP_O_AUTHORITY and authority is not NULL, UNIQUE_ID
	 * when PP_O_UNIQUE_ID and unique_id is not NULL (an empty one is
	 * sent empty, as HAProxy does without unique-id-format). */
	const uint8_t *alpn;
	size_t alpn_len;
	const uint8_t *authority;
	size_t authority_len;
	const uint8_t *unique_id;
	size_t unique_id_len;
};

/* Writes a v2 header (HAProxy's make_proxy_line_v2 layout: PROXY command,
 * STREAM transport, addresses, then CRC32C, ALPN, AUTHORITY, UNIQUE_ID, SSL;
 * CRC32C computed last over the whole header) into out. Returns its
 * length, or 0 when cap is too small or a TLV is longer than 65535. */
size_t pp_build_v2(uint8_t *out, size_t cap, const struct pp_v2_args *a);

/* CRC32C (Castagnoli, as HAProxy's hash_crc32c): crc32c_update(0, p, n)
 * over a whole buffer; chain calls by passing the previous result. */
uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t n);

#endif
