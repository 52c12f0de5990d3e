/*
 * Parses every message of the corpus ($CORPUS_DIR, all subdirectories)
 * and checks invariants that must hold for any input.
 */
#include "core/pool.h"
#include "mime/message.h"
#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct corpus_stats {
	unsigned files, with_text, with_subject_or_flags, failed;
	unsigned long parts, urls;
};

static bool
check_message(const struct mime_message *m, const char *data, size_t len)
{
	unsigned i;

	if (m->n_parts < 1 || m->root != m->parts[0])
		return false;
	for (i = 0; i < m->n_parts; i++) {
		const struct mime_part *pt = m->parts[i];

		if (pt->type == NULL || pt->subtype == NULL)
			return false;
		if (pt->raw_body.len > 0 && pt->depth > 0 &&
		    (pt->raw_body.ptr < data ||
		    pt->raw_body.ptr + pt->raw_body.len > data + len) &&
		    !(pt->parent != NULL && pt->parent->decoded != NULL))
			return false;
		if (pt->is_text && (pt->utf8 == NULL ||
		    strlen(pt->utf8) > pt->utf8_len))
			return false;
		if (i > 0 && pt->parent == NULL)
			return false;
	}
	for (i = 0; i < m->n_urls; i++) {
		if (m->urls[i].url == NULL || m->urls[i].host == NULL)
			return false;
	}
	return true;
}

static void
parse_file(const char *path, struct corpus_stats *st)
{
	size_t len;
	char *data = test_read_file(path, &len);
	struct pool *p;
	struct mime_message *m;
	const char *err = NULL;

	if (data == NULL)
		return;
	p = pool_new(64 * 1024 * 1024);
	m = mime_parse(p, data, len, NULL, &err);
	st->files++;
	if (m == NULL || !check_message(m, data, len)) {
		st->failed++;
		fprintf(stderr, "bad parse: %s\n", path);
	} else {
		if (m->n_text_parts > 0)
			st->with_text++;
		if (m->subject != NULL || m->flags != 0)
			st->with_subject_or_flags++;
		st->parts += m->n_parts;
		st->urls += m->n_urls;
	}
	pool_free(&p);
	free(data);
}

static void
walk(const char *dir, struct corpus_stats *st, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	struct stat sb;

	if (d == NULL || depth > 3) {
		if (d != NULL)
			closedir(d);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (str_format(path, sizeof(path), "%s/%s", dir, e->d_name) < 0 ||
		    stat(path, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode))
			walk(path, st, depth + 1);
		else if (S_ISREG(sb.st_mode) && strstr(e->d_name, ".tsv") == NULL &&
		    strstr(e->d_name, ".md") == NULL)
			parse_file(path, st);
	}
	closedir(d);
}

int
main(void)
{
	const char *dir = getenv("CORPUS_DIR");
	struct corpus_stats st = { 0 };

	if (dir == NULL)
		dir = "../shared/corpus";
	test_begin("parse the whole corpus");
	walk(dir, &st, 0);
	printf("corpus: %u files, %u with text, %lu parts, %lu urls\n",
	    st.files, st.with_text, st.parts, st.urls);
	test_assert(st.files > 4000);
	test_assert(st.failed == 0);
	test_assert(st.with_text * 100 > st.files * 95);
	test_assert(st.with_subject_or_flags == st.files - st.failed);
	test_end();
	return test_exit();
}
