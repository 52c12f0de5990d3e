/*
 * imap_session.c - one IMAP connection: greeting, the command loop over
 * the reader (imap_args.c), the dispatch table with the states each
 * command is allowed in, replies, STARTTLS, IDLE polling and the
 * untagged updates that tell the client what other sessions and
 * deliveries changed.
 *
 * Input is processed one command at a time in the order received. While
 * the auth hook runs or a TLS handshake is under way, reading pauses
 * (IMAP_MODE_HOOK / IMAP_MODE_TLS) and resumes with the next buffered
 * command when the answer arrives, so pipelined commands stay ordered.
 *
 * Untagged updates: after every command but FETCH, STORE and SEARCH
 * (which must not see EXPUNGE, RFC 3501 7.4.1) the selected folder is
 * synced and changes reported; during IDLE a timer polls every second
 * (mailbox_sync is a few stat calls when nothing changed).
 *
 * Replies of one input round collect in s->out and go out in one write
 * (imap_flush). An IDLE session drops what it does not need while it
 * waits (the reader's and the command's memory, the folder's index copy
 * and file names: mailbox_trim), so thousands of idle clients stay cheap.
 * A big FETCH renders as the output drains (imap_fetch_resume) and holds
 * the following commands until it is done.
 *
 * Runs in the imap/imaps worker processes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "event/conn.h"
#include "imap/imap_internal.h"
#include "imap/imap_mutf7.h"
#include "log/log.h"
#include "store/mailbox.h"
#include "store/maildir.h"

#define IMAP_TIMEOUT_DEFAULT 1800.0
#define IMAP_PREAUTH_TIMEOUT 60.0
#define IMAP_POLL_DEFAULT 1.0
#define IMAP_APPEND_MAX_DEFAULT (50 * 1024 * 1024)
#define IMAP_INPUT_MAX (256 * 1024)
/* Queued replies past this go to the connection at once (big FETCHes). */
#define IMAP_OUT_FLUSH (32 * 1024)

struct imap_command_def {
	const char *name;
	unsigned states;
	imap_cmd_fn *fn;
	bool sync_before;   /* report changes (EXPUNGE too) before it runs */
};

#define ANY (IMAP_STATE_NOTAUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define AUTHED (IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define SEL IMAP_STATE_SELECTED

static const struct imap_command_def imap_commands[] = {
	{ "CAPABILITY", ANY, imap_cmd_capability, true },
	{ "NOOP", ANY, imap_cmd_noop, true },
	{ "LOGOUT", ANY, imap_cmd_logout, true },
	{ "ID", ANY, imap_cmd_id, true },
	{ "STARTTLS", IMAP_STATE_NOTAUTH, imap_cmd_starttls, true },
	{ "LOGIN", IMAP_STATE_NOTAUTH, imap_cmd_login, true },
	{ "AUTHENTICATE", IMAP_STATE_NOTAUTH, imap_cmd_authenticate, true },
	{ "NAMESPACE", AUTHED, imap_cmd_namespace, true },
	{ "ENABLE", AUTHED, imap_cmd_enable, true },
	{ "IDLE", AUTHED, imap_cmd_idle, true },
	{ "SELECT", AUTHED, imap_cmd_select, true },
	{ "EXAMINE", AUTHED, imap_cmd_examine, true },
	{ "CREATE", AUTHED, imap_cmd_create, true },
	{ "DELETE", AUTHED, imap_cmd_delete, true },
	{ "RENAME", AUTHED, imap_cmd_rename, true },
	{ "SUBSCRIBE", AUTHED, imap_cmd_subscribe, true },
	{ "UNSUBSCRIBE", AUTHED, imap_cmd_unsubscribe, true },
	{ "LIST", AUTHED, imap_cmd_list, true },
	{ "LSUB", AUTHED, imap_cmd_lsub, true },
	{ "STATUS", AUTHED, imap_cmd_status, true },
	{ "APPEND", AUTHED, imap_cmd_append, true },
	{ "GETQUOTAROOT", AUTHED, imap_cmd_getquotaroot, true },
	{ "GETQUOTA", AUTHED, imap_cmd_getquota, true },
	{ "CHECK", SEL, imap_cmd_check, true },
	{ "CLOSE", SEL, imap_cmd_close, true },
	{ "UNSELECT", SEL, imap_cmd_unselect, true },
	{ "EXPUNGE", SEL, imap_cmd_expunge, true },
	{ "SEARCH", SEL, imap_cmd_search, false },
	{ "FETCH", SEL, imap_cmd_fetch, false },
	{ "STORE", SEL, imap_cmd_store, false },
	{ "COPY", SEL, imap_cmd_copy, true },
	{ "MOVE", SEL, imap_cmd_move, true },
};

