/*
 * test.h - the unit test runner: test_begin / test_assert / test_end.
 *
 * A test program calls test_begin("name"), any number of test_assert()s and
 * test_end(), then returns test_exit() from main. Failures print the file,
 * line and expression; the summary is "N passed, N failed".
 */
#ifndef TEST_LIB_TEST_H
#define TEST_LIB_TEST_H

#include <stdbool.h>
#include <stddef.h>

void test_begin(const char *name);
bool test_assert_at(bool cond, const char *expr, const char *file, int line);
void test_end(void);
int test_exit(void);

#define test_assert(cond) test_assert_at((cond), #cond, __FILE__, __LINE__)

/*
 * Trickle feeding: calls fn(data + off, n, ctx) in chunks of `chunk` bytes
 * (1 = byte by byte), so incremental parsers meet every split point.
 * Stops and returns the first negative return of fn; else the last return.
 */
int test_trickle(const void *data, size_t len, size_t chunk,
    int (*fn)(const void *chunk, size_t n, void *ctx), void *ctx);

/* Reads a whole file into a heap buffer (caller frees); NULL on error. */
char *test_read_file(const char *path, size_t *len_r);

#endif
