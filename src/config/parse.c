/* Reading configuration files: files and directories, sections and the
 * dispatch of their lines, the argument helpers every keyword file uses,
 * and the sentences for keywords ferry rejects. The global keywords are
 * in parse_global.c and parse_global_privs.c, log lines in parse_log.c,
 * proxy keywords in parse_proxy.c, server and bind options in
 * parse_server.c. */
#include "config/parse_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/haproxy_kw.h"
#include "config/preproc.h"
#include "core/strutil.h"
#include "core/units.h"

int arg_duration(struct pctx *p, const char *kw, const char *arg, int64_t *out)
{
	const char *e;

	if (!arg) {
		perr(p, "'%s' expects a duration", kw);
		return -1;
	}
	e = parse_duration_ms(arg, out);
	if (e) {
		perr(p, "'%s': invalid duration '%s': %s", kw, arg, e);
		return -1;
	}
	return 0;
}

int arg_int(struct pctx *p, const char *kw, const char *arg, long min, long max, long *out)
{
	const char *e;

	if (!arg) {
		perr(p, "'%s' expects an integer", kw);
		return -1;
	}
	e = parse_int(arg, min, max, out);
	if (e) {
		perr(p, "'%s': invalid value '%s' (expects an integer from %ld to %ld)",
		     kw, arg, min, max);
		return -1;
	}
	return 0;
}

void kw_accepted_value(struct pctx *p, struct cfg_words *w)
{
	if (!w->w[1])
		perr(p, "'%s' expects a value", w->w[0]);
}

/* ---- sentences for keywords ferry does not take -------------------------- */

/* Keywords HAProxy refuses in a TCP proxy, or that only make sense in an
 * HTTP one and that ferry cannot ignore. The HTTP-only lines HAProxy
 * accepts in a TCP proxy and ignores are in parse_http.c. */
const char *const http_only_keywords[] = {
	"use-fcgi-app", NULL
};

static int in_list(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(w, *list))
			return 1;
	return 0;
}

const struct haproxy_kw *haproxy_kw_find(enum hkw_kind kind, char *const *words)
{
	const struct haproxy_kw *best = NULL;
	size_t bestlen = 0;

	for (const struct haproxy_kw *k = haproxy_keywords; k->name; k++) {
		const char *n = k->name;
		int i = 0;

		if (k->kind != kind)
			continue;
		/* each word of the entry must be the next word of the line */
		while (words[i]) {
			size_t l = strlen(words[i]);
			if (strncmp(n, words[i], l) || (n[l] && n[l] != ' '))
				break;
			n += l;
			i++;
			if (!*n || kind != HKW_PROXY)
				break;
			n++;
		}
		if (i && !*n && strlen(k->name) > bestlen) {
			best = k;
			bestlen = strlen(k->name);
		}
	}
	return best;
}

static enum hkw_kind section_kind(const struct pctx *p)
{
	return p->sec == SEC_GLOBAL ? HKW_GLOBAL : HKW_PROXY;
}

int kw_reject_known(struct pctx *p, char *const *words, const char *where)
{
	const struct haproxy_kw *k;

	if (in_list(words[0], http_only_keywords)) {
		perr(p, "'%s' in %s is HTTP-only: ferry balances TCP connections and never parses HTTP",
		     words[0], where);
		return 1;
	}
	k = haproxy_kw_find(section_kind(p), words);
	if (k) {
		perr(p, "'%s' in %s is an HAProxy keyword that ferry does not support yet", k->name, where);
		return 1;
	}
	return 0;
}

/* The first words of HAProxy's keywords of that kind, once each. */
static int haproxy_first_words(enum hkw_kind kind, const char **cands, int n, int max, char *buf,
			       size_t buflen)
{
	size_t used = 0;

	for (const struct haproxy_kw *k = haproxy_keywords; k->name && n < max; k++) {
		size_t l = strcspn(k->name, " ");
		int dup = 0;
		if (k->kind != kind || used + l + 1 > buflen)
			continue;
		for (int i = 0; i < n && !dup; i++)
			dup = strlen(cands[i]) == l && !strncmp(cands[i], k->name, l);
		if (dup)
			continue;
		memcpy(buf + used, k->name, l);
		buf[used + l] = 0;
		cands[n++] = buf + used;
		used += l + 1;
	}
	return n;
}

void kw_unknown(struct pctx *p, const char *kw, const char *where,
		const char *const *extra)
{
	const char *cands[512];
	char words[4096];
	const char *best;
	int n = 0;

	/* ferry's own keywords first: a tie suggests what works */
	for (const struct kw *k = p->sec == SEC_GLOBAL ? global_keywords : proxy_keywords;
	     k->name && n < 200; k++)
		cands[n++] = k->name;
	for (; extra && *extra && n < 250; extra++)
		cands[n++] = *extra;
	n = haproxy_first_words(section_kind(p), cands, n, 510, words, sizeof(words));
	cands[n] = NULL;
	best = str_suggest(kw, cands);
	if (best)
		perr(p, "unknown keyword '%s' in %s (did you mean '%s'?)", kw, where, best);
	else
		perr(p, "unknown keyword '%s' in %s", kw, where);
}

