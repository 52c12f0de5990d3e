/*
 * smtp_proto.h - the pure halves of the SMTP server protocol: command
 * lines into verbs and arguments, MAIL/BDAT/AUTH argument parsing, and
 * reply formatting. No session state, no I/O (fuzzed as such).
 */
#ifndef SMTP_SMTP_PROTO_H
#define SMTP_SMTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "smtp/smtp_session.h"

struct buf;

enum smtp_verb {
	SMTP_VERB_UNKNOWN,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

struct smtp_cmd {
	enum smtp_verb verb;
	struct str name;  /* the verb as sent */
	struct str arg;   /* after the verb and its spaces, right-trimmed */
};

/*
 * Splits a command line (without its CRLF). Returns 0, or -1 when the line
 * is empty or contains a NUL or another control character but HTAB (the
 * session answers 500 5.5.2). Unknown verbs return 0 with
 * SMTP_VERB_UNKNOWN. `arg` points into `line`.
 */
int smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd_r);

/*
 * "FROM:" / "TO:" (case-insensitive) at the start of `arg`; returns 0
 * with *rest_r after it (spaces after the colon are the address parser's
 * business), -1 when absent.
 */
int smtp_cmd_expect_prefix(struct str arg, const char *prefix, struct str *rest_r);

enum smtp_param_error {
	SMTP_PARAM_OK,
	SMTP_PARAM_SYNTAX,      /* 501 5.5.4 */
	SMTP_PARAM_UNKNOWN,     /* 555 5.5.4 */
};

struct smtp_mail_params {
	bool has_size;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
	bool has_auth;          /* AUTH=<mailbox> (RFC 4954 5): accepted, ignored */
};

/* ESMTP parameters after the MAIL path ("SIZE=10 BODY=8BITMIME ...").
 * Repeated parameters are syntax errors. */
enum smtp_param_error smtp_cmd_mail_params(struct str params,
    struct smtp_mail_params *params_r);

/* "BDAT" arguments: chunk-size [SP "LAST"]. 0 or -1. */
int smtp_cmd_bdat_args(struct str arg, uint64_t *size_r, bool *last_r);

/* "AUTH" arguments: mechanism [SP initial-response]. 0 or -1. */
int smtp_cmd_auth_args(struct str arg, struct str *mech_r, struct str *initial_r,
    bool *has_initial_r);

/*
 * Strict base64 of a SASL response into `out` (room for
 * BASE64_DECODED_MAX(len)): "=" alone is the empty response. Returns the
 * decoded length or -1 on anything but clean padded base64.
 */
long smtp_sasl_decode(struct str in, unsigned char *out);

/*
 * Appends a reply: each '\n'-separated line of `text` becomes
 * "code-enhanced line\r\n" ("code " on the last line). `enhanced` may be
 * NULL. CR and other control characters in `text` are replaced by spaces.
 * Returns 0 or -1 when `out` is full.
 */
int smtp_reply_format(struct buf *out, int code, const char *enhanced,
    const char *text);

#endif
