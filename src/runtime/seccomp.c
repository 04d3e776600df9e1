/* The system-call allowlist: once start-up is done (listeners, stats and
 * log sockets open, privileges dropped, worker threads running), every
 * thread may make only the calls that the running needs: the event loop,
 * the relay (splice, pipes), health checks and libpq, DNS, logging, the
 * stats socket and page, reload (reading files, binding new listeners)
 * and handing listeners to a new binary (SCM_RIGHTS). What only start-up
 * does is left out: chroot, setuid, capset, execve, fork, new threads.
 *
 * Any other call is stopped before it runs (SECCOMP_RET_TRAP): the kernel
 * sends SIGSYS, whose handler writes a line naming the call on stderr and
 * lets SIGSYS kill the process, as SECCOMP_RET_KILL_PROCESS would, so the
 * service manager sees the same death but the operator also sees why.
 * The handler cannot be replaced (rt_sigaction on SIGSYS is outside the
 * list), and a blocked SIGSYS is forced back to its default action (death)
 * by the kernel: either way the call never runs.
 *
 * Built with libseccomp rather than a hand-written BPF program: it checks
 * the architecture (x32 and i386 calls on x86_64 are refused), knows each
 * architecture's numbers and the names the SIGSYS line prints, and keeps
 * the list a readable table of names. */
#include "runtime/seccomp.h"

#include <errno.h>
#include <linux/netlink.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "core/log.h"
#include "core/log_sigsafe.h"

#ifndef SIOCATMARK
#define SIOCATMARK 0x8905
#endif

/* Calls allowed whatever their arguments. */
static const int allowed[] = {
	/* the event loop, its timers and its wake-ups */
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2), SCMP_SYS(eventfd2),
	SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
	SCMP_SYS(time), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
	/* descriptors: relay buffers, splice pipes, files */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(close), SCMP_SYS(lseek), SCMP_SYS(fcntl),
	SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(pipe), SCMP_SYS(pipe2),
	SCMP_SYS(splice),
	/* sockets: clients, servers, checks and libpq, DNS, logs, the stats
	 * socket and page, listeners bound by a reload, SCM_RIGHTS */
	SCMP_SYS(connect), SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(bind),
	SCMP_SYS(listen), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockopt), SCMP_SYS(shutdown),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg),
	/* files a reload reads (configuration, maps, ACL files, server state,
	 * name service files) and the unix sockets it binds */
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(stat), SCMP_SYS(fstat),
	SCMP_SYS(lstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(access),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(getdents64),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getcwd),
	SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(chmod), SCMP_SYS(fchmod), SCMP_SYS(fchmodat),
	SCMP_SYS(chown), SCMP_SYS(fchown), SCMP_SYS(fchownat), SCMP_SYS(lchown),
	SCMP_SYS(umask),
	/* memory (PCRE2's JIT at a reload maps executable pages) */
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(brk),
	SCMP_SYS(madvise), SCMP_SYS(mremap),
	/* threads and exit: locks, a worker's end, the process's */
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sched_yield), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(restart_syscall),
	/* what the process asks about itself (show info, defaults) */
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getresuid),
	SCMP_SYS(getresgid), SCMP_SYS(getgroups), SCMP_SYS(uname), SCMP_SYS(sysinfo),
	SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(getrusage),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(getrandom),
	/* signals: the signalfd, masks (libpq blocks SIGPIPE around its
	 * writes and may take a pending one), returning from a handler */
	SCMP_SYS(signalfd4), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigpending), SCMP_SYS(rt_sigtimedwait),
};

#ifdef __SANITIZE_ADDRESS__
/* The sanitizer build only: LeakSanitizer, at exit, starts a task
 * (clone) that lists the threads (getdents, the old call) and stops them
 * with ptrace to read their registers and stacks, after prctl lets it;
 * the parent waits for it; it handles signals on an alternate stack. The
 * sanitizer build keeps the filter on, wider by these. */
static const int allowed_asan[] = {
	SCMP_SYS(clone), SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(prctl),
	SCMP_SYS(sigaltstack), SCMP_SYS(getdents),
};
#endif

/* ioctl requests: bytes waiting and the urgent mark on a socket, the
 * non-blocking and close-on-exec flags, whether stdout is a terminal
 * (stdio asks), an interface's index (a scoped IPv6 address at a reload). */
