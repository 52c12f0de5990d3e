/*
 * fuzz_queue_envelope.c - libFuzzer target for the queue file envelope.
 *
 * Queue files are ours, but a disk error, an operator's editor or a bug
 * can put anything in them, and the queue manager must quarantine such a
 * file rather than crash on it. Each input is parsed under a pool cap; a
 * parsed envelope must format again into text with no raw control bytes
 * except record-ending LFs, and that text must parse back into the same
 * envelope (so a rewrite never changes what a queue file says).
 */
#include "core/buf.h"
#include "core/pool.h"
#include "queue/spool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
same(const struct spool_envelope *a, const struct spool_envelope *b)
{
	size_t i;

	if (!str_eq(a->sender, b->sender) || a->arrival != b->arrival ||
	    !str_eq(a->client_ip, b->client_ip) || !str_eq(a->helo, b->helo) ||
	    !str_eq(a->auth_user, b->auth_user) || a->flags != b->flags ||
	    a->size != b->size || a->rcpt_count != b->rcpt_count ||
	    a->attr_count != b->attr_count)
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
check_roundtrip(const struct spool_envelope *env, struct pool *pool)
{
	struct spool_envelope again;
	const char *error = NULL;
	struct buf out;
	size_t i;

	buf_init(&out, 0);
	if (spool_envelope_format(env, env->size, &out) < 0)
		abort();
	for (i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)out.data[i];

		if (c != '\n' && (c < 0x20 || c > 0x7e))
			abort();
	}
	if (spool_envelope_parse(out.data, out.len, pool, &again, &error) < 0 ||
	    !same(env, &again))
		abort();
	buf_deinit(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the end. */
	char *text = malloc(size ? size : 1);
	struct pool *pool = pool_new(8 * 1024 * 1024);
	struct spool_envelope env;
	const char *error = NULL;

	memcpy(text, data, size);
	if (spool_envelope_parse(text, size, pool, &env, &error) == 0)
		check_roundtrip(&env, pool);
	else if (error == NULL)
		abort();
	pool_free(&pool);
	free(text);
	return 0;
}
