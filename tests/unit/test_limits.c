/* Limits: the descriptor budget (maxconn, maxpipes), and the
 * connection-slot protocol between threads (src/proxy/listener.c,
 * worker.c): a thread reserves a process slot before accept(), and gives it
 * back when accept() finds nobody. Another thread that saw the limit
 * reached meanwhile paused its listener; giving the slot back must wake it.
 * Two real workers (epoll, eventfd) and real listening sockets on
 * 127.0.0.1; the interleaving is played step by step on one thread, so it
 * is exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/proxy.h"
#include "runtime/runtime.h"

static struct process proc;
static struct worker ws[2];
static struct worker *wp[2] = { &ws[0], &ws[1] };
static struct cfg_proxy pxcfg;
static struct frontend fe;

/* A port nobody listens on right now. */
static int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int setup(void **st)
{
	struct cfg_bind b = { 0 };
	struct addr_spec a;
	char err[256], text[64];

	(void)st;
	memset(&proc, 0, sizeof(proc));
	proc.maxconn = 2;
	proc.nworkers = 2;
	proc.workers = wp;
	fe.name = "fe";
	fe.cfg = &pxcfg;
	fe.maxconn = 100;
	snprintf(text, sizeof(text), "127.0.0.1:%d", free_port());
	assert_int_equal(addr_parse(text, 0, &a, err, sizeof(err)), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(worker_init(&ws[i], &proc, i), 0);
		assert_int_equal(listener_open(&ws[i], &fe, &b, &a, err, sizeof(err)), 0);
		listeners_update(&ws[i]);
	}
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	for (int i = 0; i < 2; i++)
		worker_destroy(&ws[i]);
	free(proc.lsock); /* the process's registry of listening sockets */
	proc.lsock = NULL;
	proc.nlsock = 0;
	return 0;
}

static void test_release_wakes_a_thread_paused_by_the_reservation(void **st)
{
	struct worker *a = &ws[0], *b = &ws[1];

	(void)st;
	proc.actconn = 1;                          /* one session somewhere */
	assert_int_equal(b->listeners_paused, 0);
	/* a: accept() batch ends: a slot reserved for an accept() that will
	 * find nobody; the process is at maxconn for a moment */
	assert_int_equal(listener_slot_reserve(a, &fe), 1);
	/* b: a client arrives, no slot: b pauses its listener */
	assert_int_equal(listener_slot_reserve(b, &fe), 0);
	listeners_update(b);
	assert_int_equal(b->listeners_paused, 1);
	assert_int_equal(b->listeners->io.events, 0);
	/* a: accept() said EAGAIN: the slot goes back */
	listener_slot_release(a, &fe);
	assert_int_equal(proc.actconn, 1);
	/* b's next loop turn: it was asked to look again, and accepts again */
	loop_run_once(&b->loop, 0);
	assert_int_equal(b->listeners_paused, 0);
	assert_int_equal(b->listeners->io.events, EPOLLIN);
	assert_int_equal(listener_slot_reserve(b, &fe), 1);
}

static void test_frontend_full_after_process_slot_wakes_too(void **st)
{
	struct worker *a = &ws[0], *b = &ws[1];

	(void)st;
	fe.cur_conns = fe.maxconn;                 /* a's frontend is full */
	/* while a holds a process slot for a moment (1 + 1 = maxconn), b
	 * finds the process full and pauses */
	proc.actconn = 2;
	listeners_update(b);
	assert_int_equal(b->listeners_paused, 1);
	/* a's reservation, replayed whole: the process slot is taken, the
	 * frontend is full, the process slot goes back */
	proc.actconn = 1;
	assert_int_equal(listener_slot_reserve(a, &fe), 0);
	assert_int_equal(proc.actconn, 1);
	fe.cur_conns = 0;
	loop_run_once(&b->loop, 0);
	assert_int_equal(b->listeners_paused, 0);
}

static void test_fd_budget(void **st)
{
	int mc, mp;

	(void)st;
	/* derived: 2 descriptors per connection, 2 per pipe, maxconn/4 pipes */
	runtime_fd_budget(20000, 0, 0, &mc, &mp);
	assert_int_equal(mc, 8000);
	assert_int_equal(mp, 2000);
	assert_true(2 * mc + 2 * mp <= 20000);
	/* explicit maxpipes comes off first */
	runtime_fd_budget(20000, 0, 1000, &mc, &mp);
	assert_int_equal(mc, 9000);
	assert_int_equal(mp, 1000);
	/* explicit maxconn: pipes get what is left, never more */
	runtime_fd_budget(2000, 900, 0, &mc, &mp);
	assert_int_equal(mc, 900);
	assert_int_equal(mp, 100);
	runtime_fd_budget(2000, 1000, 0, &mc, &mp);
	assert_int_equal(mp, 0);
	runtime_fd_budget(2000, 1200, 0, &mc, &mp);  /* too few descriptors: still none */
	assert_int_equal(mc, 1200);
	assert_int_equal(mp, 0);
	/* a tiny limit: HAProxy's floor of 100 connections, no pipes left */
	runtime_fd_budget(132, 0, 0, &mc, &mp);
	assert_int_equal(mc, 100);
	assert_int_equal(mp, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_budget),
		cmocka_unit_test_setup_teardown(test_release_wakes_a_thread_paused_by_the_reservation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frontend_full_after_process_slot_wakes_too, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
