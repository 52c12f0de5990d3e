/*
 * smtp_accept.c - the end of an SMTP transaction: our Received: header,
 * the in-process scan with the client's IP, HELO, envelope and login, the
 * verdict turned into the SMTP reply, and the durable queue file.
 *
 *   reject                    550 5.7.1 (the rule's message, if it set one)
 *   soft reject, greylist     451 4.7.1
 *   add header, rewrite subject
 *                             queued with X-Spam: Yes, for the Junk folder
 *                             (and the subject prefix for rewrite subject)
 *   no action                 queued
 * Every queued message carries X-Spamd-Result, X-Spam-Score and
 * Authentication-Results; copies of those headers the client sent are
 * dropped so a sender cannot pre-label its own mail. 250 is sent only
 * once the queue file and its directory entry are on disk. A queue file
 * that cannot be written answers 451 4.3.0, or 452 4.3.1 when the spool's
 * file system has no room for the message, so the client knows why.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <time.h>

#include "config/config.h"
#include "config/config_mta.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/pool.h"
#include "core/str.h"
#include "core/xmalloc.h"
#include "log/log.h"
#include "queue/spool.h"
#include "scan/actions.h"
#include "scan/milter_headers.h"
#include "scan/task.h"
#include "worker/history.h"
#include "worker/shared_stats.h"
#include "worker/smtp_worker.h"
#include "worker/worker.h"

/* Headers we add on top of the client's message, at most. */
#define SMTP_ADDED_HEADERS_MAX (256 * 1024)

/* Headers a client may not bring: ours replace them. */
static const char *const smtp_own_headers[] = {
	"X-Spam", "X-Spam-Score", "X-Spamd-Result", "X-Spam-Flag", "X-Spam-Status",
};

/* RFC 3848 protocol names for the Received: "with" clause. */
static const char *
with_protocol(const struct smtp_transaction *t)
{
	static const char *const names[2][2][2] = {
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		{ { "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" } },
	};

	if (!t->esmtp)
		return "SMTP";
	return names[t->smtputf8][t->tls][t->auth_user != NULL];
}

/* Only printable ASCII from the client goes into our trace header. */
static void
put_clean(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		buf_putc(b, *s > 0x20 && *s < 0x7f && *s != '(' && *s != ')' ? *s : '?');
}

static void
received_header(struct smtp_client *c, const struct smtp_transaction *t, struct buf *b)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	(void)localtime_r(&now, &tm);
	(void)strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_append_cstr(b, "Received: from ");
	put_clean(b, t->helo != NULL && *t->helo != '\0' ? t->helo : "unknown");
	buf_printf(b, " (unknown [%s])\r\n", c->peer.ip);
	if (t->tls)
		buf_printf(b, "\t(using %s)\r\n", t->tls_desc);
	buf_printf(b, "\tby %s (rspamd-mail) with %s id %s", c->w->mta->myhostname,
	    with_protocol(t), t->session_id);
	if (t->n_rcpts == 1) {
		buf_append_cstr(b, "\r\n\tfor <");
		put_clean(b, t->rcpts[0]);
		buf_putc(b, '>');
	}
	buf_printf(b, "; %s\r\n", date);
}

static void
start_scan(struct smtp_client *c, const struct smtp_transaction *t);

void
smtp_accept_message(struct smtp_session *s, const struct smtp_transaction *t,
    const char *data, size_t len, void *ud)
{
	struct smtp_client *c = ud;
	struct buf b;

	UNUSED(s);
	buf_init(&b, SMTP_ADDED_HEADERS_MAX + len + 1);
	received_header(c, t, &b);
	c->trace_len = b.len;
	if (buf_append(&b, data, len) < 0) {
		struct smtp_reply r = { 552, "5.3.4", "Message too big" };

		buf_deinit(&b);
		smtp_session_message_done(c->s, &r);
		return;
	}
	c->message = buf_steal(&b, &c->message_len);
	start_scan(c, t);
}

/* ----- the scan ----- */

static void scan_done(struct scan_task *task, void *ud);

static void
start_scan(struct smtp_client *c, const struct smtp_transaction *t)
{
	struct scan_task *task = scan_task_new(c->w->ctx->engine, c->message, c->message_len);
	struct scan_envelope *env = &task->env;
	const char **rcpts = pool_calloc(task->pool, t->n_rcpts + 1, sizeof(*rcpts));

	env->ip = pool_strdup(task->pool, c->peer.ip);
	env->helo = t->helo != NULL ? pool_strdup(task->pool, t->helo) : NULL;
	env->from = pool_strdup(task->pool, t->mail_from);
	for (size_t i = 0; i < t->n_rcpts; i++)
		rcpts[i] = pool_strdup(task->pool, t->rcpts[i]);
	env->rcpts = rcpts;
	env->n_rcpts = t->n_rcpts;
	env->user = t->auth_user != NULL ? pool_strdup(task->pool, t->auth_user) : NULL;
	env->log_tag = pool_strdup(task->pool, t->session_id);
	env->queue_id = env->log_tag;
	c->task = task;
	c->tx.mail_from = t->mail_from;
	c->tx.helo = t->helo;
	c->tx.auth_user = t->auth_user;
	c->tx.session_id = t->session_id;
	scan_task_process_async(task, c->w->ctx->loop, scan_done, c);
}

