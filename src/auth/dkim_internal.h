/*
 * dkim_internal.h - shared between the dkim*.c files of src/auth only.
 */
#ifndef AUTH_DKIM_INTERNAL_H
#define AUTH_DKIM_INTERNAL_H

#include "auth/dkim.h"

/*
 * Digest of the canonical signed headers (h= order, bottom-up per name,
 * skipping header index `self`) followed by `sigfield` (the signature
 * field with an empty b=, hashed without its CRLF). Returns the digest
 * length or -1.
 */
int dkim_header_digest(const struct dkim_message *m, const struct dkim_sig *sig,
    size_t self, struct str sigfield, unsigned char out[64]);

struct config;
struct obj;

/* Config lookups in section `section` ("dkim", "dkim_signing"); NULL or
 * `def` when absent. */
const struct obj *dkim_conf(const struct config *cfg, const char *section,
    const char *path);
bool dkim_conf_bool(const struct config *cfg, const char *section, const char *path,
    bool def);
/* Is `ip` in the list of CIDR strings (one string or an array)? */
bool dkim_ip_in_list(const struct obj *list, const char *ip);
/* Is `ip` in options.local_addrs? */
bool dkim_ip_is_local(const struct config *cfg, const char *ip);

#endif
