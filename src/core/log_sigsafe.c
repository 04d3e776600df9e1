#include "core/log_sigsafe.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static long offset_at(time_t t)
{
	struct tm tm;

	return localtime_r(&t, &tm) ? tm.tm_gmtoff : 0;
}

int log_sigsafe_fill(struct log_sigsafe *s, const struct log_targets *t)
{
	time_t now = time(NULL), lo, hi;
	int left = 0;

	memset(s, 0, sizeof(*s));
	for (int i = 0; t && i < t->n; i++) {
		if (s->n < LOG_SIGSAFE_MAX)
			s->v[s->n++] = t->v[i];
		else
			left++;
	}
	/* the offset now, then a probe a day; a change between two probes is
	 * found to the second by bisection */
	s->zone[0].from = now;
	s->zone[0].gmtoff = offset_at(now);
	s->nzone = 1;
	for (int d = 1; d <= LOG_SIGSAFE_DAYS && s->nzone < LOG_SIGSAFE_ZONES; d++) {
		hi = now + (time_t)d * 86400;
		if (offset_at(hi) == s->zone[s->nzone - 1].gmtoff)
			continue;
		lo = hi - 86400; /* offset_at(lo) is the last one known */
		while (hi - lo > 1) {
			time_t mid = lo + (hi - lo) / 2;
			if (offset_at(mid) == s->zone[s->nzone - 1].gmtoff)
				lo = mid;
			else
				hi = mid;
		}
		s->zone[s->nzone].from = hi;
		s->zone[s->nzone].gmtoff = offset_at(hi);
		s->nzone++;
	}
	if (gethostname(s->host, sizeof(s->host)) || !s->host[0])
		strcpy(s->host, "-");
	s->host[sizeof(s->host) - 1] = 0;
	s->pid = (int)getpid();
	return left;
}

long log_sigsafe_gmtoff(const struct log_sigsafe *s, long long t)
{
	long off = s->nzone ? s->zone[0].gmtoff : 0;

	for (int i = 1; i < s->nzone && t >= s->zone[i].from; i++)
		off = s->zone[i].gmtoff;
	return off;
}

char *log_sigsafe_put(char *p, char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

char *log_sigsafe_num(char *p, char *end, long long v, int width, char pad)
{
	char tmp[24];
	int n = 0;

	if (v < 0) {
		if (p < end)
			*p++ = '-';
		v = -v;
	}
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < (int)sizeof(tmp));
	while (n < width && n < (int)sizeof(tmp))
		tmp[n++] = pad;
	while (n && p < end)
		*p++ = tmp[--n];
	return p;
}

/* Year, month (1-12), day of the days since 1970-01-01, proleptic
 * Gregorian: eras of 400 years (146097 days) starting on March 1st, so
 * that the leap day is the last of its year. */
static void civil(long long days, long long *y, int *m, int *d)
{
	long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	long long doe = z - era * 146097;                                 /* 0..146096 */
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);          /* 0..365 */
	long long mp = (5 * doy + 2) / 153;                               /* 0..11, March first */

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

char *log_sigsafe_time(char *out, char *end, long long t, int iso)
{
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	long long days = (t >= 0 ? t : t - 86399) / 86400, secs = t - days * 86400, y;
	char *p = out;
	int m, d;

	civil(days, &y, &m, &d);
	if (iso) {
		p = log_sigsafe_num(p, end, y, 4, '0');
		p = log_sigsafe_put(p, end, "-");
		p = log_sigsafe_num(p, end, m, 2, '0');
		p = log_sigsafe_put(p, end, "-");
		p = log_sigsafe_num(p, end, d, 2, '0');
		p = log_sigsafe_put(p, end, "T");
	} else {
		p = log_sigsafe_put(p, end, mon[m - 1]);
		p = log_sigsafe_put(p, end, " ");
		p = log_sigsafe_num(p, end, d, 2, ' ');
		p = log_sigsafe_put(p, end, " ");
	}
	p = log_sigsafe_num(p, end, secs / 3600, 2, '0');
	p = log_sigsafe_put(p, end, ":");
	p = log_sigsafe_num(p, end, secs / 60 % 60, 2, '0');
	p = log_sigsafe_put(p, end, ":");
	p = log_sigsafe_num(p, end, secs % 60, 2, '0');
	if (iso)
		p = log_sigsafe_put(p, end, "Z");
	return p;
}

void log_sigsafe_send(const struct log_sigsafe *s, int level, const char *line)
{
	struct timespec ts = { 0, 0 };

	clock_gettime(CLOCK_REALTIME, &ts);
	for (int i = 0; i < s->n; i++) {
		const struct log_target *l = &s->v[i];
		char buf[512], *p = buf, *end = buf + sizeof(buf) - 1;
		int lvl = level < l->min_level ? l->min_level : level;

		if (level > l->max_level)
			continue;
		/* the headers of log.c's format_header, field by field */
		if (l->format != LOGF_RAW) {
			p = log_sigsafe_put(p, end, "<");
			p = log_sigsafe_num(p, end, l->facility * 8 + lvl, 1, '0');
			p = log_sigsafe_put(p, end, ">");
		}
		if (l->format == LOGF_RFC3164) {
			p = log_sigsafe_time(p, end, (long long)ts.tv_sec + log_sigsafe_gmtoff(s, ts.tv_sec), 0);
			p = log_sigsafe_put(p, end, " ferry[");
			p = log_sigsafe_num(p, end, s->pid, 1, '0');
			p = log_sigsafe_put(p, end, "]: ");
		} else if (l->format == LOGF_RFC5424) {
			p = log_sigsafe_put(p, end, "1 ");
			p = log_sigsafe_time(p, end, (long long)ts.tv_sec, 1);
			p = log_sigsafe_put(p, end, " ");
			p = log_sigsafe_put(p, end, s->host);
			p = log_sigsafe_put(p, end, " ferry ");
			p = log_sigsafe_num(p, end, s->pid, 1, '0');
			p = log_sigsafe_put(p, end, " - - ");
		}
		p = log_sigsafe_put(p, end, line);
		*p++ = '\n';
		if (l->kind == LOGT_STDOUT || l->kind == LOGT_STDERR) {
			if (write(l->kind == LOGT_STDOUT ? 1 : 2, buf, (size_t)(p - buf)) < 0) {
				/* nothing left to tell it to */
			}
		} else if (l->fd >= 0) {
			if (sendto(l->fd, buf, (size_t)(p - buf - 1), MSG_DONTWAIT | MSG_NOSIGNAL,
				   l->connected ? NULL : (const struct sockaddr *)&l->addr,
				   l->connected ? 0 : l->addrlen) < 0) {
				/* a full or gone collector: the stderr line stays */
			}
		}
	}
}
