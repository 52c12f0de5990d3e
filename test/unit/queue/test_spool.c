/*
 * test_spool.c - the durable queue: envelope records, queue ids, the
 * writer/reader round trip, moves, rewrites, quarantine and recovery.
 *
 * Each test works in a fresh spool under a mkdtemp() directory, removed at
 * the end. The crash test forks a writer that exits without committing,
 * which is what a killed SMTP worker leaves behind.
 */
#include "core/buf.h"
#include "core/pool.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "queue/spool.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmproot[64];

static void
rm_rf(const char *path)
{
	char cmd[256];

	if (str_format(cmd, sizeof(cmd), "rm -rf '%s'", path) > 0 &&
	    system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", path);
}

static struct spool *
fresh_spool(void)
{
	struct spool *spool = NULL;
	char path[128], *error = NULL;

	str_lcpy(tmproot, "/tmp/test_spool.XXXXXX", sizeof(tmproot));
	if (mkdtemp(tmproot) == NULL)
		abort();
	str_format(path, sizeof(path), "%s/spool", tmproot);
	if (spool_open(path, &spool, &error) < 0) {
		fprintf(stderr, "%s\n", error);
		abort();
	}
	return spool;
}

static void
drop_spool(struct spool **spool)
{
	spool_close(spool);
	rm_rf(tmproot);
}

static int
count_dir(struct spool *spool, const char *sub)
{
	char path[256];
	struct dirent *de;
	int n = 0;
	DIR *d;

	str_format(path, sizeof(path), "%s/%s", spool_root(spool), sub);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static const char hostile_sender[] = "evil\r\nR:pending a b c\n\0E:\n%41:x @x";
static const char hostile_rcpt[] = "a:b\n\rZ:9\0 \xc3\xa9@example.com";

static void
build_envelope(struct pool *pool, struct spool_envelope *env)
{
	struct spool_rcpt *r;

	spool_envelope_init(env);
	env->sender = str_make(hostile_sender, sizeof(hostile_sender) - 1);
	env->arrival = 1700000000;
	env->client_ip = STR_LIT("192.0.2.1");
	env->helo = STR_LIT("mx.example\r\nE:");
	env->auth_user = STR_LIT("user@example.com");
	env->flags = SPOOL_FLAG_JUNK;
	r = spool_envelope_add_rcpt(pool, env,
	    str_make(hostile_rcpt, sizeof(hostile_rcpt) - 1),
	    STR_LIT("final@example.com"));
	r->reply = STR_LIT("250 2.0.0 ok: queued as X");
	r->status = SPOOL_RCPT_DEFERRED;
	spool_envelope_add_rcpt(pool, env, STR_LIT(""), STR_LIT("b@example.org"));
	spool_envelope_set_attr_u64(pool, env, "retry_count", 3);
	spool_envelope_set_attr(pool, env, "dsn.envid", STR_LIT("x\n y%z"));
}

static bool
envelopes_equal(const struct spool_envelope *a, const struct spool_envelope *b)
{
	size_t i;

	if (!str_eq(a->sender, b->sender) || a->arrival != b->arrival ||
	    !str_eq(a->client_ip, b->client_ip) || !str_eq(a->helo, b->helo) ||
	    !str_eq(a->auth_user, b->auth_user) || a->flags != b->flags ||
	    a->rcpt_count != b->rcpt_count || a->attr_count != b->attr_count)
		return false;
	for (i = 0; i < a->rcpt_count; i++) {
		if (!str_eq(a->rcpts[i].orig, b->rcpts[i].orig) ||
		    !str_eq(a->rcpts[i].addr, b->rcpts[i].addr) ||
		    !str_eq(a->rcpts[i].reply, b->rcpts[i].reply) ||
		    a->rcpts[i].status != b->rcpts[i].status)
			return false;
	}
	for (i = 0; i < a->attr_count; i++) {
		if (!str_eq(a->attrs[i].key, b->attrs[i].key) ||
		    !str_eq(a->attrs[i].value, b->attrs[i].value))
			return false;
	}
	return true;
}

static void
test_ids(void)
{
	test_begin("queue ids");
	test_assert(spool_id_valid("0123456789AB"));
	test_assert(spool_id_valid("0123456789ABCDEF0123"));
	test_assert(!spool_id_valid("0123456789A"));
	test_assert(!spool_id_valid("0123456789ABCDEF01234"));
	test_assert(!spool_id_valid("0123456789ab"));
	test_assert(!spool_id_valid("../0123456789AB"));
	test_assert(!spool_id_valid("0123456789AB/C"));
	test_assert(!spool_id_valid(".0123456789AB"));
	test_assert(!spool_id_valid(""));
	test_assert(!spool_id_valid(NULL));
	test_end();
}

static void
test_envelope_roundtrip(void)
{
	struct pool *pool = pool_new(0);
	struct spool_envelope env, back;
	const char *error = NULL;
	uint64_t v = 0;
	struct buf out;
	size_t i;
	bool prefix_ok = false;

	test_begin("envelope round trip with hostile addresses");
	build_envelope(pool, &env);
	buf_init(&out, 0);
	test_assert(spool_envelope_format(&env, 1234, &out) == 0);
	/* Exactly one record per line: nothing raw leaked into the text. */
	for (i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)out.data[i];

		test_assert(c == '\n' || (c >= 0x20 && c < 0x7f));
	}
	test_assert(memmem(out.data, out.len, "\nE:\n", 4) ==
	    out.data + out.len - 4);
	test_assert(spool_envelope_parse(out.data, out.len, pool, &back,
	    &error) == 0);
	test_assert(envelopes_equal(&env, &back));
	test_assert(back.size == 1234);
	test_assert(back.sender.ptr[back.sender.len] == '\0');
	test_assert(spool_envelope_get_attr_u64(&back, "retry_count", &v) == 1 &&
	    v == 3);
	test_assert(spool_envelope_get_attr_u64(&back, "nope", &v) == 0);
	test_assert(spool_envelope_get_attr_u64(&back, "dsn.envid", &v) == -1);
	/* Every proper prefix is refused (truncation is detected). */
	for (i = 0; i < out.len; i++) {
		if (spool_envelope_parse(out.data, i, pool, &back, &error) == 0)
			prefix_ok = true;
	}
	test_assert(!prefix_ok);
	buf_deinit(&out);
	pool_free(&pool);
	test_end();
}

static bool
parses(const char *text)
{
	struct pool *pool = pool_new(0);
	struct spool_envelope env;
	const char *error;
	int rc = spool_envelope_parse(text, strlen(text), pool, &env, &error);

	pool_free(&pool);
	return rc == 0;
}

#define BASE "V:1\nS:a@b\nT:1\nZ:0\nI:\nH:\nU:\n"

static void
test_envelope_bad(void)
{
	struct pool *pool = pool_new(0);
	struct spool_envelope env;

	test_begin("envelope parser refuses damage");
	test_assert(parses(BASE "E:\n"));
	test_assert(parses(BASE "R:pending a b \nA:k v\nF:junk\nE:\n"));
	test_assert(!parses(BASE));
	test_assert(!parses(BASE "E:\nX"));
	test_assert(!parses(BASE "S:again\nE:\n"));
	test_assert(!parses(BASE "Q:unknown\nE:\n"));
	test_assert(!parses(BASE "R:pending a b\nE:\n"));
	test_assert(!parses(BASE "R:sent a b c\nE:\n"));
	test_assert(!parses(BASE "R:pending a b c d\nE:\n"));
	test_assert(!parses(BASE "A:K v\nE:\n"));
	test_assert(!parses(BASE "A:k v\nA:k w\nE:\n"));
	test_assert(!parses(BASE "R:pending a%4 b c\nE:\n"));
	test_assert(!parses(BASE "R:pending a%ZZ b c\nE:\n"));
	test_assert(!parses(BASE "F:urgent\nE:\n"));
	test_assert(!parses("V:2\nS:\nT:1\nZ:0\nI:\nH:\nU:\nE:\n"));
	test_assert(!parses("V:1\nT:1\nZ:0\nI:\nH:\nU:\nE:\n"));
	test_assert(!parses("V:1\nS:\nT:01\nZ:0\nI:\nH:\nU:\nE:\n"));
	test_assert(!parses("V:1\nS:\nT:1\nZ:-1\nI:\nH:\nU:\nE:\n"));
	test_assert(!parses("V:1\nS:a\rb\nT:1\nZ:0\nI:\nH:\nU:\nE:\n"));
	/* A NUL inside the buffer is a raw byte, not an end. */
	test_assert(spool_envelope_parse(BASE "E:\n\0", sizeof(BASE "E:\n"), pool,
	    &env, &(const char *){ NULL }) == -1);
	test_assert(spool_envelope_set_attr(pool, &env, "Bad", STR_LIT("")) == -1);
	test_assert(spool_envelope_set_attr(pool, &env, "", STR_LIT("")) == -1);
	test_assert(spool_envelope_set_attr(pool, &env, "a/b", STR_LIT("")) == -1);
	pool_free(&pool);
	test_end();
}

static char *
make_body(size_t len)
{
	char *b = xmalloc(len);
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (char)(i * 131 + i / 7);
	return b;
}

/* Streams body in uneven chunks (some above the writer's buffer). */
static int
write_message(struct spool *spool, const char *body, size_t len,
    const struct spool_envelope *env, char id_r[SPOOL_ID_SIZE])
{
	struct spool_writer *w;
	size_t off = 0, step = 1;
	enum spool_err err;

	if (spool_writer_begin(spool, 0, &w) < 0)
		return -1;
	while (off < len) {
		size_t n = MIN(step, len - off);

		if (spool_writer_write(w, body + off, n) < 0) {
			spool_writer_abort(&w);
			return -1;
		}
		off += n;
		step = step * 3 + 1;
		if (step > 200000)
			step = 7;
	}
	return spool_writer_commit(&w, env, id_r, &err);
}

static bool
body_matches(const struct spool_message *msg, const char *body, size_t len)
{
	char *got = xmalloc(len + 1);
	bool ok = msg->body_len == len &&
	    pread(msg->fd, got, len + 1, msg->body_offset) >= (ssize_t)len &&
	    memcmp(got, body, len) == 0;

	free(got);
	return ok;
}

static int
collect_cb(const char *id, void *ctx)
{
	char *found = ctx;

	str_lcpy(found, id, SPOOL_ID_SIZE);
	return 0;
}

static void
check_lifecycle(struct spool *spool, struct pool *pool, const char *body,
    size_t len, const struct spool_envelope *env)
{
	char id[SPOOL_ID_SIZE], found[SPOOL_ID_SIZE] = "";
	struct spool_message msg;
	struct spool_envelope upd;
	enum spool_err err;

	test_assert(write_message(spool, body, len, env, id) == 0);
	test_assert(spool_id_valid(id));
	test_assert(spool_list(spool, SPOOL_INCOMING, collect_cb, found) == 1);
	test_assert(strcmp(found, id) == 0);
	test_assert(count_dir(spool, "tmp") == 0);
	test_assert(spool_move(spool, id, SPOOL_INCOMING, SPOOL_ACTIVE, &err) == 0);
	test_assert(spool_exists(spool, SPOOL_ACTIVE, id));
	test_assert(!spool_exists(spool, SPOOL_INCOMING, id));
	test_assert(spool_open_message(spool, SPOOL_ACTIVE, id, pool, &msg, &err) == 0);
	test_assert(envelopes_equal(env, &msg.env));
	test_assert(msg.env.size == len);
	test_assert(body_matches(&msg, body, len));
	/* Record progress; the message bytes must survive the rewrite. */
	upd = msg.env;
	upd.rcpts[0].status = SPOOL_RCPT_DELIVERED;
	upd.rcpts[0].reply = STR_LIT("delivered to maildir");
	spool_envelope_set_attr_u64(pool, &upd, "next_attempt", 1700000300);
	spool_message_close(&msg);
	test_assert(spool_update_envelope(spool, SPOOL_ACTIVE, id, &upd, &err) == 0);
	test_assert(spool_open_message(spool, SPOOL_ACTIVE, id, pool, &msg, &err) == 0);
	test_assert(msg.env.rcpts[0].status == SPOOL_RCPT_DELIVERED);
	test_assert(str_eq_cstr(msg.env.rcpts[0].reply, "delivered to maildir"));
	test_assert(envelopes_equal(&upd, &msg.env));
	test_assert(body_matches(&msg, body, len));
	spool_message_close(&msg);
	test_assert(count_dir(spool, "tmp") == 0);
	test_assert(spool_move(spool, id, SPOOL_ACTIVE, SPOOL_DEFERRED, &err) == 0);
	test_assert(spool_find(spool, id, &(enum spool_queue){ 0 }) == 0);
	test_assert(spool_remove(spool, SPOOL_DEFERRED, id, &err) == 0);
	test_assert(spool_open_message(spool, SPOOL_DEFERRED, id, pool, &msg,
	    &err) == -1 && err == SPOOL_ERR_NOT_FOUND);
	test_assert(spool_remove(spool, SPOOL_DEFERRED, id, &err) == -1 &&
	    err == SPOOL_ERR_NOT_FOUND);
}

static void
test_lifecycle(void)
{
	struct spool *spool = fresh_spool();
	struct pool *pool = pool_new(0);
	struct spool_envelope env;
	size_t sizes[] = { 0, 1, 65535, 65536, 3 * 1024 * 1024 + 17 };
	size_t i;

	test_begin("commit, list, open, move, update, remove");
	build_envelope(pool, &env);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		char *body = make_body(sizes[i]);

		check_lifecycle(spool, pool, body, sizes[i], &env);
		free(body);
	}
	pool_free(&pool);
	drop_spool(&spool);
	test_end();
}

