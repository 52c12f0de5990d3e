/*
 * bench_mime - parse throughput of mime_parse() over a set of files.
 *
 * Usage: bench_mime [-n ROUNDS] DIR... ; every regular file under the
 * directories is read into memory first, then parsed ROUNDS times (each
 * parse in a fresh pool, as a scan task would), so only parsing is timed.
 */
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "mime/message.h"
#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct bench_file {
	char *data;
	size_t len;
};

struct bench_set {
	struct bench_file *files;
	size_t n, cap, bytes;
};

static void
load_dir(const char *dir, struct bench_set *set, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	struct stat sb;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && depth < 4) {
		if (e->d_name[0] == '.' ||
		    str_format(path, sizeof(path), "%s/%s", dir, e->d_name) < 0 ||
		    stat(path, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			load_dir(path, set, depth + 1);
		} else if (S_ISREG(sb.st_mode)) {
			if (set->n == set->cap) {
				set->cap = set->cap ? set->cap * 2 : 256;
				set->files = xrealloc(set->files,
				    set->cap * sizeof(*set->files));
			}
			struct bench_file *f = &set->files[set->n];

			if ((f->data = test_read_file(path, &f->len)) != NULL) {
				set->bytes += f->len;
				set->n++;
			}
		}
	}
	closedir(d);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct bench_set set = { 0 };
	unsigned long rounds = 5, r, failed = 0;
	double t, mb;
	int i = 1;
	size_t k;

	if (argc > 2 && strcmp(argv[1], "-n") == 0) {
		rounds = strtoul(argv[2], NULL, 10);
		i = 3;
	}
	if (i >= argc || rounds == 0) {
		fprintf(stderr, "usage: bench_mime [-n ROUNDS] DIR...\n");
		return 2;
	}
	for (; i < argc; i++)
		load_dir(argv[i], &set, 0);
	t = now();
	for (r = 0; r < rounds; r++) {
		for (k = 0; k < set.n; k++) {
			struct pool *p = pool_new(256 * 1024 * 1024);
			const char *err;

			if (mime_parse(p, set.files[k].data, set.files[k].len,
			    NULL, &err) == NULL)
				failed++;
			pool_free(&p);
		}
	}
	t = now() - t;
	mb = (double)set.bytes * (double)rounds / 1e6;
	printf("mime_parse: %.1f MB in %.2f s: %.1f MB/s (%zu files x %lu, "
	    "%lu failed)\n", mb, t, t > 0 ? mb / t : 0.0, set.n, rounds, failed);
	for (k = 0; k < set.n; k++)
		free(set.files[k].data);
	free(set.files);
	return failed == 0 ? 0 : 1;
}
