/* The server state file's lines (see server_state.h). */
#include "config/server_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/model.h"
#include "core/log.h"

static void load_file(const char *path, const char *only_backend, int warn, state_line_fn fn, void *arg)
{
	FILE *fp = fopen(path, "r");
	char line[4096];
	int lineno = 0;

	if (!fp) {
		if (warn)
			WARN("cannot read server state file '%s': %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *f[SST_MAX_FIELDS], *save = NULL;
		int n = 0;
		lineno++;
		if (lineno == 1) {
			if (strtol(line, NULL, 10) != 1) {
				if (warn)
					WARN("%s: unknown server state file version '%.*s', file ignored", path,
					     (int)strcspn(line, "\n"), line);
				break;
			}
			continue;
		}
		if (line[0] == '#' || line[0] == '\n')
			continue;
		for (char *t = strtok_r(line, " \t\n", &save); t && n < SST_MAX_FIELDS; t = strtok_r(NULL, " \t\n", &save))
			f[n++] = t;
		if (only_backend && (n <= SST_BE_NAME || strcmp(f[SST_BE_NAME], only_backend)))
			continue;
		fn(arg, path, lineno, f, n);
	}
	fclose(fp);
}

/* base + name, unless name is absolute. */
static void path_of(const struct cfg *c, const char *name, char *out, size_t len)
{
	if (name[0] == '/' || !c->g.state_base)
		snprintf(out, len, "%s", name);
	else
		snprintf(out, len, "%s/%s", c->g.state_base, name);
}

void cfg_state_each(const struct cfg *c, int warn, state_line_fn fn, void *arg)
{
	char path[4096];
	int global_done = 0;

	for (const struct cfg_proxy *px = c->proxies; px; px = px->next) {
		if (!(px->cap & PX_CAP_BE))
			continue;
		if (px->load_state == SSF_GLOBAL && c->g.state_file && !global_done) {
			path_of(c, c->g.state_file, path, sizeof(path));
			load_file(path, NULL, warn, fn, arg); /* every backend's lines at once */
			global_done = 1;
		} else if (px->load_state == SSF_LOCAL) {
			path_of(c, px->state_file_name ? px->state_file_name : px->name, path, sizeof(path));
			load_file(path, px->name, warn, fn, arg);
		}
	}
}
