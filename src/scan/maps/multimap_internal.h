/*
 * multimap_internal.h - what lists.c (the tutorial's whitelist/blacklist
 * sections and the whitelist module's rules) shares with multimap.c: one
 * rule description, from whichever syntax, turned into a registered rule.
 */
#ifndef SCAN_MAPS_MULTIMAP_INTERNAL_H
#define SCAN_MAPS_MULTIMAP_INTERNAL_H

#include <stdbool.h>

struct obj;
struct scan_engine;
struct mm_module;

struct mm_spec {
	const char *symbol;
	const char *type;         /* ip, from, rcpt, header, url, helo, hostname */
	const char *filter;       /* or NULL */
	const char *extract_from; /* smtp, mime, both, auto; NULL = smtp */
	const char *header;       /* for type header */
	const char *action;       /* or NULL: makes the rule a prefilter */
	const char *message;      /* or NULL */
	const char *description;  /* or NULL */
	const char *group;        /* NULL = "multimap" */
	double score;
	int priority;
	bool prefilter;
	bool regexp, glob;
	bool inactive;            /* registered symbol, rule never matches */
	const struct obj *map;    /* string or array of strings */
	const struct obj *where;  /* for error positions */
};

/* Registers the symbol and rule; -1 with a heap "FILE:LINE: ..." error. */
int mm_add_rule(struct scan_engine *eng, struct mm_module *mod,
    const struct mm_spec *spec, char **error_r);
/* "FILE:LINE: " prefix of an object for messages (static buffer). */
const char *mm_where(const struct obj *o);

/* Reads the whitelist {} and blacklist {} sections (lists.c). */
int mm_lists_init(struct scan_engine *eng, struct mm_module *mod,
    const struct obj *root, char **error_r);

#endif
