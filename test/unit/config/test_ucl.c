/*
 * Unit tests for the UCL parser: syntax forms, values and suffixes,
 * implicit arrays, named sections, variables, JSON, errors with lines,
 * limits, and the include/merge semantics of spec/config.md section 2.
 */
#include "config/ucl_parser.h"
#include "core/buf.h"
#include "core/obj.h"
#include "test.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static struct obj *
parse(const char *s, char **err)
{
	return ucl_parse_string(s, strlen(s), NULL, NULL, 0, 0, err);
}

/* Compact JSON of a path in the tree (or of the tree), for comparisons. */
static char *
json_at(const struct obj *root, const char *path)
{
	const struct obj *o = path != NULL ? obj_lookup_path(root, path) : root;
	struct buf b;

	if (o == NULL)
		return strdup("(absent)");
	buf_init(&b, 0);
	(void)obj_emit_json(o, &b, false);
	return buf_steal(&b, NULL);
}

static bool
json_is(const struct obj *root, const char *path, const char *expect)
{
	char *j = json_at(root, path);
	bool ok = strcmp(j, expect) == 0;

	if (!ok)
		fprintf(stderr, "  %s: got %s, expected %s\n", path, j, expect);
	free(j);
	return ok;
}

static void
write_file(const char *rel, const char *content)
{
	char path[512];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	for (char *s = strchr(path + strlen(tmpdir) + 1, '/'); s != NULL;
	    s = strchr(s + 1, '/')) {
		*s = '\0';
		(void)mkdir(path, 0700);
		*s = '/';
	}
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(content, f);
	fclose(f);
}

static struct obj *
parse_tmp(const char *rel, char **err)
{
	char path[512];

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return ucl_parse_file(path, NULL, 0, err);
}

static void
test_syntax_forms(void)
{
	char *err = NULL;
	struct obj *o;

	test_begin("ucl key/value forms, terminators, strings");
	o = parse("a = 1; b: 2\nc 3, d = \"x\\ty\\u00e9\"\n"
	    "e = 'it\\'s \\n raw'; f = bare word here\n"
	    "g = [1, \"two\", 3,]; h { i = yes; j = off; k = null }\n"
	    "\"quoted key\" = TRUE; url = http://x/y#frag\n", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "a", "1"));
	test_assert(json_is(o, "b", "2"));
	test_assert(json_is(o, "c", "3"));
	test_assert(json_is(o, "d", "\"x\\ty\xc3\xa9\""));
	test_assert(json_is(o, "e", "\"it's \\\\n raw\""));
	test_assert(json_is(o, "f", "\"bare word here\""));
	test_assert(json_is(o, "g", "[1,\"two\",3]"));
	test_assert(json_is(o, "h", "{\"i\":true,\"j\":false,\"k\":null}"));
	test_assert(json_is(o, "quoted key", "true"));
	test_assert(json_is(o, "url", "\"http://x/y#frag\""));
	obj_free(&o);
	test_end();

	test_begin("ucl braced top level and JSON documents");
	o = parse("{ \"a\": {\"b\": [1, 2.5, -3e2, true, null]}, \"s\": \"\\ud83d\\ude00\\/\" }", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, NULL, "{\"a\":{\"b\":[1,2.500000,-300.0,true,null]},\"s\":\"\xf0\x9f\x98\x80/\"}"));
	obj_free(&o);
	o = ucl_parse_json("[1, {\"k\": \"v\", \"k\": \"w\"}]", 25, &err);
	test_assert(o != NULL && o->type == OBJ_ARRAY);
	test_assert(json_is(o, NULL, "[1,{\"k\":\"w\"}]"));
	obj_free(&o);
	o = ucl_parse_json("\"$CONFDIR\"", 10, &err);
	test_assert(o != NULL && strcmp(obj_get_string(o), "$CONFDIR") == 0);
	obj_free(&o);
	o = ucl_parse_json("{\"a\":1} x", 9, &err);
	test_assert(o == NULL && err != NULL);
	free(err);
	o = ucl_parse_json("", 0, &err);
	test_assert(o == NULL);
	free(err);
	test_end();
}

