/* nbthread: worker 0 runs on the main thread (with the health checks and
 * the signals); every other worker runs its own event loop on its own
 * thread until it is told to stop. */
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void nothing(struct worker *w, const void *arg)
{
	(void)w;
	(void)arg;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!w->loop.stop) {
		loop_run_once(&w->loop, -1);
		if (w->stopping && w->actconn == 0) {
			/* graceful stop: its sessions are done; the main thread
			 * waits for everyone's, so have it look again */
			worker_call(w, w->proc->workers[0], nothing, NULL, 0);
			break;
		}
	}
	/* no loop turn after this: it could accept again; the deferred frees
	 * run in worker_destroy (loop_free) once every thread has stopped */
	sessions_close_all(w, "KC");
	return NULL;
}

int runtime_start_threads(struct runtime *rt, char *err, size_t errlen)
{
	if (rt->nw < 2)
		return 0;
	rt->threads = calloc((size_t)rt->nw, sizeof(*rt->threads));
	if (!rt->threads) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int t = 1; t < rt->nw; t++) {
		char name[32]; /* "ferry/4095" at most (nbthread <= 4096): within the 15 characters allowed */
		int e = pthread_create(&rt->threads[t], NULL, worker_main, &rt->ws[t]);
		if (!e) { /* "ferry/1"...: what top -H and /proc/PID/task/TID/comm show */
			snprintf(name, sizeof(name), "ferry/%d", t);
			pthread_setname_np(rt->threads[t], name);
		}
		if (e) {
			snprintf(err, errlen, "cannot start thread %d: %s", t + 1, strerror(e));
			rt->nw = t; /* the ones started are stopped by runtime_stop_threads */
			runtime_stop_threads(rt);
			return -1;
		}
	}
	return 0;
}

static void graceful_on_worker(struct worker *w, const void *arg)
{
	(void)arg;
	if (w->stopping)
		return;
	w->stopping = 1;
	w->loop.busy = 0; /* as HAProxy: no busy-polling while stopping */
	listeners_close(w);
}

void runtime_stop_gracefully(struct runtime *rt)
{
	workers_call(&rt->ws[0], graceful_on_worker, NULL, 0);
	runtime_stats_fe_stop_listening(rt);
}

static void stop_on_worker(struct worker *w, const void *arg)
{
	(void)arg;
	w->loop.stop = 1;
}

void runtime_stop_threads(struct runtime *rt)
{
	if (!rt->threads)
		return;
	for (int t = 1; t < rt->nw; t++)
		worker_call(&rt->ws[0], &rt->ws[t], stop_on_worker, NULL, 0);
	for (int t = 1; t < rt->nw; t++)
		pthread_join(rt->threads[t], NULL);
	free(rt->threads);
	rt->threads = NULL;
}
