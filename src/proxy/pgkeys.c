/* The cancel keys of PostgreSQL sessions: (process id, secret key) as the
 * server sent them in BackendKeyData, mapped to the server that session is
 * connected to. A cancel request arrives on a new connection, on any
 * thread, maybe after a reload: the table is the process's, under one
 * lock, and its entries are copies (addresses, names), so they outlive
 * the generation whose server objects they came from. An entry goes when
 * its session ends.
 *
 * Chained hashing over a fixed number of buckets: the table holds one
 * entry per live PostgreSQL session, and the lock is taken once when a
 * session learns its key, once when it ends, and once per cancel. */
#include "proxy/pgedge.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

/* FNV-1a over the pid and the key. */
static uint32_t hash_of(uint32_t pid, const uint8_t *key, size_t len)
{
	uint32_t h = 2166136261u;

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

struct pgkey *pgkeys_add(uint32_t pid, const uint8_t *key, size_t key_len, const struct pgkey_dest *d)
{
	struct pgkey *k = malloc(sizeof(*k) + key_len);

	if (!k)
		return NULL;
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
	uint32_t h = hash_of(pid, key, key_len);
	int found = 0;

	pthread_mutex_lock(&lock);
	for (const struct pgkey *k = buckets[h % NBUCKETS]; k; k = k->next) {
		if (k->hash == h && k->pid == pid && k->key_len == key_len && !memcmp(k->key, key, key_len)) {
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