static void
test_numbers(void)
{
	char *err = NULL;
	struct obj *o;

	test_begin("ucl numbers and suffixes");
	o = parse("a = 10k; b = 1kb; c = 2mb; d = 1m; e = 1g; f = 1gb;\n"
	    "t1 = 5s; t2 = 5min; t3 = 100ms; t4 = 1h; t5 = 1d; t6 = 1w; t7 = 1y;\n"
	    "h = 0x1F; n = -7; x = 1.5; y = 1.2.3.4; z = 10.0.0.1; w = 1.5k;"
	    "v = 11333; u = 5M; ip6 = ::1", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "a", "10000"));
	test_assert(json_is(o, "b", "1024"));
	test_assert(json_is(o, "c", "2097152"));
	test_assert(json_is(o, "d", "1000000"));
	test_assert(json_is(o, "e", "1000000000"));
	test_assert(json_is(o, "f", "1073741824"));
	test_assert(json_is(o, "t1", "5.0"));
	test_assert(json_is(o, "t2", "300.0"));
	test_assert(json_is(o, "t3", "0.100000"));
	test_assert(json_is(o, "t4", "3600.0"));
	test_assert(json_is(o, "t5", "86400.0"));
	test_assert(json_is(o, "t6", "604800.0"));
	test_assert(json_is(o, "t7", "31536000.0"));
	test_assert(json_is(o, "h", "31"));
	test_assert(json_is(o, "n", "-7"));
	test_assert(json_is(o, "x", "1.500000"));
	test_assert(json_is(o, "y", "\"1.2.3.4\""));
	test_assert(json_is(o, "z", "\"10.0.0.1\""));
	test_assert(json_is(o, "w", "1500.0"));
	test_assert(json_is(o, "v", "11333"));
	test_assert(json_is(o, "u", "5000000"));
	test_assert(json_is(o, "ip6", "\"::1\""));
	obj_free(&o);
	test_end();
}

static void
test_structure(void)
{
	char *err = NULL;
	struct obj *o;
	const struct obj *s;

	test_begin("ucl named sections coexist");
	o = parse("worker \"normal\" { count = 2; }\n"
	    "worker \"controller\" { count = 1; }\n"
	    "worker rspamd_proxy { milter = yes }\n"
	    "a \"b\" \"c\" { d = 1 }\n", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "worker.normal.count", "2"));
	test_assert(json_is(o, "worker.controller.count", "1"));
	test_assert(json_is(o, "worker.rspamd_proxy.milter", "true"));
	test_assert(obj_count(obj_lookup(o, "worker")) == 3);
	test_assert(json_is(o, "a.b.c.d", "1"));
	obj_free(&o);
	/* "worker { normal { } }" is the same tree */
	o = parse("worker { normal { count = 2; } }", &err);
	test_assert(o != NULL && json_is(o, "worker.normal.count", "2"));
	obj_free(&o);
	test_end();

	test_begin("ucl repeated key gives an implicit array");
	o = parse("secure_ip = \"127.0.0.1\";\nsecure_ip = \"::1\";\nsecure_ip = x\n"
	    "one = [1]; rule { a = 1 } rule { a = 2 }", &err);
	test_assert(o != NULL);
	s = obj_lookup(o, "secure_ip");
	test_assert(s != NULL && s->type == OBJ_ARRAY && s->implicit);
	test_assert(json_is(o, "secure_ip", "[\"127.0.0.1\",\"::1\",\"x\"]"));
	test_assert(s->line == 1);
	test_assert(!obj_lookup(o, "one")->implicit);
	test_assert(json_is(o, "rule", "[{\"a\":1},{\"a\":2}]"));
	/* member order is kept */
	test_assert(strcmp(obj_first(o)->key, "secure_ip") == 0);
	obj_free(&o);
	test_end();

	test_begin("ucl heredoc and comments");
	o = parse("# hash comment\n// slash comment\n/* block /* nested */ still */\n"
	    "a = <<EOD\nline one\n  line \"two\"\nEOD\nb = 2 # trailing\n"
	    "c = <<EMPTY\nEMPTY;\nd = 1 /* inline */ ;", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "a", "\"line one\\n  line \\\"two\\\"\""));
	test_assert(json_is(o, "b", "2"));
	test_assert(json_is(o, "c", "\"\""));
	test_assert(json_is(o, "d", "1"));
	obj_free(&o);
	test_end();
}

