/* ferry: command line, signals, and the main loop. The only place that exits. */
#include <errno.h>
#include <getopt.h>
#include <sys/types.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config/cond.h"
#include "config/lexer.h"
#include "config/model.h"
#include "core/log.h"
#include "core/strutil.h"
#include "event/sdnotify.h"
#include "rules/rules.h"
#include "runtime/privs.h"
#include "runtime/runtime.h"
#include "runtime/seccomp.h"
#include "runtime/upgrade.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "dev"
#endif

struct signals {
	struct io io;
	struct runtime *rt;
	struct timer hard_stop;
	int stop_now;
};

/* What the command line asks for. */
struct options {
	const char *files[64];
	int nfiles;
	int check_only, quiet;
	int diag_mode;                 /* -dD: .diag lines are printed */
	const char *condition;         /* -cc: evaluate this and exit */
	int has_condition;
	const char *pidfile;
	const char *upgrade_from;      /* -x: the running process's stats socket */
	int old_pids[64];              /* -sf / -st: told to finish / stop once started */
	int nold;
	int old_sig;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ferry -f <config file|dir> [-f ...] [-c] [-dD] [-L <name>] [-p <pidfile>] [-q] [-v]\n"
		"             [-x <socket>] [-sf <pid>... | -st <pid>...]\n"
		"       ferry -cc <condition>\n"
		"  -f FILE  read a configuration file, or every *.cfg of a directory in name order\n"
		"  -c       check the configuration only: exit 0 if valid, else print every error and exit 1\n"
		"  -cc COND evaluate a condition of .if: exit 0 if true, 1 if false, 2 on error\n"
		"  -dD      diagnostic mode: print the configuration's .diag messages\n"
		"  -L NAME  the local peer name, in $HAPROXY_LOCALPEER (default: the host name)\n"
		"  -p FILE  write the process id to FILE\n"
		"  -q       quiet: no notices or warnings on stderr\n"
		"  -v       print the version; -vv also the feature list .if feature() reads\n"
		"  -x SOCK  take the listening sockets of the running process (ferry or HAProxy) from\n"
		"           its stats socket SOCK ('expose-fd listeners') instead of binding them\n"
		"  -sf PID  once started, tell these processes to finish (SIGUSR1); -st: to stop (SIGTERM)\n"
		"ferry runs in the foreground. SIGTERM/SIGINT stop at once; SIGUSR1 stops\n"
		"gracefully (listeners close, sessions finish, bounded by hard-stop-after);\n"
		"SIGHUP and SIGUSR2 reload the configuration.\n");
}

static void print_version(int verbose)
{
	printf("ferry version %s - a TCP load balancer that reads HAProxy configurations\n",
	       FERRY_VERSION);
	if (verbose)
		printf("Reads the configuration language of HAProxy %s (version_atleast/version_before compare with it)\n"
		       "Feature list : %s\n", COND_HAPROXY_VERSION, COND_FEATURES);
}

/* HAProxy's options that getopt cannot read: -sf/-st take every number
 * that follows them, -cc and -L a value, -dD and -vv are words of their
 * own. Takes them out of argv into o and rest (argv without them).
 * Returns -1 on a missing value, 1 when done (-vv). */
