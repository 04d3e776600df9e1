/* The global lines that say what ferry may keep once it serves (applied by
 * src/runtime/privs.c):
 *   - HAProxy 2.6's "user", "uid", "group", "gid" and "chroot", with its
 *     sentences (a second one is a warning and the first one stays, as
 *     HAProxy's "Continuing." alerts);
 *   - HAProxy's "insecure-setuid-wanted" and "insecure-fork-wanted", which
 *     turn off no_new_privs and the RLIMIT_NPROC lock as they do there;
 *   - "setcap" (HAProxy 2.9's spelling; 2.6 has none): the capabilities
 *     kept after the drop, only cap_net_bind_service in ferry;
 *   - "insecure-run-as-root" (ferry's own: HAProxy has none): the
 *     explicit consent to serve as root without "user";
 *   - "no-seccomp" (ferry's own): no system-call filter
 *     (src/runtime/seccomp.c). */
#include "config/parse_int.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strutil.h"

/* HAProxy's check of the argument count: one value at most. */
static int too_many(struct pctx *p, struct cfg_words *w, int max)
{
	if (w->n <= max + 1)
		return 0;
	perr(p, "'%s' cannot handle unexpected argument '%s'.", w->w[0], w->w[max + 1]);
	return 1;
}

/* A number as HAProxy's strl2irc reads it (an int, optional '-'):
 * returns 0 with *out set, or -1. */
