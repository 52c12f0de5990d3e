/*
 * controller_static.h - the web UI's static files, served by the
 * controller for any GET/HEAD path that is not an API endpoint.
 */
#ifndef WORKER_CONTROLLER_STATIC_H
#define WORKER_CONTROLLER_STATIC_H

#include <stdbool.h>

struct http_request;
struct worker_ctx;

/*
 * Resolves the document root once per process: the worker's `static_dir`
 * when it is a directory, else <SHAREDIR>/interface (a source checkout's
 * interface/). Without either, static serving is off (logged once).
 */
void controller_static_init(const struct worker_ctx *ctx);

/*
 * Answers `req` from the document root when it is a GET or HEAD for a
 * regular file under it (`/` and directories mean index.html). Returns
 * false, without replying, when the caller should answer 404 itself.
 * Needs no authentication: these files hold no data.
 */
bool controller_static_serve(struct http_request *req);

#endif
