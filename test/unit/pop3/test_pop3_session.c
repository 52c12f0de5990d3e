/*
 * test_pop3_session.c - POP3 sessions over a socketpair on a temporary
 * Maildir: greeting, CAPA, USER/PASS and AUTH PLAIN (inline and with a
 * continuation), STAT/LIST/UIDL, RETR with byte stuffing and bare LFs,
 * TOP, DELE/RSET, QUIT expunging, a dropped connection keeping
 * everything, the maildrop lock, pipelining, big messages streamed, the
 * error limit and over-long lines. The auth hook answers inline or, with
 * `async`, from the next loop step.
 */
#include <dirent.h>
#include <ev.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "pop3/pop3_session.h"
#include "store/maildir.h"
#include "test.h"

static char root[256];

struct fx {
	struct ev_loop *loop;
	int cfd;
	struct pop3_session *s;
	struct pop3_settings set;
	bool async, closed, pending;
	bool eof;          /* the client read EOF: the server hung up */
	enum pop3_auth_result result;
	char user_seen[128];
	struct buf in;
};

static void
fx_answer(struct fx *x)
{
	x->pending = false;
	pop3_session_auth_done(x->s, x->result, NULL, x->result == POP3_AUTH_OK ? root : NULL);
}

static void
fx_auth(struct pop3_session *s, const char *user, const char *pass, const char *ip, void *ud)
{
	struct fx *x = ud;

	(void)s;
	(void)ip;
	snprintf(x->user_seen, sizeof(x->user_seen), "%s", user);
	if (strcmp(user, "temp") == 0)
		x->result = POP3_AUTH_TEMPFAIL;
	else if (strcmp(user, "blocked") == 0)
		x->result = POP3_AUTH_BLOCKED;
	else if (strcmp(user, "u@example.com") == 0 && strcmp(pass, "secret word") == 0)
		x->result = POP3_AUTH_OK;
	else
		x->result = POP3_AUTH_FAILED;
	x->pending = true;
	if (!x->async)
		fx_answer(x);
}

static void
fx_closed(struct pop3_session *s, void *ud)
{
	struct fx *x = ud;

	(void)s;
	x->closed = true;
	x->s = NULL;
}

static const struct pop3_hooks fx_hooks = { fx_auth, fx_closed };

static void
fx_start(struct fx *x, bool plaintext, bool async)
{
	int sv[2];

	memset(x, 0, sizeof(*x));
	x->set.auth_plaintext_loopback = plaintext;
	x->set.timeout = 5;
	x->async = async;
	x->loop = ev_loop_new(EVFLAG_AUTO);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	x->cfd = sv[1];
	fcntl(x->cfd, F_SETFL, O_NONBLOCK);
	buf_init(&x->in, 0);
	x->s = pop3_session_new(x->loop, sv[0], &x->set, &fx_hooks, x, NULL);
}

static void
fx_pump(struct fx *x)
{
	char tmp[65536];
	ssize_t n;

	if (x->pending && x->async && x->s != NULL)
		fx_answer(x);
	ev_run(x->loop, EVRUN_NOWAIT);
	while ((n = read(x->cfd, tmp, sizeof(tmp))) > 0)
		buf_append(&x->in, tmp, (size_t)n);
	if (n == 0)
		x->eof = true;
	else
		poll(NULL, 0, 1);
}

/*
 * Complete responses in `in` for the shapes in `want` ('s' single line,
 * 'm' multi-line when +OK): true when all are there.
 */
static bool
responses_done(const struct buf *in, const char *want)
{
	const char *p = in->data, *end = in->data + in->len;

	for (; *want != '\0'; want++) {
		const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		bool multi = *want == 'm' && nl != NULL && strncmp(p, "+OK", 3) == 0;

		if (nl == NULL)
			return false;
		p = nl + 1;
		while (multi) {
			nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
			if (nl == NULL)
				return false;
			multi = !(nl - p == 2 && p[0] == '.');
			p = nl + 1;
		}
	}
	return true;
}

/* Sends `data` (may be NULL), waits for the responses; returns them
 * (heap copy kept in a static, freed next call). */