/* Commands allowed after UID. */
static const char *const imap_uid_commands[] = {
	"FETCH", "STORE", "SEARCH", "COPY", "MOVE", "EXPUNGE",
};

static unsigned imap_session_counter;

static void process_input(struct imap_session *s);
static void session_finish(struct imap_session *s);

/* ----- output ----- */

void
imap_send(struct imap_session *s, const void *data, size_t len)
{
	if (s->conn == NULL || s->peer_gone || len == 0)
		return;
	(void)buf_append(&s->out, data, len);
	if (s->out.len >= IMAP_OUT_FLUSH)
		imap_flush(s);
}

void
imap_flush(struct imap_session *s)
{
	if (s->out.len > 0 && s->conn != NULL && !s->peer_gone)
		(void)conn_write(s->conn, s->out.data, s->out.len);
	/* Freed, not kept: an idle session holds no output memory. */
	buf_deinit(&s->out);
}

static void imap_vsendf(struct imap_session *s, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);

static void
imap_vsendf(struct imap_session *s, const char *fmt, va_list ap)
{
	struct buf b;

	buf_init(&b, 0);
	buf_vprintf(&b, fmt, ap);
	imap_send(s, b.data, b.len);
	buf_deinit(&b);
}

void
imap_sendf(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_vsendf(s, fmt, ap);
	va_end(ap);
}

void
imap_tagged(struct imap_session *s, const char *tag, const char *status,
    const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 0);
	buf_printf(&b, "%s %s ", tag, status);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_append_cstr(&b, "\r\n");
	imap_send(s, b.data, b.len);
	buf_deinit(&b);
}

void
imap_bye(struct imap_session *s, const char *text)
{
	if (s->closing)
		return;
	imap_sendf(s, "* BYE %s\r\n", text);
	s->closing = true;
	s->state = IMAP_STATE_LOGOUT;
	s->fetch = NULL; /* its pool-owned state is simply dropped */
	ev_timer_stop(s->loop, &s->poll);
	imap_flush(s);
	if (s->conn != NULL)
		conn_close_after_drain(s->conn);
}

void
imap_bad(struct imap_session *s, const char *tag, const char *text)
{
	unsigned max = s->set->max_bad_commands != 0 ? s->set->max_bad_commands : 20;

	imap_tagged(s, tag, "BAD", "%s", text);
	if (++s->bad_commands >= max) {
		log_info("imap", s->id, "too many bad commands from %s", s->peer);
		imap_bye(s, "Too many invalid commands");
	}
}

void
imap_no_errno(struct imap_session *s, const char *tag, int err, const char *what)
{
	const char *code;

	switch (err) {
	case ENOENT:
		code = "[NONEXISTENT] ";
		break;
	case EEXIST:
		code = "[ALREADYEXISTS] ";
		break;
	case EINVAL:
	case ENAMETOOLONG:
	case EPERM:
		code = "[CANNOT] ";
		break;
	case EROFS:
		code = "[READ-ONLY] ";
		break;
	case EDQUOT:
		code = "[OVERQUOTA] ";
		break;
	default:
		code = "[UNAVAILABLE] ";
		log_warn("imap", s->id, "store error for %s: %s (%s)",
		    s->user != NULL ? s->user : "-", what, strerror(err));
		break;
	}
	/* A reason that brings its own response code keeps it. */
	imap_tagged(s, tag, "NO", "%s%s", what[0] == '[' ? "" : code, what);
}

/* ----- shared helpers ----- */

