/* Pattern sets: the values an ACL compares a sample with, and the keys of
 * a map. Exact keys (strings, binary, IP prefixes per length) live in one
 * open-addressing hash table, so a lookup costs a handful of probes
 * whatever the size of the list:
 *  - ip: one probe per prefix length the list has, longest first (the
 *    longest prefix wins, as HAProxy's trees);
 *  - beg/end: one probe per key length the list has;
 *  - dom: one probe per dot- or slash-delimited part of the input;
 *  - str/bin: one probe.
 * sub, reg and integer ranges are scanned in order. Among several matching
 * patterns (beg, end, dom, sub, reg, int) the first in file order wins, as
 * HAProxy's lists. */
#include "rules/rules_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/regex.h"
#include "core/strutil.h"

const char *const pat_m_names[PM_N + 1] = {
	"found", "bool", "int", "ip", "bin", "len", "str", "beg", "sub", "dom", "end", "reg", NULL
};

struct pat_ent {
	uint8_t *key;
	uint32_t klen;
	uint32_t idx;
	uint32_t h;
};

struct pat_lin {
	char *s;                   /* sub: the text */
	size_t len;
	struct rx *re;             /* reg */
	int64_t lo, hi;            /* int, len */
	uint32_t idx;
};

void pat_init(struct pat_set *ps, enum pat_m m, int icase)
{
	memset(ps, 0, sizeof(*ps));
	ps->m = m;
	ps->icase = icase;
}

static uint32_t hash(const uint8_t *k, size_t n, int icase)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)(icase ? tolower(k[i]) : k[i])) * 16777619u;
	return h;
}

static int key_eq(const struct pat_ent *e, const uint8_t *k, size_t n, int icase)
{
	if (e->klen != n)
		return 0;
	if (!icase)
		return memcmp(e->key, k, n) == 0;
	for (size_t i = 0; i < n; i++)
		if (tolower(e->key[i]) != tolower(k[i]))
			return 0;
	return 1;
}

/* The entry with key k, or NULL. */
static const struct pat_ent *lookup(const struct pat_set *ps, const uint8_t *k, size_t n,
				    unsigned *probes)
{
	uint32_t h;

	if (!ps->nslots)
		return NULL;
	h = hash(k, n, ps->icase);
	for (size_t i = h & (ps->nslots - 1);; i = (i + 1) & (ps->nslots - 1)) {
		uint32_t s = ps->slots[i];
		if (probes)
			(*probes)++;
		if (!s)
			return NULL;
		if (ps->ents[s - 1].h == h && key_eq(&ps->ents[s - 1], k, n, ps->icase))
			return &ps->ents[s - 1];
	}
}

static void rehash(struct pat_set *ps)
{
	size_t n = ps->nslots ? ps->nslots * 2 : 64;

	free(ps->slots);
	ps->slots = xcalloc(n, sizeof(*ps->slots));
	ps->nslots = n;
	for (size_t e = 0; e < ps->nents; e++) {
		size_t i = ps->ents[e].h & (n - 1);
		while (ps->slots[i])
			i = (i + 1) & (n - 1);
		ps->slots[i] = (uint32_t)e + 1;
	}
}

/* Adds key k for pattern idx; a key already there keeps its first index. */
static void insert(struct pat_set *ps, const uint8_t *k, size_t n, uint32_t idx)
{
	struct pat_ent *e;

	if (lookup(ps, k, n, NULL))
		return;
	if (ps->nents == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 16;
		ps->ents = realloc(ps->ents, ps->cap * sizeof(*ps->ents));
		if (!ps->ents)
			abort();
	}
	e = &ps->ents[ps->nents++];
	e->key = malloc(n ? n : 1);
	if (!e->key)
		abort();
	memcpy(e->key, k, n);
	e->klen = (uint32_t)n;
	e->idx = idx;
	e->h = hash(k, n, ps->icase);
	if (ps->nents * 2 > ps->nslots)
		rehash(ps);
	else {
		size_t i = e->h & (ps->nslots - 1);
		while (ps->slots[i])
			i = (i + 1) & (ps->nslots - 1);
		ps->slots[i] = (uint32_t)ps->nents;
	}
}

