/*
 * test_imap_session.c - the IMAP session over a socketpair with a
 * temporary Maildir: login rules, SELECT, FETCH, STORE, SEARCH, APPEND
 * with a literal, COPY/MOVE with junk learning, folder commands, IDLE
 * woken by a delivery, EXPUNGE and LOGOUT. The auth hook answers
 * synchronously (as SQLite does).
 */
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "imap/imap_session.h"
#include "store/maildir.h"
#include "test.h"

static struct ev_loop *loop;
static int client_fd = -1;
static struct buf got;          /* everything the client received */
static bool closed;
static unsigned learnt_spam, learnt_ham;
static char location[512], root[1024];

static void
hook_auth(struct imap_session *s, const char *user, const char *password, void *ud)
{
	(void)ud;
	if (strcmp(user, "joe@example.com") == 0 && strcmp(password, "secret") == 0)
		imap_session_auth_done(s, 1, user, NULL);
	else
		imap_session_auth_done(s, 0, NULL, NULL);
}

static void
hook_closed(struct imap_session *s, void *ud)
{
	(void)s;
	(void)ud;
	closed = true;
}

static void
learn(const char *data, size_t len, bool spam, const char *user)
{
	(void)data;
	(void)len;
	test_assert(strcmp(user, "joe@example.com") == 0);
	if (spam)
		learnt_spam++;
	else
		learnt_ham++;
}

static const struct imap_hooks hooks = { hook_auth, hook_closed };

/* Runs the loop until `want` appears in what the client got (or 5 s). */
static bool
wait_for(const char *want)
{
	for (int i = 0; i < 5000; i++) {
		char tmp[65536];
		ssize_t n;

		ev_run(loop, EVRUN_NOWAIT);
		while ((n = read(client_fd, tmp, sizeof(tmp))) > 0)
			buf_append(&got, tmp, (size_t)n);
		if (got.len > 0 && strstr(got.data, want) != NULL)
			return true;
		if (closed && n <= 0)
			break;
		usleep(1000);
	}
	fprintf(stderr, "did not see \"%s\" in:\n%s\n", want, got.data != NULL ? got.data : "");
	return false;
}

/* Sends a line and returns the output up to `want` (heap, caller frees). */
static char *
send_until(const char *line, const char *want)
{
	char *out;
	size_t n;

	buf_reset(&got);
	buf_putc(&got, '\n');
	if (line != NULL && write(client_fd, line, strlen(line)) < 0)
		return strdup("");
	if (!wait_for(want))
		return strdup("");
	out = buf_steal(&got, &n);
	buf_init(&got, 0);
	return out;
}

/* Sends a line and returns the output up to the tagged reply. */
static char *
cmd(const char *tag, const char *line)
{
	char want[64];

	(void)snprintf(want, sizeof(want), "\n%s ", tag);
	return send_until(line, want);
}

static bool
has(const char *text, const char *want)
{
	bool ok = strstr(text, want) != NULL;

	if (!ok)
		fprintf(stderr, "missing \"%s\" in:\n%s\n", want, text);
	return ok;
}

static void
deliver(const char *folder, const char *msg)
{
	struct maildir_target t = { root, folder, false };
	const char *err;

	test_assert(maildir_deliver(&t, msg, strlen(msg), NULL, 0, &err) == 0);
}

static struct imap_session *
start(const struct imap_settings *set)
{
	int sv[2];
	struct imap_session *s;

	test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	client_fd = sv[1];
	(void)fcntl(client_fd, F_SETFL, O_NONBLOCK);
	closed = false;
	buf_reset(&got);
	s = imap_session_new(loop, sv[0], set, &hooks, NULL, NULL);
	return s;
}

