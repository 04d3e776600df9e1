/* Logging: process messages on stderr (HAProxy's "[WARNING]  (pid) : ..."
 * style) and log lines sent to configured targets (stdout, stderr, syslog over
 * UDP or a unix datagram socket) in raw, short, rfc3164 or rfc5424 format. */
#ifndef FERRY_CORE_LOG_H
#define FERRY_CORE_LOG_H
#include <stddef.h>
#include <sys/socket.h>

enum log_kind { LOGT_STDOUT, LOGT_STDERR, LOGT_UDP, LOGT_UNIX };
enum log_format { LOGF_RFC3164, LOGF_RFC5424, LOGF_SHORT, LOGF_RAW };

struct log_target {
	enum log_kind kind;
	enum log_format format;
	int facility;     /* 0..23 */
	int max_level;    /* messages above (less severe) are dropped */
	int min_level;    /* messages below (more severe) are raised to it */
	int fd;           /* socket, -1 until opened */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int connected;    /* unix: connected to addr (log_targets_connect) */
};

struct log_targets {
	struct log_target *v;
	int n;
};

/* Names as in syslog(3): "emerg".."debug" → 0..7; -1 when unknown. */
int log_level_by_name(const char *name);
/* "kern".."local7" → 0..23; -1 when unknown. */
int log_facility_by_name(const char *name);
/* Opens the sockets of UDP/unix targets. Returns 0 or -1 with err set. */
int log_targets_open(struct log_targets *t, char *err, size_t errlen);
void log_targets_close(struct log_targets *t);
/* Connects the open unix sockets of t to their paths, so that sending
 * needs no path lookup any more (before a chroot hides it); one that
 * cannot connect (nobody listens yet) goes on sending by path. */
void log_targets_connect(struct log_targets *t);
/* The unix targets of t not open yet take a copy of a connected socket of
 * old to the same path (a reload inside a chroot). */
void log_targets_take(struct log_targets *t, const struct log_targets *old);
/* Sends one line (without trailing newline) to every target whose level lets
 * it through. Never blocks on a socket or pipe: a full one drops the line
 * (stdout/stderr are made non-blocking by log_targets_open when they are a
 * pipe or socket, as HAProxy's fd@ targets). */
void log_send(const struct log_targets *t, int level, const char *line);
/* Lines dropped so far (HAProxy's DroppedLogs). */
unsigned long log_dropped(void);

/* Process messages to stderr. level uses syslog numbering. */
void log_proc(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* When quiet, notices and warnings are not printed (errors still are). */
void log_proc_set_quiet(int quiet);

#define ALERT(...) log_proc(1, __VA_ARGS__)
#define WARN(...) log_proc(4, __VA_ARGS__)
#define NOTICE(...) log_proc(5, __VA_ARGS__)

#endif
