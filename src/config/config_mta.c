/*
 * config_mta.c - the `mta {}` section (local.d/mta.conf) as typed settings.
 *
 * Values come either as UCL scalars (`message_size_limit = 10240000;`,
 * `smtpd_timeout = 300s;`) or as the strings a main.cf line holds
 * (`smtpd_timeout = "300s"`, `mynetworks = "127.0.0.0/8 [::1]/128"`), so
 * an operator can paste Postfix parameters as they are. Postfix time
 * units are s, m, h, d, w; a bare number is seconds.
 */
#include "config/config_mta.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_private.h"
#include "core/str.h"
#include "core/xmalloc.h"

enum mta_kind { K_STRING, K_SIZE, K_COUNT, K_TIME, K_BOOL, K_NETWORKS, K_SECTION };

struct mta_param {
	const char *name;
	enum mta_kind kind;
	size_t offset;
};

#define P(name, kind) { #name, kind, offsetof(struct mta_settings, name) }

static const struct mta_param mta_params[] = {
	P(myhostname, K_STRING),
	P(mydomain, K_STRING),
	P(mynetworks, K_NETWORKS),
	P(message_size_limit, K_SIZE),
	P(smtpd_recipient_limit, K_COUNT),
	P(smtpd_client_connection_count_limit, K_COUNT),
	P(smtpd_client_connection_rate_limit, K_COUNT),
	P(smtpd_client_recipient_rate_limit, K_COUNT),
	P(anvil_rate_time_unit, K_TIME),
	P(smtpd_soft_error_limit, K_COUNT),
	P(smtpd_hard_error_limit, K_COUNT),
	P(smtpd_timeout, K_TIME),
	P(smtpd_tls_cert_file, K_STRING),
	P(smtpd_tls_key_file, K_STRING),
	P(smtpd_tls_protocols, K_STRING),
	P(smtpd_tls_auth_only, K_BOOL),
	P(smtpd_tls_auth_loopback, K_BOOL),
	P(mail_location, K_STRING),
	P(quota_rule, K_STRING),
	P(junk_folder, K_STRING),
	P(spam_subject_prefix, K_STRING),
	P(minimal_backoff_time, K_TIME),
	P(maximal_backoff_time, K_TIME),
	P(maximal_queue_lifetime, K_TIME),
	P(bounce_queue_lifetime, K_TIME),
	P(queue_run_delay, K_TIME),
	P(qmgr_message_active_limit, K_COUNT),
	P(delay_warning_time, K_TIME),
	P(relayhost, K_STRING),
	P(transport_maps, K_STRING),
	P(smtp_tls_security_level, K_STRING),
	P(smtp_tls_policy_maps, K_STRING),
	P(smtp_bind_address, K_STRING),
	P(smtp_destination_concurrency_limit, K_COUNT),
	P(smtp_destination_recipient_limit, K_COUNT),
	P(smtp_connect_timeout, K_TIME),
	P(smtp_helo_timeout, K_TIME),
	P(smtp_mail_timeout, K_TIME),
	P(smtp_rcpt_timeout, K_TIME),
	P(smtp_data_init_timeout, K_TIME),
	P(smtp_data_xfer_timeout, K_TIME),
	P(smtp_data_done_timeout, K_TIME),
	P(smtp_quit_timeout, K_TIME),
	P(hopcount_limit, K_COUNT),
	P(users, K_SECTION),
};

#undef P

static char *
default_hostname(void)
{
	char name[256];

	if (gethostname(name, sizeof(name) - 1) < 0 || name[0] == '\0')
		return xstrdup("localhost");
	name[sizeof(name) - 1] = '\0';
	return xstrdup(name);
}