static void
test_bad_ids(void)
{
	struct spool *spool = fresh_spool();
	struct pool *pool = pool_new(0);
	struct spool_message msg;
	struct spool_envelope env;
	enum spool_err err = SPOOL_ERR_NONE;

	test_begin("operations refuse invalid ids");
	spool_envelope_init(&env);
	test_assert(spool_open_message(spool, SPOOL_INCOMING, "../../etc/passwd",
	    pool, &msg, &err) == -1 && err == SPOOL_ERR_INVALID_ID);
	test_assert(spool_move(spool, "ABC/0123456789", SPOOL_INCOMING,
	    SPOOL_HOLD, &err) == -1 && err == SPOOL_ERR_INVALID_ID);
	test_assert(spool_remove(spool, SPOOL_INCOMING, "..", &err) == -1 &&
	    err == SPOOL_ERR_INVALID_ID);
	test_assert(spool_update_envelope(spool, SPOOL_INCOMING, "x", &env,
	    &err) == -1 && err == SPOOL_ERR_INVALID_ID);
	test_assert(!spool_exists(spool, SPOOL_INCOMING, "."));
	test_assert(spool_quarantine(spool, SPOOL_INCOMING, "../tmp", "x") == -1);
	pool_free(&pool);
	drop_spool(&spool);
	test_end();
}

