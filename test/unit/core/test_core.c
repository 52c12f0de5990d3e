/* Unit tests for core: pool, str, buf, obj and its JSON emitter. */
#include "core/buf.h"
#include "core/obj.h"
#include "core/pool.h"
#include "core/str.h"
#include "test.h"

#include <math.h>
#include <string.h>

static void
test_pool(void)
{
	struct pool *p = pool_new(0);
	char *s;

	test_begin("pool alloc, strdup, printf");
	s = pool_strdup(p, "hello");
	test_assert(strcmp(s, "hello") == 0);
	s = pool_printf(p, "%d-%s", 42, "x");
	test_assert(strcmp(s, "42-x") == 0);
	test_assert(pool_alloc(p, 100000) != NULL);
	test_assert(((char *)pool_alloc(p, 64))[63] == 0);
	pool_free(&p);
	test_assert(p == NULL);
	test_end();

	test_begin("pool cap");
	p = pool_new(1000);
	test_assert(pool_alloc(p, 500) != NULL);
	test_assert(pool_alloc(p, 600) == NULL);
	test_assert(pool_exhausted(p));
	test_assert(pool_calloc(p, SIZE_MAX / 2, 4) == NULL);
	pool_free(&p);
	test_end();
}

static int destructor_calls;
static void
count_destructor(void *arg)
{
	destructor_calls += *(int *)arg;
}

static void
test_pool_destructors(void)
{
	struct pool *p = pool_new(0);
	int one = 1;

	test_begin("pool destructors");
	pool_add_destructor(p, count_destructor, &one);
	pool_add_destructor(p, count_destructor, &one);
	pool_free(&p);
	test_assert(destructor_calls == 2);
	test_end();
}

static void
test_str(void)
{
	uint64_t v;
	char small[4];

	test_begin("str helpers");
	test_assert(str_case_eq_cstr(STR_LIT("Content-Type"), "content-type"));
	test_assert(!str_eq_cstr(STR_LIT("abc"), "abcd"));
	test_assert(str_eq_cstr(str_trim(STR_LIT("  x y \r\n")), "x y"));
	test_assert(str_find_case(STR_LIT("Hello World"), STR_LIT("WORLD")) == 6);
	test_assert(str_to_u64(STR_LIT("12345"), &v) == 0 && v == 12345);
	test_assert(str_to_u64(STR_LIT("99999999999999999999"), &v) < 0);
	test_assert(str_to_u64(STR_LIT("12a"), &v) < 0);
	test_assert(str_lcpy(small, "abcdef", sizeof(small)) >= sizeof(small));
	test_assert(strcmp(small, "abc") == 0);
	test_assert(str_format(small, sizeof(small), "%s", "toolong") < 0);
	test_end();
}

static void
test_buf(void)
{
	struct buf b;

	test_begin("buf limits");
	buf_init(&b, 10);
	test_assert(buf_append_cstr(&b, "12345") == 0);
	test_assert(buf_append_cstr(&b, "123456") < 0);
	test_assert(b.len == 5);
	test_assert(buf_printf(&b, "%d", 12345) == 0 && b.len == 10);
	buf_consume(&b, 3);
	test_assert(strcmp(b.data, "4512345") == 0);
	buf_deinit(&b);
	test_end();
}

static void
test_json(void)
{
	struct obj *o = obj_new_object(), *a = obj_new_array();
	struct buf b;

	test_begin("json emit rspamd number format");
	obj_object_set(o, "score", obj_new_float(15.0));
	obj_object_set(o, "x", obj_new_float(2.5));
	obj_object_set(o, "n", obj_new_int(-3));
	obj_object_set(o, "nan", obj_new_float(NAN));
	obj_array_append(a, obj_new_string("a\"b\n\x01\xff"));
	obj_array_append(a, obj_new_bool(true));
	obj_object_set(o, "list", a);
	obj_object_set(o, "score", obj_new_float(0.349532));
	buf_init(&b, 0);
	test_assert(obj_emit_json(o, &b, false) == 0);
	test_assert(strcmp(b.data, "{\"score\":0.349532,\"x\":2.500000,\"n\":-3,"
				   "\"nan\":0.0,\"list\":[\"a\\\"b\\n\\u0001\xef\xbf\xbd\",true]}") == 0);
	buf_reset(&b);
	test_assert(obj_emit_json(obj_lookup(o, "list"), &b, true) == 0);
	test_assert(strstr(b.data, "[\n    \"a") != NULL);
	buf_deinit(&b);
	test_assert(obj_lookup_path(o, "list") == a);
	test_assert(obj_count(o) == 5);
	obj_free(&o);
	test_end();
}

int
main(void)
{
	test_pool();
	test_pool_destructors();
	test_str();
	test_buf();
	test_json();
	return test_exit();
}
