/*
 * mailbox_quota.h - the quota of one mailbox: the user's own quota_bytes
 * from the users table when set, else mta.conf's quota_rule (Dovecot's
 * `*:storage=1G`), shared by the SMTP server (552 5.2.2 at RCPT) and the
 * queue manager (at delivery).
 */
#ifndef WORKER_MAILBOX_QUOTA_H
#define WORKER_MAILBOX_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "store/quota.h"

struct mta_settings;

/* false when no limit applies. */
bool mailbox_quota_limit(const struct mta_settings *mta, uint64_t user_quota,
    struct quota_limit *limit_r);

#endif