void
imap_capabilities(struct imap_session *s, struct buf *b)
{
	buf_append_cstr(b, "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE");
	if (s->state == IMAP_STATE_NOTAUTH) {
		if (!s->tls && s->set->tls_ctx != NULL)
			buf_append_cstr(b, " STARTTLS");
		if (imap_login_allowed(s))
			buf_append_cstr(b, " AUTH=PLAIN");
		else
			buf_append_cstr(b, " LOGINDISABLED");
		return;
	}
	buf_append_cstr(b, " UIDPLUS MOVE SPECIAL-USE QUOTA QUOTA=RES-STORAGE"
	    " QUOTA=RES-MESSAGE UNSELECT CHILDREN");
}

bool
imap_login_allowed(const struct imap_session *s)
{
	return s->tls || (s->set->auth_plaintext_loopback && s->loopback);
}

void
imap_flags_append(struct imap_session *s, struct buf *b, unsigned flags, uint32_t keywords)
{
	static const struct {
		unsigned bit;
		const char *name;
	} sys[] = {
		{ MAIL_SEEN, "\\Seen" }, { MAIL_ANSWERED, "\\Answered" },
		{ MAIL_FLAGGED, "\\Flagged" }, { MAIL_DELETED, "\\Deleted" },
		{ MAIL_DRAFT, "\\Draft" }, { MAIL_RECENT, "\\Recent" },
	};
	bool first = true;

	for (size_t i = 0; i < ARRAY_SIZE(sys); i++) {
		if ((flags & sys[i].bit) == 0)
			continue;
		buf_printf(b, "%s%s", first ? "" : " ", sys[i].name);
		first = false;
	}
	for (unsigned i = 0; i < MAILBOX_KEYWORDS_MAX && s->mb != NULL; i++) {
		const char *kw = (keywords & (1u << i)) != 0 ? mailbox_keyword_name(s->mb, i) : NULL;

		if (kw == NULL)
			continue;
		buf_printf(b, "%s%s", first ? "" : " ", kw);
		first = false;
	}
}

int
imap_flag_bit(const struct imap_arg *a)
{
	static const struct {
		const char *name;
		unsigned bit;
	} sys[] = {
		{ "\\Seen", MAIL_SEEN }, { "\\Answered", MAIL_ANSWERED },
		{ "\\Flagged", MAIL_FLAGGED }, { "\\Deleted", MAIL_DELETED },
		{ "\\Draft", MAIL_DRAFT },
	};

	if (a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 64)
		return -1;
	if (a->str[0] != '\\') {
		for (size_t i = 0; i < a->len; i++) {
			if (strchr("[]%*\\", a->str[i]) != NULL)
				return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sys); i++) {
		if (imap_arg_atom_is(a, sys[i].name))
			return (int)sys[i].bit;
	}
	return -1;
}

const char *
imap_mailbox_arg(struct imap_session *s, const struct imap_arg *a, const char **error_r)
{
	const char *text = a != NULL && a->type == IMAP_ARG_NIL ? "NIL" : imap_arg_text(a);
	size_t len = a != NULL && a->type == IMAP_ARG_NIL ? 3 : (a != NULL ? a->len : 0);
	struct buf b;
	char *out;

	if (text == NULL) {
		*error_r = "mailbox name expected";
		return NULL;
	}
	if (memchr(text, '\0', len) != NULL) {
		*error_r = "NUL in mailbox name";
		return NULL;
	}
	buf_init(&b, 4 * MAILBOX_NAME_MAX);
	if (imap_mutf7_to_utf8(text, len, &b, error_r) < 0) {
		buf_deinit(&b);
		return NULL;
	}
	/* A trailing separator means the same folder (CREATE "a/"). */
	while (b.len > 1 && b.data[b.len - 1] == MAILBOX_SEP)
		b.len--;
	out = pool_strndup(s->pool, b.data != NULL ? b.data : "", b.len);
	buf_deinit(&b);
	if (mailbox_name_is_inbox(out))
		return "INBOX";
	return out;
}