static void
test_variables(void)
{
	struct ucl_vars vars = { 0 };
	const char *src = "a = \"$CONFDIR/x\"; b = ${CONFDIR}/y; c = '$CONFDIR';"
	    "d = \"$domain.$selector\"; e = \"$$CONFDIR\"; f = \"${DBDIR}z\"";
	char *err = NULL;
	struct obj *o;

	test_begin("ucl variables");
	ucl_vars_set(&vars, "CONFDIR", "/etc/r");
	ucl_vars_set(&vars, "DBDIR", "/var/db");
	ucl_vars_set(&vars, "CONFDIR", "/etc/rspamd");
	o = ucl_parse_string(src, strlen(src), NULL, &vars, 0, 0, &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "a", "\"/etc/rspamd/x\""));
	test_assert(json_is(o, "b", "\"/etc/rspamd/y\""));
	test_assert(json_is(o, "c", "\"$CONFDIR\""));
	test_assert(json_is(o, "d", "\"$domain.$selector\""));
	test_assert(json_is(o, "e", "\"$CONFDIR\""));
	test_assert(json_is(o, "f", "\"/var/dbz\""));
	obj_free(&o);
	ucl_vars_free(&vars);
	test_end();
}

static bool
error_is(const char *src, const char *expect)
{
	char *err = NULL;
	struct obj *o = parse(src, &err);
	bool ok = o == NULL && err != NULL && strstr(err, expect) != NULL;

	if (!ok)
		fprintf(stderr, "  error for %s: %s (expected %s)\n", src,
		    err != NULL ? err : "(none)", expect);
	obj_free(&o);
	free(err);
	return ok;
}

static void
test_errors(void)
{
	char deep[600];
	size_t i;

	test_begin("ucl errors carry file:line");
	test_assert(error_is("a = 1;\nb = {\n", "<string>:3: unexpected end of input"));
	test_assert(error_is("a = 1;\n\nb = \"open\n", "<string>:3: unterminated string"));
	test_assert(error_is("a = ;", "<string>:1: unexpected ';'"));
	test_assert(error_is("a = 1 }", "<string>:1: unexpected '}'"));
	test_assert(error_is("/* open", "unterminated comment"));
	test_assert(error_is("a = <<EOD\nx\n", "unterminated heredoc"));
	test_assert(error_is(".unknown \"x\"", "unknown macro"));
	test_assert(error_is("[1", "unexpected '['") || error_is("[1", "where a key"));
	test_end();

	test_begin("ucl nesting limit");
	for (i = 0; i < 300; i++)
		deep[i] = '[';
	deep[i] = '\0';
	{
		char src[700];

		(void)snprintf(src, sizeof(src), "a = %s", deep);
		test_assert(error_is(src, "nesting deeper than"));
	}
	test_end();
}

static void
test_no_files_flag(void)
{
	const char *src = ".include \"/etc/hostname\"";
	char *err = NULL;
	struct obj *o;

	test_begin("ucl UCL_FLAG_NO_FILES refuses includes");
	o = ucl_parse_string(src, strlen(src), NULL, NULL, 0, UCL_FLAG_NO_FILES, &err);
	test_assert(o == NULL && err != NULL && strstr(err, "disabled") != NULL);
	free(err);
	test_end();
}

/* Every prefix of a valid input must parse or fail cleanly. */
static void
test_prefixes(void)
{
	const char *src = "a = 1;\nworker \"normal\" { bind_socket = \"x:1\"; n = [1, {b = 2},]; }\n"
	    "h = <<EOD\nt\nEOD\ns = 'q\\'' /* c /* d */ */ # e\nv = \"\\u00e9\\ud83d\\ude00\"";
	size_t len = strlen(src), bad = 0;
	char *err;

	test_begin("ucl every prefix parses or fails cleanly");
	for (size_t n = 0; n <= len; n++) {
		char *copy = malloc(n + 1);
		struct obj *o;

		memcpy(copy, src, n);
		o = ucl_parse_string(copy, n, NULL, NULL, 0, UCL_FLAG_NO_FILES, &err);
		if (o == NULL && err == NULL)
			bad++;
		if (o == NULL)
			free(err);
		obj_free(&o);
		free(copy);
	}
	test_assert(bad == 0);
	test_end();
}

