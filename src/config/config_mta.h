/*
 * config_mta.h - the mail core's settings: the `mta {}` section, which
 * operators write in local.d/mta.conf under Postfix's (and, for the
 * store, Dovecot's) parameter names, so a main.cf/dovecot.conf they bring
 * along translates line by line.
 *
 * The section is a closed set: a misspelt parameter is an error with its
 * file and line, found by `rspamadm configtest`. Sub-sections owned by
 * other modules (`users {}`) are passed through untouched.
 */
#ifndef CONFIG_CONFIG_MTA_H
#define CONFIG_CONFIG_MTA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/netaddr.h"

struct config;
struct obj;

struct mta_settings {
	char *myhostname;          /* banner, EHLO, Received:; default: FQDN of the host */
	char *mydomain;            /* default: myhostname minus its first label */
	struct netmask *mynetworks; /* relay without AUTH; default loopback only */
	size_t n_mynetworks;
	size_t message_size_limit; /* bytes; Postfix's default 10240000 */
	unsigned smtpd_recipient_limit;
	unsigned smtpd_client_connection_count_limit; /* 0 = none */
	unsigned smtpd_client_connection_rate_limit;  /* per anvil_rate_time_unit; 0 = none */
	unsigned smtpd_client_recipient_rate_limit;
	double anvil_rate_time_unit;                  /* seconds, 60 */
	unsigned smtpd_soft_error_limit, smtpd_hard_error_limit;
	double smtpd_timeout;
	char *smtpd_tls_cert_file, *smtpd_tls_key_file; /* default <state>/tls/ self-signed */
	char *smtpd_tls_protocols;
	bool smtpd_tls_auth_only;  /* AUTH only over TLS (yes) ... */
	bool smtpd_tls_auth_loopback; /* ... except from loopback when set */
	char *mail_location;       /* "maildir:<state>/mail/%d/%n" */
	char *quota_rule;          /* "*:storage=1G"; NULL: no quota */
	char *junk_folder;         /* "Junk" */
	char *spam_subject_prefix; /* rewrite subject when the action says so */
	/* queue */
	double minimal_backoff_time, maximal_backoff_time;
	double maximal_queue_lifetime, bounce_queue_lifetime;
	double queue_run_delay;
	double delay_warning_time;  /* 0: no delay warnings */
	unsigned qmgr_message_active_limit;
	/* outbound SMTP client */
	char *relayhost;            /* "[smarthost.example]:587", "mx.example", NULL */
	char *transport_maps;       /* file: "example.net smtp:[127.0.0.2]:2525" lines */
	char *smtp_tls_security_level; /* "none", "may" (default), "encrypt" */
	char *smtp_tls_policy_maps; /* file: "example.com encrypt" lines */
	char *smtp_bind_address;    /* source address for outbound connections */
	unsigned smtp_destination_concurrency_limit;
	unsigned smtp_destination_recipient_limit;
	double smtp_connect_timeout, smtp_helo_timeout, smtp_mail_timeout,
	    smtp_rcpt_timeout, smtp_data_init_timeout, smtp_data_xfer_timeout,
	    smtp_data_done_timeout, smtp_quit_timeout;
	unsigned hopcount_limit;    /* Received: headers before a loop is declared */
	const struct obj *users;   /* the users {} section or NULL (borrowed) */
};

/*
 * Reads cfg->root's `mta` section (absent: all defaults). -1 with a heap
 * "FILE:LINE: ..." in *error_r for a bad or unknown parameter.
 */
int mta_settings_load(const struct config *cfg, struct mta_settings **mta_r, char **error_r);
void mta_settings_free(struct mta_settings **mta);

/* Is `ip` (text) inside mynetworks? */
bool mta_in_mynetworks(const struct mta_settings *mta, const char *ip);

#endif
