/*
 * dkim_internal.h - shared between the dkim*.c and arc*.c files of src/auth only.
 */
#ifndef AUTH_DKIM_INTERNAL_H
#define AUTH_DKIM_INTERNAL_H

#include "auth/dkim.h"

struct buf;
struct config;
struct obj;
struct pool;

/*
 * Digest of the canonical signed headers (h= order, bottom-up per name,
 * skipping header index `self`) followed by `sigfield` (the signature
 * field with an empty b=, hashed without its CRLF). Returns the digest
 * length or -1.
 */
/*
 * Signing pieces shared by the DKIM signer and the ARC sealer.
 * dkim_expand_sign_headers: the h= list for this message from a
 * sign_headers spec ("(o)from:(x)sender:list-*"); `no_arc` leaves ARC
 * headers out (an ARC-Message-Signature never covers them).
 * dkim_append_hlist: "h=a:b:...;" folded at 72 columns.
 * dkim_sign_digest: RSA PKCS#1 v1.5 over a SHA-256 digest, or Ed25519 over
 * it (RFC 8463). dkim_append_b64_folded: b= in lines of 72 characters.
 * All return 0, or -1 on failure.
 */
int dkim_expand_sign_headers(struct pool *pool, const struct dkim_message *m,
    const char *spec, bool no_arc, struct dkim_sig *sig);
int dkim_append_hlist(struct buf *b, const struct dkim_sig *sig);
/*
 * Signing keys by path, per process, reloaded when the file changes (the
 * DKIM signer's and the ARC sealer's): NULL with a heap *error_r when the
 * file cannot be read or parsed.
 */
const struct dkim_privkey *dkim_key_cached(const char *path, char **error_r);
/* `tpl` with $domain, $selector and $DBDIR substituted, in `pool`. */
char *dkim_expand_key_path(struct pool *pool, const struct config *cfg, const char *tpl,
    const char *domain, const char *selector);
/* ARC-Authentication-Results, ARC-Message-Signature or ARC-Seal. */
bool dkim_is_arc_header(struct str name);
int dkim_sign_digest(const struct dkim_privkey *key, const unsigned char *dg, size_t dlen,
    unsigned char *sig, size_t *slen);
int dkim_append_b64_folded(struct buf *b, const unsigned char *sig, size_t slen);

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
