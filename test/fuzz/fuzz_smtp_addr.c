/*
 * libFuzzer target for the SMTP path parser. The first byte picks the
 * flags; the rest is parsed as the text after "MAIL FROM:" / "RCPT TO:".
 * Invariants: the parser consumes no more than it was given, limits hold,
 * the domain is lowercase, and the normalized address parses again to
 * itself (normalization is idempotent).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_addr.h"

static void
check_roundtrip(const struct smtp_addr *a, unsigned flags)
{
	char text[SMTP_ADDR_TEXT_MAX], path[SMTP_ADDR_TEXT_MAX + 2], again[SMTP_ADDR_TEXT_MAX];
	struct smtp_addr b;
	enum smtp_addr_error err;
	size_t used;
	int n = smtp_addr_format(a, text, sizeof(text));

	if (n < 0)
		abort();
	if (snprintf(path, sizeof(path), "<%s>", text) < 0)
		abort();
	if (smtp_addr_parse(path, strlen(path), flags, &b, &used, &err) < 0)
		abort();
	if (smtp_addr_format(&b, again, sizeof(again)) < 0 || strcmp(text, again) != 0)
		abort();
	if (b.source_route || b.trailing_dot)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_addr a;
	enum smtp_addr_error err;
	size_t used = 0;
	unsigned flags;

	if (size < 1)
		return 0;
	flags = data[0] & 0x0f;
	if (smtp_addr_parse((const char *)data + 1, size - 1, flags, &a, &used, &err) < 0) {
		if (err == SMTP_ADDR_OK)
			abort();
		return 0;
	}
	if (used > size - 1 || strlen(a.local) > SMTP_ADDR_LOCAL_MAX ||
	    strlen(a.domain) > SMTP_ADDR_DOMAIN_MAX)
		abort();
	for (const char *p = a.domain; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
	if (a.utf8 && !(flags & SMTP_ADDR_ALLOW_UTF8))
		abort();
	(void)smtp_relay_trick_name(smtp_addr_relay_trick(&a));
	if (!a.null_path)
		check_roundtrip(&a, flags | SMTP_ADDR_ALLOW_POSTMASTER);
	return 0;
}
