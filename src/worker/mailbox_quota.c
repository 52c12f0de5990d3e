/*
 * mailbox_quota.c - which quota applies to a mailbox.
 */
#include "worker/mailbox_quota.h"

#include <string.h>

#include "config/config_mta.h"
#include "log/log.h"

bool
mailbox_quota_limit(const struct mta_settings *mta, uint64_t user_quota,
    struct quota_limit *limit_r)
{
	const char *err = NULL;

	memset(limit_r, 0, sizeof(*limit_r));
	if (mta->quota_rule != NULL && quota_rule_parse(mta->quota_rule, limit_r, &err) < 0) {
		log_warn("quota", NULL, "quota_rule \"%s\" ignored: %s", mta->quota_rule, err);
		memset(limit_r, 0, sizeof(*limit_r));
	}
	if (user_quota != 0)
		limit_r->storage = user_quota;
	return limit_r->storage != 0 || limit_r->messages != 0;
}
