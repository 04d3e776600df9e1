/* The vocabulary of stick tables, shared by the configuration parser
 * (which checks "stick-table ... store ..." lines) and the tables
 * themselves (src/rules/stktable.c): key types, data types with the kind
 * of value each holds, and a table's definition as plain data. It lives in
 * core because both the config layer and the rules layer need it. */
#ifndef FERRY_CORE_STKDATA_H
#define FERRY_CORE_STKDATA_H
#include <stdint.h>

/* Key types, as "stick-table type ..." names them. */
enum stk_key_type {
	STK_KEY_IP,    /* IPv4 address, 4 bytes in network order */
	STK_KEY_IPV6,  /* 16 bytes in network order */
	STK_KEY_INT,   /* unsigned 32-bit integer, in host order (as HAProxy) */
	STK_KEY_STR,   /* string of at most len characters (default 32) */
	STK_KEY_BIN,   /* len bytes (default 32), zero-padded */
	STK_KEY_TYPES
};

/* Data types, in HAProxy 2.6's order (it is the order of "show table"). */
enum stk_dt {
	STK_DT_SERVER_ID, STK_DT_GPT0, STK_DT_GPC0, STK_DT_GPC0_RATE,
	STK_DT_CONN_CNT, STK_DT_CONN_RATE, STK_DT_CONN_CUR,
	STK_DT_SESS_CNT, STK_DT_SESS_RATE,
	STK_DT_HTTP_REQ_CNT, STK_DT_HTTP_REQ_RATE, STK_DT_HTTP_ERR_CNT, STK_DT_HTTP_ERR_RATE,
	STK_DT_BYTES_IN_CNT, STK_DT_BYTES_IN_RATE, STK_DT_BYTES_OUT_CNT, STK_DT_BYTES_OUT_RATE,
	STK_DT_GPC1, STK_DT_GPC1_RATE, STK_DT_SERVER_KEY,
	STK_DT_HTTP_FAIL_CNT, STK_DT_HTTP_FAIL_RATE,
	STK_DT_GPT, STK_DT_GPC, STK_DT_GPC_RATE, /* arrays: gpt(n), gpc(n), gpc_rate(n,period) */
	STK_DT_N
};

/* What a data type's value is (HAProxy's std_type): how it is stored,
 * updated and printed. */
enum stk_kind {
	STK_K_SINT,    /* signed 32-bit (server_id), printed %d */
	STK_K_UINT,    /* unsigned 32-bit counter, %u */
	STK_K_ULL,     /* unsigned 64-bit counter (bytes), %llu */
	STK_K_RATE,    /* events over a period (freq_ctr), %u */
	STK_K_DICT,    /* a string (server_key: the server's name), "-" when unset */
};

#define STK_MAX_ARRAY 100   /* elements of gpt/gpc/gpc_rate (HAProxy's limit) */
#define STK_DEFAULT_LEN 32  /* string and binary keys without "len" */
#define STK_LEN_MAX (1 << 30) /* "len" at most: 1 GiB per key (HAProxy takes any, and wraps -1) */

struct stk_dt_desc {
	const char *name;
	enum stk_kind kind;
	int array;             /* takes an element count first: name(n[,period]) */
};

extern const struct stk_dt_desc stk_dt_descs[STK_DT_N];
extern const char *const stk_key_names[STK_KEY_TYPES];

/* The data type called name ("conn_rate", without argument), or -1. */
int stk_dt_index(const char *name);

/* A stick table as configured: what the config model holds and the
 * runtime builds a table from. */
struct stk_def {
	enum stk_key_type type;
	unsigned key_len;      /* STR: characters; BIN: bytes; others: unused */
	unsigned size;         /* entries at most */
	uint32_t expire;       /* ms after the last touch; 0: never */
	int nopurge;           /* when full, refuse new entries instead of evicting */
	unsigned char nbelem[STK_DT_N]; /* 0: not stored; 1, or the array's size */
	uint32_t period[STK_DT_N];      /* rates: the period in ms */
};

/* Parses one "store" item: name, name(period) or name(n[,period]) into
 * def. Returns NULL, or HAProxy's reason for refusing it with 1 when it is
 * only a warning (already stored): *warn is set then. The message is
 * HAProxy's sentence after "stick-table: ", with %s standing for the item's
 * name (the caller formats it). */
const char *stk_def_store(struct stk_def *def, const char *item, char *name, unsigned namelen,
			  int *warn);
/* The conflicts HAProxy refuses after a "store" word (gpc with gpc0, ...):
 * NULL or the sentence. */
const char *stk_def_conflict(const struct stk_def *def);
/* Whether two definitions lay entries out the same way (type, length,
 * size, stored data and periods): a reload keeps such a table. */
int stk_def_same_layout(const struct stk_def *a, const struct stk_def *b);

#endif
