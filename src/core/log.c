#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int proc_quiet;
static unsigned long dropped;   /* log lines a full pipe or socket refused (atomic) */

static const char *const level_names[] = { "emerg", "alert", "crit", "err",
					   "warning", "notice", "info", "debug", NULL };
static const char *const facility_names[] = {
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6",
	"local7", NULL
};

int log_level_by_name(const char *name)
{
	for (int i = 0; level_names[i]; i++)
		if (!strcmp(level_names[i], name))
			return i;
	return -1;
}

int log_facility_by_name(const char *name)
{
	for (int i = 0; facility_names[i]; i++)
		if (!strcmp(facility_names[i], name))
			return i;
	return -1;
}

int log_targets_open(struct log_targets *t, char *err, size_t errlen)
{
	for (int i = 0; i < t->n; i++) {
		struct log_target *l = &t->v[i];
		int dom;

		if (l->kind == LOGT_STDOUT || l->kind == LOGT_STDERR) {
			/* as HAProxy's fd@1/fd@2: a pipe or socket nobody reads
			 * (a stalled log collector) must not stop the traffic, so
			 * writes to it never block and a full one drops the line;
			 * a terminal or file is written as is */
			int fd = l->kind == LOGT_STDOUT ? 1 : 2, fl = fcntl(fd, F_GETFL);
			struct stat st;
			if (fl != -1 && fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
				fcntl(fd, F_SETFL, fl | O_NONBLOCK);
			continue;
		}
		if (l->kind != LOGT_UDP && l->kind != LOGT_UNIX)
			continue;
		if (l->fd >= 0)
			continue;
		dom = l->kind == LOGT_UNIX ? AF_UNIX : l->addr.ss_family;
		l->fd = socket(dom, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (l->fd == -1) {
			snprintf(err, errlen, "cannot create log socket: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

void log_targets_connect(struct log_targets *t)
{
	for (int i = 0; i < t->n; i++) {
		struct log_target *l = &t->v[i];
		if (l->kind == LOGT_UNIX && l->fd >= 0 && !l->connected &&
		    connect(l->fd, (const struct sockaddr *)&l->addr, l->addrlen) == 0)
			l->connected = 1;
	}
}

void log_targets_take(struct log_targets *t, const struct log_targets *old)
{
	for (int i = 0; i < t->n; i++) {
		struct log_target *l = &t->v[i];
		for (int j = 0; old && j < old->n && l->kind == LOGT_UNIX && l->fd < 0; j++) {
			const struct log_target *o = &old->v[j];
			if (o->kind == LOGT_UNIX && o->connected && o->addrlen == l->addrlen &&
			    !memcmp(&o->addr, &l->addr, l->addrlen)) {
				l->fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
				l->connected = l->fd >= 0;
			}
		}
	}
}

void log_targets_close(struct log_targets *t)
{
	for (int i = 0; i < t->n; i++) {
		if (t->v[i].fd >= 0)
			close(t->v[i].fd);
		t->v[i].fd = -1;
		t->v[i].connected = 0;
	}
}

static size_t format_header(const struct log_target *l, int level, char *buf,
			    size_t len)
{
	int pri = l->facility * 8 + level;
	time_t now = time(NULL);
	struct tm tm;
	char ts[64], host[128] = "-";
	int n = 0;

	switch (l->format) {
	case LOGF_RAW:
		return 0;
	case LOGF_SHORT:
		n = snprintf(buf, len, "<%d>", pri);
		break;
	case LOGF_RFC3164:
		localtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%b %e %H:%M:%S", &tm);
		n = snprintf(buf, len, "<%d>%s ferry[%d]: ", pri, ts, (int)getpid());
		break;
	case LOGF_RFC5424:
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		gethostname(host, sizeof(host) - 1);
		n = snprintf(buf, len, "<%d>1 %s %s ferry %d - - ", pri, ts, host,
			     (int)getpid());
		break;
	}
	return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
}

void log_send(const struct log_targets *t, int level, const char *line)
{
	char buf[2048];

	for (int i = 0; t && i < t->n; i++) {
		const struct log_target *l = &t->v[i];
		int lvl = level;
		size_t n;
		int m;

		if (level > l->max_level)
			continue;
		if (lvl < l->min_level)
			lvl = l->min_level;
		n = format_header(l, lvl, buf, sizeof(buf));
		m = snprintf(buf + n, sizeof(buf) - n, "%s\n", line);
		n += (m < 0) ? 0 : ((size_t)m >= sizeof(buf) - n ? sizeof(buf) - n - 1 : (size_t)m);
		switch (l->kind) {
		case LOGT_STDOUT:
		case LOGT_STDERR:
			/* one write() per line keeps lines whole between processes */
			if (write(l->kind == LOGT_STDOUT ? 1 : 2, buf, n) != (ssize_t)n)
				__atomic_add_fetch(&dropped, 1, __ATOMIC_RELAXED);
			break;
		case LOGT_UDP:
		case LOGT_UNIX:
			if (l->fd < 0 || sendto(l->fd, buf, n - 1, MSG_DONTWAIT | MSG_NOSIGNAL,
						l->connected ? NULL : (const struct sockaddr *)&l->addr,
						l->connected ? 0 : l->addrlen) < 0)
				__atomic_add_fetch(&dropped, 1, __ATOMIC_RELAXED);
			break;
		}
	}
}

unsigned long log_dropped(void)
{
	return __atomic_load_n(&dropped, __ATOMIC_RELAXED);
}

void log_proc_set_quiet(int quiet)
{
	proc_quiet = quiet;
}

void log_proc(int level, const char *fmt, ...)
{
	static const char *const tags[] = { "[EMERG]", "[ALERT]", "[CRIT]", "[ERROR]",
					    "[WARNING]", "[NOTICE]", "[INFO]", "[DEBUG]" };
	char buf[2048];
	va_list ap;
	int n;

	if (proc_quiet && level > 3)
		return;
	n = snprintf(buf, sizeof(buf), "%-10s (%d) : ", tags[level & 7], (int)getpid());
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(buf);
	buf[n++] = '\n';
	if (write(2, buf, (size_t)n) < 0) {
		/* stderr gone: nothing left to tell */
	}
}
