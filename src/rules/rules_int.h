/* Internal to src/rules: samples and their casts, pattern sets, fetches,
 * converters, sample expressions, ACLs and conditions. */
#ifndef FERRY_RULES_RULES_INT_H
#define FERRY_RULES_RULES_INT_H
#include <stddef.h>
#include <stdint.h>

#include "rules/rules.h"
#include "rules/track.h"

/* ---- samples (sample.c) ---------------------------------------------------- */

enum smp_type { SMP_BOOL, SMP_SINT, SMP_STR, SMP_BIN, SMP_IPV4, SMP_IPV6, SMP_ANY };

#define SMP_BUF 1024 /* a converter's own output (lower, upper, casts to text) */

/* A typed value. str/bin point at p (into the request, a map, or buf). */
struct sample {
	enum smp_type type;
	int64_t i;                 /* bool, sint */
	const uint8_t *p;          /* str, bin */
	size_t len;
	uint8_t ip[16];            /* ipv4: 4 bytes, ipv6: 16 */
	int idx;                   /* in: which value of a multi-valued fetch (req.ssl_alpn) */
	int not_last;              /* out: more values follow (HAProxy's SMP_F_NOT_LAST) */
	char buf[SMP_BUF];
};

/* Converts s to type `to` as HAProxy's cast table (bool<->sint, sint/ip ->
 * str, str -> sint/ip, ipv4 <-> ipv6 when mapped, bin <-> str). Returns 0,
 * or -1 when there is no such cast or the value does not convert. */
int smp_cast(struct sample *s, enum smp_type to);
const char *smp_type_name(enum smp_type t);
/* Fills s from a socket address (ipv4 or ipv6). Returns 0 or -1. */
int smp_from_addr(struct sample *s, const struct sockaddr *sa);
/* Parses "a.b.c.d[/mask]" or an IPv6 "x::y[/len]": family 4 or 6, the
 * address bytes and the prefix length (a dotted mask must be contiguous).
 * Returns 0 or -1. */
int ip_parse_net(const char *text, int *family, uint8_t addr[16], int *plen);

/* ---- pattern sets (pattern.c) ---------------------------------------------- */

/* HAProxy's match methods (-m). */
enum pat_m { PM_FOUND, PM_BOOL, PM_INT, PM_IP, PM_BIN, PM_LEN, PM_STR, PM_BEG, PM_SUB, PM_DOM,
	     PM_END, PM_REG, PM_N };
extern const char *const pat_m_names[PM_N + 1];

struct pat_ent;
struct pat_lin;

/* A list of patterns for one match method, indexed so a lookup does not
 * scan it: exact keys (str, bin, and each prefix length of ip) in one hash
 * table; beg/end try each length the list has, dom each dotted part of the
 * input; sub, reg and integer ranges are scanned. Map values go by the
 * pattern's index (its position in the file). Immutable once built. */
struct pat_set {
	enum pat_m m;
	int icase;                 /* -i: keys and inputs folded to lower case */
	int dotted_ver;            /* integers may be written "3.1" (req.ssl_ver) */
	uint32_t npat;             /* patterns added (next index) */
	/* hashed */
	struct pat_ent *ents;
	size_t nents, cap;
	uint32_t *slots;           /* entry index + 1; 0 empty */
	size_t nslots;
	uint8_t lens[4][130];      /* [0] str lengths (beg/end, capped), [1] v4 plens, [2] v6 plens: 1 = present */
	uint32_t maxlen;           /* longest beg/end key */
	/* scanned */
	struct pat_lin *lin;
	size_t nlin, lcap;
	/* map values by index (NULL for ACLs) */
	char **vals;
	int64_t *ivals;            /* values as integers (map_*_int) */
	uint8_t (*ipvals)[17];     /* values as addresses: [0] family 4/6 (map_*_ip) */
};

void pat_init(struct pat_set *ps, enum pat_m m, int icase);
/* Adds one pattern written as text (value: the map value, or NULL). For
 * PM_INT and PM_LEN, op is the operator written before it ("lt", ...;
 * NULL: none). Returns 0, or -1 with HAProxy's sentence in err. */
int pat_add(struct pat_set *ps, const char *text, const char *op, const char *value, char *err,
	    size_t errlen);
/* Reads one pattern per line (acl -f): map 0; or "key value" lines (map 1,
 * also acl -M). As HAProxy: lines starting with '#' and empty lines are
 * skipped, leading blanks stripped, the rest of the line kept (map: key up
 * to the first blank, value after the blanks). Returns 0, or -1 with the
 * sentence in err (file:line of a bad pattern). */
