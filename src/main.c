/* ferry: command line, signals, and the main loop. The only place that exits. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config/model.h"
#include "core/log.h"
#include "core/strutil.h"
#include "runtime/runtime.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "dev"
#endif

struct signals {
	struct io io;
	struct runtime *rt;
	struct timer hard_stop;
	int stop_now;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ferry -f <config file|dir> [-f ...] [-c] [-p <pidfile>] [-q] [-v]\n"
		"  -f FILE  read a configuration file, or every *.cfg of a directory in name order\n"
		"  -c       check the configuration only: exit 0 if valid, else print every error and exit 1\n"
		"  -p FILE  write the process id to FILE\n"
		"  -q       quiet: no notices or warnings on stderr\n"
		"  -v       print the version\n"
		"ferry runs in the foreground. SIGTERM/SIGINT stop at once; SIGUSR1 stops\n"
		"gracefully (listeners close, sessions finish, bounded by hard-stop-after).\n");
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
			NOTICE("Received signal %d: stopping now", si.ssi_signo);
			sg->stop_now = 1;
			l->stop = 1;
			break;
		case SIGUSR1:
			if (rt->ws[0].stopping)
				break;
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

int main(int argc, char **argv)
{
	const char *files[64];
	int nfiles = 0, check_only = 0, quiet = 0, rc = 0, opt;
	const char *pidfile = NULL;
	struct cfg *cfg;
	struct runtime rt;
	sigset_t sigs;
	char err[512];

	while ((opt = getopt(argc, argv, "f:cp:qvVhDWd")) != -1) {
		switch (opt) {
		case 'f':
			if (nfiles < 64)
				files[nfiles++] = optarg;
			break;
		case 'c': check_only = 1; break;
		case 'p': pidfile = optarg; break;
		case 'q': quiet = 1; break;
		case 'v':
			printf("ferry version %s - a TCP load balancer that reads HAProxy configurations\n",
			       FERRY_VERSION);
			return 0;
		case 'h': usage(stdout); return 0;
		case 'D': case 'W': case 'd': case 'V':
			break; /* HAProxy's daemon/master-worker/debug flags: ferry stays in the foreground */
		default: usage(stderr); return 1;
		}
	}
	if (optind < argc || !nfiles) {
		usage(stderr);
		return 1;
	}
	log_proc_set_quiet(quiet);
	cfg = xcalloc(1, sizeof(*cfg));
	cfg_init(cfg, stderr);
	for (int i = 0; i < nfiles; i++)
		cfg_parse_path(cfg, files[i]);
	cfg_validate(cfg);
	if (cfg->nerr) {
		fprintf(stderr, "ferry: configuration has %d error%s; nothing started\n",
			cfg->nerr, cfg->nerr > 1 ? "s" : "");
		cfg_free(cfg);
		free(cfg);
		return 1;
	}
	if (check_only) {
		printf("Configuration file is valid\n");
		cfg_free(cfg);
		free(cfg);
		return 0;
	}
	if (cfg->g.quiet)
		log_proc_set_quiet(1);
	memset(&rt, 0, sizeof(rt));
	rt.files = files;
	rt.nfiles = nfiles;
	/* each thread holds an epoll and an eventfd descriptor besides its listeners */
	runtime_limits(cfg, 2 * (cfg->g.nbthread > 0 ? cfg->g.nbthread : runtime_default_threads()),
		       &rt.maxconn, &rt.maxpipes);
	if (log_targets_open(&cfg->g.logs, err, sizeof(err)))
		goto fail;
	for (struct cfg_proxy *px = cfg->proxies; px; px = px->next)
		if (log_targets_open(&px->logs, err, sizeof(err)))
			goto fail;
	block_signals(&sigs);
	if (runtime_build(&rt, cfg, err, sizeof(err)) || runtime_start_threads(&rt, err, sizeof(err)))
		goto fail;
	NOTICE("ferry %s started: %d frontend(s), %d backend(s), %d health check(s), maxconn %d, maxpipes %d, %d thread%s",
	       FERRY_VERSION, rt.gen->nfe, rt.gen->nbe, rt.gen->nchecks, rt.maxconn, rt.maxpipes, rt.nw,
	       rt.nw > 1 ? "s" : "");
	rc = run(&rt, pidfile ? pidfile : cfg->g.pidfile, &sigs);
	runtime_destroy(&rt);
	return rc;
fail:
	ALERT("%s", err);
	if (!rt.gen) { /* not taken over by a generation */
		cfg_free(cfg);
		free(cfg);
	}
	runtime_destroy(&rt);
	return 1;
}
