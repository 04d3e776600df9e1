/* Reading HAProxy's server state file (version 1, what "show servers
 * state" prints), shared by the configuration (init-addr last: the saved
 * address) and the runtime (the saved states, runtime/state_file.c). */
#ifndef FERRY_CONFIG_SERVER_STATE_H
#define FERRY_CONFIG_SERVER_STATE_H

struct cfg;

/* Fields of a line by HAProxy's numbering (after be_id). */
enum {
	SST_BE_NAME = 1, SST_SRV_NAME = 3, SST_ADDR = 4, SST_OP = 5, SST_ADMIN = 6,
	SST_UWEIGHT = 7, SST_IWEIGHT = 8, SST_FQDN = 17, SST_PORT = 18, SST_SRVRECORD = 19,
	SST_MAX_FIELDS = 32
};

/* Calls fn for every line of the state files the backends of c load
 * ("load-server-state-from-file global|local"), with its fields split
 * (n >= 12 is checked by fn). A file that cannot be read, or of another
 * version, is warned about when warn is set. */
typedef void (*state_line_fn)(void *arg, const char *path, int lineno, char **f, int n);
void cfg_state_each(const struct cfg *c, int warn, state_line_fn fn, void *arg);

#endif
