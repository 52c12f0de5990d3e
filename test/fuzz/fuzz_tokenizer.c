/*
 * fuzz_tokenizer - libFuzzer target for the Bayes tokenizer: parses the
 * input as a message, tokenizes it with a small word cap (so each run stays
 * fast) and checks the output is sorted without duplicates, then computes
 * the learn digest.
 */
#include "core/pool.h"
#include "mime/message.h"
#include "scan/bayes/bayes_internal.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool *pool = pool_new(64 * 1024 * 1024);
	const struct mime_message *m;
	struct bayes_tok_opts o;
	const char *err = NULL;
	uint64_t *h;
	uint8_t digest[16];
	size_t n, nw;

	m = mime_parse(pool, (const char *)data, size, NULL, &err);
	if (m != NULL) {
		bayes_tok_defaults(&o);
		o.max_words = 512;
		o.nfkc = (size & 1) != 0;
		if (bayes_tokenize(pool, m, &o, &h, &n, &nw) == 0) {
			for (size_t i = 1; i < n; i++) {
				if (h[i - 1] >= h[i])
					abort();
			}
			if (nw > o.max_words)
				abort();
		}
		bayes_digest(m, (const char *)data, size, digest);
	}
	pool_free(&pool);
	return 0;
}
