/* Inside the run-time resolvers (resolvers.c, resolvers_carry.c,
 * resolvers_show.c): the live state of a generation's resolvers sections,
 * and the two helpers the reload carry shares with the resolution code. */
#ifndef FERRY_RUNTIME_RESOLVERS_INT_H
#define FERRY_RUNTIME_RESOLVERS_INT_H
#include <stdint.h>

#include "dns/dnsmsg.h"
#include "runtime/dns_tcp.h"
#include "runtime/runtime.h"

#define MAX_SRV_ITEMS 256

struct ns_ctr {
	uint64_t sent, snd_error, valid, update, cname, cname_error, any_err, nx, timeout, refused,
		other, invalid, too_big, truncated, outdated;
};

struct rns {
	const struct cfg_nameserver *cfg;
	struct io io;                  /* UDP; fd -1 for a TCP nameserver */
	struct dns_tcp *tcp;           /* tcp@: its connection; NULL over UDP */
	struct rsec *sec;
	struct ns_ctr c;
};

enum rq_kind { RQ_HOST, RQ_SRV };

struct srv_item {                  /* one SRV record */
	char target[DNS_NAME_LEN];
	int port, weight;
	uint64_t last_seen;
	int follow;                    /* its slot asks for the target's address itself */
	uint64_t restored_until;       /* from the state file, until an answer has it (0: seen) */
	struct server *slot;           /* NULL: no free slot */
};

struct rq {                        /* a requester */
	enum rq_kind kind;
	struct server *srv;            /* RQ_HOST */
	int port;                      /* RQ_HOST: the port it connects to (0: client's) */
	struct server **slots;         /* RQ_SRV: the servers sharing the label */
	int nslots;
	struct srv_item items[MAX_SRV_ITEMS];
	int nitems;
	struct rq *next;               /* same resolution */
};

struct res {                       /* one name asked, with its requesters */
	char name[DNS_NAME_LEN];
	uint16_t prefer, qtype, id;
	int tries, pending, answers;   /* queries out, answers of this round */
	int status;                    /* enum dns_status of the last round; -1: none yet */
	uint64_t last_query, last_res, last_valid;
	struct rq *rqs;
	struct res *next;
};

struct rsec {
	const struct cfg_resolvers *cfg;
	struct generation *g;
	struct rns *ns;
	int nns;
	struct res *res;
	struct timer t;
	struct rsec *next;
};

struct gen_dns {                   /* g->dns */
	struct rsec *secs;
};

/* s's check and agent go to its address (and port, for the check,
 * unless it has its own), unless the check has an address of its own. */
void resolvers_probes_follow(struct server *s);
/* A slot's own A/AAAA resolution of its record's target, when the answer
 * had no additional record for it: a RQ_HOST requester of sec, made now. */
void resolvers_slot_follow(struct rsec *sec, struct server *s, const char *target, int port);

#endif
