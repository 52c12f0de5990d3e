/*
 * smtp_test_fixture.h - a session on one end of a socketpair, a blocking
 * test client on the other, and fake owner hooks: auth accepts
 * "u@example.com"/"secret" ("temp" gives a temporary failure), rcpt
 * accepts @example.com, message answers "250 2.0.0 Ok: queued as X".
 * With `async` set, hooks answer from the loop instead of inside the
 * hook call. Shared by test_smtp_session.c and test_smtp_tls.c.
 */
#ifndef TEST_SMTP_FIXTURE_H
#define TEST_SMTP_FIXTURE_H

#include <ev.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "smtp/smtp_session.h"

enum fx_kind { FX_NONE, FX_AUTH, FX_MAIL, FX_RCPT, FX_MESSAGE };

struct fx {
	struct ev_loop *loop;
	int cfd;
	struct smtp_session *s;
	struct smtp_settings set;
	bool async;
	bool closed;
	enum fx_kind pending;
	int auth_result;
	const struct smtp_reply *reply;
	struct smtp_reply reply_store;
	char *msg;
	size_t msg_len;
	size_t n_rcpts_seen;
	char auth_user_seen[128];
	char from_seen[300];
	bool tls_seen;
	char tls_desc_seen[128];
	struct buf in;     /* bytes the client received */
};

static void
fx_answer(struct fx *x)
{
	enum fx_kind k = x->pending;

	x->pending = FX_NONE;
	switch (k) {
	case FX_AUTH:
		smtp_session_auth_done(x->s, x->auth_result, NULL);
		break;
	case FX_MAIL:
		smtp_session_mail_done(x->s, x->reply);
		break;
	case FX_RCPT:
		smtp_session_rcpt_done(x->s, x->reply);
		break;
	case FX_MESSAGE:
		smtp_session_message_done(x->s, x->reply);
		break;
	default:
		break;
	}
}

static void
fx_pend(struct fx *x, enum fx_kind k, const struct smtp_reply *r)
{
	x->pending = k;
	if (r != NULL) {
		x->reply_store = *r;
		x->reply = &x->reply_store;
	} else {
		x->reply = NULL;
	}
	if (!x->async)
		fx_answer(x);
}

static void
fx_auth(struct smtp_session *s, const char *user, const char *password, void *ud)
{
	struct fx *x = ud;

	(void)s;
	snprintf(x->auth_user_seen, sizeof(x->auth_user_seen), "%s", user);
	if (strcmp(user, "temp") == 0)
		x->auth_result = -1;
	else
		x->auth_result = strcmp(user, "u@example.com") == 0 && strcmp(password, "secret") == 0;
	fx_pend(x, FX_AUTH, NULL);
}

static void
fx_mail(struct smtp_session *s, const struct smtp_transaction *t, void *ud)
{
	struct fx *x = ud;
	static const struct smtp_reply no = { 550, "5.7.1", "Sender rejected" };

	(void)s;
	snprintf(x->from_seen, sizeof(x->from_seen), "%s", t->mail_from);
	x->tls_seen = t->tls;
	snprintf(x->tls_desc_seen, sizeof(x->tls_desc_seen), "%s", t->tls_desc);
	fx_pend(x, FX_MAIL, strstr(t->mail_from, "reject") != NULL ? &no : NULL);
}

static void
fx_rcpt(struct smtp_session *s, const struct smtp_transaction *t, const char *rcpt, void *ud)
{
	struct fx *x = ud;
	static const struct smtp_reply no = { 554, "5.7.1", "Relay access denied" };
	size_t n = strlen(rcpt);

	(void)s;
	(void)t;
	fx_pend(x, FX_RCPT, n > 12 && strcmp(rcpt + n - 12, "@example.com") == 0 ? NULL : &no);
}

