/* Prometheus metrics from the stats model, with the names, labels, types
 * and help texts of HAProxy's built-in exporter (addons/promex, as in
 * HAProxy 2.6 to 3.x): haproxy_process_*, haproxy_frontend_*{proxy=...},
 * haproxy_backend_*{proxy=...}, haproxy_server_*{proxy=...,server=...},
 * plus ferry's own ferry_* (PostgreSQL role, timeline and lag, health
 * check durations, the configuration generation). Served by the stats
 * frontend's /metrics and the stats socket's "show metrics". */
#ifndef FERRY_OPS_METRICS_H
#define FERRY_OPS_METRICS_H
#include "ops/sbuf.h"

struct runtime;

/* Appends the whole scrape (text format 0.0.4) to out. Run on worker 0. */
void metrics_render(const struct runtime *rt, struct sbuf *out);

#endif
