/*
 * milter_headers.h - Rspamd's milter_headers module: the headers a
 * finished scan asks the MTA to add (X-Spamd-Result, X-Spam-Status,
 * X-Spam-Level, X-Spam-Flag, X-Rspamd-Queue-Id, X-Rspamd-Server,
 * Authentication-Results), configured by `milter_headers { use = [...];
 * extended_spam_headers; authenticated_headers; local_headers; skip_local;
 * skip_authenticated; }`.
 *
 * The headers go into the reply's milter block, so /checkv2 clients
 * (Haraka, rspamc) and our milter proxy carry the same ones.
 */
#ifndef SCAN_MILTER_HEADERS_H
#define SCAN_MILTER_HEADERS_H

struct obj;
struct scan_task;

/*
 * Adds the enabled routines' headers of the finished `task` to `add`
 * (name -> {value, order}) and their names to `remove` (name -> 0, so a
 * copy already in the message is replaced, not doubled).
 */
void milter_headers_emit(const struct scan_task *task, struct obj *add, struct obj *remove);

/* The values of X-Spamd-Result and Authentication-Results for a finished
 * task, appended to `out` whatever `use` says (the SMTP server adds them
 * itself). */
struct buf;
void milter_headers_spamd_result(const struct scan_task *task, struct buf *out);
void milter_headers_auth_results(const struct scan_task *task, struct buf *out);

#endif