static const char *
fx_cmd(struct fx *x, const char *data, const char *want)
{
	static char *out;
	size_t len = data != NULL ? strlen(data) : 0, off = 0;

	for (int i = 0; i < 5000 && (off < len || !responses_done(&x->in, want)); i++) {
		if (off < len) {
			ssize_t w = write(x->cfd, data + off, len - off);

			if (w > 0)
				off += (size_t)w;
		}
		fx_pump(x);
		if ((x->closed || x->eof) && off >= len) {
			fx_pump(x);
			break;
		}
	}
	free(out);
	out = malloc(x->in.len + 1);
	memcpy(out, x->in.data != NULL ? x->in.data : "", x->in.len);
	out[x->in.len] = '\0';
	buf_reset(&x->in);
	return out;
}

static void
fx_stop(struct fx *x)
{
	if (x->cfd >= 0)
		close(x->cfd);
	x->cfd = -1;
	for (int i = 0; i < 5000 && !x->closed; i++)
		ev_run(x->loop, EVRUN_NOWAIT), poll(NULL, 0, 1);
	buf_deinit(&x->in);
	ev_loop_destroy(x->loop);
}

static bool
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
deliver(const char *msg)
{
	struct maildir_target t = { root, NULL, false };
	const char *err;

	if (maildir_deliver(&t, msg, strlen(msg), NULL, 0, &err) < 0)
		abort();
}

static size_t
count_files(void)
{
	const char *subs[] = { "cur", "new" };
	size_t n = 0;

	for (size_t i = 0; i < 2; i++) {
		char path[400];
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/%s", root, subs[i]);
		d = opendir(path);
		while (d != NULL && (de = readdir(d)) != NULL)
			n += de->d_name[0] != '.';
		if (d != NULL)
			closedir(d);
	}
	return n;
}

/* Whether the one message left in cur/ carries the Maildir S flag. */
static bool
seen_flag(void)
{
	char path[400];
	DIR *d;
	struct dirent *de;
	bool seen = false;

	snprintf(path, sizeof(path), "%s/cur", root);
	d = opendir(path);
	while (d != NULL && (de = readdir(d)) != NULL) {
		const char *info = strstr(de->d_name, ":2,");

		if (info != NULL && strchr(info, 'S') != NULL)
			seen = true;
	}
	if (d != NULL)
		closedir(d);
	return seen;
}

static const char msg1[] = "Subject: one\r\nFrom: a@b\r\n\r\nline 1\r\n.dot line\r\n..two\r\n.\r\nend\r\n";
static const char msg2[] = "Subject: two\nFrom: c@d\n\nbare LF body\n.x\n";

static void
login(struct fx *x)
{
	(void)fx_cmd(x, "USER u@example.com\r\n", "s");
	(void)fx_cmd(x, "PASS secret word\r\n", "s");
}

static void
test_greeting_capa(void)
{
	struct fx x;
	const char *r;

	test_begin("pop3 greeting, CAPA, USER refused without TLS");
	fx_start(&x, false, false);
	r = fx_cmd(&x, NULL, "s");
	test_assert(strcmp(r, "+OK POP3 ready\r\n") == 0);
	r = fx_cmd(&x, "CAPA\r\n", "m");
	test_assert(starts(r, "+OK") && strstr(r, "\r\nTOP\r\n") && strstr(r, "\r\nUIDL\r\n"));
	test_assert(strstr(r, "RESP-CODES") && strstr(r, "PIPELINING") && strstr(r, "AUTH-RESP-CODE"));
	test_assert(strstr(r, "\r\nUSER\r\n") == NULL && strstr(r, "SASL") == NULL);
	test_assert(strstr(r, "STLS") == NULL); /* no TLS context */
	r = fx_cmd(&x, "USER u@example.com\r\n", "s");
	test_assert(starts(r, "-ERR [AUTH]"));
	r = fx_cmd(&x, "AUTH PLAIN AHVAZXhhbXBsZS5jb20Ac2VjcmV0IHdvcmQ=\r\n", "s");
	test_assert(starts(r, "-ERR [AUTH]"));
	r = fx_cmd(&x, "STAT\r\n", "s");
	test_assert(starts(r, "-ERR"));
	r = fx_cmd(&x, "QUIT\r\n", "s");
	test_assert(starts(r, "+OK"));
	(void)fx_cmd(&x, NULL, "ss");
	test_assert(x.eof);
	fx_stop(&x);

	fx_start(&x, true, false);
	(void)fx_cmd(&x, NULL, "s");
	r = fx_cmd(&x, "capa\r\n", "m");
	test_assert(strstr(r, "\r\nUSER\r\n") && strstr(r, "\r\nSASL PLAIN\r\n"));
	fx_stop(&x);
	test_end();
}