/* ---- the global section ---------------------------------------------------- */

/* A global line: "tune.*" is ignored with a warning; the keywords are in
 * global_keywords (parse_global.c) and global_privs_keywords
 * (parse_global_privs.c). */
static void parse_global_line(struct pctx *p, struct cfg_words *w)
{
	if (!strncmp(w->w[0], "tune.", 5)) {
		pwarn(p, "'%s' is not supported yet and is ignored", w->w[0]);
		return;
	}
	const char *privs[16];
	int n = 0;

	for (const struct kw *k = global_keywords; k->name; k++) {
		if (!strcmp(k->name, w->w[0])) {
			k->fn(p, w);
			return;
		}
	}
	for (const struct kw *k = global_privs_keywords; k->name; k++) {
		if (!strcmp(k->name, w->w[0])) {
			k->fn(p, w);
			return;
		}
		if (n < 15)
			privs[n++] = k->name;
	}
	privs[n] = NULL;
	if (kw_reject_known(p, w->w, "section 'global'"))
		return;
	kw_unknown(p, w->w[0], "section 'global'", privs);
}

/* ---- sections ------------------------------------------------------------ */

static const char *const section_names[] = { "global", "defaults", "frontend",
					     "backend", "listen", "resolvers", NULL };
/* Sections of later HAProxy versions, skipped as those of 2.6's manual are. */
static const char *const later_sections[] = {
	"crt-store", "traces", "healthcheck", "dynamic-update", "acme", NULL
};

/* Whether k starts a section ferry does not support (whose lines it skips). */
static int other_section(const char *k)
{
	char *words[2] = { (char *)k, NULL };

	return (haproxy_kw_find(HKW_SECTION, words) && !in_list(k, section_names)) ||
	       in_list(k, later_sections);
}

/* "frontend NAME [from DEFAULTS]" and friends. */
static void start_proxy(struct pctx *p, struct cfg_words *w, int cap)
{
	struct cfg *c = p->c;
	/* A new defaults section starts from HAProxy's built-in values; other
	 * sections from the last defaults section, unless "from" names one. */
	const struct cfg_proxy *def = cap == PX_CAP_DEF ? NULL : c->defaults;
	struct cfg_proxy *px = xcalloc(1, sizeof(*px));
	const char *name = w->n > 1 && strcmp(w->w[1], "from") ? w->w[1] : NULL;
	int i = name ? 2 : 1;

	if (i < w->n && !strcmp(w->w[i], "from")) {
		if (!w->w[i + 1]) {
			perr(p, "'from' expects the name of a defaults section");
		} else {
			def = NULL;
			for (struct cfg_proxy *d = c->defaults; d; d = d->next)
				if (d->name && !strcmp(d->name, w->w[i + 1])) {
					def = d;
					break;
				}
			if (!def) {
				perr(p, "defaults section '%s' not found", w->w[i + 1]);
				def = c->defaults;
			}
		}
		i += 2;
	}
	if (i < w->n && (cap & PX_CAP_FE) && cap != PX_CAP_DEF && strchr(w->w[i], ':'))
		perr(p, "please use the 'bind' keyword for listening addresses."); /* HAProxy's words */
	else if (i < w->n)
		perr(p, "unexpected word '%s' after the section name", w->w[i]);
	if (!name && cap != PX_CAP_DEF)
		perr(p, "'%s' expects a name", w->w[0]);
	if (name && cap != PX_CAP_DEF) {
		for (const char *q = name; *q; q++)
			if (!(isalnum((unsigned char)*q) || *q == '-' || *q == '_' || *q == '.' || *q == ':')) {
				perr(p, "invalid character '%c' in %s name '%s'", *q, w->w[0], name);
				break;
			}
	}
	if (def)
		proxy_init_from(px, def);
	else
		proxy_defaults_builtin(px);
	px->cap = cap;
	px->name = xstrdup(name ? name : "");
	px->file = p->file;
	px->line = p->line;
	if (cap == PX_CAP_DEF) {
		px->next = c->defaults;
		c->defaults = px;
	} else {
		struct cfg_proxy **tail = &c->proxies;
		struct cfg_proxy *dup = NULL;
		int uuid = 1;
		for (; *tail; tail = &(*tail)->next, uuid++)
			if (name && !strcmp((*tail)->name, name) && ((*tail)->cap & cap))
				dup = *tail;
		if (dup)
			perr(p, "%s '%s' has the same name as the %s declared at %s:%d",
			     w->w[0], name, px_kind(dup), dup->file, dup->line);
		px->uuid = uuid;
		*tail = px;
	}
	p->px = px;
	p->sec = SEC_PROXY;
}

const char *px_kind(const struct cfg_proxy *px)
{
	switch (px->cap) {
	case PX_CAP_FE: return "frontend";
	case PX_CAP_BE: return "backend";
	case PX_CAP_DEF: return "defaults";
	default: return "listen";
	}
}

void parse_proxy_line(struct pctx *p, struct cfg_words *w); /* parse_proxy.c */