static void
test_size_limit(void)
{
	struct spool *spool = fresh_spool();
	struct spool_envelope env;
	struct spool_writer *w;
	char id[SPOOL_ID_SIZE];
	enum spool_err err = SPOOL_ERR_NONE;

	test_begin("writer enforces the size limit");
	spool_envelope_init(&env);
	test_assert(spool_writer_begin(spool, 10, &w) == 0);
	test_assert(spool_writer_write(w, NULL, 0) == 0);
	test_assert(spool_writer_write(w, "0123456789", 10) == 0);
	test_assert(spool_writer_size(w) == 10);
	test_assert(spool_writer_write(w, "x", 1) == -1);
	test_assert(spool_writer_error(w) == SPOOL_ERR_TOO_BIG);
	test_assert(spool_writer_commit(&w, &env, id, &err) == -1);
	test_assert(err == SPOOL_ERR_TOO_BIG && w == NULL);
	test_assert(count_dir(spool, "incoming") == 0);
	test_assert(count_dir(spool, "tmp") == 0);
	test_assert(spool_writer_begin(spool, 10, &w) == 0);
	spool_writer_abort(&w);
	test_assert(count_dir(spool, "tmp") == 0);
	drop_spool(&spool);
	test_end();
}

static void
write_file(struct spool *spool, const char *sub, const char *name,
    const void *data, size_t len)
{
	char path[256];
	FILE *f;

	str_format(path, sizeof(path), "%s/%s/%s", spool_root(spool), sub, name);
	f = fopen(path, "w");
	if (f == NULL || fwrite(data, 1, len, f) != len)
		abort();
	fclose(f);
}

