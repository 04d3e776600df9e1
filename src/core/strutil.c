#include "core/strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int str_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int *row = calloc(lb + 1, sizeof(*row));
	int res;

	if (!row)
		return 1 << 20;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j];
			int best = diag + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	res = row[lb];
	free(row);
	return res;
}

const char *str_suggest(const char *word, const char *const *cands)
{
	const char *best = NULL;
	int bestd = 1 << 20;
	int limit = (int)strlen(word) / 3;

	if (limit < 1)
		limit = 1;
	for (; *cands; cands++) {
		int d = str_distance(word, *cands);
		if (d < bestd) {
			bestd = d;
			best = *cands;
		}
	}
	return bestd <= limit ? best : NULL;
}

char *xstrdup(const char *s)
{
	char *r = strdup(s ? s : "");
	if (!r) {
		fputs("ferry: out of memory\n", stderr);
		abort();
	}
	return r;
}

void *xcalloc(size_t n, size_t sz)
{
	void *r = calloc(n ? n : 1, sz ? sz : 1);
	if (!r) {
		fputs("ferry: out of memory\n", stderr);
		abort();
	}
	return r;
}
