/*
 * quota.c - quota rules, Maildir++ usage, and the over-quota and warning
 * checks made at delivery.
 *
 * Usage is computed from scratch on every call rather than cached in a
 * maildirsize file: with sizes in the file names it is one readdir pass
 * per cur/ and new/, which measured a few milliseconds for 10,000
 * messages, and a cache is one more file that can disagree with the
 * mailbox after a crash or an IMAP client's expunge.
 *
 * Threshold arithmetic splits the limit into hundreds and a remainder, so
 * no percentage computation can overflow 64 bits even for absurd limits.
 */
#include "store/quota.h"

#include "core/common.h"
#include "core/str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
quota_size_parse(const char *text, uint64_t *bytes_r)
{
	uint64_t v = 0, mult = 1;
	const char *p = text;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (ascii_tolower(*p)) {
	case 'k': mult = 1024ULL; p++; break;
	case 'm': mult = 1024ULL * 1024; p++; break;
	case 'g': mult = 1024ULL * 1024 * 1024; p++; break;
	case 't': mult = 1024ULL * 1024 * 1024 * 1024; p++; break;
	default: break;
	}
	if (ascii_tolower(*p) == 'b')
		p++;
	if (*p != '\0' || (v != 0 && mult > UINT64_MAX / v))
		return -1;
	*bytes_r = v * mult;
	return 0;
}

/* One "key=value" setting of a rule, applied to *limit. */
static int
apply_setting(const char *setting, size_t len, struct quota_limit *limit,
    const char **error_r)
{
	char buf[64], *eq;
	uint64_t v;

	if (len == 0 || len >= sizeof(buf)) {
		*error_r = "empty or overlong quota setting";
		return -1;
	}
	memcpy(buf, setting, len);
	buf[len] = '\0';
	if (strcmp(buf, "ignore") == 0) {
		limit->storage = limit->messages = 0;
		return 0;
	}
	eq = strchr(buf, '=');
	if (eq == NULL) {
		*error_r = "quota setting without '='";
		return -1;
	}
	*eq++ = '\0';
	if (strcmp(buf, "storage") == 0 || strcmp(buf, "bytes") == 0) {
		if (quota_size_parse(eq, &v) < 0) {
			*error_r = "bad quota size";
			return -1;
		}
		limit->storage = v;
	} else if (strcmp(buf, "messages") == 0) {
		if (str_to_u64(str_from_cstr(eq), &v) < 0) {
			*error_r = "bad message count";
			return -1;
		}
		limit->messages = v;
	} else {
		*error_r = "unknown quota setting";
		return -1;
	}
	return 0;
}

int
quota_rule_parse(const char *rule, struct quota_limit *limit,
    const char **error_r)
{
	struct quota_limit next = *limit;
	const char *p, *colon;

	if (strcmp(rule, "none") == 0) {
		limit->storage = limit->messages = 0;
		return 0;
	}
	if (strncmp(rule, "*:", 2) != 0) {
		*error_r = "only the \"*\" quota rule is supported";
		return -1;
	}
	for (p = rule + 2;; p = colon + 1) {
		colon = strchr(p, ':');
		if (colon == NULL)
			colon = p + strlen(p);
		if (apply_setting(p, (size_t)(colon - p), &next, error_r) < 0)
			return -1;
		if (*colon == '\0')
			break;
	}
	*limit = next;
	return 0;
}

/* Size from ",S=<digits>" in a Maildir file name; -1 when absent. */
static int
name_size(const char *name, uint64_t *size_r)
{
	const char *s = strstr(name, ",S=");
	uint64_t v = 0;
	const char *p;

	if (s == NULL)
		return -1;
	for (p = s + 3; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s + 3 || (*p != '\0' && *p != ',' && *p != ':'))
		return -1;
	*size_r = v;
	return 0;
}

static int
count_dir(int parent, const char *sub, struct quota_usage *u)
{
	int fd = openat(parent, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		struct stat st;
		uint64_t size;

		if (de->d_name[0] == '.')
			continue;
		if (name_size(de->d_name, &size) < 0) {
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue; /* expunged meanwhile, or not a message */
			size = (uint64_t)st.st_size;
		}
		u->storage += size;
		u->messages++;
	}
	closedir(dir);
	return 0;
}

static int
count_maildir(int dirfd, struct quota_usage *u)
{
	if (count_dir(dirfd, "cur", u) < 0 || count_dir(dirfd, "new", u) < 0)
		return -1;
	return 0;
}

/* Every ".Folder" directory under the root (not "." and ".."). */
static int
count_folders(int rootfd, struct quota_usage *u)
{
	int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;
	int rc = 0;

	if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		int sub;

		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		sub = openat(rootfd, de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue; /* a dot-file, not a folder */
		rc = count_maildir(sub, u);
		close(sub);
	}
	closedir(dir);
	return rc;
}

int
quota_usage_compute(const char *root, struct quota_usage *usage_r)
{
	struct quota_usage u = { 0, 0 };
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0) {
		if (errno != ENOENT)
			return -1;
		*usage_r = u;
		return 0;
	}
	rc = count_maildir(fd, &u);
	if (rc == 0)
		rc = count_folders(fd, &u);
	close(fd);
	if (rc == 0)
		*usage_r = u;
	return rc;
}

enum quota_status
quota_check(const struct quota_usage *usage, const struct quota_limit *limit,
    uint64_t incoming_size)
{
	if (limit->storage != 0 &&
	    (usage->storage > limit->storage ||
	    incoming_size > limit->storage - usage->storage))
		return QUOTA_OVER_STORAGE;
	if (limit->messages != 0 && usage->messages >= limit->messages)
		return QUOTA_OVER_MESSAGES;
	return QUOTA_OK;
}

/* usage >= percent% of limit, without overflowing usage * 100. */
static bool
reaches(uint64_t usage, uint64_t limit, unsigned percent)
{
	uint64_t whole = limit / 100, rest = limit % 100;
	/* percent% of limit = whole * percent + rest * percent / 100 (rounded up) */
	uint64_t threshold = whole * percent + (rest * percent + 99) / 100;

	return usage >= threshold;
}

unsigned
quota_warning_needed(uint64_t old_usage, uint64_t new_usage, uint64_t limit)
{
	static const unsigned levels[] = { 95, 80 };
	size_t i;

	if (limit == 0)
		return 0;
	for (i = 0; i < ARRAY_SIZE(levels); i++) {
		if (reaches(new_usage, limit, levels[i]))
			return reaches(old_usage, limit, levels[i]) ? 0 : levels[i];
	}
	return 0;
}
