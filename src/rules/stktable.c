/* Stick tables: a hash index over the keys, and a list of every entry by
 * last touch (oldest first), which is both the expiry order and the
 * eviction order (every touch pushes an entry's expiry by the same delay).
 * One mutex per table; see stktable.h for the contract. The data part of
 * an entry is in stktable_data.c. */
#include "rules/stktable.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/strutil.h"
#include "rules/stktable_int.h"

#define LOCK(t) pthread_mutex_lock(&(t)->lock)
#define UNLOCK(t) pthread_mutex_unlock(&(t)->lock)

/* ---- tables ----------------------------------------------------------------- */

struct stktable *stktable_new(const char *name, const struct stk_def *def)
{
	struct stktable *t = calloc(1, sizeof(*t));
	unsigned nb = 16;

	if (!t)
		return NULL;
	t->name = strdup(name);
	t->def = *def;
	switch (def->type) {
	case STK_KEY_IP: case STK_KEY_INT: t->key_size = 4; break;
	case STK_KEY_IPV6: t->key_size = 16; break;
	case STK_KEY_STR: t->key_size = def->key_len + 1; break;
	default: t->key_size = def->key_len; break;
	}
	for (int dt = 0; dt < STK_DT_N; dt++) {
		t->slot[dt] = def->nbelem[dt] ? t->nslots : -1;
		t->nslots += def->nbelem[dt];
	}
	/* about one bucket per entry, up to 4M buckets (32 MB of index) */
	while (nb < def->size && nb < (1u << 22))
		nb <<= 1;
	t->nbuckets = nb;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (!t->name || !t->buckets) {
		free(t->name);
		free(t->buckets);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->refs = 1;
	return t;
}

void stktable_hold(struct stktable *t)
{
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
}

void stktable_put(struct stktable *t)
{
	if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL))
		return;
	while (t->oldest) {
		struct stksess *ts = t->oldest;
		t->oldest = ts->newer;
		stk_entry_free(t, ts);
	}
	pthread_mutex_destroy(&t->lock);
	free(t->buckets);
	free(t->name);
	free(t);
}

void stktable_redefine(struct stktable *t, const struct stk_def *def)
{
	LOCK(t);
	t->def.expire = def->expire;
	t->def.nopurge = def->nopurge;
	UNLOCK(t);
}

/* ---- keys ------------------------------------------------------------------- */

int stktable_key_addr(const struct stktable *t, const struct sockaddr *sa, struct stk_key *k)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	k->p = NULL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		if (t->def.type == STK_KEY_IP) {
			memcpy(k->buf, &s4->sin_addr, 4);
			k->len = 4;
			return 0;
		}
		if (t->def.type == STK_KEY_IPV6) {
			memcpy(k->buf, mapped, 12);
			memcpy(k->buf + 12, &s4->sin_addr, 4);
			k->len = 16;
			return 0;
		}
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (t->def.type == STK_KEY_IPV6) {
			memcpy(k->buf, &s6->sin6_addr, 16);
			k->len = 16;
			return 0;
		}
		if (t->def.type == STK_KEY_IP && !memcmp(&s6->sin6_addr, mapped, 12)) {
			memcpy(k->buf, (const unsigned char *)&s6->sin6_addr + 12, 4);
			k->len = 4;
			return 0;
		}
	}
	return -1;
}

/* An IPv4 address read as HAProxy's inetaddr_host: up to four groups of
 * digits separated by dots, each group's last three digits taken as a
 * decimal number and added in at its byte's place (so "foo" is 0.0.0.0 and
 * nothing is refused). Returns it in host order. */
static uint32_t lenient_ipv4(const char *s)
{
	uint32_t v = 0;

	for (int shift = 24;; shift -= 8) {
		const char *start = s;
		uint32_t g = 0;
		while (*s >= '0' && *s <= '9')
			s++;
		for (const char *d = s - 1, *end = s - 4; d >= start && d > end; d--)
			g += (uint32_t)(*d - '0') * (s - 1 - d == 0 ? 1 : s - 1 - d == 1 ? 10 : 100);
		v += g << shift;
		if (!shift || *s != '.')
			break;
		s++;
	}
	return v;
}

