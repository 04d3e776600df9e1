/* The stats lines written as HAProxy 2.6 writes them: "show stat" CSV,
 * "show stat typed", "show stat json", and the three forms of "show info". */
#include "ops/stats.h"

#include <inttypes.h>
#include <string.h>

static const char origin_letter[] = { 'M', 'S', 'K', 'C', 'P' };
static const char nature_letter[] = { 'G', 'L', 'm', 'M', 'R', 'C', 'D', 'A', 'T', 'N', 'O', 'a' };
static const char scope_letter[] = { 'P', 'S', 's', 'C' };
static const char *const origin_word[] = { "Metric", "Status", "Key", "Config", "Product" };
static const char *const nature_word[] = { "Gauge", "Limit", "Min", "Max", "Rate", "Counter",
					   "Duration", "Age", "Time", "Name", "Output", "Avg" };
static const char *const scope_word[] = { "Process", "Service", "System", "Cluster" };
static const char *const type_word[] = { "", "u32", "s32", "u64", "str" };

double stat_value_num(const struct stat_value *v)
{
	switch (v->type) {
	case STT_U32: return v->u.u32;
	case STT_S32: return v->u.s32;
	case STT_U64: return (double)v->u.u64;
	default: return 0;
	}
}

/* The value alone (CSV, plain info); strings CSV-quoted when they hold a
 * comma, a quote or a line break, as HAProxy's csv_enc. */
static void emit_raw(struct sbuf *o, const struct stat_value *v, int csv)
{
	switch (v->type) {
	case STT_U32: sbuf_printf(o, "%" PRIu32, v->u.u32); break;
	case STT_S32: sbuf_printf(o, "%" PRId32, v->u.s32); break;
	case STT_U64: sbuf_printf(o, "%" PRIu64, v->u.u64); break;
	case STT_STR:
		if (!csv || !strpbrk(v->u.str, "\n\r,\"")) {
			sbuf_puts(o, v->u.str);
			break;
		}
		sbuf_add(o, "\"", 1);
		for (const char *p = v->u.str; *p; p++) {
			if (*p == '"')
				sbuf_add(o, "\"\"", 2); /* a quote is doubled */
			else
				sbuf_add(o, p, 1);
		}
		sbuf_add(o, "\"", 1);
		break;
	default: break;
	}
}

static void emit_tags(struct sbuf *o, const struct stat_value *v)
{
	sbuf_printf(o, "%c%c%c:", origin_letter[v->origin], nature_letter[v->nature],
		    scope_letter[v->scope]);
}

static void emit_typed_value(struct sbuf *o, const struct stat_value *v)
{
	sbuf_printf(o, "%s:", type_word[v->type]);
	emit_raw(o, v, 0);
}

/* A JSON string (HAProxy 2.6 writes strings unescaped; ferry escapes
 * quotes, backslashes and control bytes so the output is always JSON). */
static void emit_json_str(struct sbuf *o, const char *s)
{
	sbuf_json_str(o, s);
}

static void emit_json_tags_value(struct sbuf *o, const struct stat_value *v)
{
	sbuf_printf(o, "\"tags\":{\"origin\":\"%s\",\"nature\":\"%s\",\"scope\":\"%s\"}",
		    origin_word[v->origin], nature_word[v->nature], scope_word[v->scope]);
	sbuf_printf(o, ",\"value\":{\"type\":\"%s\",\"value\":", type_word[v->type]);
	if (v->type == STT_STR)
		emit_json_str(o, v->u.str);
	else
		emit_raw(o, v, 0);
	sbuf_add(o, "}", 1);
}

void stat_csv_header(struct sbuf *o)
{
	sbuf_puts(o, "# ");
	for (int i = 0; i < STAT_NFIELDS; i++) {
		sbuf_printf(o, "%s,", stat_fields[i].name);
		if (i + 1 == STAT_NSTATIC)
			sbuf_puts(o, "-,");
	}
	sbuf_puts(o, "\n");
}

