/*
 * test_maildir.c - Maildir++ delivery, folder creation, unique names,
 * mail_location expansion with hostile user names, quota rules, usage
 * and thresholds.
 *
 * Mailboxes live under a mkdtemp() directory removed at the end. The
 * usage test also prints how long computing the usage of a 10,000
 * message mailbox takes, with and without sizes in the file names.
 */
#include "core/common.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "store/maildir.h"
#include "store/quota.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmproot[64];

static void
setup(void)
{
	str_lcpy(tmproot, "/tmp/test_maildir.XXXXXX", sizeof(tmproot));
	if (mkdtemp(tmproot) == NULL)
		abort();
}

static void
teardown(void)
{
	char cmd[128];

	if (str_format(cmd, sizeof(cmd), "rm -rf '%s'", tmproot) > 0 &&
	    system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
}

static bool
exists(const char *root, const char *sub)
{
	char path[512];
	struct stat st;

	str_format(path, sizeof(path), "%s/%s", root, sub);
	return stat(path, &st) == 0;
}

static int
count_entries(const char *root, const char *sub)
{
	char path[512];
	struct dirent *de;
	int n = 0;
	DIR *d;

	str_format(path, sizeof(path), "%s/%s", root, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static bool
file_equals(const char *root, const char *sub, const char *name,
    const char *data, size_t len)
{
	char path[768];
	size_t got = 0;
	char *content;
	bool ok;

	str_format(path, sizeof(path), "%s/%s/%s", root, sub, name);
	content = test_read_file(path, &got);
	ok = content != NULL && got == len && memcmp(content, data, len) == 0;
	free(content);
	return ok;
}

static void
test_deliver(void)
{
	static const char msg[] = "From: a@b\r\nSubject: hi\r\n\r\nbody\r\n";
	struct maildir_target t = { .root = NULL };
	char root[128], name[MAILDIR_NAME_SIZE], sizetag[32];
	const char *error = NULL;
	size_t i;

	test_begin("delivery creates the mailbox and standard folders");
	str_format(root, sizeof(root), "%s/mail/example.com/alice", tmproot);
	t.root = root;
	t.folder = NULL;
	test_assert(maildir_deliver(&t, msg, sizeof(msg) - 1, name, sizeof(name),
	    &error) == 0);
	test_assert(file_equals(root, "new", name, msg, sizeof(msg) - 1));
	str_format(sizetag, sizeof(sizetag), ",S=%zu", sizeof(msg) - 1);
	test_assert(strstr(name, sizetag) != NULL && strchr(name, '/') == NULL);
	test_assert(exists(root, "cur") && exists(root, "tmp"));
	test_assert(count_entries(root, "tmp") == 0);
	for (i = 0; i < ARRAY_SIZE(maildir_std_folders); i++) {
		char sub[64];

		str_format(sub, sizeof(sub), ".%s/maildirfolder",
		    maildir_std_folders[i]);
		test_assert(exists(root, sub));
		str_format(sub, sizeof(sub), ".%s/new", maildir_std_folders[i]);
		test_assert(exists(root, sub));
	}
	test_assert(file_equals(root, ".", "subscriptions",
	    "Sent\nDrafts\nJunk\nTrash\n", 23));
	/* Junk, and a folder that does not exist yet. */
	t.folder = MAILDIR_FOLDER_JUNK;
	test_assert(maildir_deliver(&t, msg, 5, name, sizeof(name), &error) == 0);
	test_assert(file_equals(root, ".Junk/new", name, msg, 5));
	t.folder = "Archive.2024";
	test_assert(maildir_deliver(&t, msg, 0, name, sizeof(name), &error) == 0);
	test_assert(exists(root, ".Archive.2024/maildirfolder"));
	test_assert(count_entries(root, ".Archive.2024/new") == 1);
	test_end();
}

static void
test_bad_folders(void)
{
	static const char *const bad[] = { "../x", "a/b", ".hidden", "x.",
		"a..b", "..", "new", "tab\there" };
	struct maildir_target t = { .root = NULL };
	char root[128];
	const char *error = NULL;
	bool refused = true;
	size_t i;

	test_begin("invalid folder names are refused");
	str_format(root, sizeof(root), "%s/mail/example.com/bob", tmproot);
	t.root = root;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		t.folder = bad[i];
		if (maildir_folder_valid(bad[i]) ||
		    maildir_deliver(&t, "x", 1, NULL, 0, &error) == 0)
			refused = false;
	}
	test_assert(refused);
	test_assert(!exists(tmproot, "mail/example.com/x"));
	test_assert(maildir_folder_valid("Junk") && maildir_folder_valid("a.b"));
	test_end();
}

static int
strcmp_cb(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_unique_names(void)
{
	enum { N = 1000 };
	struct maildir_target t = { .root = NULL };
	char root[128], name[MAILDIR_NAME_SIZE];
	char **names = xcalloc(N, sizeof(*names));
	const char *error = NULL;
	bool ok = true, distinct = true;
	size_t i;

	test_begin("unique names under many deliveries");
	str_format(root, sizeof(root), "%s/mail/example.com/many", tmproot);
	t.root = root;
	t.folder = "";
	for (i = 0; i < N; i++) {
		if (maildir_deliver(&t, "m", 1, name, sizeof(name), &error) < 0)
			ok = false;
		names[i] = xstrdup(name);
	}
	qsort(names, N, sizeof(*names), strcmp_cb);
	for (i = 1; i < N; i++) {
		if (strcmp(names[i - 1], names[i]) == 0)
			distinct = false;
	}
	test_assert(ok && distinct);
	test_assert(count_entries(root, "new") == N);
	test_assert(count_entries(root, "tmp") == 0);
	for (i = 0; i < N; i++)
		free(names[i]);
	free(names);
	test_end();
}

static void
test_deliver_fd(void)
{
	static const char file[] = "HEADERmessage from the spool\r\nTRAILER";
	struct maildir_target t = { .root = NULL, .folder = "" };
	char root[128], path[160], name[MAILDIR_NAME_SIZE];
	const char *error = NULL;
	int fd;

	test_begin("delivery from an fd range");
	str_format(root, sizeof(root), "%s/mail/example.com/fd", tmproot);
	str_format(path, sizeof(path), "%s/source", tmproot);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	test_assert(fd >= 0 && write(fd, file, sizeof(file) - 1) ==
	    (ssize_t)(sizeof(file) - 1));
	t.root = root;
	test_assert(maildir_deliver_fd(&t, fd, 6, 24, name, sizeof(name),
	    &error) == 0);
	test_assert(file_equals(root, "new", name, file + 6, 24));
	/* A range past the end of the source is an error, not a short mail. */
	test_assert(maildir_deliver_fd(&t, fd, 6, 4000, name, sizeof(name),
	    &error) == -1);
	test_assert(count_entries(root, "new") == 1);
	test_assert(count_entries(root, "tmp") == 0);
	close(fd);
	test_end();
}

static bool
expands_to(const char *loc, const char *user, const char *want)
{
	char out[256];
	const char *error = NULL;

	return maildir_path_expand(loc, user, out, sizeof(out), &error) == 0 &&
	    strcmp(out, want) == 0;
}

static bool
refused(const char *loc, const char *user)
{
	char out[256];
	const char *error = NULL;

	return maildir_path_expand(loc, user, out, sizeof(out), &error) == -1 &&
	    error != NULL && out[0] == '\0';
}

static void
test_path_expand(void)
{
	const char *loc = "maildir:/var/mail/%d/%n";
	char small[8];
	const char *error;

	test_begin("mail_location expansion");
	test_assert(expands_to(loc, "alice@example.com", "/var/mail/example.com/alice"));
	test_assert(expands_to(loc, "Alice@Example.COM", "/var/mail/example.com/Alice"));
	test_assert(expands_to("/m/%Ld/%Ln", "Alice@Example.COM", "/m/example.com/alice"));
	test_assert(expands_to("maildir:/m/%u:LAYOUT=fs", "a@B.c", "/m/a@b.c"));
	test_assert(expands_to("/m/%n/100%%", "a@b", "/m/a/100%"));
	test_assert(expands_to("/m/%n", "\"x@y\"@b", "/m/\"x@y\""));
	test_assert(refused(loc, "../x@example.com"));
	test_assert(refused(loc, "a/b@example.com"));
	test_assert(refused(loc, ".hidden@example.com"));
	test_assert(refused(loc, "a..b@example.com"));
	test_assert(refused(loc, "x@.."));
	test_assert(refused(loc, "x@a/b"));
	test_assert(refused(loc, "x\n@example.com"));
	test_assert(refused(loc, "@example.com"));
	test_assert(refused(loc, "nodomain"));
	test_assert(refused(loc, ""));
	test_assert(refused("/m/%z", "a@b"));
	test_assert(refused("/m/%", "a@b"));
	test_assert(maildir_path_expand(loc, "alice@example.com", small,
	    sizeof(small), &error) == -1);
	test_end();
}

static void
test_quota_rules(void)
{
	struct quota_limit q = { 0, 0 };
	const char *error = NULL;
	uint64_t v = 0;

	test_begin("quota rules");
	test_assert(quota_rule_parse("*:storage=1G", &q, &error) == 0 &&
	    q.storage == 1024ULL * 1024 * 1024 && q.messages == 0);
	test_assert(quota_rule_parse("*:storage=500M", &q, &error) == 0 &&
	    q.storage == 500ULL * 1024 * 1024);
	test_assert(quota_rule_parse("*:messages=1000", &q, &error) == 0 &&
	    q.messages == 1000 && q.storage == 500ULL * 1024 * 1024);
	test_assert(quota_rule_parse("*:bytes=10k:messages=5", &q, &error) == 0 &&
	    q.storage == 10240 && q.messages == 5);
	test_assert(quota_rule_parse("*:storage=2GB", &q, &error) == 0 &&
	    q.storage == 2048ULL * 1024 * 1024);
	test_assert(quota_rule_parse("Trash:storage=+100M", &q, &error) == -1);
	test_assert(quota_rule_parse("*:storage=1X", &q, &error) == -1);
	test_assert(quota_rule_parse("*:storage=", &q, &error) == -1);
	test_assert(quota_rule_parse("*:color=red", &q, &error) == -1);
	test_assert(quota_rule_parse("*:storage=99999999999999999999", &q,
	    &error) == -1);
	test_assert(quota_rule_parse("*:storage=99999999999T", &q, &error) == -1);
	test_assert(q.storage == 2048ULL * 1024 * 1024 && q.messages == 5);
	test_assert(quota_rule_parse("*:ignore", &q, &error) == 0 &&
	    q.storage == 0 && q.messages == 0);
	test_assert(quota_size_parse("123", &v) == 0 && v == 123);
	test_end();
}

static void
test_quota_check(void)
{
	struct quota_limit q = { 1000, 10 };
	struct quota_usage u = { 900, 3 };

	test_begin("quota check and warning thresholds");
	test_assert(quota_check(&u, &q, 100) == QUOTA_OK);
	test_assert(quota_check(&u, &q, 101) == QUOTA_OVER_STORAGE);
	u.storage = 1200;
	test_assert(quota_check(&u, &q, 0) == QUOTA_OVER_STORAGE);
	u.storage = 0;
	u.messages = 10;
	test_assert(quota_check(&u, &q, 1) == QUOTA_OVER_MESSAGES);
	q.storage = q.messages = 0;
	test_assert(quota_check(&u, &q, UINT64_MAX) == QUOTA_OK);
	test_assert(quota_warning_needed(700, 799, 1000) == 0);
	test_assert(quota_warning_needed(700, 800, 1000) == 80);
	test_assert(quota_warning_needed(800, 900, 1000) == 0);
	test_assert(quota_warning_needed(900, 950, 1000) == 95);
	test_assert(quota_warning_needed(700, 960, 1000) == 95);
	test_assert(quota_warning_needed(950, 990, 1000) == 0);
	test_assert(quota_warning_needed(0, 1000, 0) == 0);
	test_assert(quota_warning_needed(0, UINT64_MAX, UINT64_MAX) == 95);
	test_assert(quota_warning_needed(0, 1, 1) == 95);
	test_end();
}

static void
make_files(const char *dir, int n, bool with_size)
{
	char path[512];
	int i, fd;

	for (i = 0; i < n; i++) {
		if (with_size)
			str_format(path, sizeof(path), "%s/%d.M1P1Q%d.host,S=100:2,S",
			    dir, i, i);
		else
			str_format(path, sizeof(path), "%s/%d.M1P1Q%d.host", dir, i, i);
		fd = open(path, O_WRONLY | O_CREAT, 0600);
		if (fd < 0 || (!with_size && write(fd, "0123456789", 10) != 10))
			abort();
		close(fd);
	}
}

static double
timed_usage(const char *root, struct quota_usage *u)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (quota_usage_compute(root, u) < 0)
		u->messages = UINT64_MAX;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) * 1e3 +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

static void
test_quota_usage(void)
{
	char root[128], dir[192];
	struct quota_usage u;
	double ms_named, ms_stat;
	const char *error = NULL;
	struct maildir_target t = { .root = NULL };

	test_begin("maildir usage, sizes from names and from stat");
	str_format(root, sizeof(root), "%s/mail/example.com/q", tmproot);
	test_assert(quota_usage_compute(root, &u) == 0 && u.messages == 0);
	t.root = root;
	t.folder = "";
	test_assert(maildir_deliver(&t, "12345", 5, NULL, 0, &error) == 0);
	t.folder = "Trash";
	test_assert(maildir_deliver(&t, "123", 3, NULL, 0, &error) == 0);
	test_assert(quota_usage_compute(root, &u) == 0);
	test_assert(u.storage == 8 && u.messages == 2);
	/* 10,000 messages spread over INBOX/cur and .Sent/cur. */
	str_format(dir, sizeof(dir), "%s/cur", root);
	make_files(dir, 5000, true);
	str_format(dir, sizeof(dir), "%s/.Sent/cur", root);
	make_files(dir, 5000, true);
	ms_named = timed_usage(root, &u);
	test_assert(u.messages == 10002 && u.storage == 8 + 10000 * 100);
	/* Names without S= fall back to stat(). */
	str_format(dir, sizeof(dir), "%s/.Drafts/cur", root);
	make_files(dir, 10000, false);
	ms_stat = timed_usage(root, &u);
	test_assert(u.messages == 20002 && u.storage == 8 + 10000 * 100 + 10000 * 10);
	printf("# usage of 10,002 messages (S= in names): %.2f ms; "
	    "with 10,000 more needing stat(): %.2f ms\n", ms_named, ms_stat);
	test_end();
}

int
main(void)
{
	setup();
	test_deliver();
	test_bad_folders();
	test_unique_names();
	test_deliver_fd();
	test_path_expand();
	test_quota_rules();
	test_quota_check();
	test_quota_usage();
	teardown();
	return test_exit();
}
