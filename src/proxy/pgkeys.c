/* The cancel keys of PostgreSQL sessions: (process id, secret key) as the
 * server sent them in BackendKeyData, mapped to the server that session is
 * connected to. A cancel request arrives on a new connection, on any
 * thread, maybe after a reload: the table is the process's, under one
 * lock, and its entries are copies (addresses, names), so they outlive
 * the generation whose server objects they came from. An entry goes when
 * its session ends.
 *
 * Chained hashing over a fixed number of buckets, by a seeded hash (the
 * key is compared in constant time): the table holds one
 * entry per live PostgreSQL session, and the lock is taken once when a
 * session learns its key, once when it ends, and once per cancel. */
#include "proxy/pgedge.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define NBUCKETS 4096

struct pgkey {
	struct pgkey *next;
	uint32_t hash;
	uint32_t pid;
	struct pgkey_dest d;
	size_t key_len;
	uint8_t key[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct pgkey *buckets[NBUCKETS];
static int count;

/* The bucket of (pid, key): FNV-1a over a secret seed drawn at the first
 * use, the pid and the key. Seeded, so that which bucket a guessed key
 * falls in (what a lookup's time could show) says nothing an attacker can
 * relate to a real key, and many sessions with one pid (several servers,
 * or a pooler that gives one pid to all) still spread. Not a
 * cryptographic hash: its output is never shown. */
static uint8_t seed[16];

static uint32_t hash_of(uint32_t pid, const uint8_t *key, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(seed); i++) {
		h ^= seed[i];
		h *= 16777619u;
	}
	for (int i = 0; i < 4; i++) {
		h ^= (pid >> (8 * i)) & 0xff;
		h *= 16777619u;
	}
	for (size_t i = 0; i < len; i++) {
		h ^= key[i];
		h *= 16777619u;
	}
	return h;
}

static void seed_once(void)
{
	size_t got = 0;

	while (got < sizeof(seed)) { /* the kernel's pool: blocks only before it is ready */
		ssize_t r = getrandom(seed + got, sizeof(seed) - got, 0);
		if (r > 0)
			got += (size_t)r;
		else if (r < 0 && errno != EINTR)
			break; /* no getrandom: an unseeded table still works, only predictably */
	}
}

static pthread_once_t seeded = PTHREAD_ONCE_INIT;

/* 1 when a and b (len bytes each) are equal; takes the same time wherever
 * they differ, as PostgreSQL compares cancel keys (timingsafe_bcmp). */
static int same_key(const uint8_t *a, const uint8_t *b, size_t len)
{
	volatile uint8_t diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

struct pgkey *pgkeys_add(uint32_t pid, const uint8_t *key, size_t key_len, const struct pgkey_dest *d)
{
	struct pgkey *k = malloc(sizeof(*k) + key_len);

	if (!k)
		return NULL;
	pthread_once(&seeded, seed_once);
	k->hash = hash_of(pid, key, key_len);
	k->pid = pid;
	k->d = *d;
	k->key_len = key_len;
	memcpy(k->key, key, key_len);
	pthread_mutex_lock(&lock);
	k->next = buckets[k->hash % NBUCKETS];
	buckets[k->hash % NBUCKETS] = k;
	count++;
	pthread_mutex_unlock(&lock);
	return k;
}

void pgkeys_del(struct pgkey *k)
{
	struct pgkey **pp;

	if (!k)
		return;
	pthread_mutex_lock(&lock);
	for (pp = &buckets[k->hash % NBUCKETS]; *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			count--;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	free(k);
}

int pgkeys_find(uint32_t pid, const uint8_t *key, size_t key_len, struct pgkey_dest *d)
{
	uint32_t h;
	int found = 0;

	pthread_once(&seeded, seed_once);
	h = hash_of(pid, key, key_len);
	pthread_mutex_lock(&lock);
	for (const struct pgkey *k = buckets[h % NBUCKETS]; k; k = k->next) {
		if (k->pid == pid && k->key_len == key_len && same_key(k->key, key, key_len)) {
			*d = k->d;
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return found;
}

int pgkeys_count(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = count;
	pthread_mutex_unlock(&lock);
	return n;
}
