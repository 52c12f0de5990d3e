/*
 * re_internal.h - data shared by the regexp module's files: atom parsing
 * (re_atom.c), database building and the disk cache (re_compile.c),
 * per-task scanning (re_scan.c) and the engine glue (re_engine.c).
 */
#ifndef SCAN_RE_INTERNAL_H
#define SCAN_RE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scan/engine.h"
#include "scan/re/re_engine.h"

struct expr;
struct strmap;
struct scan_task;
struct hs_database;
struct hs_scratch;

enum re_kind {
	RE_KIND_HEADER,
	RE_KIND_RAW_HEADER,
	RE_KIND_MIME_HEADER,
	RE_KIND_ALL_HEADER,
	RE_KIND_BODY,
	RE_KIND_MIME,
	RE_KIND_RAW_MIME,
	RE_KIND_SA_BODY,
	RE_KIND_SA_RAW_BODY,
	RE_KIND_URL,
	RE_KIND_EMAIL,
	RE_KIND_COUNT,
};

/* Pattern flags (struct re_atom.flags). */
#define RE_F_CASELESS  (1u << 0)  /* i */
#define RE_F_MULTILINE (1u << 1)  /* m */
#define RE_F_DOTALL    (1u << 2)  /* s */
#define RE_F_EXTENDED  (1u << 3)  /* x */
#define RE_F_UTF8      (1u << 4)  /* u */
#define RE_F_RAW       (1u << 5)  /* r */
#define RE_F_COUNT     (1u << 6)  /* A: count every match */
#define RE_F_STRONG    (1u << 7)  /* S: header name case-sensitive */

/* One distinct regexp (identical atoms of several rules share it). */
struct re_atom {
	char *pattern;        /* between the slashes, as written */
	char *header;         /* header kinds: the header name, else NULL */
	unsigned flags;       /* RE_F_* */
	enum re_kind kind;
	const char *rule;     /* first rule using it (for logs), borrowed */
	bool pcre;            /* Hyperscan rejected it: matched with PCRE2 */
	void *code;           /* pcre2_code * when pcre */
};

enum re_operand_type { RE_OP_REGEXP, RE_OP_FUNC, RE_OP_RULE, RE_OP_SYMBOL };

enum re_func {
	RE_FN_HEADER_EXISTS,
	RE_FN_HAS_CONTENT_PART,
	RE_FN_IS_HTML_BALANCED,
	RE_FN_HAS_ONLY_HTML_PART,
	RE_FN_CONTENT_TYPE_IS_TYPE,
	RE_FN_CONTENT_TYPE_IS_SUBTYPE,
	RE_FN_HAS_HTML_TAG,
};

/* What an expression atom stands for (the expr atom data). */
struct re_operand {
	enum re_operand_type type;
	size_t index;         /* atom, rule index */
	enum re_func func;
	char *arg;            /* function argument or symbol name, or NULL */
};

struct re_rule {
	char *name;
	char *expr_text;
	double weight;
	char *group, *description;
	unsigned symbol_flags;
	re_condition_fn *condition;
	void *cond_ud;
	struct expr *expr;
	struct re_module *mod;
	size_t index;
	int mark;             /* cycle check: 0 new, 1 visiting, 2 done */
};

struct re_kind_db {
	struct hs_database *db;  /* NULL when the kind has no Hyperscan pattern */
	size_t *pcre_atoms;      /* atoms of this kind that fell back */
	size_t n_pcre;
	bool used;               /* some atom has this kind */
};

struct re_module {
	struct scan_engine *eng;
	struct re_rule *rules;
	size_t n_rules, cap_rules;
	struct re_atom *atoms;
	size_t n_atoms, cap_atoms;
	struct strmap *atom_index;   /* dedup key -> atom index + 1 */
	struct strmap *rule_index;   /* name -> rule index + 1 */
	struct strmap *header_names; /* header names of header-kind atoms */
	struct re_operand **ops;
	size_t n_ops, cap_ops;
	struct re_kind_db kinds[RE_KIND_COUNT];
	char *cache_dir;             /* <dbdir>/hs_cache or NULL */
	bool finalized;
	struct re_engine_stats stats;
	/* per process, made on first scan (never in the parent) */
	struct hs_scratch *scratch;
	pid_t scratch_pid;
	void *match_data;            /* pcre2_match_data * */
	void *match_ctx;             /* pcre2_match_context * */
};

/* re_atom.c */
const char *re_kind_name(enum re_kind kind);
/*
 * Parses a regexp atom `[Header=]/pattern/flags[{type}]` into `atom`
 * (strings heap-allocated). Returns 0 or -1 with a heap *error_r.
 */
int re_atom_parse(const char *text, size_t len, struct re_atom *atom, char **error_r);
/* Dedup key of a parsed atom (heap). */
char *re_atom_key(const struct re_atom *atom);
/* Parses `name(args)`; 0 or -1 with a heap *error_r. */
int re_func_parse(const char *text, size_t len, struct re_operand *op, char **error_r);

/* re_compile.c: builds kinds[] for every atom (cache, compile, fallback). */
int re_compile_all(struct re_module *mod, char **error_r);
void re_compile_free(struct re_module *mod);

/* re_scan.c */
double re_rule_eval(struct re_module *mod, struct re_rule *rule, struct scan_task *task);

#endif