int stktable_key_text(const struct stktable *t, const char *text, const char *verb,
		      struct stk_key *k, const char **err)
{
	k->p = NULL;
	switch (t->def.type) {
	case STK_KEY_IP: {
		uint32_t a = htonl(lenient_ipv4(text));
		memcpy(k->buf, &a, 4);
		k->len = 4;
		return 0;
	}
	case STK_KEY_IPV6:
		k->len = 16;
		if (inet_pton(AF_INET6, text, k->buf) == 1)
			return 0;
		*err = "Invalid key\n";
		return -1;
	case STK_KEY_INT: {
		char *end;
		unsigned long long v;
		uint32_t u;
		if (*text == '-' || *text < '0' || *text > '9') {
			*err = "Invalid key\n";
			return -1;
		}
		v = strtoull(text, &end, 10);
		if (end == text || v > 0xffffffffULL) {
			*err = "Invalid key\n";
			return -1;
		}
		u = (uint32_t)v;
		memcpy(k->buf, &u, 4);
		k->len = 4;
		return 0;
	}
	case STK_KEY_STR:
		k->p = text;
		k->len = strlen(text);
		return 0;
	default:
		*err = !strcmp(verb, "Inserting")
		       ? "Inserting keys into tables of type other than ip, ipv6, string and integer is not supported\n"
		       : !strcmp(verb, "Removing")
		       ? "Removing keys from tables of type other than ip, ipv6, string and integer is not supported\n"
		       : "Showing keys from tables of type other than ip, ipv6, string and integer is not supported\n";
		return -1;
	}
}

/* ---- the index and the age list ------------------------------------------------ */

/* The key as stored: key_size bytes, a string cut to len and zero-padded. */
static void key_norm(const struct stktable *t, const struct stk_key *k, unsigned char *out)
{
	size_t n = k->len;

	if (t->def.type == STK_KEY_STR && n > t->key_size - 1)
		n = t->key_size - 1;
	else if (n > t->key_size)
		n = t->key_size;
	memset(out, 0, t->key_size);
	memcpy(out, k->p ? k->p : k->buf, n);
}