void
imap_mailbox_write(struct buf *b, const char *utf8)
{
	struct buf m;
	const char *err;

	buf_init(&m, 0);
	if (imap_utf8_to_mutf7(utf8, strlen(utf8), &m, &err) < 0)
		buf_append_cstr(&m, utf8);
	buf_putc(&m, '\0');
	buf_putc(b, '"');
	for (size_t i = 0; i + 1 < m.len; i++) {
		if (m.data[i] == '"' || m.data[i] == '\\')
			buf_putc(b, '\\');
		buf_putc(b, m.data[i]);
	}
	buf_putc(b, '"');
	buf_deinit(&m);
}

/* ----- untagged updates ----- */

bool
imap_report_changes(struct imap_session *s)
{
	struct mailbox_changes ch;
	const char *err;
	struct buf b;

	if (s->mb == NULL || s->closing)
		return true;
	if (mailbox_sync(s->mb, &ch, &err) < 0) {
		log_warn("imap", s->id, "sync failed: %s", err);
		return true;
	}
	if (ch.uidvalidity_changed) {
		mailbox_changes_free(&ch);
		imap_bye(s, "Mailbox UIDVALIDITY changed, please reconnect");
		return false;
	}
	buf_init(&b, 0);
	for (size_t i = 0; i < ch.n_expunged; i++)
		buf_printf(&b, "* %u EXPUNGE\r\n", ch.expunged[i]);
	if (ch.new_messages)
		buf_printf(&b, "* %u EXISTS\r\n* %u RECENT\r\n", ch.exists, ch.recent);
	for (size_t i = 0; i < ch.n_flags_changed; i++) {
		const struct mailbox_msg *m = mailbox_msg(s->mb, ch.flags_changed[i]);

		if (m == NULL)
			continue;
		buf_printf(&b, "* %u FETCH (UID %u FLAGS (", ch.flags_changed[i], m->uid);
		imap_flags_append(s, &b, m->flags, m->keywords);
		buf_append_cstr(&b, "))\r\n");
	}
	imap_send(s, b.data, b.len);
	buf_deinit(&b);
	mailbox_changes_free(&ch);
	return true;
}

void
imap_unselect(struct imap_session *s)
{
	if (s->mb != NULL)
		mailbox_close(s->mb);
	s->mb = NULL;
	if (s->state == IMAP_STATE_SELECTED)
		s->state = IMAP_STATE_AUTH;
}

/* ----- IDLE ----- */

static void
poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct imap_session *s = w->data;

	UNUSED(loop);
	UNUSED(revents);
	if (s->mode != IMAP_MODE_IDLE)
		return;
	(void)imap_report_changes(s);
	imap_flush(s);
	if (s->mb != NULL && !s->closing)
		mailbox_trim(s->mb);
}

void
imap_idle_start(struct imap_session *s, const char *tag)
{
	double iv = s->set->poll_interval > 0 ? s->set->poll_interval : IMAP_POLL_DEFAULT;

	free(s->pending_tag);
	s->pending_tag = xstrdup(tag);
	s->mode = IMAP_MODE_IDLE;
	imap_send_cstr(s, "+ idling\r\n");
	(void)imap_report_changes(s);
	ev_timer_set(&s->poll, iv, iv);
	ev_timer_start(s->loop, &s->poll);
	/* Thousands of sessions may sit here for hours: keep them small. The
	 * reader is between commands (IDLE was the last one). */
	imap_reader_reset(s->reader);
	pool_free(&s->pool);
	s->pool = pool_new(0);
	if (s->mb != NULL && !s->closing)
		mailbox_trim(s->mb);
}

static void
idle_line(struct imap_session *s, const char *line)
{
	char *tag = s->pending_tag;
	const char *err;

	ev_timer_stop(s->loop, &s->poll);
	s->pending_tag = NULL;
	s->mode = IMAP_MODE_COMMAND;
	if (s->mb != NULL && mailbox_untrim(s->mb, &err) < 0) {
		log_warn("imap", s->id, "cannot reread the folder: %s", err);
		free(tag);
		imap_bye(s, "Mailbox unavailable, please reconnect");
		return;
	}
	(void)imap_report_changes(s);
	if (strcasecmp(line, "DONE") == 0)
		imap_tagged(s, tag, "OK", "IDLE terminated");
	else
		imap_bad(s, tag, "Expected DONE");
	free(tag);
}

/* ----- authentication ----- */

