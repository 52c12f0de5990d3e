/*
 * imap_args.h - an IMAP command's arguments as a tree (RFC 3501 section
 * 9: atoms, quoted strings, literals, NIL, parenthesized lists), made by
 * the command reader (imap_args.c) and read by each command's code
 * (imap_fetch.c, imap_search.c, ...), so no command parses raw bytes.
 *
 * "BODY[HEADER.FIELDS (From To)]<0.100>" is one atom-like argument with a
 * bracketed section; the reader keeps it as one IMAP_ARG_ATOM whose text
 * includes the brackets and the partial, and records `section` pointing
 * at the parenthesized list inside the brackets when there is one.
 *
 * All memory belongs to the pool the reader was given; strings are
 * NUL-terminated after `len` (literals may contain NULs: use len).
 */
#ifndef IMAP_IMAP_ARGS_H
#define IMAP_IMAP_ARGS_H

#include <stdbool.h>
#include <stddef.h>

enum imap_arg_type {
	IMAP_ARG_ATOM,     /* atom, also flags "\\Seen", numbers, sequence sets, "BODY[...]<..>" */
	IMAP_ARG_STRING,   /* quoted string or literal (see `literal`) */
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,     /* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type type;
	const char *str;          /* ATOM, STRING: the text (unquoted/unescaped) */
	size_t len;
	bool literal;             /* STRING came as {n} or {n+} */
	struct imap_arg *list;    /* LIST: the elements; ATOM with [..(..)..]: section list */
	size_t n_list;
};

/* Case-insensitive compare of an ATOM with `word`. */
bool imap_arg_atom_is(const struct imap_arg *a, const char *word);
/* ATOM or STRING as text (NULL for NIL/LIST). */
const char *imap_arg_text(const struct imap_arg *a);

/* ----- the command reader ----- */

/*
 * Limits of one command. Zero fields take the defaults shown. Line bytes
 * are everything outside literals (CRLFs included); literal bytes count
 * against literal_max, or against append_literal_max when the command is
 * APPEND (a whole message); the sum of literals of one command against
 * append_literal_max.
 */
struct imap_reader_limits {
	size_t line_max;           /* 64 KiB */
	size_t literal_max;        /* 64 KiB */
	size_t append_literal_max; /* 50 MiB */
	unsigned depth_max;        /* 16: nested lists (and brackets) */
	unsigned args_max;         /* 4096: arguments in all lists together */
};

/* A parsed command, in the reader's pool; valid until the next feed. */
struct imap_command {
	const char *tag;          /* "a001" */
	const char *name;         /* upper-cased: "FETCH", "UID", ... */
	struct imap_arg *args;    /* after the name */
	size_t n_args;
};

enum imap_read {
	IMAP_READ_FATAL = -2,     /* cannot resynchronise: BYE and close */
	IMAP_READ_BAD = -1,       /* bad command, skipped: tagged BAD (tag may be "*") */
	IMAP_READ_MORE = 0,       /* all input consumed, command incomplete */
	IMAP_READ_COMMAND = 1,    /* *cmd_r holds a command */
	IMAP_READ_CONTINUE = 2,   /* a synchronising literal waits: send "+ ..." */
	IMAP_READ_TOOBIG = 3,     /* a synchronising literal over the limit: the
	                           * command is dropped (the client sends no
	                           * literal); reply tagged NO [TOOBIG] */
};

struct imap_reader;

/* `lim` is copied; NULL = defaults. */
struct imap_reader *imap_reader_new(const struct imap_reader_limits *lim);
void imap_reader_free(struct imap_reader **r);
/* Drops a partly read command (STARTTLS discards pipelined input). */
void imap_reader_reset(struct imap_reader *r);

/*
 * Feeds input. Consumes bytes from data (*consumed_r, possibly fewer than
 * len: stop at each result other than MORE and feed the rest again after
 * acting on it). For BAD, TOOBIG and FATAL, *error_r is static text and
 * cmd_r->tag is the tag when one was read, else "*". A COMMAND's strings
 * stay valid until the next call of imap_reader_feed/_line/_reset.
 */
enum imap_read imap_reader_feed(struct imap_reader *r, const char *data, size_t len,
    size_t *consumed_r, struct imap_command *cmd_r, const char **error_r);

/*
 * Reads one raw CRLF (or LF) terminated line (IDLE's "DONE", an
 * AUTHENTICATE response): 1 with *line_r (NUL-terminated, without the
 * line end) valid until the next call, 0 need more, -1 over line_max
 * (the rest of the line is skipped by later calls).
 */
int imap_reader_line(struct imap_reader *r, const char *data, size_t len,
    size_t *consumed_r, const char **line_r);

/*
 * The pure parser under the reader: one complete command, literals
 * inline as "{n}\r\n<n bytes>" (or "{n+}"), ending with CRLF (or LF).
 * Arguments are allocated from `pool`. 0, or -1 with *error_r static
 * text (cmd_r->tag set when the tag was readable).
 */
struct pool;
int imap_parse_command(const char *data, size_t len, const struct imap_reader_limits *lim,
    struct pool *pool, struct imap_command *cmd_r, const char **error_r);

#endif