static uint32_t key_hash(const unsigned char *key, unsigned n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (unsigned i = 0; i < n; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

static struct stksess *find(struct stktable *t, const unsigned char *key, uint32_t h)
{
	for (struct stksess *ts = t->buckets[h & (t->nbuckets - 1)]; ts; ts = ts->hnext)
		if (ts->hash == h && !memcmp(stk_key_of(t, ts), key, t->key_size))
			return ts;
	return NULL;
}

static void age_unlink(struct stktable *t, struct stksess *ts)
{
	if (ts->older)
		ts->older->newer = ts->newer;
	else
		t->oldest = ts->newer;
	if (ts->newer)
		ts->newer->older = ts->older;
	else
		t->newest = ts->older;
	ts->older = ts->newer = NULL;
}

static void age_append(struct stktable *t, struct stksess *ts)
{
	ts->older = t->newest;
	ts->newer = NULL;
	if (t->newest)
		t->newest->newer = ts;
	else
		t->oldest = ts;
	t->newest = ts;
}

/* Takes ts out of t and frees it (unreferenced). */
static void kill(struct stktable *t, struct stksess *ts)
{
	struct stksess **pp = &t->buckets[ts->hash & (t->nbuckets - 1)];

	while (*pp != ts)
		pp = &(*pp)->hnext;
	*pp = ts->hnext;
	age_unlink(t, ts);
	t->current--;
	stk_entry_free(t, ts);
}

static int expired(const struct stktable *t, const struct stksess *ts, uint64_t now_ms)
{
	return t->def.expire && ts->expire <= now_ms;
}

/* Makes room for one entry: HAProxy's trash_oldest over a batch. */
static int evict(struct stktable *t)
{
	int batch = (int)(t->def.size >> 8) + 1, search = batch * 2, done = 0;
	struct stksess *ts = t->oldest;

	while (ts && done < batch && search-- > 0) {
		struct stksess *next = ts->newer;
		if (!ts->ref) {
			kill(t, ts);
			done++;
		}
		ts = next;
	}
	return done;
}

/* ---- entries ---------------------------------------------------------------- */

/* The entry of key (normalised), freeing it if it has expired unreferenced. */
static struct stksess *find_live(struct stktable *t, const unsigned char *key, uint32_t h,
				 uint64_t now_ms)
{
	struct stksess *ts = find(t, key, h);

	if (ts && !ts->ref && expired(t, ts, now_ms)) {
		kill(t, ts);
		ts = NULL;
	}
	return ts;
}

/* The normalised key of a lookup: on the stack up to KEY_STACK bytes,
 * else from the heap, since "len" may be anything a configuration says
 * (HAProxy accepts megabytes) and must not overflow a thread's stack.
 * key_get returns NULL when the heap has no room: the lookup finds
 * nothing. */
#define KEY_STACK 1024
struct keybuf {
	unsigned char stack[KEY_STACK];
	unsigned char *p;
};

static unsigned char *key_get(struct keybuf *b, const struct stktable *t, const struct stk_key *k)
{
	b->p = t->key_size <= KEY_STACK ? b->stack : malloc(t->key_size);
	if (b->p)
		key_norm(t, k, b->p);
	return b->p;
}

static void key_put(struct keybuf *b)
{
	if (b->p != b->stack)
		free(b->p);
}

struct stksess *stktable_get(struct stktable *t, const struct stk_key *k, uint64_t now_ms)
{
	struct keybuf kb;
	unsigned char *key = key_get(&kb, t, k);
	struct stksess *ts;
	uint32_t h;

	if (!key)
		return NULL;
	h = key_hash(key, t->key_size);
	LOCK(t);
	ts = find_live(t, key, h, now_ms);
	if (!ts && (t->current < t->def.size || (!t->def.nopurge && evict(t)))) {
		ts = stk_entry_new(t);
		if (ts) {
			memcpy(stk_key_of(t, ts), key, t->key_size);
			ts->hash = h;
			ts->expire = now_ms + t->def.expire;
			ts->hnext = t->buckets[h & (t->nbuckets - 1)];
			t->buckets[h & (t->nbuckets - 1)] = ts;
			age_append(t, ts);
			t->current++;
		}
	}
	if (ts)
		ts->ref++;
	UNLOCK(t);
	key_put(&kb);
	return ts;
}

struct stksess *stktable_lookup(struct stktable *t, const struct stk_key *k, uint64_t now_ms)
{
	struct keybuf kb;
	unsigned char *key = key_get(&kb, t, k);
	struct stksess *ts;
	uint32_t h;

	if (!key)
		return NULL;
	h = key_hash(key, t->key_size);
	LOCK(t);
	ts = find_live(t, key, h, now_ms);
	if (ts)
		ts->ref++;
	UNLOCK(t);
	key_put(&kb);
	return ts;
}

void stktable_release(struct stktable *t, struct stksess *ts)
{
	if (!ts)
		return;
	LOCK(t);
	ts->ref--;
	UNLOCK(t);
}

void stktable_touch(struct stktable *t, struct stksess *ts, uint64_t now_ms, int decref)
{
	LOCK(t);
	ts->expire = now_ms + t->def.expire;
	age_unlink(t, ts);
	age_append(t, ts);
	if (decref)
		ts->ref--;
	UNLOCK(t);
}

int stktable_remove(struct stktable *t, const struct stk_key *k, uint64_t now_ms)
{
	struct keybuf kb;
	unsigned char *key = key_get(&kb, t, k);
	struct stksess *ts;
	int ret = 0;

	if (!key)
		return 0;
	LOCK(t);
	ts = find_live(t, key, key_hash(key, t->key_size), now_ms);
	if (ts && ts->ref)
		ret = -1;
	else if (ts) {
		kill(t, ts);
		ret = 1;
	}
	UNLOCK(t);
	key_put(&kb);
	return ret;
}

int stktable_purge(struct stktable *t, uint64_t now_ms, int max)
{
	int done = 0, look = max * 2;

	if (!t->def.expire)
		return 0;
	LOCK(t);
	for (struct stksess *ts = t->oldest, *next; ts && done < max && look-- > 0; ts = next) {
		next = ts->newer;
		if (!expired(t, ts, now_ms))
			break; /* the list is in expiry order */
		if (!ts->ref) {
			kill(t, ts);
			done++;
		}
	}
	UNLOCK(t);
	return done;
}

unsigned stktable_used(struct stktable *t, uint64_t now_ms)
{
	unsigned n;

	while (stktable_purge(t, now_ms, 4096) == 4096)
		;
	LOCK(t);
	n = t->current;
	UNLOCK(t);
	return n;
}

/* ---- walks (show / clear table) ------------------------------------------------ */

static unsigned sort_key_size; /* qsort has no argument: set under sort_lock */
static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

static int cmp_entries(const void *a, const void *b)
{
	const struct stksess *x = *(struct stksess *const *)a, *y = *(struct stksess *const *)b;

	return memcmp(x->key, y->key, sort_key_size);
}

/* Frees the expired unreferenced entries, then collects the rest matching
 * the filters, in key order. t locked. *n gets their number; NULL when
 * none (or out of memory). */
static struct stksess **collect(struct stktable *t, uint64_t now_ms, const struct stk_filter *f,
				int nf, unsigned *n)
{
	struct stksess **v;
	unsigned k = 0;

	for (struct stksess *ts = t->oldest, *next; ts && t->def.expire; ts = next) {
		next = ts->newer;
		if (!ts->ref && expired(t, ts, now_ms))
			kill(t, ts);
	}
	*n = 0;
	if (!t->current || !(v = malloc(t->current * sizeof(*v))))
		return NULL;
	for (struct stksess *ts = t->oldest; ts; ts = ts->newer)
		if (stk_entry_matches(t, ts, now_ms, f, nf))
			v[k++] = ts;
	pthread_mutex_lock(&sort_lock);
	sort_key_size = t->key_size;
	qsort(v, k, sizeof(*v), cmp_entries);
	pthread_mutex_unlock(&sort_lock);
	*n = k;
	return v;
}

unsigned stktable_walk(struct stktable *t, uint64_t now_ms, const struct stk_filter *f, int nf,
		       void (*fn)(void *arg, const struct stktable *t, const struct stksess *ts),
		       void *arg)
{
	struct stksess **v;
	unsigned n, used;

	LOCK(t);
	v = collect(t, now_ms, f, nf, &n);
	used = t->current;
	for (unsigned i = 0; i < n; i++)
		fn(arg, t, v[i]);
	UNLOCK(t);
	free(v);
	return used;
}

unsigned stktable_walk_key(struct stktable *t, const struct stk_key *k, uint64_t now_ms,
			   void (*fn)(void *arg, const struct stktable *t, const struct stksess *ts),
			   void *arg)
{
	struct keybuf kb;
	unsigned char *key = key_get(&kb, t, k);
	struct stksess *ts;
	unsigned used;

	LOCK(t);
	ts = key ? find_live(t, key, key_hash(key, t->key_size), now_ms) : NULL;
	used = t->current;
	if (ts)
		fn(arg, t, ts);
	UNLOCK(t);
	key_put(&kb);
	return used;
}

unsigned stktable_clear(struct stktable *t, uint64_t now_ms, const struct stk_filter *f, int nf)
{
	unsigned n, done = 0;
	struct stksess **v;

	LOCK(t);
	v = collect(t, now_ms, f, nf, &n);
	for (unsigned i = 0; i < n; i++)
		if (!v[i]->ref) {
			kill(t, v[i]);
			done++;
		}
	UNLOCK(t);
	free(v);
	return done;
}
