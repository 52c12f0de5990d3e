/*
 * checks.h - the built-in checks that need no rule engine: GTUBE, header
 * sanity, MIME structure, HTML and URL anomalies. Each inserts symbols into
 * the task; none does I/O.
 */
#ifndef SCAN_CHECKS_H
#define SCAN_CHECKS_H

struct scan_task;

/* Returns 1 when a pre-result was set and further checks may be skipped. */
int check_gtube(struct scan_task *task);
void check_headers(struct scan_task *task);
void check_mime(struct scan_task *task);
void check_urls_html(struct scan_task *task);

#endif