static void
test_emit_roundtrip(void)
{
	const char *src = "a = 1; b = \"two\\n\"; c = [1, [2, 3], {d = 4}];"
	    "sec { x = 1.5; ip = \"a\"; ip = \"b\"; \"odd key\" = null; e {} }";
	struct obj *o, *o2;
	char *err = NULL, *j1, *j2;
	struct buf out;

	test_begin("ucl emit then parse gives the same tree");
	o = parse(src, &err);
	test_assert(o != NULL);
	buf_init(&out, 0);
	test_assert(ucl_emit_config(o, &out) == 0);
	o2 = ucl_parse_string(out.data, out.len, NULL, NULL, 0, 0, &err);
	test_assert(o2 != NULL);
	j1 = json_at(o, NULL);
	j2 = o2 != NULL ? json_at(o2, NULL) : strdup("");
	test_assert(strcmp(j1, j2) == 0);
	test_assert(obj_lookup_path(o2, "sec.ip") != NULL &&
	    obj_lookup_path(o2, "sec.ip")->implicit);
	free(j1);
	free(j2);
	buf_deinit(&out);
	obj_free(&o);
	obj_free(&o2);
	test_end();
}

static const char *stock =
    "sec {\n"
    "  a = 1;\n"
    "  keep = \"k\";\n"
    "  list = \"x\";\n"
    "  list = \"y\";\n"
    "  arr = [1, 2];\n"
    "  dns { timeout = 1; sockets = 16; retransmits = 5; }\n"
    "  .include(try=true; priority=1; duplicate=merge) \"local.d/sec.conf\"\n"
    "  .include(try=true; priority=10) \"override.d/sec.conf\"\n"
    "}\n";

static const char *stock_reversed =
    "sec {\n"
    "  .include(try=true; priority=10) \"override.d/sec.conf\"\n"
    "  .include(try=true; priority=1; duplicate=merge) \"local.d/sec.conf\"\n"
    "  a = 1;\n"
    "  keep = \"k\";\n"
    "  list = \"x\";\n"
    "  list = \"y\";\n"
    "  arr = [1, 2];\n"
    "  dns { timeout = 1; sockets = 16; retransmits = 5; }\n"
    "}\n";

static void
reset_dirs(void)
{
	char path[512];

	(void)snprintf(path, sizeof(path), "%s/local.d/sec.conf", tmpdir);
	(void)unlink(path);
	(void)snprintf(path, sizeof(path), "%s/override.d/sec.conf", tmpdir);
	(void)unlink(path);
}

