/*
 * test_mailbox.c - the mailbox store: names, UIDs stable across reopen,
 * pickup of files dropped into new/, flags persisted in names, expunge
 * seen by another handle, append/copy/move UIDs, index rebuild, cache,
 * folders and the POP3 lock. Runs under a mkdtemp() directory.
 */
#include "core/common.h"
#include "core/str.h"
#include "store/mailbox.h"
#include "test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[64];

static void
drop(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	str_format(path, sizeof(path), "%s/new/%s", root, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void
test_names(void)
{
	char out[256];

	test_begin("names");
	test_assert(mailbox_name_to_dir("inbox", out, sizeof(out)) == 0 && out[0] == '\0');
	test_assert(mailbox_name_to_dir("A/b.c", out, sizeof(out)) == 0 &&
	    strcmp(out, "A.b%2Ec") == 0);
	test_assert(mailbox_dir_to_name("A.b%2Ec", out, sizeof(out)) == 0 &&
	    strcmp(out, "A/b.c") == 0);
	test_assert(mailbox_name_to_dir("../x", out, sizeof(out)) < 0);
	test_assert(mailbox_name_to_dir("a/../b", out, sizeof(out)) < 0);
	test_assert(mailbox_name_to_dir("", out, sizeof(out)) < 0);
	test_assert(mailbox_name_to_dir("a//b", out, sizeof(out)) < 0);
	test_assert(mailbox_name_to_dir("\x01", out, sizeof(out)) < 0);
	test_assert(mailbox_name_to_dir("\xff", out, sizeof(out)) < 0);
	test_assert(mailbox_name_to_dir("Entw\xc3\xbcrfe", out, sizeof(out)) == 0);
	test_assert(mailbox_dir_to_name("..", out, sizeof(out)) < 0);
	test_end();
}

static int
count_cb(uint32_t seq, void *ctx)
{
	(void)seq;
	(*(int *)ctx)++;
	return 0;
}

static void
expunge_cb(uint32_t seq, void *ctx)
{
	count_cb(seq, ctx);
}

static void
test_basic(void)
{
	struct mailbox *a, *b;
	struct mailbox_changes ch;
	const char *err;
	uint32_t uid, uidv, seq, uids[2];
	char *data;
	size_t len;
	int n = 0;

	test_begin("uids, pickup, flags, expunge");
	test_assert(mailbox_append(root, "INBOX", "Subject: 1\r\n\r\nx\r\n", 16,
	    MAIL_SEEN, NULL, 0, 1000000000, &uid, &uidv, &err) == 0 && uid == 1);
	drop("100.M1P1Q1.other", "Subject: 2\n\ny\n");
	test_assert(mailbox_open(root, "INBOX", 0, &a, &err) == 0);
	test_assert(mailbox_count(a) == 2);
	test_assert(mailbox_msg(a, 2)->uid == 2);
	test_assert(mailbox_msg(a, 1)->internal_date == 1000000000);
	test_assert((mailbox_msg(a, 1)->flags & MAIL_SEEN) != 0);
	test_assert(mailbox_msg(a, 2)->vsize == mailbox_msg(a, 2)->size + 3);
	test_assert(mailbox_read(a, 2, &data, &len, &err) == 0 && len == 14);
	free(data);
	seq = 2;
	test_assert(mailbox_set_flags(a, &seq, 1, MAILBOX_FLAGS_ADD,
	    MAIL_FLAGGED | MAIL_DELETED, 0, 0, NULL, NULL, NULL, &err) == 0);
	test_assert(strstr(mailbox_msg(a, 2)->file, ":2,FT") != NULL);
	test_assert(mailbox_open(root, "INBOX", 0, &b, &err) == 0);
	test_assert(mailbox_msg(b, 2)->uid == 2 &&
	    (mailbox_msg(b, 2)->flags & MAIL_FLAGGED) != 0);
	test_assert(mailbox_cache_put(a, 1, "envelope", "(NIL)", 5) == 0);
	{
		const char *v;

		test_assert(mailbox_cache_get(b, 1, "envelope", &v, &len) == 1 &&
		    len == 5 && memcmp(v, "(NIL)", 5) == 0);
	}
	test_assert(mailbox_expunge(a, NULL, 0, expunge_cb, &n, &err) == 0 && n == 1);
	test_assert(mailbox_sync(b, &ch, &err) == 0);
	test_assert(ch.n_expunged == 1 && ch.expunged[0] == 2 && mailbox_count(b) == 1);
	mailbox_changes_free(&ch);
	drop("200.M1P1Q1.other", "Subject: 3\n\nz\n");
	test_assert(mailbox_sync(b, &ch, &err) == 0 && ch.new_messages &&
	    mailbox_count(b) == 2 && mailbox_msg(b, 2)->uid == 3);
	mailbox_changes_free(&ch);
	test_assert(folders_create(root, "Arch/2024", &err) == 0);
	seq = 1;
	test_assert(mailbox_copy(b, &seq, 1, "Arch/2024", uids, &uidv, &err) == 0 &&
	    uids[0] == 1);
	seq = 2;
	test_assert(mailbox_move(b, &seq, 1, "Arch/2024", uids, &uidv, NULL, NULL, &err) == 0 &&
	    uids[0] == 2 && mailbox_count(b) == 1);
	mailbox_close(a);
	mailbox_close(b);
	test_end();
}

static void
test_rebuild(void)
{
	struct mailbox *a;
	const char *err;
	char path[256];
	FILE *f;

	test_begin("index rebuilt keeps UIDs");
	str_format(path, sizeof(path), "%s/.Arch.2024/rsm-index", root);
	f = fopen(path, "w");
	fputs("garbage\n", f);
	fclose(f);
	test_assert(mailbox_open(root, "Arch/2024", 0, &a, &err) == 0);
	test_assert(mailbox_count(a) == 2 && mailbox_msg(a, 1)->uid == 1 &&
	    mailbox_msg(a, 2)->uid == 2);
	mailbox_close(a);
	test_end();
}

static int
list_cb(const char *name, unsigned attrs, void *ctx)
{
	char *out = ctx;
	size_t len = strlen(out);

	str_format(out + len, 512 - len, "%s:%x ", name, attrs);
	return 0;
}

static void
test_folders(void)
{
	char out[512] = "";
	const char *err;
	struct mailbox_status st;
	struct mailbox *a;
	int fd, fd2, status, i;
	pid_t pid;

	test_begin("folders, pop3 lock, concurrent delivery");
	test_assert(folders_list(root, list_cb, out, &err) == 0);
	test_assert(strstr(out, "INBOX:") == out && strstr(out, "Arch:2 ") != NULL &&
	    strstr(out, "Junk:") != NULL);
	test_assert(folders_delete(root, "INBOX", &err) < 0);
	test_assert(folders_rename(root, "Arch", "Old", &err) == 0);
	test_assert(folders_status(root, "Old/2024", &st, &err) == 0 && st.messages == 2);
	test_assert(folders_delete(root, "Old", &err) == 0);
	test_assert(folders_status(root, "Old/2024", &st, &err) == 0);
	test_assert(folders_subscribe(root, "Old/2024", true, &err) == 0);
	test_assert(folders_subscribe(root, "Junk", false, &err) == 0);
	test_assert(mailbox_pop3_lock(root, &fd, &err) == 0);
	pid = fork();
	if (pid == 0)
		_exit(mailbox_pop3_lock(root, &fd2, &err) == 1 ? 0 : 1);
	waitpid(pid, &status, 0);
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	mailbox_pop3_unlock(fd);
	test_assert(mailbox_open(root, "INBOX", 0, &a, &err) == 0);
	pid = fork();
	if (pid == 0) {
		for (i = 0; i < 50; i++) {
			uint32_t u;

			if (mailbox_append(root, "INBOX", "S: x\r\n\r\n", 8, 0, NULL, 0,
			    0, &u, NULL, &err) < 0)
				_exit(1);
		}
		_exit(0);
	}
	for (i = 0; i < 200; i++)
		(void)mailbox_sync(a, NULL, &err);
	waitpid(pid, &status, 0);
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	test_assert(mailbox_sync(a, NULL, &err) == 0 && mailbox_count(a) == 51);
	for (i = 1; i < 51; i++)
		test_assert(mailbox_msg(a, (uint32_t)i + 1)->uid > mailbox_msg(a, (uint32_t)i)->uid);
	mailbox_close(a);
	test_end();
}

int
main(void)
{
	char cmd[128];

	str_lcpy(root, "/tmp/test_mailbox.XXXXXX", sizeof(root));
	if (mkdtemp(root) == NULL)
		abort();
	test_names();
	test_basic();
	test_rebuild();
	test_folders();
	if (str_format(cmd, sizeof(cmd), "rm -rf '%s'", root) > 0 && system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return test_exit();
}
