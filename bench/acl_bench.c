/* Micro-benchmark of pattern lookups (src/rules/pattern.c): ns per lookup
 * of an IPv4 address in a list of 10 vs 100,000 networks, and of an SNI
 * name in a map_dom of 10 vs 10,000 names. A lookup costs a few hash
 * probes whatever the list's size; this shows it in time.
 * Build and run: make acl-bench (not part of make test). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules/rules_int.h"

#define LOOKUPS 2000000

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void fill_ip(struct pat_set *ps, int n)
{
	char t[40], err[200];
	pat_init(ps, PM_IP, 0);
	for (int i = 0; i < n; i++) {
		/* a mix of /24 and /16 networks, as a real block list */
		snprintf(t, sizeof(t), "%d.%d.%d.0/%d", 1 + (i >> 16) % 200, (i >> 8) & 255, i & 255,
			 i % 7 ? 24 : 16);
		if (pat_add(ps, t, NULL, NULL, err, sizeof(err)))
			abort();
	}
}

static double bench_ip(int n)
{
	struct pat_set ps;
	struct sample s = { .type = SMP_IPV4 };
	uint32_t idx, x = 12345;
	volatile unsigned hits = 0;
	double t0;
	fill_ip(&ps, n);
	t0 = now_ns();
	for (int i = 0; i < LOOKUPS; i++) {
		x = x * 1103515245u + 12345u;
		s.ip[0] = (uint8_t)(1 + (x >> 24) % 3);
		s.ip[1] = (uint8_t)(x >> 16);
		s.ip[2] = (uint8_t)(x >> 8);
		s.ip[3] = (uint8_t)x;
		hits += (unsigned)pat_match(&ps, &s, &idx, NULL);
	}
	t0 = (now_ns() - t0) / LOOKUPS;
	pat_free(&ps);
	return t0;
}

static double bench_dom(int n)
{
	struct pat_set ps;
	char t[80], err[200];
	uint32_t idx, x = 777;
	volatile unsigned hits = 0;
	double t0;
	static char names[1024][80];
	pat_init(&ps, PM_DOM, 0);
	for (int i = 0; i < n; i++) {
		snprintf(t, sizeof(t), "svc%d.example.com", i);
		if (pat_add(&ps, t, NULL, "be", err, sizeof(err)))
			abort();
	}
	for (int i = 0; i < 1024; i++)
		snprintf(names[i], sizeof(names[i]), "www.svc%d.example.com", (i * 37) % 20000);
	t0 = now_ns();
	for (int i = 0; i < LOOKUPS; i++) {
		struct sample s = { .type = SMP_STR };
		x = x * 1103515245u + 12345u;
		s.p = (const uint8_t *)names[x % 1024];
		s.len = strlen(names[x % 1024]);
		hits += (unsigned)pat_match(&ps, &s, &idx, NULL);
	}
	t0 = (now_ns() - t0) / LOOKUPS;
	pat_free(&ps);
	return t0;
}

int main(void)
{
	double a = bench_ip(10), b = bench_ip(100000), c = bench_dom(10), d = bench_dom(10000);
	printf("src in a list of      10 networks: %6.1f ns/lookup\n", a);
	printf("src in a list of 100,000 networks: %6.1f ns/lookup (x%.2f)\n", b, b / a);
	printf("SNI in a map_dom of      10 names: %6.1f ns/lookup\n", c);
	printf("SNI in a map_dom of  10,000 names: %6.1f ns/lookup (x%.2f)\n", d, d / c);
	return 0;
}