void stat_emit_csv(struct sbuf *o, const struct stat_line *l)
{
	for (int i = 0; i < STAT_NFIELDS; i++) {
		emit_raw(o, &l->v[i], 1);
		sbuf_add(o, ",", 1);
		if (i + 1 == STAT_NSTATIC)
			sbuf_add(o, "-,", 2);
	}
	sbuf_add(o, "\n", 1);
}

static char obj_letter(const struct stat_line *l)
{
	return l->obj == STAT_OBJ_FE ? 'F' : l->obj == STAT_OBJ_BE ? 'B' : 'S';
}

void stat_emit_typed(struct sbuf *o, const struct stat_line *l, int desc)
{
	for (int i = 0; i < STAT_NFIELDS; i++) {
		const struct stat_value *v = &l->v[i];
		if (v->type == STT_EMPTY)
			continue;
		sbuf_printf(o, "%c.%" PRIu32 ".%" PRIu32 ".%d.%s.%" PRIu32 ":", obj_letter(l),
			    l->v[ST_IID].u.u32, l->v[ST_SID].u.u32, i, stat_fields[i].name,
			    l->v[ST_PID].u.u32);
		emit_tags(o, v);
		emit_typed_value(o, v);
		if (desc)
			sbuf_printf(o, ":\"%s\"", stat_fields[i].desc);
		sbuf_add(o, "\n", 1);
	}
}

void stat_emit_json(struct sbuf *o, const struct stat_line *l, int first)
{
	static const char *const obj_word[] = { "Frontend", "Backend", "Server" };
	int started = 0;

	sbuf_puts(o, first ? "[" : ",[");
	for (int i = 0; i < STAT_NFIELDS; i++) {
		const struct stat_value *v = &l->v[i];
		if (v->type == STT_EMPTY)
			continue;
		sbuf_printf(o, "%s{\"objType\":\"%s\",\"proxyId\":%" PRIu32 ",\"id\":%" PRIu32 ","
			    "\"field\":{\"pos\":%d,\"name\":\"%s\"},\"processNum\":%" PRIu32 ",",
			    started ? "," : "", obj_word[l->obj], l->v[ST_IID].u.u32, l->v[ST_SID].u.u32,
			    i, stat_fields[i].name, l->v[ST_PID].u.u32);
		emit_json_tags_value(o, v);
		sbuf_add(o, "}", 1);
		started = 1;
	}
	sbuf_add(o, "]", 1);
}

void info_emit_plain(struct sbuf *o, const struct info_line *l, int desc)
{
	for (int i = 0; i < INF_NFIELDS; i++) {
		if (l->v[i].type == STT_EMPTY)
			continue;
		sbuf_printf(o, "%s: ", info_fields[i].name);
		emit_raw(o, &l->v[i], 0);
		if (desc)
			sbuf_printf(o, ":\"%s\"", info_fields[i].desc);
		sbuf_add(o, "\n", 1);
	}
}

void info_emit_typed(struct sbuf *o, const struct info_line *l, int desc)
{
	for (int i = 0; i < INF_NFIELDS; i++) {
		if (l->v[i].type == STT_EMPTY)
			continue;
		sbuf_printf(o, "%d.%s.%" PRIu32 ":", i, info_fields[i].name, l->v[INF_PROCESS_NUM].u.u32);
		emit_tags(o, &l->v[i]);
		emit_typed_value(o, &l->v[i]);
		if (desc)
			sbuf_printf(o, ":\"%s\"", info_fields[i].desc);
		sbuf_add(o, "\n", 1);
	}
}

void info_emit_json(struct sbuf *o, const struct info_line *l)
{
	int started = 0;

	sbuf_add(o, "[", 1);
	for (int i = 0; i < INF_NFIELDS; i++) {
		if (l->v[i].type == STT_EMPTY)
			continue;
		sbuf_printf(o, "%s{\"field\":{\"pos\":%d,\"name\":\"%s\"},\"processNum\":%" PRIu32 ",",
			    started ? "," : "", i, info_fields[i].name, l->v[INF_PROCESS_NUM].u.u32);
		emit_json_tags_value(o, &l->v[i]);
		sbuf_add(o, "}", 1);
		started = 1;
	}
	sbuf_add(o, "]\n", 2);
}
