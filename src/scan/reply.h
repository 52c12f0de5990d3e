/*
 * reply.h - a finished task as the scan protocol's reply: the /checkv2 JSON
 * object, the legacy v1 JSON (/check, /symbols) and the RSPAMC/1.3 text
 * lines Exim parses (spec/scan-protocol.md sections 2.1, 5 and 6).
 */
#ifndef SCAN_REPLY_H
#define SCAN_REPLY_H

#include <stdbool.h>

struct buf;
struct obj;
struct scan_task;

struct scan_reply_opts {
	bool extended_urls;   /* URL-Format: extended */
	bool groups;          /* Flags: groups */
};

/* New heap trees; the caller frees them with obj_free(). */
struct obj *scan_reply_v2(const struct scan_task *task, const struct scan_reply_opts *o);
struct obj *scan_reply_v1(const struct scan_task *task, const struct scan_reply_opts *o);
/* Appends the legacy reply; -1 when the buffer's maximum is hit. */
int scan_reply_legacy(const struct scan_task *task, struct buf *out);

#endif
