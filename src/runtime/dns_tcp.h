/* DNS over TCP to one nameserver ("nameserver ns1 tcp@10.0.0.53:53"):
 * every message preceded by its length on 2 bytes (RFC 1035 4.2.2).
 * One connection per nameserver, opened without blocking when a query is
 * to go and none is open, kept while it is used, every query pipelined on
 * it (RFC 7766 6.2.1); closed after DNS_TCP_IDLE_MS without traffic, or
 * when the server closes it or fails (the queries it carried are sent
 * again by the resolvers' retry timer, on a new connection). Runs on one
 * loop (worker 0). The messages it reads go to a callback, which reads
 * them with the same pure parser as those over UDP. */
#ifndef FERRY_RUNTIME_DNS_TCP_H
#define FERRY_RUNTIME_DNS_TCP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "event/loop.h"

#define DNS_TCP_OUT 16384         /* queries waiting to be written, prefixes included */
#define DNS_TCP_IN (2 + 65535)    /* the largest message and its prefix */
#define DNS_TCP_IDLE_MS 5000      /* HAProxy closes idle DNS sessions every 5s */

struct dns_tcp;
/* A whole message read (len 0 to 65535 bytes); arg is dns_tcp_init's. */
typedef void (*dns_tcp_msg_cb)(void *arg, const uint8_t *msg, size_t len);

struct dns_tcp {
	struct io io;                 /* fd -1: no connection */
	struct loop *loop;
	struct sockaddr_storage to;
	socklen_t tolen;
	int connected;                /* the connect completed */
	uint64_t last_use;            /* last byte written or read */
	uint64_t nconn;               /* connections opened so far */
	dns_tcp_msg_cb on_msg;
	void *arg;
	size_t olen, ilen;
	uint8_t out[DNS_TCP_OUT];
	uint8_t *in;                  /* DNS_TCP_IN bytes while connected */
};

void dns_tcp_init(struct dns_tcp *t, struct loop *l, const struct sockaddr_storage *to, socklen_t tolen,
		  dns_tcp_msg_cb cb, void *arg);
/* Queues msg (len <= 65535) on t's connection, opening one when none is
 * open. Returns 0, or -1 when it cannot go: no room left in the queue,
 * no socket. */
int dns_tcp_send(struct dns_tcp *t, const uint8_t *msg, size_t len);
/* Closes t's connection when it carried nothing for DNS_TCP_IDLE_MS. */
void dns_tcp_idle(struct dns_tcp *t, uint64_t now_ms);
/* Closes t's connection (what was queued is dropped). */
void dns_tcp_close(struct dns_tcp *t);

#endif