static int id_number(const char *s, long *out)
{
	char *end;
	long v;

	if (!*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || errno || v < INT_MIN || v > INT_MAX || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	*out = v;
	return 0;
}

/* The names and ids start-up found, for a reload in a chroot, where the
 * password and group databases are out of reach: each lookup that worked
 * is kept, and one that fails is answered from them. Main thread only. */
static struct known_id {
	int used;
	char name[64];          /* "" for a getpwuid answer */
	int group;              /* 1: a group; 0: a user */
	long id, gid;           /* gid: a user's primary group */
} known[16];

static void remember(const char *name, int group, long id, long gid)
{
	for (int i = 0; i < 16; i++) {
		struct known_id *k = &known[i];
		if (!k->used) {
			k->used = 1;
			snprintf(k->name, sizeof(k->name), "%s", name);
			k->group = group;
			k->id = id;
			k->gid = gid;
			return;
		}
		if (k->group == group && !strcmp(k->name, name) && (name[0] || k->id == id))
			return;
	}
}

/* name (or, when name is "", the user of id *id): 0 with *id and *gid set,
 * or -1 (errno from the database). */
static int lookup(const char *name, int group, long *id, long *gid)
{
	int saved;

	errno = 0;
	if (group) {
		struct group *gr = getgrnam(name);
		if (gr) {
			*id = *gid = (long)gr->gr_gid;
			remember(name, 1, *id, *gid);
			return 0;
		}
	} else {
		struct passwd *pw = name[0] ? getpwnam(name) : getpwuid((uid_t)*id);
		if (pw) {
			*id = (long)pw->pw_uid;
			*gid = (long)pw->pw_gid;
			remember(name, 0, *id, *gid);
			return 0;
		}
	}
	saved = errno;
	for (int i = 0; i < 16; i++)
		if (known[i].used && known[i].group == group &&
		    (name[0] ? !strcmp(known[i].name, name) : !known[i].name[0] && known[i].id == *id)) {
			*id = known[i].id;
			*gid = known[i].gid;
			return 0;
		}
	errno = saved;
	return -1;
}

/* "uid N" (user: 1) or "gid N" into *slot, with HAProxy's sentences.
 * Returns 0 when *slot was set. */
static int numeric_id(struct pctx *p, struct cfg_words *w, int user, long *slot)
{
	long v;

	if (too_many(p, w, 1))
		return -1;
	if (*slot >= 0) {
		pwarn(p, "%s already specified. Continuing.", user ? "user/uid" : "group/gid");
		return -1;
	}
	if (!w->w[1] || !*w->w[1]) {
		perr(p, "'%s' expects an integer argument.", w->w[0]);
		return -1;
	}
	if (id_number(w->w[1], &v) || v < 0) {
		pwarn(p, " %s: string '%s' is not a number.\n   | You might want to use the '%s' parameter to use a system %s name.",
		      w->w[0], w->w[1], user ? "user" : "group", user ? "user" : "group");
		return -1;
	}
	*slot = v;
	return 0;
}

static void g_uid(struct pctx *p, struct cfg_words *w)
{
	struct cfg_global *g = &p->c->g;
	long v;

	if (numeric_id(p, w, 1, &g->uid))
		return;
	v = g->uid;
	if (lookup("", 0, &v, &g->user_gid)) /* its group, when "group" is not given */
		g->user_gid = -1;
}

static void g_gid(struct pctx *p, struct cfg_words *w)
{
	numeric_id(p, w, 0, &p->c->g.gid);
}

/* "user NAME" or "group NAME" (group: 1), with HAProxy's sentences. */
static void named_id(struct pctx *p, struct cfg_words *w, int group)
{
	struct cfg_global *g = &p->c->g;
	const char *name = w->w[1] ? w->w[1] : "";
	long id = -1, gid = -1; /* no name: lookup() reads id, and uid -1 is no one */

	if (too_many(p, w, 1))
		return;
	if ((group ? g->gid : g->uid) >= 0) {
		pwarn(p, "%s already specified. Continuing.", group ? "gid/group was" : "user/uid");
		return;
	}
	if (lookup(name, group, &id, &gid)) {
		perr(p, "cannot find %s id for '%s' (%d:%s)", group ? "group" : "user", name, errno,
		     strerror(errno));
		return;
	}
	if (group) {
		g->gid = id;
	} else {
		g->uid = id;
		g->user_gid = gid;
	}
}

static void g_user(struct pctx *p, struct cfg_words *w)
{
	named_id(p, w, 0);
}

static void g_group(struct pctx *p, struct cfg_words *w)
{
	named_id(p, w, 1);
}

static void g_chroot(struct pctx *p, struct cfg_words *w)
{
	struct cfg_global *g = &p->c->g;

	if (too_many(p, w, 1))
		return;
	if (g->chroot) {
		pwarn(p, "'%s' already specified. Continuing.", w->w[0]);
		return;
	}
	if (!w->w[1] || !*w->w[1]) {
		perr(p, "'%s' expects a directory as an argument.", w->w[0]);
		return;
	}
	g->chroot = xstrdup(w->w[1]);
}

/* "setcap name[,name...]": HAProxy 2.9 knows several; ferry binds ports
 * and connects, so the only one it can use is cap_net_bind_service. */
static void g_setcap(struct pctx *p, struct cfg_words *w)
{
	const char *s = w->w[1];

	if (too_many(p, w, 1))
		return;
	if (!s || !*s) {
		perr(p, "'%s' expects a capability name (ferry keeps only 'cap_net_bind_service').", w->w[0]);
		return;
	}
	while (*s) {
		size_t n = strcspn(s, ",");
		if (n == strlen("cap_net_bind_service") && !strncmp(s, "cap_net_bind_service", n)) {
			p->c->g.keep_caps |= CFG_CAP_NET_BIND_SERVICE;
		} else {
			perr(p, "'%s': capability '%.*s' is not supported (ferry keeps only 'cap_net_bind_service').",
			     w->w[0], (int)n, s);
			return;
		}
		s += n + (s[n] == ',');
	}
}

static void g_flag(struct pctx *p, struct cfg_words *w, int *slot)
{
	if (!too_many(p, w, 0))
		*slot = 1;
}

static void g_run_as_root(struct pctx *p, struct cfg_words *w)
{
	g_flag(p, w, &p->c->g.run_as_root);
}

static void g_insecure_setuid(struct pctx *p, struct cfg_words *w)
{
	g_flag(p, w, &p->c->g.insecure_setuid);
}

static void g_insecure_fork(struct pctx *p, struct cfg_words *w)
{
	g_flag(p, w, &p->c->g.insecure_fork);
}

/* ferry's own (HAProxy has no system-call filter) */
static void g_no_seccomp(struct pctx *p, struct cfg_words *w)
{
	g_flag(p, w, &p->c->g.no_seccomp);
}

const struct kw global_privs_keywords[] = {
	{ "user", 0, g_user },
	{ "uid", 0, g_uid },
	{ "group", 0, g_group },
	{ "gid", 0, g_gid },
	{ "chroot", 0, g_chroot },
	{ "setcap", 0, g_setcap },
	{ "insecure-run-as-root", 0, g_run_as_root },
	{ "insecure-setuid-wanted", 0, g_insecure_setuid },
	{ "insecure-fork-wanted", 0, g_insecure_fork },
	{ "no-seccomp", 0, g_no_seccomp },
	{ NULL, 0, NULL }
};
