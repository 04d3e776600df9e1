/* The "log" line of the global, defaults and proxy sections: its target
 * (stdout, stderr, a UDP address, a unix socket), format, facility and
 * levels, added to a list of log targets. */
#include "config/parse_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static int log_target_parse(struct pctx *p, const char *s, struct log_target *l)
{
	char err[256];
	struct addr_spec a;
	const char *addr = s;

	l->fd = -1;
	if (!strcmp(s, "stdout") || !strcmp(s, "fd@1")) {
		l->kind = LOGT_STDOUT;
		l->format = LOGF_RAW;
		return 0;
	}
	if (!strcmp(s, "stderr") || !strcmp(s, "fd@2")) {
		l->kind = LOGT_STDERR;
		l->format = LOGF_RAW;
		return 0;
	}
	if (!strncmp(s, "unix@", 5) || s[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)&l->addr;
		const char *path = s[0] == '/' ? s : s + 5;
		if (strlen(path) >= sizeof(un->sun_path)) {
			perr(p, "log socket path too long: '%s'", path);
			return -1;
		}
		l->kind = LOGT_UNIX;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		l->addrlen = sizeof(*un);
		return 0;
	}
	if (!strncmp(s, "udp@", 4))
		addr = s + 4;
	else if (!strncmp(s, "udp4@", 5) || !strncmp(s, "udp6@", 5))
		addr = s + 5;
	else if (strchr(s, '@')) {
		perr(p, "unsupported log target '%s' (ferry logs to stdout, stderr, a UDP address or a unix socket)", s);
		return -1;
	}
	if (addr_parse(addr, ADDR_F_PORT_OPTIONAL | ADDR_F_RESOLVE, &a, err, sizeof(err))) {
		perr(p, "log target '%s': %s", s, err);
		return -1;
	}
	if (!a.port_lo)
		addr_set_port((struct sockaddr *)&a.ss, 514);
	l->kind = LOGT_UDP;
	l->addr = a.ss;
	l->addrlen = a.len;
	return 0;
}

void parse_log_line(struct pctx *p, struct cfg_words *w, struct log_targets *t,
		    int *log_global, int allow_global)
{
	struct log_target l = { 0 };
	int i = 2;

	if (w->n < 2) {
		perr(p, "'log' expects 'global' or a target and a facility");
		return;
	}
	if (!strcmp(w->w[1], "global")) {
		if (!allow_global)
			perr(p, "'log global' is only valid in defaults, frontend, backend and listen sections");
		else
			*log_global = 1;
		return;
	}
	if (log_target_parse(p, w->w[1], &l))
		return;
	l.max_level = 7;
	l.min_level = 0;
	while (i < w->n) {
		/* len and sample are accepted and change nothing: ferry caps
		 * lines at 2 KiB and logs every one */
		if (!strcmp(w->w[i], "len")) {
			long len;
			if (arg_int(p, "len", w->w[i + 1], 80, 65535, &len))
				return;
			i += 2;
			continue;
		}
		if (!strcmp(w->w[i], "sample")) {
			if (!w->w[i + 1]) {
				perr(p, "'sample' expects <ranges>:<size>");
				return;
			}
			i += 2;
			continue;
		}
		if (!strcmp(w->w[i], "format")) {
			const char *f = w->w[i + 1];
			if (!f) {
				perr(p, "'format' expects raw, short, rfc3164 or rfc5424");
				return;
			}
			if (!strcmp(f, "raw")) l.format = LOGF_RAW;
			else if (!strcmp(f, "short")) l.format = LOGF_SHORT;
			else if (!strcmp(f, "rfc3164") || !strcmp(f, "local")) l.format = LOGF_RFC3164;
			else if (!strcmp(f, "rfc5424")) l.format = LOGF_RFC5424;
			else {
				perr(p, "unknown log format '%s' (expected raw, short, rfc3164 or rfc5424)", f);
				return;
			}
			i += 2;
			continue;
		}
		break;
	}
	if (l.kind == LOGT_UDP || l.kind == LOGT_UNIX) {
		/* syslog targets default to rfc3164 unless a format was given */
		int explicit_fmt = 0;
		for (int j = 2; j < i; j++)
			explicit_fmt |= !strcmp(w->w[j], "format");
		if (!explicit_fmt)
			l.format = LOGF_RFC3164;
	}
	if (i >= w->n) {
		perr(p, "'log %s' expects a facility (e.g. local0)", w->w[1]);
		return;
	}
	l.facility = log_facility_by_name(w->w[i]);
	if (l.facility < 0) {
		perr(p, "unknown log facility '%s'", w->w[i]);
		return;
	}
	if (++i < w->n) {
		l.max_level = log_level_by_name(w->w[i]);
		if (l.max_level < 0) {
			perr(p, "unknown log level '%s'", w->w[i]);
			return;
		}
		if (++i < w->n) {
			l.min_level = log_level_by_name(w->w[i]);
			if (l.min_level < 0) {
				perr(p, "unknown log level '%s'", w->w[i]);
				return;
			}
			i++;
		}
	}
	if (i < w->n) {
		perr(p, "unexpected word '%s' after the log level", w->w[i]);
		return;
	}
	t->v = realloc(t->v, (size_t)(t->n + 1) * sizeof(*t->v));
	if (!t->v)
		abort();
	t->v[t->n++] = l;
}