static bool
is_own_header(const char *line, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(smtp_own_headers); i++) {
		size_t n = strlen(smtp_own_headers[i]);

		if (len > n && line[n] == ':' && strncasecmp(line, smtp_own_headers[i], n) == 0)
			return true;
	}
	return false;
}

/* "Subject: <new>", RFC 2047-encoded when it is not plain ASCII. */
static void
put_subject(struct buf *b, const char *subject)
{
	bool ascii = true;

	for (const char *p = subject; *p != '\0'; p++)
		ascii = ascii && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f;
	buf_append_cstr(b, "Subject: ");
	if (ascii) {
		buf_append_cstr(b, subject);
	} else {
		size_t n = strlen(subject);
		char *enc = xmalloc(n * 4 / 3 + 8);

		enc[base64_encode(subject, n, enc)] = '\0';
		buf_printf(b, "=?UTF-8?B?%s?=", enc);
		free(enc);
	}
	buf_append_cstr(b, "\r\n");
}

/*
 * Copies the client's header block into `b` without our own headers and,
 * when `subject` is set, with the Subject replaced; returns the offset of
 * the body (the blank line) in msg.
 */
static size_t
copy_headers(const char *msg, size_t len, const char *subject, struct buf *b)
{
	size_t pos = 0;
	bool skipping = false, subject_done = subject == NULL;

	while (pos < len) {
		const char *nl = memchr(msg + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - msg) + 1 : len;
		const char *line = msg + pos;
		size_t n = end - pos;

		if (n == 1 || (n == 2 && line[0] == '\r'))
			break;
		if (line[0] == ' ' || line[0] == '\t') {
			if (!skipping)
				buf_append(b, line, n);
		} else {
			skipping = is_own_header(line, n);
			if (!subject_done && n > 8 && strncasecmp(line, "Subject:", 8) == 0) {
				put_subject(b, subject);
				subject_done = true;
				skipping = true;
			}
			if (!skipping)
				buf_append(b, line, n);
		}
		pos = end;
	}
	if (!subject_done)
		put_subject(b, subject);
	return pos;
}

/* "Name: value\r\n"; the scan folds values with a bare "\n\t", which a
 * stored message must carry as CRLF. */
static void
put_header(struct buf *b, const char *name, const char *value, size_t len)
{
	buf_append_cstr(b, name);
	buf_append_cstr(b, ": ");
	for (size_t i = 0; i < len; i++) {
		if (value[i] == '\r')
			continue;
		if (value[i] == '\n')
			buf_putc(b, '\r');
		buf_putc(b, value[i]);
	}
	buf_append_cstr(b, "\r\n");
}

static void
added_headers(const struct scan_task *task, bool spam, struct buf *b)
{
	struct buf v;
	char score[32];

	buf_init(&v, SMTP_ADDED_HEADERS_MAX);
	for (size_t i = 0; i < task->n_dkim_signatures; i++) {
		put_header(b, "DKIM-Signature", task->dkim_signatures[i],
		    strlen(task->dkim_signatures[i]));
	}
	milter_headers_auth_results(task, &v);
	put_header(b, "Authentication-Results", v.data != NULL ? v.data : "", v.len);
	buf_reset(&v);
	milter_headers_spamd_result(task, &v);
	put_header(b, "X-Spamd-Result", v.data != NULL ? v.data : "", v.len);
	(void)str_format(score, sizeof(score), "%.2f", task->score);
	put_header(b, "X-Spam-Score", score, strlen(score));
	if (spam)
		put_header(b, "X-Spam", "Yes", 3);
	for (size_t i = 0; i < task->n_add_headers; i++) {
		put_header(b, task->add_headers[i].name, task->add_headers[i].value,
		    strlen(task->add_headers[i].value));
	}
	buf_deinit(&v);
}

/* ----- the verdict and the queue ----- */

static void
fill_envelope(struct smtp_client *c, struct pool *pool, bool junk, struct spool_envelope *env)
{
	spool_envelope_init(env);
	env->sender = str_from_cstr(c->tx.mail_from);
	env->arrival = (int64_t)time(NULL);
	env->client_ip = str_from_cstr(c->peer.ip);
	env->helo = str_from_cstr(c->tx.helo != NULL ? c->tx.helo : "");
	env->auth_user = str_from_cstr(c->tx.auth_user != NULL ? c->tx.auth_user : "");
	env->flags = junk ? SPOOL_FLAG_JUNK : 0;
	for (size_t i = 0; i < c->n_rcpts; i++) {
		for (size_t k = 0; k < c->rcpts[i].n_dest; k++) {
			(void)spool_envelope_add_rcpt(pool, env, str_from_cstr(c->rcpts[i].orig),
			    str_from_cstr(c->rcpts[i].dest[k]));
		}
	}
}

