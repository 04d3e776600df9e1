/* DNS messages as ferry's resolvers write and read them (RFC 1035, SRV
 * from RFC 2782, the EDNS0 OPT record from RFC 6891): a query builder and
 * a response parser, both pure (no sockets, no allocation). The parser
 * treats its input as hostile: every length and compression pointer is
 * bounded, and a name is at most 255 bytes however it is compressed. */
#ifndef FERRY_DNS_DNSMSG_H
#define FERRY_DNS_DNSMSG_H
#include <stddef.h>
#include <stdint.h>

#define DNS_T_A 1
#define DNS_T_CNAME 5
#define DNS_T_AAAA 28
#define DNS_T_SRV 33
#define DNS_T_OPT 41

#define DNS_NAME_LEN 256   /* a name in text form, NUL included (255 on the wire) */
#define DNS_MAX_RR 64      /* answer and additional records kept; more are ignored */

/* What a response says, in the words of HAProxy's resolvers counters. */
enum dns_status {
	DNS_S_VALID,       /* NOERROR, the question we asked */
	DNS_S_NX,          /* NXDOMAIN */
	DNS_S_REFUSED,     /* REFUSED */
	DNS_S_OTHER,       /* SERVFAIL and the other rcodes */
	DNS_S_INVALID,     /* not a DNS response we can read */
	DNS_S_WRONG_ID,    /* another query's id or question: late or forged */
	DNS_S_TRUNCATED,   /* TC set in an A/AAAA answer: it did not fit (a SRV one is read) */
	DNS_S_CNAME_ERROR, /* dns_answer_chain: a broken CNAME chain */
};

#define DNS_SEC_ANSWER 1
#define DNS_SEC_ADDITIONAL 3

struct dns_rr {
	uint16_t type;
	uint8_t section;            /* DNS_SEC_* */
	uint32_t ttl;
	char name[DNS_NAME_LEN];    /* owner, lower case, no final dot */
	union {
		uint8_t a4[4];
		uint8_t a6[16];
		struct {
			uint16_t prio, weight, port;
			char target[DNS_NAME_LEN];
		} srv;
		char cname[DNS_NAME_LEN];
	} d;
};

struct dns_response {
	uint16_t id;
	int rcode;
	int nrr;                    /* records kept in rr (A, AAAA, SRV, CNAME) */
	int ndropped;               /* records past DNS_MAX_RR */
	struct dns_rr rr[DNS_MAX_RR];
};

/* Writes a query for name (text form, with or without a final dot) and
 * qtype with id into buf (len bytes), recursion desired, and an EDNS0 OPT
 * record announcing payload bytes when payload > 512. Returns its length,
 * or -1 when name is not a valid DNS name or buf is too small. */
int dns_build_query(uint8_t *buf, size_t len, uint16_t id, const char *name, uint16_t qtype,
		    uint16_t payload);

/* Reads the response in buf (len bytes, from the network: anything) to
 * the query (id, name, qtype). Fills out (records of the answer and
 * additional sections; those of the authority section are skipped) and
 * returns what it says. out is filled only for DNS_S_VALID. Never reads
 * outside buf. */
enum dns_status dns_parse_response(const uint8_t *buf, size_t len, uint16_t id, const char *name,
				   uint16_t qtype, struct dns_response *out);

/* Checks the chain of names of a valid A/AAAA answer to name as HAProxy
 * 2.6 does (resolv_validate_dns_response): in the answer section, in
 * order, each record must be owned by the name asked or by the target of
 * the CNAME before it, and the last record must not be a CNAME. Returns
 * DNS_S_VALID and the number of CNAMEs followed (*ncname); DNS_S_INVALID
 * when the first record is another name's; DNS_S_CNAME_ERROR for a
 * later one, or a chain that ends on a CNAME. Pure. */
enum dns_status dns_answer_chain(const struct dns_response *r, const char *name, int *ncname);

/* Text form of a name for comparing: lower case, no final dot. Returns 0,
 * or -1 when it does not fit. */
int dns_name_norm(const char *in, char *out, size_t outlen);

#endif