static void
stop(void)
{
	close(client_fd);
	for (int i = 0; i < 100 && !closed; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	test_assert(closed);
}

static const char msg1[] = "From: a@example.org\r\nTo: joe@example.com\r\n"
    "Subject: first\r\n\r\nHello one\r\n";
static const char msg2[] = "From: b@example.org\r\nTo: joe@example.com\r\n"
    "Subject: second\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
    "--XX\r\nContent-Type: text/plain\r\n\r\npart one\r\n--XX\r\n"
    "Content-Type: text/html\r\n\r\n<b>two</b>\r\n--XX--\r\n";

static void
test_login_rules(struct imap_settings *set)
{
	char *r;

	test_begin("plaintext login refused unless loopback is allowed");
	set->auth_plaintext_loopback = false;
	start(set);
	test_assert(wait_for("\r\n"));
	test_assert(has(got.data, "* OK [CAPABILITY IMAP4rev1"));
	test_assert(has(got.data, "LOGINDISABLED"));
	r = cmd("a1", "a1 LOGIN joe@example.com secret\r\n");
	test_assert(has(r, "a1 NO [PRIVACYREQUIRED]"));
	free(r);
	r = cmd("a2", "a2 SELECT INBOX\r\n");
	test_assert(has(r, "a2 BAD"));
	free(r);
	stop();
	set->auth_plaintext_loopback = true;
	test_end();
}

static void
test_login(void)
{
	char *r;

	test_begin("LOGIN and AUTHENTICATE PLAIN");
	test_assert(wait_for("\r\n"));
	test_assert(has(got.data, "AUTH=PLAIN"));
	r = cmd("b1", "b1 LOGIN joe@example.com wrong\r\n");
	test_assert(has(r, "b1 NO [AUTHENTICATIONFAILED]"));
	free(r);
	/* "\0joe@example.com\0secret" */
	r = send_until("b2 AUTHENTICATE PLAIN\r\n", "+ ");
	test_assert(has(r, "+ "));
	free(r);
	r = cmd("b2", "AGpvZUBleGFtcGxlLmNvbQBzZWNyZXQ=\r\n");
	test_assert(has(r, "b2 OK [CAPABILITY"));
	test_assert(has(r, "UIDPLUS MOVE SPECIAL-USE"));
	free(r);
	test_end();
}

static void
test_select_fetch(void)
{
	char *r, want[256];

	test_begin("SELECT, FETCH, STORE, SEARCH");
	deliver(NULL, msg1);
	deliver(NULL, msg2);
	r = cmd("c1", "c1 SELECT INBOX\r\n");
	test_assert(has(r, "* 2 EXISTS"));
	test_assert(has(r, "* 2 RECENT"));
	test_assert(has(r, "[UIDVALIDITY "));
	test_assert(has(r, "[UIDNEXT 3]"));
	test_assert(has(r, "c1 OK [READ-WRITE]"));
	free(r);
	r = cmd("c2", "c2 FETCH 1 (UID RFC822.SIZE FLAGS)\r\n");
	(void)snprintf(want, sizeof(want), "RFC822.SIZE %zu", sizeof(msg1) - 1);
	test_assert(has(r, "* 1 FETCH (") && has(r, "UID 1") && has(r, want));
	free(r);
	r = cmd("c3", "c3 FETCH 1 BODY.PEEK[]\r\n");
	(void)snprintf(want, sizeof(want), "BODY[] {%zu}\r\n%s)", sizeof(msg1) - 1, msg1);
	test_assert(has(r, want));
	free(r);
	r = cmd("c4", "c4 UID FETCH 2 BODY.PEEK[1]\r\n");
	test_assert(has(r, "part one"));
	free(r);
	r = cmd("c41", "c41 FETCH 2 (ENVELOPE BODYSTRUCTURE)\r\n");
	test_assert(has(r, "ENVELOPE (NIL \"second\"") && has(r, "\"MIXED\""));
	{
		/* the second time from the store's cache: the same text */
		char *again = cmd("c42", "c42 FETCH 2 (ENVELOPE BODYSTRUCTURE)\r\n");
		char *end1 = strstr(r, "\r\nc41 "), *end2 = strstr(again, "\r\nc42 ");

		test_assert(end1 != NULL && end2 != NULL && end1 - r == end2 - again &&
		    memcmp(r, again, (size_t)(end1 - r)) == 0);
		free(again);
	}
	free(r);
	r = cmd("c5", "c5 STORE 1 +FLAGS (\\Seen)\r\n");
	test_assert(has(r, "* 1 FETCH (FLAGS (\\Seen \\Recent))"));
	free(r);
	r = cmd("c6", "c6 SEARCH UNSEEN\r\n");
	test_assert(has(r, "* SEARCH 2\r\n"));
	free(r);
	r = cmd("c7", "c7 UID SEARCH SUBJECT first\r\n");
	test_assert(has(r, "* SEARCH 1\r\n"));
	free(r);
	test_end();
}

static void
test_append_copy(void)
{
	char *r;

	test_begin("APPEND with a literal, COPY and MOVE with junk learning");
	r = send_until("d1 APPEND INBOX (\\Flagged) {9}\r\n", "+ Ready");
	test_assert(has(r, "+ Ready for literal"));
	free(r);
	r = cmd("d1", "Subject:x\r\n");
	test_assert(has(r, "d1 OK [APPENDUID "));
	test_assert(has(r, "* 3 EXISTS"));
	free(r);
	r = cmd("d2", "d2 COPY 1 Junk\r\n");
	test_assert(has(r, "d2 OK [COPYUID "));
	free(r);
	test_assert(learnt_spam == 1 && learnt_ham == 0);
	r = cmd("d3", "d3 COPY 1 Nonexistent\r\n");
	test_assert(has(r, "d3 NO [TRYCREATE]"));
	free(r);
	r = cmd("d4", "d4 SELECT Junk\r\n");
	test_assert(has(r, "* 1 EXISTS"));
	free(r);
	r = cmd("d5", "d5 MOVE 1 Trash\r\n");
	test_assert(has(r, "* OK [COPYUID ") && has(r, "* 1 EXPUNGE") && has(r, "d5 OK"));
	free(r);
	test_assert(learnt_ham == 0);
	r = cmd("d6", "d6 SELECT Trash\r\n");
	test_assert(has(r, "* 1 EXISTS"));
	free(r);
	r = cmd("d7", "d7 MOVE 1 Junk\r\n");
	test_assert(has(r, "d7 OK"));
	free(r);
	test_assert(learnt_spam == 2);
	r = cmd("d8", "d8 SELECT Junk\r\n");
	free(r);
	r = cmd("d9", "d9 UID MOVE 1:* INBOX\r\n");
	test_assert(has(r, "d9 OK"));
	free(r);
	test_assert(learnt_ham == 1);
	test_end();
}

static void
test_folders(void)
{
	char *r;

	test_begin("LIST, CREATE, RENAME, DELETE, STATUS, bad names");
	r = cmd("e1", "e1 LIST \"\" \"*\"\r\n");
	test_assert(has(r, "* LIST (\\HasNoChildren) \"/\" \"INBOX\""));
	test_assert(has(r, "\\Junk) \"/\" \"Junk\""));
	test_assert(has(r, "\\Trash) \"/\" \"Trash\""));
	free(r);
	r = cmd("e2", "e2 CREATE Work/Projects\r\n");
	test_assert(has(r, "e2 OK"));
	free(r);
	r = cmd("e3", "e3 LIST \"\" %\r\n");
	test_assert(has(r, "(\\HasChildren) \"/\" \"Work\"") || has(r, "\\HasChildren) \"/\" \"Work\""));
	free(r);
	r = cmd("e4", "e4 RENAME Work Job\r\n");
	test_assert(has(r, "e4 OK"));
	free(r);
	r = cmd("e5", "e5 STATUS Job/Projects (MESSAGES UIDNEXT)\r\n");
	test_assert(has(r, "* STATUS \"Job/Projects\" (MESSAGES 0 UIDNEXT 1)"));
	free(r);
	r = cmd("e6", "e6 DELETE Job/Projects\r\n");
	test_assert(has(r, "e6 OK"));
	free(r);
	r = cmd("e7", "e7 CREATE ../../etc\r\n");
	test_assert(has(r, "e7 NO") || has(r, "e7 BAD"));
	free(r);
	r = cmd("e8", "e8 SELECT \"/etc\"\r\n");
	test_assert(has(r, "e8 NO") || has(r, "e8 BAD"));
	free(r);
	r = cmd("e9", "e9 GETQUOTAROOT INBOX\r\n");
	test_assert(has(r, "* QUOTAROOT \"INBOX\"") && has(r, "e9 OK"));
	free(r);
	r = cmd("e10", "e10 NAMESPACE\r\n");
	test_assert(has(r, "* NAMESPACE ((\"\" \"/\")) NIL NIL"));
	free(r);
	test_end();
}

static void
test_idle_expunge(void)
{
	char *r;

	test_begin("IDLE sees a delivery; EXPUNGE; LOGOUT");
	r = cmd("f1", "f1 SELECT INBOX\r\n");
	test_assert(has(r, "* 4 EXISTS"));
	free(r);
	buf_reset(&got);
	test_assert(write(client_fd, "f2 IDLE\r\n", 9) == 9);
	test_assert(wait_for("+ idling"));
	deliver(NULL, msg1);
	test_assert(wait_for("* 5 EXISTS"));
	r = cmd("f2", "DONE\r\n");
	test_assert(has(r, "f2 OK"));
	free(r);
	r = cmd("f3", "f3 STORE 2:3 +FLAGS.SILENT (\\Deleted)\r\n");
	test_assert(strstr(r, "FETCH") == NULL);
	free(r);
	r = cmd("f4", "f4 EXPUNGE\r\n");
	test_assert(has(r, "* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n") && has(r, "f4 OK"));
	free(r);
	r = cmd("f5", "f5 LOGOUT\r\n");
	test_assert(has(r, "* BYE") && has(r, "f5 OK"));
	free(r);
	stop();
	test_end();
}

int
main(void)
{
	char tmpl[] = "/tmp/test_imap_session.XXXXXX";
	struct imap_settings set;
	const char *err;
	char rm[1100];

	loop = ev_loop_new(EVFLAG_AUTO);
	buf_init(&got, 0);
	test_assert(mkdtemp(tmpl) != NULL);
	(void)snprintf(location, sizeof(location), "maildir:%s/%%d/%%n", tmpl);
	test_assert(maildir_path_expand(location, "joe@example.com", root, sizeof(root), &err) == 0);
	test_assert(maildir_create(root, &err) == 0);
	memset(&set, 0, sizeof(set));
	set.hostname = "test.example";
	set.mail_location = location;
	set.poll_interval = 0.05;
	set.learn = learn;
	test_login_rules(&set);
	set.auth_plaintext_loopback = true;
	start(&set);
	test_login();
	test_select_fetch();
	test_append_copy();
	test_folders();
	test_idle_expunge();
	(void)snprintf(rm, sizeof(rm), "rm -rf '%s'", tmpl);
	if (system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", tmpl);
	buf_deinit(&got);
	ev_loop_destroy(loop);
	return test_exit();
}