static void
test_corrupt(void)
{
	struct spool *spool = fresh_spool();
	struct pool *pool = pool_new(0);
	struct spool_envelope env;
	struct spool_message msg;
	char id[SPOOL_ID_SIZE], path[256];
	enum spool_err err;

	test_begin("damaged files go to corrupt/");
	log_configure(&(struct log_settings){ LOG_TYPE_CONSOLE, LOG_LEVEL_CRIT,
	    NULL, NULL }, NULL);
	write_file(spool, "incoming", "0123456789ABCDEF", "garbage", 7);
	test_assert(spool_open_message(spool, SPOOL_INCOMING, "0123456789ABCDEF",
	    pool, &msg, &err) == -1 && err == SPOOL_ERR_CORRUPT);
	test_assert(spool_exists(spool, SPOOL_CORRUPT, "0123456789ABCDEF"));
	test_assert(!spool_exists(spool, SPOOL_INCOMING, "0123456789ABCDEF"));
	/* A valid file that lost its last byte. */
	build_envelope(pool, &env);
	test_assert(write_message(spool, "hello\r\n", 7, &env, id) == 0);
	str_format(path, sizeof(path), "%s/incoming/%s", spool_root(spool), id);
	{
		struct stat st;

		test_assert(stat(path, &st) == 0 && truncate(path, st.st_size - 1) == 0);
	}
	test_assert(spool_open_message(spool, SPOOL_INCOMING, id, pool, &msg,
	    &err) == -1 && err == SPOOL_ERR_CORRUPT);
	test_assert(spool_exists(spool, SPOOL_CORRUPT, id));
	test_assert(count_dir(spool, "corrupt") == 2);
	/* Stray names are not ids and are not listed. */
	write_file(spool, "incoming", "notanid", "x", 1);
	test_assert(spool_list(spool, SPOOL_INCOMING, collect_cb,
	    (char[SPOOL_ID_SIZE]){ 0 }) == 0);
	log_configure(&(struct log_settings){ LOG_TYPE_CONSOLE, LOG_LEVEL_WARN,
	    NULL, NULL }, NULL);
	pool_free(&pool);
	drop_spool(&spool);
	test_end();
}

