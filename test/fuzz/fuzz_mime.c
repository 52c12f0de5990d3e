/*
 * fuzz_mime - libFuzzer target for the MIME parser and address lists.
 *
 * Parses the input as a whole message with default limits in a capped
 * pool, walks the result so every pointer gets read, then parses the same
 * bytes as an address list.
 */
#include "core/pool.h"
#include "mime/message.h"

#include <stdint.h>
#include <string.h>

static size_t
walk(const struct mime_message *m)
{
	size_t sum = 0, i;

	for (i = 0; i < m->n_parts; i++) {
		const struct mime_part *p = m->parts[i];

		sum += strlen(p->type) + strlen(p->subtype) + p->decoded_len;
		if (p->utf8 != NULL)
			sum += strlen(p->utf8);
	}
	for (i = 0; i < m->n_urls; i++)
		sum += strlen(m->urls[i].url) + strlen(m->urls[i].host);
	for (i = 0; i < m->n_emails; i++)
		sum += strlen(m->emails[i].addr);
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool *pool = pool_new(64 * 1024 * 1024);
	const struct mime_address *a;
	const struct mime_message *m;
	const char *err = NULL;
	volatile size_t sink = 0;

	m = mime_parse(pool, (const char *)data, size, NULL, &err);
	if (m != NULL)
		sink += walk(m);
	for (a = mime_parse_addresses(pool, (const char *)data, size); a != NULL;
	    a = a->next)
		sink += strlen(a->addr) + (a->name != NULL ? strlen(a->name) : 0);
	(void)sink;
	pool_free(&pool);
	return 0;
}