static void
test_merge_table(void)
{
	char *err = NULL;
	struct obj *o;

	test_begin("merge: no local files keeps stock values");
	reset_dirs();
	write_file("stock.conf", stock);
	o = parse_tmp("stock.conf", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "sec.list", "[\"x\",\"y\"]"));
	test_assert(json_is(o, "sec.dns", "{\"timeout\":1,\"sockets\":16,\"retransmits\":5}"));
	obj_free(&o);
	test_end();

	test_begin("merge: local.d replaces scalars and lists, deep-merges objects");
	write_file("local.d/sec.conf", "a = 2;\nlist = \"z\";\narr = [3];\n"
	    "dns { timeout = 2; }\nnew = 1;\n");
	o = parse_tmp("stock.conf", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "sec.a", "2"));
	test_assert(json_is(o, "sec.keep", "\"k\""));
	test_assert(json_is(o, "sec.list", "\"z\""));
	test_assert(json_is(o, "sec.arr", "[3]"));
	test_assert(json_is(o, "sec.dns", "{\"timeout\":2,\"sockets\":16,\"retransmits\":5}"));
	test_assert(json_is(o, "sec.new", "1"));
	test_assert(obj_lookup_path(o, "sec.a")->priority == 1);
	test_assert(strstr(obj_lookup_path(o, "sec.a")->file, "local.d/sec.conf") != NULL);
	obj_free(&o);
	test_end();

	test_begin("merge: repeated key inside local.d forms a new list");
	write_file("local.d/sec.conf", "list = \"p\";\nlist = \"q\";\n");
	o = parse_tmp("stock.conf", &err);
	test_assert(o != NULL && json_is(o, "sec.list", "[\"p\",\"q\"]"));
	obj_free(&o);
	test_end();

	test_begin("merge: override.d replaces a mentioned object wholesale");
	reset_dirs();
	write_file("override.d/sec.conf", "dns { timeout = 3; }\na = 9;\n");
	o = parse_tmp("stock.conf", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "sec.dns", "{\"timeout\":3}"));
	test_assert(json_is(o, "sec.a", "9"));
	test_assert(json_is(o, "sec.keep", "\"k\""));
	obj_free(&o);
	test_end();

	test_begin("merge: override.d beats local.d in either include order");
	write_file("local.d/sec.conf", "dns { timeout = 2; sockets = 4; }\na = 2;\nkeep = \"l\";\n");
	write_file("override.d/sec.conf", "dns { timeout = 3; }\na = 9;\n");
	o = parse_tmp("stock.conf", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "sec.dns", "{\"timeout\":3}"));
	test_assert(json_is(o, "sec.a", "9"));
	test_assert(json_is(o, "sec.keep", "\"l\""));
	obj_free(&o);
	write_file("reversed.conf", stock_reversed);
	o = parse_tmp("reversed.conf", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "sec.dns", "{\"timeout\":3}"));
	test_assert(json_is(o, "sec.a", "9"));
	test_assert(json_is(o, "sec.keep", "\"l\""));
	test_assert(json_is(o, "sec.list", "[\"x\",\"y\"]"));
	obj_free(&o);
	test_end();

	test_begin("merge: a lower priority never replaces a higher one");
	reset_dirs();
	write_file("prio.conf", ".priority 5\na = 5;\nobj { x = 1 }\n.priority 0\na = 0;\n"
	    "obj { y = 2 }\n.include(priority=2; duplicate=rewrite) \"prio2.conf\"\n"
	    ".include(priority=5; duplicate=merge) \"prio5.conf\"\n");
	write_file("prio2.conf", "a = 2;\nobj { z = 3 }\n");
	write_file("prio5.conf", "obj { w = 4 }\n");
	o = parse_tmp("prio.conf", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "a", "5"));
	test_assert(json_is(o, "obj", "{\"x\":1,\"w\":4}"));
	obj_free(&o);
	test_end();

	test_begin("merge: duplicate=error and rewrite");
	write_file("dup.conf", "a = 1;\n.include(duplicate=error) \"dup2.conf\"\n");
	write_file("dup2.conf", "b = 1;\n\na = 2;\n");
	o = parse_tmp("dup.conf", &err);
	test_assert(o == NULL && err != NULL && strstr(err, "dup2.conf:3: duplicate key 'a'") != NULL);
	free(err);
	write_file("dup.conf", "a = 1;\n.include(duplicate=rewrite) \"dup2.conf\"\n");
	o = parse_tmp("dup.conf", &err);
	test_assert(o != NULL && json_is(o, "a", "2"));
	obj_free(&o);
	test_end();
}

