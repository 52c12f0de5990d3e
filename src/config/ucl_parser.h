/*
 * ucl_parser.h - our own parser for the UCL configuration language (and
 * plain JSON) into the shared value tree of core/obj.h.
 *
 * Accepted syntax and the include/merge semantics follow the contract in
 * spec/config.md: `key = value;`, `key: value`, `key value`, sections,
 * named sections (`worker "normal" {}` is `worker { normal {} }`), arrays,
 * three string forms plus heredocs, numbers with size and time suffixes,
 * booleans, null, three comment forms, implicit arrays from repeated keys,
 * $VAR/${VAR} expansion and the macros .include/.includes/.priority.
 *
 * Merging: every value remembers the priority it was read at. When a key
 * is already present, the include's duplicate strategy decides:
 *   append (default)  same priority -> implicit array; higher replaces;
 *                     lower is dropped
 *   merge             objects are deep-merged (unless the new priority is
 *                     lower, then dropped); scalars and arrays as append
 *   rewrite           replaces unless the new priority is lower
 *   error             a duplicate key is an error
 * So local.d (priority 1, merge) deep-merges sections and replaces scalars
 * and lists, override.d (priority 10) replaces whole sections, and the
 * outcome does not depend on the order of the includes.
 *
 * Relative include paths resolve against the including file's directory.
 * Errors read "FILE:LINE: reason" (heap string, caller frees).
 */
#ifndef CONFIG_UCL_PARSER_H
#define CONFIG_UCL_PARSER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/obj.h"

/* Nesting of sections and arrays, across includes. */
#define UCL_MAX_DEPTH 128
/* Nested .include levels. */
#define UCL_MAX_INCLUDE_DEPTH 16
/* One file or string. */
#define UCL_MAX_INPUT_SIZE (16u * 1024 * 1024)
/* All files read by one parse, includes counted. */
#define UCL_MAX_TOTAL_SIZE (64u * 1024 * 1024)
/* Members of one object: lookups are linear, so this bounds parse time. */
#define UCL_MAX_MEMBERS 16384

enum ucl_flags {
	/* .include/.includes fail without touching the filesystem (fuzzing,
	 * untrusted input). */
	UCL_FLAG_NO_FILES = 1 << 0,
	/* No macros and no variable expansion; the top level may be any value
	 * (JSON documents). */
	UCL_FLAG_JSON = 1 << 1,
};

struct ucl_var {
	char *name;
	char *value;
};

/* A set of variables for $NAME expansion; zero-initialise before use. */
struct ucl_vars {
	struct ucl_var *v;
	size_t n, cap;
};

/* Sets (copies) or replaces a variable. */
void ucl_vars_set(struct ucl_vars *vars, const char *name, const char *value);
/* Value of the variable whose name is the `len` bytes at `name`, or NULL. */
const char *ucl_vars_get(const struct ucl_vars *vars, const char *name,
    size_t len);
void ucl_vars_free(struct ucl_vars *vars);

/*
 * Parses a file (and its includes) at `priority`. Returns a new object
 * tree the caller frees with obj_free(), or NULL with *error_r set.
 * `vars` may be NULL.
 */
struct obj *ucl_parse_file(const char *path, const struct ucl_vars *vars,
    int priority, char **error_r);

/*
 * Parses a buffer. `name` is used in error messages ("<string>" when
 * NULL); relative includes from a buffer resolve against the current
 * directory. The top
 * level is an object body or a braced object (or any value with
 * UCL_FLAG_JSON). Returns the tree or NULL with *error_r set.
 */
struct obj *ucl_parse_string(const char *data, size_t len, const char *name,
    const struct ucl_vars *vars, int priority, unsigned flags, char **error_r);

/* A JSON document (object, array or scalar) from an untrusted peer: no
 * macros, no files, no variables; a repeated key keeps the last value.
 * Lenient: UCL extras (comments, bare words) are accepted too. */
struct obj *ucl_parse_json(const char *data, size_t len, char **error_r);

/*
 * Parses `path` into an existing object `target` (e.g. a second top-level
 * file), using the given duplicate strategy name ("append", "merge",
 * "rewrite", "error"; NULL = append). `try_missing` makes a missing file
 * succeed. Returns 0 or -1 with *error_r set.
 */
int ucl_parse_file_into(struct obj *target, const char *path,
    const struct ucl_vars *vars, int priority, const char *duplicate,
    bool try_missing, char **error_r);

/*
 * Emits a tree in UCL config form ("key = value;" lines, nested sections
 * with 4-space indentation, implicit arrays as repeated keys). `o` is an
 * object whose members become top-level lines, or any other value.
 * Returns -1 when the buffer's maximum is reached.
 */
int ucl_emit_config(const struct obj *o, struct buf *out);

#endif
