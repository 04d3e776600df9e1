/* The keywords HAProxy's configuration manual documents (the generated
 * table in haproxy_kw.c, made by scripts/gen-haproxy-keywords.py), so that a
 * keyword HAProxy has and ferry does not is said to be "not supported yet",
 * never "unknown". */
#ifndef FERRY_CONFIG_HAPROXY_KW_H
#define FERRY_CONFIG_HAPROXY_KW_H
#include <stddef.h>

enum hkw_kind {
	HKW_SECTION = 1, /* global, defaults, userlist, peers, ... */
	HKW_GLOBAL,      /* keywords of the global section (chapter 3) */
	HKW_PROXY,       /* the 4.1 matrix: "acl", "option httplog", "stick on", ... */
	HKW_BIND,        /* bind options (5.1) */
	HKW_SERVER,      /* server and default-server options (5.2) */
	HKW_HTTP_REQ,    /* http-request actions (4.2) */
	HKW_HTTP_RES,    /* http-response actions */
	HKW_HTTP_AFTER,  /* http-after-response actions */
};

/* Where the 4.1 matrix allows a proxy keyword (a listen section has both
 * HKW_FE and HKW_BE). */
#define HKW_DEF 0x1
#define HKW_FE 0x2
#define HKW_BE 0x4

struct haproxy_kw {
	unsigned char kind;  /* enum hkw_kind */
	unsigned char caps;  /* HKW_DEF | HKW_FE | HKW_BE, for HKW_PROXY */
	const char *name;    /* one or more words: "option httplog" */
};

extern const char haproxy_kw_doc_version[];
extern const struct haproxy_kw haproxy_keywords[];

/* The entry of that kind naming the line that starts with words (NULL
 * ends them): the longest entry whose words all start the line, so
 * "option httplog clf" finds "option httplog" and "acl x src" finds "acl".
 * For the single-word kinds, words[0] alone is looked up. NULL when HAProxy
 * does not document it. */
const struct haproxy_kw *haproxy_kw_find(enum hkw_kind kind, char *const *words);

#endif
