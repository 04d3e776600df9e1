/* The stats frontends' HTTP server ("mode http" frontends that serve
 * HAProxy's statistics page, its CSV and JSON, ferry's dashboard and the
 * Prometheus exporter): listening sockets and connections on worker 0's
 * loop, never on the TCP session path. A reload prepares the new
 * configuration's sockets beside the ones serving (keeping those whose
 * address stays), then switches at once. Everything here runs on worker 0. */
#ifndef FERRY_OPS_HTTP_H
#define FERRY_OPS_HTTP_H
#include <stddef.h>

#include "config/model.h"

struct runtime;

/* Opens the sockets of c's stats frontends that are not open yet (an
 * address already listening keeps its socket). Nothing is served from
 * them before http_commit. Returns 0, or -1 with err filled (nothing
 * changed: http_abort drops what was opened). */
int http_prepare(struct runtime *rt, const struct cfg *c, char *err, size_t errlen);
/* Serves c's stats frontends from now on (c is the configuration given
 * to http_prepare, now rt->cfg): sockets of addresses no longer listed
 * close, with their connections. */
void http_commit(struct runtime *rt);
void http_abort(struct runtime *rt);
/* Stops accepting (graceful stop); open connections finish their request. */
void http_stop_listening(struct runtime *rt);
/* Closes everything (process exit). */
void http_stop(struct runtime *rt);

#endif
