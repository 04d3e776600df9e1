/* Unix socket files of bind lines, as HAProxy 2.6:
 *   - the options of a bind line that set the file's permissions and owner:
 *     mode <octal>, uid <n>, user <name>, gid <n>, group <name>;
 *   - the global "unix-bind [prefix <p>] [mode <m>] [user <u>] [uid <n>]
 *     [group <g>] [gid <n>]": the prefix goes before the path of every unix
 *     bind line read after it (absolute ones too: HAProxy joins the two
 *     strings), the others are the defaults of those lines, whose own options
 *     win. The stats socket takes neither, as HAProxy's.
 * HAProxy's sentences where it has one. */
#include "config/parse_int.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "core/addr.h"
#include "core/strutil.h"

/* What the owner and mode options set (bind line or unix-bind). */
struct ux_perm {
	int *mode;
	long *uid, *gid;
};

/* mode, uid, gid, user or group k with value v (never NULL) into out.
 * who: "'bind x'" or "'unix-bind'", for the sentences. Returns 0, or -1
 * after an error. */
static int ux_value(struct pctx *p, const char *who, int global, const char *k, const char *v,
		    struct ux_perm out)
{
	char *end;
	long n;

	if (!strcmp(k, "mode")) {
		n = strtol(v, &end, 8);
		if (!*v || *end || n < 0 || n > 07777) {
			perr(p, "%s : 'mode' : missing or invalid mode '%s' (octal integer expected)", who, v);
			return -1;
		}
		/* HAProxy leaves the permissions alone for a mode of 0 */
		*out.mode = n ? (int)n : -1;
	} else if (!strcmp(k, "uid") || !strcmp(k, "gid")) {
		/* HAProxy reads a word as 0 (root); ferry wants a number */
		if (arg_int(p, k, v, 0, 2147483647, &n))
			return -1;
		*(k[0] == 'u' ? out.uid : out.gid) = n;
	} else if (!strcmp(k, "user")) {
		struct passwd *pw = getpwnam(v);
		if (!pw) {
			if (global)
				perr(p, "%s : '%s' unknown user.", who, v);
			else
				perr(p, "%s : 'user' : unknown user name '%s'", who, v);
			return -1;
		}
		*out.uid = (long)pw->pw_uid;
	} else {
		struct group *gr = getgrnam(v);
		if (!gr) {
			if (global)
				perr(p, "%s : '%s' unknown group.", who, v);
			else
				perr(p, "%s : 'group' : unknown group name '%s'", who, v);
			return -1;
		}
		*out.gid = (long)gr->gr_gid;
	}
	return 0;
}

static int is_perm_option(const char *k)
{
	return !strcmp(k, "mode") || !strcmp(k, "uid") || !strcmp(k, "user") || !strcmp(k, "gid") ||
	       !strcmp(k, "group");
}

int parse_bind_unix_option(struct pctx *p, struct cfg_words *w, int *i, struct cfg_bind *b)
{
	const char *k = w->w[*i], *v = w->w[*i + 1] ? w->w[*i + 1] : "";
	char who[300];

	if (!is_perm_option(k))
		return 0;
	if (w->w[*i + 1])
		(*i)++;
	snprintf(who, sizeof(who), "'bind %s'", b->text);
	return ux_value(p, who, 0, k, v, (struct ux_perm){ &b->ux_mode, &b->ux_uid, &b->ux_gid }) ? -1 : 1;
}

void kw_unix_bind(struct pctx *p, struct cfg_words *w)
{
	struct cfg_global *g = &p->c->g;

	for (int i = 1; i < w->n; i += 2) {
		const char *k = w->w[i], *v = w->w[i + 1];

		if (!strcmp(k, "prefix")) {
			if (g->ux_prefix) { /* HAProxy: an alert that does not stop it */
				pwarn(p, "unix-bind 'prefix' already specified. Continuing.");
				continue;
			}
			if (!v || !*v) {
				perr(p, "unix_bind 'prefix' expects a path as an argument.");
				return;
			}
			g->ux_prefix = xstrdup(v);
		} else if (is_perm_option(k)) {
			if (ux_value(p, "'unix-bind'", 1, k, v ? v : "",
				     (struct ux_perm){ &g->ux_mode, &g->ux_uid, &g->ux_gid }))
				return;
		} else {
			perr(p, "'unix-bind' only supports the 'prefix', 'mode', 'uid', 'gid', 'user' and 'group' options.");
			return;
		}
	}
}

void bind_unix_defaults(const struct pctx *p, struct cfg_bind *b)
{
	b->ux_mode = p->c->g.ux_mode;
	b->ux_uid = p->c->g.ux_uid;
	b->ux_gid = p->c->g.ux_gid;
}

int bind_unix_prefix(const struct pctx *p, struct addr_spec *a, const char *text, char *err,
		     size_t errlen)
{
	const char *pfx = p->c->g.ux_prefix;
	struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
	/* HAProxy's limit: room for the prefix and ".<pid>.tmp" */
	int pl, n, max;

	if (!pfx || a->kind != ADDR_K_UNIX)
		return 0;
	pl = (int)strlen(pfx);
	n = (int)strlen(un->sun_path);
	max = (int)sizeof(un->sun_path) - 1 - 10 - pl;
	if (n > max) {
		snprintf(err, errlen, "socket path '%s' too long (max %d)", text, max);
		return -1;
	}
	memmove(un->sun_path + pl, un->sun_path, (size_t)n + 1);
	memcpy(un->sun_path, pfx, (size_t)pl);
	a->len = addr_len((struct sockaddr *)un);
	return 0;
}