static void
test_auth(bool async)
{
	struct fx x;
	const char *r;

	test_begin(async ? "pop3 auth (async answers)" : "pop3 auth");
	fx_start(&x, true, async);
	(void)fx_cmd(&x, NULL, "s");
	r = fx_cmd(&x, "PASS x\r\n", "s");
	test_assert(starts(r, "-ERR"));
	(void)fx_cmd(&x, "USER u@example.com\r\n", "s");
	r = fx_cmd(&x, "PASS wrong\r\n", "s");
	test_assert(starts(r, "-ERR [AUTH] "));
	r = fx_cmd(&x, "PASS secret word\r\n", "s");
	test_assert(starts(r, "-ERR")); /* USER again first */
	(void)fx_cmd(&x, "USER temp\r\n", "s");
	r = fx_cmd(&x, "PASS x\r\n", "s");
	test_assert(starts(r, "-ERR [SYS/TEMP]"));
	/* AUTH PLAIN with a continuation, then cancelled, then inline. */
	r = fx_cmd(&x, "AUTH PLAIN\r\n", "s");
	test_assert(strcmp(r, "+ \r\n") == 0);
	r = fx_cmd(&x, "*\r\n", "s");
	test_assert(starts(r, "-ERR"));
	r = fx_cmd(&x, "AUTH PLAIN\r\n", "s");
	r = fx_cmd(&x, "AHVAZXhhbXBsZS5jb20Ac2VjcmV0IHdvcmQ=\r\n", "s");
	test_assert(strcmp(r, "+OK Logged in\r\n") == 0);
	test_assert(strcmp(x.user_seen, "u@example.com") == 0);
	r = fx_cmd(&x, "USER x\r\n", "s");
	test_assert(starts(r, "-ERR"));
	r = fx_cmd(&x, "QUIT\r\n", "s");
	test_assert(starts(r, "+OK"));
	fx_stop(&x);

	fx_start(&x, true, async);
	(void)fx_cmd(&x, NULL, "s");
	r = fx_cmd(&x, "AUTH PLAIN AHVAZXhhbXBsZS5jb20Ac2VjcmV0IHdvcmQ=\r\n", "s");
	test_assert(strcmp(r, "+OK Logged in\r\n") == 0);
	r = fx_cmd(&x, "QUIT\r\n", "s");
	fx_stop(&x);

	fx_start(&x, true, async);
	(void)fx_cmd(&x, NULL, "s");
	(void)fx_cmd(&x, "USER blocked\r\n", "s");
	r = fx_cmd(&x, "PASS x\r\n", "s");
	test_assert(starts(r, "-ERR [AUTH]"));
	(void)fx_cmd(&x, NULL, "ss");
	test_assert(x.eof);
	fx_stop(&x);
	test_end();
}

