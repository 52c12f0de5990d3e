/*
 * quota.h - mailbox quotas the way Dovecot configures them
 * (`quota_rule = *:storage=1G`, `*:messages=10000`), usage of a Maildir++
 * mailbox, and the checks delivery makes: over quota (the caller answers
 * 552 5.2.2) and crossing the 80% / 95% warning thresholds (the caller
 * sends a warning message).
 */
#ifndef STORE_QUOTA_H
#define STORE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

/* 0 in a field means no limit on it. */
struct quota_limit {
	uint64_t storage; /* bytes */
	uint64_t messages;
};

struct quota_usage {
	uint64_t storage; /* bytes */
	uint64_t messages;
};

/*
 * Parses a size: digits with an optional unit B, k/K, M, G, T (powers of
 * 1024, an optional trailing 'B' as in "1GB"). -1 on junk or overflow.
 */
int quota_size_parse(const char *text, uint64_t *bytes_r);

/*
 * Applies one Dovecot quota_rule value to *limit: "*:storage=1G",
 * "*:messages=1000", "*:bytes=500M" (old name), several settings joined
 * by ':' ("*:storage=1G:messages=1000"), or "*:ignore"/"none" for no
 * limit. Only the "*" (all folders) rule is supported; per-folder rules
 * ("Trash:storage=+100M") are refused with -1, as are unknown keys.
 * On -1, *limit is unchanged and *error_r holds a static reason.
 */
int quota_rule_parse(const char *rule, struct quota_limit *limit,
    const char **error_r);

/*
 * Usage of the mailbox at root: every message file in cur/ and new/ of
 * INBOX and of each ".Folder". Sizes come from ",S=<n>" in the name
 * (written by maildir_deliver() and Dovecot); names without it are
 * stat()ed. A missing mailbox has zero usage. -1 on I/O errors.
 * Cost: one readdir pass per directory and no stat for S= names; no cache
 * file is kept (test_maildir prints the time for 10,000 messages).
 */
int quota_usage_compute(const char *root, struct quota_usage *usage_r);

enum quota_status {
	QUOTA_OK,
	QUOTA_OVER_STORAGE,  /* 552 5.2.2 */
	QUOTA_OVER_MESSAGES, /* 552 5.2.2 */
};

/* Would one more message of incoming_size bytes exceed the limit? */
enum quota_status quota_check(const struct quota_usage *usage,
    const struct quota_limit *limit, uint64_t incoming_size);

/*
 * The highest warning threshold (95 or 80, in percent of limit) that
 * old_usage was below and new_usage reaches; 0 when none was crossed or
 * limit is 0. A delivery that jumps from 70% to 96% gives 95 (one warning).
 */
unsigned quota_warning_needed(uint64_t old_usage, uint64_t new_usage,
    uint64_t limit);

#endif
