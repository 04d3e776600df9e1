/* The "resolvers" sections and the DNS options of servers, as plain data
 * (config/parse_resolvers.c reads them; src/dns and runtime/resolvers.c
 * run them). */
#ifndef FERRY_CONFIG_RESOLVERS_H
#define FERRY_CONFIG_RESOLVERS_H
#include <stdint.h>
#include <sys/socket.h>

/* An IPv4 or IPv6 address block. */
struct cfg_net {
	int family;                /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int prefix;                /* bits */
};
/* "ADDR", "ADDR/BITS" or "IPv4/NETMASK" (parse_stats_fe.c). Returns 0 or -1. */
int cfg_net_parse(const char *s, struct cfg_net *n);
/* Whether the address a (4 or 16 bytes, of family) is in n. */
int cfg_net_match(const struct cfg_net *n, int family, const unsigned char *a);

struct cfg_nameserver {
	char *name;
	const char *file;
	int line;
	struct sockaddr_storage ss;
	socklen_t len;
	int tcp;                   /* tcp@, tcp4@, tcp6@: DNS over TCP */
	long maxconn;              /* tcp: HAProxy's connection limit (0: none) */
};

/* HAProxy 2.6's defaults (resolvers_new). */
#define RSLV_DEF_RETRIES 3
#define RSLV_DEF_TIMEOUT 1000      /* timeout resolve, timeout retry */
#define RSLV_DEF_HOLD 30000        /* hold nx, other, refused, timeout */
#define RSLV_DEF_HOLD_VALID 10000
#define RSLV_DEF_PAYLOAD 512

struct cfg_resolvers {
	struct cfg_resolvers *next;
	char *name;
	const char *file;
	int line;
	struct cfg_nameserver *ns;
	int nns;
	int retries;               /* resolve_retries */
	int64_t to_resolve, to_retry;
	int64_t hold_valid, hold_nx, hold_other, hold_refused, hold_timeout, hold_obsolete;
	int payload;               /* accepted_payload_size */
};

#define RSLV_O_ALLOW_DUP_IP 0x1    /* resolve-opts allow-dup-ip */
#define RSLV_O_IGNORE_WEIGHT 0x2   /* resolve-opts ignore-weight */
#define RSLV_MAX_NETS 8
#define DNS_HOST_LEN 256        /* a host name, NUL included */

#define INIT_ADDR_MAX 4
enum init_addr { IA_LAST = 1, IA_LIBC, IA_NONE, IA_IP };

/* A server's DNS options; plain values, copied with the options. */
struct cfg_srv_dns {
	char resolvers[64];        /* "" : none */
	int prefer;                /* AF_INET, or AF_INET6 (also when 0: HAProxy's default) */
	int opts;                  /* RSLV_O_* */
	struct cfg_net net[RSLV_MAX_NETS];
	int nnet;
	enum init_addr init[INIT_ADDR_MAX]; /* 0-terminated; all 0: last,libc */
	struct sockaddr_storage init_ip;    /* IA_IP's address */
};

/* init-addr last: what the server state file may give a server, decided
 * once the whole configuration is read (cfg_validate_resolvers). */
struct cfg_srv_last {
	int use;                   /* "last" comes before the method that gave the address */
	int failed;                /* every other method failed: err is said unless "last" gives one */
	int warn;                  /* err is a warning (a server with resolvers starts in maintenance) */
	char err[640];
	char target[DNS_HOST_LEN]; /* a server-template slot: its saved SRV record's target ("": none) */
	int port;                  /* and port */
};

struct cfg;
struct cfg_resolvers *cfg_find_resolvers(const struct cfg *c, const char *name);
void cfg_resolvers_free(struct cfg *c);
/* Checks the servers' "resolvers" names once every section is read
 * (cfg_validate calls it). */
void cfg_validate_resolvers(struct cfg *c);

#endif
