/*
 * Cross-validation of the Bayes classifier on the corpus TRAIN split, for
 * tuning (min_token_dev, max_tokens, margin) without touching TEST. Runs
 * only when BAYES_CV=1 (it takes a while); under ctest it checks that the
 * harness itself works on a handful of messages.
 *
 * TRAIN messages are tokenized once; for each of 5 folds the counts of the
 * other four are built by sorting (hash, class) pairs, and each held-out
 * message is classified with every parameter set.
 */
#include "core/pool.h"
#include "core/xmalloc.h"
#include "mime/message.h"
#include "scan/bayes/bayes_internal.h"
#include "test.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLDS 5

struct msg {
	uint64_t *h;
	size_t n;
	bool spam;
};

struct entry {
	uint64_t h;
	uint32_t spam, ham;
};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t
load_group(const char *dir, const char *group, bool spam, struct msg **msgs, size_t n,
    size_t limit)
{
	char path[4096], **names = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, group);
	if ((d = opendir(path)) == NULL)
		return n;
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".eml") == NULL)
			continue;
		if (cnt == cap)
			names = xrealloc(names, (cap = cap * 2 + 64) * sizeof(*names));
		names[cnt++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, cnt, sizeof(*names), cmp_name);
	for (size_t i = 0; i < cnt && i < limit; i++) {
		char file[4400];
		size_t len;
		char *data;
		struct pool *pool = pool_new(0);
		struct mime_message *m;
		struct bayes_tok_opts o;
		uint64_t *h;
		size_t nh, nw;

		snprintf(file, sizeof(file), "%s/%s", path, names[i]);
		data = test_read_file(file, &len);
		bayes_tok_defaults(&o);
		m = data != NULL ? mime_parse(pool, data, len, NULL, NULL) : NULL;
		if (m != NULL && bayes_tokenize(pool, m, &o, &h, &nh, &nw) == 0 && nw >= 11) {
			*msgs = xrealloc(*msgs, (n + 1) * sizeof(**msgs));
			(*msgs)[n].h = xcalloc(nh + 1, sizeof(uint64_t));
			memcpy((*msgs)[n].h, h, nh * sizeof(uint64_t));
			(*msgs)[n].n = nh;
			(*msgs)[n].spam = spam;
			n++;
		}
		pool_free(&pool);
		free(data);
		free(names[i]);
	}
	for (size_t i = limit; i < cnt; i++)
		free(names[i]);
	free(names);
	return n;
}

/* Count table of every message not in `fold`. */
static struct entry *
build(const struct msg *m, size_t n, size_t fold, size_t *ne, uint64_t *ns, uint64_t *nh)
{
	size_t total = 0, k = 0, e = 0;
	uint64_t *all;
	struct entry *t;

	for (size_t i = 0; i < n; i++)
		total += i % FOLDS == fold ? 0 : m[i].n;
	all = xcalloc(total + 1, sizeof(*all));
	*ns = *nh = 0;
	for (size_t i = 0; i < n; i++) {
		if (i % FOLDS == fold)
			continue;
		*ns += m[i].spam;
		*nh += !m[i].spam;
		/* The low bit carries the class: tokens differ in the upper 63. */
		for (size_t j = 0; j < m[i].n; j++)
			all[k++] = (m[i].h[j] & ~1ull) | m[i].spam;
	}
	qsort(all, k, sizeof(*all), cmp_u64);
	t = xcalloc(k + 1, sizeof(*t));
	for (size_t i = 0; i < k; i++) {
		uint64_t h = all[i] & ~1ull;

		if (e == 0 || t[e - 1].h != h)
			t[e++] = (struct entry){ h, 0, 0 };
		if (all[i] & 1)
			t[e - 1].spam++;
		else
			t[e - 1].ham++;
	}
	free(all);
	*ne = e;
	return t;
}

static const struct entry *
find(const struct entry *t, size_t n, uint64_t h)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t[mid].h < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && t[lo].h == h ? &t[lo] : NULL;
}

