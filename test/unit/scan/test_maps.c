/* Unit tests for scan/maps: the map text parser, each kind of map, and
 * reloading a file map when it changes (and keeping it when that fails). */
#include "core/obj.h"
#include "core/str.h"
#include "scan/maps/map.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct seen {
	char keys[8][64];
	char values[8][64];
	unsigned lines[8];
	int n;
};

static int
collect(void *ctx, struct str key, struct str value, unsigned line)
{
	struct seen *s = ctx;

	if (s->n < 8) {
		snprintf(s->keys[s->n], 64, "%.*s", (int)key.len, key.ptr);
		snprintf(s->values[s->n], 64, "%.*s", (int)value.len, value.ptr);
		s->lines[s->n] = line;
	}
	s->n++;
	return 0;
}

static struct map *
text_map(enum map_kind kind, unsigned flags, const char *text)
{
	char *err = NULL;
	struct map *m = map_new_from_text("t", kind, flags, text, strlen(text), &err);

	if (m == NULL) {
		fprintf(stderr, "map error: %s\n", err);
		free(err);
	}
	return m;
}

static void
test_parser(void)
{
	const char text[] = "# comment\n\n  a.example  \r\nb.example 5.0 # note\n"
	    "c#d\n\t# indented comment\n/a b/i  val ue\n/x\\/y/\n";
	struct seen s = { .n = 0 };

	test_begin("map text parser");
	test_assert(map_parse_text(text, sizeof(text) - 1, true, collect, &s) == 5);
	test_assert(strcmp(s.keys[0], "a.example") == 0 && s.values[0][0] == '\0');
	test_assert(s.lines[0] == 3);
	test_assert(strcmp(s.keys[1], "b.example") == 0);
	test_assert(strcmp(s.values[1], "5.0") == 0);
	test_assert(strcmp(s.keys[2], "c#d") == 0);
	test_assert(strcmp(s.keys[3], "/a b/i") == 0);
	test_assert(strcmp(s.values[3], "val ue") == 0);
	test_assert(strcmp(s.keys[4], "/x\\/y/") == 0);
	s.n = 0;
	/* Without the regexp form, a slash key ends at whitespace. */
	test_assert(map_parse_text("/a b/i\n", 7, false, collect, &s) == 1);
	test_assert(strcmp(s.keys[0], "/a") == 0 && strcmp(s.values[0], "b/i") == 0);
	s.n = 0;
	test_assert(map_parse_text("\"Bad Mailer 1.0\" 5\n\"\"\n", 21, false, collect, &s) == 2);
	test_assert(strcmp(s.keys[0], "Bad Mailer 1.0") == 0 && strcmp(s.values[0], "5") == 0);
	test_assert(strcmp(s.keys[1], "\"\"") == 0);
	test_assert(map_parse_text("", 0, false, collect, &s) == 0);
	test_assert(map_parse_text("x", 1, false, collect, &s) == 1);
	test_end();
}

