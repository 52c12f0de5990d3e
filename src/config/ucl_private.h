/*
 * ucl_private.h - state shared by the pieces of the UCL parser
 * (ucl_parser.c: structure and merging, ucl_scalar.c: strings, numbers and
 * variables, ucl_include.c: macros and included files). Not for other
 * modules.
 */
#ifndef CONFIG_UCL_PRIVATE_H
#define CONFIG_UCL_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "config/ucl_parser.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/obj.h"

enum ucl_dup {
	UCL_DUP_APPEND,
	UCL_DUP_MERGE,
	UCL_DUP_REWRITE,
	UCL_DUP_ERROR,
};

/* One input being parsed: the top-level file or string, or an include. */
struct ucl_chunk {
	const char *data, *p, *end;
	const char *name;       /* for messages and relative includes */
	char *realpath;         /* files only: include loop detection */
	bool is_file;           /* values remember `name` as their file */
	int priority;
	enum ucl_dup dup;
	const char *line_pos;   /* line cache: line_no is the line at line_pos */
	unsigned line_no;
	struct ucl_chunk *parent;
};

struct ucl_parser {
	const struct ucl_vars *vars;
	unsigned flags;
	unsigned depth;
	unsigned include_depth;
	size_t total;
	bool in_params;         /* inside .include(...) parameters */
	char *error;
};

/* ucl_parser.c */
unsigned ucl_line_at(struct ucl_chunk *c, const char *p);
int ucl_error(struct ucl_parser *P, struct ucl_chunk *c, const char *at,
    const char *fmt, ...) PRINTF_LIKE(4, 5);
int ucl_parse_chunk(struct ucl_parser *P, struct ucl_chunk *c,
    struct obj *target);
int ucl_parse_body(struct ucl_parser *P, struct ucl_chunk *c,
    struct obj *target, char term);
int ucl_parse_value(struct ucl_parser *P, struct ucl_chunk *c,
    struct obj **val_r);
int ucl_skip_ws(struct ucl_parser *P, struct ucl_chunk *c);
int ucl_dup_parse(const char *name, enum ucl_dup *dup_r);

/* ucl_scalar.c */
/* Unescapes the body of a "..." string (quotes excluded). */
void ucl_unescape_dquoted(const char *s, size_t len, struct buf *out);
/* Unescapes the body of a '...' string: only \' is special. */
void ucl_unescape_squoted(const char *s, size_t len, struct buf *out);
/* Appends s with $NAME / ${NAME} replaced for known names; $$ is '$'.
 * Returns -1 when `out` reached its maximum. */
int ucl_expand_vars(const struct ucl_vars *vars, const char *s, size_t len,
    struct buf *out);
/* A bare word as bool, null or number; NULL when it is a plain string. */
struct obj *ucl_atom_scalar(const char *s, size_t len);

/* ucl_include.c */
/* At '.', handles one macro; target is the object being filled. */
int ucl_parse_macro(struct ucl_parser *P, struct ucl_chunk *c,
    struct obj *target);
/* Reads `path` and parses it into target as a nested chunk of c. */
int ucl_include_path(struct ucl_parser *P, struct ucl_chunk *c,
    struct obj *target, const char *path, bool try_missing, int priority,
    enum ucl_dup dup, const char *at);

#endif