struct params {
	double min_dev;
	unsigned max_tokens;
};

static const struct params grid[] = {
	{ 0.0, 0 }, { 0.1, 0 }, { 0.2, 0 }, { 0.3, 0 }, { 0.4, 0 },
	{ 0.1, 150 }, { 0.1, 300 }, { 0.2, 150 }, { 0.0, 150 }, { 0.0, 500 },
};
static const double margins[] = { 0.0, 0.1, 0.2, 0.3, 0.4, 0.45, 0.49 };

static void
cv(struct msg *m, size_t n)
{
	static size_t fp[ARRAY_SIZE(grid)][ARRAY_SIZE(margins)];
	static size_t fn[ARRAY_SIZE(grid)][ARRAY_SIZE(margins)];
	size_t n_ham = 0, n_spam = 0;

	for (size_t fold = 0; fold < FOLDS; fold++) {
		size_t ne;
		uint64_t ns, nh;
		struct entry *t = build(m, n, fold, &ne, &ns, &nh);

		for (size_t i = fold; i < n; i += FOLDS) {
			struct bayes_token *tok = xcalloc(m[i].n + 1, sizeof(*tok));

			for (size_t j = 0; j < m[i].n; j++) {
				const struct entry *e = find(t, ne, m[i].h[j] & ~1ull);

				tok[j].hash = m[i].h[j];
				tok[j].spam = e != NULL ? e->spam : 0;
				tok[j].ham = e != NULL ? e->ham : 0;
			}
			n_spam += m[i].spam;
			n_ham += !m[i].spam;
			for (size_t g = 0; g < ARRAY_SIZE(grid); g++) {
				struct bayes_cls_opts o;
				size_t used;
				double p;

				bayes_cls_defaults(&o);
				o.min_dev = grid[g].min_dev;
				o.max_tokens = grid[g].max_tokens;
				p = bayes_classify(tok, m[i].n, ns, nh, &o, &used);
				for (size_t k = 0; k < ARRAY_SIZE(margins); k++) {
					bool says_spam = p >= 0.5 + margins[k] && p > 0.5;

					fp[g][k] += !m[i].spam && says_spam;
					fn[g][k] += m[i].spam && !says_spam;
				}
			}
			free(tok);
		}
		free(t);
	}
	for (size_t g = 0; g < ARRAY_SIZE(grid); g++) {
		for (size_t k = 0; k < ARRAY_SIZE(margins); k++)
			printf("min_dev %.2f max_tokens %3u margin %.2f: FP %.2f%% FN %.2f%%\n",
			    grid[g].min_dev, grid[g].max_tokens, margins[k],
			    100.0 * (double)fp[g][k] / (double)n_ham,
			    100.0 * (double)fn[g][k] / (double)n_spam);
	}
}

int
main(void)
{
	const char *dir = getenv("CORPUS_DIR");
	bool full = getenv("BAYES_CV") != NULL;
	size_t lim = full ? SIZE_MAX : 20, n = 0;
	struct msg *m = NULL;

	if (dir == NULL) {
		printf("CORPUS_DIR not set: skipped\n");
		return 0;
	}
	test_begin("cross-validation harness on TRAIN");
	n = load_group(dir, "easy-ham-1", false, &m, n, lim);
	n = load_group(dir, "hard-ham-1", false, &m, n, lim);
	n = load_group(dir, "spam-1", true, &m, n, lim);
	test_assert(n > 40);
	/* Interleave classes across folds: shuffle deterministically. */
	for (size_t i = n; i > 1; i--) {
		size_t j = (i * 2654435761u) % i;
		struct msg tmp = m[i - 1];

		m[i - 1] = m[j];
		m[j] = tmp;
	}
	cv(m, n);
	for (size_t i = 0; i < n; i++)
		free(m[i].h);
	free(m);
	test_end();
	return test_exit();
}
