/* Internal to the config layer: the parser's state and the keyword tables
 * shared by parse.c (sections), parse_global*.c, parse_proxy.c,
 * parse_server.c and the other parse_*.c files. */
#ifndef FERRY_CONFIG_PARSE_INT_H
#define FERRY_CONFIG_PARSE_INT_H
#include "config/lexer.h"
#include "config/model.h"

enum section { SEC_NONE, SEC_GLOBAL, SEC_PROXY, SEC_RESOLVERS, SEC_SKIP /* an unsupported section */ };

struct pctx {
	struct cfg *c;
	const char *file;
	int line;
	enum section sec;
	struct cfg_proxy *px; /* current proxy or defaults section */
	struct cfg_resolvers *rs; /* current resolvers section */
};

typedef void (*kw_fn)(struct pctx *p, struct cfg_words *w);

struct kw {
	const char *name;
	int cap;     /* PX_CAP_* where allowed (proxy sections) */
	kw_fn fn;
};

#define perr(p, ...) cfg_error((p)->c, (p)->file, (p)->line, __VA_ARGS__)
#define pwarn(p, ...) cfg_warn((p)->c, (p)->file, (p)->line, __VA_ARGS__)

extern const struct kw proxy_keywords[];
extern const struct kw global_keywords[];          /* parse_global.c */
/* user, group, chroot, setcap, insecure-run-as-root... (parse_global_privs.c) */
extern const struct kw global_privs_keywords[];
extern const char *const server_keywords[];
extern const char *const http_only_keywords[];

/* A line whose keyword HAProxy has (its manual's table, haproxy_kw.c) but
 * ferry does not take is "an HAProxy keyword that ferry does not support
 * yet"; an HTTP-only one ferry cannot ignore says so. words: the line.
 * Returns 1 when the line was such a keyword (and an error was reported). */
int kw_reject_known(struct pctx *p, char *const *words, const char *where);
/* Reports an unknown keyword, suggesting the closest known one. */
void kw_unknown(struct pctx *p, const char *kw, const char *where,
		const char *const *extra);
const char *px_kind(const struct cfg_proxy *px);
/* Parses the options of a server or default-server line from w->w[from]. */
void parse_srv_opts(struct pctx *p, struct cfg_words *w, int from,
		    struct cfg_srv_opts *o, int is_default, struct cfg_server *srv);
/* "source ADDR[:PORT]" at w->w[*i] (server option or proxy keyword): moves
 * *i onto the address. usesrc and interface are not supported yet. Returns
 * 0 or -1 (reported). */
int parse_source(struct pctx *p, struct cfg_words *w, int *i, struct addr_spec *out);
/* A "log" line into t (parse_log.c); "log global" sets *log_global,
 * refused unless allow_global. Errors are reported. */
void parse_log_line(struct pctx *p, struct cfg_words *w, struct log_targets *t,
		    int *log_global, int allow_global);
void proxy_init_from(struct cfg_proxy *px, const struct cfg_proxy *def);
void proxy_defaults_builtin(struct cfg_proxy *px);
/* A keyword ferry accepts and ignores, but only with a value (HAProxy
 * requires one): reports "'kw' expects a value" when it has none. */
void kw_accepted_value(struct pctx *p, struct cfg_words *w);
/* Duration and integer helpers reporting "'kw' ..." errors. Return 0 / -1. */
int arg_duration(struct pctx *p, const char *kw, const char *arg, int64_t *out);
int parse_check_option(struct pctx *p, struct cfg_words *w);   /* parse_check.c */
void kw_tcp_check(struct pctx *p, struct cfg_words *w);
/* Shared by tcp-check and http-check (parse_check.c): a new rule at the
 * end of l; one option of an expect rule at w->w[*i] (HAProxy takes them
 * before and after the pattern: returns 1 when it was one and *i moved
 * past its value, 0 when w->w[*i] is no option, -1 after an error); a
 * connect rule (NULL after an error, which kw names). */