void
imap_start_auth(struct imap_session *s, const char *tag, const char *user,
    const char *password)
{
	free(s->pending_tag);
	s->pending_tag = xstrdup(tag);
	s->mode = IMAP_MODE_HOOK;
	if (s->conn != NULL)
		conn_pause_read(s->conn);
	s->in_hook = true;
	s->hooks->auth(s, user, password, s->ud);
	s->in_hook = false;
}

static int
set_user(struct imap_session *s, const char *user)
{
	char root[4096];
	const char *err;

	if (maildir_path_expand(s->set->mail_location, user, root, sizeof(root), &err) < 0) {
		log_warn("imap", s->id, "no mailbox path for %s: %s", user, err);
		return -1;
	}
	free(s->root);
	s->root = xstrdup(root);
	/* A user who never received mail still gets INBOX and the special
	 * folders (Dovecot's autocreate), so APPEND to Sent or Drafts works. */
	if (maildir_create(s->root, &err) < 0) {
		log_warn("imap", s->id, "cannot create the mailbox of %s: %s", user, err);
		return -1;
	}
	free(s->user);
	s->user = xstrdup(user);
	return 0;
}

void
imap_session_auth_done(struct imap_session *s, int result, const char *canonical_user,
    const struct quota_limit *quota)
{
	char *tag = s->pending_tag;
	const char *user = canonical_user;

	s->pending_tag = NULL;
	s->mode = IMAP_MODE_COMMAND;
	if (result == 1 && user != NULL && set_user(s, user) < 0)
		result = -1;
	if (result == 1) {
		struct buf b;

		s->state = IMAP_STATE_AUTH;
		s->has_quota = quota != NULL && (quota->storage != 0 || quota->messages != 0);
		if (s->has_quota)
			s->quota = *quota;
		buf_init(&b, 0);
		imap_capabilities(s, &b);
		imap_tagged(s, tag, "OK", "[CAPABILITY %s] Logged in", b.data);
		buf_deinit(&b);
		log_info("imap", s->id, "login: user=<%s> ip=%s%s", s->user, s->peer,
		    s->tls ? " TLS" : "");
		if (s->conn != NULL)
			conn_set_timeouts(s->conn, s->set->timeout > 0 ? s->set->timeout :
			    IMAP_TIMEOUT_DEFAULT, 0);
	} else if (result == 0) {
		imap_tagged(s, tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
	} else {
		imap_tagged(s, tag, "NO", "[UNAVAILABLE] Temporary authentication failure");
	}
	free(tag);
	if (s->in_hook)
		return; /* the command loop around the hook flushes */
	if (s->peer_gone) {
		session_finish(s);
		return;
	}
	if (s->conn != NULL && !s->closing)
		conn_resume_read(s->conn);
	process_input(s);
}

/* ----- dispatch ----- */

static const struct imap_command_def *
find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(imap_commands); i++) {
		if (strcmp(imap_commands[i].name, name) == 0)
			return &imap_commands[i];
	}
	return NULL;
}

static bool
uid_allowed(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(imap_uid_commands); i++) {
		if (strcmp(imap_uid_commands[i], name) == 0)
			return true;
	}
	return false;
}

static void
dispatch(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg *args = cmd->args;
	size_t n = cmd->n_args;
	const char *name = cmd->name;
	const struct imap_command_def *def;
	unsigned max_pre = s->set->max_preauth_commands != 0 ? s->set->max_preauth_commands : 50;
	bool uid = false;
	char upper[32];

	if (s->state == IMAP_STATE_NOTAUTH && ++s->preauth_commands > max_pre) {
		imap_bye(s, "Too many commands before authentication");
		return;
	}
	if (strcmp(name, "UID") == 0) {
		size_t i;

		if (n == 0 || args[0].type != IMAP_ARG_ATOM || args[0].len >= sizeof(upper)) {
			imap_bad(s, cmd->tag, "UID needs a command");
			return;
		}
		for (i = 0; i < args[0].len; i++) {
			char c = args[0].str[i];

			upper[i] = (char)(c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c);
		}
		upper[i] = '\0';
		if (!uid_allowed(upper)) {
			imap_bad(s, cmd->tag, "Unknown UID command");
			return;
		}
		name = upper;
		uid = true;
		args++;
		n--;
	}
	def = find_command(name);
	if (def == NULL) {
		imap_bad(s, cmd->tag, "Unknown command");
		return;
	}
	if ((def->states & s->state) == 0) {
		imap_bad(s, cmd->tag, s->state == IMAP_STATE_NOTAUTH ? "Log in first" :
		    s->state == IMAP_STATE_AUTH ? "No mailbox selected" : "Already logged in");
		return;
	}
	/* Changes made elsewhere are reported before the command runs, so it
	 * works on the current view; never before FETCH, STORE and SEARCH by
	 * sequence number (no EXPUNGE may shift their numbers, RFC 3501 7.4.1). */
	if ((def->sync_before || uid) && !imap_report_changes(s))
		return;
	def->fn(s, cmd->tag, args, n, uid);
}