static void
test_includes(void)
{
	char *err = NULL;
	char path[512];
	struct obj *o;

	test_begin("include: relative, try=true on a missing file, inside a section");
	write_file("inc/main.conf", "top = 1;\nsec {\n  .include \"part.inc\"\n"
	    "  .include(try=true) \"missing.inc\"\n  own = 2;\n}\n");
	write_file("inc/part.inc", "from_part = yes;\n");
	o = parse_tmp("inc/main.conf", &err);
	test_assert(o != NULL);
	test_assert(json_is(o, "sec", "{\"from_part\":true,\"own\":2}"));
	obj_free(&o);
	test_end();

	test_begin("include: a missing file without try is an error at the macro's line");
	write_file("inc/bad.conf", "a = 1;\n\n.include \"nothere.inc\"\n");
	o = parse_tmp("inc/bad.conf", &err);
	test_assert(o == NULL && err != NULL);
	test_assert(err != NULL && strstr(err, "inc/bad.conf:3: cannot open") != NULL);
	free(err);
	test_end();

	test_begin("include: variables in paths, .includes and .try_include");
	{
		struct ucl_vars vars = { 0 };

		(void)snprintf(path, sizeof(path), "%s/inc", tmpdir);
		ucl_vars_set(&vars, "CONFDIR", path);
		write_file("inc/vars.conf", ".include \"$CONFDIR/part.inc\"\n"
		    ".try_include \"${CONFDIR}/none.inc\"\n.includes \"part2.inc\"\n");
		write_file("inc/part2.inc", "two = 2\n");
		(void)snprintf(path, sizeof(path), "%s/inc/vars.conf", tmpdir);
		o = ucl_parse_file(path, &vars, 0, &err);
		test_assert(o != NULL && json_is(o, NULL, "{\"from_part\":true,\"two\":2}"));
		obj_free(&o);
		ucl_vars_free(&vars);
	}
	test_end();

	test_begin("include: loops are detected");
	write_file("loop/a.conf", "a = 1;\n.include \"b.conf\"\n");
	write_file("loop/b.conf", "b = 1;\n.include \"a.conf\"\n");
	o = parse_tmp("loop/a.conf", &err);
	test_assert(o == NULL && err != NULL && strstr(err, "loop") != NULL);
	test_assert(err != NULL && strstr(err, "b.conf:2:") != NULL);
	free(err);
	write_file("loop/self.conf", ".include(try=true) \"self.conf\"\n");
	o = parse_tmp("loop/self.conf", &err);
	test_assert(o == NULL && err != NULL && strstr(err, "loop") != NULL);
	free(err);
	test_end();

	test_begin("include: depth limit");
	for (int i = 0; i < 20; i++) {
		char name[64], body[128];

		(void)snprintf(name, sizeof(name), "deep/%d.conf", i);
		(void)snprintf(body, sizeof(body), "k%d = %d;\n.include \"%d.conf\"\n",
		    i, i, i + 1);
		write_file(name, body);
	}
	write_file("deep/20.conf", "end = 1;\n");
	o = parse_tmp("deep/0.conf", &err);
	test_assert(o == NULL && err != NULL && strstr(err, "nested deeper") != NULL);
	free(err);
	test_end();

	test_begin("include: glob in sorted order, no match with try is fine");
	write_file("glob/main.conf", "l {\n.include \"d/*.conf\"\n}\n"
	    ".include(try=true) \"none/*.conf\"\n");
	write_file("glob/d/20-b.conf", "v = b;\n");
	write_file("glob/d/10-a.conf", "v = a;\n");
	write_file("glob/d/skip.txt", "v = c;\n");
	o = parse_tmp("glob/main.conf", &err);
	test_assert(o != NULL && json_is(o, "l.v", "[\"a\",\"b\"]"));
	obj_free(&o);
	write_file("glob/bad.conf", ".include \"none/*.conf\"\n");
	o = parse_tmp("glob/bad.conf", &err);
	test_assert(o == NULL && err != NULL && strstr(err, "no files match") != NULL);
	free(err);
	test_end();

	test_begin("include: syntax error names the included file and line");
	write_file("se/main.conf", "s {\n  .include \"l.conf\"\n}\n");
	write_file("se/l.conf", "ok = 1;\n\nbroken = ;\nlater = 1;\n");
	o = parse_tmp("se/main.conf", &err);
	test_assert(o == NULL && err != NULL && strstr(err, "se/l.conf:3:") != NULL);
	free(err);
	test_end();
}

int
main(void)
{
	char cmd[128];

	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ucl.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	test_syntax_forms();
	test_numbers();
	test_structure();
	test_variables();
	test_errors();
	test_no_files_flag();
	test_prefixes();
	test_emit_roundtrip();
	test_merge_table();
	test_includes();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return test_exit();
}