static void
test_transaction(void)
{
	struct fx x;
	const char *r;
	char want[512], uidl1[128];

	test_begin("pop3 STAT LIST UIDL RETR TOP");
	fx_start(&x, true, false);
	(void)fx_cmd(&x, NULL, "s");
	login(&x);
	r = fx_cmd(&x, "STAT\r\n", "s");
	snprintf(want, sizeof(want), "+OK 2 %zu\r\n", strlen(msg1) + strlen(msg2) + 5);
	test_assert(strcmp(r, want) == 0);
	r = fx_cmd(&x, "LIST\r\n", "m");
	snprintf(want, sizeof(want), "+OK 2 messages (%zu octets)\r\n1 %zu\r\n2 %zu\r\n.\r\n",
	    strlen(msg1) + strlen(msg2) + 5, strlen(msg1), strlen(msg2) + 5);
	test_assert(strcmp(r, want) == 0);
	r = fx_cmd(&x, "LIST 2\r\n", "s");
	snprintf(want, sizeof(want), "+OK 2 %zu\r\n", strlen(msg2) + 5);
	test_assert(strcmp(r, want) == 0);
	r = fx_cmd(&x, "LIST 3\r\n", "s");
	test_assert(starts(r, "-ERR"));
	r = fx_cmd(&x, "UIDL 1\r\n", "s");
	test_assert(starts(r, "+OK 1 ") && strlen(r) > 10);
	snprintf(uidl1, sizeof(uidl1), "%s", r + 4);
	r = fx_cmd(&x, "UIDL\r\n", "m");
	test_assert(strstr(r, uidl1) != NULL);
	r = fx_cmd(&x, "RETR 1\r\n", "m");
	snprintf(want, sizeof(want), "+OK %zu octets\r\nSubject: one\r\nFrom: a@b\r\n\r\n"
	    "line 1\r\n..dot line\r\n...two\r\n..\r\nend\r\n.\r\n", strlen(msg1));
	test_assert(strcmp(r, want) == 0);
	r = fx_cmd(&x, "RETR 2\r\n", "m");
	test_assert(strstr(r, "\r\n\r\nbare LF body\r\n..x\r\n.\r\n") != NULL);
	r = fx_cmd(&x, "TOP 1 0\r\n", "m");
	test_assert(strcmp(r, "+OK Top of message follows\r\nSubject: one\r\nFrom: a@b\r\n\r\n.\r\n") == 0);
	r = fx_cmd(&x, "TOP 1 2\r\n", "m");
	test_assert(strstr(r, "\r\n\r\nline 1\r\n..dot line\r\n.\r\n") != NULL);
	r = fx_cmd(&x, "TOP 1 x\r\n", "s");
	test_assert(starts(r, "-ERR"));
	r = fx_cmd(&x, "RETR 0\r\n", "s");
	test_assert(starts(r, "-ERR"));
	r = fx_cmd(&x, "NOOP\r\n", "s");
	test_assert(strcmp(r, "+OK\r\n") == 0);
	r = fx_cmd(&x, "CAPA\r\n", "m");
	test_assert(strstr(r, "USER") == NULL);
	r = fx_cmd(&x, "USER x\r\n", "s");
	test_assert(starts(r, "-ERR"));
	/* Pipelined: answers in order. */
	r = fx_cmd(&x, "STAT\r\nLIST 1\r\nTOP 2 0\r\nNOOP\r\n", "ssms");
	test_assert(starts(r, "+OK 2 ") && strstr(r, "\r\n+OK 1 ") &&
	    strstr(r, "\r\n.\r\n+OK\r\n") != NULL);
	test_assert(!seen_flag());
	r = fx_cmd(&x, "QUIT\r\n", "s");
	test_assert(starts(r, "+OK"));
	fx_stop(&x);
	test_assert(count_files() == 2);
	/* Retrieved messages are \Seen for IMAP clients after QUIT. */
	test_assert(seen_flag());

	/* UIDL is stable across sessions. */
	fx_start(&x, true, false);
	(void)fx_cmd(&x, NULL, "s");
	login(&x);
	r = fx_cmd(&x, "UIDL 1\r\n", "s");
	test_assert(strcmp(r + 4, uidl1) == 0);
	(void)fx_cmd(&x, "QUIT\r\n", "s");
	fx_stop(&x);
	test_end();
}