static struct pat_lin *add_lin(struct pat_set *ps)
{
	if (ps->nlin == ps->lcap) {
		ps->lcap = ps->lcap ? ps->lcap * 2 : 8;
		ps->lin = realloc(ps->lin, ps->lcap * sizeof(*ps->lin));
		if (!ps->lin)
			abort();
	}
	memset(&ps->lin[ps->nlin], 0, sizeof(ps->lin[0]));
	return &ps->lin[ps->nlin++];
}

/* An IP key: family, prefix length, the address masked to it. */
static size_t ip_key(uint8_t key[18], int fam, const uint8_t *a, int plen)
{
	int nb = fam == 4 ? 4 : 16;

	key[0] = (uint8_t)fam;
	key[1] = (uint8_t)plen;
	for (int i = 0; i < nb; i++) {
		int bits = plen - 8 * i;
		uint8_t m = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
		key[2 + i] = a[i] & m;
	}
	return (size_t)(2 + nb);
}

static int parse_int(const char *t, int dotted, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(t, &end, 10);
	if (end == t || errno)
		return -1;
	if (dotted && *end == '.') { /* "3.1": major << 8 | minor (HAProxy's dotted versions) */
		const char *m = end + 1;
		long long minor = strtoll(m, &end, 10);
		if (end == m || minor < 0 || minor > 255)
			return -1;
		v = (v << 8) | minor;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int add_range(struct pat_set *ps, const char *text, const char *op, char *err, size_t errlen)
{
	struct pat_lin *l;
	int64_t a, b;
	const char *colon = strchr(text, ':');

	if (op && colon)
		goto bad;
	if (colon) {
		char lo[64];
		size_t n = (size_t)(colon - text);
		if (n >= sizeof(lo))
			goto bad;
		memcpy(lo, text, n);
		lo[n] = 0;
		a = INT64_MIN;
		b = INT64_MAX;
		if ((n && parse_int(lo, ps->dotted_ver, &a)) ||
		    (colon[1] && parse_int(colon + 1, ps->dotted_ver, &b)))
			goto bad;
	} else {
		int64_t v;
		if (parse_int(text, ps->dotted_ver, &v))
			goto bad;
		a = b = v;
		if (op && !strcmp(op, "lt")) {
			a = INT64_MIN;
			b = v - 1;
		} else if (op && !strcmp(op, "le")) {
			a = INT64_MIN;
		} else if (op && !strcmp(op, "gt")) {
			a = v + 1;
			b = INT64_MAX;
		} else if (op && !strcmp(op, "ge")) {
			b = INT64_MAX;
		}
	}
	l = add_lin(ps);
	l->lo = a;
	l->hi = b;
	l->idx = ps->npat;
	return 0;
bad:
	snprintf(err, errlen, "'%s' is not a number.", text);
	return -1;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int pat_add(struct pat_set *ps, const char *text, const char *op, const char *value, char *err,
	    size_t errlen)
{
	size_t n = strlen(text);

	switch (ps->m) {
	case PM_INT:
	case PM_LEN:
		if (add_range(ps, text, op, err, errlen))
			return -1;
		break;
	case PM_IP: {
		uint8_t a[16], key[18];
		int fam, plen;
		if (ip_parse_net(text, &fam, a, &plen)) {
			snprintf(err, errlen, "'%s' is not a valid IPv4 or IPv6 address.", text);
			return -1;
		}
		ps->lens[fam == 4 ? 1 : 2][plen] = 1;
		insert(ps, key, ip_key(key, fam, a, plen), ps->npat);
		break;
	}
	case PM_BIN: {
		uint8_t *b = xcalloc(n / 2 + 1, 1);
		if (n % 2) {
			free(b);
			snprintf(err, errlen, "'%s' is not a valid hex string.", text);
			return -1;
		}
		for (size_t i = 0; i < n / 2; i++) {
			int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				free(b);
				snprintf(err, errlen, "'%s' is not a valid hex string.", text);
				return -1;
			}
			b[i] = (uint8_t)(hi << 4 | lo);
		}
		insert(ps, b, n / 2, ps->npat);
		free(b);
		break;
	}
	case PM_STR:
	case PM_BEG:
	case PM_END:
	case PM_DOM:
		insert(ps, (const uint8_t *)text, n, ps->npat);
		if (ps->m == PM_BEG || ps->m == PM_END) {
			ps->lens[0][n < 129 ? n : 129] = 1;
			if (n > ps->maxlen)
				ps->maxlen = (uint32_t)n;
		}
		break;
	case PM_SUB: {
		struct pat_lin *l = add_lin(ps);
		l->s = xstrdup(text);
		l->len = n;
		l->idx = ps->npat;
		break;
	}
	case PM_REG: {
		char e[200];
		struct rx *re = rx_compile(text, ps->icase ? RX_F_ICASE : 0, e, sizeof(e));
		struct pat_lin *l;
		if (!re) {
			snprintf(err, errlen, "regex '%s' is invalid (error=%s).", text, e);
			return -1;
		}
		l = add_lin(ps);
		l->re = re;
		l->idx = ps->npat;
		break;
	}
	default:
		snprintf(err, errlen, "match method '%s' takes no pattern", pat_m_names[ps->m]);
		return -1;
	}
	if (value) {
		ps->vals = realloc(ps->vals, (ps->npat + 1) * sizeof(*ps->vals));
		if (!ps->vals)
			abort();
		ps->vals[ps->npat] = xstrdup(value);
	}
	ps->npat++;
	return 0;
}

int pat_load_file(struct pat_set *ps, const char *path, int map, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, e[300];
	size_t cap = 0;
	int ln = 0, rc = 0;

	if (!f) {
		snprintf(err, errlen, "failed to open pattern file <%s>.", path);
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		char *c = line, *key, *val = NULL;
		ln++;
		if (*c == '#')
			continue;
		while (*c == ' ' || *c == '\t')
			c++;
		key = c;
		if (map) {
			while (*c && *c != ' ' && *c != '\t' && *c != '\n' && *c != '\r')
				c++;
			if (*c == ' ' || *c == '\t') {
				char *end;
				*c++ = 0;
				while (*c == ' ' || *c == '\t')
					c++;
				val = c;
				end = val + strcspn(val, "\r\n");
				while (end > val && (end[-1] == ' ' || end[-1] == '\t'))
					end--;
				*end = 0;
			} else {
				*c = 0;
				val = c;
			}
		} else {
			key[strcspn(key, "\r\n")] = 0;
		}
		if (!*key)
			continue;
		if (pat_add(ps, key, NULL, map ? val : NULL, e, sizeof(e))) {
			snprintf(err, errlen, "%s:%d: %s", path, ln, e);
			rc = -1;
			break;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

static int sub_find(const struct pat_lin *l, const uint8_t *p, size_t n, int icase)
{
	if (l->len > n)
		return 0;
	for (size_t i = 0; i + l->len <= n; i++) {
		size_t j = 0;
		if (icase)
			while (j < l->len && tolower(p[i + j]) == tolower((uint8_t)l->s[j]))
				j++;
		else
			while (j < l->len && p[i + j] == (uint8_t)l->s[j])
				j++;
		if (j == l->len)
			return 1;
	}
	return 0;
}

static void take(const struct pat_ent *e, uint32_t *best)
{
	if (e && e->idx < *best)
		*best = e->idx;
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static int match_ip(const struct pat_set *ps, const struct sample *s, uint32_t *idx, unsigned *probes)
{
	uint8_t a[16], key[18];
	int fam = s->type == SMP_IPV4 ? 4 : 6;

	memcpy(a, s->ip, fam == 4 ? 4 : 16);
	for (int round = 0; round < 2; round++) {
		int max = fam == 4 ? 32 : 128;
		for (int l = max; l >= 0; l--) {
			const struct pat_ent *e;
			if (!ps->lens[fam == 4 ? 1 : 2][l])
				continue;
			e = lookup(ps, key, ip_key(key, fam, a, l), probes);
			if (e) {
				*idx = e->idx;
				return 1;
			}
		}
		/* as HAProxy: an IPv4 also looks among IPv6 networks as ::ffff:a.b.c.d,
		 * and a v4-mapped IPv6 among IPv4 ones */
		if (fam == 4) {
			memmove(a + 12, a, 4);
			memcpy(a, v4mapped, 12);
			fam = 6;
		} else if (!memcmp(a, v4mapped, 12)) {
			memmove(a, a + 12, 4);
			fam = 4;
		} else {
			break;
		}
	}
	return 0;
}

static int is_delim(uint8_t c)
{
	return c == '.' || c == '/';
}

int pat_match(const struct pat_set *ps, const struct sample *s, uint32_t *idx, unsigned *probes)
{
	uint32_t best = UINT32_MAX;
	const uint8_t *p = s->p;
	size_t n = s->len;

	switch (ps->m) {
	case PM_FOUND:
		*idx = 0;
		return 1;
	case PM_BOOL:
		*idx = 0;
		return s->i != 0;
	case PM_INT:
	case PM_LEN: {
		int64_t v = ps->m == PM_LEN ? (int64_t)s->len : s->i;
		for (size_t i = 0; i < ps->nlin; i++) {
			if (probes)
				(*probes)++;
			if (v >= ps->lin[i].lo && v <= ps->lin[i].hi) {
				*idx = ps->lin[i].idx;
				return 1;
			}
		}
		return 0;
	}
	case PM_IP:
		return match_ip(ps, s, idx, probes);
	case PM_STR:
	case PM_BIN:
		take(lookup(ps, p, n, probes), &best);
		break;
	case PM_BEG:
	case PM_END:
		for (size_t l = 0; l <= n && l <= ps->maxlen; l++) {
			if (!ps->lens[0][l < 129 ? l : 129])
				continue;
			take(lookup(ps, ps->m == PM_BEG ? p : p + n - l, l, probes), &best);
		}
		break;
	case PM_DOM:
		/* every part of the input between delimiters (or its ends) */
		for (size_t b = 0; b < n; b++) {
			if (b && !is_delim(p[b - 1]))
				continue;
			for (size_t e = b + 1; e <= n; e++)
				if (e == n || is_delim(p[e]))
					take(lookup(ps, p + b, e - b, probes), &best);
		}
		break;
	case PM_SUB:
	case PM_REG:
		for (size_t i = 0; i < ps->nlin; i++) {
			const struct pat_lin *l = &ps->lin[i];
			if (probes)
				(*probes)++;
			if (ps->m == PM_SUB ? sub_find(l, p, n, ps->icase)
					    : rx_match(l->re, (const char *)p, n)) {
				*idx = l->idx;
				return 1;
			}
		}
		return 0;
	default:
		return 0;
	}
	if (best == UINT32_MAX)
		return 0;
	*idx = best;
	return 1;
}

void pat_free(struct pat_set *ps)
{
	for (size_t i = 0; i < ps->nents; i++)
		free(ps->ents[i].key);
	for (size_t i = 0; i < ps->nlin; i++) {
		free(ps->lin[i].s);
		if (ps->lin[i].re)
			rx_free(ps->lin[i].re);
	}
	if (ps->vals)
		for (uint32_t i = 0; i < ps->npat; i++)
			free(ps->vals[i]);
	free(ps->vals);
	free(ps->ivals);
	free(ps->ipvals);
	free(ps->ents);
	free(ps->slots);
	free(ps->lin);
	memset(ps, 0, sizeof(*ps));
}