static int take_special_args(int argc, char **argv, struct options *o, char **rest, int *nrest)
{
	for (int i = 0; i < argc && *nrest < 255; i++) {
		const char *a = argv[i];
		if (i && (!strcmp(a, "-sf") || !strcmp(a, "-st"))) {
			o->old_sig = a[2] == 'f' ? SIGUSR1 : SIGTERM;
			while (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9' && o->nold < 64)
				o->old_pids[o->nold++] = atoi(argv[++i]);
		} else if (i && (!strcmp(a, "-cc") || !strcmp(a, "-L"))) {
			if (i + 1 >= argc)
				return -1;
			if (a[1] == 'c') {
				o->condition = argv[++i];
				o->has_condition = 1;
			} else if (setenv("HAPROXY_LOCALPEER", argv[++i], 1)) {
				return -1;
			}
		} else if (i && !strcmp(a, "-dD")) {
			o->diag_mode = 1;
		} else if (i && !strcmp(a, "-vv")) {
			print_version(1);
			return 1;
		} else {
			rest[(*nrest)++] = argv[i];
		}
	}
	rest[*nrest] = NULL;
	return 0;
}

/* Parses argv into o. Returns -1 (print usage, exit 1), 0, or 1 when done
 * (-v, -h). */
static int parse_args(int argc, char **argv, struct options *o)
{
	char *rest[256];
	int nrest = 0, opt, rc;

	rc = take_special_args(argc, argv, o, rest, &nrest);
	if (rc)
		return rc;
	while ((opt = getopt(nrest, rest, "f:cp:qvVhDWdx:")) != -1) {
		switch (opt) {
		case 'f':
			if (o->nfiles < 64)
				o->files[o->nfiles++] = optarg;
			break;
		case 'c': o->check_only = 1; break;
		case 'p': o->pidfile = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'x': o->upgrade_from = optarg; break;
		case 'v':
			print_version(0);
			return 1;
		case 'h': usage(stdout); return 1;
		case 'D': case 'W': case 'd': case 'V':
			break; /* HAProxy's daemon/master-worker/debug flags: ferry stays in the foreground */
		default: return -1;
		}
	}
	if (o->has_condition)
		return optind < nrest ? -1 : 0;
	return optind < nrest || !o->nfiles ? -1 : 0;
}

/* -cc: the condition is split as a configuration line (no comments) and
 * its words joined again, as HAProxy does. Returns the exit status: 0 when
 * it holds, 1 when not, 2 on error (said on stderr). */
static int check_condition(const char *cond)
{
	struct cfg_lex lx = { .no_comment = 1 };
	static struct cfg_words w;
	char err[2048];
	int r, pos;

	if (cfg_split_lex(cond, &lx, &w, err, sizeof(err))) {
		ALERT("Syntax Error in condition: %s.", err);
		return 2;
	}
	r = cond_eval_words(w.n, w.w, err, sizeof(err), &pos);
	if (r < 0) {
		ALERT("Failed to evaluate condition: %s", err);
		return 2;
	}
	return r ? 0 : 1;
}

/* HAPROXY_LOCALPEER: the host name, as HAProxy sets it before reading
 * its command line (-L replaces it). */
static void set_localpeer(void)
{
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	setenv("HAPROXY_LOCALPEER", host, 1);
}

/* HAPROXY_CFGFILES: the files read, separated by semicolons; set once
 * they are read, so a reload's reading sees it (as HAProxy's re-executed
 * process does). */
static void set_cfgfiles(const struct cfg *cfg)
{
	size_t len = 1;
	char *v;

	for (int i = 0; i < cfg->nfiles; i++)
		len += strlen(cfg->files[i]) + 1;
	v = xcalloc(1, len);
	for (int i = 0; i < cfg->nfiles; i++) {
		if (i)
			strcat(v, ";");
		strcat(v, cfg->files[i]);
	}
	setenv("HAPROXY_CFGFILES", v, 1);
	free(v);
}

static void hard_stop_cb(struct loop *l, struct timer *t)
{
	struct signals *sg = (struct signals *)((char *)t - offsetof(struct signals, hard_stop));

	WARN("hard-stop-after reached: closing %d remaining connections", proc_actconn(&sg->rt->proc));
	sg->stop_now = 1;
	l->stop = 1;
}

static void signal_cb(struct loop *l, struct io *io, uint32_t ev)
{
	struct signals *sg = (struct signals *)io;
	struct signalfd_siginfo si;
	struct runtime *rt = sg->rt;

	(void)ev;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			sd_notify_stopping();
			NOTICE("Received signal %d: stopping now", si.ssi_signo);
			sg->stop_now = 1;
			l->stop = 1;
			break;
		case SIGUSR1:
			if (rt->ws[0].stopping)
				break;
			sd_notify_stopping();
			NOTICE("Received SIGUSR1: stopping gracefully, %d connections left",
			       proc_actconn(&rt->proc));
			runtime_stop_gracefully(rt);
			if (rt->cfg->g.hard_stop_after)
				loop_timer_arm(l, &sg->hard_stop,
					       l->now_ms + (uint64_t)rt->cfg->g.hard_stop_after);
			break;
		case SIGHUP:
		case SIGUSR2: { /* SIGUSR2: HAProxy master-worker's reload signal */
			static char out[16384];
			if (rt->ws[0].stopping)
				break;
			runtime_reload(rt, si.ssi_signo == SIGHUP ? "SIGHUP" : "SIGUSR2", out, sizeof(out));
			break;
		}
		default:
			break;
		}
	}
}

static int write_pidfile(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		snprintf(err, errlen, "cannot write pid file %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
	return 0;
}

/* The signals ferry reads from a signalfd on the main thread. Blocked
 * before any worker thread starts, so threads inherit the mask and none of
 * them takes a signal meant for the signalfd. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR2);
	sigprocmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int run(struct runtime *rt, const char *pidfile, sigset_t *set)
{
	struct signals sg = { .rt = rt };
	int fd;

	fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1) {
		ALERT("signalfd: %s", strerror(errno));
		return 1;
	}
	io_init(&sg.io, fd, signal_cb);
	timer_init(&sg.hard_stop, hard_stop_cb);
	loop_io_set(&rt->ws[0].loop, &sg.io, EPOLLIN);
	while (!rt->ws[0].loop.stop) {
		loop_run_once(&rt->ws[0].loop, -1);
		if (rt->ws[0].stopping && proc_actconn(&rt->proc) == 0)
			break; /* graceful stop: every thread's sessions are done */
	}
	runtime_stop_threads(rt);
	sessions_close_all(&rt->ws[0], "KC");
	loop_timer_cancel(&rt->ws[0].loop, &sg.hard_stop);
	loop_io_close(&rt->ws[0].loop, &sg.io);
	if (pidfile)
		unlink(pidfile); /* may fail once privileges are dropped, as HAProxy's */
	return 0;
}