struct tcr *tcr_add(struct pctx *p, struct tcr_list *l, enum tcr_kind kind);
int tcr_expect_option(struct pctx *p, struct tcr *r, struct cfg_words *w, int *i);
struct tcr *tcr_parse_connect(struct pctx *p, struct cfg_words *w, struct tcr_list *l, const char *kw);
void kw_http_check(struct pctx *p, struct cfg_words *w);     /* parse_httpchk.c */
void opt_httpchk(struct pctx *p, struct cfg_words *w);
void kw_role_change_grace(struct pctx *p, struct cfg_words *w);
/* mode, uid, user, gid or group at w->w[*i] on bind b (parse_unix.c):
 * returns 1 when it was one (and *i is on its value), 0 when it is another
 * option, -1 after an error. */
int parse_bind_unix_option(struct pctx *p, struct cfg_words *w, int *i, struct cfg_bind *b);
/* The global "unix-bind" line; a new bind line's mode and owner from it;
 * its prefix before the path of a unix address a (text: as written, for
 * HAProxy's "too long" sentence). bind_unix_prefix returns 0, or -1 with
 * err filled. */
void kw_unix_bind(struct pctx *p, struct cfg_words *w);
void bind_unix_defaults(const struct pctx *p, struct cfg_bind *b);
int bind_unix_prefix(const struct pctx *p, struct addr_spec *a, const char *text, char *err,
		     size_t errlen);
/* "stats socket|timeout|maxconn ..." in global (parse_stats.c). */
void kw_global_stats(struct pctx *p, struct cfg_words *w);
/* The stats frontend (parse_stats_fe.c). */
void kw_stats(struct pctx *p, struct cfg_words *w);
void kw_http_request(struct pctx *p, struct cfg_words *w);
/* Keeps a sentence for validation: reported unless the proxy turns out to
 * be a stats frontend. */
void stats_fe_defer(struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Notes the first keyword a stats frontend may not hold. */
void stats_fe_note_keyword(struct pctx *p, struct cfg_words *w);
/* "frontend 'x'", "section 'defaults'", ...: where the current line is. */
const char *px_where(struct pctx *p);
/* parse_rules.c: acl, use_backend, use-server, tcp-request lines, kept
 * as words for rules_compile(). */
void kw_acl(struct pctx *p, struct cfg_words *w);
void kw_use_backend(struct pctx *p, struct cfg_words *w);
void kw_use_server(struct pctx *p, struct cfg_words *w);
void kw_tcp_request(struct pctx *p, struct cfg_words *w);
void kw_stick(struct pctx *p, struct cfg_words *w);
/* parse_stick.c: "stick-table ..." in a frontend, backend or listen. */
void kw_stick_table(struct pctx *p, struct cfg_words *w);
int arg_int(struct pctx *p, const char *kw, const char *arg, long min, long max, long *out);
/* parse_resolvers.c: the "resolvers" section (its first line, then each
 * of its lines); a server's DNS options at w->w[*i] (returns 0 when it is
 * not one, 1 when read, -1 after an error); its address at start-up as
 * init-addr says (0, or -1 with err filled; a warning when it starts
 * without one); "server-template". */
void parse_resolvers_start(struct pctx *p, struct cfg_words *w);
void parse_resolvers_line(struct pctx *p, struct cfg_words *w);
int parse_srv_dns_opt(struct pctx *p, struct cfg_words *w, int *i, struct cfg_srv_opts *o,
		      const char *sname);
int parse_server_addr(struct pctx *p, struct cfg_server *s, char *err, size_t errlen);
void parse_server_line(struct pctx *p, struct cfg_words *w);
void kw_server_template(struct pctx *p, struct cfg_words *w);

/* parse_http.c: HTTP-only lines HAProxy ignores in a TCP proxy. Each
 * returns 1 when it took the line (checked and remembered, or reported). */
int http_proxy_line(struct pctx *p, struct cfg_words *w);
int http_option(struct pctx *p, struct cfg_words *w, int negate);
int http_balance(struct pctx *p, struct cfg_words *w);
/* http-request, http-response, http-after-response lines. */
void kw_http_rules(struct pctx *p, struct cfg_words *w);
/* A proxy's copy of what its defaults section ignores. */
void http_ignored_copy(struct cfg_proxy *px, const struct cfg_proxy *def);
/* "option tcplog" replaces "option httplog"; a TCP algorithm "balance uri". */
void http_forget_httplog(struct cfg_proxy *px);
void http_forget_l7_hash(struct cfg_proxy *px);

#endif
