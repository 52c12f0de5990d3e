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

/* Scan counters of this process, for logs and later the controller. */
struct scan_stats {
	unsigned long scanned;
	unsigned long spam;
	unsigned long ham;
	double total_time;
};
extern struct scan_stats scan_stats;

/* Runs the scan for `req` and replies (JSON, or legacy text). */
void scan_http_handle(struct http_request *req, const struct scan_engine *engine,
    struct ev_loop *loop, enum scan_cmd cmd);

/* 200 text/plain "pong\r\n". */
void scan_http_ping(struct http_request *req);

#endif