int pat_load_file(struct pat_set *ps, const char *path, int map, char *err, size_t errlen);
/* Looks s up. Returns 1 with *idx (the pattern's index: its map value) when
 * a pattern matches, else 0. probes, when not NULL, is incremented per
 * hash probe or scanned pattern (the cost of the lookup, for tests). */
int pat_match(const struct pat_set *ps, const struct sample *s, uint32_t *idx, unsigned *probes);
void pat_free(struct pat_set *ps);

/* ---- fetches and converters (fetch.c, conv.c) -------------------------------- */

/* A compiled argument: an integer, a backend/server index, a string, a map. */
struct rarg {
	int64_t i;
	int be, srv;               /* indexes into ctx->bes and its srv[], -1: none */
	char *s;
	const struct pat_set *map;
	uint8_t m4[4], m6[16];     /* ipmask */
	int has_m6;
	int tbl;                   /* a stick table: index into ctx->tables, -1: none */
};

#define RARG_MAX 3

struct fetch_def;
struct conv_def;

/* Result of a fetch: 1 sample, 0 none, -1 needs more request bytes, 2 a
 * sample that more request bytes may change (HAProxy's SMP_F_MAY_CHANGE:
 * only when !ctx->req_final). */
typedef int (*fetch_fn)(const struct rarg *a, const struct rule_ctx *ctx, struct sample *s);
/* Result of a converter: 1 converted, 0 no sample. */
typedef int (*conv_fn)(const struct rarg *a, int nargs, struct sample *s);

struct fetch_def {
	const char *name;
	const char *args;          /* one letter each: i integer, B backend, S backend/server, C a
	                              string (kept in rarg.s); upper case required, lower case
	                              optional */
	enum smp_type out;
	unsigned use;              /* RF_USE_*, and RF_PG_PARAMS/RF_TLS_HELLO: what it reads */
	enum pat_m match;          /* its default match method (HAProxy's table) */
	fetch_fn fn;
};

struct conv_def {
	const char *name;
	enum smp_type in, out;
	fetch_fn unused;
	conv_fn fn;
};

const struct fetch_def *fetch_find(const char *name, size_t len);
/* The stick counter fetches (fetch_sc.c): sc0_*, sc1_*, sc2_*, sc_*, src_*. */
const struct fetch_def *fetch_sc_find(const char *name, size_t len);
/* The PostgreSQL fetches (fetch_pg.c): pg.*. */
const struct fetch_def *fetch_pg_find(const char *name, size_t len);
const struct conv_def *conv_find(const char *name, size_t len);
struct rconv;
/* Applies one compiled converter: 1 converted, 0 no sample. */
int conv_apply(const struct rconv *cv, struct sample *s);
/* Every fetch name (NULL-terminated, for suggestions). */
extern const char *const fetch_names[];
extern const char *const haproxy_fetches[];
extern const char *const haproxy_converters[];

/* ---- sample expressions (expr.c) ------------------------------------------------ */

struct rconv {
	const struct conv_def *d;  /* NULL: a map converter */
	struct rarg a[RARG_MAX];
	int nargs;
	enum smp_type in, out;
	const struct pat_set *map;
	const char *dflt;          /* map default (text), NULL: none */
	int64_t dflt_i;
	uint8_t dflt_ip[17];
};

struct rexpr {
	const struct fetch_def *f;
	struct rarg a[RARG_MAX];
	int nargs;
	struct rconv *conv;
	int nconv;
	enum smp_type out;         /* of the last step */
};

/* What compiling needs: the configuration (names, errors) and the maps
 * already read (shared by every expression of one compiled set). */
struct rcomp {
	struct cfg *c;
	struct cfg_proxy *px;      /* the proxy being compiled */
	const char *file;
	int line;
	struct pat_set **maps;     /* owned */
	char **map_keys;           /* "method\0icase\0path" of each */
	int nmaps;
	int raw_err;               /* the last error is a whole sentence: no "while parsing" prefix */
	struct acl **builtin;      /* predefined ACLs (TRUE, LOCALHOST, ...), owned */
	int nbuiltin;
};

/* Parses "fetch(args),conv(args),..." (text up to len). Returns 0, or -1
 * with HAProxy's sentence in err. */
int expr_parse(struct rcomp *rc, const char *text, size_t len, struct rexpr *e, char *err,
	       size_t errlen);
/* Evaluates e: 1 with a sample, 2 with one that may still change, 0 none,
 * -1 needs more request bytes. s->idx picks the value of a multi-valued
 * fetch (set it, 0 for the first). */
