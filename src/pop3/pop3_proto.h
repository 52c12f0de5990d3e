/*
 * pop3_proto.h - the pure parts of POP3 (RFC 1939, RFC 2449, RFC 2595,
 * RFC 5034): the command line parser, the message number parser, the
 * SASL PLAIN decoder and the multi-line encoder for RETR and TOP.
 *
 * Nothing here touches sockets, files, clocks or config: bytes in,
 * results out through `_r` parameters, so every function is unit tested
 * byte by byte and fuzzed (test/fuzz/fuzz_pop3.c).
 */
#ifndef POP3_POP3_PROTO_H
#define POP3_POP3_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

/* RFC 2449 section 4: a command line is at most 255 octets with CRLF.
 * Clients overshoot a little (long user names), so we allow some slack;
 * AUTH lines and SASL responses carry base64 and get their own limit. */
#define POP3_LINE_MAX 512
#define POP3_AUTH_LINE_MAX 8192
/* Longest argument (RFC 2449: 40 octets; again with slack for PASS). */
#define POP3_ARG_MAX 255

enum pop3_verb {
	POP3_CMD_USER,
	POP3_CMD_PASS,
	POP3_CMD_AUTH,
	POP3_CMD_CAPA,
	POP3_CMD_STLS,
	POP3_CMD_QUIT,
	POP3_CMD_STAT,
	POP3_CMD_LIST,
	POP3_CMD_RETR,
	POP3_CMD_DELE,
	POP3_CMD_NOOP,
	POP3_CMD_RSET,
	POP3_CMD_TOP,
	POP3_CMD_UIDL,
	POP3_CMD_APOP,
};

/*
 * A parsed command line. The views point into the caller's line
 * (borrowed). `args` are the space-separated arguments; `rest` is
 * everything after the keyword and one space, as it came (PASS takes a
 * password that may contain spaces, RFC 1939 section 7 notes).
 */
struct pop3_cmd {
	enum pop3_verb verb;
	struct str args[2];
	unsigned n_args;
	struct str rest;
};

enum pop3_parse_error {
	POP3_PARSE_OK,
	POP3_PARSE_UNKNOWN,   /* not a POP3 keyword */
	POP3_PARSE_SYNTAX,    /* wrong number of arguments, bad characters */
};

/*
 * Parses one command line without its CRLF. Keywords are case-insensitive
 * (RFC 1939 section 3). Returns 0, or -1 with *error_r saying which kind
 * of error to answer. NUL and control bytes other than the separating
 * spaces are syntax errors.
 */
int pop3_cmd_parse(const char *line, size_t len, struct pop3_cmd *cmd_r,
    enum pop3_parse_error *error_r);

/* The keyword text ("RETR") for logs. */
const char *pop3_verb_name(enum pop3_verb verb);

/* A message number: decimal, 1..max, no sign or leading junk. 0 or -1. */
int pop3_msgno_parse(struct str s, unsigned max, unsigned *n_r);
/* A line count for TOP: decimal, 0.. UINT32_MAX. 0 or -1. */
int pop3_count_parse(struct str s, uint64_t *n_r);

/*
 * Decodes a SASL PLAIN response (RFC 4616: authzid NUL authcid NUL
 * passwd, in base64) into `out` (room for BASE64_DECODED_MAX(len) + 1)
 * and points *user_r and *pass_r into it (NUL-terminated). An authzid
 * must be empty or equal to the authcid. 0, or -1 on bad base64 or a bad
 * structure; "=" (an empty response) is -1 too.
 */
int pop3_sasl_plain_decode(const char *b64, size_t len, char *out,
    const char **user_r, const char **pass_r);

/*
 * The multi-line encoder for RETR and TOP (RFC 1939 section 3): lines
 * that begin with '.' get one more, bare LF becomes CRLF, and the end is
 * ".\r\n" after a final CRLF. For TOP, `top` limits the body to
 * `body_lines` lines after the header and its blank line.
 */
struct pop3_enc {
	bool top;
	uint64_t body_lines;   /* body lines still allowed (TOP) */
	bool in_body;
	bool line_start;
	bool prev_cr;
	size_t line_len;       /* bytes of the current line so far */
	bool done;             /* TOP reached its line count: ignore the rest */
};

void pop3_enc_init(struct pop3_enc *e, bool top, uint64_t body_lines);
/* Encodes `len` bytes of the message into `out`; returns -1 when `out`
 * hits its max (it then holds a partial result), else 0. Once e->done,
 * input is ignored (the caller may stop reading). */
int pop3_enc_feed(struct pop3_enc *e, const void *data, size_t len, struct buf *out);
/* Finishes the response: CRLF when the last line had none, then ".\r\n". */
int pop3_enc_finish(struct pop3_enc *e, struct buf *out);

#endif
