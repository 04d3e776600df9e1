/* HTTP/1 for health checks, pure (no sockets, no state): the request bytes
 * HAProxy 2.6.12 writes for an http-check send rule, and a bounded reader
 * of the response that treats every byte as hostile (unit tested in
 * tests/unit/test_httpmsg.c). */
#ifndef FERRY_HEALTH_HTTPMSG_H
#define FERRY_HEALTH_HTTPMSG_H
#include <stddef.h>
#include <stdint.h>

#include "config/model.h"

/* Writes the request of send rule h into out (at most cap bytes), with
 * state as the X-Haproxy-Server-State value when not NULL. Returns its
 * length, or 0 when it does not fit. */
size_t httpmsg_request(const struct tcr_http *h, const char *state, char *out, size_t cap);

#define HTTPMSG_MAXHDR 101 /* HAProxy's tune.http.maxhdr: one more is an invalid response */

enum httpmsg_ret { HMSG_MORE, HMSG_BAD, HMSG_DONE };
enum httpmsg_body { HB_NONE, HB_CLEN, HB_CHUNKED, HB_CLOSE };

struct httpmsg_hdr {
	const char *n, *v;  /* pointers into the parsed buffer */
	size_t nl, vl;
};

struct httpmsg_resp {
	int status;
	const char *reason;
	size_t reason_len;
	int nhdr;
	struct httpmsg_hdr hdr[HTTPMSG_MAXHDR];
	size_t body_off;    /* where the body starts */
	enum httpmsg_body body;
	uint64_t clen;      /* HB_CLEN */
};

/* Parses the status line and headers of buf[0..len). HMSG_MORE: not all
 * there yet; HMSG_BAD: not a valid HTTP/1 response head; HMSG_DONE: *r is
 * filled. head_req: the request was HEAD (no body follows). */
enum httpmsg_ret httpmsg_parse_head(const char *buf, size_t len, int head_req, struct httpmsg_resp *r);

/* Copies the body received so far (chunks decoded) into out, at most cap
 * bytes; *complete is set once the whole body is there. Returns its
 * length, or -1 for a malformed chunked body. */
long httpmsg_body(const char *buf, size_t len, const struct httpmsg_resp *r, char *out, size_t cap,
		  int *complete);

#endif
