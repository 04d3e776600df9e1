#include "core/stkdata.h"

#include <stdlib.h>
#include <string.h>

#include "core/units.h"

const char *const stk_key_names[STK_KEY_TYPES] = { "ip", "ipv6", "integer", "string", "binary" };

const struct stk_dt_desc stk_dt_descs[STK_DT_N] = {
	[STK_DT_SERVER_ID]      = { "server_id", STK_K_SINT, 0 },
	[STK_DT_GPT0]           = { "gpt0", STK_K_UINT, 0 },
	[STK_DT_GPC0]           = { "gpc0", STK_K_UINT, 0 },
	[STK_DT_GPC0_RATE]      = { "gpc0_rate", STK_K_RATE, 0 },
	[STK_DT_CONN_CNT]       = { "conn_cnt", STK_K_UINT, 0 },
	[STK_DT_CONN_RATE]      = { "conn_rate", STK_K_RATE, 0 },
	[STK_DT_CONN_CUR]       = { "conn_cur", STK_K_UINT, 0 },
	[STK_DT_SESS_CNT]       = { "sess_cnt", STK_K_UINT, 0 },
	[STK_DT_SESS_RATE]      = { "sess_rate", STK_K_RATE, 0 },
	[STK_DT_HTTP_REQ_CNT]   = { "http_req_cnt", STK_K_UINT, 0 },
	[STK_DT_HTTP_REQ_RATE]  = { "http_req_rate", STK_K_RATE, 0 },
	[STK_DT_HTTP_ERR_CNT]   = { "http_err_cnt", STK_K_UINT, 0 },
	[STK_DT_HTTP_ERR_RATE]  = { "http_err_rate", STK_K_RATE, 0 },
	[STK_DT_BYTES_IN_CNT]   = { "bytes_in_cnt", STK_K_ULL, 0 },
	[STK_DT_BYTES_IN_RATE]  = { "bytes_in_rate", STK_K_RATE, 0 },
	[STK_DT_BYTES_OUT_CNT]  = { "bytes_out_cnt", STK_K_ULL, 0 },
	[STK_DT_BYTES_OUT_RATE] = { "bytes_out_rate", STK_K_RATE, 0 },
	[STK_DT_GPC1]           = { "gpc1", STK_K_UINT, 0 },
	[STK_DT_GPC1_RATE]      = { "gpc1_rate", STK_K_RATE, 0 },
	[STK_DT_SERVER_KEY]     = { "server_key", STK_K_DICT, 0 },
	[STK_DT_HTTP_FAIL_CNT]  = { "http_fail_cnt", STK_K_UINT, 0 },
	[STK_DT_HTTP_FAIL_RATE] = { "http_fail_rate", STK_K_RATE, 0 },
	[STK_DT_GPT]            = { "gpt", STK_K_UINT, 1 },
	[STK_DT_GPC]            = { "gpc", STK_K_UINT, 1 },
	[STK_DT_GPC_RATE]       = { "gpc_rate", STK_K_RATE, 1 },
};

int stk_dt_index(const char *name)
{
	for (int i = 0; i < STK_DT_N; i++)
		if (!strcmp(stk_dt_descs[i].name, name))
			return i;
	if (!strcmp(name, "server_name")) /* HAProxy's older name, still accepted */
		return STK_DT_SERVER_KEY;
	return -1;
}

/* HAProxy reads "name(a,b)" as the name, a first argument and an optional
 * second one; an array's first argument is its size, a rate's (next)
 * argument its period. */
const char *stk_def_store(struct stk_def *def, const char *item, char *name, unsigned namelen,
			  int *warn)
{
	const char *open = strchr(item, '('), *a1 = NULL;
	char args[64] = "", *a2 = NULL;
	size_t n = open ? (size_t)(open - item) : strlen(item);
	int dt;

	*warn = 0;
	if (n >= namelen)
		n = namelen - 1;
	memcpy(name, item, n);
	name[n] = 0;
	if (open) {
		const char *close = strchr(open, ')');
		size_t alen;
		if (!close)
			return "missing closing parenthesis after store option '%s'.";
		alen = (size_t)(close - open - 1);
		if (alen >= sizeof(args))
			alen = sizeof(args) - 1;
		memcpy(args, open + 1, alen);
		args[alen] = 0;
		a1 = args;
		if ((a2 = strchr(args, ',')))
			*a2++ = 0;
	}
	dt = stk_dt_index(name);
	if (dt < 0)
		return "unknown store option '%s'.";
	if (def->nbelem[dt]) {
		*warn = 1;
		return "store option '%s' already enabled, ignored.";
	}
	def->nbelem[dt] = 1;
	if (stk_dt_descs[dt].array) {
		long nb;
		if (!a1)
			goto missing;
		nb = atol(a1);
		if (nb < 1 || nb > STK_MAX_ARRAY) {
			def->nbelem[dt] = 0;
			return "array size is out of allowed range (1-100) for store option '%s'.";
		}
		def->nbelem[dt] = (unsigned char)nb;
		a1 = a2;
		a2 = NULL;
	}
	if (stk_dt_descs[dt].kind == STK_K_RATE) {
		int64_t ms;
		if (!a1)
			goto missing;
		if (parse_duration_ms(a1, &ms)) {
			def->nbelem[dt] = 0;
			return "error when processing store option '%s'.";
		}
		def->period[dt] = (uint32_t)ms;
	} else if (a1) {
		def->nbelem[dt] = 0;
		return "unexpected argument to store option '%s'.";
	}
	return NULL;
missing:
	def->nbelem[dt] = 0;
	return "missing argument to store option '%s'.";
}

const char *stk_def_conflict(const struct stk_def *def)
{
	if (def->nbelem[STK_DT_GPT] && def->nbelem[STK_DT_GPT0])
		return "simultaneous usage of 'gpt' and 'gpt0' in a same table is not permitted as 'gpt' overrides 'gpt0'.";
	if (def->nbelem[STK_DT_GPC] && (def->nbelem[STK_DT_GPC0] || def->nbelem[STK_DT_GPC1]))
		return "simultaneous usage of 'gpc' and 'gpc[0/1]' in a same table is not permitted as 'gpc' overrides 'gpc[0/1]'.";
	if (def->nbelem[STK_DT_GPC_RATE] && (def->nbelem[STK_DT_GPC0_RATE] || def->nbelem[STK_DT_GPC1_RATE]))
		return "simultaneous usage of 'gpc_rate' and 'gpc[0/1]_rate' in a same table is not permitted as 'gpc_rate' overrides 'gpc[0/1]_rate'.";
	return NULL;
}

int stk_def_same_layout(const struct stk_def *a, const struct stk_def *b)
{
	return a->type == b->type && a->key_len == b->key_len && a->size == b->size &&
	       !memcmp(a->nbelem, b->nbelem, sizeof(a->nbelem)) &&
	       !memcmp(a->period, b->period, sizeof(a->period));
}
