/*
 * mail_tls.c - the mail workers' TLS server context (see mail_tls.h),
 * one piece of code for SMTP, IMAP and POP3 so they all present the
 * same certificate.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_mta.h"
#include "core/xmalloc.h"
#include "event/tls.h"
#include "log/log.h"
#include "worker/mail_tls.h"

struct ssl_ctx_st *
mail_tls_server_ctx(const struct config *cfg, const struct mta_settings *mta,
    const char *component)
{
	struct tls_server_opts o = { mta->smtpd_tls_cert_file, mta->smtpd_tls_key_file,
		mta->smtpd_tls_protocols, NULL };
	char *cert = NULL, *key = NULL, *lock = NULL, *err = NULL;
	struct ssl_ctx_st *ctx = NULL;
	int fd = -1;

	if (o.cert_file == NULL || o.key_file == NULL) {
		cert = xasprintf("%s/tls/server.crt", cfg->state_dir);
		key = xasprintf("%s/tls/server.key", cfg->state_dir);
		lock = xasprintf("%s/tls/.lock", cfg->state_dir);
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			(void)flock(fd, LOCK_EX);
		if (tls_selfsigned_ensure(cert, key, mta->myhostname, &err) < 0)
			goto out;
		o.cert_file = cert;
		o.key_file = key;
	}
	ctx = tls_server_ctx_new(&o, &err);
out:
	if (ctx == NULL)
		log_error(component, NULL, "TLS disabled: %s", err != NULL ? err : "?");
	if (fd >= 0)
		close(fd);
	free(err);
	free(cert);
	free(key);
	free(lock);
	return ctx;
}
