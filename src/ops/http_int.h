/* Inside the stats frontends' HTTP server: what the connection code
 * (http.c) hands to the endpoints (http_stats.c) and back. */
#ifndef FERRY_OPS_HTTP_INT_H
#define FERRY_OPS_HTTP_INT_H
#include <stddef.h>
#include <sys/socket.h>

#include "ops/http.h"
#include "ops/sbuf.h"
#include "runtime/runtime.h"

#define HTTP_HEAD_MAX 15360  /* request line + headers: HAProxy's bufsize less its reserve */
#define HTTP_BODY_MAX 8192   /* a POST's body (the admin form is a few hundred bytes) */
#define HTTP_URI_MAX 4096

struct http_conn;

/* One parsed request. Pointers stay valid until the handler returns. */
struct http_req {
	char method[16];
	char uri[HTTP_URI_MAX];       /* as sent (origin form; an absolute URI loses its scheme and host) */
	int head;                     /* HEAD: the reply has no body */
	const char *auth;             /* the Authorization header's value, or NULL */
	size_t authlen;
	int want_json;                /* Accept names application/json (the dashboard's own requests) */
	const char *body;             /* Content-Length bytes */
	size_t bodylen;
	const struct sockaddr *peer;
};

enum { HTTP_DONE = 0, HTTP_ASYNC = 1 };

/* http_stats.c: answers req for the stats frontend px. Returns HTTP_DONE
 * once the reply is written (http_reply), or HTTP_ASYNC when it comes
 * later (an admin action running): the connection waits for
 * http_reply_async. */
int http_stats_handle(struct runtime *rt, struct http_conn *c, const struct cfg_proxy *px,
		      const struct http_req *req);
/* The connection is closing while an HTTP_ASYNC request runs: forget it. */
void http_stats_cancel(struct http_conn *c, void *async);

/* http.c: writes a whole reply. ctype NULL: no content-type; extra: more
 * header lines, each ending in "\r\n" (or NULL). */
void http_reply(struct http_conn *c, const struct http_req *req, int status, const char *ctype,
		const char *extra, const char *body, size_t len);
/* The HTTP_ASYNC request's reply is written: the connection goes on. */
void http_async_done(struct http_conn *c);
/* Registers what http_stats_cancel gets if the connection closes first. */
void http_async_set(struct http_conn *c, void *async);

/* http_data.c: the dashboard's JSON (";data"). */
void http_data_render(struct sbuf *o, const struct runtime *rt, const struct cfg_proxy *px, int admin);

/* dashboard_html.c (generated from dashboard.html by the Makefile). */
extern const char dashboard_html[];
extern const size_t dashboard_html_len;

#endif
