/* The runtime API (HAProxy's "stats socket" commands) as other parts of
 * ferry use it: the runtime opens and closes the sockets, and the HTTP
 * dashboard runs the same commands for its admin buttons ("act through the
 * same code as the socket commands"). Everything here runs on worker 0. */
#ifndef FERRY_OPS_CLI_H
#define FERRY_OPS_CLI_H
#include <stddef.h>

#include "config/model.h"
#include "ops/sbuf.h"

struct runtime;

/* Opens every "stats socket" of rt->cfg on worker 0's loop and starts the
 * stats sampler; sets rt->ops. Returns 0, or -1 with err filled (a socket
 * could not be opened). */
int ops_start(struct runtime *rt, char *err, size_t errlen);
/* Closes the sockets and their connections, removes the unix sockets it
 * created, and frees rt->ops. Commands still waiting for other threads are
 * abandoned (their replies are never read: the threads have stopped). */
void ops_stop(struct runtime *rt);

/* A reload: prepare opens the sockets of c that are not open yet (a
 * socket whose unix path or TCP address stays is kept, with the connections
 * it has), returning -1 with err filled when one cannot be opened (the
 * caller then aborts); commit closes the sockets c no longer lists, gives
 * the kept ones c's level, expose-fd, mode and owner, and takes c's stats
 * timeout and maxconn; abort closes what prepare opened. Connections
 * already open stay as they are until they close. */
int ops_cli_prepare(struct runtime *rt, const struct cfg *c, char *err, size_t errlen);
void ops_cli_commit(struct runtime *rt, const struct cfg *c);
void ops_cli_abort(struct runtime *rt);

/* A command line run outside a socket (the dashboard). */
struct cli_job;

/* Runs line (one or more commands separated by ';', as on the socket) at
 * level (CLI_LEVEL_*), and calls done(arg, out) once every command has
 * finished: at once for most, later for those that ask other threads
 * (show sess, shutdown session, ...). out holds each command's output as
 * the socket prints it, without the socket's blank line after each; it is
 * freed after done returns. Returns the job (until done runs), or NULL when
 * done already ran. */
struct cli_job *cli_job_start(struct runtime *rt, const char *line, int level,
			      void (*done)(void *arg, const struct sbuf *out), void *arg);
/* The caller went away: done will not be called; the job frees itself. */
void cli_job_cancel(struct cli_job *j);

#endif
