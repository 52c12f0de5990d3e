/*
 * psl.h - the public suffix list: organizational domain (eSLD) lookups.
 *
 * DMARC finds a policy at the organizational domain of the From domain and
 * relaxed alignment compares organizational domains; DKIM signing's
 * use_esld picks the signing domain the same way. The list is Debian's
 * publicsuffix file (PSL_DEFAULT_PATH), read once at engine init in the
 * main process (plain memory, inherited by workers).
 *
 * Matching follows the list's algorithm: the longest matching rule wins,
 * "*.x" matches any one label below x, "!y.x" (an exception) wins over any
 * other rule and makes the public suffix its parent, and a name matching no
 * rule has its last label as public suffix ("*" default rule). Comparison
 * is ASCII case-insensitive; non-ASCII rules of the list are also stored in
 * their A-label (xn--) form, so both spellings of a domain match.
 */
#ifndef AUTH_PSL_H
#define AUTH_PSL_H

#include <stddef.h>

#define PSL_DEFAULT_PATH "/usr/share/publicsuffix/public_suffix_list.dat"

struct psl;

/*
 * Parses the list text (the file format: one rule a line, "//" comments,
 * blank lines). Never fails: unparsable lines are skipped. Caller frees
 * with psl_free().
 */
struct psl *psl_parse(const char *text, size_t len);
/* Reads and parses `path`; NULL with a heap message in *error_r on error. */
struct psl *psl_load(const char *path, char **error_r);
void psl_free(struct psl **psl);
size_t psl_rule_count(const struct psl *psl);

/*
 * The process-wide list, loaded from PSL_DEFAULT_PATH on the first call of
 * psl_default_load() (idempotent; called by the engine init of the modules
 * that need it). psl_default() is NULL until then or when the file could
 * not be read (callers then treat every name as its own organizational
 * domain's child under the "*" rule only).
 */
int psl_default_load(char **error_r);
const struct psl *psl_default(void);

/*
 * The registrable domain (public suffix plus one label) of `domain`, as a
 * pointer into `domain` (a suffix of it), or NULL when `domain` is itself a
 * public suffix, is empty or has an empty label. A trailing dot of
 * `domain` is kept in the result. `psl` NULL means the "*" rule alone.
 */
const char *psl_registrable_domain(const struct psl *psl, const char *domain);

/*
 * The organizational domain as DMARC (RFC 7489 3.2) uses it: the
 * registrable domain, or `domain` itself when it has none (a public
 * suffix or a single label). Points into `domain`.
 */
const char *psl_org_domain(const struct psl *psl, const char *domain);

/* The public suffix of `domain` (points into it), NULL on an invalid name. */
const char *psl_public_suffix(const struct psl *psl, const char *domain);

#endif
