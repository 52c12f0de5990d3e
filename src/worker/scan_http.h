/*
 * scan_http.h - the scan protocol over HTTP: a request becomes a task, the
 * task becomes a reply. Shared by the normal worker and the controller
 * (rspamc sends `symbols` to the controller port by default).
 */
#ifndef WORKER_SCAN_HTTP_H
#define WORKER_SCAN_HTTP_H

#include <stdbool.h>

#include "core/str.h"

struct config;
struct ev_loop;
struct scan_engine;
struct http_request;

enum scan_cmd {
	SCAN_CMD_UNKNOWN,
	SCAN_CMD_CHECKV2,
	SCAN_CMD_CHECKV1,   /* check, symbols, scan, process, report, report_ifspam */
	SCAN_CMD_SKIP,
	SCAN_CMD_PING,
};

/* From the first path segment (case-insensitive, leading '/' optional),
 * or from the legacy method word (CHECK, SYMBOLS, ...). */
enum scan_cmd scan_cmd_parse(struct str path);

/* Runs the scan for `req` and replies (JSON, or legacy text). The scan is
 * counted in the shared statistics (worker/shared_stats.h). */
void scan_http_handle(struct http_request *req, const struct scan_engine *engine,
    struct ev_loop *loop, enum scan_cmd cmd);

/* Envelope of `task` from the request headers (IP, From, Rcpt, User,
 * Deliver-To, ...): learning uses the same headers as scanning. */
struct http_message;
struct scan_task;
void scan_http_fill_envelope(struct scan_task *task, const struct http_message *m);

/* 200 text/plain "pong\r\n". */
void scan_http_ping(struct http_request *req);

#endif