/* Handles one reader result; false when processing must stop for now. */
static bool
handle_read(struct imap_session *s, enum imap_read res, const struct imap_command *cmd,
    const char *err)
{
	switch (res) {
	case IMAP_READ_MORE:
		return false;
	case IMAP_READ_CONTINUE:
		imap_send_cstr(s, "+ Ready for literal\r\n");
		return true;
	case IMAP_READ_TOOBIG:
		imap_tagged(s, cmd->tag, "NO", "[TOOBIG] %s", err);
		return true;
	case IMAP_READ_FATAL:
		imap_bye(s, "Literal too big");
		return false;
	case IMAP_READ_BAD:
		imap_bad(s, cmd->tag, err != NULL ? err : "Syntax error");
		return true;
	case IMAP_READ_COMMAND:
		break;
	}
	pool_free(&s->pool);
	s->pool = pool_new(0);
	dispatch(s, cmd);
	return true;
}

static bool
input_once(struct imap_session *s, struct buf *in)
{
	size_t used = 0;

	if (s->mode == IMAP_MODE_COMMAND) {
		struct imap_command cmd;
		const char *err = NULL;
		enum imap_read res = imap_reader_feed(s->reader, in->data, in->len, &used, &cmd, &err);

		buf_consume(in, used);
		return handle_read(s, res, &cmd, err);
	}
	if (s->mode == IMAP_MODE_IDLE || s->mode == IMAP_MODE_SASL) {
		const char *line = NULL;
		int rc = imap_reader_line(s->reader, in->data, in->len, &used, &line);

		buf_consume(in, used);
		if (rc < 0) {
			imap_bye(s, "Line too long");
			return false;
		}
		if (rc == 0)
			return used > 0;
		if (s->mode == IMAP_MODE_IDLE)
			idle_line(s, line);
		else
			imap_sasl_response(s, line);
		return true;
	}
	return false;
}

static void
process_input(struct imap_session *s)
{
	struct buf *in;

	if (s->processing || s->conn == NULL)
		return;
	s->processing = true;
	in = conn_input(s->conn);
	while (!s->closing && in->len > 0 && s->mode != IMAP_MODE_HOOK &&
	    s->mode != IMAP_MODE_TLS && s->fetch == NULL) {
		if (!input_once(s, in))
			break;
	}
	s->processing = false;
	if (s->stopping && !s->closing && s->mode == IMAP_MODE_COMMAND && s->fetch == NULL)
		imap_bye(s, "Server shutting down");
	imap_flush(s);
	if (s->conn == NULL || s->closing)
		return;
	/* A FETCH waiting for its output to drain: the next command waits
	 * too, and unread input must not pile up meanwhile. */
	if (s->fetch != NULL)
		conn_pause_read(s->conn);
	else if (s->mode != IMAP_MODE_HOOK && s->mode != IMAP_MODE_TLS &&
	    conn_read_paused(s->conn))
		conn_resume_read(s->conn);
}

/* ----- connection ----- */

static void
send_greeting(struct imap_session *s)
{
	struct buf b;

	buf_init(&b, 0);
	imap_capabilities(s, &b);
	imap_sendf(s, "* OK [CAPABILITY %s] %s IMAP4rev1 ready\r\n", b.data, s->set->hostname);
	buf_deinit(&b);
	imap_flush(s);
}