static const unsigned long ioctls[] = {
	FIONREAD, SIOCATMARK, FIONBIO, FIOCLEX, TCGETS, TIOCOUTQ, SIOCGIFINDEX,
};

/* The name of each system call number, filled before the filter is in
 * place: the SIGSYS handler may not allocate. */
#define NAMES_MAX 512
static char names[NAMES_MAX][24];

static void names_fill(void)
{
	uint32_t arch = seccomp_arch_native();

	for (int nr = 0; nr < NAMES_MAX; nr++) {
		char *n = seccomp_syscall_resolve_num_arch(arch, nr);
		if (n)
			snprintf(names[nr], sizeof(names[nr]), "%s", n);
		free(n);
	}
}

/* The global log targets, for the SIGSYS line: two copies, the one in
 * use named by logs_cur, so that a reload fills the other while a handler
 * may read this one (sandbox_set_logs). */
static struct log_sigsafe logs[2];
static int logs_cur;
static int installed; /* 1: filter on; -1: left off by no-seccomp at start */

void sandbox_set_logs(const struct log_targets *t)
{
	int next = !__atomic_load_n(&logs_cur, __ATOMIC_RELAXED);
	int left = log_sigsafe_fill(&logs[next], t);

	if (left)
		WARN("seccomp: a forbidden system call is logged to the first %d 'log' targets of the "
		     "global section only (%d more)", LOG_SIGSAFE_MAX, left);
	__atomic_store_n(&logs_cur, next, __ATOMIC_RELEASE);
}

int sandbox_active(void)
{
	return __atomic_load_n(&installed, __ATOMIC_RELAXED) == 1;
}

int sandbox_off_by_config(void)
{
	return __atomic_load_n(&installed, __ATOMIC_RELAXED) == -1;
}

/* SIGSYS from the filter: the log lines (stderr, the global log targets), then death by SIGSYS (the
 * handler was reset to the default on entry, and SIGSYS is not blocked in
 * it). Only async-signal-safe calls, all in the list. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[160], *p = line, *end = line + sizeof(line) - 2, *msg;
	int nr = si->si_syscall;

	(void)uc;
	p = log_sigsafe_put(p, end, "[ALERT]    (");
	p = log_sigsafe_num(p, end, (long)syscall(SYS_getpid), 1, '0');
	p = log_sigsafe_put(p, end, ") : ");
	msg = p;
	p = log_sigsafe_put(p, end, "seccomp: system call ");
	p = log_sigsafe_put(p, end, nr >= 0 && nr < NAMES_MAX && names[nr][0] ? names[nr] : "unknown");
	p = log_sigsafe_put(p, end, " (");
	p = log_sigsafe_num(p, end, nr, 1, '0');
	p = log_sigsafe_put(p, end, ") not allowed");
	*p = '\n';
	if (write(2, line, (size_t)(p + 1 - line)) < 0) {
		/* stderr gone: the log line and the death say enough */
	}
	*p = 0;
	log_sigsafe_send(&logs[__atomic_load_n(&logs_cur, __ATOMIC_ACQUIRE)], 1, msg);
	syscall(SYS_tgkill, (pid_t)syscall(SYS_getpid), (pid_t)syscall(SYS_gettid), sig);
	_exit(128 + sig);
}

/* Argument n of a call, as the kernel reads an int: its low 32 bits
 * equal v (a plain comparison would see the high bits too, which the
 * kernel ignores). */
static struct scmp_arg_cmp arg32(unsigned n, uint32_t v)
{
	struct scmp_arg_cmp c = { .arg = n, .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffu, .datum_b = v };

	return c;
}

/* The calls allowed with some arguments only: one rule per allowed case
 * (libseccomp ORs them). Returns 0 or a negative errno. */