static void
test_crash_recovery(void)
{
	struct spool *spool = fresh_spool();
	struct pool *pool = pool_new(0);
	struct spool_envelope env;
	char id[SPOOL_ID_SIZE], found[SPOOL_ID_SIZE] = "";
	unsigned requeued = 0, removed = 0;
	pid_t pid;
	int status;

	test_begin("crash: temp files never queued, active requeued");
	build_envelope(pool, &env);
	pid = fork();
	if (pid == 0) {
		struct spool_writer *w;

		/* A writer killed in the middle of DATA. */
		if (spool_writer_begin(spool, 0, &w) < 0 ||
		    spool_writer_write(w, "partial", 7) < 0)
			_exit(1);
		_exit(0);
	}
	test_assert(pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0);
	test_assert(count_dir(spool, "tmp") == 1);
	test_assert(spool_list(spool, SPOOL_INCOMING, collect_cb, found) == 0);
	/* A message the queue manager was delivering when it died. */
	test_assert(write_message(spool, "body\r\n", 6, &env, id) == 0);
	test_assert(spool_move(spool, id, SPOOL_INCOMING, SPOOL_ACTIVE, NULL) == 0);
	test_assert(spool_recover(spool, &requeued, &removed) == 0);
	test_assert(requeued == 1 && removed == 1);
	test_assert(count_dir(spool, "tmp") == 0);
	test_assert(spool_exists(spool, SPOOL_INCOMING, id));
	test_assert(count_dir(spool, "active") == 0);
	pool_free(&pool);
	drop_spool(&spool);
	test_end();
}

static int
strcmp_cb(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_unique_ids(void)
{
	struct spool *spool = fresh_spool();
	struct spool_envelope env;
	enum { N = 300 };
	char (*ids)[SPOOL_ID_SIZE] = xcalloc(N, SPOOL_ID_SIZE);
	bool all_ok = true, distinct = true;
	size_t i;

	test_begin("queue ids are unique under many commits");
	spool_envelope_init(&env);
	for (i = 0; i < N; i++) {
		if (write_message(spool, "x", 1, &env, ids[i]) < 0)
			all_ok = false;
	}
	qsort(ids, N, SPOOL_ID_SIZE, strcmp_cb);
	for (i = 1; i < N; i++) {
		if (strcmp(ids[i - 1], ids[i]) == 0)
			distinct = false;
	}
	test_assert(all_ok && distinct);
	test_assert(count_dir(spool, "incoming") == N);
	free(ids);
	drop_spool(&spool);
	test_end();
}

int
main(void)
{
	log_configure(&(struct log_settings){ LOG_TYPE_CONSOLE, LOG_LEVEL_WARN,
	    NULL, NULL }, NULL);
	test_ids();
	test_envelope_roundtrip();
	test_envelope_bad();
	test_lifecycle();
	test_bad_ids();
	test_size_limit();
	test_corrupt();
	test_crash_recovery();
	test_unique_ids();
	return test_exit();
}
