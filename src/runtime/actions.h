/* What the runtime API's commands change, one function per action (the
 * socket commands and the HTTP dashboard's buttons both end here). Each
 * runs on worker 0, takes the backend lock where the workers read what it
 * changes, and logs in HAProxy's words where HAProxy logs. Functions that
 * can fail return NULL or HAProxy's error sentence (a constant, or text in
 * the caller's buffer). */
#ifndef FERRY_RUNTIME_ACTIONS_H
#define FERRY_RUNTIME_ACTIONS_H
#include "runtime/runtime.h"

/* "clear counters": the maxima (smax, qmax, rate_max, the time maxima);
 * with all, every counter as well (HAProxy's "clear counters all"). */
void act_clear_counters(struct runtime *rt, int all);

#endif