static int add_checked(scmp_filter_ctx ctx)
{
	const struct {
		int nr;
		unsigned arg;
		uint32_t v;
	} rules[] = {
		/* sockets of the families ferry speaks: no packet, crypto-API,
		 * vsock... sockets, a usual way into kernel bugs */
		{ SCMP_SYS(socket), 0, AF_UNIX },
		{ SCMP_SYS(socket), 0, AF_INET },
		{ SCMP_SYS(socket), 0, AF_INET6 },
		{ SCMP_SYS(socketpair), 0, AF_UNIX },
		/* handlers set once serving: abort() resets SIGABRT's,
		 * LeakSanitizer's task catches the synchronous signals; never
		 * SIGSYS's, so the handler that names a call stays */
		{ SCMP_SYS(rt_sigaction), 0, SIGABRT },
		{ SCMP_SYS(rt_sigaction), 0, SIGILL },
		{ SCMP_SYS(rt_sigaction), 0, SIGFPE },
		{ SCMP_SYS(rt_sigaction), 0, SIGSEGV },
		{ SCMP_SYS(rt_sigaction), 0, SIGBUS },
		{ SCMP_SYS(rt_sigaction), 0, SIGXCPU },
		{ SCMP_SYS(rt_sigaction), 0, SIGXFSZ },
		{ SCMP_SYS(rt_sigaction), 0, SIGPIPE },
		/* signals to this process's own threads (abort, the SIGSYS handler) */
		{ SCMP_SYS(tgkill), 0, (uint32_t)getpid() },
		/* -sf/-st: the old process is told to finish or to stop */
		{ SCMP_SYS(kill), 1, SIGUSR1 },
		{ SCMP_SYS(kill), 1, SIGTERM },
	};
	int rc = 0;

	for (size_t i = 0; !rc && i < sizeof(rules) / sizeof(rules[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rules[i].nr, 1, arg32(rules[i].arg, rules[i].v));
	for (size_t i = 0; !rc && i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, arg32(1, (uint32_t)ioctls[i]));
	return rc;
}

/* A filter context with the whole list, or NULL with err filled. */
static scmp_filter_ctx build(const struct cfg_global *g, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int rc;

	if (!ctx) {
		snprintf(err, errlen, "seccomp: cannot create a filter");
		return NULL;
	}
	/* privs_drop set no_new_privs, unless insecure-setuid-wanted: then
	 * only a root ferry (CAP_SYS_ADMIN) may install a filter */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1)) || /* the kernel's errno, not ECANCELED */
	    /* a binary search of the call number, not a chain of ~130 tests:
	     * the relay's calls pass it on every read, write and splice */
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, g->insecure_setuid ? 0 : 1)))
		goto fail;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0)))
			goto fail;
#ifdef __SANITIZE_ADDRESS__
	for (size_t i = 0; i < sizeof(allowed_asan) / sizeof(allowed_asan[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed_asan[i], 0)))
			goto fail;
#endif
	if ((rc = add_checked(ctx)))
		goto fail;
	return ctx;
fail:
	snprintf(err, errlen, "seccomp: cannot build the filter: %s", strerror(-rc));
	seccomp_release(ctx);
	return NULL;
}

int sandbox_install(const struct cfg_global *g, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER };
	scmp_filter_ctx ctx;
	unsigned api;
	int rc;

	if (g->no_seccomp) {
		__atomic_store_n(&installed, -1, __ATOMIC_RELAXED);
		return 0;
	}
	/* 3: filters on every thread at once (TSYNC), and the kill of a
	 * whole process; a kernel without them (or valgrind, which runs the
	 * program's calls itself) gets no filter, said once */
	api = seccomp_api_get();
	if (api < 3) {
		WARN("The system-call filter is not installed: this kernel (or valgrind) lacks seccomp "
		     "with thread synchronisation (libseccomp API level %u). You can silence this warning "
		     "by adding 'no-seccomp' in the 'global' section.", api);
		return 0;
	}
	names_fill();
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1) {
		snprintf(err, errlen, "seccomp: cannot catch SIGSYS: %s", strerror(errno));
		return -1;
	}
	ctx = build(g, err, errlen);
	if (!ctx)
		return -1;
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc) {
		snprintf(err, errlen, "seccomp: cannot install the system-call filter: %s%s", strerror(-rc),
			 g->insecure_setuid ? " (with 'insecure-setuid-wanted', only root may: "
					      "add 'no-seccomp', or remove 'insecure-setuid-wanted')" : "");
		return -1;
	}
	__atomic_store_n(&installed, 1, __ATOMIC_RELAXED);
	if (getenv("FERRY_TEST_SECCOMP_TRIGGER"))
		personality(0xffffffff); /* a query, which changes nothing */
	return 0;
}