static void
set_defaults(struct mta_settings *m, const struct config *cfg)
{
	m->myhostname = default_hostname();
	m->message_size_limit = 10240000;
	m->smtpd_recipient_limit = 1000;
	m->smtpd_client_connection_count_limit = 50;
	m->anvil_rate_time_unit = 60;
	m->smtpd_soft_error_limit = 10;
	m->smtpd_hard_error_limit = 20;
	m->smtpd_timeout = 300;
	m->smtpd_tls_protocols = xstrdup("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1");
	m->smtpd_tls_auth_only = true;
	m->mail_location = xasprintf("maildir:%s/mail/%%d/%%n",
	    cfg->state_dir != NULL ? cfg->state_dir : "./var");
	m->junk_folder = xstrdup("Junk");
	m->spam_subject_prefix = NULL;
	m->minimal_backoff_time = 300;
	m->maximal_backoff_time = 4000;
	m->maximal_queue_lifetime = 5 * 86400;
	m->bounce_queue_lifetime = 5 * 86400;
	m->queue_run_delay = 300;
	m->qmgr_message_active_limit = 20000;
	m->smtp_tls_security_level = xstrdup("may");
	m->smtp_destination_concurrency_limit = 20;
	m->smtp_destination_recipient_limit = 50;
	m->smtp_connect_timeout = 30;
	m->smtp_helo_timeout = 300;
	m->smtp_mail_timeout = 300;
	m->smtp_rcpt_timeout = 300;
	m->smtp_data_init_timeout = 120;
	m->smtp_data_xfer_timeout = 180;
	m->smtp_data_done_timeout = 600;
	m->smtp_quit_timeout = 300;
	m->hopcount_limit = 50;
}

/* "300s", "5m", "2h", "5d", "1w", "300" (seconds). */
static int
parse_postfix_time(const char *s, double *d_r)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || !isfinite(v) || v < 0)
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': v *= 60; break;
	case 'h': v *= 3600; break;
	case 'd': v *= 86400; break;
	case 'w': v *= 604800; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	*d_r = v;
	return 0;
}

static int
get_number(const struct obj *o, bool time, double *d_r)
{
	const char *s = obj_get_string(o);

	if (s != NULL)
		return time ? parse_postfix_time(s, d_r) : (obj_get_double(o, d_r));
	if (obj_get_double(o, d_r) < 0 || !isfinite(*d_r) || *d_r < 0)
		return -1;
	return 0;
}

static int
add_network(struct mta_settings *m, const char *word, size_t len)
{
	char text[128];
	struct netmask nm;
	size_t j = 0;

	if (len >= sizeof(text))
		return -1;
	/* Postfix writes IPv6 networks as [::1]/128. */
	for (size_t i = 0; i < len; i++) {
		if (word[i] != '[' && word[i] != ']')
			text[j++] = word[i];
	}
	text[j] = '\0';
	if (netmask_parse(text, &nm) < 0)
		return -1;
	m->mynetworks = xrealloc(m->mynetworks, (m->n_mynetworks + 1) * sizeof(nm));
	m->mynetworks[m->n_mynetworks++] = nm;
	return 0;
}

/* One string of networks separated by blanks or commas. */
static int
add_networks(struct mta_settings *m, const char *s)
{
	while (*s != '\0') {
		size_t n;

		s += strspn(s, " \t\r\n,");
		n = strcspn(s, " \t\r\n,");
		if (n > 0 && add_network(m, s, n) < 0)
			return -1;
		s += n;
	}
	return 0;
}

static int
read_networks(const struct config *cfg, struct mta_settings *m, const struct obj *o,
    char **error_r)
{
	const struct obj *it = NULL, *v;

	m->n_mynetworks = 0;
	if (o->type == OBJ_ARRAY) {
		while ((v = obj_iter_values(o, &it)) != NULL) {
			if (obj_get_string(v) == NULL || add_networks(m, obj_get_string(v)) < 0)
				return config_error(cfg, v, error_r, "mynetworks: bad network");
		}
		return 0;
	}
	if (obj_get_string(o) == NULL || add_networks(m, obj_get_string(o)) < 0)
		return config_error(cfg, o, error_r,
		    "mynetworks: expected networks like \"127.0.0.0/8 [::1]/128\"");
	return 0;
}

