/* "stats" in the global section: the runtime API's sockets and limits, with
 * HAProxy's syntax:
 *   stats socket <path|unix@path|ipv4@addr:port|ipv6@addr:port|addr:port>
 *         [mode <octal>] [user <name>] [group <name>] [uid <n>] [gid <n>]
 *         [level user|operator|admin] [expose-fd listeners] [name <x>]
 *   stats timeout <duration>      (idle connections; 10s by default)
 *   stats maxconn <n>             (connections at once; 10 by default)
 * Several sockets may be declared; each has its own level. */
#include "config/parse_int.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "core/strutil.h"
#include "core/units.h"

static const char *const socket_options[] = {
	"mode", "user", "group", "uid", "gid", "level", "expose-fd", "name", NULL
};

/* The address of a stats socket: a unix path, or a TCP address. */
static int socket_addr(struct pctx *p, struct cfg_stats_socket *ss, const char *a)
{
	char err[300];
	const char *path = NULL;

	if (!strncmp(a, "unix@", 5))
		path = a + 5;
	else if (a[0] == '/')
		path = a;
	if (path) {
		if (!*path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			perr(p, "'stats socket': unix socket path '%s' is empty or too long (at most %zu bytes)",
			     path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return -1;
		}
		ss->path = xstrdup(path);
		return 0;
	}
	if (addr_parse(a, ADDR_F_RESOLVE, &ss->addr, err, sizeof(err))) {
		perr(p, "'stats socket %s': %s", a, err);
		return -1;
	}
	return 0;
}

/* A user or group given by name (user, group) or number (uid, gid). */
static int owner_id(struct pctx *p, const char *kw, const char *v, long *out)
{
	if (!strcmp(kw, "uid") || !strcmp(kw, "gid"))
		return arg_int(p, kw, v, 0, 2147483647, out);
	if (!strcmp(kw, "user")) {
		struct passwd *pw = getpwnam(v);
		if (!pw) {
			perr(p, "'stats socket': unknown user '%s'", v);
			return -1;
		}
		*out = (long)pw->pw_uid;
		return 0;
	}
	struct group *gr = getgrnam(v);
	if (!gr) {
		perr(p, "'stats socket': unknown group '%s'", v);
		return -1;
	}
	*out = (long)gr->gr_gid;
	return 0;
}

/* One option of a stats socket at w->w[*i] (its value, if any, follows).
 * Returns 0, or -1 after reporting an error. */
static int socket_option(struct pctx *p, struct cfg_words *w, int *i, struct cfg_stats_socket *ss)
{
	const char *k = w->w[*i], *v = w->w[*i + 1];

	if (!strcmp(k, "mode") || !strcmp(k, "user") || !strcmp(k, "group") || !strcmp(k, "uid") ||
	    !strcmp(k, "gid") || !strcmp(k, "level") || !strcmp(k, "expose-fd") || !strcmp(k, "name")) {
		if (!v) {
			perr(p, "'stats socket': '%s' expects a value", k);
			return -1;
		}
		(*i)++;
	}
	if (!strcmp(k, "mode")) {
		char *end;
		long m = strtol(v, &end, 8);
		if (*end || end == v || m < 0 || m > 07777) {
			perr(p, "'stats socket': 'mode' expects an octal mode such as 600 (got '%s')", v);
			return -1;
		}
		ss->mode = (int)m;
	} else if (!strcmp(k, "user") || !strcmp(k, "uid")) {
		return owner_id(p, k, v, &ss->uid);
	} else if (!strcmp(k, "group") || !strcmp(k, "gid")) {
		return owner_id(p, k, v, &ss->gid);
	} else if (!strcmp(k, "level")) {
		if (!strcmp(v, "user"))
			ss->level = CLI_LEVEL_USER;
		else if (!strcmp(v, "operator"))
			ss->level = CLI_LEVEL_OPER;
		else if (!strcmp(v, "admin"))
			ss->level = CLI_LEVEL_ADMIN;
		else {
			perr(p, "'stats socket': 'level' only supports 'user', 'operator', and 'admin' (got '%s')", v);
			return -1;
		}
	} else if (!strcmp(k, "expose-fd")) {
		if (strcmp(v, "listeners")) {
			perr(p, "'stats socket': 'expose-fd' only supports 'listeners' (got '%s')", v);
			return -1;
		}
		ss->expose_fd_listeners = 1;
	} else if (!strcmp(k, "name")) {
		/* accepted: a name for logs, which ferry does not use */
	} else {
		const char *best = str_suggest(k, socket_options);
		if (best)
			perr(p, "'stats socket': unknown keyword '%s' (did you mean '%s'?)", k, best);
		else
			perr(p, "'stats socket': unknown keyword '%s' (ferry supports %s)", k,
			     "mode, user, group, uid, gid, level, expose-fd listeners and name");
		return -1;
	}
	if (ss->path == NULL && (!strcmp(k, "mode") || !strcmp(k, "user") || !strcmp(k, "group") ||
				 !strcmp(k, "uid") || !strcmp(k, "gid")))
		pwarn(p, "'stats socket %s': '%s' applies to unix sockets only and is ignored", ss->text, k);
	return 0;
}

static void stats_socket(struct pctx *p, struct cfg_words *w)
{
	struct cfg_stats_socket *ss, **tail;

	if (!w->w[2]) {
		perr(p, "'stats socket' in global section expects an address or a path to a UNIX socket");
		return;
	}
	ss = xcalloc(1, sizeof(*ss));
	ss->file = p->file;
	ss->line = p->line;
	ss->text = xstrdup(w->w[2]);
	ss->mode = -1;
	ss->uid = ss->gid = -1;
	ss->level = CLI_LEVEL_OPER; /* HAProxy's default */
	for (tail = &p->c->g.stats_sockets; *tail; tail = &(*tail)->next)
		;
	*tail = ss; /* kept even when wrong, so that it is freed with the rest */
	if (socket_addr(p, ss, w->w[2]))
		return;
	for (int i = 3; i < w->n; i++)
		if (socket_option(p, w, &i, ss))
			return;
}

void kw_global_stats(struct pctx *p, struct cfg_words *w)
{
	const char *sub = w->w[1];
	long v;

	if (sub && !strcmp(sub, "socket")) {
		stats_socket(p, w);
	} else if (sub && !strcmp(sub, "timeout")) {
		int64_t ms;
		if (arg_duration(p, "stats timeout", w->w[2], &ms))
			return;
		if (!ms) {
			perr(p, "'stats timeout' expects a positive value");
			return;
		}
		p->c->g.stats_timeout = ms;
	} else if (sub && !strcmp(sub, "maxconn")) {
		if (!arg_int(p, "stats maxconn", w->w[2], 1, 10000, &v))
			p->c->g.stats_maxconn = (int)v;
	} else if (sub && !strcmp(sub, "bind-process")) {
		pwarn(p, "'stats bind-process' is ignored: ferry runs one process");
	} else {
		perr(p, "'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' (got '%s')",
		     sub ? sub : "");
	}
}
