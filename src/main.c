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

#include "config/model.h"
#include "core/log.h"
#include "core/strutil.h"
#include "event/sdnotify.h"
#include "runtime/runtime.h"
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
	const char *pidfile;
	const char *upgrade_from;      /* -x: the running process's stats socket */
	int old_pids[64];              /* -sf / -st: told to finish / stop once started */
	int nold;
	int old_sig;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ferry -f <config file|dir> [-f ...] [-c] [-p <pidfile>] [-q] [-v]\n"
		"             [-x <socket>] [-sf <pid>... | -st <pid>...]\n"
		"  -f FILE  read a configuration file, or every *.cfg of a directory in name order\n"
		"  -c       check the configuration only: exit 0 if valid, else print every error and exit 1\n"
		"  -p FILE  write the process id to FILE\n"
		"  -q       quiet: no notices or warnings on stderr\n"
		"  -v       print the version\n"
		"  -x SOCK  take the listening sockets of the running process (ferry or HAProxy) from\n"
		"           its stats socket SOCK ('expose-fd listeners') instead of binding them\n"
		"  -sf PID  once started, tell these processes to finish (SIGUSR1); -st: to stop (SIGTERM)\n"
		"ferry runs in the foreground. SIGTERM/SIGINT stop at once; SIGUSR1 stops\n"
		"gracefully (listeners close, sessions finish, bounded by hard-stop-after);\n"
		"SIGHUP and SIGUSR2 reload the configuration.\n");
}

/* Parses argv into o. Returns -1 (print usage, exit 1), 0, or 1 when done
 * (-v, -h). HAProxy's -sf/-st take every number that follows them, which
 * getopt cannot express: they are taken out first. */
static int parse_args(int argc, char **argv, struct options *o)
{
	char *rest[256];
	int nrest = 0, opt;

	for (int i = 0; i < argc && nrest < 255; i++) {
		if (i && (!strcmp(argv[i], "-sf") || !strcmp(argv[i], "-st"))) {
			o->old_sig = argv[i][2] == 'f' ? SIGUSR1 : SIGTERM;
			while (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9' && o->nold < 64)
				o->old_pids[o->nold++] = atoi(argv[++i]);
			continue;
		}
		rest[nrest++] = argv[i];
	}
	rest[nrest] = NULL;
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
			printf("ferry version %s - a TCP load balancer that reads HAProxy configurations\n",
			       FERRY_VERSION);
			return 1;
		case 'h': usage(stdout); return 1;
		case 'D': case 'W': case 'd': case 'V':
			break; /* HAProxy's daemon/master-worker/debug flags: ferry stays in the foreground */
		default: return -1;
		}
	}
	return optind < nrest || !o->nfiles ? -1 : 0;
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

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		ALERT("cannot write pid file %s: %s", path, strerror(errno));
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
	if (pidfile && write_pidfile(pidfile))
		return 1;
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
		unlink(pidfile);
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
	for (int i = 0; i < o->nfiles; i++)
		cfg_parse_path(cfg, o->files[i]);
	cfg_validate(cfg);
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

	rc = parse_args(argc, argv, &o);
	if (rc) {
		if (rc < 0)
			usage(stderr);
		return rc < 0 ? 1 : 0;
	}
	log_proc_set_quiet(o.quiet);
	cfg = load_config(&o);
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
	if (runtime_build(&rt, cfg, err, sizeof(err)) || runtime_start_threads(&rt, err, sizeof(err)))
		goto fail;
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