int expr_eval(const struct rexpr *e, const struct rule_ctx *ctx, struct sample *s);
void expr_free(struct rexpr *e);
/* A map read once per compiled set (path, method, -i). NULL with err. */
struct pat_set *rcomp_map(struct rcomp *rc, const char *path, enum pat_m m, int icase, char *err,
			  size_t errlen);

/* ---- ACLs and conditions (acl.c) -------------------------------------------------- */

struct acl_expr {
	struct rexpr e;
	struct pat_set *pats;      /* owned */
	int never;                 /* no pattern and not -m found/bool: never matches */
};

struct acl {
	char *name;                /* NULL: anonymous */
	struct acl_expr *x;        /* several "acl" lines of one name: OR'ed */
	int nx;
	unsigned use;              /* RF_USE_* of its fetches */
	int builtin;
	const char *file;
	int line;
};

struct cond_term {
	struct acl *acl;
	int neg;
	int anon;                  /* owned by the condition */
};

struct cond_suite {
	struct cond_term *t;       /* AND'ed */
	int n;
};

struct rule_cond {
	int unless;
	struct cond_suite *s;      /* OR'ed */
	int ns;
	unsigned use;
};

/* A named ACL line added to the list (created on first use of the name).
 * w: the words after "acl <name>". Returns 0 or -1 (reported). */
int acl_add_line(struct rcomp *rc, struct acl ***acls, int *nacl, const char *name, char *const *w,
		 int n);
/* A condition from w[0] ("if"/"unless") on. Returns NULL after reporting;
 * what names the rule in messages ("switching rule", ...). */
struct rule_cond *rcond_parse(struct rcomp *rc, struct acl **acls, int nacl, char *const *w, int n,
			     const char *what);
enum rule_res rcond_eval(const struct rule_cond *c, const struct rule_ctx *ctx);
void rcond_free(struct rule_cond *c);
void acl_free(struct acl *a);

/* ---- stick counters: actions and stick rules (track.c, stick.c) ----------------- */

/* The index in a generation's tables (ctx->tables) of the table of the
 * proxy called name: its position among the proxies with a stick-table,
 * which is the order gen_build_tables() makes them in. -1: none. */
int rcomp_table(const struct rcomp *rc, const char *name);

enum track_kind { TA_TRACK, TA_INC_GPC0, TA_INC_GPC1, TA_SET_GPT0 };

/* One counter action of a tcp-request rule: track-sc<n> <key> [table <t>],
 * sc-inc-gpc0(<n>), sc-inc-gpc1(<n>), sc-set-gpt0(<n>) <int>|<expr>.
 * For tcp-request content (colleague's loop), the whole use is:
 *   parse: at = track_act_parse(rc, l->w, l->n, 2, "tcp-request content", &a);
 *          (0: not such an action; -1: reported; else the condition's index)
 *   run, when the rule's condition holds:
 *          if (track_act_run(&a, ctx) == RULE_MISS) wait for more bytes;
 *   free:  track_act_free(&a);
 * and ctx->trk, ctx->tables, ctx->now_ms filled (RULES_F_TRACK). */
struct track_act {
	enum track_kind kind;
	int sc;                    /* 0..2 */
	int tbl;                   /* track: index into ctx->tables */
	struct rexpr *key;         /* track: the key; set-gpt0: the value (NULL: val) */
	long long val;
};

int track_act_parse(struct rcomp *rc, char *const *w, int n, int at, const char *where,
		    struct track_act *a);
enum rule_res track_act_run(const struct track_act *a, const struct rule_ctx *ctx);
void track_act_free(struct track_act *a);
/* The key of sample s (cast to the table's key type) for t. 0 or -1. */
int track_key_of(const struct stktable *t, struct sample *s, struct stk_key *k);

enum stick_kind { STK_MATCH = 1, STK_STORE = 2, STK_ON = 3 };

struct stick_rule {
	int flags;                 /* STK_MATCH | STK_STORE */
	int tbl;
	struct rexpr *key;
	struct rule_cond *cond;
};

/* "stick on|match|store-request <expr> [table <t>] [if|unless <cond>]":
 * 0 with *sr filled, -1 after reporting. */
int stick_rule_compile(struct rcomp *rc, struct acl **acls, int nacl, char *const *w, int n,
		       struct stick_rule *sr);
void stick_rule_free(struct stick_rule *sr);
/* The n stick rules of a backend in order (rules_stick() in rules.h). */
enum rule_res stick_rules_eval(const struct stick_rule *sr, int n, const struct rule_ctx *ctx, struct backend *be,
			       struct server **srv, struct stick_state **st);

#endif
