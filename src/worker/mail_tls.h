/*
 * mail_tls.h - the TLS server context of the mail workers (smtp,
 * submission, smtps, imap, imaps, pop3, pop3s): the certificate from
 * mta.conf (smtpd_tls_cert_file / smtpd_tls_key_file, Postfix's names,
 * shared by every mail protocol), else a self-signed one under
 * <state>/tls/.
 */
#ifndef WORKER_MAIL_TLS_H
#define WORKER_MAIL_TLS_H

struct config;
struct mta_settings;
struct ssl_ctx_st;

/*
 * NULL (logged under `component`) when no context could be made. The
 * self-signed certificate is made once for myhostname; workers starting
 * together serialize on <state>/tls/.lock so the second waits for the
 * first one's files. Free with tls_ctx_free().
 */
struct ssl_ctx_st *mail_tls_server_ctx(const struct config *cfg,
    const struct mta_settings *mta, const char *component);

#endif