static void
test_ip(void)
{
	struct map *m = text_map(MAP_KIND_IP, 0,
	    "192.0.2.0/24 net\n203.0.113.7 host\n10.0.0.0/8 ten\n10.1.0.0/16 ten-one\n"
	    "2001:db8::/32 v6net\n2001:db8:1::1 v6host\n::ffff:198.51.100.0/120 mapped\n");
	const char *v = NULL;

	test_begin("IP map: CIDR v4/v6 membership");
	test_assert(m != NULL && map_size(m) == 7);
	test_assert(map_lookup_cstr(m, "192.0.2.55", &v) && strcmp(v, "net") == 0);
	test_assert(!map_lookup_cstr(m, "192.0.3.1", NULL));
	test_assert(map_lookup_cstr(m, "203.0.113.7", &v) && strcmp(v, "host") == 0);
	test_assert(!map_lookup_cstr(m, "203.0.113.8", NULL));
	/* nested blocks: the most specific entry answers */
	test_assert(map_lookup_cstr(m, "10.1.2.3", &v) && strcmp(v, "ten-one") == 0);
	test_assert(map_lookup_cstr(m, "10.2.0.1", &v) && strcmp(v, "ten") == 0);
	test_assert(map_lookup_cstr(m, "10.255.255.255", &v) && strcmp(v, "ten") == 0);
	test_assert(!map_lookup_cstr(m, "11.0.0.0", NULL));
	test_assert(map_lookup_cstr(m, "2001:db8:ffff::1", &v) && strcmp(v, "v6net") == 0);
	test_assert(map_lookup_cstr(m, "2001:DB8:1::1", &v) && strcmp(v, "v6host") == 0);
	test_assert(!map_lookup_cstr(m, "2001:db9::1", NULL));
	test_end();

	test_begin("IP map: IPv4-mapped IPv6");
	test_assert(map_lookup_cstr(m, "::ffff:192.0.2.1", &v) && strcmp(v, "net") == 0);
	test_assert(map_lookup_cstr(m, "::ffff:c000:0201", NULL));
	test_assert(map_lookup_cstr(m, "198.51.100.9", &v) && strcmp(v, "mapped") == 0);
	test_assert(!map_lookup_cstr(m, "198.51.101.9", NULL));
	test_end();

	test_begin("IP map: bad keys and entries");
	test_assert(!map_lookup_cstr(m, "192.0.2.0/24", NULL)); /* a key is one address */
	test_assert(!map_lookup_cstr(m, "not-an-ip", NULL));
	test_assert(!map_lookup_cstr(m, "", NULL));
	test_assert(!map_lookup(m, "192.0.2.1\0x", 11, NULL));
	map_free(&m);
	{
		char *err = NULL;

		m = map_new_from_text("bad", MAP_KIND_IP, 0, "192.0.2.0/33\n", 13, &err);
		test_assert(m == NULL && err != NULL && strstr(err, "192.0.2.0/33") != NULL);
		free(err);
		err = NULL;
		m = map_new_from_text("bad", MAP_KIND_IP, 0, "1.2.3\n", 6, &err);
		test_assert(m == NULL && err != NULL);
		free(err);
	}
	m = text_map(MAP_KIND_IP, 0, "0.0.0.0/0\n");
	test_assert(m != NULL && map_lookup_cstr(m, "8.8.8.8", NULL));
	test_assert(!map_lookup_cstr(m, "2001:db8::1", NULL));
	map_free(&m);
	m = text_map(MAP_KIND_IP, 0, "::/0\n");
	test_assert(m != NULL && map_lookup_cstr(m, "8.8.8.8", NULL));
	test_assert(map_lookup_cstr(m, "2001:db8::1", NULL));
	map_free(&m);
	test_end();
}

