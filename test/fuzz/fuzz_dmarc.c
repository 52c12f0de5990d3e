/*
 * fuzz_dmarc.c - libFuzzer target for the DMARC record parser.
 *
 * DMARC records are TXT data any domain owner publishes, so the parser
 * meets hostile text on every scan. Each input is parsed; a valid record
 * must hold values inside their ranges and string tags that are slices of
 * the input, and evaluating it against fixed authentication results must
 * give a disposition consistent with its policy.
 */
#include "auth/dmarc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_slice(struct str s, const char *base, size_t size)
{
	if (s.len == 0)
		return;
	if (s.ptr < base || s.ptr + s.len > base + size)
		abort();
}

static void
check_record(const struct dmarc_record *rec, const char *txt, size_t size)
{
	static const struct dmarc_auth fail = { "x.invalid", DMARC_AUTH_FAIL,
		NULL, 0 };
	struct dmarc_outcome out;

	if (rec->pct > 100 || rec->p == DMARC_POLICY_UNSET)
		abort();
	check_slice(rec->rua, txt, size);
	check_slice(rec->ruf, txt, size);
	dmarc_evaluate(NULL, rec, true, "example.com", &fail, 50, &out);
	if (out.pass)
		abort();
	if (out.policy == DMARC_POLICY_NONE && out.disposition != DMARC_DISP_NONE)
		abort();
	if (out.policy == DMARC_POLICY_REJECT && rec->pct > 50 &&
	    out.disposition != DMARC_DISP_REJECT)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *txt = malloc(size ? size : 1);
	struct dmarc_record rec;
	const char *error = NULL;
	int rc;

	memcpy(txt, data, size);
	rc = dmarc_record_parse(txt, size, &rec, &error);
	if (rc == 1)
		check_record(&rec, txt, size);
	else if (rc == -1 && error == NULL)
		abort();
	free(txt);
	return 0;
}
