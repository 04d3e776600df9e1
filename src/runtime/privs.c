/* Least privilege, as HAProxy 2.6's global user/group/chroot and a little
 * further: once the listeners, stats sockets, log sockets and pid file
 * are open, ferry chroots (if asked), clears its supplementary groups,
 * becomes the user, loses every capability (effective, permitted,
 * inheritable, ambient, and the bounding set while it still may), and
 * sets no_new_privs. It happens on the main thread before the worker
 * threads exist: capabilities are per thread (capset), so threads made
 * later inherit the dropped set; privs_drop refuses to run otherwise.
 *
 * Raw capget/capset/prctl: no libcap for a handful of calls. */
#include "runtime/privs.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "event/sdnotify.h"

static struct {
	int dropped;             /* no longer root */
	int kept_bind;           /* cap_net_bind_service kept (setcap) */
	char user[64];           /* who ferry became, for sentences */
	char chroot[256];
	int chrooted;
} st;

int privs_check_start(const struct cfg_global *g, int check_only, char *err, size_t errlen)
{
	if (geteuid() != 0 || g->uid >= 0 || g->run_as_root)
		return 0;
	snprintf(err, errlen,
		 "ferry %s as root without 'user': set 'user' and 'group' (or 'uid' and 'gid') in the "
		 "global section to drop privileges once the listeners are open, or say "
		 "'insecure-run-as-root' there to keep root",
		 check_only ? "would refuse to start" : "refuses to start");
	if (check_only) {
		WARN("%s", err);
		return 0;
	}
	return -1;
}

/* How many threads the process has (from /proc, read before any chroot). */
static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Capabilities of this thread: effective = permitted = keep (a mask of
 * the first 32), inheritable none; ambient ones cleared. */
static int caps_set(uint32_t keep)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { keep, keep, 0 }, { 0, 0, 0 } };

	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return (int)syscall(SYS_capset, &h, d);
}

static int caps_permitted(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return 0;
	return (d[cap / 32].permitted >> (cap % 32)) & 1;
}

/* The bounding set: everything but keep (a capability number, or -1). It
 * needs CAP_SETPCAP, so it is done while ferry is root; without it (a
 * non-root start) the set stays as it was, which grants nothing by itself. */
static void bounding_drop(int keep)
{
	for (int cap = 0; cap < 64; cap++)
		if (cap != keep && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 && errno == EINVAL)
			break; /* past the kernel's last capability */
}

static int change_ids(const struct cfg_global *g, int root, char *err, size_t errlen)
{
	long gid = g->gid >= 0 ? g->gid : g->user_gid;

	if (g->uid >= 0 && gid < 0) {
		snprintf(err, errlen, "uid %ld has no group in the password database: set 'group' or 'gid'",
			 g->uid);
		return -1;
	}
	if (root && setgroups(0, NULL) == -1) {
		snprintf(err, errlen, "Cannot drop supplementary groups: %s", strerror(errno));
		return -1;
	}
	if (gid >= 0 && (gid_t)gid != getegid() && setgid((gid_t)gid) == -1) {
		snprintf(err, errlen, "Cannot set gid %ld: %s", gid, strerror(errno));
		return -1;
	}
	/* glibc runs setuid on every thread; there is only this one anyway */
	if (g->uid >= 0 && (uid_t)g->uid != geteuid() && setuid((uid_t)g->uid) == -1) {
		snprintf(err, errlen, "Cannot set uid %ld: %s", g->uid, strerror(errno));
		return -1;
	}
	return 0;
}

/* Every log target list of c: the global one and each proxy's. */
static struct log_targets *next_logs(const struct cfg *c, const struct cfg_proxy **px, int *first)
{
	if (*first) {
		*first = 0;
		*px = c->proxies;
		return (struct log_targets *)&c->g.logs;
	}
	if (!*px)
		return NULL;
	struct log_targets *t = (struct log_targets *)&(*px)->logs;
	*px = (*px)->next;
	return t;
}