static void
test_dele(void)
{
	struct fx x, y;
	const char *r;

	test_begin("pop3 DELE, RSET, QUIT, drop, lock");
	fx_start(&x, true, false);
	(void)fx_cmd(&x, NULL, "s");
	login(&x);
	r = fx_cmd(&x, "DELE 1\r\n", "s");
	test_assert(starts(r, "+OK"));
	r = fx_cmd(&x, "DELE 1\r\n", "s");
	test_assert(starts(r, "-ERR"));
	r = fx_cmd(&x, "RETR 1\r\n", "s");
	test_assert(starts(r, "-ERR"));
	r = fx_cmd(&x, "STAT\r\n", "s");
	test_assert(starts(r, "+OK 1 "));
	r = fx_cmd(&x, "LIST\r\n", "m");
	test_assert(strstr(r, "\r\n1 ") == NULL && strstr(r, "\r\n2 ") != NULL);

	/* A second session meanwhile: the maildrop is locked. */
	fx_start(&y, true, false);
	(void)fx_cmd(&y, NULL, "s");
	(void)fx_cmd(&y, "USER u@example.com\r\n", "s");
	r = fx_cmd(&y, "PASS secret word\r\n", "s");
	test_assert(starts(r, "-ERR [IN-USE]"));
	fx_stop(&y);

	r = fx_cmd(&x, "RSET\r\n", "s");
	test_assert(starts(r, "+OK Maildrop has 2 messages"));
	r = fx_cmd(&x, "DELE 2\r\n", "s");
	/* Dropped: nothing deleted, lock released. */
	fx_stop(&x);
	test_assert(count_files() == 2);

	fx_start(&x, true, false);
	(void)fx_cmd(&x, NULL, "s");
	login(&x);
	r = fx_cmd(&x, "STAT\r\n", "s");
	test_assert(starts(r, "+OK 2 "));
	(void)fx_cmd(&x, "DELE 1\r\n", "s");
	r = fx_cmd(&x, "QUIT\r\n", "s");
	test_assert(starts(r, "+OK"));
	fx_stop(&x);
	test_assert(count_files() == 1);

	fx_start(&x, true, false);
	(void)fx_cmd(&x, NULL, "s");
	login(&x);
	r = fx_cmd(&x, "RETR 1\r\n", "m");
	test_assert(strstr(r, "Subject: two") != NULL);
	(void)fx_cmd(&x, "QUIT\r\n", "s");
	fx_stop(&x);
	test_assert(seen_flag());
	test_end();
}

static void
test_big_and_limits(void)
{
	struct fx x;
	const char *r;
	size_t n = 300000;
	char *big = malloc(n + 1), line[700];

	test_begin("pop3 big RETR, error limit, long lines");
	memcpy(big, "Subject: big\r\n\r\n", 16);
	for (size_t i = 16; i < n; i++)
		big[i] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n' : (i % 80 == 0) ? '.' : 'x';
	big[n] = '\0';
	deliver(big);
	fx_start(&x, true, false);
	(void)fx_cmd(&x, NULL, "s");
	login(&x);
	r = fx_cmd(&x, "RETR 2\r\nNOOP\r\n", "ms");
	test_assert(starts(r, "+OK 300000 octets") && strstr(r, "\r\n.\r\n+OK\r\n") != NULL);
	test_assert(strlen(r) > n && strstr(r, "\r\n..xxx") != NULL);
	memset(line, 'a', sizeof(line));
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	line[sizeof(line) - 1] = '\0';
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 3] = '\r';
	r = fx_cmd(&x, line, "s");
	test_assert(starts(r, "-ERR Line too long"));
	r = fx_cmd(&x, "NOOP\r\n", "s");
	test_assert(strcmp(r, "+OK\r\n") == 0);
	for (int i = 0; i < 9 && !x.closed; i++)
		r = fx_cmd(&x, "BOGUS\r\n", "s");
	(void)fx_cmd(&x, NULL, "ss");
	test_assert(x.eof);
	fx_stop(&x);
	test_assert(count_files() == 2);
	free(big);
	test_end();
}

int
main(void)
{
	char tmpl[] = "/tmp/pop3-test-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return 1;
	snprintf(root, sizeof(root), "%s/u", tmpl);
	deliver(msg1);
	deliver(msg2);
	test_greeting_capa();
	test_auth(false);
	test_auth(true);
	test_transaction();
	test_dele();
	test_big_and_limits();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
		if (system(cmd) != 0)
			return 1;
	}
	return test_exit();
}
