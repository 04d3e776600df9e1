/* "show resolvers [name]" of the stats socket (resolvers_show, see
 * resolvers.h): HAProxy's counters per nameserver of each section, zero
 * for a section no server of the running generation uses. */
#include <string.h>

#include "ops/sbuf.h"
#include "runtime/resolvers.h"
#include "runtime/resolvers_int.h"

static void show_sec(const struct cfg_resolvers *c, const struct rsec *sec, struct sbuf *out)
{
	sbuf_printf(out, "Resolvers section %s\n", c->name);
	for (int i = 0; i < c->nns; i++) {
		static const struct ns_ctr zero;
		const struct ns_ctr *k = sec ? &sec->ns[i].c : &zero;
		sbuf_printf(out, " nameserver %s:\n", c->ns[i].name);
		sbuf_printf(out, "  sent:        %llu\n", (unsigned long long)k->sent);
		sbuf_printf(out, "  snd_error:   %llu\n", (unsigned long long)k->snd_error);
		sbuf_printf(out, "  valid:       %llu\n", (unsigned long long)k->valid);
		sbuf_printf(out, "  update:      %llu\n", (unsigned long long)k->update);
		sbuf_printf(out, "  cname:       %llu\n", (unsigned long long)k->cname);
		sbuf_printf(out, "  cname_error: %llu\n", (unsigned long long)k->cname_error);
		sbuf_printf(out, "  any_err:     %llu\n", (unsigned long long)k->any_err);
		sbuf_printf(out, "  nx:          %llu\n", (unsigned long long)k->nx);
		sbuf_printf(out, "  timeout:     %llu\n", (unsigned long long)k->timeout);
		sbuf_printf(out, "  refused:     %llu\n", (unsigned long long)k->refused);
		sbuf_printf(out, "  other:       %llu\n", (unsigned long long)k->other);
		sbuf_printf(out, "  invalid:     %llu\n", (unsigned long long)k->invalid);
		sbuf_printf(out, "  too_big:     %llu\n", (unsigned long long)k->too_big);
		sbuf_printf(out, "  truncated:   %llu\n", (unsigned long long)k->truncated);
		sbuf_printf(out, "  outdated:    %llu\n", (unsigned long long)k->outdated);
	}
}

int resolvers_show(const struct generation *g, const char *name, struct sbuf *out)
{
	const struct gen_dns *gd = g->dns;
	int found = 0;

	if (!g->cfg->resolvers) {
		sbuf_puts(out, "No resolvers found\n");
		return 0;
	}
	for (const struct cfg_resolvers *c = g->cfg->resolvers; c; c = c->next) {
		const struct rsec *sec = NULL;
		if (name && *name && strcmp(name, c->name))
			continue;
		for (sec = gd ? gd->secs : NULL; sec && sec->cfg != c; sec = sec->next)
			;
		show_sec(c, sec, out);
		found = 1;
	}
	return found ? 0 : -1;
}
