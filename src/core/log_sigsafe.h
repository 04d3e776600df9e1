/* A log line from a signal handler (the system-call filter's SIGSYS): the
 * global log targets copied beforehand, and a sender that only formats by
 * hand and calls clock_gettime, write and sendto, all async-signal-safe
 * (log_send's snprintf, localtime_r and gethostname are not). */
#ifndef FERRY_CORE_LOG_SIGSAFE_H
#define FERRY_CORE_LOG_SIGSAFE_H
#include <limits.h>
#include <stddef.h>
#include <time.h>

#include "core/log.h"

#define LOG_SIGSAFE_MAX 8 /* targets kept (a global section has one or two) */
#define LOG_SIGSAFE_DAYS 400 /* how far ahead the offset changes are known */
#define LOG_SIGSAFE_ZONES 8  /* the offset now and its changes in that time */

struct log_sigsafe {
	int n;
	struct log_target v[LOG_SIGSAFE_MAX];
	/* local time minus UTC (rfc3164): the offset when filled, then each
	 * change of it (summer time) over the next LOG_SIGSAFE_DAYS days */
	int nzone;
	struct { long long from; long gmtoff; } zone[LOG_SIGSAFE_ZONES];
	char host[HOST_NAME_MAX + 1];  /* rfc5424's HOSTNAME */
	int pid;
};

/* Copies the targets of t (the first LOG_SIGSAFE_MAX; returns how many
 * were left out) with what their headers need that a handler cannot ask
 * for: the host name, the pid, and the local time's offset from UTC and
 * its changes over the next LOG_SIGSAFE_DAYS days (localtime_r takes a
 * lock and may read the zone file). Not in a handler. */
int log_sigsafe_fill(struct log_sigsafe *s, const struct log_targets *t);
/* The offset from UTC at t (seconds since the epoch), from the table. */
long log_sigsafe_gmtoff(const struct log_sigsafe *s, long long t);
/* Sends line at level to every target of s that lets it through, in the
 * target's format, as log_send does. Async-signal-safe. */
void log_sigsafe_send(const struct log_sigsafe *s, int level, const char *line);
/* "Mmm dd hh:mm:ss" (rfc3164, day padded with a space) or, with iso,
 * "YYYY-MM-DDThh:mm:ssZ", of t seconds since the epoch, written at out
 * but not at or past end; returns the end of what it wrote (at most 20
 * bytes, no terminator). Pure. */
char *log_sigsafe_time(char *out, char *end, long long t, int iso);
/* The text s, then v in decimal (at least width characters, padded on the
 * left with pad), written at p but not at or past end; each returns the end
 * of what it wrote. Async-signal-safe (the SIGSYS handler's line uses them
 * too). */
char *log_sigsafe_put(char *p, char *end, const char *s);
char *log_sigsafe_num(char *p, char *end, long long v, int width, char pad);
#endif