void privs_take_logs(struct cfg *c, const struct cfg *old)
{
	const struct cfg_proxy *a = NULL, *b = NULL; /* next_logs() sets them first */
	struct log_targets *t, *o;
	int fa = 1, fb;

	while ((t = next_logs(c, &a, &fa)))
		for (fb = 1; (o = next_logs(old, &b, &fb));)
			log_targets_take(t, o);
}

int privs_drop(struct cfg *c, char *err, size_t errlen)
{
	const struct cfg_global *g = &c->g;
	const struct cfg_proxy *px;
	struct log_targets *t;
	int first = 1;
	int root = geteuid() == 0, keep = -1;
	struct passwd *pw;

	if (thread_count() > 1) {
		snprintf(err, errlen, "privileges must be dropped before other threads start");
		return -1;
	}
	if ((g->keep_caps & CFG_CAP_NET_BIND_SERVICE) && caps_permitted(CAP_NET_BIND_SERVICE))
		keep = CAP_NET_BIND_SERVICE;
	/* the name, while the password database is still in reach */
	pw = g->uid >= 0 ? getpwuid((uid_t)g->uid) : getpwuid(geteuid());
	if (pw)
		snprintf(st.user, sizeof(st.user), "%s", pw->pw_name);
	else
		snprintf(st.user, sizeof(st.user), "%ld", g->uid >= 0 ? g->uid : (long)geteuid());
	if (g->chroot) {
		while ((t = next_logs(c, &px, &first)))
			log_targets_connect(t);
		sd_notify_keep();
		if (chroot(g->chroot) == -1 || chdir("/") == -1) {
			snprintf(err, errlen, "Cannot chroot(%s): %s", g->chroot, strerror(errno));
			return -1;
		}
		snprintf(st.chroot, sizeof(st.chroot), "%s", g->chroot);
		st.chrooted = 1;
	}
	if (root && g->uid > 0) {
		bounding_drop(keep);
		/* the permitted set survives setuid only with keep-caps */
		if (keep >= 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
			keep = -1;
	}
	if (change_ids(g, root, err, errlen))
		return -1;
	if (geteuid() != 0) { /* root by consent keeps what root has */
		if (caps_set(keep >= 0 ? 1u << keep : 0) == -1 && caps_set(0) == -1) {
			snprintf(err, errlen, "Cannot drop capabilities: %s", strerror(errno));
			return -1;
		}
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
		st.dropped = 1;
		st.kept_bind = keep >= 0;
	}
	if (!g->insecure_setuid && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		WARN("Failed to disable setuid, please report to developers with detailed information about your operating system. You can silence this warning by adding 'insecure-setuid-wanted' in the 'global' section.");
	if (st.dropped)
		NOTICE("Running as user %s (uid %d, gid %d)%s%s, %s", st.user, (int)getuid(), (int)getgid(),
		       st.chrooted ? " in chroot " : "", st.chrooted ? st.chroot : "",
		       st.kept_bind ? "keeping only cap_net_bind_service" : "without capabilities");
	return 0;
}

void privs_lock_forks(const struct cfg_global *g)
{
	struct rlimit none = { 0, 0 };

#ifdef __SANITIZE_ADDRESS__
	/* LeakSanitizer starts a thread at exit to stop the others and look
	 * for leaks: the sanitizer build leaves new threads possible */
	return;
#endif
	if (!g->insecure_fork && setrlimit(RLIMIT_NPROC, &none) == -1)
		WARN("Failed to disable forks, please report to developers with detailed information about your operating system. You can silence this warning by adding 'insecure-fork-wanted' in the 'global' section.");
}

const char *privs_bind_hint(const struct sockaddr_storage *ss, int e)
{
	static __thread char hint[256];
	int port;

	if (e != EACCES || !st.dropped || st.kept_bind)
		return "";
	if (ss->ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	else if (ss->ss_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	else
		return "";
	if (port >= 1024)
		return "";
	snprintf(hint, sizeof(hint),
		 "; port %d is below 1024 and ferry, now user %s, gave up the right to bind it "
		 "(restart ferry, or keep it with 'setcap cap_net_bind_service')",
		 port, st.user);
	return hint;
}

const char *privs_chroot(void)
{
	return st.chrooted ? st.chroot : NULL;
}
