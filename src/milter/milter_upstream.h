/*
 * milter_upstream.h - the proxy's upstream mode: one message sent to
 * another scanner's /checkv2 over HTTP, asynchronously on the worker loop.
 */
#ifndef MILTER_MILTER_UPSTREAM_H
#define MILTER_MILTER_UPSTREAM_H

struct ev_loop;
struct milter_scan_request;
struct obj;

/* `reply` is the parsed JSON reply (borrowed, freed after the call), or
 * NULL on any failure (connect, timeout, non-200, bad JSON). */
typedef void milter_upstream_done_fn(const struct obj *reply, void *ud);

/*
 * Starts POST /checkv2 to `hostport` ("127.0.0.1:11333", "[::1]:11333")
 * with the request's envelope headers. `done` is called exactly once,
 * always from the loop (never from inside this call). Returns 0, or -1
 * when the request could not even start (bad address, no socket); `done`
 * is then not called.
 */
int milter_upstream_scan(struct ev_loop *loop, const char *hostport, double timeout,
    const struct milter_scan_request *req, milter_upstream_done_fn *done, void *ud);

#endif