static void
test_ip_many(void)
{
	char *text = malloc(100000 * 24);
	size_t len = 0;
	struct map *m;
	clock_t t0;
	unsigned hits = 0;

	test_begin("IP map: 100k entries");
	for (unsigned i = 0; i < 100000; i++)
		len += (size_t)snprintf(text + len, 24, "10.%u.%u.%u/%u\n", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255, i % 3 == 0 ? 32 : 31);
	t0 = clock();
	m = map_new_from_text("big", MAP_KIND_IP, 0, text, len, &(char *){ NULL });
	test_assert(m != NULL);
	for (unsigned i = 0; m != NULL && i < 100000; i++) {
		char ip[24];

		snprintf(ip, sizeof(ip), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		hits += map_lookup_cstr(m, ip, NULL);
	}
	test_assert(hits == 100000);
	test_assert(m != NULL && !map_lookup_cstr(m, "10.200.0.1", NULL));
	printf("100k CIDR entries: load + 100k lookups in %.0f ms\n",
	    (double)(clock() - t0) * 1000 / CLOCKS_PER_SEC);
	test_assert((double)(clock() - t0) / CLOCKS_PER_SEC < 5);
	map_free(&m);
	free(text);
	test_end();
}

static void
test_strings(void)
{
	struct map *m = text_map(MAP_KIND_STRING, 0,
	    "Example.COM\nuser@Example.org mail\nexample.com dup\n");
	const char *v = NULL;

	test_begin("string map: case-insensitive hash set");
	test_assert(m != NULL && map_size(m) == 2);
	test_assert(map_lookup_cstr(m, "example.com", &v) && v[0] == '\0');
	test_assert(map_lookup_cstr(m, "EXAMPLE.com", NULL));
	test_assert(map_lookup_cstr(m, "USER@example.ORG", &v) && strcmp(v, "mail") == 0);
	test_assert(!map_lookup_cstr(m, "www.example.com", NULL));
	test_assert(!map_lookup_cstr(m, "example.co", NULL));
	test_assert(!map_lookup_cstr(m, "", NULL));
	map_free(&m);
	m = text_map(MAP_KIND_STRING, MAP_FLAG_CASE, "Foo\n");
	test_assert(m != NULL && map_lookup_cstr(m, "Foo", NULL));
	test_assert(!map_lookup_cstr(m, "foo", NULL));
	map_free(&m);
	test_end();

	test_begin("string map: 100k entries");
	{
		char *text = malloc(100000 * 24);
		size_t len = 0;
		unsigned hits = 0;

		for (unsigned i = 0; i < 100000; i++)
			len += (size_t)snprintf(text + len, 24, "host%u.example\n", i);
		m = map_new_from_text("big", MAP_KIND_STRING, 0, text, len, &(char *){ NULL });
		test_assert(m != NULL && map_size(m) == 100000);
		for (unsigned i = 0; m != NULL && i < 100000; i += 7) {
			char k[24];

			snprintf(k, sizeof(k), "HOST%u.example", i);
			hits += map_lookup_cstr(m, k, NULL);
		}
		test_assert(hits == (100000 + 6) / 7);
		map_free(&m);
		free(text);
	}
	test_end();
}

static void
test_patterns(void)
{
	struct map *m = text_map(MAP_KIND_REGEXP, 0,
	    "/^spam[0-9]+\\.example$/i first\n^exact$ second\n/a b/ spaced\n");
	const char *v = NULL;
	char *err = NULL;

	test_begin("regexp map");
	test_assert(m != NULL && map_size(m) == 3);
	test_assert(map_lookup_cstr(m, "SPAM42.example", &v) && strcmp(v, "first") == 0);
	test_assert(!map_lookup_cstr(m, "spam.example", NULL));
	test_assert(map_lookup_cstr(m, "exact", &v) && strcmp(v, "second") == 0);
	test_assert(!map_lookup_cstr(m, "EXACT", NULL)); /* bare: no flags */
	test_assert(map_lookup_cstr(m, "xa by", &v) && strcmp(v, "spaced") == 0);
	map_free(&m);
	m = map_new_from_text("bad", MAP_KIND_REGEXP, 0, "/(/\n", 4, &err);
	test_assert(m == NULL && err != NULL);
	free(err);
	err = NULL;
	m = map_new_from_text("bad", MAP_KIND_REGEXP, 0, "/a/q\n", 5, &err);
	test_assert(m == NULL && err != NULL);
	free(err);
	test_end();

	test_begin("glob map");
	m = text_map(MAP_KIND_GLOB, 0, "*.spam.example g1\nmailer-?? g2\n");
	test_assert(m != NULL);
	test_assert(map_lookup_cstr(m, "a.b.SPAM.example", &v) && strcmp(v, "g1") == 0);
	test_assert(!map_lookup_cstr(m, "spam.example", NULL));
	test_assert(map_lookup_cstr(m, "mailer-42", &v) && strcmp(v, "g2") == 0);
	test_assert(!map_lookup_cstr(m, "mailer-420", NULL));
	map_free(&m);
	test_end();
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static void
test_sources(const char *dir)
{
	char path[512], missing[512], *err = NULL;
	struct obj *src = obj_new_array();
	struct map *m;

	test_begin("sources: inline, file, file://, missing file, http refused");
	snprintf(path, sizeof(path), "%s/a.map", dir);
	snprintf(missing, sizeof(missing), "file://%s/missing.map", dir);
	write_file(path, "# list\nfile.example\n");
	obj_array_append(src, obj_new_string("inline.example"));
	obj_array_append(src, obj_new_string("  with space "));
	obj_array_append(src, obj_new_string(path));
	obj_array_append(src, obj_new_string(missing));
	m = map_new("src", MAP_KIND_STRING, 0, src, 0, &err);
	test_assert(m != NULL && map_size(m) == 3);
	test_assert(m != NULL && map_lookup_cstr(m, "inline.example", NULL));
	test_assert(m != NULL && map_lookup_cstr(m, "With Space", NULL));
	test_assert(m != NULL && map_lookup_cstr(m, "file.example", NULL));
	/* the missing file appears: picked up on the next lookup */
	snprintf(missing, sizeof(missing), "%s/missing.map", dir);
	write_file(missing, "late.example\n");
	test_assert(m != NULL && map_lookup_cstr(m, "late.example", NULL));
	map_free(&m);
	obj_free(&src);
	src = obj_new_string("https://maps.example/list.map");
	m = map_new("http", MAP_KIND_STRING, 0, src, 0, &err);
	test_assert(m == NULL && err != NULL && strstr(err, "not supported yet") != NULL);
	free(err);
	obj_free(&src);
	/* regexp maps: "/re/i" is a pattern, not a path */
	src = obj_new_string("/vi?agra/i");
	m = map_new("re", MAP_KIND_REGEXP, 0, src, 0, &err);
	test_assert(m != NULL && map_lookup_cstr(m, "cheap VAGRA", NULL));
	map_free(&m);
	obj_free(&src);
	unlink(path);
	unlink(missing);
	test_end();
}

static void
test_reload(const char *dir)
{
	char path[512], tmp[512], *err = NULL;
	struct obj *src;
	struct map *m;

	test_begin("reload on change; a failed reload keeps the old content");
	snprintf(path, sizeof(path), "%s/r.map", dir);
	snprintf(tmp, sizeof(tmp), "%s/r.map.tmp", dir);
	write_file(path, "192.0.2.1\n");
	src = obj_new_string(path);
	m = map_new("reload", MAP_KIND_IP, 0, src, 0, &err);
	test_assert(m != NULL && map_lookup_cstr(m, "192.0.2.1", NULL));
	/* in place rewrite (size changes) */
	write_file(path, "192.0.2.2\n2001:db8::/48\n");
	test_assert(map_lookup_cstr(m, "192.0.2.2", NULL));
	test_assert(!map_lookup_cstr(m, "192.0.2.1", NULL));
	test_assert(map_lookup_cstr(m, "2001:db8:0:1::5", NULL));
	/* atomic replace by rename (same size, new inode) */
	write_file(tmp, "192.0.2.3\n2001:db8::/48\n");
	test_assert(rename(tmp, path) == 0);
	test_assert(map_lookup_cstr(m, "192.0.2.3", NULL));
	test_assert(!map_lookup_cstr(m, "192.0.2.2", NULL));
	/* the file becomes unreadable (a directory): old content stays */
	unlink(path);
	test_assert(mkdir(path, 0700) == 0);
	test_assert(map_refresh(m) == -1);
	test_assert(map_lookup_cstr(m, "192.0.2.3", NULL));
	test_assert(map_refresh(m) == -1); /* retried, logged once */
	rmdir(path);
	write_file(path, "192.0.2.4\n");
	test_assert(map_refresh(m) == 1);
	test_assert(map_lookup_cstr(m, "192.0.2.4", NULL));
	test_assert(!map_lookup_cstr(m, "192.0.2.3", NULL));
	test_assert(map_refresh(m) == 0);
	/* removed: counts as empty */
	unlink(path);
	test_assert(map_refresh(m) == 1 && map_size(m) == 0);
	test_assert(!map_lookup_cstr(m, "192.0.2.4", NULL));
	map_free(&m);
	obj_free(&src);
	test_end();

	test_begin("reload waits for the watch interval");
	write_file(path, "a.example\n");
	src = obj_new_string(path);
	m = map_new("slow", MAP_KIND_STRING, 0, src, 3600, &err);
	write_file(path, "b.example\nc.example\n");
	test_assert(m != NULL && map_lookup_cstr(m, "a.example", NULL));
	test_assert(!map_lookup_cstr(m, "b.example", NULL));
	test_assert(map_refresh(m) == 1 && map_lookup_cstr(m, "b.example", NULL));
	map_free(&m);
	obj_free(&src);
	unlink(path);
	test_end();
}

int
main(void)
{
	char dir[] = "/tmp/test_maps.XXXXXX";

	if (mkdtemp(dir) == NULL)
		return 1;
	test_parser();
	test_ip();
	test_ip_many();
	test_strings();
	test_patterns();
	test_sources(dir);
	test_reload(dir);
	rmdir(dir);
	return test_exit();
}