/* -sf/-st: the processes this one replaces are told once it serves. */
static void tell_old(const struct options *o)
{
	for (int i = 0; i < o->nold; i++)
		if (kill(o->old_pids[i], o->old_sig) == -1)
			WARN("could not signal the old process %d: %s", o->old_pids[i], strerror(errno));
		else
			NOTICE("Told the old process %d to %s", o->old_pids[i],
			       o->old_sig == SIGUSR1 ? "finish (SIGUSR1)" : "stop (SIGTERM)");
}

static struct cfg *load_config(const struct options *o)
{
	struct cfg *cfg = xcalloc(1, sizeof(*cfg));

	cfg_init(cfg, stderr);
	cfg->diag_mode = o->diag_mode;
	for (int i = 0; i < o->nfiles; i++)
		cfg_parse_path(cfg, o->files[i]);
	cfg_validate(cfg);
	rules_compile(cfg); /* ACLs and rules: reads -f files and maps */
	return cfg;
}

static int open_logs(struct cfg *cfg, char *err, size_t errlen)
{
	if (log_targets_open(&cfg->g.logs, err, errlen))
		return -1;
	for (struct cfg_proxy *px = cfg->proxies; px; px = px->next)
		if (log_targets_open(&px->logs, err, errlen))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	int rc;
	char *pidfile = NULL;
	struct cfg *cfg;
	struct runtime rt;
	sigset_t sigs;
	char err[512];

	set_localpeer();
	rc = parse_args(argc, argv, &o);
	if (rc) {
		if (rc < 0)
			usage(stderr);
		return rc < 0 ? 1 : 0;
	}
	if (o.has_condition)
		return check_condition(o.condition);
	log_proc_set_quiet(o.quiet);
	cfg = load_config(&o);
	set_cfgfiles(cfg);
	if (!cfg->nerr && privs_check_start(&cfg->g, o.check_only, err, sizeof(err))) {
		ALERT("%s", err);
		cfg_free(cfg);
		free(cfg);
		return 1;
	}
	if (cfg->nerr || o.check_only) {
		rc = cfg->nerr ? 1 : 0;
		if (cfg->nerr)
			fprintf(stderr, "ferry: configuration has %d error%s; nothing started\n",
				cfg->nerr, cfg->nerr > 1 ? "s" : "");
		else
			printf("Configuration file is valid\n");
		cfg_free(cfg);
		free(cfg);
		return rc;
	}
	if (cfg->g.quiet)
		log_proc_set_quiet(1);
	memset(&rt, 0, sizeof(rt));
	rt.files = o.files;
	rt.nfiles = o.nfiles;
	rt.diag_mode = o.diag_mode;
	if (o.pidfile || cfg->g.pidfile) /* a reload may free the configuration */
		pidfile = xstrdup(o.pidfile ? o.pidfile : cfg->g.pidfile);
	/* each thread holds an epoll and an eventfd descriptor besides its listeners */
	runtime_limits(cfg, 2 * (cfg->g.nbthread > 0 ? cfg->g.nbthread : runtime_default_threads()),
		       &rt.maxconn, &rt.maxpipes);
	if (o.upgrade_from &&
	    upgrade_fetch(o.upgrade_from, &rt.inherited, &rt.ninherited, err, sizeof(err)))
		goto fail;
	if (open_logs(cfg, err, sizeof(err)))
		goto fail;
	block_signals(&sigs);
	/* everything that needs root is open once runtime_build is done; the
	 * pid file too, then privileges go before any other thread starts */
	if (runtime_build(&rt, cfg, err, sizeof(err)) || (pidfile && write_pidfile(pidfile, err, sizeof(err))) ||
	    privs_drop(cfg, err, sizeof(err)) || runtime_start_threads(&rt, err, sizeof(err)))
		goto fail;
	privs_lock_forks(&cfg->g);
	sandbox_set_logs(&cfg->g.logs);
	if (sandbox_install(&cfg->g, err, sizeof(err))) { /* every thread: TSYNC */
		runtime_stop_threads(&rt);
		goto fail;
	}
	NOTICE("ferry %s started: %d frontend(s), %d backend(s), %d health check(s), maxconn %d, maxpipes %d, %d thread%s",
	       FERRY_VERSION, rt.gen->nfe, rt.gen->nbe, rt.gen->nchecks, rt.maxconn, rt.maxpipes, rt.nw,
	       rt.nw > 1 ? "s" : "");
	tell_old(&o);
	sd_notify_ready("Serving");
	rc = run(&rt, pidfile, &sigs);
	runtime_destroy(&rt);
	free(pidfile);
	return rc;
fail:
	ALERT("%s", err);
	if (!rt.gen) { /* not taken over by a generation */
		cfg_free(cfg);
		free(cfg);
	}
	runtime_destroy(&rt);
	free(pidfile);
	return 1;
}
