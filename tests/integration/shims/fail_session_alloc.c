/* LD_PRELOAD shim for tests: once the file named by FAIL_AFTER exists, the
 * next FAIL_SESSIONS allocations of a struct session's size
 * (calloc(1, sizeof(struct session))) fail, as they would when memory runs
 * out; every other allocation goes to glibc. The file lets ferry start
 * first (start-up allocations may have the same size). Built by the test
 * that uses it (test_limits.py), never linked into ferry. */
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "proxy/proxy.h"

extern void *__libc_calloc(size_t n, size_t size);

static atomic_int left = -1; /* -1: FAIL_SESSIONS not read yet */

void *calloc(size_t n, size_t size)
{
	const char *trigger = getenv("FAIL_AFTER");

	if (n == 1 && size == sizeof(struct session) && trigger && access(trigger, F_OK) == 0) {
		int cur = atomic_load(&left);
		if (cur == -1) {
			const char *e = getenv("FAIL_SESSIONS");
			int want = e ? atoi(e) : 0;
			atomic_compare_exchange_strong(&left, &cur, want);
		}
		cur = atomic_load(&left);
		while (cur > 0)
			if (atomic_compare_exchange_weak(&left, &cur, cur - 1))
				return NULL;
	}
	return __libc_calloc(n, size);
}