static void parse_line(struct pctx *p, struct cfg_words *w)
{
	const char *k = w->w[0];

	if (!strcmp(k, "global")) {
		p->sec = SEC_GLOBAL;
		p->px = NULL;
		if (w->n > 1)
			perr(p, "unexpected word '%s' after 'global'", w->w[1]);
	} else if (!strcmp(k, "defaults")) {
		start_proxy(p, w, PX_CAP_DEF);
	} else if (!strcmp(k, "frontend")) {
		start_proxy(p, w, PX_CAP_FE);
	} else if (!strcmp(k, "backend")) {
		start_proxy(p, w, PX_CAP_BE);
	} else if (!strcmp(k, "listen")) {
		start_proxy(p, w, PX_CAP_FE | PX_CAP_BE);
	} else if (!strcmp(k, "resolvers")) {
		parse_resolvers_start(p, w);
	} else if (other_section(k)) {
		perr(p, "section '%s' is an HAProxy keyword that ferry does not support yet; its lines are skipped", k);
		p->sec = SEC_SKIP;
		p->px = NULL;
	} else if (p->sec == SEC_GLOBAL) {
		parse_global_line(p, w);
	} else if (p->sec == SEC_PROXY) {
		parse_proxy_line(p, w);
	} else if (p->sec == SEC_RESOLVERS) {
		parse_resolvers_line(p, w);
	} else {
		const char *best = str_suggest(k, section_names);
		if (best)
			perr(p, "unknown section or keyword '%s' outside any section (did you mean '%s'?)", k, best);
		else
			perr(p, "keyword '%s' outside any section (expected global, defaults, frontend, backend or listen)", k);
	}
}

static const char *keep_name(struct cfg *c, const char *name)
{
	char **v = realloc(c->files, (size_t)(c->nfiles + 1) * sizeof(*v));
	if (!v)
		abort();
	c->files = v;
	c->files[c->nfiles] = xstrdup(name);
	return c->files[c->nfiles++];
}

/* What ${.SECTION} says after line w: HAProxy's name of the section it
 * starts (its name, else its keyword), or the one before. */
static void note_section(const struct cfg_words *w, char *section, size_t len)
{
	if (in_list(w->w[0], section_names) || other_section(w->w[0]))
		snprintf(section, len, "%s", w->n > 1 && *w->w[1] ? w->w[1] : w->w[0]);
}

int cfg_parse_text(struct cfg *c, const char *name, const char *text)
{
	struct pctx p = { .c = c, .file = keep_name(c, name), .sec = SEC_NONE };
	struct cfg_words *w = malloc(sizeof(*w));
	struct cond_blocks blocks = { 0 };
	char section[256] = "";
	struct cfg_lex lx = { .file = p.file, .section = section };
	const char *line = text;
	char err[256];

	if (!w)
		abort();
	while (*line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		char *buf = malloc(len + 1);

		if (!buf)
			abort();
		memcpy(buf, line, len);
		buf[len] = 0;
		lx.line = ++p.line;
		if (cfg_split_lex(buf, &lx, w, err, sizeof(err))) {
			cfg_error(c, p.file, p.line, "%s", err);
		} else if (w->n > 0 && cfg_preproc_line(c, &blocks, p.file, p.line, w)) {
			note_section(w, section, sizeof(section));
			if (p.sec != SEC_SKIP || in_list(w->w[0], section_names) ||
			    other_section(w->w[0]))
				parse_line(&p, w);
		}
		free(buf);
		line += len + (eol ? 1 : 0);
	}
	cfg_preproc_end(c, &blocks, p.file, p.line);
	free(w);
	return 0;
}

static int parse_file(struct cfg *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!f) {
		cfg_error(c, path, 0, "cannot open configuration file: %s", strerror(errno));
		return -1;
	}
	{
		FILE *m = open_memstream(&text, &len);
		char chunk[8192];
		size_t n;
		if (!m)
			abort();
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fwrite(chunk, 1, n, m);
		fclose(m);
	}
	fclose(f);
	if (memchr(text, 0, len)) {
		cfg_error(c, path, 0, "file contains a NUL byte; is it a text file?");
		free(text);
		return -1;
	}
	rc = cfg_parse_text(c, path, text);
	free(text);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cfg_parse_path(struct cfg *c, const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	int n = 0, rc = 0;

	if (stat(path, &st) == -1) {
		cfg_error(c, path, 0, "cannot open configuration file: %s", strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return parse_file(c, path);
	d = opendir(path);
	if (!d) {
		cfg_error(c, path, 0, "cannot read directory: %s", strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 4, ".cfg") || de->d_name[0] == '.')
			continue;
		names = realloc(names, (size_t)(n + 1) * sizeof(*names));
		if (!names)
			abort();
		names[n] = malloc(strlen(path) + l + 2);
		if (!names[n])
			abort();
		sprintf(names[n++], "%s/%s", path, de->d_name);
	}
	closedir(d);
	if (n) /* qsort's array may not be NULL, even empty */
		qsort(names, (size_t)n, sizeof(*names), name_cmp);
	for (int i = 0; i < n; i++) {
		rc |= parse_file(c, names[i]);
		free(names[i]);
	}
	free(names);
	return rc;
}