/* Writes the final message and commits it: 0 with the id, or -1. */
static int
enqueue(struct smtp_client *c, struct scan_task *task, bool junk, char id[SPOOL_ID_SIZE])
{
	const char *subject = task->subject != NULL &&
	    strcmp(task->action, "rewrite subject") == 0 ? task->subject : NULL;
	const char *orig = c->message + c->trace_len;
	size_t orig_len = c->message_len - c->trace_len, body;
	struct pool *pool = pool_new(0);
	struct spool_writer *w = NULL;
	struct spool_envelope env;
	enum spool_err err = SPOOL_ERR_NONE;
	struct buf head;
	int rc = -1;

	buf_init(&head, SMTP_ADDED_HEADERS_MAX + orig_len);
	added_headers(task, junk, &head);
	buf_append(&head, c->message, c->trace_len);
	body = copy_headers(orig, orig_len, subject, &head);
	fill_envelope(c, pool, junk, &env);
	if (spool_writer_begin(c->w->spool, 0, &w) == 0 &&
	    spool_writer_write(w, head.data, head.len) == 0 &&
	    spool_writer_write(w, orig + body, orig_len - body) == 0) {
		rc = spool_writer_commit(&w, &env, id, &err);
	} else {
		spool_writer_abort(&w);
	}
	if (rc < 0)
		log_error("smtp", c->tx.session_id, "cannot queue the message (spool error %d)",
		    (int)err);
	buf_deinit(&head);
	pool_free(&pool);
	return rc;
}

static void
finish(struct smtp_client *c, const struct smtp_reply *r)
{
	struct scan_task *task = c->task;

	c->task = NULL;
	scan_task_free(&task);
	free(c->message);
	c->message = NULL;
	memset(&c->tx, 0, sizeof(c->tx));
	smtp_client_reset_rcpts(c);
	smtp_session_message_done(c->s, r);
}

/*
 * After a failed enqueue: is the spool's file system out of room? Asked
 * of the file system rather than taken from errno, which the spool's
 * cleanup (log line, unlink, close) may have overwritten by now.
 */
static bool
spool_is_full(struct smtp_client *c)
{
	struct statvfs st;
	unsigned long long avail;

	if (statvfs(spool_root(c->w->spool), &st) < 0)
		return false;
	avail = (unsigned long long)st.f_bavail * st.f_frsize;
	return avail < (unsigned long long)c->message_len + SMTP_ADDED_HEADERS_MAX;
}

static void
scan_done(struct scan_task *task, void *ud)
{
	struct smtp_client *c = ud;
	const char *action = task->skipped || task->action == NULL ? "no action" : task->action;
	bool spam = strcmp(action, "add header") == 0 || strcmp(action, "rewrite subject") == 0;
	char id[SPOOL_ID_SIZE], text[512];
	struct smtp_reply r = { 250, "2.0.0", text };

	shared_stats_count_scan(action, action_is_spam(action), task->time_real);
	history_add(task);
	scan_task_log(task);
	if (strcmp(action, "reject") == 0) {
		r = (struct smtp_reply){ 550, "5.7.1",
		    task->pre_message != NULL ? task->pre_message : "Spam message rejected" };
	} else if (strcmp(action, "soft reject") == 0 || strcmp(action, "greylist") == 0) {
		r = (struct smtp_reply){ 451, "4.7.1",
		    task->pre_message != NULL ? task->pre_message : "Try again later" };
	} else if (enqueue(c, task, spam, id) < 0) {
		r = spool_is_full(c) ?
		    (struct smtp_reply){ 452, "4.3.1", "Error: insufficient system storage" } :
		    (struct smtp_reply){ 451, "4.3.0", "Error: queue file write error" };
	} else {
		(void)str_format(text, sizeof(text), "Ok: queued as %s", id);
		log_info("smtp", c->tx.session_id,
		    "queued as %s: from=<%s> rcpts=%zu client=%s user=%s action=%s score=%.2f",
		    id, c->tx.mail_from, c->n_rcpts, c->peer.ip,
		    c->tx.auth_user != NULL ? c->tx.auth_user : "-", action, task->score);
	}
	if (r.code != 250) {
		log_info("smtp", c->tx.session_id, "%d %s from=<%s> client=%s action=%s score=%.2f",
		    r.code, r.text, c->tx.mail_from, c->peer.ip, action, task->score);
	}
	finish(c, &r);
}
