/*
 * milter_map.h - a scan reply (the /checkv2 JSON object, parsed or built
 * in-process by scan_reply_v2) to the milter packets sent after
 * end-of-message (spec/milter.md section 5).
 *
 * One function serves both ways of scanning (in-process and upstream
 * scanner over HTTP), so both give the MTA exactly the same answer.
 */
#ifndef MILTER_MILTER_MAP_H
#define MILTER_MILTER_MAP_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct obj;

struct milter_map_opts {
	const char *reject_message;   /* NULL: "Spam message rejected" */
	const char *tempfail_message; /* NULL: "Try again later" */
	const char *spam_header;      /* NULL: "X-Spam" */
	bool discard_on_reject;
	bool quarantine_on_reject;
};

/* Occurrences of header `name` in the message (case-insensitive), or the
 * number of all headers when name is NULL. */
typedef size_t milter_header_count_fn(const char *name, void *ud);

/*
 * Appends the reply packets for `reply` (NULL: the scan failed ->
 * TEMPFAIL). Returns 0, or -1 when `out` hit its maximum.
 */
int milter_map_reply(const struct obj *reply, const struct milter_map_opts *o,
    milter_header_count_fn *count, void *ud, struct buf *out);

#endif
