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

#endif
