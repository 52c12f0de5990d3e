/*
 * tls.h - OpenSSL contexts for the mail core's TLS (conn_tls_accept(),
 * conn_tls_connect()) and the self-signed certificate `make run` uses.
 *
 * Protocol lists take Postfix's smtpd_tls_protocols syntax:
 * "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1" (exclusions) or ">=TLSv1.2" (a
 * minimum); NULL or "" means TLSv1.2 and later.
 */
#ifndef EVENT_TLS_H
#define EVENT_TLS_H

#include <stdbool.h>

struct ssl_ctx_st;

struct tls_server_opts {
	const char *cert_file;  /* PEM chain */
	const char *key_file;   /* PEM private key */
	const char *protocols;  /* see above */
	const char *ciphers;    /* OpenSSL cipher list (TLS <= 1.2), NULL: default */
};

/* -> NULL with a heap *error_r (caller frees). Free with tls_ctx_free(). */
struct ssl_ctx_st *tls_server_ctx_new(const struct tls_server_opts *o, char **error_r);
/* Client context; `verify` checks the peer's chain against `ca_file` (or
 * the system store when NULL). */
struct ssl_ctx_st *tls_client_ctx_new(bool verify, const char *ca_file,
    const char *protocols, char **error_r);
void tls_ctx_free(struct ssl_ctx_st **ctx);

/*
 * Writes a self-signed certificate for `hostname` (RSA-2048, 10 years,
 * subjectAltName DNS:hostname) and its key (mode 0600) when `cert_path`
 * does not exist yet. 0, or -1 with a heap *error_r.
 */
int tls_selfsigned_ensure(const char *cert_path, const char *key_path,
    const char *hostname, char **error_r);

#endif
