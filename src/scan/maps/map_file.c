/*
 * map_file.c - the map text parser and whole-file reading for maps.
 *
 * The parser is pure (bytes in, callbacks out) so it can be fuzzed alone;
 * it never allocates. Lines may end in LF or CRLF; NUL bytes are ordinary
 * bytes of a key (the string set compares lengths, and IP/regexp entries
 * with NULs are rejected by their builders).
 *
 * Files are read whole: maps are small next to the memory a worker has,
 * and a rebuild from a complete snapshot is what makes a failed reload
 * harmless (the old generation stays until the new one is complete).
 */
#include "scan/maps/map_internal.h"
#include "core/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A map file larger than this is refused rather than slurped. */
#define MAP_FILE_MAX ((off_t)256 << 20)

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

size_t
map_regexp_key_end(const char *line, size_t len)
{
	for (size_t q = 1; q < len; q++) {
		size_t e;

		if (line[q] == '\\') {
			q++;
			continue;
		}
		if (line[q] != '/')
			continue;
		for (e = q + 1; e < len && ((line[e] >= 'a' && line[e] <= 'z') ||
		    (line[e] >= 'A' && line[e] <= 'Z')); e++)
			;
		if (e == len || is_ws(line[e]))
			return e;
	}
	return 0;
}

/* Value after the key: up to a whitespace-preceded '#', trimmed. */
static struct str
parse_value(const char *p, size_t len)
{
	size_t i = 0, end;

	while (i < len && is_ws(p[i]))
		i++;
	if (i < len && p[i] == '#')
		return str_make(p + i, 0);
	for (end = i; end < len; end++) {
		if (p[end] == '#' && is_ws(p[end - 1]))
			break;
	}
	while (end > i && is_ws(p[end - 1]))
		end--;
	return str_make(p + i, end - i);
}

static int
emit(struct str key, struct str value, unsigned lineno, map_entry_fn *fn,
    void *ctx)
{
	return fn(ctx, key, value, lineno) < 0 ? -1 : 1;
}

static int
parse_line(const char *line, size_t len, bool regexp, unsigned lineno,
    map_entry_fn *fn, void *ctx)
{
	size_t i = 0, kend = 0;

	while (i < len && is_ws(line[i]))
		i++;
	if (i == len || line[i] == '#')
		return 0;
	line += i;
	len -= i;
	if (regexp && line[0] == '/')
		kend = map_regexp_key_end(line, len);
	if (kend == 0 && line[0] == '"' && len > 2) {
		/* "a key with spaces" value */
		const char *q = memchr(line + 1, '"', len - 1);

		if (q != NULL && q > line + 1) {
			size_t qend = (size_t)(q - line);

			return emit(str_make(line + 1, qend - 1),
			    parse_value(line + qend + 1, len - qend - 1), lineno, fn, ctx);
		}
	}
	if (kend == 0) {
		while (kend < len && !is_ws(line[kend]))
			kend++;
	}
	return emit(str_make(line, kend), parse_value(line + kend, len - kend),
	    lineno, fn, ctx);
}

int
map_parse_text(const char *text, size_t len, bool regexp, map_entry_fn *fn,
    void *ctx)
{
	size_t pos = 0;
	unsigned lineno = 0;
	int n = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		int r;

		lineno++;
		r = parse_line(text + pos, llen, regexp, lineno, fn, ctx);
		if (r < 0)
			return -1;
		n += r;
		pos += llen + 1;
	}
	return n;
}

static void
id_from_stat(const struct stat *st, struct map_file_id *id_r)
{
	id_r->exists = true;
	id_r->dev = st->st_dev;
	id_r->ino = st->st_ino;
	id_r->size = st->st_size;
	id_r->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
	    st->st_mtim.tv_nsec;
}

int
map_file_stat(const char *path, struct map_file_id *id_r)
{
	struct stat st;

	memset(id_r, 0, sizeof(*id_r));
	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	id_from_stat(&st, id_r);
	return 0;
}

bool
map_file_id_eq(const struct map_file_id *a, const struct map_file_id *b)
{
	if (a->exists != b->exists)
		return false;
	return !a->exists || (a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime_ns == b->mtime_ns);
}

static int
read_all(int fd, char *buf, size_t size, size_t *len_r)
{
	size_t got = 0;

	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*len_r = got;
	return 0;
}

int
map_file_read(const char *path, char **text_r, size_t *len_r,
    struct map_file_id *id_r)
{
	struct stat st;
	char *buf;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		saved = errno;
	else if (!S_ISREG(st.st_mode))
		saved = EINVAL;
	else if (st.st_size > MAP_FILE_MAX)
		saved = EFBIG;
	else
		saved = 0;
	if (saved != 0) {
		close(fd);
		errno = saved;
		return -1;
	}
	id_from_stat(&st, id_r);
	/* The file may grow between fstat and read: what we read is a
	 * snapshot, and the next stat sees the new size and reloads. */
	buf = xmalloc((size_t)st.st_size + 1);
	if (read_all(fd, buf, (size_t)st.st_size, len_r) < 0) {
		saved = errno;
		free(buf);
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	buf[*len_r] = '\0';
	*text_r = buf;
	return 0;
}
