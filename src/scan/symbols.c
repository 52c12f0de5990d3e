/*
 * symbols.c - built-in symbol definitions and config overrides.
 *
 * The names follow Rspamd's where the meaning is the same, so rules,
 * dashboards and score overrides written for Rspamd keep working.
 */
#include "scan/symbols.h"
#include "core/common.h"

#include <string.h>

static const struct symbol_def builtin_symbols[] = {
	{ "GTUBE", 0.0, "gtube", "Generic Test for Unsolicited Bulk Email" },
	{ "MISSING_SUBJECT", 2.0, "headers", "Subject header is missing" },
	{ "EMPTY_SUBJECT", 1.0, "headers", "Subject header is empty" },
	{ "MISSING_FROM", 2.0, "headers", "From header is missing" },
	{ "MISSING_DATE", 1.0, "headers", "Date header is missing" },
	{ "MISSING_MID", 2.5, "headers", "Message-ID header is missing" },
	{ "MISSING_TO", 2.0, "headers", "To header is missing" },
	{ "MISSING_MIME_VERSION", 2.0, "headers", "MIME-Version header is missing in MIME message" },
	{ "MULTIPLE_UNIQUE_HEADERS", 7.0, "headers", "Repeated unique headers" },
	{ "R_UNDISC_RCPT", 3.0, "headers", "Recipients are absent or undisclosed" },
	{ "SUBJ_ALL_CAPS", 3.0, "headers", "Subject contains mostly capital letters" },
	{ "SUBJ_EXCESS_QP", 1.2, "headers", "Subject is unnecessarily encoded in quoted-printable" },
	{ "FROM_NO_DN", 0.0, "headers", "From header does not have a display name" },
	{ "FROM_HAS_DN", 0.0, "headers", "From header has a display name" },
	{ "RCVD_COUNT_ZERO", 0.0, "headers", "Message has no Received headers" },
	{ "BROKEN_HEADERS", 10.0, "headers", "Headers structure is likely broken" },
	{ "BROKEN_CONTENT_TYPE", 1.5, "mime", "Message has a broken Content-Type header" },
	{ "MIME_BASE64_BROKEN", 1.0, "mime", "Base64 part cannot be decoded cleanly" },
	{ "MIME_QP_BROKEN", 0.5, "mime", "Quoted-printable part has invalid escapes" },
	{ "MIME_UNTERMINATED", 1.0, "mime", "Multipart message without closing boundary" },
	{ "R_MISSING_CHARSET", 0.5, "mime", "Charset is missing in a message with 8-bit text" },
	{ "R_BAD_CHARSET", 0.5, "mime", "Declared charset is unknown or does not fit the text" },
	{ "MIME_TOO_DEEP", 3.0, "mime", "MIME nesting deeper than the parser's limit" },
	{ "MIME_TOO_MANY_PARTS", 3.0, "mime", "More MIME parts than the parser's limit" },
	{ "MIME_HTML_ONLY", 0.2, "mime", "Message has only an HTML part" },
	{ "MIME_GOOD", -0.1, "mime", "Known content-type" },
	{ "MIME_TRACE", 0.0, "mime", "MIME structure of the message" },
	{ "R_EMPTY_IMAGE", 2.0, "html", "Message contains an image and no text" },
	{ "HTML_INVISIBLE_TEXT", 2.0, "html", "HTML part hides a large share of its text" },
	{ "HTML_SHORT_LINK_IMG", 1.0, "html", "Short HTML part with a link to an image" },
	{ "PHISHING", 4.0, "url", "Link text shows one host, the link goes to another" },
	{ "HTTP_TO_IP", 1.0, "url", "URL uses a numeric IP address as host" },
	{ "R_SUSPICIOUS_URL", 5.0, "url", "URL is obfuscated" },
	{ "HFILTER_URL_ONLY", 2.2, "url", "URL only in body" },
	{ "R_NO_SPACE_IN_FROM", 1.0, "headers", "No space between display name and address in From" },
	{ "TASK_TIMEOUT", 0.0, "engine", "Time budget ran out: some rules were skipped" },
};

const struct symbol_def *
symbol_def_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtin_symbols); i++) {
		if (strcmp(builtin_symbols[i].name, name) == 0)
			return &builtin_symbols[i];
	}
	return NULL;
}

const struct symbol_def *
symbol_builtin_at(size_t i)
{
	return i < ARRAY_SIZE(builtin_symbols) ? &builtin_symbols[i] : NULL;
}