static void
session_finish(struct imap_session *s)
{
	ev_timer_stop(s->loop, &s->poll);
	if (s->hooks->closed != NULL)
		s->hooks->closed(s, s->ud);
	imap_unselect(s);
	conn_free(&s->conn);
	imap_reader_free(&s->reader);
	pool_free(&s->pool);
	free(s->pending_tag);
	free(s->user);
	free(s->root);
	buf_deinit(&s->out);
	free(s);
}

static void
conn_cb(struct conn *c, enum conn_event ev, void *ud)
{
	struct imap_session *s = ud;

	UNUSED(c);
	switch (ev) {
	case CONN_EV_DATA_IN:
		process_input(s);
		return;
	case CONN_EV_DRAINED:
		if (s->fetch != NULL && !s->closing && imap_fetch_resume(s))
			process_input(s);
		return;
	case CONN_EV_TLS_READY:
		s->tls = true;
		imap_reader_reset(s->reader);
		if (s->mode == IMAP_MODE_TLS && s->set->implicit_tls && s->state == IMAP_STATE_NOTAUTH &&
		    s->preauth_commands == 0)
			send_greeting(s);
		s->mode = IMAP_MODE_COMMAND;
		process_input(s);
		return;
	case CONN_EV_TIMEOUT:
		if (!s->closing && s->mode != IMAP_MODE_HOOK) {
			imap_bye(s, "Autologout; idle for too long");
			return;
		}
		break;
	case CONN_EV_CLOSED:
	case CONN_EV_ERROR:
		break;
	}
	s->peer_gone = true;
	s->closing = true;
	if (s->mode == IMAP_MODE_HOOK)
		return; /* auth_done finishes */
	session_finish(s);
}

struct imap_session *
imap_session_new(struct ev_loop *loop, int fd, const struct imap_settings *set,
    const struct imap_hooks *hooks, void *ud, const char *reject)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct conn_settings cs = { IMAP_INPUT_MAX, 0, IMAP_PREAUTH_TIMEOUT, 300.0 };
	struct imap_reader_limits lim = { 0, 0, set->append_max != 0 ? set->append_max :
		IMAP_APPEND_MAX_DEFAULT, 0, 0 };
	const char *ip;

	s->loop = loop;
	s->set = set;
	s->hooks = hooks;
	s->ud = ud;
	s->state = IMAP_STATE_NOTAUTH;
	s->mode = IMAP_MODE_COMMAND;
	(void)str_format(s->id, sizeof(s->id), "imap%ld.%u", (long)getpid(), ++imap_session_counter);
	s->reader = imap_reader_new(&lim);
	s->pool = pool_new(0);
	buf_init(&s->out, 0);
	ev_timer_init(&s->poll, poll_cb, 1.0, 1.0);
	s->poll.data = s;
	s->conn = conn_new(loop, fd, NULL, 0, &cs, conn_cb, s);
	ip = conn_peer_text(s->conn);
	str_lcpy(s->peer, ip != NULL ? ip : "unknown", sizeof(s->peer));
	s->loopback = strncmp(s->peer, "127.", 4) == 0 || strcmp(s->peer, "::1") == 0 ||
	    strncmp(s->peer, "::ffff:127.", 11) == 0 || conn_peer_is_unix(s->conn);
	if (reject != NULL) {
		imap_bye(s, reject);
		return s;
	}
	if (set->implicit_tls) {
		s->mode = IMAP_MODE_TLS;
		if (set->tls_ctx == NULL || conn_tls_accept(s->conn, set->tls_ctx) < 0)
			imap_bye(s, "TLS unavailable");
		return s;
	}
	send_greeting(s);
	return s;
}

void
imap_session_shutdown(struct imap_session *s)
{
	s->stopping = true;
	/* A FETCH still rendering says BYE when it is done (process_input). */
	if (!s->closing && s->fetch == NULL &&
	    (s->mode == IMAP_MODE_COMMAND || s->mode == IMAP_MODE_IDLE))
		imap_bye(s, "Server shutting down");
}

const char *
imap_session_id(const struct imap_session *s)
{
	return s->id;
}

const char *
imap_session_peer(const struct imap_session *s)
{
	return s->peer;
}
