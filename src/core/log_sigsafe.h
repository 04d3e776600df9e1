/* A log line from a signal handler (the system-call filter's SIGSYS): the
 * global log targets copied beforehand, and a sender that only formats by
 * hand and calls clock_gettime, write and sendto, all async-signal-safe
 * (log_send's snprintf, localtime_r and gethostname are not). */
#ifndef FERRY_CORE_LOG_SIGSAFE_H
#define FERRY_CORE_LOG_SIGSAFE_H
#include <stddef.h>
#include <time.h>

#include "core/log.h"

#define LOG_SIGSAFE_MAX 8 /* targets kept (a global section has one or two) */

struct log_sigsafe {
	int n;
	struct log_target v[LOG_SIGSAFE_MAX];
	long gmtoff;    /* local time minus UTC, seconds, when filled (rfc3164) */
	char host[64];  /* rfc5424's HOSTNAME */
	int pid;
};

/* Copies the targets of t (the first LOG_SIGSAFE_MAX) with what their
 * headers need that a handler cannot ask for. Not in a handler. */
void log_sigsafe_fill(struct log_sigsafe *s, const struct log_targets *t);
/* Sends line at level to every target of s that lets it through, in the
 * target's format, as log_send does. Async-signal-safe. */
void log_sigsafe_send(const struct log_sigsafe *s, int level, const char *line);
/* "Mmm dd hh:mm:ss" (rfc3164, day padded with a space) or, with iso,
 * "YYYY-MM-DDThh:mm:ssZ", of t seconds since the epoch; returns the end of
 * what it wrote at out (at most 20 bytes, no terminator). Pure. */
char *log_sigsafe_time(char *out, long long t, int iso);
#endif