static void
fx_message(struct smtp_session *s, const struct smtp_transaction *t, const char *data,
    size_t len, void *ud)
{
	struct fx *x = ud;
	static const struct smtp_reply ok = { 250, "2.0.0", "Ok: queued as X" };

	(void)s;
	free(x->msg);
	x->msg = malloc(len + 1);
	memcpy(x->msg, data, len);
	x->msg[len] = '\0';
	x->msg_len = len;
	x->n_rcpts_seen = t->n_rcpts;
	fx_pend(x, FX_MESSAGE, &ok);
}

static void
fx_closed(struct smtp_session *s, void *ud)
{
	struct fx *x = ud;

	(void)s;
	x->closed = true;
	x->s = NULL;
}

static const struct smtp_hooks fx_hooks = {
	fx_auth, fx_mail, fx_rcpt, fx_message, fx_closed,
};

static void
fx_settings(struct smtp_settings *set)
{
	memset(set, 0, sizeof(*set));
	set->role = SMTP_ROLE_MX;
	set->hostname = "mx.test";
	set->message_size_limit = 10 * 1024 * 1024;
	set->auth_enabled = true;
	set->auth_plaintext_loopback = true;
	set->soft_error_limit = 100;
	set->hard_error_limit = 100;
	set->timeout = 5;
}

static void
fx_start(struct fx *x, const struct smtp_settings *set, const struct smtp_reply *reject)
{
	int sv[2];

	memset(x, 0, sizeof(*x));
	x->set = *set;
	x->loop = ev_loop_new(EVFLAG_AUTO);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	x->cfd = sv[1];
	fcntl(x->cfd, F_SETFL, O_NONBLOCK);
	buf_init(&x->in, 0);
	x->s = smtp_session_new(x->loop, sv[0], &x->set, &fx_hooks, x, reject);
}

/* One loop step plus reading what the client got. */
static void
fx_pump(struct fx *x)
{
	char tmp[4096];
	ssize_t n;

	if (x->pending != FX_NONE && x->async && x->s != NULL)
		fx_answer(x);
	ev_run(x->loop, EVRUN_NOWAIT);
	while ((n = read(x->cfd, tmp, sizeof(tmp))) > 0)
		buf_append(&x->in, tmp, (size_t)n);
	if (n == 0 && x->closed)
		return;
	poll(NULL, 0, 1);
}

/* Number of complete final reply lines ("ddd " ... CRLF) received. */
static size_t
fx_count_final(const struct fx *x)
{
	size_t n = 0;
	const char *p = x->in.data, *end = x->in.data + x->in.len;

	while (p != NULL && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			break;
		if (nl - p >= 4 && p[3] == ' ')
			n++;
		p = nl + 1;
	}
	return n;
}

/*
 * Sends `data` (may be NULL) and waits for `n_replies` final reply lines
 * (or the session's end). Returns the replies received so far (static
 * copy), and resets the client's input.
 */
static const char *
fx_send(struct fx *x, const char *data, size_t n_replies)
{
	static char out[65536];
	size_t len = data != NULL ? strlen(data) : 0, off = 0;

	for (int i = 0; i < 5000 && (off < len || fx_count_final(x) < n_replies); i++) {
		if (off < len) {
			ssize_t w = write(x->cfd, data + off, len - off);

			if (w > 0)
				off += (size_t)w;
		}
		fx_pump(x);
		if (x->closed && off >= len) {
			fx_pump(x);
			break;
		}
	}
	snprintf(out, sizeof(out), "%.*s", (int)x->in.len, x->in.data != NULL ? x->in.data : "");
	buf_reset(&x->in);
	return out;
}

static void
fx_stop(struct fx *x)
{
	if (x->s != NULL) {
		close(x->cfd);
		x->cfd = -1;
		for (int i = 0; i < 5000 && !x->closed; i++)
			fx_pump(x);
	}
	if (x->cfd >= 0)
		close(x->cfd);
	free(x->msg);
	buf_deinit(&x->in);
	ev_loop_destroy(x->loop);
}

#endif