static int
read_param(const struct config *cfg, struct mta_settings *m, const struct mta_param *p,
    const struct obj *o, char **error_r)
{
	char *field = (char *)m + p->offset;
	double d;
	bool b;

	switch (p->kind) {
	case K_STRING:
		if (obj_get_string(o) == NULL)
			return config_error(cfg, o, error_r, "%s must be a string", p->name);
		free(*(char **)field);
		*(char **)field = xstrdup(obj_get_string(o));
		return 0;
	case K_SIZE:
		if (get_number(o, false, &d) < 0 || d > (double)SIZE_MAX)
			return config_error(cfg, o, error_r, "%s must be a size in bytes", p->name);
		*(size_t *)field = (size_t)d;
		return 0;
	case K_COUNT:
		if (get_number(o, false, &d) < 0 || d > 1e9 || d != floor(d))
			return config_error(cfg, o, error_r, "%s must be a whole number", p->name);
		*(unsigned *)field = (unsigned)d;
		return 0;
	case K_TIME:
		if (get_number(o, true, &d) < 0)
			return config_error(cfg, o, error_r, "%s must be a time like 300s or 5d",
			    p->name);
		*(double *)field = d;
		return 0;
	case K_BOOL:
		if (obj_get_bool(o, &b) < 0)
			return config_error(cfg, o, error_r, "%s must be yes or no", p->name);
		*(bool *)field = b;
		return 0;
	case K_NETWORKS:
		return read_networks(cfg, m, o, error_r);
	case K_SECTION:
		if (o->type != OBJ_OBJECT)
			return config_error(cfg, o, error_r, "%s must be a section", p->name);
		*(const struct obj **)field = o;
		return 0;
	}
	return -1;
}

static const struct mta_param *
find_param(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(mta_params); i++) {
		if (strcmp(mta_params[i].name, name) == 0)
			return &mta_params[i];
	}
	return NULL;
}

static void
derive(struct mta_settings *m)
{
	const char *dot = strchr(m->myhostname, '.');

	if (m->mydomain == NULL)
		m->mydomain = xstrdup(dot != NULL && dot[1] != '\0' ? dot + 1 : m->myhostname);
	if (m->n_mynetworks == 0) {
		add_networks(m, "127.0.0.0/8 [::1]/128");
	}
}

int
mta_settings_load(const struct config *cfg, struct mta_settings **mta_r, char **error_r)
{
	struct mta_settings *m = xcalloc(1, sizeof(*m));
	const struct obj *sec = obj_lookup(cfg->root, "mta");

	*mta_r = NULL;
	set_defaults(m, cfg);
	if (sec != NULL && sec->type != OBJ_OBJECT) {
		mta_settings_free(&m);
		return config_error(cfg, sec, error_r, "'mta' must be a section");
	}
	for (const struct obj *o = sec != NULL ? obj_first(sec) : NULL; o != NULL; o = o->next) {
		const struct mta_param *p = find_param(o->key);

		if (p == NULL) {
			mta_settings_free(&m);
			return config_error(cfg, o, error_r, "mta: unknown parameter '%s'", o->key);
		}
		if (read_param(cfg, m, p, o, error_r) < 0) {
			mta_settings_free(&m);
			return -1;
		}
	}
	derive(m);
	*mta_r = m;
	return 0;
}

void
mta_settings_free(struct mta_settings **mta)
{
	struct mta_settings *m = *mta;

	if (m == NULL)
		return;
	free(m->myhostname);
	free(m->mydomain);
	free(m->mynetworks);
	free(m->smtpd_tls_cert_file);
	free(m->smtpd_tls_key_file);
	free(m->smtpd_tls_protocols);
	free(m->mail_location);
	free(m->quota_rule);
	free(m->junk_folder);
	free(m->spam_subject_prefix);
	free(m->relayhost);
	free(m->transport_maps);
	free(m->smtp_tls_security_level);
	free(m->smtp_tls_policy_maps);
	free(m->smtp_bind_address);
	free(m);
	*mta = NULL;
}

bool
mta_in_mynetworks(const struct mta_settings *mta, const char *ip)
{
	for (size_t i = 0; i < mta->n_mynetworks; i++) {
		if (netmask_match_text(&mta->mynetworks[i], ip))
			return true;
	}
	return false;
}
