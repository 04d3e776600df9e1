/* The cancel keys of PostgreSQL sessions: (process id, secret key) as the
 * server sent them in BackendKeyData, mapped to the server that session is
 * connected to. A cancel request arrives on a new connection, on any
 * thread, maybe after a reload: the table is the process's, under one
 * lock, and its entries are copies (addresses, names), so they outlive
 * the generation whose server objects they came from. An entry goes when
 * its session ends.
 *
 * Chained hashing over a fixed number of buckets, by process id only (the
 * key is compared in constant time): the table holds one
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

/* The bucket of a process id. Only the pid, which is not secret, picks the
 * bucket: a hash of the secret key too would let the time a lookup takes
 * say something about it. */
static uint32_t hash_of(uint32_t pid)
{
	return (pid * 2654435761u) >> 20; /* Knuth's multiplicative hash: 12 bits for 4096 buckets */
}

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
	k->hash = hash_of(pid);
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
	uint32_t h = hash_of(pid);
	int found = 0;

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
